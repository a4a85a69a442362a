"""Peak memory and time of an LSTM-like training step at T=1000: plain scan against scan_checkpoints.

Both run in this process, interleaved, and are reported as ratios against the
plain scan.  Memory is the peak of NumPy allocations during one call
(tracemalloc sees them), after a warm-up call.

    python benchmarks/scan_checkpoints.py [--steps 1000] [--batch 16] [--hidden 64] [--every 32] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

import symrnn
import symrnn.tensor as T
from symrnn.scan.checkpoints import scan_checkpoints


def build(n_in: int, n_hidden: int, every: int | None, rng: np.random.Generator,
          return_all: bool = True) -> symrnn.Function:
    def weights(*shape: int) -> symrnn.graph.SharedVariable:
        return symrnn.shared(rng.normal(scale=0.1, size=shape), name="w")

    W = [weights(n_in, n_hidden) for _ in range(4)]
    U = [weights(n_hidden, n_hidden) for _ in range(4)]
    params = W + U
    x = T.tensor3("x")
    h0, c0 = T.matrix("h0"), T.matrix("c0")

    def step(x_t, h, c, *p):
        w, u = p[:4], p[4:]
        i, f, o = (T.nnet.sigmoid(T.dot(x_t, w[k]) + T.dot(h, u[k])) for k in range(3))
        g = T.tanh(T.dot(x_t, w[3]) + T.dot(h, u[3]))
        c_new = f * c + i * g
        return o * T.tanh(c_new), c_new

    if every is None:
        (hs, _), _ = symrnn.scan(step, sequences=x, outputs_info=[h0, c0], non_sequences=params)
    else:
        hs, _ = scan_checkpoints(step, sequences=x, outputs_info=[h0, c0], non_sequences=params,
                                 save_every_N=every, return_all=return_all)
        hs = hs[0]  # every step's h, or (return_all=False) h at the end of each chunk
    cost = T.mean(hs[-1] ** 2)
    grads = symrnn.grad(cost, params)
    return symrnn.function([x, h0, c0], [cost, *grads])


def measure(fn: symrnn.Function, args: list[np.ndarray], repeats: int) -> tuple[float, int]:
    fn(*args)  # warm-up
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--every", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(args.steps, args.batch, args.inputs)), np.zeros((args.batch, args.hidden)),
              np.zeros((args.batch, args.hidden))]
    plain = build(args.inputs, args.hidden, None, np.random.default_rng(1))
    checkpointed = build(args.inputs, args.hidden, args.every, np.random.default_rng(1))
    chunk_ends = build(args.inputs, args.hidden, args.every, np.random.default_rng(1), return_all=False)
    reference = plain(*inputs)
    for fn in (checkpointed, chunk_ends):
        for a, b in zip(reference, fn(*inputs)):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    results = {}
    for label, fn in [("scan", plain), (f"scan_checkpoints(N={args.every})", checkpointed),
                      ("  ... return_all=False", chunk_ends)]:
        seconds, peak = measure(fn, inputs, args.repeats)
        results[label] = {"ms": seconds * 1e3, "peak_mib": peak / 2**20}
    base = results["scan"]
    print(f"LSTM-like training step, T={args.steps}, B={args.batch}, I={args.inputs}, H={args.hidden} (float64)")
    print(f"{'variant':<28}{'time ms':>10}{'x scan':>8}{'peak MiB':>11}{'x scan':>8}")
    for label, r in results.items():
        print(f"{label:<28}{r['ms']:>10.1f}{r['ms'] / base['ms']:>8.2f}{r['peak_mib']:>11.1f}"
              f"{r['peak_mib'] / base['peak_mib']:>8.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"config": vars(args), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
