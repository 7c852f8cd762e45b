"""Tests for cnnkit.constraints: values against Keras, layers, the optimizer step, saving."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit import constraints, layers


def _weights():
    rng = np.random.default_rng(0)
    return {
        "dense": (rng.normal(size=(5, 4)) * 2).astype("float32"),
        "conv": rng.normal(size=(3, 3, 2, 4)).astype("float32"),
        "bias": np.array([-2.0, 0.1, 3.0], "float32"),
    }


def _cases():
    return [
        ("MaxNorm", {}),
        ("MaxNorm", {"max_value": 0.5, "axis": 1}),
        ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}),
        ("UnitNorm", {}),
        ("UnitNorm", {"axis": [0, 1, 2]}),
        ("MinMaxNorm", {}),
        ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.3, "axis": 1}),
        ("NonNeg", {}),
    ]


@pytest.mark.parametrize(("name", "kwargs"), _cases())
def test_values_match_keras(name, kwargs):
    keras = pytest.importorskip("keras")
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    for key, w in _weights().items():
        axis = kwargs.get("axis", 0)
        if isinstance(axis, list) and w.ndim < 3:
            continue
        if key == "bias" and axis == 1:
            continue
        expected = keras.ops.convert_to_numpy(theirs(keras.ops.convert_to_tensor(w)))
        got = ours(w)
        assert got.dtype == w.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=key)
        assert ours.get_config() == theirs.get_config()


def test_projections_satisfy_their_bounds():
    w = _weights()["dense"]
    norms = lambda a: np.linalg.norm(a, axis=0)  # noqa: E731
    assert norms(constraints.MaxNorm(0.5)(w)).max() <= 0.5 + 1e-6
    np.testing.assert_allclose(norms(constraints.UnitNorm()(w)), 1.0, rtol=1e-5)
    clipped = norms(constraints.MinMaxNorm(1.0, 2.0)(w))
    assert clipped.min() >= 1.0 - 1e-5 and clipped.max() <= 2.0 + 1e-5
    assert constraints.NonNeg()(w).min() == 0.0
    # A weight already within bounds is left (almost) unchanged.
    small = w / (10 * norms(w).max())
    np.testing.assert_allclose(constraints.MaxNorm(1.0)(small), small, rtol=1e-5)


def test_get_serialize_deserialize_and_aliases():
    assert constraints.max_norm is constraints.MaxNorm and constraints.non_neg is constraints.NonNeg
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    assert isinstance(constraints.get("MinMaxNorm"), constraints.MinMaxNorm)
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    assert constraints.get(None) is None
    fn = np.abs
    assert constraints.get(fn) is fn
    config = constraints.serialize(constraints.MaxNorm(3, axis=[0, 1]))
    back = constraints.deserialize(config)
    assert isinstance(back, constraints.MaxNorm) and back.get_config() == {
        "max_value": 3,
        "axis": [0, 1],
    }
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.get("max_normal")
    with pytest.raises(ValueError, match="Could not interpret constraint identifier"):
        constraints.get(3)
    with pytest.raises(ValueError, match="min_value <= max_value"):
        constraints.MinMaxNorm(2.0, 1.0)
    with pytest.raises(ValueError, match="`max_value`"):
        constraints.MaxNorm("big")


def test_serialize_matches_keras():
    keras = pytest.importorskip("keras")
    for name, kwargs in _cases():
        ours = constraints.serialize(getattr(constraints, name)(**kwargs))
        theirs = keras.constraints.serialize(getattr(keras.constraints, name)(**kwargs))
        assert ours == theirs


@pytest.mark.parametrize(
    ("cls", "kwargs", "names"),
    [
        (layers.Dense, {"units": 3}, ("kernel", "bias")),
        (layers.Conv2D, {"filters": 3, "kernel_size": 2}, ("kernel", "bias")),
        (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 2}, ("kernel", "bias")),
        (layers.DepthwiseConv2D, {"kernel_size": 2}, ("depthwise", "bias")),
        (
            layers.SeparableConv2D,
            {"filters": 3, "kernel_size": 2},
            ("depthwise", "pointwise", "bias"),
        ),
        (layers.Embedding, {"input_dim": 5, "output_dim": 2}, ("embeddings",)),
        (layers.BatchNormalization, {}, ("gamma", "beta")),
        (layers.LSTM, {"units": 2}, ("kernel", "recurrent", "bias")),
        (layers.GRU, {"units": 2}, ("kernel", "recurrent", "bias")),
        (layers.SimpleRNN, {"units": 2}, ("kernel", "recurrent", "bias")),
    ],
)
def test_layers_take_constraints_and_keep_them_in_their_config(cls, kwargs, names):
    arguments = {f"{n}_constraint": constraints.MaxNorm(0.1 * (i + 1)) for i, n in enumerate(names)}
    layer = cls(**kwargs, **arguments)
    shape = (None, 3) if cls in (layers.Dense, layers.Embedding) else (None, 4, 4, 2)
    if cls in (layers.LSTM, layers.GRU, layers.SimpleRNN):
        shape = (None, 5, 3)
    layer.build(shape)
    with_constraint = [w for w in layer.weights if w.constraint is not None]
    assert len(with_constraint) == len(names)
    config = layer.get_config()
    for i, n in enumerate(names):
        assert config[f"{n}_constraint"]["config"]["max_value"] == pytest.approx(0.1 * (i + 1))
    again = cls.from_config(config)
    assert again.get_config() == config


def test_optimizer_step_applies_max_norm_like_keras():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    kernel = rng.normal(size=(4, 3)).astype("float32") * 0.1
    bias = np.zeros(3, "float32")

    def build(lib):
        model = lib.Sequential(
            [
                lib.layers.Input((4,)),
                lib.layers.Dense(
                    3,
                    kernel_constraint=lib.constraints.MaxNorm(0.3),
                    bias_constraint=lib.constraints.NonNeg(),
                ),
            ]
        )
        model.compile(optimizer=lib.optimizers.SGD(learning_rate=1.0), loss="mse")
        model.set_weights([kernel, bias])
        for _ in range(2):
            model.train_on_batch(x, y)
        return [np.asarray(w) for w in model.get_weights()]

    ours, theirs = build(cnnkit), build(keras)
    assert np.linalg.norm(ours[0], axis=0).max() <= 0.3 + 1e-6
    assert ours[1].min() >= 0.0
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_model_with_constraints_saves_and_loads(tmp_path):
    model = cnnkit.Sequential(
        [layers.Input((4,)), layers.Dense(2, kernel_constraint=constraints.UnitNorm(axis=0))]
    )
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = cnnkit.saving.load_model(path)
    constraint = loaded.layers[-1].kernel.constraint
    assert isinstance(constraint, constraints.UnitNorm) and constraint.axis == 0
