"""``ops.stft``/``ops.istft``: values against NumPy and Keras (torch), round trips, symbolic
shapes, saving, gradients and argument errors."""

import numpy as np
import pytest

from cnnkit import ops
from cnnkit.autodiff import Tensor
from tests.harness import gradcheck

RNG = np.random.default_rng(0)
SIGNAL = RNG.standard_normal((2, 3, 41))

# (sequence_length, sequence_stride, fft_length, window, center)
CASES = [
    (8, 2, 8, "hann", True),
    (8, 2, 8, None, True),
    (6, 2, 8, "hann", True),
    (8, 4, 8, "hann", False),
    (6, 3, 8, "hamming", False),
    (8, 3, 8, np.linspace(0.1, 1.0, 8), True),
    (3, 2, 3, "hann", False),
    (16, 4, 32, "hamming", True),
]


def _numpy_stft(x, length, stride, n, window, center):
    if window is None:
        win = np.ones(length)
    elif isinstance(window, str):
        k = np.arange(length)
        a = 0.5 if window == "hann" else 0.54
        win = a - (1 - a) * np.cos(2 * np.pi * k / length)  # periodic
    else:
        win = np.asarray(window, dtype="float64")
    left = (n - length) // 2
    win = np.pad(win, (left, n - length - left))
    if center:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n // 2, n // 2)], mode="reflect")
    count = 1 + (x.shape[-1] - n) // stride
    frames = np.stack([x[..., t * stride : t * stride + n] for t in range(count)], axis=-2)
    return np.fft.rfft(frames * win, axis=-1)


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[:3] + (type(c[3]).__name__, c[4])))
def test_stft_matches_numpy(case):
    real, imag = ops.stft(SIGNAL, *case[:3], window=case[3], center=case[4])
    expected = _numpy_stft(SIGNAL, *case)
    assert real.shape == imag.shape == expected.shape
    np.testing.assert_allclose(real, expected.real, atol=1e-12)
    np.testing.assert_allclose(imag, expected.imag, atol=1e-12)


@pytest.mark.filterwarnings("ignore:The length of signal is shorter")  # torch.istft, length=50
@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c[:3] + (type(c[3]).__name__, c[4])))
def test_stft_and_istft_match_keras(case):
    keras = pytest.importorskip("keras")
    length, stride, n, window, center = case
    kwargs = dict(window=window, center=center)
    theirs = keras.ops.stft(SIGNAL, length, stride, n, **kwargs)
    ours = ops.stft(SIGNAL, length, stride, n, **kwargs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), atol=1e-12)
    expected = keras.ops.convert_to_numpy(keras.ops.istft(theirs, length, stride, n, **kwargs))
    np.testing.assert_allclose(ops.istft(ours, length, stride, n, **kwargs), expected, atol=1e-12)
    for size in (30, 50):
        cut = keras.ops.convert_to_numpy(keras.ops.istft(theirs, length, stride, n, size, **kwargs))
        out = ops.istft(ours, length, stride, n, size, **kwargs)
        # always ``size`` samples (zeros past the frames); Keras pads only where torch.istft runs
        assert out.shape[-1] == size
        np.testing.assert_allclose(out[..., : cut.shape[-1]], cut, atol=1e-12)


def test_float32_keeps_its_dtype_and_matches_float64():
    x32 = SIGNAL.astype("float32")
    real, imag = ops.stft(x32, 8, 2, 16)
    assert real.dtype == imag.dtype == np.float32
    expected = _numpy_stft(SIGNAL, 8, 2, 16, "hann", True)
    np.testing.assert_allclose(real, expected.real, atol=1e-4)
    assert ops.istft((real, imag), 8, 2, 16).dtype == np.float32


