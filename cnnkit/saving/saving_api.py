"""``save_model`` / ``load_model`` / ``save_weights`` / ``load_weights``: Keras 3's entry points.

``save_model(model, "m.keras")`` writes the model's config, its weights and its optimizer
state; ``load_model("m.keras")`` rebuilds it exactly (predictions are bitwise equal and
training carries on as if it had never stopped). Weights alone go to ``.weights.h5`` files.
See :mod:`cnnkit.saving.archive` for the checks made on read and the atomic write.

Deviations from Keras 3, written down:

- ``overwrite=False`` on an existing file raises ``FileExistsError`` (Keras asks on the
  terminal).
- Legacy HDF5 model files (``.h5``/``.hdf5`` with ``model.save``) are neither written nor read;
  ``model.weights.npz`` archives are refused (reading them needs pickle).
- ``safe_mode=False`` loads nothing more: code stored in a file (lambdas) is always refused.
- ``include_optimizer=False`` is honoured for ``.keras`` files too (Keras ignores it there).
"""

from __future__ import annotations

import contextlib
import io
import json
import lzma
import os
import tempfile
import warnings
import zipfile
import zlib

from cnnkit import distribution
from cnnkit.io_utils import open_regular
from cnnkit.saving import archive, h5_weights, legacy_h5
from cnnkit.saving.serialization import deserialize_keras_object, serialize_keras_object


def _fspath(filepath, argument: str = "filepath") -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(
            f"Invalid value for argument `{argument}`. Expected a string or path-like. "
            f"Received: {argument}={filepath!r}"
        ) from None


