"""The ``symrnn`` command, run as a subprocess the way a user runs it."""

import csv
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
    proc = run_cli("demo", "--steps", "30", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return proc, out


def test_demo_prints_the_comparison_table_and_the_output_folder(demo):
    proc, out = demo
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("task") and "test MSE" in line)
    rows = [line.split() for line in lines[header + 1: header + 9]]
    assert [(r[0], r[1]) for r in rows] == [(t, m) for t in ("adding", "sine")
                                            for m in ("rnn", "buggy_lstm", "lstm", "gru")]
    assert str(out) in proc.stdout
    assert "lower than the shared-preactivation LSTM's" in proc.stdout


def test_demo_shows_a_progress_bar(demo):
    proc, _ = demo
    assert "adding/lstm" in proc.stderr or "step" in proc.stderr


def test_demo_writes_results_json_and_csv(demo):
    _, out = demo
    results = json.loads((out / "results.json").read_text())
    runs = results["runs"]
    assert len(runs) == 8 and all(r["steps"] == 30 for r in runs)
    for r in runs:
        assert len(r["curve"]) == 30 and np.isfinite(r["test_loss"]) and r["train_s"] > 0
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["task"], r["model"]) for r in rows] == [(r["task"], r["model"]) for r in runs]
    assert all(float(a["test_loss"]) == pytest.approx(b["test_loss"], rel=1e-5) for a, b in zip(rows, runs))
    source = (out / "lstm_train_step.py").read_text()
    compile(source, "lstm_train_step.py", "exec")
    assert " in range(" in source


def test_demo_plots_when_matplotlib_is_installed(demo):
    pytest.importorskip("matplotlib", reason="the loss-curve plot needs matplotlib (the plot extra)")
    _, out = demo
    assert (out / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_lstm_test_loss_agrees_with_numpy(demo):
    """Recompute the reported test MSE of the adding-task LSTM from its saved parameters with plain NumPy."""
    _, out = demo
    results = json.loads((out / "results.json").read_text())
    reported = next(r["test_loss"] for r in results["runs"] if r["task"] == "adding" and r["model"] == "lstm")
    params = dict(np.load(out / "adding_lstm.npz", allow_pickle=False))
    data = np.load(out / "adding_test.npz", allow_pickle=False)
    x, y = data["x"].astype("float64"), data["y"].astype("float64")
    p = {k[len("cell."):]: v.astype("float64") for k, v in params.items() if k.startswith("cell.")}
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = c = np.zeros((x.shape[1], p["U_i"].shape[0]))
    for x_t in x:
        gate = {g: x_t @ p[f"W_{g}"] + h @ p[f"U_{g}"] + p[f"b_{g}"] for g in "ifoc"}
        c = sigmoid(gate["f"] + 1.0) * c + sigmoid(gate["i"]) * np.tanh(gate["c"])
        h = sigmoid(gate["o"]) * np.tanh(c)
    prediction = h @ params["readout.W"] + params["readout.b"]
    assert reported == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-4)


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


def test_demo_with_an_unwritable_out_folder_says_so_in_one_line(tmp_path):
    """Issue 15, finding 8: a file where the folder should be gave a raw NotADirectoryError traceback."""
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    proc = run_cli("demo", "--steps", "2", "--out", str(blocker / "out"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker / "out") in lines[0] and "cannot write" in lines[0]
