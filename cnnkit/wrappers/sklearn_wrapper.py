"""scikit-learn wrappers of cnnkit models, with Keras 3's behaviour.

``model`` is a compiled cnnkit ``Model`` (cloned, fresh weights, at each ``fit``) or a
callable ``model(X=X, y=y, **model_kwargs)`` returning a compiled model. ``fit`` validates
the data with scikit-learn, reshapes 1-D targets to a column (the classifier one-hot
encodes its labels), trains with ``fit_kwargs`` (plus ``fit``'s keyword arguments) and
keeps ``model_`` and ``history_``. ``predict`` maps the outputs back (the classifier to its
``classes_``).

Deliberate deviations from Keras 3: a ``Model`` given as ``model`` is cloned *and compiled*
like the original (Keras's clone is uncompiled, so that ``fit`` raises); ``fit`` and
``predict`` run with ``verbose=0`` unless ``fit_kwargs`` says otherwise.

Example:
    >>> import numpy as np
    >>> from cnnkit import layers, models
    >>> def build(X, y):
    ...     model = models.Sequential([layers.Input((X.shape[1],)),
    ...                                layers.Dense(y.shape[1], activation="softmax")])
    ...     model.compile("adam", "categorical_crossentropy")
    ...     return model
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> clf = SKLearnClassifier(build, fit_kwargs={"epochs": 1, "verbose": 0})
    >>> clf.fit(X, np.array(["a", "b"] * 10)).predict(X[:2]).shape
    (2,)
"""

from __future__ import annotations

import copy

import numpy as np

try:
    import sklearn
    import sklearn.pipeline
    import sklearn.preprocessing
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError:  # pragma: no cover - scikit-learn is a dev dependency
    sklearn = None

    class BaseEstimator:
        pass

    class ClassifierMixin:
        pass

    class RegressorMixin:
        pass

    class TransformerMixin:
        pass


def _require_sklearn(name: str) -> None:
    if sklearn is None:
        raise ImportError(
            f"{name} requires `scikit-learn` to be installed. Run `pip install scikit-learn`."
        )


def _validate_data(estimator, *args, **kwargs):
    from sklearn.utils.validation import validate_data

    return validate_data(estimator, *args, **kwargs)


def _type_of_target(y) -> str:
    from sklearn.utils.multiclass import type_of_target

    kind = type_of_target(y)
    if kind == "unknown":
        raise ValueError(f"Unknown label type for data: {y!r}")
    return kind


def _check_model(model) -> None:
    if not getattr(model, "compiled", False) or not model.loss or not model.optimizer:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an optimizer.")


class TargetReshaper(TransformerMixin, BaseEstimator):
    """1-D targets as a column for the model, and back."""

    def fit(self, y):
        self.ndim_ = y.ndim
        return self

    def transform(self, y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if self.ndim_ == 1 and y.ndim == 2:
            return np.squeeze(y, axis=1)
        return y


class SKLBase(BaseEstimator):
    """What the three wrappers share.

    Args:
        model: a compiled ``Model`` (cloned at each fit) or a callable returning one.
        warm_start: accepted for Keras's signature (each fit builds a new model, as Keras).
        model_kwargs: keyword arguments of the ``model`` callable.
        fit_kwargs: keyword arguments of ``model.fit``.
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        _require_sklearn(type(self).__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    def __sklearn_clone__(self):
        model = self.model if callable(self.model) else copy.deepcopy(self.model)
        return type(self)(
            model=model,
            warm_start=self.warm_start,
            model_kwargs=self.model_kwargs,
            fit_kwargs=self.fit_kwargs,
        )

    @property
    def epoch_(self) -> int:
        return getattr(self, "history_", {}).get("epoch", 0)

    def _get_model(self, X, y):
        from cnnkit.models import Model, clone_model

        if isinstance(self.model, Model):
            model = clone_model(self.model)
            original = self.model
            if getattr(original, "compiled", False):
                model.compile(
                    optimizer=type(original.optimizer).from_config(original.optimizer.get_config()),
                    loss=original.loss,
                    metrics=original._metric_ids,
                    weighted_metrics=original._weighted_metric_ids,
                )
            return model
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Validate ``X``/``y``, build a model and train it; returns ``self``."""
        X, y = _validate_data(self, X, y)
        y = self._process_target(y, reset=True)
        model = self._get_model(X, y)
        _check_model(model)
        fit_kwargs = dict(self.fit_kwargs or {})
        fit_kwargs.update(kwargs)
        fit_kwargs.setdefault("verbose", 0)
        self.history_ = model.fit(X, y, **fit_kwargs).history
        self.model_ = model
        return self

    def predict(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self._reverse_process_target(self.model_.predict(X, verbose=0))

    def _process_target(self, y, reset=False):
        _type_of_target(y)
        if reset:
            self._target_encoder = TargetReshaper().fit(y)
        return self._target_encoder.transform(y)

    def _reverse_process_target(self, y):
        return self._target_encoder.inverse_transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A scikit-learn classifier: labels one-hot encoded for the model, ``predict`` gives
    labels from ``classes_``, ``decision_function`` the model's outputs."""

    def decision_function(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self.model_.predict(X, verbose=0)

    def _process_target(self, y, reset=False):
        kind = _type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Only binary and multiclass target types are supported. Target type: {kind}"
            )
        if reset:
            self._target_encoder = sklearn.pipeline.make_pipeline(
                TargetReshaper(), sklearn.preprocessing.OneHotEncoder(sparse_output=False)
            ).fit(y)
            self.classes_ = np.unique(y)
            if len(self.classes_) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
        return self._target_encoder.transform(y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A scikit-learn regressor around a cnnkit model."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A scikit-learn transformer: ``transform(X)`` is the model's output."""

    def transform(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self.model_.predict(X, verbose=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
