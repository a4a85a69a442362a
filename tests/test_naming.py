"""Unique hierarchical parameter names, nn.params, dtype= on cells and layers, and rnn(batch_first=True).

The findings of issue 16, reproduced first: merging two layers' ``params``
dicts silently dropped one layer's weights (11 of 12 parameters trained), and
two default-named layers collided at save time.
"""

import copy
import pickle
import threading

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.nn.io import load_params, save_params

CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def test_merging_two_layers_params_dicts_keeps_every_parameter():
    """The user program of the finding: ``{**emb.params, **cell.params, **out.params}`` trained 11 of 12."""
    emb, cell, out = nn.Embedding(10, 3, seed=0), nn.GRUCell(3, 4, seed=1), nn.Dense(4, 10, seed=2)
    merged = {**emb.params, **cell.params, **out.params}
    assert len(merged) == len(emb.params) + len(cell.params) + len(out.params) == 1 + 9 + 2
    ids = T.imatrix("ids")
    outputs, _ = nn.rnn(cell, emb(ids))
    loss = T.mean(out(outputs) ** 2)
    train = symrnn.function([ids], loss, updates=nn.optimizers.sgd(loss, merged, learning_rate=0.1))
    before = {name: p.get_value().copy() for name, p in merged.items()}
    train(np.arange(6, dtype="int32").reshape(3, 2))
    unchanged = [name for name, p in merged.items() if np.array_equal(p.get_value(), before[name])]
    assert unchanged == []  # every parameter was trained


def test_two_default_named_layers_do_not_collide_at_save_time(tmp_path):
    first, second = nn.LSTMCell(2, 3, seed=0), nn.LSTMCell(2, 3, seed=1)
    assert (first.name, second.name) == ("lstm", "lstm_1")
    save_params(tmp_path / "both.npz", [first, second])
    with np.load(tmp_path / "both.npz") as data:
        assert len(data.files) == 24 and "lstm/W_i" in data.files and "lstm_1/W_i" in data.files
    want = {name: p.get_value().copy() for name, p in nn.params(first, second).items()}
    for p in [*first.parameters(), *second.parameters()]:
        p.set_value(np.zeros_like(p.get_value()))
    load_params(tmp_path / "both.npz", [first, second])
    for name, p in nn.params(first, second).items():
        np.testing.assert_array_equal(p.get_value(), want[name], err_msg=name)


def test_layers_given_the_same_name_are_refused_when_collected_or_saved(tmp_path):
    a, b = nn.Dense(2, 2, seed=0, name="head"), nn.Dense(2, 2, seed=1, name="head")
    with pytest.raises(ValueError, match=r"two different parameters are named 'head/W'"):
        nn.params(a, b)
    with pytest.raises(ValueError, match=r"save_params: .*'head/W'"):
        save_params(tmp_path / "x.npz", [a, b])
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(Exception, match="two layers have a parameter named 'head2/W_i'"):
        nn.MultiRNNCell([nn.LSTMCell(2, 2, name="head2"), nn.LSTMCell(2, 2, name="head2")])


def test_the_same_layer_twice_is_collected_once_and_order_is_kept():
    cell = nn.RNNCell(2, 3, seed=0, name="enc")
    assert list(nn.params(cell, cell, cell.params["W"])) == ["enc/W", "enc/U", "enc/b"]
    assert [name for name, _ in cell.named_parameters()] == ["enc/W", "enc/U", "enc/b"]
    assert cell.parameters() == list(cell.params.values())


def test_name_scopes_nest_and_prefix_every_kind_of_layer():
    with nn.name_scope("model"):
        with nn.name_scope("encoder") as scope:
            assert scope == "model/encoder"
            cell, emb = nn.LSTMCell(2, 3, seed=0), nn.Embedding(5, 2, seed=0)
            layer = nn.GRU(2, 3, bidirectional=True, seed=0)
        dec = nn.Dense(3, 2, seed=0, name="decoder")
    outside = nn.LSTMCell(2, 3, seed=0)
    assert cell.params["W_i"].name == "model/encoder/lstm/W_i"
    assert emb.W.name == "model/encoder/embedding/W"
    assert layer.params["l0_reverse/U_h"].name == "model/encoder/gru/l0_reverse/U_h"
    assert dec.W.name == "model/decoder/W"
    assert outside.name == "lstm"  # a default name is unique per scope: lstm inside encoder is another name


def test_default_names_count_per_kind_and_reset():
    names = [nn.GRUCell(2, 2).name, nn.GRUCell(2, 2).name, nn.RNNCell(2, 2).name, nn.GRUCell(2, 2, name="gru").name]
    assert names == ["gru", "gru_1", "rnn", "gru"]  # an explicit name is taken as given
    nn.reset_default_names()
    assert nn.GRUCell(2, 2).name == "gru"


def test_default_names_are_unique_across_threads():
    got, barrier = [], threading.Barrier(4)

    def make():
        barrier.wait()
        for _ in range(25):
            got.append(nn.Dense(2, 2, seed=0).name)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == len(set(got)) == 100


def test_a_name_scope_is_per_thread():
    inside = threading.Event()
    leave = threading.Event()
    seen = {}

    def scoped():
        with nn.name_scope("worker"):
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=scoped)
    t.start()
    inside.wait(5)
    seen["main"] = nn.Dense(2, 2, seed=0, name="d").name
    leave.set()
    t.join()
    assert seen["main"] == "d"


