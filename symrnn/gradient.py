"""Reverse-mode differentiation over graphs: ``grad`` and ``verify_grad``.

``grad`` walks the graph once, iteratively, from the cost back to the requested
variables, asking each op for its symbolic gradient.  The result is more graph,
which ``function`` compiles like any other.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symrnn.graph import (
    FLOAT_DTYPES,
    Constant,
    GraphTypeError,
    NullGradient,
    TensorType,
    Variable,
    describe,
    toposort,
    user_line,
)
from symrnn.tensor.basic import as_tensor_variable


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a variable that the cost does not depend on."""


class NullGradientError(GraphTypeError):
    """A requested gradient passes through an op whose gradient is undefined."""


def _total(contributions: list[Any]) -> Any:
    from symrnn.ops.elemwise import add

    nulls = [c for c in contributions if isinstance(c, NullGradient)]
    if nulls:
        return nulls[0]
    total = contributions[0]
    for c in contributions[1:]:
        total = add(total, c)
    return total


def grad(cost: Variable | None, wrt: Variable | Sequence[Variable], consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", known_grads: dict[Variable, Any] | None = None,
         return_disconnected: str = "zero") -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list).

    - ``consider_constant``: variables through which no gradient flows.
    - ``disconnected_inputs``: what to do when ``cost`` does not depend on a
      requested variable: ``"raise"`` (default), ``"warn"`` or ``"ignore"``;
      the gradient is then zeros (or ``None`` with ``return_disconnected="none"``).
    - ``known_grads``: ``{variable: gradient}`` to start from, with or without a cost.

    Gradients of integer variables are zeros, as in Theano.  A path through an
    op whose gradient is undefined is an error that names the op.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> gx = symrnn.grad(x ** 2, x)
        >>> symrnn.function([x], gx)(4)
        array(8.)
    """
    from symrnn.ops.elemwise import cast
    from symrnn.ops.shape import ones_like, zeros_like

    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)  # type: ignore[list-item]
    for i, var in enumerate(wrt_list):
        if not isinstance(var, Variable):
            raise TypeError(f"grad: wrt[{i}] is {var!r}, not a symbolic variable (at {user_line()})")

    seeds: dict[int, list[Any]] = {}
    roots: list[Variable] = []
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise GraphTypeError(f"grad: the cost must be a scalar, got {describe(cost)}; reduce it first, e.g. "
                                 f"cost.sum() or cost.mean() (at {user_line()})")
        if cost.dtype not in FLOAT_DTYPES:
            raise GraphTypeError(f"grad: the cost must be a float, got {describe(cost)} (at {user_line()})")
        seeds[id(cost)] = [ones_like(cost)]
        roots.append(cost)
    for var, g in (known_grads or {}).items():
        g = as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise GraphTypeError(f"grad: known gradient of {describe(var)} has {g.ndim} dimension(s) "
                                 f"(at {user_line()})")
        seeds.setdefault(id(var), []).append(g)
        roots.append(var)
    if not roots:
        raise ValueError("grad needs a cost or known_grads")

    stop = list(consider_constant or [])
    nodes = toposort(roots, stop_at=stop)
    stop_ids = {id(v) for v in stop}

    # Only nodes on a path from some wrt to the roots need a gradient.
    relevant = {id(v) for v in wrt_list}
    for node in nodes:
        if any(id(v) in relevant for v in node.inputs):
            relevant.update(id(v) for v in node.outputs)
    connected = ancestors_stopping(roots, stop)

    contributions = seeds
    for node in reversed(nodes):
        if not any(id(v) in contributions for v in node.outputs):
            continue
        if not any(id(v) in relevant and id(v) not in stop_ids for v in node.inputs):
            continue
        # An output that received no gradient gets None; ops with several outputs handle it (as zeros).
        out_grads = [_total(contributions[id(var)]) if id(var) in contributions else None for var in node.outputs]
        null = next((g for g in out_grads if isinstance(g, NullGradient)), None)
        if null is not None:
            input_grads: list[Any] = [null] * len(node.inputs)
        else:
            input_grads = list(node.op.grad(node, out_grads))
        if len(input_grads) != len(node.inputs):
            raise GraphTypeError(f"{node.op}.grad returned {len(input_grads)} gradients for "
                                 f"{len(node.inputs)} inputs")
        for var, g in zip(node.inputs, input_grads):
            if g is None or id(var) not in relevant or id(var) in stop_ids:
                continue
            if isinstance(g, Variable) and g.ndim != var.ndim:
                raise GraphTypeError(f"{node.op}.grad returned a gradient of {g.ndim} dimension(s) for its "
                                     f"{var.ndim}-d input {describe(var)} (a bug in the op)")
            contributions.setdefault(id(var), []).append(g)

    results: list[Any] = []
    for var in wrt_list:
        is_connected = id(var) in connected and id(var) not in stop_ids
        if not is_connected:
            message = (f"grad: the cost does not depend on {describe(var)}"
                       f"{' (it is in consider_constant)' if id(var) in stop_ids else ''}; pass "
                       f"disconnected_inputs='ignore' to get zeros (at {user_line()})")
            if disconnected_inputs == "raise":
                raise DisconnectedInputError(message)
            if disconnected_inputs == "warn":
                warnings.warn(message, stacklevel=2)
            results.append(None if return_disconnected == "none" else _float_zeros_like(var))
            continue
        if var.dtype not in FLOAT_DTYPES:
            results.append(_float_zeros_like(var))  # integers have zero gradient, as in Theano
            continue
        found = contributions.get(id(var))
        if not found:
            results.append(zeros_like(var))
            continue
        total = _total(found)
        if isinstance(total, NullGradient):
            raise NullGradientError(f"grad: cannot differentiate with respect to {describe(var)}: "
                                    f"{total.message()} (at {user_line()})")
        if total.dtype != var.dtype:
            total = cast(total, var.dtype)
        results.append(total)
    return results[0] if single else results


def ancestors_stopping(roots: Sequence[Variable], stop: Sequence[Variable]) -> set[int]:
    ids = {id(v) for v in roots}
    for node in toposort(roots, stop_at=stop):
        ids.update(id(v) for v in node.inputs)
    return ids


def _float_zeros_like(var: Variable) -> Variable:
    from symrnn.config import config
    from symrnn.ops.shape import zeros_like

    return zeros_like(var, dtype=var.dtype if var.dtype in FLOAT_DTYPES else config.floatX)


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
    from symrnn.ops.shape import arange, shape_i
    from symrnn.scan import scan

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
    from symrnn.compile.function import function
    from symrnn.ops.elemwise import mul
    from symrnn.ops.reduce import sum as reduce_sum
    from symrnn.tensor.basic import tensor

    rng = rng if rng is not None else np.random.default_rng(1234)
    arrays = [np.array(p, dtype="float64") for p in points]
    # As in Theano, a point's size-1 axes are broadcastable; the other sizes stay unknown.
    inputs = [tensor("float64", tuple(1 if d == 1 else None for d in a.shape), name=f"point{i}")
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


__all__ = ["grad", "jacobian", "hessian", "verify_grad", "GradientError", "DisconnectedInputError", "NullGradientError"]
