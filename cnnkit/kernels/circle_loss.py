"""Circle loss (Sun et al., 2020) on embeddings, as a differentiable op with Keras 3's numerics.

A metric-learning loss: it compares every pair of samples of a batch (or each sample with
reference embeddings), so it lives apart from the per-sample losses of
:mod:`cnnkit.kernels.losses_extra`.

Example:
    >>> import numpy as np
    >>> emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> circle(np.array([0, 0, 1]), emb, gamma=10.0).data.round(4)
    array([0.059 , 1.1711, 0.    ])
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp
from cnnkit.kernels.activations import _stable_sigmoid
from cnnkit.kernels.losses import _data


def _masked_logsumexp(t, mask):
    """``log(sum(exp(t)))`` over the True entries of each row (``-inf`` for an empty row) and the
    softmax weights of those entries (0 elsewhere)."""
    has = mask.any(axis=1, keepdims=True)  # (N, 1)
    mx = xp.where(has, xp.where(mask, t, -xp.inf).max(axis=1, keepdims=True), 0)
    e = xp.where(mask, xp.exp(xp.where(mask, t - mx, 0)), 0)
    total = e.sum(axis=1, keepdims=True)
    safe = xp.where(has, total, 1)
    lse = xp.where(has, mx + xp.log(safe), -xp.inf)[:, 0]
    return lse, e / safe


class Circle(Function):
    """Circle loss (Sun et al., 2020) on embeddings, Keras 3's form.

    With ``D = max(1 - P R^T, 0)`` the cosine distances of the rows of ``P`` (``y_pred``) to
    the references ``R`` (``P`` itself unless given), the positive pairs (same label; the
    diagonal removed when ``remove_diagonal``) and the negative pairs::

        pos_ij = -gamma max(m + D_ij, 0) (m - D_ij)
        neg_ij = gamma max(1 + m - D_ij, 0) (1 - m - D_ij)
        loss_i = softplus(logsumexp_pos(pos_i) + logsumexp_neg(neg_i))

    A row without positives (or negatives) has a loss of 0 and is masked out of the mean, as
    in Keras. Backward: ``dloss/dD`` is ``sigmoid(s_i)`` times the softmax weights of each sum
    times ``2 gamma D`` (positives) or ``2 gamma (D - 1)`` (negatives, inside the max), then
    ``dS = -dD [1 - S > 0]``, ``dP = dS R (+ dS^T P when R is P)``.
    """

    def forward(
        self, p, labels, ref_labels, ref=None, remove_diagonal=True, gamma=80.0, margin=0.4
    ):
        dt = p.dtype.type
        r = p if ref is None else ref
        sim = p @ r.T  # (N, M)
        dist = xp.maximum(1 - sim, dt(0))
        pos_mask = labels[:, None] == ref_labels[None, :]
        neg_mask = ~pos_mask
        if remove_diagonal:
            pos_mask &= ~xp.eye(*pos_mask.shape, dtype=bool)
        gamma, m = dt(gamma), dt(margin)
        pos_w = xp.maximum((m + dist) * pos_mask, dt(0))
        neg_w = xp.maximum((1 + m - dist) * neg_mask, dt(0))
        pos_t = -gamma * pos_w * (m - dist)
        neg_t = gamma * neg_w * (1 - m - dist)
        p_lse, p_soft = _masked_logsumexp(pos_t, pos_mask)
        n_lse, n_soft = _masked_logsumexp(neg_t, neg_mask)
        total = p_lse + n_lse
        finite = xp.isfinite(total)
        s = xp.where(finite, total, 0)
        loss = xp.where(finite, xp.maximum(s, 0) + xp.log1p(xp.exp(-xp.abs(s))), 0)
        dpos = xp.where(pos_w > 0, 2 * gamma * dist, 0)
        dneg = xp.where(neg_w > 0, 2 * gamma * (dist - 1), 0)
        d_dist = (p_soft * dpos + n_soft * dneg) * xp.where(finite, _stable_sigmoid(s), 0)[:, None]
        self.save_for_backward(d_dist * (1 - sim > 0), p, r, ref is None)
        return loss.astype(p.dtype, copy=False)

    def backward(self, grad):
        d_sim_unit, p, r, self_ref = self.saved
        d_sim = -d_sim_unit * grad[:, None]  # (N, M)
        dp = d_sim @ r
        if self_ref:
            dp = dp + d_sim.T @ p
        return dp


def circle(
    y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4
) -> Tensor:
    """Circle loss per sample of ``y_pred`` (N, d) with integer labels ``y_true`` (N,).

    The returned Tensor carries ``_keras_mask`` (the samples with a positive loss), which
    ``Loss`` uses in its reduction as Keras does.
    """
    labels = _data(y_true).astype(xp.int64).reshape(-1)
    refs = None if ref_embeddings is None else _data(ref_embeddings).astype(_data(y_pred).dtype)
    ref_labels = labels if ref_labels is None else _data(ref_labels).astype(xp.int64).reshape(-1)
    out = Circle.apply(
        y_pred,
        labels=labels,
        ref_labels=ref_labels,
        ref=refs,
        remove_diagonal=bool(remove_diagonal),
        gamma=gamma,
        margin=margin,
    )
    out._keras_mask = out.data > 0
    return out
