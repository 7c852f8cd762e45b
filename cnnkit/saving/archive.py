"""The ``.keras`` file: a zip archive of ``config.json``, ``metadata.json``, ``model.weights.h5``.

Writing builds the config and the weights in memory, then writes the archive through
:func:`cnnkit.io_utils.atomic_write`: a reader (or a crash) sees the old file or the new one,
never a mix. The writer holds an advisory lock on its temporary file, so a later save can
tell a temporary file left by a killed process (``SIGKILL`` cannot be caught) from one being
written, and removes only the former.

Reading extracts nothing to disk but the assets a layer asks for (below), and trusts
nothing in the archive:

- entries whose names are absolute, contain ``..`` or backslashes, or that are symbolic
  links, encrypted or duplicated make the whole archive refused;
- only ``config.json``, ``metadata.json`` and ``model.weights.h5`` are read, into memory,
  each within a size cap checked on the declared size before reading and on the bytes read:
  64 MiB for ``config.json``, 1 MiB for ``metadata.json``, and for the weights
  ``64 MiB + 100 x`` the archive's size (Keras stores them uncompressed, so a larger
  declared size means a zip bomb);
- weights saved with NumPy (``model.weights.npz``, which needs pickle) are refused;
- of the assets, the vocabularies Keras writes for lookup layers
  (``assets/<layer path>/vocabulary.txt``) are read, each within 64 MiB, and those of a
  layer that defines ``load_assets`` (Keras's hook) once that layer exists, all within
  256 MiB: they are the one thing written to disk, into a fresh temporary folder the layer
  reads and that is then removed (:func:`read_assets`);
- the file (and in a folder each member) must be a regular file: a FIFO or a device is
  refused instead of blocking the reader (:func:`cnnkit.io_utils.open_regular`).

An unzipped model folder (``zipped=False``) holds the same three files.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time

from cnnkit.io_utils import atomic_write, open_regular, read_regular

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
ASSETS_DIRNAME = "assets"
KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose files this format was checked against

MAX_CONFIG_BYTES = 64 * 2**20
MAX_METADATA_BYTES = 2**20
WEIGHTS_BASE_BYTES = 64 * 2**20
WEIGHTS_RATIO = 100
MAX_FOLDER_WEIGHTS_BYTES = 2**40  # an unzipped folder's weights are read whole, as written
MAX_ENTRIES = 10_000
MAX_ASSET_BYTES = 64 * 2**20
MAX_ASSETS_BYTES = 256 * 2**20  # all the assets given to layers' load_assets together
VOCABULARY_ASSET = "vocabulary.txt"  # what Keras's lookup layers write in their assets folder


def metadata_json() -> bytes:
    import datetime

    from cnnkit import __version__

    metadata = {
        "keras_version": KERAS_FORMAT_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "cnnkit_version": __version__,
    }
    return json.dumps(metadata).encode("utf-8")


# -- writing -------------------------------------------------------------------------------
def write_atomically(path: str, write) -> None:
    """Call ``write(file)`` on a locked temporary file that replaces ``path`` on success."""
    remove_stale_temporaries(path)
    with atomic_write(path, "wb") as f:
        _lock(f.fileno())
        write(f)


def write_archive(path: str, config: bytes, weights: bytes, assets: dict | None = None) -> None:
    """Write a ``.keras`` zip (stored, not compressed, as Keras does) atomically, with
    ``assets`` (``{"assets/<layer path>/<file>": bytes}``) after the three files."""
    import zipfile

    metadata = metadata_json()

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(METADATA_FILENAME, metadata)
            archive.writestr(CONFIG_FILENAME, config)
            archive.writestr(WEIGHTS_FILENAME, weights)
            for name, data in sorted((assets or {}).items()):
                archive.writestr(name, data)

    write_atomically(path, write)


def write_folder(path: str, config: bytes, weights: bytes, assets: dict | None = None) -> None:
    """Write the three files (and ``assets``) into the folder ``path``, each file atomically."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise FileExistsError(f"Cannot save an unzipped model to {path!r}: it is a file.")
    os.makedirs(path, exist_ok=True)
    files = [
        (METADATA_FILENAME, metadata_json()),
        (WEIGHTS_FILENAME, weights),
        (CONFIG_FILENAME, config),
        *sorted((assets or {}).items()),
    ]
    for name, data in files:
        target = os.path.join(path, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_atomically(target, lambda f, data=data: f.write(data))


def read_assets(path: str, prefixes: list[str]) -> dict[str, bytes]:
    """The assets of a ``.keras`` archive or model folder whose names start with one of
    ``prefixes`` (``"assets/<layer path>/"``), into memory: each within
    :data:`MAX_ASSET_BYTES` and all within :data:`MAX_ASSETS_BYTES`, checked on the declared
    sizes before reading; names checked as every entry's are."""
    if not prefixes:
        return {}
    wanted = tuple(prefixes)
    if os.path.isdir(path):
        names = [n for n in _folder_assets(path) if n.startswith(wanted)]
        for name in names:
            if os.path.islink(os.path.join(path, *name.split("/"))):
                raise ValueError(f"Refusing {path!r}: {name!r} is a symbolic link.")
        sizes = {n: os.lstat(os.path.join(path, *n.split("/"))).st_size for n in names}
        _check_asset_sizes(path, sizes)
        return {
            n: read_regular(os.path.join(path, *n.split("/")), MAX_ASSET_BYTES, f"asset {n!r}")
            for n in names
        }
    import zipfile

    with open_regular(path, "model file") as f, zipfile.ZipFile(f, "r") as archive:
        by_name = _checked_entries(path, archive)
        names = [n for n in by_name if n.startswith(wanted) and not n.endswith("/")]
        _check_asset_sizes(path, {n: by_name[n].file_size for n in names})
        return {n: _read_member(archive, by_name, path, n, MAX_ASSET_BYTES) for n in names}


def _check_asset_sizes(path: str, sizes: dict) -> None:
    total = sum(sizes.values())
    if total > MAX_ASSETS_BYTES:
        raise ValueError(
            f"Refusing {path!r}: its layers' assets declare {total} bytes, more than the "
            f"{MAX_ASSETS_BYTES} allowed."
        )


def _folder_assets(path: str) -> list[str]:
    """The regular files under a model folder's ``assets/``, as archive names (no links)."""
    found = []
    assets_dir = os.path.join(path, ASSETS_DIRNAME)
    if os.path.isdir(assets_dir) and not os.path.islink(assets_dir):
        for root, folders, names in os.walk(assets_dir):
            folders[:] = sorted(d for d in folders if not os.path.islink(os.path.join(root, d)))
            for name in sorted(names):
                relative = os.path.relpath(os.path.join(root, name), path).replace(os.sep, "/")
                found.append(relative)
    return found


def _lock(fd: int) -> None:
    with contextlib.suppress(ImportError, OSError):
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)


