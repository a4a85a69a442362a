"""The interactive HTML view, loaded in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Chromium runs the page's own script and prints the resulting DOM
(``--dump-dom``) or takes a screenshot (``--screenshot``); the page's URL
fragment asks it to act on load (``#search=forget_gate&key=Enter``,
``#wheel=-400&click=op7``, ``#collapse=all``: see :mod:`symrnn.viz.html`),
and the page records what happened on ``<body>``, on the SVG's nodes and in
its details panel.  What a test expects comes from the graph itself (scopes,
ops, the DOT source's clusters) or from the page's JSON (the details that
:mod:`symrnn.viz.dot` records, scopes included), never from the script under
test.  These tests are skipped, with the reason, where no
Chromium is installed.

Set ``SYMRNN_SCREENSHOTS=/some/dir`` to keep the screenshots.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from urllib.parse import quote

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz
from symrnn.graph import name_scope, toposort
from symrnn.scan.op import Scan
from symrnn.viz.html import READABLE_PX

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path),
                None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")

INJECT = "</script><script>document.body.setAttribute('data-pwned', '1')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned', '2')\">"
COMMENT = "<!-- <script>document.body.setAttribute('data-pwned', '3')</script>"


def chromium(url, *args, size=(1280, 800)):
    """Run headless Chromium on ``url`` with ``args``; return its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", *args, url]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def url(path, fragment=""):
    return f"file://{os.path.abspath(path)}{fragment}"


def dump_dom(path, fragment="", size=(1280, 800)):
    """Load ``path`` in headless Chromium and return the DOM after the page's script has run."""
    return chromium(url(path, fragment), "--dump-dom", size=size).decode("utf-8")


def screenshot(path, png, size, fragment=""):
    chromium(url(path, fragment), f"--screenshot={png}", size=size)
    return png


class Dom(HTMLParser):
    """The parts of the dumped DOM the tests read: <body>'s attributes, the panel, SVG groups, tags, scripts."""

    def __init__(self, text):
        super().__init__()
        self.body, self.tags, self.scripts = {}, [], 0
        self.text = {"symrnn-details-title": "", "symrnn-details-kind": ""}
        self.fields, self._where, self._field = [], None, None
        self.classes, self.links, self.covers = {}, [], {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "body":
            self.body = attrs
        if tag == "script":
            self.scripts += 1
        if attrs.get("id") in self.text:
            self._where = attrs["id"]
        if tag in ("dt", "dd") and self._where is None:
            self._field = tag
            self.fields.append([tag, ""])
        if tag == "g" and attrs.get("id"):
            self.classes[attrs["id"]] = attrs.get("class", "").split()
        if tag == "g" and "symrnn-cover" in attrs.get("class", ""):
            self.covers[attrs["data-cluster"]] = attrs["class"].split()
        if tag == "button" and "symrnn-link" in attrs.get("class", "").split() and attrs.get("data-target"):
            self.links.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("h2", "p"):
            self._where = None
        if tag in ("dt", "dd"):
            self._field = None

    def handle_data(self, data):
        if self._where is not None:
            self.text[self._where] += data
        elif self._field is not None:
            self.fields[-1][1] += data

    def details(self):
        return {key: value for (_, key), (_, value) in zip(self.fields[0::2], self.fields[1::2])}

    def with_class(self, name):
        return {node_id for node_id, classes in self.classes.items() if name in classes}


class Attributes(HTMLParser):
    """The attributes of a page's tags that could load something (``src``, ``href``, ``xlink:href``...)."""

    def __init__(self, text):
        super().__init__()
        self.loading = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.loading += [(tag, k, v) for k, v in attrs if k in ("src", "href", "xlink:href", "srcset", "data",
                                                                 "action", "poster", "background")]


def page_details(path):
    """The page's own node details: its JSON block."""
    text = open(path, encoding="utf-8").read()
    start = text.index('<script type="application/json" id="symrnn-node-data">')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])


def all_nodes(roots):
    """Every Apply node of a graph, loop bodies included."""
    found, stack = [], [toposort(roots)]
    while stack:
        for node in stack.pop():
            found.append(node)
            if isinstance(node.op, Scan):
                stack.append(toposort(node.op.inner_outputs, stop_at=node.op.inner_inputs))
    return found


