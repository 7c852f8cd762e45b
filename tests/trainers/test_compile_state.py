"""What ``compile`` leaves on a model, as Keras 3: ``metrics_names`` (the compiled metrics
as one ``"compile_metrics"`` entry) and a second ``compile`` (without ``loss`` it keeps the
compiled loss, without ``metrics`` the compiled metrics; an optimizer given by name is new)."""

import warnings

import numpy as np
import pytest

import cnnkit

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")


def _single(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(1, kernel_initializer="ones")])


def _two_outputs(lib):
    inputs = lib.Input((4,))
    a = lib.layers.Dense(1, name="a", kernel_initializer="ones")(inputs)
    b = lib.layers.Dense(2, name="b", kernel_initializer="ones")(inputs)
    return lib.Model(inputs, [a, b])


def _names_through_training(lib, build, compile_kwargs, y):
    model = build(lib)
    names = [model.metrics_names]
    model.compile("sgd", **compile_kwargs)
    names.append(model.metrics_names)
    history = model.fit(X, y, epochs=1, verbose=0)
    names.append(model.metrics_names)
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    names.append(model.metrics_names)
    return names, sorted(history.history), sorted(logs)


CASES = {
    "no_metrics": (_single, {"loss": "mse"}),
    "accuracy": (_single, {"loss": "binary_crossentropy", "metrics": ["accuracy"]}),
    "empty_metrics": (_single, {"loss": "mse", "metrics": []}),
    "weighted_only": (_single, {"loss": "mse", "weighted_metrics": ["mae"]}),
    "two_outputs": (_two_outputs, {"loss": ["mse", "mse"], "metrics": [["mae"], ["mae"]]}),
}


def _targets(build):
    return [Y, X[:, :2]] if build is _two_outputs else Y


def test_metrics_names_list_the_compiled_metrics_as_one_entry():
    build, kwargs = CASES["two_outputs"]
    names, history, logs = _names_through_training(cnnkit, build, kwargs, _targets(build))
    assert names == [
        [],
        ["loss", "compile_metrics"],
        ["loss", "compile_metrics", "a_loss", "b_loss"],
        ["loss", "compile_metrics", "a_loss", "b_loss"],
    ]
    assert history == logs == ["a_loss", "a_mae", "b_loss", "b_mae", "loss"]
    build, kwargs = CASES["no_metrics"]
    assert _names_through_training(cnnkit, build, kwargs, Y)[0][1:] == [["loss"]] * 3


@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_names_history_and_logs_as_keras(case):
    keras = pytest.importorskip("keras")
    build, kwargs = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _names_through_training(keras, build, kwargs, _targets(build))
    assert _names_through_training(cnnkit, build, kwargs, _targets(build)) == expected


def _compile_again(lib):
    """Each step's metric names, history keys, optimizer iterations and config entries."""
    model = _single(lib)
    seen = []

    def step(label):
        history = model.fit(X, Y, epochs=1, verbose=0)
        config = model.get_compile_config()
        seen.append(
            (
                label,
                model.metrics_names,
                sorted(history.history),
                int(np.asarray(model.optimizer.iterations)),
                config["loss"],
                config["metrics"],
            )
        )

    model.compile("sgd", "mse", metrics=["mae"])
    step("first")
    optimizer = model.optimizer
    model.compile("sgd", "mse")
    step("without metrics: the compiled metrics stay, a new optimizer")
    assert model.optimizer is not optimizer
    model.compile(optimizer, "mse", metrics=["mse"])
    step("the first optimizer again, with its state; new metrics")
    model.compile("sgd", metrics=["mae"])
    step("without loss: the compiled loss stays")
    model.compile("sgd", "mse", metrics=[])
    step("an empty list replaces the metrics")
    return seen


def test_compiling_again_keeps_the_loss_and_metrics_not_given():
    seen = _compile_again(cnnkit)
    assert [s[2] for s in seen] == [
        ["loss", "mae"],
        ["loss", "mae"],
        ["loss", "mse"],
        ["loss", "mae"],
        ["loss"],
    ]
    assert [s[3] for s in seen] == [1, 1, 2, 1, 1]
    assert [s[4] for s in seen] == ["mse", "mse", "mse", None, "mse"]
    assert [s[5] for s in seen] == [["mae"], None, ["mse"], ["mae"], []]


def test_compiling_again_as_keras():
    keras = pytest.importorskip("keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _compile_again(keras)
    assert _compile_again(cnnkit) == expected
