"""Pictures of graphs: DOT/SVG with scan clusters, the legend, compiled vs built, networkx, debugprint, escaping.

SVGs are drawn with the real Graphviz ``dot`` and read back with
``xml.etree.ElementTree``; Graphviz writes each node as ``<g class="node">``
and each cluster as ``<g class="cluster">`` with a ``<title>`` (the DOT name)
and the shapes' coordinates, which is what these tests look at.
"""

import io
import json
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz
from symrnn.graph import toposort
from symrnn.printing import debugprint, pydotprint

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ['quote " here', "angle <b>bold</b> & <i>", "braces {x} [y]", "back\\slash \\N \\l end\\",
           "new\nline", "</script><script>alert(1)</script>", "&lt;entity&gt; &amp;", "tab\tand \x1b esc"]


def shown(name):
    """How a name appears in a picture: literally, with newlines and control characters as visible escapes."""
    return name.replace("\n", "\\n").replace("\x1b", "\\x1b")


# --------------------------------------------------------------------------- reading SVGs


def _bbox(group):
    xs, ys = [], []
    for el in group.iter():
        if el.tag in (SVG + "polygon", SVG + "polyline") and el.get("points"):
            for pair in el.get("points").split():
                x, y = pair.split(",")
                xs.append(float(x))
                ys.append(float(y))
        elif el.tag == SVG + "ellipse":
            cx, cy, rx, ry = (float(el.get(k)) for k in ("cx", "cy", "rx", "ry"))
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
        elif el.tag == SVG + "path" and el.get("d"):
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", el.get("d"))]
            xs += nums[0::2]
            ys += nums[1::2]
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def _inside(inner, outer):
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3])


def read_svg(path_or_text):
    text = open(path_or_text, encoding="utf-8").read() if os.path.exists(str(path_or_text)) else path_or_text
    root = ET.fromstring(text)
    items = {"node": [], "cluster": [], "edge": []}
    for g in root.iter(SVG + "g"):
        kind = g.get("class")
        if kind in items:
            items[kind].append({"id": g.get("id"), "title": g.findtext(SVG + "title"),
                                "texts": [t.text or "" for t in g.iter(SVG + "text")], "bbox": _bbox(g),
                                "fills": [el.get("fill") for el in g if el.get("fill") not in (None, "none")]})
    return items


def nodes_with(svg, text):
    return [n for n in svg["node"] if text in n["texts"]]


def cluster_titled(svg, prefix):
    found = [c for c in svg["cluster"] if c["title"].startswith(prefix)]
    assert found, f"no cluster {prefix!r} among {[c['title'] for c in svg['cluster']]}"
    return found


# --------------------------------------------------------------------------- graphs to draw


def rnn_graph():
    cell = nn.RNNCell(3, 4, seed=0)
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    return cell, x, outputs


def nested_scan_graph():
    """A scan whose step runs a scan: an outer cluster holding an inner one."""
    xs = T.matrix("xs")

    def outer_step(row, acc):
        partial, _ = symrnn.scan(lambda v, s: s + T.exp(v), sequences=[row], outputs_info=[T.constant(0.0)],
                                 name="inner_loop")
        return acc + partial[-1]

    total, _ = symrnn.scan(outer_step, sequences=[xs], outputs_info=[T.constant(0.0)], name="outer_loop")
    return xs, total


@pytest.fixture(scope="module")
def rnn_svg(tmp_path_factory):
    _, _, outputs = rnn_graph()
    path = tmp_path_factory.mktemp("viz") / "rnn.svg"
    # Shape plumbing drawn as nodes (folded by default): the constant 4 of the initial state's shape is one.
    assert pydotprint({"h": outputs}, str(path), show_plumbing=True) == str(path)
    return read_svg(path)


# --------------------------------------------------------------------------- the picture


