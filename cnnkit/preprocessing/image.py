"""tf.keras 2's ``ImageDataGenerator``: random augmentation and normalisation of image arrays.

``datagen.flow(x, y)`` returns a :class:`NumpyArrayIterator` that yields augmented
``(x_batch, y_batch)`` batches forever, reshuffling at each epoch; ``model.fit`` takes it with
``steps_per_epoch``. Each batch is transformed at once: the rotation, shifts, shear, zoom and
flips of every image are composed into one affine transform per image and resampled in one
pass by :func:`cnnkit.layers.augmentation.affine_transform`, the sampler of the Keras 3
augmentation layers. Then, per image, as tf.keras: channel shift, brightness, and
:meth:`ImageDataGenerator.standardize` (``preprocessing_function``, ``rescale``, sample-wise
then feature-wise normalisation, ZCA whitening).

Deliberate deviations from tf.keras 2 (all documented there as we do them):

* ``height_shift_range`` shifts vertically and ``width_shift_range`` horizontally, as
  documented; recent tf.keras versions swap them (keras-team/tf-keras#310). In the
  parameter dicts ``tx`` is the shift along x (columns) and ``ty`` along y (rows).
* Rotations, shears and zooms turn about the true centre ``((W - 1) / 2, (H - 1) / 2)``; tf.keras
  swaps height and width there, which moves the centre of non-square images.
* ``fill_mode="wrap"`` is periodic with period ``size`` (SciPy's ``"grid-wrap"``), and
  ``"constant"`` blends ``cval`` into the border pixels as TensorFlow's kernels do; tf.keras
  goes through ``scipy.ndimage`` (``"wrap"`` there has period ``size - 1``).
* ``standardize`` returns a new array instead of changing its argument in place, and on a
  batch normalises each sample by its own statistics.
* Images are not read from files: ``flow_from_directory``/``flow_from_dataframe`` raise.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).uniform(0, 255, (10, 8, 8, 3)).astype("float32")
    >>> datagen = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True, rotation_range=10)
    >>> batches = datagen.flow(x, np.arange(10), batch_size=4, seed=0)
    >>> len(batches), [b[0].shape[0] for b in (next(batches), next(batches), next(batches))]
    (3, [4, 4, 2])
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from cnnkit import backend
from cnnkit.kernels.image import FILL_MODES, affine_transform
from cnnkit.layers.base import standardize_data_format
from cnnkit.utils.image_utils import (  # keras.preprocessing.image aliases
    array_to_img as array_to_img,
)
from cnnkit.utils.image_utils import img_to_array as img_to_array
from cnnkit.utils.image_utils import load_img as load_img
from cnnkit.utils.image_utils import save_img as save_img
from cnnkit.utils.image_utils import smart_resize as smart_resize

_INTERPOLATION_ORDERS = {0: "nearest", 1: "bilinear"}


def _check_shift_range(value, name: str):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok and isinstance(value, (list, tuple, np.ndarray)):
        values = np.asarray(value)
        ok = values.ndim == 1 and values.size > 0 and values.dtype.kind in "iuf"
    if not ok:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a float (a fraction of the size, "
            "or pixels when >= 1), an int (pixels) or a 1-D list of values. "
            f"Received: {name}={value!r}"
        )
    return value


def _draw_shifts(rng, shift_range, n: int, size: int):
    """tf.keras's shift draw, for ``n`` images along an axis of ``size`` pixels.

    An int ``r``: whole pixels in ``(-r, r)``; a list: one of its values with a random sign;
    a float: uniform in ``[-r, r]``. Values below 1 are fractions of ``size``.
    """
    if not np.any(shift_range):
        return np.zeros(n)
    if isinstance(shift_range, (int, np.integer)):
        shifts = rng.integers(0, shift_range, size=n) * rng.choice([-1, 1], size=n)
    elif isinstance(shift_range, (list, tuple, np.ndarray)):
        shifts = rng.choice(np.asarray(shift_range, float), size=n) * rng.choice([-1, 1], size=n)
    else:
        shifts = rng.uniform(-shift_range, shift_range, size=n)
    shifts = shifts.astype(float)
    return shifts * size if np.max(shift_range) < 1 else shifts


def _matrices(rows):
    """(N, 3, 3) matrices from nested lists of (N,) arrays or scalars."""
    n = max(np.size(v) for row in rows for v in row)
    return np.stack([np.stack([np.broadcast_to(v, n) for v in row], -1) for row in rows], -2)


class ImageDataGenerator:
    """Generates batches of augmented, normalised images (tf.keras 2's API).

    Args:
        featurewise_center: subtract the per-channel mean of the data given to :meth:`fit`.
        samplewise_center: subtract each image's mean.
        featurewise_std_normalization: divide by the per-channel std from :meth:`fit`.
        samplewise_std_normalization: divide each image by its std.
        zca_whitening: apply the ZCA whitening matrix computed by :meth:`fit`.
        zca_epsilon: added to the singular values in ZCA (default ``1e-6``).
        rotation_range: degrees; rotations uniform in ``[-r, r]``, positive counter-clockwise.
        width_shift_range: float (fraction of the width, or pixels when >= 1), int (whole
            pixels in ``(-r, r)``) or 1-D list (one of its values, random sign).
        height_shift_range: the same, vertically.
        brightness_range: ``(low, high)``: the image is multiplied by a factor in that range
            after quantisation to 8 bits, as tf.keras's use of PIL's ``ImageEnhance``.
        shear_range: degrees; counter-clockwise shear angle uniform in ``[-s, s]``.
        zoom_range: float ``z`` (zoom factors in ``[1 - z, 1 + z]``) or ``(low, high)``,
            drawn independently for x and y; factors above 1 zoom out.
        channel_shift_range: adds ``u`` uniform in ``[-r, r]`` to every channel, clipped to
            the image's range.
        fill_mode: ``"nearest"`` (default), ``"constant"``, ``"reflect"`` or ``"wrap"``.
        cval: the value outside the image for ``fill_mode="constant"``.
        horizontal_flip, vertical_flip: flip half of the images left-right / top-bottom.
        rescale: multiply the data by this value (after the other transforms).
        preprocessing_function: called on each image (rank 3) after augmentation, before
            ``rescale``.
        data_format: only ``"channels_last"``.
        validation_split: fraction reserved for ``flow(..., subset="validation")``.
        interpolation_order: 1 (bilinear, default) or 0 (nearest).
        dtype: dtype of the batches (default ``backend.floatx()``).

    Raises:
        ValueError: for an invalid range, fill mode, data format or validation split.
        NotImplementedError: for an interpolation order other than 0 or 1.

    Example:
        >>> x = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4, 1)
        >>> datagen = ImageDataGenerator(featurewise_center=True)
        >>> datagen.fit(x)
        >>> float(datagen.mean.ravel()[0])
        15.5
        >>> float(datagen.standardize(x).mean())
        0.0
    """

    def __init__(
        self,
        featurewise_center=False,
        samplewise_center=False,
        featurewise_std_normalization=False,
        samplewise_std_normalization=False,
        zca_whitening=False,
        zca_epsilon=1e-6,
        rotation_range=0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        brightness_range=None,
        shear_range=0.0,
        zoom_range=0.0,
        channel_shift_range=0.0,
        fill_mode="nearest",
        cval=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        rescale=None,
        preprocessing_function=None,
        data_format=None,
        validation_split=0.0,
        interpolation_order=1,
        dtype=None,
    ):
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = _check_shift_range(width_shift_range, "width_shift_range")
        self.height_shift_range = _check_shift_range(height_shift_range, "height_shift_range")
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in FILL_MODES:
            raise ValueError(
                f"Invalid value for argument `fill_mode`. Expected one of {FILL_MODES}. "
                f"Received: fill_mode={fill_mode!r}"
            )
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.data_format = standardize_data_format(data_format)
        self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if interpolation_order not in _INTERPOLATION_ORDERS:
            raise NotImplementedError(
                "cnnkit's ImageDataGenerator supports `interpolation_order` 0 (nearest) and 1 "
                f"(bilinear). Received: interpolation_order={interpolation_order!r}"
            )
        self.interpolation_order = interpolation_order
        self.dtype = str(np.dtype(dtype)) if dtype is not None else backend.floatx()
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(
                "`validation_split` must be strictly between 0 and 1. "
                f"Received: validation_split={validation_split!r}"
            )
        self._validation_split = validation_split
        self.mean = self.std = self.zca_whitening_matrix = None

        if isinstance(zoom_range, numbers.Real) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (
            isinstance(zoom_range, (list, tuple))
            and len(zoom_range) == 2
            and all(isinstance(v, numbers.Real) for v in zoom_range)
        ):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(
                "`zoom_range` should be a float or a tuple or list of two floats. "
                f"Received: zoom_range={zoom_range!r}"
            )
        if brightness_range is not None and (
            not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2
        ):
            raise ValueError(
                "`brightness_range` should be a tuple or list of two floats. "
                f"Received: brightness_range={brightness_range!r}"
            )
        self.brightness_range = brightness_range
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening`, which overrides "
                    "setting of `featurewise_center`.",
                    stacklevel=2,
                )
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn(
                    "This ImageDataGenerator specifies `zca_whitening` which overrides "
                    "setting of `featurewise_std_normalization`.",
                    stacklevel=2,
                )
        if featurewise_std_normalization and not self.featurewise_center:
            self.featurewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `featurewise_std_normalization`, which "
                "overrides setting of `featurewise_center`.",
                stacklevel=2,
            )
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn(
                "This ImageDataGenerator specifies `samplewise_std_normalization`, which "
                "overrides setting of `samplewise_center`.",
                stacklevel=2,
            )

    # -- iterators ------------------------------------------------------------
    def flow(
        self,
        x,
        y=None,
        batch_size=32,
        shuffle=True,
        sample_weight=None,
        seed=None,
        save_to_dir=None,
        save_prefix="",
        save_format="png",
        ignore_class_split=False,
        subset=None,
    ) -> NumpyArrayIterator:
        """An endless iterator of augmented batches ``(x, y)`` (or ``(x, y, sample_weight)``,
        or ``x`` alone when ``y`` is None); see :class:`NumpyArrayIterator`.
        """
        return NumpyArrayIterator(
            x,
            y,
            self,
            batch_size=batch_size,
            shuffle=shuffle,
            sample_weight=sample_weight,
            seed=seed,
            data_format=self.data_format,
            save_to_dir=save_to_dir,
            save_prefix=save_prefix,
            save_format=save_format,
            ignore_class_split=ignore_class_split,
            subset=subset,
            dtype=self.dtype,
        )

    def flow_from_directory(self, directory, *args, **kwargs):
        raise NotImplementedError(
            "cnnkit does not read image files: load the images into an array of shape "
            "(N, H, W, C) and use `flow(x, y)`."
        )

    flow_from_dataframe = flow_from_directory

    # -- normalisation -------------------------------------------------------
    def standardize(self, x):
        """The normalisation part of the pipeline, on one image ``(H, W, C)`` or a batch.

        In order: ``preprocessing_function``, ``rescale``, sample-wise centre and std, feature-
        wise centre and std (from :meth:`fit`; ``+ 1e-6`` under the std), ZCA whitening.

        Returns:
            a new float array (``x`` is left unchanged).
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim == 3:
            return self._standardize_batch(x[None])[0]
        if x.ndim != 4:
            raise ValueError(f"Expected one image (rank 3) or a batch (rank 4). Received {x.shape}")
        return self._standardize_batch(x)

    def _standardize_batch(self, x):
        """``standardize`` on an owned float batch (changed in place where possible)."""
        if self.preprocessing_function:  # its contract is one image at a time
            x = np.stack([np.asarray(self.preprocessing_function(img)) for img in x])
            x = x.astype(self.dtype, copy=False)
        if self.rescale:
            x *= np.asarray(self.rescale, dtype=x.dtype)
        if self.samplewise_center:
            x -= x.mean(axis=(1, 2, 3), keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=(1, 2, 3), keepdims=True) + np.asarray(1e-6, x.dtype)
        for flag, value, name in (
            (self.featurewise_center, self.mean, "featurewise_center"),
            (self.featurewise_std_normalization, self.std, "featurewise_std_normalization"),
            (self.zca_whitening, self.zca_whitening_matrix, "zca_whitening"),
        ):
            if flag and value is None:
                warnings.warn(
                    f"This ImageDataGenerator specifies `{name}`, but it hasn't been fit on "
                    "any training data. Fit it first by calling `.fit(numpy_data)`.",
                    stacklevel=3,
                )
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + np.asarray(1e-6, x.dtype)
        if self.zca_whitening and self.zca_whitening_matrix is not None:
            flat = x.reshape(len(x), -1) @ self.zca_whitening_matrix
            x = flat.reshape(x.shape).astype(self.dtype, copy=False)
        return x

    def fit(self, x, augment=False, rounds=1, seed=None) -> None:
        """Compute the feature-wise statistics (mean, std, ZCA matrix) from sample data.

        ``rescale`` is applied first; with ``augment=True`` the statistics are those of
        ``rounds`` randomly augmented copies of ``x``.

        Args:
            x: array ``(N, H, W, C)``.
            augment: fit on augmented copies.
            rounds: number of augmented copies.
            seed: seed of the augmentation draws.
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(
                f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}"
            )
        self._warn_channels(x.shape, "`.fit()`")
        if self.rescale:
            x *= np.asarray(self.rescale, dtype=x.dtype)
        if augment:
            rng = np.random.default_rng(seed) if seed is not None else backend.rng()
            x = np.concatenate(
                [self._transform_batch(x, self._draw(rng, x.shape)) for _ in range(rounds)]
            )
        if self.featurewise_center:
            self.mean = x.mean(axis=(0, 1, 2)).reshape(1, 1, -1)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = x.std(axis=(0, 1, 2)).reshape(1, 1, -1)
            x /= self.std + np.asarray(1e-6, x.dtype)
        if self.zca_whitening:
            n = len(x)
            u, s, _ = np.linalg.svd(x.reshape(n, -1).T, full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = ((u * s_inv) @ u.T).astype(self.dtype)

    def _warn_channels(self, shape, what: str) -> None:
        if shape[-1] not in (1, 3, 4):
            warnings.warn(
                f"Expected input to {what} to be images with 1, 3 or 4 channels on the last "
                f"axis (channels_last). Received an array with shape {tuple(shape)}.",
                stacklevel=3,
            )

    # -- augmentation ---------------------------------------------------------
    def _draw(self, rng, shape) -> dict:
        """Random parameters for a batch of ``shape = (N, H, W, C)``: arrays of N values."""
        n, h, w = shape[0], shape[1], shape[2]
        theta = rng.uniform(-self.rotation_range, self.rotation_range, size=n)
        tx = _draw_shifts(rng, self.width_shift_range, n, w)
        ty = _draw_shifts(rng, self.height_shift_range, n, h)
        shear = rng.uniform(-self.shear_range, self.shear_range, size=n)
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx = zy = np.ones(n)
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], size=(2, n))
        flip_h = (rng.random(n) < 0.5) & bool(self.horizontal_flip)
        flip_v = (rng.random(n) < 0.5) & bool(self.vertical_flip)
        channel_shift = brightness = None
        if self.channel_shift_range:
            r = self.channel_shift_range
            channel_shift = rng.uniform(-r, r, size=n)
        if self.brightness_range is not None:
            brightness = rng.uniform(*self.brightness_range, size=n)
        return {
            "theta": theta,
            "tx": tx,
            "ty": ty,
            "shear": shear,
            "zx": zx,
            "zy": zy,
            "flip_horizontal": flip_h,
            "flip_vertical": flip_v,
            "channel_shift_intensity": channel_shift,
            "brightness": brightness,
        }

    def _transform_batch(self, x, params: dict):
        """Apply per-image parameters (arrays of N values, or scalars) to a float batch."""
        n, h, w, _ = x.shape
        get = params.get
        theta = np.deg2rad(np.asarray(get("theta", 0), float))
        shear = np.deg2rad(np.asarray(get("shear", 0), float))
        cos, sin = np.cos(theta), np.sin(theta)
        # input point = C · R · T · S · Z · C⁻¹ · F · output point, in (x, y, 1) coordinates
        rotate = _matrices([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
        shift = _matrices([[1, 0, get("tx", 0)], [0, 1, get("ty", 0)], [0, 0, 1]])
        shear_m = _matrices([[1, -np.sin(shear), 0], [0, np.cos(shear), 0], [0, 0, 1]])
        zoom = _matrices([[get("zx", 1), 0, 0], [0, get("zy", 1), 0], [0, 0, 1]])
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        to_centre = _matrices([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
        from_centre = _matrices([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        fh = np.asarray(get("flip_horizontal", False), bool)
        fv = np.asarray(get("flip_vertical", False), bool)
        flip = _matrices(
            [[np.where(fh, -1.0, 1.0), 0, np.where(fh, w - 1.0, 0.0)],
             [0, np.where(fv, -1.0, 1.0), np.where(fv, h - 1.0, 0.0)],
             [0, 0, 1]]
        )  # fmt: skip
        m = to_centre @ rotate @ shift @ shear_m @ zoom @ from_centre @ flip
        m = np.broadcast_to(m, (n, 3, 3))
        interpolation = _INTERPOLATION_ORDERS[self.interpolation_order]
        x = affine_transform(x, m[:, :2, :].reshape(n, 6), interpolation, self.fill_mode, self.cval)
        if get("channel_shift_intensity") is not None:
            shift_by = np.broadcast_to(get("channel_shift_intensity"), n).reshape(n, 1, 1, 1)
            x = np.clip(x + shift_by.astype(x.dtype), *_image_range(x))
        if get("brightness") is not None:
            factor = np.broadcast_to(get("brightness"), n).reshape(n, 1, 1, 1)
            x = _brightness_shift(x, factor)
        return x.astype(self.dtype, copy=False)

    def get_random_transform(self, img_shape, seed=None) -> dict:
        """Random parameters for one image of shape ``(H, W, C)`` (tf.keras's keys).

        ``theta`` (degrees), ``tx``/``ty`` (pixels along x/y), ``shear`` (degrees),
        ``zx``/``zy``, ``flip_horizontal``/``flip_vertical``, ``channel_shift_intensity``,
        ``brightness`` (None when unused).
        """
        rng = np.random.default_rng(seed) if seed is not None else backend.rng()
        params = self._draw(rng, (1, *tuple(img_shape)[:2]))
        return {k: None if v is None else v[0].item() for k, v in params.items()}

    def apply_transform(self, x, transform_parameters: dict):
        """Apply the parameters of :meth:`get_random_transform` to one image ``(H, W, C)``.

        Missing keys mean no change. Returns a new float array of the same shape.
        """
        x = np.array(x, dtype=self.dtype)
        if x.ndim != 3:
            raise ValueError(f"Expected one image of rank 3 (H, W, C). Received shape {x.shape}")
        return self._transform_batch(x[None], transform_parameters)[0]

    def random_transform(self, x, seed=None):
        """One image ``(H, W, C)``, randomly transformed (no standardisation)."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))


def _image_range(x):
    """Each image's minimum and maximum, shaped (N, 1, 1, 1)."""
    return x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)


