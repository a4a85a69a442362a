"""Elementwise ops: forward against NumPy in both evaluators, broadcasting on static shapes, dtype rules,
error messages, and gradients against finite differences."""

import numpy as np
import pytest
from helpers import assert_same, assert_user_error, check, check_fn, check_grad, compile_all, typed
from hypothesis import given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphShapeError, GraphTypeError

RNG = np.random.default_rng(20240611)


def away_from_zero(shape, lo=0.3, hi=2.0, rng=RNG):
    """Random values with magnitude in [lo, hi] and random signs."""
    return rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------- unary ops, forward

UNARY = [
    # name, symbolic, NumPy, (low, high) of the test values
    ("neg", T.neg, np.negative, (-3, 3)),
    ("neg_operator", lambda x: -x, np.negative, (-3, 3)),
    ("exp", T.exp, np.exp, (-3, 3)),
    ("log", T.log, np.log, (0.1, 5)),
    ("log1p", T.log1p, np.log1p, (-0.9, 3)),
    ("expm1", T.expm1, np.expm1, (-2, 2)),
    ("sqrt", T.sqrt, np.sqrt, (0.0, 5)),
    ("sqr", T.sqr, lambda a: a * a, (-3, 3)),
    ("abs", T.abs, np.abs, (-3, 3)),
    ("abs_builtin", abs, np.abs, (-3, 3)),
    ("sign", T.sign, np.sign, (-3, 3)),
    ("tanh", T.tanh, np.tanh, (-4, 4)),
    ("sigmoid", T.nnet.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-6, 6)),
    ("sigmoid_T", T.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-6, 6)),
    ("hard_sigmoid", T.nnet.hard_sigmoid, lambda a: np.minimum(np.maximum(a * 0.2 + 0.5, 0), 1), (-5, 5)),
    ("softplus", T.nnet.softplus, lambda a: np.log1p(np.exp(a)), (-6, 6)),
    ("relu", T.nnet.relu, lambda a: a * (a > 0), (-3, 3)),
    ("relu_T", T.relu, lambda a: a * (a > 0), (-3, 3)),
    ("leaky_relu", lambda x: T.nnet.relu(x, 0.1), lambda a: np.where(a > 0, a, a * 0.1), (-3, 3)),
    ("floor", T.floor, np.floor, (-3, 3)),
    ("ceil", T.ceil, np.ceil, (-3, 3)),
    ("round", T.round, np.round, (-3, 3)),
    ("sin", T.sin, np.sin, (-3, 3)),
    ("cos", T.cos, np.cos, (-3, 3)),
    ("exp_method", lambda x: x.exp(), np.exp, (-3, 3)),
    ("log_method", lambda x: x.log(), np.log, (0.1, 3)),
    ("tanh_method", lambda x: x.tanh(), np.tanh, (-3, 3)),
    ("sqrt_method", lambda x: x.sqrt(), np.sqrt, (0.0, 3)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, sym, ref, domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward(name, sym, ref, domain, dtype):
    a = RNG.uniform(*domain, size=(3, 4)).astype(dtype)
    a[0, 0] = 0.0 if domain[0] <= 0 <= domain[1] else a[0, 0]  # exact zeros hit the kinks of abs/sign/relu
    a[0, 1] = 2.5 if domain[1] > 2.5 else a[0, 1]  # a tie for round (half to even) and a kink of hard_sigmoid
    check_fn(sym, [a], ref(a))


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_unary_on_any_rank(shape):
    a = RNG.uniform(-2, 2, size=shape)
    x = T.tensor("float64", shape)
    check([x], T.tanh(x) * T.exp(x), [a], np.tanh(a) * np.exp(a))


@pytest.mark.parametrize("name, sym, ref", [
    ("neg", lambda x: -x, np.negative),
    ("abs", abs, np.abs),
    ("sign", T.sign, np.sign),
    ("sqr", T.sqr, lambda a: a * a),
    ("exp", T.exp, np.exp),
    ("sqrt", T.sqrt, np.sqrt),
    ("tanh", T.tanh, np.tanh),
    ("relu", T.nnet.relu, lambda a: np.maximum(a, 0)),
    # float-only ops compute integers in the float dtype NumPy's own ufuncs would use
    ("sigmoid", T.nnet.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ("softplus", T.nnet.softplus, lambda a: np.log1p(np.exp(a))),
    ("hard_sigmoid", T.nnet.hard_sigmoid, lambda a: np.clip(a * 0.2 + 0.5, 0, 1)),
])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_unary_on_integers(name, sym, ref, dtype):
    a = np.array([[-3, -1, 0], [1, 2, 4]], dtype=dtype)
    check_fn(sym, [np.abs(a)] if name == "sqrt" else [a], ref(np.abs(a) if name == "sqrt" else a))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_and_softplus_are_stable_in_the_tails(dtype):
    a = np.array([-800.0, -100.0, -80.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(over="ignore"):
        sig = np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))
    soft = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
    x = T.vector("x", dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow warning either
        check([x], [T.nnet.sigmoid(x), T.nnet.softplus(x)], [a.astype(dtype)],
              [sig.astype(dtype), soft.astype(dtype)],
              atol=np.finfo(dtype).tiny)  # a subnormal result may come out as 0


# --------------------------------------------------------------------------- binary ops, forward and broadcasting

BINARY = [
    # name, symbolic, NumPy, how to draw (a, b)
    ("add", T.add, np.add, "any"),
    ("add_operator", lambda x, y: x + y, np.add, "any"),
    ("sub", T.sub, np.subtract, "any"),
    ("sub_operator", lambda x, y: x - y, np.subtract, "any"),
    ("mul", T.mul, np.multiply, "any"),
    ("mul_operator", lambda x, y: x * y, np.multiply, "any"),
    ("true_div", T.true_div, np.true_divide, "nonzero"),
    ("div_operator", lambda x, y: x / y, np.true_divide, "nonzero"),
    ("int_div", T.int_div, np.floor_divide, "nonzero"),
    ("floordiv_operator", lambda x, y: x // y, np.floor_divide, "nonzero"),
    ("mod", T.mod, np.mod, "nonzero"),
    ("mod_operator", lambda x, y: x % y, np.mod, "nonzero"),
    ("pow", T.pow, np.power, "positive"),
    ("pow_operator", lambda x, y: x ** y, np.power, "positive"),
    ("maximum", T.maximum, np.maximum, "any"),
    ("minimum", T.minimum, np.minimum, "any"),
]

BROADCASTS = [
    # static shape of x, of y, runtime shape of x, of y
    ((2, 3), (2, 3), (2, 3), (2, 3)),
    ((None, 3), (1, 3), (4, 3), (1, 3)),
    ((None, None), (None, None), (4, 3), (4, 3)),
    ((3,), (2, 1), (3,), (2, 1)),
    ((), (2, 3), (), (2, 3)),
    ((2, 3), (), (2, 3), ()),
    ((4, 1, 3), (2, 3), (4, 1, 3), (2, 3)),
    ((None, 1, None), (None, None), (4, 1, 3), (2, 3)),
    ((1,), (None,), (1,), (5,)),
    ((None, None), (None,), (2, 3), (3,)),
    ((), (), (), ()),
]


def draw(kind, shape, rng=RNG):
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "nonzero":
        return away_from_zero(shape)
    return rng.uniform(-2, 2, size=shape)


@pytest.mark.parametrize("sx, sy, rx, ry", BROADCASTS, ids=[f"{b[0]}+{b[1]}" for b in BROADCASTS])
@pytest.mark.parametrize("name, sym, ref, kind", BINARY, ids=[b[0] for b in BINARY])
def test_binary_forward_with_broadcasting(name, sym, ref, kind, sx, sy, rx, ry):
    a, b = draw(kind, rx), draw(kind, ry)
    x, y = T.tensor("float64", sx, name="x"), T.tensor("float64", sy, name="y")
    out = sym(x, y)
    want = ref(a, b)
    assert out.ndim == want.ndim
    check([x, y], out, [a, b], want)


@pytest.mark.parametrize("sx, sy, expected", [
    ((None, 3), (1, 3), (None, 3)),
    ((3,), (2, 1), (2, 3)),
    ((), (2, None), (2, None)),
    ((4, 1, 3), (2, 3), (4, 2, 3)),
    ((None, 1), (1, None), (None, None)),
    ((1, 1), (1,), (1, 1)),
    ((None,), (5,), (5,)),
])
def test_static_broadcast_shapes(sx, sy, expected):
    out = T.tensor("float64", sx) * T.tensor("float64", sy)
    assert out.type.shape == expected


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8"])
@pytest.mark.parametrize("name, sym, ref", [
    ("add", lambda x, y: x + y, np.add),
    ("sub", lambda x, y: x - y, np.subtract),
    ("mul", lambda x, y: x * y, np.multiply),
    ("true_div", lambda x, y: x / y, np.true_divide),
    ("int_div", lambda x, y: x // y, np.floor_divide),
    ("mod", lambda x, y: x % y, np.mod),
    ("maximum", T.maximum, np.maximum),
    ("minimum", T.minimum, np.minimum),
    ("and", lambda x, y: x & y, np.bitwise_and),
    ("or", lambda x, y: x | y, np.bitwise_or),
    ("xor", lambda x, y: x ^ y, np.bitwise_xor),
])
def test_binary_on_integers_with_python_sign_conventions(name, sym, ref, dtype):
    # floor division and modulo round toward minus infinity, with the divisor's sign, as in Python and NumPy
    a = np.array([[-7, -3, 3, 7], [0, 5, -5, 9]], dtype=dtype)
    b = np.array([[2, -2, 3, -4], [3, -3, 4, 1]], dtype=dtype)
    check_fn(sym, [a, b], ref(a, b))


def test_floor_division_and_modulo_values():
    # written out by hand so that this does not only trust NumPy
    x, y = T.ivector("x"), T.ivector("y")
    check([x, y], [x // y, x % y], [np.array([-7, 7, -7, 7], "int32"), np.array([2, 2, -2, -2], "int32")],
          [np.array([-4, 3, 3, -4], "int32"), np.array([1, 1, -1, -1], "int32")])
    u, v = T.dvector("u"), T.dvector("v")
    check([u, v], [u // v, u % v], [np.array([-7.5, 7.5]), np.array([2.0, -2.0])],
          [np.array([-4.0, -4.0]), np.array([0.5, -0.5])])


def test_pow_on_integers_and_reflected_pow():
    x = T.ivector("x")
    a = np.array([0, 1, 2, 3], dtype="int32")
    check([x], [x ** 2, 2 ** x, T.pow(x, 3)], [a], [a ** 2, 2 ** a, a ** 3])


# --------------------------------------------------------------------------- comparisons and logic

COMPARISONS = [
    ("lt", T.lt, np.less), ("lt_operator", lambda x, y: x < y, np.less),
    ("gt", T.gt, np.greater), ("gt_operator", lambda x, y: x > y, np.greater),
    ("le", T.le, np.less_equal), ("le_operator", lambda x, y: x <= y, np.less_equal),
    ("ge", T.ge, np.greater_equal), ("ge_operator", lambda x, y: x >= y, np.greater_equal),
    ("eq", T.eq, np.equal), ("neq", T.neq, np.not_equal),
]


@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("int32", "float32"), ("int64", "int8")])
@pytest.mark.parametrize("name, sym, ref", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons(name, sym, ref, dtypes):
    a = RNG.integers(0, 3, size=(4, 3)).astype(dtypes[0])  # small integers: many ties
    b = RNG.integers(0, 3, size=(3,)).astype(dtypes[1])
    x, y = T.tensor(dtypes[0], (None, 3)), T.tensor(dtypes[1], (3,))
    out = sym(x, y)
    assert out.dtype == "bool"
    check([x, y], out, [a, b], ref(a, b))


@pytest.mark.parametrize("expr, ref", [
    (lambda x: x < 1, lambda a: a < 1), (lambda x: x > 0.5, lambda a: a > 0.5), (lambda x: 1 <= x, lambda a: 1 <= a),
    (lambda x: 2.5 >= x, lambda a: 2.5 >= a), (lambda x: T.eq(x, 1), lambda a: a == 1),
    (lambda x: T.neq(x, 1.0), lambda a: a != 1.0),
])
def test_comparisons_with_python_scalars(expr, ref):
    a = np.array([0.0, 0.5, 1.0, 2.5, 3.0], dtype="float32")
    check_fn(expr, [a], ref(a))


def test_equality_operator_is_identity_as_in_theano():
    x = T.vector("x")
    assert (x == x) is True
    assert (x == T.vector("y")) is False
    assert isinstance(T.eq(x, x), symrnn.tensor.Variable)


LOGIC = [
    ("and", T.and_, np.logical_and), ("and_operator", lambda x, y: x & y, np.logical_and),
    ("or", T.or_, np.logical_or), ("or_operator", lambda x, y: x | y, np.logical_or),
    ("xor", T.xor, np.logical_xor), ("xor_operator", lambda x, y: x ^ y, np.logical_xor),
]


@pytest.mark.parametrize("name, sym, ref", LOGIC, ids=[c[0] for c in LOGIC])
def test_logic_on_booleans(name, sym, ref):
    a = np.array([[True, True, False, False]])
    b = np.array([True, False, True, False])
    x, y = T.tensor("bool", (1, 4)), T.tensor("bool", (None,))
    out = sym(x, y)
    assert out.dtype == "bool"
    check([x, y], out, [a, b], ref(a, b))


def test_not_on_booleans_and_integers():
    p = T.tensor("bool", (None,))
    n = T.ivector("n")
    a = np.array([True, False, True])
    k = np.array([0, 3, -1, 0], dtype="int32")
    check([p, n], [T.invert(p), ~p, T.logical_not(p), T.logical_not(n), T.invert(n), ~n],
          [a, k],
          [np.array([False, True, False]), np.array([False, True, False]), np.array([False, True, False]),
           np.array([True, False, False, True]), np.invert(k), np.array([-1, -4, 0, -1], "int32")])


def test_logic_with_comparisons_and_python_bools():
    x = T.dvector("x")
    a = np.array([-2.0, -0.5, 0.5, 2.0])
    check([x], [(x > -1) & (x < 1), (x < -1) | (x > 1), (x > 0) ^ True, (x > 0) & True],
          [a], [np.array([False, True, True, False]), np.array([True, False, False, True]),
                np.array([True, True, False, False]), np.array([False, False, True, True])])


@pytest.mark.parametrize("fn, name", [(T.and_, "and"), (T.or_, "or"), (T.xor, "xor")])
def test_logic_rejects_floats(fn, name):
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(GraphTypeError) as info:
        fn(x, y)
    assert_user_error(info, name, "float64")


def test_invert_rejects_floats():
    with pytest.raises(GraphTypeError) as info:
        T.invert(T.dvector("x"))
    assert_user_error(info, "invert", "float64")


# --------------------------------------------------------------------------- switch, clip, cast

@pytest.mark.parametrize("alias", [T.switch, T.where])
def test_switch_with_broadcasting(alias):
    c = T.tensor("bool", (None, 3), name="c")
    a = T.tensor("float64", (1, 3), name="a")
    b = T.dscalar("b")
    cv = np.array([[True, False, True], [False, False, True]])
    av = np.array([[1.0, 2.0, 3.0]])
    check([c, a, b], alias(c, a, b), [cv, av, -1.0], np.where(cv, av, -1.0))


def test_switch_with_a_numeric_condition_and_python_branches():
    x = T.dvector("x")
    a = np.array([-1.0, 0.0, 2.0])
    check([x], [T.switch(x, 1.0, 0.0), T.switch(x > 0, x, 0), T.switch(x < 0, -x, x)], [a],
          [np.where(a, 1.0, 0.0), np.where(a > 0, a, 0.0), np.abs(a)])


def test_switch_keeps_float32():
    x = T.fvector("x")
    out = T.switch(x > 0, x, 0.0)
    assert out.dtype == "float32"
    a = np.array([-1.0, 3.0], dtype="float32")
    check([x], out, [a], np.where(a > 0, a, np.float32(0)))


@pytest.mark.parametrize("build, ref", [
    (lambda x: T.clip(x, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5)),
    (lambda x: x.clip(0, 1), lambda a: np.clip(a, 0, 1)),
    (lambda x: T.clip(x, T.constant(np.array([-1.0, 0.0, 0.5])), 1.5), lambda a: np.clip(a, [-1.0, 0.0, 0.5], 1.5)),
])
def test_clip(build, ref):
    a = RNG.uniform(-2, 2, size=(4, 3))
    check_fn(build, [a], ref(a))


def test_clip_integers_and_float32():
    x, f = T.ivector("x"), T.fvector("f")
    a = np.array([-5, 0, 3, 9], dtype="int32")
    b = np.array([-5, 0, 3, 9], dtype="float32")
    check([x, f], [T.clip(x, 0, 4), T.clip(f, 0.5, 4)], [a, b],
          [np.array([0, 0, 3, 4], "int32"), np.array([0.5, 0.5, 3, 4], "float32")])


@pytest.mark.parametrize("src, dst", [
    ("float64", "int32"), ("float64", "float32"), ("float32", "float64"), ("int32", "float32"),
    ("int64", "int8"), ("float64", "bool"), ("bool", "float64"), ("int32", "uint8"),
])
def test_cast(src, dst):
    a = np.array([-2.7, -0.5, 0.0, 1.0, 3.9, 200.0]).astype(src)
    with np.errstate(invalid="ignore"):
        check_fn(lambda x: T.cast(x, dst), [a], a.astype(dst))
        check_fn(lambda x: x.astype(dst), [a], a.astype(dst))


def test_cast_to_same_dtype_is_the_variable_itself():
    x = T.dvector("x")
    assert T.cast(x, "float64") is x


def test_cast_floatx():
    x = T.ivector("x")
    assert T.cast(x, "floatX").dtype == symrnn.config.floatX


@pytest.mark.parametrize("dtype", ["datetime64", "str", "no-such-dtype"])
def test_cast_to_an_unsupported_dtype_is_an_error(dtype):
    with pytest.raises(GraphTypeError) as info:
        T.cast(T.dvector("x"), dtype)
    assert_user_error(info, "cast", "float64")


# --------------------------------------------------------------------------- dtype rules

SCALAR_EXPRESSIONS = [
    ("x+1", lambda x: x + 1), ("1+x", lambda x: 1 + x), ("x-1.5", lambda x: x - 1.5), ("2*x", lambda x: 2 * x),
    ("x*2.0", lambda x: x * 2.0), ("x/2", lambda x: x / 2), ("1/x", lambda x: 1 / x), ("x**2", lambda x: x ** 2),
    ("x//2", lambda x: x // 2), ("x%3", lambda x: x % 3), ("-x", lambda x: -x), ("abs(x)", abs),
    ("x>1", lambda x: x > 1), ("x+True", lambda x: x + True), ("x*np.float64(2)", lambda x: x * np.float64(2)),
    ("x+np.int8(1)", lambda x: x + np.int8(1)),
]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int8", "uint8", "int64"])
@pytest.mark.parametrize("name, expr", SCALAR_EXPRESSIONS, ids=[e[0] for e in SCALAR_EXPRESSIONS])
def test_python_scalars_follow_numpy_promotion(name, expr, dtype):
    # The same expression on a NumPy array gives the expected dtype and values (NumPy 2's weak scalars).
    a = np.array([1, 2, 3, 5]).astype(dtype)
    check_fn(expr, [a], expr(a))


@pytest.mark.parametrize("da, db", [
    ("int32", "float64"), ("int32", "float32"), ("int8", "int16"), ("float32", "float64"), ("uint8", "int8"),
    ("bool", "int32"), ("bool", "float32"), ("int64", "float32"), ("uint32", "int32"),
])
@pytest.mark.parametrize("op", ["add", "mul", "true_div", "maximum"])
def test_mixed_dtypes_follow_numpy(op, da, db):
    a = np.array([1, 0, 1, 1]).astype(da)
    b = np.array([2, 3, 1, 4]).astype(db)
    ref = {"add": np.add, "mul": np.multiply, "true_div": np.true_divide, "maximum": np.maximum}[op]
    check_fn(getattr(T, op), [a, b], ref(a, b))


def test_bool_arithmetic():
    p, q = T.tensor("bool", (None,)), T.tensor("bool", (None,))
    a, b = np.array([True, False, True]), np.array([True, True, False])
    check([p, q], [p + q, p * q, p + 1, p * 2.5], [a, b], [a + b, a * b, a + 1, a * 2.5])


def test_weak_scalar_that_does_not_fit_upcasts_instead_of_overflowing():
    x = T.tensor("uint8", (None,))
    out = x + 300
    assert np.dtype(out.dtype).kind in "iu" and np.iinfo(out.dtype).max >= 555
    a = np.array([0, 255], dtype="uint8")
    for fn in compile_all([x], out).values():
        np.testing.assert_array_equal(fn(a), [300, 555])


def test_float32_graph_stays_float32():
    x = T.fmatrix("x")
    out = T.tanh(x * 2 + 1.5) / 3 - x ** 2 + abs(-x) * T.nnet.sigmoid(x) + T.maximum(x, 0.5)
    assert out.dtype == "float32"
    a = RNG.normal(size=(2, 3)).astype("float32")
    ref = np.tanh(a * 2 + 1.5) / 3 - a ** 2 + np.abs(-a) / (1 + np.exp(-a)) + np.maximum(a, 0.5)
    check([x], out, [a], ref)


def test_floatx_float32(monkeypatch):
    monkeypatch.setattr(symrnn.config, "floatX", "float32")  # validated setter; restored by monkeypatch
    x = T.matrix("x")
    assert x.dtype == "float32"
    assert (x + 1.5).dtype == "float32"
    assert T.constant(1.5).dtype == "float32"
    i = T.ivector("i")
    a = np.array([1, 2], dtype="int32")
    check([i], i * 1.5, [a], a * np.float32(1.5))  # int32 with a float32 scalar: float64, as in NumPy


def test_allow_input_downcast():
    x = T.fvector("x")
    a = np.array([1.5, 2.25, -3.0])  # float64 data for a float32 input
    for mode in ("FAST_RUN", "reference"):
        with pytest.raises(TypeError, match="'x'"):
            symrnn.function([x], x * 2, mode=mode)(a)
        with pytest.raises(TypeError, match="'x'"):
            symrnn.function([x], x * 2, mode=mode)([1.5, 2.5])  # a Python list only downcasts to floatX
        got = symrnn.function([x], x * 2, mode=mode, allow_input_downcast=True)(a)
        assert_same(got, a.astype("float32") * 2)
    y = T.dvector("y")  # upcasting is always fine
    check([y], y + 1, [np.array([1, 2], dtype="int32")], np.array([2.0, 3.0]))


# --------------------------------------------------------------------------- static and runtime shape errors

@pytest.mark.parametrize("build, name", [
    (lambda x, y: x + y, "add"),
    (lambda x, y: T.sub(x, y), "sub"),
    (lambda x, y: x * y, "mul"),
    (lambda x, y: x / y, "true_div"),
    (lambda x, y: x ** y, "pow"),
    (lambda x, y: T.maximum(x, y), "maximum"),
    (lambda x, y: x < y, "lt"),
    (lambda x, y: T.switch(x > 0, x, y), "switch"),
    (lambda x, y: T.clip(x, y, 1.0), "clip"),
])
def test_static_broadcast_error_names_op_shapes_and_line(build, name):
    x = T.tensor("float64", (2, 3), name="x")
    y = T.tensor("float64", (4, 3), name="y")
    with pytest.raises(GraphShapeError) as info:
        build(x, y)
    assert_user_error(info, name, "(2, 3)", "(4, 3)")


def test_static_broadcast_error_from_an_operator_points_at_this_line():
    x = T.tensor("float32", (None, 5), name="x")
    y = T.tensor("float32", (3,), name="y")
    with pytest.raises(GraphShapeError) as info:
        x + y  # noqa: B018
    assert_user_error(info, "add", "(None, 5)", "(3,)", "'x'", "'y'")


def test_wrong_number_of_inputs():
    with pytest.raises(GraphTypeError) as info:
        T.add(T.dvector("x"))
    assert_user_error(info, "add", "2 input")


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_runtime_broadcasting_of_a_dimension_not_known_to_be_1_is_an_error(mode):
    # Broadcasting follows from static 1s only: otherwise the gradient of x could not be summed to x's shape.
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = symrnn.function([x, y], x * y, mode=mode)
    with pytest.raises(ValueError) as info:
        f(np.ones((1, 3)), np.ones((4, 3)))
    message = str(info.value)
    assert "mul" in message and "(1, 3)" in message and "(4, 3)" in message and "test_elemwise.py" in message
    with pytest.raises(ValueError, match="mul"):
        f(np.ones((2, 3)), np.ones((4, 3)))
    assert_same(f(np.ones((4, 3)), np.full((4, 3), 2.0)), np.full((4, 3), 2.0))


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
@pytest.mark.parametrize("build, name", [
    (lambda c, a, b: T.switch(c > 0, a, b), "switch"),
    (lambda c, a, b: T.clip(c, a, b), "clip"),
    (lambda c, a, b: c + a.dimshuffle("x", 0) * b[0], "mul"),
])
def test_runtime_checks_with_three_inputs_and_rank_differences(mode, build, name):
    c, a, b = T.dmatrix("c"), T.dvector("a"), T.dmatrix("b")
    f = symrnn.function([c, a, b], build(c, a, b), mode=mode, on_unused_input="ignore")
    good = f(np.ones((2, 3)), np.zeros(3), np.full((2, 3), 2.0))
    assert good.shape == (2, 3)
    with pytest.raises(ValueError, match=name):
        f(np.ones((2, 3)), np.zeros(1), np.full((2, 3), 2.0))


@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_runtime_check_against_a_static_size(mode):
    x, y = T.tensor("float64", (None, 3)), T.tensor("float64", (4, 3))
    f = symrnn.function([x, y], x + y, mode=mode)
    with pytest.raises(ValueError, match="add"):
        f(np.ones((1, 3)), np.ones((4, 3)))


def test_gradient_of_a_static_broadcast_has_the_input_shape():
    x, y = T.row("x"), T.dmatrix("y")
    gx, gy = symrnn.grad((x * y).sum(), [x, y])
    a, b = RNG.normal(size=(1, 3)), RNG.normal(size=(4, 3))
    check([x, y], [gx, gy], [a, b], [b.sum(axis=0, keepdims=True), np.repeat(a, 4, axis=0)])


# --------------------------------------------------------------------------- hypothesis: random broadcasting

@st.composite
def broadcastable_shapes(draw, n=2):
    ndim = draw(st.integers(0, 3))
    full = [draw(st.integers(2, 4)) for _ in range(ndim)]
    shapes, statics = [], []
    for _ in range(n):
        rank = draw(st.integers(0, ndim))
        dims = [1 if draw(st.booleans()) else d for d in full[ndim - rank:]]
        shapes.append(tuple(dims))
        statics.append(tuple(d if d == 1 or draw(st.booleans()) else None for d in dims))
    return shapes, statics


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape`` (the adjoint of NumPy broadcasting), written independently of symrnn."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


BCAST_GRADS = {
    # op: (symbolic, NumPy forward, d/dx, d/dy given the output gradient c)
    "add": (T.add, np.add, lambda a, b, c: c, lambda a, b, c: c),
    "sub": (T.sub, np.subtract, lambda a, b, c: c, lambda a, b, c: -c),
    "mul": (T.mul, np.multiply, lambda a, b, c: c * b, lambda a, b, c: c * a),
    "true_div": (T.true_div, np.true_divide, lambda a, b, c: c / b, lambda a, b, c: -c * a / b ** 2),
}


@settings(max_examples=25, deadline=None)
@given(broadcastable_shapes(), st.sampled_from(sorted(BCAST_GRADS)), st.integers(0, 2 ** 31 - 1))
def test_random_broadcasting_forward_and_gradient(shapes, op, seed):
    (sa, sb), (ta, tb) = shapes
    sym, ref, da, db = BCAST_GRADS[op]
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.5, 2, size=sa), rng.uniform(0.5, 2, size=sb)
    x, y = T.tensor("float64", ta, name="x"), T.tensor("float64", tb, name="y")
    out = sym(x, y)
    want = ref(a, b)
    c = rng.normal(size=want.shape)
    gx, gy = symrnn.grad((out * T.constant(c)).sum(), [x, y])
    check([x, y], [out, gx, gy], [a, b],
          [want, unbroadcast(da(a, b, c) * np.ones_like(want), sa), unbroadcast(db(a, b, c) * np.ones_like(want), sb)],
          rtol=1e-10)


# --------------------------------------------------------------------------- gradients (verify_grad, float64)

def kinkless(shape, lo=0.2, hi=2.0, seed=0):
    return away_from_zero(shape, lo, hi, np.random.default_rng(seed))


def positive(shape, lo=0.3, hi=2.0, seed=1):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


MOD_X = np.array([[2.3, -1.7, 5.1], [0.7, -3.3, 1.9]])
MOD_Y = np.array([[1.0, 0.6, 2.2], [-0.4, 1.4, -0.8]])

UNARY_GRADS = [
    ("neg", lambda x: -x, kinkless((3, 4))),
    ("exp", T.exp, kinkless((3, 4))),
    ("log", T.log, positive((3, 4))),
    ("log1p", T.log1p, positive((3, 4), -0.8, 2.0)),
    ("expm1", T.expm1, kinkless((3, 4))),
    ("sqrt", T.sqrt, positive((3, 4))),
    ("sqr", T.sqr, kinkless((3, 4))),
    ("abs", abs, kinkless((3, 4))),
    ("sign", T.sign, kinkless((3, 4))),
    ("floor", T.floor, kinkless((3, 4)) + 0.5 * (np.abs(kinkless((3, 4)) % 1 - 0.5) < 0.1)),
    ("tanh", T.tanh, kinkless((3, 4))),
    ("sigmoid", T.nnet.sigmoid, kinkless((3, 4), hi=5)),
    ("hard_sigmoid_linear", T.nnet.hard_sigmoid, kinkless((3, 4), hi=2.3)),
    ("hard_sigmoid_saturated", T.nnet.hard_sigmoid, kinkless((3, 4), lo=2.7, hi=5)),
    ("softplus", T.nnet.softplus, kinkless((3, 4), hi=5)),
    ("relu", T.nnet.relu, kinkless((3, 4))),
    ("leaky_relu", lambda x: T.nnet.relu(x, 0.2), kinkless((3, 4))),
    ("sin", T.sin, kinkless((3, 4))),
    ("cos", T.cos, kinkless((3, 4))),
    ("x**2", lambda x: x ** 2, kinkless((3, 4))),
    ("2**x", lambda x: 2 ** x, kinkless((3, 4))),
    ("x*3+1", lambda x: x * 3 + 1, kinkless((3, 4))),
    ("1/x", lambda x: 1 / x, kinkless((3, 4))),
    ("clip", lambda x: T.clip(x, -0.5, 1.0), kinkless((3, 4))),
    ("scalar_tanh", T.tanh, np.array(0.3)),
    ("vector_exp", T.exp, kinkless((5,))),
    ("cast_roundtrip", lambda x: T.cast(x, "float64") * 2, kinkless((3,))),
]


@pytest.mark.parametrize("name, fn, point", UNARY_GRADS, ids=[g[0] for g in UNARY_GRADS])
def test_unary_gradients(name, fn, point):
    check_grad(fn, [point])


BINARY_GRADS = [
    ("add", T.add, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("sub", T.sub, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("mul", T.mul, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("true_div", T.true_div, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("pow", T.pow, positive((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("maximum", T.maximum, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("minimum", T.minimum, kinkless((3, 4), seed=1), kinkless((3, 4), seed=2)),
    ("mod", T.mod, MOD_X, MOD_Y),
    ("int_div", T.int_div, MOD_X, MOD_Y),
    # broadcasting: the gradient is summed back to each input's shape
    ("add_vector_matrix", T.add, kinkless((4,), seed=1), kinkless((3, 4), seed=2)),
    ("mul_scalar_matrix", T.mul, np.array(0.7), kinkless((3, 4), seed=2)),
    ("div_matrix_scalar", T.true_div, kinkless((3, 4), seed=1), np.array(-1.3)),
    ("mul_row", lambda a, b: typed(a, (1, 4)) * b, kinkless((1, 4), seed=1), kinkless((3, 4), seed=2)),
    ("sub_col", lambda a, b: a - typed(b, (3, 1)), kinkless((3, 4), seed=1), kinkless((3, 1), seed=2)),
    ("pow_vector_col", lambda a, b: a ** typed(b, (2, 1)), positive((3,), seed=1), kinkless((2, 1), seed=2)),
    ("div_rank3", lambda a, b: typed(a, (2, 1, 3)) / b, kinkless((2, 1, 3), seed=1), kinkless((4, 3), seed=2)),
    ("maximum_row", lambda a, b: T.maximum(a, typed(b, (1, 4))), kinkless((3, 4), seed=1), kinkless((1, 4), seed=2)),
    ("minimum_scalar", T.minimum, kinkless((3, 4), seed=1), np.array(0.1)),
]


@pytest.mark.parametrize("name, fn, a, b", BINARY_GRADS, ids=[g[0] for g in BINARY_GRADS])
def test_binary_gradients(name, fn, a, b):
    if name in ("mod", "int_div"):  # stay away from the jumps of floor(a / b)
        frac = (a / b) % 1
        assert np.all((frac > 0.05) & (frac < 0.95))
    if name.startswith(("maximum", "minimum")):  # no ties
        assert np.min(np.abs(np.subtract(a, b))) > 1e-3
    check_grad(fn, [a, b])


def test_clip_gradient_flows_to_the_bounds_that_bind():
    x = np.array([[-1.5, -0.2, 0.3], [0.9, 2.0, -0.7]])
    lo = np.array([-0.5, -0.6, -0.4])
    hi = np.array(0.8)
    check_grad(lambda a, b, c: T.clip(a, b, c), [x, lo, hi])


def test_switch_gradient_goes_to_the_chosen_branch():
    cond = np.array([[1.0, -1.0, 2.0], [-3.0, 0.5, -0.5]])
    a, b = kinkless((2, 3), seed=3), kinkless((1, 3), seed=4)
    check_grad(lambda c, x, y: T.switch(c > 0, x * x, typed(y, (1, 3)) * 3), [cond, a, b])


def test_exact_switch_gradients():
    c = T.tensor("bool", (None, 3))
    x, y = T.dmatrix("x"), T.row("y")
    gx, gy = symrnn.grad(T.switch(c, x, y).sum(), [x, y])
    cv = np.array([[True, False, True], [False, False, True]])
    check([c, x, y], [gx, gy], [cv, np.ones((2, 3)), np.ones((1, 3))],
          [cv.astype("float64"), (~cv).sum(axis=0, keepdims=True).astype("float64")])


def test_maximum_tie_gives_the_gradient_to_one_input_only():
    x, y = T.dvector("x"), T.dvector("y")
    gx, gy = symrnn.grad(T.maximum(x, y).sum(), [x, y])
    check([x, y], gx + gy, [np.array([1.0, 2.0]), np.array([1.0, 0.0])], np.array([1.0, 1.0]))


def test_gradient_through_cast_comes_back_in_the_input_dtype():
    x = T.dvector("x")
    g = symrnn.grad((T.cast(x, "float32") * 3).sum(), x)
    assert g.dtype == "float64"
    check([x], g, [np.array([1.0, 2.0])], np.array([3.0, 3.0]))


def test_gradient_of_a_float32_graph_is_float32():
    x = T.fvector("x")
    g = symrnn.grad((T.tanh(x) * 2).sum(), x)
    assert g.dtype == "float32"
    a = np.array([0.5, -1.0], dtype="float32")
    check([x], g, [a], (2 * (1 - np.tanh(a) ** 2)).astype("float32"))


def test_no_gradient_into_integers_is_zeros():
    i = T.ivector("i")
    x = T.dvector("x")
    g = symrnn.grad((x * i).sum(), i, disconnected_inputs="ignore")
    check([x, i], g, [np.ones(2), np.array([1, 2], "int32")], np.zeros(2))


def test_numpy_array_on_the_left_defers_to_the_variable():
    x = T.dvector("x")
    out = np.array([1.0, 2.0]) + x
    assert isinstance(out, symrnn.tensor.Variable)


def test_pow_gradients_at_zero_are_finite():
    # d/dy x ** y = x ** y log x -> 0 where x == 0 (y > 0); d/dx x ** 0 = 0 even at x == 0
    x, y = T.dvector("x"), T.dvector("y")
    gx, gy = symrnn.grad((x ** y).sum(), [x, y])
    with np.errstate(all="raise"):
        check([x, y], [gx, gy], [np.array([0.0, 0.0, 2.0]), np.array([2.0, 0.0, 3.0])],
              [np.array([0.0, 0.0, 12.0]), np.array([0.0, 0.0, 8.0 * np.log(2.0)])])


def test_elementwise_square_of_one_variable_needs_no_runtime_check():
    x = T.dmatrix("x")
    f = symrnn.function([x], x * x)
    assert "if not" not in f.source
    y = T.dmatrix("y")
    assert "if not" in symrnn.function([x, y], x * y).source
