"""The elementwise part of one LSTM time step: NumPy ufuncs against numexpr and numba, speed and compile cost.

    python benchmarks/elementwise_backends.py [--sizes tiny,small,medium,large] [--repeats N] [--json out.json]
                                              [--quick] [--threads N] [--pause S] [--batch-ms MS] [--skip-compile]

The work between an LSTM step's matrix products, in float32, C-contiguous,
``(B, H)`` arrays and the gates packed as ``(B, 4H)`` in the order i, f, o, c:

- ``fwd`` (forward step): from the pre-activations ``z`` ``(B, 4H)`` (``x·W +
  h·U + b``, already summed) and ``c_prev``: ``i, f, o = σ(·)``, ``g = tanh(·)``,
  ``c = f*c_prev + i*g``, ``tc = tanh(c)``, ``h = o*tc``; it writes the
  activated gates (into a buffer of their own, so that every call sees the same
  inputs), ``c``, ``tc`` and ``h``;
- ``bwd`` (backward step): from the saved gates, ``tc``, ``c_prev``, ``dh`` and
  ``dc_next``: ``dc = dc_next + dh*o*(1-tc²)``, ``dA_o = dh*tc*o*(1-o)``,
  ``dA_i = dc*g*i*(1-i)``, ``dA_f = dc*c_prev*f*(1-f)``, ``dA_c = dc*i*(1-g²)``,
  ``dc_prev = dc*f``; it writes ``dA`` ``(B, 4H)`` and ``dc_prev``.

Candidates (numexpr and numba are optional: one that is not importable is
skipped, with the reason printed):

- ``numpy``: ufuncs writing into buffers allocated once (``out=``); the
  reference of every ratio;
- ``numexpr_1t``, ``numexpr``: ``numexpr.evaluate(..., out=)``, one call per
  output array, with 1 thread and with ``--threads`` (default: numexpr's own);
- ``numba``, ``numba_fastmath``, ``numba_parallel``: one ``@njit`` kernel per
  workload, one fused loop over the elements (``fastmath=True``;
  ``parallel=True`` with a ``prange`` over the rows, on ``--threads`` threads,
  default numba's own);
- ``numba_libm_tanh`` (``fwd`` only): the serial kernel with ``math.tanh``
  instead of the ``exp`` form of tanh that the other numba kernels use;
- ``numba_hybrid`` (``fwd`` only): NumPy's ``tanh`` for the transcendentals and
  one ``@njit(fastmath=True)`` kernel for the arithmetic between them.

Every candidate's outputs are checked against NumPy's before anything is
timed (a mismatch stops the script).  A repeat times a batch of calls (about
``--batch-ms``) of every candidate, in an order that rotates from repeat to
repeat; the table shows the median µs per call and the median of the
per-repeat ratios to NumPy.  Compile costs: each candidate's first call in
this process, and ``import`` + first calls in fresh processes (numba with and
without ``cache=True``).  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

DTYPE = np.float32
#: name -> (B, H)
SIZES = {"tiny": (1, 8), "small": (32, 64), "medium": (64, 256), "large": (64, 512)}
QUICK_SIZES = {"tiny": (1, 8), "tiny_b4": (4, 16)}
WORKLOADS = ("fwd", "bwd")
#: float32 agreement with the NumPy version (np.allclose)
RTOL, ATOL = 1e-5, 1e-6
#: the size the compile-time probes run at
PROBE_SIZE = (32, 64)
#: float32 constants for the numba kernels (a Python float or int would promote float32 arithmetic to float64)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
#: numba.prange once numba is loaded (the kernels look it up when they are compiled); plain range before that
prange = range


# ---------------------------------------------------------------- inputs and outputs


@dataclass
class Bound:
    """A candidate bound to one workload's inputs and its own output buffers."""

    call: Callable[[], None]
    outputs: dict[str, np.ndarray]


