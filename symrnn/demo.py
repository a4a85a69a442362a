"""``symrnn demo``: train an RNN, the articles' buggy LSTM, a correct LSTM and a GRU on two tasks, and compare.

Tasks (time-major batches generated on the fly, float32):

- **adding** (a long-dependency task): each step carries a random value and a
  marker; two steps are marked, and the target at the end is the sum of their
  values.  Predicting the mean gives an MSE of about 0.167.
- **sine** (sequence prediction): noisy sine waves with a random frequency per
  sequence; predict the next value at every step.

Each model is a cell from :mod:`symrnn.nn` plus a ``Dense`` read-out, trained
with Adam.  The results go to an output folder: ``results.json``,
``results.csv``, each model's parameters (``.npz``), the test data, the
correct LSTM's training step on the adding problem as a module that runs with
NumPy alone (``lstm_train_step.py`` and its trained parameters,
``lstm_train_step.npz``: see :meth:`symrnn.Function.export`), and, when
matplotlib is installed, ``loss_curves.png`` (each task's training curves and
its baseline) and ``gradient_flow.png`` (how much gradient reaches each step of
an adding-problem sequence, for the models at initialization and trained).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz
from symrnn.files import atomic_write
from symrnn.nn.article import SharedPreactLSTMCell
from symrnn.nn.io import save_params
from symrnn.nn.optimizers import adam

MODELS = ("rnn", "buggy_lstm", "lstm", "gru")
HIDDEN = 32
BATCH = 32


@dataclass
class Task:
    name: str
    description: str
    steps: int
    make_batch: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]
    last_step_only: bool  # the loss is on the final step (adding) or on every step after a warm-up (sine)
    warmup: int = 0


def adding_batch(rng: np.random.Generator, batch: int, length: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: ``x`` ``(T, B, 2)`` (value, marker) and the target ``(B, 1)``.

    Example::

        >>> x, y = adding_batch(np.random.default_rng(0), 4)
        >>> x.shape, y.shape, x[:, :, 1].sum(axis=0).tolist()
        ((30, 4, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
    """
    x = np.zeros((length, batch, 2), dtype="float32")
    x[:, :, 0] = rng.uniform(0, 1, (length, batch))
    first = rng.integers(0, length // 2, batch)
    second = rng.integers(length // 2, length, batch)
    columns = np.arange(batch)
    x[first, columns, 1] = 1.0
    x[second, columns, 1] = 1.0
    y = x[first, columns, 0] + x[second, columns, 0]
    return x, y[:, None].astype("float32")


def sine_batch(rng: np.random.Generator, batch: int, length: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine waves: inputs ``(T, B, 1)`` and the next value at each step ``(T, B, 1)``.

    Example::

        >>> x, y = sine_batch(np.random.default_rng(0), 3)
        >>> x.shape == y.shape == (40, 3, 1), bool(np.allclose(x[1:], y[:-1]))
        (True, True)
    """
    t = np.arange(length + 1)[:, None]
    omega = rng.uniform(0.1, 0.5, batch)
    phase = rng.uniform(0, 2 * np.pi, batch)
    wave = np.sin(omega * t + phase) + 0.05 * rng.normal(size=(length + 1, batch))
    wave = wave.astype("float32")[:, :, None]
    return wave[:-1], wave[1:]


TASKS = (
    Task("adding", "adding problem, T=30: the sum of two marked values", 600, adding_batch, True),
    Task("sine", "noisy sine waves, T=40: predict the next value", 300, sine_batch, False, warmup=5),
)


def make_cell(model: str, n_in: int, seed: int, dtype: str = "float32") -> Any:
    """The cell for a model name: ``rnn``, ``buggy_lstm`` (the articles' bug), ``lstm`` or ``gru``."""
    makers = {"rnn": nn.RNNCell, "buggy_lstm": SharedPreactLSTMCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
    if model not in makers:
        raise ValueError(f"unknown model {model!r}; choose one of {sorted(makers)}")
    return makers[model](n_in, HIDDEN, seed=seed, name=model, dtype=dtype)


def build_model(task: Task, model: str, seed: int, learning_rate: float = 0.01) -> dict[str, Any]:
    """Define, differentiate and compile one model: ``train(x, y) -> loss`` (with Adam updates) and ``loss``."""
    x_probe, y_probe = task.make_batch(np.random.default_rng(0), 1)
    cell = make_cell(model, x_probe.shape[2], seed)
    readout = nn.Dense(HIDDEN, y_probe.shape[-1], seed=seed + 1, name=f"{model}_readout", dtype="float32")
    x = T.tensor3("x", dtype="float32")
    y = T.tensor("float32", (None,) * y_probe.ndim, name="y")
    outputs, _ = nn.rnn(cell, x)
    if task.last_step_only:
        loss = nn.losses.mse(readout(outputs[-1]), y)
    else:
        loss = nn.losses.mse(readout(outputs)[task.warmup:], y[task.warmup:])
    params = nn.params(cell, readout)  # by full name: lstm/W_i ... lstm_readout/b
    started = time.perf_counter()
    train = symrnn.function([x, y], loss, updates=adam(loss, list(params.values()), learning_rate=learning_rate),
                            name=f"train_{model}")
    evaluate = symrnn.function([x, y], loss, name=f"loss_{model}")
    return {"train": train, "loss": evaluate, "params": params, "cell": cell,
            "compile_s": time.perf_counter() - started}


def progress_bar(total: int, stream: TextIO, enabled: bool = True) -> tqdm:
    """tqdm's progress bar on ``stream``; off when ``enabled`` is false or ``stream`` is not a terminal (a log
    file gets no carriage returns)."""
    return tqdm(total=total, file=stream, unit="step", leave=False, disable=None if enabled else True)


def run_demo(out: str = "symrnn-out", steps: int | None = None, seed: int = 0, models: tuple[str, ...] = MODELS,
             progress: bool = True, stream: TextIO | None = None) -> dict[str, Any]:
    """Train every model on every task, print a comparison table and write the artifacts to ``out``.

    ``steps`` overrides each task's number of training steps (for a quick run).
    Returns the results written to ``results.json``.

    Example::

        >>> import io, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     r = run_demo(out=d, steps=2, models=("lstm",), progress=False, stream=io.StringIO())
        >>> sorted(r["runs"][0])[:4]
        ['baseline', 'compile_s', 'curve', 'model']
    """
    stream = stream or sys.stdout
    os.makedirs(out, exist_ok=True)
    old_floatx = symrnn.config.floatX
    symrnn.config.floatX = "float32"
    runs: list[dict[str, Any]] = []
    extras: list[str] = []
    trained: dict[str, Any] = {}  # the first task's trained cells, for the gradient-flow plot
    total = sum((steps or task.steps) for task in TASKS) * len(models)
    print(f"symrnn demo: {len(models)} models x {len(TASKS)} tasks, {total} training steps in all", file=stream)
    bar = progress_bar(total, sys.stderr if stream is sys.stdout else stream, enabled=progress)
    try:
        for task in TASKS:
            n_steps = steps or task.steps
            test_x, test_y = task.make_batch(np.random.default_rng(10_000 + seed), 512)
            with atomic_write(os.path.join(out, f"{task.name}_test.npz")) as handle:
                np.savez(handle, x=test_x, y=test_y)
            baseline = _baseline(task, test_x, test_y)
            for model in models:
                built = build_model(task, model, seed)
                rng = np.random.default_rng(seed)
                curve = []
                started = time.perf_counter()
                for step in range(n_steps):
                    loss = float(built["train"](*task.make_batch(rng, BATCH)))
                    curve.append(loss)
                    if step % 10 == 9 or step == n_steps - 1:
                        bar.set_description(f"{task.name}/{model}")
                        bar.update(10 if step % 10 == 9 else (step % 10) + 1)
                train_s = time.perf_counter() - started
                test_loss = float(built["loss"](test_x, test_y))
                save_params(os.path.join(out, f"{task.name}_{model}.npz"), built["params"])
                if task is TASKS[0]:
                    trained[model] = built["cell"]
                if model == "lstm" and task is TASKS[0]:  # what the compiler made of one training step
                    # a module that runs with NumPy alone, and its trained parameters beside it (.npz)
                    built["train"].export(os.path.join(out, "lstm_train_step.py"))
                    extras += _pictures(out, built, stream)
                runs.append({"task": task.name, "model": model, "test_loss": test_loss, "baseline": baseline,
                             "steps": n_steps, "train_s": train_s, "compile_s": built["compile_s"],
                             "n_params": int(sum(v.get_value().size for v in built["params"].values())),
                             "curve": curve})
        extras += _gradient_flow_plot(out, TASKS[0], trained, seed)
    finally:
        bar.close()
        symrnn.config.floatX = old_floatx
    results = {"symrnn": symrnn.__version__, "seed": seed, "hidden": HIDDEN, "batch": BATCH,
               "tasks": {t.name: t.description for t in TASKS}, "runs": runs}
    _write(out, results)
    _print_table(results, stream)
    plot = _plot(out, results)
    extras += ["loss_curves.png"] if plot else []
    print(f"\nartifacts written to {os.path.abspath(out)}/ (results.json, results.csv, parameters, test data, "
          f"lstm_train_step.py and .npz{''.join(', ' + e for e in extras)})", file=stream)
    return results


def _pictures(out: str, built: dict[str, Any], stream: TextIO) -> list[str]:
    """The LSTM training step as two graphs: ``lstm_graph_overview.svg``, one box per name scope or loop, as
    built and compiled side by side; ``lstm_graph.svg``, the compiled step in detail (loops collapsed, shape
    plumbing folded into the edges, name scopes as clusters, within a page: zoom in to read it)."""
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        paths = [viz.render(built["train"], os.path.join(out, "lstm_graph_overview.svg"), which="both",
                            overview=True, title="the LSTM's training step: an overview", on_missing_dot="warn"),
                 viz.render(built["train"], os.path.join(out, "lstm_graph.svg"), collapse="cells", rankdir="LR",
                            cluster_scopes=True, max_nodes=None, title="the LSTM's training step, compiled",
                            on_missing_dot="warn")]
    written += [os.path.basename(path) for path in paths]
    if not all(path.endswith(".svg") for path in paths):
        print("  (Graphviz's dot is not installed: wrote the graphs as DOT source; apt-get install graphviz)",
              file=stream)
    return written


def _gradient_flow_plot(out: str, task: Task, trained: dict[str, Any], seed: int) -> list[str]:
    """``gradient_flow.png``: ``||dL/dh_t||`` at each step of the task's sequences, ``L`` the sum of the last
    hidden state, for each model at its initialization (the same seed) and after training, side by side."""
    if not trained:
        return []
    x, _ = task.make_batch(np.random.default_rng(seed), 16)
    untrained = {model: make_cell(model, x.shape[2], seed) for model in trained}  # the trained ones' start
    flows = [*viz.gradient_flow(untrained, inputs=x, trained=False).values(),
             *viz.gradient_flow(trained, inputs=x, trained=True).values()]
    title = f"Gradient reaching each step from the last hidden state, on {task.name}-task sequences (T={len(x)})"
    try:
        viz.plot_gradient_flow(flows, os.path.join(out, "gradient_flow.png"), title=title)
    except ImportError:  # matplotlib is an optional extra
        return []
    return ["gradient_flow.png"]


def _baseline(task: Task, x: np.ndarray, y: np.ndarray) -> float:
    """The MSE of a trivial predictor: the mean (adding), or the last value seen (sine)."""
    if task.last_step_only:
        return float(np.mean((y - 1.0) ** 2))
    return float(np.mean((x[task.warmup:] - y[task.warmup:]) ** 2))


def _write(out: str, results: dict[str, Any]) -> None:
    with atomic_write(os.path.join(out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    with atomic_write(os.path.join(out, "results.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "model", "test_loss", "baseline", "steps", "train_s", "compile_s", "n_params"])
        for r in results["runs"]:
            writer.writerow([r["task"], r["model"], f"{r['test_loss']:.6g}", f"{r['baseline']:.6g}", r["steps"],
                             f"{r['train_s']:.3f}", f"{r['compile_s']:.3f}", r["n_params"]])


def _print_table(results: dict[str, Any], stream: TextIO) -> None:
    print(f"\n{'task':<8}{'model':<12}{'params':>8}{'test MSE':>12}{'baseline':>10}{'compile s':>11}"
          f"{'train s':>9}", file=stream)
    for r in results["runs"]:
        print(f"{r['task']:<8}{r['model']:<12}{r['n_params']:>8}{r['test_loss']:>12.5f}{r['baseline']:>10.4f}"
              f"{r['compile_s']:>11.3f}{r['train_s']:>9.2f}", file=stream)
    by_task: dict[str, dict[str, float]] = {}
    for r in results["runs"]:
        by_task.setdefault(r["task"], {})[r["model"]] = r["test_loss"]
    for task, losses in by_task.items():
        if {"lstm", "buggy_lstm"} <= set(losses):
            print(f"{task}: {_compare('the correct LSTM', losses['lstm'], losses['buggy_lstm'])} the "
                  f"shared-preactivation LSTM's", file=stream)


def _compare(what: str, mine: float, theirs: float) -> str:
    """``what``'s test MSE against another's, in words that hold either way (a short run may favour either).

    Example::

        >>> _compare("the correct LSTM", 0.002, 0.008), _compare("the correct LSTM", 0.03, 0.02)
        ("the correct LSTM's test MSE is 4.0x lower than", "the correct LSTM's test MSE is 1.5x higher than")
    """
    ratio = theirs / max(mine, 1e-12)
    if ratio >= 1.05:
        return f"{what}'s test MSE is {ratio:.1f}x lower than"
    if ratio <= 1 / 1.05:
        return f"{what}'s test MSE is {1 / ratio:.1f}x higher than"
    return f"{what}'s test MSE is about the same as"


#: What each task's baseline predicts (``_baseline``), for the loss-curve legend.
BASELINES = {"adding": "always predict the mean, 1.0", "sine": "repeat the last value"}


def loss_curve_figure(results: dict[str, Any]) -> Any:
    """A matplotlib ``Figure`` (no pyplot) of each task's smoothed training curves, one panel per task, with the
    task's baseline MSE as a dashed horizontal line in the legend."""
    from matplotlib.figure import Figure

    tasks = list(results["tasks"])
    fig = Figure(figsize=(6 * len(tasks), 4))
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, task in zip(axes, tasks):
        baseline = None
        for r in results["runs"]:
            if r["task"] == task:
                curve = np.asarray(r["curve"])
                window = max(1, len(curve) // 30)
                smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
                ax.plot(smooth, label=r["model"])
                baseline = r.get("baseline", baseline)
        if baseline is not None:
            ax.axhline(baseline, color="black", linestyle="--", linewidth=1.2,
                       label=f"baseline ({BASELINES.get(task, 'a trivial predictor')}): MSE {baseline:.3g}")
        ax.set_yscale("log")
        ax.set_title(results["tasks"][task])
        ax.set_xlabel("training step")
        ax.set_ylabel("training MSE (smoothed)")
        ax.legend()
    fig.tight_layout()
    return fig


def _plot(out: str, results: dict[str, Any]) -> bool:
    try:  # a Figure of its own, without pyplot: the caller's matplotlib backend is left alone
        fig = loss_curve_figure(results)
    except ImportError:
        return False
    with atomic_write(os.path.join(out, "loss_curves.png")) as handle:
        fig.savefig(handle, format="png", dpi=100)
    return True
