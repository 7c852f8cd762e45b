"""Image files and arrays, through Pillow: ``load_img``, ``img_to_array``, ``array_to_img``,
``save_img`` and ``smart_resize``, with Keras 3's arguments and defaults.

Pillow is imported on first use (``pip install pillow``). Arrays are ``(height, width,
channels)`` (``data_format="channels_first"``: ``(channels, height, width)``).

Example:
    >>> import numpy as np
    >>> img = array_to_img(np.zeros((4, 6, 3)) + [0.0, 128.0, 255.0], scale=False)
    >>> img.size, img.mode
    ((6, 4), 'RGB')
    >>> img_to_array(img)[0, 0]
    array([  0., 128., 255.], dtype=float32)
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np

from cnnkit import backend

_COLOR_MODES = ("grayscale", "rgb", "rgba")


def pil_image():
    """The ``PIL.Image`` module, with a clear error when Pillow is missing."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dev dependency
        raise ImportError(
            "Could not import PIL.Image. Reading and writing image files needs Pillow: "
            "`pip install pillow`."
        ) from None
    return Image


def _resampling(interpolation: str):
    image = pil_image()
    methods = {
        "nearest": image.Resampling.NEAREST,
        "bilinear": image.Resampling.BILINEAR,
        "bicubic": image.Resampling.BICUBIC,
        "hamming": image.Resampling.HAMMING,
        "box": image.Resampling.BOX,
        "lanczos": image.Resampling.LANCZOS,
    }
    if interpolation not in methods:
        raise ValueError(
            f"Invalid interpolation method {interpolation} specified. Supported methods are "
            f"{', '.join(methods)}"
        )
    return methods[interpolation]


def _data_format(data_format) -> str:
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format!r}"
        )
    return data_format


def _check_color_mode(color_mode) -> None:
    if color_mode not in _COLOR_MODES:
        raise ValueError(
            f"`color_mode` must be one of {_COLOR_MODES}. Received: color_mode={color_mode!r}"
        )


def open_image(path, color_mode: str = "rgb"):
    """The decoded first frame of the image file at ``path`` in ``color_mode`` (a PIL image).

    Raises:
        ValueError: naming the file, when it is not an image Pillow can decode.
    """
    image = pil_image()
    try:
        with image.open(path) as img:
            img.load()
            if color_mode == "grayscale":
                mode = img.mode if img.mode in ("L", "I;16", "I") else "L"
            else:
                mode = color_mode.upper()
            return img.convert(mode) if img.mode != mode else img.copy()
    except (OSError, SyntaxError, ValueError, image.DecompressionBombError) as err:
        raise ValueError(f"Could not decode the image file {os.fspath(path)!r}: {err}") from None


def load_img(
    path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False
):
    """Load an image file as a PIL image.

    Args:
        path: a path (str or ``pathlib.Path``) or an ``io.BytesIO``.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``.
        target_size: ``None`` (the file's size) or ``(height, width)``.
        interpolation: Pillow's resampling: ``"nearest"``, ``"bilinear"``, ``"bicubic"``,
            ``"hamming"``, ``"box"`` or ``"lanczos"``.
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing.

    Returns:
        A PIL image.

    Raises:
        ValueError: for a bad ``color_mode``/``interpolation`` or an undecodable file.
        TypeError: for a ``path`` of another type.
    """
    _check_color_mode(color_mode)
    if isinstance(path, pathlib.Path):
        path = str(path.resolve())
    if not isinstance(path, (io.BytesIO, str, bytes)):
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    img = open_image(path, color_mode)
    if target_size is None:
        return img
    width_height = (int(target_size[1]), int(target_size[0]))
    if img.size == width_height:
        return img
    resample = _resampling(interpolation)
    if not keep_aspect_ratio:
        return img.resize(width_height, resample)
    width, height = img.size
    crop_h = min(height, (width * width_height[1]) // width_height[0])
    crop_w = min(width, (height * width_height[0]) // width_height[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(width_height, resample, box=[left, top, left + crop_w, top + crop_h])


def img_to_array(img, data_format=None, dtype=None) -> np.ndarray:
    """A PIL image (or array) as a ``(height, width, channels)`` array of ``dtype``
    (default ``backend.floatx()``)."""
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or backend.floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A ``(height, width, 1|3|4)`` array as a PIL image (``L``, ``RGB`` or ``RGBA``).

    With ``scale`` the values are stretched to ``[0, 255]`` (minimum to 0, maximum to 255).
    """
    data_format = _data_format(data_format)
    x = np.array(x, dtype=dtype or backend.floatx())
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    image = pil_image()
    channels = x.shape[2]
    if channels in (3, 4):
        return image.fromarray(x.astype("uint8"), "RGBA" if channels == 4 else "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs) -> None:
    """Save an image array to ``path`` (format from ``file_format`` or the extension)."""
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            "The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2
        )
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last"):
    """Resize images to ``size`` without distortion: crop the largest centred window with
    the target aspect ratio, then resize (bilinear or nearest, TensorFlow's sampling).

    Args:
        x: ``(height, width, channels)`` or ``(batch, height, width, channels)`` array.
        size: ``(height, width)``.

    Returns:
        A float array of the resized image(s).
    """
    from cnnkit.autodiff import no_grad
    from cnnkit.kernels.resize import resize

    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(
            "Expected an image array with shape `(height, width, channels)`, or "
            "`(batch_size, height, width, channels)`, but got input with incorrect rank, "
            f"of shape {x.shape}."
        )
    channels_first = _data_format(data_format) == "channels_first"
    if channels_first:
        x = np.moveaxis(x, -3, -1)
    if x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    with no_grad():
        out = np.asarray(
            resize(x, size, interpolation=interpolation, crop_to_aspect_ratio=True).data
        )
    return np.moveaxis(out, -1, -3) if channels_first else out
