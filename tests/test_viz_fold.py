"""Pictures a learner can read (issue 17): shape plumbing folded into edges, name scopes as clusters, the
overview, the size guard and the learning view (a cost and its gradient side by side).

The pictures are read back as DOT source (node and edge statements) or, where the layout matters, as SVG
drawn by Graphviz's ``dot``.  Node counts are checked against the same picture with the plumbing drawn.
"""

import contextlib
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz
from symrnn.cli import main
from symrnn.graph import Constant, SharedVariable, name_scope, toposort
from symrnn.interpreter import evaluate
from symrnn.nn.optimizers import adam
from symrnn.viz.plumbing import fold_level

SVG = "{http://www.w3.org/2000/svg}"
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


# --------------------------------------------------------------------------- reading pictures


def statements(dot):
    """``(nodes, edges)`` of a Digraph: ``{id: attrs}`` and ``[(tail, head, attrs)]``, the legend left out."""
    nodes, edges = {}, []
    for line in dot.source.splitlines():
        line = line.strip()
        m = re.match(r"^(\w+) -> (\w+)(?: \[(.*)\])?$", line)
        if m:
            edges.append((m.group(1), m.group(2), dict(_ATTR.findall(m.group(3) or ""))))
            continue
        m = re.match(r"^(\w+) \[(.*)\]$", line)
        if m and m.group(1) not in ("graph", "node", "edge") and not m.group(1).startswith("legend_"):
            nodes[m.group(1)] = dict(_ATTR.findall(m.group(2)))
    return nodes, edges


def text(attr):
    """An attribute as shown: quotes off, DOT's line breaks as newlines."""
    return attr.strip('"').replace("\\n", "\n") if attr else ""


def first_lines(nodes):
    return [text(a.get("label")).split("\n")[0] for a in nodes.values()]


def clusters_of(dot):
    """``{cluster name: (label, [its nodes, nested clusters' included])}``."""
    found, stack = {}, []
    for line in dot.source.splitlines():
        line = line.strip()
        if line.endswith("{"):
            m = re.match(r"^subgraph (\w+) \{$", line)
            stack.append(m.group(1) if m else None)
            if m:
                found[m.group(1)] = ["", []]
            continue
        if line == "}":
            stack.pop()
            continue
        m = re.search(r"(?:^| )label=(\"(?:[^\"\\]|\\.)*\"|\S+)", line)
        if m and "[" not in line and stack and stack[-1] and not found[stack[-1]][0]:
            found[stack[-1]][0] = text(m.group(1))
        m = re.match(r"^(\w+) \[", line)
        if m and "->" not in line:
            for name in stack:
                if name:
                    found[name][1].append(m.group(1))
    return {name: (label, members) for name, (label, members) in found.items()}


def svg_size(dot):
    root = ET.fromstring(dot.pipe(format="svg"))
    return float(root.get("width").rstrip("pt")), float(root.get("height").rstrip("pt"))


# --------------------------------------------------------------------------- graphs


def rnn_gradient(steps=3):
    """A 3-step RNN, ``cost = mean(h[-1] ** 2)`` and its gradient: what ``symrnn viz rnn --grad`` draws."""
    cell = nn.RNNCell(3, 4, seed=0)
    x = T.tensor("float64", (steps, None, 3), name="x")
    h, _ = nn.rnn(cell, x)
    cost = T.mean(h[-1] ** 2)
    params = list(cell.params.values())
    grads = symrnn.grad(cost, params)
    return x, cost, params, {"cost": cost, **{f"d cost / d {p.name}": g for p, g in zip(params, grads)}}


def lstm_training_step():
    """nn.LSTMCell + nn.rnn + mse + Adam: one compiled training step."""
    cell = nn.LSTMCell(3, 8, seed=0)
    x, y = T.tensor3("x"), T.tensor3("y")
    h, _ = nn.rnn(cell, x)
    loss = nn.losses.mse(h, y)
    return cell, loss, symrnn.function([x, y], loss, updates=adam(loss, list(cell.params.values())))


@pytest.fixture(scope="module")
def demo_lstm():
    from symrnn.demo import TASKS, build_model

    old = symrnn.config.floatX
    symrnn.config.floatX = "float32"
    try:
        return build_model(TASKS[0], "lstm", 0)
    finally:
        symrnn.config.floatX = old


# --------------------------------------------------------------------------- folding


