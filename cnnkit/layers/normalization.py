"""Normalisation layers: BatchNormalization."""

from __future__ import annotations

import numpy as np

from cnnkit import initializers, regularizers
from cnnkit.argument_validation import is_real
from cnnkit.autodiff import Tensor
from cnnkit.kernels import norm as norm_ops
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.core import _serialize_callable, _set_constraints


class BatchNormalization(Layer):
    """Normalises each channel with batch statistics in training, moving averages in inference.

    In training (``fit``, ``train_on_batch``, or a call with ``training=True``), for each
    channel of ``axis``, with the mean and the biased variance of the batch taken over
    every other axis (Ioffe & Szegedy, 2015, https://arxiv.org/abs/1502.03167)::

        out = gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta

    and the moving statistics are updated in place, once per training call::

        moving_mean     = moving_mean * momentum + mean(x) * (1 - momentum)
        moving_variance = moving_variance * momentum + var(x) * (1 - momentum)

    In inference (``predict``, ``evaluate``, or a call with ``training=False``, the
    default) the layer is the affine map::

        out = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta

    As in Keras 3, a layer with ``trainable = False`` always runs in inference mode:
    its moving statistics are frozen along with ``gamma`` and ``beta``.

    Args:
        axis: int, the channel axis (typically the last one, ``-1``, for NHWC).
        momentum: float in [0, 1), the momentum of the moving averages.
        epsilon: float > 0, added to the variance to avoid dividing by zero.
        center: whether to add the learned offset ``beta``.
        scale: whether to multiply by the learned factor ``gamma``.
        beta_initializer, gamma_initializer: initializers of ``beta`` (zeros) and ``gamma``
            (ones).
        moving_mean_initializer, moving_variance_initializer: initializers of the moving
            statistics (zeros and ones).
        beta_regularizer, gamma_regularizer: optional callables giving penalties.
        beta_constraint, gamma_constraint: optional constraints applied after each update.
        renorm, renorm_clipping, renorm_momentum: Keras's batch renormalization; only
            ``renorm=False`` (``NotImplementedError`` otherwise), the other two then unused.
        synchronized: in data-parallel training over several processes
            (:mod:`cnnkit.distribution`), ``True`` normalises with the statistics of the
            whole global batch (summed over the processes at each step) instead of each
            process's slice; with one process it changes nothing.

    Weights, in Keras's order: ``gamma`` (if ``scale``) and ``beta`` (if ``center``),
    trainable, then ``moving_mean`` and ``moving_variance``, non-trainable; each of shape
    ``(C,)`` with ``C = input_shape[axis]``.

    Input shape:
        any rank, e.g. ``(batch_size, H, W, C)`` or ``(batch_size, C)``.
    Output shape:
        the input shape.

    Raises:
        ValueError: for ``momentum`` outside [0, 1), ``epsilon <= 0``, or (when built) an
            ``axis`` out of range or of unknown size.
        TypeError: for a ``synchronized`` that is not a bool.
        NotImplementedError: for a list of axes.

    Example:
        >>> layer = BatchNormalization(momentum=0.9)
        >>> x = np.array([[0.0, 2.0], [2.0, 6.0]], "float32")
        >>> layer(x, training=True).numpy().round(2)
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> layer.moving_mean.numpy(), layer.moving_variance.numpy()
        (array([0.1, 0.4], dtype=float32), array([1. , 1.3], dtype=float32))
        >>> layer(x).numpy().round(2)  # inference: (x - moving_mean) / sqrt(moving_var + eps)
        array([[-0.1 ,  1.4 ],
               [ 1.9 ,  4.91]], dtype=float32)
    """

    samplewise = True

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if renorm:
            raise NotImplementedError(
                "Batch renormalization (`renorm=True`) is not implemented: use renorm=False "
                "(Keras's default)."
            )
        self.supports_masking = True
        self.axis = _check_axis(axis)
        if not is_real(momentum) or not 0.0 <= momentum < 1.0:
            raise ValueError(
                "Invalid value for argument `momentum`. Expected a float in [0, 1). "
                f"Received: momentum={momentum!r}"
            )
        if not is_real(epsilon) or not epsilon > 0.0:
            raise ValueError(
                "Invalid value for argument `epsilon`. Expected a strictly positive float. "
                f"Received: epsilon={epsilon!r}"
            )
        if not isinstance(synchronized, (bool, np.bool_)):
            raise TypeError(
                "Invalid value for argument `synchronized`. Expected True or False. "
                f"Received: synchronized={synchronized!r}"
            )
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        _set_constraints(self, beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.synchronized = bool(synchronized)
        self.gamma = self.beta = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f'Invalid value for argument `axis` of layer "{self.name}": an input of rank '
                f"{ndim} has axes {-ndim}..{ndim - 1}. Received: axis={self.axis}"
            )
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f'Axis {self.axis} of the input of layer "{self.name}" must have a defined '
                f"size. Received: input_shape={input_shape}"
            )
        shape = (channels,)
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
        self.moving_mean = self.add_weight(
            shape, self.moving_mean_initializer, trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape, self.moving_variance_initializer, trainable=False, name="moving_variance"
        )
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        self.built = True

    def call(self, inputs, training=None):
        # A frozen layer passes gamma and beta as constants: no gradient flows to them.
        gamma, beta = self.gamma, self.beta
        if not self.trainable:
            gamma = None if gamma is None else Tensor(gamma.data)
            beta = None if beta is None else Tensor(beta.data)
        if training and self.trainable:
            dist = None
            if self.synchronized:  # the MPI machinery is imported only by a synchronised layer
                from cnnkit import distribution

                dist = distribution.active_data_parallel()
            out, mean, variance = norm_ops.batch_normalization_training(
                inputs,
                self.axis,
                offset=beta,
                scale=gamma,
                epsilon=self.epsilon,
                sum_across=None if dist is None else dist.sum_in_place,
            )
            self._update_moving(self.moving_mean.data, mean)
            self._update_moving(self.moving_variance.data, variance)
            return out
        return norm_ops.batch_normalization(
            inputs,
            Tensor(self.moving_mean.data),
            Tensor(self.moving_variance.data),
            self.axis,
            offset=beta,
            scale=gamma,
            epsilon=self.epsilon,
        )

    def _update_moving(self, moving, batch_stat) -> None:
        """``moving = moving * momentum + batch_stat * (1 - momentum)``, in place, off the graph."""
        moving *= moving.dtype.type(self.momentum)
        moving += batch_stat.astype(moving.dtype, copy=False) * moving.dtype.type(
            1.0 - self.momentum
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": _serialize_callable(self.beta_regularizer),
            "gamma_regularizer": _serialize_callable(self.gamma_regularizer),
            "beta_constraint": _serialize_callable(self.beta_constraint),
            "gamma_constraint": _serialize_callable(self.gamma_constraint),
            "synchronized": self.synchronized,
        }


def _check_axis(axis) -> int:
    if isinstance(axis, (list, tuple)):
        raise NotImplementedError(
            "BatchNormalization normalises along a single axis; a list of axes is not "
            f"supported. Pass one int. Received: axis={axis!r}"
        )
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"Argument `axis` must be an int. Received: axis={axis!r}")
    return int(axis)
