"""Data adapters: one per kind of input, each read as NumPy batches epoch after epoch."""

import subprocess
import sys
import types

import numpy as np
import pytest

import cnnkit as keras
from cnnkit import backend
from cnnkit.trainers.data_adapters import (
    ArrayDataAdapter,
    GeneratorDataAdapter,
    PyDatasetAdapter,
    TFDatasetAdapter,
    TorchDataLoaderAdapter,
    get_data_adapter,
    train_validation_split,
)
from cnnkit.trainers.epoch_iterator import EpochIterator


def _epoch(adapter):
    groups = EpochIterator(adapter).enumerate_epoch()
    return [batch for _, _, batches in groups for batch in batches]


# -- arrays ------------------------------------------------------------------------------
def test_arrays_give_batches_of_batch_size_with_a_short_last_one():
    x, y = np.arange(14, dtype="float32").reshape(7, 2), np.arange(7)
    adapter = get_data_adapter(x, y, batch_size=3)
    assert isinstance(adapter, ArrayDataAdapter) and adapter.num_batches == 3
    batches = _epoch(adapter)
    assert [b[0].shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert all(b[2] is None for b in batches)


def test_lists_and_dicts_of_inputs_are_sliced_together():
    a, b = np.arange(6.0)[:, None], np.arange(6.0)[:, None] * 10
    batches = _epoch(get_data_adapter([a, b], [a], batch_size=4))
    np.testing.assert_array_equal(batches[1][0][1][:, 0], [40.0, 50.0])
    np.testing.assert_array_equal(batches[1][1][0][:, 0], [4.0, 5.0])


def test_shuffling_draws_a_new_order_each_epoch():
    backend.set_seed(3)
    x = np.arange(40, dtype="float32")[:, None]
    iterator = EpochIterator(get_data_adapter(x, x[:, 0], batch_size=8, shuffle=True))
    orders = []
    for _ in range(2):
        batches = [b for _, _, group in iterator.enumerate_epoch() for b in group]
        order = np.concatenate([b[0][:, 0] for b in batches])
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), order)  # x ~ y
        np.testing.assert_array_equal(np.sort(order), x[:, 0])
        orders.append(order)
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], x[:, 0])


def test_class_weight_multiplies_the_sample_weights():
    y = np.array([0, 1, 2, 1])
    adapter = get_data_adapter(
        np.zeros((4, 1)), y, sample_weight=np.array([1.0, 2.0, 3.0, 4.0]), class_weight={1: 0.5}
    )
    (batch,) = _epoch(adapter)
    np.testing.assert_allclose(batch[2], [1.0, 1.0, 3.0, 2.0])
    one_hot = np.eye(3)[y]
    (batch,) = _epoch(get_data_adapter(np.zeros((4, 1)), one_hot, class_weight={2: 3.0}))
    np.testing.assert_allclose(batch[2], [1.0, 1.0, 3.0, 1.0])