def test_scan_is_a_cluster_holding_its_inner_graph(rnn_svg):
    [cluster] = cluster_titled(rnn_svg, "cluster_scan_rnn")
    assert "scan{rnn}: one step (5 ops)" in cluster["texts"]
    box = cluster["bbox"]
    # The step's ops, inner inputs (by role) and inner outputs are drawn inside the cluster ...
    for label in ("tanh", "dot", "sequence 0 [t]: x[t+0]", "state 0 [t-1]", "non-sequence 0: rnn/W",
                  "new state 0", "per-step output 0"):
        found = nodes_with(rnn_svg, label)
        assert found, label
        assert all(_inside(n["bbox"], box) for n in found), label
    # ... and the outer inputs, the parameters and the output outside it.
    for label in ("x", "rnn/W", "h"):
        [node] = nodes_with(rnn_svg, label)
        assert not _inside(node["bbox"], box), label


def test_inner_inputs_are_connected_to_the_outer_inputs_they_come_from(rnn_svg):
    ids = {n["id"]: n for n in rnn_svg["node"]}
    edges = {(e["title"].split("->")[0], e["title"].split("->")[1]): e["texts"] for e in rnn_svg["edge"]}
    by_label = {n["texts"][0]: n["id"] for n in rnn_svg["node"]}
    assert (by_label["x"], by_label["sequence 0 [t]: x[t+0]"]) in edges
    assert edges[(by_label["x"], by_label["sequence 0 [t]: x[t+0]"])] == ["slice [t]"]
    assert (by_label["rnn/U"], by_label["non-sequence 1: rnn/U"]) in edges
    # The new state goes back to the state tap for the next step, and the per-step output to the output.
    assert edges[(by_label["new state 0"], by_label["state 0 [t-1]"])] == ["next step"]
    assert (by_label["per-step output 0"], by_label["h"]) in edges
    assert all(tail in ids and head in ids for tail, head in edges)


def test_edges_carry_dtype_and_static_shape(rnn_svg):
    labels = [text for e in rnn_svg["edge"] for text in e["texts"]]
    assert "float64(?, 4)" in labels  # a value inside the step: (batch, units)
    assert "out 1 float64(?, ?, 4)" in labels  # the scan's per-step outputs, all steps
    _, _, outputs = rnn_graph()
    plain = read_svg(viz.to_dot(outputs, show_types=False).pipe(format="svg", encoding="utf-8"))
    assert not any("float64" in t for item in plain["node"] + plain["edge"] for t in item["texts"])


def test_inputs_shared_constants_and_outputs_look_different_and_the_legend_says_so(rnn_svg):
    [legend] = cluster_titled(rnn_svg, "cluster_legend")
    legend_nodes = [n for n in rnn_svg["node"] if n["id"].startswith("legend_")]
    texts = {n["texts"][0]: n for n in legend_nodes}
    assert set(texts) == {"graph input", "shared variable", "constant", "output", "op", "one step's input",
                          "one step's output"}
    assert all(_inside(n["bbox"], legend["bbox"]) for n in legend_nodes)
    fills = {kind: tuple(texts[kind]["fills"]) for kind in ("graph input", "shared variable", "constant", "output")}
    assert len(set(fills.values())) == 4
    # The graph's own nodes are drawn like their legend entry.
    assert tuple(nodes_with(rnn_svg, "x")[0]["fills"]) == fills["graph input"]
    assert tuple(nodes_with(rnn_svg, "rnn/W")[0]["fills"]) == fills["shared variable"]
    assert tuple(nodes_with(rnn_svg, "h")[0]["fills"]) == fills["output"]
    const = [n for n in rnn_svg["node"] if n["texts"] == ["4", "int64()"]][0]
    assert tuple(const["fills"]) == fills["constant"]
    assert "legend" not in viz.to_dot(T.exp(T.vector("x")), legend=False).source


def test_collapse_draws_each_cell_step_as_one_node():
    _, _, outputs = rnn_graph()
    full = read_svg(viz.to_dot(outputs).pipe(format="svg", encoding="utf-8"))
    small = read_svg(viz.to_dot(outputs, collapse="cells").pipe(format="svg", encoding="utf-8"))
    assert len(small["node"]) < len(full["node"]) - 5
    assert [c["title"] for c in small["cluster"]] == ["cluster_legend"]
    [scan] = [n for n in small["node"] if n["texts"][:1] == ["scan{rnn}"]]
    assert scan["texts"][1] == "one step: 5 ops"
    assert "add×2" in scan["texts"][2] and "tanh" in scan["texts"][2]
    assert nodes_with(small, "scan (loop), collapsed")  # the legend explains the new shape
    assert not nodes_with(small, "tanh")


