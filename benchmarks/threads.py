"""Calls of one compiled function from one thread and from several: the cost of thread safety.

A compiled function keeps its loops' buffers between calls.  Each call takes a
free set of buffers from the function's pool and gives it back when it returns,
so that calls running at the same time never share memory.  This measures, in
one process, interleaved with the order rotated:

- one thread: a call through the pool against a call that reuses one fixed set
  of buffers, as every call did before the pool (not thread-safe);
- several threads: the wall time of N calls made by 1, 2 and 4 threads, and
  whether every result equals the serial one.

    python benchmarks/threads.py                 # an LSTM training step, small and tiny sizes
    python benchmarks/threads.py --quick         # checks that it runs, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstm import interleaved  # noqa: E402  (the shared, rotated timing loop)

import symrnn  # noqa: E402
import symrnn.tensor as T  # noqa: E402
from symrnn import nn  # noqa: E402

SIZES = {"tiny": (4, 40, 4, 4), "small": (32, 50, 32, 64)}  # B, T, I, H


def training_step(size: tuple[int, int, int, int]) -> tuple[Any, np.ndarray]:
    batch, steps, n_in, hidden = size
    symrnn.config.floatX = "float32"
    cell = nn.LSTMCell(n_in, hidden, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out ** 2).mean()
    f = symrnn.function([x], [loss, *symrnn.grad(loss, list(cell.params.values()))])
    return f, np.random.default_rng(0).normal(size=(steps, batch, n_in)).astype("float32")


def one_fixed_cache(f: Any) -> Any:
    """A copy of ``f`` whose calls all use one set of buffers, as every call did before the pool (not
    thread-safe); everything else about the call is the same."""
    twin = f.copy()
    cache = twin._generated.buffers.acquire()
    twin._run_compiled = lambda values, shared: twin._generated.fn(*values, *shared, cache)
    return twin


def threaded(f: Any, x: np.ndarray, n_threads: int, calls: int) -> tuple[float, bool]:
    want = f(x)
    results: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads + 1)

    def worker() -> None:
        start.wait()
        for _ in range(calls // n_threads):
            r = f(x)
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    same = all(all(np.array_equal(a, b) for a, b in zip(r, want)) for r in results)
    return seconds, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    report: dict[str, Any] = {"load_average": os.getloadavg(), "sizes": {}}
    for name, size in SIZES.items():
        f, x = training_step(size if not args.quick else (2, 3, 2, 2))
        old = one_fixed_cache(f)
        tasks = {"pool": lambda f=f, x=x: f(x), "fixed": lambda old=old, x=x: old(x)}
        times = interleaved(tasks, repeats, pause=0 if args.quick else 0.01)
        pool_ms, fixed_ms = (1e3 * float(np.median(times[k])) for k in ("pool", "fixed"))
        entry: dict[str, Any] = {"one_thread_ms": {"pool": pool_ms, "fixed_cache": fixed_ms,
                                                    "ratio": pool_ms / fixed_ms}}
        calls = 8 if args.quick else 48
        for n in (1, 2, 4):
            seconds, same = threaded(f, x, n, calls)
            entry[f"{n}_threads"] = {"ms_per_call": 1e3 * seconds / calls, "results_equal_serial": same}
        report["sizes"][name] = entry
        print(f"{name:6s} one thread: pool {pool_ms:.3f} ms, fixed cache {fixed_ms:.3f} ms "
              f"(x{pool_ms / fixed_ms:.3f});  " + ", ".join(
                  f"{n} threads {entry[f'{n}_threads']['ms_per_call']:.3f} ms/call"
                  f"{'' if entry[f'{n}_threads']['results_equal_serial'] else ' WRONG RESULTS'}" for n in (1, 2, 4)))
    print(f"load average: {report['load_average']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
