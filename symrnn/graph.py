"""The graph IR: types, variables, ops and their applications, and traversals.

A graph is a DAG of :class:`Variable` s and :class:`Apply` nodes.  A variable
is either a graph input (no owner), a :class:`Constant`, a
:class:`SharedVariable`, or the ``index``-th output of an ``Apply`` node, which
records an :class:`Op` applied to input variables.

Every traversal here is iterative (principle 4): an unrolled graph of 10,000
steps must not hit Python's recursion limit.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from symrnn.config import config

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# --------------------------------------------------------------------------- errors


def user_line() -> str:
    """Where a node is being built: ``file:line`` of the innermost stack frame in the user's code, and, when
    symrnn's model library (``symrnn.nn``, the demo) built it for the user, the innermost frame there too.

    This is how traces (``node.trace``) and graph-building errors point at the user's code::

        /home/me/train.py:12                                    the user built it
        /home/me/train.py:12 (LSTMCell.step, symrnn/nn/cells.py:162)   nn.rnn(...) on line 12 built it
        symrnn/nn/cells.py:162 (in LSTMCell.step)                no user frame: the ``symrnn demo`` command

    The core (graph, ops, tensor, scan, rewrites, compile, ``symrnn/__main__.py``) and launchers (``runpy``,
    the ``symrnn`` console script) are never named.  In the library, a private helper's frame (``_preact``)
    gives way to the public method that called it (``LSTMCell.step``, one line per gate).  The first
    ``file:line`` is always the user's line where there is one; :func:`trace_lines` reads a trace back.
    """
    if _fixed_lines:
        return _fixed_lines[-1]
    frame = sys._getframe(1)
    library = helper = outermost = None  # (qualified name, shown path, line) of frames in symrnn
    while frame is not None:
        code = frame.f_code
        kind = _frame_kinds.get(code.co_filename)
        if kind is None:  # abspath is slow, and graphs have many nodes: remember the answer per file
            kind = _frame_kinds[code.co_filename] = _frame_kind(code.co_filename)
        if kind[0] == _USER:
            found = library or helper
            line = f"{code.co_filename}:{frame.f_lineno}"
            return f"{line} ({found[0]}, {found[1]}:{found[2]})" if found else line
        if kind[0] == _LIBRARY and library is None:
            entry = (_qualname(code), kind[1], frame.f_lineno)
            if code.co_name.startswith("_") and not code.co_name.startswith("__"):
                helper = helper or entry
            else:
                library = entry
        elif kind[0] == _CORE:
            outermost = (_qualname(code), kind[1], frame.f_lineno)
        frame = frame.f_back
    # No user frame: a graph that symrnn's own command built (the demo, ``symrnn viz``).
    found = library or helper or outermost
    return f"{found[1]}:{found[2]} (in {found[0]})" if found else "<unknown>"


# How user_line sees a file.  The model library builds graphs for the user; the core is the compiler itself.
_USER, _CORE, _LIBRARY, _LAUNCHER = range(4)
MODEL_LIBRARY = ("nn/", "demo.py", "cli.py")  # paths in the package (cli.py: ``symrnn viz``'s example graphs)
_frame_kinds: dict[str, tuple[int, str]] = {}
_fixed_lines: list[str] = []


def _frame_kind(filename: str) -> tuple[int, str]:
    """The kind of a frame's file and how a trace shows it (``symrnn/nn/cells.py`` inside the package)."""
    if filename.startswith("<frozen") or _is_launcher(filename):
        return _LAUNCHER, filename
    path = os.path.abspath(filename)
    if not path.startswith(_PACKAGE_DIR + os.sep):
        return _USER, filename
    inner = os.path.relpath(path, _PACKAGE_DIR).replace(os.sep, "/")
    return (_LIBRARY if inner.startswith(MODEL_LIBRARY) else _CORE), f"symrnn/{inner}"


def _qualname(code: Any) -> str:
    """``LSTMCell.step``; ``rnn.step`` for a function defined in ``rnn`` (Python 3.10: just ``step``)."""
    return getattr(code, "co_qualname", code.co_name).replace(".<locals>", "")


def trace_lines(trace: str | None) -> list[tuple[str, int]]:
    """The ``(file, line)`` pairs that a trace names, outermost first: the user's line, then the model
    library's line where the library built the node.  Package files come back as full paths (for
    ``linecache``).

    Example::

        >>> import os
        >>> [(os.path.basename(f), n) for f, n in trace_lines("/a/train.py:12 (LSTMCell.step, symrnn/nn/cells.py:9)")]
        [('train.py', 12), ('cells.py', 9)]
        >>> trace_lines("symrnn/nn/cells.py:9 (in LSTMCell.step)")[0][1], trace_lines(None)
        (9, [])
    """
    m = _TRACE.match(trace or "")
    if m is None:
        return []
    found = [(m.group(1), int(m.group(2)))]
    inner = _TRACE.match((m.group(3) or "").rpartition(", ")[2])
    if inner is not None:
        found.append((inner.group(1), int(inner.group(2))))
    return [(os.path.join(_PACKAGE_PARENT, f) if f.startswith("symrnn/") else f, n) for f, n in found]


