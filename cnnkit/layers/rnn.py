"""``RNN``: runs any recurrent cell over a sequence, one step at a time.

At each step ``t`` (last to first with ``go_backwards``) the cell maps the step input
``(B, F)`` and the states to an output and new states. With a timestep mask (Keras's
semantics) a masked step keeps every state and repeats the previous output (zeros with
``zero_output_for_mask``). With ``stateful=True`` the final states of a batch are the next
batch's initial states until :meth:`RNN.reset_states`.

The loop runs in Python over time steps (never over samples) with differentiable ops, so a
user's cell trains as written. The built-in ``SimpleRNN``, ``LSTM`` and ``GRU`` layers run
their cell's maths as one fused op instead and are several times faster.
"""

from __future__ import annotations

import inspect

from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import sequence as seq_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import NOT_GIVEN, Layer
from cnnkit.layers.recurrent import _first, _split_states, _with_states
from cnnkit.layers.rnn_cells import StackedRNNCells, _output_size, _state_sizes
from cnnkit.layers.wrappers import deserialize_layer, serialize_layer


class RNN(Layer):
    """Base class for recurrent layers: any cell, run over the time axis.

    Args:
        cell: a cell (a layer with ``call(inputs, states)`` returning ``(output,
            new_states)`` and a ``state_size``), or a list of cells (stacked with
            ``StackedRNNCells``).
        return_sequences: whether to return every step's output or only the last.
        return_state: whether to return the final states after the output.
        go_backwards: whether to process the sequence backwards (outputs in that order).
        stateful: whether each batch's final states start the next batch.
        unroll: accepted for compatibility (the loop is always a Python loop).
        zero_output_for_mask: whether masked steps output zeros instead of the last output.

    Call arguments:
        sequences: ``(batch, timesteps, features)``.
        initial_state: optional list of the cell's initial states.
        mask: optional boolean ``(batch, timesteps)``, ``True`` for real steps.
        training: passed to a cell whose ``call`` takes it.

    Output shape:
        ``(batch, timesteps, output_size)`` with ``return_sequences``, else ``(batch,
        output_size)``; with ``return_state`` followed by the states ``(batch, size)``.

    Raises:
        ValueError: a cell without ``call`` or ``state_size``; a stateful batch of another
            size; initial states of the wrong number or shape.

    Example:
        >>> class MinimalRNNCell(Layer):
        ...     def __init__(self, units, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.units, self.state_size = units, units
        ...     def build(self, input_shape):
        ...         self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        ...         self.recurrent_kernel = self.add_weight(
        ...             (self.units, self.units), name="recurrent_kernel")
        ...     def call(self, inputs, states):
        ...         output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        ...         return output, [output]
        >>> RNN(MinimalRNNCell(32))(np.ones((2, 10, 5), "float32")).shape
        (2, 32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if "call" not in dir(cell):
            raise ValueError(f"Argument `cell` should have a `call` method. Received: cell={cell}")
        if "state_size" not in dir(cell):
            raise ValueError(
                "The RNN cell should have a `state_size` attribute (single integer or list of "
                f"integers, one integer per RNN state). Received: cell={cell}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.states = None  # the carried states of a stateful layer (arrays)
        self._cell_takes_training = "training" in inspect.signature(cell.call).parameters

    def _runs_samplewise(self) -> bool:  # a stateful layer carries states across batches
        return not self.stateful and super()._runs_samplewise()

    def _sublayers(self) -> list[Layer]:
        return [self.cell] if isinstance(self.cell, Layer) else []

    def _saved_sublayers(self):
        return [("cell", self.cell)]

    @property
    def state_size(self) -> list:
        return _state_sizes(self.cell)

    def build(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        require_rank(self, shape, exact=3)
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((shape[0], *shape[2:]))
            self.cell.built = True
        self.built = True

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, inputs, initial_state=None, training=NOT_GIVEN, **kwargs):
        inputs = _with_states(self.name, inputs, initial_state)
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=False, mask=None, initial_state=None):
        sequences, initial_state = _split_states(inputs, initial_state)
        mask = _first(mask)
        batch, steps = sequences.shape[0], sequences.shape[1]
        states = self._initial_states(initial_state, batch, sequences.dtype)
        kwargs = {"training": training} if self._cell_takes_training else {}
        keep_all = None if mask is None else xp.asarray(mask, dtype=bool)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, last = [], None
        try:
            for t in order:
                out, new_states = self.cell.call(seq_ops.take_step(sequences, t), states, **kwargs)
                if not isinstance(new_states, (list, tuple)):
                    new_states = [new_states]
                new_states = list(new_states)
                if keep_all is not None:
                    keep = keep_all[:, t]
                    new_states = [seq_ops.select(keep, n, o) for n, o in zip(new_states, states)]
                    if self.zero_output_for_mask:
                        previous = Tensor(xp.zeros(out.shape, dtype=out.dtype))
                    else:
                        previous = (
                            last
                            if last is not None
                            else Tensor(xp.zeros(out.shape, dtype=out.dtype))
                        )
                    out = seq_ops.select(keep, out, previous)
                states, last = new_states, out
                if self.return_sequences:
                    outputs.append(out)
        finally:
            if hasattr(self.cell, "reset_dropout_mask"):
                self.cell.reset_dropout_mask()
        if self.stateful:
            self.states = [xp.array(s.data, copy=True) for s in states]
        output = seq_ops.stack_steps(outputs) if self.return_sequences else last
        if self.return_state:
            return [output, *states]
        return output

    def _initial_states(self, initial_state, batch: int, dtype) -> list:
        sizes = self.state_size
        if initial_state is None:
            if self.stateful and self.states is not None:
                if self.states[0].shape[0] != batch:
                    raise ValueError(
                        "If an RNN is stateful, the batch size of the input sequences must be "
                        "the same as the batch size of the initial state.\n"
                        f"- Expected batch size: {self.states[0].shape[0]}\n"
                        f"- Received batch size: {batch}"
                    )
                return [Tensor(s) for s in self.states]
            init = getattr(self.cell, "get_initial_state", None)
            if init is not None:
                values = init(batch_size=batch)
                values = values if isinstance(values, (list, tuple)) else [values]
                return [
                    v if isinstance(v, Tensor) else Tensor(xp.asarray(v, dtype)) for v in values
                ]
            return [Tensor(xp.zeros((batch, s), dtype=dtype)) for s in sizes]
        states = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != len(sizes):
            raise ValueError(
                f'Layer "{self.name}" expects {len(sizes)} initial state(s) of sizes {sizes}. '
                f"Received {len(states)} state(s)."
            )
        out = []
        for s, size in zip(states, sizes):
            s = s if isinstance(s, Tensor) else Tensor(xp.asarray(s, dtype=dtype))
            if tuple(s.shape) != (batch, size):
                raise ValueError(
                    f'Layer "{self.name}": an initial state must have shape {(batch, size)}. '
                    f"Received: shape={tuple(s.shape)}"
                )
            out.append(s)
        return out

    def reset_states(self, states=None) -> None:
        """Zero the carried states of a stateful layer (or set them to ``states``)."""
        if states is not None:
            self.states = [xp.array(s, copy=True) for s in states]
        elif self.states is not None:
            for s in self.states:
                s[...] = 0

    reset_state = reset_states

    # -- shapes, masks, config -------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        require_rank(self, shape, exact=3)
        size = _output_size(self.cell)
        out = (shape[0], shape[1], size) if self.return_sequences else (shape[0], size)
        if self.return_state:
            return [out] + [(shape[0], s) for s in self.state_size]
        return out

    def compute_mask(self, inputs, mask=None):
        mask = _first(mask)
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialize_layer(self.cell),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_layer(config.pop("cell"), custom_objects)
        return cls(cell, **config)
