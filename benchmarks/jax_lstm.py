"""The JAX backend: one LSTM training step (loss = mean(h²), the gradient of every weight) on the CPU.

    python benchmarks/jax_lstm.py [--configs tiny,small,medium,large] [--repeats N] [--json out.json]
                                  [--data-parallel] [--quick]

Compares, in one process and interleaved (the order rotates from repeat to
repeat), on the same weights and inputs (float32, zero initial state):

- ``symrnn_jax``: ``symrnn.function(..., backend="jax")``: symrnn's own
  rewritten graph and symbolic gradient, written over ``jax.numpy`` with
  ``lax.scan``, under ``jax.jit``;
- ``symrnn_numpy``: the same graph on symrnn's NumPy backend (``FAST_RUN``);
- ``jax``: a hand-written ``lax.scan`` LSTM under ``jax.jit(jax.value_and_grad)``
  (``benchmarks/lstm.py``'s JAX peer: one concatenated weight matrix, the idiomatic form);
- ``pytensor_jax``: PyTensor's JAX mode, when PyTensor is importable.

Inputs are handed to both JAX implementations as device arrays, and every JAX
timing waits for its result (``block_until_ready``).  It prints milliseconds
(median) and the ratios to the hand-written JAX (the issue's target: within
1.2x at every size) and to the NumPy backend, the compile times (first call,
which traces and compiles, and for symrnn also ``function()``), and how far
each result is from the NumPy backend's.

``--data-parallel`` adds a child process with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``: a training step with
SGD updates through ``symrnn.distributed.data_parallel`` on 1, 2 and 4
simulated CPU devices, its time per step and how far its parameters are from
the single-device step's.  Simulated devices share the machine's cores, so
these times show the overhead of partitioning, not a speed-up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import symrnn
from symrnn.compile.backends import BackendUnavailable, get_backend

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("lstm_benchmark", _HERE / "lstm.py")
cpu = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(cpu)

#: (B, T, I, H): the issue's tiny config, then benchmarks/lstm.py's
CONFIGS = {"tiny": (4, 400, 4, 4), **cpu.CONFIGS}
QUICK_CONFIGS = {"tiny": (2, 20, 3, 4)}
DEFAULT_REPEATS = {"tiny": 20, "small": 20, "medium": 8, "large": 5}
DP_SHAPE = (16, 50, 32, 64)  # the data-parallel step: B divisible by 1, 2 and 4


def make_symrnn_jax(graph: tuple, x_value: np.ndarray) -> Any:
    import jax

    cell, x, loss, grads, graph_s = graph
    function_s, train = cpu.timed(lambda: symrnn.function([x], [loss, *grads], backend="jax"))
    x_device = get_backend("jax").asarray(x_value)
    run = lambda: jax.block_until_ready(train(x_device))
    first_call_s, _ = cpu.timed(run)
    names = [key for key, _ in cell.params.local_items()]

    def result() -> tuple[float, dict[str, np.ndarray]]:
        loss_value, *grad_values = run()
        return float(loss_value), {k: np.asarray(v) for k, v in zip(names, grad_values)}

    return cpu.Impl("symrnn_jax", "symrnn backend=jax", run, run, result,
                    {"graph_s": graph_s, "function_s": function_s, "first_call_s": first_call_s,
                     "nodes": cpu.count_nodes(train.nodes)}, numpy_memory=False)


def make_hand_jax(params: dict[str, np.ndarray], x_value: np.ndarray) -> Any:
    """benchmarks/lstm.py's hand-written JAX LSTM, its input already on the device (as symrnn's here)."""
    impl = cpu.make_jax(params, x_value)
    impl.label = "JAX lax.scan + jax.grad, by hand"
    return impl


def bench(name: str, shape: tuple[int, int, int, int], repeats: int, pause: float) -> dict[str, Any]:
    B, n_steps, n_in, H = shape
    print(f"\n== {name}: B={B}, T={n_steps}, I={n_in}, H={H} ({cpu.DTYPE}); building ...", flush=True)
    graph = cpu.lstm_graph(n_in, H)
    params = {k: np.ascontiguousarray(v.get_value()) for k, v in graph[0].params.local_items()}
    x_value = np.random.default_rng(1).standard_normal((n_steps, B, n_in)).astype(cpu.DTYPE)
    impls = [make_symrnn_jax(graph, x_value), make_hand_jax(params, x_value),
             cpu.make_symrnn("FAST_RUN", graph, x_value)]
    errors = {}
    if cpu.available("pytensor"):
        try:
            impls.append(cpu.make_pytensor(params, x_value, "JAX"))
            impls[-1].key, impls[-1].label = "pytensor_jax", "PyTensor mode=JAX"
        except Exception as exc:  # reported, not fatal
            errors["pytensor_jax"] = f"{type(exc).__name__}: {exc}"
    else:
        errors["pytensor_jax"] = "PyTensor is not installed"
    by_key = {impl.key: impl for impl in impls}
    agreement = cpu.check_agreement(impls, by_key["symrnn_fast_run"])
    times = cpu.interleaved({impl.key: impl.train for impl in impls}, repeats, pause)
    summary = cpu.summarize(times, list(times), {"jax": "jax", "numpy_backend": "symrnn_fast_run"})
    result = {"shape": {"B": B, "T": n_steps, "I": n_in, "H": H}, "dtype": cpu.DTYPE, "train": summary,
              "labels": {impl.key: impl.label for impl in impls},
              "compile": {impl.key: impl.compile for impl in impls if impl.compile},
              "agreement_with_numpy_backend": agreement, "errors": errors}
    print(f"{'':34} {'ms':>9} {'x hand JAX':>11} {'x NumPy be.':>12} {'first call s':>13}")
    for key, entry in summary.items():
        first = result["compile"].get(key, {}).get("first_call_s", float("nan"))
        print(f"{by_key[key].label:34} {entry['ms']:9.2f} {entry['x_jax']:11.2f} {entry['x_numpy_backend']:12.2f} "
              f"{first:13.2f}")
    if "symrnn_jax" in result["compile"]:
        c = result["compile"]["symrnn_jax"]
        print(f"symrnn_jax compile: graph {c['graph_s']:.2f} s, function() {c['function_s']:.2f} s, first call "
              f"{c['first_call_s']:.2f} s (trace + XLA)")
    for key, err in agreement.items():
        print(f"  {key}: loss {err['loss_rel_err']:.1e}, gradients {err['grad_max_rel_err']:.1e} from the NumPy "
              f"backend (max relative)")
    for key, err in errors.items():
        print(f"  {key}: {err}")
    return result


DP_CHILD = r"""
import json, statistics, sys, time
import numpy as np, jax, symrnn, symrnn.tensor as T, symrnn.nn as nn
from symrnn.distributed import data_parallel
B, n_steps, n_in, H = (int(v) for v in sys.argv[1].split(","))
repeats = int(sys.argv[2])
symrnn.config.floatX = "float32"

