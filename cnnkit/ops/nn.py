"""Keras 3's neural-network ops (``keras.ops.nn``) on NumPy arrays and cnnkit tensors.

Every function accepts NumPy arrays, Python numbers/lists and :class:`cnnkit.autodiff.Tensor`
values. When no argument is a Tensor the result is a NumPy array; when one is, the result is a
Tensor recorded on the autodiff graph, so gradients flow through it. The maths lives in the
differentiable kernels of :mod:`cnnkit.kernels` (convolution, pooling, activations, losses);
activations without a kernel are written here as element-wise ops: each is a pair
``(f(x), f'(x))`` run by :class:`_Pointwise`, forward and derivative side by side.

Integer inputs to float ops are cast to ``cnnkit.backend.floatx()``; float arrays keep their
dtype (float64 in, float64 out), as Keras's ``convert_to_tensor`` does.

Out of scope: ``polar`` (complex numbers).

Deliberate deviations from Keras 3 (torch backend), each noted where it happens:

* ``average_pool`` with ``"same"`` padding averages only the real pixels of a window
  (TensorFlow's and JAX's numerics); Keras's torch backend replicates the edge on unevenly
  padded axes.
* ``sparsemax`` is the exact simplex projection (Keras 3.15's threshold is wrong when more
  than one class is kept).
* ``moments`` computes the variance of the centred values, not ``E[x^2] - E[x]^2``.
* Cross-entropies differentiate ``output`` only; ``target`` is a constant.
* ``dot_product_attention`` accepts ``attn_logits_soft_cap`` everywhere (Keras: JAX on TPU).

Example:
    >>> import numpy as np
    >>> relu6(np.array([-1.0, 3.0, 9.0], dtype="float32"))
    array([0., 3., 6.], dtype=float32)
    >>> softmax(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
"""

from __future__ import annotations

import functools
import math

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import check_positive_int, is_int, standardize_tuple
from cnnkit.autodiff import Function, Tensor, unbroadcast
from cnnkit.backend import xp
from cnnkit.kernels import activations as _act
from cnnkit.kernels import conv as _conv
from cnnkit.kernels import ctc as _ctc
from cnnkit.kernels import losses as _losses
from cnnkit.kernels import pool as _pool_k
from cnnkit.kernels import shape as _shape
from cnnkit.ops._dispatch import cast_input

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
    "conv",
    "depthwise_conv",
    "separable_conv",
    "conv_transpose",
    "max_pool",
    "average_pool",
    "adaptive_max_pool",
    "adaptive_average_pool",
    "one_hot",
    "multi_hot",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "ctc_loss",
    "ctc_decode",
    "moments",
    "batch_normalization",
    "layer_normalization",
    "rms_normalization",
    "normalize",
    "psnr",
    "dot_product_attention",
    "unfold",
    "fold",
    "depth_to_space",
    "space_to_depth",
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


def _k(value, like):
    """A Python number as a 0-d array of ``like``'s dtype (not rounded through floatx)."""
    return np.asarray(value, dtype=like.dtype)


def _log(x):
    return _pointwise(x, xp.log, lambda x, y: 1 / x)


class _Transpose(Function):
    """``transpose(x, axes)``; the gradient is transposed back by the inverse permutation."""

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


def _integers(x):
    """The integer array behind ``x``, or None for float (and boolean) values."""
    data = x.data if isinstance(x, Tensor) else x
    if isinstance(data, np.ndarray) and data.dtype.kind in "iu":
        return data
    return None


@_dual
def relu(x):
    """Rectified linear unit, ``max(x, 0)``; integer arrays stay integer (as Keras).

    Example:
        >>> relu(np.array([-1.0, 0.5]))
        array([0. , 0.5])
    """
    ints = _integers(x)
    if ints is not None:
        return Tensor(np.maximum(ints, 0)) if isinstance(x, Tensor) else np.maximum(ints, 0)
    return _act.relu(_float(x))


@_dual
def relu6(x):
    """``min(max(x, 0), 6)``: the rectifier capped at 6; integer arrays stay integer."""
    ints = _integers(x)
    if ints is not None:
        return Tensor(np.clip(ints, 0, 6)) if isinstance(x, Tensor) else np.clip(ints, 0, 6)
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
    """``clip(x, -1, 1)``; integer arrays stay integer."""
    ints = _integers(x)
    if ints is not None:
        return Tensor(np.clip(ints, -1, 1)) if isinstance(x, Tensor) else np.clip(ints, -1, 1)
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
    """Sparsemax: like softmax, but the probabilities of low scores are exactly 0.

    The Euclidean projection of ``x`` onto the probability simplex along ``axis`` (Martins &
    Astudillo, 2016): ``max(x - tau, 0)``, summing to 1. Deviation: Keras 3.15's backends
    compute ``tau`` from the sum of the cumulative sums over the support instead of the last
    one, which gives outputs that do not sum to 1 when more than one class is kept; the two
    agree when a single class is kept.

    Example:
        >>> sparsemax(np.array([1.0, 1.2, 0.5])).round(6)
        array([0.4, 0.6, 0. ])
    """
    x = _float(x)
    return _Sparsemax.apply(x, axis=_axis(axis, x.ndim))


# ---------------------------------------------------------------------------
# Convolution and pooling: 1-D as height-1 images, 2-D on the NHWC kernels, 3-D as a sum of
# 2-D convolutions over the depth offsets of the kernel (and separable pools).
# ---------------------------------------------------------------------------


def _data_format(data_format) -> str:
    if data_format is None:
        data_format = backend.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "Invalid value for argument `data_format`. Expected 'channels_last' or "
            f"'channels_first'. Received: data_format={data_format!r}"
        )
    return data_format


def _padding(padding) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(
            "Invalid value for argument `padding`. Expected 'valid' or 'same'. "
            f"Received: padding={padding!r}"
        )
    return padding.lower()


def _tuple(value, n: int, name: str) -> tuple:
    """An int or a sequence of ``n`` positive ints, as a tuple (Keras's ``standardize_tuple``)."""
    try:
        return standardize_tuple(value, n, name)
    except ValueError:  # this module's wording
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a positive int or a tuple of {n} "
            f"positive ints. Received: {name}={value!r}"
        ) from None


def _spatial_rank(x, what: str) -> int:
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(
            f"Inputs to `{what}` must have rank 3, 4 or 5 (batch, 1 to 3 spatial axes, "
            f"channels). Received: inputs.shape={tuple(x.shape)}"
        )
    return rank


