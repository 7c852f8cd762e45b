"""The reference kernels: the simplest correct implementation of every dispatched primitive.

``cnnkit.backend.set_kernels("reference")`` (or ``dispatch.use_kernels("reference")``)
runs the convolutions, poolings, batch normalisation and Dense's products with these
functions instead of :mod:`cnnkit.kernels.numpy_ops`. They have the same names and
signatures (``xp``, ``chunked`` and ``conv_workspace_bytes`` included: here ``chunked`` is
one call on the whole batch) and must give the same values and gradients;
``tests/kernels/test_reference_kernels.py`` runs the whole op table on both. Everything here
is single-threaded, works on the whole batch at once (no chunks, no workspace) and uses only
sliced views (no ``as_strided``, no column matrices): one loop over the kernel's ``KH·KW``
offsets (or the image's pixels), each a tensor contraction over whole arrays, and the
textbook formulas of batch normalisation. Slow, and short enough to read as the
definition::

    out[n, y, x, f]     = Σ_ij Σ_c xpad[n, y·sh + i·dh, x·sw + j·dw, c] · w[i, j, c, f]
    dxpad[n, y·sh + i·dh, x·sw + j·dw, c] += Σ_f g[n, y, x, f] · w[i, j, c, f]
    dw[i, j, c, f]      = Σ_nyx xpad[n, y·sh + i·dh, x·sw + j·dw, c] · g[n, y, x, f]

Pooling is the same loop over the window's offsets. The NumPy kernels use the pooling loops
here where their faster path does not apply (overlapping or padded windows).

Example:
    >>> import numpy as np
    >>> xpad = np.ones((1, 4, 4, 2)); w2d = np.ones((3 * 3 * 2, 1))
    >>> correlate(xpad, w2d, 3, 3, 2, 2, (1, 1), (1, 1))[0][0, :, :, 0]
    array([[18., 18.],
           [18., 18.]])
"""

from __future__ import annotations

from cnnkit.kernels.threads import conv_workspace_bytes as conv_workspace_bytes
from cnnkit.kernels.threads import xp

NAME = "reference"


def chunked(n: int, bytes_per_sample: int, flops: int, body, ordered_sum: bool = False):
    """:func:`cnnkit.kernels.threads.chunked` without chunks or threads: ``body(0, n,
    scratch)`` once, in the calling thread, with ``scratch(shape, dtype)`` a fresh array."""
    result = body(0, n, lambda shape, dtype: xp.empty(shape, dtype=dtype))
    return result if ordered_sum else None


def concurrently(calls, flops):
    """:func:`cnnkit.kernels.threads.concurrently` in the calling thread, one call after
    the other (``None`` for a ``None`` call)."""
    del flops
    return [None if call is None else call() for call in calls]