def train_step():
    nn.reset_default_names()
    cell = nn.LSTMCell(n_in, H, seed=0)
    x = T.tensor3("x")
    h, _ = nn.rnn(cell, x)
    loss = T.mean(h ** 2)
    params = list(cell.params.values())
    f = symrnn.function([x], loss, updates=nn.optimizers.sgd(loss, params, 0.1), backend="jax")
    return f, params

xs = np.random.default_rng(1).standard_normal((n_steps, B, n_in)).astype("float32")
f, params = train_step()
f(xs)
want = [p.get_value() for p in params]
report = {"devices": jax.device_count(), "steps": {}}
for n in (1, 2, 4):
    f, params = train_step()
    step = data_parallel(f, jax.make_mesh((n,), ("batch",)), batch_axes=1)
    started = time.perf_counter(); step(xs); first = time.perf_counter() - started
    err = max(float(np.max(np.abs(p.get_value() - w)) / np.max(np.abs(w))) for p, w in zip(params, want))
    times = []
    for _ in range(repeats):
        started = time.perf_counter(); step(xs); times.append(time.perf_counter() - started)
    report["steps"][n] = {"ms": 1e3 * statistics.median(times), "first_call_s": first, "param_max_rel_err": err}
print(json.dumps(report))
"""


def data_parallel_scaling(shape: tuple[int, int, int, int], repeats: int) -> dict[str, Any]:
    print(f"\n== data-parallel training step (SGD) on simulated CPU devices: B, T, I, H = {shape} (float32)")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", DP_CHILD, ",".join(map(str, shape)), str(repeats)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"error": proc.stderr[-3000:]}
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    one = report["steps"]["1"]["ms"]
    print(f"{'devices':>8} {'ms/step':>9} {'x 1 device':>11} {'first call s':>13} {'params vs 1 device':>19}")
    for n, entry in report["steps"].items():
        print(f"{n:>8} {entry['ms']:9.2f} {entry['ms'] / one:11.2f} {entry['first_call_s']:13.2f} "
              f"{entry['param_max_rel_err']:19.1e}")
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: tiny,small,medium,large")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per config")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds of sleep before each timed call")
    parser.add_argument("--json", default=None, help="also write every number to this file")
    parser.add_argument("--data-parallel", action="store_true", help="add the data-parallel scaling section")
    parser.add_argument("--quick", action="store_true", help="a tiny config, two repeats: checks that it runs")
    args = parser.parse_args(argv)
    try:
        get_backend("jax")
    except BackendUnavailable as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    import jax

    configs = QUICK_CONFIGS if args.quick else {k: CONFIGS[k] for k in args.configs.split(",")}
    results: dict[str, Any] = {"meta": {
        "python": platform.python_version(), "numpy": np.__version__, "jax": jax.__version__,
        "symrnn": symrnn.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()), "statistic": "median"}, "configs": {}}
    print(f"load average at start: {os.getloadavg()}; jax {jax.__version__}, {jax.devices()}")
    for name, shape in configs.items():
        repeats = args.repeats or (2 if args.quick else DEFAULT_REPEATS.get(name, 5))
        results["configs"][name] = bench(name, shape, repeats, 0.0 if args.quick else args.pause)
    if args.data_parallel:
        shape = (8, 10, 3, 4) if args.quick else DP_SHAPE
        results["data_parallel"] = data_parallel_scaling(shape, 2 if args.quick else (args.repeats or 10))
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    print(f"\nload average at end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
