"""``SpatialDropout1D`` and ``SpatialDropout3D``: dropout of whole channels (Keras 3).

Each channel of each sample is dropped with probability ``rate`` for all its steps (1-D) or
voxels (3-D) at once, the kept ones scaled by ``1 / (1 - rate)``; at inference the layers are
the identity. They are :class:`~cnnkit.layers.regularization.SpatialDropout2D` with another
noise shape.

Example:
    >>> import numpy as np
    >>> out = SpatialDropout1D(0.5, seed=1)(np.ones((2, 5, 4), "float32"), training=True)
    >>> bool(np.all(out.numpy().std(axis=1) == 0))  # every channel all-kept or all-dropped
    True
"""

from __future__ import annotations

from cnnkit import backend
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec
from cnnkit.layers.regularization import SpatialDropout2D


class SpatialDropout1D(SpatialDropout2D):
    """Dropout of whole channels of sequences: the mask has shape ``(N, 1, C)``.

    Args:
        rate: float in ``[0, 1]``, the fraction of channels to drop.
        seed: optional int for a layer-local generator.
        name, dtype: as every layer.

    Input shape:
        ``(batch_size, steps, channels)``; output shape: the same.

    Example:
        >>> import numpy as np
        >>> SpatialDropout1D(0.3)(np.ones((2, 5, 4), "float32")).shape
        (2, 5, 4)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        n, _, c = inputs.shape
        rng = self._rng or backend.rng()
        return shape_ops.dropout(inputs, self.rate, rng, noise_shape=(n, 1, c))

    def get_config(self):
        config = super().get_config()
        config.pop("data_format")
        return config


class SpatialDropout3D(SpatialDropout2D):
    """Dropout of whole channels of volumes: the mask has shape ``(N, 1, 1, 1, C)``.

    Args:
        rate: float in ``[0, 1]``, the fraction of channels to drop.
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator.

    Input shape:
        ``(batch_size, D, H, W, C)``; output shape: the same.

    Example:
        >>> import numpy as np
        >>> SpatialDropout3D(0.3)(np.ones((1, 2, 2, 2, 3), "float32")).shape
        (1, 2, 2, 2, 3)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, data_format=data_format, seed=seed, **kwargs)
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        n, c = inputs.shape[0], inputs.shape[-1]
        rng = self._rng or backend.rng()
        return shape_ops.dropout(inputs, self.rate, rng, noise_shape=(n, 1, 1, 1, c))