@pytest.mark.parametrize(("length", "stride", "n"), [(8, 2, 8), (16, 4, 16), (12, 3, 12)])
def test_istft_inverts_stft(length, stride, n):
    for window in ("hann", "hamming"):
        spectrum = ops.stft(SIGNAL, length, stride, n, window=window)
        np.testing.assert_allclose(
            ops.istft(spectrum, length, stride, n, length=41, window=window), SIGNAL, atol=1e-12
        )
        # without ``length``: the samples the frames cover
        covered = (SIGNAL.shape[-1] // stride) * stride
        np.testing.assert_allclose(
            ops.istft(spectrum, length, stride, n, window=window), SIGNAL[..., :covered], atol=1e-12
        )
        # ``length`` cuts the output, or pads it with zeros
        np.testing.assert_allclose(
            ops.istft(spectrum, length, stride, n, length=20, window=window),
            SIGNAL[..., :20],
            atol=1e-12,
        )
    out = ops.istft(ops.stft(SIGNAL, 8, 2, 8), 8, 2, 8, length=50)
    assert out.shape == (2, 3, 50) and not np.any(out[..., 44:])  # 44: the frames' end
    np.testing.assert_allclose(out[..., :41], SIGNAL, atol=1e-12)


def test_istft_without_center_inverts_away_from_the_edges():
    spectrum = ops.stft(SIGNAL, 8, 2, 8, center=False)
    out = ops.istft(spectrum, 8, 2, 8, center=False)
    np.testing.assert_allclose(out[..., 6:-8], SIGNAL[..., 6 : out.shape[-1] - 8], atol=1e-12)


def test_gradients_match_finite_differences():
    x = RNG.standard_normal((2, 19))
    gradcheck(lambda t: ops.stft(t, 6, 3, 8)[0], x)
    gradcheck(lambda t: ops.stft(t, 6, 3, 8, window="hamming", center=False)[1], x)
    real, imag = (RNG.standard_normal((2, 5, 5)) for _ in range(2))
    gradcheck(lambda r, i: ops.istft((r, i), 8, 2, 8), real, imag)
    gradcheck(lambda r, i: ops.istft((r, i), 6, 3, 8, window=None, center=False), real, imag)


def test_tensor_in_gives_tensors_out():
    real, imag = ops.stft(Tensor(SIGNAL), 8, 2, 8)
    assert isinstance(real, Tensor) and isinstance(imag, Tensor)
    assert isinstance(ops.istft((real, imag), 8, 2, 8), Tensor)


def test_symbolic_shapes_with_none_batch_and_saving(tmp_path):
    from cnnkit.layers import Input
    from cnnkit.models import Model, load_model

    inputs = Input(shape=(3, 41))
    real, imag = ops.stft(inputs, 16, 2, 16)
    assert real.shape == imag.shape == (None, 3, 21, 9)
    restored = ops.istft((real, imag), 16, 2, 16, length=41)
    assert restored.shape == (None, 3, 41)
    model = Model(inputs, [real, restored])
    path = str(tmp_path / "stft.keras")
    model.save(path)
    loaded = load_model(path)
    x = SIGNAL.astype("float32")
    for a, b in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[1], x, atol=1e-4)


def test_symbolic_shapes_with_unknown_length():
    from cnnkit.layers import Input
    from cnnkit.models import Model

    inputs = Input(shape=(None,))
    real, imag = ops.stft(inputs, 16, 4, 16)
    assert real.shape == imag.shape == (None, None, 9)
    assert ops.istft((real, imag), 16, 4, 16).shape == (None, None)
    restored = ops.istft((real, imag), 16, 4, 16, length=100)
    assert restored.shape == (None, 100)
    x = SIGNAL[0].astype("float32")[:, :40]
    spectrum, signal = Model(inputs, [real, restored]).predict(x, verbose=0)
    assert spectrum.shape == (3, 11, 9) and signal.shape == (3, 100)
    np.testing.assert_allclose(signal[:, :40], x, atol=1e-5)
    with pytest.raises(ValueError, match="fft_length"):
        ops.stft(inputs, 16, 4, 8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ops.stft(SIGNAL, 8, 0, 8), ValueError, "sequence_stride"),
        (lambda: ops.stft(SIGNAL, 0, 2, 8), ValueError, "sequence_length"),
        (lambda: ops.stft(SIGNAL, 8, 2, 4), ValueError, "fft_length"),
        (lambda: ops.stft(SIGNAL, 8, 2, 8, window="blackman"), ValueError, "hann"),
        (lambda: ops.stft(SIGNAL, 8, 2, 8, window=np.ones(5)), ValueError, r"\[8\]"),
        (lambda: ops.stft(SIGNAL.astype("int32"), 8, 2, 8), TypeError, "float32"),
        (lambda: ops.stft(SIGNAL[..., :5], 8, 2, 8, center=False), ValueError, "shorter"),
        (lambda: ops.istft(SIGNAL, 8, 2, 8), ValueError, "tuple of two"),
        (lambda: ops.istft((SIGNAL[0, 0], SIGNAL[0, 0]), 8, 2, 8), ValueError, "rank >= 2"),
        (lambda: ops.istft((SIGNAL, SIGNAL), 8, 2, 8, length=0), ValueError, "length"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
