"""Structural checks on recurrent models: shared gate pre-activations, parameters without gradient, exploding init.

``check(model)`` looks at the *graph*, not at names or classes:

- **gate sharing** (code ``"gate-sharing"``), the articles' bug: a gate
  nonlinearity (``sigmoid``, ``tanh``, ``hard_sigmoid``) that plays several gate
  roles, several gate nonlinearities that become one node once identical
  subexpressions are merged (:func:`symrnn.rewrite.engine.merge`), gates applied
  to the same pre-activation, or gates whose pre-activations use exactly the same
  weights;
- **no gradient** (``"no-gradient"``): a parameter the cost does not depend on;
- **spectral radius** (``"spectral-radius"``): a weight that multiplies the
  previous state (inside a ``scan`` or a cell's step) whose initial spectral
  radius is above ``max_spectral_radius``.

Each finding is a :class:`LintWarning` (a ``UserWarning``) that names the gate
or the parameter and suggests a fix.  ``check`` returns them and also issues
them with :func:`warnings.warn` unless ``warn=False``.

Example::

    >>> from symrnn import lint, nn
    >>> from symrnn.nn.article import SharedPreactLSTMCell
    >>> lint.check(nn.LSTMCell(3, 4, seed=0), warn=False)
    []
    >>> [w.code for w in lint.check(SharedPreactLSTMCell(3, 4, seed=0), warn=False)]
    ['gate-sharing']
"""

from __future__ import annotations

import linecache
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symrnn.compile.function import Function
from symrnn.gradient import grad
from symrnn.graph import (
    FLOAT_DTYPES,
    Apply,
    Constant,
    SharedVariable,
    TensorType,
    Variable,
    short_trace,
    toposort,
    trace_lines,
)
from symrnn.nn.cells import Cell, GRUCell, LSTMCell, _flatten, _unflatten
from symrnn.printing import pp
from symrnn.rewrite.engine import merge
from symrnn.scan.op import Scan

GATE_OPS = ("sigmoid", "hard_sigmoid", "tanh")
_SIGMOIDS = ("sigmoid", "hard_sigmoid")
CANDIDATE = "candidate C\u0303"  # C̃
GRU_CANDIDATE = "candidate h\u0303"  # h̃
_SQUASH = "tanh(C)"  # the LSTM's output squashing: a nonlinearity, but not a gate
_ROLE_ORDER = ["i", "f", "o", CANDIDATE, "z", "r", GRU_CANDIDATE, _SQUASH]


@dataclass(eq=False)
class LintWarning(UserWarning):
    """One finding of :func:`check`: a short ``code``, a ``message`` naming the gate or parameter, and a ``fix``.

    It is a ``UserWarning``, so ``warnings.simplefilter("error", LintWarning)``
    turns the lint into errors.

    Example::

        >>> w = LintWarning("no-gradient", "parameter 'b' gets no gradient", "remove it")
        >>> str(w)
        "[no-gradient] parameter 'b' gets no gradient. Fix: remove it."
    """

    code: str
    message: str
    fix: str
    subject: tuple[str, ...] = ()  # the gates or parameters named in the message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}. Fix: {self.fix}."


# --------------------------------------------------------------------------- the graph to look at


@dataclass
class _Context:
    """One graph to lint: a cell's step, a scan body, or the user's outer graph."""

    outputs: list[Variable]
    states: set[int]  # ids of the variables that hold the previous step's state
    sources: dict[int, frozenset]  # leaf id -> the shared variables it stands for (scan placeholders)
    where: str  # "the step of LSTMCell", "scan 'rnn'", ...

    def weights_of(self, var: Variable) -> frozenset:
        if id(var) in self.sources:
            return self.sources[id(var)]
        if isinstance(var, SharedVariable):
            return frozenset([var])
        return frozenset()


def _op_name(node: Apply | None) -> str:
    if node is None:
        return ""
    return str(getattr(node.op, "name", None) or type(node.op).__name__)


def _is_scan(node: Apply) -> bool:
    return isinstance(node.op, Scan)


