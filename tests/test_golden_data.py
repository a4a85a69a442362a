"""The golden PyTorch vectors (tests/data/golden_rnn.npz) agree with PyTorch's equations, written in NumPy.

No torch and no symrnn here: this checks the committed file and the NumPy references in
tests/data/reference_cells.py against each other, so the cell tests can trust both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data import reference_cells as ref

GOLDEN = Path(__file__).resolve().parent / "data" / "golden_rnn.npz"
MODES, LAYERS, DTYPES = ("rnn", "lstm", "gru"), (1, 2), ("float32", "float64")
CASES = [(m, n, d) for m in MODES for n in LAYERS for d in DTYPES]
TOL = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def case(golden, mode, num_layers, dtype):
    prefix = f"{mode}_l{num_layers}_{dtype}/"
    return {k[len(prefix):]: v for k, v in golden.items() if k.startswith(prefix)}


def param_names(num_layers):
    return [f"{w}_l{k}" for k in range(num_layers) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def numpy_loss(mode, d, num_layers):
    out, h_n, c_n = ref.torch_forward(mode, d["x"], d["h0"], d, num_layers, c0=d.get("c0"))
    loss = np.sum(out * d["R_output"]) + np.sum(h_n * d["R_h"])
    if mode == "lstm":
        loss = loss + np.sum(c_n * d["R_c"])
    return loss, (out, h_n, c_n)


def test_file_is_small_and_complete(golden):
    assert GOLDEN.stat().st_size < 1_000_000
    meta = json.loads(str(golden["meta"]))
    assert meta["torch_version"].startswith("2.13.0")
    t, b, i, h = (meta["sizes"][k] for k in "TBIH")
    assert meta["gate_order"] == {"rnn": ["h"], "lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}
    assert len(meta["cases"]) == len(CASES)
    for mode, num_layers, dtype in CASES:
        d = case(golden, mode, num_layers, dtype)
        g = len(ref.GATES[mode])
        lstm = mode == "lstm"
        want = {"x": (t, b, i), "h0": (num_layers, b, h), "output": (t, b, h), "h_n": (num_layers, b, h),
                "loss": (), "R_output": (t, b, h), "R_h": (num_layers, b, h), "grad_x": (t, b, i),
                "grad_h0": (num_layers, b, h)}
        if lstm:
            want.update({k: (num_layers, b, h) for k in ("c0", "c_n", "R_c", "grad_c0")})
        for k, name in enumerate(param_names(num_layers)):
            layer = k // 4
            shape = {"weight_ih": (g * h, i if layer == 0 else h), "weight_hh": (g * h, h)}.get(
                name.rsplit("_", 1)[0], (g * h,))
            want[name] = want[f"grad_{name}"] = shape
        assert {k: v.shape for k, v in d.items()} == want, (mode, num_layers, dtype)
        assert all(v.dtype == np.dtype(dtype) for v in d.values())
        assert meta["cases"][f"{mode}_l{num_layers}_{dtype}"]["keys"] == sorted(want)


@pytest.mark.parametrize("mode,num_layers,dtype", CASES)
def test_numpy_forward_reproduces_torch(golden, mode, num_layers, dtype):
    d = case(golden, mode, num_layers, dtype)
    loss, (out, h_n, c_n) = numpy_loss(mode, d, num_layers)
    tol = TOL[dtype]
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, d["output"], rtol=tol, atol=tol)
    np.testing.assert_allclose(h_n, d["h_n"], rtol=tol, atol=tol)
    np.testing.assert_allclose(out[-1], d["h_n"][-1], rtol=tol, atol=tol)  # the top layer's last output
    if mode == "lstm":
        np.testing.assert_allclose(c_n, d["c_n"], rtol=tol, atol=tol)
    np.testing.assert_allclose(loss, d["loss"], rtol=tol, atol=tol)


@pytest.mark.parametrize("mode,num_layers,dtype", CASES)
def test_per_gate_cells_reproduce_torch(golden, mode, num_layers, dtype):
    """symrnn's equations with symrnn's parameter names, loaded from PyTorch's layout, give PyTorch's results."""
    d = case(golden, mode, num_layers, dtype)
    inputs, h_n, c_n = d["x"], [], []
    for k in range(num_layers):
        p = ref.torch_to_symrnn(mode, d, layer=k)
        if mode == "rnn":
            assert sorted(p) == sorted(ref.SYMRNN_PARAMS["rnn"])
            inputs, h = ref.run_over_time(ref.rnn_step, inputs, d["h0"][k], p)
        elif mode == "lstm":
            assert sorted(p) == sorted(ref.SYMRNN_PARAMS["lstm"])
            inputs, (c, h) = ref.run_over_time(ref.lstm_step, inputs, (d["c0"][k], d["h0"][k]), p, forget_bias=0.0)
            c_n.append(c)
        else:
            assert sorted(p) == sorted(ref.SYMRNN_PARAMS["gru"] + ("b_hn",))
            inputs, h = ref.run_over_time(ref.gru_step, inputs, d["h0"][k], p, reset_after=True)
        n_hid = d["h0"].shape[-1]
        n_in = d["x"].shape[-1] if k == 0 else n_hid
        assert {name: v.shape for name, v in p.items()} == {
            name: {"W": (n_in, n_hid), "U": (n_hid, n_hid), "b": (n_hid,)}[name[0]] for name in p}
        h_n.append(h)
    tol = TOL[dtype]
    np.testing.assert_allclose(inputs, d["output"], rtol=tol, atol=tol)
    np.testing.assert_allclose(np.stack(h_n), d["h_n"], rtol=tol, atol=tol)
    if mode == "lstm":
        np.testing.assert_allclose(np.stack(c_n), d["c_n"], rtol=tol, atol=tol)


@pytest.mark.parametrize("mode,num_layers", [(m, n) for m in MODES for n in LAYERS])
def test_gradients_match_finite_differences(golden, mode, num_layers):
    """Every stored float64 gradient against central differences of the NumPy loss."""
    d = {k: v.copy() for k, v in case(golden, mode, num_layers, "float64").items()}
    wrt = ["x", "h0"] + (["c0"] if mode == "lstm" else []) + param_names(num_layers)
    eps = 1e-6
    for name in wrt:
        a = d[name]
        num = np.empty_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            up = numpy_loss(mode, d, num_layers)[0]
            a[idx] = old - eps
            down = numpy_loss(mode, d, num_layers)[0]
            a[idx] = old
            num[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(d[f"grad_{name}"], num, rtol=1e-7, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("mode,num_layers", [(m, n) for m in MODES for n in LAYERS])
def test_float32_and_float64_cases_agree(golden, mode, num_layers):
    """The float32 case is the float64 case's draws rounded; its results agree to float32 accuracy."""
    d32, d64 = case(golden, mode, num_layers, "float32"), case(golden, mode, num_layers, "float64")
    for key in d64:
        if key in ("x", "h0", "c0", "R_output", "R_h", "R_c") or key.startswith(("weight", "bias")):
            np.testing.assert_array_equal(d32[key], d64[key].astype(np.float32), err_msg=key)
        else:
            np.testing.assert_allclose(d32[key], d64[key], rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("mode,num_layers", [(m, n) for m in MODES for n in LAYERS])
def test_summed_bias_pairs_have_equal_gradients(golden, mode, num_layers):
    """Where PyTorch only ever adds bias_ih and bias_hh, their gradients are one gradient (symrnn's b_*)."""
    d = case(golden, mode, num_layers, "float64")
    h = d["h0"].shape[-1]
    summed = slice(0, 2 * h) if mode == "gru" else slice(None)  # GRU's n block keeps b_in and b_hn apart
    for k in range(num_layers):
        gi, gh = d[f"grad_bias_ih_l{k}"], d[f"grad_bias_hh_l{k}"]
        np.testing.assert_allclose(gi[summed], gh[summed], rtol=1e-12, atol=1e-14)
        if mode == "gru":
            assert not np.allclose(gi[2 * h:], gh[2 * h:])


# ---------------------------------------------------------------------------
# TensorFlow 1's GRUCell (reset_after=False): per-gate form against the literal fused form


def tf1_kernels(rng, n_in, n_hid, dtype):
    gate_kernel = rng.uniform(-0.5, 0.5, (n_in + n_hid, 2 * n_hid)).astype(dtype)
    gate_bias = (1.0 + rng.uniform(-0.5, 0.5, 2 * n_hid)).astype(dtype)  # TF1 initializes it to 1.0
    candidate_kernel = rng.uniform(-0.5, 0.5, (n_in + n_hid, n_hid)).astype(dtype)
    candidate_bias = rng.uniform(-0.5, 0.5, n_hid).astype(dtype)
    return gate_kernel, gate_bias, candidate_kernel, candidate_bias


@pytest.mark.parametrize("dtype", DTYPES)
def test_tf1_gru_per_gate_matches_fused(dtype):
    rng = np.random.default_rng(7)
    n_t, n_b, n_in, n_hid = 5, 3, 4, 6
    kernels = tf1_kernels(rng, n_in, n_hid, dtype)
    p = ref.tf1_gru_params_from_kernels(*kernels, input_size=n_in)
    assert sorted(p) == sorted(ref.SYMRNN_PARAMS["gru"])
    assert p["W_z"].shape == (n_in, n_hid) and p["U_r"].shape == (n_hid, n_hid) and p["b_h"].shape == (n_hid,)
    xs = rng.uniform(-1, 1, (n_t, n_b, n_in)).astype(dtype)
    h = h0 = rng.uniform(-0.5, 0.5, (n_b, n_hid)).astype(dtype)
    fused = []
    for x_t in xs:
        h = ref.tf1_gru_cell_fused(x_t, h, *kernels)
        fused.append(h)
    outs, h_last = ref.run_over_time(ref.gru_step, xs, h0, p, reset_after=False)
    assert outs.dtype == np.dtype(dtype) and outs.shape == (n_t, n_b, n_hid)
    np.testing.assert_allclose(outs, np.stack(fused), rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(h_last, outs[-1])
    # reset_after=True is a different cell (with b_hn = 0 it differs only through where r multiplies)
    other, _ = ref.run_over_time(ref.gru_step, xs, h0, {**p, "b_hn": np.zeros(n_hid, dtype)}, reset_after=True)
    assert not np.allclose(other, outs)


def test_tf1_gru_by_hand():
    """Zero kernels: z = r = σ(b); the candidate is tanh(b_h); h' = z*h + (1-z)*tanh(b_h)."""
    n_in, n_hid = 2, 3
    zeros = {k: np.zeros((n_in if k[0] == "W" else n_hid, n_hid)) for k in ("W_z", "W_r", "W_h", "U_z", "U_r", "U_h")}
    p = {**zeros, "b_z": np.array([0.0, 1.0, -1.0]), "b_r": np.full(3, 5.0), "b_h": np.array([0.5, 0.0, -0.5])}
    h = np.array([[1.0, -2.0, 3.0]])
    out, new = ref.gru_step(np.ones((1, n_in)), h, p)
    z = 1 / (1 + np.exp(-p["b_z"]))
    np.testing.assert_allclose(out, z * h + (1 - z) * np.tanh(p["b_h"]), rtol=1e-15)
    assert new is out
    # the reset gate only matters through U_h: r*h feeds U_h, and r comes first in TF1's fused gate kernel
    p["U_h"] = np.eye(n_hid)
    r = 1 / (1 + np.exp(-5.0))
    out, _ = ref.gru_step(np.ones((1, n_in)), h, p)
    np.testing.assert_allclose(out, z * h + (1 - z) * np.tanh(r * h + p["b_h"]), rtol=1e-15)


def test_lstm_forget_bias_is_added_to_the_forget_gate_only():
    rng = np.random.default_rng(3)
    n_in, n_hid = 3, 4
    p = {f"{k}_{g}": rng.uniform(-0.5, 0.5, (n_in if k == "W" else n_hid, n_hid)) for k in "WU" for g in "ifoc"}
    p.update({f"b_{g}": rng.uniform(-0.5, 0.5, n_hid) for g in "ifoc"})
    x, c, h = rng.standard_normal((2, n_in)), rng.standard_normal((2, n_hid)), rng.standard_normal((2, n_hid))
    shifted = {**p, "b_f": p["b_f"] + 1.0}
    a = ref.lstm_step(x, (c, h), p, forget_bias=1.0)
    b = ref.lstm_step(x, (c, h), shifted, forget_bias=0.0)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
    np.testing.assert_allclose(a[1][0], b[1][0], rtol=1e-14)
