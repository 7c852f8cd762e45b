"""Element-wise kernels with a learned or random operand: PReLU.

PReLU (He et al., 2015, https://arxiv.org/abs/1502.01852), ``alpha`` broadcast against
``x``::

    out = x                 where x > 0          dx = g
        = alpha * x         elsewhere            dx = alpha * g,   dalpha = sum(g * x)
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor, unbroadcast
from cnnkit.backend import xp


class PReLU(Function):
    """``max(x, 0) + alpha * min(x, 0)``; see the module docstring."""

    def forward(self, x, alpha):
        alpha = alpha.astype(x.dtype, copy=False)
        positive = x > 0
        self.save_for_backward(x, alpha, positive)
        return xp.where(positive, x, alpha * x)

    def backward(self, grad):
        x, alpha, positive = self.saved
        dx = xp.where(positive, grad, alpha * grad) if self.needs_grad[0] else None
        dalpha = None
        if self.needs_grad[1]:
            dalpha = unbroadcast(xp.where(positive, 0, grad * x), alpha.shape)
        return dx, dalpha


def prelu(x, alpha) -> Tensor:
    """Parametric ReLU: ``x`` where positive, ``alpha * x`` elsewhere.

    Example:
        >>> import numpy as np
        >>> prelu(np.array([-2.0, 3.0]), np.array([0.5, 0.5])).numpy()
        array([-1.,  3.])
    """
    return PReLU.apply(x, alpha)
