"""Keras behaviours the official guides and examples rely on, each checked against Keras 3.

Every test runs cnnkit alone (a regression test); the ``*_as_keras`` tests run the same code
in Keras 3 (torch backend) and compare, and skip where Keras is not installed.
"""

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import callbacks, layers
from cnnkit.layers import Dense, Embedding, Input
from cnnkit.models import Model, Sequential, clone_model


def _reference_keras():
    return pytest.importorskip("keras")


def _lines(model) -> list[str]:
    out: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: out.append(line))
    return "\n".join(out).splitlines()


# -- 7: model.input / model.output -----------------------------------------------------------
def test_model_input_and_output_are_the_symbolic_tensors():
    inputs = Input(shape=(4,))
    outputs = Dense(2)(inputs)
    model = Model(inputs, outputs)
    assert model.input is inputs and model.output is outputs
    a, b = Input(shape=(2,)), Input(shape=(3,))
    pair = Model([a, b], [Dense(1)(a), Dense(1)(b)])
    assert pair.input == [a, b] and [t.shape for t in pair.output] == [(None, 1), (None, 1)]
    # The feature-extraction pattern of the guides: a model from another's input and outputs.
    features = Model(model.input, [layer.output for layer in model.layers])
    assert [t.shape for t in features.outputs] == [(None, 4), (None, 2)]

    sequential = Sequential([Input(shape=(4,)), Dense(2)])
    assert sequential.input.shape == (None, 4) and sequential.output.shape == (None, 2)
    with pytest.raises(AttributeError, match="has no defined input"):
        _ = Sequential([Dense(2)]).input


def test_model_input_and_output_as_keras():
    K = _reference_keras()
    for lib in (keras, K):
        a = lib.Input(shape=(4,))
        model = lib.Model([a], [lib.layers.Dense(2)(a)])
        single = lib.Model(a, lib.layers.Dense(3)(a))
        assert isinstance(model.input, list) and isinstance(model.output, list)
        assert tuple(single.input.shape) == (None, 4) and tuple(single.output.shape) == (None, 3)


# -- 8: arithmetic on symbolic tensors ---------------------------------------------------------
def _residual_block(lib, w):
    inputs = lib.Input(shape=(4,))
    x = lib.layers.Dense(4, name="d")(inputs)
    x = x + inputs  # a residual connection, as the transformer examples write it
    x = -(x * 2.0) / 4.0 - 1.0
    y = (x @ w) ** 2
    return lib.Model(inputs, [y, x[:, 0], 3.0 - abs(x)])


def test_symbolic_arithmetic_is_recorded_in_the_graph():
    w = np.arange(12, dtype="float32").reshape(4, 3) / 10
    model = _residual_block(keras, w)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    kernel, bias = model.get_layer("d").get_weights()
    h = x @ kernel + bias + x
    h = -(h * 2.0) / 4.0 - 1.0
    y, first, other = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, (h @ w) ** 2, rtol=1e-5)
    np.testing.assert_allclose(first, h[:, 0], rtol=1e-6)
    np.testing.assert_allclose(other, 3.0 - abs(h), rtol=1e-6)
    assert [t.shape for t in model.outputs] == [(None, 3), (None,), (None, 4)]
    assert [layer.name for layer in model.layers] == [model.layers[0].name, "d"]  # as Keras
    rows = [line.split("│")[1].split("(")[1].strip(" )") for line in _lines(model) if "│" in line]
    assert rows[:4] == ["InputLayer", "Dense", "Add", "Multiply"]  # Keras's operation classes
    # Comparisons give booleans; shapes follow the operands.
    inputs = Input(shape=(2, 3))
    mask = inputs > 0.5
    assert mask.dtype == "bool" and mask.shape == (None, 2, 3)
    assert (inputs[:, 1] <= inputs[:, 0]).shape == (None, 3)
    with pytest.raises(TypeError, match="Iterating over a symbolic KerasTensor"):
        list(inputs)
    out = Model(inputs, mask).predict(np.array([[[0, 1, 2], [1, 0, 0]]], "float32"), verbose=0)
    np.testing.assert_array_equal(out, [[[False, True, True], [True, False, False]]])


