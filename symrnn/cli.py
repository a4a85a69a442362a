"""The ``symrnn`` command.

Subcommands:

- ``symrnn demo``: train an RNN, the articles' buggy LSTM, a correct LSTM and
  a GRU on a long-dependency task and a sequence-prediction task, print a
  comparison table, and write the numbers and plots to an output folder.

Example::

    $ symrnn demo --steps 20 --out /tmp/symrnn-out
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_OUT = "symrnn-out"


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
        "demo", help="train RNN, buggy LSTM, LSTM and GRU on two tasks; compare; write the results to a folder",
        description="Train an RNN, the articles' shared-pre-activation LSTM, a correct LSTM and a GRU on the "
                    "adding problem and on noisy sine waves, with compiled symrnn functions. Prints a comparison "
                    "table and writes results.json, results.csv, parameters and plots to the output folder.")
    demo.add_argument("--steps", type=_positive_int, default=None,
                      help="training steps per model and task (default: 600 adding, 300 sine; e.g. 20 for a "
                           "quick check)")
    demo.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                      help=f"output folder (default: ./{DEFAULT_OUT})")
    demo.add_argument("--seed", type=int, default=0, help="random seed for the data and the weights (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from symrnn.demo import run_demo

    run_demo(out=args.out, steps=args.steps, seed=args.seed, progress=not args.no_progress)
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
