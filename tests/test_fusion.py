"""Elementwise fusion: the rewrite, the FusedElemwise op, and the NumPy code it generates.

Every test compares against the graph as built (run by the reference
interpreter), never against the fused code itself.  Fused graphs are compiled
with mode="FAST_COMPILE", so they run exactly as fused, whether or not the
FAST_RUN pipeline calls the rewrite.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.nn
import symrnn.tensor as T
from symrnn.graph import Constant, toposort
from symrnn.ops.elemwise import Elemwise
from symrnn.ops.fused import FusedElemwise
from symrnn.rewrite import optimize
from symrnn.rewrite.fusion import fuse_elementwise
from symrnn.scan.op import Scan


def fused_nodes(outputs):
    return [n for n in toposort(outputs) if isinstance(n.op, FusedElemwise)]


def run_fused(inputs, outputs, values):
    """Compile the fused graph as is (no other rewrite) and call it."""
    fused = fuse_elementwise(outputs)
    fn = symrnn.function(inputs, fused, mode="FAST_COMPILE", on_unused_input="ignore")
    return fn, fn(*values)


def reference(inputs, outputs, values):
    return symrnn.function(inputs, outputs, mode="reference", on_unused_input="ignore")(*values)


def lstm_step(cell_inputs=8, hidden=16):
    cell = symrnn.nn.LSTMCell(cell_inputs, hidden)
    x, c, h = T.matrix("x_t"), T.matrix("c"), T.matrix("h")
    _, (c_new, h_new) = cell.step(x, (c, h))
    return [x, c, h], [c_new, h_new]


def test_fusion_reduces_the_node_count_of_an_lstm_step():
    inputs, outputs = lstm_step()
    before = toposort(outputs)  # as built (the FAST_RUN pipeline may fuse by itself)
    after = toposort(fuse_elementwise(outputs))
    n_elemwise = sum(isinstance(n.op, Elemwise) for n in before)
    assert n_elemwise >= 12  # 3 sigmoids, 2 tanh, the cell update, the bias and projection additions
    assert not any(isinstance(n.op, Elemwise) for n in after)  # every elementwise op is in a fused node
    groups = [n for n in after if isinstance(n.op, FusedElemwise)]
    assert len(groups) == 2  # the new cell state (an output, also read by h) and the new hidden state
    assert len(after) == len(before) - n_elemwise + 2
    c_group, h_group = groups
    assert sorted(str(n.op) for n in c_group.op.fused_nodes).count("sigmoid") == 2  # forget and input gates
    assert {str(n.op) for n in h_group.op.fused_nodes} >= {"sigmoid", "tanh", "mul"}  # o * tanh(c)


def test_fused_lstm_step_matches_the_reference():
    inputs, outputs = lstm_step()
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(5, 8)), rng.normal(size=(5, 16)), rng.normal(size=(5, 16))]
    fn, got = run_fused(inputs, optimize(outputs), values)
    assert "fused" in fn.source
    for g, w in zip(got, reference(inputs, outputs, values)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_a_value_read_outside_the_group_is_not_fused_into_it():
    x = T.matrix("x")
    e = T.exp(x)
    a, b = e * 2 + 1, T.tanh(e) - x
    fused = fuse_elementwise([a, b])
    nodes = toposort(fused)
    assert [str(n.op) for n in nodes].count("exp") == 1  # computed once, read by both groups
    assert len(fused_nodes(fused)) == 2
    values = [np.random.default_rng(1).normal(size=(3, 4))]
    _, got = run_fused([x], [a, b], values)
    for g, w in zip(got, reference([x], [a, b], values)):
        np.testing.assert_allclose(g, w, rtol=1e-13)


def test_an_output_is_never_absorbed():
    x = T.matrix("x")
    e = T.exp(x)
    y = T.tanh(e) * 3
    fused = fuse_elementwise([e, y])  # e is itself an output
    assert fused[0].owner.op == T.exp(x).owner.op
    assert isinstance(fused[1].owner.op, FusedElemwise) and fused[1].owner.inputs == [fused[0]]


def test_a_smaller_broadcast_pattern_stays_outside():
    x, b = T.matrix("x"), T.vector("b")
    y = T.tanh(x + b * 2)  # b * 2 has pattern (False,), the group (False, False)
    [z] = fuse_elementwise([y])
    assert isinstance(z.owner.op, FusedElemwise)
    assert {str(n.op) for n in z.owner.op.fused_nodes} == {"add", "tanh"}
    assert z.owner.inputs[1].owner is not None and str(z.owner.inputs[1].owner.op) == "mul"
    values = [np.ones((2, 3)), np.arange(3.0)]
    _, got = run_fused([x, b], [y], values)
    np.testing.assert_allclose(got[0], np.tanh(values[0] + values[1] * 2), rtol=1e-14)


def test_fused_numpy_code_allocates_once_for_a_chain():
    x, y = T.matrix("x"), T.matrix("y")
    z = T.tanh(T.exp(-(x * y + 1)) - x) * 0.5  # mul, add, neg, exp, sub, tanh, mul: a chain of 7 ops
    plain = symrnn.function([x, y], z, mode="FAST_COMPILE")
    fused = symrnn.function([x, y], fuse_elementwise([z])[0], mode="FAST_COMPILE")

    def statements(source):
        return [line.strip() for line in source.splitlines()[1:]
                if line.strip() and not line.strip().startswith(("#", "return", "del", "if "))]

    plain_lines = statements(plain.source)
    assert len(plain_lines) == 7  # one allocating statement per op
    fused_lines = statements(fused.source)
    allocating = [s for s in fused_lines if re.match(r"f\d+ = xp\.", s)]
    in_place = [s for s in fused_lines if "out=" in s]
    assert len(allocating) == 1, fused.source
    assert len(in_place) == 6, fused.source
    rng = np.random.default_rng(2)
    values = [rng.normal(size=(4, 5)), rng.normal(size=(4, 5))]
    np.testing.assert_allclose(fused(*values), plain(*values), rtol=1e-14)


def test_buffers_are_reused_only_when_the_value_is_dead():
    x = T.matrix("x")
    s = T.nnet.sigmoid(x)
    y = s * (1 - s)  # s is read twice: the buffer holding it must survive (1 - s)
    fn, (got,) = run_fused([x], [y], [np.linspace(-3, 3, 12).reshape(3, 4)])
    v = 1 / (1 + np.exp(-np.linspace(-3, 3, 12).reshape(3, 4)))
    np.testing.assert_allclose(got, v * (1 - v), rtol=1e-13)
    assert "out=f1)" not in fn.source.split("xp.subtract", 1)[1].split("\n", 1)[0]  # 1 - s gets its own buffer


def test_dtypes_comparisons_switch_and_casts_are_fused_exactly():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    i = T.imatrix("i")
    z = T.switch(x > y, x * 2, T.cast(i, "float32") - y)
    w = T.cast(T.and_(x > 0, i > 1), "int64") + i
    [fz, fw] = fuse_elementwise([z, w])
    assert isinstance(fz.owner.op, FusedElemwise) and isinstance(fw.owner.op, FusedElemwise)
    assert fz.dtype == "float32" and fw.dtype == "int64"
    rng = np.random.default_rng(3)
    values = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32"),
              rng.integers(-3, 3, size=(3, 4)).astype("int32")]
    _, got = run_fused([x, y, i], [z, w], values)
    want = reference([x, y, i], [z, w], values)
    for g, wv in zip(got, want):
        assert g.dtype == wv.dtype
        np.testing.assert_array_equal(g, wv)


def test_constants_inside_and_outside():
    x = T.matrix("x")
    table = np.array([[1.0, -2.0, 3.0]])
    y = T.maximum(x * 0.5 + table, -np.inf) + T.switch(x > 100, np.nan, 0.0)  # a row constant, a NaN
    [z] = fuse_elementwise([y])
    node = z.owner
    consts = [v for v in node.inputs if isinstance(v, Constant)]
    assert len(consts) == 3  # the row and the non-finite scalars are inputs; 0.5, 100 and 0 are inside
    values = [np.array([[1.0, 200.0, -3.0], [0.0, 5.0, 1e3]])]
    _, got = run_fused([x], [y], values)
    np.testing.assert_array_equal(got[0], reference([x], [y], values)[0])


def test_runtime_broadcast_errors_are_still_raised():
    x, y = T.matrix("x"), T.matrix("y")
    fn, _ = run_fused([x, y], [T.tanh(x + y) * 2], [np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="statically 1 broadcast"):
        fn(np.ones((2, 3)), np.ones((2, 1)))


def test_perform_agrees_with_the_generated_code():
    x, y = T.matrix("x"), T.row("y")
    out = T.nnet.softplus(x - y) / (1 + T.abs(y))
    [fused] = fuse_elementwise([out])
    values = [np.random.default_rng(4).normal(size=(3, 4)), np.random.default_rng(5).normal(size=(1, 4))]
    via_perform = symrnn.function([x, y], fused, mode="reference")(*values)
    via_code = symrnn.function([x, y], fused, mode="FAST_COMPILE")(*values)
    np.testing.assert_allclose(via_perform, via_code, rtol=1e-13)
    np.testing.assert_allclose(via_perform, reference([x, y], [out], values)[0], rtol=1e-13)


def test_equal_groups_are_equal_ops_and_merge():
    x = T.matrix("x")
    a = fuse_elementwise([T.tanh(x) * 2])[0]
    b = fuse_elementwise([T.tanh(x) * 2])[0]
    c = fuse_elementwise([T.tanh(x) * 3])[0]
    assert a.owner.op == b.owner.op and hash(a.owner.op) == hash(b.owner.op)
    assert a.owner.op != c.owner.op
    merged = symrnn.rewrite.merge([a, b])
    assert merged[0] is merged[1]


def test_the_gradient_of_a_fused_node_says_why_it_is_undefined():
    x = T.matrix("x")
    [y] = fuse_elementwise([T.tanh(x) * 2])
    with pytest.raises(Exception, match="fusion runs at compile time"):
        symrnn.grad(y.sum(), x)


def rnn_graph():
    x = T.tensor3("x")
    cell = symrnn.nn.LSTMCell(3, 5)
    outputs, _ = symrnn.nn.rnn(cell, x)
    cost = (outputs ** 2).mean()
    grads = symrnn.grad(cost, list(cell.params.values()))
    return x, cost, grads


def test_fusion_inside_scan_bodies_forward_and_backward():
    x, cost, grads = rnn_graph()
    optimized = optimize([cost, *grads])
    fused = fuse_elementwise(optimized)
    scans = [n.op for n in toposort(fused) if isinstance(n.op, Scan)]
    assert len(scans) >= 2  # the forward loop and the backward loop
    for op in scans:
        assert any(isinstance(n.op, FusedElemwise) for n in op.inner_nodes), str(op)
    values = [np.random.default_rng(6).normal(size=(4, 2, 3))]
    fn = symrnn.function([x], fused, mode="FAST_COMPILE")
    assert "fused" in fn.source and "for t" in fn.source
    got, want = fn(*values), reference([x], [cost, *grads], values)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def pipeline_fuses():
    x = T.matrix("x")
    return any(isinstance(n.op, FusedElemwise) for n in symrnn.function([x], T.tanh(x) * 2 + 1).nodes)


@pytest.mark.skipif(not pipeline_fuses(),
                    reason="fusion is not yet called by the FAST_RUN pipeline (symrnn.rewrite.optimize)")
def test_fast_run_fuses_and_agrees_with_debug_mode():
    x, cost, grads = rnn_graph()
    fn = symrnn.function([x], [cost, *grads])
    assert any(isinstance(n.op, FusedElemwise) for n in fn.nodes) or "fused" in fn.source
    debug = symrnn.function([x], [cost, *grads], mode="DebugMode")
    debug(np.random.default_rng(7).normal(size=(4, 2, 3)))  # raises if compiled and reference disagree


# ---- random elementwise graphs

PATTERNS = [(None, None), (1, None), (None, 1), (None,), ()]
UNARY = {
    "tanh": T.tanh, "sigmoid": T.nnet.sigmoid, "softplus": T.nnet.softplus, "neg": lambda a: -a,
    "sqr": T.sqr, "abs": abs, "relu": T.nnet.relu, "sin": T.sin, "exp": lambda a: T.exp(T.clip(a, -4, 4)),
    "scale": lambda a: a * 0.5 + 1, "floor": T.floor, "cast32": lambda a: T.cast(T.cast(a, "float32"), "float64"),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1 + b * b), "maximum": T.maximum, "minimum": T.minimum,
    "switch": lambda a, b: T.switch(a > b, a, b - 1), "pow": lambda a, b: (abs(a) + 0.5) ** T.clip(b, -2, 2),
}


@st.composite
def programs(draw):
    shapes = [draw(st.sampled_from(PATTERNS)) for _ in range(draw(st.integers(1, 3)))]
    steps = []
    for _ in range(draw(st.integers(2, 10))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, 99))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, 99)),
                          draw(st.integers(0, 99))))
    n_out = draw(st.integers(1, 2))
    return shapes, steps, n_out


def build(inputs, steps, n_out):
    pool = list(inputs)
    for step in steps:  # operands are drawn from everything so far: values get several readers
        if step[0] == "u":
            pool.append(UNARY[step[1]](pool[step[2] % len(pool)]))
        else:
            pool.append(BINARY[step[1]](pool[step[2] % len(pool)], pool[step[3] % len(pool)]))
    return pool[-n_out:]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31 - 1))
def test_random_elementwise_graphs_fused_agree_with_the_reference(program, seed):
    shapes, steps, n_out = program
    inputs = [T.tensor("float64", s, name=f"in{i}") for i, s in enumerate(shapes)]
    outputs = build(inputs, steps, n_out)
    fused = fuse_elementwise(outputs)
    assert len(toposort(fused)) <= len(toposort(outputs))
    for node in fused_nodes(fused):  # every fused group has >= 2 ops and only the root leaves it
        assert len(node.op.fused_nodes) >= 2
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=tuple(3 if d is None else d for d in s)) for s in shapes]
    want = reference(inputs, outputs, values)
    got = symrnn.function(inputs, fused, mode="FAST_COMPILE", on_unused_input="ignore")(*values)
    via_perform = symrnn.function(inputs, fused, mode="reference", on_unused_input="ignore")(*values)
    for g, p, w, var in zip(got, via_perform, want, outputs):
        assert g.dtype == w.dtype and g.shape == w.shape and var.type.accepts_shape(g.shape)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, equal_nan=True)
        np.testing.assert_allclose(p, w, rtol=1e-10, atol=1e-12, equal_nan=True)
