"""Configs round-trip: every exported layer, models, optimizers, losses, metrics, schedules.

``LAYER_CASES`` holds one small model per layer class exported by ``cnnkit.layers``; a test
fails when a new layer is exported without a case, so every layer is covered automatically.
"""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from cnnkit import initializers, layers, losses, metrics, optimizers, regularizers
from cnnkit.models import Model, Sequential, clone_model, load_model
from cnnkit.optimizers import schedules
from cnnkit.saving import (
    custom_object_scope,
    deserialize_keras_object,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)
from tests.saving.models import inputs_for, seq, two_branch_model

L = layers


def merge(cls, **kwargs):
    def build():
        a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
        return Model([a, b], cls(**kwargs)([a, b]))

    return build


@register_keras_serializable(package="tests", name="halve")
def halve(x):
    return x * 0.5


def text_vectorization():
    layer = L.TextVectorization(max_tokens=20, output_sequence_length=4)
    layer.adapt(np.array(["the cat sat", "a dog", "the end of it"]))
    return seq((1,), layer, L.Embedding(20, 2), dtype="string")


def normalization():
    layer = L.Normalization(axis=-1)
    layer.adapt(np.arange(12, dtype="float32").reshape(3, 4))
    return seq((4,), layer)


def discretization():
    layer = L.Discretization(num_bins=3)
    layer.adapt(np.arange(30, dtype="float32"))
    return seq((4,), layer)


def string_lookup():
    layer = L.StringLookup(mask_token="")
    layer.adapt(np.array([["the cat", "a dog sat"], ["the end", "the cat"]]))
    return seq((2,), layer, dtype="string")


def integer_lookup():
    layer = L.IntegerLookup(output_mode="tf_idf")
    layer.adapt(np.array([[1, 2, 2], [5, 7, 1]]))
    return seq((3,), layer, dtype="int64")


def hashed_crossing():
    a, b = L.Input((1,), dtype="string", name="a"), L.Input((1,), dtype="int64", name="b")
    return Model([a, b], L.HashedCrossing(7, output_mode="one_hot")((a, b)))


