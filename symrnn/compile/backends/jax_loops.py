"""Loops and lazy conditionals for the JAX backend: ``Scan`` as ``jax.lax.scan``, ``IfElse`` as ``lax.cond``.

A scan's body is emitted as a nested function ``step(carry, xs)`` over the
same inner graph that the NumPy backend writes as a ``for`` loop:

- the carry holds, per state, the last ``k`` values (a tuple, oldest first:
  ``k`` is the state's deepest tap), so taps ``-k .. -1`` are names in it;
- ``xs`` holds one row of each sequence; non-sequences are read from the
  enclosing function (a closure);
- the per-step outputs ``ys`` are the new values of the states whose whole
  buffer the graph reads, and the per-step outputs; the buffers are the
  initial rows followed by ``ys``;
- ``until(c)``: the carry also holds a *done* flag and a step count; once
  done, a step leaves the states as they are.  The result is trimmed to the
  steps taken, which needs a concrete count: a function with such a loop runs
  op by op, without a whole-function ``jax.jit`` (:class:`~.jax_ops.JaxState`
  ``eager``), and each of its loops is compiled once (:class:`JitOnce`);
- a loop of ``scan_checkpoints`` (``save_residuals=False``) has its body
  wrapped in ``jax.checkpoint``: ``jax.grad`` of the forward graph then
  recomputes it instead of saving every step, as symrnn's own gradient does.
"""

from __future__ import annotations

from typing import Any

from symrnn.compile.backends.jax_ops import device_name, is_host
from symrnn.graph import Apply, Constant
from symrnn.scan.ifelse import IfElse
from symrnn.scan.op import Scan, _check_row, scan_length

Lines = list[tuple[str, Apply | None]]


