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
s per distinct kernel; kernels are kept in memory per process and on disk between processes
(:func:`compiled`), by their source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from symrnn.files import write_text
from symrnn.graph import Apply, Constant

#: Scalar templates of the ops a fused-node kernel may contain: pure arithmetic and comparisons.
ARITHMETIC = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "true_div": "{0} / {1}", "neg": "-{0}",
    "sqr": "{0} * {0}", "abs": "abs({0})", "maximum": "np.maximum({0}, {1})", "minimum": "np.minimum({0}, {1})",
    "lt": "{0} < {1}", "gt": "{0} > {1}", "le": "{0} <= {1}", "ge": "{0} >= {1}", "eq": "{0} == {1}",
    "neq": "{0} != {1}", "switch": "{1} if {0} else {2}",
}

#: Scalar templates of every op a whole-loop kernel (:mod:`symrnn.compile.numba_loops`) may contain: the
#: arithmetic, and the math that numba computes one element at a time (``{T}`` is the dtype's NumPy scalar
#: type).  Each follows the NumPy code's own steps (sigmoid: negate, exp, add 1, reciprocal).
SCALAR_CODE = {
    **ARITHMETIC,
    "exp": "np.exp({0})", "log": "np.log({0})", "log1p": "np.log1p({0})", "expm1": "np.expm1({0})",
    "sqrt": "np.sqrt({0})", "tanh": "np.tanh({0})", "sin": "np.sin({0})", "cos": "np.cos({0})",
    "sigmoid": "{T}(1) / ({T}(1) + np.exp(-{0}))", "relu": "np.maximum({0}, {T}(0))",
    "softplus": "np.maximum({0}, {T}(0)) + np.log1p(np.exp(-abs({0})))",
    "clip": "np.minimum(np.maximum({0}, {1}), {2})", "sign": "np.sign({0})", "floor": "np.floor({0})",
    "ceil": "np.ceil({0})", "pow": "{0} ** {1}",
}

#: float32 ``exp``, ``tanh`` and ``sigmoid`` as arithmetic that LLVM vectorises (numba calls the C library's
#: ``expf``/``tanhf`` one element at a time: 4.5 and 10 ns per element here, against 0.7 and 1.0 ns for these
#: and NumPy's 0.4 and 0.3).  Cephes' polynomials; measured on every float32 of a dense grid against float64
#: results (tests/test_numba_loops.py): at most 1 ulp for exp, 1.3 for tanh, 2.3 for sigmoid (NumPy's own
#: float32 ufuncs: 2.4, 1.4 and 3.4 by the same measure); inf, -inf, NaN, signed zeros and subnormal results
#: as NumPy gives them.  ``2 ** n`` is made from the exponent bits, in two halves so that subnormal results
#: come out right.
FLOAT32_MATH = '''
@numba.njit
def _expf(x):
    clamped = min(max(x, np.float32(-104.0)), np.float32(89.0))
    n = np.floor(clamped * np.float32(1.44269504088896341) + np.float32(0.5))
    r = clamped - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
    p = np.float32(1.9875691500e-4)
    p = p * r + np.float32(1.3981999507e-3)
    p = p * r + np.float32(8.3334519073e-3)
    p = p * r + np.float32(4.1665795894e-2)
    p = p * r + np.float32(1.6666665459e-1)
    p = p * r + np.float32(5.0000001201e-1)
    p = p * r * r + r + np.float32(1)
    k = np.int32(n)
    half = k >> 1
    value = p * np.int32((half + 127) << 23).view(np.float32) * np.int32((k - half + 127) << 23).view(np.float32)
    value = np.float32(np.inf) if x > np.float32(88.72283935546875) else value
    value = np.float32(0) if x < np.float32(-103.97208404541015625) else value
    return x if x != x else value


@numba.njit
def _tanhf(x):
    a = abs(x)
    z = x * x
    p = np.float32(-5.70498872745e-3)
    p = p * z + np.float32(2.06390887954e-2)
    p = p * z - np.float32(5.37397155531e-2)
    p = p * z + np.float32(1.33314422036e-1)
    p = p * z - np.float32(3.33332819422e-1)
    small = x if z == 0 else p * z * x + x
    e = _expf(min(a + a, np.float32(20.0)))
    large = np.float32(1) - np.float32(2) / (e + np.float32(1))
    large = -large if x < 0 else large
    return small if a < np.float32(0.625) else large
'''

#: The float32 ops computed by :data:`FLOAT32_MATH` (the other math stays the C library's).
FLOAT32_CODE = {"exp": "_expf({0})", "tanh": "_tanhf({0})",
                "sigmoid": "np.float32(1) / (np.float32(1) + _expf(-{0}))"}

_kernels: dict[str, Any] = {}
_DECORATOR = '@numba.njit(cache={cache}, nogil=True, error_model="numpy")'


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
    if any(getattr(inner.op, "name", None) not in ARITHMETIC for inner in op.fused_nodes):
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
        value = ARITHMETIC[inner.op.name].format(*args)
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
    return None if source is None else compiled(source, "kernel")


def cache_folder() -> Path:
    """Where compiled kernels are kept between processes: ``$SYMRNN_CACHE_DIR``, else the user's cache
    folder (``~/.cache/symrnn`` on Linux, via ``platformdirs``), then ``numba/``.

    Example::

        >>> cache_folder().name  # under $SYMRNN_CACHE_DIR, or the user's cache folder for symrnn
        'numba'
    """
    root = os.environ.get("SYMRNN_CACHE_DIR")
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("symrnn")
    return Path(root) / "numba"


def compiled(source: str, entry: str) -> Any:
    """The numba function ``entry`` defined by generated ``source`` (compiled lazily, at its first call).

    The source is written to a module in :func:`cache_folder` named by its hash, and numba caches what it
    compiles beside it (``cache=True``): a second process that needs the same kernel loads it instead of
    compiling it.  The module is written once, atomically, and never changed (numba's cache is keyed by the
    file's time stamp).  Where the folder cannot be written the kernel is compiled in memory, per process.
    """
    key = hashlib.sha256(f"{numba_version()}\n{entry}\n{source}".encode()).hexdigest()[:32]
    if key in _kernels:
        return _kernels[key]
    import numba

    module_text = f"import numba\nimport numpy as np\n\n{FLOAT32_MATH}\n\n{_DECORATOR.format(cache=True)}\n{source}"
    path = cache_folder() / f"symrnn_{key}.py"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, module_text)
        spec = importlib.util.spec_from_file_location(f"symrnn_numba_{key}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # numba's cache finds the function's globals by the module's name
        spec.loader.exec_module(module)
        function = getattr(module, entry)
    except OSError:  # a read-only home: compile in memory
        namespace: dict[str, Any] = {"np": np, "numba": numba}
        text = f"{FLOAT32_MATH}\n\n{_DECORATOR.format(cache=False)}\n{source}"
        exec(compile(text, f"<symrnn-numba-{entry}>", "exec"), namespace)  # noqa: S102 - generated, no user text
        function = namespace[entry]
    _kernels[key] = function
    return function


def numba_version() -> str:
    import numba

    return numba.__version__


__all__ = ["ARITHMETIC", "FLOAT32_CODE", "FLOAT32_MATH", "SCALAR_CODE", "available", "cache_folder", "compiled",
           "kernel", "kernel_source"]
