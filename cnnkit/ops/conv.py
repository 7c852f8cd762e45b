"""2-D convolution (cross-correlation, as in every deep-learning library) in NHWC.

The forward pass copies the receptive fields of the (padded) input into a
column matrix (*im2col*) and does one matrix product with the kernel; the
backward pass does the two transposed products and scatters the column
gradients back onto the input (*col2im*), one strided slice per kernel offset.

Shapes::

    x      (N, H, W, C)          input, channels last
    kernel (KH, KW, C, F)        Keras layout
    bias   (F,)
    out    (N, OH, OW, F)

Output size along one axis, with the effective kernel ``K' = (K - 1) * d + 1``
for dilation ``d`` and stride ``s``:

* ``valid``: ``OH = floor((H - K') / s) + 1``, no padding;
* ``same``:  ``OH = ceil(H / s)``, TensorFlow's padding: ``max((OH - 1) * s + K' - H, 0)``
  zeros in total, the smaller half before and the larger half after (so even
  kernels pad one more row at the bottom);
* ``full``:  ``K' - 1`` zeros on each side (the lecture's full mode),
  ``OH = floor((H + K' - 2) / s) + 1``;
* ``causal`` (1-D only, used by Conv1D): ``K' - 1`` zeros before.

The column matrix of a large batch is built in chunks of samples so that it
never exceeds :func:`cnnkit.backend.conv_workspace_bytes`.
"""

from __future__ import annotations

import math

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor, rowwise, sum_rows
from cnnkit.backend import xp

PADDINGS = ("valid", "same", "full", "causal")


def conv_output_length(
    size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1
) -> int | None:
    """Output length of a convolution or pooling along one axis (``None`` stays ``None``)."""
    if size is None:
        return None
    return _pads(size, kernel, stride, padding, dilation)[0]


def _pads(size: int, kernel: int, stride: int, padding: str, dilation: int = 1):
    """``(out, pad_before, pad_after)`` for one spatial axis."""
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        before = after = 0
    elif padding == "same":
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + eff - size, 0)
        before, after = total // 2, total - total // 2
    elif padding == "full":
        before = after = eff - 1
    elif padding == "causal":
        before, after = eff - 1, 0
    else:
        raise ValueError(f"Unknown padding {padding!r}. Expected one of {PADDINGS}.")
    out = (size + before + after - eff) // stride + 1
    return max(out, 0), before, after


