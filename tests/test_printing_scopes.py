"""Issue 17: ``pp`` names shared subexpressions once (``let``), and name scopes show in ``debugprint``, the
profile and the comments of ``f.source``."""

import io
import re

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import Constant, name_scope, toposort
from symrnn.nn.optimizers import adam
from symrnn.printing import debugprint, pp

GATES = ("input_gate", "forget_gate", "output_gate", "candidate")


def inline(var):
    """The expression written out in full, every shared part repeated (pp before issue 17): the reference."""
    text = {}

    def show(v):
        if id(v) in text:
            return text[id(v)]
        if isinstance(v, Constant):
            return repr(v.data.item()) if v.data.size == 1 else "Constant"
        return v.name or f"<{v.type!r}>"

    infix = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%", "pow": "**",
             "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "eq": "==", "neq": "!="}
    for node in toposort([var]):
        args = [show(v) for v in node.inputs]
        name = getattr(node.op, "name", None) or str(node.op)
        if name in infix and len(args) == 2:
            out = f"({args[0]} {infix[name]} {args[1]})"
        elif name == "neg":
            out = f"-{args[0]}"
        else:
            out = f"{node.op}({', '.join(args)})"
        for o in node.outputs:
            text[id(o)] = o.name or out
    return show(var)


def expand(text):
    """Substitute a ``let`` block's bindings back into its body: the inline text it stands for."""
    if not text.startswith("let "):
        return text
    text = re.sub(r"\(\n {8}", "(", text)
    text = re.sub(r",\n {8}", ", ", text)  # a long loop's wrapped outer inputs, back on one line
    *bindings, body = text.splitlines()
    assert body.startswith("in  ")
    defined = {}
    for i, line in enumerate(bindings):
        assert line.startswith("let " if i == 0 else "    ")
        name, value = line[4:].split(" = ", 1)
        defined[name] = value
    bound = re.compile(r"\b([sv]\d+)(?:\.\d+)?\b")  # a loop's outputs are s1.0, s1.1; inline they print alike
    out = body[4:]
    for _ in range(len(defined) + 1):
        out = bound.sub(lambda m: defined[m.group(1)], out)
    assert not bound.search(out)
    return out


def rnn_gradient():
    """The gradient of a 3-step RNN's loss with respect to its input weights."""
    cell = nn.RNNCell(2, 3, seed=0)
    x = T.tensor("float64", (3, None, 2), name="x")
    outputs, _ = nn.rnn(cell, x)
    return symrnn.grad((outputs ** 2).sum(), cell.params["W"])


# --------------------------------------------------------------------------- pp


def test_pp_of_an_rnn_gradient_prints_the_forward_loop_once():
    g = rnn_gradient()
    text, full = pp(g), inline(g)
    assert text.count("scan{rnn}(") == 1 and text.count("scan{grad_of_rnn}(") == 1
    assert full.count("scan{rnn}(") >= 15  # written out, the forward loop came back at every use
    assert len(text) < 0.4 * len(full)  # measured: 785 against 2,400 characters
    assert text.startswith("let s1 = scan{rnn}(") and "\nin  " in text
    assert expand(text) == full  # nothing is lost: the bindings substituted back give the full expression


def test_pp_of_a_hand_written_scan_gradient():
    h0, W = T.dvector("h0"), symrnn.shared(np.eye(3), name="W")
    hs, _ = symrnn.scan(lambda h, W: T.tanh(T.dot(h, W)), outputs_info=[h0], non_sequences=[W], n_steps=3,
                        name="loop")
    g = symrnn.grad(hs[-1].sum(), W)
    text = pp(g)
    assert text.count("scan{loop}(") == 1
    assert expand(text) == inline(g)
    assert len(text) <= 0.5 * len(inline(g))  # measured: 682 against 1,364 characters


def test_pp_of_an_lstm_gradient_is_five_times_shorter():
    cell = nn.LSTMCell(2, 3, seed=0)
    out, _ = nn.rnn(cell, T.tensor3("x"))
    g = symrnn.grad((out ** 2).sum(), cell.params["W_f"])
    text, full = pp(g), inline(g)
    assert len(text) * 5 < len(full)  # measured: 1,976 against 11,264 characters
    assert expand(text) == full


