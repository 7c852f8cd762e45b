"""``cnnkit.ops.image`` against Keras 3, against NumPy/SciPy references, and float64 gradients."""

from __future__ import annotations

import colorsys
import inspect

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.ops import image
from tests.harness import gradcheck

RNG = np.random.default_rng(4321)
IMAGES = RNG.uniform(size=(2, 7, 6, 3)).astype("float32")
CHW = np.ascontiguousarray(IMAGES.transpose(0, 3, 1, 2))
TRANSFORMS = np.array(
    [[1.1, 0.2, -2.3, -0.1, 0.9, 1.7, 0, 0], [0.7, -0.3, 2.5, 0.4, 1.2, -3.1, 0, 0]], "float32"
)
ARRAY = (RNG.standard_normal((5, 6)) * 3).astype("float32")
COORDS = RNG.uniform(-3, 9, size=(2, 4, 7)).astype("float32")
START = np.array([[0, 0], [5, 1], [6, 6], [1, 5]], "float32")
END = np.array([[1, 0], [5, 0], [5, 6], [0, 6]], "float32")
NOISY = np.clip(IMAGES + 0.1 * RNG.standard_normal(IMAGES.shape), 0, 1).astype("float32")
MODES = ("constant", "nearest", "wrap", "mirror", "reflect")

KERAS_CASES = [
    ("grayscale", "rgb_to_grayscale", (IMAGES,), {}),
    ("grayscale_cf", "rgb_to_grayscale", (CHW,), {"data_format": "channels_first"}),
    ("rgb_to_hsv", "rgb_to_hsv", (IMAGES,), {}),
    ("rgb_to_hsv_cf", "rgb_to_hsv", (CHW[0],), {"data_format": "channels_first"}),
    ("hsv_to_rgb", "hsv_to_rgb", (IMAGES,), {}),
    ("resize_bilinear", "resize", (IMAGES, (4, 9)), {}),
    ("resize_nearest", "resize", (IMAGES[0], (3, 3)), {"interpolation": "nearest"}),
    ("resize_crop", "resize", (IMAGES, (5, 5)), {"crop_to_aspect_ratio": True}),
    (
        "resize_pad_cf",
        "resize",
        (CHW, (5, 4)),
        {"pad_to_aspect_ratio": True, "fill_value": 0.5, "data_format": "channels_first"},
    ),
    ("pad", "pad_images", (IMAGES, 1, 2), {"target_height": 10, "right_padding": 1}),
    ("crop", "crop_images", (IMAGES, 1, 2), {"bottom_cropping": 2, "target_width": 3}),
    (
        "crop_cf",
        "crop_images",
        (CHW,),
        {
            "top_cropping": 1,
            "target_height": 3,
            "left_cropping": 0,
            "right_cropping": 2,
            "data_format": "channels_first",
        },
    ),
    *[
        (
            f"affine_{interp}_{mode}",
            "affine_transform",
            (IMAGES, TRANSFORMS),
            {"interpolation": interp, "fill_mode": mode, "fill_value": 0.3},
        )
        for interp in ("bilinear", "nearest")
        for mode in MODES
    ],
    (
        "affine_single_cf",
        "affine_transform",
        (CHW[0], TRANSFORMS[0]),
        {"data_format": "channels_first"},
    ),
    *[
        (
            f"map_coordinates_{order}_{mode}",
            "map_coordinates",
            (ARRAY, COORDS, order),
            {"fill_mode": mode, "fill_value": -1.0},
        )
        for order in (0, 1)
        for mode in MODES
    ],
    ("perspective", "perspective_transform", (IMAGES, START, END), {}),
    (
        "perspective_nearest",
        "perspective_transform",
        (IMAGES, START, END),
        {"interpolation": "nearest", "fill_value": 1.0},
    ),
    ("blur", "gaussian_blur", (IMAGES, (3, 3), (1.0, 1.0)), {"data_format": "channels_last"}),
    ("blur_5", "gaussian_blur", (IMAGES, (5, 5), (1.5, 0.7)), {"data_format": "channels_last"}),
    ("blur_cf", "gaussian_blur", (CHW, (3, 3), (0.8, 0.8)), {"data_format": "channels_first"}),
    ("patches", "extract_patches", (IMAGES, 2), {}),
    ("patches_same", "extract_patches", (IMAGES, (2, 3)), {"strides": 1, "padding": "same"}),
    ("patches_cf", "extract_patches", (CHW, 3), {"strides": 2, "data_format": "channels_first"}),
    ("sobel", "sobel_edges", (IMAGES,), {"data_format": "channels_last"}),
    ("sobel_cf", "sobel_edges", (CHW,), {"data_format": "channels_first"}),
    ("ssim", "ssim", (IMAGES, NOISY), {"filter_size": 5}),
    (
        "ssim_single_cf",
        "ssim",
        (CHW[0], CHW[1]),
        {"filter_size": 3, "max_val": 2.0, "data_format": "channels_first"},
    ),
    *[
        (
            f"scale_and_translate_{method}_{antialias}",
            "scale_and_translate",
            (IMAGES, (2, 5, 13, 3), [0.6, 2.2], [1.0, -2.5], (1, 2), method),
            {"antialias": antialias},
        )
        for method in ("linear", "cubic", "lanczos3", "lanczos5")
        for antialias in (True, False)
    ],
    (
        "patches_3d",
        "extract_patches",
        (RNG.uniform(size=(2, 4, 5, 6, 2)).astype("float32"), (2, 2, 3)),
        {},
    ),
]


