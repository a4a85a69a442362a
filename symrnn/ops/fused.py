"""``FusedElemwise``: a small graph of elementwise ops evaluated as one node.

The fusion rewrite (:func:`symrnn.rewrite.fusion.fuse_elementwise`) replaces a
connected group of :class:`~symrnn.ops.elemwise.Elemwise` nodes, whose
intermediate values nobody else reads, by one ``FusedElemwise`` node.  The
group is kept as an ordinary inner graph (``fused_inputs`` -> ``fused_output``),
so printing and traversal still reach every op in it.

How it runs:

- ``perform`` (the reference): each inner node's own ``perform``, in order;
- NumPy code: the chain writes into one freshly allocated buffer and reuses it
  with ``out=`` for every following ufunc (a second buffer only where a value
  must stay alive, or where the dtype changes), so ``k`` ops allocate once
  instead of ``k`` times;
- a device backend (CuPy) may compile the whole group into one kernel:
  ``ctx.backend.fused_kernel(node)`` (see :mod:`symrnn.compile.backends.cupy_backend`).

Fusion runs at compile time, after ``grad``, so the op needs no gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.graph import (
    Apply,
    Constant,
    GraphTypeError,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    grad_undefined,
    structure_signature,
    toposort,
)
from symrnn.ops.elemwise import (
    Elemwise,
    allocating_call,
    broadcast_static_shapes,
    emit_checks,
    emit_into_new_buffer,
    fill_template,
    perform_checks,
    runtime_checks,
)


class FusedElemwise(Op):
    """Several elementwise ops over broadcast inputs, computed as one node (one output).

    ``inputs`` are placeholder variables (one per outer input, of the same
    dtype and ndim); ``output`` is computed from them by :class:`Elemwise`
    nodes only, with 0-d constants allowed inside.  Two fused ops are equal
    when their inner graphs have the same structure.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.rewrite.fusion import fuse_elementwise
        >>> x, y = T.matrix("x"), T.matrix("y")
        >>> [z] = fuse_elementwise([T.tanh(x * y + 1)])
        >>> str(z.owner.op), len(z.owner.inputs)
        ('fused{mul,add,tanh}', 2)
    """

    name = "fused"

    def __init__(self, inputs: Sequence[Variable], output: Variable) -> None:
        self.fused_inputs = list(inputs)
        self.fused_output = output
        self.fused_nodes = toposort([output], stop_at=self.fused_inputs)
        for node in self.fused_nodes:
            if not isinstance(node.op, Elemwise) or len(node.outputs) != 1:
                raise GraphTypeError(f"FusedElemwise: {node.op} is not an elementwise op")
        self.signature = self._structure()

    def _structure(self) -> tuple:
        return structure_signature(self.fused_inputs, self.fused_nodes, [self.fused_output],
                                   closed_for="FusedElemwise")

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, FusedElemwise) and self.signature == other.signature)

    def __hash__(self) -> int:
        return hash(self.signature)

    def __str__(self) -> str:
        names = [str(n.op) for n in self.fused_nodes]
        if len(names) > 8:
            names = names[:7] + [f"...{len(names) - 7} more"]
        return f"fused{{{','.join(names)}}}"

    def __repr__(self) -> str:
        return f"FusedElemwise({', '.join(str(n.op) for n in self.fused_nodes)})"

    # ---- graph building
    def make_node(self, *inputs: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in inputs]
        if len(inputs) != len(self.fused_inputs):
            raise GraphTypeError(f"{self}: takes {len(self.fused_inputs)} inputs, got {len(inputs)}")
        for k, (v, ph) in enumerate(zip(inputs, self.fused_inputs)):
            if v.dtype != ph.dtype or v.ndim != ph.ndim:
                raise GraphTypeError(f"{self}: input {k} is {v.type!r}, expected {ph.dtype} with {ph.ndim} "
                                     f"dimension(s)")
        shape = broadcast_static_shapes(self, inputs)
        return Apply(self, inputs, [TensorType(self.fused_output.dtype, shape)])

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        reason = ("fusion runs at compile time, after grad(); take the gradient of the unfused graph "
                  "(the ops it was made of)")
        return [grad_undefined(self, i, reason) for i in range(len(node.inputs))]

    # ---- the reference
    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        perform_checks(node, inputs, runtime_checks(node))
        env = {id(ph): value for ph, value in zip(self.fused_inputs, inputs)}
        for inner in self.fused_nodes:
            args = [v.data if isinstance(v, Constant) else env[id(v)] for v in inner.inputs]
            env[id(inner.outputs[0])] = inner.op.perform(inner, args)[0]
        return [np.asarray(env[id(self.fused_output)], dtype=node.outputs[0].dtype)]

    # ---- code generation
    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        lines = emit_checks(node, inputs, runtime_checks(node), ctx)
        backend = getattr(ctx, "backend", None)
        kernel = backend.fused_kernel(node) if backend is not None and node.outputs[0].ndim > 0 else None
        cpu_kernel = self._cpu_kernel(node, ctx) if kernel is None else None
        if kernel is not None:
            lines.append(f"{outputs[0]} = {ctx.bind(kernel, 'kernel')}({', '.join(inputs)})")
        elif cpu_kernel is not None:
            lines += self._emit_cpu_kernel(node, inputs, outputs[0], ctx, cpu_kernel)
        elif node.outputs[0].ndim == 0:
            lines += self._emit_scalar_chain(inputs, outputs[0], ctx)
        else:
            lines += self._emit_buffer_chain(inputs, outputs[0], ctx, node.outputs[0])
        return "\n".join(lines)

    def _cpu_kernel(self, node: Apply, ctx: Any) -> Any | None:
        """The numba kernel with ``config.kernels = "numba"`` on the host, when the node is arithmetic only
        (see :mod:`symrnn.compile.numba_kernels`); else None."""
        if getattr(ctx, "kernels", "numpy") != "numba" or not getattr(ctx, "rows_in_place", False):
            return None
        return ctx.numba_kernel(node)  # the code generator compiles it (symrnn.compile.numba_kernels)

    def _emit_cpu_kernel(self, node: Apply, inputs: list[str], output: str, ctx: Any, compiled: Any) -> list[str]:
        """The output (a loop's row when asked, see ``ctx.target``), then one kernel call that fills it."""
        out = node.outputs[0]
        full = next((name for name, v in zip(inputs, node.inputs) if v.ndim == out.ndim and all(
            a != 1 or b == 1 for a, b in zip(v.type.shape, out.type.shape))), None)  # an input as large
        shape = f"{full}.shape" if full is not None else \
            f"xp.broadcast_shapes({', '.join(f'{name}.shape' for name in inputs)})"
        empty = f"xp.empty({shape}, dtype={out.dtype!r})"
        into = ctx.target(out)
        if into is None:
            lines = [f"{output} = {empty}"]
        else:
            ctx.wrote(out)
            lines = [f"{output} = {into}", f"if {output} is None:", f"    {output} = {empty}"]
        return lines + [f"{ctx.bind(compiled, 'numba_kernel')}({output}, {', '.join(inputs)})"]

    def _names(self, inputs: list[str], ctx: Any) -> dict[int, str]:
        return {id(ph): name for ph, name in zip(self.fused_inputs, inputs)}

    def _operand(self, var: Variable, names: dict[int, str], ctx: Any) -> str:
        return ctx.name_of(var) if isinstance(var, Constant) else names[id(var)]

    def _emit_scalar_chain(self, inputs: list[str], output: str, ctx: Any) -> list[str]:
        """0-d values: each op's own expression, one temporary each (nothing to reuse)."""
        names, lines = self._names(inputs, ctx), []
        for inner in self.fused_nodes:
            args = [self._operand(v, names, ctx) for v in inner.inputs]
            tmp = ctx.fresh("f")
            lines.append(f"{tmp} = {fill_template(inner.op.code, args, inner.outputs[0].dtype)}")
            names[id(inner.outputs[0])] = tmp
        lines.append(f"{output} = {names[id(self.fused_output)]}")
        return lines

    def _emit_buffer_chain(self, inputs: list[str], output: str, ctx: Any, result_var: Variable) -> list[str]:
        """n-d values: write each op into a buffer with ``out=``, reusing buffers whose value is dead.

        Every inner value has the output's shape (the fusion rewrite only groups
        nodes with the output's broadcast pattern), so a buffer of the right
        dtype fits any of them.  A value's buffer is freed after its last use;
        an op may write over its own input when its ``out_code`` reads that
        input only in its first statement (an elementwise ufunc may alias).
        When the context has a target for the result (``ctx.target``), the
        buffer that ends up holding it is that array, if its first call can
        write there.
        """
        names = self._names(inputs, ctx)
        last_use: dict[int, int] = {}
        for j, inner in enumerate(self.fused_nodes):
            for v in inner.inputs:
                last_use[id(v)] = j
        last_use[id(self.fused_output)] = len(self.fused_nodes)
        free: dict[str, list[str]] = {}  # dtype -> buffers holding dead values
        holder: dict[int, str] = {}  # inner value -> the buffer that holds it
        made: list[str] = []
        allocation: dict[str, tuple[int, Elemwise, list[str], str]] = {}  # buffer -> the line that makes it
        lines: list[str] = []
        for j, inner in enumerate(self.fused_nodes):
            out_var = inner.outputs[0]
            dtype = out_var.dtype
            args = [self._operand(v, names, ctx) for v in inner.inputs]
            dying = list({id(v): v for v in inner.inputs if id(v) in holder and last_use[id(v)] == j}.values())
            template = inner.op.out_code
            buf = None
            if template is not None:
                statements = template.split("\n")
                for v in dying:  # write over an input that dies here, where the template allows it
                    positions = [k for k, w in enumerate(inner.inputs) if w is v]
                    later = "\n".join(statements[1:])
                    if v.dtype == dtype and not any(f"{{{k}}}" in later for k in positions):
                        buf = holder[id(v)]
                        break
                if buf is None and free.get(dtype):
                    buf = free[dtype].pop()
            if buf is not None:
                lines += [fill_template(s, args, dtype, buf) for s in statements]
            else:
                buf = ctx.fresh("f")
                made.append(buf)
                allocation[buf] = (len(lines), inner.op, args, dtype)
                lines += emit_into_new_buffer(inner.op, args, dtype, buf)
            for v in dying:
                if holder[id(v)] != buf:
                    free.setdefault(v.dtype, []).append(holder[id(v)])
            holder[id(out_var)] = buf
            names[id(out_var)] = buf
        result = holder[id(self.fused_output)]
        into = ctx.target(result_var)
        targeted = into is not None and result in allocation and allocating_call(allocation[result][1]) is not None
        if targeted:
            index, op, args, dtype = allocation[result]
            lines[index] = emit_into_new_buffer(op, args, dtype, result, into)[0]
            ctx.wrote(result_var)
        # In a loop, a buffer whose value dies with the step is allocated by the first step only, and later
        # steps write into it (ctx.step_buffer): every temporary of the chain, and the result when it may be.
        dead = []
        for buf in made:
            index, op, args, dtype = allocation[buf]
            reusable = not (buf == result and targeted) and allocating_call(op) is not None and (
                ctx.step_buffer(buf, result_var) if buf == result else
                ctx.step_buffer(buf, values=result_var.owner.inputs))
            if reusable:
                lines[index] = emit_into_new_buffer(op, args, dtype, buf, buf)[0]
            else:
                dead.append(buf)
        lines.append(f"{output} = {result}")
        if dead:
            lines.append(f"del {', '.join(dead)}")
        return lines


class BlockSum(Op):
    """The sum of all elements of an elementwise value, computed a block of rows at a time, so that the
    value itself (say the ``(T, B, H)`` squares of a loss ``mean(h ** 2)``) is never whole in memory.

    ``element`` is the elementwise node (an :class:`~symrnn.ops.elemwise.Elemwise` or
    :class:`FusedElemwise`) whose output is summed; this op takes that node's inputs.  Made by
    :func:`symrnn.rewrite.fusion.sum_in_blocks`.  The sum of per-block sums rounds a little differently
    from one ``numpy.sum`` of the whole.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.rewrite.fusion import sum_in_blocks
        >>> x = T.tensor3("x")
        >>> [total] = sum_in_blocks([(x * x).sum()])
        >>> str(total.owner.op)
        'block_sum{mul}'
    """

    name = "block_sum"
    ROWS_ELEMENTS = 1 << 14  # elements per block (64 KiB of float32: cache-sized, small next to the whole)

    def __init__(self, element: Apply) -> None:
        self.element = element
        self.signature = ("block_sum", element.op, tuple(v.type for v in element.inputs))

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, BlockSum) and self.signature == other.signature)

    def __hash__(self) -> int:
        return hash(self.signature)

    def __str__(self) -> str:
        summed = str(self.element.op)  # "mul", or "fused{sigmoid,mul}"
        return f"block_sum{summed.removeprefix('fused')}" if summed.startswith("fused{") else f"block_sum{{{summed}}}"

    def make_node(self, *inputs: Any) -> Apply:
        inputs = [as_tensor_variable(v) for v in inputs]
        element = self.element.op.make_node(*inputs)
        if element.outputs[0].type != self.element.outputs[0].type:
            raise GraphTypeError(f"{self}: inputs of other types than the node it was made for")
        return Apply(self, inputs, [TensorType(element.outputs[0].dtype, ())])

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        reason = "block sums are made at compile time, after grad(); take the gradient of the sum it replaced"
        return [grad_undefined(self, i, reason) for i in range(len(node.inputs))]

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (value,) = self.element.op.perform(self.element, inputs)
        return [np.asarray(np.sum(value), dtype=node.outputs[0].dtype)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        out = self.element.outputs[0]
        if not getattr(ctx, "rows_in_place", True):  # a device backend: one kernel over the whole, then a sum
            whole = ctx.fresh("whole")
            return "\n".join([*self.element.op.emit(self.element, inputs, [whole], ctx).splitlines(),
                              f"{outputs[0]} = xp.sum({whole})", f"del {whole}"])
        full = [name for name, v in zip(inputs, node.inputs) if v.ndim == out.ndim and v.type.shape[0] != 1]
        shape = f"xp.broadcast_shapes({', '.join(f'xp.shape({name})' for name in inputs)})"
        n, rows, i, parts, block = (ctx.fresh(h) for h in ("n", "rows", "i", "parts", "block"))
        sliced = [f"{name}[{i}:{i} + {rows}]" if name in full else name for name in inputs]
        names = [ctx.fresh("b") if name in full else name for name in inputs]
        lines = [f"{n} = {shape}",
                 f"{rows} = max(1, {self.ROWS_ELEMENTS} * {n}[0] // max(1, int(np.prod({n}))))",
                 f"{parts} = []",
                 f"for {i} in range(0, {n}[0], {rows}):"]
        lines += [f"    {b} = {s}" for b, s, name in zip(names, sliced, inputs) if name in full]
        emitted = self.element.op.emit(self.element, names, [block], ctx)
        lines += [f"    {line}" for line in emitted.splitlines()]
        lines += [f"    {parts}.append(xp.sum({block}))",
                  f"{outputs[0]} = xp.sum(xp.asarray({parts}, dtype={node.outputs[0].dtype!r}))",
                  f"{' = '.join([block, parts] + [b for b, name in zip(names, inputs) if name in full])} = None"]
        return "\n".join(lines)


__all__ = ["FusedElemwise", "BlockSum"]