LAYER_CASES = {
    "Activation": lambda: seq((4,), L.Activation("tanh")),
    "Add": merge(L.Add),
    "Average": merge(L.Average),
    "AveragePooling1D": lambda: seq((8, 2), L.AveragePooling1D(2)),
    "AveragePooling2D": lambda: seq((6, 6, 2), L.AveragePooling2D(3, strides=2, padding="same")),
    "BatchNormalization": lambda: seq((4,), L.BatchNormalization(momentum=0.9, center=False)),
    "Bidirectional": lambda: seq((5, 2), L.Bidirectional(L.LSTM(3), merge_mode="sum")),
    "CategoryEncoding": lambda: seq((3,), L.CategoryEncoding(10, "count"), dtype="int32"),
    "CenterCrop": lambda: seq((6, 5, 2), L.CenterCrop(3, 4)),
    "Concatenate": merge(L.Concatenate, axis=-1),
    "Conv3D": lambda: seq((3, 4, 4, 2), L.Conv3D(2, 2, strides=(1, 2, 2), padding="same")),
    "Conv3DTranspose": lambda: seq((2, 3, 3, 2), L.Conv3DTranspose(2, 2, strides=2)),
    "Conv1DTranspose": lambda: seq((5, 2), L.Conv1DTranspose(3, 3, strides=2, output_padding=1)),
    "DepthwiseConv1D": lambda: seq((6, 2), L.DepthwiseConv1D(3, depth_multiplier=2)),
    "SeparableConv1D": lambda: seq((6, 2), L.SeparableConv1D(3, 2, padding="same")),
    "AveragePooling3D": lambda: seq((4, 4, 4, 2), L.AveragePooling3D(2, padding="same")),
    "MaxPooling3D": lambda: seq((4, 4, 4, 2), L.MaxPooling3D((1, 2, 2), strides=1)),
    "GlobalAveragePooling3D": lambda: seq((2, 3, 4, 2), L.GlobalAveragePooling3D(keepdims=True)),
    "GlobalMaxPooling3D": lambda: seq((2, 3, 4, 2), L.GlobalMaxPooling3D()),
    "Cropping1D": lambda: seq((6, 2), L.Cropping1D((1, 2))),
    "Cropping3D": lambda: seq((4, 4, 4, 1), L.Cropping3D(((1, 0), 1, (0, 2)))),
    "ZeroPadding1D": lambda: seq((3, 2), L.ZeroPadding1D((0, 2))),
    "ZeroPadding3D": lambda: seq((2, 2, 2, 1), L.ZeroPadding3D((1, 0, 2))),
    "UpSampling1D": lambda: seq((3, 2), L.UpSampling1D(3)),
    "UpSampling3D": lambda: seq((2, 2, 2, 1), L.UpSampling3D((2, 1, 2))),
    "SpatialDropout1D": lambda: seq((4, 2), L.SpatialDropout1D(0.2, seed=4)),
    "SpatialDropout3D": lambda: seq((2, 2, 2, 2), L.SpatialDropout3D(0.2)),
    "Conv1D": lambda: seq((8, 2), L.Conv1D(3, 3, padding="causal", dilation_rate=2)),
    "Conv2D": lambda: seq((6, 6, 2), L.Conv2D(3, 3, strides=2, padding="same", use_bias=False)),
    "Conv2DTranspose": lambda: seq((5, 5, 2), L.Conv2DTranspose(3, 3, strides=2)),
    "Cropping2D": lambda: seq((6, 6, 2), L.Cropping2D(((1, 0), (0, 2)))),
    "Dense": lambda: seq((4,), L.Dense(3, activation="relu", kernel_regularizer="l2")),
    "Discretization": discretization,
    "IntegerLookup": integer_lookup,
    "Normalization": normalization,
    "StringLookup": string_lookup,
    "DepthwiseConv2D": lambda: seq((6, 6, 2), L.DepthwiseConv2D(3, depth_multiplier=2)),
    "Dropout": lambda: seq((4,), L.Dropout(0.3, seed=1)),
    "ELU": lambda: seq((4,), L.ELU(alpha=0.5)),
    "Embedding": lambda: seq((5,), L.Embedding(10, 3, mask_zero=True), L.LSTM(2), dtype="int32"),
    "Flatten": lambda: seq((2, 3), L.Flatten()),
    "GRU": lambda: seq((5, 2), L.GRU(3, reset_after=False, return_sequences=True)),
    "GlobalAveragePooling1D": lambda: seq((8, 2), L.GlobalAveragePooling1D()),
    "GlobalAveragePooling2D": lambda: seq((6, 6, 2), L.GlobalAveragePooling2D(keepdims=True)),
    "GlobalMaxPooling1D": lambda: seq((8, 2), L.GlobalMaxPooling1D()),
    "GlobalMaxPooling2D": lambda: seq((6, 6, 2), L.GlobalMaxPooling2D()),
    "InputLayer": lambda: seq((3,), L.Dense(1)),
    "Lambda": lambda: seq((3,), L.Lambda(halve, output_shape=(3,)), L.Dense(1)),
    "LSTM": lambda: seq((5, 2), L.LSTM(3, unit_forget_bias=False)),
    "Layer": lambda: L.Layer(name="base", trainable=False),  # no call: a config only
    "LeakyReLU": lambda: seq((4,), L.LeakyReLU(negative_slope=0.2)),
    "Masking": lambda: seq((5, 2), L.Masking(0.0), L.SimpleRNN(2)),
    "MaxPooling1D": lambda: seq((8, 2), L.MaxPooling1D(2)),
    "MaxPooling2D": lambda: seq((6, 6, 2), L.MaxPooling2D(2)),
    "Maximum": merge(L.Maximum),
    "Minimum": merge(L.Minimum),
    "Multiply": merge(L.Multiply),
    "RandomGrayscale": lambda: seq((4, 4, 3), L.RandomGrayscale(0.2, seed=3)),
    "RandomInvert": lambda: seq((4, 4, 3), L.RandomInvert((0.1, 0.6), value_range=(0, 1))),
    "Solarization": lambda: seq((4, 4, 3), L.Solarization(0.1, (0.3, 0.9))),
    "RandomShear": lambda: seq((4, 4, 2), L.RandomShear(0.2, (0.1, 0.3), seed=3)),
    "RandomPerspective": lambda: seq((4, 4, 2), L.RandomPerspective((0.2, 0.8), scale=0.5)),
    "RandomElasticTransform": lambda: seq(
        (6, 6, 2), L.RandomElasticTransform(0.5, (0.2, 0.4), fill_mode="mirror")
    ),
    "CutMix": lambda: seq((4, 4, 2), L.CutMix((0.2, 0.9), seed=1)),
    "MixUp": lambda: seq((4, 4, 2), L.MixUp(alpha=0.4)),
    "RandAugment": lambda: seq((6, 6, 3), L.RandAugment((0, 1), 3, (0.1, 0.4), seed=2)),
    "AugMix": lambda: seq((6, 6, 3), L.AugMix((0, 1), 2, 2, 0.4, 0.5, False)),
    "RandomHue": lambda: seq((4, 4, 3), L.RandomHue((0.1, 0.4), value_range=(0, 1))),
    "RandomSaturation": lambda: seq((4, 4, 3), L.RandomSaturation(0.7, seed=2)),
    "RandomColorJitter": lambda: seq(
        (4, 4, 3), L.RandomColorJitter((0, 1), contrast_factor=(0.1, 0.2), hue_factor=0.3)
    ),
    "RandomColorDegeneration": lambda: seq((4, 4, 3), L.RandomColorDegeneration((0.2, 0.6))),
    "RandomSharpness": lambda: seq((4, 4, 3), L.RandomSharpness(0.9, value_range=(0, 1))),
    "RandomPosterization": lambda: seq((4, 4, 3), L.RandomPosterization((3, 6), seed=1)),
    "RandomGaussianBlur": lambda: seq((4, 4, 3), L.RandomGaussianBlur(0.5, 5, (0.2, 0.9))),
    "RandomErasing": lambda: seq((4, 4, 3), L.RandomErasing(0.5, fill_value=(1, 2, 3))),
    "AutoContrast": lambda: seq((4, 4, 3), L.AutoContrast(value_range=(0, 1))),
    "Equalization": lambda: seq((4, 4, 3), L.Equalization(bins=16)),
    "ContrastLimitedAdaptiveHistogramEqualization": lambda: seq(
        (4, 4, 3),
        L.ContrastLimitedAdaptiveHistogramEqualization(clip_limit=2, tile_grid_size=(2, 2)),
    ),
    "RandomBrightness": lambda: seq((4, 4, 2), L.RandomBrightness(0.2, seed=3)),
    "RandomContrast": lambda: seq((4, 4, 2), L.RandomContrast(0.2)),
    "RandomCrop": lambda: seq((6, 6, 2), L.RandomCrop(4, 4)),
    "RandomFlip": lambda: seq((4, 4, 2), L.RandomFlip("horizontal")),
    "RandomRotation": lambda: seq((4, 4, 2), L.RandomRotation(0.1, fill_mode="nearest")),
    "RandomTranslation": lambda: seq((4, 4, 2), L.RandomTranslation(0.1, 0.2)),
    "RandomZoom": lambda: seq((4, 4, 2), L.RandomZoom(0.1)),
    "ReLU": lambda: seq((4,), L.ReLU(max_value=1.0, negative_slope=0.1)),
    "Rescaling": lambda: seq((4,), L.Rescaling(1 / 255.0, offset=-0.5)),
    "STFTSpectrogram": lambda: seq(
        (32, 2), L.STFTSpectrogram(mode="psd", frame_length=8, window="hamming", padding="same")
    ),
    "MelSpectrogram": lambda: seq((64,), L.MelSpectrogram(fft_length=16, num_mel_bins=4)),
    "Reshape": lambda: seq((6,), L.Reshape((2, 3))),
    "Resizing": lambda: seq((6, 6, 2), L.Resizing(4, 3, interpolation="nearest")),
    "SeparableConv2D": lambda: seq((6, 6, 2), L.SeparableConv2D(3, 3, depth_multiplier=2)),
    "SimpleRNN": lambda: seq((5, 2), L.SimpleRNN(3, go_backwards=True)),
    "Softmax": lambda: seq((4,), L.Softmax()),
    "SpatialDropout2D": lambda: seq((4, 4, 2), L.SpatialDropout2D(0.2)),
    "Subtract": merge(L.Subtract),
    "TextVectorization": text_vectorization,
    "UpSampling2D": lambda: seq((3, 3, 2), L.UpSampling2D(2, interpolation="bilinear")),
    "ZeroPadding2D": lambda: seq((3, 3, 2), L.ZeroPadding2D(((1, 0), (2, 1)))),
}