def remove_stale_temporaries(path: str, min_age_s: float = 2.0) -> list[str]:
    """Delete temporary files of ``atomic_write(path)`` whose writer is gone.

    A temporary file is stale when nobody holds its lock (the writer died) and it is older
    than ``min_age_s`` (so a writer that has just created it is never disturbed).

    Returns:
        The paths removed.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no advisory locks (Windows): leave them
        return []
    directory = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    removed = []
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return []
    for name in names:
        candidate = os.path.join(directory, name)
        try:
            fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < min_age_s:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            with contextlib.suppress(FileNotFoundError):
                os.unlink(candidate)
                removed.append(candidate)
        finally:
            os.close(fd)
    return removed


# -- reading -------------------------------------------------------------------------------
class ModelFiles:
    """The members of a saved model, read into memory and checked."""

    def __init__(
        self,
        config: dict,
        metadata: dict,
        weights: bytes | None,
        assets: list[str],
        vocabularies: dict[str, bytes] | None = None,
    ):
        self.config = config
        self.metadata = metadata
        self.weights = weights
        self.assets = assets
        # {"assets/layers/text_vectorization/vocabulary.txt": b"..."}
        self.vocabularies = vocabularies or {}


def read_model_files(path: str, need_config: bool = True) -> ModelFiles:
    """Read a ``.keras`` archive or an unzipped model folder (see the module docstring)."""
    if os.path.isdir(path):
        return _read_folder(path, need_config)
    return _read_zip(path, need_config)


def _read_zip(path: str, need_config: bool) -> ModelFiles:
    import zipfile

    with open_regular(path, "model file") as f:
        return _read_zip_file(f, path, need_config, zipfile)


def _read_zip_file(f, path: str, need_config: bool, zipfile) -> ModelFiles:
    archive_size = os.fstat(f.fileno()).st_size
    weights_cap = WEIGHTS_BASE_BYTES + WEIGHTS_RATIO * archive_size
    try:
        archive = zipfile.ZipFile(f, "r")
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"{path!r} is not a valid .keras file (not a zip archive): {err}"
        ) from None
    with archive:
        by_name = _checked_entries(path, archive)
        if "model.weights.npz" in by_name and WEIGHTS_FILENAME not in by_name:
            raise ValueError(
                f"Refusing {path!r}: its weights are stored as `model.weights.npz`, which can "
                "only be read with pickle. Save the model with Keras's default h5 weights."
            )
        config = metadata = None
        if need_config:
            raw = _read_member(archive, by_name, path, CONFIG_FILENAME, MAX_CONFIG_BYTES)
            config = _parse_json(path, CONFIG_FILENAME, raw)
        if METADATA_FILENAME in by_name:
            metadata = _parse_json(
                path,
                METADATA_FILENAME,
                _read_member(archive, by_name, path, METADATA_FILENAME, MAX_METADATA_BYTES),
            )
        weights = None
        if WEIGHTS_FILENAME in by_name:
            weights = _read_member(archive, by_name, path, WEIGHTS_FILENAME, weights_cap)
        assets = sorted(n for n in by_name if n.startswith(ASSETS_DIRNAME + "/"))
        vocabularies = {
            name: _read_member(archive, by_name, path, name, MAX_ASSET_BYTES)
            for name in assets
            if name.endswith("/" + VOCABULARY_ASSET)
        }
    return ModelFiles(config, metadata or {}, weights, assets, vocabularies)


def _checked_entries(path: str, archive) -> dict:
    """``{name: ZipInfo}`` of the archive, every entry checked (:func:`_check_entry`), at most
    :data:`MAX_ENTRIES`, no name twice."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ValueError(f"Refusing {path!r}: the archive has {len(infos)} entries.")
    by_name = {}
    for info in infos:
        _check_entry(path, info)
        if info.filename in by_name:
            raise ValueError(
                f"Refusing {path!r}: the archive has two entries named {info.filename!r}."
            )
        by_name[info.filename] = info
    return by_name


