"""Attention layers: ``MultiHeadAttention``, ``GroupedQueryAttention``, ``Attention``,
``AdditiveAttention``.

Scaled dot-product attention (Vaswani et al., 2017, https://arxiv.org/abs/1706.03762), per
head, with ``q`` (T, d), ``k`` (S, d), ``v`` (S, d_v)::

    scores = softmax(q kᵀ / sqrt(d) + (1 - mask) * -1e9)     (T, S), masked entries -> 0
    out    = dropout(scores) v                               (T, d_v)

The query, key and value of the multi-head layers are ``EinsumDense`` projections to
``(batch, steps, heads, dim)``; the heads' outputs are projected back by ``attention_output``.
Masks combine as in Keras: the query's timestep mask ``(B, T, 1)``, the value's and the
key's ``(B, 1, S)``, a causal mask ``(1, T, S)`` and ``attention_mask`` ``(B, T, S)`` are
and-ed together.
"""

from __future__ import annotations

import math
import string

import numpy as np

from cnnkit import backend, constraints, initializers, regularizers
from cnnkit.autodiff import Tensor
from cnnkit.backend import xp
from cnnkit.kernels import activations as act_ops
from cnnkit.kernels import attention as attention_ops
from cnnkit.kernels import shape as shape_ops
from cnnkit.layers._shapes import require_rank
from cnnkit.layers.base import NOT_GIVEN, Layer
from cnnkit.layers.core import _serialize_callable
from cnnkit.layers.einsum_dense import EinsumDense


def _letters(n: int, start: int = 0) -> str:
    return string.ascii_lowercase[start : start + n]


def projection_equation(free_dims: int, bound_dims: int, output_dims: int):
    """``(equation, bias_axes, output_rank)`` of a projection keeping ``free_dims`` axes.

    The last ``bound_dims`` input axes are contracted with the kernel, which adds
    ``output_dims`` axes: ``(3, 1, 2)`` gives ``"abc,cde->abde"`` with bias over ``"de"``.
    """
    free = _letters(free_dims)
    bound = _letters(bound_dims, free_dims)
    out = _letters(output_dims, free_dims + bound_dims)
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def attention_equations(rank: int, attention_axes: tuple):
    """The score and combine einsums of projected tensors of ``rank`` (Keras's layout).

    Projected tensors are ``(batch, <other axes>, <attention axes>, heads, dim)``; scores
    are ``(batch, <other axes>, heads, <query attention axes>, <key attention axes>)``.

    Returns:
        ``(score_equation, combine_equation, scores_rank)``; the score einsum takes the key
        first, then the query.
    """
    target = _letters(rank)
    batch = [i for i in range(rank - 1) if i not in attention_axes]
    source, extra = "", rank
    for i in range(rank):
        if i in batch or i == rank - 1:
            source += target[i]
        else:
            source += _letters(1, extra)
            extra += 1
    product = "".join(
        [target[i] for i in batch]
        + [target[i] for i in attention_axes]
        + [source[i] for i in attention_axes]
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def causal_mask(t: int, s: int):
    """``(1, T, S)`` booleans, true where the key step is not after the query step."""
    return xp.tril(xp.ones((t, s), dtype=bool))[None]


def sliding_window_mask(t: int, s: int, window: int):
    """``(1, T, S)`` booleans, true where ``|query step - key step| < window``."""
    return (xp.abs(xp.arange(t)[:, None] - xp.arange(s)[None, :]) < window)[None]


def _as_mask(value, name: str):
    if value is None:
        return None
    arr = xp.asarray(value.data if isinstance(value, Tensor) else value)
    return arr.astype(bool)


def _positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a positive integer"
            f"{' or `None`' if allow_none else ''}. Received: {name}={value}"
        )
    return int(value)


