"""The NumPy kernels: cnnkit's default implementation of the kernel layer's primitives.

This module is the implementation object :func:`cnnkit.kernels.dispatch.ops` hands out: it
names its array module ``xp``, its chunking helper ``chunked``, its workspace budget
``conv_workspace_bytes`` and ``matmul`` (Dense's products, split over the threads), all from
:mod:`cnnkit.kernels.threads`, and the primitives below.

:mod:`cnnkit.kernels.conv` writes a convolution's forward and backward as maths over three
primitives, and :func:`cnnkit.kernels.dispatch.ops` says which module implements them: this
one, or :mod:`cnnkit.kernels.reference_ops` (single-threaded loops, for checking this one).
Every primitive takes the same *geometry* ``kh, kw, oh, ow, strides, dilation`` (kernel
size, output size, strides, dilations) and an already padded input::

    correlate(xpad, w2d, ...)                    out (N, OH, OW, F) = Σ_ij window_ij(xpad) @ w_ij
    correlate_backward_data(g2d, w2d, shape, ...) dxpad: each window_ij += g @ w_ijᵀ
    correlate_backward_weights(xpad, g2d, ...)   dw (KH*KW*C, F): w_ij = Σ window_ij(xpad)ᵀ @ g

with ``w2d`` the kernel as a ``(KH*KW*C, F)`` matrix and ``g2d`` the output gradient as
``(N*OH*OW, F)``. Here they are column matrices (*im2col*) and one matrix product per chunk
of samples; the backward data primitive scatters the column gradients back (*col2im*). The
chunks and the threads that share them come from :func:`chunked`: each
thread builds a chunk's columns and multiplies them at once, so the columns a core writes
are read by the same core while still in its cache.

Pooling (``max_pool2d``, ``sum_pool2d`` and their backward passes) has a fast path for
non-overlapping windows without padding (``plan.fast``): the image viewed as
``(N, OH, PH, OW, PW, C)`` blocks, reduced one window offset at a time (in NumPy ~4x faster
than ``max(axis=(2, 4))``), with max pooling's samples shared between the threads. Other
windows use the loops of :mod:`cnnkit.kernels.reference_ops`.

The depthwise convolution is one broadcast multiply-add per kernel offset, the global pools
one reduction over H and W, and batch normalisation's per-channel sums one BLAS product each
(:func:`cnnkit.autodiff.sum_rows`) over the input laid out as an (M, C) matrix.
"""

from __future__ import annotations

from cnnkit.autodiff import relu_, row_tile, rowwise, sum_rows
from cnnkit.kernels import reference_ops
from cnnkit.kernels.reference_ops import window
from cnnkit.kernels.threads import chunked, conv_workspace_bytes, xp
from cnnkit.kernels.threads import concurrently as concurrently  # independent products at once
from cnnkit.kernels.threads import matmul as matmul  # Dense's products, split over the threads

NAME = "numpy"


def strided_view(a, shape: tuple, strides: tuple, offset: int = 0):
    """A view of the C-contiguous array ``a`` with explicit byte ``strides`` and byte ``offset``.

    The caller guarantees the view stays inside ``a`` (convolution windows do).
    """
    return xp.ndarray(shape, dtype=a.dtype, buffer=a, offset=offset, strides=strides)


