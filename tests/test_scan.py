"""``scan`` forward: every feature against a plain Python/NumPy loop, compiled and in the reference interpreter.

Expected values come from NumPy loops written here, or from the numbers that
Theano's loop tutorial prints; never from symrnn itself.
"""

import re

import numpy as np
import pytest
from helpers import MODES, assert_same, assert_user_error, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn import function, scan, shared, until
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.scan import Scan

floatX = symrnn.config.floatX


def each_mode(inputs, outputs, **kwargs):
    """``function(inputs, outputs)`` in every mode, as ``(mode, f)`` pairs."""
    kwargs.setdefault("on_unused_input", "ignore")
    return [(mode, function(inputs, outputs, mode=mode, **kwargs)) for mode in MODES]


def sequence_taps_loop(x, taps, go_backwards=False):
    """Theano's alignment, as a loop: per step, ``[x[tau + k] for k in taps]``.

    ``tau`` runs over the positions where every tap and tap 0 exist, from the
    end with ``go_backwards``.
    """
    lo, hi = min(min(taps), 0), max(max(taps), 0)
    positions = list(range(-lo, len(x) - hi))
    if go_backwards:
        positions.reverse()
    return [[x[tau + k] for k in taps] for tau in positions]


# ---------------------------------------------------------------- Theano's loop tutorial, with its printed numbers


def test_tutorial_power_by_iterated_multiplication():
    A, k = T.vector("A"), T.iscalar("k")
    result, updates = scan(fn=lambda prior_result, A: prior_result * A, outputs_info=T.ones_like(A),
                           non_sequences=A, n_steps=k)
    final = result[-1]
    for mode, power in each_mode([A, k], final, updates=updates):
        got = power(np.arange(10, dtype=floatX), 2)
        assert_same(got, np.array([0, 1, 4, 9, 16, 25, 36, 49, 64, 81], dtype=floatX), what=mode)
        a = np.linspace(-1.5, 2.0, 7).astype(floatX)
        want = np.ones_like(a)
        for _ in range(5):
            want = want * a
        assert_same(power(a, 5), want, what=mode)


def test_tutorial_polynomial_sequences_of_different_lengths_cut_to_the_shortest():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    components, updates = scan(fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
                               outputs_info=None,
                               sequences=[coefficients, T.arange(max_coefficients_supported)],
                               non_sequences=x)
    polynomial = components.sum()
    for mode, calculate_polynomial in each_mode([coefficients, x], [polynomial, components], updates=updates):
        value, comps = calculate_polynomial(np.asarray([1, 0, 2], dtype=floatX), 3)
        assert float(value) == 19.0, mode
        assert comps.shape == (3,), mode  # the 10000-long arange is cut to the 3 coefficients
        c = np.array([0.5, -1.0, 2.0, 0.25], dtype=floatX)
        want = sum(c[i] * 1.5 ** i for i in range(4))
        np.testing.assert_allclose(calculate_polynomial(c, 1.5)[0], want, rtol=1e-12)


def test_tutorial_tanh_of_x_dot_w_plus_b_mapped_over_a_sequence():
    X, W, b_sym = T.matrix("X"), T.matrix("W"), T.vector("b_sym")
    results, updates = scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    x = np.eye(2, dtype=floatX)
    x[1] = 2
    w = np.ones((2, 2), dtype=floatX)
    b = np.ones(2, dtype=floatX)
    b[1] = 2
    want = np.array([np.tanh(x[i].dot(w) + b) for i in range(2)])
    check([X, W, b_sym], results, [x, w, b], want)
    r = np.random.default_rng(0)
    x, w, b = r.normal(size=(5, 3)), r.normal(size=(3, 4)), r.normal(size=4)
    check([X, W, b_sym], results, [x, w, b], np.array([np.tanh(row @ w + b) for row in x]))


def test_tutorial_taps_example_x_with_taps_minus_two_minus_one_over_ten_steps():
    X, W, b_sym = T.matrix("X"), T.matrix("W"), T.vector("b_sym")
    U, V, n_sym = T.matrix("U"), T.matrix("V"), T.iscalar("n_sym")
    results, updates = scan(
        lambda x_tm2, x_tm1: T.dot(x_tm2, U) + T.dot(x_tm1, V) + T.tanh(T.dot(x_tm1, W) + b_sym),
        n_steps=n_sym, outputs_info=[dict(initial=X, taps=[-2, -1])])
    x = np.zeros((2, 2), dtype=floatX)  # the initial value must be able to return x[-2]
    x[1, 1] = 1
    w = 0.5 * np.ones((2, 2), dtype=floatX)
    u = 0.5 * (np.ones((2, 2), dtype=floatX) - np.eye(2, dtype=floatX))
    v = 0.5 * np.ones((2, 2), dtype=floatX)
    n = 10
    b = np.ones(2, dtype=floatX)
    # the comparison with NumPy, as the tutorial writes it
    x_res = np.zeros((10, 2))
    x_res[0] = x[0].dot(u) + x[1].dot(v) + np.tanh(x[1].dot(w) + b)
    x_res[1] = x[1].dot(u) + x_res[0].dot(v) + np.tanh(x_res[0].dot(w) + b)
    x_res[2] = x_res[0].dot(u) + x_res[1].dot(v) + np.tanh(x_res[1].dot(w) + b)
    for i in range(2, 10):
        x_res[i] = x_res[i - 2].dot(u) + x_res[i - 1].dot(v) + np.tanh(x_res[i - 1].dot(w) + b)
    check([X, U, V, W, b_sym, n_sym], results, [x, u, v, w, b, n], x_res)


def test_tutorial_triangular_numbers_by_accumulating_an_arange():
    up_to = T.iscalar("up_to")

    def accumulate_by_adding(arange_val, sum_to_date):
        return sum_to_date + arange_val

    seq = T.arange(up_to)
    outputs_info = T.as_tensor_variable(np.asarray(0, seq.dtype))
    scan_result, scan_updates = scan(fn=accumulate_by_adding, outputs_info=outputs_info, sequences=seq)
    for mode, triangular_sequence in each_mode([up_to], scan_result):
        got = triangular_sequence(15)
        np.testing.assert_array_equal(got, [n * (n + 1) // 2 for n in range(15)], err_msg=mode)
        assert got.dtype == np.dtype(seq.dtype), mode


def test_tutorial_trace_via_two_arange_sequences():
    X = T.matrix("X")
    result, _ = scan(lambda i, j, t_f: T.cast(X[i, j] + t_f, floatX),
                     sequences=[T.arange(X.shape[0]), T.arange(X.shape[1])],
                     outputs_info=np.asarray(0.0, dtype=floatX))
    result = result[-1]
    x = np.eye(5, dtype=floatX)
    x[0] = np.arange(5, dtype=floatX)
    check([X], result, [x], np.asarray(np.trace(x), dtype=floatX))
    y = np.random.default_rng(1).normal(size=(3, 6)).astype(floatX)  # not square: the shorter arange wins
    check([X], result, [y], np.asarray(np.trace(y), dtype=floatX))


@pytest.mark.parametrize("mode", MODES)
def test_tutorial_shared_counter_driven_by_updates(mode):
    a = shared(1)
    values, updates = scan(lambda: {a: a + 1}, n_steps=10)
    b = a + 1
    c = updates[a] + 1
    f = function([], [b, c], updates=updates, mode=mode)
    got = f()
    assert [int(v) for v in got] == [2, 12]
    assert int(a.get_value()) == 11
    assert [int(v) for v in f()] == [12, 22]  # the updates compose call after call
    assert int(a.get_value()) == 21


def test_tutorial_until_powers_of_two():
    def power_of_2(previous_power, max_value):
        return previous_power * 2, until(previous_power * 2 > max_value)

    max_value = T.scalar()
    values, _ = scan(power_of_2, outputs_info=T.constant(1.0), non_sequences=max_value, n_steps=1024)
    check([max_value], values, [45], np.array([2, 4, 8, 16, 32, 64], dtype=floatX))


def test_tutorial_jacobian_and_hessian_with_scan():
    x = T.dvector("x")
    y = x ** 2
    J, updates = scan(lambda i, y, x: symrnn.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    check([x], J, [np.array([4.0, 4.0])], np.array([[8.0, 0.0], [0.0, 8.0]]), updates=updates)
    cost = y.sum()
    gy = symrnn.grad(cost, x)
    H, updates = scan(lambda i, gy, x: symrnn.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                      non_sequences=[gy, x])
    check([x], H, [np.array([4.0, 4.0])], np.array([[2.0, 0.0], [0.0, 2.0]]), updates=updates)
    check([x], symrnn.jacobian(y, x), [np.array([4.0, 4.0])], np.array([[8.0, 0.0], [0.0, 8.0]]))
    check([x], symrnn.hessian(cost, x), [np.array([4.0, 4.0])], np.array([[2.0, 0.0], [0.0, 2.0]]))


def test_tutorial_jacobian_verbatim_with_T_grad():
    x = T.dvector("x")
    y = x ** 2
    J, updates = scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    for _, f in each_mode([x], J, updates=updates):
        np.testing.assert_array_equal(f([4, 4]), [[8, 0], [0, 8]])


# ---------------------------------------------------------------- the articles' two-step NumPy RNN, with scan


def test_articles_two_step_numpy_rnn_written_with_scan():
    x = np.array([1.0, 2.0])
    state = np.array([0.0, 0.0])
    w_cell_state = np.array([[0.1, 0.2], [0.3, 0.4]])
    w_cell_input = np.array([0.5, 0.6])
    b_cell = np.array([0.1, -0.1])
    w_output = np.array([1.0, 2.0])
    b_output = 0.1
    # the article's loop
    want_outputs, want_states = [], []
    for i in range(len(x)):
        before_activation = np.dot(state, w_cell_state) + x[i] * w_cell_input + b_cell
        state = np.tanh(before_activation)
        final_output = np.dot(state, w_output) + b_output
        want_states.append(state)
        want_outputs.append(final_output)
    np.testing.assert_allclose(want_outputs, [1.56, 2.73], atol=0.01)  # the article's printed numbers

    xs, s0 = T.dvector("x"), T.dvector("state")
    W_cs, W_ci, b_c = T.dmatrix("W_cs"), T.dvector("W_ci"), T.dvector("b_c")
    W_o, b_o = T.dvector("W_o"), T.dscalar("b_o")

    def step(x_t, state, W_cs, W_ci, b_c, W_o, b_o):
        new_state = T.tanh(T.dot(state, W_cs) + x_t * W_ci + b_c)
        return new_state, T.dot(new_state, W_o) + b_o

    (states, outputs), _ = scan(step, sequences=xs, outputs_info=[s0, None],
                                non_sequences=[W_cs, W_ci, b_c, W_o, b_o])
    values = [x, np.zeros(2), w_cell_state, w_cell_input, b_cell, w_output, b_output]
    for mode, f in each_mode([xs, s0, W_cs, W_ci, b_c, W_o, b_o], [outputs, states]):
        got_out, got_states = f(*values)
        np.testing.assert_allclose(got_out, want_outputs, rtol=1e-12, err_msg=mode)
        np.testing.assert_allclose(got_states, want_states, rtol=1e-12, err_msg=mode)


# ---------------------------------------------------------------- argument conventions


def test_fn_argument_order_sequence_taps_then_output_taps_then_non_sequences():
    s1, s2 = T.dvector("s1"), T.dvector("s2")
    m0, h0 = T.dvector("m0"), T.dscalar("h0")
    w1, w2 = T.dscalar("w1"), T.dscalar("w2")
    received = []

    def step(*args):
        received.append(len(args))
        s1_tm1, s1_t, s2_t, m_tm2, m_tm1, h_tm1, a, b = args
        # each argument gets its own weight, so a swap changes the result
        m = s1_tm1 + 2 * s1_t + 3 * s2_t + 5 * m_tm2 + 7 * m_tm1 + a
        h = h_tm1 * b + s2_t
        return m, h, m - h

    (m, h, d), _ = scan(step, sequences=[dict(input=s1, taps=[-1, 0]), s2],
                        outputs_info=[dict(initial=m0, taps=[-2, -1]), h0, None], non_sequences=[w1, w2])
    assert received == [8]
    rs = np.random.default_rng(2)
    v1, v2, vm, vh = rs.normal(size=6), rs.normal(size=4), rs.normal(size=2), 0.3
    a, b = 0.25, -0.5
    ms, hs, ds = list(vm), [vh], []
    for t, (s1_tm1, s1_t) in enumerate(sequence_taps_loop(v1, [-1, 0])):
        if t >= len(v2):
            break
        s2_t = v2[t]
        ms.append(s1_tm1 + 2 * s1_t + 3 * s2_t + 5 * ms[-2] + 7 * ms[-1] + a)
        hs.append(hs[-1] * b + s2_t)
        ds.append(ms[-1] - hs[-1])
    check([s1, s2, m0, h0, w1, w2], [m, h, d], [v1, v2, vm, vh, a, b],
          [np.array(ms[2:]), np.array(hs[1:]), np.array(ds)])


@pytest.mark.parametrize("taps", [[-1, 0, 1], [0], [-2], [2], [1, 2], [-3, -1], [-2, 0, 3], [0, 1]])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_sequence_taps_negative_zero_positive(taps, go_backwards):
    x = T.dvector("x")
    weights = [10.0 ** i for i in range(len(taps))]

    def step(*slices):
        return sum(w * s for w, s in zip(weights, slices))

    out, _ = scan(step, sequences=dict(input=x, taps=taps), go_backwards=go_backwards)
    v = np.arange(1.0, 9.0)
    want = [sum(w * s for w, s in zip(weights, slices)) for slices in sequence_taps_loop(v, taps, go_backwards)]
    check([x], out, [v], np.array(want))


def test_sequence_taps_passes_the_named_slices():
    x = T.dvector("x")
    names = []
    scan(lambda a, b, c: names.extend([a.name, b.name, c.name]) or a + b + c, sequences=dict(input=x, taps=[-1, 0, 1]))
    assert names == ["x[t-1]", "x[t+0]", "x[t+1]"]


def test_several_sequences_with_taps_are_each_aligned_and_cut_to_the_shortest():
    x, y = T.dvector("x"), T.dvector("y")
    out, _ = scan(lambda x_tm2, x_t, y_t, y_tp1: x_tm2 + 10 * x_t + 100 * y_t + 1000 * y_tp1,
                  sequences=[dict(input=x, taps=[-2, 0]), dict(input=y, taps=[0, 1])])
    vx, vy = np.arange(1.0, 8.0), np.arange(1.0, 5.0) / 8
    xs, ys = sequence_taps_loop(vx, [-2, 0]), sequence_taps_loop(vy, [0, 1])
    want = [a + 10 * b + 100 * c + 1000 * d for (a, b), (c, d) in zip(xs, ys)]
    assert len(want) == 3
    check([x, y], out, [vx, vy], np.array(want))


def test_outputs_info_variable_none_and_dict_with_taps():
    x, h0, m0 = T.dvector("x"), T.dscalar("h0"), T.dvector("m0")

    def step(x_t, h_tm1, m_tm3, m_tm1):
        h = h_tm1 * 0.5 + x_t
        m = m_tm3 - m_tm1 * 0.25 + h
        return h, x_t * h_tm1, m

    (h, per_step, m), _ = scan(step, sequences=x,
                               outputs_info=[h0, None, dict(initial=m0, taps=[-3, -1])])
    vx, vh, vm = np.array([1.0, -2.0, 0.5, 3.0, 0.25]), 0.7, np.array([0.1, 0.2, 0.3])
    hs, ps, ms = [vh], [], list(vm)
    for x_t in vx:
        ps.append(x_t * hs[-1])
        hs.append(hs[-1] * 0.5 + x_t)
        ms.append(ms[-3] - ms[-1] * 0.25 + hs[-1])
    check([x, h0, m0], [h, per_step, m], [vx, vh, vm], [np.array(hs[1:]), np.array(ps), np.array(ms[3:])])


def test_mit_sot_initial_with_extra_rows_uses_the_first_rows_as_theano():
    m0 = T.dvector("m0")
    m, _ = scan(lambda m_tm2, m_tm1: m_tm2 + 2 * m_tm1, outputs_info=dict(initial=m0, taps=[-2, -1]), n_steps=4)
    v = np.array([1.0, 3.0, 100.0, 1000.0])  # taps [-2, -1] read initial[0] and initial[1]
    buf = [1.0, 3.0]
    for _ in range(4):
        buf.append(buf[-2] + 2 * buf[-1])
    check([m0], m, [v], np.array(buf[2:]))


def test_several_outputs_mixing_states_and_per_step_outputs():
    x, a0, b0 = T.dmatrix("x"), T.dvector("a0"), T.dvector("b0")

    def step(x_t, a, b):
        new_a = T.tanh(a + x_t)
        new_b = b * 0.9 + new_a
        return [x_t.sum(), new_a, T.dot(new_a, b), new_b]

    (s, a, ab, b), _ = scan(step, sequences=x, outputs_info=[None, a0, None, b0])
    r = np.random.default_rng(3)
    vx, va, vb = r.normal(size=(4, 3)), r.normal(size=3), r.normal(size=3)
    S, A, AB, B = [], [va], [], [vb]
    for x_t in vx:
        S.append(x_t.sum())
        A.append(np.tanh(A[-1] + x_t))
        AB.append(A[-1] @ B[-1])
        B.append(B[-1] * 0.9 + A[-1])
    check([x, a0, b0], [s, a, ab, b], [vx, va, vb], [np.array(S), np.array(A[1:]), np.array(AB), np.array(B[1:])])


def test_map_without_outputs_info_returns_every_output():
    x = T.dvector("x")
    (d, sq), _ = scan(lambda v: (v * 2, v ** 2), sequences=x)
    v = np.array([1.0, -2.0, 3.0])
    check([x], [d, sq], [v], [v * 2, v ** 2])
    (one,), _ = scan(lambda v: v + 1, sequences=x, return_list=True)
    check([x], one, [v], v + 1)


def test_symbolic_and_constant_n_steps():
    h0, n = T.dscalar("h0"), T.iscalar("n")
    sym, _ = scan(lambda h: h * 3 + 1, outputs_info=h0, n_steps=n)
    const, _ = scan(lambda h: h * 3 + 1, outputs_info=h0, n_steps=4)
    lng, _ = scan(lambda h: h * 3 + 1, outputs_info=h0, n_steps=T.constant(np.int64(2)))

    def loop(h, k):
        out = []
        for _ in range(k):
            h = h * 3 + 1
            out.append(h)
        return np.array(out)

    for k in (0, 1, 5):
        check([h0, n], sym, [0.5, k], loop(0.5, k))
    check([h0], const, [0.5], loop(0.5, 4))
    check([h0], lng, [0.5], loop(0.5, 2))


def test_n_steps_shorter_than_the_sequences():
    x, n = T.dvector("x"), T.iscalar("n")
    out, _ = scan(lambda v, h: h + v, sequences=x, outputs_info=T.constant(0.0), n_steps=n)
    check([x, n], out, [np.arange(1.0, 6.0), 3], np.cumsum(np.arange(1.0, 6.0))[:3])


@pytest.mark.parametrize("symbolic", [True, False])
def test_n_steps_larger_than_a_sequence_is_a_clear_error(symbolic):
    x, n = T.dvector("x"), T.iscalar("n")
    out, _ = scan(lambda v: v * 2, sequences=x, n_steps=n if symbolic else 5, name="doubler")
    for mode, f in each_mode([x, n], out):
        with pytest.raises(ValueError) as info:
            f(np.zeros(3), 5)
        message = str(info.value)
        for word in ("n_steps=5", "shortest sequence has only 3", "doubler", "test_scan.py"):
            assert word in message, (mode, message)


def test_go_backwards_with_states_and_several_sequences():
    x, y, h0 = T.dvector("x"), T.dvector("y"), T.dscalar("h0")
    (h, o), _ = scan(lambda x_t, y_t, h: (h * 0.5 + x_t * y_t, x_t - h), sequences=[x, y],
                     outputs_info=[h0, None], go_backwards=True)
    vx, vy = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, -1.0, 2.0])
    n = min(len(vx), len(vy))
    hs, os_ = [0.25], []
    for t in range(n):  # as Theano: each sequence is reversed whole, then all are cut to the shortest
        x_t, y_t = vx[::-1][t], vy[::-1][t]
        os_.append(x_t - hs[-1])
        hs.append(hs[-1] * 0.5 + x_t * y_t)
    check([x, y, h0], [h, o], [vx, vy, 0.25], [np.array(hs[1:]), np.array(os_)])


def test_closure_over_shared_variable_and_outer_symbolic_variables():
    r = np.random.default_rng(4)
    W = shared(r.normal(size=(3, 3)), name="W")
    x, b = T.dmatrix("x"), T.dvector("b")
    scale = T.dscalar("scale")
    out, _ = scan(lambda x_t, h: T.tanh(T.dot(h, W) + x_t * scale + b), sequences=x, outputs_info=T.zeros_like(b))
    vx, vb = r.normal(size=(5, 3)), r.normal(size=3)
    h, want = np.zeros(3), []
    for x_t in vx:
        h = np.tanh(h @ W.get_value() + x_t * 0.5 + vb)
        want.append(h)
    check([x, b, scale], out, [vx, vb, 0.5], np.array(want))


def test_closure_over_an_outer_expression_computes_it_once_before_the_loop():
    x, W = T.dmatrix("x"), T.dmatrix("W")
    out, _ = scan(lambda x_t: T.dot(W.T, x_t), sequences=x)
    r = np.random.default_rng(5)
    vx, vw = r.normal(size=(4, 2)), r.normal(size=(2, 2))
    check([x, W], out, [vx, vw], np.array([vw.T @ row for row in vx]))
    f = function([x, W], out)
    (loop,) = [node for node in f.nodes if isinstance(node.op, Scan)]
    assert not any(str(inner.op).startswith("dimshuffle") for inner in loop.op.inner_nodes)
    assert any(v.owner is not None and str(v.owner.op).startswith("dimshuffle") for v in loop.inputs)
    assert f.source.count("xp.transpose(") == 1
    assert f.source.index("xp.transpose(") < f.source.index(" in range(")


def test_closure_over_another_scans_output():
    x = T.dvector("x")
    first, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
    second, _ = scan(lambda v: v * first[-1] + first.sum(), sequences=x)
    v = np.array([1.0, 2.0, 3.0, 4.0])
    c = np.cumsum(v)
    check([x], second, [v], v * c[-1] + c.sum())


def test_strict_demands_non_sequences_and_names_the_variable():
    x = T.dvector("x")
    W = shared(np.ones(3), name="W_shared")
    v = T.dvector("outer_v")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda x_t: x_t * W, sequences=x, strict=True)
    assert_user_error(info, "strict", "W_shared", "non_sequences")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda x_t: x_t * v, sequences=x, strict=True)
    assert_user_error(info, "strict", "outer_v", "non_sequences")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda x_t: x_t * (v * 2).sum(), sequences=x, strict=True)
    assert_user_error(info, "strict", "outer_v")
    out, _ = scan(lambda x_t, W, v: x_t * W + v, sequences=x, non_sequences=[W, v], strict=True)
    check([x, v], out, [np.array([1.0, 2.0]), np.array([0.5, 0.5, 0.5])],
          np.array([[1.5, 1.5, 1.5], [2.5, 2.5, 2.5]]))


