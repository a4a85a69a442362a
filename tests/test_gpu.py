"""The CuPy backend.

Three kinds of test live here:

1. **No GPU needed** (always run): choosing the backend and its errors, the CUDA
   C that fusion generates (names, parameter declarations, expressions).
2. **No GPU, but a compiler** (skipped without one, with the reason):
   - the generated kernels compile with NVRTC exactly as CuPy would build them
     (needs CuPy and NVRTC, ``pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12``;
     no device or driver is needed to compile);
   - the whole CuPy backend runs on the host against a stand-in for CuPy whose
     ``ElementwiseKernel`` compiles the *same* generated C++ with g++: the
     generated program, the kernels' arithmetic, shared variables kept "on
     the device" and synced back, all checked against the NumPy backend.
3. **GPU** (``@pytest.mark.gpu``, skipped with the reason where CuPy finds no
   device, as in CI): every op family, scan and the cells on the device,
   outputs and gradients compared with the NumPy backend.

Tolerances on the device (``GPU_RTOL``/``GPU_ATOL``): float64 to 1e-9
relative (CUDA's math library is within a few ulp, and cuBLAS sums in another
order), float32 to 2e-4 relative / 1e-5 absolute (the same, at float32, over
a 10-step loop).
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import pytest

import symrnn
import symrnn.nn
import symrnn.tensor as T
from symrnn.compile.backends import BackendUnavailable, CupyBackend, get_backend
from symrnn.compile.backends.cupy_backend import C_TYPES, DeviceContainer, kernel_source
from symrnn.config import Config
from symrnn.graph import toposort
from symrnn.ops.fused import FusedElemwise
from symrnn.rewrite import optimize
from symrnn.rewrite.fusion import fuse_elementwise
from symrnn.scan.op import Scan

GPU_RTOL = {"float64": 1e-9, "float32": 2e-4}
GPU_ATOL = {"float64": 1e-12, "float32": 1e-5}


# ----------------------------------------------------------------------------- 1. no GPU needed


def test_selecting_cupy_without_cupy_names_the_package_and_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    x = T.matrix("x")
    with pytest.raises(BackendUnavailable, match=r"CuPy, which is not installed.*pip install symrnn\[gpu\]"):
        symrnn.function([x], x * 2, backend=CupyBackend())


def test_selecting_cupy_without_a_device_says_so(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendUnavailable, match=r"no usable CUDA device \(cudaErrorNoDevice.*pip install symrnn"):
        CupyBackend().require()
    fake.cuda.runtime.getDeviceCount = lambda: 0
    with pytest.raises(BackendUnavailable, match="finds no CUDA device"):
        CupyBackend().require()


def test_config_device_selects_the_backend(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(symrnn.compile.backends, "_CUPY", None)  # a fresh probe, with CuPy "missing"
    x = T.matrix("x")
    monkeypatch.setattr(symrnn.config, "device", "cuda")
    with pytest.raises(BackendUnavailable, match="pip install symrnn"):
        symrnn.function([x], x * 2)
    assert symrnn.function([x], x * 2, backend="numpy").backend.name == "numpy"  # an explicit choice wins
    monkeypatch.setattr(symrnn.config, "device", "cpu")
    assert symrnn.function([x], x * 2).backend.name == "numpy"


def test_device_flag_is_validated_and_read_from_symrnn_flags():
    config = Config()
    assert config.device == "cpu"
    config.apply_flags("floatX=float32,device=cuda")
    assert config.device == "cuda"
    with pytest.raises(ValueError, match="device must be one of"):
        config.device = "tpu"
    with pytest.raises(ValueError, match="unknown backend"):
        get_backend("tpu")


def test_reference_mode_has_no_device_code():
    x = T.matrix("x")
    backend = HostCupy()
    with pytest.raises(ValueError, match="needs compiled code"):
        symrnn.function([x], x * 2, mode="reference", backend=backend)


def fused_lstm_step(dtype="float32", names=("x_t", "c", "h")):
    old = symrnn.config.floatX
    symrnn.config.floatX = dtype
    try:
        cell = symrnn.nn.LSTMCell(6, 8)
        x, c, h = (T.matrix(n) for n in names)
        _, (c_new, h_new) = cell.step(x, (c, h))
        outputs = fuse_elementwise(optimize([c_new, h_new]))
    finally:
        symrnn.config.floatX = old
    return [x, c, h], outputs, [n for n in toposort(outputs) if isinstance(n.op, FusedElemwise)]


def test_kernel_source_of_a_fused_lstm_step():
    evil = ('x"; system("rm -rf /"); //', "*/ #include <evil>", "h\ny")
    _, _, nodes = fused_lstm_step(names=evil)
    assert len(nodes) == 2
    sources = [kernel_source(n) for n in nodes]
    cell, hidden = sources
    text = "\n".join(s.key for s in sources)
    for name in evil:  # user names never reach the kernel, not even in part
        assert name not in text and "rm -rf" not in text and "evil" not in text
    for src in sources:
        assert re.fullmatch(r"float32 x0(, float32 x\d+)*", src.in_params), src.in_params
        assert [int(k) for k in re.findall(r"x(\d+)", src.in_params)] == list(range(len(src.in_params.split(","))))
        assert src.out_params == "float32 y"
        assert re.fullmatch(r"symrnn_fused_[0-9a-f]{12}", src.name)
        for line in src.operation.splitlines()[:-1]:
            assert re.fullmatch(r"const float v\d+ = \(float\)\(.*\);", line), line
        assert re.fullmatch(r"y = v\d+;", src.operation.splitlines()[-1])
        identifiers = set(re.findall(r"[A-Za-z_]\w*", src.operation))
        assert identifiers <= {"const", "float", "y", "tanh", "symrnn_sigmoid"} | {
            w for w in identifiers if re.fullmatch(r"[xv]\d+", w)}, identifiers
    # the cell update f * c + i * g: two sigmoid gates, one tanh candidate, the forget bias as a literal
    assert cell.operation.count("symrnn_sigmoid(") == 2 and cell.operation.count("tanh(") == 1
    assert "((float)1.0)" in cell.operation
    assert re.search(r"v\d+ \* v\d+\);\nconst float v\d+ = \(float\)\(v\d+ \+ v\d+\);\ny = ", cell.operation)
    # the new hidden state o * tanh(c): the new cell state comes in as an input
    assert hidden.operation.count("symrnn_sigmoid(") == 1 and re.search(r"tanh\(x\d+\)", hidden.operation)
    assert "symrnn_sigmoid" in cell.preamble and "symrnn_floordiv" in cell.preamble


def test_kernel_source_casts_operands_like_numpy_and_writes_exact_literals():
    x, i = T.fmatrix("x"), T.imatrix("i")
    b = T.matrix("b", dtype="bool")
    y = T.switch(b, T.cast(i, "float64") / 3, x * np.float32(0.1))  # float32 * float64 -> float64
    [fy] = fuse_elementwise([y])
    src = kernel_source(fy.owner)
    assert sorted(p.split()[0] for p in src.in_params.split(", ")) == ["bool", "float32", "int32"]
    assert src.out_params == "float64 y"
    assert "(double)" in src.operation and "((float)0.10000000149011612)" in src.operation
    assert " ? " in src.operation


def test_fused_kernels_are_built_once_per_kernel_text():
    made = []

    class Kernel:
        def __init__(self, *args, **kwargs):
            made.append(args)

    backend = CupyBackend()
    backend._probed, backend._reason = True, None
    backend._cupy = types.SimpleNamespace(ElementwiseKernel=Kernel)
    _, _, a = fused_lstm_step()
    _, _, b = fused_lstm_step()
    kernels = [backend.fused_kernel(n) for n in a + b]
    assert len(made) == 2 and kernels[0] is kernels[2] and kernels[1] is kernels[3]


def test_device_container_syncs_lazily():
    downloads = []
    var = symrnn.shared(np.zeros(3), name="w")
    container = DeviceContainer(var.container[0], lambda v: downloads.append(1) or np.array(v))
    var.container = container
    assert container.on_device(lambda v: np.array(v) + 0) is container.device_value
    container.set_on_device(np.ones(3))
    assert downloads == []  # nothing copied back until someone reads the host value
    np.testing.assert_array_equal(var.get_value(), np.ones(3))
    assert downloads == [1]
    var.get_value()
    assert downloads == [1]
    var.set_value(np.full(3, 5.0))
    assert container.device_value is None  # the host value is newer: uploaded again on next use
    np.testing.assert_array_equal(container.on_device(np.array), np.full(3, 5.0))


# ----------------------------------------------------------------------------- 2a. NVRTC: the kernels compile


def nvrtc_compile(source, ndim, node):
    """Build the kernel as cupy.ElementwiseKernel would (its internal code generator) and compile it with NVRTC."""
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install symrnn[gpu])")
    try:
        import cupy._core._carray as carray
        import cupy._core._kernel as kernel_mod
        from cupy.cuda import compiler
    except ImportError as exc:  # internal modules: they may move between CuPy versions
        pytest.skip(f"CuPy's kernel code generator is not where this test expects it: {exc}")
    kernel = cupy.ElementwiseKernel(source.in_params, source.out_params, source.operation, source.name,
                                    preamble=source.preamble)
    dtypes = [v.dtype for v in node.inputs] + [node.outputs[0].dtype]
    infos = tuple(kernel_mod._ArgInfo(1, cupy.ndarray, np.dtype(d).type, ndim, True, True) for d in dtypes)
    infos += (kernel_mod._ArgInfo(2, carray.Indexer, None, ndim, True, True),)
    code = kernel_mod._get_elementwise_kernel_code(infos, kernel_mod._TypeMap(()), kernel.params,
                                                   kernel.operation, kernel.name, kernel.preamble)
    include = os.path.join(os.path.dirname(cupy.__file__), "_core", "include")
    try:
        compiler.compile_using_nvrtc("#include <cupy/carray.cuh>\n" + code,
                                     options=("-I" + include, "-dlto", "--std=c++17"), arch="80", method="lto")
    except compiler.CompileException:
        raise
    except Exception as exc:  # no libnvrtc: CompileException is the only failure that is ours
        pytest.skip(f"NVRTC is not available to compile CUDA code ({type(exc).__name__}: {exc})")
    return code


def test_fused_lstm_kernels_compile_with_nvrtc():
    _, _, nodes = fused_lstm_step()
    for node in nodes:
        code = nvrtc_compile(kernel_source(node), 2, node)
        assert "const float &x0 = _raw_x0[_ind.get()];" in code


ELEMWISE_OPS = sorted({op.name: op for op in (getattr(getattr(T, n, None), "op", None) for n in dir(T))
                       if isinstance(op, symrnn.ops.elemwise.Elemwise)}.values(), key=lambda op: op.name)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_every_elementwise_op_compiles_with_nvrtc(dtype):
    compiled = 0
    for op in ELEMWISE_OPS:
        xs = [T.tensor(dtype, (None, None)) for _ in range(op.nin)]
        if op.name == "switch":
            xs[0] = T.tensor("bool", (None, None))
        try:
            y = op(*xs)
        except Exception:  # NumPy has no such loop (say, sign of bool): nothing to compile
            continue
        [z] = fuse_elementwise([T.cast(y, "float32") * 2])
        assert isinstance(z.owner.op, FusedElemwise), op.name
        nvrtc_compile(kernel_source(z.owner), 2, z.owner)
        compiled += 1
    assert compiled >= 20


# ----------------------------------------------------------------------------- 2b. the backend on the host (g++)


class HostKernel:
    """Stands in for ``cupy.ElementwiseKernel``: the same operation and preamble, compiled with g++ for the host.

    It broadcasts its inputs, rejects an array whose dtype is not the declared
    one (as CuPy does) and casts scalars, as CuPy does.
    """

    calls = 0
    _libs: dict[str, ctypes.CDLL] = {}
    _dir: str | None = None

    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", **kwargs):
        self.ins = [p.split() for p in in_params.split(",")]
        self.outs = [p.split() for p in out_params.split(",")]
        self.operation, self.name, self.preamble = operation, name, preamble
        self.lib = None

    def _compile(self):
        loads = "\n".join(f"const {C_TYPES[t]} {n} = ((const {C_TYPES[t]}*)args[{k}])[i];"
                          for k, (t, n) in enumerate(self.ins))
        (t_out, n_out), = self.outs
        source = (f"#include <cmath>\n#include <cstdint>\nusing namespace std;\n#define __device__\n"
                  f"#define __forceinline__ inline\n{self.preamble}\n"
                  f'extern "C" void run(long n, void** args) {{\n  for (long i = 0; i < n; ++i) {{\n{loads}\n'
                  f"    {C_TYPES[t_out]} {n_out};\n{self.operation}\n"
                  f"    (({C_TYPES[t_out]}*)args[{len(self.ins)}])[i] = {n_out};\n  }}\n}}\n")
        key = hashlib.sha1(source.encode()).hexdigest()
        if HostKernel._dir is None:
            HostKernel._dir = tempfile.mkdtemp(prefix="symrnn-hostkernels-")
            atexit.register(shutil.rmtree, HostKernel._dir, True)
        if key not in self._libs:
            path = os.path.join(HostKernel._dir, key)
            with open(path + ".cpp", "w") as f:
                f.write(source)
            subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", path + ".so", path + ".cpp"], check=True,
                           capture_output=True)
            self._libs[key] = ctypes.CDLL(path + ".so")
        self.lib = self._libs[key]

    def __call__(self, *args):
        if self.lib is None:
            self._compile()
        HostKernel.calls += 1
        shape = np.broadcast_shapes(*[np.shape(a) for a in args])
        arrays = []
        for a, (dtype, name) in zip(args, self.ins):
            if isinstance(a, np.ndarray) and a.ndim > 0 and a.dtype != np.dtype(dtype):
                raise TypeError(f"Type is mismatched. {name} {a.dtype} {dtype}")
            arrays.append(np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=dtype), shape)))
        out = np.empty(shape, dtype=self.outs[0][0])
        pointers = (ctypes.c_void_p * (len(arrays) + 1))(*[a.ctypes.data for a in arrays + [out]])
        self.lib.run(ctypes.c_long(out.size), pointers)
        return out


class FakeCupy(types.ModuleType):
    """NumPy under CuPy's name, with :class:`HostKernel` as its ``ElementwiseKernel``."""

    def __getattr__(self, name):
        return getattr(np, name)


