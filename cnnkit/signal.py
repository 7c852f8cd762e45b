"""2-D correlation and convolution of images, and the classic filters that go with them.

This module reproduces the convolution section of the lecture: a filter ``w`` slides over an
image ``A`` and, at every position, the overlapping pixels are multiplied and summed,

    (A * w)_ij = sum_{i'=0}^{K-1} sum_{j'=0}^{K-1} A(i + i', j + j') w(i', j').

Strictly, that formula is the *cross-correlation*; it is what a CNN layer computes and what
:func:`correlate2d` returns. The textbook *convolution*, :func:`convolve2d`, flips the kernel
in both directions first (``w[::-1, ::-1]``). The two agree for symmetric kernels (Gaussian,
Laplacian) and differ in sign or orientation for the others (Sobel).

Modes, for an ``H x W`` image and a ``KH x KW`` kernel (pixels outside the image are zeros):

- ``"valid"``: only positions where the kernel lies entirely inside the image; the output is
  smaller, ``(H - KH + 1, W - KW + 1)``. As in SciPy, when the kernel is larger than the image
  in *every* dimension the roles swap and the output is ``(KH - H + 1, KW - W + 1)``; when it
  is larger in only some dimensions there is no valid position and a ``ValueError`` is raised.
- ``"same"``: the kernel slides until its centre reaches the border; the output has the image's
  size, ``(H, W)``. For even kernels the "centre" is ambiguous; this module matches SciPy
  exactly (``"same"`` is the ``"full"`` output cropped from row ``KH // 2`` for correlation and
  from row ``(KH - 1) // 2`` for convolution, likewise for columns).
- ``"full"``: every position where the kernel and the image overlap at all; the output is
  larger, ``(H + KH - 1, W + KW - 1)``.

Colour images and feature maps, as in the lecture: an image ``A`` of shape ``(H, W, C)`` and a
kernel of shape ``(KH, KW, C)`` give one map ``(H', W')``, the sum over channels of the 2-D
correlations; a kernel of shape ``(KH, KW, C, F)`` stacks ``F`` such maps into
``(H', W', F)``.

The results equal ``scipy.signal.correlate2d`` / ``scipy.signal.convolve2d`` with their
default boundary (``"fill"`` with zeros) for real 2-D inputs. Deliberate deviations: complex
and empty inputs are rejected, and the output dtype follows cnnkit's policy (integer inputs
give ``backend.floatx()``, not ``int64``).

Example:
    >>> import numpy as np
    >>> A = np.zeros((32, 32, 3), dtype="float32")
    >>> w = np.zeros((5, 5, 3, 64), dtype="float32")
    >>> correlate2d(A, w, mode="valid").shape
    (28, 28, 64)
"""

from __future__ import annotations

import math

import numpy

from cnnkit import backend
from cnnkit.backend import xp

__all__ = [
    "correlate2d",
    "convolve2d",
    "gaussian_kernel",
    "sobel_x",
    "sobel_y",
    "laplacian",
]

_MODES = ("valid", "same", "full")


