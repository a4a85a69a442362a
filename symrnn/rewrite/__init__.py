"""Graph rewrites, each a short named function, and the pipeline that ``function()`` runs in FAST_RUN mode."""

from __future__ import annotations

from collections.abc import Sequence

from symrnn.graph import Apply, Variable
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
    new_node.trace = node.trace
    return new_node.outputs


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


__all__ = ["optimize", "merge", "apply_local_rewrites"]
