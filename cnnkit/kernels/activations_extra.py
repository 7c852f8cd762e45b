"""The rest of Keras 3's activations as differentiable ops: forward and backward side by side.

:mod:`cnnkit.kernels.activations` holds the classic ones (ReLU, sigmoid, tanh, GELU, softmax,
...); this module adds the others of ``keras.activations``, with the formulas of Keras 3's
torch backend (which follows ``torch.nn.functional``)::

    softplus(x)      = log(1 + exp(x))                    f' = sigmoid(x)
    softsign(x)      = x / (1 + |x|)                      f' = 1 / (1 + |x|)^2
    relu6(x)         = min(max(x, 0), 6)
    hard_sigmoid(x)  = relu6(x + 3) / 6
    hard_silu(x)     = x * hard_sigmoid(x)
    mish(x)          = x * tanh(softplus(x))
    log_sigmoid(x)   = -softplus(-x)                      f' = sigmoid(-x)
    celu(x)          = max(x, 0) + min(0, alpha (exp(x / alpha) - 1))
    squareplus(x)    = (x + sqrt(x^2 + b)) / 2
    sparse_plus(x)   = 0 (x <= -1), (x + 1)^2 / 4 (|x| < 1), x (x >= 1)
    sparse_sigmoid   = 0 (x <= -1), (x + 1) / 2 (|x| < 1), 1 (x >= 1)
    soft_shrink(x)   = x - t (x > t), x + t (x < -t), 0 otherwise
    hard_shrink(x)   = x (|x| > t), 0 otherwise
    tanh_shrink(x)   = x - tanh(x)
    hard_tanh(x)     = clip(x, -1, 1)
    threshold(x)     = x (x > t), default_value otherwise
    exponential(x)   = exp(x)
    log_softmax(x)   = x - max - log(sum(exp(x - max)))    along ``axis``
    glu(x)           = a * sigmoid(b),  (a, b) = the two halves of x along ``axis``
    sparsemax(x)     = max(x - tau, 0), tau such that the output sums to 1 (Martins & Astudillo)

Piecewise functions pass the gradient of the branch that is active (the derivative at a kink
is the one of the branch chosen by the comparison in the formula, as in torch).

Example:
    >>> import numpy as np
    >>> softplus(np.array([0.0], dtype="float32")).data.round(4)
    array([0.6931], dtype=float32)
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels.activations import _const, _stable_sigmoid


def _softplus(x):
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return xp.maximum(x, _const(0, x)) + xp.log1p(xp.exp(-xp.abs(x)))


# ---------------------------------------------------------------------------
# Smooth element-wise activations
# ---------------------------------------------------------------------------


class Softplus(Function):
    """``log(1 + exp(x))``; f'(x) = sigmoid(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _softplus(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * _stable_sigmoid(x)


class Softsign(Function):
    """``x / (1 + |x|)``; f'(x) = 1 / (1 + |x|)^2."""

    def forward(self, x):
        denom = 1 + xp.abs(x)
        self.save_for_backward(denom)
        return x / denom

    def backward(self, grad):
        (denom,) = self.saved
        return grad / (denom * denom)


class Mish(Function):
    """``x * tanh(softplus(x))`` (Misra, 2019); f' = t + x * sigmoid(x) * (1 - t^2)."""

    def forward(self, x):
        t = xp.tanh(_softplus(x))
        self.save_for_backward(x, t)
        return x * t

    def backward(self, grad):
        x, t = self.saved
        return grad * (t + x * _stable_sigmoid(x) * (1 - t * t))


