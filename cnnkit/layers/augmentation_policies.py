"""Augmentation policies built from other augmentation layers: ``RandAugment`` and ``AugMix``.

Both hold one sublayer per operation, made as Keras 3 makes them from ``factor`` and
``value_range`` (Keras's names as attributes: ``random_shear``, ``random_translation``,
``random_rotation``, ``random_brightness``, ``random_color_degeneration``, ``random_contrast``,
``random_sharpness``, ``random_posterization``, ``solarization``, ``auto_contrast``,
``equalization``), and pick operations once per call for the whole batch, as Keras; each
picked sublayer then draws its own parameters per image.

Deviations from Keras, written down: an operation picked twice in one call draws new
parameters the second time (Keras applies one draw twice);
``get_random_transformation`` returns only the picks (the sublayers draw when applied); a
dict with ``"segmentation_masks"`` raises ``NotImplementedError`` (the masks cannot follow the
sublayers' draws); AugMix picks operations from the layer's seeded generator (Keras uses
Python's unseeded ``random.choice``).

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    >>> out = RandAugment(seed=0)(x, training=True).numpy()
    >>> out.shape, out.dtype
    ((2, 8, 8, 3), dtype('float32'))
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.kernels.image import INTERPOLATIONS
from cnnkit.layers.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomRotation,
    RandomTranslation,
    _check_choice,
    _value_range,
)
from cnnkit.layers.augmentation_color import Solarization
from cnnkit.layers.augmentation_geometric import RandomShear, _ImagePreprocessingLayer, _unit_range
from cnnkit.layers.augmentation_histogram import AutoContrast, Equalization
from cnnkit.layers.augmentation_intensity import RandomColorDegeneration, RandomPosterization
from cnnkit.layers.augmentation_local import RandomSharpness

# Keras's operation names (its sublayers' attribute names) and their classes, in Keras's order.
_CLASS_OF = {
    "random_shear": RandomShear,
    "random_translation": RandomTranslation,
    "random_rotation": RandomRotation,
    "random_brightness": RandomBrightness,
    "random_color_degeneration": RandomColorDegeneration,
    "random_contrast": RandomContrast,
    "random_sharpness": RandomSharpness,
    "random_posterization": RandomPosterization,
    "solarization": Solarization,
    "auto_contrast": AutoContrast,
    "equalization": Equalization,
}


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


class _Policy(_ImagePreprocessingLayer):
    """Makes the operation sublayers as Keras does, and applies a list of picks."""

    _OPERATIONS: tuple[str, ...] = ()

    def __init__(self, value_range, factor, interpolation, seed, data_format, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = _value_range(value_range)
        self.factor = _unit_range(factor, "factor")
        self.interpolation = _check_choice(interpolation, INTERPOLATIONS, "interpolation")
        self._operations = list(self._OPERATIONS)
        seeds = [None] * len(_CLASS_OF)
        if seed is not None:  # one independent seed per sublayer, all from the policy's
            seeds = np.random.SeedSequence(seed).generate_state(len(_CLASS_OF)).tolist()
        dtype = {"dtype": kwargs["dtype"]} if "dtype" in kwargs else {}
        arguments = self._arguments()
        for index, (name, cls) in enumerate(_CLASS_OF.items()):
            if name in self._operations:
                extra = {} if name in ("auto_contrast", "equalization") else {"seed": seeds[index]}
                setattr(self, name, cls(**arguments[name], **extra, **dtype))

    def _arguments(self) -> dict[str, dict]:
        """Each operation's constructor arguments (Keras's, from ``factor``/``value_range``)."""
        f, vr, interp = self.factor, self.value_range, self.interpolation
        return {
            "random_shear": {"x_factor": f, "y_factor": f, "interpolation": interp},
            "random_translation": {"height_factor": f, "width_factor": f, "interpolation": interp},
            "random_rotation": {"factor": f, "interpolation": interp},
            "random_brightness": {"factor": f, "value_range": vr},
            "random_color_degeneration": {"factor": f, "value_range": vr},
            "random_contrast": {"factor": f, "value_range": vr},
            "random_sharpness": {"factor": f, "value_range": vr},
            "random_posterization": {"factor": max(1, int(8 * f[1])), "value_range": vr},
            "solarization": {"addition_factor": f, "threshold_factor": f, "value_range": vr},
            "auto_contrast": {"value_range": vr},
            "equalization": {"value_range": vr},
        }

    def _apply(self, images, picks):
        """Apply the operations numbered ``picks`` (indices into ``_operations``; others,
        AugMix's "no operation", are skipped) in order to the whole batch."""
        for pick in np.asarray(picks).reshape(-1):
            if 0 <= pick < len(self._operations):
                layer = getattr(self, self._operations[pick])
                images = np.asarray(layer._augment(images)).astype(self.dtype, copy=False)
        return images

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        raise NotImplementedError(
            f"{type(self).__name__} does not transform 'segmentation_masks' in cnnkit: its "
            "operations draw their parameters as they run, so the masks cannot follow them."
        )

    def get_config(self):
        config = {"value_range": self.value_range, "factor": self.factor}
        return {**super().get_config(), **config, "interpolation": self.interpolation}


class RandAugment(_Policy):
    """RandAugment (Cubuk et al., 2019, https://arxiv.org/abs/1909.13719): ``num_ops`` random
    operations in a row, of one strength ``factor``.

    Each call picks ``num_ops`` operations (with repetition) from Keras's list: shear,
    translation, rotation, brightness, colour degeneration, contrast, sharpness,
    posterization, solarization, auto-contrast, equalization, and applies them in order to the
    whole batch. Their sublayers are made with ``factor`` (a range ``(lo, hi)``) as every
    factor, ``value_range``, and ``max(1, int(8·hi))`` bits for posterization.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        num_ops: how many operations per call, an int ``>= 0`` (default 2).
        factor: ``f`` gives the range ``(0, f)``, a pair ``(lo, hi)`` itself; in ``[0, 1]``
            (default 0.5).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``, for the geometric ones.
        seed: optional int; each sublayer gets its own seed derived from it.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` (``C = 3`` for the colour operations) or ``(H, W, C)``, or a dict
        with ``"images"`` (and ``"labels"``, left unchanged).
    Output shape:
        the same.

    Raises:
        ValueError: a bad ``value_range``, ``num_ops``, ``factor`` or ``interpolation``.

    Example:
        >>> x = np.full((1, 4, 4, 3), 100.0, "float32")
        >>> bool(np.array_equal(RandAugment(num_ops=0)(x, training=True), x))
        True
    """

    _OPERATIONS = tuple(_CLASS_OF)  # Keras's _AUGMENT_LAYERS, in its order

    def __init__(
        self,
        value_range=(0, 255),
        num_ops=2,
        factor=0.5,
        interpolation="bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        self.num_ops = _count(num_ops, "num_ops", 0)
        super().__init__(value_range, factor, interpolation, seed, data_format, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        rng = self._draw_generator(seed)
        return {"layer_idxes": rng.integers(0, len(self._operations), size=self.num_ops)}

    def _transform_images(self, images, transformation, interpolation):
        return self._apply(images, transformation["layer_idxes"])

    def get_config(self):
        return {**super().get_config(), "num_ops": self.num_ops}


class AugMix(_Policy):
    """AugMix (Hendrycks et al., 2020, https://arxiv.org/abs/1912.02781): a blend of the image
    with a mix of ``num_chains`` randomly augmented copies.

    Per call: chain weights ``m ~ Dirichlet(alpha, ..., alpha)`` and ``w ~ Beta(alpha,
    alpha)``; each chain is up to ``chain_depth`` operations, each step picking an operation
    or nothing with equal chances. Then
    ``out = clip(w·x + (1 − w)·Σ_k m_k·chain_k(x), *value_range)``.

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        num_chains: the number of chains, an int ``>= 1`` (default 3).
        chain_depth: the steps per chain, an int ``>= 0`` (default 3).
        factor: ``f`` gives the range ``(0, f)``, a pair ``(lo, hi)`` itself; in ``[0, 1]``
            (default 0.3); the strength of every operation.
        alpha: the Dirichlet and Beta parameter, ``> 0`` (default 1.0).
        all_ops: ``True`` (default) draws from all 11 operations; ``False`` leaves out
            brightness, colour degeneration, contrast and sharpness (as Keras).
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int; each sublayer gets its own seed derived from it.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` (``C = 3`` for the colour operations) or ``(H, W, C)``, or a dict
        with ``"images"`` (and ``"labels"``, left unchanged).
    Output shape:
        the same.

    Raises:
        ValueError: a bad ``value_range``, ``num_chains``, ``chain_depth``, ``factor``,
            ``alpha`` or ``interpolation``.

    Example:
        >>> x = np.full((2, 4, 4, 3), 100.0, "float32")
        >>> bool(np.allclose(AugMix(chain_depth=0)(x, training=True), x))
        True
    """

    _ALL = (
        "random_shear",
        "random_translation",
        "random_rotation",
        "random_posterization",
        "solarization",
        "auto_contrast",
        "equalization",
        "random_brightness",
        "random_color_degeneration",
        "random_contrast",
        "random_sharpness",
    )  # Keras's AUGMENT_LAYERS_ALL, in its order; AUGMENT_LAYERS is the first 7

    def __init__(
        self,
        value_range=(0, 255),
        num_chains=3,
        chain_depth=3,
        factor=0.3,
        alpha=1.0,
        all_ops=True,
        interpolation="bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        self.num_chains = _count(num_chains, "num_chains", 1)
        self.chain_depth = _count(chain_depth, "chain_depth", 0)
        real = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
        if not real or not alpha > 0:
            raise ValueError(
                "Invalid value for argument `alpha`. Expected a number > 0. "
                f"Received: alpha={alpha!r}"
            )
        if not isinstance(all_ops, bool):
            raise ValueError(
                f"Invalid value for argument `all_ops`. Expected a bool. Received: "
                f"all_ops={all_ops!r}"
            )
        self.alpha, self.all_ops = alpha, all_ops
        self._OPERATIONS = self._ALL if all_ops else self._ALL[:7]
        super().__init__(value_range, factor, interpolation, seed, data_format, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        rng = self._draw_generator(seed)
        gammas = rng.gamma(self.alpha, 1.0, size=self.num_chains)
        # a pick equal to the number of operations is "no operation" (Keras's None)
        picks = rng.integers(0, len(self._operations) + 1, size=(self.num_chains, self.chain_depth))
        return {
            "chain_mixing_weights": (gammas / gammas.sum()).astype(self.dtype),
            "weight_sample": np.float32(rng.beta(self.alpha, self.alpha)),
            "chain_transforms": picks,
        }

    def _transform_images(self, images, transformation, interpolation):
        weights = np.asarray(transformation["chain_mixing_weights"], dtype=self.dtype)
        w = np.asarray(transformation["weight_sample"], dtype=self.dtype)
        mixed = np.zeros_like(images)
        for weight, picks in zip(weights, transformation["chain_transforms"]):  # a few chains
            mixed += weight * self._apply(images, picks)
        return np.clip(w * images + (1 - w) * mixed, *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "num_chains": self.num_chains,
            "chain_depth": self.chain_depth,
            "alpha": self.alpha,
            "all_ops": self.all_ops,
        }
