"""Theano's documentation examples, run on symrnn with only their imports changed.

The code in each test is the code of Theano's basic tutorial
(deeplearning.net/software/theano/tutorial: "Baby Steps - Algebra",
"More Examples", "Derivatives in Theano", "Loop": scan) and the expected
numbers are the numbers that those pages print, not numbers taken from symrnn.

Only the imports differ from Theano's code: ``theano.scan_module.until`` is
``theano.until`` and ``theano.tensor.shared_randomstreams`` is
``symrnn.tensor.shared_randomstreams``.  ``test_tutorial_names`` lists the
tutorial's names; one that symrnn lacks is an expected failure until it exists.
"""

import numpy
import numpy as np
import pytest

import symrnn as theano
import symrnn.tensor as T
from symrnn import function, shared

RTOL = 1e-7

# What Theano's tutorial prints.
LOGISTIC_DOC = [[0.5, 0.73105858], [0.26894142, 0.11920292]]
DLOGISTIC_DOC = [[0.25, 0.19661193], [0.19661193, 0.10499359]]


def close(got, want, rtol=RTOL):
    """The docs print 8 significant digits, so compare to that precision."""
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=rtol, atol=5e-9)


# ---------------------------------------------------------------- Baby steps - algebra


def test_adding_two_scalars():
    x = T.dscalar("x")
    y = T.dscalar("y")
    z = x + y
    f = function([x, y], z)
    assert f(2, 3) == 5.0
    assert numpy.allclose(f(16.3, 12.1), 28.4)
    assert type(x) is type(z)
    assert x.type == T.dscalar().type and x.type.ndim == 0 and x.type.dtype == "float64"


def test_adding_two_matrices():
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    z = x + y
    f = function([x, y], z)
    close(f([[1, 2], [3, 4]], [[10, 20], [30, 40]]), [[11.0, 22.0], [33.0, 44.0]])
    close(f(numpy.array([[1, 2], [3, 4]]), numpy.array([[10, 20], [30, 40]])), [[11.0, 22.0], [33.0, 44.0]])


def test_algebra_exercise():
    a = T.vector()  # declare variable
    out = a + a**10  # build symbolic expression
    f = theano.function([a], out)  # compile function
    close(f([0, 1, 2]), [0.0, 2.0, 1026.0])


# ---------------------------------------------------------------- More examples


def test_logistic_function():
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    logistic = theano.function([x], s)
    close(logistic([[0, 1], [-1, -2]]), LOGISTIC_DOC)


def test_logistic_function_through_tanh():
    x = T.dmatrix("x")
    s2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = theano.function([x], s2)
    close(logistic2([[0, 1], [-1, -2]]), LOGISTIC_DOC)


def test_logistic_function_nnet_sigmoid():
    x = T.dmatrix("x")
    logistic = theano.function([x], T.nnet.sigmoid(x))
    close(logistic([[0, 1], [-1, -2]]), LOGISTIC_DOC)


def test_computing_more_than_one_thing_at_the_same_time():
    a, b = T.dmatrices("a", "b")
    diff = a - b
    abs_diff = abs(diff)
    diff_squared = diff**2
    f = theano.function([a, b], [diff, abs_diff, diff_squared])
    got = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    assert isinstance(got, list) and len(got) == 3
    close(got[0], [[1.0, 0.0], [-1.0, -2.0]])
    close(got[1], [[1.0, 0.0], [1.0, 2.0]])
    close(got[2], [[1.0, 0.0], [1.0, 4.0]])


def test_shared_accumulator():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])

    assert state.get_value() == 0
    assert accumulator(1) == 0
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301

    state.set_value(-1)
    assert accumulator(3) == -1
    assert state.get_value() == 2

    decrementor = function([inc], state, updates=[(state, state - inc)])
    assert decrementor(2) == 2
    assert state.get_value() == 0


def test_givens_replaces_shared_state():
    state = shared(0)
    inc = T.iscalar("inc")
    accumulator = function([inc], state, updates=[(state, state + inc)])
    accumulator(1)
    accumulator(300)
    state.set_value(-1)
    accumulator(3)
    decrementor = function([inc], state, updates=[(state, state - inc)])
    decrementor(2)
    assert state.get_value() == 0

    fn_of_state = state * 2 + inc
    # The type of foo must match the shared variable we are replacing with the ``givens``
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7  # we're using 3 for the state, not state.value
    assert state.get_value() == 0  # old state still there, but we didn't use it

    state.set_value(10)
    assert skip_shared(1, 3) == 7  # still the given value, not the shared one
    assert function([inc], fn_of_state)(1) == 21  # without givens the shared value is used


