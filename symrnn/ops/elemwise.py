"""Elementwise ops with NumPy broadcasting on static shapes.

Each op is one row below: its name, arity, NumPy reference, emitted source
template and gradient.  A gradient rule receives the node's inputs, its output
and the output gradient, and returns one gradient per input *at the output's
shape*; :func:`symrnn.autodiff.grad` sums each back to its input's shape (undoing
the broadcast) and casts it to the input's dtype.

Elementwise ops are the lowest op family: the others build on them, and they
use no other family (``docs/architecture.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import (
    FLOAT_DTYPES,
    Apply,
    Constant,
    GraphShapeError,
    GraphTypeError,
    Op,
    TensorType,
    Variable,
    _normalize_dtype,
    as_tensor_variable,
    constant,
    op_error,
)

GradRule = Callable[..., Sequence[Any]]


def broadcast_static_shapes(op: Any, inputs: Sequence[Variable]) -> tuple[int | None, ...]:
    """NumPy's broadcasting on static shapes: known sizes must agree unless one is 1."""
    ndim = max((v.ndim for v in inputs), default=0)
    padded = [(1,) * (ndim - v.ndim) + v.type.shape for v in inputs]
    out: list[int | None] = []
    for axis in range(ndim):
        sizes = {p[axis] for p in padded}
        known = {s for s in sizes if s is not None and s != 1}
        if len(known) > 1:
            shapes = " and ".join(str(v.type.shape) for v in inputs)
            raise op_error(op, inputs, f"shapes {shapes} cannot be broadcast together (axis {axis}: "
                                       f"sizes {sorted(known)})", GraphShapeError)
        if known:
            out.append(known.pop())
        elif None in sizes:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _fits(value: np.ndarray, dtype: str) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(value.astype(dtype) == value))


def harmonize_weak(inputs: Sequence[Variable]) -> list[Variable]:
    """Give weak (Python-scalar) constants the dtype of the strong operands, as NumPy 2 does."""
    strong = [v.dtype for v in inputs if not (isinstance(v, Constant) and v.weak)]
    if not strong or len(strong) == len(inputs):
        return list(inputs)
    common = np.result_type(*strong).name
    out = []
    for v in inputs:
        if isinstance(v, Constant) and v.weak:
            target = common
            if v.dtype in FLOAT_DTYPES and common not in FLOAT_DTYPES:
                target = np.result_type(common, config.floatX).name
            elif v.dtype == "int64" and common == "bool":
                target = "int64"
            elif not _fits(v.data, target):
                target = np.result_type(common, np.min_scalar_type(v.data.item())).name
            v = constant(v.data.astype(target))
        out.append(v)
    return out


