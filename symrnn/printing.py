"""Text views of graphs (Theano's ``theano.printing``)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

from symrnn.compile.function import Function
from symrnn.graph import Apply, Constant, Op, SharedVariable, Variable, as_tensor_variable, toposort
from symrnn.scan.op import Scan
from symrnn.viz.dot import _format_of, _inner_output_roles, _scan_roles, image, render, to_dot


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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _scope_tag(node: Apply | None) -> str:
    """`` [lstm/forget_gate]``: the name scope a node was built in, control characters escaped; ``""`` if none."""
    scope = getattr(node, "scope", None) if node is not None else None
    if not scope:
        return ""
    return f" [{_CONTROL.sub(lambda m: repr(m.group())[1:-1], scope)}]"


def debugprint(obj: Any, file: TextIO | None = None, print_type: bool = True, print_inner: bool = True,
               print_scope: bool = True) -> str:
    """Print a graph as an indented tree, one variable per line with its type and shape; return the text.

    ``obj`` is a variable, a list of variables or a compiled ``Function`` (its
    graph after the rewrites).  A node already printed is shown again only as
    a reference (``(shown above)``).  The type shows the dtype and the static
    shape, ``?`` for a dimension known only at run time.  A node built inside
    a name scope (by a cell or layer of :mod:`symrnn.nn`, or
    :func:`symrnn.graph.name_scope`) ends with its scope in brackets,
    ``[lstm/forget_gate]``; ``print_scope=False`` leaves the scopes out.

    Under each ``scan`` node, after its outer inputs, come the lines of its
    inner graph, marked with ``>``: one tree per inner output, named by its
    role (``new state 0``, ``per-step output 0``), whose leaves are the inner
    inputs named by role (``sequence 0 [t]``, ``state 0 [t-1]``,
    ``non-sequence 0``).  ``print_inner=False`` leaves them out.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.vector("x")
        >>> _ = debugprint(T.exp(x) * 2)  # doctest: +NORMALIZE_WHITESPACE
        mul [id A] float64(?,)
         |exp [id B] float64(?,)
           |input 'x' [id C] float64(?,)
         |Constant{2.} [id D] float64()

    A loop::

        >>> import symrnn
        >>> h0 = T.vector("h0")
        >>> hs, _ = symrnn.scan(lambda h: T.tanh(h) * 2, outputs_info=[h0], n_steps=3, name="loop")
        >>> _ = debugprint(hs)  # doctest: +NORMALIZE_WHITESPACE
        getitem[1:] [id A] float64(?, ?)
         |scan{loop} [id B] float64(?, ?)
           |Constant{3} [id C] int64()
           |dimshuffle{x,0} [id D] float64(1, ?)
             |input 'h0' [id E] float64(?,)
           >inner graph of scan{loop} [id B], one step:
           >new state 0 = mul [id F] float64(?,)
           > |tanh [id G] float64(?,)
           >   |state 0 [t-1] [id H] float64(?,)
           > |Constant{2.} [id I] float64()
    """
    if isinstance(obj, Function):
        roots = obj.compiled_outputs  # what the compiled code computes, after rewrites
    elif isinstance(obj, Variable):
        roots = [obj]
    else:
        roots = list(obj)
    ids: dict[int, str] = {}
    expanded: set[int] = set()
    lines: list[str] = []
    roles: dict[int, str] = {}  # inner inputs: their role in their loop

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

    def label(var: Variable) -> str:
        if id(var) in roles:
            return roles[id(var)]
        return _label(var)

    # Stack entries: ("var", variable, depth, base prefix, heading) or ("inner", scan node, depth, base prefix, id).
    stack: list[tuple] = [("var", root, 0, "", "") for root in reversed(roots)]
    while stack:  # iterative, so deep graphs print without recursion
        entry = stack.pop()
        if entry[0] == "inner":
            _, node, depth, base, scan_id = entry
            op = node.op
            inner_base = base + "  " * depth + " >"
            lines.append(f"{inner_base}inner graph of {op} [id {scan_id}], one step:")
            for var, (short, _) in zip(op.inner_inputs, _scan_roles(op)):
                roles[id(var)] = short + (f" {var.name!r}" if var.name and short.startswith("non-") else "")
            for var, role in reversed(list(zip(op.inner_outputs, _inner_output_roles(op)))):
                stack.append(("var", var, 0, inner_base, f"{role} = "))
            continue
        _, var, depth, base, heading = entry
        prefix = base + ("  " * (depth - 1) + " |" if depth else "")
        key = id(var.owner) if var.owner is not None else id(var)
        text = f"{prefix}{heading}{label(var)} [id {ident(var)}]"
        if print_type:
            text += f" {var.type!r}"
        if print_scope:
            text += _scope_tag(var.owner)
        if var.owner is not None and key in expanded:
            lines.append(text + " (shown above)")
            continue
        lines.append(text)
        if var.owner is not None:
            expanded.add(key)
            if print_inner and isinstance(var.owner.op, Scan):
                stack.append(("inner", var.owner, depth, base, ident(var)))
            for child in reversed(var.owner.inputs):
                stack.append(("var", child, depth + 1, base, ""))
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text


# Theano's pydotprint options that only change its own look; accepted so that Theano scripts run, and ignored.
_THEANO_COSMETIC = frozenset(["compact", "with_ids", "high_contrast", "cond_highlight", "colorCodes",
                              "max_label_size", "var_with_name_simple", "scan_graphs"])


def pydotprint(fn_or_vars: Any, outfile: str | None = None, format: str | None = None,
               on_missing_dot: str = "raise", print_output_file: bool = False, return_image: bool = False,
               **kwargs: Any) -> Any:
    """Draw a graph with Graphviz into ``outfile`` (Theano's name); return the path written.

    ``fn_or_vars`` is a variable, a list or dict of variables, or a compiled
    ``Function`` (drawn after its rewrites; ``which="built"`` or
    ``which="both"`` for the graph as built, or both side by side).
    ``format`` is ``"svg"``, ``"png"``, ``"pdf"`` or ``"dot"``, by default
    the file's extension; ``outfile`` defaults to ``pydotprint.<format>``.
    The other keyword arguments go to :func:`symrnn.viz.to_dot`
    (``show_types``, ``collapse="cells"``, ``legend``, ``rankdir``, ``title``,
    ``output_labels``).  Scan bodies are always drawn, as clusters (Theano's
    ``scan_graphs``), unless ``collapse="cells"``.

    As in Theano, ``print_output_file=True`` prints where the file is, and
    ``return_image=True`` returns the image's bytes instead of writing a file.
    Theano's options for its own look (``compact``, ``with_ids``,
    ``high_contrast``, ``colorCodes``, ``max_label_size``...) are accepted and
    ignored.

    Without Graphviz's ``dot`` program it writes the ``.dot`` source and
    raises :class:`symrnn.viz.GraphvizNotFoundError` (or warns, with
    ``on_missing_dot="warn"``), saying how to install Graphviz.

    Example::

        >>> import os, tempfile, symrnn, symrnn.tensor as T
        >>> x = T.vector("x")
        >>> f = symrnn.function([x], T.tanh(x) * 2)
        >>> path = pydotprint(f, os.path.join(tempfile.mkdtemp(), "f.dot"))
        >>> "tanh" in open(path).read()
        True
    """
    for name in _THEANO_COSMETIC & set(kwargs):
        kwargs.pop(name)
    if outfile is None:
        outfile = f"pydotprint.{format or 'svg'}"
    if return_image:
        return image(to_dot(fn_or_vars, **kwargs), _format_of(outfile, format))
    path = render(fn_or_vars, outfile, format=format, on_missing_dot=on_missing_dot, **kwargs)
    if print_output_file:
        print(f"The output file is available at {path}")
    return path


def _print_attributes(op: Print, value: Any) -> None:
    """Theano's default ``global_fn``: one line ``message attr = value`` per attribute (called if callable)."""
    for attr in op.attrs:
        shown = getattr(value, attr)
        print(op.message, attr, "=", shown() if callable(shown) else shown)


