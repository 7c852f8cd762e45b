"""Hostile model files: paths named inside them, special files, damage that used to escape.

Every case must end in a ``ValueError`` naming the user's file, without hanging (special files
are opened under an alarm, so a regression fails instead of blocking the suite) and without
reading any file the model names.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import zipfile

import numpy as np
import pytest

import cnnkit
from cnnkit import layers as L
from cnnkit.models import load_model
from tests.saving.test_safety import members, rewrite, saved, with_config

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo (POSIX)")


@contextlib.contextmanager
def no_hang(seconds: int = 10):
    """Fail (instead of blocking forever) if the body takes longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s (reading a FIFO?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def text_model(vocabulary):
    layer = L.TextVectorization(output_mode="int", output_sequence_length=3, vocabulary=vocabulary)
    return cnnkit.Sequential([L.Input((1,), dtype="string"), layer])


# -- 3. a path named in a model file is never opened ---------------------------------------


def test_a_vocabulary_path_in_a_model_file_is_never_opened(tmp_path):
    path = tmp_path / "m.keras"
    text_model(["cat", "dog"]).save(path)
    fifo = tmp_path / "secret"
    os.mkfifo(fifo)  # opening it would block: the test proves it is not even opened

    def point_at_fifo(config):
        config["config"]["layers"][1]["config"]["vocabulary"] = str(fifo)

    with_config(path, point_at_fifo)
    with no_hang(), pytest.raises(ValueError, match=r"m\.keras.*vocabulary file outside"):
        load_model(path)
    with no_hang(), pytest.raises(ValueError, match="never opens a path"):
        load_model(path, safe_mode=False)


def test_a_vocabulary_stored_in_the_archive_assets_as_keras_does_is_loaded(tmp_path):
    model = text_model(None)
    model.layers[0].adapt(np.array(["the cat sat", "the dog sat down"]))
    expected = model.layers[0].get_vocabulary()
    x = np.array([["the dog ran"]])
    path = tmp_path / "m.keras"
    model.save(path)
    # what Keras writes: no vocabulary in the config, assets/<layer path>/vocabulary.txt, the
    # path being the weights group's (named after the class, whatever the layer's name)
    contents = members(path)
    config = json.loads(contents["config.json"])
    config["config"]["layers"][1]["config"]["vocabulary"] = None
    contents["config.json"] = json.dumps(config).encode()
    name = "assets/layers/text_vectorization/vocabulary.txt"
    contents[name] = "\n".join(expected).encode()
    rewrite(path, contents)
    loaded = load_model(path)
    assert loaded.layers[0].get_vocabulary() == expected
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # and from an unzipped model folder holding the same files
    folder = tmp_path / "folder"
    for member, data in contents.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(data)
    assert load_model(folder).layers[0].get_vocabulary() == expected


def test_an_unknown_text_encoding_is_refused_when_the_layer_is_made():
    with pytest.raises(ValueError, match="`encoding`.*Received: encoding='no-such-codec'"):
        L.TextVectorization(encoding="no-such-codec")
    with pytest.raises(ValueError, match="`encoding`"):
        L.TextVectorization(encoding="base64")  # a codec, but not a text encoding
    assert L.TextVectorization(encoding="latin-1").encoding == "latin-1"


def test_an_unknown_encoding_in_a_model_file_names_the_file(tmp_path):
    path = tmp_path / "m.keras"
    text_model(["cat"]).save(path)

    def edit(config):
        config["config"]["layers"][1]["config"]["encoding"] = "no-such-codec"

    with_config(path, edit)
    with pytest.raises(ValueError, match=r"m\.keras.*encoding"):
        load_model(path)


# -- 5. special files are refused, not waited on -------------------------------------------


def test_a_fifo_model_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo.keras"
    os.mkfifo(fifo)
    with no_hang(), pytest.raises(ValueError, match=r"fifo\.keras is not a regular file \(a FIFO"):
        load_model(fifo)
    model = cnnkit.Sequential([L.Input((3,)), L.Dense(2)])
    with no_hang(), pytest.raises(ValueError, match="not a regular file"):
        model.load_weights(fifo)


@pytest.mark.parametrize("member", ["model.weights.h5", "config.json", "metadata.json"])
def test_a_fifo_inside_an_unzipped_model_folder_is_refused(tmp_path, member):
    folder = tmp_path / "model"
    cnnkit.Sequential([L.Input((3,)), L.Dense(2)]).save(folder, zipped=False)
    os.remove(folder / member)
    os.mkfifo(folder / member)
    with no_hang(), pytest.raises(ValueError, match=f"{member} is not a regular file"):
        load_model(folder)


def test_a_fifo_weights_file_is_refused(tmp_path):
    fifo = tmp_path / "w.weights.h5"
    os.mkfifo(fifo)
    model = cnnkit.Sequential([L.Input((3,)), L.Dense(2)])
    with no_hang(), pytest.raises(ValueError, match=r"w\.weights\.h5 is not a regular file"):
        model.load_weights(fifo)


def test_a_fifo_vocabulary_file_is_refused(tmp_path):
    fifo = tmp_path / "vocab.txt"
    os.mkfifo(fifo)
    with no_hang(), pytest.raises(ValueError, match=r"vocab\.txt is not a regular file"):
        L.TextVectorization(vocabulary=str(fifo))


# -- 6. damage becomes one ValueError naming the user's file --------------------------------


def flipped(data: bytes, offset: int, mask: int = 0x80) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= mask
    return bytes(damaged)


def test_a_flipped_byte_in_the_hdf5_superblock_names_the_file(tmp_path):
    path = saved(tmp_path)
    contents = members(path)
    weights = contents["model.weights.h5"]
    weights_file = tmp_path / "m.weights.h5"
    model = cnnkit.Sequential([L.Input((3,)), L.Dense(2, name="d")])
    # offset 48 (the end-of-file address) raised OverflowError from h5py
    contents["model.weights.h5"] = flipped(weights, 48)
    rewrite(path, contents)
    with pytest.raises(ValueError, match=r"m\.keras'?: .*weights"):
        load_model(path)
    weights_file.write_bytes(flipped(weights, 48))
    with pytest.raises(ValueError, match=r"m\.weights\.h5"):
        model.load_weights(weights_file)
    for offset in range(96):  # any other superblock byte: loads, or one ValueError naming it
        for target, load in (
            (path, lambda: load_model(path)),
            (weights_file, lambda: model.load_weights(weights_file)),
        ):
            if target == path:
                contents["model.weights.h5"] = flipped(weights, offset)
                rewrite(path, contents)
            else:
                weights_file.write_bytes(flipped(weights, offset))
            try:
                load()
            except ValueError as err:
                assert str(target) in str(err), (offset, err)


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "1e400", "NaN"])
def test_non_finite_json_numbers_in_a_shape_name_the_file(tmp_path, value):
    path = saved(tmp_path)
    contents = members(path)
    text = contents["config.json"].decode()
    assert '"batch_shape": [null, 3]' in text
    contents["config.json"] = text.replace(
        '"batch_shape": [null, 3]', f'"batch_shape": [null, {value}]'
    ).encode()
    rewrite(path, contents)
    with pytest.raises(ValueError, match=r"m\.keras"):
        load_model(path)


def test_messages_name_the_users_file_not_a_temporary_one(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert "model.weights.h5" in archive.namelist()
    contents = members(path)
    contents["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\xff" * 200
    rewrite(path, contents)
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert str(path) in str(info.value) and "/tmp" not in str(info.value).replace(str(tmp_path), "")
