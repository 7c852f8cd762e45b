"""File plumbing shared by the whole library: crash-safe writes and bounded, safe reads.

Reading (every reader of a file a user may be sent goes through these): ``open_regular``
refuses FIFOs, devices and sockets instead of blocking on them; ``read_regular`` and
``read_json_object`` read within a size cap checked before reading; ``read_npy`` and
``read_npz`` check every declared size (zip members, ``.npy`` headers) before decompressing or
allocating, and never unpickle. Each raises ``ValueError`` naming the file.

Writing:

``atomic_write`` writes to a temporary file in the target's folder, flushes and fsyncs it, then
renames it onto the target with ``os.replace``. Readers therefore see either the old file or the
complete new one, never a half-written file; if anything raises inside the ``with`` block, the
temporary file is removed and the previous target is left untouched.

On Linux the temporary file is anonymous (``O_TMPFILE``): it has no name while it is written and
is linked into the folder only once complete, just before the rename, so even a process killed
with SIGKILL mid-write leaves no stray file behind. Elsewhere it is a hidden named file,
``.<basename>.<random>.tmp``.

Example:
    >>> import os, tempfile
    >>> from cnnkit.io_utils import atomic_write, atomic_write_text
    >>> folder = tempfile.mkdtemp()
    >>> target = os.path.join(folder, "weights.bin")
    >>> with atomic_write(target) as f:
    ...     _ = f.write(b"\\x00\\x01")
    >>> atomic_write_text(os.path.join(folder, "notes.txt"), "hello")
    >>> sorted(os.listdir(folder))
    ['notes.txt', 'weights.bin']
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO

_VALID_MODES = ("wb", "w", "wt")


def _default_permissions() -> int:
    """``0o666`` less the process umask: what ``open(path, "w")`` would give a new file."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe later.
_NEW_FILE_PERMISSIONS = _default_permissions()


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself (POSIX); a no-op where folders cannot be opened (Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", *, encoding: str | None = None
) -> Iterator[IO]:
    """Open a temporary file that replaces ``path`` only when the ``with`` block succeeds.

    The temporary file lives in the same folder as ``path`` (so ``os.replace`` is an atomic
    rename), is named ``.<basename>.<random>.tmp``, and is flushed and fsynced before the rename.
    The new file keeps the permissions of the file it replaces, or gets the usual
    ``0o666 & ~umask``.

    Args:
        path: the file to create or replace. Its folder must exist.
        mode: ``"wb"`` (default) for bytes, ``"w"`` or ``"wt"`` for text.
        encoding: text encoding, text modes only (default ``"utf-8"``).

    Returns:
        A context manager yielding the open temporary file object.

    Raises:
        ValueError: for a mode other than ``"wb"``, ``"w"``, ``"wt"``, or an encoding with ``"wb"``.
        OSError: when the folder does not exist or cannot be written. Any exception raised inside
            the ``with`` block propagates after the temporary file has been removed.

    Example:
        >>> import pathlib, tempfile
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "log.txt"
        >>> with atomic_write(target, "w") as f:
        ...     _ = f.write("epoch 1\\n")
        >>> target.read_text()
        'epoch 1\\n'
    """
    if mode not in _VALID_MODES:
        raise ValueError(
            f"Invalid value for argument `mode`. Expected one of {_VALID_MODES}. "
            f"Received: mode={mode!r}"
        )
    binary = "b" in mode
    if binary and encoding is not None:
        raise ValueError(
            f"Argument `encoding` is only valid in text mode. Received: mode={mode!r}, "
            f"encoding={encoding!r}"
        )
    if not binary and encoding is None:
        encoding = "utf-8"

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        permissions = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        permissions = _NEW_FILE_PERMISSIONS

    anonymous = _open_anonymous(directory)
    if anonymous is not None:
        with os.fdopen(anonymous, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), permissions)
            _link_and_replace(f.fileno(), directory, path)
        _fsync_directory(directory)
        return

    fd, tmp_path = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, permissions)  # mkstemp creates 0o600
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    _fsync_directory(directory)


