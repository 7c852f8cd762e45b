"""ONNX export: every supported layer and the applications, run by onnxruntime against predict."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnnkit import applications, backend
from cnnkit import layers as L
from cnnkit.export import export_command, export_onnx, supported_layers
from cnnkit.models import Model, Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RTOL = ATOL = 1e-5


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------


def _randomize(model, seed=0):
    """Non-trivial biases and BatchNormalization statistics (kernels keep their initializer)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.name in ("gamma", "moving_variance"):
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif w.name in ("bias", "beta", "moving_mean"):
            w.assign(rng.normal(0.0, 0.2, w.shape).astype("float32"))
    return model


def _data(model, batch=3, seed=1, sizes=None):
    """Random inputs for every model input (integers in [0, 20) for integer inputs).

    ``sizes`` maps an axis to the size to use where the Input's size is unknown (default 5).
    """
    rng = np.random.default_rng(seed)
    sizes = sizes or {}
    arrays = []
    for tensor in model.inputs:
        dims = [sizes.get(axis, 5) if d is None else d for axis, d in enumerate(tensor.shape)]
        shape = [batch, *dims[1:]]
        if np.dtype(tensor.dtype).kind in "iu":
            arrays.append(rng.integers(0, 20, shape).astype(tensor.dtype))
        else:
            arrays.append(rng.standard_normal(shape).astype(tensor.dtype))
    return arrays