def short_trace(trace: str | None) -> str:
    """A trace with file names only, for a source comment or a label: ``train.py:12 (LSTMCell.step, cells.py:162)``.

    Example::

        >>> short_trace("/home/me/train.py:12 (LSTMCell.step, symrnn/nn/cells.py:162)")
        'train.py:12 (LSTMCell.step, cells.py:162)'
    """
    return re.sub(r"[^\s(,]*[/\\]", "", trace or "")


_PACKAGE_PARENT = os.path.dirname(_PACKAGE_DIR)
_TRACE = re.compile(r"(.*?):(\d+)(?: \((.*)\))?$", re.S)


class fixed_user_line:  # noqa: N801 - used like a function: ``with fixed_user_line():``
    """Within this block :func:`user_line` answers the line it would answer at its start, without walking
    the stack: compiling builds thousands of nodes, all from the user's one ``function()`` call.

    (A class, not a ``contextlib`` generator, so that no ``contextlib`` frame stands between symrnn and the
    user's line when it is looked up.)
    """

    def __enter__(self) -> None:
        _fixed_lines.append(user_line())

    def __exit__(self, *exc: object) -> None:
        _fixed_lines.pop()


def _is_launcher(filename: str) -> bool:
    """A console-script or ``runpy`` frame that only started symrnn's command line."""
    base = os.path.basename(filename)
    return base in ("symrnn", "runpy.py") or filename.startswith("<frozen")


def describe(var: Variable) -> str:
    """A short human description of a variable: name (if any), dtype and shape."""
    label = f"{var.name!r}: " if var.name else ""
    return f"{label}{var.type}"


class GraphTypeError(TypeError):
    """A dtype or ndim mistake found while building a graph or calling a function.

    ``except TypeError`` catches it, as it catches Theano's errors for a wrong dtype or a wrong number of
    dimensions.  Its subclass :class:`GraphNdimError` is also a ``ValueError``.
    """


class GraphValueError(GraphTypeError, ValueError):
    """A wrong argument value where Theano raises ``ValueError`` and symrnn's callers catch ``GraphTypeError``
    (a bad scan taps specification, a wrong number of step outputs): both ``except`` clauses catch it."""


class GraphNdimError(GraphValueError):
    """A value that cannot have the number of dimensions asked for (``as_tensor_variable(v, ndim=2)``).

    Theano raises ``ValueError`` here and ``TypeError`` elsewhere for an ndim mistake, so both ``except``
    clauses catch it (and so does ``except GraphTypeError``).

    Example::

        >>> import symrnn.tensor as T
        >>> try:
        ...     T.as_tensor_variable([[1.0]], ndim=1)
        ... except ValueError as exc:
        ...     print(type(exc).__name__, isinstance(exc, TypeError))
        GraphNdimError True
    """


class MissingInputError(GraphTypeError):
    """A graph needs a variable that it was not given (Theano's name): an input that ``function()`` was not
    told of, or a variable that a ``scan(strict=True)`` body reads without ``non_sequences``."""


class GraphShapeError(ValueError, TypeError):
    """A static shape mistake found while building a graph or calling a function.

    Both ``except ValueError`` and ``except TypeError`` catch it.  A symrnn static shape holds Theano's
    broadcast pattern (its known 1s), and Theano reports a broadcast pattern that does not fit as a
    ``TypeError`` (the pattern is part of its type) but a wrong runtime shape as a ``ValueError``.

    Example::

        >>> import symrnn.tensor as T
        >>> try:
        ...     T.matrix("a", shape=(2, 3)) + T.matrix("b", shape=(4, 3))
        ... except TypeError as exc:
        ...     print(type(exc).__name__, isinstance(exc, ValueError))
        GraphShapeError True
    """


def op_error(op: Any, inputs: Sequence[Variable], message: str, kind: type = GraphTypeError) -> Exception:
    """Build an exception that names the op, its input types and the user's line."""
    lines = [f"{op}: {message}"]
    if inputs:
        lines.append("  inputs: " + ", ".join(describe(v) for v in inputs))
    lines.append(f"  at {user_line()}")
    return kind("\n".join(lines))


# --------------------------------------------------------------------------- services from higher layers


