"""Gradients through ``scan`` (backpropagation through time), against finite differences and NumPy BPTT.

``verify_grad`` compares in float64 with central differences, compiled and in
the reference interpreter; the NumPy BPTT loops are written here by hand.
"""

import re

import numpy as np
import pytest
from helpers import MODES, assert_same, check_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn import function, grad, scan, shared, until
from symrnn.gradient import NullGradientError
from symrnn.scan import Scan


def each_mode(inputs, outputs, **kwargs):
    kwargs.setdefault("on_unused_input", "ignore")
    return [(mode, function(inputs, outputs, mode=mode, **kwargs)) for mode in MODES]


def rnn_forward(x, h0, W):
    hs = [h0]
    for x_t in x:
        hs.append(np.tanh(x_t + hs[-1] @ W))
    return hs


def rnn_bptt(x, h0, W, C, truncate=None):
    """Gradients of ``sum(C * h)`` for ``h_t = tanh(x_t + h_{t-1} W)``: (dx, dh0, dW), by hand.

    With ``truncate=k`` only the last k steps are walked back (Theano's truncate_gradient): earlier
    sequence rows get zero, the initial state gets zero unless every step was walked, and dW sums
    the last k steps' contributions.
    """
    hs = rnn_forward(x, h0, W)
    n = len(x)
    first = 0 if truncate is None else max(n - truncate, 0)
    dx, dW, dh = np.zeros_like(x), np.zeros_like(W), np.zeros_like(h0)
    for t in range(n - 1, first - 1, -1):
        dh = dh + C[t]
        dpre = dh * (1 - hs[t + 1] ** 2)
        dx[t] = dpre
        dW += np.outer(hs[t], dpre)
        dh = dpre @ W.T
    dh0 = dh if first == 0 else np.zeros_like(h0)
    return dx, dh0, dW


def rnn_values(seed=0, n=5, d=3):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, d)), r.normal(size=d), r.normal(size=(d, d)) * 0.5, r.normal(size=(n, d))


# ---------------------------------------------------------------- against finite differences


def rnn(x, h0, W):
    h, _ = scan(lambda x_t, h, W: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0, non_sequences=W)
    return h


def test_grad_to_sequences_initial_states_and_non_sequences():
    x, h0, W, _ = rnn_values()
    check_grad(rnn, [x, h0, W])


def test_grad_of_the_last_state_only():
    x, h0, W, _ = rnn_values(1)
    check_grad(lambda x, h0, W: rnn(x, h0, W)[-1], [x, h0, W])


def test_grad_with_n_steps_shorter_than_the_sequence():
    x, h0, W, _ = rnn_values(2, n=6)

    def f(x, h0, W):
        h, _ = scan(lambda x_t, h: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0, n_steps=4)
        return h

    check_grad(f, [x, h0, W])


def test_grad_through_sequence_taps():
    x, h0, W, _ = rnn_values(3, n=7)

    def f(x, W):
        h, _ = scan(lambda x_tm2, x_t, x_tp1, h: T.tanh(x_tm2 * x_t + x_tp1 + T.dot(h, W)),
                    sequences=dict(input=x, taps=[-2, 0, 1]), outputs_info=T.zeros_like(x[0]))
        return h

    check_grad(f, [x, W])


def test_grad_through_mit_sot_output_taps():
    x, _, _, _ = rnn_values(4, n=6)
    m0 = np.random.default_rng(4).normal(size=(3, 3))

    def f(x, m0):
        m, _ = scan(lambda x_t, m_tm3, m_tm1: T.tanh(x_t + m_tm3 * 0.5 + m_tm1 * m_tm3), sequences=x,
                    outputs_info=dict(initial=m0, taps=[-3, -1]))
        return m

    check_grad(f, [x, m0])


def test_grad_with_go_backwards():
    x, h0, W, _ = rnn_values(5)

    def f(x, h0, W):
        h, _ = scan(lambda x_tm1, x_t, h: T.tanh(x_tm1 * 0.5 + x_t + T.dot(h, W)),
                    sequences=dict(input=x, taps=[-1, 0]), outputs_info=h0, go_backwards=True)
        return h

    check_grad(f, [x, h0, W])