def _check(model, tmp_path, inputs=None, opset=17, rtol=RTOL, atol=ATOL):
    """Export, validate the file, and compare onnxruntime with predict at batch sizes 1 and 3."""
    path = tmp_path / "model.onnx"
    export_onnx(model, path, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    runtime = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert all(i.shape[0] == "batch" for i in runtime.get_inputs())
    inputs = _data(model) if inputs is None else inputs
    names = [i.name for i in runtime.get_inputs()]
    for batch in (1, 3):
        given = [a[:batch] for a in inputs]
        got = runtime.run(None, dict(zip(names, given)))
        expected = model.predict(given if len(given) > 1 else given[0], verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return runtime


def _model(fn, *shapes, dtype=None):
    """A functional model of ``fn`` applied to one ``Input`` per shape."""
    inputs = [L.Input(shape=s, dtype=dtype) for s in shapes]
    return _randomize(Model(inputs if len(inputs) > 1 else inputs[0], fn(*inputs)))


def _conv(x, filters=4, kernel=3, **kwargs):
    return L.Conv2D(filters, kernel, padding="same", **kwargs)(x)


# ---------------------------------------------------------------------------
# One case per layer and option: (id, function of the inputs, input shapes)
# ---------------------------------------------------------------------------


def _chain(*make):
    """``x -> layer_n(...layer_1(x))`` with the layers made when the model is built."""

    def apply(x):
        for m in make:
            x = m()(x)
        return x

    return apply


ACTIVATIONS = ["relu", "softmax", "sigmoid", "tanh", "elu", "leaky_relu", "selu", "gelu"]
ACTIVATIONS += ["silu", "swish", "linear"]
ACTIVATIONS += ["softplus", "softsign", "relu6", "hard_tanh", "hard_sigmoid", "hard_silu"]
ACTIVATIONS += ["hard_swish", "sparse_sigmoid", "mish", "celu", "exponential", "log_softmax"]
ACTIVATIONS += ["log_sigmoid", "soft_shrink", "hard_shrink", "tanh_shrink", "squareplus"]
ACTIVATIONS += ["sparse_plus"]

CASES = [
    # core
    ("dense_relu", _chain(lambda: L.Dense(5, activation="relu")), [(4,)]),
    ("dense_3d_softmax", _chain(lambda: L.Dense(3, activation="softmax")), [(5, 4)]),
    (
        "dense_4d_no_bias",
        _chain(lambda: L.Dense(3, use_bias=False, activation="tanh")),
        [(2, 3, 4)],
    ),
    *[(f"activation_{a}", _chain(lambda a=a: L.Activation(a)), [(3, 6)]) for a in ACTIVATIONS],
    ("conv_softmax", lambda x: L.Activation("softmax")(_conv(x)), [(6, 6, 2)]),
    ("relu_max", _chain(lambda: L.ReLU(max_value=0.5)), [(3, 6)]),
    ("relu_slope_threshold", _chain(lambda: L.ReLU(negative_slope=0.1, threshold=0.5)), [(6,)]),
    ("relu_all", _chain(lambda: L.ReLU(1.0, negative_slope=0.2, threshold=0.3)), [(6,)]),
    ("leaky_relu", _chain(lambda: L.LeakyReLU()), [(6,)]),
    ("elu", lambda x: L.ELU(alpha=0.5)(_conv(x)), [(5, 5, 2)]),
    ("softmax_axis1", _chain(lambda: L.Softmax(axis=1)), [(3, 4)]),
    ("softmax_axis1_conv", lambda x: L.Softmax(axis=1)(_conv(x)), [(4, 5, 2)]),
    ("flatten", lambda x: L.Dense(3)(L.Flatten()(_conv(x, 3, 2))), [(4, 5, 2)]),
    ("reshape", _chain(lambda: L.Reshape((3, 4))), [(12,)]),
    ("reshape_conv", lambda x: L.Reshape((-1, 4))(_conv(x)), [(5, 5, 2)]),
    ("dropouts", lambda x: L.SpatialDropout2D(0.3)(L.Dropout(0.5)(_conv(x))), [(5, 5, 2)]),
    ("rescaling", _chain(lambda: L.Rescaling(0.5, offset=-1.0)), [(4, 4, 3)]),
    (
        "rescaling_channels",
        lambda x: L.Rescaling([0.5, 2, 1], [0, 1, -1])(_conv(x, 3)),
        [(4, 4, 3)],
    ),
    ("batch_norm_2d", _chain(lambda: L.BatchNormalization()), [(4,)]),
    ("batch_norm_conv", lambda x: L.BatchNormalization()(_conv(x)), [(5, 5, 2)]),
    ("batch_norm_axis1", _chain(lambda: L.BatchNormalization(axis=1)), [(5, 6, 3)]),
    ("batch_norm_axis1_conv", lambda x: L.BatchNormalization(axis=1)(_conv(x)), [(5, 6, 3)]),
    (
        "batch_norm_plain",
        lambda x: L.BatchNormalization(center=False, scale=False, epsilon=0.1)(_conv(x)),
        [(5, 5, 2)],
    ),
    # convolutions
    ("conv_valid", _chain(lambda: L.Conv2D(4, 3)), [(7, 7, 3)]),
    ("conv_same_stride2", _chain(lambda: L.Conv2D(4, 3, strides=2, padding="same")), [(7, 8, 3)]),
    ("conv_same_even", _chain(lambda: L.Conv2D(3, (2, 4), padding="same")), [(6, 7, 2)]),
    ("conv_full", _chain(lambda: L.Conv2D(3, 3, strides=2, padding="full")), [(6, 6, 2)]),
    ("conv_dilated", _chain(lambda: L.Conv2D(3, 3, dilation_rate=2, padding="same")), [(9, 8, 2)]),
    (
        "conv_rect",
        _chain(lambda: L.Conv2D(3, (3, 2), strides=(2, 1), activation="tanh")),
        [(8, 7, 2)],
    ),
    (
        "conv_no_bias",
        _chain(lambda: L.Conv2D(3, 3, use_bias=False, activation="selu")),
        [(5, 5, 2)],
    ),
    (
        "conv_same_unknown_size",
        _chain(lambda: L.Conv2D(3, 3, strides=3, padding="same"), lambda: L.Conv2D(2, 2)),
        [(None, None, 2)],
    ),
    (
        "depthwise",
        _chain(lambda: L.DepthwiseConv2D(3, 2, "same", depth_multiplier=2, activation="relu")),
        [(7, 7, 3)],
    ),
    (
        "depthwise_dilated_full",
        _chain(lambda: L.DepthwiseConv2D((2, 3), dilation_rate=2, padding="full")),
        [(6, 6, 2)],
    ),
    (
        "separable_same",
        _chain(lambda: L.SeparableConv2D(5, 3, padding="same", depth_multiplier=2)),
        [(6, 6, 3)],
    ),
    (
        "separable_strided",
        _chain(lambda: L.SeparableConv2D(4, 3, strides=2, activation="relu")),
        [(7, 8, 3)],
    ),
    *[
        (
            f"conv_transpose_{padding}_k{k}_s{s}_p{p}_d{d}",
            _chain(
                lambda k=k, s=s, padding=padding, p=p, d=d: L.Conv2DTranspose(
                    3, k, strides=s, padding=padding, output_padding=p, dilation_rate=d
                )
            ),
            [(4, 5, 2)],
        )
        for padding, k, s, p, d in [
            ("valid", 3, 2, None, 1),
            ("same", 3, 2, None, 1),
            ("same", 4, 2, None, 1),
            ("same", 3, 2, 1, 1),
            ("valid", 3, 2, 1, 1),
            ("valid", 2, 3, None, 1),
            ("same", 3, 1, None, 2),
            ("valid", 1, 2, None, 1),
            ("same", 1, 3, None, 1),
            ("same", 2, 3, 0, 1),
        ]
    ],
    ("conv1d_valid", _chain(lambda: L.Conv1D(4, 3, activation="relu")), [(7, 3)]),
    ("conv1d_same_stride2", _chain(lambda: L.Conv1D(4, 4, strides=2, padding="same")), [(7, 3)]),
    ("conv1d_causal", _chain(lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2)), [(8, 2)]),
    ("conv1d_full", _chain(lambda: L.Conv1D(3, 2, padding="full")), [(5, 2)]),
    # pooling
    ("max_pool_overlap", _chain(lambda: L.MaxPooling2D(3, strides=2)), [(7, 8, 2)]),
    ("max_pool_same", lambda x: L.MaxPooling2D(3, 2, "same")(_conv(x)), [(7, 8, 2)]),
    ("avg_pool_same", lambda x: L.AveragePooling2D(3, 2, "same")(_conv(x)), [(7, 8, 2)]),
    ("avg_pool_valid", _chain(lambda: L.AveragePooling2D(2)), [(7, 7, 2)]),
    (
        "avg_pool_same_unknown_size",
        _chain(lambda: L.AveragePooling2D(2, padding="same"), lambda: L.MaxPooling2D(3, 2, "same")),
        [(None, None, 2)],
    ),
    ("max_pool_1d_same", _chain(lambda: L.MaxPooling1D(3, 2, "same")), [(7, 3)]),
    ("avg_pool_1d_same", _chain(lambda: L.AveragePooling1D(3, 2, "same")), [(8, 3)]),
    ("avg_pool_1d_valid", _chain(lambda: L.AveragePooling1D(2)), [(7, 3)]),
    *[
        (
            f"{cls.__name__}_keepdims_{keep}",
            lambda x, cls=cls, k=keep: cls(keepdims=k)(_conv(x)),
            [(5, 4, 3)],
        )
        for cls in (L.GlobalMaxPooling2D, L.GlobalAveragePooling2D)
        for keep in (False, True)
    ],
    *[
        (
            f"{cls.__name__}_keepdims_{keep}",
            lambda x, cls=cls, k=keep: cls(keepdims=k)(L.Conv1D(3, 2)(x)),
            [(6, 2)],
        )
        for cls in (L.GlobalMaxPooling1D, L.GlobalAveragePooling1D)
        for keep in (False, True)
    ],
    # merging
    *[
        (f"merge_{cls.__name__}", lambda x, cls=cls: cls()([_conv(x), _conv(x)]), [(5, 5, 2)])
        for cls in (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)
    ],
    ("merge_three", lambda x: L.Add()([_conv(x, 2), x, _conv(x, 2)]), [(5, 5, 2)]),
    ("average_three", lambda x: L.Average()([x, x, _conv(x, 2)]), [(5, 5, 2)]),
    (
        "multiply_broadcast",
        lambda x: L.Multiply()([_conv(x), L.Dense(4)(L.GlobalAveragePooling2D()(x))]),
        [(5, 5, 2)],
    ),
    ("concat_channels", lambda x: L.Concatenate()([_conv(x, 2), _conv(x, 3), x]), [(5, 5, 2)]),
    ("concat_height", lambda x: L.Concatenate(axis=1)([_conv(x), _conv(x)]), [(4, 5, 2)]),
    ("concat_2d", lambda a, b: L.Concatenate()([L.Dense(2)(a), b]), [(3,), (4,)]),
    # spatial reshaping and resizing
    ("zero_padding", _chain(lambda: L.ZeroPadding2D(((1, 2), (0, 3)))), [(4, 5, 2)]),
    ("zero_padding_conv", lambda x: L.ZeroPadding2D((2, 1))(_conv(x)), [(4, 5, 2)]),
    ("cropping", _chain(lambda: L.Cropping2D(((1, 0), (2, 1)))), [(5, 6, 2)]),
    ("cropping_conv", lambda x: L.Cropping2D(1)(_conv(x)), [(5, 6, 2)]),
    ("upsampling_nearest", _chain(lambda: L.UpSampling2D((2, 3))), [(3, 4, 2)]),
    ("upsampling_bilinear", lambda x: L.UpSampling2D(2, interpolation="bilinear")(x), [(3, 4, 2)]),
    ("resizing_bilinear", _chain(lambda: L.Resizing(4, 7)), [(5, 5, 2)]),
    ("resizing_nearest", _chain(lambda: L.Resizing(3, 7, interpolation="nearest")), [(5, 4, 2)]),
    ("resizing_nearest_up", _chain(lambda: L.Resizing(9, 6, interpolation="nearest")), [(4, 5, 1)]),
    ("resizing_crop", _chain(lambda: L.Resizing(3, 3, crop_to_aspect_ratio=True)), [(6, 4, 1)]),
    (
        "resizing_pad",
        _chain(lambda: L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=0.5)),
        [(6, 3, 2)],
    ),
    ("random_crop", _chain(lambda: L.RandomCrop(4, 3)), [(6, 6, 2)]),
    (
        "augmentation",
        _chain(
            lambda: L.RandomFlip(),
            lambda: L.RandomRotation(0.2),
            lambda: L.RandomTranslation(0.1, 0.1),
            lambda: L.RandomZoom(0.2),
            lambda: L.RandomContrast(0.3),
            lambda: L.RandomBrightness(0.2),
        ),
        [(6, 6, 3)],
    ),
    (
        "augmentation_geometric_mixing_policies",
        _chain(
            lambda: L.RandomShear(0.2, 0.2),
            lambda: L.RandomPerspective(),
            lambda: L.RandomElasticTransform(),
            lambda: L.CutMix(),
            lambda: L.MixUp(),
            lambda: L.RandAugment(),
            lambda: L.AugMix(),
        ),
        [(6, 6, 3)],
    ),
    ("masking", lambda x: L.Dense(2)(L.Masking(0.0)(x)), [(5, 3)]),
    # recurrent
    ("simple_rnn", _chain(lambda: L.SimpleRNN(4)), [(5, 3)]),
    (
        "simple_rnn_relu_backwards",
        _chain(lambda: L.SimpleRNN(4, "relu", return_sequences=True, go_backwards=True)),
        [(5, 3)],
    ),
    ("lstm", _chain(lambda: L.LSTM(4)), [(5, 3)]),
    ("lstm_sequences", _chain(lambda: L.LSTM(4, return_sequences=True)), [(5, 3)]),
    ("lstm_backwards", _chain(lambda: L.LSTM(4, go_backwards=True)), [(5, 3)]),
    (
        "lstm_backwards_sequences",
        _chain(lambda: L.LSTM(4, return_sequences=True, go_backwards=True)),
        [(5, 3)],
    ),
    (
        "lstm_hard_sigmoid_linear",
        _chain(lambda: L.LSTM(3, activation=None, recurrent_activation="hard_sigmoid")),
        [(5, 3)],
    ),
    ("lstm_no_bias_relu", _chain(lambda: L.LSTM(3, activation="relu", use_bias=False)), [(5, 3)]),
    ("gru", _chain(lambda: L.GRU(4)), [(5, 3)]),
    ("gru_reset_before", _chain(lambda: L.GRU(4, reset_after=False)), [(5, 3)]),
    (
        "gru_backwards_sequences",
        _chain(lambda: L.GRU(4, return_sequences=True, go_backwards=True)),
        [(5, 3)],
    ),
    ("gru_hard_sigmoid", _chain(lambda: L.GRU(3, recurrent_activation="hard_sigmoid")), [(5, 3)]),
    ("gru_no_bias", _chain(lambda: L.GRU(3, use_bias=False)), [(5, 3)]),
    ("lstm_return_state", lambda x: L.LSTM(3, return_state=True)(x), [(5, 3)]),
    (
        "lstm_initial_state",
        lambda s, v: L.LSTM(3)(s, initial_state=[L.Dense(3)(v), L.Dense(3)(v)]),
        [(5, 3), (2,)],
    ),
    ("conv1d_gru", lambda x: L.GRU(3)(L.Conv1D(4, 2)(x)), [(6, 3)]),
    (
        "bidirectional_concat",
        _chain(lambda: L.Bidirectional(L.LSTM(3, return_sequences=True))),
        [(5, 3)],
    ),
    ("bidirectional_sum", _chain(lambda: L.Bidirectional(L.GRU(3), merge_mode="sum")), [(5, 3)]),
    (
        "bidirectional_ave",
        _chain(lambda: L.Bidirectional(L.SimpleRNN(3), merge_mode="ave")),
        [(5, 3)],
    ),
    ("bidirectional_mul", _chain(lambda: L.Bidirectional(L.LSTM(3), merge_mode="mul")), [(5, 3)]),
    (
        "bidirectional_none_states",
        lambda x: L.Bidirectional(
            L.GRU(3, return_sequences=True, return_state=True), merge_mode=None
        )(x),
        [(5, 3)],
    ),
    # normalisation, PReLU and sequence reshapes
    ("layer_norm", _chain(lambda: L.LayerNormalization()), [(5, 4)]),
    ("layer_norm_axes", _chain(lambda: L.LayerNormalization(axis=[1, 3])), [(3, 2, 4)]),
    ("layer_norm_no_scale", _chain(lambda: L.LayerNormalization(scale=False)), [(6,)]),
    ("layer_norm_after_conv", lambda x: L.LayerNormalization()(_conv(x)), [(5, 5, 2)]),
    ("group_norm", _chain(lambda: L.GroupNormalization(2)), [(5, 4)]),
    ("group_norm_image", lambda x: L.GroupNormalization(4)(_conv(x, 8)), [(5, 6, 2)]),
    ("group_norm_volume", _chain(lambda: L.GroupNormalization(-1, center=False)), [(2, 3, 3, 2)]),
    ("group_norm_dynamic", _chain(lambda: L.GroupNormalization(3)), [(None, 6)]),
    ("prelu", _chain(lambda: L.PReLU(alpha_initializer="random_normal")), [(3, 4)]),
    (
        "prelu_shared_after_conv",
        lambda x: L.PReLU("random_normal", shared_axes=[1, 2])(_conv(x)),
        [(5, 5, 2)],
    ),
    ("permute", _chain(lambda: L.Permute((2, 3, 1))), [(2, 3, 4)]),
    ("permute_after_conv", lambda x: L.Permute((3, 1, 2))(_conv(x)), [(4, 5, 2)]),
    ("repeat_vector", _chain(lambda: L.RepeatVector(3)), [(4,)]),
    # 1-D convolution variants
    ("conv1d_transpose", _chain(lambda: L.Conv1DTranspose(3, 3, strides=2)), [(5, 2)]),
    (
        "conv1d_transpose_same_output_padding",
        _chain(lambda: L.Conv1DTranspose(2, 3, strides=2, padding="same", output_padding=1)),
        [(5, 3)],
    ),
    ("depthwise_conv1d", _chain(lambda: L.DepthwiseConv1D(3, depth_multiplier=2)), [(7, 3)]),
    (
        "depthwise_conv1d_same_strided",
        _chain(lambda: L.DepthwiseConv1D(3, strides=2, padding="same")),
        [(None, 2)],
    ),
    ("separable_conv1d", _chain(lambda: L.SeparableConv1D(4, 3, activation="relu")), [(8, 2)]),
    (
        "separable_conv1d_dilated",
        _chain(lambda: L.SeparableConv1D(3, 2, dilation_rate=2, depth_multiplier=2)),
        [(8, 2)],
    ),
    ("spatial_dropout1d", _chain(lambda: L.SpatialDropout1D(0.5)), [(5, 3)]),
    # volumes
    ("conv3d", _chain(lambda: L.Conv3D(3, 2, activation="relu")), [(4, 5, 4, 2)]),
    (
        "conv3d_same_strided",
        _chain(lambda: L.Conv3D(2, 3, strides=2, padding="same")),
        [(5, 5, 4, 1)],
    ),
    ("max_pool3d", _chain(lambda: L.MaxPooling3D(2)), [(4, 4, 5, 2)]),
    ("avg_pool3d_same", _chain(lambda: L.AveragePooling3D(2, padding="same")), [(3, 5, 5, 2)]),
    ("global_max_pool3d", _chain(lambda: L.GlobalMaxPooling3D()), [(3, 4, 4, 2)]),
    (
        "conv3d_global_avg_pool3d_keepdims",
        lambda x: L.GlobalAveragePooling3D(keepdims=True)(L.Conv3D(2, 2)(x)),
        [(3, 4, 4, 2)],
    ),
    ("spatial_dropout3d", _chain(lambda: L.SpatialDropout3D(0.5)), [(2, 3, 3, 2)]),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=i) for i, f, s in CASES])
