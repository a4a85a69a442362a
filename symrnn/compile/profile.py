"""Per-node and per-op timings of a compiled function (Theano's ``profile=True``).

``symrnn.function(..., profile=True)`` generates code that times every node
with ``time.perf_counter`` and counts its calls; nodes inside a loop are timed
at every step.  A loop node's time *includes* its inner nodes, so the tables
report each node's own share: for a loop, its time minus its inner nodes'.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from symrnn.graph import Apply, short_trace


class Profile:
    """Accumulated seconds and calls per timed node; :meth:`summary` prints the tables.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> x = T.matrix("x")
        >>> f = symrnn.function([x], T.tanh(x.dot(x.T)).sum(), profile=True)
        >>> _ = f(np.ones((50, 50)))
        >>> _ = f(np.ones((50, 50)))
        >>> sorted((row["op"], row["calls"]) for row in f.profile.per_op())
        [('DimShuffle', 2), ('block_sum', 2), ('dot', 2)]
        >>> round(sum(row["percent"] for row in f.profile.per_node()))
        100
    """

    def __init__(self, timed: list[tuple[Apply, int]]) -> None:
        self.nodes = [node for node, _ in timed]
        self.depths = [depth for _, depth in timed]
        self.seconds = np.zeros(len(timed))
        self.calls = np.zeros(len(timed), dtype=np.int64)
        self.function_calls = 0
        self.function_seconds = 0.0

    def reset(self) -> None:
        """Forget the timings so far."""
        self.seconds[:] = 0
        self.calls[:] = 0
        self.function_calls = 0
        self.function_seconds = 0.0

    def self_seconds(self) -> np.ndarray:
        """Each node's own time: a loop's time less the time of the nodes inside it."""
        own = self.seconds.copy()
        for i, node in enumerate(self.nodes):
            if hasattr(node.op, "inner_nodes"):
                inner = {id(n) for n in node.op.inner_nodes}
                for j in range(i + 1, len(self.nodes)):
                    if self.depths[j] <= self.depths[i]:
                        break
                    if self.depths[j] == self.depths[i] + 1 and id(self.nodes[j]) in inner:
                        own[i] -= self.seconds[j]
        return np.maximum(own, 0.0)

    def per_node(self) -> list[dict[str, Any]]:
        """One row per node, slowest first.

        Keys: ``op`` (the op type, as in :meth:`per_op`), ``node`` (the op with
        its parameters), ``calls``, ``seconds`` (the node's own time; for a loop,
        without its inner nodes), ``total_seconds`` (a loop's time with its inner
        nodes), ``percent`` (of all nodes' own time), ``depth`` (how many loops
        enclose it), ``trace`` (the user's ``file:line`` that built it), ``scope``
        (the name scope it was built in, such as ``lstm/forget_gate``; ``""``
        outside every scope) and ``index`` (its position in :attr:`nodes`,
        :attr:`seconds` and :attr:`calls`).
        """
        own = self.self_seconds()
        total = float(own.sum()) or 1.0
        rows = [{"op": _op_name(node), "node": str(node.op), "calls": int(self.calls[i]), "seconds": float(own[i]),
                 "total_seconds": float(self.seconds[i]), "percent": 100.0 * float(own[i]) / total,
                 "depth": self.depths[i], "trace": node.trace, "scope": node.scope or "", "index": i}
                for i, node in enumerate(self.nodes)]
        return sorted(rows, key=lambda r: -r["seconds"])

    def per_scope(self, depth: int | None = None) -> list[dict[str, Any]]:
        """One row per name scope, slowest first: ``scope`` (``""`` for the nodes outside every scope),
        ``nodes``, ``calls``, ``seconds`` (its nodes' own time, so that the rows add up to the total) and
        ``percent``.

        ``depth`` keeps that many levels of each scope: with ``depth=1``, ``lstm/forget_gate`` and
        ``lstm/cell`` count under ``lstm``, and every gradient node under ``grad``.

        Example::

            >>> import numpy as np, symrnn, symrnn.tensor as T
            >>> from symrnn.graph import name_scope
            >>> x = T.matrix("x")
            >>> with name_scope("model"):
            ...     with name_scope("encoder"):
            ...         h = T.tanh(x.dot(x.T))
            ...     with name_scope("decoder"):
            ...         y = h.dot(x)
            >>> f = symrnn.function([x], y.sum(), profile=True)
            >>> _ = f(np.ones((20, 20)))
            >>> sorted((row["scope"], row["nodes"]) for row in f.profile.per_scope())
            [('', 1), ('model/decoder', 1), ('model/encoder', 3)]
            >>> sorted((row["scope"], row["nodes"]) for row in f.profile.per_scope(depth=1))
            [('', 1), ('model', 4)]
        """
        def scope_of(node: Any) -> str:
            scope = node.scope or ""
            return scope if depth is None else "/".join(scope.split("/")[:depth])

        return self._grouped("scope", scope_of)

    def per_op(self) -> list[dict[str, Any]]:
        """One row per op type, slowest first: op, number of nodes, calls, seconds and percent."""
        return self._grouped("op", _op_name)

    def _grouped(self, column: str, key: Any) -> list[dict[str, Any]]:
        """Rows ``{column: key(node), nodes, calls, seconds, percent}`` summed over the nodes, slowest first."""
        own = self.self_seconds()
        total = float(own.sum()) or 1.0
        table: dict[str, dict[str, Any]] = {}
        for i, node in enumerate(self.nodes):
            name = key(node)
            row = table.setdefault(name, {column: name, "nodes": 0, "calls": 0, "seconds": 0.0})
            row["nodes"] += 1
            row["calls"] += int(self.calls[i])
            row["seconds"] += float(own[i])
        for row in table.values():
            row["percent"] = 100.0 * row["seconds"] / total
        return sorted(table.values(), key=lambda r: -r["seconds"])

    def summary(self, file: TextIO | None = None, limit: int = 15) -> str:
        """Print (and return) the per-op, per-scope and per-node tables, like Theano's profile summary.

        Where some node was built in a name scope (by a cell or layer of :mod:`symrnn.nn`, or in
        :func:`symrnn.graph.name_scope`), a per-scope table shows the time of each scope, ``(no scope)``
        being the nodes outside every scope, and the per-node table gets a scope column.
        """
        lines = [f"Function profile: {self.function_calls} call(s), {self.function_seconds * 1e3:.3f} ms in all, "
                 f"{self.self_seconds().sum() * 1e3:.3f} ms in nodes", "",
                 "Per op type:", f"{'op':<24}{'nodes':>6}{'calls':>9}{'ms':>11}{'%':>7}"]
        per_op, per_scope, per_node = self.per_op(), self.per_scope(), self.per_node()
        for row in per_op[:limit]:
            lines.append(f"{row['op'][:24]:<24}{row['nodes']:>6}{row['calls']:>9}{row['seconds'] * 1e3:>11.3f}"
                         f"{row['percent']:>7.1f}")
        if len(per_op) > limit:
            lines.append(f"... {len(per_op) - limit} more op type(s)")
        scoped = any(row["scope"] for row in per_scope)
        if scoped:
            lines += ["", "Per scope:", f"{'scope':<32}{'nodes':>6}{'calls':>9}{'ms':>11}{'%':>7}"]
            for row in per_scope[:limit]:
                lines.append(f"{_shown_scope(row['scope'], 32, '(no scope)'):<32}{row['nodes']:>6}{row['calls']:>9}"
                             f"{row['seconds'] * 1e3:>11.3f}{row['percent']:>7.1f}")
            if len(per_scope) > limit:
                lines.append(f"... {len(per_scope) - limit} more scope(s)")
        lines += ["", "Per node:", f"{'node':<40}{'calls':>9}{'ms':>11}{'%':>7}  "
                  + (f"{'scope':<25} line" if scoped else "line")]
        for row in per_node[:limit]:
            where = short_trace(row["trace"])  # train.py:16 (LSTMCell.step, cells.py:164): file names only
            if scoped:
                where = f"{_shown_scope(row['scope'], 25):<25} {where}".rstrip()
            indent = "  " * row["depth"]
            lines.append(f"{(indent + row['node'])[:40]:<40}{row['calls']:>9}{row['seconds'] * 1e3:>11.3f}"
                         f"{row['percent']:>7.1f}  {where}")
        if len(per_node) > limit:
            lines.append(f"... {len(per_node) - limit} more node(s)")
        text = "\n".join(lines)
        print(text, file=file or sys.stdout)
        return text


def _op_name(node: Apply) -> str:
    if hasattr(node.op, "inner_nodes"):  # a loop: "scan{rnn}", not its bare name "rnn", which reads like an op
        return str(node.op)
    return getattr(node.op, "name", None) or type(node.op).__name__


def _shown_scope(scope: str, width: int, none: str = "-") -> str:
    """A scope for a table cell: ``none`` for none, control characters as ``?``, cut to ``width`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in scope) if scope else none
    return text if len(text) <= width else text[: width - 3] + "..."
