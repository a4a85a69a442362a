"""The JAX backend (issue 18): ``function(..., backend="jax")`` against the reference interpreter.

Every result is compared with ``mode="reference"`` (the node-by-node NumPy
interpreter), with the exact dtype and shape.  The gradient, which is symrnn's
own symbolic gradient lowered like any graph, is also checked against
``jax.grad`` of the lowered forward graph.  Shapes are small and functions few:
each one is traced and compiled by XLA.

Tolerances: float64 to 1e-9 relative (XLA's transcendental functions and sum
orders differ from NumPy's by a few ulp), float32 to 2e-4 relative and 1e-6
absolute after a few training steps.
"""

from __future__ import annotations

import pickle
import sys
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the JAX backend needs JAX: pip install symrnn[jax]")

import symrnn  # noqa: E402
import symrnn.nn as nn  # noqa: E402
import symrnn.tensor as T  # noqa: E402
from symrnn.compile.backends import BackendUnavailable, JaxBackend, get_backend  # noqa: E402
from symrnn.compile.backends.cupy_backend import DeviceContainer  # noqa: E402
from symrnn.compile.backends.jax_backend import enable_x64  # noqa: E402
from symrnn.compile.backends.jax_ops import JaxLoweringError  # noqa: E402
from symrnn.distributed import pure_step  # noqa: E402
from symrnn.ifelse import ifelse  # noqa: E402
from symrnn.scan.checkpoints import scan_checkpoints  # noqa: E402

RTOL = {"float64": 1e-9, "float32": 2e-4}
ATOL = {"float64": 1e-12, "float32": 1e-6}


