"""``cnnkit.ops.nn`` against Keras 3, against NumPy references, and float64 gradient checks.

Three tables drive most tests: ``KERAS_CASES`` (values and dtypes equal to Keras 3 on its
torch backend), ``REFERENCE_CASES`` (values equal to a direct NumPy formula or loop) and
``GRAD_CASES`` (analytic gradients equal to central differences in float64).
"""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.ops import nn
from tests.harness import gradcheck

RNG = np.random.default_rng(1234)


def normal(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype("float32")


def uniform(*shape, lo=0.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype("float32")


def away_from(kinks, *shape, lo=-3.0, hi=3.0, margin=0.05):
    """float64 uniforms at least ``margin`` from every kink (piecewise functions)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(lo, hi, size=shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.sign(x[near] - k + 1e-12) * margin * 2
    return x


# ---------------------------------------------------------------------------
# Keras 3 fidelity: (id, function name, args, kwargs)
# ---------------------------------------------------------------------------

X = normal(2, 3, 6, scale=3.0)
IMG1 = normal(2, 7, 3)
IMG2 = normal(2, 7, 6, 4)
VOL = normal(2, 5, 6, 4, 3)
PROBS = uniform(3, 5, lo=0.05)
TARGETS = (uniform(3, 5) > 0.5).astype("float32")
Q, K, V = normal(2, 5, 4, 3), normal(2, 6, 2, 3), normal(2, 6, 2, 3)

ACTIVATIONS = [
    n for n in nn.__all__[: nn.__all__.index("sparsemax")] if n not in ("glu", "threshold")
]

KERAS_CASES = [(name, name, (X,), {}) for name in ACTIVATIONS]
KERAS_CASES += [
    ("gelu_exact", "gelu", (X,), {"approximate": False}),
    ("soft_shrink_t", "soft_shrink", (X,), {"threshold": 1.5}),
    ("hard_shrink_t", "hard_shrink", (X,), {"threshold": 1.5}),
    ("threshold", "threshold", (X, 0.3, -2.0), {}),
    ("leaky_relu_slope", "leaky_relu", (X,), {"negative_slope": 0.05}),
    ("elu_alpha", "elu", (X,), {"alpha": 0.5}),
    ("celu_alpha", "celu", (X,), {"alpha": 2.5}),
    ("squareplus_b", "squareplus", (X,), {"b": 0.5}),
    ("glu", "glu", (X,), {}),
    ("glu_axis", "glu", (normal(4, 3),), {"axis": 0}),
    ("softmax_axis", "softmax", (X,), {"axis": 1}),
    ("softmax_axes", "softmax", (X,), {"axis": (0, 2)}),
    ("log_softmax", "log_softmax", (X,), {"axis": 0}),
    ("log_softmax_none", "log_softmax", (X,), {"axis": None}),
    ("int_relu6", "relu6", (np.arange(-3, 9),), {}),
    ("int_relu", "relu", (np.arange(-3, 3, dtype="int32"),), {}),
    ("int_hard_tanh", "hard_tanh", (np.arange(-3, 3),), {}),
    ("int_sigmoid", "sigmoid", (np.arange(-3, 3),), {}),
    # convolution
    ("conv1d_same_s2", "conv", (IMG1, normal(3, 3, 5)), {"strides": 2, "padding": "same"}),
    ("conv1d_dilated", "conv", (IMG1, normal(2, 3, 5)), {"dilation_rate": 2}),
    ("conv2d_same", "conv", (IMG2, normal(3, 2, 4, 5)), {"padding": "same"}),
    ("conv2d_s2", "conv", (IMG2, normal(3, 3, 4, 2)), {"strides": (2, 1)}),
    ("conv2d_groups", "conv", (IMG2, normal(3, 3, 2, 6)), {"padding": "same"}),
    (
        "conv2d_channels_first",
        "conv",
        (IMG2, normal(2, 2, 7, 3)),
        {"data_format": "channels_first", "dilation_rate": (1, 2)},
    ),
    ("conv3d_same_s2", "conv", (VOL, normal(3, 2, 2, 3, 4)), {"padding": "same", "strides": 2}),
    ("conv3d_dilated", "conv", (VOL, normal(2, 2, 2, 3, 2)), {"dilation_rate": (2, 1, 2)}),
    ("depthwise1d", "depthwise_conv", (IMG1, normal(3, 3, 2)), {"padding": "same"}),
    ("depthwise2d", "depthwise_conv", (IMG2, normal(3, 2, 4, 2)), {"strides": 2}),
    (
        "depthwise2d_cf",
        "depthwise_conv",
        (IMG2, normal(3, 3, 7, 1)),
        {"data_format": "channels_first", "padding": "same"},
    ),
    ("separable2d", "separable_conv", (IMG2, normal(3, 3, 4, 2), normal(1, 1, 8, 5)), {}),
    (
        "separable1d",
        "separable_conv",
        (IMG1, normal(3, 3, 2), normal(1, 6, 4)),
        {"padding": "same"},
    ),
    ("conv_transpose1d", "conv_transpose", (IMG1, normal(3, 4, 3)), {"strides": 2}),
    (
        "conv_transpose2d_same",
        "conv_transpose",
        (IMG2, normal(3, 3, 2, 4)),
        {"padding": "same", "strides": 2},
    ),
    (
        "conv_transpose2d_op",
        "conv_transpose",
        (IMG2, normal(3, 3, 2, 4)),
        {"strides": 2, "output_padding": 1},
    ),
    ("conv_transpose3d", "conv_transpose", (VOL, normal(3, 2, 3, 4, 3)), {"strides": (2, 1, 3)}),
    (
        "conv_transpose3d_same_op",
        "conv_transpose",
        (VOL, normal(2, 3, 3, 2, 3)),
        {"strides": 2, "padding": "same", "output_padding": 1, "dilation_rate": (2, 1, 1)},
    ),
    ("depthwise3d", "depthwise_conv", (VOL, normal(2, 3, 2, 3, 2)), {"padding": "same"}),
    (
        "separable3d",
        "separable_conv",
        (VOL, normal(2, 2, 2, 3, 2), normal(1, 1, 1, 6, 4)),
        {"strides": 2},
    ),
    # pooling
    ("max_pool1d", "max_pool", (IMG1, 2), {}),
    ("max_pool1d_same", "max_pool", (IMG1, 3), {"strides": 2, "padding": "same"}),
    ("max_pool2d", "max_pool", (IMG2, (2, 3)), {"strides": 1}),
    ("max_pool3d_same", "max_pool", (VOL, 2), {"padding": "same"}),
    ("max_pool2d_cf", "max_pool", (IMG2, 2), {"data_format": "channels_first"}),
    ("avg_pool1d", "average_pool", (IMG1, 3), {"strides": 1}),
    ("avg_pool1d_same", "average_pool", (IMG1, 3), {"strides": 2, "padding": "same"}),
    ("avg_pool2d", "average_pool", (IMG2, 2), {}),
    ("avg_pool3d", "average_pool", (VOL, (2, 3, 3)), {"strides": (1, 2, 2)}),
    ("adaptive_max1d", "adaptive_max_pool", (IMG1, 3), {}),
    ("adaptive_max2d", "adaptive_max_pool", (IMG2, (3, 4)), {}),
    ("adaptive_avg2d", "adaptive_average_pool", (IMG2, (4, 5)), {}),
    ("adaptive_avg3d", "adaptive_average_pool", (VOL, 2), {}),
    ("adaptive_avg_cf", "adaptive_average_pool", (IMG2, (3, 2)), {"data_format": "channels_first"}),
    # encodings and losses
    ("one_hot", "one_hot", (np.array([[0, 2], [-1, 3]]), 4), {}),
    ("one_hot_axis", "one_hot", (np.array([[0, 2], [1, 3]]), 4), {"axis": 1}),
    ("one_hot_dtype", "one_hot", (np.array([0, 2]), 3), {"dtype": "int32"}),
    ("multi_hot", "multi_hot", (np.array([[0, 2], [1, 1]]), 4), {}),
    ("multi_hot_1d", "multi_hot", (np.array([0, 3]), 4), {}),
    ("bce", "binary_crossentropy", (TARGETS, PROBS), {}),
    ("bce_logits", "binary_crossentropy", (TARGETS, normal(3, 5, scale=4)), {"from_logits": True}),
    ("cce", "categorical_crossentropy", (TARGETS, PROBS), {}),
    (
        "cce_logits_axis0",
        "categorical_crossentropy",
        (TARGETS.T, normal(5, 3)),
        {"from_logits": True, "axis": 0},
    ),
    ("scce", "sparse_categorical_crossentropy", (np.array([0, 4, 1]), PROBS), {}),
    (
        "scce_logits_axis1",
        "sparse_categorical_crossentropy",
        (RNG.integers(0, 3, size=(2, 6)), X),
        {"from_logits": True, "axis": 1},
    ),
    # normalisation
    ("moments", "moments", (X,), {"axes": (0, 2)}),
    ("moments_keepdims", "moments", (X,), {"axes": 1, "keepdims": True}),
    (
        "batch_normalization",
        "batch_normalization",
        (X, normal(6), uniform(6, lo=0.5, hi=2)),
        {"axis": -1, "offset": normal(6), "scale": normal(6)},
    ),
    (
        "batch_normalization_axis1",
        "batch_normalization",
        (X, normal(3), uniform(3, lo=0.5)),
        {"axis": 1},
    ),
    ("layer_normalization", "layer_normalization", (X, normal(6), normal(6)), {}),
    ("layer_normalization_axes", "layer_normalization", (X,), {"axis": (1, 2), "epsilon": 1e-3}),
    ("rms_normalization", "rms_normalization", (X, normal(6)), {}),
    ("rms_normalization_axes", "rms_normalization", (X,), {"axis": (1, 2)}),
    ("normalize", "normalize", (X,), {}),
    ("normalize_l1_axis", "normalize", (X,), {"axis": 1, "order": 1}),
    ("normalize_l3", "normalize", (X,), {"order": 3}),
    ("psnr", "psnr", (PROBS, PROBS * 0.9), {"max_val": 1.0}),
    # attention
    ("attention_gqa", "dot_product_attention", (Q, K, V), {}),
    ("attention_causal", "dot_product_attention", (Q, K, V), {"is_causal": True}),
    (
        "attention_mask",
        "dot_product_attention",
        (Q, K, V),
        {"mask": uniform(2, 4, 5, 6) > 0.3, "scale": 0.3},
    ),
    ("attention_bias", "dot_product_attention", (Q, K, V), {"bias": normal(1, 4, 5, 6)}),
    ("attention_mha", "dot_product_attention", (Q, normal(2, 6, 4, 3), normal(2, 6, 4, 3)), {}),
    # rearrangements
    ("depth_to_space", "depth_to_space", (normal(2, 3, 4, 8), 2), {}),
    (
        "depth_to_space_cf",
        "depth_to_space",
        (normal(2, 8, 3, 4), 2),
        {"data_format": "channels_first"},
    ),
    ("space_to_depth", "space_to_depth", (normal(2, 4, 6, 3), 2), {}),
    (
        "space_to_depth_cf",
        "space_to_depth",
        (normal(2, 3, 4, 6), 2),
        {"data_format": "channels_first"},
    ),
]


@pytest.mark.parametrize("case", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_matches_keras(case):
    keras = pytest.importorskip("keras")
    _, name, args, kwargs = case
    expected = getattr(keras.ops.nn, name)(*args, **kwargs)
    got = getattr(nn, name)(*args, **kwargs)
    if not isinstance(expected, tuple):
        expected, got = (expected,), (got,)
    for e, g in zip(expected, got):
        e = keras.ops.convert_to_numpy(e)
        assert isinstance(g, np.ndarray)
        assert g.shape == e.shape
        assert g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["unfold", "fold"])
def test_unfold_fold_match_keras(name):
    keras = pytest.importorskip("keras")
    image = normal(2, 3, 7, 6)
    kwargs = {"kernel_size": (2, 3), "dilation": (2, 1), "padding": 1, "stride": 2}
    cols = nn.unfold(image, **kwargs)
    expected = keras.ops.unfold(keras.ops.convert_to_tensor(image), **kwargs)
    if name == "fold":
        expected = keras.ops.fold(keras.ops.convert_to_tensor(cols), (7, 6), **kwargs)
        cols = nn.fold(cols, (7, 6), **kwargs)
    np.testing.assert_allclose(cols, keras.ops.convert_to_numpy(expected), rtol=1e-6, atol=1e-6)


def test_every_keras_nn_op_is_provided():
    keras = pytest.importorskip("keras")
    names = {n for n in dir(keras.ops.nn) if not n.startswith("_")}
    out_of_scope = {"polar"}
    assert sorted(names - out_of_scope - set(nn.__all__)) == []
    assert set(nn.__all__) <= names


def test_signatures_match_keras():
    """Same parameter names, kinds and defaults as Keras, so keyword calls carry over."""
    keras = pytest.importorskip("keras")
    for name in nn.__all__:
        expected = inspect.signature(getattr(keras.ops.nn, name)).parameters.values()
        got = inspect.signature(getattr(nn, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in got] == [
            (p.name, p.kind, p.default) for p in expected
        ], name


# ---------------------------------------------------------------------------
# NumPy references (float64)
# ---------------------------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805

ACTIVATION_REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.minimum(np.maximum(x, 0), 6),
    "sigmoid": _sigmoid,
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (np.abs(x) + 1),
    "soft_shrink": lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "log_sigmoid": lambda x: np.log(_sigmoid(x)),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.2 * x),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1)),
    "gelu": lambda x: x / 2 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, np.exp(x) - 1),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "log_softmax": lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFERENCES))
def test_activation_values(name):
    x = away_from([-3, -1, -0.5, 0, 0.5, 1, 3], 4, 5, lo=-5, hi=5)
    np.testing.assert_allclose(nn.__dict__[name](x), ACTIVATION_REFERENCES[name](x), rtol=1e-12)


def test_activations_keep_float_dtypes_and_cast_integers():
    assert nn.gelu(np.ones(3, "float32")).dtype == np.float32
    assert nn.silu(np.ones(3, "float64")).dtype == np.float64
    assert nn.sigmoid(np.arange(3)).dtype == np.float32
    assert nn.sigmoid([0.0, 1.0]).dtype == np.float32


def _sparsemax_reference(z):
    """The simplex projection by bisection on the threshold (no sorting)."""
    lo, hi = z.min(-1, keepdims=True) - 1, z.max(-1, keepdims=True)
    for _ in range(200):
        tau = (lo + hi) / 2
        too_big = np.maximum(z - tau, 0).sum(-1, keepdims=True) > 1
        lo, hi = np.where(too_big, tau, lo), np.where(too_big, hi, tau)
    return np.maximum(z - (lo + hi) / 2, 0)


def test_sparsemax_is_the_projection_onto_the_simplex():
    z = np.random.default_rng(3).standard_normal((6, 7))
    out = nn.sparsemax(z)
    np.testing.assert_allclose(out, _sparsemax_reference(z), atol=1e-12)
    np.testing.assert_allclose(out.sum(-1), 1.0)
    moved = nn.sparsemax(z.T, axis=0)
    np.testing.assert_allclose(moved, out.T, atol=1e-12)


def test_sparsemax_agrees_with_keras_when_one_class_wins():
    # Keras 3.15's sparsemax (every backend) divides the sum of the cumulative sums over the
    # support, not the last one; the two agree when the support is a single class.
    keras = pytest.importorskip("keras")
    z = np.array([[3.0, 0.5, -1.0], [0.2, 2.5, 1.0]])
    np.testing.assert_allclose(nn.sparsemax(z), keras.ops.convert_to_numpy(keras.ops.sparsemax(z)))


def _pads(size, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    total = max((math.ceil(size / s) - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def conv_reference(x, kernel, strides, padding, dilation):
    """N-D grouped cross-correlation by definition, one output position at a time."""
    rank = x.ndim - 2
    pads = [
        _pads(x.shape[1 + i], kernel.shape[i], strides[i], dilation[i], padding)
        for i in range(rank)
    ]
    xpad = np.pad(x, [(0, 0), *pads, (0, 0)])
    groups = x.shape[-1] // kernel.shape[-2]
    kc, f = kernel.shape[-2:]
    out_sizes = [
        (xpad.shape[1 + i] - (kernel.shape[i] - 1) * dilation[i] - 1) // strides[i] + 1
        for i in range(rank)
    ]
    out = np.zeros((x.shape[0], *out_sizes, f))
    fg = f // groups
    for pos in itertools.product(*(range(n) for n in out_sizes)):
        index = tuple(
            p * s + np.arange(k) * d
            for p, s, k, d in zip(pos, strides, kernel.shape[:rank], dilation)
        )
        patch = xpad[(slice(None), *np.ix_(*index))] if rank > 1 else xpad[:, index[0]]
        for g in range(groups):
            pg = patch[..., g * kc : (g + 1) * kc]
            kg = kernel[..., g * fg : (g + 1) * fg]
            out[(slice(None), *pos, slice(g * fg, (g + 1) * fg))] = np.tensordot(
                pg, kg, axes=(list(range(1, rank + 2)), list(range(rank + 1)))
            )
    return out


@pytest.mark.parametrize(
    "x_shape, k_shape, strides, padding, dilation",
    [
        ((2, 9, 3), (3, 3, 4), (2,), "same", (1,)),
        ((2, 9, 4), (2, 2, 6), (1,), "valid", (3,)),
        ((1, 6, 5, 4), (3, 2, 2, 4), (2, 1), "same", (1, 2)),
        ((2, 5, 6, 4, 2), (3, 2, 2, 2, 3), (2, 1, 2), "same", (1, 2, 1)),
        ((1, 6, 5, 5, 2), (2, 3, 2, 1, 4), (1, 1, 1), "valid", (2, 1, 1)),
    ],
)
def test_conv_matches_the_definition(x_shape, k_shape, strides, padding, dilation):
    rng = np.random.default_rng(0)
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    got = nn.conv(x, kernel, strides=strides, padding=padding, dilation_rate=dilation)
    np.testing.assert_allclose(
        got, conv_reference(x, kernel, strides, padding, dilation), rtol=1e-10, atol=1e-12
    )


def test_depthwise_and_separable_are_grouped_convs():
    rng = np.random.default_rng(1)
    x, dk = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 2))
    grouped = dk.reshape(3, 2, 1, 6)  # channel c, multiplier m -> output c*2+m
    np.testing.assert_allclose(
        nn.depthwise_conv(x, dk, padding="same"),
        conv_reference(x, grouped, (1, 1), "same", (1, 1)),
        rtol=1e-10,
    )
    pk = rng.standard_normal((1, 1, 6, 4))
    mid = conv_reference(x, grouped, (1, 1), "valid", (1, 1))
    np.testing.assert_allclose(
        nn.separable_conv(x, dk, pk), np.tensordot(mid, pk[0, 0], axes=1), rtol=1e-10
    )


def test_conv_transpose_is_the_adjoint_of_conv():
    rng = np.random.default_rng(2)
    for size, strides in (((8,), 2), ((8, 9), (2, 3)), ((4, 6, 3), (2, 3, 1))):
        rank = len(size)
        x = rng.standard_normal((2, *size, 3))
        kernel = rng.standard_normal((*(3,) * rank, 3, 4))  # conv: 3 -> 4 channels
        y = nn.conv(x, kernel, strides=strides, padding="same")
        g = rng.standard_normal(y.shape)
        xt = nn.conv_transpose(g, kernel, strides=strides, padding="same", output_padding=None)
        assert xt.shape == x.shape  # "same": size * stride
        # <conv(x), g> == <x, conv_transpose(g)>
        np.testing.assert_allclose(np.sum(y * g), np.sum(x * xt), rtol=1e-10)


def pool_reference(x, pool, strides, padding, reduce):
    rank = x.ndim - 2
    pads = [_pads(x.shape[1 + i], pool[i], strides[i], 1, padding) for i in range(rank)]
    sizes = [(x.shape[1 + i] + sum(pads[i]) - pool[i]) // strides[i] + 1 for i in range(rank)]
    out = np.zeros((x.shape[0], *sizes, x.shape[-1]))
    for pos in itertools.product(*(range(n) for n in sizes)):
        window = tuple(
            slice(max(p * s - b, 0), min(p * s - b + k, n))
            for p, s, k, (b, _), n in zip(pos, strides, pool, pads, x.shape[1:-1])
        )
        block = x[(slice(None), *window)].reshape(x.shape[0], -1, x.shape[-1])
        out[(slice(None), *pos)] = reduce(block, axis=1)
    return out


@pytest.mark.parametrize(
    "shape, pool, strides, padding",
    [
        ((2, 9, 3), (3,), (2,), "same"),
        ((2, 7, 6, 2), (2, 3), (2, 2), "same"),
        ((2, 7, 6, 2), (3, 2), (1, 2), "valid"),
        ((1, 5, 6, 7, 2), (2, 3, 2), (2, 2, 3), "same"),
        ((1, 5, 6, 7, 2), (3, 2, 3), (1, 2, 2), "valid"),
    ],
)
def test_pools_match_the_definition(shape, pool, strides, padding):
    x = np.random.default_rng(4).standard_normal(shape)
    for op, reduce in ((nn.max_pool, np.max), (nn.average_pool, np.mean)):
        np.testing.assert_allclose(
            op(x, pool, strides, padding),
            pool_reference(x, pool, strides, padding, reduce),
            rtol=1e-12,
        )


def test_adaptive_pools_use_pytorch_bins():
    x = np.random.default_rng(5).standard_normal((2, 7, 5, 3))
    out_h, out_w = 3, 4
    expected_max = np.zeros((2, out_h, out_w, 3))
    expected_avg = np.zeros((2, out_h, out_w, 3))
    for i, j in itertools.product(range(out_h), range(out_w)):
        rows = slice(i * 7 // out_h, -(-(i + 1) * 7 // out_h))
        cols = slice(j * 5 // out_w, -(-(j + 1) * 5 // out_w))
        expected_max[:, i, j] = x[:, rows, cols].max(axis=(1, 2))
        expected_avg[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
    np.testing.assert_allclose(nn.adaptive_max_pool(x, (out_h, out_w)), expected_max)
    np.testing.assert_allclose(nn.adaptive_average_pool(x, (out_h, out_w)), expected_avg)


def test_encodings_and_losses_against_numpy():
    labels = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(nn.one_hot(labels, 4), np.eye(4, dtype="float32")[labels])
    np.testing.assert_array_equal(nn.multi_hot(labels, 4), [[1, 0, 0, 1], [0, 0, 1, 0]])
    rng = np.random.default_rng(6)
    logits, t = rng.standard_normal((4, 5)), rng.uniform(size=(4, 5))
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(
        nn.categorical_crossentropy(t, logits, from_logits=True), -(t * log_p).sum(-1)
    )
    y = np.array([1, 0, 4, 2])
    np.testing.assert_allclose(
        nn.sparse_categorical_crossentropy(y, logits, from_logits=True), -log_p[range(4), y]
    )
    p = _sigmoid(logits)
    np.testing.assert_allclose(
        nn.binary_crossentropy(t, logits, from_logits=True),
        -(t * np.log(p) + (1 - t) * np.log(1 - p)),
        rtol=1e-10,
    )


def test_normalisations_against_numpy():
    x = np.random.default_rng(7).standard_normal((3, 4, 5))
    mean, var = nn.moments(x, axes=(0, 1))
    np.testing.assert_allclose(mean, x.mean((0, 1)))
    np.testing.assert_allclose(var, x.var((0, 1)))
    z = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(nn.layer_normalization(x), z, rtol=1e-10)
    rms = x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(nn.rms_normalization(x), rms, rtol=1e-10)
    np.testing.assert_allclose(
        nn.normalize(x, axis=1), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12
    )
    bn = (x - 0.5) / np.sqrt(2.0 + 1e-3) * 3 + 1
    np.testing.assert_allclose(
        nn.batch_normalization(x, [0.5] * 5, [2.0] * 5, -1, offset=[1.0] * 5, scale=[3.0] * 5),
        bn,
    )
    np.testing.assert_allclose(
        nn.psnr(x, x + 0.1, 2.0), 20 * np.log10(2.0) - 10 * np.log10(0.01), rtol=1e-12
    )


def test_attention_against_numpy():
    rng = np.random.default_rng(8)
    q, k, v = (
        rng.standard_normal((2, 3, 4, 5)),
        rng.standard_normal((2, 6, 2, 5)),
        rng.standard_normal((2, 6, 2, 5)),
    )
    k4, v4 = np.repeat(k, 2, axis=2), np.repeat(v, 2, axis=2)  # head n reads kv head n // 2
    logits = np.einsum("btnh,bsnh->bnts", q, k4) / np.sqrt(5)
    logits = np.where(np.tril(np.ones((3, 6), bool)), logits, -np.inf)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = np.einsum("bnts,bsnh->btnh", probs, v4)
    np.testing.assert_allclose(
        nn.dot_product_attention(q, k, v, is_causal=True), expected, rtol=1e-10
    )


def test_unfold_fold_against_loops():
    x = np.random.default_rng(9).standard_normal((2, 3, 5, 6))
    cols = nn.unfold(x, (2, 3), stride=(1, 2), padding=(1, 0))
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    oh, ow = 6, 2
    expected = np.zeros((2, 3 * 6, oh * ow))
    for i, j in itertools.product(range(oh), range(ow)):
        expected[:, :, i * ow + j] = xpad[:, :, i : i + 2, 2 * j : 2 * j + 3].reshape(2, -1)
    np.testing.assert_allclose(cols, expected)
    # fold is the adjoint of unfold: <unfold(x), c> == <x, fold(c)>
    c = np.random.default_rng(10).standard_normal(cols.shape)
    folded = nn.fold(c, (5, 6), (2, 3), stride=(1, 2), padding=(1, 0))
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * folded), rtol=1e-12)


def test_depth_to_space_inverts_space_to_depth():
    x = np.random.default_rng(11).standard_normal((2, 4, 6, 3))
    for fmt, y in (("channels_last", x), ("channels_first", x.transpose(0, 3, 1, 2))):
        packed = nn.space_to_depth(y, 2, data_format=fmt)
        np.testing.assert_array_equal(nn.depth_to_space(packed, 2, data_format=fmt), y)


# ---------------------------------------------------------------------------
# Arrays in, arrays out; tensors in, tensors out (and differentiable)
# ---------------------------------------------------------------------------


def test_numpy_in_numpy_out_tensor_in_tensor_out():
    x = np.random.default_rng(12).standard_normal((1, 4, 4, 2)).astype("float32")
    k = np.ones((2, 2, 2, 3), "float32")
    assert isinstance(nn.conv(x, k), np.ndarray)
    assert isinstance(nn.conv(Tensor(x), k), Tensor)
    mean, var = nn.moments(Tensor(x), axes=(1, 2))
    assert isinstance(mean, Tensor) and isinstance(var, Tensor)
    w = Variable(k)
    nn.relu(nn.conv(x, w)).sum().backward()
    assert w.grad is not None and w.grad.shape == k.shape
    assert isinstance(nn.one_hot(Tensor(np.array([1, 0])), 2), Tensor)


# ---------------------------------------------------------------------------
# float64 gradient checks: (id, fn of Tensors, input arrays, wrt)
# ---------------------------------------------------------------------------

R = np.random.default_rng(99)


def g(*shape):
    return R.standard_normal(shape)


KINKS = {
    "relu": [0],
    "relu6": [0, 6],
    "sparse_sigmoid": [-1, 1],
    "soft_shrink": [-0.5, 0.5],
    "sparse_plus": [-1, 1],
    "leaky_relu": [0],
    "hard_sigmoid": [-3, 3],
    "hard_silu": [-3, 3],
    "hard_swish": [-3, 3],
    "elu": [0],
    "selu": [0],
    "celu": [0],
    "hard_tanh": [-1, 1],
    "hard_shrink": [-0.5, 0.5],
}

GRAD_CASES = [
    (name, getattr(nn, name), [away_from(KINKS.get(name, []), 3, 4, lo=-7, hi=7)], None)
    for name in ACTIVATIONS
]
GRAD_CASES += [
    ("gelu_exact", lambda x: nn.gelu(x, approximate=False), [g(3, 4)], None),
    ("threshold", lambda x: nn.threshold(x, 0.3, -2.0), [away_from([0.3], 3, 4)], None),
    ("glu", lambda x: nn.glu(x, axis=0), [g(4, 3)], None),
    ("softmax_axes", lambda x: nn.softmax(x, axis=(0, 2)), [g(2, 3, 4)], None),
    ("log_softmax", lambda x: nn.log_softmax(x, axis=1), [g(2, 3, 4)], None),
    ("sparsemax", lambda x: nn.sparsemax(x, axis=-1), [g(3, 5) * 2], None),
    (
        "conv1d",
        lambda x, k: nn.conv(x, k, strides=2, padding="same"),
        [g(2, 7, 3), g(3, 3, 2)],
        None,
    ),
    (
        "conv2d_groups_cf",
        lambda x, k: nn.conv(x, k, padding="same", data_format="channels_first"),
        [g(1, 4, 5, 4), g(3, 2, 2, 4)],
        None,
    ),
    (
        "conv3d",
        lambda x, k: nn.conv(x, k, strides=(2, 1, 1), padding="same"),
        [g(1, 5, 4, 3, 2), g(2, 2, 3, 2, 2)],
        None,
    ),
    (
        "depthwise1d",
        lambda x, k: nn.depthwise_conv(x, k, padding="same"),
        [g(2, 6, 2), g(3, 2, 2)],
        None,
    ),
    (
        "separable2d",
        lambda x, a, b: nn.separable_conv(x, a, b, strides=2),
        [g(1, 5, 5, 2), g(2, 2, 2, 2), g(1, 1, 4, 3)],
        None,
    ),
    (
        "conv_transpose1d",
        lambda x, k: nn.conv_transpose(x, k, strides=2),
        [g(2, 4, 3), g(3, 2, 3)],
        None,
    ),
    (
        "conv_transpose2d",
        lambda x, k: nn.conv_transpose(x, k, strides=2, padding="same"),
        [g(1, 3, 3, 2), g(3, 3, 2, 2)],
        None,
    ),
    (
        "depthwise3d",
        lambda x, k: nn.depthwise_conv(x, k, padding="same"),
        [g(1, 3, 3, 2, 2), g(2, 2, 1, 2, 2)],
        None,
    ),
    (
        "conv_transpose3d",
        lambda x, k: nn.conv_transpose(x, k, strides=(2, 1, 2), padding="same"),
        [g(1, 2, 3, 2, 2), g(2, 2, 3, 3, 2)],
        None,
    ),
    ("max_pool1d", lambda x: nn.max_pool(x, 2, padding="same"), [g(2, 7, 2)], None),
    ("max_pool3d", lambda x: nn.max_pool(x, 2, strides=1), [g(1, 3, 4, 3, 2)], None),
    ("avg_pool2d_same", lambda x: nn.average_pool(x, 3, 2, padding="same"), [g(1, 5, 4, 2)], None),
    (
        "avg_pool3d",
        lambda x: nn.average_pool(x, (2, 2, 3), 1, data_format="channels_first"),
        [g(1, 2, 3, 4, 4)],
        None,
    ),
    ("adaptive_max", lambda x: nn.adaptive_max_pool(x, (2, 3)), [g(1, 5, 4, 2)], None),
    ("adaptive_avg", lambda x: nn.adaptive_average_pool(x, 3), [g(1, 5, 2)], None),
    (
        "bce_probs",
        lambda p: nn.binary_crossentropy(np.ones((3, 4)) * 0.3, p),
        [R.uniform(0.1, 0.9, (3, 4))],
        None,
    ),
    (
        "bce_logits",
        lambda z: nn.binary_crossentropy(np.ones((3, 4)) * 0.3, z, from_logits=True),
        [g(3, 4)],
        None,
    ),
    (
        "cce_axis0",
        lambda z: nn.categorical_crossentropy(np.eye(3)[:, :2], z, True, axis=0),
        [g(3, 2)],
        None,
    ),
    (
        "scce_probs",
        lambda p: nn.sparse_categorical_crossentropy(np.array([2, 0]), p),
        [R.uniform(0.1, 1, (2, 3))],
        None,
    ),
    ("moments", lambda x: nn.moments(x, axes=(0, 2))[1], [g(2, 3, 4)], None),
    (
        "batch_normalization",
        lambda x, m, v, b, s: nn.batch_normalization(x, m, v, 1, b, s),
        [g(2, 3, 2), g(3), R.uniform(0.5, 2, 3), g(3), g(3)],
        None,
    ),
    (
        "layer_normalization",
        lambda x, gamma, beta: nn.layer_normalization(x, gamma, beta, axis=(1, 2)),
        [g(2, 3, 2), g(3, 2), g(3, 2)],
        None,
    ),
    ("rms_normalization", lambda x, s: nn.rms_normalization(x, s), [g(3, 4), g(4)], None),
    ("normalize", lambda x: nn.normalize(x, axis=0), [g(3, 4)], None),
    ("normalize_l1", lambda x: nn.normalize(x, order=1), [g(3, 4)], None),
    ("psnr", lambda a, b: nn.psnr(a, b, 1.0), [g(2, 3), g(2, 3)], None),
    (
        "attention",
        lambda q, k, v, b: nn.dot_product_attention(q, k, v, bias=b),
        [g(1, 3, 2, 2), g(1, 4, 1, 2), g(1, 4, 1, 2), g(1, 2, 3, 4)],
        None,
    ),
    (
        "attention_mask",
        lambda q, k, v: nn.dot_product_attention(
            q, k, v, mask=np.array([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 1]], bool), scale=0.5
        ),
        [g(1, 3, 2, 2), g(1, 4, 2, 2), g(1, 4, 2, 2)],
        None,
    ),
    ("unfold", lambda x: nn.unfold(x, 2, padding=1, stride=2), [g(1, 2, 4, 3)], None),
    ("fold", lambda c: nn.fold(c, (4, 3), 2, padding=1, stride=2), [g(1, 8, 6)], None),
    ("depth_to_space", lambda x: nn.depth_to_space(x, 2, "channels_first"), [g(1, 8, 2, 2)], None),
    ("space_to_depth", lambda x: nn.space_to_depth(x, 2), [g(1, 4, 2, 2)], None),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_float32_values_and_gradients_stay_float32(case):
    fn, arrays = case[1], case[2]
    inputs = [Variable(np.asarray(a, "float32")) if _is_float(a) else a for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    for v in inputs:
        if isinstance(v, Variable):
            assert v.grad.dtype == np.float32


def _is_float(a):
    return np.asarray(a).dtype.kind == "f"


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients(case):
    _, fn, arrays, wrt = case
    gradcheck(fn, *arrays, wrt=wrt)


# ---------------------------------------------------------------------------
# Errors name the argument and echo the value
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: nn.conv(IMG2, normal(3, 3, 4, 2), padding="full"), ValueError, "padding"),
        (lambda: nn.conv(IMG2, normal(3, 3, 3, 2)), ValueError, "multiple of the kernel's input"),
        (lambda: nn.conv(IMG2, normal(3, 4, 2)), ValueError, "kernel` must have rank 4"),
        (lambda: nn.conv(IMG2, normal(3, 3, 4, 2), strides=0), ValueError, "strides"),
        (lambda: nn.conv(IMG2, normal(3, 3, 4, 2), data_format="NHWC"), ValueError, "data_format"),
        (lambda: nn.conv(normal(2, 3), normal(3, 3)), ValueError, "rank 3, 4 or 5"),
        (lambda: nn.depthwise_conv(IMG2, normal(3, 3, 3, 1)), ValueError, "channels = 4"),
        (lambda: nn.max_pool(IMG2, (2, 2, 2)), ValueError, "pool_size"),
        (lambda: nn.adaptive_max_pool(IMG2, 0), ValueError, "output_size"),
        (lambda: nn.glu(normal(2, 3)), ValueError, "even"),
        (lambda: nn.softmax(X, axis=3), ValueError, "axis"),
        (lambda: nn.celu(X, alpha=0), ValueError, "alpha"),
        (lambda: nn.one_hot(np.array([1]), 0), ValueError, "num_classes"),
        (lambda: nn.one_hot(np.array([1.5]), 3), ValueError, "integer class"),
        (lambda: nn.one_hot(np.array([1]), 3, sparse=True), ValueError, "sparse"),
        (lambda: nn.multi_hot(np.array([1])), ValueError, "num_classes"),
        (
            lambda: nn.binary_crossentropy(np.ones((2, 3)), np.ones((3, 2))),
            ValueError,
            "same shape",
        ),
        (lambda: nn.sparse_categorical_crossentropy(np.array([0, 1]), PROBS), ValueError, "class"),
        (lambda: nn.moments(X, 0, synchronized=True), NotImplementedError, "synchronized"),
        (lambda: nn.normalize(X, order=0), ValueError, "order"),
        (lambda: nn.psnr(X, X[0], 1.0), ValueError, "must match"),
        (lambda: nn.dot_product_attention(Q, K, V, bias=0.0, mask=True), ValueError, "Only one"),
        (lambda: nn.dot_product_attention(Q[0], K, V), ValueError, "4D"),
        (lambda: nn.dot_product_attention(Q, K, V, flash_attention=True), ValueError, "Flash"),
        (lambda: nn.unfold(normal(1, 1, 2, 2), 3), ValueError, "do not fit"),
        (lambda: nn.fold(normal(1, 5, 4), (3, 3), 2), ValueError, "columns"),
        (lambda: nn.depth_to_space(normal(1, 2, 2, 6), 2), ValueError, "divisible"),
        (lambda: nn.space_to_depth(normal(1, 3, 2, 6), 0), ValueError, "block_size"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_ops_inside_a_custom_layer_train():
    import cnnkit
    from cnnkit.ops import image

    class ConvNorm(cnnkit.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(
                shape=(3, 3, input_shape[-1], 4), initializer="glorot_uniform"
            )

        def call(self, x):
            y = nn.layer_normalization(nn.relu6(nn.conv(x, self.kernel, padding="same")))
            return image.resize(nn.max_pool(y, 2), (3, 3))

    cnnkit.utils.set_random_seed(0)
    inputs = cnnkit.Input((8, 8, 2))
    outputs = cnnkit.layers.Dense(1)(cnnkit.layers.Flatten()(ConvNorm()(inputs)))
    model = cnnkit.Model(inputs, outputs)
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(16, 8, 8, 2)), rng.uniform(size=(16, 1))
    kernel_before = model.layers[1].kernel.numpy().copy()
    history = model.fit(x, y, epochs=4, verbose=0).history["loss"]
    assert history[-1] < history[0]
    assert not np.allclose(model.layers[1].kernel.numpy(), kernel_before)