def test_symbolic_arithmetic_trains_and_clones():
    w = np.ones((4, 3), "float32")
    model = _residual_block(keras, w)
    x = np.random.default_rng(1).standard_normal((8, 4)).astype("float32")
    targets = [np.zeros((8, 3)), np.zeros((8,)), np.zeros((8, 4))]
    model.compile("sgd", ["mse", "mse", "mse"])
    before = model.get_layer("d").get_weights()[0].copy()
    model.fit(x, targets, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(model.get_layer("d").get_weights()[0], before)
    twin = clone_model(model)
    twin.set_weights(model.get_weights())
    for a, b in zip(twin.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _integer_arithmetic(lib):
    i = lib.Input(shape=(3,), dtype="int32")
    return [i * 2.0, i + 1, i[:, :2], i > 1, i / 2]


def test_arithmetic_on_integer_tensors_keeps_the_symbolic_dtypes():
    outputs = _integer_arithmetic(keras)
    assert [t.dtype for t in outputs] == ["float32", "int32", "int32", "bool", "float32"]
    model = Model(outputs[0]._keras_history[1].input_tensors[0], outputs)
    values = model.predict(np.array([[1, 2, 3]]), verbose=0)
    assert [str(v.dtype) for v in values] == [t.dtype for t in outputs]
    np.testing.assert_array_equal(values[4], [[0.5, 1.0, 1.5]])


def test_a_model_with_symbolic_arithmetic_saves_and_loads(tmp_path):
    inputs = Input(shape=(4,))
    model = Model(inputs, Dense(4)(inputs) + inputs)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)


def test_a_model_with_an_unsaveable_op_refuses_to_save_clearly(tmp_path):
    inputs = Input(shape=(4,))
    # cnnkit has no saved form for ops.layer_normalization's node (Keras's LayerNorm takes a
    # computed argument)
    model = Model(inputs, keras.ops.layer_normalization(inputs))
    with pytest.raises(ValueError, match=r"Cannot save the function .*defined inside another"):
        model.save(tmp_path / "model.keras")
    assert not (tmp_path / "model.keras").exists()


def test_symbolic_arithmetic_as_keras():
    K = _reference_keras()
    w = np.arange(12, dtype="float32").reshape(4, 3) / 10
    ours, theirs = _residual_block(keras, w), _residual_block(K, w)
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(2).standard_normal((5, 4)).astype("float32")
    for a, b in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [t.shape for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]
    assert [layer.name for layer in ours.layers][1:] == [layer.name for layer in theirs.layers][1:]
    assert [t.dtype for t in _integer_arithmetic(keras)] == [
        t.dtype for t in _integer_arithmetic(K)
    ]


# -- 9: summaries of unbuilt models, pop, a model built by a call ---------------------------
def test_summary_of_an_unbuilt_model_and_pop():
    model = Sequential([Dense(2, name="first"), Dense(3, name="second")])
    lines = _lines(model)
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 2 and all("?" in row and "0 (unbuilt)" in row for row in rows)
    assert " Total params: 0 (0.00 B)" in lines
    popped = model.pop()
    assert popped.name == "second" and [layer.name for layer in model.layers] == ["first"]
    assert not model.built
    built = Sequential([Input(shape=(4,)), Dense(2), Dense(3)])
    built.pop()
    assert built.output_shape == (None, 2)


def test_a_sequential_built_by_a_call_keeps_the_batch_size():
    model = Sequential([Dense(2)])
    model(np.ones((1, 4), "float32"))
    assert model.input_shape == (1, 4) and model.output_shape == (1, 2)
    assert any("(1, 2)" in line for line in _lines(model))
    assert model(np.ones((3, 4), "float32")).shape == (3, 2)  # other batch sizes still run


def test_unbuilt_summary_and_call_built_shape_as_keras():
    K = _reference_keras()
    for lib in (keras, K):
        unbuilt = _lines(lib.Sequential([lib.layers.Dense(2), lib.layers.Dense(3)]))
        assert sum("0 (unbuilt)" in line for line in unbuilt) == 2
        model = lib.Sequential([lib.layers.Dense(2)])
        model(np.ones((1, 4), "float32"))
        assert tuple(model.output_shape) == (1, 2)


# -- 10: a custom Metric with variables made after super().__init__ ------------------------
class CategoricalTruePositives(keras.metrics.Metric):
    """The training guide's metric, its `keras.ops` calls written with NumPy."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.reshape(np.argmax(y_pred, axis=1), (-1, 1))
        values = np.asarray(y_true).astype("int32") == y_pred.astype("int32")
        values = values.astype("float32")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight).astype("float32")
            values = np.multiply(values, sample_weight)
        self.true_positives.assign_add(np.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


def _classifier(lib):
    inputs = lib.Input(shape=(4,))
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(inputs))


def test_custom_metric_with_variables_trains_and_counts():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 4)).astype("float32"), rng.integers(0, 3, (40, 1))
    model = _classifier(keras)
    model.compile(
        "rmsprop", "sparse_categorical_crossentropy", metrics=[CategoricalTruePositives()]
    )
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert len(history.history["categorical_true_positives"]) == 2
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    correct = (model.predict(x, verbose=0).argmax(axis=1) == y[:, 0]).sum()
    assert logs["categorical_true_positives"] == correct
    metric = CategoricalTruePositives()
    assert metric.variables == [metric.true_positives] and float(metric.result()) == 0.0


def test_custom_metric_as_keras():
    K = _reference_keras()
    ops = K.ops

    class KerasCategoricalTruePositives(K.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            self.true_positives.assign_add(ops.sum(ops.cast(values, "float32")))

        def result(self):
            return self.true_positives

        def reset_state(self):
            self.true_positives.assign(0.0)

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((24, 4)).astype("float32"), rng.integers(0, 3, (24, 1))
    ours, theirs = _classifier(keras), _classifier(K)
    theirs.set_weights(ours.get_weights())
    ours.compile("sgd", "sparse_categorical_crossentropy", metrics=[CategoricalTruePositives()])
    theirs.compile(
        "sgd", "sparse_categorical_crossentropy", metrics=[KerasCategoricalTruePositives()]
    )
    a = ours.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    b = theirs.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert a["categorical_true_positives"] == float(b["categorical_true_positives"])
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)


# -- 11: a layer called with two positional tensors ---------------------------------------
@keras.saving.register_keras_serializable(package="keras_behaviour")
class LogisticEndpoint(keras.layers.Layer):
    """The functional API guide's endpoint layer: ``call(targets, logits)``."""

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        self.add_loss(self.loss_fn(targets, logits, sample_weights))
        return keras.activations.sigmoid(logits)


def _endpoint_data():
    rng = np.random.default_rng(4)
    return {
        "inputs": rng.random((6, 3)).astype("float32"),
        "targets": (rng.random((6, 10)) > 0.5).astype("float32"),
    }


def _endpoint_model(lib, endpoint):
    inputs = lib.Input(shape=(3,), name="inputs")
    targets = lib.Input(shape=(10,), name="targets")
    logits = lib.layers.Dense(10)(inputs)
    predictions = endpoint(name="predictions")(targets, logits)
    return lib.Model(inputs=[inputs, targets], outputs=predictions)


def test_a_layer_called_with_two_positional_tensors(tmp_path):
    targets, logits = np.array([[1.0, 0.0]], "float32"), np.array([[2.0, -1.0]], "float32")
    endpoint = LogisticEndpoint()
    np.testing.assert_allclose(endpoint(targets, logits).numpy(), 1 / (1 + np.exp(-logits)))
    expected = np.mean(np.log1p(np.exp(-np.abs(logits))) + np.maximum(logits, 0) - logits * targets)
    np.testing.assert_allclose(float(endpoint.losses[0].numpy()), expected, rtol=1e-6)

    model = _endpoint_model(keras, LogisticEndpoint)
    assert model.outputs[0].shape == (None, 10)
    model.compile(optimizer="adam")  # no loss: the endpoint's add_loss is the loss
    data = _endpoint_data()
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    model.save(tmp_path / "endpoint.keras")
    again = keras.models.load_model(tmp_path / "endpoint.keras")
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0))


