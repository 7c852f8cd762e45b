"""scikit-learn estimators around cnnkit models (``keras.wrappers``): ``SKLearnClassifier``,
``SKLearnRegressor`` and ``SKLearnTransformer``. Needs scikit-learn (imported with this module).
"""

from cnnkit.wrappers.sklearn_wrapper import (
    SKLearnClassifier,
    SKLearnRegressor,
    SKLearnTransformer,
)

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]