def test_using_random_numbers():
    from symrnn.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)  # Not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    f_val0 = f()
    f_val1 = f()  # different numbers from f_val0
    assert f_val0.shape == (2, 2) and np.all((0 <= f_val0) & (f_val0 < 1))
    assert not np.allclose(f_val0, f_val1)

    g_val0 = g()  # different numbers from f_val0 and f_val1
    g_val1 = g()  # same numbers as g_val0!
    np.testing.assert_array_equal(g_val0, g_val1)
    assert not np.allclose(g_val0, f_val0) and not np.allclose(g_val0, f_val1)

    # a random variable is drawn at most once during any single function execution
    close(nearly_zeros(), np.zeros((2, 2)))


def test_seeding_random_streams():
    from symrnn.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=234)
    f = function([], srng.uniform((2, 2)))
    srng.seed(902340)  # seeds rv_u and rv_n with different seeds each
    first = f()
    srng.seed(902340)
    np.testing.assert_array_equal(f(), first)


# ---------------------------------------------------------------- Derivatives


def test_derivative_of_square():
    x = T.dscalar("x")
    y = x**2
    gy = T.grad(y, x)
    f = theano.function([x], gy)
    close(f(4), 8.0)
    close(f(94.2), 188.4)


def test_gradient_of_summed_logistic():
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = T.grad(s, x)
    dlogistic = theano.function([x], gs)
    close(dlogistic([[0, 1], [-1, -2]]), DLOGISTIC_DOC)


def test_gradient_of_summed_logistic_in_reference_mode():
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = theano.grad(s, x)
    dlogistic = theano.function([x], gs, mode="reference")
    close(dlogistic([[0, 1], [-1, -2]]), DLOGISTIC_DOC)


def test_jacobian_with_scan():
    x = T.dvector("x")
    y = x**2
    J, updates = theano.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                             non_sequences=[y, x])
    f = theano.function([x], J, updates=updates)
    close(f([4, 4]), [[8.0, 0.0], [0.0, 8.0]])


def test_jacobian_helper():
    x = T.dvector("x")
    y = x**2
    J = theano.gradient.jacobian(y, x)
    f = theano.function([x], J)
    close(f([4, 4]), [[8.0, 0.0], [0.0, 8.0]])


def test_hessian_with_scan():
    x = T.dvector("x")
    y = x**2
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = theano.scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                             non_sequences=[gy, x])
    f = theano.function([x], H, updates=updates)
    close(f([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


def test_hessian_helper():
    x = T.dvector("x")
    cost = (x**2).sum()
    f = theano.function([x], theano.gradient.hessian(cost, x))
    close(f([4, 4]), [[2.0, 0.0], [0.0, 2.0]])


# ---------------------------------------------------------------- Loop: scan


def test_scan_elementwise_tanh():
    # defining the tensor variables
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")

    results, updates = theano.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    compute_elementwise = theano.function(inputs=[X, W, b_sym], outputs=results)

    # test values
    x = np.eye(2, dtype=theano.config.floatX)
    w = np.ones((2, 2), dtype=theano.config.floatX)
    b = np.ones((2), dtype=theano.config.floatX)
    b[1] = 2

    got = compute_elementwise(x, w, b)
    close(got, [[0.96402758, 0.99505475], [0.96402758, 0.99505475]])
    # comparison with numpy
    close(got, np.tanh(x.dot(w) + b), rtol=1e-12)


def test_scan_power_of_a_vector():
    k = T.iscalar("k")
    A = T.vector("A")

    # Symbolic description of the result
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A, outputs_info=T.ones_like(A),
                                  non_sequences=A, n_steps=k)

    # We only care about A**k, but scan has provided us with A**1 through A**k.
    final_result = result[-1]

    power = theano.function(inputs=[A, k], outputs=final_result, updates=updates)
    close(power(range(10), 2), [0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 36.0, 49.0, 64.0, 81.0])
    close(power(range(10), 5), np.arange(10.0) ** 5)


def test_scan_polynomial():
    coefficients = theano.tensor.vector("coefficients")
    x = T.scalar("x")

    max_coefficients_supported = 10000

    # Generate the components of the polynomial
    components, updates = theano.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable**power),
        outputs_info=None,
        sequences=[coefficients, theano.tensor.arange(max_coefficients_supported)],
        non_sequences=x)
    # Sum them up
    polynomial = components.sum()

    # Compile a function
    calculate_polynomial = theano.function(inputs=[coefficients, x], outputs=polynomial)

    # Test
    test_coefficients = numpy.asarray([1, 0, 2], dtype=numpy.float32)
    test_value = 3
    close(calculate_polynomial(test_coefficients, test_value), 19.0)
    assert 1.0 * (3**0) + 0.0 * (3**1) + 2.0 * (3**2) == 19.0


def test_scan_until():
    def power_of_2(previous_power, max_value):
        return previous_power * 2, theano.until(previous_power * 2 > max_value)

    max_value = T.scalar()
    values, _ = theano.scan(power_of_2, outputs_info=T.constant(1.0), non_sequences=max_value, n_steps=1024)

    f = theano.function([max_value], values)
    close(f(45), [2.0, 4.0, 8.0, 16.0, 32.0, 64.0])


