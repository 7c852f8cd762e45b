"""The rest of Keras 3's per-sample losses as differentiable ops (forward and backward together).

:mod:`cnnkit.kernels.losses` holds the cross-entropies, MSE and MAE. The losses here differentiate
the prediction ``p`` only (``y`` is a constant target), with Keras 3's formulas and
``EPSILON = 1e-7``. Most are the mean (or sum) over the last axis of an element-wise term
``l(y, p)``; their kernel computes ``l`` and its slope ``dl/dp`` in one pass::

    hinge            max(1 - y p, 0)           (binary {0, 1} targets become {-1, 1} first)
    squared_hinge    max(1 - y p, 0)^2
    MAPE             100 |y - p| / max(|y|, eps)
    MSLE             (log(max(p, eps) + 1) - log(max(y, eps) + 1))^2
    huber            (p - y)^2 / 2 if |p - y| <= delta else delta |p - y| - delta^2 / 2
    log_cosh         x + softplus(-2x) - log 2,  x = p - y
    poisson          p - y log(p + eps)
    kl_divergence    sum of  y' log(y' / p'),  y' = clip(y, eps, 1), p' = clip(p, eps, 1)
    binary focal     (1 - p_t)^gamma * bce(y, p) [* alpha_t],  p_t = y p + (1 - y)(1 - p)

and the losses that couple the classes::

    categorical_hinge       max(max_j((1 - y_j) p_j) - sum_j y_j p_j + 1, 0)
    cosine_similarity       -sum(y / ||y|| * p / ||p||),  ||v|| = sqrt(max(sum v^2, 1e-12))
    categorical focal       -sum_j alpha (1 - o_j)^gamma y_j log o_j,
                            o = clip(p / sum(p), eps, 1 - eps)  (p = softmax(z) from logits)
    generalized CE (GCE)    (1 - p[label]^q) / q
    dice                    1 - 2 sum(y p) / (sum y + sum p + eps)          over ``axis``
    tversky                 1 - I / (I + alpha FP + beta FN + eps)            over ``axis``

Clips and maxima pass no gradient where they are active, as in TensorFlow and torch.

Example:
    >>> import numpy as np
    >>> huber(np.array([[0.0, 2.0]]), np.array([[0.5, 0.0]])).data
    array([0.8125])
"""

from __future__ import annotations

import math

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels.activations import _stable_sigmoid
from cnnkit.kernels.losses import EPSILON, _data, check_labels

# ---------------------------------------------------------------------------
# Element-wise losses, reduced over the last axis
# ---------------------------------------------------------------------------


class ElementwiseLoss(Function):
    """``mean(l(y, p), -1)`` (``sum`` when ``reduce_sum``); subclasses give ``l`` and ``dl/dp``.

    Backward: ``dp = g[..., None] * dl/dp / K`` (no ``/ K`` for a sum).
    """

    reduce_sum = False

    def terms(self, y, p, **kwargs):  # pragma: no cover - abstract
        """``(l, dl/dp)``, both of ``p``'s shape."""
        raise NotImplementedError

    def forward(self, p, target, **kwargs):
        values, slope = self.terms(target, p, **kwargs)
        if not self.reduce_sum:
            slope = slope / p.dtype.type(p.shape[-1])
        self.save_for_backward(slope)
        return values.sum(axis=-1) if self.reduce_sum else values.mean(axis=-1)

    def backward(self, grad):
        (slope,) = self.saved
        return grad[..., None] * slope


class Hinge(ElementwiseLoss):
    """``max(1 - y p, 0)``; slope ``-y`` where the margin is violated."""

    def terms(self, y, p):
        margin = 1 - y * p
        active = margin > 0
        return xp.where(active, margin, 0), xp.where(active, -y, 0)


class SquaredHinge(ElementwiseLoss):
    """``max(1 - y p, 0)^2``; slope ``-2 y max(1 - y p, 0)``."""

    def terms(self, y, p):
        m = xp.maximum(1 - y * p, p.dtype.type(0))
        return m * m, -2 * y * m


