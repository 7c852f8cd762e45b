"""Shared plumbing of the MNIST-like loaders: where the files are, IDX parsing, hashes, downloads.

The four files of MNIST and Fashion-MNIST are in the IDX format: a big-endian header (magic
number, then one ``uint32`` per dimension) followed by the raw ``uint8`` values. Images have magic
2051 (``0x00000803``: unsigned bytes, 3 dimensions) and labels 2049 (``0x00000801``: 1 dimension).

Files are looked for, in this order, in:

1. the cache, ``$CNNKIT_DATA_DIR/<name>/`` when that variable is set, else
   ``~/.cnnkit/datasets/<name>/``;
2. the system folders of the dataset (Debian's ``dataset-fashion-mnist`` package installs the four
   ``.gz`` files directly in ``/usr/share/datasets/fashion-mnist/``);
3. the official mirror, downloaded into the cache.

A folder is used only when it holds all four files, each either gzip-compressed (``<file>.gz``,
preferred) or uncompressed (``<file>``). A download goes through ``atomic_write``: a temporary file
that replaces the target only once its MD5 matches, so the cache never holds a partial file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import sys
import zlib
from collections.abc import Mapping, Sequence

import numpy

from cnnkit.io_utils import atomic_write, open_regular

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILENAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

DOWNLOAD_TIMEOUT = 30.0  # seconds without an answer before a download gives up
_CHUNK_BYTES = 1 << 20
_DEFLATE_MAX_RATIO = 1032  # deflate's largest expansion: 258 bytes from 2 bits

Splits = tuple[tuple[numpy.ndarray, numpy.ndarray], tuple[numpy.ndarray, numpy.ndarray]]


def cache_dir(name: str) -> str:
    """The cache folder: ``$CNNKIT_DATA_DIR/<name>``, else ``~/.cnnkit/datasets/<name>``."""
    root = os.environ.get("CNNKIT_DATA_DIR")
    if root:
        return os.path.join(os.path.expanduser(root), name)
    return os.path.join(os.path.expanduser("~"), ".cnnkit", "datasets", name)


def find_file(directory: str | os.PathLike, filename: str) -> str | None:
    """The path of ``<filename>.gz`` in ``directory``, else of ``<filename>``, else ``None``."""
    for candidate in (filename + ".gz", filename):
        path = os.path.join(directory, candidate)
        if os.path.exists(path) and not os.path.isdir(path):  # a FIFO is found, then refused
            return path
    return None


def sha256_hex(data: bytes) -> str:
    """Hexadecimal SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _gunzip(raw: bytes, path: str) -> bytes:
    """Decompress every gzip member of ``raw``; ``ValueError`` naming ``path`` if it is corrupt."""
    members = []
    try:
        while raw:
            decompressor = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
            members.append(decompressor.decompress(raw))
            if not decompressor.eof:
                raise ValueError(
                    f"{path}: truncated gzip file (the compressed data ends early). "
                    "Delete it and load again."
                )
            raw = decompressor.unused_data
            if not raw.strip(b"\0"):  # gzip tolerates zero padding after the last member
                break
    except zlib.error as e:
        raise ValueError(f"{path}: corrupt gzip file ({e}). Delete it and load again.") from e
    return members[0] if len(members) == 1 else b"".join(members)  # no copy for one member


def read_payload(path: str | os.PathLike) -> bytes:
    """The uncompressed bytes of ``path``: gunzipped when its name ends in ``.gz``."""
    path = os.fspath(path)
    with open_regular(path, "dataset file") as f:
        raw = f.read()
    return _gunzip(raw, path) if path.endswith(".gz") else raw


def parse_idx(
    data: bytes,
    path: str,
    *,
    magic: int,
    item_shape: tuple[int, ...],
    sha256: str | None = None,
) -> numpy.ndarray:
    """Check an in-memory IDX file and return its values; see :func:`read_idx`."""
    return read_idx(io.BytesIO(data), path, magic=magic, item_shape=item_shape, sha256=sha256)


