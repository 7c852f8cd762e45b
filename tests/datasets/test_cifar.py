"""cifar10/cifar100.load_data on tiny archives made here in the official layout; no network.

The official batches were written by Python 2's cPickle (protocol 2): ``str`` as BINSTRING
opcodes and ``numpy.core.multiarray._reconstruct`` for arrays. ``py2_pickle`` writes that same
byte layout, since Python 3's own protocol 2 encodes ``bytes`` through ``_codecs.encode``.
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import os
import pickle
import re
import struct
import tarfile

import numpy as np
import pytest

from cnnkit.datasets import _files, _pickle, cifar10, cifar100

# --- a Python-2-style protocol-2 pickler -----------------------------------------------------


class Global:
    """A ``GLOBAL`` opcode naming ``module.name``."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name


class Call:
    """``func(*args)`` through ``REDUCE``."""

    def __init__(self, func, args: tuple):
        self.func, self.args = func, args


def py2_pickle(obj) -> bytes:
    """Protocol 2 as cPickle wrote it: bytes/str as BINSTRING, arrays via numpy.core globals."""
    out = bytearray(pickle.PROTO + b"\x02")

    def emit(o):
        if isinstance(o, Global):
            out.extend(pickle.GLOBAL + f"{o.module}\n{o.name}\n".encode())
        elif isinstance(o, Call):
            emit(o.func)
            emit(o.args)
            out.extend(pickle.REDUCE)
        elif o is None:
            out.extend(pickle.NONE)
        elif isinstance(o, bool):
            out.extend(pickle.NEWTRUE if o else pickle.NEWFALSE)
        elif isinstance(o, int):
            out.extend(
                pickle.BININT1 + bytes([o])
                if 0 <= o < 256
                else pickle.BININT + struct.pack("<i", o)
            )
        elif isinstance(o, (bytes, str)):
            b = o.encode("latin-1") if isinstance(o, str) else o
            if len(b) < 256:
                out.extend(pickle.SHORT_BINSTRING + bytes([len(b)]) + b)
            else:
                out.extend(pickle.BINSTRING + struct.pack("<i", len(b)) + b)
        elif isinstance(o, tuple):
            out.extend(pickle.MARK)
            for item in o:
                emit(item)
            out.extend(pickle.TUPLE)
        elif isinstance(o, list):
            out.extend(pickle.EMPTY_LIST)
            if o:
                out.extend(pickle.MARK)
                for item in o:
                    emit(item)
                out.extend(pickle.APPENDS)
        elif isinstance(o, dict):
            out.extend(pickle.EMPTY_DICT + pickle.MARK)
            for key, value in o.items():
                emit(key)
                emit(value)
            out.extend(pickle.SETITEMS)
        elif isinstance(o, np.dtype):
            _, args, state = o.__reduce__()
            emit(Call(Global("numpy", "dtype"), args))
            emit(state)
            out.extend(pickle.BUILD)
        elif isinstance(o, np.ndarray):
            ndarray = Global("numpy", "ndarray")
            emit(Call(Global("numpy.core.multiarray", "_reconstruct"), (ndarray, (0,), b"b")))
            emit((1, o.shape, o.dtype, False, np.ascontiguousarray(o).tobytes()))
            out.extend(pickle.BUILD)
        else:
            raise TypeError(type(o))

    emit(obj)
    out.extend(pickle.STOP)
    return bytes(out)


def test_py2_pickle_matches_what_pickle_reads():
    data = np.arange(12, dtype=np.uint8).reshape(3, 4)
    obj = {b"data": data, b"labels": [0, 300, 7], b"batch_label": b"x" * 300}
    loaded = pickle.loads(py2_pickle(obj), encoding="bytes")
    np.testing.assert_array_equal(loaded[b"data"], data)
    assert loaded[b"labels"] == [0, 300, 7] and loaded[b"batch_label"] == b"x" * 300


# --- tiny archives in the official layout ---------------------------------------------------


def batch_bytes(images: np.ndarray, labels, label_keys=(b"labels",)) -> bytes:
    """A batch as the official files hold it: (n, 3072) uint8 rows, channel-first row-major."""
    n = len(images)
    rows = images.transpose(0, 3, 1, 2).reshape(n, 3 * 32 * 32)
    batch = {b"batch_label": b"tiny batch", b"data": rows}
    for key in label_keys:
        batch[key] = [int(v) for v in labels]
    batch[b"filenames"] = [b"img_%d.png" % i for i in range(n)]
    return py2_pickle(batch)


