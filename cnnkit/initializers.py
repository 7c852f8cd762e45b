"""Weight initializers with Keras 3 names, arguments, defaults and numerics.

An initializer is a small object: the constructor validates and stores its hyper-parameters,
``__call__(shape, dtype=None)`` returns a NumPy array of that shape (dtype ``backend.floatx()``
unless given), and ``get_config()`` returns exactly the constructor arguments, so
``type(init).from_config(init.get_config())`` rebuilds it.

Fans, as in Keras (``compute_fans``): a kernel of shape ``(kh, kw, c_in, c_out)`` has
``receptive = kh * kw``, ``fan_in = c_in * receptive`` and ``fan_out = c_out * receptive``;
a dense kernel ``(n_in, n_out)`` has ``fan_in = n_in`` and ``fan_out = n_out``; a vector
``(n,)`` has both fans ``n``; a scalar has both fans 1.

Variance scaling (``VarianceScaling`` and the Glorot, He and LeCun shortcuts) divides ``scale``
by ``n = max(1, fan)`` for the chosen mode (``fan_in``, ``fan_out`` or ``fan_avg``) and draws

- ``"truncated_normal"``: a normal with ``stddev = sqrt(scale / n) / 0.87962566103423978``,
  re-drawn beyond two standard deviations; the constant is the standard deviation of a unit
  normal truncated to ``[-2, 2]``, so the *result* has standard deviation ``sqrt(scale / n)``;
- ``"untruncated_normal"``: a normal with ``stddev = sqrt(scale / n)``;
- ``"uniform"``: a uniform on ``[-limit, limit)`` with ``limit = sqrt(3 * scale / n)``.

Seeds:

- ``seed=None`` (the default) draws from ``backend.rng()``, cnnkit's one seeded generator, so
  ``utils.set_random_seed(s)`` makes a whole model's weights reproducible and two calls of the
  same initializer give different values.
- An integer ``seed`` gives the same values on every call, for the same shape and dtype, and
  ignores the global seed. This is Keras 3's behaviour for an integer seed ("an initializer
  seeded with an integer ... will produce the same random values across multiple calls").

Deliberate deviations from Keras 3, written down:

- Unseeded initializers: Keras 3 picks one random seed when the initializer is built and then
  repeats the same values on every call; cnnkit draws fresh values from ``backend.rng()`` on
  every call (see above), so sharing one unseeded instance between layers gives them
  different weights.
- Seeds are non-negative integers (NumPy's seeding rule); there is no ``SeedGenerator``. The
  values themselves differ from Keras's (a different generator); the distributions agree.
- Arguments are validated more strictly: ``stddev > 0``, ``minval < maxval``, finite numbers.
- ``Identity.get_config()`` includes ``gain`` (Keras returns ``{}`` and loses it).
- ``Orthogonal`` factorises in float64 before casting, for orthogonality to float precision.
- ``serialize`` writes ``"module": "keras.initializers"`` for built-in initializers, as Keras
  does, so configs read the same in both libraries; ``get``/``deserialize`` never import
  anything named in a config, they look ``class_name`` up in this module's table only.

Example:
    >>> from cnnkit import initializers
    >>> init = initializers.get("glorot_uniform")
    >>> w = init((3, 3, 16, 32))
    >>> w.shape, w.dtype
    ((3, 3, 16, 32), dtype('float32'))
    >>> initializers.compute_fans((3, 3, 16, 32))
    (144, 288)
    >>> initializers.serialize(initializers.HeNormal(seed=1))["config"]
    {'seed': 1}
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from cnnkit import backend

# Standard deviation of a unit normal truncated to [-2, 2] (Keras's constant).
_TRUNCATED_STDDEV = 0.87962566103423978
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


# --------------------------------------------------------------------------- argument checks


def _normalize_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative Python ints (an int means a vector)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Sequence) or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ValueError(
            "Invalid value for argument `shape`. Expected a tuple of non-negative integers. "
            f"Received: shape={shape!r}"
        )
    return tuple(int(d) for d in shape)


def _resolve_dtype(dtype, *, floating: bool) -> np.dtype:
    """``dtype or backend.floatx()`` as a NumPy dtype; random draws need a float dtype."""
    requested = backend.floatx() if dtype is None else dtype
    try:
        resolved = np.dtype(requested)
    except TypeError:
        raise ValueError(
            f"Invalid value for argument `dtype`. Received: dtype={requested!r}"
        ) from None
    if floating and not np.issubdtype(resolved, np.floating):
        raise ValueError(
            "Invalid value for argument `dtype`. Expected a floating-point dtype for a random "
            f"initializer. Received: dtype={resolved.name}"
        )
    if not floating and resolved.kind not in "biuf":
        raise ValueError(
            "Invalid value for argument `dtype`. Expected a boolean, integer or float dtype. "
            f"Received: dtype={resolved.name}"
        )
    return resolved


def _check_number(name: str, value, *, positive: bool = False) -> float:
    """A finite real ``value`` as a float; ``positive`` also requires ``value > 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Invalid type for argument `{name}`. Expected a Python float. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0.0):
        expected = "a strictly positive finite number" if positive else "a finite number"
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={value}"
        )
    return value


