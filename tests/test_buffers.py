"""Loop buffers kept between calls (``config.allow_gc = False``, the default): faster, and never visible.

A kept buffer is overwritten by the next call, so a value the function returns
(or stores in a shared variable) must never be one of them or a view of one.
"""

import numpy as np
import pytest
from helpers import lstm_training_graph

import symrnn
import symrnn.tensor as T
from symrnn import config

RNG = np.random.default_rng(0)


def rnn(go_backwards=False):
    W = symrnn.shared(RNG.normal(size=(3, 4)) * 0.5, name="W", shape=(3, 4))
    U = symrnn.shared(RNG.normal(size=(4, 4)) * 0.5, name="U", shape=(4, 4))
    x, h0 = T.tensor3("x"), T.matrix("h0")
    hs, _ = symrnn.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U)), sequences=x, outputs_info=h0,
                        go_backwards=go_backwards)
    return x, h0, hs, W, U


def values(seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(5, 2, 3)), rng.normal(size=(2, 4))]


@pytest.mark.parametrize("view", [
    lambda hs: hs,
    lambda hs: hs[-1],
    lambda hs: hs[::-1],
    lambda hs: hs.dimshuffle(1, 0, 2),
    lambda hs: hs.reshape((-1, 4)),
    lambda hs: hs[1:].flatten(),
])
def test_a_returned_loop_output_is_never_overwritten_by_the_next_call(view):
    x, h0, hs, _, _ = rnn()
    f = symrnn.function([x, h0], view(hs))
    first_values, second_values = values(1), values(2)
    first = f(*first_values)
    kept = np.array(first, copy=True)
    second = f(*second_values)
    np.testing.assert_array_equal(first, kept)  # the first result is still what it was
    reference = symrnn.function([x, h0], view(hs), mode="reference")
    np.testing.assert_allclose(second, reference(*second_values), rtol=1e-12)


def test_an_update_from_a_loop_output_is_never_overwritten():
    x, h0, hs, _, _ = rnn()
    state = symrnn.shared(np.zeros((2, 4)), name="state")
    f = symrnn.function([x, h0], hs.sum(), updates=[(state, hs[-1])])
    first_values = values(3)
    f(*first_values)
    after_first = state.get_value().copy()
    f(*values(4))
    reference = symrnn.function([x, h0], hs[-1], mode="reference")
    np.testing.assert_allclose(after_first, reference(*first_values), rtol=1e-12)
    assert not np.shares_memory(after_first, state.get_value())


