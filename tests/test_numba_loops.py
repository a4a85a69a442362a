"""``config.kernels = "numba"``: a loop whose steps are small runs as one numba function for all its steps
(symrnn.compile.numba_loops).  It must give the NumPy loop's results: bit for bit where the body is
arithmetic only, within float rounding where it computes exp/tanh (the C library's, one element at a time)
or matrix products (SciPy's BLAS); raise the same errors; fall back, and say why, where it cannot."""

import os
import re
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from helpers import lstm_training_graph

import symrnn
import symrnn.tensor as T
from symrnn import config, nn

pytest.importorskip("numba", reason="numba is optional (pip install 'symrnn[numba]'); the numba loops need it")
from symrnn.compile import numba_loops  # noqa: E402

TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-15), "float32": dict(rtol=2e-5, atol=1e-7)}


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Kernels compiled by these tests go to a folder of their own."""
    monkeypatch.setenv("SYMRNN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "symrnn-cache"))


def compiled(inputs, outputs, kernels, **kwargs):
    was = config.kernels
    config.kernels = kernels
    try:
        return symrnn.function(inputs, outputs, on_unused_input="ignore", **kwargs)
    finally:
        config.kernels = was


def numpy_and_numba(inputs, outputs, **kwargs):
    return compiled(inputs, outputs, "numpy", **kwargs), compiled(inputs, outputs, "numba", **kwargs)


def ran_as_numba(f, loops=None):
    reports = f.kernels_report()
    assert reports and all(r.kind == "numba" for r in reports), [str(r) for r in reports]
    assert all(r.calls["numba"] > 0 for r in reports), [str(r) for r in reports]
    if loops is not None:
        assert len(reports) == loops


def assert_close(got, want, dtype):
    for a, b in zip(got, want):
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.shape(a) == np.shape(b)
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_lstm_training_step_agrees_with_the_numpy_loop_and_the_reference(dtype):
    config.floatX = dtype
    try:
        x, outputs = lstm_training_graph(3, 5)
        plain, fast = numpy_and_numba([x], outputs)
        reference = symrnn.function([x], outputs, mode="reference")
    finally:
        config.floatX = "float64"
    assert re.search(r"_numba_loop\d+\(", fast.source) and not re.search(r"_numba_loop\d+\(", plain.source)
    for seed in (1, 2):
        value = np.random.default_rng(seed).normal(size=(6, 4, 3)).astype(dtype)
        got = fast(value)
        assert_close(got, plain(value), dtype)
        assert_close(got, reference(value), dtype)
    ran_as_numba(fast, loops=2)  # the forward loop and the backward loop


@pytest.mark.parametrize("layer", ["lstm", "gru", "rnn"])
def test_stacked_bidirectional_layers_with_their_gradients(layer):
    make = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[layer]
    model = make(3, 4, num_layers=2, bidirectional=True, seed=0)
    x = T.tensor3("x")
    out, _ = model(x)
    cost = (out ** 2).sum()
    outputs = [cost, *symrnn.grad(cost, model.parameters())]
    plain, fast = numpy_and_numba([x], outputs)
    value = np.random.default_rng(0).normal(size=(5, 2, 3))
    assert_close(fast(value), plain(value), "float64")
    ran_as_numba(fast)


def test_arithmetic_only_loops_are_bit_for_bit_the_numpy_loop():
    """No math function, no product: every value is rounded as NumPy rounds it.  Two states, one read two
    steps back (a ring of rows), an integer state, a 0-d state and broadcasting."""
    x, w = T.matrix("x"), T.vector("w")

    def step(x_t, a_tm2, a_tm1, count, total):
        a = a_tm1 * w - a_tm2 * 0.5 + x_t
        return [a, count + 1, total + x_t[0] * 2.0]

    a0 = T.matrix("a0")
    outs, _ = symrnn.scan(step, sequences=x, outputs_info=[dict(initial=a0, taps=[-2, -1]),
                                                         T.constant(np.int64(0)), T.constant(0.0)])
    outputs = [outs[0], outs[1][-1], outs[2]]
    plain, fast = numpy_and_numba([x, w, a0], outputs)
    rng = np.random.default_rng(3)
    values = [rng.normal(size=(7, 3)), rng.normal(size=3), rng.normal(size=(2, 3))]
    for got, want in zip(fast(*values), plain(*values)):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)
    ran_as_numba(fast)


def test_zero_steps_empty_batches_and_until():
    x = T.tensor3("x")
    cell = nn.LSTMCell(2, 3, seed=1)
    outputs, _ = nn.rnn(cell, x)
    cost = (outputs ** 2).sum()
    plain, fast = numpy_and_numba([x], [outputs, *symrnn.grad(cost, list(cell.params.values()))])
    for shape in [(0, 4, 2), (5, 0, 2), (1, 1, 2)]:
        value = np.random.default_rng(0).normal(size=shape)
        assert_close(fast(value), plain(value), "float64")
    ran_as_numba(fast)

    limit = T.scalar("limit")
    powers, _ = symrnn.scan(lambda p: (p * 2, symrnn.scan_module.until(p * 2 > limit)),
                            outputs_info=T.constant(1.0), n_steps=50)
    plain, fast = numpy_and_numba([limit], powers)
    for bound in (0.5, 40.0, 1e300):
        np.testing.assert_array_equal(fast(bound), plain(bound))
    ran_as_numba(fast)


def test_go_backwards_and_a_sequence_read_with_taps():
    x = T.matrix("x")
    h0 = T.vector("h0")
    out, _ = symrnn.scan(lambda x_prev, x_next, h: T.tanh(h + x_prev - 2 * x_next),
                         sequences=dict(input=x, taps=[-1, 1]), outputs_info=h0, go_backwards=True)
    plain, fast = numpy_and_numba([x, h0], [out, symrnn.grad(out.sum(), x)])
    values = [np.random.default_rng(1).normal(size=(6, 3)), np.zeros(3)]
    assert_close(fast(*values), plain(*values), "float64")
    ran_as_numba(fast)


def test_a_body_numba_cannot_take_stays_a_numpy_loop_and_says_why():
    x = T.matrix("x")
    out, _ = symrnn.scan(lambda x_t: T.nnet.softmax(x_t[None, :])[0], sequences=x)
    plain, fast = numpy_and_numba([x], out)
    value = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(fast(value), plain(value))
    [report] = fast.kernels_report()
    assert report.kind == "numpy" and "softmax" in report.reason and "NumPy loop" in str(report)
    assert plain.kernels_report() == []


def test_large_steps_run_the_numpy_loop(monkeypatch):
    """Above STEP_LIMIT the NumPy loop is faster (numba's exp and tanh are scalar): the call takes it."""
    x, outputs = lstm_training_graph(3, 5)
    plain, fast = numpy_and_numba([x], outputs)
    small, large = np.ones((3, 2, 3)), np.ones((3, 60, 3))  # forward steps of 2*20 and 60*20 elements
    fast(small)
    fast(large)
    forward, backward = fast.kernels_report()
    assert forward.work == "math" and forward.calls == {"numba": 1, "numpy": 1}
    assert backward.work == "arithmetic" and backward.calls == {"numba": 2, "numpy": 0}  # 60*5 elements
    monkeypatch.setattr(numba_loops, "STEP_LIMIT", {"math": 10**9, "arithmetic": 10**9})
    assert_close(fast(large), plain(large), "float64")
    assert forward.calls["numba"] == 2


def test_a_wrong_shape_names_the_users_variable():
    x, w = T.matrix("x"), T.matrix("w_in")
    h, _ = symrnn.scan(lambda x_t, h: T.tanh(T.dot(x_t, w) + h), sequences=x, outputs_info=T.zeros((4,)))
    fast = compiled([x, w], h, "numba")
    with pytest.raises(ValueError, match=r"w_in") as caught:
        fast(np.ones((3, 5)), np.ones((2, 4)))
    assert "test_numba_loops.py" in str(caught.value)

    def grows(x_t, h):
        return T.concatenate([h, x_t])  # the state gets longer at every step

    x = T.matrix("x")
    bad, _ = symrnn.scan(grows, sequences=x, outputs_info=T.zeros((2,)))
    fast = compiled([x], bad, "numba")
    with pytest.raises(ValueError, match="shape"):
        fast(np.ones((3, 1)))


def test_an_index_out_of_range_raises_as_numpy_does():
    x, i = T.matrix("x"), T.lscalar("i")
    picked, _ = symrnn.scan(lambda x_t: x_t[i] * 2.0, sequences=x)
    plain, fast = numpy_and_numba([x, i], picked)
    value = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(fast(value, -1), plain(value, -1))
    ran_as_numba(fast)
    with pytest.raises(IndexError):
        fast(value, 3)


def test_calls_from_several_threads_agree():
    x, outputs = lstm_training_graph(3, 5)
    plain, fast = numpy_and_numba([x], outputs)
    values = [np.random.default_rng(seed).normal(size=(8, 2, 3)) for seed in range(8)]
    want = [plain(v) for v in values]
    got: dict[int, list] = {}

    def run(k):
        for _ in range(5):
            got[k] = fast(values[k])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        assert_close(got[k], want[k], "float64")


def test_names_from_the_user_never_reach_the_kernel_source():
    hostile = "x'); import os; os.system('echo owned'); ('"
    x = T.matrix(hostile)
    h, _ = symrnn.scan(lambda x_t, h: T.tanh(x_t + h), sequences=x, outputs_info=T.zeros((2,)), name=hostile)
    node = next(n for n in compiled([x], h, "numba").nodes if hasattr(n.op, "inner_nodes"))
    source = numba_loops.loop_source(node).source
    assert "owned" not in source and "os." not in source


def test_a_second_process_loads_the_kernels_from_the_cache(tmp_path):
    """The first process compiles and writes the kernels (and numba's cache) to the cache folder; a second
    process with the same graph compiles nothing: numba reports cache hits only."""
    script = textwrap.dedent("""
        import numpy as np, symrnn
        from helpers import lstm_training_graph
        symrnn.config.kernels = "numba"
        x, outputs = lstm_training_graph(3, 5)
        f = symrnn.function([x], outputs)
        f(np.ones((4, 2, 3)))
        loops = [v for k, v in f._generated.fn.__globals__.items() if k.startswith("_numba_loop")]
        print(sum(len(l.stats.cache_hits) for l in loops), sum(len(l.stats.cache_misses) for l in loops))
    """)
    env = dict(os.environ, SYMRNN_CACHE_DIR=str(tmp_path), PYTHONPATH=os.path.dirname(__file__))
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["0", "2"]  # compiled both loops
    written = sorted(p.name for p in (tmp_path / "numba").rglob("*"))
    assert sum(name.endswith(".py") for name in written) >= 2 and any(name.endswith(".nbc") for name in written)
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert second.stdout.split() == ["2", "0"]  # loaded both, compiled none
    assert sorted(p.name for p in (tmp_path / "numba").rglob("*")) == written  # and wrote nothing


def _float32_math():
    import numba

    from symrnn.compile import numba_kernels

    namespace = {"np": np, "numba": numba}
    exec(numba_kernels.FLOAT32_MATH, namespace)
    expf, tanhf = namespace["_expf"], namespace["_tanhf"]

    @numba.njit
    def apply(which, x):
        out = np.empty_like(x)
        for i in range(x.size):
            if which == 0:
                out[i] = expf(x[i])
            elif which == 1:
                out[i] = tanhf(x[i])
            else:
                out[i] = np.float32(1) / (np.float32(1) + expf(-x[i]))
        return out

    return apply


def test_float32_exp_tanh_and_sigmoid_are_within_a_few_ulp_of_the_exact_values():
    """numba's own exp and tanh are scalar; symrnn's float32 forms vectorise.  Measured against float64 on a
    dense grid over the whole range (overflow, underflow to subnormals, and near 0 on a log scale), they
    are as close as NumPy's own float32 ufuncs; special values come out as NumPy's."""
    apply = _float32_math()
    grid = np.concatenate([np.linspace(-110, 100, 400_001), np.linspace(-1, 1, 200_001),
                           np.logspace(-30, 1, 20_001), -np.logspace(-30, 1, 20_001)]).astype(np.float32)
    wide = grid.astype(np.float64)
    with np.errstate(over="ignore"):
        exact = [np.exp(wide), np.tanh(wide), 1 / (1 + np.exp(-wide))]
        numpy_own = [np.exp(grid), np.tanh(grid), 1 / (1 + np.exp(-grid))]
    for which, (want, limit) in enumerate(zip(exact, (1.0, 1.5, 2.5))):
        got = apply(which, grid)
        normal = (np.abs(want) > np.finfo(np.float32).tiny) & (np.abs(want) < np.finfo(np.float32).max)
        ulp = np.spacing(np.abs(want[normal]).astype(np.float32)).astype(np.float64)
        error = np.abs(got[normal] - want[normal]) / ulp
        numpy_error = np.abs(numpy_own[which][normal] - want[normal]) / ulp
        assert error.max() <= limit and error.max() <= numpy_error.max() + 0.5, (which, error.max())
        # subnormal results: within two subnormal steps, or what NumPy's float32 form gives (sigmoid: where
        # exp(-x) overflows, 1/(1+inf) = 0, as the NumPy code documents)
        tiny = ~normal & np.isfinite(want) & (np.abs(want) < 1)
        close = np.abs(got[tiny] - want[tiny]) <= 2 * np.finfo(np.float32).smallest_subnormal
        assert np.all(close | (got[tiny] == numpy_own[which][tiny])), which
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 89.0, -104.0, 1e-40, -1e-40], np.float32)
    with np.errstate(over="ignore"):
        for which, numpy_form in enumerate([np.exp, np.tanh, lambda x: 1 / (1 + np.exp(-x))]):
            got, want = apply(which, special), numpy_form(special)
            np.testing.assert_array_equal(got, want)
            numbers = ~np.isnan(want)  # a NaN's sign bit means nothing
            assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers])), which