def test_the_3_step_rnn_gradient_folds_from_85_to_18_nodes():
    _, _, _, drawn = rnn_gradient()
    shown = viz.to_dot(drawn, collapse="cells", show_plumbing=True, max_nodes=None)
    folded = viz.to_dot(drawn, collapse="cells")
    assert viz.count_nodes(shown) >= 80
    assert viz.count_nodes(folded) <= 18
    ops = first_lines(statements(folded)[0])
    for plumbing in ("shape_0", "shape_1", "Alloc", "dimshuffle{x,0,1}", "getitem[::-1]", "getitem[?:?]",
                     "cast_float64", "inc_subtensor[-1]", "sub", "eq"):
        assert plumbing in first_lines(statements(shown)[0]), plumbing
        assert plumbing not in ops, plumbing
    # What is left: the loops, the loss, the gradient of the loss, the parameters' gradients.
    for kept in ("scan{rnn}", "scan{grad_of_rnn}", "pow", "sum{axis=(0, 1)}", "true_div", "cost", "x", "rnn/W"):
        assert kept in ops, kept
    # The expanded picture folds too.
    assert viz.count_nodes(viz.to_dot(drawn, max_nodes=None)) <= 60 < 125 <= viz.count_nodes(
        viz.to_dot(drawn, show_plumbing=True, max_nodes=None))


def test_an_lstm_training_step_and_the_demo_graph_fold():
    _, _, f = lstm_training_step()
    for which, before, after in (("built", 560, 320), ("compiled", 235, 135)):
        shown = viz.count_nodes(viz.to_dot(f, which=which, collapse="cells", show_plumbing=True, max_nodes=None))
        folded = viz.count_nodes(viz.to_dot(f, which=which, collapse="cells", max_nodes=None))
        assert shown >= before and folded <= after, (which, shown, folded)


def test_the_demo_graph_folds_and_its_default_picture_fits_a_page(demo_lstm):
    f = demo_lstm["train"]
    shown = viz.to_dot(f, which="both", collapse="cells", show_plumbing=True, max_nodes=None, page=None)
    folded = viz.to_dot(f, which="both", collapse="cells", max_nodes=None)
    assert viz.count_nodes(shown) >= 900 and viz.count_nodes(folded) <= 540
    width, height = svg_size(shown)
    assert width > 15_000  # the demo's lstm_graph.svg before issue 17: 19,484 x 2,594 pt
    guarded = viz.to_dot(f, which="both", collapse="cells")
    assert viz.count_nodes(guarded) <= viz.MAX_NODES
    assert "too big for one page" in guarded.source and "overview" in guarded.source
    width, height = svg_size(guarded)
    assert width <= 16 * 72 + 1 and height <= 16 * 72 + 1  # within the page: Graphviz's size, in points


def test_the_marks_on_the_edges_say_what_was_folded():
    _, _, _, drawn = rnn_gradient()
    nodes, edges = statements(viz.to_dot(drawn, collapse="cells"))
    labels = [text(attrs.get("label")) for _, _, attrs in edges]
    by_first = {text(a.get("label")).split("\n")[0]: (k, text(a.get("label"))) for k, a in nodes.items()}
    forward, backward = by_first["scan{rnn}"][0], by_first["scan{grad_of_rnn}"][0]
    between = [text(a.get("label")).replace("\n", " ") for t, h, a in edges if (t, h) == (forward, backward)]
    assert "sequence 1 out 0 [?:?][::-1] float64(?, ?, 4)" in between  # the states, reversed for the way back
    assert "sequence 2 out 0 [1:][?:?][::-1] float64(?, ?, 4)" in between
    assert any("into 0s[-1][?:?][::-1]" in label.replace("\n", " ") for label in labels)  # d cost / d h[-1]
    assert any(label.startswith("#0 out 1 [-1]") for label in labels)  # h[-1]
    # Values known without the data are written in the node they feed.
    assert "initial state 0 = 0s" in by_first["scan{rnn}"][1]
    assert "initial state 0, 1, 2, 3 = 0s" in by_first["scan{grad_of_rnn}"][1]
    assert "#1 = 2" in by_first["pow"][1] and "#1 = shape[0]*4" in by_first["true_div"][1]
    # Marked edges say so in their colour, and the legend explains the marks.
    assert {a.get("fontcolor") for _, _, a in edges if "[::-1]" in a.get("label", "")} == {'"#6a3d9a"'}
    assert "legend_plumbing" in viz.to_dot(drawn, collapse="cells").source
    # Inside the backward step, transposes are marks too.
    inner = statements(viz.to_dot(drawn, max_nodes=None))[1]
    assert any("\u1d40" in a.get("label", "") for _, _, a in inner)


