"""Embedding lookup: rows of a ``(V, D)`` table gathered by integer indices.

Shapes::

    indices    (N, ...)     integers in [0, V)
    embeddings (V, D)
    out        (N, ..., D)  out[n, t] = embeddings[indices[n, t]]

The backward pass adds each output gradient row into the table row it came from. Rows used
several times are summed with one sort and one ``add.reduceat`` (no ``add.at``, which is slow).
"""

from __future__ import annotations

from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp


class EmbeddingLookup(Function):
    def forward(self, table, indices):
        flat = indices.reshape(-1)
        self.save_for_backward(flat, table.shape)
        return xp.take(table, flat, axis=0).reshape(*indices.shape, table.shape[1])

    def backward(self, grad):
        flat, (vocab, dim) = self.saved
        rows = grad.reshape(-1, dim)
        dtable = xp.zeros((vocab, dim), dtype=grad.dtype)
        if flat.size:
            order = xp.argsort(flat, kind="stable")
            ordered = flat[order]
            starts = xp.flatnonzero(xp.r_[True, ordered[1:] != ordered[:-1]])
            dtable[ordered[starts]] = xp.add.reduceat(rows[order], starts, axis=0)
        return dtable, None


def embedding_lookup(embeddings, indices) -> Tensor:
    """Gather rows of ``embeddings`` (V, D) for integer ``indices`` (any shape).

    Args:
        embeddings: Tensor (V, D), differentiable.
        indices: integer array or Tensor; every value in ``[0, V)`` (not checked here).

    Returns:
        Tensor of shape ``indices.shape + (D,)``.

    Example:
        >>> table = np.arange(6, dtype="float32").reshape(3, 2)
        >>> embedding_lookup(table, np.array([[2, 0]])).numpy()
        array([[[4., 5.],
                [0., 1.]]], dtype=float32)
    """
    indices = indices.data if isinstance(indices, Tensor) else xp.asarray(indices)
    return EmbeddingLookup.apply(embeddings, Tensor(indices))
