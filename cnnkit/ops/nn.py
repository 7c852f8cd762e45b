"""Keras 3's neural-network ops (``keras.ops.nn``) on NumPy arrays and cnnkit tensors.

Every function accepts NumPy arrays, Python numbers/lists and :class:`cnnkit.autodiff.Tensor`
values. When no argument is a Tensor the result is a NumPy array; when one is, the result is a
Tensor recorded on the autodiff graph, so gradients flow through it. The maths lives in the
differentiable kernels of :mod:`cnnkit.kernels` (convolution, pooling, activations, losses);
activations without a kernel are written here as element-wise ops: each is a pair
``(f(x), f'(x))`` run by :class:`_Pointwise`, forward and derivative side by side.

Integer inputs to float ops are cast to ``cnnkit.backend.floatx()``; float arrays keep their
dtype (float64 in, float64 out), as Keras's ``convert_to_tensor`` does.

Out of scope: ``ctc_loss``/``ctc_decode`` and ``polar`` (complex numbers).

Example:
    >>> import numpy as np
    >>> relu6(np.array([-1.0, 3.0, 9.0], dtype="float32"))
    array([0., 3., 6.], dtype=float32)
    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

import functools

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor, unbroadcast
from cnnkit.backend import xp
from cnnkit.kernels import activations as _act

__all__ = [
    "relu",
    "relu6",
    "sigmoid",
    "sparse_sigmoid",
    "softplus",
    "softsign",
    "soft_shrink",
    "sparse_plus",
    "silu",
    "swish",
    "squareplus",
    "log_sigmoid",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "elu",
    "selu",
    "gelu",
    "celu",
    "glu",
    "tanh_shrink",
    "hard_tanh",
    "hard_shrink",
    "threshold",
    "softmax",
    "log_softmax",
    "sparsemax",
]


# ---------------------------------------------------------------------------
# NumPy in -> NumPy out, Tensor in -> Tensor out.
# ---------------------------------------------------------------------------


def _any_tensor(values) -> bool:
    for v in values:
        if isinstance(v, Tensor):
            return True
        if isinstance(v, (list, tuple)) and _any_tensor(v):
            return True
    return False


def _unwrap(out):
    if isinstance(out, Tensor):
        return out.data
    if isinstance(out, tuple):
        return tuple(_unwrap(o) for o in out)
    return out


def _dual(fn):
    """Return NumPy arrays when no argument of ``fn`` is a Tensor, Tensors otherwise."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        if _any_tensor(args) or _any_tensor(kwargs.values()):
            return out
        return _unwrap(out)

    return wrapper


def _float(x) -> Tensor:
    """A Tensor with a float dtype: float data keeps its dtype, anything else takes floatx."""
    if isinstance(x, Tensor):
        return x if x.dtype.kind == "f" else Tensor(x.data.astype(backend.floatx()))
    arr = xp.asarray(x)
    if arr.dtype.kind != "f" or not isinstance(x, (xp.ndarray, np.generic)):
        arr = arr.astype(backend.floatx())
    return Tensor(arr)


# ---------------------------------------------------------------------------
# Small differentiable building blocks.
# ---------------------------------------------------------------------------


class _Pointwise(Function):
    """``y = f(x)`` element-wise, with ``dy/dx = df(x, y)``: a pair of NumPy functions."""

    def forward(self, x, f, df):
        y = f(x)
        self.save_for_backward(x, y, df)
        return y

    def backward(self, grad):
        x, y, df = self.saved
        return grad * df(x, y)


def _pointwise(x, f, df) -> Tensor:
    return _Pointwise.apply(_float(x), f=f, df=df)


def _c(value, like):
    return like.dtype.type(value)


def _exp(x):
    return _pointwise(x, xp.exp, lambda x, y: y)


def _log(x):
    return _pointwise(x, xp.log, lambda x, y: 1 / x)


def _sqrt(x):
    return _pointwise(x, xp.sqrt, lambda x, y: _c(0.5, y) / y)


class _Transpose(Function):
    def forward(self, x, axes):
        self.save_for_backward(np.argsort(axes))
        return xp.transpose(x, axes)

    def backward(self, grad):
        (inverse,) = self.saved
        return xp.transpose(grad, inverse)


def _transpose(x, axes) -> Tensor:
    axes = tuple(int(a) for a in axes)
    if axes == tuple(range(len(axes))):
        return x if isinstance(x, Tensor) else Tensor(x)
    return _Transpose.apply(x, axes=axes)


class _Where(Function):
    """``where(mask, a, b)`` with broadcasting; the mask is a constant."""

    def forward(self, a, b, mask):
        self.save_for_backward(mask, a.shape, b.shape)
        return xp.where(mask, a, b)

    def backward(self, grad):
        mask, sa, sb = self.saved
        zero = xp.zeros((), grad.dtype)
        ga = unbroadcast(xp.where(mask, grad, zero), sa) if self.needs_grad[0] else None
        gb = unbroadcast(xp.where(mask, zero, grad), sb) if self.needs_grad[1] else None
        return ga, gb


