"""Shape, merging and regularisation ops.

* :func:`flatten`: ``(N, d1, ..., dk) -> (N, d1 * ... * dk)``; general reshapes are
  :class:`cnnkit.autodiff.Reshape`;
* :func:`pad2d`, :func:`crop2d`: add or remove rows/columns around the H and W axes of NHWC
  images; each one's backward is the other;
* :func:`upsample2d_nearest`: repeat every pixel ``(SH, SW)`` times (Keras's ``ops.repeat``);
  the backward sums each block;
* :func:`concatenate`, :func:`maximum`, :func:`minimum`: the merging ops that the autodiff's
  ``+ - *`` do not cover;
* :func:`dropout`: inverted dropout, optionally with a broadcast ``noise_shape`` (whole
  channels for ``SpatialDropout2D``).

Example:
    >>> import numpy as np
    >>> flatten(np.zeros((2, 3, 4, 5), dtype="float32")).shape
    (2, 60)
    >>> pad2d(np.ones((1, 2, 2, 1), dtype="float32"), ((1, 0), (0, 2))).shape
    (1, 3, 4, 1)
"""

from __future__ import annotations

import math

from cnnkit.autodiff import Function, Tensor, _same_float, as_tensor, unbroadcast
from cnnkit.backend import xp
from cnnkit.kernels.conv import pad_nhwc


class Flatten(Function):
    """``(N, d1, ..., dk) -> (N, d1 * ... * dk)``; the backward restores the shape."""

    def forward(self, x):
        self.save_for_backward(x.shape)
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, grad):
        (shape,) = self.saved
        return grad.reshape(shape)


class Dropout(Function):
    """Inverted dropout: keep each element with probability ``1 - rate``, scaled by its inverse.

    ``out = x * keep / (1 - rate)`` with ``keep = u < 1 - rate`` for ``u`` uniform in
    ``[0, 1)`` (float32 draws), as Keras does; the expected value of ``out`` is ``x``. The
    backward applies the same mask and scale. A ``noise_shape`` with ones (e.g.
    ``(N, 1, 1, C)``) draws one decision per broadcast slice instead of per element.
    """

    def forward(self, x, rate, rng, noise_shape=None):
        shape = x.shape if noise_shape is None else noise_shape
        keep = rng.random(shape, dtype=xp.float32) < x.dtype.type(1.0 - rate)  # bool mask
        scale = x.dtype.type(1.0 / (1.0 - rate))
        self.save_for_backward(keep, scale)
        out = x * keep
        out *= scale
        return out

    def backward(self, grad):
        keep, scale = self.saved
        out = grad * keep
        out *= scale
        return out


class _Zeros(Function):
    """``rate == 1``: everything dropped (and no division by zero)."""

    def forward(self, x):
        return xp.zeros_like(x)

    def backward(self, grad):
        return xp.zeros_like(grad)


def flatten(x) -> Tensor:
    """Flatten all but the batch axis.

    Args:
        x: Tensor (or array) of shape ``(N, d1, ..., dk)``, ``k >= 0``.

    Returns:
        Tensor of shape ``(N, d1 * ... * dk)`` (``(N, 1)`` for a 1-D input).

    Raises:
        ValueError: for a 0-D input (no batch axis).
    """
    if len(x.shape) == 0:
        raise ValueError("`flatten` needs an input with a batch axis. Received: input.shape=()")
    return Flatten.apply(x)