def cluster_members(source):
    """Per scan cluster of a DOT source, the ids of the nodes declared in it (nested clusters included)."""
    stack, members = [], {}
    for line in source.splitlines():
        text = line.strip()
        m = re.match(r"subgraph (cluster_\w+) \{", text)
        if m:
            stack.append(m.group(1))
            members[m.group(1)] = set()
        elif text == "}" and stack:
            stack.pop()
        elif stack and (m := re.match(r"(\w+) \[", text)) and m.group(1) not in ("graph", "node", "edge"):
            for name in stack:
                members[name].add(m.group(1))
    return {name: ids for name, ids in members.items() if name.startswith("cluster_scan_")}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """An LSTM run over time, with a hostile input name; the page and the SVG ids of a few nodes."""
    cell = nn.LSTMCell(3, 4, seed=0)
    x = T.tensor3(INJECT)
    y = T.matrix(IMG)
    outputs, _ = nn.rnn(cell, x)
    cost = T.mean(outputs[-1] ** 2) + T.sum(y)
    line = f"{__file__}:{sys._getframe().f_lineno - 1}"  # the line the details panel must show
    f = symrnn.function([x, y], cost)
    path = tmp_path_factory.mktemp("html") / "lstm.html"
    viz.to_html(f, str(path), which="built")
    details = page_details(path)
    ids = {d["title"]: node_id for node_id, d in details.items()}
    return path, details, ids, line


@pytest.fixture(scope="module")
def grad_page(tmp_path_factory):
    """An LSTM's cost and its gradient with respect to every weight: a big graph with scopes and loops."""
    cell = nn.LSTMCell(3, 4, seed=0)
    x = T.tensor3("x")
    h, _ = nn.rnn(cell, x)
    cost = T.mean(h[-1] ** 2)
    params = list(cell.params.values())
    grads = symrnn.grad(cost, params)
    line = sys._getframe().f_lineno - 4  # nn.rnn's line: where the forward nodes come from
    drawn = {"cost": cost, **{f"d cost / d {p.name}": g for p, g in zip(params, grads)}}
    path = tmp_path_factory.mktemp("html") / "lstm_grad.html"
    viz.to_html(drawn, str(path), title="an LSTM and its gradient")
    source = viz.to_dot(drawn, max_nodes=None).source  # the same picture, as to_html draws it
    return path, page_details(path), all_nodes([cost, *grads]), source, line


# --------------------------------------------------------------------------- rendering and the start view


def test_the_page_renders_every_node(page):
    path, details, _, _ = page
    dom = Dom(dump_dom(path))
    assert dom.body.get("data-ready") == "1"
    n_nodes = int(dom.body["data-nodes"])
    assert n_nodes == len(details) > 50
    assert int(dom.body["data-drawn-nodes"]) == n_nodes  # every node has a laid-out box
    assert 0 < float(dom.body["data-zoom"]) <= 1
    assert "data-selected" not in dom.body and dom.text["symrnn-details-title"] == "Click a node"


def test_a_big_graph_starts_readable_on_its_outputs_and_fit_still_fits(grad_page):
    path, details, _, _, _ = grad_page
    for size in [(1280, 800), (390, 844)]:
        dom = Dom(dump_dom(path, size=size))
        # Fitting this graph into the window would make its text a few pixels tall: the page starts closer.
        assert dom.body["data-start"] == "outputs"
        assert float(dom.body["data-text-px"]) >= 10 and READABLE_PX >= 10
        assert int(dom.body["data-visible-outputs"]) >= 1  # an output node is wholly in the view
        start = float(dom.body["data-zoom"])
        fitted = Dom(dump_dom(path, "#press=symrnn-fit", size=size))
        assert float(fitted.body["data-zoom"]) < start / 3  # the whole graph, small
        assert float(fitted.body["data-text-px"]) < 10
        assert int(fitted.body["data-visible-outputs"]) == sum(d["kind"] == "output" for d in details.values())


