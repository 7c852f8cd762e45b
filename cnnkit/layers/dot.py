"""``Dot``: the dot product of two batches of tensors along one axis of each."""

from __future__ import annotations

import string

from cnnkit.kernels import attention as attention_ops
from cnnkit.kernels import feature_norm as fn_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import Layer


def batch_dot_equation(x_ndim: int, y_ndim: int, axes) -> str:
    """The einsum of Keras's ``batch_dot``: axis 0 shared, ``axes[0]`` of x with ``axes[1]`` of y.

    Example:
        >>> batch_dot_equation(3, 3, (2, 2))
        'abc,adc->abd'
    """
    letters = iter(string.ascii_lowercase[1:])
    x = ["a"] + [next(letters) for _ in range(x_ndim - 1)]
    y = ["a"] + [next(letters) for _ in range(y_ndim - 1)]
    y[axes[1]] = x[axes[0]]
    out = [c for i, c in enumerate(x) if i != axes[0]] + [
        c for i, c in enumerate(y) if i not in (0, axes[1])
    ]
    return f"{''.join(x)},{''.join(y)}->{''.join(out)}"


class Dot(Layer):
    """Dot product of two inputs ``[x, y]`` along an axis of each, sample by sample.

    ``out[b, ...] = sum_k x[b, ..., k, ...] * y[b, ..., k, ...]``: the remaining axes of
    ``x`` then those of ``y`` (a rank-1 result becomes ``(batch, 1)``). With ``normalize``
    both are L2-normalised along the axes first: the output is their cosine similarity.

    Args:
        axes: int, or a pair of ints (one axis of each input; never the batch axis 0).
        normalize: whether to L2-normalise the inputs along ``axes`` first.

    Input shape:
        a list of two tensors whose ``axes`` have the same size.
    Output shape:
        ``(batch, *x_rest, *y_rest)``, at least ``(batch, 1)``.

    Raises:
        TypeError, ValueError: malformed ``axes``; sizes that differ (when built).

    Example:
        >>> x = np.arange(6, dtype="float32").reshape(1, 2, 3)
        >>> y = np.ones((1, 3, 2), "float32")
        >>> Dot(axes=(2, 1))([x, y]).numpy()
        array([[[ 3.,  3.],
                [12., 12.]]], dtype=float32)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(
                    "Invalid type for argument `axes`: it should be a list or an int. "
                    f"Received: axes={axes}"
                )
            if len(axes) != 2:
                raise ValueError(
                    "Invalid format for argument `axes`: it should contain two elements. "
                    f"Received: axes={axes}"
                )
            if not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    "Invalid format for argument `axes`: list elements should be integers. "
                    f"Received: axes={axes}"
                )
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _axes(self, shapes) -> tuple[int, int]:
        ranks = [len(require_rank(self, s, minimum=2)) for s in shapes]
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        axes = tuple(a % r if a < 0 else a for a, r in zip(pair, ranks))
        if 0 in axes or any(a >= r for a, r in zip(axes, ranks)):
            raise ValueError(
                f"Invalid `axes` {self.axes} for inputs of shapes {shapes}: each must be a "
                "non-batch axis of its input."
            )
        return axes

    def build(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on a list of 2 inputs. "
                f"Received: input_shape={input_shape}"
            )
        a0, a1 = self._axes(input_shape)
        s1, s2 = input_shape
        if s1[a0] is not None and s2[a1] is not None and s1[a0] != s2[a1]:
            raise ValueError(
                f"Incompatible input shapes: axis values {s1[a0]} (at axis {a0}) != "
                f"{s2[a1]} (at axis {a1}). Full input shapes: {tuple(s1)}, {tuple(s2)}"
            )
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on exactly 2 inputs. Received: inputs={inputs}"
            )
        x, y = inputs
        axes = self._axes([x.shape, y.shape])
        if self.normalize:
            x = fn_ops.l2_normalize(x, axis=axes[0], epsilon=1e-7)
            y = fn_ops.l2_normalize(y, axis=axes[1], epsilon=1e-7)
        out = attention_ops.einsum(batch_dot_equation(x.ndim, y.ndim, axes), x, y)
        return out.reshape((out.shape[0], 1)) if out.ndim == 1 else out

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on a list of 2 inputs. "
                f"Received: input_shape={input_shape}"
            )
        a0, a1 = self._axes(input_shape)
        s1 = [d for i, d in enumerate(input_shape[0]) if i != a0]
        s2 = [d for i, d in enumerate(input_shape[1]) if i not in (0, a1)]
        out = s1 + s2
        return tuple(out + [1] if len(out) == 1 else out)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}
