"""Theano's tensor-level API (issue 14): shape_pad*, stack's two spellings, stacklists, mgrid/ogrid,
TensorType with a broadcastable pattern, plural constructors, sigmoid_binary_crossentropy, softmax_graph and
config.warn.  Each result is compared with NumPy (or Theano's documented output) in FAST_RUN and in the
reference interpreter; gradients with central differences."""

import numpy as np
import pytest
from helpers import assert_user_error, check, check_fn, check_grad

import symrnn
import symrnn.tensor as T
from symrnn import config, graph
from symrnn.graph import GraphShapeError, GraphTypeError

RNG = np.random.default_rng(14)
A23 = RNG.normal(size=(2, 3))


# --------------------------------------------------------------------------- shape_padleft / right / axis

@pytest.mark.parametrize("build, ref", [
    (lambda x: T.shape_padleft(x), lambda a: a[None]),
    (lambda x: T.shape_padleft(x, 2), lambda a: a[None, None]),
    (lambda x: T.shape_padright(x), lambda a: a[..., None]),
    (lambda x: T.shape_padright(x, n_ones=3), lambda a: a[..., None, None, None]),
    (lambda x: T.shape_padaxis(x, 0), lambda a: np.expand_dims(a, 0)),
    (lambda x: T.shape_padaxis(x, 1), lambda a: np.expand_dims(a, 1)),
    (lambda x: T.shape_padaxis(x, 2), lambda a: np.expand_dims(a, 2)),
    (lambda x: T.shape_padaxis(x, -1), lambda a: np.expand_dims(a, -1)),
    (lambda x: T.shape_padaxis(x, -3), lambda a: np.expand_dims(a, -3)),
])
def test_shape_padding_matches_numpy(build, ref):
    check_fn(build, [A23], ref(A23))
    check_grad(lambda x: build(x) * 2.0, [A23])


def test_shape_padding_makes_broadcastable_axes():
    m = T.matrix("m")
    assert T.shape_padleft(m).broadcastable == (True, False, False)
    assert T.shape_padright(m, 2).broadcastable == (False, False, True, True)
    # Theano's documented patterns: shape_padaxis(tensor3, axis) is dimshuffle{x,0,1,2} ... {0,1,2,x}
    t3 = T.tensor3("t")
    assert [T.shape_padaxis(t3, a).owner.op.new_order for a in (0, 1, 3, -1)] == [
        ("x", 0, 1, 2), (0, "x", 1, 2), (0, 1, 2, "x"), (0, 1, 2, "x")]


def test_shape_padaxis_out_of_range_names_the_line():
    with pytest.raises(GraphShapeError) as info:
        T.shape_padaxis(T.matrix("m"), 3)
    assert_user_error(info, "shape_padaxis", "axis 3", "'m'")


# --------------------------------------------------------------------------- stack and stacklists

def test_stack_in_both_spellings():
    a, b, c = T.dvectors("abc")
    va, vb, vc = RNG.normal(size=(3, 4))
    outs = [T.stack(a, b, c), T.stack([a, b, c]), T.stack([a, b, c], 1), T.stack([a, b, c], axis=-1),
            T.stack(tensors=[a, b], axis=1), T.stack(t for t in (a, b)), T.stack(a, b, axis=1)]
    want = [np.stack([va, vb, vc]), np.stack([va, vb, vc]), np.stack([va, vb, vc], 1),
            np.stack([va, vb, vc], -1), np.stack([va, vb], 1), np.stack([va, vb]), np.stack([va, vb], 1)]
    check([a, b, c], outs, [va, vb, vc], want)


def test_stack_of_scalars_and_numbers_is_a_vector():
    x, y = T.dscalars("x", "y")
    check([x, y], T.stack(x, 2.5, y), [1.0, 3.0], np.array([1.0, 2.5, 3.0]))


def test_stack_old_spelling_gradient():
    check_grad(lambda p, q: T.stack(p, q * 3.0), [A23, A23 + 1])


def test_stack_rejects_both_spellings_at_once():
    a = T.vector("a")
    with pytest.raises(GraphTypeError) as info:
        T.stack([a, a], 0, 1)
    assert_user_error(info, "stack", "one list of tensors")


def test_stacklists_of_scalars_gives_theanos_documented_matrix():
    a, b, c, d = T.scalars("abcd")
    f = symrnn.function([a, b, c, d], T.stacklists([[a, b], [c, d]]))
    np.testing.assert_array_equal(f(1, 2, 3, 4), np.array([[1.0, 2.0], [3.0, 4.0]]))


def test_stacklists_of_matrices_and_numbers():
    a, b, c, d = T.matrices("abcd")
    vals = list(RNG.normal(size=(4, 3, 2)))
    check([a, b, c, d], T.stacklists([[a, b], [c, d]]), vals, np.array([[vals[0], vals[1]], [vals[2], vals[3]]]))
    x = T.dscalar("x")
    check([x], T.stacklists([[x, 1.0], [2.0, x]]), [5.0], np.array([[5.0, 1.0], [2.0, 5.0]]))
    assert T.stacklists([[a, b], [c, d]]).ndim == 4


