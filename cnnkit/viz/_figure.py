"""Figures without pyplot: a bare ``matplotlib.figure.Figure`` on the Agg canvas.

Plotting never touches pyplot's global state, never needs a display, and leaves no figure open
in a figure manager: every plot function creates a ``Figure`` here, draws on it and returns it.
Matplotlib is imported lazily, so ``import cnnkit`` (and ``import cnnkit.viz``) does not load it.
"""

from __future__ import annotations

import io
import os

import numpy as np

from cnnkit.io_utils import atomic_write

DPI = 100


def new_figure(width: float, height: float):
    """A ``width x height`` inch Figure at ``DPI`` (so ``100 * width`` pixels wide)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "cnnkit.viz needs matplotlib: pip install 'cnnkit[plot]' (matplotlib and pillow)."
        ) from None
    return Figure(figsize=(width, height), dpi=DPI)


def finish(fig, path: str | os.PathLike | None):
    """Save ``fig`` as a PNG at ``path`` (atomically) when given; return ``fig``."""
    if path is not None:
        with atomic_write(path) as f:
            fig.savefig(f, format="png", dpi=fig.dpi)
    return fig


def png_bytes(fig) -> bytes:
    """The PNG encoding of ``fig``, at its own size and DPI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


def as_image(x) -> tuple[np.ndarray, str | None]:
    """One image as ``(array for imshow, cmap)``: (H, W) gray or (H, W, 3) RGB in [0, 1]."""
    x = np.asarray(x, dtype="float64")
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 2:
        return x, "gray"
    if x.ndim == 3 and x.shape[-1] == 3:
        return np.clip(x, 0.0, 1.0), None
    raise ValueError(
        f"Expected an image of shape (H, W), (H, W, 1) or (H, W, 3). Received shape {x.shape}."
    )


def grid(count: int, columns: int | None = None) -> tuple[int, int]:
    """``(rows, columns)`` of a near-square grid holding ``count`` panels."""
    columns = columns or max(1, int(np.ceil(np.sqrt(count))))
    columns = min(columns, max(count, 1))
    return max(1, -(-count // columns)), columns


def blank_axes(ax) -> None:
    """No ticks, no frame: a panel showing an image."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
