"""Issue 16, items 5 and 6: traces ("built at" lines) and runtime errors speak of the user's code.

- A node built by symrnn's model library (``symrnn.nn``, the demo) names the user's line *and* the library
  line (one per gate), and never the command line's or the compiler's own frames.
- A runtime shape error in a compiled function names the user's variables, their runtime shapes and the
  user's line, not only a merged ``dot`` over a concatenated weight or a ``fused{...}`` node.
"""

import linecache
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import short_trace, toposort, trace_lines

THIS_FILE = os.path.basename(__file__)
# Python 3.10's code objects have no qualified name: a trace says ``step`` instead of ``LSTMCell.step``
LSTM_STEP, GRU_STEP = ("LSTMCell.step", "GRUCell.step") if sys.version_info >= (3, 11) else ("step", "step")
CORE_FILES = ("graph.py", "function.py", "codegen.py", "autodiff.py", "basic.py", "op.py", "engine.py",
              "cli.py", "__main__.py", "runpy")


def _here() -> int:
    return sys._getframe(1).f_lineno


def _step_nodes(outputs):
    """The nodes of the loop body that computes ``outputs``."""
    [loop] = [n for n in toposort([outputs]) if hasattr(n.op, "inner_outputs")]
    return toposort(loop.op.inner_outputs)


def _comment_traces(source: str) -> list[str]:
    return re.findall(r"#.*  @ (.*)$", source, flags=re.M)


def _lstm_training_function(mode="FAST_RUN"):
    cell = nn.LSTMCell(2, 4, seed=0, name="lstm")
    x = T.tensor3("x")
    rnn_line = _here() + 1
    outputs, _ = nn.rnn(cell, x)
    cost = (outputs ** 2).mean()
    params = list(cell.params.values())
    grads = symrnn.grad(cost, params)
    f = symrnn.function([x], cost, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)], mode=mode)
    return f, outputs, rnn_line


# --------------------------------------------------------------------------- A. "built at" lines


def test_a_plain_node_names_only_the_users_line():
    x = T.vector("x")
    y = T.exp(x)
    line = _here() - 1
    assert y.owner.trace == f"{__file__}:{line}"
    assert trace_lines(y.owner.trace) == [(__file__, line)]


def test_each_lstm_gate_names_its_own_library_line_after_the_users_line():
    """Every gate used to point at the one nn.rnn(...) line: the forget gate's nodes looked like the output
    gate's."""
    _, outputs, rnn_line = _lstm_training_function()
    inner = _step_nodes(outputs)
    sigmoid_lines = set()
    for node in inner:
        lines = trace_lines(node.trace)
        assert lines[0] == (__file__, rnn_line), node.trace  # the user's line first
        if node.op.name == "sigmoid":
            assert len(lines) == 2 and lines[1][0].endswith(os.path.join("symrnn", "nn", "cells.py")), node.trace
            assert "symrnn/nn/cells.py:" in node.trace and f"{LSTM_STEP}, " in node.trace
            sigmoid_lines.add(linecache.getline(*lines[1]).strip())
    # one line per gate: i, f and o, each the line that says which gate it is
    assert len(sigmoid_lines) == 3
    assert {re.search(r'_preact\("(\w)"', text).group(1) for text in sigmoid_lines} == {"i", "f", "o"}


def test_lstm_training_source_comments_name_the_gates_and_the_users_line():
    f, _, rnn_line = _lstm_training_function()
    traces = _comment_traces(f.source)
    cells_lines = {m for t in traces for m in re.findall(r"cells\.py:(\d+)", t)}
    assert len(cells_lines) >= 4, traces  # the gates' slices of the merged product, the candidate, C and h
    assert any(t.startswith(f"{THIS_FILE}:{rnn_line} ({LSTM_STEP}, cells.py:") for t in traces), traces
    assert all("/" not in t for t in traces)  # file names only, in a comment


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "FAST_RUN"])
def test_comments_in_every_mode_parse_back(mode):
    f, _, _ = _lstm_training_function(mode)
    for trace in _comment_traces(f.source):
        assert re.match(r"[^/\s]+:\d+( \(.*\))?$", trace), trace


