"""Merging layers: values, broadcasting, gradients, errors, and branched functional models."""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.autodiff import Tensor, Variable
from cnnkit.layers import Input
from cnnkit.models import Model
from tests.harness import gradcheck

RNG = np.random.default_rng(0)


def run_merge_layer_test(layer_cls, init_kwargs, input_shapes, expected_output_shape):
    """``run_layer_test`` for layers called on a list of inputs.

    Eager call, ``compute_output_shape``, symbolic call on Inputs, config round trip and a
    float64 gradient check through the layer to every input.
    """
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype("float32") for s in input_shapes]
    layer = layer_cls(**init_kwargs)
    out = np.asarray(layer(xs))
    assert out.shape == tuple(expected_output_shape)
    assert layer.compute_output_shape([tuple(s) for s in input_shapes]) == out.shape

    inputs = [Input(shape=s[1:]) for s in input_shapes]
    assert layer_cls(**init_kwargs)(inputs).shape == (None, *out.shape[1:])

    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config

    grad_layer = layer_cls(**init_kwargs)
    gradcheck(lambda *ts: grad_layer(list(ts)), *[rng.standard_normal(s) for s in input_shapes])


MERGE_CASES = [
    (layers.Add, {}, [(2, 3, 4), (2, 3, 4), (2, 3, 4)], (2, 3, 4)),
    (layers.Add, {}, [(2, 3, 4), (2, 1, 4)], (2, 3, 4)),  # broadcast
    (layers.Add, {}, [(2, 3, 4), (2, 4)], (2, 3, 4)),  # lower rank: size-1 axis after batch
    (layers.Subtract, {}, [(2, 5), (2, 5)], (2, 5)),
    (layers.Multiply, {}, [(2, 2, 2, 3), (2, 2, 2, 3), (2, 2, 2, 1)], (2, 2, 2, 3)),
    (layers.Average, {}, [(2, 4), (2, 4), (2, 4)], (2, 4)),
    (layers.Maximum, {}, [(2, 3, 2), (2, 3, 2), (2, 3, 2)], (2, 3, 2)),
    (layers.Minimum, {}, [(2, 3, 2), (2, 1, 2)], (2, 3, 2)),
    (layers.Concatenate, {}, [(2, 3, 3, 2), (2, 3, 3, 1), (2, 3, 3, 4)], (2, 3, 3, 7)),
    (layers.Concatenate, {"axis": 1}, [(2, 3, 4), (2, 2, 4)], (2, 5, 4)),
    (layers.Concatenate, {"axis": -2}, [(2, 3, 4), (2, 1, 4)], (2, 4, 4)),
]


@pytest.mark.parametrize(
    "cls, kwargs, shapes, expected",
    MERGE_CASES,
    ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(MERGE_CASES)],
)
def test_merge_layer_lifecycle(cls, kwargs, shapes, expected):
    run_merge_layer_test(cls, kwargs, shapes, expected)


def test_values_match_numpy():
    a, b, c = (RNG.standard_normal((2, 3, 4)).astype("float32") for _ in range(3))
    expected = {
        layers.Add: a + b + c,
        layers.Multiply: a * b * c,
        layers.Average: (a + b + c) / 3,
        layers.Maximum: np.maximum(np.maximum(a, b), c),
        layers.Minimum: np.minimum(np.minimum(a, b), c),
        layers.Concatenate: np.concatenate([a, b, c], axis=-1),
    }
    for cls, value in expected.items():
        out = cls()([a, b, c])
        assert out.dtype == np.float32
        np.testing.assert_allclose(np.asarray(out), value, rtol=1e-6, err_msg=cls.__name__)
    np.testing.assert_array_equal(np.asarray(layers.Subtract()([a, b])), a - b)


def test_functional_forms_equal_the_layers():
    a, b = RNG.standard_normal((2, 2, 3)), RNG.standard_normal((2, 2, 3))
    pairs = [
        (layers.add, layers.Add),
        (layers.subtract, layers.Subtract),
        (layers.multiply, layers.Multiply),
        (layers.average, layers.Average),
        (layers.maximum, layers.Maximum),
        (layers.minimum, layers.Minimum),
        (layers.concatenate, layers.Concatenate),
    ]
    for fn, cls in pairs:
        np.testing.assert_array_equal(np.asarray(fn([a, b])), np.asarray(cls()([a, b])))
    assert layers.concatenate([Input((4, 2)), Input((3, 2))], axis=1).shape == (None, 7, 2)


