"""Elementwise fusion: a connected group of elementwise nodes becomes one :class:`FusedElemwise` node.

An LSTM step ends in a dozen elementwise ops (``sigmoid`` of three gates,
``tanh`` twice, the cell update ``f*c + i*g``, ``o*tanh(c)``).  Run one by one,
each allocates its result and walks memory again; in Python each also pays the
interpreter's overhead.  :func:`fuse_elementwise` finds maximal groups and
replaces each by one node, which the NumPy code computes in one reused buffer
and a GPU backend compiles into one kernel.

A group is grown from a *root* (the node whose value leaves the group) towards
its inputs.  A producer joins when:

- it is elementwise and has the root's broadcast pattern (same ndim, static 1s
  in the same places), so that every value in the group has the output's
  shape and one buffer fits them all;
- every reader of its value is already in the group, and the value is not an
  output: intermediate results are never needed outside, so nothing is
  computed twice and no cycle can form.

A value of a smaller pattern (a bias row ``b * 2`` broadcast against a batch)
stays outside as an input of the group.  Scalar constants are kept inside
(literals in a kernel); other constants become inputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from symrnn.graph import Apply, Constant, Variable, toposort
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.fused import BlockSum, FusedElemwise
from symrnn.ops.reduce import Reduce
from symrnn.ops.shape import Shape
from symrnn.rewrite.engine import consumers, rebuild
from symrnn.scan.op import Scan


def _pattern(var: Variable) -> tuple[bool, ...]:
    return tuple(d == 1 for d in var.type.shape)


def _embedded(var: Variable) -> bool:
    """A constant that stays inside the fused graph: a 0-d integer, bool or finite float."""
    if not isinstance(var, Constant) or var.data.ndim != 0:
        return False
    return var.data.dtype.kind in "biu" or bool(np.isfinite(var.data))


def _fusable(node: Apply) -> bool:
    if not isinstance(node.op, Elemwise) or len(node.outputs) != 1:
        return False
    if node.outputs[0].ndim > 0 and any(v.owner is not None and isinstance(v.owner.op, Shape) for v in node.inputs):
        return False  # arithmetic on a shape vector: host-side bookkeeping, nothing to gain
    return True


def fuse_elementwise(outputs: Sequence[Variable], roots: Sequence[Variable] | None = None,
                     min_group: int = 2, scan_bodies: bool = True) -> list[Variable]:
    """Replace each maximal group of at least ``min_group`` connected elementwise nodes by a ``FusedElemwise``.

    With ``scan_bodies`` the loop bodies of scans are fused too (recursively).
    ``roots`` is accepted for symmetry with the other graph-wide rewrites
    (:func:`~symrnn.rewrite.gemm.merge_sibling_dots`) and not needed: fusion
    is the same inside and outside loops.  Run it last, once, after every
    rewrite that looks for individual elementwise ops.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.graph import toposort
        >>> x, b = T.matrix("x"), T.vector("b")
        >>> y = T.tanh(x + b) * T.nnet.sigmoid(x)
        >>> len(toposort([y])), len(toposort(fuse_elementwise([y])))
        (4, 1)
    """
    del roots
    outputs = list(outputs)
    if scan_bodies:
        outputs = _fuse_scan_bodies(outputs, min_group)
    nodes = toposort(outputs)
    position = {id(n): i for i, n in enumerate(nodes)}
    clients = consumers(nodes)
    is_output = {id(v) for v in outputs}
    assigned: set[int] = set()
    groups: dict[int, list[Apply]] = {}  # root node id -> its members, in topological order
    for root in reversed(nodes):
        if id(root) in assigned or not _fusable(root):
            continue
        members = _grow(root, position, clients, is_output, assigned)
        if len(members) < min_group:
            continue
        assigned.update(members)
        groups[id(root)] = sorted(members.values(), key=lambda n: position[id(n)])
    if not groups:
        return outputs

    # Rebuild forward, so that a group reading another group's result reads the fused one.
    memo: dict[int, Variable] = {}
    for node in nodes:
        if id(node) in assigned and id(node) not in groups:
            continue  # inside a group: its value is read only there
        if id(node) in groups:
            fused = _build(node, groups[id(node)], memo)
            if fused is not None:
                memo[id(node.outputs[0])] = fused
                continue
            for member in groups[id(node)]:  # could not fuse (say, constants only): keep the nodes
                _rebuild_node(member, memo)
            continue
        _rebuild_node(node, memo)
    return [memo.get(id(v), v) for v in outputs]


def _rebuild_node(node: Apply, memo: dict[int, Variable]) -> None:
    inputs = [memo.get(id(v), v) for v in node.inputs]
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return
    new = node.clone_with_new_inputs(inputs)
    for old, out in zip(node.outputs, new.outputs):
        memo[id(old)] = out


def _grow(root: Apply, position: dict[int, int], clients: dict[int, list[Apply]], is_output: set[int],
          assigned: set[int]) -> dict[int, Apply]:
    """The largest group that ``root`` can absorb, walking producers latest first (by topological position).

    When a producer is popped, every reader of its value that could have joined
    has already been decided (readers come later in the order), so "all readers
    are members" is final.
    """
    pattern = _pattern(root.outputs[0])
    members: dict[int, Apply] = {id(root): root}
    seen = {id(root)}
    heap: list[tuple[int, int, Apply]] = []

    def push(node: Apply) -> None:
        for v in node.inputs:
            parent = v.owner
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                heapq.heappush(heap, (-position[id(parent)], id(parent), parent))

    push(root)
    while heap:
        _, _, parent = heapq.heappop(heap)
        value = parent.outputs[0] if len(parent.outputs) == 1 else None
        if (id(parent) in assigned or value is None or not _fusable(parent) or id(value) in is_output
                or _pattern(value) != pattern
                or any(id(reader) not in members for reader in clients.get(id(value), []))):
            continue
        members[id(parent)] = parent
        push(parent)
    return members


def _build(root: Apply, members: list[Apply], memo: dict[int, Variable]) -> Variable | None:
    """The ``FusedElemwise`` output that computes ``root``'s value from the group's outside inputs.

    ``memo`` maps the original variables to their rebuilt versions (earlier groups already fused).
    """
    inside = {id(n) for n in members}
    external: dict[int, Variable] = {}
    for node in members:
        for v in node.inputs:
            if (v.owner is None or id(v.owner) not in inside) and not _embedded(v):
                external.setdefault(id(v), memo.get(id(v), v))
    if not any(not isinstance(v, Constant) for v in external.values()):
        return None  # only constants: constant folding's business, not fusion's
    placeholders = {key: v.type() for key, v in external.items()}
    inner_memo: dict[int, Variable] = dict(placeholders)
    for node in members:
        inner = node.op.make_node(*[inner_memo.get(id(v), v) for v in node.inputs])
        inner_memo[id(node.outputs[0])] = inner.outputs[0]
    inner_out = inner_memo[id(root.outputs[0])]
    if inner_out.dtype != root.outputs[0].dtype:
        return None
    op = FusedElemwise(list(placeholders.values()), inner_out)
    node = op.make_node(*external.values())
    node.take_origin(root)
    out = node.outputs[0]
    out.name = root.outputs[0].name
    return out


def _fuse_scan_bodies(outputs: list[Variable], min_group: int) -> list[Variable]:
    """Fuse inside every scan's inner graph, rebuilding the scans whose bodies changed."""
    def on_node(node: Apply) -> Sequence[Variable] | None:
        op = node.op
        if not isinstance(op, Scan):
            return None
        inner = fuse_elementwise(op.inner_outputs, min_group=min_group)
        if all(a is b for a, b in zip(inner, op.inner_outputs)):
            return None
        new_op = Scan(op.info, op.inner_inputs, inner)
        new_op.optimized = getattr(op, "optimized", False)  # type: ignore[attr-defined]
        new_node = new_op.make_node(*node.inputs)
        new_node.take_origin(node)
        for old, new in zip(node.outputs, new_node.outputs):
            new.name = old.name
        return new_node.outputs

    return rebuild(outputs, on_node)



