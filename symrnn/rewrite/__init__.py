"""Graph rewrites, each a short named function, and the pipeline that ``function()`` runs in FAST_RUN mode."""

from __future__ import annotations

from collections.abc import Sequence

from symrnn.graph import Apply, Variable, compiler_scope, toposort
from symrnn.rewrite.augmented import merge_augmented_scans
from symrnn.rewrite.canonical import CANONICALIZE, STABILIZE
from symrnn.rewrite.engine import apply_local_rewrites, merge
from symrnn.rewrite.fusion import fuse_elementwise, sum_in_blocks
from symrnn.rewrite.gemm import merge_sibling_dots, merge_summed_dots
from symrnn.rewrite.loops import LOOP_REWRITES, prune_loop_outputs, sink_elementwise_sequences
from symrnn.rewrite.slices import group_invariant_terms, merge_sibling_slices
from symrnn.scan.op import Scan


def optimize_scan_body(node: Apply) -> Sequence[Variable] | None:
    """Run the pipeline on a loop's inner graph too (once per Scan op)."""
    op = node.op
    if not isinstance(op, Scan) or getattr(op, "optimized", False):
        return None
    new_op = getattr(op, "optimized_as", None)  # the same loop reached again, on other inputs: done once
    if new_op is None:
        slices = op.inner_slices()
        inner = optimize(op.inner_outputs, roots=op.inner_inputs[slices["nonseqs"]],
                         sequences=op.inner_inputs[slices["seqs"]])
        if all(a is b for a, b in zip(inner, op.inner_outputs)):
            op.optimized = True
            return None
        new_op = op.optimized_as = Scan(op.info, op.inner_inputs, inner)
        new_op.optimized = True
    new_node = new_op.make_node(*node.inputs)
    new_node.take_origin(node)
    return new_node.outputs


def inherit_scopes(outputs: Sequence[Variable]) -> list[Variable]:
    """Give each node a rewrite built (``scope is None``) the scope that its consumers share, or failing
    that its inputs': a merged gate product feeding ``lstm/input_gate`` ... ``lstm/output_gate`` is ``lstm``.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.graph import compiler_scope, name_scope
        >>> x = T.vector("x")
        >>> with compiler_scope():
        ...     made = T.exp(x)
        >>> with name_scope("cell/gate"):
        ...     y = T.tanh(made)
        >>> _ = inherit_scopes([y]); made.owner.scope
        'cell/gate'
    """
    _inherit(outputs, "", set())
    return list(outputs)


def _inherit(outputs: Sequence[Variable], default: str, seen: set[int]) -> None:
    nodes = toposort(outputs)
    consumers: dict[int, list[Apply]] = {}
    for node in nodes:
        for var in node.inputs:
            if var.owner is not None:
                consumers.setdefault(id(var.owner), []).append(node)
    # Scoped neighbours speak, consumers first (an unscoped consumer is the user's own code), then inputs.
    for node in reversed(nodes):
        around = [c.scope for c in consumers.get(id(node), []) if c.scope]
        if node.scope is None and around:
            node.scope = _common_scope(around)
    for node in nodes:
        if node.scope is None:
            around = [v.owner.scope for v in node.inputs if v.owner is not None and v.owner.scope]
            node.scope = _common_scope(around) if around else default
        if isinstance(node.op, Scan) and id(node.op) not in seen:  # a loop's body: its nodes default to the loop's
            seen.add(id(node.op))
            _inherit(node.op.inner_outputs, node.scope, seen)


def _common_scope(scopes: Sequence[str]) -> str:
    if not scopes:
        return ""
    parts = [s.split("/") for s in scopes]
    common = []
    for level in zip(*parts):
        if any(p != level[0] for p in level):
            break
        common.append(level[0])
    return "/".join(common)


def optimize(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None,
             sequences: Sequence[Variable] = ()) -> list[Variable]:
    """The FAST_RUN pipeline: merge, one forward loop per scan, gate-GEMM merges, horizontal merges of
    elementwise work on their slices, stabilize, canonicalize, loop rewrites, merge again, and elementwise
    fusion.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> [y] = optimize([T.log(1 / (1 + T.exp(-x))) * 1])  # stable, and fused into one op
        >>> str(y.owner.op)
        'fused{neg,softplus,neg}'
    """
    with compiler_scope():
        outputs = _pipeline(outputs, roots, sequences)
    return inherit_scopes(outputs)


def _pipeline(outputs: Sequence[Variable], roots: Sequence[Variable] | None,
              sequences: Sequence[Variable]) -> list[Variable]:
    outputs = merge(outputs)
    outputs = merge_augmented_scans(outputs)
    outputs = prune_loop_outputs(outputs)
    outputs = merge_sibling_dots(outputs, roots)
    outputs = group_invariant_terms(outputs, roots)
    outputs = merge_sibling_slices(outputs, roots)
    outputs = apply_local_rewrites(outputs, [*STABILIZE, *CANONICALIZE, optimize_scan_body, *LOOP_REWRITES])
    outputs = prune_loop_outputs(outputs)
    outputs = sink_elementwise_sequences(outputs)
    outputs = merge_sibling_dots(outputs, roots)  # the input projections, now outside the loops
    outputs = merge_summed_dots(outputs, roots, sequences)
    outputs = merge(outputs)
    if roots is None:  # last, and once: it fuses loop bodies itself, after the loop rewrites have seen them
        outputs = fuse_elementwise(outputs)
        outputs = sum_in_blocks(outputs)
    return outputs


__all__ = ["optimize", "merge", "apply_local_rewrites", "inherit_scopes"]
