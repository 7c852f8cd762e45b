"""Every layer through the shared lifecycle harness, plus layer-specific behaviour and errors."""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.layers import Input
from tests.harness import run_layer_test

# (class, constructor kwargs, input shape, expected output shape)
LAYER_CASES = [
    (layers.Dense, {"units": 4}, (2, 3), (2, 4)),
    (layers.Dense, {"units": 3, "activation": "relu", "use_bias": False}, (2, 5, 6), (2, 5, 3)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3}, (2, 7, 7, 3), (2, 5, 5, 4)),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": (3, 2), "padding": "same"},
        (2, 5, 6, 1),
        (2, 5, 6, 2),
    ),
    (layers.Conv2D, {"filters": 2, "kernel_size": 3, "strides": 2}, (2, 28, 28, 1), (2, 13, 13, 2)),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"},
        (1, 5, 5, 2),
        (1, 3, 3, 2),
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "padding": "full"},
        (1, 4, 4, 1),
        (1, 6, 6, 2),
    ),
    (
        layers.Conv2D,
        {"filters": 2, "kernel_size": 3, "dilation_rate": 2},
        (1, 7, 7, 1),
        (1, 3, 3, 2),
    ),
    (layers.MaxPooling2D, {}, (2, 4, 6, 3), (2, 2, 3, 3)),
    (
        layers.MaxPooling2D,
        {"pool_size": 3, "strides": 2, "padding": "same"},
        (1, 5, 5, 2),
        (1, 3, 3, 2),
    ),
    (layers.AveragePooling2D, {"pool_size": 2}, (2, 5, 5, 1), (2, 2, 2, 1)),
    (
        layers.AveragePooling2D,
        {"pool_size": 3, "strides": 1, "padding": "same"},
        (1, 4, 4, 2),
        (1, 4, 4, 2),
    ),
    (layers.GlobalMaxPooling2D, {}, (2, 3, 4, 5), (2, 5)),
    (layers.GlobalAveragePooling2D, {"keepdims": True}, (2, 3, 4, 5), (2, 1, 1, 5)),
    (layers.Flatten, {}, (2, 3, 4, 5), (2, 60)),
    (layers.Reshape, {"target_shape": (6, -1)}, (2, 3, 4), (2, 6, 2)),
    (layers.Dropout, {"rate": 0.5}, (2, 8), (2, 8)),
    (layers.Activation, {"activation": "tanh"}, (2, 3), (2, 3)),
    (layers.ReLU, {"max_value": 1.0}, (2, 3), (2, 3)),
    (layers.LeakyReLU, {}, (2, 3), (2, 3)),
    (layers.ELU, {"alpha": 0.5}, (2, 3), (2, 3)),
    (layers.Softmax, {}, (2, 5), (2, 5)),
    (layers.BatchNormalization, {}, (4, 3), (4, 3)),
    (layers.BatchNormalization, {"momentum": 0.9}, (2, 4, 4, 3), (2, 4, 4, 3)),
    (layers.BatchNormalization, {"axis": 1, "center": False}, (2, 3, 4, 5), (2, 3, 4, 5)),
    (layers.BatchNormalization, {"scale": False, "epsilon": 1e-5}, (3, 2, 2, 4), (3, 2, 2, 4)),
    (layers.ZeroPadding2D, {}, (2, 3, 4, 2), (2, 5, 6, 2)),
    (layers.ZeroPadding2D, {"padding": ((1, 0), (2, 3))}, (1, 3, 3, 1), (1, 4, 8, 1)),
    (layers.Cropping2D, {"cropping": (1, 2)}, (2, 5, 6, 2), (2, 3, 2, 2)),
    (layers.Cropping2D, {"cropping": ((0, 1), (2, 0))}, (1, 4, 4, 3), (1, 3, 2, 3)),
    (layers.UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (
        layers.UpSampling2D,
        {"size": (3, 2), "interpolation": "bilinear"},
        (1, 2, 3, 2),
        (1, 6, 6, 2),
    ),
    (layers.SpatialDropout2D, {"rate": 0.5, "seed": 1}, (2, 3, 3, 4), (2, 3, 3, 4)),
    (layers.Rescaling, {"scale": 1 / 255}, (2, 4, 4, 3), (2, 4, 4, 3)),
    (layers.Rescaling, {"scale": (1.0, 2.0, 0.5), "offset": -1.0}, (2, 3), (2, 3)),
    (layers.Resizing, {"height": 5, "width": 3}, (2, 4, 6, 2), (2, 5, 3, 2)),
    (
        layers.Resizing,
        {"height": 4, "width": 4, "interpolation": "nearest", "crop_to_aspect_ratio": True},
        (1, 6, 3, 1),
        (1, 4, 4, 1),
    ),
    (layers.RandomFlip, {"seed": 1}, (2, 4, 5, 3), (2, 4, 5, 3)),
    (layers.RandomRotation, {"factor": 0.2, "fill_mode": "constant"}, (2, 5, 5, 1), (2, 5, 5, 1)),
    (
        layers.RandomTranslation,
        {"height_factor": 0.1, "width_factor": (-0.2, 0.3)},
        (1, 4, 4, 2),
        (1, 4, 4, 2),
    ),
    (layers.RandomZoom, {"height_factor": 0.2, "width_factor": 0.1}, (2, 4, 6, 1), (2, 4, 6, 1)),
    (layers.RandomContrast, {"factor": 0.3, "value_range": (0, 1)}, (2, 3, 3, 3), (2, 3, 3, 3)),
    (layers.RandomBrightness, {"factor": (-0.2, 0.4)}, (2, 3, 3, 3), (2, 3, 3, 3)),
    (layers.RandomCrop, {"height": 3, "width": 2, "seed": 0}, (2, 5, 4, 3), (2, 3, 2, 3)),
    (layers.DepthwiseConv2D, {"kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 3)),
    (
        layers.DepthwiseConv2D,
        {"kernel_size": 2, "strides": 2, "padding": "same", "depth_multiplier": 2},
        (1, 5, 5, 2),
        (1, 3, 3, 4),
    ),
    (layers.SeparableConv2D, {"filters": 4, "kernel_size": 3}, (2, 6, 6, 3), (2, 4, 4, 4)),
    (
        layers.SeparableConv2D,
        {"filters": 2, "kernel_size": 3, "padding": "same", "depth_multiplier": 2},
        (1, 5, 5, 2),
        (1, 5, 5, 2),
    ),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 3}, (2, 4, 4, 2), (2, 6, 6, 3)),
    (
        layers.Conv2DTranspose,
        {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
        (1, 4, 5, 3),
        (1, 8, 10, 2),
    ),
    (
        layers.Conv2DTranspose,
        {"filters": 2, "kernel_size": 2, "strides": 3, "padding": "same", "output_padding": 2},
        (1, 4, 4, 1),
        (1, 11, 11, 2),
    ),
]


@pytest.mark.parametrize(
    "cls, kwargs, shape, expected",
    LAYER_CASES,
    ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(LAYER_CASES)],
)
def test_layer_lifecycle(cls, kwargs, shape, expected):
    run_layer_test(cls, kwargs, shape, expected)


