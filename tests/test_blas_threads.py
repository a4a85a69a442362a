"""config.blas_threads (issue 16): a compiled function runs its BLAS calls with that many threads and puts the
library's own setting back when it returns; None leaves the library alone."""

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import config
from symrnn.compile.threads import blas_threads_now, restore, set_blas_threads


def spying_function(seen):
    from symrnn.graph import Apply, Op

    class Record(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type])

        def perform(self, node, inputs):
            seen.append(blas_threads_now())
            return [inputs[0].copy()]

    x = T.dmatrix("x")
    w = symrnn.shared(np.ones((3, 3)), name="w")
    return symrnn.function([x], Record()(T.dot(x, w)))


@pytest.fixture
def libraries():
    if not blas_threads_now():
        pytest.skip("no BLAS library that threadpoolctl can control is loaded")
    before = blas_threads_now()
    set_blas_threads(3)  # a setting of the program's own, different from 1
    yield
    restore(before)


def test_calls_run_with_config_blas_threads_and_restore_the_programs_setting(libraries, monkeypatch):
    seen = []
    f = spying_function(seen)
    monkeypatch.setattr(config, "blas_threads", 1)
    f(np.ones((2, 3)))
    assert set(seen[-1]) == {1}
    assert set(blas_threads_now()) == {3}  # put back after the call
    monkeypatch.setattr(config, "blas_threads", 2)
    f(np.ones((2, 3)))
    assert set(seen[-1]) == {2}
    monkeypatch.setattr(config, "blas_threads", None)
    f(np.ones((2, 3)))
    assert set(seen[-1]) == {3}


def test_the_setting_is_restored_when_the_call_fails(libraries, monkeypatch):
    monkeypatch.setattr(config, "blas_threads", 1)
    a, b = T.dmatrix("a"), T.dmatrix("b")
    f = symrnn.function([a, b], T.dot(a, b))
    with pytest.raises(ValueError):
        f(np.ones((2, 3)), np.ones((4, 5)))  # the product fails inside the compiled code
    assert set(blas_threads_now()) == {3}


def test_the_flag_takes_a_count_or_none():
    with pytest.raises(ValueError, match="from 1 to 256, or None"):
        config.blas_threads = 0
    old = config.blas_threads
    try:
        config.apply_flags("blas_threads=4")
        assert config.blas_threads == 4
        config.apply_flags("blas_threads=None")
        assert config.blas_threads is None
    finally:
        config.blas_threads = old
