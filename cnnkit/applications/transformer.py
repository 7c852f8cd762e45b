"""The transformer text classifier of the Keras examples ("Text classification with Transformer").

Token embeddings plus learned position embeddings, one transformer block (self-attention and
a feed-forward network, each with a residual connection and layer normalisation), a global
average over the positions and a small dense head::

    tokens (B, T) → TokenAndPositionEmbedding → TransformerBlock → GlobalAveragePooling1D
        → Dropout → Dense(20, relu) → Dropout → Dense(1, sigmoid)   (softmax for > 2 classes)
"""

from __future__ import annotations

import numpy as np

from cnnkit.applications.text import _check, _head
from cnnkit.layers import (
    Dense,
    Dropout,
    Embedding,
    GlobalAveragePooling1D,
    Input,
    Layer,
    LayerNormalization,
    MultiHeadAttention,
)
from cnnkit.models import Model, Sequential
from cnnkit.saving import register_keras_serializable


@register_keras_serializable(package="cnnkit")
class TokenAndPositionEmbedding(Layer):
    """The sum of a token's embedding and its position's embedding.

    Args:
        maxlen: the number of positions (the longest sequence).
        vocab_size: the number of token indices.
        embed_dim: the embedding size.

    Input shape:
        ``(batch, T)`` token indices, ``T <= maxlen``. Output shape: ``(batch, T, embed_dim)``.

    Example:
        >>> layer = TokenAndPositionEmbedding(maxlen=10, vocab_size=100, embed_dim=8)
        >>> layer(np.array([[4, 2, 7]])).shape
        (1, 3, 8)
    """

    _keeps_integer_inputs = True

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = int(maxlen), int(vocab_size), int(embed_dim)
        self.token_emb = Embedding(input_dim=self.vocab_size, output_dim=self.embed_dim)
        self.pos_emb = Embedding(input_dim=self.maxlen, output_dim=self.embed_dim)

    def _sublayers(self) -> list[Layer]:
        return [self.token_emb, self.pos_emb]

    def _saved_sublayers(self):
        return [("pos_emb", self.pos_emb), ("token_emb", self.token_emb)]

    def build(self, input_shape):
        self.token_emb.build(input_shape)
        self.token_emb.built = True
        self.pos_emb.build((input_shape[-1],))
        self.pos_emb.built = True
        self.built = True

    def call(self, inputs):
        steps = inputs.shape[-1]
        if steps > self.maxlen:
            raise ValueError(
                f"TokenAndPositionEmbedding: sequences of {steps} tokens are longer than "
                f"maxlen={self.maxlen}."
            )
        positions = self.pos_emb(np.arange(steps))
        return self.token_emb(inputs) + positions

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.embed_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


@register_keras_serializable(package="cnnkit")
class TransformerBlock(Layer):
    """A transformer encoder block (Vaswani et al., 2017), post-normalised as the Keras example.

    ``y = LayerNorm(x + Dropout(MultiHeadAttention(x, x)))``, then
    ``out = LayerNorm(y + Dropout(Dense(embed_dim)(Dense(ff_dim, relu)(y))))``; layer norms
    with ``epsilon=1e-6``.

    Args:
        embed_dim: the size of the input and output features (and of each attention head).
        num_heads: the number of attention heads.
        ff_dim: the hidden size of the feed-forward network.
        rate: the dropout rate (training only).

    Input shape:
        ``(batch, T, embed_dim)``. Output shape: the same.

    Example:
        >>> block = TransformerBlock(embed_dim=8, num_heads=2, ff_dim=16)
        >>> block(np.ones((2, 5, 8), "float32")).shape
        (2, 5, 8)
    """

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads, self.ff_dim = int(embed_dim), int(num_heads), int(ff_dim)
        self.rate = float(rate)
        self.att = MultiHeadAttention(num_heads=self.num_heads, key_dim=self.embed_dim)
        self.ffn = Sequential([Dense(self.ff_dim, activation="relu"), Dense(self.embed_dim)])
        self.layernorm1 = LayerNormalization(epsilon=1e-6)
        self.layernorm2 = LayerNormalization(epsilon=1e-6)
        self.dropout1 = Dropout(self.rate)
        self.dropout2 = Dropout(self.rate)

    def _sublayers(self) -> list[Layer]:
        return [self.att, self.ffn, self.layernorm1, self.layernorm2]

    def _saved_sublayers(self):
        return [
            ("att", self.att),
            ("dropout1", self.dropout1),
            ("dropout2", self.dropout2),
            ("ffn", self.ffn),
            ("layernorm1", self.layernorm1),
            ("layernorm2", self.layernorm2),
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer, layer_shape in (
            (self.att, [shape, shape]),
            (self.ffn, shape),
            (self.layernorm1, shape),
            (self.layernorm2, shape),
        ):
            layer.build(layer_shape)
            layer.built = True
        self.built = True

    def call(self, inputs, training=False):
        attn_output = self.dropout1(self.att(inputs, inputs), training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn_output)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "rate": self.rate,
        }


def transformer_classifier(
    vocab_size,
    sequence_length=200,
    classes=2,
    embed_dim=32,
    num_heads=2,
    ff_dim=32,
    dropout=0.1,
    name="transformer_classifier",
) -> Model:
    """The Keras example's transformer text classifier (sizes as in the example).

    ``TokenAndPositionEmbedding(sequence_length, vocab_size, embed_dim) →
    TransformerBlock(embed_dim, num_heads, ff_dim, dropout) → GlobalAveragePooling1D →
    Dropout → Dense(20, relu) → Dropout → Dense(1, sigmoid)`` (or a softmax over
    ``classes``; the example's two-unit softmax is the sigmoid here).

    Args:
        vocab_size: number of token indices; index 0 pads.
        sequence_length: length of the padded sequences (the number of positions).
        classes: 2 (one sigmoid unit) or more (softmax).
        embed_dim, num_heads, ff_dim, dropout: sizes of the block.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Raises:
        ValueError: invalid ``vocab_size``, ``classes`` or ``sequence_length`` (which must
            be given: the position embedding needs it).

    Example:
        >>> model = transformer_classifier(1000, sequence_length=100)
        >>> model.output_shape
        (None, 1)
    """
    _check(vocab_size, sequence_length, classes)
    if sequence_length is None:
        raise ValueError(
            "Invalid value for argument `sequence_length`: the position embedding needs a "
            "fixed length. Received sequence_length=None"
        )
    i = Input(shape=(sequence_length,), dtype="int32")
    x = TokenAndPositionEmbedding(sequence_length, vocab_size, embed_dim)(i)
    x = TransformerBlock(embed_dim, num_heads, ff_dim, dropout)(x)
    x = GlobalAveragePooling1D()(x)
    x = Dropout(dropout)(x)
    x = Dense(20, activation="relu")(x)
    x = Dropout(dropout)(x)
    return Model(i, _head(x, classes), name=name)
