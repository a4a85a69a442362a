"""``printing.debugprint``: indented text with types, shared sub-graphs shown once."""

import io

import numpy as np

import symrnn
import symrnn.tensor as T
from symrnn.printing import debugprint


def test_debugprint_variable_shows_tree_and_types():
    x = T.matrix("x")
    w = symrnn.shared(np.ones((3, 2)), name="W")
    out = T.tanh(T.dot(x, w))
    buf = io.StringIO()
    text = debugprint(out, file=buf)
    assert buf.getvalue().rstrip("\n") == text
    lines = text.splitlines()
    assert lines[0].startswith("tanh [id A] float64(?, ?)")
    assert lines[1].startswith(" |dot [id B] float64(?, ?)")
    assert lines[2] == "   |input 'x' [id C] float64(?, ?)"
    assert lines[3] == "   |shared 'W' [id D] float64(?, ?)"


def test_debugprint_marks_repeated_subgraphs():
    x = T.vector("x")
    e = T.exp(x)
    text = debugprint(e * e, file=io.StringIO())
    assert text.count("exp [id B]") == 2
    assert text.count("(shown above)") == 1
    assert text.count("input 'x'") == 1


def test_debugprint_function_and_list():
    x = T.vector("x")
    s = symrnn.shared(np.float64(0.0), name="s")
    f = symrnn.function([x], x.sum(), updates=[(s, s + 1)])
    text = debugprint(f, file=io.StringIO())
    assert "sum{axis=(0,)}" in text and "shared 's'" in text and "add" in text
    text2 = debugprint([x * 2, T.exp(x)], file=io.StringIO(), print_type=False)
    assert "float64" not in text2 and "mul" in text2 and "exp" in text2


def test_debugprint_deep_graph_without_recursion():
    x = T.scalar("x")
    y = x
    for _ in range(5000):
        y = y + 1
    text = debugprint(y, file=io.StringIO(), print_type=False)
    assert len(text.splitlines()) == 5000 * 2 + 1