class LogSigmoid(Function):
    """``log(sigmoid(x)) = -softplus(-x)``; f'(x) = sigmoid(-x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return -_softplus(-x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * _stable_sigmoid(-x)


class CELU(Function):
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))`` (Barron, 2017).

    f'(x) = 1 for x > 0, exp(x / alpha) otherwise.
    """

    def forward(self, x, alpha=1.0):
        a = _const(alpha, x)
        positive = x > 0
        e = xp.exp(xp.minimum(x, _const(0, x)) / a)  # (0, 1]: never overflows
        self.save_for_backward(positive, e)
        return xp.where(positive, x, a * (e - 1))

    def backward(self, grad):
        positive, e = self.saved
        return xp.where(positive, grad, grad * e)


class Squareplus(Function):
    """``(x + sqrt(x^2 + b)) / 2`` (So, 2021); f'(x) = (1 + x / sqrt(x^2 + b)) / 2."""

    def forward(self, x, b=4.0):
        root = xp.sqrt(x * x + _const(b, x))
        self.save_for_backward(x, root)
        return (x + root) / 2

    def backward(self, grad):
        x, root = self.saved
        return grad * (1 + x / root) / 2


class TanhShrink(Function):
    """``x - tanh(x)``; f'(x) = tanh(x)^2."""

    def forward(self, x):
        t = xp.tanh(x)
        self.save_for_backward(t)
        return x - t

    def backward(self, grad):
        (t,) = self.saved
        return grad * t * t