FAKE_CUPY = FakeCupy("fake_cupy")
FAKE_CUPY.ElementwiseKernel = HostKernel
FAKE_CUPY.ndarray = np.ndarray
FAKE_CUPY.asnumpy = np.asarray
FAKE_CUPY.cuda = types.SimpleNamespace(get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None))


class HostCupy(CupyBackend):
    """The CuPy backend with :data:`FAKE_CUPY`: everything but the device itself."""

    def _probe(self):
        self._cupy = FAKE_CUPY
        return None


needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed (apt-get install g++)")


def lstm_training(dtype, fuse=True, seed=0):
    """An LSTM over a sequence, its loss, gradients and SGD updates, fused as the compiler would."""
    old = symrnn.config.floatX
    symrnn.config.floatX = dtype
    try:
        cell = symrnn.nn.LSTMCell(3, 5, seed=seed)
        x = T.tensor3("x")
        outputs, _ = symrnn.nn.rnn(cell, x)
        loss = (outputs ** 2).mean()
        params = list(cell.params.values())
        grads = symrnn.grad(loss, params)
        lr = np.asarray(0.1, dtype=dtype)
        news = [p - lr * g for p, g in zip(params, grads)]
        compiled = optimize([loss, *news])
        if fuse:
            compiled = fuse_elementwise(compiled)
    finally:
        symrnn.config.floatX = old
    return x, params, compiled


