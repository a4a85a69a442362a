"""Theano's ``theano.gradient`` module: ``grad``, ``jacobian``, ``hessian`` and ``verify_grad``.

``grad`` itself is the engine in :mod:`symrnn.autodiff`, below the loops; this
module adds what needs more than the engine: ``jacobian`` and ``hessian``
(built with ``scan``) and ``verify_grad`` (which compiles functions), so it
sits at the level of the user's ``T.*`` face (``docs/architecture.md``).

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> x = T.dscalar("x")
    >>> symrnn.gradient.grad(x ** 3, x).eval({x: 2.0})
    array(12.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symrnn.autodiff import DisconnectedInputError, NullGradientError, grad
from symrnn.compile.function import function
from symrnn.graph import (
    FLOAT_DTYPES,
    Constant,
    GraphTypeError,
    TensorType,
    Variable,
    as_tensor_variable,
    describe,
    user_line,
)
from symrnn.ops.elemwise import mul
from symrnn.ops.reduce import sum as reduce_sum
from symrnn.ops.shape import arange, shape_i
from symrnn.scan import scan


def jacobian(expression: Variable, wrt: Variable | Sequence[Variable],
             consider_constant: Sequence[Variable] | None = None, disconnected_inputs: str = "raise") -> Any:
    """The Jacobian of the vector ``expression`` with respect to ``wrt``, built with ``scan`` as in Theano.

    Row ``i`` is ``grad(expression[i], wrt)``; the result has shape
    ``expression.shape + wrt.shape``.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> J = jacobian(x ** 2, x)
        >>> symrnn.function([x], J)([4, 4])
        array([[8., 0.],
               [0., 8.]])
    """
    expression = as_tensor_variable(expression)
    if expression.ndim != 1:
        raise GraphTypeError(f"jacobian: the expression must be a vector, got {describe(expression)} "
                             f"(at {user_line()})")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)  # type: ignore[list-item]

    def row(i: Variable, expr: Variable, *inputs: Variable) -> list[Variable]:
        return grad(expr[i], list(inputs), consider_constant=consider_constant,
                    disconnected_inputs=disconnected_inputs)

    rows, _ = scan(row, sequences=arange(shape_i(expression, 0)), non_sequences=[expression, *wrt_list],
                   name="jacobian", return_list=True)
    return rows[0] if single else rows


def hessian(cost: Variable, wrt: Variable | Sequence[Variable], consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise") -> Any:
    """The Hessian of the scalar ``cost`` with respect to each vector in ``wrt``: the Jacobian of its gradient.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> H = hessian((x ** 2).sum(), x)
        >>> symrnn.function([x], H)([4, 4])
        array([[2., 0.],
               [0., 2.]])
    """
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)  # type: ignore[list-item]
    out = []
    for var in wrt_list:
        if var.ndim != 1:
            raise GraphTypeError(f"hessian: each wrt must be a vector, got {describe(var)} (at {user_line()})")
        g = grad(cost, var, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, var, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs))
    return out[0] if single else out


class GradientError(AssertionError):
    """``verify_grad`` found a symbolic gradient that disagrees with finite differences."""


def verify_grad(fn: Callable[..., Variable], points: Sequence[Any], n_tests: int = 2, rng: Any = None,
                eps: float = 1e-7, abs_tol: float = 1e-5, rel_tol: float = 1e-5, mode: str | None = None) -> None:
    """Check ``grad`` of ``fn`` at ``points`` against central finite differences, in float64.

    ``fn`` takes one symbolic variable per point and returns a variable.  The
    output is projected onto a random direction to get a scalar cost; the
    symbolic gradient of that cost must match the numerical one.

    Example::

        >>> import numpy as np, symrnn.tensor as T
        >>> verify_grad(lambda x: T.tanh(x) * 2, [np.array([0.1, -0.3])])
    """
    rng = rng if rng is not None else np.random.default_rng(1234)
    arrays = [np.array(p, dtype="float64") for p in points]
    # As in Theano, a point's size-1 axes are broadcastable; the other sizes stay unknown.
    inputs = [TensorType("float64", tuple(1 if d == 1 else None for d in a.shape))(f"point{i}")
              for i, a in enumerate(arrays)]
    output = as_tensor_variable(fn(*inputs))
    if output.dtype not in FLOAT_DTYPES:
        raise GraphTypeError(f"verify_grad: fn returned {describe(output)}; it must return a float variable")
    for _ in range(n_tests):
        out_value = function(inputs, output, mode=mode, on_unused_input="ignore")(*arrays)
        projection = rng.uniform(-1, 1, size=np.shape(out_value))
        direction = Constant(TensorType("float64", projection.shape), projection)
        cost = reduce_sum(mul(output, direction)) if output.ndim else mul(output, direction)
        grads = grad(cost, inputs, disconnected_inputs="ignore")
        cost_fn = function(inputs, cost, mode=mode, on_unused_input="ignore")
        symbolic = function(inputs, grads, mode=mode, on_unused_input="ignore")(*arrays)
        for i, (point, analytic) in enumerate(zip(arrays, symbolic)):
            numeric = np.zeros_like(point)
            flat = numeric.reshape(-1)
            for j in range(point.size):
                plus, minus = point.copy(), point.copy()
                plus.reshape(-1)[j] += eps
                minus.reshape(-1)[j] -= eps
                args_p = [plus if k == i else a for k, a in enumerate(arrays)]
                args_m = [minus if k == i else a for k, a in enumerate(arrays)]
                flat[j] = (float(cost_fn(*args_p)) - float(cost_fn(*args_m))) / (2 * eps)
            abs_err = np.abs(analytic - numeric)
            rel_err = abs_err / np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if np.any(bad):
                worst = int(np.argmax(np.where(bad, abs_err, -1).reshape(-1)))
                raise GradientError(
                    f"verify_grad: the gradient with respect to input {i} disagrees with finite differences at "
                    f"flat index {worst}: symbolic {analytic.reshape(-1)[worst]!r}, numeric "
                    f"{numeric.reshape(-1)[worst]!r} (abs err {abs_err.reshape(-1)[worst]:.3g}, rel err "
                    f"{rel_err.reshape(-1)[worst]:.3g})")


__all__ = ["grad", "jacobian", "hessian", "verify_grad", "GradientError", "DisconnectedInputError",
           "NullGradientError"]
