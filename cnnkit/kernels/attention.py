"""Kernels of attention layers: two-operand einsum, axis permutation, masked softmax.

``einsum("abc,cde->abde", x, w)`` is the projection of ``EinsumDense`` and of the query, key,
value and output maps of ``MultiHeadAttention``. Its gradient with respect to one operand is
another einsum, of the output gradient with the other operand, back to the operand's
subscripts::

    out = einsum("A,B->C", a, b)    =>    da = einsum("C,B->A", g, b),  db = einsum("A,C->B", a, g)

An index of ``A`` found neither in ``B`` nor in ``C`` was summed over ``a`` alone; its gradient
is broadcast back along that axis (``einsum`` with a ones operand of ``a``'s shape does that).
Contractions go through BLAS (``optimize=True`` lets NumPy use ``tensordot``).

Scaled dot-product attention with masks is composed from these and the softmax kernel:
``softmax(q kᵀ / sqrt(d) + (1 - mask) * -1e9) * mask`` (Keras's ``Softmax`` with a mask, a
large negative number rather than ``-inf``, so a row masked everywhere gives zeros).
"""

from __future__ import annotations

import re

from cnnkit.autodiff import Function, Tensor, as_tensor
from cnnkit.backend import xp
from cnnkit.kernels import activations as act_ops

_TERM = re.compile(r"^(\.\.\.)?[a-zA-Z]*(\.\.\.)?[a-zA-Z]*$")


def parse_equation(equation: str) -> tuple[str, str, str]:
    """``"ab,bc->ac"`` -> ``("ab", "bc", "ac")``, checking two operands and an explicit output.

    Raises:
        ValueError: for anything but two operands and one output, a repeated index within
            one term, or characters other than letters and one ``...`` per term.
    """
    if not isinstance(equation, str) or equation.count("->") != 1 or equation.count(",") != 1:
        raise ValueError(
            "Invalid einsum equation: expected the form '<a>,<b>-><out>' with two operands "
            f"and an explicit output. Received: equation={equation!r}"
        )
    inputs, out = equation.replace(" ", "").split("->")
    a, b = inputs.split(",")
    for term in (a, b, out):
        letters = term.replace("...", "")
        if not _TERM.match(term) or term.count("...") > 1 or len(set(letters)) != len(letters):
            raise ValueError(
                f"Invalid einsum equation {equation!r}: each term must hold letters (each at "
                f"most once) and at most one '...'. Received term {term!r}."
            )
    return a, b, out


def _grad_einsum(g, out: str, other, other_sub: str, target, target_sub: str):
    """The gradient of ``target`` in ``einsum(target, other) -> out``, in ``target``'s shape."""
    kept = set(out.replace("...", "")) | set(other_sub.replace("...", ""))
    lone = [c for c in target_sub.replace("...", "") if c not in kept]
    ellipsis_lost = "..." in target_sub and "..." not in out and "..." not in other_sub
    if lone or ellipsis_lost:  # a ones operand broadcasts the gradient along lone axes
        ones = xp.ones(target.shape, dtype=g.dtype)
        return xp.einsum(f"{out},{other_sub},{target_sub}->{target_sub}", g, other, ones)
    grad = xp.einsum(f"{out},{other_sub}->{target_sub}", g, other, optimize=True)
    return xp.broadcast_to(grad, target.shape) if grad.shape != target.shape else grad


class Einsum(Function):
    """``einsum(equation, a, b)``; backward: one einsum per operand (see the module docstring)."""

    def forward(self, a, b, equation):
        sa, sb, so = parse_equation(equation)
        self.save_for_backward(a, b, sa, sb, so)
        return xp.einsum(equation, a, b, optimize=True)

    def backward(self, grad):
        a, b, sa, sb, so = self.saved
        ga = _grad_einsum(grad, so, b, sb, a, sa) if self.needs_grad[0] else None
        gb = _grad_einsum(grad, so, a, sa, b, sb) if self.needs_grad[1] else None
        return ga, gb


def einsum(equation: str, a, b) -> Tensor:
    """Differentiable two-operand ``numpy.einsum`` with an explicit output.

    Example:
        >>> import numpy as np
        >>> einsum("ab,bc->ac", np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]])).numpy()
        array([[1., 2.],
               [3., 4.]])
    """
    parse_equation(equation)
    return Einsum.apply(a, b, equation=equation)


class Transpose(Function):
    """``a.transpose(axes)``; backward: the inverse permutation."""

    def forward(self, a, axes):
        self.save_for_backward(axes)
        return xp.ascontiguousarray(a.transpose(axes))

    def backward(self, grad):
        (axes,) = self.saved
        inverse = [0] * len(axes)
        for i, axis in enumerate(axes):
            inverse[axis] = i
        return grad.transpose(inverse)


def transpose(a, axes) -> Tensor:
    """Differentiable ``numpy.transpose`` (``axes``: a permutation of every axis)."""
    axes = tuple(int(x) % len(a.shape) for x in axes)
    if sorted(axes) != list(range(len(a.shape))):
        raise ValueError(
            f"Invalid permutation for an input of rank {len(a.shape)}: expected each axis "
            f"once. Received: axes={axes}"
        )
    return Transpose.apply(a, axes=axes)


def large_negative(dtype) -> float:
    """The number Keras adds to masked scores: ``-3e4`` in float16, ``-1e9`` otherwise."""
    return -3e4 if xp.dtype(dtype) == xp.float16 else -1e9


def masked_softmax(scores, mask=None, axis=-1) -> Tensor:
    """Keras's ``Softmax`` layer with a mask: masked scores get ``-1e9``, then zeroed outputs.

    Args:
        scores: Tensor of scores.
        mask: optional boolean array broadcastable to ``scores``; ``False`` entries are
            excluded.
        axis: int or tuple of ints, the axes normalised over.

    Example:
        >>> import numpy as np
        >>> masked_softmax(np.zeros((1, 3)), np.array([[True, True, False]])).numpy()
        array([[0.5, 0.5, 0. ]])
    """
    scores = as_tensor(scores)
    if mask is None:
        return act_ops.Softmax.apply(scores, axis=axis)
    keep = xp.asarray(mask).astype(scores.dtype)
    adder = (1.0 - keep) * scores.dtype.type(large_negative(scores.dtype))
    out = act_ops.Softmax.apply(scores + adder.astype(scores.dtype), axis=axis)
    return out * keep


class Repeat(Function):
    """``numpy.repeat(a, repeats, axis)``: each entry ``repeats`` times in a row.

    Backward: the gradient viewed as ``(..., n, repeats, ...)`` summed over the copies.
    """

    def forward(self, a, repeats, axis):
        self.save_for_backward(a.shape, repeats, axis)
        return xp.repeat(a, repeats, axis=axis)

    def backward(self, grad):
        shape, repeats, axis = self.saved
        split = (*shape[:axis], shape[axis], repeats, *shape[axis + 1 :])
        return grad.reshape(split).sum(axis=axis + 1)


def repeat(a, repeats: int, axis: int) -> Tensor:
    """Differentiable ``numpy.repeat`` of a Tensor along one axis.

    Example:
        >>> import numpy as np
        >>> repeat(np.array([[1.0, 2.0]]), 2, axis=1).numpy()
        array([[1., 1., 2., 2.]])
    """
    a = as_tensor(a)
    return Repeat.apply(a, repeats=int(repeats), axis=int(axis) % a.ndim)