def im2col(xpad, kh, kw, oh, ow, strides, dilation, buffer=None):
    """Column matrix of receptive fields.

    Args:
        buffer: optional flat array to build the matrix in (reused across chunks).

    Returns:
        cols: (N * OH * OW, KH * KW * C), C-contiguous.
    """
    n, c = xpad.shape[0], xpad.shape[3]
    shape = (n, oh, ow, kh, kw * c)
    if buffer is None:
        cols = xp.empty(shape, dtype=xpad.dtype)
    else:
        cols = buffer[: n * oh * ow * kh * kw * c].reshape(shape)
    if dilation[1] == 1 and c > 1:
        # Every window at once: the KW neighbouring pixels of a kernel row are one run of
        # KW*C contiguous values, so all windows form a single strided view; one copy.
        sn, sh_, sw_, sc = xpad.strides
        cols[...] = strided_view(
            xpad,
            shape=shape,
            strides=(sn, strides[0] * sh_, strides[1] * sw_, dilation[0] * sh_, sc),
        )
    else:
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j * c : (j + 1) * c] = window(
                    xpad, i, j, oh, ow, strides, dilation
                )
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im(dcols, xpad_shape, kh, kw, oh, ow, strides, dilation):
    """Scatter-add column gradients back onto the padded input: the transpose of im2col.

    Windows overlap when the stride is smaller than the kernel. Kernel offsets
    are grouped into blocks of at most ``sh`` rows by ``sw`` columns: within a
    block no pixel is written twice, so each block is one strided add (4 adds
    instead of 9 for a 3×3 kernel with stride 2). When the kernel is at least as
    large as the stride, the first block covers the top-left ``sh·OH × sw·OW``
    pixels exactly once: it is copied there instead of added to zeros, and only
    the rest is zeroed (a quarter less time for 3×3 with stride 2).

    Args:
        dcols: (N * OH * OW, KH * KW * C)
    Returns:
        (N, HP, WP, C) gradient of the padded input.
    """
    n, _, _, c = xpad_shape
    sh, sw = strides
    tiles = dilation == (1, 1) and kh >= sh and kw >= sw
    dxpad = (xp.empty if tiles else xp.zeros)(xpad_shape, dtype=dcols.dtype)
    if dilation != (1, 1):
        dcols = dcols.reshape(n, oh, ow, kh, kw, c)
        for i in range(kh):
            for j in range(kw):
                window(dxpad, i, j, oh, ow, strides, dilation)[...] += dcols[:, :, :, i, j, :]
        return dxpad
    sn, sh_, sw_, sc = dxpad.strides
    dcols = dcols.reshape(n, oh, ow, kh, kw * c)
    for i0 in range(0, kh, sh):
        rows = min(sh, kh - i0)
        for j0 in range(0, kw, sw):
            cols = min(sw, kw - j0)
            # dxpad[n, sh*y + i0 + a, sw*x + j0 + b], a < rows, b < cols: (N, OH, rows, OW, cols*C)
            target = strided_view(
                dxpad,
                shape=(n, oh, rows, ow, cols * c),
                strides=(sn, sh * sh_, sh_, sw * sw_, sc),
                offset=i0 * sh_ + j0 * sw_,
            )
            block = dcols[:, :, :, i0 : i0 + rows, j0 * c : (j0 + cols) * c]
            if tiles and i0 == j0 == 0:
                target[...] = block.transpose(0, 1, 3, 2, 4)
                dxpad[:, sh * oh :] = 0  # the pixels no first-block window reaches
                dxpad[:, : sh * oh, sw * ow :] = 0
            else:
                target += block.transpose(0, 1, 3, 2, 4)
    return dxpad


def correlate(xpad, w2d, kh, kw, oh, ow, strides, dilation, keep_cols=False, bias=None, relu=False):
    """``im2col(xpad) @ w2d``, plus ``bias``, then ``max(., 0)`` if ``relu``.

    Each chunk's bias and ReLU are applied to its rows while they are still in the cache.

    Returns:
        out (N, OH, OW, F) and, when ``keep_cols`` and the whole column matrix fits the
        workspace budget, the column matrix (N*OH*OW, KH*KW*C) for the weight gradient;
        otherwise ``None``.
    """
    n, c, f = xpad.shape[0], xpad.shape[3], w2d.shape[1]
    per, k = oh * ow, kh * kw * c
    out = xp.empty((n, oh, ow, f), dtype=xp.result_type(xpad.dtype, w2d.dtype))
    out2d = out.reshape(n * per, f)
    # Chunks small enough that both the columns and the output rows stay in the cache
    # (the output is the larger one for few input channels, e.g. a first layer).
    bytes_per_sample = per * max(k, f) * xpad.dtype.itemsize
    whole = keep_cols and n * bytes_per_sample <= conv_workspace_bytes()
    cols_all = xp.empty((n * per, k), dtype=xpad.dtype) if whole else None
    bias = None if bias is None else row_tile(bias, per)  # made once, used on every chunk

    def body(n0, n1, scratch):
        buffer = (
            cols_all[n0 * per : n1 * per] if whole else scratch((n1 - n0) * per * k, xpad.dtype)
        )
        cols = im2col(xpad[n0:n1], kh, kw, oh, ow, strides, dilation, buffer.reshape(-1))
        rows = out2d[n0 * per : n1 * per]
        xp.matmul(cols, w2d, out=rows)  # cols: (chunk*OH*OW, KH*KW*C)
        if bias is not None:
            rowwise(xp.add, rows, bias, out=rows)
        if relu:
            relu_(rows)

    chunked(n, bytes_per_sample, 2 * n * per * k * f, body)
    return out, cols_all


