"""Saving and loading parameters as .npz: round trips, errors that name the array, no partial loads, no pickle."""

from __future__ import annotations

import pickle
from collections import OrderedDict

import numpy as np
import pytest

import symrnn
from symrnn.nn.io import load_params, save_params
from symrnn.nn.layers import Dense, Embedding

RNG = np.random.default_rng(11)


def make_params():
    return OrderedDict(
        W=symrnn.shared(RNG.normal(size=(3, 4)), name="layer.W"),
        b=symrnn.shared(RNG.normal(size=(4,)).astype("float32"), name="layer.b"),
        steps=symrnn.shared(np.int64(7), name="steps"),
    )


def snapshot(params):
    return {k: p.get_value() for k, p in params.items()}


def assert_unchanged(params, before):
    for k, p in params.items():
        value = p.get_value()
        assert value.dtype == before[k].dtype
        np.testing.assert_array_equal(value, before[k], err_msg=f"parameter {k} changed")


def test_round_trip_restores_values_dtypes_and_shapes(tmp_path):
    params = make_params()
    saved = snapshot(params)
    path = tmp_path / "model.npz"
    save_params(path, params)
    with np.load(path, allow_pickle=False) as data:  # a plain archive, one array per name
        assert sorted(data.files) == ["W", "b", "steps"]
        np.testing.assert_array_equal(data["W"], saved["W"])
    for p in params.values():
        p.set_value(np.zeros_like(p.get_value()))
    load_params(path, params)
    assert_unchanged(params, saved)


def test_round_trip_of_layer_objects_and_lists_and_a_path_without_suffix(tmp_path):
    dense, embed = Dense(3, 2, seed=0, dtype="float64"), Embedding(5, 3, seed=1, dtype="float64")
    for obj in (dense, embed):
        saved = snapshot(obj.params)
        save_params(tmp_path / "layer", obj)  # np.savez appends .npz; load_params finds it
        assert (tmp_path / "layer.npz").exists()
        for p in obj.params.values():
            p.set_value(np.ones_like(p.get_value()))
        load_params(tmp_path / "layer", obj)
        assert_unchanged(obj.params, saved)
    listed = [dense.W, dense.b]
    save_params(str(tmp_path / "list.npz"), listed)
    with np.load(tmp_path / "list.npz") as data:
        assert sorted(data.files) == ["dense.W", "dense.b"]
    dense.W.set_value(np.zeros((3, 2)))
    load_params(str(tmp_path / "list.npz"), listed)
    np.testing.assert_array_equal(dense.W.get_value(), np.load(tmp_path / "list.npz")["dense.W"])


def test_loaded_values_are_used_by_compiled_functions(tmp_path):
    W = symrnn.shared(np.zeros(3), name="W")
    f = symrnn.function([], W.sum())
    np.savez(tmp_path / "w.npz", W=np.array([1.0, 2.0, 3.5]))
    load_params(tmp_path / "w.npz", {"W": W})
    assert f() == 6.5


def assert_load_refused(tmp_path, file_name, arrays, error, *words):
    """Loading a file of ``arrays`` raises ``error`` whose message holds every one of ``words``, and changes
    none of the parameters (nothing is lost)."""
    params = make_params()
    path = tmp_path / file_name
    np.savez(path, **arrays)
    before = snapshot(params)
    with pytest.raises(error) as info:
        load_params(path, params)
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    assert_unchanged(params, before)


def test_missing_array_is_a_key_error_naming_it_and_the_file(tmp_path):
    assert_load_refused(tmp_path, "partial.npz", {"W": np.zeros((3, 4)), "b": np.zeros(4, "float32")},  # W, b fine
                        KeyError, "'steps'", "partial.npz")


def test_wrong_shape_is_a_value_error_naming_array_and_both_shapes(tmp_path):
    assert_load_refused(tmp_path, "shape.npz",
                        {"W": np.zeros((3, 4)), "b": np.zeros(5, "float32"), "steps": np.int64(1)},
                        ValueError, "'b'", "(5,)", "(4,)", "shape.npz")


def test_wrong_dtype_is_a_value_error_naming_array_and_both_dtypes(tmp_path):
    assert_load_refused(tmp_path, "dtype.npz",
                        {"W": np.ones((3, 4)), "b": np.ones(4, "float64"), "steps": np.int64(1)},
                        ValueError, "'b'", "float64", "float32")


def test_extra_arrays_raise_when_strict_and_are_ignored_otherwise(tmp_path):
    params = make_params()
    path = tmp_path / "extra.npz"
    np.savez(path, W=np.ones((3, 4)), b=np.ones(4, "float32"), steps=np.int64(3), U=np.ones(2))
    before = snapshot(params)
    with pytest.raises(ValueError) as info:
        load_params(path, params)
    assert "'U'" in str(info.value) and "strict=False" in str(info.value)
    assert_unchanged(params, before)
    load_params(path, params, strict=False)
    np.testing.assert_array_equal(params["W"].get_value(), np.ones((3, 4)))
    assert params["steps"].get_value() == 3


CALLS = []


def _record_call(*args):
    CALLS.append(args)
    return args


class Payload:
    """Unpickling this would call ``_record_call``: a stand-in for arbitrary code in a pickle."""

    def __reduce__(self):
        return (_record_call, ("pickle ran",))


def test_object_arrays_are_refused_and_never_unpickled(tmp_path):
    params = make_params()
    path = tmp_path / "evil.npz"
    evil = np.empty((3, 4), dtype=object)
    evil[...] = Payload()
    np.savez(path, W=evil, b=np.ones(4, "float32"), steps=np.int64(3))
    before = snapshot(params)
    with pytest.raises(ValueError) as info:
        load_params(path, params)
    assert "'W'" in str(info.value) and "pickle" in str(info.value)
    assert CALLS == []
    assert_unchanged(params, before)
    with np.load(path, allow_pickle=True) as data:  # the check is real: with pickle allowed, the payload runs
        data["W"]
    assert CALLS and CALLS[0] == ("pickle ran",)
    CALLS.clear()


def test_a_pickle_file_or_single_npy_is_not_an_archive(tmp_path):
    W = symrnn.shared(np.zeros(2), name="W")
    pkl = tmp_path / "model.npz"
    pkl.write_bytes(pickle.dumps({"W": Payload()}))
    with pytest.raises(ValueError, match="not a plain .npz"):
        load_params(pkl, {"W": W})
    assert CALLS == []
    npy = tmp_path / "single.npy"
    np.save(npy, np.ones(2))
    with pytest.raises(ValueError, match="single .npy array"):
        load_params(npy, {"W": W})
    np.testing.assert_array_equal(W.get_value(), np.zeros(2))


def test_bad_params_arguments(tmp_path):
    with pytest.raises(TypeError, match="named shared variables"):
        save_params(tmp_path / "unused.npz", [symrnn.shared(np.zeros(2))])
    with pytest.raises(TypeError, match="not a shared variable"):
        save_params(tmp_path / "unused.npz", {"W": np.zeros(2)})
    with pytest.raises(ValueError, match="two parameters are named 'W'"):
        save_params(tmp_path / "unused.npz", [symrnn.shared(np.zeros(2), name="W"),
                                              symrnn.shared(np.zeros(2), name="W")])
