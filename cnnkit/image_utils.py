"""``keras.utils`` image helpers: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``.

They convert between image files, Pillow images and NumPy arrays as Keras 3 does
(channels last by default, ``float32`` arrays, values 0-255). Pillow is imported when a
function runs, not with ``cnnkit``.

Example:
    >>> import numpy as np
    >>> x = np.arange(12, dtype="float32").reshape(2, 2, 3)
    >>> img = array_to_img(x, scale=False)
    >>> img.size, img.mode
    ((2, 2), 'RGB')
    >>> img_to_array(img).shape
    (2, 2, 3)
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from cnnkit import backend

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow is a test dependency
        raise ImportError(
            "Could not import PIL.Image. The use of `load_img` requires PIL."
        ) from err
    return Image


def _data_format(data_format):
    data_format = data_format or backend.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array ``(height, width, channels)`` (1, 3 or 4 channels) as a Pillow image.

    Args:
        x: the array (channels last, or first with ``data_format="channels_first"``).
        data_format: ``"channels_last"`` or ``"channels_first"``; default the backend's.
        scale: rescale the values to 0-255 (``x - min``, then ``/ max * 255``).
        dtype: the array's working dtype (default ``floatx``).

    Raises:
        ValueError: for an array that is not 3-D or has another channel count.
    """
    image = _pil()
    data_format = _data_format(data_format)
    x = np.asarray(getattr(x, "data", x), dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x = x / x_max
        x = x * 255
    channels = x.shape[2]
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ValueError(f"Unsupported channel number: {channels}")
    x = x.astype("uint8")
    if channels == 1:
        x = x[:, :, 0]
    return image.fromarray(x, modes[channels])


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image (or array-like) as a 3-D ``float32`` array, channels last by default.

    Raises:
        ValueError: for an image that is not 2-D (grey) or 3-D.
    """
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None] if data_format == "channels_last" else x[None, :, :]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write an image array to ``path`` (``file_format`` or the extension picks the format).

    An RGBA image saved as JPEG loses its alpha channel, with a warning, as Keras.
    """
    data_format = _data_format(data_format)
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format == "jpg" or file_format == "jpeg"):
        warnings.warn(
            "The JPG format does not support RGBA images, converting to RGB.", stacklevel=2
        )
        img = img.convert("RGB")
    if file_format == "jpg":
        file_format = "jpeg"
    img.save(path, format=file_format, **kwargs)


def load_img(
    path,
    color_mode="rgb",
    target_size=None,
    interpolation="nearest",
    keep_aspect_ratio=False,
):
    """Read an image file (a path or a binary file object) into a Pillow image.

    Args:
        path: the file path, or an ``io.BytesIO``.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``.
        target_size: ``(height, width)`` to resize to, or None to keep the size.
        interpolation: ``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"hamming"``,
            ``"box"`` or ``"lanczos"``.
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.

    Raises:
        ValueError: for a bad argument, or a file that is not a readable image (naming it).
    """
    image = _pil()
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(
            f"color_mode must be 'grayscale', 'rgb' or 'rgba'. Received: color_mode={color_mode!r}"
        )
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"Invalid interpolation method {interpolation!r}. Supported methods are "
            f"{', '.join(_INTERPOLATIONS)}"
        )
    if isinstance(path, io.BytesIO):
        source, label = path, "<BytesIO>"
    elif isinstance(path, (str, bytes, os.PathLike)):
        label = os.fspath(path)
        source = label
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    try:
        img = image.open(source)
        img.load()
    except (OSError, image.UnidentifiedImageError, image.DecompressionBombError) as err:
        raise ValueError(f"Cannot read the image file {label!r}: {err}") from None
    target = {"grayscale": ("L", "I;16", "I"), "rgb": ("RGB",), "rgba": ("RGBA",)}[color_mode]
    if img.mode not in target:
        img = img.convert({"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}[color_mode])
    if target_size is not None:
        height, width = (int(v) for v in target_size)
        if img.size != (width, height):
            resample = getattr(image.Resampling, interpolation.upper())
            if keep_aspect_ratio:
                w, h = img.size
                crop_height = (w * height) // width
                crop_width = (h * width) // height
                crop_height = min(h, crop_height)
                crop_width = min(w, crop_width)
                left = (w - crop_width) // 2
                top = (h - crop_height) // 2
                img = img.crop((left, top, left + crop_width, top + crop_height))
            img = img.resize((width, height), resample)
    return img
