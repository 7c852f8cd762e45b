"""Compare a cnnkit layer with the same Keras 3 layer: forward values and weight gradients.

Keras runs on the torch backend (``conftest.py`` sets ``KERAS_BACKEND=torch``); its weights
are copied into the cnnkit layer with ``set_weights``, so the weight order is checked too.
"""

from __future__ import annotations

import numpy as np

from cnnkit.autodiff import Tensor


def _structure(out):
    """The outputs as a flat list (Keras nests a stacked cell's states)."""
    if isinstance(out, (list, tuple)):
        return [o for item in out for o in _structure(item)]
    return [out]


def compare_with_keras(ours, theirs, args, kwargs=None, atol=1e-5, grads=True, seed=0):
    """Call both layers on ``args``, copy Keras's weights into ours, compare outputs and grads.

    The objective for the gradients is ``sum(output * r)`` for a fixed random ``r`` (the
    first output when the layer returns several).

    Returns:
        our outputs, as NumPy arrays.
    """
    import torch

    kwargs = dict(kwargs or {})
    theirs(*args, **kwargs)  # builds
    ours(*args, **kwargs)
    ours.set_weights(theirs.get_weights())

    expected = [np.asarray(o.detach().cpu().numpy()) for o in _structure(theirs(*args, **kwargs))]
    got = [np.asarray(o) for o in _structure(ours(*args, **kwargs))]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-4)
    if not grads or not ours.trainable_weights:
        return got

    r = np.random.default_rng(seed).standard_normal(expected[0].shape).astype("float32")
    for w in theirs.trainable_weights:
        w.value.grad = None
    k_out = _structure(theirs(*args, **kwargs))[0]
    (k_out * torch.as_tensor(r)).sum().backward()
    k_grads = [w.value.grad.detach().cpu().numpy() for w in theirs.trainable_weights]
    for w in ours.trainable_weights:
        w.grad = None
    out = _structure(ours(*args, **kwargs))[0]
    (out * Tensor(r)).sum().backward()
    for w, k in zip(ours.trainable_weights, k_grads):
        assert w.grad is not None, f"no gradient reached {w.path}"
        np.testing.assert_allclose(w.grad, k, atol=atol * 10, rtol=1e-3, err_msg=w.path)
    return got
