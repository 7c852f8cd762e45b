"""Grad mode (``cnnkit.autodiff.no_grad``) belongs to the thread that set it.

A ``predict`` (which runs under ``no_grad``) in one thread must not stop the graph of a
training step in another, and the workers of ``backend.parallel_map`` run in the mode of
the thread that called it.
"""

from __future__ import annotations

import threading

import numpy as np

from cnnkit import backend, layers
from cnnkit.autodiff import Variable, grad_enabled, no_grad
from cnnkit.models import Sequential


def test_no_grad_in_one_thread_leaves_another_recording():
    inside, release = threading.Event(), threading.Event()
    seen = []

    def inference_thread():
        with no_grad():
            seen.append(grad_enabled())
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=inference_thread)
    thread.start()
    try:
        assert inside.wait(10)
        assert grad_enabled()  # this thread's mode is untouched
        x = Variable(np.array([1.0, 2.0, 3.0]))
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad, [2.0, 4.0, 6.0])
    finally:
        release.set()
        thread.join()
    assert seen == [False]


class _Blocking(layers.Layer):
    """Holds its caller inside the model's call until told to go on."""

    def __init__(self, inside, release, **kwargs):
        super().__init__(**kwargs)
        self.inside, self.release = inside, release

    def call(self, x):
        self.inside.set()
        self.release.wait(10)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def test_predict_in_one_thread_does_not_stop_training_in_another():
    inside, release = threading.Event(), threading.Event()
    predicting = Sequential([layers.Input((2,)), _Blocking(inside, release)])
    training = Sequential([layers.Input((2,)), layers.Dense(1, kernel_initializer="ones")])
    training.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    before = training.get_weights()[0].copy()
    thread = threading.Thread(target=lambda: predicting.predict(x, verbose=0))
    thread.start()
    try:
        assert inside.wait(10)  # the predicting thread is inside no_grad now
        training.train_on_batch(x, y)
    finally:
        release.set()
        thread.join()
    # mse gradient of w: 2 * mean(x @ w - y) * x = 2 * 2 * 1 per weight; sgd lr 0.01
    np.testing.assert_allclose(training.get_weights()[0], before - 0.04, rtol=1e-6)


def test_parallel_map_workers_run_in_the_callers_mode():
    def probe(_):
        return threading.get_ident(), grad_enabled()

    with no_grad():
        off = backend.parallel_map(probe, range(4))
    on = backend.parallel_map(probe, range(4))
    assert len({ident for ident, _ in off}) >= 2  # a worker thread took part
    assert [mode for _, mode in off] == [False] * 4
    assert [mode for _, mode in on] == [True] * 4