def make_inputs(batch: int, hidden: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Both workloads' inputs; the backward ones are consistent with a forward step (gates in range)."""
    rng = np.random.default_rng(seed)
    f32 = lambda *shape, scale=1.0: (scale * rng.standard_normal(shape)).astype(DTYPE)
    z = f32(batch, 4 * hidden, scale=2.0)
    c_prev = f32(batch, hidden)
    ref = numpy_forward(z, c_prev)
    ref.call()
    return {"z": z, "c_prev": c_prev, "gates": ref.outputs["gates"].copy(), "tc": ref.outputs["tc"].copy(),
            "dh": f32(batch, hidden), "dc_next": f32(batch, hidden)}


def _forward_outputs(batch: int, hidden: int) -> dict[str, np.ndarray]:
    return {"gates": np.empty((batch, 4 * hidden), DTYPE),
            **{k: np.empty((batch, hidden), DTYPE) for k in ("c", "tc", "h")}}


def _backward_outputs(batch: int, hidden: int) -> dict[str, np.ndarray]:
    return {"d_a": np.empty((batch, 4 * hidden), DTYPE), "dc_prev": np.empty((batch, hidden), DTYPE)}


def _split(packed: np.ndarray, hidden: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four gates' column blocks (views) of a packed ``(B, 4H)`` array, in the order i, f, o, c."""
    return packed[:, :hidden], packed[:, hidden:2 * hidden], packed[:, 2 * hidden:3 * hidden], packed[:, 3 * hidden:]


# ---------------------------------------------------------------- NumPy: ufuncs with out=


def numpy_forward(z: np.ndarray, c_prev: np.ndarray) -> Bound:
    """9 ufunc calls; ``σ(x) = 0.5 + 0.5·tanh(x/2)``, so one ``tanh`` over all four gates."""
    batch, hidden = c_prev.shape
    out = _forward_outputs(batch, hidden)
    gates, c, tc, h = out["gates"], out["c"], out["tc"], out["h"]
    tmp = np.empty((batch, hidden), DTYPE)
    scale = np.full(4 * hidden, 0.5, DTYPE)  # x/2 and 0.5·tanh for the sigmoid gates, x for the candidate
    scale[3 * hidden:] = 1.0
    shift = np.full(4 * hidden, 0.5, DTYPE)
    shift[3 * hidden:] = 0.0

    def call() -> None:
        np.multiply(z, scale, out=gates)
        np.tanh(gates, out=gates)
        np.multiply(gates, scale, out=gates)
        np.add(gates, shift, out=gates)
        i, f, o, g = _split(gates, hidden)
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=tmp)
        np.add(c, tmp, out=c)
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)

    return Bound(call, out)


def numpy_backward(gates: np.ndarray, tc: np.ndarray, c_prev: np.ndarray, dh: np.ndarray,
                   dc_next: np.ndarray) -> Bound:
    """18 ufunc calls; the three sigmoid derivatives ``s(1-s)`` in two calls over the packed ``(B, 3H)`` block."""
    batch, hidden = tc.shape
    out = _backward_outputs(batch, hidden)
    d_a, dc_prev = out["d_a"], out["dc_prev"]
    dc = np.empty((batch, hidden), DTYPE)

    def call() -> None:
        i, f, o, g = _split(gates, hidden)
        da_i, da_f, da_o, da_c = _split(d_a, hidden)
        np.multiply(tc, tc, out=dc)
        np.subtract(1, dc, out=dc)
        np.multiply(dc, o, out=dc)
        np.multiply(dc, dh, out=dc)
        np.add(dc, dc_next, out=dc)
        sig, sig_out = gates[:, :3 * hidden], d_a[:, :3 * hidden]
        np.subtract(1, sig, out=sig_out)
        np.multiply(sig_out, sig, out=sig_out)
        np.multiply(da_i, g, out=da_i)
        np.multiply(da_i, dc, out=da_i)
        np.multiply(da_f, c_prev, out=da_f)
        np.multiply(da_f, dc, out=da_f)
        np.multiply(da_o, tc, out=da_o)
        np.multiply(da_o, dh, out=da_o)
        np.multiply(g, g, out=da_c)
        np.subtract(1, da_c, out=da_c)
        np.multiply(da_c, i, out=da_c)
        np.multiply(da_c, dc, out=da_c)
        np.multiply(dc, f, out=dc_prev)

    return Bound(call, out)


# ---------------------------------------------------------------- numexpr: one evaluate per output


