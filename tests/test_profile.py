"""function(..., profile=True): call counts, percentages, op names, user lines, loops' own time, reset.

No test asserts a wall-clock time beyond non-negativity.
"""

from __future__ import annotations

import inspect
import io
import os

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn

THIS_FILE = os.path.basename(__file__)


def here() -> int:
    """The line number of the caller."""
    return inspect.currentframe().f_back.f_lineno


def count_nodes(nodes) -> int:
    """The nodes that run, loop bodies included (every one gets a profile row)."""
    return sum(1 + count_nodes(getattr(n.op, "inner_nodes", [])) for n in nodes)


@pytest.fixture(params=["FAST_RUN", "FAST_COMPILE"])
def mode(request) -> str:
    return request.param


def test_call_counts_percentages_and_op_names(mode) -> None:
    x = T.matrix("x")
    y = T.tanh(x.dot(x.T)).sum()
    line = here() - 1
    f = symrnn.function([x], y, profile=True, mode=mode)
    for _ in range(3):
        f(np.ones((6, 6)))
    p = f.profile
    assert p.function_calls == 3 and p.function_seconds >= 0
    rows = p.per_node()
    assert rows and all(row["calls"] == 3 for row in rows)
    assert all(row["seconds"] >= 0 and row["depth"] == 0 for row in rows)
    assert sum(row["percent"] for row in rows) == pytest.approx(100.0)
    ops = p.per_op()
    if mode == "FAST_COMPILE":  # the graph as built (FAST_RUN may fuse or replace ops)
        assert {row["op"] for row in ops} == {"dot", "tanh", "DimShuffle", "Reduce"}
    assert len(rows) == count_nodes(f.nodes)
    assert sum(row["percent"] for row in ops) == pytest.approx(100.0)
    assert sum(row["nodes"] for row in ops) == len(rows)
    assert all(row["calls"] == 3 * row["nodes"] for row in ops)
    # Sorted slowest first.
    assert [r["seconds"] for r in rows] == sorted((r["seconds"] for r in rows), reverse=True)
    # Every node of this graph was built on one line here; a node a rewrite made names the function() line.
    lines = {f"{THIS_FILE}:{line}"} if mode == "FAST_COMPILE" else {f"{THIS_FILE}:{line}", f"{THIS_FILE}:{line + 2}"}
    for row in rows:
        assert row["trace"].rsplit("/", 1)[-1] in lines, row


def test_the_users_line_of_each_node() -> None:
    x = T.vector("x")
    a = T.exp(x)
    line_exp = here() - 1
    b = T.sin(a)
    line_sin = here() - 1
    f = symrnn.function([x], b, profile=True, mode="FAST_COMPILE")
    f(np.zeros(3))
    traces = {row["op"]: row["trace"] for row in f.profile.per_node()}
    assert traces["exp"].endswith(f"{THIS_FILE}:{line_exp}")
    assert traces["sin"].endswith(f"{THIS_FILE}:{line_sin}")
    text = f.profile.summary(file=io.StringIO())
    assert f"{THIS_FILE}:{line_exp}" in text and f"{THIS_FILE}:{line_sin}" in text


def test_nodes_inside_a_loop_count_steps_times_calls(mode) -> None:
    cell = nn.RNNCell(3, 4, seed=0)
    xs = T.tensor3("xs")
    outputs, _ = nn.rnn(cell, xs)
    cost = outputs[-1].sum()
    f = symrnn.function([xs], cost, profile=True, mode=mode)
    steps, calls = 7, 2
    for _ in range(calls):
        f(np.ones((steps, 2, 3)))
    p = f.profile
    rows = p.per_node()
    loop = [r for r in rows if r["op"] == "scan{rnn}"]
    assert len(loop) == 1 and loop[0]["calls"] == calls and loop[0]["depth"] == 0
    assert len(rows) == count_nodes(f.nodes)
    inner = [r for r in rows if r["depth"] == 1]
    assert len(inner) == count_nodes(f.nodes) - len(f.nodes)
    assert inner and all(r["calls"] == steps * calls for r in inner)
    if mode == "FAST_COMPILE":
        assert any(r["op"] == "tanh" for r in inner)
    assert all(r["calls"] == calls for r in rows if r["depth"] == 0)
    if mode == "FAST_COMPILE":
        tanh = next(r for r in p.per_op() if r["op"] == "tanh")
        assert tanh["calls"] == steps * calls


