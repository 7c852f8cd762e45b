"""Keras's ``save_assets(folder)``/``load_assets(folder)`` hooks of a user's layer: what the
layer writes goes into the archive under ``assets/<layer path>/`` as Keras puts it, and comes
back to the loaded layer in a temporary folder (both ways with Keras where it is importable)."""

from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np
import pytest

import cnnkit
from cnnkit.saving import archive


def _asset_layer_class(base):
    class LayerWithCustomAssets(base.layers.Layer):
        def __init__(self, vocab=None, **kwargs):
            super().__init__(**kwargs)
            self.vocab = vocab

        def call(self, x):
            return x

        def save_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt"), "w") as f:
                f.write(self.vocab)
            os.makedirs(os.path.join(inner_path, "extra"))
            with open(os.path.join(inner_path, "extra", "counts.bin"), "wb") as f:
                f.write(bytes(range(5)))

        def load_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt")) as f:
                self.vocab = f.read().replace("<unk>", "little")
            with open(os.path.join(inner_path, "extra", "counts.bin"), "rb") as f:
                self.counts = f.read()

        def get_config(self):
            return {**super().get_config(), "vocab": self.vocab}

    return LayerWithCustomAssets


def _model(lib, cls):
    model = lib.Sequential(
        [lib.Input((3,)), cls(vocab="Mary had a <unk> lamb."), lib.layers.Dense(2)]
    )
    model(np.ones((1, 3), "float32"))
    return model


@pytest.mark.parametrize("zipped", [True, False])
def test_a_layers_assets_are_saved_where_keras_puts_them_and_given_back(tmp_path, zipped):
    cls = _asset_layer_class(cnnkit)
    path = str(tmp_path / ("m.keras" if zipped else "m_folder"))
    _model(cnnkit, cls).save(path, zipped=zipped)
    if zipped:
        names = zipfile.ZipFile(path).namelist()
    else:
        names = [
            os.path.relpath(os.path.join(r, n), path).replace(os.sep, "/")
            for r, _, ns in os.walk(path)
            for n in ns
        ]
    prefix = "assets/layers/layer_with_custom_assets/"
    assert prefix + "vocabulary.txt" in names and prefix + "extra/counts.bin" in names
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every asset is read: no "not read" warning
        restored = cnnkit.saving.load_model(path, custom_objects={cls.__name__: cls})
    layer = restored.layers[0]
    assert layer.vocab == "Mary had a little lamb."
    assert layer.counts == bytes(range(5))


def test_assets_no_layer_reads_are_reported(tmp_path):
    cls = _asset_layer_class(cnnkit)
    path = str(tmp_path / "m.keras")
    _model(cnnkit, cls).save(path)

    class Plain(cnnkit.layers.Layer):  # the same name and config, without load_assets
        def __init__(self, vocab=None, **kwargs):
            super().__init__(**kwargs)
            self.vocab = vocab

        def call(self, x):
            return x

    with pytest.warns(UserWarning, match="no layer of the model reads"):
        restored = cnnkit.saving.load_model(path, custom_objects={cls.__name__: Plain})
    assert restored.layers[0].vocab == "Mary had a <unk> lamb."


def test_assets_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch):
    cls = _asset_layer_class(cnnkit)
    path = str(tmp_path / "m.keras")
    _model(cnnkit, cls).save(path)
    monkeypatch.setattr(archive, "MAX_ASSETS_BYTES", 10)
    with pytest.raises(ValueError, match="assets declare 27 bytes, more than the 10 allowed"):
        cnnkit.saving.load_model(path, custom_objects={cls.__name__: cls})


def test_a_symbolic_link_among_a_folders_assets_is_refused(tmp_path):
    cls = _asset_layer_class(cnnkit)
    path = tmp_path / "m_folder"
    _model(cnnkit, cls).save(str(path), zipped=False)
    counts = path / "assets" / "layers" / "layer_with_custom_assets" / "extra" / "counts.bin"
    counts.unlink()
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the model")
    counts.symlink_to(secret)
    with pytest.raises(ValueError, match="is a symbolic link"):
        cnnkit.saving.load_model(str(path), custom_objects={cls.__name__: cls})


def test_assets_move_between_keras_and_cnnkit_both_ways(tmp_path):
    keras = pytest.importorskip("keras")
    ours, theirs = _asset_layer_class(cnnkit), _asset_layer_class(keras)
    cnnkit_file, keras_file = str(tmp_path / "c.keras"), str(tmp_path / "k.keras")
    _model(keras, theirs).save(keras_file)
    _model(cnnkit, ours).save(cnnkit_file)
    assert sorted(zipfile.ZipFile(cnnkit_file).namelist()) == sorted(
        zipfile.ZipFile(keras_file).namelist()
    )
    from_keras = cnnkit.saving.load_model(keras_file, custom_objects={ours.__name__: ours})
    from_cnnkit = keras.saving.load_model(cnnkit_file, custom_objects={theirs.__name__: theirs})
    for model in (from_keras, from_cnnkit):
        assert model.layers[0].vocab == "Mary had a little lamb."
        assert model.layers[0].counts == bytes(range(5))


def test_assets_whose_names_clash_are_refused_naming_the_file(tmp_path):
    """A hostile archive holding both a file ``extra`` and a file ``extra/counts.bin``."""
    cls = _asset_layer_class(cnnkit)
    path = str(tmp_path / "m.keras")
    _model(cnnkit, cls).save(path)
    hostile = str(tmp_path / "hostile.keras")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(hostile, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("assets/layers/layer_with_custom_assets/extra", b"a file, not a folder")
    with pytest.raises(ValueError, match="hostile.keras.*cannot be given to layer"):
        cnnkit.saving.load_model(hostile, custom_objects={cls.__name__: cls})