@needs_gxx
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cupy_backend_on_the_host_runs_an_lstm_training_step_like_numpy(dtype):
    runs = {}
    for name, backend in [("numpy", "numpy"), ("cupy", HostCupy())]:
        x, params, (loss, *news) = lstm_training(dtype)
        fn = symrnn.function([x], loss, updates=list(zip(params, news)), mode="FAST_COMPILE", backend=backend)
        before = HostKernel.calls
        rng = np.random.default_rng(1)
        losses = [fn(rng.normal(size=(7, 2, 3)).astype(dtype)) for _ in range(3)]
        if name == "cupy":
            assert "_kernel" in fn.source and HostKernel.calls - before >= 3 * 2 * 7  # fused kernels, every step
            assert all(isinstance(p.container, DeviceContainer) and p.container.host_stale for p in params)
        runs[name] = (losses, [p.get_value() for p in params])
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in zip(runs["cupy"][0], runs["numpy"][0]):
        np.testing.assert_allclose(a, b, rtol=rtol)
    for a, b in zip(runs["cupy"][1], runs["numpy"][1]):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)


@needs_gxx
def test_shared_values_move_between_backends_and_set_value():
    w = symrnn.shared(np.arange(4.0), name="w")
    x = T.vector("x")
    [new] = fuse_elementwise([T.tanh(w * x) + w])
    on_device = symrnn.function([x], [], updates=[(w, new)], mode="FAST_COMPILE", backend=HostCupy())
    on_host = symrnn.function([x], [], updates=[(w, T.tanh(w * x) + w)], backend="numpy")
    xv = np.linspace(-1, 1, 4)
    expected = np.arange(4.0)
    for fn in (on_device, on_host, on_device, on_device, on_host):
        fn(xv)
        expected = np.tanh(expected * xv) + expected
        np.testing.assert_allclose(w.get_value(), expected, rtol=1e-14)
    w.set_value(np.ones(4))
    on_device(xv)
    np.testing.assert_allclose(w.get_value(), np.tanh(xv) + 1, rtol=1e-14)


