"""The lecture's convolution examples: blur and edge filters in the three modes.

:func:`named_kernel` gives the classic kernels by name (the ``cnnkit convolve --kernel`` names);
:func:`convolve_image` applies one to a grayscale or colour image through
:mod:`cnnkit.signal`; :func:`plot_convolution` shows the results side by side, each titled with
its mode and output size (``valid`` shrinks the image by ``K - 1``, ``same`` keeps it, ``full``
grows it by ``K - 1``), drawn at a common pixel scale so the size difference is visible.

Example:
    >>> import numpy as np
    >>> image = np.zeros((10, 12), dtype="float32")
    >>> [convolve_image(image, named_kernel("sobel-x"), mode).shape
    ...  for mode in ("valid", "same", "full")]
    [(8, 10), (10, 12), (12, 14)]
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from cnnkit import signal
from cnnkit.io_utils import read_npy, read_regular
from cnnkit.viz._figure import as_image, blank_axes, finish, new_figure

KERNEL_NAMES = ("gaussian", "sobel-x", "sobel-y", "laplacian")
MODES = ("valid", "same", "full")


def named_kernel(name: str, sigma: float = 1.0, size: int | None = None) -> np.ndarray:
    """One of ``KERNEL_NAMES`` as a 2-D float32 array.

    Args:
        name: ``"gaussian"`` (blur), ``"sobel-x"`` (vertical edges), ``"sobel-y"`` (horizontal
            edges) or ``"laplacian"`` (edges in every direction).
        sigma: the Gaussian's standard deviation in pixels.
        size: the Gaussian's side; default ``2 * ceil(3 * sigma) + 1``.

    Raises:
        ValueError: for an unknown name (or an invalid ``sigma``/``size``).

    Example:
        >>> named_kernel("gaussian", sigma=1.0).shape
        (7, 7)
    """
    if name == "gaussian":
        if size is None:
            size = 2 * math.ceil(3 * float(sigma)) + 1 if float(sigma) > 0 else 1
        return signal.gaussian_kernel(size, sigma)
    makers = {"sobel-x": signal.sobel_x, "sobel-y": signal.sobel_y, "laplacian": signal.laplacian}
    if name not in makers:
        raise ValueError(f"Invalid kernel name. Expected one of {KERNEL_NAMES}. Received: {name!r}")
    return makers[name]()


def convolve_image(image, kernel, mode: str = "same", correlate: bool = False) -> np.ndarray:
    """Convolve a ``(H, W)`` image, or each channel of a ``(H, W, C)`` one, with a 2-D kernel.

    Uses :func:`cnnkit.signal.convolve2d` (the kernel flipped, as in SciPy), or
    :func:`cnnkit.signal.correlate2d` (the lecture's formula, what Conv2D computes) when
    ``correlate`` is true. The two agree for the symmetric Gaussian and Laplacian.

    Returns:
        ``(H', W')`` or ``(H', W', C)`` float array; see :mod:`cnnkit.signal` for the sizes.
    """
    function = signal.correlate2d if correlate else signal.convolve2d
    image = np.asarray(image)
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(
            f"Invalid kernel: expected a 2-D (KH, KW) array. Received shape {kernel.shape}."
        )
    if image.ndim == 3:
        return np.stack(
            [function(image[..., c], kernel, mode) for c in range(image.shape[-1])], axis=-1
        )
    return function(image, kernel, mode)


def _kernels(kernel) -> list[tuple[str, np.ndarray]]:
    """``(title, 2-D kernel)`` pairs from a name, an array, or a list of names and arrays."""
    if isinstance(kernel, str):
        return [(kernel, named_kernel(kernel))]
    if isinstance(kernel, (list, tuple)) and any(isinstance(k, (str, np.ndarray)) for k in kernel):
        return [pair for k in kernel for pair in _kernels(k)]
    array = np.asarray(kernel, dtype="float64")
    shape = "x".join(str(n) for n in array.shape)
    return [(f"{shape} kernel", array)]


def plot_convolution(
    image,
    kernel=("gaussian", "sobel-x"),
    modes=MODES,
    correlate: bool = False,
    path: str | os.PathLike | None = None,
):
    """An image and its convolution with each kernel in each mode, titled with the output size.

    The default shows the lecture's two examples: a Gaussian blur and an edge detector (Sobel).
    Colour images are filtered channel by channel; edge outputs are shown in gray, each panel
    scaled to its own range.

    Args:
        image: ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)`` array, values in [0, 1].
        kernel: a name from ``KERNEL_NAMES``, a 2-D array, or a list of them (one row each).
        modes: the modes to show, from ``("valid", "same", "full")``.
        correlate: use correlation (no kernel flip) instead of convolution.
        path: optional PNG file to write.

    Returns:
        The ``Figure``.

    Raises:
        ValueError: for an unknown kernel name or mode, or an image that is not 2-D/RGB.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(
                f"Invalid value for argument `modes`. Expected modes from {MODES}. "
                f"Received: {mode!r}"
            )
    picture, _ = as_image(image)
    kernels = _kernels(kernel)
    outputs = [[convolve_image(picture, k, mode, correlate) for mode in modes] for _, k in kernels]
    height = max([picture.shape[0]] + [o.shape[0] for row in outputs for o in row])
    width = max([picture.shape[1]] + [o.shape[1] for row in outputs for o in row])
    columns = len(modes) + 1
    fig = new_figure(2.4 * columns, 2.6 * len(kernels) + 0.2)

    def show(ax, array, title):
        shown, cmap = as_image(_unit(array))
        h, w = shown.shape[:2]
        top, left = (height - h) / 2, (width - w) / 2  # centred on a common pixel grid
        ax.imshow(shown, cmap=cmap, extent=(left, left + w, top + h, top), interpolation="nearest")
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        blank_axes(ax)
        ax.set_title(title, fontsize=9)

    for row, ((name, _), results) in enumerate(zip(kernels, outputs)):
        show(
            fig.add_subplot(len(kernels), columns, row * columns + 1),
            picture,
            f"input {picture.shape[0]}x{picture.shape[1]}",
        )
        for col, (mode, result) in enumerate(zip(modes, results), start=2):
            ax = fig.add_subplot(len(kernels), columns, row * columns + col)
            show(ax, result, f"{name}, {mode}\n{result.shape[0]}x{result.shape[1]}")
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.88, wspace=0.08, hspace=0.35)
    return finish(fig, path)