def numexpr_binders(ne: ModuleType) -> tuple[Callable[..., Bound], Callable[..., Bound]]:
    """Forward: 4 ``evaluate`` calls; backward: 6.  Constants are integers, because a float literal
    makes numexpr compute in float64; tanh is written with ``exp``, which numexpr evaluates several times
    faster than its ``tanh`` (see the transcendentals table)."""

    def forward(z: np.ndarray, c_prev: np.ndarray) -> Bound:
        batch, hidden = c_prev.shape
        out = _forward_outputs(batch, hidden)
        gates, c, tc, h = out["gates"], out["c"], out["tc"], out["h"]
        # σ(x) = 1/(1 + exp(-x)) and tanh(x) = 2/(1 + exp(-2x)) - 1, as p/(1 + exp(q·x)) - r per column
        p = np.ones(4 * hidden, DTYPE)
        q = -np.ones(4 * hidden, DTYPE)
        r = np.zeros(4 * hidden, DTYPE)
        p[3 * hidden:], q[3 * hidden:], r[3 * hidden:] = 2, -2, 1

        def call() -> None:
            ne.evaluate("p / (1 + exp(q * z)) - r", local_dict={"p": p, "q": q, "r": r, "z": z}, out=gates)
            i, f, o, g = _split(gates, hidden)
            ne.evaluate("f * cp + i * g", local_dict={"f": f, "cp": c_prev, "i": i, "g": g}, out=c)
            ne.evaluate("2 / (1 + exp(-2 * c)) - 1", local_dict={"c": c}, out=tc)
            ne.evaluate("o * tc", local_dict={"o": o, "tc": tc}, out=h)

        return Bound(call, out)

    def backward(gates: np.ndarray, tc: np.ndarray, c_prev: np.ndarray, dh: np.ndarray,
                 dc_next: np.ndarray) -> Bound:
        batch, hidden = tc.shape
        out = _backward_outputs(batch, hidden)
        d_a, dc_prev = out["d_a"], out["dc_prev"]
        dc = np.empty((batch, hidden), DTYPE)

        def call() -> None:
            i, f, o, g = _split(gates, hidden)
            da_i, da_f, da_o, da_c = _split(d_a, hidden)
            ne.evaluate("dcn + dh * o * (1 - tc * tc)", local_dict={"dcn": dc_next, "dh": dh, "o": o, "tc": tc},
                        out=dc)
            ne.evaluate("dc * g * i * (1 - i)", local_dict={"dc": dc, "g": g, "i": i}, out=da_i)
            ne.evaluate("dc * cp * f * (1 - f)", local_dict={"dc": dc, "cp": c_prev, "f": f}, out=da_f)
            ne.evaluate("dh * tc * o * (1 - o)", local_dict={"dh": dh, "tc": tc, "o": o}, out=da_o)
            ne.evaluate("dc * i * (1 - g * g)", local_dict={"dc": dc, "i": i, "g": g}, out=da_c)
            ne.evaluate("dc * f", local_dict={"dc": dc, "f": f}, out=dc_prev)

        return Bound(call, out)

    return forward, backward


# ---------------------------------------------------------------- numba: one fused loop per workload
# Plain Python functions, compiled with numba.njit(...) when numba is importable.  Every constant is a
# float32 global, and tanh(x) is computed as 2/(1 + exp(-2x)) - 1: numba's math.tanh calls the C library's
# tanhf, several times slower per element than expf on this machine (numba_libm_tanh measures it).


def _forward_kernel(z: np.ndarray, c_prev: np.ndarray, gates: np.ndarray, c: np.ndarray, tc: np.ndarray,
                    h: np.ndarray) -> None:
    n_rows, n_hidden = c_prev.shape
    for b in prange(n_rows):
        for j in range(n_hidden):
            i = _ONE / (_ONE + math.exp(-z[b, j]))
            f = _ONE / (_ONE + math.exp(-z[b, n_hidden + j]))
            o = _ONE / (_ONE + math.exp(-z[b, 2 * n_hidden + j]))
            g = _TWO / (_ONE + math.exp(-_TWO * z[b, 3 * n_hidden + j])) - _ONE
            cell = f * c_prev[b, j] + i * g
            t = _TWO / (_ONE + math.exp(-_TWO * cell)) - _ONE
            gates[b, j] = i
            gates[b, n_hidden + j] = f
            gates[b, 2 * n_hidden + j] = o
            gates[b, 3 * n_hidden + j] = g
            c[b, j] = cell
            tc[b, j] = t
            h[b, j] = o * t


def _forward_kernel_libm_tanh(z: np.ndarray, c_prev: np.ndarray, gates: np.ndarray, c: np.ndarray,
                              tc: np.ndarray, h: np.ndarray) -> None:
    n_rows, n_hidden = c_prev.shape
    for b in range(n_rows):
        for j in range(n_hidden):
            i = _ONE / (_ONE + math.exp(-z[b, j]))
            f = _ONE / (_ONE + math.exp(-z[b, n_hidden + j]))
            o = _ONE / (_ONE + math.exp(-z[b, 2 * n_hidden + j]))
            g = math.tanh(z[b, 3 * n_hidden + j])
            cell = f * c_prev[b, j] + i * g
            t = math.tanh(cell)
            gates[b, j] = i
            gates[b, n_hidden + j] = f
            gates[b, 2 * n_hidden + j] = o
            gates[b, 3 * n_hidden + j] = g
            c[b, j] = cell
            tc[b, j] = t
            h[b, j] = o * t


def _backward_kernel(gates: np.ndarray, tc: np.ndarray, c_prev: np.ndarray, dh: np.ndarray,
                     dc_next: np.ndarray, d_a: np.ndarray, dc_prev: np.ndarray) -> None:
    n_rows, n_hidden = tc.shape
    for b in prange(n_rows):
        for j in range(n_hidden):
            i = gates[b, j]
            f = gates[b, n_hidden + j]
            o = gates[b, 2 * n_hidden + j]
            g = gates[b, 3 * n_hidden + j]
            t = tc[b, j]
            d_h = dh[b, j]
            dc = dc_next[b, j] + d_h * o * (_ONE - t * t)
            d_a[b, j] = dc * g * i * (_ONE - i)
            d_a[b, n_hidden + j] = dc * c_prev[b, j] * f * (_ONE - f)
            d_a[b, 2 * n_hidden + j] = d_h * t * o * (_ONE - o)
            d_a[b, 3 * n_hidden + j] = dc * i * (_ONE - g * g)
            dc_prev[b, j] = dc * f