def test_a_small_graph_starts_fitted(tmp_path):
    x = T.vector("x")
    path = tmp_path / "small.html"
    viz.to_html({"y": T.tanh(x * 2)}, str(path))
    dom = Dom(dump_dom(path))
    assert dom.body["data-start"] == "fit" and float(dom.body["data-zoom"]) == 1  # never magnified past 1
    assert float(dom.body["data-text-px"]) >= 10 and dom.body["data-visible-outputs"] == "1"


# --------------------------------------------------------------------------- search


def test_search_finds_nodes_by_scope_and_pans_to_the_first(grad_page):
    path, details, nodes, _, _ = grad_page
    scopes = {node.scope for node in nodes}
    assert {"lstm/forget_gate", "grad/lstm/forget_gate"} <= scopes  # the graph has both
    dom = Dom(dump_dom(path, "#search=forget_gate"))
    found = dom.with_class("symrnn-match")
    want = {i for i, d in details.items() if d["kind"] != "legend"
            and any("forget_gate" in d[key] for key in ("title", "name", "scope", "op"))}
    assert found == want and int(dom.body["data-matches"]) == len(want)
    assert {details[i]["scope"] for i in found} == {"lstm/forget_gate", "grad/lstm/forget_gate"}
    current = dom.body["data-current"]
    assert dom.with_class("symrnn-current") == {current} and dom.body["data-selected"] == current
    assert dom.body["data-focus"] == current and dom.body["data-focus-in-view"] == "1"
    assert float(dom.body["data-text-px"]) >= 10
    assert dom.details()["scope"] in ("lstm/forget_gate", "grad/lstm/forget_gate")


def test_search_by_op_and_enter_and_next_cycle_through_the_matches(grad_page):
    path, details, nodes, _, _ = grad_page
    dom = Dom(dump_dom(path, "#search=op:sigmoid"))
    sigmoids = {i for i, d in details.items() if d["op"] == "sigmoid"}
    # One sigmoid per gate per forward loop drawn (the forward loop appears twice), and no other node.
    assert len(sigmoids) >= 3 and dom.with_class("symrnn-match") == sigmoids
    order = [Dom(dump_dom(path, "#search=op:sigmoid" + "&key=Enter" * k)).body["data-current"] for k in range(4)]
    assert len(set(order[:3])) == 3 and set(order) <= sigmoids  # each Enter goes on to another match
    assert Dom(dump_dom(path, "#search=op:sigmoid&press=symrnn-search-next")).body["data-current"] == order[1]
    back = Dom(dump_dom(path, "#search=op:sigmoid&press=symrnn-search-next&press=symrnn-search-prev"))
    assert back.body["data-current"] == order[0]
    nothing = Dom(dump_dom(path, "#search=no_such_node_anywhere"))
    assert nothing.body["data-matches"] == "0" and not nothing.with_class("symrnn-match")


def test_search_finds_a_name(grad_page):
    path, details, _, _, _ = grad_page
    dom = Dom(dump_dom(path, "#search=lstm%2FW_f"))
    [shared] = [i for i, d in details.items() if d["kind"] == "shared" and d["name"] == "lstm/W_f"]
    assert shared in dom.with_class("symrnn-match")
    assert all("lstm/w_f" in (details[i]["name"] + details[i]["title"]).lower() for i in dom.with_class("symrnn-match"))


# --------------------------------------------------------------------------- loops collapse and expand