def test_array_errors_name_the_argument():
    with pytest.raises(ValueError, match="cardinality is ambiguous.*'x' sizes: 3.*'y' sizes: 2"):
        get_data_adapter(np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(ValueError, match=r"`x` contains NaN or Inf .*first at index \(1, 0\)"):
        get_data_adapter(np.array([[0.0], [np.nan]]))
    with pytest.raises(ValueError, match="`x` is ragged"):
        get_data_adapter([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"one weight per sample: expected 2, received 3"):
        get_data_adapter(np.zeros((2, 1)), np.zeros(2), sample_weight=np.ones(3))


def test_validation_split_holds_out_the_last_samples():
    x = np.arange(10, dtype="float32")[:, None]
    xt, yt, swt, (xv, yv, swv) = train_validation_split(x, x[:, 0] * 2, None, 0.3)
    np.testing.assert_array_equal(xt[:, 0], np.arange(7))
    np.testing.assert_array_equal(yv, [14.0, 16.0, 18.0])
    assert swt is None and swv is None


def test_validation_split_is_for_arrays_only_as_in_keras():
    def batches():
        yield np.zeros((2, 4), "float32"), np.zeros(2)

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    expected = r"`validation_split` is only supported for tensors or NumPy arrays"
    with pytest.raises(ValueError, match=expected):
        model.fit(batches(), validation_split=0.5, verbose=0)
    keras_split = pytest.importorskip("keras.src.trainers.data_adapters.array_slicing")
    with pytest.raises(ValueError, match="only supported for tensors or NumPy arrays"):
        keras_split.train_validation_split((batches(), None, None), validation_split=0.5)


# -- generators and iterables ------------------------------------------------------------
def test_a_generator_is_one_stream_cut_into_epochs_by_steps_per_epoch():
    def numbers():
        k = 0
        while True:
            yield np.full((2, 1), k, "float32"), np.full(2, k)
            k += 1

    adapter = get_data_adapter(numbers())
    assert isinstance(adapter, GeneratorDataAdapter) and adapter.num_batches is None
    iterator = EpochIterator(adapter, steps_per_epoch=2)
    seen = [
        [int(b[1][0]) for _, _, group in iterator.enumerate_epoch() for b in group]
        for _ in range(3)
    ]
    assert seen == [[0, 1], [2, 3], [4, 5]]


def test_a_reiterable_source_restarts_each_epoch_and_takes_class_weight():
    class Batches:  # iterable afresh, with a length (as a cnnkit Dataset)
        def __len__(self):
            return 2

        def __iter__(self):
            yield np.zeros((2, 1)), np.array([0, 1])
            yield np.zeros((1, 1)), np.array([1])

    adapter = get_data_adapter(Batches(), class_weight={1: 4.0})
    assert isinstance(adapter, GeneratorDataAdapter) and adapter.num_batches == 2
    iterator = EpochIterator(adapter)
    for _ in range(2):
        got = [b[2].tolist() for _, _, group in iterator.enumerate_epoch() for b in group]
        assert got == [[1.0, 4.0], [4.0]]


def test_generators_refuse_class_weight_and_separate_targets_as_keras():
    def gen():
        yield np.zeros((1, 1))

    with pytest.raises(ValueError, match="`class_weight` is not supported for Python generator"):
        get_data_adapter(gen(), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="`y` should not be passed.*part of the Python generator"):
        get_data_adapter(gen(), y=np.zeros(1))


def test_a_batch_of_four_items_is_refused():
    adapter = get_data_adapter(iter([(1, 2, 3, 4)]))
    with pytest.raises(ValueError, match="Received 4 items"):
        _epoch(adapter)


# -- PyDataset ---------------------------------------------------------------------------
class Squares(keras.utils.PyDataset):
    def __init__(self, events=None, **kwargs):
        super().__init__(**kwargs)
        self.events = events if events is not None else []

    def __len__(self):
        return 4

    def __getitem__(self, index):
        x = np.full((2, 1), index, "float32")
        return x, np.full(2, index % 2)

    def on_epoch_begin(self):
        self.events.append("begin")

    def on_epoch_end(self):
        self.events.append("end")


def test_a_py_dataset_is_read_by_index_with_its_epoch_hooks():
    dataset = Squares()
    adapter = get_data_adapter(dataset)
    assert isinstance(adapter, PyDatasetAdapter) and adapter.num_batches == 4
    for _ in range(2):
        assert [int(b[0][0, 0]) for b in _epoch(adapter)] == [0, 1, 2, 3]
    assert dataset.events == ["begin", "end"] * 2


def test_a_py_dataset_is_shuffled_each_epoch_when_asked(monkeypatch):
    import random

    random.seed(0)
    adapter = get_data_adapter(Squares(workers=2), shuffle=True)
    orders = [[int(b[0][0, 0]) for b in _epoch(adapter)] for _ in range(6)]
    assert all(sorted(order) == [0, 1, 2, 3] for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_a_py_dataset_takes_class_weight_and_refuses_targets():
    adapter = get_data_adapter(Squares(), class_weight={1: 2.0})
    assert [b[2].tolist() for b in _epoch(adapter)][:2] == [[1.0, 1.0], [2.0, 2.0]]
    with pytest.raises(ValueError, match="`sample_weight` should not be passed.*PyDataset"):
        get_data_adapter(Squares(), sample_weight=np.ones(8))


def test_an_infinite_py_dataset_runs_steps_per_epoch_and_carries_on():
    class Endless(keras.utils.PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            return np.full((1, 1), index, "float32"), np.zeros(1)

    iterator = EpochIterator(get_data_adapter(Endless()), steps_per_epoch=2)
    seen = [
        [int(b[0][0, 0]) for _, _, group in iterator.enumerate_epoch() for b in group]
        for _ in range(2)
    ]
    assert seen == [[0, 1], [2, 3]]


# -- torch and TensorFlow, never imported by the adapters --------------------------------
def test_the_adapters_import_neither_torch_nor_tensorflow():
    code = (
        "import sys, cnnkit.trainers.data_adapters, cnnkit.trainers.epoch_iterator; "
        "print(sorted(m for m in ('torch', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_torch_data_loader_is_read_as_numpy():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.TensorDataset(torch.arange(10.0)[:, None], torch.arange(10) % 2)
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    adapter = get_data_adapter(loader)
    assert isinstance(adapter, TorchDataLoaderAdapter) and adapter.num_batches == 3
    for _ in range(2):
        batches = _epoch(adapter)
        assert [type(b[0]) for b in batches] == [np.ndarray] * 3
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(10) % 2)
    with pytest.raises(ValueError, match="`class_weight` is not supported for torch DataLoader"):
        get_data_adapter(loader, class_weight={0: 1.0})


def _fake_tf_dataset(batches):
    """An object whose class looks like ``tf.data.Dataset`` (name and module), as the check
    reads it, with ``cardinality`` and ``as_numpy_iterator``."""
    cls = types.new_class("DatasetV2")
    cls.__module__ = "tensorflow.python.data.ops.dataset_ops"
    cls.cardinality = lambda self: len(batches)
    cls.as_numpy_iterator = lambda self: iter(batches)
    return cls()


def test_a_tf_dataset_is_recognised_by_its_class_and_read_as_numpy():
    dataset = _fake_tf_dataset([(np.zeros((2, 1)), np.array([0, 1]))] * 3)
    adapter = get_data_adapter(dataset, class_weight={1: 5.0})
    assert isinstance(adapter, TFDatasetAdapter) and adapter.num_batches == 3
    for _ in range(2):
        assert [b[2].tolist() for b in _epoch(adapter)] == [[1.0, 5.0]] * 3


def test_batches_of_named_inputs_stay_dicts():
    batch = ({"a": np.zeros((2, 1)), "b": [[1.0], [2.0]]}, np.zeros(2))
    ((x, y, sw),) = _epoch(get_data_adapter(iter([batch])))
    assert sorted(x) == ["a", "b"] and x["b"].shape == (2, 1) and sw is None
    with pytest.raises(ValueError, match=r"`x\['a'\]` contains NaN"):
        _epoch(get_data_adapter(iter([({"a": np.array([[np.nan]])}, np.zeros(1))])))
