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
  ``which="both"`` (or :func:`compare`) the two side by side;
- shape plumbing (shape reads, zeros, broadcasts, dimshuffles, a loop's
  reversal and slice steps: :mod:`symrnn.viz.plumbing`) is folded into the
  edges it feeds, as purple marks (``[::-1]``, ``ᵀ``), or into a line of the
  node it feeds (``#1 = 0s``); ``show_plumbing=True`` draws it;
- ``cluster_scopes=True`` draws each name scope (``lstm/forget_gate``) as a
  cluster, ``overview=True`` one box per scope or loop, and ``learn=True``
  (or :func:`learn`) a cost and its gradient side by side, each gradient node
  coloured like the forward scope it differentiates;
- a size guard keeps a picture to a page: one of more than ``max_nodes``
  nodes, or too big for ``page``, is drawn left to right, with its loops
  collapsed, or as an overview, and its title says so.

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

from symrnn.autodiff import grad
from symrnn.compile.function import Function
from symrnn.files import write_bytes, write_text
from symrnn.graph import Apply, Constant, SharedVariable, Variable, describe, toposort
from symrnn.scan.op import Scan
from symrnn.viz.plumbing import Fold, drawn, fold_level, known_text, leaf_fold

__all__ = ["MAX_NODES", "PAGE", "GraphvizNotFoundError", "compare", "count_nodes", "escape_label", "image", "learn",
           "pipe_svg", "render", "to_dot", "to_networkx"]

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
    "box": "a name scope: its ops",
    "inner input": "one step's input",
    "inner output": "one step's output",
}
# Ops whose inputs can be swapped: their edges need no argument number.  Every other op with several inputs
# numbers them (#0, #1...) on its edges, since a drawing cannot show which input is the left one.
COMMUTATIVE = frozenset(["add", "mul", "maximum", "minimum", "eq", "neq", "and", "or", "xor"])
CLUSTER_STYLE = {"style": "rounded,filled", "fillcolor": "#fffbea", "color": "#b59a3c", "fontsize": "11"}
SIDE_STYLE = {"style": "rounded", "color": "#777777", "fontsize": "13"}
EDGE_FONT = {"fontsize": "8", "fontcolor": "#555555"}
EDGE_WIDTH = 32  # an edge label's words are set on lines of about this many characters

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


def _node(g: Any, node_id: str, lines: Sequence[str], style: Mapping[str, str], scope: str | None = None) -> None:
    """A node labelled ``lines``; its tooltip shows them all (where a line is too long for the label) and its
    name scope."""
    extra = {}
    if scope or any(len(str(line)) > LABEL_WIDTH for line in lines):
        text = "\n".join([*map(str, lines), *([f"scope: {scope}"] if scope else [])])
        extra["tooltip"] = graphviz.nohtml(_escaped(_cut(text, TOOLTIP_LIMIT)))
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

#: A default picture with more nodes than this is drawn with its loops collapsed, or as an overview.
MAX_NODES = 150
#: Graphviz ``size`` of a picture from :func:`to_dot` / :func:`render`, in inches: a bigger layout is scaled down.
PAGE = (16.0, 16.0)
#: Fills of the learning view, one per name scope: a scope and its gradient (``lstm/forget_gate`` and
#: ``grad/lstm/forget_gate``) share one, and the line colour of the dashed edge that links them.
SCOPE_COLORS = (("#fde2e4", "#b5475a"), ("#dbe7f5", "#35598f"), ("#d8f0d3", "#3c7a35"), ("#fff1c2", "#8a6d00"),
                ("#e8defa", "#6a4bb0"), ("#fbe0c8", "#b0652a"), ("#d9f2f2", "#2c7f7f"), ("#f3d9e8", "#a0467a"),
                ("#e9e9c8", "#7a7a2a"), ("#e2ece9", "#4b6e63"))
SCOPE_CLUSTER_STYLE = {"style": "rounded,dashed", "color": "#8c8c8c", "fontsize": "10", "fontcolor": "#555555"}
FOLD_FONT = {"fontcolor": "#6a3d9a"}  # an edge that carries folded plumbing says so in this colour
BOX_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#f3f3f3", "color": "#444444"}
LEARN_SIDES = {"forward": "forward", "backward": "backward / gradient"}
GRAD_PREFIX = "grad/"


def _join_marks(marks: Sequence[str]) -> str:
    """``[0:][?:?][::-1]``, ``ᵀ broadcast``: index steps run together, words are spaced."""
    text = ""
    for mark in marks:
        glued = mark.startswith("[") or mark == "\u1d40"
        text += mark if (glued or not text) else f" {mark}"
    return text


def _names_text(names: Sequence[str]) -> str:
    """``initial state 1, 2, 3`` from three names that differ in their last word only."""
    heads = {name.rsplit(" ", 1)[0] for name in names}
    if len(names) > 1 and len(heads) == 1 and all(" " in name for name in names):
        return f"{heads.pop()} " + ", ".join(name.rsplit(" ", 1)[1] for name in names)
    return ", ".join(names)


def _known_lines(items: Sequence[tuple[str, str]]) -> list[str]:
    """Label lines for inputs known without the data: ``#1 = x.shape[1]*4``, ``initial state 0, 1 = 0s``."""
    groups: dict[str, list[str]] = {}
    for name, text in items:
        groups.setdefault(text, []).append(name)
    lines = []
    for text, names in groups.items():
        named = [n for n in names if n]
        lines.append(f"{_names_text(named)} = {text}" if named else f"with {text}")
    return lines


def _base_scope(scope: str) -> str:
    """The forward scope that a gradient scope differentiates: ``lstm/cell`` for ``grad/lstm/cell``."""
    while scope.startswith(GRAD_PREFIX):
        scope = scope[len(GRAD_PREFIX):]
    return scope


