"""Affine resampling of image batches: the machinery of the augmentation layers.

One 8-parameter projective transform per image (TensorFlow's
``ImageProjectiveTransformV3`` convention: output pixel ``(x, y)`` reads input pixel
``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with ``k = c0 x + c1 y + 1``),
applied to a whole NHWC batch with one gather; points outside the image are filled by
``fill_mode`` (reflect, wrap, constant, nearest).
"""

from __future__ import annotations

import numpy as np

from cnnkit.backend import xp

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


# ---------------------------------------------------------------------------
# The resampler: TensorFlow's ImageProjectiveTransform, vectorised over the batch.
# ---------------------------------------------------------------------------


def _fill_index(index, size: int, fill_mode: str):
    """Map integer coordinates outside ``[0, size)`` inside, as ``fill_mode`` extends the image.

    reflect ``(d c b a | a b c d | d c b a)``, wrap ``(a b c d | a b c d | a b c d)``,
    nearest ``(a a a a | a b c d | d d d d)``; for constant the caller masks the outside.
    """
    if fill_mode == "reflect":
        index = xp.mod(index, 2 * size)
        return xp.where(index >= size, 2 * size - 1 - index, index)
    if fill_mode == "wrap":
        return xp.mod(index, size)
    return xp.clip(index, 0, size - 1)


def affine_transform(
    images, transforms, interpolation="bilinear", fill_mode="constant", fill_value=0.0
):
    """Resample each image of a batch through its own projective transform (Keras's ``ops.image``).

    A transform row ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps the *output* pixel ``(x, y)``
    (``x`` the column, ``y`` the row) to the *input* point
    ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with ``k = c0 x + c1 y + 1``; a row of
    6 numbers means ``c0 = c1 = 0``. Bilinear blends the 4 neighbours ``floor``/``floor + 1``;
    nearest rounds half away from zero, as TensorFlow's kernel. Outside the image,
    ``fill_mode`` extends it (see :func:`_fill_index`): each neighbour index is mapped on its
    own, which equals TensorFlow's mapping of the point for reflect, nearest and constant
    (constant blends in ``fill_value``); for wrap it keeps the period ``size`` everywhere,
    where TensorFlow's kernel maps points beyond ``size - 1`` (or ``2 (size - 1)``) to the
    first pixel.

    Args:
        images: array ``(N, H, W, C)``, float.
        transforms: ``(N, 8)`` or ``(N, 6)``, one row per image (or one row for all).
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
        fill_value: the value outside the image for ``fill_mode="constant"``.

    Returns:
        array ``(N, H, W, C)``, ``images``' dtype.

    Example:
        >>> x = np.arange(4, dtype="float32").reshape(1, 1, 4, 1)
        >>> shift_right = [1, 0, -1, 0, 1, 0]  # input x = output x - 1
        >>> affine_transform(x, [shift_right], fill_mode="wrap")[0, 0, :, 0]
        array([3., 0., 1., 2.], dtype=float32)
    """
    n, h, w, c = images.shape
    t = np.asarray(transforms, dtype=np.float64).reshape(-1, np.shape(transforms)[-1])
    if t.shape[1] == 6:
        t = np.concatenate([t, np.zeros((len(t), 2))], axis=1)
    t = np.broadcast_to(t, (n, 8)).astype(np.float32)  # float32 coordinates, as TensorFlow
    if np.array_equal(t, np.tile(np.float32([1, 0, 0, 0, 1, 0, 0, 0]), (n, 1))):
        return images.copy()
    t = xp.asarray(t)
    ys, xs = xp.meshgrid(
        xp.arange(h, dtype="float32"), xp.arange(w, dtype="float32"), indexing="ij"
    )
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i, None, None] for i in range(8))
    k = c0 * xs + c1 * ys + 1.0  # (N, H, W)
    src_x = (a0 * xs + a1 * ys + a2) / k
    src_y = (b0 * xs + b1 * ys + b2) / k
    flat = images.reshape(n * h * w, c)
    first = (xp.arange(n) * (h * w))[:, None, None]  # offset of each image in `flat`
    fill = images.dtype.type(fill_value)

    def gather(iy, ix):  # (N, H, W) integer coordinates -> (N, H, W, C) values
        rows = first + _fill_index(iy, h, fill_mode) * w + _fill_index(ix, w, fill_mode)
        values = xp.take(flat, rows.ravel(), axis=0).reshape(n, h, w, c)
        if fill_mode == "constant":
            inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            values = xp.where(inside[..., None], values, fill)
        return values

    if interpolation == "nearest":
        return gather(_round_half_away(src_y), _round_half_away(src_x))
    x0, y0 = xp.floor(src_x), xp.floor(src_y)
    tx = (src_x - x0).astype(images.dtype)[..., None]
    ty = (src_y - y0).astype(images.dtype)[..., None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    top = gather(y0, x0) * (1 - tx) + gather(y0, x0 + 1) * tx
    bottom = gather(y0 + 1, x0) * (1 - tx) + gather(y0 + 1, x0 + 1) * tx
    return top * (1 - ty) + bottom * ty


def _round_half_away(v):
    """``std::round``: halves away from zero (NumPy's ``round`` goes to even)."""
    return xp.where(v >= 0, xp.floor(v + 0.5), xp.ceil(v - 0.5)).astype(np.int64)


def rotation_transforms(angles, height: int, width: int):
    """Rows for :func:`affine_transform` rotating each image by ``angles`` (radians) about its
    centre; positive angles turn the picture counter-clockwise, as Keras's ``RandomRotation``.
    """
    cos, sin = np.cos(angles), np.sin(angles)
    x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
    y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
    zeros = np.zeros_like(cos)
    return np.stack([cos, -sin, x_offset, sin, cos, y_offset, zeros, zeros], axis=1)


def translation_transforms(dx, dy):
    """Rows moving each picture ``dx`` pixels right and ``dy`` pixels down."""
    ones, zeros = np.ones_like(dx), np.zeros_like(dx)
    return np.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)


def zoom_transforms(zx, zy, height: int, width: int):
    """Rows scaling sampling distances by ``zx``/``zy`` about the centre (``> 1`` zooms out)."""
    zeros = np.zeros_like(zx)
    x_offset = (width - 1) / 2.0 * (1.0 - zx)
    y_offset = (height - 1) / 2.0 * (1.0 - zy)
    return np.stack([zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], axis=1)


# ---------------------------------------------------------------------------
# The layers
# ---------------------------------------------------------------------------
