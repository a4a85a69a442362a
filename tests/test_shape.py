"""Shape ops: reshape, flatten, dimshuffle, transpose, concatenate, stack, split, alloc, zeros/ones(_like),
arange; static shapes, errors, aliasing of views, and gradients."""

import numpy as np
import pytest
from helpers import MODES, assert_same, assert_user_error, check, check_fn, check_grad, typed
from hypothesis import given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError

RNG = np.random.default_rng(5)
A234 = np.arange(24.0).reshape(2, 3, 4)


# --------------------------------------------------------------------------- reshape and flatten

@pytest.mark.parametrize("newshape", [(6, 4), (24,), (4, -1), (-1,), (2, 12), (1, 2, 3, 4), (-1, 3, 2), 24, [3, 8]],
                         ids=str)
def test_reshape_with_ints(newshape):
    check_fn(lambda x: T.reshape(x, newshape), [A234], A234.reshape(newshape))
    check_fn(lambda x: x.reshape(newshape), [A234], A234.reshape(newshape))


def test_reshape_method_with_separate_arguments():
    check_fn(lambda x: x.reshape(6, -1), [A234], A234.reshape(6, -1))


@pytest.mark.parametrize("build, ref", [
    (lambda x: x.reshape((x.shape[0], -1)), lambda a: a.reshape(a.shape[0], -1)),
    (lambda x: x.reshape((x.shape[0] * x.shape[1], x.shape[2])), lambda a: a.reshape(6, 4)),
    (lambda x: x.reshape((-1, x.shape[2] // 2, 2)), lambda a: a.reshape(-1, 2, 2)),
    (lambda x: T.reshape(x, x.shape), lambda a: a),
    (lambda x: T.reshape(x, x.shape[::-1]), lambda a: a.reshape(4, 3, 2)),
])
def test_reshape_with_symbolic_dims(build, ref):
    check_fn(build, [A234], ref(A234))


def test_reshape_with_scalar_inputs_and_a_shape_vector():
    x = T.dtensor3("x")
    n, m = T.iscalar("n"), T.lscalar("m")
    s = T.tensor("int64", (2,), name="s")
    check([x, n, m, s], [T.reshape(x, (n, m)), T.reshape(x, s), x.reshape((n, -1))],
          [A234, 4, 6, np.array([8, 3])], [A234.reshape(4, 6), A234.reshape(8, 3), A234.reshape(4, 6)])


@pytest.mark.parametrize("xshape, newshape, expected", [
    ((2, 3, 4), (6, -1), (6, 4)),
    ((2, 3, 4), (-1,), (24,)),
    ((None, 4), (-1, 2), (None, 2)),
    ((None, 4), (2, 3), (2, 3)),
    ((2, 3), (3, 2), (3, 2)),
])
def test_reshape_static_shapes(xshape, newshape, expected):
    assert T.reshape(T.tensor("float64", xshape), newshape).type.shape == expected


def test_reshape_keeps_static_sizes_from_static_inputs():
    x = T.tensor("float64", (None, 3, 4))
    assert x.reshape((x.shape[0], x.shape[1] * x.shape[2])).type.shape[0] is None
    assert x.reshape((x.shape[1], -1)).type.shape == (3, None)


def test_reshape_to_an_incompatible_static_size():
    x = T.tensor("float64", (3, 4), name="x")
    with pytest.raises(GraphShapeError) as info:
        x.reshape((5, 3))
    assert_user_error(info, "Reshape", "(3, 4)", "(5, 3)")
    with pytest.raises(GraphShapeError) as info:
        T.reshape(x, (5, -1))
    assert_user_error(info, "Reshape", "(3, 4)")


@pytest.mark.parametrize("newshape, words", [((-1, -1), ["-1"]), ((2, -3), ["-3"])])
def test_reshape_invalid_targets(newshape, words):
    with pytest.raises(GraphShapeError) as info:
        T.dmatrix("x").reshape(newshape)
    assert_user_error(info, "Reshape", *words)


def test_reshape_rejects_float_dims():
    with pytest.raises(GraphTypeError) as info:
        T.dmatrix("x").reshape((T.dscalar("n"), 2))
    assert_user_error(info, "reshape", "integer")


@pytest.mark.parametrize("mode", MODES)
def test_reshape_runtime_size_mismatch(mode):
    x = T.dmatrix("x")
    f = symrnn.function([x], x.reshape((5, -1)), mode=mode)
    with pytest.raises(ValueError):
        f(np.ones((3, 4)))


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_flatten(ndim):
    ref = A234.reshape(A234.shape[:ndim - 1] + (-1,))
    check_fn(lambda x: T.flatten(x, ndim), [A234], ref)
    check_fn(lambda x: x.flatten(ndim), [A234], ref)
    check_fn(lambda x: T.flatten(x, outdim=ndim), [A234], ref)


def test_flatten_default_and_static_shape():
    x = T.tensor("float64", (2, 3, None))
    assert x.flatten(2).type.shape == (2, None)
    assert T.tensor("float64", (2, 3, 4)).flatten().type.shape == (24,)
    check_fn(lambda v: v.flatten(), [A234], A234.ravel())


def test_flatten_to_too_many_dims():
    with pytest.raises(GraphShapeError) as info:
        T.dmatrix("x").flatten(3)
    assert_user_error(info, "flatten")


# --------------------------------------------------------------------------- dimshuffle and transpose

@pytest.mark.parametrize("xshape, value_shape, pattern", [
    ((None,), (3,), ("x", 0)),
    ((None,), (3,), (0, "x")),
    ((None, None), (2, 3), (1, 0)),
    ((None, None), (2, 3), (0, "x", 1)),
    ((None, None), (2, 3), ("x", 1, "x", 0)),
    ((None, None, None), (2, 3, 4), (2, 0, 1)),
    ((None, 1, None), (2, 1, 4), (0, 2)),
    ((None, 1, None), (2, 1, 4), (2, "x", 0)),
    ((1,), (1,), ()),
    ((), (), ("x", "x")),
], ids=str)
def test_dimshuffle(xshape, value_shape, pattern):
    a = RNG.normal(size=value_shape)
    kept = [p for p in pattern if p != "x"]
    dropped = tuple(i for i in range(a.ndim) if i not in kept)
    ref = np.squeeze(a, axis=dropped) if dropped else a
    ref = np.transpose(ref, [sorted(kept).index(p) for p in kept])
    ref = ref.reshape(tuple(1 if p == "x" else a.shape[p] for p in pattern))
    x = T.tensor("float64", xshape)
    out = x.dimshuffle(*pattern)
    assert out.type.shape == tuple(1 if p == "x" else xshape[p] for p in pattern)
    check([x], [out, x.dimshuffle(list(pattern)), T.dimshuffle(x, *pattern)], [a], [ref, ref, ref])


def test_dimshuffle_by_hand():
    x = T.dmatrix("x")
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    check([x], [x.dimshuffle(1, "x", 0)], [a], [np.array([[[1.0, 4.0]], [[2.0, 5.0]], [[3.0, 6.0]]])])


@pytest.mark.parametrize("pattern, words", [
    ((0,), ["cannot drop axis 1"]),
    ((0, 0), ["repeats"]),
    ((0, 2), ["2"]),
    (("y", 0, 1), ["'y'"]),
])
def test_dimshuffle_errors(pattern, words):
    x = T.tensor("float64", (None, 3), name="x")
    with pytest.raises(GraphShapeError) as info:
        x.dimshuffle(*pattern)
    assert_user_error(info, "dimshuffle", *words)


@pytest.mark.parametrize("build, ref", [
    (lambda x: x.T, lambda a: a.T),
    (lambda x: T.transpose(x), lambda a: np.transpose(a)),
    (lambda x: T.transpose(x, (1, 2, 0)), lambda a: np.transpose(a, (1, 2, 0))),
    (lambda x: x.transpose(1, 0, 2), lambda a: a.transpose(1, 0, 2)),
    (lambda x: x.transpose((2, 0, 1)), lambda a: a.transpose((2, 0, 1))),
    (lambda x: x.transpose(-1, 0, 1), lambda a: a.transpose(-1, 0, 1)),
    (lambda x: T.swapaxes(x, 0, 2), lambda a: np.swapaxes(a, 0, 2)),
    (lambda x: T.expand_dims(x, 1), lambda a: np.expand_dims(a, 1)),
    (lambda x: T.expand_dims(x, -1), lambda a: np.expand_dims(a, -1)),
])
def test_transpose(build, ref):
    check_fn(build, [A234], ref(A234))
    check_fn(build, [A234], ref(A234), static=True)


def test_transpose_of_vectors_and_scalars():
    check_fn(lambda x: x.T, [np.arange(3.0)], np.arange(3.0))
    check_fn(lambda x: x.T, [np.array(2.0)], np.array(2.0))


@pytest.mark.parametrize("axes", [(0, 1), (0, 5), (0, 0, 1), (-4, 0, 1)], ids=str)
def test_transpose_errors(axes):
    with pytest.raises(GraphShapeError) as info:
        T.transpose(T.dtensor3("x"), axes)
    assert_user_error(info, "transpose")


# --------------------------------------------------------------------------- aliasing: views are copied on output

@pytest.mark.parametrize("build", [
    lambda x: x.T, lambda x: x.reshape((-1,)), lambda x: x.dimshuffle(0, "x", 1), lambda x: T.split(x, [1, 1])[0],
    lambda x: x.flatten(), lambda x: x.T.reshape((3, 2)),
])
@pytest.mark.parametrize("mode", MODES)
def test_outputs_never_alias_inputs_or_shared_values(build, mode):
    a = np.arange(6.0).reshape(2, 3)
    x = T.dmatrix("x")
    out = symrnn.function([x], build(x), mode=mode)(a)
    out[...] = -1
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3))
    s = symrnn.shared(np.arange(6.0).reshape(2, 3))
    out = symrnn.function([], build(s), mode=mode)()
    out[...] = -1
    np.testing.assert_array_equal(s.get_value(), np.arange(6.0).reshape(2, 3))


def test_two_outputs_never_alias_each_other():
    x = T.dmatrix("x")
    y = x * 2
    first, second = symrnn.function([x], [y, y.T])(np.ones((2, 2)))
    first[0, 1] = 99.0
    assert second[1, 0] == 2.0


# --------------------------------------------------------------------------- concatenate, stack, split

@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_concatenate(axis):
    a, b, c = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    check_fn(lambda x, y, z: T.concatenate([x, y, z], axis=axis), [a, b, c], np.concatenate([a, b, c], axis=axis))
    check_fn(lambda x, y, z: T.join(axis, x, y, z), [a, b, c], np.concatenate([a, b, c], axis=axis))


def test_concatenating_transposed_parts_gives_a_c_ordered_array():
    # NumPy would return F order here, and a matrix product with it can take twice as long
    x, y = T.matrix("x"), T.matrix("y")
    a, b = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 4))
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        got = symrnn.function([x, y], T.concatenate([x.T, y.T], axis=0), mode=mode)(a, b)
        assert got.flags.c_contiguous, mode
        np.testing.assert_array_equal(got, np.concatenate([a.T, b.T]))