def _relative(scope: str, owner: str) -> list[str]:
    """The parts of ``scope`` below ``owner`` (the loop a body belongs to), or all of them."""
    if owner and (scope == owner or scope.startswith(owner + "/")):
        scope = scope[len(owner) + 1:]
    return [part for part in scope.split("/") if part]


def _count(details: Mapping[str, Mapping[str, Any]]) -> int:
    """How many nodes a picture has, its legend left out (``details`` as :func:`_build` returns them)."""
    return sum(1 for d in details.values() if d["kind"] != "legend")


_NODE_STATEMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*) \[", re.MULTILINE)


def count_nodes(dot: graphviz.Digraph) -> int:
    """How many nodes a picture has, its legend left out.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> count_nodes(to_dot(T.exp(x) * 2))  # x, exp, mul and the output; the 2 is written in mul's label
        4
    """
    names = _NODE_STATEMENT.findall(dot.source)
    return sum(1 for name in names if name not in ("graph", "node", "edge") and not name.startswith("legend_"))


class _Builder:
    """Draws levels (the outer graph, scan bodies) into a Digraph and records each node's details.

    A *level* is one graph drawn at once: the outer graph (``"graph"``, or ``"built"`` and ``"compiled"``
    side by side) or a loop's body (``"body<n>"``).  Each drawn value's DOT node is ``ids[(level, id)]``.
    """

    def __init__(self, show_types: bool, collapse: str | None, show_plumbing: bool = True,
                 cluster_scopes: bool = False, learn: bool = False) -> None:
        self.show_types = show_types
        self.collapse = collapse
        self.show_plumbing = show_plumbing
        self.cluster_scopes = cluster_scopes
        self.learn = learn
        self.counter = itertools.count()
        self.ids: dict[tuple[str, int], str] = {}
        self.details: dict[str, dict[str, Any]] = {}
        self.clusters = 0
        self.folds: dict[str, dict[int, Fold]] = {}  # per level: the values its plumbing computes
        self.roots: dict[str, Any] = {}  # per level: the (sub)graph its edges go to
        self.groups: dict[str, dict[tuple[tuple[str, str], ...], graphviz.Digraph]] = {}  # per level: clusters
        self.owner_scope: dict[str, str] = {}  # per level: the scope of the loop it is the body of
        self.top_levels: set[str] = set()
        self.forward: set[int] = set()  # learn: ids of the nodes that compute the first output
        self.side = "forward"  # learn: the side of the outer node being drawn
        self.colors: dict[str, int] = {}  # learn: base scope -> colour index
        self.first: dict[tuple[str, str], str] = {}  # learn: (side, base scope) -> the first node drawn there
        self.folded_any = False
        self.boxes = False  # an overview was drawn

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def type_text(self, var: Variable) -> str:
        return repr(var.type)

    def record(self, node_id: str, kind: str, title: str, fields: list[tuple[str, Any]]) -> None:
        self.details[node_id] = {"kind": kind, "title": title,
                                 "fields": [[k, str(v)] for k, v in fields if v is not None and v != ""]}

    # ---- folding and placing
    def resolve(self, level: str, var: Variable) -> Fold:
        """What ``var`` is in the picture: drawn, passing through folded plumbing, or known without the data."""
        folds = self.folds.get(level)
        if folds is None:
            return drawn(var)
        if id(var) in folds:
            return folds[id(var)]
        return leaf_fold(var) if var.owner is None else drawn(var)

    def is_folded(self, level: str, node: Apply) -> bool:
        folds = self.folds.get(level)
        return bool(folds) and len(node.outputs) == 1 and id(node.outputs[0]) in folds

    def place(self, level: str, path: Sequence[tuple[str, str]]) -> Any:
        """The (sub)graph that a node of ``level`` goes in: the level's own, or the cluster for ``path``."""
        path = tuple(path)
        if not path:
            return self.roots[level]
        groups = self.groups.setdefault(level, {})
        for k in range(1, len(path) + 1):
            if path[:k] in groups:
                continue
            kind, text = path[k - 1]
            self.clusters += 1
            name = f"cluster_{'side' if kind == 'side' else 'scope'}_{self.clusters}"
            sub = graphviz.Digraph(name=name)
            if kind == "side":
                sub.attr(label=escape_label(LEARN_SIDES[text]), id=name, **SIDE_STYLE)
            else:
                scopes = [t for kd, t in path[:k] if kd == "scope"]
                full = "/".join([self.owner_scope.get(level, "")] * bool(self.owner_scope.get(level)) + scopes)
                sub.attr(label=escape_label(text), id=name, tooltip=graphviz.nohtml(_escaped(f"scope {full}")),
                         **SCOPE_CLUSTER_STYLE)
            groups[path[:k]] = sub
        return groups[path]

    def path_of(self, level: str, scope: str, side: str | None) -> list[tuple[str, str]]:
        path = [("side", side)] if side is not None else []
        if self.cluster_scopes and scope:
            if self.learn and side == "backward" or self.learn and level not in self.top_levels:
                scope = _base_scope(scope)  # the side (or the loop) says it is a gradient
            path += [("scope", part) for part in _relative(scope, _base_scope(self.owner_scope.get(level, ""))
                                                            if self.learn else self.owner_scope.get(level, ""))]
        return path

    def node_target(self, level: str, node: Apply) -> Any:
        side = None
        if self.learn and level in self.top_levels:
            side = self.side = "forward" if id(node) in self.forward else "backward"
        return self.place(level, self.path_of(level, node.scope or "", side))

    def finish(self, level: str) -> None:
        """Put the level's clusters into their parents, innermost first."""
        groups = self.groups.pop(level, {})
        for path in sorted(groups, key=len, reverse=True):
            parent = groups[path[:-1]] if len(path) > 1 else self.roots[level]
            parent.subgraph(groups[path])

    # ---- colours of the learning view
    def style_of(self, node: Apply, style: Mapping[str, str]) -> dict[str, str]:
        if not self.learn or not node.scope:
            return dict(style)
        base = _base_scope(node.scope)
        index = self.colors.setdefault(base, len(self.colors)) % len(SCOPE_COLORS)
        return {**style, "fillcolor": SCOPE_COLORS[index][0]}

    def note_first(self, node: Apply, node_id: str) -> None:
        """Learn: remember the first node of each forward scope, and of each gradient scope (``grad/...``)."""
        if self.learn and node.scope and (self.side == "forward") != node.scope.startswith(GRAD_PREFIX):
            self.first.setdefault((self.side, _base_scope(node.scope)), node_id)

    def links(self, g: graphviz.Digraph) -> None:
        """Learn: a dashed edge from each gradient scope to the forward scope it differentiates."""
        for base, index in self.colors.items():
            grad_id, fwd_id = self.first.get(("backward", base)), self.first.get(("forward", base))
            if grad_id is None or fwd_id is None:
                continue
            g.edge(grad_id, fwd_id, style="dashed", color=SCOPE_COLORS[index % len(SCOPE_COLORS)][1],
                   constraint="false", arrowhead="empty", label=escape_label(f"d/d {base}"), id=f"link_{index}",
                   **{**EDGE_FONT, "fontcolor": SCOPE_COLORS[index % len(SCOPE_COLORS)][1]})

    # ---- nodes
    def leaf(self, g: graphviz.Digraph, level: str, var: Variable) -> str:
        key = (level, id(var))
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

    def op_node(self, g: graphviz.Digraph, level: str, node: Apply, extra: Sequence[str] = ()) -> str:
        node_id = self.new_id("op")
        self.ids[(level, id(node))] = node_id
        named = [o.name for o in node.outputs if o.name]
        lines = [str(node.op)] + [repr(n) for n in named[:1]] + list(extra)
        _node(g, node_id, lines, self.style_of(node, STYLES["op"]), scope=node.scope)
        self.record_op(node_id, node, "op")
        self.note_first(node, node_id)
        return node_id

    def record_op(self, node_id: str, node: Apply, kind: str, extra: Sequence[tuple[str, Any]] = ()) -> None:
        outs = node.outputs
        self.record(node_id, kind, str(node.op), [
            ("op", str(node.op)), ("op class", repr(node.op) if len(repr(node.op)) < 200 else type(node.op).__name__),
            ("type", ", ".join(repr(o.type) for o in outs)),
            ("shape", ", ".join(_shape_text(o.type.shape) for o in outs)),
            ("name", ", ".join(o.name for o in outs if o.name)),
            ("scope", node.scope),
            ("inputs", "; ".join(describe(v) for v in node.inputs)),
            *extra,
            ("created at", node.trace)])

    def source(self, g: graphviz.Digraph, level: str, var: Variable, outlets: dict[int, list[str]]) -> str:
        """The DOT node an edge carrying ``var`` starts from (drawing a leaf if needed)."""
        if var.owner is None or (level, id(var.owner)) not in self.ids:
            return self.leaf(g, level, var)  # an owned one: computed outside this level (bodies are closed)
        if id(var.owner) in outlets:
            return outlets[id(var.owner)][var.index]
        return self.ids[(level, id(var.owner))]

    def edge_label(self, var: Variable, prefix: str = "", marks: Sequence[str] = (),
                   arriving: Variable | None = None) -> str | None:
        parts = [prefix] if prefix else []
        if var.owner is not None and len(var.owner.outputs) > 1:
            parts.append(f"out {var.index}")
        if var.name and var.owner is not None:
            parts.append(repr(var.name))
        if marks:
            parts.append(_join_marks(marks))
        if self.show_types and (var.owner is not None or marks):
            parts.append(repr((arriving or var).type))
        lines: list[str] = []  # short lines, so that a long label is not cut
        for part in parts:
            if lines and len(lines[-1]) + 1 + len(part) <= EDGE_WIDTH:
                lines[-1] += " " + part
            else:
                lines.append(part)
        return escape_label(*lines) if lines else None

    def edge(self, g: graphviz.Digraph, tail: str, head: str, var: Variable | None, prefix: str = "",
             marks: Sequence[str] = (), arriving: Variable | None = None, **attrs: str) -> None:
        label = None
        if var is not None and (var.owner is not None or marks):
            label = self.edge_label(var, prefix, marks, arriving)
        elif prefix:
            label = escape_label(prefix)
        if label:
            attrs = {**EDGE_FONT, **(FOLD_FONT if marks else {}), **attrs, "label": label}
        if marks:
            self.folded_any = True
        g.edge(tail, head, **attrs)

    def edge_in(self, g: graphviz.Digraph, level: str, var: Variable, head: str, prefix: str,
                outlets: dict[int, list[str]], **attrs: str) -> None:
        """The edge that brings ``var`` to ``head``, from the drawn value it comes from, with its plumbing marks."""
        fold = self.resolve(level, var)
        assert fold.source is not None
        tail = self.source(g, level, fold.source, outlets)
        self.edge(g, tail, head, fold.source, prefix=prefix, marks=fold.marks,
                  arriving=var if fold.marks else None, **attrs)

    def known(self, items: Sequence[tuple[str, Fold]]) -> list[str]:
        lines = _known_lines([(name, known_text(fold)) for name, fold in items if fold.known])
        self.folded_any = self.folded_any or bool(lines)
        return lines

    # ---- one level of a graph
    def draw_level(self, g: graphviz.Digraph, level: str, roots: Sequence[Variable],
                   stop_at: Sequence[Variable] = (), owner_scope: str = "", finish: bool = True
                   ) -> dict[int, list[str]]:
        """Draw the ops that compute ``roots``; return, per scan node drawn as a cluster, its outlets."""
        nodes = toposort(roots, stop_at=stop_at)
        self.roots[level] = g
        self.owner_scope[level] = owner_scope
        if not self.show_plumbing:
            self.folds[level] = fold_level(nodes, keep=roots)
        outlets: dict[int, list[str]] = {}  # id(scan Apply) -> DOT node of each outer output
        for node in nodes:
            if self.is_folded(level, node):
                continue
            target = self.node_target(level, node)
            if isinstance(node.op, Scan):
                if self.collapse == "cells":
                    self.collapsed_scan(target, g, level, node, outlets)
                else:
                    outlets[id(node)] = self.scan_cluster(target, g, level, node, outlets)
                continue
            numbered = len(node.inputs) > 1 and str(node.op) not in COMMUTATIVE
            inputs = [(f"#{pos}" if numbered else "", var, self.resolve(level, var))
                      for pos, var in enumerate(node.inputs)]
            node_id = self.op_node(target, level, node, self.known([(p, f) for p, _, f in inputs]))
            for prefix, var, fold in inputs:
                if not fold.known:
                    self.edge_in(g, level, var, node_id, prefix, outlets)
        if finish:
            self.finish(level)
        return outlets

    def step_summary(self, op: Any) -> tuple[str, str]:
        """``("one step: 12 ops + 4 plumbing", "dot×4, add×4, …")`` for a loop's body."""
        n_outer, n_inner = _count_ops(op.inner_nodes)
        shown = list(op.inner_nodes)
        if not self.show_plumbing:
            folds = fold_level(op.inner_nodes, keep=op.inner_outputs)
            shown = [n for n in op.inner_nodes if not (len(n.outputs) == 1 and id(n.outputs[0]) in folds)]
        hidden = len(op.inner_nodes) - len(shown)
        count = f"one step: {n_outer + n_inner - hidden} ops" + (f" + {hidden} plumbing" if hidden else "")
        return count, _op_summary(shown)

    def collapsed_scan(self, target: Any, g: graphviz.Digraph, level: str, node: Apply,
                       outlets: dict[int, list[str]]) -> None:
        op = node.op
        node_id = self.new_id("scan")
        self.ids[(level, id(node))] = node_id
        sl = op.outer_slices()
        names = ["n_steps"] + [f"sequence {k}" for k in range(op.info.n_seqs)]
        names += [f"initial state {j}" for j in range(op.info.n_states)]
        names += [f"non-sequence {k}" for k in range(op.info.n_nonseqs)]
        inputs = [(pos, names[pos], var, self.resolve(level, var)) for pos, var in enumerate(node.inputs)
                  if pos > 0 or op.info.n_steps_given]  # n_steps -1: "the length of the sequences", nothing to see
        lines = [str(op), *self.step_summary(op), *self.known([(name, f) for _, name, _, f in inputs])]
        _node(target, node_id, lines, self.style_of(node, STYLES["scan"]), scope=node.scope)
        self.record_op(node_id, node, "scan", self.scan_fields(op))
        self.note_first(node, node_id)
        for pos, name, var, fold in inputs:
            if fold.known:
                continue
            is_seq = sl["seqs"].start <= pos < sl["seqs"].stop
            self.edge_in(g, level, var, node_id, name, outlets, **({"style": "bold"} if is_seq else {}))

    def scan_fields(self, op: Any) -> list[tuple[str, Any]]:
        info = op.info
        n_outer, n_inner = _count_ops(op.inner_nodes)
        return [("loop", f"{info.n_seqs} sequence(s), {info.n_states} state(s) with taps "
                         f"{[list(t) for t in info.state_taps]}, {info.n_nitsot} per-step output(s), "
                         f"{info.n_nonseqs} non-sequence(s)" + (", until" if info.has_until else "")),
                ("steps", "n_steps input" if info.n_steps_given else "the length of the shortest sequence"),
                ("inner graph", f"{n_outer + n_inner} op(s): {_op_summary(op.inner_nodes, 8)}"),
                ("truncate_gradient", info.truncate_gradient if info.truncate_gradient != -1 else None)]

    def scan_cluster(self, target: Any, g: graphviz.Digraph, level: str, node: Apply,
                     outlets: dict[int, list[str]]) -> list[str]:
        op = node.op
        info = op.info
        self.clusters += 1
        inner_level = self.new_id("body")
        cluster_name = f"cluster_scan_{_safe_ident(info.name)}_{self.clusters}"
        header = self.new_id("scan")
        self.ids[(level, id(node))] = header
        with target.subgraph(name=cluster_name) as c:
            n_outer, n_inner = _count_ops(op.inner_nodes)
            c.attr(label=escape_label(f"{op}: one step ({n_outer + n_inner} ops)"), id=f"{cluster_name}",
                   **CLUSTER_STYLE)
            steps = "for t in range(n_steps)" if info.n_steps_given else "for t in range(len(sequences))"
            n_steps = self.resolve(level, node.inputs[0]) if info.n_steps_given else None
            lines = [str(op), steps, *self.known([("n_steps", n_steps)] if n_steps is not None else [])]
            _node(c, header, lines, {**self.style_of(node, STYLES["scan"]), "shape": "box"}, scope=node.scope)
            self.record_op(header, node, "scan", self.scan_fields(op))
            self.note_first(node, header)
            if n_steps is not None and not n_steps.known:
                self.edge_in(g, level, node.inputs[0], header, "n_steps", outlets)
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
                self.ids[(inner_level, id(inner))] = node_id
                is_seq = inner_sl["seqs"].start <= k < inner_sl["seqs"].stop
                is_tap = inner_sl["taps"].start <= k < inner_sl["taps"].stop
                prefix = "slice [t]" if is_seq else "initial" if is_tap else ""
                fold = self.resolve(level, outer)
                lines = [f"{short}: {inner.name}" if inner.name else short]
                if self.show_types:
                    lines.append(repr(inner.type))
                lines += self.known([(prefix, fold)])
                _node(c, node_id, lines, STYLES["inner input"])
                self.record(node_id, "inner input", short, [
                    ("kind", f"inner input of {op}"), ("role", long), ("name", inner.name),
                    ("type", repr(inner.type)), ("dtype", inner.dtype), ("shape", _shape_text(inner.type.shape)),
                    ("comes from", describe(outer)), ("created at", node.trace)])
                if is_tap:
                    tap_ids[tap_owner[k - inner_sl["taps"].start]].append(node_id)
                if not fold.known:
                    self.edge_in(g, level, outer, node_id, prefix, outlets, style="dashed" if is_tap else "solid")
            # The step's ops, then its outputs.
            inner_outlets = self.draw_level(c, inner_level, op.inner_outputs, stop_at=op.inner_inputs,
                                            owner_scope=node.scope or "", finish=False)
            out_ids = []
            for k, (inner, role) in enumerate(zip(op.inner_outputs, _inner_output_roles(op))):
                node_id = self.new_id("io")
                out_ids.append(node_id)
                fold = self.resolve(inner_level, inner)
                lines = [role] + ([self.type_text(inner)] if self.show_types else []) + self.known([("value", fold)])
                _node(c, node_id, lines, STYLES["inner output"])
                outer_var = node.outputs[k] if k < len(node.outputs) else None
                self.record(node_id, "inner output", role, [
                    ("kind", f"inner output of {op}"), ("role", role), ("type", repr(inner.type)),
                    ("shape", _shape_text(inner.type.shape)),
                    ("outer output", describe(outer_var) if outer_var is not None else "the loop's stop condition"),
                    ("created at", inner.owner.trace if inner.owner is not None else inner.trace)])
                if not fold.known:
                    self.edge_in(c, inner_level, inner, node_id, "", inner_outlets)
            for j in range(info.n_states):  # the recurrence: the new state is read at the next step
                for tap_id in tap_ids[j]:
                    c.edge(out_ids[j], tap_id, style="dashed", color="#a3472a", constraint="false",
                           label=escape_label("next step"), **EDGE_FONT)
            self.finish(inner_level)
        return out_ids[: len(node.outputs)]

    def outputs(self, g: graphviz.Digraph, level: str, pairs: Sequence[tuple[Variable, str]],
                outlets: dict[int, list[str]]) -> None:
        for k, (var, label) in enumerate(pairs):
            node_id = self.new_id("out")
            fold = self.resolve(level, var)
            lines = [label] + ([var.name] if var.name and var.name != label else [])
            if self.show_types:
                lines.append(self.type_text(var))
            lines += self.known([("value", fold)])
            target = g
            if self.learn and level in self.top_levels:
                target = self.place(level, [("side", "forward" if k == 0 else "backward")])
            _node(target, node_id, lines, STYLES["output"])
            self.record(node_id, "output", label, [
                ("kind", "output"), ("name", var.name), ("type", repr(var.type)), ("dtype", var.dtype),
                ("shape", _shape_text(var.type.shape)),
                ("computed by", str(var.owner.op) if var.owner is not None else "nothing: it is a graph input"),
                ("created at", var.owner.trace if var.owner is not None else var.trace)])
            if not fold.known:
                self.edge_in(g, level, var, node_id, "", outlets)

    # ---- the overview: one box per scope or loop
    def overview(self, g: graphviz.Digraph, level: str, pairs: Sequence[tuple[Variable, str]], depth: int) -> None:
        """Draw one box per name scope (its first ``depth`` parts) or loop, the edges between them, the inputs
        and the outputs."""
        roots = [var for var, _ in pairs]
        nodes = toposort(roots)
        self.boxes = True
        self.roots[level] = g
        self.owner_scope[level] = ""
        self.folds[level] = {} if self.show_plumbing else fold_level(nodes, keep=roots)
        shown = [n for n in nodes if not self.is_folded(level, n)]
        side_of = {id(n): ("forward" if id(n) in self.forward else "backward") if self.learn else "" for n in shown}
        first = {id(n) for n in toposort(roots[:1])}  # ops outside every scope: those for the first output apart
        phase = {id(n): "first" if id(n) in first else "rest" for n in shown}
        key: dict[int, tuple[str, str, str]] = {}  # id(node) -> (side, kind, name)
        # Ops outside every scope make one box per set of boxes upstream of them (and per side, and apart from
        # the rest when they compute the first output), so that such a box never feeds a box that feeds it.
        upstream: dict[int, frozenset] = {}
        pieces: dict[tuple[str, str, frozenset], str] = {}
        for n in shown:
            srcs = [f.source.owner for f in (self.resolve(level, v) for v in n.inputs)
                    if not f.known and f.source.owner is not None]
            above = frozenset().union(*(upstream[id(s)] | {key[id(s)]} for s in srcs))
            if n.scope:
                key[id(n)] = (side_of[id(n)], "scope", "/".join(n.scope.split("/")[:depth]))
            elif isinstance(n.op, Scan):
                key[id(n)] = (side_of[id(n)], "loop", str(id(n)))
            else:
                boxes = frozenset(k for k in above if k[1] != "ops")
                piece = pieces.setdefault((side_of[id(n)], phase[id(n)], boxes), str(len(pieces)))
                key[id(n)] = (side_of[id(n)], "ops", piece)
            upstream[id(n)] = above
        members: dict[tuple[str, str, str], list[Apply]] = {}
        for n in shown:
            members.setdefault(key[id(n)], []).append(n)
        # Shared variables live in the box of their name's scope when there is one.
        scoped_boxes = {name: k for k in members for (_, kind, name) in [k] if kind == "scope"}
        shared_in: dict[tuple[str, str, str], list[Variable]] = {}
        box_ids: dict[tuple[str, str, str], str] = {}

        def shared_box(var: Variable) -> tuple[str, str, str] | None:
            scope = var.name.rsplit("/", 1)[0] if var.name and "/" in var.name else ""
            scope = "/".join(scope.split("/")[:depth])
            return scoped_boxes.get(scope)

        leaves: dict[int, Variable] = {}  # the leaves that edges start from, through folded plumbing too
        for var in [v for n in shown for v in n.inputs] + roots:
            fold = self.resolve(level, var)
            if not fold.known and fold.source.owner is None:
                leaves[id(fold.source)] = fold.source
        for var in leaves.values():
            if isinstance(var, SharedVariable) and shared_box(var) is not None:
                shared_in.setdefault(shared_box(var), []).append(var)  # type: ignore[arg-type]
        for k, box in members.items():
            side, kind, name = k
            loops = [n for n in box if isinstance(n.op, Scan)]
            ops = [n for n in box if not isinstance(n.op, Scan)]
            if kind == "scope":
                lines = [name] + ([f"loop{'s' if len(loops) > 1 else ''} {_op_summary(loops, 2)}"] if loops else [])
            elif kind == "loop":
                lines = [str(loops[0].op), self.step_summary(loops[0].op)[0]]
            else:
                lines = ["ops outside any scope"]
            if ops:
                lines.append(f"{len(ops)} op{'s' if len(ops) > 1 else ''}: {_op_summary(ops, 3)}")
            if shared_in.get(k):
                lines.append(f"{len(shared_in[k])} shared variable{'s' if len(shared_in[k]) > 1 else ''}")
            box_id = self.new_id("box")
            box_ids[k] = box_id
            style = STYLES["scan"] if kind == "loop" else BOX_STYLE
            if self.learn and kind != "ops":
                style = self.style_of(box[0], style)
                self.side = side
                self.note_first(box[0], box_id)
            target = self.place(level, [("side", side)] if side else [])
            _node(target, box_id, lines, style, scope=name if kind == "scope" else box[0].scope)
            self.record(box_id, "overview box", lines[0], [
                ("kind", {"scope": "name scope", "loop": "loop", "ops": "ops outside any scope"}[kind]),
                ("scope", name if kind == "scope" else ""), ("ops", f"{len(box)}: {_op_summary(box, 8)}"),
                ("shared variables", ", ".join(str(v.name) for v in shared_in.get(k, [])))])
        # Edges between boxes: how many values pass, and their types.
        passing: dict[tuple[str, str], dict[int, Variable]] = {}

        def tail_of(var: Variable) -> str | None:
            if var.owner is not None:
                return box_ids[key[id(var.owner)]]
            if isinstance(var, Constant):
                return None
            if isinstance(var, SharedVariable) and shared_box(var) is not None:
                return box_ids[shared_box(var)]  # type: ignore[index]
            return self.leaf(g, level, var)

        for n in shown:
            head = box_ids[key[id(n)]]
            for var in n.inputs:
                fold = self.resolve(level, var)
                if fold.known:
                    continue
                tail = tail_of(fold.source)
                if tail is not None and tail != head:
                    passing.setdefault((tail, head), {})[id(var)] = var
        outs: dict[str, list[tuple[Variable, str]]] = {}
        for var, label in pairs:
            fold = self.resolve(level, var)
            tail = None if fold.known else tail_of(fold.source)
            if tail is not None:
                outs.setdefault(tail, []).append((var, label))
        for tail, items in outs.items():
            firsts = [item for item in items if item[0] is pairs[0][0]]  # the first output (a cost) on its own
            rest = [item for item in items if item[0] is not pairs[0][0]]
            for group in ([firsts] if firsts else []) + ([rest] if rest else []):
                node_id = self.new_id("out")
                if len(group) == 1:
                    lines = [group[0][1]] + ([self.type_text(group[0][0])] if self.show_types else [])
                else:
                    lines = [f"{len(group)} outputs", *[label for _, label in group[:2]]] + ["…"] * (len(group) > 2)
                target = g
                if self.learn:
                    target = self.place(level, [("side", "forward" if group is firsts else "backward")])
                _node(target, node_id, lines, STYLES["output"])
                self.record(node_id, "output", lines[0], [("kind", "output"),
                                                          ("outputs", "; ".join(label for _, label in group))])
                passing.setdefault((tail, node_id), {}).update({id(v): v for v, _ in group})
        for (tail, head), values in passing.items():
            self.edge(g, tail, head, None, prefix=self.values_text(list(values.values())))

    def values_text(self, values: Sequence[Variable]) -> str:
        if len(values) == 1:
            return repr(values[0].type) if self.show_types else ""
        types = list(dict.fromkeys(repr(v.type) for v in values))
        text = f"{len(values)} values"
        if self.show_types:
            text += ": " + ", ".join(types[:2]) + (", …" if len(types) > 2 else "")
        return text

    def legend(self, g: graphviz.Digraph) -> None:
        with g.subgraph(name="cluster_legend") as c:
            c.attr(label="legend", id="cluster_legend", style="rounded", color="#aaaaaa", fontsize="11")
            kinds = list(STYLES) if self.collapse == "cells" else [k for k in STYLES if k != "scan"]
            if self.boxes:
                kinds = ["input", "shared", "output", "scan", "box"]
            rows = [kinds[i:i + 2] for i in range(0, len(kinds), 2)]  # two columns
            above: str | None = None
            for row in rows:
                with c.subgraph() as r:
                    r.attr(rank="same")
                    for kind in row:
                        node_id = f"legend_{kind.replace(' ', '_')}"
                        r.node(node_id, label=escape_label(LEGEND_TEXT[kind]), id=node_id,
                               **(BOX_STYLE if kind == "box" else STYLES[kind]))
                        self.record(node_id, "legend", LEGEND_TEXT[kind],
                                    [("legend", f"how a {kind} node is drawn")])
                if above is not None:
                    c.edge(above, f"legend_{row[0].replace(' ', '_')}", style="invis")
                above = f"legend_{row[0].replace(' ', '_')}"
            extra = []
            if self.folded_any:
                extra.append(("legend_plumbing", ["purple edge text: shape plumbing folded",
                                                  "into the edge ([::-1], ᵀ, broadcast);",
                                                  "'#1 = 0s', 'with 2': an input known without",
                                                  "the data (show_plumbing=True draws them)"],
                              {"shape": "plaintext", "fontcolor": FOLD_FONT["fontcolor"]}))
            if self.learn:
                for base, index in self.colors.items():
                    if ("forward", base) in self.first and ("backward", base) in self.first:
                        extra.append((f"legend_scope_{index}", [base, f"and {GRAD_PREFIX}{base}"],
                                      {**STYLES["op"], "fillcolor": SCOPE_COLORS[index % len(SCOPE_COLORS)][0]}))
            for node_id, lines, style in extra:
                c.node(node_id, label=escape_label(*lines), id=node_id, **style)
                self.record(node_id, "legend", lines[0], [("legend", " ".join(lines))])
                if above is not None:
                    c.edge(above, node_id, style="invis")
                above = node_id


def _draw(sides: list[tuple[str, list[tuple[Variable, str]]]], show_types: bool, collapse: str | None,
          legend: bool, rankdir: str, show_plumbing: bool, cluster_scopes: bool, overview: int, learn: bool
          ) -> tuple[graphviz.Digraph, dict]:
    builder = _Builder(show_types, collapse, show_plumbing=show_plumbing, cluster_scopes=cluster_scopes, learn=learn)
    dot = graphviz.Digraph(name="symrnn")
    dot.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.25", ranksep="0.35", newrank="true")
    dot.attr("node", fontname="Helvetica", fontsize="10", margin="0.08,0.03", height="0.3")
    dot.attr("edge", fontname="Helvetica", arrowsize="0.6", color="#555555")
    def draw_side(g: graphviz.Digraph, side: str, pairs: Sequence[tuple[Variable, str]]) -> None:
        builder.roots[side] = g
        if overview:
            builder.overview(g, side, pairs, overview)
        else:
            outlets = builder.draw_level(g, side, [var for var, _ in pairs], finish=False)
            builder.outputs(g, side, pairs, outlets)
        builder.finish(side)

    for side, pairs in sides:
        roots = [var for var, _ in pairs]
        builder.top_levels.add(side)
        if learn:
            builder.forward = {id(n) for n in toposort(roots[:1])}
        if len(sides) == 1:
            draw_side(dot, side, pairs)
            continue
        n_outer, n_inner = _count_ops(toposort(roots))
        caption = {"built": "as built", "compiled": "compiled (after the FAST_RUN rewrites)"}[side]
        with dot.subgraph(name=f"cluster_{side}") as c:
            c.attr(label=escape_label(f"{caption}: {n_outer} ops" + (f" + {n_inner} in loops" if n_inner else "")),
                   id=f"cluster_{side}", **SIDE_STYLE)
            draw_side(c, side, pairs)
    if learn:
        builder.links(dot)
    if legend:
        builder.legend(dot)
    return dot, builder.details


#: A picture of more nodes than this is laid out once to see whether it fits its page.
MEASURE_FROM = 40
#: A picture that would have to be scaled down more than this to fit its page is too big to read.
READABLE_SCALE = 0.5


def _natural_size(dot: graphviz.Digraph) -> tuple[float, float] | None:
    """The drawing's width and height in inches, as Graphviz lays it out (``None`` without Graphviz)."""
    try:
        first = dot.pipe(format="plain").decode("utf-8").split("\n", 1)[0].split()
        return float(first[2]), float(first[3])
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, IndexError, ValueError):
        return None


