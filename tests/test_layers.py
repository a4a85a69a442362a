"""Dense and Embedding against NumPy: forward on 1-D to 3-D inputs, gradients, initial values and errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_user_error, check, check_grad

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.nn.layers import Dense, Embedding

RNG = np.random.default_rng(17)


# ---- Dense


def test_dense_parameters_initial_values_and_seeding():
    layer = Dense(6, 4, seed=3, name="out")
    assert list(layer.params) == ["out/W", "out/b"]
    W, b = layer.params["W"], layer.params["b"]
    assert (W.name, b.name) == ("out/W", "out/b") and W is layer.params["out/W"]
    assert W.get_value().shape == (6, 4) and b.get_value().shape == (4,)
    assert W.dtype == b.dtype == symrnn.config.floatX
    limit = np.sqrt(6 / (6 + 4))  # Glorot/Xavier uniform
    w = W.get_value()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.5 * limit
    np.testing.assert_array_equal(b.get_value(), np.zeros(4))
    np.testing.assert_array_equal(Dense(6, 4, seed=3).W.get_value(), w)
    assert not np.array_equal(Dense(6, 4, seed=4).W.get_value(), w)
    assert Dense(6, 4, dtype="float32").W.dtype == "float32"


def test_layers_follow_floatx_when_no_dtype_is_given(monkeypatch):
    monkeypatch.setattr(symrnn.config, "floatX", "float32")
    dense, emb = Dense(3, 2, seed=0), Embedding(4, 2, seed=0)
    assert dense.W.dtype == dense.b.dtype == emb.W.dtype == "float32"
    assert dense.W.get_value().dtype == emb.W.get_value().dtype == np.float32
    x = T.fmatrix("x")
    assert dense(x).dtype == "float32" and emb(T.ivector("i")).dtype == "float32"


@pytest.mark.parametrize("shape", [(5,), (7, 3), (4, 2, 3)])
@pytest.mark.parametrize("activation", [None, T.tanh], ids=["linear", "tanh"])
def test_dense_forward_matches_numpy(shape, activation):
    layer = Dense(3, 4, activation=activation, seed=0, dtype="float64")
    layer.b.set_value(RNG.normal(size=4))
    x = RNG.normal(size=shape[:-1] + (3,))
    X = T.tensor("float64", (None,) * len(shape), "x")
    y = layer(X)
    assert y.ndim == len(shape)
    want = x @ layer.W.get_value() + layer.b.get_value()
    if activation is not None:
        want = np.tanh(want)
    check([X], y, [x], want)


def test_dense_static_shape_and_float32():
    layer = Dense(3, 2, seed=1, dtype="float32")
    X = T.tensor("float32", (4, 5, 3), "x")
    y = layer(X)
    assert y.type.shape == (4, 5, 2) and y.dtype == "float32"
    x = RNG.normal(size=(4, 5, 3)).astype("float32")
    want = x.astype("float64") @ layer.W.get_value().astype("float64") + layer.b.get_value()
    check([X], y, [x], want.astype("float32"), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 3)])
def test_dense_gradients_match_numpy(shape):
    layer = Dense(3, 2, activation=T.tanh, seed=2, dtype="float64")
    layer.b.set_value(RNG.normal(size=2))
    x = RNG.normal(size=shape)
    R = RNG.normal(size=shape[:-1] + (2,))
    X = T.tensor("float64", (None,) * len(shape), "x")
    cost = T.sum(layer(X) * T.constant(R))
    gx, gW, gb = symrnn.grad(cost, [X, layer.W, layer.b])
    got = symrnn.function([X], [gx, gW, gb])(x)
    W, b = layer.W.get_value(), layer.b.get_value()
    y = np.tanh(x @ W + b)
    delta = R * (1 - y ** 2)
    want_W = x.reshape(-1, 3).T @ delta.reshape(-1, 2)
    want_b = delta.reshape(-1, 2).sum(axis=0)
    want_x = delta @ W.T
    for g, w, what in zip(got, [want_x, want_W, want_b], ["x", "W", "b"]):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=what)


def test_dense_input_gradient_against_finite_differences():
    layer = Dense(3, 2, activation=T.nnet.sigmoid, seed=5, dtype="float64")
    check_grad(lambda x: layer(x), [RNG.normal(size=(2, 4, 3))])
    check_grad(lambda x: layer(x), [RNG.normal(size=(3,))])


def test_dense_errors():
    layer = Dense(3, 2, name="head")
    with pytest.raises(GraphShapeError) as info:
        layer(T.tensor("float64", (None, 5), "x"))
    assert_user_error(info, "Dense 'head'", "5 features", "input_size=3")
    with pytest.raises(GraphTypeError) as info:
        layer(T.imatrix("ids"))
    assert_user_error(info, "Dense 'head'", "float", "Embedding")
    with pytest.raises(GraphTypeError) as info:
        layer(T.dscalar("s"))
    assert_user_error(info, "Dense 'head'", "scalar")
    with pytest.raises(TypeError, match="output_size"):
        Dense(3, 0)
    with pytest.raises(TypeError, match="activation"):
        Dense(3, 2, activation="tanh")


# ---- Embedding


def test_embedding_parameters_and_initial_values():
    emb = Embedding(50, 6, seed=0, name="tok")
    assert list(emb.params) == ["tok/W"] and emb.W.name == "tok/W"
    w = emb.W.get_value()
    assert w.shape == (50, 6) and w.dtype == symrnn.config.floatX
    assert np.abs(w).max() <= 0.05 and np.abs(w).max() > 0.04  # uniform in [-0.05, 0.05]
    np.testing.assert_array_equal(Embedding(50, 6, seed=0).W.get_value(), w)
    assert not np.array_equal(Embedding(50, 6, seed=1).W.get_value(), w)


@pytest.mark.parametrize("ids_shape", [(), (7,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_embedding_lookup_matches_numpy(ids_shape, dtype):
    emb = Embedding(10, 4, seed=2, dtype="float64")
    ids = RNG.integers(0, 10, size=ids_shape).astype(dtype)
    I = T.tensor(dtype, (None,) * len(ids_shape), "ids")  # noqa: E741
    out = emb(I)
    assert out.ndim == len(ids_shape) + 1
    check([I], out, [ids], emb.W.get_value()[ids])


def test_embedding_gradient_accumulates_repeated_ids():
    emb = Embedding(6, 3, seed=4, dtype="float64")
    ids = np.array([[1, 4, 1], [1, 0, 4]], dtype="int32")  # 1 three times, 4 twice, 2/3/5 never
    R = RNG.normal(size=(2, 3, 3))
    I = T.imatrix("ids")  # noqa: E741
    gW = symrnn.grad(T.sum(emb(I) * T.constant(R)), emb.W)
    for mode in ("FAST_RUN", "reference"):
        got = symrnn.function([I], gW, mode=mode)(ids)
        want = np.zeros((6, 3))
        for (i, j), token in np.ndenumerate(ids):
            want[token] += R[i, j]
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=mode)
        np.testing.assert_array_equal(got[[2, 3, 5]], 0.0)


def test_embedding_and_dense_train_together():
    emb, out = Embedding(5, 4, seed=0), Dense(4, 5, seed=1)
    ids = T.ivector("ids")
    logits = out(emb(ids))
    p = T.nnet.softmax(logits)
    loss = T.mean(T.nnet.categorical_crossentropy(p, ids))  # learn to copy the token
    params = [emb.W, out.W, out.b]
    updates = [(v, v - 0.5 * g) for v, g in zip(params, symrnn.grad(loss, params))]
    step = symrnn.function([ids], loss, updates=updates)
    data = np.arange(5, dtype="int32")
    first = float(step(data))
    for _ in range(200):
        last = float(step(data))
    assert first == pytest.approx(np.log(5), rel=0.05)
    assert last < 0.2 * first


def test_embedding_errors():
    emb = Embedding(10, 4, name="tok")
    with pytest.raises(GraphTypeError) as info:
        emb(T.dvector("ids"))
    assert_user_error(info, "Embedding 'tok'", "integers", "float64")
    with pytest.raises(TypeError, match="vocab_size"):
        Embedding(0, 4)
    with pytest.raises(TypeError, match="dim"):
        Embedding(10, 2.5)