def _open_anonymous(directory: str) -> int | None:
    """A nameless file in ``directory`` (Linux ``O_TMPFILE``), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError:  # a file system without O_TMPFILE support: use a named file
        return None


def _link_and_replace(fd: int, directory: str, path: str) -> None:
    """Give the complete anonymous file a hidden name, then rename it onto ``path``."""
    # linkat(proc_fd, "<fd>", ..., AT_SYMLINK_FOLLOW): a dir fd makes Python call linkat.
    proc = os.open("/proc/self/fd", os.O_RDONLY)
    try:
        for _ in range(100):
            name = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
            try:
                os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of 48 random bits
            raise FileExistsError(f"Could not name a temporary file next to {path!r}.")
    finally:
        os.close(proc)
    try:
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (see ``atomic_write``)."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Atomically replace ``path`` with ``text`` encoded as ``encoding`` (see ``atomic_write``)."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


# Interactive logging (``keras.config.enable_interactive_logging``): on, progress bars and
# messages are written to stdout; off, each finished line goes to the ``"cnnkit"`` logger
# (level INFO) instead and nothing is redrawn in place, as Keras sends them to absl logging.
_INTERACTIVE_LOGGING = True


def enable_interactive_logging() -> None:
    """Write progress bars and messages to stdout (the default)."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = True


def disable_interactive_logging() -> None:
    """Send progress lines to the ``"cnnkit"`` logger instead of stdout."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress goes to stdout (``True``) or to the ``"cnnkit"`` logger."""
    return _INTERACTIVE_LOGGING


