"""The ``symrnn`` command.

Subcommands:

- ``symrnn demo``: define, compile and train a small model on generated data,
  print the falling cost, and write the numbers to an output folder.

Example::

    $ symrnn demo --steps 50 --out /tmp/symrnn-out
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_OUT = "symrnn-out"


def make_data(n_examples: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate a binary classification problem: points labelled by a hidden linear rule plus noise.

    Returns ``X`` (float64, ``(n_examples, n_features)``) and ``y`` (float64 of 0s and 1s).

    Example::

        >>> X, y = make_data(8, 3, seed=0)
        >>> X.shape, y.shape, sorted(set(y.tolist())) <= [0.0, 1.0]
        ((8, 3), (8,), True)
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_examples, n_features))
    true_w = rng.normal(size=n_features)
    logits = X @ true_w + 0.5 * rng.normal(size=n_examples)
    y = (logits > 0).astype("float64")
    return X, y


def run_demo(steps: int = 300, out: str = DEFAULT_OUT, seed: int = 0, learning_rate: float = 0.5,
             l2: float = 0.001, n_features: int = 10, n_train: int = 800, n_test: int = 200,
             log_every: int | None = None, stream: Any = None) -> dict[str, Any]:
    """Train logistic regression with symrnn (Theano's tutorial, on generated data); write ``results.json``.

    The model is defined symbolically, differentiated with :func:`symrnn.grad`
    and compiled once into a training function whose ``updates`` do a step of
    gradient descent.  Returns the results that were written.

    Example::

        >>> import io, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     r = run_demo(steps=20, out=d, stream=io.StringIO())
        >>> r["history"][-1]["cost"] < r["history"][0]["cost"]
        True
    """
    import symrnn
    import symrnn.tensor as T

    stream = sys.stdout if stream is None else stream
    if steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    log_every = log_every or max(1, steps // 10)

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    X_all, y_all = make_data(n_train + n_test, n_features, seed)
    X_train, y_train = X_all[:n_train], y_all[:n_train]
    X_test, y_test = X_all[n_train:], y_all[n_train:]
    say(f"symrnn {symrnn.__version__} demo: logistic regression, {n_train} training and {n_test} test "
        f"examples of {n_features} features")

    # 1. Define the model symbolically.
    rng = np.random.default_rng(seed + 1)
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = symrnn.shared(rng.normal(scale=0.01, size=n_features), name="w")
    b = symrnn.shared(0.0, name="b")
    p_1 = T.nnet.sigmoid(T.dot(x, w) + b)  # probability that the target is 1
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)  # cross-entropy
    cost = xent.mean() + l2 * (w ** 2).sum()
    accuracy = T.mean(T.eq(prediction, y))

    # 2. Differentiate it and 3. compile one training step (updates run after the outputs).
    gw, gb = symrnn.grad(cost, [w, b])
    started = time.perf_counter()
    train = symrnn.function([x, y], [cost, accuracy], name="train",
                            updates=[(w, w - learning_rate * gw), (b, b - learning_rate * gb)])
    evaluate = symrnn.function([x, y], [cost, accuracy], name="evaluate")
    compile_seconds = time.perf_counter() - started
    say(f"compiled the training step in {compile_seconds:.3f} s "
        f"({len(train.nodes)} nodes, {len(train.source.splitlines())} lines of generated Python, "
        f"saved as train_source.py)")

    # 4. Train.
    history = []
    started = time.perf_counter()
    for step in range(steps + 1):
        if step % log_every == 0 or step == steps:
            c, acc = evaluate(X_train, y_train)
            history.append({"step": step, "cost": float(c), "train_accuracy": float(acc)})
            say(f"step {step:5d}  cost {float(c):.4f}  train accuracy {float(acc):.3f}")
        if step < steps:
            train(X_train, y_train)
    train_seconds = time.perf_counter() - started

    test_cost, test_accuracy = evaluate(X_test, y_test)
    say(f"trained {steps} steps in {train_seconds:.2f} s: cost {history[0]['cost']:.4f} -> "
        f"{history[-1]['cost']:.4f}, test accuracy {float(test_accuracy):.3f}")

    results = {
        "symrnn_version": symrnn.__version__,
        "model": "logistic regression",
        "settings": {"steps": steps, "seed": seed, "learning_rate": learning_rate, "l2": l2,
                     "n_features": n_features, "n_train": n_train, "n_test": n_test},
        "history": history,
        "final": {"cost": history[-1]["cost"], "train_accuracy": history[-1]["train_accuracy"],
                  "test_cost": float(test_cost), "test_accuracy": float(test_accuracy)},
        "params": {"w": w.get_value().tolist(), "b": float(b.get_value())},
        "seconds": {"compile": compile_seconds, "train": train_seconds},
    }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.json"), "w") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")
    np.savez(os.path.join(out, "data.npz"), X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)
    with open(os.path.join(out, "train_source.py"), "w") as fh:
        fh.write(train.source)
    say(f"wrote results.json, data.npz and train_source.py to {os.path.abspath(out)}")
    return results


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``symrnn`` command (one subparser per subcommand)."""
    from symrnn import __version__

    parser = argparse.ArgumentParser(
        prog="symrnn",
        description="symrnn: a small Theano-style symbolic graph compiler for recurrent networks.")
    parser.add_argument("--version", action="version", version=f"symrnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="define, compile and train a small model; write its numbers to a folder",
        description="Train logistic regression on generated data with a compiled symrnn function. "
                    "Prints the falling cost and the accuracy and writes results.json to the output folder.")
    demo.add_argument("--steps", type=_positive_int, default=300,
                      help="gradient-descent steps (default: 300; use e.g. 20 for a quick check)")
    demo.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                      help=f"output folder (default: ./{DEFAULT_OUT})")
    demo.add_argument("--seed", type=int, default=0, help="random seed for the data and the weights (default: 0)")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(steps=args.steps, out=args.out, seed=args.seed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symrnn`` console script; returns the exit status.

    Example (from a shell; ``main(["demo", "--steps", "20"])`` does the same from Python)::

        $ symrnn demo --steps 20 --out /tmp/symrnn-out
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except BrokenPipeError:  # e.g. `symrnn demo | head`: stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