class MeanAbsolutePercentageError(ElementwiseLoss):
    """``100 |y - p| / max(|y|, eps)``; slope ``100 sign(p - y) / max(|y|, eps)``."""

    def terms(self, y, p):
        scale = p.dtype.type(100) / xp.maximum(xp.abs(y), p.dtype.type(EPSILON))
        return xp.abs(y - p) * scale, xp.sign(p - y) * scale


class MeanSquaredLogarithmicError(ElementwiseLoss):
    """``(log1p(max(p, eps)) - log1p(max(y, eps)))^2``; slope ``2 d / (p + 1)`` above ``eps``."""

    def terms(self, y, p):
        eps = p.dtype.type(EPSILON)
        d = xp.log(xp.maximum(p, eps) + 1) - xp.log(xp.maximum(y, eps) + 1)
        return d * d, xp.where(p > eps, 2 * d / (p + 1), 0)


class Huber(ElementwiseLoss):
    """Quadratic within ``delta`` of the target, linear beyond; slope ``clip(p - y, +-delta)``."""

    def terms(self, y, p, delta=1.0):
        delta = p.dtype.type(delta)
        err = p - y
        small = xp.abs(err) <= delta
        half = p.dtype.type(0.5)
        values = xp.where(small, half * err * err, delta * xp.abs(err) - half * delta * delta)
        return values, xp.where(small, err, delta * xp.sign(err))


class LogCosh(ElementwiseLoss):
    """``log(cosh(p - y))`` as ``x + softplus(-2x) - log 2`` (no overflow); slope ``tanh(x)``."""

    def terms(self, y, p):
        x = p - y
        softplus = xp.maximum(-2 * x, 0) + xp.log1p(xp.exp(-xp.abs(2 * x)))
        return x + softplus - p.dtype.type(math.log(2.0)), xp.tanh(x)


class Poisson(ElementwiseLoss):
    """``p - y log(p + eps)``; slope ``1 - y / (p + eps)``."""

    def terms(self, y, p):
        eps = p.dtype.type(EPSILON)
        return p - y * xp.log(p + eps), 1 - y / (p + eps)


class KLDivergence(ElementwiseLoss):
    """``sum(y' log(y' / p'))`` with ``y', p'`` clipped to ``[eps, 1]``; slope ``-y' / p'``."""

    reduce_sum = True

    def terms(self, y, p):
        eps = p.dtype.type(EPSILON)
        yc, pc = xp.clip(y, eps, 1), xp.clip(p, eps, 1)
        inside = (p >= eps) & (p <= 1)
        return yc * xp.log(yc / pc), xp.where(inside, -yc / pc, 0)


class BinaryFocalCrossentropy(ElementwiseLoss):
    """Focal binary cross-entropy (Lin et al., 2017), Keras 3's form.

    With ``c = clip(q, eps, 1 - eps)`` (``q = sigmoid(z)`` from logits, else ``p``), ``bce =
    -(y log c + (1 - y) log(1 - c))``, ``p_t = y q + (1 - y)(1 - q)``, ``f = (1 - p_t)^gamma``::

        l = w f bce,   w = y alpha + (1 - y)(1 - alpha) when balancing, else 1
        dl/dq = w (gamma (1 - p_t)^(gamma - 1) (1 - 2y) bce + f dbce/dq)

    where ``dbce/dq = (c - y) / (c (1 - c))`` inside the clip; times ``q (1 - q)`` from logits.
    """

    def terms(self, y, p, gamma=2.0, alpha=0.25, balance=False, from_logits=False):
        dt = p.dtype.type
        q = _stable_sigmoid(p) if from_logits else p
        eps = dt(EPSILON)
        c = xp.clip(q, eps, 1 - eps)
        bce = -(y * xp.log(c) + (1 - y) * xp.log(1 - c))
        dbce = xp.where((q >= eps) & (q <= 1 - eps), (c - y) / (c * (1 - c)), 0)
        one_minus_pt = 1 - (y * q + (1 - y) * (1 - q))  # = y (1 - q) + (1 - y) q
        gamma = dt(gamma)
        focal = one_minus_pt**gamma
        dfocal = gamma * one_minus_pt ** (gamma - 1) * (1 - 2 * y) if gamma else 0 * q
        values, slope = focal * bce, dfocal * bce + focal * dbce
        if balance:
            w = y * dt(alpha) + (1 - y) * dt(1 - alpha)
            values, slope = w * values, w * slope
        if from_logits:
            slope = slope * q * (1 - q)
        return values, slope


