"""Linear algebra: ``dot`` with numpy.dot semantics, ``matmul`` with batches and vector promotion, dtypes,
static shape errors and gradients."""

import numpy as np
import pytest
from helpers import assert_user_error, check, check_fn, check_grad, typed

import symrnn
import symrnn.tensor as T
from symrnn.gradient import NullGradientError
from symrnn.graph import GraphShapeError, GraphTypeError

RNG = np.random.default_rng(3)

DOT_CASES = [
    # name, shape of x, shape of y
    ("vector.vector", (4,), (4,)),
    ("matrix.vector", (3, 4), (4,)),
    ("vector.matrix", (4,), (4, 5)),
    ("matrix.matrix", (3, 4), (4, 5)),
    ("tensor3.matrix", (2, 3, 4), (4, 5)),
    ("tensor3.vector", (2, 3, 4), (4,)),
    ("tensor4.matrix", (2, 1, 3, 4), (4, 2)),
    ("scalar.matrix", (), (3, 4)),
    ("matrix.scalar", (3, 4), ()),
    ("scalar.scalar", (), ()),
    ("matrix.tensor3", (3, 4), (2, 4, 5)),
    ("vector.tensor3", (4,), (2, 4, 5)),
]


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name, sx, sy", DOT_CASES, ids=[c[0] for c in DOT_CASES])
def test_dot_matches_numpy_dot(name, sx, sy, static):
    a, b = RNG.normal(size=sx), RNG.normal(size=sy)
    check_fn(T.dot, [a, b], np.dot(a, b), static=static)
    check_fn(lambda x, y: x.dot(y), [a, b], np.dot(a, b), static=static)


@pytest.mark.parametrize("sx, sy, out", [
    ((3, 4), (4, None), (3, None)),
    ((None, 4), (None,), (None,)),
    ((2, None, 4), (4, 7), (2, None, 7)),
    ((5,), (5,), ()),
    ((3, 4), (2, 4, 5), (3, 2, 5)),
])
def test_dot_static_shapes(sx, sy, out):
    assert T.dot(T.tensor("float64", sx), T.tensor("float64", sy)).type.shape == out


@pytest.mark.parametrize("da, db", [
    ("float32", "float32"), ("float32", "float64"), ("int32", "float32"), ("int32", "int32"), ("int64", "float64"),
    ("int8", "int16"), ("float64", "int32"),
])
@pytest.mark.parametrize("sx, sy", [((3, 4), (4, 2)), ((4,), (4,)), ((2, 3, 4), (4,))])
def test_dot_mixed_dtypes(da, db, sx, sy):
    a = RNG.integers(-3, 4, size=sx).astype(da)
    b = RNG.integers(-3, 4, size=sy).astype(db)
    check_fn(T.dot, [a, b], np.dot(a, b), rtol=1e-6)


def test_dot_float32_stays_float32():
    x, W = T.fmatrix("x"), T.fmatrix("W")
    out = T.dot(x, W) + 1.0
    assert out.dtype == "float32"
    a, b = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(3, 4)).astype("float32")
    check([x, W], out, [a, b], np.dot(a, b) + 1.0)


def test_dot_with_python_and_numpy_operands():
    x = T.dmatrix("x")
    W = RNG.normal(size=(3, 2))
    a = RNG.normal(size=(4, 3))
    check([x], [T.dot(x, W), T.dot(2.0, x), T.dot(x, 3)], [a], [a @ W, 2.0 * a, a * 3])


def test_dot_error_names_op_shapes_and_line():
    x = T.tensor("float64", (3, 4), name="x")
    y = T.tensor("float64", (5, 6), name="y")
    with pytest.raises(GraphShapeError) as info:
        T.dot(x, y)
    assert_user_error(info, "dot", "(3, 4)", "(5, 6)", "'x'", "'y'")


@pytest.mark.parametrize("sx, sy", [((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 5)), ((2, 2, 3), (4, 1))])
def test_dot_errors_for_other_misaligned_shapes(sx, sy):
    x, y = T.tensor("float64", sx), T.tensor("float64", sy)
    with pytest.raises(GraphShapeError) as info:
        x.dot(y)
    assert_user_error(info, "dot", str(sx), str(sy))


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_dot_runtime_mismatch_is_an_error(mode):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = symrnn.function([x, y], T.dot(x, y), mode=mode)
    with pytest.raises(ValueError):
        f(np.ones((2, 3)), np.ones((4, 2)))


