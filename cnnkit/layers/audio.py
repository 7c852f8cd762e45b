"""Spectrogram layers of Keras 3: ``STFTSpectrogram`` and ``MelSpectrogram``.

``STFTSpectrogram`` computes the short-time Fourier transform as a strided 1-D convolution
whose kernels are the windowed DFT rows (:class:`cnnkit.initializers.STFT`): the kernels are
weights, trainable by default, so the transform can be fine-tuned with the model.
``MelSpectrogram`` takes :func:`cnnkit.ops.stft`, raises the magnitude to ``mag_exp``, maps the
bins to the mel scale (HTK's ``mel(f) = 1127 ln(1 + f / 700)``, triangles of peak 1) and,
by default, converts power to decibels clipped ``top_db`` below the batch's maximum.

Example:
    >>> import numpy as np
    >>> STFTSpectrogram(frame_length=64, frame_step=32)(np.zeros((2, 256, 1))).shape
    (2, 7, 33)
    >>> MelSpectrogram(fft_length=64, sequence_stride=32, num_mel_bins=8)(
    ...     np.zeros((2, 256))).shape
    (2, 8, 9)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from cnnkit import backend, ops
from cnnkit.argument_validation import check_positive_int, check_real
from cnnkit.initializers import STFT
from cnnkit.layers.base import Layer
from cnnkit.ops.spectral import window_array

_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


def _data_format(value) -> str:
    """``value``, or the configured default: a transpose is all this layer needs for either."""
    value = backend.image_data_format() if value is None else value
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'. Received: "
            f"data_format={value!r}"
        )
    return value


def _check_rank(input_shape, ranks, layer: str, expected: str) -> None:
    if len(input_shape) not in ranks:
        raise ValueError(
            f"`{layer}` expects inputs of shape {expected}. Received: "
            f"input_shape={tuple(input_shape)}"
        )


class STFTSpectrogram(Layer):
    """Spectrograms of 1-D signals by a short-time Fourier transform with trainable kernels.

    Each channel is convolved, with stride ``frame_step``, with the real and imaginary DFT
    kernels of ``fft_length // 2 + 1`` bins over ``frame_length`` samples, windowed and scaled
    (:class:`cnnkit.initializers.STFT`); ``mode`` picks what is returned from them.

    Args:
        mode: ``"log"`` (default, ``log`` of the magnitude), ``"magnitude"``, ``"psd"`` (the
            power, its inner bins doubled), ``"real"``, ``"imag"``, ``"angle"`` (the phase) or
            ``"stft"`` (the real bins then the imaginary ones).
        frame_length: the window length in samples. Defaults to 256.
        frame_step: the hop between frames, ``1 <= frame_step <= frame_length``. Defaults to
            ``frame_length // 2``.
        fft_length: the DFT length (``>= frame_length``; a power of two is recommended).
            Defaults to the smallest power of two ``>= frame_length``.
        window: ``"hann"`` (default), ``"hamming"``, ``"blackman"``, ``"bartlett"``,
            ``"boxcar"``, an array of ``frame_length`` samples, or None.
        periodic: a periodic window instead of a symmetric one. Defaults to False.
        scaling: ``"density"`` (default), ``"spectrum"`` or None; see
            :class:`cnnkit.initializers.STFT`.
        padding: ``"valid"`` (default) or ``"same"``.
        expand_dims: return one image per channel, ``(time, bins, channels)``, instead of
            the channels' bins side by side. Defaults to False.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape:
        ``(batch, time, channels)`` (channels_last) or ``(batch, channels, time)``.

    Output shape:
        channels_last: ``(batch, frames, channels * bins)``, or ``(batch, frames, bins,
        channels)`` with ``expand_dims``; channels_first: ``(batch, channels * bins, frames)``,
        or ``(batch, channels, frames, bins)``; ``bins = fft_length // 2 + 1`` (twice that in
        ``"stft"`` mode), ``frames`` as a 1-D convolution with ``padding``.

    Raises:
        ValueError: for an invalid mode, scaling, padding, window or lengths.

    Example:
        >>> import numpy as np
        >>> layer = STFTSpectrogram(mode="magnitude", frame_length=16, expand_dims=True)
        >>> layer(np.zeros((2, 64, 3))).shape
        (2, 7, 9, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        mode="log",
        frame_length=256,
        frame_step=None,
        fft_length=None,
        window="hann",
        periodic=False,
        scaling="density",
        padding="valid",
        expand_dims=False,
        data_format=None,
        **kwargs,
    ):
        frame_length = check_positive_int("frame_length", frame_length)
        if frame_step is not None and (
            not isinstance(frame_step, (int, np.integer))
            or frame_step > frame_length
            or frame_step < 1
        ):
            raise ValueError(
                "`frame_step` should be a positive integer not greater than `frame_length`. "
                f"Received frame_step={frame_step}, frame_length={frame_length}"
            )
        if fft_length is not None:
            fft_length = check_positive_int("fft_length", fft_length)
            if fft_length < frame_length:
                raise ValueError(
                    "`fft_length` should be not less than `frame_length`. Received "
                    f"fft_length={fft_length}, frame_length={frame_length}"
                )
            if fft_length & (fft_length - 1):
                warnings.warn(
                    f"`fft_length` is recommended to be a power of two. Received "
                    f"fft_length={fft_length}",
                    stacklevel=2,
                )
        if mode not in _MODES:
            raise ValueError(
                f"Output mode is invalid, it must be one of {', '.join(_MODES)}. Received: "
                f"mode={mode!r}"
            )
        if padding not in ("valid", "same"):
            raise ValueError(
                f"Padding is invalid, it should be 'valid', 'same'. Received: padding={padding!r}"
            )
        STFT("real", window, scaling, periodic)  # checks window names and scaling
        if window is not None and not isinstance(window, str):
            window_array(window, frame_length, periodic, name="STFTSpectrogram")
            window = np.asarray(window).tolist()
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = frame_length
        self.frame_step = None if frame_step is None else int(frame_step)
        self._frame_step = self.frame_step or frame_length // 2
        self.fft_length = fft_length
        self._fft_length = fft_length or 2 ** math.ceil(math.log2(frame_length))
        self.window = window
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = _data_format(data_format)

    def build(self, input_shape):
        _check_rank(input_shape, (3,), "STFTSpectrogram", "(batch, time, channels)")
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        args = (self.window, self.scaling, self.periodic)
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                shape=shape, initializer=STFT("real", *args), name="real_kernel"
            )
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                shape=shape, initializer=STFT("imag", *args), name="imag_kernel"
            )
        self.built = True

    def _convolve(self, inputs, kernel, channels: int):
        """``(batch, channels, bins, frames)``: every channel convolved with ``kernel``."""
        if self.data_format == "channels_last":
            signals = ops.reshape(ops.transpose(inputs, (0, 2, 1)), (-1, inputs.shape[1], 1))
        else:
            signals = ops.reshape(inputs, (-1, 1, inputs.shape[2]))
        out = ops.conv(
            signals,
            ops.cast(kernel, inputs.dtype),
            strides=self._frame_step,
            padding=self.padding,
            data_format=self.data_format,
        )
        if self.data_format == "channels_last":
            out = ops.transpose(out, (0, 2, 1))
        return ops.reshape(out, (-1, channels, out.shape[1], out.shape[2]))

    def _arrange(self, outputs):
        """``(batch, channels, bins, frames)`` in the layer's output layout."""
        _, channels, bins, frames = outputs.shape
        if self.expand_dims:
            axes = (0, 3, 2, 1) if self.data_format == "channels_last" else (0, 1, 3, 2)
            return ops.transpose(outputs, axes)
        outputs = ops.reshape(outputs, (-1, channels * bins, frames))
        if self.data_format == "channels_last":
            outputs = ops.transpose(outputs, (0, 2, 1))
        return outputs

    def call(self, inputs):
        channels = inputs.shape[2] if self.data_format == "channels_last" else inputs.shape[1]
        real = imag = None
        if self.mode != "imag":
            real = self._convolve(inputs, self.real_kernel, channels)
        if self.mode != "real":
            imag = self._convolve(inputs, self.imag_kernel, channels)
        if self.mode == "real":
            return self._arrange(real)
        if self.mode == "imag":
            return self._arrange(imag)
        if self.mode == "angle":
            return self._arrange(ops.arctan2(imag, real))
        if self.mode == "stft":
            return self._arrange(ops.concatenate([real, imag], axis=2))
        power = ops.add(ops.square(real), ops.square(imag))
        if self.mode == "psd":
            inner = ops.pad(power[:, :, 1:-1, :], [(0, 0), (0, 0), (1, 1), (0, 0)])
            return self._arrange(ops.add(power, inner))
        magnitude = self._arrange(ops.sqrt(ops.maximum(power, backend.epsilon())))
        if self.mode == "magnitude":
            return magnitude
        return ops.log(ops.maximum(magnitude, backend.epsilon()))

    def compute_output_shape(self, input_shape):
        _check_rank(input_shape, (3,), "STFTSpectrogram", "(batch, time, channels)")
        if self.data_format == "channels_last":
            batch, time, channels = input_shape
        else:
            batch, channels, time = input_shape
        bins = (self._fft_length // 2 + 1) * (2 if self.mode == "stft" else 1)
        frames = None
        if time is not None:
            if self.padding == "same":
                frames = -(-time // self._frame_step)
            else:
                frames = (time - self.frame_length) // self._frame_step + 1
        if self.expand_dims:
            if self.data_format == "channels_last":
                return (batch, frames, bins, channels)
            return (batch, channels, frames, bins)
        features = None if channels is None else channels * bins
        if self.data_format == "channels_last":
            return (batch, frames, features)
        return (batch, features, frames)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "window": self.window,
            "periodic": self.periodic,
            "scaling": self.scaling,
            "padding": self.padding,
            "data_format": self.data_format,
            "expand_dims": self.expand_dims,
        }


_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0


def _hertz_to_mel(frequencies):
    ratio = np.asarray(frequencies, dtype="float64") / _MEL_BREAK_FREQUENCY_HERTZ
    return _MEL_HIGH_FREQUENCY_Q * np.log1p(ratio)


class MelSpectrogram(Layer):
    """Mel-scaled spectrograms of 1-D signals, in decibels by default (Keras 3).

    ``stft`` (centred, reflect-padded) gives the magnitudes ``|X| ** mag_exp`` of
    ``fft_length // 2 + 1`` bins; a matrix of ``num_mel_bins`` triangular filters spanning
    ``[min_freq, max_freq]`` on the mel scale maps them to mel bins
    (:meth:`linear_to_mel_weight_matrix`); with ``power_to_db`` the result becomes
    ``10 log10(max(S, min_power)) - 10 log10(max(|ref_power|, min_power))``, raised to at
    least ``top_db`` below its maximum over the whole batch (as Keras; so with ``top_db`` the
    layer mixes the samples of a batch).

    Args:
        fft_length: the DFT length. Defaults to 2048.
        sequence_stride: the hop between frames. Defaults to 512.
        sequence_length: the window length (``<= fft_length``). Defaults to ``fft_length``.
        window: ``"hann"`` (default), ``"hamming"`` or None.
        sampling_rate: the signals' sample rate in Hz. Defaults to 16000.
        num_mel_bins: the number of mel bins. Defaults to 128.
        min_freq: the lowest frequency of the filters in Hz. Defaults to 20.
        max_freq: the highest one. Defaults to ``sampling_rate / 2`` (as an int).
        power_to_db: convert to decibels. Defaults to True.
        top_db: the dynamic range kept below the maximum, in dB, or None for no floor.
            Defaults to 80.
        mag_exp: the exponent of the magnitude (2: power). Defaults to 2.
        min_power: the floor before the logarithm. Defaults to 1e-10.
        ref_power: the power mapped to 0 dB. Defaults to 1.

    Input shape:
        ``(batch, samples)`` or ``(samples,)``.

    Output shape:
        ``(batch, num_mel_bins, frames)`` or ``(num_mel_bins, frames)``, with
        ``frames = 1 + samples // sequence_stride`` (an even ``fft_length``).

    Raises:
        ValueError: for ``fft_length < sequence_length`` or non-positive lengths.

    Example:
        >>> import numpy as np
        >>> layer = MelSpectrogram(fft_length=256, sequence_stride=128, num_mel_bins=16)
        >>> layer(np.random.default_rng(0).normal(size=(3, 1024))).shape
        (3, 16, 9)
    """

    samplewise = True  # ... unless the decibels are clipped below the batch's maximum

    def __init__(
        self,
        fft_length=2048,
        sequence_stride=512,
        sequence_length=None,
        window="hann",
        sampling_rate=16000,
        num_mel_bins=128,
        min_freq=20.0,
        max_freq=None,
        power_to_db=True,
        top_db=80.0,
        mag_exp=2.0,
        min_power=1e-10,
        ref_power=1.0,
        **kwargs,
    ):
        self.fft_length = check_positive_int("fft_length", fft_length)
        self.sequence_stride = check_positive_int("sequence_stride", sequence_stride)
        self.sequence_length = check_positive_int("sequence_length", sequence_length or fft_length)
        if self.fft_length < self.sequence_length:
            raise ValueError(
                "`fft_length` must be greater than or equal to `sequence_length`. Received: "
                f"`sequence_length`={self.sequence_length}, `fft_length`={self.fft_length}."
            )
        if isinstance(window, str) and window not in ("hann", "hamming"):
            raise ValueError(
                f'`MelSpectrogram`: `window` must be "hann", "hamming", an array or None. '
                f"Received: window={window!r}"
            )
        if window is not None:
            window_array(window, self.sequence_length, periodic=True, name="MelSpectrogram")
        if window is not None and not isinstance(window, str):
            window = np.asarray(window).tolist()
        self.window = window
        self.sampling_rate = check_real("sampling_rate", sampling_rate, minimum=0)
        if not sampling_rate:
            raise ValueError(
                f"Invalid value for argument `sampling_rate`. Expected > 0. Received: "
                f"sampling_rate={sampling_rate!r}"
            )
        self.num_mel_bins = check_positive_int("num_mel_bins", num_mel_bins)
        self.min_freq = check_real("min_freq", min_freq, minimum=0)
        self.max_freq = check_real("max_freq", max_freq or int(sampling_rate / 2))
        self.power_to_db = power_to_db
        self.top_db = None if top_db is None else check_real("top_db", top_db)
        self.mag_exp = check_real("mag_exp", mag_exp)
        self.min_power = check_real("min_power", min_power)
        self.ref_power = check_real("ref_power", ref_power)
        super().__init__(**kwargs)

    def _runs_samplewise(self) -> bool:
        clipped = self.power_to_db and self.top_db is not None
        return not clipped and super()._runs_samplewise()

    def call(self, inputs):
        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") else "float32"
        inputs = ops.cast(inputs, dtype)
        real, imag = ops.stft(
            inputs,
            sequence_length=self.sequence_length,
            sequence_stride=self.sequence_stride,
            fft_length=self.fft_length,
            window=self.window,
            center=True,
        )
        spectrum = ops.power(ops.sqrt(ops.add(ops.square(real), ops.square(imag))), self.mag_exp)
        matrix = self.linear_to_mel_weight_matrix(
            self.num_mel_bins,
            self.fft_length // 2 + 1,
            self.sampling_rate,
            self.min_freq,
            self.max_freq,
            dtype=dtype,
        )
        outputs = ops.matmul(spectrum, matrix)
        if self.power_to_db:
            outputs = self._decibels(outputs)
        return ops.cast(ops.swapaxes(outputs, -1, -2), self.compute_dtype)

    def _decibels(self, power):
        floor = np.asarray(self.min_power, power.dtype)
        ref = 10.0 * np.log10(max(abs(self.ref_power), self.min_power))
        db = ops.subtract(ops.multiply(10.0, ops.log10(ops.maximum(power, floor))), ref)
        if self.top_db is None:
            return db
        return ops.maximum(db, ops.subtract(ops.max(db), self.top_db))

    @staticmethod
    def linear_to_mel_weight_matrix(
        num_mel_bins=20,
        num_spectrogram_bins=129,
        sampling_rate=8000,
        lower_edge_hertz=125.0,
        upper_edge_hertz=3800.0,
        dtype="float32",
    ):
        """The ``(num_spectrogram_bins, num_mel_bins)`` matrix of triangular mel filters.

        Spectrogram bin ``i`` is the frequency ``i * sampling_rate / 2 / (bins - 1)``; the
        ``num_mel_bins + 2`` band edges are evenly spaced in mel (HTK's
        ``1127 ln(1 + f / 700)``) from ``lower_edge_hertz`` to ``upper_edge_hertz``; each
        filter rises from its lower edge to 1 at its centre and falls to its upper edge.
        The zero-frequency bin gets no weight. ``spectrogram @ matrix`` is the mel
        spectrogram.

        Example:
            >>> m = MelSpectrogram.linear_to_mel_weight_matrix(4, 9, 8000, 0.0, 4000.0)
            >>> m.shape, float(m[0].sum()), bool(m.max() <= 1.0)
            ((9, 4), 0.0, True)
        """
        nyquist = sampling_rate / 2.0
        bins_mel = _hertz_to_mel(np.linspace(0.0, nyquist, num_spectrogram_bins)[1:])[:, None]
        edges = np.linspace(
            _hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), num_mel_bins + 2
        )
        lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
        rising = (bins_mel - lower) / (center - lower)
        falling = (upper - bins_mel) / (upper - center)
        weights = np.maximum(0.0, np.minimum(rising, falling))
        return np.pad(weights, [(1, 0), (0, 0)]).astype(dtype)

    def build(self, input_shape):
        _check_rank(input_shape, (1, 2), "MelSpectrogram", "(batch, samples) or (samples,)")
        self.built = True

    def compute_output_shape(self, input_shape):
        _check_rank(input_shape, (1, 2), "MelSpectrogram", "(batch, samples) or (samples,)")
        samples = input_shape[-1]
        frames = None
        if samples is not None:
            frames = 1 + (samples + 2 * (self.fft_length // 2) - self.fft_length) // (
                self.sequence_stride
            )
        return (*tuple(input_shape[:-1]), self.num_mel_bins, frames)

    def get_config(self):
        return {
            **super().get_config(),
            "fft_length": self.fft_length,
            "sequence_stride": self.sequence_stride,
            "sequence_length": self.sequence_length,
            "window": self.window,
            "sampling_rate": self.sampling_rate,
            "num_mel_bins": self.num_mel_bins,
            "min_freq": self.min_freq,
            "max_freq": self.max_freq,
            "power_to_db": self.power_to_db,
            "top_db": self.top_db,
            "mag_exp": self.mag_exp,
            "min_power": self.min_power,
            "ref_power": self.ref_power,
        }
