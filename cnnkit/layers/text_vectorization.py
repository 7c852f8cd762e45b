"""``TextVectorization``: raw strings in, token indices or bag-of-words vectors out (Keras 3).

Each string goes through four steps:

1. standardize: lowercase ASCII letters and remove ASCII punctuation (``string.punctuation``),
   or one of them, or a callable;
2. split: on runs of ASCII whitespace, into characters, or with a callable;
3. n-grams: optionally add the space-joined ``n``-grams of the tokens, width by width;
4. look up: ``output_mode="int"`` gives one index per token, post-padded (and truncated) with
   0 to ``output_sequence_length`` or to the longest string of the batch; ``"multi_hot"``,
   ``"count"`` and ``"tf_idf"`` give one float vector per string, of the vocabulary's size.

The vocabulary starts with its reserved tokens: ``""`` (index 0, padding) and ``"[UNK]"``
(index 1, every unknown token) in ``"int"`` mode; only ``"[UNK]"`` (index 0) in the other
modes, where empty tokens are dropped. :meth:`TextVectorization.adapt` learns the rest from a
corpus: tokens by decreasing count, tokens of equal count in decreasing (code point) order, as
Keras's ``np.lexsort`` does, cut to ``max_tokens`` entries in all. In ``"tf_idf"`` mode it also
learns ``idf = ln(1 + num_documents / (1 + document_frequency))`` per token (one document per
string), with the mean of these weights for ``"[UNK]"``; the output is
``count * idf``.

Deliberate deviations from Keras 3, written down:

* No TensorFlow: strings are NumPy ``str``/``object`` arrays (``bytes`` are decoded with
  ``encoding``), and ``sparse=True`` / ``ragged=True`` are refused, as Keras refuses them on
  backends other than TensorFlow. ``output_mode="one_hot"`` is refused too.
* Custom ``standardize`` callables receive the NumPy ``object`` array of strings (shape
  ``(N,)`` or ``(N, 1)``) and return an array of the same shape; ``split`` callables receive
  the ``(N,)`` array and return ``N`` lists of tokens. Callables stay in ``get_config()`` as
  they are, so such a config round-trips in memory but cannot be written to JSON.
* ``"int"`` outputs are always ``(batch, length)``, also with ``split=None`` on ``(N,)``
  inputs (Keras returns ``(N,)`` there); a bare string is a batch of one.
* A vocabulary file is read like a list: reserved tokens at its start are recognised, and
  repeated terms are an error.
* In ``"tf_idf"`` mode, ``idf_weights`` without a ``vocabulary`` is refused (Keras stores
  weights that a later ``adapt`` overwrites).
* ``get_config()`` leaves out Keras's ``vocabulary_size`` entry (the constructor accepts and
  ignores it), so that ``from_config(get_config())`` gives back an equal configuration.

Example:
    >>> layer = TextVectorization(output_sequence_length=4)
    >>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    >>> layer.get_vocabulary()
    ['', '[UNK]', 'baz', 'bar', 'foo', 'boom', 'bada']
    >>> layer([["foo qux bar"], ["qux baz"]]).numpy()
    array([[4, 1, 3, 0],
           [1, 2, 0, 0]])
"""

from __future__ import annotations

import collections
import os
import re
import string
from collections.abc import Iterable

import numpy as np

from cnnkit.argument_validation import is_int
from cnnkit.autodiff import Tensor
from cnnkit.layers.base import KerasTensor, Layer

MASK_TOKEN = ""
OOV_TOKEN = "[UNK]"
STANDARDIZE_OPTIONS = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT_OPTIONS = ("whitespace", "character")
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")
_MODE_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}

# TensorFlow's string ops behind Keras: tf.strings.lower lowercases ASCII only, the
# punctuation class is string.punctuation, tf.strings.split splits on ASCII whitespace.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


MAX_VOCABULARY_FILE_BYTES = 1 << 30