def test_nested_scans_are_nested_clusters():
    _, total = nested_scan_graph()
    svg = read_svg(viz.to_dot(total).pipe(format="svg", encoding="utf-8"))
    [outer] = cluster_titled(svg, "cluster_scan_outer_loop")
    [inner] = cluster_titled(svg, "cluster_scan_inner_loop")
    assert _inside(inner["bbox"], outer["bbox"]) and inner["bbox"] != outer["bbox"]
    [exp] = nodes_with(svg, "exp")
    assert _inside(exp["bbox"], inner["bbox"])
    collapsed = read_svg(viz.to_dot(total, collapse="cells").pipe(format="svg", encoding="utf-8"))
    assert [n["texts"][0] for n in collapsed["node"] if n["texts"][0].startswith("scan{")] == ["scan{outer_loop}"]


def test_gradient_graph_shows_the_forward_and_the_backward_loop():
    cell, _, outputs = rnn_graph()
    cost = T.mean(outputs[-1] ** 2)
    grads = symrnn.grad(cost, list(cell.params.values()))
    svg = read_svg(viz.to_dot({"cost": cost, **{f"d/d{p.name}": g for p, g in zip(cell.params.values(), grads)}})
                   .pipe(format="svg", encoding="utf-8"))
    cluster_titled(svg, "cluster_scan_rnn_")
    cluster_titled(svg, "cluster_scan_grad_of_rnn_")
    outputs_drawn = {n["texts"][0] for n in svg["node"] if n["id"].startswith("out")}
    assert outputs_drawn == {"cost", "d/drnn/W", "d/drnn/U", "d/drnn/b"}


def _op_labels(svg):
    return Counter(n["texts"][0] for n in svg["node"] if n["id"].startswith("op"))


def test_a_compiled_function_is_drawn_after_its_rewrites():
    x = T.vector("x")
    y = T.log(1 / (1 + T.exp(-x))) * 1
    f = symrnn.function([x], y)
    compiled = read_svg(viz.to_dot(f).pipe(format="svg", encoding="utf-8"))
    built = read_svg(viz.to_dot(f, which="built").pipe(format="svg", encoding="utf-8"))
    assert _op_labels(compiled) == Counter(str(n.op) for n in f.nodes)
    assert _op_labels(built) == Counter(str(n.op) for n in toposort(f.outputs))
    assert _op_labels(compiled) != _op_labels(built)
    assert [n["texts"][0] for n in compiled["node"] if n["id"].startswith("out")] == ["output 0"]


def test_compare_draws_built_and_compiled_side_by_side():
    cell = nn.LSTMCell(3, 4, seed=0)
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    s = symrnn.shared(np.zeros(()), name="steps")
    f = symrnn.function([x], outputs, updates=[(s, s + 1)])
    svg = read_svg(viz.compare(f, max_nodes=None).pipe(format="svg", encoding="utf-8"))  # every node: no size guard
    [built] = cluster_titled(svg, "cluster_built")
    [compiled] = cluster_titled(svg, "cluster_compiled")
    assert built["texts"][0].startswith("as built: ")
    assert compiled["texts"][0].startswith("compiled (after the FAST_RUN rewrites): ")
    assert built["bbox"][2] <= compiled["bbox"][0] or compiled["bbox"][2] <= built["bbox"][0]  # side by side
    for side in (built, compiled):
        assert [c for c in svg["cluster"] if c["title"].startswith("cluster_scan_lstm") and
                _inside(c["bbox"], side["bbox"])]
        assert [n for n in nodes_with(svg, "update of 'steps'") if _inside(n["bbox"], side["bbox"])]
    with pytest.raises(ValueError, match="compiled Function"):
        viz.compare([outputs])


# --------------------------------------------------------------------------- files and formats


