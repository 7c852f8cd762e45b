"""Layers that rearrange axes: ``RepeatVector`` and ``Permute``."""

from __future__ import annotations

import numbers

from cnnkit.kernels import attention as attention_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import InputSpec, Layer


class RepeatVector(Layer):
    """Repeats a vector ``n`` times: ``(batch, features)`` to ``(batch, n, features)``.

    The encoder-to-decoder bridge of sequence-to-sequence models (Keras's addition RNN).

    Args:
        n: positive int, the number of repetitions.

    Input shape:
        ``(batch_size, features)``. Output shape: ``(batch_size, n, features)``.

    Raises:
        TypeError: ``n`` not an int. ValueError: ``n`` not positive, or a non-2-D input.

    Example:
        >>> RepeatVector(3)(np.array([[1.0, 2.0]], "float32")).numpy()
        array([[[1., 2.],
                [1., 2.],
                [1., 2.]]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}. Received: n={n!r}")
        if n <= 0:
            raise ValueError(f"Expected `n` to be a positive integer. Received: n={n}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        batch, features = inputs.shape
        return attention_ops.repeat(inputs.reshape((batch, 1, features)), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        input_shape = require_rank(self, input_shape, exact=2)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` lists them (from 1) in their new order.

    Args:
        dims: tuple of ints, a permutation of ``1..rank-1``; e.g. ``(2, 1)`` swaps the two
            axes of a sequence ``(batch, steps, features)``.

    Input shape:
        ``(batch_size, d1, ..., dk)``. Output shape: ``(batch_size, d_dims[0], ...)``.

    Raises:
        ValueError: ``dims`` not a permutation of ``1..len(dims)``.

    Example:
        >>> Permute((2, 1))(np.zeros((4, 10, 64), "float32")).shape
        (4, 64, 10)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise ValueError(
                f"Invalid permutation argument `dims`. Received: dims={dims!r}"
            ) from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in "
                f"`dims` must be `{set(range(1, len(dims) + 1))}`. Received: dims={dims}"
            )
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def call(self, inputs):
        return attention_ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        input_shape = require_rank(self, input_shape, exact=len(self.dims) + 1)
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}
