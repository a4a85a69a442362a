"""``Function.export(path)``: a compiled function as a standalone NumPy module (issue 16, item 7).

Every test compares the exported module with the compiled function it came
from, bit for bit on the same NumPy: outputs, and the parameters after each
call of a training step.  One test runs the module in a clean interpreter
(``python -I -S``) that can import NumPy and nothing else.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import itertools
import os
import re
import subprocess
import sys
import textwrap
import tokenize
import types

import numpy as np
import pytest
from helpers import lstm_training_graph

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.compile import export as exporting
from symrnn.compile.export import ExportError, argument_names
from symrnn.config import config
from symrnn.ifelse import ifelse
from symrnn.ops.random import RandomStreams, pack_random_state
from symrnn.tensor.shared_randomstreams import RandomStreams as TheanoRandomStreams

_modules = itertools.count()


def load(path: str) -> types.ModuleType:
    """Import the module at ``path`` under a fresh name."""
    spec = importlib.util.spec_from_file_location(f"exported_{next(_modules)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported(fn: symrnn.Function, tmp_path, name: str = "step") -> types.ModuleType:
    return load(fn.export(str(tmp_path / f"{name}.py")))


def assert_identical(got, want, what: str = "") -> None:
    """Same type, dtype, shape and bytes (NaNs included)."""
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            assert_identical(g, w, f"{what}[{i}]")
        return
    assert type(got) is type(want), f"{what}: {type(got)} vs {type(want)}"
    got, want = np.asarray(got), np.asarray(want)
    assert (got.dtype, got.shape) == (want.dtype, want.shape), what
    assert got.tobytes() == want.tobytes(), f"{what}: values differ"


def assert_params_follow(module: types.ModuleType, fn: symrnn.Function) -> None:
    """The module's parameters hold what the compiled function's shared variables hold (in their order, each by
    its name, unnamed ones as shared_<i>; a legacy RandomState packed as an int64 vector)."""
    assert len(module.params) >= len(fn.shared)
    for i, (key, var) in enumerate(zip(module.params, fn.shared)):
        assert key == (var.name or f"shared_{i}")
        value = var.get_value()
        if isinstance(value, np.random.RandomState):
            value = pack_random_state(value)
        assert_identical(module.params[key], value, key)


def test_elementwise_graph_matches_bit_for_bit(tmp_path):
    x, y = T.dmatrix("x"), T.dvector("y")
    outputs = [T.tanh(x) * y + T.exp(-x), T.nnet.sigmoid(x - y), T.nnet.softplus(x).sum(axis=0), (x ** 2).mean()]
    f = symrnn.function([x, y], outputs, name="elementwise")
    module = exported(f, tmp_path)
    rng = np.random.default_rng(0)
    for _ in range(3):
        a, b = rng.normal(size=(4, 3)) * 30, rng.normal(size=3)
        assert_identical(module.elementwise(a, b), f(a, b))
        assert_identical(module.elementwise(y=b, x=a), f(a, b))
    assert module.params == {} and module.defaults == {}


@pytest.mark.parametrize("allow_gc", [False, True], ids=["kept-buffers", "allow_gc"])
def test_training_step_updates_params_like_shared_variables(tmp_path, allow_gc):
    rng = np.random.default_rng(1)
    W = symrnn.shared(rng.normal(size=(3, 2)), name="W")
    b = symrnn.shared(np.zeros(2), name="b")
    steps = symrnn.shared(np.int64(0), name="steps")
    x, y = T.dmatrix("x"), T.dmatrix("y")
    loss = ((T.tanh(T.dot(x, W) + b) - y) ** 2).mean()
    gW, gb = symrnn.grad(loss, [W, b])
    was = config.allow_gc
    config.allow_gc = allow_gc
    try:
        f = symrnn.function([x, y], [loss, gW], updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb), (steps, steps + 1)],
                            name="train")
    finally:
        config.allow_gc = was
    module = exported(f, tmp_path)
    assert ("_POOL" in vars(module)) is (not allow_gc)
    for _ in range(5):
        a, t = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
        assert_identical(module.train(a, t), f(a, t))
        assert_params_follow(module, f)
    assert module.params["steps"] == 5


def test_profiled_function_with_a_branch_and_no_outputs(tmp_path):
    """profile=True times the nodes in symrnn only; an ifelse runs the branch taken; [] returns []."""
    x, k = T.dvector("x"), T.lscalar("k")
    total = symrnn.shared(np.zeros(3), name="total")
    chosen = ifelse(T.gt(k, 0), T.exp(x), x * -2.0)
    f = symrnn.function([x, k], [], updates=[(total, total + chosen)], profile=True, name="accumulate")
    assert "_clock()" in f.source
    path = f.export(tmp_path / "acc.py")
    assert "_clock" not in open(path).read()
    module = load(path)
    for value, branch in [([1.0, 2.0, 3.0], 1), ([0.5, -1.0, 2.0], 0), ([4.0, 0.0, 1.0], 3)]:
        assert_identical(module.accumulate(value, branch), f(value, branch))
        assert_params_follow(module, f)


def test_export_leaves_the_shared_variables_alone(tmp_path):
    w = symrnn.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = symrnn.function([x], (w * x).sum(), updates=[(w, w * 2)], name="double")
    module = exported(f, tmp_path)
    module.double([1.0, 1.0])
    module.double([1.0, 1.0])
    assert_identical(w.get_value(), np.array([1.0, 2.0]))
    assert_identical(module.params["w"], np.array([4.0, 8.0]))
    module.params["w"] = np.array([0.5, 0.5])  # the module reads params at each call
    assert_identical(module.double([1.0, 1.0]), np.array(1.0))


def lstm_training_step() -> tuple[symrnn.Function, dict]:
    """An LSTM trained on a sequence-to-one task: two loops (forward and backward), Adam updates."""
    cell = nn.LSTMCell(3, 5, seed=0)
    readout = nn.Dense(5, 1, seed=1)
    x, y = T.tensor3("x"), T.dmatrix("y")
    outputs, _ = nn.rnn(cell, x)
    loss = nn.losses.mse(readout(outputs[-1]), y)
    params = nn.params(cell, readout)
    f = symrnn.function([x, y], loss, updates=nn.optimizers.adam(loss, list(params.values()), learning_rate=0.01),
                        name="train")
    return f, params


def test_lstm_training_step_matches_over_several_steps(tmp_path):
    f, params = lstm_training_step()
    module = exported(f, tmp_path)
    assert len(re.findall(r"# scan \w+ begins", f.source)) == 2, "a forward and a backward loop"
    rng = np.random.default_rng(2)
    for _ in range(4):
        a, t = rng.normal(size=(6, 4, 3)), rng.normal(size=(4, 1))
        assert_identical(module.train(a, t), f(a, t))
        assert_params_follow(module, f)
    for name, var in params.items():
        assert_identical(module.params[name], var.get_value(), name)


def test_loop_of_zero_steps_gets_its_shape_from_the_body(tmp_path):
    """A per-step output whose step shape is known only at run time: with no step, its shape comes from running
    the body once on zeros, which the exported module does with the body's own generated code."""
    xs, w = T.dmatrix("xs"), T.dmatrix("w")
    ys, _ = symrnn.scan(lambda x_t, w: T.dot(w, x_t) * 2, sequences=[xs], non_sequences=[w])
    f = symrnn.function([xs, w], ys, name="apply")
    assert "zero_step_shapes" in f.source
    module = exported(f, tmp_path)
    rng = np.random.default_rng(3)
    for steps in (3, 0):
        a, b = rng.normal(size=(steps, 4)), rng.normal(size=(7, 4))
        got, want = module.apply(a, b), f(a, b)
        assert want.shape == (steps, 7)
        assert_identical(got, want)