@needs_gxx
@pytest.mark.parametrize("seed", range(6))
def test_kernels_compute_what_numpy_computes_on_random_graphs(seed):
    from test_fusion import BINARY, PATTERNS, UNARY, build

    rng = np.random.default_rng(seed)
    shapes = [PATTERNS[k] for k in rng.integers(0, len(PATTERNS), size=3)]
    steps = []
    for _ in range(8):
        if rng.random() < 0.5:
            steps.append(("u", sorted(UNARY)[rng.integers(len(UNARY))], int(rng.integers(99))))
        else:
            steps.append(("b", sorted(BINARY)[rng.integers(len(BINARY))], int(rng.integers(99)),
                          int(rng.integers(99))))
    inputs = [T.tensor("float64", s, name=f"in{i}") for i, s in enumerate(shapes)]
    outputs = build(inputs, steps, 2)
    values = [rng.normal(size=tuple(3 if d is None else d for d in s)) for s in shapes]
    want = symrnn.function(inputs, outputs, mode="reference", on_unused_input="ignore")(*values)
    got = symrnn.function(inputs, fuse_elementwise(outputs), mode="FAST_COMPILE", on_unused_input="ignore",
                          backend=HostCupy())(*values)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13, equal_nan=True)


# ----------------------------------------------------------------------------- 3. on a GPU


