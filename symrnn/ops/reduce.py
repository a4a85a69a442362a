"""Reductions: ``sum``, ``prod``, ``max``, ``min``, ``mean``, ``argmax`` and ``argmin`` with ``axis``/``keepdims``."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.graph import FLOAT_DTYPES, Apply, GraphShapeError, Op, TensorType, Variable, as_tensor_variable, op_error
from symrnn.ops.elemwise import cast, eq, mul, true_div
from symrnn.ops.shape import broadcast_like, dimshuffle, shape_i


def normalize_axis(op: Any, x: Variable, axis: Any) -> tuple[int, ...]:
    """``None`` means every axis; negative axes count from the end; repeats are an error."""
    if axis is None:
        return tuple(range(x.ndim))
    if isinstance(axis, (int, np.integer)) or not isinstance(axis, (tuple, list)):
        axis = (axis,)
    axes = tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise op_error(op, [x], f"axis must be an int, a tuple of ints or None, got {a!r}")
        if not -x.ndim <= a < builtins.max(x.ndim, 1) or (x.ndim == 0 and a not in (0, -1)):
            raise op_error(op, [x], f"axis {a} is out of range for {x.ndim} dimension(s)", GraphShapeError)
        out.append(int(a) % builtins.max(x.ndim, 1))
    if len(set(out)) != len(out):
        raise op_error(op, [x], f"axis {axis!r} repeats an axis")
    return tuple(sorted(out)) if x.ndim else ()


def reduced_shape(shape: Sequence[int | None], axes: tuple[int, ...], keepdims: bool) -> tuple[int | None, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def expand_to_input(g: Variable, x: Variable, axes: tuple[int, ...], keepdims: bool) -> Variable:
    """Re-insert reduced axes into ``g`` as size-1 dims so that it broadcasts against ``x``."""
    if keepdims or not axes:
        return g
    order: list[Any] = []
    kept = iter(range(g.ndim))
    for i in range(x.ndim):
        order.append("x" if i in axes else next(kept))
    return dimshuffle(g, order)


class Reduce(Op):
    """A reduction along ``axis`` (a sorted tuple) with NumPy's ``keepdims``."""

    __props__ = ("kind", "axis", "keepdims")
    _IMPL = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}

    def __init__(self, kind: str, axis: tuple[int, ...], keepdims: bool = False) -> None:
        self.kind, self.axis, self.keepdims = kind, tuple(axis), bool(keepdims)

    def __str__(self) -> str:
        return f"{self.kind}{{axis={self.axis}{', keepdims' if self.keepdims else ''}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.kind in ("max", "min"):
            for a in self.axis:
                if x.type.shape[a] == 0:
                    raise op_error(self, [x], f"cannot take the {self.kind} over axis {a}, which is empty",
                                   GraphShapeError)
        probe = self._IMPL[self.kind](np.ones((1,) * x.ndim, dtype=x.dtype), axis=self.axis)
        dtype = np.asarray(probe).dtype.name
        shape = reduced_shape(x.type.shape, self.axis, self.keepdims)
        return Apply(self, [x], [TensorType(dtype, shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = inputs
        if not self.axis:  # nothing to reduce: a copy, in NumPy's accumulator dtype (sum of int32 is int64)
            return [np.array(x, dtype=node.outputs[0].dtype, copy=True)]
        out = self._IMPL[self.kind](x, axis=self.axis, keepdims=self.keepdims)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        if not self.axis:
            return f"{outputs[0]} = xp.array({inputs[0]}, dtype={node.outputs[0].dtype!r}, copy=True)"
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{outputs[0]} = xp.{self.kind}({inputs[0]}, axis={self.axis!r}{keep})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (x,), (z,), (g,) = node.inputs, node.outputs, output_grads
        if x.dtype not in FLOAT_DTYPES:
            return [None]
        g_exp = expand_to_input(g, x, self.axis, self.keepdims)
        if self.kind == "sum":
            return [broadcast_like(g_exp, x)]
        if self.kind == "prod":
            return [mul(g_exp, ProdOthers(self.axis)(x))]
        # max/min: the gradient goes to every element equal to the extreme (ties share it), as in Theano.
        z_exp = expand_to_input(z, x, self.axis, self.keepdims)
        return [mul(g_exp, eq(x, z_exp))]


class ProdOthers(Op):
    """For each element, the product of the *other* elements along ``axis``: the safe gradient of ``prod``.

    Unlike ``prod / x`` it is exact when ``x`` contains zeros.
    """

    __props__ = ("axis",)

    def __init__(self, axis: tuple[int, ...]) -> None:
        self.axis = axis

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = inputs
        if x.size == 0:
            return [np.ones_like(x)]
        kept = [i for i in range(x.ndim) if i not in self.axis]
        moved = np.transpose(x, kept + list(self.axis))
        flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        out = (left * right).reshape(moved.shape)
        return [np.transpose(out, np.argsort(kept + list(self.axis))).copy()]


def _reduce(kind: str, x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    x = as_tensor_variable(x)
    return Reduce(kind, normalize_axis(kind, x, axis), keepdims)(x)


def sum(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Variable:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or ``None`` for all).

    Example::

        >>> import symrnn.tensor as T
        >>> T.sum(T.matrix("x"), axis=1).type
        float64(?,)
    """
    out = _reduce("sum", x, axis, keepdims)
    if dtype is not None:
        out = cast(out, dtype)
    return out


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Product over ``axis``; its gradient is exact even where ``x`` has zeros."""
    return _reduce("prod", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient."""
    return _reduce("max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient."""
    return _reduce("min", x, axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Arithmetic mean over ``axis``; integers give ``float64``, as in NumPy.

    Example::

        >>> import symrnn.tensor as T
        >>> T.mean(T.fmatrix("x")).type
        float32()
    """
    x = as_tensor_variable(x)
    axes = normalize_axis("mean", x, axis)
    total = _reduce("sum", x, axes, keepdims)
    dtype = x.dtype if x.dtype in FLOAT_DTYPES else "float64"
    count: Any = 1
    for a in axes:
        count = count * shape_i(x, a)
    return true_div(cast(total, dtype), cast(count, dtype))


def sum_to(g: Variable, shape: Sequence[int | None]) -> Variable:
    """Sum ``g`` over the axes that broadcasting added or stretched, to reach static ``shape`` (how a
    gradient at a broadcast result's shape goes back to an input's).

    Example::

        >>> import symrnn.tensor as T
        >>> sum_to(T.matrix("g"), (1, None)).type
        float64(1, ?)
    """
    lead = g.ndim - len(shape)
    if lead > 0:
        g = sum(g, axis=tuple(range(lead)))
    stretched = tuple(i for i, (gs, xs) in enumerate(zip(g.type.shape, shape)) if xs == 1 and gs != 1)
    if stretched:
        g = sum(g, axis=stretched, keepdims=True)
    return g



class Argmax(Op):
    """Index of the maximum (``kind='max'``) or minimum along one axis, or of the flattened array."""

    __props__ = ("kind", "axis", "keepdims")

    def __init__(self, kind: str, axis: int | None, keepdims: bool) -> None:
        self.kind, self.axis, self.keepdims = kind, axis, keepdims

    def __str__(self) -> str:
        return f"arg{self.kind}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if 0 in (x.type.shape if self.axis is None else x.type.shape[self.axis:self.axis + 1]):
            raise op_error(self, [x], "cannot take the index of an extreme of an empty array", GraphShapeError)
        if self.axis is None:
            shape: tuple[int | None, ...] = (1,) * x.ndim if self.keepdims else ()
        else:
            shape = reduced_shape(x.type.shape, (self.axis,), self.keepdims)
        return Apply(self, [x], [TensorType("int64", shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        fn = np.argmax if self.kind == "max" else np.argmin
        return [np.asarray(fn(inputs[0], axis=self.axis, keepdims=self.keepdims), dtype="int64")]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        keep = ", keepdims=True" if self.keepdims else ""
        return f"{outputs[0]} = xp.arg{self.kind}({inputs[0]}, axis={self.axis!r}{keep})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None]  # piecewise constant: zero gradient, as in Theano


def _arg(kind: str, x: Any, axis: Any, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    if axis is not None:
        axes = normalize_axis(f"arg{kind}", x, axis)
        if len(axes) != 1:
            raise op_error(f"arg{kind}", [x], f"axis must be one int or None, got {axis!r}")
        (axis,) = axes
    return Argmax(kind, axis, keepdims)(x)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Index of the maximum along ``axis`` (``None``: of the flattened array), ``int64``.

    Example::

        >>> import symrnn.tensor as T
        >>> T.argmax(T.matrix("p"), axis=1).type
        int64(?,)
    """
    return _arg("max", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Variable:
    """Index of the minimum along ``axis`` (``None``: of the flattened array), ``int64``."""
    return _arg("min", x, axis, keepdims)


__all__ = ["Reduce", "Argmax", "ProdOthers", "sum", "prod", "max", "min", "mean", "argmax", "argmin",
           "normalize_axis", "sum_to"]
