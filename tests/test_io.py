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
    dense, embed = (Dense(3, 2, seed=0, dtype="float64", name="dense"),
                    Embedding(5, 3, seed=1, dtype="float64", name="embedding"))
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
        assert sorted(data.files) == ["dense/W", "dense/b"]
    dense.W.set_value(np.zeros((3, 2)))
    load_params(str(tmp_path / "list.npz"), listed)
    np.testing.assert_array_equal(dense.W.get_value(), np.load(tmp_path / "list.npz")["dense/W"])


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


# ---------------------------------------------------------------- issue 15: atomic saves, names, load errors


def test_a_save_that_fails_midway_leaves_the_old_file_intact(tmp_path, monkeypatch):
    """Finding 2: the disk filled up while np.savez wrote straight over the old file."""
    params = make_params()
    path = tmp_path / "model.npz"
    save_params(path, params)
    good = path.read_bytes()
    from numpy.lib import format as npy_format

    real_write = npy_format.write_array
    calls = []

    def disk_full(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is written, the second fails
            raise OSError(28, "No space left on device")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(npy_format, "write_array", disk_full)
    params["W"].set_value(np.zeros((3, 4)))
    with pytest.raises(OSError, match="No space left"):
        save_params(path, params)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary left behind
    monkeypatch.undo()
    fresh = make_params()
    load_params(path, fresh)


@pytest.mark.parametrize("name", ["allow_pickle", "file", "args", "kwds", "encoder/lstm/W_i"])
def test_parameter_names_never_collide_with_savez_arguments(tmp_path, name):
    """Finding 3: {"allow_pickle": s} was taken as np.savez's flag and dropped; "file" raised a TypeError."""
    params = {name: symrnn.shared(RNG.normal(size=(2, 3)), name="p"), "W": symrnn.shared(np.ones(2), name="W")}
    path = tmp_path / "names.npz"
    save_params(path, params)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted([name, "W"])
    restored = {name: symrnn.shared(np.zeros((2, 3)), name="p"), "W": symrnn.shared(np.zeros(2), name="W")}
    load_params(path, restored)
    np.testing.assert_array_equal(restored[name].get_value(), params[name].get_value())


def test_same_size_but_transposed_shape_is_refused_and_nothing_changes(tmp_path):
    """A (4, 3) array into a (3, 4) parameter has the same size: only a shape comparison refuses it."""
    params = make_params()
    path = tmp_path / "t.npz"
    np.savez(path, W=np.ones((4, 3)), b=np.ones(4, "float32"), steps=np.int64(1))
    before = snapshot(params)
    with pytest.raises(ValueError, match=r"'W'.*\(4, 3\).*\(3, 4\)"):
        load_params(path, params)
    assert_unchanged(params, before)


def _npz_with_member(path, name, raw: bytes):
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name + ".npy", raw)


def test_a_header_that_claims_a_huge_array_is_a_value_error_naming_file_and_entry(tmp_path):
    """Finding 7: a header claiming 2**40 elements raised a raw MemoryError."""
    import io

    from numpy.lib import format as npy_format

    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 20, 2 ** 20)})
    path = tmp_path / "huge.npz"
    _npz_with_member(path, "W", header.getvalue() + b"\0" * 64)
    W = symrnn.shared(np.zeros((2, 2)), name="W")
    with pytest.raises(ValueError, match=r"'W'.*huge\.npz"):
        load_params(path, {"W": W})
    np.testing.assert_array_equal(W.get_value(), np.zeros((2, 2)))


def test_a_truncated_member_is_reported_as_truncated_not_as_pickle(tmp_path):
    """Finding 7: a cut-off member was reported as 'cannot be loaded without pickle'."""
    import io

    from numpy.lib import format as npy_format

    buffer = io.BytesIO()
    npy_format.write_array(buffer, np.arange(100.0))
    path = tmp_path / "cut.npz"
    _npz_with_member(path, "W", buffer.getvalue()[:-200])
    W = symrnn.shared(np.zeros(100), name="W")
    with pytest.raises(ValueError) as info:
        load_params(path, {"W": W})
    message = str(info.value)
    assert "'W'" in message and "cut.npz" in message and "pickle" not in message
    np.testing.assert_array_equal(W.get_value(), np.zeros(100))


def test_a_corrupt_zip_is_a_value_error_naming_the_file(tmp_path):
    """Finding 7: zipfile.BadZipFile escaped instead of the documented ValueError."""
    params = make_params()
    path = tmp_path / "broken.npz"
    save_params(path, params)
    raw = bytearray(path.read_bytes())
    path.write_bytes(b"PK\x03\x04" + bytes(raw[4:40]))  # a zip's start, cut short
    with pytest.raises(ValueError, match="broken.npz"):
        load_params(path, make_params())
