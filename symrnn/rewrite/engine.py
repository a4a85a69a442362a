"""The rewrite engine: local rewrites applied over a graph, rebuilt by cloning, to a bounded fixed point.

A *local rewrite* is a small named function ``rewrite(node) -> replacement``
that looks at one apply node and returns new output variables (or ``None`` to
leave it).  The engine never mutates the user's graph: it walks it in
topological order, rebuilds each node on its (possibly replaced) inputs, and
offers the rebuilt node to each rewrite in turn.  Passes repeat until nothing
changes, at most ``max_passes`` times (principle 5: compile time is bounded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from symrnn.graph import Apply, Constant, Variable, describe, toposort

LocalRewrite = Callable[[Apply], Sequence[Variable] | None]


class RewriteError(AssertionError):
    """A rewrite produced a variable of another type than what it replaces (a bug in the rewrite)."""


def _check_replacement(rewrite: LocalRewrite, old: Variable, new: Variable) -> None:
    if new.dtype != old.dtype or new.ndim != old.ndim:
        raise RewriteError(f"rewrite {rewrite.__name__} replaced {describe(old)} by {describe(new)}")
    for have, want in zip(new.type.shape, old.type.shape):
        if have is not None and want is not None and have != want:
            raise RewriteError(f"rewrite {rewrite.__name__} replaced {describe(old)} by {describe(new)}")


def rebuild(outputs: Sequence[Variable], on_node: Callable[..., Sequence[Variable] | None],
            with_original: bool = False) -> list[Variable]:
    """One pass: rebuild the graph of ``outputs`` bottom-up; ``on_node`` may replace each (rebuilt) node.

    With ``with_original``, ``on_node`` also gets the node as it was before the pass.
    """
    memo: dict[int, Variable] = {}
    for node in toposort(outputs):
        inputs = [memo.get(id(v), v) for v in node.inputs]
        current = node if all(a is b for a, b in zip(inputs, node.inputs)) else node.clone_with_new_inputs(inputs)
        replacement = on_node(current, node) if with_original else on_node(current)
        new_outputs = list(replacement) if replacement is not None else current.outputs
        for old, new in zip(node.outputs, new_outputs):
            if new is not old:
                memo[id(old)] = new
                if new.owner is not None and new.owner.scope is None:  # made by the rewrite: it stands for node
                    new.owner.scope = node.scope
    return [memo.get(id(v), v) for v in outputs]


def consumers(nodes: Sequence[Apply]) -> dict[int, list[Apply]]:
    """``id(variable) -> the nodes among nodes that read it`` (once per input position)."""
    readers: dict[int, list[Apply]] = {}
    for node in nodes:
        for var in node.inputs:
            readers.setdefault(id(var), []).append(node)
    return readers


def use_counts(nodes: Sequence[Apply], outputs: Sequence[Variable]) -> dict[int, int]:
    """``id(variable) -> how many times it is read``: by ``nodes``, and once more for each of ``outputs``."""
    counts = {key: len(readers) for key, readers in consumers(nodes).items()}
    for var in outputs:
        counts[id(var)] = counts.get(id(var), 0) + 1
    return counts


def apply_local_rewrites(outputs: Sequence[Variable], rewrites: Sequence[LocalRewrite],
                         max_passes: int = 8) -> list[Variable]:
    """Apply ``rewrites`` over the graph until no rewrite fires (or ``max_passes`` passes)."""
    outputs = list(outputs)
    for _ in range(max_passes):
        changed = False

        def on_node(node: Apply) -> Sequence[Variable] | None:
            nonlocal changed
            for rewrite in rewrites:
                replacement = rewrite(node)
                if replacement is None:
                    continue
                replacement = list(replacement)
                for old, new in zip(node.outputs, replacement):
                    _check_replacement(rewrite, old, new)
                    if new.name is None and old.name is not None:
                        new.name = old.name
                changed = True
                return replacement
            return None

        outputs = rebuild(outputs, on_node)
        if not changed:
            break
    return outputs


def constant_key(var: Constant) -> tuple:
    return ("constant", var.signature())


def merge(outputs: Sequence[Variable]) -> list[Variable]:
    """Common-subexpression elimination: equal ops on the same inputs, and equal constants, become one.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> a, b = merge([T.exp(x) + 1, T.exp(x) * 2])
        >>> a.owner.inputs[0] is b.owner.inputs[0]
        True
    """
    seen_constants: dict[tuple, Variable] = {}
    seen_nodes: dict[tuple, Apply] = {}

    def canonical(var: Variable) -> Any:
        if isinstance(var, Constant):
            return seen_constants.setdefault(constant_key(var), var)
        return var

    def on_node(node: Apply) -> Sequence[Variable] | None:
        inputs = [canonical(v) for v in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            node = node.clone_with_new_inputs(inputs)
            replaced = True
        else:
            replaced = False
        key = (node.op, tuple(id(v) for v in node.inputs))
        try:
            first = seen_nodes.setdefault(key, node)
        except TypeError:  # an op whose props are unhashable is never merged
            first = node
        if first is not node:
            return first.outputs
        return node.outputs if replaced else None

    return rebuild(outputs, on_node)
