"""Per-sample normalisation kernels: layer (and group) normalisation, RMS and L2 normalisation.

Unlike batch normalisation (``norm.py``), the statistics are taken over feature axes of each
sample, so training and inference compute the same thing.

Layer normalisation over ``axes`` (Ba et al., 2016, https://arxiv.org/abs/1607.06450), with
``n`` the number of values normalised together::

    x̂ = (x - mean(x)) / sqrt(var(x) + epsilon)          out = gamma * x̂ + beta
    dx = inv * (dx̂ - mean(dx̂) - x̂ * mean(dx̂ * x̂))     with dx̂ = g * gamma, inv = 1/sqrt(var+eps)

RMS normalisation (Zhang & Sennrich, 2019, https://arxiv.org/abs/1910.07467)::

    r = 1 / sqrt(mean(x²) + epsilon)                     out = x * r * scale
    dx = r * (dy - x * r² * mean(dy * x))                with dy = g * scale

L2 normalisation, Keras's ``ops.normalize(order=2)``::

    r = min(1 / sqrt(sum(x²)), 1 / epsilon)              out = x * r
    dx = r * (g - x * r² * sum(g * x))    (where the clip is inactive; else dx = g / epsilon)
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor, as_tensor, unbroadcast
from cnnkit.backend import xp


def normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int or a sequence) as sorted non-negative axes of a rank-``ndim`` input.

    Raises:
        ValueError: for an axis out of range or repeated.
    """
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ValueError(
                f"Axis {a} is out of bounds for an input of rank {ndim}. Received: axis={axis}"
            )
    out = sorted({int(a) % ndim for a in axes})
    if len(out) != len(axes):
        raise ValueError(f"Repeated axis in `axis`. Received: axis={axis}")
    return tuple(out)


def _param_view(p, shape: tuple, axes: tuple):
    """A ``(shape[a] for a in axes)`` parameter reshaped to broadcast against ``shape``."""
    return p.reshape([shape[i] if i in axes else 1 for i in range(len(shape))])


def _reduce_to(g, shape: tuple, axes: tuple):
    """Sum ``g`` over every axis but ``axes``, shaped as the parameter ``(shape[a] for a)``."""
    others = tuple(i for i in range(g.ndim) if i not in axes)
    return g.sum(axis=others).reshape([shape[i] for i in axes])


class LayerNorm(Function):
    """Standardise over ``axes``, then ``* gamma + beta`` (each optional); see the module docs."""

    def forward(self, x, *params, axes, epsilon, has_scale, has_offset):
        gamma = _param_view(params[0], x.shape, axes).astype(x.dtype) if has_scale else None
        beta = _param_view(params[-1], x.shape, axes).astype(x.dtype) if has_offset else None
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        inv = 1.0 / xp.sqrt(var + x.dtype.type(epsilon))  # (..., 1, ...) per sample
        xhat = xc * inv
        self.save_for_backward(xhat, inv, gamma, axes, has_scale, has_offset)
        out = xhat * gamma if has_scale else xhat.copy()
        if has_offset:
            out += beta
        return out

    def backward(self, grad):
        xhat, inv, gamma, axes, has_scale, has_offset = self.saved
        dxhat = grad * gamma if has_scale else grad
        dx = dxhat - dxhat.mean(axis=axes, keepdims=True)
        dx -= xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
        dx *= inv
        grads = [dx]
        if has_scale:
            grads.append(_reduce_to(grad * xhat, xhat.shape, axes))
        if has_offset:
            grads.append(_reduce_to(grad, xhat.shape, axes))
        return tuple(grads)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon: float = 1e-3) -> Tensor:
    """Normalise each sample over ``axis`` to zero mean and unit variance, then scale and shift.

    Args:
        x: Tensor or array.
        gamma, beta: optional parameters of shape ``tuple(x.shape[a] for a in axes)``.
        axis: int or sequence of ints.
        epsilon: added to the variance.

    Example:
        >>> import numpy as np
        >>> layer_normalization(np.array([[1.0, 3.0]]), epsilon=0.0).numpy()
        array([[-1.,  1.]])
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    params = tuple(p for p in (gamma, beta) if p is not None)
    return LayerNorm.apply(
        x,
        *params,
        axes=axes,
        epsilon=float(epsilon),
        has_scale=gamma is not None,
        has_offset=beta is not None,
    )


class RMSNorm(Function):
    """``x / sqrt(mean(x²) + epsilon) * scale`` over ``axes``; see the module docstring."""

    def forward(self, x, *params, axes, epsilon):
        scale = _param_view(params[0], x.shape, axes).astype(x.dtype) if params else None
        r = 1.0 / xp.sqrt((x * x).mean(axis=axes, keepdims=True) + x.dtype.type(epsilon))
        xr = x * r
        self.save_for_backward(x, r, xr, scale, axes)
        return xr * scale if scale is not None else xr

    def backward(self, grad):
        x, r, xr, scale, axes = self.saved
        dy = grad * scale if scale is not None else grad
        dx = r * (dy - x * (r * r) * (dy * x).mean(axis=axes, keepdims=True))
        if scale is None:
            return dx
        return dx, _reduce_to(grad * xr, x.shape, axes)


def rms_normalization(x, scale=None, axis=-1, epsilon: float = 1e-6) -> Tensor:
    """Divide each sample by its root mean square over ``axis``, times an optional ``scale``.

    Example:
        >>> import numpy as np
        >>> rms_normalization(np.array([[3.0, 4.0]]), epsilon=0.0).numpy().round(4)
        array([[0.8485, 1.1314]])
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    params = () if scale is None else (scale,)
    return RMSNorm.apply(x, *params, axes=axes, epsilon=float(epsilon))


