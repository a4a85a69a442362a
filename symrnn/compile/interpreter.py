"""The reference interpreter: run a graph node by node with each op's NumPy ``perform``.

It is slow and obviously correct.  It also checks every op's contract: each
output must have the dtype, ndim and static shape that ``make_node`` promised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symrnn.graph import Apply, Constant, Variable, describe, toposort


class OpContractError(AssertionError):
    """An op's ``perform`` returned something other than what its ``make_node`` promised (a bug in the op)."""


def evaluate(outputs: Sequence[Variable], env: dict[int, np.ndarray],
             nodes: Sequence[Apply] | None = None) -> list[np.ndarray]:
    """Evaluate ``outputs`` given ``env`` (variable id -> value for every graph input).

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
        results = node.op.perform(node, args)
        if len(results) != len(node.outputs):
            raise OpContractError(f"{node.op}.perform returned {len(results)} outputs, expected {len(node.outputs)}")
        for var, value in zip(node.outputs, results):
            value = np.asarray(value)
            if value.dtype.name != var.dtype or not var.type.accepts_shape(value.shape):
                raise OpContractError(f"{node.op}.perform returned {value.dtype}{value.shape}, but its node "
                                      f"promised {var.type!r} (built at {node.trace})")
            env[id(var)] = value
    return [np.asarray(env[id(v)]) if id(v) in env else np.asarray(v.data) for v in outputs]