def _too_big(dot: graphviz.Digraph, details: Mapping[str, Any], max_nodes: int | None,
             page: tuple[float, float] | None) -> str | None:
    """Why a picture is too big for a readable page (``"412 nodes"``, ``"126 x 12 in"``), or ``None``."""
    n = _count(details)
    if max_nodes is not None and n > max_nodes:
        return f"{n} nodes"
    if page is not None and n > MEASURE_FROM:
        size = _natural_size(dot)
        if size is not None and min(page[0] / size[0], page[1] / size[1]) < READABLE_SCALE:
            return f"{size[0]:.0f} x {size[1]:.0f} in"
    return None


def _build(fn_or_vars: Any, show_types: bool = True, collapse: str | bool | None = None, which: str = "compiled",
           legend: bool = True, rankdir: str | None = None, title: str | None = None,
           output_labels: Sequence[str] | None = None, show_plumbing: bool = False, cluster_scopes: bool = False,
           overview: bool | int = False, learn: bool = False, max_nodes: int | None = MAX_NODES,
           page: tuple[float, float] | None = None) -> tuple[graphviz.Digraph, dict]:
    """The Digraph and, per DOT node id, its details (for the HTML view)."""
    if collapse is True:
        collapse = "cells"
    if collapse not in (None, False, "cells"):
        raise ValueError(f"collapse must be None or 'cells', got {collapse!r}")
    if rankdir not in (None, "TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT, RL or None (TB, or LR where that fits), got {rankdir!r}")
    depth = 2 if overview is True else int(overview or 0)
    if depth < 0:
        raise ValueError(f"overview must be True, False or a number of scope levels (1, 2...), got {overview!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive number or None, got {max_nodes!r}")
    sides = _normalize(fn_or_vars, which, output_labels)
    if learn and len(sides) != 1:
        raise ValueError("learn=True draws one graph (its first output and the gradients), not which='both'")
    options = dict(show_types=show_types, legend=legend, show_plumbing=show_plumbing, cluster_scopes=cluster_scopes,
                   learn=learn)
    collapse = collapse or None
    dot, details = _draw(sides, collapse=collapse, overview=depth, rankdir=rankdir or "TB", **options)
    notes: list[str] = []
    why = _too_big(dot, details, max_nodes, page) if max_nodes is not None and not depth else None
    if why is not None:
        # The size guard: left to right (when rankdir is free), loops collapsed, then an overview.
        tries: list[tuple[str | None, int, str, list[str]]] = []
        turn = rankdir is None and len(sides) == 1  # built and compiled stay side by side, top to bottom
        if turn and "nodes" not in why:
            tries.append((collapse, 0, "LR", ["so it is drawn left to right"]))
        if collapse is None:
            tries.append(("cells", 0, rankdir or "TB", ["so its loops are drawn as single nodes"]))
            if turn:
                tries.append(("cells", 0, "LR", ["so its loops are drawn as single nodes,", "left to right"]))
        tries.append((collapse, 2, rankdir or "TB", ["so it is drawn as an overview:",
                                                     "one box per name scope or loop"]))
        how: list[str] = []
        for k, (collapse_to, depth_to, rankdir_to, said) in enumerate(tries):
            dot, details = _draw(sides, collapse=collapse_to, overview=depth_to, rankdir=rankdir_to, **options)
            how = said
            if k == len(tries) - 1 or _too_big(dot, details, max_nodes, page) is None:
                break
        notes = [f"too big for one page ({why}),", *how, "(max_nodes=None draws it all)"]
    lines = ([title] if title else []) + notes
    if lines:
        dot.attr(label=escape_label(*lines), labelloc="t", fontsize="14")
    if page is not None:
        dot.attr(size=f"{page[0]:g},{page[1]:g}")
    return dot, details