def _rate(value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(
            f"Invalid value for argument `dropout`. Expected a float in [0, 1). "
            f"Received: dropout={value!r}"
        )
    return float(value)


class _QKVCall:
    """``layer(query, value, key=None, ...)``: the three tensors travel as one list input.

    Keras's signature is kept; inside cnnkit's graph the call is recorded (and replayed from
    a saved model) as ``layer([query, value(, key)], **kwargs)``.
    """

    _takes_query_value_key = True  # a saved call with 2 or 3 arguments is replayed as a list

    def __call__(self, query, value=None, key=None, training=NOT_GIVEN, **kwargs):
        if value is None:
            if not isinstance(query, (list, tuple)) or len(query) not in (2, 3):
                raise TypeError(
                    f"{type(self).__name__} needs `query` and `value` tensors (and an optional "
                    f"`key`): call it as layer(query, value). Received only {type(query)}."
                )
            inputs = list(query)
        else:
            inputs = [query, value] + ([key] if key is not None else [])
        return Layer.__call__(self, inputs, training=training, **kwargs)

    def get_build_config(self):
        """Keras's build config of a query/value/key layer: the shapes by argument name."""
        config = Layer.get_build_config(self)
        if config is None:
            return None
        return {"shapes_dict": dict(zip(_QKV_SHAPES, config["input_shape"]))}

    def build_from_config(self, config) -> None:
        """Build from Keras's ``{"shapes_dict": {"query_shape": ..., "value_shape": ...}}``."""
        shapes = config.get("shapes_dict") if isinstance(config, dict) else None
        if not isinstance(shapes, dict) or "query_shape" not in shapes:
            return Layer.build_from_config(self, config)
        self._maybe_build(
            [tuple(None if d is None else int(d) for d in shapes[k]) for k in _QKV_SHAPES
             if shapes.get(k) is not None]
        )  # fmt: skip


_QKV_SHAPES = ("query_shape", "value_shape", "key_shape")


class MultiHeadAttention(_QKVCall, Layer):
    """Multi-head attention (Vaswani et al., 2017): ``num_heads`` dot-product attentions.

    ``query`` ``(B, T, dim)`` attends to ``value`` ``(B, S, dim_v)`` (and ``key``, default
    ``value``): each is projected to ``(B, steps, num_heads, key_dim)`` (values to
    ``value_dim``), scores ``softmax(q kᵀ / sqrt(key_dim))`` of shape ``(B, num_heads, T,
    S)`` weight the values, and the heads are projected to the output (``query``'s last size,
    or ``output_shape``). Inputs of higher rank attend over ``attention_axes``.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head of query and key.
        value_dim: size of each head of value (default ``key_dim``).
        dropout: dropout rate on the attention scores (training only).
        use_bias: whether the projections have biases.
        output_shape: size(s) of the output's trailing axes (default: the query's last size).
        attention_axes: axes attended over (default: every axis but batch, heads, features).
        sliding_window: optional int; each query step attends to key steps less than this far.
        flash_attention: accepted for compatibility; the same result is computed.
        kernel_initializer, bias_initializer: the projections' initializers.
        kernel_regularizer, bias_regularizer, activity_regularizer: optional penalties.
        kernel_constraint, bias_constraint: constraints applied to the projections' kernels
            and biases after each optimizer step.
        use_gate: whether a sigmoid gate (a projection of the query) multiplies the heads.
        seed: seed of the dropout.

    Call arguments:
        query: ``(B, T, dim)``; value: ``(B, S, dim_v)``; key: optional ``(B, S, dim_k)``.
        attention_mask: optional boolean ``(B, T, S)``; ``False`` blocks attention.
        return_attention_scores: whether to return ``(output, scores)``.
        training: whether dropout is active.
        use_causal_mask: whether step ``t`` attends only to steps ``<= t``.
        query_mask, value_mask, key_mask: boolean ``(B, T)``/``(B, S)`` masks; by default the
            inputs' timestep masks (e.g. from ``Embedding(mask_zero=True)``).

    Output shape:
        ``(B, T, dim)`` (or ``(B, T, *output_shape)``), and with ``return_attention_scores``
        the scores ``(B, num_heads, T, S)``. The query's mask is the output's mask.

    Raises:
        ValueError: invalid ``num_heads``, ``key_dim``, ``value_dim``, ``dropout``,
            ``attention_axes``; key and value of different steps.

    Example:
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = np.ones((3, 5, 8), "float32")
        >>> out, scores = mha(x, x, return_attention_scores=True)
        >>> out.shape, scores.shape
        ((3, 5, 8), (3, 2, 5, 5))
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        self._num_heads = _positive_int(num_heads, "num_heads")
        self._key_dim = _positive_int(key_dim, "key_dim")
        self._value_dim = _positive_int(value_dim, "value_dim", allow_none=True) or key_dim
        super().__init__(**kwargs)
        self.supports_masking = True
        self._dropout = _rate(dropout)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        if output_shape:
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Invalid `output_shape`: {output_shape}. When specified, the "
                    "`output_shape` should be of type tuple, list, or int."
                ) from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(
                "`attention_axes` must be an int, list, or tuple. "
                f"Received: attention_axes={attention_axes}"
            )
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        self._sliding_window = _positive_int(sliding_window, "sliding_window", allow_none=True)
        self._flash_attention = bool(flash_attention)
        if self._flash_attention and self._dropout > 0.0:
            raise ValueError(
                "Dropout is not supported when flash attention is enabled. "
                "Please set dropout to 0.0 to use flash attention."
            )
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self._projections: list[Layer] = []

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _sublayers(self) -> list[Layer]:
        return list(self._projections)

    def _saved_sublayers(self) -> list[tuple[str, Layer]]:
        """The projections under Keras's names in a weights file (``query_dense``...)."""
        names = {"query": "query_dense", "key": "key_dense", "value": "value_dense"}
        names.update(attention_output="output_dense", gate="_gate_dense")
        return sorted(((names[p.name], p) for p in self._projections), key=lambda c: c[0])

    # -- build -----------------------------------------------------------------------
    def _dense(self, equation, output_shape, bias_axes, name, input_shape, activation=None):
        layer = EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self._use_bias else None,
            activation=activation,
            kernel_initializer=initializers.get(initializers.serialize(self._kernel_initializer)),
            bias_initializer=initializers.get(initializers.serialize(self._bias_initializer)),
            kernel_regularizer=self._kernel_regularizer,
            bias_regularizer=self._bias_regularizer,
            activity_regularizer=self._activity_regularizer,
            kernel_constraint=self._kernel_constraint,
            bias_constraint=self._bias_constraint,
            dtype=self.dtype,
            name=name,
        )
        layer.build(tuple(input_shape))
        layer.built = True
        for w in layer._weights:  # Keras's variable paths: "<this layer>/<projection>/<name>"
            w.path = f"{self.name}/{w.path}"
        self._projections.append(layer)
        return layer

    def build(self, input_shape):
        query_shape, value_shape, key_shape = _qkv_shapes(self, input_shape)
        q_rank, v_rank, k_rank = len(query_shape), len(value_shape), len(key_shape)
        heads = self._num_heads

        def proj(rank, dim):
            eq, bias_axes, out_rank = projection_equation(rank - 1, 1, 2)
            return eq, [None] * (out_rank - 3) + [heads, dim], bias_axes

        self._projections = []
        self._query_dense = self._dense(*proj(q_rank, self._key_dim), "query", query_shape)
        self._key_dense = self._dense(*proj(k_rank, self._key_dim), "key", key_shape)
        self._gate_dense = None
        if self._use_gate:
            self._gate_dense = self._dense(
                *proj(q_rank, self._value_dim), "gate", query_shape, activation="sigmoid"
            )
        self._value_dense = self._dense(*proj(v_rank, self._value_dim), "value", value_shape)
        rank = v_rank + 1  # of the projected tensors
        axes = self._attention_axes
        if axes is None:
            axes = tuple(range(1, rank - 2))
        self._attention_axes = tuple(a if a >= 0 else (rank - 1) + a for a in axes)
        if any(not 1 <= a < rank - 2 for a in self._attention_axes):
            raise ValueError(
                f"Invalid `attention_axes` {axes} for inputs of rank {v_rank}: expected axes "
                f"between 1 and {v_rank - 2}."
            )
        self._dot_product_equation, self._combine_equation, scores_rank = attention_equations(
            rank, self._attention_axes
        )
        n = len(self._attention_axes)
        self._norm_axes = tuple(range(scores_rank - n, scores_rank))
        out_shape = self._output_shape or (query_shape[-1],)
        eq, bias_axes, out_rank = projection_equation(q_rank - 1, 2, len(out_shape))
        projected = (*query_shape[:-1], heads, self._value_dim)
        self._output_dense = self._dense(
            eq,
            [None] * (out_rank - 1 - len(out_shape)) + list(out_shape),
            bias_axes,
            "attention_output",
            projected,
        )
        self.built = True

    # -- call ------------------------------------------------------------------------
    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        query_mask=None,
        value_mask=None,
        key_mask=None,
    ):
        query, value, key = _unpack(inputs)
        masks = list(mask) if isinstance(mask, (list, tuple)) else [mask, None, None]
        masks += [None] * (3 - len(masks))
        query_mask = _as_mask(query_mask if query_mask is not None else masks[0], "query_mask")
        value_mask = _as_mask(value_mask if value_mask is not None else masks[1], "value_mask")
        key_mask = _as_mask(key_mask if key_mask is not None else masks[2], "key_mask")
        if self._flash_attention and return_attention_scores:
            raise ValueError(
                "Returning attention scores is not supported when flash attention is enabled. "
                "Please disable flash attention to access attention scores."
            )
        attention_mask = self._attention_mask(
            query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        gate = self._gate_dense(query) if self._gate_dense is not None else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        out, scores = self._compute_attention(q, k, v, attention_mask, training)
        if gate is not None:
            out = out * gate
        out = self._output_dense(out)
        if return_attention_scores:
            return out, scores
        return out

    def _attention_mask(self, query, value, q_mask, v_mask, k_mask, mask, causal):
        """The and of every mask given, broadcastable to ``(B, T, S)`` (``None``: no mask)."""
        t, s = query.shape[1], value.shape[1]
        parts = []
        if q_mask is not None:
            parts.append(q_mask[..., None])
        if v_mask is not None:
            parts.append(v_mask[..., None, :])
        if k_mask is not None:
            parts.append(k_mask[..., None, :])
        if causal:
            parts.append(causal_mask(t, s))
        if getattr(self, "_sliding_window", None) is not None:
            parts.append(sliding_window_mask(t, s, self._sliding_window))
        if mask is not None:
            parts.append(_as_mask(mask, "attention_mask"))
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out = out & part
        return out

    def _compute_attention(self, q, k, v, attention_mask, training):
        """``(output, scores)`` of projected ``q`` (B, T, N, d), ``k``, ``v`` (B, S, N, d)."""
        q = q * q.dtype.type(self._inverse_sqrt_key_dim)
        fast = q.ndim == 4 and self._attention_axes == (1,)
        if fast:  # batched matrix products, (B, N, T, d) @ (B, N, d, S)
            scores = attention_ops.transpose(q, (0, 2, 1, 3)) @ attention_ops.transpose(
                k, (0, 2, 3, 1)
            )
        else:
            scores = attention_ops.einsum(self._dot_product_equation, k, q)
        if attention_mask is not None:
            n = len(self._attention_axes)
            while attention_mask.ndim < scores.ndim:
                attention_mask = xp.expand_dims(attention_mask, -2 * n - 1)
        scores = attention_ops.masked_softmax(scores, attention_mask, axis=self._norm_axes)
        weights = scores
        if training and self._dropout > 0:
            weights = shape_ops.dropout(scores, self._dropout, self._rng or backend.rng())
        if fast:
            out = weights @ attention_ops.transpose(v, (0, 2, 1, 3))  # (B, N, T, d_v)
            out = attention_ops.transpose(out, (0, 2, 1, 3))
        else:
            out = attention_ops.einsum(self._combine_equation, weights, v)
        return out, scores

    # -- shapes and config -----------------------------------------------------------
    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            query_shape, value_shape, key_shape = _qkv_shapes(self, query_shape)
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                "All dimensions of `value` and `key`, except the last one, must be equal. "
                f"Received: value_shape={value_shape} and key_shape={key_shape}"
            )
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def _scores_shape(self, shapes) -> tuple:
        query_shape, value_shape, _ = _qkv_shapes(self, shapes)
        axes = self._attention_axes or tuple(range(1, len(value_shape) - 1))
        other = [query_shape[i] for i in range(1, len(query_shape) - 1) if i not in axes]
        return (
            query_shape[0],
            *other,
            self._num_heads,
            *[query_shape[a] for a in axes],
            *[value_shape[a] for a in axes],
        )

    def _symbolic_output_shape(self, inputs, shapes, kwargs, args=()):
        out = self.compute_output_shape(shapes)
        if kwargs.get("return_attention_scores"):
            return [out, self._scores_shape(shapes)]
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": _serialize_callable(self._kernel_regularizer),
            "bias_regularizer": _serialize_callable(self._bias_regularizer),
            "activity_regularizer": _serialize_callable(self._activity_regularizer),
            "kernel_constraint": _serialize_callable(self._kernel_constraint),
            "bias_constraint": _serialize_callable(self._bias_constraint),
            "seed": self.seed,
        }


