"""Spatial reshaping, resizing and image-regularization layers.

ZeroPadding2D, Cropping2D, UpSampling2D (``layers/reshaping.py``); Rescaling and Resizing
(``layers/preprocessing.py``); SpatialDropout2D (``layers/regularization.py``).
"""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.autodiff import Variable
from cnnkit.layers import Input
from cnnkit.models import Model
from tests.kernels import reference as ref

RNG = np.random.default_rng(0)


def _images(shape, dtype="float32"):
    return RNG.standard_normal(shape).astype(dtype)


# -- ZeroPadding2D and Cropping2D ---------------------------------------------------------


@pytest.mark.parametrize(
    "padding, pairs",
    [(2, ((2, 2), (2, 2))), ((1, 3), ((1, 1), (3, 3))), (((0, 1), (2, 3)), ((0, 1), (2, 3)))],
)
def test_zero_padding_forms(padding, pairs):
    x = _images((2, 3, 4, 2))
    layer = layers.ZeroPadding2D(padding)
    assert layer.padding == pairs
    assert layer.get_config()["padding"] == pairs
    np.testing.assert_array_equal(np.asarray(layer(x)), np.pad(x, ((0, 0), *pairs, (0, 0))))


@pytest.mark.parametrize(
    "cropping, expected",
    [(1, (slice(1, -1), slice(1, -1))), (((0, 2), (1, 0)), (slice(0, -2), slice(1, None)))],
)
def test_cropping_values(cropping, expected):
    x = _images((2, 5, 6, 3))
    np.testing.assert_array_equal(
        np.asarray(layers.Cropping2D(cropping)(x)), x[:, expected[0], expected[1], :]
    )


def test_padding_and_cropping_keep_unknown_sizes():
    i = Input(shape=(None, 7, 3))
    assert layers.ZeroPadding2D((1, 2))(i).shape == (None, None, 11, 3)
    assert layers.Cropping2D(((1, 1), (2, 3)))(i).shape == (None, None, 2, 3)


def test_cropping_then_padding_gradient_is_a_mask():
    x = Variable(np.ones((1, 4, 4, 1)))
    out = layers.ZeroPadding2D(((1, 0), (0, 1)))(layers.Cropping2D(((1, 0), (0, 1)))(x))
    assert out.shape == (1, 4, 4, 1)
    out.sum().backward()
    expected = np.ones((4, 4))
    expected[0, :], expected[:, -1] = 0, 0
    np.testing.assert_array_equal(x.grad[0, :, :, 0], expected)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.ZeroPadding2D((1, 2, 3)), r"`padding` should have two elements"),
        (lambda: layers.ZeroPadding2D(-1), r"`padding` cannot be negative"),
        (lambda: layers.ZeroPadding2D(((1, 2), (3,))), r"2nd entry of padding"),
        (lambda: layers.ZeroPadding2D(1.5), r"`padding` should be either an int"),
        (lambda: layers.Cropping2D(-2), r"`cropping` cannot be negative. Received: cropping=-2"),
        (lambda: layers.Cropping2D(((1, -1), (0, 0))), r"1st entry of cropping"),
        (lambda: layers.UpSampling2D(0), r"strictly positive.*size=0"),
        (lambda: layers.UpSampling2D(interpolation="linear"), r"interpolation='linear'"),
        (lambda: layers.SpatialDropout2D(1.5), r"between 0 and 1. Received: rate=1.5"),
        (lambda: layers.Resizing(0, 4), r"`height`.*Received: height=0"),
        (lambda: layers.Resizing(4, 4, fill_mode="reflect"), r"fill_mode='reflect'"),
        (
            lambda: layers.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
            r"Only one of `crop_to_aspect_ratio` & `pad_to_aspect_ratio`",
        ),
        (lambda: layers.Rescaling("half"), r"`scale`.*Received: scale='half'"),
    ],
)
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_cropping_everything_is_an_error():
    with pytest.raises(ValueError, match=r"should be smaller than the corresponding spatial"):
        layers.Cropping2D(((2, 2), (0, 0)))(Input(shape=(4, 4, 1)))
    with pytest.raises(ValueError, match=r"should be smaller than the corresponding spatial"):
        layers.Cropping2D(((0, 0), (3, 3)))(np.zeros((1, 8, 6, 1), "float32"))


