"""Keras 2's ``.h5`` weights files (the format of Keras's published application weights).

Layout: the root's ``layer_names`` attribute lists the layers in order; each layer's group
has a ``weight_names`` attribute and one dataset per name (``conv1_conv/kernel:0``...), in the
layer's weight order (for batch normalisation: gamma, beta, moving mean, moving variance).
Weights are matched to the model by layer name, as Keras's ``by_name`` loading does, and
every declared shape is checked against the model's before anything is read or assigned.
"""

from __future__ import annotations

import os
import stat

import numpy as np

_MAX_BYTES = 1 << 31  # a declared weight larger than 2 GiB is refused before reading


def load_weights_by_name(model, path) -> None:
    """Assign the weights stored in the Keras 2 ``.h5`` file ``path`` to ``model``'s layers
    of the same names.

    Raises:
        ValueError: naming the file, if it is not a regular HDF5 weights file, lacks a layer
            of the model, or stores a weight of another shape (nothing is assigned then).
    """
    import h5py  # a runtime dependency, imported when a file is read

    path = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError("not a regular file")
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f  # a whole-model .h5
            names = [_text(n) for n in root.attrs.get("layer_names", [])]
            updates = []
            for layer in _layers_with_weights(model):
                if layer.name not in names:
                    raise ValueError(f"no weights for layer {layer.name!r}")
                group = root[layer.name]
                stored = [_text(n) for n in group.attrs.get("weight_names", [])]
                expected = [(np.shape(w.data), np.dtype(w.dtype)) for w in layer.weights]
                if len(stored) != len(expected):
                    raise ValueError(
                        f"layer {layer.name!r} has {len(expected)} weights, the file {len(stored)}"
                    )
                values = []
                for name, (shape, dtype) in zip(stored, expected):
                    dataset = group[name]
                    if tuple(dataset.shape) != tuple(shape):
                        raise ValueError(
                            f"weight {name!r} of layer {layer.name!r} has shape "
                            f"{tuple(dataset.shape)} in the file, {tuple(shape)} in the model"
                        )
                    # integer datasets are counters (Normalization's ``count``)
                    if dataset.dtype.kind not in "fiu" or dataset.size * 8 > _MAX_BYTES:
                        raise ValueError(f"weight {name!r} is not a numeric array of sane size")
                    values.append(np.asarray(dataset[()], dtype=dtype))
                updates.append((layer, values))
    except ValueError as err:
        raise ValueError(f"Could not load weights from {path!r}: {err}") from None
    except (OSError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"Could not load weights from {path!r}: not a readable Keras .h5 weights file "
            f"({type(err).__name__}: {err})"
        ) from None
    for layer, values in updates:
        layer.set_weights(values)


def _layers_with_weights(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
