"""Property-based tests of shape inference: every layer, random input shapes.

For a shape of rank 0 to 5 with sizes 0..9 or ``None``, each layer's ``compute_output_shape``,
its call on a symbolic ``KerasTensor`` and, when the shape is known and small, its call on zeros
either work, with the eager output shape matching ``compute_output_shape``, or raise
``ValueError``/``TypeError``; never ``IndexError``, ``KeyError``, ``ZeroDivisionError``...
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnkit import layers as L
from cnnkit.layers import KerasTensor
from tests.fuzz import FUZZ

FUZZ = settings(FUZZ, max_examples=12)
DOCUMENTED = (ValueError, TypeError)
MAX_EAGER_SIZE = 4000

# name -> (constructor, kind of input): "float" arrays, "int" indices, "str" text, "merge" a
# list of arrays, "input" (an InputLayer: shape inference only, its call is the identity).
LAYERS = {
    "ELU": (lambda: L.ELU(), "float"),
    "LeakyReLU": (lambda: L.LeakyReLU(), "float"),
    "ReLU": (lambda: L.ReLU(max_value=6.0), "float"),
    "Softmax": (lambda: L.Softmax(), "float"),
    "Softmax-axis1": (lambda: L.Softmax(axis=1), "float"),
    "Activation": (lambda: L.Activation("tanh"), "float"),
    "RandomBrightness": (lambda: L.RandomBrightness(0.2, seed=1), "float"),
    "RandomContrast": (lambda: L.RandomContrast(0.2, seed=1), "float"),
    "RandomCrop": (lambda: L.RandomCrop(2, 3, seed=1), "float"),
    "RandomFlip": (lambda: L.RandomFlip(seed=1), "float"),
    "RandomRotation": (lambda: L.RandomRotation(0.1, seed=1), "float"),
    "RandomTranslation": (lambda: L.RandomTranslation(0.1, 0.2, seed=1), "float"),
    "RandomZoom": (lambda: L.RandomZoom(0.1, seed=1), "float"),
    "Bidirectional-LSTM": (lambda: L.Bidirectional(L.LSTM(2)), "float"),
    "Bidirectional-GRU-sequences": (
        lambda: L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="sum"),
        "float",
    ),
    "Conv2D": (lambda: L.Conv2D(2, 3), "float"),
    "Conv2D-same-strided": (lambda: L.Conv2D(2, 2, strides=2, padding="same"), "float"),
    "Conv2D-dilated": (lambda: L.Conv2D(1, 2, dilation_rate=2), "float"),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(2, 3, strides=2), "float"),
    "Conv2DTranspose-same": (lambda: L.Conv2DTranspose(1, 2, padding="same"), "float"),
    "DepthwiseConv2D": (lambda: L.DepthwiseConv2D(2, depth_multiplier=2), "float"),
    "SeparableConv2D": (lambda: L.SeparableConv2D(2, 3, padding="same"), "float"),
    "Conv1D": (lambda: L.Conv1D(2, 3), "float"),
    "Conv1D-same-strided": (lambda: L.Conv1D(2, 2, strides=2, padding="same"), "float"),
    "Dense": (lambda: L.Dense(3), "float"),
    "Dropout": (lambda: L.Dropout(0.5, seed=1), "float"),
    "Flatten": (lambda: L.Flatten(), "float"),
    "Reshape-flat": (lambda: L.Reshape((-1,)), "float"),
    "Reshape-inferred": (lambda: L.Reshape((2, -1)), "float"),
    "Reshape-fixed": (lambda: L.Reshape((2, 3)), "float"),
    "InputLayer": (lambda: L.InputLayer(shape=(3,)), "input"),
    "Lambda-traced": (lambda: L.Lambda(lambda x: x * 2.0 + 1.0), "float"),
    "Lambda-output-shape": (lambda: L.Lambda(lambda x: -x, output_shape=lambda s: s), "float"),
    "Embedding": (lambda: L.Embedding(10, 3), "int"),
    "Embedding-mask-zero": (lambda: L.Embedding(10, 3, mask_zero=True), "int"),
    "Masking": (lambda: L.Masking(), "float"),
    "Add": (lambda: L.Add(), "merge"),
    "Subtract": (lambda: L.Subtract(), "merge"),
    "Multiply": (lambda: L.Multiply(), "merge"),
    "Average": (lambda: L.Average(), "merge"),
    "Maximum": (lambda: L.Maximum(), "merge"),
    "Minimum": (lambda: L.Minimum(), "merge"),
    "Concatenate": (lambda: L.Concatenate(), "merge"),
    "Concatenate-axis1": (lambda: L.Concatenate(axis=1), "merge"),
    "BatchNormalization": (lambda: L.BatchNormalization(), "float"),
    "BatchNormalization-axis1": (lambda: L.BatchNormalization(axis=1), "float"),
    "AveragePooling1D": (lambda: L.AveragePooling1D(2), "float"),
    "MaxPooling1D-same": (lambda: L.MaxPooling1D(3, strides=2, padding="same"), "float"),
    "AveragePooling2D": (lambda: L.AveragePooling2D(2), "float"),
    "MaxPooling2D-same": (lambda: L.MaxPooling2D(3, strides=2, padding="same"), "float"),
    "GlobalAveragePooling1D": (lambda: L.GlobalAveragePooling1D(), "float"),
    "GlobalMaxPooling1D-keepdims": (lambda: L.GlobalMaxPooling1D(keepdims=True), "float"),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), "float"),
    "GlobalMaxPooling2D-keepdims": (lambda: L.GlobalMaxPooling2D(keepdims=True), "float"),
    "Rescaling": (lambda: L.Rescaling(0.5, offset=1.0), "float"),
    "Resizing": (lambda: L.Resizing(3, 4), "float"),
    "Resizing-crop": (lambda: L.Resizing(3, 4, crop_to_aspect_ratio=True), "float"),
    "GRU": (lambda: L.GRU(2), "float"),
    "LSTM-sequences": (lambda: L.LSTM(2, return_sequences=True), "float"),
    "SimpleRNN": (lambda: L.SimpleRNN(2), "float"),
    "SpatialDropout2D": (lambda: L.SpatialDropout2D(0.5, seed=1), "float"),
    "Cropping2D": (lambda: L.Cropping2D(1), "float"),
    "UpSampling2D": (lambda: L.UpSampling2D(2), "float"),
    "UpSampling2D-bilinear": (lambda: L.UpSampling2D(2, interpolation="bilinear"), "float"),
    "ZeroPadding2D": (lambda: L.ZeroPadding2D(1), "float"),
    "Normalization": (lambda: L.Normalization(mean=1.0, variance=2.0), "float"),
    "Normalization-adapt-axis": (lambda: L.Normalization(axis=None), "float"),
    "CategoryEncoding": (lambda: L.CategoryEncoding(3, "count"), "int"),
    "CategoryEncoding-one_hot": (lambda: L.CategoryEncoding(3, "one_hot"), "int"),
    "Discretization": (lambda: L.Discretization(bin_boundaries=[0.0, 1.0]), "float"),
    "Discretization-multi_hot": (
        lambda: L.Discretization(bin_boundaries=[0.5], output_mode="multi_hot"),
        "float",
    ),
    "CenterCrop": (lambda: L.CenterCrop(2, 3), "float"),
    "StringLookup": (lambda: L.StringLookup(vocabulary=["a b", "c"]), "str"),
    "StringLookup-count": (
        lambda: L.StringLookup(vocabulary=["a b"], output_mode="count"),
        "str",
    ),
    "IntegerLookup": (lambda: L.IntegerLookup(vocabulary=[3, 4], mask_token=0), "int"),
    "IntegerLookup-one_hot": (
        lambda: L.IntegerLookup(vocabulary=[2], output_mode="one_hot"),
        "int",
    ),
    "MaxPooling3D": (lambda: L.MaxPooling3D(2, padding="same"), "float"),
    "AveragePooling3D": (lambda: L.AveragePooling3D((1, 2, 2)), "float"),
    "GlobalMaxPooling3D": (lambda: L.GlobalMaxPooling3D(), "float"),
    "GlobalAveragePooling3D-keepdims": (lambda: L.GlobalAveragePooling3D(keepdims=True), "float"),
    "Cropping1D": (lambda: L.Cropping1D(1), "float"),
    "Cropping3D": (lambda: L.Cropping3D(((1, 0), 0, 1)), "float"),
    "ZeroPadding1D": (lambda: L.ZeroPadding1D(2), "float"),
    "ZeroPadding3D": (lambda: L.ZeroPadding3D(1), "float"),
    "UpSampling1D": (lambda: L.UpSampling1D(2), "float"),
    "UpSampling3D": (lambda: L.UpSampling3D((1, 2, 1)), "float"),
    "SpatialDropout1D": (lambda: L.SpatialDropout1D(0.5, seed=1), "float"),
    "SpatialDropout3D": (lambda: L.SpatialDropout3D(0.5, seed=1), "float"),
    "Conv1DTranspose": (lambda: L.Conv1DTranspose(2, 3, strides=2, padding="same"), "float"),
    "DepthwiseConv1D": (lambda: L.DepthwiseConv1D(2, depth_multiplier=2), "float"),
    "SeparableConv1D": (lambda: L.SeparableConv1D(2, 3, strides=2), "float"),
    "Conv3D": (lambda: L.Conv3D(2, 2, padding="same"), "float"),
    "Conv3DTranspose": (lambda: L.Conv3DTranspose(2, 2, strides=(1, 2, 1)), "float"),
    "RandomGrayscale": (lambda: L.RandomGrayscale(0.5, seed=1), "float"),
    "RandomInvert": (lambda: L.RandomInvert(seed=1), "float"),
    "Solarization": (lambda: L.Solarization(0.2, 0.5, seed=1), "float"),
    "RandomShear": (lambda: L.RandomShear(0.3, 0.2, seed=1), "float"),
    "RandomPerspective": (lambda: L.RandomPerspective(seed=1), "float"),
    "RandomElasticTransform": (lambda: L.RandomElasticTransform(seed=1), "float"),
    "CutMix": (lambda: L.CutMix(seed=1), "float"),
    "MixUp": (lambda: L.MixUp(seed=1), "float"),
    "RandAugment": (lambda: L.RandAugment(num_ops=3, seed=1), "float"),
    "AugMix": (lambda: L.AugMix(seed=1), "float"),
    "RandomHue": (lambda: L.RandomHue(0.5, seed=1), "float"),
    "RandomSaturation": (lambda: L.RandomSaturation(0.8, seed=1), "float"),
    "RandomColorJitter": (
        lambda: L.RandomColorJitter(brightness_factor=0.2, hue_factor=0.2, seed=1),
        "float",
    ),
    "RandomColorDegeneration": (lambda: L.RandomColorDegeneration(0.5, seed=1), "float"),
    "RandomSharpness": (lambda: L.RandomSharpness(0.5, seed=1), "float"),
    "RandomPosterization": (lambda: L.RandomPosterization(4, seed=1), "float"),
    "RandomGaussianBlur": (lambda: L.RandomGaussianBlur(seed=1), "float"),
    "RandomErasing": (lambda: L.RandomErasing(seed=1), "float"),
    "AutoContrast": (lambda: L.AutoContrast(), "float"),
    "Equalization": (lambda: L.Equalization(), "float"),
    "ContrastLimitedAdaptiveHistogramEqualization": (
        lambda: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)),
        "float",
    ),
    "TextVectorization": (
        lambda: L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=4),
        "str",
    ),
    "TextVectorization-count": (
        lambda: L.TextVectorization(vocabulary=["a", "b"], output_mode="count"),
        "str",
    ),
}


def test_the_table_covers_every_layer():
    """A layer added to ``cnnkit.layers`` must get a row above."""
    classes = {
        getattr(L, name)
        for name in L.__all__
        if inspect.isclass(getattr(L, name)) and issubclass(getattr(L, name), L.Layer)
    } - {L.Layer}
    covered = {type(make()) for make, _ in LAYERS.values()}
    missing = sorted(c.__name__ for c in classes - covered)
    assert not missing, f"layers without a row in LAYERS: {missing}"


LAYERS.update(
    {
        "MultiHeadAttention": (lambda: L.MultiHeadAttention(2, 3), "merge"),
        "GroupedQueryAttention": (lambda: L.GroupedQueryAttention(2, 2, 1), "merge"),
        "Attention": (lambda: L.Attention(), "merge"),
        "AdditiveAttention": (lambda: L.AdditiveAttention(), "merge"),
        "Dot": (lambda: L.Dot(axes=-1), "merge"),
        "EinsumDense": (lambda: L.EinsumDense("...b,bc->...c", 3, bias_axes="c"), "float"),
        "LayerNormalization": (lambda: L.LayerNormalization(), "float"),
        "GroupNormalization": (lambda: L.GroupNormalization(1), "float"),
        "RMSNormalization": (lambda: L.RMSNormalization(), "float"),
        "UnitNormalization": (lambda: L.UnitNormalization(), "float"),
        "SpectralNormalization": (lambda: L.SpectralNormalization(L.Dense(2)), "float"),
        "RepeatVector": (lambda: L.RepeatVector(2), "float"),
        "Permute": (lambda: L.Permute((2, 1)), "float"),
        "Identity": (lambda: L.Identity(), "float"),
        "PReLU": (lambda: L.PReLU(), "float"),
        "ActivityRegularization": (lambda: L.ActivityRegularization(l1=0.1), "float"),
        "GaussianNoise": (lambda: L.GaussianNoise(0.1, seed=1), "float"),
        "GaussianDropout": (lambda: L.GaussianDropout(0.1, seed=1), "float"),
        "AlphaDropout": (lambda: L.AlphaDropout(0.1, seed=1), "float"),
        "Wrapper": (lambda: L.Wrapper(L.Dense(2)), "input"),
        "Pipeline": (lambda: L.Pipeline([L.Rescaling(2.0), L.Identity()]), "float"),
        "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(2)), "float"),
        "RNN-SimpleRNNCell": (lambda: L.RNN(L.SimpleRNNCell(2)), "float"),
        "RNN-LSTMCell-sequences": (lambda: L.RNN(L.LSTMCell(2), return_sequences=True), "float"),
        "RNN-stacked-GRUCell": (lambda: L.RNN([L.GRUCell(2), L.GRUCell(1)]), "float"),
        "SimpleRNNCell": (lambda: L.SimpleRNNCell(2), "input"),
        "LSTMCell": (lambda: L.LSTMCell(2), "input"),
        "GRUCell": (lambda: L.GRUCell(2), "input"),
        "StackedRNNCells": (lambda: L.StackedRNNCells([L.GRUCell(2)]), "input"),
        "ConvLSTM1D": (lambda: L.ConvLSTM1D(2, 2), "float"),
        "ConvLSTM2D": (lambda: L.ConvLSTM2D(2, 2, padding="same"), "float"),
        "ConvLSTM3D": (lambda: L.ConvLSTM3D(2, 2, padding="same"), "float"),
        "Hashing": (lambda: L.Hashing(5), "str"),
        "Hashing-count": (lambda: L.Hashing(5, output_mode="count"), "int"),
        "Hashing-one_hot": (lambda: L.Hashing(5, mask_value="a b", output_mode="one_hot"), "str"),
        "HashedCrossing": (lambda: L.HashedCrossing(5), "merge"),
        "AdaptiveAveragePooling1D": (lambda: L.AdaptiveAveragePooling1D(2), "float"),
        "AdaptiveAveragePooling2D": (lambda: L.AdaptiveAveragePooling2D((2, 3)), "float"),
        "AdaptiveAveragePooling3D": (lambda: L.AdaptiveAveragePooling3D(2), "float"),
        "AdaptiveMaxPooling1D": (lambda: L.AdaptiveMaxPooling1D(3), "float"),
        "AdaptiveMaxPooling2D": (lambda: L.AdaptiveMaxPooling2D(2), "float"),
        "AdaptiveMaxPooling3D": (lambda: L.AdaptiveMaxPooling3D((1, 2, 2)), "float"),
        "ReversibleEmbedding": (lambda: L.ReversibleEmbedding(10, 3), "int"),
        "STFTSpectrogram": (lambda: L.STFTSpectrogram(frame_length=4, frame_step=2), "float"),
        "STFTSpectrogram-same-stft": (
            lambda: L.STFTSpectrogram("stft", frame_length=4, padding="same", expand_dims=True),
            "float",
        ),
        "MelSpectrogram": (
            lambda: L.MelSpectrogram(fft_length=4, sequence_stride=2, num_mel_bins=2),
            "float",
        ),
    }
)

dims = st.one_of(st.none(), st.integers(0, 9))
shapes = st.lists(dims, max_size=5).map(tuple)


def compatible(static, actual) -> bool:
    """Whether a static shape (``None`` for unknown sizes) describes an actual shape."""
    static = tuple(static)
    return len(static) == len(actual) and all(s is None or s == a for s, a in zip(static, actual))


def zeros(shape, kind):
    if kind == "int":
        return np.zeros(shape, "int64")
    if kind == "str":
        return np.full(shape, "a b")
    return np.zeros(shape, "float32")


def attempt(function):
    """``function()``, or the documented exception it raised; anything else fails the test."""
    try:
        return function(), None
    except DOCUMENTED as error:
        assert str(error), f"{type(error).__name__} without a message"
        return None, error


@pytest.mark.parametrize("name", sorted(LAYERS))
@FUZZ
@given(
    first=shapes, others=st.lists(st.one_of(st.none(), shapes), max_size=2), training=st.booleans()
)
def test_shape_inference(name, first, others, training):
    make, kind = LAYERS[name]
    if kind == "merge":  # a list of inputs: the first shape again (None) or another one
        shape = [first, *(first if s is None else s for s in others)]
        symbolic = [KerasTensor(s) for s in shape]
    else:
        shape, symbolic = first, KerasTensor(first)
    flat = shape if kind == "merge" else [shape]

    static, static_error = attempt(lambda: make().compute_output_shape(shape))
    output, _ = attempt(lambda: make()(symbolic))
    if output is not None and static_error is None:
        assert compatible(static, output.shape), (static, output.shape)

    known = all(d is not None for s in flat for d in s)
    if kind == "input" or not known or sum(math.prod(s) for s in flat) > MAX_EAGER_SIZE:
        return
    inputs = [zeros(s, "float") for s in flat] if kind == "merge" else zeros(shape, kind)
    with warnings.catch_warnings():
        if any(math.prod(s) == 0 for s in flat):  # the mean of nothing: NaN, as in NumPy
            warnings.simplefilter("ignore", RuntimeWarning)
        result, _ = attempt(lambda: make()(inputs, training=training))
    if result is None:
        return
    actual = tuple(np.shape(result.numpy() if hasattr(result, "numpy") else result))
    assert static_error is None, (
        f"the call gave {actual} but compute_output_shape raised {static_error!r}"
    )
    assert compatible(static, actual), f"compute_output_shape {static}, call {actual}"