def test_loop_memory_is_kept_between_calls_but_never_what_a_caller_holds():
    """A loop's buffers are reused from call to call (no allocation, no fresh memory), except values the
    function returns: a trace the caller holds must not change at the next call, of any size."""
    x = T.tensor3("x")
    cell = nn.LSTMCell(3, 4, seed=0)
    outputs, _ = nn.rnn(cell, x)
    cost = (outputs ** 2).mean()
    plain, fast = numpy_and_numba([x], [outputs, cost, *symrnn.grad(cost, list(cell.params.values()))])
    rng = np.random.default_rng(0)
    values = [rng.normal(size=shape) for shape in [(5, 2, 3), (9, 2, 3), (3, 2, 3), (9, 4, 3)]]
    held = []
    for value in values:
        got = fast(value)
        assert_close(got, plain(value), "float64")
        held.append((value, [np.copy(a) for a in got], got))
    assert fast.kept_bytes > 0
    for _, copies, got in held:
        for a, b in zip(got, copies):
            np.testing.assert_array_equal(a, b)
    ran_as_numba(fast)


def test_copies_and_pickles_keep_the_setting(monkeypatch):
    """``config.kernels`` is read when a function is made; its copies and unpickled twins keep it, whatever
    the setting is then.  Where numba is missing, an unpickled numba function runs NumPy's loops and says so."""
    import pickle

    from symrnn.compile import numba_kernels

    x, outputs = lstm_training_graph(3, 5)
    fast = compiled([x], outputs, "numba")
    value = np.random.default_rng(0).normal(size=(4, 2, 3))
    want = fast(value)
    for twin in (fast.copy(), pickle.loads(pickle.dumps(fast))):
        assert twin.kernels == "numba"
        assert_close(twin(value), want, "float64")
        ran_as_numba(twin)
    monkeypatch.setattr(numba_kernels, "available", lambda: False)
    with pytest.warns(RuntimeWarning, match="numba is not installed here"):
        plain = pickle.loads(pickle.dumps(fast))
    assert plain.kernels == "numpy" and plain.kernels_report() == []
    assert_close(plain(value), want, "float64")


