"""Property-based tests of the CIFAR archive reader and its restricted unpickler.

Random ``.tar.gz`` members (names, kinds, sizes), damaged gzip and tar streams, corrupted batch
pickles and pickles naming forbidden globals either load exactly what was put in, or raise the
documented ``ValueError`` naming the file; nothing is written anywhere and nothing runs.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import pickle
import re
import struct
import tarfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from cnnkit.datasets import _pickle, cifar10
from tests.fuzz import FUZZ

FOLDER = "cifar-10-batches-py"
REQUIRED = ("data_batch_1", "test_batch")
OPTIONAL = ("batches.meta",)
MAX_MEMBER = 64
KINDS = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chardev": tarfile.CHRTYPE,
    "fifo": tarfile.FIFOTYPE,
}
UNSAFE_NAMES = (
    "../fuzz-escaped",
    f"{FOLDER}/../../fuzz-escaped",
    "/tmp/fuzz-escaped",
    f"{FOLDER}/../data_batch_1",
    "C:fuzz-escaped",
    f"{FOLDER}\\..\\fuzz-escaped",
    "\\fuzz-escaped",
)

CANARY_CALLS: list = []


def _canary(*args):
    """A global a crafted pickle may name: calling it would prove that the pickle ran code."""
    CANARY_CALLS.append(args)
    return args


# --- archives --------------------------------------------------------------------------------

names = st.one_of(
    st.sampled_from([f"{FOLDER}/{n}" for n in (*REQUIRED, *OPTIONAL)]),
    st.just(FOLDER),
    st.sampled_from(UNSAFE_NAMES),
    # a trailing "/" is dropped from directory names by tarfile itself
    st.text(st.sampled_from("ab_./\\:-"), min_size=1, max_size=12).filter(
        lambda n: not n.endswith("/")
    ),
    st.builds(
        lambda n: f"{FOLDER}/{n}", st.text(st.sampled_from("abz_.1"), min_size=1, max_size=8)
    ),
)
members = st.lists(
    st.tuples(
        names,
        st.sampled_from(list(KINDS)),
        st.binary(max_size=MAX_MEMBER + 8),
    ),
    max_size=6,
)


def valid_members(content: bytes) -> list:
    """The folder and every required and optional member, each holding ``content``."""
    return [(FOLDER, "dir", b"")] + [
        (f"{FOLDER}/{n}", "file", content) for n in (*REQUIRED, *OPTIONAL)
    ]


def build_tar(entries, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.type = KINDS[kind]
            if kind == "file":
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                info.linkname = "/etc/passwd" if kind.endswith("link") else ""
                tar.addfile(info)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def expected_contents(entries) -> dict | None:
    """What ``read_archive`` returns for these members, or ``None`` when it must refuse them."""
    allowed = {f"{FOLDER}/{n}" for n in (*REQUIRED, *OPTIONAL)}
    seen: dict[str, bytes] = {}
    for name, kind, content in entries:
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":"):
            return None
        if kind in ("symlink", "hardlink"):
            return None
        if name == FOLDER and kind == "dir":
            continue
        if name not in allowed or kind != "file" or name in seen or len(content) > MAX_MEMBER:
            return None
        seen[name] = content
    if any(f"{FOLDER}/{n}" not in seen for n in REQUIRED):
        return None
    return {n: seen[f"{FOLDER}/{n}"] for n in REQUIRED}


def listing(*folders) -> dict:
    return {str(f): sorted(os.listdir(f)) for f in folders}


def read(path) -> dict:
    blob = path.read_bytes()
    return cifar10.read_archive(
        str(path),
        size=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
        folder=FOLDER,
        required=REQUIRED,
        optional=OPTIONAL,
        max_member_bytes=MAX_MEMBER,
    )


@FUZZ
@given(
    st.binary(max_size=MAX_MEMBER),
    members,
    st.sampled_from(["extra", "replace", "only"]),
)
def test_random_members(tmp_path_factory, content, extra, how):
    entries = valid_members(content)
    if how == "extra":
        entries += extra
    elif how == "replace" and extra:
        entries[len(extra) % len(entries)] = extra[0]
    elif how == "only":
        entries = extra
    folder = tmp_path_factory.mktemp("cifar")
    path = folder / "archive.tar.gz"
    path.write_bytes(build_tar(entries))
    watched = (folder, folder.parent, os.getcwd())
    before = listing(*watched)
    expected = expected_contents(entries)
    event("refused" if expected is None else "accepted")
    if expected is None:
        with pytest.raises(ValueError, match=re.escape(str(path)) + ".*refused"):
            read(path)
    else:
        assert read(path) == expected
    assert listing(*watched) == before
    assert not os.path.exists("/tmp/fuzz-escaped")


@FUZZ
@given(
    st.binary(max_size=MAX_MEMBER),
    st.sampled_from(["truncate", "flip", "random", "gzip-of-random", "tar-flip"]),
    st.data(),
)
def test_damaged_streams(tmp_path_factory, content, damage, data):
    tar = build_tar(valid_members(content), compress=False)
    blob = gzip.compress(tar, mtime=0)
    if damage == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif damage == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:i] + bytes([blob[i] ^ data.draw(st.integers(1, 255))]) + blob[i + 1 :]
    elif damage == "random":
        blob = data.draw(st.binary(max_size=200))
    elif damage == "gzip-of-random":
        blob = gzip.compress(data.draw(st.binary(max_size=2000)), mtime=0)
    else:  # damage the tar headers, keep the gzip layer intact
        raw = bytearray(tar)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, min(len(raw), 1536) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        blob = gzip.compress(bytes(raw), mtime=0)
    path = tmp_path_factory.mktemp("damaged") / "archive.tar.gz"
    path.write_bytes(blob)
    try:
        contents = read(path)
    except ValueError as e:
        event("refused")
        assert str(path) in str(e)
    else:  # damage the tar format tolerates (a flipped padding byte, say): still checked
        event("accepted")
        assert set(contents) == set(REQUIRED)
        assert all(len(v) <= MAX_MEMBER for v in contents.values())


# --- pickles ---------------------------------------------------------------------------------

batches = st.builds(
    lambda n, labels, protocol: pickle.dumps(
        {
            b"batch_label": b"fuzz",
            b"data": np.arange(n * 3072, dtype=np.uint8).reshape(n, 3072),
            b"labels": labels[:n] + [0] * (n - len(labels)),
            b"filenames": [b"f%d.png" % i for i in range(n)],
        },
        protocol=protocol,
    ),
    st.integers(0, 3),
    st.lists(st.integers(0, 9), max_size=3),
    st.sampled_from([3, 4]),
)


def check_batch(data: bytes, name: str) -> None:
    try:
        x, y = _pickle.load_batch(data, name, label_key=b"labels", num_classes=10)
    except ValueError as e:
        event("refused")
        assert str(e).startswith(f"{name}: ")
    else:
        event("loaded")
        assert type(x) is np.ndarray and x.dtype == np.uint8 and x.shape[1:] == (32, 32, 3)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert ((0 <= y) & (y < 10)).all()


@FUZZ
@given(batches, st.sampled_from(["truncate", "flip", "insert", "delete"]), st.data())
def test_corrupted_batch_pickles(batch, damage, data):
    i = data.draw(st.integers(0, len(batch) - 1))
    if damage == "truncate":
        batch = batch[:i]
    elif damage == "flip":
        batch = batch[:i] + bytes([batch[i] ^ data.draw(st.integers(1, 255))]) + batch[i + 1 :]
    elif damage == "insert":
        batch = batch[:i] + data.draw(st.binary(min_size=1, max_size=6)) + batch[i:]
    else:
        batch = batch[:i] + batch[i + data.draw(st.integers(1, 6)) :]
    check_batch(batch, "cifar-10-batches-py/data_batch_1")


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_as_a_batch(data):
    check_batch(data, "test_batch")
    check_batch(b"\x80\x02" + data, "test_batch")


FORBIDDEN = st.one_of(
    st.sampled_from(
        [
            ("os", "system"),
            ("posix", "system"),
            ("builtins", "eval"),
            ("builtins", "exec"),
            ("builtins", "getattr"),
            ("subprocess", "Popen"),
            ("numpy", "load"),
            ("numpy", "frombuffer"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.numeric", "_frombuffer"),
            (__name__, "_canary"),
            ("tests.fuzz.test_fuzz_cifar", "_canary"),
        ]
    ),
    st.tuples(
        st.text(st.sampled_from("abnumpy._"), min_size=1, max_size=12),
        st.text(st.sampled_from("abcdefr_"), min_size=1, max_size=12),
    ),
)


def global_opcode(module: str, name: str, how: str) -> bytes:
    """Push ``module.name`` with GLOBAL, STACK_GLOBAL or INST (which also calls it)."""
    if how == "GLOBAL":
        return pickle.GLOBAL + f"{module}\n{name}\n".encode()
    if how == "STACK_GLOBAL":
        encoded = [s.encode() for s in (module, name)]
        return b"".join(pickle.BINUNICODE + struct.pack("<I", len(s)) + s for s in encoded) + (
            pickle.STACK_GLOBAL
        )
    return pickle.MARK + pickle.SHORT_BINBYTES + b"\x01x" + b"i" + f"{module}\n{name}\n".encode()


@FUZZ
@given(
    FORBIDDEN,
    st.sampled_from(["GLOBAL", "STACK_GLOBAL", "INST"]),
    st.sampled_from([b"data", b"labels", b"nested"]),
)
def test_forbidden_globals_are_refused_and_never_called(target, how, where):
    module, name = target
    call = global_opcode(module, name, how)
    if how != "INST":
        call += pickle.SHORT_BINBYTES + b"\x02id" + pickle.TUPLE1 + pickle.REDUCE
    value = call if where != b"nested" else pickle.EMPTY_LIST + pickle.MARK + call + pickle.APPENDS
    key = b"labels" if where == b"labels" else b"data"
    payload = (
        pickle.PROTO
        + b"\x04"
        + pickle.EMPTY_DICT
        + pickle.SHORT_BINBYTES
        + bytes([len(key)])
        + key
        + value
        + pickle.SETITEM
        + pickle.STOP
    )
    CANARY_CALLS.clear()
    match = f"^batch: refused to unpickle the global {re.escape(f'{module}.{name}')}"
    with mock.patch("os.system") as system, mock.patch("subprocess.Popen") as popen:
        with pytest.raises(ValueError, match=match):
            _pickle.load_batch(payload, "batch", label_key=b"labels", num_classes=10)
    assert not system.called and not popen.called and not CANARY_CALLS


def short_bytes(value: bytes) -> bytes:
    return pickle.SHORT_BINBYTES + bytes([len(value)]) + value


def short_str(value: str) -> bytes:
    return pickle.SHORT_BINUNICODE + bytes([len(value)]) + value.encode()


def dtype_call(code: bytes) -> bytes:
    """``numpy.dtype(code, False, True)``, as NumPy pickles a dtype."""
    return (
        pickle.GLOBAL
        + b"numpy\ndtype\n"
        + short_bytes(code)
        + pickle.NEWFALSE
        + pickle.NEWTRUE
        + pickle.TUPLE3
        + pickle.REDUCE
    )


@FUZZ
@given(
    st.sampled_from([b"u1", b"V8", b"O", b"O8", b"i8", b">i4", b"S4", b"U2", b"M8", b"f8"]),
    st.integers(0, 63),
    st.sampled_from([(1,), (1 << 31,), (1 << 62, 8), (3072,), (1, 3072)]),
    st.booleans(),
)
def test_crafted_array_states(code, flags, shape, with_fields):
    """Array pickles whose dtype or state asks for object pointers, huge sizes or odd types."""
    names, fields = pickle.NONE, pickle.NONE
    if with_fields:  # {"a": (numpy.dtype("O"), 0)}: an object field read from raw bytes
        names = short_str("a") + pickle.TUPLE1
        fields = (
            pickle.EMPTY_DICT
            + short_str("a")
            + dtype_call(b"O")
            + pickle.BININT1
            + b"\x00"
            + pickle.TUPLE2
            + pickle.SETITEM
        )
    dtype_state = (
        pickle.MARK
        + pickle.BININT1
        + b"\x03"
        + short_str("|")
        + pickle.NONE
        + names
        + fields
        + pickle.BININT1
        + b"\x08"
        + pickle.BININT1
        + b"\x01"
        + pickle.BININT1
        + bytes([flags])
        + pickle.TUPLE
    )
    shape_bytes = b"".join(pickle.LONG1 + b"\x08" + struct.pack("<q", d) for d in shape)
    array = (
        pickle.GLOBAL
        + b"numpy.core.multiarray\n_reconstruct\n"
        + pickle.GLOBAL
        + b"numpy\nndarray\n"
        + pickle.BININT1
        + b"\x00"
        + pickle.TUPLE1
        + short_bytes(b"b")
        + pickle.TUPLE3
        + pickle.REDUCE
        + pickle.MARK
        + pickle.BININT1
        + b"\x01"
        + pickle.MARK
        + shape_bytes
        + pickle.TUPLE
        + dtype_call(code)
        + dtype_state
        + pickle.BUILD
        + pickle.NEWFALSE
        + short_bytes(b"A" * 8)
        + pickle.TUPLE
        + pickle.BUILD
    )
    payload = (
        pickle.PROTO
        + b"\x02"
        + pickle.EMPTY_DICT
        + pickle.MARK
        + short_bytes(b"data")
        + array
        + short_bytes(b"labels")
        + pickle.EMPTY_LIST
        + pickle.SETITEMS
        + pickle.STOP
    )
    with pytest.raises(ValueError, match="^batch: "):
        _pickle.load_batch(payload, "batch", label_key=b"labels", num_classes=10)


@FUZZ
@given(st.integers(0, 2**32 - 1), st.sampled_from([pickle.LONG_BINPUT, pickle.PUT]))
def test_huge_memo_indexes_are_refused(index, opcode):
    arg = struct.pack("<I", index) if opcode == pickle.LONG_BINPUT else b"%d\n" % index
    payload = pickle.PROTO + b"\x02" + pickle.EMPTY_LIST + opcode + arg + pickle.STOP
    if index < len(payload):
        assert _pickle.restricted_loads(payload, "batch") == []
    else:
        with pytest.raises(ValueError, match="^batch: refused memo index"):
            _pickle.restricted_loads(payload, "batch")


# --- the whole loader ------------------------------------------------------------------------


@FUZZ
@given(batches, batches, st.booleans(), st.data())
def test_load_data_end_to_end(tmp_path_factory, train, test, corrupt, data):
    if corrupt:
        i = data.draw(st.integers(0, len(train) - 1))
        train = train[:i] + bytes([train[i] ^ data.draw(st.integers(1, 255))]) + train[i + 1 :]
    files = {name: train for name in cifar10.TRAIN_BATCHES} | {"test_batch": test}
    entries = [(cifar10.FOLDER, "dir", b"")]
    entries += [(f"{cifar10.FOLDER}/{n}", "file", c) for n, c in files.items()]
    archive = build_tar(entries)
    folder = tmp_path_factory.mktemp("load")
    path = folder / cifar10.ARCHIVE
    path.write_bytes(archive)
    before = listing(folder, folder.parent)
    n_train = 5 * (len(pickle.loads(train)[b"labels"]) if not corrupt else 0)
    n_test = len(pickle.loads(test)[b"labels"])
    with mock.patch.multiple(
        cifar10,
        ARCHIVE_BYTES=len(archive),
        ARCHIVE_SHA256=hashlib.sha256(archive).hexdigest(),
        NUM_TRAIN=n_train,
        NUM_TEST=n_test,
    ):
        try:
            (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=path)
        except ValueError as e:
            event("refused")
            assert corrupt and str(path) in str(e)
        else:
            event("loaded")
            assert x_train.shape == (n_train, 32, 32, 3) and y_train.shape == (n_train, 1)
            assert x_test.shape == (n_test, 32, 32, 3) and y_test.dtype == np.uint8
    assert listing(folder, folder.parent) == before


def test_every_one_byte_deletion_of_an_empty_batch_is_a_value_error():
    from cnnkit.datasets._pickle import restricted_loads

    batch = {b"batch_label": b"b", b"data": np.zeros((0, 3072), np.uint8), b"labels": []}
    data = pickle.dumps({**batch, b"filenames": []}, protocol=4)
    for i in range(len(data)):  # e.g. a FRAME length that overflows pickletools
        with contextlib.suppress(ValueError):
            restricted_loads(data[:i] + data[i + 1 :], "data_batch_1")