class Hook:
    """A service that a lower layer uses and a higher layer provides, so that imports go one way only
    (``docs/architecture.md``).  The lower layer calls the hook; the higher layer fills it at import time
    with ``@hook.provide``.  Importing ``symrnn`` imports every provider.

    Example::

        >>> from symrnn.graph import as_tensor_variable, pack_variables
        >>> pack_variables.provider
        'symrnn.ops.shape'
    """

    def __init__(self, what: str, provider: str) -> None:
        self.what = what
        self.provider = provider
        self._fn: Callable[..., Any] | None = None

    def provide(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Fill the hook (usable as a decorator); the function is returned unchanged."""
        self._fn = fn
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is None:
            raise RuntimeError(f"{self.what} is provided by {self.provider}, which has not been imported; "
                               f"import symrnn first")
        return self._fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<hook {self.what!r}, provided by {self.provider}>"


#: Packs a list that holds symbolic variables into one tensor (``T.stack``); the shape ops provide it.
pack_variables = Hook("packing a list of variables into one tensor", "symrnn.ops.shape")


# --------------------------------------------------------------------------- types


def _normalize_dtype(dtype: Any) -> str:
    if isinstance(dtype, str) and dtype in SUPPORTED_DTYPES:
        return dtype  # the common case, without asking NumPy
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise GraphTypeError(f"{dtype!r} is not a dtype") from exc
    if name not in SUPPORTED_DTYPES:
        raise GraphTypeError(f"dtype {name!r} is not supported; use one of {sorted(SUPPORTED_DTYPES)}")
    return name


SUPPORTED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64",
     "complex64", "complex128"]
)
FLOAT_DTYPES = frozenset(["float16", "float32", "float64"])
#: Complex values go through arithmetic, ``exp``, ``log`` and the shape ops; no gradient flows into them.
COMPLEX_DTYPES = frozenset(["complex64", "complex128"])
INT_DTYPES = frozenset(["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])


class TensorType:
    """A dtype plus a static shape whose entries are ints or ``None`` (unknown).

    A dimension of static size 1 is *broadcastable*; broadcasting follows from
    these known 1s only, never from runtime values.

    Example::

        >>> t = TensorType("float32", (None, 3))
        >>> t.ndim, t.broadcastable
        (2, (False, False))
        >>> x = t("x")    # a new input variable of this type
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: Any, shape: Sequence[int | None]) -> None:
        dims = []
        for dim in shape:
            if dim is None:
                dims.append(None)
            elif isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and dim >= 0:
                dims.append(int(dim))
            else:
                raise GraphTypeError(f"static shape entries must be non-negative ints or None, got {dim!r}")
        self.dtype = _normalize_dtype(dtype)
        self.shape: tuple[int | None, ...] = tuple(dims)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(dim == 1 for dim in self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorType) and self.dtype == other.dtype and self.shape == other.shape

    def __hash__(self) -> int:
        return hash((self.dtype, self.shape))

    def __repr__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        if self.ndim == 1:
            dims += ","
        return f"{self.dtype}({dims})"

    def __reduce__(self) -> tuple:
        return TensorType, (self.dtype, self.shape)

    def clone(self, dtype: Any = None, shape: Sequence[int | None] | None = None) -> TensorType:
        return TensorType(self.dtype if dtype is None else dtype, self.shape if shape is None else shape)

    def __call__(self, name: str | None = None) -> Variable:
        """Make a new graph-input variable of this type."""
        return Variable(self, name=name)

    def accepts_shape(self, shape: tuple[int, ...]) -> bool:
        """Whether a runtime shape fits this static shape."""
        return len(shape) == self.ndim and all(s is None or s == d for s, d in zip(self.shape, shape))

    def filter(self, value: Any, what: str, allow_downcast: bool | None = None) -> np.ndarray:
        """Convert ``value`` to an array of this type, or raise an error naming ``what``.

        Upcasting is always allowed. Downcasting (a loss of precision) happens only
        with ``allow_downcast=True``; with ``None`` (Theano's default) a Python
        float or list may be downcast to ``config.floatX``.
        """
        is_python = not isinstance(value, (np.ndarray, np.generic))
        arr = np.asarray(value)
        if arr.dtype == object or arr.dtype.kind not in "biufc":
            raise GraphTypeError(f"{what}: expected numbers of dtype {self.dtype}, got {arr.dtype} data")
        if arr.ndim != self.ndim:
            raise GraphTypeError(
                f"{what}: expected {self.ndim} dimension(s) ({self!r}), got an array of shape {arr.shape}"
            )
        if arr.dtype.name != self.dtype:
            safe = np.can_cast(arr.dtype, self.dtype, "safe")
            if is_python and not safe and arr.dtype.kind in "iu" and self.dtype in FLOAT_DTYPES:
                safe = True  # a Python int list into a float input, as Theano allows
            if arr.dtype.kind in "iub" and self.dtype in INT_DTYPES:
                # integers that fit: Python ints, and NumPy's int64 labels into an int32 input (issue 16)
                safe = np.array_equal(arr.astype(self.dtype), arr)
            downcast_ok = allow_downcast or (
                allow_downcast is None and is_python and self.dtype == config.floatX
            )
            if not (safe or downcast_ok):
                lost = "values that do not fit" if arr.dtype.kind in "iub" and self.dtype in INT_DTYPES else "precision"
                raise GraphTypeError(
                    f"{what}: expected dtype {self.dtype}, got {arr.dtype}; converting would lose "
                    f"{lost} (cast it yourself, or pass allow_input_downcast=True)"
                )
            arr = arr.astype(self.dtype)
        if not self.accepts_shape(arr.shape):
            raise GraphShapeError(f"{what}: expected shape {self!r}, got an array of shape {arr.shape}")
        return arr


