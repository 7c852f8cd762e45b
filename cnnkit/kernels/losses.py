"""Per-sample losses as differentiable ops, with Keras 3's numerics.

Every loss reduces the last (class / feature) axis only: inputs ``(N, K)`` give ``(N,)``
(more generally ``(..., K) -> (...)``), and the backward receives a gradient of that shape.
Batch reduction and sample weights belong to ``cnnkit.losses.Loss``.

Numerics (``eps = backend.epsilon()``, ``1e-7`` unless ``keras.config.set_epsilon`` changed it)::

    from probabilities   q = p / sum(p, -1),  CE = -sum(y * log(clip(q, eps, 1 - eps)), -1)
    from logits          CE = -sum(y * log_softmax(z), -1)       (max subtracted: stable)
    binary, probs        BCE = mean(-(y log c + (1 - y) log(1 - c)), -1),  c = clip(p, eps, 1 - eps)
    binary, logits       BCE = mean(max(z, 0) - z y + log(1 + exp(-|z|)), -1)
    MSE = mean((y - p)^2, -1),  MAE = mean(|y - p|, -1)

The clip passes no gradient where it is active, as in TensorFlow. The logits forms fuse the
softmax (or sigmoid) with the log, so their gradients are simply ``softmax(z) - y`` and
``sigmoid(z) - y``, and logits of +-1e4 still give finite losses and gradients.

Targets (``y_true``, integer labels) are constants: only the prediction is differentiated,
except in MSE and MAE, which differentiate both arguments.

Example:
    >>> import numpy as np
    >>> logits = np.array([[2.0, 0.0, -1.0]], dtype="float32")
    >>> sparse_categorical_crossentropy(np.array([0]), logits, from_logits=True).shape
    (1,)
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor, unbroadcast
from cnnkit.backend import xp

EPSILON = 1e-7  # the default of backend.epsilon()


def _data(x):
    """The array behind a Tensor (or the array itself)."""
    return x.data if isinstance(x, Tensor) else xp.asarray(x)


def _log_softmax_parts(z):
    """Stable ``log_softmax(z)`` along the last axis, and ``softmax(z)``."""
    shifted = z - z.max(axis=-1, keepdims=True)  # (..., K), every entry <= 0
    e = xp.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)  # (..., 1), >= 1
    return shifted - xp.log(total), e / total


def check_labels(labels, y_pred_shape) -> object:
    """Integer labels of shape ``y_pred_shape[:-1]`` (a trailing axis of 1 is squeezed).

    Raises:
        ValueError: on a shape mismatch, or a label outside ``[0, K)`` (TensorFlow's wording).
    """
    labels = _data(labels)
    if labels.ndim == len(y_pred_shape) and labels.ndim > 0 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != tuple(y_pred_shape[:-1]):
        raise ValueError(
            "Arguments `y_true` and `y_pred` must have the same shape up until the last "
            f"dimension. Received: y_true.shape={labels.shape}, "
            f"y_pred.shape={tuple(y_pred_shape)}"
        )
    labels = labels.astype(xp.intp, copy=False)
    num_classes = y_pred_shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = (labels < 0) | (labels >= num_classes)
        first = int(labels.reshape(-1)[bad.reshape(-1).argmax()])
        raise ValueError(
            f"Received a label value of {first} which is outside the valid range of "
            f"[0, {num_classes})"
        )
    return labels


def _check_same_shape(y_true, y_pred) -> None:
    if y_true.shape == y_pred.shape:
        return
    if y_true.shape[:-1] == y_pred.shape[:-1] and y_true.ndim > 0:
        raise ValueError(
            f"`y_true` has {y_true.shape[-1]} classes but `y_pred` has {y_pred.shape[-1]}. "
            f"Arguments `y_true` and `y_pred` must have the same shape. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    raise ValueError(
        "Arguments `y_true` and `y_pred` must have the same shape. "
        f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
    )


# ---------------------------------------------------------------------------
# Categorical cross-entropy: integer labels or one-hot (soft) targets
# ---------------------------------------------------------------------------


class SparseCrossentropyFromLogits(Function):
    """``-log_softmax(z)[label]``; backward ``(softmax(z) - onehot(label)) * g``."""

    def forward(self, z, labels):
        log_p, p = _log_softmax_parts(z)  # (..., K) each
        idx = labels[..., None]  # (..., 1)
        self.save_for_backward(p, idx)
        return -xp.take_along_axis(log_p, idx, axis=-1)[..., 0]

    def backward(self, grad):
        p, idx = self.saved
        g = grad[..., None]  # (..., 1)
        dz = p * g
        xp.put_along_axis(dz, idx, xp.take_along_axis(dz, idx, axis=-1) - g, axis=-1)
        return dz


class SparseCrossentropyFromProbs(Function):
    """``-log(clip(p[label] / sum(p), eps, 1 - eps))``.

    Backward (inside the clip): ``dp_j = g * (1 / sum(p) - [j == label] / p[label])``.
    """

    def forward(self, p, labels):
        eps = p.dtype.type(backend.epsilon())
        total = p.sum(axis=-1, keepdims=True)  # (..., 1)
        idx = labels[..., None]  # (..., 1)
        q = xp.take_along_axis(p, idx, axis=-1) / total  # (..., 1): normalised p[label]
        inside = (q >= eps) & (q <= 1 - eps)
        self.save_for_backward(p.shape, total, idx, q, inside)
        return -xp.log(xp.clip(q, eps, 1 - eps))[..., 0]

    def backward(self, grad):
        shape, total, idx, q, inside = self.saved
        w = xp.where(inside, grad[..., None] / total, grad.dtype.type(0))  # (..., 1)
        dp = xp.empty(shape, dtype=grad.dtype)
        dp[...] = w
        q_safe = xp.where(inside, q, q.dtype.type(1))
        xp.put_along_axis(dp, idx, w - w / q_safe, axis=-1)
        return dp


class CategoricalCrossentropyFromLogits(Function):
    """``-sum(y * log_softmax(z))``; backward ``(softmax(z) * sum(y) - y) * g``."""

    def forward(self, z, target):
        log_p, p = _log_softmax_parts(z)  # (..., K)
        self.save_for_backward(p, target)
        return -(target * log_p).sum(axis=-1)

    def backward(self, grad):
        p, y = self.saved
        return (p * y.sum(axis=-1, keepdims=True) - y) * grad[..., None]


class CategoricalCrossentropyFromProbs(Function):
    """``-sum(y * log(clip(p / sum(p), eps, 1 - eps)))``.

    Backward: with ``q = p / sum(p)`` and ``dq = -y / clip(q) * g`` (0 where the clip is
    active), ``dp = (dq - sum(dq * q)) / sum(p)``.
    """

    def forward(self, p, target):
        eps = p.dtype.type(backend.epsilon())
        total = p.sum(axis=-1, keepdims=True)  # (..., 1)
        q = p / total  # (..., K)
        clipped = xp.clip(q, eps, 1 - eps)
        self.save_for_backward(target, total, q, clipped, eps)
        return -(target * xp.log(clipped)).sum(axis=-1)

    def backward(self, grad):
        y, total, q, clipped, eps = self.saved
        inside = (q >= eps) & (q <= 1 - eps)
        dq = xp.where(inside, -y / clipped, grad.dtype.type(0)) * grad[..., None]
        return (dq - (dq * q).sum(axis=-1, keepdims=True)) / total


# ---------------------------------------------------------------------------
# Binary cross-entropy (mean over the last axis)
# ---------------------------------------------------------------------------


class BinaryCrossentropyFromProbs(Function):
    """``mean(-(y log c + (1 - y) log(1 - c)))``, ``c = clip(p, eps, 1 - eps)``.

    Backward (inside the clip): ``(c - y) / (c (1 - c)) * g / K``.
    """

    def forward(self, p, target):
        eps = p.dtype.type(backend.epsilon())
        c = xp.clip(p, eps, 1 - eps)
        self.save_for_backward(p, target, c, eps)
        return -(target * xp.log(c) + (1 - target) * xp.log(1 - c)).mean(axis=-1)

    def backward(self, grad):
        p, y, c, eps = self.saved
        inside = (p >= eps) & (p <= 1 - eps)
        k = grad.dtype.type(p.shape[-1])
        dc = xp.where(inside, (c - y) / (c * (1 - c)), grad.dtype.type(0))
        return dc * (grad[..., None] / k)


class BinaryCrossentropyFromLogits(Function):
    """``mean(max(z, 0) - z y + log(1 + exp(-|z|)))``; backward ``(sigmoid(z) - y) g / K``."""

    def forward(self, z, target):
        self.save_for_backward(z, target)
        zero = z.dtype.type(0)
        return (xp.maximum(z, zero) - z * target + xp.log1p(xp.exp(-xp.abs(z)))).mean(axis=-1)

    def backward(self, grad):
        z, y = self.saved
        e = xp.exp(-xp.abs(z))  # (0, 1]
        sig = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
        k = grad.dtype.type(z.shape[-1])
        return (sig - y) * (grad[..., None] / k)


# ---------------------------------------------------------------------------
# Regression losses (both arguments differentiable)
# ---------------------------------------------------------------------------


class MeanSquaredError(Function):
    """``mean((y - p)^2)``; ``dp = 2 (p - y) g / K``, ``dy = -dp``."""

    def forward(self, y, p):
        diff = p - y  # (..., K)
        self.save_for_backward(y.shape, p.shape, diff)
        return (diff * diff).mean(axis=-1)

    def backward(self, grad):
        shape_y, shape_p, diff = self.saved
        dp = diff * (grad[..., None] * grad.dtype.type(2.0 / diff.shape[-1]))
        gy = unbroadcast(-dp, shape_y) if self.needs_grad[0] else None
        gp = unbroadcast(dp, shape_p) if self.needs_grad[1] else None
        return gy, gp


class MeanAbsoluteError(Function):
    """``mean(|y - p|)``; ``dp = sign(p - y) g / K``, ``dy = -dp``."""

    def forward(self, y, p):
        diff = p - y  # (..., K)
        self.save_for_backward(y.shape, p.shape, diff)
        return xp.abs(diff).mean(axis=-1)

    def backward(self, grad):
        shape_y, shape_p, diff = self.saved
        dp = xp.sign(diff) * (grad[..., None] / grad.dtype.type(diff.shape[-1]))
        gy = unbroadcast(-dp, shape_y) if self.needs_grad[0] else None
        gp = unbroadcast(dp, shape_p) if self.needs_grad[1] else None
        return gy, gp


# ---------------------------------------------------------------------------
# Functional forms: (y_true, y_pred) -> per-sample Tensor
# ---------------------------------------------------------------------------


def _target(y_true, y_pred):
    """``y_true`` as an array of ``y_pred``'s float dtype."""
    return _data(y_true).astype(_data(y_pred).dtype, copy=False)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> Tensor:
    """Cross-entropy against integer labels.

    Args:
        y_true: integer labels (int or float array/Tensor), shape ``(...)`` or ``(..., 1)``.
        y_pred: Tensor ``(..., K)``: probabilities, or logits when ``from_logits``.
        from_logits: whether ``y_pred`` holds logits.

    Returns:
        Tensor ``(...)`` of per-sample losses.

    Raises:
        ValueError: on a shape mismatch or a label outside ``[0, K)``.
    """
    labels = check_labels(y_true, y_pred.shape)
    op = SparseCrossentropyFromLogits if from_logits else SparseCrossentropyFromProbs
    return op.apply(y_pred, labels=labels)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> Tensor:
    """Cross-entropy against one-hot (or soft) targets ``y_true`` of ``y_pred``'s shape.

    Returns:
        Tensor ``(...)`` of per-sample losses.

    Raises:
        ValueError: if the shapes (batch size or class count) differ.
    """
    target = _target(y_true, y_pred)
    _check_same_shape(target, _data(y_pred))
    op = CategoricalCrossentropyFromLogits if from_logits else CategoricalCrossentropyFromProbs
    return op.apply(y_pred, target=target)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False) -> Tensor:
    """Binary cross-entropy, averaged over the last axis.

    Returns:
        Tensor ``(...)`` of per-sample losses.

    Raises:
        ValueError: if the shapes differ.
    """
    target = _target(y_true, y_pred)
    _check_same_shape(target, _data(y_pred))
    op = BinaryCrossentropyFromLogits if from_logits else BinaryCrossentropyFromProbs
    return op.apply(y_pred, target=target)


def _check_broadcastable(y_true, y_pred) -> None:
    """Keras's regression losses subtract ``y_true - y_pred`` with broadcasting."""
    try:
        np.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(
            "Arguments `y_true` and `y_pred` must have broadcastable shapes. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        ) from None


def mean_squared_error(y_true, y_pred) -> Tensor:
    """``mean((y_true - y_pred)^2, axis=-1)`` with broadcasting (as Keras).

    Raises ValueError if the shapes do not broadcast.
    """
    _check_broadcastable(_data(y_true), _data(y_pred))
    return MeanSquaredError.apply(_as_float(y_true, y_pred), y_pred)


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """``mean(|y_true - y_pred|, axis=-1)`` with broadcasting; ValueError if they don't."""
    _check_broadcastable(_data(y_true), _data(y_pred))
    return MeanAbsoluteError.apply(_as_float(y_true, y_pred), y_pred)


def _as_float(y_true, y_pred):
    """A constant ``y_true`` cast to ``y_pred``'s dtype; a Tensor that needs grads as is."""
    if isinstance(y_true, Tensor) and y_true.requires_grad:
        return y_true
    return _target(y_true, y_pred)
