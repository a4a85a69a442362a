"""nn.LSTM, nn.GRU and nn.RNN against PyTorch's layers, through golden data (tests/data/golden_layers.npz, made by
tests/data/make_golden_layers.py with torch 2.13.0; torch is not needed here), and against NumPy for dropout."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.ops.blas import Dot
from symrnn.ops.gradops import ShapeMismatchError
from symrnn.scan.op import Scan

GOLDEN_PATH = Path(__file__).parent / "data" / "golden_layers.npz"
GOLDEN = np.load(GOLDEN_PATH, allow_pickle=False)
TOL = dict(rtol=1e-10, atol=1e-10)
CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# PyTorch's row blocks, as symrnn gate names (written here, independently of symrnn.nn.interop)
TORCH_GATES = {"rnn": [""], "lstm": ["i", "f", "c", "o"], "gru": ["r", "z", "h"]}
CASES = [(m, n, bi, bf) for m in ("rnn", "lstm", "gru") for n in (1, 2) for bi in (False, True) for bf in (False, True)]


def case_name(mode, num_layers, bidirectional, batch_first):
    return f"{mode}_l{num_layers}_{'bi' if bidirectional else 'uni'}_{'bf' if batch_first else 'tm'}"


def golden(name):
    prefix = name + "/"
    return {k[len(prefix):]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def torch_arrays(g):
    return {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))}


def torch_layout_grads(mode, layer, grads):
    """The per-gate gradients of ``layer.params``, rearranged into PyTorch's arrays and names."""
    key = lambda gate, kind: kind if not gate else f"{kind}_{gate}"  # noqa: E731
    out = {}
    for k in range(layer.num_layers):
        for suffix in (["", "_reverse"] if layer.bidirectional else [""]):
            prefix = f"l{k}{suffix}/"
            g = {name[len(prefix):]: grads[name] for name in grads if name.startswith(prefix)}
            gates = TORCH_GATES[mode]
            out[f"grad_weight_ih_l{k}{suffix}"] = np.concatenate([g[key(gt, "W")].T for gt in gates])
            out[f"grad_weight_hh_l{k}{suffix}"] = np.concatenate([g[key(gt, "U")].T for gt in gates])
            out[f"grad_bias_ih_l{k}{suffix}"] = np.concatenate([g[key(gt, "b")] for gt in gates])
            out[f"grad_bias_hh_l{k}{suffix}"] = np.concatenate(
                [g["b_hn"] if mode == "gru" and gt == "h" else g[key(gt, "b")] for gt in gates])
    return out


