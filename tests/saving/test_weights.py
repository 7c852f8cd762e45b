"""``.weights.h5`` files: Keras 3's layout, exact round trips, mismatches, optimizer state."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from cnnkit import layers as L
from cnnkit import optimizers, utils
from cnnkit.models import Model
from tests.saving.models import inputs_for, seq, two_branch_model


def compiled(model, optimizer="adam"):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def cnn():
    return seq(
        (6, 6, 1),
        L.Conv2D(2, 3, activation="relu"),
        L.BatchNormalization(),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    )


def batch(model, seed):
    rng = np.random.default_rng(seed)
    return inputs_for(model, n=4, seed=seed), rng.integers(0, 3, 4)


def datasets(path):
    """``{name: shape}`` of every dataset in an HDF5 file."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj.shape

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def test_weights_file_uses_keras_group_names(tmp_path):
    model = compiled(cnn())
    model.train_on_batch(*batch(model, 0))
    model.save_weights(tmp_path / "w.weights.h5")
    found = datasets(tmp_path / "w.weights.h5")
    assert found["layers/conv2d/vars/0"] == (3, 3, 1, 2)
    assert found["layers/conv2d/vars/1"] == (2,)
    assert [found[f"layers/batch_normalization/vars/{i}"] for i in range(4)] == [(2,)] * 4
    assert found["layers/dense/vars/0"] == (32, 3)
    assert found["optimizer/vars/0"] == () and found["optimizer/vars/1"] == ()  # iterations, lr
    assert len([k for k in found if k.startswith("optimizer/")]) == 2 + 2 * 6
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert int(f["optimizer/vars/0"][()]) == 1
        assert "vars" in f and "layers/flatten/vars" in f  # empty groups, as Keras writes


def test_recurrent_and_nested_paths(tmp_path):
    inner = seq((5, 2), L.Bidirectional(L.LSTM(3)))
    x = L.Input((5, 2))
    model = Model(x, L.Dense(1)(L.Reshape((1, 6))(inner(x))))
    model.save_weights(tmp_path / "w.weights.h5")
    found = datasets(tmp_path / "w.weights.h5")
    prefix = "layers/sequential/layers/bidirectional"
    assert found[f"{prefix}/forward_layer/cell/vars/0"] == (2, 12)
    assert found[f"{prefix}/backward_layer/cell/vars/2"] == (12,)