def test_random_streams_export_their_state(tmp_path):
    """symrnn's counter-based streams: the state [seed, counter] is a parameter, advanced by each call."""
    srng = RandomStreams(seed=7)
    x = T.dmatrix("x")
    keep = srng.binomial(x.shape, p=0.8, dtype="float64")
    noise = srng.normal((2, 3), avg=1.0, std=0.5) + srng.uniform((3,), low=-1.0, high=x.sum())
    picks = srng.multinomial(n=3, pvals=[[0.2, 0.8], [0.5, 0.5]])
    f = symrnn.function([x], [x * keep, noise, picks], name="noisy")
    module = exported(f, tmp_path)
    a = np.ones((2, 3))
    for _ in range(3):
        assert_identical(module.noisy(a), f(a))
        assert_params_follow(module, f)


def test_theano_random_streams_export_their_state(tmp_path):
    """Theano's RandomStreams (NumPy's legacy RandomState, packed in an int64 vector): the same numbers."""
    srng = TheanoRandomStreams(seed=234)
    f = symrnn.function([], [srng.uniform((2, 2)), srng.normal((3,)), srng.random_integers((2,), low=1, high=6)],
                        name="draws")
    module = exported(f, tmp_path)
    for _ in range(3):
        assert_identical(module.draws(), f())
        assert_params_follow(module, f)


