"""Trajectories against torch.optim where the maths coincide (CPU, float32).

Keras's SGD velocity is ``-lr`` times torch's, so with a constant learning rate
the weights agree. Keras adds epsilon to ``sqrt(v)`` before Adam's bias
correction ("epsilon hat") and RMSprop/Adagrad add it inside the square root,
where torch adds it outside: the comparisons use ``epsilon=0`` so the rules are
identical.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnkit.autodiff import Variable
from cnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

CASES = [
    (lambda: SGD(learning_rate=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        lambda: SGD(learning_rate=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    (
        lambda: SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    (
        lambda: Adam(learning_rate=0.01, epsilon=0.0),
        lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0),
    ),
    (
        lambda: Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.95, epsilon=0.0, amsgrad=True),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.95), eps=0.0, amsgrad=True),
    ),
    (
        lambda: AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=0.0),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0),
    ),
    (
        lambda: RMSprop(learning_rate=0.01, epsilon=0.0, momentum=0.5, centered=True),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0, momentum=0.5, centered=True),
    ),
    (
        lambda: Adagrad(learning_rate=0.1, epsilon=0.0),
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0),
    ),
]


@pytest.mark.parametrize(
    "make_ours, make_torch",
    CASES,
    ids=["sgd", "momentum", "nesterov", "adam", "amsgrad", "adamw", "rmsprop", "adagrad"],
)
def test_trajectory_matches_torch(make_ours, make_torch, make_problem):
    initial, grads = make_problem(seed=12, steps=10)
    ours = [Variable(w, name=f"w{i}") for i, w in enumerate(initial)]
    theirs = [torch.tensor(w, requires_grad=True) for w in initial]
    opt, torch_opt = make_ours(), make_torch(theirs)
    for step in grads:
        opt.apply(step, ours)
        for p, g in zip(theirs, step, strict=True):
            p.grad = torch.from_numpy(g.copy())
        torch_opt.step()
    for v, p in zip(ours, theirs, strict=True):
        # A few float32 roundings apart (torch decays with w *= 1 - lr * wd, Keras subtracts).
        np.testing.assert_allclose(v.numpy(), p.detach().numpy(), rtol=1e-6, atol=1e-6)