def query_value(cls, listed=False, **kwargs):
    def build():
        q, v = L.Input((4, 6), name="q"), L.Input((5, 6), name="v")
        layer = cls(**kwargs)
        return Model([q, v], layer([q, v]) if listed else layer(q, v))

    return build


LAYER_CASES.update(
    {
        "ActivityRegularization": lambda: seq((4,), L.ActivityRegularization(l1=0.1)),
        "AdditiveAttention": query_value(L.AdditiveAttention, listed=True),
        "AlphaDropout": lambda: seq((4,), L.AlphaDropout(0.2, seed=1)),
        "Attention": query_value(L.Attention, listed=True, use_scale=True),
        "ConvLSTM1D": lambda: seq((3, 6, 2), L.ConvLSTM1D(2, 3)),
        "ConvLSTM2D": lambda: seq((2, 5, 5, 1), L.ConvLSTM2D(2, 3, padding="same")),
        "Dot": merge(L.Dot, axes=1, normalize=True),
        "EinsumDense": lambda: seq((3, 4), L.EinsumDense("abc,cd->abd", (3, 5), bias_axes="d")),
        "GRUCell": lambda: L.GRUCell(3, reset_after=False),
        "GaussianDropout": lambda: seq((4,), L.GaussianDropout(0.2)),
        "GaussianNoise": lambda: seq((4,), L.GaussianNoise(0.2)),
        "GroupNormalization": lambda: seq((3, 4), L.GroupNormalization(2)),
        "GroupedQueryAttention": query_value(
            L.GroupQueryAttention, head_dim=2, num_query_heads=2, num_key_value_heads=1
        ),
        "Identity": lambda: seq((4,), L.Identity(), L.Dense(2)),
        "LSTMCell": lambda: L.LSTMCell(3),
        "LayerNormalization": lambda: seq((3, 4), L.LayerNormalization(axis=[1, 2])),
        "MultiHeadAttention": query_value(L.MultiHeadAttention, num_heads=2, key_dim=3),
        "PReLU": lambda: seq((3, 4), L.PReLU(shared_axes=[1])),
        "Permute": lambda: seq((3, 4), L.Permute((2, 1))),
        "Pipeline": lambda: L.Pipeline([L.Rescaling(2.0), L.Dense(2)]),
        "RMSNormalization": lambda: seq((4,), L.RMSNormalization()),
        "RNN": lambda: seq((5, 2), L.RNN([L.SimpleRNNCell(3), L.LSTMCell(2)])),
        "RepeatVector": lambda: seq((4,), L.RepeatVector(3)),
        "SimpleRNNCell": lambda: L.SimpleRNNCell(3),
        "SpectralNormalization": lambda: seq((4,), L.SpectralNormalization(L.Dense(3))),
        "StackedRNNCells": lambda: L.StackedRNNCells([L.GRUCell(2), L.LSTMCell(3)]),
        "TimeDistributed": lambda: seq((5, 4), L.TimeDistributed(L.Dense(3))),
        "UnitNormalization": lambda: seq((4,), L.UnitNormalization()),
        "Wrapper": lambda: L.Wrapper(L.Dense(2)),
        "Hashing": lambda: seq((2,), L.Hashing(5, salt=3, output_mode="count"), dtype="string"),
        "HashedCrossing": hashed_crossing,
        "AdaptiveAveragePooling1D": lambda: seq((7, 2), L.AdaptiveAveragePooling1D(3)),
        "AdaptiveAveragePooling2D": lambda: seq((6, 5, 2), L.AdaptiveAveragePooling2D((2, 3))),
        "AdaptiveAveragePooling3D": lambda: seq((4, 5, 3, 1), L.AdaptiveAveragePooling3D(2)),
        "AdaptiveMaxPooling1D": lambda: seq((7, 2), L.AdaptiveMaxPooling1D(3)),
        "AdaptiveMaxPooling2D": lambda: seq((6, 5, 2), L.AdaptiveMaxPooling2D((2, 3))),
        "AdaptiveMaxPooling3D": lambda: seq((4, 5, 3, 1), L.AdaptiveMaxPooling3D((1, 2, 3))),
        "ReversibleEmbedding": lambda: seq(
            (5,), L.ReversibleEmbedding(10, 3, tie_weights=False, logit_soft_cap=2.0), dtype="int32"
        ),
        "ConvLSTM3D": lambda: seq((2, 3, 4, 4, 1), L.ConvLSTM3D(2, 2, padding="same")),
    }
)


