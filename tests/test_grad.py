"""``grad`` and ``verify_grad``: the reverse-mode machinery itself (each op's gradient is tested with the op)."""

import warnings

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn.gradient import DisconnectedInputError, GradientError, NullGradientError
from symrnn.graph import Apply, GraphTypeError, Op, TensorType, grad_undefined


def test_grad_of_square_at_four_is_eight():
    x = T.dscalar("x")
    gy = symrnn.grad(x ** 2, x)
    assert symrnn.function([x], gy)(4) == 8.0


def test_grad_list_of_wrt_and_shared_parameters():
    x = T.dvector("x")
    w = symrnn.shared(np.array([0.5, -1.0, 2.0]), name="w")
    b = symrnn.shared(np.float64(0.3), name="b")
    cost = T.sum(T.tanh(x * w + b) ** 2)
    gw, gb = symrnn.grad(cost, [w, b])
    f = symrnn.function([x], [gw, gb])
    xv = np.array([0.1, 0.2, -0.3])
    t = np.tanh(xv * w.get_value() + 0.3)
    dz = 2 * t * (1 - t ** 2)
    got_w, got_b = f(xv)
    np.testing.assert_allclose(got_w, dz * xv)
    np.testing.assert_allclose(got_b, dz.sum())


def test_gradient_accumulates_over_multiple_uses():
    x = T.dscalar("x")
    y = x * x * x + T.exp(x) * x  # x is used four times
    g = symrnn.function([x], symrnn.grad(y, x))
    for v in (0.0, 0.7, -1.3):
        assert g(v) == pytest.approx(3 * v ** 2 + np.exp(v) * (v + 1))


def test_second_derivative_grad_of_grad():
    x = T.dscalar("x")
    y = T.sin(x) * x ** 3
    g1 = symrnn.grad(y, x)
    g2 = symrnn.grad(g1, x)
    f = symrnn.function([x], [g1, g2])
    v = 0.8
    d1, d2 = f(v)
    assert d1 == pytest.approx(np.cos(v) * v ** 3 + 3 * v ** 2 * np.sin(v))
    assert d2 == pytest.approx(-np.sin(v) * v ** 3 + 6 * v ** 2 * np.cos(v) + 6 * v * np.sin(v))


def test_cost_must_be_a_float_scalar():
    x = T.dvector("x")
    with pytest.raises(GraphTypeError, match="scalar.*cost.sum\\(\\)"):
        symrnn.grad(x * 2, x)
    with pytest.raises(GraphTypeError, match="float"):
        symrnn.grad(T.argmax(x), x)
    with pytest.raises(TypeError, match="not a symbolic variable"):
        symrnn.grad(x.sum(), [x, 3.0])


