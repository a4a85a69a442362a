"""Pictures of graphs: DOT (Graphviz) output with scan clusters, a legend and safe labels.

:func:`to_dot` turns variables, a list or dict of them, or a compiled
``Function`` into a ``graphviz.Digraph``; :func:`render` (and
``printing.pydotprint``) write it as SVG, PNG, PDF or DOT.

What the picture shows:

- graph inputs (green ellipses), shared variables (blue cylinders), constants
  (grey boxes) and outputs (salmon, double border) look different, and a
  legend says which is which;
- an op node (a white rounded box) is labelled with its op; an edge between
  ops carries the value's dtype and static shape (``float64(?, 4)``), and
  the edges into an op whose input order matters are numbered (``#0``, ``#1``);
- a ``scan`` is a cluster that holds its inner graph: the loop's header, its
  inner inputs (one step's slice of each sequence, each state tap, each
  non-sequence), the step's ops and its inner outputs.  Outer inputs feed the
  inner inputs they become, inner outputs feed the users of the scan's outer
  outputs, and a dashed edge carries each new state back to the next step.
  Nested scans are nested clusters;
- ``collapse="cells"`` draws each scan as one node instead, so that big graphs
  stay readable;
- for a compiled ``Function``, ``which="compiled"`` (the default) draws the
  graph after the FAST_RUN rewrites, ``which="built"`` the graph as built, and
  ``which="both"`` (or :func:`compare`) the two side by side.

Every user string (a variable's or a loop's name, a file path) goes through
:func:`escape_label` before it reaches DOT: backslashes are doubled, control
characters (newlines included) are shown as visible escapes such as ``\\n``,
``&`` becomes ``&amp;`` (Graphviz reads HTML entities in labels), and the
label is marked "not HTML", so ``<...>`` is never taken for an HTML-like
label; the ``graphviz`` package then quotes it and escapes double quotes.
Node ids and cluster names are made by symrnn, never from user strings.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import graphviz

from symrnn.compile.function import Function
from symrnn.files import write_bytes, write_text
from symrnn.graph import Apply, Constant, SharedVariable, Variable, describe, toposort
from symrnn.scan.op import Scan

__all__ = ["GraphvizNotFoundError", "compare", "escape_label", "image", "pipe_svg", "render", "to_dot", "to_networkx"]

FORMATS = ("svg", "png", "pdf", "dot")

INSTALL_HINT = ("Install Graphviz, which provides `dot`: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS), `conda install graphviz` or https://graphviz.org/download/")

# One place for the look of each kind of node: the legend is drawn from this table.
STYLES: dict[str, dict[str, str]] = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#c8ecc4", "color": "#3c7a35"},
    "shared": {"shape": "cylinder", "style": "filled", "fillcolor": "#cfe0fa", "color": "#35598f"},
    "constant": {"shape": "box", "style": "filled", "fillcolor": "#e8e8e8", "color": "#888888", "fontsize": "9"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "#f9c9b6", "color": "#a3472a",
               "peripheries": "2"},
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#444444"},
    "scan": {"shape": "box3d", "style": "filled", "fillcolor": "#fff1c2", "color": "#8a6d00"},
    "inner input": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#e6f4e4", "color": "#3c7a35"},
    "inner output": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#fbe3d9", "color": "#a3472a"},
}
LEGEND_TEXT = {
    "input": "graph input",
    "shared": "shared variable",
    "constant": "constant",
    "output": "output",
    "op": "op",
    "scan": "scan (loop), collapsed",
    "inner input": "one step's input",
    "inner output": "one step's output",
}
# Ops whose inputs can be swapped: their edges need no argument number.  Every other op with several inputs
# numbers them (#0, #1...) on its edges, since a drawing cannot show which input is the left one.
COMMUTATIVE = frozenset(["add", "mul", "maximum", "minimum", "eq", "neq", "and", "or", "xor"])
CLUSTER_STYLE = {"style": "rounded,filled", "fillcolor": "#fffbea", "color": "#b59a3c", "fontsize": "11"}
SIDE_STYLE = {"style": "rounded", "color": "#777777", "fontsize": "13"}
EDGE_FONT = {"fontsize": "8", "fontcolor": "#555555"}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_VISIBLE = {"\n": "\\n", "\r": "\\r"}


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz program ``dot`` is not installed; the message says where the DOT source went and what to do."""


# --------------------------------------------------------------------------- escaping


