"""Fully connected layer maths: ``out = x @ kernel + bias`` over the last axis.

The three matrix products (forward, input and kernel gradients) are the ``matmul`` of
:func:`cnnkit.kernels.dispatch.ops`: the NumPy kernels split a large product over the CPU
threads inside the trainer's parallel region (:func:`cnnkit.kernels.threads.matmul`); with
oneDNN chosen (:func:`cnnkit.kernels.dispatch.fast`), 2-D float32 inputs may run on its inner
product instead.
"""

from __future__ import annotations

import time

from cnnkit.autodiff import Function, Tensor, relu_, rowwise, sum_rows
from cnnkit.backend import xp
from cnnkit.kernels import dispatch


class Dense(Function):
    """Affine map over the last axis.

    Shapes::

        x      (..., K)
        kernel (K, M)
        bias   (M,)
        out    (..., M)

    Backward: ``dx = g @ kernelᵀ``, ``dkernel = xᵀ @ g``, ``dbias = Σ g``. With the
    ``"auto"`` or ``"onednn"`` kernels a 2-D float32 ``x`` may run on oneDNN's inner
    product instead (:mod:`cnnkit.kernels.onednn.dense`; raced per shape with ``"auto"``).
    """

    def forward(self, x, kernel, bias=None, relu=False):
        x2d = x.reshape(-1, x.shape[-1])  # (B, K), B = prod(leading axes)
        self.ops, self.race, self.fast = dispatch.ops(), None, None
        start = time.perf_counter()
        out = self._fast_forward(x2d, kernel, bias) if x.ndim == 2 else None
        if out is None:
            dispatch.record("dense", self.ops.NAME)
            out = self.ops.matmul(x2d, kernel)  # (B, M), split over the cores when large
            if bias is not None:
                rowwise(xp.add, out, bias, out=out)
        if relu:  # fused activation, in place on the fresh product
            relu_(out)
        self.save_for_backward(x2d, kernel, x.shape, out if relu else None)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=not any(self.needs_grad))
        return out.reshape(*x.shape[:-1], kernel.shape[1])

    def _fast_forward(self, x2d, kernel, bias):
        """oneDNN's product (bias fused), or ``None`` when NumPy runs it (the race picked
        NumPy for the shape, or oneDNN cannot run it)."""
        fast = dispatch.fast("dense")
        if fast is None or x2d.dtype != xp.float32 or kernel.dtype != xp.float32:
            return None
        training = any(self.needs_grad)
        self.race = dispatch.Race("dense", (x2d.shape, kernel.shape, bias is not None, training))
        if not self.race.fast:
            return None
        found = fast.dense(x2d, kernel, bias, training, self.race.threads)
        if found is None:  # no fast kernel for this shape
            self.race.decline()
            return None
        dispatch.record("dense", fast.NAME)
        self.ops = fast
        out, self.fast = found
        return out

    def backward(self, grad):
        start = time.perf_counter()
        x2d, kernel, xshape, relu_out = self.saved
        g2d = grad.reshape(-1, grad.shape[-1])  # (B, M)
        if relu_out is not None:
            g2d = g2d * (relu_out > 0)
        db = None
        if self.fast is not None:  # oneDNN's backward-data and backward-weights (+ bias)
            need = (self.needs_grad[0], any(self.needs_grad[1:]))
            dx, dk, db = self.ops.dense_backward(g2d, self.fast, *need, self.race.threads)
            dx = None if dx is None else dx.reshape(xshape)
        else:
            flops = 2 * g2d.shape[0] * kernel.size  # each product's
            dx, dk = self.ops.concurrently(
                (
                    (lambda: self.ops.matmul(g2d, kernel.T).reshape(xshape))
                    if self.needs_grad[0]
                    else None,
                    (lambda: self.ops.matmul(x2d.T, g2d)) if self.needs_grad[1] else None,
                ),
                (flops, flops),
            )
        grads = (dx, dk if self.needs_grad[1] else None)
        if len(self.parents) == 3:
            if db is None and self.needs_grad[2]:
                db = sum_rows(g2d)
            grads += (db if self.needs_grad[2] else None,)
        if self.race is not None:
            self.race.add(time.perf_counter() - start, done=True)
        return grads


def dense(x, kernel, bias=None, relu: bool = False) -> Tensor:
    """``x @ kernel + bias`` for x of shape (..., K), kernel (K, M), bias (M,).

    ``relu=True`` fuses ``max(., 0)`` into the same op (one pass less, one array less).

    Example:
        >>> import numpy as np
        >>> dense(np.ones((2, 3), "float32"), np.ones((3, 4), "float32")).shape
        (2, 4)
    """
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return Dense.apply(*inputs, relu=relu)


def bias_add(x, bias) -> Tensor:
    """Add a per-channel bias (last axis) to x, broadcasting over all other axes."""
    return BiasAdd.apply(x, bias)


class BiasAdd(Function):
    def forward(self, x, bias):
        return x + bias

    def backward(self, grad):
        return grad, (sum_rows(grad) if self.needs_grad[1] else None)
