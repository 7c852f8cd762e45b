"""Convolutional LSTMs: ``ConvLSTM1D``, ``ConvLSTM2D`` and ``ConvLSTM3D`` (Shi et al., 2015,
arXiv:1506.04214).

An LSTM whose matrix products are convolutions: at each step, with ``*`` a convolution,
``z = x_t * W + b + h_prev * R`` (the input convolution with the layer's ``strides``,
``padding`` and ``dilation_rate``; the recurrent one with stride 1 and ``"same"`` padding),
split along the channels into Keras's gates ``i, f, c~, o``::

    c = s(f) * c_prev + s(i) * a(c~)        h = s(o) * a(c)

The states ``h`` and ``c`` are feature maps of the output's spatial size and ``filters``
channels. The 1-D layer runs the 2-D maths on a height-1 image; the 3-D layer convolves
volumes with :func:`~cnnkit.layers.convolutional3d.conv3d`. The time loop is
:class:`~cnnkit.layers.rnn.RNN`'s.
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import conv as conv_ops
from cnnkit.kernels import sequence as seq_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import NOT_GIVEN, standardize_padding, standardize_tuple
from cnnkit.layers.convolutional3d import conv3d
from cnnkit.layers.rnn import RNN
from cnnkit.layers.rnn_cells import LSTMCell


class ConvLSTMCell(LSTMCell):
    """One step of a convolutional LSTM over ``rank``-D feature maps (``rank`` 1, 2 or 3).

    Args:
        rank: 1, 2 or 3, the number of spatial axes.
        filters: positive int, the channels of the output and the states.
        kernel_size, strides, padding, dilation_rate: of the input convolution.
        other arguments: as ``LSTMCell``.
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        super().__init__(filters, **kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "cnnkit supports only `data_format='channels_last'`. "
                f"Received: data_format={data_format!r}"
            )
        self.rank = int(rank)
        self.filters = int(filters)
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = standardize_tuple(strides, self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = "channels_last"
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self._spatial = None  # the states' spatial size, known when built

    @property
    def state_size(self):
        return [self.filters, self.filters]

    def output_spatial(self, spatial) -> tuple:
        return tuple(
            None if n is None else conv_ops.conv_output_length(n, k, s, self.padding, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        width = 4 * self.filters
        self.kernel = self.add_weight(
            (*self.kernel_size, channels, width),
            self.kernel_initializer,
            name="kernel",
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            (*self.kernel_size, self.filters, width),
            self.recurrent_initializer,
            name="recurrent_kernel",
            regularizer=self.recurrent_regularizer,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                (width,), self._bias_init(), name="bias", regularizer=self.bias_regularizer
            )
        self._spatial = self.output_spatial(tuple(input_shape)[1:-1])
        self.built = True

    def _as_2d(self, t):
        """A 1-D map (B, W, C) as a height-1 image; 2-D maps as they are."""
        return t if self.rank == 2 else t.reshape((t.shape[0], 1, *t.shape[1:]))

    def _kernel_2d(self, k):
        return k if self.rank == 2 else k.reshape((1, *k.shape))

    def _pair(self, v) -> tuple:
        return tuple(v) if self.rank == 2 else (1, *v)

    def get_initial_state(self, batch_size=None, spatial=None):
        spatial = spatial or self._spatial
        shape = (batch_size, *spatial, self.filters)
        return [np.zeros(shape, dtype=self.dtype), np.zeros(shape, dtype=self.dtype)]

    def _gates(self, x, h):
        """``x * W + b + h * R`` for 3-D maps (N, D, H, W, C)."""
        zx = conv3d(x, self.kernel, self.strides, self.padding, self.dilation_rate)
        if self.bias is not None:
            zx = zx + self.bias
        ones = (1,) * 3
        return zx + conv3d(h, self.recurrent_kernel, ones, "same", ones)

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        x, h = self._dropped(inputs, h_prev, training)
        if self.rank == 3:
            return self._step(self._gates(x, h), c_prev)
        zx = conv_ops.conv2d(
            self._as_2d(x),
            self._kernel_2d(self.kernel),
            self.bias,
            strides=self._pair(self.strides),
            padding=self.padding,
            dilation_rate=self._pair(self.dilation_rate),
        )
        zh = conv_ops.conv2d(self._as_2d(h), self._kernel_2d(self.recurrent_kernel), padding="same")
        z = zx + zh
        if self.rank == 1:
            z = z.reshape((z.shape[0], *z.shape[2:]))
        return self._step(z, c_prev)

    def _step(self, z, c_prev):
        """The LSTM update from the gate pre-activations ``z`` (..., 4 * filters)."""
        zi, zf, zc, zo = seq_ops.split_columns(z, 4)
        s = self.recurrent_activation
        c = s(zf) * c_prev + s(zi) * self.activation(zc)
        out = s(zo) * self.activation(c)
        return out, [out, c]

    def get_config(self):
        config = super().get_config()
        del config["units"]
        return {
            **config,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }


class _ConvLSTM(RNN):
    """What ConvLSTM1D, 2D and 3D share: a ``ConvLSTMCell`` run by ``RNN``."""

    samplewise = True  # each output sample depends on its input sample alone

    _rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        **kwargs,
    ):
        if activity_regularizer is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: activity_regularizer is not supported."
            )
        cell = ConvLSTMCell(
            self._rank,
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            name="conv_lstm_cell",
            dtype=kwargs.get("dtype"),
        )
        kwargs.pop("unroll", None)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            **kwargs,
        )

    def __call__(self, inputs, initial_state=None, training=NOT_GIVEN, **kwargs):
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
            inputs = [inputs, *states]
        return super(RNN, self).__call__(inputs, training=training, **kwargs)

    def build(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        if len(shape) != self._rank + 3:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"ndim={self._rank + 3} (batch, time, *spatial, channels), found "
                f"ndim={len(shape)}. Full shape received: {shape}"
            )
        if not self.cell.built:
            self.cell.build((shape[0], *shape[2:]))
            self.cell.built = True
        self.built = True

    def _initial_states(self, initial_state, batch: int, dtype) -> list:
        if initial_state is None and not (self.stateful and self.states is not None):
            return [Tensor(xp.asarray(s, dtype=dtype)) for s in self.cell.get_initial_state(batch)]
        if initial_state is not None:
            states = (
                list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            )
            return [
                s if isinstance(s, Tensor) else Tensor(xp.asarray(s, dtype=dtype)) for s in states
            ]
        return super()._initial_states(None, batch, dtype)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        require_rank(self, shape, exact=self._rank + 3)
        spatial = self.cell.output_spatial(shape[2:-1])
        step = (shape[0], *spatial, self.cell.filters)
        out = (shape[0], shape[1], *step[1:]) if self.return_sequences else step
        if self.return_state:
            return [out, step, step]
        return out

    def get_config(self):
        config = {**super().get_config(), **self.cell.get_config()}
        config.pop("cell")
        config["name"], config["trainable"], config["dtype"] = self.name, self.trainable, self.dtype
        config["activity_regularizer"] = None
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class ConvLSTM2D(_ConvLSTM):
    """2-D convolutional LSTM over sequences of images; see the module docstring.

    Args:
        filters: channels of the output and the states.
        kernel_size, strides, padding (``"valid"``/``"same"``), dilation_rate: of the input
            convolution (the recurrent convolution: stride 1, ``"same"``).
        data_format: only ``"channels_last"``.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias, regularizers,
            dropout, recurrent_dropout, seed: as ``LSTM``.
        return_sequences, return_state, go_backwards, stateful: as ``RNN``.

    Input shape:
        ``(batch, time, rows, cols, channels)``.
    Output shape:
        ``(batch, [time,] new_rows, new_cols, filters)``; with ``return_state`` also the
        final ``h`` and ``c``.

    Example:
        >>> layer = ConvLSTM2D(4, 3, padding="same", return_sequences=True)
        >>> layer(np.ones((2, 3, 5, 5, 1), "float32")).shape
        (2, 3, 5, 5, 4)
    """

    _rank = 2


class ConvLSTM1D(_ConvLSTM):
    """1-D convolutional LSTM over sequences of 1-D maps; arguments as ``ConvLSTM2D``.

    Input shape:
        ``(batch, time, steps, channels)``.
    Output shape:
        ``(batch, [time,] new_steps, filters)``.

    Example:
        >>> ConvLSTM1D(4, 3)(np.ones((2, 3, 6, 2), "float32")).shape
        (2, 4, 4)
    """

    _rank = 1


class ConvLSTM3D(_ConvLSTM):
    """3-D convolutional LSTM over sequences of volumes; arguments as ``ConvLSTM2D``.

    Input shape:
        ``(batch, time, depth, rows, cols, channels)``.
    Output shape:
        ``(batch, [time,] new_depth, new_rows, new_cols, filters)``; with ``return_state``
        also the final ``h`` and ``c``.

    Example:
        >>> ConvLSTM3D(2, 3, padding="same")(np.ones((1, 2, 3, 4, 4, 1), "float32")).shape
        (1, 3, 4, 4, 2)
    """

    _rank = 3