def test_round_trip_is_exact_and_reaches_every_variable(tmp_path):
    model = two_branch_model()
    model.save_weights(tmp_path / "w.weights.h5")
    fresh = two_branch_model()
    fresh.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.Adam(0.01, amsgrad=True),
        lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        lambda: optimizers.Adagrad(0.1),
        lambda: optimizers.AdamW(0.01, use_ema=True, gradient_accumulation_steps=2),
    ],
    ids=["adam", "sgd", "rmsprop", "adagrad", "adamw_ema_accumulate"],
)
def test_training_resumes_exactly_after_save_weights(tmp_path, optimizer):
    def run(steps, model):
        for step in steps:
            model.train_on_batch(*batch(model, step))

    utils.set_random_seed(1)
    straight = compiled(cnn(), optimizer())
    run(range(4), straight)

    utils.set_random_seed(1)
    first = compiled(cnn(), optimizer())
    run(range(2), first)
    first.save_weights(tmp_path / "w.weights.h5")
    resumed = compiled(cnn(), optimizer())
    resumed.load_weights(tmp_path / "w.weights.h5")
    assert int(resumed.optimizer.iterations) == int(first.optimizer.iterations)
    run(range(2, 4), resumed)
    for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_optimizer_slots_are_written_in_keras_variable_order(tmp_path):
    x = L.Input((4,), name="x")
    c = L.Dense(3, name="C")(x)
    b = L.Dense(3, name="B")(L.Dense(5, name="A")(x))
    model = compiled(Model(x, L.Average()([c, b])))
    model.train_on_batch(np.ones((2, 4), "float32"), np.array([0, 1]))
    model.save_weights(tmp_path / "w.weights.h5")
    found = datasets(tmp_path / "w.weights.h5")
    # Keras builds the slots over A, C, B (by depth); cnnkit's own order is C, A, B.
    assert [found[f"optimizer/vars/{i}"] for i in (2, 4, 6, 8, 10, 12)] == [
        (4, 5),
        (5,),
        (4, 3),
        (3,),
        (5, 3),
        (3,),
    ]
    twin = compiled(Model.from_config(model.get_config()))
    twin.load_weights(tmp_path / "w.weights.h5")
    for u, v in zip(twin.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_filename_must_end_in_weights_h5(tmp_path):
    model = seq((3,), L.Dense(2))
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`.*filepath=.*w\.h5"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        model.load_weights(tmp_path / "w.npz")
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save_weights(tmp_path / "w.weights.h5", overwrite=False)


def test_mismatched_shapes_name_the_layer_and_change_nothing(tmp_path):
    seq((3,), L.Dense(2, name="a"), L.Dense(4, name="b")).save_weights(tmp_path / "w.weights.h5")
    target = seq((3,), L.Dense(2, name="a"), L.Dense(5, name="b"))
    before = target.get_weights()
    with pytest.raises(
        ValueError,
        match=r"Layer 'b' weight 0 \('kernel'\) has shape \(2, 5\), "
        r"but the weights file has shape \(2, 4\)",
    ):
        target.load_weights(tmp_path / "w.weights.h5")
    for u, v in zip(target.get_weights(), before, strict=True):
        np.testing.assert_array_equal(u, v)  # checked first: nothing was assigned

    with pytest.warns(UserWarning, match=r"(?s)1 objects could not be loaded.*Layer 'b'"):
        target.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    source = seq((3,), L.Dense(2, name="a"))
    source.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)  # extra groups: ignored
    np.testing.assert_array_equal(target.layers[0].kernel.numpy(), source.layers[0].kernel.numpy())
    np.testing.assert_array_equal(target.layers[1].kernel.numpy(), before[2])  # skipped


def test_missing_variables_are_an_error(tmp_path):
    seq((3,), L.Dense(2, use_bias=False)).save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"expected 2 variables, but received 1 variables"):
        seq((3,), L.Dense(2)).load_weights(tmp_path / "w.weights.h5")


def test_links_and_non_numeric_datasets_are_refused(tmp_path):
    path = tmp_path / "w.weights.h5"
    model = seq((3,), L.Dense(2, use_bias=False))
    model.save_weights(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros((3, 2), "float32")
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "x")
    with pytest.raises(ValueError, match="ExternalLink.*never followed"):
        model.load_weights(path)
    (tmp_path / "raw.bin").write_bytes(bytes(24))
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f.create_dataset(
            "layers/dense/vars/0", (3, 2), "float32", external=[(str(tmp_path / "raw.bin"), 0, 24)]
        )
    with pytest.raises(ValueError, match="external or virtual dataset"):
        model.load_weights(path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.array([b"ab", b"cd"])
    with pytest.raises(ValueError, match="cannot read"):
        model.load_weights(path)


def test_a_keras_file_provides_weights(tmp_path):
    model = seq((3,), L.Dense(2))
    model.save(tmp_path / "m.keras")
    twin = seq((3,), L.Dense(2))
    twin.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(twin.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())


def test_an_unbuilt_model_says_so(tmp_path):
    seq((3,), L.Dense(2)).save_weights(tmp_path / "w.weights.h5")
    from cnnkit.models import Sequential

    with pytest.raises(ValueError, match="never built"):
        Sequential([L.Dense(2)]).load_weights(tmp_path / "w.weights.h5")


def dense_bn_dense(K):
    """The same architecture in Keras or cnnkit (``K``)."""
    return K.Sequential(
        [K.Input((4,)), K.layers.Dense(3), K.layers.BatchNormalization(), K.layers.Dense(2)]
    )


def test_weights_are_ordered_per_layer_own_trainable_then_non_trainable():
    import cnnkit

    model = dense_bn_dense(cnnkit)
    dense, bn, dense_1 = model.layers
    expected = [
        (dense, "kernel"), (dense, "bias"),
        (bn, "gamma"), (bn, "beta"), (bn, "moving_mean"), (bn, "moving_variance"),
        (dense_1, "kernel"), (dense_1, "bias"),
    ]  # fmt: skip
    assert [w.path for w in model.weights] == [f"{layer.name}/{name}" for layer, name in expected]
    assert [w.shape for w in model.get_weights()] == [
        (4, 3), (3,), (3,), (3,), (3,), (3,), (3, 2), (2,)
    ]  # fmt: skip
    # a nested model keeps the order of its layers; a frozen layer does not move its weights
    outer = cnnkit.Sequential([cnnkit.Input((4,)), model, cnnkit.layers.Dense(1)])
    model.layers[0].trainable = False
    assert [id(w) for w in outer.weights] == [id(w) for w in model.weights] + [
        id(w) for w in outer.layers[-1].weights
    ]
    values = [np.full(w.shape, i, "float32") for i, w in enumerate(outer.weights)]
    outer.set_weights(values)
    for got, want in zip(outer.get_weights(), values, strict=True):
        np.testing.assert_array_equal(got, want)


def test_get_and_set_weights_match_keras_order():
    keras = pytest.importorskip("keras")
    import cnnkit

    reference = dense_bn_dense(keras)
    rng = np.random.default_rng(0)
    reference.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in reference.get_weights()])
    model = dense_bn_dense(cnnkit)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in reference.get_weights()]
    model.set_weights(reference.get_weights())
    for ours, theirs in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    x = rng.standard_normal((5, 4)).astype("float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0), np.asarray(reference.predict(x, verbose=0)), atol=1e-5
    )