def test_interpolations_keras_has_but_cnnkit_lacks():
    with pytest.raises(NotImplementedError, match=r"bicubic"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(NotImplementedError, match=r"lanczos3"):
        layers.Resizing(4, 4, interpolation="lanczos3")


# -- UpSampling2D ----------------------------------------------------------------------------


def test_upsampling_nearest_repeats_pixels():
    x = _images((2, 3, 4, 2))
    out = np.asarray(layers.UpSampling2D((2, 3))(x))
    np.testing.assert_array_equal(out, x.repeat(2, axis=1).repeat(3, axis=2))


def test_upsampling_bilinear_is_the_half_pixel_resize():
    x = _images((2, 3, 4, 2)).astype("float64")
    layer = layers.UpSampling2D((2, 3), interpolation="bilinear", dtype="float64")
    np.testing.assert_allclose(np.asarray(layer(x)), ref.resize(x, (6, 12), "bilinear"), rtol=1e-12)


def test_upsampling_keeps_unknown_sizes():
    i = Input(shape=(None, 5, 2))
    assert layers.UpSampling2D((3, 2), interpolation="bilinear")(i).shape == (None, None, 10, 2)


# -- Resizing -------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize(
    "size_in, size_out", [((4, 5), (8, 10)), ((5, 7), (11, 3)), ((9, 8), (4, 6))]
)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_resizing_matches_pytorch(size_in, size_out, interpolation):
    torch = pytest.importorskip("torch")
    x = _images((2, *size_in, 3))
    out = np.asarray(layers.Resizing(*size_out, interpolation=interpolation)(x))
    mode = {"bilinear": "bilinear", "nearest": "nearest-exact"}[interpolation]
    extra = {"align_corners": False, "antialias": False} if mode == "bilinear" else {}
    expected = torch.nn.functional.interpolate(
        torch.tensor(x.transpose(0, 3, 1, 2)), size=size_out, mode=mode, **extra
    )
    expected = expected.numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.torch
def test_bilinear_upsampling_gradient_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 5, 2))
    g = RNG.standard_normal((2, 6, 10, 2))
    xv = Variable(x)
    layers.UpSampling2D(2, interpolation="bilinear", dtype="float64")(xv).backward(g)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=2, mode="bilinear", align_corners=False)
    yt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(xv.grad, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-6)


def test_resizing_to_the_same_size_is_the_identity():
    x = _images((1, 5, 4, 2))
    np.testing.assert_array_equal(np.asarray(layers.Resizing(5, 4)(x)), x)


def test_resizing_crop_and_pad_to_aspect_ratio():
    x = _images((1, 6, 3, 2))  # tall: crop rows, or pad columns
    cropped = np.asarray(layers.Resizing(2, 2, crop_to_aspect_ratio=True)(x))
    expected = ref.resize(x[:, 1:4].astype("float64"), (2, 2), "bilinear")  # rows 1..3 of 6
    np.testing.assert_allclose(cropped, expected, rtol=1e-6, atol=1e-6)
    padded = np.asarray(layers.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=-1.0)(x))
    canvas = np.full((1, 6, 6, 2), -1.0)
    canvas[:, :, 1:4] = x  # int((6 - 3) / 2) = 1 column on the left, 2 on the right
    np.testing.assert_allclose(padded, ref.resize(canvas, (4, 4), "bilinear"), atol=1e-6)


def test_resizing_integer_images_round_back_to_their_dtype():
    x = np.array([[0, 255]], dtype="uint8").reshape(1, 1, 2, 1)
    out = np.asarray(layers.Resizing(1, 4)(x))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out.ravel(), [0, 64, 191, 255])  # 63.75 -> 64, 191.25 -> 191


def test_resizing_a_single_image_and_inside_a_model():
    image = _images((4, 6, 3))
    assert layers.Resizing(2, 3)(image).shape == (2, 3, 3)
    i = Input(shape=(None, None, 3))
    x = layers.Resizing(8, 8)(layers.Rescaling(1 / 255)(i))
    model = Model(i, layers.Dense(2)(layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3)(x))))
    assert model.predict(np.full((2, 13, 5, 3), 255, "uint8"), verbose=0).shape == (2, 2)
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(_images((2, 10, 10, 3)), np.zeros((2, 2), "float32"))


# -- Rescaling --------------------------------------------------------------------------------


def test_rescaling_values_and_dtypes():
    pixels = np.array([[0, 127, 255]], dtype="uint8")
    out = layers.Rescaling(1 / 127.5, offset=-1.0)(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), [[-1.0, -1 / 255, 1.0]], atol=1e-6)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0], offset=[0.0, 0.0, 1.0])
    x = np.ones((2, 2, 2, 3), "float32")
    np.testing.assert_array_equal(np.asarray(per_channel(x))[0, 0, 0], [1.0, 2.0, 4.0])
    assert per_channel.get_config()["scale"] == (1.0, 2.0, 3.0)


# -- SpatialDropout2D ---------------------------------------------------------------------------


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((64, 4, 5, 16), "float32")
    layer = layers.SpatialDropout2D(0.25, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # inference: identity
    out = np.asarray(layer(x, training=True))
    per_map = out.reshape(64, 20, 16)
    assert np.all(per_map.min(axis=1) == per_map.max(axis=1)), "a feature map was split"
    kept = per_map[:, 0, :] != 0
    np.testing.assert_allclose(per_map[:, 0, :][kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.05  # 1,024 draws: about 3.5 standard deviations


def test_spatial_dropout_seed_and_gradient():
    x = _images((2, 3, 3, 6))
    a = np.asarray(layers.SpatialDropout2D(0.5, seed=7)(x, training=True))
    b = np.asarray(layers.SpatialDropout2D(0.5, seed=7)(x, training=True))
    np.testing.assert_array_equal(a, b)
    xv = Variable(x.astype("float64"))
    out = layers.SpatialDropout2D(0.5, seed=7, dtype="float64")(xv, training=True)
    out.sum().backward()
    np.testing.assert_array_equal(xv.grad, np.where(a != 0, 2.0, 0.0))
