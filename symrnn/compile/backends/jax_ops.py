"""How each op family is written over ``jax.numpy`` for the JAX backend (loops: :mod:`.jax_loops`).

The JAX backend emits the same rewritten graph as the NumPy backend, one
statement per node, but JAX arrays are immutable and ``jax.jit`` traces the
function with abstract values.  So each op family is written here once, as a
*lowering* ``(node, input names, output names, ctx) -> source``, in
:data:`LOWERINGS`, a table by op class:

- ops whose NumPy source is already functional (``x[i:j]``, ``xp.dot``,
  ``xp.transpose``, shape checks) reuse their own ``emit`` (:func:`own_emit`);
- the others are written here: elementwise ops (with exact dtypes), reductions
  (accumulating in NumPy's dtype), ``set/inc_subtensor`` through ``.at[]``,
  ``alloc`` through ``broadcast_to``, softmax, ``split``, random draws through
  ``jax.random``;
- an op with no row is refused at compile time, with its name and the user's line.

**Values known at trace time.**  Under ``jax.jit`` sizes, slice bounds and loop
lengths must be concrete.  ``x.shape`` is concrete under ``jit``, so the
values computed only from shapes, constants and static inputs (those
:data:`STATIC_INPUTS` asks for, and what they are computed from) are computed
on the host by the op's NumPy source while JAX traces the function
(:class:`JaxState`).  0-d integer inputs and shared variables that such a value
needs are passed to ``jax.jit`` as static arguments: each distinct value
compiles once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from symrnn.graph import Apply, Constant, Op, Variable, short_trace
from symrnn.ops.blas import Dot, MatMul
from symrnn.ops.elemwise import Elemwise, emit_checks, fill_template, runtime_checks
from symrnn.ops.fused import BlockSum, FusedElemwise
from symrnn.ops.gradops import SpecifyShape, _GradientIdentity
from symrnn.ops.indexing import SYMBOLIC, IncSubtensor, Subtensor, check_value_fits, index_source
from symrnn.ops.nnet import Softmax
from symrnn.ops.random import RandomDraw, RandomStateDraw, _runtime_shape
from symrnn.ops.reduce import Argmax, ProdOthers, Reduce
from symrnn.ops.shape import Alloc, ARange, DimShuffle, Join, Reshape, Shape, ShapeI, Split

Lowering = Callable[[Apply, list[str], list[str], Any], Any]


class JaxLoweringError(NotImplementedError):
    """An op that the JAX backend cannot write; the message names the op and the line that built it."""


@dataclass
class JaxState:
    """What the JAX backend knows while it emits one function (``ctx.backend_state``).

    ``host``: ids of the values that are NumPy values on the host while JAX
    traces (constants are too); ``needed``: ids of the values that must be
    concrete at trace time; ``static``: positions of the inputs passed to
    ``jax.jit`` as static arguments; ``eager``: the function runs op by op,
    without ``jax.jit`` (a loop with ``until()`` has a data-dependent length).
    """

    needed: set[int]
    host: set[int] = field(default_factory=set)
    static: tuple[int, ...] = ()
    eager: bool = False


def is_host(ctx: Any, var: Variable) -> bool:
    """Whether ``var`` is a NumPy value on the host while the function is traced."""
    return isinstance(var, Constant) or id(var) in ctx.backend_state.host


def device_name(ctx: Any, var: Variable, name: str) -> str:
    """``name``, as a JAX array where it is a host value (for ``.at[]`` and for indexing with traced indices)."""
    return f"xp.asarray({name})" if is_host(ctx, var) else name


def runs_on_host(op: Op) -> bool:
    """Ops that may compute a value at trace time with their NumPy source (not loops, draws or printing)."""
    return not (hasattr(op, "inner_nodes") or isinstance(op, RandomDraw) or op.has_side_effects)


def is_host_node(ctx: Any, node: Apply) -> bool:
    """A node computed on the host at trace time: a shape, or a needed value whose inputs are all host values."""
    if isinstance(node.op, (Shape, ShapeI)):
        return True
    state = ctx.backend_state
    return (runs_on_host(node.op) and any(id(v) in state.needed for v in node.outputs)
            and all(is_host(ctx, v) for v in node.inputs))


# --------------------------------------------------------------------------- which inputs must be concrete


def _slice_inputs(spec: tuple, first: int) -> list[int]:
    """Positions of a subtensor's index inputs that are slice bounds (``x[i:j]``): they set the result's shape."""
    positions, k = [], first
    for entry in spec:
        if entry[0] == "array":
            k += 1
        elif entry[0] == "int":
            k += entry[1] == SYMBOLIC
        elif entry[0] == "slice":
            for part in entry[1:]:
                if part == SYMBOLIC:
                    positions.append(k)
                    k += 1
    return positions


def _draw_inputs(node: Apply) -> list[int]:
    op = node.op
    return [1] * (op.dist == "multinomial") + list(range(3, len(node.inputs)))  # n draws, and the drawn shape


#: Per op class: the positions of the inputs that must be concrete at trace time (sizes, bounds, counts).
STATIC_INPUTS: dict[type, Callable[[Apply], list[int]]] = {
    Subtensor: lambda node: _slice_inputs(node.op.spec, 1),
    IncSubtensor: lambda node: _slice_inputs(node.op.spec, 2),
    Reshape: lambda node: list(range(1, len(node.inputs))),
    Alloc: lambda node: list(range(1, len(node.inputs))),
    ARange: lambda node: [0, 1, 2],
    Split: lambda node: list(range(1, len(node.inputs))),
    SpecifyShape: lambda node: list(range(1, len(node.inputs))),
    RandomDraw: _draw_inputs,
}


def find_in_table(table: dict[type, Any], op: Op) -> Any:
    """The entry of ``table`` for ``op``'s class or its nearest base class, or ``None``."""
    for cls in type(op).__mro__:
        if cls in table:
            return table[cls]
    return None


