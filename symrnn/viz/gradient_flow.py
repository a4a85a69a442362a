"""Gradient-flow curves: the norm of dL/dh_t at every step t, for a loss at the last step.

Backpropagation through time multiplies the gradient by one step's Jacobian
per step.  In a plain RNN that product shrinks geometrically, so the first
steps get almost no gradient (vanishing gradients); the LSTM's additive cell
state keeps far more of it.  :func:`gradient_flow` measures this on a real
graph:

1. a wrapper cell adds a perturbation ``eps_t`` (symbolic, fed as zeros) to the
   hidden state each step produces, so ``h_t + eps_t`` is what the rest of the
   computation sees;
2. the cell runs over ``T`` steps of random input with :func:`symrnn.nn.rnn`;
3. the loss is the sum of the last step's output, and ``grad(loss, eps)`` at
   ``eps = 0`` is exactly ``dL/dh_t`` for every step at once.

Example::

    >>> from symrnn import nn
    >>> from symrnn.viz.gradient_flow import gradient_flow
    >>> flow = gradient_flow(nn.RNNCell(4, 8, seed=0), T=20)
    >>> flow.t[:3], len(flow.norms)
    (array([1, 2, 3]), 20)
    >>> bool(flow.norms[0] < flow.norms[-1])
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import symrnn.tensor as tensor
from symrnn.compile.function import function
from symrnn.files import atomic_write
from symrnn.gradient import grad
from symrnn.nn.cells import Cell, DropoutWrapper, _flatten, _unflatten, rnn

#: What a plot says of the models in each state: ``GradientFlow.state`` is ``"untrained"``, ``"trained"`` or None.
STATES = {"untrained": "untrained models (at initialization)", "trained": "trained models", None: ""}


@dataclass
class GradientFlow:
    """One model's curve: ``t`` (1..T) and ``norms[k] = ||dL/dh_t||`` for ``t = t[k]`` (over the whole batch).

    ``state`` is ``"untrained"`` or ``"trained"`` where the caller said which
    (``gradient_flow(..., trained=...)``), else None; plots say it.
    """

    label: str
    t: np.ndarray
    norms: np.ndarray
    state: str | None = None

    def ratio(self) -> float:
        """``norms[0] / norms[-1]``: how much of the last step's gradient reaches the first step."""
        return float(self.norms[0] / self.norms[-1])


def _perturbed(cell: Any) -> Any:
    """A cell whose input is ``[x_t, eps_t]`` and whose hidden state (its output) is ``h_t + eps_t``."""
    # Dropout sits outside the state: perturb the wrapped cell's state, then drop out as the wrapper does.
    inner = cell.cell if isinstance(cell, DropoutWrapper) else cell

    def before(x: Any) -> Any:
        return cell.dropout(x, cell.input_keep_prob) if inner is not cell else x

    def after(out: Any) -> Any:
        return cell.dropout(out, cell.output_keep_prob) if inner is not cell else out

    class Perturbed(Cell):
        def __init__(self) -> None:
            super().__init__(cell.input_size + cell.output_size, cell.output_size, f"perturbed({cell.name})")
            self.params = cell.params

        def zero_state(self, batch_size: Any, dtype: Any = None) -> Any:
            return cell.zero_state(batch_size, dtype)

        def step(self, x_t: Any, state: Any) -> Any:
            x, eps = x_t[:, : cell.input_size], x_t[:, cell.input_size:]
            out, new_state = inner.step(before(x), state)
            flat = _flatten(new_state)
            # The hidden state is the state part the step also returns as its output (else the last part).
            k = next((i for i, v in enumerate(flat) if v is out), None)
            if k is None:
                flat[-1] = flat[-1] + eps
                return after(out), _unflatten(new_state, flat)
            flat[k] = flat[k] + eps
            return after(flat[k]), _unflatten(new_state, flat)

    return Perturbed()


def _label(cell: Any) -> str:
    name = type(cell).__name__
    return name[: -len("Cell")] if name.endswith("Cell") and len(name) > 4 else name


