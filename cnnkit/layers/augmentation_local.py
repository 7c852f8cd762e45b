"""Neighbourhood and region intensity augmentations (Keras 3): sharpness, Gaussian blur and
random erasing.

As every layer of :mod:`cnnkit.layers.augmentation`: active unless ``training=False`` (``call``
defaults to ``training=True``; the identity at inference), one random draw per image
(``RandomGaussianBlur`` draws its ``sigma`` once per batch, as Keras), seeded by ``seed`` (else
``backend.rng()``), channels-last, rank-3 or rank-4 inputs, float outputs in the layer's dtype,
clipped to ``value_range``, no gradient with respect to the input.

Example:
    >>> import numpy as np
    >>> x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    >>> bool(np.array_equal(RandomSharpness(0.5)(x, training=False), x))  # inference
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.backend import xp
from cnnkit.layers.augmentation_color import _unit_factor
from cnnkit.layers.augmentation_intensity import _ColorLayer, _per_image


class RandomSharpness(_ColorLayer):
    """Randomly sharpens or blurs each image during training.

    Each channel is smoothed by the 3×3 kernel ``[[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13``
    (zero padding, ``"same"`` size), then ``out = clip(x + (1 - 2u) · (smooth - x),
    *value_range)`` with ``u`` drawn in ``factor``: ``u = 0`` gives the smoothed image,
    ``u = 0.5`` the identity, ``u = 1`` the image pushed away from its smoothed version.

    Args:
        factor: ``f`` draws ``u`` in ``[0, f]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values
            in ``[0, 1]``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: a factor outside ``[0, 1]`` or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.full((1, 3, 3, 1), 13.0, "float32")
        >>> RandomSharpness((0.0, 0.0))(x, training=True).numpy()[0, :, :, 0]
        array([[ 8., 10.,  8.],
               [10., 13., 10.],
               [ 8., 10.,  8.]], dtype=float32)
    """

    def _augment(self, images):
        from cnnkit.ops import nn as nn_ops

        amount = _per_image(1.0 - 2.0 * self._draw(len(images)), images.dtype)
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = np.full((3, 3, images.shape[-1], 1), a, dtype=images.dtype)
        kernel[1, 1] = b
        smooth = nn_ops.depthwise_conv(images, kernel, padding="same").astype(images.dtype)
        out = images + amount * (smooth - images)
        return xp.clip(out, *self.value_range).astype(images.dtype)


class RandomGaussianBlur(_ColorLayer):
    """Blurs each image with a Gaussian kernel, with a random probability, during training.

    Each image draws a probability ``p`` in ``factor`` and is blurred when a second uniform
    draw falls below ``p``. One ``(σ_y, σ_x)`` pair, each drawn in ``sigma`` (plus ``1e-6``),
    serves the whole batch (as Keras). The blur is :func:`cnnkit.ops.image.gaussian_blur`
    (zero padding, same size); the output is clipped to ``value_range``.

    Args:
        factor: ``f`` draws ``p`` in ``[0, f]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values
            in ``[0, 1]`` (default 1.0).
        kernel_size: an odd int ``k``, or the pair ``(k, k)`` (default 3). (Keras accepts
            two different sizes, then fails when called.)
        sigma: ``s`` draws in ``[0, s]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values in
            ``[0, 1]`` (default 1.0).
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: ``factor`` or ``sigma`` outside ``[0, 1]``, an even, non-positive or
            non-square ``kernel_size``, or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((1, 3, 3, 1), "float32")
        >>> x[0, 1, 1, 0] = 1.0
        >>> out = RandomGaussianBlur((1.0, 1.0), sigma=(1.0, 1.0), value_range=(0, 1))(
        ...     x, training=True)
        >>> round(float(out.numpy().sum()), 4), round(float(out.numpy()[0, 1, 1, 0]), 4)
        (1.0, 0.2042)
    """

    def __init__(
        self,
        factor=1.0,
        kernel_size=3,
        sigma=1.0,
        value_range=(0, 255),
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(factor, value_range, data_format, seed, **kwargs)
        self.kernel_size = _odd_sizes(kernel_size)
        self.sigma = _unit_factor(sigma, "sigma")

    def _augment(self, images):
        from cnnkit.ops import image as image_ops

        rng = self._generator()
        n = len(images)
        probability = rng.uniform(*self.factor, size=n)
        apply = rng.uniform(0, 1, size=n) < probability
        sigma = rng.uniform(*self.sigma, size=2) + 1e-6
        blurred = image_ops.gaussian_blur(images, self.kernel_size, tuple(sigma))
        out = xp.where(xp.asarray(apply)[:, None, None, None], blurred, images)
        return xp.clip(out, *self.value_range).astype(images.dtype)

    def get_config(self):
        config = {"kernel_size": self.kernel_size, "sigma": self.sigma}
        return {**super().get_config(), **config}


def _odd_sizes(value):
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if (
        len(pair) == 2
        and pair[0] == pair[1]
        and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 and v % 2
            for v in pair
        )
    ):
        return int(pair[0]), int(pair[1])
    raise ValueError(
        "Invalid value for argument `kernel_size`. Expected a positive odd integer (or a pair "
        "of two equal ones: the blur pads kernel_size // 2 pixels on every side, so only a "
        f"square kernel keeps the image size). Received: kernel_size={value!r}"
    )


class RandomErasing(_ColorLayer):
    """Replaces a random rectangle of each image, with a random probability, during training.

    Each image draws a probability ``p`` in ``factor`` and is erased when a second uniform
    draw falls below ``p``. The rectangle is ``sqrt(s_w) · W`` wide and ``sqrt(s_h) · H``
    high, ``s_w, s_h`` drawn in ``scale``, at a uniform position inside the image (Zhong et
    al., 2017, "Random Erasing Data Augmentation"). It is filled with ``fill_value``, or
    with Gaussian noise ``N(0, 1) · high`` when ``fill_value`` is None; the fill is clipped
    to ``value_range``.

    Args:
        factor: ``f`` draws ``p`` in ``[0, f]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values
            in ``[0, 1]`` (default 1.0).
        scale: ``s`` draws in ``[0, s]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values in
            ``[0, 1]`` (default ``(0.02, 0.33)``).
        fill_value: a number, one number per channel (a list of 3), or None for noise.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: ``factor`` or ``scale`` outside ``[0, 1]``, a ``fill_value`` that is
            not a number or 3 numbers, or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 2, 3, 1), "float32")
        >>> erase = RandomErasing((1.0, 1.0), scale=(1.0, 1.0), fill_value=0.0)
        >>> erase(x, training=True).numpy().ravel()
        array([0., 0., 0., 0., 0., 0.], dtype=float32)
    """

    def __init__(
        self,
        factor=1.0,
        scale=(0.02, 0.33),
        fill_value=None,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(factor, value_range, data_format, seed, **kwargs)
        self.scale = _unit_factor(scale, "scale")
        self.fill_value = _fill_value(fill_value)

    def _augment(self, images):
        rng = self._generator()
        n, h, w, c = images.shape
        sides = np.sqrt(rng.uniform(*self.scale, size=(n, 2)))  # (width, height) fractions
        lengths = sides * np.array([w, h])
        starts = rng.uniform(0, 1, size=(n, 2)) * (np.array([w, h]) - lengths)
        x0, y0 = starts[:, 0, None, None], starts[:, 1, None, None]
        x1, y1 = x0 + lengths[:, 0, None, None], y0 + lengths[:, 1, None, None]
        cols, rows = np.arange(w)[None, None, :], np.arange(h)[None, :, None]
        inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)  # (N, H, W)
        probability = rng.uniform(*self.factor, size=n)
        inside &= (rng.uniform(0, 1, size=n) < probability)[:, None, None]
        if self.fill_value is None:
            fill = rng.standard_normal(images.shape) * self.value_range[1]
        else:
            fill = np.broadcast_to(np.asarray(self.fill_value, dtype=np.float64), images.shape)
        fill = xp.asarray(np.clip(fill, *self.value_range), dtype=images.dtype)
        return xp.where(xp.asarray(inside)[..., None], fill, images)

    def get_config(self):
        config = {"scale": self.scale, "fill_value": self.fill_value}
        return {**super().get_config(), **config}


def _fill_value(value):
    def real(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    if value is None or real(value):
        return None if value is None else float(value)
    if isinstance(value, (tuple, list)) and len(value) == 3 and all(real(v) for v in value):
        return tuple(float(v) for v in value)
    raise ValueError(
        "Invalid value for argument `fill_value`. Expected a number, a list of three numbers "
        f"(one per channel) or None (Gaussian noise). Received: fill_value={value!r}"
    )
