"""An interactive HTML view of a graph: one self-contained file, no network access.

The page embeds the SVG that Graphviz draws (see :mod:`symrnn.viz.dot`), a
small inline script and a details panel:

- **start view**: the whole graph if it fits at a readable size, otherwise a
  readable zoom (node text at least :data:`READABLE_PX` pixels tall) centred
  on the outputs; the ``fit`` button (or the ``0`` key) fits the whole graph;
- **pan and zoom**: drag, mouse wheel or pinch, the ``+``/``-`` keys and buttons;
- **search** (the box, or ``/`` to focus it): finds the nodes whose name,
  scope, op or title contain every word typed (``op:dot scope:forget`` limits
  a word to one field), highlights them, and pans and zooms to the first;
  Enter or ``next`` goes to the next one, Shift+Enter back;
- **loops collapse and expand**: the ``−``/``+`` tab at a loop's corner (or
  ``collapse loops`` for all) hides the loop's step and draws the loop as one
  box, in place (the layout is Graphviz's and is not redone; for a compact
  picture of a big graph draw it with ``collapse="cells"``);
- **details**: clicking a node shows its scope, shape, dtype, the user's line
  that built it (and the code on that line), and, for a node in scope ``X``,
  links to its gradient nodes (those in scope ``grad/X``), or for a gradient
  node, to the forward nodes it differentiates.  A link jumps to its node.

Safety: the details live in a ``<script type="application/json">`` block
written with ``json.dumps`` and with ``<``, ``>`` and ``&`` written as
``\\u003c``, ``\\u003e``, ``\\u0026``, so no user string can close the block
or open a comment; the script writes user strings with ``textContent`` only
(never ``innerHTML``); the SVG's text is XML-escaped by Graphviz and the SVG
is checked to be well-formed before it is embedded; and a
Content-Security-Policy allows only this page's own script and style (by
their hashes) and no network access at all.

The page understands a URL fragment of commands run in order on load (and on
``hashchange``), which the tests use in headless Chromium:
``#node=<id>`` selects a node and pans to it; ``#select=<id>`` selects it
without panning; ``#click=<id>`` pans a node (or a loop's tab,
``symrnn-tab-<cluster id>``) into view if it is not, then presses and
releases the mouse over its middle as drawn (so the click goes through
hit-testing and the page's own handler); ``#wheel=<deltaY>`` turns the wheel
over the middle of the view; ``#search=<text>`` types into the search box;
``#key=<key>`` presses a key in it (``Enter``); ``#press=<element id>``
clicks a button (``symrnn-fit``, ``symrnn-search-next``; a gradient link is
``symrnn-link-0``, ``symrnn-link-1``...); ``#collapse=<cluster id>|all`` and
``#expand=<cluster id>|all`` fold loops.  They combine with ``&``:
``#search=forget_gate&key=Enter``.  The page records its state on ``<body>``
as ``data-*`` attributes: ``data-ready``, ``data-nodes``,
``data-drawn-nodes``, ``data-zoom``, ``data-text-px`` (node text height on
screen), ``data-start`` (``fit`` or ``outputs``), ``data-visible-outputs``,
``data-selected``, ``data-focus`` and ``data-focus-in-view`` (the node last
jumped to), ``data-search``, ``data-matches``, ``data-current``,
``data-loops``, ``data-collapsed``, ``data-hidden-nodes``,
``data-csp-violations`` (what the policy blocked) and ``data-resources``
(what was loaded); and on the SVG's nodes as classes (``symrnn-selected``,
``symrnn-match``, ``symrnn-current``, ``symrnn-hidden``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import linecache
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from symrnn.files import write_text
from symrnn.graph import short_trace, trace_lines
from symrnn.viz.dot import _build, pipe_svg

__all__ = ["READABLE_PX", "to_html"]

READABLE_PX = 11
"""The height in screen pixels that node text has, at least, in the start view and after a jump to a node."""

_SCRIPT = r"""
(function () {
  "use strict";
  var READABLE_PX = __READABLE_PX__;
  var body = document.body;
  function $(id) { return document.getElementById(id); }
  // Count what the Content-Security-Policy blocked, earlier ones included (the tests read the count).
  var violations = 0;
  function blocked(n) { violations += n; body.setAttribute("data-csp-violations", String(violations)); }
  if (window.ReportingObserver) {
    new ReportingObserver(function (reports) { blocked(reports.length); },
                          {types: ["csp-violation"], buffered: true}).observe();
  } else {
    document.addEventListener("securitypolicyviolation", function () { blocked(1); });
  }
  var details = JSON.parse($("symrnn-node-data").textContent);
  var viewport = $("symrnn-viewport"), canvas = $("symrnn-canvas"), svg = canvas.querySelector("svg");
  var graph = svg.querySelector("g.graph") || svg;
  var searchBox = $("symrnn-search"), searchCount = $("symrnn-search-count");
  var panelTitle = $("symrnn-details-title"), panelKind = $("symrnn-details-kind");
  var panelList = $("symrnn-details-list");
  var SVGNS = "http://www.w3.org/2000/svg";
  var view = {x: 0, y: 0, k: 1}, size = {w: 1, h: 1}, unitPx = 1, fontPt = 10;
  var last = {w: viewport.clientWidth, h: viewport.clientHeight};
  var selected = null;
  var anchor = null;  // what the view shows, to show again when the window is resized: "start", "fit", a node id

  function own(id) {
    return Object.prototype.hasOwnProperty.call(details, id) ? details[id] : null;
  }
  function set(name, value) { body.setAttribute("data-" + name, String(value)); }

  // ---- the view: canvas transform, zoom, fit, jump to a node
  function textPx() { return fontPt * unitPx * view.k; }
  function readableK() { return READABLE_PX / (fontPt * unitPx); }
  function show() {
    canvas.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.k + ")";
    set("zoom", view.k.toFixed(4));
    set("text-px", textPx().toFixed(2));
    set("visible-outputs", visibleOutputs());
  }
  function zoomAt(factor, mx, my) {
    var k = Math.min(8, Math.max(0.02, view.k * factor));
    factor = k / view.k;
    view.x = mx - (mx - view.x) * factor;
    view.y = my - (my - view.y) * factor;
    view.k = k;
    anchor = null;
    show();
  }
  function zoomCenter(f) { zoomAt(f, viewport.clientWidth / 2, viewport.clientHeight / 2); }
  function fit() {
    var vw = viewport.clientWidth, vh = viewport.clientHeight;
    view.k = Math.min(1, 0.95 * Math.min(vw / size.w, vh / size.h));
    view.x = (vw - size.w * view.k) / 2;
    view.y = (vh - size.h * view.k) / 2;
    anchor = "fit";
    show();
  }
  function box(el) {
    // An element's box in canvas pixels (before the zoom), whatever the view.
    var r = el.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    return {x: (r.left - c.left) / view.k, y: (r.top - c.top) / view.k, w: r.width / view.k, h: r.height / view.k};
  }
  function centreOn(b) {
    var vw = viewport.clientWidth, vh = viewport.clientHeight;
    view.x = vw / 2 - (b.x + b.w / 2) * view.k;
    view.y = vh / 2 - (b.y + b.h / 2) * view.k;
    // Show as much graph as possible: no empty margin on a side where there is more graph to show.
    var pad = 12;
    if (size.w * view.k + 2 * pad > vw) { view.x = Math.min(pad, Math.max(vw - pad - size.w * view.k, view.x)); }
    if (size.h * view.k + 2 * pad > vh) { view.y = Math.min(pad, Math.max(vh - pad - size.h * view.k, view.y)); }
    show();
  }
  function focusNode(id) {
    var g = own(id) ? $(id) : null;
    if (!g) { return; }
    expandAround(g);
    var b = box(g);
    view.k = Math.max(view.k, readableK());
    centreOn(b);
    anchor = {node: id};
    set("focus", id);
    set("focus-in-view", inView(g) ? 1 : 0);
  }
  function inView(el) {
    var v = viewport.getBoundingClientRect(), r = el.getBoundingClientRect();
    return r.width > 0 && r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom;
  }
  function startView() {
    var vw = viewport.clientWidth, vh = viewport.clientHeight;
    var kFit = Math.min(1, 0.95 * Math.min(vw / size.w, vh / size.h));
    if (kFit >= readableK()) { fit(); set("start", "fit"); anchor = "start"; return; }
    var outs = outputIds.map(function (id) { return box($(id)); });
    view.k = readableK();
    anchor = "start";
    if (!outs.length) { centreOn({x: 0, y: 0, w: size.w, h: size.h}); set("start", "centre"); return; }
    var u = outs.reduce(function (a, b) {
      var x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
      return {x: x, y: y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y};
    });
    var fits = u.w * view.k <= 0.9 * vw && u.h * view.k <= 0.9 * vh;
    centreOn(fits ? u : outs[0]);
    set("start", "outputs");
  }
  function visibleOutputs() {
    return outputIds.filter(function (id) { return inView($(id)); }).length;
  }

  // ---- details panel
  function row(key, value) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = key;
    if (typeof value === "string") { dd.textContent = value; } else { dd.appendChild(value); }
    panelList.appendChild(dt);
    panelList.appendChild(dd);
  }
  function related(id) {
    // For a node in scope X: its gradient nodes, in scope grad/X (or below it); for one in grad/X: the nodes of X.
    var s = details[id].scope;
    if (!s || !hasGradients) { return null; }
    if (s.indexOf("grad/") === 0) {
      return {key: "gradient of", scope: s.slice(5), ids: byScope[s.slice(5)] || []};
    }
    var g = "grad/" + s, ids = byScope[g] || [];
    if (!ids.length) {
      ids = nodeIds.filter(function (i) { return details[i].scope.indexOf(g + "/") === 0; });
    }
    return {key: "gradient", scope: g, ids: ids};
  }
  function linkList(rel) {
    var box = document.createElement("div"), shown = rel.ids.slice(0, 12);
    if (!rel.ids.length) { box.textContent = "none in this picture (scope " + rel.scope + ")"; return box; }
    shown.forEach(function (target, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "symrnn-link";
      b.id = "symrnn-link-" + i;
      b.setAttribute("data-target", target);
      b.textContent = details[target].title + "  (" + details[target].scope + ")";
      b.addEventListener("click", function () { focusNode(target); select(target); });
      box.appendChild(b);
    });
    var all = document.createElement("button");
    all.type = "button";
    all.className = "symrnn-link symrnn-link-all";
    all.id = "symrnn-link-all";
    all.textContent = (rel.ids.length > shown.length ? "all " + rel.ids.length : "find them") + ": " + rel.scope;
    all.addEventListener("click", function () { searchBox.value = rel.scope; runSearch(); });
    box.appendChild(all);
    return box;
  }
  function select(id) {
    var info = own(id);
    if (!info) { return false; }
    if (selected) { selected.classList.remove("symrnn-selected"); }
    selected = $(id);
    if (selected) { selected.classList.add("symrnn-selected"); }
    panelTitle.textContent = info.title;
    panelKind.textContent = info.kind;
    while (panelList.firstChild) { panelList.removeChild(panelList.firstChild); }
    for (var i = 0; i < info.fields.length; i++) { row(info.fields[i][0], info.fields[i][1]); }
    var rel = related(id);
    if (rel) { row(rel.key, linkList(rel)); }
    row("node id", id);
    set("selected", id);
    return true;
  }

  // ---- search
  var nodeIds = [], outputIds = [], byScope = {}, hay = {}, hasGradients = false;
  var found = {terms: [], matches: [], at: -1};
  function matches(id, terms) {
    var d = details[id];
    return terms.every(function (t) {
      var colon = t.indexOf(":"), field = colon > 0 ? t.slice(0, colon) : "";
      if (field === "name" || field === "scope" || field === "op" || field === "kind") {
        return String(d[field]).toLowerCase().indexOf(t.slice(colon + 1)) >= 0;
      }
      return hay[id].indexOf(t) >= 0;
    });
  }
  function typed() { return searchBox.value.trim().toLowerCase().split(/\s+/).filter(Boolean); }
  function runSearch() {
    found.matches.forEach(function (id) { $(id).classList.remove("symrnn-match", "symrnn-current"); });
    var terms = typed();
    found = {terms: terms, matches: terms.length ? nodeIds.filter(function (id) { return matches(id, terms); }) : [],
             at: -1};
    found.matches.forEach(function (id) { $(id).classList.add("symrnn-match"); });
    svg.classList.toggle("symrnn-searching", terms.length > 0);
    set("search", terms.join(" "));
    set("matches", found.matches.length);
    body.removeAttribute("data-current");
    searchCount.textContent = terms.length && !found.matches.length ? "no match" : "";
    if (found.matches.length) { step(1); }
  }
  function step(by) {
    var n = found.matches.length;
    if (!n) { return; }
    if (found.at >= 0) { $(found.matches[found.at]).classList.remove("symrnn-current"); }
    found.at = found.at < 0 ? 0 : (found.at + by + n) % n;
    var id = found.matches[found.at];
    $(id).classList.add("symrnn-current");
    searchCount.textContent = (found.at + 1) + " of " + n;
    set("current", id);
    focusNode(id);
    select(id);
  }

  // ---- collapsing loops: hide a cluster's nodes and edges, draw one box over it (the layout stays)
  var clusters = [];  // {id, g, b (SVG box), label, members, collapsed, tab, cover}
  function svgEl(name, attrs) {
    var el = document.createElementNS(SVGNS, name);
    for (var a in attrs) { el.setAttribute(a, attrs[a]); }
    return el;
  }
  function inside(b, p) { return p.x >= b.x && p.x <= b.x + b.width && p.y >= b.y && p.y <= b.y + b.height; }
  function centre(b) { return {x: b.x + b.width / 2, y: b.y + b.height / 2}; }
  function setupClusters() {
    var gs = svg.querySelectorAll("g.cluster");
    for (var i = 0; i < gs.length; i++) {
      var g = gs[i];
      if (g.id.indexOf("cluster_scan_") !== 0) { continue; }
      var text = g.querySelector("text");
      clusters.push({id: g.id, g: g, b: g.getBBox(), label: text ? text.textContent : g.id, collapsed: false});
    }
    clusters.sort(function (a, b) { return b.b.width * b.b.height - a.b.width * a.b.height; });  // outer first
    clusters.forEach(function (c) {
      c.members = nodeIds.filter(function (id) { return inside(c.b, centre($(id).getBBox())); });
      c.inner = clusters.filter(function (o) { return o !== c && inside(c.b, centre(o.b)); });
      c.tab = svgEl("g", {"class": "symrnn-tab", "data-cluster": c.id, id: "symrnn-tab-" + c.id});
      c.tab.appendChild(svgEl("rect", {x: c.b.x + 4, y: c.b.y + 4, width: 16, height: 16, rx: 3}));
      c.tabText = svgEl("text", {x: c.b.x + 12, y: c.b.y + 16.5, "text-anchor": "middle"});
      c.tab.appendChild(c.tabText);
      var title = svgEl("title", {});
      title.textContent = "collapse or expand this loop";
      c.tab.appendChild(title);
      c.cover = svgEl("g", {"class": "symrnn-cover symrnn-hidden", "data-cluster": c.id});
      c.cover.appendChild(svgEl("rect", {x: c.b.x, y: c.b.y, width: c.b.width, height: c.b.height, rx: 8}));
      var lines = [c.label, c.members.length + " nodes hidden: click to expand"];
      var chars = Math.max(lines[0].length, lines[1].length);  // text as big as the box allows
      var fs = Math.max(11, Math.min(c.b.width / (0.62 * chars), c.b.height / 5));
      lines.forEach(function (line, j) {
        var t = svgEl("text", {x: c.b.x + c.b.width / 2, y: c.b.y + (1.6 + 1.3 * j) * fs,
          "text-anchor": "middle", "font-size": fs});
        t.textContent = line;
        c.cover.appendChild(t);
      });
    });
    // Covers and tabs go last, above everything; inner ones above outer ones.
    clusters.forEach(function (c) { graph.appendChild(c.cover); });
    clusters.forEach(function (c) { graph.appendChild(c.tab); });
    set("loops", clusters.length);
    $("symrnn-collapse-all").hidden = $("symrnn-expand-all").hidden = !clusters.length;
    layoutCollapse();
  }
  function layoutCollapse() {
    var hiddenBy = {}, hiddenCluster = {};
    clusters.forEach(function (c) {  // outer first: a node is hidden by its outermost collapsed loop
      if (!c.collapsed || hiddenCluster[c.id]) { return; }
      c.members.forEach(function (id) { if (!hiddenBy[id]) { hiddenBy[id] = c.id; } });
      c.inner.forEach(function (o) { hiddenCluster[o.id] = true; });
    });
    nodeIds.forEach(function (id) { $(id).classList.toggle("symrnn-hidden", !!hiddenBy[id]); });
    var edges = svg.querySelectorAll("g.edge");
    for (var i = 0; i < edges.length; i++) {
      var t = edges[i].querySelector("title"), ends = t ? t.textContent.split("->") : [];
      var by = ends.length === 2 ? hiddenBy[ends[0]] : null;
      edges[i].classList.toggle("symrnn-hidden", !!by && by === hiddenBy[ends[1]]);
    }
    var n = 0;
    clusters.forEach(function (c) {
      var gone = !!hiddenCluster[c.id];
      c.g.classList.toggle("symrnn-hidden", gone);
      c.tab.classList.toggle("symrnn-hidden", gone);
      c.cover.classList.toggle("symrnn-hidden", gone || !c.collapsed);
      c.g.classList.toggle("symrnn-collapsed", c.collapsed);
      c.tabText.textContent = c.collapsed ? "+" : "\u2212";
      if (c.collapsed) { n++; }
    });
    set("collapsed", n);
    set("hidden-nodes", Object.keys(hiddenBy).length);
  }
  function setCollapsed(which, value) {
    clusters.forEach(function (c) { if (which === "all" || which === c.id) { c.collapsed = value; } });
    layoutCollapse();
  }
  function expandAround(g) {
    var changed = false;
    clusters.forEach(function (c) {
      if (c.collapsed && c.members.indexOf(g.id) >= 0) { c.collapsed = false; changed = true; }
    });
    if (changed) { layoutCollapse(); }
  }

  // ---- what the URL fragment asks for (tests drive the page this way)
  function clickNode(id) {
    // What a user does: pan the node (or a loop's tab) into view if it is not, then press and release the
    // mouse over its middle as drawn.
    var g = own(id) || id.indexOf("symrnn-tab-") === 0 ? $(id) : null;
    if (!g) { return; }
    if (!inView(g)) {
      var v = viewport.getBoundingClientRect(), s = g.getBoundingClientRect();
      view.x += v.left + v.width / 2 - (s.left + s.width / 2);
      view.y += v.top + v.height / 2 - (s.top + s.height / 2);
      show();
    }
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
  var commands = {
    node: function (v) { if (own(v)) { focusNode(v); select(v); } },
    select: select,
    click: clickNode,
    wheel: function (v) { wheelAtCenter(Number(v) || 0); },
    search: function (v) { searchBox.value = v; searchBox.dispatchEvent(new Event("input", {bubbles: true})); },
    key: function (v) {
      searchBox.dispatchEvent(new KeyboardEvent("keydown", {key: v, bubbles: true, cancelable: true}));
    },
    press: function (v) {
      var el = $(v);
      if (el && el.tagName === "BUTTON") { el.click(); }
    },
    collapse: function (v) { setCollapsed(v, true); },
    expand: function (v) { setCollapsed(v, false); }
  };
  function fromHash() {
    var parts = window.location.hash.replace(/^#/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq < 0) { continue; }
      var key = parts[i].slice(0, eq), value = decodeURIComponent(parts[i].slice(eq + 1));
      if (Object.prototype.hasOwnProperty.call(commands, key)) { commands[key](value); }
    }
  }

  // ---- pointer, wheel, keys
  var drag = null, pointers = {}, pinch = null;
  function pinchState() {
    var ps = Object.keys(pointers).map(function (k) { return pointers[k]; });
    var dx = ps[0].x - ps[1].x, dy = ps[0].y - ps[1].y, r = viewport.getBoundingClientRect();
    return {d: Math.max(1, Math.sqrt(dx * dx + dy * dy)), x: (ps[0].x + ps[1].x) / 2 - r.left,
            y: (ps[0].y + ps[1].y) / 2 - r.top};
  }
  viewport.addEventListener("pointerdown", function (e) {
    if (e.button !== 0) { return; }
    pointers[e.pointerId] = {x: e.clientX, y: e.clientY};
    if (Object.keys(pointers).length === 2) { pinch = pinchState(); drag = null; return; }
    drag = {x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false};
  });
  window.addEventListener("pointermove", function (e) {
    if (pointers[e.pointerId]) { pointers[e.pointerId] = {x: e.clientX, y: e.clientY}; }
    if (pinch && Object.keys(pointers).length === 2) {
      var now = pinchState();
      zoomAt(now.d / pinch.d, now.x, now.y);
      view.x += now.x - pinch.x;
      view.y += now.y - pinch.y;
      show();
      pinch = now;
      return;
    }
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; viewport.classList.add("symrnn-dragging"); }
    if (drag.moved) { view.x = drag.vx + dx; view.y = drag.vy + dy; anchor = null; show(); }
  });
  function release(e) {
    delete pointers[e.pointerId];
    if (pinch) { if (!Object.keys(pointers).length) { pinch = null; } return null; }
    var d = drag;
    drag = null;
    viewport.classList.remove("symrnn-dragging");
    return d;
  }
  window.addEventListener("pointercancel", release);
  window.addEventListener("pointerup", function (e) {
    var d = release(e);
    if (!d || d.moved || !e.target || !e.target.closest) { return; }
    var tab = e.target.closest(".symrnn-tab, .symrnn-cover");
    if (tab) {
      var id = tab.getAttribute("data-cluster");
      clusters.forEach(function (c) { if (c.id === id) { setCollapsed(id, !c.collapsed); } });
      return;
    }
    var node = e.target.closest("g.node");
    if (node && node.id) { select(node.id); }
  });
  viewport.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = viewport.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, {passive: false});
  $("symrnn-fit").addEventListener("click", fit);
  $("symrnn-zoom-in").addEventListener("click", function () { zoomCenter(1.25); });
  $("symrnn-zoom-out").addEventListener("click", function () { zoomCenter(0.8); });
  $("symrnn-collapse-all").addEventListener("click", function () { setCollapsed("all", true); });
  $("symrnn-expand-all").addEventListener("click", function () { setCollapsed("all", false); });
  $("symrnn-search-next").addEventListener("click", function () { step(1); });
  $("symrnn-search-prev").addEventListener("click", function () { step(-1); });
  searchBox.addEventListener("input", runSearch);
  searchBox.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      if (found.terms.join(" ") !== typed().join(" ")) { runSearch(); } else { step(e.shiftKey ? -1 : 1); }
    } else if (e.key === "Escape") { searchBox.value = ""; runSearch(); searchBox.blur(); }
  });
  window.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) { return; }
    if (e.key === "+" || e.key === "=") { zoomCenter(1.25); }
    else if (e.key === "-") { zoomCenter(0.8); }
    else if (e.key === "0") { fit(); }
    else if (e.key === "/") { e.preventDefault(); searchBox.focus(); }
  });
  window.addEventListener("hashchange", fromHash);
  window.addEventListener("resize", function () {
    // Show again what was shown (the start view, the whole graph, a node), or keep the middle of the view.
    var a = anchor;
    if (a === "start") { startView(); }
    else if (a === "fit") { fit(); }
    else if (a && own(a.node)) { centreOn(box($(a.node))); anchor = a; }
    else {
      view.x += (viewport.clientWidth - last.w) / 2;
      view.y += (viewport.clientHeight - last.h) / 2;
      show();
    }
    last = {w: viewport.clientWidth, h: viewport.clientHeight};
  });

  // ---- start
  var nodes = svg.querySelectorAll("g.node"), drawn = 0, sizes = {};
  for (var i = 0; i < nodes.length; i++) {
    var b = nodes[i].getBBox(), d = own(nodes[i].id);
    if (b.width > 0 && b.height > 0) { drawn++; }
    if (!d || d.kind === "legend") { continue; }
    nodeIds.push(nodes[i].id);
    if (d.kind === "output") { outputIds.push(nodes[i].id); }
    hay[nodes[i].id] = [d.title, d.name, d.scope, d.op].join("\n").toLowerCase();
    (byScope[d.scope] = byScope[d.scope] || []).push(nodes[i].id);
    if (d.scope.indexOf("grad/") === 0) { hasGradients = true; }
    var t = nodes[i].querySelector("text"), fs = t ? parseFloat(t.getAttribute("font-size")) : NaN;
    if (fs > 0) { sizes[fs] = (sizes[fs] || 0) + 1; }
  }
  // The text size of most nodes (Graphviz writes it in points, the SVG's unit).
  fontPt = Number(Object.keys(sizes).sort(function (a, b) { return sizes[b] - sizes[a]; })[0]) || 10;
  var sbox = svg.getBoundingClientRect(), vb = svg.viewBox && svg.viewBox.baseVal;
  size.w = Math.max(1, sbox.width);
  size.h = Math.max(1, sbox.height);
  unitPx = vb && vb.width > 0 ? sbox.width / vb.width : 1;
  setupClusters();
  startView();
  last = {w: viewport.clientWidth, h: viewport.clientHeight};
  set("nodes", nodes.length);
  set("drawn-nodes", drawn);
  blocked(0);
  set("resources", performance.getEntriesByType("resource").length);
  set("ready", 1);
  fromHash();
})();
"""

_STYLE = """
html, body { margin: 0; height: 100%; font: 13px/1.4 Helvetica, Arial, sans-serif; color: #222; }
body { display: flex; flex-direction: column; }
#symrnn-bar { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: center; padding: 6px 10px;
  border-bottom: 1px solid #ccc; background: #f7f7f7; }
#symrnn-bar h1 { font-size: 14px; margin: 0 8px 0 0; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; max-width: 40ch; }
#symrnn-bar .hint { color: #666; }
#symrnn-find { display: flex; gap: 4px; align-items: center; }
#symrnn-search { width: 16em; font: inherit; padding: 2px 6px; }
#symrnn-search-count { color: #666; min-width: 5em; }
#symrnn-main { flex: 1; display: flex; min-height: 0; }
#symrnn-viewport { flex: 1; overflow: hidden; position: relative; cursor: grab; background: #fff;
  touch-action: none; }