def test_a_config_with_more_arguments_than_call_takes_is_refused():
    inputs = Input(shape=(3,))
    config = Model(inputs, Dense(2, name="d")(inputs)).get_config()
    node = config["layers"][1]["inbound_nodes"][0]
    node["args"] = node["args"] * 3  # Dense.call(inputs, training) takes two
    with pytest.raises(ValueError, match="layer 'd' with 3 positional arguments"):
        Model.from_config(config)


def test_two_positional_tensors_as_keras():
    K = _reference_keras()

    class KerasLogisticEndpoint(K.layers.Layer):
        def __init__(self, name=None, **kwargs):
            super().__init__(name=name, **kwargs)
            self.loss_fn = K.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            self.add_loss(self.loss_fn(targets, logits, sample_weights))
            return K.ops.sigmoid(logits)

    ours = _endpoint_model(keras, LogisticEndpoint)
    theirs = _endpoint_model(K, KerasLogisticEndpoint)
    theirs.set_weights(ours.get_weights())
    data = _endpoint_data()
    np.testing.assert_allclose(
        ours.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5
    )
    ours.compile("sgd")
    theirs.compile("sgd")
    a = ours.evaluate(data, verbose=0)
    b = theirs.evaluate(data, verbose=0)
    np.testing.assert_allclose(a, float(np.ravel(b)[0]), rtol=1e-5)


