"""The metrics added to complete ``keras.metrics``: results equal Keras 3's after several
``update_state`` calls (with sample weights), scikit-learn/SciPy where they define the same
quantity, ``reset_state``, configs and lookup by name.

The Keras comparisons run only where Keras is importable.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import metrics

N, K = 8, 4


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _batches(make, n_batches=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        y_true, y_pred = make(rng)
        weight = rng.integers(0, 3, len(y_true)).astype("float32")  # integer: see IoU
        out.append((y_true, np.asarray(y_pred, "float32"), weight))
    return out


def _binary(r):
    return r.integers(0, 2, (N, K)).astype("float32"), r.uniform(0, 1, (N, K))


def _onehot(r):
    return np.eye(K)[r.integers(0, K, N)], _softmax(r.standard_normal((N, K)))


def _regression(r):
    return r.standard_normal((N, K)), r.standard_normal((N, K))


def _positive(r):
    return r.uniform(0, 3, (N, K)), r.uniform(0.1, 3, (N, K))


def _scores(r):
    return r.integers(0, 2, N * 4).astype("float32"), r.uniform(0, 1, N * 4)


# name -> (kwargs, batch maker)
CASES = {
    "BinaryCrossentropy": ({"label_smoothing": 0.1}, _binary),
    "CategoricalCrossentropy": ({"from_logits": True}, _onehot),
    "SparseCategoricalCrossentropy": (
        {},
        lambda r: (r.integers(0, K, N), _softmax(r.standard_normal((N, K)))),
    ),
    "KLDivergence": ({}, lambda r: (_softmax(r.standard_normal((N, K))), _onehot(r)[1])),
    "Poisson": ({}, _positive),
    "Hinge": ({}, lambda r: (_binary(r)[0], r.standard_normal((N, K)))),
    "SquaredHinge": ({}, lambda r: (_binary(r)[0], r.standard_normal((N, K)))),
    "CategoricalHinge": ({}, lambda r: (_onehot(r)[0], r.standard_normal((N, K)))),
    "MeanAbsolutePercentageError": ({}, _regression),
    "MeanSquaredLogarithmicError": ({}, _positive),
    "LogCoshError": ({}, _regression),
    "RootMeanSquaredError": ({}, _regression),
    "CosineSimilarity": ({}, _regression),
    "PearsonCorrelation": ({}, _regression),
    "ConcordanceCorrelation": ({}, _regression),
    "R2Score": ({}, lambda r: (r.standard_normal((N, 3)), r.standard_normal((N, 3)))),
    "R2Score_variance_weighted": (
        {"class_aggregation": "variance_weighted_average"},
        lambda r: (r.standard_normal((N, 3)) * [1, 2, 3], r.standard_normal((N, 3))),
    ),
    "R2Score_adjusted": (
        {"num_regressors": 2},
        lambda r: (r.standard_normal((N, 1)), r.standard_normal((N, 1))),
    ),
    "IoU": (
        {"num_classes": 4, "target_class_ids": [0, 2]},
        lambda r: (r.integers(0, 4, N * 2), r.integers(0, 4, N * 2)),
    ),
    "MeanIoU": (
        {"num_classes": 4, "ignore_class": 3},
        lambda r: (r.integers(0, 4, N * 2), r.integers(0, 4, N * 2)),
    ),
    "BinaryIoU": ({"target_class_ids": [1], "threshold": 0.3}, _scores),
    "OneHotIoU": ({"num_classes": K, "target_class_ids": [1, 3]}, _onehot),
    "OneHotMeanIoU": ({"num_classes": K}, _onehot),
    "PrecisionAtRecall": ({"recall": 0.6, "num_thresholds": 50}, _scores),
    "RecallAtPrecision": ({"precision": 0.5}, _scores),
    "SensitivityAtSpecificity": ({"specificity": 0.4, "num_thresholds": 1}, _scores),
    "SpecificityAtSensitivity": ({"sensitivity": 0.7, "class_id": 2}, _binary),
}


def _name(case):
    return case.split("_")[0]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_keras_over_several_batches(case, weighted):
    keras = pytest.importorskip("keras")
    kwargs, make = CASES[case]
    ours = getattr(metrics, _name(case))(**kwargs)
    theirs = getattr(keras.metrics, _name(case))(**kwargs)
    for y_true, y_pred, w in _batches(make):
        sw = w if weighted else None
        ours.update_state(y_true, y_pred, sample_weight=sw)
        if sw is not None and "IoU" in case:  # Keras's IoU matrix is int by default
            sw = sw.astype("int32")
        theirs.update_state(y_true, y_pred, sample_weight=sw)
    expected = keras.ops.convert_to_numpy(theirs.result())
    np.testing.assert_allclose(ours.result(), expected, rtol=1e-5, atol=1e-6)
    ours.reset_state()
    y_true, y_pred, _ = _batches(make, 1, seed=5)[0]
    fresh = getattr(metrics, _name(case))(**kwargs)
    fresh.update_state(y_true, y_pred)
    ours.update_state(y_true, y_pred)
    np.testing.assert_allclose(ours.result(), fresh.result())


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip(case):
    kwargs, make = CASES[case]
    metric = getattr(metrics, _name(case))(**kwargs)
    clone = metrics.deserialize(metrics.serialize(metric))
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()
    for y_true, y_pred, w in _batches(make):
        metric.update_state(y_true, y_pred, sample_weight=w)
        clone.update_state(y_true, y_pred, sample_weight=w)
    np.testing.assert_allclose(clone.result(), metric.result())


def test_config_keys_match_keras():
    keras = pytest.importorskip("keras")
    for case, (kwargs, _) in CASES.items():
        ours = set(getattr(metrics, _name(case))(**kwargs).get_config())
        theirs = set(getattr(keras.metrics, _name(case))(**kwargs).get_config())
        assert theirs - {"fn"} <= ours, case


def test_sum_matches_keras_with_weights():
    keras = pytest.importorskip("keras")
    values = np.arange(12, dtype="float32").reshape(4, 3)
    w = np.array([1.0, 0.0, 2.0, 0.5], "float32")
    ours, theirs = metrics.Sum(), keras.metrics.Sum()
    for sw in (None, w):
        ours.update_state(values, sample_weight=sw)
        theirs.update_state(values, sample_weight=sw)
    np.testing.assert_allclose(ours.result(), keras.ops.convert_to_numpy(theirs.result()))


# -- scikit-learn / SciPy where they define the same quantity -----------------------------


def test_r2_score_equals_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
    w = rng.uniform(0, 2, 30)
    for agg, sk in [("uniform_average", "uniform_average"), (None, "raw_values")]:
        m = metrics.R2Score(class_aggregation=agg)
        for s in (slice(0, 10), slice(10, 30)):
            m.update_state(y[s], p[s], sample_weight=w[s])
        expected = sklearn_metrics.r2_score(y, p, sample_weight=w, multioutput=sk)
        np.testing.assert_allclose(m.result(), expected, rtol=1e-5)
    m = metrics.R2Score(class_aggregation="variance_weighted_average")
    m.update_state(y, p)
    expected = sklearn_metrics.r2_score(y, p, multioutput="variance_weighted")
    np.testing.assert_allclose(m.result(), expected, rtol=1e-5)


def test_mean_iou_equals_sklearn_jaccard():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    m = metrics.MeanIoU(num_classes=5)
    for s in (slice(0, 70), slice(70, 200)):
        m.update_state(y[s], p[s])
    expected = sklearn_metrics.jaccard_score(y, p, average="macro")
    np.testing.assert_allclose(m.result(), expected, rtol=1e-5)


def test_rmse_mape_msle_equal_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y, p = rng.uniform(0.5, 3, (40, 1)), rng.uniform(0.5, 3, (40, 1))
    pairs = [
        (metrics.RootMeanSquaredError(), sklearn_metrics.root_mean_squared_error(y, p)),
        (
            metrics.MeanAbsolutePercentageError(),
            100 * sklearn_metrics.mean_absolute_percentage_error(y, p),
        ),
        (metrics.MeanSquaredLogarithmicError(), sklearn_metrics.mean_squared_log_error(y, p)),
    ]
    for metric, expected in pairs:
        metric.update_state(y[:15], p[:15])
        metric.update_state(y[15:], p[15:])
        np.testing.assert_allclose(metric.result(), expected, rtol=1e-5)


def test_pearson_and_concordance_equal_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    y, p = rng.standard_normal((5, 50)), rng.standard_normal((5, 50))
    p += y
    r = metrics.pearson_correlation(y, p)
    expected = [stats.pearsonr(a, b)[0] for a, b in zip(y, p)]
    np.testing.assert_allclose(r, expected, rtol=1e-5)
    # Lin's CCC: 2 cov / (var + var + (mean difference)^2) (population moments).
    ccc = metrics.concordance_correlation(y, p)
    lin = [
        2 * np.cov(a, b, bias=True)[0, 1] / (a.var() + b.var() + (a.mean() - b.mean()) ** 2)
        for a, b in zip(y, p)
    ]
    np.testing.assert_allclose(ccc, lin, rtol=1e-4)


def test_precision_at_recall_equals_sklearn_pr_curve():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    # Scores halfway between the thresholds k / 100: "above" and "at or above" agree.
    s = (np.floor(np.clip(y * 0.3 + rng.uniform(0, 0.7, 300), 0, 0.99) * 100) + 0.5) / 100
    m = metrics.PrecisionAtRecall(recall=0.8, num_thresholds=101)
    m.update_state(y, s)
    precision, recall, _ = sklearn_metrics.precision_recall_curve(y, s)
    np.testing.assert_allclose(m.result(), precision[recall >= 0.8].max(), rtol=1e-6)


# -- errors and lookup ----------------------------------------------------------------------


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`recall`.*\[0, 1\].*recall=1.5"):
        metrics.PrecisionAtRecall(recall=1.5)
    with pytest.raises(ValueError, match="`num_thresholds`.*> 0"):
        metrics.SensitivityAtSpecificity(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match=r"`target_class_ids`.*\[0, 3\)"):
        metrics.IoU(num_classes=3, target_class_ids=[0, 3])
    with pytest.raises(ValueError, match="`class_aggregation`"):
        metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="`num_regressors`"):
        metrics.R2Score(num_regressors=-1)
    with pytest.raises(ValueError, match="2D inputs"):
        metrics.R2Score().update_state(np.ones(3), np.ones(3))


def test_lookup_by_name():
    for name, cls in [
        ("mape", metrics.MeanAbsolutePercentageError),
        ("msle", metrics.MeanSquaredLogarithmicError),
        ("root_mean_squared_error", metrics.RootMeanSquaredError),
        ("KLDivergence", metrics.KLDivergence),
        ("r2_score", metrics.R2Score),
    ]:
        assert isinstance(metrics.get(name), cls)
    huber = metrics.get("huber")
    huber.update_state(np.zeros((2, 2)), np.full((2, 2), 3.0, "float32"))
    assert huber.name == "huber" and float(huber.result()) == pytest.approx(2.5)


def test_metric_functions_are_the_loss_functions():
    from cnnkit import losses

    for name in ("hinge", "huber", "kl_divergence", "log_cosh", "binary_focal_crossentropy"):
        assert getattr(metrics, name) is getattr(losses, name)


def test_adjusted_r2_falls_back_with_keras_warnings():
    y = np.array([[1.0], [2.0], [4.0]], "float32")
    p = np.array([[1.5], [2.0], [3.0]], "float32")
    plain = metrics.R2Score()
    plain.update_state(y, p)
    for k, message in [(5, "More independent predictors"), (2, "Division by zero")]:
        m = metrics.R2Score(num_regressors=k)
        m.update_state(y, p)
        with pytest.warns(UserWarning, match=message):
            assert m.result() == plain.result()


def test_deserialize_with_custom_objects():
    class Twice(metrics.Sum):
        def update_state(self, values, sample_weight=None):
            super().update_state(2 * np.asarray(values), sample_weight)

    m = metrics.deserialize(
        {"class_name": "Twice", "config": {"name": "t"}}, custom_objects={"Twice": Twice}
    )
    m.update_state([1.0, 2.0])
    assert type(m) is Twice and m.name == "t" and float(m.result()) == 6.0


def test_sensitivity_at_specificity_equals_sklearn_roc_curve():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    # Scores halfway between the thresholds k / 100: "above" and "at or above" agree.
    s = (np.floor(np.clip(y * 0.25 + rng.uniform(0, 0.75, 400), 0, 0.99) * 100) + 0.5) / 100
    fpr, tpr, _ = sklearn_metrics.roc_curve(y, s, drop_intermediate=False)
    for spec in (0.5, 0.8, 0.95):
        m = metrics.SensitivityAtSpecificity(specificity=spec, num_thresholds=101)
        m.update_state(y[:150], s[:150])
        m.update_state(y[150:], s[150:])
        np.testing.assert_allclose(m.result(), tpr[1 - fpr >= spec].max(), rtol=1e-6)
        m = metrics.SpecificityAtSensitivity(sensitivity=spec, num_thresholds=101)
        m.update_state(y, s)
        np.testing.assert_allclose(m.result(), (1 - fpr[tpr >= spec]).max(), rtol=1e-6)