def _apply_marks(value, marks):
    """The marks a fold left, applied with NumPy (``None`` where one has no NumPy spelling, like ``[?:?]``)."""
    for mark in marks:
        if mark == "\u1d40":
            value = value.T
        elif re.fullmatch(r"\[[-\d:, None]*\]", mark):
            value = eval(f"value{mark}", {"value": value})  # an index such as [::-1], [1:], [None]
        else:
            return None
    return value


def test_each_fold_means_what_it_says():
    """Checked with the reference interpreter: a folded value equals its source with the marks applied, and a
    value known without the data equals the value the picture shows."""
    x, _, _, drawn = rnn_gradient()
    roots = list(drawn.values())
    nodes = toposort(roots)
    folds = fold_level(nodes, keep=roots)
    rng = np.random.default_rng(0)
    env = {id(x): rng.normal(size=(3, 2, 3))}
    env.update({id(v): v.get_value() for n in nodes for v in n.inputs if isinstance(v, SharedVariable)})
    folded_vars = [o for n in nodes for o in n.outputs if id(o) in folds]
    values = dict(zip(map(id, folded_vars), evaluate(folded_vars, env)))
    checked = {"marks": 0, "known": 0}
    for var in folded_vars:
        fold = folds[id(var)]
        if fold.known:
            if fold.value is not None:
                np.testing.assert_array_equal(values[id(var)], fold.value)
                checked["known"] += 1
            continue
        source = evaluate([fold.source], env)[0] if not isinstance(fold.source, Constant) else fold.source.data
        expected = _apply_marks(np.asarray(source), [m for m in fold.marks if m != "broadcast"])
        if expected is not None:
            np.testing.assert_allclose(values[id(var)], np.broadcast_to(expected, values[id(var)].shape))
            checked["marks"] += 1
    assert checked["marks"] >= 3 and checked["known"] >= 3, checked


def test_a_plumbing_node_that_is_an_output_stays_visible():
    x = T.matrix("x")
    for out, op in ((x.T, "dimshuffle{1,0}"), (x.shape[0], "shape_0"), (T.zeros_like(x), "Alloc"),
                    (x[::-1], "getitem[::-1]")):
        nodes, edges = statements(viz.to_dot({"out": out}))
        assert op in first_lines(nodes), op
    # Folded where it feeds another op, drawn where it is the output.
    nodes, _ = statements(viz.to_dot({"y": T.exp(x.T), "t": x.T}))
    assert first_lines(nodes).count("dimshuffle{1,0}") == 1


# --------------------------------------------------------------------------- name scopes


def test_name_scopes_are_clusters_and_show_in_tooltips():
    cell = nn.LSTMCell(3, 4, seed=0)
    h, _ = nn.rnn(cell, T.tensor3("x"))
    dot = viz.to_dot({"h": h}, cluster_scopes=True, max_nodes=None)
    clusters = clusters_of(dot)
    labels = {label for label, _ in clusters.values()}
    assert {"lstm", "forget_gate", "input_gate", "output_gate", "candidate", "cell", "hidden"} <= labels
    nodes, _ = statements(dot)
    [scan_cluster] = [name for name in clusters if name.startswith("cluster_scan_lstm")]
    for label, members in clusters.values():
        if label == "forget_gate":
            # nested: the gate's cluster is inside the loop's step, inside the lstm scope
            assert set(members) <= set(clusters[scan_cluster][1])
            sigmoids = [m for m in members if text(nodes[m]["label"]).startswith("sigmoid")]
            assert len(sigmoids) == 1
            assert "scope: lstm/forget_gate" in text(nodes[sigmoids[0]]["tooltip"])
    # Off by default; a gradient's scopes are clusters too.
    assert "forget_gate" not in {label for label, _ in clusters_of(viz.to_dot({"h": h})).values()}
    cost = T.sum(h[-1])
    grads = symrnn.grad(cost, list(cell.params.values()))
    g = clusters_of(viz.to_dot(grads, cluster_scopes=True, max_nodes=None))
    assert "grad" in {label for label, _ in g.values()} and "forget_gate" in {label for label, _ in g.values()}


def test_scope_names_are_escaped():
    hostile = 'say "hi" <b>&\n'
    x = T.vector("x")
    with name_scope(hostile):
        y = T.exp(x) * 2
    dot = viz.to_dot(y, cluster_scopes=True)
    proc_svg = dot.pipe(format="svg").decode("utf-8")
    root = ET.fromstring(proc_svg)  # well-formed
    texts = {t.text for t in root.iter(SVG + "text")}
    assert 'say "hi" <b>&\\n' in texts
    assert "<b>" not in proc_svg.replace("&lt;b&gt;", "")


# --------------------------------------------------------------------------- overview and size guard


