"""Merging layers: combine a list of tensors into one (skip connections, parallel branches).

Element-wise layers (``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``) follow Keras's broadcasting rule: sizes, batch axis excluded, must be equal or 1
(``None`` matches anything); an input of lower rank gets size-1 axes inserted after the batch
axis. ``Concatenate`` needs equal sizes on every axis but the concatenation axis.

Each layer has a functional twin: ``add([a, b])`` is ``Add()([a, b])``.

Example:
    >>> import numpy as np
    >>> a, b = np.ones((2, 3), "float32"), np.full((2, 3), 2.0, "float32")
    >>> Add()([a, b]).numpy()[0]
    array([3., 3., 3.], dtype=float32)
    >>> Concatenate()([a, b]).shape
    (2, 6)
"""

from __future__ import annotations

from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import Layer


def _check_list(layer: Layer, input_shape) -> list:
    """The shapes of a list of inputs, or a Keras-style error naming what was received."""
    if (
        not isinstance(input_shape, (list, tuple))
        or not input_shape
        or not all(isinstance(s, (list, tuple)) for s in input_shape)
    ):
        raise ValueError(
            f"A `{type(layer).__name__}` layer should be called on a list of at least 1 input. "
            f"Received: input_shape={input_shape}"
        )
    return [tuple(s) for s in input_shape]


class _Merge(Layer):
    """Shared logic of the element-wise merging layers: shape checks and rank alignment."""

    def _merge_function(self, inputs):  # pragma: no cover - abstract
        raise NotImplementedError

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # validates
        self.built = True

    def call(self, inputs):
        inputs = _as_list(self, inputs)
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        rank = max(len(x.shape) for x in inputs)
        aligned = []
        for x in inputs:  # (N, d1, ...) -> (N, 1, ..., 1, d1, ...): Keras's expand_dims(axis=1)
            if len(x.shape) < rank:
                x = x.reshape((x.shape[0],) + (1,) * (rank - len(x.shape)) + tuple(x.shape[1:]))
            aligned.append(x)
        return self._merge_function(aligned)

    def compute_output_shape(self, input_shape):
        shapes = _check_list(self, input_shape)
        if not all(shapes):
            raise ValueError(
                f"A `{type(self).__name__}` layer needs inputs with a batch axis; received a "
                f"scalar (shape ()). Received: input_shape={shapes}"
            )
        batches = {s[0] for s in shapes} - {None}
        if len(batches) > 1:
            raise ValueError(
                f"Cannot merge tensors with different batch sizes. Received tensors with "
                f"shapes {shapes}"
            )
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = _broadcast(out, shape[1:], shapes)
        return (batches.pop() if batches else None, *out)


def _as_list(layer: Layer, inputs) -> list:
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(
            f"A `{type(layer).__name__}` layer should be called on a list of inputs. "
            f"Received: inputs={inputs!r} (not a list of tensors)"
        )
    return list(inputs)


def _broadcast(a: tuple, b: tuple, shapes) -> tuple:
    """Keras's element-wise output shape of two shapes (batch axis excluded), right-aligned."""
    if len(a) < len(b):
        a, b = b, a
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b) :], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1 or i == j:
            out.append(j if i == 1 else i)
        else:
            raise ValueError(
                f"Inputs have incompatible shapes. Received shapes {shapes}: sizes must be "
                "equal or 1 on every axis but the batch axis."
            )
    return tuple(out)


class Add(_Merge):
    """Element-wise sum of a list of tensors (a residual connection).

    Input shape:
        a list of tensors of equal (or broadcastable) shapes.
    Output shape:
        the common shape.

    Example:
        >>> from cnnkit.layers import Input, Conv2D
        >>> i = Input(shape=(8, 8, 4))
        >>> Add()([i, Conv2D(4, 3, padding="same")(i)]).shape
        (None, 8, 8, 4)
    """

    samplewise = True

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """``inputs[0] - inputs[1]``, element-wise; exactly two inputs.

    Raises:
        ValueError: for any other number of inputs.
    """

    samplewise = True

    def compute_output_shape(self, input_shape):
        shapes = _check_list(self, input_shape)
        if len(shapes) != 2:
            raise ValueError(
                "A `Subtract` layer should be called on exactly 2 inputs. "
                f"Received: input_shape={shapes}"
            )
        return super().compute_output_shape(shapes)

    def _merge_function(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Element-wise product of a list of tensors (gating)."""

    samplewise = True

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Element-wise mean of a list of tensors: ``(x0 + ... + xk) / (k + 1)``."""

    samplewise = True

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / float(len(inputs))


class Maximum(_Merge):
    """Element-wise maximum of a list of tensors; on ties the gradient goes to the first."""

    samplewise = True

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = shape_ops.maximum(out, x)
        return out


class Minimum(_Merge):
    """Element-wise minimum of a list of tensors; on ties the gradient goes to the first."""

    samplewise = True

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = shape_ops.minimum(out, x)
        return out


class Concatenate(Layer):
    """Joins a list of tensors along ``axis``: the branches of an Inception block.

    Args:
        axis: the concatenation axis (default ``-1``, the channels of NHWC images).

    Input shape:
        a list of tensors of equal rank and equal sizes on every axis but ``axis``.
    Output shape:
        the common shape, with the sizes along ``axis`` summed (``None`` if one is unknown).

    Raises:
        ValueError: when the shapes do not match or ``axis`` is out of range.

    Example:
        >>> from cnnkit.layers import Input, Conv2D
        >>> i = Input(shape=(8, 8, 3))
        >>> Concatenate()([Conv2D(4, 1)(i), Conv2D(6, 3, padding="same")(i)]).shape
        (None, 8, 8, 10)
    """

    samplewise = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"Argument `axis` must be an integer. Received: axis={axis!r}")
        self.axis = axis

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # validates
        self.built = True

    def _runs_samplewise(self) -> bool:  # along the batch axis it mixes samples
        shapes = self._build_shapes_arg
        return (
            isinstance(shapes, list) and bool(shapes) and self.axis % len(shapes[0]) != 0
        ) and super()._runs_samplewise()

    def call(self, inputs):
        inputs = _as_list(self, inputs)
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        return shape_ops.concatenate(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = _check_list(self, input_shape)
        rank = len(shapes[0])
        mismatch = ValueError(
            "A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis. Received: input_shape={shapes}"
        )
        if any(len(s) != rank for s in shapes):
            raise mismatch
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Invalid value for argument `axis`: {self.axis} is out of range for inputs of "
                f"rank {rank}. Received: input_shape={shapes}"
            )
        axis = self.axis % rank
        out = []
        for i in range(rank):
            sizes = [s[i] for s in shapes]
            if i == axis:
                out.append(None if None in sizes else sum(sizes))
                continue
            known = set(sizes) - {None}
            if len(known) > 1:
                raise mismatch
            out.append(known.pop() if known else None)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """Functional interface to :class:`Add`: ``add([a, b]) == Add()([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional interface to :class:`Subtract`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional interface to :class:`Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional interface to :class:`Average`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional interface to :class:`Maximum`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional interface to :class:`Minimum`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to :class:`Concatenate`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