def test_fn_returning_outputs_and_an_updates_dict():
    total = shared(np.float64(0.0), name="total")
    count = shared(np.int64(0), name="count")
    x = T.dvector("x")

    def step(x_t):
        return x_t * 2, {total: total + x_t, count: count + 1}

    doubled, updates = scan(step, sequences=x)
    assert set(updates) == {total, count}
    for mode in MODES:
        total.set_value(np.float64(1.0))
        count.set_value(np.int64(0))
        f = function([x], [doubled, updates[total]], updates=updates, mode=mode)
        got_doubled, got_total = f(np.array([1.0, 2.0, 3.5]))
        assert_same(got_doubled, np.array([2.0, 4.0, 7.0]), what=mode)
        assert float(got_total) == 7.5
        assert float(total.get_value()) == 7.5 and int(count.get_value()) == 3


def test_until_with_n_steps_as_the_maximum():
    h0, n = T.dscalar("h0"), T.iscalar("n")
    values, _ = scan(lambda h: (h + 1, until(h + 1 >= 5)), outputs_info=h0, n_steps=n)

    def loop(h, k):
        out = []
        for _ in range(k):
            h = h + 1
            out.append(h)
            if h >= 5:
                break
        return np.array(out)

    check([h0, n], values, [0.0, 100], loop(0.0, 100))   # stops at the condition
    check([h0, n], values, [0.0, 3], loop(0.0, 3))       # stops at n_steps first
    check([h0, n], values, [10.0, 100], loop(10.0, 100))  # true at once: one step
    check([h0, n], values, [0.0, 0], loop(0.0, 0))       # no step at all