def exported_layer_classes() -> dict[str, type]:
    found = {}
    for name in layers.__all__:
        obj = getattr(layers, name)
        if inspect.isclass(obj) and issubclass(obj, layers.Layer):
            found.setdefault(obj.__name__, obj)
    return found


def json_round_trip(config):
    return json.loads(json.dumps(config))


def test_every_exported_layer_class_has_a_case():
    assert sorted(exported_layer_classes()) == sorted(LAYER_CASES)


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_layer_config_and_model_round_trip(name, tmp_path):
    built = LAYER_CASES[name]()
    cls = exported_layer_classes()[name]
    model = built if isinstance(built, Model) else None
    candidates = [built] if model is None else [*model.layers]
    if model is not None:
        candidates += [t._keras_history[0] for t in model.inputs]
    layer = next((x for x in candidates if type(x) is cls), None)
    assert layer is not None, f"the case for {name} has no {name} layer"

    config = json_round_trip(serialize_keras_object(layer))
    assert config["module"] == "keras.layers" and config["class_name"] == name
    rebuilt = deserialize_keras_object(config)
    assert type(rebuilt) is cls
    assert json_round_trip(serialize_keras_object(rebuilt)) == config
    assert json_round_trip(type(layer).from_config(layer.get_config()).get_config()) == (
        json_round_trip(layer.get_config())
    )

    if model is None:
        return
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert json_round_trip(loaded.get_config()) == json_round_trip(model.get_config())
    x = inputs_for(model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_configs_name_keras_classes_and_dtype_policies():
    config = serialize_keras_object(L.Conv2D(2, 3, name="c", kernel_initializer="he_normal"))
    assert config["module"] == "keras.layers"
    assert config["registered_name"] is None
    assert config["config"]["dtype"] == {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    assert config["config"]["kernel_initializer"]["class_name"] == "HeNormal"
    # Plain dtype strings, cnnkit modules and unbuilt layers are read too.
    config["config"]["dtype"] = "float32"
    config["module"] = "cnnkit.layers.convolutional"
    layer = deserialize_keras_object(config)
    assert type(layer) is L.Conv2D and layer.dtype == "float32" and not layer.built


def test_a_build_config_builds_the_layer():
    layer = L.Dense(3)
    layer.build((None, 5))
    layer._build_shapes_arg = (None, 5)
    config = json_round_trip(serialize_keras_object(layer))
    assert config["build_config"] == {"input_shape": [None, 5]}
    rebuilt = deserialize_keras_object(config)
    assert rebuilt.built and rebuilt.kernel.shape == (5, 3)


def test_keras_only_arguments_at_their_defaults_are_dropped_others_refused():
    config = serialize_keras_object(L.Dense(2, name="d"))
    config["config"].update(quantization_config=None, lora_rank=None)
    assert deserialize_keras_object(config).units == 2
    config["config"]["lora_rank"] = 4
    with pytest.raises(ValueError, match=r"layer 'd' \(Dense\) sets `lora_rank=4`"):
        deserialize_keras_object(config)


def test_mixed_precision_policies_are_refused():
    config = serialize_keras_object(L.Dense(2, name="d"))
    config["config"]["dtype"]["config"]["name"] = "mixed_float16"
    with pytest.raises(ValueError, match="'mixed_float16'.*no mixed precision"):
        deserialize_keras_object(config)


# -- models ------------------------------------------------------------------------------
def test_functional_config_follows_keras_layout_and_order():
    model = two_branch_model()
    config = json_round_trip(model.get_config())
    names = [layer["name"] for layer in config["layers"]]
    assert names == ["a", "b", "shared", "cat", "add", "cat2", "out"]  # Keras's depth order
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == ["out", 0, 0]
    by_name = {layer["name"]: layer for layer in config["layers"]}
    shared = by_name["shared"]
    assert len(shared["inbound_nodes"]) == 2
    second = shared["inbound_nodes"][1]["args"][0]
    assert second["class_name"] == "__keras_tensor__"
    assert second["config"]["keras_history"] == ["b", 0, 0]
    cat = by_name["cat"]["inbound_nodes"][0]["args"][0]
    assert [t["config"]["keras_history"] for t in cat] == [["shared", 0, 0], ["b", 0, 0]]
    rebuilt = Model.from_config(config)
    assert json_round_trip(rebuilt.get_config()) == config


def test_functional_layers_are_listed_by_depth_then_traversal_as_keras_does():
    x = L.Input((4,), name="x")
    c = L.Dense(3, name="C")(x)
    b = L.Dense(3, name="B")(L.Dense(5, name="A")(x))
    model = Model(x, L.Average(name="avg")([c, b]))
    assert [layer.name for layer in model.layers] == ["x", "A", "C", "B", "avg"]  # as Keras
    config = model.get_config()
    assert [layer["name"] for layer in config["layers"]] == ["x", "A", "C", "B", "avg"]


def test_sequential_config_lists_the_input_layer_and_build_shape():
    model = seq((4,), L.Dense(2, name="d"))
    config = json_round_trip(model.get_config())
    assert config["layers"][0]["class_name"] == "InputLayer"
    assert config["layers"][0]["config"]["batch_shape"] == [None, 4]
    assert config["build_input_shape"] == [None, 4]
    assert json_round_trip(Sequential.from_config(config).get_config()) == config


def test_nested_models_round_trip(tmp_path):
    inner = seq((4,), L.Dense(3, name="inner_dense"))
    x = L.Input((4,), name="x")
    model = Model(x, L.Dense(2, name="head")(inner(x)))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    data = inputs_for(model)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


def test_clone_model_has_the_same_config_and_new_weights():
    model = two_branch_model()
    twin = clone_model(model)
    assert json_round_trip(twin.get_config()) == json_round_trip(model.get_config())
    assert all(a is not b for a, b in zip(twin.weights, model.weights))
    assert not all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights()))
    shared = [layer for layer in twin.layers if layer.name == "shared"]
    assert len(shared) == 1 and len(shared[0]._inbound_nodes) == 2  # still shared
    calls = []
    seq_model = seq((4,), L.Dense(2, name="d"))
    clone_model(seq_model, clone_function=lambda layer: calls.append(layer.name) or layer)
    assert calls == ["d"]
    same = clone_model(seq_model, input_tensors=L.Input((4,), name="new_in"))
    assert same.inputs[0]._keras_history[0].name == "new_in"


