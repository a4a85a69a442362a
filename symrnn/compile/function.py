"""``function()``: compile a graph into a callable, Theano style.

A :class:`Function` pickles (and deep-copies) by its definition: its inputs,
outputs and updates (``givens`` already applied), mode, name, backend name,
defaults and options.  Unpickling compiles it again, in the loading process,
so that nothing tied to one process (generated code, kept buffers, a GPU's
arrays) is saved.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from symrnn import interpreter
from symrnn.compile import codegen, numba_kernels, threads
from symrnn.compile.backends import NUMPY, get_backend
from symrnn.compile.export import export as export_module
from symrnn.compile.io import In, Out
from symrnn.compile.mode import Mode
from symrnn.compile.nanguardmode import NanGuardMode
from symrnn.config import config
from symrnn.graph import (
    Apply,
    Constant,
    GraphShapeError,
    GraphTypeError,
    MissingInputError,
    SharedVariable,
    Variable,
    as_tensor_variable,
    clone_replace,
    describe,
    fixed_user_line,
    graph_inputs,
    schedule,
    toposort,
    user_line,
)
from symrnn.rewrite import optimize

MODES = ("FAST_RUN", "FAST_COMPILE", "reference", "DebugMode")


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block.  Rewriting makes thousands of nodes that live
    on, and each full collection they trigger scans the whole heap: in a process with a large heap that
    made compiling 1.5x slower, and more so the larger the graph.  Cycles made meanwhile are collected
    by the first collection after the block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _kernels(kernels: str | None = None) -> str:
    """``kernels`` (``None``: ``config.kernels``), checked: numba must be importable to run loops and fused
    arithmetic as numba code."""
    kernels = config.kernels if kernels is None else kernels
    if kernels == "numba":
        if not numba_kernels.available():
            raise ImportError('config.kernels = "numba" needs numba: pip install "symrnn[numba]" (or set '
                              'config.kernels = "numpy", the default)')
    return kernels


class UnusedInputError(ValueError):
    """An input of ``function`` is not used by any output or update."""


def _pairs(updates: Any) -> list[tuple[Any, Any]]:
    if updates is None:
        return []
    if isinstance(updates, dict):
        return list(updates.items())
    pairs = list(updates)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"updates must be a dict or a list of (shared_variable, new_value) pairs, got {pair!r}")
    return [tuple(p) for p in pairs]  # type: ignore[misc]


def _check_update(shared: Any, value: Any) -> Variable:
    if not isinstance(shared, SharedVariable):
        raise TypeError(f"update target {shared!r} is not a shared variable; only shared variables can be "
                        f"updated (at {user_line()})")
    value = as_tensor_variable(value)
    if value.dtype != shared.dtype or value.ndim != shared.ndim:
        raise TypeError(
            f"the update of shared variable {shared.name!r} has type {value.type!r}, but the variable is "
            f"{shared.type!r}; cast it (T.cast(value, {shared.dtype!r})) or fix its shape (at {user_line()})")
    for have, want in zip(value.type.shape, shared.type.shape):
        if have is not None and want is not None and have != want:
            raise GraphShapeError(f"the update of shared variable {shared.name!r} has static shape "
                                  f"{value.type.shape}, which does not fit {shared.type!r} (at {user_line()})")
    return value


def _root_of_view(var: Variable) -> Variable:
    """Follow ops that return views of their input (``view_map``) back to the viewed variable."""
    while var.owner is not None:
        view_map = getattr(var.owner.op, "view_map", {})
        if var.index not in view_map:
            break
        var = var.owner.inputs[view_map[var.index]]
    return var


class Function:
    """A compiled function.  Call it with the input values (positionally or by input name).

    Attributes: ``source`` (the generated Python), ``inputs``, ``outputs``,
    ``updates``, ``nodes`` (the scheduled apply nodes) and ``mode``.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> f = symrnn.function([x], x ** 2)
        >>> f(3.0)
        array(9.)
    """

    def __init__(self, inputs: list[Variable], outputs: list[Variable], single: bool | None,
                 updates: list[tuple[SharedVariable, Variable]], mode: str, name: str | None,
                 allow_input_downcast: bool | None, profile: bool = False, backend: Any = None,
                 return_numpy: bool = False, borrow: Sequence[bool] | None = None,
                 keep_buffers: bool | None = None, kernels: str | None = None) -> None:
        self.kernels = _kernels(kernels)  # config.kernels when this function was made; copies keep it
        self.inputs = inputs
        self.outputs = outputs
        self.updates = updates
        self.nan_guard = mode if isinstance(mode, NanGuardMode) else None
        self.mode = "NanGuardMode" if self.nan_guard is not None else mode
        self.name = name
        self.allow_input_downcast = allow_input_downcast
        self.backend = backend if backend is not None else NUMPY  # [backend hook] where code runs (docs/gpu.md)
        self.return_numpy = return_numpy
        self.borrow = list(borrow) if borrow is not None else [False] * len(outputs)  # Out(y, borrow=True)
        self.keep_buffers = not config.allow_gc if keep_buffers is None else keep_buffers  # as compiled
        self._single = single
        self._update_lock = threading.Lock()
        all_outputs = outputs + [value for _, value in updates]
        given = {id(v) for v in inputs}

        def shared_of(roots: list[Variable]) -> list[SharedVariable]:
            return [v for v in graph_inputs(roots) if isinstance(v, SharedVariable) and id(v) not in given]

        # The reference interpreter runs the graph as built; the compiled code runs the rewritten graph.
        self.reference_nodes: list[Apply] = toposort(all_outputs)
        self.shared = shared_of(all_outputs)
        self._input_names = {v.name: i for i, v in enumerate(inputs) if v.name}
        self._defaults: dict[int, Any] = {}
        self._generated: codegen.Generated | None = None
        self.source: str | None = None
        self.compiled_outputs: list[Variable] = all_outputs
        self.nodes: list[Apply] = self.reference_nodes  # what runs: the rewritten graph when compiled
        self._compiled_shared: list[SharedVariable] = self.shared
        if mode != "reference":
            with fixed_user_line(), _cyclic_gc_paused():  # every node the rewrites make comes from this call
                self._compile(inputs, all_outputs, shared_of, mode, name, profile)
        self.profile = self._generated.profile if self._generated is not None else None

    def _compile(self, inputs: list[Variable], all_outputs: list[Variable], shared_of: Any, mode: str,
                 name: str | None, profile: bool) -> None:
        """Rewrite the graph (FAST_RUN, DebugMode) and generate its code."""
        if mode in ("FAST_RUN", "DebugMode"):
            self.compiled_outputs = optimize(all_outputs)
            self.nodes = schedule(self.compiled_outputs)
            self._compiled_shared = shared_of(self.compiled_outputs)
        leaves = {id(v) for v in inputs} | {id(v) for v in self._compiled_shared}
        # Copy an output that is (a view of) an input, a shared value, a constant or another output,
        # so that callers never receive two arrays sharing memory, nor our own storage.
        # An output given as Out(y, borrow=True) may be returned as it is.
        copies, claimed = [], set()
        borrowed = self.borrow + [False] * len(self.updates)
        for var, borrow in zip(self.compiled_outputs, borrowed):
            root = _root_of_view(var)
            copies.append(not borrow and (id(root) in leaves or isinstance(root, Constant) or id(root) in claimed))
            claimed.add(id(root))
        guard = self.nan_guard.check_node if self.nan_guard is not None else (
            _check_node_type if mode == "DebugMode" else None)
        self._copy_outputs = copies  # export() generates the code again with them
        self._generated = codegen.generate(inputs, self._compiled_shared, self.nodes,
                                           self.compiled_outputs, copies,
                                           fn_name=codegen.function_identifier(name),
                                           profile=profile, backend=self.backend,
                                           keep_buffers=self.keep_buffers, kernels=self.kernels, guard=guard)
        self.source = self._generated.source

    def export(self, path: str | os.PathLike) -> str:
        """Write this function as a Python module that needs NumPy only, and return the module's path.

        ``path`` names the module (``.py`` is added where missing); its arrays
        (the shared variables' current values, inputs' default values and the
        graph's constant arrays) go to an ``.npz`` file beside it, which the
        module loads with ``allow_pickle=False``.  Both are written atomically.
        The module defines one function, named after this one, whose
        arguments are the inputs' names made valid Python identifiers
        (``input_0`` ... where unnamed).  It runs the same generated code as
        this function, so it returns the same numbers on the same NumPy.  Its
        parameters are the dict ``params`` (name -> array): each call reads
        them, and updates replace their values in ``params``, as calling this
        function updates its shared variables (the module never touches them).

        Where this function runs numba kernels (``config.kernels = "numba"``),
        the module computes with NumPy's ufuncs: the numbers of the default
        NumPy path (whole numba loops match them within float rounding).
        Refused with :class:`~symrnn.compile.export.ExportError`: the CuPy
        backend, ``mode="reference"``, ``DebugMode`` and ``NanGuardMode``, and
        ops that call back into symrnn (``Print``).
        See ``docs/guide.md``, "Exporting a function".

        Example::

            >>> import importlib.util, os, tempfile
            >>> import numpy as np, symrnn, symrnn.tensor as T
            >>> w = symrnn.shared(np.array([1.0, 2.0]), name="w")
            >>> x = T.dvector("x")
            >>> step = symrnn.function([x], (w * x).sum(), updates=[(w, w + x)], name="step")
            >>> path = step.export(os.path.join(tempfile.mkdtemp(), "step.py"))
            >>> sorted(os.listdir(os.path.dirname(path)))
            ['step.npz', 'step.py']
            >>> spec = importlib.util.spec_from_file_location("step", path)
            >>> module = importlib.util.module_from_spec(spec)
            >>> spec.loader.exec_module(module)
            >>> module.step(x=[1.0, 1.0]), step([1.0, 1.0])
            (array(3.), array(3.))
            >>> module.params["w"], w.get_value()
            (array([2., 3.]), array([2., 3.]))
        """
        return export_module(self, path)

    @property
    def kept_bytes(self) -> int:
        """Bytes of loop buffers this function keeps between calls (0 with ``config.allow_gc = True``)."""
        buffers = self._generated.buffers if self._generated is not None else None
        return buffers.nbytes if buffers is not None else 0

    def kernels_report(self) -> list[Any]:
        """How each loop runs with ``config.kernels = "numba"``: a
        :class:`~symrnn.compile.numba_loops.LoopReport` per loop, which says whether the loop runs as one
        numba function (while its steps are small) or as a NumPy loop, and why; and how many calls ran each
        way so far.  Empty when the function was compiled with the default ``config.kernels = "numpy"``.

        Example::

            >>> import numpy as np, symrnn, symrnn.tensor as T
            >>> x = T.matrix("x")
            >>> h, _ = symrnn.scan(lambda x_t, h: T.tanh(x_t + h), sequences=x, outputs_info=T.zeros((3,)))
            >>> symrnn.config.kernels = "numba"
            >>> f = symrnn.function([x], h[-1])
            >>> symrnn.config.kernels = "numpy"
            >>> _ = f(np.ones((5, 3)))
            >>> report = f.kernels_report()[0]
            >>> report.kind, report.calls
            ('numba', {'numba': 1, 'numpy': 0})
        """
        return list(self._generated.loops) if self._generated is not None else []

    # ---- calling
    def _filter_inputs(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[np.ndarray]:
        values = list(args)
        if len(values) > len(self.inputs):
            raise TypeError(f"{self._label()} takes {len(self.inputs)} input(s), got {len(values)}")
        values += [_MISSING] * (len(self.inputs) - len(values))
        for key, value in kwargs.items():
            if key not in self._input_names:
                raise TypeError(f"{self._label()} has no input named {key!r}")
            index = self._input_names[key]
            if values[index] is not _MISSING:
                raise TypeError(f"{self._label()} got input {key!r} twice")
            values[index] = value
        out = []
        for i, (var, value) in enumerate(zip(self.inputs, values)):
            what = f"input {i} ({var.name!r})" if var.name else f"input {i}"
            if value is _MISSING:
                if i not in self._defaults:
                    raise TypeError(f"{self._label()}: missing {what}")
                value = self._defaults[i]
            if self.backend.owns(value):  # [backend hook] a device array: checked, used as is
                out.append(self.backend.check_input(var, value, f"{self._label()}: {what}"))
            elif (isinstance(value, np.ndarray) and value.dtype.name == var.dtype
                    and var.type.accepts_shape(value.shape)):
                out.append(value)
            else:
                out.append(var.type.filter(value, f"{self._label()}: {what}", self.allow_input_downcast))
        return out

    # ---- the values kept for inputs (Theano's f[x], f["x"], f.value[x], f.container[x].value)
    def _input_index(self, key: Any) -> int:
        if isinstance(key, Variable):
            for i, var in enumerate(self.inputs):
                if var is key:
                    return i
        elif isinstance(key, str) and key in self._input_names:
            return self._input_names[key]
        raise KeyError(f"{self._label()} has no input {key!r}")

    def __getitem__(self, key: Any) -> np.ndarray:
        """The value kept for an input (its default, or its state after ``In(update=...)``), by variable or name.

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> x, s = T.dscalars("x", "s")
            >>> f = symrnn.function([x, ((s, s + x), 10.0)], [])
            >>> f(1.0), f["s"]
            ([], array(11.))
        """
        index = self._input_index(key)
        if index not in self._defaults:
            raise KeyError(f"{self._label()} keeps no value for input {self.inputs[index]!r}")
        return self._defaults[index]

    def __setitem__(self, key: Any, value: Any) -> None:
        index = self._input_index(key)
        self._defaults[index] = self.inputs[index].type.filter(value, f"the value of input {index}",
                                                               self.allow_input_downcast)

    @property
    def value(self) -> _InputValues:
        """Theano's ``f.value[x]``: the values kept for inputs, read and set by variable or name."""
        return _InputValues(self)

    @property
    def container(self) -> _InputContainers:
        """Theano's ``f.container[x].value``: the same values, one container per input."""
        return _InputContainers(self)

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._filter_inputs(args, kwargs)
        if self.updates:
            with self._update_lock:  # reading, computing and storing the shared values is one step
                return self._call(values)
        return self._call(values)

    def _call(self, values: list[np.ndarray]) -> Any:
        if self.nan_guard is not None:
            for var, value in zip(self.inputs, values):
                self.nan_guard.check_input(f"input {describe(var)}", value)
            for var in self._compiled_shared:
                self.nan_guard.check_input(f"shared variable {describe(var)}", self.backend.to_host(
                    self.backend.load_shared(var)))
        if self.mode == "DebugMode":
            before = [np.array(v, copy=True) for v in values]
            shared_before = [np.array(self.backend.to_host(self.backend.load_shared(v)), copy=True)
                             for v in self._compiled_shared]
        if self.mode == "reference":
            results = self._interpret(values)
        else:
            if self.profile is not None:
                started = time.perf_counter()
            blas = config.blas_threads
            previous = threads.set_blas_threads(blas) if blas is not None else None  # (compile/threads.py)
            try:
                results = self._run_compiled([self.backend.prepare_input(v) for v in values],  # [backend hook]
                                             [self.backend.load_shared(s) for s in self._compiled_shared])
            finally:
                if previous is not None:
                    threads.restore(previous)
            if self.profile is not None:
                self.profile.function_calls += 1
                self.profile.function_seconds += time.perf_counter() - started
            if self.mode == "DebugMode":
                self._check_nothing_written(values, before, shared_before)
                self._compare_with_reference(results, self._interpret([self.backend.to_host(v) for v in values],
                                                                      check_inputs=True))
        n_out = len(self.outputs)
        for (target, _), value in zip(self.updates, results[n_out:]):
            if isinstance(target, SharedVariable):
                self.backend.store_shared(target, value)  # [backend hook] (NumPy: container[0] = value)
            else:  # an input's own state (In(update=...)): its new default
                self._defaults[self._input_index(target)] = np.asarray(self.backend.to_host(value))
        outputs = [self.backend.output(v, self.return_numpy) for v in results[:n_out]]  # [backend hook]
        if self._single:
            return outputs[0]
        return outputs

    def _interpret(self, values: list[np.ndarray], check_inputs: bool = False) -> list[np.ndarray]:
        env = {id(v): x for v, x in zip(self.inputs, values)}
        env.update({id(v): v.container[0] for v in self.shared})
        all_outputs = self.outputs + [value for _, value in self.updates]
        results = interpreter.evaluate(all_outputs, env, self.reference_nodes, check_inputs=check_inputs)
        return [np.array(r, copy=True) for r in results]

    def _check_nothing_written(self, values: list[Any], before: list[np.ndarray],
                               shared_before: list[np.ndarray]) -> None:
        """DebugMode: the compiled code wrote into no input and no shared value (updates are stored after)."""
        named = [(f"input {describe(v)}", a, b) for v, a, b in zip(self.inputs, values, before)]
        named += [(f"shared variable {describe(v)}", self.backend.to_host(self.backend.load_shared(v)), b)
                  for v, b in zip(self._compiled_shared, shared_before)]
        for what, now, was in named:
            if not np.array_equal(self.backend.to_host(now), was, equal_nan=True):
                raise AssertionError(f"DebugMode: the compiled code of {self._label()} wrote into {what}")

    def _run_compiled(self, values: list[np.ndarray], shared_values: list[np.ndarray]) -> list[Any]:
        assert self._generated is not None
        pool = self._generated.buffers
        try:
            if pool is None:
                return self._generated.fn(*values, *shared_values)
            with pool.cache() as buffers:  # this call's own kept buffers: calls may run in several threads
                return self._generated.fn(*values, *shared_values, buffers)
        except Exception as exc:  # point the error at the node and at the user's line that built it
            node = self._failing_node(exc)
            if node is None:
                raise
            raise self._users_error(exc, node, values) from exc

    def _users_error(self, exc: Exception, node: Apply, values: list[Any]) -> Exception:
        """The error of a failed call, told in terms of the graph that the user built.

        The node that failed in the compiled code may be one that the user never wrote: a ``dot`` over the
        gates' concatenated weights, a ``fused{mul,mul,add}``.  So a shape or value error is run again,
        node by node, by the reference interpreter on the graph as built: the first of the user's nodes
        that fails names the user's variables, their runtime shapes and the user's line.  This costs
        nothing until a call fails.  The error keeps its type (the interpreter's error where it is of the
        compiled code's type or a subclass, else the compiled code's type with the interpreter's message).
        """
        annotated = interpreter.annotate(exc, node)
        if not isinstance(exc, (ValueError, IndexError, TypeError)) or isinstance(exc, AssertionError):
            return annotated
        try:
            self._interpret([np.asarray(self.backend.to_host(v)) for v in values])
        except Exception as found:  # noqa: BLE001 - any error that the graph as built raises is the one to report
            if not getattr(found, "_symrnn_annotated", False):
                return annotated
            if node.trace not in str(found) or str(node.op) not in str(found):  # a merged or fused node failed
                found = interpreter.retyped(found, f"{found}\n  (the compiled code computes this in {node.op}, a "
                                                   f"node made by the compiler's rewrites; its own error is chained "
                                                   f"above)")
            return found if isinstance(found, type(exc)) else interpreter.retyped(exc, str(found))
        return interpreter.retyped(annotated, f"{annotated}\n  (the graph as built runs on these inputs with "
                                              f"mode='reference')")

    def _failing_node(self, exc: Exception) -> Apply | None:
        assert self._generated is not None
        node = None
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == self._generated.filename:
                node = self._generated.line_to_node.get(lineno, node)
        return node

    def _compare_with_reference(self, got: list[Any], want: list[np.ndarray]) -> None:
        all_outputs = self.outputs + [value for _, value in self.updates]
        for i, (var, a, b) in enumerate(zip(all_outputs, got, want)):
            a = self.backend.to_host(a)
            if a.dtype != b.dtype or a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-8,
                                                                            equal_nan=True):
                raise AssertionError(f"DebugMode: compiled output {i} ({describe(var)}) differs from the "
                                     f"reference interpreter: {a!r} vs {b!r}")

    def __repr__(self) -> str:
        ins = ", ".join(describe(v) for v in self.inputs)
        return f"<symrnn Function {self.name or ''}({ins}) -> {len(self.outputs)} output(s), mode={self.mode}>"

    # ---- pickling and copying
    def definition(self) -> dict[str, Any]:
        """What this function is, without what compiling made: inputs, outputs and updates (``givens``
        already applied), mode, name, backend name, defaults and options.  Pickling saves it, and
        :func:`from_definition` compiles it again.

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> x = T.dscalar("x")
            >>> d = symrnn.function([x], x + 1, name="inc").definition()
            >>> d["name"], d["mode"], d["backend"], d["outputs"][0].owner.op.name
            ('inc', 'FAST_RUN', 'numpy', 'add')
        """
        return {
            # first the graph's nodes, inputs before users: pickle then meets each node's inputs already
            # saved, so the graph's depth does not count against Python's recursion limit
            "nodes": self.reference_nodes,
            "inputs": self.inputs, "outputs": self.outputs, "updates": self.updates, "single": self._single,
            "mode": self.nan_guard or self.mode, "name": self.name, "allow_input_downcast": self.allow_input_downcast,
            "profile": self.profile is not None, "backend": self.backend.name, "return_numpy": self.return_numpy,
            "borrow": self.borrow, "keep_buffers": self.keep_buffers, "defaults": self._defaults,
            "input_names": self._input_names, "kernels": self.kernels,
        }

    def __reduce__(self) -> tuple:
        return from_definition, (self.definition(),)

    def __copy__(self) -> Function:
        return self.copy()

    def copy(self, share_memory: bool = False, swap: dict[SharedVariable, SharedVariable] | None = None,
             delete_updates: bool = False, name: str | None = None, profile: Any = None) -> Function:
        """A copy of this function, compiled again (Theano's ``Function.copy``).

        The copy reads and updates the same shared variables as this function,
        as in Theano, except those that ``swap`` (``{old_shared: new_shared}``,
        of the same type) replaces in the copy; ``copy.deepcopy(f)`` makes a
        function with shared variables of its own.  With ``share_memory=True``
        the copy uses this function's kept buffers (``config.allow_gc = False``)
        instead of its own, which saves their memory (a call takes a free set
        of buffers from the pool, so the two may still run at the same time).
        ``delete_updates=True`` drops the updates.  ``name`` defaults to this
        name plus ``" copy"``; ``profile`` (a bool; ``None``: as this function)
        times the copy's nodes.

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> w, w_best = symrnn.shared(1.0, name="w"), symrnn.shared(5.0, name="w_best")
            >>> x = T.dscalar("x")
            >>> f = symrnn.function([x], w * x, updates=[(w, w + 1)], name="step")
            >>> g = f.copy(swap={w: w_best})
            >>> g.name, g(2.0), w_best.get_value(), w.get_value()
            ('step copy', array(10.), array(6.), array(1.))
        """
        swap = dict(swap or {})
        for old, new in swap.items():
            if not isinstance(old, SharedVariable) or not isinstance(new, SharedVariable):
                raise TypeError(f"{self._label()}.copy(swap=...): swap maps shared variables to shared variables, "
                                f"got {old!r}: {new!r} (at {user_line()})")
            if old.type != new.type:
                raise TypeError(f"{self._label()}.copy(swap=...): {describe(new)} cannot replace {describe(old)}: "
                                f"the types differ (at {user_line()})")
            if all(old is not s for s in self.shared):
                raise ValueError(f"{self._label()}.copy(swap=...): shared variable {describe(old)} is not used by "
                                 f"this function (at {user_line()})")
        outputs = list(self.outputs)
        updates = [] if delete_updates else list(self.updates)
        if swap:
            replaced = clone_replace(outputs + [v for _, v in updates], swap)
            outputs = replaced[:len(outputs)]
            updates = [(swap.get(s, s), v) for (s, _), v in zip(updates, replaced[len(outputs):])]
        definition = self.definition()
        definition.update(outputs=outputs, updates=updates, name=name or (f"{self.name} copy" if self.name else None),
                          profile=definition["profile"] if profile is None else bool(profile))
        with fixed_user_line():
            twin = from_definition(definition, backend=self.backend)
        mine = self._generated.buffers if self._generated is not None else None
        if share_memory and mine is not None and twin._generated is not None and twin._generated.buffers is not None:
            twin._generated.buffers = mine  # one pool: the two may even run at the same time
        return twin


