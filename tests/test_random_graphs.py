"""Hypothesis builds random expression graphs; compiled code must agree with the reference interpreter,
and gradients of smooth random graphs must agree with finite differences.

``SYMRNN_FUZZ_SCALE=N`` multiplies every test's number of examples (a long campaign: ``N=200``); CI runs
the default, a short one.
"""

import os
import threading

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T

SHAPES = [(3, 4), (1, 4), (4,), (3, 1), ()]
SCALE = int(os.environ.get("SYMRNN_FUZZ_SCALE", "1"))

UNARY = {
    "exp": lambda a: T.exp(T.clip(a, -5, 5)),
    "tanh": T.tanh,
    "sigmoid": T.nnet.sigmoid,
    "softplus": T.nnet.softplus,
    "neg": lambda a: -a,
    "sqr": lambda a: a * a,
    "sin": T.sin,
    "log1p_sq": lambda a: T.log1p(a * a),
    "sum_keep": lambda a: a.sum(axis=-1, keepdims=True) if a.ndim else a,
    "mean0_keep": lambda a: a.mean(axis=0, keepdims=True) if a.ndim else a,
    "max_keep": lambda a: a.max(axis=-1, keepdims=True) if a.ndim else a,
    "transpose2": lambda a: a.T.T,
    "softmax": lambda a: T.nnet.softmax(a) if a.ndim == 2 else a,
    "abs": abs,
    "relu": T.nnet.relu,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + b * b),
    "maximum": T.maximum,
    "minimum": T.minimum,
    "switch": lambda a, b: T.switch(a > b, a, b * 2),
}
SMOOTH_UNARY = ["exp", "tanh", "sigmoid", "softplus", "neg", "sqr", "sin", "log1p_sq", "sum_keep", "mean0_keep",
                "transpose2", "softmax"]
SMOOTH_BINARY = ["add", "sub", "mul", "div"]


@st.composite
def programs(draw, smooth=False):
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs)]
    unary = SMOOTH_UNARY if smooth else sorted(UNARY)
    binary = SMOOTH_BINARY if smooth else sorted(BINARY)
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(unary)), draw(st.integers(0, 100))))
        else:
            steps.append(("b", draw(st.sampled_from(binary)), draw(st.integers(0, 100)), draw(st.integers(0, 100))))
    return shapes, steps


def build(variables, steps):
    pool = list(variables)
    for step in steps:
        if step[0] == "u":
            pool.append(UNARY[step[1]](pool[step[2] % len(pool)]))
        else:
            pool.append(BINARY[step[1]](pool[step[2] % len(pool)], pool[step[3] % len(pool)]))
    return pool[-1]


def symbolic_inputs(shapes):
    return [T.tensor("float64", shape, name=f"in{i}") for i, shape in enumerate(shapes)]


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**31 - 1))
def test_compiled_matches_reference_interpreter(program, seed):
    shapes, steps = program
    inputs = symbolic_inputs(shapes)
    out = build(inputs, steps)
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s) for s in shapes]
    fast = symrnn.function(inputs, out, on_unused_input="ignore")
    ref = symrnn.function(inputs, out, on_unused_input="ignore", mode="reference")
    got, want = fast(*values), ref(*values)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert out.type.accepts_shape(want.shape)


@settings(max_examples=30 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(smooth=True), st.integers(0, 2**31 - 1))
def test_gradients_match_finite_differences(program, seed):
    shapes, steps = program
    rng = np.random.default_rng(seed)
    values = [rng.uniform(-1, 1, size=s) for s in shapes]
    symrnn.verify_grad(lambda *xs: build(xs, steps), values, n_tests=1, rng=rng, abs_tol=1e-5, rel_tol=1e-4)


@settings(max_examples=30 * SCALE, deadline=None)
@given(programs(), st.integers(0, 2**31 - 1))
def test_float32_graphs_stay_float32(program, seed):
    shapes, steps = program
    inputs = [T.tensor("float32", s, name=f"in{i}") for i, s in enumerate(shapes)]
    out = build(inputs, steps)
    assert out.dtype == "float32"
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=s).astype("float32") for s in shapes]
    got = symrnn.function(inputs, out, on_unused_input="ignore")(*values)
    assert got.dtype == np.float32


# Every dtype an op accepts: integer and bool inputs to float ops, a number as switch's condition (non-zero is
# true, as in Theano), comparisons and logic on mixed dtypes.  FAST_RUN and FAST_COMPILE must agree with the
# reference interpreter (issue 14: a float condition once failed in FAST_RUN's fused code only).
DTYPES = ["float64", "float32", "int32", "int64", "uint8", "bool"]
MIXED_UNARY = {
    "tanh": T.tanh,
    "sigmoid": T.nnet.sigmoid,
    "exp": lambda a: T.exp(T.clip(a, -5, 5)),
    "neg": lambda a: -a,
    "abs": abs,
    "sqr": lambda a: a * a,
    "not": T.logical_not,
    "to_float32": lambda a: T.cast(a, "float32"),
    "to_int8": lambda a: T.cast(a, "int8"),
    "sum_keep": lambda a: a.sum(axis=-1, keepdims=True) if a.ndim else a,
    "relu": T.nnet.relu,
    "sign": T.sign,
}
MIXED_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + b * b),
    "maximum": T.maximum,
    "switch_number": lambda a, b: T.switch(a, b, a * 2),
    "switch_compare": lambda a, b: T.switch(a > b, a, b),
    "lt": lambda a, b: a < b,
    "eq": T.eq,
    "and": T.and_,
}