@pytest.mark.parametrize("bad", ["", "/a", "a/", "a//b", " ", 3, None])
def test_bad_names_are_refused(bad):
    if bad is None:
        with pytest.raises(ValueError, match="name_scope"):
            with nn.name_scope(bad):
                pass
        return
    with pytest.raises(ValueError, match="a name must be"):
        nn.LSTMCell(2, 3, name=bad)


def test_short_keys_find_parameters_and_missing_keys_are_key_errors():
    cell = nn.LSTMCell(2, 3, seed=0, name="enc")
    assert cell.params["W_f"] is cell.params["enc/W_f"]
    assert "W_f" in cell.params and "enc/W_f" in cell.params and "W_x" not in cell.params
    assert cell.params.get("W_x") is None and cell.params.get("U_c") is cell.params["enc/U_c"]
    with pytest.raises(KeyError):
        cell.params["W_x"]
    assert dict(cell.params.local_items())["b_o"] is cell.params["enc/b_o"]


def test_params_survive_pickle_and_copy():
    cell = nn.GRUCell(2, 3, seed=0, name="g")
    for clone in (pickle.loads(pickle.dumps(cell.params)), copy.deepcopy(cell.params)):
        assert list(clone) == list(cell.params)
        np.testing.assert_array_equal(clone["W_z"].get_value(), cell.params["W_z"].get_value())


# --------------------------------------------------------------------------- dtype=


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cells_take_a_dtype_and_run_in_it(kind):
    cell = CELLS[kind](3, 4, seed=0, dtype="float32")
    assert {p.dtype for p in cell.parameters()} == {"float32"}
    x = T.tensor3("x", dtype="float32")
    outputs, _ = nn.rnn(cell, x)
    loss = T.sum(outputs ** 2)
    f = symrnn.function([x], [outputs, *symrnn.grad(loss, cell.parameters())])
    values = f(np.ones((5, 2, 3), dtype="float32"))
    assert all(v.dtype == np.float32 for v in values)
    # The same seed in float64 gives the same initial values, to float32's precision.
    wide = CELLS[kind](3, 4, seed=0, dtype="float64")
    for a, b in zip(cell.parameters(), wide.parameters()):
        np.testing.assert_allclose(a.get_value(), b.get_value(), rtol=1e-6)
        assert b.dtype == "float64"


def test_a_cell_dtype_must_be_a_float():
    with pytest.raises(Exception, match="dtype must be a float dtype, got int32"):
        nn.LSTMCell(2, 3, dtype="int32")


def test_the_default_dtype_is_floatx():
    saved = symrnn.config.floatX
    try:
        for floatx in ("float32", "float64"):
            symrnn.config.floatX = floatx
            assert nn.RNNCell(2, 3).params["W"].dtype == floatx
            assert nn.LSTM(2, 3).params["l0/W_i"].dtype == floatx
    finally:
        symrnn.config.floatX = saved


# --------------------------------------------------------------------------- rnn(batch_first=True)


def test_rnn_batch_first_matches_time_major_with_a_mask():
    cell = nn.GRUCell(3, 4, seed=0)
    x_tm, m_tm = T.tensor3("x_tm"), T.matrix("m_tm")
    x_bf, m_bf = T.tensor3("x_bf"), T.matrix("m_bf")
    out_tm, h_tm = nn.rnn(cell, x_tm, mask=m_tm)
    out_bf, h_bf = nn.rnn(cell, x_bf, mask=m_bf, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 3))
    mask = np.ones((6, 2))
    mask[4:, 1] = 0
    want_out, want_h = symrnn.function([x_tm, m_tm], [out_tm, h_tm])(x, mask)
    got_out, got_h = symrnn.function([x_bf, m_bf], [out_bf, h_bf])(x.transpose(1, 0, 2), mask.T)
    np.testing.assert_allclose(got_out, want_out.transpose(1, 0, 2), rtol=1e-12)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-12)


def test_rnn_batch_first_mask_error_names_the_layout():
    cell = nn.RNNCell(3, 4, seed=0)
    x, m = T.tensor3("x"), T.matrix("mask")
    out, _ = nn.rnn(cell, x, mask=m, batch_first=True)
    f = symrnn.function([x, m], out)
    with pytest.raises(ValueError, match=r"batch_first=True\): masks are \(B, T\)") as info:
        f(np.ones((2, 5, 3)), np.ones((5, 2)))
    assert "test_naming.py" in str(info.value)


def test_bidirectional_rnn_batch_first():
    fw, bw = nn.RNNCell(2, 3, seed=0), nn.RNNCell(2, 3, seed=1)
    x = T.tensor3("x")
    (out_fw, out_bw), _ = nn.bidirectional_rnn(fw, bw, x, batch_first=True)
    (tm_fw, tm_bw), _ = nn.bidirectional_rnn(fw, bw, x.dimshuffle(1, 0, 2))
    values = np.random.default_rng(1).normal(size=(4, 5, 2))
    got = symrnn.function([x], [out_fw, out_bw])(values)
    want = symrnn.function([x], [tm_fw, tm_bw])(values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.transpose(1, 0, 2), rtol=1e-12)
