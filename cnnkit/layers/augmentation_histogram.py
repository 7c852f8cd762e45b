"""Histogram-based contrast layers (Keras 3): ``AutoContrast``, ``Equalization`` and
``ContrastLimitedAdaptiveHistogramEqualization``.

Unlike the random augmentations these are deterministic and apply in training and at
inference alike. Each works per image and per channel in the 8-bit scale: the images are
mapped from ``value_range`` to ``[0, 255]`` and back. The histograms of a whole batch are
counted with one ``bincount`` over ``(image, channel, bin)`` keys, with no loop over images or
pixels. They compute on arrays: no gradient with respect to the input.

Deviation from Keras 3.15's code: Keras's ``Equalization`` counts one histogram per channel
over the whole batch (so an image's output depends on the other images) and is the identity
at inference; here each image is equalized on its own, in training and inference, as Keras's
documentation says ("At inference time, the equalization is consistently applied"). The two
agree on a batch of one image.

Example:
    >>> import numpy as np
    >>> x = np.array([[[[50.0], [100.0], [150.0]]]], "float32")
    >>> AutoContrast()(x).numpy().ravel()
    array([  0. , 127.5, 255. ], dtype=float32)
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.backend import xp
from cnnkit.layers.augmentation import _NoInputGradient, _RandomImageLayer, _value_range
from cnnkit.layers.augmentation_intensity import _rescale
from cnnkit.layers.base import standardize_data_format

_LEVELS = (0, 255)


class _HistogramLayer(_RandomImageLayer):
    """Deterministic: applied whatever ``training`` is; no ``seed``."""

    samplewise = True

    def __init__(self, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(seed=None, **kwargs)
        self.value_range = _value_range(value_range)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs, training=True):
        self._check_rank(inputs.shape)
        return _NoInputGradient.apply(inputs, compute=self._augment_any, layer_name=self.name)

    def _augment(self, images):
        if images.size == 0:
            return images
        levels = _rescale(images, self.value_range, _LEVELS).astype(images.dtype)
        out = self._map_levels(levels)
        return _rescale(out, _LEVELS, self.value_range).astype(images.dtype)

    def _map_levels(self, levels):  # pragma: no cover - abstract
        """``(N, H, W, C)`` values in ``[0, 255]`` -> the same shape."""
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        del config["seed"]
        return {**config, "value_range": self.value_range, "data_format": self.data_format}


def _channel_keys(n, c, bins):
    """``(N, 1, 1, C)`` offsets of each (image, channel) histogram in a flat bin array."""
    return ((np.arange(n)[:, None] * c + np.arange(c)[None, :]) * bins).reshape(n, 1, 1, c)


class AutoContrast(_HistogramLayer):
    """Stretches each channel of each image to the whole ``value_range``.

    In the ``[0, 255]`` scale, with ``lo`` and ``hi`` the channel's minimum and maximum over
    the image: ``out = clip((x - lo) · 255 / (hi - lo), 0, 255)``. A constant channel is left
    unchanged. Applied in training and at inference.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[0.2], [0.3]], [[0.4], [0.6]]]], "float32")
        >>> AutoContrast(value_range=(0, 1))(x).numpy().ravel().round(4)
        array([0.  , 0.25, 0.5 , 1.  ], dtype=float32)
    """

    def _map_levels(self, levels):
        low = levels.min(axis=(1, 2), keepdims=True)
        span = levels.max(axis=(1, 2), keepdims=True) - low
        flat = span <= 0
        scale = 255.0 / xp.where(flat, 1.0, span).astype(levels.dtype)
        out = xp.clip(levels * scale - low * scale, 0.0, 255.0)
        return xp.where(flat, levels, out)


class Equalization(_HistogramLayer):
    """Histogram equalization of each channel of each image (applied at inference too).

    In the ``[0, 255]`` scale, values fall in ``bins`` bins (``int(x · (bins - 1) / 255)``);
    with ``cdf`` the cumulative histogram and ``cdf_min`` its first non-zero value, bin ``k``
    maps to ``round((cdf[k] - cdf_min) · 255 / (cdf[-1] - cdf_min))``. A channel with values
    in a single bin is left unchanged.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        bins: the number of histogram bins, a positive int (default 256).
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: a non-positive ``bins`` or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[10.0], [10.0], [20.0], [30.0]]]], "float32")
        >>> Equalization()(x).numpy().ravel()
        array([  0.,   0., 128., 255.], dtype=float32)
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(value_range, data_format, **kwargs)
        if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
            raise ValueError(
                "Invalid value for argument `bins`. Expected a positive integer. "
                f"Received: bins={bins!r}"
            )
        self.bins = int(bins)

    def _map_levels(self, levels):
        n, _, _, c = levels.shape
        bins = self.bins
        keys = _channel_keys(n, c, bins)  # (N, 1, 1, C)
        index = xp.clip((levels * (bins - 1) / 255).astype(np.int32), 0, bins - 1)
        hist = np.bincount((keys + index).ravel(), minlength=n * c * bins).reshape(n, c, bins)
        cdf = np.cumsum(hist, axis=-1)
        cdf_min = np.take_along_axis(cdf, np.argmax(cdf > 0, axis=-1)[..., None], axis=-1)
        denominator = cdf[..., -1:] - cdf_min
        denominator = np.where(denominator == 0, 1, denominator).astype(np.float32)
        table = ((cdf - cdf_min) * 255).astype(np.float32) / denominator
        table = np.clip(np.round(table), 0, 255).astype(levels.dtype)  # (N, C, bins)
        # Keras looks values up with a second rounding of the same index:
        lookup = xp.clip((levels / 255.0) * (bins - 1), 0, bins - 1).astype(np.int32)
        out = xp.asarray(table).reshape(-1)[keys + lookup]
        single_bin = np.count_nonzero(hist, axis=-1) <= 1  # (N, C)
        return xp.where(xp.asarray(single_bin)[:, None, None, :], levels, out)

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