class L2Normalize(Function):
    """``x * min(1 / sqrt(sum(x²)), 1 / epsilon)`` over ``axes``; see the module docstring."""

    def forward(self, x, axes, epsilon):
        norm = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
        clipped = norm <= x.dtype.type(epsilon)  # 1/norm would pass 1/epsilon (or be inf)
        r = 1.0 / xp.where(clipped, x.dtype.type(epsilon), norm)
        self.save_for_backward(x, r, clipped, axes)
        return x * r

    def backward(self, grad):
        x, r, clipped, axes = self.saved
        dx = r * grad - x * (r * r * r) * (grad * x).sum(axis=axes, keepdims=True)
        return xp.where(clipped, r * grad, dx)


def l2_normalize(x, axis=-1, epsilon: float = 1e-12) -> Tensor:
    """Scale each sample to unit Euclidean norm over ``axis`` (Keras's ``ops.normalize``).

    Example:
        >>> import numpy as np
        >>> l2_normalize(np.array([[3.0, 4.0]])).numpy()
        array([[0.6, 0.8]])
    """
    x = as_tensor(x)
    return L2Normalize.apply(x, axes=normalize_axes(axis, x.ndim), epsilon=float(epsilon))


class _Affine(Function):
    """``x * gamma + beta`` with parameters broadcast along axes (used by group normalisation)."""

    def forward(self, x, *params, has_scale, has_offset):
        gamma = params[0] if has_scale else None
        self.save_for_backward(x, gamma, [p.shape for p in params], has_scale, has_offset)
        out = x * gamma if has_scale else x.copy()
        if has_offset:
            out += params[-1]
        return out

    def backward(self, grad):
        x, gamma, shapes, has_scale, has_offset = self.saved
        grads = [grad * gamma if has_scale else grad]
        if has_scale:
            grads.append(unbroadcast(grad * x, shapes[0]))
        if has_offset:
            grads.append(unbroadcast(grad, shapes[-1]))
        return tuple(grads)


def affine(x, gamma=None, beta=None) -> Tensor:
    """``x * gamma + beta`` (either optional), broadcasting the parameters as NumPy does."""
    params = tuple(p for p in (gamma, beta) if p is not None)
    if not params:
        return as_tensor(x)
    return _Affine.apply(x, *params, has_scale=gamma is not None, has_offset=beta is not None)
