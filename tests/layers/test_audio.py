"""``STFTSpectrogram`` and ``MelSpectrogram``: values and configs against Keras (torch), the
layer lifecycle, saving in a model, and argument errors."""

import warnings

import numpy as np
import pytest

from cnnkit import initializers, layers
from tests.harness import run_layer_test

RNG = np.random.default_rng(0)
SIGNALS = RNG.standard_normal((2, 100, 3)).astype("float32")
MONO = RNG.standard_normal((2, 203)).astype("float32")

STFT_CONFIGS = [
    dict(mode="log", frame_length=16),
    dict(mode="magnitude", frame_length=16, frame_step=3, fft_length=16),
    dict(mode="psd", frame_length=16, frame_step=4, fft_length=32, padding="same"),
    dict(
        mode="stft",
        frame_length=12,
        frame_step=5,
        fft_length=16,
        window="hamming",
        periodic=True,
        scaling="spectrum",
        expand_dims=True,
    ),
    dict(mode="angle", frame_length=8, window=None),
    dict(mode="real", frame_length=8, data_format="channels_first"),
    dict(
        mode="imag",
        frame_length=9,
        fft_length=15,
        data_format="channels_first",
        expand_dims=True,
        window="blackman",
        scaling=None,
    ),
    dict(mode="log", frame_length=8, window=list(np.linspace(0.2, 1.0, 8))),
]

MEL_CONFIGS = [
    dict(fft_length=64, sequence_stride=16, num_mel_bins=10),
    dict(
        fft_length=32,
        sequence_stride=8,
        sequence_length=20,
        num_mel_bins=6,
        power_to_db=False,
        mag_exp=1.0,
        window="hamming",
        sampling_rate=8000,
        min_freq=50.0,
        max_freq=3000.0,
    ),
    dict(fft_length=64, sequence_stride=20, num_mel_bins=24, top_db=20.0, ref_power=3.0),
    dict(fft_length=48, sequence_stride=12, num_mel_bins=12, window=None, min_power=1e-3),
]


def _inputs(config):
    if config.get("data_format") == "channels_first":
        return SIGNALS.transpose(0, 2, 1)
    return SIGNALS


def _keras_layer(library, name, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(getattr(library, "layers", library), name)(**config)


@pytest.mark.parametrize("config", STFT_CONFIGS, ids=lambda c: c["mode"])
def test_stft_spectrogram_matches_keras(config):
    keras = pytest.importorskip("keras")
    x = _inputs(config)
    theirs = _keras_layer(keras, "STFTSpectrogram", config)
    ours = _keras_layer(layers, "STFTSpectrogram", config)
    expected = keras.ops.convert_to_numpy(theirs(x))
    out = np.asarray(ours(x))
    assert out.shape == expected.shape == ours.compute_output_shape(x.shape)
    atol = 2e-5
    if config["mode"] == "angle":  # phases: equal up to a turn (at +-pi)
        out, expected = np.exp(1j * out), np.exp(1j * expected)
        atol = 1e-3  # the Nyquist bin's imaginary part is float32 rounding noise in Keras
    np.testing.assert_allclose(out, expected, atol=atol, rtol=1e-5)
    for name in ("real_kernel", "imag_kernel"):
        if hasattr(theirs, name):
            np.testing.assert_allclose(
                getattr(ours, name).numpy(),
                keras.ops.convert_to_numpy(getattr(theirs, name)),
                atol=1e-5,
            )
    theirs_config = theirs.get_config()
    ours_config = ours.get_config()
    for key in set(theirs_config) - {"name", "dtype"}:
        assert ours_config[key] == theirs_config[key], key
    del theirs_config["dtype"]  # Keras's DTypePolicy dict: read by the loader, not from_config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fft_length=15: not a power of two
        rebuilt = layers.STFTSpectrogram.from_config(theirs_config)
    np.testing.assert_allclose(np.asarray(rebuilt(x)), np.asarray(ours(x)), atol=1e-6)


@pytest.mark.parametrize("config", MEL_CONFIGS, ids=str)
def test_mel_spectrogram_matches_keras(config):
    keras = pytest.importorskip("keras")
    theirs = keras.layers.MelSpectrogram(**config)
    ours = layers.MelSpectrogram(**config)
    expected = keras.ops.convert_to_numpy(theirs(MONO))
    out = np.asarray(ours(MONO))
    assert out.shape == expected.shape == ours.compute_output_shape(MONO.shape)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=1e-3, rtol=1e-4)
    single = np.asarray(ours(MONO[0]))  # one signal, no batch axis
    assert single.shape == expected.shape[1:]
    theirs_config = theirs.get_config()
    ours_config = ours.get_config()
    for key in set(theirs_config) - {"name", "dtype"}:
        assert ours_config[key] == theirs_config[key], key
    del theirs_config["dtype"]
    rebuilt = layers.MelSpectrogram.from_config(theirs_config)
    np.testing.assert_allclose(np.asarray(rebuilt(MONO)), out, atol=1e-6)


def test_mel_weight_matrix_matches_keras():
    keras = pytest.importorskip("keras")
    theirs = keras.layers.MelSpectrogram().linear_to_mel_weight_matrix(20, 129, 8000, 125.0, 3800.0)
    ours = layers.MelSpectrogram.linear_to_mel_weight_matrix(20, 129, 8000, 125.0, 3800.0)
    assert ours.shape == (129, 20) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-5)
    # HTK triangles: the peak of each filter is 1 at most, the DC bin is unused
    assert not ours[0].any() and ours.max() <= 1.0


def test_stft_initializer_matches_keras():
    keras = pytest.importorskip("keras")
    for args in (("real", "hann", "density", False), ("imag", "hamming", "spectrum", True)):
        theirs = keras.initializers.STFT(*args)((20, 1, 9))
        ours = initializers.STFT(*args)((20, 1, 9))
        np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-6)
        assert initializers.get(initializers.serialize(initializers.STFT(*args))).get_config() == (
            keras.initializers.STFT(*args).get_config()
        )


def test_stft_spectrogram_without_window_is_the_dft_of_frames():
    x = RNG.standard_normal((1, 32, 1))
    layer = layers.STFTSpectrogram(mode="stft", frame_length=8, frame_step=8, window=None)
    out = np.asarray(layer(x.astype("float32")))  # (1, frames, 2 * bins)
    expected = np.fft.rfft(x[0, :, 0].reshape(4, 8), axis=-1)
    np.testing.assert_allclose(out[0, :, :5], expected.real, atol=1e-5)
    np.testing.assert_allclose(out[0, :, 5:], expected.imag, atol=1e-5)


@pytest.mark.parametrize("config", STFT_CONFIGS[:4], ids=lambda c: c["mode"])
def test_stft_spectrogram_lifecycle(config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_layer_test(layers.STFTSpectrogram, config, (2, 64, 3))


def test_mel_spectrogram_lifecycle():
    run_layer_test(
        layers.MelSpectrogram,
        dict(fft_length=32, sequence_stride=8, num_mel_bins=8),
        (2, 64),
        expected_output_shape=(2, 8, 9),
        trains=False,
    )


def test_saved_and_loaded_in_a_model(tmp_path):
    from cnnkit.layers import Dense, Flatten, Input
    from cnnkit.models import Model, load_model

    inputs = Input(shape=(None, 2))
    spectrogram = layers.STFTSpectrogram(mode="log", frame_length=16, frame_step=8)(inputs)
    model = Model(inputs, spectrogram)
    assert model.output_shape == (None, None, 18)
    x = SIGNALS[..., :2]
    model.layers[-1].real_kernel.assign(model.layers[-1].real_kernel.numpy() * 1.5)  # trained
    path = str(tmp_path / "stft.keras")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    mono = Input(shape=(64,))
    mel = layers.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=8)(mono)
    head = Dense(1)(Flatten()(mel))
    model = Model(mono, head)
    path = str(tmp_path / "mel.keras")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(
        loaded.predict(MONO[:, :64], verbose=0), model.predict(MONO[:, :64], verbose=0), atol=1e-6
    )


def test_mel_spectrogram_mixes_samples_only_with_top_db():
    assert not layers.MelSpectrogram()._runs_samplewise()
    assert layers.MelSpectrogram(top_db=None)._runs_samplewise()
    assert layers.MelSpectrogram(power_to_db=False)._runs_samplewise()
    assert layers.STFTSpectrogram()._runs_samplewise()
    # the floor follows the batch's maximum: a loud second signal lifts the first one's floor
    quiet = MONO[:1] * 1e-3
    alone = np.asarray(layers.MelSpectrogram(fft_length=32, sequence_stride=8, top_db=10.0)(quiet))
    together = layers.MelSpectrogram(fft_length=32, sequence_stride=8, top_db=10.0)(
        np.concatenate([quiet, MONO[1:]])
    )
    assert np.asarray(together)[0].min() > alone.min()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: layers.STFTSpectrogram(mode="power"), ValueError, "mode"),
        (lambda: layers.STFTSpectrogram(frame_length=8, frame_step=9), ValueError, "frame_step"),
        (lambda: layers.STFTSpectrogram(frame_length=8, fft_length=4), ValueError, "fft_length"),
        (lambda: layers.STFTSpectrogram(padding="causal"), ValueError, "adding"),
        (lambda: layers.STFTSpectrogram(scaling="max"), ValueError, "caling"),
        (lambda: layers.STFTSpectrogram(window="kaiser2"), ValueError, "window"),
        (lambda: layers.STFTSpectrogram(frame_length=8, window=[1.0] * 5), ValueError, r"\[8\]"),
        (lambda: layers.STFTSpectrogram(data_format="nchw"), ValueError, "data_format"),
        (lambda: layers.STFTSpectrogram()(np.zeros((2, 300), "float32")), ValueError, "channels"),
        (lambda: layers.MelSpectrogram(fft_length=64, sequence_length=128), ValueError, "fft_"),
        (lambda: layers.MelSpectrogram(window="blackman"), ValueError, "window"),
        (lambda: layers.MelSpectrogram(num_mel_bins=0), ValueError, "num_mel_bins"),
        (lambda: layers.MelSpectrogram(sampling_rate=0), ValueError, "sampling_rate"),
        (lambda: layers.MelSpectrogram(top_db="80"), ValueError, "top_db"),
    ],
)
def test_bad_arguments_are_refused_with_the_argument_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_fft_length_not_a_power_of_two_warns():
    with pytest.warns(UserWarning, match="power of two"):
        layers.STFTSpectrogram(frame_length=8, fft_length=12)
