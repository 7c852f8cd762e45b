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
never exceeds :func:`cnnkit.backend.conv_workspace_bytes`. The chunks are shared
between the CPU threads (:func:`cnnkit.backend.parallel_map`): each thread builds
its chunks' columns and multiplies them with a single-threaded matrix product, so
the columns a core writes are read by the same core while still in its cache. A thread
takes the next chunk whenever it is free (:func:`_shared`), except for the kernel
gradient's sum, whose shares are fixed so that it adds up in the same order every run.
"""

from __future__ import annotations

import math

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor, relu_, row_tile, rowwise, sum_rows
from cnnkit.backend import xp
from cnnkit.kernels import dispatch

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
        cols[...] = backend.strided_view(
            xpad,
            shape=shape,
            strides=(sn, strides[0] * sh_, strides[1] * sw_, dilation[0] * sh_, sc),
        )
    else:
        for i in range(kh):
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
                _window(dxpad, i, j, oh, ow, strides, dilation)[...] += dcols[:, :, :, i, j, :]
        return dxpad
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
            if tiles and i0 == j0 == 0:
                target[...] = block.transpose(0, 1, 3, 2, 4)
                dxpad[:, sh * oh :] = 0  # the pixels no first-block window reaches
                dxpad[:, : sh * oh, sw * ow :] = 0
            else:
                target += block.transpose(0, 1, 3, 2, 4)
    return dxpad


def _correlate(
    xpad, w2d, kh, kw, oh, ow, strides, dilation, keep_cols=False, bias=None, relu=False
):
    """``im2col(xpad) @ w2d`` in chunks of samples under the workspace budget.

    The chunks are shared between the CPU threads (:func:`_split`); each thread builds a
    chunk's columns and multiplies them right away, then adds the bias and applies the
    ReLU to the chunk's rows while they are still in its cache.

    Returns:
        out (N, OH, OW, F) and, when ``keep_cols`` and the whole column matrix fits the
        budget, the column matrix (N*OH*OW, KH*KW*C); otherwise ``None``.
    """
    n, c, f = xpad.shape[0], xpad.shape[3], w2d.shape[1]
    per, k = oh * ow, kh * kw * c
    out = xp.empty((n, oh, ow, f), dtype=xp.result_type(xpad.dtype, w2d.dtype))
    out2d = out.reshape(n * per, f)
    # Chunks small enough that both the columns and the output rows stay in the cache
    # (the output is the larger one for few input channels, e.g. a first layer).
    bytes_per_sample = per * max(k, f) * xpad.dtype.itemsize
    whole = keep_cols and n * bytes_per_sample <= backend.conv_workspace_bytes()
    cols_all = xp.empty((n * per, k), dtype=xpad.dtype) if whole else None
    bias = None if bias is None else row_tile(bias, per)  # made once, used on every chunk

    queues, largest = _shared(_split(n, bytes_per_sample, 2 * n * per * k * f))

    def work(queue):
        buffer = None if whole else xp.empty(largest * per * k, dtype=xpad.dtype)  # reused
        for n0, n1 in queue:
            if whole:
                buffer = cols_all[n0 * per : n1 * per].reshape(-1)  # kept for the kernel grad
            cols = im2col(xpad[n0:n1], kh, kw, oh, ow, strides, dilation, buffer)
            rows = out2d[n0 * per : n1 * per]
            xp.matmul(cols, w2d, out=rows)  # cols: (chunk*OH*OW, KH*KW*C)
            if bias is not None:
                rowwise(xp.add, rows, bias, out=rows)
            if relu:
                relu_(rows)

    backend.parallel_map(work, queues)
    return out, cols_all


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
        geom = (kh, kw, oh, ow, strides, dilation)
        self.geom = geom
        self.pads = (top, bottom, left, right, h, w)
        self.fast = dispatch.fast("conv2d")
        if self.fast is not None:  # oneDNN, when it has a fast kernel for this shape
            done = self.fast.forward(
                x, kernel, bias, oh, ow, strides, dilation, (top, bottom, left, right),
                training=any(self.needs_grad),
            )  # fmt: skip
            if done is not None:
                out, self.fast_key = done
                if relu:
                    relu_(out)  # NumPy's max keeps NaN (oneDNN's fused ReLU would not)
                self.relu_out = out if relu else None
                self.save_for_backward(x, kernel, None)
                dispatch.record("conv2d", "onednn")
                return out
            self.fast = None
        dispatch.record("conv2d", "numpy")
        xpad = pad_nhwc(x, ((top, bottom), (left, right)))
        w2d = kernel.reshape(kh * kw * c, f)  # (KH*KW*C, F)
        # bias and ReLU fused into the product, chunk by chunk
        out, cols = _correlate(xpad, w2d, *geom, keep_cols=self.needs_grad[1], bias=bias, relu=relu)
        self.relu_out = out if relu else None
        self.save_for_backward(xpad, kernel, cols)
        return out

    def backward(self, grad):
        xpad, kernel, cols = self.saved
        kh, kw, oh, ow, strides, dilation = self.geom
        n, f = grad.shape[0], grad.shape[3]
        if self.relu_out is not None:
            grad = grad * (self.relu_out > 0)
        grad = xp.ascontiguousarray(grad)
        if self.fast is not None:
            done = self._fast_backward(grad, xpad, kernel)  # `xpad` is the unpadded x here
            if done is not None:
                return done
            top, bottom, left, right = self.pads[:4]
            xpad = pad_nhwc(xpad, ((top, bottom), (left, right)))
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

    def _fast_backward(self, grad, x, kernel):
        """oneDNN's backward-data and backward-weights (bias gradient included), or ``None``
        if oneDNN declined either, and then the NumPy backward runs."""
        dx = dkernel = dbias = None
        if self.needs_grad[0]:
            dx = self.fast.backward_data(self.fast_key, grad, kernel)
            if dx is None:
                return None
        if any(self.needs_grad[1:]):
            found = self.fast.backward_weights(self.fast_key, x, grad)
            if found is None:
                return None
            dkernel, dbias = found
            if dbias is None and len(self.parents) == 3:  # planned without a bias
                dbias = sum_rows(grad.reshape(-1, grad.shape[3]))
        grads = (dx, dkernel if self.needs_grad[1] else None)
        if len(self.parents) == 3:
            grads += (dbias if self.needs_grad[2] else None,)
        return grads

    def _kernel_grad(self, g2d, xpad, cols):
        if cols is not None:
            return cols.T @ g2d  # (KH*KW*C, F)
        kh, kw, oh, ow, strides, dilation = self.geom
        per = oh * ow
        n, k = xpad.shape[0], kh * kw * xpad.shape[3]

        def work(chunks):  # this thread's share of Σ colsᵀ @ g
            dk = xp.zeros((k, g2d.shape[1]), dtype=g2d.dtype)
            buffer = _chunk_buffer(chunks, per * k, xpad.dtype)  # one, reused
            for n0, n1 in chunks:
                chunk_cols = im2col(xpad[n0:n1], *self.geom, buffer=buffer)
                dk += chunk_cols.T @ g2d[n0 * per : n1 * per]
            return dk

        split = _split(n, per * k * xpad.dtype.itemsize, 2 * n * per * k * g2d.shape[1])
        return _sum_in_order(backend.parallel_map(work, split))

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

        flops = 2 * n * per * kh * kw * c * f
        queues, largest = _shared(_split(n, per * kh * kw * c * grad.dtype.itemsize, flops))

        def work(queue):
            buffer = xp.empty(largest * per * kh * kw * c, dtype=grad.dtype)  # one, reused
            for n0, n1 in queue:
                g = g2d[n0 * per : n1 * per]
                dcols = buffer[: g.shape[0] * kh * kw * c].reshape(g.shape[0], kh * kw * c)
                xp.matmul(g, w2d.T, out=dcols)  # (chunk*OH*OW, KH*KW*C)
                dxpad[n0:n1] = col2im(dcols, (n1 - n0, hp, wp, c), *self.geom)

        backend.parallel_map(work, queues)
        return dxpad[:, top : top + h, left : left + w, :]


def _chunk_buffer(chunks, values_per_sample: int, dtype):
    """One flat work array big enough for the largest of ``chunks``' column matrices."""
    largest = max(n1 - n0 for n0, n1 in chunks)
    return xp.empty(largest * values_per_sample, dtype=dtype)