def test_loops_collapse_into_one_box_and_expand(grad_page):
    path, details, _, source, _ = grad_page
    members = cluster_members(source)  # which nodes each loop holds, from the DOT source
    assert len(members) >= 2
    dom = Dom(dump_dom(path))
    assert dom.body["data-loops"] == str(len(members)) and dom.body["data-collapsed"] == "0"
    assert not dom.with_class("symrnn-hidden")
    everything = set().union(*members.values())
    dom = Dom(dump_dom(path, "#collapse=all"))
    assert dom.body["data-collapsed"] == str(len(members))
    assert dom.with_class("symrnn-hidden") & set(details) == everything  # exactly the loops' nodes are hidden
    assert int(dom.body["data-hidden-nodes"]) == len(everything)
    assert all("symrnn-hidden" not in classes for classes in dom.covers.values())  # each loop is one box now
    one, *others = sorted(members)
    dom = Dom(dump_dom(path, f"#collapse=all&expand={one}"))
    assert dom.with_class("symrnn-hidden") & set(details) == set().union(*(members[o] for o in others))
    # The loop's tab, clicked as a user would: collapse, then expand again.
    dom = Dom(dump_dom(path, f"#click=symrnn-tab-{one}"))
    assert dom.with_class("symrnn-hidden") & set(details) == members[one] and "symrnn-collapsed" in dom.classes[one]
    dom = Dom(dump_dom(path, f"#click=symrnn-tab-{one}&click=symrnn-tab-{one}"))
    assert not dom.with_class("symrnn-hidden") and dom.body["data-collapsed"] == "0"


def test_finding_a_node_in_a_collapsed_loop_opens_the_loop(grad_page):
    path, details, _, source, _ = grad_page
    members = cluster_members(source)
    target = next(i for loop in members.values() for i in sorted(loop) if details[i]["op"] == "sigmoid")
    dom = Dom(dump_dom(path, f"#collapse=all&node={target}"))
    assert dom.body["data-selected"] == target and target not in dom.with_class("symrnn-hidden")
    assert dom.body["data-focus-in-view"] == "1"
    assert int(dom.body["data-collapsed"]) == len(members) - 1


# --------------------------------------------------------------------------- details


def test_clicking_a_node_shows_its_op_type_shape_and_user_line(page):
    path, details, ids, line = page
    [op_id] = [i for i, d in details.items() if d["title"] == "true_div"]
    dom = Dom(dump_dom(path, f"#click={op_id}"))
    assert dom.body.get("data-selected") == op_id
    assert dom.text["symrnn-details-title"] == "true_div" and dom.text["symrnn-details-kind"] == "op"
    shown = dom.details()
    assert shown["op"] == "true_div"
    assert shown["type"] == "float64()" and shown["shape"] == "()" and shown["dtype"] == "float64"
    assert shown["created at"] == line
    assert shown["line"] == f"{os.path.basename(__file__)}:{line.rsplit(':', 1)[1]}"
    assert shown["code"] == "cost = T.mean(outputs[-1] ** 2) + T.sum(y)"
    assert "symrnn-selected" in dom.classes[op_id]


def test_a_forward_node_shows_its_scope_and_links_to_its_gradient(grad_page):
    path, details, nodes, _, line = grad_page
    [forget] = [n for n in nodes if n.scope == "lstm/forget_gate" and str(n.op) == "sigmoid"][:1]
    node_id = next(i for i, d in details.items() if d["scope"] == "lstm/forget_gate" and d["op"] == "sigmoid")
    dom = Dom(dump_dom(path, f"#click={node_id}"))
    shown = dom.details()
    assert shown["scope"] == "lstm/forget_gate" == forget.scope
    assert shown["dtype"] == forget.outputs[0].dtype and shown["shape"] == "(?, 4)"
    assert shown["line"].startswith(f"{os.path.basename(__file__)}:{line} (LSTMCell.step, cells.py:")
    assert shown["code"] == "h, _ = nn.rnn(cell, x)"
    assert "sigmoid" in shown["built by"]  # the cell's own line: the forget gate's formula
    grads = {i for i, d in details.items() if d["scope"] == "grad/lstm/forget_gate"}
    targets = [link["data-target"] for link in dom.links]
    assert grads and targets and set(targets) <= grads and len(targets) == min(12, len(grads))
    # A link jumps to the gradient node, whose details link back to the forward nodes.
    dom = Dom(dump_dom(path, f"#click={node_id}&press=symrnn-link-0"))
    assert dom.body["data-selected"] == targets[0] and dom.body["data-focus-in-view"] == "1"
    shown = dom.details()
    assert shown["scope"] == "grad/lstm/forget_gate" and "gradient of" in shown
    assert node_id in {link["data-target"] for link in dom.links}
    assert set(link["data-target"] for link in dom.links) <= {
        i for i, d in details.items() if d["scope"] == "lstm/forget_gate"}