def _check_overwrite(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(f"{path!r} already exists. Pass `overwrite=True` to replace it.")


def save_model(model, filepath, overwrite: bool = True, zipped: bool | None = None, **kwargs):
    """Save ``model`` as a Keras 3 ``.keras`` file (or, with ``zipped=False``, a folder).

    Args:
        model: a built model (Sequential, functional, or registered custom class).
        filepath: where to write; must end in ``.keras`` when zipped.
        overwrite: replace an existing file (default); ``False`` raises if it exists.
        zipped: ``True``/``None`` for one zip file, ``False`` for a folder of the same files.
        include_optimizer: keyword-only, default ``True``: also save the optimizer state.

    Raises:
        ValueError: for a wrong extension, an unknown keyword, or a config that cannot be
            saved (e.g. a lambda).
        FileExistsError: when ``overwrite=False`` and the target exists.
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    path = _fspath(filepath)
    zipped = True if zipped is None else bool(zipped)
    if zipped and not path.endswith(".keras"):
        if path.endswith((".h5", ".hdf5")):
            raise ValueError(
                "cnnkit does not write the legacy HDF5 model format. Use a `.keras` extension "
                f"(Keras 3's format). Received: filepath={path}"
            )
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension for the "
            f"native Keras format. Received: filepath={path}"
        )
    _check_overwrite(path, overwrite)
    if not getattr(model, "built", True):
        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any "
            "weights yet. Consider building the model first by calling it on some data.",
            stacklevel=3,
        )
    if not distribution.is_chief():
        return  # in a multi-process job the processes hold the same model: process 0 saves it
    config = json.dumps(serialize_keras_object(model)).encode("utf-8")
    weights = h5_weights.weights_to_bytes(model, include_optimizer=include_optimizer)
    assets = _saved_assets(model)
    if zipped:
        archive.write_archive(path, config, weights, assets)
    else:
        archive.write_folder(path, config, weights, assets)


def _asset_layers(model) -> list:
    """``(archive folder, layer)`` for each layer with Keras's ``save_assets``/``load_assets``
    hooks, the folder being ``assets/<the path of its weights group>/`` as Keras writes it."""
    found, seen = [], set()
    for entry in h5_weights.weight_entries(model, include_optimizer=False):
        if id(entry.owner) in seen:
            continue
        seen.add(id(entry.owner))
        if callable(getattr(entry.owner, "save_assets", None)) or callable(
            getattr(entry.owner, "load_assets", None)
        ):
            found.append((f"{archive.ASSETS_DIRNAME}/{entry.path}/", entry.owner))
    return found


def _saved_assets(model) -> dict:
    """What each layer's ``save_assets(folder)`` writes into a fresh temporary folder, as
    ``{"assets/<layer path>/<file>": bytes}`` (regular files only)."""
    assets = {}
    for prefix, layer in _asset_layers(model):
        save = getattr(layer, "save_assets", None)
        if not callable(save):
            continue
        with tempfile.TemporaryDirectory(prefix="cnnkit-assets-") as folder:
            save(folder)
            for root, folders, names in os.walk(folder):
                folders.sort()
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if os.path.islink(full) or not os.path.isfile(full):
                        continue
                    relative = os.path.relpath(full, folder).replace(os.sep, "/")
                    with open(full, "rb") as f:
                        assets[prefix + relative] = f.read()
    return assets


def _load_assets(model, path: str) -> set:
    """Give each layer with ``load_assets(folder)`` its assets from the file at ``path``,
    written into a fresh temporary folder it reads (removed afterwards); returns the asset
    names given out. A layer without assets in the file is not called, as for a vocabulary."""
    layers = [
        (prefix, layer)
        for prefix, layer in _asset_layers(model)
        if callable(getattr(layer, "load_assets", None))
    ]
    data = archive.read_assets(path, [prefix for prefix, _ in layers])
    for prefix, layer in layers:
        mine = {name[len(prefix) :]: blob for name, blob in data.items() if name.startswith(prefix)}
        if not mine:
            continue
        with tempfile.TemporaryDirectory(prefix="cnnkit-assets-") as folder:
            for relative, blob in mine.items():  # names checked: no "..", not absolute
                target = os.path.join(folder, *relative.split("/"))
                try:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "xb") as f:
                        f.write(blob)
                except OSError as err:  # e.g. a file and a folder of the same name
                    raise ValueError(
                        f"{path!r}: the asset {prefix + relative!r} cannot be given to layer "
                        f"{layer.name!r}: {err.strerror or err}"
                    ) from None
            layer.load_assets(folder)
    return set(data)


# What the standard library and h5py raise on damaged bytes; reported as one ValueError.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError)
_HDF5_ERRORS = (RuntimeError, KeyError, OverflowError, OSError, EOFError)
_CONFIG_ERRORS = (
    KeyError,
    AttributeError,
    IndexError,
    NotImplementedError,
    MemoryError,
    OverflowError,
)


@contextlib.contextmanager
def _as_value_error(path: str, what: str, errors: tuple):
    """Turn a reader's low-level exceptions on a damaged file into a ValueError naming it."""
    try:
        yield
    except FileNotFoundError:
        raise
    except errors as err:
        if type(err) is ValueError and path in str(err):
            raise
        detail = str(err) or type(err).__name__
        if isinstance(err, MemoryError):
            detail = "it asks for more memory than this machine has"
        raise ValueError(f"{path!r}: {what} ({type(err).__name__}: {detail})") from err


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved with ``save_model``/``model.save`` (by cnnkit or by Keras 3).

    Args:
        filepath: a ``.keras`` file or an unzipped model folder.
        custom_objects: ``{name: class_or_function}`` for custom layers, losses, metrics...
        compile: compile the model as it was saved and restore the optimizer state.
        safe_mode: refuse code stored in the file (always the case in cnnkit).

    Returns:
        The model, with its weights (and, with ``compile=True``, its optimizer state).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a ``.keras`` file, an unsafe or damaged archive, weights that do not
            fit the model, or a refused object (lambda, ``Lambda`` layer).
        TypeError: a class that cannot be found (the message says where it looked).
    """
    path = _fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"File not found: filepath={path}. Please ensure the file is an accessible "
            "`.keras` zip file."
        )
    if not os.path.isdir(path) and not path.endswith(".keras"):
        if path.endswith((".h5", ".hdf5")):
            raise ValueError(
                "cnnkit does not read legacy HDF5 model files (`.h5`/`.hdf5`); load the model "
                "in Keras and save it as `.keras`. For weights files use "
                f"`model.load_weights(...)` with a `.weights.h5` file. Received: filepath={path}"
            )
        raise ValueError(
            f"File format not supported: filepath={path}. cnnkit reads `.keras` files "
            "(Keras 3's format)."
        )
    with _as_value_error(path, "damaged or unsupported archive", _ARCHIVE_ERRORS + (OSError,)):
        files = archive.read_model_files(path)
    config = dict(files.config)
    if not compile:
        config["compile_config"] = None
    if files.weights is None:
        raise ValueError(f"{path!r} has no {archive.WEIGHTS_FILENAME!r}: it holds no weights.")
    try:
        with _as_value_error(path, "invalid model config", _CONFIG_ERRORS):
            model = deserialize_keras_object(
                config, custom_objects=custom_objects, safe_mode=safe_mode
            )
    except RecursionError:
        raise ValueError(f"{path!r}: the model config is nested too deeply.") from None
    except ValueError as err:  # name the file the user gave
        if path in str(err):
            raise
        raise ValueError(f"{path!r}: {err}") from err
    _load_vocabularies(model, files.vocabularies, path)
    with _as_value_error(path, "damaged or unsupported archive", _ARCHIVE_ERRORS):
        given = _load_assets(model, path)
    unread = [name for name in files.assets if name not in files.vocabularies and name not in given]
    if unread:
        warnings.warn(
            f"{path!r} holds assets ({unread[:3]}...) that no layer of the model reads "
            "(cnnkit's lookup layers read their vocabulary; other layers need Keras's "
            "`load_assets(folder)`).",
            stacklevel=2,
        )
    _load_weights_bytes(model, files.weights, path, skip_mismatch=False, load_optimizer=compile)
    return model


def _load_vocabularies(model, vocabularies: dict, path: str) -> None:
    """Give each layer that reads a vocabulary asset the one Keras stored in the archive.

    Keras writes an adapted layer's vocabulary to ``assets/<layer path>/vocabulary.txt``, the
    layer path being that of its weights group; the layer reads it
    (``_load_vocabulary_asset(text)``, as Keras's ``load_assets``).
    """

    if not vocabularies:
        return
    for entry in h5_weights.weight_entries(model, include_optimizer=False):
        load = getattr(entry.owner, "_load_vocabulary_asset", None)
        name = f"{archive.ASSETS_DIRNAME}/{entry.path}/{archive.VOCABULARY_ASSET}"
        if load is None or name not in vocabularies:
            continue
        try:
            load(vocabularies[name])
        except ValueError as err:
            raise ValueError(f"{path!r}: invalid vocabulary asset {name!r}: {err}") from None


def _load_weights_bytes(model, data: bytes, path: str, skip_mismatch: bool, load_optimizer: bool):
    import h5py

    try:
        h5file = h5py.File(io.BytesIO(data), "r")
    except (ValueError, *_HDF5_ERRORS) as err:
        raise ValueError(f"{path!r}: the weights are not a valid HDF5 file: {err}") from None
    with h5file, _as_value_error(path, "damaged weights", _HDF5_ERRORS + (ValueError,)):
        h5_weights.load_weights_from_h5(
            h5file, model, skip_mismatch=skip_mismatch, load_optimizer=load_optimizer
        )


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Save the model's weights (and optimizer state) to a ``.weights.h5`` file.

    Raises:
        ValueError: the name does not end in ``.weights.h5``.
        FileExistsError: when ``overwrite=False`` and the file exists.
    """
    path = h5_weights.check_weights_filepath(_fspath(filepath))
    _check_overwrite(path, overwrite)
    if not distribution.is_chief():
        return  # process 0 alone writes (see save_model)
    data = h5_weights.weights_to_bytes(model)
    archive.write_atomically(path, lambda f: f.write(data))


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """Load weights from a ``.weights.h5`` file or from the weights of a ``.keras`` file.

    Args:
        model: the model to fill; it must be built.
        filepath: a ``.weights.h5`` or ``.keras`` file, or a Keras 2 ``.h5``/``.hdf5``
            weights file (loaded layer by layer in order, or by layer name with
            ``by_name=True``, as Keras does; see :mod:`cnnkit.saving.legacy_h5`).
        skip_mismatch: warn about and skip layers whose variables do not match, instead of
            raising.

    Raises:
        ValueError: for another extension, or mismatched weights (naming the layer and the
            shapes) unless ``skip_mismatch``.
    """
    path = _fspath(filepath)
    if path.endswith((".h5", ".hdf5")) and not path.endswith(h5_weights.WEIGHTS_SUFFIX):
        by_name = kwargs.pop("by_name", False)
        if kwargs:
            raise ValueError(f"Invalid keyword arguments: {kwargs}")
        legacy_h5.load_weights(model, path, by_name=by_name, skip_mismatch=skip_mismatch)
        return
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if path.endswith(".keras"):
        with _as_value_error(path, "damaged or unsupported archive", _ARCHIVE_ERRORS + (OSError,)):
            files = archive.read_model_files(path, need_config=False)
        if files.weights is None:
            raise ValueError(f"{path!r} has no {archive.WEIGHTS_FILENAME!r}.")
        _load_weights_bytes(model, files.weights, path, skip_mismatch, load_optimizer=True)
        return
    if not path.endswith(h5_weights.WEIGHTS_SUFFIX):
        raise ValueError(
            "File format not supported: the filename must end in `.weights.h5`, `.keras` or "
            "`.h5`. "
            f"Received: filepath={path}"
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"File not found: filepath={path}.")
    import h5py

    with open_regular(path, "weights file") as f:
        try:
            h5file = h5py.File(f, "r")
        except (ValueError, *_HDF5_ERRORS) as err:
            raise ValueError(f"{path!r} is not a valid HDF5 weights file: {err}") from None
        with h5file, _as_value_error(path, "damaged weights", _HDF5_ERRORS + (ValueError,)):
            h5_weights.load_weights_from_h5(h5file, model, skip_mismatch=skip_mismatch)