def test_layer_matches_predict(fn, shapes, tmp_path):
    model = _model(fn, *shapes)
    inputs = _data(model, sizes={1: 8, 2: 7}) if None in shapes[0] else None
    _check(model, tmp_path, inputs)


def test_every_supported_layer_has_a_case():
    """Each converter is exercised by at least one case above."""
    covered = set()
    for _, fn, shapes in CASES:
        model = _model(fn, *shapes)
        stack = list(model.layers)
        while stack:
            layer = stack.pop()
            covered.add(type(layer).__name__)
            stack += getattr(layer, "_sublayers", list)()
    elsewhere = {"Functional", "Sequential", "Embedding"}  # the tests below
    elsewhere |= {"Normalization", "Operation"}  # test_op_nodes_normalization_and_grouped...
    elsewhere |= {"CustomScaleLayer", "LayerScale", "StochasticDepth"}  # the Keras zoo test
    missing = set(supported_layers()) - covered - elsewhere
    assert not missing


def test_embedding_integer_inputs(tmp_path):
    def fn(x):
        y = L.Embedding(20, 4)(x)
        return L.Dense(2)(L.GlobalMaxPooling1D()(L.Conv1D(3, 2)(y)))

    model = _model(fn, (6,), dtype="int32")
    runtime = _check(model, tmp_path)
    assert runtime.get_inputs()[0].type == "tensor(int32)"
    float_indices = _model(lambda x: L.Flatten()(L.Embedding(20, 3)(x)), (4,))  # cast, as Keras
    _check(float_indices, tmp_path, [np.arange(12, dtype="float32").reshape(3, 4)])