def test_pydotprint_writes_svg_png_pdf_and_dot(tmp_path):
    x = T.vector("x")
    f = symrnn.function([x], T.tanh(x) * 2)
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b"digraph symrnn"}
    for fmt, start in magic.items():
        path = pydotprint(f, str(tmp_path / f"f.{fmt}"))
        assert open(path, "rb").read().startswith(start), fmt
    path = pydotprint(f, str(tmp_path / "picture"), format="png")
    assert open(path, "rb").read().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="format must be one of"):
        pydotprint(f, str(tmp_path / "f.svg"), format="jpeg")
    with pytest.raises(ValueError, match="collapse"):
        viz.to_dot(f, collapse="everything")


def test_without_dot_the_source_is_written_and_the_error_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    x = T.vector("x")
    target = tmp_path / "graph.svg"
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        pydotprint(T.exp(x), str(target))
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert str(tmp_path / "graph.dot") in message
    assert not target.exists()
    assert (tmp_path / "graph.dot").read_text().startswith("digraph symrnn")
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        path = pydotprint(T.exp(x), str(tmp_path / "other.png"), on_missing_dot="warn")
    assert path == str(tmp_path / "other.dot") and os.path.exists(path)
    with pytest.raises(viz.GraphvizNotFoundError, match="brew install graphviz"):
        viz.to_html(T.exp(x), str(tmp_path / "graph.html"))
    assert not (tmp_path / "graph.html").exists()
    # A .dot file needs no Graphviz at all.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pydotprint(T.exp(x), str(tmp_path / "fine.dot")) == str(tmp_path / "fine.dot")


# --------------------------------------------------------------------------- networkx


def test_to_networkx_has_op_type_shape_and_name():
    _, x, outputs = rnn_graph()
    g = viz.to_networkx(outputs)
    for _, data in g.nodes(data=True):
        assert {"op", "type", "shape", "name", "kind", "role", "trace", "subgraph", "depth"} <= set(data)
    [scan] = [d for _, d in g.nodes(data=True) if d["op"] == "scan{rnn}"]
    assert scan["kind"] == "apply" and scan["type"] == ("float64(?, ?, 4)", "float64(?, ?, 4)")
    [xd] = [d for _, d in g.nodes(data=True) if d["name"] == "x"]
    assert xd["role"] == "input" and xd["shape"] == (None, None, None) and xd["type"] == "float64(?, ?, ?)"
    assert {d["role"] for _, d in g.nodes(data=True) if d["name"] == "rnn/W"} == {"shared"}
    assert all(d["subgraph"] is None for _, d in g.nodes(data=True))
    [out] = [d for _, d in g.nodes(data=True) if "output" in d]
    assert out["shape"] == (None, None, 4)


def test_to_networkx_can_include_inner_graphs():
    _, x, outputs = rnn_graph()
    g = viz.to_networkx(outputs, inner=True)
    inner = {k: d for k, d in g.nodes(data=True) if d["subgraph"] == "scan{rnn}#1"}
    assert Counter(d["op"] for d in inner.values() if d["kind"] == "apply") == Counter(
        {"dot": 2, "add": 2, "tanh": 1})
    [seq] = [k for k, d in inner.items() if d["role"] == "sequence"]
    assert g.edges[f"v{id(x)}", seq]["kind"] == "feeds"
    assert sum(1 for *_, d in g.edges(data=True) if d["kind"] == "becomes") == 2
    _, total = nested_scan_graph()
    nested = viz.to_networkx(total, inner=True)
    assert {d["subgraph"] for _, d in nested.nodes(data=True) if d["depth"] == 2} == {"scan{inner_loop}#2"}
    assert len(nested) > len(viz.to_networkx(total))


# --------------------------------------------------------------------------- debugprint