def _hybrid_kernel(gates: np.ndarray, c_prev: np.ndarray, c: np.ndarray) -> None:
    """The arithmetic of the forward step between two ``np.tanh`` calls: ``gates`` holds ``tanh(z/2)`` for the
    sigmoid gates (made ``σ(z) = 0.5 + 0.5·tanh(z/2)`` here) and ``tanh(z)`` for the candidate."""
    n_rows, n_hidden = c_prev.shape
    for b in range(n_rows):
        for j in range(n_hidden):
            i = _HALF + _HALF * gates[b, j]
            f = _HALF + _HALF * gates[b, n_hidden + j]
            gates[b, j] = i
            gates[b, n_hidden + j] = f
            gates[b, 2 * n_hidden + j] = _HALF + _HALF * gates[b, 2 * n_hidden + j]
            c[b, j] = f * c_prev[b, j] + i * gates[b, 3 * n_hidden + j]


def hybrid_forward(kernel: Callable[..., None]) -> Callable[..., Bound]:
    """The forward step with NumPy's SIMD ``tanh`` and the arithmetic fused in one numba kernel: 4 ufunc
    calls and one kernel call, instead of 9 ufunc calls."""

    def forward(z: np.ndarray, c_prev: np.ndarray) -> Bound:
        batch, hidden = c_prev.shape
        out = _forward_outputs(batch, hidden)
        gates, c, tc, h = out["gates"], out["c"], out["tc"], out["h"]
        scale = np.full(4 * hidden, 0.5, DTYPE)
        scale[3 * hidden:] = 1.0

        def call() -> None:
            np.multiply(z, scale, out=gates)
            np.tanh(gates, out=gates)
            kernel(gates, c_prev, c)
            np.tanh(c, out=tc)
            np.multiply(gates[:, 2 * hidden:3 * hidden], tc, out=h)

        return Bound(call, out)

    return forward


def numba_binders(kernel_fwd: Callable[..., None] | None,
                  kernel_bwd: Callable[..., None] | None) -> tuple[Callable[..., Bound] | None, ...]:
    """Binders that call compiled kernels (``None`` for a workload without a kernel)."""

    def forward(z: np.ndarray, c_prev: np.ndarray) -> Bound:
        out = _forward_outputs(*c_prev.shape)
        gates, c, tc, h = out["gates"], out["c"], out["tc"], out["h"]
        return Bound(lambda: kernel_fwd(z, c_prev, gates, c, tc, h), out)

    def backward(gates: np.ndarray, tc: np.ndarray, c_prev: np.ndarray, dh: np.ndarray,
                 dc_next: np.ndarray) -> Bound:
        out = _backward_outputs(*tc.shape)
        d_a, dc_prev = out["d_a"], out["dc_prev"]
        return Bound(lambda: kernel_bwd(gates, tc, c_prev, dh, dc_next, d_a, dc_prev), out)

    return (forward if kernel_fwd else None), (backward if kernel_bwd else None)


# ---------------------------------------------------------------- the candidates


@dataclass
class Candidate:
    key: str
    label: str
    bind: dict[str, Callable[..., Bound]]  # workload -> binder
    prepare: Callable[[], None] = lambda: None  # untimed, before each batch (thread settings)
    same_code_as: str | None = None  # the candidate whose compiled code (kernels, parsed expressions) it reuses


def load(name: str, skipped: dict[str, str]) -> ModuleType | None:
    """The module, or ``None`` with the reason in ``skipped``."""
    try:
        started = time.perf_counter()
        module = __import__(name)
        LOADED_IMPORT_S[name] = time.perf_counter() - started
    except Exception as error:  # ImportError, or a broken installation
        skipped[name] = f"{type(error).__name__}: {error}"
        print(f"  skipping {name}: not importable ({skipped[name]})")
        return None
    if name == "numba":
        globals()["prange"] = module.prange
    return module


LOADED_IMPORT_S: dict[str, float] = {}
#: key -> (label, njit options, forward kernel, backward kernel).  The parallel variant runs on ``--threads``
#: threads (default: numba's own), always the same number in one process: in runs that alternated a 1-thread
#: and a 2-thread variant (and in runs on a busy machine), the 2-thread calls were erratically 10-1000x slower.
NUMBA_VARIANTS: dict[str, tuple[str, dict[str, bool], Callable[..., None], Callable[..., None] | None]] = {
    "numba": ("numba @njit", {}, _forward_kernel, _backward_kernel),
    "numba_fastmath": ("numba @njit(fastmath=True)", {"fastmath": True}, _forward_kernel, _backward_kernel),
    "numba_parallel": ("numba @njit(parallel=True), prange", {"parallel": True}, _forward_kernel,
                       _backward_kernel),
    "numba_libm_tanh": ("numba @njit, math.tanh", {}, _forward_kernel_libm_tanh, None),
}