# --------------------------------------------------------------------------- elementwise


def _compute_dtype(op: Elemwise, dtypes: list[str], out_dtype: str) -> str | None:
    """The dtype an elementwise op computes in, as NumPy would (``None``: a cast, which converts by itself).

    The operands are cast to it, so that JAX's own promotion rules (which
    differ from NumPy's: ``int32 / int32`` is float32) never decide.
    """
    if op.name.startswith("cast_"):
        return None
    common = np.result_type(*[dtypes[i] for i in op.upcast]).name
    if op.out_dtype is None and np.dtype(out_dtype).kind == "f" and np.dtype(common).kind in "biu":
        return out_dtype  # sqrt(int8) is float16, int / int is float64, as in NumPy
    return common


@functools.cache
def _jax_result_dtype(template: str, dtypes: tuple[str, ...], exp_dtype: str) -> str:
    """The dtype JAX gives ``template`` on operands of ``dtypes`` (traced abstractly, 64-bit types on)."""
    import jax
    import jax.numpy as jnp

    names = [f"a{i}" for i in range(len(dtypes))]
    fn = eval(f"lambda {', '.join(names)}: {fill_template(template, names, exp_dtype)}",  # noqa: S307 - our table
              {"xp": jnp, "jax": jax, "np": np})
    switch = getattr(jax, "enable_x64", None)
    if switch is None:  # an older JAX
        from jax.experimental import enable_x64 as switch
    with switch(True):
        out = jax.eval_shape(fn, *[jax.ShapeDtypeStruct((), np.dtype(d)) for d in dtypes])
    return np.dtype(out.dtype).name


def elemwise_expression(op: Elemwise, in_vars: list[Variable], names: list[str], out_dtype: str) -> str:
    """``op`` over ``jax.numpy`` on ``names``, giving exactly ``out_dtype``: operands cast to the dtype NumPy
    computes in, and the result cast where JAX's result would differ (checked once per op and dtypes)."""
    dtypes = [v.dtype for v in in_vars]
    compute = _compute_dtype(op, dtypes, out_dtype)
    args, operand_dtypes = [], []
    for i, (dtype, name) in enumerate(zip(dtypes, names)):
        if compute is not None and i in op.upcast and dtype != compute:
            name, dtype = f"{name}.astype({compute!r})", compute
        args.append(name)
        operand_dtypes.append(dtype)
    template = op.jax_code or op.code
    expression = fill_template(template, args, compute or out_dtype)
    if _jax_result_dtype(template, tuple(operand_dtypes), compute or out_dtype) != out_dtype:
        expression = f"({expression}).astype({out_dtype!r})"
    return expression


