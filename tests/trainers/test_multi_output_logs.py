"""The logs of a model with several outputs, as Keras 3 writes them.

Keras adds each output's loss, unweighted, as ``<output>_loss`` when there are several
losses; names per-output metrics ``<output>_<metric>`` (``<output>_weighted_<metric>`` for a
weighted metric whose name is taken, ``_1`` after a repeated one); sorts the logs by name;
and lists ``evaluate``'s values as the loss, the per-output losses, then the other logs by
name. Each case runs on cnnkit against NumPy, and on Keras (when importable) with the same
weights.
"""

import re

import numpy as np
import pytest

import cnnkit

RNG = np.random.default_rng(0)
X = RNG.random((20, 4), dtype=np.float32)
Y_A = RNG.integers(0, 3, 20)
Y_B = RNG.random((20, 1), dtype=np.float32)
SW = RNG.random(20).astype(np.float32)


def _model(k):
    inputs = k.Input((4,), name="x")
    hidden = k.layers.Dense(8, activation="relu", name="h")(inputs)
    a = k.layers.Dense(3, activation="softmax", name="a")(hidden)
    b = k.layers.Dense(1, name="b")(hidden)
    return k.Model(inputs, [a, b])


def _weights():
    rng = np.random.default_rng(1)
    shapes = [(4, 8), (8,), (8, 3), (3,), (8, 1), (1,)]
    return [rng.normal(0, 0.5, s).astype(np.float32) for s in shapes]


def _predictions(weights):
    w1, b1, wa, ba, wb, bb = weights
    h = np.maximum(X @ w1 + b1, 0)
    logits = h @ wa + ba
    a = np.exp(logits - logits.max(1, keepdims=True))
    return a / a.sum(1, keepdims=True), h @ wb + bb


def _evaluate(k, compile_kwargs, sample_weight=None):
    model = _model(k)
    model.set_weights(_weights())
    model.compile("sgd", **compile_kwargs)
    one_hot = compile_kwargs["loss"] == "mse"  # one loss for both outputs: one-hot `a`
    y = [np.eye(3, dtype=np.float32)[Y_A] if one_hot else Y_A, Y_B]
    logs = model.evaluate(X, y, sample_weight=sample_weight, verbose=0, return_dict=True)
    values = model.evaluate(X, y, sample_weight=sample_weight, verbose=0)
    return logs, values


SCE = "sparse_categorical_crossentropy"
CASES = {
    "list_loss_and_metrics": dict(loss=[SCE, "mse"], metrics=[["accuracy"], ["mae"]]),
    "dict_loss_and_metrics": dict(
        loss={"a": SCE, "b": "mse"}, metrics={"a": "accuracy", "b": "mae"}
    ),
    "loss_weights": dict(loss={"a": SCE, "b": "mse"}, loss_weights={"a": 0.5, "b": 2.0}),
    "loss_weights_list": dict(
        loss=[SCE, "mse"], loss_weights=[0.5, 2.0], metrics=["accuracy", None]
    ),
    "one_loss_for_both": dict(loss="mse"),
    "one_output_without_loss": dict(loss=[SCE, None], metrics={"b": "mae"}),
    "weighted_metrics_dict": dict(
        loss=[SCE, "mse"], metrics={"a": "accuracy"}, weighted_metrics={"a": "accuracy"}
    ),
    "repeated_metric": dict(loss=[SCE, "mse"], metrics=[["accuracy", "accuracy"], "mae"]),
}


def test_per_output_losses_and_metrics_against_numpy():
    logs, values = _evaluate(
        cnnkit,
        dict(
            loss={"a": SCE, "b": "mse"},
            loss_weights={"a": 0.5, "b": 2.0},
            metrics=[["accuracy"], ["mae"]],
        ),
    )
    a, b = _predictions(_weights())
    a_loss = -np.mean(np.log(a[np.arange(20), Y_A]))
    b_loss = np.mean((b - Y_B) ** 2)
    expected = {
        "a_accuracy": np.mean(a.argmax(1) == Y_A),
        "a_loss": a_loss,  # unweighted, as Keras
        "b_loss": b_loss,
        "b_mae": np.mean(np.abs(b - Y_B)),
        "loss": 0.5 * a_loss + 2.0 * b_loss,
    }
    assert list(logs) == list(expected)
    assert logs == pytest.approx(expected, rel=1e-5)
    order = ["loss", "a_loss", "b_loss", "a_accuracy", "b_mae"]
    assert values == pytest.approx([expected[k] for k in order], rel=1e-5)