def build_candidates(threads: int | None, skipped: dict[str, str]) -> list[Candidate]:
    candidates = [Candidate("numpy", "NumPy ufuncs, out=", {"fwd": numpy_forward, "bwd": numpy_backward})]
    ne = load("numexpr", skipped)
    if ne is not None:
        fwd, bwd = numexpr_binders(ne)
        n_threads = threads or ne.get_num_threads()  # the default numexpr chose when it was imported
        candidates.append(Candidate("numexpr_1t", "numexpr.evaluate, 1 thread", {"fwd": fwd, "bwd": bwd},
                                    lambda: ne.set_num_threads(1)))
        if n_threads > 1:
            candidates.append(Candidate("numexpr", f"numexpr.evaluate, {n_threads} threads", {"fwd": fwd, "bwd": bwd},
                                        lambda: ne.set_num_threads(n_threads), same_code_as="numexpr_1t"))
    nb = load("numba", skipped)
    if nb is not None:
        n_threads = threads or nb.config.NUMBA_NUM_THREADS
        nb.set_num_threads(n_threads)
        for key, (label, options, kernel_fwd, kernel_bwd) in NUMBA_VARIANTS.items():
            fwd, bwd = numba_binders(nb.njit(**options)(kernel_fwd),
                                     nb.njit(**options)(kernel_bwd) if kernel_bwd else None)
            if options.get("parallel"):
                label += f", {n_threads} thread{'s' if n_threads > 1 else ''}"
            candidates.append(Candidate(key, label, {w: b for w, b in (("fwd", fwd), ("bwd", bwd)) if b}))
        candidates.append(Candidate("numba_hybrid", "np.tanh + numba @njit(fastmath) arithmetic",
                                    {"fwd": hybrid_forward(nb.njit(fastmath=True)(_hybrid_kernel))}))
    return candidates


def bind_workload(candidate: Candidate, workload: str, inputs: dict[str, np.ndarray]) -> Bound:
    if workload == "fwd":
        return candidate.bind["fwd"](inputs["z"], inputs["c_prev"])
    return candidate.bind["bwd"](inputs["gates"], inputs["tc"], inputs["c_prev"], inputs["dh"], inputs["dc_next"])


def compile_in_process(candidates: list[Candidate]) -> dict[str, Any]:
    """Each candidate's first call per workload in this process (numba: compilation; numexpr: parsing
    the expressions), at PROBE_SIZE, and the second call for comparison.  Numba is warmed up first with an
    unrelated trivial kernel, so that its one-time initialisation is not charged to the first variant."""
    result: dict[str, Any] = {"import_s": dict(LOADED_IMPORT_S)}
    if "numba" in sys.modules:
        nb = sys.modules["numba"]
        started = time.perf_counter()
        nb.njit(lambda x: x + 1)(1.0)
        result["numba_warmup_s"] = time.perf_counter() - started
    inputs = make_inputs(*PROBE_SIZE)
    for cand in candidates:
        if cand.same_code_as:
            continue
        entry: dict[str, float] = {}
        cand.prepare()
        for workload in cand.bind:
            bound = bind_workload(cand, workload, inputs)
            started = time.perf_counter()
            bound.call()
            entry[f"{workload}_first_s"] = time.perf_counter() - started
            started = time.perf_counter()
            bound.call()
            entry[f"{workload}_second_s"] = time.perf_counter() - started
        result[cand.key] = entry
    return result


# ---------------------------------------------------------------- checking and timing


