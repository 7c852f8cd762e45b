"""Boston housing, California housing and Reuters readers on generated files in the official
format, against Keras's own loaders on the same files."""

import numpy as np
import pytest

from cnnkit.datasets import boston_housing, california_housing, reuters


def _keras_module(name, monkeypatch, path):
    module = pytest.importorskip(f"keras.src.datasets.{name}")
    monkeypatch.setattr(module, "get_file", lambda *args, **kwargs: str(path))
    return module


def _assert_same(ours, theirs):
    for (a_x, a_y), (b_x, b_y) in zip(ours, theirs):
        assert len(a_x) == len(b_x)
        for a, b in zip(a_x, b_x):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        np.testing.assert_array_equal(a_y, b_y)


@pytest.fixture
def housing(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "housing.npz"
    np.savez(path, x=rng.normal(size=(50, 13)), y=rng.uniform(5, 50, 50))
    return path


@pytest.mark.parametrize("split", [0.2, 0.0, 0.35])
def test_boston_housing_matches_keras(housing, monkeypatch, split):
    keras_module = _keras_module("boston_housing", monkeypatch, housing)
    ours = boston_housing.load_data(path=housing, test_split=split, seed=7)
    _assert_same(ours, keras_module.load_data(test_split=split, seed=7))
    assert len(ours[0][0]) == int(50 * (1 - split))


def test_california_housing_matches_keras_with_both_versions(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    path = tmp_path / "cal.npz"
    np.savez(path, x=rng.normal(size=(700, 8)).astype("float32"), y=rng.uniform(size=700))
    keras_module = _keras_module("california_housing", monkeypatch, path)
    for version in ("large", "small"):
        ours = california_housing.load_data(version=version, path=path)
        _assert_same(ours, keras_module.load_data(version=version))
    assert len(california_housing.load_data(version="small", path=path)[0][0]) == 480
    with pytest.raises(ValueError, match="version"):
        california_housing.load_data(version="medium", path=path)


def test_reuters_matches_keras(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    wires = np.empty(40, dtype=object)
    wires[:] = [list(rng.integers(1, 300, rng.integers(3, 30))) for _ in range(40)]
    wires[:] = [[int(w) for w in wire] for wire in wires]
    path = tmp_path / "wires.npz"
    np.savez(path, x=wires, y=rng.integers(0, 46, 40))
    keras_module = _keras_module("reuters", monkeypatch, path)
    for kwargs in (
        {},
        {"num_words": 100, "skip_top": 5},
        {"maxlen": 20, "oov_char": None},
        {"start_char": None, "index_from": 0, "test_split": 0.5},
    ):
        _assert_same(reuters.load_data(path=path, **kwargs), keras_module.load_data(**kwargs))
    assert len(reuters.get_label_names()) == 46


def test_damaged_and_hostile_files_raise_naming_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz"):
        boston_housing.load_data(path=bad)
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.array([object()] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"objects\.npz"):
        boston_housing.load_data(path=objects)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.npz"
    np.savez(evil, x=np.array([Evil()], dtype=object), y=np.zeros(1, "int64"))
    with pytest.raises(ValueError, match=r"evil\.npz"):
        reuters.load_data(path=evil)
    short = tmp_path / "short.npz"
    np.savez(short, x=np.zeros((3, 13)), y=np.zeros(2))
    with pytest.raises(ValueError, match="3 x rows but 2 y"):
        boston_housing.load_data(path=short)
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(path=short, test_split=1.0)


def test_official_name_is_hash_checked_and_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "boston_housing").mkdir()
    np.savez(tmp_path / "boston_housing" / "boston_housing.npz", x=np.zeros((4, 13)), y=np.zeros(4))
    with pytest.raises(ValueError, match="wrong SHA-256"):
        boston_housing.load_data()
    monkeypatch.setattr(
        "cnnkit.datasets._files.download",
        lambda *a, **k: (_ for _ in ()).throw(OSError("network is unreachable")),
    )
    with pytest.raises(FileNotFoundError, match=r"reuters\.npz.*network is unreachable"):
        reuters.load_data()
    with pytest.raises(FileNotFoundError, match="only california_housing.npz is downloaded"):
        california_housing.load_data(path="mine.npz")
