"""Argument checks and plumbing shared by the ``cnnkit.applications`` builders.

Keras keeps the same helpers in ``keras.applications.imagenet_utils``: validate
``weights``/``include_top``/``pooling``/``classes``, resolve the input shape (with a
minimum size per architecture), accept an ``input_tensor``, and pool the features when
the classifier is left out.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from cnnkit.layers import GlobalAveragePooling2D, GlobalMaxPooling2D, Input, InputLayer, KerasTensor


def check_application_args(weights, include_top, pooling, classes) -> None:
    """Validate the arguments every ``keras.applications``-style builder shares.

    Raises:
        ValueError: ``weights`` is neither None nor the path of an existing weights file
            (``"imagenet"`` needs a download: pass the downloaded file's path instead),
            ``pooling`` is not None, ``"avg"`` or ``"max"``, or ``classes`` is not a
            positive integer.
    """
    if weights is not None:
        if weights == "imagenet":
            raise ValueError(
                "cnnkit does not download pretrained weights. Pass `weights=None` (random "
                "initialization) or the path of the architecture's Keras weights file on disk "
                "(e.g. weights='resnet50_weights_tf_dim_ordering_tf_kernels.h5'). "
                f"Received: weights={weights!r}"
            )
        if not isinstance(weights, (str, os.PathLike)) or not os.path.isfile(weights):
            raise ValueError(
                "The `weights` argument should be either `None` (random initialization) or "
                f"the path to the weights file to be loaded. Received: weights={weights!r}"
            )
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            "Invalid value for argument `pooling`. Expected one of None, 'avg', 'max'. "
            f"Received: pooling={pooling!r}"
        )
    if include_top and (
        isinstance(classes, bool) or not isinstance(classes, Integral) or classes < 1
    ):
        raise ValueError(
            "Invalid value for argument `classes`. Expected a strictly positive integer. "
            f"Received: classes={classes!r}"
        )


def application_input(
    weights, include_top, pooling, classes, input_shape, input_tensor, *, default_size,
    min_size, model, require_flatten=None,
):  # fmt: skip
    """The shared start of every builder: the arguments checked
    (:func:`check_application_args`), the input shape resolved (:func:`obtain_input_shape`)
    and the image input made (:func:`model_input`). Returns ``(image, inputs, shape)``.
    ``require_flatten`` (default ``include_top``) is False for a top that takes any size."""
    check_application_args(weights, include_top, pooling, classes)
    if require_flatten is None:
        require_flatten = include_top
    shape = obtain_input_shape(
        input_shape, input_tensor, default_size=default_size, min_size=min_size,
        require_flatten=require_flatten, model=model,
    )  # fmt: skip
    image, inputs = model_input(input_tensor, shape)
    return image, inputs, shape


def load_application_weights(model, weights):
    """``model`` with ``weights`` loaded: a ``.weights.h5`` or ``.keras`` file, or a Keras 2
    ``.h5`` weights file (Keras's published application weights), loaded layer by layer in
    order as Keras's ``load_weights`` does."""
    if weights is None:
        return model
    path = os.fspath(weights)
    if path.endswith((".weights.h5", ".keras", ".h5", ".hdf5")):
        model.load_weights(path)  # a legacy .h5 loads layer by layer in order, as in Keras
    else:
        raise ValueError(
            "The `weights` file must be a `.h5`, `.hdf5`, `.weights.h5` or `.keras` file. "
            f"Received: weights={weights!r}"
        )
    return model


def is_legacy_weights_file(weights) -> bool:
    """Whether ``weights`` names a Keras 2 ``.h5``/``.hdf5`` weights file (the format of
    Keras's published ImageNet weights), not a Keras 3 ``.weights.h5`` or ``.keras`` file."""
    if weights is None:
        return False
    path = os.fspath(weights)
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def obtain_input_shape(
    input_shape, input_tensor, *, default_size, min_size, require_flatten, model, channels=3
) -> tuple:
    """The image shape ``(height, width, channels)`` a builder works on, checked.

    Follows Keras's ``imagenet_utils.obtain_input_shape``: without ``input_shape``
    it is ``(default_size, default_size, channels)`` when the classifier needs a
    static shape (``require_flatten``), else ``(None, None, channels)``; a known
    height or width below ``min_size`` is an error. With ``input_tensor``, its
    shape is the one used (and ``input_shape``, if also given, must agree).

    Raises:
        ValueError: the shape is not three sizes, is smaller than ``min_size``, or
            has unknown sizes while ``require_flatten`` is set.
        TypeError: ``input_tensor`` is not a symbolic tensor.
    """
    if input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise TypeError(
                "Expected `input_tensor` to be a symbolic tensor (from `cnnkit.layers.Input` "
                f"or a layer called on one). Received: input_tensor={input_tensor!r}"
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                f"`input_shape` {tuple(input_shape)} does not match the shape of `input_tensor` "
                f"{tensor_shape}. Pass only one of them."
            )
        input_shape = tensor_shape
    if input_shape is None:
        size = default_size if require_flatten else None
        return (size, size, channels)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or not all(
        d is None or (isinstance(d, Integral) and not isinstance(d, bool) and d > 0)
        for d in input_shape
    ):
        raise ValueError(
            "`input_shape` must be a tuple of three positive integers (height, width, "
            f"channels). Received: input_shape={input_shape}"
        )
    if any(d is not None and d < min_size for d in input_shape[:2]):
        raise ValueError(
            f"Input size must be at least {min_size}x{min_size} for {model}. "
            f"Received: input_shape={input_shape}"
        )
    if require_flatten and None in input_shape:
        raise ValueError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def model_input(input_tensor, input_shape):
    """``(image_tensor, model_inputs)``: a new ``Input`` or ``input_tensor`` and its sources."""
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    sources, stack, seen = [], [input_tensor._keras_history[1]], set()
    while stack:  # walk back to the Input layers that feed `input_tensor`
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.layer, InputLayer):
            sources.append(node.output_tensors[0])
        else:
            stack.extend(node.parent_nodes)
    return input_tensor, sources[0] if len(sources) == 1 else sources


def pool_features(x, pooling, name=None):
    """Apply ``pooling`` (None, ``"avg"`` or ``"max"``) to a feature map, as Keras does;
    ``name`` names the pooling layer."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=name)(x)
    return x


# -- VGG16 and VGG19 ---------------------------------------------------------------------------


# -- ImageNet inputs and outputs ------------------------------------------------------------

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Scale a batch of RGB images (0-255) the way an ImageNet model was trained on them.

    Args:
        x: array ``(..., H, W, 3)`` (or channels first with ``data_format``), values 0-255.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        mode: ``"caffe"`` (RGB → BGR, minus the mean pixel), ``"tf"`` (to [-1, 1]) or
            ``"torch"`` (to [0, 1], minus the mean, over the standard deviation, per channel).

    Returns:
        A new float array (float32 for integer input); ``x`` is left unchanged.

    Example:
        >>> preprocess_input(np.full((1, 1, 1, 3), 255.0), mode="tf")
        array([[[[1., 1., 1.]]]])
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(
            "Invalid value for argument `mode`. Expected one of 'caffe', 'tf', 'torch'. "
            f"Received: mode={mode!r}"
        )
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Invalid value for argument `data_format`. Expected 'channels_last' or "
            f"'channels_first'. Received: data_format={data_format!r}"
        )
    x = np.asarray(x)
    x = x.astype("float32") if x.dtype.kind != "f" else x.copy()
    axis = -3 if data_format == "channels_first" and x.ndim >= 3 else -1
    if x.shape[axis] != 3:
        raise ValueError(f"Expected 3 colour channels on axis {axis}. Received shape {x.shape}")
    if mode == "tf":
        return x / x.dtype.type(127.5) - x.dtype.type(1.0)
    shape = [1] * x.ndim
    shape[axis] = 3
    if mode == "torch":
        mean = np.asarray(_TORCH_MEAN, x.dtype).reshape(shape)
        std = np.asarray(_TORCH_STD, x.dtype).reshape(shape)
        return (x / x.dtype.type(255.0) - mean) / std
    x = np.flip(x, axis=axis).copy()  # RGB -> BGR
    return x - np.asarray(_CAFFE_MEAN_BGR, x.dtype).reshape(shape)


CLASS_INDEX_FILE = "imagenet_class_index.json"


def decode_predictions(preds, top=5, class_index_path=None):
    """The ``top`` ImageNet classes of each row of ``preds``: ``(wnid, name, score)`` tuples.

    Reads Keras's ``imagenet_class_index.json`` (``{"0": ["n01440764", "tench"], ...}``)
    from ``class_index_path`` or, by default, ``~/.keras/models/`` or
    ``$CNNKIT_DATA_DIR``/``~/.cnnkit/datasets/``; it is never downloaded.

    Raises:
        ValueError: ``preds`` is not ``(samples, 1000)``, or the class index is missing or
            damaged (naming the file).
    """
    import json

    preds = np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, 1000)). Received array with shape: {preds.shape}"
        )
    path = class_index_path or _find_class_index()
    try:
        with open(path, "rb") as f:
            if not os.path.isfile(path) or os.fstat(f.fileno()).st_size > 1 << 20:
                raise ValueError("not a regular file under 1 MiB")
            index = json.loads(f.read().decode("utf-8"))
        classes = [tuple(index[str(i)]) for i in range(1000)]
        if not all(len(c) == 2 and all(isinstance(v, str) for v in c) for c in classes):
            raise ValueError("entries must be [wnid, name]")
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise ValueError(f"Could not read the ImageNet class index {path!r}: {err}") from None
    results = []
    for row in preds:
        best = np.argsort(row)[-top:][::-1]
        results.append([(*classes[i], float(row[i])) for i in best])
    return results


def _find_class_index() -> str:
    from cnnkit.datasets._files import cache_dir

    folders = [os.path.join(os.path.expanduser("~"), ".keras", "models"), cache_dir("imagenet")]
    for folder in folders:
        candidate = os.path.join(folder, CLASS_INDEX_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise ValueError(
        f"No {CLASS_INDEX_FILE} found in {' or '.join(folders)}; cnnkit does not download it. "
        "Put Keras's file there or pass `class_index_path=`."
    )