def _brightness_shift(x, factor):
    """PIL's ``ImageEnhance.Brightness`` as tf.keras applies it, on a batch.

    Each image is turned into 8-bit pixels (rescaled to [0, 255] first when it leaves that
    range), multiplied by ``factor``, truncated into [0, 255], and mapped back.
    """
    lows, highs = _image_range(x)
    rescaled = (lows < 0) | (highs > 255)
    span = highs - lows
    pixels = np.where(rescaled, (x - lows) / np.where(span == 0, 1, span) * 255, x)
    pixels = np.floor(np.clip(np.floor(pixels) * factor, 0, 255))
    return np.where(rescaled, pixels / 255 * span + lows, pixels).astype(x.dtype)


class NumpyArrayIterator:
    """Endless batches of augmented images from arrays (tf.keras's ``NumpyArrayIterator``).

    ``next(it)`` gives the next batch: the epoch's permutation is drawn when it starts, the
    last batch of an epoch may be smaller, and the next epoch reshuffles. ``it[i]`` gives
    batch ``i`` of the current permutation (``len(it) = ceil(n / batch_size)``), and
    ``on_epoch_end()`` reshuffles, as a Keras ``Sequence``. With ``seed``, batch ``k`` (the
    ``k``-th batch produced) draws its permutation and transforms from ``seed + k``;
    otherwise from ``backend.rng()``.

    Args:
        x: images ``(N, H, W, C)``, or a tuple ``(images, extra)`` of arrays yielded along.
        y: labels (or None: batches are ``x`` alone).
        image_data_generator: the :class:`ImageDataGenerator` whose transforms to apply.
        batch_size: images per batch.
        shuffle: shuffle at every epoch.
        sample_weight: optional weights, yielded as a third element.
        seed: optional int.
        subset: ``"training"`` or ``"validation"``: the last or first ``validation_split``
            fraction of the data.
        ignore_class_split: skip the check that both subsets have the same classes.
        dtype: dtype of the image batches.

    Raises:
        ValueError: on inconsistent lengths, a rank other than 4 or a bad subset.
    """

    def __init__(
        self,
        x,
        y,
        image_data_generator,
        batch_size=32,
        shuffle=False,
        sample_weight=None,
        seed=None,
        data_format=None,
        save_to_dir=None,
        save_prefix="",
        save_format="png",
        subset=None,
        ignore_class_split=False,
        dtype=None,
    ):
        standardize_data_format(data_format)
        if save_to_dir is not None:
            raise NotImplementedError("cnnkit does not write images: `save_to_dir` must be None.")
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(
                "Invalid value for argument `batch_size`. Expected a strictly positive "
                f"integer. Received: batch_size={batch_size!r}"
            )
        self.dtype = str(np.dtype(dtype)) if dtype is not None else backend.floatx()
        x_misc = []
        if isinstance(x, (tuple, list)):
            x, extra = x[0], x[1]
            x_misc = [np.asarray(a) for a in (extra if isinstance(extra, list) else [extra])]
        for name, other in [("y", y), ("sample_weight", sample_weight)] + [
            ("x[1]", a) for a in x_misc
        ]:
            if other is not None and len(other) != len(x):
                raise ValueError(
                    f"`x` (images) and `{name}` should have the same length. Found: "
                    f"len(x) = {len(x)}, len({name}) = {len(other)}"
                )
        if subset is not None:
            x, y, sample_weight, x_misc = self._split(
                image_data_generator, subset, ignore_class_split, x, y, sample_weight, x_misc
            )
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise ValueError(
                "Input data in `NumpyArrayIterator` should have rank 4. You passed an array "
                f"with shape {self.x.shape}"
            )
        if len(self.x) == 0:
            raise ValueError("`x` is empty: there is nothing to iterate over.")
        image_data_generator._warn_channels(self.x.shape, "`NumpyArrayIterator`")
        self.x_misc = x_misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.n = len(self.x)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.index_array = None

    @staticmethod
    def _split(generator, subset, ignore_class_split, x, y, sample_weight, x_misc):
        if subset not in ("training", "validation"):
            raise ValueError(
                f"Invalid subset name: {subset!r}; expected 'training' or 'validation'."
            )
        if not generator._validation_split:
            raise ValueError(
                "`subset` needs a `validation_split` between 0 and 1 in the ImageDataGenerator."
            )
        split = int(len(x) * generator._validation_split)
        if (
            y is not None
            and not ignore_class_split
            and not np.array_equal(np.unique(y[:split]), np.unique(y[split:]))
        ):
            raise ValueError(
                "Training and validation subsets have different number of classes after the "
                "split. If your numpy arrays are sorted by the label, you might want to "
                "shuffle them."
            )
        part = slice(None, split) if subset == "validation" else slice(split, None)
        pick = lambda a: None if a is None else a[part]  # noqa: E731
        return x[part], pick(y), pick(sample_weight), [a[part] for a in x_misc]

    def _rng(self) -> np.random.Generator:
        if self.seed is not None:
            return np.random.default_rng(self.seed + self.total_batches_seen)
        return backend.rng()

    def _set_index_array(self, rng) -> None:
        self.index_array = rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise ValueError(
                f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}"
            )
        rng = self._rng()
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array(rng)
        start = self.batch_size * idx
        return self._batch(self.index_array[start : start + self.batch_size], rng)

    def on_epoch_end(self) -> None:
        self._set_index_array(self._rng())

    def reset(self) -> None:
        self.batch_index = 0

    def __iter__(self):
        return self

    def __next__(self):
        rng = self._rng()
        if self.batch_index == 0:
            self._set_index_array(rng)
        start = self.batch_index * self.batch_size
        self.batch_index = self.batch_index + 1 if start + self.batch_size < self.n else 0
        self.total_batches_seen += 1
        return self._batch(self.index_array[start : start + self.batch_size], rng)

    def next(self):
        """``next(self)``, as tf.keras's iterators offer."""
        return self.__next__()

    def _batch(self, index_array, rng):
        generator = self.image_data_generator
        batch_x = self.x[index_array]  # a copy
        batch_x = generator._transform_batch(batch_x, generator._draw(rng, batch_x.shape))
        batch_x = generator._standardize_batch(batch_x)
        inputs = [batch_x, *(a[index_array] for a in self.x_misc)] if self.x_misc else batch_x
        if self.y is None:
            return inputs
        if self.sample_weight is None:
            return inputs, self.y[index_array]
        return inputs, self.y[index_array], self.sample_weight[index_array]
