"""Shared helpers for the optimizer tests: random problems, a runner and a float64 reference.

The reference applies Keras 3's step order (clip, then decoupled weight decay,
then the optimizer's own rule) in float64 NumPy; each test file supplies the
rule, written from the update equations independently of cnnkit's code.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Variable


def _make_problem(seed: int = 0, shapes=((3, 4), (4,)), steps: int = 5, scale: float = 1.0):
    """Initial float32 weights and ``steps`` lists of float32 gradients."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [
        [(scale * rng.standard_normal(s)).astype(np.float32) for s in shapes] for _ in range(steps)
    ]
    return initial, grads


def _run_optimizer(optimizer, initial, grads_seq, names=("kernel", "bias")):
    """Apply ``grads_seq`` with ``optimizer`` to fresh variables; returns their final values."""
    variables = []
    for i, w in enumerate(initial):
        v = Variable(w, name=names[i] if i < len(names) else f"w{i}")
        v.path = f"dense/{v.name}"
        variables.append(v)
    for grads in grads_seq:
        optimizer.apply(list(grads), variables)
    return [v.numpy() for v in variables]


def _reference_trajectory(
    rule,
    initial,
    grads_seq,
    *,
    learning_rate,
    weight_decay=None,
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
):
    """Float64 weights after applying ``rule(w, g, state, t, lr) -> w`` for each step.

    ``learning_rate`` is a float or a function of the 0-based step index.
    """
    ws = [np.asarray(w, dtype=np.float64) for w in initial]
    states = [{} for _ in ws]
    for index, grads in enumerate(grads_seq):
        lr = learning_rate(index) if callable(learning_rate) else learning_rate
        gs = [np.asarray(g, dtype=np.float64) for g in grads]
        if clipnorm is not None:
            gs = [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in gs]
        if clipvalue is not None:
            gs = [np.clip(g, -clipvalue, clipvalue) for g in gs]
        if global_clipnorm is not None:
            norm = np.sqrt(sum(np.sum(g * g) for g in gs))
            gs = [g * global_clipnorm / max(norm, global_clipnorm) for g in gs]
        if weight_decay is not None:
            ws = [w - w * weight_decay * lr for w in ws]
        ws = [rule(w, g, s, index + 1, lr) for w, g, s in zip(ws, gs, states, strict=True)]
    return ws


@pytest.fixture
def make_problem():
    return _make_problem


@pytest.fixture
def run_optimizer():
    return _run_optimizer


@pytest.fixture
def reference_trajectory():
    return _reference_trajectory


@pytest.fixture
def assert_weights_close():
    def check(actual, expected, atol=1e-6):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, e, rtol=0, atol=atol)

    return check