class Elemwise(Op):
    """An elementwise op defined by a spec: NumPy reference, source template and gradient rule.

    ``code`` is a format string over the input names, e.g. ``"{0} + {1}"``; the
    array module is ``xp``.  ``out_dtype`` fixes the output dtype (comparisons
    give ``bool``); otherwise NumPy's own type resolution decides.

    Two more templates serve elementwise fusion (:mod:`symrnn.ops.fused`):

    - ``c_code``: the op as a CUDA C expression over ``{0}, {1}, ...``, with
      ``{T}`` the C type it computes in (the operands arrive already cast to
      it); helpers named ``symrnn_*`` are defined in :data:`C_PREAMBLE`;
    - ``out_code``: NumPy statements that write the result into an existing
      buffer ``{out}`` (``out=``), so that a fused chain reuses one buffer.  A
      NumPy ufunc gets ``xp.<ufunc>({0}, ..., out={out})`` by default.

    ``jax_code``: the op over ``jax.numpy`` (``xp``) and ``jax`` for the JAX
    backend, where ``code`` does not serve (``None``: ``code`` is used as it is).

    Two more columns: ``conditions`` lists the inputs read as truth values
    (``switch``'s first): a number there means "non-zero is true", as in
    Theano, and ``make_node`` turns it into ``x != 0``, so that every emitter
    (NumPy's ``where=``, numba, CUDA C) receives a bool; ``comparison`` marks
    ops whose result refuses ``bool()`` (see ``Variable.__bool__``).

    An op made by a row of this table pickles by its name (its gradient rule is
    a lambda); :class:`Cast` pickles by its dtype.
    """

    __props__ = ("name",)
    grads_at_output_shape = True  # grad() sums each gradient back to its input's shape and casts it

    def __init__(self, name: str, nin: int, impl: Callable[..., Any], code: str,
                 grad_rule: GradRule | None = None, out_dtype: str | None = None,
                 upcast: tuple[int, ...] | None = None, input_kinds: str = "biuf",
                 c_code: str | None = None, out_code: str | None = None, conditions: tuple[int, ...] = (),
                 comparison: bool = False, jax_code: str | None = None) -> None:
        self.name = name
        self.nin = nin
        self.impl = impl
        self.code = code
        self.grad_rule = grad_rule
        self.out_dtype = out_dtype
        self.upcast = tuple(range(nin)) if upcast is None else upcast
        self.input_kinds = input_kinds
        self.c_code = c_code
        self.jax_code = jax_code
        self.conditions = conditions
        self.comparison = comparison
        if out_code is None and isinstance(impl, np.ufunc) and getattr(np, impl.__name__, None) is impl:
            args = ", ".join(f"{{{i}}}" for i in range(nin))
            out_code = f"xp.{impl.__name__}({args}, out={{out}})"
        self.out_code = out_code

    def __reduce_ex__(self, protocol: Any) -> Any:
        """A row of the table is pickled (and deep-copied) by name, as the module's own op: its gradient
        rule is a lambda, which pickle cannot save.  Any other instance pickles its attributes."""
        if _ROWS.get(self.name) is self:
            return _row, (self.name,)
        return super().__reduce_ex__(protocol)

    def output_dtype(self, dtypes: Sequence[str]) -> str:
        if self.out_dtype is not None:
            return self.out_dtype
        key = tuple(dtypes)
        cache = self.__dict__.setdefault("_dtype_cache", {})  # probing NumPy is slow; graphs rebuild often
        if key not in cache:
            with np.errstate(all="ignore"):
                probe = self.impl(*[np.ones((), dtype=d) for d in dtypes])
            cache[key] = np.asarray(probe).dtype.name
        return cache[key]

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != self.nin:
            raise op_error(self, [], f"takes {self.nin} input(s), got {len(inputs)}")
        inputs = [as_tensor_variable(v) for v in inputs]
        for i in self.conditions:  # a number read as a truth value: non-zero is true, as in Theano
            if inputs[i].dtype != "bool":
                inputs[i] = neq(inputs[i], 0)
        positions = list(self.upcast)
        harmonized = harmonize_weak([inputs[i] for i in positions])
        for i, v in zip(positions, harmonized):
            inputs[i] = v
        if self.input_kinds == "f":  # a float-only op computes on integers in NumPy's float for them
            inputs = [v if v.dtype in FLOAT_DTYPES else cast(v, np.result_type(v.dtype, np.float16))
                      for v in inputs]
        for v in inputs:
            if np.dtype(v.dtype).kind not in self.input_kinds:
                raise op_error(self, inputs, f"does not accept dtype {v.dtype}")
        shape = broadcast_static_shapes(self, inputs)
        try:
            dtype = self.output_dtype([v.dtype for v in inputs])
        except TypeError as exc:
            raise op_error(self, inputs, f"NumPy does not support these dtypes ({exc})") from None
        return Apply(self, inputs, [TensorType(dtype, shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        perform_checks(node, inputs, runtime_checks(node))
        return [np.asarray(self.impl(*inputs), dtype=node.outputs[0].dtype)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        checks = emit_checks(node, inputs, runtime_checks(node), ctx)
        out = node.outputs[0]
        dtype = out.dtype
        into = ctx.target(out) if out.ndim > 0 and allocating_call(self) is not None else None
        if into is not None:
            ctx.wrote(out)
            return "\n".join(checks + emit_into_new_buffer(self, inputs, dtype, outputs[0], into))
        if out.ndim > 0 and allocating_call(self) is not None and ctx.step_buffer(outputs[0], out):
            # in a loop, into the array the previous step made (None on the first step)
            return "\n".join(checks + emit_into_new_buffer(self, inputs, dtype, outputs[0], outputs[0]))
        if out.ndim > 0 and self.out_code is not None and "\n" in self.out_code:
            return "\n".join(checks + emit_into_new_buffer(self, inputs, dtype, outputs[0]))  # no temporaries
        return "\n".join(checks + [f"{outputs[0]} = {fill_template(self.code, inputs, dtype)}"])

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (out,), (g,) = node.outputs, output_grads
        if self.grad_rule is None:
            return [None] * self.nin
        # At the output's shape and dtype: grad() sums each back to its input's shape and casts it.
        raw = self.grad_rule(*node.inputs, out, g)
        return [gx if x.dtype in FLOAT_DTYPES else None  # no gradient flows into integers or booleans
                for x, gx in zip(node.inputs, raw)]


def fill_template(template: str, args: Sequence[str], dtype: str, out: str | None = None) -> str:
    """A ``code`` or ``out_code`` template with its operands ``{0}, {1}, ...`` and buffer ``{out}`` filled in.

    ``{exp_max}`` is the largest argument ``exp`` takes in ``dtype`` without
    overflowing (88 for float32), for ops that must clamp before ``exp``.

    Example::

        >>> fill_template("xp.exp(xp.minimum({0}, {exp_max}))", ["x"], "float32")
        'xp.exp(xp.minimum(x, 88.0))'
    """
    return template.format(*args, out=out, exp_max=_exp_max(dtype))


_ALLOCATING_FIRST = re.compile(r"^(?P<call>.*), out=\{out\}\)$")


def allocating_call(op: Elemwise) -> str | None:
    """The template of ``op``'s ``out_code`` first ufunc call without its ``out=`` (``xp.tanh({0}``), when
    that call can allocate the result or write it where it is told; else None."""
    if op.out_code is None:
        return None
    first = _ALLOCATING_FIRST.match(op.out_code.split("\n")[0])
    return None if first is None or "{out}" in first.group("call") else first.group("call")


def emit_into_new_buffer(op: Elemwise, args: Sequence[str], dtype: str, buf: str,
                         into: str | None = None) -> list[str]:
    """Source lines that compute ``op`` on ``args`` into a new array ``buf``.

    With an ``out_code`` whose first statement is a ufunc call, that call
    allocates ``buf`` and the other statements write into it with ``out=``
    (a sigmoid is four ufunc calls and one allocation); otherwise ``buf`` is the
    value of ``code``.  With ``into`` (source of an array, or of ``None`` at run
    time), the first call writes there instead of allocating: the caller must
    check :func:`allocating_call` first.

    Example::

        >>> from symrnn.ops.elemwise import tanh
        >>> emit_into_new_buffer(tanh.op, ["x"], "float32", "y", into="rows[t]")
        ['y = xp.tanh(x, out=rows[t])']
    """
    call = allocating_call(op)
    if call is None:
        return [f"{buf} = {fill_template(op.code, args, dtype)}"]
    where = f", out={into}" if into is not None else ""
    return [f"{buf} = {fill_template(call, args, dtype)}{where})"] + [
        fill_template(statement, args, dtype, buf) for statement in op.out_code.split("\n")[1:]]


def _exp_max(dtype: str) -> float:
    kind = np.dtype(dtype)
    return float(np.floor(np.log(np.finfo(kind).max))) if kind.kind == "f" else 709.0


def runtime_checks(node: Apply) -> list[tuple[int, list[tuple[int, int]]]]:
    """The output axes whose runtime sizes must be compared (see :func:`broadcast_checks`)."""
    checks = []
    for axis, members in broadcast_checks([v.type.shape for v in node.inputs], node.outputs[0].ndim):
        unique = list({id(node.inputs[i]): (i, a) for i, a in members}.values())  # x * x needs no check
        if len(unique) > 1:
            checks.append((axis, unique))
    return checks


def broadcast_checks(shapes: Sequence[Sequence[int | None]], ndim: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """For static ``shapes`` broadcast to ``ndim`` axes: ``(axis, [(input, input_axis), ...])`` to compare at runtime.

    Broadcasting follows from static 1s only.  Along an axis, every input whose
    static size is not 1 must have the same runtime size; that needs a runtime
    check when one of those sizes is unknown (``None``).
    """
    checks = []
    for axis in range(ndim):
        members, sizes = [], []
        for i, shape in enumerate(shapes):
            own = axis - (ndim - len(shape))
            if own >= 0 and shape[own] != 1:
                members.append((i, own))
                sizes.append(shape[own])
        if len(members) > 1 and None in sizes:
            checks.append((axis, members))
    return checks


def emit_checks(node: Apply, inputs: list[str], checks: list[tuple[int, list[tuple[int, int]]]], ctx: Any) -> list[str]:
    """One source line that calls :func:`broadcast_error` when runtime sizes disagree (none if nothing to check)."""
    if not checks:
        return []
    ndim = node.outputs[0].ndim
    members = {i for _, m in checks for i, _ in m}
    if len(checks) == ndim and all({i for i, _ in m} == members for _, m in checks) and all(
            node.inputs[i].ndim == ndim for i in members):
        condition = " == ".join(f"{inputs[i]}.shape" for i in sorted(members))  # whole shapes must agree
    else:
        condition = " and ".join(" == ".join(f"{inputs[i]}.shape[{a}]" for i, a in m) for _, m in checks)
    shapes = ", ".join(f"xp.shape({name})" for name in inputs)
    first_step = ctx.once_per_loop(node.inputs)
    when = f"{first_step} and " if first_step else ""  # shapes that cannot change: checked on the first step
    return [f"if {when}not ({condition}): {ctx.bind(broadcast_error, 'fail')}({ctx.bind(node)}, [{shapes}], "
            f"{ctx.bind(checks, 'checks')})"]


def perform_checks(node: Apply, inputs: Sequence[Any], checks: list[tuple[int, list[tuple[int, int]]]]) -> None:
    """What :func:`emit_checks` emits, for ``perform``."""
    shapes = [np.shape(v) for v in inputs]
    if any(len({shapes[i][a] for i, a in members}) > 1 for _, members in checks):
        broadcast_error(node, shapes, checks)


def broadcast_error(node: Apply, shapes: Sequence[tuple[int, ...]],
                    checks: list[tuple[int, list[tuple[int, int]]]]) -> None:
    """Raise the error for inputs whose runtime shapes do not fit (only static 1s broadcast)."""
    axis = next(axis for axis, members in checks if len({shapes[i][a] for i, a in members}) > 1)
    raise ValueError(f"{node.op}: runtime shapes {', '.join(map(str, shapes))} do not match along axis {axis}; "
                     f"only dimensions that are statically 1 broadcast (declare one with T.row/T.col, "
                     f"shape=(1, None) or dimshuffle('x', ...))")


_ROWS: dict[str, Elemwise] = {}  # the table's ops by name: how an op is found again when unpickled


def _row(name: str) -> Elemwise:
    """The op of the table's row ``name`` (what an unpickled elementwise op is)."""
    return _ROWS[name]


def _elemwise(name: str, nin: int, impl: Callable[..., Any], code: str, grad_rule: GradRule | None = None,
              doc: str = "", **kwargs: Any) -> Callable[..., Variable]:
    op = Elemwise(name, nin, impl, code, grad_rule, **kwargs)
    if name in _ROWS:
        raise ValueError(f"two elementwise rows are named {name!r}")
    _ROWS[name] = op

    def apply(*inputs: Any) -> Variable:
        return op(*inputs)

    apply.__name__ = name
    apply.__qualname__ = name
    apply.__doc__ = doc or f"Elementwise ``{name}`` with NumPy broadcasting."
    apply.op = op  # type: ignore[attr-defined]
    return apply


def _flat(*inputs: Variable) -> list[None]:
    """The gradient rule of a piecewise-constant op: no gradient flows (zero almost everywhere), as for
    comparisons and ``argmax``; ``grad`` gives zeros for a variable that only such ops reach."""
    return [None] * (len(inputs) - 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Numerically stable in both tails, unlike 1 / (1 + exp(-x)) for large negative x.
    return np.exp(-np.logaddexp(0, -x))


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 0.2 + 0.5, 0, 1)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


# ---- arithmetic
add = _elemwise("add", 2, np.add, "{0} + {1}", lambda x, y, z, g: [g, g], "``x + y``.",
    input_kinds="biufc", c_code="{0} + {1}")
sub = _elemwise("sub", 2, np.subtract, "{0} - {1}", lambda x, y, z, g: [g, neg(g)], "``x - y``.",
    input_kinds="biufc", c_code="{0} - {1}")
mul = _elemwise("mul", 2, np.multiply, "{0} * {1}", lambda x, y, z, g: [mul(g, y), mul(g, x)], "``x * y``.",
    input_kinds="biufc", c_code="{0} * {1}")
true_div = _elemwise(
    "true_div", 2, np.true_divide, "{0} / {1}",
    lambda x, y, z, g: [true_div(g, y), neg(true_div(mul(g, z), y))], "``x / y`` (true division).",
    input_kinds="biufc", c_code="{0} / {1}")
int_div = _elemwise(
    "int_div", 2, np.floor_divide, "{0} // {1}", _flat,
    "``x // y`` (floor division); its gradient is zero almost everywhere.",
    c_code="symrnn_floordiv({0}, {1})")
mod = _elemwise(
    "mod", 2, np.mod, "{0} % {1}", lambda x, y, z, g: [g, neg(mul(g, floor(true_div(x, y))))],
    "``x % y`` with Python's sign convention.",
    c_code="symrnn_mod({0}, {1})")
neg = _elemwise("neg", 1, np.negative, "-{0}", lambda x, z, g: [neg(g)], "``-x``.",
    input_kinds="biufc", c_code="-{0}")
pow = _elemwise(
    "pow", 2, np.power, "{0} ** {1}",
    # d/dx is 0 where y == 0 (not 0 * 0 ** -1), and d/dy is 0 where x == 0 (not 0 * log(0)), as in PyTorch
    lambda x, y, z, g: [mul(g, mul(y, pow(switch(eq(y, 0), 1, x), sub(y, 1)))),
                        mul(g, mul(z, log(switch(eq(x, 0), 1, x))))],
    "``x ** y``.",
    input_kinds="biufc", c_code="symrnn_pow({0}, {1})")
maximum = _elemwise(
    "maximum", 2, np.maximum, "xp.maximum({0}, {1})",
    lambda x, y, z, g: [mul(g, ge(x, y)), mul(g, lt(x, y))],
    "Elementwise maximum; at ties the gradient goes to the first input.",
    c_code="symrnn_maximum({0}, {1})")
minimum = _elemwise(
    "minimum", 2, np.minimum, "xp.minimum({0}, {1})",
    lambda x, y, z, g: [mul(g, le(x, y)), mul(g, gt(x, y))],
    "Elementwise minimum; at ties the gradient goes to the first input.",
    c_code="symrnn_minimum({0}, {1})")
clip = _elemwise(
    "clip", 3, np.clip, "xp.clip({0}, {1}, {2})",
    lambda x, lo, hi, z, g: [mul(g, and_(ge(x, lo), le(x, hi))), mul(g, lt(x, lo)), mul(g, gt(x, hi))],
    "``clip(x, lo, hi)``: ``x`` limited to ``[lo, hi]``.",
    c_code="symrnn_minimum(symrnn_maximum({0}, {1}), {2})", out_code="xp.clip({0}, {1}, {2}, out={out})")

# ---- unary math
exp = _elemwise("exp", 1, np.exp, "xp.exp({0})", lambda x, z, g: [mul(g, z)], "``e ** x``.",
    input_kinds="biufc", c_code="exp({0})")
_log = _elemwise("log", 1, np.log, "xp.log({0})", lambda x, z, g: [true_div(g, x)], "Natural logarithm.",
    input_kinds="biufc", c_code="log({0})")


def _op_name(var: Variable) -> str | None:
    return getattr(var.owner.op, "name", None) if var.owner is not None else None


def _is_constant(var: Variable, value: float) -> bool:
    return isinstance(var, Constant) and var.data.size >= 1 and bool(np.all(var.data == value))


def sigmoid_argument(var: Variable) -> Variable | None:
    """``z`` if ``var`` is ``sigmoid(z)`` or the spelled-out ``1 / (1 + exp(-z))``."""
    if _op_name(var) == "sigmoid":
        return var.owner.inputs[0]
    if _op_name(var) == "true_div" and _is_constant(var.owner.inputs[0], 1):
        denominator = var.owner.inputs[1]
        if _op_name(denominator) == "add":
            one, e = denominator.owner.inputs
            if not _is_constant(one, 1):
                one, e = e, one
            if _is_constant(one, 1) and _op_name(e) == "exp":
                u = e.owner.inputs[0]  # 1 / (1 + exp(u)) is sigmoid(-u)
                return u.owner.inputs[0] if _op_name(u) == "neg" else neg(u)
    return None


def stable_log_of(arg: Variable) -> Variable | None:
    """``-softplus(-z)`` for ``log(sigmoid(z))``, ``-softplus(z)`` for ``log(1 - sigmoid(z))``, else None."""
    z = sigmoid_argument(arg)
    if z is not None:
        new = neg(softplus(neg(z)))
    elif _op_name(arg) == "sub" and _is_constant(arg.owner.inputs[0], 1) and \
            sigmoid_argument(arg.owner.inputs[1]) is not None:
        new = neg(softplus(sigmoid_argument(arg.owner.inputs[1])))
    else:
        return None
    return new if new.type == arg.type else None


def log(x: Any) -> Variable:
    """Natural logarithm.  ``log(sigmoid(z))`` and ``log(1 - sigmoid(z))`` (also spelled out as
    ``1 / (1 + exp(-z))``) are built as ``-softplus(-z)`` and ``-softplus(z)``, so that neither the value
    nor its gradient overflows, as Theano's stabilizing rewrites arranged."""
    x = as_tensor_variable(x)
    stable = stable_log_of(x)
    return stable if stable is not None else _log(x)


log.op = _log.op  # type: ignore[attr-defined]
log1p = _elemwise("log1p", 1, np.log1p, "xp.log1p({0})", lambda x, z, g: [true_div(g, add(x, 1))], "``log(1 + x)``.",
    c_code="log1p({0})")
expm1 = _elemwise("expm1", 1, np.expm1, "xp.expm1({0})", lambda x, z, g: [mul(g, add(z, 1))], "``exp(x) - 1``.",
    c_code="expm1({0})")
sqrt = _elemwise("sqrt", 1, np.sqrt, "xp.sqrt({0})", lambda x, z, g: [true_div(mul(g, 0.5), z)], "Square root.",
    c_code="sqrt({0})")
sqr = _elemwise("sqr", 1, np.square, "xp.square({0})", lambda x, z, g: [mul(g, mul(x, 2))], "``x * x``.",
    input_kinds="biufc", c_code="{0} * {0}")
abs_ = _elemwise("abs", 1, np.abs, "xp.abs({0})", lambda x, z, g: [mul(g, sign(x))], "Absolute value.",
    input_kinds="biufc", c_code="symrnn_abs({0})")
sign = _elemwise("sign", 1, np.sign, "xp.sign({0})", _flat, "Sign: -1, 0 or 1.",
    c_code="symrnn_sign({0})")
floor = _elemwise("floor", 1, np.floor, "xp.floor({0})", _flat, "Round down.",
    c_code="symrnn_floor({0})")
ceil = _elemwise("ceil", 1, np.ceil, "xp.ceil({0})", _flat, "Round up.",
    c_code="symrnn_ceil({0})")
round_ = _elemwise("round", 1, np.round, "xp.round({0})", _flat,
                   "Round half to even, as NumPy does.",
    c_code="symrnn_rint({0})", out_code="xp.round({0}, out={out})")
sin = _elemwise("sin", 1, np.sin, "xp.sin({0})", lambda x, z, g: [mul(g, cos(x))], "Sine.",
    c_code="sin({0})")
cos = _elemwise("cos", 1, np.cos, "xp.cos({0})", lambda x, z, g: [neg(mul(g, sin(x)))], "Cosine.",
    c_code="cos({0})")
tanh = _elemwise("tanh", 1, np.tanh, "xp.tanh({0})", lambda x, z, g: [mul(g, sub(1, mul(z, z)))],
                 "Hyperbolic tangent.",
    c_code="tanh({0})")
sigmoid = _elemwise(
    # 1/(1+exp(-x)) is accurate in both tails.  Where exp(-x) overflows the result is 1/inf = 0, which
    # changes only results below the dtype's normal range: the expression form caps -x at exp's overflow
    # point, and the out= form ignores the overflow instead (np.errstate costs a third of np.minimum's
    # NaN-aware pass).  Four ufunc calls into one buffer are several times faster than any
    # exp(-|x|)/where form.
    "sigmoid", 1, _sigmoid, "xp.reciprocal(1 + xp.exp(xp.minimum(-{0}, {exp_max})))",
    lambda x, z, g: [mul(g, mul(z, sub(1, z)))],
    "The logistic function ``1 / (1 + exp(-x))``, stable for large ``|x|``.", input_kinds="f",
    c_code="symrnn_sigmoid({0})", jax_code="jax.nn.sigmoid({0})",
    out_code="xp.negative({0}, out={out})\nwith np.errstate(over='ignore'): xp.exp({out}, out={out})\n"
             "xp.add({out}, 1, out={out})\nxp.reciprocal({out}, out={out})")
hard_sigmoid = _elemwise(
    "hard_sigmoid", 1, _hard_sigmoid, "xp.clip({0} * 0.2 + 0.5, 0, 1)",
    lambda x, z, g: [mul(g, mul(and_(gt(z, 0), lt(z, 1)), 0.2))],
    "Piecewise-linear sigmoid ``clip(0.2 x + 0.5, 0, 1)``, as in Theano.", input_kinds="f",
    c_code="symrnn_minimum(symrnn_maximum({0} * (({T})0.2) + (({T})0.5), ({T})0), ({T})1)",
    out_code="xp.multiply({0}, 0.2, out={out})\nxp.add({out}, 0.5, out={out})\nxp.clip({out}, 0, 1, out={out})")
softplus = _elemwise("softplus", 1, _softplus, "xp.maximum({0}, 0) + xp.log1p(xp.exp(-xp.abs({0})))",
                     lambda x, z, g: [mul(g, sigmoid(x))],
                     "``log(1 + exp(x))``, stable for large ``x``.", input_kinds="f",
    c_code="log1p(exp(-fabs({0}))) + symrnn_maximum({0}, ({T})0)", jax_code="jax.nn.softplus({0})",
    out_code="xp.copyto({out}, xp.maximum({0}, 0) + xp.log1p(xp.exp(-xp.abs({0}))))")
_relu_op = _elemwise("relu", 1, _relu, "xp.maximum({0}, 0)", lambda x, z, g: [mul(g, gt(x, 0))],
                     "Rectified linear unit ``max(x, 0)``.",
    c_code="symrnn_maximum({0}, ({T})0)", out_code="xp.maximum({0}, 0, out={out})")

# ---- complex numbers (no gradient flows into a complex value; on a real value these are the identity or 0)
real = _elemwise("real", 1, np.real, "xp.array(xp.real({0}))", lambda x, z, g: [g], "The real part.",
                 input_kinds="biufc")
imag = _elemwise("imag", 1, np.imag, "xp.array(xp.imag({0}))", _flat, "The imaginary part.", input_kinds="biufc")
conj = _elemwise("conj", 1, np.conjugate, "xp.conjugate({0})", lambda x, z, g: [g], "The complex conjugate.",
                 input_kinds="biufc")
angle = _elemwise("angle", 1, np.angle, "xp.angle({0})", _flat, "The argument (angle) of a complex number.",
                  input_kinds="biufc")

# ---- comparisons and logic (no gradient: their outputs are bool)
lt = _elemwise("lt", 2, np.less, "{0} < {1}", out_dtype="bool", comparison=True, doc="``x < y``.",
    c_code="{0} < {1}")
gt = _elemwise("gt", 2, np.greater, "{0} > {1}", out_dtype="bool", comparison=True, doc="``x > y``.",
    c_code="{0} > {1}")
le = _elemwise("le", 2, np.less_equal, "{0} <= {1}", out_dtype="bool", comparison=True, doc="``x <= y``.",
    c_code="{0} <= {1}")
ge = _elemwise("ge", 2, np.greater_equal, "{0} >= {1}", out_dtype="bool", comparison=True, doc="``x >= y``.",
    c_code="{0} >= {1}")
eq = _elemwise("eq", 2, np.equal, "{0} == {1}", out_dtype="bool", comparison=True, doc="Elementwise ``x == y``.",
    input_kinds="biufc", c_code="{0} == {1}")
neq = _elemwise("neq", 2, np.not_equal, "{0} != {1}", out_dtype="bool", comparison=True, doc="Elementwise ``x != y``.",
    input_kinds="biufc", c_code="{0} != {1}")
isnan = _elemwise("isnan", 1, np.isnan, "xp.isnan({0})", out_dtype="bool", doc="Elementwise NaN test.",
    c_code="symrnn_isnan({0})")
and_ = _elemwise("and", 2, np.bitwise_and, "{0} & {1}", input_kinds="biu", doc="Bitwise/logical and.",
    c_code="{0} & {1}")
or_ = _elemwise("or", 2, np.bitwise_or, "{0} | {1}", input_kinds="biu", doc="Bitwise/logical or.",
    c_code="{0} | {1}")
xor = _elemwise("xor", 2, np.bitwise_xor, "{0} ^ {1}", input_kinds="biu", doc="Bitwise/logical xor.",
    c_code="{0} ^ {1}")
invert = _elemwise("invert", 1, np.invert, "~{0}", input_kinds="biu", doc="Bitwise/logical not.",
    c_code="symrnn_invert({0})")
switch = _elemwise(
    "switch", 3, np.where, "xp.where({0}, {1}, {2})",
    lambda c, a, b, z, g: [None, switch(c, g, 0), switch(c, 0, g)],
    "``switch(cond, a, b)``: ``a`` where ``cond`` is true (non-zero), else ``b``.", upcast=(1, 2),
    conditions=(0,),
    c_code="{0} ? {1} : {2}", out_code="xp.copyto({out}, {2})\nxp.copyto({out}, {1}, where={0})")


# CUDA C helpers used by the ``c_code`` templates above, where one C operator does not match NumPy:
# floor division and modulo follow Python's signs (and give 0 for an integer division by zero, as NumPy
# does), maximum/minimum propagate NaN, ``~`` on bool is logical not.  Overloads pick float or integer forms.
C_PREAMBLE = r"""
template <typename T> __device__ __forceinline__ T symrnn_floordiv(T a, T b) {
    if (b == 0) return T(0);
    T q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? T(q - 1) : q;
}
__device__ __forceinline__ float symrnn_floordiv(float a, float b) { return floorf(a / b); }
__device__ __forceinline__ double symrnn_floordiv(double a, double b) { return floor(a / b); }
template <typename T> __device__ __forceinline__ T symrnn_mod(T a, T b) {
    if (b == 0) return T(0);
    T r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
}
__device__ __forceinline__ float symrnn_mod(float a, float b) {
    float r = fmodf(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
__device__ __forceinline__ double symrnn_mod(double a, double b) {
    double r = fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
template <typename T> __device__ __forceinline__ T symrnn_pow(T a, T b) {
    T result = 1;
    if (b < 0) return T(0);  /* NumPy raises for integers to negative powers */
    while (b) { if (b & 1) result *= a; a *= a; b >>= 1; }
    return result;
}
__device__ __forceinline__ float symrnn_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double symrnn_pow(double a, double b) { return pow(a, b); }
/* floor, ceil and round leave integers as they are (NumPy 2 keeps their dtype); round is half to even */
template <typename T> __device__ __forceinline__ T symrnn_floor(T a) { return a; }
__device__ __forceinline__ float symrnn_floor(float a) { return floorf(a); }
__device__ __forceinline__ double symrnn_floor(double a) { return floor(a); }
template <typename T> __device__ __forceinline__ T symrnn_ceil(T a) { return a; }
__device__ __forceinline__ float symrnn_ceil(float a) { return ceilf(a); }
__device__ __forceinline__ double symrnn_ceil(double a) { return ceil(a); }
template <typename T> __device__ __forceinline__ T symrnn_rint(T a) { return a; }
__device__ __forceinline__ float symrnn_rint(float a) { return rintf(a); }
__device__ __forceinline__ double symrnn_rint(double a) { return rint(a); }
template <typename T> __device__ __forceinline__ T symrnn_maximum(T a, T b) { return (a > b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T symrnn_minimum(T a, T b) { return (a < b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T symrnn_abs(T a) { return a < 0 ? T(-a) : a; }
template <typename T> __device__ __forceinline__ T symrnn_sign(T a) { return a > 0 ? T(1) : (a < 0 ? T(-1) : a); }
template <typename T> __device__ __forceinline__ bool symrnn_isnan(T a) { return a != a; }
template <typename T> __device__ __forceinline__ T symrnn_invert(T a) { return ~a; }
__device__ __forceinline__ bool symrnn_invert(bool a) { return !a; }
/* e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e) below; accurate in both tails */
template <typename T> __device__ __forceinline__ T symrnn_sigmoid(T x) {
    T e = exp(-fabs(x));
    return (x >= 0 ? T(1) : e) / (T(1) + e);
}
"""


def relu(x: Any, alpha: float = 0.0) -> Variable:
    """Rectified linear unit; with ``alpha`` the leaky variant ``where(x > 0, x, alpha * x)``."""
    if alpha == 0:
        return _relu_op(x)
    x = as_tensor_variable(x)
    return switch(gt(x, 0), x, mul(x, alpha))


def logical_not(x: Any) -> Variable:
    """``not x`` for booleans (``x == 0`` for numbers)."""
    x = as_tensor_variable(x)
    return invert(x) if x.dtype == "bool" else eq(x, 0)


where = switch
abs = abs_  # noqa: A001  (Theano's name)
true_divide = true_div
floor_div = int_div
not_ = logical_not


class Cast(Elemwise):
    """Convert to another dtype; the gradient is cast back (none flows into integers)."""

    __props__ = ("name", "dtype")

    def __init__(self, dtype: str) -> None:
        self.dtype = np.dtype(dtype).name
        super().__init__(f"cast_{self.dtype}", 1, self._convert,
                         f"{{0}}.astype({self.dtype!r})", out_dtype=self.dtype,
                         c_code="{0}",  # the fused kernel converts every result to its node's C type
                         out_code="xp.copyto({out}, {0}, casting='unsafe')")

    def _convert(self, x: np.ndarray) -> np.ndarray:
        return x.astype(self.dtype)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return Cast, (self.dtype,)

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (x,) = node.inputs
        if x.dtype not in FLOAT_DTYPES or output_grads[0].dtype not in FLOAT_DTYPES:
            return [None]
        return [cast(output_grads[0], x.dtype)]


def cast(x: Any, dtype: Any) -> Variable:
    """Convert ``x`` to ``dtype`` (``'floatX'`` means ``config.floatX``).

    Example::

        >>> import symrnn.tensor as T
        >>> T.cast(T.ivector("i"), "float32").type
        float32(?,)
    """
    x = as_tensor_variable(x)
    target = dtype_arg("cast", [x], dtype)
    if x.dtype == target:
        return x
    return Cast(target)(x)


def dtype_arg(op: Any, inputs: Sequence[Variable], dtype: Any) -> str:
    """A ``dtype=`` argument as a supported dtype name (``None``/``"floatX"``: ``config.floatX``), or an op error."""
    try:
        return _normalize_dtype(config.floatX if dtype is None or dtype == "floatX" else dtype)
    except TypeError as exc:
        raise op_error(op, inputs, str(exc)) from None


def check_float(op_name: str, x: Variable) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise op_error(op_name, [x], f"needs a float input, got {x.dtype}", GraphTypeError)


__all__ = [
    "Elemwise", "Cast", "C_PREAMBLE", "broadcast_static_shapes", "cast",
    "add", "sub", "mul", "true_div", "true_divide", "int_div", "floor_div", "mod", "neg", "pow",
    "maximum", "minimum", "clip", "exp", "log", "log1p", "expm1", "sqrt", "sqr", "abs", "abs_", "sign",
    "floor", "ceil", "round_", "sin", "cos", "tanh", "real", "imag", "conj", "angle", "sigmoid", "hard_sigmoid",
    "softplus", "relu",
    "lt", "gt", "le", "ge", "eq", "neq", "isnan", "and_", "or_", "xor", "invert", "logical_not", "not_",
    "switch", "where",
]
