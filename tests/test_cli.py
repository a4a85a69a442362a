"""The ``symrnn`` command, run as a subprocess the way a user runs it."""

import csv
import importlib.util
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


def test_demo_writes_no_progress_bar_into_a_pipe_or_log_file(demo):
    """Issue 16: the hand-written fallback bar wrote carriage returns even into a log file."""
    proc, _ = demo
    assert "\r" not in proc.stderr and "\r" not in proc.stdout


def test_the_progress_bar_is_tqdm_on_a_terminal():
    import io

    from symrnn.demo import progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = progress_bar(20, screen)
    bar.set_description("adding/lstm")
    bar.update(10)
    bar.refresh()  # tqdm redraws at most every 0.1 s by itself
    bar.close()
    assert "adding/lstm" in screen.getvalue() and "10/20" in screen.getvalue()
    quiet = Terminal()
    bar = progress_bar(20, quiet, enabled=False)
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == ""


def test_the_demo_table_says_which_lstm_did_better_either_way():
    """Issue 16: after a short run the correct LSTM was worse, and the demo still said '1.0x lower'."""
    import io

    from symrnn.demo import _print_table

    def table(lstm, buggy):
        runs = [{"task": "adding", "model": m, "n_params": 1, "test_loss": loss, "baseline": 0.17, "compile_s": 0.1,
                 "train_s": 1.0} for m, loss in (("lstm", lstm), ("buggy_lstm", buggy))]
        stream = io.StringIO()
        _print_table({"runs": runs}, stream)
        return stream.getvalue()

    assert "4.0x lower than" in table(0.002, 0.008)
    assert "1.5x higher than" in table(0.03, 0.02)
    assert "about the same as" in table(0.1, 0.101)


def test_plotting_leaves_the_matplotlib_backend_alone(tmp_path):
    """Issue 16: the demo called matplotlib.use("Agg") inside the library, changing a notebook's backend."""
    matplotlib = pytest.importorskip("matplotlib", reason="the plots need the optional matplotlib")
    from symrnn.demo import _plot

    before = matplotlib.get_backend()
    runs = [{"task": "adding", "model": "lstm", "curve": list(np.linspace(1, 0.1, 50))}]
    assert _plot(str(tmp_path), {"tasks": {"adding": "adding problem"}, "runs": runs})
    assert (tmp_path / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == before


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


def test_demo_exports_the_trained_lstm_step_as_a_numpy_module(demo):
    """lstm_train_step.py (Function.export) holds the trained parameters, in lstm_train_step.npz beside it, and
    computes the reported test MSE of the adding-task LSTM: its loss before the update it applies."""
    proc, out = demo
    assert "lstm_train_step.py and .npz" in proc.stdout
    spec = importlib.util.spec_from_file_location("demo_lstm_train_step", out / "lstm_train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = dict(np.load(out / "adding_lstm.npz", allow_pickle=False))
    assert set(saved) <= set(module.params)
    for name, value in saved.items():
        np.testing.assert_array_equal(module.params[name], value)
    results = json.loads((out / "results.json").read_text())
    reported = next(r["test_loss"] for r in results["runs"] if r["task"] == "adding" and r["model"] == "lstm")
    data = np.load(out / "adding_test.npz", allow_pickle=False)
    loss = module.train_lstm(data["x"], y=data["y"])
    assert loss.dtype == np.float32 and float(loss) == pytest.approx(reported, rel=1e-5)
    assert not np.array_equal(module.params["lstm/W_i"], saved["lstm/W_i"])  # the call applied Adam's update


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
    p = {k[len("lstm/"):]: v.astype("float64") for k, v in params.items() if k.startswith("lstm/")}
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h = c = np.zeros((x.shape[1], p["U_i"].shape[0]))
    for x_t in x:
        gate = {g: x_t @ p[f"W_{g}"] + h @ p[f"U_{g}"] + p[f"b_{g}"] for g in "ifoc"}
        c = sigmoid(gate["f"] + 1.0) * c + sigmoid(gate["i"]) * np.tanh(gate["c"])
        h = sigmoid(gate["o"]) * np.tanh(c)
    prediction = h @ params["lstm_readout/W"] + params["lstm_readout/b"]
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