# --------------------------------------------------------------------------- matmul

MATMUL_CASES = [
    ("matrix@matrix", (3, 4), (4, 5)),
    ("batched", (2, 3, 4), (2, 4, 5)),
    ("broadcast_right", (2, 3, 4), (4, 5)),
    ("broadcast_left", (3, 4), (2, 4, 5)),
    ("broadcast_batch_dims", (2, 1, 3, 4), (5, 4, 2)),
    ("vector@matrix", (4,), (4, 5)),
    ("matrix@vector", (3, 4), (4,)),
    ("vector@vector", (4,), (4,)),
    ("vector@tensor3", (4,), (2, 4, 5)),
    ("tensor3@vector", (2, 3, 4), (4,)),
]


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("name, sx, sy", MATMUL_CASES, ids=[c[0] for c in MATMUL_CASES])
def test_matmul_matches_numpy(name, sx, sy, static):
    a, b = RNG.normal(size=sx), RNG.normal(size=sy)
    if not static and name == "broadcast_batch_dims":
        sx_static = (2, 1, None, None)  # a size-1 batch axis broadcasts only when it is statically 1
        x, y = T.tensor("float64", sx_static), T.tensor("float64", (None,) * len(sy))
        check([x, y], [T.matmul(x, y), x @ y], [a, b], [np.matmul(a, b), a @ b])
        return
    check_fn(T.matmul, [a, b], np.matmul(a, b), static=static)
    check_fn(lambda x, y: x @ y, [a, b], a @ b, static=static)


def test_matmul_with_a_numpy_operand_on_the_right_and_reflected():
    x = T.dmatrix("x")
    W = RNG.normal(size=(3, 2))
    a = RNG.normal(size=(4, 3))
    check([x], [x @ W, T.matmul(W.T, x.T)], [a], [a @ W, W.T @ a.T])


def test_matmul_static_shapes():
    assert T.matmul(T.tensor("float64", (2, 1, 3, 4)), T.tensor("float64", (5, 4, None))).type.shape == (2, 5, 3, None)
    assert T.matmul(T.tensor("float64", (4,)), T.tensor("float64", (2, 4, 5))).type.shape == (2, 5)
    assert T.matmul(T.tensor("float64", (4,)), T.tensor("float64", (4,))).type.shape == ()


@pytest.mark.parametrize("da, db", [("float32", "float32"), ("float32", "float64"), ("int32", "float32"),
                                    ("int64", "int64")])
def test_matmul_mixed_dtypes(da, db):
    a = RNG.integers(-3, 4, size=(2, 3, 4)).astype(da)
    b = RNG.integers(-3, 4, size=(4, 2)).astype(db)
    check_fn(T.matmul, [a, b], np.matmul(a, b), rtol=1e-6)


def test_matmul_errors():
    x, y = T.tensor("float64", (2, 3, 4), name="x"), T.tensor("float64", (2, 5, 6), name="y")
    with pytest.raises(GraphShapeError) as info:
        x @ y  # noqa: B018
    assert_user_error(info, "matmul", "(2, 3, 4)", "(2, 5, 6)")
    z = T.tensor("float64", (3, 4, 6))
    with pytest.raises(GraphShapeError) as info:
        T.matmul(x, z)
    assert_user_error(info, "matmul", "(2, 3, 4)", "(3, 4, 6)")
    with pytest.raises(GraphTypeError) as info:
        T.matmul(x, T.dscalar("s"))
    assert_user_error(info, "matmul", "scalar")


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_matmul_batch_axes_broadcast_only_where_statically_1(mode):
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = symrnn.function([x, y], x @ y, mode=mode)
    with pytest.raises(ValueError, match="matmul"):
        f(np.ones((1, 2, 3)), np.ones((4, 3, 2)))
    check([x, y], x @ y, [np.ones((4, 2, 3)), np.ones((4, 3, 2))], np.full((4, 2, 2), 3.0))


def test_outer_and_tensordot():
    u, v = T.dvector("u"), T.dvector("v")
    a, b = RNG.normal(size=3), RNG.normal(size=4)
    check([u, v], T.outer(u, v), [a, b], np.outer(a, b))
    x, y = T.dtensor3("x"), T.dtensor3("y")
    p, q = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(3, 4, 5))
    check([x, y], [T.tensordot(x, y, 2), T.tensordot(x, y[0], 1)], [p, q],
          [np.tensordot(p, q, 2), np.tensordot(p, q[0], 1)])