def tar_gz(folder: str, files: dict, extra: tuple = ()) -> bytes:
    """A .tar.gz holding the directory ``folder``, ``folder/<name>`` for each file, then
    ``extra`` TarInfo-and-bytes pairs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        d = tarfile.TarInfo(folder)
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(d)
        for name, content in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for info, content in extra:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def cifar10_files(seed: int = 0, per_batch: int = 2, n_test: int = 3):
    """The official CIFAR-10 members with tiny batches; returns (files, x_train, y_train,
    x_test, y_test)."""
    rng = np.random.default_rng(seed)
    files, xs, ys = {}, [], []
    for name in cifar10.TRAIN_BATCHES:
        x = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch)
        files[name] = batch_bytes(x, y)
        xs.append(x)
        ys.append(y)
    x_test = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_test = rng.integers(0, 10, n_test)
    files["test_batch"] = batch_bytes(x_test, y_test)
    files["batches.meta"] = py2_pickle({b"label_names": list(cifar10.CLASS_NAMES)})
    files["readme.html"] = b"<meta HTTP-EQUIV='REFRESH' content='0; url=...'>\n"
    return files, np.concatenate(xs), np.concatenate(ys), x_test, y_test


def accept(monkeypatch, module, archive: bytes, num_train: int, num_test: int) -> None:
    """Make ``module`` expect this tiny archive: its size, hashes and sample counts."""
    monkeypatch.setattr(module, "ARCHIVE_BYTES", len(archive))
    monkeypatch.setattr(module, "ARCHIVE_SHA256", hashlib.sha256(archive).hexdigest())
    monkeypatch.setattr(module, "ARCHIVE_MD5", hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(module, "NUM_TRAIN", num_train)
    monkeypatch.setattr(module, "NUM_TEST", num_test)


@pytest.fixture(autouse=True)
def _offline(tmp_path_factory, monkeypatch):
    """No system folder and a mirror that holds nothing (conftest gives an empty cache)."""
    empty = tmp_path_factory.mktemp("empty-mirror")
    for module in (cifar10, cifar100):
        monkeypatch.setattr(module, "URL", f"{empty.as_uri()}/{module.ARCHIVE}")
        monkeypatch.setattr(module, "SYSTEM_DIRS", ())


@pytest.fixture
def tiny10(tmp_path, monkeypatch):
    """Write a tiny official-layout CIFAR-10 archive; returns (path, arrays)."""

    def write(files=None, extra=(), patch=True):
        default, *arrays = cifar10_files()
        archive = tar_gz(cifar10.FOLDER, default if files is None else files, extra)
        path = tmp_path / cifar10.ARCHIVE
        path.write_bytes(archive)
        if patch:
            accept(monkeypatch, cifar10, archive, num_train=10, num_test=3)
        return path, arrays

    return write


def _files_under(folder) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*"))


# --- loading ---------------------------------------------------------------------------------


def test_pixel_layout_round_trips_to_nhwc(tmp_path, monkeypatch):
    image = np.zeros((32, 32, 3), np.uint8)
    image[..., 0] = np.arange(32)[:, None]  # red: the row index
    image[..., 1] = np.arange(32)[None, :] + 100  # green: 100 + the column index
    image[..., 2] = 255  # blue
    row = np.concatenate([image[..., c].ravel() for c in range(3)])  # the documented layout
    assert row[:32].tolist() == [0] * 32 and row[32:64].tolist() == [1] * 32
    batch = {b"batch_label": b"b", b"data": row[None, :], b"labels": [7], b"filenames": [b"f"]}
    files, *_ = cifar10_files()
    files["data_batch_3"] = py2_pickle(batch)
    archive = tar_gz(cifar10.FOLDER, files)
    (tmp_path / cifar10.ARCHIVE).write_bytes(archive)
    accept(monkeypatch, cifar10, archive, num_train=9, num_test=3)

    (x_train, y_train), _ = cifar10.load_data(path=tmp_path)
    np.testing.assert_array_equal(x_train[4], image)  # batches 1, 2 hold two images each
    assert y_train[4, 0] == 7
    assert x_train[4, 0, 5].tolist() == [0, 105, 255]  # row 0, column 5: (R, G, B)
    assert x_train.flags.c_contiguous


def test_load_data_matches_the_batches(tiny10):
    path, (x_train, y_train, x_test, y_test) = tiny10()
    (xa, ya), (xb, yb) = cifar10.load_data(path=path)  # the file itself
    np.testing.assert_array_equal(xa, x_train)
    np.testing.assert_array_equal(xb, x_test)
    np.testing.assert_array_equal(ya[:, 0], y_train)
    np.testing.assert_array_equal(yb[:, 0], y_test)
    assert (xa.shape, ya.shape, xb.shape, yb.shape) == (
        (10, 32, 32, 3),
        (10, 1),
        (3, 32, 32, 3),
        (3, 1),
    )
    assert {a.dtype for a in (xa, ya, xb, yb)} == {np.dtype(np.uint8)}  # Keras 3: y is uint8


def test_search_order_cache_then_system_folder(tmp_path, tiny10, monkeypatch):
    path, (x_train, *_) = tiny10()
    system = tmp_path / "system"
    system.mkdir()
    os.replace(path, system / cifar10.ARCHIVE)
    monkeypatch.setattr(cifar10, "SYSTEM_DIRS", (str(system),))
    (x, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x, x_train)

    cache = _files.cache_dir(cifar10.NAME)  # the cache wins over the system folder
    os.makedirs(cache)
    files, *_ = cifar10_files(seed=1)
    other = tar_gz(cifar10.FOLDER, files)
    with open(os.path.join(cache, cifar10.ARCHIVE), "wb") as f:
        f.write(other)
    accept(monkeypatch, cifar10, other, num_train=10, num_test=3)
    (x, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x, files_x(files))


def files_x(files) -> np.ndarray:
    """The training images of a ``cifar10_files`` dict, read back with the plain unpickler."""
    rows = [pickle.loads(files[b], encoding="bytes")[b"data"] for b in cifar10.TRAIN_BATCHES]
    return np.concatenate(rows).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def test_download_goes_to_the_cache_and_checks_md5(tmp_path, tiny10, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path, (x_train, *_) = tiny10()
    os.replace(path, mirror / cifar10.ARCHIVE)
    url = f"{mirror.as_uri()}/{cifar10.ARCHIVE}"
    monkeypatch.setattr(cifar10, "URL", url)
    target = os.path.join(_files.cache_dir(cifar10.NAME), cifar10.ARCHIVE)

    good_md5 = cifar10.ARCHIVE_MD5
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", "0" * 32)
    with pytest.raises(ValueError, match=f"wrong MD5 .*expected {'0' * 32}"):
        cifar10.load_data()
    assert not os.path.exists(target)

    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", good_md5)
    (x, _), _ = cifar10.load_data()
    np.testing.assert_array_equal(x, x_train)
    assert os.path.isfile(target)
    assert "Downloading" in capsys.readouterr().err


def test_not_found_message_lists_places_and_fixes(tmp_path, monkeypatch):
    system = tmp_path / "nowhere"
    monkeypatch.setattr(cifar10, "SYSTEM_DIRS", (str(system),))
    with pytest.raises(FileNotFoundError) as info:
        cifar10.load_data()
    message = str(info.value)
    assert message.startswith("CIFAR-10 not found. Looked for cifar-10-python.tar.gz in:")
    assert f"{_files.cache_dir(cifar10.NAME)} (folder absent)" in message
    assert f"{system} (folder absent)" in message
    assert "CNNKIT_DATA_DIR" in message and "load_data(path=" in message
    assert f"allow the download: fetching {cifar10.URL} failed" in message

    with pytest.raises(FileNotFoundError, match="CIFAR-10 archive not found: .*nope"):
        cifar10.load_data(path=tmp_path / "nope")


# --- integrity: hash, truncation -------------------------------------------------------------


def test_wrong_hash_names_file_and_expected_hash(tiny10, monkeypatch):
    path, _ = tiny10()
    monkeypatch.setattr(cifar10, "ARCHIVE_SHA256", "ab" * 32)
    match = re.escape(str(path)) + r": wrong SHA-256: expected (ab){32}, received [0-9a-f]{64}"
    with pytest.raises(ValueError, match=match):
        cifar10.load_data(path=path)


def test_official_constants_refuse_a_tiny_archive(tiny10):
    path, _ = tiny10(patch=False)
    with pytest.raises(ValueError, match=f"bytes, expected {cifar10.ARCHIVE_BYTES}: .*truncated"):
        cifar10.load_data(path=path)
    assert cifar10.ARCHIVE_SHA256 == (
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    )


def test_truncated_archive(tiny10, monkeypatch):
    path, _ = tiny10()
    full = path.read_bytes()
    path.write_bytes(full[: len(full) // 2])  # expected size and hash: those of the full file
    with pytest.raises(
        ValueError, match=re.escape(str(path)) + r": \d+ bytes, expected .*truncated"
    ):
        cifar10.load_data(path=path)

    accept(monkeypatch, cifar10, full[: len(full) // 2], 10, 3)  # even when the hash matches
    with pytest.raises(ValueError, match="truncated gzip file"):
        cifar10.load_data(path=path)

    path.write_bytes(b"not a gzip file")
    accept(monkeypatch, cifar10, b"not a gzip file", 10, 3)
    with pytest.raises(ValueError, match="corrupt gzip file"):
        cifar10.load_data(path=path)


def test_truncated_tar_inside_a_complete_gzip(tmp_path, monkeypatch):
    files, *_ = cifar10_files()
    tar = gzip.decompress(tar_gz(cifar10.FOLDER, files))
    archive = gzip.compress(tar[: len(tar) // 2], mtime=0)
    path = tmp_path / cifar10.ARCHIVE
    path.write_bytes(archive)
    accept(monkeypatch, cifar10, archive, 10, 3)
    match = r"corrupt or truncated tar archive \(unexpected end of data\)"
    with pytest.raises(ValueError, match=match):
        cifar10.load_data(path=path)


# --- archive members -------------------------------------------------------------------------


def _info(name: str, size: int = 0, kind=tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, linkname
    return info


def test_extra_member_is_refused(tiny10):
    path, _ = tiny10(extra=[(_info("cifar-10-batches-py/evil.py", 4), b"boom")])
    with pytest.raises(
        ValueError, match="unexpected member 'cifar-10-batches-py/evil.py'.*refused"
    ):
        cifar10.load_data(path=path)


@pytest.mark.parametrize(
    "name",
    ["../evil", "cifar-10-batches-py/../../evil", "/tmp/cnnkit-evil", "cifar-10-batches-py/../x"],
)
def test_traversal_member_is_refused_and_nothing_is_written(tmp_path, tiny10, name):
    path, _ = tiny10(extra=[(_info(name, 4), b"boom")])
    before = _files_under(tmp_path)
    with pytest.raises(ValueError, match=f"unsafe member path {re.escape(repr(name))}"):
        cifar10.load_data(path=path)
    assert _files_under(tmp_path) == before
    assert not os.path.exists(tmp_path.parent / "evil")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_link_member_is_refused(tiny10, kind):
    files, *_ = cifar10_files()
    del files["data_batch_1"]
    link = _info("cifar-10-batches-py/data_batch_1", kind=kind, linkname="/etc/passwd")
    path, _ = tiny10(files=files, extra=[(link, None)])
    with pytest.raises(
        ValueError, match="'cifar-10-batches-py/data_batch_1' is a link to '/etc/pass"
    ):
        cifar10.load_data(path=path)


def test_device_and_duplicate_and_missing_members_are_refused(tiny10):
    fifo = _info("cifar-10-batches-py/readme.html", kind=tarfile.FIFOTYPE)
    files, *_ = cifar10_files()
    del files["readme.html"]
    path, _ = tiny10(files=files, extra=[(fifo, None)])
    with pytest.raises(ValueError, match="not a regular file"):
        cifar10.load_data(path=path)

    files, *_ = cifar10_files()
    path, _ = tiny10(extra=[(_info("cifar-10-batches-py/test_batch", 3), b"abc")])
    with pytest.raises(ValueError, match="'cifar-10-batches-py/test_batch' appears twice"):
        cifar10.load_data(path=path)

    del files["test_batch"]
    path, _ = tiny10(files=files)
    with pytest.raises(ValueError, match="missing member.*cifar-10-batches-py/test_batch"):
        cifar10.load_data(path=path)


# --- pickles ---------------------------------------------------------------------------------


class SystemCall:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class EvalCall:
    def __init__(self, source: str):
        self.source = source

    def __reduce__(self):
        return (builtins.eval, (self.source,))


@pytest.mark.parametrize("how", ["os.system", "builtins.eval", "py2 GLOBAL"])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, tiny10, capfd, how):
    marker = tmp_path / "pwned"
    command = f"echo pwned > {marker}"
    if how == "os.system":
        payload = pickle.dumps(SystemCall(command), protocol=2)
        refused = r"(os|posix|nt)\.system"
    elif how == "builtins.eval":
        source = f"__import__('os').system({command!r})"
        payload = pickle.dumps(EvalCall(source), protocol=2)
        refused = r"(__builtin__|builtins)\.eval"
    else:
        payload = py2_pickle({b"data": Call(Global("os", "system"), (command,)), b"labels": []})
        refused = r"os\.system"
    files, *_ = cifar10_files()
    files["data_batch_2"] = payload
    path, _ = tiny10(files=files)
    match = rf"data_batch_2: refused to unpickle the global {refused}: only numpy"
    with pytest.raises(ValueError, match=match):
        cifar10.load_data(path=path)
    assert not marker.exists()
    assert "pwned" not in capfd.readouterr().out


def test_reconstruct_is_held_to_numpys_arguments():
    huge = Call(
        Global("numpy.core.multiarray", "_reconstruct"),
        (Global("numpy", "ndarray"), (1 << 30, 1 << 30), b"b"),
    )
    with pytest.raises(ValueError, match=r"batch: refused _reconstruct\(.*1073741824, 1073741824"):
        _pickle.restricted_loads(py2_pickle({b"data": huge}), "batch")
    # both NumPy spellings of the module are accepted for a genuine array
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        data = py2_pickle(np.arange(3, dtype=np.uint8)).replace(
            b"numpy.core.multiarray", module.encode()
        )
        np.testing.assert_array_equal(_pickle.restricted_loads(data, "b"), [0, 1, 2])


def test_python3_pickles_are_refused():
    """Python 3's protocol 2 needs _codecs.encode for bytes: not the official layout."""
    data = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}, protocol=2)
    with pytest.raises(ValueError, match=r"refused to unpickle the global _codecs\.encode"):
        _pickle.load_batch(data, "b", label_key=b"labels", num_classes=10)


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ([1, 2], "expected a pickled dict, found list"),
        ({b"data": np.zeros((1, 3072), np.uint8)}, r"no b'labels' entry"),
        ({b"data": np.zeros((1, 3072), np.int16), b"labels": [0]}, "found int16 array"),
        ({b"data": np.zeros((1, 3071), np.uint8), b"labels": [0]}, r"shape \(1, 3071\)"),
        ({b"data": b"raw", b"labels": [0]}, "found bytes"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "label 10 out of range"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [b"x"]}, "must be a list of ints"),
    ],
)
def test_batch_content_is_checked(batch, match):
    with pytest.raises(ValueError, match=match):
        _pickle.load_batch(py2_pickle(batch), "b", label_key=b"labels", num_classes=10)