def test_inputs_with_defaults_and_states(tmp_path):
    """Theano's In(value=...) and ((s, update), value): defaults, and an input's own state."""
    x, s, scale = T.dscalar("x"), T.dscalar("s"), T.dscalar("scale")
    f = symrnn.function([x, ((s, s + x), 10.0), symrnn.In(scale, value=2.0)], s * scale + x, name="acc")
    module = exported(f, tmp_path)
    for value in (1.0, 2.5, -4.0):
        assert_identical(module.acc(value), f(value))
        assert_identical(module.defaults["s"], f["s"])
    assert_identical(module.acc(1.0, 3.0, 0.5), f(1.0, 3.0, 0.5))
    assert_identical(module.acc(x=1.0, scale=3.0), f(x=1.0, scale=3.0))
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        module.acc(s=1.0)


def test_an_input_whose_state_starts_unset(tmp_path):
    """In(s, update=...) without a value: the first call must give s; later calls may leave it out."""
    x, s = T.dscalar("x"), T.dscalar("s")
    f = symrnn.function([symrnn.In(s, update=s * x), x], s + x, name="grow")
    module = exported(f, tmp_path)
    assert module.defaults == {}
    with pytest.raises(TypeError, match="missing input 0"):
        module.grow(x=2.0)
    assert_identical(module.grow(1.5, 2.0), f(1.5, 2.0))
    for value in (3.0, 0.5):
        assert_identical(module.grow(x=value), f(x=value))
        assert_identical(module.defaults["s"], f["s"])


def test_ops_that_run_their_reference_code(tmp_path):
    """Split and the gradient of prod run NumPy code of their own: the module has a twin of it."""
    x, sizes = T.dmatrix("x"), T.lvector("sizes")
    a, b = T.split(x, [sizes[0], sizes[1]], n_splits=2, axis=1)
    g = symrnn.grad(T.prod(x, axis=0).sum(), x)
    f = symrnn.function([x, sizes], [a * 2, b.sum(), g], name="parts")
    assert "perform" in f.source
    module = exported(f, tmp_path)
    value = np.arange(12.0).reshape(3, 4) - 5
    assert_identical(module.parts(value, [1, 3]), f(value, [1, 3]))
    with pytest.raises(ValueError, match="do not add up"):
        module.parts(value, [1, 1])


def test_run_time_checks_raise_as_the_compiled_code_does(tmp_path):
    x, y, v = T.dmatrix("x"), T.dvector("y"), T.dmatrix("v")
    f = symrnn.function([x, y, v], [x + y, T.set_subtensor(x[1:], v)], name="checked")
    module = exported(f, tmp_path)
    good = (np.ones((3, 2)), np.ones(2), np.ones((2, 2)))
    assert_identical(module.checked(*good), f(*good))
    with pytest.raises(ValueError, match="do not match along axis 1"):
        module.checked(np.ones((3, 2)), np.ones(5), np.ones((2, 2)))
    with pytest.raises(ValueError, match="does not fit the indexed region"):
        module.checked(np.ones((3, 2)), np.ones(2), np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"input 0 \('x'\): expected 2 dimension"):
        module.checked(np.ones(3), np.ones(2), np.ones((2, 2)))
    with pytest.raises(TypeError, match="expected dtype float64, got complex128"):
        module.checked(np.ones((3, 2), dtype=complex), np.ones(2), np.ones((2, 2)))