class _Max(Function):
    """Maximum over ``axis`` (an int or a tuple); tied maxima share the gradient equally."""

    def forward(self, x, axis, keepdims):
        m = x.max(axis=axis, keepdims=True)
        hit = x == m
        self.save_for_backward((hit / hit.sum(axis=axis, keepdims=True)).astype(x.dtype), axis)
        return m if keepdims else xp.squeeze(m, axis)

    def backward(self, grad):
        share, axis = self.saved
        return share * (grad if grad.ndim == share.ndim else xp.expand_dims(grad, axis))


def _axis(axis, ndim: int, name: str = "axis") -> int:
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(
            f"Invalid value for argument `{name}`: expected an integer in [{-ndim}, {ndim}) "
            f"for an input of rank {ndim}. Received: {name}={axis!r}"
        )
    return int(axis) % ndim


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


@_dual
def relu(x):
    """Rectified linear unit, ``max(x, 0)``.

    Example:
        >>> relu(np.array([-1.0, 0.5]))
        array([0. , 0.5])
    """
    return _act.relu(_float(x))


@_dual
def relu6(x):
    """``min(max(x, 0), 6)``: the rectifier capped at 6."""
    return _act.relu(_float(x), max_value=6.0)


@_dual
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return _act.sigmoid(_float(x))


@_dual
def sparse_sigmoid(x):
    """0 for ``x <= -1``, 1 for ``x >= 1``, ``(x + 1) / 2`` between."""
    return _pointwise(
        x,
        lambda x: xp.clip(_c(0.5, x) * (x + 1), 0, 1),
        lambda x, y: ((x > -1) & (x < 1)).astype(x.dtype) * _c(0.5, x),
    )


@_dual
def softplus(x):
    """``log(1 + exp(x))``, computed without overflow."""
    return _pointwise(x, lambda x: xp.logaddexp(_c(0, x), x), lambda x, y: _act._stable_sigmoid(x))


@_dual
def softsign(x):
    """``x / (|x| + 1)``."""
    return _pointwise(x, lambda x: x / (xp.abs(x) + 1), lambda x, y: 1 / (xp.abs(x) + 1) ** 2)


@_dual
def soft_shrink(x, threshold=0.5):
    """``x - t`` above ``t``, ``x + t`` below ``-t``, 0 between (``t = threshold``)."""
    t = float(threshold)
    return _pointwise(
        x,
        lambda x: xp.where(x > t, x - _c(t, x), xp.where(x < -t, x + _c(t, x), _c(0, x))),
        lambda x, y: (xp.abs(x) > t).astype(x.dtype),
    )


@_dual
def sparse_plus(x):
    """0 for ``x <= -1``, ``x`` for ``x >= 1``, ``(x + 1)^2 / 4`` between."""
    return _pointwise(
        x,
        lambda x: xp.where(x <= -1, _c(0, x), xp.where(x >= 1, x, _c(0.25, x) * (x + 1) ** 2)),
        lambda x, y: xp.where(x <= -1, _c(0, x), xp.where(x >= 1, _c(1, x), _c(0.5, x) * (x + 1))),
    )


@_dual
def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``."""
    return _act.silu(_float(x))


swish = silu


@_dual
def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``, a smooth rectifier (So, 2021)."""
    b = float(b)
    return _pointwise(
        x,
        lambda x: _c(0.5, x) * (x + xp.sqrt(x * x + _c(b, x))),
        lambda x, y: _c(0.5, x) * (1 + x / xp.sqrt(x * x + _c(b, x))),
    )


@_dual
def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return _pointwise(
        x, lambda x: -xp.logaddexp(_c(0, x), -x), lambda x, y: _act._stable_sigmoid(-x)
    )


@_dual
def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise."""
    return _act.leaky_relu(_float(x), negative_slope=float(negative_slope))


@_dual
def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid."""
    return _pointwise(
        x,
        lambda x: xp.clip(x / _c(6, x) + _c(0.5, x), 0, 1),
        lambda x, y: ((x > -3) & (x < 3)).astype(x.dtype) / _c(6, x),
    )


@_dual
def hard_silu(x):
    """``x * hard_sigmoid(x)`` (hard swish)."""
    return _pointwise(
        x,
        lambda x: x * xp.clip(x / _c(6, x) + _c(0.5, x), 0, 1),
        lambda x, y: xp.where(
            x <= -3, _c(0, x), xp.where(x >= 3, _c(1, x), x / _c(3, x) + _c(0.5, x))
        ),
    )


hard_swish = hard_silu


@_dual
def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    return _act.elu(_float(x), alpha=float(alpha))


@_dual
def selu(x):
    """Scaled ELU with Klambauer et al.'s constants."""
    return _act.selu(_float(x))


@_dual
def gelu(x, approximate=True):
    """Gaussian error linear unit ``x * Phi(x)``; the tanh approximation by default (Keras)."""
    return _act.gelu(_float(x), approximate=bool(approximate))