def _visible(text: str) -> str:
    """Show control characters as escapes (``\\n``, ``\\x1b``), never as themselves."""
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)
    # Lone surrogates cannot be written as UTF-8; show them as escapes too.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def escape_label(*lines: str) -> str:
    r"""Make a DOT label that shows ``lines`` literally, one per line.

    Backslashes are doubled (Graphviz reads ``\N``, ``\l``... as escapes),
    control characters are shown as visible escapes, ``&`` is written
    ``&amp;`` (Graphviz reads HTML entities in labels), and the result is
    marked as not HTML so that ``<...>`` stays text.  The ``graphviz``
    package adds the quotes and escapes double quotes when it writes the
    attribute.  A line longer than :data:`LABEL_WIDTH` is cut with ``…`` (the
    node's tooltip shows it whole).

    Example::

        >>> print(escape_label('say "hi"', "a\\b & c", "new\nline"))
        say "hi"\na\\b &amp; c\nnew\\nline
        >>> import graphviz
        >>> g = graphviz.Digraph()
        >>> g.node("n0", label=escape_label("<b>x</b>"))
        >>> print(g.source.splitlines()[1].strip())
        n0 [label="<b>x</b>"]
    """
    return graphviz.nohtml("\\n".join(_escaped(_cut(str(line), LABEL_WIDTH)) for line in lines))


#: A label line longer than this is cut, with ``…``; the node's tooltip then holds the whole text (up to
#: TOOLTIP_LIMIT characters: Graphviz refuses an attribute of about 16,000 characters).
LABEL_WIDTH = 48
TOOLTIP_LIMIT = 4000


