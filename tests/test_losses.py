"""Losses against NumPy written out here (masking included), ``verify_grad`` for each, and stability."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_user_error, check, check_grad

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.nn.losses import binary_cross_entropy_with_logits, masked_mse, mse, sequence_loss, softmax_cross_entropy

RNG = np.random.default_rng(5)


def np_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_softmax_ce(z, y):
    logp = np_log_softmax(z)
    return -np.take_along_axis(logp, y[..., None].astype(np.int64), axis=-1)[..., 0]


# ---- mse


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_mse_matches_numpy(shape, dtype):
    p, t = RNG.normal(size=shape).astype(dtype), RNG.normal(size=shape).astype(dtype)
    P, Tg = T.tensor(dtype, (None,) * len(shape), "p"), T.tensor(dtype, (None,) * len(shape), "t")
    want = np.mean((p - t) ** 2).astype(dtype)
    check([P, Tg], mse(P, Tg), [p, t], want, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_mse_gradient():
    target = RNG.normal(size=(3, 4))
    check_grad(lambda p: mse(p, T.constant(target)), [RNG.normal(size=(3, 4))])
    check_grad(lambda p, t: mse(p, t), [RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))])


def test_mse_refuses_mismatched_ndim_and_integer_predictions():
    with pytest.raises(GraphTypeError) as info:
        mse(T.dmatrix("p"), T.dvector("t"))
    assert_user_error(info, "mse", "2 dimension(s)", "target 1")
    with pytest.raises(GraphTypeError) as info:
        mse(T.imatrix("p"), T.dmatrix("t"))
    assert_user_error(info, "mse", "float", "int32")
    with pytest.raises(GraphShapeError) as info:
        mse(T.tensor("float64", (3, 2), "p"), T.tensor("float64", (3, 5), "t"))
    assert_user_error(info, "mse", "axis 1")


# ---- softmax cross-entropy


@pytest.mark.parametrize("label_dtype", ["int32", "int64"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5), (2, 3, 2, 4)])
def test_softmax_cross_entropy_matches_numpy(shape, label_dtype):
    z = RNG.normal(size=shape) * 3
    y = RNG.integers(0, shape[-1], size=shape[:-1]).astype(label_dtype)
    Z = T.tensor("float64", (None,) * len(shape), "z")
    Y = T.tensor(label_dtype, (None,) * (len(shape) - 1), "y")
    out = softmax_cross_entropy(Z, Y)
    assert out.ndim == len(shape) - 1
    check([Z, Y], out, [z, y], np_softmax_ce(z, y))


def test_softmax_cross_entropy_float32_and_static_shape():
    z = RNG.normal(size=(4, 3, 5)).astype("float32")
    y = RNG.integers(0, 5, size=(4, 3)).astype("int32")
    Z, Y = T.tensor("float32", (4, 3, 5), "z"), T.imatrix("y")
    out = softmax_cross_entropy(Z, Y)
    assert out.dtype == "float32"
    assert out.type.shape == (4, 3)
    check([Z, Y], out, [z, y], np_softmax_ce(z.astype("float64"), y).astype("float32"), rtol=1e-5)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)])
def test_softmax_cross_entropy_gradient(shape):
    y = T.constant(RNG.integers(0, shape[-1], size=shape[:-1]).astype("int32"))
    check_grad(lambda z: softmax_cross_entropy(z, y), [RNG.normal(size=shape)])


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot():
    z = RNG.normal(size=(2, 3, 4))
    y = RNG.integers(0, 4, size=(2, 3)).astype("int32")
    Z, Y = T.dtensor3("z"), T.imatrix("y")
    g = symrnn.grad(softmax_cross_entropy(Z, Y).sum(), Z)
    want = np.exp(np_log_softmax(z)) - np.eye(4)[y]
    np.testing.assert_allclose(symrnn.function([Z, Y], g)(z, y), want, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_is_stable_at_logits_of_1000():
    z = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, 1000.0]])
    y = np.array([2, 0, 2], dtype="int32")
    Z, Y = T.dmatrix("z"), T.ivector("y")
    ce = softmax_cross_entropy(Z, Y)
    got, grad = symrnn.function([Z, Y], [ce, symrnn.grad(ce.sum(), Z)])(z, y)
    np.testing.assert_allclose(got, [2000.0, np.log(2), 0.0], rtol=1e-12, atol=1e-300)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[1, 0, -1], [-0.5, 0.5, 0], [0, 0, 0]], atol=1e-12)


def test_softmax_cross_entropy_errors():
    with pytest.raises(GraphTypeError) as info:
        softmax_cross_entropy(T.dmatrix("z"), T.dvector("y"))
    assert_user_error(info, "softmax_cross_entropy", "integer", "float64")
    with pytest.raises(GraphTypeError) as info:
        softmax_cross_entropy(T.dtensor3("z"), T.ivector("y"))
    assert_user_error(info, "softmax_cross_entropy", "need 2 dimension(s)")
    with pytest.raises(GraphTypeError) as info:
        softmax_cross_entropy(T.dvector("z"), T.iscalar("y"))
    assert_user_error(info, "softmax_cross_entropy", "at least 2 dimensions")
    with pytest.raises(GraphTypeError) as info:
        softmax_cross_entropy(T.imatrix("z"), T.ivector("y"))
    assert_user_error(info, "softmax_cross_entropy", "float")
    with pytest.raises(GraphShapeError) as info:
        softmax_cross_entropy(T.tensor("float64", (3, 4), "z"), T.tensor("int32", (5,), "y"))
    assert_user_error(info, "softmax_cross_entropy", "axis 0")


# ---- sequence loss


def np_sequence_loss(z, y, m):
    ce = np_softmax_ce(z, y)
    m = m.astype(z.dtype)
    return np.sum(np.where(m != 0, ce * m, 0.0)) / (np.sum(m) + 1e-12)


@pytest.mark.parametrize("mask_dtype", ["float64", "float32", "bool", "int8"])
def test_sequence_loss_matches_numpy(mask_dtype):
    Tn, B, C = 5, 3, 4
    z = RNG.normal(size=(Tn, B, C)) * 2
    y = RNG.integers(0, C, size=(Tn, B)).astype("int32")
    lengths = np.array([5, 2, 3])
    m = (np.arange(Tn)[:, None] < lengths[None, :]).astype(mask_dtype)
    Z, Y, M = T.dtensor3("z"), T.imatrix("y"), T.matrix("m", dtype=mask_dtype)
    want = np_sequence_loss(z, y, m)
    # by hand too: the mean over the 10 real steps only
    real = [np_softmax_ce(z[t, b], y[t, b]) for b in range(B) for t in range(lengths[b])]
    np.testing.assert_allclose(want, np.mean(real), rtol=1e-10)
    check([Z, Y, M], sequence_loss(Z, Y, M), [z, y, m], np.float64(want))


def test_sequence_loss_padding_is_ignored_even_with_extreme_logits():
    z = RNG.normal(size=(3, 2, 4))
    y = np.zeros((3, 2), dtype="int64")
    m = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    Z, Y, M = T.dtensor3("z"), T.lmatrix("y"), T.dmatrix("m")
    loss = sequence_loss(Z, Y, M)
    f = symrnn.function([Z, Y, M], [loss, symrnn.grad(loss, Z)])
    base, g = f(z, y, m)
    z2 = z.copy()
    z2[2] = 1e6 * RNG.normal(size=(2, 4))
    z2[1, 1] = -1e6
    again, g2 = f(z2, y, m)
    np.testing.assert_allclose(again, base, rtol=1e-12)
    np.testing.assert_array_equal(g2[2], 0.0)
    np.testing.assert_array_equal(g2[1, 1], 0.0)
    np.testing.assert_allclose(g2[m != 0], g[m != 0], rtol=1e-12)


def test_sequence_loss_fractional_weights_and_all_padding():
    z = RNG.normal(size=(2, 2, 3))
    y = np.array([[0, 1], [2, 0]], dtype="int32")
    w = np.array([[0.5, 2.0], [0.0, 1.5]])
    Z, Y, M = T.dtensor3("z"), T.imatrix("y"), T.dmatrix("m")
    f = symrnn.function([Z, Y, M], sequence_loss(Z, Y, M))
    ce = np_softmax_ce(z, y)
    np.testing.assert_allclose(f(z, y, w), np.sum(ce * w) / np.sum(w), rtol=1e-10)
    assert f(z, y, np.zeros((2, 2))) == 0.0  # not NaN


def test_sequence_loss_gradient():
    y = T.constant(RNG.integers(0, 3, size=(4, 2)).astype("int32"))
    m = T.constant(np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype="float64"))
    check_grad(lambda z: sequence_loss(z, y, m), [RNG.normal(size=(4, 2, 3))])


def test_sequence_loss_errors():
    with pytest.raises(GraphTypeError) as info:
        sequence_loss(T.dmatrix("z"), T.imatrix("y"), T.dmatrix("m"))
    assert_user_error(info, "sequence_loss", "(T, B, C)")
    with pytest.raises(GraphTypeError) as info:
        sequence_loss(T.dtensor3("z"), T.dmatrix("y"), T.dmatrix("m"))
    assert_user_error(info, "sequence_loss", "integer")
    with pytest.raises(GraphShapeError) as info:
        sequence_loss(T.tensor("float64", (5, 2, 3), "z"), T.imatrix("y"), T.tensor("float64", (4, 2), "m"))
    assert_user_error(info, "sequence_loss", "mask", "axis 0")


# ---- masked mse


def np_masked_mse(p, t, m):
    wide = m.reshape(m.shape + (1,) * (p.ndim - m.ndim)).astype(p.dtype)
    se = (p - t) ** 2
    return np.sum(np.where(wide != 0, se * wide, 0.0)) / (np.sum(np.broadcast_to(wide, se.shape)) + 1e-12)


@pytest.mark.parametrize("pshape,mshape", [((5, 3), (5, 3)), ((5, 3, 2), (5, 3)), ((4, 3, 2), (4,)), ((6,), (6,))])
def test_masked_mse_matches_numpy(pshape, mshape):
    p, t = RNG.normal(size=pshape), RNG.normal(size=pshape)
    m = (RNG.random(size=mshape) > 0.4).astype("float64")
    m.reshape(-1)[0] = 1.0
    P, Tg = T.tensor("float64", (None,) * len(pshape), "p"), T.tensor("float64", (None,) * len(pshape), "t")
    M = T.tensor("float64", (None,) * len(mshape), "m")
    want = np_masked_mse(p, t, m)
    # by hand: the mean of the squared errors at unmasked positions
    sel = np.broadcast_to(m.reshape(mshape + (1,) * (len(pshape) - len(mshape))), pshape) != 0
    np.testing.assert_allclose(want, np.mean(((p - t) ** 2)[sel]), rtol=1e-10)
    check([P, Tg, M], masked_mse(P, Tg, M), [p, t, m], np.float64(want))


def test_masked_mse_bool_mask_float32_and_gradient():
    p, t = RNG.normal(size=(3, 2, 2)).astype("float32"), RNG.normal(size=(3, 2, 2)).astype("float32")
    m = np.array([[True, False], [True, True], [False, False]])
    P, Tg, M = T.ftensor3("p"), T.ftensor3("t"), T.matrix("m", dtype="bool")
    out = masked_mse(P, Tg, M)
    assert out.dtype == "float32"
    check([P, Tg, M], out, [p, t, m], np.float32(np_masked_mse(p.astype("float64"), t, m)), rtol=1e-5)
    mc = T.constant(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    check_grad(lambda a, b: masked_mse(a, b, mc), [RNG.normal(size=(3, 2, 2)), RNG.normal(size=(3, 2, 2))])


def test_masked_mse_errors():
    with pytest.raises(GraphTypeError) as info:
        masked_mse(T.dmatrix("p"), T.dmatrix("t"), T.dtensor3("m"))
    assert_user_error(info, "masked_mse", "leading axes")
    with pytest.raises(GraphTypeError) as info:
        masked_mse(T.dmatrix("p"), T.dvector("t"), T.dvector("m"))
    assert_user_error(info, "masked_mse", "target 1")


# ---- binary cross-entropy with logits


def np_bce(x, t):
    return np.logaddexp(0, x) - x * t


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_binary_cross_entropy_with_logits_matches_numpy(dtype):
    x = (RNG.normal(size=(4, 5)) * 4).astype(dtype)
    t = RNG.random(size=(4, 5)).astype(dtype)
    X, Tt = T.matrix("x", dtype=dtype), T.matrix("t", dtype=dtype)
    want = np_bce(x.astype("float64"), t.astype("float64")).astype(dtype)
    check([X, Tt], binary_cross_entropy_with_logits(X, Tt), [x, t], want, rtol=1e-5 if dtype == "float32" else 1e-12,
          atol=1e-6 if dtype == "float32" else 1e-15)


def test_binary_cross_entropy_with_logits_is_stable_and_accurate():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 40.0, -40.0, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    X, Tt = T.dvector("x"), T.dvector("t")
    loss = binary_cross_entropy_with_logits(X, Tt)
    got, g = symrnn.function([X, Tt], [loss, symrnn.grad(loss.sum(), X)])(x, t)
    tiny = np.log1p(np.exp(-40.0))  # about 4.2e-18: not rounded to 0
    np.testing.assert_allclose(got, [0.0, 0.0, 1000.0, 1000.0, tiny, tiny, np.log(2)], rtol=1e-12, atol=0)
    def sigmoid(v):
        return np.exp(-np.logaddexp(0, -v))

    want = (1 - t) * sigmoid(x) - t * sigmoid(-x)  # = sigmoid(x) - t, without cancelling 1 - 1e-18 to 0
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-300)  # x = 0 included: 0.5 - 1


def test_binary_cross_entropy_with_logits_integer_targets_and_gradient():
    x = RNG.normal(size=(6,))
    t = np.array([0, 1, 1, 0, 1, 0], dtype="int32")
    X, Tt = T.dvector("x"), T.ivector("t")
    check([X, Tt], binary_cross_entropy_with_logits(X, Tt), [x, t], np_bce(x, t))
    tc = T.constant(RNG.random(size=(3, 4)))
    check_grad(lambda a: binary_cross_entropy_with_logits(a, tc), [RNG.normal(size=(3, 4)) * 3])
    check_grad(lambda a, b: binary_cross_entropy_with_logits(a, b), [RNG.normal(size=(5,)), RNG.random(size=(5,))])


def test_binary_cross_entropy_with_logits_errors():
    with pytest.raises(GraphTypeError) as info:
        binary_cross_entropy_with_logits(T.dmatrix("x"), T.dvector("t"))
    assert_user_error(info, "binary_cross_entropy_with_logits", "targets 1")
    with pytest.raises(GraphTypeError) as info:
        binary_cross_entropy_with_logits(T.imatrix("x"), T.dmatrix("t"))
    assert_user_error(info, "binary_cross_entropy_with_logits", "float")
