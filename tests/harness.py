"""Shared test helpers: gradient checks for ops, and a lifecycle test for layers."""

from __future__ import annotations

import numpy as np

from cnnkit import backend
from cnnkit.autodiff import Tensor, Variable


def gradcheck(fn, *arrays, eps=1e-6, atol=1e-5, rtol=1e-3, wrt=None, seed=0):
    """Compare the analytic gradients of ``fn`` with central differences in float64.

    Args:
        fn: maps Tensors to one Tensor (the op under test, with its hyper-parameters bound).
        *arrays: input values; they are converted to float64.
        wrt: indices of the inputs to differentiate (default: all float inputs).

    The scalar objective is ``sum(fn(*x) * r)`` for a fixed random ``r``, so every
    output element contributes with a different weight.
    """
    with backend.floatx_scope("float64"):
        arrays = [np.array(a, dtype=np.float64) if _is_float(a) else a for a in arrays]
        if wrt is None:
            wrt = [i for i, a in enumerate(arrays) if _is_float(a)]
        inputs = [
            Variable(a, name=f"x{i}") if i in wrt else Tensor(a) for i, a in enumerate(arrays)
        ]
        out = fn(*inputs)
        r = np.random.default_rng(seed).standard_normal(out.shape)
        (out * Tensor(r)).sum().backward()

        def objective():
            values = [Tensor(a) for a in arrays]
            return float(np.sum(np.asarray(fn(*values).data) * r))

        for i in wrt:
            analytic = inputs[i].grad
            assert analytic is not None, f"no gradient reached input {i}"
            numeric = np.zeros_like(arrays[i])
            flat, num = arrays[i].reshape(-1), numeric.reshape(-1)
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = objective()
                flat[k] = orig - eps
                minus = objective()
                flat[k] = orig
                num[k] = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(
                analytic, numeric, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}"
            )


def _is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


def run_layer_test(
    layer_cls, init_kwargs, input_shape, expected_output_shape=None, trains=True, seed=0
):
    """The lifecycle every layer must pass (Keras's ``run_layer_test``, trimmed).

    1. an eager call's output shape equals ``compute_output_shape`` (and the expected one);
    2. a symbolic call on ``Input`` gives the same shape with ``None`` for the batch;
    3. ``from_config(get_config())`` rebuilds an equal configuration;
    4. ``get_weights``/``set_weights`` round-trip;
    5. one SGD step in a model changes every trainable weight (when the layer has any).

    Returns:
        the eagerly built layer.
    """
    from cnnkit.layers import Input
    from cnnkit.models import Model

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape).astype("float32")

    layer = layer_cls(**init_kwargs)
    out = np.asarray(layer(x))
    computed = tuple(layer.compute_output_shape(tuple(input_shape)))
    assert out.shape == computed, f"call gives {out.shape}, compute_output_shape {computed}"
    if expected_output_shape is not None:
        assert out.shape == tuple(expected_output_shape)

    symbolic_layer = layer_cls(**init_kwargs)
    inputs = Input(shape=input_shape[1:])
    symbolic = symbolic_layer(inputs)
    assert symbolic.shape == (None, *out.shape[1:])

    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config

    weights = layer.get_weights()
    layer.set_weights([w + 1 for w in weights])
    for new, old in zip(layer.get_weights(), weights):
        np.testing.assert_allclose(new, old + 1)

    if trains and symbolic_layer.trainable_weights:
        model = Model(inputs, symbolic)
        model.compile(optimizer="sgd", loss="mse")
        before = model.get_weights()
        target = rng.standard_normal(out.shape).astype("float32")
        model.train_on_batch(x, target)
        for w_before, w_after in zip(before, model.get_weights()):
            assert not np.allclose(w_before, w_after), "a trainable weight did not change"
    return layer


def blas_threads() -> list[int]:
    """The thread count of each loaded BLAS library (through threadpoolctl)."""
    from cnnkit.kernels import threads

    return [lib.num_threads for lib in threads._blas()]


def spy_on_splits(monkeypatch) -> list:
    """Record how inference cuts each batch between the cores: a list that receives one
    ``[(start, stop), ...]`` per split batch (nothing for a batch run whole)."""
    from cnnkit.models import inference

    calls, slices = [], inference._slices

    def spy(model, x):
        found = slices(model, x)
        if found is not None:
            calls.append([(s.start, s.stop) for s in found])
        return found

    monkeypatch.setattr(inference, "_slices", spy)
    return calls