class Print(Op):
    """Theano's ``printing.Print``: an identity that prints ``message`` and its input when the function runs.

    ``Print("h")(x)`` is ``x``; each call of a compiled function that computes
    it prints ``h __str__ = <value of x>``.  ``attrs`` names attributes of the
    value to print instead (``attrs=("shape",)``; callables are called), and
    ``global_fn(op, value)`` replaces the printing altogether.  The gradient
    passes through unchanged and prints nothing.

    Each ``Print`` is a distinct op: the rewrites never merge two of them, never
    fuse one into elementwise arithmetic and never fold one away, not even on a
    constant input: it prints at every call.  The message
    is never pasted into generated code; the code calls the op.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> f = symrnn.function([x], Print("hello world")(x) * 2)
        >>> f(np.array([1.0, 2.0, 3.0]))
        hello world __str__ = [1. 2. 3.]
        array([2., 4., 6.])
    """

    view_map = {0: 0}  # the output is (a view of) the input

    has_side_effects = True  # it prints: constant folding must leave it to run time

    def __init__(self, message: str = "", attrs: Sequence[str] = ("__str__",),
                 global_fn: Callable[[Print, Any], None] = _print_attributes) -> None:
        if isinstance(attrs, str):
            attrs = (attrs,)
        self.message = message
        self.attrs = tuple(attrs)
        self.global_fn = global_fn

    # Identity, not props: two Print ops with equal messages still both print (the merge rewrite compares ops).
    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __str__(self) -> str:
        return f"Print{{{self.message!r}}}"

    def __repr__(self) -> str:
        return f"Print(message={self.message!r}, attrs={self.attrs!r})"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def show(self, value: Any) -> None:
        """Print ``value`` as this op was asked to (``global_fn``)."""
        self.global_fn(self, value)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.show(inputs[0])
        return [inputs[0]]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        show = ctx.bind(self.show, "print")
        return f"{show}({inputs[0]})\n{outputs[0]} = {inputs[0]}[...]"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return list(output_grads)


