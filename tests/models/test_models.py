"""Functional and Sequential models: graphs, summaries, training, callbacks and input errors."""

import io
import re

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import callbacks
from cnnkit.layers import Conv2D, Dense, Dropout, Flatten, Input
from cnnkit.models import Model, Sequential


def blobs(n=300, classes=3, dim=4, seed=0):
    """Linearly separable Gaussian blobs: (x float32 (n, dim), y int (n,))."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, dim)) * 4
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, dim))
    return x.astype("float32"), y


class Sum(keras.Layer):
    """A tiny two-input layer for DAG tests."""

    def call(self, inputs, training=False):
        return inputs[0] + inputs[1]

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def test_functional_dag_with_branches_and_two_inputs():
    a, b = Input(shape=(4,), name="a"), Input(shape=(4,), name="b")
    shared = Dense(5, name="shared")
    left = Dense(3, name="left")(shared(a))
    right = Dense(3, name="right")(shared(b))
    out = Sum(name="sum")([left, right])
    model = Model([a, b], out)
    assert [layer.name for layer in model.layers][:2] == ["a", "b"]
    assert {"shared", "left", "right", "sum"} <= {layer.name for layer in model.layers}
    xa, xb = np.ones((2, 4), "float32"), np.zeros((2, 4), "float32")
    got = model.predict([xa, xb], verbose=0)
    w = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    h_a = xa @ w["shared"][0] + w["shared"][1]
    h_b = xb @ w["shared"][0] + w["shared"][1]
    want = (h_a @ w["left"][0] + w["left"][1]) + (h_b @ w["right"][0] + w["right"][1])
    np.testing.assert_allclose(got, want, rtol=1e-5)
    model.compile(optimizer="adam", loss="mse")
    model.fit([xa, xb], np.ones((2, 3)), epochs=2, verbose=0)


def test_multiple_outputs_train_with_one_loss_each():
    i = Input(shape=(4,))
    h = Dense(8, activation="relu")(i)
    model = Model(i, [Dense(1, name="reg")(h), Dense(3, activation="softmax", name="cls")(h)])
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
    x, y = blobs(64)
    history = model.fit(x, [y.astype("float32"), y], epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    reg, cls = model.predict(x, verbose=0)
    assert reg.shape == (64, 1) and cls.shape == (64, 3)


def test_graph_disconnected_is_reported():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    out = Sum()([Dense(2)(a), Dense(2)(b)])
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, out)


def test_sequential_add_builds_and_matches_functional_shapes():
    model = Sequential([Input(shape=(28, 28, 1))])
    model.add(Conv2D(8, 3, strides=2, activation="relu"))
    model.add(Flatten())
    model.add(Dense(10, activation="softmax"))
    assert model.output_shape == (None, 10)
    assert len(model.layers) == 3
    assert model.count_params() == 3 * 3 * 8 + 8 + 13 * 13 * 8 * 10 + 10


def test_sequential_deferred_build_and_input_shape_kwarg():
    deferred = Sequential([Dense(4, activation="relu"), Dense(2)])
    assert not deferred.built
    assert deferred.predict(np.ones((3, 5)), verbose=0).shape == (3, 2)
    assert deferred.built and deferred.input_shape == (3, 5)  # Keras 3 keeps the first batch's
    assert deferred.predict(np.ones((7, 5)), verbose=0).shape == (7, 2)  # any batch size after
    eager = Sequential([Dense(4, input_shape=(5,)), Dense(2)])
    assert eager.built and eager.output_shape == (None, 2)


def test_summary_matches_keras_layout():
    model = keras.applications.lecture_cnn()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "lecture_cnn"' in text
    assert re.search(r"┃ Layer \(type\)\s+┃ Output Shape\s+┃\s+Param # ┃", text)
    assert re.search(r"│ conv2d\w* \(Conv2D\)\s+│ \(None, 13, 13, 32\)\s+│\s+320 │", text)
    assert re.search(r"\(None, 2, 2, 128\)\s+│\s+73,856 │", text)
    assert " Total params: 360,458 (1.38 MB)" in text
    assert " Trainable params: 360,458 (1.38 MB)" in text
    assert " Non-trainable params: 0 (0.00 B)" in text


def test_get_layer_and_weights_round_trip():
    model = keras.applications.lecture_cnn()
    first = model.get_layer(index=1)
    assert isinstance(first, Conv2D)
    assert model.get_layer(first.name) is first
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    weights = model.get_weights()
    model.set_weights([w * 0 for w in weights])
    assert all(np.all(w == 0) for w in model.get_weights())


def test_fit_learns_blobs_and_history_has_keras_keys():
    keras.utils.set_random_seed(0)
    x, y = blobs(600)
    model = Sequential(
        [Input(shape=(4,)), Dense(16, activation="relu"), Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["accuracy"][-1] > 0.9
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.9
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    np.testing.assert_allclose(logs["loss"], loss, rtol=1e-6)


def test_evaluate_equals_manual_cross_entropy_and_accuracy():
    x, y = blobs(50)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, batch_size=7, verbose=0)
    p = model.predict(x, verbose=0).astype("float64")
    np.testing.assert_allclose(loss, -np.log(p[np.arange(50), y]).mean(), rtol=1e-5)
    np.testing.assert_allclose(acc, (p.argmax(1) == y).mean(), rtol=1e-6)


def test_accuracy_resolves_from_loss_and_shapes():
    x, y = blobs(40)
    onehot = keras.utils.to_categorical(y, 3)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    _, acc = model.evaluate(x, onehot, verbose=0)
    p = model.predict(x, verbose=0)
    np.testing.assert_allclose(acc, (p.argmax(1) == y).mean())
    binary = Sequential([Input(shape=(4,)), Dense(1, activation="sigmoid")])
    binary.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    yb = (y == 0).astype("float32")
    _, acc = binary.evaluate(x, yb, verbose=0)
    pb = binary.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(acc, ((pb > 0.5) == yb).mean())


def test_dropout_is_inactive_in_predict():
    model = Sequential([Input(shape=(10,)), Dropout(0.5), Dense(2)])
    x = np.ones((4, 10), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_train_test_predict_on_batch():
    x, y = blobs(32)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.get_weights()
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert not np.allclose(before[0], model.get_weights()[0])
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert model.predict_on_batch(x).shape == (32, 3)


def test_callback_order_and_early_stop():
    events = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            events.append(f"batch_end {batch}")
            if batch == 1 and self.params["epochs"] == 3 and len(events) > 8:
                self.model.stop_training = True

        def on_test_end(self, logs=None):
            events.append("test_end")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    x, y = blobs(40)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x, y, batch_size=20, epochs=3, validation_data=(x, y), callbacks=[Recorder()], verbose=0
    )
    keys = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert events[:6] == [
        "train_begin",
        "epoch_begin 0",
        "batch_end 0",
        "batch_end 1",
        "test_end",
        f"epoch_end 0 {keys}",
    ]
    assert events[-1] == "train_end"
    assert history.epoch == [0, 1]  # stopped during the second epoch


def test_progress_output_not_a_terminal_prints_one_line_per_epoch(capsys):
    x, y = blobs(64)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, validation_data=(x, y))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2"
    assert re.fullmatch(
        r"8/8 ━{20} \d+s \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - "
        r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}",
        out[1],
    ), out[1]
    assert out[2] == "Epoch 2/2" and len(out) == 4
    model.fit(x, y, epochs=1, batch_size=8, verbose=2)
    line = capsys.readouterr().out.splitlines()[1]
    assert re.fullmatch(
        r"8/8 - \d+s - \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", line
    )


def test_progress_on_a_terminal_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    logger = callbacks.ProgbarLogger(verbose=1, stream=stream)
    logger.set_params({"epochs": 1, "steps": 3})
    logger.on_epoch_begin(0)
    for step in range(3):
        logger.on_train_batch_end(step, {"loss": 1.0})
    logger.on_epoch_end(0, {"loss": 1.0})
    assert "\r" in stream.getvalue()
    assert stream.getvalue().endswith("loss: 1.0000\n")


def test_generator_input_with_steps_per_epoch():
    x, y = blobs(64)

    def batches():
        while True:
            for i in range(0, 64, 16):
                yield x[i : i + 16], y[i : i + 16]

    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(batches(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_sample_and_class_weights_change_the_loss():
    x, y = blobs(40)
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    p = model.predict(x, verbose=0).astype("float64")
    per_sample = -np.log(p[np.arange(40), y])
    weights = np.linspace(0, 2, 40)
    got = model.evaluate(x, y, sample_weight=weights, batch_size=40, verbose=0)
    np.testing.assert_allclose(got, (per_sample * weights).mean(), rtol=1e-5)


def test_regularization_penalty_is_added_to_the_loss():
    def l2(w):
        return (w * w).sum() * 0.1

    model = Sequential([Input(shape=(4,)), Dense(2, kernel_regularizer=l2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 4), "float32"), np.zeros((4, 2), "float32")
    plain = np.mean(model.predict(x, verbose=0) ** 2)
    penalty = 0.1 * np.sum(model.layers[0].get_weights()[0] ** 2)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), plain + penalty, rtol=1e-5)


def test_subclassed_model_trains():
    class TwoLayer(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(8, activation="relu")
            self.out = Dense(3, activation="softmax")

        def call(self, inputs, training=False):
            return self.out(self.hidden(inputs))

    x, y = blobs(64)
    model = TwoLayer()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert len(model.trainable_weights) == 4


# -- bad input: a clear error, and no weight changes ---------------------------


def _small_model():
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize(
    "x, y, error, match",
    [
        (
            np.ones((10, 4)),
            np.r_[np.zeros(9), 10],
            ValueError,
            r"Received a label value of 10 which is outside the valid range of \[0, 3\)",
        ),
        (
            np.ones((10, 4)),
            np.r_[np.zeros(9), -1],
            ValueError,
            r"Received a label value of -1 which is outside the valid range of \[0, 3\)",
        ),
        (np.ones((10, 4)), np.zeros(9), ValueError, r"Data cardinality is ambiguous.*10.*9"),
        (
            np.ones((10, 5)),
            np.zeros(10),
            ValueError,
            r'Input 0 of layer "sequential\w*" is incompatible.*expected shape=\(None, 4\), '
            r"found shape=\(\d+, 5\)",
        ),
        (np.array([["a"] * 4] * 10), np.zeros(10), TypeError, r"numeric"),
        (np.r_[np.ones((9, 4)), [[np.nan, 0, 0, 0]]], np.zeros(10), ValueError, r"NaN or Inf"),
        (np.r_[np.ones((9, 4)), [[np.inf, 0, 0, 0]]], np.zeros(10), ValueError, r"NaN or Inf"),
    ],
)
def test_fit_rejects_bad_data_before_changing_weights(x, y, error, match):
    model = _small_model()
    before = model.get_weights()
    with pytest.raises(error, match=match):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_huge_finite_float32_inputs_are_not_taken_for_inf():
    model = Sequential([Input(shape=(4,)), Dense(3, kernel_initializer="zeros")])
    x = np.full((8, 4), 3e38, "float32")  # every value finite; their float32 sum is not
    with np.errstate(over="ignore"):
        assert np.isinf(x.sum())
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.zeros((8, 3), "float32"))
    with pytest.raises(ValueError, match=r"NaN or Inf values \(first at index \(5, 2\)\)"):
        x[5, 2] = np.inf
        model.predict(x, verbose=0)


def test_fit_before_compile_is_an_error():
    model = Sequential([Input(shape=(4,)), Dense(3)])
    with pytest.raises(RuntimeError, match=r"compile\(\)"):
        model.fit(np.ones((2, 4)), np.zeros(2), verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": -1}, r"epochs"),
        ({"batch_size": 0}, r"batch_size"),
        ({"validation_split": 1.5}, r"validation_split"),
        ({"verbose": 3}, r"verbose"),
    ],
)
def test_fit_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _small_model().fit(np.ones((4, 4)), np.zeros(4), **kwargs)


def test_unknown_optimizer_and_loss_strings_list_valid_ids():
    model = Sequential([Input(shape=(4,)), Dense(3)])
    with pytest.raises(ValueError, match=r"adamm.*adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match=r"msee"):
        model.compile(optimizer="adam", loss="msee")


def test_predict_on_symbolic_tensor_is_a_clear_error():
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(Input(shape=(3,)))


def test_keras_namespaces_exist():
    for name in (
        "Input",
        "Model",
        "Sequential",
        "layers",
        "models",
        "optimizers",
        "losses",
        "metrics",
        "callbacks",
        "initializers",
        "activations",
        "utils",
        "signal",
        "datasets",
    ):
        assert hasattr(keras, name), name
    assert hasattr(keras.datasets, "fashion_mnist") and hasattr(keras.datasets, "mnist")
    assert callable(keras.utils.set_random_seed) and callable(keras.utils.to_categorical)


def test_sequence_like_data_uses_its_length_and_epoch_end():
    x, y = blobs(64)

    class Batches:
        def __init__(self):
            self.epochs_ended = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]

        def on_epoch_end(self):
            self.epochs_ended += 1

    data = Batches()
    seen = []
    model = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    counter = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(data, epochs=2, verbose=0, callbacks=[counter])
    assert seen == [0, 1, 2, 3, 0, 1, 2, 3] and data.epochs_ended == 2
    assert model.evaluate(data, verbose=0) > 0
    assert model.predict(data, verbose=0).shape == (64, 3)


def test_fit_on_image_data_generator_flow():
    from cnnkit.preprocessing.image import ImageDataGenerator

    rng = np.random.default_rng(0)
    images, labels = rng.random((40, 8, 8, 1), dtype=np.float32), rng.integers(0, 2, 40)
    model = Sequential([Input(shape=(8, 8, 1)), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    flow = ImageDataGenerator(horizontal_flip=True).flow(images, labels, batch_size=16)
    history = model.fit(flow, epochs=2, verbose=0)  # len(flow) = 3 steps per epoch
    assert len(history.history["loss"]) == 2


def test_summary_counts_optimizer_params_once_trained():
    model = Sequential([Input(shape=(4,)), Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.ones((2, 4), "float32"), np.zeros((2, 3), "float32"))
    lines = []
    model.summary(print_fn=lines.append)
    # Adam: iteration + learning rate + two slots of 15 values each
    assert " Optimizer params: 32 (" in lines[-1]
    assert lines[-4].startswith(" Total params: 47 (")


def test_first_fit_of_an_unbuilt_subclassed_model_updates_its_weights():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(4, activation="relu")
            self.out = Dense(1)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    model = TwoLayers()
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).random((8, 3)).astype("float32")
    model.fit(x, np.ones((8, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    assert int(np.asarray(model.optimizer.iterations)) == 1
    assert len(model.trainable_weights) == 4


def test_one_dimensional_data_fits_an_input_of_size_one():
    i = Input(shape=(1,))
    model = Model(i, Dense(2)(i))
    assert model.predict(np.arange(5.0), verbose=0).shape == (5, 2)


# -- named inputs and outputs (dicts), as in Keras's functional API guide -----------------


def _ticket_model():
    title = Input((6,), name="title")
    tags = Input((3,), name="tags")
    x = keras.layers.concatenate([keras.layers.Dense(4, activation="relu")(title), tags])
    outputs = {
        "priority": Dense(1, name="priority")(x),
        "department": Dense(4, activation="softmax", name="department")(x),
    }
    return keras.Model([title, tags], outputs)


def _tickets(n=40):
    rng = np.random.default_rng(0)
    x = {"tags": rng.random((n, 3), dtype="float32"), "title": rng.random((n, 6), dtype="float32")}
    y = {"department": rng.integers(0, 4, n), "priority": rng.random((n, 1), dtype=np.float32)}
    return x, y


def test_dict_inputs_targets_losses_and_outputs_by_name(tmp_path):
    model = _ticket_model()
    model.compile(
        optimizer="rmsprop",
        loss={"department": "sparse_categorical_crossentropy", "priority": "mse"},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    x, y = _tickets()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    # as Keras: each output's loss too, and a dict of outputs in sorted key order
    assert list(history.history) == [
        "department_accuracy",
        "department_loss",
        "loss",
        "priority_loss",
    ]
    out = model.predict(x, verbose=0)
    assert list(out) == model.output_names == ["department", "priority"]
    called = model(x)  # a direct call takes the dict too, and returns one
    np.testing.assert_allclose(called["department"].numpy(), out["department"], rtol=1e-6)
    assert out["priority"].shape == (40, 1) and out["department"].shape == (40, 4)
    picked = out["department"][np.arange(40), y["department"]]
    department, priority = -np.mean(np.log(picked)), np.mean((out["priority"] - y["priority"]) ** 2)
    loss, department_loss, priority_loss, accuracy = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, priority + 0.2 * department, rtol=1e-5)
    np.testing.assert_allclose([department_loss, priority_loss], [department, priority], rtol=1e-5)
    np.testing.assert_allclose(accuracy, np.mean(out["department"].argmax(1) == y["department"]))
    model.save(tmp_path / "tickets.keras")
    loaded = keras.models.load_model(tmp_path / "tickets.keras").predict(x, verbose=0)
    for name in out:
        np.testing.assert_allclose(loaded[name], out[name], rtol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m, x, y: m.predict({"title": x["title"]}, verbose=0),
            r"no data for the input\(s\) \['tags'\]",
        ),
        (
            lambda m, x, y: m.compile("sgd", loss={"prio": "mse"}),
            r"Expected keys \['department', 'priority'\] in loss dict, but found "
            r"loss.keys\(\)=\['prio'\]",
        ),
        (
            lambda m, x, y: m.fit(x, {"priority": y["priority"]}, verbose=0),
            r"`y` gives no value for the output\(s\) \['department'\]",
        ),
    ],
    ids=["missing-input", "unknown-loss-key", "missing-target"],
)
def test_named_data_errors_say_which_name(call, match):
    model = _ticket_model()
    model.compile(optimizer="sgd", loss={"priority": "mse", "department": "mse"})
    x, y = _tickets()
    with pytest.raises(ValueError, match=match):
        call(model, x, y)