class Exponential(Function):
    """``exp(x)``; f'(x) = exp(x)."""

    def forward(self, x):
        out = xp.exp(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out


# ---------------------------------------------------------------------------
# Piecewise-linear (and piecewise-quadratic) activations
# ---------------------------------------------------------------------------


class Piecewise(Function):
    """A piecewise activation: ``forward`` returns the value and saves its slope ``f'(x)``."""

    def backward(self, grad):
        (slope,) = self.saved
        return grad * slope


class ReLU6(Piecewise):
    """``min(max(x, 0), 6)``; slope 1 on (0, 6), 0 elsewhere."""

    def forward(self, x):
        self.save_for_backward(((x > 0) & (x < 6)).astype(x.dtype))
        return xp.clip(x, _const(0, x), _const(6, x))


class HardSigmoid(Piecewise):
    """``relu6(x + 3) / 6``; slope 1/6 on (-3, 3), 0 elsewhere."""

    def forward(self, x):
        inside = (x > -3) & (x < 3)
        self.save_for_backward(inside.astype(x.dtype) / _const(6, x))
        return xp.clip(x + _const(3, x), _const(0, x), _const(6, x)) / _const(6, x)


class HardSiLU(Piecewise):
    """``x * relu6(x + 3) / 6`` (hard swish); slope (2x + 3) / 6 on (-3, 3), 1 above 3."""

    def forward(self, x):
        inside = (x > -3) & (x < 3)
        slope = xp.where(inside, (2 * x + _const(3, x)) / _const(6, x), (x >= 3).astype(x.dtype))
        self.save_for_backward(slope)
        return x * xp.clip(x + _const(3, x), _const(0, x), _const(6, x)) / _const(6, x)


class HardTanh(Piecewise):
    """``clip(x, -1, 1)``; slope 1 on (-1, 1)."""

    def forward(self, x):
        self.save_for_backward(((x > -1) & (x < 1)).astype(x.dtype))
        return xp.clip(x, _const(-1, x), _const(1, x))


class SparsePlus(Piecewise):
    """0 below -1, ``(x + 1)^2 / 4`` on (-1, 1), ``x`` from 1; slope 0, (x + 1) / 2, 1."""

    def forward(self, x):
        inside = (x > -1) & (x < 1)
        one = _const(1, x)
        self.save_for_backward(xp.where(inside, (x + one) / 2, (x >= 1).astype(x.dtype)))
        quad = (x + one) ** 2 / 4
        return xp.where(x <= -1, _const(0, x), xp.where(x < 1, quad, x))


class SparseSigmoid(Piecewise):
    """0 below -1, ``(x + 1) / 2`` on (-1, 1), 1 from 1; slope 1/2 inside."""

    def forward(self, x):
        inside = (x > -1) & (x < 1)
        self.save_for_backward(inside.astype(x.dtype) / 2)
        return xp.clip((x + _const(1, x)) / 2, _const(0, x), _const(1, x))


class SoftShrink(Piecewise):
    """``x - t`` above ``t``, ``x + t`` below ``-t``, 0 between; slope 1 outside [-t, t]."""

    def forward(self, x, threshold=0.5):
        t = _const(threshold, x)
        above, below = x > t, x < -t
        self.save_for_backward((above | below).astype(x.dtype))
        return xp.where(above, x - t, xp.where(below, x + t, _const(0, x)))


class HardShrink(Piecewise):
    """``x`` where ``|x| > t``, 0 elsewhere."""

    def forward(self, x, threshold=0.5):
        keep = xp.abs(x) > _const(threshold, x)
        self.save_for_backward(keep.astype(x.dtype))
        return xp.where(keep, x, _const(0, x))


class Threshold(Piecewise):
    """``x`` where ``x > threshold``, ``default_value`` elsewhere (a constant: slope 0)."""

    def forward(self, x, threshold=0.0, default_value=0.0):
        keep = x > _const(threshold, x)
        self.save_for_backward(keep.astype(x.dtype))
        return xp.where(keep, x, _const(default_value, x))


# ---------------------------------------------------------------------------
# Activations along an axis
# ---------------------------------------------------------------------------


class LogSoftmax(Function):
    """``x - max(x) - log(sum(exp(x - max(x))))`` along ``axis``.

    Backward: ``dx = g - softmax(x) * sum(g, axis)``.
    """

    def forward(self, x, axis=-1):
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(out, axis)
        return out

    def backward(self, grad):
        out, axis = self.saved
        return grad - xp.exp(out) * grad.sum(axis=axis, keepdims=True)


class GLU(Function):
    """Gated linear unit (Dauphin et al., 2017): ``a * sigmoid(b)`` with ``x = [a, b]``.

    ``x``'s size along ``axis`` must be even; the output has half of it. Backward:
    ``da = g * s``, ``db = g * a * s * (1 - s)`` with ``s = sigmoid(b)``.
    """

    def forward(self, x, axis=-1):
        a, b = xp.split(x, 2, axis=axis)
        s = _stable_sigmoid(b)
        self.save_for_backward(a, s, axis)
        return a * s

    def backward(self, grad):
        a, s, axis = self.saved
        return xp.concatenate([grad * s, grad * a * s * (1 - s)], axis=axis)


class Sparsemax(Function):
    """Euclidean projection onto the simplex along ``axis`` (Martins & Astudillo, 2016).

    With ``z`` sorted in decreasing order, the support size is ``k = max{j : 1 + j z_j >
    sum_{i<=j} z_i}``, ``tau = (sum_{i<=k} z_i - 1) / k`` and ``out = max(x - tau, 0)``.
    Backward on the support S: ``dx = (g - mean_S(g)) * [x in S]``.

    Deliberate deviation: Keras 3.15 computes ``tau`` from the sum of *all* the partial sums
    over the support rather than the k-th one, so its output does not sum to 1 once the
    support has two or more entries; this kernel follows the paper (the outputs agree when
    the support is a single entry).
    """

    def forward(self, x, axis=-1):
        z = xp.moveaxis(x, axis, -1)  # (..., K)
        desc = -xp.sort(-z, axis=-1)
        cumsum = xp.cumsum(desc, axis=-1)
        r = xp.arange(1, z.shape[-1] + 1, dtype=x.dtype)
        support = desc - (cumsum - 1) / r > 0  # (..., K), a prefix of True
        k = support.sum(axis=-1, keepdims=True)
        top_k = xp.take_along_axis(cumsum, k - 1, axis=-1)  # (..., 1): sum of the k largest
        tau = (top_k - 1) / k.astype(x.dtype)
        out = xp.moveaxis(xp.maximum(z - tau, _const(0, x)), -1, axis)
        self.save_for_backward(out > 0, axis)
        return out

    def backward(self, grad):
        active, axis = self.saved
        m = active.astype(grad.dtype)
        mean = (grad * m).sum(axis=axis, keepdims=True) / m.sum(axis=axis, keepdims=True)
        return (grad - mean) * m


# ---------------------------------------------------------------------------
# Functional forms (Tensor in, Tensor out); Keras's defaults.
# ---------------------------------------------------------------------------


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``; see :class:`Softplus`."""
    return Softplus.apply(x)


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``; see :class:`Softsign`."""
    return Softsign.apply(x)


def mish(x) -> Tensor:
    """``x * tanh(softplus(x))``; see :class:`Mish`."""
    return Mish.apply(x)


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x))``; see :class:`LogSigmoid`."""
    return LogSigmoid.apply(x)


def celu(x, alpha: float = 1.0) -> Tensor:
    """Continuously differentiable ELU; see :class:`CELU`."""
    return CELU.apply(x, alpha=alpha)


def squareplus(x, b: float = 4.0) -> Tensor:
    """``(x + sqrt(x^2 + b)) / 2``; see :class:`Squareplus`."""
    return Squareplus.apply(x, b=b)


def tanh_shrink(x) -> Tensor:
    """``x - tanh(x)``; see :class:`TanhShrink`."""
    return TanhShrink.apply(x)


def exponential(x) -> Tensor:
    """``exp(x)``; see :class:`Exponential`."""
    return Exponential.apply(x)


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)``; see :class:`ReLU6`."""
    return ReLU6.apply(x)