class ContrastLimitedAdaptiveHistogramEqualization(_HistogramLayer):
    """Contrast-limited adaptive histogram equalization (CLAHE), per image and channel.

    In the ``[0, 255]`` scale, the image (padded symmetrically to a multiple of the grid) is
    cut into ``tile_grid_size`` tiles; each tile's 256-bin histogram is clipped at
    ``clip_limit · tile_pixels / 256`` with the excess spread evenly over the bins, and turned
    into the mapping ``(cdf - cdf[0]) · 255 / (tile_pixels - cdf[0])``. Each pixel takes the
    bilinear interpolation of the mappings of the four nearest tile centres (Zuiderveld,
    "Contrast Limited Adaptive Histogram Equalization", Graphics Gems IV, 1994). Applied in
    training and at inference.

    Keras 3.15 on its torch backend pads with the edge values where it asks for a symmetric
    padding, and truncates the clip limit to an integer (its histograms are integers there);
    cnnkit pads symmetrically and keeps the fractional limit, as Keras's code asks. The two
    agree when the padding is at most one pixel and ``clip_limit · tile_pixels / 256`` is
    a whole number.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        clip_limit: a number ``>= 0`` (default 4.0); ``0`` does no clipping (plain adaptive
            equalization).
        tile_grid_size: ``(rows, columns)`` of tiles, positive ints (default ``(8, 8)``).
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: a negative ``clip_limit``, a bad ``tile_grid_size`` or ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).uniform(50, 100, (1, 16, 16, 1)).astype("float32")
        >>> out = ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))(x)
        >>> bool(np.ptp(out.numpy()) > np.ptp(x))
        True
    """

    def __init__(
        self,
        value_range=(0, 255),
        clip_limit=4.0,
        tile_grid_size=(8, 8),
        data_format=None,
        **kwargs,
    ):
        super().__init__(value_range, data_format, **kwargs)
        if (
            not isinstance(clip_limit, numbers.Real)
            or isinstance(clip_limit, bool)
            or not (clip_limit >= 0)
        ):
            raise ValueError(
                "Invalid value for argument `clip_limit`. Expected a number >= 0. "
                f"Received: clip_limit={clip_limit!r}"
            )
        if not (
            isinstance(tile_grid_size, (tuple, list))
            and len(tile_grid_size) == 2
            and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                for v in tile_grid_size
            )
        ):
            raise ValueError(
                "Invalid value for argument `tile_grid_size`. Expected two positive integers "
                f"(rows, columns). Received: tile_grid_size={tile_grid_size!r}"
            )
        self.clip_limit = float(clip_limit)
        self.tile_grid_size = (int(tile_grid_size[0]), int(tile_grid_size[1]))

    def _map_levels(self, levels):
        n, h, w, c = levels.shape
        grid_h, grid_w = self.tile_grid_size
        tile_h, tile_w = -(-h // grid_h), -(-w // grid_w)
        pad = ((0, 0), (0, tile_h * grid_h - h), (0, tile_w * grid_w - w), (0, 0))
        padded = np.pad(levels, pad, mode="symmetric")  # (N, Hp, Wp, C)
        hp, wp = padded.shape[1:3]

        # one 256-bin histogram per (image, tile row, tile column, channel)
        tiles = np.arange(grid_h)[:, None] * grid_w + np.arange(grid_w)[None, :]
        tile_of = np.repeat(np.repeat(tiles, tile_h, axis=0), tile_w, axis=1)  # (Hp, Wp)
        cells = (
            (np.arange(n)[:, None, None, None] * grid_h * grid_w + tile_of[..., None]) * c
            + np.arange(c)
        ) * 256  # (N, Hp, Wp, C)
        pixel = np.clip(padded.astype(np.int32), 0, 255)
        count = n * grid_h * grid_w * c * 256
        hist = np.bincount((cells + pixel).ravel(), minlength=count).astype(np.float32)
        hist = hist.reshape(n, grid_h, grid_w, c, 256)
        if self.clip_limit > 0:
            limit = np.float32(self.clip_limit * tile_h * tile_w / 256.0)
            clipped = np.minimum(hist, limit)
            hist = clipped + (hist - clipped).sum(axis=-1, keepdims=True) / np.float32(256)
        cdf = np.cumsum(hist, axis=-1, dtype=np.float32)
        cdf_min = cdf.min(axis=-1, keepdims=True)
        denominator = np.float32(tile_h * tile_w) - cdf_min
        denominator = np.where(denominator == 0, np.float32(1), denominator)
        table = np.clip((cdf - cdf_min) * np.float32(255) / denominator, 0, 255)
        # repeat the border tiles so every pixel has four neighbouring tile centres
        table = np.pad(table, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")

        def neighbours(size, tile, grid):
            position = (np.arange(size, dtype=np.float32) - tile / 2.0) / tile + 1.0
            first = np.floor(position)
            weight = (position - first).astype(np.float32)
            low = np.clip(first, 0, grid + 1).astype(np.int64)
            return low, np.clip(first + 1, 0, grid + 1).astype(np.int64), weight

        y0, y1, wy = neighbours(hp, tile_h, grid_h)
        x0, x1, wx = neighbours(wp, tile_w, grid_w)
        stride_x = c * 256
        stride_y = stride_x * (grid_w + 2)
        base = (
            np.arange(n)[:, None, None, None] * stride_y * (grid_h + 2) + np.arange(c) * 256 + pixel
        )  # (N, Hp, Wp, C)
        flat = table.reshape(-1)

        def at(rows, cols):
            return flat[
                base + rows[None, :, None, None] * stride_y + cols[None, None, :, None] * stride_x
            ]

        wx, wy = wx[None, None, :, None], wy[None, :, None, None]
        top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
        bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
        out = top * (1 - wy) + bottom * wy
        return xp.asarray(out[:, :h, :w, :], dtype=levels.dtype)

    def get_config(self):
        config = {"clip_limit": self.clip_limit, "tile_grid_size": self.tile_grid_size}
        return {**super().get_config(), **config}
