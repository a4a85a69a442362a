"""``config.kernels = "numba"``: fused arithmetic runs as one numba kernel per node, and computes what the
NumPy code computes, bit for bit.  (Loops small enough to run as whole numba functions are tested in
tests/test_numba_loops.py; here every loop is kept a NumPy loop, so that its fused nodes are kernels.)"""

import re

import numpy as np
import pytest
from helpers import lstm_training_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_random_graphs import build, programs, symbolic_inputs

import symrnn
import symrnn.tensor as T
from symrnn import config
from symrnn.compile import numba_kernels, numba_loops
from symrnn.rewrite.fusion import fuse_elementwise

KERNEL_CALL = re.compile(r"_numba_kernel\d+\(")  # a call of a bound kernel in the generated source


@pytest.fixture
def numba_kernels_on(monkeypatch):
    pytest.importorskip("numba", reason="numba is optional (pip install numba); config.kernels='numba' needs it")
    monkeypatch.setattr(numba_loops, "STEP_LIMIT", {"math": -1, "arithmetic": -1})  # every loop a NumPy loop
    config.kernels = "numba"
    try:
        yield
    finally:
        config.kernels = "numpy"


def compiled_both_ways(inputs, outputs):
    """``(NumPy-only function, numba-kernel function)``, both FAST_RUN."""
    before = config.kernels
    try:
        config.kernels = "numpy"
        plain = symrnn.function(inputs, outputs, on_unused_input="ignore")
        config.kernels = "numba"
        fast = symrnn.function(inputs, outputs, on_unused_input="ignore")
    finally:
        config.kernels = before
    return plain, fast


@pytest.mark.usefixtures("numba_kernels_on")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_lstm_training_step_is_the_same_bit_for_bit(dtype):
    config.floatX = dtype
    try:
        x, outputs = lstm_training_graph(3, 5)
        plain, fast = compiled_both_ways([x], outputs)
    finally:
        config.floatX = "float64"
    assert KERNEL_CALL.search(fast.source) and not KERNEL_CALL.search(plain.source)
    for seed in (1, 2):
        value = np.random.default_rng(seed).normal(size=(6, 4, 3)).astype(dtype)
        for a, b in zip(plain(value), fast(value)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.usefixtures("numba_kernels_on")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(programs(), st.integers(0, 2**31 - 1))
def test_random_graphs_agree_with_the_reference(program, seed):
    shapes, steps = program
    inputs = symbolic_inputs(shapes)
    out = build(inputs, steps)
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s) for s in shapes]
    plain, fast = compiled_both_ways(inputs, out)
    reference = symrnn.function(inputs, out, on_unused_input="ignore", mode="reference")
    got, want = fast(*values), reference(*values)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got, plain(*values))


def test_only_arithmetic_becomes_a_kernel():
    x, b = T.matrix("x"), T.vector("b")
    [arithmetic] = fuse_elementwise([(x + b) * x - 1.0])
    [with_tanh] = fuse_elementwise([T.tanh(x + b) * x])
    source = numba_kernels.kernel_source(arithmetic.owner)
    assert source is not None and "a1[i1]" in source  # b broadcasts along the rows
    assert numba_kernels.kernel_source(with_tanh.owner) is None  # NumPy's tanh is much faster than numba's


def test_numba_kernels_without_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(numba_kernels, "available", lambda: False)
    x = T.matrix("x")
    config.kernels = "numba"
    try:
        with pytest.raises(ImportError, match=r"pip install \"symrnn\[numba\]\""):
            symrnn.function([x], x * 2.0 + 1.0)
    finally:
        config.kernels = "numpy"


def test_the_kernels_flag_is_validated():
    with pytest.raises(ValueError, match="kernels"):
        config.kernels = "cuda"
    assert config.kernels == "numpy"


@pytest.mark.usefixtures("numba_kernels_on")
@pytest.mark.parametrize("shapes", [[(3, 1), (1, 4)], [(4,), (2, 3, 4)], [(2, 3, 4), (1, 3, 1)], [(5,), (5,)]])
def test_broadcasting_kernels_agree_with_numpy(shapes):
    a, b = (T.tensor("float64", s, name=n) for s, n in zip(shapes, "ab"))
    out = T.switch(a > b, a * b - 2.0, (a - b) / (1.0 + b * b)) + T.maximum(a, -b)
    plain, fast = compiled_both_ways([a, b], out)
    assert KERNEL_CALL.search(fast.source), fast.source
    rng = np.random.default_rng(3)
    values = [rng.normal(size=s) for s in shapes]
    np.testing.assert_array_equal(fast(*values), plain(*values))
    reference = symrnn.function([a, b], out, mode="reference")
    np.testing.assert_allclose(fast(*values), reference(*values), rtol=1e-12)
