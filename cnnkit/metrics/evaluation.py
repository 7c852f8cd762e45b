"""Evaluating a classifier's predictions: confusion matrix, per-class report, top-k accuracy.

These are plain functions on whole arrays (not metric objects), with the numbers
of scikit-learn's ``confusion_matrix``, ``classification_report`` and
``top_k_accuracy_score`` for labels ``0 .. num_classes - 1``. Labels and
predictions may be integer labels, one-hot rows or class scores (reduced with
an arg-max), so ``model.predict(x)`` can be passed as it is.

The matrix's row ``i`` counts the samples of true class ``i``, its column ``j``
those predicted as ``j``: the diagonal holds the hits, and an off-diagonal cell
shows which classes the model confuses (shirt for T-shirt, say).

Deviations from scikit-learn: a label outside ``[0, num_classes)`` raises a
ValueError (scikit-learn ignores it); precision, recall or F1 with a zero
denominator is 0.0 without a warning (scikit-learn's ``zero_division="warn"``
also gives 0.0, with an ``UndefinedMetricWarning``).

Example:
    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2])
    array([[1, 0, 0],
           [0, 0, 1],
           [0, 0, 2]])
"""

from __future__ import annotations

import numpy as np

from cnnkit.argument_validation import is_int
from cnnkit.metrics.accuracy import _check_k, _in_top_k
from cnnkit.metrics.base import _host

_NORMALIZE = (None, "true", "pred", "all")


def _labels(values, argument: str) -> tuple[np.ndarray, int | None]:
    """Integer labels from labels, one-hot rows or scores, and the class count a 2-D input shows."""
    array = _host(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 2:
        return array.argmax(axis=1), array.shape[1]
    if array.ndim != 1:
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected integer labels of shape (N,) "
            f"or class scores of shape (N, num_classes). Received shape {array.shape}."
        )
    if array.dtype.kind == "b":
        array = array.astype("int64")
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected numeric class labels. "
            f"Received dtype {array.dtype}."
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(
                f"Invalid value for argument `{argument}`: non-integer values in a 1-D array. "
                "Pass class labels, or scores of shape (N, num_classes); for one sigmoid "
                "output use `(y_pred > 0.5).astype(int)`."
            )
    return array.astype("int64"), None


def _check_pair(y_true, y_pred, num_classes):
    """Integer labels of both arguments and the class count, all validated."""
    true, true_width = _labels(y_true, "y_true")
    pred, pred_width = _labels(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"y_true has {len(true)}, y_pred has {len(pred)}."
        )
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and labels.min() < 0:
            raise ValueError(
                f"Invalid value for argument `{name}`. Class labels must be >= 0. "
                f"Received a label {labels.min()}."
            )
    widths = {w for w in (true_width, pred_width) if w is not None}
    if len(widths) > 1:
        raise ValueError(
            f"`y_true` and `y_pred` have different numbers of classes: {true_width} and "
            f"{pred_width} columns."
        )
    if num_classes is None:
        if widths:
            num_classes = widths.pop()
        else:
            num_classes = int(max(true.max(initial=-1), pred.max(initial=-1))) + 1
    else:
        if not is_int(num_classes) or num_classes < 1:
            raise ValueError(
                "Invalid value for argument `num_classes`. Expected a strictly positive "
                f"integer. Received: num_classes={num_classes!r}"
            )
        if widths and widths != {num_classes}:
            raise ValueError(
                f"`num_classes`={num_classes} does not match the {widths.pop()} columns of "
                "the class scores."
            )
        num_classes = int(num_classes)
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and labels.max() >= num_classes:
            raise ValueError(
                f"Invalid value for argument `{name}`. Class labels must be < num_classes="
                f"{num_classes}. Received a label {labels.max()}."
            )
    return true, pred, num_classes


def confusion_matrix(y_true, y_pred, num_classes=None, normalize=None) -> np.ndarray:
    """The confusion matrix ``C[i, j]``: how many samples of class ``i`` were predicted as ``j``.

    Args:
        y_true: true classes: integer labels ``(N,)``/``(N, 1)``, or one-hot rows ``(N, C)``.
        y_pred: predicted classes: integer labels, or scores/probabilities ``(N, C)``
            (their arg-max is taken).
        num_classes: size of the matrix; default: the number of columns of a 2-D
            argument, else the largest label + 1.
        normalize: ``None`` (counts), ``"true"`` (each row sums to 1: the recall of each
            class on the diagonal), ``"pred"`` (each column sums to 1: precision on the
            diagonal) or ``"all"`` (the whole matrix sums to 1). Empty rows/columns give 0.

    Returns:
        ``(num_classes, num_classes)`` int64 counts, or float64 fractions when normalised:
        scikit-learn's ``confusion_matrix(y_true, y_pred, labels=range(num_classes),
        normalize=normalize)``.

    Raises:
        ValueError: for different numbers of samples, negative labels, labels
            ``>= num_classes``, non-integer 1-D values, or an unknown ``normalize``.

    Example:
        >>> y_true = [0, 0, 1, 1]
        >>> scores = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]]
        >>> confusion_matrix(y_true, scores, normalize="true")
        array([[0.5, 0.5],
               [0. , 1. ]])
    """
    if normalize not in _NORMALIZE:
        raise ValueError(
            "Invalid value for argument `normalize`. Expected one of {'true', 'pred', 'all', "
            f"None}}. Received: normalize={normalize!r}"
        )
    true, pred, num_classes = _check_pair(y_true, y_pred, num_classes)
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    matrix = counts.reshape(num_classes, num_classes).astype(np.int64)
    if normalize is None:
        return matrix
    if normalize == "true":
        total = matrix.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        total = matrix.sum(axis=0, keepdims=True)
    else:
        total = matrix.sum()
    out = np.zeros(matrix.shape)
    np.divide(matrix, total, out=out, where=np.broadcast_to(total, matrix.shape) != 0)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(num))
    np.divide(num, den, out=out, where=np.asarray(den) != 0)
    return out


