"""Patterns from the official Keras 3 guides that ``import cnnkit as keras`` must run unchanged."""

import warnings

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers, ops


def test_input_batch_shape_does_not_fix_the_call_batch_size():
    inputs = keras.Input(batch_shape=(16, 10, 5))
    conv = layers.Conv1D(4, 3)
    model = keras.Model(inputs, conv(inputs))
    x = np.random.default_rng(0).random((1, 10, 5)).astype("float32")
    out = model(x)
    assert tuple(out.shape) == (1, 8, 4)
    np.testing.assert_allclose(np.asarray(out.numpy()), np.asarray(conv(x).numpy()), rtol=1e-6)
    with pytest.raises(ValueError, match=r"expected shape=\(16, 10, 5\), found shape=\(1, 9, 5\)"):
        model(np.zeros((1, 9, 5), "float32"))


def test_to_json_and_model_from_json_rebuild_the_architecture():
    model = keras.Sequential([keras.Input((32,)), layers.Dense(3, activation="relu")])
    text = model.to_json()
    assert isinstance(text, str)
    new_model = keras.models.model_from_json(text)
    assert type(new_model) is keras.Sequential
    assert [type(layer) for layer in new_model.layers] == [layers.Dense]
    assert new_model.layers[0].get_config()["units"] == 3
    assert new_model.count_params() == model.count_params()
    with pytest.raises(TypeError, match="must be a str, received dict"):
        keras.models.model_from_json({"a": 1})
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.model_from_json("{oops")


def test_regression_losses_broadcast_like_keras():
    y_true = np.arange(16, dtype="float32").reshape(8, 2) / 4
    y_pred = np.linspace(0, 1, 8, dtype="float32").reshape(8, 1)
    expected = np.mean((y_true - y_pred) ** 2)
    assert float(keras.losses.MeanSquaredError()(y_true, y_pred)) == pytest.approx(expected)
    mae = keras.losses.mean_absolute_error(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(mae), np.abs(y_true - y_pred).mean(-1), rtol=1e-6)
    with pytest.raises(ValueError, match="broadcastable shapes"):
        keras.losses.mean_squared_error(np.ones((8, 3)), np.ones((8, 2)))


def test_regression_loss_broadcast_gradient_matches_finite_differences():
    from cnnkit.autodiff import Tensor

    rng = np.random.default_rng(1)
    y_true = rng.random((4, 3))
    p = rng.random((4, 1))
    pred = Tensor(p.copy(), requires_grad=True)
    ops.mean(keras.losses.mean_squared_error(y_true, pred)).backward()
    eps = 1e-6
    numeric = np.zeros_like(p)
    for i in range(p.shape[0]):
        up, down = p.copy(), p.copy()
        up[i, 0] += eps
        down[i, 0] -= eps
        f = lambda q: np.mean(np.mean((y_true - q) ** 2, axis=-1))  # noqa: E731
        numeric[i, 0] = (f(up) - f(down)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(pred.grad), numeric, rtol=1e-5, atol=1e-8)


class _WithExtraVariable(layers.Dense):
    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.extra = keras.Variable(np.arange(units, dtype="float32"), name="extra")

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["extra_copy"] = self.extra.numpy()

    def load_own_variables(self, store):
        self.extra.assign(store["extra_copy"])
        for i, variable in enumerate(self.weights):
            variable.assign(store[f"{i}"])

    def call(self, inputs):
        return super().call(inputs) + self.extra