def _unit(array) -> np.ndarray:
    """``array`` rescaled to [0, 1] (a constant array becomes zeros)."""
    array = np.asarray(array, dtype="float64")
    low, high = array.min(), array.max()
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def to_uint8(array) -> np.ndarray:
    """``array`` rescaled to the full 0-255 range (min to 0, max to 255) as ``uint8``."""
    return np.round(_unit(array) * 255.0).astype("uint8")


MAX_KERNEL_SIDE = 1025  # a kernel's side, from its size or read from a file
MAX_KERNEL_FILE_BYTES = 64 << 20


def read_kernel(spec: str, sigma: float = 1.0, size: int | None = None) -> tuple[str, np.ndarray]:
    """``(name, 2-D float64 array)`` for a kernel name (:func:`named_kernel`) or a kernel file:
    a ``.npy`` array, or numbers in CSV or whitespace-separated text, read within
    ``MAX_KERNEL_FILE_BYTES`` and at most ``MAX_KERNEL_SIDE`` a side.

    Args:
        spec: one of ``KERNEL_NAMES``, or a file path.
        sigma: the Gaussian's standard deviation (``"gaussian"`` only).
        size: the Gaussian's side (``"gaussian"`` only; ``--size`` in messages).

    Raises:
        FileNotFoundError: if ``spec`` is neither a name nor an existing file.
        ValueError: if the file does not hold a non-empty, finite 2-D array of numbers.
    """
    if spec in KERNEL_NAMES:
        side = size if size is not None else 2 * math.ceil(3 * sigma) + 1
        if spec == "gaussian" and side > MAX_KERNEL_SIDE:
            given = f"--size {size}" if size is not None else f"--sigma {sigma:g}"
            raise ValueError(
                f"{given}: a {side}x{side} Gaussian kernel is larger than the "
                f"{MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE} allowed."
            )
        return spec, np.asarray(named_kernel(spec, sigma=sigma, size=size), dtype="float64")
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"--kernel {spec!r} is neither a kernel name ({', '.join(KERNEL_NAMES)}) nor a file."
        )
    try:
        if path.suffix == ".npy":
            kernel = read_npy(path, MAX_KERNEL_FILE_BYTES, "kernel file")
        else:
            text = read_regular(path, MAX_KERNEL_FILE_BYTES, "kernel file").decode("utf-8")
            kernel = np.loadtxt(io.StringIO(text), delimiter="," if "," in text else None, ndmin=2)
    except (ValueError, UnicodeDecodeError, EOFError) as error:
        if str(path) in str(error):
            raise
        raise ValueError(
            f"{path}: not a kernel file (.npy, or numbers in CSV/text): {error}"
        ) from None
    kernel = np.asarray(kernel)
    if kernel.ndim != 2 or kernel.size == 0 or kernel.dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: expected a non-empty 2-D array of numbers; got shape {kernel.shape} and "
            f"dtype {kernel.dtype}."
        )
    if max(kernel.shape) > MAX_KERNEL_SIDE:
        raise ValueError(
            f"{path}: a {kernel.shape[0]}x{kernel.shape[1]} kernel is larger than the "
            f"{MAX_KERNEL_SIDE}x{MAX_KERNEL_SIDE} allowed."
        )
    kernel = kernel.astype("float64")
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"{path}: the kernel holds NaN or infinite values.")
    return path.name, kernel