#symrnn-viewport.symrnn-dragging { cursor: grabbing; }
#symrnn-canvas { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#symrnn-canvas svg { display: block; }
#symrnn-canvas g.node { cursor: pointer; }
#symrnn-canvas .symrnn-hidden { display: none; }
#symrnn-canvas g.node.symrnn-match :is(ellipse, polygon, path) { stroke: #e07b00; stroke-width: 4px; }
#symrnn-canvas g.node.symrnn-current :is(ellipse, polygon, path) { stroke: #e07b00; stroke-width: 7px; }
#symrnn-canvas g.node.symrnn-selected :is(ellipse, polygon, path) { stroke: #d00; stroke-width: 3px; }
#symrnn-canvas svg.symrnn-searching g.node:not(.symrnn-match), #symrnn-canvas svg.symrnn-searching g.edge
  { opacity: 0.3; }
#symrnn-canvas .symrnn-tab { cursor: pointer; }
#symrnn-canvas .symrnn-tab rect { fill: #fff; stroke: #8a6d00; }
#symrnn-canvas .symrnn-tab text { font: bold 14px Helvetica, Arial, sans-serif; fill: #8a6d00; }
#symrnn-canvas .symrnn-cover { cursor: pointer; }
#symrnn-canvas .symrnn-cover rect { fill: #fff1c2; stroke: #8a6d00; stroke-width: 2px; }
#symrnn-canvas .symrnn-cover text { font-family: Helvetica, Arial, sans-serif; fill: #5a4700; }
#symrnn-details { width: 340px; overflow: auto; border-left: 1px solid #ccc; padding: 10px 14px;
  background: #fafafa; }
