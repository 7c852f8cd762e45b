"""Activation functions as differentiable ops: forward and backward side by side.

Every op is element-wise except :class:`Softmax`. Each keeps its input's float dtype: constants
are cast to the input's dtype first, so a float32 activation never becomes float64. Where the
derivative can be written in terms of the output (ReLU, sigmoid, tanh, ELU, SELU, softmax) the
backward pass uses the saved output, which is cheaper than recomputing from the input.

The functional helpers at the bottom (``relu(x, ...)``, ``softmax(x, axis)``, ...) take Tensors
(or arrays, treated as constants) and return Tensors; the public ``cnnkit.activations`` module
wraps them with Keras's names and defaults.

The exact GELU needs the error function, which NumPy lacks: :func:`erf` and :func:`erfc` below
are vectorised rational approximations (the Cephes coefficients of S. L. Moshier, also used by
``scipy.special``) with a relative error below 1e-13 in float64.

Example:
    >>> import numpy as np
    >>> relu(np.array([-1.0, 2.0], dtype="float32")).data
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import math

from cnnkit.autodiff import Function, Tensor, as_tensor, relu_
from cnnkit.backend import xp

# Klambauer et al., "Self-Normalizing Neural Networks" (2017); the values Keras uses.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_GELU_CUBIC = 0.044715


def _const(value, like):
    """``value`` as a scalar of ``like``'s dtype (keeps float32 arrays float32)."""
    return like.dtype.type(value)


def _stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only taken of -|x| <= 0."""
    e = xp.exp(-xp.abs(x))  # (0, 1]
    pos = 1 / (1 + e)
    return xp.where(x >= 0, pos, e * pos)  # e / (1 + e) for x < 0


# ---------------------------------------------------------------------------
# The rectifier family
# ---------------------------------------------------------------------------


class ReLU(Function):
    """Keras's rectifier: ``max(x, 0)`` by default, with optional slope, ceiling and threshold.

    The general form (Keras 3 ``relu(x, negative_slope, max_value, threshold)``) is::

        f(x) = min(x, max_value)                      if x > threshold
             = negative_slope * (x - threshold)       otherwise

    except that, like Keras, the part above the threshold is clipped to ``[0, max_value]``
    only when ``max_value`` is given. The default case is the fast path: one ``maximum``
    forward and one mask on the saved output backward.
    """

    def forward(self, x, negative_slope=0.0, max_value=None, threshold=0.0):
        self.plain = negative_slope == 0 and max_value is None and threshold == 0
        if self.plain:
            out = relu_(x.copy()) if x.ndim else xp.maximum(x, _const(0, x))
            self.save_for_backward(out)
            return out
        t = _const(threshold, x)
        active = x > t  # (x.shape) bool: where the identity part passes
        pos = x * active if threshold != 0 else xp.maximum(x, _const(0, x))
        if max_value is not None:
            ceiling = _const(max_value, x)
            pos = xp.clip(pos, _const(0, x), ceiling)
            active &= (x > 0) & (x < ceiling)  # the clip passes no gradient at its bounds
        slope = _const(negative_slope, x)
        below = x < t
        out = pos - slope * xp.maximum(t - x, _const(0, x)) if negative_slope != 0 else pos
        self.save_for_backward(active, below, slope)
        return out

    def backward(self, grad):
        if self.plain:
            (out,) = self.saved
            return grad * (out > 0)
        active, below, slope = self.saved
        return xp.where(below, grad * slope, grad * active)


class LeakyReLU(Function):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras 3 default slope 0.2)."""

    def forward(self, x, negative_slope=0.2):
        slope = _const(negative_slope, x)
        positive = x > 0
        self.save_for_backward(positive, slope)
        return xp.where(positive, x, slope * x)

    def backward(self, grad):
        positive, slope = self.saved
        return xp.where(positive, grad, slope * grad)


class ELU(Function):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise; f'(x) = f(x) + alpha below 0."""

    def forward(self, x, alpha=1.0):
        a = _const(alpha, x)
        positive = x > 0
        # expm1 of min(x, 0): the unused branch never overflows for large positive x.
        out = xp.where(positive, x, a * xp.expm1(xp.minimum(x, _const(0, x))))
        self.save_for_backward(positive, out, a)
        return out

    def backward(self, grad):
        positive, out, a = self.saved
        return xp.where(positive, grad, grad * (out + a))