@pytest.mark.parametrize(
    "name, keys, order",
    [
        ("one_loss_for_both", ["a_loss", "b_loss", "loss"], ["loss", "a_loss", "b_loss"]),
        ("one_output_without_loss", ["b_mae", "loss"], ["loss", "b_mae"]),
        (
            "weighted_metrics_dict",
            ["a_accuracy", "a_loss", "a_weighted_accuracy", "b_loss", "loss"],
            ["loss", "a_loss", "b_loss", "a_accuracy", "a_weighted_accuracy"],
        ),
        (
            "repeated_metric",
            ["a_accuracy", "a_accuracy_1", "a_loss", "b_loss", "b_mae", "loss"],
            ["loss", "a_loss", "b_loss", "a_accuracy", "a_accuracy_1", "b_mae"],
        ),
    ],
)
def test_log_names_and_evaluate_order(name, keys, order):
    logs, values = _evaluate(cnnkit, CASES[name], sample_weight=SW)
    assert list(logs) == keys
    assert values == [logs[k] for k in order]


@pytest.mark.parametrize("name", list(CASES))
def test_logs_as_keras(name):
    keras = pytest.importorskip("keras")
    ours, our_values = _evaluate(cnnkit, CASES[name], sample_weight=SW)
    theirs, their_values = _evaluate(keras, CASES[name], sample_weight=SW)
    assert list(ours) == list(theirs)
    assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6)
    assert our_values == pytest.approx(their_values, rel=1e-4, abs=1e-6)


def _history_keys(k):
    model = _model(k)
    model.compile("sgd", loss={"a": SCE, "b": "mse"}, metrics={"a": ["accuracy"]})
    history = model.fit(X, {"a": Y_A, "b": Y_B}, epochs=1, validation_split=0.25, verbose=0)
    return list(history.history)


def test_fit_history_has_val_per_output_losses():
    assert _history_keys(cnnkit) == [
        "a_accuracy", "a_loss", "b_loss", "loss",
        "val_a_accuracy", "val_a_loss", "val_b_loss", "val_loss",
    ]  # fmt: skip


def test_fit_history_keys_as_keras():
    keras = pytest.importorskip("keras")
    assert _history_keys(cnnkit) == _history_keys(keras)


def test_a_single_output_lists_metrics_in_compile_order():
    inputs = cnnkit.Input((4,))
    model = cnnkit.Model(inputs, cnnkit.layers.Dense(3, activation="softmax")(inputs))
    model.compile("sgd", "categorical_crossentropy", metrics=["mse", "accuracy"])
    y = np.eye(3, dtype=np.float32)[Y_A]
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    assert list(logs) == ["accuracy", "loss", "mse"]
    assert model.evaluate(X, y, verbose=0) == [logs["loss"], logs["mse"], logs["accuracy"]]


BAD = {
    "weighted_metrics_list": (
        dict(loss="mse", weighted_metrics=["mae"]),
        r"Invalid `weighted_metrics`. `weighted_metrics` should contain metrics objects and "
        r"either be a dict or a list matching the output names of the functional model "
        r"\['a', 'b'\]",
    ),
    "metrics_list": (dict(loss="mse", metrics=["mae"]), r"Invalid `metrics`.*\['a', 'b'\]"),
    "metrics_unknown_output": (dict(loss="mse", metrics={"c": "mae"}), r"Invalid `metrics`"),
    "metrics_string": (
        dict(loss="mse", metrics="mae"),
        r"Expected `metrics` argument to be a list, tuple, or dict",
    ),
    "loss_dict_missing_output": (
        dict(loss={"a": "mse"}),
        r"Expected keys \['a', 'b'\] in loss dict, but found loss.keys\(\)=\['a'\]",
    ),
}


def _refusal(k, kwargs):
    """The error of compiling and evaluating (Keras checks some of it on the first batch)."""
    model = _model(k)
    try:
        model.compile("sgd", **kwargs)
        model.evaluate(X, [np.eye(3)[Y_A], Y_B], verbose=0)
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return error
    return None


@pytest.mark.parametrize("name", list(BAD))
def test_bad_metrics_and_losses_are_refused(name):
    kwargs, match = BAD[name]
    error = _refusal(cnnkit, kwargs)
    assert isinstance(error, ValueError)
    assert re.search(match, str(error)), str(error)


@pytest.mark.parametrize("name", list(BAD))
def test_bad_metrics_and_losses_are_refused_as_keras(name):
    keras = pytest.importorskip("keras")
    kwargs, match = BAD[name]
    error = _refusal(keras, kwargs)
    assert isinstance(error, ValueError)
    assert re.search(match, str(error)), str(error)