# --------------------------------------------------------------------------- gradients

GRAD_CASES = [c for c in DOT_CASES if c[0] not in ("matrix.tensor3", "vector.tensor3")]


@pytest.mark.parametrize("name, sx, sy", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_dot_gradients(name, sx, sy):
    check_grad(T.dot, [RNG.normal(size=sx), RNG.normal(size=sy)])


@pytest.mark.parametrize("name, sx, sy", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_dot_gradients_with_static_shapes(name, sx, sy):
    check_grad(lambda x, y: T.dot(typed(x, sx), typed(y, sy)), [RNG.normal(size=sx), RNG.normal(size=sy)])


def test_dot_gradient_by_hand():
    x, W = T.dmatrix("x"), T.dmatrix("W")
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))
    gx, gW = symrnn.grad(T.dot(x, W).sum(), [x, W])
    check([x, W], [gx, gW], [a, b], [np.ones((2, 4)) @ b.T, a.T @ np.ones((2, 4))])


def test_dot_gradient_through_a_mixed_dtype_cast():
    x, W = T.fmatrix("x"), T.dmatrix("W")
    gx, gW = symrnn.grad(T.dot(x, W).sum(), [x, W])
    assert (gx.dtype, gW.dtype) == ("float32", "float64")
    a, b = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(3, 4))
    check([x, W], [gx, gW], [a, b],
          [(np.ones((2, 4)) @ b.T).astype("float32"), a.astype("float64").T @ np.ones((2, 4))])


def test_dot_gradient_with_a_tensor3_right_operand_is_a_clear_error():
    x, y = T.dmatrix("x"), T.dtensor3("y")
    with pytest.raises(NullGradientError, match="dot"):
        symrnn.grad(T.dot(x, y).sum(), x)


MATMUL_GRADS = [
    ("matrix@matrix", (3, 4), (4, 5), None, None),
    ("batched", (2, 3, 4), (2, 4, 5), None, None),
    ("broadcast_right", (2, 3, 4), (4, 5), None, None),
    ("broadcast_left", (3, 4), (2, 4, 5), None, None),
    ("static_1_batch", (1, 3, 4), (2, 4, 5), (1, 3, 4), None),
    ("broadcast_batch_dims", (2, 1, 3, 4), (5, 4, 2), (2, 1, 3, 4), None),
    ("vector@matrix", (4,), (4, 5), None, None),
    ("matrix@vector", (3, 4), (4,), None, None),
    ("vector@vector", (4,), (4,), None, None),
    ("vector@tensor3", (4,), (2, 4, 5), None, None),
    ("tensor3@vector", (2, 3, 4), (4,), None, None),
]


@pytest.mark.parametrize("name, sx, sy, tx, ty", MATMUL_GRADS, ids=[c[0] for c in MATMUL_GRADS])
def test_matmul_gradients(name, sx, sy, tx, ty):
    def fn(x, y):
        return T.matmul(typed(x, tx) if tx else x, typed(y, ty) if ty else y)

    check_grad(fn, [RNG.normal(size=sx), RNG.normal(size=sy)])


@pytest.mark.parametrize("left,right", [((4, 2, 3), (4, 3, 5)), ((4, 3), (4, 3, 5)), ((4, 2, 3), (4, 3)),
                                        ((4, 3), (4, 3)), ((0, 2, 3), (0, 3, 1))])
def test_batched_dot_is_a_dot_per_batch_entry(left, right):
    """Theano's T.batched_dot, against NumPy's dot taken one batch entry at a time, and its gradients."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=left), rng.normal(size=right)
    x, y = T.tensor("float64", (None,) * len(left)), T.tensor("float64", (None,) * len(right))
    want = np.array([np.dot(a[i], b[i]) for i in range(left[0])]).reshape((left[0],) + np.dot(
        np.zeros(left[1:]), np.zeros(right[1:])).shape)
    for mode in ("FAST_RUN", "reference"):
        np.testing.assert_allclose(symrnn.function([x, y], T.batched_dot(x, y), mode=mode)(a, b), want, rtol=1e-12)
    if left[0]:
        symrnn.verify_grad(T.batched_dot, [a, b])
