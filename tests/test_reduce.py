"""Reductions: sum, mean, max, min, prod, argmax, argmin with axis and keepdims, their dtypes, errors and
gradients."""

import numpy as np
import pytest
from helpers import assert_user_error, check, check_fn, check_grad, typed
from hypothesis import given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError

RNG = np.random.default_rng(7)

AXES = [None, 0, 1, 2, -1, -3, (0, 2), (2, 0), (-1, 1), (0, 1, 2), ()]
REDUCTIONS = [
    ("sum", T.sum, np.sum),
    ("mean", T.mean, np.mean),
    ("max", T.max, np.max),
    ("min", T.min, np.min),
    ("prod", T.prod, np.prod),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name, sym, ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reductions_forward(name, sym, ref, axis, keepdims):
    a = RNG.uniform(-2, 2, size=(2, 3, 4))
    check_fn(lambda x: sym(x, axis=axis, keepdims=keepdims), [a], ref(a, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_reduction_methods(axis, keepdims):
    a = RNG.uniform(-2, 2, size=(3, 4))
    x = T.dmatrix("x")
    kw = {"axis": axis, "keepdims": keepdims}
    check([x], [x.sum(**kw), x.mean(**kw), x.max(**kw), x.min(**kw), x.prod(**kw), x.argmax(**kw), x.argmin(**kw)],
          [a], [a.sum(**kw), a.mean(**kw), a.max(**kw), a.min(**kw), a.prod(**kw), a.argmax(**kw), a.argmin(**kw)])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -2])
@pytest.mark.parametrize("name, sym, ref", [("argmax", T.argmax, np.argmax), ("argmin", T.argmin, np.argmin)])
def test_argmax_argmin(name, sym, ref, axis, keepdims):
    a = RNG.permutation(24).reshape(2, 3, 4).astype("float64")  # no ties
    out = sym(T.dtensor3("x"), axis=axis, keepdims=keepdims)
    assert out.dtype == "int64"
    check_fn(lambda x: sym(x, axis=axis, keepdims=keepdims), [a], ref(a, axis=axis, keepdims=keepdims))


def test_argmax_ties_pick_the_first():
    x = T.dmatrix("x")
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    check([x], [T.argmax(x, axis=1), T.argmin(x, axis=0), T.argmax(x)], [a],
          [np.array([1, 0]), np.array([0, 1, 1]), np.array(1)])


@pytest.mark.parametrize("dtype", ["int32", "int8", "uint8", "int64", "bool", "float32", "float64", "float16"])
@pytest.mark.parametrize("name, sym, ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 1, ()], ids=str)
def test_reduction_dtypes_follow_numpy(name, sym, ref, dtype, axis):
    # sum of int32 is int64, mean of ints is float64, mean of float32 stays float32, max keeps the dtype
    a = RNG.integers(0, 3, size=(3, 4)).astype(dtype)
    check_fn(lambda x: sym(x, axis=axis), [a], ref(a, axis=axis), rtol=1e-3 if dtype == "float16" else None)


def test_named_dtypes():
    assert T.sum(T.ivector()).dtype == "int64"
    assert T.mean(T.ivector()).dtype == "float64"
    assert T.mean(T.fmatrix(), axis=0).dtype == "float32"
    assert T.max(T.bvector()).dtype == "int8"
    assert T.sum(T.fmatrix(), axis=1).dtype == "float32"


def test_sum_with_dtype():
    x = T.ivector("x")
    a = np.array([1, 2, 3], dtype="int32")
    check([x], T.sum(x, dtype="float32"), [a], np.float32(6.0))
    check([x], x.sum(dtype="int32"), [a], np.int32(6))


def test_reductions_of_a_scalar():
    x = T.dscalar("x")
    check([x], [T.sum(x), T.mean(x), T.max(x), T.prod(x), T.argmax(x)], [2.5],
          [np.float64(2.5), np.float64(2.5), np.float64(2.5), np.float64(2.5), np.int64(0)])
    i = T.iscalar("i")
    check([i], [T.sum(i), T.mean(i)], [np.int32(3)], [np.sum(np.int32(3)), np.mean(np.int32(3))])


@pytest.mark.parametrize("axis, keepdims, shape", [
    (None, False, ()), (1, False, (2, 4)), (1, True, (2, 1, 4)), ((0, 2), False, (None,)),
    (-1, True, (2, None, 1)), (None, True, (1, 1, 1)),
])
def test_static_shapes(axis, keepdims, shape):
    x = T.tensor("float64", (2, None, 4))
    for fn in (T.sum, T.mean, T.max, T.prod):
        assert fn(x, axis=axis, keepdims=keepdims).type.shape == shape
    if not isinstance(axis, tuple):
        assert T.argmax(x, axis=axis, keepdims=keepdims).type.shape == shape


def test_sum_over_an_empty_axis():
    x = T.tensor("float64", (0, 3))
    check([x], [T.sum(x, axis=0), T.prod(x, axis=0), T.sum(x)], [np.zeros((0, 3))],
          [np.zeros(3), np.ones(3), np.float64(0)])


def test_reduce_keeps_float32_in_a_graph():
    x = T.fmatrix("x")
    out = (x - x.max(axis=1, keepdims=True)).mean(axis=0) + x.sum() * 0.5
    assert out.dtype == "float32"
    a = RNG.normal(size=(3, 4)).astype("float32")
    check([x], out, [a], (a - a.max(axis=1, keepdims=True)).mean(axis=0) + a.sum() * 0.5)


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("fn, name", [(T.sum, "sum"), (T.mean, "mean"), (T.max, "max"), (T.argmax, "argmax"),
                                      (T.prod, "prod"), (T.argmin, "argmin")])
@pytest.mark.parametrize("axis", [2, -3, (0, 5)], ids=str)
def test_axis_out_of_range(fn, name, axis):
    x = T.dmatrix("x")
    with pytest.raises((GraphShapeError, GraphTypeError)) as info:
        fn(x, axis=axis)
    assert_user_error(info, name, "out of range")


def test_repeated_axis():
    with pytest.raises(GraphTypeError) as info:
        T.sum(T.dmatrix("x"), axis=(1, -1))
    assert_user_error(info, "sum", "repeats")


def test_argmax_over_several_axes_is_an_error():
    with pytest.raises(GraphTypeError) as info:
        T.argmax(T.dtensor3("x"), axis=(0, 1))
    assert_user_error(info, "argmax", "(0, 1)")


def test_axis_must_be_an_int():
    with pytest.raises(GraphTypeError) as info:
        T.sum(T.dmatrix("x"), axis=1.5)
    assert_user_error(info, "sum", "1.5")


def test_max_over_a_static_empty_axis():
    with pytest.raises(GraphShapeError) as info:
        T.max(T.tensor("float64", (0, 3)), axis=0)
    assert_user_error(info, "max", "empty")


# --------------------------------------------------------------------------- gradients

POINT = np.random.default_rng(11).uniform(0.5, 2.0, size=(2, 3, 4)) * np.random.default_rng(12).choice(
    [-1, 1], size=(2, 3, 4))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), ()], ids=str)
