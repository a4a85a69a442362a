"""``scan()``: Theano's symbolic loop, and ``until``.

``scan`` calls the step function once, on placeholder variables, to build the
loop body as an ordinary graph; it then normalizes taps, closures and shared
updates into a :class:`~symrnn.scan.op.Scan` node.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from symrnn.graph import (
    Constant,
    GraphShapeError,
    GraphTypeError,
    GraphValueError,
    MissingInputError,
    SharedVariable,
    TensorType,
    Variable,
    as_tensor_variable,
    clone_replace,
    constant,
    describe,
    graph_inputs,
    toposort,
    user_line,
)
from symrnn.ops.elemwise import cast
from symrnn.scan.op import Scan, ScanInfo


@dataclass
class Until:
    """The stop condition of a while-loop scan: return ``until(cond)`` from the step function."""

    condition: Variable


def until(condition: Any) -> Until:
    """Stop the scan after the step in which ``condition`` is true (``n_steps`` is then the maximum).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> values, _ = symrnn.scan(lambda prev: (prev * 2, symrnn.until(prev * 2 > 50)),
        ...                         outputs_info=x, n_steps=1024)
        >>> symrnn.function([x], values)(1.0)
        array([ 2.,  4.,  8., 16., 32., 64.])
    """
    cond = as_tensor_variable(condition)
    if cond.ndim != 0:
        raise GraphTypeError(f"until: the condition must be a scalar, got {describe(cond)} (at {user_line()})")
    return Until(cond)


# A mistake in scan's arguments (taps, the number of outputs_info entries): Theano raises ValueError there,
# and symrnn has raised GraphTypeError (a TypeError).  GraphValueError is both, so either except clause works.
ScanArgumentError = GraphValueError


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _step_type(var: Variable, drop: int = 1) -> TensorType:
    return TensorType(var.dtype, var.type.shape[drop:])


def _parse_step_result(result: Any) -> tuple[list[Variable], dict[SharedVariable, Variable], Variable | None]:
    """Split what the step function returned into outputs, updates and the ``until`` condition."""
    outputs: list[Any] = []
    updates: dict[SharedVariable, Variable] = OrderedDict()
    condition = None
    items = list(result) if isinstance(result, tuple) else [result]
    for item in items:
        if isinstance(item, Until):
            condition = item.condition
        elif isinstance(item, dict):
            updates.update(item)
        elif isinstance(item, list) and item and all(isinstance(p, tuple) and len(p) == 2 for p in item) \
                and all(isinstance(p[0], SharedVariable) for p in item):
            updates.update(item)
        elif isinstance(item, (list, tuple)):
            outputs.extend(item)
        elif item is not None:
            outputs.append(item)
    return [as_tensor_variable(o) for o in outputs], updates, condition


def _check_state_output(index: int, out: Variable, expected: TensorType, where: str) -> None:
    """A recurrent output must keep its state's dtype, ndim and known sizes."""
    problem = None
    if out.dtype != expected.dtype:
        problem = "the dtype differs"
    elif out.ndim != expected.ndim:
        problem = "the number of dimensions differs"
    else:
        for axis, (have, want) in enumerate(zip(out.type.shape, expected.shape)):
            if want == 1 and have != 1:
                problem = (f"axis {axis} of the initial state has static size 1, so it would broadcast, but the "
                           f"step returns {'an unknown size' if have is None else f'size {have}'} there")
            elif have is not None and want is not None and have != want:
                problem = f"axis {axis} has size {have}, but the initial state has {want}"
            if problem:
                break
    if problem:
        kind = GraphTypeError if "dtype" in problem or "dimensions" in problem else GraphShapeError
        hint = f"T.cast(out, {expected.dtype!r})" if "dtype" in problem else "T.reshape(out, ...)"
        raise kind(f"scan: output {index} of the step function has type {out.type!r}, but its outputs_info "
                   f"(initial state) has type {expected!r}: {problem}. Make the step return the same type "
                   f"(e.g. {hint}) or fix the initial state (at {where})")


