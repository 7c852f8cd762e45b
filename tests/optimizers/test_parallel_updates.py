"""Optimizer updates split over the CPU threads (value ranges of the variables) equal whole
updates bit for bit, and an optimizer with its own ``update_step`` is never split."""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Variable
from cnnkit.kernels import threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def _optimizer_run(make, lanes: int) -> list[np.ndarray]:
    from cnnkit.optimizers.base import Variable as OptVariable  # the engine's Variable

    rng = np.random.default_rng(3)
    variables = [
        OptVariable(rng.standard_normal(shape, dtype=np.float32))
        for shape in [(7, 5), (3,), (4, 4, 2, 3), (1,)]
    ]
    optimizer = make()
    limit = threadpoolctl.threadpool_limits(limits=lanes, user_api="blas")
    with limit, threads.parallel_region():
        for _ in range(4):
            grads = [rng.standard_normal(v.data.shape, dtype=np.float32) for v in variables]
            optimizer.apply(grads, variables)
    return [v.data.copy() for v in variables]


@pytest.mark.parametrize(
    "make",
    [
        lambda: __import__("cnnkit").optimizers.Adam(1e-2),
        lambda: __import__("cnnkit").optimizers.Adam(1e-2, amsgrad=True),
        lambda: __import__("cnnkit").optimizers.AdamW(1e-2),
        lambda: __import__("cnnkit").optimizers.SGD(1e-2, momentum=0.9, nesterov=True),
        lambda: __import__("cnnkit").optimizers.RMSprop(1e-2, momentum=0.5, centered=True),
        lambda: __import__("cnnkit").optimizers.Adagrad(1e-1),
    ],
    ids=["adam", "amsgrad", "adamw", "nesterov", "rmsprop-centered", "adagrad"],
)
def test_optimizer_updates_split_over_threads_equal_whole_updates(two_threads, make):
    whole = _optimizer_run(make, lanes=1)
    split = _optimizer_run(make, lanes=2)
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)  # elementwise: slicing changes no rounding


def test_split_variables_cover_every_value_once():
    from cnnkit.autodiff import Variable as V
    from cnnkit.optimizers.base import _split_variables

    variables = [V(np.zeros(s, np.float32)) for s in [(5, 3), (1,), (2, 2), (9,)]]
    grads = [np.full(v.data.shape, i, np.float32) for i, v in enumerate(variables)]
    shares = _split_variables(grads, variables, 3)
    counts = [sum(part.data.size for _, part in share) for share in shares]
    assert counts == [9, 10, 10]  # 29 values in near-equal runs
    for share in shares:
        for g, part in share:
            part.data += 1  # views into the variables
            assert g.shape == part.data.shape
            index = [id(v) for v in variables].index(id(part.variable))  # not ==: element-wise
            assert np.all(g == grads[index].reshape(-1)[0])
    assert all(np.all(v.data == 1) for v in variables)


def test_a_custom_update_step_is_never_split(two_threads):
    import cnnkit

    calls = []

    class Halving(cnnkit.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            calls.append(variable.data.shape)
            variable.assign_sub(gradient * 0.5)

    optimizer = Halving(learning_rate=0.1)
    v = Variable(np.ones((50, 40), np.float32))
    with threads.parallel_region():
        optimizer.apply([np.ones((50, 40), np.float32)], [v])
    assert calls == [(50, 40)]  # the whole variable, once
    np.testing.assert_array_equal(v.data, 0.5)
