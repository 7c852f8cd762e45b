"""Max and average pooling over NHWC images, with TensorFlow/Keras padding semantics.

For an input ``(N, H, W, C)``, a ``(PH, PW)`` window and ``(SH, SW)`` strides, the output is
``(N, OH, OW, C)`` with (rows shown; columns likewise)::

    "valid":  OH = floor((H - PH) / SH) + 1          (windows lie inside the image)
    "same":   OH = ceil(H / SH)
              total padding PT = max((OH - 1) * SH + PH - H, 0),
              top = PT // 2, bottom = PT - top         (the extra row goes at the bottom)

Max pooling pads with ``-inf`` (padding never wins); average pooling with ``"same"`` divides each
window by the number of real (non-padded) pixels in it, exactly as TensorFlow does.

The Functions below are the maths; the window reductions come from
:func:`cnnkit.kernels.dispatch.ops`. The NumPy kernels (:mod:`cnnkit.kernels.numpy_ops`) have
a fast path for non-overlapping windows without padding (``PH == SH``, ``PW == SW``; an
indivisible "valid" remainder is cropped, see :func:`_plan`); every other case pads once and
loops over the ``PH * PW`` window offsets, each a sliced view of shape ``(N, OH, OW, C)``,
the backward accumulating into the same slices (:mod:`cnnkit.kernels.reference_ops`).
Where :func:`cnnkit.kernels.dispatch.fast` offers oneDNN, it runs max and average pooling
whole, forward and backward (:mod:`cnnkit.kernels.onednn.pool`).

Max pooling's gradient goes to ONE element per window: on ties, the first maximum in row-major
window order (top-left first), as TensorFlow's and PyTorch's argmax do.

Example:
    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> max_pool2d(x, 2).data[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
"""

from __future__ import annotations

import time
from typing import NamedTuple

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels import dispatch

_PADDINGS = ("valid", "same")


class _Plan(NamedTuple):
    """The geometry of one pooling call."""

    pool: tuple[int, int]
    strides: tuple[int, int]
    out_hw: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    fast: bool  # non-overlapping windows, no padding


def pool_output_size(size: int, pool: int, stride: int, padding: str) -> int:
    """Output length of one spatial dimension: see the module docstring."""
    if padding == "same":
        return -(-size // stride)
    return (size - pool) // stride + 1 if size >= pool else 0


def pool2d_output_shape(input_shape, pool_size, strides=None, padding="valid") -> tuple:
    """``(N, OH, OW, C)`` for an ``(N, H, W, C)`` input (``N`` may be ``None``)."""
    pool = _pair(pool_size, "pool_size")
    stride = pool if strides is None else _pair(strides, "strides")
    padding = _padding(padding)
    n, h, w, c = input_shape
    oh = None if h is None else pool_output_size(h, pool[0], stride[0], padding)
    ow = None if w is None else pool_output_size(w, pool[1], stride[1], padding)
    return (n, oh, ow, c)


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int or a tuple of 2 ints. "
            f"Received: {name}={value!r}"
        )
    if min(pair) <= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected strictly positive values. "
            f"Received: {name}={value!r}"
        )
    return pair


def _padding(padding) -> str:
    value = str(padding).lower()
    if value not in _PADDINGS:
        raise ValueError(
            "Invalid value for argument `padding`. Expected one of ('valid', 'same'). "
            f"Received: padding={padding!r}"
        )
    return value


def _plan(shape, pool_size, strides, padding) -> _Plan:
    """Validate the arguments against an input shape and work out the geometry."""
    if len(shape) != 4:
        raise ValueError(
            "Pooling expects a 4-D input (batch, height, width, channels). "
            f"Received: input.shape={tuple(shape)}"
        )
    pool = _pair(pool_size, "pool_size")
    stride = pool if strides is None else _pair(strides, "strides")
    padding = _padding(padding)
    _, h, w, _ = shape
    oh = pool_output_size(h, pool[0], stride[0], padding)
    ow = pool_output_size(w, pool[1], stride[1], padding)
    if oh <= 0 or ow <= 0:
        raise ValueError(
            "Computed output size would be zero or negative: the pooling window is larger than "
            f"the input. Received: input.shape={tuple(shape)}, pool_size={pool}, "
            f"strides={stride}, padding={padding!r}"
        )
    pads = [0, 0, 0, 0]
    if padding == "same":
        for axis, (size, out) in enumerate(((h, oh), (w, ow))):
            total = max((out - 1) * stride[axis] + pool[axis] - size, 0)
            pads[2 * axis] = total // 2
            pads[2 * axis + 1] = total - total // 2
    fast = pool == stride and not any(pads)
    return _Plan(pool, stride, (oh, ow), tuple(pads), fast)


class _WindowPool(Function):
    """What max and average pooling share: oneDNN's forward pass, where it runs the shape
    (with ``"auto"``, where it won the shape's race), and the timing of the race."""

    def _fast(self, op: str, x, plan: _Plan):
        """``(out, saved)`` from oneDNN, or ``None`` when ``self.ops`` (NumPy) runs it."""
        self.plan, self.in_shape, self.ops = plan, x.shape, dispatch.ops()
        self.race = None
        fast = dispatch.fast(op)
        if fast is None:
            return None
        self.race = dispatch.Race(op, (x.shape, plan, x.dtype.str))
        if not self.race.fast:
            return None
        found = getattr(fast, op)(x, plan, self.race.threads)
        if found is None:  # no fast kernel for this shape
            self.race.decline()
        else:
            self.ops = fast
        return found

    def _timed(self, start: float, done: bool) -> None:
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=done)


