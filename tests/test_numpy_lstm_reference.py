"""The benchmark's hand-written NumPy LSTM (benchmarks/numpy_lstm.py) against symrnn's compiled LSTMCell.

Two independent implementations of the same LSTM must agree on the loss
``mean(h ** 2)`` and on the gradient of every weight, in float64: this checks
the benchmark's reference, and cross-checks symrnn.  A third, plain loop (no
packing, no in-place tricks, written here) settles which one is wrong if they
disagree.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "numpy_lstm.py"
_spec = importlib.util.spec_from_file_location("numpy_lstm", _PATH)
numpy_lstm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(numpy_lstm)

RTOL = 1e-8
GATES = ("i", "f", "o", "c")


@pytest.fixture
def float64():
    old = symrnn.config.floatX
    symrnn.config.floatX = "float64"
    yield
    symrnn.config.floatX = old


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def naive_loss(params, x, forget_bias):
    """The LSTM equations step by step, gate by gate, in plain NumPy (forward only)."""
    n_steps, batch, _ = x.shape
    H = params["U_i"].shape[0]
    h, c = np.zeros((batch, H)), np.zeros((batch, H))
    total = 0.0
    for t in range(n_steps):
        pre = {g: x[t] @ params[f"W_{g}"] + h @ params[f"U_{g}"] + params[f"b_{g}"] for g in GATES}
        i, f, o = _sigmoid(pre["i"]), _sigmoid(pre["f"] + forget_bias), _sigmoid(pre["o"])
        c = f * c + i * np.tanh(pre["c"])
        h = o * np.tanh(c)
        total += np.sum(h ** 2)
    return total / (n_steps * batch * H)


def symrnn_lstm(n_in, n_hidden, forget_bias, seed, mode):
    cell = nn.LSTMCell(n_in, n_hidden, forget_bias=forget_bias, seed=seed)
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    loss = T.mean(outputs ** 2)
    names = [key for key, _ in cell.params.local_items()]
    grads = symrnn.grad(loss, [cell.params[k] for k in names])
    fn = symrnn.function([x], [loss, *grads], mode=mode)
    return cell, fn, names


def random_biases(params, rng):
    """Non-zero biases, so that every bias path is exercised (LSTMCell starts them at 0)."""
    return {k: (v + rng.normal(scale=0.3, size=v.shape) if k.startswith("b_") else v) for k, v in params.items()}


@pytest.mark.parametrize("chunk_bytes", [None, 1000], ids=["one-chunk", "chunks-of-2"])
@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("n_steps,batch,n_in,n_hidden,forget_bias", [
    (1, 1, 1, 1, 1.0),
    (7, 3, 4, 5, 1.0),
    (12, 2, 6, 3, 0.0),
    (5, 4, 3, 8, 0.7),
])
def test_numpy_lstm_matches_symrnn(float64, monkeypatch, chunk_bytes, mode, n_steps, batch, n_in, n_hidden,
                                   forget_bias):
    if chunk_bytes is not None:  # the backward pass in chunks of steps: 1000 bytes is 2 steps at (3, 4*5) float64
        monkeypatch.setattr(numpy_lstm, "CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(n_steps * 100 + n_hidden)
    cell, fn, names = symrnn_lstm(n_in, n_hidden, forget_bias, seed=n_steps, mode=mode)
    params = random_biases({k: v.get_value() for k, v in cell.params.local_items()}, rng)
    for key, var in cell.params.local_items():  # the same weights in both
        var.set_value(params[key])
    x = rng.normal(size=(n_steps, batch, n_in))
    loss_sym, *grads_sym = fn(x)
    loss_np, grads_np = numpy_lstm.train_step(params, x, forget_bias=forget_bias)

    np.testing.assert_allclose(loss_np, loss_sym, rtol=RTOL, err_msg="loss")
    np.testing.assert_allclose(numpy_lstm.forward(params, x, forget_bias=forget_bias), loss_sym, rtol=RTOL,
                               err_msg="forward() loss")
    np.testing.assert_allclose(loss_np, naive_loss(params, x, forget_bias), rtol=RTOL, err_msg="plain loop loss")
    assert set(grads_np) == set(names)
    for name, g_sym in zip(names, grads_sym):
        g_np = grads_np[name]
        assert g_np.shape == g_sym.shape and g_np.dtype == g_sym.dtype == np.float64, name
        scale = np.max(np.abs(g_sym))
        np.testing.assert_allclose(g_np, g_sym, rtol=RTOL, atol=RTOL * scale * 1e-3, err_msg=name)


def test_numpy_lstm_gradient_against_finite_differences():
    """The NumPy BPTT on its own, against central differences of its own forward pass (float64)."""
    rng = np.random.default_rng(3)
    n_in, H = 3, 4
    params = {f"{k}_{g}": rng.normal(scale=0.5, size=(n_in, H) if k == "W" else (H, H) if k == "U" else (H,))
              for k in "WUb" for g in GATES}
    x = rng.normal(size=(6, 2, n_in))
    _, grads = numpy_lstm.train_step(params, x, forget_bias=0.5)
    eps = 1e-6
    for name in ("W_i", "U_f", "U_o", "W_c", "b_f", "b_c"):
        flat = params[name].reshape(-1)
        for k in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[k]
            flat[k] = old + eps
            up = numpy_lstm.forward(params, x, forget_bias=0.5)
            flat[k] = old - eps
            down = numpy_lstm.forward(params, x, forget_bias=0.5)
            flat[k] = old
            np.testing.assert_allclose(grads[name].reshape(-1)[k], (up - down) / (2 * eps), rtol=1e-6, atol=1e-10,
                                       err_msg=f"{name}[{k}]")


def test_numpy_lstm_float32_stays_float32():
    rng = np.random.default_rng(0)
    params = {f"{k}_{g}": rng.normal(size=(2, 3) if k == "W" else (3, 3) if k == "U" else (3,)).astype(np.float32)
              for k in "WUb" for g in GATES}
    x = rng.normal(size=(4, 2, 2)).astype(np.float32)
    loss, grads = numpy_lstm.train_step(params, x)
    assert all(g.dtype == np.float32 for g in grads.values())
    _, outputs = numpy_lstm.forward(params, x, return_outputs=True)
    assert outputs.dtype == np.float32 and outputs.shape == (4, 2, 3)
    np.testing.assert_allclose(loss, np.mean(outputs.astype(np.float64) ** 2), rtol=1e-5)
