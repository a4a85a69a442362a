"""The interactive HTML view, loaded in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Chromium runs the page's own script and prints the resulting DOM
(``--dump-dom``); the page's URL fragment asks it to turn the mouse wheel or
to click a node on load (``#wheel=-400&click=op7``), and the page records
what happened on ``<body>`` and in its details panel.  These tests are
skipped, with the reason, where no Chromium is installed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz

CHROMIUM = next((path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path),
                None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")

INJECT = "</script><script>document.body.setAttribute('data-pwned', '1')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned', '2')\">"


def dump_dom(path, fragment=""):
    """Load ``path`` in headless Chromium and return the DOM after the page's script has run."""
    with tempfile.TemporaryDirectory() as profile:
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                f"--user-data-dir={profile}", "--window-size=1280,900", "--dump-dom",
                f"file://{os.path.abspath(path)}{fragment}"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode("utf-8")


class Dom(HTMLParser):
    """The parts of the dumped DOM the tests read: <body>'s attributes, the panel, tags and scripts."""

    def __init__(self, text):
        super().__init__()
        self.body, self.tags, self.scripts = {}, [], 0
        self.text = {"symrnn-details-title": "", "symrnn-details-kind": ""}
        self.fields, self._where, self._field = [], None, None
        self.selected_class = {}
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
            self.selected_class[attrs["id"]] = attrs.get("class", "")

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
        pairs = {}
        for (_, key), (_, value) in zip(self.fields[0::2], self.fields[1::2]):
            pairs[key] = value
        return pairs


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


def page_details(path):
    """The page's own node details: its JSON block."""
    text = open(path, encoding="utf-8").read()
    start = text.index('<script type="application/json" id="symrnn-node-data">')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])


def test_the_page_renders_every_node(page):
    path, details, _, _ = page
    dom = Dom(dump_dom(path))
    assert dom.body.get("data-ready") == "1"
    n_nodes = int(dom.body["data-nodes"])
    assert n_nodes == len(details) > 50
    assert int(dom.body["data-drawn-nodes"]) == n_nodes  # every node has a laid-out box
    assert 0 < float(dom.body["data-zoom"]) <= 1  # fitted into the window
    assert "data-selected" not in dom.body and dom.text["symrnn-details-title"] == "Click a node"


def test_clicking_a_node_shows_its_op_type_shape_and_user_line(page):
    path, details, ids, line = page
    [op_id] = [i for i, d in details.items() if d["title"] == "true_div"]
    dom = Dom(dump_dom(path, f"#click={op_id}"))
    assert dom.body.get("data-selected") == op_id
    assert dom.text["symrnn-details-title"] == "true_div" and dom.text["symrnn-details-kind"] == "op"
    shown = dom.details()
    assert shown["op"] == "true_div"
    assert shown["type"] == "float64()" and shown["shape"] == "()"
    assert shown["created at"] == line
    assert "symrnn-selected" in dom.selected_class[op_id]


def test_wheel_zooms_in_and_a_click_still_lands_on_its_node(page):
    path, details, ids, _ = page
    before = float(Dom(dump_dom(path)).body["data-zoom"])
    target = ids["new state 1"]  # an inner output of the LSTM's loop
    dom = Dom(dump_dom(path, f"#wheel=-400&click={target}"))
    assert float(dom.body["data-zoom"]) > before * 1.5
    assert dom.body.get("data-selected") == target
    shown = dom.details()
    assert shown["role"] == "new state 1" and shown["type"] == "float64(?, 4)"


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


def test_unknown_fragment_ids_select_nothing(page):
    path, *_ = page
    dom = Dom(dump_dom(path, "#select=__proto__&click=nope"))
    assert dom.body.get("data-ready") == "1" and "data-selected" not in dom.body


def test_a_graph_without_loops_works_too(tmp_path):
    x = T.vector("x")
    w = symrnn.shared(np.ones(3), name="w")
    path = tmp_path / "small.html"
    viz.to_html({"y": T.tanh(x * w)}, str(path), collapse="cells")
    [tanh] = [i for i, d in page_details(path).items() if d["title"] == "tanh"]
    dom = Dom(dump_dom(path, f"#click={tanh}"))
    assert dom.body.get("data-selected") == tanh and dom.details()["type"] == "float64(?,)"
