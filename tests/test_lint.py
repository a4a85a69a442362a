"""symrnn.lint.check: gates sharing one pre-activation, parameters without gradient, exploding recurrent init."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import lint, nn
from symrnn.nn.article import SharedPreactLSTMCell


def codes(found: list[lint.LintWarning]) -> list[str]:
    return [w.code for w in found]


def scaled(matrix: np.ndarray, radius: float) -> np.ndarray:
    """``matrix`` rescaled (with NumPy) to the given spectral radius."""
    return matrix * (radius / np.max(np.abs(np.linalg.eigvals(matrix))))


# --------------------------------------------------------------------------- the articles' bug


def test_buggy_lstm_is_flagged_and_names_its_gates() -> None:
    found = lint.check(SharedPreactLSTMCell(3, 5, seed=0), warn=False)
    assert codes(found) == ["gate-sharing"]
    message = found[0].message
    for gate in ("i", "f", "o"):
        assert f" {gate}," in message or f" {gate} " in message, (gate, message)
    assert "candidate" in message
    assert set(found[0].subject) == {"i", "f", "o", "candidate C\u0303"}
    for weight in ("buggy_lstm/W_in", "buggy_lstm/W", "buggy_lstm/b"):
        assert weight in message
    assert "symrnn.nn.LSTMCell" in found[0].fix and "own weights" in found[0].fix


def test_the_warning_is_issued_with_its_category() -> None:
    with pytest.warns(lint.LintWarning, match="gate-sharing.*i, f and o"):
        found = lint.check(SharedPreactLSTMCell(3, 5, seed=0))
    assert isinstance(found[0], UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lint.LintWarning)
        with pytest.raises(lint.LintWarning):
            lint.check(SharedPreactLSTMCell(3, 5, seed=0))


@pytest.mark.parametrize("make", [
    lambda: nn.LSTMCell(3, 5, seed=0),
    lambda: nn.LSTMCell(3, 5, forget_bias=0.0, seed=1),
    lambda: nn.GRUCell(3, 5, seed=0),
    lambda: nn.GRUCell(3, 5, reset_after=True, seed=0),
    lambda: nn.RNNCell(3, 5, seed=0),
    lambda: nn.MultiRNNCell([nn.LSTMCell(3, 5, seed=0), nn.GRUCell(5, 5, seed=1), nn.RNNCell(5, 5, seed=2)]),
    # A layer's new state feeds the next layer's (square, Glorot, radius 1.58) input weights: not recurrent.
    lambda: nn.MultiRNNCell([nn.GRUCell(3, 4, seed=0), nn.GRUCell(4, 4, seed=1)]),
    lambda: nn.DropoutWrapper(nn.LSTMCell(3, 5, seed=0), input_keep_prob=0.5, output_keep_prob=0.5),
], ids=["lstm", "lstm-no-forget-bias", "gru", "gru-reset-after", "rnn", "stacked", "stacked-gru", "dropout"])
def test_correct_cells_pass(make) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lint.check(make()) == []


def sgd_training(cell):
    """``(outputs, cost, f)``: ``cell`` over a sequence, and a compiled SGD step on its last output's sum."""
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    cost = outputs[-1].sum()
    params = list(cell.params.values())
    grads = symrnn.grad(cost, params)
    return outputs, cost, symrnn.function([x], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])


def test_buggy_lstm_is_flagged_inside_rnn_and_a_training_function() -> None:
    outputs, cost, f = sgd_training(SharedPreactLSTMCell(3, 4, seed=0))
    for model in (outputs, [outputs, cost], f):
        found = lint.check(model, warn=False)
        assert codes(found) == ["gate-sharing"], found
        assert "scan 'buggy_lstm'" in found[0].message


class OneGateGRU(nn.GRUCell):
    """A GRU whose reset gate is its update gate: one sigmoid plays z and r."""

    def step(self, x_t, state):
        h = state
        z = r = T.nnet.sigmoid(self._preact("z", x_t, h))
        candidate = T.tanh(T.dot(x_t, self.params["W_h"]) + T.dot(r * h, self.params["U_h"]) + self.params["b_h"])
        h_new = z * h + (1 - z) * candidate
        return h_new, h_new


def test_a_gru_whose_reset_gate_is_its_update_gate_is_flagged() -> None:
    found = lint.check(OneGateGRU(3, 4, seed=0), warn=False)
    assert codes(found) == ["gate-sharing"]
    assert set(found[0].subject) == {"z", "r"}
    assert "symrnn.nn.GRUCell" in found[0].fix
    masked, _ = nn.rnn(OneGateGRU(3, 4, seed=0), T.tensor3("x"), mask=T.matrix("mask"))
    assert codes(lint.check(masked, warn=False)) == ["gate-sharing"]
    assert lint.check(nn.rnn(nn.GRUCell(3, 4, seed=0), T.tensor3("x"), mask=T.matrix("mask")), warn=False) == []


