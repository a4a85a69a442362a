"""Data-parallel training with ``symrnn.distributed`` (issue 18), on simulated CPU devices and processes.

JAX fixes its devices when it starts, so each check runs in a fresh Python
process: ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` gives it four
CPU devices, and two processes joined by ``jax.distributed.initialize`` on the
loopback address share four devices between them (two each), through JAX's
CPU collectives (gloo).  Every data-parallel step is compared with the same
step on one device: the losses and parameters agree up to the order of
floating-point sums (1e-12 relative in float64).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="symrnn.distributed needs JAX: pip install symrnn[jax]")

import symrnn  # noqa: E402
import symrnn.tensor as T  # noqa: E402
from symrnn.distributed import pure_step  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# The training step both checks run: an LSTM over time-major (T, B, I) inputs, its loss, its gradient and SGD.
MODEL = textwrap.dedent("""
    import numpy as np, symrnn, symrnn.tensor as T, symrnn.nn as nn
    from symrnn.distributed import data_parallel

    def train_step():
        nn.reset_default_names()
        cell = nn.LSTMCell(3, 5, seed=0)
        x, y = T.dtensor3("x"), T.dtensor3("y")
        h, _ = nn.rnn(cell, x)
        loss = nn.losses.mse(h, y)
        params = list(cell.params.values())
        f = symrnn.function([x, y], loss, updates=nn.optimizers.sgd(loss, params, 0.1), backend="jax")
        return f, params

    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(6, 8, 3)), rng.normal(size=(6, 8, 5))
""")


def run_python(code: str, env: dict[str, str], timeout: int = 240) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO), **env}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def result_of(proc: subprocess.Popen, timeout: int = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


def test_data_parallel_on_1_2_and_4_devices_gives_the_single_device_step():
    code = MODEL + textwrap.dedent("""
        import jax, json
        f, params = train_step()
        single = [float(f(xs, ys)) for _ in range(3)]
        want = [p.get_value() for p in params]
        report = {"devices": jax.device_count(), "single": single}
        for n in (1, 2, 4):
            f, params = train_step()
            step = data_parallel(f, jax.make_mesh((n,), ("batch",)), batch_axes=1)
            report[f"losses{n}"] = [float(step(xs, ys)) for _ in range(3)]
            report[f"params{n}"] = max(float(np.max(np.abs(p.get_value() - w) / (np.abs(w) + 1e-300)))
                                       for p, w in zip(params, want))
            stored = params[0].get_value(borrow=True, return_internal_type=True)
            report[f"replicated{n}"] = len(stored.sharding.device_set) == n and stored.sharding.is_fully_replicated
        # the gradient's sum over the batch became a sum across devices, which XLA added (not symrnn)
        report["all_reduce"] = "all-reduce" in step.compiled_text(xs, ys)
        try:
            step(xs[:, :6], ys[:, :6])
        except ValueError as exc:
            report["uneven"] = str(exc)
        print(json.dumps(report))
    """)
    report = result_of(run_python(code, {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}))
    assert report["devices"] == 4
    for n in (1, 2, 4):
        np.testing.assert_allclose(report[f"losses{n}"], report["single"], rtol=1e-12)
        assert report[f"params{n}"] < 1e-10, n
        assert report[f"replicated{n}"], n
    assert report["all_reduce"]
    assert "6 rows along its batch axis 1, which 4 devices cannot share evenly" in report["uneven"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_on_loopback_give_the_single_process_step():
    """``jax.distributed.initialize`` with two processes of two CPU devices each, JAX's gloo collectives."""
    port = free_port()
    worker = MODEL + textwrap.dedent("""
        import jax, json, os
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=os.environ["COORDINATOR"], num_processes=2,
                                   process_id=int(os.environ["PROCESS_ID"]))
        f, params = train_step()
        step = data_parallel(f, jax.make_mesh((jax.device_count(),), ("batch",)), batch_axes=1)
        losses = [float(step(xs, ys)) for _ in range(2)]
        print(json.dumps({"devices": jax.device_count(), "processes": jax.process_count(), "losses": losses,
                          "params": [p.get_value().tolist() for p in params]}))
    """)
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "COORDINATOR": f"127.0.0.1:{port}"}
    procs = [run_python(worker, {**env, "PROCESS_ID": str(k)}) for k in range(2)]
    try:
        reports = [result_of(p) for p in procs]
    finally:
        for p in procs:
            p.kill()
    single = result_of(run_python(MODEL + textwrap.dedent("""
        import json
        f, params = train_step()
        losses = [float(f(xs, ys)) for _ in range(2)]
        print(json.dumps({"losses": losses, "params": [p.get_value().tolist() for p in params]}))
    """), {}))
    for report in reports:
        assert report["devices"] == 4 and report["processes"] == 2
        np.testing.assert_allclose(report["losses"], single["losses"], rtol=1e-12)
        for got, want in zip(report["params"], single["params"]):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_pure_step_needs_a_jax_function_and_returns_new_parameters():
    w = symrnn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    with pytest.raises(ValueError, match="backend='jax'"):
        pure_step(symrnn.function([x], (w * x).sum(), updates=[(w, w - x)]))
    step = pure_step(symrnn.function([x], (w * x).sum(), updates=[(w, w - x)], backend="jax"))
    (loss,), (new,) = step([np.ones(2)], step.param_values())
    assert float(loss) == 3.0
    np.testing.assert_array_equal(np.asarray(new), [0.0, 1.0])
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])  # a pure function: the variable is unchanged
