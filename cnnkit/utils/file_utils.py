"""``get_file``: a file from a URL, cached, its hash checked, optionally extracted.

As Keras 3: the file lands in ``cache_dir/cache_subdir/fname`` (``~/.keras/datasets`` by
default, or ``$KERAS_HOME/datasets``); a cached file whose hash matches is used without any
network access; ``file_hash`` is SHA-256 (64 hex digits) or MD5 (32), ``hash_algorithm``
``"auto"`` telling them apart by length. ``extract=True`` unpacks a tar or zip archive into
``<fname>_extracted`` and returns that folder.

Archive safety (as cnnkit's dataset readers): every member is checked before anything is
written: no absolute path, no ``..``, no link, device or other special member, no member
that would land outside the target folder; the archive is unpacked into a temporary folder
that is renamed into place only when complete.

Offline: when the file is not cached and the URL cannot be reached, a ``ValueError`` (as
Keras's "URL fetch failure") says where the file was looked for and how to provide it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile


def _hash_file(path: str, algorithm: str) -> str:
    digest = hashlib.sha256() if algorithm == "sha256" else hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _algorithm(file_hash: str, hash_algorithm: str) -> str:
    if hash_algorithm == "sha256" or (hash_algorithm == "auto" and len(file_hash) == 64):
        return "sha256"
    if hash_algorithm in ("md5", "auto"):
        return "md5"
    raise ValueError(
        f"`hash_algorithm` must be 'md5', 'sha256' or 'auto'. Received: {hash_algorithm!r}"
    )


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535) -> bool:
    """Whether the file at ``fpath`` has the hash ``file_hash``."""
    return _hash_file(os.fspath(fpath), _algorithm(str(file_hash), algorithm)) == str(file_hash)


def _inside(root: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(root, name))
    return target == root or target.startswith(root + os.sep)


def _check_members(archive_path: str, names_and_kinds, root: str) -> None:
    for name, regular in names_and_kinds:
        if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
            raise ValueError(
                f"Refusing to extract {archive_path!r}: member {name!r} has an absolute path "
                "or a '..' component."
            )
        if not regular:
            raise ValueError(
                f"Refusing to extract {archive_path!r}: member {name!r} is a link or a special "
                "file."
            )
        if not _inside(root, name):
            raise ValueError(
                f"Refusing to extract {archive_path!r}: member {name!r} would be written "
                "outside the target folder."
            )


def extract_archive(file_path: str, path: str, archive_format="auto") -> bool:
    """Unpack a tar or zip archive at ``file_path`` into the folder ``path`` (safely).

    Returns:
        ``True`` when it was an archive of the accepted formats and was unpacked.

    Raises:
        ValueError: naming the file, for a damaged archive or an unsafe member.
    """
    if archive_format is None:
        return False
    formats = (
        ["tar", "zip"]
        if archive_format == "auto"
        else [archive_format]
        if isinstance(archive_format, str)
        else list(archive_format)
    )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(file_path):
            opener = tarfile.open
        elif kind == "zip" and zipfile.is_zipfile(file_path):
            opener = zipfile.ZipFile
        else:
            continue
        staging = tempfile.mkdtemp(prefix=".extract-", dir=parent)
        root = os.path.realpath(staging)
        try:
            with opener(file_path) as archive:
                if kind == "tar":
                    members = archive.getmembers()
                    _check_members(
                        file_path, [(m.name, m.isfile() or m.isdir()) for m in members], root
                    )
                    for member in members:
                        target = os.path.join(root, member.name)
                        if member.isdir():
                            os.makedirs(target, exist_ok=True)
                            continue
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with archive.extractfile(member) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                else:
                    infos = archive.infolist()
                    _check_members(
                        file_path,
                        [(i.filename, (i.external_attr >> 28) in (0, 0o10, 0o4)) for i in infos],
                        root,
                    )
                    archive.extractall(root)
            if os.path.exists(path):
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            os.replace(staging, path)
            return True
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
            raise ValueError(f"Could not extract the archive {file_path!r}: {err}") from None
        finally:
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)
    return False


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """Download a file from ``origin`` unless it is already in the cache; return its path.

    Args:
        fname: the file's name in the cache (default: the last part of ``origin``).
        origin: the URL.
        untar: deprecated alias of ``extract=True``.
        md5_hash: deprecated; use ``file_hash``.
        file_hash: expected SHA-256 or MD5 hex digest of the file.
        cache_subdir: sub-folder of ``cache_dir`` (an absolute path is used as is).
        hash_algorithm: ``"auto"``, ``"sha256"`` or ``"md5"``.
        extract: unpack the (tar/zip) archive; the extracted folder's path is returned.
        archive_format: ``"auto"``, ``"tar"``, ``"zip"``, a list of them, or ``None``.
        cache_dir: the cache root (default ``$KERAS_HOME`` or ``~/.keras``).
        force_download: download even when a valid cached copy exists.

    Returns:
        The path of the file (or of the extracted folder).

    Raises:
        ValueError: without ``origin``; when the file is not cached and cannot be
            downloaded; when the hash of the downloaded file differs; for an unsafe archive.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(os.path.expanduser(os.fspath(cache_dir)), cache_subdir)
    if not fname:
        fname = os.path.basename(origin.split("?")[0])
        if not fname:
            raise ValueError(
                f"Can't parse the file name from the origin provided: '{origin}'. "
                "Please specify the `fname` argument."
            )
    fname = os.fspath(fname)
    if untar:
        extract = True
        if fname.endswith(".tar.gz"):
            fname = fname[: -len(".tar.gz")]
    fpath = os.path.join(datadir, fname)
    if untar and not fpath.endswith(".tar.gz"):
        fpath += ".tar.gz"
    download = force_download or not os.path.exists(fpath)
    if (
        not download
        and file_hash is not None
        and not validate_file(fpath, file_hash, hash_algorithm)
    ):
        print(
            "A local file was found, but it seems to be incomplete or outdated because the "
            f"{_algorithm(file_hash, hash_algorithm)} file hash does not match the original "
            "value of " + file_hash + " so we will re-download the data."
        )
        download = True
    if download:
        from cnnkit.datasets._files import download as fetch

        try:
            fetch(origin, fpath, md5=None)
        except Exception as err:  # noqa: BLE001 - any network failure has the same remedy
            raise ValueError(
                f"URL fetch failure on {origin}: {type(err).__name__}: {err}. The file is not "
                f"in the cache ({fpath}); put a copy there (or pass cache_dir=...) to work "
                "offline."
            ) from err
        if file_hash is not None and not validate_file(fpath, file_hash, hash_algorithm):
            received = _hash_file(fpath, _algorithm(file_hash, hash_algorithm))
            os.remove(fpath)
            raise ValueError(
                f"Incomplete or corrupted file detected. The "
                f"{_algorithm(file_hash, hash_algorithm)} file hash of {origin} does not match "
                f"the provided value of {file_hash} (received {received}); it was removed."
            )
    if extract:
        target = fpath[: -len(".tar.gz")] if fpath.endswith(".tar.gz") else fpath
        target = target + "_extracted" if not untar else target
        if download or not os.path.isdir(target):
            if not extract_archive(fpath, target, archive_format):
                raise ValueError(
                    f"Could not extract {fpath!r}: it is not a {archive_format} archive."
                )
        return target
    return fpath
