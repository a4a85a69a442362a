"""Optimizers that return Theano ``updates`` lists, and gradient clipping by global norm.

Each optimizer takes either a scalar cost (it then calls :func:`symrnn.grad`)
or a list of gradients, one per parameter, as Lasagne's do, and returns a list
of ``(shared_variable, new_value)`` pairs for ``symrnn.function(...,
updates=...)``.  ``params`` is a list of shared variables, a dict (its
``.values()``), or an object with a ``.params`` dict (a cell or a layer).

Optimizer state lives in new shared variables of each parameter's dtype and
shape, named after the parameter (``"W.momentum"``, ``"W.adam_m"``, ...).
Hyperparameters are cast to each parameter's dtype, so float32 parameters get
float32 updates; a hyperparameter may also be a symbolic scalar (for example a
shared learning rate that a schedule changes between calls).

The update rules follow TensorFlow 1's optimizers (``MomentumOptimizer``,
``RMSPropOptimizer``) and Kingma & Ba's Adam, so that numbers from the
tutorials that used them carry over.

Example::

    >>> import numpy as np, symrnn, symrnn.tensor as T
    >>> w = symrnn.shared(np.array([3.0]), name="w")
    >>> loss = T.sum(w ** 2)
    >>> step = symrnn.function([], loss, updates=sgd(loss, [w], learning_rate=0.25))
    >>> for _ in range(3):
    ...     _ = step()
    >>> w.get_value()       # each step halves w: w -= 0.25 * 2w
    array([0.375])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from symrnn.gradient import grad
from symrnn.graph import (
    FLOAT_DTYPES,
    GraphShapeError,
    GraphTypeError,
    SharedVariable,
    Variable,
    describe,
    name_scope,
    user_line,
)
from symrnn.ops.elemwise import cast, isnan, maximum, sqr, sqrt, switch
from symrnn.ops.reduce import sum as reduce_sum
from symrnn.tensor.basic import as_tensor_variable, constant, shared

Updates = list[tuple[SharedVariable, Variable]]


# --------------------------------------------------------------------------- helpers


def as_param_list(params: Any, fn: str = "optimizer") -> list[SharedVariable]:
    """The shared variables in ``params``: a list/tuple, a dict (its values) or an object with ``.params``.

    Example::

        >>> import numpy as np, symrnn
        >>> a, b = symrnn.shared(np.zeros(2), name="a"), symrnn.shared(np.zeros(3), name="b")
        >>> [p.name for p in as_param_list({"first": a, "second": b})]
        ['a', 'b']
    """
    if hasattr(params, "params") and not isinstance(params, (Mapping, list, tuple, Variable)):
        params = params.params
    if isinstance(params, Mapping):
        params = list(params.values())
    elif isinstance(params, Variable):
        raise TypeError(f"{fn}: params must be a list or a dict of shared variables, got the single variable "
                        f"{params!r}; wrap it in a list (at {user_line()})")
    params = list(params)
    seen: set[int] = set()
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise TypeError(f"{fn}: params[{i}] is {p!r}, not a shared variable; optimizers update shared "
                            f"variables made with symrnn.shared(...) (at {user_line()})")
        if p.dtype not in FLOAT_DTYPES:
            raise GraphTypeError(f"{fn}: parameter {describe(p)} is not a float tensor and cannot be trained "
                                 f"(at {user_line()})")
        if id(p) in seen:
            raise ValueError(f"{fn}: parameter {p.name or p!r} is listed twice (at {user_line()})")
        seen.add(id(p))
    return params


def get_or_compute_grads(loss_or_grads: Any, params: Sequence[SharedVariable], fn: str = "optimizer") -> list[Any]:
    """``symrnn.grad(loss, params)`` for a scalar cost; a list of gradients is checked and passed through.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> w = symrnn.shared(np.ones(2), name="w")
        >>> [g] = get_or_compute_grads(T.sum(3 * w), [w])
        >>> symrnn.function([], g)()
        array([3., 3.])
    """
    if isinstance(loss_or_grads, (list, tuple)):
        grads = list(loss_or_grads)
        if len(grads) != len(params):
            raise ValueError(f"{fn}: got {len(grads)} gradient(s) for {len(params)} parameter(s) "
                             f"(at {user_line()})")
        out = []
        for p, g in zip(params, grads):
            g = as_tensor_variable(g)
            if g.ndim != p.ndim:
                raise GraphTypeError(f"{fn}: the gradient {describe(g)} for parameter {describe(p)} has "
                                     f"{g.ndim} dimension(s), the parameter {p.ndim} (at {user_line()})")
            out.append(g)
        return out
    loss = as_tensor_variable(loss_or_grads)
    if loss.ndim != 0:
        raise GraphTypeError(f"{fn}: the loss must be a scalar (or pass a list of gradients), got {describe(loss)}; "
                             f"reduce it first, e.g. loss.mean() (at {user_line()})")
    return grad(loss, list(params))


def _hyper(value: Any, dtype: str, what: str, fn: str) -> Variable:
    """A hyperparameter as a scalar of ``dtype``: numbers become constants, symbolic scalars are cast."""
    if isinstance(value, Variable):
        if value.ndim != 0:
            raise GraphTypeError(f"{fn}: {what} must be a scalar, got {describe(value)} (at {user_line()})")
        return cast(value, dtype)
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {what} must be a number or a symbolic scalar, got {value!r} "
                        f"(at {user_line()})") from None
    if arr.ndim != 0:
        raise TypeError(f"{fn}: {what} must be a scalar, got {value!r} (at {user_line()})")
    return constant(arr)


def _state(param: SharedVariable, suffix: str, fill: float = 0.0) -> SharedVariable:
    """A new accumulator shaped like ``param`` (its current value), of its dtype, named after it."""
    value = np.full(param.get_value(borrow=True).shape, fill, dtype=param.dtype)
    return shared(value, name=f"{param.name or 'param'}.{suffix}", shape=param.type.shape)


def _cast_grad(g: Any, p: SharedVariable) -> Variable:
    g = as_tensor_variable(g)
    return g if g.dtype == p.dtype else cast(g, p.dtype)


def _prepare(loss_or_grads: Any, params: Any, fn: str) -> list[tuple[SharedVariable, Variable]]:
    plist = as_param_list(params, fn)
    grads = get_or_compute_grads(loss_or_grads, plist, fn)
    return [(p, _cast_grad(g, p)) for p, g in zip(plist, grads)]


# --------------------------------------------------------------------------- optimizers


def sgd(loss_or_grads: Any, params: Any, learning_rate: Any) -> Updates:
    """Stochastic gradient descent: ``p -= learning_rate * g``.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> w = symrnn.shared(np.array([1.0, -2.0]), name="w")
        >>> step = symrnn.function([], updates=sgd(T.sum(w), [w], 0.1))
        >>> _ = step(); w.get_value()
        array([ 0.9, -2.1])
    """
    updates: Updates = []
    pairs = _prepare(loss_or_grads, params, "sgd")
    with name_scope("sgd"):  # the optimizer's own nodes (its gradients keep their scopes)
        for p, g in pairs:
            lr = _hyper(learning_rate, p.dtype, "learning_rate", "sgd")
            updates.append((p, p - lr * g))
    return updates


def momentum(loss_or_grads: Any, params: Any, learning_rate: Any, momentum: Any = 0.9,
             nesterov: bool = False) -> Updates:
    """Momentum, as TensorFlow 1's ``MomentumOptimizer``: ``a = momentum * a + g; p -= learning_rate * a``.

    With ``nesterov=True``: ``p -= learning_rate * (g + momentum * a)`` (with the new ``a``).
    The accumulator ``a`` starts at zero and is named ``"<param>.momentum"``.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> w = symrnn.shared(np.array([0.0]), name="w")
        >>> step = symrnn.function([], updates=momentum(T.sum(w), [w], 1.0, momentum=0.5))
        >>> for _ in range(3):
        ...     _ = step()
        >>> w.get_value()      # steps of 1, 1.5 and 1.75
        array([-4.25])
    """
    updates: Updates = []
    pairs = _prepare(loss_or_grads, params, "momentum")
    with name_scope("momentum"):  # the optimizer's own nodes (its gradients keep their scopes)
        for p, g in pairs:
            lr = _hyper(learning_rate, p.dtype, "learning_rate", "momentum")
            mu = _hyper(momentum, p.dtype, "momentum", "momentum")
            accum = _state(p, "momentum")
            new_accum = mu * accum + g
            step = g + mu * new_accum if nesterov else new_accum
            updates.append((accum, new_accum))
            updates.append((p, p - lr * step))
    return updates


def rmsprop(loss_or_grads: Any, params: Any, learning_rate: Any = 0.001, decay: Any = 0.9, momentum: Any = 0.0,
            epsilon: Any = 1e-10) -> Updates:
    """RMSProp, as TensorFlow 1's ``RMSPropOptimizer`` (not centered)::

        ms  = decay * ms + (1 - decay) * g ** 2
        mom = momentum * mom + learning_rate * g / sqrt(ms + epsilon)
        p  -= mom

    As in TensorFlow 1, the mean square ``ms`` (``"<param>.rms"``) starts at
    **one**, not zero, so the first steps are about ``learning_rate * g`` instead
    of a jump of ``learning_rate / sqrt(1 - decay)``.  With ``momentum=0`` (a
    number) there is no ``mom`` accumulator and ``p -= learning_rate * g /
    sqrt(ms + epsilon)``, which is the same rule.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> w = symrnn.shared(np.array([1.0]), name="w")
        >>> step = symrnn.function([], updates=rmsprop(T.sum(3 * w), [w], learning_rate=0.1))
        >>> _ = step(); w.get_value().round(6)      # ms = 0.9 + 0.1 * 9 = 1.8
        array([0.776393])
    """
    use_momentum = isinstance(momentum, Variable) or momentum != 0
    updates: Updates = []
    pairs = _prepare(loss_or_grads, params, "rmsprop")
    with name_scope("rmsprop"):  # the optimizer's own nodes (its gradients keep their scopes)
        for p, g in pairs:
            lr = _hyper(learning_rate, p.dtype, "learning_rate", "rmsprop")
            rho = _hyper(decay, p.dtype, "decay", "rmsprop")
            eps = _hyper(epsilon, p.dtype, "epsilon", "rmsprop")
            ms = _state(p, "rms", fill=1.0)
            new_ms = rho * ms + (1 - rho) * sqr(g)
            step = lr * g / sqrt(new_ms + eps)
            updates.append((ms, new_ms))
            if use_momentum:
                mu = _hyper(momentum, p.dtype, "momentum", "rmsprop")
                mom = _state(p, "rms_momentum")
                step = mu * mom + step
                updates.append((mom, step))
            updates.append((p, p - step))
    return updates


def adam(loss_or_grads: Any, params: Any, learning_rate: Any = 0.001, beta1: Any = 0.9, beta2: Any = 0.999,
         epsilon: Any = 1e-8) -> Updates:
    """Adam (Kingma & Ba 2015, Algorithm 1), with bias correction::

        t  += 1
        m   = beta1 * m + (1 - beta1) * g
        v   = beta2 * v + (1 - beta2) * g ** 2
        p  -= learning_rate * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + epsilon)

    This is also PyTorch's ``torch.optim.Adam``.  (TensorFlow 1 puts ``epsilon``
    outside the bias correction, which differs only while ``sqrt(v)`` is near
    ``epsilon``.)  ``m`` and ``v`` start at zero (``"<param>.adam_m"``,
    ``"<param>.adam_v"``); one int64 step counter ``"adam.t"`` is shared by all
    parameters and is the last update in the list.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> w = symrnn.shared(np.array([1.0, -1.0]), name="w")
        >>> step = symrnn.function([], updates=adam(T.sum(5 * w), [w], learning_rate=0.1))
        >>> _ = step(); w.get_value()        # the first step is learning_rate * sign(g)
        array([ 0.9, -1.1])
    """
    pairs = _prepare(loss_or_grads, params, "adam")
    with name_scope("adam"):  # the optimizer's own nodes (its gradients keep their scopes)
        t_prev = shared(np.int64(0), name="adam.t")
        t = t_prev + 1
        updates: Updates = []
        for p, g in pairs:
            lr = _hyper(learning_rate, p.dtype, "learning_rate", "adam")
            b1 = _hyper(beta1, p.dtype, "beta1", "adam")
            b2 = _hyper(beta2, p.dtype, "beta2", "adam")
            eps = _hyper(epsilon, p.dtype, "epsilon", "adam")
            tf = cast(t, p.dtype)
            m, v = _state(p, "adam_m"), _state(p, "adam_v")
            new_m = b1 * m + (1 - b1) * g
            new_v = b2 * v + (1 - b2) * sqr(g)
            m_hat = new_m / (1 - b1 ** tf)
            v_hat = new_v / (1 - b2 ** tf)
            updates += [(m, new_m), (v, new_v), (p, p - lr * m_hat / (sqrt(v_hat) + eps))]
        updates.append((t_prev, t))
    return updates


# --------------------------------------------------------------------------- clipping


def clip_by_global_norm(grads: Sequence[Any], max_norm: Any) -> tuple[list[Any], Variable]:
    """Scale ``grads`` together so that their joint L2 norm is at most ``max_norm`` (``tf.clip_by_global_norm``).

    Returns ``(clipped_grads, global_norm)`` where ``global_norm = sqrt(sum of
    every squared entry)`` is the norm before clipping; each gradient is
    multiplied by ``max_norm / max(global_norm, max_norm)``, so gradients
    already within the limit are unchanged.  ``None`` entries pass through.  As
    in TensorFlow, a non-finite norm makes every clipped gradient NaN.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> a, b = T.dvector("a"), T.dvector("b")
        >>> (ca, cb), norm = clip_by_global_norm([a, b], 1.0)
        >>> symrnn.function([a, b], [ca, cb, norm])([3.0], [4.0])
        [array([0.6]), array([0.8]), array(5.)]
    """
    if isinstance(grads, Variable):
        raise TypeError(f"clip_by_global_norm: grads must be a list of gradients, got the single variable "
                        f"{grads!r}; wrap it in a list (at {user_line()})")
    grads = list(grads)
    present = [as_tensor_variable(g) for g in grads if g is not None]
    if not present:
        raise ValueError(f"clip_by_global_norm: no gradients given (at {user_line()})")
    for g in present:
        if g.dtype not in FLOAT_DTYPES:
            raise GraphTypeError(f"clip_by_global_norm: gradient {describe(g)} is not a float tensor "
                                 f"(at {user_line()})")
    squares = [reduce_sum(sqr(g)) for g in present]
    total = squares[0]
    for s in squares[1:]:
        total = total + s
    norm = sqrt(total)
    if isinstance(max_norm, Variable):
        if max_norm.ndim != 0:
            raise GraphShapeError(f"clip_by_global_norm: max_norm must be a scalar, got {describe(max_norm)} "
                                  f"(at {user_line()})")
        limit = cast(max_norm, norm.dtype)
    else:
        if not np.isscalar(max_norm) or not max_norm > 0:
            raise ValueError(f"clip_by_global_norm: max_norm must be a positive number, got {max_norm!r} "
                             f"(at {user_line()})")
        limit = constant(np.asarray(max_norm, dtype=norm.dtype))
    use_norm = switch(isnan(norm - norm), constant(np.asarray(np.nan, dtype=norm.dtype)), norm)  # inf or nan
    scale = limit / maximum(use_norm, limit)
    clipped = []
    for g in grads:
        if g is None:
            clipped.append(None)
            continue
        g = as_tensor_variable(g)
        clipped.append(g * cast(scale, g.dtype))
    return clipped, norm


__all__ = ["sgd", "momentum", "rmsprop", "adam", "clip_by_global_norm", "as_param_list", "get_or_compute_grads"]