# -- other objects -------------------------------------------------------------------------
OBJECTS = [
    optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    optimizers.Adam(0.002, amsgrad=True, clipnorm=1.0),
    optimizers.AdamW(weight_decay=0.01),
    optimizers.RMSprop(schedules.ExponentialDecay(0.1, 10, 0.5)),
    optimizers.Adagrad(global_clipnorm=2.0),
    schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
    schedules.PolynomialDecay(0.1, 100),
    schedules.InverseTimeDecay(0.1, 10, 0.5),
    schedules.CosineDecay(0.1, 100, warmup_steps=10, warmup_target=0.2),
    schedules.CosineDecayRestarts(0.1, 10),
    losses.SparseCategoricalCrossentropy(from_logits=True),
    losses.CategoricalCrossentropy(label_smoothing=0.1),
    losses.BinaryCrossentropy(),
    losses.MeanSquaredError(),
    losses.MeanAbsoluteError(),
    metrics.SparseCategoricalAccuracy(),
    metrics.Precision(thresholds=0.3),
    initializers.HeNormal(seed=2),
    initializers.Constant(0.5),
    regularizers.L1L2(l1=0.01, l2=0.02),
]


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: type(o).__name__)
def test_objects_round_trip(obj):
    config = json_round_trip(serialize_keras_object(obj))
    assert config["module"].startswith("keras.")
    rebuilt = deserialize_keras_object(config)
    assert type(rebuilt) is type(obj)
    assert json_round_trip(serialize_keras_object(rebuilt)) == config


