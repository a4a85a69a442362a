"""``Function.export(path)``: a compiled function as a standalone Python module that needs NumPy only.

The layout is two files side by side: ``path`` (say ``train_step.py``), the
module, and ``train_step.npz``, its arrays (the shared variables' values, the
inputs' default values and the graph's constant arrays), which the module
loads relative to its own ``__file__`` with ``allow_pickle=False``.  An
identifier, a hash of the arrays, is written into both, so that a module
never runs with the arrays of another export.

The module holds, in this order: its docstring (how to call it); the arrays
as a dict ``params`` (name -> array) and ``defaults`` (argument name ->
array); the runtime helpers that the generated code calls, written here as
standalone NumPy source; the values bound at compile time (constants, small
literals, what an error message says of a node, and, for a loop whose step
shape is known only at run time, its body as a function of its own, which
runs on zeros when the loop runs no step); the generated function itself,
the same code as ``f.source``; and the function with named arguments, which
checks them as ``f`` does, calls the generated code with ``params`` and
stores the updates in ``params`` (or ``defaults``, for an input's state).

How a bound object becomes source is one row of a table below
(:data:`_FUNCTIONS`, :func:`_bound_method`, :func:`_bound_op`): a NumPy twin of
a helper of symrnn's (a scan's length, a shape check, a random draw) with the
same arithmetic and the same messages.  An object without a row (a ``Print``
op's callback, an op of its own that runs its ``perform``) is refused with an
:class:`ExportError` that names it, as are functions that no NumPy code can
stand for: those of the CuPy backend, of ``mode="reference"``, ``DebugMode``
and ``NanGuardMode``.  The code is generated again from the function's
scheduled graph, without profiling, and with NumPy's ufuncs where the function
runs numba kernels, which compute the same numbers bit for bit.

No user string reaches the module's source unescaped: names and traces go in
as Python literals (``str.__repr__``), in comments and docstrings only
through :func:`~symrnn.compile.codegen.safe_comment`, and argument names
through :func:`argument_names`.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import keyword
import os
import re
import textwrap
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symrnn.compile import codegen
from symrnn.config import config
from symrnn.files import atomic_write
from symrnn.graph import FLOAT_DTYPES, INT_DTYPES, Apply, SharedVariable, Variable, describe, short_trace
from symrnn.ops.elemwise import broadcast_error
from symrnn.ops.gradops import SpecifyShape, _check_shape
from symrnn.ops.indexing import SYMBOLIC, IncSubtensor, _layout, build_index, check_value_fits
from symrnn.ops.random import STATE_SIZE, RandomDraw, RandomStateDraw, pack_random_state, unpack_random_state
from symrnn.ops.reduce import ProdOthers
from symrnn.ops.shape import Split
from symrnn.scan.op import Scan, _check_row, overflow_ignored, scan_length, zero_step_shapes


class ExportError(ValueError):
    """A compiled function, or something its code calls, cannot be written as a standalone NumPy module."""


# --------------------------------------------------------------------------- runtime helpers, as NumPy source
# Each helper: its source, and the helpers it uses.  Only those the generated code needs are written.

_HELPERS: dict[str, tuple[str | Callable[[], str], tuple[str, ...]]] = {}


def _helper(name: str, source: str | Callable[[], str], needs: tuple[str, ...] = ()) -> str:
    """Register a helper's source (or a function that makes it, called only when a module is written)."""
    _HELPERS[name] = (source.strip("\n") if isinstance(source, str) else source, needs)
    return name


def _helper_source(name: str) -> str:
    source = _HELPERS[name][0]
    return source if isinstance(source, str) else source()


class _NoAnnotations(ast.NodeTransformer):
    """Drop type annotations, whose names (``Sequence``, ``Any``) the standalone module does not have."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:  # noqa: N802 (ast's name)
        node.returns = None
        return self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.Assign:  # noqa: N802
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)


def _own_source(fn: Any, name: str) -> str:
    """The source of one of symrnn's pure NumPy helpers, renamed ``name`` and without annotations: the
    module runs symrnn's own code, not a copy of it."""
    tree = _NoAnnotations().visit(ast.parse(textwrap.dedent(inspect.getsource(fn))))
    tree.body[0].name = name
    return ast.unparse(ast.fix_missing_locations(tree))


_helper("errors", '''
class GraphTypeError(TypeError):
    """A wrong dtype or number of dimensions (symrnn.graph.GraphTypeError)."""


class GraphShapeError(ValueError, TypeError):
    """A wrong shape (symrnn.graph.GraphShapeError)."""


class ShapeMismatchError(GraphShapeError, AssertionError):
    """A value whose shape differs from its specify_shape (symrnn.ops.gradops.ShapeMismatchError)."""
''')

_helper("_Node", '''
class _Node:
    """What an error message says of a node of the graph: its op, the line that built it, and facts."""

    def __init__(self, op, trace, **facts):
        self.op, self.trace = op, trace
        self.__dict__.update(facts)
''')

