"""Slow, obvious NumPy references for the ops (loops over output positions, textbook formulas).

They are written independently of ``cnnkit.kernels`` (no shared helpers) so that a bug in an op is
not repeated in its reference.
"""

from __future__ import annotations

import math

import numpy as np


def pool_geometry(size: int, pool: int, stride: int, padding: str) -> tuple[int, int]:
    """(output length, padding before) under TensorFlow's rules."""
    if padding == "valid":
        return (size - pool) // stride + 1, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + pool - size, 0)
    return out, total // 2


def _windows(x, pool, strides, padding):
    """Yield (oh, ow, rows, cols) with the real (unpadded) rows/cols of each window."""
    _, h, w, _ = x.shape
    oh, top = pool_geometry(h, pool[0], strides[0], padding)
    ow, left = pool_geometry(w, pool[1], strides[1], padding)
    for i in range(oh):
        r0 = i * strides[0] - top
        rows = range(max(r0, 0), min(r0 + pool[0], h))
        for j in range(ow):
            c0 = j * strides[1] - left
            cols = range(max(c0, 0), min(c0 + pool[1], w))
            yield i, j, rows, cols, (oh, ow)


def pool2d(x, pool, strides, padding, kind):
    """Max or average pooling, NHWC; "same" averages only over real pixels (TensorFlow)."""
    n, h, w, c = x.shape
    out = None
    for i, j, rows, cols, (oh, ow) in _windows(x, pool, strides, padding):
        if out is None:
            out = np.zeros((n, oh, ow, c), dtype=x.dtype)
        window = x[:, rows.start : rows.stop, cols.start : cols.stop, :]
        out[:, i, j, :] = window.max(axis=(1, 2)) if kind == "max" else window.mean(axis=(1, 2))
    return out