@pytest.mark.parametrize("case", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_matches_keras(case):
    keras = pytest.importorskip("keras")
    _, name, args, kwargs = case
    expected = keras.ops.convert_to_numpy(getattr(keras.ops.image, name)(*args, **kwargs))
    got = getattr(image, name)(*args, **kwargs)
    assert isinstance(got, np.ndarray)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_every_keras_image_op_is_provided_or_listed():
    keras = pytest.importorskip("keras")
    names = {n for n in dir(keras.ops.image) if not n.startswith("_")}
    assert set(image.__all__) == names


def test_signatures_match_keras():
    """Same parameter names, kinds and defaults as Keras, so keyword calls carry over."""
    keras = pytest.importorskip("keras")
    for name in image.__all__:
        expected = inspect.signature(getattr(keras.ops.image, name)).parameters.values()
        got = inspect.signature(getattr(image, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in got] == [
            (p.name, p.kind, p.default) for p in expected
        ], name


# ---------------------------------------------------------------------------
# NumPy / SciPy references (float64)
# ---------------------------------------------------------------------------


def test_colour_spaces_against_colorsys():
    rgb = np.random.default_rng(0).uniform(size=(4, 5, 3))
    hsv = image.rgb_to_hsv(rgb)
    expected = np.array([colorsys.rgb_to_hsv(*p) for p in rgb.reshape(-1, 3)]).reshape(rgb.shape)
    np.testing.assert_allclose(hsv, expected, atol=1e-12)
    back = np.array([colorsys.hsv_to_rgb(*p) for p in expected.reshape(-1, 3)]).reshape(rgb.shape)
    np.testing.assert_allclose(image.hsv_to_rgb(expected), back, atol=1e-12)
    gray = rgb @ np.array([0.2989, 0.587, 0.114])
    np.testing.assert_allclose(image.rgb_to_grayscale(rgb)[..., 0], gray, rtol=1e-12)


SCIPY_MODES = {
    "constant": "grid-constant",
    "nearest": "nearest",
    "wrap": "grid-wrap",
    "mirror": "mirror",
    "reflect": "reflect",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates_matches_scipy(order, mode):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 3))
    coords = rng.uniform(-4, 8, size=(3, 6, 7)) + 0.013  # clear of rounding ties
    expected = ndimage.map_coordinates(
        x, coords, order=order, mode=SCIPY_MODES[mode], cval=-2.0, prefilter=False
    )
    got = image.map_coordinates(x, coords, order, fill_mode=mode, fill_value=-2.0)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_map_coordinates_on_integers_rounds():
    x = np.arange(6, dtype="int32")
    out = image.map_coordinates(x, [np.array([0.4, 2.5, 4.75])], 1)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [0, 2, 5])