# -- 12: clone_model with a registered custom activation -----------------------------------
@keras.saving.register_keras_serializable(package="keras_behaviour")
def doubled_tanh(x):
    return keras.activations.tanh(x) * 2.0


def test_clone_model_keeps_a_registered_custom_activation():
    inputs = Input(shape=(3,))
    model = Model(inputs, Dense(2, activation=doubled_tanh)(inputs))
    twin = clone_model(model)
    assert twin.layers[1].activation is doubled_tanh and twin.layers[1] is not model.layers[1]
    twin.set_weights(model.get_weights())
    x = np.random.default_rng(5).standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    sequential = Sequential([Input(shape=(3,)), Dense(2, activation=doubled_tanh)])
    assert clone_model(sequential).layers[0].activation is doubled_tanh


# -- 13: an outer layer's losses include its sublayers' ------------------------------------
class Penalised(keras.layers.Layer):
    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * inputs.sum())
        return inputs


class Outer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = Penalised(0.5)
        self.blocks = [Penalised(2.0), Middle()]
        self.dense = Dense(2, kernel_initializer="ones")

    def call(self, inputs):
        self.add_loss(1.0)
        return self.dense(self.blocks[1](self.blocks[0](self.first(inputs))))


class Middle(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Penalised(10.0)

    def call(self, inputs):
        return self.inner(inputs)


def test_losses_include_sublayers_recursively():
    outer = Outer()
    x = np.array([[1.0, 2.0]], "float32")
    outer(x)
    values = sorted(float(t.numpy()) for t in outer.losses)
    assert values == [1.0, 1.5, 6.0, 30.0]  # own, then 0.5, 2 and 10 times the sum 3
    assert len(outer.trainable_weights) == 2  # the Dense held as an attribute
    # In a model, the nested penalties are part of the training loss.
    inputs = Input(shape=(2,))
    model = Model(inputs, Outer()(inputs))
    model.compile("sgd", "mse")
    loss = model.evaluate(x, np.zeros((1, 2)), verbose=0)
    np.testing.assert_allclose(loss, 9.0 + 1.0 + 1.5 + 6.0 + 30.0, rtol=1e-6)


def test_nested_losses_as_keras():
    K = _reference_keras()

    class KPenalised(K.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * K.ops.sum(inputs))
            return inputs

    class KMiddle(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = KPenalised(10.0)

        def call(self, inputs):
            return self.inner(inputs)

    class KOuter(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = KPenalised(0.5)
            self.blocks = [KPenalised(2.0), KMiddle()]
            self.dense = K.layers.Dense(2, kernel_initializer="ones")

        def call(self, inputs):
            self.add_loss(K.ops.sum(inputs) * 0.0 + 1.0)  # Keras takes tensors only
            return self.dense(self.blocks[1](self.blocks[0](self.first(inputs))))

    theirs, ours = KOuter(), Outer()
    x = np.array([[1.0, 2.0]], "float32")
    theirs(x)
    ours(x)
    expected = sorted(float(K.ops.convert_to_numpy(t)) for t in theirs.losses)
    assert sorted(float(t.numpy()) for t in ours.losses) == pytest.approx(expected)


# -- 14: fit() on a model with nothing to train ----------------------------------------------
def test_fit_without_trainable_weights_reports_the_loss():
    model = Sequential([Input(shape=(3,)), Dense(2, kernel_initializer="ones")])
    model.trainable = False
    model.compile("sgd", "mse")
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [9.0, 9.0])
    np.testing.assert_array_equal(model.get_weights()[0], np.ones((3, 2)))
    plain = Sequential([Input(shape=(3,)), layers.Flatten()])  # no weights at all
    plain.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        assert plain.fit(x, x * 2, verbose=0).history["loss"] == [1.0]


# -- 15: masks on symbolic tensors, and `mask` given to `call` while the graph is built -----
class TemporalSoftmax(keras.layers.Layer):
    """The masking guide's layer (a softmax over time steps, the masked ones left out)."""

    masks_seen: list = []

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        self.masks_seen.append(np.asarray(mask).shape)
        broadcast_float_mask = np.asarray(mask, "float32")[..., None]
        return keras.activations.softmax(inputs + (1.0 - broadcast_float_mask) * -1e9, axis=1)


def test_masks_ride_on_symbolic_tensors_and_reach_call():
    TemporalSoftmax.masks_seen = []
    inputs = Input(shape=(None,), dtype="int32")
    embedded = Embedding(input_dim=10, output_dim=4, mask_zero=True)(inputs)
    assert embedded._keras_mask.shape == (None, None) and embedded._keras_mask.dtype == "bool"
    x = Dense(1)(embedded)
    assert x._keras_mask.shape == (None, None)  # Dense passes the mask on
    outputs = TemporalSoftmax()(x)
    assert TemporalSoftmax.masks_seen  # the mask reached `call` while the graph was built
    assert inputs._keras_mask is None and Dense(1)(Input(shape=(3,)))._keras_mask is None
    model = Model(inputs, outputs)
    tokens = np.array([[3, 1, 0, 0], [5, 0, 2, 0]])
    y = model(tokens)
    np.testing.assert_array_equal(y._keras_mask, tokens != 0)
    probabilities = y.numpy()[..., 0]
    np.testing.assert_allclose(probabilities.sum(axis=1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(probabilities[tokens == 0], 0.0)


def test_symbolic_masks_as_keras():
    K = _reference_keras()
    for lib in (keras, K):
        inputs = lib.Input(shape=(None,), dtype="int32")
        x = lib.layers.Embedding(input_dim=10, output_dim=4, mask_zero=True)(inputs)
        x = lib.layers.Dense(3)(x)
        assert tuple(x._keras_mask.shape) == (None, None) and x._keras_mask.dtype == "bool"


# -- 16: an overridden compute_loss (the knowledge-distillation example) -------------------
def _distiller_class(lib):
    class Distiller(lib.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1):
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = 3.0

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)
            distillation_loss = self.distillation_loss_fn(
                lib.activations.softmax(teacher_pred / self.temperature, axis=1),
                lib.activations.softmax(y_pred / self.temperature, axis=1),
            ) * (self.temperature**2)
            return self.alpha * student_loss + (1 - self.alpha) * distillation_loss

        def call(self, x):
            return self.student(x)

    return Distiller


def _distillation(lib, weights=None):
    teacher = lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(3)], name="teacher")
    student = lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(3)], name="student")
    if weights is not None:
        teacher.set_weights(weights[0])
        student.set_weights(weights[1])
    teacher.trainable = False
    distiller = _distiller_class(lib)(student=student, teacher=teacher)
    distiller.compile(
        optimizer=lib.optimizers.SGD(learning_rate=0.5),
        metrics=[lib.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=lib.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=lib.losses.MeanSquaredError(),
    )
    return distiller, teacher, student


def _distillation_data():
    rng = np.random.default_rng(6)
    return rng.standard_normal((16, 4)).astype("float32"), rng.integers(0, 3, 16)


def _distillation_loss(teacher, student, x, y, alpha=0.1, t=3.0):
    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    s, p = student.predict(x, verbose=0), teacher.predict(x, verbose=0)
    cross_entropy = -np.log(softmax(s)[np.arange(len(y)), y]).mean()
    distillation = np.mean((softmax(p / t) - softmax(s / t)) ** 2) * t**2
    return alpha * cross_entropy + (1 - alpha) * distillation


def test_an_overridden_compute_loss_is_what_fit_and_evaluate_use():
    x, y = _distillation_data()
    distiller, teacher, student = _distillation(keras)
    expected = _distillation_loss(teacher, student, x, y)
    loss, _ = distiller.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    teacher_before = teacher.get_weights()
    history = distiller.fit(x, y, epochs=5, batch_size=16, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for a, b in zip(teacher.get_weights(), teacher_before):
        np.testing.assert_array_equal(a, b)  # the frozen teacher is left as it was


def test_distiller_as_keras():
    K = _reference_keras()
    x, y = _distillation_data()
    ours, teacher, student = _distillation(keras)
    theirs, *_ = _distillation(K, weights=(teacher.get_weights(), student.get_weights()))
    a = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    b = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-4)
    np.testing.assert_allclose(a["sparse_categorical_accuracy"], b["sparse_categorical_accuracy"])


# -- 17: batches given as lists -------------------------------------------------------------
def _linear():
    model = Sequential([Input(shape=(3,)), Dense(2, kernel_initializer="ones")])
    model.compile("sgd", "mse")
    return model


def _regression_data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((12, 3)).astype("float32"), rng.standard_normal((12, 2))


@pytest.mark.parametrize("kind", ["tuple", "list", "generator", "list_of_three"])
def test_fit_on_batches_given_as_tuples_or_lists(kind):
    x, y = _regression_data()
    reference = _linear()
    reference.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    batches = [(x[i : i + 4], y[i : i + 4]) for i in range(0, 12, 4)]
    if kind == "list":
        data = [[xb, yb] for xb, yb in batches]
    elif kind == "generator":
        data = ([xb, yb] for xb, yb in batches)
    elif kind == "list_of_three":
        data = [[xb, yb, np.ones(len(xb))] for xb, yb in batches]
    else:
        data = batches
    model = _linear()
    model.fit(iter(data), verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], reference.get_weights()[0], rtol=1e-6)


