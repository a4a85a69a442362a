"""Cells against independent implementations: PyTorch golden vectors (tests/data/golden_rnn.npz, made by
tests/data/make_golden.py) and NumPy references (tests/data/reference_cells.py)."""

from pathlib import Path

import numpy as np
import pytest
from data import reference_cells as ref

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.nn.article import SharedPreactLSTMCell

GOLDEN = np.load(Path(__file__).parent / "data" / "golden_rnn.npz", allow_pickle=False)
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}
# PyTorch's row blocks, as symrnn gate names
TORCH_GATES = {"rnn": [""], "lstm": ["i", "f", "c", "o"], "gru": ["r", "z", "h"]}


@pytest.fixture
def floatx(request):
    old = symrnn.config.floatX
    yield lambda dtype: setattr(symrnn.config, "floatX", dtype)
    symrnn.config.floatX = old


def golden(kind, layers, dtype):
    prefix = f"{kind}_l{layers}_{dtype}/"
    return {k[len(prefix):]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def make_cell(kind, n_in, n_hidden, layers):
    def one(i):
        size = n_in if i == 0 else n_hidden
        if kind == "rnn":
            return nn.RNNCell(size, n_hidden, seed=i)
        if kind == "lstm":
            return nn.LSTMCell(size, n_hidden, forget_bias=0.0, seed=i)
        return nn.GRUCell(size, n_hidden, reset_after=True, seed=i)

    cells = [one(i) for i in range(layers)]
    return (nn.MultiRNNCell(cells) if layers > 1 else cells[0]), cells


def torch_layout_grads(kind, layer_cell, grads, k):
    """Per-gate gradients, rearranged into PyTorch's parameter layout (written independently of symrnn)."""
    gates = TORCH_GATES[kind]
    key = lambda gate, kind_: kind_ if not gate else f"{kind_}_{gate}"  # noqa: E731
    g = {name: grads[id(var)] for name, var in layer_cell.params.local_items()}
    out = {f"grad_weight_ih_l{k}": np.concatenate([g[key(gt, "W")].T for gt in gates]),
           f"grad_weight_hh_l{k}": np.concatenate([g[key(gt, "U")].T for gt in gates])}
    b_ih = [g[key(gt, "b")] for gt in gates]
    b_hh = [g["b_hn"] if kind == "gru" and gt == "h" else g[key(gt, "b")] for gt in gates]
    out[f"grad_bias_ih_l{k}"] = np.concatenate(b_ih)
    out[f"grad_bias_hh_l{k}"] = np.concatenate(b_hh)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_cells_match_pytorch_golden_vectors(kind, layers, dtype, mode, floatx):
    floatx(dtype)
    g = golden(kind, layers, dtype)
    _, batch, n_in = g["x"].shape
    n_hidden = g["h0"].shape[-1]
    cell, cells = make_cell(kind, n_in, n_hidden, layers)
    nn.load_torch_weights(cell, {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))})
    x, h0, c0 = T.tensor3("x", dtype=dtype), T.tensor3("h0", dtype=dtype), T.tensor3("c0", dtype=dtype)
    states = [(c0[k], h0[k]) if kind == "lstm" else h0[k] for k in range(layers)]
    out, final = nn.rnn(cell, x, tuple(states) if layers > 1 else states[0])
    finals = list(final) if layers > 1 else [final]
    h_n = T.stack([f[1] if kind == "lstm" else f for f in finals])
    loss = (out * g["R_output"]).sum() + (h_n * g["R_h"]).sum()
    outs = [out, h_n]
    inputs = [x, h0]
    if kind == "lstm":
        c_n = T.stack([f[0] for f in finals])
        loss = loss + (c_n * g["R_c"]).sum()
        outs.append(c_n)
        inputs.append(c0)
    params = list(cell.params.values())
    grads = symrnn.grad(loss, inputs + params)
    f = symrnn.function(inputs, outs + [loss] + grads, mode=mode)
    values = f(*[g[v.name] for v in inputs])
    n_out = len(outs)
    tol = TOL[dtype]
    np.testing.assert_allclose(values[0], g["output"], **tol)
    np.testing.assert_allclose(values[1], g["h_n"], **tol)
    if kind == "lstm":
        np.testing.assert_allclose(values[2], g["c_n"], **tol)
    np.testing.assert_allclose(values[n_out], g["loss"], rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    for var, got in zip(inputs, values[n_out + 1: n_out + 1 + len(inputs)]):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, g[f"grad_{var.name}"], **tol)
    by_id = {id(var): got for var, got in zip(params, values[n_out + 1 + len(inputs):])}
    for k, layer_cell in enumerate(cells):
        for name, want in torch_layout_grads(kind, layer_cell, by_id, k).items():
            np.testing.assert_allclose(want, g[name], **tol, err_msg=name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_weights_round_trip(kind):
    g = golden(kind, 2, "float64")
    _, _, n_in = g["x"].shape
    cell, _ = make_cell(kind, n_in, g["h0"].shape[-1], 2)
    torch_weights = {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))}
    nn.load_torch_weights(cell, torch_weights)
    exported = nn.export_torch_weights(cell)
    assert sorted(exported) == sorted(torch_weights)
    for key, value in exported.items():
        assert value.shape == torch_weights[key].shape
        if key.startswith("weight"):
            np.testing.assert_array_equal(value, torch_weights[key])
    # Loading what was exported gives the same cell (the two biases are combined, so compare per-gate values).
    again, _ = make_cell(kind, n_in, g["h0"].shape[-1], 2)
    nn.load_torch_weights(again, exported)
    for (name, a), b in zip(cell.params.local_items(), again.params.values()):
        np.testing.assert_allclose(a.get_value(), b.get_value(), rtol=1e-12, err_msg=name)