def test_concatenate_unequal_lengths_and_static_shapes():
    x, y = T.tensor("float64", (2, 3)), T.tensor("float64", (4, None))
    out = T.concatenate([x, y])
    assert out.type.shape == (6, 3)
    assert T.concatenate([x, T.dmatrix()], axis=0).type.shape == (None, 3)
    check([x, y], out, [np.ones((2, 3)), np.zeros((4, 3))], np.concatenate([np.ones((2, 3)), np.zeros((4, 3))]))


def test_concatenate_mixed_dtypes_and_constants():
    x, i = T.fvector("x"), T.ivector("i")
    a, k = np.array([1.5, 2.5], dtype="float32"), np.array([3, 4], dtype="int32")
    check([x, i], [T.concatenate([x, i]), T.concatenate([x, x]), T.concatenate([x, [7.0, 8.0]])], [a, k],
          [np.concatenate([a, k]), np.concatenate([a, a]), np.concatenate([a, np.array([7.0, 8.0])])])


def test_concatenate_mismatched_sizes():
    x, y = T.tensor("float64", (2, 3), name="x"), T.tensor("float64", (2, 4), name="y")
    with pytest.raises(GraphShapeError) as info:
        T.concatenate([x, y], axis=0)
    assert_user_error(info, "concatenate", "axis 1", "[3, 4]")


