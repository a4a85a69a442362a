"""Theano's logistic-regression tutorial, run on symrnn.

The script is the tutorial's, with symrnn's imports: random data (400 examples
of 784 features, random 0/1 targets), shared weights ``w`` and bias ``b``, a
cross-entropy cost with an L2 penalty, ``grad`` and a training function whose
``updates`` take one step of gradient descent.  With random targets the model
can only memorise the training set, which it does.

One line differs: the cross-entropy is written with ``softplus``.  The
tutorial's ``-y * T.log(p_1) - (1 - y) * T.log(1 - p_1)`` overflows here
(``w`` starts large, so ``p_1`` rounds to exactly 0 or 1 and the log is
``-inf``); Theano's optimizer silently rewrites ``log(sigmoid(z))`` into
``-softplus(-z)``, symrnn does not (yet), so we write the stable form ourselves.

Run it::

    python examples/logistic_regression.py            # 10,000 steps, as in the tutorial
    python examples/logistic_regression.py --fast     # 200 steps (or set SYMRNN_FAST=1)
"""

import argparse
import os

import numpy

import symrnn as theano
import symrnn.tensor as T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="train 200 steps instead of 10,000 (or SYMRNN_FAST=1)")
    parser.add_argument("--steps", type=int, default=None, help="number of training steps")
    args = parser.parse_args()
    fast = args.fast or os.environ.get("SYMRNN_FAST", "") not in ("", "0")
    training_steps = args.steps or (200 if fast else 10000)

    rng = numpy.random.RandomState(1234)
    N = 400  # training sample size
    feats = 784  # number of input variables

    # generate a dataset: D = (input_values, target_class)
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))

    # Declare symbolic variables
    x = T.dmatrix("x")
    y = T.dvector("y")

    # initialize the weight vector w randomly, and the bias term b; both are
    # shared so they keep their values between training iterations (updates)
    w = theano.shared(rng.randn(feats), name="w")
    b = theano.shared(0.0, name="b")

    # Construct the expression graph
    z = T.dot(x, w) + b
    p_1 = 1 / (1 + T.exp(-z))  # Probability that target = 1
    prediction = p_1 > 0.5  # The prediction thresholded
    # Cross-entropy -y*log(p_1) - (1-y)*log(1-p_1), in a form that cannot overflow:
    xent = y * T.nnet.softplus(-z) + (1 - y) * T.nnet.softplus(z)
    cost = xent.mean() + 0.01 * (w**2).sum()  # The cost to minimize
    gw, gb = theano.grad(cost, [w, b])  # Compute the gradient of the cost w.r.t. w and b

    # Compile
    train = theano.function(inputs=[x, y], outputs=[prediction, xent, cost],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = theano.function(inputs=[x], outputs=prediction)

    # Train
    report_every = max(1, training_steps // 10)
    first_cost = None
    for i in range(training_steps):
        pred, err, c = train(D[0], D[1])
        if first_cost is None:
            first_cost = float(c)
        if i % report_every == 0 or i == training_steps - 1:
            print(f"step {i:5d}  cost {float(c):10.4f}  mean cross-entropy {err.mean():.4f}")

    accuracy = float((predict(D[0]) == D[1]).mean())
    print(f"Final model: |w| = {numpy.linalg.norm(w.get_value()):.4f}, b = {float(b.get_value()):.4f}")
    print("target values for D:  ", D[1][:20], "...")
    print("prediction on D:      ", predict(D[0])[:20].astype(int), "...")
    print(f"cost {first_cost:.4f} -> {float(c):.4f} after {training_steps} steps; training accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