def _cell_context(cell: Any, batch_size: int) -> tuple[_Context, list[Variable]]:
    dtype = cell._dtype()
    template = cell.zero_state(batch_size, dtype=dtype)
    flat = _flatten(template)
    if len(flat) == 1:
        names = ["h_prev"]
    elif isinstance(cell, LSTMCell):
        names = ["C_prev", "h_prev"]
    else:
        names = [f"state{k}_prev" for k in range(len(flat))]
    placeholders = [TensorType(v.dtype, (None, *v.type.shape[1:]))(name) for v, name in zip(flat, names)]
    x_t = TensorType(dtype, (None, cell.input_size))("x_t")
    out, new_state = cell.step(x_t, _unflatten(template, placeholders))
    outputs = [out, *_flatten(new_state)]
    context = _Context(outputs, {id(p) for p in placeholders}, {}, f"the step of {type(cell).__name__}")
    return context, list(cell.params.values())


def _outputs_of(model: Any) -> list[Variable]:
    if isinstance(model, Function):
        return list(model.outputs) + [value for _, value in model.updates]
    found: list[Variable] = []
    stack = [model]
    while stack:  # variables, or (nested) lists and tuples of them, such as what nn.rnn returns
        item = stack.pop()
        if isinstance(item, Variable):
            found.append(item)
        elif isinstance(item, (list, tuple)) and item:
            stack.extend(reversed(item))
        else:
            raise TypeError(f"lint.check: expected a Cell, a Function, a variable or a list of variables, got "
                            f"{model!r}")
    return found


def _scan_contexts(parent: _Context) -> list[_Context]:
    """The bodies of the (forward) scans in ``parent``'s graph, each mapped back to the weights it uses."""
    found = []
    for node in toposort(parent.outputs, stop_at=[]):
        if not _is_scan(node):
            continue
        op = node.op
        if op.info.name.startswith("grad_of_"):
            continue  # a backward loop: it holds the gradient, not the model
        sl, inner = op.outer_slices(), op.inner_slices()
        sources: dict[int, frozenset] = {}
        for outer_var, ph in zip(node.inputs[sl["seqs"]], op.inner_inputs[inner["seqs"]]):
            sources[id(ph)] = _weights_below(parent, outer_var)
        for outer_var, ph in zip(node.inputs[sl["nonseqs"]], op.inner_inputs[inner["nonseqs"]]):
            sources[id(ph)] = _weights_below(parent, outer_var)
        states = {id(ph) for ph in op.inner_inputs[inner["taps"]]}
        found.append(_Context(list(op.inner_outputs), states, sources, f"scan {op.info.name!r}"))
    return found


def _weights_below(context: _Context, var: Variable) -> frozenset:
    """Every shared variable (weight) ``var`` is computed from, in ``context``'s terms."""
    leaves = [var] if var.owner is None else [v for n in toposort([var]) for v in n.inputs if v.owner is None]
    out: set = set()
    for leaf in leaves:
        out |= context.weights_of(leaf)
    return frozenset(out)


def _all_contexts(top: _Context) -> list[_Context]:
    contexts, todo, seen = [], [top], set()
    while todo:
        ctx = todo.pop(0)
        key = tuple(id(v) for v in ctx.outputs)
        if key in seen:
            continue
        seen.add(key)
        contexts.append(ctx)
        todo.extend(_scan_contexts(ctx))
    return contexts


def _name(var: Any) -> str:
    return var.name or f"<unnamed {var.type}>"


# --------------------------------------------------------------------------- gate sharing


def _source_targets(trace: str | None, op: str) -> list[str]:
    """The names a user line assigns a gate to: ``i = f = o = T.nnet.sigmoid(...)`` gives ``['i', 'f', 'o']``."""
    lines = trace_lines(trace)
    if not lines:
        return []
    filename, line = lines[-1]  # the innermost: the library's line where symrnn.nn built the gate
    text = linecache.getline(filename, line).strip()
    if len(re.findall(rf"\b{op}\s*\(", text)) != 1:
        return []
    m = re.match(r"^((?:[A-Za-z_]\w*\s*=\s*)+)[^=]", text)
    if not m:
        return []
    return re.findall(r"[A-Za-z_]\w*", m.group(1))


