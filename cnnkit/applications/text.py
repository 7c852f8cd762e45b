"""Text classifiers over padded token sequences: a 1-D CNN and an LSTM.

Both take ``(batch, sequence_length)`` integer token indices, as ``pad_sequences`` makes
them, and end in one sigmoid unit for two classes (``binary_crossentropy``) or a softmax
over ``classes`` (``sparse_categorical_crossentropy``).
"""

from __future__ import annotations

from cnnkit.layers import (
    LSTM,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    GlobalMaxPooling1D,
    Input,
    MaxPooling1D,
)
from cnnkit.models import Model


def _head(x, classes: int):
    if classes == 2:
        return Dense(1, activation="sigmoid", name="predictions")(x)
    return Dense(classes, activation="softmax", name="predictions")(x)


def _check(vocab_size, sequence_length, classes) -> None:
    for name, value in (("vocab_size", vocab_size), ("classes", classes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected an integer >= 2. "
                f"Received {name}={value!r}"
            )
    if sequence_length is not None and (
        not isinstance(sequence_length, int) or sequence_length < 1
    ):
        raise ValueError(
            "Invalid value for argument `sequence_length`. Expected a positive integer or "
            f"None. Received sequence_length={sequence_length!r}"
        )


def text_cnn(
    vocab_size,
    sequence_length=None,
    classes=2,
    embedding_dim=64,
    filters=128,
    kernel_size=5,
    pool_size=4,
    dropout=0.5,
    name="text_cnn",
) -> Model:
    """A 1-D CNN text classifier: embeddings, two convolution stages, a global max.

    ``Embedding(vocab_size, embedding_dim) → Conv1D(filters, kernel_size, relu) →
    MaxPooling1D(pool_size) → Conv1D(filters, kernel_size, relu) → GlobalMaxPooling1D →
    Dropout → Dense(64, relu) → Dense(1, sigmoid)`` (or a softmax over ``classes``). Each
    filter is an n-gram detector slid along the text; the global max keeps its strongest
    match anywhere in the document, so the model works for any length.

    Args:
        vocab_size: number of token indices (the tokenizer's ``num_words``); index 0 pads.
        sequence_length: length of the padded sequences, or None for any length.
        classes: 2 (one sigmoid unit) or more (softmax).
        embedding_dim, filters, kernel_size, pool_size, dropout: sizes of the layers.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Example:
        >>> model = text_cnn(1000, sequence_length=100)
        >>> model.output_shape
        (None, 1)
        >>> model.count_params()
        195457
    """
    _check(vocab_size, sequence_length, classes)
    i = Input(shape=(sequence_length,), dtype="int32")
    x = Embedding(vocab_size, embedding_dim)(i)
    x = Conv1D(filters, kernel_size, activation="relu")(x)
    x = MaxPooling1D(pool_size)(x)
    x = Conv1D(filters, kernel_size, activation="relu")(x)
    x = GlobalMaxPooling1D()(x)
    x = Dropout(dropout)(x)
    x = Dense(64, activation="relu")(x)
    return Model(i, _head(x, classes), name=name)


def lstm_classifier(
    vocab_size,
    sequence_length=None,
    classes=2,
    embedding_dim=64,
    units=64,
    dropout=0.5,
    name="lstm_classifier",
) -> Model:
    """An LSTM text classifier: masked embeddings, one LSTM, a dense head.

    ``Embedding(vocab_size, embedding_dim, mask_zero=True) → LSTM(units) → Dropout →
    Dense(1, sigmoid)`` (or a softmax over ``classes``). The padding mask makes the LSTM
    skip the zeros ``pad_sequences`` adds, so its final state summarises the real text.

    Args:
        vocab_size: number of token indices (the tokenizer's ``num_words``); index 0 pads.
        sequence_length: length of the padded sequences, or None for any length.
        classes: 2 (one sigmoid unit) or more (softmax).
        embedding_dim, units, dropout: sizes of the layers.
        name: model name.

    Returns:
        An uncompiled functional :class:`~cnnkit.models.Model`.

    Example:
        >>> model = lstm_classifier(1000, sequence_length=100)
        >>> model.output_shape
        (None, 1)
        >>> model.count_params()
        97089
    """
    _check(vocab_size, sequence_length, classes)
    i = Input(shape=(sequence_length,), dtype="int32")
    x = Embedding(vocab_size, embedding_dim, mask_zero=True)(i)
    x = LSTM(units)(x)
    x = Dropout(dropout)(x)
    return Model(i, _head(x, classes), name=name)
