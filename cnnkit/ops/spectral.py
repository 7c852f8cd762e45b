"""Keras 3's discrete Fourier transforms (``keras.ops.fft``, ``fft2``, ``ifft2``, ``rfft``,
``irfft``), on (real, imaginary) pairs of real arrays.

cnnkit has no complex dtype, so, as in Keras, a complex array is a pair ``(real, imag)`` of
float arrays of one shape, and every transform returns such a pair. Each transform is a
product with the DFT matrix of the transformed axis, ``W[j, k] = exp(-2 pi i j k / n)``,
split into its cosine and sine parts:

    X_re = x_re @ C + x_im @ S,    X_im = x_im @ C - x_re @ S,
    C[j, k] = cos(2 pi j k / n),   S[j, k] = sin(2 pi j k / n).

Written with :func:`cnnkit.ops.numpy.matmul`, the transforms are differentiable through the
autodiff engine, and exact up to float rounding (the matrices are built in float64, then
cast to the input's float dtype). The cost is ``O(n^2)`` per transformed row instead of an
FFT's ``O(n log n)``: fine for the patch grids and sequence lengths of models such as FNet.

Example:
    >>> import numpy as np
    >>> real, imag = fft((np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4)))
    >>> np.round(real, 6).tolist(), np.round(imag, 6).tolist()
    ([10.0, -2.0, -2.0, -2.0], [0.0, 2.0, 0.0, -2.0])
"""

from __future__ import annotations

import functools

import numpy as np

from cnnkit.ops import dtypes
from cnnkit.ops import numpy as knp
from cnnkit.ops._dispatch import cast_input, make_symbolic, to_array
from cnnkit.ops._dispatch import data as _unwrap

__all__ = ["fft", "fft2", "ifft2", "irfft", "rfft"]