def test_loaded_weights_match_an_independent_mapping():
    g = golden("gru", 1, "float64")
    cell, _ = make_cell("gru", g["x"].shape[2], g["h0"].shape[-1], 1)
    nn.load_torch_weights(cell, g)
    want = ref.torch_to_symrnn("gru", g, layer=0)
    for name, var in cell.params.local_items():
        np.testing.assert_allclose(var.get_value(), want[name], rtol=1e-12, err_msg=name)


def test_torch_weights_are_checked_before_anything_changes():
    cell = nn.LSTMCell(4, 6, seed=0)
    before = {k: v.get_value() for k, v in cell.params.local_items()}
    g = golden("lstm", 1, "float64")
    weights = {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))}
    broken = dict(weights, bias_hh_l0=np.zeros(5))
    with pytest.raises(ValueError, match="bias_hh_l0"):
        nn.load_torch_weights(cell, broken)
    missing = {k: v for k, v in weights.items() if k != "weight_hh_l0"}
    with pytest.raises(KeyError, match="weight_hh_l0"):
        nn.load_torch_weights(cell, missing)
    for k, v in cell.params.local_items():
        np.testing.assert_array_equal(v.get_value(), before[k])
    with pytest.raises(TypeError, match="reset_after=True"):
        nn.load_torch_weights(nn.GRUCell(4, 6), weights)


