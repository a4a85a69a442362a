"""Empty and degenerate shapes: zero steps (T=0), an empty batch (B=0) and a hidden size of 1, in every mode,
with gradients.  Issue 15, finding 4: the gradient of a scan over T=0 steps crashed in FAST_RUN (and the
gradient with respect to the sequence crashed in every mode): a zero-step trace of unknown shape was
allocated with 0 for every unknown size, so ``h_t`` came out ``(0, 0, H)`` instead of ``(0, B, H)``."""

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn

MODES = ["FAST_RUN", "FAST_COMPILE", "reference"]
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


def cell_training_graph(kind, n_in=3, hidden=4):
    cell = CELLS[kind](n_in, hidden, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out ** 2).sum()
    params = list(cell.params.values())
    return [x], [loss, out, *symrnn.grad(loss, [*params, x])], params


def plain_scan_graph(hidden=4):
    W = symrnn.shared(np.full((3, hidden), 0.1), name="W")
    U = symrnn.shared(np.eye(hidden) * 0.5, name="U")
    x, h0 = T.tensor3("x"), T.matrix("h0")
    out, _ = symrnn.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U)), sequences=x, outputs_info=h0)
    loss = (out ** 2).sum()
    return [x, h0], [loss, out, *symrnn.grad(loss, [W, U, x, h0])], [W, U]


GRAPHS = {**{kind: (lambda kind=kind: cell_training_graph(kind)) for kind in CELLS}, "scan": plain_scan_graph}


def arguments(name, steps, batch, hidden=4):
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(steps, batch, 3))]
    if name == "scan":
        args.append(rng.normal(size=(batch, hidden)))
    return args


@pytest.mark.parametrize("name", sorted(GRAPHS))
@pytest.mark.parametrize("steps,batch", [(0, 2), (5, 0), (0, 0)])
def test_empty_sequences_and_batches_work_in_every_mode_with_gradients(name, steps, batch):
    inputs, outputs, params = GRAPHS[name]()
    results = {mode: symrnn.function(inputs, outputs, mode=mode)(*arguments(name, steps, batch)) for mode in MODES}
    reference = results["reference"]
    loss, out, *grads = reference
    assert float(loss) == 0.0
    assert out.shape == (steps, batch, 4)
    for p, g in zip(params, grads):
        assert g.shape == p.get_value().shape and not g.any()  # nothing ran: zero gradients
    assert grads[len(params)].shape == (steps, batch, 3)  # d loss / d x has x's shape
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        for got, want in zip(results[mode], reference):
            assert np.shape(got) == np.shape(want), mode
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_a_hidden_size_of_one_agrees_with_the_reference_and_finite_differences(name):
    if name == "scan":
        inputs, outputs, params = plain_scan_graph(hidden=1)
    else:
        inputs, outputs, params = cell_training_graph(name, hidden=1)
    args = arguments(name, 4, 2, hidden=1)
    want = symrnn.function(inputs, outputs, mode="reference")(*args)
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        for got, expected in zip(symrnn.function(inputs, outputs, mode=mode)(*args), want):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    loss_fn = symrnn.function(inputs, outputs[0], mode="reference")
    W = params[0]
    base = W.get_value()
    numeric = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        for sign in (1, -1):
            bumped = base.copy()
            bumped[index] += sign * 1e-6
            W.set_value(bumped)
            numeric[index] += sign * float(loss_fn(*args)) / 2e-6
    W.set_value(base)
    np.testing.assert_allclose(want[2], numeric, rtol=1e-5, atol=1e-7)


def test_a_zero_step_trace_of_a_body_that_cannot_run_on_zeros_falls_back_to_static_sizes():
    """The zero-step shape comes from running the body once on zeros; a body that needs real values (here an
    index taken from the sequence) cannot, and the unknown sizes are then 0, as before, in every mode."""
    table = T.matrix("table")
    idx = T.lmatrix("idx")
    out, _ = symrnn.scan(lambda i_t: table[i_t[0] + 100], sequences=idx)
    for mode in MODES:
        got = symrnn.function([table, idx], out, mode=mode)(np.ones((3, 2)), np.zeros((0, 1), dtype="int64"))
        assert got.shape == (0, 0)
