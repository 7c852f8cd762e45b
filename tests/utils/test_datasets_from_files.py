"""Dataset, image/text/timeseries datasets from files and arrays, split_dataset."""

import os

import numpy as np
import pytest

from cnnkit import preprocessing, utils
from cnnkit.utils.dataset import Dataset

Image = pytest.importorskip("PIL.Image")

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


@pytest.fixture
def image_dir(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {}
    for c, cls in enumerate(["cat", "dog"]):
        os.makedirs(tmp_path / cls / "sub")
        for i in range(10):
            arr = (rng.random((12 + i, 9 + c, 3)) * 255).astype("uint8")
            ext = ["png", "bmp", "gif", "png", "jpg"][i % 5]
            name = f"sub/{i}.{ext}" if i == 7 else f"{i}.{ext}"
            Image.fromarray(arr).save(tmp_path / cls / name)
            pixels[str(tmp_path / cls / name)] = arr
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    os.makedirs(tmp_path / ".hidden")
    return tmp_path, pixels


# -- Dataset -------------------------------------------------------------------------


def test_dataset_transformations():
    ds = Dataset.from_tensor_slices((np.arange(10), np.arange(10) * 2))
    assert ds.cardinality() == 10 and len(ds.batch(3)) == 4
    assert len(ds.batch(3, drop_remainder=True)) == 3
    batches = list(ds.batch(4))
    np.testing.assert_array_equal(batches[-1][1], [16, 18])
    unbatched = [int(x) for x, _ in ds.batch(4).unbatch()]
    assert unbatched == list(range(10))
    assert [int(v) for v in ds.map(lambda x, y: x + y).skip(8)] == [24, 27]
    assert [int(x) for x, _ in ds.filter(lambda x, y: x % 3 == 0)] == [0, 3, 6, 9]
    assert ds.prefetch(2) is ds
    shuffled = ds.shuffle(10, seed=1)
    first, second = ([int(x) for x, _ in shuffled] for _ in range(2))
    assert sorted(first) == list(range(10)) and first != second  # reshuffled per pass
    assert [int(x) for x, _ in ds.shuffle(1)] == list(range(10))  # buffer 1: no change
    again = ds.shuffle(10, seed=1)
    assert [int(x) for x, _ in again] == first  # the same seed, the same passes
    fixed = ds.shuffle(10, seed=2, reshuffle_each_iteration=False)
    assert [int(x) for x, _ in fixed] == [int(x) for x, _ in fixed]
    assert len(list(ds.repeat(3))) == 30
    assert [int(v) for v in Dataset.range(3).repeat().take(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_dataset_cache_reads_the_source_once():
    calls = []

    def gen():
        for i in range(3):
            calls.append(i)
            yield np.float32(i)

    ds = Dataset.from_generator(gen).cache()
    assert [float(v) for v in ds] == [0.0, 1.0, 2.0]
    assert [float(v) for v in ds] == [0.0, 1.0, 2.0]
    assert calls == [0, 1, 2]


def test_dataset_errors():
    with pytest.raises(ValueError, match="must match along axis 0"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size"):
        Dataset.range(3).batch(0)
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())


# -- image_dataset_from_directory ------------------------------------------------------


def test_image_dataset_lists_labels_and_splits_as_keras(image_dir):
    kd = pytest.importorskip("keras.src.utils.dataset_utils")
    root, _ = image_dir
    train, val = utils.image_dataset_from_directory(
        root,
        image_size=(8, 8),
        batch_size=4,
        validation_split=0.3,
        subset="both",
        seed=7,
        verbose=False,
    )
    paths, labels, names = kd.index_directory(
        str(root), "inferred", formats=FORMATS, shuffle=True, seed=7, verbose=False
    )
    assert train.class_names == names == ["cat", "dog"]
    assert train.file_paths == paths[:-6] and val.file_paths == paths[-6:]
    # one pass of the validation set (not shuffled): the files in order, with their labels
    got = np.concatenate([y for _, y in val])
    np.testing.assert_array_equal(got, labels[-6:])
    assert len(train) == 4 and len(val) == 2


def test_image_values_match_bilinear_resize_of_the_decoded_file(image_dir):
    torch = pytest.importorskip("torch")
    root, pixels = image_dir
    ds = utils.image_dataset_from_directory(
        root, image_size=(6, 5), batch_size=None, shuffle=False, verbose=False
    )
    for (image, label), path in zip(ds, ds.file_paths):
        assert image.shape == (6, 5, 3) and image.dtype == np.float32
        with Image.open(path) as img:
            decoded = np.asarray(img.convert("RGB"), dtype="float32")
        if not path.endswith((".jpg", ".gif")):  # lossless formats hold the written pixels
            np.testing.assert_array_equal(decoded, pixels[path])
        ref = (
            torch.nn.functional.interpolate(
                torch.from_numpy(decoded).permute(2, 0, 1)[None],
                size=(6, 5),
                mode="bilinear",
                align_corners=False,
                antialias=False,
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        np.testing.assert_allclose(image, ref, atol=1e-3)
        assert label == (1 if "/dog/" in path else 0)


def test_label_modes_color_modes_and_aspect_ratio(image_dir):
    root, _ = image_dir
    common = dict(image_size=(4, 4), batch_size=20, shuffle=False, verbose=False)
    x, y = next(iter(utils.image_dataset_from_directory(root, label_mode="categorical", **common)))
    assert y.shape == (20, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y.sum(axis=1), 1)
    _, y = next(iter(utils.image_dataset_from_directory(root, label_mode="binary", **common)))
    assert y.shape == (20, 1) and set(np.unique(y)) == {0.0, 1.0}
    gray = next(
        iter(
            utils.image_dataset_from_directory(root, labels=None, color_mode="grayscale", **common)
        )
    )
    assert gray.shape == (20, 4, 4, 1)
    rgba = next(iter(utils.image_dataset_from_directory(root, color_mode="rgba", **common)))[0]
    assert rgba.shape == (20, 4, 4, 4)
    np.testing.assert_array_equal(rgba[..., 3], 255)
    only_dog = utils.image_dataset_from_directory(root, class_names=["dog"], **common)
    assert only_dog.class_names == ["dog"] and len(only_dog.file_paths) == 10
    listed = utils.image_dataset_from_directory(root, labels=list(range(20)), **common)
    assert listed.class_names == [str(i) for i in range(20)]


def test_crop_and_pad_to_aspect_ratio(tmp_path):
    wide = np.full((4, 16, 3), 200, dtype="uint8")
    wide[:, :4] = 10  # a dark left quarter
    Image.fromarray(wide).save(tmp_path / "wide.png")
    common = dict(labels=None, image_size=(4, 4), batch_size=None, verbose=False)
    padded = next(
        iter(utils.image_dataset_from_directory(tmp_path, pad_to_aspect_ratio=True, **common))
    )
    # padded to 16 x 16 (6 zero rows above and below); output row r samples padded rows
    # 4r + 1 and 4r + 2: rows 0 and 3 all padding, rows 1 and 2 half padding, half image
    np.testing.assert_array_equal(padded[[0, 3]], 0)
    np.testing.assert_array_equal(padded[1:3, 0], 5)
    np.testing.assert_array_equal(padded[1:3, 3], 100)
    cropped = next(
        iter(utils.image_dataset_from_directory(tmp_path, crop_to_aspect_ratio=True, **common))
    )
    np.testing.assert_array_equal(cropped, 200)  # the centred 4 x 4 window: no dark column
    stretched = next(iter(utils.image_dataset_from_directory(tmp_path, **common)))
    np.testing.assert_array_equal(stretched[:, 0], 10)
    with pytest.raises(ValueError, match="Only one of"):
        utils.image_dataset_from_directory(
            tmp_path, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True, **common
        )


def test_image_dataset_errors(image_dir, tmp_path_factory):
    root, _ = image_dir
    with pytest.raises(ValueError, match="must provide a `seed`"):
        utils.image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="label_mode"):
        utils.image_dataset_from_directory(root, label_mode="sparse")
    with pytest.raises(ValueError, match="exactly 2"):
        utils.image_dataset_from_directory(
            root, labels=[0, 1, 2] * 6 + [0, 1], label_mode="binary", verbose=False
        )
    with pytest.raises(ValueError, match="color_mode"):
        utils.image_dataset_from_directory(root, color_mode="cmyk")
    with pytest.raises(ValueError, match="batch_size"):
        utils.image_dataset_from_directory(root, batch_size=0)
    with pytest.raises(ValueError, match="class_names"):
        utils.image_dataset_from_directory(root, class_names=["bird"])
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="No images found"):
        utils.image_dataset_from_directory(empty, verbose=False)
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match=r"1 of the 21 .*broken\.jpg"):
        utils.image_dataset_from_directory(root, verbose=False)


def test_preprocessing_aliases():
    assert preprocessing.image_dataset_from_directory is utils.image_dataset_from_directory
    assert preprocessing.text_dataset_from_directory is utils.text_dataset_from_directory
    assert preprocessing.timeseries_dataset_from_array is utils.timeseries_dataset_from_array
    assert preprocessing.image.load_img is utils.load_img


# -- text and timeseries -----------------------------------------------------------------


def test_text_dataset_from_directory(tmp_path):
    for cls in ("neg", "pos"):
        os.makedirs(tmp_path / cls)
        for i in range(3):
            (tmp_path / cls / f"{i}.txt").write_text(f"{cls} review number {i}", "utf-8")
    ds = utils.text_dataset_from_directory(
        tmp_path, batch_size=4, max_length=7, shuffle=False, verbose=False
    )
    texts, labels = next(iter(ds))
    assert list(texts) == ["neg rev"] * 3 + ["pos rev"]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1])
    assert ds.class_names == ["neg", "pos"]
    (tmp_path / "pos" / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    ds = utils.text_dataset_from_directory(tmp_path, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match=r"bad\.txt.*UTF-8"):
        list(ds)


def test_timeseries_windows_strides_and_targets():
    data = np.arange(100)
    ds = utils.timeseries_dataset_from_array(
        data,
        data * 10,
        sequence_length=4,
        sequence_stride=3,
        sampling_rate=2,
        batch_size=5,
        start_index=10,
        end_index=60,
    )
    windows, targets = (np.concatenate(p) for p in zip(*ds))
    starts = np.arange(10, 60 - 6, 3)
    np.testing.assert_array_equal(windows, starts[:, None] + np.arange(0, 8, 2))
    np.testing.assert_array_equal(targets, starts * 10)
    shuffled = utils.timeseries_dataset_from_array(
        data, None, 5, shuffle=True, seed=1, batch_size=8
    )
    rows = np.concatenate(list(shuffled))
    assert sorted(rows[:, 0].tolist()) == list(range(96))
    with pytest.raises(ValueError, match="sampling_rate"):
        utils.timeseries_dataset_from_array(data, None, 3, sampling_rate=0)


def test_split_dataset():
    left, right = utils.split_dataset((np.arange(10), np.arange(10) * 2), left_size=0.7)
    assert len(left) == 7 and len(right) == 3
    assert [int(x) for x, _ in right] == [7, 8, 9]
    left, right = utils.split_dataset(np.arange(10), right_size=4, shuffle=True, seed=0)
    values = sorted(int(v) for v in list(left) + list(right))
    assert values == list(range(10)) and len(right) == 4
    with pytest.raises(ValueError, match="left_size"):
        utils.split_dataset(np.arange(10), left_size=1.5)


def test_images_already_at_the_target_size_are_returned_as_decoded(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 256, (6, 5, 3)).astype("uint8")
    Image.fromarray(pixels).save(tmp_path / "a.png")
    for interpolation in ("bilinear", "nearest"):
        ds = utils.image_dataset_from_directory(
            tmp_path,
            labels=None,
            image_size=(6, 5),
            batch_size=None,
            verbose=False,
            interpolation=interpolation,
        )
        np.testing.assert_array_equal(next(iter(ds)), pixels.astype("float32"))
    first = utils.image_dataset_from_directory(
        tmp_path,
        labels=None,
        image_size=(6, 5),
        batch_size=None,
        verbose=False,
        data_format="channels_first",
    )
    np.testing.assert_array_equal(next(iter(first)), pixels.transpose(2, 0, 1))
