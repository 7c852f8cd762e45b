"""Keras 2's ``.h5`` weights files (the format of Keras's published application weights).

Layout: the root (or its ``model_weights`` group, in a whole-model file) has a
``layer_names`` attribute listing the layers in order; each layer's group has a
``weight_names`` attribute and one dataset per name (``conv1_conv/kernel:0``...), in the
layer's weight order (for batch normalisation: gamma, beta, moving mean, moving variance).

As Keras's ``model.load_weights("x.h5")``, the layers with weights are matched in order
(topologically: the file's layers that store weights against the model's layers that have
them, in ``model.layers`` order), or by name with ``by_name=True``. Every declared shape is
checked against the model's before anything is read or assigned, and a damaged file is a
``ValueError`` naming it.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from cnnkit.io_utils import open_regular

_MAX_BYTES = 1 << 31  # a declared weight larger than 2 GiB is refused before reading


def load_weights(model, path, by_name: bool = False, skip_mismatch: bool = False) -> None:
    """Assign the weights stored in the Keras 2 ``.h5`` file ``path`` to ``model``.

    Args:
        model: a built model.
        path: the ``.h5`` file.
        by_name: match layers by name (layers absent from the file keep their weights)
            instead of by order.
        skip_mismatch: with ``by_name``, warn about and skip layers whose weights have
            another count or shape, instead of raising.

    Raises:
        ValueError: naming the file, if it is not a regular HDF5 weights file, stores
            another number of layers (by order) or lacks a layer, or stores a weight of
            another shape (nothing is assigned then).
    """
    import h5py  # a runtime dependency, imported when a file is read

    path = os.fspath(path)
    try:
        with open_regular(path, "weights file") as f, h5py.File(f, "r") as h5:
            root = h5["model_weights"] if "model_weights" in h5 else h5
            stored = [n for n in map(_text, root.attrs.get("layer_names", [])) if _names(root[n])]
            layers = [layer for layer in model.layers if layer.weights]
            if by_name:
                pairs = [(layer, layer.name) for layer in layers if layer.name in stored]
            else:
                if len(stored) != len(layers):
                    raise ValueError(
                        f"layer count mismatch: the model has {len(layers)} layers with "
                        f"weights, the file {len(stored)}"
                    )
                pairs = list(zip(layers, stored))
            updates = []
            for layer, name in pairs:
                try:
                    updates.append((layer, _read_layer(root[name], layer, name)))
                except ValueError as err:
                    if not (by_name and skip_mismatch):
                        raise
                    warnings.warn(f"Skipping layer {layer.name!r}: {err}", stacklevel=2)
    except ValueError as err:
        raise ValueError(f"Could not load weights from {path!r}: {err}") from None
    except (OSError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"Could not load weights from {path!r}: not a readable Keras .h5 weights file "
            f"({type(err).__name__}: {err})"
        ) from None
    for layer, values in updates:
        layer.set_weights(values)


def _read_layer(group, layer, name) -> list:
    """The arrays a layer's group stores, checked against ``layer``'s weights."""
    names = _names(group)
    expected = [(np.shape(w.data), np.dtype(w.dtype)) for w in layer.weights]
    where = f"layer {layer.name!r}" + ("" if name == layer.name else f" (file layer {name!r})")
    if len(names) != len(expected):
        raise ValueError(f"{where} has {len(expected)} weights, the file {len(names)}")
    values = []
    for weight_name, (shape, dtype) in zip(names, expected):
        dataset = group[weight_name]
        if tuple(dataset.shape) != tuple(shape):
            raise ValueError(
                f"weight {weight_name!r} of {where} has shape {tuple(dataset.shape)} in the "
                f"file, {tuple(shape)} in the model"
            )
        # integer datasets are counters (Normalization's ``count``, int64 in Keras 2's files)
        if dataset.dtype.kind not in "fiu" or dataset.size * 8 > _MAX_BYTES:
            raise ValueError(f"weight {weight_name!r} is not a numeric array of sane size")
        values.append(np.asarray(dataset[()], dtype=dtype))
    return values


def _names(group) -> list[str]:
    return [_text(n) for n in group.attrs.get("weight_names", [])]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
