"""A character-level language model on Python's own help texts, which then writes some text.

The text is ``pydoc_data.topics.topics``, the help pages that ship with Python
(``help("assert")`` shows one), joined in key order; a slice of it is used,
the last tenth held out for validation.  The model reads characters through
an ``Embedding``, runs a ``symrnn.nn.LSTMCell`` over them with ``nn.rnn`` and
predicts the next character with a ``Dense`` softmax layer.  Training uses
random windows of 50 characters (truncated backpropagation through time: the
state starts at zero in every window), ``sequence_loss``, gradients clipped by
their global norm, and Adam.

After training it compiles a one-step function from ``cell.step`` (one
character in, the next character's logits and the new state out) and samples
text with NumPy, one character at a time, feeding each one back in.

Measured here: the validation perplexity falls from 100 (uniform over the 100
characters) to about 4.5 after 2,000 steps; the fast mode gets from 86 to 11.9.

Run it::

    python examples/char_lm.py                  # 100 KB of text, 2,000 steps (a minute or two)
    python examples/char_lm.py --fast           # 20 KB, 150 steps (or set SYMRNN_FAST=1)
    python examples/char_lm.py --sample-length 500 --temperature 0.5 --prime "The "
"""

import argparse
import math
import os
import time
from pydoc_data.topics import topics

# The matrices in this script are small: one BLAS thread is as fast as several, and far faster on a busy
# machine, where competing BLAS threads spin. Set before NumPy loads; a setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.nn import losses, optimizers
from symrnn.nn.layers import Dense, Embedding

SEQ_LEN, BATCH, EMBED, HIDDEN, LEARNING_RATE, MAX_NORM = 50, 32, 32, 128, 0.005, 5.0


def load_text(n_chars):
    """The first ``n_chars`` characters of Python's help topics, joined in key order."""
    text = "".join(topics[key] for key in sorted(topics))
    return text[:n_chars]


