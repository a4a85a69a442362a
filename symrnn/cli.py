"""The ``symrnn`` command.

Subcommands:

- ``symrnn demo``: train an RNN, the articles' buggy LSTM, a correct LSTM and
  a GRU on a long-dependency task and a sequence-prediction task, print a
  comparison table, and write the numbers and plots to an output folder.
- ``symrnn viz rnn|lstm|gru|buggy-lstm``: draw a cell's graph, run over time
  with ``scan``, as SVG, PNG, PDF, DOT or an interactive HTML page.

Example::

    $ symrnn demo --steps 20 --out /tmp/symrnn-out
    $ symrnn viz lstm --compiled -o lstm.svg
    $ symrnn viz rnn --grad --learn -o rnn_learn.svg
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import symrnn
import symrnn.tensor as T
from symrnn import __version__, nn, viz
from symrnn.demo import run_demo
from symrnn.nn.article import SharedPreactLSTMCell

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

    viz = commands.add_parser(
        "viz", help="draw a cell's graph (RNN, LSTM, GRU or the articles' buggy LSTM) as SVG/PNG/PDF/DOT/HTML",
        description="Draw the graph of a cell run over a symbolic (T, B, I) input with scan: the loop is a "
                    "cluster holding one step's graph. The output format follows the file's extension "
                    "(.svg, .png, .pdf, .dot, .html).")
    viz.add_argument("cell", choices=VIZ_CELLS, help="which cell to draw")
    viz.add_argument("-o", "--output", metavar="FILE", default=None,
                     help="output file (default: CELL.svg, or CELL.html with --html)")
    viz.add_argument("--grad", action="store_true",
                     help="draw the gradient of cost = mean(last output ** 2) with respect to the parameters")
    viz.add_argument("--compiled", action="store_true",
                     help="compile with symrnn.function and draw the graph after the FAST_RUN rewrites")
    viz.add_argument("--compare", action="store_true",
                     help="compile, and draw the graph as built and the compiled graph side by side")
    viz.add_argument("--collapse", action="store_true", help="draw each loop (one cell step) as a single node")
    viz.add_argument("--learn", action="store_true",
                     help="draw the cost and its gradient (implies --grad) side by side, each gradient node "
                          "coloured like the forward scope it differentiates (lstm/forget_gate and "
                          "grad/lstm/forget_gate)")
    viz.add_argument("--overview", action="store_true",
                     help="draw one box per name scope or loop, with the values that pass between them")
    viz.add_argument("--scopes", action="store_true",
                     help="draw each name scope (lstm/forget_gate, grad/lstm/cell...) as a labelled cluster")
    viz.add_argument("--show-plumbing", action="store_true",
                     help="draw shape plumbing (shape reads, zeros, broadcasts, dimshuffles, a loop's reversals "
                          "and slices) as nodes instead of folding it into the edges")
    viz.add_argument("--max-nodes", type=_positive_int, default=symrnn.viz.MAX_NODES, metavar="N",
                     help=f"a picture of more nodes, or too big for a page, is drawn left to right, with its loops "
                          f"collapsed or as an overview (default: {symrnn.viz.MAX_NODES}; see --all)")
    viz.add_argument("--all", action="store_true", help="draw every node, however big the picture gets")
    viz.add_argument("--html", action="store_true",
                     help="write an interactive HTML page (pan, zoom, click a node for its details)")
    viz.add_argument("--no-types", action="store_true", help="leave dtypes and shapes out of the picture")
    viz.add_argument("--input-size", type=_positive_int, default=3, help="the cell's input size (default: 3)")
    viz.add_argument("--units", type=_positive_int, default=4, help="the cell's number of units (default: 4)")
    viz.set_defaults(handler=_cmd_viz)
    return parser


VIZ_CELLS = ("rnn", "lstm", "gru", "buggy-lstm")
VIZ_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".html": "html",
               ".htm": "html"}


def build_cell_graph(kind: str, input_size: int = 3, units: int = 4, grad: bool = False,
                     compiled: bool = False) -> tuple[object, list[str]]:
    """What ``symrnn viz`` draws: a compiled ``Function`` or a list of outputs, and the outputs' labels.

    Example::

        >>> outputs, labels = build_cell_graph("gru", grad=True)
        >>> sorted(labels)
        ['cost', 'd cost / d gru/U_h', 'd cost / d gru/U_r', 'd cost / d gru/U_z', 'd cost / d gru/W_h', \
'd cost / d gru/W_r', 'd cost / d gru/W_z', 'd cost / d gru/b_h', 'd cost / d gru/b_r', 'd cost / d gru/b_z']
    """
    makers = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell, "buggy-lstm": SharedPreactLSTMCell}
    cell = makers[kind](input_size, units, seed=0)
    x = T.tensor3("x")
    outputs, _ = nn.rnn(cell, x)
    if grad:
        cost = T.mean(outputs[-1] ** 2)
        params = list(cell.params.values())
        grads = symrnn.grad(cost, params)
        drawn = {"cost": cost, **{f"d cost / d {p.name}": g for p, g in zip(params, grads)}}
    else:
        drawn = {"outputs": outputs}
    if compiled:
        return symrnn.function([x], list(drawn.values())), list(drawn)
    return list(drawn.values()), list(drawn)


def _cmd_viz(args: argparse.Namespace) -> int:
    output = args.output or f"{args.cell.replace('-', '_')}.{'html' if args.html else 'svg'}"
    ext = os.path.splitext(output)[1].lower()
    fmt = VIZ_FORMATS.get(ext)
    if args.html and fmt != "html":
        print(f"symrnn viz: --html writes an HTML page; name the output FILE.html, not {output!r}", file=sys.stderr)
        return 2
    if fmt is None:
        print(f"symrnn viz: cannot tell the format from {output!r}; use one of "
              f"{', '.join(sorted(VIZ_FORMATS))}", file=sys.stderr)
        return 2
    if args.learn and args.compare:
        print("symrnn viz: --learn draws one graph and its gradient; it does not combine with --compare",
              file=sys.stderr)
        return 2
    grad = args.grad or args.learn
    drawn, labels = build_cell_graph(args.cell, args.input_size, args.units, grad=grad,
                                     compiled=args.compiled or args.compare)
    options = {"output_labels": labels, "show_types": not args.no_types, "collapse": "cells" if args.collapse else None,
               "title": f"symrnn: {args.cell}" + (" and its gradient" if args.learn else " gradient" if grad else "")
               + (", compiled" if args.compiled and not args.compare else ""),
               "show_plumbing": args.show_plumbing, "cluster_scopes": args.scopes, "overview": args.overview,
               "learn": args.learn, "max_nodes": None if args.all else args.max_nodes}
    if args.compare:
        options["which"] = "both"
    try:
        if fmt == "html":
            viz.to_html(drawn, output, **options)
        else:
            viz.render(drawn, output, format=fmt, **options)
    except viz.GraphvizNotFoundError as exc:
        print(f"symrnn viz: {exc}", file=sys.stderr)
        return 1
    print(output)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    try:
        run_demo(out=args.out, steps=args.steps, seed=args.seed, progress=not args.no_progress)
    except OSError as exc:  # an output folder that cannot be made or written: one line, not a traceback
        where = exc.filename or args.out
        print(f"symrnn demo: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
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
