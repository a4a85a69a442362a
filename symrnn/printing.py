"""Text views of graphs (Theano's ``theano.printing``)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from symrnn.graph import Constant, SharedVariable, Variable


def _label(var: Variable) -> str:
    if isinstance(var, Constant):
        return f"Constant{{{var!r}}}" if var.data.size <= 4 else "Constant"
    if isinstance(var, SharedVariable):
        return f"shared {var.name!r}" if var.name else "shared"
    if var.owner is None:
        return f"input {var.name!r}" if var.name else "input"
    suffix = f".{var.index}" if len(var.owner.outputs) > 1 else ""
    named = f" {var.name!r}" if var.name else ""
    return f"{var.owner.op}{suffix}{named}"


def debugprint(obj: Any, file: TextIO | None = None, print_type: bool = True) -> str:
    """Print a graph as an indented tree, one variable per line with its type; return the text.

    ``obj`` is a variable, a list of variables or a compiled ``Function``.  A
    node already printed is shown again only as a reference (``*id``).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> _ = debugprint(T.exp(x) * 2)  # doctest: +NORMALIZE_WHITESPACE
        mul [id A] float64(?,)
         |exp [id B] float64(?,)
           |input 'x' [id C] float64(?,)
         |Constant{2.} [id D] float64()
    """
    from symrnn.compile.function import Function

    if isinstance(obj, Function):
        roots = obj.compiled_outputs  # what the compiled code computes, after rewrites
    elif isinstance(obj, Variable):
        roots = [obj]
    else:
        roots = list(obj)
    ids: dict[int, str] = {}
    expanded: set[int] = set()
    lines: list[str] = []

    def ident(var: Variable) -> str:
        if id(var) not in ids:
            n, letters = len(ids), ""
            while True:
                letters = chr(ord("A") + n % 26) + letters
                n = n // 26 - 1
                if n < 0:
                    break
            ids[id(var)] = letters
        return ids[id(var)]

    for root in roots:
        stack: list[tuple[Variable, int]] = [(root, 0)]
        while stack:  # iterative, so deep graphs print without recursion
            var, depth = stack.pop()
            prefix = "  " * (depth - 1) + " |" if depth else ""
            key = id(var.owner) if var.owner is not None else id(var)
            text = f"{prefix}{_label(var)} [id {ident(var)}]"
            if print_type:
                text += f" {var.type!r}"
            if var.owner is not None and key in expanded:
                lines.append(text + " (shown above)")
                continue
            lines.append(text)
            if var.owner is not None:
                expanded.add(key)
                for child in reversed(var.owner.inputs):
                    stack.append((child, depth + 1))
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text




__all__ = ["debugprint", "pp"]


_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%", "pow": "**",
          "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "eq": "==", "neq": "!="}


def pp(var: Variable) -> str:
    """A one-line infix rendering of an expression (Theano's ``theano.pp``).

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> pp(x ** 2 + T.exp(x))
        '((x ** 2.0) + exp(x))'
    """
    from symrnn.graph import toposort

    text: dict[int, str] = {}

    def show(v: Variable) -> str:
        if id(v) in text:
            return text[id(v)]
        if isinstance(v, Constant):
            return repr(v.data.item()) if v.data.size == 1 else "Constant"
        return v.name or f"<{v.type!r}>"

    for node in toposort([var]):
        args = [show(v) for v in node.inputs]
        name = getattr(node.op, "name", None) or str(node.op)
        if name in _INFIX and len(args) == 2:
            out = f"({args[0]} {_INFIX[name]} {args[1]})"
        elif name == "neg":
            out = f"-{args[0]}"
        else:
            out = f"{node.op}({', '.join(args)})"
        for o in node.outputs:
            text[id(o)] = o.name or out
    return show(var)