# --------------------------------------------------------------------------- variables


class Variable:
    """A symbolic value in a graph: a graph input, a constant, a shared value or an op's output.

    Python operators build graph nodes (``x + y``, ``x[1:]``, ``x @ W``); the
    comparisons ``<, <=, >, >=`` are symbolic too, while ``==`` keeps Python's
    identity meaning (use ``T.eq`` for the elementwise comparison), as in Theano.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.matrix("x")
        >>> y = (x * 2).sum(axis=1)
        >>> y.type
        float64(?,)
    """

    def __init__(self, type: TensorType, owner: Apply | None = None, index: int | None = None,
                 name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise GraphTypeError(f"a variable's name must be a str, got {type(name).__name__}")
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.trace = user_line() if owner is None else None

    # ---- type shortcuts
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        return self.type.shape

    def clone(self) -> Variable:
        """A new owner-less variable of the same type and name (for inputs and clones)."""
        return Variable(self.type, name=self.name)

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.owner is not None:
            suffix = "" if len(self.owner.outputs) == 1 else f".{self.index}"
            return f"{self.owner.op}.out{suffix}"
        return f"<{self.type}>"

    def __str__(self) -> str:
        return repr(self)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        """Every variable is true, as in Theano (``if not x: x = T.matrix()``), except the result of a
        comparison (``x < y``, ``T.eq(x, y)``, ...: an op whose ``comparison`` is set), which raises: its
        truth is only known when the function runs, and ``a < b < c`` would silently drop ``a < b``.

        Example::

            >>> import symrnn.tensor as T
            >>> x = T.vector("x")
            >>> bool(x)
            True
            >>> if x > 0: pass  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            symrnn.graph.GraphTypeError: the comparison x > 0 is symbolic: ... use T.switch(condition, a, b) ...
        """
        if self.owner is not None and getattr(self.owner.op, "comparison", False):
            raise GraphTypeError(
                f"the comparison {_comparison_text(self)} is symbolic: it has no truth value while the "
                f"graph is built (and chained comparisons such as a < b < c do not work); use "
                f"T.switch(condition, a, b) for a symbolic choice (at {user_line()})"
            )
        return True

    # Pickling and copying: a variable is its state (``__dict__``).  A graph is pickled through its
    # variables' owners and nodes' inputs, so its depth counts against Python's recursion limit, as in
    # Theano; a compiled Function pickles its nodes in topological order, which keeps that shallow.

    def __iter__(self):
        raise GraphTypeError(
            f"cannot iterate over symbolic variable {self!r}; index it (x[i]) or use scan (at {user_line()})"
        )

    def __len__(self) -> int:
        raise GraphTypeError(f"len() of symbolic variable {self!r} is not defined; use x.shape[0] (at {user_line()})")

    # The tensor language (operators, .T, .shape, .sum(), ...) is attached to this
    # class by symrnn.tensor.variable, which keeps graph.py free of op imports.


_COMPARISON_SIGNS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "neq": "!="}


def _comparison_text(var: Variable) -> str:
    """``x > 0`` for the result of a comparison, in the user's own notation where it can be."""
    op, inputs = var.owner.op, var.owner.inputs
    sign = _COMPARISON_SIGNS.get(getattr(op, "name", ""))
    if sign is not None and len(inputs) == 2:
        return f"{_operand_text(inputs[0])} {sign} {_operand_text(inputs[1])}"
    return repr(var)


def _operand_text(var: Variable) -> str:
    if isinstance(var, Constant) and var.data.size == 1 and not var.name:
        value = var.data.item()
        return f"{value:g}" if isinstance(value, float) else str(value)
    return repr(var)


class Constant(Variable):
    """A variable with a fixed value.  ``weak`` marks a Python scalar whose dtype yields to its partner's.

    Example::

        >>> import symrnn.tensor as T
        >>> c = T.constant([1.0, 2.0])
        >>> c.data
        array([1., 2.])
    """

    def __init__(self, type: TensorType, data: np.ndarray, name: str | None = None, weak: bool = False) -> None:
        super().__init__(type, name=name)
        data = np.array(data, dtype=type.dtype, copy=True)
        data.setflags(write=False)
        self.data = data
        self.weak = weak

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.data.setflags(write=False)  # an unpickled array is writeable: keep the constant constant

    def signature(self) -> tuple:
        """What makes two constants interchangeable (used by merge)."""
        return (self.type, self.data.tobytes())

    def clone(self) -> Constant:
        return Constant(self.type, self.data, name=self.name, weak=self.weak)

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.data.size <= 4:
            return np.array2string(self.data, separator=", ")
        return f"Constant{{{self.type}}}"


