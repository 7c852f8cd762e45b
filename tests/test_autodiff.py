"""The reverse-mode engine (``cnnkit.autodiff``): graph walk, accumulation, freeing, errors.

The ops' own gradients are checked in ``tests/kernels`` (the op table); here it is the
engine that carries them: shared inputs add up, a deep graph needs no recursion, a used
graph is freed, shapes are checked, and ``Function`` subclasses get ``needs_grad``.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cnnkit.autodiff import Function, Tensor, Variable, _topological_order, no_grad, unbroadcast


def test_a_tensor_used_twice_receives_the_sum_of_both_gradients():
    x = Variable(np.array([1.0, -2.0, 3.0]))
    y = x * x + x * 3.0  # d/dx = 2x + 3
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, -1.0, 9.0])


def test_gradients_accumulate_across_backward_calls_as_keras_torch_does():
    x = Variable(np.array([2.0]))
    (x * x).sum().backward()
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad, [4.0 + 5.0])


def test_a_deep_chain_runs_without_python_recursion():
    x = Variable(np.array([1.0]))
    y = x
    depth = sys.getrecursionlimit() * 3
    for _ in range(depth):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])
    np.testing.assert_allclose(y.data, [1.0 + depth])


def test_the_topological_order_puts_every_node_after_its_inputs():
    a, b = Variable(np.ones(2)), Variable(np.ones(2))
    c = a * b
    d = c + a
    e = d * c
    order = _topological_order(e)
    position = {id(t): i for i, t in enumerate(order)}
    for node in order:
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent.requires_grad:
                    assert position[id(parent)] < position[id(node)]
    assert order[-1] is e and len(order) == 5


def test_backward_frees_the_graph_it_walked():
    x = Variable(np.ones(3))
    y = (x * 2.0).sum()
    y.backward()
    assert y._ctx is None
    with pytest.raises(RuntimeError, match="does not require gradients"):
        Tensor(np.ones(2)).backward()


def test_constants_and_no_grad_record_nothing():
    x = Variable(np.ones(2))
    assert (Tensor(np.ones(2)) * 3.0)._ctx is None
    with no_grad():
        y = x * 2.0
    assert y._ctx is None and not y.requires_grad
    with pytest.raises(RuntimeError, match="computed under no_grad"):
        y.sum().backward()


def test_a_backward_returning_a_wrong_shape_is_named():
    class Broken(Function):
        def forward(self, x):
            return x.sum()

        def backward(self, grad):
            return np.ones(5)

    x = Variable(np.ones(3))
    with pytest.raises(RuntimeError, match=r"Broken.backward returned a gradient of shape \(5,\)"):
        Broken.apply(x).backward()


def test_needs_grad_tells_backward_which_inputs_want_a_gradient():
    seen = []

    class Probe(Function):
        def forward(self, a, b):
            seen.append(self.needs_grad)
            return a * b

        def backward(self, grad):
            a, b = (p.data for p in self.parents)
            da = grad * b if self.needs_grad[0] else None
            return da, grad * a if self.needs_grad[1] else None

    w = Variable(np.array([3.0]))
    Probe.apply(w, np.array([4.0])).sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_allclose(w.grad, [4.0])


@pytest.mark.parametrize(
    "grad_shape, shape, want",
    [((2, 3), (3,), [2.0, 2.0, 2.0]), ((2, 3), (2, 1), [[3.0], [3.0]]), ((4,), (4,), [1.0] * 4)],
)
def test_unbroadcast_sums_the_broadcast_axes(grad_shape, shape, want):
    np.testing.assert_allclose(unbroadcast(np.ones(grad_shape), shape), want)


def test_broadcast_arithmetic_gives_gradients_of_the_input_shapes():
    a = Variable(np.ones((2, 3)))
    b = Variable(np.array([1.0, 2.0, 3.0]))
    (a * b).sum().backward()
    assert a.grad.shape == (2, 3) and b.grad.shape == (3,)
    np.testing.assert_allclose(a.grad, [[1.0, 2.0, 3.0]] * 2)
    np.testing.assert_allclose(b.grad, [2.0, 2.0, 2.0])


def test_comparisons_are_element_wise_boolean_tensors_as_on_keras_torch():
    x = Variable(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal((x != 0).data, [False, True, True])
    np.testing.assert_array_equal((x == 1).data, [False, True, False])
    np.testing.assert_array_equal((x < Tensor(np.array([1.0, 1.0, 3.0]))).data, [True, False, True])
    np.testing.assert_array_equal((1 <= x).data, [False, True, True])  # reflected
    np.testing.assert_array_equal((x > 0.5).data, [False, True, True])
    np.testing.assert_array_equal((x >= 2).data, [False, False, True])
    mask = x != 0
    assert mask.dtype == np.bool_ and not mask.requires_grad  # no gradient through a test
    assert {x: "kept"}[x] == "kept" and x in {x}  # hashing stays by identity
    assert bool(Tensor(np.array(1.0)) == 1.0)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x == x)


def test_a_symbolic_not_equal_records_a_node_and_equal_stays_identity_as_keras():
    import cnnkit as keras

    inputs = keras.Input((3,))
    assert (inputs == 0) is False  # KerasTensor's == is Python's, as in Keras
    model = keras.Model(inputs, keras.ops.cast(inputs != 0, "float32"))
    out = model.predict(np.array([[0.0, 1.0, -2.0]], "float32"), verbose=0)
    np.testing.assert_array_equal(out, [[0.0, 1.0, 1.0]])
