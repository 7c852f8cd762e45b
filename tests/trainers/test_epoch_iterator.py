"""``EpochIterator``: the steps of an epoch and the groups of batches, against Keras's."""

import warnings

import numpy as np
import pytest

from cnnkit import config
from cnnkit.trainers.data_adapters import ArrayDataAdapter, DataAdapter, GeneratorDataAdapter
from cnnkit.trainers.epoch_iterator import EpochIterator


def _steps(iterator, **kwargs):
    groups = iterator.enumerate_epoch(**kwargs)
    return [(begin, end, len(batches)) for begin, end, batches in groups]


def _arrays(n=20, batch_size=2):
    return ArrayDataAdapter(np.arange(n, dtype="float32")[:, None], batch_size=batch_size)


def test_groups_of_steps_per_execution_are_cut_at_the_epoch_end():
    iterator = EpochIterator(_arrays(), steps_per_execution=4)
    assert iterator.num_batches == 10
    for _ in range(2):
        assert _steps(iterator) == [(0, 3, 4), (4, 7, 4), (8, 9, 2)]


def test_each_group_holds_its_batches_in_order():
    iterator = EpochIterator(_arrays(10), steps_per_execution=3)
    firsts = [[float(b[0][0, 0]) for b in batches] for _, _, batches in iterator.enumerate_epoch()]
    assert firsts == [[0.0, 2.0, 4.0], [6.0, 8.0]]


def test_begin_steps_match_keras_and_end_steps_stop_at_the_epoch_end():
    keras_iterator = pytest.importorskip("keras.src.trainers.epoch_iterator")
    x = np.zeros((20, 2), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that its last group ran out of data
        theirs = [
            (begin, end, len(batches))
            for begin, end, batches in keras_iterator.EpochIterator(
                x, batch_size=2, steps_per_execution=4
            ).enumerate_epoch()
        ]
    ours = _steps(EpochIterator(ArrayDataAdapter(x, batch_size=2), steps_per_execution=4))
    assert [(b, n) for b, _, n in ours] == [(b, n) for b, _, n in theirs]
    # Keras reports its last, short group as steps 8-11; its batches are steps 8-9.
    assert [e for _, e, _ in ours] == [min(e, 9) for _, e, _ in theirs]


def test_joined_runs_cover_the_steps_of_their_batches():
    iterator = EpochIterator(_arrays(10, 3), join=2)  # batches of 3, 3, 3, 1
    runs = list(iterator.enumerate_epoch())
    assert [(begin, end) for begin, end, _ in runs] == [(0, 1), (2, 3)]
    assert [run[0][0][:, 0].tolist() for _, _, run in runs] == [
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        [6.0, 7.0, 8.0, 9.0],
    ]


def test_join_needs_arrays_without_a_step_count():
    with pytest.raises(ValueError, match="`join`"):
        EpochIterator(GeneratorDataAdapter(iter([])), join=2)
    with pytest.raises(ValueError, match="`join`"):
        EpochIterator(_arrays(), steps_per_epoch=3, join=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_steps_per_execution_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"steps_per_execution.*Received: steps_per_execution="):
        EpochIterator(_arrays(), steps_per_execution=bad)


def test_an_infinite_generator_carries_on_across_epochs():
    def numbers():
        k = 0
        while True:
            yield np.full((1, 1), k, "float32")
            k += 1

    iterator = EpochIterator(GeneratorDataAdapter(numbers()), steps_per_epoch=3)
    epochs = [
        [float(b[0][0, 0]) for _, _, batches in iterator.enumerate_epoch() for b in batches]
        for _ in range(2)
    ]
    assert epochs == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_running_out_before_steps_per_epoch_warns_as_keras():
    adapter = GeneratorDataAdapter(iter([np.zeros((1, 1))] * 5))
    iterator = EpochIterator(adapter, steps_per_epoch=3, steps_per_execution=2)
    assert _steps(iterator) == [(0, 1, 2), (2, 2, 1)]
    with pytest.warns(UserWarning, match="ran out of data"):
        assert _steps(iterator) == [(0, 1, 2)]


def test_without_a_step_count_an_epoch_ends_with_the_data():
    iterator = EpochIterator(GeneratorDataAdapter([np.zeros((1, 1))] * 5), steps_per_execution=2)
    assert iterator.num_batches == 5  # a list of batches has a length
    assert _steps(iterator) == [(0, 1, 2), (2, 3, 2), (4, 4, 1)]
    stream = EpochIterator(GeneratorDataAdapter(iter([np.zeros((1, 1))] * 3)))
    assert stream.num_batches is None
    assert _steps(stream) == [(0, 0, 1), (1, 1, 1), (2, 2, 1)]


def test_a_finite_source_with_steps_per_epoch_continues_then_restarts():
    adapter = _arrays(8, 2)  # 4 batches
    iterator = EpochIterator(adapter, steps_per_epoch=2)
    firsts = [
        [float(b[0][0, 0]) for _, _, batches in iterator.enumerate_epoch() for b in batches]
        for _ in range(3)
    ]
    assert firsts == [[0.0, 2.0], [4.0, 6.0], [0.0, 2.0]]


def test_initial_step_draws_the_skipped_batches():
    iterator = EpochIterator(_arrays(10), steps_per_execution=2)
    runs = list(iterator.enumerate_epoch(initial_step=2))
    assert [(b, e) for b, e, _ in runs] == [(2, 3), (4, 4)]
    assert float(runs[0][2][0][0][0, 0]) == 4.0


def test_max_steps_per_epoch_caps_every_epoch():
    config.set_max_steps_per_epoch(3)
    try:
        iterator = EpochIterator(_arrays(), steps_per_execution=2)
        assert iterator.num_batches == 3
        assert _steps(iterator) == [(0, 1, 2), (2, 2, 1)]
    finally:
        config.set_max_steps_per_epoch(None)


def test_max_steps_per_epoch_cuts_a_joined_run_to_the_cap():
    config.set_max_steps_per_epoch(3)
    try:
        runs = list(EpochIterator(_arrays(20, batch_size=2), join=4).enumerate_epoch())
        assert [(b, e) for b, e, _ in runs] == [(0, 2)]
        x, y, sample_weight = runs[0][2][0]
        np.testing.assert_array_equal(x[:, 0], np.arange(6, dtype="float32"))
        assert y is None and sample_weight is None
    finally:
        config.set_max_steps_per_epoch(None)


def test_the_adapter_hears_each_epoch_begin_and_end_around_its_batches():
    events = []

    class Recorder(DataAdapter):
        num_batches = 2

        def get_numpy_iterator(self):
            events.append("iterator")
            yield from [(np.zeros((1, 1)), None, None)] * 2

        def on_epoch_begin(self):
            events.append("begin")

        def on_epoch_end(self):
            events.append("end")

    iterator = EpochIterator(Recorder())
    for _ in range(2):
        list(iterator.enumerate_epoch())
    assert events == ["begin", "iterator", "end"] * 2