def test_lstm_forget_bias_is_kept_out_of_b_f():
    g = golden("lstm", 1, "float64")
    weights = {k: v for k, v in g.items() if k.startswith(("weight_", "bias_"))}
    plain = nn.LSTMCell(4, 6, forget_bias=0.0)
    biased = nn.LSTMCell(4, 6, forget_bias=1.0)
    nn.load_torch_weights(plain, weights)
    nn.load_torch_weights(biased, weights)
    np.testing.assert_allclose(biased.params["b_f"].get_value() + 1.0, plain.params["b_f"].get_value())
    x = T.tensor3("x")
    outs = [symrnn.function([x], nn.rnn(c, x)[0])(g["x"]) for c in (plain, biased)]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)
    exported = nn.export_torch_weights(biased)
    H = 6
    np.testing.assert_allclose(exported["bias_ih_l0"][H:2 * H] + exported["bias_hh_l0"][H:2 * H],
                               weights["bias_ih_l0"][H:2 * H] + weights["bias_hh_l0"][H:2 * H])


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_tf1_gru_matches_numpy_reference(mode):
    rng = np.random.default_rng(5)
    n_in, n_hidden = 3, 4
    gate_kernel = rng.uniform(-0.5, 0.5, (n_in + n_hidden, 2 * n_hidden))
    gate_bias = rng.uniform(-0.5, 0.5, 2 * n_hidden)
    cand_kernel = rng.uniform(-0.5, 0.5, (n_in + n_hidden, n_hidden))
    cand_bias = rng.uniform(-0.5, 0.5, n_hidden)
    params = ref.tf1_gru_params_from_kernels(gate_kernel, gate_bias, cand_kernel, cand_bias, n_in)
    cell = nn.GRUCell(n_in, n_hidden, reset_after=False)
    for name, var in cell.params.local_items():
        var.set_value(params[name])
    xs, h0 = rng.normal(size=(6, 2, n_in)), rng.normal(size=(2, n_hidden))
    h = h0
    expected = []
    for x_t in xs:  # TensorFlow 1's GRUCell.call, transcribed literally, with fused kernels
        h = ref.tf1_gru_cell_fused(x_t, h, gate_kernel, gate_bias, cand_kernel, cand_bias)
        expected.append(h)
    x, h0_sym = T.tensor3("x"), T.matrix("h0")
    out, final = nn.rnn(cell, x, h0_sym)
    got, got_final = symrnn.function([x, h0_sym], [out, final], mode=mode)(xs, h0)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-12)
    np.testing.assert_allclose(got_final, expected[-1], rtol=1e-12)


def test_tf1_gru_gradient_matches_finite_differences():
    cell = nn.GRUCell(2, 3, reset_after=False, seed=3)
    rng = np.random.default_rng(0)
    symrnn.verify_grad(lambda x, h0: nn.rnn(cell, x, h0)[0], [rng.normal(size=(4, 2, 2)), rng.normal(size=(2, 3))])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "gru_after", "buggy"])
def test_step_matches_numpy_reference(kind):
    rng = np.random.default_rng(1)
    cells = {"rnn": lambda: nn.RNNCell(3, 4, seed=0), "lstm": lambda: nn.LSTMCell(3, 4, forget_bias=0.7, seed=0),
             "gru": lambda: nn.GRUCell(3, 4, seed=0), "gru_after": lambda: nn.GRUCell(3, 4, reset_after=True, seed=0),
             "buggy": lambda: SharedPreactLSTMCell(3, 4, seed=0)}
    cell = cells[kind]()
    for var in cell.params.values():
        var.set_value(rng.uniform(-0.5, 0.5, var.get_value().shape))
    p = {k: v.get_value() for k, v in cell.params.local_items()}
    x_t, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    if kind == "rnn":
        want = ref.rnn_step(x_t, h, p)
    elif kind == "lstm":
        want = ref.lstm_step(x_t, (c, h), p, forget_bias=0.7)
    elif kind == "buggy":
        pre = x_t @ p["W_in"] + h @ p["W"] + p["b"]
        gate = 1 / (1 + np.exp(-pre))
        c_new = gate * c + gate * np.tanh(pre)
        want = (gate * np.tanh(c_new), (c_new, gate * np.tanh(c_new)))
    else:
        want = ref.gru_step(x_t, h, p, reset_after=(kind == "gru_after"))
    want_out = want[0] if isinstance(want, tuple) else want
    xs, hs, cs = T.matrix("x"), T.matrix("h"), T.matrix("c")
    state = (cs, hs) if kind in ("lstm", "buggy") else hs
    out, _ = cell.step(xs, state)
    got = symrnn.function([xs, hs, cs], out, on_unused_input="ignore")(x_t, h, c)
    np.testing.assert_allclose(got, want_out, rtol=1e-12)


def test_lstm_gates_have_their_own_weights():
    cell = nn.LSTMCell(3, 5, seed=0)
    assert [key for key, _ in cell.params.local_items()] == ["W_i", "W_f", "W_o", "W_c", "U_i", "U_f", "U_o",
                                                            "U_c", "b_i", "b_f", "b_o", "b_c"]
    shapes = {k: v.get_value().shape for k, v in cell.params.local_items()}
    assert shapes["W_i"] == (3, 5) and shapes["U_c"] == (5, 5) and shapes["b_o"] == (5,)
    values = [v.get_value() for k, v in cell.params.local_items() if k.startswith("W_")]
    assert all(not np.allclose(values[0], v) for v in values[1:])


