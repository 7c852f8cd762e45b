"""get_file, image file helpers, plot_model, Progbar, Config and the small keras.utils helpers."""

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import layers, utils

Image = pytest.importorskip("PIL.Image")


# -- get_file ----------------------------------------------------------------------------


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_get_file_downloads_checks_the_hash_and_uses_the_cache_offline(tmp_path):
    source = tmp_path / "src" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(b"payload")
    sha = hashlib.sha256(b"payload").hexdigest()
    cache = tmp_path / "cache"
    path = utils.get_file("data.bin", source.as_uri(), file_hash=sha, cache_dir=cache)
    assert path == str(cache / "datasets" / "data.bin")
    assert Path(path).read_bytes() == b"payload"
    source.unlink()  # offline from now on: the cached copy is used
    assert utils.get_file("data.bin", source.as_uri(), file_hash=sha, cache_dir=cache) == path
    with pytest.raises(ValueError, match="URL fetch failure.*not in the cache"):
        utils.get_file("other.bin", source.as_uri(), cache_dir=cache)


def test_get_file_rejects_a_wrong_hash_and_leaves_nothing(tmp_path):
    source = tmp_path / "data.bin"
    source.write_bytes(b"payload")
    with pytest.raises(ValueError, match="does not match"):
        utils.get_file("d.bin", source.as_uri(), file_hash="0" * 64, cache_dir=tmp_path / "c")
    assert not os.path.exists(tmp_path / "c" / "datasets" / "d.bin")


def test_get_file_extracts_archives_safely(tmp_path):
    good = tmp_path / "good.tar.gz"
    _tar(good, {"pkg/a.txt": b"A", "pkg/b/c.txt": b"C"})
    out = utils.get_file("good.tar.gz", good.as_uri(), extract=True, cache_dir=tmp_path / "c")
    assert Path(out, "pkg", "b", "c.txt").read_text() == "C"
    zipped = tmp_path / "z.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("x/y.txt", "Y")
    out = utils.get_file("z.zip", zipped.as_uri(), extract=True, cache_dir=tmp_path / "c")
    assert Path(out, "x", "y.txt").read_text() == "Y"
    evil = tmp_path / "evil.tar.gz"
    _tar(evil, {"ok.txt": b"fine", "../escape.txt": b"bad"})
    with pytest.raises(ValueError, match=r"Refusing to extract.*\.\./escape\.txt"):
        utils.get_file("evil.tar.gz", evil.as_uri(), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "escape.txt").exists()
    assert not (tmp_path / "c" / "datasets" / "evil.tar_extracted").exists()
    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as tar:
        info = tarfile.TarInfo("passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="link or a special file"):
        utils.get_file("link.tar", linked.as_uri(), extract=True, cache_dir=tmp_path / "c")


def test_get_file_needs_an_origin():
    with pytest.raises(ValueError, match="origin"):
        utils.get_file("x")


# -- image files -----------------------------------------------------------------------


def test_image_round_trip_through_files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 7, 3)).astype("float32")
    utils.save_img(tmp_path / "a.png", x, scale=False)
    img = utils.load_img(tmp_path / "a.png")
    assert img.size == (7, 5)
    np.testing.assert_array_equal(utils.img_to_array(img), x)
    gray = utils.img_to_array(utils.load_img(tmp_path / "a.png", color_mode="grayscale"))
    assert gray.shape == (5, 7, 1)
    small = utils.load_img(tmp_path / "a.png", target_size=(2, 3), interpolation="bilinear")
    assert small.size == (3, 2)
    chw = utils.img_to_array(img, data_format="channels_first")
    assert chw.shape == (3, 5, 7)
    scaled = utils.img_to_array(utils.array_to_img(x / 255.0 - 3.0))
    np.testing.assert_allclose(scaled, (x - x.min()) / (x.max() - x.min()) * 255, atol=1.0)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"bad\.png"):
        utils.load_img(tmp_path / "bad.png")
    with pytest.raises(ValueError, match="color_mode"):
        utils.load_img(tmp_path / "a.png", color_mode="cmyk")
    with pytest.raises(ValueError, match="rank 3"):
        utils.array_to_img(np.zeros((2, 2)))


# -- plot_model ----------------------------------------------------------------------------


def _nested_model():
    inner = keras.Sequential(
        [layers.Input((8,)), layers.Dense(4, activation="relu", name="d1")], name="inner"
    )
    a, b = layers.Input((8,), name="a"), layers.Input((8,), name="b")
    h = layers.Concatenate(name="cat")([inner(a), layers.Dense(4, name="side")(b)])
    return keras.Model([a, b], layers.Dense(1, name="out")(h))