def test_functions_serialize_by_name():
    config = serialize_keras_object(losses.mean_squared_error)
    assert config == {
        "module": "keras.losses",
        "class_name": "function",
        "config": "mean_squared_error",
        "registered_name": "mean_squared_error",
    }
    assert deserialize_keras_object(config) is losses.mean_squared_error
    assert (
        deserialize_keras_object(
            {
                "module": "builtins",
                "class_name": "function",
                "config": "relu",
                "registered_name": None,
            }
        ).__name__
        == "relu"
    )


def test_plain_values_arrays_and_slices():
    value = {"a": (1, 2.5, "x", None), "b": np.arange(3, dtype="int32"), "c": slice(1, None)}
    config = json_round_trip(serialize_keras_object(value))
    back = deserialize_keras_object(config)
    assert back["a"] == [1, 2.5, "x", None] and back["c"] == slice(1, None)
    assert back["b"].dtype == np.int32 and back["b"].tolist() == [0, 1, 2]


# -- custom objects ------------------------------------------------------------------------
class Scale(L.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs, training=False):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_layers_load_through_custom_objects_scopes_or_registration(tmp_path):
    model = seq((3,), Scale(3.0, name="scale"), L.Dense(1))
    model.save(tmp_path / "m.keras")
    with pytest.raises(TypeError, match=r"Could not locate class 'Scale'.*custom_objects="):
        load_model(tmp_path / "m.keras")
    x = inputs_for(model)
    expected = model.predict(x, verbose=0)
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    with custom_object_scope({"Scale": Scale}):
        assert load_model(tmp_path / "m.keras").layers[0].factor == 3.0