def _to_last(x, data_format):
    """Channels-first input moved to channels-last (the kernels' layout)."""
    if data_format == "channels_last":
        return x
    return _transpose(x, (0, *range(2, x.ndim), 1))


def _from_last(x, data_format):
    if data_format == "channels_last":
        return x
    return _transpose(x, (0, x.ndim - 1, *range(1, x.ndim - 1)))


def _as_image(x):
    """``(N, W, C)`` as ``(N, 1, W, C)``."""
    return x.reshape((x.shape[0], 1, *x.shape[1:]))


def _pad_depth(x, before: int, after: int):
    """Zero-pad axis 1 of ``(N, D, H, W, C)``: as image rows of a ``(N, D, H*W*C, 1)`` view."""
    if not before and not after:
        return x
    n, d, *rest = x.shape
    flat = x.reshape((n, d, int(np.prod(rest)), 1))
    return _shape.pad2d(flat, ((before, after), (0, 0))).reshape((n, d + before + after, *rest))


def _conv3d(x, kernel, strides, padding, dilation):
    """3-D correlation of ``(N, D, H, W, C)`` with ``(KD, KH, KW, C, F)``.

    ``out[:, i] = sum_k conv2d(x[:, i * s + k * d], kernel[k])``: one 2-D convolution of all
    output depths at once per kernel depth offset ``k``.
    """
    n, depth = x.shape[:2]
    kd = kernel.shape[0]
    od, before, after = _conv._pads(depth, kd, strides[0], padding, dilation[0])
    xpad = _pad_depth(x, before, after)
    out = None
    for k in range(kd):
        start = k * dilation[0]
        planes = xpad[:, start : start + (od - 1) * strides[0] + 1 : strides[0]]
        planes = planes.reshape((n * od, *x.shape[2:]))
        part = _conv.conv2d(planes, kernel[k], None, strides[1:], padding, dilation[1:])
        out = part if out is None else out + part
    return out.reshape((n, od, *out.shape[1:]))


def _conv_nd(x, kernel, strides, padding, dilation):
    """Channels-last correlation of rank 1, 2 or 3 with a Keras-layout kernel."""
    rank = x.ndim - 2
    if rank == 1:
        k2 = kernel.reshape((1, *kernel.shape))
        out = _conv.conv2d(_as_image(x), k2, None, (1, *strides), padding, (1, *dilation))
        return out.reshape((out.shape[0], *out.shape[2:]))
    if rank == 2:
        return _conv.conv2d(x, kernel, None, strides, padding, dilation)
    return _conv3d(x, kernel, strides, padding, dilation)


def _channels(x, c0: int, c1: int):
    return x[(Ellipsis, slice(c0, c1))]