class SharedVariable(Variable):
    """A variable whose value persists between calls of compiled functions (Theano's ``shared``).

    Its static shape is all ``None`` unless given, so ``set_value`` may change it.

    Example::

        >>> import symrnn
        >>> s = symrnn.shared(0.0, name="state")
        >>> s.set_value(3.0); s.get_value()
        array(3.)
    """

    def __init__(self, value: Any, name: str | None = None, borrow: bool = False,
                 shape: Sequence[int | None] | None = None) -> None:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            raise GraphTypeError(f"shared({name!r}): a value of dtype {arr.dtype} is not a number array")
        if arr.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
            arr = arr.astype(config.floatX)  # Python floats follow floatX, as in Theano
        type_ = TensorType(arr.dtype, shape if shape is not None else (None,) * arr.ndim)
        if not type_.accepts_shape(arr.shape):
            raise GraphShapeError(f"shared({name!r}): value of shape {arr.shape} does not fit {type_!r}")
        super().__init__(type_, name=name)
        self.container = [arr if borrow and isinstance(value, np.ndarray) else np.array(arr, copy=True)]
        self.default_update: Variable | None = None

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """Return the current value (a copy unless ``borrow=True``), a NumPy array.

        With ``return_internal_type=True`` (Theano's argument) the value is returned as it is stored
        where compiled code reads it: a CuPy array when a CuPy function last updated it, else the NumPy
        array.  On the host both are the same array.

        Example::

            >>> import numpy as np, symrnn
            >>> w = symrnn.shared(np.zeros(2), name="w")
            >>> w.get_value(borrow=True, return_internal_type=True) is w.container[0]
            True
        """
        value = getattr(self.container, "device_value", None) if return_internal_type else None
        if value is None:
            value = self.container[0]
        return value if borrow else value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value; its dtype and ndim must fit this variable's type."""
        arr = self.type.filter(value, f"set_value of shared variable {self.name or '<unnamed>'!r}")
        self.container[0] = arr if borrow and arr is value else np.array(arr, copy=True)

    def clone(self) -> SharedVariable:
        raise GraphTypeError("shared variables are not cloned; they stay the same object in every graph")

    def __getstate__(self) -> dict[str, Any]:
        """The state with the current value on the host (a CuPy function's device copy is not pickled)."""
        state = dict(self.__dict__)
        state["container"] = [self.container[0]]
        return state

    def __repr__(self) -> str:
        return self.name or f"<shared {self.type}>"


# --------------------------------------------------------------------------- variables from values


def resolve_dtype(dtype: Any) -> str:
    """A ``dtype=`` argument as a dtype name; ``None`` and ``"floatX"`` mean ``config.floatX``."""
    return config.floatX if dtype is None or dtype == "floatX" else np.dtype(dtype).name


def constant(value: Any, name: str | None = None, dtype: Any = None, ndim: int | None = None) -> Constant:
    """Make a constant variable.  Python floats (and float lists) become ``config.floatX``.

    Example::

        >>> import symrnn.tensor as T
        >>> T.constant(2.0).type, T.constant([1, 2], dtype="int32").type
        (float64(), int32(2,))
    """
    if isinstance(value, Variable):
        raise GraphTypeError(f"constant() needs a value, got the symbolic variable {value!r} (at {user_line()})")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufc":
        raise GraphTypeError(f"constant {name or ''}: cannot make a numeric constant from {value!r} (at {user_line()})")
    if dtype is not None:
        arr = arr.astype(resolve_dtype(dtype))
    elif arr.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
        arr = arr.astype(config.floatX)
    if ndim is not None and arr.ndim != ndim:
        if arr.ndim > ndim:
            raise GraphNdimError(f"constant of shape {arr.shape} cannot have {ndim} dimensions (at {user_line()})")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def as_tensor_variable(value: Any, name: str | None = None, ndim: int | None = None) -> Variable:
    """Return ``value`` as a graph variable: variables pass through, numbers become constants.

    A bare Python ``int``/``float``/``bool`` becomes a *weak* constant, whose dtype
    yields to the other operand's (``float32_x * 2.0`` stays float32), as in
    Theano's autocasting and NumPy 2's scalar promotion.  A list that holds
    variables is stacked into one tensor.

    Example::

        >>> import symrnn.tensor as T
        >>> T.as_tensor_variable([[1.0, 2.0]]).type
        float64(1, 2)
    """
    if isinstance(value, Variable):
        if ndim is not None and value.ndim != ndim:
            raise GraphNdimError(f"{value!r} has {value.ndim} dimension(s), expected {ndim} (at {user_line()})")
        return value
    if isinstance(value, (list, tuple)) and any(isinstance(v, Variable) for v in value):
        return pack_variables([as_tensor_variable(v) for v in value])
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int64"
        else:
            dtype = config.floatX
        const = constant(np.asarray(value, dtype=dtype), name=name, ndim=ndim)
        const.weak = True
        return const
    return constant(value, name=name, ndim=ndim)


