"""Pickling and copying graphs and compiled functions, as Theano scripts do (issue 14, findings 2 and 3).

Each test compares the unpickled or copied object with the original: the same
numbers from the same inputs, shared state that is (or is not) the same
object, as Theano documents for ``pickle``, ``copy.deepcopy`` and
``Function.copy``.
"""

import copy
import pickle

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.compile.function import Function
from symrnn.graph import Constant, SharedVariable
from symrnn.ops.random import RandomStreams

N_IN, H, STEPS, BATCH = 3, 4, 5, 2


class LSTMModel:
    """What a Theano script pickles: parameters, a symbolic cost and compiled functions."""

    def __init__(self, mode="FAST_RUN"):
        self.cell = nn.LSTMCell(N_IN, H, seed=1)
        self.x = T.tensor3("x")
        self.target = T.matrix("target")
        outputs, _ = nn.rnn(self.cell, self.x)
        self.cost = T.mean((outputs[-1] - self.target) ** 2)
        self.params = list(self.cell.params.values())
        grads = symrnn.grad(self.cost, self.params)
        self.lr = symrnn.shared(np.float64(0.1), name="lr")
        updates = [(p, p - self.lr * g) for p, g in zip(self.params, grads)]
        self.train = symrnn.function([self.x, self.target], self.cost, updates=updates, mode=mode, name="train")
        self.predict = symrnn.function([self.x], outputs, mode=mode)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(STEPS, BATCH, N_IN)), rng.normal(size=(BATCH, H))


def _values(model):
    return [p.get_value() for p in model.params]


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "reference"])
def test_a_pickled_lstm_model_trains_on_as_the_original_does(mode):
    """Finding 2: a model holding shared variables, a scan graph and compiled functions with updates."""
    model = LSTMModel(mode)
    x, y = _data()
    model.train(x, y)  # some state before saving
    clone = pickle.loads(pickle.dumps(model))

    assert isinstance(clone.train, Function) and clone.train.name == "train" and clone.train.mode == mode
    # the function's shared variables are the model's own (pickle keeps identity within one dump)
    assert {id(s) for s in clone.train.shared} >= {id(p) for p in clone.params}
    assert not ({id(s) for s in clone.train.shared} & {id(p) for p in model.params})
    for a, b in zip(_values(model), _values(clone)):
        np.testing.assert_array_equal(a, b)
    # the same numbers, step after step, and the two do not share state
    for _ in range(2):
        np.testing.assert_array_equal(model.train(x, y), clone.train(x, y))
    for a, b in zip(_values(model), _values(clone)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), clone.predict(x))
    clone.lr.set_value(0.0)  # the clone's own learning rate: its training no longer moves its weights
    kept = _values(clone)
    clone.train(x, y)
    model.train(x, y)
    for a, b in zip(kept, _values(clone)):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(kept, _values(model)))  # the original moved on
    # the symbolic cost is a graph again: compiling it in the loaded process gives the same number
    cost = symrnn.function([clone.x, clone.target], clone.cost, mode=mode)
    want = symrnn.function([model.x, model.target], model.cost, mode="reference")
    clone_params = _values(clone)
    for p, v in zip(model.params, clone_params):
        p.set_value(v)
    np.testing.assert_allclose(cost(x, y), want(x, y), rtol=1e-12)


def test_graphs_pickle_with_every_kind_of_variable_and_op():
    x = T.matrix("x")
    w = symrnn.shared(np.arange(6.0).reshape(2, 3), name="w")
    y = T.switch(x > 0, T.cast(x, "float32"), T.nnet.sigmoid(x)) @ T.cast(w, "float32") + T.constant([1.0, 2.0, 3.0])
    z, w2, y2 = pickle.loads(pickle.dumps((x, w, y)))
    assert isinstance(w2, SharedVariable) and w2.name == "w"
    np.testing.assert_array_equal(w2.get_value(), w.get_value())
    consts = [v for n in symrnn.graph.toposort([y2]) for v in n.inputs if isinstance(v, Constant)]
    assert consts and all(not c.data.flags.writeable for c in consts)  # still constant
    a = np.array([[1.0, -2.0], [0.5, -0.1]])
    want = symrnn.function([x], y, mode="reference")(a)
    np.testing.assert_allclose(symrnn.function([z], y2)(a), want, rtol=1e-6)
    # elementwise ops come back as the module's own ops, so merge and printing still know them
    assert y2.owner.op is y.owner.op


def test_a_deep_graph_pickles_inside_a_function():
    """A compiled function pickles its nodes in topological order: its depth does not hit the recursion limit."""
    x = T.dvector("x")
    y = x
    for _ in range(3000):
        y = y * 1.0001 + 0.001
    f = symrnn.function([x], y, mode="FAST_COMPILE")
    g = pickle.loads(pickle.dumps(f))
    a = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(a), g(a))


