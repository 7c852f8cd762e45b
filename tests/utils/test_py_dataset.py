"""PyDataset / Sequence and generators through fit, evaluate and predict."""

import random
import threading
import time

import numpy as np
import pytest

import cnnkit as keras
from cnnkit.utils import PyDataset, Sequence
from cnnkit.utils.py_dataset import epoch_batches


class Batches(PyDataset):
    def __init__(self, x, y, batch_size, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.delay = x, y, batch_size, delay
        self.requested, self.threads = [], set()
        self.begins = self.ends = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.requested.append(index)
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fit_visits_every_batch_once_per_epoch_in_a_new_order_and_calls_the_epoch_hooks():
    x, y = _data()
    ds = Batches(x, y, 8)
    random.seed(3)
    _model().fit(ds, epochs=3, verbose=0)
    epochs = [ds.requested[i * 6 : (i + 1) * 6] for i in range(3)]
    assert len(ds.requested) == 18
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1  # reshuffled (Python's random, as Keras)
    assert (ds.begins, ds.ends) == (3, 3)


def test_shuffle_false_keeps_batch_order_and_matches_array_training():
    x, y = _data()
    ds = Batches(x, y, 8)
    a = _model()
    a.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert ds.requested == list(range(6)) * 2
    b = _model()
    b.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_worker_threads_produce_batches_in_order_and_in_parallel():
    x, y = _data(64)

    class Overlapping(Batches):
        active = peak = 0
        lock = threading.Lock()

        def __getitem__(self, index):
            with self.lock:
                type(self).active += 1
                type(self).peak = max(type(self).peak, type(self).active)
            try:
                return super().__getitem__(index)
            finally:
                with self.lock:
                    type(self).active -= 1

    ds = Overlapping(x, y, 8, delay=0.05, workers=4, max_queue_size=4)
    batches = list(epoch_batches(ds, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    assert len(ds.threads) > 1
    assert Overlapping.peak >= 2  # batches were being made at the same time
    assert Overlapping.peak <= 4


def test_evaluate_and_predict_read_a_pydataset_in_order():
    x, y = _data()
    model = _model()
    ds = Batches(x, y, 16, workers=2)
    np.testing.assert_allclose(model.predict(ds, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(
        model.evaluate(ds, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6
    )
    assert ds.requested[:3] == [0, 1, 2]


def test_sequence_is_the_legacy_name_and_validation_data_may_be_a_pydataset():
    assert issubclass(Sequence, PyDataset)
    x, y = _data()
    history = _model().fit(Batches(x, y, 8), validation_data=Batches(x, y, 24), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_infinite_generator_with_steps_per_epoch_and_validation_steps():
    x, y = _data()
    drawn = {"train": 0, "val": 0}

    def forever(kind):
        while True:
            drawn[kind] += 1
            yield x[:8], y[:8]

    history = _model().fit(
        forever("train"),
        steps_per_epoch=3,
        epochs=2,
        verbose=0,
        validation_data=forever("val"),
        validation_steps=2,
    )
    assert len(history.history["val_loss"]) == 2
    assert drawn["train"] == 6
    assert drawn["val"] == 4


def test_bad_batches_and_arguments_raise_clear_errors():
    class Bad(PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            return "nope"

    with pytest.raises(ValueError, match="must return a tuple or a dict"):
        list(epoch_batches(Bad()))
    with pytest.raises(ValueError, match="workers"):
        Batches(*_data(), 8, workers=-1)
    with pytest.raises(ValueError, match="max_queue_size"):
        Batches(*_data(), 8, max_queue_size=0)


def test_missing_super_init_warns_and_uses_defaults():
    class NoSuper(PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, index):
            return np.zeros((1, 1))

    with pytest.warns(UserWarning, match="super"):
        assert NoSuper().workers == 1


class Squares(PyDataset):
    """Module level, so that a process pool can pickle it."""

    def __init__(self, count=None, **kwargs):
        super().__init__(**kwargs)
        self.count = count

    @property
    def num_batches(self):
        return self.count

    def __getitem__(self, index):
        import os

        x = np.full((4, 4), float(index % 5), dtype="float32")
        return x, (x[:, 0] > 2).astype("int32"), np.full(4, float(os.getpid()))


def test_use_multiprocessing_produces_batches_in_other_processes_in_order():
    import os

    batches = list(epoch_batches(Squares(6, workers=2, use_multiprocessing=True)))
    assert [float(b[0][0, 0]) for b in batches] == [0.0, 1.0, 2.0, 3.0, 4.0, 0.0]
    assert {float(b[2][0]) for b in batches} - {float(os.getpid())}


def test_infinite_pydataset_trains_with_steps_per_epoch():
    ds = Squares(None)
    assert ds.num_batches is None
    history = _model().fit(ds, steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_dataset_validation_steps_takes_the_first_batches_each_time():
    from cnnkit.utils.dataset import Dataset

    x, y = _data()
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    val = Dataset.from_tensor_slices((x, y)).batch(8)
    _model().fit(
        x, y, epochs=2, verbose=0, validation_data=val, validation_steps=2, callbacks=[Spy()]
    )
    assert seen == [0, 1, 0, 1]
