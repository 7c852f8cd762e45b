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

The Functions below are the maths; the kernels they call (a correlation, its input and
kernel gradients) come from :func:`cnnkit.kernels.dispatch.ops`: the NumPy kernels of
:mod:`cnnkit.kernels.numpy_ops` (column matrices, chunks of samples, the CPU threads) by
default, or the single-threaded loops of :mod:`cnnkit.kernels.reference_ops`.
"""

from __future__ import annotations

import math
import time

from cnnkit.autodiff import Function, Tensor, relu_, rowwise, sum_rows
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
        self.ops, fast = dispatch.ops(), dispatch.fast("conv2d")
        self.fast, self.race = None, None
        if fast is not None:  # oneDNN where it is faster for this shape
            out = self._fast_forward(fast, x, kernel, bias, padding, relu)
            if out is not None:
                return out
        start = time.perf_counter()
        dispatch.record("conv2d", self.ops.NAME)
        xpad = pad_nhwc(x, ((top, bottom), (left, right)))
        w2d = kernel.reshape(kh * kw * c, f)  # (KH*KW*C, F)
        # bias and ReLU fused into the product, chunk by chunk
        out, cols = self.ops.correlate(
            xpad, w2d, *geom, keep_cols=self.needs_grad[1], bias=bias, relu=relu
        )
        self.relu_out = out if relu else None
        self.save_for_backward(xpad, kernel, cols)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=not any(self.needs_grad))
        return out

    def _fast_forward(self, fast, x, kernel, bias, padding, relu):
        """The forward pass by oneDNN, or ``None`` when NumPy runs it (the race of
        :func:`cnnkit.kernels.dispatch.choose` picked NumPy for the shape, or oneDNN has no
        fast kernel for it)."""
        kh, kw, oh, ow, strides, dilation = self.geom
        start = time.perf_counter()
        out = _raced_forward(
            self, "conv2d", fast, x, kernel, bias, padding, (oh, ow, strides, dilation),
            self.pads[:4],
        )  # fmt: skip
        if out is None:
            return None
        training = any(self.needs_grad)
        if relu:
            relu_(out)  # NumPy's max keeps NaN (oneDNN's fused ReLU would not)
        self.relu_out = out if relu else None
        self.save_for_backward(x, kernel, None)
        dispatch.record("conv2d", "onednn")
        self.race.add(time.perf_counter() - start, done=not training)
        return out

    def backward(self, grad):
        start = time.perf_counter()
        grads = self._backward(grad)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=True)
        return grads

    def _backward(self, grad):
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

        def kernel_grad():  # Σ colsᵀ @ g: (KH*KW*C, F)
            dkernel = self.ops.correlate_backward_weights(xpad, g2d, *self.geom, cols=cols)
            return dkernel.reshape(kernel.shape)

        # Side by side only when the kernel gradient has the forward pass's columns: one
        # that rebuilds them needs a workspace of its own (then each runs split by itself).
        flops = 2 * g2d.size * kernel.size // f if cols is not None else 0  # each product's
        dx, dkernel = self.ops.concurrently(
            (
                (lambda: self._input_grad(grad, kernel)) if self.needs_grad[0] else None,
                kernel_grad if self.needs_grad[1] else None,
            ),
            (flops, flops),
        )
        grads = (dx, dkernel)
        if len(self.parents) == 3:
            grads += (sum_rows(g2d) if self.needs_grad[2] else None,)
        return grads

    def _fast_backward(self, grad, x, kernel):
        """oneDNN's backward-data and backward-weights (bias gradient included), or ``None``
        if oneDNN declined either, and then the NumPy backward runs."""
        dx = dkernel = dbias = None
        if self.needs_grad[0]:
            dx = self.fast.backward_data(self.fast_key, grad, kernel, self.threads)
            if dx is None:
                return None
        if any(self.needs_grad[1:]):
            found = self.fast.backward_weights(self.fast_key, x, grad, self.threads)
            if found is None:
                return None
            dkernel, dbias = found
            if dbias is None and len(self.parents) == 3:  # planned without a bias
                dbias = sum_rows(grad.reshape(-1, grad.shape[3]))
        grads = (dx, dkernel if self.needs_grad[1] else None)
        if len(self.parents) == 3:
            grads += (dbias if self.needs_grad[2] else None,)
        return grads

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
            dx, _ = self.ops.correlate(
                gpad, flipped.reshape(kh * kw * f, c), kh, kw, h, w, strides, dilation
            )
            return dx
        hp, wp = h + top + bottom, w + left + right
        dxpad = self.ops.correlate_backward_data(
            grad.reshape(n * oh * ow, f), kernel.reshape(kh * kw * c, f), (n, hp, wp, c), *self.geom
        )
        return dxpad[:, top : top + h, left : left + w, :]


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

    The correlation and its two gradients come from :func:`cnnkit.kernels.dispatch.ops`
    (``depthwise_correlate``, ``depthwise_backward_data``, ``depthwise_backward_weights``).
    Backward, per offset: ``dxpad[window] += Σ_m g · kernel[i, j]`` and
    ``dkernel[i, j] = Σ_{n,y,x} window · g``. oneDNN, where :func:`cnnkit.kernels.dispatch.fast`
    offers it and has a fast kernel for the shape, runs it as a convolution of ``C`` groups:
    the kernel seen as ``(KH, KW, 1, C·M)`` is Keras's grouped layout (3×3 on 32×56×56×32,
    forward and backward: 24 ms against NumPy's 281; on 32×14×14×128, 3.2 against 67).
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
        self.geom = (oh, ow, strides, dilation)
        self.crop, self.pads = (top, left, h, w), ((top, bottom), (left, right))
        self.ops, self.fast, self.race = dispatch.ops(), None, None
        fast = dispatch.fast("depthwise_conv2d")
        if fast is not None:  # oneDNN where it is faster for this shape
            out = self._fast_forward(fast, x, kernel, bias, padding)
            if out is not None:
                return out
        start = time.perf_counter()
        xpad = pad_nhwc(x, self.pads)
        dispatch.record("depthwise_conv2d", self.ops.NAME)
        out = self.ops.depthwise_correlate(xpad, kernel, oh, ow, strides, dilation)
        if bias is not None:
            rowwise(xp.add, out.reshape(-1, c * m), bias, out=out.reshape(-1, c * m))
        self.save_for_backward(xpad, kernel)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=not any(self.needs_grad))
        return out

    def backward(self, grad):
        start = time.perf_counter()
        xpad, kernel = self.saved
        grads = None
        if self.fast is not None:  # oneDNN ran the forward pass: `xpad` is the unpadded x
            grads = self._fast_backward(xp.ascontiguousarray(grad), xpad, _grouped(kernel))
            if grads is None:  # oneDNN declined a backward pass: NumPy runs both
                xpad = pad_nhwc(xpad, self.pads)
            elif grads[1] is not None:
                grads = (grads[0], grads[1].reshape(kernel.shape), *grads[2:])
        if grads is None:
            grads = self._numpy_backward(grad, xpad, kernel)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=True)
        return grads

    def _numpy_backward(self, grad, xpad, kernel):
        top, left, h, w = self.crop
        n, c, m = grad.shape[0], kernel.shape[2], kernel.shape[3]
        g5 = grad.reshape(n, *self.geom[:2], c, m)
        dx = dkernel = None
        if self.needs_grad[0]:  # Σ_m g[..., c, m] · kernel[i, j, c, m] into each window
            dxpad = self.ops.depthwise_backward_data(g5, kernel, xpad.shape, *self.geom)
            dx = xp.ascontiguousarray(dxpad[:, top : top + h, left : left + w, :])
        if self.needs_grad[1]:  # Σ_{n, y, x} window · g: (C, M) per offset
            dkernel = self.ops.depthwise_backward_weights(xpad, g5, kernel.shape, *self.geom)
        grads = (dx, dkernel)
        if len(self.parents) == 3:
            grads += (sum_rows(grad) if self.needs_grad[2] else None,)
        return grads

    def _fast_forward(self, fast, x, kernel, bias, padding):
        """oneDNN's forward pass, or ``None`` when NumPy runs it (as :class:`Conv2D`'s)."""
        start = time.perf_counter()
        out = _raced_forward(
            self, "depthwise_conv2d", fast, x, kernel, bias, padding, self.geom,
            (*self.pads[0], *self.pads[1]), onednn_kernel=_grouped(kernel),
        )  # fmt: skip
        if out is None:
            return None
        training = any(self.needs_grad)
        self.save_for_backward(x, kernel)
        dispatch.record("depthwise_conv2d", "onednn")
        self.race.add(time.perf_counter() - start, done=not training)
        return out

    _fast_backward = Conv2D._fast_backward  # oneDNN's backward-data and backward-weights


def _raced_forward(fn, op, fast, x, kernel, bias, padding, geometry, pads, onednn_kernel=None):
    """oneDNN's forward pass of the convolution Function ``fn`` (``op`` in the races), or
    ``None`` when NumPy runs it: the race of :func:`cnnkit.kernels.dispatch.choose` picked
    NumPy for the shape, or oneDNN has no fast kernel for it. Sets ``fn.race``,
    ``fn.threads``, ``fn.fast`` and ``fn.fast_key``. ``onednn_kernel`` is the kernel in the
    layout oneDNN gets, where it is not ``kernel``'s."""
    oh, ow, strides, dilation = geometry
    training = any(fn.needs_grad)
    key = (
        x.shape,
        kernel.shape,
        strides,
        dilation,
        padding,
        bias is not None,
        training,
        x.dtype.str,
    )
    fn.race = dispatch.Race(op, key)
    if not fn.race.fast:
        return None
    fn.threads = fn.race.threads
    done = fast.forward(
        x, kernel if onednn_kernel is None else onednn_kernel, bias, oh, ow, strides, dilation,
        pads, training=training, threads=fn.threads,
    )  # fmt: skip
    if done is None:  # no fast kernel for this shape
        fn.race.decline()
        return None
    out, fn.fast_key = done
    fn.fast = fast
    return out


