"""Theano's ``ifelse``: a lazy conditional, of which only the branch taken is computed.

``ifelse(c, a, b)`` builds an :class:`IfElse` node that holds each branch as an
inner graph, as a :class:`~symrnn.scan.op.Scan` holds its body: the nodes that
only that branch needs, closed over explicit inputs (the outer variables the
branch reads).  Whatever the condition or both branches need stays outside and
is computed as usual.  The generated code is a plain ``if``::

    if cond:
        <the nodes of the then branch>
        out = then_value
    else:
        <the nodes of the else branch>
        out = else_value

The gradient of ``ifelse(c, a, b)`` with respect to ``x`` is
``ifelse(c, da/dx, db/dx)``: another lazy conditional, with zeros on the side
that does not depend on ``x``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.autodiff import grad
from symrnn.graph import (
    FLOAT_DTYPES,
    Apply,
    Constant,
    GraphTypeError,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    clone_replace,
    describe,
    structure_signature,
    toposort,
    user_line,
)
from symrnn.interpreter import evaluate
from symrnn.ops.elemwise import cast
from symrnn.ops.shape import zeros_like


class IfElse(Op):
    """A lazy conditional over two inner graphs (see the module docstring).

    Outer inputs: ``[condition, *free]``, where ``free`` are the outer variables
    that the branches read; ``inner_inputs`` are their placeholders, shared by
    both branches.  Outputs: one per branch output, with the dtype both branches
    share and the static sizes on which they agree.
    """

    name = "ifelse"  # a fixed name for the generated temporaries; the user's name is only shown (label)

    def __init__(self, inner_inputs: Sequence[Variable], then_outputs: Sequence[Variable],
                 else_outputs: Sequence[Variable], label: str | None = None) -> None:
        self.inner_inputs = list(inner_inputs)
        self.then_outputs = list(then_outputs)
        self.else_outputs = list(else_outputs)
        self.label = label
        self.then_nodes = toposort(self.then_outputs, stop_at=self.inner_inputs)
        self.else_nodes = toposort(self.else_outputs, stop_at=self.inner_inputs)
        # What profiles, the scheduler and the code generator look for in an op with inner graphs.
        self.inner_nodes = self.then_nodes + self.else_nodes
        self.signature = self._structure()

    def _structure(self) -> tuple:
        where = str(self)
        return (structure_signature(self.inner_inputs, self.then_nodes, self.then_outputs, closed_for=where),
                structure_signature(self.inner_inputs, self.else_nodes, self.else_outputs, closed_for=where))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "signature"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.signature = self._structure()

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, IfElse) and self.signature == other.signature)

    def __hash__(self) -> int:
        return hash(self.signature)

    def __str__(self) -> str:
        return f"ifelse{{{self.label}}}" if self.label else "ifelse"

    def make_node(self, condition: Any, *free: Variable) -> Apply:
        condition = as_tensor_variable(condition)
        if condition.ndim != 0:
            raise GraphTypeError(f"{self}: the condition must be a scalar, got {describe(condition)} "
                                 f"(at {user_line()})")
        if len(free) != len(self.inner_inputs):
            raise GraphTypeError(f"{self}: expected {len(self.inner_inputs)} outer input(s), got {len(free)}")
        for k, (var, ph) in enumerate(zip(free, self.inner_inputs)):
            if var.dtype != ph.dtype or var.ndim != ph.ndim:
                raise GraphTypeError(f"{self}: outer input {k} is {describe(var)}, expected {ph.type!r}")
        types = [TensorType(a.dtype, tuple(p if p == q else None for p, q in zip(a.type.shape, b.type.shape)))
                 for a, b in zip(self.then_outputs, self.else_outputs)]
        return Apply(self, [condition, *free], types)

    def _branch(self, taken: bool) -> tuple[list[Variable], list[Apply], list[bool]]:
        """The outputs and nodes of one branch, and for each output whether it must be copied: a value that
        is an outer input or a constant (or a view of one) would otherwise leave the node as that very array."""
        outputs, nodes = (self.then_outputs, self.then_nodes) if taken else (self.else_outputs, self.else_nodes)
        leaves = {id(v) for v in self.inner_inputs}
        copies = []
        for var in outputs:
            while var.owner is not None and var.index in getattr(var.owner.op, "view_map", {}):
                var = var.owner.inputs[var.owner.op.view_map[var.index]]
            copies.append(id(var) in leaves or isinstance(var, Constant))
        return outputs, nodes, copies

    # ---- the reference: evaluate the branch taken, and only that one
    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        outputs, nodes, copies = self._branch(bool(inputs[0]))
        env = {id(ph): value for ph, value in zip(self.inner_inputs, inputs[1:])}
        values = evaluate(outputs, env, nodes)
        return [np.array(v, copy=True) if copy else v for v, copy in zip(values, copies)]

    # ---- code generation: an inline if/else
    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> list[tuple[str, Apply | None]]:
        for ph, outer in zip(self.inner_inputs, inputs[1:]):
            ctx.names[id(ph)] = outer
        label = f" {ctx.comment(self.label, 40)}" if self.label else ""
        lines: list[tuple[str, Apply | None]] = [(f"# ifelse{label}: only the branch taken runs", None),
                                                 (f"if {inputs[0]}:", node)]
        temporaries: list[str] = []
        for taken in (True, False):
            if not taken:
                lines.append(("else:", node))
            branch_outputs, nodes, copies = self._branch(taken)
            body = ctx.emit_nodes(nodes)
            for out, var, copy in zip(outputs, branch_outputs, copies):
                value = ctx.name_of(var)
                body.append((f"{out} = xp.array({value}, copy=True)" if copy else f"{out} = {value}", node))
            lines += [(f"    {text}", owner) for text, owner in body]
            temporaries += [ctx.names[id(v)] for n in nodes for v in n.outputs if id(v) in ctx.names]
        if temporaries:  # the branch's temporaries would otherwise live until the function returns
            lines.append((f"{' = '.join(dict.fromkeys(temporaries))} = None", node))
        lines.append((f"# ifelse{label} ends", None))
        return lines

    # ---- the gradient: another lazy conditional
    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        condition, free = node.inputs[0], node.inputs[1:]
        wanted = [j for j, var in enumerate(free) if var.dtype in FLOAT_DTYPES]
        given = [k for k, g in enumerate(output_grads) if g is not None and node.outputs[k].dtype in FLOAT_DTYPES]
        if not wanted or not given:
            return [None] * len(node.inputs)
        sides = []
        for outputs in (self.then_outputs, self.else_outputs):
            # The branch, rebuilt on the outer variables; each outer variable is a leaf here (consider_constant):
            # this node's gradient with respect to one input must not flow on into another.
            rebuilt = clone_replace(outputs, dict(zip(self.inner_inputs, free)))
            known = {rebuilt[k]: output_grads[k] for k in given}
            sides.append(grad(None, [free[j] for j in wanted], consider_constant=list(free), known_grads=known,
                              disconnected_inputs="ignore", return_disconnected="none"))
        then_grads, else_grads, positions = [], [], []
        for j, g_then, g_else in zip(wanted, *sides):
            if g_then is None and g_else is None:
                continue
            positions.append(j)
            then_grads.append(g_then if g_then is not None else zeros_like(free[j]))
            else_grads.append(g_else if g_else is not None else zeros_like(free[j]))
        result: list[Any] = [None] * len(node.inputs)
        if positions:
            chosen = ifelse(condition, then_grads, else_grads, name=f"grad of {self.label}" if self.label else None)
            for j, g in zip(positions, chosen):
                result[1 + j] = g
        return result


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _branch_values(then_branch: Any, else_branch: Any, where: str) -> tuple[list[Variable], list[Variable]]:
    thens, elses = _as_list(then_branch), _as_list(else_branch)
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: the then branch has {len(thens)} value(s) but the else branch has "
                         f"{len(elses)}; give both the same number (at {where})")
    if not thens:
        raise ValueError(f"ifelse: the branches hold no value (at {where})")
    out_then, out_else = [], []
    for k, (a, b) in enumerate(zip(thens, elses)):
        # A plain number takes the other branch's dtype, as a constant would in Theano's type conversion.
        if not isinstance(a, Variable) and isinstance(b, Variable):
            a = cast(as_tensor_variable(a), b.dtype)
        elif not isinstance(b, Variable) and isinstance(a, Variable):
            b = cast(as_tensor_variable(b), a.dtype)
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.dtype != b.dtype or a.ndim != b.ndim:
            what = "dtype" if a.dtype != b.dtype else "number of dimensions"
            raise GraphTypeError(f"ifelse: value {k} of the then branch is {describe(a)} but value {k} of the else "
                                 f"branch is {describe(b)}: the {what} differs; both branches must give the same "
                                 f"dtype and number of dimensions (cast or reshape one of them) (at {where})")
        out_then.append(a)
        out_else.append(b)
    return out_then, out_else


def _close_branch(outputs: list[Variable], outside: set[int], free: dict[int, Variable],
                  placeholders: dict[int, Variable]) -> list[Variable]:
    """Copy the nodes that only this branch needs onto placeholders for the outer variables they read (added to
    ``free`` and ``placeholders``); every node of the copy is the branch's own."""
    memo: dict[int, Variable] = {}

    def inner(var: Variable) -> Variable:
        if id(var) in memo or isinstance(var, Constant):
            return memo.get(id(var), var)
        if id(var) not in placeholders:
            free[id(var)] = var
            placeholders[id(var)] = var.type(var.name)
        return placeholders[id(var)]

    for node in toposort(outputs):
        if id(node) in outside:
            continue
        new = node.clone_with_new_inputs([inner(v) for v in node.inputs])
        for old, copy in zip(node.outputs, new.outputs):
            memo[id(old)] = copy
    return [inner(v) for v in outputs]


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None) -> Any:
    """Theano's lazy ``ifelse``: the then branch's values when the scalar ``condition`` is true (non-zero),
    else the else branch's; only the branch taken is computed.

    Each branch is a variable or a list of variables (the same number in both,
    with the same dtypes and numbers of dimensions); the result is a variable
    or a list to match.  Unlike ``T.switch``, which computes both sides
    elementwise, ``ifelse`` skips the work of the branch not taken.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> a, b = T.dscalar("a"), T.dscalar("b")
        >>> x, y = T.dmatrix("x"), T.dmatrix("y")
        >>> z = ifelse(T.lt(a, b), T.mean(x), T.mean(y))
        >>> f = symrnn.function([a, b, x, y], z)
        >>> f(1.0, 2.0, np.ones((2, 2)), np.zeros((2, 2)))
        array(1.)
    """
    where = user_line()
    condition = as_tensor_variable(condition)
    if condition.ndim != 0:
        raise GraphTypeError(f"ifelse: the condition must be a scalar, got {describe(condition)} (at {where})")
    thens, elses = _branch_values(then_branch, else_branch, where)
    then_ids = {id(n) for n in toposort(thens)}
    else_ids = {id(n) for n in toposort(elses)}
    # What the condition needs, and what both branches need, is computed before the if; so are its ancestors.
    outside = {id(n) for n in toposort([condition])} | (then_ids & else_ids)
    free: dict[int, Variable] = {}
    placeholders: dict[int, Variable] = {}
    inner_then = _close_branch(thens, outside, free, placeholders)
    inner_else = _close_branch(elses, outside, free, placeholders)
    op = IfElse([placeholders[k] for k in free], inner_then, inner_else, label=name)
    outputs = op.make_node(condition, *free.values()).outputs
    return list(outputs) if isinstance(then_branch, list) else tuple(outputs) if isinstance(then_branch, tuple) \
        else outputs[0]


__all__ = ["IfElse", "ifelse"]