def test_internal_buffers_are_kept_and_reused_correctly():
    x, h0, hs, W, U = rnn(go_backwards=True)
    cost = (hs ** 2).mean()
    outputs = [cost, *symrnn.grad(cost, [W, U])]
    f = symrnn.function([x, h0], outputs)
    reference = symrnn.function([x, h0], outputs, mode="reference")
    assert f.kept_bytes == 0  # nothing allocated yet
    for seed in (5, 6, 5):
        got = f(*values(seed))
        for a, b in zip(got, reference(*values(seed))):
            np.testing.assert_allclose(a, b, rtol=1e-10)
    assert f.kept_bytes > 0
    longer = [np.random.default_rng(7).normal(size=(9, 2, 3)), values(7)[1]]  # new shapes: new buffers
    for a, b in zip(f(*longer), reference(*longer)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_allow_gc_frees_the_buffers():
    x, outputs = lstm_training_graph()
    config.allow_gc = True
    try:
        f = symrnn.function([x], outputs)
    finally:
        config.allow_gc = False
    g = symrnn.function([x], outputs)
    value = np.random.default_rng(8).normal(size=(5, 2, 3))
    for a, b in zip(f(value), g(value)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert f.kept_bytes == 0 and "_buffers.get" not in f.source
    assert g.kept_bytes > 0 and "_buffers.get" in g.source


def test_allow_gc_flag_is_validated():
    with pytest.raises(ValueError, match="allow_gc"):
        config.allow_gc = "sometimes"
    assert config.allow_gc is False


def test_a_loop_writes_its_values_straight_into_its_buffers():
    # From the second step on, the LSTM's states and saved values are computed into their buffer rows
    # (out=); only the first step copies, after checking the shape.
    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    forward = f.source.split("scan lstm begins")[1].split("scan lstm ends")[0]
    assert forward.count("out=(None if") == 5, forward  # C, h, tanh(C), the candidate, sigmoid([i f o])
    assert forward.count("if t") and "elif xp.shape" not in forward, forward
    reference = symrnn.function([x], outputs, mode="reference")
    for seed in (1, 2, 1):
        value = np.random.default_rng(seed).normal(size=(6, 2, 3))
        for a, b in zip(f(value), reference(value)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_the_input_projection_and_the_saved_dA_share_kept_memory():
    # The projection x·[W_i W_f W_o W_c] is dead once the forward loop ends; the backward loop's saved dA
    # has the same shape: one block of memory serves both, as in the hand-written BPTT.
    from symrnn.compile.codegen import kept_buffers
    from symrnn.ops.blas import Dot
    from symrnn.scan.op import Scan

    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    keys = kept_buffers(f.nodes, f.compiled_outputs)
    projection = next(n for n in f.nodes if isinstance(n.op, Dot) and n.inputs[0].ndim == 3)
    backward = next(n for n in f.nodes if isinstance(n.op, Scan) and n.op.info.name.startswith("grad_of"))
    assert keys[id(projection.outputs[0])] == keys[id(backward.outputs[-1])]
    reference = symrnn.function([x], outputs, mode="reference")
    for steps in (6, 9, 4, 9):  # the shared memory grows for the longest and serves shorter calls
        value = np.random.default_rng(steps).normal(size=(steps, 2, 3))
        for a, b in zip(f(value), reference(value)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_view_keeps_its_kept_buffer_from_being_shared():
    # p dies as soon as its reversed view is taken, but the view is read after q is made: q must not get
    # p's memory.
    from symrnn.compile.codegen import kept_buffers

    W = symrnn.shared(RNG.normal(size=(3, 4)), name="W")
    V = symrnn.shared(RNG.normal(size=(3, 4)), name="V")
    x, z = T.tensor3("x"), T.tensor3("z")
    p_view = T.dot(x, W)[::-1]
    q = T.dot(z, V)
    out = (p_view * q).sum()
    f = symrnn.function([x, z], out)
    dots = [n.outputs[0] for n in f.nodes if getattr(n.op, "name", "") == "dot"]
    keys = kept_buffers(f.nodes, f.compiled_outputs)
    assert len({keys[id(v)] for v in dots}) == 2
    reference = symrnn.function([x, z], out, mode="reference")
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        args = [rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 3))]
        np.testing.assert_allclose(f(*args), reference(*args), rtol=1e-10)


def test_a_loop_lets_go_of_its_last_step_when_it_ends():
    # A row of a sequence, left bound to a name after the loop, would keep the whole sequence alive.
    import tracemalloc

    x = T.matrix("x")
    hs, _ = symrnn.scan(lambda s_t, h: h + s_t.sum(), sequences=x * 2.0, outputs_info=T.constant(0.0))
    late = (x * 3.0).sum() + hs[-1]
    f = symrnn.function([x], late)
    value = np.ones((100, 10_000))
    f(value)
    tracemalloc.start()
    try:
        f(value)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * value.nbytes, peak / value.nbytes  # x*2 is gone before x*3 is made


def test_a_side_chain_runs_just_before_its_user_not_before_the_loop():
    from symrnn.ops.shape import Reshape
    from symrnn.scan.op import Scan

    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    kinds = [type(n.op) for n in f.nodes]
    last_loop = max(i for i, k in enumerate(kinds) if k is Scan)
    # the flattened inputs of the weight-gradient products come after the backward loop
    assert all(i > last_loop for i, k in enumerate(kinds) if k is Reshape), kinds


def test_the_pieces_of_a_saved_concatenation_are_computed_into_their_row():
    # The backward loop saves [dA_i dA_f dA_o dA_c]: after the first step each piece is computed into its
    # slice of the buffer row, and the concatenation copies nothing.
    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    backward = f.source.split("scan grad_of_lstm begins")[1].split("scan grad_of_lstm ends")[0]
    lines = backward.splitlines()
    joins = [k for k, line in enumerate(lines) if "xp.concatenate(" in line]
    assert joins and all(lines[k - 1].strip().endswith("is None:") for k in joins), backward
    assert backward.count("][:, ") == 4, backward  # four pieces, each into its slice


@pytest.mark.parametrize("also_stored", [(), (0,), (0, 1)])
def test_a_saved_concatenation_is_right_whether_or_not_its_pieces_are_stored_too(also_stored):
    W = symrnn.shared(RNG.normal(size=(3, 4)), name="W", shape=(3, 4))
    x = T.tensor3("x")

    def step(x_t, h):
        a, b = T.tanh(T.dot(x_t, W)), T.nnet.sigmoid(h)
        pieces = [a, b, a * b] if len(also_stored) < 2 else [a, b]
        return [h * 0.5 + a, T.concatenate(pieces, axis=1)] + [pieces[k] for k in also_stored]

    h0 = T.zeros((x.shape[1], 4))
    outs, _ = symrnn.scan(step, sequences=x, outputs_info=[h0, None] + [None] * len(also_stored))
    f = symrnn.function([x], outs)
    reference = symrnn.function([x], outs, mode="reference")
    for seed in (1, 2):
        value = np.random.default_rng(seed).normal(size=(5, 2, 3))
        for got, want in zip(f(value), reference(value)):
            np.testing.assert_allclose(got, want, rtol=1e-12)


_STACKED_LSTM = """
{prefix}
import symrnn, symrnn.tensor as T
from symrnn import nn
from symrnn.nn.optimizers import adam
cells = [nn.LSTMCell(3 if k == 0 else 4, 4, seed=k, name=f"layer{{k}}") for k in range(3)]
x = T.tensor3("x")
out, _ = nn.rnn(nn.MultiRNNCell(cells), x)
cost = (out ** 2).mean()
f = symrnn.function([x], cost, updates=adam(cost, [p for c in cells for p in c.params.values()]))
print("\\n".join(line for line in f.source.splitlines() if "_buffers" in line))
"""


def test_the_buffer_plan_does_not_depend_on_memory_addresses():
    """Which values share a kept buffer was decided by comparing ids, so two processes could generate different
    code for one graph (a stacked LSTM did).  Processes with different heaps must get the same plan."""
    import subprocess
    import sys

    plans = set()
    for prefix in ["", "import json", "junk = [object() for _ in range(1000)]"]:
        run = subprocess.run([sys.executable, "-c", _STACKED_LSTM.format(prefix=prefix)], capture_output=True,
                             text=True, check=True)
        assert "_buffers.get(" in run.stdout
        plans.add(run.stdout)
    assert len(plans) == 1
