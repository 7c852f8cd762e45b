"""Keras 3's discrete Fourier transforms (``keras.ops.fft``, ``fft2``, ``ifft2``, ``rfft``,
``irfft``) and short-time transforms (``stft``, ``istft``), on (real, imaginary) pairs of
real arrays.

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

The short-time transform frames the (reflect-padded) signal with
:func:`cnnkit.ops.core.extract_sequences` and multiplies the frames by the DFT matrix with the
window folded into its rows; its inverse overlap-adds the inverse-transformed frames by pads
and reshapes only, so both stay differentiable.

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
from cnnkit.ops.core import extract_sequences

__all__ = ["fft", "fft2", "ifft2", "irfft", "istft", "rfft", "stft"]


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


# Windows by name, each a function of the sample index ``n`` over a period of ``m`` samples
# (``m = length`` for a periodic window, ``length - 1`` for a symmetric one): the formulas of
# SciPy's ``get_window`` (and NumPy's ``hanning``, ``hamming``, ...).
_WINDOWS = {
    "hann": lambda n, m: 0.5 - 0.5 * np.cos(2.0 * np.pi * n / m),
    "hamming": lambda n, m: 0.54 - 0.46 * np.cos(2.0 * np.pi * n / m),
    "blackman": lambda n, m: (
        0.42 - 0.5 * np.cos(2.0 * np.pi * n / m) + 0.08 * np.cos(4.0 * np.pi * n / m)
    ),
    "bartlett": lambda n, m: 1.0 - np.abs(2.0 * n / m - 1.0),
    "boxcar": lambda n, m: np.ones_like(n),
}
_WINDOW_ALIASES = {"hanning": "hann", "triangle": "bartlett", "ones": "boxcar", "rect": "boxcar"}


def window_array(window, length: int, periodic: bool, name: str = "window") -> np.ndarray:
    """The float64 samples of ``window``: a name (``"hann"``, ``"hamming"``, ``"blackman"``,
    ``"bartlett"``, ``"boxcar"``) or an array of ``length`` samples.

    A periodic window (the default of spectral analysis) is the symmetric window of
    ``length + 1`` samples without its last sample, as SciPy's ``get_window(..., fftbins=True)``.

    Raises:
        ValueError: for an unknown name, or an array of another shape than ``(length,)``.
    """
    if isinstance(window, str):
        key = _WINDOW_ALIASES.get(window, window)
        if key not in _WINDOWS:
            raise ValueError(
                f"`{name}`: unknown window {window!r}; expected one of "
                f"{sorted(_WINDOWS)} or an array of {length} samples."
            )
        if length == 1:
            return np.ones(1)
        return _WINDOWS[key](np.arange(length, dtype="float64"), length if periodic else length - 1)
    win = np.asarray(to_array(_unwrap(window)), dtype="float64")
    if win.shape != (length,):
        raise ValueError(
            f"`{name}`: the shape of `window` must be equal to [{length}] (the sequence length). "
            f"Received: window shape={win.shape}"
        )
    return win


def _positive_int(value, arg: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}`: `{arg}` must be a positive integer. Received: {arg}={value!r}")
    return int(value)


def _stft_arguments(name, sequence_length, sequence_stride, fft_length, window, dtype):
    """The checked lengths and the analysis window zero-padded (centred) to ``fft_length``
    (None for no window), in ``dtype``."""
    sequence_length = _positive_int(sequence_length, "sequence_length", name)
    sequence_stride = _positive_int(sequence_stride, "sequence_stride", name)
    fft_length = _positive_int(fft_length, "fft_length", name)
    if fft_length < sequence_length:
        raise ValueError(
            f"`{name}`: `fft_length` must equal or be larger than `sequence_length`. Received: "
            f"sequence_length={sequence_length}, fft_length={fft_length}"
        )
    if isinstance(window, str) and window not in ("hann", "hamming"):
        raise ValueError(
            f'`{name}`: a string `window` must be one of "hann", "hamming". Received: '
            f"window={window!r}"
        )
    win = None
    if window is not None:
        left = (fft_length - sequence_length) // 2
        win = window_array(window, sequence_length, periodic=True, name=name)
        win = np.pad(win, (left, fft_length - sequence_length - left)).astype(dtype)
    return sequence_length, sequence_stride, fft_length, win


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform of ``x`` along its last axis.

    Frames of ``sequence_length`` samples every ``sequence_stride`` samples are multiplied by
    the (periodic) window, zero-padded on both sides to ``fft_length`` and transformed as by
    :func:`rfft`; no scaling is applied (as ``torch.stft``). Built from differentiable ops
    (reflect padding, framing, a product with the windowed DFT matrix), so gradients flow
    back to ``x``.

    Args:
        x: a float32 or float64 array of rank >= 1, the signals on the last axis.
        sequence_length: the window (frame) length in samples.
        sequence_stride: the hop between frames in samples.
        fft_length: the transform's length, ``>= sequence_length``.
        window: ``"hann"`` (default), ``"hamming"``, an array of ``sequence_length``
            samples, or None for no window.
        center: pad ``x`` by ``fft_length // 2`` samples on each side (reflecting it), so that
            frame ``t`` is centred at sample ``t * sequence_stride``; otherwise frame ``t``
            starts there.

    Returns:
        The pair ``(real, imag)``, each of shape
        ``x.shape[:-1] + (num_sequences, fft_length // 2 + 1)``, where ``num_sequences =
        1 + (length + 2 * (fft_length // 2 if center else 0) - fft_length) // sequence_stride``.

    Raises:
        TypeError: for an input other than float32 or float64.
        ValueError: for non-positive lengths, ``fft_length < sequence_length``, an unknown
            window name, a window array of the wrong shape, or a signal shorter than one frame.

    Example:
        >>> import numpy as np
        >>> real, imag = stft(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), 3, 2, 3)
        >>> np.round(real, 4).tolist()
        [[0.75, -0.375], [3.75, -1.875], [5.25, -2.625]]
    """
    dtype = dtypes.standardize_dtype(to_array(_unwrap(x)).dtype)
    if dtype not in ("float32", "float64"):
        raise TypeError(f"`stft` expects a float32 or float64 input. Received: input type={dtype}")
    shape = np.shape(_unwrap(x))
    if len(shape) < 1:
        raise ValueError(f"`stft` expects an input of rank >= 1. Received: shape {shape}")
    _, stride, n, win = _stft_arguments(
        "stft", sequence_length, sequence_stride, fft_length, window, dtype
    )
    if center:
        half = n // 2
        if half >= shape[-1]:
            raise ValueError(
                f"`stft`: with center=True the signal must be longer than fft_length // 2 = "
                f"{half} samples (it is reflected). Received: length {shape[-1]}"
            )
        x = knp.pad(x, [(0, 0)] * (len(shape) - 1) + [(half, half)], mode="reflect")
    length = np.shape(_unwrap(x))[-1]
    if length < n:
        raise ValueError(
            f"`stft`: the signal ({length} samples"
            f"{' after padding' if center else ''}) is shorter than fft_length={n}."
        )
    frames = extract_sequences(x, n, stride)  # (..., num_sequences, fft_length)
    cos, sin = _cos_sin(n, n // 2 + 1, n, "float64")
    weight = np.ones(n) if win is None else win.astype("float64")
    cos = (cos * weight[:, None]).astype(dtype)
    sin = (-sin * weight[:, None] + 0.0).astype(dtype)
    return knp.matmul(frames, cos), knp.matmul(frames, sin)


def _overlap_add(frames, stride: int):
    """Frames ``(..., N, L)`` summed at offsets ``0, stride, 2 stride, ...``: the signal of
    ``(N - 1) * stride + L`` samples, by pads and reshapes only (differentiable).

    Each frame is cut into ``S = ceil(L / stride)`` blocks of ``stride`` samples; block ``s``
    of frame ``t`` lands at block ``t + s`` of the output. Laying the ``S`` block sequences
    (zero-padded by ``S`` blocks) end to end and re-reading them one block shorter per row
    shifts row ``s`` by ``s`` blocks, after which a sum over rows adds them up.
    """
    shape = np.shape(_unwrap(frames))
    batch, (count, length) = shape[:-2], shape[-2:]
    rows = -(-length // stride)
    frames = knp.pad(frames, [(0, 0)] * (len(shape) - 1) + [(0, rows * stride - length)])
    frames = knp.reshape(frames, (*batch, count, rows, stride))
    frames = knp.swapaxes(frames, -3, -2)  # (..., S, N, stride)
    frames = knp.pad(frames, [(0, 0)] * len(batch) + [(0, 0), (0, rows), (0, 0)])
    width = (count + rows) * stride
    flat = knp.reshape(frames, (*batch, rows * width))
    shifted = knp.reshape(flat[..., : rows * (width - stride)], (*batch, rows, width - stride))
    return knp.sum(shifted, axis=-2)[..., : (count - 1) * stride + length]


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of :func:`stft`: the signal rebuilt from ``x = (real, imag)`` by overlap-add.

    Each frame is brought back by :func:`irfft`, multiplied by the window and overlap-added;
    the sum is divided by the overlap-added squared window. As Keras on the torch backend:
    when ``sequence_length == fft_length``, ``center`` is True and there is a window, that
    divisor is the exact envelope of the frames present (``torch.istft``, a perfect inverse);
    otherwise it is the envelope of an endless frame train (TensorFlow's
    ``inverse_stft_window_fn``), exact away from the first and last frames, and without a
    window the frames are only summed.

    Args:
        x: a pair ``(real, imag)`` of float arrays of shape ``(..., num_sequences, bins)``.
        sequence_length, sequence_stride, fft_length, window, center: those given to
            :func:`stft`.
        length: the number of samples to return (cut or zero-padded); by default, all of them
            (less the ``fft_length // 2`` padding on each side with ``center``).

    Returns:
        A float array of shape ``x[0].shape[:-2] + (samples,)``.

    Raises:
        ValueError: for a malformed pair, rank < 2, or as :func:`stft` for the arguments.

    Example:
        >>> import numpy as np
        >>> signal = np.arange(16.0)
        >>> np.allclose(istft(stft(signal, 8, 2, 8), 8, 2, 8), signal)
        True
    """
    real, imag, dtype = _pair(x, "istft", 2)
    seq, stride, n, win = _stft_arguments(
        "istft", sequence_length, sequence_stride, fft_length, window, dtype
    )
    if length is not None:
        length = _positive_int(length, "length", "istft")
    count = np.shape(_unwrap(real))[-2]
    frames = irfft((real, imag), n)  # (..., num_sequences, fft_length)
    if win is not None:
        win64 = win.astype("float64")
        if seq == n and center:
            starts = np.arange(count)[:, None] * stride + np.arange(n)
            envelope = np.bincount(starts.ravel(), weights=np.tile(win64**2, count))
            scale = None
        else:
            period = -(-n // stride) * stride
            squares = np.pad(win64**2, (0, period - n)).reshape(-1, stride).sum(axis=0)
            squares = np.tile(squares, period // stride)[:n]
            scale = win64 / np.where(squares > 0, squares, 1.0)
            envelope = None
        frames = knp.multiply(frames, (win64 if scale is None else scale).astype(dtype))
    signal = _overlap_add(frames, stride)
    if win is not None and envelope is not None:
        safe = np.where(envelope > 1e-11, envelope, 1.0)
        signal = knp.divide(signal, safe.astype(dtype))
    start = n // 2 if center else 0
    total = np.shape(_unwrap(signal))[-1]
    if length is not None:
        end = start + length
    else:
        end = total - n // 2 if center else total
    signal = signal[..., start:end]
    if length is not None and np.shape(_unwrap(signal))[-1] < length:
        signal = _fit_last(signal, length)  # zeros past the last frame, as torch.istft
    return signal


make_symbolic(globals(), __all__)