def test_registration_names_classes_and_functions():
    @register_keras_serializable(package="tests")
    class Twice(Scale):
        pass

    @register_keras_serializable(package="tests", name="cube")
    def cube(x):
        return x * x * x

    assert get_registered_name(Twice) == "tests>Twice"
    assert get_registered_object("tests>cube") is cube
    config = serialize_keras_object(Twice(name="t"))
    assert config["registered_name"] == "tests>Twice"
    assert type(deserialize_keras_object(config)) is Twice
    layer = deserialize_keras_object(
        json_round_trip(serialize_keras_object(L.Dense(2, activation=cube)))
    )
    assert layer.activation is cube
    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable()(type("NoConfig", (), {}))


def _layer_reading_its_own_config(lib):
    """The serialization guide's layer: its ``from_config`` deserializes its nested objects."""

    class OwnConfigLayer(lib.layers.Layer):
        def __init__(self, units=3, sublayer=None, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.sublayer = sublayer if sublayer is not None else lib.layers.Dense(units)
            self.activation = lib.activations.get(activation)

        def call(self, x):
            return self.activation(self.sublayer(x))

        def get_config(self):
            return {
                **super().get_config(),
                "units": self.units,
                "sublayer": lib.saving.serialize_keras_object(self.sublayer),
                "activation": lib.saving.serialize_keras_object(self.activation),
            }

        @classmethod
        def from_config(cls, config):
            assert isinstance(config["sublayer"], dict) and isinstance(config["activation"], dict)
            sublayer = lib.saving.deserialize_keras_object(config.pop("sublayer"))
            activation = lib.saving.deserialize_keras_object(config.pop("activation"))
            return cls(sublayer=sublayer, activation=activation, **config)

    return OwnConfigLayer


@pytest.mark.parametrize("library", ["cnnkit", "keras"])
def test_a_from_config_of_its_own_receives_nested_objects_serialized(tmp_path, library):
    import cnnkit

    lib = cnnkit if library == "cnnkit" else pytest.importorskip("keras")
    cls = _layer_reading_its_own_config(lib)
    inputs = lib.Input((4,))
    model = lib.Model(inputs, cls(3, activation="tanh")(inputs))
    model.save(tmp_path / "model.keras")
    loaded = lib.models.load_model(tmp_path / "model.keras", custom_objects={"OwnConfigLayer": cls})
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)
    assert loaded.layers[1].activation is lib.activations.tanh