def correlate2d(A, w, mode: str = "valid"):
    """Slide ``w`` over ``A`` without flipping it: the lecture's formula, what CNN layers compute.

    ``out[i, j] = sum_{i', j'} A[i + i', j + j'] w[i', j']`` (summed over channels too when
    ``A`` has them), with zeros outside ``A``. Equals ``scipy.signal.correlate2d(A, w, mode)``
    for 2-D inputs.

    Args:
        A: the image, array-like of shape ``(H, W)`` or ``(H, W, C)``, real numbers.
        w: the kernel, ``(KH, KW)`` for a 2-D ``A``; ``(KH, KW, C)`` (one map) or
            ``(KH, KW, C, F)`` (``F`` feature maps) for an ``(H, W, C)`` image.
        mode: ``"valid"`` (default), ``"same"`` or ``"full"``; see the module docstring.

    Output shape:
        ``(H', W')``, or ``(H', W', F)`` for a 4-D kernel, where ``H' = H - KH + 1`` (valid),
        ``H`` (same) or ``H + KH - 1`` (full), and likewise for ``W'``.

    Returns:
        A float array: ``float64`` if an input is ``float64``, otherwise ``backend.floatx()``
        for integer inputs and the inputs' float type for float inputs.

    Raises:
        TypeError: if ``A`` or ``w`` is not real numeric (strings, objects, complex).
        ValueError: if ``mode`` is unknown, the ranks or channel counts of ``A`` and ``w``
            disagree, an input is empty, or ``"valid"`` has no position where one input
            covers the other.

    Example:
        >>> correlate2d([[1, 2, 3]], [[1, 10]])
        array([[21., 32.]], dtype=float32)
        >>> correlate2d([[1, 2, 3]], [[1, 10]], mode="same")
        array([[21., 32.,  3.]], dtype=float32)
    """
    return _sliding_dot("correlate2d", A, w, mode, flip=False)


def convolve2d(A, w, mode: str = "valid"):
    """True 2-D convolution: flip ``w`` in both spatial directions, then correlate.

    ``out[i, j] = sum_{i', j'} A[i - i', j - j'] w[i', j']`` (summed over channels too when
    ``A`` has them), with zeros outside ``A``. Equals ``scipy.signal.convolve2d(A, w, mode)``
    for 2-D inputs, including SciPy's placement of the ``"same"`` window for even kernels.
    CNN layers compute :func:`correlate2d` instead; the two agree for symmetric kernels.

    Args:
        A: the image, array-like of shape ``(H, W)`` or ``(H, W, C)``, real numbers.
        w: the kernel, ``(KH, KW)`` for a 2-D ``A``; ``(KH, KW, C)`` (one map) or
            ``(KH, KW, C, F)`` (``F`` feature maps) for an ``(H, W, C)`` image. Only the two
            spatial axes are flipped.
        mode: ``"valid"`` (default), ``"same"`` or ``"full"``; see the module docstring.

    Output shape:
        ``(H', W')``, or ``(H', W', F)`` for a 4-D kernel, where ``H' = H - KH + 1`` (valid),
        ``H`` (same) or ``H + KH - 1`` (full), and likewise for ``W'``.

    Returns:
        A float array, with the same dtype rule as :func:`correlate2d`.

    Raises:
        TypeError: if ``A`` or ``w`` is not real numeric (strings, objects, complex).
        ValueError: if ``mode`` is unknown, the ranks or channel counts of ``A`` and ``w``
            disagree, an input is empty, or ``"valid"`` has no position where one input
            covers the other.

    Example:
        >>> convolve2d([[1, 2, 3]], [[1, 10]])
        array([[12., 23.]], dtype=float32)
        >>> convolve2d([[1, 2, 3]], [[1, 10]], mode="same")
        array([[ 1., 12., 23.]], dtype=float32)
    """
    return _sliding_dot("convolve2d", A, w, mode, flip=True)


def _sliding_dot(name: str, A, w, mode: str, flip: bool):
    """Shared body of correlate2d / convolve2d: validate, pad, one tensordot over windows."""
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(
            f"Invalid value for argument `mode` of `{name}`. Expected one of {_MODES}. "
            f"Received: mode={mode!r}"
        )
    A = _as_real_array(name, "A", A)
    w = _as_real_array(name, "w", w)
    _check_shapes(name, A, w, mode)
    dtype = _result_dtype(A.dtype, w.dtype)
    A = A.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)

    two_d = A.ndim == 2
    if two_d:
        A = A[:, :, None]  # (H, W, 1)
        w = w[:, :, None]  # (KH, KW, 1)
    if flip:
        w = w[::-1, ::-1]  # convolution = correlation with the kernel rotated by 180 degrees

    pads = [_pads(name, mode, n, k, flip) for n, k in zip(A.shape[:2], w.shape[:2], strict=True)]
    A_pad = xp.pad(A, (pads[0], pads[1], (0, 0)))  # (H + pads, W + pads, C), zero fill
    # windows: (OH, OW, C, KH, KW), a strided view (no copy yet)
    windows = xp.lib.stride_tricks.sliding_window_view(A_pad, w.shape[:2], axis=(0, 1))
    # kernel: (C, KH, KW) or (C, KH, KW, F), to line up with the windows' trailing axes
    kernel = xp.moveaxis(w, 2, 0)
    out = xp.tensordot(windows, kernel, axes=([2, 3, 4], [0, 1, 2]))  # (OH, OW[, F])
    return out