def _check_entry(path: str, info) -> None:
    name = info.filename
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or ":" in parts[0]
        or any(part == ".." for part in parts)
        or "\x00" in name
    ):
        raise ValueError(f"Refusing {path!r}: unsafe entry name {name!r} in the archive.")
    mode = (info.external_attr >> 16) & 0o170000
    if mode == stat.S_IFLNK:
        raise ValueError(f"Refusing {path!r}: entry {name!r} is a symbolic link.")
    if info.flag_bits & 0x1:
        raise ValueError(f"Refusing {path!r}: entry {name!r} is encrypted.")


def _read_member(archive, by_name: dict, path: str, name: str, cap: int) -> bytes:
    info = by_name.get(name)
    if info is None:
        raise ValueError(f"{path!r} is not a valid .keras file: it has no {name!r}.")
    if info.file_size > cap:
        raise ValueError(
            f"Refusing {path!r}: {name!r} declares {info.file_size} bytes, more than the "
            f"{cap} allowed (a possible zip bomb)."
        )
    with archive.open(info, "r") as member:
        data = member.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"Refusing {path!r}: {name!r} is larger than the {cap} bytes allowed.")
    return data


def _parse_json(path: str, name: str, data: bytes) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{path!r}: {name!r} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path!r}: {name!r} must hold a JSON object.")
    return value


def _read_folder(path: str, need_config: bool) -> ModelFiles:
    def read(name: str, cap: int, required: bool) -> bytes | None:
        member = os.path.join(path, name)
        if os.path.islink(member):
            raise ValueError(f"Refusing {path!r}: {name!r} is a symbolic link.")
        if not os.path.lexists(member):
            if required:
                raise ValueError(f"{path!r} is not a saved model folder: it has no {name!r}.")
            return None
        return read_regular(member, cap, f"model's {name!r}")

    config = None
    if need_config:
        config = _parse_json(path, CONFIG_FILENAME, read(CONFIG_FILENAME, MAX_CONFIG_BYTES, True))
    raw = read(METADATA_FILENAME, MAX_METADATA_BYTES, False)
    metadata = _parse_json(path, METADATA_FILENAME, raw) if raw is not None else {}
    weights = read(WEIGHTS_FILENAME, MAX_FOLDER_WEIGHTS_BYTES, False)
    assets = _folder_assets(path)
    vocabularies = {
        name: read(name, MAX_ASSET_BYTES, True)
        for name in assets
        if name.endswith("/" + VOCABULARY_ASSET)
    }
    return ModelFiles(config, metadata, weights, assets, vocabularies)
