"""Tests for cnnkit.signal: values against scipy.signal, channels, kernels and error messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.signal import (
    convolve2d,
    correlate2d,
    gaussian_kernel,
    laplacian,
    sobel_x,
    sobel_y,
)

scipy_signal = pytest.importorskip("scipy.signal")

MODES = ("valid", "same", "full")
KERNELS = [(1, 1), (2, 2), (3, 3), (4, 4), (2, 3), (5, 2)]
IMAGES = [(7, 8), (5, 5), (4, 4), (2, 3), (1, 1), (3, 2), (1, 6)]
PAIRS = [(correlate2d, scipy_signal.correlate2d), (convolve2d, scipy_signal.convolve2d)]


def _valid_allowed(image, kernel):
    """SciPy's rule: one input is at least as large as the other in every dimension."""
    return all(n >= k for n, k in zip(image, kernel, strict=True)) or all(
        k >= n for n, k in zip(image, kernel, strict=True)
    )


def _cases():
    for image in IMAGES:
        for kernel in KERNELS:
            for mode in MODES:
                if mode == "valid" and not _valid_allowed(image, kernel):
                    continue
                yield image, kernel, mode


@pytest.mark.parametrize("ours, reference", PAIRS, ids=["correlate2d", "convolve2d"])
@pytest.mark.parametrize("image, kernel, mode", list(_cases()))
def test_2d_matches_scipy(ours, reference, image, kernel, mode):
    rng = np.random.default_rng([*image, *kernel, MODES.index(mode)])
    A = rng.standard_normal(image)
    w = rng.standard_normal(kernel)
    expected = reference(A, w, mode=mode)
    got = ours(A, w, mode=mode)
    assert got.dtype == np.float64
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("ours, reference", PAIRS, ids=["correlate2d", "convolve2d"])
def test_default_mode_is_valid(ours, reference):
    rng = np.random.default_rng(0)
    A, w = rng.standard_normal((6, 6)), rng.standard_normal((3, 3))
    np.testing.assert_allclose(ours(A, w), reference(A, w, mode="valid"), rtol=0, atol=1e-10)


def test_convolve_is_correlate_with_flipped_kernel():
    rng = np.random.default_rng(1)
    A, w = rng.standard_normal((6, 7)), rng.standard_normal((3, 3))
    np.testing.assert_allclose(
        convolve2d(A, w, "full"), correlate2d(A, w[::-1, ::-1], "full"), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("ours, reference", PAIRS, ids=["correlate2d", "convolve2d"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kernel", [(3, 3), (2, 2), (4, 3)])
def test_channels_sum_into_one_map(ours, reference, mode, kernel):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((6, 7, 3))
    w = rng.standard_normal((*kernel, 3))
    expected = sum(reference(A[:, :, c], w[:, :, c], mode=mode) for c in range(3))
    got = ours(A, w, mode=mode)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("ours, reference", PAIRS, ids=["correlate2d", "convolve2d"])
@pytest.mark.parametrize("mode", MODES)
def test_feature_maps_stack_on_last_axis(ours, reference, mode):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 5, 2))
    w = rng.standard_normal((3, 2, 2, 4))  # (KH, KW, C, F)
    expected = np.stack(
        [sum(reference(A[:, :, c], w[:, :, c, f], mode=mode) for c in range(2)) for f in range(4)],
        axis=-1,
    )
    got = ours(A, w, mode=mode)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_lecture_parameter_sharing_example_shape():
    A = np.zeros((32, 32, 3), dtype=np.float32)
    w = np.zeros((5, 5, 3, 64), dtype=np.float32)
    assert correlate2d(A, w, mode="valid").shape == (28, 28, 64)
    assert w.size == 4800


@pytest.mark.parametrize(
    "mode, expected", [("valid", (6, 5)), ("same", (10, 9)), ("full", (14, 13))]
)
def test_output_size_formulas(mode, expected):
    A = np.ones((10, 9))
    w = np.ones((5, 5))
    assert correlate2d(A, w, mode=mode).shape == expected
    assert convolve2d(A, w, mode=mode).shape == expected


@pytest.mark.parametrize(
    "a_dtype, w_dtype, expected",
    [
        (np.int64, np.int64, np.float32),
        (np.uint8, np.float32, np.float32),
        (np.int64, np.float32, np.float32),
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.int32, np.float64, np.float64),
        (np.bool_, np.int8, np.float32),
    ],
)
def test_output_dtype(a_dtype, w_dtype, expected):
    A = np.ones((4, 4), dtype=a_dtype)
    w = np.ones((2, 2), dtype=w_dtype)
    assert correlate2d(A, w).dtype == expected
    assert convolve2d(A, w).dtype == expected


