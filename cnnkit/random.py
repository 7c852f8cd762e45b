"""Random numbers as Keras 3 draws them (``keras.random``).

Every function takes a ``seed``, with Keras's meaning:

- an ``int``: the function is *stateless*, the same seed gives the same values on every
  call (``normal((2,), seed=1)`` twice gives one array twice);
- a :class:`SeedGenerator`: each call takes the generator's next seed, so successive calls
  differ, and a generator built from the same integer repeats the same sequence;
- ``None`` (the default): draws from cnnkit's global generator (``cnnkit.backend.rng()``),
  which ``cnnkit.utils.set_random_seed`` re-seeds, so a seeded script is reproducible.

A seed is turned into NumPy's generator the way Keras's NumPy backend does it:
``numpy.random.default_rng([seed, counter])`` with the two numbers as ``uint32``.

Deliberate deviation from Keras 3, written down: :func:`shuffle` permutes whole slices
along ``axis`` (as Keras's TensorFlow, JAX and PyTorch backends do); Keras's NumPy backend
shuffles each 1-D line along ``axis`` independently. Results are NumPy arrays, except
:func:`dropout` of a cnnkit tensor, which stays a tensor (differentiable with respect to
its input).

Example:
    >>> from cnnkit import random
    >>> a = random.normal((2, 3), seed=42)
    >>> bool((a == random.normal((2, 3), seed=42)).all())
    True
    >>> gen = random.SeedGenerator(1337)
    >>> bool((random.uniform((2,), seed=gen) == random.uniform((2,), seed=gen)).all())
    False
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor

__all__ = [
    "SeedGenerator",
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "normal",
    "randint",
    "shuffle",
    "truncated_normal",
    "uniform",
]

_UINT32 = 0xFFFFFFFF


def _check_int_seed(seed, argument: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            f"Argument `{argument}` must be an integer. Received: {argument}={seed!r} "
            f"(of type {type(seed).__name__})"
        )
    return int(seed) & _UINT32  # Keras keeps the low 32 bits


class SeedGenerator:
    """A source of seeds that changes on every draw (``keras.random.SeedGenerator``).

    Pass it as the ``seed`` of the functions of this module to get different values on
    each call that are nevertheless reproducible: two generators built with the same
    integer give the same sequence. Keep one as a layer attribute for random layers.

    Args:
        seed: an integer, or ``None`` for a seed drawn from cnnkit's global generator
            (reproducible after ``cnnkit.utils.set_random_seed``).
        name: a name (default: ``"seed_generator"``, ``"seed_generator_1"``...).

    Attributes:
        state: the ``uint32`` pair ``[seed, counter]`` the next draw uses; every draw
            increments the counter.

    Raises:
        ValueError: if ``seed`` is not an integer or ``None``, or on an unknown keyword.

    Example:
        >>> gen = SeedGenerator(42)
        >>> gen.next().tolist(), gen.next().tolist()
        ([42, 0], [42, 1])
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        kwargs.pop("backend", None)  # Keras's custom-backend hook: one backend here
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else backend.unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = int(backend.rng().integers(1, 10**9))
        self.state = np.array([_check_int_seed(seed), 0], dtype="uint32")

    def next(self, ordered: bool = True) -> np.ndarray:
        """The current ``[seed, counter]`` pair; then the state moves on.

        Args:
            ordered: ``True`` increments the counter; ``False`` scrambles the whole state
                (Keras's scheme for its global generator).
        """
        current = self.state.copy()
        if ordered:
            self.state[1] += np.uint32(1)
        else:
            self.state = ((self.state.astype("int64") + 1) * 5387 % 933199).astype("uint32")
        return current

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator name={self.name!r} state={self.state.tolist()}>"


def _generator(seed) -> np.random.Generator:
    """The NumPy generator a ``seed`` argument stands for."""
    if seed is None:
        return backend.rng()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng(seed.next())
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            "Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
            f"Received: seed={seed!r} (of type {type(seed).__name__})"
        )
    return np.random.default_rng(np.array([int(seed) & _UINT32, 0], dtype="uint32"))