def test_wheel_zooms_in_and_a_click_still_lands_on_its_node(page):
    path, details, ids, _ = page
    before = float(Dom(dump_dom(path)).body["data-zoom"])
    target = ids["new state 1"]  # an inner output of the LSTM's loop
    dom = Dom(dump_dom(path, f"#wheel=-400&click={target}"))
    assert float(dom.body["data-zoom"]) > before * 1.5
    assert dom.body.get("data-selected") == target
    shown = dom.details()
    assert shown["role"] == "new state 1" and shown["type"] == "float64(?, 4)"


# --------------------------------------------------------------------------- offline and script-safe


def test_hostile_names_are_shown_as_text_and_never_run(page):
    path, details, ids, _ = page
    [x_id] = [i for i, d in details.items() if d["kind"] == "input" and d["title"] == INJECT]
    dom = Dom(dump_dom(path, f"#select={x_id}"))
    assert dom.body.get("data-ready") == "1"
    assert "data-pwned" not in dom.body
    assert dom.scripts == 2 and "img" not in dom.tags
    assert dom.text["symrnn-details-title"] == INJECT
    assert dom.details()["name"] == INJECT
    [y_id] = [i for i, d in details.items() if d["kind"] == "input" and d["title"] == IMG]
    dom = Dom(dump_dom(path, f"#click={y_id}"))
    assert dom.details()["name"] == IMG and "data-pwned" not in dom.body


def test_hostile_scopes_loop_names_and_titles_stay_text(tmp_path):
    with name_scope(COMMENT):
        z = T.exp(T.vector(INJECT))
    looped, _ = symrnn.scan(lambda v: T.tanh(v), sequences=[T.matrix(IMG)], name=IMG)
    path = tmp_path / "hostile.html"
    text = viz.to_html({COMMENT: z, INJECT: looped}, str(path), title=INJECT)
    blob = text[text.index('id="symrnn-node-data">'):text.index("</script>")]
    assert "<" not in blob.split(">", 1)[1] and "&" not in blob  # nothing in the JSON can end the block
    assert "<!--" not in text and "<script>document" not in text and "<img" not in text
    details = page_details(path)
    [exp_id] = [i for i, d in details.items() if d["op"] == "exp"]
    assert details[exp_id]["scope"] == COMMENT
    dom = Dom(dump_dom(path, f"#search={quote(COMMENT)}&collapse=all&node={exp_id}"))
    assert dom.body["data-ready"] == "1" and "data-pwned" not in dom.body
    assert dom.scripts == 2 and "img" not in dom.tags
    assert exp_id in dom.with_class("symrnn-match") and dom.body["data-search"] == COMMENT.lower()
    assert dom.body["data-selected"] == exp_id and dom.details()["scope"] == COMMENT
    assert dom.body["data-collapsed"] == "1"  # the loop named like an <img> tag, drawn as a box, with its name
    as_text = ("scan{" + IMG).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as a dump writes it
    assert as_text[:30] in dump_dom(path, "#collapse=all").split('class="symrnn-cover', 1)[1]


def test_the_page_loads_nothing_and_its_policy_holds(page, tmp_path):
    path, *_ = page
    text = open(path, encoding="utf-8").read()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text).group(1)
    assert "default-src 'none'" in csp and "unsafe" not in csp
    assert re.search(r"script-src 'sha256-[^']+'", csp) and re.search(r"style-src 'sha256-[^']+'", csp)
    # The only URLs are the SVG's XML namespaces; nothing has a src, an href or a CSS url().
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg",
                                                               "http://www.w3.org/1999/xlink"}
    assert not Attributes(text).loading and "url(" not in text and "@import" not in text
    dom = Dom(dump_dom(path, "#search=dot&collapse=all&expand=all"))
    assert dom.body["data-csp-violations"] == "0" and dom.body["data-resources"] == "0"
    # The counter works: the same page with an external image, or an inline style attribute, reports it.
    for n, extra in enumerate(['<img src="http://127.0.0.1:9/x.png">', '<p style="color:red">x</p>']):
        bad = tmp_path / f"bad{n}.html"
        bad.write_text(text.replace('<div id="symrnn-main">', extra + '<div id="symrnn-main">'), encoding="utf-8")
        assert int(Dom(dump_dom(bad)).body["data-csp-violations"]) >= 1, extra