def test_variable_attribute_is_tracked_and_custom_store_round_trips(tmp_path):
    layer = _WithExtraVariable(2)
    layer.build((None, 3))
    assert [v.name for v in layer.weights] == ["extra", "kernel", "bias"]
    model = keras.Sequential([keras.Input((3,)), layer])
    layer.extra.assign(np.array([5.0, -1.0], "float32"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.models.load_model(
        path, custom_objects={"_WithExtraVariable": _WithExtraVariable}
    )
    np.testing.assert_array_equal(restored.layers[0].extra.numpy(), [5.0, -1.0])
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_default_load_own_variables_checks_the_count():
    layer = layers.Dense(2)
    layer.build((None, 3))
    store = {}
    layer.save_own_variables(store)
    assert sorted(store) == ["0", "1"] and store["0"].shape == (3, 2)
    other = layers.Dense(2)
    other.build((None, 3))
    other.load_own_variables(store)
    np.testing.assert_array_equal(other.kernel.numpy(), layer.kernel.numpy())
    with pytest.raises(ValueError, match="expected 2 variables, but received 1"):
        other.load_own_variables({"0": store["0"]})


class _BuildNeedsMore(layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape, init):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer=init)
        self.init = init

    def call(self, inputs):
        return ops.matmul(inputs, self.w)

    def get_config(self):
        return {**super().get_config(), "units": self.units}

    def get_build_config(self):
        return {"init": self.init, "input_shape": (5,)}

    def build_from_config(self, config):
        self.build(config["input_shape"], config["init"])


def test_direct_build_marks_built_and_custom_build_config_round_trips(tmp_path):
    layer = _BuildNeedsMore()
    layer.build((5,), "ones")
    assert layer.built
    model = keras.Sequential([layer])
    model.build((None, 5))  # does not call build() again (it needs `init`)
    path = str(tmp_path / "b.keras")
    model.save(path)
    restored = keras.models.load_model(path, custom_objects={"_BuildNeedsMore": _BuildNeedsMore})
    assert restored.layers[0].init == "ones"
    np.testing.assert_array_equal(restored.layers[0].w.numpy(), np.ones((5, 4)))


class _CustomCompile(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)

    def compile(self, optimizer, loss_fn):
        super().compile(optimizer)
        self.loss_fn = loss_fn

    def get_compile_config(self):
        return {"optimizer": self.optimizer, "loss_fn": self.loss_fn}

    def compile_from_config(self, config):
        optimizer = keras.utils.deserialize_keras_object(config["optimizer"])
        loss_fn = keras.utils.deserialize_keras_object(config["loss_fn"])
        self.compile(optimizer=optimizer, loss_fn=loss_fn)


def test_custom_compile_config_is_used_on_load(tmp_path):
    model = _CustomCompile()
    model.compile(optimizer="sgd", loss_fn="mean_squared_error")
    model(np.ones((1, 3), "float32"))
    path = str(tmp_path / "c.keras")
    model.save(path)
    restored = keras.models.load_model(path, custom_objects={"_CustomCompile": _CustomCompile})
    assert type(restored.optimizer).__name__ == "SGD"
    assert restored.loss_fn == "mean_squared_error"


def test_overridden_compile_without_compile_from_config_warns():
    class OnlyCompile(keras.Model):
        def compile(self, optimizer, extra=None):
            super().compile(optimizer)

    model = OnlyCompile()
    with pytest.warns(UserWarning, match="`compile\\(\\)` was not called"):
        model.compile_from_config({"optimizer": "adam"})
    assert not model.compiled


def test_utils_exports_serialization_helpers():
    config = keras.utils.serialize_keras_object(layers.Dense(3))
    layer = keras.utils.deserialize_keras_object(config)
    assert isinstance(layer, layers.Dense) and layer.units == 3
    assert keras.utils.custom_object_scope is keras.saving.custom_object_scope
    assert keras.utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert keras.utils.unpack_x_y_sample_weight([1]) == (1, None, None)
    with pytest.raises(ValueError, match="Data is expected to be in format"):
        keras.utils.unpack_x_y_sample_weight((1, 2, 3, 4))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        keras.utils.nope  # noqa: B018
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert keras.utils.is_keras_tensor(keras.Input((2,)))


def _two_branch_model():
    a = keras.Input((8, 8, 3), name="img")
    b = keras.Input((5, 2), name="seq")
    xa = layers.GlobalMaxPooling2D()(layers.Conv2D(2, 3)(a))
    xb = layers.GlobalMaxPooling1D()(layers.Conv1D(2, 3)(b))
    x = layers.concatenate([xa, xb])
    return keras.Model([a, b], [layers.Dense(1)(x), layers.Dense(3)(x)])


def test_image_utils_match_keras(tmp_path):
    kimg = pytest.importorskip("keras.src.utils.image_utils")
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, (9, 7, 3)).astype("float32")
    path = str(tmp_path / "a.png")
    keras.utils.save_img(path, x)
    for kwargs in (
        {},
        {"color_mode": "grayscale"},
        {"target_size": (4, 5), "interpolation": "bilinear"},
        {"target_size": (4, 4), "keep_aspect_ratio": True},
    ):
        ours = keras.utils.img_to_array(keras.utils.load_img(path, **kwargs))
        theirs = kimg.img_to_array(kimg.load_img(path, **kwargs))
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)
    ours = keras.utils.img_to_array(keras.utils.array_to_img(x), data_format="channels_first")
    theirs = kimg.img_to_array(kimg.array_to_img(x), data_format="channels_first")
    np.testing.assert_array_equal(ours, theirs)