def test_until_over_a_sequence_with_a_per_step_output():
    x = T.dvector("x")
    (acc, sq), _ = scan(lambda v, a: (a + v, v * v, until(a + v > 4)), sequences=x,
                        outputs_info=[T.constant(0.0), None])
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    check([x], [acc, sq], [v], [np.array([1.0, 3.0, 6.0]), np.array([1.0, 4.0, 9.0])])


def test_nested_scans_a_scan_inside_the_step():
    M, h0 = T.dmatrix("M"), T.dscalar("h0")

    def outer_step(row, acc):
        inner, _ = scan(lambda v, s: T.tanh(s * 0.5 + v * acc), sequences=row, outputs_info=acc)
        return inner[-1] + inner.sum()

    out, _ = scan(outer_step, sequences=M, outputs_info=h0)
    vm = np.random.default_rng(6).normal(size=(3, 4))
    acc, want = 0.2, []
    for row in vm:
        s, trace = acc, []
        for v in row:
            s = np.tanh(s * 0.5 + v * acc)
            trace.append(s)
        acc = trace[-1] + sum(trace)
        want.append(acc)
    check([M, h0], out, [vm, 0.2], np.array(want))


def test_scan_over_another_scans_output():
    x = T.dvector("x")
    running, _ = scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
    product, _ = scan(lambda r, p: p * r, sequences=running, outputs_info=T.constant(1.0))
    v = np.array([1.0, 2.0, 3.0, 0.5])
    check([x], product, [v], np.cumprod(np.cumsum(v)))


