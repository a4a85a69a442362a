"""A compiled function called from several threads at once gives the answers of serial calls (issue 15,
finding 1: with the loop buffers kept between calls, 6 threads got 34 of 90 results wrong)."""

import threading

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import config, nn


def lstm_forward_and_grad():
    cell = nn.LSTMCell(3, 8, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out ** 2).mean()
    return symrnn.function([x], [out, loss, *symrnn.grad(loss, list(cell.params.values()))])


@pytest.mark.parametrize("allow_gc", [False, True])
def test_concurrent_calls_give_the_serial_results(allow_gc, monkeypatch):
    monkeypatch.setattr(config, "allow_gc", allow_gc)
    f = lstm_forward_and_grad()
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(12 + k % 5, 4, 3)) for k in range(6 * 15)]
    serial = [f(b) for b in batches]
    results: dict[int, list] = {}
    start = threading.Barrier(6)

    def worker(first: int) -> None:
        start.wait()
        for k in range(first, len(batches), 6):
            results[k] = f(batches[k])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wrong = [k for k in range(len(batches))
             if any(not np.array_equal(a, b) for a, b in zip(results[k], serial[k]))]
    assert wrong == [], f"{len(wrong)} of {len(batches)} concurrent results differ from serial ones"


def test_functions_with_updates_apply_every_update_once_under_threads():
    """Each call of a training step reads and writes shared variables: concurrent calls must not lose one."""
    counter = symrnn.shared(np.float64(0.0), name="counter")
    step = T.dscalar("step")
    f = symrnn.function([step], counter, updates=[(counter, counter + step)])
    start = threading.Barrier(4)

    def worker() -> None:
        start.wait()
        for _ in range(200):
            f(1.0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert float(counter.get_value()) == 800.0