def test_integer_image_inputs(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 5, 5, 3)).astype("uint8")
    rescale = _model(lambda x: _conv(L.Rescaling(1 / 255)(x)), (5, 5, 3), dtype="uint8")
    _check(rescale, tmp_path, [images])
    nearest = _model(_chain(lambda: L.Resizing(3, 7, "nearest")), (5, 5, 3), dtype="uint8")
    _check(nearest, tmp_path, [images], atol=0)
    bilinear = _model(_chain(lambda: L.Resizing(3, 4)), (5, 5, 3), dtype="uint8")
    _check(bilinear, tmp_path, [images], atol=1)  # float32 rounding can tip a .5 the other way


def test_masking_zeroes_masked_steps(tmp_path):
    model = _model(lambda x: L.Dense(3)(L.Masking(0.5)(x)), (4, 2))
    x = np.random.default_rng(0).standard_normal((3, 4, 2)).astype("float32")
    x[0, 1], x[2, 3], x[1, 2, 0] = 0.5, 0.5, 0.5  # two masked steps, one step half equal
    runtime = _check(model, tmp_path, [x])
    (out,) = runtime.run(None, {runtime.get_inputs()[0].name: x})
    bias = model.layers[-1].bias.numpy()
    np.testing.assert_allclose(out[[0, 2], [1, 3]], [bias, bias], rtol=1e-6)
    assert not np.allclose(out[1, 2], bias)