def test_rnn_mask_carries_state_over_padding():
    rng = np.random.default_rng(2)
    cell = nn.LSTMCell(2, 3, seed=0)
    xs = rng.normal(size=(5, 3, 2))
    lengths = np.array([5, 2, 3])
    mask = (np.arange(5)[:, None] < lengths[None, :]).astype("float64")
    x, m = T.tensor3("x"), T.matrix("m")
    out, (c, h) = nn.rnn(cell, x, mask=m)
    got_out, got_h = symrnn.function([x, m], [out, h])(xs, mask)
    # Each sequence alone, unpadded, gives the same final state and outputs; padded outputs repeat the last one.
    single = T.tensor3("single")
    run = symrnn.function([single], nn.rnn(cell, single))
    for b, n in enumerate(lengths):
        out_b, (c_b, h_b) = run(xs[:n, b:b + 1])
        np.testing.assert_allclose(got_h[b], h_b[0], rtol=1e-12)
        np.testing.assert_allclose(got_out[:n, b], out_b[:, 0], rtol=1e-12)
        for t in range(n, 5):
            np.testing.assert_allclose(got_out[t, b], out_b[-1, 0], rtol=1e-12)


def test_rnn_mask_gradient_ignores_padding():
    cell = nn.GRUCell(2, 3, seed=0)
    rng = np.random.default_rng(4)
    mask = np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype="float64")
    x = T.tensor3("x")
    out, h = nn.rnn(cell, x, mask=mask)
    gx = symrnn.grad(h.sum(), x)
    got = symrnn.function([x], gx)(rng.normal(size=(4, 2, 2)))
    np.testing.assert_array_equal(got[2:, 1], 0.0)
    np.testing.assert_array_equal(got[3, 0], 0.0)
    assert np.abs(got[:2, 1]).sum() > 0
    symrnn.verify_grad(lambda xs: nn.rnn(cell, xs, mask=mask)[1], [rng.normal(size=(4, 2, 2))])


def test_bidirectional_runs_backward_cell_from_each_sequence_end():
    rng = np.random.default_rng(3)
    fw, bw = nn.RNNCell(2, 3, seed=0), nn.RNNCell(2, 3, seed=1)
    xs = rng.normal(size=(4, 2, 2))
    mask = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], dtype="float64")
    x, m = T.tensor3("x"), T.matrix("m")
    (out_fw, out_bw), (h_fw, h_bw) = nn.bidirectional_rnn(fw, bw, x, mask=m)
    got_fw, got_bw, got_hbw = symrnn.function([x, m], [out_fw, out_bw, h_bw])(xs, mask)
    p = {k: v.get_value() for k, v in bw.params.local_items()}
    for b, n in enumerate([4, 2]):
        h = np.zeros(3)
        for t in reversed(range(n)):
            h = np.tanh(xs[t, b] @ p["W"] + h @ p["U"] + p["b"])
            np.testing.assert_allclose(got_bw[t, b], h, rtol=1e-12)
        np.testing.assert_allclose(got_hbw[b], h, rtol=1e-12)
    pf = {k: v.get_value() for k, v in fw.params.local_items()}
    h = np.zeros(3)
    for t in range(4):
        h = np.tanh(xs[t, 0] @ pf["W"] + h @ pf["U"] + pf["b"])
        np.testing.assert_allclose(got_fw[t, 0], h, rtol=1e-12)


def test_multi_rnn_cell_step_and_rnn_agree():
    stack = nn.MultiRNNCell([nn.LSTMCell(2, 3, seed=0), nn.GRUCell(3, 4, seed=1)])
    rng = np.random.default_rng(6)
    xs = rng.normal(size=(3, 2, 2))
    x = T.tensor3("x")
    out, final = nn.rnn(stack, x)
    got_out = symrnn.function([x], out)(xs)
    x_t = T.matrix("x_t")
    state_syms = (tuple(T.matrix() for _ in range(2)), T.matrix())
    o, s = stack.step(x_t, state_syms)
    flat_in = [x_t, *state_syms[0], state_syms[1]]
    step = symrnn.function(flat_in, [o, *s[0], s[1]])
    state = [np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4))]
    for t in range(3):
        o_t, *state = step(xs[t], *state)
        np.testing.assert_allclose(got_out[t], o_t, rtol=1e-12)
    with pytest.raises(GraphShapeError, match="layer 1 expects input_size=5"):
        nn.MultiRNNCell([nn.RNNCell(2, 3), nn.RNNCell(5, 3)])