def test_affine_transform_is_map_coordinates_at_the_mapped_points():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(2).standard_normal((1, 6, 5, 2))
    a0, a1, a2, b0, b1, b2 = 0.9, 0.3, -1.2, -0.2, 1.1, 0.7
    ys, xs = np.mgrid[0:6, 0:5].astype(float)
    src = [b0 * xs + b1 * ys + b2, a0 * xs + a1 * ys + a2]
    expected = np.stack(
        [ndimage.map_coordinates(x[0, ..., c], src, order=1, mode="reflect") for c in range(2)],
        axis=-1,
    )
    got = image.affine_transform(x, [a0, a1, a2, b0, b1, b2, 0, 0], fill_mode="reflect")
    np.testing.assert_allclose(got[0], expected, atol=1e-12)


def test_perspective_transform_maps_the_end_quad_onto_the_start_quad():
    x = np.zeros((1, 9, 9, 1))
    x[0, 2, 3, 0] = 1.0  # a single bright pixel at (x=3, y=2)
    start = np.array([[0, 0], [8, 0], [8, 8], [0, 8]], float)
    end = start + np.array([1, 2])  # a pure translation by (1, 2)
    out = image.perspective_transform(x, start, end, interpolation="nearest")
    assert np.argwhere(out[0, ..., 0]).tolist() == [[4, 4]]


def test_gaussian_blur_matches_scipy_correlate():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(3).standard_normal((1, 8, 7, 1))
    t = np.arange(5) - 2.0
    k = np.exp(-0.5 * (t / 1.3) ** 2)
    k /= k.sum()
    expected = ndimage.correlate(x[0, ..., 0], np.outer(k, k), mode="constant")
    got = image.gaussian_blur(x, (5, 5), (1.3, 1.3))
    np.testing.assert_allclose(got[0, ..., 0], expected, atol=1e-12)


def test_sobel_edges_match_scipy_correlate():
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(7).standard_normal((1, 6, 5, 2))
    edges = image.sobel_edges(x)
    sobel_y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float)
    for c in range(2):
        for k, kernel in enumerate((sobel_y, sobel_y.T)):
            expected = ndimage.correlate(x[0, ..., c], kernel, mode="constant")
            np.testing.assert_allclose(edges[0, ..., c, k], expected, atol=1e-12)


def test_ssim_is_one_for_equal_images_and_matches_the_formula():
    x = np.random.default_rng(8).uniform(size=(2, 6, 6, 1))
    y = x * 0.5 + 0.2
    np.testing.assert_allclose(image.ssim(x, x, filter_size=3), [1.0, 1.0], rtol=1e-12)
    # filter_size 6 on 6x6 images: one window, the Gaussian weights over the whole image
    t = np.arange(6) - 2.5
    w = np.outer(np.exp(-(t**2) / 4.5), np.exp(-(t**2) / 4.5))
    w /= w.sum()
    a, b = x[..., 0], y[..., 0]
    m1, m2 = (w * a).sum((1, 2)), (w * b).sum((1, 2))
    v1 = (w * a * a).sum((1, 2)) - m1**2
    v2 = (w * b * b).sum((1, 2)) - m2**2
    cov = (w * a * b).sum((1, 2)) - m1 * m2
    c1, c2 = 0.01**2, 0.03**2
    expected = (2 * m1 * m2 + c1) * (2 * cov + c2) / ((m1**2 + m2**2 + c1) * (v1 + v2 + c2))
    np.testing.assert_allclose(image.ssim(x, y, filter_size=6), expected, rtol=1e-12)


def test_scale_and_translate_at_unit_scale_shifts_by_whole_pixels():
    x = np.random.default_rng(9).standard_normal((7, 2))
    out = image.scale_and_translate(x, (7, 2), [1.0], [2.0], (0,), "linear")
    np.testing.assert_allclose(out[2:], x[:5], atol=1e-12)
    np.testing.assert_array_equal(out[:2], 0.0)