class _OneProcessOfTwo:
    """A stand-in data-parallel distribution whose collectives return this process's values
    (as if the other process had no rows): the steps' data-parallel paths on one process."""

    process_index, num_processes = 0, 2

    def shard(self, x, y, sample_weight):
        return x, y, sample_weight, len(x)

    def reduce_gradients(self, grads, variables, loss):
        return grads, loss

    def gather(self, value):
        return value

    def sum_scalar(self, value):
        return value

    def sum_in_place(self, array):
        return array


def test_per_output_losses_under_data_parallelism_sum_the_processes_shares(monkeypatch):
    from cnnkit import distribution

    kwargs = CASES["loss_weights"]
    expected, _ = _evaluate(cnnkit, kwargs, sample_weight=SW)
    plain = _model(cnnkit)
    plain.set_weights(_weights())
    plain.compile("sgd", **kwargs)
    trained = plain.train_on_batch(X, [Y_A, Y_B], return_dict=True)

    monkeypatch.setattr(distribution, "active_data_parallel", _OneProcessOfTwo)
    monkeypatch.setattr(distribution, "is_chief", lambda: True)
    logs, _ = _evaluate(cnnkit, kwargs, sample_weight=SW)
    assert logs == pytest.approx(expected, rel=1e-6)
    model = _model(cnnkit)
    model.set_weights(_weights())
    model.compile("sgd", **kwargs)
    assert model.train_on_batch(X, [Y_A, Y_B], return_dict=True) == pytest.approx(trained)
    assert list(trained) == ["a_loss", "b_loss", "loss"]


SW_B = RNG.random(20).astype(np.float32)
PER_OUTPUT = dict(loss=[SCE, "mse"], weighted_metrics={"a": "accuracy", "b": "mae"})


def test_one_sample_weight_per_output():
    logs, _ = _evaluate(cnnkit, PER_OUTPUT, sample_weight=[SW, SW_B])
    a, b = _predictions(_weights())
    a_terms = -np.log(a[np.arange(20), Y_A])
    b_terms = np.mean((b - Y_B) ** 2, axis=1)
    expected = {
        "a_accuracy": np.sum((a.argmax(1) == Y_A) * SW) / np.sum(SW),
        "a_loss": np.mean(a_terms * SW),  # Keras's sum_over_batch_size
        "b_loss": np.mean(b_terms * SW_B),
        "b_mae": np.sum(np.abs(b - Y_B)[:, 0] * SW_B) / np.sum(SW_B),
    }
    expected["loss"] = expected["a_loss"] + expected["b_loss"]
    assert logs == pytest.approx(expected, rel=1e-5)
    by_name, _ = _evaluate(cnnkit, PER_OUTPUT, sample_weight={"b": SW_B, "a": SW})
    assert by_name == logs


def _fit_with_weights_per_output(k):
    model = _model(k)
    model.set_weights(_weights())
    model.compile("sgd", **PER_OUTPUT)
    history = model.fit(
        X,
        [Y_A, Y_B],
        sample_weight=[SW, SW_B],
        batch_size=5,
        epochs=2,
        shuffle=False,
        validation_split=0.25,
        verbose=0,
    )
    return history.history


def test_fit_with_a_sample_weight_per_output_as_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _fit_with_weights_per_output(cnnkit), _fit_with_weights_per_output(keras)
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), key


def _class_weight_refusal(k):
    model = _model(k)
    model.compile("sgd", loss=[SCE, "mse"])
    with pytest.raises(ValueError) as error:
        model.fit(X, [Y_A, Y_B], class_weight={0: 1.0, 1: 2.0, 2: 3.0}, verbose=0)
    return str(error.value)


def test_class_weight_is_refused_with_several_outputs():
    message = _class_weight_refusal(cnnkit)
    assert message == "`class_weight` is only supported for Models with a single output."


def test_class_weight_is_refused_with_several_outputs_as_keras():
    keras = pytest.importorskip("keras")
    assert _class_weight_refusal(cnnkit) == _class_weight_refusal(keras)


def _on_batch_results(k):
    inputs = k.Input((4,))
    model = k.Model(inputs, k.layers.Dense(1)(inputs))
    model.set_weights([w[:, :1] if w.ndim == 2 else w[:1] for w in _weights()[:2]])
    model.compile("sgd", "mse")
    single = (model.train_on_batch(X, Y_B), model.test_on_batch(X, Y_B))
    model.compile("sgd", "mse", metrics=["mae"])
    return single, (model.train_on_batch(X, Y_B), model.test_on_batch(X, Y_B))