def test_dropout_never_touches_the_recurrent_path_and_switches_off():
    base = nn.RNNCell(3, 200, seed=0)
    cell = nn.DropoutWrapper(base, input_keep_prob=1.0, output_keep_prob=0.5, seed=7)
    x = T.tensor3("x")
    out_d, h_d = nn.rnn(cell, x)
    out_plain, h_plain = nn.rnn(base, x)
    f = symrnn.function([x], [out_d, h_d, out_plain, h_plain])
    xs = np.random.default_rng(0).normal(size=(4, 2, 3))
    od, hd, op_, hp = f(xs)
    np.testing.assert_allclose(hd, hp, rtol=1e-12)  # the state never sees the dropout
    dropped = od == 0
    assert 0.4 < dropped.mean() < 0.6
    np.testing.assert_allclose(od[~dropped], 2 * op_[~dropped], rtol=1e-12)  # kept units scaled by 1/keep
    od2 = f(xs)[0]
    assert not np.array_equal(od2 == 0, dropped)  # the stream advanced by itself
    cell.set_training(False)
    np.testing.assert_allclose(f(xs)[0], op_, rtol=1e-12)


def test_dropout_input_masks_differ_per_step():
    cell = nn.DropoutWrapper(nn.RNNCell(50, 2, seed=0), input_keep_prob=0.5, seed=1)
    x = T.tensor3("x")
    masked = cell.dropout(x, 0.5)
    got = symrnn.function([x], masked)(np.ones((3, 2, 50)))
    assert not np.array_equal(got[0], got[1])


def test_dropout_arguments_are_checked():
    with pytest.raises(GraphTypeError, match="output_keep_prob"):
        nn.DropoutWrapper(nn.RNNCell(2, 2), output_keep_prob=0.0)


def test_cell_input_errors_name_the_problem():
    cell = nn.LSTMCell(3, 4)
    with pytest.raises(GraphShapeError, match="input_size=3.*test_cells.py"):
        cell.step(T.tensor("float64", (None, 5)), cell.zero_state(2))
    with pytest.raises(GraphTypeError, match="time-major"):
        nn.rnn(cell, T.matrix("x"))
    with pytest.raises(GraphTypeError, match="pair"):
        cell.step(T.matrix("x"), T.matrix("h"))
    with pytest.raises(GraphTypeError, match="positive int"):
        nn.GRUCell(0, 3)


def test_initializers_are_seedable_and_orthogonal():
    a, b = nn.LSTMCell(3, 5, seed=11), nn.LSTMCell(3, 5, seed=11)
    for (k, va), vb in zip(a.params.local_items(), b.params.values()):
        np.testing.assert_array_equal(va.get_value(), vb.get_value(), err_msg=k)
    u = a.params["U_i"].get_value()
    np.testing.assert_allclose(u @ u.T, np.eye(5), atol=1e-12)
    w = a.params["W_f"].get_value()
    assert np.abs(w).max() <= np.sqrt(6 / 8)
    assert not np.array_equal(nn.LSTMCell(3, 5, seed=12).params["W_i"].get_value(), a.params["W_i"].get_value())


def test_float32_cells_stay_float32(floatx):
    floatx("float32")
    cell = nn.LSTMCell(3, 4, seed=0)
    x = T.ftensor3("x")
    out, (c, h) = nn.rnn(cell, x)
    cost = T.mean(h ** 2)
    grads = symrnn.grad(cost, list(cell.params.values()))
    assert out.dtype == "float32" and all(g.dtype == "float32" for g in grads)
    values = symrnn.function([x], [out, *grads])(np.ones((3, 2, 3), dtype="float32"))
    assert all(v.dtype == np.float32 for v in values)


