"""Backpropagation through time: the gradient of a ``Scan`` is another ``Scan``, running backwards.

For a forward step ``outputs_t = f(seq_t, state taps, non_sequences)``, the
backward step receives, reversed in time, everything the forward step read plus
the gradients arriving at step ``t``, and carries:

- for each float state and each of its taps ``-k``, the gradient flowing into
  the state value ``k`` steps back (a backward state with tap ``-k``);
- for each float non-sequence, the gradient summed over steps so far.

Its per-step outputs are the gradients of the sequences.  What the backward
step needs from the forward step (say ``tanh(...)``) is *saved*: the forward
scan is replaced by a copy with those values as extra per-step outputs, so the
backward pass reuses them instead of recomputing them.  With
``save_residuals=False`` (checkpointing) they are recomputed instead.
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import Any

from symrnn.autodiff import grad
from symrnn.graph import FLOAT_DTYPES, Apply, Op, Variable, clone_replace, grad_undefined, toposort
from symrnn.ops.elemwise import cast, eq, minimum
from symrnn.ops.indexing import inc_subtensor
from symrnn.ops.shape import reshape, shape_i, zeros_like


def _sum(terms: list[Variable]) -> Variable | None:
    total = None
    for term in terms:
        total = term if total is None else total + term
    return total


def _time_varying(op: Op) -> set[int]:
    """Ids of inner variables that change from step to step (they depend on a sequence or a state)."""
    sl = op.inner_slices()
    varying = {id(v) for v in op.inner_inputs[sl["seqs"]]} | {id(v) for v in op.inner_inputs[sl["taps"]]}
    for node in op.inner_nodes:
        if any(id(v) in varying for v in node.inputs):
            varying.update(id(v) for v in node.outputs)
    return varying


def _residuals(op: Op, grads: list[Variable]) -> list[Variable]:
    """Forward inner values that the gradient graph reads and that vary per step: the ones worth saving."""
    forward_nodes = {id(n) for n in op.inner_nodes}
    varying = _time_varying(op)
    found: dict[int, Variable] = {}
    for node in toposort(grads, stop_at=op.inner_inputs):
        if id(node) in forward_nodes:
            continue
        for var in node.inputs:
            if var.owner is not None and id(var.owner) in forward_nodes and id(var) in varying:
                found.setdefault(id(var), var)
    for var in grads:
        if var.owner is not None and id(var.owner) in forward_nodes and id(var) in varying:
            found.setdefault(id(var), var)
    return list(found.values())


def scan_grad(node: Apply, output_grads: list[Any]) -> list[Any]:
    """The gradients of a Scan node's outer inputs, as a backward Scan (see the module docstring).

    ``Scan.grad`` calls this, so this module is below ``symrnn.scan.op`` and builds the forward copy and
    the backward loop with the node's own op class.
    """
    op = node.op
    Scan = type(op)  # noqa: N806 - the loop class itself
    info = op.info
    n_inputs = len(node.inputs)
    if info.has_until:
        return [None] + [grad_undefined(op, i, "the gradient of a scan with until() is not implemented")
                         for i in range(1, n_inputs)]
    outer, inner = op.outer_slices(), op.inner_slices()
    seqs, inits, nonseqs = node.inputs[outer["seqs"]], node.inputs[outer["inits"]], node.inputs[outer["nonseqs"]]
    in_seqs, in_taps, in_nonseqs = (op.inner_inputs[inner["seqs"]], op.inner_inputs[inner["taps"]],
                                    op.inner_inputs[inner["nonseqs"]])
    taps_of: list[list[Variable]] = []
    position = 0
    for taps in info.state_taps:
        taps_of.append(in_taps[position: position + len(taps)])
        position += len(taps)
    n_states = info.n_states
    float_states = [j for j in range(n_states) if op.inner_outputs[j].dtype in FLOAT_DTYPES]
    grad_seqs = [i for i, s in enumerate(in_seqs) if s.dtype in FLOAT_DTYPES]
    grad_nonseqs = [i for i, s in enumerate(in_nonseqs) if s.dtype in FLOAT_DTYPES]

    # ---- the backward step, first in terms of the forward inner graph
    carried = {j: {-tap: op.inner_outputs[j].type(f"dstate{j}_tap{tap}") for tap in info.state_taps[j]}
               for j in float_states}
    direct_state = {j: op.inner_outputs[j].type(f"dstate{j}") for j in float_states if output_grads[j] is not None}
    direct_nitsot = {k: op.inner_outputs[n_states + k].type(f"dout{k}") for k in range(info.n_nitsot)
                     if output_grads[n_states + k] is not None
                     and op.inner_outputs[n_states + k].dtype in FLOAT_DTYPES}
    known: dict[Variable, Variable] = {}
    for j in float_states:
        total = _sum(list(carried[j].values()) + ([direct_state[j]] if j in direct_state else []))
        known[op.inner_outputs[j]] = total if op.inner_outputs[j] not in known else known[op.inner_outputs[j]] + total
    for k, ph in direct_nitsot.items():
        out = op.inner_outputs[n_states + k]
        known[out] = ph if out not in known else known[out] + ph
    wrt = ([in_seqs[i] for i in grad_seqs] + [p for j in float_states for p in taps_of[j]]
           + [in_nonseqs[i] for i in grad_nonseqs])
    if not known or not wrt:
        return [None] * n_inputs
    inner_grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore", return_disconnected="none")
    d_seq = dict(zip(grad_seqs, inner_grads[: len(grad_seqs)]))
    rest = inner_grads[len(grad_seqs):]
    d_tap: dict[tuple[int, int], Any] = {}
    for j in float_states:
        for tap in info.state_taps[j]:
            d_tap[(j, -tap)] = rest.pop(0)
    d_nonseq = dict(zip(grad_nonseqs, rest))

    # ---- save what the backward step reads from the forward step (or recompute it, when checkpointing)
    found = [g for g in inner_grads if g is not None]
    residuals = _residuals(op, found) if info.save_residuals else []
    saved_by_state = {id(op.inner_outputs[j]): j for j in range(n_states)}
    saved_by_nitsot = {id(op.inner_outputs[n_states + k]): k for k in range(info.n_nitsot)}
    extra = [r for r in residuals if id(r) not in saved_by_state and id(r) not in saved_by_nitsot]
    forward = node
    if extra or any(info.is_last_only(j) for j in range(n_states)):
        # One augmented op per set of saved values: a second grad() of the same scan (say, one per parameter)
        # gets the same op, and merge_augmented_scans then runs its forward loop once.
        key = tuple(id(r) for r in extra)
        aug_op = op.augmented.get(key)
        if aug_op is None:
            # The backward loop reads every state's per-step values, so the copy keeps whole buffers.
            aug_info = dc_replace(info, n_nitsot=info.n_nitsot + len(extra), last_only=())
            aug_outputs = op.inner_outputs[: n_states + info.n_nitsot] + extra
            aug_op = Scan(aug_info, op.inner_inputs, aug_outputs)
            aug_op.base = op
            op.augmented[key] = aug_op
        forward = aug_op.make_node(*node.inputs)
        forward.take_origin(node)
    buffers = forward.outputs[:n_states]
    output_grads = list(output_grads)
    for j in range(n_states):
        if info.is_last_only(j) and output_grads[j] is not None:
            # The gradient of the ring (the last n_init rows) is the whole buffer's, zero above those rows.
            output_grads[j] = inc_subtensor(zeros_like(buffers[j])[-info.n_init(j):], output_grads[j])

    if n_states:
        n_fwd = shape_i(buffers[0], 0) - info.n_init(0)
    else:
        n_fwd = shape_i(forward.outputs[n_states], 0)
    n_bwd = n_fwd if info.truncate_gradient <= 0 else minimum(n_fwd, info.truncate_gradient)
    start = n_fwd - n_bwd

    def backwards(aligned: Variable) -> Variable:
        """Rows ``start .. n_fwd`` of a per-step array, last step first."""
        return aligned[start:n_fwd][::-1]

    # ---- the backward scan's inputs: sequences (reversed), carried states, non-sequences
    bwd_seqs_outer: list[Variable] = []
    replace: dict[Variable, Variable] = {}
    bwd_seq_ph: list[Variable] = []

    def add_sequence(outer_aligned: Variable, placeholder: Variable) -> None:
        bwd_seqs_outer.append(backwards(outer_aligned))
        bwd_seq_ph.append(placeholder)

    for seq, ph in zip(seqs, in_seqs):
        new = ph.type(ph.name)
        replace[ph] = new
        add_sequence(seq, new)
    for j, taps in enumerate(info.state_taps):
        for tap, ph in zip(taps, taps_of[j]):
            new = ph.type(ph.name)
            replace[ph] = new
            offset = info.n_init(j) + tap
            add_sequence(buffers[j][offset:], new)
    for r in residuals:
        new = r.type(f"saved_{r.owner.op}" if r.owner is not None else None)
        replace[r] = new
        if id(r) in saved_by_state:
            j = saved_by_state[id(r)]
            add_sequence(buffers[j][info.n_init(j):], new)
        elif id(r) in saved_by_nitsot:
            add_sequence(forward.outputs[n_states + saved_by_nitsot[id(r)]], new)
        else:
            add_sequence(forward.outputs[n_states + info.n_nitsot + extra.index(r)], new)
    for j, ph in direct_state.items():
        add_sequence(output_grads[j][info.n_init(j):], ph)
    for k, ph in direct_nitsot.items():
        add_sequence(output_grads[n_states + k], ph)

    bwd_state_taps: list[tuple[int, ...]] = []
    bwd_state_ph: list[Variable] = []
    bwd_state_init: list[Variable] = []
    bwd_state_out: list[Variable] = []
    carried_keys: list[tuple[int, int]] = []
    for j in float_states:
        for k, ph in sorted(carried[j].items()):
            g = d_tap[(j, k)]
            bwd_state_taps.append((-k,))
            bwd_state_ph.append(ph)
            bwd_state_init.append(zeros_like(buffers[j][:k]))
            bwd_state_out.append(g if g is not None else zeros_like(ph))
            carried_keys.append((j, k))
    acc_keys = [i for i in grad_nonseqs if d_nonseq[i] is not None]
    for i in acc_keys:
        acc = in_nonseqs[i].type(f"dsum_{in_nonseqs[i].name or i}")
        bwd_state_taps.append((-1,))
        bwd_state_ph.append(acc)
        init = zeros_like(nonseqs[i])
        bwd_state_init.append(init.dimshuffle("x", *range(init.ndim)))
        bwd_state_out.append(acc + d_nonseq[i])
    seq_keys = [i for i in grad_seqs if d_seq[i] is not None]
    nitsot_out = [d_seq[i] for i in seq_keys]

    bwd_nonseq_ph = []
    for ph in in_nonseqs:
        new = ph.type(ph.name)
        replace[ph] = new
        bwd_nonseq_ph.append(new)

    inner_outputs = clone_replace(bwd_state_out + nitsot_out, replace)
    bwd_info = dc_replace(info, n_seqs=len(bwd_seqs_outer), state_taps=tuple(bwd_state_taps),
                          n_nitsot=len(nitsot_out), n_nonseqs=len(nonseqs), has_until=False,
                          name=f"grad_of_{info.name}", save_residuals=True, truncate_gradient=-1,
                          n_steps_given=True, labels=(),
                          last_only=(True,) * len(bwd_state_taps))  # only their final values are read
    bwd_op = Scan(bwd_info, bwd_seq_ph + bwd_state_ph + bwd_nonseq_ph, inner_outputs)
    bwd_node = bwd_op.make_node(cast(n_bwd, "int64"), *bwd_seqs_outer, *bwd_state_init, *nonseqs)
    bwd_node.trace = node.trace  # its scope stays grad/..., where grad() built it
    bwd_buffers = bwd_node.outputs[: len(bwd_state_taps)]
    bwd_traces = bwd_node.outputs[len(bwd_state_taps):]

    # ---- the outer gradients
    result: list[Any] = [None] * n_inputs
    for m, i in enumerate(seq_keys):
        seq = seqs[i]
        result[outer["seqs"].start + i] = inc_subtensor(zeros_like(seq)[start:n_fwd], bwd_traces[m][::-1])
    whole = None
    if info.truncate_gradient > 0:
        whole = cast(eq(n_bwd, n_fwd), float_dtype_of(inits, float_states))
    for j in float_states:
        n_init = info.n_init(j)
        g_init = output_grads[j][:n_init] if output_grads[j] is not None else zeros_like(inits[j])
        for m, (state, k) in enumerate(carried_keys):
            if state != j:
                continue
            contribution = bwd_buffers[m][-k:][::-1]
            if whole is not None:
                contribution = contribution * cast(whole, contribution.dtype)
            g_init = inc_subtensor(g_init[n_init - k:], contribution)
        # The initial rows are exactly n_init; say so statically (sit-sot inits are dimshuffled size-1 axes).
        g_init = reshape(g_init, [n_init] + [shape_i(g_init, a) for a in range(1, g_init.ndim)])
        result[outer["inits"].start + j] = g_init
    for m, i in enumerate(acc_keys):
        result[outer["nonseqs"].start + i] = bwd_buffers[len(carried_keys) + m][-1]
    return result


def float_dtype_of(inits: list[Variable], float_states: list[int]) -> str:
    return inits[float_states[0]].dtype if float_states else "float64"