@st.composite
def mixed_programs(draw):
    n_inputs = draw(st.integers(1, 3))
    inputs = [(draw(st.sampled_from(SHAPES)), draw(st.sampled_from(DTYPES))) for _ in range(n_inputs)]
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(MIXED_UNARY))), draw(st.integers(0, 100))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(MIXED_BINARY))), draw(st.integers(0, 100)),
                          draw(st.integers(0, 100))))
    return inputs, steps


def _mixed_value(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        low = 0 if dtype.startswith("uint") else -3
        return rng.integers(low, 4, size=shape).astype(dtype)  # zeros included: conditions go both ways
    value = rng.normal(size=shape).astype(dtype)
    return np.where(rng.random(shape) < 0.2, 0, value).astype(dtype)


@settings(max_examples=60 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(mixed_programs(), st.integers(0, 2**31 - 1))
def test_every_dtype_an_op_accepts_compiles_as_the_reference_computes(program, seed):
    specs, steps = program
    inputs = [T.tensor(dtype, shape, name=f"in{i}") for i, (shape, dtype) in enumerate(specs)]
    pool = list(inputs)
    for step in steps:
        args = [pool[k % len(pool)] for k in step[2:]]
        table = MIXED_UNARY if step[0] == "u" else MIXED_BINARY
        try:
            pool.append(table[step[1]](*args))
        except TypeError:  # an op that refuses a dtype (bool - bool, float & float): a build-time error
            assume(False)
    out = pool[-1]
    rng = np.random.default_rng(seed)
    values = [_mixed_value(rng, shape, dtype) for shape, dtype in specs]
    with np.errstate(all="ignore"):
        want = symrnn.function(inputs, out, on_unused_input="ignore", mode="reference")(*values)
        for mode in ("FAST_RUN", "FAST_COMPILE"):
            got = symrnn.function(inputs, out, on_unused_input="ignore", mode=mode)(*values)
            assert got.dtype == want.dtype == out.dtype and got.shape == want.shape, mode
            rtol = {"float64": 1e-12, "float32": 1e-5, "float16": 1e-3}.get(want.dtype.name)
            if rtol is not None:  # as precise as the least precise float computed on the way (int8 -> float16)
                rtol = max([rtol] + [{"float32": 1e-5, "float16": 4e-3}.get(v.dtype, 0)
                                     for n in symrnn.graph.toposort([out]) for v in n.outputs])
            if rtol is None:
                np.testing.assert_array_equal(got, want, err_msg=mode)
            else:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True, err_msg=mode)


# Empty dimensions, memory layouts (Fortran order, negative strides, steps of 2) and threads: the static shapes
# say nothing of the runtime sizes (None), which may be 0; the compiled function is also called from several
# threads at once.  The reference interpreter decides, errors included (the max of an empty axis raises).
LAYOUTS = {
    "c": lambda v: v,
    "fortran": lambda v: np.asfortranarray(v) if v.ndim else v,  # (it makes a 0-d array 1-d)
    "reversed": lambda v: np.flip(v, axis=-1) if v.ndim else v,
    "every_other": lambda v: np.repeat(v, 2, axis=-1)[..., ::2] if v.ndim else v,
}


@st.composite
def sized_programs(draw):
    shapes, steps = draw(programs())
    sizes = {3: draw(st.sampled_from([0, 1, 2, 3])), 4: draw(st.sampled_from([0, 1, 4]))}  # runtime sizes
    runtime = [tuple(sizes.get(d, d) for d in shape) for shape in shapes]
    static = [tuple(None if d != 1 else 1 for d in shape) for shape in shapes]
    layouts = [draw(st.sampled_from(sorted(LAYOUTS))) for _ in shapes]
    return static, runtime, layouts, steps


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sized_programs(), st.integers(0, 2**31 - 1))
def test_empty_dimensions_layouts_and_threads_match_the_reference(program, seed):
    static, runtime, layouts, steps = program
    inputs = [T.tensor("float64", shape, name=f"in{i}") for i, shape in enumerate(static)]
    out = build(inputs, steps)
    rng = np.random.default_rng(seed)
    values = [LAYOUTS[layout](rng.normal(size=shape)) for shape, layout in zip(runtime, layouts)]
    ref = symrnn.function(inputs, out, on_unused_input="ignore", mode="reference")
    fast = symrnn.function(inputs, out, on_unused_input="ignore")
    try:
        want = ref(*values)
    except ValueError as exc:  # e.g. the max over an empty axis: the compiled code must refuse it too
        try:
            fast(*values)
        except ValueError:
            return
        raise AssertionError(f"the reference refused these inputs ({exc}), the compiled code did not") from None
    got = fast(*values)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    results = [None] * 4
    start = threading.Barrier(4)

    def worker(k):
        start.wait()
        results[k] = fast(*values)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, got)