def scan(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None, non_sequences: Any = None,
         n_steps: Any = None, truncate_gradient: int = -1, go_backwards: bool = False, name: str | None = None,
         strict: bool = False, mode: Any = None, return_list: bool = False,
         _save_residuals: bool = True) -> tuple[Any, OrderedDict]:
    """Theano's ``scan``: apply ``fn`` over sequences, carrying outputs from step to step.

    ``fn`` receives, in this order: each sequence's taps, each recurrent
    output's taps, then the non-sequences.  It returns its outputs, optionally
    with an updates dict for shared variables and an :func:`until` condition.

    - ``sequences``: variables, or ``dict(input=x, taps=[-1, 0, 1])``: step
      ``t`` then gets ``x[t - 1], x[t], x[t + 1]``, with ``t`` running from the
      first position where every tap (and tap 0) exists.  With several
      sequences the loop runs over the shortest, as Theano does.
    - ``outputs_info``: per output, an initial value (tap -1),
      ``dict(initial=x0, taps=[-2, -1])`` (``x0[0]`` and ``x0[1]`` are the
      values at steps -2 and -1), or ``None`` for an output that does not
      feed back.
    - ``n_steps``: the number of steps (required without sequences; with
      sequences it must not exceed the shortest one).
    - ``go_backwards``: visit the positions of the sequences from the end
      (a tap -1 still reads the element before, in the sequence's own order).
    - ``truncate_gradient``: backpropagate through only the last ``k`` steps.
    - ``strict``: every shared or outer variable the step uses must be listed
      in ``non_sequences``.

    Returns ``(outputs, updates)``: one variable per output (a single variable
    when there is one, unless ``return_list``) and the updates to pass to
    :func:`symrnn.function`.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> A, k = T.dvector("A"), T.iscalar("k")
        >>> result, updates = symrnn.scan(lambda prior, A: prior * A, outputs_info=T.ones_like(A),
        ...                               non_sequences=A, n_steps=k)
        >>> power = symrnn.function([A, k], result[-1], updates=updates)
        >>> power(np.arange(10.0), 2)
        array([ 0.,  1.,  4.,  9., 16., 25., 36., 49., 64., 81.])
    """
    del mode  # accepted for Theano compatibility; the enclosing function's mode applies
    where = user_line()
    label = name or "scan"

    # ---- sequences: one inner slice per tap; each becomes a plain outer sequence
    outer_seqs: list[Variable] = []
    fn_args: list[Variable] = []
    for k, entry in enumerate(_as_list(sequences)):
        if isinstance(entry, dict):
            seq, taps = entry.get("input"), list(entry.get("taps", [0]) or [0])
        else:
            seq, taps = entry, [0]
        seq = as_tensor_variable(seq)
        if seq.ndim == 0:
            raise GraphTypeError(f"scan: sequence {k} is a scalar ({describe(seq)}); sequences are iterated over "
                                 f"their first axis (at {where})")
        if not all(isinstance(tap, int) for tap in taps) or len(set(taps)) != len(taps):
            raise ScanArgumentError(f"scan: the taps of sequence {k} must be distinct ints, got {taps!r} "
                                    f"(at {where})")
        # Theano's alignment: step t reads ``seq[t - lo + tap]``, where the range [lo, hi] always includes
        # tap 0, so that the step's own position exists.  Each tap's slice is cut to the same length, then
        # reversed for go_backwards: taps keep their meaning in the sequence's own order.
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        for tap in taps:
            shifted = seq[tap - lo: (tap - hi) or None] if (tap - lo, tap - hi) != (0, 0) else seq
            if go_backwards:
                shifted = shifted[::-1]
            outer_seqs.append(shifted)
            placeholder = _step_type(seq)(f"{seq.name}[t{tap:+d}]" if seq.name else None)
            fn_args.append(placeholder)

    # ---- recurrent outputs: states with taps, or None for outputs that do not feed back
    # outputs_info=[] means what None means: no output feeds back (Theano's map).
    info_entries = _as_list(outputs_info) if outputs_info is not None and _as_list(outputs_info) else None
    state_inits: list[Variable] = []
    state_taps: list[tuple[int, ...]] = []
    state_placeholders: list[list[Variable]] = []
    output_kinds: list[int | None] = []  # per output: index of its state, or None for nit-sot
    for k, entry in enumerate(info_entries or []):
        if isinstance(entry, dict) and entry.get("initial") is None and entry.get("taps"):
            raise ScanArgumentError(f"scan: outputs_info[{k}] has taps {entry['taps']!r} but no initial value; "
                                    f"an output read back through taps needs dict(initial=..., taps=...) "
                                    f"(at {where})")
        if entry is None or (isinstance(entry, dict) and entry.get("initial") is None):
            output_kinds.append(None)
            continue
        if isinstance(entry, dict):
            init = as_tensor_variable(entry["initial"])
            taps = tuple(sorted(entry.get("taps", [-1])))
            if not taps or any(not isinstance(tap, int) or tap >= 0 for tap in taps) or len(set(taps)) != len(taps):
                raise ScanArgumentError(f"scan: outputs_info[{k}] taps must be distinct negative ints, got "
                                        f"{taps!r} (at {where})")
            if taps != (-1,):
                n_init = -taps[0]
                if init.ndim == 0:
                    raise GraphTypeError(f"scan: outputs_info[{k}] with taps {list(taps)} needs an initial value "
                                         f"holding the {n_init} past values along its first axis, oldest first "
                                         f"(at {where})")
                if init.type.shape[0] is not None and init.type.shape[0] < n_init:
                    raise GraphShapeError(f"scan: outputs_info[{k}] has {init.type.shape[0]} initial row(s) but "
                                          f"taps {list(taps)} need {n_init} (at {where})")
                init_rows = init[:n_init]  # as in Theano: tap -k reads initial[n_init - k]
                step = _step_type(init)
            else:
                init_rows, step = init.dimshuffle("x", *range(init.ndim)), init.type
        else:
            init = as_tensor_variable(entry)
            taps = (-1,)
            init_rows, step = init.dimshuffle("x", *range(init.ndim)), init.type
        output_kinds.append(len(state_inits))
        state_inits.append(init_rows)
        state_taps.append(taps)
        phs = [step(f"{init.name}[t{tap:+d}]" if init.name else None) for tap in taps]
        state_placeholders.append(phs)
        fn_args.extend(phs)

    # ---- non-sequences: fn gets the outer variables themselves, so that grad() inside fn reaches through
    # them (jacobian needs this); once the body is built they are replaced by placeholders.
    explicit_nonseqs = [as_tensor_variable(v) for v in _as_list(non_sequences)]
    step_placeholders = fn_args + [p for phs in state_placeholders for p in phs]
    fn_args.extend(explicit_nonseqs)

    result = fn(*fn_args)
    outputs, updates, condition = _parse_step_result(result)

    if info_entries is None:
        output_kinds = [None] * len(outputs)
    elif len(outputs) != len(output_kinds):
        raise ScanArgumentError(f"scan: the step function returned {len(outputs)} output(s), but outputs_info has "
                                f"{len(output_kinds)} entr{'y' if len(output_kinds) == 1 else 'ies'}; give one "
                                f"outputs_info entry per output (None for outputs that do not feed back) "
                                f"(at {where})")
    for k, out in enumerate(outputs):
        if output_kinds[k] is not None:
            j = output_kinds[k]
            _check_state_output(k, out, state_placeholders[j][0].type, where)
    for shared_var, value in updates.items():
        if not isinstance(shared_var, SharedVariable):
            raise GraphTypeError(f"scan: update target {shared_var!r} is not a shared variable (at {where})")
        value = as_tensor_variable(value)
        if value.dtype != shared_var.dtype or value.ndim != shared_var.ndim:
            raise GraphTypeError(f"scan: the update of shared variable {shared_var.name!r} has type "
                                 f"{value.type!r}, but the variable is {shared_var.type!r} (at {where})")
        updates[shared_var] = value

    # ---- a random draw in the body draws again at every step, as in Theano: a shared variable with a
    # default update (a random stream's state) that the body reads is updated by every step
    for var in graph_inputs(outputs + list(updates.values()) + ([condition] if condition is not None else [])):
        if isinstance(var, SharedVariable) and var.default_update is not None and var not in updates:
            updates[var] = var.default_update

    # ---- shared variables the step updates become states; their current value is a placeholder
    replace: dict[Variable, Variable] = {}
    shared_states = list(updates)
    for shared_var in shared_states:
        ph = shared_var.type(shared_var.name)
        replace[shared_var] = ph
        state_inits.append(shared_var.dimshuffle("x", *range(shared_var.ndim)))
        state_taps.append((-1,))
        state_placeholders.append([ph])

    for var in explicit_nonseqs:
        if not isinstance(var, Constant) and var not in replace:
            replace[var] = var.type(var.name)

    # ---- everything else the body uses from outside becomes an implicit non-sequence.  An outside
    # expression (say W.T, or another scan's result) is passed in whole, so it is computed once, before the loop.
    placeholders = {id(v) for v in step_placeholders} | {id(p[0]) for p in state_placeholders}
    body_outputs = [o for o in outputs] + list(updates.values()) + ([condition] if condition is not None else [])
    implicit: list[Variable] = []
    for var in _free_variables(body_outputs, placeholders | {id(v) for v in replace}):
        if var in replace:
            continue
        if strict:
            kind = "shared variable" if isinstance(var, SharedVariable) else "variable"
            leaves = [describe(v) for v in graph_inputs([var]) if not isinstance(v, Constant)]
            origin = f" (computed from {', '.join(leaves)})" if var.owner is not None else ""
            raise MissingInputError(f"scan(strict=True): the step function uses the {kind} {describe(var)}{origin} "
                                 f"without it being in non_sequences; pass it in non_sequences (at {where})")
        implicit.append(var)
        replace[var] = var.type(var.name)
    if replace:
        body_outputs = clone_replace(body_outputs, replace)

    n_out = len(outputs)
    state_outs: list[Variable | None] = [None] * len(state_inits)
    nitsot_outs: list[Variable] = []
    nitsot_positions: list[int] = []
    for k, out in enumerate(body_outputs[:n_out]):
        if output_kinds[k] is None:
            nitsot_positions.append(k)
            nitsot_outs.append(out)
        else:
            state_outs[output_kinds[k]] = out
    for m, value in enumerate(body_outputs[n_out:n_out + len(shared_states)]):
        state_outs[len(state_inits) - len(shared_states) + m] = value

    shared_state_ids = {id(v) for v in shared_states}
    outer_nonseqs_final = []
    for var in [*explicit_nonseqs, *implicit]:
        if var in replace and id(var) not in shared_state_ids and var not in outer_nonseqs_final:
            outer_nonseqs_final.append(var)
    inner_inputs = [*fn_args[: len(outer_seqs)], *[p for phs in state_placeholders for p in phs],
                    *[replace[v] for v in outer_nonseqs_final]]
    inner_outputs = [*state_outs, *nitsot_outs] + ([body_outputs[-1]] if condition is not None else [])

    state_labels = [f"output {k}" for j in range(len(state_inits) - len(shared_states))
                    for k in range(n_out) if output_kinds[k] == j]
    state_labels += [f"the update of shared variable {v.name!r}" for v in shared_states]
    labels = tuple(state_labels + [f"output {k}" for k in nitsot_positions])
    info = ScanInfo(n_seqs=len(outer_seqs), state_taps=tuple(state_taps), n_nitsot=len(nitsot_outs),
                    n_nonseqs=len(outer_nonseqs_final), has_until=condition is not None, name=label,
                    save_residuals=_save_residuals, truncate_gradient=int(truncate_gradient),
                    n_steps_given=n_steps is not None, labels=labels,
                    # a shared variable's update is its last value: keep no per-step history
                    last_only=(False,) * (len(state_inits) - len(shared_states)) + (True,) * len(shared_states))
    steps = _n_steps(n_steps, outer_seqs, where)
    op = Scan(info, inner_inputs, inner_outputs)
    node = op.make_node(steps, *outer_seqs, *state_inits, *outer_nonseqs_final)

    results: list[Variable | None] = [None] * n_out
    for k in range(n_out):
        if output_kinds[k] is not None:
            j = output_kinds[k]
            results[k] = node.outputs[j][info.n_init(j):]
    for k, position in enumerate(nitsot_positions):
        results[position] = node.outputs[info.n_states + k]
    scan_updates: OrderedDict = OrderedDict()
    first_shared = info.n_states - len(shared_states)
    for m, shared_var in enumerate(shared_states):
        scan_updates[shared_var] = node.outputs[first_shared + m][-1]
    for k, out in enumerate(results):
        if out is not None and outputs[k].name:
            out.name = outputs[k].name
    if return_list or len(results) != 1:
        return results, scan_updates
    return results[0], scan_updates


