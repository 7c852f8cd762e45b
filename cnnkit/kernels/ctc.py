"""Connectionist temporal classification: the CTC loss as a differentiable op, and decoding.

For one sample with logits ``z`` (T, K), blank class ``b`` and target ``l`` of length L, the
extended target ``l'`` puts a blank around every label (length ``S = 2L + 1``). With
``y = log_softmax(z)`` and ``e_t(s) = y[t, l'_s]``, in log space (``lse`` = log-sum-exp)::

    alpha_0(0) = e_0(0),  alpha_0(1) = e_0(1),  alpha_0(s >= 2) = -inf
    alpha_t(s) = e_t(s) + lse(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2)])
    log p      = lse(alpha_{T-1}(S-1), alpha_{T-1}(S-2))        loss = -log p

where the ``s-2`` term (skipping a blank) is allowed only onto a label that differs from the
label two places back. ``beta_t(s)``, the log-probability of finishing from ``s`` at ``t``
(emissions after ``t`` only), runs the same recursion backwards from ``beta_{T-1}(S-1) =
beta_{T-1}(S-2) = 0``. The occupancy ``gamma_t(k) = sum_{s: l'_s = k} exp(alpha_t(s) +
beta_t(s) - log p)`` gives the gradient ``d loss / d z_t = softmax(z_t) - gamma_t``.

Samples have their own lengths: steps ``t >= output_length`` and target entries past
``target_length`` are ignored (their gradient is 0). An impossible alignment (a target too
long for its output) gives an infinite loss, as PyTorch's ``ctc_loss``. The recursions are
vectorised over the batch and the positions ``s``; the loop runs over time steps.

Decoding (:func:`greedy_decode`, :func:`beam_search_decode`) follows Keras 3: decoded paths
padded with ``-1``, and scores.

Example:
    >>> import numpy as np
    >>> z = np.zeros((1, 2, 2))  # two steps, uniform over {blank, 1}
    >>> float(np.exp(-CTCLoss.apply(z, labels=np.array([[1]]), label_lengths=np.array([1]),
    ...                                 logit_lengths=np.array([2]), blank=0).data[0]))
    0.75
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Function
from cnnkit.backend import xp
from cnnkit.kernels.losses import _log_softmax_parts


def _lse(*terms):
    """Element-wise log-sum-exp of same-shaped arrays; all ``-inf`` gives ``-inf``."""
    stacked = xp.stack(terms)
    m = stacked.max(axis=0)
    m_safe = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return m_safe + xp.log(xp.exp(stacked - m_safe).sum(axis=0))


def _shift(a, k):
    """``a[..., s - k]`` along the last axis (``k < 0``: ahead), ``-inf`` outside."""
    out = xp.full_like(a, -xp.inf)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


class CTCLoss(Function):
    """Per-sample CTC loss ``(B,)`` of logits ``(B, T, K)``; differentiable in the logits.

    Keyword args: ``labels`` (B, L) integers, ``label_lengths`` (B,), ``logit_lengths`` (B,),
    ``blank`` (the blank class). Lengths must already be validated.
    """

    def forward(self, z, labels, label_lengths, logit_lengths, blank):
        batch, steps, _ = z.shape
        y, probs = _log_softmax_parts(z)
        size = 2 * labels.shape[1] + 1
        ext = xp.full((batch, size), blank, dtype=xp.intp)  # l': blanks around the labels
        inside = xp.arange(labels.shape[1]) < label_lengths[:, None]
        ext[:, 1::2] = xp.where(inside, labels, blank)  # padding past the length is ignored
        pos = xp.arange(size)
        ext_len = 2 * label_lengths[:, None] + 1
        skip = xp.zeros((batch, size), dtype=bool)  # (B, S): may jump from s - 2
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
        emit = xp.take_along_axis(y, xp.broadcast_to(ext[:, None, :], (batch, steps, size)), -1)
        emit = xp.where(pos < ext_len[:, None, :], emit, -xp.inf)  # (B, T, S)
        alphas = xp.full((steps, batch, size), -xp.inf, dtype=z.dtype)
        alphas[0, :, :2] = emit[:, 0, :2]
        for t in range(1, steps):
            prev = alphas[t - 1]
            two = xp.where(skip, _shift(prev, 2), -xp.inf)
            new = emit[:, t] + _lse(prev, _shift(prev, 1), two)
            alphas[t] = xp.where((t < logit_lengths)[:, None], new, prev)
        last = alphas[-1]  # frozen at each sample's last valid step
        rows = xp.arange(batch)
        end = last[rows, ext_len[:, 0] - 1]
        before = xp.where(label_lengths > 0, last[rows, xp.maximum(ext_len[:, 0] - 2, 0)], -xp.inf)
        log_p = _lse(end, before)
        empty = xp.where(label_lengths == 0, 0.0, -xp.inf)  # no steps: only an empty target
        log_p = xp.where(logit_lengths == 0, empty, log_p)
        self.save_for_backward(probs, ext, ext_len, skip, emit, alphas, log_p, logit_lengths)
        return (-log_p).astype(z.dtype)

    def backward(self, grad):
        probs, ext, ext_len, skip, emit, alphas, log_p, lengths = self.saved
        batch, steps, classes = probs.shape
        pos = xp.arange(ext.shape[1])
        final = xp.where((pos == ext_len - 1) | (pos == ext_len - 2), 0.0, -xp.inf)
        beta = xp.full(ext.shape, -xp.inf, dtype=probs.dtype)
        occupancy = xp.empty((batch, steps, ext.shape[1]), dtype=probs.dtype)
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                nxt = beta + emit[:, t + 1]  # (B, S): finishing from s at t + 1
                jump = _shift(xp.where(skip, nxt, -xp.inf), -2)
                beta = _lse(nxt, _shift(nxt, -1), jump)
            beta = xp.where((t == lengths - 1)[:, None], final, beta)
            beta = xp.where((t < lengths)[:, None], beta, -xp.inf)
            occupancy[:, t] = alphas[t] + beta
        with np.errstate(invalid="ignore"):
            occupancy = xp.exp(occupancy - log_p[:, None, None])
        onehot = (ext[:, :, None] == xp.arange(classes)).astype(probs.dtype)  # (B, S, K)
        gamma = xp.einsum("bts,bsk->btk", occupancy, onehot)
        valid = (xp.arange(steps) < lengths[:, None])[:, :, None]
        dz = xp.where(valid, probs - gamma, 0.0)
        return (dz * grad[:, None, None]).astype(probs.dtype)


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------


def greedy_decode(logits, lengths, merge_repeated, blank):
    """Best class per step, repeats merged, blanks dropped; Keras's ``strategy="greedy"``.

    Returns ``(paths (1, B, T) int32`` padded with -1, ``scores (B, 1))`` where the score is
    minus the sum over the valid steps of each step's largest logit (no softmax, as Keras).
    """
    batch, steps, _ = logits.shape
    best = logits.argmax(axis=-1).astype(xp.int32)
    past = xp.arange(steps)[None, :] >= lengths[:, None]
    best = xp.where(past, blank, best)
    scores = xp.where(past, 0, logits.max(axis=-1)).astype(logits.dtype)
    if merge_repeated:
        repeat = xp.zeros_like(past)
        repeat[:, 1:] = best[:, 1:] == best[:, :-1]
        best = xp.where(repeat, blank, best)
    dropped = best == blank
    order = xp.argsort(xp.where(dropped, steps, xp.arange(steps)), axis=-1, kind="stable")
    paths = xp.take_along_axis(xp.where(dropped, -1, best), order, axis=-1)
    return paths[None].astype(xp.int32), -scores.sum(axis=1, keepdims=True)


def _merge_tracks(paths, scores_per_track):
    """Unique rows of ``paths`` and, per track, the log-sum-exp of the scores of equal rows."""
    unique, inverse = xp.unique(paths, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    merged = []
    for scores in scores_per_track:
        top = scores.max()
        top = top if xp.isfinite(top) else 0
        total = xp.zeros(len(unique), dtype=scores.dtype)
        xp.add.at(total, inverse, xp.exp(scores - top))
        with np.errstate(divide="ignore"):
            merged.append(xp.log(total) + top)
    return unique, merged


def _beam_search_one(x, length, beam_width, top_paths, blank):
    """Keras's beam search on one sample: ``x`` (T, K) log-probabilities, classes flipped."""
    steps, classes = x.shape
    width = min(classes, beam_width)
    paths = xp.full((2 * beam_width, steps), -1, dtype=xp.int32)
    firsts = xp.argsort(x[0], kind="stable")[-width:]
    paths[:width, 0] = xp.where(firsts == blank, -1, firsts)
    scores = xp.full(2 * beam_width, -xp.inf, dtype=x.dtype)
    scores[:width] = x[0, firsts]
    masked = paths[:, 0] == -1
    labels = xp.arange(classes, dtype=xp.int32)
    labels[blank] = -1
    for t in range(1, length):
        # Extend every beam with every class.
        paths = xp.repeat(paths, classes, axis=0)
        scores = xp.repeat(scores, classes) + xp.tile(x[t], len(masked))
        tail_at = (paths == -1).argmax(axis=1)
        rows = xp.arange(len(paths))
        tails = xp.where(tail_at == 0, -1, paths[rows, tail_at - 1])
        new = xp.tile(labels, len(masked))
        repeat = ~xp.repeat(masked, classes) & (tails == new)
        paths[rows, tail_at] = xp.where(repeat, -1, new)
        masked = new == -1
        # Merge equal paths; keep the best beams, each as an emit and a blank track.
        emit = xp.where(masked, -xp.inf, scores)
        blank_track = xp.where(masked, scores, -xp.inf)
        unique, (emit, blank_track) = _merge_tracks(paths, (emit, blank_track))
        best = xp.argsort(xp.logaddexp(emit, blank_track), kind="stable")[-beam_width:]
        best = xp.concatenate([best, xp.full(beam_width - len(best), -1, best.dtype)])
        pad = best < 0
        paths = xp.where(pad[:, None], -1, unique[best])
        emit = xp.where(pad, -xp.inf, emit[best])
        blank_track = xp.where(pad, -xp.inf, blank_track[best])
        paths = xp.concatenate([paths, paths])
        scores = xp.concatenate([emit, blank_track])
        masked = xp.arange(2 * beam_width) >= beam_width
    unique, (scores,) = _merge_tracks(paths, (scores,))
    top = xp.argsort(scores, kind="stable")[-top_paths:][::-1]
    out_paths = xp.full((top_paths, steps), -1, dtype=xp.int32)
    out_scores = xp.full(top_paths, -xp.inf, dtype=x.dtype)
    out_paths[: len(top)], out_scores[: len(top)] = unique[top], scores[top]
    return out_paths, out_scores


def beam_search_decode(logits, lengths, beam_width, top_paths, blank):
    """Keras's ``strategy="beam_search"``: ``(paths (top_paths, B, T) int32, scores (B,
    top_paths))``, the scores being the log-probabilities of the decoded label sequences.

    Each step extends every beam by every class, merges equal label sequences (summing their
    probabilities, apart for beams whose last step was a blank and the others) and keeps the
    ``beam_width`` best. Equal paths are found by sorting them, where Keras on torch hashes
    them: only exactly tied scores can come out in another order. Samples run one by one.
    """
    classes = logits.shape[-1]
    # As Keras, the classes are searched in reverse order (its tie-breaking).
    x = _log_softmax_parts(logits)[0][..., ::-1]
    found = [
        _beam_search_one(x[b], int(lengths[b]), beam_width, top_paths, classes - blank - 1)
        for b in range(len(x))
    ]
    paths = xp.stack([p for p, _ in found], axis=1)
    paths = xp.where(paths == -1, -1, classes - paths - 1).astype(xp.int32)
    return paths, xp.stack([s for _, s in found]).astype(logits.dtype)
