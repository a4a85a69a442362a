"""What ``config.kernels = "numba"`` costs before the first step: compiling the loops' numba functions in a
fresh process with an empty kernel cache ("cold"), and loading them from the cache in a later process
("warm").

    python benchmarks/numba_compile.py [--repeats N] [--json out.json]

Each run is a new Python process that builds the LSTM training step (float32, I=H=4, the loss ``mean(h²)``
and the gradient of every weight), compiles it with ``symrnn.function`` and calls it once.  It reports, per
run: importing numba, ``function()`` and the first call (where numba compiles or loads the kernels), and
for comparison the same first call with the default ``config.kernels = "numpy"``.  Cold and warm runs
alternate with the default (whose place in the order rotates); each cold run gets a cache folder of its
own (``SYMRNN_CACHE_DIR``), which the warm run after it reads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_CHILD = """
import json, sys, time
started = time.perf_counter()
kernels = sys.argv[1]
if kernels == "numba":
    import numba  # noqa: F401
imported = time.perf_counter()
import numpy as np
import symrnn, symrnn.tensor as T
from symrnn import nn
symrnn.config.floatX = "float32"
symrnn.config.kernels = kernels
cell = nn.LSTMCell(4, 4, seed=0)
x = T.tensor3("x")
h, _ = nn.rnn(cell, x)
loss = T.mean(h ** 2)
built = time.perf_counter()
f = symrnn.function([x], [loss, *symrnn.grad(loss, list(cell.params.values()))])
compiled = time.perf_counter()
f(np.ones((400, 4, 4), dtype="float32"))
called = time.perf_counter()
f(np.ones((400, 4, 4), dtype="float32"))
second = time.perf_counter()
print(json.dumps({"import_numba_s": imported - started, "function_s": compiled - built,
                  "first_call_s": called - compiled, "second_call_s": second - called}))
"""


def run(kernels: str, cache: str) -> dict[str, float]:
    env = dict(os.environ, SYMRNN_CACHE_DIR=cache, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _CHILD, kernels], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"numpy": [], "numba cold": [], "numba warm": []}
    with tempfile.TemporaryDirectory() as root:
        for r in range(args.repeats):
            cache = os.path.join(root, f"cache{r}")  # empty: the cold run fills it, the warm run reads it
            order = ["numba cold", "numba warm"]
            order.insert(r % 3, "numpy")  # the reference run moves, the warm run always follows the cold one
            for name in order:
                runs[name].append(run("numpy" if name == "numpy" else "numba", cache))
    summary = {name: {key: statistics.median(run[key] for run in rs) for key in rs[0]} for name, rs in runs.items()}
    print(f"{'':12} {'import numba':>13} {'function()':>11} {'first call':>11} {'second call':>12}  (seconds, "
          f"median of {args.repeats})")
    for name, values in summary.items():
        print(f"{name:12} {values['import_numba_s']:13.3f} {values['function_s']:11.3f} "
              f"{values['first_call_s']:11.3f} {values['second_call_s']:12.4f}")
    results = {"summary": summary, "runs": runs}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