_helper("_filter", '''
def _fits(shape, static):
    return len(shape) == len(static) and all(s is None or s == d for s, d in zip(static, shape))


def _filter(value, dtype, static, type_text, what):
    """An argument as an array of the input's type, or an error naming the input (TensorType.filter)."""
    if isinstance(value, np.ndarray) and value.dtype.name == dtype and _fits(value.shape, static):
        return value
    is_python = not isinstance(value, (np.ndarray, np.generic))
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise GraphTypeError(f"{what}: expected numbers of dtype {dtype}, got {arr.dtype} data")
    if arr.ndim != len(static):
        raise GraphTypeError(f"{what}: expected {len(static)} dimension(s) ({type_text}), got an array of shape "
                             f"{arr.shape}")
    if arr.dtype.name != dtype:
        safe = np.can_cast(arr.dtype, dtype, "safe")
        if is_python and not safe and arr.dtype.kind in "iu" and dtype in _FLOAT_DTYPES:
            safe = True  # a Python int list into a float input
        if arr.dtype.kind in "iub" and dtype in _INT_DTYPES:
            safe = np.array_equal(arr.astype(dtype), arr)  # integers that fit
        downcast_ok = _ALLOW_DOWNCAST or (_ALLOW_DOWNCAST is None and is_python and dtype == _FLOATX)
        if not (safe or downcast_ok):
            lost = "values that do not fit" if arr.dtype.kind in "iub" and dtype in _INT_DTYPES else "precision"
            raise GraphTypeError(f"{what}: expected dtype {dtype}, got {arr.dtype}; converting would lose {lost} "
                                 f"(cast it yourself)")
        arr = arr.astype(dtype)
    if not _fits(arr.shape, static):
        raise GraphShapeError(f"{what}: expected shape {type_text}, got an array of shape {arr.shape}")
    return arr
''', ("errors",))

_helper("_BufferPool", '''
class _BufferCache:
    """Memory kept from call to call, by key: each value is a view of raw bytes (codegen.BufferCache)."""

    def __init__(self):
        self.arrays = {}

    def get(self, key, shape, dtype):
        kind = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * kind.itemsize
        raw = self.arrays.get(key)
        if raw is None or raw.nbytes < nbytes:
            raw = self.arrays[key] = np.empty(max(nbytes, 1), dtype=np.uint8)
        return raw[:nbytes].view(kind).reshape(shape)


class _BufferPool:
    """One _BufferCache per call running at the same time (codegen.BufferPool): threads never share memory."""

    def __init__(self):
        self._free = []
        self._lock = threading.Lock()

    def acquire(self):
        with self._lock:
            return self._free.pop() if self._free else _BufferCache()

    def release(self, cache):
        with self._lock:
            self._free.append(cache)
''')

_helper("_broadcast_error", '''
def _broadcast_error(node, shapes, checks):
    """Inputs whose runtime shapes do not fit (only static 1s broadcast): symrnn.ops.elemwise.broadcast_error."""
    axis = next(axis for axis, members in checks if len({shapes[i][a] for i, a in members}) > 1)
    raise ValueError(f"{node.op}: runtime shapes {', '.join(map(str, shapes))} do not match along axis {axis}; "
                     f"only dimensions that are statically 1 broadcast (declare one with T.row/T.col, "
                     f"shape=(1, None) or dimshuffle('x', ...))")
''')

_helper("SYMBOLIC", f"SYMBOLIC = {SYMBOLIC!r}")
_helper("_build_index", lambda: _own_source(build_index, "_build_index"), ("SYMBOLIC",))

_helper("_check_value_fits", '''
def _check_value_fits(node, x_shape, index_values, y_shape):
    """Raise unless the value of set/inc_subtensor fits the indexed region (ops.indexing.check_value_fits)."""
    index = _build_index(node.spec, index_values)
    arrays = [np.shape(item) for item, entry in zip(index, node.spec) if entry[0] == "array"]
    region = []
    for dim in node.layout:
        if dim[0] == "new":
            region.append(1)
        elif dim[0] == "adv":
            region.extend(np.broadcast_shapes(*arrays))
        else:
            size = x_shape[dim[1]]
            region.append(size if dim[2] is None else len(range(size)[index[dim[2]]]))
    region = tuple(region)
    lead = len(region) - len(y_shape)
    for axis, size in enumerate(y_shape):
        if node.y_static[axis] != 1 and size != region[lead + axis]:
            raise ValueError(
                f"{node.op}: a value of shape {tuple(y_shape)} does not fit the indexed region of shape {region} "
                f"(value axis {axis}: {size} vs {region[lead + axis]}); only dimensions that are statically 1 "
                f"broadcast (value type {node.y_type}; declare a broadcastable dimension with "
                f"dimshuffle('x', ...) or shape=(1, ...)); the node was built at {node.trace}")
''', ("_build_index",))

_helper("_check_shape", '''
def _check_shape(node, have, want):
    """specify_shape's run-time check (ops.gradops)."""
    if tuple(have) != tuple(want):
        if node.hint:
            raise ShapeMismatchError(f"{node.hint}: {node.x} has shape {tuple(have)}, expected {tuple(want)} "
                                     f"(at {node.trace})")
        raise ShapeMismatchError(f"specify_shape: {node.x} has shape {tuple(have)} at run time, but specify_shape "
                                 f"says {tuple(want)} (at {node.trace}); fix the value's shape or the shape given "
                                 f"to specify_shape")
''', ("errors",))