#symrnn-details h2 { font-size: 15px; margin: 0 0 2px; word-break: break-all; }
#symrnn-details-kind { color: #666; margin: 0 0 8px; }
#symrnn-details dl { margin: 0; }
#symrnn-details dt { font-weight: bold; margin-top: 6px; }
#symrnn-details dd { margin: 0; white-space: pre-wrap; word-break: break-all; font-family: monospace; }
#symrnn-details button.symrnn-link { display: block; margin: 2px 0; font: 12px monospace; text-align: left;
  cursor: pointer; }
@media (max-width: 700px) {
  #symrnn-main { flex-direction: column; }
  #symrnn-details { width: auto; height: 32vh; border-left: 0; border-top: 1px solid #ccc; }
  #symrnn-bar .hint { display: none; }
  #symrnn-search { width: 10em; }
  #symrnn-search-count { min-width: 0; }
}
"""

_DTYPE = re.compile(r"\b([a-z][a-z0-9_]*)\(")  # "float64(?, 4)" -> float64: the dtype in a type's text


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


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _code(trace: str) -> list[tuple[str, str]]:
    """The source lines a trace names: the user's (``code``) and the model library's that built the node."""
    found = []
    for key, (path, line) in zip(("code", "built by"), trace_lines(trace)):
        text = linecache.getline(path, line).strip()
        if text:
            found.append((key, text if key == "code" else f"{os.path.basename(path)}:{line}: {text}"))
    return found


def _node_data(details: dict[str, Any]) -> dict[str, Any]:
    """Per node: what search reads (title, name, scope, op) and the panel's rows, the key facts first."""
    data = {}
    for node_id, info in details.items():
        fields = [(str(k), str(v)) for k, v in info["fields"]]
        get = dict(fields)
        scope = str(info.get("scope") or get.get("scope") or "")
        trace = get.get("created at", "")
        dtype = get.get("dtype") or ", ".join(_DTYPE.findall(get.get("type", "")))
        front = [("scope", scope), ("shape", get.get("shape", "")), ("dtype", dtype),
                 ("line", short_trace(trace)), *_code(trace)]
        rows = [(k, v) for k, v in front if v] + [(k, v) for k, v in fields if k not in ("scope", "shape", "dtype")]
        data[node_id] = {"kind": info["kind"], "title": info["title"], "scope": scope,
                         "op": get.get("op", ""), "name": get.get("name", ""), "fields": [list(r) for r in rows]}
    return data