def correlate_backward_data(g2d, w2d, xpad_shape, kh, kw, oh, ow, strides, dilation):
    """``col2im(g2d @ w2dᵀ)``: the gradient of the padded input, (N, HP, WP, C).

    Also the forward pass of a transposed convolution.
    """
    n = xpad_shape[0]
    per, k = oh * ow, w2d.shape[0]
    dtype = xp.result_type(g2d.dtype, w2d.dtype)
    dxpad = xp.empty(xpad_shape, dtype=dtype)

    def body(n0, n1, scratch):
        dcols = scratch(((n1 - n0) * per, k), dtype)
        xp.matmul(g2d[n0 * per : n1 * per], w2d.T, out=dcols)  # (chunk*OH*OW, KH*KW*C)
        dxpad[n0:n1] = col2im(dcols, (n1 - n0, *xpad_shape[1:]), kh, kw, oh, ow, strides, dilation)

    chunked(n, per * k * dtype.itemsize, 2 * n * per * k * g2d.shape[1], body)
    return dxpad


def correlate_backward_weights(xpad, g2d, kh, kw, oh, ow, strides, dilation, cols=None):
    """``Σ colsᵀ @ g2d`` over the batch: the kernel gradient as (KH*KW*C, F).

    ``cols`` is the forward pass's column matrix when it kept one; otherwise the columns
    are built again chunk by chunk, and the chunks' products added up in a fixed order.
    """
    if cols is not None:
        return cols.T @ g2d
    n, c = xpad.shape[0], xpad.shape[3]
    per, k = oh * ow, kh * kw * c

    def body(n0, n1, scratch):
        buffer = scratch((n1 - n0) * per * k, xpad.dtype)
        chunk_cols = im2col(xpad[n0:n1], kh, kw, oh, ow, strides, dilation, buffer)
        return chunk_cols.T @ g2d[n0 * per : n1 * per]

    flops = 2 * n * per * k * g2d.shape[1]
    return chunked(n, per * k * xpad.dtype.itemsize, flops, body, ordered_sum=True)


# -- pooling (``plan``: a :class:`cnnkit.kernels.pool._Plan`) -------------------------------

_MAX_POOL_COST = 16  # per input value and pass, in the units of threads_for: split from 1M


def _blocks(x, plan):
    """The fast path's (N, OH, PH, OW, PW, C) view of ``x`` (cropped to whole windows)."""
    (ph, pw), (oh, ow) = plan.pool, plan.out_hw
    n, _, _, c = x.shape
    return x[:, : oh * ph, : ow * pw, :].reshape(n, oh, ph, ow, pw, c)


def _unblock(blocks, in_shape, plan):
    """The fast path's inverse: (N, OH, PH, OW, PW, C) gradient back to (N, H, W, C)."""
    n, h, w, c = in_shape
    (ph, pw), (oh, ow) = plan.pool, plan.out_hw
    g = blocks.reshape(n, oh * ph, ow * pw, c)
    if g.shape == in_shape:
        return g
    out = xp.zeros(in_shape, dtype=blocks.dtype)  # the cropped remainder gets no gradient
    out[:, : oh * ph, : ow * pw, :] = g
    return out


