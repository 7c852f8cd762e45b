"""CIFAR-10: 60,000 colour 32x32 images in 10 classes (Krizhevsky, 2009).

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
9 truck; 5,000 training and 1,000 test images each.

The official ``cifar-10-python.tar.gz`` is looked for in ``$CNNKIT_DATA_DIR/cifar-10/`` (or
``~/.cnnkit/datasets/cifar-10/`` when the variable is unset), then in ``SYSTEM_DIRS`` (no
distribution packages CIFAR; an administrator may put the archive there), and is otherwise
downloaded from ``URL`` into the cache, through ``atomic_write`` and checked against
``ARCHIVE_MD5``, so the cache never holds a partial file.

How the archive is read, in this order, before any of its content is used:

1. its size must be ``ARCHIVE_BYTES`` and its SHA-256 ``ARCHIVE_SHA256`` (the value Keras 3
   checks), else ``ValueError`` naming the file and the expected hash;
2. it is decompressed and listed **in memory**, never extracted to disk: every member must be
   the folder ``cifar-10-batches-py`` or a regular file of the official layout
   (``data_batch_1`` .. ``data_batch_5``, ``test_batch``, ``batches.meta``, ``readme.html``),
   so an extra member, an absolute or ``..`` path, a link or a device is refused;
3. the six data batches, Python pickles, are read with ``_pickle.RestrictedUnpickler``, which
   allows only the three NumPy globals an array needs: a crafted pickle naming ``os.system``
   or ``builtins.eval`` is refused before anything runs.

Each batch holds ``b"data"``, a ``(n, 3072)`` ``uint8`` array of images in channel-first
row-major order (the first 1024 values are the red channel, row by row), and ``b"labels"``.
``load_data`` returns them as Keras 3 does: channels-last images and ``(n, 1)`` ``uint8`` labels.

Example:
    >>> from cnnkit.datasets import cifar10
    >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_train.shape, y_train.dtype  # doctest: +SKIP
    ((50000, 32, 32, 3), dtype('uint8'), (50000, 1), dtype('uint8'))
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from collections.abc import Sequence

import numpy

from cnnkit.datasets import _files, _pickle
from cnnkit.io_utils import open_regular

NAME = "cifar-10"
ARCHIVE = "cifar-10-python.tar.gz"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SYSTEM_DIRS = ("/usr/share/datasets/cifar-10",)
ARCHIVE_BYTES = 170_498_071
ARCHIVE_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
TEST_BATCH = "test_batch"
OTHER_MEMBERS = ("batches.meta", "readme.html")  # in the official archive, never read
NUM_TRAIN = 50000
NUM_TEST = 10000
NUM_CLASSES = 10
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
MAX_MEMBER_BYTES = 256 << 20  # the largest official member (CIFAR-100 "train") is ~155 MB


def load_data(path: str | os.PathLike | None = None) -> _files.Splits:
    """Load CIFAR-10, from a local archive when present, else from the official site.

    Args:
        path: the archive ``cifar-10-python.tar.gz``, or a folder holding it. When given, only
            that file is read: no search, no download (an extension: Keras's ``load_data``
            takes no argument).

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``uint8`` arrays of shapes
        ``(50000, 32, 32, 3)``, ``(50000, 1)``, ``(10000, 32, 32, 3)``, ``(10000, 1)``;
        labels in 0..9 (see ``CLASS_NAMES``).

    Raises:
        FileNotFoundError: when the archive is in no searched folder and the download fails;
            the message lists the folders searched and the ways to fix it.
        ValueError: for a truncated, corrupt or modified archive (the message names the file
            and the expected SHA-256), an unexpected, unsafe or link member, a refused pickle,
            a download whose MD5 is wrong, or batches of the wrong content.

    Example:
        >>> (x_train, y_train), _ = load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train[:3, 0]  # doctest: +SKIP
        ((50000, 32, 32, 3), array([6, 9, 9], dtype=uint8))
    """
    archive = locate_archive(
        title="CIFAR-10",
        name=NAME,
        archive=ARCHIVE,
        path=path,
        system_dirs=SYSTEM_DIRS,
        url=URL,
        md5=ARCHIVE_MD5,
    )
    members = read_archive(
        archive,
        size=ARCHIVE_BYTES,
        sha256=ARCHIVE_SHA256,
        folder=FOLDER,
        required=(*TRAIN_BATCHES, TEST_BATCH),
        optional=OTHER_MEMBERS,
    )
    splits = []
    for batches, count, split in (
        (TRAIN_BATCHES, NUM_TRAIN, "training"),
        ((TEST_BATCH,), NUM_TEST, "test"),
    ):
        xs, ys = [], []
        for batch in batches:
            x, y = _pickle.load_batch(
                members.pop(batch),
                f"{archive}:{FOLDER}/{batch}",
                label_key=b"labels",
                num_classes=NUM_CLASSES,
            )
            xs.append(x)
            ys.append(y)
        x = xs[0] if len(xs) == 1 else numpy.concatenate(xs)
        if len(x) != count:
            raise ValueError(f"{archive}: {len(x)} {split} images, expected {count} for CIFAR-10.")
        # Keras 3 returns CIFAR-10 labels as uint8 of shape (n, 1).
        y = numpy.concatenate(ys).astype(numpy.uint8).reshape(-1, 1)
        splits.append((x, y))
    return splits[0], splits[1]


# --- shared with cifar100 --------------------------------------------------------------------


def locate_archive(
    *,
    title: str,
    name: str,
    archive: str,
    path: str | os.PathLike | None,
    system_dirs: Sequence[str],
    url: str,
    md5: str,
) -> str:
    """The archive's path: ``path`` itself, else the cache, a system folder, or a download.

    Raises:
        FileNotFoundError: when ``path`` names no archive, or none is found and the download
            fails; the message lists where it looked and how to fix it.
        ValueError: for a download whose MD5 differs from ``md5`` (nothing is kept).
    """
    if path is not None:
        given = os.path.expanduser(os.fspath(path))
        is_file = os.path.exists(given) and not os.path.isdir(given)  # a FIFO: refused on read
        candidate = given if is_file else os.path.join(given, archive)
        if not os.path.exists(candidate) or os.path.isdir(candidate):
            raise FileNotFoundError(
                f"{title} archive not found: {candidate} does not exist (path={given!r})."
            )
        return candidate

    cache = _files.cache_dir(name)
    searched = []
    for directory in (cache, *system_dirs):
        candidate = os.path.join(directory, archive)
        if os.path.isfile(candidate):
            return candidate
        state = "folder absent" if not os.path.isdir(directory) else f"no {archive}"
        searched.append(f"  {directory} ({state})")
    import http.client  # only when a download is attempted

    try:
        return _files.download(url, os.path.join(cache, archive), md5)
    except (OSError, http.client.HTTPException) as e:
        raise FileNotFoundError(
            f"{title} not found. Looked for {archive} in:\n" + "\n".join(searched) + "\n"
            "Any one of these fixes it:\n"
            f"  1. put {archive} in {cache} (set CNNKIT_DATA_DIR to use <CNNKIT_DATA_DIR>/{name} "
            f"instead of ~/.cnnkit/datasets/{name}), or pass load_data(path=<archive or folder>);\n"
            f"  2. put it in one of the system folders above;\n"
            f"  3. allow the download: fetching {url} failed: {type(e).__name__}: {e}"
        ) from e


def read_archive(
    archive: str,
    *,
    size: int,
    sha256: str,
    folder: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    max_member_bytes: int | None = None,
) -> dict[str, bytes]:
    """Check a CIFAR ``.tar.gz`` and return the content of its ``required`` members, in memory.

    Nothing is extracted to disk and nothing is unpickled here. The size and SHA-256 are
    checked first; then every member must be ``folder`` itself (a directory) or a regular file
    ``folder/<name>`` with ``name`` in ``required`` or ``optional``, at most
    ``max_member_bytes`` (default ``MAX_MEMBER_BYTES``) long.

    Returns:
        ``{name: bytes}`` for each name in ``required``.

    Raises:
        ValueError: naming ``archive``, for a wrong size or SHA-256, a corrupt or truncated
            gzip or tar stream, or a member that is unsafe (absolute or ``..`` path), a link, a
            device, unexpected, duplicated, too large or missing.
    """
    max_member_bytes = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    with open_regular(archive, "dataset file") as f:
        found = os.fstat(f.fileno()).st_size  # checked before reading: a huge file is not read
        raw = f.read(size + 1) if found == size else b""
    if found != size or len(raw) != size:
        found = found if found != size else len(raw)
        hint = "truncated (an interrupted copy or download?)" if found < size else "too long"
        raise ValueError(
            f"{archive}: {found} bytes, expected {size}: the file is {hint}. "
            "Delete it and load again."
        )
    received = _files.sha256_hex(raw)
    if received != sha256:
        raise ValueError(
            f"{archive}: wrong SHA-256: expected {sha256}, received {received}. The file is "
            "corrupt or not the official one; delete it and load again."
        )
    try:
        data = gzip.decompress(raw)
    except EOFError as e:
        raise ValueError(
            f"{archive}: truncated gzip file (the compressed data ends early). "
            "Delete it and load again."
        ) from e
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{archive}: corrupt gzip file ({e}). Delete it and load again.") from e
    del raw

    def refuse(problem: str) -> ValueError:
        return ValueError(f"{archive}: {problem}; the archive was refused and nothing was loaded.")

    allowed = {f"{folder}/{name}" for name in (*required, *optional)}
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            members = tar.getmembers()
            seen: set[str] = set()
            for member in members:  # check every member before reading any
                name = member.name
                parts = name.replace("\\", "/").split("/")
                if (
                    name.startswith(("/", "\\"))
                    or ".." in parts
                    or (len(name) > 1 and name[1] == ":")
                ):
                    raise refuse(f"unsafe member path {name!r} (absolute or '..')")
                if member.issym() or member.islnk():
                    raise refuse(f"member {name!r} is a link to {member.linkname!r}")
                if name == folder and member.isdir():
                    continue
                if name not in allowed:
                    raise refuse(
                        f"unexpected member {name!r}; the official archive holds only {folder}/ "
                        f"and {', '.join(sorted(allowed))}"
                    )
                if not member.isreg():
                    raise refuse(f"member {name!r} is not a regular file")
                if name in seen:
                    raise refuse(f"member {name!r} appears twice")
                if member.size > max_member_bytes:
                    raise refuse(
                        f"member {name!r} is {member.size} bytes, over the {max_member_bytes}-byte "
                        "limit"
                    )
                seen.add(name)
            missing = [n for n in required if f"{folder}/{n}" not in seen]
            if missing:
                raise refuse(f"missing member(s) {', '.join(f'{folder}/{n}' for n in missing)}")
            for member in members:
                base = member.name[len(folder) + 1 :]
                if member.isreg() and base in required:
                    contents[base] = tar.extractfile(member).read()
    except tarfile.TarError as e:
        raise ValueError(
            f"{archive}: corrupt or truncated tar archive ({e}). Delete it and load again."
        ) from e
    return contents
