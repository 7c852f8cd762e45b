"""Per-sample normalisation layers: Layer, Group, Unit and RMS normalisation.

Each normalises every sample on its own (no batch statistics, so training and inference
agree); the maths and gradients are in :mod:`cnnkit.kernels.feature_norm`.
"""

from __future__ import annotations

import numbers

from cnnkit import initializers, regularizers
from cnnkit.kernels import feature_norm as fn_ops
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.core import _serialize_callable, _set_constraints


def _check_axis_arg(axis, layer: str):
    """An int, or a list of ints (Keras keeps a list): the stored ``axis``."""
    if isinstance(axis, (list, tuple)):
        if not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
            raise TypeError(f"{layer}: every entry of `axis` must be an int. Received: {axis!r}")
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise TypeError(
        f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}"
    )


def _check_epsilon(epsilon) -> float:
    if not isinstance(epsilon, numbers.Real) or isinstance(epsilon, bool) or epsilon < 0:
        raise ValueError(
            f"Invalid value for argument `epsilon`. Expected a non-negative float. "
            f"Received: epsilon={epsilon!r}"
        )
    return float(epsilon)


def _axes_in_range(axis, input_shape) -> None:
    for a in [axis] if isinstance(axis, int) else axis:
        if a >= len(input_shape) or a < -len(input_shape):
            raise ValueError(
                f"Axis {a} is out of bounds for input shape {tuple(input_shape)}. "
                f"Received: axis={axis}"
            )


def _param_shape(layer: Layer, axis, input_shape) -> tuple:
    _axes_in_range(axis, input_shape)
    axes = fn_ops.normalize_axes(axis, len(input_shape))
    shape = tuple(input_shape[a] for a in axes)
    if any(d is None for d in shape):
        raise ValueError(
            f"Layer {layer.name!r}: the normalised axes {list(axes)} must have known sizes. "
            f"Received input shape {tuple(input_shape)}."
        )
    return shape