def _split(n: int, bytes_per_sample: int, flops: int) -> list[list[tuple[int, int]]]:
    """Chunks of a batch of ``n`` samples, dealt out to the CPU threads.

    ``flops`` (the products' work) decides how many threads are worth waking
    (:func:`cnnkit.backend.threads_for`). The workspace budget is shared by the threads:
    each chunk's column matrix takes at most ``budget / threads`` bytes (at least one
    sample). Chunks are of near-equal size and their number is a multiple of the thread
    count where the batch allows, so the threads finish together. Returns one list of
    ``(start, stop)`` per thread, in a fixed order (sums over chunks are the same from run
    to run).
    """
    if n == 0:
        return [[(0, 0)]]
    threads = min(backend.threads_for(flops), n)
    per_chunk = max(1, backend.conv_workspace_bytes() // threads // max(bytes_per_sample, 1))
    count = min(n, threads * -(-n // (threads * per_chunk)))
    bounds = [n * i // count for i in range(count + 1)]
    chunks = list(zip(bounds[:-1], bounds[1:]))
    # Thread t's share is a contiguous run of chunks (sums add up in that order); work
    # without a sum takes the chunks from one queue instead (_shared).
    cuts = [count * t // threads for t in range(threads + 1)]
    return [chunks[cuts[t] : cuts[t + 1]] for t in range(threads)]


def _shared(split):
    """``_split``'s chunks as one queue that every thread takes from, and the largest chunk.

    For work whose chunks write separate rows: a thread takes the next chunk whenever it is
    free, so one that starts late (a woken thread starts 20-90 µs after the caller) or runs
    slower does less, instead of keeping the others waiting. Which thread computes a chunk
    changes nothing in its result. Sums over chunks (kernel gradients) keep ``_split``'s
    fixed shares instead, so that they add up in the same order every run.
    """
    chunks = [chunk for share in split for chunk in share]
    queue = iter(chunks)  # a list iterator hands out each item once, under the GIL
    return [queue] * len(split), max(n1 - n0 for n0, n1 in chunks)


def _sum_in_order(parts):
    """``parts[0] + parts[1] + ...``, accumulated in place into the first."""
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


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


# ---------------------------------------------------------------------------
# Depthwise convolution: one kernel (or `depth_multiplier` kernels) per input channel.
# ---------------------------------------------------------------------------


class DepthwiseConv2D(Function):
    """Each input channel correlated with its own ``M`` kernels, never mixed with the others.

    Shapes: ``x (N, H, W, C)``, ``kernel (KH, KW, C, M)``, ``bias (C·M,)``, ``out (N, OH, OW,
    C·M)`` with output channel ``c·M + m`` (TensorFlow's order) and sizes as :class:`Conv2D`::

        out[n, y, x, c·M + m] = Σ_{i, j} xpad[n, y·sh + i·dh, x·sw + j·dw, c] · kernel[i, j, c, m]

    One broadcast multiply-add per kernel offset over strided windows of the padded input
    (no column matrix: each output reads only ``KH·KW`` values per channel). Backward, per
    offset: ``dxpad[window] += Σ_m g · kernel[i, j]`` and ``dkernel[i, j] = Σ_{n,y,x} window · g``.
    """

    def forward(self, x, kernel, bias=None, *, strides=(1, 1), padding="valid", dilation=(1, 1)):
        n, h, w, c = x.shape
        kh, kw, kc, m = kernel.shape
        if kc != c:
            raise ValueError(
                f"Depthwise kernel expects {kc} input channels, but the input has {c}. "
                f"Received: input shape={x.shape}, kernel shape={kernel.shape}"
            )
        oh, top, bottom = _pads(h, kh, strides[0], padding, dilation[0])
        ow, left, right = _pads(w, kw, strides[1], padding, dilation[1])
        xpad = pad_nhwc(x, ((top, bottom), (left, right)))
        dtype = xp.result_type(x.dtype, kernel.dtype)
        out = xp.zeros((n, oh, ow, c, m), dtype=dtype)
        term = xp.empty_like(out)
        for i in range(kh):
            for j in range(kw):
                window = _window(xpad, i, j, oh, ow, strides, dilation)  # (N, OH, OW, C)
                xp.multiply(window[..., None], kernel[i, j], out=term)  # (N, OH, OW, C, M)
                out += term
        out = out.reshape(n, oh, ow, c * m)
        if bias is not None:
            rowwise(xp.add, out.reshape(-1, c * m), bias, out=out.reshape(-1, c * m))
        self.geom = (kh, kw, oh, ow, strides, dilation)
        self.crop = (top, left, h, w)
        self.save_for_backward(xpad, kernel)
        return out

    def backward(self, grad):
        xpad, kernel = self.saved
        kh, kw, oh, ow, strides, dilation = self.geom
        top, left, h, w = self.crop
        n, c, m = grad.shape[0], kernel.shape[2], kernel.shape[3]
        g5 = grad.reshape(n, oh, ow, c, m)
        dxpad = xp.zeros(xpad.shape, dtype=grad.dtype) if self.needs_grad[0] else None
        dkernel = xp.empty(kernel.shape, dtype=grad.dtype) if self.needs_grad[1] else None
        for i in range(kh):
            for j in range(kw):
                if dxpad is not None:  # Σ_m g[..., c, m] · kernel[i, j, c, m]: (N, OH, OW, C)
                    _window(dxpad, i, j, oh, ow, strides, dilation)[...] += xp.einsum(
                        "nyxcm,cm->nyxc", g5, kernel[i, j]
                    )
                if dkernel is not None:  # Σ_{n, y, x} window · g: (C, M)
                    window = _window(xpad, i, j, oh, ow, strides, dilation)
                    dkernel[i, j] = xp.einsum("nyxc,nyxcm->cm", window, g5)
        dx = None
        if dxpad is not None:
            dx = xp.ascontiguousarray(dxpad[:, top : top + h, left : left + w, :])
        grads = (dx, dkernel)
        if len(self.parents) == 3:
            grads += (sum_rows(grad) if self.needs_grad[2] else None,)
        return grads


def depthwise_conv2d(
    x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1)
) -> Tensor:
    """Depthwise 2-D correlation of NHWC ``x`` with a ``(KH, KW, C, M)`` kernel, plus bias.

    Args:
        x: Tensor (N, H, W, C).
        kernel: Tensor (KH, KW, C, M); ``M`` is the depth multiplier.
        bias: optional Tensor (C·M,).
        strides, padding, dilation_rate: as :func:`conv2d`.

    Returns:
        Tensor (N, OH, OW, C·M); output channel ``c·M + m`` comes from input channel ``c``.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 5, 5, 3), "float32"); k = np.ones((3, 3, 3, 2), "float32")
        >>> depthwise_conv2d(x, k).shape
        (1, 3, 3, 6)
    """
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return DepthwiseConv2D.apply(
        *inputs, strides=tuple(strides), padding=padding, dilation=tuple(dilation_rate)
    )


def separable_conv2d(
    x,
    depthwise_kernel,
    pointwise_kernel,
    bias=None,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
) -> Tensor:
    """Depthwise then pointwise (1×1) convolution, as Keras's ``ops.separable_conv``.

    Args:
        x: Tensor (N, H, W, C).
        depthwise_kernel: Tensor (KH, KW, C, M).
        pointwise_kernel: Tensor (1, 1, C·M, F).
        bias: optional Tensor (F,), added after the pointwise step.
        strides, padding, dilation_rate: of the depthwise step (the pointwise one is 1×1,
            stride 1).

    Returns:
        Tensor (N, OH, OW, F).
    """
    mid = depthwise_conv2d(x, depthwise_kernel, None, strides, padding, dilation_rate)
    return conv2d(mid, pointwise_kernel, bias)


# ---------------------------------------------------------------------------
# Transposed convolution: the input gradient of Conv2D, run forward.
# ---------------------------------------------------------------------------

TRANSPOSE_PADDINGS = ("valid", "same")


def _transpose_pads(
    size: int,
    kernel: int,
    stride: int,
    padding: str,
    output_padding: int | None = None,
    dilation: int = 1,
):
    """``(out, crop, canvas)`` of one axis of a transposed convolution.

    The *canvas* is the input of the Conv2D whose input gradient this is: every input pixel
    ``y`` spreads ``x[y] · kernel[i]`` onto canvas rows ``y·s + i·d``. Keras keeps the rows
    ``crop .. crop + out - 1`` of it (rows past the canvas' natural end ``(size-1)·s + K'``
    are zeros); Keras's JAX formulation pads the stride-dilated input with ``left = K' - 1 -
    crop`` and ``right`` zeros::

        valid:  left = K' - 1,  right = K' - 1 + output_padding
                (output_padding defaults to max(K', s) - K')
        same:   total = s + K' - 2                     (output_padding None)
                      = K' + K' % 2 - 2 + output_padding   (otherwise)
                left = min(ceil(total / 2), K' - 1),  right = total - left
        out = (size - 1)·s + left + right - K' + 2
    """
    eff = (kernel - 1) * dilation + 1
    if padding == "valid":
        if output_padding is None:
            output_padding = max(eff, stride) - eff
        left, right = eff - 1, eff - 1 + output_padding
    elif padding == "same":
        if output_padding is None:
            total = stride + eff - 2
        else:
            total = eff + eff % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, eff - 1)
        right = total - left
    else:
        raise ValueError(
            f"Unknown padding {padding!r} for a transposed convolution. "
            f"Expected one of {TRANSPOSE_PADDINGS}."
        )
    out = (size - 1) * stride + left + right - eff + 2
    crop = eff - 1 - left
    canvas = max((size - 1) * stride + eff, crop + out)
    return out, crop, canvas


def conv_transpose_output_length(
    size: int | None,
    kernel: int,
    stride: int,
    padding: str,
    output_padding: int | None = None,
    dilation: int = 1,
) -> int | None:
    """Output length of a transposed convolution along one axis (Keras's formula).

    ``valid``: ``(size - 1)·s + K' + output_padding``, with ``output_padding`` defaulting to
    ``max(K', s) - K'``; ``same``: ``size·s``, or ``(size - 1)·s + K' % 2 + output_padding``
    when it is given; ``K' = (K - 1)·d + 1``. ``None`` stays ``None``.
    """
    if size is None:
        return None
    return _transpose_pads(size, kernel, stride, padding, output_padding, dilation)[0]


class Conv2DTranspose(Function):
    """Transposed convolution ("deconvolution"): ``Conv2D``'s input gradient as a forward op.

    Shapes: ``x (N, H, W, C)``, ``kernel (KH, KW, F, C)`` (Keras's layout: the kernel of a
    Conv2D from F to C channels), ``bias (F,)``, ``out (N, OH, OW, F)`` with the sizes of
    :func:`conv_transpose_output_length`.

    Forward: ``cols = x @ kernelᵀ`` (one row of ``KH·KW·F`` values per input pixel), then
    col2im scatters each row onto the canvas at ``(y·sh, x·sw)``; the output is a window of
    the canvas (:func:`_transpose_pads`), plus bias. Backward is a Conv2D forward: the
    gradient, placed back on the canvas, is im2col'ed; ``dx = cols @ kernel`` and
    ``dkernel = colsᵀ @ x``.
    """

    def forward(
        self,
        x,
        kernel,
        bias=None,
        *,
        strides=(1, 1),
        padding="valid",
        output_padding=(None, None),
        dilation=(1, 1),
    ):
        n, h, w, c = x.shape
        kh, kw, f, kc = kernel.shape
        if kc != c:
            raise ValueError(
                f"Transposed convolution kernel expects {kc} input channels, but the input "
                f"has {c}. Received: input shape={x.shape}, kernel shape={kernel.shape}"
            )
        oh, top, hc = _transpose_pads(h, kh, strides[0], padding, output_padding[0], dilation[0])
        ow, left, wc = _transpose_pads(w, kw, strides[1], padding, output_padding[1], dilation[1])
        geom = (kh, kw, h, w, strides, dilation)  # the geometry of the Conv2D it transposes
        w2d = kernel.reshape(kh * kw * f, c)  # (KH*KW*F, C)
        x2d = x.reshape(n * h * w, c)
        dtype = xp.result_type(x.dtype, kernel.dtype)
        canvas = xp.empty((n, hc, wc, f), dtype=dtype)
        per = h * w

        flops = 2 * n * per * kh * kw * f * c
        queues, largest = _shared(_split(n, per * kh * kw * f * canvas.dtype.itemsize, flops))

        def work(queue):
            buffer = xp.empty(largest * per * kh * kw * f, dtype=dtype)  # one, reused
            for n0, n1 in queue:
                rows = x2d[n0 * per : n1 * per]
                cols = buffer[: rows.shape[0] * kh * kw * f].reshape(rows.shape[0], kh * kw * f)
                xp.matmul(rows, w2d.T, out=cols)  # (chunk*H*W, KH*KW*F)
                canvas[n0:n1] = col2im(cols, (n1 - n0, hc, wc, f), *geom)

        backend.parallel_map(work, queues)
        out = xp.ascontiguousarray(canvas[:, top : top + oh, left : left + ow, :])
        if bias is not None:
            rowwise(xp.add, out.reshape(-1, f), bias, out=out.reshape(-1, f))
        self.geom = geom
        self.window = ((top, hc - top - oh), (left, wc - left - ow))
        self.save_for_backward(x2d, w2d, kernel.shape)
        return out

    def backward(self, grad):
        x2d, w2d, kshape = self.saved
        kh, kw, h, w, strides, dilation = self.geom
        n, f = grad.shape[0], grad.shape[3]
        gcanvas = pad_nhwc(grad, self.window)  # (N, HC, WC, F), C-contiguous
        dx = cols = None
        if self.needs_grad[0]:
            dx, cols = _correlate(gcanvas, w2d, *self.geom, keep_cols=self.needs_grad[1])
        dkernel = None
        if self.needs_grad[1]:
            if cols is not None:
                dkernel = cols.T @ x2d  # (KH*KW*F, C)
            else:
                per = h * w

                def work(chunks):  # this thread's share of Σ colsᵀ @ x
                    dk = xp.zeros(w2d.shape, dtype=grad.dtype)
                    buffer = _chunk_buffer(chunks, per * kh * kw * f, grad.dtype)  # reused
                    for n0, n1 in chunks:
                        chunk_cols = im2col(gcanvas[n0:n1], *self.geom, buffer=buffer)
                        dk += chunk_cols.T @ x2d[n0 * per : n1 * per]
                    return dk

                flops = 2 * n * per * kh * kw * f * x2d.shape[1]
                split = _split(n, per * kh * kw * f * grad.dtype.itemsize, flops)
                dkernel = _sum_in_order(backend.parallel_map(work, split))
            dkernel = dkernel.reshape(kshape)
        grads = (dx, dkernel)
        if len(self.parents) == 3:
            grads += (sum_rows(grad) if self.needs_grad[2] else None,)
        return grads


def conv2d_transpose(
    x,
    kernel,
    bias=None,
    strides=(1, 1),
    padding="valid",
    output_padding=None,
    dilation_rate=(1, 1),
) -> Tensor:
    """Transposed 2-D convolution of NHWC ``x`` with a ``(KH, KW, F, C)`` kernel, plus bias.

    Args:
        x: Tensor (N, H, W, C).
        kernel: Tensor (KH, KW, F, C), Keras's Conv2DTranspose layout.
        bias: optional Tensor (F,).
        strides: (sh, sw).
        padding: ``"valid"`` or ``"same"``.
        output_padding: ``None`` or (ph, pw), extra rows/columns at the bottom/right
            (each smaller than its stride).
        dilation_rate: (dh, dw).

    Returns:
        Tensor (N, OH, OW, F), sizes as :func:`conv_transpose_output_length`.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 4, 4, 3), "float32"); k = np.ones((3, 3, 2, 3), "float32")
        >>> conv2d_transpose(x, k, strides=(2, 2), padding="same").shape
        (1, 8, 8, 2)
    """
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return Conv2DTranspose.apply(
        *inputs,
        strides=tuple(strides),
        padding=padding,
        output_padding=(None, None) if output_padding is None else tuple(output_padding),
        dilation=tuple(dilation_rate),
    )
