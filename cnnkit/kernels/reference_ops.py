"""The reference kernels: the simplest correct implementation of every dispatched primitive.

``cnnkit.backend.set_kernels("reference")`` (or ``dispatch.use_kernels("reference")``)
runs the convolutions and poolings with these functions instead of
:mod:`cnnkit.kernels.numpy_ops`. They have the same signatures and must give the same
values and gradients; ``tests/kernels/test_reference_kernels.py`` runs the whole op table
on both. Everything here is single-threaded, works on the whole batch at once (no chunks,
no workspace) and uses only sliced views (no ``as_strided``, no column matrices): one loop
over the kernel's ``KH·KW`` offsets, each a tensor contraction over whole arrays. Slow,
and short enough to read as the definition::

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

from cnnkit.backend import xp

NAME = "reference"


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


def max_pool2d_backward(xpad, out, grad, plan, in_shape):
    """Each window's gradient goes to its first maximum in row-major order."""
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
