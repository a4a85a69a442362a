"""An interactive HTML view of a graph: one self-contained file, no network access.

The page embeds the SVG that Graphviz draws (see :mod:`symrnn.viz.dot`), a
small inline script for pan (drag) and zoom (mouse wheel, ``+``/``-``/``0``
keys, buttons), and a details panel: clicking a node shows its kind, op,
type, shape, name and the user's line that created it.

Safety: the details live in a ``<script type="application/json">`` block
written with ``json.dumps`` and with ``<``, ``>`` and ``&`` written as
``\\u003c``, ``\\u003e``, ``\\u0026``, so no user string can close the block;
the script fills the panel with ``textContent`` only (never ``innerHTML``); the
SVG's text is XML-escaped by Graphviz and the SVG is checked to be
well-formed before it is embedded; and a Content-Security-Policy allows only
this page's own script (by its hash) and no network access at all.

The page understands a URL fragment of commands run on load, which the tests
use in headless Chromium: ``#select=<node-id>`` selects a node, as a click
would; ``#click=<node-id>`` presses and releases the mouse over the middle of
that node as drawn (so the click goes through hit-testing and the page's own
click handler); ``#wheel=<deltaY>`` turns the mouse wheel over the middle of
the view.  They combine with ``&``: ``#wheel=-300&click=op5``.  The page
records its state on ``<body>``: ``data-ready``, ``data-nodes`` (nodes in the
SVG), ``data-drawn-nodes`` (those with a non-empty box once laid out),
``data-zoom`` and ``data-selected``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from symrnn.files import write_text
from symrnn.viz.dot import _build, pipe_svg

__all__ = ["to_html"]

_SCRIPT = r"""
(function () {
  "use strict";
  var details = JSON.parse(document.getElementById("symrnn-node-data").textContent);
  var viewport = document.getElementById("symrnn-viewport");
  var canvas = document.getElementById("symrnn-canvas");
  var svg = canvas.querySelector("svg");
  var panelTitle = document.getElementById("symrnn-details-title");
  var panelKind = document.getElementById("symrnn-details-kind");
  var panelList = document.getElementById("symrnn-details-list");
  var view = {x: 0, y: 0, k: 1};
  var size = {w: 1, h: 1};
  var selected = null;

  function show() {
    canvas.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.k + ")";
    document.body.setAttribute("data-zoom", view.k.toFixed(4));
  }
  function zoomAt(factor, mx, my) {
    var k = Math.min(8, Math.max(0.02, view.k * factor));
    factor = k / view.k;
    view.x = mx - (mx - view.x) * factor;
    view.y = my - (my - view.y) * factor;
    view.k = k;
    show();
  }
  function fit() {
    var vw = viewport.clientWidth, vh = viewport.clientHeight;
    view.k = Math.min(1, 0.95 * Math.min(vw / size.w, vh / size.h));
    view.x = (vw - size.w * view.k) / 2;
    view.y = (vh - size.h * view.k) / 2;
    show();
  }
  function own(id) {
    return Object.prototype.hasOwnProperty.call(details, id) ? details[id] : null;
  }
  function select(id) {
    var info = own(id);
    if (!info) { return false; }
    if (selected) { selected.classList.remove("symrnn-selected"); }
    selected = document.getElementById(id);
    if (selected) { selected.classList.add("symrnn-selected"); }
    panelTitle.textContent = info.title;
    panelKind.textContent = info.kind;
    while (panelList.firstChild) { panelList.removeChild(panelList.firstChild); }
    var fields = info.fields.concat([["node id", id]]);
    for (var i = 0; i < fields.length; i++) {
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = fields[i][0];
      dd.textContent = fields[i][1];
      panelList.appendChild(dt);
      panelList.appendChild(dd);
    }
    document.body.setAttribute("data-selected", id);
    return true;
  }
  function clickNode(id) {
    // What a user's click does: press and release the mouse over the middle of the node as drawn.
    var g = own(id) ? document.getElementById(id) : null;
    if (!g) { return; }
    var r = g.getBoundingClientRect();
    var x = r.left + r.width / 2, y = r.top + r.height / 2;
    var target = document.elementFromPoint(x, y);
    if (!target) { return; }
    var opts = {bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0, pointerId: 1, isPrimary: true};
    target.dispatchEvent(new PointerEvent("pointerdown", opts));
    target.dispatchEvent(new PointerEvent("pointerup", opts));
  }
  function wheelAtCenter(deltaY) {
    var r = viewport.getBoundingClientRect();
    viewport.dispatchEvent(new WheelEvent("wheel", {bubbles: true, cancelable: true, deltaY: deltaY,
      clientX: r.left + r.width / 2, clientY: r.top + r.height / 2}));
  }
  function fromHash() {
    // "#select=<node id>" selects a node; "#wheel=<deltaY>&click=<node id>" scrolls, then clicks (for tests).
    var parts = window.location.hash.replace(/^#/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq < 0) { continue; }
      var key = parts[i].slice(0, eq), value = decodeURIComponent(parts[i].slice(eq + 1));
      if (key === "select") { select(value); }
      else if (key === "click") { clickNode(value); }
      else if (key === "wheel") { wheelAtCenter(Number(value) || 0); }
    }
  }

  var drag = null;
  viewport.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) { return; }
    drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false};
  });
  window.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; viewport.classList.add("symrnn-dragging"); }
    if (drag.moved) { view.x = drag.vx + dx; view.y = drag.vy + dy; show(); }
  });
  window.addEventListener("pointerup", function (e) {
    if (!drag) { return; }
    var moved = drag.moved;
    drag = null;
    viewport.classList.remove("symrnn-dragging");
    if (moved) { return; }
    var node = e.target && e.target.closest ? e.target.closest("g.node") : null;
    if (node && node.id) { select(node.id); }
  });
  viewport.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = viewport.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  function zoomCenter(f) { zoomAt(f, viewport.clientWidth / 2, viewport.clientHeight / 2); }
  document.getElementById("symrnn-fit").addEventListener("click", fit);
  document.getElementById("symrnn-zoom-in").addEventListener("click", function () { zoomCenter(1.25); });
  document.getElementById("symrnn-zoom-out").addEventListener("click", function () { zoomCenter(0.8); });
  window.addEventListener("keydown", function (e) {
    if (e.key === "+" || e.key === "=") { zoomCenter(1.25); }
    else if (e.key === "-") { zoomCenter(0.8); }
    else if (e.key === "0") { fit(); }
  });
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("resize", fit);

  var box = svg.getBoundingClientRect();
  size.w = Math.max(1, box.width);
  size.h = Math.max(1, box.height);
  fit();
  var nodes = svg.querySelectorAll("g.node");
  var drawn = 0;
  for (var i = 0; i < nodes.length; i++) {
    var b = nodes[i].getBBox();
    if (b.width > 0 && b.height > 0) { drawn++; }
  }
  document.body.setAttribute("data-nodes", String(nodes.length));
  document.body.setAttribute("data-drawn-nodes", String(drawn));
  document.body.setAttribute("data-ready", "1");
  fromHash();
})();
"""

_STYLE = """
html, body { margin: 0; height: 100%; font: 13px/1.4 Helvetica, Arial, sans-serif; color: #222; }
body { display: flex; flex-direction: column; }
#symrnn-bar { display: flex; gap: 8px; align-items: center; padding: 6px 10px; border-bottom: 1px solid #ccc;
  background: #f7f7f7; }
#symrnn-bar h1 { font-size: 14px; margin: 0 12px 0 0; }
#symrnn-bar .hint { color: #666; }
#symrnn-main { flex: 1; display: flex; min-height: 0; }
#symrnn-viewport { flex: 1; overflow: hidden; position: relative; cursor: grab; background: #fff;
  touch-action: none; }
