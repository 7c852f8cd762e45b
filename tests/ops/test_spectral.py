"""``ops.fft``/``fft2``/``ifft2``/``rfft``/``irfft``: NumPy's values, Keras's pairs, gradients."""

import numpy as np
import pytest

from cnnkit import ops
from cnnkit.autodiff import Tensor
from tests.harness import gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 6)).astype("float32")
Y = RNG.standard_normal((2, 3, 6)).astype("float32")


@pytest.mark.parametrize(
    ("op", "ref"),
    [(ops.fft, np.fft.fft), (ops.fft2, np.fft.fft2), (ops.ifft2, np.fft.ifft2)],
)
def test_complex_transforms_match_numpy(op, ref):
    real, imag = op((X, Y))
    expected = ref(X.astype("float64") + 1j * Y)
    assert real.dtype == imag.dtype == np.float32
    np.testing.assert_allclose(real, expected.real, atol=2e-5)
    np.testing.assert_allclose(imag, expected.imag, atol=2e-5)


@pytest.mark.parametrize("fft_length", [None, 4, 9, 10])
def test_rfft_and_irfft_match_numpy(fft_length):
    real, imag = ops.rfft(X, fft_length)
    expected = np.fft.rfft(X.astype("float64"), fft_length)
    assert real.shape == expected.shape
    np.testing.assert_allclose(real, expected.real, atol=2e-5)
    np.testing.assert_allclose(imag, expected.imag, atol=2e-5)
    out = ops.irfft((X, Y), fft_length)
    expected = np.fft.irfft(X.astype("float64") + 1j * Y, fft_length)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_irfft_inverts_rfft():
    signal = RNG.standard_normal((4, 7))
    for n in (7, 8):
        np.testing.assert_allclose(
            ops.irfft(ops.rfft(signal, n), n), np.fft.irfft(np.fft.rfft(signal, n), n), atol=1e-12
        )
    np.testing.assert_allclose(ops.irfft(ops.rfft(signal, 7), 7), signal, atol=1e-12)


def test_tensors_in_give_tensors_out():
    real, imag = ops.fft2((Tensor(X), Tensor(Y)))
    assert isinstance(real, Tensor) and isinstance(imag, Tensor)
    np.testing.assert_allclose(real.numpy(), np.fft.fft2(X + 1j * Y).real, atol=2e-5)


def test_same_values_as_keras():
    keras = pytest.importorskip("keras")
    for ours, theirs in (
        (ops.fft((X, Y)), keras.ops.fft((X, Y))),
        (ops.fft2((X, Y)), keras.ops.fft2((X, Y))),
        (ops.ifft2((X, Y)), keras.ops.ifft2((X, Y))),
        (ops.rfft(X, 8), keras.ops.rfft(X, 8)),
    ):
        for a, b in zip(ours, theirs):
            b = keras.ops.convert_to_numpy(b)
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, atol=2e-5)
    b = keras.ops.convert_to_numpy(keras.ops.irfft((X, Y), 9))
    np.testing.assert_allclose(ops.irfft((X, Y), 9), b, atol=2e-5)


def test_gradients_match_finite_differences():
    x, y = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 4))
    gradcheck(lambda a, b: ops.fft2((a, b))[0] + 2.0 * ops.fft2((a, b))[1], x, y)
    gradcheck(lambda a, b: ops.ifft2((a, b))[1], x, y)
    gradcheck(lambda a: ops.rfft(a, 6)[1] - ops.rfft(a, 6)[0], x)
    gradcheck(lambda a, b: ops.irfft((a, b), 5), x, y)


def test_bad_inputs_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match=r"tuple of two arrays \(real, imag\)"):
        ops.fft(X)
    with pytest.raises(ValueError, match=r"same shape.*x\[0\]\.shape = \(2, 3, 6\)"):
        ops.fft2((X, Y[..., :3]))
    with pytest.raises(ValueError, match="rank >= 2"):
        ops.fft2((X[0, 0], Y[0, 0]))
    with pytest.raises(ValueError, match=r"float real and imaginary parts.*x\[1\]\.dtype = int"):
        ops.fft((X, np.ones(X.shape, "int32")))
    with pytest.raises(TypeError, match="`fft_length` must be an int or None"):
        ops.rfft(X, 2.5)
    with pytest.raises(ValueError, match="`fft_length` must be >= 1"):
        ops.irfft((X, Y), 0)