def same(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        name = "float32" if want.dtype in (np.float32, np.complex64, np.float16) else "float64"
        np.testing.assert_allclose(got, want, rtol=RTOL[name], atol=ATOL[name], equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def against_reference(inputs, outputs, values, mode="FAST_RUN", **kwargs):
    """Compile ``outputs`` for JAX and for the reference interpreter; the same values, dtypes and shapes."""
    kwargs.setdefault("on_unused_input", "ignore")
    fj = symrnn.function(inputs, outputs, backend="jax", mode=mode, **kwargs)
    fr = symrnn.function(inputs, outputs, mode="reference", **kwargs)
    got, want = fj(*values), fr(*values)
    if not isinstance(outputs, list):
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        same(a, b, f"output {k}")
    return fj


# ----------------------------------------------------------------------------- choosing the backend


def test_backend_jax_and_the_device_flag_select_jax(monkeypatch):
    assert get_backend("jax").name == "jax"
    x = T.dvector("x")
    monkeypatch.setattr(symrnn.config, "device", "jax")
    f = symrnn.function([x], x * 2)
    assert f.backend.name == "jax" and "jax" in f.source
    assert isinstance(f(np.ones(2)), jax.Array)
    assert symrnn.function([x], x * 2, backend="numpy").backend.name == "numpy"  # backend= wins over the flag


def test_without_jax_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # import jax -> ImportError
    x = T.dvector("x")
    with pytest.raises(BackendUnavailable, match=r"needs JAX, which is not installed.*pip install symrnn\[jax\]"):
        symrnn.function([x], x * 2, backend=JaxBackend())


def test_the_source_is_jax_numpy_under_jit_and_keeps_user_names_out():
    x = T.dmatrix("x'); import os #\n")
    h, _ = symrnn.scan(lambda r, h: T.tanh(r + h), sequences=x, outputs_info=T.zeros_like(x[0]),
                       name="loop\nos.system('x')")
    f = symrnn.function([x], h.sum(), backend="jax")
    assert "lax.scan(" in f.source and "xp.tanh(" in f.source
    assert "_jax_jit" in f.source.splitlines()[-1]
    for line in f.source.splitlines():  # user strings reach comments only, made safe (no newline)
        assert ("import os" not in line and "os.system" not in line) or line.lstrip().startswith("#"), line
    compile(f.source, "<check>", "exec")
    same(f(np.ones((3, 2))), symrnn.function([x], h.sum(), mode="reference")(np.ones((3, 2))))


# ----------------------------------------------------------------------------- op families


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elementwise_rows_match_the_reference(dtype):
    from symrnn.ops.elemwise import _ROWS

    x, y = T.vector("x", dtype=dtype), T.vector("y", dtype=dtype)
    i, j = T.ivector("i"), T.lvector("j")
    b = T.vector("b", dtype="bool")
    outputs = []
    for _, op in sorted(_ROWS.items()):
        if "f" in op.input_kinds:
            outputs.append(op(*[x, y, x][: op.nin]))
        if "i" in op.input_kinds:
            outputs.append(op(*[i, j, i][: op.nin]))
        if op.input_kinds == "biu":
            outputs.append(op(*[b, b][: op.nin]))
    outputs += [T.cast(x, "int32"), T.cast(i, dtype), i / j, T.sqrt(i), x + j, T.switch(b, x, y), T.invert(b)]
    rng = np.random.default_rng(0)
    values = [rng.uniform(0.5, 2.0, 5).astype(dtype), rng.uniform(0.5, 2.0, 5).astype(dtype),
              np.array([1, 2, 3, 4, 5], "int32"), np.array([2, 1, 4, 3, 7], "int64"),
              np.array([True, False, True, True, False])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        against_reference([x, y, i, j, b], outputs, values)


def test_reductions_shapes_and_indexing_match_the_reference():
    M, v = T.dmatrix("M"), T.dvector("v")
    ints, idx = T.imatrix("ints"), T.lvector("idx")
    n, k = T.lscalar("n"), T.lscalar("k")
    outputs = [M.sum(), M.prod(axis=0), M.max(axis=1), M.min(), T.mean(M, axis=0), T.argmax(M, axis=1),
               T.argmin(M), ints.sum(), ints.sum(axis=0),  # int32 sums accumulate in int64, as NumPy's
               T.reshape(M, (M.shape[1], -1)), M.T, T.concatenate([M, M], axis=1), T.stack([v, v]),
               T.alloc(M[0], 5, M.shape[1]), T.zeros((M.shape[0], 2)), T.arange(n), *T.split(M, [1, 2], axis=0),
               v[1:n], v[idx], v[k], v[::-1], M[idx % 3, T.arange(idx.shape[0])],
               T.inc_subtensor(v[idx], 1.0),  # repeated indices accumulate
               T.set_subtensor(v[2:4], 0.0), T.inc_subtensor(v[k], 2.0), T.set_subtensor(M[k, 1:], 5.0),
               T.inc_subtensor(M[:, k], v[:3]), T.set_subtensor(M[::-1, 0], 7.0)]
    rng = np.random.default_rng(1)
    values = [rng.normal(size=(3, 4)), np.arange(6.0), np.arange(12, dtype="int32").reshape(3, 4),
              np.array([0, 1, 1, 5]), 4, -2]
    f = against_reference([M, v, ints, idx, n, k], outputs, values)
    assert f._generated.fn.static == {4}  # n sets a size (arange, a slice bound): a static argument of jax.jit
    values[4] = 3
    against_reference([M, v, ints, idx, n, k], outputs, values)


def test_dot_matmul_nnet_and_their_gradients_match_the_reference():
    A, B, M = T.dtensor3("A"), T.dtensor3("B"), T.dmatrix("M")
    y = T.lvector("y")
    xent = T.nnet.categorical_crossentropy(T.nnet.softmax(M), y).mean()
    outputs = [T.batched_dot(A, B), T.dot(A, M), T.matmul(A, B), T.dot(M, M.T), T.nnet.softmax(M),
               T.nnet.log_softmax(M), xent, T.nnet.relu(M), T.nnet.softplus(M), T.nnet.sigmoid(M),
               *symrnn.grad(xent + (T.batched_dot(A, B) ** 2).sum() + M.prod(), [M, A])]
    rng = np.random.default_rng(2)
    values = [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 3)), rng.normal(size=(4, 4)), np.array([0, 3, 1, 2])]
    against_reference([A, B, M, y], outputs, values)


def test_debug_mode_checks_every_node_type_while_tracing():
    M, y = T.dmatrix("M"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(M), y).mean()
    against_reference([M, y], [loss, symrnn.grad(loss, M)], [np.random.rand(3, 4), np.array([0, 3, 1])],
                      mode="DebugMode")


def test_ifelse_is_lax_cond_on_a_traced_condition():
    a, b = T.dscalars("a", "b")
    x, y = T.dmatrices("x", "y")
    z = ifelse(T.lt(a, b), T.mean(x), T.mean(y) * 2)
    outputs = [z, *symrnn.grad(z, [x, y])]
    f = against_reference([a, b, x, y], outputs, [1.0, 2.0, np.ones((2, 2)), np.zeros((2, 2))])
    assert "lax.cond(" in f.source
    same(f(3.0, 2.0, np.ones((2, 2)), np.ones((2, 2)))[0], 2.0)


# ----------------------------------------------------------------------------- random draws


def test_random_draws_come_from_jax_random_keyed_by_the_stream_state():
    from symrnn.ops.random import RandomStreams

    stream = RandomStreams(3)
    u = stream.uniform((2, 3), low=1.0, high=2.0)
    normal = stream.normal((4000,), avg=5.0, std=2.0)
    coins = stream.binomial((4000,), p=0.3)
    counts = stream.multinomial(2, [[0.0, 1.0], [1.0, 0.0]])
    want_dtypes = [np.asarray(v).dtype for v in symrnn.function([], [u, normal, coins, counts],
                                                                mode="reference")()]
    stream.seed(3)
    f = symrnn.function([], [u, normal, coins, counts], backend="jax")
    first, second = f(), f()
    assert [np.asarray(v).dtype for v in first] == want_dtypes
    first = [np.asarray(v) for v in first]
    assert first[0].shape == (2, 3) and ((first[0] >= 1) & (first[0] < 2)).all()
    assert abs(first[1].mean() - 5) < 0.2 and abs(first[1].std() - 2) < 0.2
    assert abs(first[2].mean() - 0.3) < 0.05 and set(np.unique(first[2])) <= {0, 1}
    np.testing.assert_array_equal(first[3], [[0, 2], [2, 0]])
    assert (np.asarray(second[0]) != first[0]).all()  # the counter advanced: fresh numbers
    assert list(stream.state.get_value()) == [3, 2]
    stream.seed(3)
    np.testing.assert_array_equal(np.asarray(f()[0]), first[0])  # the same state draws the same numbers


def test_theano_random_state_draws_are_refused_with_the_alternative():
    from symrnn.tensor.shared_randomstreams import RandomStreams

    with pytest.raises(JaxLoweringError, match="RandomState, which has no JAX form.*counter-based RandomStreams"):
        symrnn.function([], RandomStreams(1).uniform((2,)), backend="jax")


# ----------------------------------------------------------------------------- scan


def test_scan_taps_several_outputs_backwards_and_steps_from_an_input():
    x0, n = T.lvector("x0"), T.lscalar("n")
    fib, _ = symrnn.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    X = T.dmatrix("X")
    (acc, doubled), _ = symrnn.scan(lambda r, s: [s + r, r * 2], sequences=X,
                                    outputs_info=[T.zeros_like(X[0]), None], go_backwards=True)
    taps, _ = symrnn.scan(lambda x_m2, x_0, h: h + x_m2 * x_0, sequences=dict(input=X, taps=[-2, 0]),
                          outputs_info=T.zeros_like(X[0]))
    values = [np.array([1, 1]), 10, np.arange(12.0).reshape(4, 3)]
    f = against_reference([x0, n, X], [fib, acc, doubled, taps], values)
    same(f(np.array([1, 1]), 0, values[2])[0], np.zeros(0, "int64"))  # zero steps


def test_scan_until_runs_op_by_op_and_trims_to_the_steps_taken():
    v = T.dscalar("v")
    values, _ = symrnn.scan(lambda prev: (prev * 2, symrnn.until(prev * 2 > 50)), outputs_info=v, n_steps=100)
    x = T.dvector("x")
    (acc, sq), _ = symrnn.scan(lambda r, a: (a + r, r * r, symrnn.until(a + r > 4)), sequences=x,
                               outputs_info=[T.zeros_like(x[0]), None])
    f = against_reference([v, x], [values, acc, sq], [1.0, np.arange(8.0)])
    assert f(1.0, np.arange(8.0))[0].shape == (6,)
    assert "_jax_op_by_op" in f.source.splitlines()[-1] and "_jax_loop" in f.source  # each loop jitted once
    against_reference([v, x], [values, acc, sq], [100.0, np.zeros(3)])  # stops at once / never


def test_an_until_loop_inside_a_loop_is_refused():
    x = T.dvector("x")

    def outer(r):
        inner, _ = symrnn.scan(lambda p: (p * 2, symrnn.until(p > 10)), outputs_info=r, n_steps=10)
        return inner[-1]

    y, _ = symrnn.scan(outer, sequences=x)
    with pytest.raises(JaxLoweringError, match="until.*inside another loop"):
        symrnn.function([x], y, backend="jax")


def test_truncated_gradient_and_checkpoints_match_the_reference():
    X, h0, W = T.dmatrix("X"), T.dvector("h0"), T.dmatrix("W")
    h, _ = symrnn.scan(lambda r, h: T.tanh(T.dot(h, W) + r), sequences=X, outputs_info=h0, truncate_gradient=2)
    hc, _ = scan_checkpoints(lambda r, h: T.tanh(r + T.dot(h, W)), sequences=X, outputs_info=h0, save_every_N=3)
    outputs = [h, symrnn.grad(h.sum(), W), hc, *symrnn.grad((hc ** 2).sum(), [W, h0])]
    rng = np.random.default_rng(3)
    f = against_reference([X, h0, W], outputs, [rng.normal(size=(7, 2)), np.ones(2), rng.normal(size=(2, 2)) * 0.5])
    assert "jax.checkpoint(" in f.source


# ----------------------------------------------------------------------------- training, state, gradients


def lstm_training_step(backend, dtype, mode="FAST_RUN"):
    symrnn.config.floatX = dtype
    cell = nn.LSTMCell(3, 5, seed=0, dtype=dtype)
    x, y = T.tensor3("x", dtype=dtype), T.tensor3("y", dtype=dtype)
    h, _ = nn.rnn(cell, x)
    loss = nn.losses.mse(h, y)
    params = list(cell.params.values())
    f = symrnn.function([x, y], loss, updates=nn.optimizers.adam(loss, params, learning_rate=0.01),
                        backend=backend, mode=mode)
    return f, params


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch, steps", [(2, 7), (0, 3), (2, 0)])
def test_lstm_training_steps_match_the_reference(dtype, batch, steps):
    rng = np.random.default_rng(4)
    xs, ys = rng.normal(size=(steps, batch, 3)).astype(dtype), rng.normal(size=(steps, batch, 5)).astype(dtype)
    try:
        fj, pj = lstm_training_step("jax", dtype)
        fr, pr = lstm_training_step(None, dtype, mode="reference")
    finally:
        symrnn.config.floatX = "float64"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty batch's mean is 0/0
        for _ in range(3):
            same(fj(xs, ys), fr(xs, ys), "loss")
    for a, b in zip(pj, pr):
        same(a.get_value(), b.get_value(), a.name)


def test_shared_variables_stay_on_the_device_between_calls():
    w = symrnn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = symrnn.function([x], (w * x).sum(), updates=[(w, w - x)], backend="jax")
    g = symrnn.function([x], (w * x).sum())  # the NumPy backend reads the same variable
    f(np.ones(2))
    f(np.ones(2))
    assert isinstance(w.container, DeviceContainer) and w.container.host_stale
    assert isinstance(w.get_value(borrow=True, return_internal_type=True), jax.Array)
    np.testing.assert_array_equal(w.get_value(), [-1.0, 0.0])  # copied back when read
    same(g(np.ones(2)), -1.0)
    w.set_value(np.array([5.0, 5.0]))
    same(f(np.ones(2)), 10.0)
    np.testing.assert_array_equal(w.get_value(), [4.0, 4.0])
    assert not jax.config.jax_enable_x64  # float64 was kept with a thread-local switch, not the global flag
    same(f(np.ones(2), ), 8.0)
    assert np.asarray(f(np.ones(2))).dtype == np.float64


def test_symrnn_gradient_agrees_with_jax_grad_of_the_lowered_forward_graph():
    cell = nn.LSTMCell(3, 4, seed=1)
    x, y = T.dtensor3("x"), T.dtensor3("y")
    h, _ = nn.rnn(cell, x)
    loss = nn.losses.mse(h, y)
    params = list(cell.params.values())
    forward = symrnn.function([x, y], loss, backend="jax")
    ours = symrnn.function([x, y], symrnn.grad(loss, params), backend="jax")
    rng = np.random.default_rng(5)
    xs, ys = rng.normal(size=(6, 2, 3)), rng.normal(size=(6, 2, 4))
    step = pure_step(forward)
    with enable_x64(jax)(True):
        theirs = jax.grad(lambda values: step([xs, ys], values)[0][0])(step.param_values())
    by_param = dict(zip([id(p) for p in step.params], theirs))
    for p, g in zip(params, ours(xs, ys)):
        same(g, by_param[id(p)], p.name)


def test_pickled_jax_function_compiles_again_for_jax():
    x = T.dvector("x")
    f = symrnn.function([x], T.tanh(x).sum(), backend="jax")
    g = pickle.loads(pickle.dumps(f))
    assert g.backend.name == "jax"
    same(g(np.ones(3)), f(np.ones(3)))


def test_options_that_need_python_at_every_node_are_refused():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="profile=True.*jax.profiler"):
        symrnn.function([x], x * 2, backend="jax", profile=True)
    with pytest.raises(ValueError, match="NanGuardMode.*backend='numpy'"):
        symrnn.function([x], x * 2, backend="jax", mode=symrnn.compile.nanguardmode.NanGuardMode())
    with pytest.raises(JaxLoweringError, match=r"no lowering for Print.*backend='numpy'"):
        symrnn.function([x], symrnn.printing.Print("x")(x) * 2, backend="jax")