# ---------------------------------------------------------------- A real example: logistic regression


def _logistic_regression_tutorial(training_steps, stable):
    """Theano's "A Real Example: Logistic Regression", with the tutorial's sizes (fewer steps)."""
    rng = numpy.random.RandomState(42)

    N = 400  # training sample size
    feats = 784  # number of input variables

    # generate a dataset: D = (input_values, target_class)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))

    # Declare Theano symbolic variables
    x = T.dmatrix("x")
    y = T.dvector("y")

    # initialize the weight vector w randomly
    w = theano.shared(rng.randn(feats), name="w")

    # initialize the bias term
    b = theano.shared(0.0, name="b")

    # Construct Theano expression graph
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))  # Probability that target = 1
    prediction = p_1 > 0.5  # The prediction thresholded
    if stable:  # the same cross-entropy, written so that it cannot overflow
        z = T.dot(x, w) + b
        xent = y * T.nnet.softplus(-z) + (1 - y) * T.nnet.softplus(z)
    else:
        xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # Cross-entropy loss function
    cost = xent.mean() + 0.01 * (w**2).sum()  # The cost to minimize
    gw, gb = T.grad(cost, [w, b])  # Compute the gradient of the cost

    # Compile
    train = theano.function(inputs=[x, y], outputs=[prediction, xent],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)
    cost_of = theano.function(inputs=[x, y], outputs=cost)

    costs = [float(cost_of(D[0], D[1]))]
    w_before = w.get_value()
    for _ in range(training_steps):
        pred, err = train(D[0], D[1])
        costs.append(float(cost_of(D[0], D[1])))
    return D, w_before, w.get_value(), b.get_value(), costs, predict(D[0]), err


def _numpy_cost(X, t, w, b):
    z = X @ w + b
    xent = t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)
    return xent.mean() + 0.01 * (w**2).sum()


def test_logistic_regression_tutorial_trains():
    D, w0, w, b, costs, prediction, err = _logistic_regression_tutorial(training_steps=300, stable=True)
    X, t = D
    assert all(np.isfinite(costs))
    assert costs[-1] < 0.5 * costs[0]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(costs, costs[1:]))  # small steps: monotone
    # The costs symrnn reports are the costs NumPy computes from the same weights.
    close(costs[0], _numpy_cost(X, t, w0, 0.0), rtol=1e-10)
    close(costs[-1], _numpy_cost(X, t, w, b), rtol=1e-10)
    # The prediction is the thresholded model, and it has memorised the random labels: far above chance (0.5).
    np.testing.assert_array_equal(prediction, (X @ w + b) > 0)
    assert (prediction == t).mean() > 0.9
    assert err.shape == (400,)


def test_logistic_regression_tutorial_one_step_matches_numpy():
    """One step of the tutorial's update, against the gradient worked out by hand in NumPy."""
    D, w0, w1, b1, costs, _, _ = _logistic_regression_tutorial(training_steps=1, stable=True)
    X, t = D
    p = 1 / (1 + np.exp(-(X @ w0)))
    gw = X.T @ (p - t) / len(t) + 0.02 * w0
    gb = (p - t).mean()
    close(w1, w0 - 0.1 * gw, rtol=1e-9)
    close(b1, 0.0 - 0.1 * gb, rtol=1e-9)


def test_logistic_regression_tutorial_verbatim_cost_is_finite():
    with np.errstate(all="ignore"):
        _, _, _, _, costs, _, _ = _logistic_regression_tutorial(training_steps=3, stable=False)
    assert all(np.isfinite(costs)) and costs[-1] < costs[0]


# ---------------------------------------------------------------- names the tutorial uses

TUTORIAL_NAMES = [
    (theano, "function"), (theano, "shared"), (theano, "grad"), (theano, "config"), (theano, "printing"),
    (T, "grad"), (T, "dscalar"), (T, "dmatrix"), (T, "dvector"), (T, "iscalar"), (T, "scalar"), (T, "vector"),
    (T, "dmatrices"), (T, "dscalars"), (T, "exp"), (T, "tanh"), (T, "log"), (T, "dot"), (T, "sum"), (T, "nnet"),
    (T, "arange"), (T, "ones_like"), (theano, "scan"), (theano, "until"), (theano.gradient, "jacobian"),
    (theano.gradient, "hessian"), (theano.printing, "pp"), (theano.printing, "debugprint"),
    (theano, "pp"), (theano, "In"),
]


@pytest.mark.parametrize("module, name", TUTORIAL_NAMES,
                         ids=lambda v: v if isinstance(v, str) else v.__name__)
def test_tutorial_names(module, name):
    assert hasattr(module, name), f"{module.__name__}.{name} is used by Theano's tutorial but missing"
