"""Every kind of layer moves between Keras 3 and cnnkit in a ``.keras`` file, both ways, with
the same predictions (runs where Keras 3 is importable; the torch backend)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cnnkit

keras = pytest.importorskip("keras")

IMG = (8, 8, 3)
CASES = [
    ("Dense", (5,), lambda L: L.Dense(4, activation="relu")),
    ("Conv2D", IMG, lambda L: L.Conv2D(4, 3, padding="same", activation="relu")),
    ("Conv2Dgroups", (8, 8, 4), lambda L: L.Conv2D(4, 3, groups=2)),
    ("Conv1D", (10, 3), lambda L: L.Conv1D(4, 3, padding="causal")),
    ("Conv3D", (6, 6, 6, 2), lambda L: L.Conv3D(3, 2)),
    ("Conv2DTranspose", IMG, lambda L: L.Conv2DTranspose(4, 3, strides=2, padding="same")),
    ("Conv1DTranspose", (10, 3), lambda L: L.Conv1DTranspose(4, 3, strides=2)),
    ("Conv3DTranspose", (4, 4, 4, 2), lambda L: L.Conv3DTranspose(3, 2, strides=2)),
    ("DepthwiseConv2D", IMG, lambda L: L.DepthwiseConv2D(3, depth_multiplier=2)),
    ("DepthwiseConv1D", (10, 3), lambda L: L.DepthwiseConv1D(3)),
    ("SeparableConv2D", IMG, lambda L: L.SeparableConv2D(4, 3)),
    ("SeparableConv1D", (10, 3), lambda L: L.SeparableConv1D(4, 3)),
    ("MaxPooling2D", IMG, lambda L: L.MaxPooling2D()),
    ("AveragePooling1D", (10, 3), lambda L: L.AveragePooling1D(2)),
    ("MaxPooling3D", (4, 4, 4, 2), lambda L: L.MaxPooling3D()),
    ("GlobalAveragePooling2D", IMG, lambda L: L.GlobalAveragePooling2D(keepdims=True)),
    ("GlobalMaxPooling1D", (10, 3), lambda L: L.GlobalMaxPooling1D()),
    ("BatchNormalization", IMG, lambda L: L.BatchNormalization()),
    ("LayerNormalization", (6, 5), lambda L: L.LayerNormalization()),
    ("GroupNormalization", (6, 4), lambda L: L.GroupNormalization(groups=2)),
    ("UnitNormalization", (5,), lambda L: L.UnitNormalization()),
    ("RMSNormalization", (6, 5), lambda L: L.RMSNormalization()),
    ("SpectralNormalization", (5,), lambda L: L.SpectralNormalization(L.Dense(3))),
    ("Embedding", "tokens", lambda L: L.Embedding(20, 4)),
    ("LSTM", (6, 3), lambda L: L.LSTM(4, return_sequences=True)),
    ("GRU", (6, 3), lambda L: L.GRU(4)),
    ("SimpleRNN", (6, 3), lambda L: L.SimpleRNN(4)),
    ("Bidirectional", (6, 3), lambda L: L.Bidirectional(L.LSTM(3))),
    (  # the inner layers' config sets zero_output_for_mask=True
        "BidirectionalSequences",
        (6, 3),
        lambda L: L.Bidirectional(L.LSTM(3, return_sequences=True)),
    ),
    ("RNNcell", (6, 3), lambda L: L.RNN(L.LSTMCell(4))),
    (
        "StackedRNNCells",
        (6, 3),
        lambda L: L.RNN(L.StackedRNNCells([L.GRUCell(3), L.SimpleRNNCell(2)])),
    ),
    ("ConvLSTM2D", (3, 6, 6, 2), lambda L: L.ConvLSTM2D(3, 3)),
    ("ConvLSTM1D", (3, 6, 2), lambda L: L.ConvLSTM1D(3, 3)),
    ("TimeDistributed", (3, 5), lambda L: L.TimeDistributed(L.Dense(2))),
    ("MultiHeadAttentionSelf", (6, 8), "mha"),
    (
        "EinsumDense",
        (6, 5),
        lambda L: L.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d"),
    ),
    ("PReLU", (5,), lambda L: L.PReLU()),
    ("LeakyReLU", (5,), lambda L: L.LeakyReLU(0.2)),
    ("ELU", (5,), lambda L: L.ELU()),
    ("ReLU", (5,), lambda L: L.ReLU(max_value=1.0)),
    ("Softmax", (5,), lambda L: L.Softmax()),
    ("Flatten", IMG, lambda L: L.Flatten()),
    ("Reshape", (6,), lambda L: L.Reshape((2, 3))),
    ("Permute", (3, 4), lambda L: L.Permute((2, 1))),
    ("RepeatVector", (4,), lambda L: L.RepeatVector(3)),
    ("Cropping2D", IMG, lambda L: L.Cropping2D(1)),
    ("ZeroPadding3D", (3, 3, 3, 2), lambda L: L.ZeroPadding3D(1)),
    ("UpSampling2D", IMG, lambda L: L.UpSampling2D(interpolation="bilinear")),
    ("UpSampling1D", (4, 3), lambda L: L.UpSampling1D(2)),
    ("Dropout", (5,), lambda L: L.Dropout(0.3)),
    ("SpatialDropout2D", IMG, lambda L: L.SpatialDropout2D(0.3)),
    ("GaussianNoise", (5,), lambda L: L.GaussianNoise(0.1)),
    ("Rescaling", IMG, lambda L: L.Rescaling(1 / 255.0)),
    ("Resizing", IMG, lambda L: L.Resizing(4, 4)),
    ("CenterCrop", IMG, lambda L: L.CenterCrop(4, 4)),
    ("RandomFlip", IMG, lambda L: L.RandomFlip()),
    ("RandomRotation", IMG, lambda L: L.RandomRotation(0.1)),
    ("RandomZoom", IMG, lambda L: L.RandomZoom(0.1)),
    ("RandomContrast", IMG, lambda L: L.RandomContrast(0.1)),
    (
        "Normalization",
        (5,),
        lambda L: L.Normalization(mean=[1.0, 2, 3, 4, 5], variance=[1.0, 2, 3, 4, 5]),
    ),
    ("Discretization", (5,), lambda L: L.Discretization(bin_boundaries=[0.0, 1.0])),
    (
        "CategoryEncoding",
        "ints",
        lambda L: L.CategoryEncoding(num_tokens=20, output_mode="multi_hot"),
    ),
    ("ActivityRegularization", (5,), lambda L: L.ActivityRegularization(l1=0.01)),
    ("Identity", (5,), lambda L: L.Identity()),
    ("Activation", (5,), lambda L: L.Activation("gelu")),
    ("Masking", (6, 3), lambda L: L.Masking()),
    (
        "DenseReg",
        (5,),
        lambda L: L.Dense(
            3, kernel_regularizer="l2", kernel_constraint="max_norm", bias_initializer="ones"
        ),
    ),
]


def _data(shape):
    rng = np.random.default_rng(0)
    if shape == "tokens":
        return rng.integers(0, 20, (3, 6)), (6,)
    if shape == "ints":
        return rng.integers(0, 20, (3, 4)), (4,)
    return rng.standard_normal((3, *shape)).astype("float32"), shape


def _build(lib, spec, shape):
    inputs = lib.Input(shape)
    if spec == "mha":
        outputs = lib.layers.MultiHeadAttention(2, 4)(inputs, inputs)
    else:
        outputs = spec(lib.layers)(inputs)
    return lib.Model(inputs, outputs)


@pytest.mark.parametrize("direction", ["keras_to_cnnkit", "cnnkit_to_keras"])
@pytest.mark.parametrize("name, shape, spec", CASES, ids=[c[0] for c in CASES])
def test_layer_round_trips_between_keras_and_cnnkit(tmp_path, name, shape, spec, direction):
    x, shape = _data(shape)
    path = tmp_path / "model.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = _build(keras if direction == "keras_to_cnnkit" else cnnkit, spec, shape)
        expected = np.asarray(source.predict(x, verbose=0))
        source.save(path)
        if direction == "keras_to_cnnkit":
            loaded = cnnkit.models.load_model(path)
        else:
            loaded = keras.saving.load_model(path)
        got = np.asarray(loaded.predict(x, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
