"""Regularisation layers active in training only: Gaussian noise and dropouts, and
``ActivityRegularization``.

Each is the identity in inference (``predict``, ``evaluate``, ``training=False``). The noise
is drawn from the layer's own generator when it has a ``seed``, otherwise from
``cnnkit.backend.rng()``; gradients flow through the noise as through a constant.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from cnnkit import backend, regularizers
from cnnkit.layers.base import Layer


def _fraction(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a float value between 0 "
            f"and 1. Received: {name}={value}"
        )
    return float(value)


class _NoiseLayer(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True

    def _generator(self):
        return self._rng or backend.rng()

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class GaussianNoise(_NoiseLayer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev``, in training.

    Args:
        stddev: float in [0, 1], the noise's standard deviation.
        seed: optional int for a layer-local generator.

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> GaussianNoise(0.1)(np.ones((1, 2), "float32")).numpy()  # inference: unchanged
        array([[1., 1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _fraction(stddev, "stddev")

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = self._generator().standard_normal(inputs.shape, dtype=np.float32)
        return inputs + (noise * np.float32(self.stddev)).astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_NoiseLayer):
    """Multiplies by Gaussian noise of mean 1 and variance ``rate / (1 - rate)``, in training.

    Args:
        rate: float in [0, 1], the equivalent drop probability.
        seed: optional int for a layer-local generator.

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> GaussianDropout(0.5)(np.ones((1, 2), "float32")).numpy()
        array([[1., 1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _fraction(rate, "rate")

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate)) if self.rate < 1 else math.inf
        noise = 1.0 + stddev * self._generator().standard_normal(inputs.shape)
        return inputs * noise.astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_NoiseLayer):
    """Dropout that keeps the mean and variance of SELU activations (Klambauer et al., 2017).

    In training, each dropped input is set to ``-alpha * scale`` (SELU's negative limit) and
    the result is mapped affinely, ``a * x + b``, so that inputs of zero mean and unit
    variance keep them::

        a = ((1 - rate) * (1 + rate * alpha'²)) ** -0.5,    b = -a * alpha' * rate

    with ``alpha' = -1.6732632 * 1.0507010``.

    Args:
        rate: float in [0, 1], the drop probability.
        noise_shape: optional shape of the keep mask (``None`` entries: the input's sizes).
        seed: optional int for a layer-local generator.

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> AlphaDropout(0.5)(np.ones((1, 2), "float32")).numpy()
        array([[1., 1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _fraction(rate, "rate")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))
        kept = (self._generator().random(shape, dtype=np.float32) >= self.rate).astype(inputs.dtype)
        alpha_p = -self._ALPHA * self._SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        dtype = inputs.dtype.type
        # a * (x * kept + alpha' * (1 - kept)) + b, with the constant part folded in
        return inputs * (kept * dtype(a)) + (dtype(a * alpha_p) * (1 - kept) + dtype(b))

    def get_config(self):
        noise_shape = None if self.noise_shape is None else list(self.noise_shape)
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": noise_shape,
        }


class ActivityRegularization(Layer):
    """The identity, adding ``l1 * sum(|x|) + l2 * sum(x²)`` of its input to the loss.

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> layer = ActivityRegularization(l1=0.5)
        >>> _ = layer(np.array([[1.0, -2.0]], "float32"))
        >>> float(layer.losses[0].numpy())
        1.5
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1 = l1
        self.l2 = l2
        self.activity_regularizer = regularizers.L1L2(l1=l1, l2=l2)
        self.supports_masking = True

    def call(self, inputs):
        self._losses.append(self.activity_regularizer(inputs))
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