def _check_seed(seed) -> int | None:
    """``None`` or a non-negative int (ValueError otherwise, as Keras raises for seeds)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            "Invalid value for argument `seed`. Expected None or a non-negative integer. "
            f"Received: seed={seed!r}"
        )
    return int(seed)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype random draws are made in: float64 for float64, float32 otherwise."""
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def compute_fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    Args:
        shape: the weight shape. ``()``: ``(1, 1)``; ``(n,)``: ``(n, n)``; ``(n_in, n_out)``:
            ``(n_in, n_out)``; ``(*kernel, c_in, c_out)``: ``(c_in * r, c_out * r)`` with
            ``r = prod(kernel)``, the receptive field.

    Returns:
        A tuple of two ints.

    Example:
        >>> compute_fans((5, 5, 3, 64))
        (75, 1600)
    """
    shape = _normalize_shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# --------------------------------------------------------------------------- base class


class Initializer:
    """Base class: an initializer maps ``(shape, dtype)`` to a new array.

    Subclasses implement ``__call__`` and, when the constructor takes arguments,
    ``get_config`` returning exactly those arguments; the default ``from_config`` then
    calls ``cls(**config)``.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return np.full(shape, 0.5, dtype=dtype or backend.floatx())
        >>> Halves()((2,))
        array([0.5, 0.5], dtype=float32)
    """

    def __call__(self, shape, dtype=None) -> np.ndarray:
        """Return a new array of ``shape`` and ``dtype`` (default ``backend.floatx()``)."""
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Initializer:
        """Rebuild an initializer from ``get_config()``'s output."""
        return cls(**config)

    def clone(self) -> Initializer:
        """A new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- constants


class Zeros(Initializer):
    """Fills with 0.

    Example:
        >>> Zeros()((2, 2))
        array([[0., 0.],
               [0., 0.]], dtype=float32)
    """

    def __call__(self, shape, dtype=None) -> np.ndarray:
        return np.zeros(_normalize_shape(shape), dtype=_resolve_dtype(dtype, floating=False))


class Ones(Initializer):
    """Fills with 1.

    Example:
        >>> Ones()((2,), dtype="int32")
        array([1, 1], dtype=int32)
    """

    def __call__(self, shape, dtype=None) -> np.ndarray:
        return np.ones(_normalize_shape(shape), dtype=_resolve_dtype(dtype, floating=False))


class Constant(Initializer):
    """Fills with ``value``.

    Args:
        value: a Python scalar, or an array broadcastable to the requested shape (the
            Keras idiom ``Constant(embedding_matrix)`` for pre-trained embeddings).

    Raises:
        ValueError: at call time, if ``value`` does not broadcast to ``shape``.

    Example:
        >>> Constant(3.0)((2,))
        array([3., 3.], dtype=float32)
    """

    def __init__(self, value=0.0):
        if isinstance(value, (list, tuple, np.ndarray)):
            value = np.array(value)
        elif isinstance(value, np.generic):
            value = value.item()
        if np.asarray(value).dtype.kind not in "biuf":
            raise TypeError(
                "Invalid type for argument `value`. Expected a number or an array of numbers. "
                f"Received: value={value!r}"
            )
        self.value = value

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        dtype = _resolve_dtype(dtype, floating=False)
        try:
            return np.array(np.broadcast_to(np.asarray(self.value, dtype=dtype), shape))
        except ValueError:
            raise ValueError(
                f"`Constant` value of shape {np.shape(self.value)} cannot fill a tensor of "
                f"shape {shape}."
            ) from None

    def get_config(self) -> dict[str, Any]:
        value = self.value.tolist() if isinstance(self.value, np.ndarray) else self.value
        return {"value": value}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular is allowed).

    Args:
        gain: multiplicative factor.

    Raises:
        ValueError: at call time, if ``shape`` is not 2-D.

    Example:
        >>> Identity(gain=2.0)((2, 3))
        array([[2., 0., 0.],
               [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = _check_number("gain", gain)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = _resolve_dtype(dtype, floating=False)
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class STFT(Initializer):
    """The kernel of a short-time Fourier transform as a 1-D convolution (``STFTSpectrogram``).

    For a shape ``(T, 1, F)`` (``T`` window samples, ``F`` frequency bins), entry
    ``[t, 0, k]`` is ``cos(2 pi t k / N)`` (``side="real"``) or ``-sin(2 pi t k / N)``
    (``side="imag"``) with ``N = 2 (F - 1)``, times the window sample ``w[t]`` divided by the
    window's scale: ``sqrt(sum(w ** 2))`` for ``"density"``, ``sum(|w|)`` for ``"spectrum"``,
    1 for None (no scaling without a window either).

    Args:
        side: ``"real"`` or ``"imag"``, the part of the transform.
        window: a window name (``"hann"``, ``"hamming"``, ``"blackman"``, ``"bartlett"``,
            ``"boxcar"``), an array of ``T`` samples, or None.
        scaling: ``"density"`` (default), ``"spectrum"`` or None.
        periodic: a periodic window (for spectral analysis) instead of a symmetric one.

    Raises:
        ValueError: for another ``side`` or ``scaling``, an unknown window name, or (at call
            time) a window array of another length than ``T``.

    Example:
        >>> kernel = STFT("real", window=None)((4, 1, 3))
        >>> kernel.shape, kernel[:, 0, 2].tolist()  # the Nyquist bin: (-1) ** t
        ((4, 1, 3), [1.0, -1.0, 1.0, -1.0])
    """

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        from cnnkit.ops.spectral import window_array  # ops import this module

        if side not in ("real", "imag"):
            raise ValueError(f"`side` should be 'real' or 'imag'. Received: side={side!r}")
        if isinstance(window, str):
            window_array(window, 1, periodic, name="STFT")  # an unknown name fails here
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(
                "Scaling is invalid, it must be `None`, 'density' or 'spectrum'. Received: "
                f"scaling={scaling!r}"
            )
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None) -> np.ndarray:
        from cnnkit.ops.spectral import window_array

        shape = _normalize_shape(shape)
        if len(shape) != 3:
            raise ValueError(f"`STFT` expects a shape (T, 1, F). Received: shape={shape}")
        frame_length, _, bins = shape
        dtype = _resolve_dtype(dtype, floating=True)
        angle = 2.0 * np.pi * np.outer(np.arange(frame_length), np.arange(bins))
        angle /= 2 * (bins - 1) if bins > 1 else 1
        kernel = np.cos(angle) if self.side == "real" else -np.sin(angle)
        if self.window is not None:
            win = window_array(self.window, frame_length, self.periodic, name="STFT")
            scale = 1.0
            if self.scaling == "density":
                scale = np.sqrt(np.sum(win**2))
            elif self.scaling == "spectrum":
                scale = np.sum(np.abs(win))
            kernel = kernel * win[:, None] / scale
        return np.broadcast_to(kernel[:, None, :], shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        return {
            "side": self.side,
            "window": window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }


# --------------------------------------------------------------------------- random


def _truncated_standard_normal(gen: np.random.Generator, shape, dtype) -> np.ndarray:
    """Unit normal samples in ``[-2, 2]``: draws beyond two stddev are re-drawn, vectorised.

    Each round re-draws only the rejected entries (about 4.6% of the previous round), so the
    loop runs over rounds, a handful even for millions of weights, never over elements.
    """
    z = np.asarray(gen.standard_normal(shape, dtype=dtype))
    flat = z.reshape(-1)  # a view: writes go to z
    idx = np.flatnonzero(np.abs(flat) > 2.0)
    while idx.size:
        flat[idx] = gen.standard_normal(idx.size, dtype=dtype)
        idx = idx[np.abs(flat[idx]) > 2.0]
    return z


class RandomInitializer(Initializer):
    """Base of the random initializers: validates and stores ``seed``, picks the generator.

    Args:
        seed: ``None`` draws from ``backend.rng()`` (different values on each call,
            reproducible through ``utils.set_random_seed``); a non-negative int gives the same
            values on every call.
    """

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def _generator(self) -> np.random.Generator:
        if self.seed is None:
            return backend.rng()
        return np.random.default_rng(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Samples from a normal distribution ``N(mean, stddev**2)``.

    Args:
        mean: mean of the values.
        stddev: standard deviation of the values (> 0).
        seed: ``None`` (global generator) or an int (same values on every call).

    Raises:
        ValueError: if ``stddev <= 0`` or ``seed`` is not ``None`` or a non-negative int.

    Example:
        >>> RandomNormal(stddev=1.0, seed=0)((2, 2)).shape
        (2, 2)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number("mean", mean)
        self.stddev = _check_number("stddev", stddev, positive=True)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        dtype = _resolve_dtype(dtype, floating=True)
        z = self._generator().standard_normal(shape, dtype=_work_dtype(dtype))
        return np.asarray(self.mean + self.stddev * z).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Samples from ``N(mean, stddev**2)``, re-drawing values more than 2 stddev from the mean.

    The result lies in ``[mean - 2 stddev, mean + 2 stddev]`` and its standard deviation is
    about ``0.88 * stddev``.

    Args:
        mean: mean of the untruncated normal.
        stddev: standard deviation of the untruncated normal (> 0).
        seed: ``None`` (global generator) or an int (same values on every call).

    Raises:
        ValueError: if ``stddev <= 0`` or ``seed`` is not ``None`` or a non-negative int.

    Example:
        >>> w = TruncatedNormal(stddev=1.0, seed=0)((100,))
        >>> bool(abs(w).max() <= 2.0)
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number("mean", mean)
        self.stddev = _check_number("stddev", stddev, positive=True)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        dtype = _resolve_dtype(dtype, floating=True)
        z = _truncated_standard_normal(self._generator(), shape, _work_dtype(dtype))
        return np.asarray(self.mean + self.stddev * z).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Samples from a uniform distribution on ``[minval, maxval)``.

    Args:
        minval: lower bound (inclusive).
        maxval: upper bound (exclusive); must exceed ``minval``.
        seed: ``None`` (global generator) or an int (same values on every call).

    Raises:
        ValueError: if ``minval >= maxval`` or ``seed`` is invalid.

    Example:
        >>> w = RandomUniform(0.0, 1.0, seed=0)((1000,))
        >>> bool(w.min() >= 0.0 and w.max() < 1.0)
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_number("minval", minval)
        self.maxval = _check_number("maxval", maxval)
        if self.minval >= self.maxval:
            raise ValueError(
                "Invalid values for arguments `minval` and `maxval`. Expected minval < maxval. "
                f"Received: minval={self.minval}, maxval={self.maxval}"
            )
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        dtype = _resolve_dtype(dtype, floating=True)
        u = self._generator().random(shape, dtype=_work_dtype(dtype))
        return np.asarray(self.minval + (self.maxval - self.minval) * u).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(RandomInitializer):
    """Scales its distribution to the weight shape: ``Var(w) = scale / n``.

    ``n`` is ``max(1, fan_in)``, ``max(1, fan_out)`` or ``max(1, (fan_in + fan_out) / 2)``
    for ``mode`` ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` (fans from ``compute_fans``).
    ``distribution``: ``"truncated_normal"`` (``stddev = sqrt(scale / n) / 0.8796...``,
    truncated at two stddev), ``"untruncated_normal"`` (``stddev = sqrt(scale / n)``) or
    ``"uniform"`` (``[-limit, limit)``, ``limit = sqrt(3 scale / n)``); ``"normal"`` is read as
    ``"truncated_normal"``, as in Keras.

    Args:
        scale: scaling factor (> 0).
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
        seed: ``None`` (global generator) or an int (same values on every call).

    Raises:
        ValueError: for ``scale <= 0``, an unknown ``mode`` or ``distribution``, a bad seed.

    Example:
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)
        >>> bool(abs(init((300, 10))).max() <= (3 * 2.0 / 300) ** 0.5)
        True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = _check_number("scale", scale, positive=True)
        if mode not in _MODES:
            raise ValueError(
                f"Invalid value for argument `mode`. Expected one of {set(_MODES)}. "
                f"Received: mode={mode!r}"
            )
        if isinstance(distribution, str):
            distribution = distribution.lower()
            if distribution == "normal":
                distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"Invalid value for argument `distribution`. Expected one of "
                f"{set(_DISTRIBUTIONS)}. Received: distribution={distribution!r}"
            )
        self.mode = mode
        self.distribution = distribution
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        dtype = _resolve_dtype(dtype, floating=True)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, n[self.mode])
        gen, work = self._generator(), _work_dtype(dtype)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
            w = stddev * _truncated_standard_normal(gen, shape, work)
        elif self.distribution == "untruncated_normal":
            w = math.sqrt(variance) * gen.standard_normal(shape, dtype=work)
        else:
            limit = math.sqrt(3.0 * variance)
            w = -limit + 2.0 * limit * gen.random(shape, dtype=work)
        return np.asarray(w).astype(dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
        }


class _FixedVarianceScaling(VarianceScaling):
    """A named variance scaling (Glorot, He, LeCun): only ``seed`` is configurable."""

    _scale = 1.0
    _mode = "fan_in"
    _distribution = "truncated_normal"

    def __init__(self, seed=None):
        super().__init__(
            scale=self._scale, mode=self._mode, distribution=self._distribution, seed=seed
        )

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U[-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Keras's default kernel initializer. Reference: Glorot & Bengio, "Understanding the
    difficulty of training deep feedforward neural networks", AISTATS 2010.

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).

    Example:
        >>> GlorotUniform(seed=0)((3, 3, 8, 16)).shape
        (3, 3, 8, 16)
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with std ``sqrt(2 / (fan_in + fan_out))``.

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).
    """

    _scale, _mode, _distribution = 1.0, "fan_avg", "truncated_normal"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with std ``sqrt(2 / fan_in)``, for ReLU networks.

    Reference: He et al., "Delving Deep into Rectifiers", ICCV 2015 (arXiv:1502.01852).

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U[-limit, limit)`` with ``limit = sqrt(6 / fan_in)``.

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).
    """

    _scale, _mode, _distribution = 2.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with std ``sqrt(1 / fan_in)`` (used with SELU).

    Reference: Klambauer et al., "Self-Normalizing Neural Networks", 2017 (arXiv:1706.02515).

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U[-limit, limit)`` with ``limit = sqrt(3 / fan_in)``.

    Args:
        seed: ``None`` (global generator) or an int (same values on every call).
    """

    _scale, _mode, _distribution = 1.0, "fan_in", "uniform"


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR factorisation of a normal matrix.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; with at least as many rows as
    columns the columns are orthonormal (``Q^T Q = gain^2 I``), otherwise the rows are. Signs
    are fixed by ``diag(R)`` so the result is uniformly distributed over orthogonal matrices.
    Reference: Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", ICLR 2014.

    Args:
        gain: multiplicative factor.
        seed: ``None`` (global generator) or an int (same values on every call).

    Raises:
        ValueError: at call time, if ``shape`` has fewer than two dimensions.

    Example:
        >>> q = Orthogonal(seed=0)((4, 3)).astype("float64")
        >>> bool(np.allclose(q.T @ q, np.eye(3), atol=1e-6))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _check_number("gain", gain)
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> np.ndarray:
        shape = _normalize_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = _resolve_dtype(dtype, floating=True)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._generator().standard_normal((max(rows, cols), min(rows, cols)))  # float64
        q, r = np.linalg.qr(a)  # q: (max, min), orthonormal columns
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


# Keras's other exported names for the same classes.
IdentityInitializer = Identity
OrthogonalInitializer = Orthogonal

# Keras's snake_case names: the classes themselves, as in ``keras.initializers``.
zeros = Zeros
ones = Ones
constant = Constant
identity = Identity
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal


# --------------------------------------------------------------------------- lookup


# Every string id `get` accepts: class names, their snake_case forms, and Keras's aliases.
_BY_NAME: dict[str, type[Initializer]] = {
    "Zeros": Zeros,
    "zeros": Zeros,
    "zero": Zeros,
    "Ones": Ones,
    "ones": Ones,
    "one": Ones,
    "Constant": Constant,
    "constant": Constant,
    "Identity": Identity,
    "identity": Identity,
    "IdentityInitializer": Identity,
    "STFT": STFT,
    "STFTInitializer": STFT,
    "stft": STFT,
    "RandomNormal": RandomNormal,
    "random_normal": RandomNormal,
    "normal": RandomNormal,
    "RandomUniform": RandomUniform,
    "random_uniform": RandomUniform,
    "uniform": RandomUniform,
    "TruncatedNormal": TruncatedNormal,
    "truncated_normal": TruncatedNormal,
    "VarianceScaling": VarianceScaling,
    "variance_scaling": VarianceScaling,
    "GlorotUniform": GlorotUniform,
    "glorot_uniform": GlorotUniform,
    "GlorotNormal": GlorotNormal,
    "glorot_normal": GlorotNormal,
    "HeNormal": HeNormal,
    "he_normal": HeNormal,
    "HeUniform": HeUniform,
    "he_uniform": HeUniform,
    "LecunNormal": LecunNormal,
    "lecun_normal": LecunNormal,
    "LecunUniform": LecunUniform,
    "lecun_uniform": LecunUniform,
    "Orthogonal": Orthogonal,
    "orthogonal": Orthogonal,
    "OrthogonalInitializer": Orthogonal,
    "orthogonal_initializer": Orthogonal,
}


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret initializer identifier: {identifier!r}. "
        f"Expected one of {sorted(_BY_NAME)}"
    )


def serialize(initializer: Initializer | None) -> dict[str, Any] | None:
    """The Keras-style dict of an initializer (``None`` for ``None``).

    Returns:
        ``{"module": "keras.initializers", "class_name": ..., "config": ...,
        "registered_name": None}`` for built-in initializers; a subclass defined elsewhere
        gets its own module and its class name as ``registered_name``.

    Raises:
        TypeError: if ``initializer`` is not an ``Initializer``.

    Example:
        >>> config = serialize(Constant(2.0))
        >>> config["module"], config["class_name"], config["config"]
        ('keras.initializers', 'Constant', {'value': 2.0})
    """
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        raise TypeError(
            "Invalid type for argument `initializer`. Expected an `Initializer` instance. "
            f"Received: initializer={initializer!r} of type {type(initializer).__name__}"
        )
    from cnnkit.saving.serialization import serialize_keras_object  # saving imports this module

    return serialize_keras_object(initializer)


def deserialize(
    config: Mapping[str, Any], custom_objects: Mapping[str, type] | None = None
) -> Initializer:
    """Rebuild an initializer from ``serialize``'s dict (or a bare string id).

    Args:
        config: a ``serialize`` dict (``{"class_name": ..., "config": {...}}``, with the
            ``module`` and ``registered_name`` Keras writes) or a string id.
        custom_objects: extra ``{name: class}`` entries, looked up before registered objects
            and the built-ins.

    Raises:
        ValueError: for an unknown ``class_name`` or a dict without ``class_name``.
    """
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(
            "Invalid initializer config. Expected a dict with keys 'class_name' and 'config'. "
            f"Received: config={config!r}"
        )
    # saving imports this module: imported at call time
    from cnnkit.saving.serialization import deserialize_family_object

    return deserialize_family_object(config, _BY_NAME, custom_objects, _unknown)


def get(identifier) -> Initializer | Callable | None:
    """Resolve an initializer identifier, as ``keras.initializers.get`` does.

    Args:
        identifier: ``None``; a string id (``"glorot_uniform"``, ``"GlorotUniform"``,
            ``"he_normal"``, ``"zeros"``, ...; case-sensitive); a ``serialize`` dict; an
            ``Initializer`` instance or any callable ``(shape, dtype=None) -> array``
            (returned as is); or a class (instantiated with no arguments).

    Returns:
        An initializer (or the callable given), or ``None`` for ``None``.

    Raises:
        ValueError: "Could not interpret initializer identifier: ..." listing the valid ids.

    Example:
        >>> get("he_normal")
        HeNormal(seed=None)
        >>> get({"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0}})
        RandomUniform(minval=0.0, maxval=1.0, seed=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise _unknown(identifier)
        return _BY_NAME[identifier]()
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise _unknown(identifier)
