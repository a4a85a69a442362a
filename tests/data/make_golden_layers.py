"""Generate ``golden_layers.npz``: PyTorch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` layers, for ``nn.RNN``/``LSTM``/``GRU``.

Run it from the repository root with torch 2.13.0 (CPU) installed::

    python tests/data/make_golden_layers.py

Torch is used only here, never by symrnn or by the tests: the ``.npz`` it writes is
committed, so CI needs no torch. All random data is drawn with NumPy's
``default_rng`` (one fixed seed per case), so nothing depends on torch's generator
or default initialization. The file is byte-reproducible (fixed zip timestamps,
sorted keys, one torch thread).

Cases
-----
For each ``mode`` in rnn (tanh), lstm, gru, each ``num_layers`` L in 1, 2, each
``bidirectional`` (D = 1 or 2) and each ``batch_first``, one float64 case named
``{mode}_l{L}_{uni|bi}_{tm|bf}`` (e.g. ``gru_l2_bi_bf``), with T=5 steps, B=3 batch,
I=4 inputs, H=6 hidden units, biases on, dropout 0:

- every parameter is drawn from uniform(-0.5, 0.5), in ``named_parameters()`` order;
- ``x`` from uniform(-1, 1), (T, B, I), or (B, T, I) when batch_first;
  ``h0`` (and ``c0`` for LSTM), (L*D, B, H), from uniform(-0.5, 0.5);
- ``R_output`` (the output's shape, (T, B, D*H) or (B, T, D*H)), ``R_h`` (L*D, B, H)
  (and ``R_c``) from a standard normal;
- ``output, h_n[, c_n] = module(x, h0 or (h0, c0))``;
- ``loss = sum(output * R_output) + sum(h_n * R_h) [+ sum(c_n * R_c)]``, then ``loss.backward()``.

Keys (``{case}/`` prefixed): ``x``, ``h0``, ``c0`` (LSTM), PyTorch's parameter names
(``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, and the same with
``_reverse`` when bidirectional), ``output``, ``h_n``, ``c_n`` (LSTM), ``loss`` (0-d),
``R_output``, ``R_h``, ``R_c`` (LSTM), and the gradients ``grad_x``, ``grad_h0``,
``grad_c0`` (LSTM), ``grad_<parameter name>``. ``meta`` is a 0-d unicode array of
JSON (torch version, sizes, seeds, cases). No pickles.

PyTorch's conventions are those described in ``make_golden.py`` (gate rows i, f, g, o
for the LSTM and r, z, n for the GRU; weights act as ``x @ W.T``), plus: the reverse
direction of layer k is ``_l{k}_reverse``; ``h_n[k*D + d]`` is layer k's direction d;
``output[..., :H]`` is the forward direction and ``output[..., H:]`` the reverse one,
both in time order; layer k > 0 reads layer k-1's whole output (D*H features).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_golden import forward_backward, write_npz  # noqa: E402 (the cells' generator, beside this one)

TORCH_VERSION = "2.13.0"
SEED = 20261202
N_STEPS, N_BATCH, N_IN, N_HID = 5, 3, 4, 6
MODES = ("rnn", "lstm", "gru")
LAYERS = (1, 2)
BIDIRECTIONAL = (False, True)
BATCH_FIRST = (False, True)
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
OUT = Path(__file__).resolve().with_name("golden_layers.npz")


def case_name(mode: str, num_layers: int, bidirectional: bool, batch_first: bool) -> str:
    return f"{mode}_l{num_layers}_{'bi' if bidirectional else 'uni'}_{'bf' if batch_first else 'tm'}"


def all_cases() -> list[tuple[str, int, bool, bool]]:
    return [(m, n, bi, bf) for m in MODES for n in LAYERS for bi in BIDIRECTIONAL for bf in BATCH_FIRST]


def param_names(num_layers: int, bidirectional: bool) -> list[str]:
    """PyTorch's ``named_parameters()`` order."""
    suffixes = ["", "_reverse"] if bidirectional else [""]
    return [f"{w}_l{k}{s}" for k in range(num_layers) for s in suffixes
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def draw_case(mode: str, num_layers: int, bidirectional: bool, batch_first: bool, seed: int) -> dict[str, np.ndarray]:
    """All the random inputs of one case, keyed as in the archive."""
    rng = np.random.default_rng(seed)
    g, n_dir = N_GATES[mode], 2 if bidirectional else 1
    d: dict[str, np.ndarray] = {}
    for name in param_names(num_layers, bidirectional):
        layer = int(name.split("_l")[1].split("_")[0])
        n_in = N_IN if layer == 0 else n_dir * N_HID
        shape = {"weight_ih": (g * N_HID, n_in), "weight_hh": (g * N_HID, N_HID)}.get(name.split("_l")[0], (g * N_HID,))
        d[name] = rng.uniform(-0.5, 0.5, shape)
    seq = (N_BATCH, N_STEPS) if batch_first else (N_STEPS, N_BATCH)
    d["x"] = rng.uniform(-1.0, 1.0, (*seq, N_IN))
    d["h0"] = rng.uniform(-0.5, 0.5, (num_layers * n_dir, N_BATCH, N_HID))
    if mode == "lstm":
        d["c0"] = rng.uniform(-0.5, 0.5, (num_layers * n_dir, N_BATCH, N_HID))
    d["R_output"] = rng.standard_normal((*seq, n_dir * N_HID))
    d["R_h"] = rng.standard_normal((num_layers * n_dir, N_BATCH, N_HID))
    if mode == "lstm":
        d["R_c"] = rng.standard_normal((num_layers * n_dir, N_BATCH, N_HID))
    return d


def run_case(torch, mode: str, num_layers: int, bidirectional: bool, batch_first: bool,
             seed: int) -> dict[str, np.ndarray]:
    nn = torch.nn
    draws = draw_case(mode, num_layers, bidirectional, batch_first, seed)
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[mode]
    kwargs = {"nonlinearity": "tanh"} if mode == "rnn" else {}
    module = cls(N_IN, N_HID, num_layers=num_layers, bias=True, batch_first=batch_first, dropout=0.0,
                 bidirectional=bidirectional, dtype=torch.float64, **kwargs)
    names = [name for name, _ in module.named_parameters()]
    assert names == param_names(num_layers, bidirectional), names
    return forward_backward(torch, module, draws, mode, "float64")


def main() -> int:
    import torch  # only here: importing this module (pytest's doctest collection) must not need torch

    if torch.__version__.split("+")[0] != TORCH_VERSION:
        print(f"warning: torch {torch.__version__}, the committed file was made with {TORCH_VERSION}",
              file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    arrays: dict[str, np.ndarray] = {}
    cases = {}
    for index, (mode, num_layers, bidirectional, batch_first) in enumerate(all_cases()):
        name = case_name(mode, num_layers, bidirectional, batch_first)
        seed = SEED + index
        res = run_case(torch, mode, num_layers, bidirectional, batch_first, seed)
        arrays.update({f"{name}/{k}": v for k, v in res.items()})
        cases[name] = {"mode": mode, "num_layers": num_layers, "bidirectional": bidirectional,
                       "batch_first": batch_first, "seed": seed, "keys": sorted(res)}
    meta = {
        "generator": "tests/data/make_golden_layers.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "sizes": {"T": N_STEPS, "B": N_BATCH, "I": N_IN, "H": N_HID},
        "dtype": "float64",
        "nonlinearity": "tanh",
        "init": "uniform(-0.5, 0.5) for every parameter; x uniform(-1, 1); h0, c0 uniform(-0.5, 0.5); R normal(0, 1)",
        "loss": "sum(output * R_output) + sum(h_n * R_h) [+ sum(c_n * R_c) for lstm]",
        "cases": cases,
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    write_npz(OUT, arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(arrays)} arrays, {len(cases)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
