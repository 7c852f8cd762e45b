"""Categorical features to bins by hashing: ``Hashing`` and ``HashedCrossing`` (Keras 3).

Keras computes both with TensorFlow string ops; cnnkit computes the same hashes in NumPy
(:mod:`cnnkit.kernels.hashing`), so the bins match TensorFlow's bit for bit:

* ``Hashing`` turns every value into a string (floats are first cast to int64, integers
  written in decimal) and takes FarmHash ``Fingerprint64(value) % bins``
  (``tf.strings.to_hash_bucket_fast``), or with a ``salt`` SipHash-2-4 keyed by the salt
  (``tf.strings.to_hash_bucket_strong``).
* ``HashedCrossing`` crosses features as ``tf.sparse.cross_hashed``: starting from the key
  ``0xDECAFCAFFE``, each feature's fingerprint (a string's ``Fingerprint64``, an integer's own
  64 bits) is folded in with ``FingerprintCat64``; the result modulo ``num_bins`` is the bin.

Both are preprocessing: they run on NumPy arrays of strings or integers, carry no weights and
no gradient. Neither has sparse outputs (``sparse=True`` is refused, as Keras does on the torch
backend).
"""

from __future__ import annotations

import numbers

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.kernels import hashing
from cnnkit.layers.base import KerasTensor, Layer
from cnnkit.layers.preprocessing_encoding import (
    ENCODING_MODES,
    _check_mode,
    encode_categorical,
    encoded_shape,
)

CROSS_HASH_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default `hash_key`


def _holds_keras_tensor(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_holds_keras_tensor(v) for v in value)
    return isinstance(value, KerasTensor)