# --------------------------------------------------------------------------- ops and applications


_scopes = threading.local()  # .current: this thread's name scope, "" outside every scope


def current_scope() -> str:
    """The name scope that new nodes are tagged with (``node.scope``), ``""`` outside every scope.

    Example::

        >>> with name_scope("encoder"):
        ...     current_scope()
        'encoder'
        >>> current_scope()
        ''
    """
    return getattr(_scopes, "current", "") or ""


@contextlib.contextmanager
def name_scope(name: str, absolute: bool = False) -> Iterator[str]:
    """Tag the nodes built in this block with the scope ``outer/name`` (or ``name`` alone, when ``absolute``).

    Cells and layers enter their own name, and each gate its role, so that a
    node reads ``lstm/forget_gate`` in pictures, ``debugprint``, the profile and
    the comments of ``f.source``.

    Example::

        >>> import symrnn.tensor as T
        >>> with name_scope("encoder"), name_scope("gate"):
        ...     y = T.tanh(T.vector("x"))
        >>> y.owner.scope
        'encoder/gate'
    """
    saved = getattr(_scopes, "current", "")  # None inside compiler_scope, and so again after this block
    _scopes.current = name if absolute or not saved else (f"{saved}/{name}" if name else saved)
    try:
        yield _scopes.current
    finally:
        _scopes.current = saved


@contextlib.contextmanager
def compiler_scope() -> Iterator[None]:
    """Nodes that a rewrite builds in this block get ``scope = None`` (not known yet), for
    ``symrnn.rewrite.inherit_scopes`` to fill in from the nodes around them."""
    saved = getattr(_scopes, "current", "")
    _scopes.current = None
    try:
        yield
    finally:
        _scopes.current = saved


class Apply:
    """One application of an op to input variables, producing output variables.

    ``trace`` is where it was built (:func:`user_line`), ``scope`` the name scope it was built in.
    """

    __slots__ = ("op", "inputs", "outputs", "trace", "scope", "__weakref__")

    def __init__(self, op: Op, inputs: Sequence[Variable], output_types: Sequence[TensorType]) -> None:
        for var in inputs:
            if not isinstance(var, Variable):
                raise GraphTypeError(f"{op}: input {var!r} is not a symbolic variable")
        self.op = op
        self.inputs = list(inputs)
        self.outputs = [Variable(t, owner=self, index=i) for i, t in enumerate(output_types)]
        self.trace = user_line()
        self.scope = getattr(_scopes, "current", "")

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs: Sequence[Variable]) -> Apply:
        """Rebuild this node on new inputs through the op's own type checks."""
        node = self.op.make_node(*inputs)
        node.take_origin(self)
        for old, new in zip(self.outputs, node.outputs):
            new.name = old.name
        return node

    def take_origin(self, other: Apply) -> Apply:
        """Say that this node stands for ``other`` (a rewrite's result): take its trace and its scope."""
        self.trace, self.scope = other.trace, other.scope
        return self

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(repr, self.inputs))})"

    def __getstate__(self) -> tuple:
        return self.op, self.inputs, self.outputs, self.trace, self.scope

    def __setstate__(self, state: tuple) -> None:
        if len(state) == 4:  # pickled before nodes had scopes
            state = (*state, "")
        self.op, self.inputs, self.outputs, self.trace, self.scope = state


class Op:
    """Base class of every operation.  One op keeps four things in one place:

    - ``make_node(*inputs)``: type and static-shape check, returns an :class:`Apply`;
    - ``perform(node, inputs)``: the NumPy reference, returns a list of arrays;
    - ``grad(node, output_grads)``: the symbolic gradient, a list with one entry per
      input (a Variable, ``None`` for "no gradient flows", or :func:`grad_undefined`);
      an output that receives no gradient is passed as ``None`` (only ops with
      several outputs see this);
    - ``emit(node, inputs, outputs, ctx)``: Python source that computes the outputs
      from the input names, over the array module ``xp``.

    An op whose ``comparison`` is set makes outputs that refuse ``bool()`` (see
    :meth:`Variable.__bool__`); every other variable is true, as in Theano.

    ``__props__`` names the attributes that make two instances equal, which lets
    the merge rewrite recognise identical computations.  An op whose ``grad``
    gives each input's gradient at the (broadcast) output's shape and dtype sets
    ``grads_at_output_shape``; ``grad()`` then sums each over the broadcast axes
    and casts it to its input's dtype (elementwise ops and ``alloc`` do this).
    """

    __props__: tuple[str, ...] = ()
    grads_at_output_shape = False
    has_side_effects = False  # an op that acts when it runs (printing): never folded into a constant
    comparison = False  # its outputs have no truth value at graph-building time (x < y)

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError(f"{self} has no NumPy reference")

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [grad_undefined(self, i, "this op defines no gradient") for i in range(len(node.inputs))]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        """Python source for this node.  The default calls ``perform`` through a bound name."""
        op_name = ctx.bind(self)
        node_name = ctx.bind(node)
        if len(outputs) == 1:
            return f"{outputs[0]}, = {op_name}.perform({node_name}, [{', '.join(inputs)}])"
        return f"{', '.join(outputs)}, = {op_name}.perform({node_name}, [{', '.join(inputs)}])"

    def __call__(self, *inputs: Any) -> Any:
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        name = getattr(self, "name", None) or type(self).__name__
        return name

    def __repr__(self) -> str:
        props = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
        return f"{type(self).__name__}({props})"


