"""NanGuardMode (Theano's name) stops at the first NaN, Inf or huge value and names the node, its op, the
user's line and the loop step, in compiled code; DebugMode checks what Theano's does beyond comparing values."""

import inspect
import pickle

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn.compile.nanguardmode import NanGuardError, NanGuardMode
from symrnn.graph import Apply, Op, TensorType


def line_of(marker: str) -> str:
    source, first = inspect.getsourcelines(inspect.currentframe().f_back.f_code)
    return f"{__file__}:{first + next(i for i, text in enumerate(source) if marker in text)}"


def test_a_nan_names_the_op_the_users_line_and_runs_in_compiled_code():
    x = T.dvector("x")
    y = T.log(x)  # the NaN comes from here
    f = symrnn.function([x], (y * 2).sum(), mode=NanGuardMode())
    assert "guard" in f.source  # compiled code with checks, not the interpreter
    np.testing.assert_allclose(f(np.array([1.0, np.e])), 2.0)
    with pytest.raises(NanGuardError) as info:
        f(np.array([1.0, -1.0]))
    message = str(info.value)
    assert "log produced NaN" in message and "'x': float64(?,)" in message
    assert line_of("the NaN comes from here") in message
    assert isinstance(info.value, AssertionError)  # as Theano's


@pytest.mark.parametrize("flags,value,problem", [
    ({}, 1000.0, "Inf"),
    ({"inf_is_error": False}, 1000.0, None),
    ({}, 30.0, "a huge value"),
    ({"big_is_error": False}, 30.0, None),
])
def test_inf_and_huge_values_follow_their_flags(flags, value, problem):
    x = T.dscalar("x")
    f = symrnn.function([x], T.exp(x) - 1, mode=NanGuardMode(**flags))
    if problem is None:
        f(value)
        return
    with pytest.raises(NanGuardError, match=f"exp produced {problem}"):
        f(value)


def test_inside_a_loop_the_error_names_the_step():
    x = T.dvector("x")

    def step(x_t, acc):
        return acc + T.sqrt(x_t)  # negative at step 3

    out, _ = symrnn.scan(step, sequences=x, outputs_info=T.constant(0.0))
    f = symrnn.function([x], out[-1], mode=NanGuardMode())
    with pytest.raises(NanGuardError) as info:
        f(np.array([1.0, 4.0, 9.0, -1.0, 16.0]))
    message = str(info.value)
    assert "sqrt produced NaN" in message and "at loop step 3" in message
    assert line_of("negative at step 3") in message


def test_a_nan_that_comes_in_is_named_as_an_input():
    x = T.dvector("x")
    w = symrnn.shared(np.array([1.0, np.nan]), name="w")
    f = symrnn.function([x], x * w, mode=NanGuardMode())
    with pytest.raises(NanGuardError, match="shared variable 'w'"):
        f(np.ones(2))
    with pytest.raises(NanGuardError, match="input 'x'"):
        f(np.array([np.nan, 1.0]))


def test_a_pickled_nan_guard_function_still_guards():
    x = T.dvector("x")
    f = pickle.loads(pickle.dumps(symrnn.function([x], T.log(x), mode=NanGuardMode(inf_is_error=False))))
    assert f.mode == "NanGuardMode" and not f.nan_guard.inf_is_error
    with pytest.raises(NanGuardError):
        f(np.array([-1.0]))
    assert np.isneginf(f(np.array([0.0])))[0]


# ---------------------------------------------------------------- DebugMode


class WritesIntoItsInput(Op):
    """A broken op: doubles its input in place (perform and emitted code alike)."""

    def make_node(self, x):
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        inputs[0] *= 2
        return [inputs[0].copy()]

    def emit(self, node, inputs, outputs, ctx):
        return f"{inputs[0]} *= 2\n{outputs[0]} = {inputs[0]}.copy()"


class LiesAboutItsDtype(Op):
    """A broken op: promises float64 and computes float32 in its emitted code."""

    def make_node(self, x):
        return Apply(self, [x], [TensorType("float64", x.type.shape)])

    def perform(self, node, inputs):
        return [inputs[0].astype("float64")]

    def emit(self, node, inputs, outputs, ctx):
        return f"{outputs[0]} = {inputs[0]}.astype('float32')"


def test_debugmode_finds_an_op_that_writes_into_its_input():
    x = T.dvector("x")
    f = symrnn.function([x], WritesIntoItsInput()(x) + 1, mode="DebugMode")
    with pytest.raises(AssertionError, match="wrote into input 'x'"):
        f(np.ones(3))
    g = symrnn.function([x], WritesIntoItsInput()(x * 1), mode="reference")
    g(np.ones(3))  # the reference does not check; DebugMode's reference run does:
    from symrnn.interpreter import OpContractError, evaluate

    y = WritesIntoItsInput()(x)
    with pytest.raises(OpContractError, match="WritesIntoItsInput.*wrote into its input 0"):
        evaluate([y], {id(x): np.ones(2)}, check_inputs=True)


def test_debugmode_checks_each_compiled_value_against_the_type_inferred_at_build_time():
    x = T.dvector("x")
    y = LiesAboutItsDtype()(x)  # promises float64
    f = symrnn.function([x], y, mode="DebugMode")
    with pytest.raises(AssertionError, match=r"LiesAboutItsDtype computed float32\(2,\), but its node promised "
                                             r"float64\(\?,\)"):
        f(np.ones(2))
    np.testing.assert_array_equal(symrnn.function([x], y, mode="FAST_COMPILE")(np.ones(2)), np.ones(2))