def _unpack(inputs):
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    return query, value, key


def _qkv_shapes(layer: Layer, shapes):
    """``(query_shape, value_shape, key_shape)`` from the list of input shapes."""
    if (
        not isinstance(shapes, (list, tuple))
        or len(shapes) not in (2, 3)
        or not all(isinstance(s, (list, tuple)) for s in shapes)
    ):
        raise ValueError(
            f"{type(layer).__name__} expects the shapes of [query, value] or [query, value, key]. "
            f"Received: {shapes!r}"
        )
    query_shape = require_rank(layer, shapes[0], minimum=3)
    value_shape = require_rank(layer, shapes[1], minimum=3)
    key_shape = require_rank(layer, shapes[2], minimum=3) if len(shapes) > 2 else value_shape
    if value_shape[1:-1] != key_shape[1:-1]:
        raise ValueError(
            "All dimensions of `value` and `key`, except the last one, must be equal. "
            f"Received: value_shape={value_shape} and key_shape={key_shape}"
        )
    return query_shape, value_shape, key_shape


class GroupedQueryAttention(MultiHeadAttention):
    """Grouped-query attention (Ainslie et al., 2023, https://arxiv.org/abs/2305.13245).

    Like ``MultiHeadAttention`` with ``num_query_heads`` query heads, but only
    ``num_key_value_heads`` key and value heads, each shared by ``num_query_heads //
    num_key_value_heads`` consecutive query heads. The output has the query's last size.

    Args:
        head_dim: size of each head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads (divides ``num_query_heads``).
        dropout, use_bias, sliding_window, flash_attention, kernel_initializer,
            bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer,
            kernel_constraint, bias_constraint, use_gate, seed: as ``MultiHeadAttention``.

    Call arguments:
        as ``MultiHeadAttention``; inputs are ``(B, steps, dim)``.

    Output shape:
        ``(B, T, dim)``, and with ``return_attention_scores`` ``(B, num_query_heads, T, S)``.

    Raises:
        ValueError: ``num_query_heads`` not divisible by ``num_key_value_heads``.

    Example:
        >>> gqa = GroupedQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
        >>> gqa(np.ones((2, 3, 8), "float32"), np.ones((2, 5, 8), "float32")).shape
        (2, 3, 8)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(
        self,
        head_dim,
        num_query_heads,
        num_key_value_heads,
        dropout=0.0,
        use_bias=True,
        sliding_window=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate=False,
        seed=None,
        **kwargs,
    ):
        _positive_int(num_key_value_heads, "num_key_value_heads")
        _positive_int(num_query_heads, "num_query_heads")
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError(
                "`num_query_heads` must be divisible by `num_key_value_heads`. Received: "
                f"num_query_heads={num_query_heads}, num_key_value_heads={num_key_value_heads}"
            )
        super().__init__(
            num_heads=num_query_heads,
            key_dim=head_dim,
            dropout=dropout,
            use_bias=use_bias,
            sliding_window=sliding_window,
            flash_attention=flash_attention,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            use_gate=use_gate,
            seed=seed,
            **kwargs,
        )
        self.head_dim = int(head_dim)
        self.num_query_heads = int(num_query_heads)
        self.num_key_value_heads = int(num_key_value_heads)
        self.num_repeats = num_query_heads // num_key_value_heads

    def build(self, input_shape):
        query_shape, value_shape, key_shape = _qkv_shapes(self, input_shape)
        for name, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"GroupedQueryAttention expects {name} of rank 3 (batch, steps, features). "
                    f"Received shape {shape}."
                )
        d, nq, nkv = self.head_dim, self.num_query_heads, self.num_key_value_heads
        self._projections = []
        self._query_dense = self._dense("bqm,muh->bquh", (None, nq, d), "uh", "query", query_shape)
        self._key_dense = self._dense("bkm,mvh->bkvh", (None, nkv, d), "vh", "key", key_shape)
        self._gate_dense = None
        if self._use_gate:
            self._gate_dense = self._dense(
                "bqm,muh->bquh", (None, nq, d), "uh", "gate", query_shape, activation="sigmoid"
            )
        self._value_dense = self._dense("bkm,mvh->bkvh", (None, nkv, d), "vh", "value", value_shape)
        self._attention_axes = (1,)
        self._dot_product_equation = "bkuh,bquh->buqk"
        self._combine_equation = "buqk,bkuh->bquh"
        self._norm_axes = (3,)
        self._output_dense = self._dense(
            "bquh,uhm->bqm",
            (None, query_shape[-1]),
            "m",
            "attention_output",
            (None, None, nq, d),
        )
        self.built = True

    def _compute_attention(self, q, k, v, attention_mask, training):
        k = attention_ops.repeat(k, self.num_repeats, axis=2)
        v = attention_ops.repeat(v, self.num_repeats, axis=2)
        return super()._compute_attention(q, k, v, attention_mask, training)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            query_shape, value_shape, key_shape = _qkv_shapes(self, query_shape)
        return tuple(query_shape)

    def get_config(self):
        config = Layer.get_config(self)
        return {
            **config,
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self._use_bias,
            "use_gate": self._use_gate,
            "dropout": self._dropout,
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": _serialize_callable(self._kernel_regularizer),
            "bias_regularizer": _serialize_callable(self._bias_regularizer),
            "activity_regularizer": _serialize_callable(self._activity_regularizer),
            "kernel_constraint": _serialize_callable(self._kernel_constraint),
            "bias_constraint": _serialize_callable(self._bias_constraint),
            "seed": self.seed,
        }


GroupQueryAttention = GroupedQueryAttention


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or ``[query, value, key]``.

    ``scores = query @ keyᵀ`` (times a learned scalar with ``use_scale``), or with
    ``score_mode="concat"`` ``scores = c * sum(tanh(scale * (query + key)))``;
    ``output = softmax(scores) @ value``. The value's mask hides key steps (their scores are
    lowered by ``1e9``); the query's mask zeroes output steps.

    Args:
        use_scale: whether to learn a scalar ``scale`` multiplying the scores.
        score_mode: ``"dot"`` or ``"concat"``.
        dropout: dropout rate on the attention weights (training only).
        seed: seed of the dropout.

    Call arguments:
        inputs: ``[query (B, Tq, dim), value (B, Tv, dim)]`` and optionally ``key``
            ``(B, Tv, dim)`` (default ``value``).
        mask: optional ``[query_mask (B, Tq), value_mask (B, Tv)]``.
        return_attention_scores: whether to return ``(output, scores)`` too.
        training: whether dropout is active.
        use_causal_mask: whether query step ``i`` attends only to value steps ``<= i``.

    Output shape:
        ``(B, Tq, dim)`` (and scores ``(B, Tq, Tv)``).

    Raises:
        ValueError: an unknown ``score_mode``; inputs that are not a list of 2 or 3 tensors.

    Example:
        >>> q = np.array([[[1.0, 0.0]]], "float32")
        >>> v = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
        >>> Attention()([q, v]).numpy().round(3)
        array([[[0.731, 0.269]]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                "Invalid value for argument score_mode. Expected one of {'dot', 'concat'}. "
                f"Received: score_mode={score_mode}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = _rate(dropout)
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.supports_masking = True

    def build(self, input_shape):
        _check_attention_inputs(self, input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = query @ attention_ops.transpose(key, (0, 2, 1))
            return scores * self.scale if self.scale is not None else scores
        q = query.reshape((*query.shape[:-1], 1, query.shape[-1]))
        k = key.reshape((key.shape[0], 1, *key.shape[1:]))
        summed = q + k if self.scale is None else (q + k) * self.scale
        return self.concat_score_weight * act_ops.tanh(summed).sum(axis=-1)

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        _check_attention_inputs(self, inputs, mask)
        query, value, key = _unpack(inputs)
        q_mask = _as_mask(mask[0], "mask") if mask else None
        v_mask = _as_mask(mask[1], "mask") if mask else None
        scores = self._calculate_scores(query, key)
        keep = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            causal = causal_mask(scores.shape[-2], scores.shape[-1])
            keep = causal if keep is None else keep & causal
        if keep is not None:  # masked scores lowered by 1e9 (Keras's `where`, no zeroing)
            big = 65504.0 if scores.dtype == xp.float16 else 1.0e9
            scores = scores - (~keep).astype(scores.dtype) * scores.dtype.type(big)
        weights = act_ops.softmax(scores, axis=-1)
        applied = weights
        if training and self.dropout > 0:
            applied = shape_ops.dropout(weights, self.dropout, self._rng or backend.rng())
        out = applied @ value
        if q_mask is not None:
            out = out * q_mask[..., None].astype(out.dtype)
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, mask=None):
        if not mask or mask[0] is None:
            return None
        return _as_mask(mask[0], "mask")

    def compute_output_shape(self, input_shape):
        _check_attention_inputs(self, input_shape)
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])

    def _symbolic_output_shape(self, inputs, shapes, kwargs, args=()):
        out = self.compute_output_shape(shapes)
        if kwargs.get("return_attention_scores"):
            key = shapes[2] if len(shapes) > 2 else shapes[1]
            return [out, (*tuple(shapes[0])[:-1], key[-2])]
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
            "seed": self.seed,
        }


def _check_attention_inputs(layer: Layer, inputs, mask=None) -> None:
    name = type(layer).__name__
    if not isinstance(inputs, list):
        raise ValueError(
            f"{name} layer must be called on a list of inputs, namely [query, value] or "
            f"[query, value, key]. Received: inputs={inputs}."
        )
    if len(inputs) < 2 or len(inputs) > 3:
        raise ValueError(
            f"{name} layer accepts inputs list of length 2 or 3, namely [query, value] or "
            f"[query, value, key]. Received length: {len(inputs)}."
        )
    for x in inputs:
        require_rank(layer, getattr(x, "shape", x), exact=3)
    if mask is not None:
        if not isinstance(mask, list) or len(mask) < 2 or len(mask) > 3:
            raise ValueError(
                f"{name} layer mask must be a list of length 2 or 3, namely [query_mask, "
                f"value_mask]. Received: mask={mask}."
            )


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention over ``[query, value]`` or ``[query, value, key]``.

    ``scores[t, s] = sum(scale * tanh(query[t] + key[s]))`` with a learned ``scale`` of the
    feature size (or 1 without ``use_scale``); then as ``Attention``.

    Args:
        use_scale: whether to learn the per-feature ``scale`` (glorot-uniform initialised).
        dropout: dropout rate on the attention weights (training only).

    Call arguments, output shape:
        as ``Attention``.

    Example:
        >>> q = np.zeros((1, 1, 2), "float32")
        >>> v = np.array([[[1.0, 0.0], [0.0, 1.0]]], "float32")
        >>> AdditiveAttention(use_scale=False)([q, v]).numpy().round(3)
        array([[[0.5, 0.5]]], dtype=float32)
    """

    samplewise = True  # each output sample depends on its input sample alone

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        _check_attention_inputs(self, input_shape)
        self.scale = None
        if self.use_scale:
            self.scale = self.add_weight((input_shape[0][-1],), "glorot_uniform", name="scale")
        self.built = True

    def _calculate_scores(self, query, key):
        q = query.reshape((*query.shape[:-1], 1, query.shape[-1]))
        k = key.reshape((key.shape[0], 1, *key.shape[1:]))
        t = act_ops.tanh(q + k)
        return (t * self.scale if self.scale is not None else t).sum(axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
