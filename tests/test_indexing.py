"""Indexing: ``x[...]``, ``set_subtensor`` / ``inc_subtensor``, their static shapes, errors and gradients.

Every forward result is compared with NumPy indexing the same array, in the
compiled mode and in the reference interpreter, dtype and shape included.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn.graph import Constant, GraphShapeError, GraphTypeError

MODES = ["FAST_RUN", "reference"]
THIS_FILE = os.path.basename(__file__)
RNG = np.random.default_rng(20240601)
X3 = RNG.standard_normal((3, 4, 5))
M = RNG.standard_normal((4, 5))


def check(inputs, output, values, expected):
    """``output`` evaluates to ``expected`` (value, dtype, shape) in both modes; its static shape fits."""
    expected = np.asarray(expected)
    assert output.ndim == expected.ndim, (output.type, expected.shape)
    assert output.dtype == expected.dtype.name
    for static, actual in zip(output.type.shape, expected.shape):
        assert static is None or static == actual, (output.type, expected.shape)
    for mode in MODES:
        got = symrnn.function(inputs, output, mode=mode)(*values)
        assert isinstance(got, np.ndarray), (mode, type(got))
        assert got.dtype == expected.dtype, (mode, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (mode, got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected)


def assert_error_names(excinfo, *words):
    message = str(excinfo.value)
    for word in words:
        assert word in message, (word, message)
    assert THIS_FILE in message, message


# --------------------------------------------------------------------------- basic indexing

E = Ellipsis
BASIC_INDICES = [
    1, -1, -3, (0, 1), (-1, -2, -5), (2, 3, 4),
    slice(1, 3), slice(None, -1), slice(-2, None), slice(None, None, 2), slice(None, None, -1),
    slice(2, 0, -1), slice(5, -10, -2), slice(10, 20), slice(3, 1), slice(0, 0),
    (slice(None), 2), (slice(None), slice(None), -1), (1, slice(None, None, -1), slice(1, 4, 2)),
    None, (None, 1), (slice(None), None, 0), (0, None, None, slice(1, 3)),
    E, (E, 0), (0, E), (E, None), (1, E, 2), (E, slice(None, None, -1)), (None, E, None),
    (slice(None), slice(None)),
]


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
@pytest.mark.parametrize("index", BASIC_INDICES, ids=repr)
def test_basic_index_matches_numpy(index, static):
    check_index_matches_numpy(index, static)


def check_index_matches_numpy(index, static):
    """``x[index]`` has NumPy's static shape (when ``x``'s is known) and values, in every mode."""
    x = T.tensor("float64", X3.shape if static else (None, None, None), name="x")
    out = x[index]
    expected = X3[index]
    if static:
        assert out.type.shape == expected.shape
    check([x], out, [X3], expected)


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64", "bool"])
def test_indexing_keeps_the_dtype(dtype):
    value = (RNG.standard_normal((4, 5)) * 10).astype(dtype)
    x = T.matrix("x", dtype=dtype)
    check([x], x[1:, ::-1], [value], value[1:, ::-1])
    check([x], x[[0, 2, 2]], [value], value[[0, 2, 2]])
    check([x], x[-1, 3], [value], value[-1, 3])


def test_scalar_result_is_a_zero_d_array():
    v = T.vector("v")
    value = np.array([1.5, 2.5, 3.5])
    check([v], v[1], [value], np.array(2.5))
    check([v], v[-1], [value], np.array(3.5))


def test_index_by_numpy_integer_and_integer_constant():
    x = T.matrix("x")
    check([x], x[np.int64(2)], [M], M[2])
    check([x], x[np.int32(-1), np.int8(1)], [M], M[-1, 1])
    check([x], x[T.constant(3)], [M], M[3])
    check([x], x[np.array(2)], [M], M[np.array(2)])


# --------------------------------------------------------------------------- symbolic integers and slices

@pytest.mark.parametrize("make_scalar", [T.iscalar, T.lscalar], ids=["int32", "int64"])
@pytest.mark.parametrize("k", [0, 2, -1, -3])
def test_symbolic_integer_index(make_scalar, k):
    x, n = T.matrix("x"), make_scalar("n")
    check([x, n], x[n], [M, k], M[k])
    check([x, n], x[:, n], [M, k], M[:, k])
    check([x, n], x[1, n], [M, k], M[1, k])


@pytest.mark.parametrize("n_value", [0, 1, 3, 4, 7, -2])
def test_symbolic_slice_bounds(n_value):
    x, n = T.matrix("x"), T.iscalar("n")
    check([x, n], x[n:], [M, n_value], M[n_value:])
    check([x, n], x[:n], [M, n_value], M[:n_value])
    check([x, n], x[1:n], [M, n_value], M[1:n_value])
    check([x, n], x[:, -n:], [M, n_value], M[:, -n_value:])
    check([x, n], x[n:0:-1], [M, n_value], M[n_value:0:-1])
    check([x, n], x[n::-1], [M, n_value], M[n_value::-1])
    check([x, n], x[::-1][:n], [M, n_value], M[::-1][:n_value])


@pytest.mark.parametrize("step_value", [1, 2, -1, -3])
def test_symbolic_step(step_value):
    v, s = T.vector("v"), T.lscalar("s")
    value = np.arange(10.0)
    check([v, s], v[::s], [value, step_value], value[::step_value])
    check([v, s], v[8:1:s], [value, step_value], value[8:1:step_value])


def test_slice_step_minus_one_on_static_length():
    v = T.tensor("float64", (6,), name="v")
    assert v[::-1].type.shape == (6,)
    assert v[4:0:-1].type.shape == (4,)
    assert v[-1:-7:-2].type.shape == (3,)
    n = T.iscalar("n")
    assert v[n:0:-1].type.shape == (None,)
    check([v, n], v[n:0:-1], [np.arange(6.0), 5], np.arange(6.0)[5:0:-1])


def test_symbolic_index_out_of_range_at_runtime_raises():
    x, n = T.matrix("x"), T.iscalar("n")
    for mode in MODES:
        f = symrnn.function([x, n], x[n], mode=mode)
        with pytest.raises(IndexError):
            f(M, 4)
        with pytest.raises(IndexError):
            f(M, -5)
    f = symrnn.function([x, n], x[n])
    with pytest.raises(IndexError) as excinfo:
        f(M, 4)
    assert_error_names(excinfo, "getitem")


def test_runtime_index_error_in_reference_mode_names_the_node_and_line():
    x, n = T.matrix("x"), T.iscalar("n")
    f = symrnn.function([x, n], x[n], mode="reference")
    with pytest.raises(IndexError) as excinfo:
        f(M, 4)
    assert_error_names(excinfo, "getitem")


# --------------------------------------------------------------------------- gather by integer arrays

@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
@pytest.mark.parametrize("index", [
    np.array([0, 2, 2, -1]),
    np.array([[0, -1], [1, 1], [2, -3]]),
    (slice(None), np.array([3, 0, -1])),
    (slice(None), np.array([[1, -1], [0, 0]])),
    (slice(None), slice(None), np.array([4, -5, 0])),
    (E, np.array([[0], [-1]])),
    (1, np.array([0, 3])),                       # int + array, adjacent
    (np.array([0, 2]), slice(None), 1),          # array, slice, int: not adjacent -> broadcast dims first
    (np.array([0, 2]), slice(1, 3), np.array([4, -1])),   # non-adjacent arrays
    (slice(None), np.array([0, 3]), np.array([[1], [4]])),   # adjacent arrays that broadcast
    (np.array([[0, 1]]), np.array([[2], [3]]), 1),            # three adjacent advanced indices
    (np.array([1, 0]), None, np.array([2, 2])),                # None between arrays breaks adjacency
    (None, np.array([1, 0]), np.array([2, 2])),
    (slice(None, None, -1), np.array([1, 0]), slice(None, None, 2)),
], ids=lambda i: repr(i).replace("\n", ""))
def test_gather_matches_numpy(index, static):
    check_index_matches_numpy(index, static)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gather_by_symbolic_index_vector_and_matrix_on_each_axis(axis):
    x, iv, im = T.tensor3("x"), T.ivector("iv"), T.imatrix("im")
    size = X3.shape[axis]
    vec = np.array([size - 1, 0, -1, 1, 1], dtype="int32")
    mat = np.array([[0, -1, 1], [-1, -1, 0]], dtype="int32")
    lead = (slice(None),) * axis
    check([x, iv], x[lead + (iv,)], [X3, vec], X3[lead + (vec,)])
    check([x, im], x[lead + (im,)], [X3, mat], X3[lead + (mat,)])


def test_gather_with_python_list():
    x = T.matrix("x")
    check([x], x[[3, -1, 0]], [M], M[[3, -1, 0]])
    check([x], x[:, [[1, 2], [-1, 0]]], [M], M[:, [[1, 2], [-1, 0]]])
    check([x], x[[0, 1], [4, 4]], [M], M[[0, 1], [4, 4]])


def test_gather_with_a_list_of_symbolic_scalars_a_nested_tuple_and_an_empty_list():
    x, i, j = T.matrix("x"), T.iscalar("i"), T.lscalar("j")
    check([x, i, j], x[[i, j, i]], [M, 3, -1], M[[3, -1, 3]])
    check([x], x[(0, 2, 2),], [M], M[(0, 2, 2),])
    check([x], x[:, []], [M], M[:, np.array([], dtype="int64")])


def test_negative_log_likelihood_pattern():
    probs, y = T.matrix("probs"), T.ivector("y")
    picked = probs[T.arange(y.shape[0]), y]
    y_value = np.array([4, 0, 2, 4], dtype="int32")
    check([probs, y], picked, [M, y_value], M[np.arange(4), y_value])
    nll = -T.mean(T.log(probs[T.arange(y.shape[0]), y]))
    p_value = np.abs(M) + 0.1
    for mode in MODES:
        got = symrnn.function([probs, y], nll, mode=mode)(p_value, y_value)
        np.testing.assert_allclose(got, -np.mean(np.log(p_value[np.arange(4), y_value])), rtol=1e-12)


def test_non_adjacent_advanced_indices_put_broadcast_dims_first():
    x, a, b = T.tensor3("x"), T.lvector("a"), T.lmatrix("b")
    a_value = np.array([0, 2, 1])
    b_value = np.array([[4], [0]])
    out = x[a, :, b]
    assert out.ndim == 3
    expected = X3[a_value, :, b_value]
    assert expected.shape == (2, 3, 4)
    check([x, a, b], out, [X3, a_value, b_value], expected)
    check([x, a], x[a, 1:3, 0], [X3, a_value], X3[a_value, 1:3, 0])


def test_advanced_index_with_symbolic_scalar():
    x, n, a = T.tensor3("x"), T.iscalar("n"), T.ivector("a")
    a_value = np.array([1, -1], dtype="int32")
    check([x, n, a], x[n, :, a], [X3, 2, a_value], X3[2, :, a_value])
    check([x, n, a], x[:, n, a], [X3, -1, a_value], X3[:, -1, a_value])


def test_gather_with_constant_index_past_static_length_is_an_error():
    x = T.tensor("float64", (4, 5), name="x")
    with pytest.raises(GraphShapeError) as excinfo:
        x[[0, 4]]
    assert_error_names(excinfo, "getitem", "4", "static size 4")
    with pytest.raises(GraphShapeError) as excinfo:
        x[:, [-6]]
    assert_error_names(excinfo, "getitem", "-6", "static size 5")


def test_advanced_indices_that_cannot_broadcast_are_an_error():
    x = T.matrix("x")
    with pytest.raises(GraphShapeError) as excinfo:
        x[T.constant(np.array([0, 1])), T.constant(np.array([0, 1, 2]))]
    assert_error_names(excinfo, "getitem", "broadcast")


# --------------------------------------------------------------------------- shapes

def test_shape_entries_are_constants_where_static():
    x = T.tensor("float64", (3, 7), name="x")
    for i, size in [(0, 3), (1, 7), (-1, 7), (-2, 3)]:
        dim = x.shape[i]
        assert isinstance(dim, Constant), dim
        assert dim.dtype == "int64" and dim.ndim == 0
        assert int(dim.data) == size
    partial = T.tensor("float64", (None, 5), name="p")
    assert isinstance(partial.shape[-1], Constant) and int(partial.shape[-1].data) == 5
    assert not isinstance(partial.shape[0], Constant)


def test_dynamic_shape_entries():
    x = T.tensor3("x")
    for i in [0, 1, 2, -1, -3]:
        check([x], x.shape[i], [X3], np.array(X3.shape[i], dtype="int64"))
    check([x], x.shape[1:], [X3], np.array(X3.shape[1:], dtype="int64"))
    check([x], x.shape[::-1], [X3], np.array(X3.shape[::-1], dtype="int64"))
    n = T.iscalar("n")
    check([x, n], x.shape[n], [X3, 2], np.array(5, dtype="int64"))


def test_shape_index_past_ndim_is_an_error():
    x = T.matrix("x")
    with pytest.raises(GraphShapeError) as excinfo:
        x.shape[2]
    assert_error_names(excinfo, "2")


def test_shape_used_in_further_indexing():
    x = T.matrix("x")
    check([x], x[x.shape[0] - 1], [M], M[-1])
    check([x], x[: x.shape[1] // 2], [M], M[: M.shape[1] // 2])


# --------------------------------------------------------------------------- static errors

def test_index_past_static_length_names_op_sizes_and_line():
    x = T.tensor("float64", (3,), name="x")
    with pytest.raises(GraphShapeError) as excinfo:
        x[5]
    assert_error_names(excinfo, "getitem", "5", "3", "out of bounds")
    with pytest.raises(GraphShapeError) as excinfo:
        x[-4]
    assert_error_names(excinfo, "getitem", "-4", "3")
    y = T.tensor("float64", (None, 2), name="y")
    with pytest.raises(GraphShapeError) as excinfo:
        y[0, 2]
    assert_error_names(excinfo, "getitem", "axis 1", "2")
    y[100, 1]  # an unknown static length is checked at run time only


def test_too_many_indices():
    x = T.matrix("x")
    with pytest.raises(GraphShapeError) as excinfo:
        x[1, 2, 3]
    assert_error_names(excinfo, "getitem", "too many indices")
    with pytest.raises(GraphShapeError):
        x[0, :, None, 1]
    with pytest.raises(GraphShapeError):
        T.scalar("s")[0]


def test_two_ellipses_are_an_error():
    x = T.tensor3("x")
    with pytest.raises(GraphTypeError) as excinfo:
        x[..., 0, ...]
    assert_error_names(excinfo, "getitem", "ellipsis")


def test_slice_step_zero_is_an_error():
    x = T.vector("x")
    with pytest.raises(GraphShapeError) as excinfo:
        x[::0]
    assert_error_names(excinfo, "getitem", "zero")


@pytest.mark.parametrize("make_mask", [
    lambda x: x > 0,
    lambda x: T.constant(np.array([True, False, True, True])),
    lambda x: np.array([True, False, True, True]),
    lambda x: [True, False, True, True],
], ids=["symbolic", "constant", "numpy", "list"])
def test_boolean_mask_gives_a_clear_error(make_mask):
    x = T.vector("x")
    with pytest.raises(GraphTypeError) as excinfo:
        x[make_mask(x)]
    assert_error_names(excinfo, "getitem", "boolean")


def test_python_bool_index_is_an_error():
    x = T.vector("x")
    with pytest.raises(GraphTypeError) as excinfo:
        x[True]
    assert_error_names(excinfo, "getitem", "boolean")


@pytest.mark.parametrize("make_index", [
    lambda: 1.5,
    lambda: T.scalar("f"),
    lambda: T.vector("fv"),
    lambda: np.array([0.0, 1.0]),
    lambda: slice(T.scalar("f"), None),
    lambda: "a",
], ids=["float", "float-scalar", "float-vector", "float-array", "float-slice-bound", "string"])
def test_non_integer_index_is_an_error(make_index):
    x = T.vector("x")
    index = make_index()
    with pytest.raises(GraphTypeError) as excinfo:
        x[index]
    assert_error_names(excinfo, "getitem")


# --------------------------------------------------------------------------- no aliasing of the user's input

VIEW_INDICES = [
    lambda x, n: x[1:],
    lambda x, n: x[::-1],
    lambda x, n: x[None],
    lambda x, n: x[...],
    lambda x, n: x[:],
    lambda x, n: x[:, :],
    lambda x, n: x[1],
    lambda x, n: x[:, 0],
    lambda x, n: x[n],
    lambda x, n: x[n:],
    lambda x, n: x[1:][::-1][0],
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make", VIEW_INDICES, ids=[f"view{i}" for i in range(len(VIEW_INDICES))])
def test_output_view_does_not_alias_the_input(make, mode):
    x, n = T.matrix("x"), T.iscalar("n")
    f = symrnn.function([x, n], make(x, n), mode=mode, on_unused_input="ignore")
    value = M.copy()
    out = f(value, 2)
    assert not np.shares_memory(out, value)
    out[...] = 123.0
    np.testing.assert_array_equal(value, M)
    again = f(value, 2)  # a second call still sees the untouched input
    np.testing.assert_array_equal(again, make(M, 2))


@pytest.mark.parametrize("mode", MODES)
def test_output_view_of_shared_variable_does_not_alias_it(mode):
    s = symrnn.shared(M.copy(), name="s")
    f = symrnn.function([], s[1:], mode=mode)
    out = f()
    out[...] = 0.0
    np.testing.assert_array_equal(s.get_value(), M)


@pytest.mark.parametrize("mode", MODES)
def test_view_of_a_constant_is_writable_and_independent(mode):
    c = T.constant(M)
    f = symrnn.function([], c[1:], mode=mode)
    out = f()
    out[...] = 0.0
    np.testing.assert_array_equal(f(), M[1:])


@pytest.mark.parametrize("mode", MODES)
def test_set_and_inc_subtensor_do_not_modify_their_input(mode):
    x, i = T.matrix("x"), T.ivector("i")
    value = M.copy()
    outs = [T.set_subtensor(x[1:3], 0.0), T.inc_subtensor(x[1:3], 1.0),
            T.set_subtensor(x[i], 5.0), T.inc_subtensor(x[i], 2.0)]
    f = symrnn.function([x, i], outs, mode=mode)
    results = f(value, np.array([0, 0], dtype="int32"))
    np.testing.assert_array_equal(value, M)
    for r in results:
        assert not np.shares_memory(r, value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make", [lambda x: x.T[1:], lambda x: x[1:].T, lambda x: x.dimshuffle("x", 0, 1)[0, ::2],
                                  lambda x: x.reshape((2, 10))[1], lambda x: x.flatten()[3:]],
                         ids=["transpose-then-index", "index-then-transpose", "dimshuffle", "reshape", "flatten"])
def test_output_view_through_shape_ops_does_not_alias_the_input(make, mode):
    x = T.matrix("x")
    f = symrnn.function([x], make(x), mode=mode)
    value = M.copy()
    out = f(value)
    out[...] = 7.0
    np.testing.assert_array_equal(value, M)


# --------------------------------------------------------------------------- generated source

def test_generated_source_is_plain_numpy_indexing():
    x, n, i = T.matrix("x"), T.iscalar("n"), T.ivector("i")
    f = symrnn.function([x, n, i], [x[1:, ::-1], x[n:0:-1], x[i, n], x[None, ..., 0]])
    assert "perform" not in f.source
    assert "in0[1:, ::-1]" in f.source
    assert "in0[in1:0:-1]" in f.source
    assert "in0[in2, in1]" in f.source
    assert "in0[None, :, 0]" in f.source


def test_runtime_value_check_is_emitted_only_where_sizes_are_unknown():
    x, y = T.tensor("float64", (4, 5), name="x"), T.tensor("float64", (2, 5), name="y")
    known = symrnn.function([x, y], T.set_subtensor(x[1:3], y))
    assert "check_fits" not in known.source
    xd, yd = T.matrix("xd"), T.matrix("yd")
    unknown = symrnn.function([xd, yd], T.set_subtensor(xd[1:3], yd))
    assert "check_fits" in unknown.source


def test_subtensor_op_checks_its_index_inputs():
    from symrnn.ops.indexing import IncSubtensor, Subtensor

    x, n, v = T.matrix("x"), T.iscalar("n"), T.ivector("v")
    spec = (("int", "?"),)
    with pytest.raises(GraphTypeError) as excinfo:
        Subtensor(spec)(x)
    assert_error_names(excinfo, "getitem", "1 symbolic index input")
    with pytest.raises(GraphTypeError) as excinfo:
        Subtensor(spec)(x, v)
    assert_error_names(excinfo, "getitem", "integer scalar")
    with pytest.raises(GraphTypeError) as excinfo:
        IncSubtensor((("array",),), "inc")(x, 1.0, n)
    assert_error_names(excinfo, "inc_subtensor", "integer array")
    assert Subtensor(spec)(x, n).type == x[n].type


def test_generated_source_of_set_and_inc_subtensor():
    x, i = T.matrix("x"), T.ivector("i")
    f = symrnn.function([x, i], [T.set_subtensor(x[1:3], 0.0), T.inc_subtensor(x[i], 1.0),
                                 T.inc_subtensor(x[:, 1], 1.0)])
    assert "perform" not in f.source
    assert "[1:3] = " in f.source
    assert "add.at(" in f.source
    assert "[:, 1] += " in f.source


# --------------------------------------------------------------------------- set_subtensor / inc_subtensor

def _numpy_set(x, index, y):
    out = x.copy()
    out[index] = y
    return out


def _numpy_inc(x, index, y):
    out = x.copy()
    np.add.at(out, index, y)
    return out


SET_INC_CASES = [
    (slice(1, 3), 0.0),
    (slice(1, 3), np.arange(5.0)),                  # broadcasts over the region's rows
    (slice(1, 3), np.array([[1.0], [2.0]])),        # broadcasts over columns
    (slice(None, None, -1), RNG.standard_normal((4, 5))),
    (2, np.arange(5.0)),
    (-1, 7.0),
    ((slice(None), 0), np.arange(4.0)),
    ((slice(None), slice(4, 0, -2)), RNG.standard_normal((4, 2))),
    ((1, 2), 3.5),
    ((None, 1), np.ones((1, 5))),
    ((E, -1), np.arange(4.0)),
    (np.array([0, 2]), RNG.standard_normal((2, 5))),
    (np.array([3, 3, 0, 3]), 1.0),                  # repeated indices accumulate under inc
    (np.array([3, 3, 0, 3]), RNG.standard_normal((4, 5))),
    (np.array([[1, -1], [1, 0]]), 2.0),
    ((slice(None), np.array([1, 1, -1])), RNG.standard_normal((4, 3))),
    ((np.array([0, 0, 1]), np.array([2, 2, -1])), np.array([1.0, 10.0, 100.0])),
    ((np.arange(4), np.array([4, 0, 2, 4])), 1.0),
    ((np.array([2, 2]), slice(1, 3)), np.ones((2, 2))),
]


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
@pytest.mark.parametrize("case", SET_INC_CASES, ids=lambda c: repr(c[0]).replace("\n", ""))
def test_set_and_inc_subtensor_match_numpy(case, static):
    index, y_value = case
    x = T.tensor("float64", M.shape if static else (None, None), name="x")
    y_value = np.asarray(y_value, dtype="float64")
    # Only dimensions that are statically 1 broadcast, so a dynamic value still declares its unit dimensions.
    y = T.tensor("float64", y_value.shape if static else tuple(1 if d == 1 else None for d in y_value.shape),
                 name="y")
    set_out = T.set_subtensor(x[index], y)
    inc_out = T.inc_subtensor(x[index], y)
    assert set_out.type == x.type and inc_out.type == x.type
    check([x, y], set_out, [M, y_value], _numpy_set(M, index, y_value))
    check([x, y], inc_out, [M, y_value], _numpy_inc(M, index, y_value))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make", [T.set_subtensor, T.inc_subtensor])
@pytest.mark.parametrize("index, y_value", [
    (slice(1, 3), np.ones((2, 1))),          # an unknown size that is 1 at run time does not broadcast
    (slice(1, 3), np.ones((3, 5))),          # a value bigger than the region
    (np.array([0, 0, 1]), np.ones((2, 5))),
    ((slice(None), np.array([1, 2])), np.ones((4, 1))),
], ids=["unit-basic", "bigger-basic", "advanced", "unit-advanced"])
def test_value_that_does_not_fit_the_region_at_run_time(make, index, y_value, mode):
    x, y = T.matrix("x"), T.matrix("y")
    f = symrnn.function([x, y], make(x[index], y), mode=mode)
    with pytest.raises(ValueError) as excinfo:
        f(M, y_value)
    message = str(excinfo.value)
    assert "subtensor" in message and str(y_value.shape) in message and THIS_FILE in message, message
    assert f(M, np.ones(M[index].shape)).shape == M.shape  # a value of the region's own shape is fine


def test_inc_subtensor_accumulates_repeated_symbolic_indices():
    v, i = T.vector("v"), T.ivector("i")
    idx = np.array([0, 0, 0, 2, -1, 4], dtype="int32")
    expected = np.zeros(5)
    for k in idx:
        expected[k] += 1.0
    assert expected[0] == 3.0 and expected[4] == 2.0
    check([v, i], T.inc_subtensor(v[i], 1.0), [np.zeros(5), idx], expected)


def test_set_subtensor_with_python_values_and_symbolic_bounds():
    x, n = T.matrix("x"), T.iscalar("n")
    check([x], T.set_subtensor(x[1:3], 0), [M], _numpy_set(M, slice(1, 3), 0.0))
    check([x, n], T.set_subtensor(x[n:0:-1], -1.0), [M, 2], _numpy_set(M, slice(2, 0, -1), -1.0))
    check([x, n], T.inc_subtensor(x[:, n], 10), [M, -2], _numpy_inc(M, (slice(None), -2), 10.0))


def test_theano_keyword_arguments():
    x, i = T.vector("x"), T.ivector("i")
    value, idx = np.arange(4.0), np.array([1, 1], dtype="int32")
    check([x, i], T.inc_subtensor(x[i], 5.0, set_instead_of_inc=True), [value, idx], _numpy_set(value, idx, 5.0))
    check([x, i], T.inc_subtensor(x[i], 5.0, inplace=True), [value, idx], _numpy_inc(value, idx, 5.0))
    check([x], T.set_subtensor(x[1:], 2.0, inplace=True), [value], _numpy_set(value, slice(1, None), 2.0))


def test_set_subtensor_on_full_slice():
    x = T.matrix("x")
    check([x], T.set_subtensor(x[:], 2.0), [M], np.full_like(M, 2.0))
    check([x], T.inc_subtensor(x[...], 1.0), [M], M + 1.0)


def test_set_subtensor_of_the_nll_pattern():
    x, y = T.matrix("x"), T.ivector("y")
    y_value = np.array([1, 1, 0, 4], dtype="int32")
    out = T.inc_subtensor(x[T.arange(x.shape[0]), y], -1.0)
    expected = M.copy()
    expected[np.arange(4), y_value] -= 1.0
    check([x, y], out, [M, y_value], expected)


@pytest.mark.parametrize("dtype", ["float32", "int32", "int64"])
def test_set_and_inc_subtensor_keep_the_dtype(dtype):
    value = (np.arange(20) % 7).reshape(4, 5).astype(dtype)
    x = T.matrix("x", dtype=dtype)
    check([x], T.set_subtensor(x[1:3], 2), [value], _numpy_set(value, slice(1, 3), 2))
    check([x], T.inc_subtensor(x[[0, 0]], 3), [value], _numpy_inc(value, [0, 0], np.array(3, dtype)))


def test_set_and_inc_on_a_0d_result_of_earlier_indexing():
    v = T.vector("v")
    element = v[1]
    assert element.ndim == 0
    check([v], T.set_subtensor(element[None], 5.0), [np.arange(3.0)], np.array(5.0))
    check([v], T.inc_subtensor(element[None], 5.0), [np.arange(3.0)], np.array(6.0))


def test_set_subtensor_needs_an_indexing_result():
    x = T.matrix("x")
    with pytest.raises(GraphTypeError) as excinfo:
        T.set_subtensor(x + 1, 0.0)
    assert_error_names(excinfo, "set_subtensor", "result of indexing")
    with pytest.raises(GraphTypeError) as excinfo:
        T.inc_subtensor(x, 0.0)
    assert_error_names(excinfo, "inc_subtensor", "result of indexing")
    with pytest.raises(GraphTypeError) as excinfo:
        T.set_subtensor(M, 0.0)
    assert_error_names(excinfo, "set_subtensor")


def test_set_subtensor_value_of_wrong_static_shape():
    x = T.tensor("float64", (4, 5), name="x")
    with pytest.raises(GraphShapeError) as excinfo:
        T.set_subtensor(x[1:3], T.tensor("float64", (3,), name="y"))
    assert_error_names(excinfo, "set_subtensor", "(3,)")
    with pytest.raises(GraphShapeError) as excinfo:
        T.inc_subtensor(x[1:3], T.tensor("float64", (3, 5), name="y"))
    assert_error_names(excinfo, "inc_subtensor")
    with pytest.raises(GraphShapeError) as excinfo:
        T.set_subtensor(x[1], T.matrix("y"))
    assert_error_names(excinfo, "set_subtensor", "dimensions")


def test_set_subtensor_value_too_big_for_a_partly_known_region():
    x = T.tensor("float64", (None, 1), name="x")
    with pytest.raises(GraphShapeError) as excinfo:
        T.set_subtensor(x[1:3], T.tensor("float64", (2, 3), name="y"))
    assert_error_names(excinfo, "set_subtensor")


def test_set_subtensor_refuses_a_lossy_dtype():
    x = T.imatrix("x")
    with pytest.raises(GraphTypeError) as excinfo:
        T.set_subtensor(x[0], T.vector("y"))
    assert_error_names(excinfo, "set_subtensor", "int32")
    with pytest.raises(GraphTypeError):
        T.inc_subtensor(x[0], 0.5)


# --------------------------------------------------------------------------- hypothesis: random slices and indices

bound = st.one_of(st.none(), st.integers(-10, 10))
step_st = st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0))


@settings(max_examples=30, deadline=None)
@given(length=st.integers(0, 8), start=bound, stop=bound, step=step_st, symbolic=st.booleans(),
       static=st.booleans())
def test_random_slices_match_numpy(length, start, stop, step, symbolic, static):
    value = np.arange(length, dtype="float64") * 1.5
    x = T.tensor("float64", (length,) if static else (None,), name="x")
    inputs, values, parts = [x], [value], []
    for k, part in enumerate((start, stop, step)):
        if part is not None and symbolic:
            var = T.lscalar(f"p{k}")
            inputs.append(var)
            values.append(part)
            parts.append(var)
        else:
            parts.append(part)
    out = x[slice(*parts)]
    expected = value[start:stop:step]
    if static and not symbolic:
        assert out.type.shape == expected.shape
    check(inputs, out, values, expected)


index_item = st.one_of(
    st.integers(-3, 2),
    st.builds(slice, bound, bound, step_st),
    st.just(None),
    st.lists(st.integers(-3, 2), min_size=1, max_size=3).map(np.array),
)


@settings(max_examples=30, deadline=None)
@given(items=st.lists(index_item, min_size=0, max_size=3), ellipsis_at=st.one_of(st.none(), st.integers(0, 3)),
       static=st.booleans())
def test_random_mixed_indices_match_numpy(items, ellipsis_at, static):
    if ellipsis_at is not None:
        items.insert(min(ellipsis_at, len(items)), Ellipsis)
    index = tuple(items)
    try:
        expected = X3[index]
    except IndexError:
        return  # an index NumPy itself rejects (e.g. arrays that do not broadcast)
    x = T.tensor("float64", X3.shape if static else (None, None, None), name="x")
    try:
        out = x[index]
    except GraphShapeError as exc:  # the one index refused on purpose: '...' for no axis between arrays
        assert "stands for no axis" in str(exc)
        at = next(k for k, i in enumerate(index) if i is Ellipsis)
        assert sum(1 for i in index if i is not None and i is not Ellipsis) == 3
        assert any(isinstance(i, np.ndarray) for i in index[:at] + index[at + 1:])
        return
    if static:
        assert out.type.shape == expected.shape
    check([x], out, [X3], expected)


set_index_item = st.one_of(
    st.integers(-3, 2),
    st.builds(slice, bound, bound, step_st),
    st.just(None),
    st.lists(st.integers(-3, 2), min_size=1, max_size=4).map(np.array),   # repeats are likely
)


@settings(max_examples=30, deadline=None)
@given(items=st.lists(set_index_item, min_size=1, max_size=3), broadcast=st.booleans(), static=st.booleans())
def test_random_set_and_inc_subtensor_match_numpy(items, broadcast, static):
    index = tuple(items)
    try:
        region_shape = X3[index].shape
    except IndexError:
        return
    rng = np.random.default_rng(len(region_shape))
    y_shape = region_shape[1:] if broadcast and region_shape else region_shape  # a value broadcast over axis 0
    y_value = rng.standard_normal(y_shape)
    x = T.tensor("float64", X3.shape if static else (None, None, None), name="x")
    y = T.tensor("float64", y_shape if static else (None,) * len(y_shape), name="y")
    check([x, y], T.set_subtensor(x[index], y), [X3, y_value], _numpy_set(X3, index, y_value))
    check([x, y], T.inc_subtensor(x[index], y), [X3, y_value], _numpy_inc(X3, index, y_value))


# --------------------------------------------------------------------------- gradients

GRAD_POINT = RNG.standard_normal((4, 5))
GRAD_INDEX_FNS = [
    lambda x: x[1:3],
    lambda x: x[::-1],
    lambda x: x[3:0:-2, 1],
    lambda x: x[:, -1],
    lambda x: x[None, 2, ..., None],
    lambda x: x[-1, -1],
    lambda x: x[[0, 0, 3, 0]],                        # repeated rows accumulate
    lambda x: x[[[0, -1], [1, 1]]],
    lambda x: x[:, [4, 4, 0]],
    lambda x: x[[1, 1, 2], [0, 0, -1]],
    lambda x: x[T.arange(4), T.constant(np.array([1, 1, 0, 4]))],
    lambda x: x[[1, 3], 1:4],
    lambda x: x[x.shape[0] - 1],
]


@pytest.mark.parametrize("fn", GRAD_INDEX_FNS, ids=[f"index{i}" for i in range(len(GRAD_INDEX_FNS))])
def test_verify_grad_through_indexing(fn):
    symrnn.verify_grad(fn, [GRAD_POINT])


def test_grad_of_repeated_gather_counts_each_use():
    x = T.vector("x")
    g = symrnn.grad(x[[0, 0, 2, 0]].sum(), x)
    for mode in MODES:
        np.testing.assert_array_equal(symrnn.function([x], g, mode=mode)(np.zeros(4)), [3.0, 0.0, 1.0, 0.0])


def test_grad_through_symbolic_index():
    x, n = T.matrix("x"), T.iscalar("n")
    g = symrnn.grad((x[n] * 2.0).sum() + x[n:0:-1].sum(), x)
    expected = np.zeros((4, 5))
    expected[3] += 2.0
    expected[3:0:-1] += 1.0
    for mode in MODES:
        np.testing.assert_array_equal(symrnn.function([x, n], g, mode=mode)(M, 3), expected)


SET_INC_GRAD_CASES = [
    ("set", lambda x: x[1:3], (2, 5)),
    ("inc", lambda x: x[1:3], (2, 5)),
    ("set", lambda x: x[1:3], (5,)),                  # the value broadcasts over rows
    ("inc", lambda x: x[::-1, 2], ()),                # a scalar value broadcasts
    ("set", lambda x: x[:, 0], (4,)),
    ("set", lambda x: x[[0, 2]], (2, 5)),
    ("inc", lambda x: x[[3, 3, 0, 3]], (4, 5)),       # repeated indices accumulate
    ("inc", lambda x: x[[3, 3, 0, 3]], (5,)),
    ("inc", lambda x: x[[1, 1], [2, 2]], (2,)),
    ("set", lambda x: x[:, [1, -1]], (4, 2)),
    ("inc", lambda x: x[None, 1], (1, 5)),
]


@pytest.mark.parametrize("case", SET_INC_GRAD_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(SET_INC_GRAD_CASES)])
def test_verify_grad_through_set_and_inc_subtensor(case):
    mode, region, y_shape = case
    make = T.set_subtensor if mode == "set" else T.inc_subtensor
    y_point = RNG.standard_normal(y_shape)
    # The output is squared so the gradient with respect to x depends on x, not just on the projection.
    symrnn.verify_grad(lambda x, y: make(region(x), y) ** 2, [GRAD_POINT, y_point])


def test_verify_grad_with_a_value_broadcast_along_a_known_unit_axis():
    symrnn.verify_grad(lambda x, y: T.inc_subtensor(x[1:3], y.dimshuffle("x", 0)) ** 2,
                       [GRAD_POINT, RNG.standard_normal(5)])
    symrnn.verify_grad(lambda x, y: T.set_subtensor(x[:, 1:4], y.dimshuffle(0, "x")) ** 2,
                       [GRAD_POINT, RNG.standard_normal(4)])


def test_set_subtensor_gradient_blocks_the_overwritten_region():
    x, y = T.matrix("x"), T.vector("y")
    out = T.set_subtensor(x[1:3], y).sum()
    gx, gy = symrnn.grad(out, [x, y])
    expected_gx = np.ones((4, 5))
    expected_gx[1:3] = 0.0
    for mode in MODES:
        got_gx, got_gy = symrnn.function([x, y], [gx, gy], mode=mode)(M, np.zeros(5))
        np.testing.assert_array_equal(got_gx, expected_gx)
        np.testing.assert_array_equal(got_gy, np.full(5, 2.0))


def test_an_empty_ellipsis_between_index_arrays_is_refused_not_misread():
    x = T.tensor3("x")
    with pytest.raises(GraphShapeError, match="stands for no axis"):
        x[:, 0, ..., [0]]  # NumPy gives shape (1, 3) here, not (3, 1)
    check([x], x[..., 0, [0]], [X3], X3[..., 0, [0]])  # the '...' stands for one axis: fine
    check([x], x[:, 0, ..., 1], [X3], X3[:, 0, ..., 1])  # no arrays: fine