def test_zero_steps():
    x = T.tensor("float64", (None, 3), name="x")
    h0, n = T.dvector("h0"), T.iscalar("n")
    (h, o), _ = scan(lambda x_t, h: (h + x_t, x_t * 2), sequences=x, outputs_info=[h0, None])
    check([x, h0], [h, o], [np.zeros((0, 3)), np.ones(3)], [np.zeros((0, 3)), np.zeros((0, 3))])
    states, _ = scan(lambda h: h * 2, outputs_info=h0, n_steps=n)
    check([h0, n], states, [np.ones(3), 0], np.zeros((0, 3)))
    m0 = T.dvector("m0")
    mit, _ = scan(lambda a, b: a + b, outputs_info=dict(initial=m0, taps=[-2, -1]), n_steps=n)
    check([m0, n], mit, [np.ones(2), 0], np.zeros(0))


def test_sequences_and_initial_states_from_numpy_and_python_values():
    out, _ = scan(lambda v, h: h * v, sequences=np.array([1.0, 2.0, 3.0]), outputs_info=np.float64(2.0))
    check([], out, [], np.array([2.0, 4.0, 12.0]))


# ---------------------------------------------------------------- compilation


def rnn_graph(n_steps=None):
    x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
    h, _ = scan(lambda x_t, h, W: T.tanh(x_t + T.dot(h, W)), sequences=x, outputs_info=h0, non_sequences=W,
                n_steps=n_steps)
    return [x, h0, W], h


