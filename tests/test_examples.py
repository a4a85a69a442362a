"""Every script in ``examples/`` runs in its fast mode (``SYMRNN_FAST=1``) and says something meaningful."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def run_example(path, *args):
    env = dict(os.environ, SYMRNN_FAST="1")
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=path.parent)


def test_there_are_examples():
    assert SCRIPTS, f"no examples found in {EXAMPLES}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs_in_fast_mode(script):
    proc = run_example(script)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{script.name} printed nothing"
    assert "Traceback" not in proc.stderr
    assert "RuntimeWarning" not in proc.stderr, proc.stderr


def test_logistic_regression_example_learns():
    proc = run_example(EXAMPLES / "logistic_regression.py")
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"cost ([0-9.]+) -> ([0-9.]+) after (\d+) steps; training accuracy ([0-9.]+)", proc.stdout)
    assert match, proc.stdout
    first, last, steps, accuracy = float(match[1]), float(match[2]), int(match[3]), float(match[4])
    assert steps == 200  # the fast mode
    assert last < 0.5 * first
    assert accuracy > 0.75  # random labels, memorised: far above chance (0.5)


def test_logistic_regression_example_fast_flag():
    env = {k: v for k, v in os.environ.items() if k != "SYMRNN_FAST"}
    path = EXAMPLES / "logistic_regression.py"
    proc = subprocess.run([sys.executable, str(path), "--fast", "--steps", "5"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "after 5 steps" in proc.stdout
