"""Loading trusts nothing in the file: no pickle, no code, no imports, bounded reads."""

from __future__ import annotations

import ast
import io
import json
import os
import pathlib
import stat
import sys
import zipfile

import pytest

from cnnkit import layers as L
from cnnkit.models import load_model
from cnnkit.saving import archive, deserialize_keras_object
from tests.saving.models import seq

SAVING = pathlib.Path(__file__).resolve().parents[2] / "cnnkit" / "saving"


def saved(tmp_path) -> pathlib.Path:
    path = tmp_path / "m.keras"
    seq((3,), L.Dense(2, name="d")).save(path)
    return path


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rewrite(path, contents: dict, extra=(), compression=zipfile.ZIP_STORED) -> None:
    """Write ``contents`` (name -> bytes) and ``extra`` ZipInfo entries as the archive."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)


def with_config(path, edit) -> None:
    contents = members(path)
    config = json.loads(contents["config.json"])
    edit(config)
    contents["config.json"] = json.dumps(config).encode()
    rewrite(path, contents)


def test_no_pickle_eval_or_dynamic_imports_in_the_saving_code():
    unsafe_modules = {"pickle", "marshal", "importlib", "dill", "cloudpickle", "shelve", "yaml"}
    unsafe_builtins = {"eval", "exec", "compile", "__import__"}
    unsafe_methods = {"import_module", "extractall", "extract"}
    for file in SAVING.glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & unsafe_modules, file
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in unsafe_modules, file
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name):
                    assert func.id not in unsafe_builtins, (file, func.id)
                else:
                    assert getattr(func, "attr", "") not in unsafe_methods, file
                assert all(k.arg != "allow_pickle" for k in node.keywords), file


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/abs/path.txt", "assets/../../x", "a\\b.txt", "C:/x.txt"]
)
def test_unsafe_entry_names_refuse_the_archive(tmp_path, name):
    path = saved(tmp_path)
    rewrite(path, members(path), extra=[(zipfile.ZipInfo(name), b"x")])
    with pytest.raises(ValueError, match="unsafe entry name"):
        load_model(path)


def test_symlinks_duplicates_and_encrypted_entries_refuse_the_archive(tmp_path):
    path = saved(tmp_path)
    link = zipfile.ZipInfo("assets/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    rewrite(path, members(path), extra=[(link, b"/etc/passwd")])
    with pytest.raises(ValueError, match="symbolic link"):
        load_model(path)

    path = saved(tmp_path)
    contents = members(path)
    with pytest.warns(UserWarning, match="Duplicate name"):
        rewrite(path, contents, extra=[(zipfile.ZipInfo("config.json"), b"{}")])
    with pytest.raises(ValueError, match="two entries named 'config.json'"):
        load_model(path)

    path = saved(tmp_path)
    rewrite(path, members(path), extra=[(zipfile.ZipInfo("assets/secret"), b"x")])
    data = bytearray(path.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the last central directory entry: assets/secret
    data[entry + 8] |= 0x1  # the "encrypted" flag
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="encrypted"):
        load_model(path)


def test_declared_sizes_are_capped_before_reading(tmp_path, monkeypatch):
    path = saved(tmp_path)
    monkeypatch.setattr(archive, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ValueError, match="'config.json' declares .* bytes, more than the 100"):
        load_model(path)


def test_compressed_weights_far_larger_than_the_archive_are_a_zip_bomb(tmp_path, monkeypatch):
    path = saved(tmp_path)
    contents = members(path)
    contents["model.weights.h5"] = bytes(2**20)  # 1 MiB of zeros: deflates to ~1 KiB
    rewrite(path, contents, compression=zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(archive, "WEIGHTS_BASE_BYTES", 0)
    assert os.path.getsize(path) * archive.WEIGHTS_RATIO < 2**20
    with pytest.raises(ValueError, match="'model.weights.h5' declares 1048576 bytes.*zip bomb"):
        load_model(path)


def test_only_expected_members_are_read_and_npz_weights_are_refused(tmp_path):
    path = saved(tmp_path)
    contents = members(path)
    contents["model.weights.npz"] = contents.pop("model.weights.h5")
    rewrite(path, contents)
    with pytest.raises(ValueError, match="model.weights.npz.*pickle"):
        load_model(path)
    contents.pop("model.weights.npz")
    rewrite(path, contents)
    with pytest.raises(ValueError, match="holds no weights"):
        load_model(path)


def test_damaged_files_give_clear_errors(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        load_model(path)
    path = saved(tmp_path)
    contents = members(path)
    contents["config.json"] = b"[" * 100_000 + b"]" * 100_000
    rewrite(path, contents)
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(path)
    contents["config.json"] = b'{"module": "keras"}'
    contents["model.weights.h5"] = b"garbage"
    rewrite(path, contents)
    with pytest.raises((ValueError, TypeError)):
        load_model(path)


def test_lambda_layers_and_serialized_lambdas_are_refused(tmp_path):
    lam = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {"name": "l", "function": {"class_name": "__lambda__", "config": {}}},
        "registered_name": None,
    }
    with pytest.raises(ValueError, match=r"Refusing to load a `Lambda` layer.*safe_mode=True"):
        deserialize_keras_object(lam)
    with pytest.raises(ValueError, match=r"`lambda`.*safe_mode=False does not change this"):
        deserialize_keras_object(
            {"class_name": "__lambda__", "config": {"value": "x"}}, safe_mode=False
        )

    path = saved(tmp_path)

    def add_lambda(config):
        config["config"]["layers"].append(lam)
        config["config"]["safe_mode"] = False  # nothing in the file can turn safe mode off
        config["safe_mode"] = False

    with_config(path, add_lambda)
    with pytest.raises(ValueError, match="Lambda"):
        load_model(path, safe_mode=False)


def test_unknown_classes_say_where_they_looked(tmp_path):
    path = saved(tmp_path)

    def rename(config):
        config["config"]["layers"][1]["class_name"] = "Wobble"

    with_config(path, rename)
    with pytest.raises(TypeError) as info:
        load_model(path)
    message = str(info.value)
    assert "Could not locate class 'Wobble'" in message
    assert "`custom_objects`" in message and "registered objects" in message
    assert "cnnkit's built-in classes for module 'keras.layers'" in message
    assert "custom_objects={'Wobble': Wobble}" in message


def test_modules_named_in_a_file_are_never_imported(tmp_path):
    assert "this" not in sys.modules  # importing it prints the Zen of Python
    config = {"module": "this", "class_name": "s", "config": {}, "registered_name": None}
    with pytest.raises(TypeError, match="never imports modules named in a file"):
        deserialize_keras_object(config)
    function = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": None,
    }
    with pytest.raises(TypeError, match="Could not locate function 'system'"):
        deserialize_keras_object(function)
    assert "this" not in sys.modules


def test_the_weights_are_read_in_memory_not_extracted(tmp_path, monkeypatch):
    path = saved(tmp_path)
    created = []
    real_open = io.open

    def tracking_open(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+"):
            created.append(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", tracking_open)
    load_model(path)
    assert created == [] and sorted(os.listdir(tmp_path)) == ["m.keras"]