def test_compiled_scan_is_a_plain_for_loop_over_preallocated_buffers():
    inputs, h = rnn_graph()
    f = function(inputs, h)
    source = f.source
    assert re.search(r"^\s+for \w+ in range\(", source, re.M), source
    assert "perform" not in source and "evaluate" not in source
    assert len(re.findall(r"xp\.tanh\(", source)) == 1  # the step, inline, once
    # the state buffer is allocated once before the loop, and each step writes its row
    buf = re.search(r"^\s+(\w+) = xp\.empty\(\(1 \+ (\w+),\)", source, re.M)
    assert buf, source
    assert source.index(buf.group(0)) < source.index(" in range(")
    assert re.search(rf"^\s+{buf.group(1)}\[\w+ \+ 1\] = ", source, re.M), source
    r = np.random.default_rng(7)
    vx, vh, vw = r.normal(size=(6, 3)), r.normal(size=3), r.normal(size=(3, 3)) * 0.5
    want, hh = [], vh
    for x_t in vx:
        hh = np.tanh(x_t + hh @ vw)
        want.append(hh)
    assert_same(f(vx, vh, vw), np.array(want))


def test_per_step_outputs_are_written_into_one_trace_array():
    x = T.dvector("x")
    out, _ = scan(lambda v: v * 2, sequences=x)
    source = function([x], out).source
    assert re.search(r"= xp\.empty\(\(\w+,\) \+ xp\.shape\(", source), source
    assert re.search(r"^\s+\w+\[\w+\] = \w+$", source, re.M), source


def test_the_graph_does_not_grow_with_n_steps():
    sizes = []
    for n in (1, 10, 10000):
        inputs, h = rnn_graph(n_steps=n)
        sizes.append(len(function(inputs, h).nodes))
        assert len(function(inputs, h, mode="reference").nodes) == sizes[-1]
    assert sizes[0] == sizes[1] == sizes[2]


def test_a_ten_thousand_step_scan_compiles_and_runs():
    inputs, h = rnn_graph()
    r = np.random.default_rng(8)
    vx, vh, vw = r.normal(size=(10000, 3)) * 0.1, np.zeros(3), r.normal(size=(3, 3)) * 0.3
    hh, want = vh, np.empty((10000, 3))
    for t, x_t in enumerate(vx):
        hh = np.tanh(x_t + hh @ vw)
        want[t] = hh
    for mode, f in each_mode(inputs, h):
        assert_same(f(vx, vh, vw), want, what=mode)