# -- reading -------------------------------------------------------------------------------
def open_regular(path: str | os.PathLike, what: str = "file") -> IO[bytes]:
    """Open ``path`` for binary reading, refusing anything that is not a regular file.

    A FIFO, a character device or a socket would block a reader forever (or feed it endless
    bytes); it is refused without waiting: the file is opened non-blocking, checked with
    ``fstat`` on the open descriptor (no window between the check and the use), and only then
    switched back to ordinary blocking reads.

    Args:
        path: the file to open; symbolic links to regular files are followed.
        what: what the file is, for the error message (``"model file"``...).

    Returns:
        An open binary file object (use it in a ``with`` block).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming ``path``, when it is a folder, a FIFO, a device or a socket.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> os.mkfifo(os.path.join(folder, "pipe"))
        >>> open_regular(os.path.join(folder, "pipe"))
        Traceback (most recent call last):
        ...
        ValueError: ...pipe is not a regular file (a FIFO); refusing to read it as a file.
    """
    path = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise ValueError(f"{path}: expected a {what}, found a folder.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(
                f"{path} is not a regular file ({_kind(mode)}); refusing to read it as a {what}."
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def read_regular(path: str | os.PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused when larger than ``max_bytes``.

    The size is checked on ``fstat`` before reading (a sparse file announcing gigabytes is not
    read), and no more than that size plus one byte is read (a file growing meanwhile is
    refused), so at most ``max_bytes + 1`` bytes are ever held.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming ``path``: not a regular file (:func:`open_regular`), or too large.
    """
    path = os.fspath(path)
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise ValueError(
                f"{path}: {size} bytes, more than the {max_bytes} a {what} may hold; "
                "refusing to read it."
            )
        data = f.read(size + 1)
    if len(data) > size:
        raise ValueError(f"{path}: the file grew while it was read; refusing it.")
    return data


def read_npy_header(stream, path: str):
    """``(shape, fortran_order, dtype)`` of the ``.npy`` header at the start of ``stream``.

    Raises:
        ValueError: naming ``path``, for a damaged header or an object (pickled) dtype.
    """
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            header = npy_format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            header = npy_format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, TypeError, SyntaxError, OverflowError, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a valid .npy array ({err}).") from None
    shape, fortran_order, dtype = header
    if any(d < 0 for d in shape):
        raise ValueError(f"{path}: not a valid .npy array (negative dimension in {shape}).")
    if dtype.hasobject:
        raise ValueError(f"{path}: holds Python objects, which only pickle can read; refused.")
    return shape, fortran_order, dtype


def _npy_nbytes(shape, dtype) -> int:
    import math

    return math.prod(shape) * dtype.itemsize


def _read_npy_body(stream, path: str, shape, fortran_order, dtype, available: int):
    """The array a checked header announces, refused when the data cannot hold it."""
    import numpy as np

    nbytes = _npy_nbytes(shape, dtype)
    if nbytes > available:
        raise ValueError(
            f"{path}: the header announces shape {shape} of {dtype} ({nbytes} bytes) but the "
            f"data holds at most {available} bytes; refused before allocating it."
        )
    array = np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
    view = memoryview(array.reshape(-1, order="A")).cast("B") if array.size else b""
    filled = 0
    while filled < nbytes:
        n = stream.readinto(view[filled:])
        if not n:
            raise ValueError(f"{path}: truncated .npy data ({filled} of {nbytes} bytes).")
        filled += n
    return array


def read_npy(path: str | os.PathLike, max_bytes: int, what: str = ".npy file"):
    """The array of a ``.npy`` file, checked before anything is allocated.

    The header's shape and dtype must fit in the file and in ``max_bytes``; pickled (object)
    arrays are refused. Peak memory is the array itself.

    Raises:
        ValueError: naming ``path``, for a damaged or oversized file or a special file.
    """
    path = os.fspath(path)
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        shape, fortran_order, dtype = read_npy_header(f, path)
        nbytes = _npy_nbytes(shape, dtype)
        if nbytes > max_bytes:
            raise ValueError(
                f"{path}: the header announces {nbytes} bytes (shape {shape}), more than the "
                f"{max_bytes} a {what} may hold; refused."
            )
        return _read_npy_body(f, path, shape, fortran_order, dtype, size - f.tell())


def read_npz(
    path: str | os.PathLike,
    max_bytes: int,
    what: str = ".npz file",
    check=None,
) -> dict:
    """``{name: array}`` of a NumPy ``.npz`` archive, with every size checked before reading.

    A zip bomb cannot cost more than ``max_bytes``: the members' declared sizes are added up
    before anything is decompressed, each member's ``.npy`` header must fit in its declared
    size, and zip itself stops at the declared size. Pickled arrays are refused.

    Args:
        path: the ``.npz`` file.
        max_bytes: the most bytes its arrays may hold together.
        what: what the file is, for messages.
        check: called with ``{name: shape}`` read from the headers, before any data is
            read; it raises ``ValueError`` to refuse the file.

    Raises:
        ValueError: naming ``path`` for anything wrong with the file.
    """
    import zipfile
    import zlib

    path = os.fspath(path)
    with open_regular(path, what) as f:
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise ValueError(f"{path}: not a valid .npz archive ({err}).") from None
        with archive:
            infos = [i for i in archive.infolist() if not i.is_dir()]
            declared = sum(i.file_size for i in infos)
            if declared > max_bytes or len(infos) > 100_000:
                raise ValueError(
                    f"{path}: its members declare {declared} bytes in {len(infos)} entries, "
                    f"more than the {max_bytes} bytes a {what} may hold (a zip bomb?); refused."
                )
            headers = {}
            try:
                for info in infos:
                    if not info.filename.endswith(".npy"):
                        raise ValueError(f"{path}: unexpected member {info.filename!r}.")
                    name = info.filename[:-4]
                    with archive.open(info) as member:
                        header = read_npy_header(member, f"{path}:{info.filename}")
                        headers[name] = (info, header, member.tell())
                if check is not None:
                    check({n: tuple(h[1][0]) for n, h in headers.items()})
                arrays = {}
                for name, (info, (shape, fortran, dtype), offset) in headers.items():
                    with archive.open(info) as member:
                        member.read(offset)
                        arrays[name] = _read_npy_body(
                            member,
                            f"{path}:{info.filename}",
                            shape,
                            fortran,
                            dtype,
                            info.file_size - offset,
                        )
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as err:
                # RuntimeError: an encrypted member; NotImplementedError (one) included
                raise ValueError(f"{path}: damaged .npz archive ({err}).") from None
            return arrays


def read_json_object(
    path: str | os.PathLike, max_bytes: int = 64 << 20, what: str = "JSON file"
) -> dict:
    """The JSON object (a ``dict``) in the regular file ``path``, read within ``max_bytes``.

    Raises:
        ValueError: naming ``path``: not a regular file, too large, not UTF-8 JSON, or JSON
            that is not an object (a list, a number...).
    """
    import json

    path = os.fspath(path)
    data = read_regular(path, max_bytes, what)
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}).") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object ({{...}}), found {type(value).__name__}.")
    return value