def windows(ids, rng, seq_len, batch):
    """Random windows: inputs ``(seq_len, batch)`` and targets, the same characters one step later."""
    starts = rng.integers(0, len(ids) - seq_len - 1, batch)
    chunk = np.stack([ids[s:s + seq_len + 1] for s in starts], axis=1)
    return chunk[:-1], chunk[1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="20 KB of text, 150 steps (or SYMRNN_FAST=1)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (2,000; fast: 150)")
    parser.add_argument("--chars", type=int, default=None, help="characters of text to use (100,000; fast: 20,000)")
    parser.add_argument("--sample-length", type=int, default=300, help="characters to sample after training")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (lower: safer)")
    parser.add_argument("--prime", default="The ", help="text to start the sample from")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    symrnn.config.floatX = "float32"  # in main(), so that importing this file changes no settings
    fast = args.fast or os.environ.get("SYMRNN_FAST", "") not in ("", "0")
    steps = args.steps or (150 if fast else 2000)
    n_chars = args.chars or (20_000 if fast else 100_000)

    text = load_text(n_chars)
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text], dtype="int32")
    split = len(ids) * 9 // 10
    train_ids, valid_ids = ids[:split], ids[split:]
    V = len(vocab)
    print(f"Text: the first {len(text):,} characters of Python's {len(topics)} help topics (pydoc_data.topics), "
          f"vocabulary of {V}; {len(valid_ids):,} held out")

    # ---- the model, over a time-major batch of ids (T, B)
    embed = Embedding(V, EMBED, seed=args.seed, name="embed")
    cell = nn.LSTMCell(EMBED, HIDDEN, seed=args.seed + 1)
    readout = Dense(HIDDEN, V, seed=args.seed + 2, name="readout")
    params = list(embed.params.values()) + list(cell.params.values()) + list(readout.params.values())

    inputs, targets = T.imatrix("inputs"), T.imatrix("targets")
    outputs, _ = nn.rnn(cell, embed(inputs))
    logits = readout(outputs)  # (T, B, V)
    loss = losses.sequence_loss(logits, targets, T.ones_like(targets, dtype="float32"))
    grads = symrnn.grad(loss, params)
    clipped, grad_norm = optimizers.clip_by_global_norm(grads, MAX_NORM)
    start = time.perf_counter()
    train_step = symrnn.function([inputs, targets], [loss, grad_norm],
                                 updates=optimizers.adam(clipped, params, learning_rate=LEARNING_RATE))
    evaluate = symrnn.function([inputs, targets], loss)

    # ---- the one-step sampler: one character per sequence, the state in and out
    char, c_prev, h_prev = T.ivector("char"), T.matrix("c"), T.matrix("h")
    h_out, (c_next, h_next) = cell.step(embed(char), (c_prev, h_prev))
    next_logits = readout(h_out)
    sample_step = symrnn.function([char, c_prev, h_prev], [next_logits, c_next, h_next])
    print(f"Compiled training, evaluation and sampling in {time.perf_counter() - start:.2f} s")

    def validation_loss():
        # Non-overlapping windows of the held-out text, all in one batch.
        n = (len(valid_ids) - 1) // SEQ_LEN
        x = valid_ids[:n * SEQ_LEN].reshape(n, SEQ_LEN).T
        y = valid_ids[1:n * SEQ_LEN + 1].reshape(n, SEQ_LEN).T
        return float(evaluate(np.ascontiguousarray(x), np.ascontiguousarray(y)))

    # ---- training
    rng = np.random.default_rng(args.seed)
    print(f"Training: {steps} steps of {BATCH} windows of {SEQ_LEN} characters, Adam lr={LEARNING_RATE}, "
          f"gradients clipped to global norm {MAX_NORM}")
    print(f"Uniform guessing: loss {math.log(V):.3f} nats/char, perplexity {V}")
    first_valid = validation_loss()
    print(f"{'step':>6s}{'train loss':>12s}{'perplexity':>12s}{'grad norm':>11s}{'valid loss':>12s}{'perplexity':>12s}")
    print(f"{0:6d}{'':>12s}{'':>12s}{'':>11s}{first_valid:12.3f}{math.exp(first_valid):12.1f}")
    report_every = max(1, steps // 5)
    window_losses, window_norms = [], []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        batch_loss, norm = train_step(*windows(train_ids, rng, SEQ_LEN, BATCH))
        window_losses.append(float(batch_loss))
        window_norms.append(float(norm))
        if step % report_every == 0 or step == steps:
            train_loss, valid = float(np.mean(window_losses)), validation_loss()
            print(f"{step:6d}{train_loss:12.3f}{math.exp(train_loss):12.1f}{max(window_norms):11.2f}"
                  f"{valid:12.3f}{math.exp(valid):12.1f}", flush=True)
            window_losses, window_norms = [], []
    print(f"Trained in {time.perf_counter() - start:.1f} s (train loss and the largest gradient norm: over the "
          "steps since the last line)")
    print(f"validation perplexity {math.exp(first_valid):.1f} -> {math.exp(valid):.1f} "
          f"(uniform guessing: {V})")

    # ---- sampling, with NumPy: feed the prime, then each sampled character back in
    sample_rng = np.random.default_rng(args.seed)
    c = np.zeros((1, HIDDEN), dtype="float32")
    h = np.zeros((1, HIDDEN), dtype="float32")
    prime = "".join(ch for ch in args.prime if ch in index) or vocab[0]
    for ch in prime:
        step_logits, c, h = sample_step(np.array([index[ch]], dtype="int32"), c, h)
    sampled = []
    for _ in range(args.sample_length):
        z = step_logits[0].astype("float64") / args.temperature
        p = np.exp(z - z.max())
        nxt = int(sample_rng.choice(V, p=p / p.sum()))
        sampled.append(vocab[nxt])
        step_logits, c, h = sample_step(np.array([nxt], dtype="int32"), c, h)
    sample = "".join(sampled)
    print(f"----- sample: {len(sample)} characters after {prime!r}, temperature {args.temperature} -----")
    print(sample)
    print("----- end of sample -----")


if __name__ == "__main__":
    main()
