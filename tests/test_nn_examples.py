"""What the neural-network examples show, checked in their fast mode (``SYMRNN_FAST=1``).

``test_examples.py`` checks that every example runs; these tests read what
four of them print and check the claim each one makes.  Each runs the script
once in a subprocess.  BLAS is limited to one thread: the matrices are small,
and on a shared machine competing BLAS threads only slow the run down.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_fast(name, *args, extra_env=None):
    env = dict(os.environ, SYMRNN_FAST="1", **ONE_THREAD, **(extra_env or {}))
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=EXAMPLES)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "RuntimeWarning" not in proc.stderr, proc.stderr
    return proc.stdout


def load_example(name):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def keep_settings():
    """Whatever a test imports, symrnn.config.floatX and the environment are as they were afterwards.

    (Importing an example sets default BLAS thread counts in ``os.environ``.)
    """
    from symrnn.config import config

    floatx, environ = config.floatX, dict(os.environ)
    yield
    config.floatX = floatx
    os.environ.clear()
    os.environ.update(environ)


def has_sklearn():
    return importlib.util.find_spec("sklearn") is not None


# --------------------------------------------------------------------------- the articles' LSTM bug


def test_article_example_shows_the_bug_and_the_correct_lstm_wins():
    out = run_fast("article_lstm_bug.py")
    assert "nn.LSTMCell with all four gates given the same W_in, W, b (forget_bias=0): True" in out
    assert "The article's LSTM == nn.article.SharedPreactLSTMCell: True" in out
    assert "Recurrent parameters: RNN 1120, the article's LSTM 1120, a correct LSTM 4480" in out
    assert "500 steps, 1 seed(s)" in out
    match = re.search(r"final test MSE: rnn ([0-9.]+)  article_lstm ([0-9.]+)  lstm ([0-9.]+)  gru ([0-9.]+)", out)
    assert match, out
    rnn, article, lstm, gru = (float(v) for v in match.groups())
    # The fast mode (one seed, 500 steps) already shows the correct LSTM well ahead of the other two.
    assert lstm < 0.5 * article, out
    assert lstm < 0.5 * rnn, out
    assert lstm < 0.25 / 6, out  # it learned the task: well under the mean baseline (1/6)
    assert gru < 0.25 / 6, out
    assert "Conclusion: the correct LSTM ends with" in out


def test_article_example_inline_lstm_is_the_articles_step():
    """The example's inline LSTM computes the article's step, checked against a NumPy loop."""
    import symrnn
    import symrnn.tensor as T

    example = load_example("article_lstm_bug.py")
    article = example.ArticleLSTM(2, 5, seed=0)
    x = T.tensor3("x")
    inputs = np.random.default_rng(0).normal(size=(7, 3, 2)).astype("float32")
    got = symrnn.function([x], article(x))(inputs)
    p = {k: v.get_value().astype("float64") for k, v in article.params.items()}
    h, C = np.zeros((3, 5)), np.zeros((3, 5))
    for t, x_t in enumerate(inputs):
        preact = x_t @ p["W_in"] + h @ p["W"] + p["b"]
        gate = 1 / (1 + np.exp(-preact))  # i = f = o
        C = gate * C + gate * np.tanh(preact)
        h = gate * np.tanh(C)
        np.testing.assert_allclose(got[t], h, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- digits


def _accuracy(out):
    match = re.search(r"test accuracy ([0-9.]+) on (\d+) images \(chance: 0.100\)", out)
    assert match, out
    return float(match[1]), int(match[2])


def test_digits_example_without_sklearn_uses_synthetic_data(tmp_path):
    # A stand-in package that fails to import, first on the path: the example must fall back and say so.
    (tmp_path / "sklearn").mkdir()
    (tmp_path / "sklearn" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    out = run_fast("digits_lstm.py", extra_env={"PYTHONPATH": pythonpath})
    assert "a synthetic stand-in (scikit-learn is not installed)" in out
    accuracy, n_test = _accuracy(out)
    assert n_test == 360
    assert accuracy > 0.8, out  # chance is 0.1


@pytest.mark.skipif(not has_sklearn(), reason="scikit-learn (optional, not a symrnn dependency) is not installed")
def test_digits_example_with_sklearn_digits():
    out = run_fast("digits_lstm.py")
    assert "Data: scikit-learn's 8x8 digits: 1438 training and 359 test images" in out
    accuracy, n_test = _accuracy(out)
    assert n_test == 359
    assert accuracy > 0.8, out  # chance is 0.1; the fast mode (300 steps) reaches about 0.95


def test_digits_synthetic_stand_in():
    example = load_example("digits_lstm.py")
    images, labels = example.synthetic_digits(200, seed=3)
    assert images.shape == (200, 8, 8) and images.dtype == np.float32
    assert labels.shape == (200,) and set(labels) <= set(range(10))
    assert images.min() >= 0.0 and images.max() <= 1.0
    again, _ = example.synthetic_digits(200, seed=3)
    np.testing.assert_array_equal(images, again)  # seeded


# --------------------------------------------------------------------------- character language model


def test_char_lm_learns_and_samples_the_requested_length():
    out = run_fast("char_lm.py", "--sample-length", "123", "--prime", "def ")
    match = re.search(r"validation perplexity ([0-9.]+) -> ([0-9.]+) \(uniform guessing: (\d+)\)", out)
    assert match, out
    before, after, vocab = float(match[1]), float(match[2]), int(match[3])
    assert abs(before - vocab) < 0.1 * vocab  # untrained: about uniform
    assert after < 0.25 * vocab, out  # the fast mode gets to about 12 from 86
    match = re.search(r"----- sample: (\d+) characters after 'def ', temperature 0.7 -----\n(.*)\n"
                      r"----- end of sample -----", out, re.DOTALL)
    assert match, out
    assert int(match[1]) == 123
    sample = match[2]
    assert len(sample) == 123
    from pydoc_data.topics import topics

    assert set(sample) <= set("".join(topics.values()))


# --------------------------------------------------------------------------- sine waves


def test_sine_prediction_beats_the_naive_forecast():
    out = run_fast("sine_prediction.py")
    match = re.search(r"test MSE ([0-9.]+) vs naive baseline ([0-9.]+)", out)
    assert match, out
    model, naive = float(match[1]), float(match[2])
    assert model < 0.5 * naive, out
    assert model > 0.01 * 0.9  # it cannot beat the noise floor (noise variance 0.01) by more than chance


def test_sine_prediction_steps_flag_without_the_environment_variable():
    env = {k: v for k, v in os.environ.items() if k != "SYMRNN_FAST"}
    env.update(ONE_THREAD)
    proc = subprocess.run([sys.executable, str(EXAMPLES / "sine_prediction.py"), "--fast", "--steps", "3"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "3 steps of 32 sequences" in proc.stdout


@pytest.mark.parametrize("name", ["article_lstm_bug.py", "digits_lstm.py", "char_lm.py", "sine_prediction.py"])
def test_examples_document_fast_and_steps(name):
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--fast" in proc.stdout and "--steps" in proc.stdout
