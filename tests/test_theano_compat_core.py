"""Theano scripts that run with only their imports changed (issue 14): truth values, switch conditions,
``get_value``, ``Out``, ``on_unused_input`` and which ``except`` catches symrnn's errors.

Expected values come from NumPy or from Theano's documented behaviour
(``theano/tensor/var.py``, ``theano/compile/io.py``, ``theano.function``'s
defaults), never from symrnn itself.
"""

import numpy as np
import pytest
from helpers import assert_user_error, check

import symrnn
import symrnn.tensor as T
from symrnn.compile.function import In as InFromFunction
from symrnn.compile.function import UnusedInputError
from symrnn.compile.io import In, Out
from symrnn.graph import GraphNdimError, GraphShapeError, GraphTypeError

MODES = ("FAST_RUN", "FAST_COMPILE", "reference")


# --------------------------------------------------------------------------- finding 1: truth values


def build_layer(input=None, persistent=None):  # noqa: A002 - the Theano idiom under test
    if not input:
        input = T.matrix("input")
    if persistent:
        return input * persistent
    return input * 2


def test_variables_are_true_as_in_theano():
    x = T.matrix("x")
    assert bool(x) and bool(x + 1) and bool(T.constant(0.0)) and bool(symrnn.shared(0.0))
    assert build_layer().owner.inputs[0].name == "input"
    assert build_layer(x).owner.inputs[0] is x
    w = symrnn.shared(np.float64(3.0), name="w")
    f = symrnn.function([x], build_layer(x, w))
    np.testing.assert_array_equal(f(np.ones((1, 2))), [[3.0, 3.0]])


@pytest.mark.parametrize("compare, sign", [
    (lambda a, b: a < b, "<"), (lambda a, b: a <= b, "<="), (lambda a, b: a > b, ">"), (lambda a, b: a >= b, ">="),
    (T.eq, "=="), (T.neq, "!="),
])
def test_comparisons_refuse_a_truth_value(compare, sign):
    x, y = T.vector("x"), T.vector("y")
    with pytest.raises(TypeError) as info:
        if compare(x, y):
            pass
    assert_user_error(info, f"x {sign} y", "T.switch")
    assert isinstance(info.value, GraphTypeError)


def test_chained_comparisons_are_refused_not_silently_wrong():
    a, b, c = T.scalars("a", "b", "c")
    with pytest.raises(TypeError, match="a < b"):
        a < b < c  # noqa: B015 - Python evaluates (a < b) and (b < c)


def test_other_bool_results_are_true():
    """Theano refuses only comparison results; a logical op's result is an ordinary variable."""
    x = T.vector("x")
    assert bool(T.isnan(x)) and bool(T.invert(x > 0)) and bool(T.cast(x > 0, "float64"))


# --------------------------------------------------------------------------- finding 4: switch conditions


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "bool"])
@pytest.mark.parametrize("mode", MODES)
def test_switch_reads_a_number_as_non_zero_is_true(dtype, mode):
    """A float shared ``use_noise`` (the dropout idiom) in FAST_RUN, where the chain is fused."""
    a = T.matrix("a")
    use_noise = symrnn.shared(np.asarray(1, dtype=dtype), name="use_noise")
    f = symrnn.function([a], T.switch(use_noise, a * 2 + 1, a * 3 - 1), mode=mode)
    av = np.array([[1.0, -2.0]])
    np.testing.assert_array_equal(f(av), av * 2 + 1)
    use_noise.set_value(np.asarray(0, dtype=dtype))
    np.testing.assert_array_equal(f(av), av * 3 - 1)


def test_switch_on_an_elementwise_numeric_condition_matches_numpy():
    c, a, b = T.matrix("c"), T.matrix("a"), T.matrix("b")
    cv = np.array([[0.0, -0.5, np.nan], [2.0, 0.0, -0.0]])
    av, bv = np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(2, 3)
    check([c, a, b], T.switch(c, T.exp(a) * 2, b + 1), [cv, av, bv], np.where(cv, np.exp(av) * 2, bv + 1))
    i = T.ivector("i")
    iv = np.array([0, 3, -1], dtype="int32")
    check([i, a], T.switch(i, a, 0.5), [iv, av], np.where(iv, av, 0.5))


def test_switch_on_a_bool_condition_emits_the_same_code():
    """The truth-value column adds nothing where the condition is already bool."""
    c, a = T.tensor("bool", (None, None), name="c"), T.matrix("a")
    out = T.switch(c, a * 2 + 1, a * 3 - 1)
    assert [n.op.name for n in symrnn.graph.toposort([out])] == ["mul", "add", "mul", "sub", "switch"]
    source = symrnn.function([c, a], out).source
    assert "where=in0)" in source and "!= 0" not in source and "neq" not in source
    number = T.switch(T.matrix("n"), a * 2 + 1, a * 3 - 1)  # a number: read as != 0, then the same code
    assert [n.op.name for n in symrnn.graph.toposort([number])] == ["neq", "mul", "add", "mul", "sub", "switch"]


# --------------------------------------------------------------------------- finding 5: get_value


def test_get_value_accepts_return_internal_type():
    w = symrnn.shared(np.arange(3.0), name="w")
    inner = w.get_value(borrow=True, return_internal_type=True)
    assert isinstance(inner, np.ndarray) and inner is w.get_value(borrow=True)
    copied = w.get_value(return_internal_type=True)
    assert copied is not inner
    np.testing.assert_array_equal(copied, np.arange(3.0))


# --------------------------------------------------------------------------- finding 6: In and Out