def test_grad_of_several_outputs_mixing_states_and_per_step_outputs():
    x, h0, W, _ = rnn_values(6)

    def f(x, h0, W):
        (h, o, c), _ = scan(lambda x_t, h, c: (T.tanh(x_t + T.dot(h, W)), (h * x_t).sum(), c * 0.5 + h),
                            sequences=x, outputs_info=[h0, None, T.zeros_like(h0)])
        return h.sum() + (o ** 2).sum() + (c * c).sum() * 0.1

    check_grad(f, [x, h0, W])


def test_grad_through_nested_scans():
    x, _, _, _ = rnn_values(7, n=3, d=4)

    def f(x, w):
        def outer_step(row, acc):
            inner, _ = scan(lambda v, s: T.tanh(s * w + v * acc), sequences=row, outputs_info=acc)
            return inner[-1] + acc * 0.5

        out, _ = scan(outer_step, sequences=x, outputs_info=T.constant(0.3))
        return out

    check_grad(f, [x, np.array(0.7)])


def test_grad_through_a_scan_over_another_scans_output():
    x, h0, W, _ = rnn_values(8)

    def f(x, h0, W):
        h = rnn(x, h0, W)
        y, _ = scan(lambda h_t, acc: acc * T.tanh(h_t) + h_t, sequences=h, outputs_info=T.ones_like(h0))
        return y

    check_grad(f, [x, h0, W])


def test_grad_through_a_closure_over_an_outer_expression():
    x, h0, W, _ = rnn_values(9)
    check_grad(lambda x, h0, W: scan(lambda x_t, h: T.tanh(x_t + T.dot(W.T, h)), sequences=x,
                                     outputs_info=h0)[0], [x, h0, W])


def test_grad_of_integer_sequences_and_states_is_zero_and_float_paths_still_flow():
    x, h0, _, _ = rnn_values(10)

    def f(x, h0):
        (h, k), _ = scan(lambda i, x_t, h, k: (T.tanh(x_t * T.cast(i, "float64") + h), k + i),
                         sequences=[T.arange(x.shape[0]), x], outputs_info=[h0, T.constant(np.int64(0))])
        return h * T.cast(k, "float64").dimshuffle(0, "x")

    check_grad(f, [x, h0])


# ---------------------------------------------------------------- against hand-written NumPy BPTT


def test_grad_matches_numpy_bptt():
    vx, vh, vw, vc = rnn_values(11, n=6)
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    cost = (rnn(x, h0, W) * vc).sum()
    want = rnn_bptt(vx, vh, vw, vc)
    for mode, f in each_mode([x, h0, W], grad(cost, [x, h0, W])):
        for got, w, name in zip(f(vx, vh, vw), want, ("x", "h0", "W")):
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-13, err_msg=f"{mode} d{name}")


def test_grad_to_a_shared_initial_state_and_a_shared_closure_matches_numpy_bptt():
    vx, vh, vw, vc = rnn_values(12)
    h0 = shared(vh.copy(), name="h0")
    W = shared(vw.copy(), name="W")
    x = T.dmatrix("x")
    h, _ = scan(lambda x_t, h: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0)
    cost = (h * vc).sum()
    dx, dh0, dW = rnn_bptt(vx, vh, vw, vc)
    for mode, f in each_mode([x], grad(cost, [h0, W, x])):
        got_h0, got_W, got_x = f(vx)
        np.testing.assert_allclose(got_h0, dh0, rtol=1e-10, atol=1e-13, err_msg=mode)
        np.testing.assert_allclose(got_W, dW, rtol=1e-10, atol=1e-13, err_msg=mode)
        np.testing.assert_allclose(got_x, dx, rtol=1e-10, atol=1e-13, err_msg=mode)


def test_training_step_on_shared_parameters_matches_numpy():
    vx, vh, vw, vc = rnn_values(13)
    W = shared(vw.copy(), name="W")
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    h, _ = scan(lambda x_t, h: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0)
    cost = (h * vc).sum()
    gW = grad(cost, W)
    for mode in MODES:
        W.set_value(vw.copy())
        train = function([x, h0], cost, updates=[(W, W - 0.1 * gW)], mode=mode)
        got = train(vx, vh)
        np.testing.assert_allclose(got, (np.array(rnn_forward(vx, vh, vw)[1:]) * vc).sum(), rtol=1e-12)
        np.testing.assert_allclose(W.get_value(), vw - 0.1 * rnn_bptt(vx, vh, vw, vc)[2], rtol=1e-10)