@pytest.fixture(scope="module")
def cupy():
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (pip install symrnn[gpu])")
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:
        pytest.skip(f"CuPy finds no usable CUDA device: {exc}")
    if count < 1:
        pytest.skip("CuPy finds no CUDA device")
    return cp


def both(inputs, outputs, values, dtype, fuse=True, **kwargs):
    """Run on the device (fused, as compiled) and with the NumPy backend; compare every output."""
    kwargs.setdefault("on_unused_input", "ignore")
    device_outputs = fuse_elementwise(optimize(outputs)) if fuse else outputs
    gpu = symrnn.function(inputs, device_outputs, backend="cupy", return_numpy=True, **kwargs)
    cpu = symrnn.function(inputs, outputs, backend="numpy", **kwargs)
    got, want = gpu(*values), cpu(*values)
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype and g.shape == w.shape
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=GPU_RTOL[dtype], atol=GPU_ATOL[dtype], equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)
    return gpu


GPU_FAMILIES = {
    "elementwise": lambda a, b: [T.tanh(a) * T.nnet.sigmoid(b) + T.nnet.softplus(a - b), T.maximum(a, b) ** 2,
                                 T.switch(a > b, T.exp(T.clip(a, -5, 5)), T.log1p(b * b)), abs(a) // 0.3,
                                 T.cast(a > 0, "int32") * 3 + T.cast(b, "int64") % 2],
    "reduce": lambda a, b: [a.sum(), a.mean(axis=0), T.max(a, axis=1), b.prod(axis=0), T.argmax(a, axis=1)],
    "blas": lambda a, b: [T.dot(a, b.T), T.dot(a.T, a), T.batched_dot(a[None], b.T[None])
                          if hasattr(T, "batched_dot") else T.dot(b, a.T)],
    "shape": lambda a, b: [a.reshape((-1,)), a.dimshuffle(1, "x", 0), T.concatenate([a, b], axis=0),
                           T.split(a, [1, 2], 2, axis=0)[1], T.alloc(b[0, 0], 2, 3), T.arange(5) * a[0, 0]],
    "indexing": lambda a, b: [a[1:, ::2], a[T.arange(3) % 2], T.set_subtensor(a[0], b[1]),
                              T.inc_subtensor(a[[0, 0, 2]], b[:3]), a[:, [3, 0, 3]]],
    "nnet": lambda a, b: [T.nnet.softmax(a), T.nnet.relu(a, 0.1),
                          T.nnet.categorical_crossentropy(T.nnet.softmax(a), T.nnet.softmax(b))],
}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("family", sorted(GPU_FAMILIES))
def test_gpu_op_family_and_its_gradient_match_numpy(cupy, family, dtype):
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    outs = GPU_FAMILIES[family](a, b)
    cost = sum(T.cast(o, dtype).sum() * (k + 1) for k, o in enumerate(outs) if o.dtype.startswith("float"))
    grads = symrnn.grad(cost, [a, b], disconnected_inputs="ignore")
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(3, 4)).astype(dtype)]
    both([a, b], [*outs, *grads], values, dtype)