def test_a_loops_own_time_excludes_its_inner_nodes() -> None:
    cell = nn.LSTMCell(3, 8, seed=0)
    xs = T.tensor3("xs")
    outputs, _ = nn.rnn(cell, xs)
    f = symrnn.function([xs], outputs.sum(), profile=True)
    f(np.ones((20, 4, 3)))
    p = f.profile
    own = p.self_seconds()
    assert np.all(own >= 0) and np.all(own <= p.seconds)
    k = next(i for i, node in enumerate(p.nodes) if hasattr(node.op, "inner_nodes"))
    inner_ids = {id(n) for n in p.nodes[k].op.inner_nodes}
    children = [j for j in range(len(p.nodes)) if p.depths[j] == 1 and id(p.nodes[j]) in inner_ids]
    assert children
    assert own[k] == pytest.approx(max(p.seconds[k] - p.seconds[children].sum(), 0.0))
    # Inner nodes keep their own time; the tables report own times, so percentages still sum to 100.
    np.testing.assert_array_equal(own[children], p.seconds[children])
    row = next(r for r in p.per_node() if r["index"] == k)
    assert row["seconds"] == pytest.approx(own[k]) and row["total_seconds"] == pytest.approx(p.seconds[k])
    assert sum(r["percent"] for r in p.per_node()) == pytest.approx(100.0)


def test_nested_loops_and_until() -> None:
    def inner_step(r, acc):
        return acc + T.tanh(r)

    def outer_step(m, acc):
        res, _ = symrnn.scan(inner_step, sequences=[m], outputs_info=[T.zeros_like(m[0])])
        return acc + res[-1]

    xs = T.tensor3("xs")
    out, _ = symrnn.scan(outer_step, sequences=[xs], outputs_info=[T.zeros_like(xs[0, 0])])
    f = symrnn.function([xs], out[-1], profile=True)
    f(np.ones((3, 4, 2)))
    f(np.ones((3, 4, 2)))
    p = f.profile
    assert max(p.depths) == 2
    for depth, calls in [(0, 2), (1, 2 * 3), (2, 2 * 3 * 4)]:
        assert all(c == calls for c, d in zip(p.calls, p.depths) if d == depth), depth
    assert np.all(p.self_seconds() <= p.seconds)

    def doubling(a):
        return a * 2, symrnn.until(a * 2 > 50)

    res, _ = symrnn.scan(doubling, outputs_info=[T.constant(1.0)], n_steps=100)
    g = symrnn.function([], res[-1], profile=True)
    assert g() == 64.0  # 2, 4, ..., 64: six steps run
    assert all(c == 6 for c, d in zip(g.profile.calls, g.profile.depths) if d == 1)


def test_summary_prints_the_tables(capsys) -> None:
    x = T.matrix("x")
    f = symrnn.function([x], T.tanh(x.dot(x)).sum(), profile=True)
    f(np.ones((4, 4)))
    text = f.profile.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Function profile: 1 call(s)" in text
    assert "Per op type:" in text and "Per node:" in text
    for row in f.profile.per_op():
        assert row["op"] in text
    buffer = io.StringIO()
    f.profile.summary(file=buffer, limit=1)
    per_op, per_node = (part.strip().splitlines() for part in buffer.getvalue().split("Per node:"))
    n_nodes, n_ops = len(f.profile.per_node()), len(f.profile.per_op())
    assert per_node[2:] == [f"... {n_nodes - 1} more node(s)"]  # the header, one row, and what was left out
    assert per_op[-1] == f"... {n_ops - 1} more op type(s)"


def test_reset() -> None:
    x = T.vector("x")
    f = symrnn.function([x], T.exp(x) + 1, profile=True)
    f(np.zeros(3))
    f(np.zeros(3))
    assert f.profile.function_calls == 2 and f.profile.calls.max() == 2
    f.profile.reset()
    assert f.profile.function_calls == 0 and f.profile.function_seconds == 0
    assert not f.profile.calls.any() and not f.profile.seconds.any()
    assert all(row["calls"] == 0 and row["percent"] == 0 for row in f.profile.per_node())
    f(np.zeros(3))  # the generated code still counts into the same tables
    assert f.profile.function_calls == 1
    assert all(row["calls"] == 1 for row in f.profile.per_node())


def test_profiles_are_per_function_and_off_by_default() -> None:
    x = T.vector("x")
    f = symrnn.function([x], T.exp(x), profile=True)
    g = symrnn.function([x], T.exp(x), profile=True)
    f(np.zeros(2))
    assert g.profile.function_calls == 0 and not g.profile.calls.any()
    assert symrnn.function([x], T.exp(x)).profile is None
    # The results do not change with profiling on.
    np.testing.assert_array_equal(f(np.arange(3.0)), np.exp(np.arange(3.0)))


def test_debug_mode_can_profile() -> None:
    x = T.vector("x")
    f = symrnn.function([x], T.exp(x), profile=True, mode="DebugMode")
    f(np.zeros(2))
    assert f.profile.function_calls == 1


def test_profile_with_the_reference_interpreter_is_an_error() -> None:
    x = T.vector("x")
    with pytest.raises(ValueError, match="profile=True needs compiled code"):
        symrnn.function([x], T.exp(x), profile=True, mode="reference")