def _pads(name: str, mode: str, n: int, k: int, flip: bool) -> tuple[int, int]:
    """Zeros to add (before, after) along one axis of length ``n`` for a kernel of length ``k``.

    The output along the axis is then ``n + before + after - k + 1``. ``"same"`` crops the
    ``"full"`` output where SciPy does: from ``k // 2`` for correlation and ``(k - 1) // 2``
    for convolution (computed here as a correlation with the flipped kernel).
    """
    if mode == "full":
        return k - 1, k - 1
    if mode == "same":
        small, large = (k - 1) // 2, k // 2
        return (large, small) if flip else (small, large)
    # valid: full overlap; if the kernel is the larger one, the image slides inside it
    return (0, 0) if n >= k else (k - n, k - n)


def _as_real_array(name: str, arg: str, value):
    """Convert ``value`` to an array, rejecting anything that is not real numeric."""
    try:
        array = xp.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"Invalid value for argument `{arg}` of `{name}`. Expected a real numeric array. "
            f"Received: {arg} of type {type(value).__name__} ({error})"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Invalid value for argument `{arg}` of `{name}`. Expected a real numeric array. "
            f"Received: {arg}.dtype={array.dtype}"
        )
    return array


def _check_shapes(name: str, A, w, mode: str) -> None:
    """Ranks, channels, emptiness and the "valid" covering rule, with Keras-style messages."""
    received = f"Received: A.shape={A.shape}, w.shape={w.shape}"
    if A.ndim not in (2, 3):
        raise ValueError(
            f"Invalid image for `{name}`: `A` must have shape (H, W) or (H, W, C). {received}"
        )
    if A.ndim == 2 and w.ndim != 2:
        raise ValueError(
            f"Invalid kernel for `{name}`: a 2-D `A` needs a 2-D `w` of shape (KH, KW). {received}"
        )
    if A.ndim == 3:
        if w.ndim not in (3, 4):
            raise ValueError(
                f"Invalid kernel for `{name}`: an `A` of shape (H, W, C) needs `w` of shape "
                f"(KH, KW, C) or (KH, KW, C, F). {received}"
            )
        if w.shape[2] != A.shape[2]:
            raise ValueError(
                f"Invalid kernel for `{name}`: `w` has {w.shape[2]} input channels but `A` "
                f"has {A.shape[2]} channels. {received}"
            )
    if A.size == 0 or w.size == 0:
        raise ValueError(f"Invalid input for `{name}`: `A` and `w` must not be empty. {received}")
    # SciPy's "valid" rule: one input must be at least as large as the other in every axis.
    image, kernel = A.shape[:2], w.shape[:2]
    if mode == "valid" and not (
        all(n >= k for n, k in zip(image, kernel, strict=True))
        or all(k >= n for n, k in zip(image, kernel, strict=True))
    ):
        raise ValueError(
            f"Invalid shapes for `{name}` with mode='valid': the kernel is larger than the image "
            f"in some spatial dimensions but not all, so there is no fully overlapping position. "
            f"Expected `A` at least as large as `w` in every spatial dimension (or smaller in "
            f"every one). {received}"
        )


def _result_dtype(*dtypes) -> numpy.dtype:
    """NumPy's result type, with integer and bool inputs counted as ``backend.floatx()``."""
    floats = [d if d.kind == "f" else numpy.dtype(backend.floatx()) for d in dtypes]
    return numpy.result_type(*floats)


