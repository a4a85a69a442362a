"""Shared by the tests, the doctests in symrnn/ and the code samples in docs/ and README.md."""

import pytest

from symrnn.nn.naming import reset_default_names


@pytest.fixture(autouse=True)
def _default_layer_names_start_afresh():
    """Each test names its layers as a fresh process would: the first default-named LSTMCell is ``lstm``."""
    reset_default_names()
