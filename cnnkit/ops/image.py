"""Keras 3's image ops (``keras.ops.image``) on NumPy arrays and cnnkit tensors.

Images are ``(N, H, W, C)`` batches or single ``(H, W, C)`` images (``channels_first``:
``(N, C, H, W)`` / ``(C, H, W)``). As in :mod:`cnnkit.ops.nn`, NumPy in gives NumPy out and a
Tensor in gives a Tensor out, differentiable with respect to the images.

Every resampling op (``map_coordinates``, ``affine_transform``, ``perspective_transform``,
``elastic_transform``) is one sparse linear map of the image: each output value is a weighted
sum of a few input pixels (1 for nearest, 2 per axis for linear), plus ``fill_value`` where
those pixels fall outside. :class:`_Sample` applies such a map forward and scatters the
gradient back along the same weights. The sampling follows ``scipy.ndimage.map_coordinates``
and Keras's PyTorch/JAX backends: ``round`` (half to even) for nearest, and the fill modes
``constant`` (``fill_value`` outside), ``nearest`` (``a a | a b c d | d d``), ``wrap``
(``a b c d | a b c d``), ``mirror`` (``d c b | a b c d | c b a``) and ``reflect``
(``d c b a | a b c d | d c b a``). Coordinates and transforms are constants: no gradient flows
to them.

``data_format=None`` means ``"channels_last"`` everywhere (Keras 3.15's torch
``gaussian_blur`` treats None as channels-first). ``elastic_transform`` draws its random field
from NumPy, so its values differ from Keras's; projective ``affine_transform`` rows divide by
``c0 x + c1 y + 1`` as documented (see its docstring).

Example:
    >>> import numpy as np
    >>> rgb_to_grayscale(np.ones((2, 2, 3))).round(4)[..., 0]
    array([[0.9999, 0.9999],
           [0.9999, 0.9999]])
"""

from __future__ import annotations

import itertools

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels import resize as _resize
from cnnkit.kernels import shape as _shape
from cnnkit.ops._dispatch import make_symbolic
from cnnkit.ops.nn import (
    _data_format,
    _dual,
    _float,
    _from_last,
    _pointwise,
    _to_last,
    _transpose,
    _Where,
    conv,
    depthwise_conv,
)

__all__ = [
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "resize",
    "affine_transform",
    "perspective_transform",
    "map_coordinates",
    "elastic_transform",
    "gaussian_blur",
    "extract_patches",
    "pad_images",
    "crop_images",
    "extract_patches_3d",
    "sobel_edges",
    "ssim",
    "scale_and_translate",
]

FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


# ---------------------------------------------------------------------------
# Layout helpers
# ---------------------------------------------------------------------------


def _images(images, data_format, what: str):
    """``(batch NHWC tensor, was_single)``; validates the rank."""
    x = _float(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"Invalid images rank for `{what}`: expected rank 3 (single image) or rank 4 "
            f"(batch of images). Received input with shape: images.shape={tuple(x.shape)}"
        )
    single = x.ndim == 3
    if single:
        x = x.reshape((1, *x.shape))
    return _to_last(x, data_format), single


def _restore(x, single, data_format):
    x = _from_last(x, data_format)
    return x.reshape(x.shape[1:]) if single else x


def _channel(x, c: int):
    """Channel ``c`` of NHWC ``x`` as ``(N, H, W)``."""
    return x[..., c]


def _stack_channels(planes):
    """``[(N, H, W), ...] -> (N, H, W, C)``."""
    return _shape.concatenate([p.reshape((*p.shape, 1)) for p in planes], axis=-1)


# ---------------------------------------------------------------------------
# Colour spaces
# ---------------------------------------------------------------------------


