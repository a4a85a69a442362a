"""Linear algebra: ``dot`` with ``numpy.dot``'s semantics, and ``matmul`` with batching."""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import (
    FLOAT_DTYPES,
    Apply,
    GraphShapeError,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    grad_undefined,
    op_error,
)
from symrnn.ops.elemwise import (
    broadcast_checks,
    broadcast_static_shapes,
    cast,
    emit_checks,
    mul,
    perform_checks,
)
from symrnn.ops.reduce import sum_to
from symrnn.ops.shape import dimshuffle, reshape, shape_i, swapaxes


def _common_dtype(x: Variable, y: Variable) -> tuple[Variable, Variable]:
    """BLAS runs at one dtype: cast both operands to their common type first."""
    dtype = np.result_type(x.dtype, y.dtype).name
    return cast(x, dtype), cast(y, dtype)


def _check_aligned(op: Any, x: Variable, y: Variable, x_axis: int, y_axis: int) -> None:
    a, b = x.type.shape[x_axis], y.type.shape[y_axis]
    if a is not None and b is not None and a != b:
        raise op_error(op, [x, y], f"shapes {x.type.shape} and {y.type.shape} are not aligned: "
                                   f"{a} (dim {x_axis % x.ndim}) != {b} (dim {y_axis % y.ndim})", GraphShapeError)


def _explain_misaligned(node: Apply, values: list[np.ndarray], y_axis: int) -> str | None:
    """``'x' has 7 features (its last axis), but 'lstm/W_i' expects 2 (its rows)``, for a product whose
    contracted axes did not match at run time."""
    (x, y), (a, b) = node.inputs, [np.shape(v) for v in values]
    if not a or not b or a[-1] == b[y_axis]:
        return None
    left, right = (repr(v.name) if v.name else f"the {side} operand" for v, side in ((x, "left"), (y, "right")))
    rows = "its length" if len(b) == 1 else "its rows" if len(b) == 2 else f"its axis {len(b) + y_axis}"
    return (f"{left} has {a[-1]} features (its last axis, shape {a}), but {right} expects {b[y_axis]} "
            f"({rows}, shape {b})")