def test_fit_on_a_torch_data_loader():
    torch = pytest.importorskip("torch")
    x, y = _regression_data()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False)
    reference = _linear()
    reference.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    model = _linear()
    model.fit(loader, epochs=1, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], reference.get_weights()[0], rtol=1e-5)
    assert model.predict(loader, verbose=0).shape == (12, 2)
    assert np.isfinite(model.evaluate(loader, verbose=0))


def test_a_batch_of_four_items_is_refused():
    x, y = _regression_data()
    with pytest.raises(ValueError, match=r"`\(x, y, sample_weight\)`.*Received 4 items"):
        _linear().fit(iter([[x, y, None, None]]), verbose=0)
    with pytest.raises(ValueError, match="The compiled loss needs targets"):
        _linear().fit(iter([x]), verbose=0)  # inputs alone are a batch, as Keras


# -- 18: end-of-training logs, the progress line, multi-hot dtype -------------------------
class _Recorder(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.epoch_keys = list(logs)

    def on_train_end(self, logs=None):
        self.end_keys = list(logs)


def _fit_with_plateau(lib, recorder, verbose=2):
    model = lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.ones((8, 3), "float32"), np.zeros(8)
    model.fit(
        x,
        y,
        epochs=1,
        verbose=verbose,
        validation_data=(x, y),
        callbacks=[lib.callbacks.ReduceLROnPlateau(), recorder],
    )


def test_train_end_logs_and_the_progress_line(capsys):
    recorder = _Recorder()
    _fit_with_plateau(keras, recorder)
    assert recorder.end_keys == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert recorder.epoch_keys == recorder.end_keys + ["learning_rate"]
    line = capsys.readouterr().out.strip().splitlines()[-1]
    shown = [part.split(":")[0] for part in line.split(" - ")[3:]]
    assert shown == ["accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"]


def test_train_end_logs_and_progress_line_as_keras(capsys):
    K = _reference_keras()

    class KRecorder(K.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.epoch_keys = list(logs)

        def on_train_end(self, logs=None):
            self.end_keys = list(logs)

    ours, theirs = _Recorder(), KRecorder()
    lines = []
    for lib, recorder in ((keras, ours), (K, theirs)):
        _fit_with_plateau(lib, recorder)
        line = capsys.readouterr().out.strip().splitlines()[-1]
        lines.append([part.split(":")[0] for part in line.split(" - ")[3:]])
    assert ours.end_keys == theirs.end_keys and ours.epoch_keys == theirs.epoch_keys
    assert lines[0] == lines[1]


def test_multi_hot_text_vectors_are_int64():
    # Keras 3's TextVectorization (TensorFlow only) returns its StringLookup's int64 values.
    layer = layers.TextVectorization(output_mode="multi_hot", vocabulary=["a", "b"])
    out = layer(["a b a", "c"]).numpy()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[0, 1, 1], [1, 0, 0]])


