"""Embedding: integer token indices to dense vectors, and the timestep masks they produce."""

from __future__ import annotations

from cnnkit import initializers, regularizers
from cnnkit.argument_validation import is_int
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import activations as activation_ops
from cnnkit.kernels import attention as attention_ops
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

    def call(self, inputs):
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


class ReversibleEmbedding(Embedding):
    """An :class:`Embedding` that can also project back from ``output_dim`` to ``input_dim``.

    ``layer(ids)`` embeds as ``Embedding``; ``layer(hidden, reverse=True)`` returns logits
    ``hidden @ embeddings.T`` (the weights "tied", Press and Wolf 2016), or
    ``hidden @ reverse_embeddings`` with ``tie_weights=False``; with ``logit_soft_cap=c``
    the logits become ``c * tanh(logits / c)``. No bias.

    Args:
        input_dim: vocabulary size: indices must lie in ``[0, input_dim)``.
        output_dim: size of each vector.
        tie_weights: whether the reverse projection uses the transposed ``embeddings``
            (default True) or its own ``(output_dim, input_dim)`` weight
            ``reverse_embeddings``, initialised by ``embeddings_initializer``.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint, mask_zero:
            as :class:`Embedding`.
        reverse_dtype: the dtype of the reverse projection (default: the layer's dtype).
        logit_soft_cap: if set, the reverse logits are ``c * tanh(logits / c)``.

    Call arguments:
        inputs: integer ids, or with ``reverse=True`` vectors ``(..., output_dim)``.
        reverse: project back to ``input_dim`` instead of embedding (default False).

    Input shape:
        ``(batch_size, ...)`` integers; reverse: ``(batch_size, ..., output_dim)``.
    Output shape:
        ``(batch_size, ..., output_dim)``; reverse: ``(batch_size, ..., input_dim)``.

    Example:
        >>> layer = ReversibleEmbedding(10, 4)
        >>> hidden = layer(np.array([[1, 2, 3]]))
        >>> hidden.shape, layer(hidden, reverse=True).shape
        ((1, 3, 4), (1, 3, 10))
    """

    samplewise = True

    def __init__(
        self,
        input_dim,
        output_dim,
        tie_weights=True,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        reverse_dtype=None,
        logit_soft_cap=None,
        **kwargs,
    ):
        super().__init__(
            input_dim,
            output_dim,
            embeddings_initializer=embeddings_initializer,
            embeddings_regularizer=embeddings_regularizer,
            embeddings_constraint=embeddings_constraint,
            mask_zero=mask_zero,
            **kwargs,
        )
        if logit_soft_cap is not None and not (
            isinstance(logit_soft_cap, (int, float)) and logit_soft_cap > 0
        ):
            raise ValueError(
                "Invalid value for argument `logit_soft_cap`. Expected a positive number or "
                f"None. Received: logit_soft_cap={logit_soft_cap!r}"
            )
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = None if reverse_dtype is None else str(xp.dtype(reverse_dtype))
        self.logit_soft_cap = logit_soft_cap
        self._reversing = False

    def build(self, input_shape=None):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                (self.output_dim, self.input_dim),
                self.embeddings_initializer,
                name="reverse_embeddings",
            )

    def _symbolic_call(self, inputs, kwargs, args=()):
        self._reversing = bool(kwargs.get("reverse", False))
        return super()._symbolic_call(inputs, kwargs, args)

    def call(self, inputs, reverse=False):
        self._reversing = bool(reverse)
        if not reverse:
            return super().call(inputs)
        if inputs.shape[-1] != self.output_dim:
            raise ValueError(
                f'Layer "{self.name}" (ReversibleEmbedding, reverse=True) expects vectors of '
                f"size output_dim={self.output_dim} on the last axis. Received input shape "
                f"{tuple(inputs.shape)}"
            )
        if self.tie_weights:
            kernel = attention_ops.transpose(self.embeddings, (1, 0))  # (output_dim, input_dim)
        else:
            kernel = self.reverse_embeddings
        if self.reverse_dtype is not None:
            # cnnkit.ops is not loaded by `import cnnkit`; only a reverse_dtype needs its cast.
            from cnnkit.ops.core import cast

            inputs, kernel = cast(inputs, self.reverse_dtype), cast(kernel, self.reverse_dtype)
        logits = inputs @ kernel
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = activation_ops.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        # As Keras: a reverse call carries no mask; a forward one the ids' padding mask.
        return None if self._reversing else super().compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape, reverse=None):
        reverse = self._reversing if reverse is None else reverse
        if reverse:
            return (*tuple(input_shape)[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "tie_weights": self.tie_weights,
            "reverse_dtype": self.reverse_dtype,
            "logit_soft_cap": self.logit_soft_cap,
        }


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

    def call(self, inputs):
        keep = self.compute_mask(inputs)[..., None].astype(inputs.dtype)
        return inputs * Tensor(keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