@_dual
def celu(x, alpha=1.0):
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    a = float(alpha)
    if a == 0:
        raise ValueError(
            "Invalid value for argument `alpha`: expected a non-zero number. "
            f"Received: alpha={alpha!r}"
        )
    return _pointwise(
        x,
        lambda x: xp.where(x > 0, x, _c(a, x) * xp.expm1(xp.minimum(x, 0) / _c(a, x))),
        lambda x, y: xp.where(x > 0, _c(1, x), xp.exp(xp.minimum(x, 0) / _c(a, x))),
    )


@_dual
def glu(x, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)`` with ``x`` split in halves ``a, b`` along ``axis``."""
    x = _float(x)
    axis = _axis(axis, x.ndim)
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            f"`glu` splits its input in two halves along axis {axis}, whose size must be even. "
            f"Received: x.shape={x.shape}, axis={axis}"
        )
    lead = (slice(None),) * axis
    a = x[(*lead, slice(0, size // 2))]
    b = x[(*lead, slice(size // 2, size))]
    return a * _act.sigmoid(b)


@_dual
def tanh_shrink(x):
    """``x - tanh(x)``."""
    return _pointwise(x, lambda x: x - xp.tanh(x), lambda x, y: xp.tanh(x) ** 2)


@_dual
def hard_tanh(x):
    """``clip(x, -1, 1)``."""
    return _pointwise(
        x, lambda x: xp.clip(x, -1, 1), lambda x, y: ((x > -1) & (x < 1)).astype(x.dtype)
    )


@_dual
def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, 0 elsewhere."""
    t = float(threshold)
    return _pointwise(
        x,
        lambda x: xp.where(xp.abs(x) > t, x, _c(0, x)),
        lambda x, y: (xp.abs(x) > t).astype(x.dtype),
    )


@_dual
def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, ``default_value`` elsewhere."""
    t, v = float(threshold), float(default_value)
    return _pointwise(
        x,
        lambda x: xp.where(x > t, x, _c(v, x)),
        lambda x, y: (x > t).astype(x.dtype),
    )


@_dual
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an int, a tuple of ints, or None for all)."""
    x = _float(x)
    if axis is None or isinstance(axis, (tuple, list)):
        return _over_axes(x, axis, lambda t: _act.softmax(t, axis=-1))
    return _act.softmax(x, axis=_axis(axis, max(x.ndim, 1)))


class _LogSoftmax(Function):
    """``x - max - log(sum(exp(x - max)))`` along ``axis``; ``dx = g - softmax * sum(g)``."""

    def forward(self, x, axis):
        z = x - x.max(axis=axis, keepdims=True)
        out = z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
        self.save_for_backward(out, axis)
        return out

    def backward(self, grad):
        out, axis = self.saved
        return grad - xp.exp(out) * grad.sum(axis=axis, keepdims=True)


@_dual
def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably."""
    x = _float(x)
    if axis is None or isinstance(axis, (tuple, list)):
        return _over_axes(x, axis, lambda t: _LogSoftmax.apply(t, axis=-1))
    return _LogSoftmax.apply(x, axis=_axis(axis, max(x.ndim, 1)))


def _over_axes(x: Tensor, axis, fn) -> Tensor:
    """Apply a last-axis op ``fn`` over several axes at once (moved last and flattened)."""
    ndim = x.ndim
    axes = tuple(range(ndim)) if axis is None else tuple(_axis(a, ndim) for a in axis)
    rest = tuple(a for a in range(ndim) if a not in axes)
    perm = rest + axes
    moved = _transpose(x, perm)
    shape = moved.shape
    flat = moved.reshape((*shape[: len(rest)], -1))
    out = fn(flat).reshape(shape)
    return _transpose(out, np.argsort(perm))


class _Sparsemax(Function):
    """Euclidean projection onto the simplex along ``axis`` (Martins & Astudillo, 2016).

    ``out = max(x - tau, 0)`` with ``tau`` chosen so the output sums to 1. Backward, with
    ``S`` the support (``out > 0``): ``dx = S * (g - mean of g over S)``.
    """

    def forward(self, x, axis):
        z = xp.moveaxis(x, axis, -1)
        zs = -xp.sort(-z, axis=-1)
        k = xp.arange(1, z.shape[-1] + 1, dtype=x.dtype)
        cum = xp.cumsum(zs, axis=-1)
        support = (1 + k * zs) > cum
        k_z = support.sum(axis=-1, keepdims=True)
        tau = (xp.take_along_axis(cum, k_z - 1, axis=-1) - 1) / k_z.astype(x.dtype)
        out = xp.moveaxis(xp.maximum(z - tau, 0), -1, axis)
        self.save_for_backward(out > 0, axis)
        return out

    def backward(self, grad):
        s, axis = self.saved
        count = s.sum(axis=axis, keepdims=True).astype(grad.dtype)
        mean = (grad * s).sum(axis=axis, keepdims=True) / count
        return s * (grad - mean)


@_dual
def sparsemax(x, axis=-1):
    """Sparsemax: like softmax, but the probabilities of low scores are exactly 0."""
    x = _float(x)
    return _Sparsemax.apply(x, axis=_axis(axis, x.ndim))
