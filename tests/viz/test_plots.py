"""Every plot function: a Figure back, and a valid PNG of the figure's pixel size on disk."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

import cnnkit  # noqa: E402
from cnnkit import layers, viz  # noqa: E402
from cnnkit.models import Model, Sequential  # noqa: E402


def check_png(fig, path):
    """``path`` is a PNG whose size is the figure's size in inches times 100 dpi."""
    width, height = (int(round(v * 100)) for v in fig.get_size_inches())
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (width, height)
        image.verify()
    with Image.open(path) as image:  # verify() leaves the file unusable
        pixels = np.asarray(image.convert("L"), dtype="float64")
    assert pixels.std() > 1.0  # something was drawn
    assert not list(path.parent.glob(f".{path.name}.*"))  # no temporary file left behind


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


@pytest.fixture(scope="module")
def cnn():
    cnnkit.utils.set_random_seed(0)
    i = layers.Input(shape=(12, 12, 1))
    x = layers.Conv2D(6, 3, activation="relu", name="first")(i)
    x = layers.Conv2D(4, 3, activation="relu", name="second")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return Model(i, layers.Dense(3, activation="softmax")(x))


def test_importing_cnnkit_and_viz_does_not_import_matplotlib():
    code = "import sys, cnnkit, cnnkit.viz; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_prints_values_in_cells(normalize, tmp_path):
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]])
    path = tmp_path / "cm.png"
    fig = viz.plot_confusion_matrix(cm, ["cat", "dog", "fox"], normalize=normalize, path=path)
    check_png(fig, path)
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert len(cells) == 9
    if normalize:
        assert cells[:3] == ["0.83", "0.17", "0.00"] and cells[-1] == "0.00"  # empty row: zeros
    else:
        assert cells[:4] == ["5", "1", "0", "2"]
    assert fig.axes[0].get_title() == "Confusion matrix"
    assert fig.axes[0].get_xlabel() == "Predicted label"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["cat", "dog", "fox"]


def test_confusion_matrix_validates_its_arguments():
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="Expected 2 names"):
        viz.plot_confusion_matrix(np.ones((2, 2)), ["a"])


def test_history_from_a_history_object_and_from_its_dict(tmp_path, cnn):
    x = np.random.default_rng(0).random((12, 12, 12, 1)).astype("float32")
    y = np.arange(12) % 3
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = cnn.fit(x, y, epochs=2, validation_data=(x, y), verbose=0)
    path = tmp_path / "history.png"
    fig = viz.plot_history(history, path=path)
    check_png(fig, path)
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]
    assert len(fig.axes[0].lines) == 2  # training and validation
    loss_only = viz.plot_history({"loss": [1.0, 0.5, 0.3]})
    assert [ax.get_title() for ax in loss_only.axes] == ["Loss"]
    with pytest.raises(ValueError, match="no `loss`"):
        viz.plot_history({"accuracy": [0.5]})
    with pytest.raises(TypeError, match="History"):
        viz.plot_history([1.0, 2.0])


def test_misclassified_gallery_titles_true_and_predicted_labels(tmp_path):
    x = np.random.default_rng(1).random((10, 8, 8))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    probabilities = np.eye(3)[[0, 2, 2, 1, 1, 2, 0, 0, 2, 0]]  # wrong at 1, 3, 7
    path = tmp_path / "wrong.png"
    fig = viz.plot_misclassified(probabilities, x, y, labels=["cat", "dog", "fox"], path=path)
    check_png(fig, path)
    assert [ax.get_title() for ax in fig.axes] == [
        "true: dog\npred: fox",
        "true: cat\npred: dog",
        "true: dog\npred: cat",
    ]
    assert len(viz.plot_misclassified(probabilities, x, y, n=2).axes) == 2
    rgb = viz.plot_misclassified(np.array([1, 0]), np.ones((2, 5, 5, 3)), [0, 1])
    assert rgb.axes[0].get_title() == "true: 0\npred: 1"
    none_wrong = viz.plot_misclassified(y, x, y)
    assert "No misclassified examples" in texts(none_wrong)
    with pytest.raises(ValueError, match="positive integer"):
        viz.plot_misclassified(y, x, y, n=0)


def test_misclassified_runs_a_model(cnn):
    x = np.random.default_rng(2).random((6, 12, 12, 1)).astype("float32")
    predicted = cnn.predict(x, verbose=0).argmax(axis=1)
    fig = viz.plot_misclassified(cnn, x, (predicted + 1) % 3)
    assert len(fig.axes) == 6