def test_conv2d_weight_shapes_follow_keras_layout():
    layer = layers.Conv2D(8, (3, 5))
    layer(np.zeros((1, 10, 10, 3), "float32"))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 5, 3, 8)
    assert bias.shape == (8,)
    assert np.all(bias == 0)
    limit = np.sqrt(6 / (3 * 5 * 3 + 3 * 5 * 8))
    assert np.abs(kernel).max() <= limit


def test_conv2d_equals_signal_correlate_with_broadcast_bias():
    from cnnkit.signal import correlate2d

    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 9, 9, 3)).astype("float32")
    layer = layers.Conv2D(4, 3, padding="same")
    layer(x)
    kernel = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    bias = np.arange(4, dtype="float32")
    layer.set_weights([kernel, bias])
    out = np.asarray(layer(x))[0]
    expected = correlate2d(x[0], kernel, mode="same") + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_dropout_only_in_training():
    layer = layers.Dropout(0.5)
    x = np.ones((1000, 10), "float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    dropped = np.asarray(layer(x, training=True))
    kept = dropped != 0
    assert 0.45 < kept.mean() < 0.55
    np.testing.assert_allclose(dropped[kept], 2.0)


def test_dropout_noise_shape_drops_whole_feature_maps():
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 8), seed=1)
    out = np.asarray(layer(np.ones((4, 3, 3, 8), "float32"), training=True))
    per_map = out.reshape(4, 9, 8)
    assert np.all(per_map == per_map[:, :1, :])  # one decision per (sample, channel)
    assert set(np.unique(out)) <= {0.0, 2.0}


def test_global_pooling_accepts_any_image_size():
    from cnnkit.models import Model

    i = Input(shape=(None, None, 3))
    x = layers.Conv2D(4, 3, activation="relu")(i)
    x = layers.GlobalMaxPooling2D()(x)
    model = Model(i, layers.Dense(2)(x))
    assert model.output_shape == (None, 2)
    for size in (8, 13, 32):
        assert model.predict(np.ones((2, size, size, 3)), verbose=0).shape == (2, 2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.Conv2D(0, 3), r"Invalid value for argument `filters`.*Received filters=0"),
        (lambda: layers.Conv2D(4, (3, 3, 3)), r"`kernel_size` argument must be a tuple of 2"),
        (lambda: layers.Conv2D(4, 3, padding="circular"), r"padding.*Received: padding='circular'"),
        (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), r"dilation_rate > 1"),
        (lambda: layers.Dense(-1), r"expected a positive integer.*units=-1"),
        (lambda: layers.Dropout(1.5), r"rate=1.5"),
        (lambda: layers.Dropout(-0.1), r"rate=-0.1"),
        (lambda: layers.MaxPooling2D(pool_size=0), r"strictly positive.*pool_size=0"),
        (lambda: layers.Reshape((-1, -1)), r"at most one -1"),
        (lambda: layers.Dense(4, activation="relux"), r"relux"),
    ],
)
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_input_dim_is_input_shape():
    from cnnkit.models import Sequential

    model = Sequential([layers.Dense(4, input_dim=3), layers.Dense(1)])
    assert model.built and model.input_shape == (None, 3)