def read_idx(
    stream,
    path: str,
    *,
    magic: int,
    item_shape: tuple[int, ...],
    sha256: str | None = None,
    max_count: int | None = None,
) -> numpy.ndarray:
    """Check an IDX header and payload, and return its values as a writable ``uint8`` array.

    The payload is read straight into the array (``readinto``), so loading needs one
    copy of the data in memory, not two or three (bytes, then an array, then a copy).

    Args:
        stream: a binary file object (a ``gzip.GzipFile`` for ``.gz`` files).
        path: the file's name, for error messages.
        magic: the expected magic number (2051 for images, 2049 for labels).
        item_shape: the expected dimensions after the count, e.g. ``(28, 28)`` or ``()``.
        sha256: the expected SHA-256 of the uncompressed content, or ``None`` to skip it.
        max_count: the most items the file may announce (the split's size), or ``None``. A
            header announcing more is refused before anything is decompressed or allocated.

    Returns:
        An array of shape ``(count, *item_shape)`` and dtype ``uint8``.

    Raises:
        ValueError: for a wrong magic number, wrong dimensions, a truncated payload or trailing
            bytes, a corrupt gzip stream, or a SHA-256 different from ``sha256``; the message
            names ``path``.
    """
    ndim = 1 + len(item_shape)
    header_bytes = 4 * (1 + ndim)
    try:
        header = _read_exactly(stream, header_bytes)
        if len(header) < header_bytes:
            raise ValueError(
                f"{path}: truncated IDX file: {len(header)} bytes, shorter than its "
                f"{header_bytes}-byte header."
            )
        fields = numpy.frombuffer(header, dtype=">u4")
        if int(fields[0]) != magic:
            raise ValueError(
                f"{path}: not the expected IDX file: magic number {int(fields[0])}, "
                f"expected {magic}."
            )
        count, dims = int(fields[1]), tuple(int(d) for d in fields[2:])
        if dims != tuple(item_shape):
            raise ValueError(
                f"{path}: unexpected IDX dimensions {dims}, expected {tuple(item_shape)}."
            )
        shape = (count, *item_shape)
        if max_count is not None and count > max_count:
            raise ValueError(
                f"{path}: the IDX header announces {count} items, more than the {max_count} "
                "this file holds; refusing it before reading its data."
            )
        announced = count * math.prod(item_shape)
        available = _max_remaining(stream)
        if available is not None and announced > available:  # refuse before allocating
            raise ValueError(
                f"{path}: truncated IDX file: the header announces shape {shape} "
                f"({header_bytes + announced} bytes) but the file cannot hold that many."
            )
        values = numpy.empty(shape, dtype=numpy.uint8)
        filled = _read_into(stream, memoryview(values.reshape(-1)))
        expected_bytes = header_bytes + values.size
        if filled < values.size:
            raise ValueError(
                f"{path}: truncated IDX file: the header announces shape {shape} "
                f"({expected_bytes} bytes) but the data holds only {header_bytes + filled} bytes."
            )
        extra = len(stream.read())
    except (EOFError, zlib.error, OSError) as e:
        kind = "truncated" if isinstance(e, EOFError) else "corrupt"
        raise ValueError(f"{path}: {kind} gzip file ({e}). Delete it and load again.") from e
    if extra:
        raise ValueError(
            f"{path}: corrupt IDX file: {extra} unexpected bytes after "
            f"the {shape} values announced by its header."
        )
    if sha256 is not None:
        digest = hashlib.sha256(header)
        digest.update(memoryview(values.reshape(-1)))
        received = digest.hexdigest()
        if received != sha256:
            raise ValueError(
                f"{path}: wrong SHA-256 of the uncompressed data: expected {sha256}, "
                f"received {received}. The file is corrupt or not the official one; "
                "delete it and load again."
            )
    return values