def test_stacklists_gradient():
    check_grad(lambda p, q: T.stacklists([[p, q], [q * 2.0, p * p]]), [A23, -A23])


# --------------------------------------------------------------------------- mgrid and ogrid

def test_mgrid_and_ogrid_with_symbolic_bounds_match_numpy():
    n, m = T.iscalars("nm")
    outs = [*T.mgrid[0:n, 0:m], *T.ogrid[0:n, 0:m], *T.mgrid[1:n:2, m:0:-1, 0:3], T.mgrid[0:n], T.ogrid[2:m]]
    want = [*np.mgrid[0:5, 0:3], *np.ogrid[0:5, 0:3], *np.mgrid[1:5:2, 3:0:-1, 0:3], np.mgrid[0:5], np.ogrid[2:3]]
    check([n, m], outs, [5, 3], want)


def test_grids_with_float_steps_are_floatx_like_numpy():
    n = T.dscalar("n")
    outs = [*T.mgrid[0:n:0.5, 0:2], *T.ogrid[0:1:0.25, 0:n]]
    want = [*np.mgrid[0:2.0:0.5, 0:2], *np.ogrid[0:1:0.25, 0:2.0]]
    check([n], outs, [2.0], want)


def test_grids_report_what_they_do_not_support():
    with pytest.raises(NotImplementedError) as info:
        T.mgrid[0:1:5j, 0:3]
    assert_user_error(info, "mgrid", "complex step")
    with pytest.raises(GraphTypeError) as info:
        T.ogrid[0:]
    assert_user_error(info, "ogrid", "stop")


# --------------------------------------------------------------------------- TensorType

def test_tensortype_takes_a_broadcastable_pattern_or_a_static_shape():
    col = T.TensorType("float64", (False, True))
    assert col == T.TensorType("float64", (None, 1)) == graph.TensorType("float64", (None, 1))
    assert hash(col) == hash(graph.TensorType("float64", (None, 1)))
    assert col.broadcastable == (False, True) and col.shape == (None, 1)
    assert T.TensorType("int32", broadcastable=()) == graph.TensorType("int32", ())
    assert T.TensorType("float32", shape=(2, None)).shape == (2, None)
    assert T.TensorType("floatX", [np.bool_(True)]).dtype == config.floatX
    assert T.TensorType("float64", (False, False)) != col


def test_tensortype_is_the_type_of_every_variable():
    assert isinstance(T.matrix().type, T.TensorType)
    assert isinstance(T.TensorType("float64", (False,))("v"), T.Variable)
    assert issubclass(graph.TensorType, T.TensorType)
    assert not isinstance(3, T.TensorType)


def test_tensortype_variable_broadcasts_as_its_pattern_says():
    x = T.TensorType("float64", (False, True))("x")
    m = T.dmatrix("m")
    vx, vm = RNG.normal(size=(2, 1)), RNG.normal(size=(2, 3))
    check([x, m], x + m, [vx, vm], vx + vm)
    assert T.tensor("float64", (True, False)).type.shape == (1, None)


def test_tensortype_rejects_a_mixed_pattern():
    with pytest.raises(GraphTypeError) as info:
        T.TensorType("float64", (True, 3))
    assert_user_error(info, "broadcastable pattern", "not a mix")
    with pytest.raises(GraphTypeError):
        T.TensorType("float64")


@pytest.mark.parametrize("prefix, dtype", [("b", "int8"), ("w", "int16"), ("i", "int32"), ("l", "int64"),
                                           ("f", "float32"), ("d", "float64")])
def test_typed_constructors_are_theanos_tensor_types(prefix, dtype):
    shapes = {"scalar": (), "vector": (None,), "matrix": (None, None), "row": (1, None), "col": (None, 1),
              **{f"tensor{n}": (None,) * n for n in range(3, 8)}}
    for kind, shape in shapes.items():
        ctor = getattr(T, prefix + kind)
        assert ctor == graph.TensorType(dtype, shape) and isinstance(ctor, T.TensorType), prefix + kind
        x = ctor("x")
        assert x.type is ctor and x.name == "x"  # Theano: T.dscalar('x').type is T.dscalar
    assert getattr(T, prefix + "matrix")("m", shape=(2, 3)).type == graph.TensorType(dtype, (2, 3))
    with pytest.raises(GraphTypeError):
        getattr(T, prefix + "vector")("v", dtype="complex128")


def test_typed_constructor_variables_compute_as_numpy():
    x, y = T.dmatrix("x"), T.drow("y")
    vx, vy = RNG.normal(size=(2, 3)), RNG.normal(size=(1, 3))
    check([x, y], x * y, [vx, vy], vx * vy)


# --------------------------------------------------------------------------- plural constructors

