"""symrnn.viz.gradient_flow: ||dL/dh_t|| per step, checked against NumPy BPTT and finite differences."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from symrnn import nn
from symrnn.viz.gradient_flow import GradientFlow, gradient_flow, plot_gradient_flow

# ---- independent NumPy models: forward passes where every hidden state h_t gets a perturbation eps_t


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def rnn_loss(p: dict[str, np.ndarray], x: np.ndarray, eps: np.ndarray) -> float:
    h = np.zeros((x.shape[1], p["U"].shape[0]))
    for t in range(len(x)):
        h = np.tanh(x[t] @ p["W"] + h @ p["U"] + p["b"]) + eps[t]
    return float(h.sum())


def lstm_loss(p: dict[str, np.ndarray], x: np.ndarray, eps: np.ndarray, forget_bias: float) -> float:
    H = p["U_i"].shape[0]
    c, h = np.zeros((x.shape[1], H)), np.zeros((x.shape[1], H))
    for t in range(len(x)):
        pre = {g: x[t] @ p[f"W_{g}"] + h @ p[f"U_{g}"] + p[f"b_{g}"] for g in "ifoc"}
        i, f, o = sigmoid(pre["i"]), sigmoid(pre["f"] + forget_bias), sigmoid(pre["o"])
        c = f * c + i * np.tanh(pre["c"])
        h = o * np.tanh(c) + eps[t]
    return float(h.sum())


def finite_difference_norms(loss, shape: tuple[int, ...], step: float = 1e-6) -> np.ndarray:
    """||dL/deps_t|| for every t, by central differences at eps = 0."""
    grad = np.zeros(shape)
    for index in np.ndindex(*shape):
        e = np.zeros(shape)
        e[index] = step
        grad[index] = (loss(e) - loss(-e)) / (2 * step)
    return np.sqrt((grad.reshape(shape[0], -1) ** 2).sum(axis=1))


def values(cell: nn.Cell) -> dict[str, np.ndarray]:
    return {k: v.get_value() for k, v in cell.params.local_items()}


# --------------------------------------------------------------------------- correctness


def test_rnn_norms_match_finite_differences() -> None:
    cell = nn.RNNCell(2, 3, seed=4)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    flow = gradient_flow(cell, inputs=x)
    p = values(cell)
    want = finite_difference_norms(lambda e: rnn_loss(p, x, e), (4, 2, 3))
    np.testing.assert_allclose(flow.norms, want, rtol=1e-6)


def test_lstm_norms_match_finite_differences() -> None:
    cell = nn.LSTMCell(2, 3, forget_bias=1.0, seed=5)
    x = np.random.default_rng(2).standard_normal((4, 2, 2))
    flow = gradient_flow(cell, inputs=x)
    p = values(cell)
    want = finite_difference_norms(lambda e: lstm_loss(p, x, e, 1.0), (4, 2, 3))
    np.testing.assert_allclose(flow.norms, want, rtol=1e-6)
    assert flow.label == "LSTM"


def test_rnn_norms_match_numpy_bptt_over_many_steps() -> None:
    cell = nn.RNNCell(3, 5, seed=6)
    p = values(cell)
    x = np.random.default_rng(3).standard_normal((40, 4, 3))
    # Forward, keeping every tanh output; then backward: dL/dh_{t-1} = (dL/dh_t * (1 - h_t**2)) @ U.T
    hs, h = [], np.zeros((4, 5))
    for t in range(40):
        h = np.tanh(x[t] @ p["W"] + h @ p["U"] + p["b"])
        hs.append(h)
    dh = np.ones((4, 5))
    want = [np.linalg.norm(dh)]
    for t in range(39, 0, -1):
        dh = (dh * (1 - hs[t] ** 2)) @ p["U"].T
        want.append(np.linalg.norm(dh))
    flow = gradient_flow(cell, inputs=x)
    np.testing.assert_allclose(flow.norms, want[::-1], rtol=1e-9)


def test_data_has_one_entry_per_step() -> None:
    flow = gradient_flow(nn.GRUCell(3, 4, seed=0), T=17, batch_size=3)
    assert isinstance(flow, GradientFlow)
    assert flow.t.tolist() == list(range(1, 18))
    assert flow.norms.shape == (17,)
    assert np.all(flow.norms > 0)
    # The last step's gradient is dL/dh_T = ones(batch, units).
    assert flow.norms[-1] == pytest.approx(np.sqrt(3 * 4))


def test_stacked_and_dropout_cells() -> None:
    stack = nn.MultiRNNCell([nn.LSTMCell(3, 5, seed=0), nn.GRUCell(5, 4, seed=1)])
    flow = gradient_flow(stack, T=6, batch_size=2)
    assert flow.label == "MultiRNN" and len(flow.norms) == 6
    assert flow.norms[-1] == pytest.approx(np.sqrt(2 * 4))  # the last layer's h_T
    lstm = nn.LSTMCell(3, 5, seed=0)
    wrapped = nn.DropoutWrapper(lstm, input_keep_prob=0.5, output_keep_prob=0.5, seed=3)
    wrapped.set_training(False)
    np.testing.assert_allclose(gradient_flow(wrapped, T=8).norms, gradient_flow(lstm, T=8).norms, rtol=1e-12)
    wrapped.set_training(True)  # the output's dropout mask reaches dL/dh_T: about half of the units survive
    last = gradient_flow(wrapped, T=8, batch_size=16).norms[-1]
    assert 0 < last < np.sqrt(16 * 5) / 0.5


def test_same_seed_same_data_and_inputs_shape_checked() -> None:
    a = gradient_flow(nn.RNNCell(3, 4, seed=0), T=10, seed=7)
    b = gradient_flow(nn.RNNCell(3, 4, seed=0), T=10, seed=7)
    c = gradient_flow(nn.RNNCell(3, 4, seed=0), T=10, seed=8)
    np.testing.assert_array_equal(a.norms, b.norms)
    assert not np.array_equal(a.norms, c.norms)
    with pytest.raises(ValueError, match="inputs must have shape"):
        gradient_flow(nn.RNNCell(3, 4, seed=0), inputs=np.zeros((5, 2, 2)))
    with pytest.raises(TypeError, match="cell"):
        gradient_flow("lstm")


# --------------------------------------------------------------------------- what it shows


def test_rnn_gradient_vanishes_far_below_the_lstms() -> None:
    flows = gradient_flow([nn.RNNCell(8, 32, seed=0), nn.LSTMCell(8, 32, seed=0), nn.GRUCell(8, 32, seed=0)],
                          T=100)
    assert list(flows) == ["RNN", "LSTM", "GRU"]
    for flow in flows.values():
        assert len(flow.norms) == 100
    rnn, lstm = flows["RNN"].norms, flows["LSTM"].norms
    # Measured with seed 0: RNN ~1e-13, LSTM ~1e-5 at t=1 (a factor of ~1e8); ask for far less than that.
    assert lstm[0] > 100 * rnn[0]
    # Both shrink going back in time from the loss.
    assert rnn[0] < 1e-3 * rnn[-1] and lstm[0] < lstm[-1]


# --------------------------------------------------------------------------- plots


def test_plot_svg_is_valid_xml_with_every_label(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib")
    out = tmp_path / "flow.svg"
    flows = gradient_flow({"plain RNN": nn.RNNCell(2, 4, seed=0), "LSTM": nn.LSTMCell(2, 4, seed=0)}, T=12,
                          plot=out)
    assert set(flows) == {"plain RNN", "LSTM"}
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = out.read_text()
    assert "plain RNN" in text and "LSTM" in text
    first = out.read_bytes()
    plot_gradient_flow(flows, out)
    assert out.read_bytes() == first  # deterministic: no date, fixed ids


def test_plot_png_is_written(tmp_path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib")
    out = tmp_path / "flow.png"
    gradient_flow(nn.RNNCell(2, 4, seed=0), T=5, plot=str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=".png or .svg"):
        plot_gradient_flow(GradientFlow("x", np.arange(1, 3), np.ones(2)), tmp_path / "flow.pdf")


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    flow = GradientFlow("x", np.arange(1, 3), np.ones(2))
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_gradient_flow(flow, tmp_path / "flow.svg")
    assert not (tmp_path / "flow.svg").exists()
