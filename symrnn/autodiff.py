"""Reverse-mode differentiation over graphs: the ``grad`` engine.

``grad`` walks the graph once, iteratively, from the cost back to the requested
variables, asking each op for its symbolic gradient.  The result is more graph,
which ``function`` compiles like any other.

This layer sits above the ops (it asks them for gradients and adds them up) and
below ``scan`` (a loop's gradient differentiates its body with ``grad``).
Theano's ``theano.gradient`` module, with ``jacobian``, ``hessian`` and
``verify_grad``, which need loops and compiled functions, is
:mod:`symrnn.gradient`, higher up.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from typing import Any

from symrnn.config import config
from symrnn.graph import (
    COMPLEX_DTYPES,
    FLOAT_DTYPES,
    GraphTypeError,
    NullGradient,
    Variable,
    ancestors,
    as_tensor_variable,
    describe,
    name_scope,
    toposort,
    user_line,
)
from symrnn.ops.elemwise import add, cast
from symrnn.ops.reduce import sum_to
from symrnn.ops.shape import ones_like, zeros_like


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a variable that the cost does not depend on."""


class NullGradientError(GraphTypeError):
    """A requested gradient passes through an op whose gradient is undefined (Theano's ``NullTypeGradError``,
    also a ``TypeError``)."""


class GradNotImplementedError(NullGradientError, NotImplementedError):
    """A requested gradient passes through an op whose gradient nobody has written yet."""


class GradNotImplemented(NullGradient):
    """The marker for a gradient that exists but is not implemented (Theano's ``grad_not_implemented``);
    ``grad`` raises :class:`GradNotImplementedError` if it reaches a requested variable."""

    def message(self) -> str:
        return f"the gradient of {self.op} with respect to its input {self.index} is not implemented: {self.reason}"


def _total(contributions: list[Any]) -> Any:
    nulls = [c for c in contributions if isinstance(c, NullGradient)]
    if nulls:
        return nulls[0]
    total = contributions[0]
    for c in contributions[1:]:
        total = add(total, c)
    return total


