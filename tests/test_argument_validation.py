"""The shared argument checks (cnnkit/argument_validation.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit import argument_validation as av

NAMES = ["Conv2D", "MaxPooling2D", "MeanSquaredError", "MyMSE", "F1Score", "AdamW", "GRU", "Dense"]


def test_predicates_reject_booleans_and_accept_numpy_scalars():
    assert av.is_int(3) and av.is_int(np.int64(3)) and not av.is_int(3.0)
    assert not av.is_int(True) and not av.is_int(np.bool_(True))
    assert av.is_real(0.5) and av.is_real(np.float32(0.5)) and av.is_real(2)
    assert not av.is_real(False) and not av.is_real("1")


def test_standardize_tuple_values_and_errors():
    assert av.standardize_tuple(3, 2, "kernel_size") == (3, 3)
    assert av.standardize_tuple([np.int32(1), 2], 2, "strides") == (1, 2)
    assert av.standardize_tuple((0, 1), 2, "padding", allow_zero=True) == (0, 1)
    with pytest.raises(ValueError, match=r"`strides` argument must be a tuple of 2 integers"):
        av.standardize_tuple((1, 2, 3), 2, "strides")
    with pytest.raises(ValueError, match=r"Expected strictly positive integers\. Received pool"):
        av.standardize_tuple(0, 2, "pool")
    with pytest.raises(ValueError, match=r"Expected non-negative integers"):
        av.standardize_tuple((-1, 0), 2, "padding", allow_zero=True)


def test_int_and_real_checks_name_the_argument():
    assert av.check_int("epochs", np.int64(2)) == 2
    with pytest.raises(ValueError, match=r"Expected an integer >= 1\. Received: epochs=0"):
        av.check_int("epochs", 0, minimum=1)
    assert av.check_positive_int("filters", 4) == 4
    with pytest.raises(ValueError, match=r"strictly positive value\. Received filters=True\."):
        av.check_positive_int("filters", True)
    assert av.check_real("delta", 0.5, minimum=0) == 0.5
    with pytest.raises(ValueError, match=r"Expected a finite number\. Received: delta=nan"):
        av.check_real("delta", float("nan"))


def test_the_layers_and_losses_use_the_shared_checks():
    from cnnkit import layers, losses
    from cnnkit.layers import base

    assert base.standardize_tuple is av.standardize_tuple
    with pytest.raises(ValueError, match=r"strictly positive value\. Received filters=0"):
        layers.Conv2D(0, 3)
    assert losses.MeanSquaredError().name == "mean_squared_error"


@pytest.mark.parametrize("name", NAMES)
def test_snake_case_matches_keras(name):
    keras = pytest.importorskip("keras")
    from keras.src.utils.naming import to_snake_case

    assert keras is not None
    assert av.snake_case(name) == to_snake_case(name)