def test_a_region_with_a_symbolic_bound_is_checked_as_the_compiled_code_does(tmp_path):
    x, v, i = T.dmatrix("x"), T.dmatrix("v"), T.iscalar("i")
    f = symrnn.function([x, v, i], T.inc_subtensor(x[i:, :1], v), name="bounded")
    module = exported(f, tmp_path)
    for start in (0, 1, 2):
        good = (np.arange(6.0).reshape(3, 2), np.ones((3 - start, 1)), start)
        assert_identical(module.bounded(*good), f(*good))
    with pytest.raises(ValueError, match=r"does not fit the indexed region of shape \(2, 1\)"):
        module.bounded(np.ones((3, 2)), np.ones((3, 1)), 1)


def test_specify_shape_check(tmp_path):
    x = T.dmatrix("x")
    f = symrnn.function([x], T.specify_shape(x, (2, 3)) * 2, name="sized")
    module = exported(f, tmp_path)
    assert_identical(module.sized(np.ones((2, 3))), f(np.ones((2, 3))))
    with pytest.raises(AssertionError, match=r"specify_shape: 'x': float64\(\?, \?\) has shape \(3, 3\)"):
        module.sized(np.ones((3, 3)))


# ---- names: a user's strings never reach the module's code

MALICIOUS = "x); import os; os.system('echo pwned')  #"
NASTY = 'a\n"""\nimport os\nos.system("echo pwned")\n"""'


def test_argument_names_are_identifiers_and_unique():
    names = ["x", "class", "x", "1st", None, MALICIOUS, "h t", "__init__", "None", "input_4", "é"]
    args = argument_names([T.dscalar(n) for n in names])
    assert args == ["x", "class_", "x_2", "input_1st", "input_4", "x_import_os_os_system_echo_pwned",
                    "h_t", "init", "None_", "input_4_9", "input_10"]
    assert all(a.isidentifier() and not a.startswith("_") for a in args) and len(set(args)) == len(args)


def test_malicious_names_make_a_safe_module(tmp_path, capfd):
    x, y, z = T.dscalar(MALICIOUS), T.dscalar(NASTY), T.dscalar("class")
    w = symrnn.shared(np.array(2.0), name=MALICIOUS)
    v = symrnn.shared(np.array(3.0), name=NASTY)
    ys, _ = symrnn.scan(lambda h: h * x, outputs_info=[y], n_steps=2, name=NASTY)
    f = symrnn.function([x, y, z], [w * x + v * y + z, ys], updates=[(w, w + 1), (v, v * 2)], name=MALICIOUS)
    path = f.export(str(tmp_path / "evil.py"))
    source = open(path).read()
    compile(source, path, "exec")
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert imported == {"os", "threading", "numpy"}
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not any("system" in c for c in calls)
    names = {"x___import_os__os_system__echo_pwned", "x_import_os_os_system_echo_pwned",
             "a_import_os_os_system_echo_pwned"}  # the function's name and its arguments'
    for token in tokenize.generate_tokens(io.StringIO(source).readline):  # else only in literals and comments
        if "pwned" in token.string:
            assert token.type in (tokenize.STRING, tokenize.COMMENT) or token.string in names, token
    module = load(path)
    name = module.__all__[0]
    assert name == "x___import_os__os_system__echo_pwned"
    want = f(1.5, 2.0, 3.0)
    assert_identical(getattr(module, name)(x_import_os_os_system_echo_pwned=1.5, a_import_os_os_system_echo_pwned=2.0,
                                           class_=3.0), want)
    assert sorted(module.params) == sorted([MALICIOUS, NASTY])
    assert_params_follow(module, f)
    assert "pwned" not in capfd.readouterr().out


