"""The ``Scan`` op: a loop whose body is an ordinary inner graph.

Normal form (``scan()`` brings every call into it):

- outer inputs: ``[n_steps, *sequences, *initial_states, *non_sequences]``;
  ``n_steps`` is an int64 scalar, ``-1`` meaning "the length of the shortest
  sequence"; each initial state has exactly ``n_init = -min(taps)`` rows;
- inner inputs: one slice per sequence, then one value per state tap, then one
  per non-sequence;
- inner outputs: each state's new value, then the per-step outputs that do not
  feed back ("nit-sot"), then the ``until`` condition if there is one;
- outer outputs: each state's *buffer* ``(n_init + n_steps, ...)`` (the initial
  rows, then one row per step), then each nit-sot trace ``(n_steps, ...)``.

In generated code the loop is a plain ``for`` over preallocated buffers, with
the inner graph emitted inline: no per-step function call, no interpretation.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symrnn.graph import (
    Apply,
    Constant,
    GraphShapeError,
    GraphTypeError,
    Op,
    TensorType,
    Variable,
    describe,
    structure_signature,
    toposort,
)
from symrnn.interpreter import evaluate
from symrnn.ops.blas import Dot, MatMul
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.fused import FusedElemwise
from symrnn.ops.indexing import IncSubtensor, Subtensor
from symrnn.ops.nnet import Softmax
from symrnn.ops.reduce import Reduce
from symrnn.ops.shape import Alloc, DimShuffle, Join, Reshape, Shape, ShapeI
from symrnn.scan.gradient import scan_grad


@dataclass(frozen=True)
class ScanInfo:
    n_seqs: int
    state_taps: tuple[tuple[int, ...], ...]  # per state, negative taps in increasing order
    n_nitsot: int
    n_nonseqs: int
    has_until: bool = False
    name: str = "scan"
    save_residuals: bool = True  # the gradient saves per-step values (False: recompute them, checkpointing)
    truncate_gradient: int = -1
    n_steps_given: bool = True  # False: run over the shortest sequence
    labels: tuple[str, ...] = ()  # per inner output (states, then nit-sots): how to name it in an error
    last_only: tuple[bool, ...] = ()  # per state: keep only its last n_init values (a ring), not every step
    reversed_rows: tuple[bool, ...] = ()  # per nit-sot: step t is stored in row n_steps-1-t (loop rewrites only)

    @property
    def n_states(self) -> int:
        return len(self.state_taps)

    def label(self, i: int) -> str:
        """The user's name for inner output ``i`` (say ``"output 1"``), for run-time errors."""
        return self.labels[i] if i < len(self.labels) else f"output {i}"

    def n_init(self, j: int) -> int:
        return -min(self.state_taps[j])

    def is_last_only(self, j: int) -> bool:
        return j < len(self.last_only) and self.last_only[j]

    def read_row(self, j: int, t: Any, tap: int) -> Any:
        """The buffer row a step reads for tap ``tap`` (an int, or source text when ``t`` is a name)."""
        k = self.n_init(j)
        if not self.is_last_only(j):
            return t + k + tap if isinstance(t, int) else f"{t} + {k + tap}"
        if k == 1:
            return 0
        return (t + k + tap) % k if isinstance(t, int) else f"({t} + {k + tap}) % {k}"

    def trace_row(self, k: int, t: Any, n: Any) -> Any:
        """The row of nit-sot ``k``'s trace that step ``t`` of ``n`` writes (source text for names)."""
        if not (k < len(self.reversed_rows) and self.reversed_rows[k]):
            return t
        return n - 1 - t if isinstance(t, int) else f"{n} - 1 - {t}"

    def write_row(self, j: int, t: Any) -> Any:
        """The buffer row a step writes."""
        k = self.n_init(j)
        if not self.is_last_only(j):
            return t + k if isinstance(t, int) else f"{t} + {k}"
        if k == 1:
            return 0
        return t % k if isinstance(t, int) else f"{t} % {k}"