def test_correct_lstm_training_function_passes() -> None:
    _, _, f = sgd_training(nn.LSTMCell(3, 4, seed=0))
    assert lint.check(f, warn=False) == []


# --------------------------------------------------------------------------- hand-built gates


def test_a_gate_written_twice_merges_into_one_and_is_flagged() -> None:
    x, h, c = T.matrix("x"), T.matrix("h"), T.matrix("c")
    W = symrnn.shared(np.ones((3, 4)), name="W")
    b = symrnn.shared(np.zeros(4), name="b")
    V = symrnn.shared(np.ones((3, 4)), name="V")
    input_gate = T.nnet.sigmoid(x.dot(W) + b)
    forget_gate = T.nnet.sigmoid(x.dot(W) + b)  # the same expression again: one gate after merging
    assert input_gate.owner is not forget_gate.owner
    c_new = forget_gate * c + input_gate * T.tanh(x.dot(V) + h)
    found = lint.check(c_new, warn=False)
    assert codes(found) == ["gate-sharing"]
    # The gates are named after the variables the user's lines assign them to.
    assert "input_gate" in found[0].message and "forget_gate" in found[0].message
    assert "W and b" in found[0].message
    assert "one and the same sigmoid node" in found[0].message


def test_an_expression_written_twice_but_gating_nothing_twice_passes() -> None:
    x, t = T.matrix("x"), T.matrix("t")
    W = symrnn.shared(np.ones((3, 3)), name="W")
    prediction = T.tanh(x.dot(W))
    loss = ((T.tanh(x.dot(W)) - t) ** 2).sum()  # the same tanh again, in the loss: no gate involved
    assert lint.check([prediction, loss], warn=False) == []
    # Nonlinearities of a graph input are activations (swish-like), not gates with weights.
    assert lint.check([x * T.nnet.sigmoid(x) + T.tanh(x)], warn=False) == []


def test_named_gates_applied_to_one_preactivation_are_flagged() -> None:
    x = T.matrix("x")
    W = symrnn.shared(np.ones((3, 4)), name="W")
    preact = x.dot(W)
    z = T.nnet.sigmoid(preact)
    z.name = "update"
    cand = T.tanh(preact)
    cand.name = "proposal"
    found = lint.check([z * cand], warn=False)
    assert codes(found) == ["gate-sharing"]
    assert "update" in found[0].message and "proposal" in found[0].message


def test_gates_whose_preactivations_share_all_their_weights_are_flagged() -> None:
    x = T.matrix("x")
    W = symrnn.shared(np.ones((3, 4)), name="W")
    b = symrnn.shared(np.zeros(4), name="b")
    first = T.nnet.sigmoid(x.dot(W) + b)
    second = T.nnet.hard_sigmoid(2 * (x.dot(W) + b))  # a different expression of the same weights
    found = lint.check([first * second], warn=False)
    assert codes(found) == ["gate-sharing"]
    assert "share all their weights" in found[0].message


def test_gates_with_their_own_weights_or_a_tied_matrix_and_own_biases_pass() -> None:
    x = T.matrix("x")
    W = symrnn.shared(np.ones((3, 4)), name="W")
    W2 = symrnn.shared(np.ones((3, 4)), name="W2")
    b1 = symrnn.shared(np.zeros(4), name="b1")
    b2 = symrnn.shared(np.ones(4), name="b2")
    own = T.nnet.sigmoid(x.dot(W) + b1) * T.tanh(x.dot(W2) + b2)
    tied = T.nnet.sigmoid(x.dot(W) + b1) * T.nnet.sigmoid(x.dot(W) + b2)
    assert lint.check(own, warn=False) == []
    assert lint.check(tied, warn=False) == []


# --------------------------------------------------------------------------- parameters without a gradient


def test_a_parameter_without_a_gradient_path_is_named() -> None:
    cell = nn.RNNCell(3, 4, seed=0)
    unused = symrnn.shared(np.zeros(4), name="unused_bias")
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    cost = outputs[-1].sum()
    found = lint.check(cell, cost=cost, params=[*cell.params.values(), unused], warn=False)
    assert codes(found) == ["no-gradient"]
    assert "'unused_bias'" in found[0].message
    assert found[0].subject == ("unused_bias",)
    assert "remove it" in found[0].fix and "connect it" in found[0].fix
    # Without params, the shared variables of the graph are checked; the cost uses every cell parameter.
    found = lint.check([outputs, unused * 2], cost=cost, warn=False)
    assert codes(found) == ["no-gradient"] and "'unused_bias'" in found[0].message
    assert lint.check(cell, cost=cost, warn=False) == []


