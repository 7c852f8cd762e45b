"""fashion_mnist.load_data: search order, checks, download path (file:// only) and real data."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnnkit.datasets import _files, fashion_mnist

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"


def _assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8


def _cache():
    return _files.cache_dir(fashion_mnist.NAME)


# --- explicit path -------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "uncompressed"])
def test_load_from_explicit_path(tmp_path, tiny_dataset, tiny_fashion, gz):
    info = tiny_dataset(tmp_path / "d", gz=gz)
    tiny_fashion(info["sha256"])
    _assert_loaded(fashion_mnist.load_data(path=tmp_path / "d"), info["arrays"])


def test_explicit_path_missing_file(tmp_path, tiny_dataset, tiny_fashion):
    info = tiny_dataset(tmp_path / "d", skip=("t10k-labels-idx1-ubyte",))
    tiny_fashion(info["sha256"])
    with pytest.raises(FileNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        fashion_mnist.load_data(path=tmp_path / "d")


# --- checks --------------------------------------------------------------------------------


def test_wrong_hash_names_file_and_expected_hash(tmp_path, tiny_dataset, tiny_fashion):
    info = tiny_dataset(tmp_path / "d")
    wrong = dict(info["sha256"], **{"t10k-images-idx3-ubyte": "ab" * 32})
    tiny_fashion(wrong)
    match = r"t10k-images-idx3-ubyte\.gz: wrong SHA-256 .*expected (ab){32}, received [0-9a-f]{64}"
    with pytest.raises(ValueError, match=match):
        fashion_mnist.load_data(path=tmp_path / "d")


def test_real_hashes_reject_tiny_files(tmp_path, tiny_dataset, tiny_fashion):
    tiny_dataset(tmp_path / "d")  # hashes left at the official Fashion-MNIST values
    with pytest.raises(ValueError, match=fashion_mnist.PAYLOAD_SHA256["train-images-idx3-ubyte"]):
        fashion_mnist.load_data(path=tmp_path / "d")


def test_images_labels_count_mismatch(tmp_path, tiny_dataset, tiny_fashion, idx_bytes):
    four_labels = idx_bytes(np.array([0, 1, 2, 3], np.uint8))
    info = tiny_dataset(tmp_path / "d", train_labels_idx1_ubyte=four_labels)
    tiny_fashion(info["sha256"])
    with pytest.raises(ValueError, match="holds 5 images but .*train-labels.* holds 4 labels"):
        fashion_mnist.load_data(path=tmp_path / "d")


def test_unexpected_count(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    info = tiny_dataset(tmp_path / "d")
    tiny_fashion(info["sha256"])
    monkeypatch.setattr(fashion_mnist, "NUM_TEST", 10000)
    with pytest.raises(ValueError, match="holds 3 images, expected 10000 for Fashion-MNIST"):
        fashion_mnist.load_data(path=tmp_path / "d")


def test_label_out_of_range(tmp_path, tiny_dataset, tiny_fashion, idx_bytes):
    bad = idx_bytes(np.array([0, 1, 12], np.uint8))
    info = tiny_dataset(tmp_path / "d", t10k_labels_idx1_ubyte=bad)
    tiny_fashion(info["sha256"])
    with pytest.raises(ValueError, match=r"label 12 out of range, expected 0\.\.9"):
        fashion_mnist.load_data(path=tmp_path / "d")


def test_truncated_gz_file(tmp_path, tiny_dataset, tiny_fashion):
    info = tiny_dataset(tmp_path / "d")
    tiny_fashion(info["sha256"])
    path = tmp_path / "d" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: truncated gzip"):
        fashion_mnist.load_data(path=tmp_path / "d")


# --- search order --------------------------------------------------------------------------


def test_cache_wins_over_system_dir(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    system = tiny_dataset(tmp_path / "system", seed=1)
    cached = tiny_dataset(tmp_path / "cache-root" / "fashion-mnist", seed=2)
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "cache-root"))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (str(tmp_path / "system"),))
    tiny_fashion({})  # the two sources differ: check headers only
    _assert_loaded(fashion_mnist.load_data(), cached["arrays"])
    for f in os.listdir(tmp_path / "cache-root" / "fashion-mnist"):
        os.remove(tmp_path / "cache-root" / "fashion-mnist" / f)
    _assert_loaded(fashion_mnist.load_data(), system["arrays"])


def test_partial_cache_falls_back_to_system_dir(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    tiny_dataset(_cache(), seed=1, skip=("train-images-idx3-ubyte",))
    system = tiny_dataset(tmp_path / "system", seed=2)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (str(tmp_path / "system"),))
    tiny_fashion(system["sha256"])
    _assert_loaded(fashion_mnist.load_data(), system["arrays"])


def test_default_cache_is_under_home(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    monkeypatch.delenv("CNNKIT_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    info = tiny_dataset(tmp_path / "home" / ".cnnkit" / "datasets" / "fashion-mnist")
    tiny_fashion(info["sha256"])
    _assert_loaded(fashion_mnist.load_data(), info["arrays"])


def test_debian_system_dir_is_searched():
    assert SYSTEM_DIR in fashion_mnist.SYSTEM_DIRS


# --- download (file:// mirror only: tests never touch the network) ---------------------------


def test_download_into_cache(tmp_path, tiny_dataset, tiny_fashion, monkeypatch, capsys):
    mirror = tiny_dataset(tmp_path / "mirror")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "mirror").as_uri() + "/")
    tiny_fashion(mirror["sha256"], mirror["md5"])
    _assert_loaded(fashion_mnist.load_data(), mirror["arrays"])
    assert sorted(os.listdir(_cache())) == sorted(f + ".gz" for f in _files.FILENAMES)
    assert "Downloading file://" in capsys.readouterr().err

    # The second load reads the cache: the mirror is gone.
    for f in os.listdir(tmp_path / "mirror"):
        os.remove(tmp_path / "mirror" / f)
    _assert_loaded(fashion_mnist.load_data(), mirror["arrays"])


def test_download_only_missing_files(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    info = tiny_dataset(tmp_path / "mirror", skip=("train-images-idx3-ubyte",))
    tiny_dataset(_cache(), skip=[f for f in _files.FILENAMES if f != "train-images-idx3-ubyte"])
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "mirror").as_uri() + "/")
    tiny_fashion(info["sha256"], info["md5"])
    _assert_loaded(fashion_mnist.load_data(), info["arrays"])


def test_download_md5_mismatch_leaves_nothing(tmp_path, tiny_dataset, tiny_fashion, monkeypatch):
    mirror = tiny_dataset(tmp_path / "mirror")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (tmp_path / "mirror").as_uri() + "/")
    tiny_fashion(mirror["sha256"], dict(mirror["md5"], **{"train-images-idx3-ubyte": "0" * 32}))
    received = mirror["md5"]["train-images-idx3-ubyte"]
    match = f"train-images-idx3-ubyte.gz: wrong MD5 .*expected 0{{32}}, received {received}"
    with pytest.raises(ValueError, match=match):
        fashion_mnist.load_data()
    assert not os.path.exists(_cache()) or os.listdir(_cache()) == []


def test_nothing_anywhere_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (str(tmp_path / "no-system"),))
    with pytest.raises(FileNotFoundError) as excinfo:
        fashion_mnist.load_data()
    message = str(excinfo.value)
    assert "Fashion-MNIST not found" in message
    assert _cache() in message and str(tmp_path / "no-system") in message
    assert "CNNKIT_DATA_DIR" in message and "~/.cnnkit/datasets/fashion-mnist" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "failed: URLError" in message
    assert not os.path.exists(_cache())  # a failed download creates no folder


# --- the real data -------------------------------------------------------------------------


def test_real_fashion_mnist(monkeypatch):
    if not all(_files.find_file(SYSTEM_DIR, f) for f in _files.FILENAMES):
        pytest.skip("Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", (SYSTEM_DIR,))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert (x_train.shape, y_train.shape) == ((60000, 28, 28), (60000,))
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
