"""Differentiable linear algebra on (batches of) matrices: the last two axes are the matrix.

Backward rules (``Aᵀ`` swaps the last two axes, ``G`` is the output gradient):

- ``Y = A⁻¹``:            ``dA = -Yᵀ G Yᵀ``
- ``d = det A``:          ``dA = g d A⁻ᵀ``;  ``l = log|det A|``: ``dA = g A⁻ᵀ``
- ``X = A⁻¹ B``:          ``dB = A⁻ᵀ G``,  ``dA = -dB Xᵀ`` (triangular: kept on A's triangle)
- ``L = chol(A)``:        ``S = L⁻ᵀ Φ(Lᵀ G) L⁻¹``, ``dA = (S + Sᵀ) / 2`` with ``Φ`` the lower
  triangle with its diagonal halved (Murray, 2016, "Differentiation of the Cholesky
  decomposition")
- ``A = V diag(w) Vᵀ``:   ``dA = V (diag(gw) + F ∘ (Vᵀ gV)) Vᵀ``, ``F_ij = 1 / (w_j - w_i)``,
  symmetrised (Giles, 2008, "Collected matrix derivative results").
- ``s = svd(A)`` values:  ``dA = U diag(gs) Vᵀ``
- ``P = A⁺``:             see :class:`Pinv`
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Function


def _t(a):
    return np.swapaxes(a, -1, -2)


class Inv(Function):
    def forward(self, a):
        y = np.linalg.inv(a)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return -_t(y) @ grad @ _t(y)


class Det(Function):
    def forward(self, a):
        d = np.linalg.det(a)
        self.save_for_backward(a, d)
        return d

    def backward(self, grad):
        a, d = self.saved
        return (grad * d)[..., None, None] * _t(np.linalg.inv(a))


class LogAbsDet(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return np.linalg.slogdet(a)[1]

    def backward(self, grad):
        (a,) = self.saved
        return grad[..., None, None] * _t(np.linalg.inv(a))


def _solve(a, b, vector):
    if vector:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


class Solve(Function):
    """``X = A⁻¹ B`` (``B`` a vector when it has one axis fewer than ``A``... or is 1-D)."""

    def forward(self, a, b, triangle=None):
        if triangle == "lower":
            a = np.tril(a)
        elif triangle == "upper":
            a = np.triu(a)
        vector = b.ndim == 1
        x = _solve(a, b, vector)
        self.save_for_backward(a, x, vector, triangle)
        return x

    def backward(self, grad):
        a, x, vector, triangle = self.saved
        gb = _solve(_t(a), grad, vector)
        ga = None
        if self.needs_grad[0]:
            if vector:
                ga = -gb[..., :, None] * x[..., None, :]
            else:
                ga = -gb @ _t(x)
            if ga.ndim > a.ndim:
                ga = ga.sum(axis=tuple(range(ga.ndim - a.ndim)))
            if triangle == "lower":
                ga = np.tril(ga)
            elif triangle == "upper":
                ga = np.triu(ga)
        return ga, gb


class Cholesky(Function):
    def forward(self, a):
        lower = np.linalg.cholesky(a)
        self.save_for_backward(lower)
        return lower

    def backward(self, grad):
        (lower,) = self.saved
        phi = np.tril(_t(lower) @ grad)
        idx = np.arange(phi.shape[-1])
        phi[..., idx, idx] *= 0.5
        linv = np.linalg.inv(lower)
        s = _t(linv) @ phi @ linv
        return 0.5 * (s + _t(s))


class Eigh(Function):
    """Eigenvalues and eigenvectors of symmetric matrices, packed as ``(..., n+1, n)``.

    Row 0 holds the eigenvalues, rows 1.. the eigenvectors (as columns), so one Function
    carries both outputs; :func:`cnnkit.ops.linalg.eigh` splits them.
    """

    def forward(self, a):
        w, v = np.linalg.eigh(a)
        self.save_for_backward(w, v)
        return np.concatenate([w[..., None, :], v], axis=-2)

    def backward(self, grad):
        w, v = self.saved
        gw, gv = grad[..., 0, :], grad[..., 1:, :]
        diff = w[..., None, :] - w[..., :, None]  # w_j - w_i
        with np.errstate(divide="ignore"):
            f = np.where(diff == 0, 0.0, 1.0 / np.where(diff == 0, 1.0, diff))
        inner = f * (_t(v) @ gv)
        idx = np.arange(w.shape[-1])
        inner[..., idx, idx] += gw
        ga = v @ inner @ _t(v)
        return (0.5 * (ga + _t(ga))).astype(v.dtype)


class SingularValues(Function):
    """Singular values ``s`` of ``A = U diag(s) Vᵀ``: ``dA = U diag(gs) Vᵀ`` (distinct ``s``)."""

    def forward(self, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        self.save_for_backward(u, vh)
        return s

    def backward(self, grad):
        u, vh = self.saved
        return (u * grad[..., None, :]) @ vh


class Pinv(Function):
    """Moore-Penrose pseudo-inverse ``P = A⁺`` (rank constant near ``A``).

    Backward (Golub & Pereyra, 1973):
    ``dA = -Pᵀ G Pᵀ + (I - A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I - P A)``.
    """

    def forward(self, a, rcond=None):
        p = np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)
        self.save_for_backward(a, p)
        return p

    def backward(self, grad):
        a, p = self.saved
        pt, gt = _t(p), _t(grad)
        eye_m = np.eye(a.shape[-2], dtype=a.dtype)
        eye_n = np.eye(a.shape[-1], dtype=a.dtype)
        return -pt @ grad @ pt + (eye_m - a @ p) @ gt @ p @ pt + pt @ p @ gt @ (eye_n - p @ a)
