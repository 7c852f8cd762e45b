"""Fully connected layer maths: ``out = x @ kernel + bias`` over the last axis.

The three matrix products (forward, input and kernel gradients) are the ``matmul`` of
:func:`cnnkit.kernels.dispatch.ops`: the NumPy kernels split a large product over the CPU
threads inside the trainer's parallel region (:func:`cnnkit.kernels.threads.matmul`).
"""

from __future__ import annotations

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
    """

    def forward(self, x, kernel, bias=None, relu=False):
        x2d = x.reshape(-1, x.shape[-1])  # (B, K), B = prod(leading axes)
        self.ops = dispatch.ops()
        out = self.ops.matmul(x2d, kernel)  # (B, M), split over the cores when large
        if bias is not None:
            rowwise(xp.add, out, bias, out=out)
        if relu:  # fused activation, in place on the fresh product
            relu_(out)
        self.save_for_backward(x2d, kernel, x.shape, out if relu else None)
        return out.reshape(*x.shape[:-1], kernel.shape[1])

    def backward(self, grad):
        x2d, kernel, xshape, relu_out = self.saved
        g2d = grad.reshape(-1, grad.shape[-1])  # (B, M)
        if relu_out is not None:
            g2d = g2d * (relu_out > 0)
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
        if len(self.parents) == 2:
            return dx, dk
        db = sum_rows(g2d) if self.needs_grad[2] else None
        return dx, dk, db


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
