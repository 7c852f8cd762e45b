"""Image resizing of NHWC batches with TensorFlow's half-pixel sampling (``ops.image.resize``).

Along one axis resized from ``I`` to ``O`` pixels, with ``scale = I / O`` (computed in float32,
as TensorFlow's kernels do, whatever the image dtype), output pixel ``o`` samples the input at::

    bilinear:  src = (o + 0.5) * scale - 0.5                  (half-pixel centres)
               lo = max(floor(src), 0),  hi = min(ceil(src), I - 1),  t = src - floor(src)
               out[o] = x[lo] + (x[hi] - x[lo]) * t
    nearest:   out[o] = x[min(floor((o + 0.5) * scale), I - 1)]

Bilinear interpolates along the width first, then along the height, TensorFlow's order (it
decides the last bit of float32 results). This is ``tf.image.resize(..., antialias=False)``,
and equals ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
antialias=False)`` and ``mode="nearest-exact"``. There is no antialiasing filter when
downsampling (Keras's default, ``antialias=False``).

Each axis is a gather of one or two input rows per output row (memory and work proportional
to the output); the backward scatters the weighted gradients back onto those rows.

``crop_to_aspect_ratio`` first crops the largest centred window with the target aspect ratio;
``pad_to_aspect_ratio`` instead pads the short side evenly with ``fill_value`` (as Keras).

Example:
    >>> import numpy as np
    >>> x = np.array([0.0, 1.0], dtype="float32").reshape(1, 1, 2, 1)
    >>> resize(x, (1, 4)).data.ravel()
    array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels import shape as shape_ops

INTERPOLATIONS = ("bilinear", "nearest")
# Accepted by Keras but not implemented here: a clear NotImplementedError instead of "unknown".
KERAS_ONLY_INTERPOLATIONS = ("bicubic", "lanczos3", "lanczos5", "area")


class _AxisPlan(NamedTuple):
    """Where each output row of one axis reads from: ``lo`` (and ``hi`` with weight ``t``)."""

    lo: object  # (O,) int indices
    hi: object  # (O,) int indices, or None for nearest
    t: object  # (O,) float32 weights of ``hi``, or None for nearest
    in_size: int


def _axis_plan(in_size: int, out_size: int, method: str) -> _AxisPlan | None:
    """The sampling of one axis; ``None`` when it is the identity (same size)."""
    if in_size == out_size:
        return None
    scale = np.float32(in_size) / np.float32(out_size)
    o = np.arange(out_size, dtype=np.float32)
    if method == "nearest":
        lo = np.minimum(np.floor((o + np.float32(0.5)) * scale).astype(np.int64), in_size - 1)
        return _AxisPlan(xp.asarray(lo), None, None, in_size)
    src = (o + np.float32(0.5)) * scale - np.float32(0.5)  # float32, as TensorFlow
    floor = np.floor(src)
    lo = np.maximum(floor, 0).astype(np.int64)
    hi = np.minimum(np.ceil(src), in_size - 1).astype(np.int64)
    return _AxisPlan(xp.asarray(lo), xp.asarray(hi), xp.asarray(src - floor), in_size)


def _along(axis: int, index):
    """An index tuple selecting ``index`` on ``axis`` of an NHWC array."""
    return (slice(None),) * axis + (index,)


def _weights(plan: _AxisPlan, axis: int, dtype):
    """The (O,) weights shaped to broadcast along ``axis`` of an NHWC array."""
    return plan.t.astype(dtype).reshape((-1,) + (1,) * (3 - axis))


def _interpolate(x, axis: int, plan: _AxisPlan | None):
    """Resample ``x`` along ``axis`` (1 = height, 2 = width)."""
    if plan is None:
        return x
    low = xp.take(x, plan.lo, axis=axis)
    if plan.hi is None:  # nearest
        return low
    high = xp.take(x, plan.hi, axis=axis)
    high -= low
    high *= _weights(plan, axis, x.dtype)
    low += high  # x[lo] + (x[hi] - x[lo]) * t
    return low


def _interpolate_grad(grad, axis: int, plan: _AxisPlan | None):
    """The transpose of :func:`_interpolate`: scatter-add ``grad`` onto the input rows."""
    if plan is None:
        return grad
    shape = list(grad.shape)
    shape[axis] = plan.in_size
    out = xp.zeros(shape, dtype=grad.dtype)
    if plan.hi is None:
        xp.add.at(out, _along(axis, plan.lo), grad)
        return out
    t = _weights(plan, axis, grad.dtype)
    to_high = grad * t
    xp.add.at(out, _along(axis, plan.lo), grad - to_high)  # weight 1 - t
    xp.add.at(out, _along(axis, plan.hi), to_high)
    return out


class Resize2D(Function):
    """Resize the H and W axes of an NHWC batch; see the module docstring for the sampling."""

    def forward(self, x, size, method):
        _, h, w, _ = x.shape
        self.plans = (_axis_plan(h, size[0], method), _axis_plan(w, size[1], method))
        out = _interpolate(x, 2, self.plans[1])  # width first (TensorFlow's order)
        out = _interpolate(out, 1, self.plans[0])
        return out if out is not x else x.copy()

    def backward(self, grad):
        g = _interpolate_grad(grad, 1, self.plans[0])
        return _interpolate_grad(g, 2, self.plans[1])


def check_interpolation(interpolation) -> str:
    """Normalise and validate an ``interpolation`` argument."""
    value = str(interpolation).lower()
    if value in KERAS_ONLY_INTERPOLATIONS:
        raise NotImplementedError(
            f"cnnkit implements interpolation in {INTERPOLATIONS}. "
            f"Received: interpolation={interpolation!r}"
        )
    if value not in INTERPOLATIONS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected one of "
            f"{INTERPOLATIONS + KERAS_ONLY_INTERPOLATIONS}. Received: "
            f"interpolation={interpolation!r}"
        )
    return value


def aspect_ratio_box(height: int, width: int, size, mode: str):
    """Keras's crop or pad box for ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio``.

    Returns:
        ``((top, bottom), (left, right))``: rows/columns to crop (``mode="crop"``) or to add
        (``mode="pad"``) so that the image has the target aspect ratio ``size[0] / size[1]``.
    """
    target_h, target_w = size
    box_h = int(float(width * target_h) / target_w)
    box_w = int(float(height * target_w) / target_h)
    if mode == "crop":
        box_h, box_w = max(min(height, box_h), 1), max(min(width, box_w), 1)
        top, left = int(float(height - box_h) / 2), int(float(width - box_w) / 2)
        return (top, height - box_h - top), (left, width - box_w - left)
    box_h, box_w = max(height, box_h), max(width, box_w)
    top, left = int(float(box_h - height) / 2), int(float(box_w - width) / 2)
    return (top, box_h - height - top), (left, box_w - width - left)


def resize(
    images,
    size,
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_value: float = 0.0,
) -> Tensor:
    """Resize images to ``size = (height, width)``, as Keras's ``ops.image.resize``.

    Args:
        images: float Tensor (or array), ``(N, H, W, C)`` or one image ``(H, W, C)``.
        size: ``(height, width)`` of the output, positive ints.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        crop_to_aspect_ratio: crop the largest centred window with the target aspect ratio
            before resizing (no distortion).
        pad_to_aspect_ratio: pad the short side evenly with ``fill_value`` before resizing.
        fill_value: the padding value of ``pad_to_aspect_ratio``.

    Returns:
        Tensor ``(N, height, width, C)`` (or ``(height, width, C)``), ``images``' dtype.

    Raises:
        ValueError: on a bad rank, size or interpolation, or both aspect-ratio options.
    """
    method = check_interpolation(interpolation)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` & `pad_to_aspect_ratio` can be True.")
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(
            f"Expected `size` to be a tuple of 2 positive integers. Received: size={size}"
        )
    ndim = len(images.shape)
    if ndim not in (3, 4):
        raise ValueError(
            "Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
            f"Received input with shape: images.shape={tuple(images.shape)}"
        )
    if 0 in tuple(images.shape)[-3:-1]:
        raise ValueError(
            "Cannot resize an empty image: height and width must be positive. "
            f"Received: images.shape={tuple(images.shape)}"
        )
    if ndim == 3:
        images = Tensor(images) if not isinstance(images, Tensor) else images
        images = images.reshape((1, *images.shape))
    _, h, w, _ = images.shape
    if crop_to_aspect_ratio:
        crops = aspect_ratio_box(h, w, size, "crop")
        if any(crops[0]) or any(crops[1]):
            images = shape_ops.crop2d(images, crops)
    elif pad_to_aspect_ratio:
        pads = aspect_ratio_box(h, w, size, "pad")
        if any(pads[0]) or any(pads[1]):
            images = shape_ops.pad2d(images, pads, value=fill_value)
    out = Resize2D.apply(images, size=size, method=method)
    return out.reshape(out.shape[1:]) if ndim == 3 else out
