"""``PReLU``: a leaky ReLU whose negative slope is learned, per unit."""

from __future__ import annotations

from cnnkit import initializers, regularizers
from cnnkit.kernels import elementwise
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.core import _serialize_callable, _set_constraints


class PReLU(Layer):
    """Parametric ReLU: ``x`` where ``x > 0``, ``alpha * x`` elsewhere, ``alpha`` learned.

    He et al., 2015 (https://arxiv.org/abs/1502.01852). ``alpha`` has one value per input
    unit (the input shape without the batch), shared along ``shared_axes`` (e.g. ``[1, 2]``
    for one slope per channel of an image).

    Args:
        alpha_initializer: initializer of ``alpha`` (default ``"Zeros"``: a ReLU to start).
        alpha_regularizer: optional penalty.
        alpha_constraint: a constraint applied to ``alpha`` after each optimizer step.
        shared_axes: int or list of axes (from 1) along which ``alpha`` is shared.

    Input shape:
        any. Output shape: the input's.

    Example:
        >>> layer = PReLU(alpha_initializer="ones")
        >>> layer(np.array([[-2.0, 3.0]], "float32")).numpy()
        array([[-2.,  3.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _set_constraints(self, alpha_constraint=alpha_constraint)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"Invalid `shared_axes` {self.shared_axes} for an input of rank "
                    f"{len(input_shape)}: each must be between 1 and {len(input_shape) - 1}."
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"PReLU needs known sizes for the axes it does not share. Received input shape "
                f"{tuple(input_shape)} with shared_axes={self.shared_axes}."
            )
        self.alpha = self.add_weight(
            tuple(shape),
            self.alpha_initializer,
            name="alpha",
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        axes = {
            i: input_shape[i]
            for i in range(1, len(input_shape))
            if i not in (self.shared_axes or [])
        }
        self.input_spec = InputSpec(ndim=len(input_shape), axes=axes)
        self.built = True

    def call(self, inputs):
        return elementwise.prelu(inputs, self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": _serialize_callable(self.alpha_regularizer),
            "alpha_constraint": _serialize_callable(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }
