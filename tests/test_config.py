"""Tests for cnnkit.config: settings wired to the code that obeys them."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import cnnkit
from cnnkit import backend, config, dtype_policies, layers


@pytest.fixture
def restore_config():
    yield
    config.set_max_epochs(None)
    config.set_max_steps_per_epoch(None)
    config.set_image_data_format("channels_last")
    config.set_dtype_policy("float32")
    dtype_policies._GLOBAL_POLICY = None
    config.enable_interactive_logging()
    config.enable_traceback_filtering()
    config.enable_flash_attention()


def _model():
    model = cnnkit.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class _CountBatches(cnnkit.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.batches[-1] += 1


def test_settings_are_the_backend_ones():
    assert config.floatx is backend.floatx and config.epsilon is backend.epsilon
    assert config.image_data_format is backend.image_data_format
    assert config.backend() == "numpy"


def test_max_epochs_and_max_steps_per_epoch_cap_fit(restore_config):
    x, y = np.ones((100, 3), "float32"), np.ones((100, 2), "float32")
    config.set_max_epochs(2)
    config.set_max_steps_per_epoch(3)
    assert (config.max_epochs(), config.max_steps_per_epoch()) == (2, 3)
    counter = _CountBatches()
    history = _model().fit(x, y, batch_size=10, epochs=5, verbose=0, callbacks=[counter])
    assert len(history.history["loss"]) == 2
    assert counter.batches == [3, 3]
    assert counter.params["steps"] == 3
    config.set_max_epochs(None)
    config.set_max_steps_per_epoch(None)
    counter = _CountBatches()
    _model().fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[counter])
    assert counter.batches == [10, 10]
    with pytest.raises(ValueError, match="max_epochs"):
        config.set_max_epochs(0)


def test_channels_first_is_refused_by_image_layers_with_a_clear_error(restore_config):
    config.set_image_data_format("channels_first")
    assert config.image_data_format() == "channels_first"
    with pytest.raises(ValueError, match="channels-last .* 'channels_first'"):
        layers.Conv2D(4, 3)
    with pytest.raises(ValueError, match="channels-last"):
        layers.MaxPooling2D()
    with pytest.raises(ValueError, match="channels-last"):
        layers.Flatten()
    assert layers.Conv2D(4, 3, data_format="channels_last").data_format == "channels_last"
    config.set_image_data_format("channels_last")
    assert layers.Conv2D(4, 3).data_format == "channels_last"


def test_interactive_logging_off_sends_progress_to_the_logger(restore_config, capsys, caplog):
    x, y = np.ones((8, 3), "float32"), np.ones((8, 2), "float32")
    config.disable_interactive_logging()
    assert not config.is_interactive_logging_enabled()
    with caplog.at_level(logging.INFO, logger="cnnkit"):
        _model().fit(x, y, epochs=1, verbose=1)
    assert capsys.readouterr().out == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "cnnkit"]
    assert messages[0] == "Epoch 1/1" and "loss" in messages[-1]
    config.enable_interactive_logging()
    _model().fit(x, y, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out


def test_dtype_policy_sets_the_default_layer_dtype(restore_config):
    assert config.dtype_policy() == dtype_policies.DTypePolicy("float32")
    config.set_dtype_policy("float64")
    dense = layers.Dense(2)
    dense.build((None, 3))
    assert dense.kernel.dtype == np.float64
    policy = dtype_policies.DTypePolicy("float16")
    assert layers.Dense(2, dtype=policy).dtype == "float16"
    assert dtype_policies.DTypePolicy.from_config(policy.get_config()) == policy
    with pytest.raises(ValueError, match="does not support the dtype policy 'mixed_float16'"):
        config.set_dtype_policy("mixed_float16")
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        config.set_dtype_policy(3)
    assert config.dtype_policy().name == "float64"


def test_layers_expose_their_policy_like_keras():
    keras = pytest.importorskip("keras")
    for dtype in ("float32", "float64"):
        ours, theirs = layers.Dense(2, dtype=dtype), keras.layers.Dense(2, dtype=dtype)
        assert ours.dtype_policy == dtype_policies.DTypePolicy(dtype)
        assert repr(ours.dtype_policy) == repr(theirs.dtype_policy)
        assert (ours.compute_dtype, ours.variable_dtype) == (
            theirs.compute_dtype,
            theirs.variable_dtype,
        )
    with pytest.raises(ValueError, match="does not support the dtype policy 'bfloat16'"):
        dtype_policies.DTypePolicy("bfloat16")
    with pytest.raises(ValueError, match="Cannot convert 'float33'"):
        dtype_policies.DTypePolicy("float33")


def test_dtype_policy_matches_keras_for_float_policies():
    keras = pytest.importorskip("keras")
    for name in ("float16", "float32", "float64", "int32"):
        ours, theirs = dtype_policies.DTypePolicy(name), keras.DTypePolicy(name)
        assert (ours.compute_dtype, ours.variable_dtype, ours.quantization_mode) == (
            theirs.compute_dtype,
            theirs.variable_dtype,
            theirs.quantization_mode,
        )
        assert repr(ours) == repr(theirs) and ours.get_config() == theirs.get_config()


def test_flags_and_refusals(restore_config):
    assert config.is_traceback_filtering_enabled()
    config.disable_traceback_filtering()
    assert not config.is_traceback_filtering_enabled()
    assert config.is_flash_attention_enabled() is None
    config.disable_flash_attention()
    assert config.is_flash_attention_enabled() is False
    assert config.is_nnx_enabled() is False
    config.set_backend("numpy")
    with pytest.raises(ValueError, match="NumPy only"):
        config.set_backend("jax")
    with pytest.warns(UserWarning, match="never deserializes code"):
        config.enable_unsafe_deserialization()
    with pytest.raises(ValueError, match="Unknown `floatx`"):
        config.set_floatx("bfloat16")


def test_epsilon_is_the_crossentropy_clip(restore_config):
    y_true = np.array([[0.0, 1.0]], "float32")
    y_pred = np.array([[1.0, 0.0]], "float32")
    loss = cnnkit.losses.CategoricalCrossentropy()
    default = float(loss(y_true, y_pred))
    config.set_epsilon(1e-3)
    try:
        assert float(loss(y_true, y_pred)) == pytest.approx(-np.log(1e-3), rel=1e-4)
    finally:
        config.set_epsilon(1e-7)
    assert default == pytest.approx(-np.log(1e-7), rel=1e-3)
