"""Code generation: a scheduled graph becomes the source of one Python function over ``xp``.

The output is meant to be read: one statement per node, a temporary named after
the node's op, and a comment naming the node and the user line that built it.
No user-supplied string (a variable's name, a file name) ever reaches the
source except through :func:`safe_comment`, which keeps a small safe alphabet.
"""

from __future__ import annotations

import contextlib
import itertools
import keyword
import linecache
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symrnn.compile import numba_kernels, numba_loops
from symrnn.compile.profile import Profile
from symrnn.graph import Apply, Constant, SharedVariable, Variable, short_trace
from symrnn.ops.blas import Dot
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.fused import BlockSum, FusedElemwise
from symrnn.ops.reduce import Reduce
from symrnn.ops.shape import Join
from symrnn.scan.op import Scan

_UNSAFE = re.compile(r"[^A-Za-z0-9_ .,:/()\[\]{}=+*<>?'-]")
_IDENT_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_counter = itertools.count()


def safe_comment(text: str, limit: int = 60) -> str:
    """Reduce any text to a safe alphabet (no newline, no quote games) for a source comment."""
    text = _UNSAFE.sub("?", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_identifier(text: str, limit: int = 16) -> str:
    """A fragment that is always a valid part of a Python identifier."""
    return _IDENT_UNSAFE.sub("_", str(text))[:limit].strip("_") or "op"


def function_identifier(name: str | None) -> str:
    """The name of the generated function: ``name`` reduced to identifier characters, prefixed with ``fn_``
    where that would not be a plain name of its own (a keyword, a leading digit or ``_``, or a name the
    generated module uses itself, such as ``xp``), so that no name can shadow anything in the module.

    Example::

        >>> [function_identifier(n) for n in ["train step", "class", "1st", "__import__", "xp", None]]
        ['train_step', 'fn_class', 'fn_1st', 'fn_import', 'fn_xp', 'compiled']
    """
    text = safe_identifier(name or "compiled", 40)
    if (not text.isidentifier() or keyword.iskeyword(text) or keyword.issoftkeyword(text)
            or text.startswith("_") or text in _MODULE_NAMES):
        text = f"fn_{text}"
    return text


_MODULE_NAMES = frozenset({"xp", "np", "in", "sh", "jax", "lax"})  # the generated module's own globals (bound ones
# start with _; jax and lax are the JAX backend's)


def describe_node(node: Apply, names: dict[int, str]) -> str:
    args = ", ".join(_var_label(v, names) for v in node.inputs)
    return f"{node.op}({args})"


def _var_label(var: Variable, names: dict[int, str]) -> str:
    if var.name:
        return var.name
    if isinstance(var, Constant) and var.data.size == 1:
        return repr(var.data.item())
    return names.get(id(var), "?")


@dataclass
class CodegenContext:
    """State shared by every op's ``emit`` while one function is generated.

    ``bind`` makes an object reachable from the generated code; ``name_of`` and
    ``emit_nodes`` let an op with an inner graph (scan) emit that graph inline.
    """

    namespace: dict[str, Any] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    profile: list[tuple[Apply, int]] | None = None  # when profiling: each timed node and its loop depth
    depth: int = 0  # how many loops enclose the nodes being emitted
    backend: Any = None  # [backend hook] a symrnn.compile.backends.Backend: binds constants, may emit nodes
    kept: dict[int, int] = field(default_factory=dict)  # id(var) -> key of a buffer kept from call to call
    rows_in_place: bool = True  # may a loop ask ops to compute a value straight into its buffer row? (targets)
    targets: dict[int, str] = field(default_factory=dict)  # id(var) -> where its op should write it (`out=`)
    written: set[int] = field(default_factory=set)  # the targets that an op honoured
    pieces: dict[int, list[int]] = field(default_factory=dict)  # id(join) -> its inputs, targeted into its row
    first_step: tuple[str, set[int]] | None = None  # in a loop: (step counter, ids of values of fixed shape)
    step_private: set[int] = field(default_factory=set)  # in a loop: values of fixed shape that die with the step
    step_buffers: list[str] | None = None  # in a loop: the names whose arrays later steps reuse (see step_buffer)
    kernels: str = "numpy"  # config.kernels: "numba" runs fused arithmetic as numba kernels (on the host)
    guard: Any = None  # called as guard(node, index, value, step) after each node (NanGuardMode, DebugMode)
    loops: list[numba_loops.LoopReport] = field(default_factory=list)  # with kernels="numba": how each loop runs
    backend_state: Any = None  # [backend hook] what a backend keeps while it emits one function (begin_function)
    _bound: dict[int, str] = field(default_factory=dict)
    _temps: Any = field(default_factory=itertools.count)

    def bind(self, obj: Any, hint: str = "k") -> str:
        """Make ``obj`` reachable from the generated code under a fresh global name, and return that name."""
        key = id(obj)
        if key not in self._bound:
            name = f"_{safe_identifier(hint)}{len(self._bound)}"
            self._bound[key] = name
            self.namespace[name] = obj
        return self._bound[key]

    def numba_kernel(self, node: Apply) -> Any | None:
        """The numba kernel that computes a fused node's arithmetic, or None (:mod:`symrnn.compile.numba_kernels`)."""
        return numba_kernels.kernel(node)

    def comment(self, text: str, limit: int = 60) -> str:
        """``text`` made safe for a comment in the generated source (see :func:`safe_comment`)."""
        return safe_comment(text, limit)

    def fresh(self, hint: str) -> str:
        """A fresh local name, for ops whose emitted code needs scratch variables."""
        return f"{safe_identifier(hint)}{next(self._temps)}"

    def name_of(self, var: Variable) -> str:
        """The source name holding ``var``'s value (constants are bound on first use)."""
        if id(var) not in self.names:
            if not isinstance(var, Constant):
                raise ValueError(f"the graph needs {var!r} ({var.type}), which is not among the function's inputs")
            data = var.data if self.backend is None else self.backend.constant(var.data)  # [backend hook]
            self.names[id(var)] = self.bind(data, "c")
        return self.names[id(var)]

    def allocate(self, var: Variable, shape: str, dtype: str) -> str:
        """Source that allocates an uninitialized array for ``var``: kept from call to call when ``var`` is
        in :attr:`kept` (see :func:`kept_buffers`), else fresh."""
        if id(var) in self.kept:
            return f"_buffers.get({self.kept[id(var)]}, {shape}, {dtype!r})"
        return f"xp.empty({shape}, dtype={dtype!r})"

    def target(self, var: Variable) -> str | None:
        """Where ``var``'s op may write its value instead of a new array: source of an expression that is,
        at run time, either an array of ``var``'s shape and dtype or ``None`` (then allocate).  An op that
        honours it calls :meth:`wrote`; the loop that asked then skips its copy into the buffer row."""
        return self.targets.get(id(var))

    def wrote(self, var: Variable) -> None:
        self.written.add(id(var))

    def step_buffer(self, name: str, var: Variable | None = None, values: list[Variable] | None = None) -> bool:
        """In a loop body: may the array held by the local ``name`` be written over (``out={name}``) at the
        next step?  For an op's own value ``var``: when it has the same shape at every step and nothing
        that outlives the step (a state, a stored or carried value) can be it or a view of it.  For a
        temporary inside one op (``values``, the op's inputs): when those inputs have the same shapes at
        every step.  When it may, ``name`` is registered: the loop sets it to ``None`` before its first
        step (so that the first step allocates) and lets it go after the last.  The name must hold only
        that one array.  It is a local of the generated function: calls from several threads never share
        the array."""
        if self.step_buffers is None:
            return False
        if var is not None:
            ok = id(var) in self.step_private
        else:
            ok = self.once_per_loop(values or []) is not None
        if ok:
            self.step_buffers.append(name)
        return ok

    def once_per_loop(self, values: list[Variable]) -> str | None:
        """In a loop body, where ``values`` all have the same shapes at every step: the condition (source)
        that holds on the first step only, so that a check of their shapes runs once, not at every step."""
        if self.first_step is None:
            return None
        counter, fixed = self.first_step
        if all(isinstance(v, Constant) or id(v) in fixed for v in values):
            return f"{counter} == 0"
        return None

    def _numba_loop(self, node: Apply, in_names: list[str], out_names: list[str], numpy_loop: Any) -> Any:
        """With ``kernels="numba"`` on the host: the lines that run loop ``node`` as one numba function while
        its steps are small, and as ``numpy_loop`` (the lines of the NumPy loop) otherwise
        (:mod:`symrnn.compile.numba_loops`); else ``numpy_loop`` itself.  :attr:`loops` records which, and
        why."""
        if self.kernels != "numba" or not self.rows_in_place:
            return numpy_loop
        name = node.op.info.name
        if self.profile is not None or self.guard is not None:
            why = "profile=True times each node" if self.profile is not None else "a guard checks each value"
            self.loops.append(numba_loops.LoopReport(name, "numpy", why))
            return numpy_loop
        try:
            loop = numba_loops.loop_source(node)
        except numba_loops.Unsupported as exc:
            self.loops.append(numba_loops.LoopReport(name, "numpy", str(exc)))
            return numpy_loop
        lines, report = numba_loops.emit_loop(node, loop, in_names, out_names, self, numpy_loop)
        self.loops.append(report)
        return lines

    def emit_nodes(self, nodes: list[Apply]) -> list[tuple[str, Apply | None]]:
        """Source lines (each with the node it computes) for ``nodes``, in order, without indentation."""
        lines: list[tuple[str, Apply | None]] = []
        for node in nodes:
            in_names = [self.name_of(v) for v in node.inputs]
            hint = safe_identifier(getattr(node.op, "name", None) or type(node.op).__name__).lower()
            step = next(self._temps)
            out_names = []
            for j, var in enumerate(node.outputs):
                self.names[id(var)] = f"t{step}_{hint}" if len(node.outputs) == 1 else f"t{step}_{hint}_{j}"
                out_names.append(self.names[id(var)])
            where = f"  @ {safe_comment(short_trace(node.trace), 72)}" if node.trace else ""
            scope = f" [{safe_comment(node.scope, 48)}]" if node.scope else ""  # a user's layer name: made safe
            lines.append((f"# {safe_comment(describe_node(node, self.names), 70)}{scope}{where}", None))
            if self.profile is not None:
                index = len(self.profile)
                self.profile.append((node, self.depth))
                lines.append((f"_pt{index} = _clock()", node))
            self.depth += 1 if hasattr(node.op, "inner_nodes") else 0
            emit = node.op.emit if self.backend is None else self.backend.emit  # [backend hook]
            code = emit(node, in_names, out_names, self)
            if isinstance(node.op, Scan):
                code = self._numba_loop(node, in_names, out_names, code)
            self.depth -= 1 if hasattr(node.op, "inner_nodes") else 0
            if isinstance(code, str):
                lines.extend((code_line, node) for code_line in code.splitlines())
            else:
                lines.extend(code)  # an op with an inner graph returns (line, node) pairs itself
            if self.profile is not None:
                lines.append((f"_seconds[{index}] += _clock() - _pt{index}; _calls[{index}] += 1", node))
            if self.guard is not None:  # check each value as soon as it exists (inside a loop: with its step)
                guard, step = self.bind(self.guard, "guard"), self.first_step[0] if self.first_step else None
                node_name = self.bind(node)
                lines += [(f"{guard}({node_name}, {j}, {name}, {step})", node) for j, name in enumerate(out_names)]
        return lines


@dataclass
class Generated:
    source: str
    fn: Any
    filename: str
    line_to_node: dict[int, Apply]
    profile: Any = None  # a symrnn.compile.profile.Profile when generated with profile=True
    buffers: BufferPool | None = None  # the loops' buffers kept between calls; the function's last argument
    loops: list[Any] = field(default_factory=list)  # with kernels="numba": a numba_loops.LoopReport per loop


class BufferCache:
    """Memory kept between calls of one compiled function, by key: a loop's buffers (and large products) are
    allocated on the first call and reused after, so that a call neither allocates them again nor touches
    fresh memory.  Values whose lifetimes do not overlap share a key (see :func:`kept_buffers`): a key holds
    raw bytes, as many as its largest value needs, and each value is a view of them."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self.arrays: dict[int, Any] = {}

    def get(self, key: int, shape: tuple[int, ...], dtype: str) -> Any:
        kind = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * kind.itemsize
        raw = self.arrays.get(key)
        if raw is None or raw.nbytes < nbytes:
            raw = self.arrays[key] = self.xp.empty(max(nbytes, 1), dtype=np.uint8)
        return raw[:nbytes].view(kind).reshape(shape)

    def raw(self, key: int) -> Any:
        """The raw bytes kept under ``key`` (empty before the first call): a numba loop makes its per-step
        outputs in them once it knows their size (:mod:`symrnn.compile.numba_loops`)."""
        raw = self.arrays.get(key)
        return raw if raw is not None else self.xp.empty(0, dtype=np.uint8)

    def keep(self, key: int, raw: Any) -> None:
        """Keep ``raw`` (bytes that a numba loop used, or grew) under ``key``."""
        current = self.arrays.get(key)
        if current is None or raw.nbytes > current.nbytes:
            self.arrays[key] = raw

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays.values())


class BufferPool:
    """The kept buffers of one compiled function, one :class:`BufferCache` per call running at the same time:
    a call takes a free cache (or makes one) and gives it back when it returns, so calls from several threads
    never share memory, and a single thread reuses one cache from call to call.

    Example::

        >>> import numpy as np
        >>> pool = BufferPool(np)
        >>> with pool.cache() as first:
        ...     with pool.cache() as second:   # a call while another runs: its own memory
        ...         first is second
        False
    """

    def __init__(self, xp: Any) -> None:
        self.xp = xp
        self._free: list[BufferCache] = []
        self._all: list[BufferCache] = []
        self._lock = threading.Lock()

    def acquire(self) -> BufferCache:
        with self._lock:
            if self._free:
                return self._free.pop()
            cache = BufferCache(self.xp)
            self._all.append(cache)
            return cache

    def release(self, cache: BufferCache) -> None:
        with self._lock:
            self._free.append(cache)

    @contextlib.contextmanager
    def cache(self) -> Iterator[BufferCache]:
        cache = self.acquire()
        try:
            yield cache
        finally:
            self.release(cache)

    @property
    def nbytes(self) -> int:
        return sum(cache.nbytes for cache in self._all)


def kept_buffers(nodes: list[Apply], outputs: list[Variable], products: bool = True) -> dict[int, int]:
    """The values whose memory is kept from call to call: ``id -> key``; values with one key share memory.

    Candidates are the outputs of top-level loops and (with ``products``) of
    top-level matrix products ``(..., k)·(k, n)``.  A buffer can be kept when no
    value the function returns (outputs, update values) can be a view of it.
    Any op not known to produce a fresh array is assumed to return a view of its
    inputs, so this errs on the side of allocating.  Two candidates share a key
    when one, with every view of it, is dead before the other is made (say, the
    input projection of a forward loop and the saved ``dA`` of its backward loop).
    """
    fresh = (Dot, Elemwise, FusedElemwise, BlockSum, Reduce, Join, Scan)
    escapes = {id(v) for v in outputs}
    for node in reversed(nodes):
        if not isinstance(node.op, fresh) and any(id(v) in escapes for v in node.outputs):
            escapes.update(id(v) for v in node.inputs)

    def candidates(node: Apply) -> list[Variable]:
        if isinstance(node.op, Scan):  # its buffers (a state carried in a local name has none)
            info = node.op.info
            return [v for j, v in enumerate(node.outputs)
                    if j >= info.n_states or not (info.is_last_only(j) and info.n_init(j) == 1)]
        if products and isinstance(node.op, Dot) and node.inputs[0].ndim >= 2 and node.inputs[1].ndim == 2:
            return list(node.outputs)
        return []

    # Each candidate's lifetime: from the node that makes it to the last use of it or of a view of it.
    owner: dict[int, int] = {}  # id(view or candidate) -> id(candidate)
    made: dict[int, int] = {}  # id(candidate) -> its position among the candidates
    lifetime: dict[int, list[int]] = {}
    kept: list[Variable] = []
    for index, node in enumerate(nodes):
        for v in node.inputs:
            if id(v) in owner:
                lifetime[owner[id(v)]][1] = index
        if isinstance(node.op, fresh):
            for v in candidates(node):
                if id(v) not in escapes:
                    made[id(v)] = len(made)
                    owner[id(v)] = id(v)
                    lifetime[id(v)] = [index, index]
                    kept.append(v)
        else:
            sources = {owner[id(v)] for v in node.inputs if id(v) in owner}
            if len(sources) == 1:
                for v in node.outputs:
                    owner[id(v)] = next(iter(sources))
            elif sources:  # a view of two candidates at once (none of our ops makes one): keep neither apart
                first = min(sources, key=made.__getitem__)  # by position, not by id: the same plan every run
                for v in node.outputs:
                    owner[id(v)] = first
                for source in sources:
                    lifetime[source][1] = len(nodes)
    keys: dict[int, int] = {}
    ends: list[int] = []  # per key: the last node that uses its current value
    types: list[Any] = []  # per key: its current value's type
    for v in kept:
        start, end = lifetime[id(v)]
        free = [k for k, last in enumerate(ends) if last < start]
        key = next((k for k in free if types[k] == v.type), free[0] if free else None)  # alike first
        if key is None:
            key = len(ends)
            ends.append(end)
            types.append(v.type)
        ends[key], types[key] = end, v.type
        keys[id(v)] = key
    return keys


def _with_frees(ctx: CodegenContext, nodes: list[Apply], outputs: list[Variable]) -> list[tuple[str, Apply | None]]:
    """Emit ``nodes``, deleting each temporary after its last use, so that memory is returned as soon as
    possible rather than when the function returns (the peak is then what is live, not all that was made)."""
    last_use: dict[int, int] = {}
    for index, node in enumerate(nodes):
        for var in node.inputs:
            last_use[id(var)] = index
    keep = {id(v) for v in outputs}
    lines: list[tuple[str, Apply | None]] = []
    made: dict[int, list[Variable]] = {}
    for index, node in enumerate(nodes):
        lines += ctx.emit_nodes([node])
        for var in node.outputs:
            made.setdefault(last_use.get(id(var), index), []).append(var)
        dead = [ctx.names[id(v)] for v in made.pop(index, []) if id(v) not in keep and id(v) in ctx.names]
        if dead:
            lines.append((f"del {', '.join(dead)}", None))
    return lines


def generate(inputs: list[Variable], shared: list[SharedVariable], nodes: list[Apply],
             outputs: list[Variable], copy_outputs: list[bool], xp: Any = np,
             fn_name: str = "compiled", profile: bool = False, backend: Any = None,
             keep_buffers: bool = True, kernels: str = "numpy", guard: Any = None) -> Generated:
    """Emit and ``exec`` the Python source of a function computing ``outputs``.

    The function takes the inputs' values then the shared variables' values
    (then, when it keeps buffers, a :class:`BufferCache` from ``Generated.buffers``),
    and returns the list of output values.  With ``profile``, every node is
    timed (``time.perf_counter``) and counted into a :class:`Profile`.  With
    ``keep_buffers``, the loops' internal buffers are kept between calls
    (:func:`kept_buffers`; ``Generated.buffers`` holds them).  With ``guard``,
    ``guard(node, output index, value, loop step or None)`` runs after every
    node, inside loops too.
    """
    if backend is not None:  # [backend hook] the backend's array module; it binds constants and may emit nodes
        xp = backend.xp
    on_host = backend is None or getattr(backend, "name", None) == "numpy"
    ctx = CodegenContext(namespace={"xp": xp, "np": np}, profile=[] if profile else None,
                         backend=backend, rows_in_place=on_host, kernels=kernels, guard=guard)
    if keep_buffers and not getattr(backend, "functional", False):  # immutable arrays (JAX): nothing to keep
        ctx.kept = kept_buffers(nodes, outputs, products=on_host)
    buffers = BufferPool(xp) if ctx.kept else None  # the caller passes one of its caches per call
    header: list[str] = []
    for i, var in enumerate(inputs):
        ctx.names[id(var)] = f"in{i}"
        header.append(f"    # in{i}: input {safe_comment(var.name or '(unnamed)', 30)} {var.type!r}")
    for i, var in enumerate(shared):
        ctx.names[id(var)] = f"sh{i}"
        header.append(f"    # sh{i}: shared {safe_comment(var.name or '(unnamed)', 30)} {var.type!r}")

    if backend is not None:  # [backend hook] a backend may study the graph first (JAX: which values are static)
        backend.begin_function(ctx, inputs, shared, nodes)
    body = _with_frees(ctx, nodes, outputs)
    line_to_node: dict[int, Apply] = {}
    first_line = 2 + len(header)  # "def ...:" is line 1
    for offset, (_, node) in enumerate(body):
        if node is not None:
            line_to_node[first_line + offset] = node

    returns = []
    for var, copy in zip(outputs, copy_outputs):
        expr = ctx.name_of(var)
        if copy:
            expr = f"xp.array({expr}, copy=True)"
        elif var.ndim == 0:
            expr = f"xp.asarray({expr})"
        returns.append(expr)
    args = ", ".join([f"in{i}" for i in range(len(inputs))] + [f"sh{i}" for i in range(len(shared))]
                     + (["_buffers"] if buffers is not None else []))
    lines = header + [f"    {text}" for text, _ in body] + [f"    return [{', '.join(returns)}]"]
    source = f"def {fn_name}({args}):\n" + "\n".join(lines) + "\n"
    if backend is not None:  # [backend hook] lines after the def (JAX: the function wrapped in jax.jit)
        source += "".join(f"{line}\n" for line in backend.end_function(ctx, fn_name, inputs))
    filename = f"<symrnn-generated-{next(_counter)}>"
    code = compile(source, filename, "exec")
    exec(code, ctx.namespace)  # noqa: S102 - the source is ours; user strings only reach it via safe_comment
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    stats = None
    if profile:
        stats = Profile(ctx.profile)
        ctx.namespace.update(_clock=time.perf_counter, _seconds=stats.seconds, _calls=stats.calls)
    return Generated(source, ctx.namespace[fn_name], filename, line_to_node, stats, buffers, ctx.loops)