_helper("_overflow_ignored", '''
def _overflow_ignored():
    """A copy of the running context in which NumPy ignores overflow (scan.op.overflow_ignored)."""
    import contextvars
    with np.errstate(over="ignore"):
        return contextvars.copy_context()
''')

_helper("_scan_length", lambda: _own_source(scan_length, "_scan_length"))

_helper("_check_row", '''
def _check_row(name, what, buffer, value):
    """A loop's step returned a value of another shape than its earlier steps (scan.op)."""
    raise GraphShapeError(f"scan {name!r}: the step returned {what} with shape {np.shape(value)}, but "
                          f"earlier steps (or its initial value) have shape {buffer.shape[1:]}")
''', ("errors",))

_helper("_zero_step_shapes", '''
class _ZeroStep:
    """A loop's body, to find the shape of one step of its per-step outputs when it runs no step: it runs
    once on zeros shaped like one step's inputs (scan.op.zero_step_shapes)."""

    def __init__(self, body, static, n_states, seq_dtypes, state_dtypes, state_taps):
        self.body, self.static, self.n_states = body, static, n_states
        self.seq_dtypes, self.state_dtypes, self.state_taps = seq_dtypes, state_dtypes, state_taps

    def shapes(self, sequences, inits, nonsequences):
        fallback = [tuple(0 if d is None else d for d in shape) for shape in self.static]
        if all(None not in shape for shape in self.static):
            return fallback
        try:
            values = [np.zeros(np.shape(s)[1:], dtype=dtype) for s, dtype in zip(sequences, self.seq_dtypes)]
            for j, n_taps in enumerate(self.state_taps):
                values += [np.zeros(np.shape(inits[j])[1:], dtype=self.state_dtypes[j]) for _ in range(n_taps)]
            values += [np.asarray(v) for v in nonsequences]
            with np.errstate(all="ignore"):
                results = self.body(*values)
        except Exception:  # a body that needs real values (an index, a size): the static sizes will do
            return fallback
        return [tuple(np.shape(results[self.n_states + k])) for k in range(len(self.static))]


def _zero_step_shapes(loop, sequences, inits, nonsequences):
    return loop.shapes(sequences, inits, nonsequences)
''')

def _own_op(op_class: type, name: str) -> str:
    """A standalone class ``name`` for one of symrnn's ops whose ``perform`` needs only NumPy and the op's
    ``axis``: it keeps the axis, and its ``perform`` is the op's own source (annotations dropped)."""
    perform = textwrap.indent(_own_source(op_class.perform, "perform"), "    ")
    return (f"class {name}:\n    \"\"\"{op_class.__module__}.{op_class.__name__}, standalone.\"\"\"\n\n"
            f"    def __init__(self, axis):\n        self.axis = axis\n\n{perform}\n")


_helper("_Split", lambda: _own_op(Split, "_Split"))
_helper("_ProdOthers", lambda: _own_op(ProdOthers, "_ProdOthers"))

_helper("STATE_SIZE", f"STATE_SIZE = {STATE_SIZE}")
_helper("_pack_random_state", lambda: _own_source(pack_random_state, "_pack_random_state"), ("errors",))
_helper("_unpack_random_state", lambda: _own_source(unpack_random_state, "_unpack_random_state"),
        ("errors", "STATE_SIZE"))

