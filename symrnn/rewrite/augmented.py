"""One forward loop even when the gradient saves values: the gradient's augmented copy of a scan replaces the
plain scan (a rewrite that a training function needs, or it would run its forward loop twice)."""

from __future__ import annotations

from symrnn.graph import Apply, Variable, toposort
from symrnn.rewrite.engine import merge, rebuild
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

    ``grad`` replaces a scan by a copy with extra outputs, built on the same
    inputs; without this rewrite a training function would run the forward
    loop twice.  One bottom-up pass: where the plain loop stands, the copy is
    built on the plain loop's (already rewritten) inputs, so a stack of layers
    is merged at once, each layer's copy reading the layer below's copy.
    Nodes of the same Scan op on the same inputs (two ``grad`` calls on one
    scan) are merged first, by ``merge``.
    """
    outputs = merge(outputs)
    nodes = toposort(outputs)
    augmented: dict[int, list[Apply]] = {}  # id(plain op) -> nodes of its copies
    for node in nodes:
        if isinstance(node.op, Scan) and node.op.base is not None:
            augmented.setdefault(id(node.op.base), []).append(node)
    if not augmented:
        return outputs
    built: dict[int, Apply] = {}  # id(copy node as it was) -> the copy as rebuilt

    def on_node(current: Apply, original: Apply) -> list[Variable] | None:
        if not isinstance(current.op, Scan):
            return None
        if current.op.base is not None:
            made = built.setdefault(id(original), current)  # made already where its plain loop stood?
            return None if made is current else made.outputs
        for copy in augmented.get(id(original.op), []):
            if all(a is b for a, b in zip(copy.inputs, original.inputs)):
                if id(copy) not in built:
                    built[id(copy)] = copy.op.make_node(*current.inputs)
                    built[id(copy)].take_origin(copy)
                return [new for _, new in _corresponding(current, built[id(copy)])]
        return None

    return rebuild(outputs, on_node, with_original=True)