def test_disconnected_inputs_policy():
    x, y = T.dvector("x"), T.dvector("y")
    cost = (x ** 2).sum()
    with pytest.raises(DisconnectedInputError, match="'y'"):
        symrnn.grad(cost, [x, y])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gx, gy = symrnn.grad(cost, [x, y], disconnected_inputs="warn")
    assert any("does not depend" in str(w.message) for w in caught)
    gx, gy = symrnn.grad(cost, [x, y], disconnected_inputs="ignore")
    got = symrnn.function([x, y], gy, on_unused_input="ignore")(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(got, np.zeros(3))
    assert symrnn.grad(cost, [y], disconnected_inputs="ignore", return_disconnected="none") == [None]


def test_consider_constant_stops_the_gradient():
    x = T.dscalar("x")
    y = x ** 2
    cost = y * x
    full = symrnn.function([x], symrnn.grad(cost, x))(3.0)
    assert full == pytest.approx(27.0)  # d(x^3) = 3x^2
    partial = symrnn.function([x], symrnn.grad(cost, x, consider_constant=[y]))(3.0)
    assert partial == pytest.approx(9.0)  # y treated as a constant: d(y*x) = y
    # Theano: consider_constant stops the gradient behind y, not at y itself (its test_grad_constant)
    assert symrnn.function([x], symrnn.grad(cost, y, consider_constant=[y]))(3.0) == pytest.approx(3.0)
    with pytest.raises(DisconnectedInputError, match="consider_constant"):
        symrnn.grad(y * 2, x, consider_constant=[y])  # x is reached only through y


def test_known_grads_without_cost():
    x = T.dvector("x")
    h = T.tanh(x)
    g_h = T.dvector("g_h")
    gx = symrnn.grad(None, x, known_grads={h: g_h})
    f = symrnn.function([x, g_h], gx)
    xv, gv = np.array([0.1, -0.4]), np.array([2.0, 3.0])
    np.testing.assert_allclose(f(xv, gv), gv * (1 - np.tanh(xv) ** 2))
    with pytest.raises(ValueError, match="cost or known_grads"):
        symrnn.grad(None, x)


def test_known_grads_add_to_cost():
    x = T.dscalar("x")
    h = x * 3
    cost = h ** 2
    gx = symrnn.grad(cost, x, known_grads={h: T.constant(1.0)})
    assert symrnn.function([x], gx)(2.0) == pytest.approx(3 * (2 * 6.0 + 1.0))


def test_integer_wrt_gets_zeros_like_theano():
    i = T.ivector("i")
    x = T.dvector("x")
    cost = (x * i).sum()
    gi = symrnn.grad(cost, i)
    assert gi.dtype == symrnn.config.floatX
    got = symrnn.function([x, i], gi, on_unused_input="ignore")(np.ones(3), [1, 2, 3])
    np.testing.assert_array_equal(got, np.zeros(3))


def test_gradient_through_piecewise_constant_paths_is_zero():
    x = T.dvector("x")
    cost = T.cast(T.argmax(x), "float64") + T.cast(x > 0, "float64").sum() + T.floor(x).sum()
    g = symrnn.function([x], symrnn.grad(cost, x))
    np.testing.assert_array_equal(g(np.array([0.5, -2.0])), [0.0, 0.0])


class _NoGradOp(Op):
    name = "no_grad_op"

    def make_node(self, x):
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        return [inputs[0] * 2]

    def grad(self, node, output_grads):
        return [grad_undefined(self, 0, "it is a test op")]


def test_undefined_gradient_is_a_clear_error_only_when_needed():
    x, y = T.dvector("x"), T.dvector("y")
    cost = (_NoGradOp()(x) + y).sum()
    with pytest.raises(NullGradientError, match="no_grad_op.*undefined.*test op"):
        symrnn.grad(cost, x)
    gy = symrnn.grad(cost, y)  # the undefined part does not reach y
    np.testing.assert_array_equal(symrnn.function([x, y], gy)(np.ones(2), np.ones(2)), np.ones(2))


def test_grad_dtype_matches_float32_parameters():
    x = T.fmatrix("x")
    w = symrnn.shared(np.ones((3, 2), dtype="float32"), name="w")
    cost = T.mean(T.dot(x, w) ** 2)
    gw = symrnn.grad(cost, w)
    assert gw.dtype == "float32"
    out = symrnn.function([x], gw)(np.ones((4, 3), dtype="float32"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.full((3, 2), 2 * 3.0 * 4 / 8, dtype="float32"))


def test_gradient_of_broadcast_parameter_has_its_shape():
    x = T.dmatrix("x")
    b = symrnn.shared(np.zeros(3), name="b", shape=(3,))
    row = T.tensor("float64", (1, 3), name="row")
    cost = ((x + b) * row).sum()
    gb, grow = symrnn.grad(cost, [b, row])
    f = symrnn.function([x, row], [gb, grow])
    xv, rv = np.ones((4, 3)), np.array([[1.0, 2.0, 3.0]])
    got_b, got_row = f(xv, rv)
    np.testing.assert_allclose(got_b, 4 * rv[0])
    np.testing.assert_allclose(got_row, (xv).sum(axis=0, keepdims=True))


def test_verify_grad_passes_for_correct_gradients():
    rng = np.random.default_rng(0)
    symrnn.verify_grad(lambda a, b: T.tanh(T.dot(a, b)), [rng.normal(size=(2, 3)), rng.normal(size=(3, 4))])
    symrnn.verify_grad(lambda a: (a ** 3).sum(), [rng.normal(size=(3,))])


class _WrongGradSquare(Op):
    name = "wrong_square"

    def make_node(self, x):
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)])

    def perform(self, node, inputs):
        return [inputs[0] ** 2]

    def emit(self, node, inputs, outputs, ctx):
        return f"{outputs[0]} = {inputs[0]} ** 2"

    def grad(self, node, output_grads):
        return [output_grads[0] * node.inputs[0] * 3]  # wrong: should be 2x


def test_verify_grad_catches_a_wrong_gradient():
    with pytest.raises(GradientError, match="input 0.*symbolic.*numeric"):
        symrnn.verify_grad(lambda a: _WrongGradSquare()(a), [np.array([0.5, 1.5])])


def test_verify_grad_requires_float_output():
    with pytest.raises(GraphTypeError, match="float"):
        symrnn.verify_grad(lambda a: T.argmax(a), [np.array([0.5, 1.5])])


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_logistic_regression_gradient_matches_numpy(mode):
    rng = np.random.default_rng(3)
    xv, yv = rng.normal(size=(20, 5)), rng.integers(0, 2, size=20).astype("float64")
    x, y = T.dmatrix("x"), T.dvector("y")
    w = symrnn.shared(rng.normal(size=5), name="w")
    b = symrnn.shared(0.1, name="b")
    p = T.nnet.sigmoid(T.dot(x, w) + b)
    cost = T.nnet.binary_crossentropy(p, y).mean() + 0.01 * (w ** 2).sum()
    gw, gb = symrnn.grad(cost, [w, b])
    got_w, got_b = symrnn.function([x, y], [gw, gb], mode=mode)(xv, yv)
    pv = 1 / (1 + np.exp(-(xv @ w.get_value() + 0.1)))
    np.testing.assert_allclose(got_w, xv.T @ (pv - yv) / 20 + 0.02 * w.get_value(), rtol=1e-10)
    np.testing.assert_allclose(got_b, np.mean(pv - yv), rtol=1e-10)