def test_integer_inputs_follow_floatx():
    with backend.floatx_scope("float64"):
        assert correlate2d([[1, 2], [3, 4]], [[1]]).dtype == np.float64


def test_accepts_nested_lists():
    got = correlate2d([[1, 2, 3], [4, 5, 6]], [[1, 1]], mode="valid")
    np.testing.assert_array_equal(got, [[3, 5], [9, 11]])


# --- classic kernels ------------------------------------------------------------------------


@pytest.mark.parametrize("size, sigma", [(1, 1.0), (3, 0.5), (4, 1.0), (5, 2.0), (7, 1.5)])
def test_gaussian_kernel_normalised_and_symmetric(size, sigma):
    g = gaussian_kernel(size, sigma)
    assert g.shape == (size, size)
    assert g.dtype == np.float32
    assert np.all(g > 0)
    np.testing.assert_allclose(g.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, g[::-1, :])
    np.testing.assert_allclose(g, g[:, ::-1])


def test_gaussian_kernel_peak_at_centre_and_dtype():
    g = gaussian_kernel(5, 1.0, dtype="float64")
    assert g.dtype == np.float64
    assert np.unravel_index(np.argmax(g), g.shape) == (2, 2)
    # A separable Gaussian: g[i, j] / g[2, 2] = exp(-(di^2 + dj^2) / (2 sigma^2)).
    np.testing.assert_allclose(g[0, 1] / g[2, 2], np.exp(-(4 + 1) / 2.0))