_helper("_Draw", '''
def _multinomial_rows(random, n, pvals, shape):
    """n draws per row of pvals, counted per category (ops.random._multinomial_rows)."""
    pvals = np.broadcast_to(pvals, shape)
    cumulative = np.cumsum(pvals, axis=-1)
    n = int(n)
    u = random((n, *shape[:-1]))
    below = u[..., None] < cumulative
    hit = below.any(axis=-1, keepdims=True)
    first = np.arange(shape[-1]) == below.argmax(axis=-1)[..., None]
    return (first & hit).sum(axis=0)


def _legacy_integers(rng, low, high, shape):
    """Integers in [low, high], one randint call per element in C order, as Theano drew them."""
    low, high = np.broadcast_to(low, shape), np.broadcast_to(high, shape)
    out = np.empty(shape, dtype=np.int64)
    for index in np.ndindex(*shape):
        out[index] = rng.randint(low[index], high[index] + 1)
    return out


_DISTRIBUTIONS = {  # name: (parameter names, draw with a Generator, draw with a legacy RandomState)
    "uniform": (("low", "high"), lambda g, a, b, s: g.uniform(a, b, s), lambda r, a, b, s: r.uniform(a, b, s)),
    "normal": (("avg", "std"), lambda g, a, b, s: g.normal(a, b, s), lambda r, a, b, s: r.normal(a, b, s)),
    "binomial": (("n", "p"), lambda g, a, b, s: g.binomial(a, b, s), lambda r, a, b, s: r.binomial(a, b, s)),
    "random_integers": (("low", "high"), lambda g, a, b, s: g.integers(a, b, s, endpoint=True), _legacy_integers),
    "multinomial": (("n", "pvals"), lambda g, a, b, s: _multinomial_rows(g.random, a, b, s), None),
}
_WORD = 0xFFFFFFFFFFFFFFFF


class _Draw:
    """One random draw of the graph, from symrnn's counter-based stream state [seed, counter] (ops.random):
    NumPy's Philox with key (seed, draw id) and the call counter as the top word of its counter."""

    def __init__(self, op, dist, draw, dtype, auto_shape):
        self.op, self.dist, self.draw, self.dtype, self.auto_shape = op, dist, draw, dtype, auto_shape

    def _plain(self, value, index):
        value = np.asarray(value)
        if value.ndim:
            return value
        if self.dist == "random_integers" or (self.dist in ("binomial", "multinomial") and index == 0):
            return int(value)
        return float(value)

    def _shape(self, a, b, dims):
        names = _DISTRIBUTIONS[self.dist][0]
        if self.auto_shape:
            try:
                return tuple(np.broadcast_shapes(np.shape(a), np.shape(b)))
            except ValueError:
                raise ValueError(f"{self.op}: {names[0]} of shape {np.shape(a)} and {names[1]} of shape "
                                 f"{np.shape(b)} do not broadcast together") from None
        shape = tuple(int(d) for d in dims)
        for value, name in zip((a, b), names):
            got = np.shape(value)
            if len(got) > len(shape) or any(g not in (1, s) for g, s in zip(got[::-1], shape[::-1])):
                raise ValueError(f"{self.op}: {name} of shape {got} does not broadcast to the drawn shape "
                                 f"{shape}")
        return shape

    def _draw_from(self, gen, a, b, dims, legacy):
        shape = self._shape(a, b, dims)
        how = _DISTRIBUTIONS[self.dist][2 if legacy else 1]
        out = how(gen, self._plain(a, 0), self._plain(b, 1), shape)
        return np.asarray(out, dtype=self.dtype).reshape(shape)

    def sample(self, state, a, b, *dims):
        seed, counter = (int(v) for v in np.asarray(state))
        gen = np.random.Generator(np.random.Philox(key=[seed & _WORD, self.draw & _WORD],
                                                   counter=[0, 0, 0, counter & _WORD]))
        return self._draw_from(gen, a, b, dims, legacy=False)


class _LegacyDraw(_Draw):
    """A draw with NumPy's legacy RandomState (Mersenne Twister), packed in an int64 state vector, as Theano's
    RandomStreams drew (ops.random.RandomStateDraw): returns the advanced state and the sample."""

    def sample(self, state, a, b, *dims):
        rng = _unpack_random_state(state)
        out = self._draw_from(rng, a, b, dims, legacy=True)
        return _pack_random_state(rng), out
''', ("errors", "_pack_random_state", "_unpack_random_state"))


# --------------------------------------------------------------------------- the table: bound object -> source

# A helper function of symrnn's that the generated code calls -> its twin's name (a key of _HELPERS).
_FUNCTIONS: dict[int, str] = {
    id(scan_length): "_scan_length",
    id(_check_row): "_check_row",
    id(zero_step_shapes): "_zero_step_shapes",
    id(broadcast_error): "_broadcast_error",
    id(check_value_fits): "_check_value_fits",
    id(_check_shape): "_check_shape",
    id(overflow_ignored): "_overflow_ignored",
}


def _bound_method(method: types.MethodType, out: _Module) -> str | None:
    """An op's method that the generated code calls (a random draw, a split), as source; None if unknown."""
    op, func = method.__self__, method.__func__
    if type(op) in (RandomDraw, RandomStateDraw) and func is type(op).sample:
        kind = "_LegacyDraw" if type(op) is RandomStateDraw else "_Draw"
        out.need("_Draw")
        args = ", ".join(_literal(v) for v in (str(op), op.dist, op.draw, op.dtype, op.auto_shape))
        return f"{kind}({args}).sample"
    if type(op) is Split and func is Split.perform:
        out.need("_Split")
        return f"_Split({_literal(op.axis)}).perform"
    return None


def _bound_op(op: Any, out: _Module) -> str | None:
    """An op object that the generated code uses (``op.perform(...)``, a loop's body), as source."""
    if type(op) is ProdOthers:
        out.need("_ProdOthers")
        return f"_ProdOthers({_literal(tuple(op.axis))})"
    if isinstance(op, Scan):  # bound for zero_step_shapes: the body, generated as a function of its own
        return out.loop_body(op)
    return None


def _node_facts(node: Apply) -> dict[str, Any]:
    """What the exported checks need to know of ``node``, as plain values."""
    facts: dict[str, Any] = {}
    if isinstance(node.op, IncSubtensor):
        facts.update(spec=node.op.spec, layout=_layout(node.op.spec, node.inputs[0].ndim),
                     y_static=node.inputs[1].type.shape, y_type=repr(node.inputs[1].type))
    if isinstance(node.op, SpecifyShape):
        facts.update(hint=node.op.hint, x=describe(node.inputs[0]))
    return facts


