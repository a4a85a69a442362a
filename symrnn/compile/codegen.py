"""Code generation: a scheduled graph becomes the source of one Python function over ``xp``.

The output is meant to be read: one statement per node, a temporary named after
the node's op, and a comment naming the node and the user line that built it.
No user-supplied string (a variable's name, a file name) ever reaches the
source except through :func:`safe_comment`, which keeps a small safe alphabet.
"""

from __future__ import annotations

import itertools
import linecache
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symrnn.graph import Apply, Constant, SharedVariable, Variable

_UNSAFE = re.compile(r"[^A-Za-z0-9_ .,:/()\[\]{}=+*<>?'-]")
_IDENT_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_counter = itertools.count()


def safe_comment(text: str, limit: int = 60) -> str:
    """Reduce any text to a safe alphabet (no newline, no quote games) for a source comment."""
    text = _UNSAFE.sub("?", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def safe_identifier(text: str, limit: int = 16) -> str:
    """A fragment that is always a valid part of a Python identifier."""
    return _IDENT_UNSAFE.sub("_", str(text))[:limit].strip("_") or "op"


def describe_node(node: Apply, names: dict[int, str]) -> str:
    args = ", ".join(_var_label(v, names) for v in node.inputs)
    return f"{node.op}({args})"


def _var_label(var: Variable, names: dict[int, str]) -> str:
    if var.name:
        return var.name
    if isinstance(var, Constant) and var.data.size == 1:
        return repr(var.data.item())
    return names.get(id(var), "?")


@dataclass
class CodegenContext:
    """What an op's ``emit`` may use besides input/output names: ``bind`` an object to a global name."""

    namespace: dict[str, Any] = field(default_factory=dict)
    _bound: dict[int, str] = field(default_factory=dict)

    def bind(self, obj: Any, hint: str = "k") -> str:
        """Make ``obj`` reachable from the generated code under a fresh global name, and return that name."""
        key = id(obj)
        if key not in self._bound:
            name = f"_{safe_identifier(hint)}{len(self._bound)}"
            self._bound[key] = name
            self.namespace[name] = obj
        return self._bound[key]

    def fresh(self, hint: str) -> str:
        """A fresh local name, for ops whose emitted code needs scratch variables."""
        return f"_{safe_identifier(hint)}{next(_counter)}"


@dataclass
class Generated:
    source: str
    fn: Any
    filename: str
    line_to_node: dict[int, Apply]


def generate(inputs: list[Variable], shared: list[SharedVariable], nodes: list[Apply],
             outputs: list[Variable], copy_outputs: list[bool], xp: Any = np,
             fn_name: str = "compiled") -> Generated:
    """Emit and ``exec`` the Python source of a function computing ``outputs``.

    The function takes the inputs' values then the shared variables' values,
    and returns the list of output values.
    """
    ctx = CodegenContext(namespace={"xp": xp, "np": np})
    names: dict[int, str] = {}
    lines: list[str] = []
    header: list[str] = []
    for i, var in enumerate(inputs):
        names[id(var)] = f"in{i}"
        header.append(f"    # in{i}: input {safe_comment(var.name or '(unnamed)', 30)} {var.type!r}")
    for i, var in enumerate(shared):
        names[id(var)] = f"sh{i}"
        header.append(f"    # sh{i}: shared {safe_comment(var.name or '(unnamed)', 30)} {var.type!r}")

    def name_of(var: Variable) -> str:
        if id(var) not in names:
            if not isinstance(var, Constant):
                raise ValueError(f"the graph needs {var!r} ({var.type}), which is not among the function's inputs")
            names[id(var)] = ctx.bind(var.data, "c")
        return names[id(var)]

    line_to_node: dict[int, Apply] = {}
    body_start = 2 + len(header)  # "def ...:" is line 1
    for step, node in enumerate(nodes):
        in_names = [name_of(v) for v in node.inputs]
        hint = safe_identifier(getattr(node.op, "name", None) or type(node.op).__name__).lower()
        out_names = []
        for j, var in enumerate(node.outputs):
            names[id(var)] = f"t{step}_{hint}" if len(node.outputs) == 1 else f"t{step}_{hint}_{j}"
            out_names.append(names[id(var)])
        where = f"  @ {safe_comment(node.trace.rsplit('/', 1)[-1], 40)}" if node.trace else ""
        lines.append(f"    # {safe_comment(describe_node(node, names), 70)}{where}")
        code = node.op.emit(node, in_names, out_names, ctx)
        for code_line in code.splitlines():
            line_to_node[body_start + len(lines)] = node
            lines.append(f"    {code_line}")

    returns = []
    for var, copy in zip(outputs, copy_outputs):
        expr = name_of(var)
        if copy:
            expr = f"xp.array({expr}, copy=True)"
        elif var.ndim == 0:
            expr = f"xp.asarray({expr})"
        returns.append(expr)
    args = ", ".join([f"in{i}" for i in range(len(inputs))] + [f"sh{i}" for i in range(len(shared))])
    body = header + lines + [f"    return [{', '.join(returns)}]"]
    source = f"def {fn_name}({args}):\n" + "\n".join(body) + "\n"
    filename = f"<symrnn-generated-{next(_counter)}>"
    code = compile(source, filename, "exec")
    exec(code, ctx.namespace)  # noqa: S102 - the source is ours; user strings only reach it via safe_comment
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return Generated(source, ctx.namespace[fn_name], filename, line_to_node)
