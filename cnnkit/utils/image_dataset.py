"""``image_dataset_from_directory``: a folder of image files as a streaming ``Dataset``.

The files are listed, labelled, shuffled and split as Keras 3 does (see
:mod:`cnnkit.utils.dataset_utils`); the images are decoded by Pillow (JPEG, PNG, BMP, GIF:
the first frame) only when their batch is drawn, resized to ``image_size`` with
TensorFlow's bilinear/nearest sampling (``cnnkit.kernels.resize``) and returned as float32
``(batch, height, width, channels)`` arrays with values in ``[0, 255]``. Memory is one
batch and the shuffle buffer (``8 * batch_size`` paths), whatever the number of files.

As Keras's ``tf.data`` pipeline, the training dataset is shuffled again at each pass with a
buffer of ``8 * batch_size`` files (``1024`` when ``batch_size`` is ``None``).

Deliberate deviations from Keras 3:
    - Every file's header is read when the dataset is made: a file that Pillow cannot open
      raises a ``ValueError`` naming it there, not in the middle of an epoch (a file whose
      data is damaged after a valid header still raises a ``ValueError`` naming it when it
      is decoded).
    - ``interpolation`` is ``"bilinear"`` or ``"nearest"``; Keras's other methods raise
      ``NotImplementedError``.
"""

from __future__ import annotations

import os

import numpy as np

from cnnkit.utils import dataset_utils
from cnnkit.utils.dataset import Dataset

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def _check_headers(paths: list) -> None:
    """Open each file's header with Pillow; a ``ValueError`` naming the unreadable ones."""
    from cnnkit.utils.image_utils import pil_image

    image = pil_image()
    bad = []
    for path in paths:
        try:
            with image.open(path) as img:
                img.size  # noqa: B018 - the header is parsed by open()
        except (OSError, SyntaxError, ValueError, image.DecompressionBombError) as err:
            bad.append((path, err))
    if bad:
        path, err = bad[0]
        raise ValueError(
            f"{len(bad)} of the {len(paths)} image files cannot be read as images; the first "
            f"is {path!r} ({err}). Remove or replace them."
        )


def load_image(
    path,
    image_size,
    color_mode: str,
    interpolation: str,
    crop_to_aspect_ratio: bool,
    pad_to_aspect_ratio: bool,
    data_format: str = "channels_last",
) -> np.ndarray:
    """One image file as a float32 ``(height, width, channels)`` array, resized."""
    from cnnkit.autodiff import no_grad
    from cnnkit.kernels.resize import resize
    from cnnkit.utils.image_utils import open_image

    pixels = np.asarray(open_image(path, color_mode), dtype="float32")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[:2] == tuple(image_size):  # resizing to the same size is the identity
        return pixels.transpose(2, 0, 1) if data_format == "channels_first" else pixels
    with no_grad():
        out = np.asarray(
            resize(
                pixels,
                image_size,
                interpolation=interpolation,
                crop_to_aspect_ratio=crop_to_aspect_ratio,
                pad_to_aspect_ratio=pad_to_aspect_ratio,
            ).data
        )
    return out.transpose(2, 0, 1) if data_format == "channels_first" else out


