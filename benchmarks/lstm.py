"""LSTM speed, compile time and memory: symrnn against a hand-written NumPy BPTT and, when installed, PyTorch,
JAX and PyTensor, all in one process, interleaved.

    python benchmarks/lstm.py [--configs tiny,small,medium,large] [--repeats N] [--json out.json] [--quick]
                              [--peers numba,torch,jax,pytensor] [--threads N] [--pause S]

For every config (B, T, I, H) it builds one LSTM (float32, zero initial state,
``loss = mean(h ** 2)`` over all outputs) with the same weights and inputs in
every implementation, checks that they agree, and then times two workloads:

- ``fwd``:   the loss only;
- ``train``: the loss and the gradient of every weight.

Timing: after warm-up calls (never timed), each repeat calls every
implementation once per workload, in an order that rotates from repeat to
repeat, with a short pause between calls (so that one library's spinning
worker threads do not slow the next one down).  The table shows the median
time; a ratio is the median over repeats of the per-repeat ratio, so that slow
drifts of the machine's load cancel out.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.nn.interop import export_torch_weights
from symrnn.nn.optimizers import adam

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("numpy_lstm", _HERE / "numpy_lstm.py")
numpy_lstm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(numpy_lstm)

GATES = numpy_lstm.GATES
DTYPE = "float32"
FORGET_BIAS = 1.0

#: (B, T, I, H): batch, time steps, input features, hidden units
CONFIGS = {
    "tiny": (4, 400, 4, 4),
    "small": (32, 50, 32, 64),
    "medium": (64, 100, 128, 256),
    "large": (64, 100, 512, 512),
}
QUICK_CONFIGS = {"tiny": (2, 5, 3, 4)}
DEFAULT_REPEATS = {"tiny": 20, "small": 20, "medium": 8, "large": 5}
OVERHEAD_CONFIG = (1, 200, 8, 8)  # B=1, T=200, I=8, H=8: almost nothing but per-step overhead
PEERS = ("numba", "torch", "jax", "pytensor")  # numba: symrnn with config.kernels = "numba" (whole numba loops
# where the steps are small, numba kernels for fused arithmetic elsewhere)


# --------------------------------------------------------------------------- helpers


class floatx:
    """``with floatx("float32"):`` sets ``symrnn.config.floatX`` for the block."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def __enter__(self) -> None:
        self.old = symrnn.config.floatX
        symrnn.config.floatX = self.dtype

    def __exit__(self, *exc: Any) -> None:
        symrnn.config.floatX = self.old


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def count_nodes(nodes: list[Any]) -> int:
    """Apply nodes, counting those of every loop body (recursively) too."""
    total, stack = 0, list(nodes)
    while stack:
        node = stack.pop()
        total += 1
        stack.extend(getattr(node.op, "inner_nodes", None) or ())
    return total


def max_rel_err(got: Any, want: Any) -> float:
    """``max|got - want| / max|want|`` (0 when both are 0)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    return err / scale if scale else err


def peak_traced_bytes(fn: Callable[[], Any]) -> int:
    """Peak of the memory that Python and NumPy allocate during one call (tracemalloc), after a warm-up."""
    fn()
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass
class Impl:
    """One implementation of the two workloads, ready to call (weights and inputs bound)."""

    key: str                                           # the JSON key
    label: str                                         # the table's row label
    fwd: Callable[[], Any]
    train: Callable[[], Any]
    result: Callable[[], tuple[float, dict[str, np.ndarray]]]  # (loss, gradients by symrnn name), for checking
    compile: dict[str, float] = field(default_factory=dict)    # seconds
    numpy_memory: bool = True                          # do its arrays come from NumPy (visible to tracemalloc)?
    held_bytes: Callable[[], int] = lambda: 0          # memory kept between calls (symrnn's loop buffers)


# --------------------------------------------------------------------------- the implementations


def lstm_graph(n_in: int, n_hidden: int, seed: int = 0) -> tuple[nn.LSTMCell, Any, Any, list[Any], float]:
    """symrnn's LSTM: ``(cell, x, loss, grads, seconds to build the graph and its gradient)``."""
    started = time.perf_counter()
    with floatx(DTYPE):
        cell = nn.LSTMCell(n_in, n_hidden, forget_bias=FORGET_BIAS, seed=seed)
        x = T.tensor3("x")
        outputs, _ = nn.rnn(cell, x)
        loss = T.mean(outputs ** 2)
        grads = symrnn.grad(loss, list(cell.params.values()))
    return cell, x, loss, grads, time.perf_counter() - started


