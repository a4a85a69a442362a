"""The reference interpreter: run a graph node by node with each op's NumPy ``perform``.

It is slow and obviously correct.  It sits just above the IR, below every op
family, because a loop's ``perform`` runs its inner graph with it; ``function``
uses it for ``mode="reference"``.  It also checks every op's contract: each
output must have the dtype, ndim and static shape that ``make_node`` promised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symrnn.graph import Apply, Constant, SharedVariable, Variable, describe, toposort


class OpContractError(AssertionError):
    """An op's ``perform`` returned something other than what its ``make_node`` promised (a bug in the op)."""


def evaluate(outputs: Sequence[Variable], env: dict[int, np.ndarray],
             nodes: Sequence[Apply] | None = None, check_inputs: bool = False) -> list[np.ndarray]:
    """Evaluate ``outputs`` given ``env`` (variable id -> value for every graph input).

    With ``check_inputs`` (DebugMode), each op's ``perform`` is also checked
    not to write into its inputs: an op may only return new arrays or views.

    Example::

        >>> import numpy as np, symrnn.tensor as T
        >>> x = T.vector("x")
        >>> y = T.exp(x)
        >>> evaluate([y], {id(x): np.zeros(2)})
        [array([1., 1.])]
    """
    env = dict(env)
    for node in toposort(outputs) if nodes is None else nodes:
        args = []
        for var in node.inputs:
            if id(var) not in env:
                if not isinstance(var, Constant):
                    raise ValueError(f"no value for {describe(var)}, needed by {node.op}")
                env[id(var)] = var.data
            args.append(env[id(var)])
        before = [np.array(a, copy=True) for a in args] if check_inputs else None
        try:
            results = node.op.perform(node, args)
        except OpContractError:
            raise
        except Exception as exc:
            if getattr(exc, "_symrnn_annotated", False):  # from a loop's (or a branch's) body: say which loop
                raise within(exc, node, args) from exc.__cause__
            raise annotate(exc, node, args) from exc
        for i, (arg, was) in enumerate(zip(args, before or ())):
            if not np.array_equal(arg, was, equal_nan=True):
                raise OpContractError(f"{node.op}.perform wrote into its input {i} ({describe(node.inputs[i])}), "
                                      f"which an op must never do (built at {node.trace})")
        if len(results) != len(node.outputs):
            raise OpContractError(f"{node.op}.perform returned {len(results)} outputs, expected {len(node.outputs)}")
        for var, value in zip(node.outputs, results):
            value = np.asarray(value)
            if value.dtype.name != var.dtype or not var.type.accepts_shape(value.shape):
                raise OpContractError(f"{node.op}.perform returned {value.dtype}{value.shape}, but its node "
                                      f"promised {var.type!r} (built at {node.trace})")
            env[id(var)] = value
    return [np.asarray(env[id(v)]) if id(v) in env else np.asarray(v.data) for v in outputs]


def annotate(exc: Exception, node: Apply, values: Sequence[object] | None = None) -> Exception:
    """The same kind of exception, with a message naming the node, its inputs (with their runtime shapes
    where ``values`` are known), what to check (an op's ``explain_failure``) and the user's line that
    built the node."""
    lines = [str(exc), f"  while computing {node.op} with inputs {_inputs(node.inputs, values)}"]
    explain = getattr(node.op, "explain_failure", None)
    hint = explain(node, values) if explain is not None and values is not None else None
    if hint:
        lines.append(f"  check: {hint}")
    lines.append(f"  the node was built at {node.trace}")
    return retyped(exc, "\n".join(lines))


def within(exc: Exception, node: Apply, values: Sequence[object]) -> Exception:
    """An error from the body of a loop (or a branch): the same error, also naming the loop's node and the
    runtime shapes of the user's variables it was given (the sequence ``x``, not only its step ``x[t]``)."""
    given = [f"{_label(v)} of shape {tuple(np.shape(value))}" for v, value in zip(node.inputs, values)
             if v.ndim and _label(v) and not isinstance(v, (Constant, SharedVariable))]  # (weights: where used)
    over = f", given {', '.join(given)}" if given else ""
    return retyped(exc, f"{exc}\n  inside {node.op}{over}, built at {node.trace}")


def _label(var: Variable) -> str:
    """``'x'``, or ``dimshuffle{1,0,2}('x')`` for an unnamed value made of named ones by one op, else ``""``."""
    if var.name:
        return repr(var.name)
    names = [repr(v.name) for v in var.owner.inputs if v.name] if var.owner is not None else []
    return f"{var.owner.op}({', '.join(names)})" if names else ""


def retyped(exc: Exception, message: str) -> Exception:
    """An exception of ``exc``'s type with ``message`` (``exc`` itself where that type cannot be made so)."""
    try:
        new = type(exc)(message)
    except Exception:
        return exc
    new._symrnn_annotated = True  # type: ignore[attr-defined]
    return new.with_traceback(exc.__traceback__)


def _inputs(variables: Sequence[Variable], values: Sequence[object] | None) -> str:
    """``'x': float64(?, ?, ?) of shape (5, 3, 7), 'W': float64(2, 4)``: types, and runtime shapes if known."""
    if values is None:
        return ", ".join(describe(v) for v in variables)
    return ", ".join(f"{describe(v)} of shape {tuple(np.shape(value))}" if v.ndim else describe(v)
                     for v, value in zip(variables, values))
