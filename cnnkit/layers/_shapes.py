"""Rank checks shared by the attention, recurrent and reshaping layers (ValueError, never
IndexError, for an input of the wrong rank)."""

from __future__ import annotations


def require_rank(layer, shape, exact: int | None = None, minimum: int | None = None) -> tuple:
    """``shape`` as a tuple, or a ``ValueError`` naming the layer and the ranks.

    Example:
        >>> require_rank(None, (None, 3), exact=2)
        (None, 3)
    """
    shape = tuple(shape)
    name = getattr(layer, "name", type(layer).__name__)
    if exact is not None and len(shape) != exact:
        raise ValueError(
            f'Input of layer "{name}" is incompatible with the layer: expected ndim={exact}, '
            f"found ndim={len(shape)}. Full shape received: {shape}"
        )
    if minimum is not None and len(shape) < minimum:
        raise ValueError(
            f'Input of layer "{name}" is incompatible with the layer: expected '
            f"min_ndim={minimum}, found ndim={len(shape)}. Full shape received: {shape}"
        )
    return shape