def _literal(value: Any) -> str:
    """Python source for a plain value (None, bools, numbers, strings, tuples and lists of them).

    A string becomes a literal through ``str.__repr__``, whatever its subclass: the one way a user's string
    enters the module's code.

    Example::

        >>> _literal(("x); import os  #", [1, 2.5, None], float("nan")))
        "('x); import os  #', [1, 2.5, None], float('nan'))"
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return repr(None if value is None else bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return repr(number) if np.isfinite(number) else f"float({str.__repr__(repr(number))})"
    if isinstance(value, str):
        return str.__repr__(value)
    if type(value) in (tuple, list):
        items = ", ".join(_literal(v) for v in value)
        if type(value) is list:
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    raise TypeError(f"no literal for {type(value).__name__}")


# --------------------------------------------------------------------------- the module


class _Module:
    """The pieces of one exported module, gathered while its bound objects are turned into source."""

    def __init__(self, label: str) -> None:
        self.label = label  # the function, for error messages
        self.arrays: dict[str, np.ndarray] = {}  # the .npz: key -> array
        self._array_keys: dict[int, str] = {}
        self._keep: list[Any] = []  # the arrays whose ids are keys above, kept alive
        self._counts: dict[str, int] = {}  # per kind of array ("param", "default", "const"): how many so far
        self.helpers: list[str] = []
        self._bodies = 0

    def need(self, name: str) -> None:
        for dep in _HELPERS[name][1]:
            self.need(dep)
        if name not in self.helpers:
            self.helpers.append(name)

    def array(self, value: Any, kind: str) -> str:
        """Store ``value`` in the .npz (once per object) and return its key."""
        if id(value) not in self._array_keys:
            data = np.asarray(value)
            if data.dtype.hasobject or data.dtype.kind not in "biufcSU":
                raise ExportError(f"cannot export {self.label}: it holds an array of dtype {data.dtype}, which "
                                  f"an .npz file cannot store without pickle")
            key = f"{kind}_{self._counts.get(kind, 0)}"
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self.arrays[key] = data
            self._array_keys[id(value)] = key
            self._keep.append(value)
        return self._array_keys[id(value)]

    def bound(self, name: str, obj: Any) -> str:
        """Source of the value the generated code knows as ``name``."""
        if isinstance(obj, (np.ndarray, np.generic)):
            key = self.array(obj, "const")
            return f"_arrays[{key!r}]" + ("[()]" if isinstance(obj, np.generic) else "")
        if isinstance(obj, Apply):
            self.need("_Node")
            facts = "".join(f", {k}={_literal(v)}" for k, v in _node_facts(obj).items())
            return f"_Node({_literal(str(obj.op))}, {_literal(short_trace(obj.trace))}{facts})"
        if isinstance(obj, types.FunctionType) and id(obj) in _FUNCTIONS:
            self.need(_FUNCTIONS[id(obj)])
            return _FUNCTIONS[id(obj)]
        source = None
        if isinstance(obj, types.MethodType):
            source = _bound_method(obj, self)
        elif not callable(obj) or hasattr(obj, "perform"):
            source = _bound_op(obj, self)
            if source is None and not callable(obj):
                try:
                    source = _literal(obj)
                except TypeError:
                    source = None
        if source is None:
            raise ExportError(f"cannot export {self.label}: its compiled code calls {_what(name, obj)}, which has "
                              f"no standalone NumPy form in symrnn.compile.export")
        return source

    def namespace(self, namespace: dict[str, Any], fn_name: str) -> list[str]:
        """``name = source`` lines for the objects bound in a generated function's namespace."""
        lines = []
        for name, obj in namespace.items():
            if name in ("xp", "np", fn_name) or name.startswith("__"):
                continue
            if name.startswith("_numba_kernel") or name.startswith("_kernel"):  # never generated for export
                raise ExportError(f"cannot export {self.label}: its compiled code runs compiled kernels ({name}: "
                                  f"{type(obj).__name__}), which have no NumPy source")
            value = self.bound(name, obj)
            lines += value.splitlines()[:-1]
            lines.append(f"{name} = {value.splitlines()[-1]}")
        return lines

    def loop_body(self, op: Scan) -> str:
        """A loop's body as a function of its own (for the shapes of a loop that runs no step): the source of
        a factory that binds what the body needs, defines it, and returns a ``_ZeroStep`` over it."""
        self.need("_zero_step_shapes")
        info, inner = op.info, op.inner_slices()
        try:
            generated = codegen.generate(list(op.inner_inputs), [], list(op.inner_nodes), list(op.inner_outputs),
                                         [False] * len(op.inner_outputs), fn_name="_body", keep_buffers=False)
        except ValueError as exc:
            raise ExportError(f"cannot export {self.label}: the body of scan {info.name!r} cannot be generated on "
                              f"its own ({exc})") from exc
        self._bodies += 1
        factory = f"_loop_body_factory_{self._bodies}_"
        static = [tuple(op.inner_outputs[info.n_states + k].type.shape) for k in range(info.n_nitsot)]
        arguments = ", ".join([
            "_body", _literal(static), _literal(info.n_states),
            _literal(tuple(ph.dtype for ph in op.inner_inputs[inner["seqs"]])),
            _literal(tuple(op.inner_outputs[j].dtype for j in range(info.n_states))),
            _literal(tuple(len(taps) for taps in info.state_taps))])
        body = self.namespace(generated.fn.__globals__, "_body") + generated.source.rstrip("\n").splitlines()
        lines = [f"def {factory}():",
                 f"    # the body of scan {codegen.safe_comment(info.name, 40)}, run on zeros for a loop of no step",
                 *(f"    {line}" for line in body),
                 f"    return _ZeroStep({arguments})",
                 f"{factory}()"]
        return "\n".join(lines)