def test_lr_schedule(tmp_path):
    from cnnkit.optimizers import schedules

    path = tmp_path / "lr.png"
    schedule = schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.5)
    fig = viz.plot_lr_schedule(schedule, 50, path=path)
    check_png(fig, path)
    x, y = fig.axes[0].lines[0].get_data()
    assert x[0] == 0 and x[-1] == 49
    assert y[0] == pytest.approx(0.01) and y[-1] == pytest.approx(0.01 * 0.5**4.9, rel=1e-4)
    flat = viz.plot_lr_schedule(0.001, 5)
    assert list(flat.axes[0].lines[0].get_data()[1]) == [0.001] * 5
    with pytest.raises(ValueError, match="steps"):
        viz.plot_lr_schedule(schedule, 0)


def test_filters_of_the_first_convolution(tmp_path, cnn):
    path = tmp_path / "filters.png"
    fig = viz.plot_filters(cnn, path=path)
    check_png(fig, path)
    assert len(fig.axes) == 6  # the first layer's 6 filters
    assert fig.texts[0].get_text() == "first: 6 filters of 3x3x1"
    assert len(viz.plot_filters(cnn.get_layer("second"), max_filters=2).axes) == 2
    rgb = layers.Conv2D(3, 5)
    rgb.build((None, 9, 9, 3))
    assert viz.plot_filters(rgb).axes[0].images[0].get_array().shape == (5, 5, 3)
    with pytest.raises(TypeError, match="convolution layer"):
        viz.plot_filters(layers.Dense(2))


def test_feature_maps_one_row_per_convolution_layer(tmp_path, cnn):
    image = np.random.default_rng(3).random((12, 12, 1)).astype("float32")
    path = tmp_path / "maps.png"
    fig = viz.plot_feature_maps(cnn, image, path=path)
    check_png(fig, path)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["input", "first  10x10x6", "second  8x8x4"]
    assert len(fig.axes) == 1 + 6 + 4
    maps = viz.feature_maps(cnn, image[..., 0], layers=["second"])  # (H, W) gets its channel
    expected = Model(cnn.inputs, cnn.get_layer("second").output).predict(image[None], verbose=0)
    np.testing.assert_allclose(maps[0][1], expected[0], rtol=1e-6)
    with pytest.raises(ValueError, match="convolution layers"):
        viz.plot_feature_maps(cnn, image, layers=["dense"])


def test_feature_maps_of_a_sequential_model_nested_in_another():
    inner = Sequential([layers.Input(shape=(10, 10, 1)), layers.Conv2D(2, 3, name="inner_conv"),
                        layers.Flatten(), layers.Dense(2)])  # fmt: skip
    i = layers.Input(shape=(10, 10, 1))
    outer = Model(i, inner(layers.RandomTranslation(0.1, 0.1)(i)))
    assert [layer.name for _, layer in viz.conv_layers(outer)] == ["inner_conv"]
    fig = viz.plot_feature_maps(outer, np.ones((10, 10, 1)), max_maps=1)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="no 2-D convolution layer"):
        viz.plot_feature_maps(Sequential([layers.Input(shape=(3,)), layers.Dense(1)]), np.ones(3))


def test_convolution_modes_and_their_output_sizes(tmp_path):
    image = np.random.default_rng(4).random((20, 24))
    path = tmp_path / "conv.png"
    fig = viz.plot_convolution(image, path=path)  # the lecture's blur and edge examples
    check_png(fig, path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "input 20x24", "gaussian, valid\n14x18", "gaussian, same\n20x24", "gaussian, full\n26x30",
        "input 20x24", "sobel-x, valid\n18x22", "sobel-x, same\n20x24", "sobel-x, full\n22x26",
    ]  # fmt: skip
    custom = viz.plot_convolution(np.ones((6, 6, 3)), np.ones((2, 3)), modes="full")
    assert [ax.get_title() for ax in custom.axes] == ["input 6x6", "2x3 kernel, full\n7x8"]
    with pytest.raises(ValueError, match="modes"):
        viz.plot_convolution(image, "laplacian", modes=("wrap",))
    with pytest.raises(ValueError, match="kernel name"):
        viz.plot_convolution(image, "emboss")