def to_dot(fn_or_vars: Any, show_types: bool = True, collapse: str | bool | None = None, which: str = "compiled",
           legend: bool = True, rankdir: str | None = None, title: str | None = None,
           output_labels: Sequence[str] | None = None, show_plumbing: bool = False, cluster_scopes: bool = False,
           overview: bool | int = False, learn: bool = False, max_nodes: int | None = MAX_NODES,
           page: tuple[float, float] | None = PAGE) -> graphviz.Digraph:
    """Draw a graph as a ``graphviz.Digraph`` (render it with ``.pipe(format="svg")`` or :func:`render`).

    ``fn_or_vars`` is a variable, a list of variables, a dict ``{label:
    variable}`` (the labels name the output nodes) or a compiled ``Function``.

    - ``show_types``: show each value's dtype and static shape in the leaf and
      output nodes and on the edges between ops;
    - ``collapse="cells"``: draw each scan (one cell step, run over time) as a
      single node instead of a cluster holding its inner graph;
    - ``which``: for a ``Function``, ``"compiled"`` (after rewrites, the
      default), ``"built"`` or ``"both"`` side by side (see :func:`compare`);
    - ``legend``: add a legend cluster; ``rankdir``: ``"TB"`` (top to
      bottom) or ``"LR"``; by default top to bottom, or left to right where
      only that fits the page;
      ``title``: a caption on top; ``output_labels``: one label per output
      (and update) instead of ``output 0``, ``update of 'W'``...
    - ``show_plumbing``: draw shape plumbing as nodes.  By default shape
      reads, arrays of zeros or ones, broadcasts, dimshuffles, a loop's
      reversal and slice steps and the counts computed from shapes are folded
      into the edges they feed (a mark such as ``ᵀ``, ``[::-1]`` or
      ``broadcast``), or, when known without the data, into a line of the node
      they feed (``#1 = x.shape[1]*4``, ``initial state 0 = 0s``);
    - ``cluster_scopes``: draw each name scope (``node.scope``, e.g.
      ``lstm/forget_gate``) as a labelled cluster, nested by ``/``;
    - ``overview``: one box per name scope (``True``: its first two levels; a
      number: that many levels) or loop, the edges between them labelled with
      the values that pass, the inputs and the outputs;
    - ``learn``: the first output (a cost) and the rest (its gradients) side
      by side, in a ``forward`` and a ``backward / gradient`` cluster; each
      gradient node has the colour of the scope it differentiates, and a
      dashed edge links each gradient scope to its forward scope (see
      :func:`learn`);
    - ``max_nodes``: a picture of more nodes is drawn with its loops collapsed,
      or as an overview if still too big, and its title says so (``None``:
      never); ``page``: Graphviz's ``size`` in inches, ``(width, height)``: a
      bigger drawing is scaled down to fit (``None``: not).

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
        >>> "Alloc" in dot.source, "Alloc" in to_dot(outputs, show_plumbing=True).source
        (False, True)
    """
    return _build(fn_or_vars, show_types=show_types, collapse=collapse, which=which, legend=legend,
                  rankdir=rankdir, title=title, output_labels=output_labels, show_plumbing=show_plumbing,
                  cluster_scopes=cluster_scopes, overview=overview, learn=learn, max_nodes=max_nodes, page=page)[0]


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


