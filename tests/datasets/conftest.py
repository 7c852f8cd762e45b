"""Fixtures for the dataset loaders: tiny IDX files, and no network, ever."""

from __future__ import annotations

import gzip
import hashlib
import pathlib

import numpy as np
import pytest

from cnnkit.datasets import cifar10, cifar100, fashion_mnist, mnist

N_TRAIN, N_TEST = 5, 3


def idx_bytes(values: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 array: big-endian magic, dimensions, then the values."""
    if magic is None:
        magic = 0x0800 + values.ndim
    header = np.array([magic, *values.shape], dtype=">u4").tobytes()
    return header + values.astype(np.uint8).tobytes()


@pytest.fixture(name="idx_bytes")
def _idx_bytes_fixture():
    """``idx_bytes`` for test modules (importing conftest by name is fragile)."""
    return idx_bytes


@pytest.fixture(autouse=True)
def _offline_and_isolated(tmp_path_factory, monkeypatch):
    """Every test gets an empty cache, no system folder and a mirror that holds nothing."""
    empty = tmp_path_factory.mktemp("empty-mirror")
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path_factory.mktemp("cache-root")))
    for module in (fashion_mnist, mnist):
        monkeypatch.setattr(module, "BASE_URL", empty.as_uri() + "/")
    for module in (cifar10, cifar100):
        monkeypatch.setattr(module, "URL", (empty / "absent.tar.gz").as_uri())
        monkeypatch.setattr(module, "SYSTEM_DIRS", ())


@pytest.fixture
def tiny_dataset():
    """Factory: write a 5+3-sample dataset into a folder; return its arrays and hashes.

    ``write(folder, gz=True, skip=(), seed=0, **overrides)``: ``skip`` names files not to write,
    ``seed`` changes the values, and ``overrides`` maps a file name (with '-' replaced by '_') to
    raw payload bytes that replace the generated ones. Returns ``{"arrays", "sha256", "md5"}``
    keyed by file name (``md5`` of the ``.gz`` files written).
    """

    def write(folder: pathlib.Path, gz: bool = True, skip=(), seed: int = 0, **overrides) -> dict:
        rng = np.random.default_rng(seed)
        arrays = {
            "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
            "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
            "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
            "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
        }
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        payloads, md5 = {}, {}
        for name, values in arrays.items():
            payload = overrides.get(name.replace("-", "_"), idx_bytes(values))
            payloads[name] = payload
            if name in skip:
                continue
            if gz:
                compressed = gzip.compress(payload, mtime=0)
                (folder / f"{name}.gz").write_bytes(compressed)
                md5[name] = hashlib.md5(compressed).hexdigest()
            else:
                (folder / name).write_bytes(payload)
        sha256 = {k: hashlib.sha256(v).hexdigest() for k, v in payloads.items()}
        return {"arrays": arrays, "sha256": sha256, "md5": md5}

    return write


@pytest.fixture
def tiny_fashion(monkeypatch):
    """Make fashion_mnist expect the tiny sizes; returns a setter for its payload hashes."""
    monkeypatch.setattr(fashion_mnist, "NUM_TRAIN", N_TRAIN)
    monkeypatch.setattr(fashion_mnist, "NUM_TEST", N_TEST)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", ())

    def set_hashes(sha256: dict, md5: dict | None = None) -> None:
        monkeypatch.setattr(fashion_mnist, "PAYLOAD_SHA256", dict(sha256))
        if md5 is not None:
            monkeypatch.setattr(fashion_mnist, "GZ_MD5", dict(md5))

    return set_hashes