def test_the_overview_draws_one_box_per_scope_or_loop_and_the_values_between():
    _, _, _, drawn = rnn_gradient()
    dot = viz.to_dot(drawn, overview=True)
    nodes, edges = statements(dot)
    boxes = {k: text(a["label"]) for k, a in nodes.items() if k.startswith("box")}
    firsts = sorted(label.split("\n")[0] for label in boxes.values())
    assert firsts == ["grad/rnn", "ops outside any scope", "ops outside any scope", "rnn"]
    [rnn] = [k for k, label in boxes.items() if label.startswith("rnn\n")]
    [grad] = [k for k, label in boxes.items() if label.startswith("grad/rnn\n")]
    assert "loop scan{rnn}" in boxes[rnn] and "3 shared variables" in boxes[rnn]
    assert "loop scan{grad_of_rnn}" in boxes[grad]
    # The forward box feeds the backward one: its states (twice: sliced two ways) and the three weights.
    [between] = [text(a["label"]) for t, h, a in edges if (t, h) == (rnn, grad)]
    assert between.startswith("5 values: ")
    x_node = [k for k, a in nodes.items() if text(a["label"]).startswith("x\n")]
    assert [h for t, h, _ in edges if t == x_node[0]] and all(h.startswith("box") for t, h, _ in edges
                                                              if t == x_node[0])
    outputs = [text(a["label"]) for k, a in nodes.items() if k.startswith("out")]
    assert sorted(o.split("\n")[0] for o in outputs) == ["3 outputs", "cost"]
    # Top-level scopes only: grad/rnn is part of grad.
    top = first_lines(statements(viz.to_dot(drawn, overview=1))[0])
    assert "grad" in top and "grad/rnn" not in top


def test_the_size_guard_collapses_loops_then_draws_an_overview():
    _, _, _, drawn = rnn_gradient()
    small = viz.to_dot(drawn)
    assert "too big" not in small.source and viz.count_nodes(small) > 40  # fits: drawn whole
    collapsed = viz.to_dot(drawn, max_nodes=40)
    assert "so its loops are drawn as single nodes" in collapsed.source
    assert viz.count_nodes(collapsed) <= 40 and "scan{grad_of_rnn}" in collapsed.source
    overview = viz.to_dot(drawn, max_nodes=10)
    assert "so it is drawn as an overview" in overview.source and viz.count_nodes(overview) <= 10
    _, _, f = lstm_training_step()
    guarded = viz.to_dot(f)  # 171 nodes, and 126 x 12 inches with its loops collapsed
    assert "too big for one page (171 nodes)" in text(re.search(r'\blabel=("[^"]*too big[^"]*")',
                                                                guarded.source).group(1))
    assert viz.count_nodes(guarded) <= 20
    assert viz.count_nodes(viz.to_dot(f, max_nodes=None)) == 171
    assert 'size="16,16"' in guarded.source
    assert not re.search(r"\bsize=", viz.to_dot(f, max_nodes=None, page=None).source)


def test_a_wide_picture_turns_left_to_right_before_it_collapses():
    cell = nn.LSTMCell(3, 4, seed=0)
    h, _ = nn.rnn(cell, T.tensor3("x"))
    dot = viz.to_dot({"h": h}, cluster_scopes=True)  # 37 x 14 inches top to bottom
    assert "rankdir=LR" in dot.source and "left to right" in dot.source
    assert "rankdir=TB" in viz.to_dot({"h": h}, cluster_scopes=True, rankdir="TB", max_nodes=None).source
    with pytest.raises(ValueError, match="rankdir"):
        viz.to_dot({"h": h}, rankdir="sideways")


# --------------------------------------------------------------------------- the learning view


def _scoped_fills(dot):
    """``{scope: {fill colours of its nodes}}`` from the tooltips that name each node's scope."""
    nodes, _ = statements(dot)
    fills = {}
    for attrs in nodes.values():
        m = re.search(r"scope: ([^\n\"]+)", text(attrs.get("tooltip")))
        if m:
            fills.setdefault(m.group(1), set()).add(attrs.get("fillcolor"))
    return fills