def test_activation_layers_match_functions():
    x = np.linspace(-3, 3, 12, dtype="float32").reshape(2, 6)
    np.testing.assert_allclose(np.asarray(layers.LeakyReLU(0.1)(x)), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(np.asarray(layers.ReLU(max_value=2.0)(x)), np.clip(x, 0, 2))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        np.asarray(layers.Softmax()(x)), e / e.sum(1, keepdims=True), rtol=1e-6
    )
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(-1)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense"):
        layers.Dense(3, unit=4)


def test_wrong_rank_names_the_layer():
    layer = layers.Conv2D(4, 3, name="conv_a")
    with pytest.raises(ValueError, match=r'layer "conv_a" is incompatible.*expected ndim=4'):
        layer(np.zeros((2, 8, 8), "float32"))


def test_built_layer_rejects_other_channel_count():
    layer = layers.Dense(3, name="head")
    layer(np.zeros((1, 5), "float32"))
    with pytest.raises(ValueError, match=r'"head".*axis -1.*value 5.*\(1, 7\)'):
        layer(np.zeros((1, 7), "float32"))


def test_flatten_then_dense_on_unknown_size_suggests_global_pooling():
    i = Input(shape=(None, None, 3))
    x = layers.Flatten()(layers.Conv2D(4, 3)(i))
    with pytest.raises(ValueError, match=r"GlobalMaxPooling2D"):
        layers.Dense(2)(x)


def test_too_small_input_is_reported():
    i = Input(shape=(2, 2, 1))
    with pytest.raises(ValueError, match=r"too small"):
        layers.Conv2D(4, 3)(i)


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"numeric"):
        layers.Dense(2)(np.array([["a", "b"]]))


def test_set_weights_validates_before_assigning():
    layer = layers.Dense(2)
    layer(np.zeros((1, 3), "float32"))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"not compatible"):
        layer.set_weights([np.ones((3, 2)), np.ones(5)])
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_default_names_are_unique_snake_case():
    a, b = layers.Conv2D(1, 1), layers.Conv2D(1, 1)
    assert a.name.startswith("conv2d") and b.name.startswith("conv2d") and a.name != b.name
    assert layers.MaxPooling2D().name.startswith("max_pooling2d")


# -- custom layers written as in the Keras guide --------------------------------


class _Linear(layers.Layer):
    """The Keras guide's first custom layer: no `training` argument, no output shape method."""

    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return inputs @ self.w + self.b


def test_a_call_without_a_training_argument_is_called_without_one():
    layer = _Linear(4)
    x = np.ones((2, 3), "float32")
    out = layer(x, training=True).numpy()
    np.testing.assert_allclose(out, x @ layer.w.numpy(), rtol=1e-6)


def test_a_custom_layer_without_compute_output_shape_works_in_a_functional_model():
    import cnnkit as keras

    class KeepFirst(layers.Layer):  # (N, T, D) -> (N, T, 2): a known size changes, T stays open
        def call(self, x):
            return x[:, :, :2] * 2.0

    i = Input((None, 5))
    out = KeepFirst()(_Linear(4)(i))
    assert out.shape == (None, None, 2)
    model = keras.Model(i, out)
    model.compile(optimizer="adam", loss="mse")
    x = np.ones((6, 7, 5), "float32")
    model.fit(x, np.zeros((6, 7, 2), "float32"), verbose=0)
    assert model.predict(x, verbose=0).shape == (6, 7, 2)


def test_tracing_a_layer_leaves_the_random_generator_and_losses_as_they_were():
    from cnnkit import backend

    class Noisy(layers.Layer):
        def call(self, x):
            self.add_loss(1.0)
            return x + backend.rng().standard_normal(x.shape).astype("float32")

    backend.set_seed(0)
    expected = backend.rng().random()
    backend.set_seed(0)
    layer = Noisy()
    assert layer(Input((3,))).shape == (None, 3)
    assert backend.rng().random() == expected and layer.losses == []


def test_a_text_layer_without_compute_output_shape_says_so():
    class Words(layers.Layer):
        _accepts_strings = True

        def call(self, x):
            return x

    with pytest.raises(NotImplementedError, match="compute_output_shape"):
        Words()(Input((1,), dtype="string"))