def test_in_lives_in_io_and_stays_importable_from_function():
    assert In is InFromFunction is symrnn.In


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_out_borrow_returns_the_internal_array(mode):
    w = symrnn.shared(np.arange(3.0), name="w")
    x = T.vector("x")
    borrowed = symrnn.function([x], [Out(w, borrow=True), Out(x, borrow=True), Out(x * 2)], mode=mode)
    xv = np.array([1.0, 2.0, 3.0])
    got_w, got_x, got_2x = borrowed(xv)
    assert got_w is w.get_value(borrow=True) and got_x is xv  # the internal arrays, as Theano documents
    np.testing.assert_array_equal(got_2x, xv * 2)
    copying = symrnn.function([x], [w, Out(x, borrow=False)], mode=mode)
    got_w, got_x = copying(xv)
    assert got_w is not w.get_value(borrow=True) and not np.shares_memory(got_x, xv)
    np.testing.assert_array_equal(got_w, np.arange(3.0))
    single = symrnn.function([x], Out(x + 1, borrow=True), mode=mode)
    np.testing.assert_array_equal(single(xv), xv + 1)  # one Out: one array, as for one variable


def test_out_needs_a_variable():
    with pytest.raises(TypeError, match="not a symbolic variable"):
        Out(3.0)


# --------------------------------------------------------------------------- finding 7: on_unused_input


def test_unused_inputs_raise_by_default_as_in_theano():
    """Theano's function() takes on_unused_input=None, which means its flag, whose default is 'raise'."""
    x, y = T.vector("x"), T.vector("unused")
    for kwargs in ({}, {"on_unused_input": None}, {"on_unused_input": "raise"}):
        with pytest.raises(UnusedInputError, match="unused"):
            symrnn.function([x, y], x * 2, **kwargs)
    with pytest.warns(UserWarning, match="unused"):
        f = symrnn.function([x, y], x * 2, on_unused_input="warn")
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])
    np.testing.assert_array_equal(symrnn.function([x, y], x * 2, on_unused_input="ignore")([1.0], [5.0]), [2.0])


# --------------------------------------------------------------------------- finding 8: error classes


def test_shape_errors_satisfy_both_excepts():
    """Theano raises TypeError for a broadcast pattern that does not fit (it is part of its type), and
    ValueError for a bad shape; symrnn's GraphShapeError is both."""
    a, b = T.matrix("a", shape=(2, 3)), T.matrix("b", shape=(4, 3))
    for kind in (TypeError, ValueError, GraphShapeError):
        with pytest.raises(kind):
            a + b
    row = T.row("row")
    f = symrnn.function([row], row * 2)
    for kind in (TypeError, ValueError):  # Theano: TypeError for a non-1 size on a broadcastable dim
        with pytest.raises(kind, match="shape"):
            f(np.ones((3, 2)))


def test_ndim_errors_of_as_tensor_variable_are_value_errors_too():
    """Theano's as_tensor_variable(x, ndim=...) raises ValueError; elsewhere an ndim mistake is a TypeError."""
    for kind in (ValueError, TypeError, GraphTypeError, GraphNdimError):
        with pytest.raises(kind):
            T.as_tensor_variable(T.matrix("m"), ndim=1)
        with pytest.raises(kind):
            T.constant(np.ones((2, 2)), ndim=1)


def test_dtype_and_ndim_errors_of_a_call_are_type_errors_only():
    x = T.ivector("x")
    f = symrnn.function([x], x + 1)
    with pytest.raises(TypeError) as info:
        f(np.ones(2))  # a float array into an int input: precision would be lost
    assert not isinstance(info.value, ValueError)
    with pytest.raises(TypeError, match="dimension"):
        f(np.ones((2, 2), dtype="int32"))


def test_switch_kernels_read_a_number_as_non_zero_is_true():
    """numba and CUDA C kernels see the condition as ``x != 0`` (NaN and -0.0 as NumPy's where reads them)."""
    from symrnn.compile import numba_kernels
    from symrnn.compile.backends.cupy_backend import kernel_source as cuda_source
    from symrnn.rewrite.fusion import fuse_elementwise

    c, a = T.matrix("c"), T.matrix("a")
    [fused] = fuse_elementwise([T.switch(c, a * 2 + 1, a - 3)])
    assert "!= np.float64(0.0)" in numba_kernels.kernel_source(fused.owner)
    assert "!=" in cuda_source(fused.owner).operation
    if not numba_kernels.available():
        pytest.skip("numba is not installed")
    old = symrnn.config.kernels
    symrnn.config.kernels = "numba"
    try:
        f = symrnn.function([c, a], T.switch(c, a * 2 + 1, a - 3))
    finally:
        symrnn.config.kernels = old
    assert "numba_kernel" in f.source
    cv = np.array([[0.0, np.nan, -0.0], [1e-300, -2.0, 0.0]])
    av = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(cv, av), np.where(cv, av * 2 + 1, av - 3))


def test_an_input_update_of_the_wrong_type_is_refused_with_the_users_line():
    import symrnn
    from symrnn.compile.io import In

    x, s = T.dscalar("x"), T.dscalar("s")
    with pytest.raises(TypeError, match=r"In: the update of input 's'.*test_theano_compat_core.py"):
        symrnn.function([x, In(s, value=1.0, update=T.stack([s, x]))], [])


def test_input_states_survive_pickling_and_keep_their_values():
    import pickle

    import symrnn

    x, s = T.dscalar("x"), T.dscalar("s")
    f = symrnn.function([x, ((s, s + x), 10.0)], s * 2)
    assert float(f(1.0)) == 20.0 and float(f["s"]) == 11.0
    g = pickle.loads(pickle.dumps(f))
    assert float(g["s"]) == 11.0 and float(g(2.0)) == 22.0 and float(g["s"]) == 13.0
    assert float(f["s"]) == 11.0  # the copy's state is its own
    with pytest.raises(KeyError):
        f["nothing"]
