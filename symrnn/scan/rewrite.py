"""Scan rewrites needed for correctness of cost: one forward loop even when the gradient saves values."""

from __future__ import annotations

from symrnn.graph import Apply, Variable, clone_replace, toposort
from symrnn.rewrite.engine import merge
from symrnn.scan.op import Scan


def _corresponding(original: Apply, augmented: Apply) -> list[tuple[Variable, Variable]]:
    """Each output of ``original`` and what replaces it from ``augmented`` (whose buffers are all whole)."""
    info = original.op.info
    pairs = []
    for j, (old, new) in enumerate(zip(original.outputs, augmented.outputs)):
        if j < info.n_states and info.is_last_only(j):
            new = new[-info.n_init(j):]  # the last rows are what the ring kept
        pairs.append((old, new))
    return pairs


def merge_augmented_scans(outputs: list[Variable]) -> list[Variable]:
    """Use the gradient's forward scan (which also saves per-step values) for the plain forward outputs too.

    ``grad`` replaces a scan by a copy with extra outputs; without this rewrite a
    training function would run the forward loop twice.  Nodes of the same Scan
    op on the same inputs (two ``grad`` calls on one scan) are merged first.
    """
    while True:
        nodes = toposort(outputs)
        replace = {}
        first: dict[tuple[int, ...], Apply] = {}
        for node in nodes:
            if isinstance(node.op, Scan):
                twin = first.setdefault((id(node.op), *map(id, node.inputs)), node)
                if twin is not node:
                    replace.update(zip(node.outputs, twin.outputs))
        if not replace:
            by_op: dict[int, list[Apply]] = {}
            for node in first.values():
                by_op.setdefault(id(node.op), []).append(node)
            for node in first.values():
                base = node.op.base
                for original in by_op.get(id(base), []) if base is not None else []:
                    if all(a is b for a, b in zip(original.inputs, node.inputs)):
                        replace.update(_corresponding(original, node))
        if not replace:
            return outputs
        # merge (CSE) so that a deeper layer's two loops, now fed by the same upstream loop through equal
        # slicing, see identical inputs in the next round
        outputs = merge(clone_replace(outputs, replace))