def _roles(nodes: list[Apply], gates: dict[int, Variable]) -> dict[int, list[str]]:
    """Gate roles read off the LSTM and GRU state updates in a (merged) step graph."""
    roles: dict[int, list[str]] = {}

    def add(var: Variable, role: str) -> None:
        if id(var) in gates and role not in roles.setdefault(id(var), []):
            roles[id(var)].append(role)

    consumers: dict[int, list[Apply]] = {}
    for node in nodes:
        for v in node.inputs:
            consumers.setdefault(id(v), []).append(node)

    def products(var: Variable) -> list[Apply]:
        """The two products of ``var = a*b + c*d``, or []."""
        node = var.owner
        if _op_name(node) != "add" or len(node.inputs) != 2:
            return []
        prods = [v.owner for v in node.inputs]
        return prods if all(_op_name(p) == "mul" and len(p.inputs) == 2 for p in prods) else []

    for node in nodes:
        # LSTM: h' = o * tanh(C'),  C' = f * C + i * C̃
        if _op_name(node) == "tanh":
            prods = products(node.inputs[0])
            if prods:
                n_gates = [sum(id(v) in gates for v in p.inputs) for p in prods]
                if sorted(n_gates) == [1, 2]:
                    both, one = (prods[0], prods[1]) if n_gates[0] == 2 else (prods[1], prods[0])
                    a, b = both.inputs
                    if _op_name(a.owner) == "tanh" and _op_name(b.owner) in _SIGMOIDS:
                        a, b = b, a
                    forget = next(v for v in one.inputs if id(v) in gates)
                    add(forget, "f")
                    add(a, "i")
                    add(b, CANDIDATE)
                    add(node.outputs[0], _SQUASH)
                    for user in consumers.get(id(node.outputs[0]), []):
                        if _op_name(user) == "mul" and len(user.inputs) == 2:
                            other = user.inputs[1] if user.inputs[0] is node.outputs[0] else user.inputs[0]
                            add(other, "o")
        # GRU: h' = z * h + (1 - z) * h̃
        prods = products(node.outputs[0]) if len(node.outputs) == 1 else []
        if prods:
            for p, q in (prods, prods[::-1]):
                z = next((v for v in p.inputs if id(v) in gates), None)
                for k, v in enumerate(q.inputs):
                    o = v.owner
                    if (z is not None and _op_name(o) == "sub" and o.inputs[1] is z
                            and isinstance(o.inputs[0], Constant) and np.all(o.inputs[0].data == 1)):
                        add(z, "z")
                        candidate = q.inputs[1 - k]
                        if id(candidate) in gates:
                            add(candidate, GRU_CANDIDATE)
                            for reset in _reset_gates(candidate.owner.inputs[0], gates):
                                add(reset, "r")
    return roles


def _reset_gates(preact: Variable, gates: dict[int, Variable]) -> list[Variable]:
    """Sigmoid gates that scale a term of the candidate's pre-activation: ``(r * h)·U`` or ``r * (h·U + b)``.

    Only the sum's terms and the operands of its matrix products are looked at,
    not the whole ancestry: below them lies the layer's input, with other cells' gates.
    """
    terms, stack = [], [preact]
    while stack:
        v = stack.pop()
        op = _op_name(v.owner)
        if op in ("add", "sub"):
            stack.extend(v.owner.inputs)
        elif op in ("dot", "matmul"):
            terms.extend(v.owner.inputs)
        else:
            terms.append(v)
    out = []
    for term in terms:
        node = term.owner
        if _op_name(node) == "mul" and len(node.inputs) == 2:
            for k in (0, 1):
                g, other = node.inputs[k], node.inputs[1 - k]
                if id(g) in gates and id(other) not in gates and _op_name(g.owner) in _SIGMOIDS:
                    out.append(g)
    return out