def sum_in_blocks(outputs: Sequence[Variable]) -> list[Variable]:
    """``sum(e)`` over all axes of an elementwise value ``e`` that nothing else reads becomes a
    :class:`~symrnn.ops.fused.BlockSum`: ``e`` is computed and summed a block of rows at a time, so that it
    is never whole in memory (the squares of a loss ``mean(h ** 2)`` would be as large as ``h``).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.matrix("x")
        >>> [total] = sum_in_blocks([T.sum(T.tanh(x) * x)])
        >>> str(total.owner.op)
        'block_sum{mul}'
    """
    outputs = list(outputs)
    nodes = toposort(outputs)
    readers = consumers(nodes)
    returned = {id(v) for v in outputs}

    def on_node(node: Apply) -> list[Variable] | None:
        if not isinstance(node.op, Reduce) or node.op.kind != "sum" or node.op.keepdims:
            return None
        (value,) = node.inputs
        element = value.owner
        if element is None or not isinstance(element.op, (Elemwise, FusedElemwise)) or value.ndim == 0 or \
                node.op.axis != tuple(range(value.ndim)) or value.dtype != node.outputs[0].dtype or \
                np.dtype(value.dtype).kind != "f" or len(readers.get(id(value), [])) != 1 or id(value) in returned:
            return None
        return [BlockSum(element)(*element.inputs)]

    return rebuild(outputs, on_node)


__all__ = ["fuse_elementwise", "sum_in_blocks"]