def _as_array(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    return np.asarray(value)


def _check_mask_value(layer, values: np.ndarray) -> None:
    """Keras compares the inputs with ``mask_value`` converted to their dtype
    (``tf.equal``), which fails for a value that dtype cannot hold: refuse it as Keras."""
    mask, kind = layer.mask_value, values.dtype.kind
    if kind in "USO":
        fits, dtype = isinstance(mask, (str, bytes)), "string"
    elif kind == "b":
        fits, dtype = isinstance(mask, (bool, np.bool_)), "bool"
    elif kind in "iu":
        fits = isinstance(mask, (numbers.Integral, np.bool_))
        dtype = str(values.dtype)
    else:
        fits = isinstance(mask, (numbers.Real, np.bool_)) and not isinstance(mask, (str, bytes))
        dtype = str(values.dtype)
    if not fits:
        raise TypeError(
            f"Cannot convert {mask!r} to a tensor of dtype {dtype}: the `mask_value` of "
            f"layer {layer.name!r} must be of the inputs' type. Received: "
            f"mask_value={mask!r} and inputs of dtype {values.dtype}."
        )


def _equal(values: np.ndarray, mask_value) -> np.ndarray:
    """Where ``values`` equal ``mask_value``; strings and bytes compare as UTF-8, as in
    TensorFlow (which holds both as bytes)."""
    targets = [mask_value]
    if isinstance(mask_value, bytes):
        targets.append(mask_value.decode("utf-8", errors="replace"))
    elif isinstance(mask_value, str):
        targets.append(mask_value.encode("utf-8"))
    found = np.zeros(values.shape, dtype=bool)
    for target in targets:
        found |= np.asarray(values == target, dtype=bool)
    return found


def _values_as_strings(values: np.ndarray, argument: str = "inputs") -> list:
    """The flat values as the strings TensorFlow hashes (``tf.as_string`` after a float cast)."""
    kind = values.dtype.kind
    if kind == "f":
        values = values.astype(np.int64)  # Keras: floats are normalised to int64 first
        kind = "i"
    if kind in "iu":
        return values.astype(str).reshape(-1).tolist()
    if kind == "b":
        return np.where(values, "true", "false").reshape(-1).tolist()
    flat = values.reshape(-1).tolist()
    for value in flat[:1]:
        if not isinstance(value, (str, bytes)):
            raise TypeError(
                f"Expected `{argument}` to hold strings, bytes or numbers. Received a value "
                f"{value!r} of type {type(value).__name__}."
            )
    return flat


def _check_sparse(sparse) -> None:
    if sparse:
        raise ValueError(
            "`sparse=True` is not supported: cnnkit has no sparse tensors (Keras refuses it "
            f"on the torch backend). Received: sparse={sparse!r}"
        )


class _HashingBase(Layer):
    """Inputs stay as given (strings, bytes or numbers): no cast to the layer's dtype."""

    _accepts_strings = True

    def _to_tensor(self, x) -> Tensor:
        return x if isinstance(x, Tensor) else Tensor(np.asarray(x))

    def _symbolic_call(self, inputs, kwargs, args=()):
        outputs = super()._symbolic_call(inputs, kwargs, args)
        if isinstance(outputs, KerasTensor):
            outputs.dtype = self.dtype
        return outputs


class Hashing(_HashingBase):
    """Hashes strings or integers into ``num_bins`` bins (FarmHash64, or SipHash64 with a salt).

    Args:
        num_bins: the number of bins, the mask bin included (so ``num_bins - 1`` hash bins
            when ``mask_value`` is set).
        mask_value: a value mapped to bin 0 (the hashes then fill bins ``1..num_bins-1``);
            ``None`` (default) for no mask.
        salt: ``None`` (default: FarmHash ``Fingerprint64``), an integer ``s`` (the key
            ``[s, s]``) or two integers: the SipHash-2-4 key.
        output_mode: ``"int"`` (default: the bin ids), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"`` (as :class:`~cnnkit.layers.CategoryEncoding` with ``num_bins`` tokens).
        sparse: must be False (cnnkit has no sparse tensors).
        dtype: the output dtype: ``"int64"`` by default in ``"int"`` mode (which accepts
            ``"int32"`` or ``"int64"``), else ``backend.floatx()``.
        name: layer name.

    Input shape:
        Any shape of strings, bytes, integers or floats (floats are truncated to integers).
    Output shape:
        ``"int"``: the input shape; ``"one_hot"``: the input shape plus ``num_bins`` (a
        trailing axis of size 1 is replaced); ``"multi_hot"``/``"count"``: the last axis
        replaced by ``num_bins``.

    Returns:
        the bins (hashing runs in NumPy, once per value, with no gradient).

    Raises:
        ValueError: ``num_bins`` missing or < 1, a non-integer dtype in ``"int"`` mode, an
            unknown ``output_mode``, a malformed ``salt`` or ``sparse=True``.
        TypeError: on a call, a ``mask_value`` that the inputs' type cannot hold (a string
            for numbers, a number for strings, a float for integers), as Keras.

    Example:
        >>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).numpy().ravel()
        array([1, 0, 1, 1, 2])
        >>> masked = Hashing(num_bins=3, mask_value="")
        >>> masked([["A"], ["B"], [""], ["C"], ["D"]]).numpy().ravel()
        array([1, 1, 0, 2, 2])
        >>> salted = Hashing(num_bins=3, salt=[133, 137])
        >>> salted([["A"], ["B"], ["C"], ["D"], ["E"]]).numpy().ravel()
        array([1, 2, 1, 0, 2])
    """

    samplewise = True  # each value hashes alone

    def __init__(
        self,
        num_bins,
        mask_value=None,
        salt=None,
        output_mode="int",
        sparse=False,
        **kwargs,
    ):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else backend.floatx()
        super().__init__(**kwargs)
        if (
            num_bins is None
            or not isinstance(num_bins, numbers.Integral)
            or isinstance(num_bins, bool)
            or num_bins <= 0
        ):
            raise ValueError(
                "The `num_bins` for `Hashing` cannot be `None` or non-positive values. "
                f"Received: num_bins={num_bins!r}."
            )
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(
                "When `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' or "
                f"'int64'. Received: dtype={kwargs['dtype']!r}"
            )
        _check_mode(output_mode, ("int", *ENCODING_MODES), "Hashing")
        _check_sparse(sparse)
        if salt is not None:
            if (
                isinstance(salt, (tuple, list))
                and len(salt) == 2
                and all(isinstance(s, numbers.Integral) for s in salt)
            ):
                salt = [int(s) for s in salt]
            elif isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            else:
                raise ValueError(
                    "The `salt` argument for `Hashing` can only be a tuple of size 2 integers, "
                    f"or a single integer. Received: salt={salt!r}."
                )
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.salt = salt
        self.strong_hash = salt is not None
        self.output_mode = output_mode
        self.sparse = False

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and not _holds_keras_tensor(inputs):
            inputs = np.asarray(inputs)  # a (nested) list of values is one input
        return super().__call__(inputs, *args, **kwargs)

    def _hash_to_bins(self, values: np.ndarray) -> np.ndarray:
        """Bin ids (int64, shaped as ``values``), bin 0 kept for ``mask_value`` if set."""
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            _check_mask_value(self, values)
            mask = _equal(values, self.mask_value)
        strings = _values_as_strings(values)
        if self.strong_hash:
            hashes = hashing.siphash64(strings, self.salt)
        else:
            hashes = hashing.fingerprint64(strings)
        ids = (hashes % np.uint64(bins)).astype(np.int64).reshape(values.shape)
        if mask is not None:
            ids = np.where(mask, 0, ids + 1)
        return ids

    def call(self, inputs):
        ids = self._hash_to_bins(_as_array(inputs))
        if self.output_mode in ("multi_hot", "count") and ids.ndim > 2:
            # Keras reduces the last (sample) axis whatever the rank.
            flat = encode_categorical(
                ids.reshape(-1, ids.shape[-1]), self.output_mode, self.num_bins, self.dtype
            )
            return Tensor(flat.reshape(*ids.shape[:-1], self.num_bins))
        return Tensor(encode_categorical(ids, self.output_mode, self.num_bins, self.dtype))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode in ("multi_hot", "count") and len(shape) > 2:
            return (*shape[:-1], self.num_bins)
        return encoded_shape(shape, self.output_mode, self.num_bins)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_bins": self.num_bins,
            "salt": self.salt,
            "mask_value": self.mask_value,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }


class HashedCrossing(_HashingBase):
    """Crosses categorical features with the hashing trick: ``hash(features) % num_bins``.

    The hash is ``tf.sparse.cross_hashed``'s: see the module docstring.

    Args:
        num_bins: the number of bins (an integer >= 1).
        output_mode: ``"int"`` (default: the bin ids) or ``"one_hot"``.
        sparse: must be False (cnnkit has no sparse tensors).
        name: layer name.
        dtype: the output dtype: ``"int64"`` by default in ``"int"`` mode, else
            ``backend.floatx()``.

    Call arguments:
        inputs: a list or tuple of at least two features of one shape, ``()``,
            ``(batch_size,)`` or ``(batch_size, 1)``, each of integers or strings.

    Input shape:
        Two or more tensors of shape ``()``, ``(batch_size,)`` or ``(batch_size, 1)``.
    Output shape:
        ``"int"``: the features' shape; ``"one_hot"``: ``(batch_size, num_bins)``.

    Raises:
        ValueError: ``num_bins`` not a positive integer, an unknown ``output_mode``,
            ``sparse=True``; in a call, fewer than two features, features of other ranks or
            of unequal shapes, or features that are neither integers nor strings.

    Example:
        >>> import numpy as np
        >>> feat1 = np.array(["A", "B", "A", "B", "A"])
        >>> feat2 = np.array([101, 101, 101, 102, 102])
        >>> HashedCrossing(num_bins=5)((feat1, feat2)).numpy()
        array([1, 4, 1, 1, 3])
        >>> HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2)).numpy()[:2]
        array([[0., 1., 0., 0., 0.],
               [0., 0., 0., 0., 1.]], dtype=float32)
    """

    samplewise = True  # each sample's features cross alone

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if dtype is None:
            dtype = "int64" if output_mode == "int" else backend.floatx()
        super().__init__(name=name, dtype=dtype, **kwargs)
        if not isinstance(num_bins, numbers.Integral) or isinstance(num_bins, bool) or num_bins < 1:
            raise ValueError(
                "Invalid value for argument `num_bins` of HashedCrossing. Expected a positive "
                f"integer. Received: num_bins={num_bins!r}"
            )
        _check_mode(output_mode, ("int", "one_hot"), "HashedCrossing")
        _check_sparse(sparse)
        self.num_bins = int(num_bins)
        self.output_mode = output_mode
        self.sparse = False

    def _check_inputs(self, shapes) -> None:
        if not isinstance(shapes, list):
            raise ValueError(
                "`HashedCrossing` should be called on a list or tuple of inputs. Received: "
                f"inputs of shape {shapes}"
            )
        if len(shapes) < 2:
            raise ValueError(
                "`HashedCrossing` should be called on at least two inputs. Received: "
                f"{len(shapes)} input(s)"
            )
        first = tuple(shapes[0])
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise ValueError(
                "All `HashedCrossing` inputs should have shape `()`, `(batch_size)` or "
                f"`(batch_size, 1)`. Received: input shapes {[tuple(s) for s in shapes]}"
            )
        if not all(tuple(s) == first for s in shapes[1:]):
            raise ValueError(
                "All `HashedCrossing` inputs should have equal shape. Received: input shapes "
                f"{[tuple(s) for s in shapes]}"
            )

    def _check_input(self, shapes) -> None:
        self._check_inputs(shapes)

    def call(self, inputs):
        features = [_as_array(x) for x in inputs]
        shape = features[0].shape
        hashed = np.full(features[0].size, np.uint64(CROSS_HASH_KEY), dtype=np.uint64)
        for feature in features:
            if feature.dtype.kind in "iu":
                fingerprint = feature.reshape(-1).astype(np.int64).view(np.uint64)
            elif feature.dtype.kind in "USO":
                fingerprint = hashing.fingerprint64(_values_as_strings(feature))
            else:
                raise ValueError(
                    "All `HashedCrossing` inputs should have an integer or string dtype. "
                    f"Received: a feature of dtype {feature.dtype}"
                )
            hashed = hashing.fingerprint_cat64(hashed, fingerprint)
        ids = (hashed % np.uint64(self.num_bins)).astype(np.int64).reshape(shape)
        return Tensor(encode_categorical(ids, self.output_mode, self.num_bins, self.dtype))

    def compute_output_shape(self, input_shape):
        self._check_inputs(list(input_shape))
        return encoded_shape(tuple(input_shape[0]), self.output_mode, self.num_bins)

    def get_config(self) -> dict:
        return {
            "num_bins": self.num_bins,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "name": self.name,
            "dtype": self.dtype,
        }