def _direct_weights(context: _Context, var: Variable, gates: dict[int, Variable]) -> frozenset:
    """The weights a pre-activation uses directly: walking back from it, stopping at other gates."""
    out: set = set()
    stack, seen = [var], set()
    while stack:
        v = stack.pop()
        if id(v) in seen or id(v) in gates:
            continue
        seen.add(id(v))
        if v.owner is None:
            out |= context.weights_of(v)
        else:
            stack.extend(v.owner.inputs)
    return frozenset(out)


def _preview(var: Variable, limit: int = 90) -> str:
    try:
        text = pp(var)
    except Exception:  # noqa: BLE001 - a preview is only decoration
        text = str(var)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _gate_findings(context: _Context, fix_cell: str) -> list[LintWarning]:
    before = [n for n in toposort(context.outputs) if _op_name(n) in GATE_OPS]
    originals = [n.outputs[0] for n in before]
    merged_all = merge(context.outputs + originals)
    merged_outputs, merged_gates = merged_all[: len(context.outputs)], merged_all[len(context.outputs):]

    nodes = toposort(merged_outputs)
    gates: dict[int, Variable] = {id(n.outputs[0]): n.outputs[0] for n in nodes if _op_name(n) in GATE_OPS}
    origins: dict[int, list[Variable]] = {}
    for original, merged in zip(originals, merged_gates):
        if id(merged) in gates:
            origins.setdefault(id(merged), []).append(original)
    roles = _roles(nodes, gates)
    candidates = [g for g in gates.values() if _SQUASH not in roles.get(id(g), [])]
    gating: dict[int, set[int]] = {}  # gate id -> the products it is a factor of
    for node in nodes:
        if _op_name(node) == "mul":
            for v in node.inputs:
                if id(v) in gates:
                    gating.setdefault(id(v), set()).add(id(node))

    def labels(g: Variable) -> list[str]:
        if roles.get(id(g)):
            return sorted((r for r in roles[id(g)] if r != _SQUASH), key=_ROLE_ORDER.index)
        found: list[str] = []
        written = origins.get(id(g), [g])
        # Written twice but gating one product (or none: say, tanh(a) in an output and in a loss) is no bug.
        if len(gating.get(id(g), ())) < 2:
            written = written[:1]
        for original in written:
            op = _op_name(original.owner)
            names = [original.name] if original.name else _source_targets(original.owner.trace, op)
            if not names:
                where = short_trace(original.owner.trace) or "?"
                names = [f"{op} at {where}"]
            found += [n for n in names if n not in found]
        return found

    # Union-find over the gates that collide.
    parent = {id(g): id(g) for g in candidates}

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    by_input: dict[int, list[Variable]] = {}
    by_weights: dict[frozenset, list[Variable]] = {}
    for g in candidates:
        if g.owner.inputs[0].owner is not None:  # sigmoid(x) and tanh(x) of a graph input are no gates' bug
            by_input.setdefault(id(g.owner.inputs[0]), []).append(g)
        w = _direct_weights(context, g.owner.inputs[0], gates)
        if w:
            by_weights.setdefault(w, []).append(g)
    for group in list(by_input.values()) + list(by_weights.values()):
        for g in group[1:]:
            parent[find(id(g))] = find(id(group[0]))

    groups: dict[int, list[Variable]] = {}
    for g in candidates:
        groups.setdefault(find(id(g)), []).append(g)

    findings = []
    for group in groups.values():
        names = [n for g in group for n in labels(g)]
        if len(names) < 2:
            continue
        same_node = [g for g in group if len(labels(g)) > 1]
        inputs = {id(g.owner.inputs[0]) for g in group}
        weights = sorted({_name(w) for g in group for w in _direct_weights(context, g.owner.inputs[0], gates)})
        gate_names = [n for n in names if not n.startswith("candidate")]
        cand_names = [n for n in names if n.startswith("candidate")]
        what = f"gates {_join(gate_names)}" if len(gate_names) > 1 else f"gate {_join(gate_names)}"
        if cand_names:
            what = f"{what} and the {_join(cand_names)}" if gate_names else f"the {_join(cand_names)}"
        details = [f"{_join(labels(g))} are one and the same {_op_name(g.owner)} node" for g in same_node]
        if len(inputs) == 1:
            preact = group[0].owner.inputs[0]
            head = f"{what} are all computed from one shared pre-activation, {_preview(preact)}"
            for g in group:
                if g not in same_node:
                    details.append(f"the {_join(labels(g))} is the {_op_name(g.owner)} of that same pre-activation")
        else:
            head = f"{what} are computed from pre-activations that share all their weights"
        if weights:
            head += f" (weights {_join(weights)})"
        message = f"{head}, in {context.where}: {_join(details) or 'they are the same function of the input'}, " \
                  f"so the gates carry no separate information"
        findings.append(LintWarning("gate-sharing", message,
                                    f"give each gate its own weights ({fix_cell}: x·W_g + h·U_g + b_g per gate)",
                                    tuple(names)))
    return findings