def _is_codec(name: str) -> bool:
    """Whether ``name`` is a text codec Python knows (``"utf-8"``, ``"latin-1"``...)."""
    import codecs

    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


def _check_option(value, name: str, options: tuple) -> None:
    if value is None or callable(value) or value in options:
        return
    raise ValueError(
        f"Invalid value for argument `{name}`. Expected None, a callable or one of {options}. "
        f"Received: {name}={value!r}"
    )


def _ngrams(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    """All ``n``-grams of ``tokens`` for each width in turn (``tf.strings.ngrams``)."""
    return [
        " ".join(tokens[start : start + width])
        for width in widths
        for start in range(len(tokens) - width + 1)
    ]


def _listify(value):
    """Arrays (and Tensors) as lists, for ``get_config``."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class TextVectorization(Layer):
    """Maps strings to sequences of token indices, or to multi-hot, count or TF-IDF vectors.

    Args:
        max_tokens: maximum size of the vocabulary, reserved tokens included (> 1), or
            ``None`` for no limit.
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"``,
            ``"strip_punctuation"``, ``None`` or a callable on the array of strings.
        split: ``"whitespace"`` (default), ``"character"``, ``None`` (each string is one
            token) or a callable.
        ngrams: ``None``, an integer ``n`` (all widths ``1..n``) or a tuple of widths.
        output_mode: ``"int"`` (default), ``"multi_hot"``, ``"count"`` or ``"tf_idf"``
            (``"binary"`` and ``"tf-idf"`` are accepted aliases).
        output_sequence_length: ``"int"`` mode only: pad with 0 or truncate, at the end, to
            this many tokens.
        pad_to_max_tokens: other modes only: output ``max_tokens`` columns even when the
            vocabulary is smaller.
        vocabulary: a list (or 1-D array) of tokens, or the path of a text file with one
            token per line; the layer then needs no ``adapt`` (and refuses it).
        idf_weights: ``"tf_idf"`` mode with a ``vocabulary``: one weight per vocabulary entry.
        sparse, ragged: must be False (no sparse or ragged tensors here).
        encoding: how ``bytes`` inputs are decoded (default ``"utf-8"``).
        name: layer name.

    Input shape:
        ``(batch_size,)`` or ``(batch_size, 1)`` strings: a list of ``str``, or a NumPy
        array of ``str``/``object`` dtype. With ``split=None``, ``(batch_size, k)`` too.
    Output shape:
        ``"int"``: ``(batch_size, output_sequence_length)`` int64 (the batch's longest token
        count when unset). Other modes: ``(batch_size, vocabulary_size())`` float32, or
        ``(batch_size, max_tokens)`` with ``pad_to_max_tokens``.

    Raises:
        ValueError: for an invalid argument or combination of arguments.
        TypeError: when called on non-string data.

    Example:
        >>> layer = TextVectorization(output_mode="count", vocabulary=["the", "cat", "sat"])
        >>> layer(["The cat and the hat."]).numpy()
        array([[2., 2., 1., 0.]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    _keeps_integer_inputs = True

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize="lower_and_strip_punctuation",
        split="whitespace",
        ngrams=None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        pad_to_max_tokens: bool = False,
        vocabulary=None,
        idf_weights=None,
        sparse: bool = False,
        ragged: bool = False,
        encoding: str = "utf-8",
        name: str | None = None,
        **kwargs,
    ):
        kwargs.pop("vocabulary_size", None)  # in Keras's configs; the vocabulary decides it
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        super().__init__(name=name, **kwargs)

        if max_tokens is not None and not (is_int(max_tokens) and max_tokens > 1):
            raise ValueError(
                "Invalid value for argument `max_tokens`. Expected None or an integer greater "
                f"than 1. Received: max_tokens={max_tokens!r}"
            )
        _check_option(standardize, "standardize", STANDARDIZE_OPTIONS)
        _check_option(split, "split", SPLIT_OPTIONS)
        output_mode = _MODE_ALIASES.get(output_mode, output_mode)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"Invalid value for argument `output_mode`. Expected one of {OUTPUT_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        if isinstance(ngrams, list):  # a config read back from JSON
            ngrams = tuple(ngrams)
        widths_ok = ngrams is None or (is_int(ngrams) and ngrams >= 1)
        if isinstance(ngrams, tuple):
            widths_ok = len(ngrams) > 0 and all(is_int(n) and n >= 1 for n in ngrams)
        if not widths_ok:
            raise ValueError(
                "Invalid value for argument `ngrams`. Expected None, an integer >= 1 or a tuple "
                f"of integers >= 1. Received: ngrams={ngrams!r}"
            )
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ValueError(
                    "`output_sequence_length` must not be set if `output_mode` is not 'int'. "
                    f"Received: output_sequence_length={output_sequence_length!r}, "
                    f"output_mode={output_mode!r}"
                )
            if not (is_int(output_sequence_length) and output_sequence_length >= 1):
                raise ValueError(
                    "Invalid value for argument `output_sequence_length`. Expected None or an "
                    f"integer >= 1. Received: output_sequence_length={output_sequence_length!r}"
                )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                "If `pad_to_max_tokens` is True, `max_tokens` must be set. "
                f"Received: max_tokens={max_tokens!r}"
            )
        for flag, value in (("sparse", sparse), ("ragged", ragged)):
            if value:
                raise ValueError(
                    f"`{flag}=True` is not supported: cnnkit has no {flag} tensors (Keras "
                    f"supports it on the TensorFlow backend only). Received: {flag}={value!r}"
                )
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is 'tf_idf'. "
                f"Received: output_mode={output_mode!r}"
            )
        if output_mode == "tf_idf" and (vocabulary is None) != (idf_weights is None):
            raise ValueError(
                "In 'tf_idf' output mode, `vocabulary` and `idf_weights` must be given "
                f"together. Received: vocabulary={vocabulary!r:.80}, "
                f"idf_weights={idf_weights!r:.80}"
            )
        if not isinstance(encoding, str) or not _is_codec(encoding):
            raise ValueError(
                f"Invalid value for argument `encoding`. Expected a codec name such as "
                f"'utf-8'. Received: encoding={encoding!r}"
            )

        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.standardize = standardize
        self.split = split
        self.ngrams = ngrams
        self._ngram_widths = tuple(range(1, ngrams + 1)) if is_int(ngrams) else ngrams
        self.output_mode = output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = sparse
        self.ragged = ragged
        self.encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        from_file = isinstance(vocabulary, (str, os.PathLike))
        self._input_vocabulary = None if from_file else _listify(vocabulary)
        self._input_idf_weights = _listify(idf_weights)

        self._tokens: list[str] = []  # the learned tokens, after the reserved ones
        self._index: dict[str, int] = {}
        self._idf_weights: np.ndarray | None = None  # one per output column (tf_idf)
        self._frozen_vocab_size: int | None = None
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # -- vocabulary ------------------------------------------------------
    @property
    def _token_start(self) -> int:
        """Index of the first learned token: after ``""`` and ``"[UNK]"`` (int mode)."""
        return 2 if self.output_mode == "int" else 1

    def _special_tokens(self) -> list[str]:
        return [MASK_TOKEN, OOV_TOKEN] if self.output_mode == "int" else [OOV_TOKEN]

    def vocabulary_size(self) -> int:
        """Size of the vocabulary, reserved tokens included."""
        return len(self._tokens) + self._token_start

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The vocabulary, in index order.

        Args:
            include_special_tokens: keep the reserved ``""``/``"[UNK]"`` entries, so that a
                token's position is its index.
        """
        if include_special_tokens:
            return self._special_tokens() + list(self._tokens)
        return list(self._tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Replace the vocabulary (and, in ``"tf_idf"`` mode, the IDF weights).

        The reserved tokens may be given at the start of ``vocabulary``, in index order
        (``["", "[UNK]", ...]`` in ``"int"`` mode, ``["[UNK]", ...]`` otherwise); they are
        added when absent. ``idf_weights`` then has one weight per entry; without the
        reserved tokens, ``"[UNK]"`` gets the mean weight.

        Args:
            vocabulary: a list, tuple or 1-D array of strings, or the path of a text file
                with one token per line.
            idf_weights: required in ``"tf_idf"`` mode, refused otherwise.

        Raises:
            ValueError: for an empty vocabulary, repeated tokens, ``""`` after the start, more
                than ``max_tokens`` entries, misplaced or mis-sized ``idf_weights``, or a
                size change of a called non-``"int"`` layer without ``pad_to_max_tokens``.
        """
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if `output_mode` is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is 'tf_idf'. "
                f"Received: output_mode={self.output_mode!r}"
            )
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = self._read_vocabulary_file(vocabulary)
        vocabulary = self._vocabulary_list(vocabulary)
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        special = self._special_tokens()
        found_special = vocabulary[: len(special)] == special
        tokens = vocabulary[len(special) :] if found_special else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                "The passed vocabulary has at least one repeated term. Please uniquify your "
                f"dataset. The repeated terms are: {repeated}"
            )
        if MASK_TOKEN in tokens:
            raise ValueError(
                "Found reserved mask token '' at unexpected location in `vocabulary` (index "
                f"{vocabulary.index(MASK_TOKEN)}). Either remove all mask and OOV tokens, or "
                f"include them only at the start of the vocabulary in precisely this order: "
                f"{special}."
            )
        size = self._token_start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                "Attempted to set a vocabulary larger than the maximum vocab size. Received "
                f"vocabulary size is {size}; `max_tokens` is {self.max_tokens}."
            )
        weights = None
        if self.output_mode == "tf_idf":
            weights = self._idf_from_argument(idf_weights, len(vocabulary), found_special)
        self._check_size_unchanged(size)
        self._set_tokens(tokens)
        if weights is not None:
            self._idf_weights = weights

    def _read_vocabulary_file(self, path) -> list[str]:
        if self.output_mode == "tf_idf":
            raise ValueError(
                "output_mode 'tf_idf' does not support loading a vocabulary from file. "
                f"Received: vocabulary={path!r}"
            )
        if not os.path.exists(path):
            raise ValueError(f"Vocabulary file {path} does not exist.")
        from cnnkit.io_utils import read_regular

        data = read_regular(path, MAX_VOCABULARY_FILE_BYTES, "vocabulary file")
        try:
            lines = data.decode(self.encoding).split("\n")
        except UnicodeDecodeError as err:
            raise ValueError(f"Vocabulary file {path} is not {self.encoding} text: {err}") from None
        while lines and lines[-1] == "":
            lines.pop()
        return [line.rstrip("\r") for line in lines]

    def _vocabulary_list(self, vocabulary) -> list[str]:
        if isinstance(vocabulary, Tensor):
            vocabulary = vocabulary.numpy()
        array = np.asarray(vocabulary, dtype=object)
        if array.ndim != 1:
            raise ValueError(
                "`vocabulary` must be a 1-D list or array of strings. Received an array of "
                f"shape {array.shape}"
            )
        return [self._as_str(token, "vocabulary") for token in array]

    def _idf_from_argument(self, idf_weights, vocabulary_size: int, found_special: bool):
        if isinstance(idf_weights, Tensor):
            idf_weights = idf_weights.numpy()
        weights = np.asarray(idf_weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(
                "`idf_weights` must be a 1-D list or array of floats. Received an array of "
                f"shape {weights.shape}"
            )
        if len(weights) != vocabulary_size:
            raise ValueError(
                "`idf_weights` must be the same length as vocabulary. "
                f"len(idf_weights) is {len(weights)}; len(vocabulary) is {vocabulary_size}"
            )
        front = 0 if found_special else self._token_start
        front_value = 0.0 if found_special else float(np.mean(weights))
        back = 0
        if self.pad_to_max_tokens:
            back = self.max_tokens - front - len(weights)
        weights = np.pad(weights, (front, back), constant_values=(front_value, 0.0))
        return weights.astype(self.dtype)

    def _set_tokens(self, tokens: list[str]) -> None:
        self._tokens = list(tokens)
        start = self._token_start
        self._index = {token: start + i for i, token in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    def _check_size_unchanged(self, size: int) -> None:
        if self.output_mode == "int" or self.pad_to_max_tokens:
            return
        if self._frozen_vocab_size is not None and size != self._frozen_vocab_size:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "the vocabulary size cannot be changed once set (the output width depends on "
                f"it). Old vocab size is {self._frozen_vocab_size}, new vocab size is {size}"
            )

    # -- adapting ------------------------------------------------------------
    def adapt(self, data, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary (and IDF weights) from ``data``, replacing the previous one.

        Args:
            data: a list or array of strings (each one a document), or an iterable (e.g. a
                generator) of such batches.
            batch_size: accepted for Keras compatibility; the vocabulary does not depend on
                batching, and arrays are read in one pass.
            steps: for an iterable of batches, read at most this many batches.

        Raises:
            ValueError: if the layer was built with a fixed ``vocabulary``.
            TypeError: for non-string data.

        Example:
            >>> layer = TextVectorization(max_tokens=4)
            >>> layer.adapt(["b a", "a c b", "a"])
            >>> layer.get_vocabulary()
            ['', '[UNK]', 'a', 'b']
        """
        if steps is not None and not (is_int(steps) and steps >= 1):
            raise ValueError(
                f"Invalid value for argument `steps`. Expected None or an integer >= 1. "
                f"Received: steps={steps!r}"
            )
        self.reset_state()
        if isinstance(data, (str, bytes, list, tuple, np.ndarray, Tensor)):
            self.update_state(data)
        elif isinstance(data, Iterable):
            for step, batch in enumerate(data):
                if steps is not None and step >= steps:
                    break
                self.update_state(batch)
        else:
            raise TypeError(
                f"Layer {self.name!r} (TextVectorization) can only adapt to strings: a list or "
                f"array of strings, or an iterable of such batches. Received: {data!r:.100}"
            )
        self.finalize_state()

    def reset_state(self) -> None:
        """Forget the counts gathered by :meth:`update_state` (not the vocabulary)."""
        self._token_counts: collections.Counter = collections.Counter()
        self._document_counts: collections.Counter = collections.Counter()
        self._num_documents = 0

    def update_state(self, data) -> None:
        """Count the tokens (and their document frequencies) of one batch of strings."""
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer {self.name!r} after setting a static vocabulary via the "
                "`vocabulary` argument."
            )
        rows = self._tokenize(self._string_array(data))
        for row in rows:
            self._token_counts.update(row)
        if self.output_mode == "tf_idf":
            for row in rows:
                self._document_counts.update(set(row))
            self._num_documents += len(rows)

    def finalize_state(self) -> None:
        """Turn the gathered counts into the vocabulary (no-op when nothing was counted)."""
        if self._has_input_vocabulary or not self._token_counts:
            return
        counts = self._token_counts
        counts.pop(MASK_TOKEN, None)
        counts.pop(OOV_TOKEN, None)
        # Keras: np.lexsort((tokens, counts))[::-1], i.e. by count, then token, descending.
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        tokens = [token for token, _ in ranked]
        if self.max_tokens is not None:
            tokens = tokens[: self.max_tokens - self._token_start]
        weights = None
        if self.output_mode == "tf_idf":
            frequencies = np.array([self._document_counts[t] for t in tokens], np.float64)
            learned = np.log(1 + self._num_documents / (1 + frequencies)).astype(self.dtype)
            oov_weight = learned.mean() if len(learned) else 0.0
            back = self.max_tokens - 1 - len(learned) if self.pad_to_max_tokens else 0
            weights = np.pad(learned, (1, back), constant_values=(oov_weight, 0.0))
            weights = weights.astype(self.dtype)
        self._check_size_unchanged(self._token_start + len(tokens))
        self._set_tokens(tokens)
        self._idf_weights = weights
        self.reset_state()

    # -- strings ------------------------------------------------------------
    def _as_str(self, value, what: str) -> str:
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        raise TypeError(
            f"Layer {self.name!r} (TextVectorization) expects strings in its {what}. "
            f"Received {value!r} (of type {type(value).__name__})."
        )

    def _string_array(self, data) -> np.ndarray:
        """Any accepted string input as an ``object`` array of ``str``."""
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, (str, bytes)):
            data = [data]  # a bare string is a batch of one
        if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
            raise TypeError(
                f"Layer {self.name!r} (TextVectorization) expects string inputs. Received an "
                f"array of dtype {data.dtype} and shape {data.shape}."
            )
        try:
            array = np.array(data, dtype=object)
        except ValueError:  # ragged nesting
            array = np.empty(len(data), dtype=object)
            array[:] = list(data)
        if array.ndim == 0:
            array = array.reshape(1)
        flat = array.reshape(-1)
        for i, value in enumerate(flat):
            flat[i] = self._as_str(value, "input")
        return flat.reshape(array.shape)

    def _standardize(self, strings: np.ndarray) -> np.ndarray:
        mode = self.standardize
        if mode is None:
            return strings
        if callable(mode):
            result = np.asarray(mode(strings), dtype=object)
            if result.shape != strings.shape:
                raise ValueError(
                    f"The `standardize` callable of layer {self.name!r} must return an array of "
                    f"the shape it received, {strings.shape}. It returned shape {result.shape}."
                )
            return result
        lower = mode in ("lower", "lower_and_strip_punctuation")
        strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")

        def clean(text: str) -> str:
            if lower:
                text = text.translate(_ASCII_LOWER)
            if strip:
                text = text.translate(_NO_PUNCTUATION)
            return text

        return np.frompyfunc(clean, 1, 1)(strings).astype(object).reshape(strings.shape)

    def _tokenize(self, strings: np.ndarray) -> list[list[str]]:
        """One list of tokens (n-grams included) per input string."""
        strings = self._standardize(strings)
        if self.split is None:
            rows = [list(row) for row in strings.reshape(len(strings), -1)]
        else:
            if strings.ndim > 2 or (strings.ndim == 2 and strings.shape[-1] != 1):
                raise ValueError(
                    "When using `TextVectorization` to tokenize strings, the input rank must be "
                    f"1 or the last shape dimension must be 1. Received: inputs.shape="
                    f"{strings.shape} with rank={strings.ndim}"
                )
            strings = strings.reshape(-1)
            if self.split == "whitespace":
                rows = [[t for t in _WHITESPACE.split(s) if t] for s in strings]
            elif self.split == "character":
                rows = [list(s) for s in strings]
            else:
                rows = [
                    [self._as_str(t, "split output") for t in row] for row in self.split(strings)
                ]
                if len(rows) != len(strings):
                    raise ValueError(
                        f"The `split` callable of layer {self.name!r} must return one list of "
                        f"tokens per string: {len(strings)}. It returned {len(rows)}."
                    )
        if self._ngram_widths is not None:
            rows = [_ngrams(row, self._ngram_widths) for row in rows]
        return rows

    # -- calling -------------------------------------------------------------
    def _to_tensor(self, x) -> Tensor:
        return Tensor(self._string_array(x))

    def _runs_samplewise(self) -> bool:
        # Without `output_sequence_length`, "int" outputs pad to the batch's longest text.
        if self.output_mode == "int" and self.output_sequence_length is None:
            return False
        return super()._runs_samplewise()

    def call(self, inputs):
        rows = self._tokenize(self._string_array(inputs))
        if self.output_mode == "int":
            length = self.output_sequence_length
            if length is None:
                length = max((len(row) for row in rows), default=0)
            out = np.zeros((len(rows), length), dtype=np.int64)
            for r, row in enumerate(rows):
                for c, token in enumerate(row[:length]):
                    out[r, c] = 0 if token == MASK_TOKEN else self._index.get(token, 1)
            return Tensor(out)
        depth = self._depth()
        if depth is None:
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data."
            )
        out = np.zeros((len(rows), depth), dtype=self.dtype)
        for r, row in enumerate(rows):
            for token in row:
                if token != MASK_TOKEN:
                    index = self._index.get(token, 0)
                    if index < depth:
                        out[r, index] += 1
        if self.output_mode == "multi_hot":
            out = np.minimum(out, 1)
        elif self.output_mode == "tf_idf":
            out = out * self._idf_weights
        dtype = "int64" if self.output_mode == "multi_hot" else self.dtype  # as Keras's
        return Tensor(out.astype(dtype, copy=False))

    def _depth(self) -> int | None:
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.split is not None and len(input_shape) > 1:
            if len(input_shape) > 2 or input_shape[-1] not in (1, None):
                raise ValueError(
                    "When using `TextVectorization` to tokenize strings, the input rank must be "
                    f"1 or the last shape dimension must be 1. Received: input_shape={input_shape}"
                )
        batch = input_shape[0] if input_shape else None
        if self.output_mode == "int":
            return (batch, self.output_sequence_length)
        return (batch, self._depth())

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        if isinstance(outputs, KerasTensor):
            outputs.dtype = "int64" if self.output_mode == "int" else self.dtype
        return outputs

    # -- saving: the vocabulary Keras keeps in the archive's assets -----------------------
    _file_path_arguments = ("vocabulary",)  # a saved config never makes cnnkit open a file

    def _saved_vocabulary(self) -> dict:
        """What an adapted layer adds to its saved config (Keras: an asset file)."""
        if self._input_vocabulary is not None or not self._tokens:
            return {}
        saved = {"vocabulary": self.get_vocabulary()}
        if self.output_mode == "tf_idf" and self._idf_weights is not None:
            saved["idf_weights"] = [float(w) for w in np.asarray(self._idf_weights).reshape(-1)]
        return saved

    def _load_vocabulary_asset(self, text: bytes) -> None:
        """Take the vocabulary Keras wrote to the archive's assets (``vocabulary.txt``: one
        token a line, reserved tokens first), unless the config already gave one.

        Raises:
            ValueError: text that is not UTF-8, or a ``"tf_idf"`` layer (its IDF weights are
                not in the assets cnnkit reads).
        """
        if self._tokens:
            return  # the config gave it one (Keras then writes no asset)
        try:
            lines = text.decode("utf-8").split("\n")
        except UnicodeDecodeError as err:
            raise ValueError(str(err)) from None
        while lines and lines[-1] == "":
            lines.pop()
        if self.output_mode == "tf_idf":
            raise ValueError("a 'tf_idf' layer's IDF weights are not in the archive")
        self.set_vocabulary(lines)

    def get_config(self) -> dict:
        """The constructor arguments; ``vocabulary``/``idf_weights`` only if passed as lists."""
        return {
            **super().get_config(),
            "max_tokens": self.max_tokens,
            "standardize": self.standardize,
            "split": self.split,
            "ngrams": self.ngrams,
            "output_mode": self.output_mode,
            "output_sequence_length": self.output_sequence_length,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "sparse": self.sparse,
            "ragged": self.ragged,
            "vocabulary": self._input_vocabulary,
            "idf_weights": self._input_idf_weights,
            "encoding": self.encoding,
        }