def test_unknown_fragment_ids_select_nothing(page):
    path, *_ = page
    dom = Dom(dump_dom(path, "#select=__proto__&click=nope&node=constructor&press=symrnn-details&collapse=x"))
    assert dom.body.get("data-ready") == "1" and "data-selected" not in dom.body
    assert dom.body["data-collapsed"] == "0"


def test_a_graph_without_loops_works_too(tmp_path):
    x = T.vector("x")
    w = symrnn.shared(np.ones(3), name="w")
    path = tmp_path / "small.html"
    viz.to_html({"y": T.tanh(x * w)}, str(path), collapse="cells")
    [tanh] = [i for i, d in page_details(path).items() if d["title"] == "tanh"]
    dom = Dom(dump_dom(path, f"#click={tanh}"))
    assert dom.body.get("data-selected") == tanh and dom.details()["type"] == "float64(?,)"
    assert dom.body["data-loops"] == "0" and "gradient" not in dom.details()  # no gradient drawn: no link


def test_smoke_every_kind_of_picture_loads(tmp_path):
    """A smoke test: the page's script runs to the end on each kind of picture that to_dot draws."""
    x = T.tensor3("x")
    cell = nn.RNNCell(3, 4, seed=0)
    h, _ = nn.rnn(cell, x)
    cost = T.mean(h[-1] ** 2)
    grads = symrnn.grad(cost, list(cell.params.values()))
    drawn = {"cost": cost, **{f"d/d {name}": g for name, g in zip(cell.params, grads)}}
    f = symrnn.function([x], cost)
    for n, (what, options) in enumerate([(drawn, dict(overview=True)), (drawn, dict(learn=True)),
                                         (drawn, dict(cluster_scopes=True, show_plumbing=True)),
                                         (f, dict(which="both", collapse="cells"))]):
        path = tmp_path / f"page{n}.html"
        viz.to_html(what, str(path), **options)
        dom = Dom(dump_dom(path, "#search=rnn"))
        assert dom.body["data-ready"] == "1" and dom.body["data-csp-violations"] == "0", options
        assert dom.body["data-drawn-nodes"] == dom.body["data-nodes"] and int(dom.body["data-matches"]) > 0, options


# --------------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_screenshots_show_the_graph_and_the_search_highlight(grad_page, tmp_path, size):
    image = pytest.importorskip("PIL.Image")
    path, *_ = grad_page
    keep = os.environ.get("SYMRNN_SCREENSHOTS")
    where = keep or str(tmp_path)
    os.makedirs(where, exist_ok=True)
    shots = {}
    for name, fragment in [("start", ""), ("search", "#search=forget_gate"), ("fit", "#press=symrnn-fit"),
                           ("collapsed", "#collapse=all&press=symrnn-fit")]:
        png = screenshot(path, os.path.join(where, f"lstm_grad_{name}_{size[0]}x{size[1]}.png"), size, fragment)
        with image.open(png) as im:
            assert im.size == size
            shots[name] = np.asarray(im.convert("RGB")).astype(int)
    for name, pixels in shots.items():
        not_white = (pixels.min(axis=2) < 235).mean()
        assert 0.03 < not_white < 0.9, (name, not_white)  # drawn, not blank (and not one flood of colour)
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, name
    # The search's orange outline (#e07b00) is on the screen; the start view has none.
    def orange(pixels):
        return int((np.abs(pixels - [224, 123, 0]).sum(axis=2) < 60).sum())
    assert orange(shots["search"]) > 100 and orange(shots["start"]) == 0
    # Collapsed, the loops are boxes in the loop colour (#fff1c2), where the whole graph shows.
    def loop_fill(pixels):
        return int((np.abs(pixels - [255, 241, 194]).sum(axis=2) < 6).sum())
    assert loop_fill(shots["collapsed"]) > 5 * loop_fill(shots["fit"]) + 1000
