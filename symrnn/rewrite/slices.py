"""Horizontal merges: the same elementwise work on neighbouring slices of one array becomes one op.

After the gate-GEMM merge (:mod:`symrnn.rewrite.gemm`) an LSTM step reads its
gates as column slices of one product, ``Z[:, 0:H]``, ``Z[:, H:2H]``, ... and
applies the same ops to each: ``add``, ``add`` a bias, ``sigmoid``.  NumPy pays
per call, so three sigmoids over ``(B, H)`` cost about three times one sigmoid
over ``(B, 3H)``.  Two rewrites give the NumPy code the shape of a hand-written
step:

- :func:`group_invariant_terms`: in a sum, the terms that are the same at every
  step are added first, ``(a + b_f) + 1`` -> ``a + (b_f + 1)``, so the forget
  gate's extra constant joins its bias and the gates look alike;
- :func:`merge_sibling_slices`: ``op(X[:, a:b], Y[:, a:b], w_k)`` for
  neighbouring ranges ``a:b`` becomes ``op(X[:, lo:hi], Y[:, lo:hi], [w_1 w_2
  ...])`` sliced back into pieces (views).  Per-piece weights (biases) are
  concatenated, once, outside the loop.

The gate-GEMM merge orders the gates so that those with the same activation sit
next to each other (i, f, o, then the candidate), which is what makes the
sigmoid ranges neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence

from symrnn.graph import Apply, Constant, Variable, clone_replace, toposort
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.indexing import SYMBOLIC, Subtensor
from symrnn.ops.shape import concatenate
from symrnn.rewrite.engine import constant_key, use_counts
from symrnn.rewrite.gemm import _weights

SliceOf = tuple[Variable, int, int, int]  # (source, axis, start, stop)


def _literal(part: object, index_inputs: list[Variable]) -> object:
    """A slice bound as an int (or None), resolving a placeholder whose input is a constant; else ``SYMBOLIC``."""
    if part != SYMBOLIC:
        return part
    var = index_inputs.pop(0)
    return int(var.data) if isinstance(var, Constant) else SYMBOLIC


def slice_of(var: Variable) -> SliceOf | None:
    """``(source, axis, start, stop)`` when ``var`` is ``source`` cut along one axis to ``start:stop``.

    Bounds must be known and within the source's static size along that axis;
    every other axis must be taken whole.

    Example::

        >>> import symrnn.tensor as T
        >>> z = T.tensor("float32", (None, 8))
        >>> source, axis, start, stop = slice_of(z[:, 2:6])
        >>> source is z, axis, start, stop
        (True, 1, 2, 6)
    """
    node = var.owner
    if node is None or not isinstance(node.op, Subtensor) or node.op.advanced:
        return None
    source, index_inputs = node.inputs[0], list(node.inputs[1:])
    spec = node.op.spec
    if len(spec) != source.ndim or any(entry[0] != "slice" for entry in spec):
        return None
    found = None
    for axis, (_, start, stop, step) in enumerate(spec):
        start, stop, step = (_literal(p, index_inputs) for p in (start, stop, step))
        size = source.type.shape[axis]
        if step not in (None, 1) or SYMBOLIC in (start, stop):
            return None
        start = 0 if start is None else start
        if start == 0 and (stop is None or stop == size):
            continue  # the whole axis
        if found is not None or size is None or stop is None or not 0 <= start < stop <= size:
            return None
        found = (source, axis, start, stop)
    return found


def cut(var: Variable, axis: int, start: int, stop: int) -> Variable:
    """``var[..., start:stop]`` along ``axis`` (``var`` itself when that is all of it).

    Example::

        >>> import symrnn.tensor as T
        >>> z = T.tensor("float32", (None, 8))
        >>> cut(z, 1, 2, 6).type.shape, cut(z, 1, 0, 8) is z
        ((None, 4), True)
    """
    if start == 0 and var.type.shape[axis] == stop:
        return var
    return var[(slice(None),) * axis + (slice(start, stop),)]


def merge_sibling_slices(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None,
                         max_rounds: int = 8) -> list[Variable]:
    """Replace elementwise ops on neighbouring slices of the same arrays by one op on the joined range.

    A group is a set of nodes with the same elementwise op whose inputs are, in
    each position, either slices of one common source (the same range within a
    node, neighbouring ranges across nodes), one common value broadcast along
    the sliced axis, or a *weight* (a value of ``roots`` and constants alone,
    see :func:`symrnn.rewrite.gemm.merge_sibling_dots`) as wide as the range,
    which is concatenated (only inside a loop body, given ``roots``: at the
    top level every value counts as a weight, and a concatenation would copy
    per call what it saves).  Repeats, so a chain ``sigmoid(add(...))`` merges
    level by level.

    Example::

        >>> import symrnn.tensor as T
        >>> z = T.tensor("float32", (None, 8))
        >>> a, b = merge_sibling_slices([T.tanh(z[:, 0:4]), T.tanh(z[:, 4:8])])
        >>> a.owner.inputs[0] is b.owner.inputs[0], str(a.owner.inputs[0].owner.op)
        (True, 'tanh')
    """
    outputs = list(outputs)
    for _ in range(max_rounds):
        replaced = _merge_round(outputs, roots)
        if not replaced:
            break
        outputs = clone_replace(outputs, replaced)
    return outputs


def _member_key(node: Apply, weights: set[int], weights_known: bool) -> tuple | None:
    """``(group key, (axis, start, stop))`` for a node that can join a group, else None."""
    out = node.outputs[0]
    cut = None
    parts: list[tuple] = []
    for v in node.inputs:
        piece = slice_of(v)
        if piece is not None and v.ndim == out.ndim:
            source, axis, start, stop = piece
            if cut is not None and cut != (axis, start, stop):
                return None
            cut = (axis, start, stop)
            parts.append(("slice", id(source)))
        else:
            parts.append(("other", v))
    if cut is None:
        return None
    axis, start, stop = cut
    key: list[tuple] = []
    for kind, value in parts:
        if kind == "slice":
            key.append((kind, value))
            continue
        own = axis - (out.ndim - value.ndim)  # the input's axis that lines up with the sliced one
        if own < 0 or value.type.shape[own] == 1:
            key.append(("same", constant_key(value) if isinstance(value, Constant) else id(value)))
        elif value.type.shape[own] == stop - start and (id(value) in weights or isinstance(value, Constant)) \
                and weights_known:
            key.append(("concat", value.dtype, value.ndim))
        else:
            return None
    return (node.op, axis, tuple(key)), cut


def _merge_round(outputs: list[Variable], roots: Sequence[Variable] | None) -> dict[Variable, Variable]:
    nodes = toposort(outputs)
    weights = _weights(nodes, roots)
    groups: dict[tuple, list[tuple[Apply, tuple[int, int, int]]]] = {}
    for node in nodes:
        if isinstance(node.op, Elemwise) and len(node.outputs) == 1:
            member = _member_key(node, weights, roots is not None)
            if member is not None:
                groups.setdefault(member[0], []).append((node, member[1]))
    replaced: dict[Variable, Variable] = {}
    for (op, axis, key), members in groups.items():
        members.sort(key=lambda m: m[1][1])
        for run in _neighbour_runs(members):
            lo, hi = run[0][1][1], run[-1][1][2]
            first = run[0][0]
            inputs = []
            for k, (kind, *_) in enumerate(key):
                if kind == "slice":
                    source, *_ = slice_of(first.inputs[k])
                    inputs.append(cut(source, axis, lo, hi))
                elif kind == "same":
                    inputs.append(first.inputs[k])
                else:
                    own = axis - (first.outputs[0].ndim - first.inputs[k].ndim)
                    inputs.append(concatenate([node.inputs[k] for node, _ in run], axis=own))
            merged = op(*inputs)
            if merged.dtype != first.outputs[0].dtype:
                continue
            for node, (_, start, stop) in run:
                piece = replaced[node.outputs[0]] = cut(merged, axis, start - lo, stop - lo)
                if piece.owner is not merged.owner:  # the slice stands for the node: it keeps the node's trace
                    piece.owner.take_origin(node)
    return replaced


def _neighbour_runs(members: list[tuple[Apply, tuple[int, int, int]]]) -> list[list]:
    """Maximal runs (of two or more) whose ranges follow one another without gap or overlap."""
    runs: list[list] = []
    current: list = []
    for member in members:
        if current and member[1][1] == current[-1][1][2]:
            current.append(member)
        else:
            if len(current) > 1:
                runs.append(current)
            current = [member]
    if len(current) > 1:
        runs.append(current)
    return runs


def group_invariant_terms(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None) -> list[Variable]:
    """``(a + w1) + w2`` -> ``a + (w1 + w2)`` where ``w1, w2`` are weights (see ``merge_sibling_dots``) or
    constants and ``a`` is not: the invariant part of a sum is computed once (and hoisted out of a loop).

    Example::

        >>> import symrnn.tensor as T
        >>> x, b = T.matrix("x"), T.vector("b")
        >>> [y] = group_invariant_terms([(x + b) + 1.0], roots=[b])
        >>> y.owner.inputs[0] is x, str(y.owner.inputs[1].owner.op)
        (True, 'add')
    """
    outputs = list(outputs)
    nodes = toposort(outputs)
    weights = _weights(nodes, roots)
    uses = use_counts(nodes, outputs)

    def invariant(v: Variable) -> bool:
        return id(v) in weights or isinstance(v, Constant)

    def is_add(v: Variable) -> bool:
        return v.owner is not None and isinstance(v.owner.op, Elemwise) and v.owner.op.name == "add"

    replaced: dict[Variable, Variable] = {}
    for node in nodes:
        out = node.outputs[0]
        if not is_add(out) or invariant(out):
            continue
        inner, w2 = node.inputs
        if not invariant(w2):
            inner, w2 = w2, inner
        if not (invariant(w2) and is_add(inner) and uses.get(id(inner), 0) == 1):
            continue
        a, w1 = inner.owner.inputs
        if not invariant(w1):
            a, w1 = w1, a
        if invariant(a) or not invariant(w1):
            continue
        new = a + (w1 + w2)
        if new.type == out.type:
            replaced[out] = new
    return clone_replace(outputs, replaced) if replaced else outputs


__all__ = ["merge_sibling_slices", "group_invariant_terms", "slice_of"]
