"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU, and ``StackedRNNCells``.

A cell is a layer with ``state_size`` (an int per state), ``output_size`` and
``call(inputs, states, training=False) -> (output, new_states)`` on one step ``(B, F)``.
The ``RNN`` layer runs any cell, a user's included, over a sequence. The equations and gate
orders are those of the fused layers (:mod:`cnnkit.kernels.recurrent`), written per step
with differentiable ops; ``LSTM``/``GRU``/``SimpleRNN`` remain the fast way to run the
built-in cells over whole sequences.

Dropout (``dropout`` on the step input, ``recurrent_dropout`` on the carried ``h``) uses one
mask per sequence, as Keras: drawn at the first step of a call, reused at every step, and
cleared by :meth:`reset_dropout_mask` (which ``RNN`` calls after each sequence).
"""

from __future__ import annotations

import numpy as np

from cnnkit import activations, backend, initializers, regularizers
from cnnkit.kernels import sequence as seq_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import Layer
from cnnkit.layers.core import _serialize_callable
from cnnkit.layers.recurrent import _rate


class _Cell(Layer):
    """Arguments, weights, dropout masks and config shared by the built-in cells."""

    _gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        cls = type(self).__name__
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"Received an invalid value for argument `units`, expected a positive integer, "
                f"got {units}."
            )
        super().__init__(**kwargs)
        if any(c is not None for c in (kernel_constraint, recurrent_constraint, bias_constraint)):
            raise NotImplementedError(f"{cls}: weight constraints are not supported; pass None.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = min(1.0, max(0.0, _rate(cls, "dropout", dropout)))
        self.recurrent_dropout = _rate(cls, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._masks: dict = {}

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        require_rank(self, input_shape, exact=2)
        width = self._gates * self.units
        self.kernel = self.add_weight(
            (input_shape[-1], width),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, width),
            self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                self._bias_shape(),
                self._bias_init(),
                name="bias",
                regularizer=self.bias_regularizer,
            )
        self.built = True

    # -- dropout masks, one per sequence ---------------------------------------------------
    def _mask(self, key: str, rate: float, like):
        if key not in self._masks:
            rng = self._rng or backend.rng()
            keep = rng.random(like.shape, dtype=np.float32) < np.float32(1.0 - rate)
            self._masks[key] = keep.astype(like.dtype) * like.dtype.type(1.0 / (1.0 - rate))
        return self._masks[key]

    def _dropped(self, inputs, h, training):
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self._mask("dropout", self.dropout, inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h = h * self._mask("recurrent", self.recurrent_dropout, h)
        return inputs, h

    def reset_dropout_mask(self) -> None:
        """Forget the dropout masks: the next call draws new ones."""
        self._masks = {}

    reset_recurrent_dropout_mask = reset_dropout_mask

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.units]
        return [np.zeros((batch_size, s), dtype=self.dtype) for s in sizes]

    def compute_output_shape(self, input_shape):
        return (require_rank(self, input_shape, exact=2)[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_callable(self.kernel_regularizer),
            "recurrent_regularizer": _serialize_callable(self.recurrent_regularizer),
            "bias_regularizer": _serialize_callable(self.bias_regularizer),
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: ``h = activation(x W + h_prev R + b)``.

    Args:
        units: positive int, the size of the output and the state.
        activation: default ``"tanh"``.
        use_bias, kernel_initializer, recurrent_initializer (default ``"orthogonal"``),
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer:
            as ``SimpleRNN``.
        kernel_constraint, recurrent_constraint, bias_constraint: not supported.
        dropout, recurrent_dropout: dropout rates of the input and the state (training only).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: ``(batch, features)``; states: ``[h]`` of shape ``(batch, units)``.

    Returns:
        ``(h, [h])``.

    Example:
        >>> from cnnkit.layers import RNN
        >>> RNN(SimpleRNNCell(4))(np.ones((2, 3, 5), "float32")).shape
        (2, 4)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h = self._dropped(inputs, h_prev, training)
        z = x @ self.kernel
        if self.bias is not None:
            z = z + self.bias
        out = self.activation(z + h @ self.recurrent_kernel)
        return out, [out]


class LSTMCell(_Cell):
    """One step of a long short-term memory unit (Hochreiter & Schmidhuber, 1997).

    Gates ``i, f, c~, o`` (Keras's order) of ``z = x W + h_prev R + b``::

        c = s(f) * c_prev + s(i) * a(c~)        h = s(o) * a(c)

    Args:
        units: positive int.
        activation: ``a``, default ``"tanh"``; recurrent_activation: ``s``, default
            ``"sigmoid"``.
        unit_forget_bias: whether the forget gate's bias starts at 1.
        other arguments: as ``SimpleRNNCell``.

    Call arguments:
        inputs ``(batch, features)``; states ``[h, c]``, each ``(batch, units)``.

    Returns:
        ``(h, [h, c])``.

    Example:
        >>> from cnnkit.layers import RNN
        >>> out, h, c = RNN(LSTMCell(4), return_state=True)(np.ones((2, 3, 5), "float32"))
        >>> out.shape, c.shape
        ((2, 4), (2, 4))
    """

    samplewise = True  # each output sample depends on its input sample alone

    _gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, units = self.bias_initializer, self.units

        def forget_gate_ones(shape, dtype=None):  # [b_i, 1, b_c, b_o]
            ones = np.ones((units,), dtype=dtype or backend.floatx())
            parts = [init((units,), dtype=dtype), ones, init((2 * units,), dtype=dtype)]
            return np.concatenate([np.asarray(p, dtype=ones.dtype) for p in parts])

        return forget_gate_ones

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        x, h = self._dropped(inputs, h_prev, training)
        z = x @ self.kernel + h @ self.recurrent_kernel
        if self.bias is not None:
            z = z + self.bias
        zi, zf, zc, zo = seq_ops.split_columns(z, 4)
        s = self.recurrent_activation
        c = s(zf) * c_prev + s(zi) * self.activation(zc)
        out = s(zo) * self.activation(c)
        return out, [out, c]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    """One step of a gated recurrent unit (Cho et al., 2014); gates z, r, h (Keras's order).

    ``z, r = s(x W_z + h_prev R_z + b_z), s(x W_r + h_prev R_r + b_r)``, ``h = z * h_prev +
    (1 - z) * h~`` with ``h~ = a(x W_h + r * (h_prev R_h + b'_h))`` (``reset_after=True``,
    bias ``(2, 3 units)``: input and recurrent biases) or ``h~ = a(x W_h + (r * h_prev) R_h
    + b_h)`` (``reset_after=False``, bias ``(3 units,)``).

    Args:
        units: positive int.
        activation: default ``"tanh"``; recurrent_activation: default ``"sigmoid"``.
        reset_after: where the reset gate applies (default ``True``, as Keras 3).
        other arguments: as ``SimpleRNNCell``.

    Call arguments:
        inputs ``(batch, features)``; states ``[h]``.

    Returns:
        ``(h, [h])``.

    Example:
        >>> from cnnkit.layers import RNN
        >>> RNN(GRUCell(4), return_sequences=True)(np.ones((2, 3, 5), "float32")).shape
        (2, 3, 4)
    """

    samplewise = True  # each output sample depends on its input sample alone

    _gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        x, h = self._dropped(inputs, h_prev, training)
        in_bias = rec_bias = None
        if self.bias is not None:
            in_bias, rec_bias = (
                (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
            )
        xz = x @ self.kernel
        if in_bias is not None:
            xz = xz + in_bias
        x_z, x_r, x_h = seq_ops.split_columns(xz, 3)
        s = self.recurrent_activation
        if self.reset_after:
            inner = h @ self.recurrent_kernel
            if rec_bias is not None:
                inner = inner + rec_bias
            r_z, r_r, r_h = seq_ops.split_columns(inner, 3)
            z, r = s(x_z + r_z), s(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            kz, kr, kh = seq_ops.split_columns(self.recurrent_kernel, 3)
            z, r = s(x_z + h @ kz), s(x_r + h @ kr)
            candidate = self.activation(x_h + (r * h) @ kh)
        out = z * h_prev + (1.0 - z) * candidate
        return out, [out]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config


def _state_sizes(cell) -> list:
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else _state_sizes(cell)[0]


class StackedRNNCells(Layer):
    """Several cells run one after the other at each step, as one cell.

    Args:
        cells: list of cells; the output of each is the input of the next.

    ``state_size`` lists every cell's states in order (each cell's own list flattened).

    Example:
        >>> from cnnkit.layers import RNN
        >>> cells = StackedRNNCells([SimpleRNNCell(3), LSTMCell(4)])
        >>> RNN(cells)(np.ones((2, 5, 6), "float32")).shape
        (2, 4)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        for cell in cells:
            if "call" not in dir(cell) or "state_size" not in dir(cell):
                raise ValueError(
                    "All cells must have a `call` method and a `state_size` attribute. "
                    f"Received cells={cells}"
                )
        self.cells = cells

    @property
    def state_size(self):
        return [s for cell in self.cells for s in _state_sizes(cell)]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def _sublayers(self) -> list[Layer]:
        return [c for c in self.cells if isinstance(c, Layer)]

    def _saved_sublayers(self):
        return [("cells", self._sublayers())]

    def build(self, input_shape):
        shape = require_rank(self, input_shape, exact=2)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
                cell.built = True
            shape = (shape[0], _output_size(cell))
        self.built = True

    def call(self, inputs, states, training=False):
        out, new_states, start = inputs, [], 0
        for cell in self.cells:
            count = len(_state_sizes(cell))
            own = list(states[start : start + count])
            start += count
            kwargs = {"training": training} if "training" in _call_parameters(cell) else {}
            out, cell_states = cell.call(out, own, **kwargs)
            new_states += (
                list(cell_states) if isinstance(cell_states, (list, tuple)) else [cell_states]
            )
        return out, new_states

    def compute_output_shape(self, input_shape):
        return (require_rank(self, input_shape, exact=2)[0], self.output_size)

    def reset_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def get_config(self):
        from cnnkit.layers.wrappers import serialize_layer

        return {**super().get_config(), "cells": [serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from cnnkit.layers.wrappers import deserialize_layer

        config = dict(config)
        cells = [deserialize_layer(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def _call_parameters(cell) -> set:
    import inspect

    return set(inspect.signature(cell.call).parameters)