def test_sizes_from_shared_variables_are_static_and_sizes_from_data_are_refused():
    n = symrnn.shared(np.int64(3), name="n_steps")
    h0 = T.dvector("h0")
    out, _ = symrnn.scan(lambda h: h * 2, outputs_info=h0, n_steps=n)
    f = symrnn.function([h0], out, updates=[(n, n + 1)], backend="jax")
    assert f(np.ones(2)).shape == (3, 2) and f(np.ones(2)).shape == (4, 2)  # a new length: traced again
    same(f(np.ones(2)), 2.0 ** np.arange(1, 6)[:, None] * np.ones(2))
    x = T.dvector("x")
    with pytest.raises(JaxLoweringError, match=r"needs 'x': float64\(\?,\) as a concrete value while it traces"):
        symrnn.function([x], T.arange(T.cast(x.sum(), "int64")), backend="jax")


def test_stacked_bidirectional_layers_train_as_on_the_reference():
    """PyTorch-style layers: a 2-layer bidirectional LSTM into a GRU (the gradient of a sequence input writes a
    whole axis of a zero array: a dynamic_update_slice, where a scatter once made XLA's CPU compiler abort)."""

    def build(backend, mode="FAST_RUN"):
        nn.reset_default_names()
        lstm, gru = nn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=0), nn.GRU(8, 3, seed=1)
        x = T.dtensor3("x")
        h, _ = gru(lstm(x)[0])
        loss = (h ** 2).mean()
        params = [*lstm.params.values(), *gru.params.values()]
        return symrnn.function([x], loss, updates=nn.optimizers.sgd(loss, params, 0.5), backend=backend,
                               mode=mode), params

    xs = np.random.default_rng(6).normal(size=(5, 2, 3))
    (fj, pj), (fr, pr) = build("jax"), build(None, "reference")
    for _ in range(2):
        same(fj(xs), fr(xs), "loss")
    for a, b in zip(pj, pr):
        same(a.get_value(), b.get_value(), a.name)
