"""The reference interpreter: run a graph node by node with each op's NumPy ``perform``.

It is slow and obviously correct.  It sits just above the IR, below every op
family, because a loop's ``perform`` runs its inner graph with it; ``function``
uses it for ``mode="reference"``.  It also checks every op's contract: each
output must have the dtype, ndim and static shape that ``make_node`` promised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symrnn.graph import Apply, Constant, Variable, describe, toposort


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
            if getattr(exc, "_symrnn_annotated", False):
                raise
            raise annotate(exc, node) from None
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


def annotate(exc: Exception, node: Apply) -> Exception:
    """The same kind of exception, with a message naming the node and the user's line that built it."""
    message = (f"{exc}\n  while computing {node.op} with inputs "
               f"{', '.join(describe(v) for v in node.inputs)}\n  the node was built at {node.trace}")
    try:
        new = type(exc)(message)
    except Exception:
        return exc
    new._symrnn_annotated = True  # type: ignore[attr-defined]
    return new.with_traceback(exc.__traceback__)