def _one(cell: Any, T: int, batch_size: int, seed: Any, inputs: np.ndarray | None, label: str,
         state: str | None) -> GradientFlow:
    if inputs is None:
        rng = np.random.default_rng(seed)
        inputs = rng.standard_normal((T, batch_size, cell.input_size))
    dtype = cell._dtype()
    inputs = np.asarray(inputs, dtype=dtype)
    if inputs.ndim != 3 or inputs.shape[2] != cell.input_size:
        raise ValueError(f"gradient_flow: inputs must have shape (T, batch, {cell.input_size}), got {inputs.shape}")
    x = tensor.tensor3("x", dtype=dtype)
    eps = tensor.tensor3("eps", dtype=dtype)
    outputs, _ = rnn(_perturbed(cell), tensor.concatenate([x, eps], axis=2))
    loss = outputs[-1].sum()
    dloss_deps = function([x, eps], grad(loss, eps))
    steps, batch = inputs.shape[:2]
    g = np.asarray(dloss_deps(inputs, np.zeros((steps, batch, cell.output_size), dtype=dtype)))
    norms = np.sqrt(np.sum(np.square(g.reshape(steps, -1), dtype=np.float64), axis=1))
    return GradientFlow(label, np.arange(1, steps + 1), norms, state)


def gradient_flow(model: Any, T: int = 100, batch_size: int = 16, seed: Any = 0, inputs: Any = None,
                  plot: str | os.PathLike | None = None, title: str | None = None,
                  trained: bool | None = None) -> Any:
    """The norm of ``dL/dh_t`` for ``t = 1..T``, with ``L`` the sum of the last step's output.

    - ``model``: a cell (``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``, ...), or
      several: a list of cells or a ``{label: cell}`` dict.
    - ``T``, ``batch_size``, ``seed``: the random input, standard normal of shape
      ``(T, batch_size, input_size)``; or give ``inputs`` yourself.
    - ``plot``: a ``.png`` or ``.svg`` filename: draw every model's curve on a
      log scale there (needs matplotlib).
    - ``trained``: say whether the models are trained (``True``) or at their
      initialization (``False``); the curves carry it (``state``) and the plot's
      title says it.  A gradient flow changes with training, so a plot should
      say which one it shows; ``None`` (the default) says nothing.

    Returns a :class:`GradientFlow` (``label``, ``t``, ``norms``, ``state``) for
    one cell, or a dict ``{label: GradientFlow}`` for several.

    Example::

        >>> from symrnn import nn
        >>> flows = gradient_flow({"RNN": nn.RNNCell(4, 8, seed=0), "LSTM": nn.LSTMCell(4, 8, seed=0)}, T=30)
        >>> sorted(flows)
        ['LSTM', 'RNN']
        >>> bool(flows["LSTM"].norms[0] > flows["RNN"].norms[0])
        True
    """
    if isinstance(model, Cell):
        models, single = {_label(model): model}, True
    elif isinstance(model, Mapping):
        models, single = dict(model), False
    elif isinstance(model, Sequence) and not isinstance(model, str):
        models, single = {}, False
        for cell in model:
            label, k = _label(cell), 2
            while label in models:
                label, k = f"{_label(cell)} ({k})", k + 1
            models[label] = cell
    else:
        raise TypeError(f"gradient_flow: expected a cell, a list of cells or a dict of cells, got {model!r}")
    for label, cell in models.items():
        if not isinstance(cell, Cell):
            raise TypeError(f"gradient_flow: {label!r} is {cell!r}, not a symrnn.nn cell")
    if int(T) < 1:
        raise ValueError(f"gradient_flow: T must be at least 1, got {T!r}")
    state = None if trained is None else ("trained" if trained else "untrained")
    flows = {label: _one(cell, int(T), int(batch_size), seed, inputs, label, state) for label, cell in models.items()}
    if plot is not None:
        plot_gradient_flow(flows, plot, title=title)
    return flows[next(iter(flows))] if single else flows