class LayerNormalization(Layer):
    """Normalises each sample over ``axis`` to zero mean and unit variance, then scales/shifts.

    ``out = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and the biased
    variance over ``axis`` of each sample (Ba et al., 2016, https://arxiv.org/abs/1607.06450).

    Args:
        axis: int or list of ints, the normalised axes (default ``-1``, the features).
        epsilon: small float added to the variance (default ``1e-3``, as Keras).
        center: whether to add the learned offset ``beta``.
        scale: whether to multiply by the learned factor ``gamma``.
        beta_initializer, gamma_initializer: initializers (zeros and ones).
        beta_regularizer, gamma_regularizer: optional penalties.
        beta_constraint, gamma_constraint: constraints applied to ``beta``/``gamma`` after
            each optimizer step.

    Weights: ``gamma`` then ``beta``, of shape ``tuple(input_shape[a] for a in axis)``.

    Input shape:
        any. Output shape: the input's. Keras's timestep mask passes through.

    Raises:
        TypeError: for an ``axis`` that is not an int or a list of ints.
        ValueError: for a negative ``epsilon``, an ``axis`` out of range (when built).
        NotImplementedError: for ``rms_scaling=True`` (deprecated in Keras; use
            ``RMSNormalization``).

    Example:
        >>> LayerNormalization(epsilon=0.0)(np.array([[1.0, 3.0]], "float32")).numpy()
        array([[-1.,  1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        rms_scaling=False,
        **kwargs,
    ):
        if rms_scaling:
            raise NotImplementedError(
                "LayerNormalization(rms_scaling=True) is deprecated in Keras and not supported; "
                "use `RMSNormalization` instead."
            )
        super().__init__(**kwargs)
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.axis = _check_axis_arg(axis, "LayerNormalization")
        self.epsilon = _check_epsilon(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        shape = _param_shape(self, self.axis, input_shape)
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]  # Keras
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                shape,
                self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                shape,
                self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.built = True

    def call(self, inputs):
        return fn_ops.layer_normalization(
            inputs, self.gamma, self.beta, self.axis, epsilon=self.epsilon
        )

    def compute_output_shape(self, input_shape):
        _axes_in_range(self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": False,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": _serialize_callable(self.beta_regularizer),
            "gamma_regularizer": _serialize_callable(self.gamma_regularizer),
            "beta_constraint": _serialize_callable(self.beta_constraint),
            "gamma_constraint": _serialize_callable(self.gamma_constraint),
        }


class RMSNormalization(Layer):
    """Divides each sample by its root mean square over ``axis`` and scales it.

    ``out = x / sqrt(mean(x², axis) + epsilon) * scale`` (Zhang & Sennrich, 2019,
    https://arxiv.org/abs/1910.07467): no centring, no offset.

    Args:
        axis: int or list of ints (default ``-1``).
        epsilon: small float added to the mean square (default ``1e-6``, as Keras).

    Weights: ``scale`` (ones), of shape ``tuple(input_shape[a] for a in axis)``.

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> RMSNormalization(epsilon=0.0)(np.array([[3.0, 4.0]], "float32")).numpy().round(4)
        array([[0.8485, 1.1314]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_arg(axis, "RMSNormalization")
        self.epsilon = _check_epsilon(epsilon)

    def build(self, input_shape):
        shape = _param_shape(self, self.axis, input_shape)
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        self.scale = self.add_weight(shape, "ones", name="scale")
        self.built = True

    def call(self, inputs):
        return fn_ops.rms_normalization(inputs, self.scale, self.axis, epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        _axes_in_range(self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class UnitNormalization(Layer):
    """Scales each sample to unit Euclidean norm over ``axis``.

    ``out = x / sqrt(sum(x², axis))``, with ``1 / norm`` capped at ``1e12`` (so zeros stay
    zeros), as Keras's ``ops.normalize(order=2, epsilon=1e-12)``.

    Args:
        axis: int or list of ints (default ``-1``).

    Input shape:
        any. Output shape: the input's. Keras's timestep mask passes through.

    Example:
        >>> UnitNormalization()(np.array([[3.0, 4.0]], "float32")).numpy()
        array([[0.6, 0.8]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_arg(axis, "UnitNormalization")
        self.supports_masking = True

    def call(self, inputs):
        return fn_ops.l2_normalize(inputs, self.axis, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        _axes_in_range(self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class GroupNormalization(Layer):
    """Normalises groups of channels of each sample (Wu & He, 2018, arXiv:1803.08494).

    The ``C`` channels of ``axis`` are split into ``groups`` groups of ``C / groups``; each
    group is standardised over its channels and every other non-batch axis, then
    ``gamma * x̂ + beta`` per channel. ``groups=1`` is layer normalisation over all features,
    ``groups=-1`` (or ``C``) instance normalisation.

    Args:
        groups: positive int dividing ``C``, or ``-1`` for ``C`` (default 32).
        axis: int, the channel axis (default ``-1``).
        epsilon: added to the variance (default ``1e-3``).
        center, scale: whether to learn ``beta`` and ``gamma``.
        beta_initializer, gamma_initializer: initializers (zeros and ones).
        beta_regularizer, gamma_regularizer: optional penalties.
        beta_constraint, gamma_constraint: constraints applied to ``beta``/``gamma`` after
            each optimizer step.

    Weights: ``gamma`` then ``beta``, of shape ``(C,)``.

    Input shape:
        ``(batch_size, ..., C, ...)``. Output shape: the input's.

    Raises:
        ValueError: an invalid ``groups``; when built, ``C`` unknown, smaller than or not
            divisible by ``groups``.

    Example:
        >>> x = np.array([[1.0, 3.0, 10.0, 30.0]], "float32")
        >>> GroupNormalization(groups=2, epsilon=0.0)(x).numpy()
        array([[-1.,  1., -1.,  1.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        if (
            not isinstance(groups, int)
            or isinstance(groups, bool)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                "Received an invalid value for argument `groups`, expected a positive integer "
                f"(or `-1` for instance normalization). Received: groups={groups}"
            )
        super().__init__(**kwargs)
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        self.groups = groups
        self.axis = axis
        self.epsilon = _check_epsilon(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        _axes_in_range(self.axis, input_shape)
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(
                f"Axis {self.axis} of input tensor should have a defined dimension but the "
                f"layer received an input with shape {tuple(input_shape)}."
            )
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) cannot be more than the number of "
                f"channels ({dim})."
            )
        if dim % self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) must be a divisor of the number of "
                f"channels ({dim})."
            )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                (dim,),
                self.gamma_initializer,
                name="gamma",
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.beta = self.add_weight(
                (dim,),
                self.beta_initializer,
                name="beta",
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        self.built = True

    def call(self, inputs):
        shape = tuple(inputs.shape)
        axis = self.axis % len(shape)
        grouped = (*shape[:axis], self.groups, shape[axis] // self.groups, *shape[axis + 1 :])
        reduce = tuple(i for i in range(1, len(grouped)) if i != axis)
        x = fn_ops.layer_normalization(
            inputs.reshape(grouped), axis=reduce, epsilon=self.epsilon
        ).reshape(shape)
        channel_view = [shape[axis] if i == axis else 1 for i in range(len(shape))]
        gamma = None if self.gamma is None else self.gamma.reshape(channel_view)
        beta = None if self.beta is None else self.beta.reshape(channel_view)
        return fn_ops.affine(x, gamma, beta)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": _serialize_callable(self.beta_regularizer),
            "gamma_regularizer": _serialize_callable(self.gamma_regularizer),
            "beta_constraint": _serialize_callable(self.beta_constraint),
            "gamma_constraint": _serialize_callable(self.gamma_constraint),
        }
