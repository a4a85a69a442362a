"""benchmarks/lstm.py runs end to end in its quick mode and writes the JSON it promises.

Nothing here looks at a time: performance is measured by the benchmark, never asserted by a test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPLS = ("symrnn_fast_run", "symrnn_fast_compile", "numpy")


def test_lstm_benchmark_quick(tmp_path):
    out = tmp_path / "lstm.json"
    # One thread per library: the quick run is a smoke test, and a loaded machine must not make it crawl.
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "lstm.py"), "--quick", "--threads", "1",
                           "--json", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]  # every implementation agreed with the NumPy one
    results = json.loads(out.read_text())
    assert set(results) >= {"meta", "configs", "per_step_overhead_us", "compile"}

    [config] = results["configs"].values()
    assert set(config["shape"]) == {"B", "T", "I", "H"} and config["dtype"] == "float32"
    for workload in ("fwd", "train"):
        for impl in IMPLS:
            entry = config[workload][impl]
            assert entry["ms"] > 0 and entry["ms_min"] > 0 and entry["x_numpy"] > 0
    assert config["train"]["numpy"]["x_numpy"] == 1.0
    for impl in IMPLS[:2]:
        assert config["compile"][impl]["function_s"] > 0
        assert config["compile"][impl]["nodes"] > 0
        assert config["peak_memory"][f"{impl}_x_numpy"] > 0
        assert config["agreement_with_numpy"][impl]["grad_max_rel_err"] < 2e-3
    if importlib.util.find_spec("torch") is not None:
        assert config["train"]["torch"]["x_torch"] == 1.0
        assert config["fwd"]["numpy"]["x_torch"] > 0

    overhead = results["per_step_overhead_us"]
    for workload in ("fwd", "train"):
        assert all(overhead[workload][impl] > 0 for impl in IMPLS)

    for mode in ("fast_run", "fast_compile"):
        compile_times = results["compile"][mode]
        assert compile_times["lstm1_adam"]["function_s"] > 0 and compile_times["lstm4_adam"]["function_s"] > 0
        assert [row["layers"] for row in compile_times["scaling"]] == [1, 2]
        assert compile_times["scaling"][1]["nodes_before_rewrites"] > compile_times["scaling"][0][
            "nodes_before_rewrites"]
    assert "load average" in proc.stdout and "per-step overhead" in proc.stdout


def test_elementwise_backends_benchmark_quick(tmp_path):
    # numexpr and numba are optional: where they are missing, the NumPy candidate still runs and checks itself.
    out = tmp_path / "elementwise.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "elementwise_backends.py"), "--quick",
                           "--skip-compile", "--json", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for size in results["sizes"].values():
        for workload in ("fwd", "bwd"):
            assert size[workload]["numpy"]["us"] > 0


def test_threads_benchmark_quick(tmp_path):
    """benchmarks/threads.py runs, and its threaded calls give the serial results (no timing is checked)."""
    out = tmp_path / "threads.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "threads.py"), "--quick", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for entry in results["sizes"].values():
        assert entry["one_thread_ms"]["pool"] > 0 and entry["one_thread_ms"]["fixed_cache"] > 0
        assert all(entry[f"{n}_threads"]["results_equal_serial"] for n in (1, 2, 4))


def test_blas_threads_benchmark_quick(tmp_path):
    """benchmarks/blas_threads.py runs end to end and reports both settings (no timing is checked)."""
    out = tmp_path / "blas.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "blas_threads.py"), "--quick", "--json",
                           str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    for key in ("quiet", "loaded"):
        assert results[key]["one_thread"] > 0 and results[key]["library_default"] > 0


def test_traversals_benchmark_quick(tmp_path):
    """benchmarks/traversals.py runs, and networkx's walk finds the nodes symrnn's does (no timing is checked)."""
    out = tmp_path / "walks.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "traversals.py"), "--quick", "--json",
                           str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {"lstm_training_graph", "chain"} <= set(json.loads(out.read_text()))


def test_jax_lstm_benchmark_quick(tmp_path):
    """benchmarks/jax_lstm.py runs, its JAX results agree with the NumPy backend's, and its data-parallel steps
    give the single-device parameters (no timing is checked)."""
    pytest.importorskip("jax", reason="the JAX benchmark needs JAX: pip install symrnn[jax]")
    out = tmp_path / "jax.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "jax_lstm.py"), "--quick", "--data-parallel",
                           "--json", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    [config] = results["configs"].values()
    assert {"symrnn_jax", "jax", "symrnn_fast_run"} <= set(config["train"])
    assert config["agreement_with_numpy_backend"]["symrnn_jax"]["grad_max_rel_err"] < 2e-3
    steps = results["data_parallel"]["steps"]
    assert set(steps) == {"1", "2", "4"} and all(entry["param_max_rel_err"] < 1e-5 for entry in steps.values())


def test_per_step_benchmark_counts_the_numpy_calls_of_a_step(tmp_path):
    out = tmp_path / "per_step.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "per_step.py"), "--configs", "tiny",
                           "--repeats", "1", "--peers", "", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tiny = json.loads(out.read_text())["tiny"]
    assert tiny["ratio"]["numpy"] > 0 and tiny["calls_per_train_step"] > 0
    # (NumPy calls, of which allocate) in a forward and a backward step: only the two carried states of
    # the backward step are new arrays (see tests/test_step_buffers.py)
    assert tiny["xp_calls_per_step"] == [[13, 0], [26, 2]]