def test_extract_patches_against_slices():
    x = np.random.default_rng(4).standard_normal((2, 6, 8, 3))
    patches = image.extract_patches(x, (2, 4))
    assert patches.shape == (2, 3, 2, 24)
    np.testing.assert_array_equal(patches[1, 2, 1], x[1, 4:6, 4:8].reshape(-1))


def test_pad_and_crop_are_inverse():
    x = np.random.default_rng(5).standard_normal((5, 4, 2))
    padded = image.pad_images(x, 1, 3, 2, 0)
    assert padded.shape == (8, 7, 2)
    np.testing.assert_array_equal(image.crop_images(padded, 1, 3, 2, 0), x)


def test_elastic_transform_is_seeded_and_identity_at_zero_alpha():
    x = np.random.default_rng(6).uniform(size=(2, 9, 8, 3)).astype("float32")
    first = image.elastic_transform(x, alpha=5.0, sigma=1.0, seed=3)
    assert first.shape == x.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, image.elastic_transform(x, 5.0, 1.0, seed=3))
    assert not np.allclose(first, image.elastic_transform(x, 5.0, 1.0, seed=4))
    np.testing.assert_allclose(image.elastic_transform(x, alpha=0.0, seed=3), x)


def test_tensors_in_tensors_out():
    out = image.resize(Tensor(IMAGES), (3, 3))
    assert isinstance(out, Tensor) and out.shape == (2, 3, 3, 3)
    assert isinstance(image.rgb_to_hsv(IMAGES), np.ndarray)


# ---------------------------------------------------------------------------
# float64 gradients
# ---------------------------------------------------------------------------

R = np.random.default_rng(77)


def distinct_rgb(*shape):
    """Colours whose channels are well apart (no ties between max, mid and min)."""
    base = R.permutation(np.linspace(0.1, 0.9, 3))
    return np.clip(R.uniform(-0.05, 0.05, size=(*shape, 3)) + base, 0, 1)


def hsv_away_from_kinks(*shape):
    h = (R.integers(0, 6, size=shape) + R.uniform(0.15, 0.85, size=shape)) / 6
    return np.stack([h, R.uniform(0.2, 0.9, shape), R.uniform(0.2, 0.9, shape)], axis=-1)


SAMPLE_POINTS = R.uniform(-1, 4, (2, 5)) + 0.01

GRAD_CASES = [
    ("grayscale", lambda x: image.rgb_to_grayscale(x), [R.uniform(size=(1, 2, 3, 3))]),
    ("rgb_to_hsv", lambda x: image.rgb_to_hsv(x), [distinct_rgb(2, 3)]),
    ("hsv_to_rgb", lambda x: image.hsv_to_rgb(x), [hsv_away_from_kinks(2, 3)]),
    ("resize", lambda x: image.resize(x, (5, 3)), [R.standard_normal((1, 3, 4, 2))]),
    ("pad", lambda x: image.pad_images(x, 1, 0, 2, 1), [R.standard_normal((1, 2, 3, 1))]),
    ("crop", lambda x: image.crop_images(x, 1, 0, 0, 1), [R.standard_normal((3, 3, 2))]),
    (
        "map_coordinates",
        lambda x: image.map_coordinates(x, SAMPLE_POINTS, 1, "mirror"),
        [R.standard_normal((4, 3))],
    ),
    (
        "affine",
        lambda x: image.affine_transform(x, TRANSFORMS, fill_mode="constant", fill_value=0.5),
        [R.standard_normal((2, 4, 3, 2))],
    ),
    (
        "perspective",
        lambda x: image.perspective_transform(x, START, END),
        [R.standard_normal((1, 5, 4, 1))],
    ),
    (
        "elastic",
        lambda x: image.elastic_transform(x, 2.0, 1.0, seed=0),
        [R.standard_normal((1, 4, 4, 2))],
    ),
    ("blur", lambda x: image.gaussian_blur(x, 3, 0.9), [R.standard_normal((1, 4, 4, 2))]),
    (
        "patches",
        lambda x: image.extract_patches(x, 2, strides=1),
        [R.standard_normal((1, 3, 3, 2))],
    ),
]

