"""``StringLookup`` and ``IntegerLookup``: vocabulary tokens to indices and back (Keras 3).

Index layout (``output_mode="int"``): ``0`` is the mask token when ``mask_token`` is set, then
``num_oov_indices`` out-of-vocabulary (OOV) indices, then the vocabulary's tokens in order.
In the other modes the mask index is left out (mask tokens are dropped from the counts).
Unknown tokens go to the one OOV index; with ``num_oov_indices > 1`` an integer token ``t``
goes to OOV index ``t mod num_oov_indices`` (Keras's ``"floormod"``); an unknown string, or an
integer with ``oov_method="farmhash"`` (hashed as its decimal string), goes to OOV index
``FarmHash64(token) mod num_oov_indices``, or with a ``salt`` ``SipHash64`` keyed by it (the
hashes of :class:`~cnnkit.layers.Hashing`, TensorFlow's bit for bit).

:meth:`adapt` counts the tokens of the data, drops the mask and OOV tokens, and keeps the most
frequent ones first (ties: the larger token first, as Keras's ``np.lexsort``), up to
``max_tokens`` indices in all. In ``"tf_idf"`` mode each row of the data is a document
(a 1-D array is one document) and ``idf = ln(1 + documents / (1 + document_frequency))``, with
the mean weight for the OOV indices.

The vocabulary of an adapted layer is written into its saved config (inside the ``.keras``
archive), where Keras writes an asset file; the IDF weights go with it.

Deliberate deviations from Keras 3, written down:

* ``sparse=True`` is refused as on Keras's torch backend.
* ``invert=True`` on ``StringLookup`` returns a Tensor holding an array of ``str`` of the
  input's shape (Keras on torch returns a Python list of the first axis).
* ``one_hot``/``multi_hot``/``count`` outputs are int64 and ``tf_idf`` float32, as Keras's
  eager results on the torch backend.

Example:
    >>> layer = StringLookup(vocabulary=["a", "b", "c"])
    >>> layer([["a", "c"], ["d", "b"]]).numpy()
    array([[1, 3],
           [0, 2]])
    >>> IntegerLookup(vocabulary=[12, 36], invert=True)([[1, 2, 0]]).numpy()
    array([[12, 36, -1]])
"""

from __future__ import annotations

import collections
import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.kernels import hashing
from cnnkit.layers.base import KerasTensor, Layer

LOOKUP_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bincount_rows(ids: np.ndarray, depth: int, weights=None) -> np.ndarray:
    """Counts of ``ids`` in ``[0, depth)`` along the last axis (others dropped), as TF's."""
    rows = ids.reshape(-1, ids.shape[-1]) if ids.ndim else ids.reshape(1, 1)
    valid = (rows >= 0) & (rows < depth)
    out = np.zeros((rows.shape[0], depth), dtype=np.int64)
    r, c = np.nonzero(valid)
    np.add.at(out, (r, rows[r, c]), 1)
    return out.reshape(*ids.shape[:-1], depth) if ids.ndim else out[0]


def _standardize_salt(salt):
    """Keras's ``salt``: None, an integer ``s`` (the key ``[s, s]``) or two integers."""
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(_is_int(s) for s in salt):
        return [int(s) for s in salt]
    if _is_int(salt):
        return [int(salt), int(salt)]
    raise ValueError(
        "The `salt` argument for `IndexLookup` can only be a tuple of 2 integers, or a single "
        f"integer. Received: salt={salt!r}."
    )


def _hash_buckets(strings: list, buckets: int, salt) -> np.ndarray:
    """``to_hash_bucket_fast`` (FarmHash64) or, with a salt, ``to_hash_bucket_strong``."""
    hashes = hashing.fingerprint64(strings) if salt is None else hashing.siphash64(strings, salt)
    return (hashes % np.uint64(buckets)).astype(np.int64)


def _holds_keras_tensor(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_keras_tensor(v) for v in value)
    return isinstance(value, KerasTensor)


