"""Keras 3's image ops (``keras.ops.image``) on NumPy arrays and cnnkit tensors."""

from __future__ import annotations

__all__: list[str] = []