def scan_length(n_steps: Any, sequences: Sequence[Any], name: str, given: bool = True) -> int:
    """The number of steps: ``n_steps``, or the length of the shortest sequence (Theano's rule)."""
    n_steps = int(n_steps)
    if given and n_steps < 0:
        raise ValueError(f"scan {name!r}: n_steps must not be negative, got {n_steps}")
    if not sequences:
        return n_steps
    shortest = min(len(s) for s in sequences)
    if not given:
        return shortest
    if n_steps > shortest:
        raise ValueError(f"scan {name!r}: n_steps={n_steps} but the shortest sequence has only {shortest} "
                         f"step(s)")
    return n_steps


def zero_step_shapes(op: Scan, sequences: Sequence[Any], inits: Sequence[Any],
                     nonsequences: Sequence[Any]) -> list[tuple[int, ...]]:
    """The shape of one step of each per-step output, for a loop that runs zero steps.

    No step ran, so the body runs once on zeros shaped like one step's inputs
    (a sequence's row, a state's row) and on the non-sequences, and only the
    shapes of its results are kept: a zero-step trace of ``h_t`` has shape
    ``(0, B, H)``, as the reference interpreter and every mode agree.  Where the
    body cannot run on zeros, the unknown sizes are 0.
    """
    info = op.info
    static = [op.inner_outputs[info.n_states + k].type.shape for k in range(info.n_nitsot)]
    fallback = [tuple(0 if d is None else d for d in shape) for shape in static]
    if all(None not in shape for shape in static):
        return fallback
    try:
        values = [np.zeros(np.shape(s)[1:], dtype=ph.dtype)
                  for s, ph in zip(sequences, op.inner_inputs[op.inner_slices()["seqs"]])]
        for j, taps in enumerate(info.state_taps):
            values += [np.zeros(np.shape(inits[j])[1:], dtype=op.inner_outputs[j].dtype)] * len(taps)
        values += [np.asarray(v) for v in nonsequences]
        with np.errstate(all="ignore"):
            results = evaluate(op.inner_outputs, {id(ph): v for ph, v in zip(op.inner_inputs, values)},
                               op.inner_nodes)
    except Exception:  # a body that needs real values (an index, a size): the static sizes will do
        return fallback
    return [tuple(np.shape(results[info.n_states + k])) for k in range(info.n_nitsot)]


@dataclass(frozen=True)
class _Row:
    """Where a loop asks an op to write a value (``CodegenContext.target``): ``row``, except on the first
    step (while ``first`` holds), when the op allocates and the loop checks and copies."""

    first: str  # source of the condition that holds on the first step
    row: str  # source of the buffer row after it

    def __str__(self) -> str:
        return f"(None if {self.first} else {self.row})"


