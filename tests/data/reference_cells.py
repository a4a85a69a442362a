"""Pure-NumPy reference recurrent cells, for the cell tests. No torch, no symrnn.

Two families live here:

1. **symrnn's per-gate cells**, written exactly as ``DESIGN.md`` states them, with
   parameters in a dict keyed by symrnn's names (``W_*`` of shape (I, H),
   ``U_*`` (H, H), ``b_*`` (H,); rows are batch, ``x @ W``):

   - :func:`rnn_step` -- ``h' = tanh(x·W + h·U + b)``;
   - :func:`lstm_step` -- ``W_i W_f W_o W_c, U_*, b_*`` and ``forget_bias``;
   - :func:`gru_step` -- with ``reset_after=False`` this is TensorFlow 1's
     ``GRUCell``: ``z, r = σ(...)``, ``h̃ = tanh(x·W_h + (r*h)·U_h + b_h)``,
     ``h' = z*h + (1-z)*h̃``; with ``reset_after=True`` it is the cuDNN/PyTorch
     variant ``h̃ = tanh(x·W_h + b_h + r*(h·U_h + b_hn))``.

   :func:`tf1_gru_cell_fused` is TensorFlow 1's ``GRUCell.call`` transcribed
   literally (one fused gate kernel, split as ``r, u``; TF1 calls z ``u``), so
   the per-gate version can be checked against it; :func:`tf1_gru_params_from_kernels`
   converts the fused kernels into the per-gate dict.
   :func:`run_over_time` runs any of the step functions over time-major inputs.

2. **PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` equations** from PyTorch-layout
   weights (:func:`torch_forward`), used to check ``golden_rnn.npz`` against its
   equations without torch, and :func:`torch_to_symrnn` which maps one PyTorch
   layer's weights onto symrnn's per-gate names (an independent mapping the
   tests can compare symrnn's own loader with).

PyTorch's layouts (``weight_ih_l{k}`` has shape (G*H, I), ``weight_hh_l{k}``
(G*H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H,); rows are grouped by gate):

- RNN (G=1): ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.
- LSTM (G=4), row blocks **i, f, g, o** (g is the candidate, symrnn's ``c``):
  ``c' = f*c + i*g``, ``h' = o*tanh(c')``. There is no forget bias: symrnn must
  use ``forget_bias=0.0`` to match.
- GRU (G=3), row blocks **r, z, n**: ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``,
  ``z = σ(W_iz x + b_iz + W_hz h + b_hz)``,
  ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h' = (1-z)*n + z*h``
  (symrnn's ``reset_after=True``, with the same meaning of z).

Each gate has two biases in PyTorch; where they are only ever summed (all RNN and
LSTM gates, GRU's r and z) symrnn's single ``b_*`` is ``bias_ih + bias_hh`` and
its gradient equals each of theirs. GRU's candidate keeps them apart:
``b_h = b_in`` and ``b_hn = b_hn``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "GATES",
    "SYMRNN_PARAMS",
    "gru_step",
    "lstm_step",
    "rnn_step",
    "run_over_time",
    "sigmoid",
    "tf1_gru_cell_fused",
    "tf1_gru_params_from_kernels",
    "torch_forward",
    "torch_layer_forward",
    "torch_to_symrnn",
]

#: PyTorch's gate order: the row blocks of ``weight_ih_l{k}`` / ``weight_hh_l{k}`` / biases, top to bottom.
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

#: symrnn's parameter names per cell (DESIGN.md, "Cells"); GRU's ``b_hn`` only with ``reset_after=True``.
SYMRNN_PARAMS = {
    "rnn": ("W", "U", "b"),
    "lstm": ("W_i", "W_f", "W_o", "W_c", "U_i", "U_f", "U_o", "U_c", "b_i", "b_f", "b_o", "b_c"),
    "gru": ("W_z", "W_r", "W_h", "U_z", "U_r", "U_h", "b_z", "b_r", "b_h"),
}


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large ``|a|``; keeps ``a``'s dtype."""
    a = np.asarray(a)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


# ---------------------------------------------------------------------------
# symrnn's per-gate cells (DESIGN.md)


def rnn_step(x: np.ndarray, h: np.ndarray, p: Mapping[str, np.ndarray], activation: Callable = np.tanh):
    """``RNNCell``: ``h' = activation(x·W + h·U + b)``; returns ``(output, new_state)`` = ``(h', h')``."""
    h_new = activation(x @ p["W"] + h @ p["U"] + p["b"])
    return h_new, h_new


