"""Theano's lazy ``ifelse``: values against a Python ``if``, laziness, gradients against finite differences, and
every mode agreeing."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_user_error

import symrnn
import symrnn.tensor as T
from symrnn.graph import Apply, GraphTypeError, Op
from symrnn.scan import scan
from symrnn.scan.ifelse import IfElse, ifelse

MODES = ["FAST_RUN", "FAST_COMPILE", "reference"]


class Counted(Op):
    """Identity that counts its runs (its default ``emit`` calls ``perform``, so every mode counts)."""

    __props__ = ()

    def __init__(self) -> None:
        self.runs = 0

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        self.runs += 1
        return [np.array(inputs[0], copy=True)]

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


@pytest.mark.parametrize("mode", MODES)
def test_values_match_a_python_if(mode):
    a, b, x, y = T.dscalar("a"), T.dscalar("b"), T.dmatrix("x"), T.dmatrix("y")
    z = ifelse(T.lt(a, b), T.tanh(x).sum() * a, (y ** 2).mean())
    f = symrnn.function([a, b, x, y], z, mode=mode)
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(3, 4)), rng.normal(size=(2, 5))
    for av, bv in [(1.0, 2.0), (3.0, 2.0), (2.0, 2.0)]:
        want = np.tanh(xv).sum() * av if av < bv else (yv ** 2).mean()
        np.testing.assert_allclose(f(av, bv, xv, yv), want, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_only_the_branch_taken_runs(mode):
    then_op, else_op = Counted(), Counted()
    c, x = T.iscalar("c"), T.dvector("x")
    z = ifelse(c, then_op(T.exp(x)) * 2, else_op(x + 1))
    f = symrnn.function([c, x], z, mode=mode)
    np.testing.assert_allclose(f(1, [0.0, 1.0]), 2 * np.exp([0.0, 1.0]))
    assert (then_op.runs, else_op.runs) == (1, 0)
    np.testing.assert_allclose(f(0, [0.0, 1.0]), [1.0, 2.0])
    np.testing.assert_allclose(f(0, [0.0, 1.0]), [1.0, 2.0])
    assert (then_op.runs, else_op.runs) == (1, 2)


@pytest.mark.parametrize("mode", MODES)
def test_the_branch_not_taken_may_fail(mode):
    """Reading row 10 of a 3-row matrix raises; in the branch not taken it never runs."""
    c, x = T.iscalar("c"), T.dmatrix("x")
    f = symrnn.function([c, x], ifelse(c, x[10], x[0]), mode=mode)
    np.testing.assert_array_equal(f(0, np.arange(6.0).reshape(3, 2)), [0.0, 1.0])
    with pytest.raises(IndexError):
        f(1, np.arange(6.0).reshape(3, 2))


@pytest.mark.parametrize("mode", MODES)
def test_lists_of_values_and_shared_work(mode):
    c, x = T.iscalar("c"), T.dvector("x")
    common = T.exp(x)  # both branches read it: computed once, before the if
    lo, hi = ifelse(c, [common.sum(), common * 2], [common.max(), common - 1])
    f = symrnn.function([c, x], [lo, hi], mode=mode)
    xv = np.array([0.5, -1.0])
    got = f(1, xv)
    np.testing.assert_allclose(got[0], np.exp(xv).sum())
    np.testing.assert_allclose(got[1], np.exp(xv) * 2)
    got = f(0, xv)
    np.testing.assert_allclose(got[0], np.exp(xv).max())
    np.testing.assert_allclose(got[1], np.exp(xv) - 1)
    assert isinstance(ifelse(c, (x, x), (x, x)), tuple)
    node = lo.owner
    assert isinstance(node.op, IfElse)
    inside = [str(n.op) for n in node.op.inner_nodes]
    assert "exp" not in inside  # shared by both branches: outside


@pytest.mark.parametrize("mode", MODES)
def test_an_input_returned_by_a_branch_is_a_copy(mode):
    c, x, y = T.iscalar("c"), T.dvector("x"), T.dvector("y")
    f = symrnn.function([c, x, y], ifelse(c, x, y), mode=mode)
    xv = np.array([1.0, 2.0])
    out = f(1, xv, np.zeros(2))
    out[0] = 99.0
    assert xv[0] == 1.0


@pytest.mark.parametrize("mode", MODES)
def test_gradient_is_an_ifelse_of_the_branch_gradients(mode):
    c, x, w = T.iscalar("c"), T.dvector("x"), T.dvector("w")
    cost = ifelse(c, (T.tanh(x) * w).sum(), (x ** 2).sum())
    gx, gw = symrnn.grad(cost, [x, w])
    f = symrnn.function([c, x, w], [gx, gw], mode=mode)
    xv, wv = np.array([0.3, -0.7]), np.array([1.5, 2.0])
    got = f(1, xv, wv)
    np.testing.assert_allclose(got[0], (1 - np.tanh(xv) ** 2) * wv)
    np.testing.assert_allclose(got[1], np.tanh(xv))
    got = f(0, xv, wv)
    np.testing.assert_allclose(got[0], 2 * xv)
    np.testing.assert_array_equal(got[1], [0.0, 0.0])  # the else branch does not read w


@pytest.mark.parametrize("taken", [0, 1])
def test_gradient_against_finite_differences(taken):
    def fn(x, w):
        return ifelse(T.constant(taken, dtype="int8") + 0 * T.cast(x.sum() > 0, "int8"),
                      T.tanh(T.dot(x, w)), T.sigmoid(x) * w.sum(axis=0).sum())

    rng = np.random.default_rng(1)
    symrnn.verify_grad(fn, [rng.normal(size=3), rng.normal(size=(3, 3))])


def test_ifelse_inside_a_scan_matches_a_python_loop():
    x = T.dvector("x")

    def step(v, acc):
        return ifelse(T.gt(v, 0), acc + v, acc * 0.5)

    out, _ = scan(step, sequences=x, outputs_info=T.constant(1.0))
    xv = np.array([1.0, -2.0, 3.0, -1.0])
    want, acc = [], 1.0
    for v in xv:
        acc = acc + v if v > 0 else acc * 0.5
        want.append(acc)
    for mode in MODES:
        np.testing.assert_allclose(symrnn.function([x], out, mode=mode)(xv), want)
    g = symrnn.grad(out[-1], x)
    fd = [(symrnn.function([x], out[-1])(xv + e) - symrnn.function([x], out[-1])(xv - e)) / 2e-6
          for e in np.eye(4) * 1e-6]
    np.testing.assert_allclose(symrnn.function([x], g)(xv), fd, atol=1e-6)


def test_generated_code_is_an_inline_if_with_no_user_string():
    c, x = T.iscalar("c"), T.dvector("x\nimport os")
    f = symrnn.function([c, x], ifelse(c, T.exp(x), x * 2, name="evil\nname"))
    assert "if in0:" in f.source and "else:" in f.source
    for line in f.source.splitlines():  # the user's strings reach comments only, made safe
        if "import os" in line or "evil" in line:
            assert line.strip().startswith("#"), line


def test_mismatched_branches_are_errors_at_the_users_line():
    c, x, m = T.iscalar("c"), T.dvector("x"), T.dmatrix("m")
    with pytest.raises(GraphTypeError) as info:
        ifelse(c, x, m)
    assert_user_error(info, "number of dimensions", "float64(?,)", "float64(?, ?)")
    with pytest.raises(GraphTypeError) as info:
        ifelse(c, x, T.fvector("f"))
    assert_user_error(info, "dtype", "float32")
    with pytest.raises(ValueError) as info:
        ifelse(c, [x, x], [x])
    assert_user_error(info, "2 value(s)", "else branch has 1")
    with pytest.raises(GraphTypeError) as info:
        ifelse(x, x, x)
    assert_user_error(info, "condition must be a scalar")


def test_a_python_number_takes_the_other_branch_dtype():
    c, x = T.iscalar("c"), T.fscalar("x")
    z = ifelse(c, x, 0)
    assert z.dtype == "float32"
    assert symrnn.function([c, x], z)(0, np.float32(3.0)) == 0.0
