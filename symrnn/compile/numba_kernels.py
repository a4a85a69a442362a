"""Fused arithmetic as numba kernels (``config.kernels = "numba"``, optional).

A :class:`~symrnn.ops.fused.FusedElemwise` node computes a chain of
elementwise ops.  In NumPy each op is one ufunc call, about half a microsecond
of overhead however small the arrays; in a loop over time steps with small
batches that overhead is most of the step.  With numba installed, a chain of
*arithmetic* ops (no ``exp``, ``tanh``, ...: numba computes those one element
at a time, several times slower than NumPy's vectorised ufuncs; see
``docs/performance.md``) becomes one compiled loop over the elements, called
once.

Kernels are generated from the fused node's inner graph, never from user text:
the only names in the source are ``out``, ``a0, a1, ...`` (the inputs),
``v0, v1, ...`` (the inner values) and ``np``.  Each inner value is rounded to
its node's dtype, so a kernel computes what the NumPy calls compute, bit for
bit.  Compiling costs numba's import (about 0.5 s, once per process) and 0.1-0.2
s per distinct kernel; kernels are cached per process by their source.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import Apply, Constant

#: Scalar templates of the ops a kernel may contain: pure arithmetic and comparisons.
SCALAR_CODE = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "true_div": "{0} / {1}", "neg": "-{0}",
    "sqr": "{0} * {0}", "abs": "abs({0})", "maximum": "np.maximum({0}, {1})", "minimum": "np.minimum({0}, {1})",
    "lt": "{0} < {1}", "gt": "{0} > {1}", "le": "{0} <= {1}", "ge": "{0} >= {1}", "eq": "{0} == {1}",
    "neq": "{0} != {1}", "switch": "{1} if {0} else {2}",
}

_kernels: dict[str, Any] = {}


def available() -> bool:
    """Whether numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def kernel_source(node: Apply) -> str | None:
    """The Python source of a numba kernel ``kernel(out, a0, a1, ...)`` for a fused node, or ``None`` when
    the node has an op outside :data:`SCALAR_CODE`, a non-float result, or a 0-d input.

    Example::

        >>> import symrnn.tensor as T
        >>> from symrnn.rewrite.fusion import fuse_elementwise
        >>> x, b = T.matrix("x"), T.vector("b")
        >>> [y] = fuse_elementwise([(x + b) * x])
        >>> print(kernel_source(y.owner))
        def kernel(out, a0, a1):
            for i0 in range(out.shape[0]):
                for i1 in range(out.shape[1]):
                    v0 = np.float64(a0[i0, i1] + a1[i1])
                    v1 = np.float64(v0 * a0[i0, i1])
                    out[i0, i1] = v1
    """
    op, out = node.op, node.outputs[0]
    if out.ndim == 0 or np.dtype(out.dtype).kind != "f" or any(v.ndim == 0 for v in node.inputs):
        return None
    if any(getattr(inner.op, "name", None) not in SCALAR_CODE for inner in op.fused_nodes):
        return None
    ndim = out.ndim
    loops = [f"i{axis}" for axis in range(ndim)]
    names: dict[int, str] = {}
    for k, ph in enumerate(op.fused_inputs):
        lead = ndim - ph.ndim
        index = ", ".join("0" if size == 1 and out.type.shape[lead + a] != 1 else loops[lead + a]
                          for a, size in enumerate(ph.type.shape))
        names[id(ph)] = f"a{k}[{index}]"
    body = []
    for j, inner in enumerate(op.fused_nodes):
        args = []
        for v in inner.inputs:
            if isinstance(v, Constant):
                if v.data.ndim != 0 or not np.isfinite(v.data):
                    return None
                args.append(f"np.{np.dtype(v.dtype).name}({v.data.item()!r})")
            else:
                args.append(names[id(v)])
        value = SCALAR_CODE[inner.op.name].format(*args)
        kind = np.dtype(inner.outputs[0].dtype)
        body.append(f"v{j} = np.{kind.name}({value})" if kind.kind != "b" else f"v{j} = {value}")
        names[id(inner.outputs[0])] = f"v{j}"
    body.append(f"out[{', '.join(loops)}] = {names[id(op.fused_output)]}")
    lines = [f"def kernel(out, {', '.join(f'a{k}' for k in range(len(op.fused_inputs)))}):"]
    for axis in range(ndim):
        lines.append("    " * (axis + 1) + f"for i{axis} in range(out.shape[{axis}]):")
    lines += ["    " * (ndim + 1) + statement for statement in body]
    return "\n".join(lines)


def kernel(node: Apply) -> Any | None:
    """The compiled (lazily, at its first call) numba kernel for ``node``, or ``None`` (see
    :func:`kernel_source`)."""
    source = kernel_source(node)
    if source is None:
        return None
    if source not in _kernels:
        import numba

        namespace: dict[str, Any] = {"np": np}
        exec(compile(source, "<symrnn-numba-kernel>", "exec"), namespace)  # noqa: S102 - generated, no user text
        _kernels[source] = numba.njit(cache=False, error_model="numpy")(namespace["kernel"])
    return _kernels[source]


__all__ = ["kernel", "kernel_source", "available", "SCALAR_CODE"]