def lstm_step(x: np.ndarray, state: tuple[np.ndarray, np.ndarray], p: Mapping[str, np.ndarray],
              forget_bias: float = 1.0):
    """``LSTMCell``: state is ``(C, h)``; returns ``(h', (C', h'))``.

    ``i = σ(x·W_i + h·U_i + b_i)``, ``f = σ(x·W_f + h·U_f + b_f + forget_bias)``,
    ``o = σ(x·W_o + h·U_o + b_o)``, ``C̃ = tanh(x·W_c + h·U_c + b_c)``,
    ``C' = f*C + i*C̃``, ``h' = o*tanh(C')``.
    """
    c, h = state
    i = sigmoid(x @ p["W_i"] + h @ p["U_i"] + p["b_i"])
    f = sigmoid(x @ p["W_f"] + h @ p["U_f"] + p["b_f"] + np.asarray(forget_bias, dtype=x.dtype))
    o = sigmoid(x @ p["W_o"] + h @ p["U_o"] + p["b_o"])
    c_tilde = np.tanh(x @ p["W_c"] + h @ p["U_c"] + p["b_c"])
    c_new = f * c + i * c_tilde
    h_new = o * np.tanh(c_new)
    return h_new, (c_new, h_new)


def gru_step(x: np.ndarray, h: np.ndarray, p: Mapping[str, np.ndarray], reset_after: bool = False):
    """``GRUCell``; returns ``(h', h')``.

    ``z = σ(x·W_z + h·U_z + b_z)``, ``r = σ(x·W_r + h·U_r + b_r)``, then

    - ``reset_after=False`` (TensorFlow 1's ``GRUCell``): ``h̃ = tanh(x·W_h + (r*h)·U_h + b_h)``;
    - ``reset_after=True`` (cuDNN / PyTorch): ``h̃ = tanh(x·W_h + b_h + r*(h·U_h + b_hn))``;

    and ``h' = z*h + (1-z)*h̃``.
    """
    z = sigmoid(x @ p["W_z"] + h @ p["U_z"] + p["b_z"])
    r = sigmoid(x @ p["W_r"] + h @ p["U_r"] + p["b_r"])
    if reset_after:
        h_tilde = np.tanh(x @ p["W_h"] + p["b_h"] + r * (h @ p["U_h"] + p["b_hn"]))
    else:
        h_tilde = np.tanh(x @ p["W_h"] + (r * h) @ p["U_h"] + p["b_h"])
    h_new = z * h + (1 - z) * h_tilde
    return h_new, h_new


def tf1_gru_cell_fused(x: np.ndarray, h: np.ndarray, gate_kernel: np.ndarray, gate_bias: np.ndarray,
                       candidate_kernel: np.ndarray, candidate_bias: np.ndarray) -> np.ndarray:
    """TensorFlow 1's ``tf.nn.rnn_cell.GRUCell.call``, literally; returns ``h'``.

    ``gate_kernel`` is (I+H, 2H) and ``gate_bias`` (2H,) (TF1 initializes it to 1.0),
    ``candidate_kernel`` (I+H, H), ``candidate_bias`` (H,) (zeros in TF1)::

        value = sigmoid(concat([x, h], 1) @ gate_kernel + gate_bias)
        r, u = split(value, 2, axis=1)          # r first, then u (= z)
        c = tanh(concat([x, r * h], 1) @ candidate_kernel + candidate_bias)
        new_h = u * h + (1 - u) * c
    """
    value = sigmoid(np.concatenate([x, h], axis=1) @ gate_kernel + gate_bias)
    r, u = np.split(value, 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], axis=1) @ candidate_kernel + candidate_bias)
    return u * h + (1 - u) * c


def tf1_gru_params_from_kernels(gate_kernel: np.ndarray, gate_bias: np.ndarray, candidate_kernel: np.ndarray,
                                candidate_bias: np.ndarray, input_size: int) -> dict[str, np.ndarray]:
    """TF1 ``GRUCell``'s fused kernels as symrnn's per-gate ``W_z W_r W_h, U_z U_r U_h, b_z b_r b_h``."""
    n = input_size
    hsz = candidate_kernel.shape[1]
    r_cols, z_cols = slice(0, hsz), slice(hsz, 2 * hsz)
    return {
        "W_z": gate_kernel[:n, z_cols], "W_r": gate_kernel[:n, r_cols], "W_h": candidate_kernel[:n],
        "U_z": gate_kernel[n:, z_cols], "U_r": gate_kernel[n:, r_cols], "U_h": candidate_kernel[n:],
        "b_z": gate_bias[z_cols], "b_r": gate_bias[r_cols], "b_h": candidate_bias,
    }


def run_over_time(step: Callable, inputs: np.ndarray, state, params: Mapping[str, np.ndarray], **kwargs):
    """Run ``step(x_t, state, params, **kwargs) -> (output, new_state)`` over time-major ``inputs`` (T, B, I).

    Returns ``(outputs, final_state)`` with ``outputs`` stacked to (T, B, H), like ``nn.rnn``.
    For :func:`lstm_step` the state is the pair ``(C, h)``.
    """
    outputs = []
    for x_t in inputs:
        out, state = step(x_t, state, params, **kwargs)
        outputs.append(out)
    return np.stack(outputs), state