def paths_and_labels_to_dataset(
    paths,
    labels,
    load,
    shuffle: bool,
    buffer_size: int,
    seed,
) -> Dataset:
    """Elements ``load(path)`` (or ``(load(path), label)``), shuffled per pass with a buffer."""
    if labels is None:
        ds = Dataset.from_tensor_slices(np.asarray(paths, dtype=object))
    else:
        ds = Dataset.from_tensor_slices((np.asarray(paths, dtype=object), labels))
    if shuffle:
        ds = ds.shuffle(buffer_size, seed=seed)
    if labels is None:
        return ds.map(lambda path: load(path))
    return ds.map(lambda path, label: (load(path), label))


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    format="tf",
    verbose=True,
):
    """A :class:`~cnnkit.utils.dataset.Dataset` of image batches (and labels) from a folder.

    Args:
        directory: with ``labels="inferred"``, one sub-folder per class holding its images
            (sub-folders of those are included); otherwise any folder of images.
        labels: ``"inferred"`` (from the folder names), ``None`` (images only), or a
            list/tuple of integer labels, one per image in sorted path order.
        label_mode: ``"int"`` (int32), ``"categorical"`` (one-hot float32), ``"binary"``
            (float32 ``(batch, 1)``, exactly 2 classes) or ``None`` (no labels).
        class_names: with ``"inferred"``: the class folders to use, in label order.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"`` (1, 3 or 4 channels).
        batch_size: images per batch; ``None`` yields single images.
        image_size: ``(height, width)`` (or one int) the images are resized to.
        shuffle: shuffle the files (else alphanumeric order).
        seed: the shuffles' seed; required with ``validation_split`` and ``shuffle``.
        validation_split: fraction of the files held out for validation.
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns both datasets).
        interpolation: ``"bilinear"`` or ``"nearest"``.
        follow_links: visit sub-folders that are symbolic links.
        crop_to_aspect_ratio: crop the centre to ``image_size``'s aspect ratio first.
        pad_to_aspect_ratio: pad (with zeros) to ``image_size``'s aspect ratio first.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        format: ``"tf"`` (accepted for compatibility: the result is a cnnkit ``Dataset``).
        verbose: print the number of files and classes found.

    Returns:
        A ``Dataset`` with ``class_names`` and ``file_paths``, or a list of two (training,
        validation) with ``subset="both"``.

    Raises:
        ValueError: on invalid arguments, an empty folder, or a file that is not an image
            (naming it).
    """
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                "as the number of image files in the target directory. If you wish to infer "
                'the labels from the subdirectory names in the target directory, pass `labels="'
                'inferred"`. If you wish to get a dataset that only contains images (no '
                f"labels), pass `labels=None`. Received: labels={labels}"
            )
        if class_names:
            raise ValueError(
                'You can only pass `class_names` if `labels="inferred"`. Received: '
                f"labels={labels}, and class_names={class_names}"
            )
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError(
            '`label_mode` argument must be one of "int", "categorical", "binary", or None. '
            f"Received: label_mode={label_mode}"
        )
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in _CHANNELS:
        raise ValueError(
            '`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
            f"Received: color_mode={color_mode}"
        )
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(
            "Invalid `image_size` value. Expected a tuple of 2 integers. "
            f"Received: image_size={image_size}"
        )
    from cnnkit.kernels.resize import check_interpolation

    interpolation = check_interpolation(interpolation)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`."
        )
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={data_format!r}"
        )
    if batch_size is not None:
        dataset_utils.check_batch_size(batch_size)
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)  # noqa: NPY002 - Keras's draw
    paths, labels, class_names = dataset_utils.index_directory(
        directory,
        labels,
        formats=ALLOWLIST_FORMATS,
        class_names=class_names,
        shuffle=shuffle,
        seed=seed,
        follow_links=follow_links,
        verbose=verbose,
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            'When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={class_names}"
        )
    _check_headers(paths)
    buffer_size = batch_size * 8 if batch_size is not None else 1024
    num_classes = len(class_names) if class_names else 0

    def load(path):
        return load_image(
            str(path),
            image_size,
            color_mode,
            interpolation,
            crop_to_aspect_ratio,
            pad_to_aspect_ratio,
            data_format or "channels_last",
        )

    def make(subset_paths, subset_labels, shuffled: bool) -> Dataset:
        if subset_labels is not None:
            subset_labels = dataset_utils.labels_array(subset_labels, label_mode, num_classes)
        ds = paths_and_labels_to_dataset(
            subset_paths, subset_labels, load, shuffled, buffer_size, seed
        )
        if batch_size is not None:
            ds = ds.batch(batch_size)
        ds.class_names = class_names
        ds.file_paths = list(subset_paths)
        return ds

    where = f"No images found in directory {os.fspath(directory)}."
    allowed = f" Allowed formats: {ALLOWLIST_FORMATS}"
    if subset == "both":
        train = dataset_utils.training_or_validation_split(
            paths, labels, validation_split, "training", verbose
        )
        val = dataset_utils.training_or_validation_split(
            paths, labels, validation_split, "validation", verbose
        )
        if not train[0]:
            raise ValueError(where.replace("No images", "No training images") + allowed)
        if not val[0]:
            raise ValueError(where.replace("No images", "No validation images") + allowed)
        return [make(*train, shuffle), make(*val, False)]
    paths, labels = dataset_utils.training_or_validation_split(
        paths, labels, validation_split, subset, verbose
    )
    if not paths:
        raise ValueError(where + allowed)
    return make(paths, labels, shuffle)