def dropout(x, rate: float, rng, noise_shape=None) -> Tensor:
    """Inverted dropout (training mode); see :class:`Dropout`.

    Args:
        x: Tensor (or array) of floats.
        rate: fraction of elements to drop, in ``[0, 1]``; ``0`` returns ``x`` unchanged.
        rng: a ``numpy.random.Generator`` (``cnnkit.backend.rng()`` in layers) the mask is
            drawn from.
        noise_shape: shape of the mask, broadcast against ``x`` (default: ``x.shape``);
            ``(N, 1, 1, C)`` drops whole feature maps.

    Returns:
        Tensor of ``x``'s shape and dtype.

    Raises:
        ValueError: if ``rate`` is outside ``[0, 1]``.
    """
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(
            "Invalid value for argument `rate`. Expected a float value between 0 and 1. "
            f"Received: rate={rate}"
        )
    if rate == 0.0:
        return as_tensor(x)
    if rate == 1.0:
        return _Zeros.apply(x)
    if noise_shape is not None:
        noise_shape = tuple(int(d) for d in noise_shape)
        if len(noise_shape) != len(x.shape) or any(
            d != 1 and d != s for d, s in zip(noise_shape, x.shape)
        ):
            raise ValueError(
                "Invalid value for argument `noise_shape`: expected, per axis, 1 or the input's "
                f"size. Received: noise_shape={noise_shape} for input shape {tuple(x.shape)}"
            )
    return Dropout.apply(x, rate=rate, rng=rng, noise_shape=noise_shape)


# ---------------------------------------------------------------------------
# Padding, cropping and nearest-neighbour upsampling of NHWC images.
# ---------------------------------------------------------------------------


class Pad2D(Function):
    """Constant rows/columns around H and W: (N, H, W, C) -> (N, T+H+B, L+W+R, C).

    The backward crops the gradient back to ``(N, H, W, C)``.
    """

    def forward(self, x, pads, value=0.0):
        self.save_for_backward(x.shape, pads)
        return pad_nhwc(x, pads, value)

    def backward(self, grad):
        (_, h, w, _), ((top, _), (left, _)) = self.saved
        return xp.ascontiguousarray(grad[:, top : top + h, left : left + w, :])


class Crop2D(Function):
    """Drop rows/columns at the borders: (N, H, W, C) -> (N, H-T-B, W-L-R, C).

    The backward pads the gradient with zeros (the cropped pixels get none).
    """

    def forward(self, x, crops):
        (top, bottom), (left, right) = crops
        _, h, w, _ = x.shape
        self.save_for_backward(crops)
        return xp.ascontiguousarray(x[:, top : h - bottom, left : w - right, :])

    def backward(self, grad):
        (crops,) = self.saved
        return pad_nhwc(grad, crops)


class UpSampleNearest2D(Function):
    """Repeat each pixel into an ``SH × SW`` block: (N, H, W, C) -> (N, H·SH, W·SW, C).

    ``out[n, y, x, c] = in[n, y // SH, x // SW, c]``; the backward sums each block.
    """

    def forward(self, x, size):
        n, h, w, c = x.shape
        sh, sw = size
        out = xp.empty((n, h, sh, w, sw, c), dtype=x.dtype)
        out[...] = x[:, :, None, :, None, :]
        self.save_for_backward(x.shape, size)
        return out.reshape(n, h * sh, w * sw, c)

    def backward(self, grad):
        (n, h, w, c), (sh, sw) = self.saved
        return grad.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))


def _check_images(x, what: str) -> None:
    if len(x.shape) != 4:
        raise ValueError(
            f"`{what}` expects a 4-D input (batch, height, width, channels). "
            f"Received: input.shape={tuple(x.shape)}"
        )


def pad2d(x, padding, value: float = 0.0) -> Tensor:
    """Pad the spatial axes of NHWC ``x`` with ``value``.

    Args:
        x: Tensor (or array) ``(N, H, W, C)``.
        padding: ``((top, bottom), (left, right))``, non-negative ints.
        value: the constant written into the new pixels (``ZeroPadding2D``: 0).

    Returns:
        Tensor ``(N, top + H + bottom, left + W + right, C)``.

    Example:
        >>> import numpy as np
        >>> pad2d(np.ones((1, 1, 1, 1), "float32"), ((1, 1), (0, 0))).data[0, :, 0, 0]
        array([0., 1., 0.], dtype=float32)
    """
    _check_images(x, "pad2d")
    pads = tuple(tuple(int(p) for p in pair) for pair in padding)
    return Pad2D.apply(x, pads=pads, value=value)


