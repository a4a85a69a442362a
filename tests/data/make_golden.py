"""Generate ``golden_rnn.npz``: PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` forward and gradients, for the cell tests.

Run it from the repository root with torch 2.13.0 (CPU) installed::

    python tests/data/make_golden.py

Torch is used only here, never by symrnn or by the tests: the ``.npz`` it writes is
committed, so CI needs no torch. All random data is drawn with NumPy's
``default_rng`` (fixed seeds, see ``SEED``), so the inputs do not depend on
torch's generator or default initialization. The file is byte-reproducible
(fixed zip timestamps, one torch thread).

Cases
-----
For each ``mode`` in rnn (tanh), lstm, gru, each ``num_layers`` L in 1, 2, and each
dtype in float32, float64, one case named ``{mode}_l{L}_{dtype}`` (e.g. ``lstm_l2_float64``),
with T=5 time steps, B=3 batch, I=4 inputs, H=6 hidden units, time-major input
(``batch_first=False``), biases on, no dropout, unidirectional:

- every parameter is drawn from uniform(-0.5, 0.5);
- ``x`` (T, B, I) from uniform(-1, 1); ``h0`` (and ``c0`` for LSTM), (L, B, H), from uniform(-0.5, 0.5);
- ``R_output`` (T, B, H), ``R_h`` (L, B, H) (and ``R_c`` for LSTM) from a standard normal;
- ``output, h_n[, c_n] = module(x, h0[, (h0, c0)])``;
- ``loss = sum(output * R_output) + sum(h_n * R_h) [+ sum(c_n * R_c)]``, then ``loss.backward()``.

The float32 and float64 cases of one (mode, L) share the same draws (drawn in float64,
the float32 case rounds them); each case is computed by torch in its own dtype.

Keys in the archive (every array in its case's dtype, ``{case}/`` prefixed):
``x``, ``h0``, ``c0`` (LSTM), PyTorch's parameter names ``weight_ih_l{k}`` (G*H, I or H),
``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H,), the
results ``output`` (T, B, H), ``h_n`` (L, B, H), ``c_n`` (LSTM), ``loss`` (a 0-d array),
the weights of the loss ``R_output``, ``R_h``, ``R_c`` (LSTM), and the gradients of the
loss: ``grad_x``, ``grad_h0``, ``grad_c0`` (LSTM) and ``grad_<parameter name>`` for every
parameter. ``meta`` is a 0-d unicode array holding JSON (torch version, sizes, seeds,
gate orders, the list of cases); read it with ``json.loads(str(npz["meta"]))``. No pickles.

PyTorch's conventions (what a loader into symrnn's per-gate weights needs)
-------------------------------------------------------------------------
Weights act as ``x @ W.T`` (PyTorch stores (out, in)); symrnn's ``W_*`` is a block's transpose.
The gate blocks are stacked along the rows of ``weight_ih``/``weight_hh`` and the biases:

- RNN (G=1): ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.
- LSTM (G=4), rows in the order **i, f, g, o** (g = cell candidate, symrnn's ``c``;
  note that TF1's ``BasicLSTMCell`` uses i, j, f, o instead)::

      i = σ(W_ii x + b_ii + W_hi h + b_hi)      f = σ(W_if x + b_if + W_hf h + b_hf)
      g = tanh(W_ig x + b_ig + W_hg h + b_hg)   o = σ(W_io x + b_io + W_ho h + b_ho)
      c' = f * c + i * g                        h' = o * tanh(c')

  PyTorch has no forget bias: load into ``LSTMCell(..., forget_bias=0.0)``.
- GRU (G=3), rows in the order **r, z, n**::

      r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
      h' = (1 - z) * n + z * h

  This is symrnn's ``GRUCell(reset_after=True)`` with ``b_h = b_in`` and ``b_hn = b_hn``.

Every bias pair that is only ever summed (all of RNN and LSTM, GRU's r and z) maps onto
one symrnn bias ``b_* = bias_ih + bias_hh``; the stored gradients ``grad_bias_ih_*`` and
``grad_bias_hh_*`` of those blocks are equal, and equal symrnn's gradient of ``b_*``.
In the stacked cases layer k > 0 takes layer k-1's outputs (size H) as its input, and
``h_n[k]`` / ``c_n[k]`` are layer k's final states.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

TORCH_VERSION = "2.13.0"
SEED = 20240604
N_STEPS, N_BATCH, N_IN, N_HID = 5, 3, 4, 6
MODES = ("rnn", "lstm", "gru")
LAYERS = (1, 2)
DTYPES = ("float32", "float64")
GATE_ORDER = {"rnn": ["h"], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}
OUT = Path(__file__).resolve().with_name("golden_rnn.npz")


def case_name(mode: str, num_layers: int, dtype: str) -> str:
    return f"{mode}_l{num_layers}_{dtype}"


def case_seed(mode: str, num_layers: int) -> int:
    """One seed per (mode, num_layers); both dtypes share it."""
    return SEED + 10 * MODES.index(mode) + num_layers


def draw_case(mode: str, num_layers: int) -> dict[str, np.ndarray]:
    """All the random inputs of one case, in float64, keyed as in the archive."""
    rng = np.random.default_rng(case_seed(mode, num_layers))
    g = len(GATE_ORDER[mode])
    d: dict[str, np.ndarray] = {}
    for k in range(num_layers):
        n_in = N_IN if k == 0 else N_HID
        d[f"weight_ih_l{k}"] = rng.uniform(-0.5, 0.5, (g * N_HID, n_in))
        d[f"weight_hh_l{k}"] = rng.uniform(-0.5, 0.5, (g * N_HID, N_HID))
        d[f"bias_ih_l{k}"] = rng.uniform(-0.5, 0.5, (g * N_HID,))
        d[f"bias_hh_l{k}"] = rng.uniform(-0.5, 0.5, (g * N_HID,))
    d["x"] = rng.uniform(-1.0, 1.0, (N_STEPS, N_BATCH, N_IN))
    d["h0"] = rng.uniform(-0.5, 0.5, (num_layers, N_BATCH, N_HID))
    if mode == "lstm":
        d["c0"] = rng.uniform(-0.5, 0.5, (num_layers, N_BATCH, N_HID))
    d["R_output"] = rng.standard_normal((N_STEPS, N_BATCH, N_HID))
    d["R_h"] = rng.standard_normal((num_layers, N_BATCH, N_HID))
    if mode == "lstm":
        d["R_c"] = rng.standard_normal((num_layers, N_BATCH, N_HID))
    return d


def run_case(torch, mode: str, num_layers: int, dtype: str) -> dict[str, np.ndarray]:
    """Forward and backward through torch for one case; every array comes back in ``dtype``."""
    nn = torch.nn
    tdtype = getattr(torch, dtype)
    draws = {k: v.astype(dtype) for k, v in draw_case(mode, num_layers).items()}
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[mode]
    kwargs = {"nonlinearity": "tanh"} if mode == "rnn" else {}
    module = cls(N_IN, N_HID, num_layers=num_layers, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                 dtype=tdtype, **kwargs)
    param_names = [name for name, _ in module.named_parameters()]
    expected = [f"{w}_l{k}" for k in range(num_layers) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert param_names == expected, param_names
    return forward_backward(torch, module, draws, mode, dtype)


def forward_backward(torch, module, draws: dict[str, np.ndarray], mode: str, dtype: str) -> dict[str, np.ndarray]:
    """Set ``module``'s parameters from ``draws``, run it forward and backward on the drawn inputs, and return
    the draws with the outputs, the loss and every gradient, each an array of ``dtype``
    (``make_golden_layers.py`` runs its layers through this too)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            assert tuple(p.shape) == draws[name].shape, (name, p.shape, draws[name].shape)
            p.copy_(torch.from_numpy(draws[name]))

    def leaf(key):
        return torch.from_numpy(draws[key].copy()).requires_grad_(True)

    x, h0 = leaf("x"), leaf("h0")
    r_out, r_h = torch.from_numpy(draws["R_output"]), torch.from_numpy(draws["R_h"])
    if mode == "lstm":
        c0 = leaf("c0")
        output, (h_n, c_n) = module(x, (h0, c0))
        loss = (output * r_out).sum() + (h_n * r_h).sum() + (c_n * torch.from_numpy(draws["R_c"])).sum()
    else:
        output, h_n = module(x, h0)
        loss = (output * r_out).sum() + (h_n * r_h).sum()
    loss.backward()

    res = dict(draws)
    res["output"] = output.detach().numpy()
    res["h_n"] = h_n.detach().numpy()
    res["loss"] = loss.detach().numpy()
    res["grad_x"] = x.grad.numpy()
    res["grad_h0"] = h0.grad.numpy()
    if mode == "lstm":
        res["c_n"] = c_n.detach().numpy()
        res["grad_c0"] = c0.grad.numpy()
    for name, p in module.named_parameters():
        res[f"grad_{name}"] = p.grad.numpy()
    for key, a in res.items():
        assert a.dtype == np.dtype(dtype), (key, a.dtype)
    return {k: np.array(v, order="C") for k, v in res.items()}  # (ascontiguousarray would make loss 1-d)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed``, but with fixed zip timestamps and sorted keys, so reruns give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def main() -> int:
    import torch  # only here: importing this module (pytest's doctest collection) must not need torch

    if torch.__version__.split("+")[0] != TORCH_VERSION:
        print(f"warning: torch {torch.__version__}, the committed file was made with {TORCH_VERSION}",
              file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    arrays: dict[str, np.ndarray] = {}
    cases = {}
    for mode in MODES:
        for num_layers in LAYERS:
            for dtype in DTYPES:
                name = case_name(mode, num_layers, dtype)
                res = run_case(torch, mode, num_layers, dtype)
                arrays.update({f"{name}/{k}": v for k, v in res.items()})
                cases[name] = {"mode": mode, "num_layers": num_layers, "dtype": dtype,
                               "seed": case_seed(mode, num_layers), "keys": sorted(res)}
    meta = {
        "generator": "tests/data/make_golden.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "seed": SEED,
        "sizes": {"T": N_STEPS, "B": N_BATCH, "I": N_IN, "H": N_HID},
        "layout": "time-major (T, B, I), batch_first=False; states (num_layers, B, H)",
        "nonlinearity": "tanh",
        "init": "uniform(-0.5, 0.5) for every parameter; x uniform(-1, 1); h0, c0 uniform(-0.5, 0.5); R normal(0, 1)",
        "loss": "sum(output * R_output) + sum(h_n * R_h) [+ sum(c_n * R_c) for lstm]",
        "gate_order": GATE_ORDER,
        "cases": cases,
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    write_npz(OUT, arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
