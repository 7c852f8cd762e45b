"""Grad-CAM: it points at the evidence, and leaves the model exactly as it found it."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

import cnnkit  # noqa: E402
from cnnkit import activations, layers  # noqa: E402
from cnnkit.models import Model, Sequential  # noqa: E402
from cnnkit.viz import grad_cam, plot_grad_cam  # noqa: E402

SIZE, SIDE = 16, 4


def square_images(n: int, rng):
    """Noise images; label 1 ones hold a bright SIDE x SIDE square at ``boxes[i]`` (row, col)."""
    x = rng.uniform(0.0, 0.6, (n, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, 2, n)
    boxes = rng.integers(0, SIZE - SIDE + 1, (n, 2))
    for i in np.flatnonzero(y):
        r, c = boxes[i]
        x[i, r : r + SIDE, c : c + SIDE] = 1.0
    return x, y, boxes


@pytest.fixture(scope="module")
def detector():
    """A small CNN trained (about a second) to tell images with a square from plain noise."""
    cnnkit.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y, _ = square_images(400, rng)
    i = layers.Input(shape=(SIZE, SIZE, 1))
    h = layers.Conv2D(8, 3, padding="same", activation="relu")(i)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(16, 3, padding="same", activation="relu", name="last_conv")(h)
    h = layers.GlobalMaxPooling2D()(h)
    model = Model(i, layers.Dense(2, activation="softmax", name="out")(h))
    model.compile(
        optimizer=cnnkit.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model


def test_the_heatmap_peaks_inside_the_square(detector):
    x, y, boxes = square_images(80, np.random.default_rng(1))
    assert detector.evaluate(x, y, verbose=0)[1] > 0.9
    hits = total = 0
    for i in np.flatnonzero(y == 1):
        heatmap = grad_cam(detector, x[i], class_index=1)
        assert heatmap.shape == (SIZE, SIZE) and heatmap.dtype == np.float32
        assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
        r, c = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        top, left = boxes[i]
        hits += bool(top <= r < top + SIDE and left <= c < left + SIDE)
        total += 1
    assert total > 20 and hits / total >= 0.7


def test_default_class_layer_and_state_left_untouched(detector):
    x, _, _ = square_images(4, np.random.default_rng(2))
    out_layer, conv = detector.get_layer("out"), detector.get_layer("last_conv")
    before = [w.numpy().copy() for w in detector.weights]
    predicted = detector.predict(x[:1], verbose=0)
    by_default = grad_cam(detector, x[0])
    explicit = grad_cam(detector, x[0], class_index=int(predicted.argmax()), layer="last_conv")
    np.testing.assert_array_equal(by_default, explicit)
    first = grad_cam(detector, x[0], layer=detector.layers[1])
    assert first.shape == (SIZE, SIZE)
    assert out_layer.activation is activations.softmax  # the linear swap was undone
    assert "call" not in vars(conv)  # the capturing hook was removed
    assert all(w.grad is None for w in detector.weights)
    for w, value in zip(detector.weights, before):
        np.testing.assert_array_equal(w.numpy(), value)
    np.testing.assert_allclose(detector.predict(x[:1], verbose=0), predicted, rtol=1e-6)


def test_errors_name_the_argument(detector):
    image = np.zeros((SIZE, SIZE, 1), dtype="float32")
    with pytest.raises(ValueError, match="class_index"):
        grad_cam(detector, image, class_index=2)
    with pytest.raises(ValueError, match="Expected one of the convolution layers"):
        grad_cam(detector, image, layer="out")
    dense_only = Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="no 2-D convolution layer"):
        grad_cam(dense_only, np.zeros(4))


def test_a_sequential_model_behind_augmentation_layers():
    cnnkit.utils.set_random_seed(1)
    inner = Sequential([layers.Input(shape=(8, 8, 3)), layers.Conv2D(4, 3, activation="relu"),
                        layers.Flatten(), layers.Dense(3, activation="softmax")])  # fmt: skip
    i = layers.Input(shape=(8, 8, 3))
    model = Model(i, inner(layers.RandomFlip("horizontal")(i)))
    heatmap = grad_cam(model, np.random.default_rng(0).random((8, 8, 3)))
    assert heatmap.shape == (8, 8) and 0.0 <= heatmap.min() <= heatmap.max() <= 1.0
    assert inner.layers[-1].activation is activations.softmax


def test_plot_grad_cam_overlays_each_image(tmp_path, detector):
    x, y, _ = square_images(3, np.random.default_rng(3))
    path = tmp_path / "cam.png"
    fig = plot_grad_cam(detector, x, labels=["noise", "square"], y=y, path=path)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == tuple(int(round(v * 100)) for v in fig.get_size_inches())
    assert len(fig.axes) == 3 and all(len(ax.images) == 2 for ax in fig.axes)
    assert fig.axes[0].get_title().startswith("pred: ")
    assert fig.axes[0].get_title().endswith(f"true: {['noise', 'square'][y[0]]}")
    assert len(plot_grad_cam(detector, x[0, ..., 0]).axes) == 1  # one (H, W) image