class MaxPool2D(_WindowPool):
    """Max over each window; see the module docstring for shapes, padding and ties."""

    def forward(self, x, plan: _Plan):
        start = time.perf_counter()
        found = self._fast("max_pool2d", x, plan) or self.ops.max_pool2d(x, plan)
        out, saved = found  # saved: what backward reads again
        dispatch.record("max_pool2d", self.ops.NAME)
        self.save_for_backward(saved, out)
        self._timed(start, done=not any(self.needs_grad))
        return out

    def backward(self, grad):
        start = time.perf_counter()
        saved, out = self.saved
        if self.ops.NAME == "onednn":  # the implementation that ran the forward pass
            dx = self.ops.max_pool2d_backward(saved, grad, self.in_shape, self.race.threads)
        else:
            dx = self.ops.max_pool2d_backward(saved, out, grad, self.plan, self.in_shape)
        self._timed(start, done=True)
        return dx


class AvgPool2D(_WindowPool):
    """Mean over each window; "same" divides by the count of real (non-padded) pixels."""

    def forward(self, x, plan: _Plan):
        start = time.perf_counter()
        found = self._fast("avg_pool2d", x, plan)
        dispatch.record("avg_pool2d", self.ops.NAME)
        if found is not None:
            total, self.fast_saved = found
        else:
            self.counts = _window_counts(x.shape, plan, x.dtype)  # (1, OH, OW, 1) or a scalar
            total = self.ops.sum_pool2d(x, plan)  # (N, OH, OW, C)
            total /= self.counts
        self._timed(start, done=not any(self.needs_grad))
        return total

    def backward(self, grad):
        start = time.perf_counter()
        if self.ops.NAME == "onednn":  # the implementation that ran the forward pass
            dx = self.ops.avg_pool2d_backward(
                self.fast_saved, grad, self.in_shape, self.race.threads
            )
        else:
            scaled = grad / self.counts  # (N, OH, OW, C)
            dx = self.ops.sum_pool2d_backward(scaled, self.plan, self.in_shape)
        self._timed(start, done=True)
        return dx


def _window_counts(in_shape, plan: _Plan, dtype):
    """Real pixels per window: ``PH * PW`` without padding, else (1, OH, OW, 1) counts."""
    if not any(plan.pads):
        return dtype.type(plan.pool[0] * plan.pool[1])
    per_axis = []
    for axis, size in enumerate(in_shape[1:3]):
        start = xp.arange(plan.out_hw[axis]) * plan.strides[axis] - plan.pads[2 * axis]
        stop = start + plan.pool[axis]
        per_axis.append(xp.minimum(stop, size) - xp.maximum(start, 0))
    counts = per_axis[0][:, None] * per_axis[1][None, :]  # (OH, OW)
    return counts.astype(dtype)[None, :, :, None]


class GlobalMaxPool2D(Function):
    """Max over H and W: (N, H, W, C) -> (N, C); the gradient goes to the first maximum."""

    def forward(self, x, keepdims=False):
        self.ops = dispatch.ops()
        dispatch.record("global_max_pool2d", self.ops.NAME)
        out, saved = self.ops.global_max_pool2d(x)  # (N, C)
        self.save_for_backward(x.shape, saved)
        return out.reshape(x.shape[0], 1, 1, x.shape[3]) if keepdims else out

    def backward(self, grad):
        in_shape, saved = self.saved
        return self.ops.global_max_pool2d_backward(saved, grad.reshape(grad.shape[0], -1), in_shape)


class GlobalAvgPool2D(Function):
    """Mean over H and W: (N, H, W, C) -> (N, C)."""

    def forward(self, x, keepdims=False):
        self.ops = dispatch.ops()
        dispatch.record("global_avg_pool2d", self.ops.NAME)
        self.save_for_backward(x.shape)
        out = self.ops.global_avg_pool2d(x)  # (N, C)
        return out.reshape(x.shape[0], 1, 1, x.shape[3]) if keepdims else out

    def backward(self, grad):
        (in_shape,) = self.saved
        return self.ops.global_avg_pool2d_backward(grad.reshape(grad.shape[0], -1), in_shape)


def max_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Max pooling over NHWC ``x``.

    Args:
        x: Tensor (or array) of shape ``(N, H, W, C)``.
        pool_size: int or ``(PH, PW)``.
        strides: int or ``(SH, SW)``; ``None`` means ``pool_size`` (Keras's default).
        padding: ``"valid"`` or ``"same"``.

    Returns:
        Tensor ``(N, OH, OW, C)``, sizes as in the module docstring.

    Raises:
        ValueError: on a non-4-D input, bad sizes, unknown padding or an empty output.
    """
    plan = _plan(x.shape, pool_size, strides, padding)
    return MaxPool2D.apply(x, plan=plan)


def avg_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Average pooling over NHWC ``x``; arguments, output and errors as :func:`max_pool2d`."""
    plan = _plan(x.shape, pool_size, strides, padding)
    return AvgPool2D.apply(x, plan=plan)


def global_max_pool2d(x, keepdims: bool = False) -> Tensor:
    """Max over H and W of NHWC ``x``: ``(N, C)``, or ``(N, 1, 1, C)`` with ``keepdims``."""
    _check_4d(x.shape)
    return GlobalMaxPool2D.apply(x, keepdims=bool(keepdims))


def global_avg_pool2d(x, keepdims: bool = False) -> Tensor:
    """Mean over H and W of NHWC ``x``: ``(N, C)``, or ``(N, 1, 1, C)`` with ``keepdims``."""
    _check_4d(x.shape)
    return GlobalAvgPool2D.apply(x, keepdims=bool(keepdims))


def _check_4d(shape) -> None:
    if len(shape) != 4:
        raise ValueError(
            "Pooling expects a 4-D input (batch, height, width, channels). "
            f"Received: input.shape={tuple(shape)}"
        )