__all__ = ["debugprint", "pp", "pprint", "pydotprint", "Print"]


_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%", "pow": "**",
          "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "eq": "==", "neq": "!="}


#: A shared subexpression (a node used more than once) is bound to a name once its text is longer than this.
_INLINE_LIMIT = 16
#: A bound loop whose text is longer than this prints its outer inputs on lines of their own.
_WRAP_LIMIT = 100


def pp(var: Variable) -> str:
    """An infix rendering of an expression (Theano's ``theano.pp``): one line where nothing is shared.

    A variable with a name prints as its name.  A subexpression used more than
    once (longer than a few characters) and every loop are printed once, bound
    to a name in a ``let`` block, and referred to by that name afterwards; a
    leaf and a node used once stay inline.  A loop's outputs are ``s1.0``,
    ``s1.1``, ... where it has more than one.  So the gradient of an RNN prints
    its forward loop once, not at every place the backward loop reads it.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> pp(x ** 2 + T.exp(x))
        '((x ** 2.0) + exp(x))'
        >>> y = T.tanh(x * 3.0 + 1.0)
        >>> print(pp(y * (1.0 - y) + y))
        let v1 = tanh(((x * 3.0) + 1.0))
        in  ((v1 * (1.0 - v1)) + v1)
        >>> h0 = T.dvector("h0")
        >>> hs, _ = symrnn.scan(lambda h: T.tanh(h), outputs_info=[h0], n_steps=3, name="rnn")
        >>> print(pp(symrnn.grad(hs.sum(), h0)))  # doctest: +ELLIPSIS
        let s1 = scan{rnn}(3, dimshuffle{x,0}(h0))
            ...
        in  ...
    """
    nodes = toposort([var])
    names = {v.name for node in nodes for v in (*node.inputs, *node.outputs) if v.name}
    uses: dict[int, int] = {}  # per node: how often its unnamed outputs are read
    for node in nodes:
        for v in node.inputs:
            if v.owner is not None and not v.name:
                uses[id(v.owner)] = uses.get(id(v.owner), 0) + 1
    text: dict[int, str] = {}
    bindings: list[tuple[str, str]] = []
    counter = 0

    def show(v: Variable) -> str:
        if id(v) in text:
            return text[id(v)]
        if isinstance(v, Constant):
            return repr(v.data.item()) if v.data.size == 1 else "Constant"
        return v.name or f"<{v.type!r}>"

    def fresh(prefix: str) -> str:
        nonlocal counter
        while True:
            counter += 1
            if f"{prefix}{counter}" not in names:
                return f"{prefix}{counter}"

    for node in nodes:
        args = [show(v) for v in node.inputs]
        name = getattr(node.op, "name", None) or str(node.op)
        if name in _INFIX and len(args) == 2:
            out = f"({args[0]} {_INFIX[name]} {args[1]})"
        elif name == "neg":
            out = f"-{args[0]}"
        else:
            out = f"{node.op}({', '.join(args)})"
        loop = hasattr(node.op, "inner_nodes")
        count = uses.get(id(node), 0)
        if count and (loop or (count > 1 and len(out) > _INLINE_LIMIT)):
            bound = fresh("s" if loop else "v")
            if loop and len(out) > _WRAP_LIMIT:  # a long loop: its outer inputs on lines of their own
                out = f"{node.op}(\n" + _wrap(args, indent=8) + ")"
            bindings.append((bound, out))
            many = len(node.outputs) > 1
            for o in node.outputs:
                text[id(o)] = o.name or (f"{bound}.{o.index}" if many else bound)
        else:
            for o in node.outputs:
                text[id(o)] = o.name or out
    if not bindings:
        return show(var)
    lines = [f"{'let' if i == 0 else '   '} {bound} = {out}" for i, (bound, out) in enumerate(bindings)]
    return "\n".join([*lines, f"in  {show(var)}"])


def _wrap(args: list[str], indent: int) -> str:
    """``args`` joined by commas, packed into lines of about ``_WRAP_LIMIT`` characters, each indented."""
    lines: list[str] = []
    for arg in args:
        if lines and len(lines[-1]) + len(arg) + 2 <= _WRAP_LIMIT:
            lines[-1] += f", {arg}"
        else:
            lines.append(" " * indent + arg)
    return ",\n".join(lines)


#: Theano's ``theano.printing.pprint``, the same printer as :func:`pp`: ``pprint(var)`` returns a string.
pprint = pp