def hard_sigmoid(x) -> Tensor:
    """``relu6(x + 3) / 6``; see :class:`HardSigmoid`."""
    return HardSigmoid.apply(x)


def hard_silu(x) -> Tensor:
    """``x * hard_sigmoid(x)``; see :class:`HardSiLU`."""
    return HardSiLU.apply(x)


def hard_tanh(x) -> Tensor:
    """``clip(x, -1, 1)``; see :class:`HardTanh`."""
    return HardTanh.apply(x)


def sparse_plus(x) -> Tensor:
    """Piecewise-quadratic softplus; see :class:`SparsePlus`."""
    return SparsePlus.apply(x)


def sparse_sigmoid(x) -> Tensor:
    """Piecewise-linear sigmoid; see :class:`SparseSigmoid`."""
    return SparseSigmoid.apply(x)


def soft_shrink(x, threshold: float = 0.5) -> Tensor:
    """Soft thresholding; see :class:`SoftShrink`."""
    return SoftShrink.apply(x, threshold=threshold)


def hard_shrink(x, threshold: float = 0.5) -> Tensor:
    """Hard thresholding; see :class:`HardShrink`."""
    return HardShrink.apply(x, threshold=threshold)


def threshold(x, threshold: float, default_value: float) -> Tensor:
    """``x`` above ``threshold``, else ``default_value``; see :class:`Threshold`."""
    return Threshold.apply(x, threshold=threshold, default_value=default_value)


def log_softmax(x, axis: int = -1) -> Tensor:
    """Log of the softmax along ``axis``; see :class:`LogSoftmax`."""
    return LogSoftmax.apply(x, axis=axis)


def glu(x, axis: int = -1) -> Tensor:
    """Gated linear unit along ``axis``; see :class:`GLU`.

    Raises:
        ValueError: if ``x``'s size along ``axis`` is odd.
    """
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            "The size of the `glu` axis must be even (it is split into two halves). "
            f"Received: x.shape={tuple(x.shape)}, axis={axis}"
        )
    return GLU.apply(x, axis=axis)


def sparsemax(x, axis: int = -1) -> Tensor:
    """Sparsemax along ``axis``; see :class:`Sparsemax`."""
    return Sparsemax.apply(x, axis=axis)