GRAD_CASES += [
    ("sobel", lambda x: image.sobel_edges(x, "channels_first"), [R.standard_normal((1, 2, 3, 4))]),
    (
        "ssim",
        lambda a, b: image.ssim(a, b, filter_size=3),
        [R.uniform(size=(2, 4, 4, 1)), R.uniform(size=(2, 4, 4, 1))],
    ),
    (
        "scale_and_translate",
        lambda x: image.scale_and_translate(
            x, (1, 5, 3, 2), [1.3, 0.6], [0.4, 0.2], (1, 2), "cubic"
        ),
        [R.standard_normal((1, 4, 4, 2))],
    ),
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
    _, fn, arrays = case
    gradcheck(fn, *arrays)


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: image.rgb_to_grayscale(IMAGES[0, 0]), ValueError, "rank"),
        (lambda: image.rgb_to_grayscale(IMAGES[..., :2]), ValueError, "channel size"),
        (lambda: image.rgb_to_hsv(np.ones((2, 2, 3), "int32")), ValueError, "float dtype"),
        (lambda: image.resize(IMAGES, (3,)), ValueError, "size"),
        (lambda: image.resize(IMAGES, (3, 3), interpolation="cubic"), ValueError, "interp"),
        (lambda: image.resize(IMAGES, (3, 3), antialias=True), NotImplementedError, "antialias"),
        (lambda: image.resize(IMAGES, (3, 3), fill_mode="wrap"), ValueError, "fill_mode"),
        (lambda: image.pad_images(IMAGES, 1, 1), ValueError, "exactly two"),
        (lambda: image.pad_images(IMAGES, -1, 1, 1, 1), ValueError, "top_padding must be >= 0"),
        (
            lambda: image.pad_images(IMAGES, 1, 0, target_height=3, right_padding=0),
            ValueError,
            "bottom_padding must be >= 0",
        ),
        (lambda: image.crop_images(IMAGES, 4, 0, 3, 0), ValueError, "leaves no pixel"),
        (lambda: image.map_coordinates(ARRAY, COORDS, 3), NotImplementedError, "order"),
        (lambda: image.map_coordinates(ARRAY, COORDS[:1], 1), ValueError, "rank of `inputs`"),
        (lambda: image.map_coordinates(ARRAY, COORDS, 1, "edge"), ValueError, "fill_mode"),
        (lambda: image.affine_transform(IMAGES, np.ones(5)), ValueError, "transform"),
        (lambda: image.affine_transform(IMAGES, TRANSFORMS, "cubic"), ValueError, "interp"),
        (lambda: image.perspective_transform(IMAGES, START[:3], END), ValueError, "start_points"),
        (lambda: image.gaussian_blur(IMAGES, 0), ValueError, "kernel_size"),
        (lambda: image.elastic_transform(IMAGES, sigma=0), ValueError, "sigma"),
        (lambda: image.elastic_transform(IMAGES, seed="a"), TypeError, "seed"),
        (lambda: image.extract_patches(IMAGES, (1, 2, 3, 4)), TypeError, "size"),
        (lambda: image.sobel_edges(IMAGES[0]), ValueError, "rank 4"),
        (lambda: image.ssim(IMAGES, IMAGES[:1]), ValueError, "same shape"),
        (lambda: image.ssim(IMAGES, IMAGES, filter_size=11), ValueError, "filter_size"),
        (
            lambda: image.scale_and_translate(IMAGES, (2, 3, 3, 3), [1], [0], (1, 2), "linear"),
            ValueError,
            "one value per spatial dim",
        ),
        (
            lambda: image.scale_and_translate(IMAGES, IMAGES.shape, [1], [0], (1,), "area"),
            ValueError,
            "method",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
