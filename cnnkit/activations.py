"""Activation functions with Keras 3's names, signatures and defaults (``keras.activations``).

Each function takes a Tensor or an array (arrays become constant Tensors; non-float arrays are
cast to ``backend.floatx()``) and returns a Tensor. The maths lives in
:mod:`cnnkit.kernels.activations`.

``softmax`` records its input on the output (``out._keras_logits``), as TF-Keras does: a
cross-entropy loss that receives a softmax output then works from the logits and loses no
precision to saturated probabilities.

Example:
    >>> import numpy as np
    >>> get("relu") is relu
    True
    >>> relu(np.array([-1.0, 3.0], dtype="float32"), max_value=2.0).numpy()
    array([0., 2.], dtype=float32)
    >>> serialize(get("swish"))
    'silu'
"""

from __future__ import annotations

from collections.abc import Callable

from cnnkit import backend
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import activations as ops

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "get",
    "serialize",
    "deserialize",
]


def _float_tensor(x) -> Tensor:
    """Float Tensors and float arrays keep their dtype; lists and integers take ``floatx``."""
    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            return Tensor(x.data.astype(backend.floatx()))
        return x
    if isinstance(x, xp.ndarray) and x.dtype.kind == "f":
        return Tensor(x)
    return Tensor(xp.asarray(x, dtype=backend.floatx()))


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0) -> Tensor:
    """Rectified linear unit, ``max(x, 0)`` by default.

    Args:
        x: input Tensor or array.
        negative_slope: slope below ``threshold`` (default 0).
        max_value: ceiling of the output, or ``None`` for none.
        threshold: values at or below it are zeroed (or scaled by ``negative_slope``).

    Returns:
        Tensor of ``x``'s shape and dtype.

    Example:
        >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0], negative_slope=0.5).numpy()
        array([-5. , -2.5,  0. ,  5. , 10. ], dtype=float32)
    """
    return ops.relu(
        _float_tensor(x), negative_slope=negative_slope, max_value=max_value, threshold=threshold
    )


def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope * x`` (Keras 3 default 0.2)."""
    return ops.leaky_relu(_float_tensor(x), negative_slope=negative_slope)


def elu(x, alpha=1.0) -> Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return ops.elu(_float_tensor(x), alpha=alpha)


def selu(x) -> Tensor:
    """Scaled ELU: ``scale * elu(x, alpha)``, ``alpha ~ 1.67326``, ``scale ~ 1.05070``."""
    return ops.selu(_float_tensor(x))


def sigmoid(x) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return ops.sigmoid(_float_tensor(x))


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return ops.tanh(_float_tensor(x))


def silu(x) -> Tensor:
    """Swish / SiLU: ``x * sigmoid(x)`` (``swish`` is the same function)."""
    return ops.silu(_float_tensor(x))


swish = silu


def gelu(x, approximate=False) -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; exact (erf) unless ``approximate`` (tanh)."""
    return ops.gelu(_float_tensor(x), approximate=approximate)


def softmax(x, axis=-1) -> Tensor:
    """Softmax along ``axis``; a last-axis softmax records its logits for the losses.

    Args:
        x: input Tensor or array (logits).
        axis: the axis that sums to one.

    Returns:
        Tensor of ``x``'s shape; along the last axis, ``out._keras_logits`` is ``x``.
    """
    x = _float_tensor(x)
    out = ops.softmax(x, axis=axis)
    if axis == -1 or axis == x.ndim - 1:
        out._keras_logits = x
    return out


def linear(x) -> Tensor:
    """The identity (Keras's ``"linear"`` activation, also what ``None`` means)."""
    return _float_tensor(x)


_BY_NAME: dict[str, Callable] = {
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "linear": linear,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,  # Keras 3 alias
}


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Could not interpret activation function identifier: {identifier!r}. "
        f"Expected one of {sorted(_BY_NAME)}"
    )


def get(identifier) -> Callable:
    """Resolve an activation: ``None`` -> ``linear``, a name -> the function, a callable as is.

    Raises:
        ValueError: for an unknown name or a non-callable object.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise _unknown(identifier)
        return _BY_NAME[identifier]
    if callable(identifier):
        return identifier
    raise _unknown(identifier)


def serialize(activation: Callable) -> str:
    """The name of an activation function (``swish`` serialises as ``"silu"``, like Keras)."""
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(
            "Cannot serialize an activation without a `__name__`. "
            f"Received: activation={activation!r}"
        )
    return name


def deserialize(name: str) -> Callable:
    """The activation function registered under ``name``; raises ValueError if unknown."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise _unknown(name)
    return _BY_NAME[name]