@pytest.mark.parametrize("build, words", [
    (lambda: T.concatenate([T.dmatrix(), T.dvector()]), ["concatenate", "dimensions"]),
    (lambda: T.concatenate([T.dmatrix(), T.dmatrix()], axis=2), ["concatenate", "out of range"]),
    (lambda: T.concatenate([T.dscalar(), T.dscalar()]), ["concatenate", "stack"]),
    (lambda: T.concatenate([]), ["concatenate"]),
])
def test_concatenate_errors(build, words):
    with pytest.raises((GraphShapeError, GraphTypeError)) as info:
        build()
    assert_user_error(info, *words)


@pytest.mark.parametrize("mode", MODES)
def test_concatenate_runtime_mismatch(mode):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = symrnn.function([x, y], T.concatenate([x, y]), mode=mode)
    with pytest.raises(ValueError):
        f(np.ones((2, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_stack(axis):
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    check_fn(lambda x, y: T.stack([x, y], axis=axis), [a, b], np.stack([a, b], axis=axis))


def test_stack_scalars_and_python_numbers():
    x, y = T.fscalar("x"), T.fscalar("y")
    out = T.stack([x, y, 0.5])
    assert out.dtype == "float32" and out.type.shape == (3,)
    check([x, y], [out, T.stack([x])], [np.float32(1), np.float32(2)],
          [np.array([1, 2, 0.5], dtype="float32"), np.array([1], dtype="float32")])


def test_as_tensor_variable_of_a_list_of_variables_stacks():
    x = T.dscalar("x")
    check([x], T.as_tensor_variable([x, x * 2]), [3.0], np.array([3.0, 6.0]))


@pytest.mark.parametrize("axis", [3, -4])
def test_stack_axis_out_of_range(axis):
    with pytest.raises(GraphShapeError) as info:
        T.stack([T.dmatrix(), T.dmatrix()], axis=axis)
    assert_user_error(info, "stack", "out of range")


def test_stack_of_mismatched_shapes():
    with pytest.raises(GraphShapeError) as info:
        T.stack([T.tensor("float64", (2,)), T.tensor("float64", (3,))])
    assert_user_error(info, "concatenate")
    with pytest.raises(GraphTypeError) as info:
        T.stack([T.dvector(), T.dmatrix()])
    assert_user_error(info, "stack", "dimensions")


@pytest.mark.parametrize("sizes, axis", [([2, 3], 0), ([1, 1, 3], 0), ([5], 0), ([1, 3], 1), ([4, 0], -1)], ids=str)
def test_split(sizes, axis):
    a = RNG.normal(size=(5, 4))
    x = T.dmatrix("x")
    outs = T.split(x, sizes, len(sizes), axis=axis)
    assert len(outs) == len(sizes)
    check([x], outs, [a], np.split(a, np.cumsum(sizes)[:-1], axis=axis))


def test_split_with_symbolic_sizes_and_static_shapes():
    x = T.tensor("float64", (5, 2), name="x")
    n = T.lscalar("n")
    p, q = T.split(x, [n, 5 - n])
    assert p.type.shape == (None, 2)
    a = RNG.normal(size=(5, 2))
    check([x, n], [p, q], [a, 2], [a[:2], a[2:]])
    sizes = T.lvector("sizes")
    with pytest.raises(GraphTypeError) as info:
        T.split(x, sizes)
    assert_user_error(info, "split", "static length")
    r, s = T.split(x, T.constant(np.array([1, 4])))
    assert (r.type.shape, s.type.shape) == ((1, 2), (4, 2))


@pytest.mark.parametrize("sizes, words", [([2, 2], ["[2, 2]", "5"]), ([6, -1], ["negative"])])
def test_split_sizes_must_add_up(sizes, words):
    with pytest.raises(GraphShapeError) as info:
        T.split(T.tensor("float64", (5, 2), name="x"), sizes)
    assert_user_error(info, "split", *words)


@pytest.mark.parametrize("mode", MODES)
def test_split_runtime_sizes_must_add_up(mode):
    x = T.dmatrix("x")
    f = symrnn.function([x], T.split(x, [1, 2]), mode=mode)
    with pytest.raises(ValueError, match="split"):
        f(np.ones((4, 2)))
    n = T.lscalar("n")
    g = symrnn.function([x, n], T.split(x, [n, 5 - n]), mode=mode)
    with pytest.raises(ValueError, match="split"):
        g(np.ones((5, 2)), 6)  # sizes [6, -1] add up to 5 but are not valid


def test_split_n_splits_mismatch():
    with pytest.raises(GraphTypeError) as info:
        T.split(T.dmatrix("x"), [1, 2], 3)
    assert_user_error(info, "split", "n_splits")


# --------------------------------------------------------------------------- alloc, zeros, ones

def test_alloc():
    v, n = T.dvector("v"), T.iscalar("n")
    b = np.array([1.0, 2.0, 3.0])
    check([v, n], [T.alloc(0.0, 2, 3), T.alloc(v, n, 3), T.alloc(v, 2, n, 3), T.alloc(1.5, n), T.alloc(v[0], (2, 2))],
          [b, 4],
          [np.zeros((2, 3)), np.tile(b, (4, 1)), np.broadcast_to(b, (2, 4, 3)), np.full(4, 1.5), np.full((2, 2), 1.0)])


def test_alloc_dtypes_and_static_shapes():
    assert T.alloc(np.float32(0), 2, 3).type == symrnn.tensor.TensorType("float32", (2, 3))
    assert T.alloc(T.ivector(), T.iscalar(), 4).type == symrnn.tensor.TensorType("int32", (None, 4))
    x = T.tensor("float64", (None, 3))
    assert T.alloc(1.0, x.shape).type.shape == (None, 3)
    check([x], T.alloc(np.int8(3), x.shape), [np.ones((2, 3))], np.full((2, 3), 3, dtype="int8"))


@pytest.mark.parametrize("build, words", [
    (lambda: T.alloc(T.dmatrix(), 3), ["Alloc", "more dimensions"]),
    (lambda: T.alloc(T.tensor("float64", (3,)), 2, 4), ["Alloc", "(3,)", "(2, 4)"]),
    (lambda: T.alloc(0.0, 2, -1), ["Alloc", "negative"]),
    (lambda: T.alloc(0.0, 2.5), ["Alloc", "integer"]),
])
def test_alloc_errors(build, words):
    with pytest.raises((GraphShapeError, GraphTypeError)) as info:
        build()
    assert_user_error(info, *words)


@pytest.mark.parametrize("dtype", [None, "float32", "int32", "bool", "int8"])
def test_zeros_and_ones(dtype):
    n = T.iscalar("n")
    want = np.dtype(dtype or symrnn.config.floatX)
    check([n], [T.zeros((2, n), dtype=dtype), T.ones((n,), dtype=dtype), T.zeros(3, dtype=dtype), T.ones([], dtype)],
          [4], [np.zeros((2, 4), want), np.ones(4, want), np.zeros(3, want), np.ones((), want)])


def test_zeros_and_ones_like():
    x, i = T.fmatrix("x"), T.ivector("i")
    a, k = np.ones((2, 3), dtype="float32"), np.array([5, 6], dtype="int32")
    check([x, i], [T.zeros_like(x), T.ones_like(x), T.ones_like(i), T.zeros_like(i, dtype="float64"),
                   x.zeros_like(), i.ones_like(dtype="bool"), T.zeros(x.shape), T.ones(i.shape, dtype="int8")],
          [a, k], [np.zeros_like(a), np.ones_like(a), np.ones_like(k), np.zeros(2), np.zeros_like(a),
                   np.ones(2, dtype=bool), np.zeros((2, 3)), np.ones(2, dtype="int8")])
    assert T.zeros_like(T.tensor("float64", (None, 3))).type.shape == (None, 3)


def test_full():
    n = T.iscalar("n")
    check([n], T.full((n, 2), 7, dtype="int32"), [3], np.full((3, 2), 7, dtype="int32"))


# --------------------------------------------------------------------------- arange

@pytest.mark.parametrize("args", [(5,), (2, 10), (2, 10, 3), (10, 0, -2), (10, 3, -3), (5, 5), (3, 0), (-4, 4, 3)],
                         ids=str)
def test_arange_int(args):
    out = T.arange(*args)
    assert out.dtype == "int64"
    assert out.type.shape == (len(np.arange(*args)),)
    check([], out, [], np.arange(*args, dtype="int64"))


@pytest.mark.parametrize("args", [(0.0, 1.0, 0.25), (2.5,), (1, 0, -0.3), (0, 2, 0.5)], ids=str)
def test_arange_float(args):
    out = T.arange(*args)
    assert out.dtype == symrnn.config.floatX
    check([], out, [], np.arange(*args, dtype=symrnn.config.floatX))


def test_arange_with_symbolic_bounds():
    n, m, s = T.iscalar("n"), T.lscalar("m"), T.iscalar("s")
    x = T.dscalar("x")
    outs = [T.arange(n), T.arange(m, n), T.arange(n, m, s), T.arange(x), T.arange(0, n, dtype="float32")]
    assert [o.dtype for o in outs] == ["int64", "int64", "int64", symrnn.config.floatX, "float32"]
    assert all(o.type.shape == (None,) for o in outs)
    check([n, m, s, x], outs, [7, 2, -2, 2.5],
          [np.arange(7), np.arange(2, 7), np.arange(7, 2, -2), np.arange(2.5), np.arange(7, dtype="float32")])


def test_arange_of_a_shape():
    x = T.dmatrix("x")
    check([x], T.arange(x.shape[0]) * 2, [np.ones((3, 2))], np.arange(3) * 2)


@pytest.mark.parametrize("build, name", [
    (lambda: T.arange(3, dtype="timedelta64"), "arange"),
    (lambda: T.zeros((2, 3), dtype="no-such-dtype"), "alloc"),
    (lambda: T.ones_like(T.dvector(), dtype="object"), "alloc"),
])
def test_unsupported_dtype_arguments(build, name):
    with pytest.raises(GraphTypeError) as info:
        build()
    assert_user_error(info, name, "dtype")


@pytest.mark.parametrize("build, name", [
    (lambda x: T.swapaxes(x, 0, 3), "swapaxes"),
    (lambda x: T.expand_dims(x, 4), "expand_dims"),
    (lambda x: T.expand_dims(x, -5), "expand_dims"),
])
def test_axis_arguments_out_of_range(build, name):
    with pytest.raises(GraphShapeError) as info:
        build(T.dtensor3("x"))
    assert_user_error(info, name, "out of range")


def test_arange_step_zero():
    with pytest.raises(GraphShapeError) as info:
        T.arange(0, 5, 0)
    assert_user_error(info, "ARange", "step")


def test_arange_needs_scalars():
    with pytest.raises(GraphTypeError) as info:
        T.arange(T.ivector("v"))
    assert_user_error(info, "ARange", "scalars")


# --------------------------------------------------------------------------- shape and shape_i

def test_shape_values():
    x = T.dtensor3("x")
    check([x], [x.shape, x.shape[1], T.shape(x)[-1], T.shape_i(x, 0)], [np.zeros((2, 3, 4))],
          [np.array([2, 3, 4]), np.int64(3), np.int64(4), np.int64(2)])
    static = T.tensor("float64", (2, 5)).shape
    assert isinstance(static, symrnn.tensor.Constant)
    np.testing.assert_array_equal(static.data, [2, 5])


# --------------------------------------------------------------------------- gradients

P = np.random.default_rng(9).normal(size=(2, 3, 4))

SHAPE_GRADS = [
    ("reshape_ints", lambda x: x.reshape((6, 4)), [P]),
    ("reshape_-1", lambda x: x.reshape((4, -1)) * np.arange(6.0), [P]),
    ("reshape_symbolic", lambda x: x.reshape((x.shape[0], -1)), [P]),
    ("flatten", lambda x: x.flatten(2), [P]),
    ("dimshuffle_perm", lambda x: x.dimshuffle(2, 0, 1), [P]),
    ("dimshuffle_x", lambda x: x.dimshuffle(0, "x", 1, 2) * np.ones((1, 5, 1, 1)), [P]),
    ("dimshuffle_drop", lambda x: typed(x, (2, 1, 4)).dimshuffle(2, 0), [P[:, :1]]),
    ("dimshuffle_drop_and_x", lambda x: typed(x, (1, 3)).dimshuffle("x", 1, "x"), [P[0, :1, :3]]),
    ("transpose", lambda x: x.T, [P]),
    ("transpose_axes", lambda x: T.transpose(x, (1, 2, 0)), [P]),
    ("concatenate_0", lambda x, y: T.concatenate([x, y, x]), [P[0], P[1, :2]]),
    ("concatenate_1", lambda x, y: T.concatenate([x, y], axis=1), [P[0], P[1, :, :2]]),
    ("concatenate_-1", lambda x, y: T.concatenate([x, y], axis=-1) ** 2, [P[0], P[1, :, :2]]),
    ("stack_0", lambda x, y: T.stack([x, y]), [P[0], P[1]]),
    ("stack_-1", lambda x, y: T.stack([x, y * y], axis=-1), [P[0], P[1]]),
    ("stack_scalars", lambda x, y: T.stack([x, y, x * y]), [np.array(0.5), np.array(-1.5)]),
    ("split_all", lambda x: T.concatenate([a * (i + 1) for i, a in enumerate(T.split(x, [1, 3], axis=1))], axis=1),
     [P[0]]),
    ("split_one_used", lambda x: T.split(x, [2, 1, 1], axis=-1)[1], [P]),
    ("split_two_used", lambda x: T.split(x, [1, 2])[1] * T.split(x, [1, 2])[0], [P[0]]),
    ("alloc_scalar", lambda x: T.alloc(x, 2, 3), [np.array(0.7)]),
    ("alloc_vector", lambda x: T.alloc(x, 4, 3) * np.arange(12.0).reshape(4, 3), [P[0, 0, :3]]),
    ("alloc_row", lambda x: T.alloc(typed(x, (1, 3)), 2, 4, 3), [P[0, :1, :3]]),
    ("alloc_symbolic", lambda x: T.alloc(x, x.shape[0], 2, x.shape[0]), [P[0, 0, :3]]),
    ("zeros_like_plus", lambda x: T.zeros_like(x) + x * T.ones_like(x), [P]),
]


@pytest.mark.parametrize("name, fn, points", SHAPE_GRADS, ids=[g[0] for g in SHAPE_GRADS])
def test_shape_gradients(name, fn, points):
    check_grad(fn, points)


def test_alloc_gradient_by_hand():
    v = T.dvector("v")
    g = symrnn.grad(T.alloc(v, 4, 3).sum(), v)
    check([v], g, [np.ones(3)], np.full(3, 4.0))


# --------------------------------------------------------------------------- hypothesis: reshape round trips

@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.data())
def test_random_reshape_and_transpose(shape, data):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    perm = data.draw(st.permutations(range(len(shape))))
    target = list(np.transpose(a, perm).shape)
    if data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    x = T.tensor("float64", [s if data.draw(st.booleans()) else None for s in shape])
    out = T.transpose(x, perm).reshape(target).flatten()
    check([x], out, [a], np.transpose(a, perm).reshape(target).ravel())
    if data.draw(st.booleans()):
        for mode in MODES:
            assert_same(symrnn.function([x], symrnn.grad((out * out).sum(), x), mode=mode)(a), 2 * a)
