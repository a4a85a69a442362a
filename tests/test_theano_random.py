"""Theano-compatible random streams (issue 14).

- ``symrnn.tensor.shared_randomstreams.RandomStreams`` against NumPy's legacy
  ``RandomState`` called directly, and against the numbers printed in Theano's
  tutorial (doc/tutorial/examples.txt, "Using Random Numbers", "Seeding
  Streams", "Sharing Streams Between Functions", "Copying Random State Between
  Theano Graphs"; deeplearning.net/software/theano/tutorial/examples.html);
- tensor parameters that broadcast to the drawn shape, and ``size=None``, in
  both generators;
- ``symrnn.sandbox.rng_mrg.MRG_RandomStreams``;
- compiled (FAST_RUN, FAST_COMPILE) against the reference interpreter, call
  after call.
"""

import subprocess
import sys

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import function
from symrnn.graph import GraphShapeError, GraphTypeError
from symrnn.ops import random as ops_random
from symrnn.sandbox.rng_mrg import MRG_RandomStreams
from symrnn.tensor.shared_randomstreams import RandomStateSharedVariable, RandomStreams

MODES = ["FAST_RUN", "FAST_COMPILE", "reference"]
THIS_FILE = "test_theano_random.py"


def variable_seeds(seed, count):
    """The seeds Theano's RandomStreams(seed) gives its first ``count`` random variables."""
    seedgen = np.random.RandomState(seed)
    return [int(seedgen.randint(2**30)) for _ in range(count)]


# --------------------------------------------------------------------------- Theano's documented numbers


class Graph:  # the tutorial's class, as written there
    def __init__(self, seed=123):
        self.rng = RandomStreams(seed)
        self.y = self.rng.uniform(size=(1,))


def copy_random_state(g1, g2):  # the tutorial's function, as written there
    if isinstance(g1.rng, MRG_RandomStreams):
        g2.rng.rstate = g1.rng.rstate
    for (su1, su2) in zip(g1.rng.state_updates, g2.rng.state_updates):
        su2[0].set_value(su1[0].get_value())


@pytest.mark.parametrize("mode", MODES)
def test_copying_random_state_prints_the_tutorials_numbers(mode):
    # doc/tutorial/examples.txt, "Copying Random State Between Theano Graphs"
    g1 = Graph(seed=123)
    f1 = function([], g1.y, mode=mode)
    g2 = Graph(seed=987)
    f2 = function([], g2.y, mode=mode)
    np.testing.assert_allclose(f1(), [0.72803009], atol=5e-9)  # "By default, the two functions are out of sync."
    np.testing.assert_allclose(f2(), [0.55056769], atol=5e-9)
    copy_random_state(g1, g2)
    np.testing.assert_allclose(f1(), [0.59044123], atol=5e-9)
    np.testing.assert_allclose(f2(), [0.59044123], atol=5e-9)


@pytest.mark.parametrize("mode", MODES)
def test_using_random_numbers_draws_numpys_randomstate_numbers(mode):
    # doc/tutorial/examples.txt, "Using Random Numbers": each variable has its own RandomState
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u, mode=mode)
    g = function([], rv_n, no_default_updates=True, mode=mode)  # not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u, mode=mode)

    seed_u, seed_n = variable_seeds(234, 2)
    want_u, want_n = np.random.RandomState(seed_u), np.random.RandomState(seed_n)
    np.testing.assert_array_equal(f(), want_u.uniform(0.0, 1.0, (2, 2)))  # f_val0
    np.testing.assert_array_equal(f(), want_u.uniform(0.0, 1.0, (2, 2)))  # f_val1: the state advanced
    g_val0 = g()
    np.testing.assert_array_equal(g_val0, want_n.normal(0.0, 1.0, (2, 2)))
    np.testing.assert_array_equal(g(), g_val0)  # same numbers as g_val0!
    np.testing.assert_array_equal(nearly_zeros(), np.zeros((2, 2)))  # drawn once per call
    want_u.uniform(0.0, 1.0, (2, 2))  # the draw nearly_zeros made: it advanced rv_u's generator once
    np.testing.assert_array_equal(f(), want_u.uniform(0.0, 1.0, (2, 2)))


