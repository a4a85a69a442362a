"""The demo's training steps with one BLAS thread against the BLAS library's own setting, on a quiet machine and
beside busy processes: how ``config.blas_threads`` was chosen.

    python benchmarks/blas_threads.py               # quiet, then with 2 busy processes beside it
    python benchmarks/blas_threads.py --quick       # checks that it runs, measures nothing

Both settings run in one process, interleaved, with the order rotated; each
timed task is a block of training steps of the demo's LSTM (adding problem).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstm import interleaved  # noqa: E402

import symrnn  # noqa: E402
from symrnn import config  # noqa: E402
from symrnn.compile.threads import blas_threads_now  # noqa: E402
from symrnn.demo import TASKS, build_model  # noqa: E402


def _busy(stop: Any) -> None:
    while not stop.is_set():
        pass


def measure(steps: int, repeats: int, sizes: dict[str, int]) -> dict[str, float]:
    task = TASKS[0]
    config.floatX = "float32"  # as the demo trains
    built = build_model(task, "lstm", seed=0)
    rng = np.random.default_rng(0)
    batches = [task.make_batch(rng, sizes["batch"]) for _ in range(steps)]

    def block(threads: Any) -> Any:
        def run() -> None:
            config.blas_threads = threads
            for x, y in batches:
                built["train"](x, y)
        return run

    times = interleaved({"one_thread": block(1), "library_default": block(None)}, repeats, pause=0.05)
    config.blas_threads = 1
    return {k: 1e3 * float(np.median(v)) / steps for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load", type=int, default=2, help="busy processes beside the loaded run")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    steps, repeats = (3, 1) if args.quick else (20, 7)
    report: dict[str, Any] = {"blas_threads_of_the_library": blas_threads_now(), "cpus": os.cpu_count()}
    report["quiet"] = measure(steps, repeats, {"batch": 64})
    stop = multiprocessing.Event()
    busy = [multiprocessing.Process(target=_busy, args=(stop,)) for _ in range(0 if args.quick else args.load)]
    for p in busy:
        p.start()
    time.sleep(0.5 if busy else 0)
    try:
        report["loaded"] = measure(steps, repeats, {"batch": 64})
    finally:
        stop.set()
        for p in busy:
            p.join()
    for key in ("quiet", "loaded"):
        r = report[key]
        r["default_over_one"] = r["library_default"] / r["one_thread"]
        print(f"{key:7s} ms per training step: one BLAS thread {r['one_thread']:.2f}, the library's default "
              f"{r['library_default']:.2f} (x{r['default_over_one']:.2f})")
    print(f"BLAS threads by default: {report['blas_threads_of_the_library']}; symrnn {symrnn.__version__}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