def gradient_flow_figure(flows: GradientFlow | Mapping[str, GradientFlow] | Sequence[GradientFlow],
                         title: str | None = None) -> Any:
    """A matplotlib ``Figure`` of gradient-flow curves on a log scale (needs matplotlib; pyplot is not used).

    The curves are grouped by their ``state``: one panel for untrained models
    and one for trained models, side by side on the same scale, each titled by
    its state; curves of unknown state share a panel without one.  A model keeps
    its colour in every panel.

    Example::

        >>> t = np.arange(1, 4)
        >>> fig = gradient_flow_figure([GradientFlow("RNN", t, np.array([1e-3, 0.1, 1.0]), "untrained"),
        ...                             GradientFlow("RNN", t, np.array([1e-2, 0.3, 1.0]), "trained")])
        >>> [ax.get_title() for ax in fig.axes]
        ['untrained models (at initialization)', 'trained models']
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("gradient_flow(plot=...) needs matplotlib, which is not installed: "
                          "pip install matplotlib (or leave plot=None to get the data only)") from exc
    if isinstance(flows, GradientFlow):
        flows = [flows]
    elif isinstance(flows, Mapping):
        flows = list(flows.values())
    flows = list(flows)
    order = [state for state in ("untrained", "trained", None) if any(f.state == state for f in flows)] or [None]
    colours: dict[str, str] = {}
    for flow in flows:
        colours.setdefault(flow.label, f"C{len(colours) % 10}")
    steps = max((int(f.t[-1]) for f in flows), default=1)
    title = title or f"Gradient of the loss at step {steps} with respect to each hidden state"
    fig = Figure(figsize=(6.4 * len(order) if len(order) > 1 else 6.4, 4.0 if len(order) == 1 else 4.4))
    axes = fig.subplots(1, len(order), sharey=True, squeeze=False)[0]
    for ax, state in zip(axes, order):
        for flow in flows:
            if flow.state == state:
                ax.semilogy(flow.t, flow.norms, label=flow.label, linewidth=1.6, color=colours[flow.label])
        ax.set_xlabel("time step t")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
        if len(order) > 1:
            ax.set_title(STATES[state])
    axes[0].set_ylabel(r"$\Vert\partial L / \partial h_t\Vert$")
    if len(order) > 1:
        fig.suptitle(title)
    else:
        axes[0].set_title(f"{title}\n{STATES[order[0]]}" if order[0] else title)
    fig.tight_layout()
    return fig


def plot_gradient_flow(flows: GradientFlow | Mapping[str, GradientFlow] | Sequence[GradientFlow],
                       filename: str | os.PathLike, title: str | None = None) -> str:
    """Draw gradient-flow curves on a log scale into ``filename`` (``.png`` or ``.svg``); return the filename.

    Curves of untrained and trained models go to two panels, each saying
    which (see :func:`gradient_flow_figure`).

    Example::

        >>> import os, tempfile
        >>> flow = GradientFlow("toy", np.arange(1, 4), np.array([1e-3, 1e-1, 1.0]))
        >>> path = plot_gradient_flow(flow, os.path.join(tempfile.mkdtemp(), "flow.svg"))
        >>> open(path).read().count("<svg") >= 1
        True
    """
    try:
        from matplotlib import rc_context
    except ImportError as exc:
        raise ImportError("gradient_flow(plot=...) needs matplotlib, which is not installed: "
                          "pip install matplotlib (or leave plot=None to get the data only)") from exc
    filename = os.fspath(filename)
    fmt = os.path.splitext(filename)[1].lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise ValueError(f"plot_gradient_flow: the file name must end in .png or .svg, got {filename!r}")
    # A fixed hash salt, text kept as text and no date make the SVG small and the same on every run.
    with rc_context({"svg.hashsalt": "symrnn", "svg.fonttype": "none", "path.simplify": True}):
        fig = gradient_flow_figure(flows, title)
        metadata = {"Date": None, "Creator": None} if fmt == "svg" else {"Software": None}
        with atomic_write(filename) as f:
            fig.savefig(f, format=fmt, metadata=metadata, dpi=100)
    return filename


__all__ = ["GradientFlow", "gradient_flow", "gradient_flow_figure", "plot_gradient_flow"]