def _page(svg: str, details: dict[str, Any], title: str) -> str:
    """The HTML page around an SVG and its node details (see the module docstring)."""
    script = _SCRIPT.replace("__READABLE_PX__", str(READABLE_PX))
    csp = (f"default-src 'none'; script-src '{_sha256(script)}'; style-src '{_sha256(_STYLE)}'; "
           "base-uri 'none'; form-action 'none'")
    safe_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{safe_title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<div id=\"symrnn-bar\"><h1>{safe_title}</h1>"
        "<span id=\"symrnn-find\"><input id=\"symrnn-search\" type=\"search\" autocomplete=\"off\" "
        "spellcheck=\"false\" placeholder=\"find: name, scope or op\" aria-label=\"find a node by name, scope or op\">"
        "<button id=\"symrnn-search-prev\" type=\"button\" title=\"previous match (Shift+Enter)\">&lsaquo;</button>"
        "<button id=\"symrnn-search-next\" type=\"button\" title=\"next match (Enter)\">&rsaquo;</button>"
        "<span id=\"symrnn-search-count\"></span></span>"
        "<button id=\"symrnn-fit\" type=\"button\" title=\"the whole graph (0)\">fit</button>"
        "<button id=\"symrnn-zoom-in\" type=\"button\" title=\"zoom in (+)\">+</button>"
        "<button id=\"symrnn-zoom-out\" type=\"button\" title=\"zoom out (-)\">&minus;</button>"
        "<button id=\"symrnn-collapse-all\" type=\"button\">collapse loops</button>"
        "<button id=\"symrnn-expand-all\" type=\"button\">expand loops</button>"
        "<span class=\"hint\">drag to pan, wheel to zoom, click a node for its details</span></div>\n"
        "<div id=\"symrnn-main\">\n"
        f"<div id=\"symrnn-viewport\"><div id=\"symrnn-canvas\">\n{_clean_svg(svg)}\n</div></div>\n"
        "<aside id=\"symrnn-details\"><h2 id=\"symrnn-details-title\">Click a node</h2>"
        "<p id=\"symrnn-details-kind\">its scope, shape, dtype, the line that created it and its gradient "
        "appear here</p><dl id=\"symrnn-details-list\"></dl></aside>\n</div>\n"
        f"<script type=\"application/json\" id=\"symrnn-node-data\">{_json_for_script(_node_data(details))}"
        "</script>\n"
        f"<script>{script}</script>\n</body>\n</html>\n")