def _what(name: str, obj: Any) -> str:
    """A bound object, named for an error message."""
    owner = getattr(obj, "__self__", None)
    if owner is not None and hasattr(owner, "make_node"):
        return f"{getattr(obj, '__qualname__', name)} of the op {owner} ({type(owner).__name__})"
    if hasattr(obj, "make_node"):
        return f"the op {obj} ({type(obj).__name__}) through its perform(), which is not code that symrnn emits"
    kind = getattr(obj, "__qualname__", None) or type(obj).__name__
    return f"{kind} (bound as {name})"


def argument_names(inputs: Sequence[Variable], aliases: dict[int, str] | None = None) -> list[str]:
    """The exported function's argument names: each input's name (or its ``In(name=...)`` alias) made a
    valid Python identifier, not a keyword, not starting with ``_``, and unique; ``input_<i>`` for an
    unnamed input.

    Example::

        >>> import symrnn.tensor as T
        >>> names = ["x", "class", "x", "1st", None, "x); import os  #", "h t"]
        >>> argument_names([T.scalar(n) for n in names])
        ['x', 'class_', 'x_2', 'input_1st', 'input_4', 'x_import_os', 'h_t']
    """
    aliases = aliases or {}
    out: list[str] = []
    for i, var in enumerate(inputs):
        name = aliases.get(i) or var.name or ""
        text = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_")[:40].strip("_")
        if not text:
            text = f"input_{i}"
        elif text[0].isdigit():
            text = f"input_{text}"
        elif keyword.iskeyword(text):
            text = f"{text}_"
        candidate, k = text, i
        while candidate in out:
            candidate = f"{text}_{k}"
            k += 1
        out.append(candidate)
    return out


def _unique_keys(names: list[str]) -> list[str]:
    """The parameters' keys in ``params``: their names, a second ``w`` as ``w#2`` (and so on)."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        candidate, k = name, 2
        while candidate in taken:
            candidate = f"{name}#{k}"
            k += 1
        out.append(candidate)
        taken.add(candidate)
    return out


# The module's own public names, and Python's builtins, which its helpers use: a function of that name gets "fn_".
_RESERVED = {"params", "defaults", "np", "xp", "os", "threading", "GraphTypeError", "GraphShapeError",
             "ShapeMismatchError", *dir(builtins)}


def _check_exportable(fn: Any, label: str) -> None:
    if fn.backend.name != "numpy":
        raise ExportError(f"cannot export {label}: it runs on the {fn.backend.name} backend; compile it with "
                          f"backend='numpy' to export it (the exported module runs NumPy on the host)")
    if fn.mode == "reference" or getattr(fn, "_generated", None) is None:
        raise ExportError(f"cannot export {label}: mode='reference' generates no code; compile it with "
                          f"mode='FAST_RUN' to export it")
    if fn.nan_guard is not None or fn.mode == "DebugMode":
        raise ExportError(f"cannot export {label}: the checks of {fn.mode} run in symrnn, not in NumPy; compile "
                          f"it with mode='FAST_RUN' to export it")


def module_paths(path: str | os.PathLike) -> tuple[str, str]:
    """The module's path (``.py`` added where missing) and its arrays' path (``.npz`` beside it).

    Example::

        >>> module_paths("out/train_step"), module_paths("out/train_step.py")[1]
        (('out/train_step.py', 'out/train_step.npz'), 'out/train_step.npz')
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path.endswith(".py"):
        path += ".py"
    if os.path.basename(path) == ".py" or os.path.isdir(path):
        raise ExportError(f"export needs a file name for the module, got the folder {path[:-3]!r}")
    return path, path[:-3] + ".npz"