def _reduce_blocks(blocks, plan, reduce):
    """Fold ``reduce`` over the window offsets of the fast path's blocks: (N, OH, OW, C)."""
    offsets = reference_ops.window_offsets(plan)
    acc = blocks[:, :, offsets[0][0], :, offsets[0][1], :].copy()
    for i, j in offsets[1:]:
        reduce(acc, blocks[:, :, i, :, j, :], out=acc)
    return acc


def max_pool2d(x, plan):
    """The maximum of each window and what :func:`max_pool2d_backward` needs."""
    if not plan.fast:
        return reference_ops.max_pool2d(x, plan)
    blocks = _blocks(x, plan)  # (N, OH, PH, OW, PW, C)
    out = xp.empty((x.shape[0], *plan.out_hw, x.shape[3]), dtype=x.dtype)

    def rows(a, b, _):  # samples a..b-1, on one thread
        out[a:b] = _reduce_blocks(blocks[a:b], plan, xp.maximum)

    chunked(x.shape[0], 0, x.size * _MAX_POOL_COST, rows)
    return out, blocks


def max_pool2d_backward(saved, out, grad, plan, in_shape):
    """Each window's gradient goes to its first maximum in row-major order."""
    if not plan.fast:
        return reference_ops.max_pool2d_backward(saved, out, grad, plan, in_shape)
    blocks = saved
    gblocks = xp.empty(blocks.shape, dtype=grad.dtype)  # (N, OH, PH, OW, PW, C)

    def rows(a, b, _):  # samples a..b-1, on one thread
        reference_ops.route_to_first_max(
            lambda i, j: blocks[a:b, :, i, :, j, :],
            lambda i, j: gblocks[a:b, :, i, :, j, :],
            out[a:b],
            grad[a:b],
            reference_ops.window_offsets(plan),
            overlapping=False,
        )

    chunked(len(blocks), 0, blocks.size * 4 * _MAX_POOL_COST, rows)
    return _unblock(gblocks, in_shape, plan)


def sum_pool2d(x, plan):
    """The sum of each window (zero padding): (N, OH, OW, C)."""
    if not plan.fast:
        return reference_ops.sum_pool2d(x, plan)
    return _reduce_blocks(_blocks(x, plan), plan, xp.add)


def sum_pool2d_backward(grad, plan, in_shape):
    """The gradient of :func:`sum_pool2d`: every pixel of a window receives its ``grad``."""
    if not plan.fast:
        return reference_ops.sum_pool2d_backward(grad, plan, in_shape)
    (ph, pw), (n, oh, ow, c) = plan.pool, grad.shape
    gblocks = xp.empty((n, oh, ph, ow, pw, c), dtype=grad.dtype)
    gblocks[...] = grad[:, :, None, :, None, :]
    return _unblock(gblocks, in_shape, plan)


# -- depthwise convolution (``kernel``: (KH, KW, C, M)) --------------------------------------


def depthwise_correlate(xpad, kernel, oh, ow, strides, dilation):
    """``out[..., c·M + m] = Σ_ij window_ij(xpad)[..., c] · kernel[i, j, c, m]``: (N, OH, OW, C·M).

    One broadcast multiply-add per kernel offset over strided windows (no column matrix: each
    output reads only ``KH·KW`` values of its channel), a chunk of samples at a time so that
    the ``2·KH·KW`` passes over a chunk's output stay in the cache.
    """
    kh, kw, c, m = kernel.shape
    n = xpad.shape[0]
    dtype = xp.result_type(xpad.dtype, kernel.dtype)
    out = xp.empty((n, oh, ow, c, m), dtype=dtype)
    per_sample = oh * ow * c * m * dtype.itemsize

    def body(n0, n1, scratch):
        acc, term = out[n0:n1], scratch((n1 - n0, oh, ow, c, m), dtype)
        for i in range(kh):
            for j in range(kw):
                patch = window(xpad[n0:n1], i, j, oh, ow, strides, dilation)  # (n, OH, OW, C)
                if i == j == 0:
                    xp.multiply(patch[..., None], kernel[i, j], out=acc)
                    continue
                xp.multiply(patch[..., None], kernel[i, j], out=term)  # (n, OH, OW, C, M)
                acc += term

    chunked(n, per_sample, 2 * n * oh * ow * c * m * kh * kw, body)
    return out.reshape(n, oh, ow, c * m)


