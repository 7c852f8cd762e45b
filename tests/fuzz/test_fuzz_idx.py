"""Property-based tests of the IDX reader: random headers and payloads, raw or gzip-wrapped.

Whatever the bytes, ``parse_idx`` / ``read_idx`` / ``read_payload`` either return exactly what
a slow reference decoder reads, or raise the documented ``ValueError`` naming the file; a
header announcing terabytes is refused before its array is allocated.
"""

from __future__ import annotations

import gzip
import math
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnkit.datasets import _files
from tests.fuzz import FUZZ

U32_MAX = 2**32 - 1
DTYPE_CODES = (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)  # ubyte, byte, short, int, float, double
ITEM_SHAPES = ((), (28, 28), (2, 3), (4,), (1, 2, 2))


def reference_decode(data: bytes, magic: int, item_shape: tuple) -> np.ndarray | None:
    """The values of a well-formed IDX file, decoded field by field; ``None`` otherwise."""
    ndim = 1 + len(item_shape)
    header_bytes = 4 * (1 + ndim)
    if len(data) < header_bytes:
        return None
    fields = struct.unpack(f">{1 + ndim}I", data[:header_bytes])
    if fields[0] != magic or tuple(fields[2:]) != tuple(item_shape):
        return None
    count = fields[1]
    if len(data) - header_bytes != count * math.prod(item_shape):
        return None
    values = [data[i] for i in range(header_bytes, len(data))]
    return np.array(values, dtype=np.uint8).reshape((count, *item_shape))


def gunzip_reference(blob: bytes) -> bytes | None:
    """``gzip.decompress``, or ``None`` for a blob it refuses."""
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error):
        return None


@st.composite
def idx_files(draw):
    """``(data, magic, item_shape)``: a header close to valid, then a payload of any length."""
    item_shape = draw(st.sampled_from(ITEM_SHAPES))
    magic = 0x0800 + 1 + len(item_shape)
    header_magic = draw(
        st.one_of(
            st.just(magic),
            st.builds(
                lambda code, ndim: (code << 8) | ndim,
                st.one_of(st.sampled_from(DTYPE_CODES), st.integers(0, 255)),
                st.integers(0, 255),
            ),
            st.integers(0, U32_MAX),
        )
    )
    count = draw(st.one_of(st.integers(0, 6), st.sampled_from([2**31, U32_MAX])))
    dims = draw(
        st.one_of(
            st.just(list(item_shape)),
            st.lists(st.one_of(st.integers(0, 30), st.just(U32_MAX)), max_size=4),
        )
    )
    header = struct.pack(f">{2 + len(dims)}I", header_magic, count, *dims)
    size = count * math.prod(dims)
    size = size if size <= 4096 else 0  # a header announcing more than it holds
    length = max(0, size + draw(st.integers(-5, 5)))
    payload = draw(st.binary(min_size=length, max_size=length))
    data = header + payload
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    return data, magic, item_shape


def check(read, data: bytes, path: str, magic: int, item_shape: tuple) -> None:
    """``read()`` returns the reference decode of ``data``, or raises ValueError naming ``path``."""
    expected = None if data is None else reference_decode(data, magic, item_shape)
    if expected is None:
        with pytest.raises(ValueError, match=re.escape(path)):
            read()
        return
    values = read()
    assert values.dtype == np.uint8 and values.shape == expected.shape
    assert values.flags.writeable
    np.testing.assert_array_equal(values, expected)


@FUZZ
@given(idx_files())
def test_parse_idx_in_memory(case):
    data, magic, item_shape = case
    path = "mem-idx"

    def read():
        return _files.parse_idx(data, path, magic=magic, item_shape=item_shape)

    check(read, data, path, magic, item_shape)


@FUZZ
@given(
    idx_files(), st.booleans(), st.sampled_from(["keep", "truncate", "flip", "append"]), st.data()
)
def test_read_idx_from_files(tmp_path_factory, case, gz, damage, data_strategy):
    data, magic, item_shape = case
    blob = gzip.compress(data, mtime=0) if gz else data
    if damage == "truncate":
        blob = blob[: data_strategy.draw(st.integers(0, max(0, len(blob) - 1)))]
    elif damage == "flip" and blob:
        i = data_strategy.draw(st.integers(0, len(blob) - 1))
        blob = blob[:i] + bytes([blob[i] ^ data_strategy.draw(st.integers(1, 255))]) + blob[i + 1 :]
    elif damage == "append":
        blob += data_strategy.draw(st.one_of(st.binary(max_size=8), st.just(b"\0" * 4)))
    content = gunzip_reference(blob) if gz else blob
    path = tmp_path_factory.mktemp("idx") / ("labels-idx.gz" if gz else "labels-idx")
    path.write_bytes(blob)

    def read_stream():
        with _files.open_payload(path) as stream:
            return _files.read_idx(stream, str(path), magic=magic, item_shape=item_shape)

    def read_whole():
        return _files.parse_idx(
            _files.read_payload(path), str(path), magic=magic, item_shape=item_shape
        )

    check(read_stream, content, str(path), magic, item_shape)
    check(read_whole, content, str(path), magic, item_shape)


@FUZZ
@given(
    st.sampled_from([((28, 28), 2051), ((), 2049), ((3, 5), 2051)]),
    st.integers(2**20, U32_MAX),
    st.binary(max_size=64),
    st.booleans(),
)
def test_huge_dimensions_are_refused_before_allocating(tmp_path_factory, kind, count, tail, gz):
    item_shape, magic = kind
    data = struct.pack(f">{2 + len(item_shape)}I", magic, count, *item_shape) + tail
    path = tmp_path_factory.mktemp("huge") / ("big.gz" if gz else "big")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=re.escape(f"{path}: truncated IDX file")):
            with _files.open_payload(path) as stream:
                _files.read_idx(stream, str(path), magic=magic, item_shape=item_shape)
        with pytest.raises(ValueError, match="mem: truncated IDX file"):
            _files.parse_idx(data, "mem", magic=magic, item_shape=item_shape)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak} bytes allocated for a {len(data)}-byte file"


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([(2049, ()), (2051, (28, 28))]))
def test_random_bytes(tmp_path_factory, blob, kind):
    magic, item_shape = kind
    folder = tmp_path_factory.mktemp("random")
    for name in ("blob", "blob.gz"):
        path = folder / name
        path.write_bytes(blob)
        content = gunzip_reference(blob) if name.endswith(".gz") else blob

        def read_stream(path=path):
            with _files.open_payload(path) as stream:
                return _files.read_idx(stream, str(path), magic=magic, item_shape=item_shape)

        check(read_stream, content, str(path), magic, item_shape)
