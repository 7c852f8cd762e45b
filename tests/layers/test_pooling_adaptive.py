"""Adaptive pooling layers 1-D to 3-D: values against Keras 3 (torch backend) and a loop
reference, gradients, the lifecycle, configs and saving."""

import numpy as np
import pytest

from cnnkit import layers
from cnnkit.models import Model, load_model
from tests.harness import gradcheck, run_layer_test

RNG = np.random.default_rng(0)
NAMES = [f"Adaptive{kind}Pooling{rank}D" for kind in ("Average", "Max") for rank in (1, 2, 3)]
# (input spatial shape, output size): sizes that divide, that do not (overlapping windows),
# and an output larger than its input.
CASES = {
    1: [((9,), 4), ((6,), (3,)), ((3,), 5)],
    2: [((7, 9), (3, 4)), ((6, 6), 2)],
    3: [((5, 4, 6), (2, 3, 4)), ((4, 4, 4), 2)],
}


def _reference(x, sizes, reduce):
    """Loop reference, channels last: output ``i`` reduces ``[floor(iL/O), ceil((i+1)L/O))``."""
    out = np.zeros((x.shape[0], *sizes, x.shape[-1]), dtype=np.float64)
    for index in np.ndindex(*sizes):
        window = tuple(
            slice(i * length // o, -(-(i + 1) * length // o))
            for i, length, o in zip(index, x.shape[1:-1], sizes)
        )
        block = x[(slice(None), *window)]
        out[(slice(None), *index)] = reduce(block, axis=tuple(range(1, len(sizes) + 1)))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_adaptive_pooling_against_a_loop_reference(name):
    cls, rank = getattr(layers, name), int(name[-2])
    reduce = np.mean if "Average" in name else np.max
    for spatial, size in CASES[rank]:
        x = RNG.standard_normal((2, *spatial, 3)).astype("float32")
        sizes = (size,) * rank if isinstance(size, int) else size
        np.testing.assert_allclose(
            cls(size)(x).numpy(), _reference(x, sizes, reduce), rtol=1e-5, atol=1e-6
        )
        first = np.moveaxis(x, -1, 1)
        out = cls(size, data_format="channels_first")(first).numpy()
        np.testing.assert_allclose(np.moveaxis(out, 1, -1), cls(size)(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_adaptive_pooling_matches_keras(name, data_format):
    keras = pytest.importorskip("keras")
    rank = int(name[-2])
    for spatial, size in CASES[rank]:
        shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
        x = RNG.standard_normal(shape).astype("float32")
        theirs = getattr(keras.layers, name)(size, data_format=data_format)
        ours = getattr(layers, name)(size, data_format=data_format)
        expected = keras.ops.convert_to_numpy(theirs(x))
        np.testing.assert_allclose(ours(x).numpy(), expected, rtol=1e-5, atol=1e-6)
        assert ours.compute_output_shape(shape) == theirs.compute_output_shape(shape)
        assert ours.get_config()["output_size"] == theirs.get_config()["output_size"]


@pytest.mark.parametrize("name", ["AdaptiveMaxPooling3D", "AdaptiveAveragePooling3D"])
def test_adaptive_pooling_3d_gradients(name):
    layer = getattr(layers, name)((2, 3, 2), dtype="float64")
    x = RNG.standard_normal((1, 5, 4, 3, 2))
    gradcheck(lambda t: layer(t), x)


@pytest.mark.parametrize("name", NAMES)
def test_adaptive_pooling_lifecycle(name):
    rank = int(name[-2])
    spatial, size = CASES[rank][0]
    sizes = (size,) * rank if isinstance(size, int) else size
    run_layer_test(
        getattr(layers, name),
        {"output_size": size},
        (2, *spatial, 3),
        expected_output_shape=(2, *sizes, 3),
    )
    assert getattr(layers, name).samplewise


def test_adaptive_pooling_in_a_model_trains_saves_and_loads(tmp_path):
    inputs = layers.Input((9, 7, 2))
    x = layers.Conv2D(3, 3, padding="same")(inputs)
    x = layers.AdaptiveMaxPooling2D((2, 3))(x)
    x = layers.AdaptiveAveragePooling2D(1)(x)
    model = Model(inputs, layers.Flatten()(x))
    model.compile(optimizer="sgd", loss="mse")
    data = RNG.standard_normal((4, 9, 7, 2)).astype("float32")
    before = model.get_weights()[0].copy()
    model.fit(data, np.ones((4, 3), "float32"), epochs=1, verbose=0)
    assert not np.allclose(before, model.get_weights()[0])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0))


@pytest.mark.parametrize(
    "cls, kwargs, error, pattern",
    [
        (
            layers.AdaptiveAveragePooling2D,
            {"output_size": (2, 2, 2)},
            TypeError,
            r"integer or \(height, width\) tuple",
        ),
        (layers.AdaptiveMaxPooling1D, {"output_size": "2"}, TypeError, r"\(length,\) tuple"),
        (layers.AdaptiveMaxPooling3D, {"output_size": 0}, ValueError, "strictly positive"),
        (
            layers.AdaptiveMaxPooling2D,
            {"output_size": 2, "data_format": "nhwc"},
            ValueError,
            "Invalid data_format: nhwc",
        ),
    ],
)
def test_adaptive_pooling_bad_arguments(cls, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        cls(**kwargs)


def test_adaptive_pooling_checks_the_input_rank():
    with pytest.raises(ValueError, match="ndim"):
        layers.AdaptiveMaxPooling2D(2)(np.ones((2, 5, 3), "float32"))