class Scan(Op):
    """A symbolic loop; see the module docstring for its normal form.  Two Scan ops are equal only if identical."""

    def __init__(self, info: ScanInfo, inner_inputs: list[Variable], inner_outputs: list[Variable]) -> None:
        self.info = info
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.name = info.name
        self.inner_nodes = toposort(self.inner_outputs, stop_at=self.inner_inputs)
        self.base: Scan | None = None  # set on a copy that saves extra per-step values for the gradient
        self.augmented: dict[tuple[int, ...], Scan] = {}  # those copies, by the ids of the values they save

        self.signature = self._structure()

    def __getstate__(self) -> dict[str, Any]:
        """For pickling and deep copies: the inner nodes first (inputs before users, so that pickle meets each
        node's inputs already saved), and nothing keyed by object ids, which another process does not share
        (the signature, the shape cache, the index of augmented copies: rebuilt or remade when needed)."""
        state = {"inner_nodes": self.inner_nodes}
        skip = ("signature", "_fixed_shapes", "_step_private", "augmented")
        state.update((k, v) for k, v in self.__dict__.items() if k not in skip)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.augmented = {}
        self.signature = self._structure()

    def _structure(self) -> tuple:
        """The loop's structure, independent of variable identities: equal structures compute the same thing.

        This lets the merge rewrite recognise two identical loops (say, the
        backward loops of two ``grad`` calls on one cost) and run one.
        """
        return (self.info, structure_signature(self.inner_inputs, self.inner_nodes, self.inner_outputs))

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Scan) and self.signature == other.signature)

    def __hash__(self) -> int:
        return hash(self.signature)

    def __str__(self) -> str:
        return f"scan{{{self.info.name}}}"

    # ---- the layout of inputs and outputs
    def outer_slices(self) -> dict[str, slice]:
        i = self.info
        return {"seqs": slice(1, 1 + i.n_seqs),
                "inits": slice(1 + i.n_seqs, 1 + i.n_seqs + i.n_states),
                "nonseqs": slice(1 + i.n_seqs + i.n_states, 1 + i.n_seqs + i.n_states + i.n_nonseqs)}

    def inner_slices(self) -> dict[str, slice]:
        i = self.info
        n_taps = sum(len(t) for t in i.state_taps)
        return {"seqs": slice(0, i.n_seqs), "taps": slice(i.n_seqs, i.n_seqs + n_taps),
                "nonseqs": slice(i.n_seqs + n_taps, i.n_seqs + n_taps + i.n_nonseqs)}

    def make_node(self, n_steps: Variable, *outer: Variable) -> Apply:
        info = self.info
        inputs = [n_steps, *outer]
        if len(inputs) != 1 + info.n_seqs + info.n_states + info.n_nonseqs:
            raise GraphTypeError(f"{self}: wrong number of outer inputs")
        sl, inner = self.outer_slices(), self.inner_slices()
        inner_seqs, inner_taps = self.inner_inputs[inner["seqs"]], self.inner_inputs[inner["taps"]]
        for k, (seq, ph) in enumerate(zip(inputs[sl["seqs"]], inner_seqs)):
            if seq.dtype != ph.dtype or seq.ndim != ph.ndim + 1:
                raise GraphTypeError(f"{self}: sequence {k} is {describe(seq)}, expected {ph.dtype} with "
                                     f"{ph.ndim + 1} dimension(s)")
        taps = iter(inner_taps)
        for j, init in enumerate(inputs[sl["inits"]]):
            ph = next(taps)
            for _ in info.state_taps[j][1:]:
                next(taps)
            if init.dtype != ph.dtype or init.ndim != ph.ndim + 1:
                raise GraphTypeError(f"{self}: initial state {j} is {describe(init)}, expected {ph.dtype} with "
                                     f"{ph.ndim + 1} dimension(s)")
        for k, (ns, ph) in enumerate(zip(inputs[sl["nonseqs"]], self.inner_inputs[inner["nonseqs"]])):
            if ns.dtype != ph.dtype or ns.ndim != ph.ndim:
                raise GraphTypeError(f"{self}: non-sequence {k} is {describe(ns)}, expected {ph.type!r}")
        types = []
        for j in range(info.n_states):
            out = self.inner_outputs[j]
            rows = info.n_init(j) if info.is_last_only(j) else None
            types.append(TensorType(out.dtype, (rows, *out.type.shape)))
        for k in range(info.n_nitsot):
            out = self.inner_outputs[info.n_states + k]
            types.append(TensorType(out.dtype, (None, *out.type.shape)))
        return Apply(self, inputs, types)

    # ---- the reference: a Python loop over the inner graph, interpreted
    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        info, sl = self.info, self.outer_slices()
        seqs, inits, nonseqs = inputs[sl["seqs"]], inputs[sl["inits"]], inputs[sl["nonseqs"]]
        n = scan_length(inputs[0], seqs, info.name, info.n_steps_given)
        buffers = []
        for j, init in enumerate(inits):
            rows = info.n_init(j) + (0 if info.is_last_only(j) else n)
            buf = np.empty((rows, *init.shape[1:]), dtype=node.outputs[j].dtype)
            buf[: info.n_init(j)] = init
            buffers.append(buf)
        traces: list[np.ndarray | None] = [None] * info.n_nitsot
        done = n
        for t in range(n):
            env = {}
            values = [s[t] for s in seqs]
            for j, taps in enumerate(info.state_taps):
                values += [buffers[j][info.read_row(j, t, tap)] for tap in taps]
            values += list(nonseqs)
            for ph, value in zip(self.inner_inputs, values):
                env[id(ph)] = value
            results = evaluate(self.inner_outputs, env, self.inner_nodes)
            for j in range(info.n_states):
                _write_row(self, buffers[j], info.write_row(j, t), results[j], info.label(j))
            for k in range(info.n_nitsot):
                value = results[info.n_states + k]
                if traces[k] is None:
                    traces[k] = np.empty((n, *np.shape(value)), dtype=node.outputs[info.n_states + k].dtype)
                _write_row(self, traces[k], info.trace_row(k, t, n), value, info.label(info.n_states + k))
            if info.has_until and bool(results[-1]):
                done = t + 1
                break
        outs = [np.roll(buf, -(done % info.n_init(j)), axis=0) if info.is_last_only(j) else buf[: info.n_init(j) + done]
                for j, buf in enumerate(buffers)]
        for k, trace in enumerate(traces):
            if trace is None:
                shape = zero_step_shapes(self, seqs, inits, nonseqs)[k]
                trace = np.empty((0, *shape), dtype=node.outputs[info.n_states + k].dtype)
            outs.append(trace[:done])
        return outs

    # ---- code generation: a plain for loop
    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> list[tuple[str, Apply | None]]:
        info, sl, inner = self.info, self.outer_slices(), self.inner_slices()
        seqs, inits, nonseqs = inputs[sl["seqs"]], inputs[sl["inits"]], inputs[sl["nonseqs"]]
        n, t = ctx.fresh("n"), ctx.fresh("t")
        length, label = ctx.bind(scan_length, "scan_length"), ctx.comment(info.name, 40)
        name_const = ctx.bind(info.name, "scan_name")
        check = ctx.bind(_check_row, "check_row")
        lines: list[tuple[str, Apply | None]] = [
            (f"# scan {label} begins: {info.n_seqs} sequence(s), {info.n_states} state(s), "
             f"{info.n_nitsot} per-step output(s)", None),
            (f"{n} = {length}({inputs[0]}, ({', '.join(seqs)}{',' if seqs else ''}), {name_const}, "
             f"{info.n_steps_given})", node),
        ]
        # A state of which only the last value is kept, read one step back, is carried in a local name:
        # no copy into a buffer at every step.
        carried = {j: ctx.fresh("carry") for j in range(info.n_states)
                   if info.is_last_only(j) and info.n_init(j) == 1}
        for j, init in enumerate(inits):
            buf = outputs[j]
            if j in carried:
                lines.append((f"{carried[j]} = {init}[0]", node))
                continue
            rows = f"{info.n_init(j)}," if info.is_last_only(j) else f"{info.n_init(j)} + {n},"
            alloc = ctx.allocate(node.outputs[j], f"({rows}) + {init}.shape[1:]", node.outputs[j].dtype)
            lines += [(f"{buf} = {alloc}", node),
                      (f"{buf}[:{info.n_init(j)}] = {init}", node)]
        for k in range(info.n_nitsot):
            lines.append((f"{outputs[info.n_states + k]} = None", node))
        done = ctx.fresh("done")
        if info.has_until:
            lines.append((f"{done} = {n}", node))
        # Name the inner inputs: sequence slices and state taps are read at the top of each step.
        body: list[tuple[str, Apply | None]] = []
        for seq, ph in zip(seqs, self.inner_inputs[inner["seqs"]]):
            ctx.names[id(ph)] = ctx.fresh("x")
            body.append((f"{ctx.names[id(ph)]} = {seq}[{t}]", node))
        taps = iter(self.inner_inputs[inner["taps"]])
        for j, state_taps in enumerate(info.state_taps):
            for tap in state_taps:
                ph = next(taps)
                ctx.names[id(ph)] = ctx.fresh("h")
                source = carried[j] if j in carried else f"{outputs[j]}[{info.read_row(j, t, tap)}]"
                body.append((f"{ctx.names[id(ph)]} = {source}", node))
        for outer_name, ph in zip(nonseqs, self.inner_inputs[inner["nonseqs"]]):
            ctx.names[id(ph)] = outer_name
        # Ask the ops that compute the stored values to write them straight into their buffer rows from the
        # second step on (the first step allocates, is checked and copied): no copy per step.
        rows = self._rows_in_place(outputs, carried, t, n) if ctx.rows_in_place else {}
        targets = {id(v): (v, row) for v, row in rows.values()}
        pieces = self._pieces_in_place(targets)
        for key, (v, _) in list(targets.items()):
            if v.owner is not None and all(id(u) in pieces for u in v.owner.inputs):
                ctx.pieces[key] = [id(u) for u in v.owner.inputs]
        targets.update(pieces)
        for key, (_, row) in targets.items():
            ctx.targets[key] = str(row)
            ctx.written.discard(key)
        outer_first_step, ctx.first_step = ctx.first_step, (t, self.fixed_shapes())
        # Values that die with their step may be computed into the array the previous step made (out=): no
        # allocation per step (ctx.step_buffer).  Not under a guard, which may keep the values it sees.
        reuse = getattr(ctx, "rows_in_place", False) and getattr(ctx, "guard", None) is None
        outer_private, outer_buffers = getattr(ctx, "step_private", set()), getattr(ctx, "step_buffers", None)
        step_buffers: list[str] = []
        ctx.step_private, ctx.step_buffers = (self.step_private(), step_buffers) if reuse else (set(), None)
        body += ctx.emit_nodes(self.inner_nodes)
        ctx.first_step = outer_first_step
        ctx.step_private, ctx.step_buffers = outer_private, outer_buffers
        contexts: list[str] = []
        if getattr(ctx, "rows_in_place", False):
            body = self._hoist_errstate(body, lines, node, ctx, contexts)
        if step_buffers:
            lines.append((f"{' = '.join(step_buffers)} = None  # arrays that each step after the first reuses",
                          node))
        in_place = {i for i, (v, _) in rows.items() if id(v) in ctx.written}
        for key in targets:
            ctx.targets.pop(key, None)
            ctx.pieces.pop(key, None)
        first_step: list[tuple[str, Apply | None]] = []  # stores of states written in place after the first step
        fixed = self.fixed_shapes()
        for j in range(info.n_states):
            value, buf = ctx.name_of(self.inner_outputs[j]), outputs[j]
            shape_of = f"{inits[j]}" if j in carried else buf
            # A value whose shape follows from the step's inputs keeps its first step's shape: check it once.
            once = f"{t} == 0 and " if j not in in_place and id(self.inner_outputs[j]) in fixed else ""
            store = [(f"if {once}xp.shape({value}) != {shape_of}.shape[1:]:", node),
                     (f"    {check}({name_const}, {ctx.bind(info.label(j), 'what')}, {shape_of}, {value})", node)]
            if j in carried:
                store.append((f"{carried[j]} = {value}", node))
            else:
                store.append((f"{buf}[{info.write_row(j, t)}] = {value}", node))
            if j in in_place:
                first_step += [(f"    {text}", owner) for text, owner in store]
            else:
                body += store
        if first_step:
            body += [(f"if {t} == 0:", node), *first_step]
        for k in range(info.n_nitsot):
            trace, value = outputs[info.n_states + k], ctx.name_of(self.inner_outputs[info.n_states + k])
            what = ctx.bind(info.label(info.n_states + k), "what")
            alloc = ctx.allocate(node.outputs[info.n_states + k], f"({n},) + xp.shape({value})",
                                 node.outputs[info.n_states + k].dtype)
            if info.n_states + k in in_place:  # written in place after the first step
                body += [(f"if {trace} is None:", node),
                         (f"    {trace} = {alloc}", node),
                         (f"    {trace}[{info.trace_row(k, t, n)}] = {value}", node)]
                continue
            body += [(f"if {trace} is None:", node),
                     (f"    {trace} = {alloc}", node),
                     (f"elif xp.shape({value}) != {trace}.shape[1:]:", node),
                     (f"    {check}({name_const}, {what}, {trace}, {value})", node),
                     (f"{trace}[{info.trace_row(k, t, n)}] = {value}", node)]
        if info.has_until:
            body += [(f"if {ctx.name_of(self.inner_outputs[-1])}:", node),
                     (f"    {done} = {t} + 1", node), ("    break", node)]
        lines.append((f"for {t} in range({n}):", node))
        lines += [(f"    {text}", owner) for text, owner in body]
        for k in range(info.n_nitsot):
            trace = outputs[info.n_states + k]
            lines.append((f"if {trace} is None:  # zero steps", node))
            lines.append((f"    {trace} = {self.empty_trace_source(node, k, inputs, ctx)}", node))
        for j, name in carried.items():  # a copy: the last value may be a view of something else
            lines.append((f"{outputs[j]} = xp.array({name}, dtype={node.outputs[j].dtype!r})[None]", node))
        lines += [(line, node) for line in self.after_steps_source(outputs, done if info.has_until else n)]
        # The last step's names would keep their arrays (and whole sequences, through a row's view) alive
        # until the function returns: let them go now.
        step_names = [ctx.names[id(ph)] for ph in self.inner_inputs[inner["seqs"]]]
        step_names += [ctx.names[id(ph)] for ph in self.inner_inputs[inner["taps"]]]
        step_names += [ctx.names[id(v)] for n in self.inner_nodes for v in n.outputs if id(v) in ctx.names]
        step_names += step_buffers + contexts
        if step_names:
            lines.append((f"{' = '.join(dict.fromkeys(step_names))} = None", node))
        lines.append((f"# scan {label} ends", None))
        return lines

    def empty_trace_source(self, node: Apply, k: int, inputs: list[str], ctx: Any) -> str:
        """Source of per-step output ``k``'s trace when the loop ran no step: an empty array shaped like one
        step, from the static shape or, where that is unknown, from the body (:func:`zero_step_shapes`)."""
        sl = self.outer_slices()
        shape: Any = node.outputs[self.info.n_states + k].type.shape[1:]
        if None in shape:
            listed = ["".join(f"{v}, " for v in inputs[sl[part]]) for part in ("seqs", "inits", "nonseqs")]
            shape = (f"{ctx.bind(zero_step_shapes, 'zero_step_shapes')}({ctx.bind(self, 'loop')}, "
                     f"({listed[0]}), ({listed[1]}), ({listed[2]}))[{k}]")
        return f"xp.empty((0,) + {shape}, dtype={node.outputs[self.info.n_states + k].dtype!r})"

    def after_steps_source(self, outputs: list[str], steps_done: str) -> list[str]:
        """Source lines that finish the loop's outputs once ``steps_done`` (a name) steps ran: each ring of
        last values put oldest first and, for a loop with ``until``, each buffer and trace cut to the steps
        that ran."""
        info, lines = self.info, []
        for j in range(info.n_states):
            if info.is_last_only(j) and info.n_init(j) > 1:  # the ring, oldest value first
                lines.append(f"{outputs[j]} = xp.roll({outputs[j]}, -({steps_done} % {info.n_init(j)}), axis=0)")
        if info.has_until:
            for j in range(info.n_states):
                if not info.is_last_only(j):
                    lines.append(f"{outputs[j]} = {outputs[j]}[:{info.n_init(j)} + {steps_done}]")
            for k in range(info.n_nitsot):
                lines.append(f"{outputs[info.n_states + k]} = {outputs[info.n_states + k]}[:{steps_done}]")
        return lines

    def _hoist_errstate(self, body: list[tuple[str, Apply | None]], lines: list[tuple[str, Apply | None]],
                        node: Apply, ctx: Any, names: list[str]) -> list[tuple[str, Apply | None]]:
        """A step's ``with np.errstate(over='ignore'): xp.f(...)`` (sigmoid's ``exp``) becomes
        ``ignore.run(xp.f, ...)``, where ``ignore`` is a copy of the running context with overflow ignored,
        made once before the first step (:func:`overflow_ignored`, appended to ``lines``): the same numbers
        and the same warnings (every other op of the step keeps the caller's settings), without entering
        and leaving an ``errstate`` (six Python calls, about 1 µs) at every step.  The context's name is
        added to ``names``, which the loop lets go when it ends."""
        ignore, hoisted = None, []
        for text, owner in body:
            found = _IGNORE_OVER.match(text)
            if found is None:
                hoisted.append((text, owner))
                continue
            if ignore is None:
                ignore = ctx.fresh("ignore_over")
                names.append(ignore)
                lines.append((f"{ignore} = {ctx.bind(overflow_ignored, 'overflow_ignored')}()", node))
            hoisted.append((f"{found['indent']}{ignore}.run({found['call']}, {found['args']})", owner))
        return hoisted

    def _rows_in_place(self, outputs: list[str], carried: dict[int, str], t: str,
                       n: str) -> dict[int, tuple[Variable, _Row]]:
        """``inner output index -> (value, row)``: the stored values an op may compute straight into ``row``,
        source that is ``None`` on the first step (when the value is allocated, checked and copied) and the
        buffer row after.  Only values whose shape cannot change from step to step (:meth:`fixed_shapes`)
        qualify, since ``out=`` would broadcast a smaller result silently; a value stored twice is written
        in place once."""
        info, fixed = self.info, self.fixed_shapes()
        computed = {id(v) for n in self.inner_nodes for v in n.outputs}
        rows: dict[int, tuple[Variable, _Row]] = {}
        seen: set[int] = set()
        for i, v in enumerate(self.inner_outputs[:info.n_states + info.n_nitsot]):
            if i in carried or id(v) in seen or id(v) not in computed or id(v) not in fixed or v.ndim == 0:
                continue
            seen.add(id(v))
            if i < info.n_states:
                rows[i] = (v, _Row(f"{t} == 0", f"{outputs[i]}[{info.write_row(i, t)}]"))
            else:
                row = info.trace_row(i - info.n_states, t, n)
                rows[i] = (v, _Row(f"{outputs[i]} is None", f"{outputs[i]}[{row}]"))
        return rows

    def _pieces_in_place(self, targets: dict[int, tuple[Variable, _Row]]) -> dict[int, tuple[Variable, _Row]]:
        """Where a value written into a row is a concatenation, its pieces are computed into their slices of
        that row (when every piece has a static width and a fixed shape, is computed in the body and is
        written nowhere else), so that the concatenation has nothing left to copy (``ctx.pieces``, see
        :class:`~symrnn.ops.shape.Join`)."""
        fixed = self.fixed_shapes()
        computed = {id(v) for n in self.inner_nodes for v in n.outputs}
        taken = set(targets)
        pieces: dict[int, tuple[Variable, _Row]] = {}
        for v, row in targets.values():
            if v.owner is None or not isinstance(v.owner.op, Join):
                continue
            axis, start, mine = v.owner.op.axis, 0, {}
            for u in v.owner.inputs:  # all of them, or none
                width = u.type.shape[axis] if u.ndim == v.ndim else None
                if width is None or id(u) not in computed or id(u) not in fixed or id(u) in taken or \
                        id(u) in mine or u.dtype != v.dtype:
                    break
                index = ", ".join([":"] * axis + [f"{start}:{start + width}"])
                mine[id(u)] = (u, _Row(row.first, f"{row.row}[{index}]"))
                start += width
            else:
                taken.update(mine)
                pieces.update(mine)
        return pieces

    def step_private(self) -> set[int]:
        """Ids of the inner values computed in the body whose shape is the same at every step and which
        nothing that outlives their step can be or view: not an inner output (a state, which the next step
        reads, a stored or carried value, the ``until`` condition) nor anything an inner output may be a
        view of.  An op that does not surely make a new array is taken to return a view of its inputs.
        Such a value may be computed into the array that held it at the previous step (``out=``)."""
        cached = self.__dict__.get("_step_private")
        if cached is not None:
            return cached
        fresh = (Elemwise, FusedElemwise, Dot, MatMul, Reduce, Join, Softmax)
        escapes = {id(v) for v in self.inner_outputs}
        for node in reversed(self.inner_nodes):
            if not isinstance(node.op, fresh) and any(id(v) in escapes for v in node.outputs):
                escapes.update(id(v) for v in node.inputs)
        fixed = self.fixed_shapes()
        private = {id(v) for node in self.inner_nodes if isinstance(node.op, fresh) for v in node.outputs
                   if id(v) in fixed and id(v) not in escapes}
        self._step_private = private
        return private

    def fixed_shapes(self) -> set[int]:
        """Ids of the inner values whose shape is the same at every step (a conservative answer).

        The inner inputs qualify (a sequence's rows, state taps, which are
        checked at every step, and non-sequences), and so does what ops compute
        from them when the output's shape follows from the inputs' shapes, or
        from shape arguments that are the same at every step.
        """
        cached = self.__dict__.get("_fixed_shapes")
        if cached is not None:  # the inner graph never changes: work it out once
            return cached
        shaped = {id(v) for v in self.inner_inputs}
        valued = {id(v) for v in self.inner_inputs[self.inner_slices()["nonseqs"]]}  # same value every step

        def fixed(v: Variable, ids: set[int]) -> bool:
            return isinstance(v, Constant) or id(v) in ids

        for node in self.inner_nodes:
            op, ins = node.op, node.inputs
            if isinstance(op, (Shape, ShapeI)) and fixed(ins[0], shaped):
                same_shape, same_value = True, True
            elif isinstance(op, (Elemwise, FusedElemwise, Dot, MatMul, DimShuffle, Reduce, Join, Softmax)):
                same_shape = all(fixed(v, shaped) for v in ins)
                same_value = same_shape and all(fixed(v, valued) for v in ins)
            elif isinstance(op, (Subtensor, Reshape, Alloc, IncSubtensor)):
                data = 2 if isinstance(op, IncSubtensor) else 1  # then the arguments that shape the result
                same_shape = all(fixed(v, shaped) for v in ins[:data]) and all(fixed(v, valued) for v in ins[data:])
                same_value = False
            else:
                continue
            if same_shape:
                shaped.update(id(v) for v in node.outputs)
            if same_value:
                valued.update(id(v) for v in node.outputs)
        self._fixed_shapes = shaped
        return shaped

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        if any(self.info.reversed_rows):  # only the compiler's loop rewrites make these, after grad()
            raise NotImplementedError(f"{self}: the gradient of a loop that stores rows in reverse")

        return scan_grad(node, output_grads)