def make_symrnn(mode: str, graph: tuple, x_value: np.ndarray, kernels: str = "numpy") -> Impl:
    cell, x, loss, grads, graph_s = graph
    symrnn.config.kernels = kernels
    try:
        function_fwd_s, fwd = timed(lambda: symrnn.function([x], loss, mode=mode))
        function_s, train = timed(lambda: symrnn.function([x], [loss, *grads], mode=mode))
    finally:
        symrnn.config.kernels = "numpy"
    first_call_s, _ = timed(lambda: train(x_value))
    fwd(x_value)
    names = [key for key, _ in cell.params.local_items()]

    def result() -> tuple[float, dict[str, np.ndarray]]:
        loss_value, *grad_values = train(x_value)
        return float(loss_value), dict(zip(names, grad_values))

    key, label = (f"symrnn_{mode.lower()}", f"symrnn {mode}") if kernels == "numpy" else \
        (f"symrnn_{mode.lower()}_{kernels}", f"symrnn {mode} + {kernels}")
    return Impl(key, label, lambda: fwd(x_value), lambda: train(x_value), result,
                {"graph_s": graph_s, "function_fwd_s": function_fwd_s, "function_s": function_s,
                 "first_call_s": first_call_s, "nodes": count_nodes(train.nodes),
                 "nodes_before_rewrites": count_nodes(train.reference_nodes)}, held_bytes=lambda: train.kept_bytes)


def make_numpy(params: dict[str, np.ndarray], x_value: np.ndarray) -> Impl:
    fwd = lambda: numpy_lstm.forward(params, x_value, FORGET_BIAS)
    train = lambda: numpy_lstm.train_step(params, x_value, FORGET_BIAS)
    return Impl("numpy", "numpy (hand-written)", fwd, train, train)


def torch_lstm(cell: nn.LSTMCell, device: str = "cpu") -> Any:
    """PyTorch's ``nn.LSTM`` (time-major, like symrnn) on ``device``, with ``cell``'s weights."""
    import torch

    lstm = torch.nn.LSTM(cell.input_size, cell.num_units).to(device)
    with torch.no_grad():
        for key, value in export_torch_weights(cell).items():
            getattr(lstm, key).copy_(torch.from_numpy(np.ascontiguousarray(value, DTYPE)))
    return lstm


def torch_train_step(lstm: Any, x: Any, sync: Callable[[], Any] = lambda: None) -> Callable[[], Any]:
    """One training step of ``lstm`` on ``x``: loss ``mean(h ** 2)`` and every weight's gradient; ``sync``
    waits for the device (CUDA runs asynchronously)."""
    weights = list(lstm.parameters())

    def train() -> Any:
        for w in weights:
            w.grad = None
        out, _ = lstm(x)
        loss = out.pow(2).mean()
        loss.backward()
        sync()
        return loss

    return train


def make_torch(cell: nn.LSTMCell, x_value: np.ndarray) -> Impl:
    import torch

    lstm = torch_lstm(cell)
    x = torch.from_numpy(x_value)

    def fwd() -> Any:
        with torch.no_grad():
            out, _ = lstm(x)
            return out.pow(2).mean()

    train = torch_train_step(lstm, x)

    def result() -> tuple[float, dict[str, np.ndarray]]:
        loss = train().item()
        H = cell.num_units
        blocks = {"i": 0, "f": 1, "c": 2, "o": 3}  # PyTorch's row blocks: i, f, g, o
        w_ih, w_hh, b_ih = (lstm.weight_ih_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy(),
                            lstm.bias_ih_l0.grad.numpy())
        grads = {}
        for gate, k in blocks.items():
            rows = slice(k * H, (k + 1) * H)
            grads[f"W_{gate}"], grads[f"U_{gate}"], grads[f"b_{gate}"] = w_ih[rows].T, w_hh[rows].T, b_ih[rows]
        return loss, grads

    first_call_s, _ = timed(train)
    return Impl("torch", f"PyTorch {torch.__version__} nn.LSTM", fwd, train, result,
                {"first_call_s": first_call_s}, numpy_memory=False)