def crop2d(x, cropping) -> Tensor:
    """Remove ``((top, bottom), (left, right))`` rows/columns from NHWC ``x``.

    Raises:
        ValueError: when the crop leaves no pixel along an axis.
    """
    _check_images(x, "crop2d")
    crops = tuple(tuple(int(p) for p in pair) for pair in cropping)
    _, h, w, _ = x.shape
    if sum(crops[0]) >= h or sum(crops[1]) >= w:
        raise ValueError(
            "Values in `cropping` argument should be smaller than the corresponding spatial "
            f"dimension of the input. Received: inputs.shape={tuple(x.shape)}, cropping={crops}"
        )
    return Crop2D.apply(x, crops=crops)


def upsample2d_nearest(x, size) -> Tensor:
    """Repeat every pixel of NHWC ``x`` ``size = (SH, SW)`` times along H and W.

    Example:
        >>> import numpy as np
        >>> x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
        >>> upsample2d_nearest(x, (1, 2)).data[0, :, :, 0]
        array([[0., 0., 1., 1.],
               [2., 2., 3., 3.]], dtype=float32)
    """
    _check_images(x, "upsample2d_nearest")
    return UpSampleNearest2D.apply(x, size=(int(size[0]), int(size[1])))


# ---------------------------------------------------------------------------
# Merging: concatenation and element-wise extrema of several tensors.
# ---------------------------------------------------------------------------


class Concatenate(Function):
    """Join tensors along ``axis``; the backward slices the gradient back into pieces."""

    def forward(self, *arrays, axis=-1):
        axis = axis % arrays[0].ndim
        self.axis = axis
        self.bounds = xp.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        self.dtypes = [a.dtype for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            xp.ascontiguousarray(grad[(*lead, slice(lo, hi))], dtype=dtype) if needed else None
            for lo, hi, dtype, needed in zip(
                self.bounds[:-1], self.bounds[1:], self.dtypes, self.needs_grad
            )
        )


class _Extremum(Function):
    """``max(a, b)`` or ``min(a, b)`` with broadcasting; ties send the gradient to ``a``.

    The tie rule is TensorFlow's (``x >= y`` selects ``x`` for the maximum), so a chain
    ``max(max(x0, x1), x2)`` routes a tied gradient to the earliest input.
    """

    _op = None  # xp.maximum or xp.minimum (NaN propagates, as in NumPy and TensorFlow)
    _pick = None  # (a, b) -> bool mask, broadcast shape: where ``a`` is the result

    def forward(self, a, b):
        a, b = _same_float(a, b)
        self.save_for_backward(type(self)._pick(a, b), a.shape, b.shape)
        return type(self)._op(a, b)

    def backward(self, grad):
        first, sa, sb = self.saved
        ga = unbroadcast(grad * first, sa) if self.needs_grad[0] else None
        gb = unbroadcast(grad * ~first, sb) if self.needs_grad[1] else None
        return ga, gb


class Maximum(_Extremum):
    _op = staticmethod(xp.maximum)
    _pick = staticmethod(xp.greater_equal)


class Minimum(_Extremum):
    _op = staticmethod(xp.minimum)
    _pick = staticmethod(xp.less_equal)


def concatenate(tensors, axis: int = -1) -> Tensor:
    """Concatenate a list of tensors along ``axis`` (all other sizes equal).

    Example:
        >>> import numpy as np
        >>> concatenate([np.ones((2, 3)), np.zeros((2, 1))], axis=-1).shape
        (2, 4)
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("`concatenate` needs at least one tensor. Received: []")
    return Concatenate.apply(*tensors, axis=int(axis))


def maximum(a, b) -> Tensor:
    """Element-wise maximum with broadcasting; on ties the gradient goes to ``a``."""
    return Maximum.apply(a, b)


def minimum(a, b) -> Tensor:
    """Element-wise minimum with broadcasting; on ties the gradient goes to ``a``."""
    return Minimum.apply(a, b)