def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, one product in the calling thread (Dense's products)."""
    return xp.matmul(a, b, out=out)


def window(a, i, j, oh, ow, strides, dilation):
    """The values of ``a`` that kernel offset (i, j) meets: (N, OH, OW, C), a sliced view."""
    sh, sw = strides
    dh, dw = dilation
    r0, c0 = i * dh, j * dw
    return a[:, r0 : r0 + sh * (oh - 1) + 1 : sh, c0 : c0 + sw * (ow - 1) + 1 : sw, :]


# -- convolution -------------------------------------------------------------------------


def correlate(xpad, w2d, kh, kw, oh, ow, strides, dilation, keep_cols=False, bias=None, relu=False):
    """``out = Σ_ij window_ij(xpad) · w[i, j]`` (+ bias, ReLU): (N, OH, OW, F), and ``None``
    (there is no column matrix to keep)."""
    n, c, f = xpad.shape[0], xpad.shape[3], w2d.shape[1]
    w = w2d.reshape(kh, kw, c, f)
    out = xp.zeros((n, oh, ow, f), dtype=xp.result_type(xpad.dtype, w2d.dtype))
    for i in range(kh):
        for j in range(kw):
            patch = window(xpad, i, j, oh, ow, strides, dilation)  # (N, OH, OW, C)
            out += xp.tensordot(patch, w[i, j], axes=([3], [0]))
    if bias is not None:
        out += bias
    if relu:
        out = xp.maximum(out, 0)
    return out, None


def correlate_backward_data(g2d, w2d, xpad_shape, kh, kw, oh, ow, strides, dilation):
    """``dxpad``: each offset's window receives ``g · w[i, j]ᵀ``; (N, HP, WP, C)."""
    n, c, f = xpad_shape[0], xpad_shape[3], g2d.shape[1]
    g, w = g2d.reshape(n, oh, ow, f), w2d.reshape(kh, kw, c, f)
    dxpad = xp.zeros(xpad_shape, dtype=xp.result_type(g2d.dtype, w2d.dtype))
    for i in range(kh):
        for j in range(kw):
            window(dxpad, i, j, oh, ow, strides, dilation)[...] += xp.tensordot(
                g, w[i, j], axes=([3], [1])
            )
    return dxpad


def correlate_backward_weights(xpad, g2d, kh, kw, oh, ow, strides, dilation, cols=None):
    """``dw[i, j] = Σ_nyx window_ij(xpad)ᵀ · g``, as (KH*KW*C, F); ``cols`` is ignored."""
    n, c, f = xpad.shape[0], xpad.shape[3], g2d.shape[1]
    g = g2d.reshape(n, oh, ow, f)
    dw = xp.empty((kh, kw, c, f), dtype=xp.result_type(xpad.dtype, g2d.dtype))
    for i in range(kh):
        for j in range(kw):
            patch = window(xpad, i, j, oh, ow, strides, dilation)
            dw[i, j] = xp.tensordot(patch, g, axes=([0, 1, 2], [0, 1, 2]))
    return dw.reshape(kh * kw * c, f)


# -- pooling (``plan``: a :class:`cnnkit.kernels.pool._Plan`) -------------------------------


def _pad(x, pads, value):
    top, bottom, left, right = pads
    if not any(pads):
        return x
    return xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _crop(gpad, in_shape, pads):
    if not any(pads):
        return gpad
    _, h, w, _ = in_shape
    top, _, left, _ = pads
    return xp.ascontiguousarray(gpad[:, top : top + h, left : left + w, :])


def window_offsets(plan):
    """Window offsets (i, j) in row-major order: the order that breaks max-pool ties."""
    return [(i, j) for i in range(plan.pool[0]) for j in range(plan.pool[1])]


def _pool_window(a, plan, i, j):
    return window(a, i, j, *plan.out_hw, plan.strides, (1, 1))


def max_pool2d(x, plan):
    """The maximum of each window, and what :func:`max_pool2d_backward` needs (the padded
    input). Padding is ``-inf``: it never wins."""
    xpad = _pad(x, plan.pads, -xp.inf)
    out = None
    for i, j in window_offsets(plan):
        patch = _pool_window(xpad, plan, i, j)
        out = patch.copy() if out is None else xp.maximum(out, patch)
    return out, xpad


def max_pool2d_backward(saved, out, grad, plan, in_shape):
    """Each window's gradient goes to its first maximum in row-major order (``saved``: the
    padded input)."""
    xpad = saved
    gpad = xp.zeros(xpad.shape, dtype=grad.dtype)
    route_to_first_max(
        lambda i, j: _pool_window(xpad, plan, i, j),
        lambda i, j: _pool_window(gpad, plan, i, j),
        out,
        grad,
        window_offsets(plan),
        overlapping=True,
    )
    return _crop(gpad, in_shape, plan.pads)


def route_to_first_max(x_window, g_window, out, grad, offsets, overlapping: bool) -> None:
    """Send ``grad`` to where ``x_window(i, j)`` holds its window's first maximum.

    Overlapping windows accumulate into ``g_window`` (zeroed by the caller); non-overlapping
    ones write each ``g_window(i, j)`` once (no zero fill needed), the last offset taking the
    windows whose maximum no earlier offset held.
    """
    offsets = list(offsets)
    remaining = xp.ones(out.shape, dtype=bool)  # (N, OH, OW, C): max not routed yet
    for k, (i, j) in enumerate(offsets):
        if k == len(offsets) - 1 and not overlapping:
            hit = remaining
        else:
            hit = x_window(i, j) == out
            hit &= remaining
            remaining ^= hit
        if overlapping:
            g_window(i, j)[...] += grad * hit
        else:
            xp.multiply(grad, hit, out=g_window(i, j))


def sum_pool2d(x, plan):
    """The sum of each window (zero padding): (N, OH, OW, C)."""
    xpad = _pad(x, plan.pads, 0)
    total = None
    for i, j in window_offsets(plan):
        patch = _pool_window(xpad, plan, i, j)
        total = patch.copy() if total is None else total + patch
    return total


def sum_pool2d_backward(grad, plan, in_shape):
    """The gradient of :func:`sum_pool2d`: every pixel of a window receives its ``grad``."""
    n, h, w, c = in_shape
    top, bottom, left, right = plan.pads
    gpad = xp.zeros((n, top + h + bottom, left + w + right, c), dtype=grad.dtype)
    for i, j in window_offsets(plan):
        _pool_window(gpad, plan, i, j)[...] += grad
    return _crop(gpad, in_shape, plan.pads)


# -- depthwise convolution (``kernel``: (KH, KW, C, M)) --------------------------------------


def depthwise_correlate(xpad, kernel, oh, ow, strides, dilation):
    """``out[..., c·M + m] = Σ_ij window_ij(xpad)[..., c] · kernel[i, j, c, m]``, as
    (N, OH, OW, C·M)."""
    kh, kw, c, m = kernel.shape
    out = 0
    for i in range(kh):
        for j in range(kw):
            patch = window(xpad, i, j, oh, ow, strides, dilation)  # (N, OH, OW, C)
            out = out + patch[..., None] * kernel[i, j]  # (N, OH, OW, C, M)
    return out.reshape(xpad.shape[0], oh, ow, c * m)


def depthwise_backward_data(g5, kernel, xpad_shape, oh, ow, strides, dilation):
    """``dxpad``: each offset's window receives ``Σ_m g[..., c, m] · kernel[i, j, c, m]``."""
    kh, kw = kernel.shape[:2]
    dxpad = xp.zeros(xpad_shape, dtype=g5.dtype)
    for i in range(kh):
        for j in range(kw):
            window(dxpad, i, j, oh, ow, strides, dilation)[...] += (g5 * kernel[i, j]).sum(-1)
    return dxpad


def depthwise_backward_weights(xpad, g5, kernel_shape, oh, ow, strides, dilation):
    """``dkernel[i, j] = Σ_{n, y, x} window_ij(xpad) · g``: (KH, KW, C, M)."""
    kh, kw = kernel_shape[:2]
    dkernel = xp.empty(kernel_shape, dtype=g5.dtype)
    for i in range(kh):
        for j in range(kw):
            patch = window(xpad, i, j, oh, ow, strides, dilation)
            dkernel[i, j] = (patch[..., None] * g5).sum(axis=(0, 1, 2))
    return dkernel


# -- global pooling: a loop over the H·W pixels ----------------------------------------------


def _pixels(shape):
    return [(i, j) for i in range(shape[1]) for j in range(shape[2])]


def global_max_pool2d(x):
    """The maximum over H and W, (N, C), and the input (for the backward pass)."""
    out = None
    for i, j in _pixels(x.shape):
        out = x[:, i, j, :].copy() if out is None else xp.maximum(out, x[:, i, j, :])
    return out, x


def global_max_pool2d_backward(saved, grad, in_shape):
    """The gradient (N, C) goes to each channel's first maximum in row-major order
    (``saved``: the input)."""
    x = saved
    out = global_max_pool2d(x)[0]
    gx = xp.zeros(in_shape, dtype=grad.dtype)
    remaining = xp.ones(out.shape, dtype=bool)  # (N, C): maximum not found yet
    for i, j in _pixels(in_shape):
        hit = (x[:, i, j, :] == out) & remaining
        remaining &= ~hit
        gx[:, i, j, :] = grad * hit
    return gx


def global_avg_pool2d(x):
    """The mean over H and W: the pixels added one by one, divided by H·W; (N, C)."""
    total = 0
    for i, j in _pixels(x.shape):
        total = total + x[:, i, j, :]
    return total / x.dtype.type(x.shape[1] * x.shape[2])


def global_avg_pool2d_backward(grad, in_shape):
    """Every pixel receives ``grad / (H·W)``: (N, H, W, C)."""
    gx = xp.empty(in_shape, dtype=grad.dtype)
    gx[...] = (grad / grad.dtype.type(in_shape[1] * in_shape[2]))[:, None, None, :]
    return gx


# -- batch normalisation (``x2d``: (M, C), the channels as columns) ---------------------------


def batch_norm_train(x2d, gamma, beta, epsilon, sum_across=None):
    """``(x - mean) / sqrt(var + epsilon) · gamma + beta`` with the columns' mean and biased
    variance: ``(out2d, mean, variance, saved, m)``, or ``None`` for an empty (global) batch."""
    m = x2d.shape[0]
    sums = x2d.sum(axis=0)
    if sum_across is not None:
        packed = sum_across(xp.concatenate([sums, xp.asarray([m], sums.dtype)]))
        sums, m = packed[:-1], int(round(float(packed[-1])))
    if m == 0:
        return None
    mean = sums / m
    xc = x2d - mean
    squares = (xc * xc).sum(axis=0)
    if sum_across is not None:
        squares = sum_across(squares)
    var = squares / m
    inv_std = 1 / xp.sqrt(var + x2d.dtype.type(epsilon))
    xhat = xc * inv_std
    out = xhat if gamma is None else xhat * gamma
    if beta is not None:
        out = out + beta
    return out, mean, var, (xhat, inv_std, gamma), m


def batch_norm_train_backward(g2d, saved, m, need_x, need_gamma, need_beta, sum_across=None):
    """``(dx2d, dgamma, dbeta)`` of :func:`batch_norm_train`, ``None`` where not needed::

    dbeta = Σ g,  dgamma = Σ g·xhat,  dx = gamma·inv_std·(g - Σg / M - xhat·Σ(g·xhat) / M)
    """
    xhat, inv_std, gamma = saved
    dbeta, dgamma = g2d.sum(axis=0), (g2d * xhat).sum(axis=0)
    dx = None
    if need_x:
        gsum, gxhat = dbeta, dgamma
        if sum_across is not None:
            packed = sum_across(xp.concatenate([dbeta, dgamma]))
            gsum, gxhat = packed[: dbeta.size], packed[dbeta.size :]
        k = inv_std if gamma is None else gamma * inv_std
        dx = k * (g2d - gsum / m - xhat * gxhat / m)
    return dx, (dgamma if need_gamma else None), (dbeta if need_beta else None)


def batch_norm_apply(x, scale, shift, axis):
    """``x * scale + shift`` with the (C,) ``scale`` and ``shift`` along ``axis``."""
    bshape = [1] * x.ndim
    bshape[axis] = -1
    return x * scale.reshape(bshape) + shift.reshape(bshape)
