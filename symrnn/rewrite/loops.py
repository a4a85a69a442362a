"""Loop rewrites: move work out of scan bodies, where NumPy does it in bulk.

Each rewrite is a local rewrite of one ``Scan`` node, built on :class:`Loop`,
which takes a scan node apart into its sequences, states, per-step outputs and
non-sequences, and puts it back together:

- :func:`push_out_invariants`: what depends only on non-sequences (``U.T``,
  a concatenation of weights) is computed once, before the loop;
- :func:`push_out_sequence_work`: what depends only on sequences (``x_t·W``,
  the input projections; elementwise work on saved values in the backward
  loop) becomes one batched operation over all steps;
- :func:`accumulate_after_loop`: a running sum ``acc + h_tᵀ·d_t`` (a weight
  gradient in the backward loop) becomes one large matrix product after it;
- :func:`reuse_state_buffers`: a per-step output that equals a state's new
  value is read from the state's buffer instead of being stored twice;
- :func:`save_sliced_outputs_once`: per-step outputs that are slices of one
  value (the gates of one sigmoid) are stored as that value, once per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

from symrnn.graph import Apply, Constant, TensorType, Variable, clone_replace, toposort
from symrnn.ops.blas import Dot, dot
from symrnn.ops.elemwise import Elemwise, minimum
from symrnn.ops.indexing import Subtensor
from symrnn.ops.random import RandomDraw
from symrnn.ops.reduce import Reduce
from symrnn.ops.shape import DimShuffle, Join, reshape, shape_i
from symrnn.rewrite.engine import rebuild, use_counts
from symrnn.rewrite.slices import cut, slice_of
from symrnn.scan.op import Scan, ScanInfo


@dataclass
class State:
    init: Variable
    taps: tuple[int, ...]
    placeholders: list[Variable]
    new_value: Variable
    last_only: bool
    label: str


@dataclass
class Loop:
    """A scan node taken apart; :meth:`build` puts it back together as a new node."""

    node: Apply
    info: ScanInfo
    n_steps: Variable
    seqs: list[tuple[Variable, Variable]]  # (outer sequence, inner slice placeholder)
    states: list[State]
    nitsots: list[tuple[Variable, str]]  # (inner per-step value, label)
    nonseqs: list[tuple[Variable, Variable]]  # (outer value, inner placeholder)
    until: Variable | None
    extra: dict[str, Any] = field(default_factory=dict)
    reversed_rows: set[int] = field(default_factory=set)  # ids of the per-step values stored last step first

    @classmethod
    def of(cls, node: Apply) -> Loop:
        op: Scan = node.op
        info, outer, inner = op.info, op.outer_slices(), op.inner_slices()
        seqs = list(zip(node.inputs[outer["seqs"]], op.inner_inputs[inner["seqs"]]))
        taps = iter(op.inner_inputs[inner["taps"]])
        states = []
        for j, init in enumerate(node.inputs[outer["inits"]]):
            phs = [next(taps) for _ in info.state_taps[j]]
            states.append(State(init, info.state_taps[j], phs, op.inner_outputs[j], info.is_last_only(j),
                                info.label(j)))
        nitsots = [(op.inner_outputs[info.n_states + k], info.label(info.n_states + k))
                   for k in range(info.n_nitsot)]
        nonseqs = list(zip(node.inputs[outer["nonseqs"]], op.inner_inputs[inner["nonseqs"]]))
        until = op.inner_outputs[-1] if info.has_until else None
        reversed_rows = {id(value) for k, (value, _) in enumerate(nitsots)
                         if k < len(info.reversed_rows) and info.reversed_rows[k]}
        return cls(node, info, node.inputs[0], seqs, states, nitsots, nonseqs, until, reversed_rows=reversed_rows)

    def inner_outputs(self) -> list[Variable]:
        return ([s.new_value for s in self.states] + [v for v, _ in self.nitsots]
                + ([self.until] if self.until is not None else []))

    def placeholders(self) -> list[Variable]:
        return [ph for _, ph in self.seqs] + [p for s in self.states for p in s.placeholders] + [
            ph for _, ph in self.nonseqs]

    def replace_inner(self, replace: dict[Variable, Variable]) -> None:
        """Substitute inner variables everywhere in the body."""
        before = self.inner_outputs()
        outs = clone_replace(before, replace)
        self.reversed_rows = {id(new) for old, new in zip(before, outs) if id(old) in self.reversed_rows}
        for s, new in zip(self.states, outs):
            s.new_value = new
        n = len(self.states)
        self.nitsots = [(new, label) for (_, label), new in zip(self.nitsots, outs[n:n + len(self.nitsots)])]
        if self.until is not None:
            self.until = outs[-1]

    def length(self) -> Variable:
        """The number of steps, symbolically (the scan's own rule)."""
        if self.info.n_steps_given or not self.seqs:
            return self.n_steps
        length = shape_i(self.seqs[0][0], 0)
        for outer, _ in self.seqs[1:]:
            length = minimum(length, shape_i(outer, 0))
        return length

    def build(self) -> Apply:
        labels = tuple(s.label for s in self.states) + tuple(label for _, label in self.nitsots)
        info = dc_replace(self.info, n_seqs=len(self.seqs), state_taps=tuple(s.taps for s in self.states),
                          n_nitsot=len(self.nitsots), n_nonseqs=len(self.nonseqs), labels=labels,
                          last_only=tuple(s.last_only for s in self.states),
                          reversed_rows=tuple(id(v) in self.reversed_rows for v, _ in self.nitsots))
        op = Scan(info, self.placeholders(), self.inner_outputs())
        op.optimized = getattr(self.node.op, "optimized", False)
        node = op.make_node(self.n_steps, *[o for o, _ in self.seqs], *[s.init for s in self.states],
                            *[o for o, _ in self.nonseqs])
        node.take_origin(self.node)
        return node


def _is_scan(node: Apply) -> bool:
    return isinstance(node.op, Scan) and not node.op.info.has_until


def _invariant_ids(loop: Loop) -> set[int]:
    """Inner variables that are the same at every step."""
    ids = {id(ph) for _, ph in loop.nonseqs}
    for node in toposort(loop.inner_outputs(), stop_at=loop.placeholders()):
        if isinstance(node.op, RandomDraw):
            continue
        if all(id(v) in ids or isinstance(v, Constant) for v in node.inputs):
            ids.update(id(v) for v in node.outputs)
    return ids


def push_out_invariants(node: Apply) -> Sequence[Variable] | None:
    """Compute the loop-invariant part of a scan body once, before the loop (new non-sequences)."""
    if not _is_scan(node):
        return None
    loop = Loop.of(node)
    invariant = _invariant_ids(loop)
    body = toposort(loop.inner_outputs(), stop_at=loop.placeholders())
    hoist: dict[int, Variable] = {}
    for inner_node in body:
        if all(id(v) in invariant for v in inner_node.outputs):
            continue
        for var in inner_node.inputs:
            if id(var) in invariant and var.owner is not None:
                hoist.setdefault(id(var), var)
    for var in loop.inner_outputs():
        if id(var) in invariant and var.owner is not None:
            hoist.setdefault(id(var), var)
    if not hoist:
        return None
    to_outer = {ph: outer for outer, ph in loop.nonseqs}
    outer_values = clone_replace(list(hoist.values()), to_outer)
    replace = {}
    for var, outer in zip(hoist.values(), outer_values):
        ph = var.type(var.name)
        loop.nonseqs.append((outer, ph))
        replace[var] = ph
    loop.replace_inner(replace)
    return loop.build().outputs


def _batched(inner_node: Apply, full: dict[int, Variable], invariant_outer: dict[int, Variable]) -> Variable | None:
    """The whole-sequence version of one per-step node, or None if the op cannot be batched."""
    op = inner_node.op
    args = []
    for var in inner_node.inputs:
        if id(var) in full:
            args.append(full[id(var)])
        elif isinstance(var, Constant):
            args.append(var)
        elif id(var) in invariant_outer:
            args.append(invariant_outer[id(var)])
        else:
            return None
    step_ndim = inner_node.outputs[0].ndim
    if isinstance(op, Elemwise):
        lifted = []
        for var, arg in zip(inner_node.inputs, args):
            if id(var) not in full and arg.ndim == step_ndim:  # align an invariant with the step axes
                arg = arg.dimshuffle("x", *range(arg.ndim))
            elif id(var) in full and var.ndim < step_ndim:  # a per-step value broadcast within the step
                arg = arg.dimshuffle(0, *["x"] * (step_ndim - var.ndim), *range(1, var.ndim + 1))
            lifted.append(arg)
        return op(*lifted)
    if isinstance(op, Dot):
        left, right = inner_node.inputs
        if id(left) in full and id(right) not in full and right.ndim == 2 and left.ndim >= 1:
            return dot(args[0], args[1])
        return None
    if isinstance(op, DimShuffle) and id(inner_node.inputs[0]) in full:
        order = [0] + ["x" if a == "x" else a + 1 for a in op.new_order]
        return args[0].dimshuffle(*order)
    if isinstance(op, Reduce) and id(inner_node.inputs[0]) in full:
        return Reduce(op.kind, tuple(a + 1 for a in op.axis), op.keepdims)(args[0])
    return None


# Only products are worth batching: batched elementwise work (measured) costs more memory than it saves time.
_BATCHED_OPS = (Dot,)


def push_out_sequence_work(node: Apply) -> Sequence[Variable] | None:
    """Per-step work that reads only sequences (and invariants) becomes one batched op over all steps.

    This is how ``x_t·W`` (the input projection of every gate) turns into one
    matrix product before the loop.  Only products and elementwise work are
    moved: they are what NumPy does much faster in bulk.
    """
    if not _is_scan(node):
        return None
    loop = Loop.of(node)
    invariant = _invariant_ids(loop)
    length = None
    full: dict[int, Variable] = {}
    for outer, ph in loop.seqs:
        full[id(ph)] = outer
    invariant_outer = {id(ph): outer for outer, ph in loop.nonseqs}
    moved: dict[int, Variable] = {}
    body = toposort(loop.inner_outputs(), stop_at=loop.placeholders())
    for inner_node in body:
        if len(inner_node.outputs) != 1 or all(id(v) in invariant for v in inner_node.outputs):
            continue
        if not any(id(v) in full for v in inner_node.inputs):
            continue
        if not isinstance(inner_node.op, _BATCHED_OPS):
            continue  # (a transpose is a free view: moving it would gain nothing and hide patterns)
        if length is None:
            length = loop.length()
            # every sequence is cut to the loop's length first, so that whole-sequence work lines up
            for outer, ph in loop.seqs:
                full[id(ph)] = outer[:length]
        batched = _batched(inner_node, full, invariant_outer)
        if batched is None:
            continue
        full[id(inner_node.outputs[0])] = batched
        moved[id(inner_node.outputs[0])] = inner_node.outputs[0]
    # Keep only the moved values that the remaining body (or an output) still reads.
    remaining = set()
    for inner_node in body:
        if id(inner_node.outputs[0]) in moved:
            continue
        remaining.update(id(v) for v in inner_node.inputs)
    remaining.update(id(v) for v in loop.inner_outputs())
    needed = [var for key, var in moved.items() if key in remaining]
    if not needed:
        return None
    replace = {}
    for var in needed:
        ph = var.type(var.name)
        loop.seqs.append((full[id(var)], ph))
        replace[var] = ph
    loop.replace_inner(replace)
    return loop.build().outputs


def reuse_state_buffers(node: Apply) -> Sequence[Variable] | None:
    """A per-step output equal to a state's new value is read from the state's buffer."""
    if not _is_scan(node):
        return None
    loop = Loop.of(node)
    n_states = len(loop.states)
    by_value = {id(s.new_value): j for j, s in enumerate(loop.states) if not s.last_only}
    duplicates = [k for k, (value, _) in enumerate(loop.nitsots)
                  if id(value) in by_value and id(value) not in loop.reversed_rows]
    if not duplicates:
        return None
    keep = [k for k in range(len(loop.nitsots)) if k not in duplicates]
    new_loop_nitsots = [loop.nitsots[k] for k in keep]
    sources = {k: by_value[id(loop.nitsots[k][0])] for k in duplicates}
    loop.nitsots = new_loop_nitsots
    new = loop.build()
    outputs = list(new.outputs[:n_states])
    for k in range(len(node.outputs) - n_states):
        if k in sources:
            j = sources[k]
            outputs.append(new.outputs[j][loop.info.n_init(j):])
        else:
            outputs.append(new.outputs[n_states + keep.index(k)])
    return outputs


def save_sliced_outputs_once(node: Apply) -> Sequence[Variable] | None:
    """Per-step outputs that are slices of one value which together cover all of it (the gates ``i, f, o``
    of one sigmoid over ``[i f o]``) are saved as that value, once per step, and sliced after the loop."""
    if not _is_scan(node):
        return None
    loop = Loop.of(node)
    groups: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    sources: dict[int, Variable] = {}
    for k, (value, _) in enumerate(loop.nitsots):
        piece = slice_of(value) if id(value) not in loop.reversed_rows else None
        if piece is not None:
            source, axis, start, stop = piece
            sources[id(source)] = source
            groups.setdefault((id(source), axis), []).append((k, start, stop))
    merged: dict[int, tuple[int, int, int, int]] = {}  # old nitsot -> (new nitsot, axis, start, stop)
    for (source_id, axis), members in groups.items():
        source = sources[source_id]
        covered = 0
        for _, start, stop in sorted(members, key=lambda m: m[1]):
            if start > covered:
                break
            covered = max(covered, stop)
        if len(members) < 2 or covered != source.type.shape[axis]:
            continue
        loop.nitsots.append((source, loop.nitsots[members[0][0]][1]))
        for k, start, stop in members:
            merged[k] = (len(loop.nitsots) - 1, axis, start, stop)
    if not merged:
        return None
    n_states, n_old = len(loop.states), len(loop.nitsots)
    keep = [k for k in range(n_old) if k not in merged]
    loop.nitsots = [loop.nitsots[k] for k in keep]
    new = loop.build()
    trace = {k: new.outputs[n_states + keep.index(k)] for k in keep}
    outputs = list(new.outputs[:n_states])
    for k in range(len(node.outputs) - n_states):
        if k in merged:
            whole, axis, start, stop = merged[k]
            outputs.append(cut(trace[whole], axis + 1, start, stop))
        else:
            outputs.append(trace[k])
    return outputs


def _accumulated_term(state: State, uses: dict[int, int]) -> Variable | None:
    """``E`` when a state's step is ``acc + E`` and ``acc`` is read nowhere else."""
    if not state.last_only or state.taps != (-1,) or state.new_value.owner is None:
        return None
    (acc,) = state.placeholders
    if uses.get(id(acc), 0) != 1 or getattr(state.new_value.owner.op, "name", None) != "add":
        return None
    a, b = state.new_value.owner.inputs
    term = b if a is acc else a if b is acc else None
    if term is None or term.ndim != acc.ndim:
        return None
    return term


def accumulate_after_loop(node: Apply) -> Sequence[Variable] | None:
    """A running sum of ``uᵀ·v`` or of ``sum(v, axis=0)`` becomes one operation over all steps, after the loop.

    In the backward loop of an RNN these are the weight and bias gradients: the
    loop then only saves ``u`` and ``v`` per step, and one large matrix product
    replaces ``T`` small ones.
    """
    if not _is_scan(node):
        return None
    loop = Loop.of(node)
    body = toposort(loop.inner_outputs(), stop_at=loop.placeholders())
    uses = use_counts(body, loop.inner_outputs())
    plans = []
    for j, state in enumerate(loop.states):
        term = _accumulated_term(state, uses)
        if term is None or term.owner is None:
            continue
        op = term.owner.op
        if isinstance(op, Dot) and term.ndim == 2:
            left, right = term.owner.inputs
            if left.owner is not None and isinstance(left.owner.op, DimShuffle) and \
                    left.owner.op.new_order == (1, 0) and right.ndim == 2:
                plans.append((j, "outer", [left.owner.inputs[0], right]))
        elif isinstance(op, Reduce) and op.kind == "sum" and op.axis == (0,) and not op.keepdims:
            plans.append((j, "sum", [term.owner.inputs[0]]))
    if not plans:
        return None
    n_old_nitsot = len(loop.nitsots)
    outer_of_seq = {id(ph): outer for outer, ph in loop.seqs}
    length = loop.length()
    pieces = _join_pieces(body)
    saved: dict[int, int] = {id(value): k for k, (value, _) in enumerate(loop.nitsots)}

    new_slots: set[int] = set()

    def save(value: Variable) -> int:  # one per-step copy, however many sums read it
        if id(value) not in saved:
            saved[id(value)] = len(loop.nitsots)
            new_slots.add(len(loop.nitsots))
            loop.nitsots.append((value, "saved value"))
        return saved[id(value)]

    # per plan, per value: ("seq", outer sequence) (already stored: no copy per step), ("own", nit-sot
    # slot), or ("piece", nit-sot slot of a join along the last axis, start, stop): the per-gate dA_g of a
    # backward LSTM step are pieces of the [dA_i dA_f ...] it computes anyway, so that is saved once
    traces: list[list[tuple]] = []
    for _, _, values in plans:
        slots: list[tuple] = []
        for value in values:
            if id(value) in outer_of_seq:
                slots.append(("seq", outer_of_seq[id(value)][:length]))
            elif id(value) in pieces:
                join, start, stop = pieces[id(value)]
                slots.append(("piece", save(join), start, stop))
            else:
                slots.append(("own", save(value)))
        traces.append(slots)
    # A backward loop reads its sequences last step first: the products' left operands are reversed views.
    # A value saved only for products with such operands is stored last step first too, so that each
    # product pairs two arrays in time order, neither of which then needs a reordered copy.
    reversed_slots = set(new_slots)
    for (_, kind, _), slots in zip(plans, traces):
        *first, last = slots
        if last[0] != "seq" and kind == "outer" and not (first[0][0] == "seq" and _reversed_in_time(first[0][1])):
            reversed_slots.discard(last[1])
        for slot in first:
            if slot[0] != "seq":
                reversed_slots.discard(slot[1])
    loop.reversed_rows |= {id(loop.nitsots[k][0]) for k in reversed_slots}
    removed = {j for j, _, _ in plans}
    kept_states = [j for j in range(len(loop.states)) if j not in removed]
    loop.states = [loop.states[j] for j in kept_states]
    new = loop.build()
    n_kept = len(kept_states)

    def whole(slot: tuple) -> Variable:
        return slot[1] if slot[0] == "seq" else new.outputs[n_kept + slot[1]]

    def flat(v: Variable) -> Variable:
        return reshape(v, (-1, shape_i(v, v.ndim - 1)))

    def key_of(slot: tuple) -> tuple:
        return ("seq", id(slot[1])) if slot[0] == "seq" else slot

    # One product (or sum) per distinct operands: the last operand is taken whole, and the pieces of it that
    # the plans name are columns of the result.
    totals: dict[tuple, Variable] = {}
    trace_of = {}
    for (j, kind, _), slots in zip(plans, traces):
        init = node.inputs[node.op.outer_slices()["inits"]][j]
        *first, last = slots
        key = (kind, *map(key_of, first), key_of(last)[:2])
        if key not in totals:
            if kind == "outer":
                (u_slot,) = first
                u = _piece(whole(u_slot), u_slot)
                if last[0] != "seq" and last[1] in reversed_slots:
                    u = u[::-1]  # back in time order, as the saved value is
                totals[key] = dot(flat(u).T, flat(whole(last)))
            else:
                totals[key] = whole(last).sum(axis=(0, 1))
        total = init[0] + _piece(totals[key], last)
        trace_of[j] = total.dimshuffle("x", *range(total.ndim))
    outputs = []
    for j in range(len(node.op.info.state_taps)):
        outputs.append(trace_of[j] if j in trace_of else new.outputs[kept_states.index(j)])
    for k in range(n_old_nitsot):
        outputs.append(new.outputs[n_kept + k])
    return outputs


def _reversed_in_time(var: Variable) -> bool:
    """Is ``var`` a view that reverses its source's axis 0 (an odd number of ``[::-1]`` among views that
    touch axis 0 only)?"""
    reversals = 0
    while _time_view(var):
        step = var.owner.op.spec[0][3]
        reversals += step == -1
        var = var.owner.inputs[0]
    return reversals % 2 == 1


def _piece(full: Variable, slot: tuple) -> Variable:
    """The columns a ``("piece", _, start, stop)`` slot names, out of ``full``; ``full`` for any other slot."""
    return cut(full, full.ndim - 1, slot[2], slot[3]) if slot[0] == "piece" else full


def _join_pieces(body: list[Apply]) -> dict[int, tuple[Variable, int, int]]:
    """Inner values that are one input of a ``concatenate`` along the last axis with static widths:
    ``id(value) -> (join, start, stop)``."""
    pieces: dict[int, tuple[Variable, int, int]] = {}
    for inner_node in body:
        if not isinstance(inner_node.op, Join):
            continue
        join = inner_node.outputs[0]
        if inner_node.op.axis != join.ndim - 1:
            continue
        widths = [v.type.shape[-1] for v in inner_node.inputs]
        if None in widths or len({id(v) for v in inner_node.inputs}) != len(widths):
            continue
        start = 0
        for v, width in zip(inner_node.inputs, widths):
            pieces.setdefault(id(v), (join, start, start + width))
            start += width
    return pieces


LOOP_REWRITES = [push_out_invariants, push_out_sequence_work, accumulate_after_loop, reuse_state_buffers,
                 save_sliced_outputs_once]


def _reached(roots: list[Variable], stop: list[Variable]) -> set[int]:
    ids = {id(v) for v in roots}
    for node in toposort(roots, stop_at=stop):
        ids.update(id(v) for v in node.inputs)
    return ids


def _pruned(node: Apply, used: list[bool]) -> list[Variable] | None:
    """``node`` rebuilt without what is unused (``used`` flags its outputs), or None if nothing can go."""
    loop = Loop.of(node)
    n_states = len(loop.states)
    keep_states = {j for j in range(n_states) if used[j]}
    keep_nitsots = {k for k in range(len(loop.nitsots)) if used[n_states + k]}
    if not keep_states and not keep_nitsots:
        return None
    while True:  # a kept output needs every state it reads, transitively
        roots = [loop.states[j].new_value for j in keep_states] + [loop.nitsots[k][0] for k in keep_nitsots]
        reached = _reached(roots, loop.placeholders())
        more = {j for j, s in enumerate(loop.states)
                if j not in keep_states and any(id(p) in reached for p in s.placeholders)}
        if not more:
            break
        keep_states |= more
    seq_kept = [pair for pair in loop.seqs if id(pair[1]) in reached]
    nonseq_kept = [pair for pair in loop.nonseqs if id(pair[1]) in reached]
    if (len(keep_states), len(keep_nitsots), len(seq_kept), len(nonseq_kept)) == (
            n_states, len(loop.nitsots), len(loop.seqs), len(loop.nonseqs)):
        return None
    if len(seq_kept) != len(loop.seqs) and not loop.info.n_steps_given:
        # the loop's length came from the sequences: fix it before dropping any
        loop.n_steps = loop.length()
        loop.info = dc_replace(loop.info, n_steps_given=True)
    states, nitsots = sorted(keep_states), sorted(keep_nitsots)
    loop.states = [loop.states[j] for j in states]
    loop.nitsots = [loop.nitsots[k] for k in nitsots]
    loop.seqs, loop.nonseqs = seq_kept, nonseq_kept
    if not loop.seqs and not loop.info.n_steps_given:
        return None
    new = loop.build()
    replacement = list(node.outputs)  # unused outputs keep their (now unread) old variables
    for position, j in enumerate(states):
        replacement[j] = new.outputs[position]
    for position, k in enumerate(nitsots):
        replacement[n_states + k] = new.outputs[len(states) + position]
    return replacement


def prune_loop_outputs(outputs: Sequence[Variable]) -> list[Variable]:
    """Drop what nobody reads from each scan: unused per-step outputs, states that no kept output
    depends on, and the sequences and non-sequences left unread.

    The gradient of a scan computes every gradient it can (say, of the input
    sequence) in one backward loop; this pass removes the ones not asked for.
    Each round rebuilds the graph once, bottom-up, so that a pruned loop's
    consumers see it; a further round catches what pruning a consumer frees.
    """
    outputs = list(outputs)
    for _ in range(16):
        used = {id(v) for v in outputs} | {id(v) for node in toposort(outputs) for v in node.inputs}
        changed = False

        def on_node(current: Apply, original: Apply, used: set[int] = used) -> list[Variable] | None:
            nonlocal changed
            if not _is_scan(current):
                return None
            replacement = _pruned(current, [id(v) in used for v in original.outputs])
            changed = changed or replacement is not None
            return replacement

        outputs = rebuild(outputs, on_node, with_original=True)
        if not changed:
            break
    return outputs


def _time_view(var: Variable) -> bool:
    """Is ``var`` a basic-indexing view of another value that cuts or reverses axis 0 only?"""
    node = var.owner
    if node is None or not isinstance(node.op, Subtensor) or node.op.advanced or not node.op.spec:
        return False
    first, *rest = node.op.spec
    whole = ("slice", None, None, None)
    return first[0] == "slice" and all(tuple(entry) == whole for entry in rest) and var.ndim == node.inputs[0].ndim


def _sunk(node: Apply, uses: dict[int, int]) -> list[Variable] | None:
    """``node`` with one elementwise sequence computed per step inside the loop (see below), or None."""
    loop = Loop.of(node)
    for position, (outer, ph) in enumerate(loop.seqs):
        views: list[Apply] = []  # from the sequence back towards the elementwise op
        source = outer
        while _time_view(source) and uses.get(id(source), 0) == 1:
            views.append(source.owner)
            source = source.owner.inputs[0]
        op_node = source.owner
        if op_node is None or not isinstance(op_node.op, Elemwise) or uses.get(id(source), 0) != 1:
            continue
        if sum(o is outer for o, _ in loop.seqs) != 1 or source.ndim < 1:
            continue
        args: list[Variable] = []
        for u in op_node.inputs:
            if isinstance(u, Constant) and u.ndim == 0:
                args.append(u)
            elif u.ndim == source.ndim and u.type.shape[0] != 1:  # runs along time: a new sequence
                sequence = u
                for view in reversed(views):
                    sequence = view.op(sequence, *view.inputs[1:])
                new_ph = TensorType(u.dtype, u.type.shape[1:])(u.name)
                loop.seqs.append((sequence, new_ph))
                args.append(new_ph)
            else:  # the same at every step: a non-sequence (its time axis, if any, is static 1)
                value = u[0] if u.ndim == source.ndim else u
                new_ph = value.type(value.name)
                loop.nonseqs.append((value, new_ph))
                args.append(new_ph)
        per_step = op_node.op(*args)
        if per_step.type != ph.type:
            return None
        del loop.seqs[position]
        loop.replace_inner({ph: per_step})
        return list(loop.build().outputs)
    return None


def sink_elementwise_sequences(outputs: Sequence[Variable]) -> list[Variable]:
    """A loop's sequence that is elementwise work over whole sequences (the loss's gradient seed
    ``2/N·h``, read by the backward loop) is computed per step inside the loop from views of them, so that
    no ``(T, ...)`` array is made for it.  Only when nothing else reads it (and the views between it and the
    loop only cut or reverse the time axis).

    The opposite of :func:`push_out_sequence_work`, which moves products out: a batched product saves
    time, a batched elementwise op mostly costs memory.
    """
    outputs = list(outputs)
    for _ in range(8):
        uses = use_counts(toposort(outputs), outputs)
        changed = False

        def on_node(current: Apply, uses: dict[int, int] = uses) -> list[Variable] | None:
            nonlocal changed
            if changed or not _is_scan(current):
                return None
            replacement = _sunk(current, uses)
            changed = replacement is not None
            return replacement

        outputs = rebuild(outputs, on_node)
        if not changed:
            break
    return outputs
