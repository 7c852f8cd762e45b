"""Colour augmentations: ``RandomGrayscale``, ``RandomInvert``, ``Solarization`` (Keras 3).

As every layer of :mod:`cnnkit.layers.augmentation`: active unless ``training=False`` (``call``
defaults to ``training=True``), the identity at inference, one random draw per image, seeded by
``seed`` (else ``backend.rng()``), no gradient with respect to the input.

Example:
    >>> import numpy as np
    >>> x = np.full((1, 1, 1, 3), 200.0, "float32")
    >>> RandomInvert(factor=(1.0, 1.0))(x, training=True).numpy().ravel()
    array([55., 55., 55.], dtype=float32)
    >>> bool(np.array_equal(RandomInvert()(x, training=False), x))  # inference: the identity
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.backend import xp
from cnnkit.layers.augmentation import _RandomImageLayer, _value_range
from cnnkit.layers.base import standardize_data_format

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # Keras's rgb_to_grayscale (ITU-R 601-2 luma)


def _unit_factor(value, name: str) -> tuple[float, float]:
    """``f`` -> ``(0, f)``, a pair -> sorted, all in ``[0, 1]`` (Keras's rule)."""
    message = (
        f"The `{name}` argument should be a number (or a list of two numbers) in the range "
        f"[0, 1]. Received: {name}={value!r}"
    )
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0 <= value <= 1:
            raise ValueError(message)
        return 0.0, float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            low, high = sorted(float(v) for v in value)
            if 0 <= low and high <= 1:
                return low, high
    raise ValueError(message)


class RandomGrayscale(_RandomImageLayer):
    """Turns each image to grayscale with probability ``factor`` during training.

    ``gray = 0.2989·R + 0.587·G + 0.114·B``, repeated over the three channels (the output
    keeps the input's shape).

    Args:
        factor: the probability, in ``[0, 1]`` (default 0.5).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, 3)`` (or 1 channel, left as is) or one image ``(H, W, C)``; output
        shape: the same.

    Raises:
        ValueError: ``factor`` outside ``[0, 1]``, or a channel count other than 1 or 3.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[255.0, 0.0, 0.0]]]], "float32")
        >>> RandomGrayscale(1.0)(x, training=True).numpy().round(2).ravel()
        array([76.22, 76.22, 76.22], dtype=float32)
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(factor, numbers.Real) or isinstance(factor, bool) or not 0 <= factor <= 1:
            raise ValueError(f"`factor` should be between 0 and 1. Received: factor={factor!r}")
        self.factor = float(factor)
        self.data_format = standardize_data_format(data_format)

    def _check_rank(self, shape) -> None:
        super()._check_rank(shape)
        if shape[-1] not in (1, 3, None):
            raise ValueError(
                "Invalid channel size: expected 3 (RGB) or 1 (Grayscale). Received input with "
                f"shape: images.shape={tuple(shape)}"
            )

    def _augment(self, images):
        apply = self._generator().uniform(0, 1, size=(len(images), 1, 1, 1)) < self.factor
        if images.shape[-1] == 1:
            return images
        weights = xp.asarray(GRAY_WEIGHTS, dtype=images.dtype)
        gray = (images * weights).sum(axis=-1, keepdims=True).astype(images.dtype)
        return xp.where(xp.asarray(apply), gray, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "data_format": self.data_format}


class RandomInvert(_RandomImageLayer):
    """Inverts each image (``high - x``) with a random probability during training.

    Each image draws a probability ``p`` in ``factor`` and is inverted when a second uniform
    draw falls below ``p``: ``out = value_range[1] - x``.

    Args:
        factor: ``f`` gives ``p`` in ``[0, f]`` (default 1.0, i.e. ``p`` uniform in
            ``[0, 1]``: half the images on average); a pair ``(lo, hi)`` in ``[lo, hi]``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or ``(H, W, C)``; output shape: the same, in the layer's float dtype.

    Raises:
        ValueError: a factor outside ``[0, 1]`` or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> out = RandomInvert(seed=0)(np.zeros((8, 1, 1, 1), "float32"), training=True)
        >>> sorted(set(out.numpy().ravel().tolist())) in ([0.0, 255.0], [0.0], [255.0])
        True
    """

    _keeps_integer_inputs = True

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _unit_factor(factor, "factor")
        self.factor = self._range
        self.value_range = _value_range(value_range)
        self.data_format = standardize_data_format(data_format)

    def _augment(self, images):
        images = images.astype(self.dtype)
        rng = self._generator()
        n = len(images)
        probability = rng.uniform(*self._range, size=n)
        apply = (rng.uniform(0, 1, size=n) < probability).reshape(n, 1, 1, 1)
        return xp.where(xp.asarray(apply), self.value_range[1] - images, images)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
            "data_format": self.data_format,
        }


class Solarization(_RandomImageLayer):
    """Inverts the pixels above a random threshold, after adding a random offset (training).

    In the ``[0, 255]`` scale (inputs are mapped from ``value_range`` and back):
    ``y = clip(x + a, 0, 255)``, ``out = y if y < t else 255 - y``, with ``a`` and ``t``
    drawn once per image in ``[lo·255, hi·255]`` of ``addition_factor`` and
    ``threshold_factor``. (Keras's code draws from ``[lo, hi·255]``: the two agree for the
    default and for single-number factors, where ``lo = 0``.)

    Args:
        addition_factor: ``f`` (range ``(0, f)``) or a pair in ``[0, 1]`` (default 0).
        threshold_factor: ``f`` or a pair in ``[0, 1]`` (default 0: every pixel inverted).
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: factors outside ``[0, 1]`` or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[0.0], [100.0], [255.0]]]], "float32")
        >>> Solarization()(x, training=True).numpy().ravel()
        array([255., 155.,   0.], dtype=float32)
    """

    _keeps_integer_inputs = True

    def __init__(
        self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs
    ):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = _unit_factor(addition_factor, "addition_factor")
        self.threshold_factor = _unit_factor(threshold_factor, "threshold_factor")
        self.value_range = _value_range(value_range)

    def _augment(self, images):
        in_dtype = images.dtype
        x = images.astype(self.dtype)
        low, high = self.value_range
        rng = self._generator()
        shape = (len(images), 1, 1, 1)
        additions = rng.uniform(*(255 * np.asarray(self.addition_factor)), size=shape)
        thresholds = rng.uniform(*(255 * np.asarray(self.threshold_factor)), size=shape)
        y = xp.clip((x - low) * (255 / (high - low)) + xp.asarray(additions, self.dtype), 0, 255)
        y = xp.where(y < xp.asarray(thresholds, self.dtype), y, 255 - y)
        out = (y * ((high - low) / 255) + low).astype(self.dtype)
        if in_dtype.kind in "iu":  # as Keras: round, then saturate into the integer range
            info = np.iinfo(in_dtype)
            return xp.clip(xp.round(out), info.min, info.max).astype(in_dtype)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "addition_factor": self.addition_factor,
            "threshold_factor": self.threshold_factor,
            "value_range": self.value_range,
        }