def test_maximum_tie_sends_the_gradient_to_the_first_input():
    x = np.array([[1.0, 2.0, 3.0]])
    a, b, c = Variable(x.copy()), Variable(x.copy()), Variable(x - 1)
    layers.Maximum()([a, b, c]).sum().backward()
    np.testing.assert_array_equal(a.grad, [[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(b.grad, [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(c.grad, [[0.0, 0.0, 0.0]])


def test_concatenate_with_unknown_sizes():
    a, b = Input(shape=(None, None, 3)), Input(shape=(None, None, 2))
    assert layers.Concatenate()([a, b]).shape == (None, None, None, 5)
    assert layers.Concatenate(axis=1)([a, a]).shape == (None, None, None, 3)


@pytest.mark.parametrize(
    "make, inputs, match",
    [
        (layers.Subtract, [(2, 3)] * 3, r"`Subtract` layer should be called on exactly 2 inputs"),
        (layers.Add, [(2, 3), (2, 4)], r"Inputs have incompatible shapes"),
        (layers.Multiply, [(2, 3), (3, 3)], r"Cannot merge tensors with different batch sizes"),
        (
            layers.Concatenate,
            [(2, 3, 4), (2, 2, 5)],
            r"`Concatenate` layer requires inputs with matching shapes except for the "
            r"concatenation axis. Received: input_shape=\[\(\w+, 3, 4\), \(\w+, 2, 5\)\]",
        ),
        (layers.Concatenate, [(2, 3, 4), (2, 3)], r"matching shapes except for the concat"),
        (lambda: layers.Concatenate(axis=3), [(2, 3), (2, 3)], r"`axis`: 3 is out of range"),
    ],
)
def test_shape_errors(make, inputs, match):
    with pytest.raises(ValueError, match=match):
        make()([np.zeros(s, "float32") for s in inputs])
    with pytest.raises(ValueError, match=match):  # the same check when building a graph
        make()([Input(shape=s[1:], batch_size=s[0]) for s in inputs])


def test_single_tensor_is_not_a_list():
    with pytest.raises(ValueError, match=r"`Add` layer should be called on a list"):
        layers.Add()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"Argument `axis` must be an integer"):
        layers.Concatenate(axis="channels")


def _inception_block(x, f1, f3, f5, fp):
    b1 = layers.Conv2D(f1, 1, activation="relu")(x)
    b3 = layers.Conv2D(f3, 3, padding="same", activation="relu")(x)
    b5 = layers.Conv2D(f5, 5, padding="same", activation="relu")(x)
    bp = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = layers.Conv2D(fp, 1, activation="relu")(bp)
    return layers.Concatenate()([b1, b3, b5, bp])


def _residual_block(x, filters, strides):
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu")(x)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    if strides != 1 or x.shape[-1] != filters:  # projection shortcut
        x = layers.Conv2D(filters, 1, strides=strides)(x)
    return layers.Activation("relu")(layers.Add()([x, y]))


@pytest.mark.parametrize("kind", ["inception", "resnet"])
def test_branched_models_build_train_and_predict(kind):
    inputs = Input(shape=(8, 8, 3))
    if kind == "inception":
        x = _inception_block(inputs, 4, 6, 2, 3)
        assert x.shape == (None, 8, 8, 15)
    else:
        x = _residual_block(inputs, 4, 1)
        x = _residual_block(x, 6, 2)
        assert x.shape == (None, 4, 4, 6)
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    model = Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x_train = RNG.standard_normal((6, 8, 8, 3)).astype("float32")
    y_train = np.array([0, 1, 2, 0, 1, 2])
    before = model.get_weights()
    history = model.fit(x_train, y_train, epochs=1, batch_size=6, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for w_before, w_after in zip(before, model.get_weights()):
        assert not np.allclose(w_before, w_after), "a weight did not change: no gradient reached"
    probs = model.predict(x_train, verbose=0)
    assert probs.shape == (6, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_two_input_model_with_subtract():
    a, b = Input(shape=(4,)), Input(shape=(4,))
    shared = layers.Dense(3)
    model = Model([a, b], layers.Subtract()([shared(a), shared(b)]))
    xa, xb = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))
    out = model.predict([xa, xb], verbose=0)
    kernel, _ = shared.get_weights()  # the bias cancels
    np.testing.assert_allclose(out, (xa - xb) @ kernel, rtol=1e-4, atol=1e-5)


def test_merge_accepts_tensors_and_keeps_the_graph():
    a = Variable(np.ones((1, 2)))
    out = layers.Multiply()([a, Tensor(np.full((1, 2), 3.0))])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [[3.0, 3.0]])
