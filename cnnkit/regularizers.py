"""Weight regularizers with Keras 3 names, arguments, defaults and numerics.

A regularizer maps a weight to a scalar penalty that training adds to the loss. Pass one as
``kernel_regularizer``/``bias_regularizer`` (``Layer.add_weight(..., regularizer=...)``); the
layer's ``losses`` then holds ``regularizer(weight)``, a scalar :class:`~cnnkit.autodiff.Tensor`
built from differentiable ops, so its gradient reaches the weight. The penalties, as in Keras
(no factor 1/2 on L2):

- ``L1(l1)``: ``l1 * sum(|w|)``;
- ``L2(l2)``: ``l2 * sum(w ** 2)``; with SGD at learning rate ``lr`` this shrinks each weight
  by ``2 * lr * l2 * w`` per step ("weight decay" ``2 * l2``);
- ``L1L2(l1, l2)``: the sum of both (each term only when its factor is non-zero);
- ``OrthogonalRegularizer(factor, mode)``: for a rank-2 weight, L2-normalise its rows
  (``mode="rows"``) or columns (``"columns"``), form the ``s x s`` matrix ``G`` of their
  pairwise dot products, and return ``factor * 0.5 * sum(|G_ij|, i != j) / (s * (s - 1) / 2)``.
  A row of norm below ``1e-7`` (Keras's epsilon) is multiplied by ``1e7`` instead of divided by
  its norm, as ``keras.ops.normalize`` does.

Defaults: ``L1()``/``L2()`` use 0.01; ``L1L2()`` uses 0 for both (Keras keeps that for backward
compatibility). Factors must be finite and non-negative (``ValueError`` otherwise, as Keras).
``get_config()`` returns exactly the constructor arguments.

Lookup (``get``): ``"l1"``/``"L1"``, ``"l2"``/``"L2"``, ``"l1l2"``/``"L1L2"`` (``L1L2()``, zero
factors, as Keras 3), ``"orthogonal_regularizer"``/``"OrthogonalRegularizer"``, a
``serialize`` dict, an instance, a class, or any callable ``weight -> scalar``.

Deliberate deviations from Keras 3, written down:

- ``get("l1_l2")`` returns ``L1L2(l1=0.01, l2=0.01)``: Keras 3 documents exactly that (and
  tf.keras 2 did it) but its lookup table lacks the key and raises.
- ``Regularizer()(x)`` returns a zero scalar Tensor of ``x``'s dtype, not the Python ``0.0``.
- ``OrthogonalRegularizer`` on a weight with fewer than two rows (columns) returns 0 where Keras
  divides by zero pairs (NaN).
- ``serialize``/``deserialize`` never import anything named in a config: ``class_name`` is
  looked up in this module's table (and ``custom_objects``) only.

Example:
    >>> import numpy as np
    >>> from cnnkit import regularizers
    >>> float(regularizers.L2(2.0)(np.ones((5, 5), "float32")))
    50.0
    >>> regularizers.get("l1")
    L1(l1=0.01)
    >>> regularizers.serialize(regularizers.L1L2(l1=0.5))["config"]
    {'l1': 0.5, 'l2': 0.0}
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Function, Tensor
from cnnkit.backend import xp

EPSILON = 1e-7  # keras.config.epsilon(): the smallest norm OrthogonalRegularizer divides by
_MODES = ("rows", "columns")


def _check_factor(name: str, value) -> float:
    """A finite, non-negative real ``value`` as a float (Keras's ``validate_float_arg``)."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _as_tensor(x) -> Tensor:
    """Tensors as they are; arrays wrapped (non-float ones cast to ``backend.floatx()``)."""
    if isinstance(x, Tensor):
        return x
    arr = xp.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(backend.floatx())
    return Tensor(arr)


def _constant(value, dtype) -> Tensor:
    """A non-differentiable scalar or array in ``dtype`` (keeps float32 graphs float32)."""
    return Tensor(xp.asarray(value, dtype=dtype))


class Regularizer:
    """Base class: a callable ``weight -> scalar penalty`` with a config.

    Subclasses implement ``__call__(x)`` (differentiable Tensor ops only) and
    ``get_config()`` (exactly the constructor arguments); ``from_config`` is ``cls(**config)``.

    Example:
        >>> class Sum(Regularizer):  # weights arrive as Variables (Tensors)
        ...     def __call__(self, x):
        ...         return x.sum()
        ...     def get_config(self):
        ...         return {}
        >>> float(Sum()(Tensor(np.ones((2, 3), "float32"))))
        6.0
    """

    def __call__(self, x) -> Tensor:
        """The penalty of ``x``: zero for the base class."""
        return _constant(0.0, _as_tensor(x).dtype)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Regularizer:
        """Rebuild a regularizer from ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """L1 penalty: ``l1 * sum(|x|)``.

    Args:
        l1: the factor, a non-negative float (``None`` means the default 0.01).

    Raises:
        ValueError: for a negative, infinite, NaN or non-numeric ``l1``.

    Example:
        >>> float(L1(0.5)(np.array([[-1.0, 2.0]], "float32")))
        1.5
    """

    def __init__(self, l1: float = 0.01):
        self.l1 = _check_factor("l1", 0.01 if l1 is None else l1)

    def __call__(self, x) -> Tensor:
        x = _as_tensor(x)
        return _constant(self.l1, x.dtype) * x.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """L2 penalty: ``l2 * sum(x ** 2)`` (no factor 1/2, as Keras).

    Args:
        l2: the factor, a non-negative float (``None`` means the default 0.01).

    Raises:
        ValueError: for a negative, infinite, NaN or non-numeric ``l2``.

    Example:
        >>> float(L2(0.5)(np.array([[-1.0, 2.0]], "float32")))
        2.5
    """

    def __init__(self, l2: float = 0.01):
        self.l2 = _check_factor("l2", 0.01 if l2 is None else l2)

    def __call__(self, x) -> Tensor:
        x = _as_tensor(x)
        return _constant(self.l2, x.dtype) * x.square().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """L1 and L2 penalties: ``l1 * sum(|x|) + l2 * sum(x ** 2)``.

    Args:
        l1: the L1 factor (default 0: Keras's defaults differ from ``L1``'s on purpose).
        l2: the L2 factor (default 0).

    Raises:
        ValueError: for a negative, infinite, NaN or non-numeric factor.

    Example:
        >>> float(L1L2(l1=1.0, l2=1.0)(np.array([[-1.0, 2.0]], "float32")))
        8.0
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _check_factor("l1", 0.0 if l1 is None else l1)
        self.l2 = _check_factor("l2", 0.0 if l2 is None else l2)

    def __call__(self, x) -> Tensor:
        x = _as_tensor(x)
        penalty = _constant(0.0, x.dtype)
        if self.l1:
            penalty = penalty + _constant(self.l1, x.dtype) * x.abs().sum()
        if self.l2:
            penalty = penalty + _constant(self.l2, x.dtype) * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class _Gram(Function):
    """Pairwise dot products of the rows (``a @ a.T``) or the columns (``a.T @ a``) of ``a``.

    The gradient of ``G = A A^T`` is ``(g + g^T) A``; of ``G = A^T A`` it is ``A (g + g^T)``.
    """

    def forward(self, a, rows: bool):
        self.save_for_backward(a, rows)
        return a @ a.T if rows else a.T @ a  # (s, s)

    def backward(self, grad):
        a, rows = self.saved
        sym = grad + grad.T
        return sym @ a if rows else a @ sym


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """``x * min(1 / ||x||, 1 / EPSILON)`` along ``axis``, as ``keras.ops.normalize``.

    Where the norm is below ``EPSILON`` the scale is the constant ``1 / EPSILON`` (no gradient
    through the norm, as through Keras's ``minimum``); the mask keeps ``** -0.5`` finite there.
    """
    square_sum = x.square().sum(axis=axis, keepdims=True)
    kept = (square_sum.data >= EPSILON**2).astype(x.dtype)  # 1 where the norm is used
    clamped = square_sum * _constant(kept, x.dtype) + _constant((1 - kept) * EPSILON**2, x.dtype)
    return x * clamped ** (-0.5)


class OrthogonalRegularizer(Regularizer):
    """Penalise the overlap of a weight's rows (or columns) with each other.

    ``penalty = factor * 0.5 * sum(|G_ij|, i != j) / (s * (s - 1) / 2)`` where ``G`` holds the
    dot products of the L2-normalised rows (``mode="rows"``) or columns, and ``s`` is their
    count: ``factor`` times the mean absolute cosine similarity over the pairs ``i < j``.
    Applied to a ``Dense`` kernel ``(input_dim, units)`` in ``"columns"`` mode, it pushes the
    units apart.

    Args:
        factor: the non-negative factor (default 0.01).
        mode: ``"rows"`` (default) or ``"columns"``.

    Raises:
        ValueError: for an invalid ``factor`` or ``mode``; from ``__call__``, for an input
            whose rank is not 2.

    Example:
        >>> float(OrthogonalRegularizer(1.0)(np.array([[1.0, 0.0], [2.0, 0.0]], "float32")))
        1.0
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _check_factor("factor", factor)
        if mode not in _MODES:
            raise ValueError(
                'Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                f"Received: mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, inputs) -> Tensor:
        x = _as_tensor(inputs)
        if x.ndim != 2:
            raise ValueError(
                "Inputs to OrthogonalRegularizer must have rank 2. "
                f"Received: inputs.shape={tuple(x.shape)}"
            )
        rows = self.mode == "rows"
        size = x.shape[0] if rows else x.shape[1]
        if size < 2:  # no pairs
            return _constant(0.0, x.dtype) * x.sum()
        gram = _Gram.apply(_l2_normalize(x, axis=1 if rows else 0), rows=rows)  # (s, s)
        off_diagonal = gram * _constant(1.0 - np.eye(size), x.dtype)
        num_pairs = size * (size - 1) / 2.0
        return _constant(self.factor * 0.5 / num_pairs, x.dtype) * off_diagonal.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras 3 exports these lowercase names as aliases of the classes themselves.
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_CLASSES: dict[str, type[Regularizer]] = {
    "Regularizer": Regularizer,
    "regularizer": Regularizer,
    "L1": L1,
    "l1": L1,
    "L2": L2,
    "l2": L2,
    "L1L2": L1L2,
    "l1l2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer,
    "orthogonal_regularizer": OrthogonalRegularizer,
}
# String ids with their own arguments: Keras documents kernel_regularizer="l1_l2" as 0.01 + 0.01.
_PRESETS: dict[str, Callable[[], Regularizer]] = {"l1_l2": lambda: L1L2(l1=0.01, l2=0.01)}


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret regularizer identifier: {identifier!r}. "
        f"Expected one of {sorted({*_CLASSES, *_PRESETS})}, a config dict, a Regularizer or a "
        "callable."
    )


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """The Keras-style dict of a regularizer (``None`` for ``None``).

    Returns:
        ``{"module": "keras.regularizers", "class_name": ..., "config": ...,
        "registered_name": None}`` for built-in regularizers; a subclass defined elsewhere
        gets its own module and its class name as ``registered_name``.

    Raises:
        TypeError: if ``regularizer`` is not a ``Regularizer``.

    Example:
        >>> config = serialize(L2(0.1))
        >>> config["module"], config["class_name"], config["config"], config["registered_name"]
        ('keras.regularizers', 'L2', {'l2': 0.1}, None)
    """
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        raise TypeError(
            "Invalid type for argument `regularizer`. Expected a `Regularizer` instance. "
            f"Received: regularizer={regularizer!r} of type {type(regularizer).__name__}"
        )
    from cnnkit.saving.serialization import serialize_keras_object  # saving imports this module

    return serialize_keras_object(regularizer)


def deserialize(
    config: Mapping[str, Any] | str, custom_objects: Mapping[str, type] | None = None
) -> Regularizer:
    """Rebuild a regularizer from ``serialize``'s dict (or a string id, as ``get``).

    Args:
        config: a ``serialize`` dict (``{"class_name": ..., "config": {...}}``, with the
            ``module`` and ``registered_name`` Keras writes), or a string id.
        custom_objects: extra ``{name: class}`` entries, looked up before registered objects
            and the built-ins.

    Raises:
        ValueError: for an unknown ``class_name`` or a dict without ``class_name``.

    Example:
        >>> deserialize({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})
        L1L2(l1=0.1, l2=0.2)
    """
    table = {**_CLASSES, **(custom_objects or {})}
    if isinstance(config, str):
        if config in table:
            return table[config]()
        if config in _PRESETS:
            return _PRESETS[config]()
        raise _unknown(config)
    if not isinstance(config, Mapping) or "class_name" not in config:
        raise ValueError(
            "Invalid regularizer config. Expected a dict with keys 'class_name' and 'config'. "
            f"Received: config={config!r}"
        )
    # saving imports this module: imported at call time
    from cnnkit.saving.serialization import deserialize_family_object

    return deserialize_family_object(config, _CLASSES, custom_objects, _unknown)


def get(identifier) -> Regularizer | Callable | None:
    """Resolve a regularizer identifier, as ``keras.regularizers.get`` does.

    Args:
        identifier: ``None``; a string id (``"l1"``, ``"l2"``, ``"l1l2"``, ``"l1_l2"``,
            ``"orthogonal_regularizer"`` or a class name; case-sensitive); a ``serialize``
            dict; a ``Regularizer`` or any callable ``weight -> scalar Tensor`` (returned as
            is); or a class (instantiated with no arguments).

    Returns:
        A regularizer (or the callable given), or ``None`` for ``None``.

    Raises:
        ValueError: "Could not interpret regularizer identifier: ..." listing the valid ids.

    Example:
        >>> get("l2")
        L2(l2=0.01)
        >>> get("l1_l2")
        L1L2(l1=0.01, l2=0.01)
        >>> get({"class_name": "OrthogonalRegularizer", "config": {"mode": "columns"}})
        OrthogonalRegularizer(factor=0.01, mode='columns')
    """
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, Mapping)):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise _unknown(identifier)
