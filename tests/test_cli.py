"""The ``symrnn`` command, run as a subprocess the way a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import symrnn


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "symrnn.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = run_cli("demo", "--steps", "40", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc, out


def test_demo_prints_progress_and_the_output_folder(demo):
    proc, out = demo
    assert "logistic regression" in proc.stdout
    assert proc.stdout.count("cost") >= 3
    assert str(out) in proc.stdout
    assert "test accuracy" in proc.stdout


def test_demo_writes_results_whose_cost_fell(demo):
    _, out = demo
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["steps"] == 40
    costs = [entry["cost"] for entry in results["history"]]
    assert len(costs) >= 3 and results["history"][-1]["step"] == 40
    assert costs[-1] < 0.7 * costs[0]
    assert costs[0] == pytest.approx(np.log(2), abs=0.05)  # near-zero weights: p = 1/2 for every example
    assert results["final"]["test_accuracy"] > 0.8  # far above chance on the generated data


def test_demo_numbers_agree_with_numpy(demo):
    """Recompute the reported cost and accuracies from the saved weights and data with plain NumPy."""
    _, out = demo
    results = json.loads((out / "results.json").read_text())
    data = np.load(out / "data.npz")
    w, b = np.array(results["params"]["w"]), results["params"]["b"]
    l2 = results["settings"]["l2"]

    def cost_and_accuracy(X, t):
        z = X @ w + b
        xent = t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)
        return xent.mean() + l2 * (w**2).sum(), ((z > 0) == t).mean()

    cost, accuracy = cost_and_accuracy(data["X_train"], data["y_train"])
    assert results["final"]["cost"] == pytest.approx(cost, rel=1e-9)
    assert results["final"]["train_accuracy"] == pytest.approx(accuracy)
    test_cost, test_accuracy = cost_and_accuracy(data["X_test"], data["y_test"])
    assert results["final"]["test_cost"] == pytest.approx(test_cost, rel=1e-9)
    assert results["final"]["test_accuracy"] == pytest.approx(test_accuracy)


def test_demo_saves_the_generated_source(demo):
    _, out = demo
    source = (out / "train_source.py").read_text()
    compile(source, "train_source.py", "exec")  # it is Python
    assert "def " in source and "dot" in source


def test_demo_default_out_is_symrnn_out_in_the_working_directory(tmp_path):
    proc = run_cli("demo", "--steps", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "symrnn-out" / "results.json").is_file()
    assert "symrnn-out" in proc.stdout


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_demo_rejects_a_bad_step_count(bad, tmp_path):
    proc = run_cli("demo", "--steps", bad, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "--steps" in proc.stderr
    assert not os.path.exists(tmp_path / "o")


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"symrnn {symrnn.__version__}"


def test_help_lists_the_demo():
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "demo" in proc.stdout and "usage: symrnn" in proc.stdout


def test_no_command_prints_help_and_fails():
    proc = run_cli()
    assert proc.returncode != 0
    assert "usage: symrnn" in proc.stdout + proc.stderr


def test_unknown_command_fails():
    proc = run_cli("frobnicate")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