def test_a_pickled_function_keeps_its_defaults_names_and_givens():
    x, a = T.dscalars("x", "a")
    s = symrnn.shared(0.0, name="s")
    v = T.dvector("v")
    data = symrnn.shared(np.array([10.0, 20.0, 30.0]), name="data")
    f = symrnn.function([x, symrnn.In(a, value=1.0, name="alpha")], s + a * x + v.sum(),
                        updates=[(s, s + a * x)], givens={v: data})
    g = pickle.loads(pickle.dumps(f, protocol=0))
    assert g(2.0) == f(2.0) == 0 + 1 * 2 + 60
    assert g(1.0, alpha=3.0) == 65.0 and f(1.0, alpha=3.0) == 65.0  # each updated its own s
    f(1.0)  # now out of step
    assert f(0.0) != g(0.0)


def test_random_streams_pickle_with_their_state():
    srng = RandomStreams(seed=7)
    u = srng.uniform((3,))
    f = symrnn.function([], u)
    f()
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_array_equal(f(), g())  # the same state, advancing the same way
    np.testing.assert_array_equal(f(), g())


def test_deepcopy_makes_a_function_with_its_own_state():
    """Finding 3: keeping the best model so far with copy.deepcopy."""
    model = LSTMModel()
    x, y = _data(1)
    best = copy.deepcopy(model)
    assert best.train._generated.buffers is not model.train._generated.buffers
    np.testing.assert_array_equal(best.train(x, y), model.train(x, y))
    for a, b in zip(_values(model), _values(best)):
        np.testing.assert_array_equal(a, b)
    model.train(x, y)
    model.train(x, y)
    kept = _values(best)
    best_fn = copy.deepcopy(model.train)  # a function alone: its shared variables are copies
    best_fn(x, y)
    for a, b in zip(kept, _values(best)):
        np.testing.assert_array_equal(a, b)  # training the original did not move the copy
    assert not ({id(s) for s in best_fn.shared} & {id(p) for p in model.params})


def test_copy_shares_shared_variables_as_in_theano():
    """Theano's Function.copy: the copy updates the same shared variables (unless swapped)."""
    x = T.dscalar("x")
    y, z, m = (symrnn.shared(v, name=n) for v, n in ((1.0, "y"), (2.0, "z"), (0.0, "m")))
    y_rpl, z_rpl = symrnn.shared(3.0, name="y_rpl"), symrnn.shared(4.0, name="z_rpl")
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        for s, v in ((y, 1.0), (z, 2.0), (m, 0.0), (y_rpl, 3.0), (z_rpl, 4.0)):
            s.set_value(v)
        ori = symrnn.function([x], x + y + z + m, updates=[(z, z + 1), (m, m + 2)], mode=mode, name="f")
        cpy = ori.copy(swap={y: y_rpl, z: z_rpl})
        assert cpy.name == "f copy"
        assert ori(1.0) == 1 + 1 + 2 + 0
        assert cpy(1.0) == 1 + 3 + 4 + 2 and cpy(2.0) == 2 + 3 + 5 + 4
        # the numbers of Theano's test_swap_SharedVariable
        assert m.get_value() == 6 and z.get_value() == 3 and z_rpl.get_value() == 6
        assert y.get_value() == 1 and y_rpl.get_value() == 3
        same = ori.copy()
        same(0.0)
        assert m.get_value() == 8 and z.get_value() == 4  # not swapped: the same shared variables


def test_copy_options():
    x = T.dscalar("x")
    z = symrnn.shared(2.0, name="z")
    ori = symrnn.function([x], x + z, updates={z: z * 2})
    cpy = ori.copy(delete_updates=True, name="no updates", profile=True)
    assert [cpy(1.0) for _ in range(3)] == [3.0, 3.0, 3.0] and z.get_value() == 2.0
    assert cpy.name == "no updates" and cpy.profile is not None and ori.profile is None
    with pytest.raises(ValueError, match="not used"):
        ori.copy(swap={symrnn.shared(1.0, name="other"): symrnn.shared(1.0)})
    with pytest.raises(TypeError, match="types differ"):
        ori.copy(swap={z: symrnn.shared(np.float32(1.0))})
    assert copy.copy(ori)(1.0) == 3.0 and z.get_value() == 4.0  # copy.copy is Function.copy()


def test_copy_share_memory_uses_the_original_buffers():
    old = symrnn.config.allow_gc
    symrnn.config.allow_gc = False
    try:
        model = LSTMModel()
    finally:
        symrnn.config.allow_gc = old
    x, y = _data(2)
    model.train(x, y)
    own = model.train.copy(delete_updates=True)
    shared_buffers = model.train.copy(share_memory=True, delete_updates=True)
    assert model.train.kept_bytes > 0  # the original keeps buffers, or the test proves nothing
    assert own.kept_bytes == 0 and own.keep_buffers  # kept like the original's, allocated at its first call
    assert shared_buffers._generated.buffers is model.train._generated.buffers
    assert shared_buffers.kept_bytes == model.train.kept_bytes
    want = model.train.copy(delete_updates=True, share_memory=False)(x, y)
    np.testing.assert_array_equal(own(x, y), want)
    assert own.kept_bytes > 0 and own._generated.buffers is not model.train._generated.buffers
    np.testing.assert_array_equal(shared_buffers(x, y), want)
    np.testing.assert_array_equal(model.train.copy(delete_updates=True)(x, y), want)
