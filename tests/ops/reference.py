"""Slow, obvious NumPy references for the ops (loops over output positions, textbook formulas).

They are written independently of ``cnnkit.ops`` (no shared helpers) so that a bug in an op is
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
