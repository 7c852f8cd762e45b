"""Regularization layers beyond ``Dropout``: SpatialDropout2D.

(``Dropout`` lives in :mod:`cnnkit.layers.core`.)
"""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import InputSpec, Layer, standardize_data_format


class SpatialDropout2D(Layer):
    """Drops whole feature maps: dropout with one keep/drop decision per (sample, channel).

    In training, each channel of each sample is zeroed with probability ``rate`` and the
    kept ones are scaled by ``1 / (1 - rate)`` (the mask has shape ``(N, 1, 1, C)``); at
    inference it is the identity. Neighbouring pixels of a feature map are strongly
    correlated, so element-wise dropout barely regularises convolutions; dropping whole maps
    does (Tompson et al., 2015, https://arxiv.org/abs/1411.4280).

    Args:
        rate: float in ``[0, 1]``, the fraction of channels to drop.
        data_format: only ``"channels_last"``.
        seed: optional int for a layer-local generator (default: cnnkit's global one).

    Input shape:
        ``(batch_size, H, W, C)``
    Output shape:
        same as the input.

    Example:
        >>> x = np.ones((2, 3, 3, 4), "float32")
        >>> out = SpatialDropout2D(0.5, seed=1)(x, training=True).numpy()
        >>> bool(np.all(out.std(axis=(1, 2)) == 0))  # every map all-kept or all-dropped
        True
    """

    samplewise = True

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between "
                f"0 and 1. Received: rate={rate}"
            )
        self.rate = float(rate)
        self.data_format = standardize_data_format(data_format)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        n, _, _, c = inputs.shape
        rng = self._rng or backend.rng()
        return shape_ops.dropout(inputs, self.rate, rng, noise_shape=(n, 1, 1, c))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "data_format": self.data_format,
            "seed": self.seed,
        }
