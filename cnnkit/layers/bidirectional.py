"""``Bidirectional``: a recurrent layer run forwards and backwards, the outputs merged."""

from __future__ import annotations

from cnnkit.kernels import recurrent as rnn_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers.base import NOT_GIVEN, Layer
from cnnkit.layers.recurrent import _first, _split_states, _with_states
from cnnkit.layers.wrappers import deserialize_layer, serialize_layer

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _clone(layer: Layer, **overrides) -> Layer:
    """A fresh copy of ``layer`` with ``overrides``, built as ``layer`` is (as Keras's copy
    through its serialized config, ``build_config`` included)."""
    clone = type(layer).from_config({**layer.get_config(), **overrides})
    build_config = layer.get_build_config()
    if build_config is not None:
        clone.build_from_config(build_config)
    return clone


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    The forward layer is a fresh copy of ``layer`` (named ``"forward_" + layer.name``); the
    backward one a copy with ``go_backwards=True`` (``"backward_" + layer.name``) unless
    ``backward_layer`` is given. With ``return_sequences`` the backward outputs are put back
    in input order before merging, and masked steps output zeros (``zero_output_for_mask`` is
    forced on, as in Keras). Weights: the forward layer's, then the backward layer's.

    Args:
        layer: a ``SimpleRNN``, ``LSTM`` or ``GRU`` (or a layer with ``go_backwards``,
            ``return_sequences`` and ``return_state``), used as a template only.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or ``None`` (a
            list ``[forward, backward]``).
        weights: optional initial weights (forward first), set when the layer is built.
        backward_layer: optional layer for the backward direction (``go_backwards`` must
            differ from ``layer``'s; ``return_sequences``, ``return_state``, ``stateful``
            must match).

    Call arguments:
        inputs, training, mask: as the wrapped layer.
        initial_state: forward states first, then backward states.

    Output shape:
        The wrapped layer's, with twice the units for ``"concat"``; with ``return_state``,
        the merged output(s) followed by the forward then the backward final states.

    Raises:
        ValueError: an invalid ``merge_mode``, a non-layer, mismatched directions.

    Example:
        >>> from cnnkit.layers import LSTM
        >>> bi = Bidirectional(LSTM(4, return_sequences=True, name="encoder"))
        >>> bi(np.ones((2, 5, 3), "float32")).shape
        (2, 5, 8)
        >>> [w.path for w in bi.weights][::3]
        ['forward_encoder/kernel', 'backward_encoder/kernel']
    """

    samplewise = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                f"Received: {layer!r}"
            )
        missing = [a for a in ("go_backwards", "return_sequences", "return_state")
                   if not hasattr(layer, a)]  # fmt: skip
        if missing:
            raise ValueError(
                f"`Bidirectional` needs a recurrent layer; {type(layer).__name__} has no "
                f"attribute(s) {missing}."
            )
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "`backward_layer` need to be a `keras.layers.Layer` instance. "
                f"Received: {backward_layer!r}"
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                '{"sum", "mul", "ave", "concat", None}'
            )
        super().__init__(**kwargs)
        name = layer.name.removeprefix("forward_")
        self.forward_layer = _clone(layer, name="forward_" + name)
        if backward_layer is None:
            name = layer.name.removeprefix("backward_")
            backward_layer = _clone(layer, go_backwards=True, name="backward_" + name)
        self.backward_layer = backward_layer
        self._verify()
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights else None
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def _verify(self) -> None:
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` value. "
                f"Received: forward_layer.go_backwards={fwd.go_backwards}, "
                f"backward_layer.go_backwards={bwd.go_backwards}"
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr, None) != getattr(bwd, attr, None):
                raise ValueError(
                    "Forward layer and backward layer are expected to have the same value for "
                    f'attribute "{attr}", got "{getattr(fwd, attr, None)}" for forward layer '
                    f'and "{getattr(bwd, attr, None)}" for backward layer'
                )

    def _sublayers(self) -> list[Layer]:
        return [self.forward_layer, self.backward_layer]

    def _saved_sublayers(self) -> list[tuple[str, Layer]]:
        """The weights file's groups of the inner layers, in Keras's order."""
        return [("backward_layer", self.backward_layer), ("forward_layer", self.forward_layer)]

    def _runs_samplewise(self) -> bool:  # a stateful layer carries states across batches
        return not self.stateful and super()._runs_samplewise()

    def build(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        for sub in self._sublayers():
            sub._maybe_build(shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None
        self.built = True

    def __call__(self, inputs, initial_state=None, training=NOT_GIVEN, **kwargs):
        inputs = _with_states(self.name, inputs, initial_state)
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=None, mask=None, initial_state=None):
        inputs, initial_state = _split_states(inputs, initial_state)
        mask = _first(mask)
        forward_state = backward_state = None
        if initial_state:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(inputs, initial_state=forward_state, training=training, mask=mask)
        y_rev = self.backward_layer(
            inputs, initial_state=backward_state, training=training, mask=mask
        )
        states = []
        if self.return_state:
            (y, *forward_states), (y_rev, *backward_states) = y, y_rev
            states = forward_states + backward_states
        if self.return_sequences:
            y_rev = rnn_ops.reverse_time(y_rev)
        if self.merge_mode == "concat":
            output = [shape_ops.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            output = [y + y_rev]
        elif self.merge_mode == "ave":
            output = [(y + y_rev) * 0.5]
        elif self.merge_mode == "mul":
            output = [y * y_rev]
        else:
            output = [y, y_rev]
        if self.return_state or self.merge_mode is None:
            return output + states
        return output[0]

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        out = self.forward_layer.compute_output_shape(tuple(shape))
        states = []
        if self.return_state:
            out, states = out[0], list(out[1:])
        if self.merge_mode == "concat":
            out = (*out[:-1], 2 * out[-1])
        outputs = [out, out] if self.merge_mode is None else [out]
        if self.return_state or self.merge_mode is None:
            return outputs + states + states
        return outputs[0]

    def compute_mask(self, inputs, mask=None):
        mask = _first(mask) if self.return_sequences else None
        outputs = [mask, mask] if self.merge_mode is None else [mask]
        if self.return_state:
            count = len(getattr(self.forward_layer, "_state_names", ()))
            return outputs + [None] * (2 * count)
        return outputs if self.merge_mode is None else outputs[0]

    def reset_state(self) -> None:
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    # -- saving: the inner layers as full layer configs, as Keras writes them ------------------
    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialize_layer(self.forward_layer),
            "backward_layer": serialize_layer(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"], custom_objects)
        return cls(**config)