def test_corrupt_pickle():
    data = py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]})
    with pytest.raises(ValueError, match="b: corrupt pickle"):
        _pickle.restricted_loads(data[: len(data) // 2], "b")


# --- CIFAR-100 -------------------------------------------------------------------------------


def test_cifar100_fine_and_coarse_labels(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    x_train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    fine_train, fine_test = [0, 99, 42, 7], [13, 58]

    def split(x, fine):
        batch = {b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1)}
        batch[b"fine_labels"] = fine
        batch[b"coarse_labels"] = [v // 5 for v in fine]
        return py2_pickle(batch)

    files = {
        "file.txt~": b"",
        "train": split(x_train, fine_train),
        "test": split(x_test, fine_test),
        "meta": py2_pickle({b"fine_label_names": [], b"coarse_label_names": []}),
    }
    archive = tar_gz(cifar100.FOLDER, files)
    (tmp_path / cifar100.ARCHIVE).write_bytes(archive)
    accept(monkeypatch, cifar100, archive, num_train=4, num_test=2)

    (xa, ya), (xb, yb) = cifar100.load_data(path=tmp_path)
    np.testing.assert_array_equal(xa, x_train)
    np.testing.assert_array_equal(xb, x_test)
    assert ya[:, 0].tolist() == fine_train and yb[:, 0].tolist() == fine_test
    assert ya.shape == (4, 1) and ya.dtype == np.int64  # what Keras 3's code returns
    (_, ya), (_, yb) = cifar100.load_data(label_mode="coarse", path=tmp_path)
    assert ya[:, 0].tolist() == [0, 19, 8, 1] and yb[:, 0].tolist() == [2, 11]

    with pytest.raises(ValueError, match="label_mode` must be one of .*Received: label_mode='x'"):
        cifar100.load_data(label_mode="x")
    assert cifar100.ARCHIVE_SHA256 != cifar10.ARCHIVE_SHA256  # each archive has its own hash


def test_cifar100_not_found():
    with pytest.raises(FileNotFoundError, match="CIFAR-100 not found. Looked for cifar-100-"):
        cifar100.load_data()