# ---------------------------------------------------------------- DropoutWrapper.step (issue 15's surviving mutant)


def _cell(kind):
    return {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}[kind](3, 4, seed=2)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_dropout_wrapper_step_drops_outputs_but_never_the_recurrent_state(kind):
    """``rnn()`` never calls ``step``, so this calls it directly: a step that dropped the state went unseen."""
    import symrnn

    cell = _cell(kind)
    wrapped = nn.DropoutWrapper(cell, output_keep_prob=0.5, seed=3)
    x_t = T.matrix("x_t")
    state = cell.zero_state(5)
    out, new_state = wrapped.step(x_t, state)
    plain_out, plain_state = cell.step(x_t, state)
    flat = [new_state] if not isinstance(new_state, tuple) else list(new_state)
    plain_flat = [plain_state] if not isinstance(plain_state, tuple) else list(plain_state)
    f = symrnn.function([x_t], [out, plain_out, *flat, *plain_flat])
    values = np.random.default_rng(0).normal(size=(5, 3))
    got_out, want_out, *states = f(values)
    for got, want in zip(states[: len(flat)], states[len(flat):]):
        np.testing.assert_array_equal(got, want)  # the state is the plain cell's, untouched
    dropped = got_out == 0
    assert dropped.any() and not dropped.all()
    np.testing.assert_allclose(got_out[~dropped], want_out[~dropped] / 0.5)


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_dropout_wrapper_step_in_a_user_written_scan_keeps_the_recurrence_clean(kind):
    import symrnn

    cell = _cell(kind)
    wrapped = nn.DropoutWrapper(cell, output_keep_prob=0.3, seed=4)
    x = T.tensor3("x")
    init = cell.zero_state(x.shape[1])
    init_flat = [init] if not isinstance(init, tuple) else list(init)

    def unflat(parts):
        return parts[0] if len(parts) == 1 else tuple(parts)

    def step_with(c):
        def step(x_t, *state):
            out, new = c.step(x_t, unflat(list(state)))
            return [out, *([new] if not isinstance(new, tuple) else list(new))]
        return step

    outs_w, _ = symrnn.scan(step_with(wrapped), sequences=x, outputs_info=[None, *init_flat])
    outs_p, _ = symrnn.scan(step_with(cell), sequences=x, outputs_info=[None, *init_flat])
    f = symrnn.function([x], [*outs_w, *outs_p])
    values = np.random.default_rng(1).normal(size=(6, 2, 3))
    results = f(values)
    half = len(results) // 2
    for got, want in zip(results[1:half], results[half + 1:]):
        np.testing.assert_array_equal(got, want)  # every step's state equals the plain cell's
    out_w, out_p = results[0], results[half]
    dropped = out_w == 0
    assert dropped.any() and not dropped.all()
    np.testing.assert_allclose(out_w[~dropped], out_p[~dropped] / 0.3, rtol=1e-12)
    assert not np.array_equal(f(values)[0] == 0, dropped)  # fresh masks on every call


def test_a_batch_major_mask_is_an_error_in_the_users_words():
    """Issue 16: a (B, T) mask gave 'fused{mul,mul,add}: runtime shapes (5, 1), (3, 4) ... do not match'."""
    import symrnn
    from symrnn.ops.gradops import ShapeMismatchError

    cell = nn.LSTMCell(3, 4, seed=0)
    x, mask = T.tensor3("x"), T.matrix("mask")
    out, _ = nn.rnn(cell, x, mask=mask)  # the user's line
    f = symrnn.function([x, mask], out.sum())
    np.testing.assert_allclose(f(np.zeros((3, 5, 3)), np.ones((3, 5))), f(np.zeros((3, 5, 3)), np.ones((3, 5))))
    with pytest.raises(ShapeMismatchError) as info:
        f(np.zeros((3, 5, 3)), np.ones((5, 3)))
    message = str(info.value)
    assert "masks are time-major, (T, B)" in message and "'mask'" in message and "(5, 3)" in message
    assert "test_cells.py" in message and "fused" not in message.splitlines()[0]