@_dual
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (cross-correlation), 1-D to 3-D, as ``keras.ops.conv``.

    Args:
        inputs: ``(batch, *spatial, channels)`` (``channels_last``) or
            ``(batch, channels, *spatial)`` (``channels_first``).
        kernel: ``(*kernel_spatial, in_channels // groups, filters)``; when the input has
            ``groups`` times the kernel's input channels, the channels are split in
            ``groups`` groups, each convolved with ``filters // groups`` filters.
        strides: int or tuple, one per spatial axis.
        padding: ``"valid"`` or ``"same"`` (output size ``ceil(size / stride)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or tuple.

    Output size per axis: ``floor((size + pads - K') / stride) + 1``, ``K' = (K - 1) d + 1``.

    Returns:
        The convolved batch, in ``data_format``.

    Example:
        >>> conv(np.ones((1, 5, 2)), np.ones((3, 2, 4))).shape
        (1, 3, 4)
    """
    data_format = _data_format(data_format)
    x, kernel = _float(inputs), _float(kernel)
    rank = _spatial_rank(x, "conv")
    padding = _padding(padding)
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    if kernel.ndim != rank + 2:
        raise ValueError(
            f"`kernel` must have rank {rank + 2} for a {rank}-D convolution. "
            f"Received: kernel.shape={tuple(kernel.shape)}, inputs.shape={tuple(x.shape)}"
        )
    x = _to_last(x, data_format)
    c, kc, f = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    if c % kc or f % (c // kc):
        raise ValueError(
            f"The input channels ({c}) must be a multiple of the kernel's input channels ({kc}), "
            f"and the filters ({f}) a multiple of the number of groups. Received: "
            f"inputs.shape={tuple(inputs.shape)}, kernel.shape={tuple(kernel.shape)}"
        )
    out = _grouped_conv(x, kernel, strides, padding, dilation)
    return _from_last(out, data_format)


def _grouped_conv(x, kernel, strides, padding, dilation):
    """Channels-last convolution in ``C / kernel_in_channels`` groups, each with its share of
    the filters (one group: a plain convolution)."""
    c, kc, f = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    groups = c // kc
    if groups == 1:
        return _conv_nd(x, kernel, strides, padding, dilation)
    fg = f // groups
    parts = [
        _conv_nd(
            _channels(x, g * kc, (g + 1) * kc),
            _channels(kernel, g * fg, (g + 1) * fg),
            strides,
            padding,
            dilation,
        )
        for g in range(groups)
    ]
    return _shape.concatenate(parts, axis=-1)


def _check_depthwise(x, kernel, rank, what):
    if kernel.ndim != rank + 2 or kernel.shape[-2] != x.shape[-1]:
        raise ValueError(
            f"`{what}` needs a kernel of shape (*kernel_size, channels, depth_multiplier) "
            f"with channels = {x.shape[-1]}. Received: kernel.shape={tuple(kernel.shape)}"
        )


def _depthwise(x, kernel, strides, padding, dilation):
    if x.ndim == 5:  # one group per channel, each with its depth_multiplier filters
        flat = kernel.reshape((*kernel.shape[:3], 1, kernel.shape[3] * kernel.shape[4]))
        return _grouped_conv(x, flat, strides, padding, dilation)
    if x.ndim == 3:
        k2 = kernel.reshape((1, *kernel.shape))
        out = _conv.depthwise_conv2d(_as_image(x), k2, None, (1, *strides), padding, (1, *dilation))
        return out.reshape((out.shape[0], *out.shape[2:]))
    return _conv.depthwise_conv2d(x, kernel, None, strides, padding, dilation)


@_dual
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution (1-D to 3-D): each channel with its own ``depth_multiplier`` kernels.

    Args:
        inputs: as :func:`conv`.
        kernel: ``(*kernel_spatial, channels, depth_multiplier)``.
        strides, padding, data_format, dilation_rate: as :func:`conv`.

    Returns:
        ``channels * depth_multiplier`` feature maps; channel ``c * M + m`` comes from ``c``.
    """
    data_format = _data_format(data_format)
    x, kernel = _float(inputs), _float(kernel)
    rank = _spatial_rank(x, "depthwise_conv")
    x = _to_last(x, data_format)
    _check_depthwise(x, kernel, rank, "depthwise_conv")
    out = _depthwise(
        x,
        kernel,
        _tuple(strides, rank, "strides"),
        _padding(padding),
        _tuple(dilation_rate, rank, "dilation_rate"),
    )
    return _from_last(out, data_format)


@_dual
def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding="valid",
    data_format=None,
    dilation_rate=1,
):
    """Depthwise convolution followed by a pointwise (size-1) convolution, 1-D to 3-D.

    Args:
        inputs: as :func:`conv`.
        depthwise_kernel: ``(*kernel_spatial, channels, depth_multiplier)``.
        pointwise_kernel: ``(1, ..., 1, channels * depth_multiplier, filters)``.
        strides, padding, data_format, dilation_rate: of the depthwise step.
    """
    data_format = _data_format(data_format)
    x = _float(inputs)
    dk, pk = _float(depthwise_kernel), _float(pointwise_kernel)
    rank = _spatial_rank(x, "separable_conv")
    x = _to_last(x, data_format)
    _check_depthwise(x, dk, rank, "separable_conv")
    mid = _depthwise(
        x,
        dk,
        _tuple(strides, rank, "strides"),
        _padding(padding),
        _tuple(dilation_rate, rank, "dilation_rate"),
    )
    if pk.ndim != rank + 2 or pk.shape[-2] != mid.shape[-1]:
        raise ValueError(
            f"`pointwise_kernel` must have shape {(1,) * rank + (mid.shape[-1], 'filters')}. "
            f"Received: pointwise_kernel.shape={tuple(pk.shape)}"
        )
    out = _conv_nd(mid, pk, (1,) * rank, "valid", (1,) * rank)
    return _from_last(out, data_format)


@_dual
def conv_transpose(
    inputs,
    kernel,
    strides=1,
    padding="valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
):
    """Transposed convolution, 1-D to 3-D: the gradient of :func:`conv` run forward.

    Args:
        inputs: as :func:`conv`.
        kernel: ``(*kernel_spatial, filters, in_channels)`` (Keras's layout).
        strides: int or tuple.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None, an int or a tuple: extra rows/columns after the output.
        data_format, dilation_rate: as :func:`conv`.

    Output size per axis, ``K' = (K - 1) d + 1``: ``valid``: ``(size - 1) s + K' + op`` (``op``
    defaulting to ``max(K', s) - K'``); ``same``: ``size * s`` (or ``(size - 1) s + K' % 2 +
    op`` with ``output_padding``).
    """
    data_format = _data_format(data_format)
    x, kernel = _float(inputs), _float(kernel)
    rank = _spatial_rank(x, "conv_transpose")
    x = _to_last(x, data_format)
    if kernel.ndim != rank + 2 or kernel.shape[-1] != x.shape[-1]:
        raise ValueError(
            "`conv_transpose` needs a kernel of shape (*kernel_size, filters, channels) with "
            f"channels = {x.shape[-1]}. Received: kernel.shape={tuple(kernel.shape)}"
        )
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    if output_padding is not None:
        output_padding = (
            (int(output_padding),) * rank
            if isinstance(output_padding, (int, np.integer))
            else tuple(int(p) for p in output_padding)
        )
    padding = _padding(padding)
    if rank == 1:
        op = None if output_padding is None else (0, *output_padding)
        out = _conv.conv2d_transpose(
            _as_image(x),
            kernel.reshape((1, *kernel.shape)),
            None,
            (1, *strides),
            padding,
            op,
            (1, *dilation),
        )
        out = out.reshape((out.shape[0], *out.shape[2:]))
    elif rank == 2:
        out = _conv.conv2d_transpose(x, kernel, None, strides, padding, output_padding, dilation)
    else:
        out = _conv_transpose3d(x, kernel, strides, padding, output_padding, dilation)
    return _from_last(out, data_format)


class _PlaceRows(Function):
    """Rows ``i`` of ``y`` (axis 1) written to rows ``start + i * step`` of a zero canvas of
    ``size`` rows (rows falling outside are dropped); backward reads them back."""

    def forward(self, y, start, step, size):
        rows = start + step * xp.arange(y.shape[1])
        keep = (rows >= 0) & (rows < size)
        out = xp.zeros((y.shape[0], size, *y.shape[2:]), dtype=y.dtype)
        out[:, rows[keep]] = y[:, keep]
        self.save_for_backward(y.shape, rows[keep], keep)
        return out

    def backward(self, grad):
        shape, rows, keep = self.saved
        g = xp.zeros(shape, dtype=grad.dtype)
        g[:, keep] = grad[:, rows]
        return g


def _conv_transpose3d(x, kernel, strides, padding, output_padding, dilation):
    """3-D transposed convolution of ``(N, D, H, W, C)`` with ``(KD, KH, KW, F, C)``.

    Input depth ``i`` and kernel depth ``k`` feed output depth ``i * s + k * d - crop``: one
    2-D transposed convolution of every input depth plane per kernel depth ``k``, placed on
    those output rows and summed.
    """
    n, depth = x.shape[:2]
    kd = kernel.shape[0]
    op = (None,) * 3 if output_padding is None else tuple(output_padding)
    od, crop, _ = _conv._transpose_pads(depth, kd, strides[0], padding, op[0], dilation[0])
    planes = x.reshape((n * depth, *x.shape[2:]))
    op_hw = None if output_padding is None else op[1:]
    out = None
    for k in range(kd):
        part = _conv.conv2d_transpose(
            planes, kernel[k], None, strides[1:], padding, op_hw, dilation[1:]
        )
        part = part.reshape((n, depth, *part.shape[1:]))
        placed = _PlaceRows.apply(part, start=k * dilation[0] - crop, step=strides[0], size=od)
        out = placed if out is None else out + placed
    return out


def _pool_nd(x, pool, strides, padding, pool2d):
    """Channels-last pooling of rank 1, 2 or 3 with a 2-D NHWC pooling kernel.

    A box's max is the max over its depth of the max over its rows and columns, and its mean
    (counting only real pixels, so "same" padding adds nothing) factors the same way: 3-D
    pooling is a 2-D pool of every depth plane, then a pool along depth.
    """
    rank = x.ndim - 2
    if rank == 1:
        out = pool2d(_as_image(x), (1, pool[0]), (1, strides[0]), padding)
        return out.reshape((out.shape[0], *out.shape[2:]))
    if rank == 2:
        return pool2d(x, pool, strides, padding)
    n, d, h, w, c = x.shape
    planes = pool2d(x.reshape((n * d, h, w, c)), pool[1:], strides[1:], padding)
    _, oh, ow, _ = planes.shape
    cols = planes.reshape((n, d, oh * ow, c))
    out = pool2d(cols, (pool[0], 1), (strides[0], 1), padding)
    return out.reshape((n, out.shape[1], oh, ow, c))


def _pool(inputs, pool_size, strides, padding, data_format, pool2d, what):
    data_format = _data_format(data_format)
    x = _float(inputs)
    rank = _spatial_rank(x, what)
    pool = _tuple(pool_size, rank, "pool_size")
    strides = pool if strides is None else _tuple(strides, rank, "strides")
    out = _pool_nd(_to_last(x, data_format), pool, strides, _padding(padding), pool2d)
    return _from_last(out, data_format)


@_dual
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Max pooling over 1 to 3 spatial axes.

    Args:
        inputs: ``(batch, *spatial, channels)`` or channels-first.
        pool_size: int or tuple, the window.
        strides: int or tuple; None means ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding never wins the max).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Output size per axis: ``valid``: ``floor((size - pool) / stride) + 1``; ``same``:
    ``ceil(size / stride)``.

    Example:
        >>> max_pool(np.arange(6.0).reshape(1, 6, 1), 2)[0, :, 0]
        array([1., 3., 5.])
    """
    return _pool(inputs, pool_size, strides, padding, data_format, _pool_k.max_pool2d, "max_pool")


@_dual
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling over 1 to 3 spatial axes; arguments as :func:`max_pool`.

    With ``"same"`` padding a window's mean counts only the input pixels it covers (Keras's
    TensorFlow and JAX numerics). Keras's torch backend pads unevenly padded axes by
    replicating the edge instead, so its border values can differ there.
    """
    return _pool(
        inputs, pool_size, strides, padding, data_format, _pool_k.avg_pool2d, "average_pool"
    )


def _adaptive_axis(x, axis: int, out_size: int, reduce):
    """Pool axis ``axis`` into ``out_size`` bins ``[floor(i L / O), ceil((i + 1) L / O))``."""
    size = x.shape[axis]
    lead = (slice(None),) * axis
    bins = []
    for i in range(out_size):  # one slice per output bin
        lo, hi = (i * size) // out_size, -((-(i + 1) * size) // out_size)
        bins.append(reduce(x[(*lead, slice(lo, hi))], axis))
    return _shape.concatenate(bins, axis=axis)


def _adaptive(inputs, output_size, data_format, reduce, what):
    data_format = _data_format(data_format)
    x = _float(inputs)
    rank = _spatial_rank(x, what)
    sizes = _tuple(output_size, rank, "output_size")
    x = _to_last(x, data_format)
    for axis, size in enumerate(sizes, start=1):
        x = _adaptive_axis(x, axis, size, reduce)
    return _from_last(x, data_format)


@_dual
def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed output size: bin ``i`` of an axis of length ``L`` covers
    ``[floor(i L / O), ceil((i + 1) L / O))`` (PyTorch's bins).

    Args:
        inputs: ``(batch, *spatial, channels)`` or channels-first, 1 to 3 spatial axes.
        output_size: int or tuple, the output's spatial shape.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Example:
        >>> adaptive_max_pool(np.arange(5.0).reshape(1, 5, 1), 2)[0, :, 0]
        array([2., 4.])
    """
    return _adaptive(
        inputs,
        output_size,
        data_format,
        lambda t, axis: _Max.apply(t, axis=axis, keepdims=True),
        "adaptive_max_pool",
    )


@_dual
def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed output size; bins and arguments as :func:`adaptive_max_pool`."""
    return _adaptive(
        inputs,
        output_size,
        data_format,
        lambda t, axis: t.mean(axis=axis, keepdims=True),
        "adaptive_average_pool",
    )


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


def _int_array(x, name: str):
    arr = np.asarray(x.data if isinstance(x, Tensor) else x)
    if arr.dtype.kind == "f":
        if not np.all(arr == np.floor(arr)):
            raise ValueError(f"`{name}` must hold integer class indices. Received: {arr!r}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"`{name}` must hold integers. Received dtype: {arr.dtype}")
    return arr.astype(np.int64)


def _num_classes(num_classes) -> int:
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(
            "Invalid value for argument `num_classes`: expected a positive int. "
            f"Received: num_classes={num_classes!r}"
        )
    return int(num_classes)


def _check_sparse(sparse):
    if sparse:
        raise ValueError("cnnkit has no sparse tensors: `sparse=True` is not supported.")


@_dual
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encode integer labels: a new axis of ``num_classes`` values at ``axis``.

    Labels outside ``[0, num_classes)`` (negative ones included) give all-zero vectors.

    Args:
        x: integer labels, any shape.
        num_classes: the length of each vector.
        axis: where the new axis goes (-1: last).
        dtype: the output dtype (default ``floatx``).
        sparse: must be False.

    Example:
        >>> one_hot(np.array([1, -1]), 3)
        array([[0., 1., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    _check_sparse(sparse)
    labels = _int_array(x, "x")
    n = _num_classes(num_classes)
    out_ndim = labels.ndim + 1
    axis = _axis(axis, out_ndim)
    hot = labels[..., None] == np.arange(n)
    out = np.moveaxis(hot, -1, axis).astype(dtype or backend.floatx())
    return Tensor(out) if isinstance(x, Tensor) else out


@_dual
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encode integer labels: 1 for every class present in a sample's labels.

    A rank-1 input is one sample; a rank-2 (or higher) input holds one sample per row and is
    reduced over axis 1, as Keras does.

    Example:
        >>> multi_hot(np.array([[0, 2], [1, 1]]), 3)
        array([[1., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot() got unexpected keyword arguments: {sorted(kwargs)}")
    if num_classes is None:
        raise ValueError("Argument `num_classes` must be set.")
    hot = one_hot(_int_array(inputs, "inputs"), num_classes, axis=axis, dtype=dtype, sparse=sparse)
    out = hot.max(axis=1 if np.ndim(hot) > 2 else 0)
    return Tensor(out) if isinstance(inputs, Tensor) else out


# ---------------------------------------------------------------------------
# Cross-entropies (the gradient flows to `output`; targets are constants)
# ---------------------------------------------------------------------------


def _class_last(t, axis):
    axis = _axis(axis, t.ndim)
    if axis == t.ndim - 1:
        return t
    return _transpose(t, (*[a for a in range(t.ndim) if a != axis], axis))


@_dual
def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy ``-(t log p + (1 - t) log(1 - p))``.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]``; with ``from_logits`` the sigmoid is
    fused in (stable for large logits). The output has the inputs' shape.
    """
    output = _float(output)
    t = _target(target, output)
    if t.shape != output.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={t.shape}, output.shape={output.shape}"
        )
    flat = output.reshape((*output.shape, 1))
    loss = _losses.binary_crossentropy(t[..., None], flat, from_logits=bool(from_logits))
    return loss


def _target(target, output):
    return np.asarray(target.data if isinstance(target, Tensor) else target).astype(output.dtype)


@_dual
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(p), axis)`` with ``p = softmax(output)`` (``from_logits``) or
    ``output`` normalised to sum 1 and clipped to ``[1e-7, 1 - 1e-7]``.
    """
    output = _float(output)
    t = _target(target, output)
    if t.shape != output.shape or output.ndim < 1:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape, of rank 1 or more. "
            f"Received: target.shape={t.shape}, output.shape={output.shape}"
        )
    axis = _axis(axis, output.ndim)
    t = np.moveaxis(t, axis, -1)
    return _losses.categorical_crossentropy(t, _class_last(output, axis), bool(from_logits))


@_dual
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy against integer labels; ``output`` holds the classes along ``axis``.

    Targets of shape ``output.shape`` without the class axis, or with it of size 1.
    """
    output = _float(output)
    if output.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: {output.shape}")
    axis = _axis(axis, output.ndim)
    labels = _int_array(target, "target")
    if labels.ndim == output.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    expected = output.shape[:axis] + output.shape[axis + 1 :]
    if labels.shape != expected:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the class "
            f"axis: target.shape={labels.shape}, output.shape={output.shape}"
        )
    return _losses.sparse_categorical_crossentropy(
        labels, _class_last(output, axis), bool(from_logits)
    )


# ---------------------------------------------------------------------------
# Connectionist temporal classification
# ---------------------------------------------------------------------------


def _ctc_logits(x, name: str) -> Tensor:
    """``(B, T, K)`` float logits; half precision is computed in float32, as Keras."""
    x = _float(x)
    if x.ndim != 3:
        raise ValueError(
            f"Argument `{name}` must be a tensor of shape (batch_size, max_length, "
            f"num_classes). Received: {name}.shape={x.shape}"
        )
    if x.dtype.itemsize < 4:
        x = cast_input(x, "float32")
    return x


def _ctc_lengths(x, name: str, batch: int, at_most: int, what: str):
    lengths = _int_array(x, name)
    if lengths.shape != (batch,):
        raise ValueError(
            f"Argument `{name}` must have shape (batch_size,) = ({batch},). "
            f"Received: {name}.shape={lengths.shape}"
        )
    if lengths.size and (lengths.min() < 0 or lengths.max() > at_most):
        raise ValueError(
            f"Argument `{name}` must hold lengths in [0, {at_most}] (the {what}). "
            f"Received: {name}={lengths.tolist()}"
        )
    return lengths


def _mask_index(mask_index, num_classes: int) -> int:
    if not is_int(mask_index) or not 0 <= mask_index < num_classes:
        raise ValueError(
            f"Argument `mask_index` must be an int in [0, {num_classes}) (num_classes="
            f"{num_classes}). Received: mask_index={mask_index!r}"
        )
    return int(mask_index)


@_dual
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Connectionist temporal classification loss, per sample: ``-log p(target | output)``.

    ``p`` sums over every alignment of the target to the output steps (blanks anywhere,
    repeats merged) with ``log_softmax(output)`` as the per-step log-probabilities. An
    alignment that cannot exist (a target too long for its output) gives ``inf`` (and NaN
    gradients), as Keras's torch backend. See :mod:`cnnkit.kernels.ctc` for the maths.

    Args:
        target: integer labels ``(batch_size, max_label_length)``; entries past
            ``target_length`` are ignored.
        output: logits ``(batch_size, max_length, num_classes)`` (not softmax-normalised).
        target_length: ``(batch_size,)`` label lengths.
        output_length: ``(batch_size,)`` numbers of valid output steps.
        mask_index: the blank class. Defaults to ``0``.

    Returns:
        The losses, shape ``(batch_size,)``, in ``output``'s float dtype (at least float32).

    Example:
        >>> import numpy as np
        >>> logits = np.zeros((1, 2, 2), dtype="float32")  # 2 steps, classes {blank, 1}
        >>> round(float(ctc_loss([[1]], logits, [1], [2])[0]), 4)  # -log(3 / 4)
        0.2877
    """
    output = _ctc_logits(output, "output")
    batch, steps, classes = output.shape
    labels = _int_array(target, "target")
    if labels.ndim != 2 or labels.shape[0] != batch:
        raise ValueError(
            "Arguments `target` and `output` must have the same first dimension, with "
            "`target` of shape (batch_size, max_label_length). "
            f"Received shapes: target.shape={labels.shape}, output.shape={output.shape}"
        )
    blank = _mask_index(mask_index, classes)
    label_lengths = _ctc_lengths(
        target_length, "target_length", batch, labels.shape[1], "target width"
    )
    logit_lengths = _ctc_lengths(output_length, "output_length", batch, steps, "output steps")
    inside = np.arange(labels.shape[1]) < label_lengths[:, None]
    bad = inside & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise ValueError(
            f"Argument `target` must hold labels in [0, {classes}) within `target_length`. "
            f"Received the label {int(labels[bad][0])}"
        )
    return _ctc.CTCLoss.apply(
        output,
        labels=labels,
        label_lengths=label_lengths,
        logit_lengths=logit_lengths,
        blank=blank,
    )


@_dual
def ctc_decode(
    inputs,
    sequence_lengths,
    strategy="greedy",
    beam_width=100,
    top_paths=1,
    merge_repeated=True,
    mask_index=0,
):
    """Decode CTC logits into label sequences, as Keras 3 (not differentiable).

    Args:
        inputs: logits ``(batch_size, max_length, num_classes)`` (not softmax-normalised).
        sequence_lengths: ``(batch_size,)`` numbers of valid steps.
        strategy: ``"greedy"`` (best class per step) or ``"beam_search"``.
        beam_width: beams kept by the beam search. Defaults to 100.
        top_paths: decoded sequences returned by the beam search. Defaults to 1.
        merge_repeated: greedy only: merge repeated classes. Defaults to ``True``.
        mask_index: the blank class; ``None`` means the last class. Defaults to ``0``.

    Returns:
        ``(paths, scores)``. ``paths`` are int32 ``(top_paths, batch_size, max_length)``
        (``(1, batch_size, max_length)`` for greedy): the decoded labels first, then ``-1``.
        ``scores`` are ``(batch_size, top_paths)``: for greedy minus the sum of each step's
        largest logit, for beam search the log-probability of each decoded sequence.

    Example:
        >>> import numpy as np
        >>> logits = np.log(np.array([[[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .1, .8]]]))
        >>> paths, scores = ctc_decode(logits, [4])
        >>> paths.tolist()
        [[[1, 2, -1, -1]]]
    """
    logits = _ctc_logits(inputs, "inputs").data
    batch, steps, classes = logits.shape
    lengths = _ctc_lengths(sequence_lengths, "sequence_lengths", batch, steps, "input steps")
    blank = classes - 1 if mask_index is None else _mask_index(mask_index, classes)
    if strategy == "greedy":
        paths, scores = _ctc.greedy_decode(logits, lengths, bool(merge_repeated), blank)
    elif strategy == "beam_search":
        beam_width = check_positive_int("beam_width", beam_width)
        top_paths = check_positive_int("top_paths", top_paths)
        paths, scores = _ctc.beam_search_decode(logits, lengths, beam_width, top_paths, blank)
    else:
        raise ValueError(
            f"Invalid strategy {strategy!r}. Supported values are 'greedy' and 'beam_search'."
        )
    return Tensor(paths), Tensor(scores)


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------


def _axes(axes, ndim: int, name: str = "axes") -> tuple:
    values = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    return tuple(sorted(_axis(a, ndim, name) for a in values))


def _squeeze(t, axes):
    shape = tuple(n for i, n in enumerate(t.shape) if i not in axes)
    return t.reshape(shape)


@_dual
def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and variance of ``x`` over ``axes`` (the variance is the biased one).

    Returns:
        ``(mean, variance)``, with the reduced axes kept (size 1) when ``keepdims``.

    Example:
        >>> moments(np.array([1.0, 2.0, 3.0, 6.0]), axes=0)
        (array(3.), array(3.5))
    """
    if synchronized:
        raise NotImplementedError("`synchronized=True` needs several devices; cnnkit has one.")
    x = _float(x)
    axes = _axes(axes, max(x.ndim, 1))
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=axes, keepdims=True)
    if not keepdims:
        mean, variance = _squeeze(mean, axes), _squeeze(variance, axes)
    return mean, variance


def _per_axis(v, shape, axis):
    if v is None:
        return None
    v = v if isinstance(v, Tensor) else Tensor(np.asarray(v))
    target = [1] * len(shape)
    target[axis] = shape[axis]
    return v.reshape(tuple(target))


@_dual
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with per-``axis`` statistics.

    Args:
        x: input of any rank.
        mean, variance: 1-D, of length ``x.shape[axis]``.
        axis: the feature axis.
        offset, scale: optional 1-D (``beta`` and ``gamma``).
        epsilon: added to the variance.
    """
    x = _float(x)
    axis = _axis(axis, x.ndim)
    mean, variance = _per_axis(mean, x.shape, axis), _per_axis(variance, x.shape, axis)
    inv = (variance + _k(epsilon, x)) ** -0.5
    if scale is not None:
        inv = inv * _per_axis(scale, x.shape, axis)
    out = (x - mean) * inv
    if offset is not None:
        out = out + _per_axis(offset, x.shape, axis)
    return out


def _norm_param(v, x, axes):
    if v is None:
        return None
    v = v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=x.dtype))
    if v.ndim != x.ndim and axes != (x.ndim - 1,):
        target = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        v = v.reshape(tuple(target))
    return v


@_dual
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta``, statistics over ``axis`` per sample.

    Args:
        x: input tensor.
        gamma, beta: optional scale and offset of the normalised axes' shape.
        axis: an int or a tuple of ints.
        epsilon: default ``1e-7`` (``backend.epsilon()``).
    """
    if kwargs.pop("rms_scaling", False):
        raise ValueError(
            "`rms_scaling=True` is deprecated in Keras (it scales by the variance, not the "
            "root mean square); use `rms_normalization` instead."
        )
    if kwargs:
        raise TypeError(f"layer_normalization() got unexpected arguments: {sorted(kwargs)}")
    x = _float(x)
    eps = _EPSILON if epsilon is None else float(epsilon)
    axes = _axes(axis, x.ndim, "axis")
    mean, variance = moments(x, axes, keepdims=True)
    out = (x - mean) * (variance + _k(eps, x)) ** -0.5
    gamma, beta = _norm_param(gamma, x, axes), _norm_param(beta, x, axes)
    if gamma is not None:
        out = out * gamma
    if beta is not None:
        out = out + beta
    return out


_EPSILON = 1e-7


@_dual
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2, axis) + epsilon) * scale`` (Zhang & Sennrich, 2019).

    Example:
        >>> rms_normalization(np.array([3.0, 4.0]), epsilon=0.0).round(4)
        array([0.8485, 1.1314])
    """
    x = _float(x)
    eps = _EPSILON if epsilon is None else float(epsilon)
    axes = _axes(axis, x.ndim, "axis")
    out = x * ((x * x).mean(axis=axes, keepdims=True) + _k(eps, x)) ** -0.5
    scale = _norm_param(scale, x, axes)
    return out if scale is None else out * scale


@_dual
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x / max(norm(x, order, axis), epsilon)``: unit-norm vectors along ``axis``.

    Example:
        >>> normalize(np.array([3.0, 4.0]))
        array([0.6, 0.8])
    """
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order!r}")
    x = _float(x)
    if x.ndim == 0:
        x = x.reshape((1,))
    eps = _EPSILON if epsilon is None else float(epsilon)
    axes = _axes(axis, x.ndim, "axis")
    if order == 2:
        inv = _shape.minimum((x * x).sum(axis=axes, keepdims=True) ** -0.5, _k(1.0 / eps, x))
        return x * inv
    norm = (abs(x) ** float(order)).sum(axis=axes, keepdims=True) ** (1.0 / order)
    return x / _shape.maximum(norm, _k(eps, x))


@_dual
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))``, in dB."""
    x1, x2 = _float(x1), _float(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"Input shapes {x1.shape} and {x2.shape} must match for PSNR calculation.")
    diff = x1 - x2
    mse = (diff * diff).mean()
    ln10 = math.log(10.0)
    return _k(20 * math.log10(float(max_val)), x1) - _log(mse) * _k(10 / ln10, x1)


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------


@_dual
def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal=False,
    flash_attention=None,
    attn_logits_soft_cap=None,
):
    """``softmax(Q Kᵀ * scale + bias) V`` per head (multi-head, grouped-query, multi-query).

    Args:
        query: ``(B, T, N, H)``.
        key, value: ``(B, S, K, H)`` with ``N`` a multiple of ``K``.
        bias: optional, broadcastable to ``(B, N, T, S)``, added to the logits.
        mask: optional boolean, broadcastable to ``(B, N, T, S)``: False masks a logit out.
        scale: default ``1 / sqrt(H)``.
        is_causal: mask out keys after each query (top-left aligned).
        flash_attention: must be None or False (no fused kernel on the CPU).
        attn_logits_soft_cap: optional ``c``: logits become ``c * tanh(logits / c)``.

    Returns:
        ``(B, T, N, H)``.
    """
    if flash_attention:
        raise ValueError("Flash attention is not supported by cnnkit (a CPU library).")
    q, k, v = _float(query), _float(key), _float(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            "`dot_product_attention` only supports 4D inputs. Received: "
            f"query.shape={q.shape}, key.shape={k.shape}, value.shape={v.shape}."
        )
    if bias is not None and mask is not None:
        raise ValueError("Only one of `bias` and `mask` can be provided. Received both.")
    heads, kv_heads = q.shape[2], k.shape[2]
    if heads % kv_heads:
        raise ValueError(
            f"The query heads ({heads}) must be a multiple of the key/value heads ({kv_heads})."
        )
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    qh = _transpose(q, (0, 2, 1, 3))  # (B, N, T, H)
    kh = _transpose(k, (0, 2, 3, 1))  # (B, K, H, S)
    vh = _transpose(v, (0, 2, 1, 3))  # (B, K, S, H)
    if kv_heads != heads:  # grouped query: head n reads key/value head n // G
        index = np.repeat(np.arange(kv_heads), heads // kv_heads)
        kh, vh = kh[:, index], vh[:, index]
    logits = (qh @ kh) * _k(scale, q)  # (B, N, T, S)
    if attn_logits_soft_cap is not None:
        cap = float(attn_logits_soft_cap)
        logits = _act.tanh(logits * _k(1.0 / cap, q)) * _k(cap, q)
    if bias is not None:
        logits = logits + (bias if isinstance(bias, Tensor) else np.asarray(bias, q.dtype))
    keep = None if mask is None else np.asarray(_unwrap(mask), dtype=bool)
    if is_causal:
        causal = np.tril(np.ones(logits.shape[-2:], dtype=bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        big = np.asarray(np.finfo(logits.dtype).min * 0.7, dtype=logits.dtype)
        logits = _Where.apply(logits, big, mask=np.broadcast_to(keep, logits.shape))
    probs = _act.softmax(logits, axis=-1)
    return _transpose(probs @ vh, (0, 2, 1, 3))


# ---------------------------------------------------------------------------
# im2col / col2im and pixel shuffles
# ---------------------------------------------------------------------------


def _pair(value, name):
    return _tuple(value, 2, name) if name != "padding" else _nonneg_pair(value)


def _nonneg_pair(value):
    values = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 0 for v in values):
        raise ValueError(
            "Invalid value for argument `padding`: expected a non-negative int or a pair. "
            f"Received: padding={value!r}"
        )
    return tuple(int(v) for v in values)


def _unfold_geometry(hw, kernel, dilation, padding, stride):
    out = []
    for size, k, d, p, s in zip(hw, kernel, dilation, padding, stride):
        n = (size + 2 * p - (k - 1) * d - 1) // s + 1
        if n < 1:
            raise ValueError(
                f"The sliding blocks do not fit: spatial size {tuple(hw)}, kernel_size "
                f"{kernel}, dilation {dilation}, padding {padding}, stride {stride}."
            )
        out.append(n)
    return tuple(out)


def _gather_blocks(xpad, kernel, dilation, stride, out_hw):
    """``(N, C, Hp, Wp) -> (N, C, KH*KW, OH*OW)``: one strided slice per kernel offset."""
    n, c = xpad.shape[:2]
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, out_hw
    cols = xp.empty((n, c, kh * kw, oh, ow), dtype=xpad.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i * kw + j] = xpad[
                :,
                :,
                i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                j * dw : j * dw + (ow - 1) * sw + 1 : sw,
            ]
    return cols.reshape(n, c, kh * kw, oh * ow)


def _scatter_blocks(cols, padded_hw, kernel, dilation, stride, out_hw):
    """The adjoint of :func:`_gather_blocks`: overlapping blocks are summed."""
    n, c = cols.shape[:2]
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, out_hw
    cols = cols.reshape(n, c, kh * kw, oh, ow)
    xpad = xp.zeros((n, c, *padded_hw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            xpad[
                :,
                :,
                i * dh : i * dh + (oh - 1) * sh + 1 : sh,
                j * dw : j * dw + (ow - 1) * sw + 1 : sw,
            ] += cols[:, :, i * kw + j]
    return xpad


class _Unfold(Function):
    """im2col of an NCHW batch: ``(N, C, H, W) -> (N, C*KH*KW, L)``; backward is col2im."""

    def forward(self, x, kernel, dilation, padding, stride, out_hw):
        (ph, pw) = padding
        xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        self.save_for_backward(x.shape, xpad.shape[2:], kernel, dilation, padding, stride, out_hw)
        cols = _gather_blocks(xpad, kernel, dilation, stride, out_hw)
        return cols.reshape(x.shape[0], -1, cols.shape[-1])

    def backward(self, grad):
        shape, padded_hw, kernel, dilation, (ph, pw), stride, out_hw = self.saved
        n, c = shape[:2]
        cols = grad.reshape(n, c, kernel[0] * kernel[1], -1)
        xpad = _scatter_blocks(cols, padded_hw, kernel, dilation, stride, out_hw)
        return xpad[:, :, ph : ph + shape[2], pw : pw + shape[3]]


class _Fold(Function):
    """col2im: ``(N, C*KH*KW, L) -> (N, C, H, W)``, summing overlaps; backward is im2col."""

    def forward(self, cols, hw, kernel, dilation, padding, stride, out_hw):
        (ph, pw) = padding
        n = cols.shape[0]
        c = cols.shape[1] // (kernel[0] * kernel[1])
        padded_hw = (hw[0] + 2 * ph, hw[1] + 2 * pw)
        self.save_for_backward(cols.shape, kernel, dilation, padding, stride, out_hw)
        blocks = cols.reshape(n, c, kernel[0] * kernel[1], -1)
        xpad = _scatter_blocks(blocks, padded_hw, kernel, dilation, stride, out_hw)
        return xp.ascontiguousarray(xpad[:, :, ph : ph + hw[0], pw : pw + hw[1]])

    def backward(self, grad):
        shape, kernel, dilation, (ph, pw), stride, out_hw = self.saved
        gpad = xp.pad(grad, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        return _gather_blocks(gpad, kernel, dilation, stride, out_hw).reshape(shape)


@_dual
def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an NCHW batch as columns (im2col): ``(N, C*KH*KW, L)``.

    Row ``c*KH*KW + i*KW + j`` holds pixel ``(i, j)`` of channel ``c``'s blocks; ``L = OH*OW``
    with ``OH = floor((H + 2 ph - (KH - 1) dh - 1) / sh) + 1``.

    Example:
        >>> unfold(np.arange(9.0).reshape(1, 1, 3, 3), 2)[0]
        array([[0., 1., 3., 4.],
               [1., 2., 4., 5.],
               [3., 4., 6., 7.],
               [4., 5., 7., 8.]])
    """
    x = _float(x)
    if x.ndim != 4:
        raise ValueError(f"`unfold` expects a 4-D (N, C, H, W) input. Received: {x.shape}")
    kernel = _pair(kernel_size, "kernel_size")
    dilation, stride = _pair(dilation, "dilation"), _pair(stride, "stride")
    padding = _nonneg_pair(padding)
    out_hw = _unfold_geometry(x.shape[2:], kernel, dilation, padding, stride)
    return _Unfold.apply(
        x, kernel=kernel, dilation=dilation, padding=padding, stride=stride, out_hw=out_hw
    )


@_dual
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns back to an NCHW image (col2im), overlapping blocks summed: inverts the layout of
    :func:`unfold` (``fold(unfold(x))`` counts each pixel once per block covering it)."""
    x = _float(x)
    kernel = _pair(kernel_size, "kernel_size")
    hw = _pair(output_size, "output_size")
    dilation, stride = _pair(dilation, "dilation"), _pair(stride, "stride")
    padding = _nonneg_pair(padding)
    out_hw = _unfold_geometry(hw, kernel, dilation, padding, stride)
    kk = kernel[0] * kernel[1]
    if x.ndim != 3 or x.shape[1] % kk or x.shape[2] != out_hw[0] * out_hw[1]:
        raise ValueError(
            f"`fold` expects (N, C*{kk}, {out_hw[0] * out_hw[1]}) columns for output_size={hw}, "
            f"kernel_size={kernel}. Received: x.shape={x.shape}"
        )
    return _Fold.apply(
        x, hw=hw, kernel=kernel, dilation=dilation, padding=padding, stride=stride, out_hw=out_hw
    )


def _block_size(block_size) -> int:
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(
            f"Invalid value for argument `block_size`: expected a positive int. "
            f"Received: block_size={block_size!r}"
        )
    return int(block_size)


@_dual
def depth_to_space(x, block_size, data_format="channels_last"):
    """Pixel shuffle: ``(N, H, W, C*r*r) -> (N, H*r, W*r, C)``.

    Channels-last input channel ``(i*r + j)*C + c`` becomes pixel ``(i, j)`` of block channel
    ``c`` (TensorFlow's order); channels-first input ``(N, C*r*r, H, W)`` uses channel
    ``c*r*r + i*r + j`` (PyTorch's ``pixel_shuffle`` order), as Keras does.
    """
    data_format = _data_format(data_format)
    r = _block_size(block_size)
    x = _float(x)
    if x.ndim != 4:
        raise ValueError(f"`depth_to_space` expects a 4-D input. Received: x.shape={x.shape}")
    if data_format == "channels_last":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if c % (r * r):
        raise ValueError(f"The channels ({c}) must be divisible by block_size**2 ({r * r}).")
    c //= r * r
    if data_format == "channels_last":
        y = _transpose(x.reshape((n, h, w, r, r, c)), (0, 1, 3, 2, 4, 5))
        return y.reshape((n, h * r, w * r, c))
    y = _transpose(x.reshape((n, c, r, r, h, w)), (0, 1, 4, 2, 5, 3))
    return y.reshape((n, c, h * r, w * r))


@_dual
def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of :func:`depth_to_space`: ``(N, H, W, C) -> (N, H/r, W/r, C*r*r)``."""
    data_format = _data_format(data_format)
    r = _block_size(block_size)
    x = _float(x)
    if x.ndim != 4:
        raise ValueError(f"`space_to_depth` expects a 4-D input. Received: x.shape={x.shape}")
    if data_format == "channels_last":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if h % r or w % r:
        raise ValueError(f"Height and width ({h}, {w}) must be divisible by block_size ({r}).")
    if data_format == "channels_last":
        y = _transpose(x.reshape((n, h // r, r, w // r, r, c)), (0, 1, 3, 2, 4, 5))
        return y.reshape((n, h // r, w // r, c * r * r))
    y = _transpose(x.reshape((n, c, h // r, r, w // r, r)), (0, 1, 3, 5, 2, 4))
    return y.reshape((n, c * r * r, h // r, w // r))
