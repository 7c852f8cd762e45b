"""Shape and regularisation ops: flatten and (inverted) dropout.

General reshapes are :class:`cnnkit.autodiff.Reshape`; :func:`flatten` is the common case
``(N, d1, ..., dk) -> (N, d1 * ... * dk)``.

Example:
    >>> import numpy as np
    >>> flatten(np.zeros((2, 3, 4, 5), dtype="float32")).shape
    (2, 60)
"""

from __future__ import annotations

import math

from cnnkit.autodiff import Function, Tensor, as_tensor
from cnnkit.backend import xp


class Flatten(Function):
    """``(N, d1, ..., dk) -> (N, d1 * ... * dk)``; the backward restores the shape."""

    def forward(self, x):
        self.save_for_backward(x.shape)
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def backward(self, grad):
        (shape,) = self.saved
        return grad.reshape(shape)


class Dropout(Function):
    """Inverted dropout: keep each element with probability ``1 - rate``, scaled by its inverse.

    ``out = x * keep / (1 - rate)`` with ``keep = u < 1 - rate`` for ``u`` uniform in
    ``[0, 1)`` (float32 draws), as Keras does; the expected value of ``out`` is ``x``. The
    backward applies the same mask and scale.
    """

    def forward(self, x, rate, rng):
        keep = rng.random(x.shape, dtype=xp.float32) < x.dtype.type(1.0 - rate)  # bool mask
        scale = x.dtype.type(1.0 / (1.0 - rate))
        self.save_for_backward(keep, scale)
        out = x * keep
        out *= scale
        return out

    def backward(self, grad):
        keep, scale = self.saved
        out = grad * keep
        out *= scale
        return out


class _Zeros(Function):
    """``rate == 1``: everything dropped (and no division by zero)."""

    def forward(self, x):
        return xp.zeros_like(x)

    def backward(self, grad):
        return xp.zeros_like(grad)


def flatten(x) -> Tensor:
    """Flatten all but the batch axis.

    Args:
        x: Tensor (or array) of shape ``(N, d1, ..., dk)``, ``k >= 0``.

    Returns:
        Tensor of shape ``(N, d1 * ... * dk)`` (``(N, 1)`` for a 1-D input).

    Raises:
        ValueError: for a 0-D input (no batch axis).
    """
    if len(x.shape) == 0:
        raise ValueError("`flatten` needs an input with a batch axis. Received: input.shape=()")
    return Flatten.apply(x)


def dropout(x, rate: float, rng) -> Tensor:
    """Inverted dropout (training mode); see :class:`Dropout`.

    Args:
        x: Tensor (or array) of floats.
        rate: fraction of elements to drop, in ``[0, 1]``; ``0`` returns ``x`` unchanged.
        rng: a ``numpy.random.Generator`` (``cnnkit.backend.rng()`` in layers) the mask is
            drawn from.

    Returns:
        Tensor of ``x``'s shape and dtype.

    Raises:
        ValueError: if ``rate`` is outside ``[0, 1]``.
    """
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(
            "Invalid value for argument `rate`. Expected a float value between 0 and 1. "
            f"Received: rate={rate}"
        )
    if rate == 0.0:
        return as_tensor(x)
    if rate == 1.0:
        return _Zeros.apply(x)
    return Dropout.apply(x, rate=rate, rng=rng)
