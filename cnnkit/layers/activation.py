"""Activation layers: ReLU, LeakyReLU, ELU and Softmax as layers (Keras 3 defaults)."""

from __future__ import annotations

from cnnkit import activations
from cnnkit.layers.base import Layer


class _ActivationLayer(Layer):
    """Shared shape logic: the output has the input's shape."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_ActivationLayer):
    """Rectified linear unit: ``min(x, max_value)`` above ``threshold``, ``negative_slope * (x -
    threshold)`` below.

    Args:
        max_value: optional ceiling (≥ 0).
        negative_slope: slope below the threshold (≥ 0), default 0.
        threshold: where the function switches, default 0.

    Example:
        >>> ReLU(max_value=6.0)(np.array([[-1.0, 3.0, 9.0]], "float32")).numpy()
        array([[0., 3., 6.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        for name, value in (("negative_slope", negative_slope), ("threshold", threshold)):
            if value is None or value < 0:
                raise ValueError(
                    f"{name} of a ReLU layer cannot be a negative value or None. "
                    f"Received: {name}={value}"
                )
        if max_value is not None and max_value < 0:
            raise ValueError(
                f"max_value of a ReLU layer cannot be a negative value. Received: {max_value}"
            )
        self.max_value = max_value
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs):
        return activations.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(_ActivationLayer):
    """``x`` for ``x ≥ 0``, ``negative_slope * x`` otherwise (Keras 3 layer default 0.3).

    Example:
        >>> LeakyReLU()(np.array([[-1.0, 2.0]], "float32")).numpy()
        array([[-0.3,  2. ]], dtype=float32)
    """

    samplewise = True

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if negative_slope is None or negative_slope < 0:
            raise ValueError(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative. "
                f"Received: negative_slope={negative_slope}"
            )
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_ActivationLayer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> ELU()(np.array([[0.0, 1.0]], "float32")).numpy()
        array([[0., 1.]], dtype=float32)
    """

    samplewise = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha = float(alpha)

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_ActivationLayer):
    """Softmax over ``axis`` (default the last): non-negative outputs summing to 1.

    Example:
        >>> Softmax()(np.zeros((1, 4), "float32")).numpy()
        array([[0.25, 0.25, 0.25, 0.25]], dtype=float32)
    """

    samplewise = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if not isinstance(axis, int):
            raise ValueError(f"Softmax supports a single integer `axis`. Received: axis={axis!r}")
        self.axis = axis

    def call(self, inputs):
        return activations.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