def lower_elemwise(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    checks = emit_checks(node, inputs, runtime_checks(node), ctx)  # shapes are concrete: checked at trace time
    return "\n".join(checks + [f"{outputs[0]} = "
                               f"{elemwise_expression(node.op, node.inputs, inputs, node.outputs[0].dtype)}"])


def lower_fused(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    """A fused group as a chain of expressions (XLA fuses them again, into one kernel)."""
    op = node.op
    lines = emit_checks(node, inputs, runtime_checks(node), ctx)
    names = {id(ph): name for ph, name in zip(op.fused_inputs, inputs)}
    for inner in op.fused_nodes:
        args = [ctx.name_of(v) if isinstance(v, Constant) else names[id(v)] for v in inner.inputs]
        temp = ctx.fresh("f")
        lines.append(f"{temp} = {elemwise_expression(inner.op, inner.inputs, args, inner.outputs[0].dtype)}")
        names[id(inner.outputs[0])] = temp
    lines.append(f"{outputs[0]} = {names[id(op.fused_output)]}")
    return "\n".join(lines)


def lower_block_sum(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    """The summed value whole, then one sum (XLA fuses the two)."""
    element = node.op.element
    whole = ctx.fresh("whole")
    lower = lower_fused if isinstance(element.op, FusedElemwise) else lower_elemwise
    return (f"{lower(element, inputs, [whole], ctx)}\n"
            f"{outputs[0]} = xp.sum({whole}, dtype={node.outputs[0].dtype!r})")


# --------------------------------------------------------------------------- reductions, products, nnet


def lower_reduce(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    op, dtype = node.op, node.outputs[0].dtype
    if not op.axis:
        return f"{outputs[0]} = xp.asarray({inputs[0]}, dtype={dtype!r})"
    keep = ", keepdims=True" if op.keepdims else ""
    accumulate = f", dtype={dtype!r}" if op.kind in ("sum", "prod") else ""  # NumPy's: int32 sums in int64
    return f"{outputs[0]} = xp.{op.kind}({inputs[0]}, axis={op.axis!r}{keep}{accumulate})"


def prod_others(x: Any, axis: tuple[int, ...]) -> Any:
    """For each element, the product of the other elements along ``axis`` (``ProdOthers``, over jax.numpy)."""
    import jax.numpy as jnp

    if x.size == 0:
        return jnp.ones_like(x)
    kept = [i for i in range(x.ndim) if i not in axis]
    moved = jnp.transpose(x, kept + list(axis))
    flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
    ones = jnp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    left = jnp.cumprod(jnp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = jnp.cumprod(jnp.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return jnp.transpose((left * right).reshape(moved.shape), tuple(np.argsort(kept + list(axis))))


def lower_prod_others(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    return f"{outputs[0]} = {ctx.bind(prod_others, 'prod_others')}({inputs[0]}, {node.op.axis!r})"


def lower_dot(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    return f"{outputs[0]} = xp.dot({inputs[0]}, {inputs[1]})"


def lower_softmax(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    return f"{outputs[0]} = jax.nn.{'log_softmax' if node.op.log else 'softmax'}({inputs[0]}, axis=-1)"


# --------------------------------------------------------------------------- indexing and shapes


def lower_subtensor(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    x = device_name(ctx, node.inputs[0], inputs[0])
    return f"{outputs[0]} = {x}[{index_source(node.op.spec, inputs[1:])}]"


def update_region(x: Any, y: Any, index: tuple[Any, ...], add: bool) -> Any:
    """``x`` with ``x[index]`` set to ``y`` (or increased by it), as a new array.

    A basic index (integers, and slices of step 1 whose bounds are concrete)
    is one ``lax.dynamic_update_slice`` of the region; any other index goes
    through ``x.at[index]`` (a scatter: repeated integer-array indices
    accumulate under ``add``).  The first form avoids a scatter over a whole
    axis, which XLA's CPU compiler has been seen to abort on.
    """
    import jax.numpy as jnp
    from jax import lax

    x = jnp.asarray(x)
    basic = len(index) <= x.ndim and all(
        (isinstance(item, slice) and item.step in (None, 1)) or (not isinstance(item, slice) and item is not None
                                                                  and np.ndim(item) == 0) for item in index)
    if not basic:
        return x.at[index].add(y) if add else x.at[index].set(y)
    starts: list[Any] = []
    block: list[int] = []
    for axis, item in enumerate(index):
        dim = x.shape[axis]
        if isinstance(item, slice):
            start, stop, _ = item.indices(dim)
            starts.append(start)
            block.append(max(stop - start, 0))
        else:
            if not isinstance(item, jnp.ndarray) and not -dim <= int(item) < dim:  # a concrete index: checked
                raise IndexError(f"index {int(item)} is out of bounds for axis {axis} with size {dim}")
            starts.append(jnp.where(item < 0, item + dim, item))
            block.append(1)
    starts += [0] * (x.ndim - len(index))
    block += list(x.shape[len(index):])
    if 0 in block:
        return x
    region = tuple(size for size, item in zip(block, list(index) + [slice(None)] * x.ndim) if isinstance(item, slice))
    value = jnp.broadcast_to(jnp.asarray(y, dtype=x.dtype), region)
    if add:
        value = x[index] + value
    return lax.dynamic_update_slice(x, value.reshape(block), [jnp.asarray(s) for s in starts])


def lower_inc_subtensor(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    """``set_subtensor``/``inc_subtensor``: a new array with the region written (:func:`update_region`)."""
    op = node.op
    x, y, *idx = inputs
    update = ctx.bind(update_region, "update_region")
    lines = [f"{outputs[0]} = {update}({x}, {y}, {index_source(op.spec, idx, as_tuple=True)}, "
             f"add={op.mode == 'inc'})"]
    scalars = [v for v in node.inputs[2:] if v.ndim == 0]
    if op.runtime_checked_axes(node) and all(is_host(ctx, v) for v in scalars):  # the region's shape is known
        check = ctx.bind(check_value_fits, "check_fits")
        lines.insert(0, f"{check}({ctx.bind(node)}, xp.shape({x}), [{', '.join(idx)}], xp.shape({y}))")
    return "\n".join(lines)


def lower_alloc(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    dims = ", ".join(inputs[1:]) + ("," if len(inputs) == 2 else "")
    value, dtype = node.inputs[0], node.outputs[0].dtype
    if isinstance(value, Constant) and value.data.size == 1 and not value.data.any():
        return f"{outputs[0]} = xp.zeros(({dims}), dtype={dtype!r})"
    return f"{outputs[0]} = xp.broadcast_to(xp.asarray({inputs[0]}, dtype={dtype!r}), ({dims}))"


def lower_join(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    return f"{outputs[0]} = xp.concatenate(({', '.join(inputs)},), axis={node.op.axis})"


def split(node: Apply, x: Any, sizes: list[Any]) -> list[Any]:
    """``Split`` over jax.numpy: the sizes are concrete (static), and checked as ``perform`` checks them."""
    import jax.numpy as jnp

    sizes = [int(s) for s in sizes]
    if sum(sizes) != x.shape[node.op.axis] or any(s < 0 for s in sizes):
        raise ValueError(f"split sizes {sizes} are negative or do not add up to {x.shape[node.op.axis]}")
    return jnp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=node.op.axis)


def lower_split(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    fn = ctx.bind(functools.partial(split, node), "split")
    return f"{', '.join(outputs)}, = {fn}({inputs[0]}, [{', '.join(inputs[1:])}])"


def own_emit(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Any:
    """The op's own source: it reads its inputs and makes new values only, which JAX can run as it is."""
    return node.op.emit(node, inputs, outputs, ctx)


# --------------------------------------------------------------------------- random draws


def random_key(state: Any, draw: int) -> Any:
    """The ``jax.random`` key of one draw: ``(seed, draw id, counter)`` of symrnn's counter-based stream, folded
    into a key, so that (as on NumPy) each call of a function draws fresh numbers and ``seed(n)`` restarts."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    seed, counter = state[0], state[1]
    for word in (seed & 0xFFFFFFFF, seed >> 32, jnp.asarray(draw & 0xFFFFFFFF, dtype="int64"),
                 counter & 0xFFFFFFFF, counter >> 32):
        key = jax.random.fold_in(key, jnp.asarray(word).astype(jnp.uint32))
    return key


def random_draw(op: RandomDraw, state: Any, a: Any, b: Any, *dims: Any) -> Any:
    """One draw of ``op``'s distribution with ``jax.random`` (other numbers than the NumPy backend's)."""
    import jax
    import jax.numpy as jnp

    shape = _runtime_shape(op, a, b, dims)
    key = random_key(state, op.draw)
    dtype = np.dtype(op.dtype)
    floating = dtype if dtype.kind == "f" else np.dtype("float64")
    if op.dist == "multinomial":
        n_draws = int(a)  # a concrete count (STATIC_INPUTS): the number of uniform draws per row
    a, b = jnp.asarray(a), jnp.asarray(b)
    if op.dist == "uniform":
        out = jax.random.uniform(key, shape, floating, minval=a.astype(floating), maxval=b.astype(floating))
    elif op.dist == "normal":
        out = a.astype(floating) + b.astype(floating) * jax.random.normal(key, shape, floating)
    elif op.dist == "binomial":
        out = jax.random.binomial(key, jnp.broadcast_to(a, shape).astype(floating),
                                  jnp.broadcast_to(b, shape).astype(floating), shape)
    elif op.dist == "random_integers":
        out = jax.random.randint(key, shape, a.astype("int64"), b.astype("int64") + 1, dtype="int64")
    else:  # multinomial: n uniform draws per row, each picking the first category whose cumulative p exceeds it
        cumulative = jnp.cumsum(jnp.broadcast_to(b, shape), axis=-1)
        u = jax.random.uniform(key, (n_draws, *shape[:-1]), cumulative.dtype)
        below = u[..., None] < cumulative
        first = jnp.arange(shape[-1]) == jnp.argmax(below, axis=-1)[..., None]
        out = (first & jnp.any(below, axis=-1, keepdims=True)).sum(axis=0)
    return out.astype(dtype)


def lower_random(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
    fn = ctx.bind(functools.partial(random_draw, node.op), f"random_{node.op.dist}")
    return f"{outputs[0]} = {fn}({', '.join(inputs)})"


def refuse(reason: str) -> Lowering:
    """A row that refuses the op at compile time, with ``reason`` (what to do instead)."""

    def lower(node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Any:
        raise JaxLoweringError(f"the JAX backend cannot compile {node.op} (built at {short_trace(node.trace)}): "
                               f"{reason}")

    return lower


def refuse_unknown(node: Apply) -> JaxLoweringError:
    """The error for an op that has no row in the table."""
    return JaxLoweringError(
        f"the JAX backend has no lowering for {node.op} ({type(node.op).__name__}, built at "
        f"{short_trace(node.trace)}); compile this function with backend='numpy', or add a row for the op to "
        f"symrnn/compile/backends/jax_ops.py (LOWERINGS)")


#: Per op class: how it is written over jax.numpy.  Loops (``Scan``, ``IfElse``) are added by the backend.
LOWERINGS: dict[type, Lowering] = {
    Elemwise: lower_elemwise,
    FusedElemwise: lower_fused,
    BlockSum: lower_block_sum,
    Reduce: lower_reduce,
    ProdOthers: lower_prod_others,
    Argmax: own_emit,
    Dot: lower_dot,
    MatMul: own_emit,
    Softmax: lower_softmax,
    Subtensor: lower_subtensor,
    IncSubtensor: lower_inc_subtensor,
    Shape: own_emit,
    ShapeI: own_emit,
    Reshape: own_emit,
    DimShuffle: own_emit,
    Alloc: lower_alloc,
    ARange: own_emit,
    Join: lower_join,
    Split: lower_split,
    _GradientIdentity: own_emit,
    SpecifyShape: own_emit,
    RandomDraw: lower_random,
    RandomStateDraw: refuse("Theano's RandomStreams (symrnn.tensor.shared_randomstreams) draws with NumPy's "
                            "RandomState, which has no JAX form; use symrnn's counter-based RandomStreams "
                            "(symrnn.ops.random.RandomStreams, or MRG_RandomStreams), which JAX draws with "
                            "jax.random"),
}

__all__ = ["JaxState", "JaxLoweringError", "LOWERINGS", "STATIC_INPUTS", "find_in_table", "is_host",
           "is_host_node", "runs_on_host", "elemwise_expression", "refuse_unknown"]
