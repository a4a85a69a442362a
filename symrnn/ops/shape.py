"""Shape ops: ``shape``, ``reshape``, ``dimshuffle``/``transpose``, ``flatten``, ``alloc`` and friends,
``concatenate``, ``stack``, ``split`` and ``arange``.

Shapes are computed on the host: a shape variable is an ``int64`` vector (or
scalar, for one dimension).  Where a dimension's size is known statically,
``shape_i`` returns a constant, so static shapes flow through ``reshape`` and
``alloc`` built from ``x.shape[i]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import (
    FLOAT_DTYPES,
    INT_DTYPES,
    Apply,
    Constant,
    GraphShapeError,
    Hook,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    constant,
    op_error,
    pack_variables,
)
from symrnn.ops.elemwise import cast, dtype_arg, harmonize_weak

#: Element ``i`` of a symbolic int vector (a shape given as one variable); the indexing ops provide it.
vector_element = Hook("element i of a symbolic vector", "symrnn.ops.indexing")


def _static_int(var: Variable) -> int | None:
    """The value of an integer scalar known at graph-building time, else None."""
    if isinstance(var, Constant) and var.ndim == 0:
        return int(var.data)
    return None


def _as_int_scalar(op: Any, value: Any, what: str) -> Variable:
    var = as_tensor_variable(value)
    if var.ndim != 0 or var.dtype not in INT_DTYPES:
        raise op_error(op, [var], f"{what} must be an integer scalar, got {var.type!r}")
    if isinstance(var, Constant) and var.dtype != "int64":
        var = constant(var.data.astype("int64"))
    return var


# --------------------------------------------------------------------------- shape


class Shape(Op):
    """``x.shape`` as an ``int64`` vector (computed on the host)."""

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(np.shape(inputs[0]), dtype="int64")]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = np.array({inputs[0]}.shape, dtype='int64')"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None]


class ShapeI(Op):
    """``x.shape[i]`` as an ``int64`` scalar."""

    __props__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def __str__(self) -> str:
        return f"shape_{self.i}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", ())])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.array(np.shape(inputs[0])[self.i], dtype="int64")]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = np.int64({inputs[0]}.shape[{self.i}])"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None]


def shape(x: Any) -> Variable:
    """The shape of ``x`` as an ``int64`` vector (a constant when fully known statically).

    Example::

        >>> import symrnn.tensor as T
        >>> T.shape(T.tensor("float64", (2, 3))).data
        array([2, 3])
    """
    x = as_tensor_variable(x)
    if all(d is not None for d in x.type.shape):
        return constant(np.array(x.type.shape, dtype="int64"))
    return Shape()(x)


def shape_i(x: Any, i: int) -> Variable:
    """``x.shape[i]`` as an ``int64`` scalar (a constant when known statically)."""
    x = as_tensor_variable(x)
    if not -x.ndim <= i < x.ndim:
        raise op_error("shape_i", [x], f"axis {i} is out of range for {x.ndim} dimension(s)", GraphShapeError)
    i %= x.ndim
    if x.type.shape[i] is not None:
        return constant(np.int64(x.type.shape[i]))
    return ShapeI(i)(x)


def _dims_of(op: Any, shape_arg: Any) -> list[Variable]:
    """Accept a tuple/list of ints and int scalars, or an int vector of static length."""
    if isinstance(shape_arg, Variable) and shape_arg.ndim == 1:
        length = shape_arg.type.shape[0]
        if length is None:
            raise op_error(op, [shape_arg], "a shape vector needs a static length")
        if shape_arg.owner is not None and isinstance(shape_arg.owner.op, Shape):
            return [shape_i(shape_arg.owner.inputs[0], i) for i in range(length)]
        if isinstance(shape_arg, Constant):
            return [constant(np.int64(v)) for v in shape_arg.data]
        return [vector_element(shape_arg, i) for i in range(length)]
    if isinstance(shape_arg, (int, np.integer)) or (isinstance(shape_arg, Variable) and shape_arg.ndim == 0):
        shape_arg = (shape_arg,)
    return [_as_int_scalar(op, d, "each dimension") for d in shape_arg]


# --------------------------------------------------------------------------- reshape


class Reshape(Op):
    """Reshape ``x`` to the given dimensions (int64 scalars, one of which may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: 0}  # NumPy's reshape returns a view when it can

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim

    def make_node(self, x: Any, *dims: Any) -> Apply:
        x = as_tensor_variable(x)
        dims = [_as_int_scalar(self, d, "each reshape dimension") for d in dims]
        static = [_static_int(d) for d in dims]
        if sum(1 for s in static if s == -1) > 1:
            raise op_error(self, [x], "only one dimension can be -1", GraphShapeError)
        if any(s is not None and s < -1 for s in static):
            raise op_error(self, [x], f"invalid target dimensions {static}", GraphShapeError)
        size = math.prod(x.type.shape) if None not in x.type.shape else None
        known = [s for s in static if s is not None and s != -1]
        if size is not None and None not in static:
            if -1 in static:
                rest = math.prod(known)
                if rest == 0 or size % rest:
                    raise op_error(self, [x], f"cannot reshape static shape {x.type.shape} into "
                                              f"{tuple(static)}", GraphShapeError)
                static[static.index(-1)] = size // rest
            elif math.prod(known) != size:
                raise op_error(self, [x], f"cannot reshape static shape {x.type.shape} (size {size}) into "
                                          f"{tuple(static)} (size {math.prod(known)})", GraphShapeError)
        out_shape = tuple(None if s is None or s == -1 else s for s in static)
        return Apply(self, [x, *dims], [TensorType(x.dtype, out_shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *dims = inputs
        return [np.reshape(x, tuple(int(d) for d in dims))]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        dims = ", ".join(inputs[1:]) + ("," if len(inputs) == 2 else "")
        return f"{outputs[0]} = xp.reshape({inputs[0]}, ({dims}))"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        x = node.inputs[0]
        return [reshape(output_grads[0], [shape_i(x, i) for i in range(x.ndim)])] + [None] * (len(node.inputs) - 1)


def reshape(x: Any, newshape: Any, ndim: int | None = None) -> Variable:
    """Reshape ``x``; the new shape may mix ints, symbolic scalars (``x.shape[0]``) and one ``-1``.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.matrix("x")
        >>> T.reshape(x, (x.shape[0], -1, 2)).ndim
        3
    """
    x = as_tensor_variable(x)
    dims = _dims_of("reshape", newshape)
    if ndim is not None and ndim != len(dims):
        raise op_error("reshape", [x], f"ndim={ndim} does not match the {len(dims)} given dimensions")
    return Reshape(len(dims))(x, *dims)


def flatten(x: Any, ndim: int = 1, outdim: int | None = None) -> Variable:
    """Keep the first ``ndim - 1`` axes and merge the rest (Theano's ``flatten(outdim)``)."""
    x = as_tensor_variable(x)
    ndim = outdim if outdim is not None else ndim
    if not 1 <= ndim <= max(x.ndim, 1):
        raise op_error("flatten", [x], f"cannot flatten {x.ndim} dimension(s) to {ndim}", GraphShapeError)
    return reshape(x, [shape_i(x, i) for i in range(ndim - 1)] + [-1])


# --------------------------------------------------------------------------- dimshuffle


class DimShuffle(Op):
    """Permute axes, insert broadcastable axes (``'x'``) and drop size-1 axes, as Theano's ``dimshuffle``."""

    __props__ = ("input_ndim", "new_order")
    view_map = {0: 0}

    def __init__(self, input_ndim: int, new_order: Sequence[Any]) -> None:
        self.input_ndim = input_ndim
        self.new_order = tuple(new_order)

    def __str__(self) -> str:
        return "dimshuffle{" + ",".join(str(a) for a in self.new_order) + "}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise op_error(self, [x], f"expects {self.input_ndim} dimension(s)")
        kept = [a for a in self.new_order if a != "x"]
        for a in kept:
            if not isinstance(a, (int, np.integer)) or not 0 <= a < x.ndim:
                raise op_error(self, [x], f"{a!r} is not an axis of a {x.ndim}-d input or 'x'", GraphShapeError)
        if len(set(kept)) != len(kept):
            raise op_error(self, [x], f"pattern {self.new_order} repeats an axis", GraphShapeError)
        for a in range(x.ndim):
            if a not in kept and x.type.shape[a] != 1:
                raise op_error(self, [x], f"cannot drop axis {a} of static size {x.type.shape[a]}; only a known "
                                          f"size-1 axis can be dropped", GraphShapeError)
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def _plan(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[Any, ...]]:
        kept = [a for a in self.new_order if a != "x"]
        dropped = tuple(a for a in range(self.input_ndim) if a not in kept)
        remaining = [a for a in range(self.input_ndim) if a not in dropped]
        perm = tuple(remaining.index(a) for a in kept)
        index = tuple(None if a == "x" else slice(None) for a in self.new_order)
        return dropped, perm, index

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        dropped, perm, index = self._plan()
        out = np.asarray(inputs[0])
        if dropped:
            out = np.squeeze(out, axis=dropped)
        out = np.transpose(out, perm)
        return [out[index]]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        dropped, perm, index = self._plan()
        expr = inputs[0]
        if dropped:
            expr = f"xp.squeeze({expr}, axis={dropped!r})"
        if perm != tuple(range(len(perm))):
            expr = f"xp.transpose({expr}, {perm!r})"
        if "x" in self.new_order:
            expr += "[" + ", ".join("None" if i is None else ":" for i in index) + "]"
        elif expr == inputs[0]:
            expr = f"{expr}[...]"  # a fresh view, so the output is never the input object itself
        return f"{outputs[0]} = {expr}"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (g,) = output_grads
        # Undo: drop inserted axes, then put each input axis back (dropped ones as new size-1 axes).
        kept_positions = {a: pos for pos, a in enumerate(a for a in self.new_order if a != "x")}
        without_x = dimshuffle(g, [i for i, a in enumerate(self.new_order) if a != "x"])
        back = ["x" if a not in kept_positions else kept_positions[a] for a in range(self.input_ndim)]
        return [dimshuffle(without_x, back)]


def dimshuffle(x: Any, *pattern: Any) -> Variable:
    """Theano's ``dimshuffle``: ``x.dimshuffle(1, 0)`` transposes, ``'x'`` adds a broadcastable axis.

    Example::

        >>> import symrnn.tensor as T
        >>> T.vector("b").dimshuffle("x", 0).type
        float64(1, ?)
    """
    x = as_tensor_variable(x)
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = tuple(pattern[0])
    if tuple(pattern) == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Variable:
    """Permute the axes (reverse them by default), as ``numpy.transpose``."""
    x = as_tensor_variable(x)
    if axes is not None and any(not -x.ndim <= a < x.ndim for a in axes):
        raise op_error("transpose", [x], f"axes {tuple(axes)} are out of range for {x.ndim} dimension(s)",
                       GraphShapeError)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise op_error("transpose", [x], f"axes {axes} are not a permutation of {x.ndim} axes", GraphShapeError)
    return dimshuffle(x, axes)


def swapaxes(x: Any, a: int, b: int) -> Variable:
    """Exchange two axes."""
    x = as_tensor_variable(x)
    if not (-x.ndim <= a < x.ndim and -x.ndim <= b < x.ndim):
        raise op_error("swapaxes", [x], f"axes {a} and {b} are out of range for {x.ndim} dimension(s)",
                       GraphShapeError)
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return dimshuffle(x, order)


def expand_dims(x: Any, axis: int) -> Variable:
    """Insert a size-1 axis at position ``axis``."""
    return _insert_axis("expand_dims", x, axis)


def _insert_axis(name: str, x: Any, axis: int) -> Variable:
    x = as_tensor_variable(x)
    if not -(x.ndim + 1) <= axis <= x.ndim:
        raise op_error(name, [x], f"axis {axis} is out of range for {x.ndim + 1} dimension(s)", GraphShapeError)
    axis = axis % (x.ndim + 1)
    order: list[Any] = list(range(x.ndim))
    order.insert(axis, "x")
    return dimshuffle(x, order)


def shape_padleft(t: Any, n_ones: int = 1) -> Variable:
    """``t`` with ``n_ones`` broadcastable axes added in front (Theano's ``T.shape_padleft``).

    Example::

        >>> import symrnn.tensor as T
        >>> T.shape_padleft(T.matrix("m"), 2).type
        float64(1, 1, ?, ?)
    """
    t = as_tensor_variable(t)
    return dimshuffle(t, ["x"] * n_ones + list(range(t.ndim)))


def shape_padright(t: Any, n_ones: int = 1) -> Variable:
    """``t`` with ``n_ones`` broadcastable axes added at the end (Theano's ``T.shape_padright``).

    Example::

        >>> import symrnn.tensor as T
        >>> T.shape_padright(T.vector("v")).type
        float64(?, 1)
    """
    t = as_tensor_variable(t)
    return dimshuffle(t, list(range(t.ndim)) + ["x"] * n_ones)


def shape_padaxis(t: Any, axis: int) -> Variable:
    """``t`` with a broadcastable axis inserted at ``axis`` (negative counts from the end of the result).

    Example::

        >>> import symrnn.tensor as T
        >>> T.shape_padaxis(T.tensor3("x"), axis=-1).type
        float64(?, ?, ?, 1)
    """
    return _insert_axis("shape_padaxis", t, axis)


# --------------------------------------------------------------------------- alloc and friends


class Alloc(Op):
    """A new array of the given shape filled with (a broadcast of) ``value``."""

    grads_at_output_shape = True  # grad() sums the value's gradient back to the value's shape

    def make_node(self, value: Any, *dims: Any) -> Apply:
        value = as_tensor_variable(value)
        dims = [_as_int_scalar(self, d, "each alloc dimension") for d in dims]
        if value.ndim > len(dims):
            raise op_error(self, [value], f"the value has more dimensions than the {len(dims)} requested")
        static = [_static_int(d) for d in dims]
        for s in static:
            if s is not None and s < 0:
                raise op_error(self, [value], f"negative dimension {s}", GraphShapeError)
        lead = len(dims) - value.ndim
        for axis, vdim in enumerate(value.type.shape):
            target = static[lead + axis]
            if vdim is not None and vdim != 1 and target is not None and vdim != target:
                raise op_error(self, [value], f"cannot broadcast a value of static shape {value.type.shape} "
                                              f"to {tuple(static)}", GraphShapeError)
        return Apply(self, [value, *dims], [TensorType(value.dtype, tuple(static))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        value, *dims = inputs
        out = np.empty(tuple(int(d) for d in dims), dtype=node.outputs[0].dtype)
        out[...] = value
        return [out]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        dims = ", ".join(inputs[1:]) + ("," if len(inputs) == 2 else "")
        value = node.inputs[0]
        dtype = node.outputs[0].dtype
        if isinstance(value, Constant) and value.data.size == 1 and not value.data.any():
            return f"{outputs[0]} = xp.zeros(({dims}), dtype={dtype!r})"
        return (f"{outputs[0]} = xp.empty(({dims}), dtype={dtype!r})\n"
                f"{outputs[0]}[...] = {inputs[0]}")

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        value = node.inputs[0]
        return [output_grads[0] if value.dtype in FLOAT_DTYPES else None] + [None] * (len(node.inputs) - 1)


def alloc(value: Any, *shape: Any) -> Variable:
    """An array of ``shape`` filled with ``value`` (broadcast), Theano's ``T.alloc``.

    Example::

        >>> import symrnn.tensor as T
        >>> T.alloc(0.0, 2, 3).type
        float64(2, 3)
    """
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    elif len(shape) == 1 and isinstance(shape[0], Variable) and shape[0].ndim == 1:
        shape = tuple(_dims_of("alloc", shape[0]))
    return Alloc()(value, *shape)


def _fill(fill_value: float, shape: Any, dtype: Any) -> Variable:
    dtype = dtype_arg("alloc", [], dtype)
    return Alloc()(constant(np.asarray(fill_value, dtype=dtype)), *_dims_of("alloc", shape))


def zeros(shape: Any, dtype: Any = None) -> Variable:
    """An array of zeros (dtype ``config.floatX`` by default)."""
    return _fill(0, shape, dtype)


def ones(shape: Any, dtype: Any = None) -> Variable:
    """An array of ones (dtype ``config.floatX`` by default)."""
    return _fill(1, shape, dtype)


def full(shape: Any, fill_value: float, dtype: Any = None) -> Variable:
    """An array filled with ``fill_value``."""
    return _fill(fill_value, shape, dtype)


def zeros_like(x: Any, dtype: Any = None) -> Variable:
    """Zeros with the shape (and by default the dtype) of ``x``."""
    x = as_tensor_variable(x)
    return _fill(0, [shape_i(x, i) for i in range(x.ndim)], dtype or x.dtype)


def ones_like(x: Any, dtype: Any = None) -> Variable:
    """Ones with the shape (and by default the dtype) of ``x``."""
    x = as_tensor_variable(x)
    return _fill(1, [shape_i(x, i) for i in range(x.ndim)], dtype or x.dtype)


def broadcast_like(value: Variable, like: Variable) -> Variable:
    """``value`` broadcast to the shape of ``like`` (a no-op when the static shapes already agree)."""
    if value.type.shape == like.type.shape and None not in like.type.shape:
        return value
    return Alloc()(value, *[shape_i(like, i) for i in range(like.ndim)])


# --------------------------------------------------------------------------- arange


class ARange(Op):
    """``arange(start, stop, step)`` with symbolic bounds."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in inputs:
            if v.ndim != 0:
                raise op_error(self, inputs, "start, stop and step must be scalars")
        values = [v.data.item() if isinstance(v, Constant) else None for v in inputs]
        if values[2] == 0:
            raise op_error(self, inputs, "step must not be zero", GraphShapeError)
        length = None
        if None not in values:
            length = len(np.arange(*values))
        return Apply(self, inputs, [TensorType(self.dtype, (length,))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.arange(*[v.item() for v in inputs], dtype=self.dtype)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = xp.arange({inputs[0]}, {inputs[1]}, {inputs[2]}, dtype={self.dtype!r})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None, None, None]


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Variable:
    """``numpy.arange`` with symbolic bounds: int64 for integer bounds, else floatX.

    Example::

        >>> import symrnn.tensor as T
        >>> n = T.iscalar("n")
        >>> T.arange(n).type
        int64(?,)
    """
    if stop is None:
        start, stop = 0, start
    inputs = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        all_int = all(v.dtype in INT_DTYPES or v.dtype == "bool" for v in inputs)
        dtype = "int64" if all_int else config.floatX
    return ARange(dtype_arg("arange", inputs, dtype))(*inputs)


class _Grid:
    """``T.mgrid[0:n, 0:m]`` (dense) and ``T.ogrid[0:n, 0:m]`` (open), NumPy's index tricks with symbolic bounds.

    Each slice gives one ``arange``; with several slices the result is a list of
    tensors (as Theano's), one per slice.  Integer bounds give ``int64``, any
    float bound gives ``config.floatX`` for every slice (as NumPy's common dtype).
    """

    def __init__(self, sparse: bool) -> None:
        self.sparse = sparse

    def __repr__(self) -> str:
        return "ogrid" if self.sparse else "mgrid"

    def __getitem__(self, key: Any) -> Any:
        name = repr(self)
        slices = key if isinstance(key, tuple) else (key,)
        bounds = []
        for sl in slices:
            if not isinstance(sl, slice) or sl.stop is None:
                raise op_error(name, [], f"each index must be a slice start:stop[:step] with a stop, got {sl!r}")
            if isinstance(sl.step, complex):
                raise op_error(name, [], "a complex step (a number of points) is not supported; use "
                                         "T.arange with a real step", NotImplementedError)
            start = 0 if sl.start is None else sl.start
            step = 1 if sl.step is None else sl.step
            bounds.append([as_tensor_variable(v) for v in (start, sl.stop, step)])
        all_int = all(v.dtype in INT_DTYPES or v.dtype == "bool" for b in bounds for v in b)
        ranges = [arange(*b, dtype="int64" if all_int else config.floatX) for b in bounds]
        if not isinstance(key, tuple):
            return ranges[0]
        ndim = len(ranges)
        padded = [dimshuffle(r, ["x"] * j + [0] + ["x"] * (ndim - 1 - j)) for j, r in enumerate(ranges)]
        if self.sparse:
            return padded
        sizes = [shape_i(r, 0) for r in ranges]
        return [Alloc()(p, *sizes) for p in padded]


#: ``T.mgrid[0:n, 0:m]``: a list of dense coordinate grids, as ``numpy.mgrid``.
mgrid = _Grid(sparse=False)
#: ``T.ogrid[0:n, 0:m]``: a list of open (broadcastable) coordinate grids, as ``numpy.ogrid``.
ogrid = _Grid(sparse=True)


# --------------------------------------------------------------------------- join / split


class Join(Op):
    """Concatenate tensors of equal ndim along ``axis``."""

    __props__ = ("axis",)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def __str__(self) -> str:
        return f"concatenate{{axis={self.axis}}}"

    def make_node(self, *tensors: Any) -> Apply:
        tensors = [as_tensor_variable(t) for t in tensors]
        if not tensors:
            raise op_error(self, [], "needs at least one tensor")
        ndim = tensors[0].ndim
        if any(t.ndim != ndim for t in tensors) or ndim == 0:
            raise op_error(self, tensors, "all inputs must have the same number (>= 1) of dimensions")
        dtype = np.result_type(*[t.dtype for t in tensors]).name
        tensors = [cast(t, dtype) for t in tensors]
        shape: list[int | None] = []
        for axis in range(ndim):
            sizes = [t.type.shape[axis] for t in tensors]
            if axis == self.axis:
                shape.append(None if None in sizes else sum(sizes))  # type: ignore[arg-type]
                continue
            known = {s for s in sizes if s is not None}
            if len(known) > 1:
                raise op_error(self, tensors, f"sizes along axis {axis} differ: {sizes}", GraphShapeError)
            shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(dtype, tuple(shape))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.concatenate(inputs, axis=self.axis)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        into = ctx.target(node.outputs[0])
        parts = f"({', '.join(inputs)},), axis={self.axis}"
        if into is None:
            if node.outputs[0].ndim > 1:
                # NumPy joins transposed (F-ordered) parts into an F-ordered whole, and a matrix product
                # with that layout can take twice as long (the backward step's [U_i ... U_c]^T).
                return f"{outputs[0]} = xp.ascontiguousarray(xp.concatenate({parts}))"
            return f"{outputs[0]} = xp.concatenate({parts})"
        ctx.wrote(node.outputs[0])  # a loop's buffer row (see CodegenContext.target)
        pieces = ctx.pieces.get(id(node.outputs[0]))
        if pieces and all(key in ctx.written for key in pieces):  # in it already, after the first step
            return f"{outputs[0]} = {into}\nif {outputs[0]} is None:\n    {outputs[0]} = xp.concatenate({parts})"
        return f"{outputs[0]} = xp.concatenate({parts}, out={into})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        sizes = [shape_i(t, self.axis) for t in node.inputs]
        parts = split(output_grads[0], sizes, axis=self.axis) if len(sizes) > 1 else [output_grads[0]]
        return [p if t.dtype in FLOAT_DTYPES else None for p, t in zip(parts, node.inputs)]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Variable:
    """Join tensors along an existing axis, as ``numpy.concatenate``.

    Example::

        >>> import symrnn.tensor as T
        >>> T.concatenate([T.tensor("float64", (2, 3)), T.tensor("float64", (4, 3))]).type
        float64(6, 3)
    """
    tensors = harmonize_weak([as_tensor_variable(t) for t in tensors])
    if not tensors:
        raise op_error("concatenate", [], "needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise op_error("concatenate", tensors, "zero-dimensional inputs cannot be concatenated; use stack")
    if not -ndim <= axis < ndim:
        raise op_error("concatenate", tensors, f"axis {axis} is out of range for {ndim} dimension(s)",
                       GraphShapeError)
    if len(tensors) == 1:
        return tensors[0]
    return Join(axis % ndim)(*tensors)


def join(axis: int, *tensors: Any) -> Variable:
    """Theano's ``T.join(axis, *tensors)``: ``concatenate`` with the axis first."""
    return concatenate(tensors, axis=axis)


@pack_variables.provide
def stack(*tensors: Any, **kwargs: Any) -> Variable:
    """Join tensors along a new axis: ``stack([a, b], axis=0)`` as ``numpy.stack``, or Theano's older
    ``stack(a, b, c)`` (positional tensors, new axis 0).  A list or tuple first means the new form.

    Example::

        >>> import symrnn.tensor as T
        >>> a, b = T.vector("a"), T.vector("b")
        >>> T.stack([a, b], axis=1).type, T.stack(a, b).type
        (float64(?, 2), float64(2, ?))
    """
    tensors, axis = _stack_arguments(tensors, kwargs)
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise op_error("stack", [], "needs at least one tensor")
    tensors = harmonize_weak(tensors)
    ndim = tensors[0].ndim
    if any(t.ndim != ndim for t in tensors):
        raise op_error("stack", tensors, "all inputs must have the same number of dimensions")
    if not -(ndim + 1) <= axis <= ndim:
        raise op_error("stack", tensors, f"axis {axis} is out of range for {ndim + 1} dimension(s)", GraphShapeError)
    axis = axis % (ndim + 1)
    expanded = [expand_dims(t, axis) for t in tensors]
    return expanded[0] if len(expanded) == 1 else Join(axis)(*expanded)


def _stack_arguments(args: tuple, kwargs: dict[str, Any]) -> tuple[Sequence[Any], int]:
    """``stack``'s two spellings: ``(tensors, axis=0)`` (``tensors=`` too), or the tensors themselves."""
    unknown = set(kwargs) - {"tensors", "axis"}
    if unknown:
        raise op_error("stack", [], f"unexpected keyword argument(s) {sorted(unknown)}; stack takes tensors "
                                    f"and axis")
    axis = kwargs.get("axis", 0)
    if "tensors" in kwargs:
        if args:
            raise op_error("stack", [], "give the tensors either positionally or as tensors=, not both")
        return kwargs["tensors"], axis
    if args and isinstance(args[0], (list, tuple, Iterator)):  # a generator of tensors reads as a list too
        if len(args) > 2 or (len(args) == 2 and "axis" in kwargs):
            raise op_error("stack", [], "stack(tensors, axis) takes one list of tensors and one axis")
        return list(args[0]), args[1] if len(args) == 2 else axis
    return args, axis  # Theano's older stack(a, b, c)


def stacklists(arg: Any) -> Variable:
    """Nested lists of scalars or tensors stacked into one tensor of the same nesting (Theano's
    ``T.stacklists``): ``stacklists([[a, b], [c, d]])`` of scalars is a 2x2 matrix.

    Example::

        >>> import symrnn.tensor as T
        >>> a, b, c, d = T.scalars("abcd")
        >>> T.stacklists([[a, b], [c, d]]).type
        float64(2, 2)
    """
    if not isinstance(arg, (list, tuple)):
        return as_tensor_variable(arg)
    return stack([stacklists(item) for item in arg])  # recursion on the list's nesting, not the graph's depth


class Split(Op):
    """Split ``x`` along ``axis`` into pieces of the given (symbolic) sizes."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits: int, axis: int) -> None:
        self.n_splits, self.axis = n_splits, axis
        self.view_map = {i: 0 for i in range(n_splits)}  # the pieces are views of x

    def __str__(self) -> str:
        return f"split{{{self.n_splits}, axis={self.axis}}}"

    def make_node(self, x: Any, *sizes: Any) -> Apply:
        x = as_tensor_variable(x)
        sizes = [_as_int_scalar(self, s, "each split size") for s in sizes]
        if len(sizes) != self.n_splits:
            raise op_error(self, [x], f"expects {self.n_splits} sizes, got {len(sizes)}")
        if not 0 <= self.axis < x.ndim:
            raise op_error(self, [x], f"axis {self.axis} is out of range", GraphShapeError)
        static = [_static_int(s) for s in sizes]
        if any(s is not None and s < 0 for s in static):
            raise op_error(self, [x], f"split sizes {static} must not be negative", GraphShapeError)
        total = x.type.shape[self.axis]
        if total is not None and None not in static and sum(static) != total:  # type: ignore[arg-type]
            raise op_error(self, [x], f"sizes {static} do not add up to {total} along axis {self.axis}",
                           GraphShapeError)
        types = []
        for s in static:
            shape = list(x.type.shape)
            shape[self.axis] = s
            types.append(TensorType(x.dtype, shape))
        return Apply(self, [x, *sizes], types)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *sizes = inputs
        if sum(int(s) for s in sizes) != x.shape[self.axis] or any(int(s) < 0 for s in sizes):
            raise ValueError(f"split sizes {[int(s) for s in sizes]} are negative or do not add up to "
                             f"{x.shape[self.axis]}")
        return list(np.split(x, np.cumsum([int(s) for s in sizes])[:-1], axis=self.axis))

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        fn = ctx.bind(self.perform)
        node_name = ctx.bind(node)
        return f"{', '.join(outputs)}, = {fn}({node_name}, [{', '.join(inputs)}])"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        x = node.inputs[0]
        if x.dtype not in FLOAT_DTYPES:
            return [None] * len(node.inputs)
        parts = [g if g is not None else zeros_like(out) for g, out in zip(output_grads, node.outputs)]
        return [concatenate(parts, axis=self.axis)] + [None] * self.n_splits


def split(x: Any, splits_size: Sequence[Any], n_splits: int | None = None, axis: int = 0) -> list[Variable]:
    """Split ``x`` along ``axis`` into ``len(splits_size)`` pieces of the given sizes (Theano's ``split``).

    Example::

        >>> import symrnn.tensor as T
        >>> a, b = T.split(T.tensor("float64", (5, 2)), [2, 3], axis=0)
        >>> a.type, b.type
        (float64(2, 2), float64(3, 2))
    """
    x = as_tensor_variable(x)
    sizes = _dims_of("split", splits_size)
    if n_splits is not None and n_splits != len(sizes):
        raise op_error("split", [x], f"n_splits={n_splits} but {len(sizes)} sizes were given")
    if not -x.ndim <= axis < x.ndim:
        raise op_error("split", [x], f"axis {axis} is out of range for {x.ndim} dimension(s)", GraphShapeError)
    outs = Split(len(sizes), axis % x.ndim)(x, *sizes)
    return list(outs) if isinstance(outs, list) else [outs]


__all__ = [
    "Shape", "ShapeI", "Reshape", "DimShuffle", "Alloc", "ARange", "Join", "Split",
    "shape", "shape_i", "reshape", "flatten", "dimshuffle", "transpose", "swapaxes", "expand_dims",
    "alloc", "zeros", "ones", "full", "zeros_like", "ones_like", "broadcast_like", "arange",
    "concatenate", "join", "stack", "split",
    "shape_padleft", "shape_padright", "shape_padaxis", "stacklists", "mgrid", "ogrid",
]
