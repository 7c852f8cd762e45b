"""``model.summary(explain=True)`` and ``parameter_sharing``: convolutions against dense layers."""

from __future__ import annotations

import pytest

import cnnkit as keras
from cnnkit import layers
from cnnkit.models.summary import SharingRow, parameter_sharing


def _lecture_model():
    # 32x32x3 image, 64 filters of 5x5, "valid": a 28x28x64 output.
    return keras.Sequential([keras.Input(shape=(32, 32, 3)), layers.Conv2D(64, 5, name="conv")])


def test_lecture_example_numbers():
    (row,) = parameter_sharing(_lecture_model())
    assert row == SharingRow("conv", 4_864, 154_140_672, 50_176, (154_140_672 + 50_176) / 4_864)
    assert row.conv_params == 3 * 5 * 5 * 64 + 64
    assert row.dense_weights == (32 * 32 * 3) * (28 * 28 * 64) == 3_072 * 50_176
    assert row.dense_weights / 4_800 == pytest.approx(32_112.64)  # "32 mil vezes"
    assert round(row.ratio) == 31_700


def test_summary_explain_prints_the_comparison():
    model = _lecture_model()
    lines: list[str] = []
    model.summary(explain=True, print_fn=lines.append)
    text = "\n".join(lines)
    assert "Parameter sharing" in text
    assert "conv: 4,864 parameters" in text
    assert "154,140,672 weights + 50,176 biases = 154,190,848 (31,700x more)" in text
    plain: list[str] = []
    model.summary(print_fn=plain.append)
    assert plain == lines[: len(plain)]
    assert not any("Parameter sharing" in line for line in plain)


def test_every_convolution_type_is_compared():
    image = keras.Input(shape=(10, 10, 3))
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(image)
    separable = layers.SeparableConv2D(8, 3, name="sep")(image)
    merged = layers.Concatenate()([depthwise, separable])
    up = layers.Conv2DTranspose(4, 3, strides=2, name="up")(merged)
    model = keras.Model(image, layers.Dense(2)(layers.Flatten()(up)))
    rows = {row.layer: row for row in parameter_sharing(model)}
    assert sorted(rows) == ["dw", "sep", "up"]  # Dense and Flatten are not convolutions
    # dw: 3x3x3x2 kernel + 6 biases; (10*10*3) -> (8*8*6)
    assert rows["dw"][1:4] == (60, 300 * 384, 384)
    # sep: 3x3x3 depthwise + 3x8 pointwise + 8 biases; (10*10*3) -> (8*8*8)
    assert rows["sep"][1:4] == (59, 300 * 512, 512)
    # up: 3x3x4x14 kernel + 4 biases; (8*8*14) -> (17*17*4)
    assert rows["up"][1:4] == (3 * 3 * 4 * 14 + 4, 896 * 1156, 1156)
    assert rows["up"].ratio == pytest.approx((896 * 1156 + 1156) / 508)


def test_conv1d_and_nested_models():
    inner = keras.Sequential([keras.Input(shape=(20, 4)), layers.Conv1D(8, 3, name="c1")])
    outer = keras.Sequential([keras.Input(shape=(20, 4)), inner, layers.Conv1D(2, 1, name="c2")])
    rows = parameter_sharing(outer)
    assert [row.layer for row in rows] == ["c1", "c2"]
    assert rows[0][1:4] == (3 * 4 * 8 + 8, 80 * 144, 144)
    assert rows[1][1:4] == (8 * 2 + 2, 144 * 36, 36)


def test_models_without_convolutions():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3)])
    assert parameter_sharing(model) == []
    lines: list[str] = []
    model.summary(explain=True, print_fn=lines.append)
    assert lines[-1].strip() == "(no convolution layers with known shapes)"