def test_model_to_dot_has_every_layer_edge_and_shape():
    dot = utils.model_to_dot(_nested_model(), show_shapes=True, show_dtype=True).to_string()
    for text in (
        '"a" -> "inner"',
        '"b" -> "side"',
        '"inner" -> "cat"',
        '"cat" -> "out"',
        "Output shape: (None, 1)",
        "Input shape: [(None, 4), (None, 4)]",
        "Output dtype: float32",
    ):
        assert text in dot
    nested = utils.model_to_dot(_nested_model(), expand_nested=True).to_string()
    assert '"a" -> "inner/d1"' in nested and "subgraph cluster_0" in nested


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_plot_model_draws_a_non_blank_picture_without_graphviz(tmp_path, ext, monkeypatch):
    from cnnkit.utils import model_visualization

    monkeypatch.setattr(model_visualization.shutil, "which", lambda name: None)
    path = tmp_path / f"model.{ext}"
    utils.plot_model(_nested_model(), to_file=path, show_shapes=True, show_layer_names=True)
    if ext == "png":
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("L"))
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        dark = (pixels < 128).mean()
        assert 0.01 < dark < 0.5  # boxes, arrows and text on white
    else:
        svg = path.read_text()
        assert svg.count("<rect") >= 7 and svg.count("<line") == 5 and "cat (Concatenate)" in svg
    with pytest.raises(ValueError, match=r"draws \.svg"):
        utils.plot_model(_nested_model(), to_file=tmp_path / "model.pdf")


# -- small helpers -----------------------------------------------------------------------


def test_pack_and_unpack():
    x, y, w = np.zeros(2), np.ones(2), np.full(2, 3.0)
    assert utils.pack_x_y_sample_weight(x) is x
    assert utils.pack_x_y_sample_weight([x, y]) == ([x, y],)
    assert utils.unpack_x_y_sample_weight(utils.pack_x_y_sample_weight(x, y, w)) == (x, y, w)
    assert utils.unpack_x_y_sample_weight((x,)) == (x, None, None)
    with pytest.raises(ValueError, match="Data is expected"):
        utils.unpack_x_y_sample_weight((x, y, w, w))


def test_keras_tensors_and_sources():
    a, b = layers.Input((3,)), layers.Input((3,))
    out = layers.Dense(2)(layers.Add()([a, b]))
    assert utils.is_keras_tensor(out) and not utils.is_keras_tensor(np.zeros(3))
    assert utils.get_source_inputs(out) == [a, b]


def test_standardize_dtype_matches_keras():
    keras_utils = pytest.importorskip("keras").utils
    for dtype in [
        "int",
        int,
        float,
        "float16",
        np.float64,
        np.dtype("int8"),
        "bool",
        bool,
        "uint8",
    ]:
        assert utils.standardize_dtype(dtype) == keras_utils.standardize_dtype(dtype)
    with pytest.raises(ValueError, match="Invalid dtype: float"):
        utils.standardize_dtype("float")


def test_config_and_logging_switches():
    config = utils.Config(a=1)
    config.b = 2
    config["c"] = 3
    assert config.as_dict() == {"a": 1, "b": 2, "c": 3} and "b" in config
    config.freeze()
    with pytest.raises(ValueError, match="frozen"):
        config.d = 4
    utils.disable_interactive_logging()
    try:
        assert not utils.is_interactive_logging_enabled()
    finally:
        utils.enable_interactive_logging()
    assert utils.is_interactive_logging_enabled()


def test_progbar_averages_values_over_steps():
    stream = io.StringIO()
    bar = utils.Progbar(4, verbose=1, interval=0, stream=stream, stateful_metrics=["acc"])
    bar.update(1, [("loss", 4.0), ("acc", 0.5)])
    bar.update(3, [("loss", 1.0), ("acc", 0.7)])  # two steps at 1.0
    bar.add(1, [("loss", 2.0)])
    text = stream.getvalue()
    assert "4/4" in text and "loss: 2.0000" in text and "acc: 0.7000" in text


def test_serialization_names_are_reexported():
    from cnnkit import saving

    for name in [
        "custom_object_scope",
        "get_custom_objects",
        "register_keras_serializable",
        "serialize_keras_object",
        "deserialize_keras_object",
        "get_registered_name",
        "get_registered_object",
        "CustomObjectScope",
    ]:
        assert getattr(utils, name) is getattr(saving, name)
    assert utils.legacy.serialize_keras_object is saving.serialize_keras_object


def test_clear_session_resets_layer_names():
    utils.clear_session()
    first = layers.Dense(1).name
    utils.clear_session()
    assert layers.Dense(1).name == first
