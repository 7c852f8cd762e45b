"""Sequence preprocessing, as ``keras.preprocessing.sequence``: :func:`pad_sequences`.

Deliberate deviations from Keras 3, written down:

* ``padding`` and ``truncating`` are checked before any work (Keras checks them only when it
  meets a non-empty sequence).
* ``maxlen=0`` gives ``(num_samples, 0)`` (Keras's ``s[-0:]`` keeps whole sequences and then
  fails), and an empty list of sequences with ``maxlen=None`` gives shape ``(0, 0)`` (Keras
  fails taking the maximum of no lengths).

Example:
    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post")
    array([[1, 0],
           [2, 3],
           [5, 6]], dtype=int32)
"""

from __future__ import annotations

import numbers

import numpy as np

_SIDES = ("pre", "post")


def _check_side(value, name: str) -> str:
    if value not in _SIDES:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected one of {_SIDES}. "
            f"Received: {name}={value!r}"
        )
    return value


def pad_sequences(
    sequences,
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0.0,
) -> np.ndarray:
    """Pad (or truncate) sequences to one length, giving a ``(num_samples, maxlen)`` array.

    Sequences shorter than ``maxlen`` are filled with ``value`` before (``padding="pre"``) or
    after (``"post"``) their items; longer ones lose their first (``truncating="pre"``) or
    last (``"post"``) items. Items may themselves be arrays (e.g. word vectors): every
    non-empty sequence must then have the same item shape ``sample_shape``, taken from the
    first one.

    Args:
        sequences: a list (anything with ``len``) of sequences.
        maxlen: the output length, an integer >= 0; ``None`` takes the longest sequence.
        dtype: dtype of the output (``object`` or a string dtype for strings).
        padding: ``"pre"`` or ``"post"``: where to pad.
        truncating: ``"pre"`` or ``"post"``: where to cut sequences longer than ``maxlen``.
        value: the padding value (a string when ``dtype`` holds strings).

    Returns:
        ``np.ndarray`` of shape ``(len(sequences), maxlen) + sample_shape`` and dtype
        ``dtype``.

    Raises:
        ValueError: if ``sequences`` has no length or holds a non-sequence, for an invalid
            ``maxlen``, ``padding`` or ``truncating``, a string ``value`` with a non-string
            ``dtype``, or items of different shapes.

    Example:
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]])
        array([[0, 0, 1],
               [0, 2, 3],
               [4, 5, 6]], dtype=int32)
        >>> pad_sequences([["a"], ["b", "c"]], dtype=object, value="<pad>")
        array([['<pad>', 'a'],
               ['b', 'c']], dtype=object)
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(
            "`sequences` must be iterable: a list (or array) of sequences. "
            f"Received: sequences={sequences!r:.100} (of type {type(sequences).__name__})"
        )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, numbers.Integral) or maxlen < 0
    ):
        raise ValueError(
            "Invalid value for argument `maxlen`. Expected None or an integer >= 0. "
            f"Received: maxlen={maxlen!r}"
        )
    _check_side(padding, "padding")
    _check_side(truncating, "truncating")
    if isinstance(value, str) and np.dtype(dtype).kind not in "OSU":
        raise ValueError(
            f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}. "
            "You should set `dtype=object` for variable length strings."
        )

    lengths = []
    sample_shape: tuple = ()
    found_shape = False
    for position, seq in enumerate(sequences):
        try:
            length = len(seq)
        except TypeError as error:
            raise ValueError(
                "`sequences` must be a list of iterables. Found non-iterable "
                f"{seq!r} (of type {type(seq).__name__}) at position {position}."
            ) from error
        lengths.append(length)
        if length and not found_shape:
            sample_shape = np.asarray(seq).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    maxlen = int(maxlen)

    out = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for row, (seq, length) in enumerate(zip(sequences, lengths)):
        if not hasattr(seq, "__getitem__"):
            seq = list(seq)
        kept = seq[max(length - maxlen, 0) :] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if len(kept) == 0:
            continue
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"Shape of sample {kept.shape[1:]} of sequence at position {row} is different "
                f"from expected shape {sample_shape}"
            )
        if padding == "post":
            out[row, : len(kept)] = kept
        else:
            out[row, maxlen - len(kept) :] = kept
    return out