def test_grad_to_a_shared_variable_updated_inside_the_scan():
    a = shared(np.float64(0.5), name="a")
    x = T.dvector("x")
    out, updates = scan(lambda v: (T.tanh(v * a), {a: a * 2}), sequences=x)
    # a's value at step t is 0.5 * 2**t; the final update is 0.5 * 2**n
    cost = out.sum() + updates[a]
    vx = np.array([0.3, -0.2, 0.7])
    factors = 2.0 ** np.arange(3)
    want = np.sum(vx * factors * (1 - np.tanh(vx * 0.5 * factors) ** 2)) + 2.0 ** 3
    for mode, f in each_mode([x], grad(cost, a)):
        np.testing.assert_allclose(f(vx), want, rtol=1e-12, err_msg=mode)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_truncate_gradient_matches_numpy_truncated_bptt(k):
    vx, vh, vw, vc = rnn_values(14, n=6)
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    h, _ = scan(lambda x_t, h, W: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0, non_sequences=W,
                truncate_gradient=k)
    cost = (h * vc).sum()
    want = rnn_bptt(vx, vh, vw, vc, truncate=k)
    assert np.all(want[0][: 6 - k] == 0) and np.all(want[0][6 - k:] != 0)  # the loop truncates
    for mode, f in each_mode([x, h0, W], grad(cost, [x, h0, W])):
        for got, w, name in zip(f(vx, vh, vw), want, ("x", "h0", "W")):
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-13, err_msg=f"{mode} d{name}")


def test_truncate_gradient_longer_than_the_sequence_is_the_full_gradient():
    vx, vh, vw, vc = rnn_values(15, n=4)
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    h, _ = scan(lambda x_t, h, W: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0, non_sequences=W,
                truncate_gradient=10)
    want = rnn_bptt(vx, vh, vw, vc)
    for mode, f in each_mode([x, h0, W], grad((h * vc).sum(), [x, h0, W])):
        for got, w in zip(f(vx, vh, vw), want):
            np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-13, err_msg=mode)


# ---------------------------------------------------------------- higher order


def scalar_recurrence(a):
    h, _ = scan(lambda h, a: h * a + T.sin(h), outputs_info=T.constant(0.5), non_sequences=a, n_steps=4)
    return h[-1]


def numpy_recurrence(a):
    h = 0.5
    for _ in range(4):
        h = h * a + np.sin(h)
    return h


def test_grad_of_grad_of_a_simple_scan_against_finite_differences_of_the_first_derivative():
    a = T.dscalar("a")
    first = grad(scalar_recurrence(a), a)
    second = grad(first, a)
    eps = 1e-6
    for point in (0.7, -0.4, 1.3):
        fd_first = (numpy_recurrence(point + eps) - numpy_recurrence(point - eps)) / (2 * eps)
        for mode, f in each_mode([a], [first, second]):
            got_first, got_second = f(point)
            np.testing.assert_allclose(got_first, fd_first, rtol=1e-6, err_msg=mode)
            f_first = function([a], first, mode=mode)
            fd_second = (f_first(point + eps) - f_first(point - eps)) / (2 * eps)
            np.testing.assert_allclose(got_second, fd_second, rtol=1e-5, err_msg=mode)


def test_grad_of_grad_through_verify_grad():
    def first_derivative(x):
        h, _ = scan(lambda x_t, h: T.tanh(x_t * h + x_t), sequences=x, outputs_info=T.constant(0.2))
        return grad(h.sum(), x)

    check_grad(first_derivative, [np.array([0.3, -0.5, 0.8])])


