"""Embedding: integer token indices to dense vectors, and the timestep masks they produce."""

from __future__ import annotations

from cnnkit import initializers, regularizers
from cnnkit.argument_validation import is_int
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import embedding as embedding_ops
from cnnkit.layers.base import InputSpec, Layer
from cnnkit.layers.core import _activity_penalty, _serialize_callable, _set_constraints


class Embedding(Layer):
    """Turn token indices into dense vectors: ``output[n, t] = embeddings[inputs[n, t]]``.

    The lecture's text pipeline ends here: words → indices (``Tokenizer``) → an ``N × T``
    matrix (``pad_sequences``) → ``N × T × D`` vectors that the next layers learn from.

    Args:
        input_dim: vocabulary size: indices must lie in ``[0, input_dim)``.
        output_dim: size ``D`` of each vector.
        embeddings_initializer: initializer of the ``(input_dim, output_dim)`` table
            (default ``"uniform"``: uniform in [-0.05, 0.05], as Keras).
        embeddings_regularizer: optional penalty on the table.
        activity_regularizer: optional penalty on the output.
        embeddings_constraint: optional constraint applied to the embeddings after each update.
        mask_zero: treat index 0 as padding: the output carries a mask (``inputs != 0``) that
            recurrent layers and ``GlobalAveragePooling1D`` honour. Index 0 then cannot be a
            real token, so ``input_dim`` should be the vocabulary size + 1.
        weights: optional list with one ``(input_dim, output_dim)`` array, the initial table
            (e.g. pre-trained vectors).
        input_length: accepted for tf.keras 2 code: it sets ``input_shape=(input_length,)``.

    Input shape:
        ``(batch_size, ...)`` integers (floats holding integers are cast, as in Keras).
    Output shape:
        ``(batch_size, ..., output_dim)``

    Raises:
        ValueError: an index outside ``[0, input_dim)``, naming the layer and the index.

    Example:
        >>> layer = Embedding(10, 3)
        >>> layer(np.array([[1, 2, 0, 0]])).shape
        (1, 4, 3)
        >>> Embedding(10, 3, mask_zero=True).compute_mask(np.array([[1, 2, 0, 0]]))
        array([[ True,  True, False, False]])
    """

    samplewise = True

    _keeps_integer_inputs = True

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        activity_regularizer=None,
        weights=None,
        lora_rank=None,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not is_int(value) or value <= 0:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a strictly positive "
                    f"integer. Received {name}={value!r}"
                )
        _set_constraints(self, embeddings_constraint=embeddings_constraint)
        if lora_rank is not None:
            raise NotImplementedError("Embedding: `lora_rank` is not supported.")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.input_length = input_length
        self._initial_weights = None if weights is None else list(weights)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            name="embeddings",
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def check_indices(self, indices) -> None:
        """Raise a clear ValueError unless every index lies in ``[0, input_dim)``."""
        arr = indices.data if isinstance(indices, Tensor) else xp.asarray(indices)
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f'Layer "{self.name}" (Embedding) expects integer token indices. Received an '
                f"array of dtype {arr.dtype}."
            )
        if arr.size == 0:
            return
        high, low = arr.max(), arr.min()
        if high >= self.input_dim or low < 0:
            bad = high if high >= self.input_dim else low
            raise ValueError(
                f'Layer "{self.name}" (Embedding with input_dim={self.input_dim}) received the '
                f"index {int(bad)}; indices must lie in [0, {self.input_dim}). Make input_dim "
                f"larger than the largest index ({int(high)}), e.g. the tokenizer's num_words "
                "or vocabulary size + 1."
            )

    def call(self, inputs, training=False):
        self.check_indices(inputs)
        indices = inputs.data
        if indices.dtype.kind != "i":
            indices = indices.astype("int64")
        out = embedding_ops.embedding_lookup(self.embeddings, indices)
        _activity_penalty(self, out)
        return out

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        data = inputs.data if isinstance(inputs, Tensor) else xp.asarray(inputs)
        return data != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        config = {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": _serialize_callable(self.embeddings_regularizer),
            "activity_regularizer": _serialize_callable(self.activity_regularizer),
            "embeddings_constraint": _serialize_callable(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
        return config


class Masking(Layer):
    """Mark timesteps whose features all equal ``mask_value`` as padding.

    The output equals the input with masked timesteps set to zero, and carries the mask
    ``any(inputs != mask_value, axis=-1)`` for the layers that follow (recurrent layers,
    ``GlobalAveragePooling1D``).

    Args:
        mask_value: the padding value (default 0.0).

    Input shape:
        ``(batch_size, timesteps, features)``
    Output shape:
        the same.

    Example:
        >>> x = np.array([[[1.0], [0.0], [2.0]]], "float32")
        >>> Masking()(x)._keras_mask
        array([[ True, False,  True]])
    """

    samplewise = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=1)

    def compute_mask(self, inputs, mask=None):
        data = inputs.data if isinstance(inputs, Tensor) else xp.asarray(inputs)
        return xp.any(data != self.mask_value, axis=-1)

    def call(self, inputs, training=False):
        keep = self.compute_mask(inputs)[..., None].astype(inputs.dtype)
        return inputs * Tensor(keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