@pytest.mark.parametrize("mode", MODES)
def test_seeding_streams_one_variable_and_all(mode):
    # doc/tutorial/examples.txt, "Seeding Streams"
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u, mode=mode)
    g = function([], rv_n, mode=mode)

    rng_val = rv_u.rng.get_value(borrow=True)  # get the rng for rv_u
    rng_val.seed(89234)  # seeds the generator
    rv_u.rng.set_value(rng_val, borrow=True)  # assign back seeded rng
    np.testing.assert_array_equal(f(), np.random.RandomState(89234).uniform(size=(2, 2)))

    srng.seed(902340)  # seeds rv_u and rv_n with different seeds each
    seed_u, seed_n = variable_seeds(902340, 2)
    np.testing.assert_array_equal(f(), np.random.RandomState(seed_u).uniform(size=(2, 2)))
    np.testing.assert_array_equal(g(), np.random.RandomState(seed_n).normal(size=(2, 2)))
    srng.seed()  # None: the constructor's seed, so the first draws again
    np.testing.assert_array_equal(f(), np.random.RandomState(variable_seeds(234, 1)[0]).uniform(size=(2, 2)))


@pytest.mark.parametrize("mode", MODES)
def test_sharing_streams_between_functions(mode):
    # doc/tutorial/examples.txt, "Sharing Streams Between Functions"
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = function([], rv_u, mode=mode)
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u, mode=mode)
    f()
    state_after_v0 = rv_u.rng.get_value().get_state()
    np.testing.assert_array_equal(nearly_zeros(), np.zeros((2, 2)))  # this affects rv_u's generator
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2 = f()  # v2 != v1
    v3 = f()  # v3 == v1
    assert not np.allclose(v2, v1)
    np.testing.assert_array_equal(v3, v1)


# --------------------------------------------------------------------------- every distribution, every mode


def theano_graph(srng):
    """A draw of each distribution, with scalar, tensor and broadcasting parameters, and size=None."""
    low = T.vector("low")
    p = T.matrix("p")
    outs = [
        srng.uniform((2, 3), low=low, high=low + 1.0),
        srng.normal((4,), avg=1.0, std=2.0),
        srng.normal(avg=T.zeros((2, 1)), std=np.array([1.0, 10.0, 100.0])),  # size=None: (2, 3)
        srng.binomial((2, 3), n=3, p=p),
        srng.binomial(p=p, dtype="float32"),
        srng.uniform((3,), dtype="float32"),
        srng.random_integers((2, 2), low=-2, high=np.array([0, 5])),
    ]
    return [low, p], outs


def numpy_draws(seed, calls, low, p):
    """The same draws, call after call, with NumPy's RandomState called directly."""
    rngs = [np.random.RandomState(s) for s in variable_seeds(seed, 7)]
    out = []
    for _ in range(calls):
        ints = np.empty((2, 2), dtype="int64")
        for index in np.ndindex(2, 2):
            ints[index] = rngs[6].randint(-2, np.array([0, 5])[index[1]] + 1)
        out.append([
            rngs[0].uniform(low, low + 1.0, (2, 3)),
            rngs[1].normal(1.0, 2.0, (4,)),
            rngs[2].normal(np.zeros((2, 1)), [1.0, 10.0, 100.0], (2, 3)),
            rngs[3].binomial(3, p, (2, 3)),
            rngs[4].binomial(1, p, (2, 3)).astype("float32"),
            rngs[5].uniform(0.0, 1.0, (3,)).astype("float32"),
            ints,
        ])
    return out


LOW = np.array([-1.0, 0.0, 5.0])
P = np.array([[0.1, 0.5, 0.9], [0.0, 1.0, 0.3]])


@pytest.mark.parametrize("mode", MODES)
def test_every_distribution_matches_randomstate_over_many_calls(mode):
    inputs, outs = theano_graph(RandomStreams(seed=42))
    f = function(inputs, outs, mode=mode)
    got = [f(LOW, P) for _ in range(25)]
    for calls_got, calls_want in zip(got, numpy_draws(42, 25, LOW, P)):
        for a, b in zip(calls_got, calls_want):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_compiled_modes_agree_with_the_reference_interpreter_and_debug_mode():
    results = {}
    for mode in [*MODES, "DebugMode"]:
        inputs, outs = theano_graph(RandomStreams(seed=7))
        f = function(inputs, outs, mode=mode)
        results[mode] = [f(LOW, P) for _ in range(5)]
    for mode in ["FAST_RUN", "FAST_COMPILE", "DebugMode"]:
        for a_call, b_call in zip(results[mode], results["reference"]):
            for a, b in zip(a_call, b_call):
                np.testing.assert_array_equal(a, b)


def test_explicit_updates_and_no_default_updates():
    srng = RandomStreams(seed=5)
    u = srng.uniform((3,))
    (rng, new_rng), = srng.updates()
    assert rng is u.rng and u.update == (rng, new_rng)
    want = np.random.RandomState(variable_seeds(5, 1)[0])
    frozen = function([], u, no_default_updates=True)
    first = want.uniform(size=(3,))
    np.testing.assert_array_equal(frozen(), first)
    np.testing.assert_array_equal(frozen(), first)
    advancing = function([], u, updates=srng.updates(), no_default_updates=True)
    np.testing.assert_array_equal(advancing(), first)
    np.testing.assert_array_equal(advancing(), want.uniform(size=(3,)))
    assert srng[rng].get_state()[2] == want.get_state()[2]  # __getitem__: the RandomState