def make_jax(params: dict[str, np.ndarray], x_value: np.ndarray) -> Impl:
    import jax
    import jax.numpy as jnp
    from jax import lax

    n_steps, batch, n_in = x_value.shape
    H = params["U_i"].shape[0]

    def loss_fn(p: dict[str, Any], x: Any) -> Any:
        W = jnp.concatenate([p[f"W_{g}"] for g in GATES], axis=1)
        U = jnp.concatenate([p[f"U_{g}"] for g in GATES], axis=1)
        b = jnp.concatenate([p[f"b_{g}"] for g in GATES]).at[H:2 * H].add(FORGET_BIAS)
        xw = (x.reshape(n_steps * batch, n_in) @ W + b).reshape(n_steps, batch, 4 * H)

        def step(carry: tuple[Any, Any], z: Any) -> tuple[tuple[Any, Any], Any]:
            c, h = carry
            z = z + h @ U
            i, f, o = (jax.nn.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
            c = f * c + i * jnp.tanh(z[:, 3 * H:])
            h = o * jnp.tanh(c)
            return (c, h), h

        zero = jnp.zeros((batch, H), x.dtype)
        _, hs = lax.scan(step, (zero, zero), xw)
        return jnp.mean(hs ** 2)

    fwd_jit = jax.jit(loss_fn)
    train_jit = jax.jit(jax.value_and_grad(loss_fn))
    p = {k: jnp.asarray(v) for k, v in params.items()}
    x = jnp.asarray(x_value)
    fwd = lambda: fwd_jit(p, x).block_until_ready()
    train = lambda: jax.block_until_ready(train_jit(p, x))

    def result() -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = train()
        return float(loss), {k: np.asarray(v) for k, v in grads.items()}

    first_call_s, _ = timed(train)
    timed(fwd)
    return Impl("jax", f"JAX {jax.__version__} lax.scan+jit", fwd, train, result, {"first_call_s": first_call_s},
                numpy_memory=False)


def make_pytensor(params: dict[str, np.ndarray], x_value: np.ndarray, mode: str) -> Impl:
    """PyTensor, packed weights, with the C (``"CVM"``) or Numba (``"NUMBA"``) backend."""
    import pytensor
    import pytensor.tensor as pt

    n_steps, batch, n_in = x_value.shape
    H = params["U_i"].shape[0]
    started = time.perf_counter()
    shared = {k: pytensor.shared(v, name=k) for k, v in params.items()}
    names = list(shared)
    x = pt.tensor3("x", dtype=DTYPE)
    W = pt.concatenate([shared[f"W_{g}"] for g in GATES], axis=1)
    U = pt.concatenate([shared[f"U_{g}"] for g in GATES], axis=1)
    forget = np.zeros(4 * H, DTYPE)
    forget[H:2 * H] = FORGET_BIAS
    b = pt.concatenate([shared[f"b_{g}"] for g in GATES]) + forget
    xw = pt.dot(x.reshape((x.shape[0] * x.shape[1], n_in)), W) + b
    xw = xw.reshape((x.shape[0], x.shape[1], 4 * H))

    def step(z: Any, c: Any, h: Any, U: Any) -> tuple[Any, Any]:
        z = z + pt.dot(h, U)
        i, f, o = (pt.sigmoid(z[:, k * H:(k + 1) * H]) for k in range(3))
        c_new = f * c + i * pt.tanh(z[:, 3 * H:])
        return c_new, o * pt.tanh(c_new)

    zero = pt.zeros((x.shape[1], H), dtype=DTYPE)
    with warnings.catch_warnings():  # PyTensor 3 warns that scan's return signature will change
        warnings.simplefilter("ignore", DeprecationWarning)
        scanned = pytensor.scan(step, sequences=[xw], outputs_info=[zero, zero], non_sequences=[U])
    _, hs = scanned[0] if len(scanned) == 2 and isinstance(scanned[0], (list, tuple)) else scanned
    loss = pt.mean(hs ** 2)
    grads = pytensor.grad(loss, [shared[k] for k in names])
    graph_s = time.perf_counter() - started
    function_s, train_fn = timed(lambda: pytensor.function([x], [loss, *grads], mode=mode))
    fwd_fn = pytensor.function([x], loss, mode=mode)

    def result() -> tuple[float, dict[str, np.ndarray]]:
        loss_value, *grad_values = train_fn(x_value)
        return float(loss_value), dict(zip(names, grad_values))

    first_call_s, _ = timed(lambda: train_fn(x_value))
    fwd_fn(x_value)
    key = f"pytensor_{mode.lower()}"
    label = f"PyTensor {pytensor.__version__} {mode}"
    return Impl(key, label, lambda: fwd_fn(x_value), lambda: train_fn(x_value), result,
                {"graph_s": graph_s, "function_s": function_s, "first_call_s": first_call_s})


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_impls(shape: tuple[int, int, int, int], peers: list[str], errors: dict[str, str],
                seed: int = 0) -> list[Impl]:
    """Every implementation for one config, on the same weights and inputs."""
    B, n_steps, n_in, H = shape
    graph = lstm_graph(n_in, H, seed)
    cell = graph[0]
    params = {k: np.ascontiguousarray(v.get_value()) for k, v in cell.params.local_items()}
    x_value = np.random.default_rng(seed + 1).standard_normal((n_steps, B, n_in)).astype(DTYPE)
    impls = [make_symrnn("FAST_RUN", graph, x_value), make_symrnn("FAST_COMPILE", graph, x_value),
             make_numpy(params, x_value)]
    builders: list[tuple[str, Callable[[], Impl]]] = []
    if "numba" in peers and available("numba"):  # symrnn's optional fused-arithmetic kernels
        builders.append(("symrnn_numba", lambda: make_symrnn("FAST_RUN", graph, x_value, kernels="numba")))
    if "torch" in peers and available("torch"):
        builders.append(("torch", lambda: make_torch(cell, x_value)))
    if "jax" in peers and available("jax"):
        builders.append(("jax", lambda: make_jax(params, x_value)))
    if "pytensor" in peers and available("pytensor"):
        builders.append(("pytensor_cvm", lambda: make_pytensor(params, x_value, "CVM")))
        if available("numba"):
            builders.append(("pytensor_numba", lambda: make_pytensor(params, x_value, "NUMBA")))
    for name, build in builders:
        try:
            impls.append(build())
        except Exception as exc:  # a peer that fails to build is reported, not fatal
            errors[name] = f"{type(exc).__name__}: {exc}"
    return impls


def check_agreement(impls: list[Impl], reference: Impl, tolerance: float = 2e-3) -> dict[str, dict[str, float]]:
    """Loss and gradients of every implementation against the reference (max relative error)."""
    want_loss, want_grads = reference.result()
    report = {}
    for impl in impls:
        if impl is reference:
            continue
        loss, grads = impl.result()
        loss_err = abs(loss - want_loss) / abs(want_loss)
        grad_err = max(max_rel_err(grads[k], want_grads[k]) for k in want_grads)
        report[impl.key] = {"loss_rel_err": loss_err, "grad_max_rel_err": grad_err}
        if not (loss_err <= tolerance and grad_err <= tolerance):
            print(f"WARNING: {impl.label} disagrees with {reference.label}: loss {loss_err:.2e}, "
                  f"gradients {grad_err:.2e} (relative)", file=sys.stderr)
    return report


# --------------------------------------------------------------------------- timing


def interleaved(tasks: dict[str, Callable[[], Any]], repeats: int, pause: float,
                warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of every task, ``repeats`` times, alternating the tasks within each repeat.

    The order rotates from one repeat to the next, so no task always follows
    the same one.  The garbage collector is off while a call is timed.
    """
    for _ in range(warmup):  # not timed
        for fn in tasks.values():
            fn()
    keys = list(tasks)
    times: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            if pause:
                time.sleep(pause)
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                tasks[key]()
                times[key].append(time.perf_counter() - started)
            finally:
                gc.enable()
    return times


def summarize(times: dict[str, list[float]], keys: list[str], reference_keys: dict[str, str]) -> dict[str, Any]:
    """ms (median, min) of each key, and its ratios to the references: the median of per-repeat ratios."""
    out: dict[str, Any] = {}
    for key in keys:
        t = times[key]
        entry: dict[str, Any] = {"ms": 1e3 * statistics.median(t), "ms_min": 1e3 * min(t), "repeats": len(t)}
        for name, ref in reference_keys.items():
            if ref in times:
                entry[f"x_{name}"] = statistics.median(a / b for a, b in zip(t, times[ref]))
        out[key] = entry
    return out


def bench_config(name: str, shape: tuple[int, int, int, int], repeats: int, pause: float,
                 peers: list[str]) -> dict[str, Any]:
    B, n_steps, n_in, H = shape
    print(f"\n== {name}: B={B}, T={n_steps}, I={n_in}, H={H} ({DTYPE}); building ...", flush=True)
    errors: dict[str, str] = {}
    impls = build_impls(shape, peers, errors)
    by_key = {impl.key: impl for impl in impls}
    agreement = check_agreement(impls, by_key["numpy"])

    memory: dict[str, Any] = {}
    for impl in impls:
        if impl.numpy_memory:
            # what one call allocates at its peak, plus what the implementation holds from call to call
            memory[f"{impl.key}_mib"] = (peak_traced_bytes(impl.train) + impl.held_bytes()) / 2**20
    for impl in impls:
        if impl.numpy_memory and impl.key != "numpy":
            memory[f"{impl.key}_x_numpy"] = memory[f"{impl.key}_mib"] / memory["numpy_mib"]

    tasks = {}
    for workload in ("fwd", "train"):
        for impl in impls:
            tasks[f"{impl.key}/{workload}"] = getattr(impl, workload)
    times = interleaved(tasks, repeats, pause)
    refs = {"numpy": "numpy", "torch": "torch"}
    result: dict[str, Any] = {"shape": {"B": B, "T": n_steps, "I": n_in, "H": H}, "dtype": DTYPE}
    for workload in ("fwd", "train"):
        keys = [f"{impl.key}/{workload}" for impl in impls]
        summary = summarize(times, keys, {n: f"{r}/{workload}" for n, r in refs.items()})
        result[workload] = {k.split("/")[0]: v for k, v in summary.items()}
    result["labels"] = {impl.key: impl.label for impl in impls}
    result["compile"] = {impl.key: impl.compile for impl in impls if impl.compile}
    result["peak_memory"] = memory
    result["agreement_with_numpy"] = agreement
    if errors:
        result["errors"] = errors
    print_config(name, result)
    return result


def per_step_overhead(repeats: int, pause: float, peers: list[str], n_steps: int) -> dict[str, Any]:
    """µs per time step with tiny tensors (B=1, H=8): what each implementation costs beyond the arithmetic."""
    B, _, n_in, H = OVERHEAD_CONFIG
    errors: dict[str, str] = {}
    impls = build_impls((B, n_steps, n_in, H), [p for p in peers if p in ("torch", "numba")], errors)
    tasks = {f"{impl.key}/{w}": getattr(impl, w) for w in ("fwd", "train") for impl in impls}
    times = interleaved(tasks, repeats, pause)
    out: dict[str, Any] = {"shape": {"B": B, "T": n_steps, "I": n_in, "H": H}, "fwd": {}, "train": {}}
    for key, t in times.items():
        impl_key, workload = key.split("/")
        out[workload][impl_key] = 1e6 * statistics.median(t) / n_steps
    out["labels"] = {impl.key: impl.label for impl in impls}
    if errors:
        out["errors"] = errors
    return out


# --------------------------------------------------------------------------- compile time


def compile_lstm_adam(layers: int, n_in: int, n_hidden: int, mode: str, seed: int = 0) -> dict[str, float]:
    """Build and compile a training function (grad + Adam updates) of ``layers`` stacked LSTMs."""
    started = time.perf_counter()
    with floatx(DTYPE):
        cells = [nn.LSTMCell(n_in if k == 0 else n_hidden, n_hidden, seed=seed + k, name=f"lstm{k}")
                 for k in range(layers)]
        cell = cells[0] if layers == 1 else nn.MultiRNNCell(cells)
        x = T.tensor3("x")
        outputs, _ = nn.rnn(cell, x)
        loss = T.mean(outputs ** 2)
        updates = adam(loss, cell.params)
    graph_s = time.perf_counter() - started
    function_s, fn = timed(lambda: symrnn.function([x], loss, updates=updates, mode=mode))
    x_value = np.random.default_rng(seed).standard_normal((5, 2, n_in)).astype(DTYPE)
    first_call_s, _ = timed(lambda: fn(x_value))
    return {"graph_s": graph_s, "function_s": function_s, "first_call_s": first_call_s,
            "nodes": count_nodes(fn.nodes),
            "nodes_before_rewrites": count_nodes(fn.reference_nodes)}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def compile_times(repeats: int, layer_counts: list[int], n_in: int = 32, n_hidden: int = 64) -> dict[str, Any]:
    """Compile times (median of ``repeats`` fresh builds): 1 and 4 layers with Adam, and growth with depth."""
    out: dict[str, Any] = {"sizes": {"I": n_in, "H": n_hidden}, "repeats": repeats}
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        runs = {layers: median_of([compile_lstm_adam(layers, n_in, n_hidden, mode) for _ in range(repeats)])
                for layers in sorted(set(layer_counts) | {1, 4})}
        scaling = []
        for layers in layer_counts:
            r = runs[layers]
            scaling.append({"layers": layers, **r, "ms_per_layer": 1e3 * r["function_s"] / layers,
                            "us_per_node": 1e6 * r["function_s"] / r["nodes_before_rewrites"]})
        first, last = scaling[0], scaling[-1]
        # log-log slope of function() time against graph size: 1.0 is linear growth
        exponent = (math.log(last["function_s"] / first["function_s"])
                    / math.log(last["nodes_before_rewrites"] / first["nodes_before_rewrites"])
                    if len(scaling) > 1 else float("nan"))
        out[mode.lower()] = {"lstm1_adam": runs[1], "lstm4_adam": runs[4], "scaling": scaling,
                             "growth_exponent": exponent}
    return out


# --------------------------------------------------------------------------- output


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_config(name: str, r: dict[str, Any]) -> None:
    s = r["shape"]
    print(f"\n{name}: B={s['B']}, T={s['T']}, I={s['I']}, H={s['H']}, {r['dtype']}; median of "
          f"{r['train']['numpy']['repeats']} interleaved repeats (x = median per-repeat ratio)")
    print(f"{'implementation':<30}{'fwd ms':>9}{'x numpy':>8}{'x torch':>8}{'train ms':>10}{'x numpy':>8}"
          f"{'x torch':>8}{'peak mem':>9}{'compile s':>10}")
    for key, label in r["labels"].items():
        f, t = r["fwd"][key], r["train"][key]
        mem = r["peak_memory"].get(f"{key}_x_numpy", 1.0 if key == "numpy" else None)
        c = r["compile"].get(key, {})
        compile_s = c.get("function_s", c.get("first_call_s"))
        print(f"{label[:29]:<30}{f['ms']:>9.2f}{fmt(f.get('x_numpy'), '.2f'):>8}{fmt(f.get('x_torch'), '.2f'):>8}"
              f"{t['ms']:>10.2f}{fmt(t.get('x_numpy'), '.2f'):>8}{fmt(t.get('x_torch'), '.2f'):>8}"
              f"{fmt(mem, '.2f') + ('x' if mem else ''):>9}{fmt(compile_s, '.3f'):>10}")
    c = r["compile"]
    print(f"symrnn train function: graph+grad {c['symrnn_fast_run']['graph_s']:.3f} s; function() "
          f"FAST_RUN {c['symrnn_fast_run']['function_s']:.3f} s, FAST_COMPILE "
          f"{c['symrnn_fast_compile']['function_s']:.3f} s; first call FAST_RUN "
          f"{c['symrnn_fast_run']['first_call_s']:.3f} s.  Peak memory of one train call: numpy "
          f"{r['peak_memory']['numpy_mib']:.3g} MiB")
    if "symrnn_fast_run_numba" in c:
        print(f"numba kernels: function() {c['symrnn_fast_run_numba']['function_s']:.3f} s, first call "
              f"(numba compiles its kernels) {c['symrnn_fast_run_numba']['first_call_s']:.3f} s")
    for key, value in r.get("errors", {}).items():
        print(f"  {key} failed: {value}")


def print_overhead(r: dict[str, Any]) -> None:
    s = r["shape"]
    print(f"\nper-step overhead (B={s['B']}, T={s['T']}, I={s['I']}, H={s['H']}): µs per time step, median")
    print(f"{'implementation':<34}{'fwd µs':>9}{'train µs':>10}")
    for key, label in r["labels"].items():
        print(f"{label:<34}{r['fwd'][key]:>9.1f}{r['train'][key]:>10.1f}")


def print_compile(r: dict[str, Any]) -> None:
    print(f"\ncompile time (median of {r['repeats']}; LSTM I={r['sizes']['I']}, H={r['sizes']['H']}; "
          f"training function with grad + Adam updates)")
    for mode in ("fast_run", "fast_compile"):
        m = r[mode]
        print(f"  {mode.upper()}: 1 layer function() {m['lstm1_adam']['function_s']:.3f} s "
              f"(graph+grad+adam {m['lstm1_adam']['graph_s']:.3f} s), 4 layers {m['lstm4_adam']['function_s']:.3f} s"
              f" (graph {m['lstm4_adam']['graph_s']:.3f} s)")
        print(f"    {'layers':>8}{'nodes':>8}{'after':>8}{'function() s':>14}{'ms/layer':>10}{'µs/node':>9}")
        for row in m["scaling"]:
            print(f"    {row['layers']:>8}{row['nodes_before_rewrites']:>8}{row['nodes']:>8}"
                  f"{row['function_s']:>14.3f}{row['ms_per_layer']:>10.1f}{row['us_per_node']:>9.1f}")
        print(f"    growth exponent of function() time against graph size: {m['growth_exponent']:.2f} (1 = linear)")


def meta(args: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(), "numpy": np.__version__, "symrnn": symrnn.__version__,
        "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "threads_env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                       "MKL_NUM_THREADS")},
        "repeats": args.repeats, "pause_s": args.pause, "quick": args.quick, "statistic": "median",
        "loadavg_start": list(os.getloadavg()),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    for peer in PEERS:
        if available(peer):
            module = __import__(peer)
            info[peer] = getattr(module, "__version__", "?")
    if "torch" in info:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    return info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", help=f"comma-separated, from {', '.join(CONFIGS)} (default: all)")
    parser.add_argument("--repeats", type=int, help="timed repeats per config (default: "
                        + ", ".join(f"{k} {v}" for k, v in DEFAULT_REPEATS.items()) + ")")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one repeat: checks that everything runs, measures nothing")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="peers to include when importable (default: %(default)s; 'none' for none)")
    parser.add_argument("--threads", type=int, help="set OPENBLAS/OMP/MKL_NUM_THREADS and torch's threads "
                        "(re-executes the script; default: the libraries' own defaults)")
    parser.add_argument("--pause", type=float, help="seconds of sleep before each timed call (default 0.1, "
                        "0 with --quick)")
    parser.add_argument("--skip-compile", action="store_true", help="skip the compile-time section")
    args = parser.parse_args(argv)

    if args.threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        env = dict(os.environ, **{k: str(args.threads) for k in
                                  ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()),
                                   *(sys.argv[1:] if argv is None else argv)], env)
    peers = [] if args.peers.strip() == "none" else [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from {PEERS}")
    if args.pause is None:
        args.pause = 0.0 if args.quick else 0.1
    if args.quick:
        configs = {k: QUICK_CONFIGS.get(k, CONFIGS.get(k)) for k in args.configs.split(",")} if args.configs \
            else dict(QUICK_CONFIGS)
    elif args.configs:
        configs = {}
        for k in args.configs.split(","):
            if k not in CONFIGS:
                parser.error(f"unknown config {k!r}; choose from {', '.join(CONFIGS)}")
            configs[k] = CONFIGS[k]
    else:
        configs = dict(CONFIGS)
    if "torch" in peers and available("torch") and args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)

    results: dict[str, Any] = {"meta": meta(args), "configs": {}}
    for name, shape in configs.items():
        repeats = args.repeats or (1 if args.quick else DEFAULT_REPEATS.get(name, 5))
        results["configs"][name] = bench_config(name, shape, repeats, args.pause, peers)

    overhead_steps = 10 if args.quick else OVERHEAD_CONFIG[1]
    results["per_step_overhead_us"] = per_step_overhead(args.repeats or (1 if args.quick else 20), args.pause,
                                                        peers, overhead_steps)
    print_overhead(results["per_step_overhead_us"])
    if not args.skip_compile:
        results["compile"] = compile_times(1 if args.quick else 3, [1, 2] if args.quick else [1, 2, 4, 8])
        print_compile(results["compile"])
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    print(f"\nload average: {results['meta']['loadavg_start'][0]:.2f} at the start, "
          f"{results['meta']['loadavg_end'][0]:.2f} at the end, on {os.cpu_count()} CPUs")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