def test_same_function_called_with_different_lengths():
    inputs, h = rnn_graph()
    f = function(inputs, h)
    w = np.eye(2) * 0.5
    for n in (3, 1, 0, 5):
        x = np.full((n, 2), 0.1)
        hh, want = np.zeros(2), []
        for x_t in x:
            hh = np.tanh(x_t + hh @ w)
            want.append(hh)
        assert_same(f(x, np.zeros(2), w), np.array(want).reshape(n, 2))


def test_user_names_reach_the_generated_source_only_as_comments():
    hostile = "x\nraise SystemExit(3)  # '\""
    x = T.dvector(hostile)
    out, _ = scan(lambda v, h: h + v, sequences=x, outputs_info=T.constant(0.0), name=hostile)
    f = function([x], out)
    for line in f.source.splitlines():
        if "SystemExit" in line:
            assert line.lstrip().startswith("#"), line
    assert_same(f(np.array([1.0, 2.0, 3.0])), np.array([1.0, 3.0, 6.0]))


def test_a_step_whose_output_changes_shape_at_run_time_is_a_clear_error():
    h0 = T.dvector("h0")
    out, _ = scan(lambda h: h[1:] * 2, outputs_info=h0, n_steps=3, name="shrinker")
    for mode, f in each_mode([h0], out):
        with pytest.raises(GraphShapeError) as info:
            f(np.ones(3))
        message = str(info.value)
        for word in ("shrinker", "output 0", "(2,)", "(3,)", "test_scan.py"):
            assert word in message, (mode, message)


def test_run_time_shape_errors_name_the_users_output_index():
    h0 = T.dvector("h0")
    (_, out), _ = scan(lambda h: (h * 2, h[1:]), outputs_info=[None, h0], n_steps=3, name="second")
    for mode, f in each_mode([h0], out):
        with pytest.raises(GraphShapeError) as info:
            f(np.ones(3))
        assert "output 1" in str(info.value), (mode, str(info.value))


def test_a_per_step_output_whose_shape_changes_is_the_same_error_in_every_mode():
    n = T.lvector("n")
    out, _ = scan(lambda n_t: T.alloc(np.float64(1.0), n_t), sequences=n, name="ragged")
    for lengths in ([3, 1], [1, 3], [2, 2, 0]):
        for mode, f in each_mode([n], out):
            with pytest.raises(GraphShapeError) as info:
                f(np.array(lengths))
            message = str(info.value)
            for word in ("ragged", "output 0", "test_scan.py"):
                assert word in message, (mode, message)
    check([n], out, [np.array([2, 2])], np.ones((2, 2)))


@pytest.mark.parametrize("step", [
    lambda n_t: T.tanh(T.alloc(np.float64(0.5), n_t)),
    lambda n_t: T.alloc(np.float64(0.5), n_t) * 2.0,
    lambda n_t: T.concatenate([T.alloc(np.float64(0.5), n_t), T.alloc(np.float64(1.0), n_t)]),
])
def test_a_ragged_output_is_an_error_even_where_rows_are_written_in_place(step):
    # Steps after the first write their values straight into the buffer row (out=), which would broadcast a
    # smaller value silently; a value whose shape can change from step to step must keep its check.
    n = T.lvector("n")
    out, _ = scan(step, sequences=n, name="ragged")
    for _mode, f in each_mode([n], out):
        with pytest.raises(GraphShapeError, match="ragged"):
            f(np.array([3, 1]))
    f = function([n], out)
    assert "out=(None if" not in f.source, f.source


def test_a_size_mismatch_at_a_later_step_is_caught_where_shapes_can_change():
    # Shape checks of values whose shapes cannot change run on the first step only; these can change.
    n, w = T.lvector("n"), T.dvector("w")
    out, _ = scan(lambda n_t, w: T.alloc(np.float64(0.5), n_t) + w, sequences=n, non_sequences=w, name="grows")
    f = function([n, w], out)
    np.testing.assert_allclose(f(np.array([2, 2]), np.ones(2)), np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="do not match"):
        f(np.array([2, 3]), np.ones(2))


def test_shape_checks_of_fixed_shapes_run_on_the_first_step_only():
    h0, w = T.dmatrix("h0"), T.dvector("w")
    out, _ = scan(lambda h, w: T.tanh(h + w), outputs_info=h0, non_sequences=w, n_steps=4)
    f = function([h0, w], out)
    loop = f.source.split("for t")[1]
    assert re.search(r"if t\d+ == 0 and not \(", loop), loop
    with pytest.raises(ValueError, match="do not match"):
        f(np.ones((2, 3)), np.ones(2))


# ---------------------------------------------------------------- errors at graph-building time


def test_wrong_number_of_outputs_is_an_error_at_the_users_line():
    h0 = T.dvector("h0")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: (h, h * 2), outputs_info=[h0], n_steps=3)
    assert_user_error(info, "returned 2 output(s)", "outputs_info has 1")


def test_output_dtype_differs_from_its_outputs_info():
    h0 = T.dvector("h0")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: T.cast(h * 2, "float32"), outputs_info=[h0], n_steps=3)
    assert_user_error(info, "output 0", "float32(?,)", "float64(?,)", "dtype")