def check(candidates: list[Candidate], workload: str, inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Max abs difference of every candidate's outputs from NumPy's; exits if one is not allclose."""
    reference = bind_workload(candidates[0], workload, inputs)
    reference.call()
    errors: dict[str, float] = {}
    for cand in candidates[1:]:
        if workload not in cand.bind:
            continue
        cand.prepare()
        bound = bind_workload(cand, workload, inputs)
        for name in bound.outputs:
            bound.outputs[name].fill(np.nan)
        bound.call()
        worst = 0.0
        for name, expected in reference.outputs.items():
            got = bound.outputs[name]
            if got.dtype != DTYPE or not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
                raise SystemExit(f"MISMATCH: {cand.key} {workload} output {name!r} differs from NumPy's: dtype "
                                 f"{got.dtype}, max abs diff {np.nanmax(np.abs(got - expected)):.3g}, "
                                 f"NaNs {int(np.isnan(got).sum())} (rtol={RTOL}, atol={ATOL})")
            worst = max(worst, float(np.max(np.abs(got.astype(np.float64) - expected))))
        errors[cand.key] = worst
    return errors


def calibrate(call: Callable[[], None], batch_s: float) -> int:
    """How many calls make a batch of about ``batch_s`` seconds: after a few warm-up calls, ``n`` grows
    until ``n`` calls take a tenth of that, and the fastest of five such runs sets the per-call time (so that
    one slow call, such as a thread pool's start, does not shrink the batches)."""
    for _ in range(3):
        call()
    n = 1
    while True:
        per_call = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(n):
                call()
            per_call.append((time.perf_counter() - started) / n)
        if min(per_call) * n > batch_s / 10 or n >= 1 << 20:
            return max(1, round(batch_s / max(min(per_call), 1e-9)))
        n *= 4


def interleaved(tasks: dict[str, tuple[Callable[[], None], Callable[[], None], int]], repeats: int,
                pause: float) -> dict[str, list[float]]:
    """Seconds per call, one entry per repeat.  Each repeat runs one batch of every task (its ``prepare``
    first, untimed), in an order rotated by one from the previous repeat; the garbage collector is off
    while a batch runs."""
    keys = list(tasks)
    times: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            prepare, call, n_calls = tasks[key]
            prepare()
            if pause:
                time.sleep(pause)
            gc.collect()
            gc.disable()
            try:
                started = time.perf_counter()
                for _ in range(n_calls):
                    call()
                times[key].append((time.perf_counter() - started) / n_calls)
            finally:
                gc.enable()
    return times


def bench_size(name: str, shape: tuple[int, int], candidates: list[Candidate], repeats: int, pause: float,
               batch_s: float) -> dict[str, Any]:
    batch, hidden = shape
    inputs = make_inputs(batch, hidden)
    result: dict[str, Any] = {"shape": {"B": batch, "H": hidden}, "dtype": "float32"}
    tasks = {}
    for workload in WORKLOADS:
        result[workload] = {"max_abs_diff_from_numpy": check(candidates, workload, inputs)}
        for cand in candidates:
            if workload in cand.bind:
                cand.prepare()
                call = bind_workload(cand, workload, inputs).call
                tasks[f"{cand.key}/{workload}"] = (cand.prepare, call, calibrate(call, batch_s))
    times = interleaved(tasks, repeats, pause)
    for key, t in times.items():
        cand_key, workload = key.split("/")
        ref = times[f"numpy/{workload}"]
        result[workload][cand_key] = {"us": 1e6 * statistics.median(t), "us_min": 1e6 * min(t), "repeats": len(t),
                                      "calls_per_batch": tasks[key][2],
                                      "x_numpy": statistics.median(a / b for a, b in zip(t, ref))}
    return result


def transcendentals(repeats: int) -> dict[str, float]:
    """ns per float32 element of tanh and exp over a (64, 2048) array, in each library that is loaded."""
    x = np.random.default_rng(1).standard_normal((64, 2048)).astype(DTYPE)
    y = np.empty_like(x)
    calls: dict[str, Callable[[], None]] = {"numpy tanh": lambda: np.tanh(x, out=y),
                                            "numpy exp": lambda: np.exp(x, out=y)}
    if "numexpr" in sys.modules:
        ne = sys.modules["numexpr"]
        for label, expression in (("tanh", "tanh(x)"), ("exp", "exp(x)"),
                                  ("2/(1+exp(-2x))-1", "2 / (1 + exp(-2 * x)) - 1")):
            calls[f"numexpr {label}, 1 thread"] = lambda e=expression: ne.evaluate(e, local_dict={"x": x}, out=y)
    if "numba" in sys.modules:
        nb = sys.modules["numba"]

        def _tanh_loop(a: np.ndarray, b: np.ndarray) -> None:
            for k in range(a.size):
                b[k] = math.tanh(a[k])

        def _exp_loop(a: np.ndarray, b: np.ndarray) -> None:
            for k in range(a.size):
                b[k] = math.exp(a[k])

        def _tanh_exp_loop(a: np.ndarray, b: np.ndarray) -> None:
            for k in range(a.size):
                b[k] = _TWO / (_ONE + math.exp(-_TWO * a[k])) - _ONE

        for label, fn in (("numba math.tanh", _tanh_loop), ("numba math.exp", _exp_loop),
                          ("numba 2/(1+exp(-2x))-1", _tanh_exp_loop)):
            kernel = nb.njit(fn)
            calls[label] = lambda k=kernel: k(x.reshape(-1), y.reshape(-1))
    out = {}
    if "numexpr" in sys.modules:
        sys.modules["numexpr"].set_num_threads(1)
    for label, call in calls.items():
        call()
        best = min(_time_once(call) for _ in range(max(3, repeats)))
        out[label] = 1e9 * best / x.size
    return out


def _time_once(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# ---------------------------------------------------------------- compile cost in fresh processes


PROBE_KINDS = ("numexpr", "numba", "numba_fastmath", "numba_parallel", "numba_cache")


def probe(kind: str) -> dict[str, float]:
    """Run in a fresh process: the import; for numba, its one-time initialisation (the first call of a trivial
    kernel), except with the cache, where a compilation would be out of place and whatever initialisation
    loading needs is part of the first call; then the first and second call of each workload."""
    started = time.perf_counter()
    module = __import__("numexpr" if kind == "numexpr" else "numba")
    out = {"import_s": time.perf_counter() - started, "init_s": 0.0}
    if kind == "numexpr":
        binders = numexpr_binders(module)
    else:
        if kind != "numba_cache":
            out["init_s"] = _time_once(lambda: module.njit(lambda v: v + 1)(1.0))
        globals()["prange"] = module.prange
        options = {"numba": {}, "numba_fastmath": {"fastmath": True}, "numba_parallel": {"parallel": True},
                   "numba_cache": {"cache": True}}[kind]
        binders = numba_binders(module.njit(**options)(_forward_kernel), module.njit(**options)(_backward_kernel))
    inputs = make_inputs(*PROBE_SIZE)
    for workload, binder in zip(WORKLOADS, binders):
        bound = binder(inputs["z"], inputs["c_prev"]) if workload == "fwd" else binder(
            inputs["gates"], inputs["tc"], inputs["c_prev"], inputs["dh"], inputs["dc_next"])
        out[f"{workload}_first_s"] = _time_once(bound.call)
        out[f"{workload}_second_s"] = _time_once(bound.call)
    out["total_s"] = out["import_s"] + out["init_s"] + out["fwd_first_s"] + out["bwd_first_s"]
    return out


def run_probe(kind: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", kind], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"probe {kind} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_fresh(available: set[str], runs: int) -> dict[str, Any]:
    """Median over ``runs`` fresh processes of each probe; ``numba_cache`` runs twice per cache directory:
    ``numba_cache_cold`` compiles and writes the cache, ``numba_cache_warm`` is the next process, which loads it."""
    samples: dict[str, list[dict[str, float]]] = {}
    for _ in range(runs):
        for kind in PROBE_KINDS:
            if ("numexpr" if kind == "numexpr" else "numba") not in available:
                continue
            if kind == "numba_cache":
                with tempfile.TemporaryDirectory() as cache_dir:
                    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
                    samples.setdefault("numba_cache_cold", []).append(run_probe(kind, env))
                    samples.setdefault("numba_cache_warm", []).append(run_probe(kind, env))
            else:
                samples.setdefault(kind, []).append(run_probe(kind, dict(os.environ)))
    return {kind: {k: statistics.median(s[k] for s in runs_) for k in runs_[0]} | {"runs": len(runs_)}
            for kind, runs_ in samples.items()}


# ---------------------------------------------------------------- output


def print_size(name: str, result: dict[str, Any], labels: dict[str, str]) -> None:
    shape = result["shape"]
    for workload in WORKLOADS:
        title = "forward step" if workload == "fwd" else "backward step"
        print(f"\n== {name}: B={shape['B']}, H={shape['H']} (float32), {title}")
        print(f"   {'candidate':<48}{'µs/call':>10}{'x numpy':>9}{'min µs':>9}{'calls/batch':>13}"
              f"{'max |diff|':>12}")
        diffs = result[workload]["max_abs_diff_from_numpy"]
        for key, label in labels.items():
            entry = result[workload].get(key)
            if entry is None:
                continue
            diff = f"{diffs[key]:.1e}" if key in diffs else "-"
            print(f"   {label:<48}{entry['us']:>10.2f}{entry['x_numpy']:>9.2f}{entry['us_min']:>9.2f}"
                  f"{entry['calls_per_batch']:>13}{diff:>12}")


def print_compile(in_process: dict[str, Any], fresh: dict[str, Any] | None, labels: dict[str, str]) -> None:
    print(f"\n== compile cost (first calls at B={PROBE_SIZE[0]}, H={PROBE_SIZE[1]})")
    imports = ", ".join(f"{k} {1e3 * v:.0f} ms" for k, v in in_process["import_s"].items())
    print(f"   in this process: import {imports or '-'}"
          + (f"; numba's first (trivial) kernel {1e3 * in_process['numba_warmup_s']:.0f} ms"
             if "numba_warmup_s" in in_process else ""))
    print(f"   {'candidate':<48}{'fwd 1st ms':>11}{'fwd 2nd ms':>11}{'bwd 1st ms':>11}{'bwd 2nd ms':>11}")
    for key, label in labels.items():
        if key not in in_process:
            continue
        entry = in_process[key]
        cells = [f"{1e3 * entry[k]:>11.3f}" if k in entry else f"{'-':>11}"
                 for k in ("fwd_first_s", "fwd_second_s", "bwd_first_s", "bwd_second_s")]
        print(f"   {label:<48}{''.join(cells)}")
    if fresh:
        print("   fresh processes (median of runs): import + numba's initialisation + first fwd and bwd calls")
        print(f"   {'probe':<48}{'import ms':>11}{'init ms':>11}{'fwd 1st ms':>11}{'bwd 1st ms':>11}"
              f"{'total ms':>11}")
        for kind, entry in fresh.items():
            print(f"   {kind:<48}" + "".join(f"{1e3 * entry[k]:>11.1f}" for k in
                                             ("import_s", "init_s", "fwd_first_s", "bwd_first_s", "total_s")))


def meta(args: argparse.Namespace, skipped: dict[str, str]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "threads": args.threads, "repeats": args.repeats, "pause_s": args.pause,
        "batch_ms": args.batch_ms, "quick": args.quick, "statistic": "median", "rtol": RTOL, "atol": ATOL,
        "loadavg_start": list(os.getloadavg()), "skipped": skipped,
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    if "numexpr" in sys.modules:
        ne = sys.modules["numexpr"]
        info.update(numexpr=ne.__version__, numexpr_use_vml=bool(ne.use_vml),
                    numexpr_threads_at_start=ne.get_num_threads())  # no candidate has set them yet
    if "numba" in sys.modules:
        nb = sys.modules["numba"]
        info.update(numba=nb.__version__, numba_svml=bool(nb.config.USING_SVML),
                    numba_num_threads=nb.config.NUMBA_NUM_THREADS)
    return info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help=f"comma-separated, from {', '.join(SIZES)} (default: all)")
    parser.add_argument("--repeats", type=int, help="timed batches per candidate and workload (default 21, "
                        "3 with --quick)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, few short repeats, one compile probe each: checks that it runs")
    parser.add_argument("--threads", type=int, help="threads of the multithreaded candidates (numexpr, "
                        "numba parallel; default: the libraries' own)")
    parser.add_argument("--pause", type=float, help="seconds of sleep before each timed batch (default 0.01, "
                        "0 with --quick)")
    parser.add_argument("--batch-ms", type=float, help="length of a timed batch of calls (default 5, 0.5 with "
                        "--quick)")
    parser.add_argument("--skip-compile", action="store_true", help="leave out the fresh-process compile probes")
    parser.add_argument("--probe", choices=PROBE_KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return {}

    if args.threads is not None:  # read by numexpr and numba when they are imported, below
        os.environ["NUMEXPR_MAX_THREADS"] = str(max(args.threads, int(os.environ.get("NUMEXPR_MAX_THREADS", 0))))
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    if args.sizes:
        unknown = [s for s in args.sizes.split(",") if s not in SIZES and s not in QUICK_SIZES]
        if unknown:
            parser.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")
        sizes = {s: SIZES.get(s) or QUICK_SIZES[s] for s in args.sizes.split(",")}
    else:
        sizes = dict(QUICK_SIZES if args.quick else SIZES)
    args.repeats = args.repeats or (3 if args.quick else 21)
    args.pause = (0.0 if args.quick else 0.01) if args.pause is None else args.pause
    args.batch_ms = args.batch_ms or (0.5 if args.quick else 5.0)

    skipped: dict[str, str] = {}
    candidates = build_candidates(args.threads, skipped)
    labels = {c.key: c.label for c in candidates}
    results: dict[str, Any] = {"meta": meta(args, skipped), "labels": labels, "sizes": {}}
    in_process = compile_in_process(candidates)
    for name, shape in sizes.items():
        results["sizes"][name] = bench_size(name, shape, candidates, args.repeats, args.pause, args.batch_ms / 1e3)
        print_size(name, results["sizes"][name], labels)
    fresh = None if args.skip_compile else compile_fresh(set(sys.modules) & {"numexpr", "numba"},
                                                         1 if args.quick else 3)
    results["compile"] = {"in_process": in_process, "fresh_process": fresh}
    print_compile(in_process, fresh, labels)
    results["transcendentals_ns_per_element"] = trans = transcendentals(3 if args.quick else 10)
    print("\n== tanh and exp, ns per float32 element over a (64, 2048) array (best of repeats)")
    for label, ns in trans.items():
        print(f"   {label:<48}{ns:>8.2f}")
    if "numba" in sys.modules:
        results["meta"]["numba_threading_layer"] = sys.modules["numba"].threading_layer()
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    print(f"\nload average: {results['meta']['loadavg_start'][0]:.2f} at the start, "
          f"{results['meta']['loadavg_end'][0]:.2f} at the end, on {os.cpu_count()} CPUs")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