_IGNORE_OVER = re.compile(r"^(?P<indent>\s*)with np\.errstate\(over='ignore'\): (?P<call>xp\.\w+)\((?P<args>.+)\)$")


def overflow_ignored() -> contextvars.Context:
    """A copy of the running context in which NumPy ignores floating-point overflow and keeps every other
    error setting as the caller has it: ``context.run(np.exp, x, out=y)`` does what
    ``with np.errstate(over='ignore'): np.exp(x, out=y)`` does, at a twentieth of the cost.  A loop makes
    one before its first step; each call makes its own, so threads never share one."""
    with np.errstate(over="ignore"):
        return contextvars.copy_context()


def _check_row(name: str, what: str, buffer: np.ndarray, value: Any) -> None:
    raise GraphShapeError(f"scan {name!r}: the step returned {what} with shape {np.shape(value)}, but "
                          f"earlier steps (or its initial value) have shape {buffer.shape[1:]}")


def _write_row(op: Scan, buffer: np.ndarray, row: int, value: np.ndarray, what: str) -> None:
    if np.shape(value) != buffer.shape[1:]:
        raise GraphShapeError(f"scan {op.info.name!r}: the step returned {what} with shape {np.shape(value)}, but "
                              f"earlier steps (or its initial value) have shape {buffer.shape[1:]}")
    buffer[row] = value
