"""Augmentations that mix pairs of images and their labels: ``CutMix`` and ``MixUp`` (Keras 3).

Each image ``i`` of a batch is mixed with image ``perm[i]`` of a random permutation of the
batch, and its labels with the same partner by the same weight ``λ_i``:
``labels_i ← λ_i·labels_i + (1 − λ_i)·labels_perm[i]``. Call them on a dict
``{"images": ..., "labels": ...}`` to mix the labels too (the data-pipeline form, where an
unset ``training`` means ``True``, as Keras); on an array they mix the images only, and only
with ``training=True``. See :mod:`cnnkit.layers.augmentation_geometric` for the protocol
(``get_random_transformation`` / ``transform_images`` / ``transform_labels``).

Example:
    >>> import numpy as np
    >>> images = np.stack([np.zeros((2, 2, 1)), np.ones((2, 2, 1))]).astype("float32")
    >>> labels = np.eye(2, dtype="float32")
    >>> out = MixUp(alpha=0.4, seed=0)({"images": images, "labels": labels})
    >>> mixed, mixed_labels = out["images"].numpy(), out["labels"].numpy()
    >>> bool(np.allclose(mixed[:, 0, 0, 0], mixed_labels[:, 1]))  # pixel value = share of image 1
    True
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit.layers.augmentation_geometric import _ImagePreprocessingLayer, _unit_range


def _mix(values, weights, permutation, dtype):
    """``λ·v + (1 − λ)·v[perm]`` with one ``λ`` per sample (broadcast over the other axes)."""
    values = np.asarray(values).astype(dtype, copy=False)
    lam = np.asarray(weights, dtype=dtype).reshape((-1,) + (1,) * (values.ndim - 1))
    return lam * values + (1 - lam) * values[np.asarray(permutation)]


class CutMix(_ImagePreprocessingLayer):
    """CutMix (Yun et al., 2019, https://arxiv.org/abs/1905.04899): pastes a box of another
    image of the batch into each image, and mixes the labels by the box's area.

    Per call, ``a`` is drawn from ``factor`` (plus ``1e-6``); per image, ``λ ~ Beta(a, a)``,
    a box of ``√(1 − λ)·W`` by ``√(1 − λ)·H`` at a uniform random position, and the partner
    ``perm[i]``. The pixels whose coordinates fall inside the box come from the partner; the
    labels mix with ``λ = 1 − box area / (H·W)`` (the real-valued box, as Keras: within a
    pixel border of the share of pasted pixels). A single image is left unchanged.

    Args:
        factor: ``f`` draws ``a`` in ``[0, f]``, a pair ``(lo, hi)`` in ``[lo, hi]``; in
            ``[0, 1]``. Default 1.0. Small ``a`` makes ``λ`` near 0 or 1 (boxes of almost all
            or nothing); ``a = 1`` makes ``λ`` uniform.
        seed: optional int for a layer-local generator.
        data_format: only ``"channels_last"``.

    Input shape:
        ``(N, H, W, C)`` or ``(H, W, C)``, or a dict with ``"images"``, ``"labels"``
        (``(N, ...)``, usually one-hot ``(N, K)``) and ``"segmentation_masks"``.
    Output shape:
        the same; labels become float.

    Raises:
        ValueError: ``factor`` outside ``[0, 1]``.

    Example:
        >>> images = np.stack([np.zeros((4, 4, 1)), np.ones((4, 4, 1))]).astype("float32")
        >>> out = CutMix(seed=3)({"images": images, "labels": np.eye(2, dtype="float32")})
        >>> sorted(np.unique(out["images"].numpy()).tolist()) in ([0.0], [1.0], [0.0, 1.0])
        True
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _unit_range(factor, "factor")

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        shape = np.shape(self._images_of(data))
        if len(shape) == 3:
            return None
        n, h, w = shape[:3]
        rng = self._draw_generator(seed)
        alpha = rng.uniform(*self.factor) + 1e-6
        mix_weight = rng.beta(alpha, alpha, size=n)
        ratio = np.sqrt(1.0 - mix_weight)
        x0, x1 = self._crop_bounds(rng, w, ratio)
        y0, y1 = self._crop_bounds(rng, h, ratio)
        rows = np.arange(h, dtype=np.float64)[None, :, None, None]
        cols = np.arange(w, dtype=np.float64)[None, None, :, None]
        x0, x1, y0, y1 = (v[:, None, None, None] for v in (x0, x1, y0, y1))
        masks = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)  # (N, H, W, 1)
        area = ((x1 - x0) * (y1 - y0)).reshape(n)
        return {
            "permutation_order": rng.permutation(n),
            "batch_masks": masks,
            "mix_weight": (1.0 - area / max(w * h, 1)).astype(self.dtype),
        }

    @staticmethod
    def _crop_bounds(rng, length: int, ratio):
        """Start and end of a box side of ``ratio · length`` at a uniform random position."""
        crop = ratio * length
        start = rng.uniform(0.0, 1.0, size=len(ratio)) * (length - crop)
        return start, start + crop

    def transform_images(self, images, transformation, training=True):
        images = np.asarray(images).astype(self.dtype, copy=False)
        if not training or transformation is None:
            return images
        masks = np.asarray(transformation["batch_masks"], dtype=bool)
        partners = images[np.asarray(transformation["permutation_order"])]
        return np.where(masks, partners, images)

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        return _mix(
            labels, transformation["mix_weight"], transformation["permutation_order"], self.dtype
        )

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(segmentation_masks, transformation, training)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class MixUp(_ImagePreprocessingLayer):
    """MixUp (Zhang et al., 2018, https://arxiv.org/abs/1710.09412): blends each image with
    another image of the batch, and the labels by the same weight.

    Per image, ``λ ~ Beta(alpha, alpha)`` and a partner ``perm[i]``:
    ``out_i = λ·x_i + (1 − λ)·x_perm[i]``, ``labels_i = λ·y_i + (1 − λ)·y_perm[i]``.

    Args:
        alpha: the Beta distribution's parameter, ``> 0`` (default 0.2, Keras's choice for
            ImageNet): small values keep ``λ`` near 0 or 1 (little blending), 1 makes it
            uniform.
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(N, H, W, C)`` or ``(H, W, C)``, or a dict with ``"images"``, ``"labels"``
        (``(N, ...)``) and ``"segmentation_masks"``.
    Output shape:
        the same; labels become float.

    Raises:
        ValueError: ``alpha`` not a positive number (Keras does not check it; NumPy's Beta
            needs it positive).

    Example:
        >>> x = np.ones((4, 2, 2, 3), "float32")
        >>> bool(np.allclose(MixUp(seed=0)(x, training=True), x))  # mixing equal images
        True
    """

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        real = isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
        if not real or not alpha > 0:
            raise ValueError(
                "Invalid value for argument `alpha`. Expected a number > 0. "
                f"Received: alpha={alpha!r}"
            )
        self.alpha = alpha

    def get_random_transformation(self, data, training=True, seed=None):
        shape = np.shape(self._images_of(data))
        n = shape[0] if len(shape) == 4 else 1
        rng = self._draw_generator(seed)
        return {
            "mix_weight": rng.beta(self.alpha, self.alpha, size=n).astype(self.dtype),
            "permutation_order": rng.permutation(n),
        }

    def transform_images(self, images, transformation, training=True):
        images = np.asarray(images).astype(self.dtype, copy=False)
        if not training or transformation is None:
            return images
        t = transformation
        return _mix(images, t["mix_weight"], t["permutation_order"], self.dtype)

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        t = transformation
        return _mix(labels, t["mix_weight"], t["permutation_order"], self.dtype)

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_labels(segmentation_masks, transformation, training)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}
