"""Theano's ``ifelse``: a lazy branch (being built)."""