def test_pp_keeps_simple_expressions_on_one_line():
    x, y = T.dscalar("x"), T.dscalar("y")
    assert pp(x ** 2 + T.exp(x)) == "((x ** 2.0) + exp(x))"
    assert pp(x + y) == "(x + y)"
    e = T.exp(x)
    assert pp(e * e) == "(exp(x) * exp(x))"  # shared but short: inline
    named = T.tanh(x * 3.0 + 1.0)
    named.name = "h"
    assert pp(named * (1.0 - named)) == "(h * (1.0 - h))"  # a named value prints as its name


def test_pp_binds_a_long_shared_subexpression_once():
    x = T.dscalar("x")
    y = T.tanh(x * 3.0 + 1.0)
    assert pp(y * (1.0 - y) + y) == "let v1 = tanh(((x * 3.0) + 1.0))\nin  ((v1 * (1.0 - v1)) + v1)"


def test_pp_binding_names_never_clash_with_the_users_names():
    v1, v2 = T.dscalar("v1"), T.dscalar("v2")
    y = T.tanh(v1 * 3.0 + v2)
    text = pp(y * y)
    assert text.startswith("let v3 = tanh(((v1 * 3.0) + v2))")
    assert text.endswith("in  (v3 * v3)")


def test_pp_of_a_deep_chain_does_not_recurse():
    x = T.dscalar("x")
    y = x
    for _ in range(3000):
        y = y + 1.0
    assert pp(y).count("+") == 3000


# --------------------------------------------------------------------------- debugprint


def test_debugprint_of_an_lstm_step_shows_the_gates_by_scope():
    cell = nn.LSTMCell(2, 3, seed=0)
    h, _ = cell.step(T.matrix("x"), cell.zero_state(4))
    text = debugprint(h, file=io.StringIO())
    lines = text.splitlines()
    assert lines[0].endswith("[lstm/hidden]")
    [forget] = [line for line in lines if line.lstrip(" |").startswith("sigmoid") and "forget" in line]
    assert forget.endswith("float64(4, 3) [lstm/forget_gate]")
    for gate in GATES:
        assert f"[lstm/{gate}]" in text
    # leaves carry no scope; every op line in the cell does
    assert all(re.search(r"\[lstm/\w+\]", line) for line in lines if "|dot " in line or "|sigmoid " in line)
    plain = debugprint(h, file=io.StringIO(), print_scope=False)
    assert "lstm/forget_gate" not in plain
    assert re.sub(r" \[lstm/\w+\]", "", text) == plain


def test_debugprint_shows_the_scope_of_nodes_inside_a_loop_and_of_the_gradient():
    cell = nn.LSTMCell(2, 3, seed=0)
    out, _ = nn.rnn(cell, T.tensor3("x"))
    text = debugprint(symrnn.grad(out.sum(), cell.params["W_f"]), file=io.StringIO())
    inner = [line for line in text.splitlines() if line.lstrip().startswith(">")]
    assert any(line.endswith("[lstm/forget_gate]") for line in inner)
    assert any("[grad/lstm/forget_gate]" in line for line in inner)


def test_debugprint_keeps_a_scope_with_a_newline_on_its_line():
    x = T.vector("x")
    with name_scope("evil\nimport os"):
        y = T.exp(x)
    text = debugprint(y, file=io.StringIO())
    assert text.splitlines()[0] == r"exp [id A] float64(?,) [evil\nimport os]"
    assert len(text.splitlines()) == 2


# --------------------------------------------------------------------------- profile


def lstm_training(name="lstm", profile=False):
    cell = nn.LSTMCell(2, 4, seed=0, name=name)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out[-1] ** 2).mean()
    return symrnn.function([x], loss, updates=adam(loss, list(cell.params.values())), profile=profile), x