class _StepModel(keras.Model):
    """A Keras-guide style custom train_step / test_step (manual backward and update)."""

    calls = 0

    def train_step(self, data):
        x, y = data
        type(self).calls += 1
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        weights = list(self.trainable_weights)
        self.optimizer.apply([v.grad for v in weights], weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        return {"doubled_loss": 2 * self.compute_loss(y=y, y_pred=y_pred)}


def test_model_subclass_called_functionally_uses_its_train_step():
    from cnnkit.models.functional import Functional

    inputs = keras.Input((3,))
    model = _StepModel(inputs, layers.Dense(1, kernel_initializer="zeros")(inputs))
    assert isinstance(model, Functional) and len(model.layers) == 2
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 1)).astype("float32")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert _StepModel.calls == 2
    # one SGD step from zero weights: w = 0.1 * 2/N * x^T y, b = 0.1 * 2 * mean(y)
    expected_w = 0.1 * 2 * x.T @ y / 8
    first = history.history["loss"][0]
    assert first == pytest.approx(float(np.mean(y**2)), rel=1e-5)
    assert history.history["mae"][0] == pytest.approx(float(np.mean(np.abs(y))), rel=1e-5)
    model2 = _StepModel(inputs, layers.Dense(1, kernel_initializer="zeros")(inputs))
    model2.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model2.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(model2.layers[1].kernel.numpy(), expected_w, rtol=1e-5)
    result = model2.evaluate(x, y, verbose=0, return_dict=True)
    pred = model2.predict(x, verbose=0)
    assert result["doubled_loss"] == pytest.approx(2 * float(np.mean((pred - y) ** 2)), rel=1e-5)