def _shape(shape) -> tuple:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except TypeError as error:
        raise ValueError(
            f"Argument `shape` must be a tuple of integers. Received: shape={shape!r}"
        ) from error
    if any(d < 0 for d in out):
        raise ValueError(f"Argument `shape` must not contain negative sizes. Received: {out}")
    return out


def _float_dtype(dtype, function: str) -> str:
    dtype = backend.standardize_dtype(dtype)
    if not backend.is_float_dtype(dtype) or dtype == "bfloat16":
        raise ValueError(
            f"`keras.random.{function}` requires a floating point `dtype` (float16, float32 "
            f"or float64). Received: dtype={dtype}"
        )
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """Samples of the normal distribution ``N(mean, stddev**2)``.

    Args:
        shape: the output shape.
        mean, stddev: the distribution's mean and standard deviation.
        dtype: a float dtype (default :func:`cnnkit.backend.floatx`).
        seed: an ``int``, a :class:`SeedGenerator` or ``None`` (see the module).

    Example:
        >>> normal((2, 3), seed=0).shape
        (2, 3)
    """
    dtype = _float_dtype(dtype, "normal")
    return _generator(seed).normal(mean, stddev, size=_shape(shape)).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> np.ndarray:
    """Samples of the uniform distribution on ``[minval, maxval)``.

    Raises:
        ValueError: for a non-float ``dtype`` (use :func:`randint` for integers).

    Example:
        >>> x = uniform((100,), minval=2.0, maxval=3.0, seed=0)
        >>> bool((x >= 2).all() and (x < 3).all())
        True
    """
    dtype = _float_dtype(dtype, "uniform")
    return _generator(seed).uniform(minval, maxval, size=_shape(shape)).astype(dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None) -> np.ndarray:
    """Integers drawn uniformly from ``[minval, maxval)``.

    Raises:
        ValueError: for a non-integer ``dtype``.

    Example:
        >>> randint((4,), 0, 3, seed=0).dtype
        dtype('int32')
    """
    dtype = backend.standardize_dtype(dtype)
    if not backend.is_int_dtype(dtype):
        raise ValueError(
            f"`keras.random.randint` requires an integer `dtype`. Received: dtype={dtype}"
        )
    return _generator(seed).integers(minval, maxval, size=_shape(shape), dtype=dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """Normal samples redrawn until they lie within two ``stddev`` of ``mean``.

    Example:
        >>> x = truncated_normal((1000,), stddev=0.5, seed=0)
        >>> bool(abs(x).max() <= 1.0)
        True
    """
    dtype = _float_dtype(dtype, "truncated_normal")
    shape = _shape(shape)
    rng, count = _generator(seed), math.prod(shape)
    kept = np.empty(0)
    while kept.size < count:  # each round keeps about 95 % of its draws
        draws = rng.normal(mean, stddev, size=count)
        kept = np.concatenate([kept, draws[np.abs(draws - mean) <= 2 * stddev]])
    return kept[:count].reshape(shape).astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Args:
        inputs: an array or a cnnkit tensor (the result is then a tensor whose gradient
            flows to ``inputs``).
        rate: the drop probability, in ``[0, 1]``.
        noise_shape: the shape of the keep/drop mask, broadcast against ``inputs``;
            ``None`` entries take the input's size (``(None, 1, 1, None)`` drops whole
            feature maps).
        seed: an ``int``, a :class:`SeedGenerator` or ``None``.

    Raises:
        ValueError: if ``rate`` is outside ``[0, 1]`` or ``noise_shape`` does not fit.

    Example:
        >>> x = dropout(np.ones((2, 4), "float32"), 0.5, seed=0)
        >>> sorted(set(x.ravel().tolist()))
        [0.0, 2.0]
    """
    from cnnkit.kernels import shape as shape_kernels

    is_tensor = isinstance(inputs, Tensor)
    x = inputs if is_tensor else np.asarray(inputs)
    if not is_tensor and x.dtype.kind != "f":
        x = x.astype(backend.floatx())
    if noise_shape is not None:
        if len(noise_shape) != len(x.shape):
            raise ValueError(
                "Invalid value for argument `noise_shape`: expected one entry per axis of "
                f"the input (shape {tuple(x.shape)}). Received: noise_shape={noise_shape}"
            )
        noise_shape = tuple(s if n is None else n for n, s in zip(noise_shape, x.shape))
    out = shape_kernels.dropout(x, rate, _generator(seed), noise_shape)
    return out if is_tensor else out.data


def shuffle(x, axis=0, seed=None) -> np.ndarray:
    """A random permutation of the slices of ``x`` along ``axis``.

    Example:
        >>> rows = shuffle(np.arange(6).reshape(3, 2), seed=1)
        >>> sorted(rows.tolist())
        [[0, 1], [2, 3], [4, 5]]
    """
    x = np.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"Argument `axis` is out of range for an input of rank {x.ndim}. Received: axis={axis}"
        )
    order = _generator(seed).permutation(x.shape[axis])
    return np.take(x, order, axis=axis)


def categorical(logits, num_samples, dtype="int32", seed=None) -> np.ndarray:
    """Class indices drawn from the categorical distributions ``softmax(logits)``, per row.

    Args:
        logits: ``(batch_size, num_classes)`` unnormalised log-probabilities (``-inf``
            excludes a class).
        num_samples: how many indices to draw per row.
        dtype: an integer dtype.

    Returns:
        ``(batch_size, num_samples)`` class indices.

    Raises:
        ValueError: if ``logits`` is not 2-D.

    Example:
        >>> categorical([[-np.inf, 0.0]], 3, seed=0).tolist()
        [[1, 1, 1]]
    """
    logits = np.asarray(logits, dtype="float64")
    if logits.ndim != 2:
        raise ValueError(
            "`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
            f"Received: logits.shape={logits.shape}"
        )
    dtype = backend.standardize_dtype(dtype)
    batch, classes = logits.shape
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    draws = _generator(seed).random((batch, int(num_samples)))
    # One searchsorted over all rows: row i's values are shifted into [i, i + 1].
    offsets = np.arange(batch)[:, None]
    flat = np.searchsorted((cdf + offsets).ravel(), (draws + offsets).ravel(), side="right")
    index = flat.reshape(draws.shape) - offsets * classes
    return np.minimum(index, classes - 1).astype(dtype)


def gamma(shape, alpha, dtype=None, seed=None) -> np.ndarray:
    """Samples of the gamma distribution of shape ``alpha`` and scale 1.

    Example:
        >>> gamma((3,), 2.0, seed=0).shape
        (3,)
    """
    dtype = _float_dtype(dtype, "gamma")
    return _generator(seed).gamma(alpha, 1.0, size=_shape(shape)).astype(dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> np.ndarray:
    """Successes in ``counts`` trials of probability ``probabilities`` (both broadcast).

    Example:
        >>> binomial((2,), 5, 1.0, seed=0).tolist()
        [5.0, 5.0]
    """
    dtype = _float_dtype(dtype, "binomial")
    draws = _generator(seed).binomial(counts, probabilities, size=_shape(shape))
    return draws.astype(dtype)


def beta(shape, alpha, beta, dtype=None, seed=None) -> np.ndarray:
    """Samples of the beta distribution with parameters ``alpha`` and ``beta``.

    Example:
        >>> x = beta((100,), 2.0, 3.0, seed=0)
        >>> bool(((x > 0) & (x < 1)).all())
        True
    """
    dtype = _float_dtype(dtype, "beta")
    return _generator(seed).beta(alpha, beta, size=_shape(shape)).astype(dtype)