def learn(cost: Variable, wrt: Variable | Sequence[Variable], **kwargs: Any) -> graphviz.Digraph:
    """Draw ``cost`` and its gradient with respect to ``wrt`` side by side, for learning backpropagation.

    The ``forward`` cluster computes the cost; the ``backward / gradient``
    cluster computes ``d cost / d w`` for each ``w`` in ``wrt`` (``symrnn.grad``).
    A gradient node has the colour of the name scope it differentiates (the
    nodes of ``grad/lstm/forget_gate`` that of ``lstm/forget_gate``), and a
    dashed edge goes from each gradient scope to its forward scope.  The other
    keyword arguments go to :func:`to_dot` (``collapse="cells"``,
    ``cluster_scopes=True``...).

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn import nn
        >>> from symrnn.viz import learn
        >>> cell = nn.RNNCell(3, 4, seed=0)
        >>> h, _ = nn.rnn(cell, T.tensor3("x"))
        >>> dot = learn(T.mean(h[-1] ** 2), list(cell.params.values()), collapse="cells")
        >>> "cluster_side" in dot.source and "d/d rnn" in dot.source
        True
    """
    params = [wrt] if isinstance(wrt, Variable) else list(wrt)
    grads = grad(cost, params)
    name = cost.name or "cost"
    drawn_outputs: dict[str, Variable] = {name: cost}
    for k, (p, g) in enumerate(zip(params, grads)):
        label = f"d {name} / d {p.name or f'wrt {k}'}"
        drawn_outputs[label if label not in drawn_outputs else f"{label} ({k})"] = g
    return to_dot(drawn_outputs, learn=True, **kwargs)


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