#symrnn-viewport.symrnn-dragging { cursor: grabbing; }
#symrnn-canvas { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#symrnn-canvas svg { display: block; }
#symrnn-canvas g.node { cursor: pointer; }
#symrnn-canvas g.node.symrnn-selected > :is(ellipse, polygon, path) { stroke: #d00; stroke-width: 3px; }
#symrnn-details { width: 340px; overflow: auto; border-left: 1px solid #ccc; padding: 10px 14px;
  background: #fafafa; }
#symrnn-details h2 { font-size: 15px; margin: 0 0 2px; word-break: break-all; }
#symrnn-details-kind { color: #666; margin: 0 0 8px; }
#symrnn-details dl { margin: 0; }
#symrnn-details dt { font-weight: bold; margin-top: 6px; }
#symrnn-details dd { margin: 0; white-space: pre-wrap; word-break: break-all; font-family: monospace; }
"""


def _clean_svg(svg: str) -> str:
    """Graphviz's SVG without its XML prolog, doctype and comments, after checking that it is well-formed."""
    ET.fromstring(svg.encode("utf-8"))  # raises ParseError on anything malformed
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    return svg.strip()


def _json_for_script(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` at all."""
    text = json.dumps(data, ensure_ascii=True, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(svg: str, details: dict[str, Any], title: str) -> str:
    """The HTML page around an SVG and its node details (see the module docstring)."""
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
           f"img-src data:; base-uri 'none'; form-action 'none'")
    safe_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{safe_title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<div id=\"symrnn-bar\"><h1>{safe_title}</h1>"
        "<button id=\"symrnn-fit\" type=\"button\">fit</button>"
        "<button id=\"symrnn-zoom-in\" type=\"button\">+</button>"
        "<button id=\"symrnn-zoom-out\" type=\"button\">&minus;</button>"
        "<span class=\"hint\">drag to pan, wheel to zoom, click a node for its details</span></div>\n"
        "<div id=\"symrnn-main\">\n"
        f"<div id=\"symrnn-viewport\"><div id=\"symrnn-canvas\">\n{_clean_svg(svg)}\n</div></div>\n"
        "<aside id=\"symrnn-details\"><h2 id=\"symrnn-details-title\">Click a node</h2>"
        "<p id=\"symrnn-details-kind\">its op, type, shape and the line that created it appear here</p>"
        "<dl id=\"symrnn-details-list\"></dl></aside>\n</div>\n"
        f"<script type=\"application/json\" id=\"symrnn-node-data\">{_json_for_script(details)}</script>\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def to_html(fn_or_vars: Any, outfile: str | os.PathLike | None = None, title: str = "symrnn graph",
            **kwargs: Any) -> str:
    """Write an interactive, self-contained HTML view of a graph; return the page's text.

    ``fn_or_vars`` and ``kwargs`` are as for :func:`symrnn.viz.to_dot`
    (``collapse="cells"``, ``which="both"``...).  The page has the SVG with pan
    (drag) and zoom (wheel), and a details panel that shows, for the clicked
    node, its op, type, shape, name and the user line that created it.  It
    needs Graphviz's ``dot`` to draw the SVG (without it,
    :class:`~symrnn.viz.GraphvizNotFoundError` says how to install it).

    Example::

        >>> import os, tempfile, symrnn.tensor as T
        >>> from symrnn.viz import to_html
        >>> x = T.vector("x")
        >>> text = to_html(T.tanh(x), os.path.join(tempfile.mkdtemp(), "graph.html"))
        >>> "<svg" in text and 'id="symrnn-node-data"' in text
        True
    """
    dot, details = _build(fn_or_vars, **kwargs)
    text = _page(pipe_svg(dot), details, title)
    if outfile is not None:
        write_text(outfile, text)
    return text