def _escaped(text: str) -> str:
    return _visible(text).replace("\\", "\\\\").replace("&", "&amp;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _node(g: Any, node_id: str, lines: Sequence[str], style: Mapping[str, str]) -> None:
    """A node labelled ``lines``; where a line is too long for the label, its tooltip shows all of them."""
    extra = {}
    if any(len(str(line)) > LABEL_WIDTH for line in lines):
        extra["tooltip"] = graphviz.nohtml(_escaped(_cut("\n".join(map(str, lines)), TOOLTIP_LIMIT)))
    g.node(node_id, label=escape_label(*lines), id=node_id, **extra, **style)


def _safe_ident(text: str, limit: int = 32) -> str:
    """Letters, digits and ``_`` only: for cluster names made from a loop's name."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text)[:limit].strip("_") or "loop"


def _shape_text(shape: Sequence[int | None]) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


# --------------------------------------------------------------------------- what to draw


def _normalize(fn_or_vars: Any, which: str, output_labels: Sequence[str] | None = None
               ) -> list[tuple[str, list[tuple[Variable, str]]]]:
    """``[(side, [(output variable, output label), ...]), ...]``: one side, or two for ``which="both"``."""
    sides = _sides(fn_or_vars, which)
    if output_labels is not None:
        output_labels = [str(label) for label in output_labels]
        for _, pairs in sides:
            if len(output_labels) != len(pairs):
                raise ValueError(f"output_labels has {len(output_labels)} label(s) for {len(pairs)} output(s)")
        sides = [(side, [(var, label) for (var, _), label in zip(pairs, output_labels)]) for side, pairs in sides]
    return sides


def _sides(fn_or_vars: Any, which: str) -> list[tuple[str, list[tuple[Variable, str]]]]:
    if which not in ("compiled", "built", "both"):
        raise ValueError(f"which must be 'compiled', 'built' or 'both', got {which!r}")
    if isinstance(fn_or_vars, Function):
        fn = fn_or_vars
        labels = [f"output {i}" for i in range(len(fn.outputs))]
        labels += [f"update of {shared.name!r}" if shared.name else f"update {k}"
                   for k, (shared, _) in enumerate(fn.updates)]
        built = list(fn.outputs) + [value for _, value in fn.updates]
        compiled = list(fn.compiled_outputs)
        sides = {"built": list(zip(built, labels)), "compiled": list(zip(compiled, labels))}
        if which == "both":
            return [("built", sides["built"]), ("compiled", sides["compiled"])]
        return [(which, sides[which])]
    if which == "both":
        raise ValueError("which='both' (compare) needs a compiled Function: symrnn.function(inputs, outputs)")
    if isinstance(fn_or_vars, Variable):
        pairs = [(fn_or_vars, "output")]
    elif isinstance(fn_or_vars, Mapping):
        pairs = [(var, str(label)) for label, var in fn_or_vars.items()]
    elif isinstance(fn_or_vars, Sequence):
        pairs = [(var, f"output {i}") for i, var in enumerate(fn_or_vars)]
    else:
        raise TypeError(f"expected a Variable, a list or dict of Variables, or a compiled Function; "
                        f"got {type(fn_or_vars).__name__}")
    for var, _ in pairs:
        if not isinstance(var, Variable):
            raise TypeError(f"expected symbolic variables, got {type(var).__name__}")
    return [("graph", pairs)]


def _leaf_kind(var: Variable) -> str:
    if isinstance(var, Constant):
        return "constant"
    if isinstance(var, SharedVariable):
        return "shared"
    return "input"


def _constant_text(var: Constant) -> str:
    if var.name:
        return var.name
    if var.data.size <= 4:
        return repr(var)
    return "Constant"


def _scan_roles(op: Any) -> list[tuple[str, str]]:
    """Per inner input: ``(short role, long role)``, e.g. ``("state 0 [t-1]", "state 0, tap -1")``."""
    info, roles = op.info, []
    for k in range(info.n_seqs):
        roles.append((f"sequence {k} [t]", f"sequence {k}: this step's slice"))
    for j, taps in enumerate(info.state_taps):
        for tap in taps:
            roles.append((f"state {j} [t{tap:+d}]", f"state {j}, tap {tap}"))
    for k in range(info.n_nonseqs):
        roles.append((f"non-sequence {k}", f"non-sequence {k}: the same value every step"))
    return roles


def _inner_output_roles(op: Any) -> list[str]:
    info = op.info
    roles = [f"new state {j}" for j in range(info.n_states)]
    roles += [f"per-step output {k}" for k in range(info.n_nitsot)]
    if info.has_until:
        roles.append("until condition")
    return roles


def _op_summary(nodes: Sequence[Apply], limit: int = 4) -> str:
    counts: dict[str, int] = {}
    for node in nodes:
        counts[str(node.op)] = counts.get(str(node.op), 0) + 1
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{name}×{n}" if n > 1 else name for name, n in items[:limit])
    return text + (", …" if len(items) > limit else "")


def _count_ops(nodes: Sequence[Apply]) -> tuple[int, int]:
    """``(outer op nodes, op nodes inside loops)``, nested loops included (iteratively)."""
    inner, stack = 0, [n.op for n in nodes if isinstance(n.op, Scan)]
    while stack:
        op = stack.pop()
        inner += len(op.inner_nodes)
        stack.extend(n.op for n in op.inner_nodes if isinstance(n.op, Scan))
    return len(nodes), inner


# --------------------------------------------------------------------------- the builder


class _Builder:
    """Draws levels (the outer graph, scan bodies) into a Digraph and records each node's details."""

    def __init__(self, show_types: bool, collapse: str | None) -> None:
        self.show_types = show_types
        self.collapse = collapse
        self.counter = itertools.count()
        self.ids: dict[tuple[str, int], str] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.clusters = 0

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def type_text(self, var: Variable) -> str:
        return repr(var.type)

    def record(self, node_id: str, kind: str, title: str, fields: list[tuple[str, Any]]) -> None:
        self.details[node_id] = {"kind": kind, "title": title,
                                 "fields": [[k, str(v)] for k, v in fields if v is not None and v != ""]}

    # ---- nodes
    def leaf(self, g: graphviz.Digraph, scope: str, var: Variable) -> str:
        key = (scope, id(var))
        if key in self.ids:
            return self.ids[key]
        kind = _leaf_kind(var)
        node_id = self.new_id({"input": "in", "shared": "sh", "constant": "k"}[kind])
        self.ids[key] = node_id
        if kind == "constant":
            text = _constant_text(var)  # type: ignore[arg-type]
        else:
            text = var.name or ("input" if kind == "input" else "shared")
        lines = [text] + ([self.type_text(var)] if self.show_types else [])
        _node(g, node_id, lines, STYLES[kind])
        value = None
        if isinstance(var, Constant) and var.data.size <= 16:
            value = repr(var.data.tolist())
        self.record(node_id, kind, text, [("kind", {"input": "graph input", "shared": "shared variable",
                                                    "constant": "constant"}[kind]),
                                          ("name", var.name), ("type", repr(var.type)), ("dtype", var.dtype),
                                          ("shape", _shape_text(var.type.shape)), ("value", value),
                                          ("created at", var.trace)])
        return node_id

    def op_node(self, g: graphviz.Digraph, scope: str, node: Apply) -> str:
        node_id = self.new_id("op")
        self.ids[(scope, id(node))] = node_id
        named = [o.name for o in node.outputs if o.name]
        lines = [str(node.op)] + [repr(n) for n in named[:1]]
        _node(g, node_id, lines, STYLES["op"])
        self.record_op(node_id, node, "op")
        return node_id

    def record_op(self, node_id: str, node: Apply, kind: str, extra: Sequence[tuple[str, Any]] = ()) -> None:
        outs = node.outputs
        self.record(node_id, kind, str(node.op), [
            ("op", str(node.op)), ("op class", repr(node.op) if len(repr(node.op)) < 200 else type(node.op).__name__),
            ("type", ", ".join(repr(o.type) for o in outs)),
            ("shape", ", ".join(_shape_text(o.type.shape) for o in outs)),
            ("name", ", ".join(o.name for o in outs if o.name)),
            ("inputs", "; ".join(describe(v) for v in node.inputs)),
            *extra,
            ("created at", node.trace)])

    def source(self, g: graphviz.Digraph, scope: str, var: Variable, outlets: dict[int, list[str]]) -> str:
        """The DOT node an edge carrying ``var`` starts from (drawing a leaf if needed)."""
        if var.owner is None or (scope, id(var.owner)) not in self.ids:
            return self.leaf(g, scope, var)  # an owned one: computed outside this level (bodies are closed)
        if id(var.owner) in outlets:
            return outlets[id(var.owner)][var.index]
        return self.ids[(scope, id(var.owner))]

    def edge_label(self, var: Variable, prefix: str = "") -> str | None:
        parts = []
        if var.owner is not None and len(var.owner.outputs) > 1:
            parts.append(f"out {var.index}")
        if var.name and var.owner is not None:
            parts.append(repr(var.name))
        if self.show_types:
            parts.append(repr(var.type))
        text = " ".join(parts)
        if prefix:
            text = f"{prefix} {text}" if text else prefix
        return escape_label(text) if text else None

    def edge(self, g: graphviz.Digraph, tail: str, head: str, var: Variable | None, prefix: str = "",
             **attrs: str) -> None:
        label = None
        if var is not None and var.owner is not None:
            label = self.edge_label(var, prefix)
        elif prefix:
            label = escape_label(prefix)
        if label:
            attrs = {**EDGE_FONT, **attrs, "label": label}
        g.edge(tail, head, **attrs)

    # ---- one level of a graph
    def draw_level(self, g: graphviz.Digraph, scope: str, roots: Sequence[Variable],
                   stop_at: Sequence[Variable] = ()) -> dict[int, list[str]]:
        """Draw the ops that compute ``roots``; return, per scan node drawn as a cluster, its outlets."""
        outlets: dict[int, list[str]] = {}  # id(scan Apply) -> DOT node of each outer output
        for node in toposort(roots, stop_at=stop_at):
            if isinstance(node.op, Scan):
                if self.collapse == "cells":
                    self.collapsed_scan(g, scope, node, outlets)
                else:
                    outlets[id(node)] = self.scan_cluster(g, scope, node, outlets)
                continue
            node_id = self.op_node(g, scope, node)
            numbered = len(node.inputs) > 1 and str(node.op) not in COMMUTATIVE
            for pos, var in enumerate(node.inputs):
                self.edge(g, self.source(g, scope, var, outlets), node_id, var, prefix=f"#{pos}" if numbered else "")
        return outlets

    def collapsed_scan(self, g: graphviz.Digraph, scope: str, node: Apply, outlets: dict[int, list[str]]) -> None:
        op = node.op
        node_id = self.new_id("scan")
        self.ids[(scope, id(node))] = node_id
        n_outer, n_inner = _count_ops(op.inner_nodes)
        lines = [str(op), f"one step: {n_outer + n_inner} ops", _op_summary(op.inner_nodes)]
        _node(g, node_id, lines, STYLES["scan"])
        self.record_op(node_id, node, "scan", self.scan_fields(op))
        sl = op.outer_slices()
        names = ["n_steps"] + [f"sequence {k}" for k in range(op.info.n_seqs)]
        names += [f"initial state {j}" for j in range(op.info.n_states)]
        names += [f"non-sequence {k}" for k in range(op.info.n_nonseqs)]
        for pos, var in enumerate(node.inputs):
            if pos == 0 and not op.info.n_steps_given:
                continue  # -1: "the length of the sequences", nothing to see
            kind = "sequences" if sl["seqs"].start <= pos < sl["seqs"].stop else None
            self.edge(g, self.source(g, scope, var, outlets), node_id, var, prefix=names[pos],
                      **({"style": "bold"} if kind else {}))

    def scan_fields(self, op: Any) -> list[tuple[str, Any]]:
        info = op.info
        n_outer, n_inner = _count_ops(op.inner_nodes)
        return [("loop", f"{info.n_seqs} sequence(s), {info.n_states} state(s) with taps "
                         f"{[list(t) for t in info.state_taps]}, {info.n_nitsot} per-step output(s), "
                         f"{info.n_nonseqs} non-sequence(s)" + (", until" if info.has_until else "")),
                ("steps", "n_steps input" if info.n_steps_given else "the length of the shortest sequence"),
                ("inner graph", f"{n_outer + n_inner} op(s): {_op_summary(op.inner_nodes, 8)}"),
                ("truncate_gradient", info.truncate_gradient if info.truncate_gradient != -1 else None)]

    def scan_cluster(self, g: graphviz.Digraph, scope: str, node: Apply,
                     outlets: dict[int, list[str]]) -> list[str]:
        op = node.op
        info = op.info
        self.clusters += 1
        inner_scope = self.new_id("body")
        cluster_name = f"cluster_scan_{_safe_ident(info.name)}_{self.clusters}"
        header = self.new_id("scan")
        self.ids[(scope, id(node))] = header
        with g.subgraph(name=cluster_name) as c:
            n_outer, n_inner = _count_ops(op.inner_nodes)
            c.attr(label=escape_label(f"{op}: one step ({n_outer + n_inner} ops)"), id=f"{cluster_name}",
                   **CLUSTER_STYLE)
            steps = "for t in range(n_steps)" if info.n_steps_given else "for t in range(len(sequences))"
            c.node(header, label=escape_label(str(op), steps), id=header,
                   **{**STYLES["scan"], "shape": "box"})
            self.record_op(header, node, "scan", self.scan_fields(op))
            if info.n_steps_given:
                self.edge(g, self.source(g, scope, node.inputs[0], outlets), header, node.inputs[0],
                          prefix="n_steps")
            # Inner inputs, each fed by the outer input it comes from.
            roles = _scan_roles(op)
            inner_sl, outer_sl = op.inner_slices(), op.outer_slices()
            feeders: list[Variable] = list(node.inputs[outer_sl["seqs"]])
            for j, taps in enumerate(info.state_taps):
                feeders += [node.inputs[outer_sl["inits"]][j]] * len(taps)
            feeders += list(node.inputs[outer_sl["nonseqs"]])
            tap_ids: list[list[str]] = [[] for _ in range(info.n_states)]
            tap_owner = [j for j, taps in enumerate(info.state_taps) for _ in taps]
            for k, (inner, (short, long), outer) in enumerate(zip(op.inner_inputs, roles, feeders)):
                node_id = self.new_id("ii")
                self.ids[(inner_scope, id(inner))] = node_id
                lines = [f"{short}: {inner.name}" if inner.name else short]
                if self.show_types:
                    lines.append(repr(inner.type))
                _node(c, node_id, lines, STYLES["inner input"])
                self.record(node_id, "inner input", short, [
                    ("kind", f"inner input of {op}"), ("role", long), ("name", inner.name),
                    ("type", repr(inner.type)), ("dtype", inner.dtype), ("shape", _shape_text(inner.type.shape)),
                    ("comes from", describe(outer)), ("created at", node.trace)])
                is_seq = inner_sl["seqs"].start <= k < inner_sl["seqs"].stop
                is_tap = inner_sl["taps"].start <= k < inner_sl["taps"].stop
                prefix = "slice [t]" if is_seq else "initial" if is_tap else ""
                if is_tap:
                    tap_ids[tap_owner[k - inner_sl["taps"].start]].append(node_id)
                self.edge(g, self.source(g, scope, outer, outlets), node_id, outer, prefix=prefix,
                          style="dashed" if is_tap else "solid")
            # The step's ops, then its outputs.
            inner_outlets = self.draw_level(c, inner_scope, op.inner_outputs, stop_at=op.inner_inputs)
            out_ids = []
            for k, (inner, role) in enumerate(zip(op.inner_outputs, _inner_output_roles(op))):
                node_id = self.new_id("io")
                out_ids.append(node_id)
                lines = [role] + ([self.type_text(inner)] if self.show_types else [])
                _node(c, node_id, lines, STYLES["inner output"])
                outer_var = node.outputs[k] if k < len(node.outputs) else None
                self.record(node_id, "inner output", role, [
                    ("kind", f"inner output of {op}"), ("role", role), ("type", repr(inner.type)),
                    ("shape", _shape_text(inner.type.shape)),
                    ("outer output", describe(outer_var) if outer_var is not None else "the loop's stop condition"),
                    ("created at", inner.owner.trace if inner.owner is not None else inner.trace)])
                self.edge(c, self.source(c, inner_scope, inner, inner_outlets), node_id, inner)
            for j in range(info.n_states):  # the recurrence: the new state is read at the next step
                for tap_id in tap_ids[j]:
                    c.edge(out_ids[j], tap_id, style="dashed", color="#a3472a", constraint="false",
                           label=escape_label("next step"), **EDGE_FONT)
        return out_ids[: len(node.outputs)]

    def outputs(self, g: graphviz.Digraph, scope: str, pairs: Sequence[tuple[Variable, str]],
                outlets: dict[int, list[str]]) -> None:
        for var, label in pairs:
            node_id = self.new_id("out")
            lines = [label] + ([var.name] if var.name and var.name != label else [])
            if self.show_types:
                lines.append(self.type_text(var))
            _node(g, node_id, lines, STYLES["output"])
            self.record(node_id, "output", label, [
                ("kind", "output"), ("name", var.name), ("type", repr(var.type)), ("dtype", var.dtype),
                ("shape", _shape_text(var.type.shape)),
                ("computed by", str(var.owner.op) if var.owner is not None else "nothing: it is a graph input"),
                ("created at", var.owner.trace if var.owner is not None else var.trace)])
            self.edge(g, self.source(g, scope, var, outlets), node_id, var)

    def legend(self, g: graphviz.Digraph) -> None:
        with g.subgraph(name="cluster_legend") as c:
            c.attr(label="legend", id="cluster_legend", style="rounded", color="#aaaaaa", fontsize="11")
            kinds = list(STYLES) if self.collapse == "cells" else [k for k in STYLES if k != "scan"]
            rows = [kinds[i:i + 2] for i in range(0, len(kinds), 2)]  # two columns
            above: str | None = None
            for row in rows:
                with c.subgraph() as r:
                    r.attr(rank="same")
                    for kind in row:
                        node_id = f"legend_{kind.replace(' ', '_')}"
                        r.node(node_id, label=escape_label(LEGEND_TEXT[kind]), id=node_id, **STYLES[kind])
                        self.record(node_id, "legend", LEGEND_TEXT[kind],
                                    [("legend", f"how a {kind} node is drawn")])
                if above is not None:
                    c.edge(above, f"legend_{row[0].replace(' ', '_')}", style="invis")
                above = f"legend_{row[0].replace(' ', '_')}"


def _build(fn_or_vars: Any, show_types: bool = True, collapse: str | bool | None = None, which: str = "compiled",
           legend: bool = True, rankdir: str = "TB", title: str | None = None,
           output_labels: Sequence[str] | None = None) -> tuple[graphviz.Digraph, dict]:
    """The Digraph and, per DOT node id, its details (for the HTML view)."""
    if collapse is True:
        collapse = "cells"
    if collapse not in (None, False, "cells"):
        raise ValueError(f"collapse must be None or 'cells', got {collapse!r}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    sides = _normalize(fn_or_vars, which, output_labels)
    builder = _Builder(show_types, collapse or None)
    dot = graphviz.Digraph(name="symrnn")
    dot.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.25", ranksep="0.35", newrank="true")
    if title:
        dot.attr(label=escape_label(title), labelloc="t", fontsize="14")
    dot.attr("node", fontname="Helvetica", fontsize="10", margin="0.08,0.03", height="0.3")
    dot.attr("edge", fontname="Helvetica", arrowsize="0.6", color="#555555")
    for side, pairs in sides:
        roots = [var for var, _ in pairs]
        if len(sides) == 1:
            outlets = builder.draw_level(dot, side, roots)
            builder.outputs(dot, side, pairs, outlets)
            continue
        n_outer, n_inner = _count_ops(toposort(roots))
        caption = {"built": "as built", "compiled": "compiled (after the FAST_RUN rewrites)"}[side]
        with dot.subgraph(name=f"cluster_{side}") as c:
            c.attr(label=escape_label(f"{caption}: {n_outer} ops" + (f" + {n_inner} in loops" if n_inner else "")),
                   id=f"cluster_{side}", **SIDE_STYLE)
            outlets = builder.draw_level(c, side, roots)
            builder.outputs(c, side, pairs, outlets)
    if legend:
        builder.legend(dot)
    return dot, builder.details


def to_dot(fn_or_vars: Any, show_types: bool = True, collapse: str | bool | None = None, which: str = "compiled",
           legend: bool = True, rankdir: str = "TB", title: str | None = None,
           output_labels: Sequence[str] | None = None) -> graphviz.Digraph:
    """Draw a graph as a ``graphviz.Digraph`` (render it with ``.pipe(format="svg")`` or :func:`render`).

    ``fn_or_vars`` is a variable, a list of variables, a dict ``{label:
    variable}`` (the labels name the output nodes) or a compiled ``Function``.

    - ``show_types``: show each value's dtype and static shape in the leaf and
      output nodes and on the edges between ops;
    - ``collapse="cells"``: draw each scan (one cell step, run over time) as a
      single node instead of a cluster holding its inner graph;
    - ``which``: for a ``Function``, ``"compiled"`` (after rewrites, the
      default), ``"built"`` or ``"both"`` side by side (see :func:`compare`);
    - ``legend``: add a legend cluster; ``rankdir``: ``"TB"`` or ``"LR"``;
      ``title``: a caption on top; ``output_labels``: one label per output
      (and update) instead of ``output 0``, ``update of 'W'``...

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn import nn
        >>> from symrnn.viz import to_dot
        >>> outputs, _ = nn.rnn(nn.RNNCell(3, 4, seed=0), T.tensor3("x"))
        >>> dot = to_dot({"h": outputs})
        >>> "subgraph cluster_scan_rnn_1" in dot.source, "cluster_legend" in dot.source
        (True, True)
        >>> len(to_dot(outputs, collapse="cells").body) < len(dot.body)
        True
    """
    return _build(fn_or_vars, show_types=show_types, collapse=collapse, which=which, legend=legend,
                  rankdir=rankdir, title=title, output_labels=output_labels)[0]


def compare(fn: Any, **kwargs: Any) -> graphviz.Digraph:
    """Draw a compiled ``Function`` as built and after its rewrites, side by side in two clusters.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> from symrnn.viz import compare
        >>> x = T.vector("x")
        >>> f = symrnn.function([x], T.log(1 / (1 + T.exp(-x))))
        >>> source = compare(f).source
        >>> "cluster_built" in source and "cluster_compiled" in source
        True
    """
    return to_dot(fn, which="both", **kwargs)


# --------------------------------------------------------------------------- rendering


def _format_of(outfile: str, format: str | None) -> str:
    if format is None:
        ext = os.path.splitext(outfile)[1].lower().lstrip(".")
        format = ext if ext in FORMATS else "svg"
        if ext == "gv":
            format = "dot"
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    return format


def image(dot: graphviz.Digraph, format: str) -> bytes:
    """The picture in ``format`` (``svg``, ``png``, ``pdf``; ``dot``: the source) as bytes.

    Raises :class:`GraphvizNotFoundError` without Graphviz's ``dot``.

    Example::

        >>> import symrnn.tensor as T
        >>> image(to_dot(T.exp(T.vector("x"))), "png")[:4]
        b'\x89PNG'
    """
    if format == "dot":
        return dot.source.encode("utf-8")
    try:
        return dot.pipe(format=format)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(f"the Graphviz program `dot` was not found on PATH, so the graph cannot be "
                                    f"drawn as {format.upper()}. {INSTALL_HINT}.") from exc


def pipe_svg(dot: graphviz.Digraph) -> str:
    """Run ``dot -Tsvg`` and return the SVG text; raise :class:`GraphvizNotFoundError` without ``dot``.

    Example::

        >>> import symrnn.tensor as T
        >>> "<svg" in pipe_svg(to_dot(T.exp(T.vector("x"))))
        True
    """
    return image(dot, "svg").decode("utf-8")


def render(fn_or_vars: Any, outfile: str | os.PathLike, format: str | None = None,
           on_missing_dot: str = "raise", **kwargs: Any) -> str:
    """Draw a graph into ``outfile`` as SVG, PNG, PDF or DOT source; return the path written.

    ``format`` defaults to the file's extension (``.svg``, ``.png``, ``.pdf``,
    ``.dot``/``.gv``; anything else: SVG).  ``kwargs`` go to :func:`to_dot`.

    Without Graphviz's ``dot`` program the DOT source is written instead, next
    to ``outfile`` with the extension ``.dot``, and then, with
    ``on_missing_dot="raise"`` (the default), :class:`GraphvizNotFoundError`
    says where it is and how to install Graphviz; with ``"warn"`` a
    ``RuntimeWarning`` says so and the ``.dot`` path is returned.

    Example::

        >>> import os, tempfile, symrnn.tensor as T
        >>> from symrnn.viz import render
        >>> x = T.vector("x")
        >>> path = render(T.exp(x) * 2, os.path.join(tempfile.mkdtemp(), "g.dot"))
        >>> open(path).read().startswith("digraph symrnn")
        True
    """
    if on_missing_dot not in ("raise", "warn"):
        raise ValueError(f"on_missing_dot must be 'raise' or 'warn', got {on_missing_dot!r}")
    outfile = os.fspath(outfile)
    format = _format_of(outfile, format)
    dot = to_dot(fn_or_vars, **kwargs)
    if format == "dot":
        write_text(outfile, dot.source)
        return outfile
    try:
        data = dot.pipe(format=format)
    except graphviz.ExecutableNotFound:
        fallback = os.path.splitext(outfile)[0] + ".dot"
        write_text(fallback, dot.source)
        message = (f"the Graphviz program `dot` was not found on PATH, so {outfile} was not drawn; the graph's DOT "
                   f"source is in {fallback}. {INSTALL_HINT}; then run: dot -T{format} {fallback} -o {outfile}")
        if on_missing_dot == "raise":
            raise GraphvizNotFoundError(message) from None
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return fallback
    write_bytes(outfile, data)
    return outfile


# --------------------------------------------------------------------------- networkx export


def to_networkx(fn_or_vars: Any, inner: bool = False, which: str = "compiled") -> Any:
    """Export a graph as a ``networkx.DiGraph``, optionally with the inner graphs of scans.

    Variables and apply nodes are both nodes, keyed ``"v<id>"`` and ``"a<id>"``
    as in :func:`symrnn.graph.to_networkx`.  Every node has the attributes
    ``kind`` (``"variable"`` or ``"apply"``), ``role``, ``op``, ``type``,
    ``dtype``, ``shape``, ``name``, ``trace``, ``subgraph`` and ``depth``.  An
    apply node's ``type``/``shape`` are its output's (a tuple of them when it
    has several); its ``op`` is the op's text (``"dot"``, ``"scan{lstm}"``).
    Output variables have ``output`` (their position).

    With ``inner=True`` each scan's inner graph is added too, its nodes keyed
    under the scan's (``"s<id>/v<id>"``) and tagged ``subgraph="scan{name}#k"``
    and ``depth`` 1 (2 for a scan inside a scan...); inner inputs have the
    role ``"sequence"``, ``"state tap"`` or ``"non-sequence"``.  Edges have
    ``kind="data"``, ``"feeds"`` (outer input to inner input) or ``"becomes"``
    (inner output to the scan's outer output), and ``position``.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn import nn, viz
        >>> outputs, _ = nn.rnn(nn.RNNCell(3, 4, seed=0), T.tensor3("x"))
        >>> g = viz.to_networkx(outputs, inner=True)
        >>> sorted({d["subgraph"] for _, d in g.nodes(data=True) if d["subgraph"]})
        ['scan{rnn}#1']
        >>> sorted(d["role"] for _, d in g.nodes(data=True) if d["depth"] == 1 and d["kind"] == "variable"
        ...        and d["role"] != "inner")
        ['non-sequence', 'non-sequence', 'non-sequence', 'sequence', 'state tap']
    """
    import networkx as nx

    if which == "both":
        raise ValueError("to_networkx draws one graph: which='compiled' or 'built'")
    [(_, pairs)] = _sides(fn_or_vars, which)
    graph = nx.DiGraph()
    scans = itertools.count(1)

    def add_var(prefix: str, var: Variable, subgraph: str | None, depth: int, role: str | None = None) -> str:
        key = f"{prefix}v{id(var)}"
        if key not in graph:
            if role is None:
                role = _leaf_kind(var) if var.owner is None else "intermediate" if depth == 0 else "inner"
            graph.add_node(key, kind="variable", role=role, op=None, name=var.name, type=repr(var.type),
                           dtype=var.dtype, shape=var.type.shape, subgraph=subgraph, depth=depth,
                           trace=var.trace if var.owner is None else var.owner.trace)
        return key

    # (key prefix, outputs, stop_at, subgraph tag, depth), processed without recursion
    work: list[tuple[str, list[Variable], list[Variable], str | None, int]] = [
        ("", [var for var, _ in pairs], [], None, 0)]
    while work:
        prefix, roots, stop_at, subgraph, depth = work.pop()
        for node in toposort(roots, stop_at=stop_at):
            akey = f"{prefix}a{id(node)}"
            outs = node.outputs
            single = len(outs) == 1
            graph.add_node(akey, kind="apply", role="op", op=str(node.op),
                           name=outs[0].name if single else tuple(o.name for o in outs),
                           type=repr(outs[0].type) if single else tuple(repr(o.type) for o in outs),
                           dtype=outs[0].dtype if single else tuple(o.dtype for o in outs),
                           shape=outs[0].type.shape if single else tuple(o.type.shape for o in outs),
                           subgraph=subgraph, depth=depth, trace=node.trace)
            for pos, var in enumerate(node.inputs):
                graph.add_edge(add_var(prefix, var, subgraph, depth), akey, kind="data", position=pos)
            for pos, var in enumerate(outs):
                graph.add_edge(akey, add_var(prefix, var, subgraph, depth), kind="data", position=pos)
            if inner and isinstance(node.op, Scan):
                op = node.op
                tag = f"{op}#{next(scans)}"
                inner_prefix = f"{prefix}s{id(node)}/"
                roles = [short.split(" ")[0] for short, _ in _scan_roles(op)]
                roles = ["state tap" if r == "state" else r for r in roles]
                outer_sl = op.outer_slices()
                feeders = list(node.inputs[outer_sl["seqs"]])
                for j, taps in enumerate(op.info.state_taps):
                    feeders += [node.inputs[outer_sl["inits"]][j]] * len(taps)
                feeders += list(node.inputs[outer_sl["nonseqs"]])
                for pos, (var, role, outer) in enumerate(zip(op.inner_inputs, roles, feeders)):
                    key = add_var(inner_prefix, var, tag, depth + 1, role=role)
                    graph.add_edge(add_var(prefix, outer, subgraph, depth), key, kind="feeds", position=pos)
                for pos, (var, outer) in enumerate(zip(op.inner_outputs, node.outputs)):
                    graph.add_edge(add_var(inner_prefix, var, tag, depth + 1),
                                   add_var(prefix, outer, subgraph, depth), kind="becomes", position=pos)
                work.append((inner_prefix, list(op.inner_outputs), list(op.inner_inputs), tag, depth + 1))
    for pos, (var, _) in enumerate(pairs):
        graph.nodes[add_var("", var, None, 0)]["output"] = pos
    return graph
