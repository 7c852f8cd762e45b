"""Property-based tests of model loading: ``.keras`` archives and ``.weights.h5`` files.

Archives with random members (names, duplicates, links, encryption flags, compression),
declared sizes up to 4 GiB, damaged bytes, configs with wrong types, random or damaged HDF5
weights: ``load_model`` / ``model.load_weights`` either load the model exactly as saved or
raise ``ValueError``/``TypeError`` (``FileNotFoundError`` for a missing file); nothing is
written. The ``@example`` cases are inputs that once escaped as other exceptions.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from cnnkit import layers as L
from cnnkit.models import Model, load_model
from tests.fuzz import FUZZ

h5py = pytest.importorskip("h5py")

FUZZ = settings(FUZZ, max_examples=25)
# Known failures: report the first failing example as is, without shrinking it.
KNOWN_FAILURE = settings(FUZZ, phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False)
DOCUMENTED = (ValueError, TypeError)
X = np.linspace(-1.0, 1.0, 8, dtype="float32").reshape(2, 4)


def make_model():
    inputs = L.Input((4,))
    hidden = L.Dense(3, activation="relu")(inputs)
    outputs = L.Dense(2)(L.Concatenate()([hidden, inputs]))
    model = Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


class Saved(tuple):
    """``(members, weights, predictions)``, with a short repr for Hypothesis's reports."""

    def __repr__(self) -> str:
        return "<the reference model's files>"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The members of a saved ``.keras`` file, the bytes of a ``.weights.h5``, and predictions."""
    model = make_model()
    folder = tmp_path_factory.mktemp("reference")
    model.save(folder / "model.keras")
    model.save_weights(folder / "model.weights.h5")
    with zipfile.ZipFile(folder / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights = (folder / "model.weights.h5").read_bytes()
    return Saved((members, weights, model.predict(X, verbose=0)))


def outcome(call):
    """``call()``'s result, or the documented exception it raised (anything else propagates)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "holds assets cnnkit does not read"
            return call(), None
    except DOCUMENTED as error:
        return None, error


def listing(folder) -> list:
    return sorted(os.listdir(folder))


# --- archives ------------------------------------------------------------------------------

MEMBER_NAMES = ("config.json", "metadata.json", "model.weights.h5")
UNSAFE_NAMES = ("../config.json", "/config.json", "a\\b", "C:/x", "x/../../y", "a\x00b")
COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)

extra_members = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(MEMBER_NAMES),
            st.sampled_from(UNSAFE_NAMES),
            st.sampled_from(["model.weights.npz", "assets/vocab.txt", "variables/x"]),
            st.text(st.sampled_from("ab./\\:_"), min_size=1, max_size=8),
        ),
        st.binary(max_size=16),
        st.sampled_from(["plain", "plain", "symlink", "encrypted"]),
    ),
    max_size=3,
)


def unsafe(name: str) -> bool:
    """Mirror of the documented name rules of ``cnnkit.saving.archive``."""
    parts = name.split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or ":" in parts[0]
        or ".." in parts
        or "\x00" in name
    )


def central_directory(data) -> list:
    """The offsets of the central directory's entries, from the end-of-directory record."""
    end = data.rfind(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HII", data, end + 10)
    offsets = []
    for _ in range(count):
        offsets.append(start)
        name, extra, comment = struct.unpack_from("<HHH", data, start + 28)
        start += 46 + name + extra + comment
    return offsets


def write_zip(path, entries) -> list:
    """Write ``(name, data, kind, compression)`` entries; returns the names as stored.

    ``kind`` is ``"plain"``, ``"symlink"`` or ``"encrypted"`` (the flag is set in the central
    directory afterwards: ``zipfile`` clears it when writing).
    """
    stored = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, kind, compression in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            mode = stat.S_IFLNK | 0o777 if kind == "symlink" else stat.S_IFREG | 0o644
            info.external_attr = mode << 16
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
                archive.writestr(info, data)
            stored.append((info.filename, kind))
    data = bytearray(buffer.getvalue())
    for (_, kind), entry in zip(stored, central_directory(data)):  # in the order written
        if kind == "encrypted":
            data[entry + 8] |= 0x1  # general purpose flags, bit 0: encrypted
    if isinstance(path, io.BytesIO):
        path.write(bytes(data))
    else:
        path.write_bytes(bytes(data))
    return stored


@FUZZ
@given(
    st.lists(st.sampled_from(MEMBER_NAMES), unique=True, min_size=0, max_size=3),
    extra_members,
    st.lists(st.sampled_from(COMPRESSIONS), min_size=6, max_size=6),
    st.randoms(use_true_random=False),
)
def test_archive_members(tmp_path_factory, saved, keep, extra, compressions, rnd):
    members, _, expected = saved
    entries = [(name, members[name], "plain") for name in keep] + list(extra)
    rnd.shuffle(entries)
    entries = [(*e, compressions[i % len(compressions)]) for i, e in enumerate(entries)]
    folder = tmp_path_factory.mktemp("archive")
    path = folder / "model.keras"
    stored = write_zip(path, entries)
    names = [name for name, _ in stored]
    refused = (
        any(unsafe(name) or kind != "plain" for name, kind in stored)
        or len(set(names)) != len(names)
        or ("model.weights.npz" in names and "model.weights.h5" not in names)
        or "config.json" not in names
        or "model.weights.h5" not in names
        or any(data != members[name] for name, data, *_ in entries if name in MEMBER_NAMES)
    )
    before = listing(folder)
    model, error = outcome(lambda: load_model(path))
    if refused:
        assert error is not None and str(path) in str(error), "an archive to refuse was loaded"
    else:
        assert error is None, f"a sound archive was refused: {error}"
        np.testing.assert_array_equal(model.predict(X, verbose=0), expected)
    assert listing(folder) == before


def patch_central_directory(data: bytes, name: str, field: str, value: int) -> bytes:
    """Set ``file_size`` or ``compress_size`` of ``name`` in the zip's central directory."""
    offset = {"compress_size": 20, "file_size": 24}[field]
    data = bytearray(data)
    for entry in central_directory(data):
        length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + length] == name.encode():
            struct.pack_into("<I", data, entry + offset, value)
    return bytes(data)


