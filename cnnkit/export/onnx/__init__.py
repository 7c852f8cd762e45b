"""ONNX export: a functional or sequential model as an ONNX graph for inference.

:func:`export_onnx` walks the model's layer calls in order and writes one or a few ONNX
nodes per layer with the ``onnx.helper`` API; ``Model.export(path, format="onnx")`` calls it.
The exported graph computes what ``model.predict`` computes (inference mode: dropout and the
random augmentation layers are the identity, BatchNormalization uses its moving statistics).

Inputs and outputs have Keras's shapes, channels last, with a dynamic batch dimension named
``"batch"``; unknown sizes (``Input(shape=(None, None, 3))``) stay dynamic. Input names are
the ``Input`` layers' names, output names the names of the layers that produce them.

**Layout.** ONNX's Conv, ConvTranspose, MaxPool, AveragePool and Resize take channels-first
tensors (NCHW, NCW), cnnkit's layers channels-last ones. Every tensor of the graph being built
carries a layout tag; a layer that needs channels-first input gets one ``Transpose`` if its
input is channels-last, and its output stays channels-first. Element-wise layers (activations,
BatchNormalization, merges of same-layout tensors), padding, cropping and global pooling work in
either layout, so a chain ``Conv2D → BatchNormalization → relu → MaxPooling2D → Conv2D`` has
a single transpose at its start. Layers that depend on the order of the axes (``Flatten``,
``Reshape``, ``Dense``, recurrent layers) and the model's outputs get channels-last tensors back
(one ``Transpose``), so ``Flatten`` keeps Keras's channels-last order.

**Padding.** ``"same"`` convolutions and pools pad as TensorFlow does (the odd pixel at the
bottom/right) with explicit ``pads``; where the input size is unknown and the stride is above 1
(the padding then depends on the size) the node uses ``auto_pad="SAME_UPPER"``, which is the
same rule. Average pools use ``count_include_pad=0``: the mean of the real pixels, as Keras.

**Recurrent layers** become ONNX ``RNN``, ``LSTM`` and ``GRU`` nodes, time-major inside. The
weights are converted from Keras's gate order (LSTM ``i, f, c, o``; GRU ``z, r, h``) to ONNX's
(``i, o, f, c``; ``z, r, h``); a ``reset_after=True`` GRU is ``linear_before_reset=1`` with its
two biases as ONNX's ``Wb`` and ``Rb``. ``go_backwards`` reverses the sequence before the node
(the outputs are then in processing order, as Keras returns them). ``return_state`` and
``initial_state`` (states from other layers) are supported.

Supported layers: see :func:`supported_layers`. Models used as layers (functional or
sequential) are inlined. Anything else raises ``NotImplementedError`` naming the layer, its
class and the supported layers.

Not exported (a clear ``NotImplementedError``): timestep masks reaching a layer that uses them
(``Embedding(mask_zero=True)`` or ``Masking`` before a recurrent layer or
``GlobalAveragePooling1D``), ``stateful`` recurrent layers, custom activation functions,
subclassed models with their own ``call``, string inputs (``TextVectorization``), and
``Resizing(crop_to_aspect_ratio=True)``/``pad_to_aspect_ratio`` and ``RandomCrop`` on inputs of
unknown height or width. Only float32 models are exported.

Deviations from ``predict``: ``Embedding`` indices are not range-checked (ONNX ``Gather``
wraps negative indices and fails on too large ones instead of cnnkit's ValueError); the
numerics agree to float32 rounding (about 1e-6 relative), not bit for bit.

Opsets 13 to the newest one the installed ``onnx`` knows are supported (default 17); from
opset 20 GELU is ONNX's ``Gelu`` node, before it ``0.5 x (1 + erf(x / sqrt 2))``.

Example:
    >>> "Conv2D" in supported_layers() and "LSTM" in supported_layers()
    True
    >>> from cnnkit.layers import Input, Conv2D, Flatten, Dense
    >>> from cnnkit.models import Model
    >>> i = Input(shape=(8, 8, 3))
    >>> model = Model(i, Dense(2)(Flatten()(Conv2D(4, 3)(i))))
    >>> model.export("model.onnx", format="onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np

from cnnkit import saving
from cnnkit.export.onnx.graph import _TWO_GIB, DEFAULT_OPSET, MIN_OPSET
from cnnkit.export.onnx.model import _build_model, supported_layers
from cnnkit.io_utils import atomic_write

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "export_command", "export_onnx", "supported_layers"]

# ---------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------


def export_onnx(model, filepath, opset: int = DEFAULT_OPSET):
    """Write ``model`` as an ONNX file for inference.

    Args:
        model: a built functional or ``Sequential`` model (models used as layers are inlined).
        filepath: where to write, usually ending in ``.onnx``; written atomically.
        opset: the ONNX opset of the default domain, from 13 to the newest one the installed
            ``onnx`` supports (default 17).

    Returns:
        The ``onnx.ModelProto`` written (already checked with ``onnx.checker.check_model``).

    Raises:
        ImportError: when the ``onnx`` package is not installed.
        ValueError: an unbuilt model, an opset out of range, a model that is not float32, or a
            model over 2 GB.
        NotImplementedError: a layer (or a layer option) with no ONNX conversion; the message
            names the layer, its class and the supported layers.

    Example:
        >>> from cnnkit.layers import Input, Dense
        >>> from cnnkit.models import Model
        >>> i = Input(shape=(4,))
        >>> proto = export_onnx(Model(i, Dense(2)(i)), "dense.onnx")  # doctest: +SKIP
        >>> [n.op_type for n in proto.graph.node]  # doctest: +SKIP
        ['Gemm', 'Identity']
    """
    onnx = _import_onnx()
    proto = _build_model(onnx, model, _check_opset(onnx, opset))
    if proto.ByteSize() >= _TWO_GIB:
        raise ValueError(
            f"Model {model.name!r} is over 2 GB as ONNX ({proto.ByteSize():,} bytes); files with "
            "external weight data are not supported."
        )
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(os.fspath(filepath)) as f:
        f.write(proto.SerializeToString())
    return proto


def export_command(model_path, out_path, opset: int = DEFAULT_OPSET) -> int:
    """``cnnkit export MODEL OUT.onnx``: load a saved model and write it as ONNX.

    Args:
        model_path: a model file readable by ``cnnkit.saving.load_model`` (``.keras``).
        out_path: the ONNX file to write.
        opset: as :func:`export_onnx`.

    Returns:
        0, after printing one line about the file written.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ImportError, ValueError: as :func:`export_onnx`.
    """
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {path!r}")
    model = saving.load_model(path)
    proto = export_onnx(model, out_path, opset=opset)
    print(
        f"Exported {path} to {os.fspath(out_path)} (ONNX opset {opset}, "
        f"{len(proto.graph.node)} nodes)."
    )
    return 0


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ImportError(
            "ONNX export needs the `onnx` package: pip install 'cnnkit[onnx]'."
        ) from None
    return onnx


def _check_opset(onnx, opset) -> int:
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise ValueError(f"Argument `opset` must be an int. Received: opset={opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"Invalid value for argument `opset`: expected {MIN_OPSET} to {newest} (the newest "
            f"the installed onnx {onnx.__version__} knows). Received: opset={opset}"
        )
    return int(opset)
