"""The JAX backend: the same rewritten graph written over ``jax.numpy``, scans as ``jax.lax.scan``, the whole
function under ``jax.jit`` (``docs/scale.md``).

What lives where:

- **inputs**: NumPy arrays are handed to the jitted function as they are (JAX
  copies them to the device); JAX arrays are used as they are, after a dtype and
  shape check.  0-d integer inputs (and shared variables) that set a size, a
  slice bound or a loop's length are *static* arguments of ``jax.jit``: each
  distinct value compiles once;
- **constants**: NumPy values, which the traced program holds as literals;
- **shared variables**: a JAX array next to the host value, in the same
  :class:`~.cupy_backend.DeviceContainer` as the CuPy backend's.  A call reads the
  device values and returns the updated ones (the compiled step is a pure
  function ``(inputs, parameters) -> (outputs, new parameters)``); the function
  stores them back on the device.  Nothing goes to the host between calls;
  ``get_value()`` copies back when it is called, ``set_value()`` drops the device copy;
- **outputs**: JAX arrays, or NumPy arrays with ``return_numpy=True``;
- **dtypes**: every call (and the tracing it may start) runs inside
  ``jax.enable_x64(True)``, a thread-local switch, so float64 and int64 stay what
  the graph says, and JAX's global setting is left alone.

This module imports JAX only when the backend is used.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from symrnn.compile.backends.cupy_backend import DeviceContainer
from symrnn.compile.backends.jax_loops import LOOP_LOWERINGS
from symrnn.compile.backends.jax_ops import (
    LOWERINGS,
    STATIC_INPUTS,
    JaxLoweringError,
    JaxState,
    find_in_table,
    is_host_node,
    refuse_unknown,
    runs_on_host,
)
from symrnn.compile.backends.numpy_backend import Backend
from symrnn.graph import Apply, SharedVariable, Variable, describe, short_trace
from symrnn.ops.shape import Shape, ShapeI
from symrnn.scan.ifelse import IfElse
from symrnn.scan.op import Scan

INSTALL_HINT = "pip install symrnn[jax]"


def enable_x64(jax: Any) -> Any:
    """JAX's thread-local 64-bit switch, a context manager factory: ``jax.enable_x64`` where this JAX has it
    (``with enable_x64(jax)(True): ...``), else the older ``jax.experimental.enable_x64``."""
    switch = getattr(jax, "enable_x64", None)
    if switch is None:
        from jax.experimental import enable_x64 as switch
    return switch
ALL_LOWERINGS = {**LOWERINGS, **LOOP_LOWERINGS}


def needed_on_host(nodes: list[Apply], needed: set[int]) -> None:
    """Add to ``needed`` the ids of the values that must be concrete while JAX traces: the inputs that
    :data:`~.jax_ops.STATIC_INPUTS` names (sizes, slice bounds, loop lengths), and everything they are
    computed from, through loop bodies and branches (a non-sequence that a body needs concrete is needed)."""
    for node in reversed(nodes):  # users before the values they read
        op = node.op
        if isinstance(op, Scan):
            needed_on_host(op.inner_nodes, needed)
            nonseqs = op.inner_inputs[op.inner_slices()["nonseqs"]]
            positions = [0] + [op.outer_slices()["nonseqs"].start + k for k, ph in enumerate(nonseqs)
                               if id(ph) in needed]
        elif isinstance(op, IfElse):
            wanted = [k for k, v in enumerate(node.outputs) if id(v) in needed]
            needed.update(id(op.then_outputs[k]) for k in wanted)
            needed.update(id(op.else_outputs[k]) for k in wanted)
            needed_on_host(op.then_nodes, needed)
            needed_on_host(op.else_nodes, needed)
            positions = [0] * bool(wanted) + [1 + k for k, ph in enumerate(op.inner_inputs) if id(ph) in needed]
        elif isinstance(op, (Shape, ShapeI)):  # a shape is concrete whatever its input is
            positions = []
        else:
            static = find_in_table(STATIC_INPUTS, op)
            positions = static(node) if static is not None else []
            if runs_on_host(op) and any(id(v) in needed for v in node.outputs):
                positions = range(len(node.inputs))
        needed.update(id(node.inputs[i]) for i in positions)


def _nested_until(nodes: list[Apply], top: bool = True) -> Apply | None:
    """A loop with ``until()`` inside another loop's body or a branch (its length would be data-dependent
    inside traced code), or ``None``."""
    for node in nodes:
        op = node.op
        if isinstance(op, Scan) and op.info.has_until and not top:
            return node
        if hasattr(op, "inner_nodes"):
            found = _nested_until(op.inner_nodes, top=False)
            if found is not None:
                return found
    return None


class JaxFunction:
    """A generated function under ``jax.jit`` (or run op by op, ``jit=False``), called with 64-bit types on.

    Its static arguments (0-d integers that set sizes) are passed as NumPy scalars, which ``jax.jit`` hashes.
    """

    def __init__(self, jax: Any, fn: Any, static_argnums: tuple[int, ...], jit: bool = True) -> None:
        self.fn, self.static, self._jax, self.jitted = fn, frozenset(static_argnums), jax, jit
        self.x64 = enable_x64(jax)
        self.run = jax.jit(fn, static_argnums=static_argnums) if jit else fn

    def __call__(self, *args: Any) -> list[Any]:
        args = tuple(np.asarray(a)[()] if i in self.static else a for i, a in enumerate(args))
        with self.x64(True):
            results = self.run(*args)
            if not self.jitted:  # run op by op: a value computed on the host becomes an array too
                results = [self._jax.numpy.asarray(r) for r in results]
        return results


class JaxBackend(Backend):
    """JAX: ``jax.numpy`` under ``jax.jit``, on JAX's default device.  ``require()`` says what is missing."""

    name = "jax"
    device = True
    functional = True

    def __init__(self) -> None:
        self._jax: Any = None

    # ---- availability
    def _probe(self) -> str | None:
        try:
            import jax
            import jax.numpy  # noqa: F401
        except ImportError as exc:
            return (f"backend 'jax' needs JAX, which is not installed ({exc}); install it with `{INSTALL_HINT}` "
                    f"(or `pip install jax`), or use backend='numpy' (config.device='cpu')")
        self._jax = jax
        return None

    @property
    def jax(self) -> Any:
        self.require()
        return self._jax

    @property
    def xp(self) -> Any:
        return self.jax.numpy

    # ---- values
    def owns(self, value: Any) -> bool:
        return self._jax is not None and isinstance(value, self._jax.Array)

    def asarray(self, value: Any) -> Any:
        if self.owns(value):
            return value
        with enable_x64(self.jax)(True):  # a float64 value stays float64
            return self.jax.device_put(np.asarray(value))

    def to_host(self, value: Any) -> np.ndarray:
        if not self.owns(value):
            return np.asarray(value)
        if not value.is_fully_addressable:  # replicated over several processes (symrnn.distributed): ours
            value = value.addressable_data(0)
        return np.array(value)  # a writable copy

    def check_input(self, var: Variable, value: Any, what: str) -> Any:
        if np.dtype(value.dtype).name != var.dtype or not var.type.accepts_shape(value.shape):
            raise TypeError(f"{what}: got a JAX array of dtype {np.dtype(value.dtype).name} and shape "
                            f"{tuple(value.shape)}, expected {var.type!r} (a device array is not converted; "
                            f"cast it with .astype)")
        return value

    def output(self, value: Any, return_numpy: bool) -> Any:
        return self.to_host(value) if return_numpy else value

    def _container(self, var: SharedVariable) -> DeviceContainer:
        container = var.container
        if not isinstance(container, DeviceContainer):
            container = var.container = DeviceContainer(container[0], self.to_host)
        elif container.device_value is not None and not self.owns(container.device_value):
            container[0] = container[0]  # another device's copy: bring it home, then upload ours
        return container

    def load_shared(self, var: SharedVariable) -> Any:
        return self._container(var).on_device(self.asarray)

    def store_shared(self, var: SharedVariable, value: Any) -> None:
        self._container(var).set_on_device(self.asarray(value))

    def synchronize(self) -> None:
        self.jax.effects_barrier()

    def refuses(self, mode: Any, profile: bool) -> str | None:
        if profile:
            return ("profile=True times each node of the generated Python, which under jax.jit runs once, while "
                    "JAX traces it; use jax.profiler, or profile with backend='numpy'")
        if not isinstance(mode, str):  # NanGuardMode looks at every value, which jax.jit never shows to Python
            return (f"{type(mode).__name__} checks every value as it is computed, which jax.jit does not show to "
                    f"Python; use backend='numpy' (or jax.config.update('jax_debug_nans', True))")
        return None

    # ---- code generation
    def begin_function(self, ctx: Any, inputs: list[Variable], shared: list[SharedVariable],
                       nodes: list[Apply]) -> None:
        jax = self.jax
        ctx.namespace.update(jax=jax, lax=jax.lax)
        nested = _nested_until(nodes)
        if nested is not None:
            raise JaxLoweringError(f"the JAX backend cannot compile {nested.op} (built at {short_trace(nested.trace)})"
                                   f": a loop with until() inside another loop or a branch would have a "
                                   f"data-dependent length inside traced code; use backend='numpy'")
        needed: set[int] = set()
        needed_on_host(nodes, needed)
        arguments = [*inputs, *shared]  # the generated function's arguments, in order
        static = tuple(i for i, v in enumerate(arguments)
                       if v.ndim == 0 and np.dtype(v.dtype).kind in "biu" and id(v) in needed)
        traced = [v for i, v in enumerate(arguments) if id(v) in needed and i not in static]
        if traced:
            raise JaxLoweringError(
                f"the JAX backend needs {describe(traced[0])} as a concrete value while it traces (it sets a size, "
                f"a slice bound or a loop length), but only 0-d integer inputs and shared variables can be static "
                f"arguments of jax.jit; use a 0-d integer, or backend='numpy'")
        eager = any(isinstance(n.op, Scan) and n.op.info.has_until for n in nodes)
        ctx.backend_state = JaxState(needed=needed, host={id(arguments[i]) for i in static}, static=static,
                                     eager=eager)

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Any:
        if is_host_node(ctx, node):  # a size or a bound: NumPy on the host, while JAX traces
            ctx.backend_state.host.update(id(v) for v in node.outputs)
            return _on_host(node.op.emit(node, inputs, outputs, ctx))
        lower = find_in_table(ALL_LOWERINGS, node.op)
        if lower is None:
            raise refuse_unknown(node)
        return lower(node, inputs, outputs, ctx)

    def end_function(self, ctx: Any, fn_name: str, inputs: list[Variable]) -> list[str]:
        state = ctx.backend_state
        static = f"static_argnums={state.static!r}"
        if state.eager:
            wrap = ctx.bind(self.run_eagerly, "jax_op_by_op")
            return [f"{fn_name} = {wrap}({fn_name}, {static})  # no jax.jit: a loop with until() has a "
                    f"data-dependent length"]
        wrap = ctx.bind(self.jit, "jax_jit")
        return [f"{fn_name} = {wrap}({fn_name}, {static})  # jax.jit, called under jax.enable_x64: traced and "
                f"compiled by XLA at the first call for each input shape"]

    def jit(self, fn: Any, static_argnums: tuple[int, ...] = ()) -> JaxFunction:
        """``jax.jit(fn, static_argnums=...)``, called with 64-bit types on."""
        return JaxFunction(self.jax, fn, static_argnums, jit=True)

    def run_eagerly(self, fn: Any, static_argnums: tuple[int, ...] = ()) -> JaxFunction:
        """``fn`` run op by op (each JAX operation compiled on its own), with 64-bit types on."""
        return JaxFunction(self.jax, fn, static_argnums, jit=False)


_XP = re.compile(r"\bxp\.")


def _on_host(code: Any) -> Any:
    """The NumPy source of a node computed on the host: its ``xp.`` calls are NumPy's (``np.``)."""
    if isinstance(code, str):
        return _XP.sub("np.", code)
    return [(_XP.sub("np.", text), owner) for text, owner in code]


__all__ = ["JaxBackend", "JaxFunction", "JaxLoweringError", "INSTALL_HINT", "enable_x64", "needed_on_host"]