def grad(cost: Variable | None, wrt: Variable | Sequence[Variable], consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", known_grads: dict[Variable, Any] | None = None,
         return_disconnected: str = "zero", add_names: bool = True) -> Any:
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list).

    - ``consider_constant``: variables through which no gradient flows to
      what they are computed from.  A requested variable may be one of them:
      its gradient is then computed as for a graph input, as in Theano.
    - ``disconnected_inputs``: what to do when ``cost`` does not depend on a
      requested variable: ``"raise"`` (default), ``"warn"`` or ``"ignore"``;
      the gradient is then zeros (or ``None`` with ``return_disconnected="none"``).
    - ``known_grads``: ``{variable: gradient}`` to start from, with or without a cost.
    - ``add_names``: name each result ``(dcost/dx)`` when the cost and ``x``
      have names (Theano's convention).  Names never reach generated code
      except through safe comments.

    Gradients of integer variables are zeros, as in Theano.  A path through an
    op whose gradient is undefined is an error that names the op.  An op whose
    ``disconnects_gradient`` is true (``disconnected_grad``) cuts the path: a
    variable reached only through it is disconnected.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> gx = symrnn.grad(x ** 2, x)
        >>> symrnn.function([x], gx)(4)
        array(8.)
    """
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

    # Only nodes on a path from some wrt to the roots need a gradient.
    relevant = {id(v) for v in wrt_list}
    for node in nodes:
        if any(id(v) in relevant for v in node.inputs):
            relevant.update(id(v) for v in node.outputs)
    connected = ancestors_stopping(roots, stop)
    reached = {id(v) for node in nodes for v in node.inputs} | {id(v) for v in roots}

    given = {id(g) for gs in seeds.values() for g in gs}  # the user's gradients: never renamed
    contributions = seeds
    for node in reversed(nodes):
        if not any(id(v) in contributions for v in node.outputs):
            continue
        if not any(id(v) in relevant for v in node.inputs):
            continue
        if any(v.dtype in COMPLEX_DTYPES for v in node.outputs):
            continue  # symrnn does not differentiate through complex values (docs/theano.md)
        # An output that received no gradient gets None; ops with several outputs handle it (as zeros).
        out_grads = [_total(contributions[id(var)]) if id(var) in contributions else None for var in node.outputs]
        null = next((g for g in out_grads if isinstance(g, NullGradient)), None)
        if null is not None:
            input_grads: list[Any] = [null] * len(node.inputs)
        else:
            # The gradient's nodes are tagged after the node they differentiate: grad/lstm/forget_gate.
            with name_scope(f"grad/{node.scope}", absolute=True) if node.scope else contextlib.nullcontext():
                input_grads = list(node.op.grad(node, out_grads))
        if len(input_grads) != len(node.inputs):
            raise GraphTypeError(f"{node.op}.grad returned {len(input_grads)} gradients for "
                                 f"{len(node.inputs)} inputs")
        for var, g in zip(node.inputs, input_grads):
            if g is None or id(var) not in relevant:
                continue
            if isinstance(g, Variable):
                broadcast = node.op.grads_at_output_shape  # then g may have more (leading) dimensions
                if g.ndim < var.ndim or (g.ndim > var.ndim and not broadcast):
                    raise GraphTypeError(f"{node.op}.grad returned a gradient of {g.ndim} dimension(s) for its "
                                         f"{var.ndim}-d input {describe(var)} (a bug in the op)")
                if broadcast:
                    g = to_input_type(var, g)
            contributions.setdefault(id(var), []).append(g)

    results: list[Any] = []
    for var in wrt_list:
        if id(var) not in connected:
            why = (" (only through disconnected_grad)" if id(var) in reached else
                   " (only through consider_constant)" if stop and id(var) in ancestors(roots) else "")
            message = (f"grad: the cost does not depend on {describe(var)}{why}; pass "
                       f"disconnected_inputs='ignore' to get zeros (at {user_line()})")
            report_disconnected(message, disconnected_inputs)
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
            kind = GradNotImplementedError if isinstance(total, GradNotImplemented) else NullGradientError
            raise kind(f"grad: cannot differentiate with respect to {describe(var)}: "
                       f"{total.message()} (at {user_line()})")
        if total.dtype != var.dtype:
            total = cast(total, var.dtype)
        results.append(total)
    if add_names and cost is not None and cost.name:
        for var, result in zip(wrt_list, results):
            # Only a variable grad() made is renamed, never one of the user's (an input, a known gradient).
            if var.name and result is not None and result.owner is not None and id(result) not in given:
                result.name = f"(d{cost.name}/d{var.name})"
    return results[0] if single else results


def to_input_type(var: Variable, g: Variable) -> Variable:
    """The gradient ``g`` that an op gave at its (broadcast) output's shape and dtype, brought to its input
    ``var``'s type: summed over the broadcast axes (:func:`~symrnn.ops.reduce.sum_to`), then cast (see
    ``Op.grads_at_output_shape``).

    Example::

        >>> import symrnn.tensor as T
        >>> b, g = T.tensor("float32", (1, None), name="b"), T.dtensor3("g")
        >>> to_input_type(b, g).type
        float32(1, ?)
    """
    g = sum_to(g, var.type.shape)
    return g if g.dtype == var.dtype else cast(g, var.dtype)


def report_disconnected(message: str, policy: str) -> None:
    """What ``disconnected_inputs="raise" | "warn" | "ignore"`` asks for: a :class:`DisconnectedInputError`, a
    warning (pointing at the user's call), or nothing."""
    if policy == "raise":
        raise DisconnectedInputError(message)
    if policy == "warn":
        warnings.warn(message, stacklevel=3)  # the caller of grad() or Rop()


def ancestors_stopping(roots: Sequence[Variable], stop: Sequence[Variable]) -> set[int]:
    """Ids of the variables that ``roots`` depend on, not looking behind ``stop`` nor through an op whose
    ``disconnects_gradient`` is true: the variables that a gradient from ``roots`` can reach."""
    ids = {id(v) for v in roots}
    for node in reversed(toposort(roots, stop_at=stop)):
        if getattr(node.op, "disconnects_gradient", False) or not any(id(v) in ids for v in node.outputs):
            continue
        ids.update(id(v) for v in node.inputs)
    return ids


def _float_zeros_like(var: Variable) -> Variable:
    return zeros_like(var, dtype=var.dtype if var.dtype in FLOAT_DTYPES else config.floatX)


__all__ = ["grad", "DisconnectedInputError", "NullGradientError", "GradNotImplementedError", "GradNotImplemented",
           "to_input_type"]
