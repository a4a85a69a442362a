"""Draw docs/img/gradient_flow.svg: ||dL/dh_t|| over 100 steps for an RNN, an LSTM and a GRU.

    python docs/make_gradient_flow.py            # writes docs/img/gradient_flow.svg
    python docs/make_gradient_flow.py out.png    # or any .svg / .png file

Untrained models, as the plot says: the standard initialization (Glorot input weights, orthogonal recurrent
weights, zero biases except the LSTM's forget bias 1 and the GRU's gate biases 1), 8 inputs, 32 units, a batch
of 16 standard-normal sequences, seed 0; the loss is the sum of the last output.
The output is deterministic: running it again rewrites the same file.
"""

from __future__ import annotations

import os
import sys

from symrnn import nn
from symrnn.viz.gradient_flow import gradient_flow

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else os.path.join(HERE, "img", "gradient_flow.svg")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    models = {"RNN": nn.RNNCell(8, 32, seed=0), "LSTM": nn.LSTMCell(8, 32, seed=0), "GRU": nn.GRUCell(8, 32, seed=0)}
    flows = gradient_flow(models, T=100, batch_size=16, seed=0, plot=out, trained=False,
                          title="Gradient reaching each step from a loss at step 100")
    for label, flow in flows.items():
        print(f"{label:5s} ||dL/dh_1|| = {flow.norms[0]:.2e}   ||dL/dh_100|| = {flow.norms[-1]:.2e}")
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