def gaussian_kernel(size: int, sigma: float, dtype=None):
    """A ``size x size`` Gaussian blur kernel, normalised to sum to 1.

    ``g[i, j] = exp(-((i - c)^2 + (j - c)^2) / (2 sigma^2)) / Z`` with centre
    ``c = (size - 1) / 2`` and ``Z`` the sum of the unnormalised values. Odd sizes have a
    centre pixel; even sizes are allowed and are centred between pixels.

    Args:
        size: the side length, a strictly positive integer.
        sigma: the standard deviation in pixels, a strictly positive finite number.
        dtype: the output dtype; defaults to ``backend.floatx()`` (``float32``).

    Returns:
        An array of shape ``(size, size)``, symmetric, non-negative and summing to 1.

    Raises:
        ValueError: if ``size`` is not a strictly positive integer or ``sigma`` is not a
            strictly positive finite number.

    Example:
        >>> g = gaussian_kernel(3, 1.0)
        >>> g.shape, g.dtype, round(float(g.sum()), 6)
        ((3, 3), dtype('float32'), 1.0)
    """
    if isinstance(size, bool) or not isinstance(size, (int, numpy.integer)) or size <= 0:
        raise ValueError(
            "Invalid value for argument `size` of `gaussian_kernel`. Expected a strictly "
            f"positive integer. Received: size={size!r}"
        )
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, (int, float, numpy.integer, numpy.floating))
        or not math.isfinite(sigma)
        or sigma <= 0
    ):
        raise ValueError(
            "Invalid value for argument `sigma` of `gaussian_kernel`. Expected a strictly "
            f"positive finite number. Received: sigma={sigma!r}"
        )
    offsets = xp.arange(size, dtype="float64") - (size - 1) / 2.0  # (size,)
    g = xp.exp(-(offsets**2) / (2.0 * float(sigma) ** 2))  # (size,), separable factor
    kernel = xp.outer(g, g)  # (size, size)
    kernel /= kernel.sum()
    return kernel.astype(dtype or backend.floatx())


def sobel_x(dtype=None):
    """The horizontal-gradient Sobel kernel ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``.

    With :func:`correlate2d` it responds positively where the image gets brighter from left to
    right, i.e. it finds vertical edges. (:func:`convolve2d` flips the kernel, so the sign
    reverses; some texts print the flipped kernel ``[[1, 0, -1], ...]`` for that reason.)

    Args:
        dtype: the output dtype; defaults to ``backend.floatx()``.

    Returns:
        An array of shape ``(3, 3)``.

    Example:
        >>> sobel_x()[1]
        array([-2.,  0.,  2.], dtype=float32)
    """
    return xp.asarray([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=dtype or backend.floatx())


def sobel_y(dtype=None):
    """The vertical-gradient Sobel kernel ``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]``.

    The transpose of :func:`sobel_x`: with :func:`correlate2d` it responds positively where the
    image gets brighter from top to bottom, i.e. it finds horizontal edges.

    Args:
        dtype: the output dtype; defaults to ``backend.floatx()``.

    Returns:
        An array of shape ``(3, 3)``.

    Example:
        >>> sobel_y()[:, 1]
        array([-2.,  0.,  2.], dtype=float32)
    """
    return xp.asarray([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=dtype or backend.floatx())


def laplacian(dtype=None):
    """The 4-neighbour Laplacian kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``.

    A second-derivative edge detector: zero on constant and linear regions, non-zero on both
    sides of an edge. Symmetric, so :func:`correlate2d` and :func:`convolve2d` agree.

    Args:
        dtype: the output dtype; defaults to ``backend.floatx()``.

    Returns:
        An array of shape ``(3, 3)``.

    Example:
        >>> float(laplacian().sum())
        0.0
    """
    return xp.asarray([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=dtype or backend.floatx())
