"""Scan rewrites needed for correctness of cost: one forward loop even when the gradient saves values."""

from __future__ import annotations

from symrnn.graph import Variable, clone_replace, toposort
from symrnn.scan.op import Scan


def merge_augmented_scans(outputs: list[Variable]) -> list[Variable]:
    """Use the gradient's forward scan (which also saves per-step values) for the plain forward outputs too.

    ``grad`` replaces a scan by a copy with extra outputs; without this rewrite a
    training function would run the forward loop twice.
    """
    while True:
        nodes = toposort(outputs)
        by_op = {}
        for node in nodes:
            if isinstance(node.op, Scan):
                by_op.setdefault(id(node.op), []).append(node)
        replace = {}
        for node in nodes:
            base = node.op.base if isinstance(node.op, Scan) else None
            if base is None:
                continue
            for original in by_op.get(id(base), []):
                if all(a is b for a, b in zip(original.inputs, node.inputs)):
                    for old, new in zip(original.outputs, node.outputs):
                        replace[old] = new
        if not replace:
            return outputs
        outputs = clone_replace(outputs, replace)