def test_weighted_and_per_output_metrics_survive_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((16, 4), dtype=np.float32)
    y = rng.integers(0, 2, 16)
    sw = rng.random(16)
    inputs = Input((4,))
    model = Model(inputs, Dense(1, activation="sigmoid")(inputs))
    model.compile(
        "adam", "binary_crossentropy", metrics=["accuracy"], weighted_metrics=["accuracy"]
    )
    model.fit(x, y, sample_weight=sw, epochs=1, verbose=0)
    before = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert before["weighted_accuracy"] != before["accuracy"]
    model.save(tmp_path / "weighted.keras")
    loaded = keras.models.load_model(tmp_path / "weighted.keras")
    after = loaded.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert after == pytest.approx(before)

    a = Dense(1, activation="sigmoid", name="a")(inputs)
    b = Dense(1, name="b")(inputs)
    two = Model(inputs, [a, b])
    two.compile("sgd", ["binary_crossentropy", "mse"], metrics={"a": ["accuracy"], "b": ["mae"]})
    two.fit(x, [y, x[:, :1]], epochs=1, verbose=0)
    two.save(tmp_path / "two.keras")
    config = keras.models.load_model(tmp_path / "two.keras").get_compile_config()
    assert config["metrics"] == {"a": ["accuracy"], "b": ["mae"]}


def _add_loss_to_functional(lib):
    inputs = lib.Input((3,))
    outputs = lib.layers.Dense(2)(inputs)
    model = lib.Model(inputs, outputs)
    with pytest.raises(NotImplementedError) as raised:
        model.add_loss(lib.ops.sum(outputs))
    with pytest.raises(NotImplementedError):
        model.add_loss(1.0)
    return model, str(raised.value)


def test_add_loss_on_a_functional_model_is_not_implemented():
    model, message = _add_loss_to_functional(keras)
    assert "functional model" in message and "layer's `call`" in message
    assert model.losses == []
    _add_loss_to_functional(_reference_keras())  # Keras refuses it the same way