def test_output_dtype_error_names_the_right_output_index():
    h0, c0 = T.dvector("h0"), T.fvector("c0")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h, c: (h + 1, T.cast(c, "float64")), outputs_info=[h0, c0], n_steps=3)
    assert_user_error(info, "output 1", "float64(?,)", "float32(?,)")


def test_output_ndim_differs_from_its_outputs_info():
    h0 = T.dvector("h0")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: T.outer(h, h), outputs_info=[h0], n_steps=3)
    assert_user_error(info, "output 0", "float64(?, ?)", "float64(?,)", "dimensions")


def test_initial_state_with_a_static_size_one_axis_that_the_step_would_broadcast():
    z = T.dmatrix("z")
    h0 = T.tensor("float64", (1, 3), name="h0")
    with pytest.raises(GraphShapeError) as info:
        scan(lambda h, z: h + z, outputs_info=[h0], non_sequences=z, n_steps=3)
    assert_user_error(info, "output 0", "float64(1, 3)", "axis 0", "size 1")


def test_output_taps_without_an_initial_value_is_an_error():
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h2, h1: h2 + h1, outputs_info=dict(initial=None, taps=[-2, -1]), n_steps=3)
    assert_user_error(info, "outputs_info[0]", "initial")


def test_output_taps_must_be_negative():
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: h, outputs_info=dict(initial=T.dvector("h0"), taps=[0]), n_steps=3)
    assert_user_error(info, "outputs_info[0]", "negative")


def test_until_condition_must_be_a_scalar():
    h0 = T.dvector("h0")
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: (h * 2, until(h > 3)), outputs_info=h0, n_steps=3)
    assert_user_error(info, "until", "scalar")


def test_scan_without_sequences_or_n_steps_is_an_error():
    with pytest.raises(GraphTypeError) as info:
        scan(lambda h: h * 2, outputs_info=T.dscalar("h0"))
    assert_user_error(info, "n_steps")


# ---------------------------------------------------------------- hypothesis: lengths, taps, go_backwards, n_steps


@st.composite
def configurations(draw):
    taps = sorted(draw(st.sets(st.integers(-3, 3), min_size=1, max_size=3)))
    length = draw(st.integers(0, 7))
    state_taps = sorted(draw(st.sets(st.integers(-3, -1), min_size=1, max_size=2)))
    go_backwards = draw(st.booleans())
    span = max(max(taps), 0) - min(min(taps), 0)
    available = max(length - span, 0)
    n_steps = draw(st.one_of(st.none(), st.integers(0, available)))
    seed = draw(st.integers(0, 2 ** 16))
    return taps, length, state_taps, go_backwards, n_steps, seed


def build_configured_scan(taps, state_taps, go_backwards, n_steps, x, m0, w):
    coefficients = [0.5 + 0.25 * i for i in range(len(taps))]
    state_coefficients = [0.3 - 0.2 * i for i in range(len(state_taps))]

    def step(*args):
        seq_slices, state_slices, (w,) = args[:len(taps)], args[len(taps):-1], args[-1:]
        drive = sum(c * s for c, s in zip(coefficients, seq_slices))
        new = T.tanh(drive + sum(c * s for c, s in zip(state_coefficients, state_slices)) * w)
        return new, drive * w

    # taps [-1] make a plain state: its initial value is one step's value, not rows of them (as in Theano)
    initial = m0[0] if state_taps == [-1] else m0
    (m, d), _ = scan(step, sequences=dict(input=x, taps=taps),
                     outputs_info=[dict(initial=initial, taps=state_taps), None],
                     non_sequences=w, n_steps=n_steps, go_backwards=go_backwards)
    return m, d, coefficients, state_coefficients


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_random_configurations_match_a_numpy_loop(config):
    taps, length, state_taps, go_backwards, n_steps, seed = config
    r = np.random.default_rng(seed)
    n_init = -min(state_taps)
    vx, vm, vw = r.normal(size=(length, 2)), r.normal(size=(n_init, 2)), r.normal(size=2)
    # static row sizes: a per-step output of a zero-step scan takes its row shape from its static type
    x, m0, w = T.tensor("float64", (None, 2), "x"), T.tensor("float64", (None, 2), "m0"), T.tensor("float64", (2,), "w")
    m, d, coefficients, state_coefficients = build_configured_scan(taps, state_taps, go_backwards, n_steps, x, m0, w)

    steps = sequence_taps_loop(vx, taps, go_backwards)
    if n_steps is not None:
        steps = steps[:n_steps]
    buf, ds = list(vm), []
    for slices in steps:
        drive = sum(c * s for c, s in zip(coefficients, slices))
        past = sum(c * buf[len(buf) + k] for c, k in zip(state_coefficients, state_taps))
        buf.append(np.tanh(drive + past * vw))
        ds.append(drive * vw)
    want_m = np.array(buf[n_init:]).reshape(len(steps), 2)
    want_d = np.array(ds).reshape(len(steps), 2)
    check([x, m0, w], [m, d], [vx, vm, vw], [want_m, want_d])