def test_debugprint_shows_the_inner_graph_of_a_scan_with_roles():
    _, _, outputs = rnn_graph()
    text = debugprint(outputs, file=io.StringIO())
    lines = re.sub(r" \[id [A-Z]+\]", "", text).splitlines()
    assert lines[0] == "scan{rnn}.1 float64(?, ?, 4) [rnn]"  # the name scope the cell built it in
    start = lines.index(" >inner graph of scan{rnn}, one step:")
    assert " >inner graph of scan{rnn} [id A], one step:" in text  # the scan's own id
    assert lines[start + 1:] == [
        " >new state 0 = tanh float64(?, 4) [rnn/hidden]",
        " > |add float64(?, 4) [rnn/hidden]",
        " >   |add float64(?, 4) [rnn/hidden]",
        " >     |dot float64(?, 4) [rnn/hidden]",
        " >       |sequence 0 [t] float64(?, ?)",
        " >       |non-sequence 0 'rnn/W' float64(3, 4)",
        " >     |dot float64(?, 4) [rnn/hidden]",
        " >       |state 0 [t-1] float64(?, 4)",
        " >       |non-sequence 1 'rnn/U' float64(4, 4)",
        " >   |non-sequence 2 'rnn/b' float64(4,)",
        " >per-step output 0 = tanh float64(?, 4) [rnn/hidden] (shown above)",
    ]
    without = debugprint(outputs, file=io.StringIO(), print_inner=False)
    assert "inner graph" not in without and len(without.splitlines()) == start


def test_debugprint_nests_inner_graphs_of_nested_scans():
    _, total = nested_scan_graph()
    text = debugprint(total, file=io.StringIO())
    outer = [line for line in text.splitlines() if "inner graph of scan{outer_loop}" in line]
    inner = [line for line in text.splitlines() if "inner graph of scan{inner_loop}" in line]
    assert len(outer) == 1 and len(inner) == 1
    assert inner[0].count(">") == 2  # marked twice: an inner graph inside an inner graph
    assert "sequence 0 [t]" in text and "exp" in text


# --------------------------------------------------------------------------- hostile names


def hostile_graph():
    """Every user string a picture shows: input, shared, intermediate and output names, and a loop's name."""
    xs = [T.vector(name) for name in HOSTILE]
    w = symrnn.shared(np.ones(3), name=HOSTILE[1])
    total = xs[0] * w
    for v in xs[1:]:
        total = total + v
    total.name = HOSTILE[4]
    looped, _ = symrnn.scan(lambda v: T.tanh(v), sequences=[T.matrix(HOSTILE[5])], name=HOSTILE[0])
    return {HOSTILE[2]: total, HOSTILE[6]: looped}


def test_hostile_names_make_valid_dot_and_svg_and_show_literally(tmp_path):
    dot = viz.to_dot(hostile_graph())
    source_path = tmp_path / "hostile.dot"
    source_path.write_text(dot.source, encoding="utf-8")
    proc = subprocess.run(["dot", "-Tsvg", str(source_path)], capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    svg = read_svg(proc.stdout.decode("utf-8"))
    texts = {t for item in svg["node"] + svg["edge"] + svg["cluster"] for t in item["texts"]}
    for name in HOSTILE:
        assert shown(name) in texts, name
    outputs = {n["texts"][0] for n in svg["node"] if n["id"].startswith("out")}
    assert outputs == {HOSTILE[2], HOSTILE[6]}  # the dict's keys label the outputs
    assert "scan{quote \" here}: one step (1 ops)" in texts
    # Node ids and cluster names are symrnn's own, never made from user strings.
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n["id"]) for n in svg["node"])
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", c["title"]) for c in svg["cluster"])


def test_escape_label_never_makes_html_labels_or_unbalanced_quotes():
    import graphviz

    g = graphviz.Digraph()
    for i, name in enumerate(["<b>x</b>", "end\\", '\\"', "a\nb"]):
        g.node(f"n{i}", label=viz.escape_label(name))
    assert 'label="<b>x</b>"' in g.source  # quoted, so not an HTML-like label
    assert 'label="end\\\\"' in g.source and 'label="\\\\\\""' in g.source and 'label="a\\\\nb"' in g.source


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.tags, self._in = [], Counter(), None

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        if tag == "script":
            self._in = dict(attrs)
            self.scripts.append([dict(attrs), ""])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self.scripts[-1][1] += data