def _scores(matrix: np.ndarray):
    """Per-class precision, recall, F1 and support from a confusion matrix."""
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, 2 * tp + (support - tp) + (predicted - tp))
    return precision, recall, f1, support


def classification_report(
    y_true,
    y_pred,
    target_names=None,
    digits=2,
    output_dict=False,
    num_classes=None,
):
    """Precision, recall, F1 and support of every class, with accuracy and averages.

    For class ``c``: precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = their
    harmonic mean ``2·TP / (2·TP + FP + FN)``, support = number of true samples of ``c``.
    "macro avg" is the plain mean over classes, "weighted avg" the mean weighted by
    support, "accuracy" the fraction of hits. The numbers and the text layout are
    scikit-learn's ``classification_report(..., labels=range(num_classes))``.

    Args:
        y_true: true classes (integer labels or one-hot rows).
        y_pred: predicted classes (integer labels, or scores whose arg-max is taken).
        target_names: display names of the classes, one per class.
        digits: decimals of the text report.
        output_dict: return a dict (``{name: {"precision", "recall", "f1-score",
            "support"}, "accuracy": float, "macro avg": {...}, "weighted avg": {...}}``).
        num_classes: number of classes (see ``confusion_matrix``).

    Returns:
        The report as text, or as a dict.

    Raises:
        ValueError: as ``confusion_matrix``, or when ``target_names`` does not have one
            name per class.

    Example:
        >>> print(classification_report([0, 1, 2, 2, 2], [0, 0, 2, 2, 1]))
                      precision    recall  f1-score   support
        <BLANKLINE>
                   0       0.50      1.00      0.67         1
                   1       0.00      0.00      0.00         1
                   2       1.00      0.67      0.80         3
        <BLANKLINE>
            accuracy                           0.60         5
           macro avg       0.50      0.56      0.49         5
        weighted avg       0.70      0.60      0.61         5
        <BLANKLINE>
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    n = matrix.shape[0]
    if target_names is None:
        target_names = [str(c) for c in range(n)]
    else:
        target_names = [str(name) for name in target_names]
        if len(target_names) != n:
            raise ValueError(
                f"Number of classes, {n}, does not match size of target_names, "
                f"{len(target_names)}. Pass one name per class, or set `num_classes`."
            )
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(
            f"Invalid value for argument `digits`. Expected an integer >= 0. Received: {digits!r}"
        )
    precision, recall, f1, support = _scores(matrix)
    total = int(support.sum())
    accuracy = float(np.trace(matrix) / total) if total else 0.0
    weights = support / total if total else np.zeros(n)
    averages = {
        "macro avg": [precision.mean(), recall.mean(), f1.mean()] if n else [0.0] * 3,
        "weighted avg": [
            (precision * weights).sum(),
            (recall * weights).sum(),
            (f1 * weights).sum(),
        ],
    }
    headers = ["precision", "recall", "f1-score", "support"]
    if output_dict:
        report = {
            name: dict(zip(headers, map(float, (p, r, f, s))))
            for name, p, r, f, s in zip(target_names, precision, recall, f1, support)
        }
        report["accuracy"] = accuracy
        for heading, values in averages.items():
            report[heading] = dict(zip(headers, map(float, (*values, total))))
        return report
    width = max(len("weighted avg"), digits, *(len(name) for name in target_names))
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    for name, p, r, f, s in zip(target_names, precision, recall, f1, support):
        text += row_fmt.format(name, p, r, f, int(s), width=width, digits=digits)
    text += "\n"
    accuracy_fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
    text += accuracy_fmt.format("accuracy", "", "", accuracy, total, width=width, digits=digits)
    for heading, values in averages.items():
        text += row_fmt.format(heading, *values, total, width=width, digits=digits)
    return text


def top_k_accuracy(y_true, y_pred, k=5) -> float:
    """The fraction of samples whose true class is among the ``k`` highest scores.

    Args:
        y_true: integer labels ``(N,)`` or one-hot rows ``(N, C)``.
        y_pred: class scores ``(N, C)``.
        k: how many of the highest scores count as a hit.

    Returns:
        A float in ``[0, 1]``: scikit-learn's ``top_k_accuracy_score`` for scores without
        ties (a tie at the k-th place counts as a hit, as in Keras's ``in_top_k``).

    Raises:
        ValueError: for ``k < 1``, scores that are not 2-D, different numbers of samples,
            or labels outside ``[0, C)``.

    Example:
        >>> top_k_accuracy([0, 1, 2], [[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], k=2)
        0.6666666666666666
    """
    k = _check_k(k)
    scores = _host(y_pred)
    if scores.ndim != 2:
        raise ValueError(
            "Invalid value for argument `y_pred`. Expected class scores of shape "
            f"(N, num_classes). Received shape {scores.shape}."
        )
    labels, _ = _labels(y_true, "y_true")
    if len(labels) != len(scores):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"y_true has {len(labels)}, y_pred has {len(scores)}."
        )
    if not len(labels):
        raise ValueError("Expected at least one sample. Received empty `y_true`/`y_pred`.")
    return float(_in_top_k(labels, scores, k).mean(dtype=np.float64))
