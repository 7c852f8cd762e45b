"""The IDX parser, gzip reader, hash checks and folder helpers shared by the MNIST-like loaders."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

from cnnkit.datasets import _files


def _images(n=4):
    return np.arange(n * 28 * 28, dtype=np.int64).reshape(n, 28, 28).astype(np.uint8)


def test_parse_images_and_labels(idx_bytes):
    images, labels = _images(), np.array([3, 1, 4, 1], dtype=np.uint8)
    x = _files.parse_idx(idx_bytes(images), "img", magic=2051, item_shape=(28, 28))
    y = _files.parse_idx(idx_bytes(labels), "lab", magic=2049, item_shape=())
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and x.shape == (4, 28, 28) and y.shape == (4,)
    assert x.flags.writeable and x.flags.owndata


def test_wrong_magic(idx_bytes):
    data = idx_bytes(_images(), magic=2049)
    with pytest.raises(ValueError, match=r"some-file: .*magic number 2049, expected 2051"):
        _files.parse_idx(data, "some-file", magic=2051, item_shape=(28, 28))


def test_wrong_dimensions(idx_bytes):
    data = idx_bytes(np.zeros((2, 27, 28), np.uint8), magic=2051)
    with pytest.raises(ValueError, match=r"dimensions \(27, 28\), expected \(28, 28\)"):
        _files.parse_idx(data, "f", magic=2051, item_shape=(28, 28))


def test_truncated_payload(idx_bytes):
    data = idx_bytes(_images())[:-1]
    with pytest.raises(ValueError, match=r"f: truncated IDX file: .*\(4, 28, 28\)"):
        _files.parse_idx(data, "f", magic=2051, item_shape=(28, 28))


def test_truncated_header():
    with pytest.raises(ValueError, match=r"truncated IDX file: 6 bytes, shorter than its 16-byte"):
        _files.parse_idx(b"\0\0\x08\x03\0\0", "f", magic=2051, item_shape=(28, 28))


def test_trailing_bytes(idx_bytes):
    data = idx_bytes(np.array([1, 2], np.uint8)) + b"xyz"
    with pytest.raises(ValueError, match="3 unexpected bytes"):
        _files.parse_idx(data, "f", magic=2049, item_shape=())


def test_wrong_sha256_names_file_and_both_hashes(idx_bytes):
    data = idx_bytes(np.array([1, 2], np.uint8))
    expected = "0" * 64
    received = hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match=f"labels.gz: wrong SHA-256.*{expected}.*{received}"):
        _files.parse_idx(data, "labels.gz", magic=2049, item_shape=(), sha256=expected)


def test_right_sha256_passes(idx_bytes):
    data = idx_bytes(np.array([1, 2], np.uint8))
    sha = hashlib.sha256(data).hexdigest()
    y = _files.parse_idx(data, "f", magic=2049, item_shape=(), sha256=sha)
    np.testing.assert_array_equal(y, [1, 2])


def test_read_payload_gz_and_raw(tmp_path, idx_bytes):
    data = idx_bytes(np.array([7, 8, 9], np.uint8))
    (tmp_path / "a.gz").write_bytes(gzip.compress(data))
    (tmp_path / "a").write_bytes(data)
    assert _files.read_payload(tmp_path / "a.gz") == data
    assert _files.read_payload(tmp_path / "a") == data


def test_read_payload_multi_member_gzip(tmp_path):
    (tmp_path / "m.gz").write_bytes(gzip.compress(b"abc") + gzip.compress(b"def") + b"\0\0")
    assert _files.read_payload(tmp_path / "m.gz") == b"abcdef"


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(os.urandom(5000))[:-100])
    with pytest.raises(ValueError, match=r"t\.gz: truncated gzip file"):
        _files.read_payload(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "c.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(ValueError, match=r"c\.gz: corrupt gzip file"):
        _files.read_payload(path)


def test_find_file_prefers_gz_then_raw(tmp_path):
    assert _files.find_file(tmp_path, "x") is None
    (tmp_path / "x").write_bytes(b"")
    assert _files.find_file(tmp_path, "x") == str(tmp_path / "x")
    (tmp_path / "x.gz").write_bytes(b"")
    assert _files.find_file(tmp_path, "x") == str(tmp_path / "x.gz")


def test_cache_dir_env_var_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "data"))
    assert _files.cache_dir("mnist") == str(tmp_path / "data" / "mnist")
    monkeypatch.delenv("CNNKIT_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".cnnkit" / "datasets" / "fashion-mnist"
    assert _files.cache_dir("fashion-mnist") == str(expected)
