"""Gate-GEMM merge: sibling matrix products that share an operand become one product.

An LSTM written gate by gate computes ``h·U_i, h·U_f, h·U_o, h·U_c``: four
small products with the same left operand.  :func:`merge_sibling_dots` turns
them into ``h·[U_i U_f U_o U_c]`` and takes the four results back as column
slices (views).  When the right operands are loop invariants, the
concatenation is then hoisted out of the loop, so the correct per-gate LSTM
runs as fast as the articles' single ``preact``.
"""

from __future__ import annotations

from collections.abc import Sequence

from symrnn.graph import Apply, Constant, Variable, clone_replace, toposort
from symrnn.ops.blas import Dot
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.shape import concatenate, shape_i
from symrnn.rewrite.engine import consumers, use_counts


def _weights(nodes: list[Apply], roots: Sequence[Variable] | None) -> set[int]:
    """Ids of the *weights* among ``nodes``' values: the ``roots`` (by default every graph input), constants'
    results, and values computed from them alone (say the transpose of a weight)."""
    weights: set[int] = {id(v) for v in roots} if roots is not None else set()
    for node in nodes:
        if roots is None:
            weights.update(id(v) for v in node.inputs if v.owner is None)
        if all(id(v) in weights or isinstance(v, Constant) for v in node.inputs):
            weights.update(id(v) for v in node.outputs)
    return weights


def _activation(var: Variable, readers: dict[int, list[Apply]], max_hops: int = 8) -> str:
    """The first elementwise op after the sums that ``var`` (a gate's product) flows through: its activation."""
    for _ in range(max_hops):
        users = readers.get(id(var), [])
        if len(users) != 1 or not isinstance(users[0].op, Elemwise):
            return ""
        if users[0].op.name not in ("add", "sub"):
            return users[0].op.name
        var = users[0].outputs[0]
    return ""


def merge_sibling_dots(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None,
                       min_group: int = 2) -> list[Variable]:
    """Replace groups of ``dot(a, W_k)`` (same ``a``, 2-D ``W_k`` with equal rows) by one ``dot`` and slices.

    Only right operands that are *weights* are concatenated: values built from
    ``roots`` (by default every graph input) and constants alone.  In a loop
    body the roots are the non-sequences, so per-step values are never copied
    into a concatenation.

    Example::

        >>> import symrnn.tensor as T
        >>> h, U1, U2 = T.matrix("h"), T.matrix("U1"), T.matrix("U2")
        >>> a, b = merge_sibling_dots([T.dot(h, U1), T.dot(h, U2)])
        >>> a.owner.inputs[0].owner.inputs[0] is b.owner.inputs[0].owner.inputs[0]
        True
    """
    outputs = list(outputs)
    nodes = toposort(outputs)
    weights = _weights(nodes, roots)
    groups: dict[tuple, list[Apply]] = {}
    for node in nodes:
        if isinstance(node.op, Dot) and node.inputs[1].ndim == 2 and node.inputs[0].ndim >= 1 \
                and id(node.inputs[1]) in weights:
            left, right = node.inputs
            groups.setdefault((id(left), right.dtype, right.type.shape[0]), []).append(node)
    plan: dict[int, Variable] = {}
    readers = consumers(nodes)
    for members in groups.values():
        members = list({id(n.inputs[1]): n for n in members}.values())  # one product per distinct weight
        if len(members) < min_group:
            continue
        # gates with the same activation side by side, so that merge_sibling_slices can apply it once
        members.sort(key=lambda n: _activation(n.outputs[0], readers))
        left = members[0].inputs[0]
        rights = [n.inputs[1] for n in members]
        merged = Dot()(left, concatenate(rights, axis=1))
        start: Variable | int = 0
        for n, right in zip(members, rights):
            width = right.type.shape[1] if right.type.shape[1] is not None else shape_i(right, 1)
            stop = start + width
            piece = merged[(slice(None),) * (merged.ndim - 1) + (slice(start, stop),)]
            piece.owner.take_origin(n)  # the slice stands for the gate's product: it keeps the gate's line
            plan[id(n.outputs[0])] = piece
            start = stop
    if not plan:
        return outputs
    by_var = {n.outputs[0]: plan[id(n.outputs[0])] for n in nodes if id(n.outputs[0]) in plan}
    return clone_replace(outputs, by_var)


def merge_summed_dots(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None,
                      sequences: Sequence[Variable] = ()) -> list[Variable]:
    """``a·A + b·B + ...`` (weights ``A, B``) becomes ``[a b ...]·[A; B; ...]``: one product instead of several.

    In an LSTM's backward step this is ``Σ_g dA_g·U_gᵀ``, the gradient flowing
    into the previous hidden state.  Only sums whose terms are used nowhere else
    are merged.  In a loop body, a product whose left operand comes from the
    ``sequences`` (and weights) alone is left alone: the loop rewrites move it
    out of the loop, as one product over all steps (``x_t·W``).

    Example::

        >>> import symrnn.tensor as T
        >>> a, b, A, B = T.matrix("a"), T.matrix("b"), T.matrix("A"), T.matrix("B")
        >>> [y] = merge_summed_dots([T.dot(a, A) + T.dot(b, B)])
        >>> str(y.owner.op)
        'dot'
    """
    outputs = list(outputs)
    nodes = toposort(outputs)
    weights = _weights(nodes, roots)
    batched = _weights(nodes, [*sequences, *roots]) if sequences and roots is not None else set()
    uses = use_counts(nodes, outputs)

    def is_add(var: Variable) -> bool:
        return var.owner is not None and getattr(var.owner.op, "name", None) == "add"

    def mergeable_dot(var: Variable) -> bool:
        return (var.owner is not None and isinstance(var.owner.op, Dot) and uses.get(id(var), 0) == 1
                and var.owner.inputs[0].ndim == 2 and var.owner.inputs[1].ndim == 2
                and id(var.owner.inputs[1]) in weights and id(var.owner.inputs[0]) not in batched)

    def leaves(var: Variable) -> list[Variable]:
        if is_add(var) and uses.get(id(var), 0) == 1 and var.owner.inputs[0].type == var.owner.inputs[1].type:
            return leaves(var.owner.inputs[0]) + leaves(var.owner.inputs[1])
        return [var]

    plan: dict[Variable, Variable] = {}
    done: set[int] = set()
    for node in reversed(nodes):  # outermost sums first
        out = node.outputs[0]
        if not is_add(out) or id(out) in done or out.ndim != 2:
            continue
        terms = leaves(out) if uses.get(id(out), 0) >= 1 else [out]
        if len(terms) < 2 and is_add(out):
            terms = leaves(out.owner.inputs[0]) + leaves(out.owner.inputs[1])
        products = [t for t in terms if mergeable_dot(t)]
        if len(products) < 2 or any(t.dtype != out.dtype for t in products):
            continue
        rest = [t for t in terms if not mergeable_dot(t)]
        merged = Dot()(concatenate([t.owner.inputs[0] for t in products], axis=1),
                       concatenate([t.owner.inputs[1] for t in products], axis=0))
        for extra in rest:
            merged = merged + extra
        if merged.type.shape != out.type.shape and any(
                a is not None and b is not None and a != b for a, b in zip(merged.type.shape, out.type.shape)):
            continue
        plan[out] = merged
        stack = [out]
        while stack:  # the sub-sums are replaced too: do not merge them again
            v = stack.pop()
            done.add(id(v))
            if is_add(v):
                stack.extend(v.owner.inputs)
    if not plan:
        return outputs
    return clone_replace(outputs, plan)