# --------------------------------------------------------------------------- recurrent weights


def _recurrent_weights(context: _Context) -> list[SharedVariable]:
    """Square weights that multiply (something computed from) the previous state, by a matrix product."""
    if not context.states:
        return []
    # "The previous state" spreads through elementwise scaling, slicing and reshaping (the GRU's r * h), but
    # not through a matrix product or a gate nonlinearity: their outputs are new values, not the old state.
    # The step's outputs are *new* states (a stacked cell feeds one layer's new state to the next layer's input).
    depends: set[int] = set(context.states)
    new_states = {id(v) for v in context.outputs}
    found: dict[int, SharedVariable] = {}
    for node in toposort(context.outputs):
        is_product = _op_name(node) in ("dot", "matmul")
        if not is_product and _op_name(node) not in GATE_OPS and not _is_scan(node):
            if any(id(v) in depends for v in node.inputs):
                depends.update(id(v) for v in node.outputs if id(v) not in new_states)
        if not is_product or len(node.inputs) != 2:
            continue
        for k in (0, 1):
            if id(node.inputs[k]) not in depends:
                continue
            other = node.inputs[1 - k]
            if other.owner is not None or id(other) in depends:
                continue
            for w in context.weights_of(other):
                if w.ndim == 2 and w.type.shape[0] is not None and w.type.shape[0] == w.type.shape[1]:
                    found.setdefault(id(w), w)
                elif w.ndim == 2:
                    value = w.get_value(borrow=True)
                    if value.shape[0] == value.shape[1]:
                        found.setdefault(id(w), w)
    return list(found.values())


def spectral_radius(matrix: Any) -> float:
    """``max(abs(eigvals(matrix)))`` of a square matrix (a NumPy array or a shared variable's value).

    Example::

        >>> spectral_radius(3 * np.eye(4))
        3.0
    """
    if isinstance(matrix, SharedVariable):
        matrix = matrix.get_value(borrow=True)
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def _radius_findings(weights: Iterable[SharedVariable], limit: float) -> list[LintWarning]:
    findings = []
    for w in weights:
        rho = spectral_radius(w)
        if rho > limit:
            n = w.get_value(borrow=True).shape[0]
            findings.append(LintWarning(
                "spectral-radius",
                f"recurrent weight {_name(w)!r} ({n}x{n}) multiplies the previous hidden state and its initial "
                f"spectral radius is {rho:.2f} > {limit:g}, so activations and gradients through time can grow "
                f"like {rho:.2f}^t",
                "initialize it orthogonally (symrnn.nn.init.orthogonal) or scale it to spectral radius 1: "
                "U / max(abs(numpy.linalg.eigvals(U)))",
                (_name(w),)))
    return findings


# --------------------------------------------------------------------------- gradients