def depthwise_backward_data(g5, kernel, xpad_shape, oh, ow, strides, dilation):
    """``dxpad``: each offset's window receives ``Σ_m g[..., c, m] · kernel[i, j, c, m]``.

    ``g5`` is the output gradient as (N, OH, OW, C, M); returns (N, HP, WP, C). Chunks of
    samples, as :func:`depthwise_correlate`.
    """
    kh, kw, c, m = kernel.shape
    n = xpad_shape[0]
    dxpad = xp.zeros(xpad_shape, dtype=g5.dtype)
    per_sample = oh * ow * c * g5.dtype.itemsize

    def body(n0, n1, scratch):
        target, g = dxpad[n0:n1], g5[n0:n1]
        term = scratch((n1 - n0, oh, ow, c), g5.dtype)
        for i in range(kh):
            for j in range(kw):
                if m == 1:
                    xp.multiply(g[..., 0], kernel[i, j, :, 0], out=term)
                else:
                    xp.einsum("nyxcm,cm->nyxc", g, kernel[i, j], out=term)
                window(target, i, j, oh, ow, strides, dilation)[...] += term

    chunked(n, per_sample, 2 * n * oh * ow * c * m * kh * kw, body)
    return dxpad


def depthwise_backward_weights(xpad, g5, kernel_shape, oh, ow, strides, dilation):
    """``dkernel[i, j] = Σ_{n, y, x} window_ij(xpad) · g``: (KH, KW, C, M), the chunks of
    samples (as :func:`depthwise_correlate`) added in a fixed order."""
    kh, kw, c, m = kernel_shape
    n = xpad.shape[0]
    per_sample = oh * ow * c * m * g5.dtype.itemsize

    def body(n0, n1, scratch):
        rows = (n1 - n0) * oh * ow
        term = scratch((n1 - n0, oh, ow, c, m), g5.dtype)
        ones = xp.ones(rows, dtype=g5.dtype)
        part = xp.empty(kernel_shape, dtype=g5.dtype)
        for i in range(kh):
            for j in range(kw):
                patch = window(xpad[n0:n1], i, j, oh, ow, strides, dilation)
                xp.multiply(patch[..., None], g5[n0:n1], out=term)
                part[i, j] = (ones @ term.reshape(rows, c * m)).reshape(c, m)  # Σ over pixels
        return part

    return chunked(n, per_sample, 2 * n * oh * ow * c * m * kh * kw, body, ordered_sum=True)


# -- global pooling -------------------------------------------------------------------------


def global_max_pool2d(x):
    """The maximum over H and W, (N, C), and what :func:`global_max_pool2d_backward` needs
    (the index of each channel's first maximum)."""
    n, h, w, c = x.shape
    flat = x.reshape(n, h * w, c)
    idx = flat.argmax(axis=1)[:, None, :]  # (N, 1, C): first maximum
    return xp.take_along_axis(flat, idx, axis=1).reshape(n, c), idx


def global_max_pool2d_backward(saved, grad, in_shape):
    """The gradient (N, C) goes to each channel's first maximum: (N, H, W, C)."""
    n, h, w, c = in_shape
    gflat = xp.zeros((n, h * w, c), dtype=grad.dtype)
    xp.put_along_axis(gflat, saved, grad.reshape(n, 1, c), axis=1)
    return gflat.reshape(in_shape)


def global_avg_pool2d(x):
    """The mean over H and W: (N, C)."""
    return x.mean(axis=(1, 2))


def global_avg_pool2d_backward(grad, in_shape):
    """Every pixel receives ``grad / (H·W)``: a read-only broadcast view (N, H, W, C)."""
    n, h, w, c = in_shape
    g = grad.reshape(n, 1, 1, c) / grad.dtype.type(h * w)
    return xp.broadcast_to(g, in_shape)


# -- batch normalisation (``x2d``: (M, C), the channels as columns) ---------------------------


