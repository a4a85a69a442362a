"""Per-step cost of the compiled LSTM training step on the default NumPy path, at sizes where Python's
per-call overhead decides (issue 19's "cheap wins"), against the hand-written NumPy version and, when
installed, PyTorch, interleaved in one process with the order rotated.

    python benchmarks/per_step.py [--configs tiny,small] [--repeats N] [--pause S] [--json out.json]

For each config it reports microseconds per time step of one training step (the loss ``mean(h ** 2)`` and
the gradient of every weight, float32), the ratios to the references (median of per-repeat ratios), and
two counts for symrnn's function:

- ``calls``: the Python-level calls that cProfile counts in one training step (one call of the function);
- ``NumPy calls per step``: the NumPy calls (``xp.*`` calls and array operators) in one step of the forward
  loop and one of the backward loop, read from the generated source (after the first step, whose checks and
  first allocations are skipped), and how many of them allocate a new array (no ``out=``).

To compare two versions of symrnn, run this script once with each (``PYTHONPATH=old/tree python
benchmarks/per_step.py``): the reference rows are the same code in both runs, so the ratios compare.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import statistics
import sys
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
import lstm as bench  # noqa: E402  (benchmarks/lstm.py: the same graph, weights and helpers)

CONFIGS = {"tiny": (4, 400, 4, 4), "small": (32, 50, 32, 64)}
REPEATS = {"tiny": 30, "small": 40}


def loop_bodies(source: str) -> list[list[str]]:
    """The lines of each ``for`` loop over a scan's steps in generated ``source`` (indented as they are)."""
    bodies, body, indent = [], None, 0
    for line in source.splitlines():
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if body is not None and depth <= indent and stripped:
            bodies.append(body)
            body = None
        if body is None and re.match(r"for t\d+ in range\(n\d+\):", stripped):
            body, indent = [], depth
        elif body is not None:
            body.append(line[indent + 4:])
    if body is not None:
        bodies.append(body)
    return bodies


_FIRST_ONLY = re.compile(r"if (t\d+ == 0|\w+ is None)\b")  # a block (or a check) that runs on the first step only
_OPERATOR = re.compile(r"^\w+ = [\w.]+ [-+*/] [\w.]+$")  # an array operator: one NumPy call that allocates


def count_xp_calls(body: list[str]) -> tuple[int, int]:
    """``(NumPy calls, of which allocate a new array)`` in one step of a loop ``body``, after the first step."""
    calls = allocating = 0
    skip_deeper = None
    for line in body:
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if skip_deeper is not None and depth > skip_deeper:
            continue
        skip_deeper = None
        if stripped.startswith("#"):
            continue
        if _FIRST_ONLY.match(stripped):
            if stripped.endswith(":"):
                skip_deeper = depth
            continue
        if _OPERATOR.match(stripped):
            calls += 1
            allocating += 1
            continue
        for call in re.finditer(r"xp\.(\w+)[(,]", stripped):  # xp.f(...), or context.run(xp.f, ...)
            if call.group(1) == "shape":
                continue
            calls += 1
            rest = stripped[call.end():]
            allocating += ", out=" not in rest
    return calls, allocating


def profiled_calls(fn, n: int = 5) -> int:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        fn()
    profile.disable()
    return round(pstats.Stats(profile).total_calls / n)


def run_config(name: str, shape: tuple[int, int, int, int], repeats: int, pause: float,
               peers: list[str]) -> dict:
    B, n_steps, n_in, H = shape
    graph = bench.lstm_graph(n_in, H)
    cell = graph[0]
    x_value = np.random.default_rng(0).normal(size=(n_steps, B, n_in)).astype(bench.DTYPE)
    with bench.floatx(bench.DTYPE):
        impls = [bench.make_symrnn("FAST_RUN", graph, x_value)]
    params = {k: v.get_value() for k, v in cell.params.local_items()}
    impls.append(bench.make_numpy(params, x_value))
    if "torch" in peers and bench.available("torch"):
        import torch
        torch.set_num_threads(1)  # like symrnn's default config.blas_threads: the cores are shared
        impls.append(bench.make_torch(cell, x_value))
    tasks = {impl.key: impl.train for impl in impls}
    times = bench.interleaved(tasks, repeats, pause)
    out = {"shape": shape, "us_per_step": {}, "ratio": {}}
    for key, values in times.items():
        out["us_per_step"][key] = statistics.median(values) / n_steps * 1e6
    for ref in [k for k in times if k != "symrnn_fast_run"]:
        out["ratio"][ref] = statistics.median(a / b for a, b in zip(times["symrnn_fast_run"], times[ref]))
    symrnn_impl = impls[0]
    out["calls_per_train_step"] = profiled_calls(symrnn_impl.train)
    out["calls_per_train_step_numpy"] = profiled_calls(impls[1].train)
    import symrnn
    with bench.floatx(bench.DTYPE):
        f = symrnn.function([graph[1]], [graph[2], *graph[3]])
    bodies = loop_bodies(f.source)
    out["xp_calls_per_step"] = [count_xp_calls(b) for b in bodies]  # forward loop, backward loop
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="tiny,small")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--peers", default="torch")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import symrnn
    print(f"symrnn from {Path(symrnn.__file__).parent}")
    results = {}
    for name in args.configs.split(","):
        results[name] = r = run_config(name, CONFIGS[name], args.repeats or REPEATS[name], args.pause,
                                       [p for p in args.peers.split(",") if p])
        print(f"{name} {r['shape']}: us/step " + ", ".join(f"{k} {v:.2f}" for k, v in r["us_per_step"].items())
              + " | symrnn / " + ", ".join(f"{k} {v:.3f}" for k, v in r["ratio"].items())
              + f" | calls {r['calls_per_train_step']} (numpy {r['calls_per_train_step_numpy']})"
              + f" | NumPy calls per (fwd, bwd) step (calls, allocating) {r['xp_calls_per_step']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