def _free_variables(outputs: list[Variable], inner_ids: set[int]) -> list[Variable]:
    """Variables from outside the loop body that it uses: not computed from the body's placeholders.

    Expressions built only from constants are not free: they stay in the body.
    """
    inner = set(inner_ids)
    for node in toposort(outputs, stop_at=[]):
        if any(id(v) in inner for v in node.inputs):
            inner.update(id(v) for v in node.outputs)
    free: dict[int, Variable] = {}
    candidates = [v for node in toposort(outputs) if any(id(o) in inner for o in node.outputs)
                  for v in node.inputs] + list(outputs)
    for var in candidates:
        if id(var) in inner or id(var) in free or isinstance(var, Constant):
            continue
        if all(isinstance(leaf, Constant) for leaf in graph_inputs([var])):
            continue
        free[id(var)] = var
    return list(free.values())


def _n_steps(n_steps: Any, sequences: Sequence[Variable], where: str) -> Variable:
    if n_steps is None:
        if not sequences:
            raise GraphTypeError(f"scan: without sequences, n_steps must be given (at {where})")
        return constant(-1, dtype="int64")
    steps = as_tensor_variable(n_steps)
    if steps.ndim != 0 or not (steps.dtype.startswith("int") or steps.dtype.startswith("uint")):
        raise GraphTypeError(f"scan: n_steps must be an integer scalar, got {describe(steps)} (at {where})")
    if isinstance(steps, Constant) and int(steps.data) < 0:
        raise GraphShapeError(f"scan: n_steps must not be negative, got {int(steps.data)} (at {where})")
    return cast(steps, "int64")