class _IndexLookup(Layer):
    """The shared machinery of ``StringLookup`` and ``IntegerLookup``."""

    samplewise = True  # each output sample depends on its input sample alone

    _keeps_integer_inputs = True
    _kind = "token"

    def __init__(
        self,
        max_tokens,
        num_oov_indices,
        mask_token,
        oov_token,
        vocabulary,
        idf_weights,
        invert,
        output_mode,
        pad_to_max_tokens,
        sparse,
        name,
        vocabulary_size=None,  # in Keras's configs; the vocabulary decides it
        has_input_vocabulary=None,
        **kwargs,
    ):
        if has_input_vocabulary is None:
            has_input_vocabulary = vocabulary is not None
        super().__init__(name=name, **kwargs)
        cls = type(self).__name__
        if max_tokens is not None and not (_is_int(max_tokens) and max_tokens > 1):
            raise ValueError(
                f"If `max_tokens` is set for `{cls}`, it must be greater than 1. "
                f"Received: max_tokens={max_tokens!r}"
            )
        if not _is_int(num_oov_indices) or num_oov_indices < 0:
            raise ValueError(
                f"The value of `num_oov_indices` argument for `{cls}` must >= 0. "
                f"Received: num_oov_indices={num_oov_indices!r}"
            )
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in LOOKUP_MODES:
            raise ValueError(
                f"Invalid value for argument `output_mode` of {cls}. Expected one of "
                f"{LOOKUP_MODES}. Received: output_mode={output_mode!r}"
            )
        if invert and output_mode != "int":
            raise ValueError(
                "`output_mode` must be `'int'` when `invert` is true. "
                f"Received: output_mode={output_mode!r}"
            )
        if sparse:
            raise ValueError(
                "`sparse=True` can only be used with the TensorFlow backend (cnnkit has no "
                f"sparse tensors). Received: sparse={sparse!r}"
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                "If `pad_to_max_tokens` is True, `max_tokens` must be set. "
                f"Received: max_tokens={max_tokens!r}"
            )
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                "`idf_weights` should only be set if `output_mode` is `'tf_idf'`. "
                f"Received: idf_weights={idf_weights!r:.80} and output_mode={output_mode!r}"
            )
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(
                "When specifying the `vocabulary` argument, in TF-IDF output mode, the "
                "`idf_weights` argument must also be provided."
            )
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self.input_vocabulary = self._listed(vocabulary)
        self.input_idf_weights = self._listed(idf_weights)
        self._tokens: list = []
        self._index: dict = {}
        self._idf_weights = None
        self._frozen_vocab_size = None
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    @staticmethod
    def _listed(value):
        if isinstance(value, Tensor):
            value = backend.to_numpy(value.data)
        return value.tolist() if isinstance(value, np.ndarray) else value

    # -- token conversion (subclasses) ------------------------------------
    def _token(self, value):
        raise NotImplementedError

    def _token_array(self, data) -> np.ndarray:
        if isinstance(data, Tensor):
            data = backend.to_numpy(data.data)
        array = np.asarray(data, dtype=object)
        flat = array.reshape(-1)
        for i, value in enumerate(flat):
            flat[i] = self._token(value)
        return flat.reshape(array.shape)

    # -- vocabulary ------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def _special_tokens(self) -> list:
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The vocabulary's size, mask and OOV indices included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary in index order (with the mask/OOV entries unless told not to)."""
        tokens = list(self._tokens)
        return self._special_tokens() + tokens if include_special_tokens else tokens

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Replace the vocabulary (and, in ``"tf_idf"`` mode, the IDF weights).

        The mask and OOV tokens may be given at the start, in index order; they are added
        when absent.

        Raises:
            ValueError: repeated tokens, a mask (or, inverting, OOV) token elsewhere than at
                the start, more than ``max_tokens`` entries, or misplaced ``idf_weights``.
        """
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(
                "`idf_weights` should only be set if output_mode is `'tf_idf'`. "
                f"Received: output_mode={self.output_mode!r}"
            )
        if isinstance(vocabulary, str):
            raise ValueError(
                "Vocabulary files are not read by cnnkit's lookup layers: pass the tokens as a "
                f"list. Received: vocabulary={vocabulary!r}"
            )
        vocabulary = list(self._token_array(self._listed(vocabulary)).reshape(-1))
        special = self._special_tokens()
        start = self._token_start_index()
        found_special = vocabulary[:start] == special
        tokens = vocabulary[start:] if found_special else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                "The passed vocabulary has at least one repeated term. Please uniquify your "
                f"dataset. The repeated terms are: {repeated}"
            )
        for what, token in (("mask", self.mask_token), ("OOV", self.oov_token)):
            if token is None or token not in tokens or (what == "OOV" and not self.invert):
                continue
            raise ValueError(
                f"Found reserved {what} token at unexpected location in `vocabulary`. Either "
                "remove all mask and OOV tokens, or include them only at the start of the "
                f"vocabulary in precisely this order: {special}. Received: {what} token "
                f"{token!r} at vocabulary index {vocabulary.index(token)}"
            )
        size = start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                "Attempted to set a vocabulary larger than the maximum vocab size. Received "
                f"vocabulary size is {size}; `max_tokens` is {self.max_tokens}."
            )
        weights = None
        if idf_weights is not None:
            weights = np.asarray(self._listed(idf_weights), dtype=np.float64)
            if weights.ndim != 1 or len(weights) != len(vocabulary):
                raise ValueError(
                    "`idf_weights` must be a 1D array of the same length as vocabulary. "
                    f"len(idf_weights) is {weights.size}; len(vocabulary) is {len(vocabulary)}"
                )
            if not found_special:
                weights = np.pad(weights, (start, 0), constant_values=np.mean(weights))
        self._set_tokens(tokens, weights)

    def _set_tokens(self, tokens, idf_weights=None) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {token: start + i for i, token in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()
        if idf_weights is not None:
            if self.pad_to_max_tokens:
                idf_weights = np.pad(idf_weights, (0, self.max_tokens - len(idf_weights)))
            self._idf_weights = np.asarray(idf_weights, dtype=backend.floatx())

    # -- adapt -----------------------------------------------------------
    def adapt(self, data, steps: int | None = None) -> None:
        """Learn the vocabulary (and IDF weights) from ``data``.

        Args:
            data: an array of tokens, or an iterable of batches.
            steps: read at most this many batches of an iterable.

        Raises:
            ValueError: when the layer was given a vocabulary.
        """
        self.reset_state()
        is_batches = not isinstance(data, (np.ndarray, Tensor, str, bytes)) and not (
            isinstance(data, (list, tuple)) and (not data or np.isscalar(data[0]))
        )
        if is_batches and hasattr(data, "__iter__"):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            self.update_state(data)
        self.finalize_state()

    def reset_state(self) -> None:
        self._counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    def update_state(self, data) -> None:
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via "
                "`vocabulary` argument or `set_vocabulary()` method."
            )
        tokens = self._token_array(data)
        if tokens.ndim < 2:
            tokens = tokens.reshape(1, -1)  # a 1-D batch is one document
        self._counts.update(tokens.reshape(-1).tolist())
        if self.output_mode == "tf_idf":
            for row in tokens:
                self._document_counts.update(set(np.asarray(row).reshape(-1).tolist()))
            self._num_documents += tokens.shape[0]

    def finalize_state(self) -> None:
        if self._has_input_vocabulary or not self._counts:
            return
        for special in (self.mask_token, self.oov_token):
            self._counts.pop(special, None)
        # by decreasing count, ties by decreasing token (Keras's reversed np.lexsort)
        ordered = sorted(self._counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens:
            ordered = ordered[: self.max_tokens - self._token_start_index()]
        tokens = [token for token, _ in ordered]
        weights = None
        if self.output_mode == "tf_idf":
            frequency = np.array([self._document_counts[t] for t in tokens], dtype=np.float64)
            idf = np.log(1 + self._num_documents / (1 + frequency)).astype(backend.floatx())
            weights = np.pad(idf, (self._token_start_index(), 0), constant_values=np.mean(idf))
        self._set_tokens(tokens, weights)
        self.reset_state()

    # -- call ------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and not _holds_keras_tensor(inputs):
            inputs = self._token_array(inputs)  # a (nested) list of tokens is one input
        return super().__call__(inputs, *args, **kwargs)

    def _to_tensor(self, x) -> Tensor:
        return Tensor(self._token_array(x))

    def _lookup(self, tokens: np.ndarray) -> np.ndarray:
        start = self._oov_start_index()
        default = start if self.num_oov_indices == 1 else -1
        flat = [self._index.get(t, default) for t in tokens.reshape(-1).tolist()]
        ids = np.asarray(flat, dtype=np.int64).reshape(tokens.shape)
        if self.mask_token is not None:
            mask_id = 0 if self.output_mode == "int" else np.iinfo(np.int64).max
            ids = np.where(tokens == self.mask_token, mask_id, ids)
        if self.num_oov_indices == 0 and (ids == -1).any():
            raise ValueError(
                "When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                f"{tokens[ids == -1].tolist()}, consider setting `num_oov_indices=1`."
            )
        if self.num_oov_indices > 1:
            oov = ids == -1
            ids[oov] = start + self._hash_oov(tokens[oov])
        return ids

    def _hash_oov(self, tokens: np.ndarray) -> np.ndarray:
        return np.asarray(tokens.tolist(), dtype=np.int64) % self.num_oov_indices

    def _invert(self, ids: np.ndarray) -> np.ndarray:
        vocabulary = self.get_vocabulary()
        out = np.empty(ids.shape, dtype=object)
        flat = out.reshape(-1)
        for i, index in enumerate(ids.reshape(-1).tolist()):
            ok = 0 <= index < len(vocabulary) and index >= self._token_start_index()
            flat[i] = vocabulary[index] if ok else self.oov_token
        if self.mask_token is not None:
            out[ids == 0] = self.mask_token
        return out

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def call(self, inputs):
        if self._frozen_vocab_size is None and self.output_mode != "int":
            raise RuntimeError(
                f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, "
                "you must set the layer's vocabulary before calling it. Either pass a "
                "`vocabulary` argument to the layer, or call `adapt` with some sample data."
            )
        tokens = self._token_array(inputs)
        if self.invert:
            return Tensor(self._output_tokens(self._invert(tokens.astype(np.int64))))
        ids = self._lookup(tokens)
        if self.output_mode == "int":
            return Tensor(ids)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if self.output_mode == "one_hot" and ids.shape[-1] != 1:
            ids = ids[..., None]
        if ids.ndim > 2:
            raise ValueError(
                "When output_mode is not `'int'`, maximum supported output rank is 2. "
                f"Received output_mode {self.output_mode} and input shape {tokens.shape}."
            )
        counts = _bincount_rows(ids, self._depth())
        if self.output_mode in ("one_hot", "multi_hot"):
            counts = np.minimum(counts, 1)
        if self.output_mode == "tf_idf":
            return Tensor(counts.astype(backend.floatx()) * self._idf_weights)
        return Tensor(counts)

    def _output_tokens(self, tokens: np.ndarray) -> np.ndarray:
        return tokens

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = self._depth()
        if self.output_mode == "one_hot":
            if shape and shape[-1] == 1:  # (as the call: Keras says (1, depth) for (1,))
                return (*shape[:-1], depth)
            return (*shape, depth)
        return (*shape[:-1], depth)

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        if isinstance(outputs, KerasTensor):
            outputs.dtype = self._output_dtype()
        return outputs

    def _output_dtype(self) -> str:
        if self.output_mode == "tf_idf":
            return backend.floatx()
        return "int64"

    def _saved_vocabulary(self) -> dict:
        """What an adapted layer adds to its saved config (Keras: an asset file)."""
        if self.input_vocabulary is not None or not self._tokens:
            return {}
        saved = {"vocabulary": self.get_vocabulary()}
        if self.output_mode == "tf_idf" and self._idf_weights is not None:
            saved["idf_weights"] = [float(w) for w in self._idf_weights[: self.vocabulary_size()]]
        return saved

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary": self.input_vocabulary,
            "idf_weights": self.input_idf_weights,
        }


class StringLookup(_IndexLookup):
    """Maps strings to integer indices (or one/multi-hot, count, TF-IDF vectors), or back.

    Args:
        max_tokens: the largest vocabulary, mask and OOV indices included (> 1), or None.
        num_oov_indices: indices for unknown strings (default 1; 0 makes them an error);
            with more than 1 an unknown string goes to OOV index ``FarmHash64(s) mod
            num_oov_indices``.
        mask_token: the string that maps to index 0 (``"int"`` mode) and is dropped in the
            other modes; None (default) for no mask.
        oov_token: the string returned for unknown indices when ``invert=True``
            (default ``"[UNK]"``).
        vocabulary: a list or 1-D array of strings; then the layer refuses ``adapt``.
        idf_weights: ``"tf_idf"`` mode with a ``vocabulary``: one weight per entry.
        invert: map indices back to strings (``"int"`` mode only).
        output_mode: ``"int"`` (default), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"``.
        pad_to_max_tokens: non-``"int"`` modes: ``max_tokens`` columns even when the
            vocabulary is smaller.
        sparse: must be False.
        encoding: how ``bytes`` inputs are decoded (default ``"utf-8"``).
        name: layer name.
        salt: with ``num_oov_indices > 1``: an integer or two, the key of SipHash64 used
            instead of FarmHash64.

    Input shape:
        strings of any shape (a list, or an array of ``str``/``object``/``bytes``);
        ``invert=True``: integer indices.
    Output shape:
        ``"int"``: the input's shape, int64. ``"one_hot"``: the input shape plus the
        vocabulary size (a trailing axis of 1 replaced); other modes: the input shape with
        its last axis replaced by the vocabulary size.

    Raises:
        ValueError: for invalid arguments or vocabularies.

    Example:
        >>> layer = StringLookup(output_mode="multi_hot")
        >>> layer.adapt([["a", "b", "b"], ["c", "b", "c"]])
        >>> layer.get_vocabulary()
        ['[UNK]', 'b', 'c', 'a']
        >>> layer([["a", "x"]]).numpy()
        array([[1, 0, 0, 1]])
    """

    _accepts_strings = True

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token="[UNK]",
        vocabulary=None,
        idf_weights=None,
        invert=False,
        output_mode="int",
        pad_to_max_tokens=False,
        sparse=False,
        encoding="utf-8",
        name=None,
        salt=None,
        vocabulary_dtype="string",
        oov_method="floormod",
        **kwargs,
    ):
        if vocabulary_dtype != "string" or oov_method not in ("floormod", "farmhash"):
            raise ValueError(
                "StringLookup takes only `vocabulary_dtype='string'` and `oov_method` "
                f"'floormod' or 'farmhash'. Received: vocabulary_dtype={vocabulary_dtype!r}, "
                f"oov_method={oov_method!r}"
            )
        self.encoding = encoding
        self.salt = _standardize_salt(salt)
        self.oov_method = oov_method
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            idf_weights,
            invert,
            output_mode,
            pad_to_max_tokens,
            sparse,
            name,
            **kwargs,
        )

    def _token(self, value):
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        if isinstance(value, str):
            return str(value)
        if self.invert and _is_int(value):
            return int(value)
        raise TypeError(
            f"Layer {self.name!r} (StringLookup) expects strings. Received {value!r} (of type "
            f"{type(value).__name__})."
        )

    def _output_dtype(self) -> str:
        return "string" if self.invert else super()._output_dtype()

    def _hash_oov(self, tokens: np.ndarray) -> np.ndarray:
        return _hash_buckets(tokens.reshape(-1).tolist(), self.num_oov_indices, self.salt)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "encoding": self.encoding,
            "vocabulary_dtype": "string",
            "oov_method": self.oov_method,
            "salt": self.salt,
        }


class IntegerLookup(_IndexLookup):
    """Maps integers to contiguous indices (or one/multi-hot, count, TF-IDF vectors), or back.

    Args:
        max_tokens: the largest vocabulary, mask and OOV indices included (> 1), or None.
        num_oov_indices: indices for unknown integers (default 1; 0 makes them an error);
            with more than 1 an unknown ``t`` goes to OOV index ``t mod num_oov_indices``.
        mask_token: the integer that maps to index 0 (``"int"`` mode), None (default) for
            no mask.
        oov_token: the integer returned for unknown indices when ``invert=True`` (default -1).
        vocabulary: a list or 1-D array of integers; then the layer refuses ``adapt``.
        vocabulary_dtype: only ``"int64"``.
        idf_weights: ``"tf_idf"`` mode with a ``vocabulary``: one weight per entry.
        invert: map indices back to integers (``"int"`` mode only).
        output_mode: ``"int"`` (default), ``"one_hot"``, ``"multi_hot"``, ``"count"`` or
            ``"tf_idf"``.
        sparse: must be False.
        pad_to_max_tokens: non-``"int"`` modes: ``max_tokens`` columns.
        oov_method: with ``num_oov_indices > 1``: ``"floormod"`` (default) or
            ``"farmhash"`` (FarmHash64 of the integer's decimal string).
        salt: ``"farmhash"`` only: an integer or two, the key of SipHash64 used instead.
        name: layer name.

    Input shape:
        integers of any shape. Output shape: as :class:`StringLookup`.

    Raises:
        ValueError: for invalid arguments or vocabularies.

    Example:
        >>> layer = IntegerLookup(mask_token=0)
        >>> layer.adapt([[7, 7, 3], [0, 5, 7]])
        >>> layer.get_vocabulary()
        [0, -1, 7, 5, 3]
        >>> layer([[3, 0, 9]]).numpy()
        array([[4, 0, 1]])
    """

    def __init__(
        self,
        max_tokens=None,
        num_oov_indices=1,
        mask_token=None,
        oov_token=-1,
        vocabulary=None,
        vocabulary_dtype="int64",
        idf_weights=None,
        invert=False,
        output_mode="int",
        sparse=False,
        pad_to_max_tokens=False,
        oov_method="floormod",
        salt=None,
        name=None,
        **kwargs,
    ):
        if vocabulary_dtype != "int64":
            raise ValueError(
                "Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                f"vocabulary_dtype={vocabulary_dtype!r}"
            )
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(
                "Invalid value for argument `oov_method`. Expected one of ('floormod', "
                f"'farmhash'). Received: oov_method={oov_method!r}"
            )
        if salt is not None and oov_method != "farmhash":
            raise ValueError(
                "`salt` can only be used when `oov_method='farmhash'`. "
                f"Received: oov_method={oov_method!r}"
            )
        self.vocabulary_dtype = "int64"
        self.oov_method = oov_method
        self.salt = _standardize_salt(salt)
        super().__init__(
            max_tokens,
            num_oov_indices,
            mask_token,
            oov_token,
            vocabulary,
            idf_weights,
            invert,
            output_mode,
            pad_to_max_tokens,
            sparse,
            name,
            **kwargs,
        )

    def _token(self, value):
        if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return int(value)
        raise TypeError(
            f"Layer {self.name!r} (IntegerLookup) expects integers. Received {value!r} (of "
            f"type {type(value).__name__})."
        )

    def _output_tokens(self, tokens: np.ndarray) -> np.ndarray:
        return tokens.astype(np.int64)

    def _hash_oov(self, tokens: np.ndarray) -> np.ndarray:
        if self.oov_method == "floormod":
            return super()._hash_oov(tokens)
        strings = [str(t) for t in tokens.reshape(-1).tolist()]  # tf.as_string, decimal
        return _hash_buckets(strings, self.num_oov_indices, self.salt)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocabulary_dtype": self.vocabulary_dtype,
            "oov_method": self.oov_method,
            "salt": self.salt,
        }
