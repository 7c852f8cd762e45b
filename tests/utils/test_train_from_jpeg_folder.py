"""A folder of real JPEG files trains through image_dataset_from_directory as the arrays do."""

import os

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers, utils

Image = pytest.importorskip("PIL.Image")

CLASSES = (0, 1, 7, 8)  # T-shirt, trouser, sneaker, bag
PER_CLASS = 80


def _source_images():
    """Fashion-MNIST images of 4 classes, or class-separable synthetic ones without it."""
    try:
        from cnnkit.datasets import fashion_mnist

        (x, y), _ = fashion_mnist.load_data("/usr/share/datasets/fashion-mnist")
        picks = np.concatenate([np.flatnonzero(y == c)[:PER_CLASS] for c in CLASSES])
        return x[picks], np.repeat(np.arange(len(CLASSES)), PER_CLASS)
    except (FileNotFoundError, ValueError, OSError):
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(len(CLASSES)), PER_CLASS)
        x = rng.integers(0, 60, (len(labels), 28, 28)).astype("uint8")
        for c in range(len(CLASSES)):  # a bright bar whose position is the class
            x[labels == c, 4 + 5 * c : 8 + 5 * c, 4:24] = 230
        return x, labels


@pytest.fixture(scope="module")
def jpeg_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("jpegs")
    x, labels = _source_images()
    for i, (image, label) in enumerate(zip(x, labels)):
        folder = root / f"class_{label}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:04d}.jpg", quality=95)
    return root, x, labels


def _model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            layers.Input((28, 28, 1)),
            layers.Rescaling(1 / 255),
            layers.RandomTranslation(0.05, 0.05, seed=1),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(len(CLASSES), activation="softmax"),
        ]
    )


def _compile(model):
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_jpeg_folder_trains_to_the_accuracy_of_the_arrays(jpeg_folder):
    root, x, labels = jpeg_folder
    assert len(os.listdir(root)) == len(CLASSES)
    train, val = utils.image_dataset_from_directory(
        root,
        color_mode="grayscale",
        image_size=(28, 28),
        batch_size=32,
        validation_split=0.25,
        subset="both",
        seed=3,
        verbose=False,
    )
    assert len(train.file_paths) == 240 and len(val.file_paths) == 80
    assert not set(train.file_paths) & set(val.file_paths)
    streamed = _compile(_model())
    history = streamed.fit(train, epochs=6, validation_data=val, verbose=0)
    streamed_acc = history.history["val_accuracy"][-1]

    # the same images, as arrays (the originals, before JPEG), split the same way
    def index(paths):
        return np.array([int(os.path.basename(p)[:4]) for p in paths])

    tr, va = index(train.file_paths), index(val.file_paths)
    np.testing.assert_array_equal(labels[va], np.concatenate([y for _, y in val]))
    arrays = _compile(_model())
    history = arrays.fit(
        x[tr, :, :, None].astype("float32"),
        labels[tr],
        batch_size=32,
        epochs=6,
        validation_data=(x[va, :, :, None].astype("float32"), labels[va]),
        verbose=0,
    )
    array_acc = history.history["val_accuracy"][-1]
    assert streamed_acc > 0.8 and array_acc > 0.8
    assert abs(streamed_acc - array_acc) <= 0.08
    # predict and evaluate take the dataset too, in file order
    probabilities = streamed.predict(val, verbose=0)
    assert probabilities.shape == (80, len(CLASSES))
    accuracy = (probabilities.argmax(1) == labels[va]).mean()
    np.testing.assert_allclose(streamed.evaluate(val, verbose=0)[1], accuracy, atol=1e-6)