@pytest.mark.parametrize("opset", [13, 18, 20])
def test_opsets(opset, tmp_path):
    """The ops whose signature changed across opsets: reductions, Squeeze, Resize, Gelu, Mish."""

    def fn(x):
        y = L.Activation("gelu")(L.UpSampling2D(2, interpolation="bilinear")(_conv(x)))
        y = L.Activation("mish")(y)
        seq = L.Reshape((-1, 4))(L.GlobalMaxPooling2D(keepdims=True)(y))
        vec = L.LSTM(3)(L.Concatenate(axis=1)([seq, L.Masking(1.0)(seq)]))  # mask dropped
        return L.Concatenate()([L.GlobalAveragePooling2D()(y), vec])

    _check(_model(fn, (4, 4, 2)), tmp_path, opset=opset)


def test_nested_models_are_inlined(tmp_path):
    inner = Sequential([L.Input(shape=(6, 6, 2)), L.Conv2D(3, 3), L.BatchNormalization()])
    i = L.Input(shape=(6, 6, 2))
    branch = Model(i, L.Activation("relu")(inner(i)))  # a functional model around a Sequential
    a, b = L.Input(shape=(6, 6, 2)), L.Input(shape=(6, 6, 2))
    shared = L.Add()([branch(a), branch(b)])  # used twice: one set of weights
    outer = _randomize(Model([a, b], L.Dense(2)(L.Flatten()(shared))))
    runtime = _check(outer, tmp_path)
    proto = onnx.load(str(tmp_path / "model.onnx"))
    assert sum("kernel" in init.name for init in proto.graph.initializer) == 2
    assert [i.name for i in runtime.get_inputs()] == [a.name, b.name]
    stacked = _randomize(Sequential([L.Input(shape=(6, 6, 2)), branch, L.GlobalMaxPooling2D()]))
    _check(stacked, tmp_path)