class SELU(Function):
    """``scale * elu(x, alpha)`` with Keras's constants (``SELU_SCALE``, ``SELU_ALPHA``)."""

    def forward(self, x):
        scale = _const(SELU_SCALE, x)
        scale_alpha = _const(SELU_SCALE * SELU_ALPHA, x)
        positive = x > 0
        out = xp.where(positive, scale * x, scale_alpha * xp.expm1(xp.minimum(x, _const(0, x))))
        self.save_for_backward(positive, out, scale, scale_alpha)
        return out

    def backward(self, grad):
        positive, out, scale, scale_alpha = self.saved
        return xp.where(positive, grad * scale, grad * (out + scale_alpha))


# ---------------------------------------------------------------------------
# Smooth activations
# ---------------------------------------------------------------------------


class Sigmoid(Function):
    """``1 / (1 + exp(-x))``, computed without overflow; f'(x) = f(x) (1 - f(x))."""

    def forward(self, x):
        out = _stable_sigmoid(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * out * (1 - out)


class Tanh(Function):
    """``tanh(x)``; f'(x) = 1 - f(x)^2."""

    def forward(self, x):
        out = xp.tanh(x)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return grad * (1 - out * out)


class SiLU(Function):
    """Swish / SiLU: ``x * sigmoid(x)``; f'(x) = s (1 + x (1 - s)) with s = sigmoid(x)."""

    def forward(self, x):
        s = _stable_sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, grad):
        x, s = self.saved
        return grad * (s * (1 + x * (1 - s)))


class GELU(Function):
    """Gaussian error linear unit, ``x * Phi(x)`` (Hendrycks & Gimpel, 2016).

    Exact (Keras 3's default, ``approximate=False``)::

        Phi(x) = erfc(-x / sqrt(2)) / 2,   f'(x) = Phi(x) + x * exp(-x^2 / 2) / sqrt(2 pi)

    (``erfc`` rather than ``1 + erf`` keeps the relative precision of the far negative tail).
    Approximate (``approximate=True``)::

        f(x) = x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
    """

    def forward(self, x, approximate=False):
        self.approximate = approximate
        if approximate:
            c = _const(_SQRT_2_OVER_PI, x)
            k = _const(_GELU_CUBIC, x)
            t = xp.tanh(c * (x + k * x * x * x))
            half = _const(0.5, x)
            self.save_for_backward(x, t, c, k, half)
            return half * x * (1 + t)
        # The argument is formed in float64: in float32 its rounding alone would cost ~1e-5
        # relative accuracy in the tail (erfc's condition number there is ~2 u^2).
        cdf = (0.5 * erfc(x.astype(xp.float64) * -_INV_SQRT_2)).astype(x.dtype)
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, grad):
        if self.approximate:
            x, t, c, k, half = self.saved
            dinner = c * (1 + 3 * k * x * x)
            return grad * (half * (1 + t) + half * x * (1 - t * t) * dinner)
        x, cdf = self.saved
        pdf = _const(_INV_SQRT_2PI, x) * xp.exp(_const(-0.5, x) * x * x)
        return grad * (cdf + x * pdf)


