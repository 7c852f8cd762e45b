"""``.keras`` archives: contents, exact reloads, resumed training, atomic writes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile

import h5py
import numpy as np
import pytest

from cnnkit import io_utils, optimizers, utils
from cnnkit import layers as L
from cnnkit.models import Model, load_model, save_model
from cnnkit.saving import archive
from tests.saving.models import inputs_for, seq, two_branch_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cnn(optimizer="adam"):
    model = seq(
        (6, 6, 1),
        L.Conv2D(2, 3, activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def batch(model, seed):
    return inputs_for(model, n=4, seed=seed), np.random.default_rng(seed).integers(0, 3, 4)


def sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def temporaries(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_archive_holds_keras_members_and_config(tmp_path):
    model = cnn()
    model.train_on_batch(*batch(model, 0))
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        metadata = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["build_config"] == {"input_shape": [None, 6, 6, 1]}
    compile_config = config["compile_config"]
    assert compile_config["optimizer"]["class_name"] == "Adam"
    assert compile_config["optimizer"]["module"] == "keras.optimizers"
    assert compile_config["loss"] == "sparse_categorical_crossentropy"
    assert compile_config["metrics"] == ["accuracy"]
    dense = config["config"]["layers"][-1]
    assert dense["module"] == "keras.layers" and dense["class_name"] == "Dense"
    assert dense["build_config"] == {"input_shape": [None, 8]}


def test_functional_archive_round_trip_is_exact(tmp_path):
    model = two_branch_model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    x = inputs_for(model)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert type(loaded.optimizer) is optimizers.SGD and loaded.compiled
    assert not load_model(tmp_path / "m.keras", compile=False).compiled


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.Adam(0.01),
        lambda: optimizers.SGD(0.1, momentum=0.9),
        lambda: optimizers.RMSprop(optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)),
    ],
    ids=["adam", "sgd_momentum", "rmsprop_schedule"],
)
def test_training_resumes_exactly_after_save_and_load(tmp_path, optimizer):
    utils.set_random_seed(3)
    straight = cnn(optimizer())
    for step in range(4):
        straight.train_on_batch(*batch(straight, step))

    utils.set_random_seed(3)
    first = cnn(optimizer())
    for step in range(2):
        first.train_on_batch(*batch(first, step))
    first.save(tmp_path / "m.keras")
    resumed = load_model(tmp_path / "m.keras")
    x = inputs_for(first, seed=9)
    np.testing.assert_array_equal(resumed.predict(x, verbose=0), first.predict(x, verbose=0))
    assert int(resumed.optimizer.iterations) == 2
    for step in range(2, 4):
        resumed.train_on_batch(*batch(resumed, step))
    for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(resumed.optimizer.variables, straight.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unzipped_folder_round_trip(tmp_path):
    model = cnn()
    model.save(tmp_path / "folder", zipped=False)
    assert sorted(os.listdir(tmp_path / "folder")) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    x = inputs_for(model)
    loaded = load_model(tmp_path / "folder")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_extension_and_existence_errors(tmp_path):
    model = seq((3,), L.Dense(2))
    with pytest.raises(ValueError, match=r"`\.keras` extension.*filepath=.*m\.zip"):
        model.save(tmp_path / "m.zip")
    with pytest.raises(ValueError, match="legacy HDF5 model format"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="unsupported|not supported"):
        model.save(tmp_path / "m.keras", save_traces=True)
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(model, tmp_path / "m.keras", overwrite=False)
    with pytest.raises(FileNotFoundError, match="File not found"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "m.h5").write_bytes(b"x")
    with pytest.raises(ValueError, match="legacy HDF5 model files"):
        load_model(tmp_path / "m.h5")


def test_a_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.keras"
    seq((3,), L.Dense(2)).save(path)
    before = sha256(path)
    broken = seq((3,), L.Dense(2, activation=lambda x: x))
    with pytest.raises(ValueError, match="lambda"):
        broken.save(path)
    assert sha256(path) == before and temporaries(tmp_path) == []


CHILD = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from cnnkit import layers
    from cnnkit.models import Sequential

    model = Sequential([layers.Input((256,)), layers.Dense(512), layers.Dense(512)])

    def stalled_fsync(fd):  # the archive is written: stop before it replaces the target
        print("writing", flush=True)
        time.sleep(60)

    os.fsync = stalled_fsync
    model.save({path!r})
    """
)


def test_sigkill_during_save_keeps_the_previous_file(tmp_path):
    pytest.importorskip("fcntl")  # stale temporaries are told apart by their lock (POSIX)
    path = str(tmp_path / "m.keras")
    previous = seq((3,), L.Dense(2))
    previous.save(path)
    before = sha256(path)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(root=ROOT, path=path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    anonymous = io_utils._open_anonymous(str(tmp_path)) is not None
    try:
        assert child.stdout.readline().strip() == "writing"
        leftovers = temporaries(tmp_path)
        # Linux writes a nameless O_TMPFILE; elsewhere a hidden, locked named file
        assert len(leftovers) == (0 if anonymous else 1)
    finally:
        child.kill()  # SIGKILL: no cleanup code runs in the child
        child.wait(timeout=30)
        child.stdout.close()
    assert sha256(path) == before
    x = np.ones((1, 3), "float32")
    np.testing.assert_array_equal(load_model(path).predict(x, verbose=0), previous.predict(x))

    if anonymous:  # the kernel dropped the nameless file with the process
        assert temporaries(tmp_path) == []
        return
    # The killed writer's temporary file is unlocked: the next save removes it.
    stale = tmp_path / temporaries(tmp_path)[0]
    old = time.time() - 60
    os.utime(stale, (old, old))
    previous.save(path)
    assert temporaries(tmp_path) == []


def test_temporaries_of_live_writers_are_left_alone(tmp_path):
    fcntl = pytest.importorskip("fcntl")

    target = str(tmp_path / "m.keras")
    live = tmp_path / ".m.keras.abc.tmp"
    with open(live, "wb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        os.utime(live, (time.time() - 60, time.time() - 60))
        assert archive.remove_stale_temporaries(target) == []
    young = tmp_path / ".m.keras.def.tmp"
    young.write_bytes(b"")
    assert archive.remove_stale_temporaries(target) == [str(live)]
    assert young.exists()


class TwoLayers(Model):
    """A subclassed model: its layers are attributes, its config its constructor arguments."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = L.Dense(units, activation="relu")
        self.out = L.Dense(2)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_models_save_weights_by_attribute_and_reload(tmp_path):
    model = TwoLayers(4, name="two")
    model.compile("adam", "mse")
    x = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    model.predict(x, verbose=0)  # creates the layers' weights before fit reads them
    model.fit(x, np.zeros((5, 2), "float32"), epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert f["hidden/vars/0"].shape == (3, 4) and f["out/vars/1"].shape == (2,)
        assert "optimizer/vars/0" in f

    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"TwoLayers": TwoLayers})
    assert type(loaded) is TwoLayers and loaded.units == 4
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert int(loaded.optimizer.iterations) == 1


def test_include_optimizer_false_leaves_the_optimizer_out(tmp_path):
    model = cnn()
    model.train_on_batch(*batch(model, 0))
    model.save(tmp_path / "m.keras", include_optimizer=False)
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
            assert "optimizer" not in f
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.compiled and int(loaded.optimizer.iterations) == 0


def test_importing_cnnkit_does_not_import_h5py():
    code = (
        "import sys, cnnkit; "
        "print('h5py' in sys.modules, cnnkit.saving.load_model is cnnkit.models.load_model)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]
