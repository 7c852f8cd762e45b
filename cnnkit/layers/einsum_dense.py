"""``EinsumDense``: a dense layer whose product is any two-operand einsum of input and kernel."""

from __future__ import annotations

import math
import re

from cnnkit import activations, initializers, regularizers
from cnnkit.kernels import attention as attention_ops
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.core import _activate, _activity_penalty, _serialize_callable, _set_constraints


def analyze_einsum(equation: str, bias_axes, input_shape, output_shape):
    """Kernel shape, bias shape and full output shape of an ``EinsumDense`` (Keras's rules).

    ``output_shape`` gives the output without its batch axis (``None`` for sizes taken from
    the input). An equation may elide leading (``"...ab,bc->...ac"``) or trailing
    (``"ab...,bc->ac..."``) input axes.

    Returns:
        ``(kernel_shape, bias_shape or None, full_output_shape, input_axes, output_axes)``;
        the last two are the kernel axes contracted with the input and those kept in the
        output (the fans of the kernel's initializer).

    Raises:
        ValueError: for an equation of another form, sizes that disagree, or an index of the
            output or the kernel found nowhere else.
    """
    input_spec, weight_spec, output_spec, left_elided = _split(equation)
    input_shape = list(input_shape)
    elided = len(input_shape) - len(input_spec)
    if elided < 0 or not input_shape:
        raise ValueError(
            f"EinsumDense equation '{equation}' needs inputs of rank {len(input_spec)} or more "
            f"(with '...'). Received input shape {tuple(input_shape)}."
        )
    if elided > 0 and "..." not in equation:
        raise ValueError(
            f"EinsumDense equation '{equation}' needs inputs of rank {len(input_spec)}. "
            f"Received input shape {tuple(input_shape)}."
        )
    out = [input_shape[0], *output_shape]
    if elided > 0 and left_elided:
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out += input_shape[len(input_shape) - elided :]
    if left_elided:
        in_map = {c: i + elided - len(input_shape) for i, c in enumerate(input_spec)}
        out_map = {c: i + elided for i, c in enumerate(output_spec)}
    else:
        in_map = {c: i for i, c in enumerate(input_spec)}
        out_map = {c: i for i, c in enumerate(output_spec)}
    for c in input_spec:
        if c in out_map and out[out_map[c]] is None:  # an unspecified size: the input's
            out[out_map[c]] = input_shape[in_map[c]]
        elif c in out_map:
            if out[out_map[c]] != input_shape[in_map[c]]:
                raise ValueError(
                    f"Input shape and output shape do not match at shared dimension '{c}'. "
                    f"Input shape is {input_shape[in_map[c]]}, and output shape is "
                    f"{out[out_map[c]]}."
                )
    for c in output_spec:
        if c not in input_spec and c not in weight_spec:
            raise ValueError(
                f"Dimension '{c}' was specified in the output '{output_spec}' but has no "
                f"corresponding dim in the input spec '{input_spec}' or weight spec "
                f"'{weight_spec}'"
            )
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(weight_spec):
        if c in out_map:
            kernel_shape.append(out[out_map[c]])
            output_axes.append(i)
        elif c in in_map:
            kernel_shape.append(input_shape[in_map[c]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"Weight dimension '{c}' did not have a match in either the input spec "
                f"'{input_spec}' or the output spec '{output_spec}'. For this layer, the "
                "weight must be fully specified."
            )
    bias_shape = None
    if bias_axes is not None:
        shift = elided if left_elided else 0
        sizes = {c: out[i + shift] for i, c in enumerate(output_spec)}
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(
                    f"Bias dimension '{c}' was requested, but is not part of the output spec "
                    f"'{output_spec}'"
                )
        first = min(output_spec.find(c) for c in bias_axes)
        bias_shape = [sizes[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left_elided:
            bias_shape += [1] * max(elided, 0)
    return kernel_shape, bias_shape, out, input_axes, output_axes


def _split(equation: str):
    """``(input, kernel, output, left_elided)`` letters of an ``EinsumDense`` equation."""
    dotted = re.sub(r"\.\.\.", "0", str(equation))
    for pattern, left in (
        (r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", False),
        (r"^0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", True),
        (r"^([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", False),
    ):
        found = re.match(pattern, dotted)
        if found:
            return (*found.groups(), left)
    raise ValueError(
        f"Invalid einsum equation '{equation}'. Equations must be in the form "
        "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]...."
    )


class EinsumDense(Layer):
    """A dense layer of any rank: ``activation(einsum(equation, inputs, kernel) + bias)``.

    The kernel's shape follows from the equation: each kernel index takes its size from the
    output (``output_shape``) or, when contracted, from the input. Variance-scaling
    initializers (``glorot_uniform``...) use the fans of the contracted and the output axes
    of the kernel, as Keras does.

    Args:
        equation: ``"<input>,<kernel>-><output>"``, e.g. ``"ab,bc->ac"`` (``Dense``) or
            ``"abc,cde->abde"`` (a projection to heads); the input and output may start or
            end with ``...``.
        output_shape: the output's shape without the batch axis (an int for rank 2);
            ``None`` entries take the input's size.
        activation: activation function or name (default: linear).
        bias_axes: letters of the output that the bias spans (``None``: no bias).
        kernel_initializer, bias_initializer: initializers of the kernel and the bias.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: constraints applied to the weights after each
            optimizer step.
        lora_rank, lora_alpha: not supported (must be ``None``).
        quantization_config: not supported (must be ``None``).

    Input shape:
        the rank of the equation's input term (plus elided axes).
    Output shape:
        ``(batch_size, *output_shape)`` with ``None`` filled from the input.

    Raises:
        ValueError: for an invalid equation or sizes that disagree (when built).

    Example:
        >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de")
        >>> layer(np.ones((3, 5, 8), "float32")).shape
        (3, 5, 2, 4)
        >>> layer.kernel.shape, layer.bias.shape
        ((8, 2, 4), (2, 4))
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        lora_alpha=None,
        activity_regularizer=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if quantization_config is not None:
            raise NotImplementedError("EinsumDense: quantization is not supported.")
        _set_constraints(self, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if lora_rank is not None or lora_alpha is not None:
            raise NotImplementedError("EinsumDense: LoRA (`lora_rank`) is not supported.")
        if not isinstance(equation, str):
            raise TypeError(f"Argument `equation` must be a string. Received: {equation!r}")
        _split(equation)  # the form is checked now; sizes when built
        self.equation = equation
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        try:
            self.partial_output_shape = tuple(None if d is None else int(d) for d in output_shape)
        except TypeError:
            raise TypeError(
                "Argument `output_shape` must be an int or a sequence of ints (or None). "
                f"Received: output_shape={output_shape!r}"
            ) from None
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.supports_masking = False

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        if any(d is None for d in kernel_shape) or (
            bias_shape is not None and any(d is None for d in bias_shape)
        ):
            raise ValueError(
                f"EinsumDense {self.name!r}: the kernel/bias shape {kernel_shape}/{bias_shape} "
                f"has unknown sizes; define them in `output_shape` or the input shape "
                f"{tuple(input_shape)}."
            )
        self.input_spec = InputSpec(ndim=len(input_shape))
        self._kernel = self.add_weight(
            tuple(kernel_shape),
            "zeros",
            name="kernel",
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._kernel.assign(self._initial_kernel(kernel_shape, input_axes, output_axes))
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight(
                tuple(bias_shape),
                self.bias_initializer,
                name="bias",
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.built = True

    def _initial_kernel(self, shape, input_axes, output_axes):
        """Variance scaling with the fans of the einsum's axes; other initializers as given."""
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and len(shape) != 2:
            fan_in = math.prod(shape[i] for i in input_axes)
            fan_out = math.prod(shape[i] for i in output_axes)
            # i.i.d. draws: a (fan_in, fan_out) matrix reshaped has the kernel's distribution
            return init((fan_in, fan_out), dtype=self.dtype).reshape(shape)
        return init(tuple(shape), dtype=self.dtype)

    @property
    def kernel(self):
        if not self.built:
            raise AttributeError("You must build the layer before accessing `kernel`.")
        return self._kernel

    def call(self, inputs, training=None):
        out = attention_ops.einsum(self.equation, inputs, self._kernel)
        if self.bias is not None:
            out = out + self.bias
        out = _activate(self, out)
        _activity_penalty(self, out)
        return out

    def compute_output_shape(self, input_shape):
        _, _, out, _, _ = analyze_einsum(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        return tuple(out)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "kernel_constraint": _serialize_callable(self.kernel_constraint),
            "bias_constraint": _serialize_callable(self.bias_constraint),
        }
