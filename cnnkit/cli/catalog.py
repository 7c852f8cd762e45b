"""The datasets and models ``cnnkit train`` knows: the one place where they are registered.

A new image model is one line in ``IMAGE_MODELS`` (its builder in :mod:`cnnkit.applications`,
called as ``builder(input_shape=..., classes=...)``); a new text model one line in
``TEXT_MODELS`` (``builder(vocab_size, sequence_length=..., classes=...)``); a new dataset one
line in ``IMAGE_DATASETS`` or ``TEXT_DATASETS`` (its module in :mod:`cnnkit.datasets`) and,
if its classes have names, one in ``CLASS_NAMES``. ``train``'s ``--model`` and ``--dataset``
choices, the rebuilding of a run saved as ``weights.npz`` and the class names that
``evaluate``/``predict`` print all come from these tables.
"""

from __future__ import annotations

import numpy as np

# --dataset name -> module of cnnkit.datasets
IMAGE_DATASETS = {"fashion-mnist": "fashion_mnist", "mnist": "mnist", "cifar10": "cifar10"}
TEXT_DATASETS = {"spam": "spam"}
# --model name -> builder in cnnkit.applications
IMAGE_MODELS = {
    "lecture-cnn": "lecture_cnn",
    "vgg-cifar": "vgg_cifar",
    "lenet5": "LeNet5",
    "alexnet": "AlexNet",
    "vgg16": "VGG16",
    "googlenet": "GoogLeNet",
    "resnet": "resnet_small",
}
TEXT_MODELS = {
    "text-cnn": "text_cnn",
    "lstm": "lstm_classifier",
    "transformer": "transformer_classifier",
}

DATASETS = (*IMAGE_DATASETS, *TEXT_DATASETS)
MODELS = (*IMAGE_MODELS, *TEXT_MODELS)

CLASS_NAMES = {
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    "mnist": tuple(str(d) for d in range(10)),
    "spam": ("ham", "spam"),
}  # fmt: skip


def _dataset_module(name: str):
    import importlib

    module = {**IMAGE_DATASETS, **TEXT_DATASETS}[name]
    return importlib.import_module(f"cnnkit.datasets.{module}")


def class_names(dataset: str | None) -> tuple[str, ...] | None:
    """The class names of a known dataset, indexed by label; ``None`` for others."""
    if dataset == "cifar10":
        return tuple(_dataset_module(dataset).CLASS_NAMES)
    return CLASS_NAMES.get(dataset)


def load_dataset(name: str):
    """``(x_train, y_train), (x_test, y_test)`` of an image dataset: float32 NHWC images in
    [0, 1], integer labels."""
    (x_train, y_train), (x_test, y_test) = _dataset_module(name).load_data()
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        x = x.astype("float32")
        x /= np.float32(255.0)
        splits.append((x if x.ndim == 4 else x[..., None], y.reshape(-1)))
    return splits[0], splits[1]


def load_text_dataset(name: str, num_words: int, maxlen: int):
    """``(x_train, y_train), (x_test, y_test)`` of a text dataset: int32 padded word indices,
    integer labels."""
    return _dataset_module(name).load_data(num_words=num_words, maxlen=maxlen)


def dataset_hashes(name: str) -> dict:
    """``{file: SHA-256}`` that the dataset's loader checks its files against (may be empty)."""
    module = _dataset_module(name)
    if name == "cifar10":  # one archive
        return {module.ARCHIVE: module.ARCHIVE_SHA256}
    return dict(getattr(module, "PAYLOAD_SHA256", None) or getattr(module, "ARCHIVE_SHA256", {}))


def build_model(name: str, input_shape: tuple, classes: int, augment: bool = False):
    """One of ``IMAGE_MODELS`` for images of ``input_shape``, optionally behind augmentation
    layers (random flips for colour images, translations and zoom)."""
    from cnnkit import applications, layers
    from cnnkit.models import Model

    builder = getattr(applications, IMAGE_MODELS[name])
    model = builder(input_shape=tuple(input_shape), classes=classes)
    if not augment:
        return model
    i = layers.Input(shape=tuple(input_shape))
    x = i
    if input_shape[-1] == 3:  # natural images: a mirrored photo is still the same class
        x = layers.RandomFlip("horizontal")(x)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")(x)
    x = layers.RandomZoom(0.1, fill_mode="nearest")(x)
    return Model(i, model(x), name=f"{model.name}_augmented")


def build_text_model(name: str, vocab_size: int, maxlen: int, classes: int):
    """One of ``TEXT_MODELS`` over sequences of ``maxlen`` word indices below ``vocab_size``."""
    from cnnkit import applications

    builder = getattr(applications, TEXT_MODELS[name])
    return builder(vocab_size, sequence_length=maxlen, classes=classes)


def _is_count(value) -> bool:
    return type(value) is int and 0 < value <= 1 << 24


def rebuild(run):
    """The untrained architecture of a :class:`cnnkit.runs.Run`, from its ``config.json``
    (model, augmentation, text settings) and ``dataset.json`` (input shape, classes).

    Raises:
        ValueError: naming the file, if a setting the model needs is missing or invalid.
    """
    from cnnkit import runs

    config, dataset = run.config(), run.read_json(runs.DATASET)
    if not config or dataset is None or config.get("model") not in MODELS:
        raise ValueError(
            f"{run.path}: cannot rebuild the model from {runs.WEIGHTS} without the run's "
            f"{runs.CONFIG} and {runs.DATASET}."
        )
    text = config["model"] in TEXT_MODELS
    needs = {"classes": dataset, **({"num_words": config, "maxlen": config} if text else {})}
    if not text:
        needs["input_shape"] = dataset
    for key, source in needs.items():
        value = source.get(key)
        ok = (
            _is_count(value)
            if key != "input_shape"
            else (isinstance(value, list) and 1 <= len(value) <= 3 and all(map(_is_count, value)))
        )
        if not ok:
            name = runs.DATASET if source is dataset else runs.CONFIG
            raise ValueError(
                f"{run.path / name}: {key!r} must be a positive integer"
                f"{' list' if key == 'input_shape' else ''}; found {value!r:.80}."
            )
    classes = int(dataset["classes"])
    if text:
        return build_text_model(config["model"], config["num_words"], config["maxlen"], classes)
    return build_model(
        config["model"], tuple(dataset["input_shape"]), classes, bool(config.get("augment"))
    )