def test_plural_constructors_follow_theanos_rule():
    x, y, z = T.scalars("xyz")  # one string: one variable per letter
    assert [v.name for v in (x, y, z)] == ["x", "y", "z"] and x.type == graph.TensorType(config.floatX, ())
    assert [v.name for v in T.dmatrices("a", "b")] == ["a", "b"]
    assert [v.name for v in T.dmatrices("ab", "cd")] == ["ab", "cd"]
    assert [v.name for v in T.ivectors(["u", "v"])] == ["u", "v"]
    three = T.fmatrices(3)
    assert len(three) == 3 and all(v.name is None and v.dtype == "float32" for v in three)
    single = T.lscalars("k")  # Theano: one one-letter name gives the variable itself
    assert isinstance(single, T.Variable) and single.name == "k" and single.dtype == "int64"
    assert T.dtensor3s("pq")[1].ndim == 3 and T.rows("r").type.shape == (1, None)
    assert T.cols("ab")[0].type.shape == (None, 1)


# --------------------------------------------------------------------------- nnet

def _np_sigmoid_bce(a, t):
    return t * np.logaddexp(0, -a) + (1 - t) * np.logaddexp(0, a)


def test_sigmoid_binary_crossentropy_matches_numpy_and_is_stable():
    a, t = T.dmatrix("a"), T.dmatrix("t")
    va = np.array([[-800.0, -3.0, 0.0], [0.5, 40.0, 800.0]])
    vt = np.array([[0.0, 1.0, 0.3], [1.0, 1.0, 0.0]])
    check([a, t], T.nnet.sigmoid_binary_crossentropy(a, t), [va, vt], _np_sigmoid_bce(va, vt))
    # the same numbers as Theano's definition, binary_crossentropy(sigmoid(a), t), where that one is finite
    small, target = RNG.normal(size=(3, 4)), RNG.uniform(size=(3, 4))
    s = 1 / (1 + np.exp(-small))
    check([a, t], T.nnet.sigmoid_binary_crossentropy(a, t), [small, target],
          -(target * np.log(s) + (1 - target) * np.log(1 - s)), rtol=1e-10)


def test_sigmoid_binary_crossentropy_gradients():
    va, vt = RNG.normal(size=(3, 4)) * 3, RNG.uniform(size=(3, 4))
    check_grad(T.nnet.sigmoid_binary_crossentropy, [va, vt])
    a, t = T.dmatrix("a"), T.dmatrix("t")
    ga, gt = symrnn.grad(T.nnet.sigmoid_binary_crossentropy(a, t).sum(), [a, t])
    got_a, got_t = symrnn.function([a, t], [ga, gt])(va, vt)
    np.testing.assert_allclose(got_a, 1 / (1 + np.exp(-va)) - vt, rtol=1e-12)  # Theano's rule
    np.testing.assert_allclose(got_t, -va, rtol=1e-12)


def test_softmax_graph_is_exp_over_sum():
    x = T.dmatrix("x")
    out = T.nnet.softmax_graph(x)
    assert not any(isinstance(n.op, T.nnet.Softmax) for n in graph.toposort([out]))
    e = np.exp(A23)
    check([x], out, [A23], e / e.sum(axis=-1, keepdims=True))
    v = T.dvector("v")
    check([v], T.nnet.softmax_graph(v), [A23[0]], np.exp(A23[0]) / np.exp(A23[0]).sum())
    check_grad(T.nnet.softmax_graph, [A23])
    with pytest.raises(GraphTypeError) as info:
        T.nnet.softmax_graph(T.iscalar("i"))
    assert_user_error(info, "softmax_graph", "'i'")


# --------------------------------------------------------------------------- config and namespaces

def test_config_warn_flags(monkeypatch):
    assert config.warn.subtensor_merge_bug is False and config.warn.inc_subtensor1_opt is True  # Theano's
    monkeypatch.setattr(config.warn, "subtensor_merge_bug", False)
    monkeypatch.setattr(config.warn, "round", True)
    assert config.warn.round is True
    with pytest.raises(AttributeError, match="no flag 'rond'"):
        config.warn.rond = False
    with pytest.raises(ValueError, match="warn.round must be one of"):
        config.warn.round = "maybe"
    with pytest.raises(AttributeError, match="group of flags"):
        config.warn = None


def test_config_flags_from_the_environment_string(monkeypatch):
    monkeypatch.setattr(config.warn, "round", False)
    monkeypatch.setattr(config, "allow_gc", False)
    config.apply_flags("warn.round=True, allow_gc=1")
    assert config.warn.round is True and config.allow_gc is True


def test_config_test_values_are_off():
    assert config.compute_test_value == "off" and config.print_test_value is False
    config.compute_test_value = "off"
    with pytest.raises(ValueError, match="no test values"):
        config.compute_test_value = "warn"


def test_shared_randomstreams_is_reachable_from_t():
    assert T.shared_randomstreams.RandomStreams is not None
