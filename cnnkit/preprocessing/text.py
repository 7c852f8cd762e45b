"""tf.keras 2's text preprocessing: ``Tokenizer``, ``text_to_word_sequence`` and hashing.

A :class:`Tokenizer` learns a word index from a corpus and turns texts into sequences of
word indices (``texts_to_sequences``) or into one row of word weights per text
(``texts_to_matrix`` with ``mode`` ``"binary"``, ``"count"``, ``"freq"`` or ``"tfidf"``).
Index 0 is reserved (padding, see :func:`cnnkit.preprocessing.sequence.pad_sequences`); the
``oov_token``, when given, takes index 1; the words follow by decreasing count, words of equal
count in the order they first appeared.

Deliberate deviations from tf.keras 2 (which accepts all of these without complaint):

* A bare string where a list of texts is expected is a ``TypeError``; tf.keras iterates
  its characters and treats each as a document. So is a text that is neither a string nor a
  list of string tokens (``None``, a number, bytes).
* ``fit_on_texts`` on an empty corpus is a ``ValueError``.
* ``num_words`` must be ``None`` or an integer >= 1 (tf.keras reads ``0`` as "no limit").
* An unknown ``mode`` is reported before any work, even when every sequence is empty.
* ``tokenizer_from_json`` restores ``word_counts`` as an ``OrderedDict`` and ``word_docs`` /
  ``index_docs`` as ``defaultdict(int)``, as after ``fit_on_texts``, so fitting may go on.

Example:
    >>> tokenizer = Tokenizer(oov_token="<OOV>")
    >>> tokenizer.fit_on_texts(["the cat sat", "the dog sat down"])
    >>> tokenizer.word_index
    {'<OOV>': 1, 'the': 2, 'sat': 3, 'cat': 4, 'dog': 5, 'down': 6}
    >>> tokenizer.texts_to_sequences(["The bird sat."])
    [[2, 1, 3]]
    >>> tokenizer.texts_to_matrix(["the cat"], mode="count")
    array([[0., 0., 1., 0., 1., 0., 0.]])
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from cnnkit.argument_validation import is_int

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def _check_split(split) -> str:
    if not isinstance(split, str) or not split:
        raise ValueError(
            "Invalid value for argument `split`. Expected a non-empty string (the separator). "
            f"Received: split={split!r}"
        )
    return split


def text_to_word_sequence(
    input_text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " "
) -> list[str]:
    """Split a text into words, after lowercasing and replacing ``filters`` by ``split``.

    Args:
        input_text: the text.
        filters: characters to remove (each is replaced by ``split``); the default is the
            ASCII punctuation except ``'``, plus tab and newline.
        lower: lowercase the text first.
        split: the word separator.

    Returns:
        the non-empty words, in order.

    Raises:
        TypeError: if ``input_text`` is not a string.
        ValueError: if ``split`` is not a non-empty string.

    Example:
        >>> text_to_word_sequence("Hello, World! It's   me.")
        ['hello', 'world', "it's", 'me']
    """
    if not isinstance(input_text, str):
        raise TypeError(
            "Argument `input_text` must be a string. "
            f"Received: input_text={input_text!r} (of type {type(input_text).__name__})"
        )
    _check_split(split)
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans(dict.fromkeys(filters, split)))
    return [word for word in input_text.split(split) if word]


def _md5(word: str) -> int:
    return int(hashlib.md5(word.encode(), usedforsecurity=False).hexdigest(), 16)


def hashing_trick(
    text: str,
    n: int,
    hash_function: Callable[[str], int] | str | None = None,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
    analyzer: Callable[[str], Iterable[str]] | None = None,
) -> list[int]:
    """Map each word of ``text`` to ``hash(word) % (n - 1) + 1``, an index in ``[1, n - 1]``.

    Different words may share an index (hash collisions); 0 is never used.

    Args:
        text: the text.
        n: size of the hashing space (indices ``1 .. n - 1``), an integer >= 2.
        hash_function: ``None`` (Python's ``hash``: salted per process for strings, so not
            reproducible across runs), ``"md5"`` (stable) or a callable ``str -> int``.
        filters, lower, split: as :func:`text_to_word_sequence`.
        analyzer: optional callable ``text -> words`` used instead of
            :func:`text_to_word_sequence`.

    Returns:
        one index per word.

    Raises:
        ValueError: for ``n < 2`` or an unknown ``hash_function`` name.

    Example:
        >>> hashing_trick("the cat and the hat", 100, hash_function="md5")
        [51, 3, 69, 51, 24]
    """
    if not (is_int(n) and n >= 2):
        raise ValueError(
            f"Invalid value for argument `n`. Expected an integer >= 2. Received: n={n!r}"
        )
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5
    elif not callable(hash_function):
        raise ValueError(
            "Invalid value for argument `hash_function`. Expected None, 'md5' or a callable. "
            f"Received: hash_function={hash_function!r}"
        )
    if analyzer is None:
        words = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    else:
        words = analyzer(text)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def one_hot(
    input_text: str,
    n: int,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
    analyzer: Callable[[str], Iterable[str]] | None = None,
) -> list[int]:
    """:func:`hashing_trick` with Python's ``hash`` (indices differ between processes).

    Example:
        >>> indices = one_hot("the cat and the hat", 10)
        >>> len(indices), indices[0] == indices[3], all(1 <= i <= 9 for i in indices)
        (5, True, True)
    """
    return hashing_trick(
        input_text,
        n,
        hash_function=hash,
        filters=filters,
        lower=lower,
        split=split,
        analyzer=analyzer,
    )


def _check_texts(texts, name: str = "texts"):
    """A collection of texts, not a single string."""
    if isinstance(texts, (str, bytes)) or (isinstance(texts, np.ndarray) and texts.ndim == 0):
        raise TypeError(
            f"Argument `{name}` must be a list of strings (or of lists of string tokens), not "
            f"a single string. Wrap it in a list: {name}=[text]. Received: {name}={texts!r}"
        )
    if not isinstance(texts, Iterable):
        raise TypeError(
            f"Argument `{name}` must be a list of strings (or of lists of string tokens). "
            f"Received: {name}={texts!r} (of type {type(texts).__name__})"
        )
    return texts


def _check_sequences(sequences, name: str = "sequences"):
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(
            f"Argument `{name}` must be a list of sequences of integer word indices. "
            f"Received: {name}={sequences!r} (of type {type(sequences).__name__})"
        )
    return sequences


class Tokenizer:
    """Learns a word index from texts and vectorizes texts with it (tf.keras 2's API).

    Args:
        num_words: keep only the words of index ``< num_words`` (the ``num_words - 1`` most
            frequent, counting the OOV token) when converting texts; ``None`` keeps all.
            ``word_index`` always holds every word seen.
        filters: characters removed from the texts (replaced by ``split``).
        lower: lowercase the texts.
        split: the word separator.
        char_level: every character is a token.
        oov_token: when given, it takes index 1 and replaces unknown (and cut-off) words in
            ``texts_to_sequences``; otherwise those words are dropped.
        analyzer: optional callable ``text -> tokens`` replacing the filtering and splitting.
        document_count: number of documents already seen (restored from a config).

    Attributes:
        word_counts: ``OrderedDict`` word -> count, in order of first appearance.
        word_docs: word -> number of documents containing it.
        word_index: word -> index (1-based, by decreasing count, ties by first appearance).
        index_word: the inverse of ``word_index``.
        index_docs: index -> number of documents containing it.
        document_count: number of documents fitted.

    Texts are strings or, for pre-tokenized input, lists of string tokens.

    Raises:
        ValueError: for an invalid ``num_words``, ``split`` or ``document_count``.
        TypeError: for an unknown keyword argument or a non-callable ``analyzer``.

    Example:
        >>> tokenizer = Tokenizer(num_words=3)
        >>> tokenizer.fit_on_texts(["a b b c", "c c a"])
        >>> tokenizer.word_index, tokenizer.texts_to_sequences(["a b c d"])
        ({'c': 1, 'a': 2, 'b': 3}, [[2, 1]])
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = DEFAULT_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        analyzer: Callable[[str], Iterable[str]] | None = None,
        document_count: int = 0,
        **kwargs,
    ):
        if "nb_words" in kwargs:  # Keras 1's name
            warnings.warn(
                "The `nb_words` argument in `Tokenizer` has been renamed `num_words`.",
                stacklevel=2,
            )
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to Tokenizer: {kwargs}")
        if num_words is not None and not (is_int(num_words) and num_words >= 1):
            raise ValueError(
                "Invalid value for argument `num_words`. Expected None or an integer >= 1. "
                f"Received: num_words={num_words!r}"
            )
        if not (is_int(document_count) and document_count >= 0):
            raise ValueError(
                "Invalid value for argument `document_count`. Expected an integer >= 0. "
                f"Received: document_count={document_count!r}"
            )
        if analyzer is not None and not callable(analyzer):
            raise TypeError(
                "Argument `analyzer` must be a callable (text -> tokens) or None. "
                f"Received: analyzer={analyzer!r}"
            )
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = lower
        self.split = _check_split(split)
        self.char_level = char_level
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = int(document_count)
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    # -- tokenizing ----------------------------------------------------
    def _tokens(self, text, position: int) -> list[str]:
        """The tokens of one text (a string, or a list of string tokens)."""
        if isinstance(text, list):
            bad = [token for token in text if not isinstance(token, str)]
            if bad:
                raise TypeError(
                    f"A pre-tokenized text must be a list of strings. The text at position "
                    f"{position} contains {bad[0]!r} (of type {type(bad[0]).__name__})."
                )
            return [t.lower() for t in text] if self.lower else list(text)
        if not isinstance(text, str):
            raise TypeError(
                "Each text must be a string or a list of string tokens. Received "
                f"{text!r} (of type {type(text).__name__}) at position {position}."
            )
        if self.char_level:
            return list(text.lower() if self.lower else text)
        if self.analyzer is not None:
            return list(self.analyzer(text))
        return text_to_word_sequence(text, filters=self.filters, lower=self.lower, split=self.split)

    # -- fitting -------------------------------------------------------
    def fit_on_texts(self, texts) -> None:
        """Count the words of ``texts`` and rebuild ``word_index`` (may be called repeatedly).

        Args:
            texts: a list (or any iterable, e.g. a generator) of strings or of lists of
                string tokens.

        Raises:
            TypeError: if ``texts`` is a single string or holds something else than texts.
            ValueError: if ``texts`` is empty.
        """
        documents = [self._tokens(text, i) for i, text in enumerate(_check_texts(texts))]
        if not documents:
            raise ValueError(
                "Argument `texts` of `fit_on_texts` is empty. Expected at least one text. "
                f"Received: texts={texts!r}"
            )
        for words in documents:
            self.document_count += 1
            for word in words:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(words):
                self.word_docs[word] += 1

        # list.sort is stable: words of equal count keep their order of first appearance.
        by_count = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = [] if self.oov_token is None else [self.oov_token]
        vocabulary += [word for word, _ in by_count]
        self.word_index = dict(zip(vocabulary, range(1, len(vocabulary) + 1)))
        self.index_word = {index: word for word, index in self.word_index.items()}
        for word, docs in self.word_docs.items():
            self.index_docs[self.word_index[word]] = docs

    def fit_on_sequences(self, sequences) -> None:
        """Count document frequencies from sequences of indices (for ``mode="tfidf"``).

        Args:
            sequences: a list of sequences of integer word indices.
        """
        sequences = list(_check_sequences(sequences))
        self.document_count += len(sequences)
        for seq in sequences:
            for index in set(seq):
                self.index_docs[index] += 1

    # -- texts <-> sequences ---------------------------------------------
    def texts_to_sequences(self, texts) -> list[list[int]]:
        """The word indices of each text (see :meth:`texts_to_sequences_generator`).

        Example:
            >>> tokenizer = Tokenizer()
            >>> tokenizer.fit_on_texts(["b a b"])
            >>> tokenizer.texts_to_sequences(["a b c", "b"])
            [[2, 1], [1]]
        """
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts) -> Iterator[list[int]]:
        """Yield the word indices of each text.

        Words of index ``>= num_words`` and unknown words become the OOV index when
        ``oov_token`` is set, and are dropped otherwise.

        Raises:
            TypeError: if ``texts`` is a single string, or (when reached) for an item that is
                not a text.
        """
        return self._sequences(_check_texts(texts))

    def _sequences(self, texts) -> Iterator[list[int]]:
        oov_index = self.word_index.get(self.oov_token)
        for position, text in enumerate(texts):
            seq = []
            for word in self._tokens(text, position):
                index = self.word_index.get(word)
                if index is None or (self.num_words is not None and index >= self.num_words):
                    index = oov_index if self.oov_token is not None else None
                if index is not None:
                    seq.append(index)
            yield seq

    def sequences_to_texts(self, sequences) -> list[str]:
        """Words of each sequence joined by spaces (see :meth:`sequences_to_texts_generator`).

        Example:
            >>> tokenizer = Tokenizer()
            >>> tokenizer.fit_on_texts(["b a b"])
            >>> tokenizer.sequences_to_texts([[2, 1, 7]])
            ['a b']
        """
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences) -> Iterator[str]:
        """Yield the text of each sequence: its words joined by single spaces.

        Indices ``>= num_words`` and unknown indices become ``oov_token`` when it is set, and
        are dropped otherwise.
        """
        return self._texts(_check_sequences(sequences))

    def _texts(self, sequences) -> Iterator[str]:
        oov_index = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for index in seq:
                word = self.index_word.get(index)
                if word is None or (self.num_words is not None and index >= self.num_words):
                    word = self.index_word.get(oov_index) if self.oov_token is not None else None
                if word is not None:
                    words.append(word)
            yield " ".join(words)

    # -- matrices --------------------------------------------------------
    def texts_to_matrix(self, texts, mode: str = "binary") -> np.ndarray:
        """One row of word weights per text: :meth:`sequences_to_matrix` of its sequences.

        Example:
            >>> tokenizer = Tokenizer()
            >>> tokenizer.fit_on_texts(["b a b"])
            >>> tokenizer.texts_to_matrix(["b b a"], mode="freq")
            array([[0.        , 0.66666667, 0.33333333]])
        """
        self._check_mode(mode)
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode: str = "binary") -> np.ndarray:
        """A ``(len(sequences), num_words)`` float64 matrix of word weights.

        The width is ``num_words``, or ``len(word_index) + 1`` when ``num_words`` is None;
        indices beyond it are ignored. For a sequence ``s`` where index ``j`` occurs ``c``
        times, entry ``j`` is:

        * ``"binary"``: 1;
        * ``"count"``: ``c``;
        * ``"freq"``: ``c / len(s)``;
        * ``"tfidf"``: ``(1 + ln c) * ln(1 + document_count / (1 + index_docs[j]))``.

        Raises:
            ValueError: for an unknown ``mode``; when ``num_words`` is None and nothing was
                fitted; for ``"tfidf"`` before any fitting.
        """
        self._check_mode(mode)
        if self.num_words is not None:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(
                "The Tokenizer has no vocabulary yet. Specify a dimension (`num_words` "
                "argument), or fit on some text data first (`fit_on_texts`)."
            )
        if mode == "tfidf" and not self.document_count:
            raise ValueError(
                "Fit the Tokenizer on some data (`fit_on_texts` or `fit_on_sequences`) before "
                "using mode='tfidf'. Received: document_count=0"
            )
        sequences = list(_check_sequences(sequences))
        matrix = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            seq = list(seq)
            counts: dict[int, int] = defaultdict(int)
            for index in seq:
                if index < width:
                    counts[index] += 1
            for index, count in counts.items():
                if mode == "binary":
                    matrix[row, index] = 1
                elif mode == "count":
                    matrix[row, index] = count
                elif mode == "freq":
                    matrix[row, index] = count / len(seq)
                else:  # tfidf, weighting scheme 2 of https://en.wikipedia.org/wiki/Tf-idf
                    tf = 1 + np.log(count)
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(index, 0)))
                    matrix[row, index] = tf * idf
        return matrix

    @staticmethod
    def _check_mode(mode) -> None:
        if mode not in MATRIX_MODES:
            raise ValueError(
                f"Invalid value for argument `mode`. Expected one of {MATRIX_MODES}. "
                f"Received: mode={mode!r}"
            )

    # -- serialization -----------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments and the learned dictionaries (as JSON strings).

        ``analyzer`` is not included: a callable cannot be written to JSON.
        """
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """``{"class_name": "Tokenizer", "config": get_config()}`` as a JSON string.

        Args:
            **kwargs: passed to ``json.dumps`` (e.g. ``indent=2``).
        """
        document = {"class_name": type(self).__name__, "config": self.get_config()}
        return json.dumps(document, **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuild a :class:`Tokenizer` from :meth:`Tokenizer.to_json` (plain JSON parsing).

    Raises:
        TypeError: if ``json_string`` is not a string.
        ValueError: if it is not a Tokenizer's JSON.

    Example:
        >>> tokenizer = Tokenizer(oov_token="?")
        >>> tokenizer.fit_on_texts(["hello world", "hello"])
        >>> clone = tokenizer_from_json(tokenizer.to_json())
        >>> clone.texts_to_sequences(["hello there world"])
        [[2, 1, 3]]
    """
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(
            "Argument `json_string` must be a JSON string from `Tokenizer.to_json()`. "
            f"Received: json_string of type {type(json_string).__name__}"
        )
    try:
        document = json.loads(json_string)
        config = dict(document["config"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            "Argument `json_string` is not the JSON of a Tokenizer (expected an object with a "
            f"'config' entry, as written by `Tokenizer.to_json()`). Received: {json_string!r:.200}"
        ) from error
    learned = {}
    for key in ("word_counts", "word_docs", "index_docs", "index_word", "word_index"):
        value = config.pop(key, "{}")
        learned[key] = json.loads(value) if isinstance(value, str) else dict(value)
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(learned["word_counts"])
    tokenizer.word_docs = defaultdict(int, learned["word_docs"])
    # JSON object keys are strings: the integer indices come back as ints.
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in learned["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in learned["index_word"].items()}
    tokenizer.word_index = dict(learned["word_index"])
    return tokenizer