def test_hessian_of_a_scan_cost_against_finite_differences_of_its_gradient():
    v = T.dvector("v")

    def cost_of(v):
        h, _ = scan(lambda h, v: T.tanh(h * v + 0.1), outputs_info=T.ones_like(v), non_sequences=v, n_steps=3)
        return h[-1].sum() + (h[0] * h[1]).sum()

    def numpy_grad(p, eps=1e-6):
        def c(q):
            h, hs = np.ones_like(q), []
            for _ in range(3):
                h = np.tanh(h * q + 0.1)
                hs.append(h)
            return hs[-1].sum() + (hs[0] * hs[1]).sum()

        return np.array([(c(p + eps * e) - c(p - eps * e)) / (2 * eps) for e in np.eye(len(p))])

    point = np.array([0.3, -0.6, 0.9])
    cost = cost_of(v)
    for mode, f in each_mode([v], [grad(cost, v), symrnn.hessian(cost, v)]):
        g, H = f(point)
        np.testing.assert_allclose(g, numpy_grad(point), rtol=1e-6, err_msg=mode)
        g_fn = function([v], grad(cost, v), mode=mode)
        eps = 1e-6
        fd = np.array([(g_fn(point + eps * e) - g_fn(point - eps * e)) / (2 * eps) for e in np.eye(3)])
        np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-8, err_msg=mode)


def test_jacobian_of_a_scan_output():
    v = T.dvector("v")
    h, _ = scan(lambda h, v: T.tanh(h * v), outputs_info=T.ones_like(v), non_sequences=v, n_steps=3)
    point = np.array([0.3, -0.2])

    def numpy_last(p):
        q = np.ones_like(p)
        for _ in range(3):
            q = np.tanh(q * p)
        return q

    eps = 1e-6
    fd = np.array([(numpy_last(point + eps * e) - numpy_last(point - eps * e)) / (2 * eps) for e in np.eye(2)]).T
    for mode, f in each_mode([v], symrnn.jacobian(h[-1], v)):
        np.testing.assert_allclose(f(point), fd, rtol=1e-6, err_msg=mode)


# ---------------------------------------------------------------- the backward pass reuses the forward's values


def leaky_step(x_t, h, W):
    # tanh(...) is not itself a state, so the gradient must save it per step (an extra forward output)
    return T.tanh(x_t + T.dot(h, W)) * 0.9 + h * 0.1


def leaky_numpy(x, h0, W):
    """Forward states, d(sum h**2)/dW and d(sum h**2)/dh0 of ``leaky_step``, by hand."""
    hs, acts = [h0], []
    for x_t in x:
        acts.append(np.tanh(x_t + hs[-1] @ W))
        hs.append(acts[-1] * 0.9 + hs[-1] * 0.1)
    dW, carry = np.zeros_like(W), np.zeros_like(h0)
    for t in range(len(x) - 1, -1, -1):
        dh = carry + 2 * hs[t + 1]
        dpre = dh * 0.9 * (1 - acts[t] ** 2)
        dW += np.outer(hs[t], dpre)
        carry = dpre @ W.T + dh * 0.1
    return np.array(hs[1:]), dW, carry


def training_function(mode=None):
    r = np.random.default_rng(16)
    W = shared(r.normal(size=(3, 3)) * 0.5, name="W")
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    h, _ = scan(leaky_step, sequences=x, outputs_info=h0, non_sequences=W)
    cost = (h ** 2).sum()
    return function([x, h0], [cost, h], updates=[(W, W - 0.1 * grad(cost, W))], mode=mode), W


def test_training_function_has_one_forward_and_one_backward_loop():
    f, _ = training_function()
    loops = re.findall(r"# scan \w+ begins", f.source)
    assert len(loops) == 2, f.source
    assert len([n for n in f.nodes if isinstance(n.op, Scan)]) == 2


def test_backward_loop_does_not_recompute_tanh():
    f, _ = training_function()
    source = f.source
    assert source.count("xp.tanh(") == 1, source  # in the forward loop only
    backward = source[source.index("scan grad_of_scan begins"):source.index("scan grad_of_scan ends")]
    assert "tanh" not in backward.replace("saved_tanh", "")


