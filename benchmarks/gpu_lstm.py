"""GPU benchmark: one LSTM training step (forward, loss = mean(h²), the gradient of every weight) on the GPU.

    python benchmarks/gpu_lstm.py [--hidden 512,1024] [--repeats 20] [--numpy-repeats 2] [--json out.json]

Compares, in one process and interleaved, with the same weights and inputs
(B=64, T=100, I=H; float32):

- ``symrnn_cupy``: symrnn's CuPy backend, FAST_RUN rewrites plus elementwise
  fusion (one CUDA kernel per fused group);
- ``symrnn_cupy_unfused``: the same without fusion (one CuPy call per op);
- ``torch_cudnn``: PyTorch ``nn.LSTM`` on the GPU (cuDNN);
- ``symrnn_numpy``: symrnn's NumPy backend on the CPU (fewer repeats: it is slow).

Each GPU timing synchronizes the device before the clock stops.  It prints
milliseconds (median) and the ratio to cuDNN; the issue's target is within 2x
of cuDNN at H=1024.  Without a GPU it says so and exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.compile.backends import BackendUnavailable, get_backend
from symrnn.rewrite import optimize
from symrnn.rewrite.fusion import fuse_elementwise

# the CPU benchmark (benchmarks/lstm.py), for its PyTorch LSTM and training step
_spec = importlib.util.spec_from_file_location("lstm_benchmark", Path(__file__).resolve().parent / "lstm.py")
cpu_benchmark = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(cpu_benchmark)

B, T_STEPS, DTYPE = 64, 100, cpu_benchmark.DTYPE


def lstm_graph(n: int) -> tuple[Any, Any, Any, list[Any]]:
    old = symrnn.config.floatX
    symrnn.config.floatX = DTYPE
    try:
        cell = nn.LSTMCell(n, n, seed=0)
        x = T.tensor3("x")
        outputs, _ = nn.rnn(cell, x)
        loss = T.mean(outputs ** 2)
        grads = symrnn.grad(loss, list(cell.params.values()))
    finally:
        symrnn.config.floatX = old
    return cell, x, loss, grads


def symrnn_step(x: Any, loss: Any, grads: list[Any], backend: str, fuse: bool) -> tuple[Callable[[Any], Any], float]:
    started = time.perf_counter()
    if fuse:  # what FAST_RUN does with fusion in its pipeline; compiled as is
        outputs = fuse_elementwise(optimize([loss, *grads]))
        fn = symrnn.function([x], outputs, mode="FAST_COMPILE", backend=backend)
    else:
        fn = symrnn.function([x], [loss, *grads], backend=backend)
    return fn, time.perf_counter() - started


def torch_step(cell: Any, x_value: np.ndarray) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cudnn.enabled = True
    lstm = cpu_benchmark.torch_lstm(cell, "cuda")
    return cpu_benchmark.torch_train_step(lstm, torch.from_numpy(x_value).cuda(), torch.cuda.synchronize)


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def bench(n: int, repeats: int, numpy_repeats: int) -> dict[str, Any]:
    import cupy

    cell, x, loss, grads = lstm_graph(n)
    x_value = np.random.default_rng(0).normal(size=(T_STEPS, B, n)).astype(DTYPE)
    x_device = cupy.asarray(x_value)
    sync = cupy.cuda.get_current_stream().synchronize
    impls: dict[str, Callable[[], Any]] = {}
    compile_s: dict[str, float] = {}
    losses: dict[str, float] = {}
    for name, fuse in (("symrnn_cupy", True), ("symrnn_cupy_unfused", False)):
        fn, compile_s[name] = symrnn_step(x, loss, grads, "cupy", fuse)
        impls[name] = (lambda fn=fn: (fn(x_device), sync()))
        losses[name] = float(cupy.asnumpy(fn(x_device)[0]))
    train = torch_step(cell, x_value)
    if train is not None:
        impls["torch_cudnn"] = train
        losses["torch_cudnn"] = float(train().item())
    for fn in impls.values():  # warm up: kernels compiled, memory pools filled
        fn(), fn()
    times: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):  # interleaved: drift affects every implementation alike
        for name, fn in impls.items():
            started = time.perf_counter()
            fn()
            times[name].append(1e3 * (time.perf_counter() - started))
    result = {name: statistics.median(ts) for name, ts in times.items()}
    if numpy_repeats > 0:
        fn, compile_s["symrnn_numpy"] = symrnn_step(x, loss, grads, "numpy", True)
        losses["symrnn_numpy"] = float(fn(x_value)[0])
        result["symrnn_numpy"] = median_ms(lambda: fn(x_value), numpy_repeats, warmup=1)
    return {"hidden": n, "ms": result, "compile_s": compile_s, "loss": losses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="512,1024", help="comma-separated I=H sizes")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--numpy-repeats", type=int, default=2, help="0 skips the CPU run")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    try:
        get_backend("cupy")
    except BackendUnavailable as exc:
        print(f"gpu_lstm: no GPU to benchmark on.\n{exc}", file=sys.stderr)
        return 1
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    device = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    print(f"device: {device}; CuPy {cupy.__version__}; B={B}, T={T_STEPS}, {DTYPE}; training step = "
          f"forward + mean(h^2) + all weight gradients")
    results = []
    for n in (int(v) for v in args.hidden.split(",")):
        res = bench(n, args.repeats, args.numpy_repeats)
        results.append(res)
        ref = res["ms"].get("torch_cudnn")
        print(f"\nI=H={n}")
        print(f"  {'implementation':<22} {'ms':>10} {'x cuDNN':>9} {'loss':>12} {'compile s':>10}")
        for name, ms in sorted(res["ms"].items(), key=lambda kv: kv[1]):
            ratio = f"{ms / ref:9.2f}" if ref else f"{'-':>9}"
            comp = res["compile_s"].get(name)
            print(f"  {name:<22} {ms:10.2f} {ratio} {res['loss'][name]:12.6g} "
                  f"{'' if comp is None else f'{comp:10.3f}'}")
        losses = list(res["loss"].values())
        if max(losses) - min(losses) > 1e-3 * max(abs(v) for v in losses):
            print("  WARNING: the implementations disagree on the loss")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