def test_hostile_names_in_html_stay_text(tmp_path):
    text = viz.to_html(hostile_graph(), str(tmp_path / "hostile.html"), title=HOSTILE[5])
    assert open(tmp_path / "hostile.html", encoding="utf-8").read() == text
    assert "<script>alert(1)" not in text and "<b>bold" not in text
    parser = _Scripts()
    parser.feed(text)
    assert [attrs.get("type") for attrs, _ in parser.scripts] == ["application/json", None]
    assert parser.tags["b"] == 0 and parser.tags["i"] == 0  # no tag from a name became markup
    blob = parser.scripts[0][1]
    assert "<" not in blob and ">" not in blob and "&" not in blob
    details = json.loads(blob)
    names = {value for d in details.values() for key, value in d["fields"] if key == "name"}
    assert {HOSTILE[0], HOSTILE[1], HOSTILE[3], HOSTILE[4]} <= names  # raw, not visibly escaped: JSON carries them
    svg_start, svg_end = text.index("<svg"), text.index("</svg>") + len("</svg>")
    svg = read_svg(text[svg_start:svg_end])
    assert shown(HOSTILE[5]) in {t for n in svg["node"] for t in n["texts"]}
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


# --------------------------------------------------------------------------- the command line


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "symrnn.cli", "viz", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.parametrize("kind, flags, name, check", [
    ("rnn", [], "rnn.svg", lambda svg, raw: cluster_titled(svg, "cluster_scan_rnn")),
    ("lstm", ["--grad", "--compiled", "--all"], "lstm.svg",  # --all: every node, not the size guard's picture
     lambda svg, raw: cluster_titled(svg, "cluster_scan_grad_of_lstm") and nodes_with(svg, "d cost / d lstm/W_f")),
    ("gru", ["--collapse"], "gru.dot",
     lambda svg, raw: "scan{gru}" in raw and "cluster_scan" not in raw),
    ("buggy-lstm", ["--html"], "buggy.html",
     lambda svg, raw: "buggy_lstm/W_in" in raw and raw.startswith("<!DOCTYPE html>")),
])
def test_cli_draws_each_cell(tmp_path, kind, flags, name, check):
    out = tmp_path / name
    proc = run_cli(kind, *flags, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    raw = out.read_text(encoding="utf-8")
    svg = read_svg(raw) if name.endswith(".svg") else None
    assert check(svg, raw)


def test_cli_compare_and_errors(tmp_path):
    out = tmp_path / "both.svg"
    proc = run_cli("lstm", "--compare", "--collapse", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    svg = read_svg(out)
    cluster_titled(svg, "cluster_built")
    cluster_titled(svg, "cluster_compiled")
    proc = run_cli("lstm", "--html", "-o", str(tmp_path / "x.svg"))
    assert proc.returncode == 2 and "FILE.html" in proc.stderr
    proc = run_cli("lstm", "-o", str(tmp_path / "x.jpeg"))
    assert proc.returncode == 2 and ".svg" in proc.stderr
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = run_cli("rnn", "-o", str(tmp_path / "r.svg"), env={**os.environ, "PATH": str(empty)})
    assert proc.returncode == 1 and "apt-get install graphviz" in proc.stderr
    assert (tmp_path / "r.dot").exists() and not (tmp_path / "r.svg").exists()


def test_inputs_of_non_commutative_ops_are_numbered():
    a, b = T.vector("a"), T.vector("b")
    svg = read_svg(viz.to_dot((a - b) + a * b).pipe(format="svg", encoding="utf-8"))
    ids = {n["texts"][0]: n["id"] for n in svg["node"]}
    edges = {tuple(e["title"].split("->")): e["texts"] for e in svg["edge"]}
    [sub] = [n["id"] for n in svg["node"] if n["texts"] == ["sub"]]
    [mul] = [n["id"] for n in svg["node"] if n["texts"] == ["mul"]]
    assert edges[(ids["a"], sub)] == ["#0"] and edges[(ids["b"], sub)] == ["#1"]
    assert edges[(ids["a"], mul)] == [] and edges[(ids["b"], mul)] == []  # a commutative op: no numbers
    [add] = [n["id"] for n in svg["node"] if n["texts"] == ["add"]]
    assert edges[(sub, add)] == ["float64(?,)"]


def test_output_labels_must_match_the_outputs():
    x = T.vector("x")
    f = symrnn.function([x], [T.exp(x), T.tanh(x)])
    assert 'label="exp of x' in viz.to_dot(f, output_labels=["exp of x", "tanh of x"]).source
    with pytest.raises(ValueError, match="1 label"):
        viz.to_dot(f, output_labels=["only one"])


def test_pydotprint_takes_theano_arguments(tmp_path, capsys):
    x = T.vector("x")
    f = symrnn.function([x], T.tanh(x))
    path = str(tmp_path / "theano.png")
    assert pydotprint(f, outfile=path, compact=True, with_ids=False, high_contrast=True, var_with_name_simple=True,
                      scan_graphs=True, print_output_file=True) == path
    assert capsys.readouterr().out == f"The output file is available at {path}\n"
    image = pydotprint(f, outfile=str(tmp_path / "nothing.png"), return_image=True)
    assert image.startswith(b"\x89PNG") and not (tmp_path / "nothing.png").exists()
    assert pydotprint(f, format="svg", outfile=str(tmp_path / "s.svg"), return_image=True).startswith(b"<?xml")


def test_taps_n_steps_and_until_are_drawn():
    f0 = T.vector("f0")
    limit = T.scalar("limit")

    def fib(a, b, lim):  # state taps t-2 and t-1; stop once past the limit
        new = a + b
        return new, symrnn.until(T.max(new) > lim)

    values, _ = symrnn.scan(fib, outputs_info=[dict(initial=f0, taps=[-2, -1])], non_sequences=[limit],
                            n_steps=T.lscalar("n"), name="fib")
    svg = read_svg(viz.to_dot(values).pipe(format="svg", encoding="utf-8"))
    [cluster] = cluster_titled(svg, "cluster_scan_fib")
    by_label = {n["texts"][0]: n for n in svg["node"]}
    for label in ("state 0 [t-2]: f0[t-2]", "state 0 [t-1]: f0[t-1]", "non-sequence 0: limit", "new state 0",
                  "until condition"):
        assert _inside(by_label[label]["bbox"], cluster["bbox"]), label
    edges = {tuple(e["title"].split("->")): e["texts"] for e in svg["edge"]}
    new_state, f0_node = by_label["new state 0"]["id"], by_label["f0"]["id"]
    for tap in ("state 0 [t-2]: f0[t-2]", "state 0 [t-1]: f0[t-1]"):  # both taps read the new state later
        assert edges[(new_state, by_label[tap]["id"])] == ["next step"]
        assert edges[(f0_node, by_label[tap]["id"])] == ["initial [:2] float64(?,)"]  # its first 2 rows
    [header] = [n for n in svg["node"] if n["texts"] == ["scan{fib}", "for t in range(n_steps)"]]
    assert edges[(by_label["n"]["id"], header["id"])] == ["n_steps"]
    text = debugprint(values, file=io.StringIO())
    assert "state 0 [t-2]" in text and "until condition = gt" in text


def test_a_very_long_name_is_cut_in_the_label_and_whole_in_the_tooltip(tmp_path):
    """Issue 15, finding 6: a name over 16,384 characters made every drawing fail with a BrokenPipeError."""
    name = "h" * 20_000 + "_end"
    x = T.vector(name)
    svg = tmp_path / "long.svg"
    viz.render([T.exp(x)], svg)
    text = svg.read_text()
    labels = [line for line in text.splitlines() if "<text" in line and "hhhh" in line]
    assert labels and all(len(line) < 400 for line in labels)  # cut to a readable width, with an ellipsis
    assert "\u2026" in labels[0] or "&#8230;" in labels[0]
    assert "h" * 3000 in text  # the tooltip holds the name (up to its limit)
    html = viz.to_html([T.exp(x)], tmp_path / "long.html")
    assert "_end" in html  # the viewer's details keep the whole name
