"""Theano's ``theano.gradient`` module: ``grad``, ``Lop``, ``Rop``, ``jacobian``, ``hessian``, ``verify_grad``,
the gradient-stopping identities (``zero_grad``, ``disconnected_grad``, ``consider_constant``) and the markers
an op's ``grad`` returns (``grad_undefined``, ``grad_not_implemented``).

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

from symrnn.autodiff import (
    DisconnectedInputError,
    GradNotImplemented,
    GradNotImplementedError,
    NullGradientError,
    grad,
    report_disconnected,
)
from symrnn.compile.function import function
from symrnn.graph import (
    FLOAT_DTYPES,
    Constant,
    GraphNdimError,
    GraphTypeError,
    NullGradient,
    TensorType,
    Variable,
    ancestors,
    as_tensor_variable,
    clone_replace,
    describe,
    user_line,
)
from symrnn.graph import grad_undefined as _null_gradient
from symrnn.ops.elemwise import add, cast, mul
from symrnn.ops.gradops import (
    consider_constant,
    disconnected_grad,
    grad_clip,
    grad_scale,
    undefined_grad,
    zero_grad,
)
from symrnn.ops.reduce import sum as reduce_sum
from symrnn.ops.shape import arange, shape_i, zeros_like
from symrnn.scan import scan

#: Theano's name for the error ``grad`` raises on an undefined or unimplemented gradient.
NullTypeGradError = NullGradientError


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _format_as(like: Any, values: list[Any]) -> Any:
    """``values`` shaped as Theano returns them: a list for a list, a tuple for a tuple, else the one value."""
    if isinstance(like, list):
        return list(values)
    if isinstance(like, tuple):
        return tuple(values)
    return values[0]


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence[Variable] | None = None,  # noqa: N802
        disconnected_inputs: str = "raise") -> Any:
    """The vector-Jacobian product ``v·J``: for each ``x`` in ``wrt``, ``sum_i eval_points[i] · d f[i] / d x``.

    ``f`` and ``eval_points`` are a variable each or lists of the same length;
    each eval point has its ``f``'s shape.  The result is a list when ``wrt``
    is a list (a tuple for a tuple), as in Theano.  It is ``grad`` started from
    ``known_grads={f[i]: eval_points[i]}``.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> W, v, x = T.dmatrix("W"), T.dvector("v"), T.dvector("x")
        >>> vJ = Lop(T.dot(x, W), W, v)        # d(x·W)/dW, left-multiplied by v: outer(x, v)
        >>> symrnn.function([W, v, x], vJ, on_unused_input="ignore")([[1, 1], [1, 1]], [0, 1], [2, 3])
        array([[0., 2.],
               [0., 3.]])
    """
    outputs, points = _as_list(f), _as_list(eval_points)
    if len(outputs) != len(points):
        raise ValueError(f"Lop: {len(outputs)} expression(s) in f but {len(points)} eval point(s); give one eval "
                         f"point per expression (at {user_line()})")
    known = {}
    for i, (out, point) in enumerate(zip(outputs, points)):
        out, point = as_tensor_variable(out), as_tensor_variable(point)
        if point.ndim != out.ndim:
            raise GraphNdimError(f"Lop: eval point {i} is {describe(point)}, but f[{i}] is {describe(out)}: they "
                                 f"must have the same number of dimensions (at {user_line()})")
        if point.dtype not in FLOAT_DTYPES:
            point = cast(point, out.dtype if out.dtype in FLOAT_DTYPES else "float64")
        known[out] = point
    results = grad(None, _as_list(wrt), consider_constant=consider_constant, disconnected_inputs=disconnected_inputs,
                   known_grads=known)
    return _format_as(wrt, results)


def Rop(f: Any, wrt: Any, eval_points: Any, disconnected_outputs: str = "raise",  # noqa: N802
        return_disconnected: str = "zero") -> Any:
    """The Jacobian-vector product ``J·v``: for each ``f[i]``, ``sum_j d f[i] / d wrt[j] · eval_points[j]``.

    ``wrt`` and ``eval_points`` are a variable each or lists of the same
    length; each eval point has its ``wrt``'s shape.  The result is a list when
    ``f`` is a list (a tuple for a tuple), as in Theano.  An ``f[i]`` that does
    not depend on ``wrt`` is an error, or zeros (``disconnected_outputs=
    'ignore'`` or ``'warn'``; ``None`` with ``return_disconnected='none'``).

    It is built from two reverse passes of ``grad`` (no op needs an ``R_op``):
    ``J·v = d/du [(uᵀJ)·v]`` for a dummy ``u`` shaped like ``f``, which the
    result does not depend on; where the graph still names ``u`` (its shape,
    say), ``u`` is replaced by zeros shaped like ``f``.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> W, v, x = T.dmatrix("W"), T.dmatrix("v"), T.dvector("x")
        >>> Jv = Rop(T.dot(x, W), W, v)        # d(x·W)/dW applied to v: x·v
        >>> symrnn.function([W, v, x], Jv, on_unused_input="ignore")([[1, 1], [1, 1]], [[0, 1], [1, 0]], [2, 3])
        array([3., 2.])
    """
    if disconnected_outputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"Rop: disconnected_outputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_outputs!r}")
    outputs = [as_tensor_variable(out) for out in _as_list(f)]
    wrt_list, points = _as_list(wrt), [as_tensor_variable(p) for p in _as_list(eval_points)]
    if len(wrt_list) != len(points):
        raise ValueError(f"Rop: {len(wrt_list)} variable(s) in wrt but {len(points)} eval point(s); give one eval "
                         f"point per variable (at {user_line()})")
    for j, (var, point) in enumerate(zip(wrt_list, points)):
        if not isinstance(var, Variable):
            raise TypeError(f"Rop: wrt[{j}] is {var!r}, not a symbolic variable (at {user_line()})")
        if point.ndim != var.ndim:
            raise GraphNdimError(f"Rop: eval point {j} is {describe(point)}, but wrt[{j}] is {describe(var)}: "
                                 f"they must have the same number of dimensions (at {user_line()})")
        if point.dtype != var.dtype and var.dtype in FLOAT_DTYPES:
            points[j] = cast(point, var.dtype)
    floats = [i for i, out in enumerate(outputs) if out.dtype in FLOAT_DTYPES]
    dummies = {i: TensorType(outputs[i].dtype, outputs[i].type.shape)(f"u{i}") for i in floats}
    # uᵀJ, one term per wrt; then (uᵀJ)·v, a scalar that is linear in u, whose gradient in u is J·v.
    vjps = grad(None, wrt_list, known_grads={outputs[i]: u for i, u in dummies.items()},
                disconnected_inputs="ignore", return_disconnected="none") if dummies else []
    terms = [reduce_sum(mul(g, point)) for g, point, var in zip(vjps, points, wrt_list)
             if g is not None and var.dtype in FLOAT_DTYPES]
    jvps: dict[int, Any] = {}
    if terms:
        total = terms[0]
        for term in terms[1:]:
            total = add(total, term)
        found = grad(total, [dummies[i] for i in floats], disconnected_inputs="ignore", return_disconnected="none")
        jvps = {i: g for i, g in zip(floats, found) if g is not None}
    leftover = {u: zeros_like(outputs[i]) for i, u in dummies.items()}
    results: list[Any] = []
    for i, out in enumerate(outputs):
        if i not in jvps:
            message = (f"Rop: f[{i}] ({describe(out)}) does not depend on wrt (or only through ops that pass no "
                       f"gradient); pass disconnected_outputs='ignore' to get zeros (at {user_line()})")
            report_disconnected(message, disconnected_outputs)
            results.append(None if return_disconnected.lower() == "none" else zeros_like(out))
            continue
        jvp = jvps[i]
        if any(id(u) in ancestors([jvp]) for u in dummies.values()):
            [jvp] = clone_replace([jvp], leftover)
        results.append(jvp)
    return _format_as(f, results)


def grad_undefined(op: Any, x_pos: int, x: Any, comment: str = "") -> NullGradient:
    """What an op's ``grad`` returns for input ``x_pos`` (the variable ``x``) where the gradient is
    mathematically undefined (Theano's signature); ``grad`` raises ``NullTypeGradError`` only if a requested
    gradient needs it.

    Example::

        >>> import symrnn.tensor as T
        >>> grad_undefined("argmax", 0, T.dvector("x"), "argmax is piecewise constant").message()
        'the gradient of argmax with respect to its input 0 is undefined: argmax is piecewise constant'
    """
    return _null_gradient(op, x_pos, comment or f"input {x_pos} ({_label(x)}) has no defined gradient")


def grad_not_implemented(op: Any, x_pos: int, x: Any, comment: str = "") -> NullGradient:
    """What an op's ``grad`` returns for input ``x_pos`` (the variable ``x``) where the gradient exists but is
    not written (Theano's signature); ``grad`` raises :class:`GradNotImplementedError` (a ``NotImplementedError``
    and a ``NullTypeGradError``) only if a requested gradient needs it.

    Example::

        >>> import symrnn.tensor as T
        >>> grad_not_implemented("my_op", 1, T.dvector("y")).message()
        "the gradient of my_op with respect to its input 1 is not implemented: input 1 ('y') has no gradient yet"
    """
    return GradNotImplemented(op, x_pos, comment or f"input {x_pos} ({_label(x)}) has no gradient yet")


def _label(x: Any) -> str:
    name = getattr(x, "name", None)
    return repr(name) if name else str(getattr(x, "type", x))


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


__all__ = ["grad", "Lop", "Rop", "jacobian", "hessian", "verify_grad", "zero_grad", "disconnected_grad",
           "consider_constant", "undefined_grad", "grad_clip", "grad_scale", "grad_undefined", "grad_not_implemented",
           "GradientError", "DisconnectedInputError", "NullGradientError", "NullTypeGradError",
           "GradNotImplementedError"]
