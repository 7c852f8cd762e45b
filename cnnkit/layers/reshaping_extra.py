"""Small shape and noise layers of Keras 3: ``RepeatVector``, ``Permute``, ``Identity`` and
``GaussianNoise``.

They are built from differentiable :mod:`cnnkit.ops`, so their gradients come from those ops.

Example:
    >>> import numpy as np
    >>> RepeatVector(3)(np.ones((2, 4), "float32")).shape
    (2, 3, 4)
    >>> Permute((2, 1))(np.ones((2, 5, 4), "float32")).shape
    (2, 4, 5)
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.layers.base import InputSpec, Layer


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")
    return int(value)


class RepeatVector(Layer):
    """Repeats each input vector ``n`` times: ``(batch, features)`` to ``(batch, n, features)``.

    Args:
        n: how many times to repeat (a positive int).

    Input shape:
        ``(batch_size, features)``.

    Output shape:
        ``(batch_size, n, features)``.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "n")
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs, training=False):
        from cnnkit import ops

        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes of the input by ``dims`` (1-indexed, as Keras).

    Args:
        dims: a permutation of ``1 .. rank - 1``; e.g. ``(2, 1)`` swaps the two axes
            after the batch axis.

    Input shape:
        ``(batch_size, d1, ..., dk)`` with ``k == len(dims)``.

    Output shape:
        The input shape with the non-batch axes reordered by ``dims``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            self.dims = tuple(int(d) for d in dims)
        except TypeError:
            raise TypeError(
                f"Argument `dims` must be a tuple of ints. Received: {dims!r}"
            ) from None
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be consecutive and start from 1. Received dims={self.dims}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs, training=False):
        from cnnkit import ops

        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        self._check_input(tuple(input_shape))
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class Identity(Layer):
    """Returns its input unchanged (a placeholder layer); masks pass through.

    Input shape:
        Any.

    Output shape:
        The input's.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` during training only.

    Args:
        stddev: the noise's standard deviation (a float >= 0).
        seed: an optional int for reproducible noise.

    Input shape:
        Any.

    Output shape:
        The input's.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(
                "Invalid value received for argument `stddev`. Expected a float value "
                f">= 0. Received: stddev={stddev!r}"
            )
        self.stddev = float(stddev)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        rng = self._rng or backend.rng()
        noise = rng.normal(0.0, self.stddev, size=tuple(inputs.shape))
        return inputs + backend.xp.asarray(noise.astype(inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
