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
from cnnkit.kernels import activations_extra as extra

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
    "softplus",
    "softsign",
    "relu6",
    "mish",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "hard_shrink",
    "soft_shrink",
    "tanh_shrink",
    "log_sigmoid",
    "log_softmax",
    "celu",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "glu",
    "threshold",
    "exponential",
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


def softplus(x) -> Tensor:
    """Softplus ``log(1 + exp(x))``, computed without overflow.

    Example:
        >>> softplus([0.0]).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    return extra.softplus(_float_tensor(x))


def softsign(x) -> Tensor:
    """Softsign ``x / (1 + |x|)``."""
    return extra.softsign(_float_tensor(x))


def relu6(x) -> Tensor:
    """ReLU capped at 6: ``min(max(x, 0), 6)``."""
    return extra.relu6(_float_tensor(x))


def mish(x) -> Tensor:
    """Mish ``x * tanh(softplus(x))`` (Misra, 2019)."""
    return extra.mish(_float_tensor(x))


def hard_sigmoid(x) -> Tensor:
    """Piecewise-linear sigmoid ``relu6(x + 3) / 6`` (Keras 3's definition).

    Example:
        >>> hard_sigmoid([-4.0, 0.0, 1.5]).numpy()
        array([0.  , 0.5 , 0.75], dtype=float32)
    """
    return extra.hard_sigmoid(_float_tensor(x))


def hard_silu(x) -> Tensor:
    """Hard SiLU / hard swish ``x * relu6(x + 3) / 6`` (``hard_swish`` is the same function)."""
    return extra.hard_silu(_float_tensor(x))


hard_swish = hard_silu


def hard_tanh(x) -> Tensor:
    """``clip(x, -1, 1)``."""
    return extra.hard_tanh(_float_tensor(x))


def hard_shrink(x, threshold=0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, 0 elsewhere."""
    return extra.hard_shrink(_float_tensor(x), threshold=threshold)


def soft_shrink(x, threshold=0.5) -> Tensor:
    """Soft thresholding: ``x - threshold`` above it, ``x + threshold`` below ``-threshold``."""
    return extra.soft_shrink(_float_tensor(x), threshold=threshold)


def tanh_shrink(x) -> Tensor:
    """``x - tanh(x)``."""
    return extra.tanh_shrink(_float_tensor(x))


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x))``, stable for large ``|x|``."""
    return extra.log_sigmoid(_float_tensor(x))


def log_softmax(x, axis=-1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed stably (the max is removed)."""
    return extra.log_softmax(_float_tensor(x), axis=axis)


def celu(x, alpha=1.0) -> Tensor:
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return extra.celu(_float_tensor(x), alpha=alpha)


def squareplus(x, b=4) -> Tensor:
    """Squareplus ``(x + sqrt(x^2 + b)) / 2`` (So, 2021)."""
    return extra.squareplus(_float_tensor(x), b=b)


def sparse_plus(x) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1)^2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return extra.sparse_plus(_float_tensor(x))


def sparse_sigmoid(x) -> Tensor:
    """0 for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, 1 for ``x >= 1``."""
    return extra.sparse_sigmoid(_float_tensor(x))


def sparsemax(x, axis=-1) -> Tensor:
    """Sparsemax: the Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    Example:
        >>> sparsemax([[1.0, 0.5, -2.0]]).numpy()
        array([[0.75, 0.25, 0.  ]], dtype=float32)
    """
    return extra.sparsemax(_float_tensor(x), axis=axis)


def glu(x, axis=-1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the halves of ``x`` on ``axis``.

    Raises:
        ValueError: if the size of ``axis`` is odd.
    """
    return extra.glu(_float_tensor(x), axis=axis)


def threshold(x, threshold, default_value) -> Tensor:
    """``x`` where ``x > threshold``, ``default_value`` elsewhere (no defaults, as in Keras)."""
    return extra.threshold(_float_tensor(x), threshold=threshold, default_value=default_value)


def exponential(x) -> Tensor:
    """``exp(x)``."""
    return extra.exponential(_float_tensor(x))


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
    "softplus": softplus,
    "softsign": softsign,
    "relu6": relu6,
    "mish": mish,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,  # Keras 3 alias
    "hard_tanh": hard_tanh,
    "hard_shrink": hard_shrink,
    "soft_shrink": soft_shrink,
    "tanh_shrink": tanh_shrink,
    "log_sigmoid": log_sigmoid,
    "log_softmax": log_softmax,
    "celu": celu,
    "squareplus": squareplus,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "sparsemax": sparsemax,
    "glu": glu,
    "threshold": threshold,
    "exponential": exponential,
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