def _gradient_findings(cost: Variable, params: Sequence[Variable]) -> list[LintWarning]:
    params = [p for p in params if p.dtype in FLOAT_DTYPES]
    if not params:
        return []
    grads = grad(cost, params, disconnected_inputs="ignore", return_disconnected="none")
    findings = []
    for p, g in zip(params, grads):
        if g is None:
            why = "the cost does not depend on it"
        elif _is_zero(g):
            why = "its gradient is identically zero (it only feeds values that the cost does not use)"
        else:
            continue
        cost_name = f" {cost.name!r}" if cost.name else ""
        findings.append(LintWarning(
            "no-gradient",
            f"parameter {_name(p)!r} gets no gradient from the cost{cost_name}: {why}, so training never changes it",
            "remove it from the model (and from the parameters you train), or connect it to the cost",
            (_name(p),)))
    return findings


def _is_zero(var: Variable) -> bool:
    """A gradient that ``grad`` built as plain zeros (a constant, or an ``Alloc`` of a constant 0)."""
    if isinstance(var, Constant):
        return not np.any(var.data)
    node = var.owner
    return (node is not None and type(node.op).__name__ == "Alloc" and isinstance(node.inputs[0], Constant)
            and not np.any(node.inputs[0].data))


# --------------------------------------------------------------------------- the entry point


def check(graph_or_cell: Any, cost: Variable | None = None, params: Sequence[Variable] | None = None, *,
          max_spectral_radius: float = 1.5, warn: bool = True, batch_size: int = 2) -> list[LintWarning]:
    """Lint a recurrent model; return the :class:`LintWarning` s and (unless ``warn=False``) issue them.

    - ``graph_or_cell``: a cell (``symrnn.nn.LSTMCell``, ...; its step is run
      on placeholder inputs), a variable or list of output variables, or a
      compiled ``Function`` (its graph as written, before rewrites).  Scan
      bodies in the graph are checked too.
    - ``cost``: a scalar; with it, every parameter the cost does not depend on
      is reported.  ``params`` defaults to ``cell.params`` for a cell, or to the
      float shared variables that the outputs (not a function's updates, which
      hold an optimizer's state) and the cost use.
    - ``max_spectral_radius``: the largest initial spectral radius accepted for
      a weight that multiplies the previous state.

    Example::

        >>> import warnings
        >>> from symrnn import lint
        >>> from symrnn.nn.article import SharedPreactLSTMCell
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     found = lint.check(SharedPreactLSTMCell(3, 4, seed=0))
        >>> found[0].subject
        ('i', 'f', 'o', 'candidate C̃')
        >>> caught[0].category is lint.LintWarning
        True
    """
    if isinstance(graph_or_cell, Cell):
        top, default_params = _cell_context(graph_or_cell, batch_size)
        fix_cell = "symrnn.nn.GRUCell" if isinstance(graph_or_cell, GRUCell) else "symrnn.nn.LSTMCell"
    else:
        outputs = _outputs_of(graph_or_cell)
        top = _Context(outputs, set(), {}, "the graph")
        # The parameters: shared variables the outputs use.  Not the update expressions' leaves: those include
        # an optimizer's own state (Adam's moments), which no cost should reach.
        roots = list(getattr(graph_or_cell, "outputs", outputs)) + ([cost] if cost is not None else [])
        leaves = [v for n in toposort(roots) for v in n.inputs if v.owner is None] + [v for v in roots
                                                                                    if v.owner is None]
        default_params = list({id(v): v for v in leaves if isinstance(v, SharedVariable)}.values())
        fix_cell = "symrnn.nn.LSTMCell"

    findings: list[LintWarning] = []
    recurrent: dict[int, SharedVariable] = {}
    for context in _all_contexts(top):
        findings += _gate_findings(context, fix_cell)
        for w in _recurrent_weights(context):
            recurrent.setdefault(id(w), w)
    findings += _radius_findings(recurrent.values(), max_spectral_radius)
    if cost is not None:
        findings += _gradient_findings(cost, list(params) if params is not None else default_params)

    unique: list[LintWarning] = []
    seen: set[tuple[str, str]] = set()
    for f in findings:
        if (f.code, f.message) not in seen:
            seen.add((f.code, f.message))
            unique.append(f)
    if warn:
        for f in unique:
            warnings.warn(f, stacklevel=2)
    return unique


__all__ = ["LintWarning", "check", "spectral_radius"]
