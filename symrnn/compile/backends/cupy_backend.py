"""The CuPy backend: the same generated code over ``xp = cupy``, with fused kernels of generated CUDA C.

What lives where:

- **inputs**: NumPy arrays are copied to the device on every call; CuPy arrays
  are used as they are (after a dtype and shape check).  0-d *integer and bool*
  inputs stay on the host as NumPy scalars, because they are step counts,
  indices and sizes that Python code (``range``, ``xp.empty``) must read
  without a device synchronization;
- **constants**: copied to the device once, at compile time; 0-d integer and
  bool constants stay on the host, for the same reason;
- **shared variables**: each keeps a device copy next to its host value, in a
  :class:`DeviceContainer` that replaces its ``container`` the first time a
  CuPy function uses it.  A function's updates replace the device copy only;
  the host value is copied back lazily, when something reads
  ``container[0]`` (``get_value()``, a NumPy-backend function, the reference
  interpreter).  ``set_value()`` replaces the host value and drops the device
  copy, which is uploaded again on next use;
- **outputs**: CuPy arrays, or NumPy arrays with ``return_numpy=True``.

This module imports CuPy only when the backend is used, so that it can be
imported (and its CUDA code generation tested) without CuPy or a GPU.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from symrnn.compile.backends.numpy_backend import Backend
from symrnn.graph import Apply, Constant, Op, SharedVariable, Variable
from symrnn.ops.elemwise import C_PREAMBLE
from symrnn.ops.random import RandomDraw
from symrnn.ops.shape import Split

INSTALL_HINT = "pip install symrnn[gpu]"

# The C type each dtype computes in inside a kernel (float16 computes in float; it is stored as float16).
C_TYPES = {
    "bool": "bool", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
    "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long long",
    "float16": "float", "float32": "float", "float64": "double",
}


@dataclass(frozen=True)
class KernelSource:
    """The parts of a ``cupy.ElementwiseKernel`` (see its documentation), generated from a fused graph."""

    in_params: str
    out_params: str
    operation: str
    name: str
    preamble: str

    @property
    def key(self) -> str:
        """The whole kernel text: kernels are compiled once per distinct text."""
        return "\n".join((self.name, self.in_params, self.out_params, self.preamble, self.operation))


def _c_literal(var: Constant, ctype: str) -> str:
    value = var.data.item()
    if var.dtype == "bool":
        return "true" if value else "false"
    if var.data.dtype.kind in "iu":
        if value == np.iinfo(np.int64).min:
            return f"(({ctype})(-9223372036854775807LL - 1))"
        return f"(({ctype}){value}{'ULL' if var.data.dtype.kind == 'u' else 'LL'})"
    return f"(({ctype}){float(value)!r})"  # repr of the exact double: the cast gives back the constant


def _compute_dtype(node: Apply) -> str:
    """The dtype a node computes in: its output dtype, or for a comparison the common dtype of its operands."""
    op = node.op
    if op.out_dtype is None:
        return node.outputs[0].dtype
    if op.name.startswith("cast_"):
        return node.inputs[0].dtype
    return np.result_type(*[node.inputs[i].dtype for i in op.upcast]).name


def kernel_source(node: Apply) -> KernelSource | None:
    """The CUDA C of a ``FusedElemwise`` node as an elementwise kernel, or ``None`` if an op has no C template.

    Parameter names are generated (``x0, x1, ...`` in, ``y`` out, ``v0, v1, ...``
    for inner values); types come from a fixed table; no user string reaches the
    source.  Each inner value is computed in its node's dtype, with operands
    cast to it, as NumPy's type promotion does.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.rewrite.fusion import fuse_elementwise
        >>> x = T.fmatrix("user's 'x'")
        >>> [y] = fuse_elementwise([T.tanh(x) * 2])
        >>> src = kernel_source(y.owner)
        >>> src.in_params, src.out_params
        ('float32 x0', 'float32 y')
        >>> print(src.operation)
        const float v0 = (float)(tanh(x0));
        const float v1 = (float)(v0 * ((float)2.0));
        y = v1;
    """
    op = node.op
    names = {id(ph): f"x{k}" for k, ph in enumerate(op.fused_inputs)}
    lines = []
    for j, inner in enumerate(op.fused_nodes):
        spec = inner.op
        if spec.c_code is None:
            return None
        compute = _compute_dtype(inner)
        ctype = C_TYPES[compute]
        operands = []
        for pos, var in enumerate(inner.inputs):
            if isinstance(var, Constant) and id(var) not in names:
                expr = _c_literal(var, C_TYPES[var.dtype])
            else:
                expr = names[id(var)]
            if pos in spec.upcast and (var.dtype != compute or var.dtype == "float16"):  # half: via float
                expr = f"(({ctype}){expr})"
            operands.append(expr)
        out_ctype = C_TYPES[inner.outputs[0].dtype]
        name = f"v{j}"
        lines.append(f"const {out_ctype} {name} = ({out_ctype})({spec.c_code.format(*operands, T=ctype)});")
        names[id(inner.outputs[0])] = name
    lines.append(f"y = {names[id(op.fused_output)]};")
    in_params = ", ".join(f"{np.dtype(v.dtype).name} x{k}" for k, v in enumerate(node.inputs))
    out_params = f"{np.dtype(node.outputs[0].dtype).name} y"
    operation = "\n".join(lines)
    digest = hashlib.sha1("\n".join((in_params, out_params, operation)).encode()).hexdigest()[:12]
    return KernelSource(in_params, out_params, operation, f"symrnn_fused_{digest}", C_PREAMBLE)


class DeviceContainer(list):
    """A shared variable's container whose value may be newer on the device than on the host.

    ``container[0]`` (what ``get_value()`` and the NumPy code read) copies the
    device value back first when it is newer; assigning ``container[0]``
    (``set_value()``) makes the host value the current one.
    """

    def __init__(self, host_value: Any, download: Any) -> None:
        super().__init__([host_value])
        self.download = download  # device array -> NumPy array
        self.device_value: Any = None  # the device copy, or None when there is none yet
        self.host_stale = False  # the device copy is newer than the host value

    def __getitem__(self, index: Any) -> Any:
        if self.host_stale:
            list.__setitem__(self, 0, self.download(self.device_value))
            self.host_stale = False
        return list.__getitem__(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        list.__setitem__(self, index, value)
        self.device_value, self.host_stale = None, False

    def on_device(self, upload: Any) -> Any:
        """The device value, uploading the host value with ``upload`` the first time (or after a set)."""
        if self.device_value is None:
            self.device_value = upload(list.__getitem__(self, 0))
        return self.device_value

    def set_on_device(self, value: Any) -> None:
        self.device_value, self.host_stale = value, True


class CupyBackend(Backend):
    """CuPy on an NVIDIA GPU.  ``require()`` says what is missing when it cannot run."""

    name = "cupy"
    device = True

    def __init__(self) -> None:
        self._cupy: Any = None
        self._kernels: dict[str, Any] = {}  # kernel text -> cupy.ElementwiseKernel

    # ---- availability
    def _probe(self) -> str | None:
        hint = (f"install the GPU extra with `{INSTALL_HINT}` on a machine with an NVIDIA GPU and driver, "
                f"or use backend='numpy' (config.device='cpu')")
        try:
            import cupy
        except ImportError as exc:
            return f"backend 'cupy' needs CuPy, which is not installed ({exc}); {hint}"
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError: no driver, driver too old, no device
            return f"backend 'cupy': CuPy is installed but finds no usable CUDA device ({exc}); {hint}"
        if count < 1:
            return f"backend 'cupy': CuPy is installed but finds no CUDA device; {hint}"
        self._cupy = cupy
        return None

    @property
    def xp(self) -> Any:
        self.require()
        return self._cupy

    # ---- values
    def asarray(self, value: Any) -> Any:
        return self.xp.asarray(value)

    def to_host(self, value: Any) -> np.ndarray:
        if self._cupy is not None and isinstance(value, self._cupy.ndarray):
            return self._cupy.asnumpy(value)
        return np.asarray(value)

    def owns(self, value: Any) -> bool:
        return self._cupy is not None and isinstance(value, self._cupy.ndarray)

    def check_input(self, var: Variable, value: Any, what: str) -> Any:
        if value.dtype.name != var.dtype or not var.type.accepts_shape(value.shape):
            raise TypeError(f"{what}: got a CuPy array of dtype {value.dtype.name} and shape {value.shape}, "
                            f"expected {var.type!r} (a device array is not converted; cast it with .astype)")
        return value

    def prepare_input(self, value: Any) -> Any:
        if self.owns(value):
            return value
        if np.ndim(value) == 0 and np.asarray(value).dtype.kind in "biu":
            return np.asarray(value)[()]  # host scalar: sizes, indices and step counts are read by Python
        return self._cupy.asarray(value)

    def constant(self, data: np.ndarray) -> Any:
        if data.ndim == 0 and data.dtype.kind in "biu":
            return data[()]
        return self.asarray(data)

    def output(self, value: Any, return_numpy: bool) -> Any:
        return self.to_host(value) if return_numpy else self.asarray(value)

    def _container(self, var: SharedVariable) -> DeviceContainer:
        if not isinstance(var.container, DeviceContainer):
            var.container = DeviceContainer(var.container[0], self.to_host)
        return var.container

    def load_shared(self, var: SharedVariable) -> Any:
        return self._container(var).on_device(self.asarray)

    def store_shared(self, var: SharedVariable, value: Any) -> None:
        self._container(var).set_on_device(self.asarray(value))

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    # ---- code generation
    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Any:
        if _runs_on_host(node.op):
            run = ctx.bind(self._run_on_host, "on_host")
            return (f"# {node.op} has no device code: it runs on the host (copies in and out, a synchronization)\n"
                    f"{', '.join(outputs)}, = {run}({ctx.bind(node)}, [{', '.join(inputs)}])")
        return node.op.emit(node, inputs, outputs, ctx)

    def _run_on_host(self, node: Apply, values: list[Any]) -> list[Any]:
        results = node.op.perform(node, [self.to_host(v) for v in values])
        return [self.asarray(r) for r in results]

    def fused_kernel(self, node: Apply) -> Any:
        """The ``cupy.ElementwiseKernel`` for a fused node, compiled once per kernel text (CuPy compiles it at
        its first call for each dtype/ndim signature, and caches the binary on disk)."""
        source = kernel_source(node)
        if source is None:
            return None
        kernel = self._kernels.get(source.key)
        if kernel is None:
            kernel = self.xp.ElementwiseKernel(source.in_params, source.out_params, source.operation,
                                               name=source.name, preamble=source.preamble)
            self._kernels[source.key] = kernel
        return kernel


def _runs_on_host(op: Any) -> bool:
    """Ops whose generated code calls NumPy itself (random draws, ``split``, ops with no ``emit``)."""
    return isinstance(op, (RandomDraw, Split)) or type(op).emit is Op.emit


__all__ = ["CupyBackend", "DeviceContainer", "KernelSource", "kernel_source", "C_TYPES", "INSTALL_HINT"]