def test_blocks_of_a_step_value_are_read_in_place_and_agree():
    """Slices of a value computed in the step (a gate's columns, a block of rows, a broadcast row) are read
    through that value, not copied: every offset and broadcast must land on the NumPy loop's numbers."""
    x = T.matrix("x")
    h0 = T.matrix("h0")

    def step(x_t, h):
        z = h * 0.5 + x_t  # (3, 6), computed in the step
        top = z[0:1, 2:5]  # (1, 3): broadcast over rows
        return T.concatenate([z[:, 0:3] * top - z[:, 3:6], z[:, 1:4] + z[:, 2:5] * 2.0], axis=1)[:, 0:6] * 1.0

    out, _ = symrnn.scan(step, sequences=x.reshape((x.shape[0], 3, 6)), outputs_info=h0)
    plain, fast = numpy_and_numba([x, h0], out)
    values = [np.random.default_rng(4).normal(size=(5, 18)), np.random.default_rng(5).normal(size=(3, 6))]
    np.testing.assert_array_equal(fast(*values), plain(*values))
    ran_as_numba(fast)


def test_infinite_and_nan_constants_in_a_body():
    x = T.matrix("x")

    def step(x_t, h):
        return T.switch(x_t > 0, T.maximum(h + x_t, -np.inf), np.nan) + T.minimum(x_t, np.inf)

    out, _ = symrnn.scan(step, sequences=x, outputs_info=T.zeros((3,)))
    plain, fast = numpy_and_numba([x], out)
    value = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_array_equal(fast(value), plain(value))
    ran_as_numba(fast)


def test_constants_written_into_a_kernel_keep_their_value_and_dtype():
    for value in [np.float32(-np.inf), np.float64(np.inf), np.float32(np.nan), np.float32(0.1), np.int64(-3),
                  np.bool_(True)]:
        constant = T.constant(value)
        text = numba_loops._literal(constant)
        got = eval(text, {"np": np})  # noqa: S307 - our own generated literal
        assert np.asarray(got).dtype == constant.dtype, text
        np.testing.assert_array_equal(got, value)


def test_a_cache_folder_that_cannot_be_written_compiles_in_memory(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SYMRNN_CACHE_DIR", str(blocked))
    x = T.matrix("x")
    h, _ = symrnn.scan(lambda x_t, h: h * 0.25 - x_t, sequences=x, outputs_info=T.zeros((2,)))
    plain, fast = numpy_and_numba([x], h)
    value = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(fast(value), plain(value))
    ran_as_numba(fast)
    assert blocked.read_text() == "a file where the cache folder should be"