# --------------------------------------------------------------------------- Theano's scan views


def map(fn: Callable[..., Any], sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,  # noqa: A001
        go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's ``theano.map``: ``fn`` applied to each step of the sequences; nothing feeds back.

    Returns ``(outputs, updates)`` like :func:`scan`.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> squares, _ = map(lambda v: v ** 2, sequences=x)
        >>> symrnn.function([x], squares)([1.0, 2.0, 3.0])
        array([1., 4., 9.])
    """
    return scan(fn, sequences=sequences, outputs_info=[], non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name)


def reduce(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None,
           go_backwards: bool = False, mode: Any = None, name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's ``theano.reduce``: a :func:`scan` of which only the last value of each output is returned.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> total, _ = reduce(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0))
        >>> symrnn.function([x], total)([1.0, 2.0, 3.0])
        array(6.)
    """
    outputs, updates = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                            go_backwards=go_backwards, truncate_gradient=-1, mode=mode, name=name)
    if isinstance(outputs, (list, tuple)):
        return [out[-1] for out in outputs], updates
    return outputs[-1], updates


def foldl(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's ``theano.foldl``: :func:`reduce` from the first step to the last.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> digits, _ = foldl(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=T.constant(0.0))
        >>> symrnn.function([x], digits)([1.0, 2.0, 3.0])
        array(123.)
    """
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=False, mode=mode, name=name)


def foldr(fn: Callable[..., Any], sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None) -> tuple[Any, OrderedDict]:
    """Theano's ``theano.foldr``: :func:`reduce` from the last step to the first.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> digits, _ = foldr(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=T.constant(0.0))
        >>> symrnn.function([x], digits)([1.0, 2.0, 3.0])
        array(321.)
    """
    return reduce(fn, sequences, outputs_info, non_sequences=non_sequences, go_backwards=True, mode=mode, name=name)


__all__ = ["scan", "until", "Until", "Scan", "map", "reduce", "foldl", "foldr", "ScanArgumentError"]
