"""Exchanging weights with PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU``, as NumPy arrays (torch is never imported).

PyTorch stacks the gates in rows: LSTM ``[i, f, g, o]``, GRU ``[r, z, n]``;
``weight_ih_l{k}`` is ``(gates*H, I)`` and ``weight_hh_l{k}`` is ``(gates*H, H)``,
with two biases ``bias_ih_l{k}`` and ``bias_hh_l{k}``.  symrnn keeps one
``(I, H)``/``(H, H)``/``(H,)`` triple per gate, so loading transposes and
splits, and adds the two biases (the LSTM forget bias is taken out of ``b_f``,
since the cell adds it back).  Only ``GRUCell(reset_after=True)`` has PyTorch's
GRU equations.  The layers ``nn.LSTM``/``GRU``/``RNN`` (``symrnn.nn.recurrent``)
hold one cell per layer and direction, named as PyTorch names its arrays:
layer ``k``'s reverse direction reads ``weight_ih_l{k}_reverse``..., and a layer
made with ``bias=False`` has no bias arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from symrnn.nn.cells import Cell, GRUCell, LSTMCell, MultiRNNCell, RNNCell
from symrnn.nn.recurrent import RecurrentLayer

# symrnn gate name for each PyTorch row block, in PyTorch's order
_TORCH_GATES = {RNNCell: [""], LSTMCell: ["i", "f", "c", "o"], GRUCell: ["r", "z", "h"]}


def _layers(cell: Cell | RecurrentLayer) -> list[tuple[Cell, str, bool]]:
    """``(cell, PyTorch's array suffix, whether it has bias arrays)`` for each layer (and direction)."""
    if isinstance(cell, RecurrentLayer):
        return [(c, f"_l{k}{'_reverse' if d else ''}", cell.bias)
                for k, row in enumerate(cell.cells) for d, c in enumerate(row)]
    cells = cell.cells if isinstance(cell, MultiRNNCell) else [cell]
    for c in cells:
        if type(c) not in _TORCH_GATES:
            raise TypeError(f"PyTorch weights fit RNNCell, LSTMCell and GRUCell only, not {type(c).__name__}")
        if isinstance(c, GRUCell) and not c.reset_after:
            raise TypeError("PyTorch's GRU resets after the hidden product: use GRUCell(..., reset_after=True)")
    return [(c, f"_l{k}", True) for k, c in enumerate(cells)]


def _key(gate: str, kind: str) -> str:
    return kind if not gate else f"{kind}_{gate}"


def load_torch_weights(cell: Cell | RecurrentLayer, weights: Mapping[str, Any]) -> None:
    """Set ``cell``'s per-gate weights from PyTorch's ``weight_ih_l0``... arrays (``model.state_dict()`` as NumPy).

    ``cell`` may be a ``MultiRNNCell`` (layer ``k`` reads the ``_l{k}`` arrays)
    or an ``nn.LSTM``/``GRU``/``RNN`` layer (with ``_l{k}_reverse`` too).
    Every array is checked before any weight changes.

    Example::

        >>> import numpy as np
        >>> H, I = 2, 3
        >>> torch_like = {"weight_ih_l0": np.ones((4 * H, I)), "weight_hh_l0": np.zeros((4 * H, H)),
        ...               "bias_ih_l0": np.zeros(4 * H), "bias_hh_l0": np.zeros(4 * H)}
        >>> cell = LSTMCell(I, H, forget_bias=0.0)
        >>> load_torch_weights(cell, torch_like)
        >>> cell.params["W_f"].get_value().shape
        (3, 2)
    """
    planned: list[tuple[Any, np.ndarray]] = []
    for layer, suffix, has_bias in _layers(cell):
        gates = _TORCH_GATES[type(layer)]
        H, n_in = layer.num_units, layer.input_size
        arrays = {}
        expected = [("weight_ih", (len(gates) * H, n_in)), ("weight_hh", (len(gates) * H, H))]
        if has_bias:
            expected += [("bias_ih", (len(gates) * H,)), ("bias_hh", (len(gates) * H,))]
        for name, shape in expected:
            key = f"{name}{suffix}"
            if key not in weights:
                raise KeyError(f"load_torch_weights: missing array {key!r}")
            value = np.asarray(weights[key])
            if value.shape != shape:
                raise ValueError(f"load_torch_weights: {key!r} has shape {value.shape}, expected {shape} for "
                                 f"{layer!r}")
            arrays[name] = value
        for g, gate in enumerate(gates):
            rows = slice(g * H, (g + 1) * H)
            planned.append((layer.params[_key(gate, "W")], arrays["weight_ih"][rows].T))
            planned.append((layer.params[_key(gate, "U")], arrays["weight_hh"][rows].T))
            if not has_bias:
                continue
            b_ih, b_hh = arrays["bias_ih"][rows], arrays["bias_hh"][rows]
            if isinstance(layer, GRUCell) and gate == "h":
                planned += [(layer.params["b_h"], b_ih), (layer.params["b_hn"], b_hh)]
            elif isinstance(layer, LSTMCell) and gate == "f":
                planned.append((layer.params["b_f"], b_ih + b_hh - layer.forget_bias))
            else:
                planned.append((layer.params[_key(gate, "b")], b_ih + b_hh))
    for var, value in planned:
        var.set_value(np.ascontiguousarray(value, dtype=var.dtype))


def export_torch_weights(cell: Cell | RecurrentLayer) -> dict[str, np.ndarray]:
    """PyTorch's ``weight_ih_l0``... arrays for ``cell`` or a layer (each combined bias goes to ``bias_ih``).

    Example::

        >>> sorted(export_torch_weights(RNNCell(3, 2, seed=0)))
        ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """
    out: dict[str, np.ndarray] = {}
    for layer, suffix, has_bias in _layers(cell):
        gates = _TORCH_GATES[type(layer)]
        p = {key: var.get_value() for key, var in layer.params.local_items()}
        out[f"weight_ih{suffix}"] = np.concatenate([p[_key(g, "W")].T for g in gates])
        out[f"weight_hh{suffix}"] = np.concatenate([p[_key(g, "U")].T for g in gates])
        if not has_bias:
            continue
        b_ih, b_hh = [], []
        for gate in gates:
            bias = p[_key(gate, "b")]
            if isinstance(layer, LSTMCell) and gate == "f":
                bias = bias + layer.forget_bias
            b_ih.append(bias)
            b_hh.append(p["b_hn"] if isinstance(layer, GRUCell) and gate == "h" else np.zeros_like(bias))
        out[f"bias_ih{suffix}"], out[f"bias_hh{suffix}"] = np.concatenate(b_ih), np.concatenate(b_hh)
    return out


__all__ = ["load_torch_weights", "export_torch_weights"]