@FUZZ
@given(
    st.sampled_from(MEMBER_NAMES),
    st.integers(2**27, 2**32 - 1),  # above every cap: 64 MiB, and 64 MiB + 100x the archive
    st.sampled_from(COMPRESSIONS),
)
def test_huge_declared_sizes_are_refused(tmp_path_factory, saved, name, size, compression):
    members, _, _ = saved
    buffer = io.BytesIO()
    write_zip(buffer, [(n, data, "plain", compression) for n, data in members.items()])
    path = tmp_path_factory.mktemp("declared") / "model.keras"
    path.write_bytes(patch_central_directory(buffer.getvalue(), name, "file_size", size))
    with pytest.raises(ValueError, match=re.escape(f"{name!r} declares {size} bytes")):
        load_model(path)


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(b"PK\x03\x04".__add__)))
def test_random_bytes_are_not_a_model(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "model.keras"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_model(path)
    weights = path.with_name("model.weights.h5")
    weights.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(str(weights))):
        make_model().load_weights(weights)


@KNOWN_FAILURE
@example(zipfile.ZIP_STORED, [(9149, 255)], None, False)  # a byte of the weights: "Bad CRC-32"
@given(
    st.sampled_from(COMPRESSIONS),
    st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(0, 2**31)),
    st.booleans(),
)
def test_damaged_archives(tmp_path_factory, saved, compression, flips, cut, weights_only):
    members, _, expected = saved
    buffer = io.BytesIO()
    write_zip(buffer, [(n, data, "plain", compression) for n, data in members.items()])
    data = bytearray(buffer.getvalue())
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path_factory.mktemp("damaged") / "model.keras"
    path.write_bytes(bytes(data))
    if weights_only:
        outcome(lambda: make_model().load_weights(path))
        return
    model, error = outcome(lambda: load_model(path))
    if error is None:  # damage in a part no reader looks at
        np.testing.assert_array_equal(model.predict(X, verbose=0), expected)


# --- configs -------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 100),
        st.sampled_from([2**40, 2**62]),  # sizes no machine has: refused at once, never touched
        st.floats(allow_nan=False),
        st.sampled_from(["", "Dense", "relu", "float32", "keras.layers", "__keras_tensor__"]),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["class_name", "config", "module", "name", "shape", "dtype", "x"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


def json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, (dict, list)):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            yield from json_paths(child, prefix + (key,))


# 1-3 edits: (which value, delete it or not, its replacement)
config_edits = st.lists(
    st.tuples(st.integers(0, 10**6), st.booleans(), json_values), min_size=1, max_size=3
)


def edit_config(config, edits):
    """``config`` with the values the edits pick replaced by random JSON, or deleted."""
    config = json.loads(json.dumps(config))
    for which, delete, value in edits:
        paths = list(json_paths(config))[1:]
        if not paths:
            break
        path = paths[which % len(paths)]
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        if delete:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return config


def write_with_config(folder, members, config_bytes):
    path = folder / "model.keras"
    contents = dict(members, **{"config.json": config_bytes})
    write_zip(path, [(n, d, "plain", zipfile.ZIP_DEFLATED) for n, d in contents.items()])
    return path


@KNOWN_FAILURE
@example(b'{"class_name": "__keras_tensor__", "config": {}}')
@given(st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode())))
def test_config_that_is_not_a_model(tmp_path_factory, saved, config):
    members, _, _ = saved
    path = write_with_config(tmp_path_factory.mktemp("config"), members, config)
    _, error = outcome(lambda: load_model(path))
    assert error is not None


