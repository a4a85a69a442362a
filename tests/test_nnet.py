"""``T.nnet``: sigmoid, softmax, log_softmax, the cross-entropies, relu, softplus and hard_sigmoid.

Each forward result is compared with NumPy written out independently here, in
the compiled mode and in the reference interpreter, dtype and shape included;
each differentiable op passes ``verify_grad`` in float64.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError

MODES = ["FAST_RUN", "reference"]
THIS_FILE = os.path.basename(__file__)
RNG = np.random.default_rng(7)
RTOL = {"float32": 2e-6, "float64": 1e-12}


def check(inputs, output, values, expected, rtol=None, atol=0.0):
    expected = np.asarray(expected)
    assert output.dtype == expected.dtype.name, (output.type, expected.dtype)
    assert output.ndim == expected.ndim, (output.type, expected.shape)
    for static, actual in zip(output.type.shape, expected.shape):
        assert static is None or static == actual, (output.type, expected.shape)
    tol = RTOL.get(expected.dtype.name, 0.0) if rtol is None else rtol
    for mode in MODES:
        got = symrnn.function(inputs, output, mode=mode)(*values)
        assert isinstance(got, np.ndarray), (mode, type(got))
        assert got.dtype == expected.dtype and got.shape == expected.shape, (mode, got.dtype, got.shape)
        np.testing.assert_allclose(got, expected, rtol=tol, atol=atol, err_msg=mode)


def evaluate(inputs, output, values):
    """The output in each mode (for checks that are not a comparison with one expected array)."""
    return [symrnn.function(inputs, output, mode=mode)(*values) for mode in MODES]


def assert_error_names(excinfo, *words):
    message = str(excinfo.value)
    for word in words:
        assert word in message, (word, message)
    assert THIS_FILE in message, message


# --------------------------------------------------------------------------- NumPy references, written out here

def np_sigmoid(x):
    x = np.asarray(x, dtype="float64")
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_log_softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_softplus(x):
    return np.where(x > 30, x, np.log1p(np.exp(np.minimum(x, 30))))


def matrix_of(dtype, shape=(None, None), name="x"):
    return T.tensor(dtype, shape, name=name)


# --------------------------------------------------------------------------- sigmoid

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_matches_numpy(dtype):
    x = matrix_of(dtype)
    value = (RNG.standard_normal((3, 4)) * 4).astype(dtype)
    check([x], T.nnet.sigmoid(x), [value], np_sigmoid(value).astype(dtype))


def test_sigmoid_theano_doc_example():
    x = T.dmatrix("x")
    for got in evaluate([x], T.nnet.sigmoid(x), [np.array([[0.0, 1.0], [-1.0, -2.0]])]):
        np.testing.assert_allclose(got, [[0.5, 0.73105858], [0.26894142, 0.11920292]], atol=5e-9)  # 8 digits


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_is_stable_in_both_tails(dtype):
    x = T.vector("x", dtype=dtype)
    value = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    for got in evaluate([x], T.nnet.sigmoid(x), [value]):
        assert np.all(np.isfinite(got)) and got.dtype == dtype
        assert got[2] == 0.5 and got[4] == 1.0
        # exp(1000) overflows: the compiled form clamps exp's argument, so a result that underflows may
        # come out as a subnormal instead of 0 (an error below the dtype's smallest normal number)
        assert 0.0 <= got[0] <= np.finfo(dtype).tiny
        np.testing.assert_allclose(got[1], math.exp(-50.0), rtol=1e-5)


def test_ultra_fast_sigmoid_is_close_to_sigmoid():
    x = T.vector("x")
    value = np.linspace(-6, 6, 13)
    for got in evaluate([x], T.nnet.ultra_fast_sigmoid(x), [value]):
        np.testing.assert_allclose(got, np_sigmoid(value), atol=2e-2)


# --------------------------------------------------------------------------- softmax and log_softmax

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (5, 1), (2, 7)])
def test_softmax_is_row_wise(shape, dtype):
    x = matrix_of(dtype)
    value = (RNG.standard_normal(shape) * 3).astype(dtype)
    expected = np_softmax(value.astype("float64")).astype(dtype)
    check([x], T.nnet.softmax(x), [value], expected)
    for got in evaluate([x], T.nnet.softmax(x), [value]):
        np.testing.assert_allclose(got.sum(axis=1), np.ones(shape[0]), rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_matches_numpy(dtype):
    x = matrix_of(dtype)
    value = (RNG.standard_normal((3, 5)) * 3).astype(dtype)
    check([x], T.nnet.log_softmax(x), [value], np_log_softmax(value.astype("float64")).astype(dtype), rtol=1e-5,
          atol=1e-6)


def test_softmax_of_a_vector_is_a_one_row_matrix():
    v = T.vector("v")
    out = T.nnet.softmax(v)
    assert out.ndim == 2 and out.type.shape == (1, None)
    value = np.array([1.0, 2.0, 3.0])
    check([v], out, [value], np_softmax(value)[None, :])
    check([v], T.nnet.log_softmax(v), [value], np_log_softmax(value)[None, :])
    static = T.tensor("float64", (4,), name="s")
    assert T.nnet.softmax(static).type.shape == (1, 4)


def test_softmax_keeps_a_static_shape():
    x = T.tensor("float32", (2, 3), name="x")
    assert T.nnet.softmax(x).type == x.type
    assert T.nnet.log_softmax(x).type == x.type


@pytest.mark.parametrize("big", [1000.0, -1000.0, 1e300])
def test_softmax_and_log_softmax_are_stable_for_large_inputs(big):
    x = T.matrix("x")
    value = np.array([[big, 0.0, big - 1.0], [0.0, 0.0, 0.0]])
    shifted = value - value.max(axis=1, keepdims=True)  # exact for these values
    for got in evaluate([x], T.nnet.softmax(x), [value]):
        assert np.all(np.isfinite(got)), got
        np.testing.assert_allclose(got, np_softmax(value), rtol=1e-12)
        np.testing.assert_allclose(got.sum(axis=1), [1.0, 1.0])
    for got in evaluate([x], T.nnet.log_softmax(x), [value]):
        assert np.all(np.isfinite(got)), got
        np.testing.assert_allclose(got, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), rtol=1e-12)


def test_log_softmax_does_not_underflow_where_softmax_does():
    x = T.matrix("x")
    value = np.array([[1000.0, 0.0]])
    for got in evaluate([x], T.nnet.log_softmax(x), [value]):
        np.testing.assert_allclose(got, [[0.0, -1000.0]], rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays("float64", hnp.array_shapes(min_dims=2, max_dims=2, max_side=5),
                  elements=st.floats(-700, 700)))
def test_softmax_rows_are_distributions(value):
    x = T.matrix("x")
    for got in evaluate([x], T.nnet.softmax(x), [value]):
        assert np.all(got >= 0) and np.all(got <= 1)
        np.testing.assert_allclose(got.sum(axis=1), np.ones(value.shape[0]), rtol=1e-12)
        np.testing.assert_allclose(got, np_softmax(value), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("fn", [T.nnet.softmax, T.nnet.log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_rejects_integers_and_scalars(fn):
    with pytest.raises(GraphTypeError) as excinfo:
        fn(T.imatrix("i"))
    assert_error_names(excinfo, fn.__name__, "int32")
    with pytest.raises(GraphTypeError) as excinfo:
        fn(T.scalar("s"))
    assert_error_names(excinfo, fn.__name__)


# --------------------------------------------------------------------------- categorical_crossentropy

def test_categorical_crossentropy_with_integer_targets():
    p, y = T.matrix("p"), T.ivector("y")
    p_value = np_softmax(RNG.standard_normal((4, 3)))
    y_value = np.array([2, 0, 0, 1], dtype="int32")
    expected = np.array([-math.log(p_value[i, y_value[i]]) for i in range(4)])
    check([p, y], T.nnet.categorical_crossentropy(p, y), [p_value, y_value], expected)


@pytest.mark.parametrize("target_dtype", ["float64", "int64", "bool"])
def test_categorical_crossentropy_with_one_hot_targets(target_dtype):
    p, t = T.matrix("p"), T.matrix("t", dtype=target_dtype)
    p_value = np_softmax(RNG.standard_normal((4, 3)))
    t_value = np.eye(3, dtype=target_dtype)[[2, 0, 0, 1]]
    expected = np.array([-math.log(p_value[i, k]) for i, k in enumerate([2, 0, 0, 1])])
    check([p, t], T.nnet.categorical_crossentropy(p, t), [p_value, t_value], expected)


def test_categorical_crossentropy_with_soft_targets():
    p, t = T.matrix("p"), T.matrix("t")
    p_value = np_softmax(RNG.standard_normal((2, 3)))
    t_value = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    expected = np.array([-sum(t_value[i, k] * math.log(p_value[i, k]) for k in range(3)) for i in range(2)])
    check([p, t], T.nnet.categorical_crossentropy(p, t), [p_value, t_value], expected)


def test_categorical_crossentropy_float32_stays_float32():
    p, y = T.fmatrix("p"), T.ivector("y")
    p_value = np_softmax(RNG.standard_normal((3, 4))).astype("float32")
    y_value = np.array([3, 1, 0], dtype="int32")
    expected = -np.log(p_value[np.arange(3), y_value])
    check([p, y], T.nnet.categorical_crossentropy(p, y), [p_value, y_value], expected, rtol=1e-6)


@pytest.mark.parametrize("targets", ["integer", "one-hot"])
def test_categorical_crossentropy_of_softmax_is_finite_for_confident_mistakes(targets):
    x = T.matrix("x")
    y_value = np.array([1, 0])
    if targets == "integer":
        y, y_arg = T.lvector("y"), y_value
    else:
        y, y_arg = T.matrix("y"), np.eye(2)[y_value]
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y)
    value = np.array([[1000.0, 0.0], [3.0, 1.0]])
    expected = np.array([1000.0, math.log1p(math.exp(-2.0))])  # -log softmax, written out
    check([x, y], loss, [value, y_arg], expected)


def test_nll_training_cost_matches_numpy():
    x, y, W = T.matrix("x"), T.ivector("y"), T.matrix("W")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W)), y).mean()
    x_value, w_value = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 4))
    y_value = np.array([0, 3, 3, 1, 2], dtype="int32")
    logits = x_value @ w_value
    expected = np.mean([np.log(np.exp(row).sum()) - row[k] for row, k in zip(logits, y_value)])
    check([x, y, W], cost, [x_value, y_value, w_value], np.float64(expected))


def test_categorical_crossentropy_errors():
    p = T.matrix("p")
    with pytest.raises(GraphTypeError) as excinfo:
        T.nnet.categorical_crossentropy(p, T.vector("t"))
    assert_error_names(excinfo, "categorical_crossentropy", "targets")
    with pytest.raises(GraphTypeError) as excinfo:
        T.nnet.categorical_crossentropy(T.tensor3("p3"), T.imatrix("t"))
    assert_error_names(excinfo, "categorical_crossentropy", "matrix")
    with pytest.raises(GraphTypeError) as excinfo:
        T.nnet.categorical_crossentropy(T.imatrix("pi"), T.ivector("t"))
    assert_error_names(excinfo, "categorical_crossentropy", "float")
    with pytest.raises(GraphShapeError) as excinfo:
        T.nnet.categorical_crossentropy(T.tensor("float64", (3, 4)), T.tensor("int32", (5,)))
    assert_error_names(excinfo, "categorical_crossentropy", "3", "5")
    with pytest.raises(GraphShapeError) as excinfo:
        T.nnet.categorical_crossentropy(T.tensor("float64", (3, 4)), T.tensor("float64", (3, 5)))
    assert_error_names(excinfo, "categorical_crossentropy", "4", "5")


# --------------------------------------------------------------------------- binary_crossentropy

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_crossentropy_matches_numpy(dtype):
    o, t = matrix_of(dtype, name="o"), matrix_of(dtype, name="t")
    o_value = RNG.uniform(0.05, 0.95, (3, 4)).astype(dtype)
    t_value = RNG.uniform(0, 1, (3, 4)).astype(dtype)
    expected = np.zeros((3, 4))
    for idx in np.ndindex(3, 4):
        oo, tt = float(o_value[idx]), float(t_value[idx])
        expected[idx] = -(tt * math.log(oo) + (1 - tt) * math.log(1 - oo))
    check([o, t], T.nnet.binary_crossentropy(o, t), [o_value, t_value], expected.astype(dtype), rtol=1e-5)


def test_binary_crossentropy_broadcasts_a_known_unit_axis():
    o, t = T.matrix("o"), T.tensor("float64", (1, None), name="t")
    o_value = RNG.uniform(0.1, 0.9, (2, 3))
    t_value = np.array([[0.0, 1.0, 0.5]])
    expected = -(t_value * np.log(o_value) + (1 - t_value) * np.log(1 - o_value))
    check([o, t], T.nnet.binary_crossentropy(o, t), [o_value, t_value], expected)


def test_binary_crossentropy_of_sigmoid_is_finite_where_the_sigmoid_rounds():
    a, t = T.vector("a"), T.vector("t")
    a_value = np.array([100.0, -100.0, 40.0, 0.0])
    t_value = np.array([0.0, 1.0, 1.0, 1.0])
    # -log(sigmoid(a)) = log(1 + exp(-a)) and -log(1 - sigmoid(a)) = log(1 + exp(a)), written out:
    expected = np.array([100.0 + math.log1p(math.exp(-100.0)), 100.0 + math.log1p(math.exp(-100.0)),
                         math.log1p(math.exp(-40.0)), math.log(2.0)])
    check([a, t], T.nnet.binary_crossentropy(T.nnet.sigmoid(a), t), [a_value, t_value], expected)


def test_binary_crossentropy_errors():
    with pytest.raises(GraphTypeError) as excinfo:
        T.nnet.binary_crossentropy(T.ivector("o"), T.vector("t"))
    assert_error_names(excinfo, "binary_crossentropy")
    with pytest.raises(GraphShapeError) as excinfo:
        T.nnet.binary_crossentropy(T.tensor("float64", (3,)), T.tensor("float64", (4,)))
    assert THIS_FILE in str(excinfo.value)


# --------------------------------------------------------------------------- relu, softplus, hard_sigmoid

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, -0.2])
def test_relu_matches_numpy(alpha, dtype):
    x = matrix_of(dtype)
    value = RNG.standard_normal((3, 4)).astype(dtype)
    expected = np.array([[v if v > 0 else alpha * v for v in row] for row in value.astype("float64")])
    check([x], T.nnet.relu(x, alpha) if alpha else T.nnet.relu(x), [value], expected.astype(dtype), rtol=1e-6)


def test_relu_with_a_symbolic_alpha():
    x, a = T.vector("x"), T.dscalar("a")
    value = np.array([-2.0, -0.5, 0.0, 3.0])
    check([x, a], T.nnet.relu(x, a), [value, 0.25], np.array([-0.5, -0.125, 0.0, 3.0]))
    symrnn.verify_grad(lambda v, b: T.nnet.relu(v, b.sum()), [np.array([-2.0, -0.5, 1.5, 3.0]), np.array([0.3])])


def test_relu_on_integers():
    x = T.ivector("x")
    value = np.array([-3, 0, 4], dtype="int32")
    check([x], T.nnet.relu(x), [value], np.array([0, 0, 4], dtype="int32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softplus_matches_numpy(dtype):
    x = matrix_of(dtype)
    value = (RNG.standard_normal((3, 4)) * 5).astype(dtype)
    check([x], T.nnet.softplus(x), [value], np_softplus(value.astype("float64")).astype(dtype), rtol=1e-6)


def test_softplus_is_stable_for_large_inputs():
    x = T.vector("x")
    value = np.array([-1000.0, 1000.0, 800.0])
    for got in evaluate([x], T.nnet.softplus(x), [value]):
        np.testing.assert_allclose(got, [0.0, 1000.0, 800.0], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hard_sigmoid_matches_numpy(dtype):
    x = T.vector("x", dtype=dtype)
    value = np.array([-5.0, -2.5, -1.0, 0.0, 0.3, 2.5, 7.0], dtype=dtype)
    expected = np.array([0.0, 0.0, 0.3, 0.5, 0.56, 1.0, 1.0], dtype=dtype)  # clip(0.2 x + 0.5, 0, 1)
    check([x], T.nnet.hard_sigmoid(x), [value], expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fn", [T.nnet.sigmoid, T.nnet.softplus, T.nnet.hard_sigmoid, T.nnet.relu],
                         ids=["sigmoid", "softplus", "hard_sigmoid", "relu"])
def test_elementwise_nnet_ops_keep_the_static_shape(fn):
    x = T.tensor("float32", (2, None, 1), name="x")
    assert fn(x).type == x.type


# --------------------------------------------------------------------------- gradients

POINT = RNG.standard_normal((3, 4))
AWAY_FROM_KINKS = np.array([[-3.1, -1.2, -0.4, 0.3], [0.8, 1.7, 2.2, -2.0], [2.9, -0.7, 0.6, -1.9]])


@pytest.mark.parametrize("fn, point", [
    (T.nnet.sigmoid, POINT * 3),
    (T.nnet.softplus, POINT * 3),
    (T.nnet.softmax, POINT),
    (lambda x: T.nnet.softmax(x) ** 2, POINT),
    (T.nnet.log_softmax, POINT),
    (lambda v: T.nnet.softmax(v[0]), POINT),           # the vector form
    (lambda x: T.nnet.relu(x), AWAY_FROM_KINKS),
    (lambda x: T.nnet.relu(x, 0.3), AWAY_FROM_KINKS),
    (T.nnet.hard_sigmoid, AWAY_FROM_KINKS),
], ids=["sigmoid", "softplus", "softmax", "softmax-squared", "log_softmax", "softmax-vector", "relu",
        "leaky-relu", "hard_sigmoid"])
def test_verify_grad_of_nnet_ops(fn, point):
    symrnn.verify_grad(fn, [point])


def test_verify_grad_of_categorical_crossentropy_with_integer_targets():
    y = T.constant(np.array([3, 0, 3], dtype="int32"))
    p_point = RNG.uniform(0.1, 1.0, (3, 4))
    symrnn.verify_grad(lambda p: T.nnet.categorical_crossentropy(p, y), [p_point])
    symrnn.verify_grad(lambda x: T.nnet.categorical_crossentropy(T.nnet.softmax(x), y), [POINT])


def test_verify_grad_of_categorical_crossentropy_with_distribution_targets():
    p_point = RNG.uniform(0.1, 1.0, (3, 4))
    t_point = np_softmax(RNG.standard_normal((3, 4)))
    symrnn.verify_grad(lambda p, t: T.nnet.categorical_crossentropy(p, t), [p_point, t_point])
    symrnn.verify_grad(lambda x, t: T.nnet.categorical_crossentropy(T.nnet.softmax(x), t), [POINT, t_point])


def test_verify_grad_of_binary_crossentropy():
    o_point = RNG.uniform(0.1, 0.9, (3, 4))
    t_point = RNG.uniform(0.0, 1.0, (3, 4))
    symrnn.verify_grad(lambda o, t: T.nnet.binary_crossentropy(o, t), [o_point, t_point])
    symrnn.verify_grad(lambda a, t: T.nnet.binary_crossentropy(T.nnet.sigmoid(a), t), [POINT * 3, t_point])


def test_softmax_cross_entropy_gradient_is_softmax_minus_one_hot():
    x, y = T.matrix("x"), T.ivector("y")
    cost = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).sum()
    gx = symrnn.grad(cost, x)
    value = np.array([[1000.0, 0.0, -5.0], [0.5, 0.25, 0.0]])
    y_value = np.array([1, 2], dtype="int32")
    expected = np_softmax(value) - np.eye(3)[y_value]
    for got in evaluate([x, y], gx, [value, y_value]):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_sigmoid_gradient_theano_doc_example():
    x = T.dmatrix("x")
    gs = symrnn.grad(T.nnet.sigmoid(x).sum(), x)
    for got in evaluate([x], gs, [np.array([[0.0, 1.0], [-1.0, -2.0]])]):
        np.testing.assert_allclose(got, [[0.25, 0.19661193], [0.19661193, 0.10499359]], atol=5e-9)