@_dual
def rgb_to_grayscale(images, data_format=None):
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` (ITU-R 601, torchvision's weights), one channel.

    A one-channel input is returned unchanged.
    """
    data_format = _data_format(data_format)
    x, single = _images(images, data_format, "rgb_to_grayscale")
    if x.shape[-1] not in (1, 3):
        raise ValueError(
            "Invalid channel size: expected 3 (RGB) or 1 (Grayscale). "
            f"Received input with shape: images.shape={tuple(np.shape(images))}"
        )
    if x.shape[-1] == 3:
        weights = np.array([[0.2989], [0.587], [0.114]], dtype=x.dtype)
        x = x @ weights
    return _restore(x, single, data_format)


def _where(mask, a, b):
    """``where(mask, a, b)``, differentiable in ``a`` and ``b`` (the mask is a constant)."""
    return _Where.apply(a, b, mask=mask)


def _rgb_planes_to_hsv(r, g, b):
    """``V = max``, ``S = (max - min) / V``, ``H`` = the hexcone angle / 6, from the channel
    holding the max (ties: red, then green, as dm-pix and Keras)."""
    v = _shape.maximum(_shape.maximum(r, g), b)
    rng = v - _shape.minimum(_shape.minimum(r, g), b)
    vd, rd = v.data, rng.data
    s = _where(vd > 0, rng / _where(vd > 0, v, 1.0), 0.0)
    norm = 1.0 / (6.0 * _where(rd > 0, rng, 1.0))
    third, two_thirds = np.asarray(1 / 3, v.dtype), np.asarray(2 / 3, v.dtype)
    hue = _where(vd == g.data, norm * (b - r) + third, norm * (r - g) + two_thirds)
    hue = _where(vd == r.data, norm * (g - b), hue)
    hue = _where(rd > 0, hue, 0.0)
    return hue + (hue.data < 0).astype(hue.dtype), s, v


@_dual
def rgb_to_hsv(images, data_format=None):
    """RGB in ``[0, 1]`` to HSV in ``[0, 1]`` (hue as a fraction of a turn); float images.

    Example:
        >>> rgb_to_hsv(np.array([[[1.0, 0.0, 0.0]]]))[0, 0]
        array([0., 1., 1.])
    """
    data_format = _data_format(data_format)
    _check_float(images, "rgb_to_hsv")
    x, single = _images(images, data_format, "rgb_to_hsv")
    eps = np.finfo(x.dtype).eps
    x = _where(np.abs(x.data) >= eps, x, 0.0)  # denormal noise counts as 0, as Keras
    planes = _rgb_planes_to_hsv(_channel(x, 0), _channel(x, 1), _channel(x, 2))
    return _restore(_stack_channels(planes), single, data_format)


def _check_float(images, what):
    dtype = np.asarray(images.data if isinstance(images, Tensor) else images).dtype
    if dtype.kind != "f":
        raise ValueError(
            f"Invalid images dtype for `{what}`: expected float dtype. Received: "
            f"images.dtype={dtype}"
        )


@_dual
def hsv_to_rgb(images, data_format=None):
    """HSV in ``[0, 1]`` back to RGB: ``V (1 - S + S f_c(6 H))`` with the hexcone ramps ``f_c``.

    Example:
        >>> hsv_to_rgb(np.array([[[0.0, 1.0, 1.0]]]))[0, 0]
        array([1., 0., 0.])
    """
    data_format = _data_format(data_format)
    _check_float(images, "hsv_to_rgb")
    x, single = _images(images, data_format, "hsv_to_rgb")
    h, s, v = _channel(x, 0), _channel(x, 1), _channel(x, 2)
    dh = _pointwise(h, lambda a: xp.remainder(a, 1) * 6, lambda a, y: xp.full_like(a, 6))

    def ramp(center, sign):  # clip(sign * (|dh - center| - 1) + (1 if sign < 0 else 0), 0, 1)
        return _pointwise(
            dh,
            lambda a: xp.clip(sign * (xp.abs(a - center) - 1) + (sign < 0) * 1, 0, 1),
            lambda a, y: (((y > 0) & (y < 1)) * sign * xp.sign(a - center)).astype(a.dtype),
        )

    one_minus_s = 1 - s
    planes = [v * (one_minus_s + s * ramp(c, sign)) for c, sign in ((3, 1), (2, -1), (4, -1))]
    return _restore(_stack_channels(planes), single, data_format)


# ---------------------------------------------------------------------------
# Resizing, padding, cropping
# ---------------------------------------------------------------------------


@_dual
def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format=None,
):
    """Resize images to ``size = (height, width)`` with half-pixel sampling.

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)`` (channels-first with ``data_format``).
        size: ``(height, width)``.
        interpolation: ``"bilinear"`` or ``"nearest"`` (``"bicubic"``, ``"lanczos3"``,
            ``"lanczos5"`` and ``"area"`` raise NotImplementedError).
        antialias: must be False (no antialiasing filter is implemented).
        crop_to_aspect_ratio: crop the largest centred window of the target aspect ratio.
        pad_to_aspect_ratio: pad the short side evenly with ``fill_value`` instead.
        fill_mode: ``"constant"`` (the only mode Keras accepts).
        fill_value: the padding value.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Example:
        >>> resize(np.zeros((4, 6, 3)), (2, 3)).shape
        (2, 3, 3)
    """
    data_format = _data_format(data_format)
    if antialias:
        raise NotImplementedError("cnnkit's `resize` has no antialiasing: use antialias=False.")
    if fill_mode != "constant":
        raise ValueError(
            "Invalid value for argument `fill_mode`. Only `'constant'` is supported. "
            f"Received: fill_mode={fill_mode!r}"
        )
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers. Received: size={size!r}")
    x, single = _images(images, data_format, "resize")
    out = _resize.resize(
        x,
        size,
        interpolation=interpolation,
        crop_to_aspect_ratio=bool(crop_to_aspect_ratio),
        pad_to_aspect_ratio=bool(pad_to_aspect_ratio),
        fill_value=float(fill_value),
    )
    return _restore(out, single, data_format)


def _box(before, after, target, size, names, kind):
    """Two of ``before``, ``after``, ``target`` given: the third, and checks (Keras's rules)."""
    given = [v is not None for v in (before, after, target)]
    if sum(given) != 2:
        raise ValueError(
            f"Must specify exactly two of {', '.join(names)}. Received: "
            + ", ".join(f"{n}={v}" for n, v in zip(names, (before, after, target)))
        )
    for name, value in zip(names, (before, after, target)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    sign = 1 if kind == "pad" else -1  # padding grows the image, cropping shrinks it
    if before is None:
        before = sign * (target - size) - after
    if after is None:
        after = sign * (target - size) - before
    for name, value in zip(names[:2], (before, after)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={value}")
    return int(before), int(after)


@_dual
def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Zero-pad images: give two of (top, bottom, target height) and two of (left, right,
    target width).

    Example:
        >>> pad_images(np.ones((2, 2, 1)), 1, 0, target_height=4, target_width=3)[..., 0]
        array([[0., 0., 0.],
               [1., 1., 0.],
               [1., 1., 0.],
               [0., 0., 0.]])
    """
    data_format = _data_format(data_format)
    x, single = _images(images, data_format, "pad_images")
    _, h, w, _ = x.shape
    rows = _box(
        top_padding,
        bottom_padding,
        target_height,
        h,
        ("top_padding", "bottom_padding", "target_height"),
        "pad",
    )
    cols = _box(
        left_padding,
        right_padding,
        target_width,
        w,
        ("left_padding", "right_padding", "target_width"),
        "pad",
    )
    return _restore(_shape.pad2d(x, (rows, cols)), single, data_format)


@_dual
def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
):
    """Crop images: give two of (top, bottom, target height) and two of (left, right, target
    width).

    Example:
        >>> crop_images(np.arange(16.0).reshape(4, 4, 1), 1, 1, target_height=2,
        ...             target_width=2)[..., 0]
        array([[ 5.,  6.],
               [ 9., 10.]])
    """
    data_format = _data_format(data_format)
    x, single = _images(images, data_format, "crop_images")
    _, h, w, _ = x.shape
    rows = _box(
        top_cropping,
        bottom_cropping,
        target_height,
        h,
        ("top_cropping", "bottom_cropping", "target_height"),
        "crop",
    )
    cols = _box(
        left_cropping,
        right_cropping,
        target_width,
        w,
        ("left_cropping", "right_cropping", "target_width"),
        "crop",
    )
    if sum(rows) >= h or sum(cols) >= w:
        raise ValueError(f"The crop {rows, cols} leaves no pixel of images of size {(h, w)}.")
    return _restore(_shape.crop2d(x, (rows, cols)), single, data_format)


# ---------------------------------------------------------------------------
# Resampling: a sparse linear map of the image (see the module docstring)
# ---------------------------------------------------------------------------


class _Sample(Function):
    """``out[s] = sum_k w_k[s] * rows[idx_k[s]] + const[s]`` for ``x`` viewed as ``(R, C)``.

    Backward: ``dx[r] = sum over (k, s) with idx_k[s] = r of w_k[s] * g[s]`` (one bincount
    per term and channel).
    """

    def forward(self, x, terms, const):
        rows = x.reshape(-1, x.shape[-1])  # (R, C)
        out = xp.broadcast_to(const[..., None], (*const.shape, rows.shape[1])).copy()
        for idx, w in terms:
            out += w[..., None] * rows[idx]
        self.save_for_backward(x.shape, rows.shape, terms)
        return out

    def backward(self, grad):
        shape, (r, c), terms = self.saved
        g = grad.reshape(-1, c)
        dx = xp.zeros((r, c), dtype=grad.dtype)
        for idx, w in terms:
            weighted = w.reshape(-1, 1) * g
            flat = idx.ravel()
            for ch in range(c):  # one scatter per channel
                dx[:, ch] += xp.bincount(flat, weights=weighted[:, ch], minlength=r)
        return dx.reshape(shape)


def _fix_index(index, size: int, fill_mode: str):
    """An out-of-range index mapped inside, as ``fill_mode`` extends the array."""
    if fill_mode in ("constant", "nearest"):
        return xp.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return xp.mod(index, size)
    if fill_mode == "mirror":  # d c b | a b c d | c b a
        if size == 1:
            return xp.zeros_like(index)
        period = 2 * (size - 1)
        return (size - 1) - xp.abs(xp.mod(index, period) - (size - 1))
    index = xp.mod(index, 2 * size)  # reflect: d c b a | a b c d | d c b a
    return xp.where(index >= size, 2 * size - 1 - index, index)


def _nodes(coordinate, order: int):
    """``[(integer index, weight)]`` of one axis: 1 node for nearest or integer coordinates."""
    if coordinate.dtype.kind in "iub":
        return [(coordinate.astype(np.int64), None)]
    if order == 0:
        return [(xp.round(coordinate).astype(np.int64), None)]
    lower = xp.floor(coordinate)
    upper_weight = coordinate - lower
    lower = lower.astype(np.int64)
    return [(lower, 1 - upper_weight), (lower + 1, upper_weight)]


def _terms(coordinates, sizes, order, fill_mode, fill_value, dtype):
    """The ``(flat index, weight)`` terms and the constant of the sampling at ``coordinates``."""
    per_axis = [_nodes(c, order) for c in coordinates]
    shape = np.broadcast_shapes(*(c.shape for c in coordinates))
    terms, const = [], xp.zeros(shape, dtype=dtype)
    for combo in itertools.product(*per_axis):
        weight = xp.ones(shape, dtype=dtype)
        valid = xp.ones(shape, dtype=bool)
        flat = xp.zeros(shape, dtype=np.int64)
        for (index, w), size in zip(combo, sizes):
            if w is not None:
                weight = weight * w.astype(dtype)
            valid &= (index >= 0) & (index < size)
            flat = flat * size + _fix_index(index, size, fill_mode)
        if fill_mode == "constant":
            const += xp.where(valid, 0, weight) * dtype.type(fill_value)
            weight = xp.where(valid, weight, 0)
        terms.append((flat, weight))
    return terms, const


def _check_sampling(interpolation, fill_mode):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected one of "
            f"{set(INTERPOLATIONS)}. Received: interpolation={interpolation!r}"
        )
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"Invalid value for argument `fill_mode`. Expected one of {set(FILL_MODES)}. "
            f"Received: fill_mode={fill_mode!r}"
        )


def _sample_images(x, src_y, src_x, interpolation, fill_mode, fill_value):
    """Resample NHWC ``x`` at per-image source points ``src_y, src_x`` of shape (N, H', W')."""
    n, h, w, _ = x.shape
    batch = xp.arange(n).reshape(-1, 1, 1)
    terms, const = _terms(
        (batch, src_y, src_x),
        (n, h, w),
        INTERPOLATIONS[interpolation],
        fill_mode,
        fill_value,
        x.dtype,
    )
    return _Sample.apply(x, terms=terms, const=const)


@_dual
def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Sample ``inputs`` at fractional ``coordinates`` (``scipy.ndimage.map_coordinates``).

    Args:
        inputs: an array of rank ``d``.
        coordinates: ``d`` arrays (or one array with a leading axis of ``d``), all of one
            shape: the points, in index units, per axis.
        order: 0 (nearest, rounding half to even) or 1 (linear).
        fill_mode: ``"constant"``, ``"nearest"``, ``"wrap"``, ``"mirror"`` or ``"reflect"``.
        fill_value: the value outside the input for ``"constant"``.

    Returns:
        The samples, of the coordinates' shape (integer inputs give rounded integers).

    Example:
        >>> map_coordinates(np.arange(4.0), [np.array([0.5, 2.25, 5.0])], order=1)
        array([0.5 , 2.25, 0.  ])
    """
    if order not in (0, 1):
        raise NotImplementedError(
            f"`map_coordinates` supports order 0 and 1. Received: order={order!r}"
        )
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"Invalid value for argument `fill_mode`. Expected one of {set(FILL_MODES)}. "
            f"Received: fill_mode={fill_mode!r}"
        )
    raw = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
    coords = [np.asarray(c.data if isinstance(c, Tensor) else c) for c in coordinates]
    if len(coords) != raw.ndim:
        raise ValueError(
            "First dim of `coordinates` must be the same as the rank of `inputs`. Received "
            f"inputs with shape: {raw.shape} and coordinate leading dim of {len(coords)}"
        )
    if coords and coords[0].ndim < 1:
        raise ValueError(
            "Invalid coordinates rank: expected at least rank 2. Received input with shape: "
            f"{(len(coords),)}"
        )
    integer = raw.dtype.kind in "iub"
    x = _float(inputs) if not integer else Tensor(raw.astype(np.float64))
    terms, const = _terms(coords, raw.shape, order, fill_mode, fill_value, x.dtype)
    out = _Sample.apply(x.reshape((-1, 1)), terms=terms, const=const)
    out = out.reshape(out.shape[:-1])
    if integer:
        return Tensor(np.round(out.data).astype(raw.dtype))
    return out


def _transforms(transform, n):
    t = np.asarray(transform.data if isinstance(transform, Tensor) else transform)
    if t.ndim not in (1, 2) or t.shape[-1] not in (6, 8):
        raise ValueError(
            "Invalid transform: expected shape (8,) or (N, 8), one row per image (6 values: "
            f"an affine map). Received: transform.shape={t.shape}"
        )
    # float32 coordinates unless the transform is float64 (their rounding decides ties)
    t = t.reshape(-1, t.shape[-1]).astype(np.float64 if t.dtype == np.float64 else np.float32)
    if t.shape[1] == 6:
        t = np.concatenate([t, np.zeros((len(t), 2), t.dtype)], axis=1)
    if len(t) not in (1, n):
        raise ValueError(f"Expected 1 or {n} transforms for {n} images. Received {len(t)}.")
    return np.broadcast_to(t, (n, 8))


def _projective_sources(t, h, w):
    """Source points of every output pixel under rows ``[a0 a1 a2 b0 b1 b2 c0 c1]``: output
    ``(x, y)`` reads input ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
    ``k = c0 x + c1 y + 1``, computed in the transform's dtype."""
    ys, xs = np.meshgrid(np.arange(h, dtype=t.dtype), np.arange(w, dtype=t.dtype), indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i, None, None] for i in range(8))
    k = c0 * xs + c1 * ys + 1
    return (b1 * ys + b0 * xs + b2) / k, (a1 * ys + a0 * xs + a2) / k


@_dual
def affine_transform(
    images,
    transform,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0,
    data_format=None,
):
    """Resample each image through its transform ``[a0, a1, a2, b0, b1, b2, c0, c1]``.

    Output pixel ``(x, y)`` (column, row) reads the input at
    ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``, ``k = c0 x + c1 y + 1``, sampled as
    :func:`map_coordinates` with ``order`` 0 (nearest) or 1 (bilinear).

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)``.
        transform: ``(8,)`` or ``(N, 8)``.
        interpolation: ``"nearest"`` or ``"bilinear"``.
        fill_mode: as :func:`map_coordinates`.
        fill_value: the value outside the image for ``"constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Note: for projective rows (``c0``, ``c1`` not 0) Keras's PyTorch and JAX backends add
    ``c0``/``c1`` times the channel index to the coordinates instead of dividing by ``k``;
    cnnkit divides, as TensorFlow's ``ImageProjectiveTransform`` and the formula above.
    """
    data_format = _data_format(data_format)
    _check_sampling(interpolation, fill_mode)
    x, single = _images(images, data_format, "affine_transform")
    n, h, w, _ = x.shape
    src_y, src_x = _projective_sources(_transforms(transform, n), h, w)
    out = _sample_images(x, src_y, src_x, interpolation, fill_mode, fill_value)
    return _restore(out, single, data_format)


def _homographies(start_points, end_points):
    """The 8 projective parameters mapping each ``end_points`` quad onto ``start_points``."""
    start = np.asarray(_raw(start_points), dtype=np.float64)
    end = np.asarray(_raw(end_points), dtype=np.float64)
    for name, p in (("start_points", start), ("end_points", end)):
        if p.shape[-2:] != (4, 2) or p.ndim not in (2, 3):
            raise ValueError(
                f"Invalid {name} shape: expected (4, 2) for a single image or (N, 4, 2) for a "
                f"batch. Received shape: {p.shape}"
            )
    if start.shape != end.shape:
        raise ValueError(
            "start_points and end_points must have the same shape. Received "
            f"start_points.shape={start.shape}, end_points.shape={end.shape}"
        )
    start, end = start.reshape(-1, 4, 2), end.reshape(-1, 4, 2)
    ex, ey = end[..., 0], end[..., 1]  # (B, 4)
    sx, sy = start[..., 0], start[..., 1]
    one, zero = np.ones_like(ex), np.zeros_like(ex)
    rows_x = np.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = np.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    a = np.stack([rows_x, rows_y], axis=2).reshape(-1, 8, 8)  # point-major rows
    b = np.stack([sx, sy], axis=-1).reshape(-1, 8)
    return np.linalg.solve(a, b[..., None])[..., 0]


def _raw(v):
    return v.data if isinstance(v, Tensor) else v


@_dual
def perspective_transform(
    images, start_points, end_points, interpolation="bilinear", fill_value=0, data_format=None
):
    """Warp images so that the quad ``start_points`` lands on ``end_points``.

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)``.
        start_points, end_points: ``(4, 2)`` or ``(N, 4, 2)`` corner points ``(x, y)``.
        interpolation: ``"nearest"`` or ``"bilinear"``.
        fill_value: the value outside the source image.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """
    data_format = _data_format(data_format)
    _check_sampling(interpolation, "constant")
    x, single = _images(images, data_format, "perspective_transform")
    n, h, w, _ = x.shape
    t = _homographies(start_points, end_points)
    if len(t) not in (1, n):
        raise ValueError(f"Expected 1 or {n} sets of points for {n} images. Received {len(t)}.")
    src_y, src_x = _projective_sources(np.broadcast_to(t, (n, 8)).astype(x.dtype), h, w)
    out = _sample_images(x, src_y, src_x, interpolation, "constant", fill_value)
    return _restore(out, single, data_format)


def _gaussian_kernel(kernel_size, sigma, dtype):
    """Keras's 2-D Gaussian, ``(KH, KW)``: normalised 1-D Gaussians, outer product."""

    def one_d(size, s):
        t = np.arange(size, dtype=np.float64) - (size - 1) / 2
        k = np.exp(-0.5 * (t / s) ** 2)
        return k / k.sum()

    kh, kw = kernel_size
    # Keras builds outer(k(size[1]), k(size[0])) and views it as (size[0], size[1]).
    return np.outer(one_d(kw, sigma[1]), one_d(kh, sigma[0])).reshape(kh, kw).astype(dtype)


def _pair_of(value, name, kind):
    values = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(values) != 2 or not all(kind(v) for v in values):
        raise ValueError(f"Invalid value for argument `{name}`. Received: {name}={value!r}")
    return values


def _blur(x, kernel_size, sigma):
    """Depthwise Gaussian blur of NHWC ``x``, zero-padded by ``KH // 2`` on every side."""
    kh, kw = kernel_size
    k2 = _gaussian_kernel(kernel_size, sigma, x.dtype)
    c = x.shape[-1]
    kernel = np.ascontiguousarray(np.broadcast_to(k2[:, :, None, None], (kh, kw, c, 1)))
    p = kh // 2
    return depthwise_conv(_shape.pad2d(x, ((p, p), (p, p))), kernel)


@_dual
def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur each channel with a normalised Gaussian of ``kernel_size`` and ``sigma``.

    The border is zero-padded by ``kernel_size[0] // 2`` pixels on every side (Keras), so odd
    square kernels keep the image size.

    Example:
        >>> float(gaussian_blur(np.ones((1, 5, 5, 1)))[0, 2, 2, 0].round(6))
        1.0
    """
    data_format = _data_format(data_format)
    size = _pair_of(kernel_size, "kernel_size", lambda v: int(v) == v and v > 0)
    sigma = _pair_of(sigma, "sigma", lambda v: v > 0)
    x, single = _images(images, data_format, "gaussian_blur")
    out = _blur(x, (int(size[0]), int(size[1])), (float(sigma[0]), float(sigma[1])))
    return _restore(out, single, data_format)


@_dual
def elastic_transform(
    images,
    alpha=20.0,
    sigma=5.0,
    interpolation="bilinear",
    fill_mode="reflect",
    fill_value=0.0,
    seed=None,
    data_format=None,
):
    """Elastic deformation (Simard et al., 2003): each pixel reads the input at its position
    plus ``alpha`` times a smooth random field (standard normal noise times ``sigma``, blurred
    by a Gaussian of standard deviation ``sigma`` and size ``int(6 sigma) | 1``).

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)``.
        alpha: the displacement scale.
        sigma: the smoothness of the field.
        interpolation: ``"nearest"`` or ``"bilinear"``.
        fill_mode, fill_value: as :func:`map_coordinates`.
        seed: an int for a reproducible field; None draws from cnnkit's global generator.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    The random field comes from NumPy's generator, so values differ from Keras's (whose
    backends each draw their own); the distribution is the same.
    """
    data_format = _data_format(data_format)
    _check_sampling(interpolation, fill_mode)
    if sigma <= 0:
        raise ValueError(f"Invalid value for argument `sigma`: expected > 0. Received: {sigma}")
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be an int or None. Received: seed={seed!r}")
    x, single = _images(images, data_format, "elastic_transform")
    n, h, w, _ = x.shape
    gen = backend.rng() if seed is None else np.random.default_rng(int(seed))
    size = int(6 * sigma) | 1
    noise = (gen.standard_normal((n, h, w, 2)) * sigma).astype(x.dtype)
    field = _blur(Tensor(noise), (size, size), (float(sigma), float(sigma))).data
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    src_x = xs + float(alpha) * field[..., 0].astype(np.float64)
    src_y = ys + float(alpha) * field[..., 1].astype(np.float64)
    out = _sample_images(x, src_y, src_x, interpolation, fill_mode, fill_value)
    return _restore(out, single, data_format)


# ---------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------


@_dual
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Every ``size`` patch of the images, flattened into the channel axis.

    Args:
        images: ``(N, H, W, C)`` or ``(H, W, C)``; with a 3-tuple ``size``, volumes
            ``(N, D, H, W, C)`` (as :func:`extract_patches_3d`).
        size: int or ``(PH, PW)``.
        strides: default ``size`` (non-overlapping patches).
        dilation_rate: int or tuple.
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        ``(N, OH, OW, PH * PW * C)``; value ``(i * PW + j) * C + c`` of a patch is pixel
        ``(i, j)`` of channel ``c``.

    Example:
        >>> extract_patches(np.zeros((1, 4, 6, 3)), 2).shape
        (1, 2, 3, 12)
    """
    if not isinstance(size, (int, np.integer)) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    elif len(size) != 2:
        raise TypeError(
            f"Invalid `size` argument. Expected an int or a tuple of length 2. Received: "
            f"size={size}"
        )
    return _patches(images, tuple(size), strides, dilation_rate, padding, data_format, 4)


def _patches(images, size, strides, dilation_rate, padding, data_format, rank):
    data_format = _data_format(data_format)
    x = _float(images)
    if x.ndim not in (rank - 1, rank):
        raise ValueError(
            f"Expected inputs of rank {rank - 1} or {rank}. Received: shape={tuple(x.shape)}"
        )
    single = x.ndim == rank - 1
    if single:
        x = x.reshape((1, *x.shape))
    channels = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    depth = int(np.prod(size)) * channels
    kernel = np.eye(depth, dtype=x.dtype).reshape((*size, channels, depth))
    out = conv(
        x,
        kernel,
        strides=strides or size,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
    )
    return out.reshape(out.shape[1:]) if single else out


@_dual
def extract_patches_3d(
    volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None
):
    """Every ``size = (PD, PH, PW)`` patch of ``(N, D, H, W, C)`` volumes, flattened into
    the channel axis: ``(N, OD, OH, OW, PD * PH * PW * C)``; arguments as
    :func:`extract_patches`."""
    size = (int(size),) * 3 if isinstance(size, (int, np.integer)) else tuple(size)
    if len(size) != 3:
        raise TypeError(
            f"Invalid `size` argument. Expected an int or a tuple of length 3. Received: "
            f"size={size}"
        )
    return _patches(volumes, size, strides, dilation_rate, padding, data_format, 5)


# ---------------------------------------------------------------------------
# Edges and structural similarity
# ---------------------------------------------------------------------------

_SOBEL_Y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=np.float64)


@_dual
def sobel_edges(images, data_format=None):
    """Sobel gradients of every channel: ``(N, H, W, C, 2)`` with ``[..., 0]`` the vertical
    (``d/dy``) and ``[..., 1]`` the horizontal (``d/dx``) response, zero-padded borders.

    Channels-first input ``(N, C, H, W)`` gives ``(N, C, H, W, 2)``.

    Example:
        >>> ramp = np.tile(np.arange(4.0), (4, 1)).reshape(1, 4, 4, 1)
        >>> sobel_edges(ramp)[0, 1:3, 1:3, 0, 1]
        array([[8., 8.],
               [8., 8.]])
    """
    data_format = _data_format(data_format)
    x = _float(images)
    if x.ndim != 4:
        raise ValueError(
            f"`sobel_edges` expects a batch of images (rank 4). Received: images.shape={x.shape}"
        )
    x = _to_last(x, data_format)
    c = x.shape[-1]
    edges = []
    for k in (_SOBEL_Y, _SOBEL_Y.T):
        kernel = np.ascontiguousarray(np.broadcast_to(k[:, :, None, None], (3, 3, c, 1)))
        out = depthwise_conv(x, kernel.astype(x.dtype), padding="same")  # (N, H, W, C)
        edges.append(out.reshape((*out.shape, 1)))
    out = _shape.concatenate(edges, axis=-1)  # (N, H, W, C, 2)
    if data_format == "channels_first":
        out = _transpose(out, (0, 3, 1, 2, 4))
    return out


@_dual
def ssim(
    image1,
    image2,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    data_format=None,
):
    """Structural similarity (Wang et al., 2004), averaged over pixels and channels.

    With Gaussian-weighted local means ``mu``, variances ``s^2`` and covariance ``s12`` (a
    ``filter_size`` window, no padding), ``c1 = (k1 max_val)^2``, ``c2 = (k2 max_val)^2``::

        SSIM = (2 mu1 mu2 + c1) (2 s12 + c2) / ((mu1^2 + mu2^2 + c1) (s1^2 + s2^2 + c2))

    Returns:
        ``(N,)`` for batches, a scalar for single images.

    Example:
        >>> x = np.random.default_rng(0).uniform(size=(1, 16, 16, 3))
        >>> ssim(x, x).round(6).tolist()
        [1.0]
    """
    data_format = _data_format(data_format)
    a, single = _images(image1, data_format, "ssim")
    b, _ = _images(image2, data_format, "ssim")
    if a.shape != b.shape:
        raise ValueError(
            f"`image1` and `image2` must have the same shape. Received: {a.shape} and {b.shape}"
        )
    size = int(filter_size)
    if size < 1 or size > min(a.shape[1:3]):
        raise ValueError(
            f"`filter_size` must be between 1 and the image size {a.shape[1:3]}. Received: "
            f"filter_size={filter_size!r}"
        )
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(t**2) / (2.0 * float(filter_sigma) ** 2))
    g /= g.sum()
    kernel = np.broadcast_to(np.outer(g, g)[:, :, None, None], (size, size, a.shape[-1], 1))
    kernel = np.ascontiguousarray(kernel, dtype=a.dtype)

    def local_mean(v):
        return depthwise_conv(v, kernel)

    c1 = np.asarray((k1 * max_val) ** 2, a.dtype)
    c2 = np.asarray((k2 * max_val) ** 2, a.dtype)
    mu1, mu2 = local_mean(a), local_mean(b)
    mu11, mu22, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s11 = local_mean(a * a) - mu11
    s22 = local_mean(b * b) - mu22
    s12 = local_mean(a * b) - mu12
    index = (2.0 * mu12 + c1) * (2.0 * s12 + c2) / ((mu11 + mu22 + c1) * (s11 + s22 + c2))
    out = index.mean(axis=(1, 2, 3))
    return out.reshape(()) if single else out


# ---------------------------------------------------------------------------
# Scale and translate (JAX's ``jax.image.scale_and_translate``)
# ---------------------------------------------------------------------------


def _triangle(x):
    return np.maximum(0.0, 1 - np.abs(x))


def _keys_cubic(x):
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = np.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return np.where(x >= 2.0, 0.0, out)


def _lanczos(radius):
    def kernel(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius) / (np.pi * x) ** 2
        return np.where(x > radius, 0.0, np.where(x > 1e-3, y, 1.0))

    return kernel


_SCALE_KERNELS = {
    "linear": _triangle,
    "bilinear": _triangle,
    "trilinear": _triangle,
    "cubic": _keys_cubic,
    "bicubic": _keys_cubic,
    "tricubic": _keys_cubic,
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
}


def _scale_weights(in_size, out_size, scale, translation, kernel, antialias):
    """``(in_size, out_size)``: output sample ``o`` reads input ``i`` with this weight.

    Output pixel centre ``o + 0.5`` maps back to ``(o + 0.5 - translation) / scale`` (input
    pixel centres at ``i + 0.5``); when downsampling with ``antialias`` the kernel is
    stretched by ``1 / scale``. Columns are normalised to sum 1; samples outside the input
    get 0.
    """
    inv = 1.0 / scale
    stretch = max(inv, 1.0) if antialias else 1.0
    sample = (np.arange(out_size) + 0.5) * inv - translation * inv - 0.5
    weights = kernel(np.abs(sample[None, :] - np.arange(in_size)[:, None]) / stretch)
    total = weights.sum(axis=0, keepdims=True)
    ok = np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps)
    weights = np.where(ok, weights / np.where(total != 0, total, 1), 0.0)
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return np.where(inside[None, :], weights, 0.0)


@_dual
def scale_and_translate(
    images, output_shape, scale, translation, spatial_dims, method, antialias=True
):
    """Resample ``images`` to ``output_shape``: input point ``x`` lands at
    ``x * scale + translation`` along each of ``spatial_dims`` (half-pixel centres).

    Args:
        images: any rank.
        output_shape: the full output shape (sizes of the axes not in ``spatial_dims``
            unchanged).
        scale, translation: one value per spatial axis.
        spatial_dims: the axes to resample.
        method: ``"linear"``/``"bilinear"``/``"trilinear"``, ``"cubic"``/``"bicubic"``/
            ``"tricubic"`` (Keys), ``"lanczos3"`` or ``"lanczos5"``.
        antialias: widen the kernel when downsampling.

    Each axis is one product with a constant ``(in, out)`` weight matrix, so the op is linear
    and differentiable in ``images``. Integer images are rounded back and clipped to their
    range.

    Example:
        >>> scale_and_translate(np.array([0.0, 1.0]), (4,), [2.0], [0.0], (0,), "linear")
        array([0.  , 0.25, 0.75, 1.  ])
    """
    if method not in _SCALE_KERNELS:
        raise ValueError(
            f"Invalid value for argument `method`. Expected one of {set(_SCALE_KERNELS)}. "
            f"Received: method={method!r}"
        )
    raw = np.asarray(_raw(images))
    integer = raw.dtype.kind in "iub"
    x = Tensor(raw.astype("float32")) if integer else _float(images)
    scale = np.atleast_1d(np.asarray(_raw(scale), dtype=np.float64))
    translation = np.atleast_1d(np.asarray(_raw(translation), dtype=np.float64))
    dims = [int(d) % x.ndim for d in spatial_dims]
    if len(scale) != len(dims) or len(translation) != len(dims):
        raise ValueError(
            "`scale` and `translation` need one value per spatial dim. Received: "
            f"scale={scale.tolist()}, translation={translation.tolist()}, spatial_dims={dims}"
        )
    out = x
    for i, d in enumerate(dims):
        w = _scale_weights(
            x.shape[d],
            int(output_shape[d]),
            scale[i],
            translation[i],
            _SCALE_KERNELS[method],
            antialias,
        ).astype(x.dtype)
        perm = [a for a in range(x.ndim) if a != d] + [d]
        moved = _transpose(out, perm) @ w
        out = _transpose(moved, np.argsort(perm))
    if integer:
        values = np.clip(np.round(out.data), raw.min(), raw.max()).astype(raw.dtype)
        return Tensor(values)
    return out


# The image ops also accept symbolic KerasTensors (functional API), as Keras records them.
make_symbolic(globals(), __all__, prefix="image.")