@pytest.mark.parametrize("mode", MODES)
def test_one_forward_loop_when_each_parameter_gets_its_own_grad_call(mode):
    r = np.random.default_rng(19)
    vx, vh, vw = r.normal(size=(4, 3)), r.normal(size=3), r.normal(size=(3, 3)) * 0.5
    W, h0 = shared(vw.copy(), name="W"), shared(vh.copy(), name="h0")
    x = T.dmatrix("x")
    h, _ = scan(leaky_step, sequences=x, outputs_info=h0, non_sequences=W)
    cost = (h ** 2).sum()
    params = [W, h0]
    f = function([x], cost, updates=[(p, p - 0.1 * grad(cost, p)) for p in params], mode=mode)  # Theano style
    if mode != "reference":
        assert f.source.count("xp.tanh(") == 1, f.source
    hs, dW, dh0 = leaky_numpy(vx, vh, vw)
    np.testing.assert_allclose(f(vx), (hs ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), vw - 0.1 * dW, rtol=1e-10)
    np.testing.assert_allclose(h0.get_value(), vh - 0.1 * dh0, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_training_function_runs_and_matches_numpy(mode):
    f, W = training_function(mode)
    vw = W.get_value().copy()
    r = np.random.default_rng(17)
    vx, vh = r.normal(size=(5, 3)), r.normal(size=3)
    hs, dW, _ = leaky_numpy(vx, vh, vw)
    cost, h = f(vx, vh)
    np.testing.assert_allclose(cost, (hs ** 2).sum(), rtol=1e-12)
    assert_same(h, hs)
    np.testing.assert_allclose(W.get_value(), vw - 0.1 * dW, rtol=1e-10)


def test_gradient_of_a_ten_thousand_step_scan():
    r = np.random.default_rng(18)
    vx, vh, vw = r.normal(size=(10000, 3)) * 0.1, np.zeros(3), r.normal(size=(3, 3)) * 0.3
    vc = r.normal(size=(10000, 3))
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    cost = (rnn(x, h0, W) * vc).sum()
    want = rnn_bptt(vx, vh, vw, vc)
    for mode, f in each_mode([x, h0, W], grad(cost, [x, h0, W])):
        for got, w in zip(f(vx, vh, vw), want):
            np.testing.assert_allclose(got, w, rtol=1e-9, atol=1e-12, err_msg=mode)


def test_grad_through_until_is_a_clear_error():
    x = T.dscalar("x")
    values, _ = scan(lambda h: (h * 2, until(h * 2 > 10)), outputs_info=x, n_steps=100)
    with pytest.raises(NullGradientError) as info:
        grad(values[-1], x)
    assert "until" in str(info.value)


# ---------------------------------------------------------------- hypothesis: a small random configuration


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taps=st.sets(st.integers(-2, 2), min_size=1, max_size=3), extra=st.integers(1, 3),
       state_taps=st.sampled_from([[-1], [-2, -1], [-3, -1], [-2]]), go_backwards=st.booleans(),
       truncate=st.sampled_from([-1, 3]), seed=st.integers(0, 2 ** 16))
def test_random_configuration_verify_grad(taps, extra, state_taps, go_backwards, truncate, seed):
    """``extra`` (the number of steps) is at most 3, so ``truncate_gradient=3`` must give the full gradient."""
    taps = sorted(taps)
    r = np.random.default_rng(seed)
    length = max(taps[-1], 0) - min(taps[0], 0) + extra
    n_init = -min(state_taps)
    vx = r.normal(size=(length, 2))
    vm = r.normal(size=(n_init, 2)) if state_taps != [-1] else r.normal(size=2)
    vw = r.normal(size=2)

    def f(x, m0, w):
        def step(*args):
            seq, past, (w,) = args[:len(taps)], args[len(taps):-1], args[-1:]
            drive = sum((0.5 + 0.25 * i) * s for i, s in enumerate(seq))
            return T.tanh(drive * w + sum((0.6 - 0.3 * i) * p for i, p in enumerate(past)))

        initial = m0 if state_taps == [-1] else dict(initial=m0, taps=state_taps)
        m, _ = scan(step, sequences=dict(input=x, taps=taps), outputs_info=initial, non_sequences=w,
                    go_backwards=go_backwards, truncate_gradient=truncate)
        return m

    check_grad(f, [vx, vm, vw])