def test_profile_per_scope_totals_add_up_to_the_total():
    f, _ = lstm_training(profile=True)
    f(np.random.default_rng(0).standard_normal((5, 3, 2)))
    prof = f.profile
    rows = prof.per_scope()
    total = float(prof.self_seconds().sum())
    assert sum(r["seconds"] for r in rows) == pytest.approx(total, rel=1e-9)
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0)
    assert sum(r["nodes"] for r in rows) == len(prof.nodes)
    assert sum(r["calls"] for r in rows) == int(prof.calls.sum())
    scopes = {r["scope"] for r in rows}
    assert {f"lstm/{g}" for g in GATES} <= scopes and {f"grad/lstm/{g}" for g in GATES} <= scopes
    # each row is its nodes' own time, taken from the per-node table independently
    by_node = {}
    for r in prof.per_node():
        by_node[r["scope"]] = by_node.get(r["scope"], 0.0) + r["seconds"]
        assert r["scope"] == (prof.nodes[r["index"]].scope or "")
    assert {r["scope"]: r["seconds"] for r in rows} == pytest.approx(by_node)
    # one level: the forward LSTM, its gradient, the optimizer and the rest
    top = {r["scope"]: r for r in prof.per_scope(depth=1)}
    assert set(top) <= {"lstm", "grad", "adam", ""} and {"lstm", "grad", "adam"} <= set(top)
    assert top["lstm"]["seconds"] == pytest.approx(sum(s for k, s in by_node.items() if k.split("/")[0] == "lstm"))


def test_profile_summary_has_a_scope_table_and_a_scope_column():
    f, _ = lstm_training(profile=True)
    f(np.random.default_rng(0).standard_normal((4, 2, 2)))
    text = f.profile.summary(file=io.StringIO(), limit=200)
    table = text.split("Per scope:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[0].split() == ["scope", "nodes", "calls", "ms", "%"]
    shown = {line[:32].strip() for line in table[1:]}
    assert {f"lstm/{g}" for g in GATES} <= shown and "(no scope)" in shown
    assert sum(float(line.split()[-1]) for line in table[1:]) == pytest.approx(100.0, abs=0.1 * len(table))
    per_node = text.split("Per node:\n", 1)[1].splitlines()
    assert "scope" in per_node[0].split()
    assert any("lstm/forget_gate" in line for line in per_node[1:])


def test_profile_without_scopes_prints_no_scope_table():
    x = T.matrix("x")
    f = symrnn.function([x], T.tanh(x).sum(), profile=True)
    f(np.ones((3, 3)))
    text = f.profile.summary(file=io.StringIO())
    assert "Per scope" not in text
    assert [r["scope"] for r in f.profile.per_scope()] == [""]


# --------------------------------------------------------------------------- f.source


def comments(source):
    return [line.strip() for line in source.splitlines() if line.strip().startswith("#")]


def test_the_source_of_an_lstm_training_step_names_each_gate_in_its_comments():
    f, _ = lstm_training()
    notes = "\n".join(comments(f.source))
    for gate in GATES:
        assert f"[lstm/{gate}]" in notes
    assert "[lstm]" in notes  # the loop, and the merged gate product that serves all four gates
    # a scope sits on its node's comment line, after the node and before its "@ file:line"
    assert re.search(r"^# \w.*\) \[lstm/forget_gate\]  @ ", notes, re.M), notes


@pytest.mark.parametrize("evil", ["evil\nimport os", "x\n import os", "a\r\n__import__('os').system('exit 3')",
                                  "b]  @ x\\\nraise SystemExit"])
def test_a_malicious_scope_cannot_leave_its_comment(evil):
    x = T.vector("x")
    with name_scope(evil):
        y = T.exp(x) * 2.0
    f = symrnn.function([x], y)
    source = f.source
    code_lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert not any(line.startswith(("import", "__import__", "raise SystemExit")) or "system(" in line
                   for line in code_lines)
    assert any("import" in line or "SystemExit" in line for line in comments(source)), source  # kept, as a comment
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - checking that it is still plain code
    np.testing.assert_allclose(f(np.array([0.0, 1.0])), 2 * np.exp([0.0, 1.0]))


def test_a_layer_named_with_a_newline_stays_in_its_comments():
    f, x = lstm_training(name="x\n import os")  # nn accepts the name; the source must stay safe
    notes = comments(f.source)
    assert any("[x? import os/forget_gate]" in line for line in notes)
    assert not any(line.strip() == "import os" for line in f.source.splitlines())
    compile(f.source, "<generated>", "exec")
    value = f(np.random.default_rng(0).standard_normal((3, 2, 2)))
    assert np.isfinite(value)