def test_add_loss_in_call_joins_the_training_loss_and_its_gradient():
    import cnnkit as keras

    class ActivityPenalty(layers.Layer):
        def call(self, x):
            self.add_loss(0.5 * (x * x).sum())
            return x

    i = Input((2,))
    dense = layers.Dense(2, use_bias=False, kernel_initializer="identity")
    model = keras.Model(i, ActivityPenalty()(dense(i)))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.array([[1.0, 2.0]], "float32")
    y = np.zeros((1, 2), "float32")
    # mse of the identity output (2.5) plus the penalty 0.5 * (1 + 4) = 2.5
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), 5.0, rtol=1e-6)
    assert len(model.losses) == 1  # the last call's, not one per call
    model.fit(x, y, epochs=1, verbose=0)
    # d/dW of (mean((xW)^2) + 0.5 |xW|^2) at W = I is (1 + 1) x^T x W: one SGD step of 0.1
    expected = np.eye(2) - 0.1 * 2.0 * (x.T @ x)
    np.testing.assert_allclose(dense.get_weights()[0], expected, rtol=1e-5)


# -- Lambda ---------------------------------------------------------------------------


def test_lambda_layers_trace_their_shape_train_and_predict_unsplit():
    import cnnkit as keras
    from cnnkit.models import inference

    i = Input((6, 6, 1))
    x = layers.Lambda(lambda t: t / 255.0)(i)
    x = layers.Conv2D(2, 3, activation="relu")(x)
    pooled = layers.Lambda(lambda t: t.mean(axis=(1, 2)))(x)  # (N, 2)
    assert pooled.shape == (None, 2)
    model = keras.Model(i, layers.Dense(1)(pooled))
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).random((16, 6, 6, 1), dtype=np.float32) * 255
    before = model.layers[2].get_weights()[0].copy()
    model.fit(data, np.ones((16, 1), "float32"), verbose=0)
    assert not np.allclose(model.layers[2].get_weights()[0], before)  # gradients flow through
    assert not inference.samplewise(model)  # an arbitrary function may mix samples
    assert model.predict(data, verbose=0).shape == (16, 1)


def test_lambda_output_shape_arguments_mask_and_training():
    seen = {}

    def shift(x, offset, mask=None, training=False):
        seen.update(mask=mask, training=training)
        return x + offset

    layer = layers.Lambda(
        shift,
        output_shape=(3,),
        arguments={"offset": 2.0},
        mask=lambda inputs, mask: mask,
    )
    assert layer(Input((3,))).shape == (None, 3)
    out = layer(np.zeros((2, 3), "float32"), training=True).numpy()
    np.testing.assert_array_equal(out, np.full((2, 3), 2.0))
    assert seen["training"] is True
    halve = layers.Lambda(lambda x: x[:, ::2], output_shape=lambda s: (s[0], (s[1] + 1) // 2))
    assert halve(Input((5,))).shape == (None, 3)


def test_lambda_with_a_registered_function_saves_and_loads(tmp_path):
    from cnnkit.models import Sequential, load_model
    from cnnkit.saving import register_keras_serializable

    @register_keras_serializable(package="tests", name="double_it")
    def double_it(x):
        return x * 2.0

    model = Sequential([Input((3,)), layers.Lambda(double_it), layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    x = np.ones((4, 3), "float32")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.layers[0].function is double_it
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_lambda_layer_wrapping_a_lambda_is_refused_on_save_before_any_file(tmp_path):
    from cnnkit.models import Sequential

    model = Sequential([Input((3,)), layers.Lambda(lambda x: x * 2.0)])
    with pytest.raises(ValueError, match="Cannot save a `lambda`"):
        model.save(tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"function": 3}, r"`function` of Lambda must be callable. Received: function=3"),
        ({"function": abs, "arguments": [1]}, r"`arguments` of Lambda must be a dict"),
        ({"function": abs, "mask": True}, r"`mask` of Lambda must be callable"),
    ],
)
def test_lambda_argument_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        layers.Lambda(**kwargs)


def test_clone_model_copies_a_lambda_layer():
    from cnnkit.models import Sequential, clone_model

    model = Sequential([Input((3,)), layers.Lambda(lambda x: x * 3.0, output_shape=(3,))])
    clone = clone_model(model)
    assert clone.layers[0] is not model.layers[0]
    np.testing.assert_array_equal(clone.predict(np.ones((2, 3)), verbose=0), np.full((2, 3), 3.0))


def test_tracing_a_layer_on_zeros_raises_no_floating_point_warning():
    import warnings

    class Ratio(layers.Layer):
        def call(self, x):
            return x / x  # 0 / 0 on the zeros the shape is traced with

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Ratio()(Input((3,))).shape == (None, 3)