def test_learn_links_each_gradient_scope_to_its_forward_scope():
    cell = nn.LSTMCell(3, 4, seed=0)
    h, _ = nn.rnn(cell, T.tensor3("x"))
    cost = T.mean(h[-1] ** 2)
    dot = viz.learn(cost, list(cell.params.values()), max_nodes=None)
    clusters = clusters_of(dot)
    sides = {label: members for name, (label, members) in clusters.items() if name.startswith("cluster_side")}
    assert set(sides) == {"forward", "backward / gradient"}
    nodes, edges = statements(dot)
    outputs = {text(nodes[k]["label"]).split("\n")[0]: k for k in nodes if k.startswith("out")}
    assert outputs["cost"] in sides["forward"] and outputs["d cost / d lstm/W_f"] in sides["backward / gradient"]
    fills = _scoped_fills(dot)
    gates = ("forget_gate", "input_gate", "output_gate", "candidate", "cell", "hidden")
    for gate in gates:  # one colour per pair of scopes, a different one for each gate
        assert len(fills[f"lstm/{gate}"]) == 1 and fills[f"lstm/{gate}"] == fills[f"grad/lstm/{gate}"], gate
    assert len({fills[f"lstm/{gate}"].pop() for gate in gates}) == len(gates)
    # A dashed edge from each gradient scope to its forward scope.
    scope_of = {k: re.search(r"scope: ([^\n\"]+)", text(a.get("tooltip"))).group(1)
                for k, a in nodes.items() if "scope: " in text(a.get("tooltip"))}
    links = {(scope_of[t], scope_of[h]) for t, h, a in edges if a.get("id", "").startswith("link_")}
    for gate in gates:
        assert (f"grad/lstm/{gate}", f"lstm/{gate}") in links, gate
    assert all(t == "grad/" + h for t, h in links)
    with pytest.raises(ValueError, match="which='both'"):
        viz.to_dot(lstm_training_step()[2], learn=True, which="both")


def test_learn_draws_the_3_step_rnn_forward_and_backward_side_by_side():
    _, cost, params, _ = rnn_gradient()
    svg = ET.fromstring(viz.learn(cost, params, collapse="cells").pipe(format="svg"))
    boxes = {}
    for g in svg.iter(SVG + "g"):
        if g.get("class") == "cluster" and g.findtext(SVG + "title").startswith("cluster_side"):
            label = " ".join(t.text for t in g.iter(SVG + "text"))
            pts = [tuple(map(float, p.split(","))) for p in g.find(SVG + "path").get("d")[1:].replace("C", " ")
                   .split() if "," in p]
            boxes[label] = (min(x for x, _ in pts), max(x for x, _ in pts))
    assert set(boxes) == {"forward", "backward / gradient"}
    (a0, a1), (b0, b1) = boxes["forward"], boxes["backward / gradient"]
    assert a1 <= b0 or b1 <= a0  # side by side


# --------------------------------------------------------------------------- the command line


def _viz(tmp_path, *args):
    out = tmp_path / "picture.dot"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["viz", *args, "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_cli_learn_overview_and_show_plumbing(tmp_path):
    learn = _viz(tmp_path, "rnn", "--grad", "--learn")
    assert "cluster_side" in learn and "link_" in learn and "backward / gradient" in learn
    assert "d cost / d rnn" in _viz(tmp_path, "rnn", "--learn")  # --learn draws the gradient anyway
    overview = _viz(tmp_path, "lstm", "--grad", "--overview")
    assert "box" in overview and "grad/lstm" in overview and "cluster_scan" not in overview
    folded = _viz(tmp_path, "rnn", "--grad", "--collapse")
    plumbing = _viz(tmp_path, "rnn", "--grad", "--collapse", "--show-plumbing")
    assert "Alloc" in plumbing and "Alloc" not in folded and "[::-1]" in folded
    scopes = _viz(tmp_path, "lstm", "--scopes", "--all")
    assert "label=forget_gate" in scopes
    guarded = _viz(tmp_path, "lstm", "--grad", "--compiled", "--max-nodes", "20")
    assert "too big for one page" in guarded
    with pytest.raises(SystemExit):
        main(["viz", "rnn", "--max-nodes", "0"])
    assert main(["viz", "rnn", "--learn", "--compare", "-o", str(tmp_path / "x.svg")]) == 2


def test_the_demo_writes_an_overview_and_a_detailed_picture(tmp_path, demo_lstm):
    from symrnn.demo import _pictures

    written = _pictures(str(tmp_path), demo_lstm, io.StringIO())
    assert written == ["lstm_graph_overview.svg", "lstm_graph.svg"]
    for name in written:
        root = ET.parse(tmp_path / name).getroot()
        width, height = (float(root.get(k).rstrip("pt")) for k in ("width", "height"))
        assert width <= 16 * 72 + 1 and height <= 16 * 72 + 1, (name, width, height)
    overview = (tmp_path / "lstm_graph_overview.svg").read_text()
    assert "cluster_built" in overview and "cluster_compiled" in overview and "grad/lstm" in overview
    detailed = (tmp_path / "lstm_graph.svg").read_text()
    assert "scan{grad_of_lstm}" in detailed and "cluster_scope" in detailed