# ---------------------------------------------------------------------------
# Losses that couple the entries of the last axis
# ---------------------------------------------------------------------------


class CategoricalHinge(Function):
    """``max(neg - pos + 1, 0)``, ``pos = sum(y p)``, ``neg = max((1 - y) p)``.

    Backward where the hinge is active: ``dp = g ((1 - y) [j = argmax] - y)``.
    """

    def forward(self, p, target):
        y = target
        pos = (y * p).sum(axis=-1)
        weighted = (1 - y) * p
        arg = weighted.argmax(axis=-1)[..., None]  # (..., 1)
        neg = xp.take_along_axis(weighted, arg, axis=-1)[..., 0]
        margin = neg - pos + 1
        self.save_for_backward(y, arg, margin > 0)
        return xp.maximum(margin, p.dtype.type(0))

    def backward(self, grad):
        y, arg, active = self.saved
        g = xp.where(active, grad, 0)[..., None]
        dp = -y * g
        at = xp.take_along_axis(dp, arg, axis=-1) + xp.take_along_axis((1 - y) * g, arg, axis=-1)
        xp.put_along_axis(dp, arg, at, axis=-1)
        return dp


class CosineSimilarity(Function):
    """``-sum(u v)``, ``u = y / ||y||``, ``v = p / ||p||``, norms floored at ``sqrt(1e-12)``.

    Backward: ``dp = -g (u - (u . v) v) / ||p||`` (just ``-g u / ||p||`` where the floor is
    active, since ``||p||`` is then a constant).
    """

    def forward(self, p, target, axis=-1):
        floor = p.dtype.type(1e-12)
        sq_y = (target * target).sum(axis=axis, keepdims=True)
        sq_p = (p * p).sum(axis=axis, keepdims=True)
        u = target / xp.sqrt(xp.maximum(sq_y, floor))
        norm_p = xp.sqrt(xp.maximum(sq_p, floor))
        v = p / norm_p
        cos = (u * v).sum(axis=axis, keepdims=True)
        self.save_for_backward(u, v, cos, norm_p, sq_p > floor, axis)
        return -xp.squeeze(cos, axis=axis)

    def backward(self, grad):
        u, v, cos, norm_p, scaled, axis = self.saved
        g = xp.expand_dims(grad, axis)
        return -g * (u - xp.where(scaled, cos, 0) * v) / norm_p


class CategoricalFocalCrossentropy(Function):
    """Focal categorical cross-entropy (Lin et al., 2017), Keras 3's form (see the module)."""

    def forward(self, p, target, alpha=0.25, gamma=2.0, from_logits=False):
        dt = p.dtype.type
        if from_logits:
            e = xp.exp(p - p.max(axis=-1, keepdims=True))
            p = e / e.sum(axis=-1, keepdims=True)
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        eps = dt(EPSILON)
        o = xp.clip(q, eps, 1 - eps)
        log_o = xp.log(o)
        gamma, alpha = dt(gamma), dt(alpha)
        focal = (1 - o) ** gamma
        dfocal = gamma * (1 - o) ** (gamma - 1) if gamma else 0 * o
        # dl/do_j = alpha y_j (gamma (1 - o)^(gamma - 1) log o - (1 - o)^gamma / o)
        do = alpha * target * (dfocal * log_o - focal / o)
        do = xp.where((q >= eps) & (q <= 1 - eps), do, 0)
        self.save_for_backward(do, q, total, p if from_logits else None)
        return -(alpha * focal * target * log_o).sum(axis=-1)

    def backward(self, grad):
        do, q, total, softmax = self.saved
        do = do * grad[..., None]
        dp = (do - (do * q).sum(axis=-1, keepdims=True)) / total  # through p / sum(p)
        if softmax is not None:
            dp = softmax * (dp - (dp * softmax).sum(axis=-1, keepdims=True))
        return dp