def test_duplicate_and_unnamed_parameters_get_unique_keys(tmp_path):
    a, b, c = symrnn.shared(1.0, name="w"), symrnn.shared(2.0, name="w"), symrnn.shared(3.0)
    x = T.dscalar()
    f = symrnn.function([x], a * b * c * x, updates=[(c, c + x)])
    module = exported(f, tmp_path)
    assert list(module.params) == ["w", "w#2", "shared_2"]
    assert_identical(module.compiled(2.0), f(2.0))
    assert_identical(module.compiled(input_0=2.0), f(2.0))
    assert_identical(module.params["shared_2"], c.get_value())


def test_function_names_that_would_shadow_the_module(tmp_path):
    x = T.dscalar("x")
    for name, expected in [("params", "fn_params"), ("np", "fn_np"), ("for", "fn_for"), ("train step", "train_step"),
                           ("len", "fn_len"), ("GraphTypeError", "fn_GraphTypeError")]:
        module = load(symrnn.function([x], x + 1, name=name).export(str(tmp_path / f"{expected}.py")))
        assert module.__all__[0] == expected and isinstance(module.params, dict)
        assert_identical(getattr(module, expected)(1.0), np.array(2.0))


# ---- files


def test_path_without_py_gets_one_and_the_arrays_beside_it(tmp_path):
    x = T.dscalar("x")
    f = symrnn.function([x], x * 0 + 1, name="one")
    path = f.export(tmp_path / "sub_one")
    assert path == str(tmp_path / "sub_one.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sub_one.npz", "sub_one.py"]
    with np.load(tmp_path / "sub_one.npz", allow_pickle=False) as data:
        assert "export_id" in data.files
    with pytest.raises(ExportError, match="file name"):
        f.export(str(tmp_path) + os.sep)


def test_writing_is_atomic_and_a_module_refuses_foreign_arrays(tmp_path, monkeypatch):
    w = symrnn.shared(np.arange(3.0), name="w")
    f = symrnn.function([], w.sum(), updates=[(w, w + 1)], name="count")
    path = f.export(tmp_path / "count.py")
    before = open(path).read()
    f()  # new parameter values: a new export would write new arrays

    real = exporting.atomic_write

    def failing(target, mode="wb", **kwargs):
        if str(target).endswith(".py"):
            raise OSError("disk full")
        return real(target, mode, **kwargs)

    monkeypatch.setattr(exporting, "atomic_write", failing)
    with pytest.raises(OSError, match="disk full"):
        f.export(tmp_path / "count.py")
    assert open(path).read() == before  # the old module is whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["count.npz", "count.py"]  # no temporary file left
    with pytest.raises(ImportError, match="another export"):  # the arrays are new, the module old: refused
        load(path)
    monkeypatch.undo()
    module = exported(f, tmp_path, "count")
    assert_identical(module.count(), f())


# ---- what cannot be exported


def test_refuses_what_it_cannot_write(tmp_path):
    x = T.dvector("x")
    with pytest.raises(ExportError, match="mode='reference' generates no code"):
        symrnn.function([x], x * 2, mode="reference").export(tmp_path / "a.py")
    with pytest.raises(ExportError, match="checks of DebugMode"):
        symrnn.function([x], x * 2, mode="DebugMode").export(tmp_path / "b.py")
    with pytest.raises(ExportError, match="NanGuardMode"):
        symrnn.function([x], x * 2, mode=symrnn.compile.nanguardmode.NanGuardMode()).export(tmp_path / "c.py")
    printed = symrnn.function([x], symrnn.printing.Print("x is")(x) * 2, name="loud")
    with pytest.raises(ExportError, match=r"function 'loud'.*Print.show of the op"):
        printed.export(tmp_path / "d.py")
    on_gpu = symrnn.function([x], x * 2)
    on_gpu.backend = types.SimpleNamespace(name="cupy")  # as compiled with backend="cupy"
    with pytest.raises(ExportError, match="cupy backend; compile it with backend='numpy'"):
        on_gpu.export(tmp_path / "e.py")
    assert list(tmp_path.iterdir()) == []