def _grouped(kernel):
    """A depthwise kernel (KH, KW, C, M) as the grouped convolution's (KH, KW, 1, C·M)."""
    kh, kw, c, m = kernel.shape
    return kernel.reshape(kh, kw, 1, c * m)


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
    ``dkernel = colsᵀ @ x``. oneDNN (where chosen, see :func:`cnnkit.kernels.dispatch.fast`)
    runs the same three steps as the *mirror* convolution's backward-data, forward and
    backward-weights: a Conv2D of ``out`` with ``kernel``, padded by the window's margins.
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
        self.geom = geom
        self.window = ((top, hc - top - oh), (left, wc - left - ow))
        self.save_for_backward(x2d, w2d, kernel.shape)
        self.ops, self.fast, self.race = dispatch.ops(), None, None
        start = time.perf_counter()
        out = self._fast_forward(x, kernel, (n, oh, ow, f))
        if out is None:
            dispatch.record("conv2d_transpose", self.ops.NAME)
            canvas = self.ops.correlate_backward_data(x2d, w2d, (n, hc, wc, f), *geom)
            out = xp.ascontiguousarray(canvas[:, top : top + oh, left : left + ow, :])
        if bias is not None:
            rowwise(xp.add, out.reshape(-1, f), bias, out=out.reshape(-1, f))
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=not any(self.needs_grad))
        return out

    def _fast_forward(self, x, kernel, out_shape):
        """The mirror convolution's backward-data by oneDNN, or ``None`` when NumPy runs it
        (not float32, the race picked NumPy, or oneDNN has no fast kernel for the shape)."""
        fast = dispatch.fast("conv2d_transpose")
        if fast is None or x.dtype != xp.float32 or kernel.dtype != xp.float32:
            return None
        _, _, h, w, strides, dilation = self.geom
        training = any(self.needs_grad)
        key = (x.shape, kernel.shape, strides, dilation, self.window, training, x.dtype.str)
        self.race = dispatch.Race("conv2d_transpose", key)
        if not self.race.fast:
            return None
        pads = (*self.window[0], *self.window[1])  # the mirror convolution's padding
        mirror = fast.plan_key(out_shape, kernel.shape, h, w, strides, dilation, pads, False, True)
        out = fast.backward_data(mirror, x, kernel, self.race.threads)
        if out is None:
            self.race.decline()
            return None
        dispatch.record("conv2d_transpose", "onednn")
        self.fast, self.fast_key = fast, mirror
        return out

    def backward(self, grad):
        start = time.perf_counter()
        x2d, w2d, kshape = self.saved
        grads = None
        if self.fast is not None:  # the mirror convolution's forward and backward-weights
            grads = self._fast_backward(xp.ascontiguousarray(grad), x2d, w2d.reshape(kshape))
        if grads is None:
            gcanvas = pad_nhwc(grad, self.window)  # (N, HC, WC, F), C-contiguous
            dx = cols = dkernel = None
            if self.needs_grad[0]:  # a Conv2D forward of the gradient
                keep = self.needs_grad[1]
                dx, cols = self.ops.correlate(gcanvas, w2d, *self.geom, keep_cols=keep)
            if self.needs_grad[1]:  # Σ colsᵀ @ x: (KH*KW*F, C)
                dkernel = self.ops.correlate_backward_weights(gcanvas, x2d, *self.geom, cols=cols)
                dkernel = dkernel.reshape(kshape)
            grads = (dx, dkernel)
        if len(self.parents) == 3:
            grads += (sum_rows(grad) if self.needs_grad[2] else None,)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=True)
        return grads

    def _fast_backward(self, grad, x2d, kernel):
        """``(dx, dkernel)`` by oneDNN, or ``None`` where it declined either."""
        _, _, h, w, strides, dilation = self.geom
        geometry = (h, w, strides, dilation, (*self.window[0], *self.window[1]))
        threads = self.race.threads
        dx = dkernel = None
        if self.needs_grad[0]:
            found = self.fast.forward(grad, kernel, None, *geometry, True, threads)
            if found is None:
                return None
            dx = found[0]
        if self.needs_grad[1]:
            x = x2d.reshape(grad.shape[0], h, w, -1)
            found = self.fast.backward_weights(self.fast_key, grad, x, threads)
            if found is None:
                return None
            dkernel = found[0]
        return dx, dkernel


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