@pytest.mark.parametrize("name, sym", [(r[0], r[1]) for r in REDUCTIONS])
def test_reduction_gradients(name, sym, axis, keepdims):
    check_grad(lambda x: sym(x, axis=axis, keepdims=keepdims), [POINT])


@pytest.mark.parametrize("name, sym", [(r[0], r[1]) for r in REDUCTIONS])
def test_reduction_gradients_on_vectors_and_scalars(name, sym):
    check_grad(lambda x: sym(x) * 2, [POINT[0, 0]])
    check_grad(lambda x: sym(x) + 1, [np.array(0.7)])


def test_reduction_of_static_shapes_gradient():
    check_grad(lambda x: T.sum(typed(x, (2, 3, 4)), axis=1) * T.max(typed(x, (2, 3, 4)), axis=(0, 1)), [POINT])


@pytest.mark.parametrize("point", [
    np.array([[1.5, 0.0, -2.0], [0.5, 2.0, 3.0]]),  # one zero
    np.array([[0.0, 0.0, -2.0], [0.5, 2.0, 3.0]]),  # two zeros in a row
    np.array([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]]),  # all zeros
])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_prod_gradient_is_exact_with_zeros(point, axis):
    check_grad(lambda x: T.prod(x, axis=axis), [point])


def test_prod_gradient_with_a_zero_by_hand():
    x = T.dvector("x")
    g = symrnn.grad(T.prod(x), x)
    check([x], g, [np.array([2.0, 0.0, 3.0])], np.array([0.0, 6.0, 0.0]))
    check([x], g, [np.array([2.0, 0.0, 0.0])], np.array([0.0, 0.0, 0.0]))


def test_prod_gradient_over_an_empty_axis():
    x = T.dmatrix("x")
    g = symrnn.grad(T.prod(x, axis=0).sum(), x)
    check([x], g, [np.zeros((0, 3))], np.zeros((0, 3)))


def test_max_gradient_goes_to_the_maximum():
    x = T.dmatrix("x")
    g = symrnn.grad(T.max(x, axis=1).sum(), x)
    check([x], g, [np.array([[1.0, 5.0, 2.0], [7.0, -1.0, 0.0]])], np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


def test_mean_gradient_by_hand():
    x = T.dmatrix("x")
    g = symrnn.grad(T.mean(x, axis=0).sum(), x)
    check([x], g, [np.ones((4, 2))], np.full((4, 2), 0.25))


def test_no_gradient_through_argmax_and_int_sums():
    x = T.dvector("x")
    cost = T.cast(T.argmax(x), "float64") + x.sum()
    check([x], symrnn.grad(cost, x), [np.array([1.0, 3.0])], np.array([1.0, 1.0]))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_random_axes_match_numpy(shape, data):
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                               st.lists(st.integers(0, ndim - 1), unique=True).map(tuple)))
    keepdims = data.draw(st.booleans())
    name, sym, ref = data.draw(st.sampled_from(REDUCTIONS))
    a = np.random.default_rng(len(shape)).uniform(-2, 2, size=shape)
    check_fn(lambda x: sym(x, axis=axis, keepdims=keepdims), [a], ref(a, axis=axis, keepdims=keepdims))


def test_argmax_over_a_static_empty_axis():
    with pytest.raises(GraphShapeError) as info:
        T.argmax(T.tensor("float64", (3, 0)), axis=1)
    assert_user_error(info, "argmax", "empty")
    assert T.argmax(T.tensor("float64", (0, 3)), axis=1).type.shape == (0,)
