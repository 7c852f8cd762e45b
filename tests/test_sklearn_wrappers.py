"""cnnkit.wrappers: scikit-learn's estimator checks, as Keras runs them, and plain use."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from cnnkit import layers, models  # noqa: E402
from cnnkit.wrappers import SKLearnClassifier, SKLearnRegressor, SKLearnTransformer  # noqa: E402


def dynamic_model(X, y, loss, out_activation_function="softmax", layers_sizes=(10,)):
    inputs = layers.Input((X.shape[1],))
    hidden = inputs
    for size in layers_sizes:
        hidden = layers.Dense(size, activation="relu")(hidden)
    outputs = layers.Dense(y.shape[1] if y.ndim > 1 else 1, activation=out_activation_function)
    model = models.Model(inputs, outputs(hidden))
    model.compile(loss=loss, optimizer="rmsprop")
    return model


# Keras's own list of expected failures (keras/src/wrappers/sklearn_test.py)
EXPECTED_FAILED_CHECKS = {
    "SKLearnClassifier": {
        "check_classifiers_regression_target": "not an issue in sklearn>=1.6",
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
        "check_classifiers_one_label_sample_weights": "0 sample weight is not ignored",
        "check_classifiers_classes": "small test cases: not all classes returned sometimes",
        "check_classifier_data_not_an_array": "assumes reproducibility in fit",
        "check_supervised_y_2d": "assumes reproducibility in fit",
        "check_fit_idempotent": "assumes reproducibility in fit",
        "check_classifiers_train": "decision_function returns probabilities",
    },
    "SKLearnRegressor": {
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
    },
    "SKLearnTransformer": {
        "check_parameters_default_constructible": "not an issue in sklearn>=1.6",
    },
}


@parametrize_with_checks(
    [
        SKLearnClassifier(
            model=dynamic_model,
            model_kwargs={"loss": "categorical_crossentropy", "layers_sizes": (20, 20, 20)},
            fit_kwargs={"epochs": 5},
        ),
        SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"}),
        SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "mse"}),
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[type(estimator).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_classifier_in_a_pipeline_learns_and_maps_labels_back():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * 10 + 3
    y = np.where(X[:, 0] - 3 > 0, "yes", "no")
    clf = make_pipeline(
        StandardScaler(),
        SKLearnClassifier(
            dynamic_model,
            model_kwargs={"loss": "categorical_crossentropy"},
            fit_kwargs={"epochs": 30, "batch_size": 32},
        ),
    )
    clf.fit(X, y)
    assert set(clf.predict(X)) <= {"yes", "no"}
    assert clf.score(X, y) > 0.9


def test_a_model_instance_is_cloned_with_its_compile_settings():
    inputs = layers.Input((3,))
    model = models.Model(inputs, layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    reg = SKLearnRegressor(model, fit_kwargs={"epochs": 60, "batch_size": 16}).fit(X, y)
    assert reg.model_ is not model
    assert reg.predict(X).shape == (64,)
    assert reg.score(X, y) > 0.95


def test_uncompiled_model_and_bad_targets_raise():
    def uncompiled(X, y):
        inputs = layers.Input((X.shape[1],))
        return models.Model(inputs, layers.Dense(1)(inputs))

    X = np.zeros((4, 2))
    with pytest.raises(RuntimeError, match="compiled"):
        SKLearnRegressor(uncompiled).fit(X, np.zeros(4))
    with pytest.raises(ValueError, match="binary and multiclass"):
        SKLearnClassifier(dynamic_model, model_kwargs={"loss": "mse"}).fit(X, np.linspace(0, 1, 4))
