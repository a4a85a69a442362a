"""Indexing: ``x[...]`` with ints, slices (symbolic bounds, negative steps), ``None`` and integer
arrays (NumPy's advanced indexing), plus ``set_subtensor`` / ``inc_subtensor``.

An index is kept as a *spec*: a tuple with one entry per index item, where
Python ints stay literal and every symbolic part is a ``"?"`` placeholder
filled, in order, by the node's extra inputs.  Entries are ``("int", k)``,
``("slice", start, stop, step)``, ``("none",)`` and ``("array",)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.graph import (
    FLOAT_DTYPES,
    INT_DTYPES,
    Apply,
    Constant,
    GraphShapeError,
    GraphTypeError,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    constant,
    op_error,
)
from symrnn.ops.elemwise import broadcast_static_shapes, cast, harmonize_weak
from symrnn.ops.reduce import sum_to
from symrnn.ops.shape import Shape, shape_i, vector_element, zeros_like

Spec = tuple[tuple[Any, ...], ...]
SYMBOLIC = "?"


# --------------------------------------------------------------------------- parsing an index


def _int_entry(value: Any, inputs: list[Variable], x: Variable) -> Any:
    """A literal int, or a placeholder with the scalar appended to ``inputs``."""
    if isinstance(value, (bool, np.bool_)):
        raise op_error("getitem", [x], "a boolean index is not supported; use T.switch or T.where")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    try:
        var = as_tensor_variable(value)
    except GraphTypeError:
        raise op_error("getitem", [x], f"{value!r} is not a valid index; use ints, slices, None, ..., integer "
                                       f"scalars or integer arrays") from None
    if var.dtype == "bool":
        raise op_error("getitem", [x, var], "a boolean index is not supported; use T.switch or T.where")
    if var.ndim != 0 or var.dtype not in INT_DTYPES:
        raise op_error("getitem", [x, var], f"an index must be an integer scalar here, got {var.type!r}")
    if isinstance(var, Constant):
        return int(var.data)
    inputs.append(var)
    return SYMBOLIC


def _is_array_item(item: Any) -> bool:
    """An index item that is an integer array (advanced indexing): a list, or an array of one or more axes."""
    return isinstance(item, (list, tuple)) or (isinstance(item, (np.ndarray, Variable)) and item.ndim > 0)


def _reject_empty_ellipsis_between_arrays(x: Variable, items: tuple[Any, ...]) -> None:
    """An ``...`` that stands for no axis still separates advanced indices in NumPy (their dimensions then
    go first); the spec has no room for it, so refuse instead of answering differently from NumPy."""
    if not any(_is_array_item(i) for i in items):
        return
    at = next(k for k, i in enumerate(items) if i is Ellipsis)
    advanced = [k for k, i in enumerate(items) if i is not None and i is not Ellipsis and not isinstance(i, slice)]
    if any(k < at for k in advanced) and any(k > at for k in advanced):
        raise op_error("getitem", [x], "an '...' that stands for no axis between integer-array indices is not "
                                       "supported (NumPy moves the indexed dimensions to the front there); "
                                       "leave out the '...'", GraphShapeError)


def parse_index(x: Variable, index: Any) -> tuple[Spec, list[Variable]]:
    """Turn a Python index into a spec and the symbolic inputs it refers to."""
    items = index if isinstance(index, tuple) else (index,)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise op_error("getitem", [x], "an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise op_error("getitem", [x], f"too many indices ({consumed}) for {x.ndim} dimension(s)", GraphShapeError)
    if consumed == x.ndim and any(i is Ellipsis for i in items):
        _reject_empty_ellipsis_between_arrays(x, items)
    spec: list[tuple[Any, ...]] = []
    inputs: list[Variable] = []
    for item in items:
        if item is Ellipsis:
            spec.extend([("slice", None, None, None)] * (x.ndim - consumed))
        elif item is None:
            spec.append(("none",))
        elif isinstance(item, slice):
            spec.append(("slice",) + tuple(None if part is None else _int_entry(part, inputs, x)
                                           for part in (item.start, item.stop, item.step)))
            if spec[-1][3] == 0:
                raise op_error("getitem", [x], "slice step cannot be zero", GraphShapeError)
        elif _is_array_item(item):
            if isinstance(item, (list, tuple)) and any(isinstance(v, Variable) for v in item):
                item = as_tensor_variable(list(item))  # [i, j] of symbolic scalars: stacked into a vector
            elif isinstance(item, (list, tuple)):
                try:
                    item = np.asarray(item)
                except ValueError:
                    raise op_error("getitem", [x], f"the index list {item!r} is not a rectangular array of "
                                                   f"integers") from None
                if item.size == 0 and item.dtype.kind == "f":
                    item = item.astype("int64")  # NumPy reads [] as an empty integer index
            try:
                arr = as_tensor_variable(item)
            except GraphTypeError:
                raise op_error("getitem", [x], f"{item!r} is not a valid index array") from None
            if arr.dtype == "bool":
                raise op_error("getitem", [x, arr], "boolean mask indexing has a data-dependent shape and is not "
                                                    "supported; use T.switch or T.where")
            if arr.dtype not in INT_DTYPES:
                raise op_error("getitem", [x, arr], f"an index array must hold integers, got {arr.dtype}")
            spec.append(("array",))
            inputs.append(arr)
        else:
            spec.append(("int", _int_entry(item, inputs, x)))
    return tuple(spec), inputs


# --------------------------------------------------------------------------- static shapes


def _slice_length(dim: int | None, start: Any, stop: Any, step: Any) -> int | None:
    if start is None and stop is None and step in (None, 1):
        return dim
    if dim is None or SYMBOLIC in (start, stop, step):
        return None
    return len(range(dim)[slice(start, stop, step)])


def _check_static_bounds(op: Any, x: Variable, axis: int, k: int) -> None:
    dim = x.type.shape[axis]
    if dim is not None and not -dim <= k < dim:
        raise op_error(op, [x], f"index {k} is out of bounds for axis {axis} with static size {dim}",
                       GraphShapeError)


def _layout(spec: Spec, x_ndim: int) -> list[tuple[Any, ...]]:
    """Where each dimension of ``x[spec]`` comes from, following NumPy's rules.

    Entries: ``("axis", axis, pos)`` for an axis of ``x`` that is sliced by
    ``spec[pos]`` (``pos`` is ``None`` for an untouched trailing axis),
    ``("new",)`` for a ``None`` and ``("adv",)`` once for the broadcast
    dimensions of the advanced (integer-array) indices.  Integers join the
    advanced group when there is one.  The group stays in place when its
    members are adjacent in the index, and otherwise moves to the front.
    """
    has_array = any(e[0] == "array" for e in spec)
    dims: list[tuple[Any, ...]] = []
    adv_positions: list[int] = []
    axis = 0
    for pos, entry in enumerate(spec):
        kind = entry[0]
        if kind == "none":
            dims.append(("new",))
            continue
        if kind == "slice":
            dims.append(("axis", axis, pos))
        elif has_array:
            if not adv_positions:
                dims.append(("adv",))
            adv_positions.append(pos)
        axis += 1
    dims.extend(("axis", a, None) for a in range(axis, x_ndim))
    if adv_positions and adv_positions != list(range(adv_positions[0], adv_positions[-1] + 1)):
        dims.remove(("adv",))
        dims.insert(0, ("adv",))
    return dims


def indexed_shape(op: Any, x: Variable, spec: Spec, inputs: Sequence[Variable]) -> tuple[int | None, ...]:
    """The static shape of ``x[spec]``, following NumPy's basic and advanced indexing rules.

    Literal integers and constant index arrays are checked against known sizes.
    """
    arrays = [v for v in inputs if v.ndim > 0]
    it = iter(arrays)
    axis = 0
    for entry in spec:
        if entry[0] == "none":
            continue
        if entry[0] == "int" and entry[1] != SYMBOLIC:
            _check_static_bounds(op, x, axis, entry[1])
        elif entry[0] == "array":
            arr = next(it)
            if isinstance(arr, Constant) and arr.data.size:
                for k in (int(arr.data.min()), int(arr.data.max())):
                    _check_static_bounds(op, x, axis, k)
        axis += 1
    out: list[int | None] = []
    for dim in _layout(spec, x.ndim):
        if dim[0] == "new":
            out.append(1)
        elif dim[0] == "adv":
            out.extend(broadcast_static_shapes(op, arrays))
        else:
            size = x.type.shape[dim[1]]
            out.append(size if dim[2] is None else _slice_length(size, *spec[dim[2]][1:]))
    return tuple(out)


def runtime_indexed_shape(spec: Spec, shape: Sequence[int], index: Sequence[Any]) -> tuple[int, ...]:
    """The shape of ``x[index]`` for an ``x`` of ``shape``, computed without touching any data."""
    arrays = [np.shape(item) for item, entry in zip(index, spec) if entry[0] == "array"]
    out: list[int] = []
    for dim in _layout(spec, len(shape)):
        if dim[0] == "new":
            out.append(1)
        elif dim[0] == "adv":
            out.extend(np.broadcast_shapes(*arrays))
        else:
            size = shape[dim[1]]
            out.append(size if dim[2] is None else len(range(size)[index[dim[2]]]))
    return tuple(out)


def index_source(spec: Spec, names: Sequence[str], as_tuple: bool = False) -> str:
    """Python source of the index expression, with placeholders replaced by ``names`` in order.

    With ``as_tuple`` it is a tuple expression (slices spelled ``slice(...)``), for ``xp.add.at``.
    """
    it = iter(names)

    def part(value: Any) -> str:
        return "" if value is None else next(it) if value == SYMBOLIC else repr(int(value))

    items = []
    for entry in spec:
        if entry[0] == "none":
            items.append("None")
        elif entry[0] == "int":
            items.append(part(entry[1]))
        elif entry[0] == "array":
            items.append(next(it))
        else:
            start, stop, step = (part(v) for v in entry[1:])
            if as_tuple:
                items.append(f"slice({start or None}, {stop or None}, {step or None})")
            else:
                items.append(f"{start}:{stop}" + (f":{step}" if step else ""))
    if as_tuple:
        return "(" + ", ".join(items) + ",)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items) if items else "..."


def build_index(spec: Spec, values: Sequence[Any]) -> tuple[Any, ...]:
    """The runtime index tuple from a spec and the values of its symbolic inputs."""
    it = iter(values)

    def part(value: Any) -> Any:
        return None if value is None else int(next(it)) if value == SYMBOLIC else value

    items: list[Any] = []
    for entry in spec:
        if entry[0] == "none":
            items.append(None)
        elif entry[0] == "int":
            items.append(part(entry[1]))
        elif entry[0] == "array":
            items.append(next(it))
        else:
            items.append(slice(*(part(v) for v in entry[1:])))
    return tuple(items)


def _spec_str(spec: Spec) -> str:
    return "[" + index_source(spec, ["?"] * 64) + "]"


def _check_index_inputs(op: Any, x: Variable, spec: Spec, index_inputs: Sequence[Any]) -> list[Variable]:
    """The symbolic index inputs must be what the spec's placeholders ask for, in order."""
    wanted = []
    for entry in spec:
        if entry[0] == "array":
            wanted.append("array")
        else:
            wanted.extend("scalar" for part in entry[1:] if part == SYMBOLIC)
    inputs = [as_tensor_variable(v) for v in index_inputs]
    if len(inputs) != len(wanted):
        raise op_error(op, [x, *inputs], f"expects {len(wanted)} symbolic index input(s), got {len(inputs)}")
    for kind, var in zip(wanted, inputs):
        if var.dtype not in INT_DTYPES or (kind == "scalar") != (var.ndim == 0):
            what = "an integer scalar" if kind == "scalar" else "an integer array of at least one dimension"
            raise op_error(op, [x, *inputs], f"index input {var!r} must be {what}, got {var.type!r}")
    return inputs