class Softmax(Function):
    """``exp(x - max(x)) / sum(exp(x - max(x)))`` along ``axis`` (stable: the max is removed).

    Backward, with s the output: ``dx = s * (g - sum(g * s, axis))``.
    """

    def forward(self, x, axis=-1):
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # every exponent <= 0
        e /= e.sum(axis=axis, keepdims=True)
        self.save_for_backward(e, axis)
        return e

    def backward(self, grad):
        s, axis = self.saved
        return s * (grad - (grad * s).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------------------
# The error function (NumPy has none); computed in float64, returned in the input's dtype.
# ---------------------------------------------------------------------------

# erf(x) = x T(x^2) / U(x^2) for |x| < 1.
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (  # leading coefficient 1 omitted
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
# erfc(x) = exp(-x^2) P(x) / Q(x) for 1 <= x < 8.
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
# erfc(x) = exp(-x^2) R(x) / S(x) for x >= 8.
_ERFC_R = (
    5.64189583547755073984e-1,
    1.27536670759978104416e0,
    5.01905042251180477414e0,
    6.16021097993053585195e0,
    7.40974269950448939160e0,
    2.97886665372100240670e0,
)
_ERFC_S = (
    2.26052863220117276590e0,
    9.39603524938001434673e0,
    1.20489539808096656605e1,
    1.70814450747565897222e1,
    9.60896809063285878198e0,
    3.36907645100081516050e0,
)


def _polevl(x, coefs):
    """Horner's rule: coefs[0] x^n + ... + coefs[n]."""
    acc = xp.full_like(x, coefs[0])
    for c in coefs[1:]:
        acc = acc * x + c
    return acc


def _p1evl(x, coefs):
    """Horner's rule with an implicit leading coefficient 1: x^n + coefs[0] x^(n-1) + ..."""
    acc = x + coefs[0]
    for c in coefs[1:]:
        acc = acc * x + c
    return acc


def _erf_small(x):
    """erf on |x| < 1 (float64)."""
    z = x * x
    return x * _polevl(z, _ERF_T) / _p1evl(z, _ERF_U)


def _erfc_large(a):
    """erfc on a >= 1 (float64); 0 beyond a = 27, where erfc underflows anyway."""
    out = xp.empty_like(a)
    mid = a < 8.0
    am = a[mid]
    out[mid] = xp.exp(-am * am) * _polevl(am, _ERFC_P) / _p1evl(am, _ERFC_Q)
    at = xp.minimum(a[~mid], 30.0)  # keeps the polynomials finite for huge inputs
    out[~mid] = xp.exp(-at * at) * _polevl(at, _ERFC_R) / _p1evl(at, _ERFC_S)
    return out


def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, element-wise.

    Args:
        x: float array.

    Returns:
        An array of ``x``'s shape and dtype (computed in float64; relative error < 1e-13).
    """
    x64 = xp.asarray(x, dtype=xp.float64)
    a = xp.abs(x64)
    out = xp.empty_like(x64)
    small = a < 1.0
    out[small] = _erf_small(x64[small])
    large = ~small
    out[large] = xp.copysign(1.0 - _erfc_large(a[large]), x64[large])
    return out.astype(xp.asarray(x).dtype, copy=False)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate in the tail (x >> 1).

    Args:
        x: float array.

    Returns:
        An array of ``x``'s shape and dtype (computed in float64; relative error < 1e-13).
    """
    x64 = xp.asarray(x, dtype=xp.float64)
    a = xp.abs(x64)
    out = xp.empty_like(x64)
    small = a < 1.0
    out[small] = 1.0 - _erf_small(x64[small])
    large = ~small
    tail = _erfc_large(a[large])
    out[large] = xp.where(x64[large] < 0, 2.0 - tail, tail)
    return out.astype(xp.asarray(x).dtype, copy=False)


# ---------------------------------------------------------------------------
# Functional forms (Tensor in, Tensor out); Keras's defaults.
# ---------------------------------------------------------------------------


def relu(
    x, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> Tensor:
    """Rectified linear unit; see :class:`ReLU`."""
    return ReLU.apply(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def leaky_relu(x, negative_slope: float = 0.2) -> Tensor:
    """Leaky ReLU; see :class:`LeakyReLU`."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit; see :class:`ELU`."""
    return ELU.apply(x, alpha=alpha)


def selu(x) -> Tensor:
    """Scaled exponential linear unit; see :class:`SELU`."""
    return SELU.apply(x)


def sigmoid(x) -> Tensor:
    """Logistic sigmoid; see :class:`Sigmoid`."""
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent; see :class:`Tanh`."""
    return Tanh.apply(x)


def silu(x) -> Tensor:
    """Swish / SiLU ``x * sigmoid(x)``; see :class:`SiLU`."""
    return SiLU.apply(x)


def gelu(x, approximate: bool = False) -> Tensor:
    """Gaussian error linear unit; see :class:`GELU`."""
    return GELU.apply(x, approximate=bool(approximate))


def softmax(x, axis: int = -1) -> Tensor:
    """Softmax along ``axis``; see :class:`Softmax`."""
    return Softmax.apply(x, axis=axis)


def linear(x) -> Tensor:
    """The identity: returns ``x`` itself (as a Tensor)."""
    return as_tensor(x)