def _tuple(names: list[str]) -> str:
    return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def lower_scan(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Lines:
    op, state = node.op, ctx.backend_state
    info, outer, inner = op.info, op.outer_slices(), op.inner_slices()
    seqs, inits, nonseqs = inputs[outer["seqs"]], inputs[outer["inits"]], inputs[outer["nonseqs"]]
    label, name_const = ctx.comment(info.name, 40), ctx.bind(info.name, "scan_name")
    n, step, ys = ctx.fresh("n"), ctx.fresh("step"), ctx.fresh("ys")
    lines: Lines = [
        (f"# scan {label} begins: jax.lax.scan, {info.n_seqs} sequence(s), {info.n_states} state(s), "
         f"{info.n_nitsot} per-step output(s)", None),
        (f"{n} = {ctx.bind(scan_length, 'scan_length')}({inputs[0]}, {_tuple(seqs) if seqs else '()'}, "
         f"{name_const}, {info.n_steps_given})", node),
    ]
    # ---- the body: step(carry, xs) -> (carry, ys)
    windows = [[ctx.fresh(f"h{j}_") for _ in range(info.n_init(j))] for j in range(info.n_states)]
    done, count = ctx.fresh("done"), ctx.fresh("count")
    carry_parts = [_tuple(w) for w in windows] + ([done, count] if info.has_until else [])
    body: Lines = []
    if carry_parts:
        body.append((f"{', '.join(carry_parts)}{',' if len(carry_parts) == 1 else ''} = carry", node))
    rows = []
    for ph in op.inner_inputs[inner["seqs"]]:
        ctx.names[id(ph)] = ctx.fresh("x")
        state.host.discard(id(ph))
        rows.append(ctx.names[id(ph)])
    if rows:
        body.append((f"{', '.join(rows)}, = xs", node))
    taps = iter(op.inner_inputs[inner["taps"]])
    for j, state_taps in enumerate(info.state_taps):
        for tap in state_taps:
            ph = next(taps)
            ctx.names[id(ph)] = windows[j][info.n_init(j) + tap]
            state.host.discard(id(ph))
    for outer_var, name, ph in zip(node.inputs[outer["nonseqs"]], nonseqs, op.inner_inputs[inner["nonseqs"]]):
        ctx.names[id(ph)] = name  # read from the enclosing function
        (state.host.add if is_host(ctx, outer_var) else state.host.discard)(id(ph))
    body += ctx.emit_nodes(op.inner_nodes)
    check = ctx.bind(_check_row, "check_row")
    new_carry, traced = [], []
    for j in range(info.n_states):
        value = ctx.name_of(op.inner_outputs[j])
        what = ctx.bind(info.label(j), "what")
        body.append((f"if xp.shape({value}) != xp.shape({windows[j][-1]}):  # shapes are concrete: checked "
                     f"while tracing", node))
        body.append((f"    {check}({name_const}, {what}, {inits[j]}, {value})", node))
        window = windows[j][1:] + [value]
        if info.has_until:  # once done, a step leaves the states as they were
            window = [f"xp.where({done}, {old}, {new})" for old, new in zip(windows[j], window)]
        new_carry.append(_tuple(window))
        if not info.is_last_only(j):
            traced.append(value)
    traced += [ctx.name_of(v) for v in op.inner_outputs[info.n_states:info.n_states + info.n_nitsot]]
    if info.has_until:
        stop = ctx.name_of(op.inner_outputs[-1])
        new_carry += [f"xp.logical_or({done}, {stop})", f"{count} + xp.where({done}, 0, 1)"]
    body.append((f"return {_tuple(new_carry) if new_carry else '()'}, {_tuple(traced) if traced else '()'}", node))
    loop: Lines = [(f"def {step}(carry, xs):", node)]
    loop += [(f"    {text}", owner) for text, owner in body]
    if not info.save_residuals:
        loop.append((f"{step} = jax.checkpoint({step})  # scan_checkpoints: jax.grad recomputes the body", node))
    # ---- the call
    init = [_tuple([f"{inits[j]}[{r}]" for r in range(info.n_init(j))]) for j in range(info.n_states)]
    if info.has_until:
        init += ["xp.asarray(False)", "xp.asarray(0, dtype='int64')"]
    xs = _tuple([f"{s}[:{n}]" for s in seqs]) if seqs else "None"
    final = [_tuple([ctx.fresh(f"last{j}_") for _ in range(info.n_init(j))]) for j in range(info.n_states)]
    final += [done, count] if info.has_until else []
    got = f"{', '.join(final)}{',' if len(final) == 1 else ''}" if final else "_"
    call = f"lax.scan({step}, {_tuple(init) if init else '()'}, {xs}, length={n})"
    outer_values = [v for v in node.inputs[1:] if not isinstance(v, Constant)]
    if state.eager and ctx.depth == 1 and not any(is_host(ctx, v) for v in outer_values):
        # Run op by op, a loop would be traced and compiled at every call: compile it once, as a function of
        # the values it reads (its body reads no other name of the enclosing function).
        names = list(dict.fromkeys(ctx.name_of(v) for v in outer_values))
        compiled, cache = ctx.fresh("loop"), ctx.bind(JitOnce(), "jax_loop")
        lines.append((f"def {compiled}({', '.join([n, *names])}):  # jitted once (below), the length static", node))
        lines += [(f"    {text}", owner) for text, owner in loop]
        lines.append((f"    return {call}", node))
        lines.append((f"({got}), {ys} = {cache}({compiled})({', '.join([n, *names])})", node))
    else:
        lines += loop
        lines.append((f"({got}), {ys} = {call}", node))
    trace_names = [ctx.fresh("trace") for _ in traced]
    if trace_names:
        lines.append((f"{', '.join(trace_names)}, = {ys}", node))
    if info.has_until:  # the steps taken: a concrete count (the function runs op by op)
        lines.append((f"{count} = int({count})", node))
    traces = iter(trace_names)
    for j in range(info.n_states):
        if info.is_last_only(j):
            lines.append((f"{outputs[j]} = xp.stack({final[j]})", node))
            continue
        rows = f"[:{info.n_init(j)} + {count}]" if info.has_until else ""
        init = device_name(ctx, node.inputs[outer["inits"].start + j], inits[j])
        lines.append((f"{outputs[j]} = xp.concatenate(({init}[:{info.n_init(j)}], {next(traces)})){rows}", node))
    for k in range(info.n_nitsot):
        flip = "[::-1]" if k < len(info.reversed_rows) and info.reversed_rows[k] else ""
        rows = f"[:{count}]" if info.has_until else ""
        lines.append((f"{outputs[info.n_states + k]} = {next(traces)}{flip}{rows}", node))
    lines.append((f"# scan {label} ends", None))
    return lines


class JitOnce:
    """``jax.jit`` of the first function it is given, with its first argument static; later calls get that
    same compiled function (the loop of a function run op by op: the same code at every call)."""

    def __init__(self) -> None:
        self.jitted: Any = None

    def __call__(self, fn: Any) -> Any:
        if self.jitted is None:
            import jax

            self.jitted = jax.jit(fn, static_argnums=(0,))
        return self.jitted


def lower_ifelse(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Lines:
    """A Python ``if`` where the condition is concrete (a host value, or a function that runs op by op),
    else ``lax.cond`` over two nested functions, one per branch (both traced; one runs)."""
    op, state = node.op, ctx.backend_state
    for var, ph in zip(node.inputs[1:], op.inner_inputs):
        (state.host.add if is_host(ctx, var) else state.host.discard)(id(ph))
    if is_host(ctx, node.inputs[0]) or state.eager:
        return op.emit(node, inputs, outputs, ctx)
    for ph, outer in zip(op.inner_inputs, inputs[1:]):
        ctx.names[id(ph)] = outer
    label = f" {ctx.comment(op.label, 40)}" if op.label else ""
    lines: Lines = [(f"# ifelse{label}: lax.cond, the branch taken runs", None)]
    branches = []
    for taken in (True, False):
        branch_outputs, nodes, _ = op._branch(taken)
        fn = ctx.fresh("then" if taken else "else")
        body = ctx.emit_nodes(nodes)
        values = [ctx.name_of(v) for v in branch_outputs]
        body.append((f"return {_tuple(values)}", node))
        lines.append((f"def {fn}():", node))
        lines += [(f"    {text}", owner) for text, owner in body]
        branches.append(fn)
    lines.append((f"{', '.join(outputs)}, = lax.cond(xp.asarray({inputs[0]}) != 0, {branches[0]}, {branches[1]})",
                  node))
    lines.append((f"# ifelse{label} ends", None))
    return lines


LOOP_LOWERINGS = {Scan: lower_scan, IfElse: lower_ifelse}

__all__ = ["lower_scan", "lower_ifelse", "LOOP_LOWERINGS"]