@functools.lru_cache(maxsize=32)
def _cos_sin(rows: int, cols: int, n: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """``cos`` and ``sin`` of ``2 pi j k / n`` for ``j < rows``, ``k < cols`` (read-only)."""
    turns = np.outer(np.arange(rows), np.arange(cols)) % n  # j k mod n: exact integers
    angle = 2.0 * np.pi * turns / n
    cos, sin = np.cos(angle), np.sin(angle)
    quarter = (4 * turns) % n == 0  # multiples of pi / 2: exactly 0, 1 or -1
    cos[quarter], sin[quarter] = np.round(cos[quarter]), np.round(sin[quarter])
    cos, sin = (cos + 0.0).astype(dtype), (sin + 0.0).astype(dtype)  # no -0.0
    cos.flags.writeable = sin.flags.writeable = False
    return cos, sin


def _float_dtype(x) -> str:
    return dtypes.float_of(dtypes.standardize_dtype(to_array(_unwrap(x)).dtype))


def _pair(x, name: str, min_rank: int):
    """The two parts of a complex input ``x = (real, imag)``, checked and cast to float."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"`{name}` expects a tuple of two arrays (real, imag). Received: x={x!r}"[:400]
        )
    real, imag = x
    real_shape, imag_shape = np.shape(_unwrap(real)), np.shape(_unwrap(imag))
    if real_shape != imag_shape:
        raise ValueError(
            f"`{name}`: the real and imaginary parts must have the same shape. Received: "
            f"x[0].shape = {real_shape}, x[1].shape = {imag_shape}"
        )
    if len(real_shape) < min_rank:
        raise ValueError(
            f"`{name}` expects inputs of rank >= {min_rank}. Received: shape {real_shape}"
        )
    for part, label in ((real, "x[0]"), (imag, "x[1]")):
        kind = np.dtype(to_array(_unwrap(part)).dtype).kind
        if kind != "f":
            raise ValueError(
                f"`{name}` expects float real and imaginary parts. Received: {label}.dtype = "
                f"{to_array(_unwrap(part)).dtype}"
            )
    dtype = _float_dtype(real)
    return cast_input(real, dtype), cast_input(imag, dtype), dtype


def _dft_last(real, imag, dtype: str, inverse: bool):
    """The DFT (or the inverse DFT, scaled by ``1/n``) of ``real + i imag`` on the last axis."""
    n = np.shape(_unwrap(real))[-1]
    cos, sin = _cos_sin(n, n, n, dtype)
    if inverse:  # conj(W) / n
        cos, sin = cos / np.asarray(n, dtype), -sin / np.asarray(n, dtype) + 0.0
    out_real = knp.add(knp.matmul(real, cos), knp.matmul(imag, sin))
    out_imag = knp.subtract(knp.matmul(imag, cos), knp.matmul(real, sin))
    return out_real, out_imag


def _dft_last_two(real, imag, dtype: str, inverse: bool):
    real, imag = _dft_last(real, imag, dtype, inverse)
    real, imag = knp.swapaxes(real, -1, -2), knp.swapaxes(imag, -1, -2)
    real, imag = _dft_last(real, imag, dtype, inverse)
    return knp.swapaxes(real, -1, -2), knp.swapaxes(imag, -1, -2)


def fft(x):
    """The discrete Fourier transform of ``x = (real, imag)`` along the last axis.

    Args:
        x: a pair ``(real, imag)`` of float arrays of one shape, rank >= 1.

    Returns:
        The pair ``(real, imag)`` of the transform, each of the input's shape and dtype.

    Raises:
        ValueError: when ``x`` is not a pair, the parts differ in shape, are not float, or
            have rank 0.

    Example:
        >>> import numpy as np
        >>> real, imag = fft((np.array([0.0, 1.0]), np.array([0.0, 0.0])))
        >>> real.tolist(), imag.tolist()
        ([1.0, -1.0], [0.0, 0.0])
    """
    real, imag, dtype = _pair(x, "fft", 1)
    return _dft_last(real, imag, dtype, inverse=False)


def fft2(x):
    """The 2-D discrete Fourier transform of ``x = (real, imag)`` over the last two axes.

    Args:
        x: a pair ``(real, imag)`` of float arrays of one shape, rank >= 2.

    Returns:
        The pair ``(real, imag)`` of the transform, each of the input's shape and dtype.

    Raises:
        ValueError: when ``x`` is not a pair, the parts differ in shape, are not float, or
            have rank < 2.

    Example:
        >>> import numpy as np
        >>> real, imag = fft2((np.ones((2, 2)), np.zeros((2, 2))))
        >>> real.tolist(), imag.tolist()
        ([[4.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]])
    """
    real, imag, dtype = _pair(x, "fft2", 2)
    return _dft_last_two(real, imag, dtype, inverse=False)


def ifft2(x):
    """The inverse of :func:`fft2` (scaled by ``1 / (rows * columns)``, as NumPy's ``ifft2``).

    Args:
        x: a pair ``(real, imag)`` of float arrays of one shape, rank >= 2.

    Returns:
        The pair ``(real, imag)`` of the inverse transform, each of the input's shape.

    Raises:
        ValueError: as :func:`fft2`.

    Example:
        >>> import numpy as np
        >>> real, imag = ifft2((np.array([[4.0, 0.0], [0.0, 0.0]]), np.zeros((2, 2))))
        >>> real.tolist()
        [[1.0, 1.0], [1.0, 1.0]]
    """
    real, imag, dtype = _pair(x, "ifft2", 2)
    return _dft_last_two(real, imag, dtype, inverse=True)


def _fft_length(fft_length, name: str, default: int) -> int:
    if fft_length is None:
        return default
    if isinstance(fft_length, bool) or not isinstance(fft_length, (int, np.integer)):
        raise TypeError(
            f"`{name}`: `fft_length` must be an int or None. Received: fft_length={fft_length!r}"
        )
    if fft_length < 1:
        raise ValueError(f"`{name}`: `fft_length` must be >= 1. Received: fft_length={fft_length}")
    return int(fft_length)


def _fit_last(x, length: int):
    """``x`` cut or zero-padded on its last axis to ``length``."""
    size = np.shape(_unwrap(x))[-1]
    if size > length:
        return x[..., :length]
    if size < length:
        pad = [(0, 0)] * (np.ndim(_unwrap(x)) - 1) + [(0, length - size)]
        return knp.pad(x, pad)
    return x


def rfft(x, fft_length=None):
    """The DFT of a real ``x`` along the last axis: its ``fft_length // 2 + 1`` first bins.

    Args:
        x: a real array of rank >= 1 (ints compute in floatx).
        fft_length: the transform's length; the last axis is cut or zero-padded to it.
            Defaults to that axis's size.

    Returns:
        The pair ``(real, imag)``, of shape ``x.shape[:-1] + (fft_length // 2 + 1,)``.

    Raises:
        ValueError: for a rank-0 ``x`` or ``fft_length < 1``.
        TypeError: for a non-integer ``fft_length``.

    Example:
        >>> import numpy as np
        >>> real, imag = rfft(np.array([1.0, 2.0, 3.0, 4.0]))
        >>> np.round(real, 6).tolist(), np.round(imag, 6).tolist()
        ([10.0, -2.0, -2.0], [0.0, 2.0, 0.0])
    """
    shape = np.shape(_unwrap(x))
    if len(shape) < 1:
        raise ValueError(f"`rfft` expects an input of rank >= 1. Received: shape {shape}")
    dtype = _float_dtype(x)
    n = _fft_length(fft_length, "rfft", shape[-1])
    x = _fit_last(cast_input(x, dtype), n)
    cos, sin = _cos_sin(n, n // 2 + 1, n, dtype)
    return knp.matmul(x, cos), knp.matmul(x, -sin + 0.0)


def irfft(x, fft_length=None):
    """The inverse of :func:`rfft`: a real signal of ``fft_length`` samples from its bins.

    As NumPy's ``irfft``, the spectrum is taken Hermitian-symmetric: only its
    ``fft_length // 2 + 1`` first bins are used (cut or zero-padded to that number), and the
    imaginary parts of the zero-frequency and (for an even length) Nyquist bins are ignored.

    Args:
        x: a pair ``(real, imag)`` of float arrays of one shape, rank >= 1.
        fft_length: the output length. Defaults to ``2 * (bins - 1)``.

    Returns:
        A real array of shape ``x[0].shape[:-1] + (fft_length,)``.

    Raises:
        ValueError: as :func:`fft`, or for ``fft_length < 1``.
        TypeError: for a non-integer ``fft_length``.

    Example:
        >>> import numpy as np
        >>> np.round(irfft((np.array([10.0, -2.0, -2.0]), np.array([0.0, 2.0, 0.0]))), 6)
        array([1., 2., 3., 4.])
    """
    real, imag, dtype = _pair(x, "irfft", 1)
    bins = np.shape(_unwrap(real))[-1]
    n = _fft_length(fft_length, "irfft", 2 * (bins - 1))
    if n < 1:
        raise ValueError(
            f"`irfft`: the default length 2 * (bins - 1) is {n}; give `fft_length` for "
            f"{bins} bin(s)."
        )
    used = n // 2 + 1
    real, imag = _fit_last(real, used), _fit_last(imag, used)
    weights = np.full(used, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    cos, sin = _cos_sin(used, n, n, "float64")
    cos = (cos * weights[:, None] / n).astype(dtype)
    sin = (sin * weights[:, None] / n).astype(dtype)
    return knp.subtract(knp.matmul(real, cos), knp.matmul(imag, sin))


make_symbolic(globals(), __all__)
