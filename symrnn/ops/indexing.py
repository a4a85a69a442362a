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
    op_error,
)
from symrnn.tensor.basic import as_tensor_variable, constant

Spec = tuple[tuple[Any, ...], ...]
SYMBOLIC = "?"


# --------------------------------------------------------------------------- parsing an index


def _int_entry(value: Any, inputs: list[Variable], x: Variable) -> Any:
    """A literal int, or a placeholder with the scalar appended to ``inputs``."""
    if isinstance(value, (bool, np.bool_)):
        raise op_error("getitem", [x], "a boolean index is not supported; use T.switch or T.where")
    if isinstance(value, (int, np.integer)):
        return int(value)
    var = as_tensor_variable(value)
    if var.ndim != 0 or var.dtype not in INT_DTYPES:
        raise op_error("getitem", [x, var], f"an index must be an integer scalar here, got {var.type!r}")
    if isinstance(var, Constant):
        return int(var.data)
    inputs.append(var)
    return SYMBOLIC


def parse_index(x: Variable, index: Any) -> tuple[Spec, list[Variable]]:
    """Turn a Python index into a spec and the symbolic inputs it refers to."""
    items = index if isinstance(index, tuple) else (index,)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise op_error("getitem", [x], "an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise op_error("getitem", [x], f"too many indices ({consumed}) for {x.ndim} dimension(s)", GraphShapeError)
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
        elif isinstance(item, (list, np.ndarray)) or (isinstance(item, Variable) and item.ndim > 0):
            arr = as_tensor_variable(np.asarray(item) if isinstance(item, list) else item)
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


def indexed_shape(op: Any, x: Variable, spec: Spec, inputs: Sequence[Variable]) -> tuple[int | None, ...]:
    """The static shape of ``x[spec]``, following NumPy's basic and advanced indexing rules."""
    from symrnn.ops.elemwise import broadcast_static_shapes

    arrays = iter(v for v in inputs if v.ndim > 0)
    has_array = any(e[0] == "array" for e in spec)
    out: list[Any] = []  # dims, with the marker "ADV" where the advanced group lands
    adv_shapes: list[Variable] = []
    adv_positions: list[int] = []
    axis = 0
    for pos, entry in enumerate(spec):
        kind = entry[0]
        if kind == "none":
            out.append(1)
            continue
        dim = x.type.shape[axis]
        if kind == "int":
            if entry[1] != SYMBOLIC:
                _check_static_bounds(op, x, axis, entry[1])
            if has_array:
                adv_positions.append(pos)
        elif kind == "slice":
            out.append(_slice_length(dim, *entry[1:]))
        else:
            arr = next(arrays)
            if isinstance(arr, Constant) and arr.data.size and dim is not None:
                for k in (int(arr.data.min()), int(arr.data.max())):
                    _check_static_bounds(op, x, axis, k)
            adv_shapes.append(arr)
            adv_positions.append(pos)
            out.append("ADV")
        axis += 1
    out.extend(x.type.shape[axis:])
    if not has_array:
        return tuple(out)
    adv = broadcast_static_shapes(op, adv_shapes)
    basic = [d for d in out if d != "ADV"]
    adjacent = adv_positions == list(range(adv_positions[0], adv_positions[-1] + 1))
    if not adjacent:
        return tuple(adv) + tuple(basic)
    first = out.index("ADV")
    return tuple(basic[:first]) + tuple(adv) + tuple(basic[first:])


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
        shape = indexed_shape(self, x, self.spec, index_inputs)
        return Apply(self, [x, *index_inputs], [TensorType(x.dtype, shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *idx = inputs
        return [np.asarray(x[build_index(self.spec, idx)])]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = {inputs[0]}[{index_source(self.spec, inputs[1:])}]"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        from symrnn.ops.shape import zeros_like

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
        from symrnn.ops.elemwise import broadcast_static_shapes, cast, harmonize_weak

        x = as_tensor_variable(x)
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
        if broadcast_static_shapes(self, [target(), y]) != target.shape and None not in target.shape:
            raise op_error(self, [x, y], f"a value of static shape {y.type.shape} does not fit the indexed "
                                         f"region {target.shape}", GraphShapeError)
        return Apply(self, [x, y, *index_inputs], [x.type])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, y, *idx = inputs
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
        return f"{out} = {x}.copy()\n{write}"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        from symrnn.ops.elemwise import sum_to

        (g,), (x, y, *idx) = output_grads, node.inputs
        rest: list[Any] = [None] * len(idx)
        g_region = Subtensor(self.spec)(g, *idx)
        gy = sum_to(g_region, y.type.shape) if y.dtype in FLOAT_DTYPES else None
        if x.dtype not in FLOAT_DTYPES:
            return [None, gy, *rest]
        gx = g if self.mode == "inc" else IncSubtensor(self.spec, "set")(g, constant(np.zeros((), g.dtype)), *idx)
        return [gx, gy, *rest]


# --------------------------------------------------------------------------- public functions


def getitem(x: Any, index: Any) -> Variable:
    """``x[index]`` (what the ``[]`` operator calls).

    Example::

        >>> import symrnn.tensor as T
        >>> M, y = T.matrix("M"), T.ivector("y")
        >>> M[T.arange(y.shape[0]), y].type
        float64(?,)
    """
    from symrnn.ops.shape import Shape, shape_i

    x = as_tensor_variable(x)
    spec, inputs = parse_index(x, index)
    if x.owner is not None and isinstance(x.owner.op, Shape) and len(spec) == 1 and spec[0][0] == "int" \
            and spec[0][1] != SYMBOLIC:
        source = x.owner.inputs[0]
        _check_static_bounds("getitem", x, 0, spec[0][1])
        return shape_i(source, spec[0][1])  # x.shape[i]: a constant where the size is known
    if all(e == ("slice", None, None, None) for e in spec):
        return x
    return Subtensor(spec)(x, *inputs)


def subtensor_int(x: Variable, i: int) -> Variable:
    """``x[i]`` for a literal ``i``."""
    return getitem(x, i)


def _indexed(x_sub: Variable, fn: str) -> tuple[Subtensor, Variable, list[Variable]]:
    if not isinstance(x_sub, Variable) or x_sub.owner is None or not isinstance(x_sub.owner.op, Subtensor):
        raise op_error(fn, [x_sub] if isinstance(x_sub, Variable) else [],
                       "the first argument must be the result of indexing, such as x[1:3] or M[i, j]", GraphTypeError)
    x, *idx = x_sub.owner.inputs
    return x_sub.owner.op, x, idx


def set_subtensor(x_sub: Variable, y: Any) -> Variable:
    """A copy of the indexed tensor with the region ``x_sub`` replaced by ``y`` (Theano's ``set_subtensor``).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> z = T.set_subtensor(x[1:3], 0.0)   # z is x with z[1:3] == 0
    """
    op, x, idx = _indexed(x_sub, "set_subtensor")
    return IncSubtensor(op.spec, "set")(x, y, *idx)


def inc_subtensor(x_sub: Variable, y: Any) -> Variable:
    """A copy of the indexed tensor with ``y`` added to the region ``x_sub``; repeated indices accumulate.

    Example::

        >>> import symrnn.tensor as T
        >>> x, i = T.vector("x"), T.ivector("i")
        >>> z = T.inc_subtensor(x[i], 1.0)
    """
    op, x, idx = _indexed(x_sub, "inc_subtensor")
    return IncSubtensor(op.spec, "inc")(x, y, *idx)


__all__ = ["Subtensor", "IncSubtensor", "getitem", "set_subtensor", "inc_subtensor"]