# ---------------------------------------------------------------------------
# PyTorch's equations, from PyTorch-layout weights


def _blocks(a: np.ndarray, mode: str, axis: int = 0) -> dict[str, np.ndarray]:
    """Split ``a`` along its gate axis (G*H long) into the gate blocks, keyed by PyTorch's gate names."""
    return dict(zip(GATES[mode], np.split(a, len(GATES[mode]), axis=axis)))


def torch_layer_forward(mode: str, x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                        b_ih: np.ndarray, b_hh: np.ndarray, c0: np.ndarray | None = None):
    """One layer of ``nn.RNN`` (tanh) / ``nn.LSTM`` / ``nn.GRU`` over time-major ``x`` (T, B, I).

    Returns ``(output (T, B, H), h_T, c_T)``; ``c_T`` is None except for LSTM.
    """
    h, c = h0, c0
    outputs = []
    for x_t in x:
        gi = x_t @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        if mode == "rnn":
            h = np.tanh(gi + gh)
        elif mode == "lstm":
            g = _blocks(gi + gh, "lstm", axis=1)
            c = sigmoid(g["f"]) * c + sigmoid(g["i"]) * np.tanh(g["g"])
            h = sigmoid(g["o"]) * np.tanh(c)
        elif mode == "gru":
            a, b = _blocks(gi, "gru", axis=1), _blocks(gh, "gru", axis=1)
            r = sigmoid(a["r"] + b["r"])
            z = sigmoid(a["z"] + b["z"])
            n = np.tanh(a["n"] + r * b["n"])
            h = (1 - z) * n + z * h
        else:
            raise ValueError(f"unknown mode {mode!r}")
        outputs.append(h)
    return np.stack(outputs), h, c


def torch_forward(mode: str, x: np.ndarray, h0: np.ndarray, params: Mapping[str, np.ndarray], num_layers: int,
                  c0: np.ndarray | None = None):
    """A stacked ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``batch_first=False``, no dropout, unidirectional).

    ``params`` maps PyTorch's names (``weight_ih_l0``, ``bias_hh_l1``, ...) to arrays; ``h0`` (and ``c0``)
    are (num_layers, B, H). Returns ``(output (T, B, H), h_n (L, B, H), c_n (L, B, H) or None)``.
    """
    out = x
    hs, cs = [], []
    for k in range(num_layers):
        out, h, c = torch_layer_forward(
            mode, out, h0[k], params[f"weight_ih_l{k}"], params[f"weight_hh_l{k}"],
            params[f"bias_ih_l{k}"], params[f"bias_hh_l{k}"], None if c0 is None else c0[k])
        hs.append(h)
        cs.append(c)
    return out, np.stack(hs), (np.stack(cs) if mode == "lstm" else None)


def torch_to_symrnn(mode: str, params: Mapping[str, np.ndarray], layer: int = 0) -> dict[str, np.ndarray]:
    """Layer ``layer``'s PyTorch weights as symrnn's per-gate parameters (GRU: the ``reset_after=True`` set).

    Weights are transposed to (I, H) / (H, H). Summed bias pairs become one ``b_*``; GRU's candidate
    keeps ``b_h = bias_ih[n]`` and ``b_hn = bias_hh[n]``. LSTM must then run with ``forget_bias=0.0``.
    """
    wi = _blocks(params[f"weight_ih_l{layer}"], mode)
    wh = _blocks(params[f"weight_hh_l{layer}"], mode)
    bi = _blocks(params[f"bias_ih_l{layer}"], mode)
    bh = _blocks(params[f"bias_hh_l{layer}"], mode)
    if mode == "rnn":
        return {"W": wi["h"].T, "U": wh["h"].T, "b": bi["h"] + bh["h"]}
    if mode == "lstm":
        names = {"i": "i", "f": "f", "o": "o", "c": "g"}  # symrnn's gate -> PyTorch's block
        out = {}
        for kind, src in (("W", wi), ("U", wh)):
            out.update({f"{kind}_{s}": src[t].T for s, t in names.items()})
        out.update({f"b_{s}": bi[t] + bh[t] for s, t in names.items()})
        return out
    if mode == "gru":
        return {
            "W_z": wi["z"].T, "W_r": wi["r"].T, "W_h": wi["n"].T,
            "U_z": wh["z"].T, "U_r": wh["r"].T, "U_h": wh["n"].T,
            "b_z": bi["z"] + bh["z"], "b_r": bi["r"] + bh["r"], "b_h": bi["n"], "b_hn": bh["n"],
        }
    raise ValueError(f"unknown mode {mode!r}")