@pytest.mark.gpu
def test_gpu_random_draws_run_on_the_host_and_match(cupy):
    from symrnn.ops.random import RandomStreams

    x = T.matrix("x")
    y = x * RandomStreams(seed=3).uniform((3, 4))
    both([x], [y], [np.ones((3, 4))], "float64", fuse=False, no_default_updates=True)  # same draws in both


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell_name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gpu_cells_forward_and_gradients_match_numpy(cupy, cell_name, dtype):
    old = symrnn.config.floatX
    symrnn.config.floatX = dtype
    try:
        cell = getattr(symrnn.nn, cell_name)(3, 5, seed=0)
        x = T.tensor3("x")
        outputs, _ = symrnn.nn.rnn(cell, x)
        loss = (outputs ** 2).mean()
        grads = symrnn.grad(loss, list(cell.params.values()))
    finally:
        symrnn.config.floatX = old
    values = [np.random.default_rng(2).normal(size=(10, 4, 3)).astype(dtype)]
    gpu = both([x], [outputs, loss, *grads], values, dtype)
    assert any(isinstance(n.op, Scan) for n in gpu.nodes)


@pytest.mark.gpu
def test_gpu_scan_until_and_taps_match_numpy(cupy):
    x = T.vector("x")

    def step(a, b):
        return a + b, symrnn.until(T.sum(a + b) > 50)

    results, _ = symrnn.scan(step, outputs_info=[dict(initial=T.stack([x, x]), taps=[-2, -1])], n_steps=40)
    both([x], [results], [np.ones(3)], "float64")


@pytest.mark.gpu
def test_gpu_scan_loop_does_not_synchronize(cupy):
    cupyx = pytest.importorskip("cupyx", reason="cupyx ships with CuPy; this CuPy install lacks it")
    if not hasattr(cupyx, "allow_synchronize"):
        pytest.skip("this CuPy has no cupyx.allow_synchronize to detect synchronizations")
    x, params, (loss, *news) = lstm_training("float32")
    fn = symrnn.function([x], [loss, *news], mode="FAST_COMPILE", backend="cupy")
    xv = cupy.asarray(np.random.default_rng(0).normal(size=(20, 4, 3)).astype("float32"))
    fn(xv)  # compile the kernels and upload the weights first
    with cupyx.allow_synchronize(False):  # raises DeviceSynchronized on any host synchronization
        fn(xv)


@pytest.mark.gpu
def test_gpu_inputs_outputs_and_shared_variables(cupy):
    w = symrnn.shared(np.arange(6.0).reshape(2, 3), name="w")
    x = T.matrix("x")
    y = T.tanh(T.dot(x, w))
    fn = symrnn.function([x], y, updates=[(w, w * 0.5)], backend="cupy")
    xv = np.ones((4, 2))
    out = fn(cupy.asarray(xv))  # a device input is used as is
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(out), np.tanh(xv @ np.arange(6.0).reshape(2, 3)), rtol=1e-12)
    out = symrnn.function([x], y, backend="cupy", return_numpy=True)(xv)  # a host input is copied over
    assert isinstance(out, np.ndarray)
    assert isinstance(w.get_value(), np.ndarray)
    np.testing.assert_allclose(w.get_value(), np.arange(6.0).reshape(2, 3) * 0.5)
    with pytest.raises(TypeError, match="CuPy array of dtype float32"):
        fn(cupy.ones((4, 2), dtype="float32"))


@pytest.mark.gpu
def test_gpu_config_device_cuda(cupy, monkeypatch):
    monkeypatch.setattr(symrnn.config, "device", "cuda")
    x = T.vector("x")
    fn = symrnn.function([x], x * 2)
    assert fn.backend.name == "cupy" and isinstance(fn(np.ones(2)), cupy.ndarray)
