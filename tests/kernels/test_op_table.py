"""Every op in one table: values against a reference, float64 gradient checks, float32 dtypes.

Adding an op means adding one :class:`OpCase` row to ``CASES``; the three tests below then run
on it, once with each kernel implementation (the NumPy kernels and the reference loops of
:mod:`cnnkit.kernels.reference_ops`, see :mod:`cnnkit.kernels.dispatch`). Inputs are drawn
away from kinks (ReLU at 0, MAE at y == p) and max-pool ties.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import activations as act
from cnnkit.kernels import activations_extra as extra_act
from cnnkit.kernels import (
    circle_loss,
    conv,
    dense,
    dispatch,
    losses,
    losses_extra,
    norm,
    pool,
    recurrent,
    resize,
    shape,
)
from tests.harness import gradcheck
from tests.kernels import reference as ref
from tests.kernels import test_recurrent as recurrent_ref

_erf = np.vectorize(math.erf)  # slow but independent of cnnkit's erf (and of SciPy)


@dataclass(frozen=True)
class OpCase:
    """One op under test.

    Attributes:
        name: test id.
        fn: maps input Tensors to one output Tensor (hyper-parameters bound).
        shapes: shapes of the inputs (used by the default input maker).
        reference: maps float64 input arrays to the expected output array.
        make_inputs: ``(rng, shapes) -> list of arrays``; default: standard normal floats.
        wrt: indices of the inputs to differentiate (default: every float input).
        rtol: tolerance of the float64 value check.
    """

    name: str
    fn: Callable
    shapes: tuple
    reference: Callable
    make_inputs: Callable | None = None
    wrt: tuple | None = None
    rtol: float = 1e-10

    def inputs(self, seed: int = 0) -> list:
        rng = np.random.default_rng(seed)
        if self.make_inputs is not None:
            return self.make_inputs(rng, self.shapes)
        return [rng.standard_normal(s) for s in self.shapes]

    def tensors(self, inputs) -> tuple[list, list]:
        """``inputs`` as Tensors, those in ``wrt`` (default: every float) as Variables."""
        wrt = self.wrt
        if wrt is None:
            wrt = [i for i, a in enumerate(inputs) if a.dtype.kind == "f"]
        return [Variable(a) if i in wrt else Tensor(a) for i, a in enumerate(inputs)], list(wrt)


# -- input makers --------------------------------------------------------------


def away_from(*kinks, lo=-3.0, hi=3.0, margin=0.05):
    """Uniform floats in [lo, hi) at least ``margin`` from every kink."""

    def make(rng, shapes):
        out = []
        for s in shapes:
            x = rng.uniform(lo, hi, size=s)
            while True:
                bad = np.zeros(x.shape, dtype=bool)
                for k in kinks:
                    bad |= np.abs(x - k) < margin
                if not bad.any():
                    break
                x[bad] = rng.uniform(lo, hi, size=int(bad.sum()))
            out.append(x)
        return out

    return make


def distinct(rng, shapes):
    """Values with gaps of at least 0.01: no max-pool ties, even after a 1e-6 nudge."""
    return [rng.permutation(math.prod(s)).reshape(s) * 0.01 - 0.5 for s in shapes]


def labels_and(kind, num_classes=5, batch=4):
    """(y_true, y_pred) for the cross-entropies; predictions avoid the clip."""

    def make(rng, shapes):
        labels = rng.integers(0, num_classes, size=batch)
        if kind == "sparse":
            y_true = labels
        elif kind == "onehot":
            y_true = np.eye(num_classes)[labels]
        else:  # soft targets that sum to one
            y_true = ref.softmax(rng.standard_normal((batch, num_classes)))
        return [y_true, rng.uniform(0.1, 1.0, size=(batch, num_classes))]

    return make


def binary_inputs(rng, shapes):
    return [rng.uniform(0.0, 1.0, size=shapes[0]), rng.uniform(0.05, 0.95, size=shapes[1])]


def binary_logit_inputs(rng, shapes):
    return [rng.uniform(0.0, 1.0, size=shapes[0]), 3 * rng.standard_normal(shapes[1])]


# -- references ------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def relu_general_ref(x, slope, ceiling, threshold):
    """Keras 3 relu for threshold >= 0: identity (capped) above the threshold, slope below."""
    return np.where(x > threshold, np.minimum(x, ceiling), slope * (x - threshold))


def gelu_exact_ref(x):
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def gelu_tanh_ref(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def dropout_ref(x, rate, seed):
    keep = np.random.default_rng(seed).random(x.shape, dtype=np.float32) < 1.0 - rate
    return np.where(keep, x / (1.0 - rate), 0.0)


def sparse_ce_ref(labels, y_pred, from_logits):
    if from_logits:
        log_p = ref.log_softmax(y_pred)
    else:
        log_p = np.log(y_pred / y_pred.sum(axis=-1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels]


def categorical_ce_ref(y_true, y_pred, from_logits):
    if from_logits:
        log_p = ref.log_softmax(y_pred)
    else:
        log_p = np.log(y_pred / y_pred.sum(axis=-1, keepdims=True))
    return -(y_true * log_p).sum(axis=-1)


def binary_ce_ref(y_true, y_pred, from_logits):
    p = ref.sigmoid(y_pred) if from_logits else y_pred
    return -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean(axis=-1)


def batch_norm_ref(x, mean, var, gamma, beta, axis, epsilon=1e-3):
    """``gamma * (x - mean) / sqrt(var + epsilon) + beta``, (C,) vectors broadcast on ``axis``."""
    shape = [1] * x.ndim
    shape[axis] = -1
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


def batch_norm_train_ref(x, gamma, beta, axis, epsilon=1e-3):
    """Normalise with the batch mean and the biased batch variance over every axis but ``axis``."""
    others = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    mean, var = x.mean(axis=others), x.var(axis=others)  # np.var: biased (ddof=0)
    return batch_norm_ref(x, mean, var, gamma, beta, axis, epsilon)


def _bn_train_case(name, shape_in, axis=-1, scale=True, center=True):
    """Training-mode batch norm: inputs x, then gamma if ``scale``, then beta if ``center``."""
    channels = shape_in[axis]

    def split(params):
        params = list(params)
        gamma = params.pop(0) if scale else None
        beta = params.pop(0) if center else None
        return gamma, beta

    def fn(x, *params):
        gamma, beta = split(params)
        return norm.batch_normalization_training(x, axis, offset=beta, scale=gamma)[0]

    def reference(x, *params):
        return batch_norm_train_ref(x, *split(params), axis)

    return OpCase(
        name=name,
        fn=fn,
        shapes=(shape_in, *[(channels,)] * (int(scale) + int(center))),
        reference=reference,
        rtol=1e-9,
    )


def _bn_inference_case(name, shape_in, axis=-1, scale=True, center=True):
    """Inference-mode batch norm: inputs x, mean, variance (> 0), then gamma, then beta."""
    channels = shape_in[axis]

    def make(rng, shapes):
        params = [rng.standard_normal(channels) for _ in range(int(scale) + int(center))]
        stats = [rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels)]
        return [rng.standard_normal(shape_in), *stats, *params]

    def split(params):
        params = list(params)
        gamma = params.pop(0) if scale else None
        beta = params.pop(0) if center else None
        return gamma, beta

    def fn(x, mean, var, *params):
        gamma, beta = split(params)
        return norm.batch_normalization(x, mean, var, axis, offset=beta, scale=gamma)

    def reference(x, mean, var, *params):
        return batch_norm_ref(x, mean, var, *split(params), axis)

    return OpCase(name=name, fn=fn, shapes=(), reference=reference, make_inputs=make, rtol=1e-9)


def _pool_case(kind, pool_size, strides, padding, shape_in=(2, 5, 7, 3)):
    op = pool.max_pool2d if kind == "max" else pool.avg_pool2d
    p = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    s = (strides, strides) if isinstance(strides, int) else strides
    return OpCase(
        name=f"{kind}_pool2d_{p[0]}x{p[1]}_s{s[0]}x{s[1]}_{padding}_{shape_in[1]}x{shape_in[2]}",
        fn=lambda x: op(x, pool_size, strides, padding),
        shapes=(shape_in,),
        reference=lambda x: ref.pool2d(x, p, s, padding, kind),
        make_inputs=distinct,
    )


def _conv_case(kernel, strides, padding, dilation=1, shape_in=(2, 7, 6, 3), filters=4, bias=True):
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    s = (strides, strides) if isinstance(strides, int) else strides
    d = (dilation, dilation)
    kshape = (*k, shape_in[-1], filters)
    name = f"conv2d_{k[0]}x{k[1]}_s{s[0]}x{s[1]}_d{d[0]}_{padding}_{shape_in[1]}x{shape_in[2]}"
    if bias:
        return OpCase(
            name=name,
            fn=lambda x, w, b: conv.conv2d(x, w, b, s, padding, d),
            shapes=(shape_in, kshape, (filters,)),
            reference=lambda x, w, b: ref.conv2d(x, w, b, s, padding, d),
        )
    return OpCase(
        name=name + "_nobias",
        fn=lambda x, w: conv.conv2d(x, w, None, s, padding, d),
        shapes=(shape_in, kshape),
        reference=lambda x, w: ref.conv2d(x, w, None, s, padding, d),
    )


# kernel, strides, padding, dilation: odd and even kernels, strides 1-3, every padding mode
CONV_CONFIGS = [
    (3, 1, "valid", 1),
    (3, 2, "valid", 1),
    (3, 3, "valid", 1),
    (2, 1, "valid", 1),
    (3, 1, "same", 1),
    (2, 1, "same", 1),
    (4, 2, "same", 1),
    (3, 2, "same", 1),
    (3, 3, "same", 1),
    (3, 1, "full", 1),
    (2, 2, "full", 1),
    ((3, 2), (1, 2), "same", 1),
    (3, 1, "valid", 2),
    (2, 1, "same", 2),
    (3, 1, "full", 2),
    (1, 1, "valid", 1),
    (1, 2, "valid", 1),  # kernel smaller than the stride: col2im leaves pixels untouched
    (2, 3, "same", 1),
    ((3, 1), (2, 2), "valid", 1),
]

POOL_CONFIGS = [
    (2, 2, "valid", (2, 4, 6, 3)),  # fast path, divisible
    (2, 2, "valid", (2, 5, 7, 3)),  # fast path, cropped remainder
    (2, 2, "same", (2, 4, 6, 3)),  # fast path (no padding needed)
    (2, 2, "same", (2, 5, 7, 3)),  # padded bottom/right
    (3, 1, "valid", (1, 5, 6, 2)),  # overlapping windows
    (3, 2, "same", (2, 5, 7, 2)),
    (3, 3, "same", (1, 7, 5, 2)),
    ((2, 3), (1, 2), "same", (1, 5, 6, 2)),  # non-square
]


def distinct_across(rng, shapes):
    """Like :func:`distinct`, across all inputs at once: no ties between max/min operands."""
    sizes = [math.prod(s) for s in shapes]
    values = rng.permutation(sum(sizes)) * 0.01 - 0.5
    bounds = np.cumsum([0, *sizes])
    return [values[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _depthwise_case(kernel, strides, padding, dilation=1, multiplier=1, bias=True):
    k, s, d = _pair(kernel), _pair(strides), _pair(dilation)
    shape_in = (2, 6, 5, 3)
    kshape = (*k, shape_in[-1], multiplier)
    name = f"depthwise_{k[0]}x{k[1]}_s{s[0]}x{s[1]}_d{d[0]}_m{multiplier}_{padding}"
    if not bias:
        return OpCase(
            name + "_nobias",
            lambda x, w: conv.depthwise_conv2d(x, w, None, s, padding, d),
            (shape_in, kshape),
            lambda x, w: ref.depthwise_conv2d(x, w, None, s, padding, d),
        )
    return OpCase(
        name,
        lambda x, w, b: conv.depthwise_conv2d(x, w, b, s, padding, d),
        (shape_in, kshape, (shape_in[-1] * multiplier,)),
        lambda x, w, b: ref.depthwise_conv2d(x, w, b, s, padding, d),
    )


def _transpose_case(kernel, strides, padding, output_padding=None, dilation=1, bias=True):
    k, s, d = _pair(kernel), _pair(strides), _pair(dilation)
    p = None if output_padding is None else _pair(output_padding)
    shape_in, filters = (2, 4, 3, 3), 2
    kshape = (*k, filters, shape_in[-1])
    name = f"conv2d_transpose_{k[0]}x{k[1]}_s{s[0]}x{s[1]}_d{d[0]}_{padding}_op{p}"
    if not bias:
        return OpCase(
            name + "_nobias",
            lambda x, w: conv.conv2d_transpose(x, w, None, s, padding, p, d),
            (shape_in, kshape),
            lambda x, w: ref.conv2d_transpose(x, w, None, s, padding, p, d),
        )
    return OpCase(
        name,
        lambda x, w, b: conv.conv2d_transpose(x, w, b, s, padding, p, d),
        (shape_in, kshape, (filters,)),
        lambda x, w, b: ref.conv2d_transpose(x, w, b, s, padding, p, d),
    )


def _resize_case(size_in, size_out, method):
    return OpCase(
        f"resize_{method}_{size_in[0]}x{size_in[1]}_to_{size_out[0]}x{size_out[1]}",
        lambda x: resize.resize(x, size_out, method),
        ((2, *size_in, 2),),
        lambda x: ref.resize(x, size_out, method),
    )


# kernel, strides, padding, dilation, depth multiplier
DEPTHWISE_CONFIGS = [
    (3, 1, "valid", 1, 1),
    (3, 2, "same", 1, 2),
    (2, 1, "same", 2, 1),
    ((3, 2), (1, 2), "full", 1, 2),
    (4, 3, "same", 1, 1),
]

# kernel, strides, padding, output_padding, dilation: output sizes from every Keras branch
TRANSPOSE_CONFIGS = [
    (3, 1, "valid", None, 1),
    (3, 2, "valid", None, 1),
    (2, 3, "valid", None, 1),  # stride > kernel: zero rows past the natural end
    (3, 2, "same", None, 1),
    (4, 2, "same", None, 1),
    (3, 2, "same", 1, 1),
    ((3, 2), (2, 3), "valid", (1, 0), 1),
    (2, 3, "same", (2, 1), 1),
    ((3, 2), (1, 2), "same", None, 1),
    (3, 1, "same", None, 2),
    (2, 1, "valid", None, 2),
    (1, 2, "valid", None, 1),
]

RESIZE_CONFIGS = [((4, 5), (8, 10)), ((5, 7), (11, 13)), ((9, 8), (4, 3)), ((3, 3), (7, 2))]

CASES = [
    # -- activations ---------------------------------------------------------------------
    OpCase(
        "relu",
        act.relu,
        ((3, 4, 5),),
        lambda x: np.maximum(x, 0),
        make_inputs=away_from(0.0),
    ),
    OpCase(
        "relu_slope_max_threshold",
        lambda x: act.relu(x, negative_slope=0.1, max_value=1.5, threshold=0.5),
        ((3, 4, 5),),
        lambda x: relu_general_ref(x, 0.1, 1.5, 0.5),
        make_inputs=away_from(0.0, 0.5, 1.5),
    ),
    OpCase(
        "relu_max_value",
        lambda x: act.relu(x, max_value=6.0),
        ((4, 6),),
        lambda x: np.clip(x, 0.0, 6.0),
        make_inputs=away_from(0.0, 6.0, lo=-8, hi=8),
    ),
    OpCase(
        "leaky_relu",
        act.leaky_relu,
        ((3, 4, 5),),
        lambda x: np.where(x > 0, x, 0.2 * x),
        make_inputs=away_from(0.0),
    ),
    OpCase(
        "elu",
        lambda x: act.elu(x, alpha=0.7),
        ((3, 4, 5),),
        lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
        make_inputs=away_from(0.0),
    ),
    OpCase(
        "selu",
        act.selu,
        ((3, 4, 5),),
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
        make_inputs=away_from(0.0),
    ),
    OpCase("sigmoid", act.sigmoid, ((3, 4, 5),), ref.sigmoid),
    OpCase("tanh", act.tanh, ((3, 4, 5),), np.tanh),
    OpCase("silu", act.silu, ((3, 4, 5),), lambda x: x * ref.sigmoid(x)),
    OpCase("gelu_exact", act.gelu, ((3, 4, 5),), gelu_exact_ref),
    OpCase(
        "gelu_tanh",
        lambda x: act.gelu(x, approximate=True),
        ((3, 4, 5),),
        gelu_tanh_ref,
    ),
    OpCase("softmax", act.softmax, ((3, 4, 5),), ref.softmax),
    OpCase(
        "softmax_axis1",
        lambda x: act.softmax(x, axis=1),
        ((3, 4, 5),),
        lambda x: ref.softmax(x, axis=1),
    ),
    # -- pooling -------------------------------------------------------------------------
    *[_pool_case(kind, *cfg) for cfg in POOL_CONFIGS for kind in ("max", "avg")],
    OpCase(
        "global_max_pool2d",
        pool.global_max_pool2d,
        ((2, 3, 4, 5),),
        lambda x: x.max(axis=(1, 2)),
        make_inputs=distinct,
    ),
    OpCase(
        "global_max_pool2d_keepdims",
        lambda x: pool.global_max_pool2d(x, keepdims=True),
        ((2, 3, 4, 5),),
        lambda x: x.max(axis=(1, 2), keepdims=True),
        make_inputs=distinct,
    ),
    OpCase(
        "global_avg_pool2d",
        pool.global_avg_pool2d,
        ((2, 3, 4, 5),),
        lambda x: x.mean(axis=(1, 2)),
    ),
    OpCase(
        "global_avg_pool2d_keepdims",
        lambda x: pool.global_avg_pool2d(x, keepdims=True),
        ((2, 3, 4, 5),),
        lambda x: x.mean(axis=(1, 2), keepdims=True),
    ),
    # -- shape -----------------------------------------------------------------------------
    OpCase("flatten", shape.flatten, ((2, 3, 4, 5),), lambda x: x.reshape(2, 60)),
    OpCase(
        "dropout",
        lambda x: shape.dropout(x, 0.3, np.random.default_rng(7)),
        ((4, 5, 6),),
        lambda x: dropout_ref(x, 0.3, 7),
        rtol=1e-6,  # x / 0.7 in float64 vs x / float64(float32(0.7))
    ),
    # -- losses ----------------------------------------------------------------------------
    OpCase(
        "sparse_ce_logits",
        lambda y, z: losses.sparse_categorical_crossentropy(y, z, from_logits=True),
        (),
        lambda y, z: sparse_ce_ref(y, z, True),
        make_inputs=lambda rng, _: [rng.integers(0, 5, size=4), 3 * rng.standard_normal((4, 5))],
    ),
    OpCase(
        "sparse_ce_probs",
        lambda y, p: losses.sparse_categorical_crossentropy(y, p),
        (),
        lambda y, p: sparse_ce_ref(y, p, False),
        make_inputs=lambda rng, _: [rng.integers(0, 5, size=4), rng.uniform(0.1, 1, (4, 5))],
    ),
    OpCase(
        "categorical_ce_logits",
        lambda y, z: losses.categorical_crossentropy(y, z, from_logits=True),
        (),
        lambda y, z: categorical_ce_ref(y, z, True),
        make_inputs=labels_and("soft"),
        wrt=(1,),
    ),
    OpCase(
        "categorical_ce_probs",
        lambda y, p: losses.categorical_crossentropy(y, p),
        (),
        lambda y, p: categorical_ce_ref(y, p, False),
        make_inputs=labels_and("soft"),
        wrt=(1,),
    ),
    OpCase(
        "categorical_ce_probs_onehot",
        lambda y, p: losses.categorical_crossentropy(y, p),
        (),
        lambda y, p: categorical_ce_ref(y, p, False),
        make_inputs=labels_and("onehot"),
        wrt=(1,),
    ),
    OpCase(
        "binary_ce_probs",
        lambda y, p: losses.binary_crossentropy(y, p),
        ((4, 3), (4, 3)),
        lambda y, p: binary_ce_ref(y, p, False),
        make_inputs=binary_inputs,
        wrt=(1,),
    ),
    OpCase(
        "binary_ce_logits",
        lambda y, z: losses.binary_crossentropy(y, z, from_logits=True),
        ((4, 3), (4, 3)),
        lambda y, z: binary_ce_ref(y, z, True),
        make_inputs=binary_logit_inputs,
        wrt=(1,),
    ),
    OpCase(
        "mean_squared_error",
        losses.mean_squared_error,
        ((4, 3), (4, 3)),
        lambda y, p: ((y - p) ** 2).mean(axis=-1),
    ),
    OpCase(
        "mean_absolute_error",
        losses.mean_absolute_error,
        ((4, 3), (4, 3)),
        lambda y, p: np.abs(y - p).mean(axis=-1),
        # y in [-3, -1), p in [1, 3): never equal, no kink
        make_inputs=lambda rng, s: [rng.uniform(-3, -1, s[0]), rng.uniform(1, 3, s[1])],
    ),
]

CASES += [_conv_case(*config) for config in CONV_CONFIGS]
CASES += [
    _conv_case(3, 1, "same", bias=False),
    _conv_case(3, 2, "valid", shape_in=(3, 28, 28, 1), filters=2),  # the lecture's first layer
    OpCase(
        "dense",
        dense.dense,
        ((4, 5), (5, 3), (3,)),
        lambda x, w, b: x @ w + b,
    ),
    OpCase("dense_nobias", dense.dense, ((2, 3, 5), (5, 3)), lambda x, w: x @ w),
    OpCase(
        "dense_relu",
        lambda x, w, b: dense.dense(x, w, b, relu=True),
        ((6, 5), (5, 4), (4,)),
        lambda x, w, b: np.maximum(x @ w + b, 0),
    ),
    OpCase(
        "conv2d_3x3_s2_relu",
        lambda x, w, b: conv.conv2d(x, w, b, (2, 2), "same", relu=True),
        ((2, 7, 6, 3), (3, 3, 3, 4), (4,)),
        lambda x, w, b: np.maximum(ref.conv2d(x, w, b, (2, 2), "same", (1, 1)), 0),
    ),
    OpCase("bias_add", dense.bias_add, ((2, 3, 4, 5), (5,)), lambda x, b: x + b),
    # -- batch normalisation -----------------------------------------------------------------
    _bn_train_case("batch_norm_train_2d", (6, 4)),
    _bn_train_case("batch_norm_train_nhwc", (2, 3, 3, 4)),
    _bn_train_case("batch_norm_train_nhwc_plain", (2, 3, 3, 4), scale=False, center=False),
    _bn_train_case("batch_norm_train_2d_scale_only", (5, 3), center=False),
    _bn_train_case("batch_norm_train_nhwc_center_only", (2, 2, 3, 3), scale=False),
    _bn_train_case("batch_norm_train_axis1", (2, 3, 2, 4), axis=1),
    _bn_inference_case("batch_norm_inference_2d", (6, 4)),
    _bn_inference_case("batch_norm_inference_nhwc", (2, 3, 3, 4)),
    _bn_inference_case("batch_norm_inference_nhwc_plain", (2, 3, 2, 3), scale=False, center=False),
    _bn_inference_case("batch_norm_inference_axis1_scale_only", (2, 3, 2, 2), axis=1, center=False),
]

CASES += [_depthwise_case(*config) for config in DEPTHWISE_CONFIGS]
CASES += [_transpose_case(*config) for config in TRANSPOSE_CONFIGS]
CASES += [_resize_case(*sizes, m) for sizes in RESIZE_CONFIGS for m in ("bilinear", "nearest")]
CASES += [
    _depthwise_case(3, 1, "same", bias=False),
    _transpose_case(3, 2, "same", bias=False),
    OpCase(
        "separable_conv2d_3x3_m2_same",
        lambda x, dk, pk, b: conv.separable_conv2d(x, dk, pk, b, (1, 1), "same"),
        ((2, 5, 6, 3), (3, 3, 3, 2), (1, 1, 6, 4), (4,)),
        lambda x, dk, pk, b: ref.conv2d(
            ref.depthwise_conv2d(x, dk, None, (1, 1), "same", (1, 1)),
            pk,
            b,
            (1, 1),
            "valid",
            (1, 1),
        ),
    ),
    OpCase(
        "separable_conv2d_2x2_s2_valid_nobias",
        lambda x, dk, pk: conv.separable_conv2d(x, dk, pk, None, (2, 2), "valid"),
        ((2, 5, 6, 2), (2, 2, 2, 1), (1, 1, 2, 3)),
        lambda x, dk, pk: ref.conv2d(
            ref.depthwise_conv2d(x, dk, None, (2, 2), "valid", (1, 1)),
            pk,
            None,
            (1, 1),
            "valid",
            (1, 1),
        ),
    ),  # fmt: skip
    # -- padding, cropping, upsampling, merging ---------------------------------------------
    OpCase(
        "pad2d",
        lambda x: shape.pad2d(x, ((1, 0), (2, 3))),
        ((2, 3, 4, 2),),
        lambda x: np.pad(x, ((0, 0), (1, 0), (2, 3), (0, 0))),
    ),
    OpCase(
        "pad2d_fill_value",
        lambda x: shape.pad2d(x, ((2, 1), (0, 1)), value=-0.5),
        ((1, 3, 2, 3),),
        lambda x: np.pad(x, ((0, 0), (2, 1), (0, 1), (0, 0)), constant_values=-0.5),
    ),
    OpCase(
        "crop2d",
        lambda x: shape.crop2d(x, ((1, 2), (0, 1))),
        ((2, 5, 4, 2),),
        lambda x: x[:, 1:-2, 0:-1, :],
    ),
    OpCase(
        "upsample2d_nearest_2x3",
        lambda x: shape.upsample2d_nearest(x, (2, 3)),
        ((2, 3, 4, 2),),
        lambda x: x.repeat(2, axis=1).repeat(3, axis=2),
    ),
    OpCase(
        "concatenate_channels",
        lambda a, b, c: shape.concatenate([a, b, c], axis=-1),
        ((2, 3, 3, 2), (2, 3, 3, 1), (2, 3, 3, 4)),
        lambda a, b, c: np.concatenate([a, b, c], axis=-1),
    ),
    OpCase(
        "concatenate_axis1",
        lambda a, b: shape.concatenate([a, b], axis=1),
        ((2, 3, 4), (2, 1, 4)),
        lambda a, b: np.concatenate([a, b], axis=1),
    ),
    OpCase(
        "maximum",
        shape.maximum,
        ((2, 3, 4), (2, 3, 4)),
        np.maximum,
        make_inputs=distinct_across,
    ),
    OpCase(
        "minimum_broadcast",
        shape.minimum,
        ((2, 1, 4), (3, 4)),
        np.minimum,
        make_inputs=distinct_across,
    ),
    OpCase(
        "spatial_dropout",
        lambda x: shape.dropout(x, 0.5, np.random.default_rng(3), noise_shape=(2, 1, 1, 4)),
        ((2, 3, 3, 4),),
        lambda x: np.where(
            np.random.default_rng(3).random((2, 1, 1, 4), dtype=np.float32) < 0.5, x / 0.5, 0.0
        ),
    ),
]

# -- recurrent: SimpleRNN, LSTM, GRU (both reset_after) with masks, go_backwards, dropout ------
CASES += [
    OpCase(name, fn, (), reference, make_inputs=make)
    for name, fn, make, reference in recurrent_ref.op_cases()
]
CASES += [OpCase("reverse_time", recurrent.reverse_time, ((2, 3, 4),), lambda x: x[:, ::-1])]

# -- the Tensor `@` operator (custom layers use it): NumPy's matmul rules --------
CASES += [
    OpCase(f"tensor_matmul_{name}", lambda a, b: a @ b, shapes, np.matmul)
    for name, shapes in [
        ("2d", ((3, 4), (4, 2))),
        ("batched_by_2d", ((2, 3, 4), (4, 5))),
        ("batched", ((2, 3, 4), (2, 4, 5))),
        ("broadcast_batch", ((3, 4), (2, 4, 5))),
        ("vector_left", ((4,), (4, 3))),
        ("vector_right", ((2, 3, 4), (4,))),
    ]
]

# -- the rest of Keras 3's activations (kernels/activations_extra.py) ---------------------


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_sparsemax(x):
    """Sparsemax by bisection on tau (independent of the sort-based kernel)."""
    lo, hi = x.min(-1, keepdims=True) - 1.0, x.max(-1, keepdims=True)
    for _ in range(200):
        tau = (lo + hi) / 2
        over = np.maximum(x - tau, 0).sum(-1, keepdims=True) > 1
        lo, hi = np.where(over, tau, lo), np.where(over, hi, tau)
    return np.maximum(x - (lo + hi) / 2, 0)


CASES += [
    OpCase("softplus", extra_act.softplus, ((3, 4),), lambda x: np.log1p(np.exp(x))),
    OpCase("softsign", extra_act.softsign, ((3, 4),), lambda x: x / (1 + np.abs(x))),
    OpCase("mish", extra_act.mish, ((3, 4),), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    OpCase("log_sigmoid", extra_act.log_sigmoid, ((3, 4),), lambda x: np.log(_np_sigmoid(x))),
    OpCase(
        "celu",
        lambda x: extra_act.celu(x, alpha=0.5),
        ((3, 4),),
        lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * (np.exp(x / 0.5) - 1)),
        make_inputs=away_from(0.0),
    ),
    OpCase(
        "squareplus",
        lambda x: extra_act.squareplus(x, b=2.0),
        ((3, 4),),
        lambda x: (x + np.sqrt(x * x + 2.0)) / 2,
    ),
    OpCase("tanh_shrink", extra_act.tanh_shrink, ((3, 4),), lambda x: x - np.tanh(x)),
    OpCase("exponential", extra_act.exponential, ((3, 4),), np.exp),
    OpCase(
        "relu6",
        extra_act.relu6,
        ((4, 5),),
        lambda x: np.minimum(np.maximum(x, 0), 6),
        make_inputs=away_from(0.0, 6.0, lo=-8, hi=8),
    ),
    OpCase(
        "hard_sigmoid",
        extra_act.hard_sigmoid,
        ((4, 5),),
        lambda x: np.clip(x / 6 + 0.5, 0, 1),
        make_inputs=away_from(-3.0, 3.0, lo=-5, hi=5),
    ),
    OpCase(
        "hard_silu",
        extra_act.hard_silu,
        ((4, 5),),
        lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
        make_inputs=away_from(-3.0, 3.0, lo=-5, hi=5),
    ),
    OpCase(
        "hard_tanh",
        extra_act.hard_tanh,
        ((4, 5),),
        lambda x: np.clip(x, -1, 1),
        make_inputs=away_from(-1.0, 1.0),
    ),
    OpCase(
        "sparse_plus",
        extra_act.sparse_plus,
        ((4, 5),),
        lambda x: np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)),
        make_inputs=away_from(-1.0, 1.0),
    ),
    OpCase(
        "sparse_sigmoid",
        extra_act.sparse_sigmoid,
        ((4, 5),),
        lambda x: np.clip((x + 1) / 2, 0, 1),
        make_inputs=away_from(-1.0, 1.0),
    ),
    OpCase(
        "soft_shrink",
        lambda x: extra_act.soft_shrink(x, threshold=0.7),
        ((4, 5),),
        lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.7, 0),
        make_inputs=away_from(-0.7, 0.7),
    ),
    OpCase(
        "hard_shrink",
        extra_act.hard_shrink,
        ((4, 5),),
        lambda x: np.where(np.abs(x) > 0.5, x, 0),
        make_inputs=away_from(-0.5, 0.5),
    ),
    OpCase(
        "threshold",
        lambda x: extra_act.threshold(x, threshold=0.3, default_value=-2.0),
        ((4, 5),),
        lambda x: np.where(x > 0.3, x, -2.0),
        make_inputs=away_from(0.3),
    ),
    OpCase(
        "log_softmax_axis1",
        lambda x: extra_act.log_softmax(x, axis=1),
        ((2, 4, 3),),
        lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)),
    ),
    OpCase(
        "glu",
        extra_act.glu,
        ((3, 6),),
        lambda x: x[:, :3] * _np_sigmoid(x[:, 3:]),
    ),
    OpCase(
        "glu_axis0",
        lambda x: extra_act.glu(x, axis=0),
        ((4, 3),),
        lambda x: x[:2] * _np_sigmoid(x[2:]),
    ),
    OpCase("sparsemax", extra_act.sparsemax, ((4, 6),), _np_sparsemax, make_inputs=distinct),
    OpCase(
        "sparsemax_axis0",
        lambda x: extra_act.sparsemax(x, axis=0),
        ((5, 3),),
        lambda x: _np_sparsemax(x.T).T,
        make_inputs=lambda rng, shapes: [rng.permutation(15).reshape(5, 3) * 0.37],
    ),
]

# -- the rest of Keras 3's losses (kernels/losses_extra.py): per-sample values ---------------


def _pair_maker(make_true, make_pred):
    def make(rng, shapes):
        return [make_true(rng, shapes[0]), make_pred(rng, shapes[0])]

    return make


def _binary01(rng, shape):
    return rng.integers(0, 2, shape).astype(float)


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _probs(rng, shape):
    return ref.softmax(rng.standard_normal(shape))


def _np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _np_bfce(y, p, gamma, alpha=None):
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    pt = y * p + (1 - y) * (1 - p)
    w = 1.0 if alpha is None else y * alpha + (1 - y) * (1 - alpha)
    return (w * (1 - pt) ** gamma * bce).mean(-1)


LOSS_SHAPE = ((5, 4),)
CASES += [
    OpCase(
        "loss_hinge",
        lambda y, p: losses_extra.hinge(y, p),
        LOSS_SHAPE,
        lambda y, p: np.maximum(1 - (2 * y - 1) * p, 0).mean(-1),
        make_inputs=_pair_maker(_binary01, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_squared_hinge",
        lambda y, p: losses_extra.squared_hinge(y, p),
        LOSS_SHAPE,
        lambda y, p: (np.maximum(1 - (2 * y - 1) * p, 0) ** 2).mean(-1),
        make_inputs=_pair_maker(_binary01, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_categorical_hinge",
        lambda y, p: losses_extra.categorical_hinge(y, p),
        LOSS_SHAPE,
        lambda y, p: np.maximum(((1 - y) * p).max(-1) - (y * p).sum(-1) + 1, 0),
        make_inputs=_pair_maker(lambda r, s: np.eye(s[-1])[r.integers(0, s[-1], s[0])], _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_mape",
        lambda y, p: losses_extra.mean_absolute_percentage_error(y, p),
        LOSS_SHAPE,
        lambda y, p: 100 * (np.abs(y - p) / np.abs(y)).mean(-1),
        make_inputs=_pair_maker(lambda r, s: r.uniform(0.5, 2, s), lambda r, s: r.uniform(3, 4, s)),
        wrt=(1,),
    ),
    OpCase(
        "loss_msle",
        lambda y, p: losses_extra.mean_squared_logarithmic_error(y, p),
        LOSS_SHAPE,
        lambda y, p: ((np.log1p(p) - np.log1p(y)) ** 2).mean(-1),
        make_inputs=_pair_maker(lambda r, s: r.uniform(0, 3, s), lambda r, s: r.uniform(0.1, 3, s)),
        wrt=(1,),
    ),
    OpCase(
        "loss_huber",
        lambda y, p: losses_extra.huber(y, p, delta=0.8),
        LOSS_SHAPE,
        lambda y, p: np.where(
            np.abs(p - y) <= 0.8, 0.5 * (p - y) ** 2, 0.8 * np.abs(p - y) - 0.32
        ).mean(-1),
        make_inputs=_pair_maker(_normal, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_log_cosh",
        lambda y, p: losses_extra.log_cosh(y, p),
        LOSS_SHAPE,
        lambda y, p: np.log(np.cosh(p - y)).mean(-1),
        make_inputs=_pair_maker(_normal, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_poisson",
        lambda y, p: losses_extra.poisson(y, p),
        LOSS_SHAPE,
        lambda y, p: (p - y * np.log(p + 1e-7)).mean(-1),
        make_inputs=_pair_maker(lambda r, s: r.uniform(0, 3, s), lambda r, s: r.uniform(0.2, 3, s)),
        wrt=(1,),
        rtol=1e-9,
    ),
    OpCase(
        "loss_kl_divergence",
        lambda y, p: losses_extra.kl_divergence(y, p),
        LOSS_SHAPE,
        lambda y, p: (y * np.log(y / p)).sum(-1),
        make_inputs=_pair_maker(_probs, _probs),
        wrt=(1,),
    ),
    OpCase(
        "loss_cosine_similarity_axis0",
        lambda y, p: losses_extra.cosine_similarity(y, p, axis=0),
        LOSS_SHAPE,
        lambda y, p: -(y * p).sum(0) / np.linalg.norm(y, axis=0) / np.linalg.norm(p, axis=0),
        make_inputs=_pair_maker(_normal, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_binary_focal",
        lambda y, p: losses_extra.binary_focal_crossentropy(y, p, gamma=1.5),
        LOSS_SHAPE,
        lambda y, p: _np_bfce(y, p, 1.5),
        make_inputs=_pair_maker(_binary01, lambda r, s: r.uniform(0.05, 0.95, s)),
        wrt=(1,),
    ),
    OpCase(
        "loss_binary_focal_logits_balanced",
        lambda y, z: losses_extra.binary_focal_crossentropy(
            y, z, apply_class_balancing=True, alpha=0.3, gamma=2.0, from_logits=True
        ),
        LOSS_SHAPE,
        lambda y, z: _np_bfce(y, 1 / (1 + np.exp(-z)), 2.0, alpha=0.3),
        make_inputs=_pair_maker(_binary01, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_categorical_focal_logits",
        lambda y, z: losses_extra.categorical_focal_crossentropy(
            y, z, alpha=0.4, gamma=1.5, from_logits=True
        ),
        LOSS_SHAPE,
        lambda y, z: (
            -(0.4 * (1 - np.exp(_np_log_softmax(z))) ** 1.5 * y * _np_log_softmax(z)).sum(-1)
        ),
        make_inputs=_pair_maker(_probs, _normal),
        wrt=(1,),
    ),
    OpCase(
        "loss_categorical_focal_probs",
        lambda y, p: losses_extra.categorical_focal_crossentropy(y, p),
        LOSS_SHAPE,
        lambda y, p: (
            -(
                0.25
                * (1 - p / p.sum(-1, keepdims=True)) ** 2.0
                * y
                * np.log(p / p.sum(-1, keepdims=True))
            ).sum(-1)
        ),
        make_inputs=_pair_maker(_probs, lambda r, s: r.uniform(0.1, 1, s)),
        wrt=(1,),
    ),
    OpCase(
        "loss_generalized_ce",
        lambda y, p: losses_extra.categorical_generalized_cross_entropy(y, p, q=0.6),
        ((5,), (5, 4)),
        lambda y, p: (1 - p[np.arange(5), y] ** 0.6) / 0.6,
        make_inputs=lambda r, s: [r.integers(0, 4, 5), r.uniform(0.1, 1, (5, 4))],
        wrt=(1,),
    ),
    OpCase(
        "loss_dice_axis1",
        lambda y, p: losses_extra.dice(y, p, axis=1),
        LOSS_SHAPE,
        lambda y, p: 1 - 2 * (y * p).sum(1) / (y.sum(1) + p.sum(1) + 1e-7),
        make_inputs=_pair_maker(_binary01, lambda r, s: r.uniform(0, 1, s)),
        wrt=(1,),
    ),
    OpCase(
        "loss_tversky_all_axes",
        lambda y, p: losses_extra.tversky(y, p, alpha=0.3, beta=0.7),
        LOSS_SHAPE,
        lambda y, p: np.asarray(
            1
            - (y * p).sum()
            / ((y * p).sum() + 0.3 * ((1 - p) * y).sum() + 0.7 * (p * (1 - y)).sum() + 1e-7)
        ),
        make_inputs=_pair_maker(_binary01, lambda r, s: r.uniform(0, 1, s)),
        wrt=(1,),
    ),
]


def _np_circle(labels, emb, gamma=8.0, margin=0.25):
    """Circle loss, one sample at a time (a slow reference)."""
    out = []
    for i in range(len(labels)):
        pos, neg = [], []
        for j in range(len(labels)):
            d = max(1 - emb[i] @ emb[j], 0)
            if labels[i] == labels[j] and i != j:
                pos.append(-gamma * max(margin + d, 0) * (margin - d))
            elif labels[i] != labels[j]:
                neg.append(gamma * max(1 + margin - d, 0) * (1 - margin - d))
        if not pos or not neg:
            out.append(0.0)
            continue
        s = np.log(np.sum(np.exp(pos))) + np.log(np.sum(np.exp(neg)))
        out.append(np.log1p(np.exp(s)))
    return np.array(out)


CASES += [
    OpCase(
        "loss_circle",
        lambda y, p: circle_loss.circle(y, p, gamma=8.0, margin=0.25),
        ((6,), (6, 3)),
        _np_circle,
        make_inputs=lambda r, s: [
            np.array([0, 1, 0, 2, 1, 0]),
            r.standard_normal((6, 3)) / np.sqrt(3),
        ],
        wrt=(1,),
    ),
]

# -- attention and per-sample normalisation kernels ---------------------------------
from cnnkit.kernels import attention as attention_ops  # noqa: E402
from cnnkit.kernels import feature_norm  # noqa: E402


def _layer_norm_ref(x, gamma=None, beta=None, axes=(-1,), epsilon=1e-3):
    mean = x.mean(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + epsilon)
    view = [x.shape[i] if i in [a % x.ndim for a in axes] else 1 for i in range(x.ndim)]
    if gamma is not None:
        out = out * gamma.reshape(view)
    return out if beta is None else out + beta.reshape(view)


def _softmax_ref(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


_KEEP = np.random.default_rng(5).random((2, 1, 3, 4)) > 0.3
CASES += [
    OpCase(
        f"einsum_{eq.replace(',', '_').replace('->', '_to_').replace('...', 'E')}",
        lambda a, b, eq=eq: attention_ops.einsum(eq, a, b),
        shapes,
        lambda a, b, eq=eq: np.einsum(eq, a, b),
    )
    for eq, shapes in [
        ("abc,cde->abde", ((2, 3, 4), (4, 2, 3))),
        ("abcd,cde->abe", ((2, 3, 2, 4), (2, 4, 5))),
        ("...b,bc->...c", ((2, 3, 4), (4, 5))),
        ("aecd,abcd->acbe", ((2, 3, 2, 4), (2, 5, 2, 4))),
        ("ab,cb->a", ((2, 3), (4, 3))),  # c summed over the second operand alone
    ]
]
CASES += [
    OpCase(
        "transpose_0213",
        lambda a: attention_ops.transpose(a, (0, 2, 1, 3)),
        ((2, 3, 4, 5),),
        lambda a: a.transpose(0, 2, 1, 3),
    ),
    OpCase(
        "repeat_axis2",
        lambda a: attention_ops.repeat(a, 3, axis=2),
        ((2, 3, 2, 4),),
        lambda a: np.repeat(a, 3, axis=2),
    ),
    OpCase(
        "masked_softmax",
        lambda a: attention_ops.masked_softmax(a, _KEEP, axis=-1),
        ((2, 2, 3, 4),),
        lambda a: _softmax_ref(np.where(_KEEP, a, a - 1e9), -1) * _KEEP,
    ),
    OpCase(
        "layer_norm_last_axis",
        lambda x, g, b: feature_norm.layer_normalization(x, g, b, axis=-1),
        ((3, 4, 5), (5,), (5,)),
        lambda x, g, b: _layer_norm_ref(x, g, b, axes=(-1,)),
        rtol=1e-9,
    ),
    OpCase(
        "layer_norm_two_axes_scale_only",
        lambda x, g: feature_norm.layer_normalization(x, g, axis=(1, 3)),
        ((2, 3, 2, 4), (3, 4)),
        lambda x, g: _layer_norm_ref(x, g, axes=(1, 3)),
        rtol=1e-9,
    ),
    OpCase(
        "layer_norm_no_params",
        lambda x: feature_norm.layer_normalization(x, axis=(1, 2), epsilon=1e-5),
        ((2, 3, 4),),
        lambda x: _layer_norm_ref(x, axes=(1, 2), epsilon=1e-5),
        rtol=1e-9,
    ),
    OpCase(
        "rms_norm",
        lambda x, s: feature_norm.rms_normalization(x, s, axis=-1),
        ((3, 4, 5), (5,)),
        lambda x, s: x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * s,
    ),
    OpCase(
        "rms_norm_no_scale_two_axes",
        lambda x: feature_norm.rms_normalization(x, axis=(1, 2)),
        ((2, 3, 4),),
        lambda x: x / np.sqrt((x**2).mean((1, 2), keepdims=True) + 1e-6),
    ),
    OpCase(
        "l2_normalize",
        lambda x: feature_norm.l2_normalize(x, axis=-1),
        ((3, 4, 5),),
        lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True),
    ),
    OpCase(
        "affine_broadcast",
        lambda x, g, b: feature_norm.affine(x, g, b),
        ((2, 3, 4), (3, 1), (4,)),
        lambda x, g, b: x * g + b,
    ),
]

from cnnkit.kernels import elementwise  # noqa: E402

CASES += [
    OpCase(
        f"prelu_{name}",
        elementwise.prelu,
        shapes,
        lambda x, a: np.where(x > 0, x, a * x),
        make_inputs=lambda rng, s: [*away_from(0.0)(rng, s[:1]), rng.uniform(0.1, 0.9, s[1])],
    )
    for name, shapes in [("full", ((2, 3, 4), (3, 4))), ("shared", ((2, 3, 4), (1, 4)))]
]

from cnnkit.kernels import sequence as sequence_ops  # noqa: E402

_KEEP_ROWS = np.array([True, False, True])
CASES += [
    OpCase("take_step", lambda x: sequence_ops.take_step(x, 2), ((3, 4, 2),), lambda x: x[:, 2]),
    OpCase(
        "split_columns_block1",
        lambda z: sequence_ops.split_columns(z, 3)[1],
        ((2, 9),),
        lambda z: z[:, 3:6],
    ),
    OpCase(
        "stack_steps",
        lambda a, b, c: sequence_ops.stack_steps([a, b, c]),
        ((2, 4), (2, 4), (2, 4)),
        lambda a, b, c: np.stack([a, b, c], axis=1),
    ),
    OpCase(
        "select_rows",
        lambda a, b: sequence_ops.select(_KEEP_ROWS, a, b),
        ((3, 4), (3, 4)),
        lambda a, b: np.where(_KEEP_ROWS[:, None], a, b),
    ),
]

IDS = [case.name for case in CASES]
assert len(set(IDS)) == len(IDS), "duplicate op case names"


@pytest.fixture(params=["numpy", "reference"])
def kernels(request):
    """Each test of the table runs with both kernel implementations."""
    with dispatch.use_kernels(request.param):
        yield request.param


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_match_reference(case, kernels):
    inputs = case.inputs()
    out = case.fn(*[Tensor(a) for a in inputs])
    expected = case.reference(*inputs)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=case.rtol, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradients_match_finite_differences(case, kernels):
    gradcheck(case.fn, *case.inputs(), wrt=case.wrt)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case, kernels):
    inputs = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.inputs()]
    tensors, wrt = case.tensors(inputs)
    out = case.fn(*tensors)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    for i in wrt:
        assert tensors[i].grad.dtype == np.float32, f"gradient of input {i}"
        assert np.isfinite(tensors[i].grad).all()