def test_on_batch_returns_the_loss_alone_without_metrics():
    (trained, tested), (with_metrics, tested_with_metrics) = _on_batch_results(cnnkit)
    assert isinstance(trained, float) and isinstance(tested, float)
    assert isinstance(with_metrics, list) and len(with_metrics) == len(tested_with_metrics) == 2


def test_on_batch_results_as_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = _on_batch_results(cnnkit), _on_batch_results(keras)
    assert [type(v) for pair in ours for v in pair] == [type(v) for pair in theirs for v in pair]

    def flat(results):
        return [float(v) for pair in results for item in pair for v in np.atleast_1d(item)]

    assert flat(ours) == pytest.approx(flat(theirs), rel=1e-4)


def test_a_metric_object_keeps_its_name_when_compiled_again():
    model = _model(cnnkit)
    metric = cnnkit.metrics.MeanAbsoluteError(name="m1")
    for _ in range(2):
        model.compile("sgd", "mse", metrics=[[metric], None])
        logs = model.evaluate(X, [np.eye(3)[Y_A], Y_B], verbose=0, return_dict=True)
        assert list(logs) == ["a_loss", "a_m1", "b_loss", "loss"]


def _fit_dict_outputs(k, sample_weight):
    """A model with a dict of outputs, trained on dicts of targets and sample weights."""
    inputs = k.Input((4,), name="x")
    hidden = k.layers.Dense(8, activation="relu", name="h")(inputs)
    outputs = {
        "b": k.layers.Dense(1, name="b")(hidden),
        "a": k.layers.Dense(3, activation="softmax", name="a")(hidden),
    }
    model = k.Model(inputs, outputs)
    model.set_weights(_weights())
    model.compile("sgd", loss={"b": "mse", "a": SCE}, metrics={"a": ["accuracy"]})
    history = model.fit(
        X,
        {"b": Y_B, "a": Y_A},
        sample_weight=sample_weight,
        batch_size=5,
        shuffle=False,
        validation_split=0.25,
        verbose=0,
    )
    return history.history


def test_dict_outputs_take_dicts_of_targets_and_sample_weights():
    by_name = _fit_dict_outputs(cnnkit, {"b": SW_B, "a": SW})
    by_position = _fit_dict_outputs(cnnkit, [SW, SW_B])  # the outputs' sorted order: a, b
    assert list(by_name) == [
        "a_accuracy", "a_loss", "b_loss", "loss",
        "val_a_accuracy", "val_a_loss", "val_b_loss", "val_loss",
    ]  # fmt: skip
    assert by_name == by_position


def test_dict_outputs_take_dicts_of_targets_and_sample_weights_as_keras():
    keras = pytest.importorskip("keras")
    ours = _fit_dict_outputs(cnnkit, {"b": SW_B, "a": SW})
    theirs = _fit_dict_outputs(keras, {"b": SW_B, "a": SW})
    assert list(ours) == list(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), key


def _saved_and_loaded(tmp_path):
    model = _model(cnnkit)
    model.set_weights(_weights())
    model.compile(
        "sgd",
        loss=[SCE, "mse"],
        metrics=[["accuracy"], None],
        weighted_metrics={"b": [cnnkit.metrics.MeanAbsoluteError()]},
    )
    logs = _evaluate_model(model)
    model.save(tmp_path / "two.keras")
    return model, logs


def _evaluate_model(model):
    return model.evaluate(X, [Y_A, Y_B], sample_weight=SW, verbose=0, return_dict=True)


def test_metric_objects_are_saved_under_their_own_names(tmp_path):
    model, logs = _saved_and_loaded(tmp_path)
    config = model.get_compile_config()
    assert config["weighted_metrics"]["b"][0]["config"]["name"] == "mean_absolute_error"
    assert "b_mean_absolute_error" in logs  # the log name is unchanged by saving
    assert _evaluate_model(model) == logs
    loaded = cnnkit.models.load_model(tmp_path / "two.keras")
    assert _evaluate_model(loaded) == pytest.approx(logs)


def test_metric_objects_saved_by_cnnkit_log_under_the_same_names_in_keras(tmp_path):
    keras = pytest.importorskip("keras")
    _, logs = _saved_and_loaded(tmp_path)
    loaded = keras.models.load_model(tmp_path / "two.keras")
    assert _evaluate_model(loaded) == pytest.approx(logs, rel=1e-4)