class _MixerBlock(layers.Layer):
    """A user layer with only ``call`` (no ``compute_output_shape``), as in MLP-Mixer."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)

    def call(self, inputs):
        return ops.transpose(self.dense(ops.transpose(inputs, axes=(0, 2, 1))), axes=(0, 2, 1))


def test_sequential_of_user_layers_without_compute_output_shape_in_a_functional_model():
    blocks = keras.Sequential([_MixerBlock(6), _MixerBlock(6)])
    inputs = keras.Input((6, 4))
    outputs = blocks(inputs)
    assert tuple(outputs.shape) == (None, 6, 4)
    model = keras.Model(inputs, layers.GlobalAveragePooling1D()(outputs))
    x = np.random.default_rng(0).random((3, 6, 4)).astype("float32")
    expected = np.asarray(blocks(x).numpy()).mean(axis=1)
    np.testing.assert_allclose(np.asarray(model(x).numpy()), expected, rtol=1e-6)
    seq = keras.Sequential([keras.Input((5, 6, 4)), layers.TimeDistributed(_MixerBlock(3))])
    assert tuple(seq.output.shape) == (None, 5, 3, 4)
    with pytest.raises(NotImplementedError, match="does not implement compute_output_shape"):
        layers.Layer().compute_output_shape((None, 2))


def test_custom_loop_reads_gradients_through_variable_value_grad():
    # The torch-backend training-loop guide: loss.backward(), then v.value.grad per weight.
    rng = np.random.default_rng(0)
    x, y = rng.random((6, 3)).astype("float32"), rng.random((6, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    kernel, bias = (np.array(w) for w in model.get_weights())
    loss = keras.losses.MeanSquaredError()(y, model(x))
    model.zero_grad()
    loss.backward()
    weights = list(model.trainable_weights)
    grads = [v.value.grad for v in weights]
    residual = 2.0 * (x @ kernel + bias - y) / y.size
    np.testing.assert_allclose(grads[0], x.T @ residual, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1], residual.sum(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(weights[0].value), kernel)
    keras.optimizers.SGD(learning_rate=0.5).apply(grads, weights)
    np.testing.assert_allclose(weights[0].numpy(), kernel - 0.5 * grads[0], rtol=1e-6)


def test_dataset_batches_have_numpy_like_eager_tensors(tmp_path):
    # text_classification_from_scratch: `for text_batch, label_batch in ds.take(1):
    # text_batch.numpy()[i]`, then an end-to-end model on raw strings of different lengths.
    for label, texts in (("neg", ["bad", "awful film, really"]), ("pos", ["good", "great"])):
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    ds = keras.utils.text_dataset_from_directory(tmp_path, batch_size=4, shuffle=False)
    for text_batch, label_batch in ds.take(1):
        texts, labels = text_batch.numpy(), label_batch.numpy()
        assert type(texts) is np.ndarray and type(labels) is np.ndarray
        assert sorted(texts.tolist()) == ["awful film, really", "bad", "good", "great"]
        assert labels.tolist() == [0, 0, 1, 1]
    assert all(type(a) is np.ndarray for a in next(ds.as_numpy_iterator()))
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(ds.map(lambda x, y: x))
    inputs = keras.Input(shape=(1,), dtype="string")
    x = layers.Embedding(20, 3)(vectorize(inputs))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(layers.Flatten()(x)))
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    loss, _ = model.evaluate(ds, verbose=0)
    x_all = np.concatenate([np.asarray(t) for t, _ in ds])[:, None]
    y_all = np.concatenate([np.asarray(y) for _, y in ds]).astype("float32")
    p = np.clip(np.asarray(model.predict(x_all, verbose=0)).ravel(), 1e-7, 1 - 1e-7)
    expected = -np.mean(y_all * np.log(p) + (1 - y_all) * np.log(1 - p))
    assert loss == pytest.approx(expected, rel=1e-4)


def _standardized_layers(module):
    class WithOverride(module.layers.Conv2D):
        def convolution_op(self, inputs, kernel):
            mean, var = module.ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
            return module.ops.conv(
                inputs,
                (kernel - mean) / module.ops.sqrt(var + 1e-10),
                padding="valid",
                strides=list(self.strides),
            )

    class WithCall(module.layers.Conv2D):
        def call(self, inputs):
            mean, var = module.ops.moments(self.kernel, axes=[0, 1, 2], keepdims=True)
            kernel = (self.kernel - mean) / module.ops.sqrt(var + 1e-10)
            result = self.convolution_op(inputs, kernel)
            if self.use_bias:
                result = result + self.bias
            return result

    return WithOverride, WithCall


def test_conv_convolution_op_overrides_match_keras():
    # keras_recipes/subclassing_conv_layers: StandardizedConv2D by overriding convolution_op.
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.random((2, 9, 9, 3)).astype("float32")
    ours, theirs = _standardized_layers(keras), _standardized_layers(keras_ref)
    for (mine, ref), kwargs in zip(
        zip(ours, theirs), ({"strides": 2, "activation": "relu"}, {"dilation_rate": 2})
    ):
        a, b = mine(4, 3, **kwargs), ref(4, 3, **kwargs)
        a.build(x.shape)
        b.build(x.shape)
        weights = [rng.standard_normal(w.shape).astype("float32") for w in b.get_weights()]
        a.set_weights(weights)
        b.set_weights(weights)
        expected = keras_ref.ops.convert_to_numpy(b(x))
        np.testing.assert_allclose(np.asarray(a(x)), expected, rtol=1e-4, atol=1e-5)
        assert a.compute_output_shape(x.shape) == expected.shape
    plain = layers.Conv1D(2, 3, strides=2, padding="same")
    seq = rng.random((2, 7, 3)).astype("float32")
    out = plain(seq)
    direct = plain.convolution_op(seq, plain.kernel) + plain.bias
    np.testing.assert_allclose(np.asarray(direct), np.asarray(out), rtol=1e-5, atol=1e-6)


def test_overridden_convolution_op_trains_the_kernel():
    WithOverride, _ = _standardized_layers(keras)
    model = keras.Sequential([keras.Input((6, 6, 2)), WithOverride(3, 3), layers.Flatten()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    kernel = model.layers[0].kernel.numpy().copy()
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 6, 6, 2)).astype("float32"), rng.random((4, 48)).astype("float32")
    model.fit(x, y, verbose=0)
    assert np.abs(model.layers[0].kernel.numpy() - kernel).max() > 1e-3


class _Endpoint(layers.Layer):
    """keras_recipes/endpoint_layer_pattern: a layer that adds the loss from the targets."""

    def call(self, logits, targets=None, sample_weight=None):
        if targets is not None:
            loss = keras.losses.BinaryCrossentropy(from_logits=True)(targets, logits, sample_weight)
            self.add_loss(loss)
        return ops.sigmoid(logits)


class _LogReg(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.endpoint = _Endpoint()

    def call(self, inputs):
        logits = self.dense(inputs["inputs"])
        return self.endpoint(
            logits=logits, targets=inputs["targets"], sample_weight=inputs["sample_weight"]
        )


def test_subclassed_model_takes_a_dict_of_inputs_and_keyword_inputs():
    rng = np.random.default_rng(0)
    data = {
        "inputs": rng.random((40, 5)).astype("float32"),
        "targets": rng.integers(0, 2, (40, 1)).astype("float32"),
        "sample_weight": rng.random((40, 1)).astype("float32"),
    }
    model = _LogReg()
    model.compile(keras.optimizers.SGD(0.1))
    model.fit(data, epochs=1, batch_size=8, verbose=0)
    kernel, bias = (np.asarray(w) for w in model.get_weights())
    logits = data["inputs"] @ kernel + bias
    p = 1 / (1 + np.exp(-logits))
    bce = -(data["targets"] * np.log(p) + (1 - data["targets"]) * np.log(1 - p))
    expected = np.mean(bce[:, 0] * data["sample_weight"][:, 0])
    assert model.evaluate(data, batch_size=40, verbose=0) == pytest.approx(expected, rel=1e-4)
    np.testing.assert_allclose(model.predict(data, verbose=0), p, rtol=1e-5)
    with pytest.raises(TypeError, match="called without inputs.*`logits=`"):
        _Endpoint()(targets=data["targets"])


def test_keras_options_accepted_at_their_defaults_and_refused_otherwise():
    # Keras code passes these options explicitly (often at their defaults).
    assert keras.Input(shape=(3,), sparse=False, ragged=False, optional=False).shape == (None, 3)
    assert keras.Input((2,), None, "float32", None, None, (4, 2)).shape == (4, 2)
    assert layers.InputLayer(shape=(3,), sparse=None, input_tensor=None).batch_shape == (None, 3)
    image = np.random.default_rng(0).random((1, 4, 4, 1)).astype("float32")
    resized = layers.Resizing(2, 2, antialias=False)
    np.testing.assert_allclose(resized(image).numpy(), layers.Resizing(2, 2)(image).numpy())
    assert resized.get_config()["antialias"] is False
    bn = layers.BatchNormalization(renorm=False, renorm_clipping=None, renorm_momentum=0.9)
    assert bn(image).shape == image.shape
    with pytest.raises(ValueError, match="`sparse=True` is not supported"):
        keras.Input(shape=(3,), sparse=True)
    with pytest.raises(ValueError, match="`optional=True` is not supported"):
        layers.InputLayer(shape=(3,), optional=True)
    with pytest.raises(ValueError, match="`tensor`/`input_tensor` is not supported"):
        keras.Input(shape=(3,), tensor=np.zeros((1, 3)))
    with pytest.raises(NotImplementedError, match="antialias=False"):
        layers.Resizing(2, 2, antialias=True)
    with pytest.raises(NotImplementedError, match="renorm=False"):
        layers.BatchNormalization(renorm=True)


def test_mixed_precision_namespace_sets_the_global_policy():
    # keras.mixed_precision.set_global_policy(...) as examples call it before building models.
    from cnnkit import mixed_precision

    try:
        mixed_precision.set_global_policy("float64")
        assert mixed_precision.global_policy() == keras.DTypePolicy("float64")
        assert layers.Dense(2)(np.ones((1, 3))).dtype == np.float64
        with pytest.raises(ValueError, match="'mixed_float16'"):
            mixed_precision.set_global_policy("mixed_float16")
    finally:
        mixed_precision.set_global_policy("float32")
    assert mixed_precision.Policy is keras.DTypePolicy
    assert mixed_precision.LossScaleOptimizer is keras.optimizers.LossScaleOptimizer


def test_fit_on_a_dataset_of_known_cardinality_knows_its_steps():
    # tf.data-style datasets: the progress bar shows "3/3", each epoch reads every batch.
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3)).astype("float32"), rng.random((10, 1)).astype("float32")
    ds = keras.utils.Dataset.from_tensor_slices((x, y)).batch(4).map(lambda a, b: (a, b))
    assert ds.cardinality() == 3

    class Count(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps, self.batches = self.params["steps"], []

        def on_epoch_begin(self, epoch, logs=None):
            self.batches.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.batches[-1] += 1

    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    count = Count()
    model.fit(ds, epochs=2, verbose=0, callbacks=[count])
    assert count.steps == 3 and count.batches == [3, 3]
    endless = keras.utils.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    count = Count()
    model.fit(endless, epochs=2, steps_per_epoch=2, verbose=0, callbacks=[count])
    assert count.steps == 2 and count.batches == [2, 2]

    class Loader:  # a torch DataLoader's protocol: len() and a fresh iterator per pass
        def __len__(self):
            return 3

        def __iter__(self):
            return iter([(x[i : i + 4], y[i : i + 4]) for i in range(0, 10, 4)])

    count = Count()
    model.fit(Loader(), epochs=2, verbose=0, callbacks=[count])
    assert count.steps == 3 and count.batches == [3, 3]


def test_metrics_ignore_sample_weights_and_weighted_metrics_use_them_as_keras():
    # structured_data/imbalanced_classification: class_weight must not weight TP/FP counts.
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.random((20, 3)).astype("float32")
    y = rng.integers(0, 2, (20, 1)).astype("float32")
    sw = rng.random(20).astype("float32")
    logs = []
    for module in (keras, keras_ref):
        model = module.Sequential([module.Input((3,)), module.layers.Dense(1, "sigmoid")])
        model.compile(
            loss="binary_crossentropy",
            metrics=["accuracy", module.metrics.TruePositives(name="tp")],
            weighted_metrics=["accuracy"],
        )
        model.set_weights([np.ones((3, 1), "float32"), np.array([-1.5], "float32")])
        logs.append(model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True))
    ours, theirs = logs
    assert sorted(ours) == sorted(theirs) == ["accuracy", "loss", "tp", "weighted_accuracy"]
    for name in theirs:
        assert ours[name] == pytest.approx(float(theirs[name]), rel=1e-5), name
    assert ours["tp"] == float(np.sum((x.sum(1) - 1.5 > 0) & (y[:, 0] == 1)))


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.layers.Dense(3, activation="softmax"),
        lambda m: m.layers.Dense(3, activation="relu"),
        lambda m: m.layers.EinsumDense("ab,bc->ac", output_shape=3, activation="sigmoid"),
        lambda m: m.layers.Conv1D(3, 2, activation="relu"),
        lambda m: m.layers.Conv2D(3, 2, activation="relu"),
        lambda m: m.layers.Conv2D(4, 2, groups=2, activation="relu"),
        lambda m: m.layers.SeparableConv2D(3, 2, activation="tanh"),
        lambda m: m.layers.Conv2DTranspose(3, 2, activation="relu"),
        lambda m: m.layers.Conv3D(3, 2, activation="relu"),
    ],
)
def test_activation_set_to_none_after_construction_is_skipped_as_keras(make):
    # vision/grad_cam: "model.layers[-1].activation = None" drops the classifier's softmax.
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    ours, ref = make(keras), make(keras_ref)
    rank = {"Dense": 2, "EinsumDense": 2, "Conv1D": 3, "Conv3D": 5}.get(type(ours).__name__, 4)
    x = rng.standard_normal((2, 4, 4, 4, 4)[:rank]).astype("float32")
    ours.build(x.shape)
    ref.build(x.shape)
    weights = [rng.standard_normal(w.shape).astype("float32") for w in ref.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    ours.activation = None
    ref.activation = None
    expected = keras_ref.ops.convert_to_numpy(ref(x))
    assert (expected < 0).any()  # no relu, softmax or sigmoid left
    np.testing.assert_allclose(np.asarray(ours(x)), expected, rtol=1e-4, atol=1e-5)


def _two_output_model(module):
    inputs = module.Input((3,))
    score = module.layers.Dense(1, name="score")(inputs)
    label = module.layers.Dense(2, activation="softmax", name="label")(inputs)
    return module.Model(inputs, [score, label])


def test_metrics_as_a_list_per_output_match_keras():
    # guides/training_with_built_in_methods: metrics=[[MAPE(), MAE()], [CategoricalAccuracy()]].
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.random((16, 3)).astype("float32")
    y = [rng.random((16, 1)).astype("float32"), np.eye(2, dtype="float32")[rng.integers(0, 2, 16)]]
    logs = []
    for module in (keras, keras_ref):
        model = _two_output_model(module)
        model.compile(
            loss=["mse", "categorical_crossentropy"],
            metrics=[[module.metrics.MeanAbsoluteError(), "mse"], None],
        )
        model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
        logs.append(model.evaluate(x, y, verbose=0, return_dict=True))
    ours, theirs = logs
    assert {"score_mean_absolute_error", "score_mse"} <= set(ours) & set(theirs)
    assert not any(name.startswith("label_") and name != "label_loss" for name in ours)
    for name in set(ours) & set(theirs):
        assert ours[name] == pytest.approx(float(theirs[name]), rel=1e-5), name


def test_metrics_as_a_list_per_output_need_one_entry_per_output():
    model = _two_output_model(keras)
    with pytest.raises(ValueError, match="The model has 2 outputs, `metrics` gives 1 entries"):
        model.compile(loss="mse", metrics=[["mae"]])


def test_each_output_loss_is_logged_unweighted_as_keras():
    # guides/training_with_built_in_methods: a two-output model's logs name each output's loss.
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    x = rng.random((10, 3)).astype("float32")
    y = [rng.random((10, 1)).astype("float32"), np.eye(2, dtype="float32")[rng.integers(0, 2, 10)]]
    sample_weight = rng.random(10).astype("float32")
    logs = []
    for module in (keras, keras_ref):
        model = _two_output_model(module)
        model.compile(loss=["mse", "categorical_crossentropy"], loss_weights=[2.0, 0.5])
        model.set_weights([np.full(w.shape, 0.2, "float32") for w in model.get_weights()])
        logs.append(
            model.evaluate(
                x, y, sample_weight=sample_weight, batch_size=4, verbose=0, return_dict=True
            )
        )
    ours, theirs = logs
    assert sorted(ours) == sorted(theirs) == ["label_loss", "loss", "score_loss"]
    for name in theirs:
        assert ours[name] == pytest.approx(float(theirs[name]), rel=1e-5), name
    assert ours["loss"] == pytest.approx(
        2.0 * ours["score_loss"] + 0.5 * ours["label_loss"], rel=1e-5
    )
    model = _two_output_model(keras)
    model.compile(loss=[None, "categorical_crossentropy"])  # one loss: no per-output entries
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == ["loss"]


def test_targets_only_for_the_outputs_with_a_loss_as_keras():
    # guides/training_with_built_in_methods: loss=[None, CategoricalCrossentropy()].
    keras_ref = pytest.importorskip("keras")
    rng = np.random.default_rng(2)
    x = rng.random((10, 3)).astype("float32")
    labels = np.eye(2, dtype="float32")[rng.integers(0, 2, 10)]
    logs = []
    for module in (keras, keras_ref):
        model = _two_output_model(module)
        model.compile(loss=[None, "categorical_crossentropy"])
        model.set_weights([np.full(w.shape, 0.3, "float32") for w in model.get_weights()])
        logs.append(model.evaluate(x, labels, verbose=0, return_dict=True))
    ours, theirs = logs
    assert sorted(ours) == sorted(theirs) == ["loss"]
    for name in theirs:
        assert ours[name] == pytest.approx(float(theirs[name]), rel=1e-5), name
    with pytest.raises(ValueError, match="2 output"):
        model = _two_output_model(keras)
        model.compile(loss=["mse", "categorical_crossentropy"])
        model.evaluate(x, labels, verbose=0)