class Dot(Op):
    """``numpy.dot`` for inputs of at least one dimension each."""

    name = "dot"

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim == 0 or y.ndim == 0:
            raise op_error(self, [x, y], "use mul for a scalar operand (dot() does this for you)")
        x, y = _common_dtype(x, y)
        y_axis = 0 if y.ndim == 1 else -2
        _check_aligned(self, x, y, -1, y_axis)
        y_rest = y.type.shape[:-2] + y.type.shape[-1:] if y.ndim >= 2 else ()
        return Apply(self, [x, y], [TensorType(x.dtype, x.type.shape[:-1] + y_rest)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(np.dot(*inputs))]

    def explain_failure(self, node: Apply, inputs: list[np.ndarray]) -> str | None:
        """What to check when ``perform`` failed on ``inputs`` (the interpreter's error messages)."""
        return _explain_misaligned(node, inputs, 0 if node.inputs[1].ndim == 1 else -2)

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        x, y = node.inputs
        a, b, out = *inputs, outputs[0]
        # (..., k)·(k, n) as one 2-D product: NumPy's N-d dot does not reach BLAS as a single GEMM
        flat = x.ndim > 2 and y.ndim == 2
        flat_a = f"{a}.reshape(-1, {a}.shape[-1])" if flat else a
        shape = f"{a}.shape[:-1] + ({b}.shape[1],)"
        if id(node.outputs[0]) in ctx.kept and x.ndim >= 2 and y.ndim == 2:  # into memory kept between calls
            flat_out = f"{out}.reshape(-1, {b}.shape[1])" if flat else out
            return f"{out} = {ctx.allocate(node.outputs[0], shape, node.outputs[0].dtype)}\n" \
                   f"xp.dot({flat_a}, {b}, out={flat_out})"
        if flat:
            return f"{out} = xp.dot({flat_a}, {b}).reshape({shape})"
        if node.outputs[0].ndim > 0 and y.ndim <= 2 and ctx.step_buffer(out, node.outputs[0]):
            return f"{out} = xp.dot({a}, {b}, out={out})"  # in a loop: into the previous step's array (None at first)
        return f"{out} = xp.dot({a}, {b})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (x, y), (g,) = node.inputs, output_grads
        if x.dtype not in FLOAT_DTYPES:
            return [None, None]
        if y.ndim > 2:
            reason = "numpy.dot's gradient for a right operand of more than 2 dimensions is not implemented; use matmul"
            return [grad_undefined(self, 0, reason), grad_undefined(self, 1, reason)]
        if x.ndim == 1 and y.ndim == 1:
            return [mul(g, y), mul(g, x)]
        if y.ndim == 1:  # (..., k) . (k,) -> (...)
            gx = mul(dimshuffle(g, list(range(g.ndim)) + ["x"]), y)
            gy = dot(reshape(x, (-1, shape_i(x, -1))).T, flatten_all(g))
            return [gx, gy]
        if x.ndim == 1:  # (k,) . (k, n) -> (n,)
            return [dot(y, g), mul(dimshuffle(x, 0, "x"), dimshuffle(g, "x", 0))]
        gx = dot(g, y.T)
        if x.ndim == 2:
            return [gx, dot(x.T, g)]
        # (..., k) . (k, n): fold the leading axes into one big GEMM for the weight gradient
        k, n = shape_i(x, -1), shape_i(y, -1)
        gy = dot(reshape(x, (-1, k)).T, reshape(g, (-1, n)))
        return [gx, gy]


def flatten_all(x: Variable) -> Variable:
    return reshape(x, (-1,))


def dot(x: Any, y: Any) -> Variable:
    """``numpy.dot``: inner product, matrix-vector, matrix-matrix, and ``(..., k) . (k, n)``.

    A scalar operand multiplies elementwise.  Static sizes of the contracted
    axes must agree.

    Example::

        >>> import symrnn.tensor as T
        >>> T.dot(T.tensor("float64", (3, 4)), T.matrix("W")).type
        float64(3, ?)
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        return mul(x, y)
    return Dot()(x, y)


class MatMul(Op):
    """``numpy.matmul`` for inputs of at least two dimensions; leading axes broadcast as batches."""

    name = "matmul"

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim < 2 or y.ndim < 2:
            raise op_error(self, [x, y], "needs inputs of at least 2 dimensions (matmul() promotes vectors)")
        x, y = _common_dtype(x, y)
        _check_aligned(self, x, y, -1, -2)
        try:
            batch = broadcast_static_shapes(
                self, [TensorType(x.dtype, x.type.shape[:-2])(), TensorType(y.dtype, y.type.shape[:-2])()])
        except GraphShapeError:
            raise op_error(self, [x, y], f"the batch axes of shapes {x.type.shape} and {y.type.shape} cannot be "
                                         f"broadcast together", GraphShapeError) from None
        return Apply(self, [x, y], [TensorType(x.dtype, batch + (x.type.shape[-2], y.type.shape[-1]))])

    @staticmethod
    def _batch_checks(node: Apply) -> list[tuple[int, list[tuple[int, int]]]]:
        # batch axes broadcast only where statically 1, as elementwise ops do
        return broadcast_checks([v.type.shape[:-2] for v in node.inputs], node.outputs[0].ndim - 2)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        perform_checks(node, inputs, self._batch_checks(node))
        return [np.asarray(np.matmul(*inputs))]

    def explain_failure(self, node: Apply, inputs: list[np.ndarray]) -> str | None:
        return _explain_misaligned(node, inputs, -2)

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        checks = emit_checks(node, inputs, self._batch_checks(node), ctx)
        return "\n".join(checks + [f"{outputs[0]} = xp.matmul({inputs[0]}, {inputs[1]})"])

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (x, y), (g,) = node.inputs, output_grads
        if x.dtype not in FLOAT_DTYPES:
            return [None, None]
        gx = sum_to(matmul(g, swapaxes(y, -1, -2)), x.type.shape)
        gy = sum_to(matmul(swapaxes(x, -1, -2), g), y.type.shape)
        return [gx, gy]


def matmul(x: Any, y: Any) -> Variable:
    """``numpy.matmul`` (the ``@`` operator): vectors are promoted, leading axes are batches.

    Example::

        >>> import symrnn.tensor as T
        >>> (T.tensor3("a") @ T.matrix("b")).ndim
        3
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        raise op_error("matmul", [x, y], "scalar operands are not allowed; use *")
    xp_, yp_ = x, y
    if x.ndim == 1:
        xp_ = dimshuffle(x, "x", 0)
    if y.ndim == 1:
        yp_ = dimshuffle(y, 0, "x")
    out = MatMul()(xp_, yp_)
    if x.ndim == 1:
        out = dimshuffle(out, [i for i in range(out.ndim) if i != out.ndim - 2])
    if y.ndim == 1:
        out = dimshuffle(out, list(range(out.ndim - 1)))
    return out


def batched_dot(x: Any, y: Any) -> Variable:
    """``dot(x[i], y[i])`` for each ``i`` of the first axis, Theano's ``T.batched_dot``: a batch of matrices or
    of vectors on each side (a batch of vectors times a batch of vectors is their row-wise inner products).

    Example::

        >>> import symrnn.tensor as T
        >>> batched_dot(T.tensor3("a"), T.tensor3("b")).ndim, batched_dot(T.matrix("u"), T.matrix("v")).ndim
        (3, 1)
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim not in (2, 3) or y.ndim not in (2, 3):
        raise op_error("batched_dot", [x, y], "each operand must be a batch of vectors (2-d) or of matrices (3-d)")
    if None not in (x.type.shape[0], y.type.shape[0]) and x.type.shape[0] != y.type.shape[0]:
        raise op_error("batched_dot", [x, y], f"the batch sizes differ: {x.type.shape[0]} and {y.type.shape[0]}",
                       GraphShapeError)
    left = dimshuffle(x, 0, "x", 1) if x.ndim == 2 else x  # a vector is a one-row matrix
    right = dimshuffle(y, 0, 1, "x") if y.ndim == 2 else y  # ... or a one-column one
    out = MatMul()(left, right)
    keep = [0] + ([1] if x.ndim == 3 else []) + ([2] if y.ndim == 3 else [])
    return dimshuffle(out, keep)


def outer(x: Any, y: Any) -> Variable:
    """Outer product of two vectors."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return mul(dimshuffle(x, 0, "x"), dimshuffle(y, "x", 0))


def tensordot(a: Any, b: Any, axes: int = 2) -> Variable:
    """``numpy.tensordot`` with an integer ``axes``: contract the last ``axes`` of ``a`` with the first of ``b``."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if not isinstance(axes, int) or axes < 0 or axes > min(a.ndim, b.ndim):
        raise op_error("tensordot", [a, b], f"axes must be an int in [0, {min(a.ndim, b.ndim)}], got {axes!r}")
    for i in range(axes):
        _check_aligned("tensordot", a, b, a.ndim - axes + i, i)
    a_lead = [shape_i(a, i) for i in range(a.ndim - axes)]
    b_tail = [shape_i(b, i) for i in range(axes, b.ndim)]
    a2 = reshape(a, [*a_lead, -1] if a_lead else [1, -1])
    b2 = reshape(b, [-1, *b_tail] if b_tail else [-1, 1])
    a2 = reshape(a2, (-1, shape_i(a2, -1)))
    b2 = reshape(b2, (shape_i(b2, 0), -1))
    return reshape(dot(a2, b2), a_lead + b_tail)


__all__ = ["Dot", "MatMul", "batched_dot", "dot", "matmul", "outer", "tensordot"]