def test_the_demo_through_the_command_line_never_names_the_command_line(tmp_path):
    """``symrnn demo``: all 196 comments of lstm_train_step.py said cli.py:174 (or __main__.py:7)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": root}
    proc = subprocess.run([sys.executable, "-m", "symrnn", "demo", "--steps", "2", "--out", str(tmp_path),
                           "--no-progress"], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    source = (tmp_path / "lstm_train_step.py").read_text()
    traces = _comment_traces(source)
    assert len(traces) > 50
    for trace in traces:
        assert not any(core in trace for core in CORE_FILES), trace
        assert trace.split(":")[0] in ("cells.py", "demo.py", "optimizers.py", "losses.py", "layers.py"), trace
    cells_lines = {m for t in traces for m in re.findall(rf"^cells\.py:(\d+) \(in {LSTM_STEP}\)", t)}
    assert len(cells_lines) >= 3, traces


def test_a_graph_built_without_a_user_frame_names_the_innermost_library_frame(monkeypatch):
    """As under ``symrnn demo``: every frame is symrnn's or a launcher's (here: the test's and pytest's)."""
    from symrnn import graph

    def no_user_frames(filename):
        kind = real_kind(filename)
        return (graph._LAUNCHER, filename) if kind[0] == graph._USER else kind

    real_kind = graph._frame_kind
    monkeypatch.setattr(graph, "_frame_kinds", {})
    monkeypatch.setattr(graph, "_frame_kind", no_user_frames)
    outputs, _ = nn.rnn(nn.LSTMCell(2, 3, seed=0), T.tensor3())
    monkeypatch.undo()
    traces = {n.trace for n in _step_nodes(outputs) if n.op.name == "sigmoid"}
    assert len(traces) == 3
    for trace in traces:
        assert re.match(rf"symrnn/nn/cells\.py:\d+ \(in {LSTM_STEP}\)$", trace), trace
        assert short_trace(trace).startswith("cells.py:")
        [(filename, line)] = trace_lines(trace)
        assert "T.nnet.sigmoid(self._preact(" in linecache.getline(filename, line)


def test_graph_building_errors_name_the_users_line_first():
    cell = nn.LSTMCell(2, 4, seed=0)
    with pytest.raises(TypeError) as info:
        nn.rnn(cell, T.tensor("float64", (None, None, 5), name="x"))
    line = _here() - 1
    message = str(info.value)
    assert f"{__file__}:{line}" in message
    assert message.index(f"{THIS_FILE}:{line}") < message.index("cells.py")


def test_static_shape_error_of_a_plain_dot_names_the_users_line():
    a, b = T.matrix("a", shape=(3, 4)), T.matrix("b", shape=(5, 2))
    with pytest.raises(ValueError, match=rf"'a'.*'b'[^\n]*\n  at .*{THIS_FILE}:{_here() + 1}$"):
        T.dot(a, b)


# --------------------------------------------------------------------------- B. runtime shape errors


def _lstm_of_two_features():
    cell = nn.LSTMCell(2, 4, seed=0, name="lstm")
    x = T.tensor3("x")
    line = _here() + 1
    outputs, _ = nn.rnn(cell, x)
    return x, outputs, line, cell


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "reference"])
def test_a_wrong_input_size_names_x_its_shape_the_weight_and_the_users_line(mode):
    """It said ``shapes (15,7) and (2,16) not aligned`` (the merged gate matrix, which the user never wrote),
    built at the function() call."""
    x, outputs, line, _ = _lstm_of_two_features()
    f = symrnn.function([x], outputs.sum(), mode=mode)
    assert f(np.zeros((5, 3, 2))) == 0
    with pytest.raises(ValueError) as info:
        f(np.zeros((5, 3, 7)))
    message = str(info.value)
    head = message.splitlines()[0]
    assert "(2,16)" not in head and "(15,7)" not in head and "fused{" not in head, message
    assert "'x'" in message and "(5, 3, 7)" in message, message
    assert re.search(r"'lstm/W_[ifoc]'", message), message
    assert re.search(r"has 7 .*expects 2", message), message
    assert f"{THIS_FILE}:{line} ({LSTM_STEP}, symrnn/nn/cells.py:" in message, message
    if mode != "reference":
        assert info.value.__cause__ is not None  # the error the compiled code raised


def test_a_wrong_input_size_in_a_training_function():
    x, outputs, line, cell = _lstm_of_two_features()
    cost = (outputs ** 2).mean()
    shared = list(cell.params.values())
    grads = symrnn.grad(cost, shared)
    f = symrnn.function([x], cost, updates=[(p, p - 0.1 * g) for p, g in zip(shared, grads)])
    before = [p.get_value() for p in shared]
    with pytest.raises(ValueError) as info:
        f(np.zeros((5, 3, 7)))
    message = str(info.value)
    assert "'x'" in message and "(5, 3, 7)" in message and f"{THIS_FILE}:{line}" in message, message
    for p, value in zip(shared, before):
        np.testing.assert_array_equal(p.get_value(), value)  # a failed call updates nothing


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_a_plain_dot_of_two_user_matrices(mode):
    a, b = T.matrix("a"), T.matrix("b")
    out = T.dot(a, b)
    line = _here() - 1
    f = symrnn.function([a, b], out, mode=mode)
    with pytest.raises(ValueError) as info:
        f(np.zeros((3, 4)), np.zeros((5, 2)))
    message = str(info.value)
    assert "'a'" in message and "'b'" in message and "(3, 4)" in message and "(5, 2)" in message, message
    assert re.search(r"'a' has 4 .*'b' expects 5", message), message
    assert f"{THIS_FILE}:{line}" in message


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_a_fused_elementwise_node_names_the_users_variables(mode):
    a, b, c = T.vector("a"), T.vector("b"), T.vector("c")
    out = T.exp(a * b + c)
    line = _here() - 1
    f = symrnn.function([a, b, c], out, mode=mode)
    if mode == "FAST_RUN":
        assert "fused{" in f.source
    with pytest.raises(ValueError) as info:
        f(np.zeros(3), np.zeros(3), np.zeros(4))
    message = str(info.value)
    assert "fused{" not in message.splitlines()[1], message  # the node named is the user's own add
    assert "'c'" in message and "(4,)" in message and "(3,)" in message, message
    assert f"{THIS_FILE}:{line}" in message


def test_a_batch_first_sequence_is_named_through_its_transpose():
    x = T.tensor3("x")
    outputs, _ = nn.rnn(nn.GRUCell(2, 4, seed=0), x, batch_first=True)
    f = symrnn.function([x], outputs.sum())
    with pytest.raises(ValueError) as info:
        f(np.zeros((3, 5, 7)))
    message = str(info.value)
    assert "('x') of shape (5, 3, 7)" in message and "'gru/W_" in message and "has 7 features" in message, message
    assert f"{THIS_FILE}:{_here() - 6} ({GRU_STEP}, symrnn/nn/cells.py:" in message, message