def _max_remaining(stream) -> int | None:
    """An upper bound of the bytes left in ``stream``, found without reading it, or ``None``.

    A plain file or buffer knows its size; a gzip stream holds at most ``_DEFLATE_MAX_RATIO``
    times its compressed size. A header announcing more is refused before its array is made
    (the loaders also refuse more items than the split holds: ``max_count`` of ``read_idx``).
    """
    try:
        if isinstance(stream, gzip.GzipFile):
            raw = stream.fileobj
            here = raw.tell()
            size = raw.seek(0, os.SEEK_END)
            raw.seek(here)
            return _DEFLATE_MAX_RATIO * size
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _read_exactly(stream, size: int) -> bytes:
    """Up to ``size`` bytes: fewer only at the end of the stream."""
    parts, remaining = [], size
    while remaining:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _read_into(stream, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; returns how many bytes were read (short at EOF)."""
    filled = 0
    while filled < len(buffer):
        n = stream.readinto(buffer[filled:])
        if not n:
            break
        filled += n
    return filled


def open_payload(path: str | os.PathLike):
    """A binary stream of the uncompressed content of ``path`` (gunzipped for ``.gz``).

    Raises:
        ValueError: when ``path`` is not a regular file (a FIFO would block the reader).
    """
    path = os.fspath(path)
    f = open_regular(path, "dataset file")
    if not path.endswith(".gz"):
        return f
    stream = gzip.GzipFile(fileobj=f, mode="rb")
    stream.myfileobj = f  # closed with the stream, as gzip.open does with the file it opens
    return stream


def download(url: str, target: str, md5: str | None, timeout: float | None = None) -> str:
    """Download ``url`` to ``target`` atomically, checking the MD5 of the downloaded bytes.

    Raises:
        ValueError: if the MD5 differs from ``md5``; nothing is left at ``target``.
        OSError, http.client.HTTPException: when the download itself fails.
    """
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    print(f"Downloading {url}", file=sys.stderr)
    digest = hashlib.md5(usedforsecurity=False)
    import urllib.request  # here, not at import time: it pulls in ssl, email and sockets

    with urllib.request.urlopen(url, timeout=timeout) as response:
        os.makedirs(os.path.dirname(target), exist_ok=True)  # only once the mirror answers
        with atomic_write(target) as f:
            while chunk := response.read(_CHUNK_BYTES):
                digest.update(chunk)
                f.write(chunk)
            received = digest.hexdigest()
            if md5 is not None and received != md5:  # raising here discards the temporary file
                raise ValueError(
                    f"{url}: wrong MD5 of the downloaded file: expected {md5}, "
                    f"received {received}. Nothing was written to {target}."
                )
    return target


def _locate(
    title: str,
    name: str,
    system_dirs: Sequence[str],
    base_url: str,
    gz_md5: Mapping[str, str],
    install_hint: str,
) -> dict[str, str]:
    """Find the four files in the cache or a system folder, else download them into the cache."""
    cache = cache_dir(name)
    searched = []
    for directory in (cache, *system_dirs):
        found = {f: find_file(directory, f) for f in FILENAMES}
        if all(found.values()):
            return found
        missing = [f for f in FILENAMES if found[f] is None]
        state = "folder absent" if not os.path.isdir(directory) else "missing " + ", ".join(missing)
        searched.append(f"  {directory} ({state})")

    import http.client  # only when a download is attempted

    found = {f: find_file(cache, f) for f in FILENAMES}
    try:
        for f in FILENAMES:
            if found[f] is None:
                found[f] = download(
                    base_url + f + ".gz", os.path.join(cache, f + ".gz"), gz_md5.get(f)
                )
    except (OSError, http.client.HTTPException) as e:
        wanted = ", ".join(f + "[.gz]" for f in FILENAMES)
        raise FileNotFoundError(
            f"{title} not found. Looked for {wanted} in:\n" + "\n".join(searched) + "\n"
            "Any one of these fixes it:\n"
            f"  1. put the four files in {cache} (set CNNKIT_DATA_DIR to use <CNNKIT_DATA_DIR>/"
            f"{name} instead of ~/.cnnkit/datasets/{name}), or pass load_data(path=<folder>);\n"
            f"  2. {install_hint};\n"
            f"  3. allow the download: fetching {base_url} failed: {type(e).__name__}: {e}"
        ) from e
    return found


def load_mnist_like(
    *,
    title: str,
    name: str,
    path: str | os.PathLike | None,
    system_dirs: Sequence[str],
    base_url: str,
    gz_md5: Mapping[str, str],
    payload_sha256: Mapping[str, str],
    num_train: int,
    num_test: int,
    install_hint: str,
) -> Splits:
    """Locate, check and parse the four IDX files of an MNIST-like dataset.

    ``path`` names a folder holding the four files; it disables the search and the download.
    The other arguments are the dataset module's constants (see ``fashion_mnist.py``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``, ``uint8`` arrays of shapes
        ``(num_train, 28, 28)``, ``(num_train,)``, ``(num_test, 28, 28)``, ``(num_test,)``.

    Raises:
        FileNotFoundError: when no location holds the files and the download fails.
        ValueError: for a corrupt, truncated or wrong-hash file, or a wrong download MD5.
    """
    if path is not None:
        directory = os.path.expanduser(os.fspath(path))
        found = {f: find_file(directory, f) for f in FILENAMES}
        missing = [f + "[.gz]" for f in FILENAMES if found[f] is None]
        if missing:
            raise FileNotFoundError(
                f"{title} files not found in path={directory!r}: missing {', '.join(missing)}."
            )
    else:
        found = _locate(title, name, system_dirs, base_url, gz_md5, install_hint)

    splits = []
    for images_file, labels_file, count in (
        (TRAIN_IMAGES, TRAIN_LABELS, num_train),
        (TEST_IMAGES, TEST_LABELS, num_test),
    ):
        images_path, labels_path = found[images_file], found[labels_file]
        with open_payload(images_path) as stream:
            x = read_idx(
                stream,
                images_path,
                magic=IMAGES_MAGIC,
                item_shape=IMAGE_SHAPE,
                sha256=payload_sha256.get(images_file),
                max_count=count,
            )
        with open_payload(labels_path) as stream:
            y = read_idx(
                stream,
                labels_path,
                magic=LABELS_MAGIC,
                item_shape=(),
                sha256=payload_sha256.get(labels_file),
                max_count=count,
            )
        if len(x) != len(y):
            raise ValueError(
                f"{images_path} holds {len(x)} images but {labels_path} holds {len(y)} labels."
            )
        if len(x) != count:
            raise ValueError(f"{images_path} holds {len(x)} images, expected {count} for {title}.")
        if len(y) and int(y.max()) >= NUM_CLASSES:
            raise ValueError(
                f"{labels_path}: label {int(y.max())} out of range, expected 0..{NUM_CLASSES - 1}."
            )
        splits.append((x, y))
    return splits[0], splits[1]
