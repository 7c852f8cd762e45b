"""mnist.load_data: header-only checks of local files, MD5 on download, the error message."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnnkit.datasets import _files, mnist

SYSTEM_DIR = "/usr/share/datasets/mnist"


@pytest.fixture
def tiny_mnist(monkeypatch):
    monkeypatch.setattr(mnist, "NUM_TRAIN", 5)
    monkeypatch.setattr(mnist, "NUM_TEST", 3)
    monkeypatch.setattr(mnist, "SYSTEM_DIRS", ())


def test_constants():
    assert mnist.PAYLOAD_SHA256 == {}  # unknown: local files are checked by header only
    assert set(mnist.GZ_MD5) == set(_files.FILENAMES)
    assert SYSTEM_DIR in mnist.SYSTEM_DIRS
    assert mnist.BASE_URL.endswith("/")


def test_local_files_checked_by_header_only(tmp_path, tiny_dataset, tiny_mnist):
    info = tiny_dataset(tmp_path / "d", gz=False)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=tmp_path / "d")
    np.testing.assert_array_equal(x_train, info["arrays"]["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, info["arrays"]["t10k-labels-idx1-ubyte"])
    assert x_test.shape == (3, 28, 28) and y_train.shape == (5,)


def test_local_wrong_magic(tmp_path, tiny_dataset, tiny_mnist, idx_bytes):
    labels_as_images = idx_bytes(np.zeros(5, np.uint8), magic=2051)
    tiny_dataset(tmp_path / "d", train_labels_idx1_ubyte=labels_as_images)
    with pytest.raises(ValueError, match="magic number 2051, expected 2049"):
        mnist.load_data(path=tmp_path / "d")


def test_download_checks_md5(tmp_path, tiny_dataset, tiny_mnist, monkeypatch):
    mirror = tiny_dataset(tmp_path / "mirror")
    monkeypatch.setattr(mnist, "BASE_URL", (tmp_path / "mirror").as_uri() + "/")
    with pytest.raises(ValueError, match=f"expected {mnist.GZ_MD5['train-images-idx3-ubyte']}"):
        mnist.load_data()
    cache = _files.cache_dir(mnist.NAME)
    assert not os.path.exists(cache) or os.listdir(cache) == []

    monkeypatch.setattr(mnist, "GZ_MD5", mirror["md5"])
    (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, mirror["arrays"]["train-images-idx3-ubyte"])


def test_not_found_message(tmp_path, tiny_mnist):
    with pytest.raises(FileNotFoundError, match="MNIST not found") as excinfo:
        mnist.load_data()
    message = str(excinfo.value)
    assert "CNNKIT_DATA_DIR" in message and "/usr/share/datasets/mnist" in message
    assert "failed: URLError" in message


def test_real_mnist(monkeypatch):
    if not all(_files.find_file(SYSTEM_DIR, f) for f in _files.FILENAMES):
        pytest.skip(f"MNIST not installed in {SYSTEM_DIR}")
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and int(y_train.max()) == 9