# --------------------------------------------------------------------------- ops


class Subtensor(Op):
    """``x[index]``: basic indexing returns a view, advanced (integer arrays) a gather."""

    __props__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.advanced = any(e[0] == "array" for e in spec)
        self.view_map = {} if self.advanced else {0: 0}

    def __str__(self) -> str:
        return f"getitem{_spec_str(self.spec)}"

    def make_node(self, x: Any, *index_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        index_inputs = _check_index_inputs(self, x, self.spec, index_inputs)
        shape = indexed_shape(self, x, self.spec, index_inputs)
        return Apply(self, [x, *index_inputs], [TensorType(x.dtype, shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *idx = inputs
        return [np.asarray(x[build_index(self.spec, idx)])]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = {inputs[0]}[{index_source(self.spec, inputs[1:])}]"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        x, *idx = node.inputs
        rest: list[Any] = [None] * len(idx)
        if x.dtype not in FLOAT_DTYPES:
            return [None, *rest]
        return [IncSubtensor(self.spec, "inc")(zeros_like(x), output_grads[0], *idx), *rest]


class IncSubtensor(Op):
    """A copy of ``x`` with ``x[index]`` set to (``mode='set'``) or incremented by (``'inc'``) ``y``.

    Repeated integer-array indices accumulate under ``inc``, as in Theano.
    """

    __props__ = ("spec", "mode")

    def __init__(self, spec: Spec, mode: str) -> None:
        self.spec, self.mode = spec, mode
        self.advanced = any(e[0] == "array" for e in spec)

    def __str__(self) -> str:
        return f"{self.mode}_subtensor{_spec_str(self.spec)}"

    def make_node(self, x: Any, y: Any, *index_inputs: Any) -> Apply:
        x = as_tensor_variable(x)
        index_inputs = _check_index_inputs(self, x, self.spec, index_inputs)
        _, y = harmonize_weak([x, as_tensor_variable(y)])
        if y.dtype != x.dtype:
            if not np.can_cast(y.dtype, x.dtype, "safe"):
                raise op_error(self, [x, y], f"cannot write {y.dtype} values into a {x.dtype} tensor without "
                                             f"losing precision; cast them first")
            y = cast(y, x.dtype)
        target = TensorType(x.dtype, indexed_shape(self, x, self.spec, index_inputs))
        if y.ndim > target.ndim:
            raise op_error(self, [x, y], f"the value has {y.ndim} dimensions but the indexed region "
                                         f"{target!r} has {target.ndim}", GraphShapeError)
        fitted = broadcast_static_shapes(self, [target(), y])
        if any(None not in (have, want) and have != want for have, want in zip(fitted, target.shape)):
            raise op_error(self, [x, y], f"a value of static shape {y.type.shape} does not fit the indexed "
                                         f"region {target.shape}", GraphShapeError)
        return Apply(self, [x, y, *index_inputs], [x.type])

    def runtime_checked_axes(self, node: Apply) -> list[int]:
        """Axes of the value whose runtime size must be compared with the region's: sizes that are not
        statically 1 (only those broadcast) where the value's or the region's size is unknown."""
        x, y, *idx = node.inputs
        region = indexed_shape(self, x, self.spec, idx)
        lead = len(region) - y.ndim
        return [a for a, size in enumerate(y.type.shape) if size != 1 and None in (size, region[lead + a])]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, y, *idx = inputs
        check_value_fits(node, np.shape(x), idx, np.shape(y))
        out = np.array(x, copy=True)
        index = build_index(self.spec, idx)
        if self.mode == "set":
            out[index] = y
        elif self.advanced:
            np.add.at(out, index, y)
        else:
            out[index] += y
        return [out]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        out, (x, y, *idx) = outputs[0], inputs
        where = index_source(self.spec, idx)
        if self.mode == "set":
            write = f"{out}[{where}] = {y}"
        elif self.advanced:
            write = f"xp.add.at({out}, {index_source(self.spec, idx, as_tuple=True)}, {y})"
        else:
            write = f"{out}[{where}] += {y}"
        lines = [f"{out} = xp.array({x}, copy=True)", write]  # xp.array: x may be a NumPy scalar
        if self.runtime_checked_axes(node):
            check = ctx.bind(check_value_fits, "check_fits")
            lines.insert(0, f"{check}({ctx.bind(node)}, xp.shape({x}), [{', '.join(idx)}], xp.shape({y}))")
        return "\n".join(lines)

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (g,), (x, y, *idx) = output_grads, node.inputs
        rest: list[Any] = [None] * len(idx)
        g_region = Subtensor(self.spec)(g, *idx)
        gy = sum_to(g_region, y.type.shape) if y.dtype in FLOAT_DTYPES else None
        if x.dtype not in FLOAT_DTYPES:
            return [None, gy, *rest]
        gx = g if self.mode == "inc" else IncSubtensor(self.spec, "set")(g, constant(np.zeros((), g.dtype)), *idx)
        return [gx, gy, *rest]


def check_value_fits(node: Apply, x_shape: Sequence[int], index_values: Sequence[Any],
                     y_shape: Sequence[int]) -> None:
    """Raise unless the value of ``set/inc_subtensor`` fits the indexed region at run time.

    As everywhere in symrnn, only dimensions that are statically 1 broadcast; a
    value whose unknown size turns out to be 1 does not (its gradient would
    have the wrong shape).
    """
    op = node.op
    region = runtime_indexed_shape(op.spec, x_shape, build_index(op.spec, index_values))
    y_static = node.inputs[1].type.shape
    lead = len(region) - len(y_shape)
    for axis, size in enumerate(y_shape):
        if y_static[axis] != 1 and size != region[lead + axis]:
            raise ValueError(
                f"{op}: a value of shape {tuple(y_shape)} does not fit the indexed region of shape {region} "
                f"(value axis {axis}: {size} vs {region[lead + axis]}); only dimensions that are statically 1 "
                f"broadcast (value type {node.inputs[1].type!r}; declare a broadcastable dimension with "
                f"dimshuffle('x', ...) or shape=(1, ...)); the node was built at {node.trace}")


# --------------------------------------------------------------------------- public functions


def getitem(x: Any, index: Any) -> Variable:
    """``x[index]`` (what the ``[]`` operator calls).

    Example::

        >>> import symrnn.tensor as T
        >>> M, y = T.matrix("M"), T.ivector("y")
        >>> M[T.arange(y.shape[0]), y].type
        float64(?,)
    """
    x = as_tensor_variable(x)
    spec, inputs = parse_index(x, index)
    if x.owner is not None and isinstance(x.owner.op, Shape) and len(spec) == 1 and spec[0][0] == "int" \
            and spec[0][1] != SYMBOLIC:
        source = x.owner.inputs[0]
        _check_static_bounds("getitem", x, 0, spec[0][1])
        return shape_i(source, spec[0][1])  # x.shape[i]: a constant where the size is known
    if isinstance(x, Constant) and x.dtype in INT_DTYPES and not inputs and all(e[0] == "int" for e in spec) \
            and len(spec) == x.ndim:
        indexed_shape("getitem", x, spec, inputs)  # the static bounds check
        return constant(x.data[build_index(spec, [])])  # e.g. x.shape[0] where the whole shape is static
    return Subtensor(spec)(x, *inputs)


@vector_element.provide
def subtensor_int(x: Variable, i: int) -> Variable:
    """``x[i]`` for a literal ``i``."""
    return getitem(x, i)


def _indexed(x_sub: Variable, fn: str) -> tuple[Subtensor, Variable, list[Variable]]:
    if not isinstance(x_sub, Variable) or x_sub.owner is None or not isinstance(x_sub.owner.op, Subtensor):
        raise op_error(fn, [x_sub] if isinstance(x_sub, Variable) else [],
                       "the first argument must be the result of indexing, such as x[1:3] or M[i, j]", GraphTypeError)
    x, *idx = x_sub.owner.inputs
    return x_sub.owner.op, x, idx


def set_subtensor(x_sub: Variable, y: Any, inplace: bool = False, tolerate_inplace_aliasing: bool = False) -> Variable:
    """A copy of the indexed tensor with the region ``x_sub`` replaced by ``y`` (Theano's ``set_subtensor``).

    ``y`` broadcasts into the region along its missing leading axes and its
    statically-1 axes.  With a repeated integer-array index the last write wins
    (as in NumPy), and the gradient with respect to ``y`` then counts every
    write; use distinct indices where that gradient matters.  ``inplace`` and
    ``tolerate_inplace_aliasing`` are accepted for Theano compatibility; the
    result is always a new array (the compiler decides about in-place work).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> z = T.set_subtensor(x[1:3], 0.0)   # z is x with z[1:3] == 0
    """
    op, x, idx = _indexed(x_sub, "set_subtensor")
    return IncSubtensor(op.spec, "set")(x, y, *idx)


def inc_subtensor(x_sub: Variable, y: Any, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """A copy of the indexed tensor with ``y`` added to the region ``x_sub``; repeated indices accumulate
    (as ``numpy.add.at``).  ``set_instead_of_inc=True`` is :func:`set_subtensor`, as in Theano.

    Example::

        >>> import symrnn.tensor as T
        >>> x, i = T.vector("x"), T.ivector("i")
        >>> z = T.inc_subtensor(x[i], 1.0)
    """
    name = "set_subtensor" if set_instead_of_inc else "inc_subtensor"
    op, x, idx = _indexed(x_sub, name)
    return IncSubtensor(op.spec, "set" if set_instead_of_inc else "inc")(x, y, *idx)


__all__ = ["Subtensor", "IncSubtensor", "getitem", "set_subtensor", "inc_subtensor"]
