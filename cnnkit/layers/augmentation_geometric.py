"""Geometric augmentations: ``RandomShear``, ``RandomPerspective``, ``RandomElasticTransform``.

These layers, and those of :mod:`cnnkit.layers.augmentation_mixing` and
:mod:`cnnkit.layers.augmentation_policies`, follow Keras 3's ``BaseImagePreprocessingLayer``
protocol: a call draws one random *transformation* for the batch
(:meth:`~_ImagePreprocessingLayer.get_random_transformation`, a dict of arrays with Keras's
keys) and applies it with ``transform_images``, ``transform_labels`` and
``transform_segmentation_masks``. A transformation can be passed back in by hand, which pins
the randomness (the tests feed Keras's own transformations to both libraries).

Calling convention, as Keras: an array of images ``(N, H, W, C)`` or one image ``(H, W, C)``,
or a dict ``{"images": ..., "labels": ..., "segmentation_masks": ...}`` (the data-pipeline
form; other keys pass through). Geometric layers leave labels alone and resample masks with
``"nearest"``; ``CutMix`` and ``MixUp`` mix the labels by the images' weights. Outputs are
float (the layer's dtype, float32 by default).

``training``: as every cnnkit augmentation layer and as Keras, ``call`` defaults to
``training=True``: a call with no ``training`` (and no enclosing call that has one) augments,
``training=False`` (``predict``, ``evaluate``) is the identity. A dict follows the same rule
(``MixUp()({"images": x, "labels": y})`` mixes, as in Keras).

Not implemented: ``bounding_boxes`` (a dict with that key raises ``NotImplementedError``) and
``data_format="channels_first"``. Random values come from NumPy (a layer's ``seed`` gives its
own generator, else ``backend.rng()``), so they differ from Keras's draws; distributions,
formulas and pinned transformations match.

Example:
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> shear = RandomShear(x_factor=0.3, seed=0)
    >>> bool(np.array_equal(shear(x, training=False), x))  # inference: the identity
    True
    >>> shear(x, training=True).shape
    (1, 4, 4, 1)
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit import random as cnnkit_random
from cnnkit.autodiff import Tensor
from cnnkit.kernels.image import FILL_MODES, INTERPOLATIONS, affine_transform
from cnnkit.layers.augmentation import _check_choice, _RandomImageLayer, _value_range
from cnnkit.layers.base import NOT_GIVEN, standardize_data_format


def _unit_range(value, name: str) -> tuple[float, float]:
    """``f`` -> ``(0, f)``, a pair -> sorted; every number in ``[0, 1]`` (Keras's ``_set_factor``
    with bounds ``(0, 1)``, which checks only the outer ends of a pair)."""
    message = (
        f"The `{name}` argument should be a number (or a list of two numbers) in the range "
        f"[0, 1]. Received: {name}={value!r}"
    )
    if _is_number(value):
        if not 0 <= value <= 1:
            raise ValueError(message)
        return 0.0, float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_number, value)):
        low, high = sorted(float(v) for v in value)
        if 0 <= low and high <= 1:
            return low, high
    raise ValueError(message)


def _image_ops():
    """:mod:`cnnkit.ops.image`, imported on first use: ``cnnkit.ops`` is heavy, and
    ``import cnnkit`` does not load it."""
    from cnnkit.ops import image

    return image


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _ImagePreprocessingLayer(_RandomImageLayer):
    """Keras's ``BaseImagePreprocessingLayer`` protocol on cnnkit's random image layers.

    Subclasses define :meth:`get_random_transformation` and :meth:`_transform_images`
    (batched ``(N, H, W, C)`` arrays); labels pass unchanged unless
    :meth:`transform_labels` is overridden.
    """

    samplewise = True  # the identity in inference
    interpolation = "bilinear"

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.data_format = standardize_data_format(data_format)

    # -- the protocol ---------------------------------------------------
    def _draw_generator(self, seed) -> np.random.Generator:
        """The generator of one draw: the layer's, or one from a ``seed`` given by hand."""
        return self._generator() if seed is None else cnnkit_random._generator(seed)

    @staticmethod
    def _images_of(data):
        return data["images"] if isinstance(data, dict) else data

    @staticmethod
    def _batch_shape(images) -> tuple:
        """``(N, H, W, C)`` of a batch, or of a single image seen as a batch of one."""
        shape = tuple(np.shape(images))
        return shape if len(shape) == 4 else (1, *shape)

    def get_random_transformation(self, data, training=True, seed=None):
        """The random draws of one call for ``data`` (images, or a dict with ``"images"``);
        ``None`` when not training. ``seed`` (an int or a ``SeedGenerator``) replaces the
        layer's generator for this draw."""
        return None

    def transform_images(self, images, transformation, training=True):
        """Apply ``transformation`` to a batch ``(N, H, W, C)``; the identity when it is None
        or not training. Returns an array in the layer's dtype."""
        images = np.asarray(images).astype(self.dtype, copy=False)
        if training and transformation is not None and images.size:
            images = self._transform_images(images, transformation, self.interpolation)
        return images.astype(self.dtype, copy=False)

    def _transform_images(self, images, transformation, interpolation):  # pragma: no cover
        raise NotImplementedError

    def transform_labels(self, labels, transformation, training=True):
        """Labels of the batch after the transformation: unchanged for geometric layers."""
        return labels

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        """Masks ``(N, H, W, C)`` moved as the images, resampled with ``"nearest"``."""
        masks = np.asarray(segmentation_masks)
        if training and transformation is not None and masks.size:
            masks = self._transform_images(masks.astype(self.dtype), transformation, "nearest")
        return masks

    # -- calling --------------------------------------------------------
    def _augment(self, images):
        transformation = self.get_random_transformation(images, training=True)
        return self.transform_images(images, transformation, training=True)

    def __call__(self, inputs, *args, training=NOT_GIVEN, **kwargs):
        if isinstance(inputs, dict):
            return self._call_dict(inputs, bool(self._resolve_training(training)))
        return super().__call__(inputs, *args, training=training, **kwargs)

    def _call_dict(self, data: dict, training: bool) -> dict:
        """Keras's dict convention: images, labels and masks transformed by one draw."""
        if "images" not in data:
            raise ValueError(
                f"Layer {self.name!r} expects a dict with an 'images' key. Received keys: "
                f"{sorted(data)}"
            )
        if "bounding_boxes" in data:
            raise NotImplementedError(
                f"{type(self).__name__} does not transform 'bounding_boxes' in cnnkit. Drop "
                "the key, or transform the boxes outside the layer."
            )
        raw = {k: v.data if isinstance(v, Tensor) else v for k, v in data.items()}
        images = self._to_tensor(raw["images"]).data
        self._check_rank(images.shape)
        single = images.ndim == 3
        batch = images[None] if single else images
        data_batch = {**raw, "images": batch}
        transformation = self.get_random_transformation(data_batch, training=training)
        out = dict(data)
        out["images"] = self.transform_images(batch, transformation, training)
        steps = (
            ("labels", self.transform_labels),
            ("segmentation_masks", self.transform_segmentation_masks),
        )
        for key, transform in steps:
            if key in raw:
                value = np.asarray(raw[key])
                out[key] = transform(value[None] if single else value, transformation, training)
        for key in ("images", *(k for k, _ in steps if k in raw)):
            value = np.asarray(out[key])
            out[key] = Tensor(value[0] if single else value)
        return out

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class RandomShear(_ImagePreprocessingLayer):
    """Randomly shears images along x and/or y during training.

    Each image draws ``s_x`` from ``x_factor`` and ``s_y`` from ``y_factor`` and a sign
    ``±1`` (one coin for both); output pixel ``(x, y)`` reads the input at
    ``(x + s_x·y, y + s_y·x)`` (the shear is about the top-left corner, as Keras's).

    Args:
        x_factor: ``f`` in ``[0, 1]`` draws ``s_x`` in ``[-f, f]``; a pair ``(lo, hi)`` of
            numbers in ``[0, 1]`` draws in ``[lo, hi]`` (then the random sign). Default 0.
        y_factor: the same for ``s_y``. ``get_config`` writes both as the range
            ``(lo, hi)``, as Keras (and ``from_config`` reads Keras's ``(-f, f)`` back).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        fill_mode: ``"reflect"`` (default, ``d c b a | a b c d | d c b a``), ``"wrap"``,
            ``"constant"`` (``fill_value``) or ``"nearest"``. (Keras's PyTorch backend turns
            ``"reflect"`` into ``"mirror"``; cnnkit reflects, as the documentation says.)
        fill_value: the value outside the image for ``fill_mode="constant"``.
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``, or a dict with ``"images"``.
    Output shape:
        the same.

    Raises:
        ValueError: a factor outside ``[0, 1]``, an unknown fill mode or interpolation (Keras
            raises ``NotImplementedError`` for the last two).

    Example:
        >>> x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
        >>> out = RandomShear(x_factor=(1.0, 1.0), fill_mode="constant")(x, training=True)
        >>> row = out.numpy()[0, 1, :, 0]  # row y=1 moves one pixel left or right
        >>> row.tolist() in ([4.0, 5.0, 0.0], [0.0, 3.0, 4.0])
        True
    """

    def __init__(
        self,
        x_factor=0.0,
        y_factor=0.0,
        interpolation="bilinear",
        fill_mode="reflect",
        fill_value=0.0,
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = self._shear_range(x_factor, "x_factor")
        self.y_factor = self._shear_range(y_factor, "y_factor")
        self.interpolation = _check_choice(interpolation, INTERPOLATIONS, "interpolation")
        self.fill_mode = _check_choice(fill_mode, FILL_MODES, "fill_mode")
        self.fill_value = fill_value

    @staticmethod
    def _shear_range(value, name):
        low, high = _unit_range(value, name)
        return (-high, high) if _is_number(value) else (low, high)

    @classmethod
    def from_config(cls, config):
        # get_config writes a number f as Keras does, as the range (-f, f), which the
        # constructor (as Keras's) refuses: read such a symmetric pair back as f.
        config = dict(config)
        for key in ("x_factor", "y_factor"):
            value = config.get(key)
            if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == -value[1]:
                config[key] = abs(value[1])
        return super().from_config(config)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        shape = self._batch_shape(self._images_of(data))
        n = shape[0]
        rng = self._draw_generator(seed)
        sign = np.where(rng.uniform(size=(n, 1)) > 0.5, -1.0, 1.0)
        shear = np.concatenate(
            [rng.uniform(*self.x_factor, size=(n, 1)), rng.uniform(*self.y_factor, size=(n, 1))],
            axis=1,
        )
        return {"shear_factor": (shear * sign).astype(self.dtype), "input_shape": shape}

    def _transform_images(self, images, transformation, interpolation):
        s = np.asarray(transformation["shear_factor"], dtype=np.float64).reshape(-1, 2)
        ones, zeros = np.ones(len(s)), np.zeros(len(s))
        rows = np.stack([ones, s[:, 0], zeros, s[:, 1], ones, zeros, zeros, zeros], axis=1)
        return affine_transform(images, rows, interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {
            **super().get_config(),
            "x_factor": self.x_factor,
            "y_factor": self.y_factor,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


class RandomPerspective(_ImagePreprocessingLayer):
    """Randomly distorts the perspective of images during training.

    Each image is warped with probability ``p``, itself drawn per image from ``factor``: its
    four corners ``c`` move to ``c + c·u``, ``u`` uniform in ``[-scale/2, scale/2]`` per
    coordinate (the top-left corner stays), and the picture follows the homography from the
    moved corners back to the original ones. Points that fall outside read ``fill_value``.

    Args:
        factor: ``f`` draws ``p`` in ``[0, f]``; a pair ``(lo, hi)`` in ``[lo, hi]``; in
            ``[0, 1]``. Default 1.0.
        scale: how far the corners move, in ``[0, 1]`` (default 1.0).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        fill_value: the value outside the warped image.
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``, or a dict with ``"images"``. Images
        smaller than 2×2 have no perspective and pass unchanged.
    Output shape:
        the same.

    Raises:
        ValueError: ``factor`` or ``scale`` outside ``[0, 1]``, an unknown interpolation.

    Example:
        >>> x = np.ones((2, 4, 4, 1), "float32")
        >>> out = RandomPerspective(scale=0.0, seed=1)(x, training=True)
        >>> bool(np.allclose(out, x))  # corners that do not move: the identity
        True
    """

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation="bilinear",
        fill_value=0.0,
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_range(factor, "factor")
        if not _is_number(scale) or not 0 <= scale <= 1:
            raise ValueError(
                f"The `scale` argument should be a number in the range [0,1]. "
                f"Received: scale={scale!r}"
            )
        self.scale = scale
        self.interpolation = _check_choice(interpolation, INTERPOLATIONS, "interpolation")
        self.fill_value = fill_value

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        shape = self._batch_shape(self._images_of(data))
        n, h, w = shape[:3]
        rng = self._draw_generator(seed)
        probability = rng.uniform(*self.factor, size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        shift = rng.uniform(-0.5 * self.scale, 0.5 * self.scale, size=(n, 4, 2))
        corners = np.array([[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]])
        start = np.broadcast_to(corners, (n, 4, 2)).astype(self.dtype)
        end = (start + start * shift).astype(self.dtype)
        return {
            "apply_perspective": apply,
            "start_points": start,
            "end_points": end,
            "input_shape": shape,
        }

    def _transform_images(self, images, transformation, interpolation):
        _, h, w, _ = images.shape
        apply = np.asarray(transformation["apply_perspective"], dtype=bool).reshape(-1)
        chosen = np.flatnonzero(np.broadcast_to(apply, (len(images),)))
        if h < 2 or w < 2 or not len(chosen):  # a degenerate quad: no homography
            return images
        start = np.asarray(transformation["start_points"])[chosen]
        end = np.asarray(transformation["end_points"])[chosen]
        warped = _image_ops().perspective_transform(
            images[chosen], start, end, interpolation=interpolation, fill_value=self.fill_value
        )
        out = images.copy()
        out[chosen] = warped
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_value": self.fill_value,
        }


class RandomElasticTransform(_ImagePreprocessingLayer):
    """Randomly applies an elastic deformation (Simard et al., 2003) during training.

    Each image is deformed with probability ``p``, drawn per image from ``factor``. One
    distortion ``d``, drawn from ``scale`` per call, sets the displacement
    ``alpha = 0.1·d·max(H, W)`` and the smoothness ``sigma = 0.05·d·min(H, W)`` of
    :func:`cnnkit.ops.image.elastic_transform`. Every output (deformed or not) is clipped to
    ``value_range``, as Keras.

    Args:
        factor: ``f`` draws ``p`` in ``[0, f]``, a pair ``(lo, hi)`` in ``[lo, hi]``; in
            ``[0, 1]``. Default 1.0.
        scale: ``s`` draws ``d`` in ``[0, s]``, a pair in ``[lo, hi]``; in ``[0, 1]``.
            Default 1.0.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        fill_mode: ``"reflect"`` (default), ``"mirror"``, ``"wrap"``, ``"constant"`` or
            ``"nearest"`` (as :func:`cnnkit.ops.image.map_coordinates`).
        fill_value: the value outside the image for ``fill_mode="constant"``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or one image ``(H, W, C)``, or a dict with ``"images"``.
    Output shape:
        the same.

    Raises:
        ValueError: ``factor`` or ``scale`` outside ``[0, 1]``, a bad ``value_range``, an
            unknown fill mode or interpolation.

    Example:
        >>> x = np.full((1, 8, 8, 1), 300.0, "float32")
        >>> RandomElasticTransform(seed=0)(x, training=True).numpy().max()  # clipped
        np.float32(255.0)
    """

    def __init__(
        self,
        factor=1.0,
        scale=1.0,
        interpolation="bilinear",
        fill_mode="reflect",
        fill_value=0.0,
        value_range=(0, 255),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_range(factor, "factor")
        self.scale = _unit_range(scale, "scale")
        self.interpolation = _check_choice(interpolation, INTERPOLATIONS, "interpolation")
        self.fill_mode = _check_choice(fill_mode, _image_ops().FILL_MODES, "fill_mode")
        self.fill_value = fill_value
        self.value_range = _value_range(value_range)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or self.scale[1] == 0 or self.factor[1] == 0:
            return None
        n = self._batch_shape(self._images_of(data))[0]
        rng = self._draw_generator(seed)
        probability = rng.uniform(*self.factor, size=n)
        apply = rng.uniform(0.0, 1.0, size=n) < probability
        distortion = np.float32(rng.uniform(*self.scale))
        field_seed = int(rng.integers(0, 2**31 - 1))
        return {"apply_transform": apply, "distortion_factor": distortion, "seed": field_seed}

    @staticmethod
    def get_elastic_transform_params(height, width, factor):
        """``(alpha, sigma)`` of the deformation for a distortion ``factor`` (Keras's rule)."""
        return max(height, width) * 0.1 * factor, min(height, width) * 0.05 * factor

    def _transform_images(self, images, transformation, interpolation):
        _, h, w, _ = images.shape
        d = float(transformation["distortion_factor"])
        alpha, sigma = self.get_elastic_transform_params(h, w, d)
        apply = np.asarray(transformation["apply_transform"], dtype=bool).reshape(-1, 1, 1, 1)
        if sigma > 0 and apply.any():
            deformed = _image_ops().elastic_transform(
                images,
                alpha=alpha,
                sigma=sigma,
                interpolation=interpolation,
                fill_mode=self.fill_mode,
                fill_value=self.fill_value,
                seed=int(transformation["seed"]),
            )
            images = np.where(apply, deformed, images)
        return np.clip(images, *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "scale": self.scale,
            "interpolation": self.interpolation,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "value_range": self.value_range,
        }