def test_classic_kernels_values():
    np.testing.assert_array_equal(sobel_x(), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(sobel_y(), sobel_x().T)
    np.testing.assert_array_equal(laplacian(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    for kernel in (sobel_x(), sobel_y(), laplacian()):
        assert kernel.shape == (3, 3)
        assert kernel.dtype == np.float32
    assert sobel_x(dtype="float64").dtype == np.float64


def test_sobel_x_responds_only_along_vertical_step_edge():
    image = np.zeros((8, 10))
    image[:, 5:] = 1.0  # dark left half, bright right half: a vertical edge between cols 4, 5
    response = correlate2d(image, sobel_x(dtype="float64"), mode="valid")  # (6, 8)
    # Valid output column j looks at image columns j..j+2; only j = 3, 4 straddle the edge.
    edge_columns = np.flatnonzero(np.any(response != 0, axis=0))
    np.testing.assert_array_equal(edge_columns, [3, 4])
    np.testing.assert_array_equal(response[:, 3:5], 4.0)  # bright on the right: positive
    assert np.all(correlate2d(image, sobel_y(dtype="float64"), mode="valid") == 0)


def test_laplacian_of_constant_image_is_zero():
    image = np.full((6, 7), 3.5)
    np.testing.assert_array_equal(correlate2d(image, laplacian(), mode="valid"), 0.0)


def test_gaussian_blur_preserves_constant_interior():
    image = np.full((9, 9), 2.0)
    blurred = correlate2d(image, gaussian_kernel(3, 1.0, dtype="float64"), mode="valid")
    np.testing.assert_allclose(blurred, 2.0)


# --- errors ---------------------------------------------------------------------------------


def test_channel_mismatch_message():
    A = np.zeros((5, 5, 3))
    w = np.zeros((3, 3, 2))
    message = (
        "Invalid kernel for `correlate2d`: `w` has 2 input channels but `A` has 3 channels. "
        "Received: A.shape=(5, 5, 3), w.shape=(3, 3, 2)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        correlate2d(A, w)
    with pytest.raises(ValueError, match=r"`convolve2d`: `w` has 2 input channels"):
        convolve2d(A, np.zeros((3, 3, 2, 4)))


@pytest.mark.parametrize("mode", ["bad", "VALID", None, 1])
def test_bad_mode_message(mode):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Invalid value for argument `mode` of `correlate2d`. Expected one of "
            f"('valid', 'same', 'full'). Received: mode={mode!r}"
        ),
    ):
        correlate2d(np.ones((3, 3)), np.ones((2, 2)), mode=mode)


@pytest.mark.parametrize(
    "A_shape, w_shape, pattern",
    [
        ((5,), (3,), r"`A` must have shape \(H, W\) or \(H, W, C\)"),
        ((2, 5, 5, 3), (3, 3, 3), r"`A` must have shape \(H, W\) or \(H, W, C\)"),
        ((5, 5), (3, 3, 1), r"a 2-D `A` needs a 2-D `w`"),
        ((5, 5, 3), (3, 3), r"needs `w` of shape \(KH, KW, C\) or \(KH, KW, C, F\)"),
        ((0, 5), (3, 3), r"must not be empty"),
        ((5, 5), (0, 3), r"must not be empty"),
    ],
)
def test_bad_rank_or_empty_messages(A_shape, w_shape, pattern):
    with pytest.raises(ValueError, match=pattern + r".*Received: A\.shape="):
        correlate2d(np.zeros(A_shape), np.zeros(w_shape))


@pytest.mark.parametrize("ours, reference", PAIRS, ids=["correlate2d", "convolve2d"])
def test_valid_without_full_overlap_raises_like_scipy(ours, reference):
    A, w = np.ones((2, 3)), np.ones((5, 2))
    with pytest.raises(ValueError):
        reference(A, w, mode="valid")
    with pytest.raises(ValueError, match=r"mode='valid'.*Received: A\.shape=\(2, 3\)"):
        ours(A, w, mode="valid")
    assert ours(A, w, mode="full").shape == (6, 4)  # other modes accept any sizes


@pytest.mark.parametrize(
    "A, w, pattern",
    [
        ([["a", "b"], ["c", "d"]], [[1]], r"argument `A` of `correlate2d`.*Received: A\.dtype="),
        ([[1.0, 2.0]], [["x"]], r"argument `w` of `correlate2d`.*Received: w\.dtype="),
        (np.ones((3, 3), dtype=complex), np.ones((2, 2)), r"real numeric.*complex128"),
        (np.array([[None, 1]]), np.ones((1, 1)), r"Received: A\.dtype=object"),
        ([[1, 2], [3]], [[1]], r"argument `A`.*Received: A of type list"),
    ],
)
def test_non_numeric_input_raises_type_error(A, w, pattern):
    with pytest.raises(TypeError, match=pattern):
        correlate2d(A, w)


@pytest.mark.parametrize("size", [0, -3, 2.0, True, "3", None])
def test_gaussian_kernel_bad_size(size):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Invalid value for argument `size` of `gaussian_kernel`. Expected a strictly "
            f"positive integer. Received: size={size!r}"
        ),
    ):
        gaussian_kernel(size, 1.0)


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), float("inf"), "1", None, False])
def test_gaussian_kernel_bad_sigma(sigma):
    with pytest.raises(ValueError, match=r"argument `sigma`.*Received: sigma="):
        gaussian_kernel(3, sigma)
