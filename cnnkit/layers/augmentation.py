"""Random image augmentation layers (Keras 3's names and arguments) and their affine resampler.

Each layer augments in training and is the identity at inference (``training=False``, as in
``predict`` and ``evaluate``), except ``RandomCrop``, which then crops the centre (see its
docstring). As in Keras, their ``call`` defaults to ``training=True``: a direct call with no
``training`` (and no enclosing call that has one) augments.
Every image of a batch gets its own random draw; the geometric layers turn their draws into
one affine transform per image and resample the whole batch with :func:`affine_transform`,
one gather per interpolation corner, with no Python loop over images or pixels.

Gradients: ``RandomCrop`` is built from differentiable ops. The other layers compute on arrays
inside a :class:`~cnnkit.autodiff.Function` whose backward raises a ``RuntimeError`` naming
the layer: they belong right after ``Input``, where nothing asks for a gradient of their input
(a model's input never requires one), and they record nothing in the graph there.

Randomness: a layer built with ``seed=`` draws from its own generator (two layers with the
same seed draw the same sequence); otherwise from ``backend.rng()``, so ``backend.set_seed``
makes a run reproducible.

Example:
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> flip = RandomFlip("horizontal", seed=0)
    >>> bool(np.array_equal(flip(x), x))  # inference: the identity
    True
    >>> out = np.asarray(flip(x, training=True))
    >>> bool(np.array_equal(out, x) or np.array_equal(out, x[:, :, ::-1]))
    True
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Function
from cnnkit.backend import xp
from cnnkit.kernels import resize as resize_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.kernels.image import (
    FILL_MODES,
    INTERPOLATIONS,
    affine_transform,
    rotation_transforms,
    translation_transforms,
    zoom_transforms,
)
from cnnkit.layers.base import Layer, standardize_data_format


class _NoInputGradient(Function):
    """Run an array-level augmentation; asking for the gradient of its input is an error."""

    def forward(self, x, compute, layer_name):
        self.layer_name = layer_name
        return compute(x)

    def backward(self, grad):
        raise RuntimeError(
            f"Layer {self.layer_name!r} has no gradient with respect to its input. Random "
            "augmentation layers belong at the start of a model, right after `Input`, where "
            "no gradient of their input is needed."
        )


def _check_choice(value, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one of {choices}. "
            f"Received: {name}={value!r}"
        )
    return value


def _factor_range(value, name: str, low: float, high: float, symmetric_low=None):
    """``(lower, upper)`` from a number ``f`` (``(-|f|, |f|)``) or a pair, checked in bounds.

    ``symmetric_low`` overrides the lower end drawn from a single number (contrast: ``f``).
    """
    message = (
        f"Invalid value for argument `{name}`. Expected a number, or a pair of numbers, in "
        f"[{low}, {high}]. Received: {name}={value!r}"
    )
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        f = abs(float(value))
        if not low <= float(value) <= high:
            raise ValueError(message)
        return (-f if symmetric_low is None else symmetric_low(f)), f
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
            pair = tuple(sorted(float(v) for v in value))
            if low <= pair[0] and pair[1] <= high:
                return pair
    raise ValueError(message)


def _as_config(value):
    """A factor as given, with tuples for lists (so ``from_config`` round-trips)."""
    return tuple(float(v) for v in value) if isinstance(value, (tuple, list)) else float(value)


class _RandomImageLayer(Layer):
    """Shared machinery: the generator, the training switch, rank checks, unbatched images."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(
                f"Invalid value for argument `seed`. Expected a non-negative int or None. "
                f"Received: seed={seed!r}"
            )
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def _generator(self) -> np.random.Generator:
        return self._rng if self._rng is not None else backend.rng()

    def _check_rank(self, shape) -> None:
        if len(shape) not in (3, 4):
            raise ValueError(
                f'Layer "{self.name}" expects images of rank 3 (H, W, C) or 4 (N, H, W, C). '
                f"Received: input_shape={tuple(shape)}"
            )

    def call(self, inputs, training=True):
        self._check_rank(inputs.shape)
        if not training:
            return inputs
        return _NoInputGradient.apply(inputs, compute=self._augment_any, layer_name=self.name)

    def _augment_any(self, x):
        if x.ndim == 3:
            return self._augment(x[None])[0]
        return self._augment(x)

    def _augment(self, images):  # pragma: no cover - abstract
        """(N, H, W, C) array -> augmented array of the same dtype."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class RandomFlip(_RandomImageLayer):
    """Randomly flips images left-right and/or top-bottom during training.

    Each image is flipped with probability 1/2. As in Keras 3, ``"horizontal_and_vertical"``
    tosses one coin per image for both axes: the image is turned by 180° or left alone
    (tf.keras 2 tossed one coin per axis).

    Args:
        mode: ``"horizontal"`` (left-right), ``"vertical"`` (top-bottom) or
            ``"horizontal_and_vertical"`` (default).
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for an unknown ``mode``.

    Example:
        >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
        >>> twice = RandomFlip(seed=5)(RandomFlip(seed=5)(x, training=True), training=True)
        >>> bool(np.array_equal(twice, x))
        True
    """

    samplewise = True

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.mode = _check_choice(mode, self.MODES, "mode")
        self.data_format = standardize_data_format(data_format)

    def _augment(self, images):
        flips = xp.asarray(self._generator().uniform(size=len(images)) <= 0.5)
        flipped = images
        if self.mode != "vertical":
            flipped = flipped[:, :, ::-1]
        if self.mode != "horizontal":
            flipped = flipped[:, ::-1]
        return xp.where(flips[:, None, None, None], flipped, images)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "data_format": self.data_format}


class _RandomAffine(_RandomImageLayer):
    """Base of the layers that resample through :func:`affine_transform`."""

    def __init__(
        self,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        self.fill_mode = _check_choice(fill_mode, FILL_MODES, "fill_mode")
        self.interpolation = _check_choice(interpolation, INTERPOLATIONS, "interpolation")
        self.fill_value = float(fill_value)
        self.data_format = standardize_data_format(data_format)

    def _augment(self, images):
        n, h, w, _ = images.shape
        transforms = self._transforms(self._generator(), n, h, w)
        return affine_transform(
            images, transforms, self.interpolation, self.fill_mode, self.fill_value
        )

    def _transforms(self, rng, n, height, width):  # pragma: no cover - abstract
        """(N, 8) transform rows for :func:`affine_transform`."""
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
            "data_format": self.data_format,
        }


class RandomRotation(_RandomAffine):
    """Randomly rotates images about their centre during training.

    Args:
        factor: a fraction of a full turn: ``f`` draws angles in ``[-f · 2π, f · 2π]``, a pair
            ``(lo, hi)`` in ``[lo · 2π, hi · 2π]``; values in ``[-1, 1]``. Positive angles
            turn the picture counter-clockwise.
        fill_mode: how points outside the image are filled: ``"reflect"`` (default,
            ``d c b a | a b c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``),
            ``"constant"`` (``k k k k | a b c d``, ``k = fill_value``) or ``"nearest"``
            (``a a a a | a b c d | d d d d``).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int for a layer-local generator.
        fill_value: the value outside the image for ``fill_mode="constant"``.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for a factor outside ``[-1, 1]`` or an unknown fill mode or interpolation.

    Example:
        >>> x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
        >>> quarter = RandomRotation((0.25, 0.25))(x, training=True).numpy()
        >>> bool(np.allclose(quarter, np.rot90(x, axes=(1, 2)), atol=1e-5))
        True
    """

    samplewise = True

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._range = _factor_range(factor, "factor", -1.0, 1.0)
        self.factor = _as_config(factor)

    def _transforms(self, rng, n, height, width):
        lower, upper = self._range
        angles = rng.uniform(lower * 2 * math.pi, upper * 2 * math.pi, size=n)
        return rotation_transforms(angles, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomTranslation(_RandomAffine):
    """Randomly shifts images during training.

    Args:
        height_factor: a fraction of the height: ``f`` shifts by a random amount in
            ``[-f · H, f · H]`` pixels, a pair ``(lo, hi)`` in ``[lo · H, hi · H]``; values in
            ``[-1, 1]``, positive moves the picture down.
        width_factor: the same along the width; positive moves the picture right.
        fill_mode: how points outside the image are filled: ``"reflect"`` (default,
            ``d c b a | a b c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``),
            ``"constant"`` (``k k k k | a b c d``, ``k = fill_value``) or ``"nearest"``
            (``a a a a | a b c d | d d d d``).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int for a layer-local generator.
        fill_value: the value outside the image for ``fill_mode="constant"``.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for factors outside ``[-1, 1]`` or an unknown fill mode or interpolation.

    Example:
        >>> x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1)
        >>> layer = RandomTranslation(0.0, (0.25, 0.25), fill_mode="constant")
        >>> layer(x, training=True).numpy()[0, 0, :, 0]  # one pixel to the right
        array([0., 0., 1., 2.], dtype=float32)
    """

    samplewise = True

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height_range = _factor_range(height_factor, "height_factor", -1.0, 1.0)
        self._width_range = _factor_range(width_factor, "width_factor", -1.0, 1.0)
        self.height_factor = _as_config(height_factor)
        self.width_factor = _as_config(width_factor)

    def _transforms(self, rng, n, height, width):
        dy = rng.uniform(*self._height_range, size=n) * height
        dx = rng.uniform(*self._width_range, size=n) * width
        return translation_transforms(dx, dy)

    def get_config(self):
        config = {"height_factor": self.height_factor, "width_factor": self.width_factor}
        return {**super().get_config(), **config}


class RandomZoom(_RandomAffine):
    """Randomly zooms images in or out about their centre during training.

    Args:
        height_factor: ``f`` draws a vertical zoom of ``1 + u``, ``u`` uniform in ``[-f, f]``
            (a pair ``(lo, hi)``: in ``[lo, hi]``), values in ``[-1, 1]``. A zoom above 1
            samples a wider area: positive values zoom *out*, negative values zoom *in*.
        width_factor: the same for the width; ``None`` (default) reuses the vertical zoom,
            keeping the aspect ratio.
        fill_mode: how points outside the image are filled: ``"reflect"`` (default,
            ``d c b a | a b c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``),
            ``"constant"`` (``k k k k | a b c d``, ``k = fill_value``) or ``"nearest"``
            (``a a a a | a b c d | d d d d``).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int for a layer-local generator.
        fill_value: the value outside the image for ``fill_mode="constant"``.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for factors outside ``[-1, 1]`` or an unknown fill mode or interpolation.

    Example:
        >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
        >>> bool(np.array_equal(RandomZoom(0.0)(x, training=True), x))
        True
    """

    samplewise = True

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height_range = _factor_range(height_factor, "height_factor", -1.0, 1.0)
        self._width_range = None
        if width_factor is not None:
            self._width_range = _factor_range(width_factor, "width_factor", -1.0, 1.0)
        self.height_factor = _as_config(height_factor)
        self.width_factor = None if width_factor is None else _as_config(width_factor)

    def _transforms(self, rng, n, height, width):
        zy = 1.0 + rng.uniform(*self._height_range, size=n)
        zx = zy if self._width_range is None else 1.0 + rng.uniform(*self._width_range, size=n)
        return zoom_transforms(zx, zy, height, width)

    def get_config(self):
        config = {"height_factor": self.height_factor, "width_factor": self.width_factor}
        return {**super().get_config(), **config}


def _value_range(value):
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        and value[0] != value[1]
    ):
        return tuple(sorted(float(v) for v in value))
    raise ValueError(
        "Invalid value for argument `value_range`. Expected two different numbers "
        f"(low, high). Received: value_range={value!r}"
    )


class RandomContrast(_RandomImageLayer):
    """Randomly changes the contrast of each image during training.

    For each image and channel, with ``m`` the channel's mean over the pixels,
    ``out = clip((x - m) · a + m, *value_range)`` with ``a`` drawn once per image.

    Args:
        factor: ``f`` draws ``a`` in ``[1 - f, 1 + f]``; a pair ``(lower, upper)`` in
            ``[1 - lower, 1 + upper]``; values in ``[0, 1]``. (Keras 3's code draws a single
            ``f`` from ``[1, 1 + f]``, against its own documentation: we follow the
            documentation, as tf.keras 2 did.)
        value_range: ``(low, high)`` of the pixel values; outputs are clipped to it.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for a factor outside ``[0, 1]`` or a bad ``value_range``.

    Example:
        >>> x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
        >>> out = RandomContrast(0.5, seed=1)(x, training=True).numpy()
        >>> bool(out.min() >= 0 and out.max() <= 255)
        True
    """

    samplewise = True

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _factor_range(factor, "factor", 0.0, 1.0, symmetric_low=lambda f: f)
        self.factor = _as_config(factor)
        self.value_range = _value_range(value_range)

    def _augment(self, images):
        lower, upper = self._range
        n = len(images)
        a = self._generator().uniform(1.0 - lower, 1.0 + upper, size=(n, 1, 1, 1))
        a = xp.asarray(a, dtype=images.dtype)
        mean = images.mean(axis=(1, 2), keepdims=True)
        return xp.clip((images - mean) * a + mean, *self.value_range).astype(images.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomBrightness(_RandomImageLayer):
    """Randomly brightens or darkens each image during training.

    ``out = clip(x + d · (high - low), low, high)`` with ``(low, high) = value_range`` and
    ``d`` drawn once per image: ``d = -1`` gives a black image, ``d = 1`` a white one.

    Args:
        factor: ``f`` draws ``d`` in ``[-f, f]``, a pair ``(lo, hi)`` in ``[lo, hi]``; values
            in ``[-1, 1]``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``; output shape: the same.

    Raises:
        ValueError: for a factor outside ``[-1, 1]`` or a bad ``value_range``.

    Example:
        >>> x = np.full((1, 2, 2, 1), 0.5, "float32")
        >>> RandomBrightness((1.0, 1.0), value_range=(0, 1))(x, training=True).numpy().ravel()
        array([1., 1., 1., 1.], dtype=float32)
    """

    samplewise = True

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self._range = _factor_range(factor, "factor", -1.0, 1.0)
        self.factor = _as_config(factor)
        self.value_range = _value_range(value_range)

    def _augment(self, images):
        low, high = self.value_range
        delta = self._generator().uniform(*self._range, size=(len(images), 1, 1, 1))
        delta = xp.asarray(delta * (high - low), dtype=images.dtype)
        return xp.clip(images + delta, low, high).astype(images.dtype)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomCrop(_RandomImageLayer):
    """Crops a random ``height × width`` window in training; crops the centre at inference.

    Training, when the images are at least ``height × width``: one random window position
    for the whole batch (as Keras 3). Otherwise, and at inference: the largest centred window
    with the target aspect ratio, resized to ``(height, width)`` (bilinear), as Keras 3
    documents. (Keras 3.x's code returns the input unchanged at inference, keras-team/keras
    #21868, and takes the random branch only when both sides are strictly larger.) Built
    from differentiable ops, so gradients flow through it.

    Args:
        height, width: the output size, positive ints.
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``.
    Output shape:
        ``(N, height, width, C)`` (or ``(height, width, C)``).

    Raises:
        ValueError: for a non-positive ``height`` or ``width``.

    Example:
        >>> x = np.arange(8, dtype="float32").reshape(1, 2, 4, 1)
        >>> RandomCrop(2, 2)(x, training=False).numpy()[0, :, :, 0]  # inference: the centre
        array([[1., 2.],
               [5., 6.]], dtype=float32)
        >>> RandomCrop(1, 2)(x, training=False).numpy()[0, :, :, 0]  # the whole image, resized
        array([[2.5, 4.5]], dtype=float32)
    """

    samplewise = True

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        for name, value in (("height", height), ("width", width)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a strictly positive "
                    f"integer. Received: {name}={value!r}"
                )
        self.height, self.width = int(height), int(width)
        self.data_format = standardize_data_format(data_format)

    def call(self, inputs, training=True):
        self._check_rank(inputs.shape)
        images = inputs.reshape((1, *inputs.shape)) if inputs.ndim == 3 else inputs
        _, h, w, _ = images.shape
        if training and h >= self.height and w >= self.width:
            rng = self._generator()
            top = int(rng.integers(0, h - self.height + 1))
            left = int(rng.integers(0, w - self.width + 1))
            crops = ((top, h - self.height - top), (left, w - self.width - left))
            out = shape_ops.crop2d(images, crops)
        else:
            out = resize_ops.resize(
                images, (self.height, self.width), "bilinear", crop_to_aspect_ratio=True
            )
        return out.reshape(out.shape[1:]) if inputs.ndim == 3 else out

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        return (*tuple(input_shape)[:-3], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = {"height": self.height, "width": self.width, "data_format": self.data_format}
        return {**super().get_config(), **config}