def test_sequential_without_input_layer(tmp_path):
    model = Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1)), L.Flatten(), L.Dense(2)])
    _check(_randomize(model), tmp_path)


def test_few_transposes_in_a_conv_stack(tmp_path):
    """Channels-first inside: one Transpose in, one before Flatten, none between the convs."""
    i = L.Input(shape=(8, 8, 3))
    x = L.MaxPooling2D()(L.BatchNormalization()(_conv(_conv(i), activation="relu")))
    proto = export_onnx(Model(i, L.Dense(2)(L.Flatten()(x))), tmp_path / "m.onnx")
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Transpose") == 2
    assert ops.index("Transpose", 1) > ops.index("MaxPool")


def test_input_and_output_signature(tmp_path):
    i = L.Input(shape=(None, None, 3), name="image")
    model = Model(i, L.Dense(4, name="scores")(L.GlobalAveragePooling2D()(_conv(i))))
    model.export(tmp_path / "m.onnx", format="onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, dims[0], dims[3], out.name) == ("image", "batch", 3, "scores")
    assert proto.opset_import[0].version == 17


# ---------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------

APPLICATIONS = [
    pytest.param(lambda: applications.lecture_cnn(), id="lecture_cnn"),
    pytest.param(lambda: applications.vgg_cifar(), id="vgg_cifar"),
    pytest.param(lambda: applications.LeNet5(), id="lenet5"),
    pytest.param(lambda: applications.LeNet5(input_shape=(28, 28, 1)), id="lenet5_28"),
    pytest.param(
        lambda: applications.AlexNet(include_top=False, input_shape=(67, 67, 3), pooling="max"),
        id="alexnet_no_top",
    ),
    pytest.param(
        lambda: applications.VGG16(include_top=False, input_shape=(32, 32, 3)), id="vgg16_no_top"
    ),
    pytest.param(
        lambda: applications.VGG19(include_top=False, input_shape=(32, 32, 3), pooling="avg"),
        id="vgg19_no_top",
        marks=pytest.mark.skip(reason="VGG16's blocks with 3 more convolutions; takes ~4 s"),
    ),
    pytest.param(
        lambda: applications.GoogLeNet(input_shape=(32, 32, 3), classes=10), id="googlenet"
    ),
    pytest.param(
        lambda: applications.GoogLeNet(input_shape=(32, 32, 3), classes=10, batch_norm=True),
        id="googlenet_bn",
    ),
    pytest.param(lambda: applications.resnet_small(8), id="resnet_small"),
    pytest.param(lambda: applications.ResNet18(input_shape=(32, 32, 3), classes=10), id="resnet18"),
    pytest.param(
        lambda: applications.text_cnn(50, 20, embedding_dim=8, filters=8, kernel_size=3),
        id="text_cnn",
    ),
]


@pytest.mark.parametrize("build", APPLICATIONS)
def test_application_matches_predict(build, tmp_path):
    _check(_randomize(build()), tmp_path)


KERAS_ZOO = [  # Keras's architectures at small sizes: their op nodes, scaling layers, groups
    ("MobileNetV3Small", {"input_shape": (32, 32, 3)}),
    ("EfficientNetB0", {"input_shape": (32, 32, 3)}),
    ("EfficientNetV2B0", {"input_shape": (32, 32, 3)}),
    ("ConvNeXtTiny", {"input_shape": (32, 32, 3)}),
    ("InceptionResNetV2", {"input_shape": (75, 75, 3)}),
    ("NASNetMobile", {"input_shape": (32, 32, 3)}),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", KERAS_ZOO, ids=[n for n, _ in KERAS_ZOO])
def test_keras_application_matches_predict(name, kwargs, tmp_path):
    model = getattr(applications, name)(classes=5, **kwargs)
    x = np.random.default_rng(0).uniform(0, 255, (3, *kwargs["input_shape"])).astype("float32")
    _check(model, tmp_path, inputs=[x])


def test_op_nodes_normalization_and_grouped_convolution(tmp_path):
    from cnnkit import ops

    inputs = L.Input((6, 6, 4))
    x = L.Normalization(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 0.25])(inputs)
    x = L.Conv2D(8, 3, groups=2, padding="same")(x)
    x = L.Conv2D(8, 3, groups=8)(x)  # depthwise, as a grouped convolution
    x = ops.relu(x * 2.0 + 1.0) - x / 4.0
    x = L.Normalization(mean=[0.5] * 8, variance=[2.0] * 8, invert=True)(-x)
    model = _randomize(Model(inputs, x))
    _check(model, tmp_path)


def test_application_of_any_image_size(tmp_path):
    model = _randomize(applications.resnet_small(8, include_top=False, pooling="avg"))
    assert model.input_shape == (None, None, None, 3)
    _check(model, tmp_path, _data(model, sizes={1: 13, 2: 10}))


def test_lstm_classifier_mask_is_a_clear_error(tmp_path):
    model = applications.lstm_classifier(50, 10, embedding_dim=4, units=3)
    with pytest.raises(NotImplementedError, match=r"'lstm.*\(LSTM\).*mask"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class Double(L.Layer):
    def call(self, inputs, training=False):
        return inputs * 2.0

    def compute_output_shape(self, input_shape):
        return input_shape


class TwiceDense(L.Dense):
    def call(self, inputs, training=False):
        return super().call(inputs) * 2.0


def test_unsupported_layer_names_layer_class_and_supported_list(tmp_path):
    i = L.Input(shape=(3,))
    model = Model(i, Double(name="twice")(i))
    with pytest.raises(
        NotImplementedError, match=r"'twice' \(Double\).*Supported layers: .*Conv2D"
    ):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(NotImplementedError, match=r"\(TwiceDense\)"):
        export_onnx(Model(i, TwiceDense(2)(i)), tmp_path / "m.onnx")


def test_unsupported_options(tmp_path):
    i = L.Input(shape=(3,))
    with pytest.raises(NotImplementedError, match="activation '<lambda>'"):
        export_onnx(Model(i, L.Dense(2, activation=lambda x: x * 2.0)(i)), tmp_path / "m.onnx")
    for name in ("sparsemax", "glu"):  # no ONNX operator; the message lists the supported ones
        with pytest.raises(NotImplementedError, match=f"activation '{name}'.*squareplus"):
            export_onnx(Model(i, L.Dense(4, activation=name)(i)), tmp_path / "m.onnx")
    s = L.Input(shape=(4, 3), batch_size=2)
    with pytest.raises(NotImplementedError, match="stateful"):
        export_onnx(Model(s, L.LSTM(2, stateful=True)(s)), tmp_path / "m.onnx")
    image = L.Input(shape=(None, None, 3))
    resize = L.Resizing(4, 4, crop_to_aspect_ratio=True)(image)
    with pytest.raises(NotImplementedError, match="known input height and width"):
        export_onnx(Model(image, resize), tmp_path / "m.onnx")


def test_model_errors(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        export_onnx(Sequential([L.Dense(2)]), tmp_path / "m.onnx")

    class Custom(Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, inputs, training=False):
            return self.dense(inputs)

    with pytest.raises(NotImplementedError, match="subclassed"):
        export_onnx(Custom(), tmp_path / "m.onnx")
    i = L.Input(shape=(3,))
    model = Model(i, L.Dense(2)(i))
    for opset in (12, 10_000, "17"):
        with pytest.raises(ValueError, match="opset"):
            export_onnx(model, tmp_path / "m.onnx", opset=opset)
    with pytest.raises(ValueError, match=r"format='onnx'.*Received: format='tf_saved_model'"):
        model.export(tmp_path / "m", format="tf_saved_model")
    with backend.floatx_scope("float64"):
        j = L.Input(shape=(3,))
        wide = Model(j, L.Dense(2)(j))
    with pytest.raises(ValueError, match="float32"):
        export_onnx(wide, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


# ---------------------------------------------------------------------------
# Packaging and the command-line entry point
# ---------------------------------------------------------------------------


def test_import_cnnkit_does_not_import_onnx():
    code = "import sys, cnnkit, cnnkit.export; assert 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_export_command(tmp_path, monkeypatch, capsys):
    import cnnkit.saving

    i = L.Input(shape=(4,))
    model = _randomize(Model(i, L.Dense(2)(i)))
    source = tmp_path / "model.keras"
    source.write_bytes(b"")
    monkeypatch.setattr(cnnkit.saving, "load_model", lambda path: model)
    assert export_command(source, tmp_path / "out.onnx") == 0
    assert "out.onnx" in capsys.readouterr().out
    onnx.checker.check_model(str(tmp_path / "out.onnx"))
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        export_command(tmp_path / "missing.keras", tmp_path / "out.onnx")


def test_export_command_reads_a_saved_model(tmp_path, capsys):
    model = _randomize(applications.LeNet5(input_shape=(28, 28, 1)))
    model.save(tmp_path / "lenet.keras")
    assert export_command(tmp_path / "lenet.keras", tmp_path / "lenet.onnx") == 0
    capsys.readouterr()
    runtime = ort.InferenceSession(str(tmp_path / "lenet.onnx"), providers=["CPUExecutionProvider"])
    x = _data(model)[0]
    (got,) = runtime.run(None, {runtime.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=RTOL, atol=ATOL)
