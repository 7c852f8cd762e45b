"""Evaluation metrics: confusion matrix, classification report, top-k, Precision/Recall/AUC/F1.

References: scikit-learn for the numbers; Keras 3's own test values (hand-computed in
``keras/src/metrics/confusion_metrics_test.py`` and its docstrings) for the bucketed AUC.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import metrics
from cnnkit.metrics.confusion import confusion_counts

sk = pytest.importorskip("sklearn.metrics")

K = 4


def _one_hot(labels, n):
    return np.eye(n, dtype="float32")[labels]


def _scores_for(labels, n, rng, hit_rate=0.6):
    """Class scores whose arg-max is the label about ``hit_rate`` of the time."""
    scores = rng.random((len(labels), n)).astype("float32")
    hits = rng.random(len(labels)) < hit_rate
    scores[hits, labels[hits]] += 1.0
    return scores / scores.sum(axis=1, keepdims=True)


@pytest.fixture
def labels():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, K, 300)
    scores = _scores_for(y_true, K, rng)
    return y_true, scores


# ---------------------------------------------------------------------------
# confusion_matrix
# ---------------------------------------------------------------------------

FORMS = {
    "labels": lambda y, n: y,
    "column": lambda y, n: y[:, None],
    "float_labels": lambda y, n: y.astype("float32"),
    "one_hot": lambda y, n: _one_hot(y, n),
    "list": lambda y, n: y.tolist(),
}


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_confusion_matrix_matches_sklearn(labels, normalize, form):
    y_true, scores = labels
    y_pred = scores.argmax(axis=1)
    expected = sk.confusion_matrix(y_true, y_pred, labels=range(K), normalize=normalize)
    got = metrics.confusion_matrix(FORMS[form](y_true, K), scores, normalize=normalize)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = metrics.confusion_matrix(y_true, FORMS[form](y_pred, K), K, normalize=normalize)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.dtype == (np.int64 if normalize is None else np.float64)


@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_absent_classes_give_zero_rows(normalize):
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    got = metrics.confusion_matrix(y_true, y_pred, num_classes=6, normalize=normalize)
    expected = sk.confusion_matrix(y_true, y_pred, labels=range(6), normalize=normalize)
    assert got.shape == (6, 6)
    np.testing.assert_allclose(got, expected)


def test_confusion_matrix_of_a_model_prediction():
    y_true = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.0, 0.1, 0.9], [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, probabilities), [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    )


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, message",
    [
        ([0, 1, 2], [0, 1], {}, "inconsistent numbers of samples: y_true has 3, y_pred has 2"),
        ([0, -1, 2], [0, 1, 2], {}, r"`y_true`\. Class labels must be >= 0\. Received a label -1"),
        ([0, 1, 2], [0, 1, 5], {"num_classes": 3}, r"`y_pred`\. Class labels must be < num_cl"),
        ([0, 1, 2], [0, 1, 2], {"normalize": "rows"}, "Expected one of {'true', 'pred', 'all'"),
        ([0, 1, 2], [0, 1, 2], {"num_classes": 0}, "`num_classes`. Expected a strictly positive"),
        ([0, 1], [0.2, 0.7], {}, "non-integer values in a 1-D array"),
        (np.eye(3), np.ones((3, 4)), {}, "different numbers of classes: 3 and 4"),
        ([0, 1, 2], np.ones((3, 4)), {"num_classes": 3}, "does not match the 4 columns"),
        (np.zeros((2, 2, 2)), [0, 1], {}, r"Received shape \(2, 2, 2\)"),
    ],
)
def test_confusion_matrix_rejects_bad_inputs(y_true, y_pred, kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.confusion_matrix(y_true, y_pred, **kwargs)


# ---------------------------------------------------------------------------
# classification_report
# ---------------------------------------------------------------------------


def _assert_same_report(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_classification_report_numbers_match_sklearn(labels):
    y_true, scores = labels
    y_pred = scores.argmax(axis=1)
    names = ["tshirt", "trouser", "pullover", "dress"]
    got = metrics.classification_report(_one_hot(y_true, K), scores, names, output_dict=True)
    expected = sk.classification_report(
        y_true, y_pred, labels=range(K), target_names=names, output_dict=True
    )
    _assert_same_report(got, expected)


def test_classification_report_with_empty_classes_matches_sklearn():
    y_true = np.array([0, 0, 1, 1, 1, 3])
    y_pred = np.array([0, 1, 1, 1, 4, 3])
    got = metrics.classification_report(y_true, y_pred, num_classes=5, output_dict=True)
    expected = sk.classification_report(
        y_true, y_pred, labels=range(5), output_dict=True, zero_division=0
    )
    _assert_same_report(got, expected)


@pytest.mark.parametrize("digits", [2, 4])
def test_classification_report_text_is_sklearns(labels, digits):
    y_true, scores = labels
    y_pred = scores.argmax(axis=1)
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress"]
    got = metrics.classification_report(y_true, y_pred, target_names=names, digits=digits)
    assert got == sk.classification_report(y_true, y_pred, target_names=names, digits=digits)
    assert "    accuracy" in got and "weighted avg" in got


def test_classification_report_rejects_wrong_target_names():
    with pytest.raises(ValueError, match="Number of classes, 3, does not match size of target"):
        metrics.classification_report([0, 1, 2], [0, 1, 2], target_names=["a", "b"])
    with pytest.raises(ValueError, match="`digits`. Expected an integer >= 0"):
        metrics.classification_report([0, 1, 2], [0, 1, 2], digits=-1)


# ---------------------------------------------------------------------------
# top-k accuracy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy_matches_sklearn(labels, k):
    y_true, scores = labels
    expected = sk.top_k_accuracy_score(y_true, scores, k=k, labels=range(K))
    assert metrics.top_k_accuracy(y_true, scores, k=k) == pytest.approx(expected)
    assert metrics.top_k_accuracy(_one_hot(y_true, K), scores, k=k) == pytest.approx(expected)


def test_top_k_metric_classes_accumulate_with_sample_weight(labels):
    y_true, scores = labels
    weights = np.random.default_rng(2).random(len(y_true))
    expected = sk.top_k_accuracy_score(y_true, scores, k=2, labels=range(K), sample_weight=weights)
    sparse = metrics.SparseTopKCategoricalAccuracy(k=2)
    dense = metrics.TopKCategoricalAccuracy(k=2)
    for batch in np.array_split(np.arange(len(y_true)), 7):
        sparse.update_state(y_true[batch, None], scores[batch], sample_weight=weights[batch])
        dense.update_state(_one_hot(y_true[batch], K), scores[batch], weights[batch])
    assert float(sparse.result()) == pytest.approx(expected, rel=1e-6)
    assert float(dense.result()) == pytest.approx(expected, rel=1e-6)
    sparse.reset_state()
    assert float(sparse.result()) == 0.0


def test_top_k_ties_count_as_hits_and_sorted_ids():
    # Keras's in_top_k: a label tied with the k-th score is in the top k.
    scores = np.array([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])
    assert metrics.top_k_accuracy([1, 2], scores, k=2) == 1.0
    assert metrics.top_k_accuracy([1, 2], scores, k=1) == 0.0
    m = metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    m.update_state([2, 0], [[2, 0, 1], [1, 0, 2]])
    assert float(m.result()) == 0.5
    assert metrics.SparseTopKCategoricalAccuracy(k=3).get_config() == {
        "name": "sparse_top_k_categorical_accuracy",
        "dtype": "float32",
        "k": 3,
        "from_sorted_ids": False,
    }


def test_top_k_rejects_bad_inputs():
    with pytest.raises(
        ValueError, match="`k`. Expected a strictly positive integer. Received: k=0"
    ):
        metrics.top_k_accuracy([0], [[1.0, 0.0]], k=0)
    with pytest.raises(ValueError, match=r"Expected class scores of shape \(N, num_classes\)"):
        metrics.top_k_accuracy([0, 1], [0.3, 0.7], k=1)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 2\)"):
        metrics.top_k_accuracy([0, 2], [[1.0, 0.0], [0.0, 1.0]], k=1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        metrics.top_k_accuracy([0, 1, 1], [[1.0, 0.0], [0.0, 1.0]], k=1)


# ---------------------------------------------------------------------------
# Precision / Recall / counts
# ---------------------------------------------------------------------------


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.clip(rng.random(400) * 0.7 + y * 0.3, 0, 1).astype("float32")
    w = rng.random(400)
    return y, p, w


def test_precision_recall_match_sklearn_with_batches_and_weights(binary):
    y, p, w = binary
    precision, recall = metrics.Precision(), metrics.Recall()
    for batch in np.array_split(np.arange(len(y)), 5):
        precision.update_state(y[batch, None], p[batch, None], sample_weight=w[batch])
        recall.update_state(y[batch], p[batch], sample_weight=w[batch])
    assert float(precision.result()) == pytest.approx(
        sk.precision_score(y, p > 0.5, sample_weight=w), rel=1e-6
    )
    assert float(recall.result()) == pytest.approx(
        sk.recall_score(y, p > 0.5, sample_weight=w), rel=1e-6
    )


def test_precision_recall_threshold_lists(binary):
    y, p, _ = binary
    thresholds = [0.2, 0.5, 0.8]
    precision = metrics.Precision(thresholds=thresholds)
    recall = metrics.Recall(thresholds=thresholds)
    precision.update_state(y, p)
    recall.update_state(y, p)
    assert precision.result().shape == (3,)
    np.testing.assert_allclose(
        precision.result(), [sk.precision_score(y, p > t) for t in thresholds], rtol=1e-6
    )
    np.testing.assert_allclose(
        recall.result(), [sk.recall_score(y, p > t) for t in thresholds], rtol=1e-6
    )
    # Evenly spaced thresholds take Keras's bucketed path: same counts.
    even = metrics.Precision(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0])
    even.update_state(y, p)
    expected = [sk.precision_score(y, p > t, zero_division=0) for t in even.thresholds]
    np.testing.assert_allclose(even.result(), expected, rtol=1e-6)


def test_precision_recall_class_id_and_sparse_labels(labels):
    y_true, scores = labels
    for c in range(K):
        precision = metrics.Precision(class_id=c)
        recall = metrics.Recall(class_id=c)
        precision.update_state(_one_hot(y_true, K), scores)
        recall.update_state(y_true, scores)  # integer labels: one-hot encoded first
        assert float(precision.result()) == pytest.approx(
            sk.precision_score(y_true == c, scores[:, c] > 0.5, zero_division=0), rel=1e-6
        )
        assert float(recall.result()) == pytest.approx(
            sk.recall_score(y_true == c, scores[:, c] > 0.5), rel=1e-6
        )


def test_precision_recall_top_k(labels):
    y_true, scores = labels
    accuracy = np.mean(scores.argmax(axis=1) == y_true)
    for cls in (metrics.Precision, metrics.Recall):
        m = cls(top_k=1)
        m.update_state(_one_hot(y_true, K), scores)
        assert float(m.result()) == pytest.approx(accuracy, rel=1e-6)
    # Keras's docstring: top_k looks at the first k of [1, 1, 1, 1] on ties.
    for k, expected in ((2, 0.0), (4, 0.5)):
        m = metrics.Precision(top_k=k)
        m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
        assert float(m.result()) == expected
    m = metrics.Recall(top_k=2, class_id=1)
    m.update_state([[0, 1, 0], [0, 1, 0]], [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    assert float(m.result()) == 0.5


def test_confusion_counts_keras_docstring_values():
    y_true, y_pred, weights = [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0]
    for cls, value, weighted in (
        (metrics.TruePositives, 2.0, 1.0),
        (metrics.FalsePositives, 1.0, 0.0),
        (metrics.TrueNegatives, 0.0, 0.0),
        (metrics.FalseNegatives, 1.0, 0.0),
    ):
        m = cls()
        m.update_state(y_true, y_pred)
        assert float(m.result()) == value, cls.__name__
        m.reset_state()
        m.update_state(y_true, y_pred, sample_weight=weights)
        assert float(m.result()) == weighted, cls.__name__
    m = metrics.Precision()
    m.update_state(y_true, y_pred)
    assert m.result() == np.float32(2 / 3)


def test_bucketed_counts_equal_direct_comparison(binary):
    y, p, w = binary
    thresholds = [-1e-7, *[(i + 1) / 199 for i in range(198)], 1 + 1e-7]
    fast = confusion_counts(y, p, thresholds, sample_weight=w, evenly=True)
    slow = confusion_counts(y, p, thresholds, sample_weight=w, evenly=False)
    for key in ("tp", "fp", "tn", "fn"):
        np.testing.assert_allclose(fast[key], slow[key], atol=1e-9, err_msg=key)


# ---------------------------------------------------------------------------
# AUC
# ---------------------------------------------------------------------------

# Keras 3's AUCTest fixture: tp = [7, 4, 0], fp = [3, 0, 0], fn = [0, 3, 7], tn = [0, 3, 3].
Y_TRUE, Y_PRED, WEIGHTS = [0, 0, 1, 1], [0, 0.5, 0.3, 0.9], [1, 2, 3, 4]


@pytest.mark.parametrize(
    "kwargs, weights, expected",
    [
        ({}, None, 0.75),
        ({}, WEIGHTS, 0.7855),
        ({"summation_method": "majoring"}, WEIGHTS, 1.0),
        ({"summation_method": "minoring"}, WEIGHTS, 0.571),
        ({"curve": "PR", "summation_method": "majoring"}, WEIGHTS, 1.0),
        ({"curve": "PR", "summation_method": "minoring"}, WEIGHTS, 0.7 * 0.429),
        ({"curve": "PR"}, WEIGHTS, 2.416 / 7 + 4 / 7),
        ({"curve": "PR"}, [-1, -2, -3, -4], 0.0),
        ({"num_thresholds": 2, "thresholds": [0.5]}, None, 0.75),
    ],
)
def test_auc_matches_keras_hand_values(kwargs, weights, expected):
    m = metrics.AUC(**{"num_thresholds": 3, **kwargs})
    m.update_state(Y_TRUE, Y_PRED, sample_weight=weights)
    assert float(m.result()) == pytest.approx(expected, abs=1e-3)


def test_auc_multi_label_and_logits_match_keras_hand_values():
    y_pred = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype="float32").T
    y_true = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
    logits = -np.log(1.0 / (y_pred + 1e-12) - 1.0)
    for kwargs, preds in (({}, y_pred), ({"from_logits": True}, logits)):
        m = metrics.AUC(num_thresholds=5, multi_label=True, **kwargs)
        m.update_state(y_true, preds)
        assert float(m.result()) == pytest.approx((0.875 + 1.0) / 2.0, abs=1e-3)
    flat = metrics.AUC(num_thresholds=5)
    flat.update_state(y_true, y_pred, sample_weight=[1, 2, 3, 4])
    assert float(flat.result()) == pytest.approx(1.0 - (0.3333 * (1.0 - 0.2857) / 2.0), abs=1e-3)
    perfect = metrics.AUC(multi_label=True)
    perfect.update_state(y_true, y_true)
    assert float(perfect.result()) == 1.0


def test_auc_is_close_to_sklearn(binary, labels):
    y, p, w = binary
    roc, pr = metrics.AUC(), metrics.AUC(curve="PR")
    for batch in np.array_split(np.arange(len(y)), 4):
        roc.update_state(y[batch], p[batch], sample_weight=w[batch])
        pr.update_state(y[batch], p[batch], sample_weight=w[batch])
    assert float(roc.result()) == pytest.approx(sk.roc_auc_score(y, p, sample_weight=w), abs=1e-2)
    assert float(pr.result()) == pytest.approx(
        sk.average_precision_score(y, p, sample_weight=w), abs=1e-2
    )
    logit = np.log(p + 1e-6) - np.log1p(1e-6 - p)
    from_logits = metrics.AUC(from_logits=True)
    from_logits.update_state(y, logit)
    assert float(from_logits.result()) == pytest.approx(sk.roc_auc_score(y, p), abs=1e-2)
    y_true, scores = labels
    multi = metrics.AUC(multi_label=True)
    multi.update_state(_one_hot(y_true, K), scores)
    expected = np.mean([sk.roc_auc_score(y_true == c, scores[:, c]) for c in range(K)])
    assert float(multi.result()) == pytest.approx(expected, abs=1e-2)


def test_auc_config_round_trip():
    m = metrics.AUC(num_thresholds=50, curve="pr", summation_method="majoring", name="auc_pr")
    config = m.get_config()
    assert config == {
        "name": "auc_pr",
        "dtype": "float32",
        "num_thresholds": 50,
        "curve": "PR",
        "summation_method": "majoring",
        "multi_label": False,
        "num_labels": None,
        "label_weights": None,
        "from_logits": False,
    }
    assert metrics.AUC.from_config(config).get_config() == config
    manual = metrics.AUC(thresholds=[0.3, 0.5], name="auc_manual")
    assert manual.num_thresholds == 4
    np.testing.assert_allclose(manual.thresholds, [-1e-7, 0.3, 0.5, 1 + 1e-7])
    assert manual.get_config()["thresholds"] == [0.3, 0.5]


# ---------------------------------------------------------------------------
# F-scores
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_score_matches_sklearn(labels, average):
    y_true, scores = labels
    y_pred = scores.argmax(axis=1)
    weights = np.random.default_rng(4).random(len(y_true))
    m = metrics.F1Score(average=average)
    for batch in np.array_split(np.arange(len(y_true)), 3):
        m.update_state(_one_hot(y_true[batch], K), scores[batch], sample_weight=weights[batch])
    expected = sk.f1_score(y_true, y_pred, average=average, sample_weight=weights)
    np.testing.assert_allclose(m.result(), expected, rtol=1e-5)
    sparse = metrics.F1Score(average=average)
    sparse.update_state(y_true, scores)  # integer labels are one-hot encoded
    np.testing.assert_allclose(
        sparse.result(), sk.f1_score(y_true, y_pred, average=average), rtol=1e-5
    )


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_fbeta_multilabel_threshold_matches_sklearn(average):
    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 2, (200, 3))
    scores = np.clip(rng.random((200, 3)) * 0.8 + y_true * 0.3, 0, 1)
    m = metrics.FBetaScore(average=average, beta=2.0, threshold=0.5)
    m.update_state(y_true, scores)
    expected = sk.fbeta_score(y_true, scores > 0.5, beta=2.0, average=average)
    np.testing.assert_allclose(m.result(), expected, rtol=1e-5)


def test_f_scores_keras_docstring_values():
    y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
    y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
    fbeta = metrics.FBetaScore(beta=2.0, threshold=0.5)
    fbeta.update_state(y_true, y_pred)
    np.testing.assert_allclose(fbeta.result(), [0.3846154, 0.90909094, 0.8333334], rtol=1e-6)
    f1 = metrics.F1Score(threshold=0.5)
    f1.update_state(y_true, y_pred)
    np.testing.assert_allclose(f1.result(), [0.5, 0.8, 0.6666667], rtol=1e-6)
    assert f1.get_config() == {
        "name": "f1_score",
        "dtype": "float32",
        "average": None,
        "threshold": 0.5,
    }
    assert fbeta.get_config()["beta"] == 2.0


# ---------------------------------------------------------------------------
# Construction errors, names, string ids, configs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: metrics.Precision(thresholds=[0.5, 1.5]),
            r"must be in \[0, 1\]. Received: \[1.5\]",
        ),
        (lambda: metrics.Recall(top_k=0), "`top_k`. Expected a strictly positive integer"),
        (lambda: metrics.Recall(class_id=-1), "`class_id`. Expected a non-negative integer"),
        (lambda: metrics.AUC(num_thresholds=1), "`num_thresholds` must be an integer > 1"),
        (lambda: metrics.AUC(curve="Invalid"), 'Invalid AUC curve value: "Invalid"'),
        (lambda: metrics.AUC(summation_method="Invalid"), 'summation method value: "Invalid"'),
        (lambda: metrics.AUC(num_labels=3), "`num_labels` is needed only when `multi_label`"),
        (lambda: metrics.F1Score(average="samples"), "Invalid `average` argument value"),
        (lambda: metrics.FBetaScore(beta=0.0), "Invalid `beta` argument value"),
        (lambda: metrics.F1Score(threshold=1.5), "It should verify 0 < threshold <= 1"),
        (lambda: metrics.TopKCategoricalAccuracy(k=0), "`k`. Expected a strictly positive"),
    ],
)
def test_metric_arguments_are_validated(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_metric_inputs_are_validated():
    with pytest.raises(ValueError, match="When class_id is provided, y_pred must be a 2D array"):
        metrics.Precision(class_id=0).update_state([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match=r"must have the same shape .* y_pred.shape=\(2, 3\)"):
        metrics.Recall().update_state([[0, 1], [1, 0]], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"integer class labels in \[0, 3\)"):
        metrics.Precision().update_state([0, 5], np.ones((2, 3)))
    with pytest.raises(ValueError, match="F1Score expects 2D inputs"):
        metrics.F1Score().update_state([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="`y_pred` must have rank 2 when `multi_label=True`"):
        metrics.AUC(multi_label=True).update_state([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'precisionn'"):
        metrics.get("precisionn")


def test_default_names_and_string_ids_follow_keras():
    first, second = metrics.Precision(), metrics.Precision()
    assert first.name.startswith("precision") and second.name != first.name  # precision_1...
    assert metrics.F1Score().name == metrics.F1Score().name == "f1_score"
    assert metrics.FBetaScore().name == "fbeta_score"
    for identifier, cls in (
        ("precision", metrics.Precision),
        ("Recall", metrics.Recall),
        ("auc", metrics.AUC),
        ("AUC", metrics.AUC),
        ("f1_score", metrics.F1Score),
        ("F1Score", metrics.F1Score),
        ("f_beta_score", metrics.FBetaScore),
        ("top_k_categorical_accuracy", metrics.TopKCategoricalAccuracy),
        ("sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy),
        ("true_positives", metrics.TruePositives),
    ):
        m = metrics.get(identifier)
        assert type(m) is cls and m.name == identifier
    m = metrics.get({"class_name": "Precision", "config": {"thresholds": 0.3, "name": "p3"}})
    assert isinstance(m, metrics.Precision) and m.thresholds == [0.3] and m.name == "p3"


@pytest.mark.parametrize(
    "metric",
    [
        metrics.Precision(thresholds=[0.3, 0.6], class_id=1, name="p"),
        metrics.Recall(top_k=2, name="r"),
        metrics.TruePositives(thresholds=0.7, name="tp"),
        metrics.AUC(multi_label=True, num_labels=3, name="auc_ml"),
        metrics.F1Score(average="macro"),
        metrics.FBetaScore(average="weighted", beta=0.5, threshold=0.4),
        metrics.TopKCategoricalAccuracy(k=2),
    ],
    ids=lambda m: type(m).__name__,
)
def test_config_round_trip(metric):
    config = metric.get_config()
    clone = type(metric).from_config(config)
    assert clone.get_config() == config


# ---------------------------------------------------------------------------
# compile / fit / evaluate
# ---------------------------------------------------------------------------


def test_compile_fit_evaluate_log_keras_names():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("float32")[:, None]
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    precision, auc = keras.metrics.Precision(), keras.metrics.AUC()
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["accuracy", precision, "recall", auc, keras.metrics.F1Score(threshold=0.5)],
    )
    history = model.fit(x, y, epochs=2, batch_size=32, validation_data=(x, y), verbose=0)
    names = ["accuracy", auc.name, "f1_score", "loss", precision.name, "recall"]
    assert sorted(history.history) == sorted(names + [f"val_{n}" for n in names])
    assert precision.name.startswith("precision") and auc.name.startswith("auc")
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == sorted(names)
    probabilities = model.predict(x, verbose=0)[:, 0]
    assert logs["recall"] == pytest.approx(sk.recall_score(y[:, 0], probabilities > 0.5), abs=1e-6)
    assert logs[auc.name] == pytest.approx(sk.roc_auc_score(y[:, 0], probabilities), abs=1e-2)
    assert np.shape(logs["f1_score"]) == (1,)  # average=None: one score per output column


def test_fit_logs_per_class_f1_for_sparse_labels():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 5)).astype("float32")
    y = rng.integers(0, 3, 60)
    model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=[keras.metrics.F1Score(average="macro"), "sparse_top_k_categorical_accuracy"],
    )
    history = model.fit(x, y, epochs=1, batch_size=60, verbose=0)
    probabilities = model.predict(x, verbose=0)
    assert history.history["sparse_top_k_categorical_accuracy"][0] == pytest.approx(1.0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = sk.f1_score(y, probabilities.argmax(axis=1), average="macro", zero_division=0)
    assert logs["f1_score"] == pytest.approx(expected, abs=1e-5)