def test_a_training_function_with_optimizer_state() -> None:
    cell = nn.LSTMCell(3, 4, seed=0)
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    cost = (outputs ** 2).mean()
    extra = symrnn.shared(np.zeros(4), name="extra")
    # Adam's moment estimates are shared variables too, but they are the optimizer's, not parameters.
    f = symrnn.function([x], [cost, outputs + extra], updates=nn.optimizers.adam(cost, list(cell.params.values())))
    found = lint.check(f, cost=cost, warn=False)
    assert [(w.code, w.subject) for w in found] == [("no-gradient", ("extra",))]


def test_a_parameter_used_only_by_an_unused_loop_output_is_flagged() -> None:
    x = T.tensor3("x")
    U = symrnn.shared(np.eye(3), name="U")
    V = symrnn.shared(np.eye(3), name="V_readout")

    def step(x_t, h):
        h_new = T.tanh(x_t + h.dot(U))
        return h_new, h_new.dot(V)

    (hs, ys), _ = symrnn.scan(step, sequences=[x], outputs_info=[T.zeros((2, 3)), None])
    found = lint.check([hs, ys], cost=hs[-1].sum(), warn=False)
    assert codes(found) == ["no-gradient"]
    assert "'V_readout'" in found[0].message
    assert lint.check([hs, ys], cost=ys[-1].sum(), warn=False) == []


def test_every_lstm_parameter_has_a_gradient() -> None:
    cell = nn.LSTMCell(2, 3, seed=0)
    outputs, _ = nn.rnn(cell, T.tensor3("x"))
    assert lint.check(cell, cost=(outputs ** 2).sum(), warn=False) == []


# --------------------------------------------------------------------------- recurrent spectral radius


def test_recurrent_matrix_with_spectral_radius_3_is_flagged_and_orthogonal_is_not() -> None:
    cell = nn.RNNCell(3, 6, seed=0)
    U = cell.params["U"].get_value()
    assert np.allclose(U @ U.T, np.eye(6))  # standard init: orthogonal
    assert lint.check(cell, warn=False) == []
    cell.params["U"].set_value(scaled(np.random.default_rng(0).normal(size=(6, 6)), 3.0))
    found = lint.check(cell, warn=False)
    assert codes(found) == ["spectral-radius"]
    assert "'rnn/U'" in found[0].message and "3.00" in found[0].message
    assert "orthogonal" in found[0].fix
    # The input matrix W is not recurrent, whatever its scale.
    cell.params["U"].set_value(U)
    cell.params["W"].set_value(np.full((3, 6), 10.0))
    assert lint.check(cell, warn=False) == []


def test_spectral_radius_inside_a_scan_and_of_each_lstm_gate() -> None:
    lstm = nn.LSTMCell(4, 4, seed=0)
    lstm.params["U_f"].set_value(scaled(np.random.default_rng(1).normal(size=(4, 4)), 2.0))
    lstm.params["W_i"].set_value(np.eye(4) * 5)  # square, but it multiplies the input, not the state
    outputs, _ = nn.rnn(lstm, T.tensor3("x"))
    found = lint.check(outputs, warn=False)
    assert codes(found) == ["spectral-radius"]
    assert "'lstm/U_f'" in found[0].message and "2.00" in found[0].message


def test_the_gru_reset_path_is_recurrent_and_the_threshold_is_a_parameter() -> None:
    gru = nn.GRUCell(3, 5, seed=0)
    gru.params["U_h"].set_value(scaled(np.random.default_rng(2).normal(size=(5, 5)), 1.4))  # (r * h) . U_h
    assert lint.check(gru, warn=False) == []
    found = lint.check(gru, warn=False, max_spectral_radius=1.2)
    assert codes(found) == ["spectral-radius"] and "'gru/U_h'" in found[0].message


def test_the_buggy_cells_recurrent_w_is_checked() -> None:
    cell = SharedPreactLSTMCell(3, 4, seed=0)
    cell.params["W"].set_value(np.eye(4) * 2.5)
    found = lint.check(cell, warn=False)
    assert sorted(codes(found)) == ["gate-sharing", "spectral-radius"]
    assert any("'buggy_lstm/W'" in w.message and "2.50" in w.message for w in found)


def test_spectral_radius_helper() -> None:
    rotation = np.array([[0.0, -2.0], [2.0, 0.0]])  # complex eigenvalues of modulus 2
    assert lint.spectral_radius(rotation) == pytest.approx(2.0)
    assert lint.spectral_radius(symrnn.shared(np.diag([0.5, -1.5]))) == pytest.approx(1.5)


def test_bad_argument() -> None:
    with pytest.raises(TypeError, match="Cell, a Function, a variable"):
        lint.check("lstm")
