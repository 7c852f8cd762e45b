"""Colour and intensity augmentations (Keras 3): hue, saturation, colour jitter, colour
degeneration and posterization (pixel by pixel; the neighbourhood ones, sharpness, blur and
erasing, are in :mod:`cnnkit.layers.augmentation_local`).

As every layer of :mod:`cnnkit.layers.augmentation`: active unless ``training=False`` (``call``
defaults to ``training=True``; the identity at inference), one random draw per image, seeded by
``seed`` (else ``backend.rng()``), channels-last, rank-3 or rank-4 inputs, float outputs in the
layer's dtype, no gradient with respect to the input.

Pixel values live in ``value_range`` (default ``(0, 255)``); the layers that work in a fixed
scale (HSV in ``[0, 1]``, posterization's 8 bits) map the images there and back.

Deliberate deviations from Keras 3.15's code, each where Keras's code contradicts its own
documentation (the documentation is followed):

- ``RandomSaturation`` and ``RandomColorDegeneration`` take a single number ``f`` in
  ``[0, 1]`` and draw from ``[0, f]`` (Keras's code draws from ``[-f, f]``; its configs,
  which hold that pair, load and behave as in Keras). The saturation is clipped to
  ``[0, 1]`` (Keras clips it to ``value_range``, so a factor above 0.5 on ``(0, 255)``
  images can push colours out of range).
- ``RandomPosterization`` draws the number of bits uniformly in ``[lo, hi]``, both ends
  included (Keras's ``randint`` never draws ``hi``).

Example:
    >>> import numpy as np
    >>> x = np.array([[[[200.0, 100.0, 50.0]]]], "float32")
    >>> RandomColorDegeneration((1.0, 1.0))(x, training=True).numpy().round(2).ravel()
    array([124.18, 124.18, 124.18], dtype=float32)
    >>> bool(np.array_equal(RandomColorDegeneration(0.5)(x, training=False), x))  # inference
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.backend import epsilon, xp
from cnnkit.layers.augmentation import (
    RandomBrightness,
    RandomContrast,
    _as_config,
    _RandomImageLayer,
    _value_range,
)
from cnnkit.layers.augmentation_color import GRAY_WEIGHTS, _unit_factor
from cnnkit.layers.base import standardize_data_format


def _rescale(images, source, target):
    """Map pixel values from ``source`` to ``target`` range (Keras's ``_transform_value_range``:
    unchanged when the two ranges are equal)."""
    if tuple(source) == tuple(target):
        return images
    unit = (images - source[0]) / (source[1] - source[0])
    return unit * (target[1] - target[0]) + target[0]


def _per_image(values, dtype):
    """A length-N draw as an ``(N, 1, 1, 1)`` array of ``dtype``."""
    return xp.asarray(np.asarray(values).reshape(-1, 1, 1, 1), dtype=dtype)


class _ColorLayer(_RandomImageLayer):
    """Shared ``__init__``/config: ``factor`` in ``[0, 1]``, ``value_range``, ``data_format``.

    ``_pair_low``: the lowest value a ``(lo, hi)`` pair may hold (``-1`` where Keras's code
    writes negative lower bounds into its configs, so that those configs load).
    """

    samplewise = True
    _needs_rgb = False
    _pair_low = 0.0

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if (
            isinstance(factor, (tuple, list))
            and len(factor) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in factor)
            and self._pair_low <= min(factor)
            and max(factor) <= 1
        ):
            self.factor = tuple(sorted(float(v) for v in factor))
        else:
            self.factor = _unit_factor(factor, "factor")
        self.value_range = _value_range(value_range)
        self.data_format = standardize_data_format(data_format)

    def _check_rank(self, shape) -> None:
        super()._check_rank(shape)
        if self._needs_rgb and shape[-1] not in (3, None):
            raise ValueError(
                f'Layer "{self.name}" expects RGB images with 3 channels. Received input '
                f"with shape: images.shape={tuple(shape)}"
            )

    def _draw(self, n):
        return self._generator().uniform(*self.factor, size=n)

    def get_config(self):
        config = {"factor": self.factor, "value_range": self.value_range}
        return {**super().get_config(), **config, "data_format": self.data_format}


def _shift_hue(images, delta, value_range):
    """Rotate the hue of ``(N, H, W, 3)`` images by ``delta`` turns (``(N, 1, 1)``)."""
    from cnnkit.ops import image as image_ops

    hsv = image_ops.rgb_to_hsv(_rescale(images, value_range, (0, 1)))
    hue = hsv[..., 0] + delta
    hue = xp.where(hue > 1.0, hue - 1.0, hue)
    hue = xp.where(hue < 0.0, hue + 1.0, hue)
    rgb = image_ops.hsv_to_rgb(xp.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1))
    return _rescale(xp.clip(rgb, 0, 1), (0, 1), value_range).astype(images.dtype)


def _scale_saturation(images, scale, value_range):
    """Multiply the HSV saturation by ``scale`` (``(N, 1, 1)``), clipped to ``[0, 1]``."""
    from cnnkit.ops import image as image_ops

    hsv = image_ops.rgb_to_hsv(_rescale(images, value_range, (0, 1)))
    saturation = xp.clip(hsv[..., 1] * scale, 0, 1)
    rgb = image_ops.hsv_to_rgb(xp.stack([hsv[..., 0], saturation, hsv[..., 2]], axis=-1))
    return _rescale(rgb, (0, 1), value_range).astype(images.dtype)


class RandomHue(_ColorLayer):
    """Randomly rotates the hue of each RGB image during training.

    The image goes to HSV (in ``[0, 1]``), its hue moves by ``±u / 2`` of a turn (``u`` drawn
    in ``factor``, the sign by a fair coin), wrapping around, and comes back to RGB, clipped
    to ``value_range``. ``factor=(1, 1)`` turns every hue by half a turn.

    Args:
        factor: ``f`` draws ``u`` in ``[0, f]``; a pair ``(lo, hi)`` in ``[lo, hi]``; values
            in ``[0, 1]``. ``0`` is the identity.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, 3)`` or one image ``(H, W, 3)``; output shape: the same.

    Raises:
        ValueError: a factor outside ``[0, 1]``, a bad ``value_range``, or not 3 channels.

    Example:
        >>> import numpy as np
        >>> red = np.array([[[[1.0, 0.0, 0.0]]]], "float32")
        >>> RandomHue((1.0, 1.0), value_range=(0, 1))(red, training=True).numpy().ravel()
        array([0., 1., 1.], dtype=float32)
    """

    _needs_rgb = True

    def _augment(self, images):
        rng = self._generator()
        n = len(images)
        sign = np.where(rng.uniform(size=n) > 0.5, -1.0, 1.0)
        delta = sign * rng.uniform(*self.factor, size=n) * 0.5
        return _shift_hue(images, _per_image(delta, images.dtype)[..., 0], self.value_range)


class RandomSaturation(_ColorLayer):
    """Randomly changes the colour saturation of each RGB image during training.

    With ``u`` drawn in ``factor``, the HSV saturation is multiplied by ``u / (1 - u + ε)``
    and clipped to ``[0, 1]``: ``u = 0`` gives a grayscale image, ``u = 0.5`` (almost) the
    identity, ``u = 1`` the fully saturated image.

    Args:
        factor: ``f`` in ``[0, 1]`` draws ``u`` in ``[0, f]``; a pair ``(lo, hi)`` in
            ``[lo, hi]``, values in ``[-1, 1]`` (a negative ``u`` gives a grayscale image).
            (Keras's code draws a single number from ``[-f, f]``; see the module docstring.)
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, 3)`` or one image ``(H, W, 3)``; output shape: the same.

    Raises:
        ValueError: a factor outside ``[0, 1]``, a bad ``value_range``, or not 3 channels.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[200.0, 100.0, 50.0]]]], "float32")
        >>> RandomSaturation((0.0, 0.0))(x, training=True).numpy().ravel()  # gray = max
        array([200., 200., 200.], dtype=float32)
    """

    _needs_rgb = True
    _pair_low = -1.0

    def _augment(self, images):
        u = self._draw(len(images))
        scale = _per_image(u / (1 - u + epsilon()), images.dtype)[..., 0]
        return _scale_saturation(images, scale, self.value_range)


class RandomColorDegeneration(_ColorLayer):
    """Randomly blends each RGB image towards its grayscale version during training.

    ``out = clip(x + u · (gray(x) - x), *value_range)``, ``gray`` the ITU-R 601 luma
    (``0.2989 R + 0.587 G + 0.114 B``) and ``u`` drawn in ``factor``: ``0`` is the identity,
    ``1`` the grayscale image.

    Args:
        factor: ``f`` in ``[0, 1]`` draws ``u`` in ``[0, f]``; a pair ``(lo, hi)`` in
            ``[lo, hi]``, values in ``[-1, 1]`` (a negative ``u`` moves the colours away from
            gray). (Keras's code draws a single number from ``[-f, f]``.)
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, 3)`` or one image ``(H, W, 3)``; output shape: the same.

    Raises:
        ValueError: a factor outside ``[0, 1]``, a bad ``value_range``, or not 3 channels.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[255.0, 0.0, 0.0]]]], "float32")
        >>> RandomColorDegeneration((0.5, 0.5))(x, training=True).numpy().round(2).ravel()
        array([165.61,  38.11,  38.11], dtype=float32)
    """

    _needs_rgb = True
    _pair_low = -1.0

    def _augment(self, images):
        u = _per_image(self._draw(len(images)), images.dtype)
        gray = images @ xp.asarray(GRAY_WEIGHTS, dtype=images.dtype)[:, None]  # (N, H, W, 1)
        return xp.clip(images + u * (gray - images), *self.value_range).astype(images.dtype)


def _posterize_bits(value):
    """``b`` -> ``(1, b)``, a pair -> sorted; integers in ``[1, 8]``."""
    message = (
        "The `factor` argument should be an integer (or a list of two integers) in the range "
        f"[1, 8]: the number of bits to keep. Received: factor={value!r}"
    )

    def whole(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer()

    if whole(value) and 1 <= value <= 8:
        return 1, int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(whole(v) for v in value):
        low, high = sorted(int(v) for v in value)
        if 1 <= low and high <= 8:
            return low, high
    raise ValueError(message)


class RandomPosterization(_ColorLayer):
    """Keeps only the ``b`` most significant bits of each 8-bit channel value (training).

    The images are mapped from ``value_range`` to ``[0, 255]``, truncated to integers,
    ``(v >> (8 - b)) << (8 - b)``, and mapped back; ``b`` is drawn once per image.

    Args:
        factor: ``b`` draws the bits in ``[1, b]``; a pair ``(lo, hi)`` in ``[lo, hi]``
            (both ends included; Keras's code never draws ``hi``). Integers in ``[1, 8]``;
            ``(b, b)`` always keeps ``b`` bits.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: ``factor`` not integers in ``[1, 8]``, or a bad ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[0.0], [37.0], [200.0], [255.0]]]], "float32")
        >>> RandomPosterization((2, 2))(x, training=True).numpy().ravel()
        array([  0.,   0., 192., 192.], dtype=float32)
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(0.0, value_range, data_format, seed, **kwargs)
        self.factor = _posterize_bits(factor)

    def _augment(self, images):
        low, high = self.factor
        bits = self._generator().integers(low, high + 1, size=(len(images), 1, 1, 1))
        shift = xp.asarray(8 - bits, dtype=np.uint8)
        levels = _rescale(images, self.value_range, (0, 255))
        levels = xp.clip(levels, 0, 255).astype(np.uint8)  # truncated, as Keras's cast
        levels = ((levels >> shift) << shift).astype(images.dtype)
        return _rescale(levels, (0, 255), self.value_range).astype(images.dtype)