class NullGradient:
    """Marks a gradient that is mathematically undefined; it errors only if it reaches a requested input."""

    def __init__(self, op: Any, index: int, reason: str) -> None:
        self.op, self.index, self.reason = op, index, reason

    def message(self) -> str:
        return f"the gradient of {self.op} with respect to its input {self.index} is undefined: {self.reason}"


def grad_undefined(op: Any, index: int, reason: str) -> NullGradient:
    """Return the marker for an undefined gradient (see :class:`Op`)."""
    return NullGradient(op, index, reason)


# --------------------------------------------------------------------------- traversals


def structure_signature(inputs: Sequence[Variable], nodes: Sequence[Apply], outputs: Sequence[Variable],
                        closed_for: str | None = None) -> tuple:
    """An inner graph's structure, independent of variable identities: equal signatures compute the same thing.

    Inputs are referred to by position, node outputs by (node, output) position,
    constants by value.  With ``closed_for`` (an op's name), reading any other
    variable is an error naming that op; without it, such a variable is
    referred to by identity.
    """
    refs: dict[int, tuple] = {id(v): ("in", k) for k, v in enumerate(inputs)}

    def ref(var: Variable) -> tuple:
        if id(var) in refs:
            return refs[id(var)]
        if isinstance(var, Constant):
            return ("const", var.signature())
        if closed_for is not None:
            raise GraphTypeError(f"{closed_for}: the inner graph reads {var!r}, which is not one of its inputs")
        return ("free", id(var))

    steps = []
    for j, node in enumerate(nodes):
        steps.append((node.op, tuple(ref(v) for v in node.inputs)))
        for k, out in enumerate(node.outputs):
            refs[id(out)] = ("node", j, k)
    return tuple(v.type for v in inputs), tuple(steps), tuple(ref(v) for v in outputs)


