"""Optimizers and gradient clipping: each update rule against a NumPy version written out here.

The problem is least squares ``mean((X·W + b - Y)²)``, whose gradients the
NumPy side computes by hand; several steps are compared, so the optimizer
state (accumulators, Adam's step counter) is checked too.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import assert_user_error

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphTypeError
from symrnn.nn.layers import Dense
from symrnn.nn.optimizers import adam, clip_by_global_norm, momentum, rmsprop, sgd

RNG = np.random.default_rng(42)
X = RNG.normal(size=(8, 3))
Y = RNG.normal(size=(8, 2))
W0 = RNG.normal(size=(3, 2))
B0 = RNG.normal(size=(2,))
STEPS = 5


def np_loss_and_grads(W, b, X=X, Y=Y):
    r = X @ W + b - Y
    return np.mean(r ** 2), [2 * X.T @ r / r.size, 2 * r.sum(axis=0) / r.size]


def symbolic_problem(dtype="float64"):
    W = symrnn.shared(W0.astype(dtype), name="W")
    b = symrnn.shared(B0.astype(dtype), name="b")
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    loss = T.mean(T.sqr(T.dot(x, W) + b - y))
    return W, b, x, y, loss


# ---- NumPy versions of the update rules: state is a dict per parameter, filled on the first call


def np_sgd(p, g, s, t, lr):
    return p - lr * g


def np_momentum(p, g, s, t, lr, mu, nesterov=False):
    s.setdefault("a", np.zeros_like(p))
    s["a"] = mu * s["a"] + g
    return p - lr * (g + mu * s["a"]) if nesterov else p - lr * s["a"]


def np_rmsprop(p, g, s, t, lr, decay, mu, eps):
    s.setdefault("ms", np.ones_like(p))       # TensorFlow 1 starts the mean square at one
    s.setdefault("mom", np.zeros_like(p))
    s["ms"] = decay * s["ms"] + (1 - decay) * g * g
    s["mom"] = mu * s["mom"] + lr * g / np.sqrt(s["ms"] + eps)
    return p - s["mom"]


def np_adam(p, g, s, t, lr, b1, b2, eps):
    s.setdefault("m", np.zeros_like(p))
    s.setdefault("v", np.zeros_like(p))
    s["m"] = b1 * s["m"] + (1 - b1) * g
    s["v"] = b2 * s["v"] + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    v_hat = s["v"] / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


CASES = {
    "sgd": (lambda loss, ps: sgd(loss, ps, 0.1), lambda *a: np_sgd(*a, 0.1)),
    "momentum": (lambda loss, ps: momentum(loss, ps, 0.05, momentum=0.9),
                 lambda *a: np_momentum(*a, 0.05, 0.9)),
    "nesterov": (lambda loss, ps: momentum(loss, ps, 0.05, momentum=0.8, nesterov=True),
                 lambda *a: np_momentum(*a, 0.05, 0.8, nesterov=True)),
    "rmsprop": (lambda loss, ps: rmsprop(loss, ps, learning_rate=0.01),
                lambda *a: np_rmsprop(*a, 0.01, 0.9, 0.0, 1e-10)),
    "rmsprop_momentum": (lambda loss, ps: rmsprop(loss, ps, learning_rate=0.01, decay=0.8, momentum=0.5,
                                                  epsilon=1e-6),
                         lambda *a: np_rmsprop(*a, 0.01, 0.8, 0.5, 1e-6)),
    "adam": (lambda loss, ps: adam(loss, ps, learning_rate=0.05), lambda *a: np_adam(*a, 0.05, 0.9, 0.999, 1e-8)),
    "adam_custom": (lambda loss, ps: adam(loss, ps, learning_rate=0.02, beta1=0.5, beta2=0.9, epsilon=1e-3),
                    lambda *a: np_adam(*a, 0.02, 0.5, 0.9, 1e-3)),
}


def run_numpy(rule, dtype="float64"):
    W, b = W0.astype(dtype), B0.astype(dtype)
    Xd, Yd = X.astype(dtype), Y.astype(dtype)
    states = [{}, {}]
    history = []
    for t in range(1, STEPS + 1):
        loss, (gW, gb) = np_loss_and_grads(W, b, Xd, Yd)
        W = rule(W, gW, states[0], t)
        b = rule(b, gb, states[1], t)
        history.append((loss, W.copy(), b.copy()))
    return history


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
@pytest.mark.parametrize("name", list(CASES))
def test_update_rule_matches_numpy_over_several_steps(name, mode):
    make, rule = CASES[name]
    W, b, x, y, loss = symbolic_problem()
    step = symrnn.function([x, y], loss, updates=make(loss, [W, b]), mode=mode)
    for t, (want_loss, want_W, want_b) in enumerate(run_numpy(rule), start=1):
        got_loss = step(X, Y)
        np.testing.assert_allclose(got_loss, want_loss, rtol=1e-12, err_msg=f"{name} loss at step {t}")
        np.testing.assert_allclose(W.get_value(), want_W, rtol=1e-10, atol=1e-12, err_msg=f"{name} W at step {t}")
        np.testing.assert_allclose(b.get_value(), want_b, rtol=1e-10, atol=1e-12, err_msg=f"{name} b at step {t}")
    assert not np.allclose(W.get_value(), W0)  # it did move


@pytest.mark.parametrize("name", list(CASES))
def test_float32_parameters_get_float32_updates_and_no_float64_anywhere(name):
    make, rule = CASES[name]
    W, b, x, y, loss = symbolic_problem("float32")
    updates = make(loss, [W, b])
    for target, value in updates:
        assert value.dtype == target.dtype, f"{target.name}: update {value.type!r} for {target.type!r}"
        if target.dtype.startswith("float"):
            assert target.dtype == "float32", f"{target.name} is {target.dtype}"
    step = symrnn.function([x, y], loss, updates=updates)
    float64 = [str(node.op) for node in step.nodes for out in node.outputs if out.dtype == "float64"]
    assert not float64, f"these nodes compute in float64: {float64}"
    for t, (_, want_W, want_b) in enumerate(run_numpy(rule, "float32"), start=1):
        step(X.astype("float32"), Y.astype("float32"))
        assert W.get_value().dtype == np.float32 and b.get_value().dtype == np.float32
        np.testing.assert_allclose(W.get_value(), want_W, rtol=2e-5, atol=2e-6, err_msg=f"{name} W at step {t}")
        np.testing.assert_allclose(b.get_value(), want_b, rtol=2e-5, atol=2e-6, err_msg=f"{name} b at step {t}")


def test_state_variables_are_named_after_the_parameter_and_shaped_like_it():
    W, b, x, y, loss = symbolic_problem()
    names = {s.name: s for s, _ in adam(loss, [W, b])}
    assert set(names) == {"W", "b", "W.adam_m", "W.adam_v", "b.adam_m", "b.adam_v", "adam.t"}
    assert names["W.adam_m"].get_value().shape == (3, 2) and names["b.adam_v"].get_value().shape == (2,)
    assert names["W.adam_m"].type == W.type
    rms = {s.name: s for s, _ in rmsprop(loss, [W, b])}
    assert set(rms) == {"W", "b", "W.rms", "b.rms"}  # momentum=0: no momentum accumulator
    np.testing.assert_array_equal(rms["W.rms"].get_value(), np.ones((3, 2)))
    mom = {s.name: s for s, _ in momentum(loss, [W, b], 0.1)}
    np.testing.assert_array_equal(mom["b.momentum"].get_value(), np.zeros(2))


def test_adam_step_counter_counts_calls():
    W, b, x, y, loss = symbolic_problem()
    updates = adam(loss, [W, b])
    counter = next(s for s, _ in updates if s.name == "adam.t")
    step = symrnn.function([x, y], loss, updates=updates)
    for _ in range(3):
        step(X, Y)
    assert int(counter.get_value()) == 3


def test_params_as_dict_ordered_dict_and_layer_object():
    layer = Dense(3, 2, seed=0, dtype="float64")
    layer.W.set_value(W0)
    layer.b.set_value(B0)
    x, y = T.dmatrix("x"), T.dmatrix("y")
    loss = T.mean(T.sqr(layer(x) - y))
    want = run_numpy(lambda *a: np_momentum(*a, 0.05, 0.9))
    for params in (layer, layer.params, dict(layer.params), OrderedDict(layer.params)):
        layer.W.set_value(W0)
        layer.b.set_value(B0)
        step = symrnn.function([x, y], loss, updates=momentum(loss, params, 0.05))
        for _, want_W, want_b in want:
            step(X, Y)
            np.testing.assert_allclose(layer.W.get_value(), want_W, rtol=1e-10)
            np.testing.assert_allclose(layer.b.get_value(), want_b, rtol=1e-10)


def test_symbolic_learning_rate_is_cast_and_read_at_call_time():
    W, b, x, y, loss = symbolic_problem("float32")
    lr = symrnn.shared(np.float64(0.0), name="lr")  # a float64 schedule variable does not upcast the update
    updates = sgd(loss, [W, b], lr)
    assert all(v.dtype == "float32" for _, v in updates)
    step = symrnn.function([x, y], loss, updates=updates)
    step(X.astype("float32"), Y.astype("float32"))
    np.testing.assert_array_equal(W.get_value(), W0.astype("float32"))  # lr = 0: no change
    lr.set_value(0.1)
    step(X.astype("float32"), Y.astype("float32"))
    _, (gW, _) = np_loss_and_grads(W0.astype("float32"), B0.astype("float32"), X.astype("float32"),
                                   Y.astype("float32"))
    np.testing.assert_allclose(W.get_value(), W0 - 0.1 * gW, rtol=1e-5)


def test_list_of_gradients_is_used_as_given():
    W, b, x, y, loss = symbolic_problem()
    grads = symrnn.grad(loss, [W, b])
    doubled = [2 * g for g in grads]
    step = symrnn.function([x, y], loss, updates=sgd(doubled, [W, b], 0.1))
    step(X, Y)
    _, (gW, gb) = np_loss_and_grads(W0, B0)
    np.testing.assert_allclose(W.get_value(), W0 - 0.2 * gW, rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), B0 - 0.2 * gb, rtol=1e-12)


def test_clipped_gradients_feed_an_optimizer():
    W, b, x, y, loss = symbolic_problem()
    clipped, norm = clip_by_global_norm(symrnn.grad(loss, [W, b]), 0.5)
    step = symrnn.function([x, y], norm, updates=sgd(clipped, [W, b], 0.1))
    got_norm = step(X, Y)
    _, (gW, gb) = np_loss_and_grads(W0, B0)
    want_norm = np.sqrt(np.sum(gW ** 2) + np.sum(gb ** 2))
    assert want_norm > 0.5  # so the clipping is exercised
    np.testing.assert_allclose(got_norm, want_norm, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), W0 - 0.1 * gW * 0.5 / want_norm, rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), B0 - 0.1 * gb * 0.5 / want_norm, rtol=1e-12)


# ---- clip_by_global_norm


def np_clip_by_global_norm(arrays, max_norm):
    norm = np.sqrt(sum(np.sum(a ** 2) for a in arrays))
    scale = max_norm / max(norm, max_norm)
    return [a * scale for a in arrays], norm


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 100.0])
def test_clip_by_global_norm_matches_numpy(max_norm, mode):
    values = [RNG.normal(size=(3, 4)), RNG.normal(size=(4,)), np.array(0.7)]
    inputs = [T.dmatrix("a"), T.dvector("b"), T.dscalar("c")]
    clipped, norm = clip_by_global_norm(inputs, max_norm)
    got = symrnn.function(inputs, [*clipped, norm], mode=mode)(*values)
    want, want_norm = np_clip_by_global_norm(values, max_norm)
    np.testing.assert_allclose(got[-1], want_norm, rtol=1e-12)
    for g, w in zip(got[:-1], want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    new_norm = np.sqrt(sum(np.sum(g ** 2) for g in got[:-1]))
    assert new_norm <= max_norm * (1 + 1e-12)


def test_clip_by_global_norm_passes_none_and_keeps_float32():
    a, b = T.fvector("a"), T.fmatrix("b")
    clipped, norm = clip_by_global_norm([a, None, b], 1.0)
    assert clipped[1] is None
    assert clipped[0].dtype == clipped[2].dtype == norm.dtype == "float32"
    va, vb = np.array([3.0, 0.0], "float32"), np.array([[4.0]], "float32")
    ca, cb, n = symrnn.function([a, b], [clipped[0], clipped[2], norm])(va, vb)
    np.testing.assert_allclose(n, 5.0, rtol=1e-6)
    np.testing.assert_allclose(ca, [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(cb, [[0.8]], rtol=1e-6)


def test_clip_by_global_norm_zero_and_nonfinite():
    a = T.dvector("a")
    (ca,), norm = clip_by_global_norm([a], 1.0)
    f = symrnn.function([a], [ca, norm])
    got, n = f(np.zeros(3))
    np.testing.assert_array_equal(got, np.zeros(3))  # no 0/0
    assert n == 0
    with np.errstate(invalid="ignore"):
        got, n = f(np.array([np.inf, 1.0]))
    assert np.isinf(n) and np.all(np.isnan(got))  # as tf.clip_by_global_norm: NaN, not silently zeroed


def test_symbolic_max_norm():
    a, m = T.dvector("a"), T.dscalar("m")
    (ca,), _ = clip_by_global_norm([a], m)
    np.testing.assert_allclose(symrnn.function([a, m], ca)([3.0, 4.0], 2.5), [1.5, 2.0], rtol=1e-12)


# ---- convergence


def logistic_problem(dtype="float64"):
    rng = np.random.default_rng(3)
    Xc = rng.normal(size=(64, 4)).astype(dtype)
    yc = (Xc @ np.array([1.5, -2.0, 0.5, 1.0]) > 0).astype(dtype)
    w = symrnn.shared(np.zeros(4, dtype), name="w")
    c = symrnn.shared(np.zeros((), dtype), name="c")
    x, y = T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    z = T.dot(x, w) + c
    loss = T.mean(T.nnet.softplus(z) - y * z)
    return w, c, x, y, loss, Xc, yc


@pytest.mark.parametrize("make", [lambda loss, p: adam(loss, p, learning_rate=0.05),
                                  lambda loss, p: rmsprop(loss, p, learning_rate=0.01),
                                  lambda loss, p: rmsprop(loss, p, learning_rate=0.005, momentum=0.9)],
                         ids=["adam", "rmsprop", "rmsprop_momentum"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_adam_and_rmsprop_reduce_a_logistic_loss(make, dtype):
    w, c, x, y, loss, Xc, yc = logistic_problem(dtype)
    step = symrnn.function([x, y], loss, updates=make(loss, [w, c]))
    losses = [float(step(Xc, yc)) for _ in range(200)]
    assert np.isfinite(losses).all()
    assert losses[0] == pytest.approx(np.log(2), rel=1e-6)  # zero weights: every prediction is 1/2
    assert losses[-1] < 0.3 * losses[0], losses[::20]
    accuracy = np.mean(((Xc @ w.get_value() + c.get_value()) > 0) == (yc > 0.5))
    assert accuracy > 0.9


# ---- errors


def test_errors_name_the_problem_and_the_users_line():
    W, b, x, y, loss = symbolic_problem()
    with pytest.raises(TypeError) as info:
        sgd(loss, [W, x], 0.1)
    assert_user_error(info, "params[1]", "not a shared variable")
    with pytest.raises(ValueError) as info:
        sgd([loss], [W, b], 0.1)
    assert_user_error(info, "1 gradient(s) for 2 parameter(s)")
    with pytest.raises(GraphTypeError) as info:
        adam(T.sqr(T.dot(x, W)), [W])
    assert_user_error(info, "scalar")
    with pytest.raises(GraphTypeError) as info:
        sgd([b, b], [W, b], 0.1)
    assert_user_error(info, "gradient", "'W'")
    with pytest.raises(ValueError) as info:
        momentum(loss, [W, W], 0.1)
    assert_user_error(info, "listed twice")
    with pytest.raises(TypeError) as info:
        sgd(loss, W, 0.1)
    assert_user_error(info, "wrap it in a list")
    with pytest.raises(TypeError) as info:
        sgd(loss, [W, b], "fast")
    assert_user_error(info, "learning_rate")
    with pytest.raises(ValueError) as info:
        clip_by_global_norm([x], 0.0)
    assert_user_error(info, "max_norm")


# ---- end to end


def test_embedding_lstm_dense_sequence_loss_clipping_and_adam_train_together(tmp_path):
    from symrnn import nn
    from symrnn.nn.io import load_params, save_params
    from symrnn.nn.layers import Embedding
    from symrnn.nn.losses import sequence_loss

    vocab, hidden = 5, 16
    emb, cell, out = Embedding(vocab, 8, seed=0), nn.LSTMCell(8, hidden, seed=1), Dense(hidden, vocab, seed=2)
    ids, labels, mask = T.imatrix("ids"), T.imatrix("labels"), T.matrix("mask")
    states, _ = nn.rnn(cell, emb(ids))
    loss = sequence_loss(out(states), labels, mask)
    params = {"emb": emb.W, **{f"cell.{k}": v for k, v in cell.params.local_items()}, "out.W": out.W, "out.b": out.b}
    grads, norm = clip_by_global_norm(symrnn.grad(loss, list(params.values())), 5.0)
    step = symrnn.function([ids, labels, mask], [loss, norm], updates=adam(grads, params, learning_rate=0.02))
    evaluate = symrnn.function([ids, labels, mask], loss)
    x = np.random.default_rng(0).integers(0, vocab, size=(6, 4)).astype("int32")
    target = np.roll(x, 1, axis=0)  # the previous token: needs the recurrent state
    weights = np.ones((6, 4))
    weights[0] = 0.0  # no previous token at t = 0
    weights[4:, 0] = 0.0  # a shorter sequence
    first, _ = step(x, target, weights)
    assert first == pytest.approx(np.log(vocab), rel=0.1)
    for _ in range(150):
        last, last_norm = step(x, target, weights)
    assert np.isfinite(last_norm)
    assert last < 0.1 * first
    trained = float(evaluate(x, target, weights))
    save_params(tmp_path / "lm.npz", params)
    for p in params.values():
        p.set_value(np.zeros_like(p.get_value()))
    assert float(evaluate(x, target, weights)) == pytest.approx(np.log(vocab))  # all-zero weights: uniform
    load_params(tmp_path / "lm.npz", params)
    assert float(evaluate(x, target, weights)) == trained
