"""Theano's ``theano.sandbox`` namespace: ``rng_mrg.MRG_RandomStreams``."""

from symrnn.sandbox import rng_mrg

__all__ = ["rng_mrg"]