class GeneralizedCrossentropy(Function):
    """``(1 - p[label]^q) / q`` (Zhang & Sabuncu, 2018); ``dp[label] = -g p[label]^(q - 1)``."""

    def forward(self, p, labels, q=0.5):
        idx = labels[..., None]
        picked = xp.take_along_axis(p, idx, axis=-1)[..., 0]
        q = p.dtype.type(q)
        self.save_for_backward(p.shape, idx, picked, q)
        return (1 - picked**q) / q

    def backward(self, grad):
        shape, idx, picked, q = self.saved
        dp = xp.zeros(shape, dtype=grad.dtype)
        xp.put_along_axis(dp, idx, (-grad * picked ** (q - 1))[..., None], axis=-1)
        return dp


class Tversky(Function):
    """``1 - I / (I + alpha FP + beta FN + eps)`` over ``axis`` (``None``: every axis).

    ``I = sum(y p)``, ``FP = sum(y (1 - p))``, ``FN = sum((1 - y) p)`` (Keras's naming). Dice is
    ``alpha = beta = 1/2`` up to ``eps``: ``2I / (sum y + sum p + eps)`` when ``dice`` is set.
    Backward: with ``D`` the denominator and ``dD/dp = y (1 - alpha) + beta (1 - y)`` (for
    Dice ``D = sum y + sum p + eps``, ``dD/dp = 1``), ``dp = -g (y D - I dD/dp) / D^2`` (times
    2 for Dice).
    """

    def forward(self, p, target, alpha=0.5, beta=0.5, axis=None, dice=False):
        y = target
        dt = p.dtype.type
        inter = (y * p).sum(axis=axis, keepdims=True)
        if dice:
            denom = y.sum(axis=axis, keepdims=True) + p.sum(axis=axis, keepdims=True) + dt(EPSILON)
            ddenom, scale, num = 1, dt(2), 2 * inter
        else:
            fp = ((1 - p) * y).sum(axis=axis, keepdims=True)
            fn = (p * (1 - y)).sum(axis=axis, keepdims=True)
            denom = inter + dt(alpha) * fp + dt(beta) * fn + dt(EPSILON)
            ddenom, scale, num = y * dt(1 - alpha) + dt(beta) * (1 - y), dt(1), inter
        self.save_for_backward(y, inter, denom, ddenom, scale, axis)
        ratio = num / denom
        return 1 - (ratio.reshape(()) if axis is None else xp.squeeze(ratio, axis=axis))

    def backward(self, grad):
        y, inter, denom, ddenom, scale, axis = self.saved
        g = grad if axis is None else xp.expand_dims(grad, axis)
        return -g * scale * (y * denom - inter * ddenom) / (denom * denom)


# ---------------------------------------------------------------------------
# Functional forms: (y_true, y_pred) -> per-sample Tensor; y_true is a constant
# ---------------------------------------------------------------------------


def _target(y_true, y_pred):
    return _data(y_true).astype(_data(y_pred).dtype, copy=False)


def hinge_targets(y):
    """Keras's rule: targets that are all 0 or 1 become -1/1; any others pass unchanged."""
    if ((y == 0) | (y == 1)).all():
        return 2 * y - 1
    return y


