"""Theano's gradient and control-flow API: Lop, Rop, zero_grad, disconnected_grad, consider_constant,
grad_undefined, grad_not_implemented, grad's names, specify_shape, and the scan views (map, reduce, foldl,
foldr).  Each compares against NumPy, finite differences, a Python loop or Theano's documented behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_user_error

import symrnn
import symrnn.tensor as T
from symrnn import gradient
from symrnn.graph import Apply, GraphTypeError, Op
from symrnn.ops.gradops import ShapeMismatchError, specify_shape
from symrnn.scan import foldl, foldr, map, reduce, scan

MODES = ["FAST_RUN", "FAST_COMPILE", "reference"]
rng = np.random.default_rng(7)


def numeric_jacobian(fn, x, eps=1e-6):
    """d fn / d x by central differences, shaped fn(x).shape + x.shape."""
    out = np.asarray(fn(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        jac[(...,) + idx] = (np.asarray(fn(x + step)) - np.asarray(fn(x - step))) / (2 * eps)
    return jac


# ---------------------------------------------------------------- Lop and Rop


@pytest.mark.parametrize("mode", MODES)
def test_rop_is_the_jacobian_times_v(mode):
    W, V, x = T.dmatrix("W"), T.dmatrix("V"), T.dvector("x")
    y = T.tanh(T.dot(x, W))
    f = symrnn.function([W, V, x], gradient.Rop(y, W, V), mode=mode)
    Wv, Vv, xv = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), rng.normal(size=3)
    J = numeric_jacobian(lambda w: np.tanh(xv @ w), Wv)  # (2, 3, 2)
    np.testing.assert_allclose(f(Wv, Vv, xv), np.tensordot(J, Vv, axes=2), rtol=1e-6, atol=1e-8)


def test_rop_with_lists_sums_over_wrt_and_returns_a_list_for_a_list():
    x, y, vx, vy = T.dvector("x"), T.dvector("y"), T.dvector("vx"), T.dvector("vy")
    f1, f2 = x * y, T.exp(x)
    out = gradient.Rop([f1, f2], [x, y], [vx, vy])
    assert isinstance(out, list) and len(out) == 2
    f = symrnn.function([x, y, vx, vy], out)
    xv, yv, vxv, vyv = (rng.normal(size=3) for _ in range(4))
    got = f(xv, yv, vxv, vyv)
    np.testing.assert_allclose(got[0], yv * vxv + xv * vyv)
    np.testing.assert_allclose(got[1], np.exp(xv) * vxv)
    assert isinstance(gradient.Rop((f1,), x, vx), tuple)


def test_rop_of_an_output_that_does_not_depend_on_wrt():
    x, y, v = T.dvector("x"), T.dvector("y"), T.dvector("v")
    with pytest.raises(gradient.DisconnectedInputError):
        gradient.Rop(y * 2, x, v)
    z = gradient.Rop(y * 2, x, v, disconnected_outputs="ignore")
    np.testing.assert_array_equal(symrnn.function([y], z)([1.0, 2.0]), [0.0, 0.0])
    zero = gradient.Rop(gradient.zero_grad(x), x, v)  # Theano's test: zeros through zero_grad
    np.testing.assert_array_equal(symrnn.function([x, v], zero, on_unused_input="ignore")([1.0, 2.0], [3, 4]),
                                  [0.0, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_lop_is_v_times_the_jacobian(mode):
    W, v, x = T.dmatrix("W"), T.dvector("v"), T.dvector("x")
    y = T.tanh(T.dot(x, W))
    f = symrnn.function([W, v, x], gradient.Lop(y, W, v), mode=mode)
    Wv, vv, xv = rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)
    J = numeric_jacobian(lambda w: np.tanh(xv @ w), Wv)
    np.testing.assert_allclose(f(Wv, vv, xv), np.tensordot(vv, J, axes=1), rtol=1e-6, atol=1e-8)
    assert isinstance(gradient.Lop(y, [W, x], v), list)


def test_lop_and_rop_are_adjoint():
    """<u, J v> == <uᵀJ, v> for random u and v: the two products agree with each other."""
    x, u, v = T.dvector("x"), T.dvector("u"), T.dvector("v")
    y = T.sin(x) * x.sum()
    jv, uj = gradient.Rop(y, x, v), gradient.Lop(y, x, u)
    f = symrnn.function([x, u, v], [(u * jv).sum(), (uj * v).sum()])
    a, b = f(rng.normal(size=4), rng.normal(size=4), rng.normal(size=4))
    np.testing.assert_allclose(a, b, rtol=1e-12)


# ---------------------------------------------------------------- gradient-stopping identities


CASES = [  # Theano's own tests: (expression of x, what its gradient must equal)
    (lambda x, stop: x * stop(x), lambda x: x),
    (lambda x, stop: x * stop(T.exp(x)), lambda x: T.exp(x)),
    (lambda x, stop: x ** 2 * stop(x), lambda x: 2 * x ** 2),
]


@pytest.mark.parametrize("stop", [gradient.zero_grad, gradient.consider_constant, gradient.disconnected_grad])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_stopped_gradients_match_theanos_tests(stop, case):
    x = T.dmatrix("x")
    expr, want = CASES[case]
    a = rng.normal(size=(3, 3))
    got = symrnn.function([x], symrnn.grad(expr(x, stop).sum(), x))(a)
    np.testing.assert_allclose(got, symrnn.function([x], want(x))(a))
    np.testing.assert_allclose(symrnn.function([x], expr(x, stop))(a), symrnn.function([x], expr(x, lambda v: v))(a))


def test_zero_grad_keeps_the_input_connected_and_disconnected_grad_does_not():
    x = T.dvector("x")
    np.testing.assert_array_equal(symrnn.function([x], symrnn.grad(gradient.zero_grad(x).sum(), x))([1.0, 2.0]),
                                  [0.0, 0.0])
    with pytest.raises(gradient.DisconnectedInputError) as info:
        symrnn.grad(gradient.disconnected_grad(x).sum(), x)
    assert_user_error(info, "disconnected_grad", "'x'")
    g = symrnn.grad((x + gradient.disconnected_grad(x)).sum(), x)  # another path: connected
    np.testing.assert_array_equal(symrnn.function([x], g)([1.0, 2.0]), [1.0, 1.0])


def test_the_identities_emit_a_view_not_a_copy():
    x = T.dvector("x")
    f = symrnn.function([x], gradient.zero_grad(x) * 2)
    assert "in0[...]" in f.source and "copy" not in f.source


def test_grad_wrt_a_variable_in_consider_constant_is_its_gradient():
    """Theano's test_grad_constant: consider_constant only cuts what is behind x, so d(x+y)/dx is 1, the
    gradient with respect to a constant in the same place."""
    x, y = T.dscalar("x"), T.dscalar("y")
    g_x = symrnn.grad(x * y + x, x, consider_constant=[x])
    assert symrnn.function([x, y], g_x, on_unused_input="ignore")(1.0, 0.5) == 1.5
    z = T.exp(x)
    g_z = symrnn.grad(z * y, z, consider_constant=[z])  # and a computed variable: nothing flows behind it
    assert symrnn.function([x, y], g_z, on_unused_input="ignore")(1.0, 0.5) == 0.5
    with pytest.raises(gradient.DisconnectedInputError) as info:
        symrnn.grad(z * y, x, consider_constant=[z])
    assert_user_error(info, "consider_constant")


# ---------------------------------------------------------------- markers and names


class Opaque(Op):
    """Doubles its input; its gradient is the marker ``how`` returns."""

    __props__ = ("how",)

    def __init__(self, how):
        self.how = how

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        return [inputs[0] * 2]

    def grad(self, node, output_grads):
        return [self.how(self, 0, node.inputs[0], "for the test")]


def test_grad_undefined_and_grad_not_implemented_raise_distinct_errors():
    x = T.dvector("x")
    with pytest.raises(gradient.NullTypeGradError) as info:
        symrnn.grad(Opaque(gradient.grad_undefined)(x).sum(), x)
    assert not isinstance(info.value, NotImplementedError)
    assert_user_error(info, "undefined", "for the test", "'x'")
    with pytest.raises(NotImplementedError) as info:
        symrnn.grad(Opaque(gradient.grad_not_implemented)(x).sum(), x)
    assert isinstance(info.value, TypeError)  # Theano's NullTypeGradError is a TypeError
    assert_user_error(info, "not implemented", "for the test")
    y = T.dvector("y")  # a marker that no requested gradient needs is no error
    g = symrnn.grad((Opaque(gradient.grad_not_implemented)(x) + y).sum(), y)
    np.testing.assert_array_equal(symrnn.function([x, y], g, on_unused_input="ignore")([1.0], [2.0]), [1.0])


def test_grad_names_results_as_theano_does():
    x, y = T.dvector("x"), T.dvector("y")
    cost = (x * y).sum()
    cost.name = "cost"
    gx, gy = symrnn.grad(cost, [x, y])
    assert (gx.name, gy.name) == ("(dcost/dx)", "(dcost/dy)")
    assert [g.name for g in symrnn.grad(cost, [x, y], add_names=False)] == [None, None]
    assert symrnn.grad((x * y).sum(), x).name is None  # an unnamed cost: no name
    f = symrnn.function([x, y], gx * 2)  # the name reaches the source only in a comment
    for line in f.source.splitlines():
        if "dcost" in line:
            assert line.strip().startswith("#"), line
    unnamed = symrnn.function([x, y], symrnn.grad((x * y).sum(), x, add_names=False) * 2)

    def code(source):
        return [line for line in source.splitlines() if not line.strip().startswith("#")]

    assert code(f.source) == code(unnamed.source)  # the code itself is the same, names or not


# ---------------------------------------------------------------- specify_shape


@pytest.mark.parametrize("mode", MODES)
def test_specify_shape_checks_at_run_time_naming_the_variable_and_line(mode):
    x = T.dmatrix("x")
    y = specify_shape(x, (2, 3))
    assert y.type.shape == (2, 3)
    f = symrnn.function([x], y * 2, mode=mode)
    np.testing.assert_array_equal(f(np.ones((2, 3))), np.full((2, 3), 2.0))
    with pytest.raises(ValueError) as info:
        f(np.ones((3, 2)))
    assert isinstance(info.value, (ShapeMismatchError, AssertionError))
    message = str(info.value)
    assert "'x'" in message and "(3, 2)" in message and "(2, 3)" in message
    assert "test_theano_gradient_api.py" in message


def test_specify_shape_with_a_symbolic_size_and_its_gradient():
    x, n = T.dvector("x"), T.lscalar("n")
    y = specify_shape(x, [n])
    f = symrnn.function([x, n], (y ** 2).sum())
    assert f([1.0, 2.0], 2) == 5.0
    with pytest.raises(ValueError, match="specify_shape"):
        f([1.0, 2.0], 3)
    g = symrnn.function([x, n], symrnn.grad((y ** 2).sum(), x))
    np.testing.assert_array_equal(g([1.0, 2.0], 2), [2.0, 4.0])


def test_specify_shape_that_contradicts_the_static_shape_is_an_error_at_the_users_line():
    x = T.tensor("float64", (2, None), name="x")
    with pytest.raises(ValueError) as info:
        specify_shape(x, (3, 4))
    assert_user_error(info, "axis 0", "static size 2")
    with pytest.raises(TypeError) as info:
        specify_shape(x, (3,))
    assert_user_error(info, "1 size(s)", "2-d")


# ---------------------------------------------------------------- scan views and scan's arguments


@pytest.mark.parametrize("mode", MODES)
def test_map_reduce_foldl_foldr_against_python_loops(mode):
    x, w = T.dvector("x"), T.dscalar("w")
    xv, wv = np.array([1.0, 2.0, -3.0, 0.5]), 1.5
    mapped, _ = map(lambda v, w: T.tanh(v) * w, sequences=x, non_sequences=w)
    np.testing.assert_allclose(symrnn.function([x, w], mapped, mode=mode)(xv, wv), [np.tanh(v) * wv for v in xv])

    def horner(v, acc):
        return acc * 2 + v

    total, _ = reduce(horner, sequences=x, outputs_info=T.constant(0.0))
    left, _ = foldl(horner, sequences=x, outputs_info=T.constant(0.0))
    right, _ = foldr(horner, sequences=x, outputs_info=T.constant(0.0))
    acc_l = acc_r = 0.0
    for v in xv:
        acc_l = acc_l * 2 + v
    for v in xv[::-1]:
        acc_r = acc_r * 2 + v
    got = symrnn.function([x], [total, left, right], mode=mode)(xv)
    np.testing.assert_allclose(got, [acc_l, acc_l, acc_r])
    both, _ = reduce(lambda v, a, b: (a + v, b * v), sequences=x, outputs_info=[T.constant(0.0), T.constant(1.0)])
    assert isinstance(both, list)
    np.testing.assert_allclose(symrnn.function([x], both, mode=mode)(xv), [xv.sum(), np.prod(xv)])


def test_scan_accepts_an_empty_outputs_info_as_theano_does():
    x = T.dvector("x")
    out, _ = scan(lambda v: v * 2, sequences=x, outputs_info=[])
    np.testing.assert_array_equal(symrnn.function([x], out)([1.0, 2.0]), [2.0, 4.0])
    a, b = scan(lambda v: (v * 2, v + 1), sequences=x, outputs_info=())[0]
    np.testing.assert_array_equal(symrnn.function([x], [a, b])([1.0]), [[2.0], [2.0]])


@pytest.mark.parametrize("bad", [
    lambda x: scan(lambda v: v, sequences=dict(input=x, taps=[-1.5]))[0],
    lambda x: scan(lambda v, w: v, sequences=dict(input=x, taps=[-1, -1]))[0],
    lambda x: scan(lambda h: h, outputs_info=dict(initial=x, taps=[1]), n_steps=2)[0],
    lambda x: scan(lambda h, g: h, outputs_info=dict(initial=x, taps=[-1, -1]), n_steps=2)[0],
    lambda x: scan(lambda h: h, outputs_info=dict(initial=None, taps=[-1]), n_steps=2)[0],
    lambda x: scan(lambda v: (v, v), sequences=x, outputs_info=[None])[0],
])
def test_bad_scan_arguments_are_value_errors_as_in_theano_and_type_errors_as_before(bad):
    x = T.dvector("x")
    with pytest.raises(ValueError) as info:
        bad(x)
    assert isinstance(info.value, GraphTypeError)
    assert "scan" in str(info.value)


def test_grad_clip_and_grad_scale_match_theanos_docstrings():
    """Theano's docstrings: grad(grad_clip(x, -1, 1)**2) at 2.0 is 1.0 (4.0 unclipped); grad_scale(sin(x), -1)
    reverses cos(2) = -0.416..."""
    x = T.dscalar("x")
    f = symrnn.function([x], [symrnn.grad(gradient.grad_clip(x, -1, 1) ** 2, x), symrnn.grad(x ** 2, x)])
    np.testing.assert_allclose(f(2.0), [1.0, 4.0])
    np.testing.assert_allclose(f(0.25), [0.5, 0.5])
    g = symrnn.function([x], symrnn.grad(gradient.grad_scale(T.sin(x), -1.0), x))
    np.testing.assert_allclose(g(2.0), -np.cos(2.0))
    assert symrnn.function([x], gradient.grad_scale(T.sin(x), -1.0))(2.0) == np.sin(2.0)
