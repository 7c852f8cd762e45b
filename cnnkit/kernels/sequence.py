"""Per-step pieces of a time loop written with autodiff (the generic ``RNN`` layer's cells).

The fused recurrent kernels (``recurrent.py``) run a whole sequence in one op; a user's cell
runs one step at a time instead, so the loop needs: one step of a sequence, one column block
of a gate matrix, the steps stacked back, and a per-sample choice between two states::

    take_step(x, t)      = x[:, t]          backward: the gradient placed at step t, zeros elsewhere
    column_block(z, i, n) = z[..., i*n:(i+1)*n]     backward: placed in block i
    stack_steps([y_0..])  = (B, T, ...)     backward: the gradient split by step
    select(m, a, b)       = a where m else b  (m: (B,) booleans)
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor, as_tensor
from cnnkit.backend import xp


class TakeStep(Function):
    """``x[:, t]``; see the module docstring."""

    def forward(self, x, t):
        self.save_for_backward(x.shape, x.dtype, t)
        return x[:, t]

    def backward(self, grad):
        shape, dtype, t = self.saved
        out = xp.zeros(shape, dtype=dtype)
        out[:, t] = grad
        return out


def take_step(x, t: int) -> Tensor:
    """Step ``t`` of a batch of sequences ``(B, T, ...)``: ``(B, ...)``."""
    return TakeStep.apply(x, t=int(t))


class ColumnBlock(Function):
    """``z[..., start:stop]``; see the module docstring."""

    def forward(self, z, start, stop):
        self.save_for_backward(z.shape, z.dtype, start, stop)
        return z[..., start:stop]

    def backward(self, grad):
        shape, dtype, start, stop = self.saved
        out = xp.zeros(shape, dtype=dtype)
        out[..., start:stop] = grad
        return out


def split_columns(z, parts: int) -> list[Tensor]:
    """``z`` (..., parts * n) as ``parts`` blocks of ``n`` columns (Keras's ``ops.split``)."""
    z = as_tensor(z)
    n = z.shape[-1] // parts
    return [ColumnBlock.apply(z, start=i * n, stop=(i + 1) * n) for i in range(parts)]


class StackSteps(Function):
    """``stack(steps, axis=1)``; backward: the gradient of step ``t`` is ``g[:, t]``."""

    def forward(self, *steps):
        return xp.stack(steps, axis=1)

    def backward(self, grad):
        return tuple(xp.ascontiguousarray(grad[:, t]) for t in range(grad.shape[1]))


def stack_steps(steps: list) -> Tensor:
    """``T`` tensors ``(B, ...)`` as one ``(B, T, ...)``."""
    return StackSteps.apply(*steps)


class Select(Function):
    """``where(m, a, b)`` with per-sample booleans ``m`` (B,) broadcast over the features."""

    def forward(self, a, b, keep):
        keep = keep.reshape((-1,) + (1,) * (a.ndim - 1))
        self.save_for_backward(keep)
        return xp.where(keep, a, b)

    def backward(self, grad):
        (keep,) = self.saved
        return xp.where(keep, grad, 0), xp.where(keep, 0, grad)


def select(keep, a, b) -> Tensor:
    """``a`` for the samples where ``keep`` is true, ``b`` elsewhere (same shapes)."""
    return Select.apply(a, b, keep=xp.asarray(keep, dtype=bool))