def pad_nhwc(x, pads, value=0.0):
    """Pad the two spatial axes of an NHWC array: ``pads = ((top, bottom), (left, right))``."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return xp.ascontiguousarray(x)
    n, h, w, c = x.shape
    out = xp.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    out[:, top : top + h, left : left + w, :] = x
    return out


def _window(xpad, i, j, oh, ow, strides, dilation):
    """The input values that kernel offset (i, j) meets: (N, OH, OW, C), a strided view."""
    sh, sw = strides
    dh, dw = dilation
    r0, c0 = i * dh, j * dw
    return xpad[:, r0 : r0 + sh * (oh - 1) + 1 : sh, c0 : c0 + sw * (ow - 1) + 1 : sw, :]


def _row_blocks(a, i, j0, width, oh, ow, strides, dilation):
    """Kernel row ``i``, kernel columns ``j0 .. j0+width-1`` of every window: (N, OH, OW, width*C).

    In NHWC the ``width`` neighbouring pixels of a row are one contiguous run of
    ``width * C`` values, so with no column dilation this is a single strided view
    of the C-contiguous array ``a``.
    """
    sn, sh_, sw_, sc = a.strides
    return backend.strided_view(
        a,
        shape=(a.shape[0], oh, ow, width * a.shape[3]),
        strides=(sn, strides[0] * sh_, strides[1] * sw_, sc),
        offset=i * dilation[0] * sh_ + j0 * sw_,
    )


def im2col(xpad, kh, kw, oh, ow, strides, dilation):
    """Column matrix of receptive fields.

    Returns:
        cols: (N * OH * OW, KH * KW * C), C-contiguous.
    """
    n, c = xpad.shape[0], xpad.shape[3]
    cols = xp.empty((n, oh, ow, kh, kw * c), dtype=xpad.dtype)
    for i in range(kh):
        if dilation[1] == 1 and c > 1:  # one copy per kernel row: runs of KW*C values
            cols[:, :, :, i, :] = _row_blocks(xpad, i, 0, kw, oh, ow, strides, dilation)
        else:
            for j in range(kw):
                cols[:, :, :, i, j * c : (j + 1) * c] = _window(
                    xpad, i, j, oh, ow, strides, dilation
                )
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im(dcols, xpad_shape, kh, kw, oh, ow, strides, dilation):
    """Scatter-add column gradients back onto the padded input: the transpose of im2col.

    Windows overlap when the stride is smaller than the kernel. Kernel offsets
    are grouped into blocks of at most ``sh`` rows by ``sw`` columns: within a
    block no pixel is written twice, so each block is one strided add (4 adds
    instead of 9 for a 3×3 kernel with stride 2).

    Args:
        dcols: (N * OH * OW, KH * KW * C)
    Returns:
        (N, HP, WP, C) gradient of the padded input.
    """
    n, _, _, c = xpad_shape
    dxpad = xp.zeros(xpad_shape, dtype=dcols.dtype)
    if dilation != (1, 1):
        dcols = dcols.reshape(n, oh, ow, kh, kw, c)
        for i in range(kh):
            for j in range(kw):
                _window(dxpad, i, j, oh, ow, strides, dilation)[...] += dcols[:, :, :, i, j, :]
        return dxpad
    sh, sw = strides
    sn, sh_, sw_, sc = dxpad.strides
    dcols = dcols.reshape(n, oh, ow, kh, kw * c)
    for i0 in range(0, kh, sh):
        rows = min(sh, kh - i0)
        for j0 in range(0, kw, sw):
            cols = min(sw, kw - j0)
            # dxpad[n, sh*y + i0 + a, sw*x + j0 + b], a < rows, b < cols: (N, OH, rows, OW, cols*C)
            target = backend.strided_view(
                dxpad,
                shape=(n, oh, rows, ow, cols * c),
                strides=(sn, sh * sh_, sh_, sw * sw_, sc),
                offset=i0 * sh_ + j0 * sw_,
            )
            block = dcols[:, :, :, i0 : i0 + rows, j0 * c : (j0 + cols) * c]
            target += block.transpose(0, 1, 3, 2, 4)
    return dxpad


def _correlate(xpad, w2d, kh, kw, oh, ow, strides, dilation, keep_cols=False):
    """``im2col(xpad) @ w2d`` in chunks of samples under the workspace budget.

    Returns:
        out (N, OH, OW, F) and, when ``keep_cols`` and one chunk sufficed, the column matrix.
    """
    n, c, f = xpad.shape[0], xpad.shape[3], w2d.shape[1]
    out = xp.empty((n, oh, ow, f), dtype=xp.result_type(xpad.dtype, w2d.dtype))
    out2d = out.reshape(n * oh * ow, f)
    chunks = _chunks(n, oh * ow * kh * kw * c * xpad.dtype.itemsize)
    cols = None
    for n0, n1 in chunks:
        cols = im2col(xpad[n0:n1], kh, kw, oh, ow, strides, dilation)  # (chunk*OH*OW, KH*KW*C)
        xp.matmul(cols, w2d, out=out2d[n0 * oh * ow : n1 * oh * ow])
    return out, (cols if keep_cols and len(chunks) == 1 else None)


class Conv2D(Function):
    """``out = correlate(x, kernel) + bias``; see the module docstring for shapes and sizes.

    Backward: ``dkernel = colsᵀ @ g`` and ``dbias = Σ g``. For the input, a
    stride-1 convolution's gradient is itself a correlation — of the gradient,
    zero-padded by ``K' - 1 - pad``, with the flipped, transposed kernel — done with
    im2col and one product; strided convolutions use ``g @ kernelᵀ`` and col2im.
    """

    def forward(
        self, x, kernel, bias=None, *, strides=(1, 1), padding="valid", dilation=(1, 1), relu=False
    ):
        n, h, w, c = x.shape
        kh, kw, kc, f = kernel.shape
        if kc != c:
            raise ValueError(
                f"Convolution kernel expects {kc} input channels, but the input has {c}. "
                f"Received: input shape={x.shape}, kernel shape={kernel.shape}"
            )
        oh, top, bottom = _pads(h, kh, strides[0], padding, dilation[0])
        ow, left, right = _pads(w, kw, strides[1], padding, dilation[1])
        xpad = pad_nhwc(x, ((top, bottom), (left, right)))
        w2d = kernel.reshape(kh * kw * c, f)  # (KH*KW*C, F)
        geom = (kh, kw, oh, ow, strides, dilation)
        out, cols = _correlate(xpad, w2d, *geom, keep_cols=self.needs_grad[1])
        out2d = out.reshape(-1, f)
        if bias is not None:
            rowwise(xp.add, out2d, bias, out=out2d)
        if relu:  # fused activation, in place on the fresh product
            xp.maximum(out, out.dtype.type(0), out=out)
        self.relu_out = out if relu else None
        self.geom = geom
        self.pads = (top, bottom, left, right, h, w)
        self.save_for_backward(xpad, kernel, cols)
        return out

    def backward(self, grad):
        xpad, kernel, cols = self.saved
        kh, kw, oh, ow, strides, dilation = self.geom
        n, f = grad.shape[0], grad.shape[3]
        if self.relu_out is not None:
            grad = grad * (self.relu_out > 0)
        grad = xp.ascontiguousarray(grad)
        g2d = grad.reshape(n * oh * ow, f)  # (N*OH*OW, F)
        grads = (
            self._input_grad(grad, kernel) if self.needs_grad[0] else None,
            self._kernel_grad(g2d, xpad, cols).reshape(kernel.shape)
            if self.needs_grad[1]
            else None,
        )
        if len(self.parents) == 3:
            grads += (sum_rows(g2d) if self.needs_grad[2] else None,)
        return grads

    def _kernel_grad(self, g2d, xpad, cols):
        if cols is not None:
            return cols.T @ g2d  # (KH*KW*C, F)
        kh, kw, oh, ow, strides, dilation = self.geom
        per = oh * ow
        n, c = xpad.shape[0], xpad.shape[3]
        dk = xp.zeros((kh * kw * c, g2d.shape[1]), dtype=g2d.dtype)
        for n0, n1 in _chunks(n, per * kh * kw * c * xpad.dtype.itemsize):
            chunk_cols = im2col(xpad[n0:n1], *self.geom)
            dk += chunk_cols.T @ g2d[n0 * per : n1 * per]
        return dk

    def _input_grad(self, grad, kernel):
        kh, kw, oh, ow, strides, dilation = self.geom
        top, bottom, left, right, h, w = self.pads
        n, c, f = grad.shape[0], kernel.shape[2], kernel.shape[3]
        if strides == (1, 1):
            eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
            gpad = pad_nhwc(
                grad, ((eh - 1 - top, eh - 1 - bottom), (ew - 1 - left, ew - 1 - right))
            )
            flipped = xp.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
            dx, _ = _correlate(
                gpad, flipped.reshape(kh * kw * f, c), kh, kw, h, w, strides, dilation
            )
            return dx
        w2d = kernel.reshape(kh * kw * c, f)
        g2d = grad.reshape(n * oh * ow, f)
        per = oh * ow
        hp, wp = h + top + bottom, w + left + right
        dxpad = xp.empty((n, hp, wp, c), dtype=grad.dtype)
        for n0, n1 in _chunks(n, per * kh * kw * c * grad.dtype.itemsize):
            dcols = g2d[n0 * per : n1 * per] @ w2d.T  # (chunk*OH*OW, KH*KW*C)
            dxpad[n0:n1] = col2im(dcols, (n1 - n0, hp, wp, c), *self.geom)
        return dxpad[:, top : top + h, left : left + w, :]


def _chunks(n: int, bytes_per_sample: int) -> list[tuple[int, int]]:
    """Split a batch of ``n`` samples so each chunk's column matrix fits the workspace budget."""
    per_chunk = max(1, backend.conv_workspace_bytes() // max(bytes_per_sample, 1))
    return [(i, min(i + per_chunk, n)) for i in range(0, n, per_chunk)] or [(0, 0)]


def conv2d(
    x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1), relu=False
) -> Tensor:
    """2-D cross-correlation of an NHWC batch with a ``(KH, KW, C, F)`` kernel, plus bias.

    Args:
        x: Tensor (N, H, W, C).
        kernel: Tensor (KH, KW, C, F).
        bias: optional Tensor (F,), added to every pixel of each feature map.
        strides: (sh, sw).
        padding: ``"valid"``, ``"same"`` or ``"full"``.
        dilation_rate: (dh, dw).
        relu: fuse ``max(., 0)`` into the op (one pass and one array less).

    Returns:
        Tensor (N, OH, OW, F); sizes as in the module docstring.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 5, 5, 1), "float32"); k = np.ones((3, 3, 1, 2), "float32")
        >>> conv2d(x, k).shape
        (1, 3, 3, 2)
    """
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return Conv2D.apply(
        *inputs,
        strides=tuple(strides),
        padding=padding,
        dilation=tuple(dilation_rate),
        relu=relu,
    )