def export(fn: Any, path: str | os.PathLike) -> str:
    """Write ``fn`` (a compiled :class:`~symrnn.compile.function.Function`) as a module that needs NumPy only,
    and its arrays beside it; return the module's path.  See :meth:`Function.export`."""
    label = fn._label()
    _check_exportable(fn, label)
    py_path, npz_path = module_paths(path)
    out = _Module(label)
    out.need("_filter")

    # The code, generated again from the same scheduled graph, without profiling, and with NumPy's ufuncs where
    # the function runs numba kernels (config.kernels = "numba"), which compute the same numbers, bit for bit
    # (tests/test_numba_kernels.py).
    generated = codegen.generate(fn.inputs, fn._compiled_shared, fn.nodes, fn.compiled_outputs, fn._copy_outputs,
                                 fn_name="_compiled", keep_buffers=fn.keep_buffers)
    bound = out.namespace(generated.fn.__globals__, "_compiled")
    if generated.buffers is not None:
        out.need("_BufferPool")

    # Parameters: every shared variable read or updated, by a unique name.
    shared: list[SharedVariable] = []
    for var in [*fn.shared, *fn._compiled_shared, *(t for t, _ in fn.updates if isinstance(t, SharedVariable))]:
        if all(var is not s for s in shared):
            shared.append(var)
    keys = _unique_keys([var.name or f"shared_{i}" for i, var in enumerate(shared)])
    key_of = {id(var): key for var, key in zip(shared, keys)}
    param_keys = [out.array(np.asarray(fn.backend.to_host(fn.backend.load_shared(var))), "param") for var in shared]

    aliases = {i: alias for alias, i in fn._input_names.items() if alias != fn.inputs[i].name}
    args = argument_names(fn.inputs, aliases)
    default_keys = {i: out.array(np.asarray(value), "default") for i, value in sorted(fn._defaults.items())}
    updates = []
    for target, _ in fn.updates:
        if isinstance(target, SharedVariable):
            updates.append(("params", key_of[id(target)]))
        else:
            updates.append(("defaults", args[next(i for i, v in enumerate(fn.inputs) if v is target)]))

    name = codegen.function_identifier(fn.name)
    if name in _RESERVED:
        name = f"fn_{name}"
    export_id = _export_id(out.arrays)
    source = _module_source(fn, name, args, shared, keys, param_keys, default_keys, updates, out, bound,
                            generated.source, os.path.basename(npz_path), export_id)
    compile(source, py_path, "exec")  # never write a module that does not compile

    with atomic_write(npz_path, "wb") as handle:  # the arrays first: the module checks that they are its own
        np.savez(handle, export_id=np.array(export_id), **out.arrays)
    with atomic_write(py_path, "w", encoding="utf-8") as handle:
        handle.write(source)
    return py_path


