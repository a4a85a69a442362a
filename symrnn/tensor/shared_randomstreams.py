"""Theano's ``theano.tensor.shared_randomstreams``: ``RandomStreams``."""

from symrnn.ops.random import RandomStreams

__all__ = ["RandomStreams"]