def hinge(y_true, y_pred) -> Tensor:
    """``mean(max(1 - y p, 0), -1)``; {0, 1} targets are mapped to {-1, 1}."""
    return Hinge.apply(y_pred, target=hinge_targets(_target(y_true, y_pred)))


def squared_hinge(y_true, y_pred) -> Tensor:
    """``mean(max(1 - y p, 0)^2, -1)``; {0, 1} targets are mapped to {-1, 1}."""
    return SquaredHinge.apply(y_pred, target=hinge_targets(_target(y_true, y_pred)))


def categorical_hinge(y_true, y_pred) -> Tensor:
    """``max(max((1 - y) p) - sum(y p) + 1, 0)`` over the last axis."""
    return CategoricalHinge.apply(y_pred, target=_target(y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred) -> Tensor:
    """``100 * mean(|y - p| / max(|y|, eps), -1)``."""
    return MeanAbsolutePercentageError.apply(y_pred, target=_target(y_true, y_pred))


def mean_squared_logarithmic_error(y_true, y_pred) -> Tensor:
    """``mean((log(max(p, eps) + 1) - log(max(y, eps) + 1))^2, -1)``."""
    return MeanSquaredLogarithmicError.apply(y_pred, target=_target(y_true, y_pred))


def huber(y_true, y_pred, delta: float = 1.0) -> Tensor:
    """Huber loss averaged over the last axis."""
    return Huber.apply(y_pred, target=_target(y_true, y_pred), delta=delta)


def log_cosh(y_true, y_pred) -> Tensor:
    """``mean(log(cosh(p - y)), -1)``."""
    return LogCosh.apply(y_pred, target=_target(y_true, y_pred))


def poisson(y_true, y_pred) -> Tensor:
    """``mean(p - y log(p + eps), -1)``."""
    return Poisson.apply(y_pred, target=_target(y_true, y_pred))


def kl_divergence(y_true, y_pred) -> Tensor:
    """``sum(y log(y / p), -1)`` with both clipped to ``[eps, 1]``."""
    return KLDivergence.apply(y_pred, target=_target(y_true, y_pred))


def binary_focal_crossentropy(
    y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False
) -> Tensor:
    """Focal binary cross-entropy averaged over the last axis (see the class)."""
    return BinaryFocalCrossentropy.apply(
        y_pred,
        target=_target(y_true, y_pred),
        gamma=gamma,
        alpha=alpha,
        balance=bool(apply_class_balancing),
        from_logits=bool(from_logits),
    )


def cosine_similarity(y_true, y_pred, axis: int = -1) -> Tensor:
    """Negative cosine similarity along ``axis``."""
    return CosineSimilarity.apply(y_pred, target=_target(y_true, y_pred), axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False
) -> Tensor:
    """Focal categorical cross-entropy over the last axis."""
    return CategoricalFocalCrossentropy.apply(
        y_pred,
        target=_target(y_true, y_pred),
        alpha=alpha,
        gamma=gamma,
        from_logits=bool(from_logits),
    )


def categorical_generalized_cross_entropy(y_true, y_pred, q: float) -> Tensor:
    """``(1 - p[label]^q) / q`` against integer labels."""
    labels = check_labels(y_true, y_pred.shape)
    return GeneralizedCrossentropy.apply(y_pred, labels=labels, q=q)


def dice(y_true, y_pred, axis=None) -> Tensor:
    """``1 - 2 sum(y p) / (sum y + sum p + eps)`` over ``axis`` (``None``: all axes)."""
    return Tversky.apply(y_pred, target=_target(y_true, y_pred), axis=axis, dice=True)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None) -> Tensor:
    """``1 - I / (I + alpha FP + beta FN + eps)`` over ``axis`` (``None``: all axes)."""
    return Tversky.apply(y_pred, target=_target(y_true, y_pred), alpha=alpha, beta=beta, axis=axis)