def _tuple_source(names: list[str]) -> str:
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _export_id(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key, value in arrays.items():
        digest.update(f"{key}:{value.dtype.str}:{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:16]


def _module_source(fn: Any, name: str, args: list[str], shared: list[SharedVariable], keys: list[str],
                   param_keys: list[str], default_keys: dict[int, str], updates: list[tuple[str, str]],
                   out: _Module, bound: list[str], compiled: str, npz_name: str, export_id: str) -> str:
    """The text of the module (see the module docstring of :mod:`symrnn.compile.export`)."""
    safe = codegen.safe_comment
    n_out = len(fn.outputs)
    single = bool(fn._single)
    returns = "one array" if single else f"a list of {n_out} array(s)"
    updated_params = {key for kind, key in updates if kind == "params"}
    # From the first argument that may be left out (it has a default, or will have one after a call updates it)
    # on, every argument is optional in the signature; _call says which one is missing.
    stateful = {i for i, var in enumerate(fn.inputs) if any(var is target for target, _ in fn.updates)}
    first_default = min(set(default_keys) | stateful, default=len(args))
    signature = ", ".join(a if i < first_default else f"{a}=_MISSING" for i, a in enumerate(args))
    doc_args = []
    for i, (arg, var) in enumerate(zip(args, fn.inputs)):
        was = f", input {safe(var.name, 40)} of the symrnn function" if var.name and var.name != arg else ""
        doc_args.append(f"    {arg}: {safe(repr(var.type), 40)}{was}"
                        f"{' (has a default, in defaults)' if i in default_keys else ''}")
    doc_outputs = [f"    {i}: {safe(describe(v), 60)}" for i, v in enumerate(fn.outputs)]
    doc_params = [f"    {safe(key, 48)}: {safe(repr(var.type), 40)}"
                  f"{', updated by each call' if key in updated_params else ''}" for key, var in zip(keys, shared)]
    wanted_inputs = tuple((f"input {i} ({var.name!r})" if var.name else f"input {i}", var.dtype,
                           tuple(var.type.shape), repr(var.type)) for i, var in enumerate(fn.inputs))
    compiled_shared = {id(v): key for v, key in zip(shared, keys)}
    lines = [
        f'"""{safe(fn.name or "compiled", 60)}: a function compiled by symrnn, exported with Function.export.',
        "",
        "It needs NumPy only (symrnn is not imported). Call",
        "",
        f"    {name}({', '.join(args)}) -> {returns}",
        "",
        "with arguments by position or by name:",
        "",
        *(doc_args or ["    (none)"]),
        "",
        "It returns what the compiled function returns" + (":" if doc_outputs else " (an empty list)."),
        *([""] + doc_outputs if doc_outputs else []),
        "",
        f"The parameters (shared variables) are in the dict `params`, name -> array, loaded from {safe(npz_name, 60)}",
        "beside this file (numpy.load, allow_pickle=False). Each call reads them and then, as the compiled",
        "function does, stores the new value of each updated one in `params` (it replaces the array; arrays",
        "are never written in place). Set params[name] to change a value; `defaults` holds the values of",
        "arguments that have one (by argument name), updated in the same way where the function updates them.",
        "The .npz file is read once, at import, and never written.",
        *(["The state of a legacy RandomState (Theano's RandomStreams) is held packed in an int64 vector."]
          if any(not isinstance(fn.backend.load_shared(var), np.ndarray) or var.dtype == "int64" and
                 var.type.shape == (STATE_SIZE,) for var in shared) else []),
        *([""] + doc_params if doc_params else []),
        "",
        "The code in _compiled is the function's generated source (Function.source): the same statements, so",
        "the same numbers on the same NumPy. Errors are raised as the generated code raises them, without the",
        "re-run on the graph as built that symrnn does to name the user's line.",
        '"""',
        "",
        "import os",
        "import threading",
        "",
        "import numpy as np",
        "",
        "xp = np",
        "",
        f"_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), {_literal(npz_name)})",
        "with np.load(_DATA, allow_pickle=False) as _npz:",
        "    _arrays = {key: _npz[key] for key in _npz.files}",
        f"if str(_arrays.pop('export_id', '')) != {export_id!r}:",
        "    raise ImportError(f'{_DATA} holds the arrays of another export of this function; export it again')",
        "",
        "params = {",
        *(f"    {_literal(key)}: _arrays[{pkey!r}]," for key, pkey in zip(keys, param_keys)),
        "}",
        "defaults = {",
        *(f"    {_literal(args[i])}: _arrays[{dkey!r}]," for i, dkey in default_keys.items()),
        "}",
        "",
        f"_LABEL = {_literal(out.label)}",
        f"_FLOATX = {_literal(config.floatX)}  # config.floatX when exported: Python floats may be cast to it",
        f"_ALLOW_DOWNCAST = {_literal(fn.allow_input_downcast)}",
        f"_FLOAT_DTYPES = {_literal(tuple(sorted(FLOAT_DTYPES)))}",
        f"_INT_DTYPES = {_literal(tuple(sorted(INT_DTYPES)))}",
        "# per argument: (its name in errors, dtype, static shape, type)",
        f"_INPUTS = {_literal(wanted_inputs)}",
        f"_ARGUMENTS = {_literal(tuple(args))}",
        "# the parameters that the compiled code reads, in its order",
        f"_SHARED = {_literal(tuple(compiled_shared[id(v)] for v in fn._compiled_shared))}",
        "# what the values after the outputs update: ('params', name) or ('defaults', argument)",
        f"_UPDATES = {_literal(tuple(updates))}",
        f"_N_OUTPUTS = {n_out}",
        "_MISSING = object()",
        "_LOCK = threading.Lock()",
        "",
        "",
        "# ---- symrnn's runtime helpers, as NumPy",
    ]
    for helper in out.helpers:
        lines += ["", "", _helper_source(helper)]
    if "_BufferPool" in out.helpers:
        lines += ["", "", "_POOL = _BufferPool()"]
    lines += ["", "", "# ---- values bound when the function was compiled", *bound,
              "", "", "# ---- the generated code (Function.source)", compiled.rstrip("\n"), "", ""]
    call = "_compiled(*args, *[params[key] for key in _SHARED]{})"
    run = (["cache = _POOL.acquire()  # this call's own kept buffers: calls may run in several threads",
            "try:",
            f"    results = {call.format(', cache')}",
            "finally:",
            "    _POOL.release(cache)"] if "_BufferPool" in out.helpers else [f"results = {call.format('')}"])
    if updates:
        run = ["with _LOCK:  # reading, computing and storing the parameters is one step",
               *(f"    {line}" for line in run),
               "    for (where, key), value in zip(_UPDATES, results[_N_OUTPUTS:]):",
               "        if where == 'params':",
               "            params[key] = value",
               "        else:",
               "            defaults[key] = np.asarray(value)"]
    lines += [
        "def _call(values):",
        "    args = []",
        "    for i, ((what, dtype, static, type_text), value) in enumerate(zip(_INPUTS, values)):",
        "        if value is _MISSING:",
        "            if _ARGUMENTS[i] not in defaults:",
        "                raise TypeError(f'{_LABEL}: missing {what}')",
        "            value = defaults[_ARGUMENTS[i]]",
        "        args.append(_filter(value, dtype, static, type_text, f'{_LABEL}: {what}'))",
        *(f"    {line}" for line in run),
        "    outputs = results[:_N_OUTPUTS]",
        f"    return {'outputs[0]' if single else 'outputs'}",
        "",
        "",
        f"def {name}({signature}):",
        f'    """{name}({", ".join(args)}) -> {returns} (see the module docstring)."""',
        f"    return _call({_tuple_source(args)})",
        "",
        "",
        f"__all__ = [{_literal(name)}, 'params', 'defaults']",
        "",
    ]
    return "\n".join(lines)


__all__ = ["ExportError", "argument_names", "export", "module_paths"]