class RandomColorJitter(_RandomImageLayer):
    """Applies random brightness, contrast, saturation and hue changes, in that order.

    Each stage is the corresponding layer (:class:`RandomBrightness`,
    :class:`RandomContrast`, :class:`RandomSaturation`, :class:`RandomHue`) built with this
    layer's ``value_range``; a stage whose factor is ``None`` is skipped. The stages draw
    from this layer's generator.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        brightness_factor: as ``RandomBrightness``'s ``factor`` (in ``[-1, 1]``), or None.
        contrast_factor: as ``RandomContrast``'s ``factor`` (in ``[0, 1]``), or None.
        saturation_factor: as ``RandomSaturation``'s ``factor`` (in ``[0, 1]``), or None.
        hue_factor: as ``RandomHue``'s ``factor`` (in ``[0, 1]``), or None.
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, 3)`` or one image ``(H, W, 3)`` (any channel count without the
        saturation and hue stages); output shape: the same.

    Raises:
        ValueError: as the stage layers, for their factors and ``value_range``.

    Example:
        >>> import numpy as np
        >>> x = np.full((1, 2, 2, 3), 0.5, "float32")
        >>> jitter = RandomColorJitter((0, 1), brightness_factor=(0.25, 0.25))
        >>> jitter(x, training=True).numpy().ravel()[:3]
        array([0.75, 0.75, 0.75], dtype=float32)
    """

    samplewise = True

    def __init__(
        self,
        value_range=(0, 255),
        brightness_factor=None,
        contrast_factor=None,
        saturation_factor=None,
        hue_factor=None,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        self.value_range = _value_range(value_range)
        self.data_format = standardize_data_format(data_format)
        factors = (brightness_factor, contrast_factor, saturation_factor, hue_factor)
        (self.brightness_factor, self.contrast_factor, self.saturation_factor, self.hue_factor) = (
            None if f is None else _as_config(f) for f in factors
        )
        stages = (
            (RandomBrightness, brightness_factor),
            (RandomContrast, contrast_factor),
            (RandomSaturation, saturation_factor),
            (RandomHue, hue_factor),
        )
        self._stages = []
        for cls, factor in stages:
            if factor is not None:
                stage = cls(factor, value_range=self.value_range)
                stage._rng = self._rng  # one generator for the whole layer
                self._stages.append(stage)

    def _check_rank(self, shape) -> None:
        super()._check_rank(shape)
        needs_rgb = any(getattr(stage, "_needs_rgb", False) for stage in self._stages)
        if needs_rgb and shape[-1] not in (3, None):
            raise ValueError(
                f'Layer "{self.name}" expects RGB images with 3 channels for its saturation and '
                f"hue stages. Received input with shape: images.shape={tuple(shape)}"
            )

    def _augment(self, images):
        for stage in self._stages:
            images = stage._augment(images)
        return images

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "brightness_factor": self.brightness_factor,
            "contrast_factor": self.contrast_factor,
            "saturation_factor": self.saturation_factor,
            "hue_factor": self.hue_factor,
            "data_format": self.data_format,
        }