def pool2d_grad(x, grad, pool, strides, padding, kind):
    """Input gradient of :func:`pool2d`; max routes to the first maximum (row-major)."""
    n, h, w, c = x.shape
    gx = np.zeros_like(x)
    for i, j, rows, cols, _ in _windows(x, pool, strides, padding):
        window = x[:, rows.start : rows.stop, cols.start : cols.stop, :]
        kh, kw = window.shape[1:3]
        if kind == "avg":
            gx[:, rows.start : rows.stop, cols.start : cols.stop, :] += grad[
                :, i, j, None, None, :
            ] / (kh * kw)
            continue
        flat = window.reshape(n, kh * kw, c)
        first = flat.argmax(axis=1)  # (n, c): first occurrence
        for b in range(n):
            for ch in range(c):
                r, s = divmod(int(first[b, ch]), kw)
                gx[b, rows.start + r, cols.start + s, ch] += grad[b, i, j, ch]
    return gx


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def conv2d(x, kernel, bias, strides, padding, dilation):
    """Cross-correlation by its definition, one output pixel at a time (NHWC, (KH, KW, C, F)).

    ``out[n, i, j, f] = sum_{di, dj, c} xpad[n, i*s + di*d, j*s + dj*d, c] * kernel[di, dj, c, f]``
    with TensorFlow's ``same`` padding and the lecture's ``full`` padding (K' - 1 each side).
    """
    n, h, w, c = x.shape
    kh, kw, _, f = kernel.shape
    pads = []
    for size, k, s, d in zip((h, w), (kh, kw), strides, dilation):
        eff = (k - 1) * d + 1
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "full":
            pads.append((eff - 1, eff - 1))
        else:
            out = math.ceil(size / s)
            total = max((out - 1) * s + eff - size, 0)
            pads.append((total // 2, total - total // 2))
    xpad = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    hp, wp = xpad.shape[1:3]
    oh = (hp - ((kh - 1) * dilation[0] + 1)) // strides[0] + 1
    ow = (wp - ((kw - 1) * dilation[1] + 1)) // strides[1] + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            rows = i * strides[0] + np.arange(kh) * dilation[0]
            cols = j * strides[1] + np.arange(kw) * dilation[1]
            patch = xpad[:, rows][:, :, cols]  # (N, KH, KW, C)
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out if bias is None else out + bias


def _same_pads(size, kernel, stride, dilation):
    eff = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def depthwise_conv2d(x, kernel, bias, strides, padding, dilation):
    """Depthwise correlation by its definition, one output pixel at a time.

    ``out[n, i, j, c*M + m] = sum_{di, dj} xpad[n, i*s + di*d, j*s + dj*d, c] * k[di, dj, c, m]``
    """
    n, h, w, c = x.shape
    kh, kw, _, m = kernel.shape
    if padding == "valid":
        pads = [(0, 0), (0, 0)]
    elif padding == "full":
        pads = [((k - 1) * d,) * 2 for k, d in zip((kh, kw), dilation)]
    else:
        pads = [_same_pads(s, k, st, d) for s, k, st, d in zip((h, w), (kh, kw), strides, dilation)]
    xpad = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    hp, wp = xpad.shape[1:3]
    oh = (hp - ((kh - 1) * dilation[0] + 1)) // strides[0] + 1
    ow = (wp - ((kw - 1) * dilation[1] + 1)) // strides[1] + 1
    out = np.zeros((n, oh, ow, c * m))
    for i in range(oh):
        for j in range(ow):
            rows = i * strides[0] + np.arange(kh) * dilation[0]
            cols = j * strides[1] + np.arange(kw) * dilation[1]
            patch = xpad[:, rows][:, :, cols]  # (N, KH, KW, C)
            for ch in range(c):
                for mm in range(m):
                    out[:, i, j, ch * m + mm] = np.sum(
                        patch[:, :, :, ch] * kernel[:, :, ch, mm], axis=(1, 2)
                    )
    return out if bias is None else out + bias


def conv_transpose_pads(kernel, stride, padding, output_padding, dilation):
    """Keras 3's (JAX backend's) padding of the stride-dilated input: (left, right)."""
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(eff, stride) - eff if output_padding is None else output_padding
        return eff - 1, eff - 1 + extra
    if output_padding is None:
        total = stride + eff - 2
    else:
        total = eff + eff % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, eff - 1)
    return left, total - left


def conv2d_transpose(x, kernel, bias, strides, padding, output_padding, dilation):
    """Transposed convolution as Keras's JAX backend defines it, one output pixel at a time.

    Insert ``s - 1`` zeros between input pixels, pad with Keras's ``(left, right)``, then
    correlate (stride 1, dilation ``d``) with the spatially flipped kernel, whose layout
    ``(KH, KW, F, C)`` reads "from C channels to F".
    """
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    output_padding = output_padding or (None, None)
    pads = [
        conv_transpose_pads(k, s, padding, p, d)
        for k, s, p, d in zip((kh, kw), strides, output_padding, dilation)
    ]
    dilated = np.zeros((n, (h - 1) * strides[0] + 1, (w - 1) * strides[1] + 1, c))
    dilated[:, :: strides[0], :: strides[1], :] = x
    xpad = np.pad(dilated, ((0, 0), pads[0], pads[1], (0, 0)))
    flipped = kernel[::-1, ::-1]  # (KH, KW, F, C)
    effh, effw = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    oh, ow = xpad.shape[1] - effh + 1, xpad.shape[2] - effw + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = xpad[:, i + np.arange(kh) * dilation[0]][:, :, j + np.arange(kw) * dilation[1]]
            out[:, i, j, :] = np.tensordot(patch, flipped, axes=([1, 2, 3], [0, 1, 3]))
    return out if bias is None else out + bias


def resize(x, size, method):
    """TensorFlow's half-pixel resize (``antialias=False``), one output pixel at a time.

    Coordinates are computed in float32, as TensorFlow's kernels do.
    """
    n, h, w, c = x.shape
    oh, ow = size
    sh, sw = np.float32(h) / np.float32(oh), np.float32(w) / np.float32(ow)
    half = np.float32(0.5)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            if method == "nearest":
                r = min(int(np.floor((np.float32(i) + half) * sh)), h - 1)
                q = min(int(np.floor((np.float32(j) + half) * sw)), w - 1)
                out[:, i, j, :] = x[:, r, q, :]
                continue
            y = (np.float32(i) + half) * sh - half
            z = (np.float32(j) + half) * sw - half
            y0, z0 = int(np.floor(y)), int(np.floor(z))
            ty, tz = float(y - np.floor(y)), float(z - np.floor(z))
            r0, r1 = max(y0, 0), min(int(np.ceil(y)), h - 1)
            q0, q1 = max(z0, 0), min(int(np.ceil(z)), w - 1)
            top = x[:, r0, q0] + (x[:, r0, q1] - x[:, r0, q0]) * tz
            bottom = x[:, r1, q0] + (x[:, r1, q1] - x[:, r1, q0]) * tz
            out[:, i, j, :] = top + (bottom - top) * ty
    return out
