"""Whole loops as numba functions (``config.kernels = "numba"``, optional).

On the NumPy path a loop is a Python ``for`` whose every step makes a dozen or
more NumPy calls, each with about half a microsecond of overhead: with small
batches that overhead is most of the step.  With ``config.kernels = "numba"``
a scan whose body numba can take becomes one ``numba.njit`` function that runs
every step: matrix products through numba's BLAS-backed ``np.dot``, elementwise
work (fused chains included) as loops over the elements, slices as views, and
no Python between steps.

The function is generated from the compiled (rewritten) inner graph, never
from user text: its only names are its own (``s0`` for sequences, ``i0`` for
initial states, ``c0`` for non-sequences, ``k0`` for constants, ``b0``/``r0``
for state buffers and traces, ``m0`` for a trace's bytes, ``v0``, ``e0``...
for values, ``q0``... for element loops).  Each op's numba form is
one function in :data:`LOOP_OPS`; a body with an op outside it stays a NumPy
loop, and :meth:`symrnn.compile.function.Function.kernels_report` says why.

Results: arithmetic is rounded to each node's dtype, as NumPy does, so it
matches the NumPy loop bit for bit; ``exp``, ``tanh``, ``log``... come from the
C library one element at a time (NumPy's vectorised versions differ in the
last bit) and the products from SciPy's BLAS, so a loop with either matches
within float rounding.  Errors: every shape the NumPy loop checks is checked
here too, and the kernel raises ``ValueError``/``IndexError``; the compiled
function then re-runs the graph as built to name the user's variable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symrnn.compile import numba_kernels
from symrnn.graph import Apply, Constant, Variable
from symrnn.ops.blas import Dot, MatMul
from symrnn.ops.elemwise import Cast, Elemwise
from symrnn.ops.fused import FusedElemwise
from symrnn.ops.indexing import Subtensor, index_source
from symrnn.ops.shape import Alloc, DimShuffle, Join, ShapeI
from symrnn.scan.op import Scan, scan_length


class Unsupported(Exception):
    """Why a loop stays a NumPy loop (the message says it in a user's words)."""


@dataclass
class LoopReport:
    """How one loop of a compiled function runs.  ``kind`` is ``"numba"`` (one numba function runs every
    step while the steps are at most ``limit`` elements, the NumPy loop above that) or ``"numpy"``
    (``reason`` says why); ``calls`` counts how each call ran so far (``{"numba": 3, "numpy": 0}``)."""

    loop: str
    kind: str
    reason: str = ""
    work: str = "math"  # "math" or "arithmetic": which STEP_LIMIT applies
    calls: dict[str, int] = field(default_factory=lambda: {"numba": 0, "numpy": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def limit(self) -> int | None:
        """The largest step, in elements, that runs as a numba function (:data:`STEP_LIMIT`, read now;
        ``None``: any)."""
        return STEP_LIMIT[self.work]

    def count(self, kind: str) -> bool:
        """Count one call run as ``kind``; true (the generated code calls it inside an ``if``)."""
        with self._lock:
            self.calls[kind] += 1
        return True

    def __str__(self) -> str:
        if self.kind != "numba":
            return f"scan {self.loop!r}: NumPy loop ({self.reason})"
        when = "" if self.limit is None else f" when a step has at most {self.limit} elements, else the NumPy loop"
        return (f"scan {self.loop!r}: one numba function for the whole loop{when} (calls so far: "
                f"{self.calls['numba']} numba, {self.calls['numpy']} NumPy)")


class _Body:
    """The kernel source being written: its lines, the names of the inner values, and the constants it takes
    as arguments."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[int, str] = {}
        self.constants: list[Constant] = []
        self.c_order: set[int] = set()  # ids of the values that numba knows to be C-contiguous arrays
        self.views: dict[int, tuple[str, list[str]]] = {}  # id(block) -> (contiguous array, offset per axis)
        self.targets: dict[int, tuple[str, ...]] = {}  # id(stored value) -> where to compute it (see into)
        self._count = 0

    def fresh(self, hint: str = "v") -> str:
        self._count += 1
        return f"{hint}{self._count}"

    def name(self, var: Variable) -> str:
        if id(var) not in self.names:
            if not isinstance(var, Constant):
                raise Unsupported(f"the body reads a value from outside the loop ({var})")
            k = len(self.constants)
            self.constants.append(var)
            self.names[id(var)] = f"k{k}" if var.ndim else f"k{k}[0]"
        return self.names[id(var)]

    def emit(self, text: str, depth: int = 2) -> None:
        self.lines.append("    " * depth + text)

    def into(self, var: Variable, out: str, sizes: list[str]) -> bool:
        """Where ``var`` is stored by the loop (a state's or a trace's row, see :attr:`targets`): make ``out``
        that row (the trace is made on the first step, in the bytes the caller passed when they suffice),
        check that the value's ``sizes`` fit it, and return True; else False."""
        target = self.targets.get(id(var))
        if target is None:
            return False
        kind, array, row, *_ = target
        if kind == "trace":
            self.make_trace(target, " * ".join(sizes), f"({', '.join(sizes)},)")
        self.emit(f"{out} = {array}[{row}]")
        for axis, size in enumerate(sizes):
            self.emit(f"if {out}.shape[{axis}] != {size}:")
            self.emit(f"    raise ValueError('the step returned a {kind} of another shape')")
        self.c_order.add(id(var))
        return True

    def make_trace(self, target: tuple[str, ...], count: str, shape: str) -> None:
        """On the first step, make the trace of ``target`` (a ``"trace"`` entry of :attr:`targets`) for rows
        of ``count`` elements of shape ``shape`` (source), in the bytes the caller passed when they suffice."""
        _, array, _, raw, dtype, itemsize = target
        self.emit("if t == 0:")
        self.emit(f"    nbytes = n * {itemsize} * {count}")
        self.emit(f"    if {raw}.size < nbytes:")
        self.emit(f"        {raw} = np.empty(nbytes, np.uint8)")
        self.emit(f"    {array} = {raw}[:nbytes].view({dtype}).reshape((n,) + {shape})")

    def store(self, array: str, row: str, value: str, ndim: int, what: str) -> None:
        """``array[row] = value`` for a value that was not computed in its row, its shape checked first."""
        if not ndim:
            self.emit(f"{array}[{row}] = {value}")
            return
        destination = self.fresh("row")
        self.emit(f"{destination} = {array}[{row}]")
        self.emit(f"if {value}.shape != {destination}.shape:")
        self.emit(f"    raise ValueError('the step returned a {what} of another shape')")
        self.copy(destination, value, ndim)

    def copy(self, destination: str, source: str, ndim: int) -> None:
        """Element loops that copy ``source`` into ``destination`` (same shape): an array assignment costs
        numba seconds to compile, a loop almost nothing."""
        for axis in range(ndim):
            self.emit(f"for q{axis} in range({destination}.shape[{axis}]):", 2 + axis)
        index = ", ".join(f"q{axis}" for axis in range(ndim))
        self.emit(f"{destination}[{index}] = {source}[{index}]", 2 + ndim)


def _dtype(var: Variable) -> str:
    return f"np.{np.dtype(var.dtype).name}"


# ---- elementwise work: a loop over the output's elements, each inner op one scalar expression
def _scalar_graph(node: Apply) -> tuple[list[Variable], list[Apply], Variable]:
    op = node.op
    if isinstance(op, FusedElemwise):
        return op.fused_inputs, op.fused_nodes, op.fused_output
    return node.inputs, [node], node.outputs[0]


def _scalar_expression(inner: Apply, args: list[str]) -> str:
    op, out = inner.op, inner.outputs[0]
    name = op.name
    if isinstance(op, Cast):
        return f"{_dtype(out)}({args[0]})"
    dtypes = {v.dtype for i, v in enumerate(inner.inputs) if i not in op.conditions}
    computes = out.dtype if not op.comparison else next(iter(dtypes))
    template = numba_kernels.FLOAT32_CODE.get(name) if computes == "float32" else None
    template = template or numba_kernels.SCALAR_CODE.get(name)
    if template is None:
        raise Unsupported(f"numba has no elementwise form of {name!r} here")
    if len(dtypes) != 1 or (not op.comparison and dtypes != {out.dtype}):
        raise Unsupported(f"{name!r} mixes dtypes ({', '.join(v.dtype for v in inner.inputs)} -> {out.dtype})")
    if np.dtype(computes).kind not in "biuf":
        raise Unsupported(f"{name!r} on {computes}")
    value = template.format(*args, T=f"np.{np.dtype(computes).name}")
    return value if out.dtype == "bool" else f"{_dtype(out)}({value})"


def _literal(var: Constant) -> str:
    """A 0-d constant as numba source of its dtype: ``np.float32(0.5)``, ``np.float64(-np.inf)``, ``True``."""
    value = var.data.item()
    if var.dtype == "bool":
        return repr(bool(value))
    if isinstance(value, float) and not np.isfinite(value):
        text = "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    else:
        text = repr(value)
    return f"{_dtype(var)}({text})"


def emit_elementwise(node: Apply, body: _Body, out: str) -> None:
    """``out = f(inputs)`` for an :class:`Elemwise` or :class:`FusedElemwise` node, with the NumPy code's
    broadcasting checks (static 1s broadcast; every other size along an axis must agree)."""
    placeholders, inner_nodes, result = _scalar_graph(node)
    # LLVM vectorises a loop (exp and tanh included) only over arrays that numba knows to be contiguous: a
    # view (a gate's slice, a reversed sequence's row) is copied first, which costs far less than it saves.
    # The copy is made once per step: later ops read it too.
    for v in node.inputs:
        if v.ndim and id(v) not in body.c_order and id(v) not in body.views and not isinstance(v, Constant):
            contiguous = body.fresh("a")
            body.emit(f"{contiguous} = np.ascontiguousarray({body.name(v)})")
            body.names[id(v)] = contiguous
            body.c_order.add(id(v))
    outer = [body.name(v) for v in node.inputs]
    ndim = node.outputs[0].ndim
    loops = [f"q{axis}" for axis in range(ndim)]  # element loops: q0, q1... (i0... are initial states)
    names: dict[int, str] = {}
    sizes: list[str] = []
    for axis in range(ndim):
        members = [(name, axis - (ndim - v.ndim)) for name, v in zip(outer, node.inputs)
                   if axis - (ndim - v.ndim) >= 0 and v.type.shape[axis - (ndim - v.ndim)] != 1]
        if not members:
            sizes.append("1")
            continue
        first = f"{members[0][0]}.shape[{members[0][1]}]"
        sizes.append(first)
        for name, own in dict.fromkeys(members[1:]):
            body.emit(f"if {name}.shape[{own}] != {first}:")
            body.emit("    raise ValueError('elementwise operands do not broadcast')")
    for name, ph, v in zip(outer, placeholders, node.inputs):
        if v.ndim == 0:
            names[id(ph)] = name
            continue
        lead = ndim - v.ndim
        index = ["0" if size == 1 else loops[lead + a] for a, size in enumerate(v.type.shape)]
        if id(v) in body.views:  # read through the contiguous array it is a block of
            name, offsets = body.views[id(v)]
            index = [i if a >= len(offsets) or offsets[a] == "0" else f"{offsets[a]} + {i}"
                     for a, i in enumerate(index)]
        names[id(ph)] = f"{name}[{', '.join(index)}]"
    statements = []
    for inner in inner_nodes:
        args = [names[id(v)] if id(v) in names else _literal(v) for v in inner.inputs]  # 0-d constants inline
        value = body.fresh("e")
        statements.append(f"{value} = {_scalar_expression(inner, args)}")
        names[id(inner.outputs[0])] = value
    if ndim == 0:
        for statement in statements:
            body.emit(statement)
        body.emit(f"{out} = {names[id(result)]}")
        return
    if not body.into(node.outputs[0], out, sizes):
        body.emit(f"{out} = np.empty(({', '.join(sizes)},), {_dtype(node.outputs[0])})")
        body.c_order.add(id(node.outputs[0]))
    for axis in range(ndim):
        body.emit(f"for q{axis} in range({out}.shape[{axis}]):", 2 + axis)
    for statement in statements + [f"{out}[{', '.join(loops)}] = {names[id(result)]}"]:
        body.emit(statement, 2 + ndim)


def emit_dot(node: Apply, body: _Body, out: str) -> None:
    """A product of 1-d and 2-d operands: ``np.dot`` (numba's BLAS; contiguous operands, made so if not)."""
    x, y = node.inputs
    if x.ndim > 2 or y.ndim > 2 or x.ndim == 0 or y.ndim == 0:
        raise Unsupported(f"a product of {x.ndim}-d and {y.ndim}-d operands")
    if x.dtype != y.dtype or x.dtype not in ("float32", "float64"):
        raise Unsupported(f"a product of {x.dtype} and {y.dtype} (numba's BLAS takes float32 or float64)")
    a, b = body.name(x), body.name(y)
    body.emit(f"{out} = np.dot(np.ascontiguousarray({a}), np.ascontiguousarray({b}))")
    body.c_order.add(id(node.outputs[0]))


def emit_subtensor(node: Apply, body: _Body, out: str) -> None:
    """Basic indexing, a view; an integer index out of range raises ``IndexError`` as NumPy does."""
    op = node.op
    if op.advanced:
        raise Unsupported("indexing with an integer array")
    x, *index = node.inputs
    names = [body.name(v) for v in index]
    it, axis = iter(names), 0
    for entry in op.spec:
        if entry[0] == "int":
            value = next(it) if not isinstance(entry[1], (int, np.integer)) else repr(int(entry[1]))
            size = f"{body.name(x)}.shape[{axis}]"
            body.emit(f"if not -{size} <= {value} < {size}:")
            body.emit("    raise IndexError('index out of range')")
        elif entry[0] == "slice":
            for part in entry[1:]:
                if part is not None and not isinstance(part, (int, np.integer)):
                    next(it)
        if entry[0] != "none":
            axis += 1
    body.emit(f"{out} = {body.name(x)}[{index_source(op.spec, names)}]")
    # A block of a contiguous array (a gate's columns) is read through that array, so that elementwise loops
    # over it vectorise without a copy (see emit_elementwise).
    if id(x) not in body.c_order or not all(entry[0] == "slice" and entry[3] is None for entry in op.spec):
        return
    starts = [entry[1] for entry in op.spec]
    if all(start is None or isinstance(start, (int, np.integer)) and start >= 0 for start in starts):
        body.views[id(node.outputs[0])] = (body.name(x), [str(int(start or 0)) for start in starts])


def emit_dimshuffle(node: Apply, body: _Body, out: str) -> None:
    """Drop known size-1 axes (index 0), permute (``np.transpose``), insert broadcast axes (``None``)."""
    op, (x,) = node.op, node.inputs
    if node.outputs[0].ndim == 0 or x.ndim == 0:
        raise Unsupported("a dimshuffle to or from a scalar")
    kept = [a for a in op.new_order if a != "x"]
    value = body.name(x)
    if len(kept) < x.ndim:
        value = f"{value}[{', '.join(':' if a in kept else '0' for a in range(x.ndim))}]"
    order = sorted(kept)
    perm = tuple(order.index(a) for a in kept)
    if perm != tuple(range(len(kept))):
        value = f"np.transpose({value}, {perm!r})"
    if "x" in op.new_order:
        value = f"{value}[{', '.join('None' if a == 'x' else ':' for a in op.new_order)}]"
    body.emit(f"{out} = {value}")


def emit_join(node: Apply, body: _Body, out: str) -> None:
    """A concatenation: each part copied into its slice of the result (or of the row it is stored in)."""
    if len({v.dtype for v in node.inputs}) != 1:
        raise Unsupported("a concatenation of mixed dtypes")
    axis, ndim, parts = node.op.axis, node.outputs[0].ndim, [body.name(v) for v in node.inputs]
    first = parts[0]
    for part in parts[1:]:
        for a in range(ndim):
            if a != axis:
                body.emit(f"if {part}.shape[{a}] != {first}.shape[{a}]:")
                body.emit("    raise ValueError('the parts of a concatenation do not fit')")
    sizes = [f"{first}.shape[{a}]" if a != axis else f"({' + '.join(f'{p}.shape[{a}]' for p in parts)})"
             for a in range(ndim)]
    if not body.into(node.outputs[0], out, sizes):
        body.emit(f"{out} = np.empty(({', '.join(sizes)},), {_dtype(node.outputs[0])})")
        body.c_order.add(id(node.outputs[0]))
    offset = "0"
    for part in parts:
        index = ", ".join(f"{offset} + q{a}" if a == axis else f"q{a}" for a in range(ndim))
        for a in range(ndim):
            body.emit(f"for q{a} in range({part}.shape[{a}]):", 2 + a)
        body.emit(f"{out}[{index}] = {part}[{', '.join(f'q{a}' for a in range(ndim))}]", 2 + ndim)
        offset = f"{offset} + {part}.shape[{axis}]" if offset != "0" else f"{part}.shape[{axis}]"


def emit_shape_i(node: Apply, body: _Body, out: str) -> None:
    body.emit(f"{out} = np.int64({body.name(node.inputs[0])}.shape[{node.op.i}])")


def emit_alloc(node: Apply, body: _Body, out: str) -> None:
    value, *dims = node.inputs
    if value.ndim != 0:
        raise Unsupported("an alloc of a non-scalar value")
    sizes = ", ".join(body.name(d) for d in dims)
    body.emit(f"{out} = np.full(({sizes},), {body.name(value)}, {_dtype(node.outputs[0])})")
    body.c_order.add(id(node.outputs[0]))


#: Each op's numba form, by op class: ``emit(node, body, out_name)`` adds the lines that compute it.
LOOP_OPS: dict[type, Callable[[Apply, _Body, str], None]] = {
    Elemwise: emit_elementwise, FusedElemwise: emit_elementwise, Dot: emit_dot, MatMul: emit_dot,
    Subtensor: emit_subtensor, DimShuffle: emit_dimshuffle, Join: emit_join, ShapeI: emit_shape_i,
    Alloc: emit_alloc,
}


def _emitter(node: Apply) -> Callable[[Apply, _Body, str], None]:
    for kind in type(node.op).__mro__:
        if kind in LOOP_OPS:
            if isinstance(node.op, MatMul) and any(v.ndim != 2 for v in node.inputs):
                break
            return LOOP_OPS[kind]
    raise Unsupported(f"numba has no form of {node.op} here")


# ---- the loop
@dataclass
class LoopSource:
    source: str  # def loop(n, s0.., i0.., c0.., k0.., b0.., m0..): ... return (buffers.., traces.., bytes.., done)
    constants: list[Constant]
    scalar_nonseqs: tuple[bool, ...]  # per non-sequence: 0-d (passed as a 1-element array)


def loop_source(node: Apply) -> LoopSource:
    """The source of one numba function that runs every step of the loop ``node``; raises
    :class:`Unsupported` with the reason when its body has something numba cannot take.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.matrix("x")
        >>> h, _ = symrnn.scan(lambda x_t, h: h * 0.5 + x_t, sequences=x, outputs_info=T.zeros((3,)))
        >>> [loop] = [n for n in symrnn.function([x], h).nodes if hasattr(n.op, "inner_nodes")]
        >>> print(loop_source(loop).source.splitlines()[0])
        def loop(n, s0, i0, b0):
    """
    op: Scan = node.op
    info, inner = op.info, op.inner_slices()
    if any(isinstance(n.op, Scan) or hasattr(n.op, "inner_nodes") and not isinstance(n.op, FusedElemwise)
           for n in op.inner_nodes):
        raise Unsupported("a loop inside its body")
    for v in node.outputs:
        if np.dtype(v.dtype).kind not in "biuf":
            raise Unsupported(f"a {v.dtype} value")
    body = _Body()
    seqs = [f"s{k}" for k in range(info.n_seqs)]
    inits = [f"i{j}" for j in range(info.n_states)]
    nonseqs = [f"c{k}" for k in range(info.n_nonseqs)]
    head: list[str] = []
    for name, ph in zip(nonseqs, op.inner_inputs[inner["nonseqs"]]):
        body.names[id(ph)] = name if ph.ndim else f"{name}[0]"
    buffers = [f"b{j}" for j in range(info.n_states)]  # allocated by the caller (kept between calls)
    for j, init in enumerate(inits):
        rows = f"{info.n_init(j)}" if info.is_last_only(j) else f"{info.n_init(j)} + n"
        head += [f"if {init}.shape[0] != {info.n_init(j)} or {buffers[j]}.shape[0] != {rows}:",
                 "    raise ValueError('an initial state has the wrong number of rows')"]
        ndim = node.outputs[j].ndim
        head += [f"{'    ' * a}for q{a} in range({init}.shape[{a}]):" for a in range(ndim)]
        index = ", ".join(f"q{a}" for a in range(ndim))
        head.append(f"{'    ' * ndim}{buffers[j]}[{index}] = {init}[{index}]")
    traces = [f"r{k}" for k in range(info.n_nitsot)]
    raws = [f"m{k}" for k in range(info.n_nitsot)]  # bytes for each trace, used when large enough
    for k, trace in enumerate(traces):
        out = node.outputs[info.n_states + k]
        head.append(f"{trace} = np.empty(({', '.join(['0'] * out.ndim)},), {_dtype(out)})")
    head.append("done = n")
    # each step: name its inputs, compute the body, store what it returns
    for k, ph in enumerate(op.inner_inputs[inner["seqs"]]):
        body.names[id(ph)] = f"x{k}"
        body.emit(f"x{k} = {seqs[k]}[t]")
    taps = iter(op.inner_inputs[inner["taps"]])
    for j, state_taps in enumerate(info.state_taps):
        for tap in state_taps:
            ph = next(taps)
            name = body.fresh("h")
            body.names[id(ph)] = name
            body.emit(f"{name} = {buffers[j]}[{info.read_row(j, 't', tap)}]")
    # Values stored in a buffer are computed straight into their row where nothing else can read that row
    # during the step: a trace's row, or the next row of a state that keeps every step (not a ring).
    made_here = {id(n.outputs[0]) for n in op.inner_nodes if isinstance(n.op, (Elemwise, FusedElemwise, Join))}
    for j, v in enumerate(op.inner_outputs[:info.n_states]):
        if v.ndim and id(v) in made_here and id(v) not in body.targets and not info.is_last_only(j):
            body.targets[id(v)] = ("state", buffers[j], str(info.write_row(j, "t")))
    for k, trace in enumerate(traces):
        v, out = op.inner_outputs[info.n_states + k], node.outputs[info.n_states + k]
        if v.ndim and id(v) in made_here and id(v) not in body.targets:
            body.targets[id(v)] = ("trace", trace, str(info.trace_row(k, "t", "n")), raws[k], _dtype(out),
                                   str(np.dtype(out.dtype).itemsize))
    for inner_node in op.inner_nodes:
        emit = _emitter(inner_node)
        if len(inner_node.outputs) != 1:
            raise Unsupported(f"{inner_node.op} has several outputs")
        name = body.fresh()
        emit(inner_node, body, name)
        body.names[id(inner_node.outputs[0])] = name
    # A stored value that may be a view of a buffer row (a state read back, a slice) is copied before any
    # row is written: writing one state's row must not change another value being stored.
    computed = {id(n.outputs[0]) for n in op.inner_nodes
                if isinstance(n.op, (Elemwise, FusedElemwise, Dot, MatMul, Join, Alloc))}
    stored: dict[int, str] = {}
    for v in op.inner_outputs[:info.n_states + info.n_nitsot]:
        if id(v) in stored:
            continue
        name = body.name(v)
        if v.ndim and id(v) not in computed:
            copy = body.fresh("w")
            body.emit(f"{copy} = np.copy({name})")
            name = copy
        stored[id(v)] = name
    for j in range(info.n_states):
        v = op.inner_outputs[j]
        if body.targets.get(id(v), ())[1:2] != (buffers[j],):  # else computed in its row
            body.store(buffers[j], str(info.write_row(j, "t")), stored[id(v)], v.ndim, "state")
    for k, trace in enumerate(traces):
        v, out = op.inner_outputs[info.n_states + k], node.outputs[info.n_states + k]
        if body.targets.get(id(v), ())[1:2] == (trace,):
            continue  # computed in its row
        value = stored[id(v)]
        body.make_trace(("trace", trace, "", raws[k], _dtype(out), str(np.dtype(out.dtype).itemsize)),
                        f"{value}.size" if v.ndim else "1", f"{value}.shape" if v.ndim else "()")
        body.store(trace, str(info.trace_row(k, "t", "n")), value, v.ndim, "per-step output")
    if info.has_until:
        body.emit(f"if {body.name(op.inner_outputs[-1])}:")
        body.emit("    done = t + 1")
        body.emit("    break")
    constants = [f"k{k}" for k in range(len(body.constants))]
    args = ", ".join(["n", *seqs, *inits, *nonseqs, *constants, *buffers, *raws])
    returns = ", ".join([*buffers, *traces, *raws, "done"])
    lines = [f"def loop({args}):", *(f"    {line}" for line in head), "    for t in range(n):", *body.lines,
             f"    return ({returns},)"]
    scalar = tuple(ph.ndim == 0 for ph in op.inner_inputs[inner["nonseqs"]])
    return LoopSource("\n".join(lines) + "\n", body.constants, scalar)


#: The largest step, in elements, that runs as a numba loop (measured: docs/performance.md).  Numba computes
#: float64 ``exp`` and ``tanh`` (and ``log``, ``log1p``... in any dtype) one element at a time through the C
#: library, 4-10 ns each against NumPy's 0.3-0.4 ns, so a loop with such math ("math") runs as a numba
#: function only while its steps are small; above that the NumPy loop (with its arithmetic still in numba
#: kernels) is faster.  A loop of arithmetic, products and float32 ``exp``/``tanh``/``sigmoid`` (vectorised,
#: see ``numba_kernels.FLOAT32_MATH``) is faster as a numba function until its matrix products dominate the
#: step: numba's ``np.dot`` calls SciPy's BLAS, 17-24% slower than NumPy's at those sizes here.  A step's
#: size is its largest sequence row or state (an LSTM's: batch x 4 x hidden).
STEP_LIMIT: dict[str, int | None] = {"math": 768, "arithmetic": 32768}


def step_elements(sequences: tuple[Any, ...], inits: tuple[Any, ...]) -> int:
    """The size of a step, in elements: the largest row of a sequence or of an initial state.

    Example::

        >>> step_elements((np.zeros((50, 32, 256)),), (np.zeros((1, 32, 64)),))
        8192
    """
    rows = [np.size(s) // max(1, len(s)) for s in sequences] + [np.size(i) // max(1, len(i)) for i in inits]
    return max(rows, default=0)


def small_steps(sequences: tuple[Any, ...], inits: tuple[Any, ...], work: str) -> bool:
    """Whether a loop's steps are small enough to run it as a numba function (:data:`STEP_LIMIT`)."""
    limit = STEP_LIMIT[work]
    return limit is None or step_elements(sequences, inits) <= limit


def has_math(node: Apply) -> bool:
    """Whether the body of loop ``node`` computes math that numba does one element at a time (the C
    library's: all but float32 ``exp``, ``tanh`` and ``sigmoid``, see ``numba_kernels.FLOAT32_MATH``)."""
    for inner in node.op.inner_nodes:
        if not isinstance(inner.op, (Elemwise, FusedElemwise)):
            continue
        for n in _scalar_graph(inner)[1]:
            vectorised = n.outputs[0].dtype == "float32" and n.op.name in numba_kernels.FLOAT32_CODE
            if n.op.name not in numba_kernels.ARITHMETIC and not isinstance(n.op, Cast) and not vectorised:
                return True
    return False


def _as_row(value: Any) -> np.ndarray:
    """A 0-d argument as a 1-element array (the kernel reads ``c[0]``)."""
    return np.reshape(np.asarray(value), (1,))


def emit_loop(node: Apply, loop: LoopSource, inputs: list[str], outputs: list[str], ctx: Any,
              numpy_loop: list[tuple[str, Apply | None]]) -> tuple[list[tuple[str, Apply | None]], LoopReport]:
    """Lines of the generated function that run loop ``node`` as one numba function (from ``loop``, see
    :func:`loop_source`) when its steps are small (:data:`STEP_LIMIT`) and as ``numpy_loop`` (the NumPy
    loop's lines) otherwise, and the loop's report."""
    op: Scan = node.op
    info, sl = op.info, op.outer_slices()
    kernel = numba_kernels.compiled(loop.source, "loop")
    work = "math" if has_math(node) else "arithmetic"
    report = LoopReport(info.name, "numba", work=work)
    seqs, inits, nonseqs = inputs[sl["seqs"]], inputs[sl["inits"]], inputs[sl["nonseqs"]]
    row = ctx.bind(_as_row, "as_row")
    passed = [f"{row}({name})" if scalar else name for name, scalar in zip(nonseqs, loop.scalar_nonseqs)]
    passed += [ctx.bind(c.data.reshape(1) if c.ndim == 0 else c.data, "c") for c in loop.constants]
    n, done = ctx.fresh("n"), ctx.fresh("done")
    length, name = ctx.bind(scan_length, "scan_length"), ctx.bind(info.name, "scan_name")
    as_tuple = "({}{})".format(", ".join(seqs), "," if seqs else "")
    fits = f"{ctx.bind(small_steps, 'small_steps')}({as_tuple}, ({''.join(f'{v}, ' for v in inits)}), {work!r})"
    stats = ctx.bind(report, "loop_report")
    label = ctx.comment(info.name, 40)
    lines: list[tuple[str, Apply | None]] = [
        (f"# scan {label}: one numba function runs every step while the steps are small "
         f"(config.kernels = 'numba')", None),
        (f"if {fits} and {stats}.count('numba'):", node),
        (f"    {n} = {length}({inputs[0]}, {as_tuple}, {name}, {info.n_steps_given})", node),
    ]
    for j, init in enumerate(inits):  # the state buffers, kept between calls where that is safe
        rows = f"{info.n_init(j)}" if info.is_last_only(j) else f"{info.n_init(j)} + {n}"
        alloc = ctx.allocate(node.outputs[j], f"({rows},) + {init}.shape[1:]", node.outputs[j].dtype)
        lines.append((f"    {outputs[j]} = {alloc}", node))
    raws = [ctx.fresh("raw") for _ in range(info.n_nitsot)]
    for k, raw in enumerate(raws):  # bytes for the traces: kept ones from the last call, else none yet
        key = ctx.kept.get(id(node.outputs[info.n_states + k]))
        source = f"_buffers.raw({key})" if key is not None else "np.empty(0, dtype=np.uint8)"
        lines.append((f"    {raw} = {source}", node))
    lines.append((f"    {', '.join([*outputs, *raws])}, {done} = {ctx.bind(kernel, 'numba_loop')}({n}, "
                  f"{', '.join([*seqs, *inits, *passed, *outputs[:info.n_states], *raws])})", node))
    for k, raw in enumerate(raws):
        key = ctx.kept.get(id(node.outputs[info.n_states + k]))
        if key is not None:
            lines.append((f"    _buffers.keep({key}, {raw})", node))
    if raws:
        lines.append((f"    {' = '.join(raws)} = None", node))
    for k in range(info.n_nitsot):
        lines += [(f"    if {n} == 0:  # zero steps", node),
                  (f"        {outputs[info.n_states + k]} = {op.empty_trace_source(node, k, inputs, ctx)}", node)]
    lines += [(f"    {line}", node) for line in op.after_steps_source(outputs, done)]
    lines.append(("else:", node))
    lines.append((f"    {stats}.count('numpy')", node))
    lines += [(f"    {text}", owner) for text, owner in numpy_loop]
    return lines, report


__all__ = ["LOOP_OPS", "STEP_LIMIT", "LoopReport", "LoopSource", "Unsupported", "emit_loop", "has_math",
           "loop_source", "small_steps", "step_elements"]