def test_numba_kernels_become_numpy_code(tmp_path, monkeypatch):
    """A function that runs numba kernels exports NumPy's ufuncs, which compute the same numbers (as
    tests/test_numba_kernels.py checks for the function itself); one whose loops run as whole numba functions
    exports the NumPy loops, which agree with them within float rounding (tests/test_numba_loops.py)."""
    pytest.importorskip("numba", reason="numba is optional; config.kernels='numba' needs it")
    from symrnn.compile import numba_loops

    x, outputs = lstm_training_graph(3, 5)
    was = config.kernels
    config.kernels = "numba"
    try:
        f = symrnn.function([x], outputs, name="fast")
    finally:
        config.kernels = was
    path = f.export(tmp_path / "fast.py")
    assert re.search(r"_numba_kernel\d+\(", f.source) and re.search(r"_numba_loop\d+\(", f.source)
    assert "numba" not in open(path).read()
    module = load(path)
    value = np.random.default_rng(5).normal(size=(6, 4, 3))
    for got, want in zip(module.fast(value), f(value)):  # the loops ran as numba functions
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert [report.calls["numba"] for report in f.kernels_report()] == [1, 1]
    monkeypatch.setattr(numba_loops, "STEP_LIMIT", {"math": -1, "arithmetic": -1})  # NumPy loops, numba kernels
    assert_identical(module.fast(value), f(value))
    assert [report.calls["numpy"] for report in f.kernels_report()] == [1, 1]


# ---- a clean interpreter: NumPy, and nothing else


def numpy_only_path(tmp_path) -> str:
    """A folder that holds links to NumPy (and the libraries its wheel brings), and nothing else."""
    site = tmp_path / "numpy_only"
    site.mkdir()
    package = os.path.dirname(np.__file__)
    for entry in (package, package + ".libs"):  # numpy.libs: the wheel's OpenBLAS
        if os.path.exists(entry):
            os.symlink(entry, site / os.path.basename(entry))
    return str(site)


def test_module_runs_in_a_clean_interpreter_with_numpy_only(tmp_path):
    f, _ = lstm_training_step()
    out = tmp_path / "out"
    out.mkdir()
    f.export(out / "train_step.py")
    rng = np.random.default_rng(4)
    batches = [(rng.normal(size=(5, 3, 3)), rng.normal(size=(3, 1))) for _ in range(3)]
    expected = {}
    for i, (a, t) in enumerate(batches):
        expected[f"x{i}"], expected[f"y{i}"], expected[f"loss{i}"] = a, t, f(a, t)
    expected.update({f"param:{var.name}": var.get_value() for var in f.shared})
    np.savez(tmp_path / "expected.npz", **expected)
    script = tmp_path / "check.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:] = [p for p in sys.path if "site-packages" not in p] + [{numpy_only_path(tmp_path)!r}]
        assert importlib.util.find_spec("symrnn") is None, "symrnn is importable"
        sys.path.insert(0, {str(out)!r})
        import numpy as np
        import train_step
        want = np.load({str(tmp_path / "expected.npz")!r}, allow_pickle=False)
        for i in range(3):
            loss = train_step.train(want[f"x{{i}}"], y=want[f"y{{i}}"])
            assert loss.dtype == want[f"loss{{i}}"].dtype and loss.tobytes() == want[f"loss{{i}}"].tobytes(), i
        for key in want.files:
            if key.startswith("param:"):
                got = train_step.params[key[len("param:"):]]
                assert got.dtype == want[key].dtype and got.tobytes() == want[key].tobytes(), key
        print("ok", sorted(m for m in sys.modules if m.split(".")[0] not in sys.stdlib_module_names
                           and m.split(".")[0] not in ("numpy", "__main__")))
    """))
    result = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok ['train_step']"