def toposort(outputs: Iterable[Variable], stop_at: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes that lead to ``outputs``, inputs before their users (iterative DFS).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> [str(n.op) for n in toposort([T.exp(x) + 1])]
        ['exp', 'add']
    """
    stop = {id(v) for v in stop_at}
    order: list[Apply] = []
    done: set[int] = set()
    for out in outputs:
        if out.owner is None or id(out.owner) in done or id(out) in stop:
            continue
        stack: list[tuple[Apply, int]] = [(out.owner, 0)]
        on_stack = {id(out.owner)}
        while stack:
            node, i = stack[-1]
            if i < len(node.inputs):
                stack[-1] = (node, i + 1)
                parent = node.inputs[i].owner
                if parent is not None and id(parent) not in done and id(node.inputs[i]) not in stop:
                    if id(parent) in on_stack:
                        raise ValueError("the graph has a cycle")
                    stack.append((parent, 0))
                    on_stack.add(id(parent))
            else:
                stack.pop()
                on_stack.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


def schedule(outputs: Iterable[Variable]) -> list[Apply]:
    """Like :func:`toposort`, but of a node's inputs the one behind the longest chain of nodes (a loop
    counting as more than any chain without one) is computed first, so that short side chains (a reshaped
    copy of an input, say) run just before their user rather than long before it, holding memory across a
    loop.

    Example::

        >>> import symrnn.tensor as T
        >>> x, y = T.vector("x"), T.vector("y")
        >>> [str(n.op) for n in schedule([T.exp(x) * T.tanh(T.exp(y) + 1)])]
        ['exp', 'add', 'tanh', 'exp', 'mul']
    """
    outputs = list(outputs)
    nodes = toposort(outputs)
    depth: dict[int, int] = {}  # the longest chain of nodes behind each node, a loop counting as many
    for node in nodes:
        weight = len(nodes) if hasattr(node.op, "inner_nodes") else 1  # loops first: they make the big arrays
        depth[id(node)] = weight + max((depth.get(id(v.owner), 0) for v in node.inputs if v.owner is not None),
                                       default=0)

    def deepest_first(node: Apply) -> list[Variable]:
        return sorted(node.inputs, key=lambda v: -depth.get(id(v.owner), 0) if v.owner is not None else 0)

    order: list[Apply] = []
    done: set[int] = set()
    for out in outputs:
        if out.owner is None or id(out.owner) in done:
            continue
        stack: list[tuple[Apply, list[Variable]]] = [(out.owner, deepest_first(out.owner))]
        while stack:
            node, pending = stack[-1]
            if pending:
                parent = pending.pop(0).owner
                if parent is not None and id(parent) not in done:
                    stack.append((parent, deepest_first(parent)))
            else:
                stack.pop()
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
    return order


def graph_inputs(outputs: Iterable[Variable]) -> list[Variable]:
    """The owner-less variables (inputs, constants, shared) that ``outputs`` depend on, in first-seen order."""
    outputs = list(outputs)
    seen: dict[int, Variable] = {}
    for var in outputs:
        if var.owner is None:
            seen.setdefault(id(var), var)
    for node in toposort(outputs):
        for var in node.inputs:
            if var.owner is None:
                seen.setdefault(id(var), var)
    return list(seen.values())


def ancestors(outputs: Iterable[Variable]) -> set[int]:
    """Ids of every variable ``outputs`` depend on, themselves included."""
    outputs = list(outputs)
    ids = {id(v) for v in outputs}
    for node in toposort(outputs):
        ids.update(id(v) for v in node.inputs)
        ids.update(id(v) for v in node.outputs)
    return ids


def clone_replace(outputs: Sequence[Variable], replace: dict[Variable, Variable] | None = None,
                  copy_inputs: bool = False) -> list[Variable]:
    """Copy the graph of ``outputs``, substituting variables per ``replace`` (this is how ``givens`` works).

    Each replacement must have the same dtype and ndim as what it replaces.  With
    ``copy_inputs`` the graph inputs are cloned too (shared variables and
    constants are kept).

    Example::

        >>> import symrnn.tensor as T
        >>> x, y = T.vector("x"), T.vector("y")
        >>> [z] = clone_replace([x * 2], {x: y})
        >>> z.owner.inputs[0] is y
        True
    """
    replace = dict(replace or {})
    memo: dict[int, Variable] = {}
    for old, new in replace.items():
        new = as_tensor_variable(new)
        if new.dtype != old.dtype or new.ndim != old.ndim:
            raise GraphTypeError(
                f"cannot replace {describe(old)} by {describe(new)}: the dtype and ndim must match (at {user_line()})"
            )
        memo[id(old)] = new
    outputs = list(outputs)
    stop = list(replace)
    for var in graph_inputs(outputs) if copy_inputs else ():
        if id(var) not in memo and not isinstance(var, (SharedVariable, Constant)):
            memo[id(var)] = var.clone()
    for node in toposort(outputs, stop_at=stop):
        new_inputs = [memo.get(id(v), v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue  # nothing below this node changed: share it
        new_node = node.clone_with_new_inputs(new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs]


def to_networkx(outputs: Variable | Sequence[Variable]) -> Any:
    """Export the graph of ``outputs`` as a ``networkx.DiGraph``.

    Variables and apply nodes are both graph nodes (a bipartite graph), keyed by
    strings ``"v<id>"`` and ``"a<id>"``; node attributes are ``kind`` ("variable"
    or "apply"), ``op``, ``type``, ``dtype``, ``shape``, ``name`` and ``trace``.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> g = to_networkx(T.exp(x))
        >>> sorted(d["kind"] for _, d in g.nodes(data=True))
        ['apply', 'variable', 'variable']
    """
    import networkx as nx

    if isinstance(outputs, Variable):
        outputs = [outputs]
    outputs = list(outputs)
    graph = nx.DiGraph()

    def add_var(var: Variable) -> str:
        key = f"v{id(var)}"
        if key not in graph:
            kind = "constant" if isinstance(var, Constant) else "shared" if isinstance(var, SharedVariable) else (
                "input" if var.owner is None else "intermediate")
            graph.add_node(key, kind="variable", role=kind, name=var.name, type=repr(var.type),
                           dtype=var.dtype, shape=var.type.shape, op=None,
                           trace=var.trace if var.owner is None else var.owner.trace)
        return key

    for node in toposort(outputs):
        akey = f"a{id(node)}"
        graph.add_node(akey, kind="apply", op=str(node.op), name=None, type=None, dtype=None, shape=None,
                       trace=node.trace)
        for pos, var in enumerate(node.inputs):
            graph.add_edge(add_var(var), akey, position=pos)
        for pos, var in enumerate(node.outputs):
            graph.add_edge(akey, add_var(var), position=pos)
    for pos, var in enumerate(outputs):
        graph.nodes[add_var(var)]["output"] = pos
    return graph