@KNOWN_FAILURE
@example([(0, False, {"x": 1})])  # "module": {"x": 1} -> AttributeError in builtin_names
@example([(1020, False, [])])  # no outputs left: refused, not a model without outputs
@given(config_edits)
def test_configs_with_wrong_values(tmp_path_factory, saved, edits):
    members, _, expected = saved
    config = edit_config(json.loads(members["config.json"]), edits)
    path = write_with_config(
        tmp_path_factory.mktemp("mutated"), members, json.dumps(config).encode()
    )
    model, error = outcome(lambda: load_model(path))
    outputs = getattr(model, "outputs", None)
    if isinstance(model, Model) and outputs and tuple(outputs[0].shape) == (None, 2):
        assert model.predict(X, verbose=0).shape == expected.shape


# --- weights files -------------------------------------------------------------------------

WEIGHT_PATHS = (
    "layers/dense/vars/0",
    "layers/dense/vars/1",
    "layers/dense_1/vars/0",
    "layers/dense_1/vars/1",
    "layers/dense/vars",
    "layers/concatenate/vars/0",
    "vars/0",
    "optimizer/vars/0",
)
SHAPES = {"layers/dense/vars/0": (4, 3), "layers/dense/vars/1": (3,)}
SHAPES |= {"layers/dense_1/vars/0": (7, 2), "layers/dense_1/vars/1": (2,)}

weight_entries = st.dictionaries(
    st.sampled_from(WEIGHT_PATHS),
    st.one_of(
        st.tuples(
            st.just("data"),
            st.one_of(
                st.lists(st.integers(0, 7), max_size=3).map(tuple), st.sampled_from([(4, 3), (3,)])
            ),
            st.sampled_from(["f4", "f8", "i4", "u1", "?", "f2"]),
        ),
        st.tuples(
            st.sampled_from(["group", "soft", "external", "strings", "compound", "bfloat16"]),
            st.none(),
            st.none(),
        ),
    ),
    max_size=6,
)


def write_h5(path, entries: dict) -> None:
    with h5py.File(path, "w") as f:
        for name, (kind, shape, dtype) in entries.items():
            if any(name.startswith(other + "/") for other in entries if other != name):
                continue  # a dataset cannot also be a group
            if kind == "data":
                f.create_dataset(name, data=np.ones(shape, dtype))
            elif kind == "group":
                f.create_group(name)
            elif kind == "soft":
                f[name] = h5py.SoftLink("/layers/dense/vars/1")
            elif kind == "external":
                f[name] = h5py.ExternalLink("/etc/hostname", "/x")
            elif kind == "strings":
                f.create_dataset(name, data=np.array([b"ab", b"c"]))
            elif kind == "compound":
                f.create_dataset(name, data=np.zeros(3, [("a", "f4"), ("b", "i4")]))
            else:
                f.create_dataset(name, data=np.zeros((4, 3), "u2")).attrs["dtype"] = "bfloat16"


@FUZZ
@given(weight_entries, st.booleans())
def test_crafted_weights_files(tmp_path_factory, entries, skip_mismatch):
    path = tmp_path_factory.mktemp("h5") / "model.weights.h5"
    write_h5(path, entries)
    model = make_model()
    before = model.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skip_mismatch warns about what it skips
        _, error = outcome(lambda: model.load_weights(path, skip_mismatch=skip_mismatch))
    written = {
        name: entry
        for name, entry in entries.items()
        if not any(name.startswith(other + "/") for other in entries if other != name)
    }
    fits = all(
        written.get(name, (None,))[0] == "data" and written[name][1] == shape
        for name, shape in SHAPES.items()
    ) and not any(name.startswith(("layers/concatenate/", "vars/")) for name in written)
    if error is not None:
        for old, new in zip(before, model.get_weights()):  # checked before anything changes
            np.testing.assert_array_equal(old, new)
    elif fits:
        assert all(np.all(value == 1) for value in model.get_weights())
    else:
        assert skip_mismatch, "a weights file that does not fit the model was loaded"


@KNOWN_FAILURE
@example([(1552, 255)])  # a damaged local heap: RuntimeError from h5py
@given(st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=6))
def test_damaged_weights_files(tmp_path_factory, saved, flips):
    _, weights, _ = saved
    data = bytearray(weights)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    path = tmp_path_factory.mktemp("h5-damaged") / "model.weights.h5"
    path.write_bytes(bytes(data))
    outcome(lambda: make_model().load_weights(path))


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras"):
        load_model(tmp_path / "model.keras")
    with pytest.raises(FileNotFoundError, match="model.weights.h5"):
        make_model().load_weights(tmp_path / "model.weights.h5")
