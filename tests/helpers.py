"""Shared test helpers: run a graph in every evaluation mode and compare with NumPy, check error messages.

Expected values are always computed by the test itself, with NumPy, never by
the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import symrnn

#: The evaluators every forward test runs: the generated code and the node-by-node reference interpreter.
MODES = ("FAST_RUN", "reference")

#: Default relative tolerances per dtype (integers and booleans must match exactly).
RTOL = {"float16": 1e-3, "float32": 1e-5, "float64": 1e-12}


def compile_all(inputs: Sequence[Any], outputs: Any, **kwargs: Any) -> dict[str, symrnn.Function]:
    """``symrnn.function(inputs, outputs)`` once per mode in :data:`MODES`."""
    kwargs.setdefault("on_unused_input", "ignore")
    return {mode: symrnn.function(list(inputs), outputs, mode=mode, **kwargs) for mode in MODES}


def assert_same(got: Any, want: Any, rtol: float | None = None, atol: float = 0.0, what: str = "") -> None:
    """``got`` has exactly ``want``'s dtype and shape, and its values (exact for ints and bools)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        tol = RTOL.get(want.dtype.name, 1e-12) if rtol is None else rtol
        np.testing.assert_allclose(got, want, rtol=tol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def check(inputs: Sequence[Any], output: Any, values: Sequence[Any], expected: Any, rtol: float | None = None,
          atol: float = 0.0, **kwargs: Any) -> None:
    """Compile ``output`` (a variable or a list) in every mode, call it on ``values`` and compare with ``expected``.

    Each result must also fit the static type its variable promised (dtype and
    static shape), so a wrong ``make_node`` is caught even when NumPy agrees.
    """
    outs = output if isinstance(output, (list, tuple)) else [output]
    wants = expected if isinstance(output, (list, tuple)) else [expected]
    assert len(outs) == len(wants)
    for mode, fn in compile_all(inputs, list(outs), **kwargs).items():
        results = fn(*[np.copy(v) if isinstance(v, np.ndarray) else v for v in values])
        for k, (var, got, want) in enumerate(zip(outs, results, wants)):
            what = f"mode={mode}, output {k} ({var.type!r})"
            assert_same(got, want, rtol=rtol, atol=atol, what=what)
            assert var.dtype == np.asarray(got).dtype.name, f"{what}: static dtype disagrees with the result"
            assert var.type.accepts_shape(np.shape(got)), f"{what}: result shape {np.shape(got)} breaks the type"


def check_fn(build: Callable[..., Any], values: Sequence[np.ndarray], expected: Any, static: bool = False,
             **kwargs: Any) -> None:
    """Like :func:`check`, with inputs made from ``values``' dtypes (static shapes too with ``static=True``)."""
    inputs = [symrnn.tensor.tensor(np.asarray(v).dtype, np.shape(v) if static else (None,) * np.ndim(v),
                                   name=f"in{i}") for i, v in enumerate(values)]
    check(inputs, build(*inputs), values, expected, **kwargs)


def check_grad(fn: Callable[..., Any], points: Sequence[Any], **kwargs: Any) -> None:
    """``symrnn.verify_grad`` (float64 central differences) in every mode."""
    for mode in MODES:
        symrnn.verify_grad(fn, [np.asarray(p, dtype="float64") for p in points], mode=mode, **kwargs)


def typed(var: Any, shape: Sequence[int]) -> Any:
    """``var`` reshaped to a fully static ``shape`` (at runtime a no-op): gives verify_grad's inputs known 1s."""
    return symrnn.tensor.reshape(var, tuple(shape))


def assert_user_error(info: pytest.ExceptionInfo, *words: str) -> str:
    """The raised message names each of ``words`` and the test's own ``file:line`` that built the graph."""
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in the error message:\n{message}"
    package = os.path.dirname(os.path.abspath(symrnn.__file__))
    user = [e for e in info.traceback if not os.path.abspath(str(e.path)).startswith(package)]
    entry = user[-1]  # the innermost frame of the test's own code: the line that built the bad node
    where = f"{os.path.basename(str(entry.path))}:{entry.lineno + 1}"
    assert where in message, f"the user's line {where!r} is not in the error message:\n{message}"
    return message


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def lstm_training_graph(n_in: int = 3, n_hidden: int = 4) -> tuple[Any, list[Any]]:
    """``(x, [cost, *gradients])`` for one LSTM layer over ``x`` (time-major), cost ``mean(h ** 2)``."""
    from symrnn import nn
    from symrnn import tensor as T

    cell = nn.LSTMCell(n_in, n_hidden, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    cost = (out ** 2).mean()
    return x, [cost, *symrnn.grad(cost, list(cell.params.values()))]


def assert_fast_run_matches_reference(inputs: Sequence[Any], outputs: Sequence[Any], values: Sequence[Any],
                                      rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """The compiled (FAST_RUN) function gives the reference interpreter's results."""
    fast = symrnn.function(list(inputs), list(outputs))(*values)
    reference = symrnn.function(list(inputs), list(outputs), mode="reference")(*values)
    for got, want in zip(fast, reference):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