class _InputValues:
    def __init__(self, fn: Function) -> None:
        self.fn = fn

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.fn[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.fn[key] = value


class _InputContainer:
    def __init__(self, fn: Function, key: Any) -> None:
        self.fn, self.key = fn, key

    @property
    def value(self) -> np.ndarray:
        return self.fn[self.key]

    @value.setter
    def value(self, value: Any) -> None:
        self.fn[self.key] = value


class _InputContainers(_InputValues):
    def __getitem__(self, key: Any) -> _InputContainer:  # type: ignore[override]
        self.fn._input_index(key)  # an unknown input is a KeyError now, not at .value
        return _InputContainer(self.fn, key)


def _as_in(entry: Any) -> Any:
    """Theano's tuple forms of an input: ``(variable, value)`` and ``((variable, update), value)``."""
    if isinstance(entry, tuple) and len(entry) == 2:
        head, value = entry
        if isinstance(head, tuple) and len(head) == 2 and isinstance(head[0], Variable):
            return In(head[0], value=value, update=head[1])
        if isinstance(head, Variable) and not isinstance(value, Variable):
            return In(head, value=value)
    return entry


def _check_node_type(node: Apply, index: int, value: Any, step: Any = None) -> None:
    """DebugMode: a node's value has the dtype and fits the static shape that ``make_node`` inferred."""
    var = node.outputs[index]
    shape = tuple(np.shape(value))  # a JAX value being traced has a shape and a dtype, but no data to read
    dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    if np.dtype(dtype).name != var.dtype or not var.type.accepts_shape(shape):
        where = f" at loop step {int(step)}" if step is not None else ""
        raise AssertionError(f"DebugMode: {node.op} computed {np.dtype(dtype).name}{shape}{where}, but its node "
                             f"promised {var.type!r} (built at {node.trace})")


def from_definition(definition: dict[str, Any], backend: Any = None) -> Function:
    """Compile a function from its :meth:`Function.definition` (what unpickling a function does).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> f = symrnn.function([x], x * 2)
        >>> from_definition(f.definition())(4.0)
        array(8.)
    """
    d = definition
    kernels = d.get("kernels", "numpy")
    if kernels == "numba" and not numba_kernels.available():  # made where numba was installed: NumPy's code
        warnings.warn(f"{d['name'] or 'a function'} was compiled with config.kernels = 'numba', but numba is not "
                      f"installed here: it runs NumPy's loops, which compute the same results (within float "
                      f"rounding)", RuntimeWarning, stacklevel=2)
        kernels = "numpy"
    fn = Function(list(d["inputs"]), list(d["outputs"]), d["single"], list(d["updates"]), d["mode"], d["name"],
                  d["allow_input_downcast"], d["profile"],
                  backend=backend if backend is not None else get_backend(d["backend"]),
                  return_numpy=d["return_numpy"], borrow=d["borrow"], keep_buffers=d.get("keep_buffers"),
                  kernels=kernels)
    fn._defaults.update(d["defaults"])
    fn._input_names = dict(d["input_names"])
    return fn


_MISSING = object()


def function(inputs: Sequence[Variable], outputs: Any = None, updates: Any = None, givens: Any = None,
             mode: str | None = None, name: str | None = None, on_unused_input: str | None = "raise",
             allow_input_downcast: bool | None = None, no_default_updates: bool = False,
             profile: bool = False, backend: str | None = None, return_numpy: bool = False) -> Function:
    """Compile ``outputs`` as a function of ``inputs`` (Theano's ``theano.function``).

    - ``outputs``: a variable (the call returns one array), a list (returns a
      list) or ``None``/``[]`` (returns ``[]``).
    - ``updates``: ``(shared, new_value)`` pairs or a dict; applied after every
      output is computed, so all of them see the old values.
    - ``givens``: ``{variable: replacement}``, substituted before compiling.
    - ``mode``: ``"FAST_RUN"`` (default), ``"FAST_COMPILE"``, ``"reference"``
      (the node-by-node interpreter) or ``"DebugMode"`` (runs both, compares).
    - ``outputs`` may hold :class:`~symrnn.compile.io.Out` (``Out(y, borrow=True)``).
    - ``on_unused_input``: ``"raise"`` (the default, as in Theano; ``None`` means it too), ``"warn"`` or
      ``"ignore"``.
    - ``allow_input_downcast``: allow inputs that lose precision (see
      :meth:`TensorType.filter`).
    - ``profile``: time every node; ``f.profile.summary()`` prints the tables
      (see :class:`symrnn.compile.profile.Profile`).
    - ``backend``: ``"numpy"``, ``"cupy"`` (an NVIDIA GPU; ``pip install
      symrnn[gpu]``) or ``"jax"`` (``jax.numpy`` under ``jax.jit``; ``pip install
      symrnn[jax]``); by default ``config.device`` decides (``"cpu"``/``"cuda"``/``"jax"``).
      On CuPy and JAX the outputs are device arrays unless ``return_numpy=True``
      (see ``docs/gpu.md`` and ``docs/scale.md``).

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> state = symrnn.shared(0)
        >>> inc = T.iscalar("inc")
        >>> acc = symrnn.function([inc], state, updates=[(state, state + inc)])
        >>> acc(1), acc(300), state.get_value()
        (array(0), array(1), array(301))
    """
    mode = mode or config.mode
    if isinstance(mode, Mode):  # Theano's Mode(linker, optimizer) names one of symrnn's modes
        mode = mode.name
    if isinstance(mode, NanGuardMode):  # compiled as built, every value checked (nanguardmode.py)
        pass
    elif mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES} or NanGuardMode(...)")
    on_unused_input = "raise" if on_unused_input is None else on_unused_input  # Theano: its flag, 'raise'
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}")
    if isinstance(inputs, Variable) or not isinstance(inputs, Iterable):
        raise TypeError(f"function() takes a list of input variables, got {inputs!r} (at {user_line()})")
    inputs = [_as_in(var) for var in inputs]
    defaults = {i: var.value for i, var in enumerate(inputs) if isinstance(var, In) and var.value is not None}
    input_updates = [(var.variable, var.update) for var in inputs if isinstance(var, In) and var.update is not None]
    names = {i: var.name for i, var in enumerate(inputs) if isinstance(var, In) and var.name}
    inputs = [var.variable if isinstance(var, In) else var for var in inputs]
    for i, var in enumerate(inputs):
        if not isinstance(var, Variable):
            raise TypeError(f"function input {i} is {var!r}, not a symbolic variable (at {user_line()})")
        if isinstance(var, (Constant, SharedVariable)) or var.owner is not None:
            kind = "a constant" if isinstance(var, Constant) else "a shared variable" if isinstance(
                var, SharedVariable) else "computed by the graph"
            raise TypeError(f"function input {i} ({describe(var)}) is {kind}; inputs must be free variables "
                            f"made with T.matrix(...) etc. (at {user_line()})")
    if len({id(v) for v in inputs}) != len(inputs):
        raise ValueError(f"function() got the same input variable twice (at {user_line()})")

    single = isinstance(outputs, Variable) or (outputs is not None and not isinstance(outputs, (list, tuple)))
    out_list = [] if outputs is None else [outputs] if single else list(outputs)
    borrow = [isinstance(v, Out) and v.borrow for v in out_list]
    out_list = [as_tensor_variable(v.variable if isinstance(v, Out) else v) for v in out_list]

    update_pairs = [(s, _check_update(s, v)) for s, v in _pairs(updates)]
    seen_targets: set[int] = set()
    for target, _ in update_pairs:
        if id(target) in seen_targets:
            raise ValueError(f"shared variable {target.name!r} is updated twice (at {user_line()})")
        seen_targets.add(id(target))
    if not no_default_updates:
        pending = [v for _, v in update_pairs] + out_list
        while pending:  # default updates (e.g. random streams) may themselves use shared variables with defaults
            found = [s for s in graph_inputs(pending) if isinstance(s, SharedVariable)
                     and s.default_update is not None and id(s) not in seen_targets]
            pending = []
            for s in found:
                seen_targets.add(id(s))
                value = _check_update(s, s.default_update)
                update_pairs.append((s, value))
                pending.append(value)

    for var, update in input_updates:  # an input with a state: its update replaces its default after a call
        update = as_tensor_variable(update)
        if update.dtype != var.dtype or update.ndim != var.ndim:
            raise GraphTypeError(f"In: the update of input {describe(var)} is {describe(update)}; its dtype and "
                                 f"number of dimensions must be the input's (at {user_line()})")
        update_pairs.append((var, update))

    if givens:
        replace = dict(_pairs(givens))
        everything = out_list + [v for _, v in update_pairs]
        replaced = clone_replace(everything, replace)
        out_list = replaced[: len(out_list)]
        update_pairs = [(s, v) for (s, _), v in zip(update_pairs, replaced[len(out_list):])]

    used = {id(v) for v in graph_inputs(out_list + [v for _, v in update_pairs])}
    for i, var in enumerate(inputs):
        if id(var) not in used and on_unused_input != "ignore":
            message = (f"function input {i} ({describe(var)}) is not used to compute any output or update; "
                       f"pass on_unused_input='ignore' to allow this (at {user_line()})")
            if on_unused_input == "raise":
                raise UnusedInputError(message)
            warnings.warn(message, stacklevel=2)
    missing = [v for v in graph_inputs(out_list + [v for _, v in update_pairs])
               if v.owner is None and not isinstance(v, (Constant, SharedVariable)) and id(v) not in
               {id(i) for i in inputs}]
    if missing:
        raise MissingInputError(f"the outputs depend on {', '.join(describe(v) for v in missing)}, which "
                             f"{'is' if len(missing) == 1 else 'are'} not among the inputs of function() "
                             f"(at {user_line()})")
    chosen = get_backend(backend)  # [backend hook] None: config.device; raises a clear error without CuPy/GPU
    if chosen.device and mode == "reference":
        raise ValueError(f"backend={chosen.name!r} needs compiled code; mode='reference' runs NumPy on the host")
    if profile and mode == "reference":
        raise ValueError("profile=True needs compiled code; use mode='FAST_RUN' or 'FAST_COMPILE'")
    refusal = chosen.refuses(mode, profile)  # [backend hook] (JAX: no per-node timers, no NaN guard)
    if refusal is not None:
        raise ValueError(f"{refusal} (at {user_line()})")
    fn = Function(inputs, out_list, single, update_pairs, mode, name, allow_input_downcast, profile,
                  backend=chosen, return_numpy=return_numpy, borrow=borrow)
    for i, value in defaults.items():
        fn._defaults[i] = inputs[i].type.filter(value, f"the default value of input {i}", allow_input_downcast)
    fn._input_names.update({alias: i for i, alias in names.items()})
    return fn