def to_html(fn_or_vars: Any, outfile: str | os.PathLike | None = None, title: str = "symrnn graph",
            **kwargs: Any) -> str:
    """Write an interactive, self-contained HTML view of a graph; return the page's text.

    ``fn_or_vars`` and ``kwargs`` are as for :func:`symrnn.viz.to_dot`
    (``collapse="cells"``, ``which="both"``...).  The page starts at a
    readable zoom on the outputs, pans (drag) and zooms (wheel, ``fit``), has a
    search box (name, scope or op), collapses and expands loops, and shows for
    a clicked node its scope, shape, dtype, the user's line that created it
    and links to its gradient nodes.  It loads nothing from the network.  It
    needs Graphviz's ``dot`` to draw the SVG (without it,
    :class:`~symrnn.viz.GraphvizNotFoundError` says how to install it).

    Example::

        >>> import os, tempfile, symrnn.tensor as T
        >>> from symrnn.viz import to_html
        >>> x = T.vector("x")
        >>> text = to_html(T.tanh(x), os.path.join(tempfile.mkdtemp(), "graph.html"))
        >>> "<svg" in text and 'id="symrnn-node-data"' in text and 'id="symrnn-search"' in text
        True
    """
    kwargs.setdefault("max_nodes", None)  # the viewer zooms, searches and folds loops: it needs no size guard
    dot, details = _build(fn_or_vars, **kwargs)
    text = _page(pipe_svg(dot), details, title)
    if outfile is not None:
        write_text(outfile, text)
    return text