def test_random_state_shared_variable_round_trips_and_refuses_other_values():
    rng = np.random.RandomState(11)
    rng.normal()  # leaves a cached Gaussian in the state
    shared = RandomStateSharedVariable(rng)
    again = shared.get_value()
    assert again.normal() == rng.normal() and again.uniform() == rng.uniform()
    with pytest.raises(GraphTypeError, match="packed RandomState"):
        shared.set_value(np.zeros(3))


def test_float32_floatx_draws_cast_like_theano():
    old = symrnn.config.floatX
    symrnn.config.floatX = "float32"
    try:
        u = RandomStreams(seed=3).uniform((2,))
        got = function([], u)()
    finally:
        symrnn.config.floatX = old
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.random.RandomState(variable_seeds(3, 1)[0]).uniform(size=2)
                                  .astype("float32"))


# --------------------------------------------------------------------------- tensor parameters (finding 1)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_mask_with_a_keep_prob_vector(mode):
    x = T.matrix("x")
    keep = T.vector("keep")
    srng = ops_random.RandomStreams(seed=9)
    mask = srng.binomial(x.shape, p=keep, dtype=x.dtype)
    f = function([x, keep], x * mask, mode=mode)
    xs = np.arange(1.0, 13.0).reshape(3, 4)
    out = f(xs, [1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(out, xs * [1.0, 0.0, 1.0, 0.0])  # p=1 always kept, p=0 always dropped
    many = np.array([f(np.ones((400, 2)), [0.25, 0.75]) for _ in range(5)])
    np.testing.assert_allclose(many.mean(axis=(0, 1)), [0.25, 0.75], atol=0.03)


def test_counter_stream_tensor_parameters_draw_numpys_generator_numbers():
    # symrnn.ops.random documents a draw as NumPy's Philox with key (seed, draw id) and the call as its counter
    def philox(draw, call):
        return np.random.Generator(np.random.Philox(key=[21, draw], counter=[0, 0, 0, call]))

    srng = ops_random.RandomStreams(seed=21)
    avg = T.vector("avg")
    n = srng.normal((2, 3), avg=avg, std=np.array([[1.0], [3.0]]))
    b = srng.binomial(n=np.array([1, 5, 10]), p=0.5)  # size=None: (3,)
    f = function([avg], [n, b])
    for call in range(3):
        got_n, got_b = f([0.0, 10.0, 20.0])
        want_n = philox(0, call).normal(np.array([0.0, 10.0, 20.0]), [[1.0], [3.0]], (2, 3))
        want_b = philox(1, call).binomial([1, 5, 10], 0.5, (3,))
        np.testing.assert_array_equal(got_n, want_n)
        np.testing.assert_array_equal(got_b, want_b)


@pytest.mark.parametrize("streams", [ops_random.RandomStreams, RandomStreams, MRG_RandomStreams])
def test_compiled_and_reference_agree_with_tensor_parameters(streams):
    results = []
    for mode in MODES:
        srng = streams(3)
        p = T.vector("p")
        outs = [srng.binomial((5, 2), p=p), srng.uniform((3, 2), low=p, high=p + 2.0), srng.normal((2,), std=p)]
        f = function([p], outs, mode=mode)
        results.append([f([0.2, 0.7]) for _ in range(4)])
    for other in results[1:]:
        for a_call, b_call in zip(other, results[0]):
            for a, b in zip(a_call, b_call):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("streams", [ops_random.RandomStreams, RandomStreams])
def test_static_shape_mismatch_names_the_parameter_and_the_users_line(streams):
    with pytest.raises(GraphShapeError) as info:
        streams(0).binomial((2, 3), p=np.full(4, 0.5))
    message = str(info.value)
    assert "p of shape (4,)" in message and "(2, 3)" in message and THIS_FILE in message
    with pytest.raises(GraphShapeError, match="more than the drawn shape"):
        streams(0).uniform((3,), low=np.zeros((2, 3)))
    with pytest.raises(GraphShapeError, match="do not broadcast together"):
        streams(0).normal(avg=np.zeros(3), std=np.ones(2))


@pytest.mark.parametrize("streams", [ops_random.RandomStreams, RandomStreams])
@pytest.mark.parametrize("mode", MODES)
def test_runtime_shape_mismatch_names_the_parameter(streams, mode):
    p = T.vector("p")
    f = function([p], streams(0).binomial((2, 3), p=p), mode=mode)
    with pytest.raises(ValueError, match=r"p of shape \(4,\) does not broadcast to the drawn shape \(2, 3\)"):
        f(np.full(4, 0.5))


def test_static_shape_is_refined_from_the_parameters():
    n = ops_random.RandomStreams(0).normal((T.iscalar("rows"), T.iscalar("cols")), avg=np.zeros(3))
    assert n.type.shape == (None, 3)
    u = RandomStreams(0).uniform(low=np.zeros((2, 1)), high=np.ones(5))
    assert u.type.shape == (2, 5)


# --------------------------------------------------------------------------- MRG_RandomStreams


@pytest.mark.parametrize("mode", MODES)
def test_mrg_distributions_shapes_dtypes_and_advance(mode):
    srng = MRG_RandomStreams(seed=234)
    outs = [srng.uniform((3, 4), low=-1.0, high=1.0), srng.normal((1000,), avg=5.0, std=0.5),
            srng.binomial((2000,), p=0.3, dtype="float32"),
            srng.multinomial(pvals=np.tile([[0.2, 0.5, 0.3]], (3000, 1)))]
    f = function([], outs, mode=mode)
    u, n, b, m = f()
    assert u.shape == (3, 4) and u.dtype == np.float64 and ((-1 <= u) & (u < 1)).all()
    assert abs(n.mean() - 5.0) < 0.06 and abs(n.std() - 0.5) < 0.04
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.04
    assert m.dtype == np.int64 and (m.sum(axis=1) == 1).all()  # one-hot rows, as Theano's
    np.testing.assert_allclose(m.mean(axis=0), [0.2, 0.5, 0.3], atol=0.03)
    assert not np.array_equal(f()[0], u)


def test_mrg_multinomial_counts_n_draws_per_row_and_uses_pvals_as_given():
    srng = MRG_RandomStreams(seed=1)
    pvals = T.matrix("pvals")
    f = function([pvals], [srng.multinomial(n=4, pvals=pvals), srng.multinomial(pvals=pvals, dtype="float32")])
    counts, one = f([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [-2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(counts[:2], [[0, 4, 0], [4, 0, 0]])
    np.testing.assert_array_equal(counts[2], [0, 0, 0])  # cumulative [-2, 0, 0]: never above u (Theano's note)
    assert one.dtype == np.float32
    with pytest.raises(ValueError, match="takes no size"):
        srng.multinomial(size=(3,), pvals=pvals)
    with pytest.raises(NotImplementedError, match="matrix"):
        srng.multinomial(pvals=T.vector())
    with pytest.raises(GraphTypeError, match="give pvals"):
        srng.multinomial()


def test_mrg_seed_restarts_and_copying_state_syncs_two_graphs():
    srng = MRG_RandomStreams()  # Theano's default seed, 12345
    f = function([], srng.normal((3,)))
    first = f()
    f()
    srng.seed()
    np.testing.assert_array_equal(f(), first)
    srng.seed(99)
    other = f()
    assert not np.allclose(other, first)

    class MRGGraph:
        def __init__(self, seed):
            self.rng = MRG_RandomStreams(seed)
            self.y = self.rng.uniform(size=(1,))

    g1, g2 = MRGGraph(123), MRGGraph(987)
    f1, f2 = function([], g1.y), function([], g2.y)
    assert f1() != f2()
    copy_random_state(g1, g2)  # the tutorial's function works for MRG streams too
    np.testing.assert_array_equal(f1(), f2())


@pytest.mark.parametrize("seed, error", [(0, ValueError), (2147462579, ValueError), ([1, 2, 3], GraphTypeError),
                                         ([0, 0, 0, 1, 1, 1], ValueError), ("7", GraphTypeError)])
def test_mrg_refuses_theanos_bad_seeds(seed, error):
    with pytest.raises(error):
        MRG_RandomStreams(seed)


def test_mrg_six_int_seed_is_accepted():
    a = function([], MRG_RandomStreams([1, 2, 3, 4, 5, 6]).uniform((4,)))()
    b = function([], MRG_RandomStreams([1, 2, 3, 4, 5, 6]).uniform((4,)))()
    c = function([], MRG_RandomStreams([1, 2, 3, 4, 5, 7]).uniform((4,)))()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# --------------------------------------------------------------------------- how Theano scripts import them


def test_theano_import_paths_work_without_importing_the_submodules():
    code = ("import symrnn as theano, symrnn.tensor as T\n"
            "T.shared_randomstreams.RandomStreams(1)\n"
            "theano.sandbox.rng_mrg.MRG_RandomStreams(1)\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