def test_golden_file_is_small_and_complete():
    assert GOLDEN_PATH.stat().st_size < 600_000
    meta = json.loads(str(GOLDEN["meta"]))
    assert meta["torch_version"].startswith("2.13.0")
    assert sorted(meta["cases"]) == sorted(case_name(*c) for c in CASES)
    for c in CASES:
        g = golden(case_name(*c))
        assert sorted(g) == meta["cases"][case_name(*c)]["keys"]
        assert all(v.dtype == np.float64 for v in g.values())


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first", CASES)
def test_layers_match_pytorch(kind, num_layers, bidirectional, batch_first, mode):
    g = golden(case_name(kind, num_layers, bidirectional, batch_first))
    n_in, n_hid = g["x"].shape[-1], g["h0"].shape[-1]
    layer = CLASSES[kind](n_in, n_hid, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional,
                          seed=0, dtype="float64")
    nn.load_torch_weights(layer, torch_arrays(g))
    x, h0, c0 = T.tensor3("x", dtype="float64"), T.tensor3("h0", dtype="float64"), T.tensor3("c0", dtype="float64")
    if kind == "lstm":
        out, (h_n, c_n) = layer(x, (h0, c0))
        inputs, outs = [x, h0, c0], [out, h_n, c_n]
        loss = (out * g["R_output"]).sum() + (h_n * g["R_h"]).sum() + (c_n * g["R_c"]).sum()
    else:
        out, h_n = layer(x, h0)
        inputs, outs = [x, h0], [out, h_n]
        loss = (out * g["R_output"]).sum() + (h_n * g["R_h"]).sum()
    names = [key for key, _ in layer.params.local_items()]
    grads = symrnn.grad(loss, inputs + list(layer.params.values()))
    f = symrnn.function(inputs, outs + [loss] + grads, mode=mode)
    values = f(*[g[v.name] for v in inputs])
    for want, got in zip(["output", "h_n", "c_n"], values[:len(outs)]):
        np.testing.assert_allclose(got, g[want], **TOL, err_msg=want)
    np.testing.assert_allclose(values[len(outs)], g["loss"], **TOL)
    grad_values = values[len(outs) + 1:]
    for var, got in zip(inputs, grad_values):
        np.testing.assert_allclose(got, g[f"grad_{var.name}"], **TOL, err_msg=var.name)
    by_name = dict(zip(names, grad_values[len(inputs):]))
    want_grads = torch_layout_grads(kind, layer, by_name)
    assert sorted(want_grads) == sorted(f"grad_{k}" for k in torch_arrays(g))
    for name, got in want_grads.items():
        np.testing.assert_allclose(got, g[name], **TOL, err_msg=name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_initial_state_defaults_to_zeros(kind):
    g = golden(case_name(kind, 2, True, False))
    layer = CLASSES[kind](4, 6, num_layers=2, bidirectional=True, dtype="float64")
    nn.load_torch_weights(layer, torch_arrays(g))
    x, h0, c0 = T.tensor3("x"), T.tensor3("h0"), T.tensor3("c0")
    given = layer(x, (h0, c0) if kind == "lstm" else h0)
    default = layer(x)
    flat = lambda r: [r[0], *(r[1] if kind == "lstm" else [r[1]])]  # noqa: E731
    f = symrnn.function([x, h0, c0], flat(given) + flat(default), on_unused_input="ignore")
    zeros = np.zeros_like(g["h0"])
    values = f(g["x"], zeros, zeros)
    half = len(values) // 2
    for a, b in zip(values[:half], values[half:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_weights_round_trip_with_reverse_directions(kind):
    g = golden(case_name(kind, 2, True, True))
    arrays = torch_arrays(g)
    layer = CLASSES[kind](4, 6, num_layers=2, bidirectional=True, dtype="float64")
    nn.load_torch_weights(layer, arrays)
    exported = nn.export_torch_weights(layer)
    assert list(exported) == [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
                              for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]  # PyTorch's order
    for key, value in exported.items():
        if key.startswith("weight"):
            np.testing.assert_array_equal(value, arrays[key])
        else:  # the summed biases come back summed into bias_ih; GRU's n block keeps b_in and b_hn apart
            other = key.replace("_ih_", "_hh_") if "_ih_" in key else key.replace("_hh_", "_ih_")
            np.testing.assert_allclose(exported[key] + exported[other], arrays[key] + arrays[other], rtol=1e-12)
    again = CLASSES[kind](4, 6, num_layers=2, bidirectional=True, dtype="float64")
    nn.load_torch_weights(again, exported)
    for (name, a), b in zip(layer.params.local_items(), again.params.values()):
        np.testing.assert_allclose(b.get_value(), a.get_value(), rtol=1e-12, err_msg=name)


def test_parameters_have_unique_hierarchical_names():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, name="encoder/lstm")
    names = [v.name for v in lstm.params.values()]
    assert len(set(names)) == len(names) == 2 * 2 * 12
    assert names[0] == "encoder/lstm/l0/W_i" and "encoder/lstm/l1_reverse/b_c" in names
    assert all(v.get_value().dtype == symrnn.config.floatX for v in lstm.params.values())
    bound = 1 / np.sqrt(4)  # PyTorch's initialization
    assert all(np.abs(v.get_value()).max() <= bound for v in lstm.params.values())


def test_bias_false_has_no_bias_parameters_and_no_bias_arrays():
    g = golden(case_name("gru", 1, False, False))
    weights = {k: v for k, v in torch_arrays(g).items() if k.startswith("weight")}
    gru = nn.GRU(4, 6, bias=False, dtype="float64")
    assert not any(k.rsplit("/", 1)[1].startswith("b") for k in gru.params)
    nn.load_torch_weights(gru, weights)
    assert sorted(nn.export_torch_weights(gru)) == sorted(weights)
    # Independent NumPy: PyTorch's GRU equations with zero biases.
    x = g["x"]
    h = np.zeros((3, 6))
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    w_ih, w_hh = np.split(weights["weight_ih_l0"], 3), np.split(weights["weight_hh_l0"], 3)
    for x_t in x:
        r, z = sig(x_t @ w_ih[0].T + h @ w_hh[0].T), sig(x_t @ w_ih[1].T + h @ w_hh[1].T)
        n = np.tanh(x_t @ w_ih[2].T + r * (h @ w_hh[2].T))
        h = (1 - z) * n + z * h
    xv = T.tensor3("x")
    np.testing.assert_allclose(symrnn.function([xv], gru(xv)[1])(x)[0], h, rtol=1e-12)


def test_relu_rnn_matches_numpy():
    rnn = nn.RNN(3, 5, num_layers=2, nonlinearity="relu", seed=1, dtype="float64")
    w = nn.export_torch_weights(rnn)
    x = np.random.default_rng(0).normal(size=(4, 2, 3))
    seq = x
    for k in range(2):
        h, outs = np.zeros((2, 5)), []
        for x_t in seq:
            h = np.maximum(0, x_t @ w[f"weight_ih_l{k}"].T + w[f"bias_ih_l{k}"] + h @ w[f"weight_hh_l{k}"].T
                           + w[f"bias_hh_l{k}"])
            outs.append(h)
        seq = np.stack(outs)
    xv = T.tensor3("x")
    np.testing.assert_allclose(symrnn.function([xv], rnn(xv)[0])(x), seq, rtol=1e-12)


# --------------------------------------------------------------------------- dropout between layers


def test_dropout_zero_is_no_dropout():
    """dropout=0.0 against the same weights in a layer whose dropout is on but switched off by eval()."""
    x = np.random.default_rng(1).normal(size=(5, 2, 3))
    zero = nn.GRU(3, 8, num_layers=3, dropout=0.0, seed=4, dtype="float64")
    off = nn.GRU(3, 8, num_layers=3, dropout=0.3, seed=5, dtype="float64").eval()
    nn.load_torch_weights(off, nn.export_torch_weights(zero))
    xv = T.tensor3("x")
    got_zero = symrnn.function([xv], list(zero(xv)))(x)
    got_off = symrnn.function([xv], list(off(xv)))(x)
    for a, b in zip(got_zero, got_off):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not any("binomial" in str(n.op) for n in symrnn.function([xv], zero(xv)[0]).nodes)


def test_dropout_acts_between_layers_only_and_eval_turns_it_off():
    """Against NumPy: layer 2 reads layer 1's outputs times a 0 or 1/keep mask; the last layer is never dropped."""
    p, H = 0.5, 200
    rnn = nn.RNN(3, H, num_layers=2, dropout=p, seed=2, dtype="float64")
    w = nn.export_torch_weights(rnn)
    x = np.random.default_rng(2).normal(size=(4, 2, 3))
    xv = T.tensor3("x")
    out, h_n = rnn(xv)
    f = symrnn.function([xv], [out, h_n])

    def layer(k, seq):
        h, outs = np.zeros((seq.shape[1], H)), []
        for x_t in seq:
            h = np.tanh(x_t @ w[f"weight_ih_l{k}"].T + w[f"bias_ih_l{k}"] + h @ w[f"weight_hh_l{k}"].T
                        + w[f"bias_hh_l{k}"])
            outs.append(h)
        return np.stack(outs)

    first = layer(0, x)
    got_out, got_h = f(x)
    # The last layer's output is not dropped: no exact zeros (tanh of a random sum never is 0).
    assert not (got_out == 0).any()
    np.testing.assert_array_equal(got_out[-1], got_h[-1])  # the state is the (undropped) output
    np.testing.assert_allclose(got_h[0], first[-1], rtol=1e-12)  # layer 0's recurrence never sees dropout
    # Recover the mask from layer 1's input: it is layer 0's output, each unit kept x2 or zeroed.
    assert not np.allclose(got_out, layer(1, first))
    again_out, _ = f(x)
    assert not np.allclose(again_out, got_out)  # a fresh mask each call
    rnn.eval()
    eval_out, eval_h = f(x)
    np.testing.assert_allclose(eval_out, layer(1, first), rtol=1e-12)
    np.testing.assert_allclose(eval_h[1], layer(1, first)[-1], rtol=1e-12)
    assert rnn.train() is rnn
    assert not np.allclose(f(x)[0], eval_out)


def test_dropout_mask_scales_kept_units():
    """The mask between layers: each unit zeroed or scaled by 1/(1-p), about half each for p=0.5."""
    p = 0.5
    lstm = nn.LSTM(2, 300, num_layers=2, dropout=p, seed=3, dtype="float64")
    a = np.random.default_rng(0).uniform(1, 2, size=(3, 2, 300))
    av = T.tensor3("a")
    f = symrnn.function([av], lstm._dropout(av))
    got = f(a)
    dropped = got == 0
    assert 0.4 < dropped.mean() < 0.6
    np.testing.assert_allclose(got[~dropped], a[~dropped] / (1 - p), rtol=1e-12)


def test_dropout_arguments_are_checked():
    with pytest.raises(GraphTypeError, match="dropout must be a probability"):
        nn.LSTM(2, 3, num_layers=2, dropout=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.GRU(2, 3, dropout=0.2)
    assert any("between layers only" in str(w.message) for w in caught)


# --------------------------------------------------------------------------- the compiler merges the gates


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gate_gemm_merge_fires_on_the_layers(kind):
    n_gates = len(TORCH_GATES[kind])
    layer = CLASSES[kind](4, 6, num_layers=2, bidirectional=True, seed=0)
    x = T.tensor3("x")
    f = symrnn.function([x], layer(x)[0])
    loops = [n for n in f.nodes if isinstance(n.op, Scan)]
    assert len(loops) == 4  # one per layer and direction
    for loop in loops:
        dots = [n for n in loop.op.inner_nodes if isinstance(n.op, Dot)]
        assert len(dots) == 1, loop.op.info.name  # all gates' h·U_* in one product ...
        assert dots[0].outputs[0].type.shape[-1] == n_gates * 6  # ... as wide as all gates together
    # the input projections x·W_* leave the loops, merged too: one product per layer and direction
    outside = [n for n in f.nodes if isinstance(n.op, Dot)]
    assert len(outside) == 4 and all(n.outputs[0].type.shape[-1] in (None, n_gates * 6) for n in outside)


# --------------------------------------------------------------------------- errors in the user's words


def test_shape_errors_name_the_users_variable_and_line():
    lstm = nn.LSTM(4, 6, num_layers=2)
    with pytest.raises(GraphShapeError, match=r"'words' has 5 features.*input_size=4.*test_torch_layers.py:\d+"):
        lstm(T.tensor("float64", (None, None, 5), name="words"))
    with pytest.raises(GraphTypeError, match=r"'seq' must be 3-D \(time, batch, features\).*test_torch_layers.py"):
        lstm(T.matrix("seq"))
    with pytest.raises(GraphTypeError, match=r"pair \(h0, c0\)"):
        lstm(T.tensor3("x"), T.tensor3("h0"))
    with pytest.raises(GraphShapeError, match=r"'h0' has shape \(3, None, 6\), expected \(2, batch, 6\)"):
        lstm(T.tensor3("x"), (T.tensor("float64", (3, None, 6), name="h0"), T.tensor3("c0")))
    with pytest.raises(GraphTypeError, match="one tensor h0"):
        nn.GRU(4, 6)(T.tensor3("x"), (T.tensor3("h0"),))
    with pytest.raises(GraphTypeError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(GraphTypeError, match="hidden_size must be a positive int"):
        nn.GRU(4, 0)


def test_a_state_with_the_wrong_batch_size_is_an_error_at_run_time():
    gru = nn.GRU(4, 6, batch_first=True, dtype="float64")
    x, h0 = T.tensor3("x"), T.tensor3("h0")
    f = symrnn.function([x, h0], gru(x, h0)[0])
    assert f(np.ones((3, 5, 4)), np.zeros((1, 3, 6))).shape == (3, 5, 6)
    want = (r"initial states are \(num_layers \* num_directions, batch.*"
            r"'h0'.* has shape \(1, 5, 6\), expected \(1, 3, 6\)")
    with pytest.raises(ShapeMismatchError, match=want + ".*test_torch_layers"):
        f(np.ones((3, 5, 4)), np.zeros((1, 5, 6)))  # h0 built with T instead of B
