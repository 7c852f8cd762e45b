"""atomic_write: the target is replaced whole or not at all, and no temporary file is left."""

from __future__ import annotations

import os
import stat

import pytest

from cnnkit.io_utils import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_text,
    read_json_object,
    read_npy,
    read_npz,
    read_regular,
)


def test_write_bytes_and_text(tmp_path):
    with atomic_write(tmp_path / "b.bin") as f:
        f.write(b"\x00\x01\x02")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01\x02"
    with atomic_write(tmp_path / "t.txt", "w") as f:
        f.write("héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    assert sorted(os.listdir(tmp_path)) == ["b.bin", "t.txt"]


def test_conveniences_replace_existing(tmp_path):
    target = tmp_path / "x"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(str(target), b"new")
    assert target.read_bytes() == b"new"
    atomic_write_text(target, "ünïcode", encoding="latin-1")
    assert target.read_bytes() == "ünïcode".encode("latin-1")
    assert os.listdir(tmp_path) == ["x"]


def test_temporary_file_is_nameless_or_hidden_beside_target(tmp_path):
    from cnnkit import io_utils

    with atomic_write(tmp_path / "model.npz") as f:
        names = os.listdir(tmp_path)
        if io_utils._open_anonymous(str(tmp_path)) is not None:
            assert names == []  # Linux O_TMPFILE: no name until it is complete
        else:
            (tmp_name,) = names
            assert tmp_name.startswith(".model.npz.") and tmp_name.endswith(".tmp")
            assert os.path.samefile(f.name, tmp_path / tmp_name)
        assert not (tmp_path / "model.npz").exists()  # nothing visible until the end
    assert os.listdir(tmp_path) == ["model.npz"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_mid_write_keeps_previous_file(tmp_path, error):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"previous")
    with pytest.raises(error):
        with atomic_write(target) as f:
            f.write(b"half of the new cont")
            f.flush()
            raise error("interrupted")
    assert target.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["weights.bin"]


def test_exception_without_previous_file_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match="boom"):
        with atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("partial")
            raise ValueError("boom")
    assert os.listdir(tmp_path) == []


def test_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_bytes(tmp_path / "new", b"")
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o666 & ~umask
    existing = tmp_path / "existing"
    existing.write_bytes(b"")
    os.chmod(existing, 0o640)
    atomic_write_bytes(existing, b"data")
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640


def test_invalid_mode(tmp_path):
    with pytest.raises(ValueError, match=r"argument `mode`.*Received: mode='ab'"):
        with atomic_write(tmp_path / "x", "ab"):
            pass
    with pytest.raises(ValueError, match="`encoding` is only valid in text mode"):
        with atomic_write(tmp_path / "x", "wb", encoding="utf-8"):
            pass
    assert os.listdir(tmp_path) == []


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "such" / "file", b"")


# -- bounded reads -------------------------------------------------------------------------


def test_read_npz_and_read_npy_equal_numpy_load(tmp_path):
    import numpy as np

    arrays = {
        "c": np.arange(12.0).reshape(3, 4),
        "f": np.asfortranarray(np.arange(6, dtype="int16").reshape(2, 3)),
        "b": np.array([True, False]),
        "e": np.zeros((0, 3), "float32"),
        "s": np.float64(2.5),
    }
    np.savez_compressed(tmp_path / "a.npz", **arrays)
    got = read_npz(tmp_path / "a.npz", 1 << 20)
    assert sorted(got) == sorted(arrays)
    for name, want in arrays.items():
        assert got[name].dtype == want.dtype and got[name].shape == np.shape(want)
        np.testing.assert_array_equal(got[name], want)
    np.save(tmp_path / "k.npy", arrays["f"])
    np.testing.assert_array_equal(read_npy(tmp_path / "k.npy", 1 << 20), arrays["f"])


def test_read_npz_checks_sizes_and_refuses_pickles(tmp_path):
    import numpy as np

    np.savez(tmp_path / "a.npz", x=np.zeros(100))
    with pytest.raises(ValueError, match=r"a\.npz: its members declare \d+ bytes .* zip bomb"):
        read_npz(tmp_path / "a.npz", 100)
    with pytest.raises(ValueError, match="expected one array"):

        def refuse(shapes):
            assert shapes == {"x": (100,)}
            raise ValueError("expected one array")

        read_npz(tmp_path / "a.npz", 1 << 20, check=refuse)
    np.savez(tmp_path / "o.npz", x=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match=r"o\.npz:x\.npy: holds Python objects"):
        read_npz(tmp_path / "o.npz", 1 << 20)
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.npz"):
        read_npz(tmp_path / "t.npz", 1 << 20)


def test_read_regular_and_json_objects(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}')
    assert read_json_object(path) == {"a": 1}
    with pytest.raises(ValueError, match=r"x\.json: 8 bytes, more than the 4"):
        read_regular(path, 4)
    path.write_text("[1]")
    with pytest.raises(ValueError, match=r"x\.json: expected a JSON object .* found list"):
        read_json_object(path)
    path.write_text("{")
    with pytest.raises(ValueError, match=r"x\.json is not valid JSON"):
        read_json_object(path)
    with pytest.raises(ValueError, match=r"not a regular file \(a folder\)"):
        read_regular(tmp_path, 10)
