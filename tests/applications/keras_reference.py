"""Comparisons of a cnnkit application model with the same ``keras.applications`` model:
layout (what weight files depend on), layer settings, and predictions with equal weights."""

from __future__ import annotations

import re

import numpy as np

# layer settings that change the computation (names are compared separately)
_SETTINGS = (
    "filters", "kernel_size", "strides", "padding", "use_bias", "activation", "rate",
    "noise_shape", "momentum", "epsilon", "keepdims", "scale", "offset", "target_shape",
    "units", "axis", "mean", "variance",
)  # fmt: skip


def _settings(layer) -> dict:
    config = layer.get_config()
    return {k: _plain(config[k]) for k in _SETTINGS if k in config}


def _plain(value):
    if isinstance(value, dict):  # a serialized activation: compare its registered name
        return value.get("config", {}).get("name", value.get("class_name"))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def assert_same_layout(ours, theirs) -> None:
    """Same parameter count, the same layer types in the same order, the same names for every
    layer with weights, the same weight shapes in the same order, the same layer settings."""
    assert ours.count_params() == theirs.count_params()
    assert [type(la).__name__ for la in ours.layers] == [type(la).__name__ for la in theirs.layers]
    names = [la.name for la in ours.layers if la.weights]
    keras_names = [la.name for la in theirs.layers if la.weights]
    assert len(names) == len(keras_names)
    for name, keras_name in zip(names, keras_names):  # Keras numbers the layers it names
        assert re.fullmatch(re.escape(name) + r"(_\d+)?", keras_name), (name, keras_name)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    for mine, keras_layer in zip(ours.layers, theirs.layers):
        assert _settings(mine) == _settings(keras_layer), mine.name


def keras_weights_perturbed(theirs, seed=0) -> list:
    """Keras's weights with every vector (biases, batch-norm statistics, normalisation mean
    and variance) shifted by a positive random amount, so no layer is an identity."""
    rng = np.random.default_rng(seed)
    out = []
    for w in theirs.get_weights():
        w = np.asarray(w)
        if w.ndim == 1:
            w = w + rng.uniform(0.05, 0.2, w.shape).astype(w.dtype)
        out.append(w)
    return out


def assert_predicts_like(ours, theirs, x, rtol=1e-4, atol=1e-5) -> None:
    """Equal predictions; ``atol`` grows with the largest output (deep float32 networks with
    random weights sum large terms, whose rounding differs between the two libraries)."""
    want = np.asarray(theirs.predict(x, verbose=0))
    got = ours.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol + rtol * np.abs(want).max())