def batch_norm_train(x2d, gamma, beta, epsilon, sum_across=None):
    """Normalise ``x2d`` with its columns' mean and biased variance, then scale and shift.

    Per-channel sums are one BLAS product each (:func:`cnnkit.autodiff.sum_rows`); the
    centred input is kept for the backward pass and the squares are computed in the output's
    memory. ``sum_across`` sums 1-D arrays over the processes (synchronized batch norm).

    Returns:
        ``(out2d, mean, variance, saved, m)`` with ``m`` the (global) row count, or ``None``
        when that count is zero.
    """
    m = x2d.shape[0]
    dtype = x2d.dtype.type
    sums = sum_rows(x2d)  # (C,)
    if sum_across is not None:  # the global batch: sums and row counts of all processes
        packed = sum_across(xp.concatenate([sums, xp.asarray([m], sums.dtype)]))
        sums, m = packed[:-1], int(round(float(packed[-1])))
    if m == 0:
        return None
    mean = sums * dtype(1.0 / m)  # (C,)
    xc = rowwise(xp.subtract, x2d, mean)  # (M, C) centred; xhat = xc * inv_std not stored
    out = xp.multiply(xc, xc)  # (M, C) squares now, the output below
    squares = sum_rows(out)  # (C,)
    if sum_across is not None:
        squares = sum_across(squares)
    var = squares * dtype(1.0 / m)  # (C,) mean((x - mean)^2), never E[x^2] - mean^2
    inv_std = 1.0 / xp.sqrt(var + dtype(epsilon))  # (C,)
    k = inv_std if gamma is None else gamma * inv_std  # (C,) gamma * inv_std
    rowwise(xp.multiply, xc, k, out=out)  # gamma * xhat
    if beta is not None:
        rowwise(xp.add, out, beta, out=out)
    return out, mean, var, (xc, inv_std, k), m


def batch_norm_train_backward(g2d, saved, m, need_x, need_gamma, need_beta, sum_across=None):
    """The gradients of :func:`batch_norm_train`: ``(dx2d, dgamma, dbeta)``, each ``None``
    where not needed, with the fused formula of :mod:`cnnkit.kernels.norm`."""
    xc, inv_std, k = saved
    dtype = g2d.dtype.type
    dbeta = sum_rows(g2d) if (need_x or need_beta) else None  # (C,) sum(grad)
    dgamma = work = None
    if need_x or need_gamma:
        work = xp.multiply(g2d, xc)  # (M, C) grad * xc
        dgamma = sum_rows(work) * inv_std  # (C,) sum(grad * xhat)
    if not need_x:
        return None, dgamma, dbeta
    gsum, gxhat = dbeta, dgamma  # (C,) sums over the batch (the global one if synced)
    if sum_across is not None:
        packed = sum_across(xp.concatenate([dbeta, dgamma]))
        gsum, gxhat = packed[: dbeta.size], packed[dbeta.size :]
    # dx = k * (grad - gsum / M - xhat * gxhat / M), in place in `work`
    rowwise(xp.multiply, xc, inv_std * gxhat * dtype(1.0 / m), out=work)
    xp.subtract(g2d, work, out=work)
    rowwise(xp.subtract, work, gsum * dtype(1.0 / m), out=work)
    rowwise(xp.multiply, work, k, out=work)
    return work, dgamma, dbeta


def batch_norm_apply(x, scale, shift, axis):
    """``x * scale + shift`` with the (C,) ``scale`` and ``shift`` along ``axis``: one multiply
    and one add over ``x`` (row-wise on a C-contiguous channels-last array)."""
    if axis == x.ndim - 1 and x.flags.c_contiguous:
        x2d = x.reshape(-1, x.shape[-1])
        out = rowwise(xp.multiply, x2d, scale)  # the one multiply
        rowwise(xp.add, out, shift, out=out)  # the one add
        return out.reshape(x.shape)
    bshape = [1] * x.ndim
    bshape[axis] = -1  # broadcast (C,) along `axis`
    out = x * scale.reshape(bshape)
    out += shift.reshape(bshape)
    return out
