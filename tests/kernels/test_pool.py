"""Pooling: every (pool, stride, padding, odd/non-square size) against a loop reference,
gradients (including the tie rule) against a loop reference, PyTorch, and error messages."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from cnnkit.autodiff import Tensor, Variable
from cnnkit.kernels import pool
from tests.kernels import reference as ref

POOLS = [2, 3, (2, 3)]
STRIDES = [1, 2, 3, (2, 1)]
PADDINGS = ["valid", "same"]
SIZES = [(6, 6), (7, 5), (5, 8), (3, 3)]
KINDS = {"max": pool.max_pool2d, "avg": pool.avg_pool2d}


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _configs():
    for p, s, padding, (h, w) in itertools.product(POOLS, STRIDES, PADDINGS, SIZES):
        ph, pw = _pair(p)
        if padding == "valid" and (h < ph or w < pw):
            continue
        yield p, s, padding, (h, w)


CONFIGS = list(_configs())


def _run(kind, x, p, s, padding):
    v = Variable(x)
    out = KINDS[kind](v, p, s, padding)
    grad = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(grad)
    return out.data, v.grad, grad


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_all_configurations_match_loop_reference(kind):
    rng = np.random.default_rng(0)
    for p, s, padding, (h, w) in CONFIGS:
        # Small integers: plenty of ties, so the max-pool tie rule is exercised too.
        x = rng.integers(-3, 4, size=(2, h, w, 3)).astype(np.float64)
        out, gx, grad = _run(kind, x, p, s, padding)
        where = f"pool={p}, strides={s}, padding={padding}, size={(h, w)}"
        expected = ref.pool2d(x, _pair(p), _pair(s), padding, kind)
        np.testing.assert_allclose(out, expected, rtol=1e-12, err_msg=where)
        expected_grad = ref.pool2d_grad(x, grad, _pair(p), _pair(s), padding, kind)
        np.testing.assert_allclose(gx, expected_grad, rtol=1e-12, atol=1e-12, err_msg=where)


@pytest.mark.parametrize(
    "h, w, p, s, padding",
    [(5, 7, 2, 2, "same"), (5, 7, 3, 2, "same"), (4, 4, 3, 1, "same"), (4, 5, 2, 3, "same")],
)
def test_output_size_formulas(h, w, p, s, padding):
    x = np.zeros((1, h, w, 1), dtype=np.float32)
    oh = -(-h // s) if padding == "same" else (h - p) // s + 1
    ow = -(-w // s) if padding == "same" else (w - p) // s + 1
    assert pool.max_pool2d(x, p, s, padding).shape == (1, oh, ow, 1)
    assert pool.pool2d_output_shape((None, h, w, 1), p, s, padding) == (None, oh, ow, 1)


def test_same_average_divides_by_real_pixels_only():
    # 3x3 of ones, pool 2 stride 2 "same": 2x2 output, padded at the bottom/right only.
    x = np.ones((1, 3, 3, 1), dtype=np.float32)
    out = pool.avg_pool2d(x, 2, 2, "same").data[0, :, :, 0]
    np.testing.assert_array_equal(out, np.ones((2, 2), dtype=np.float32))
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    out = pool.avg_pool2d(x, 2, 2, "same").data[0, :, :, 0]
    np.testing.assert_allclose(out, [[2.0, 3.5], [6.5, 8.0]])


def test_same_pads_extra_row_at_the_bottom():
    # H=4, pool 3, stride 2 -> out 2, total pad 1: all of it at the bottom (TF), none on top.
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    out = pool.max_pool2d(x, 3, 2, "same").data[0, :, :, 0]
    np.testing.assert_array_equal(out, [[10.0, 11.0], [14.0, 15.0]])


def test_max_ties_route_to_first_element_only():
    x = np.zeros((1, 2, 2, 1))
    v = Variable(x)
    pool.max_pool2d(v, 2).sum().backward()
    np.testing.assert_array_equal(v.grad[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])
    v = Variable(np.zeros((1, 3, 3, 1)))
    pool.max_pool2d(v, 2, 1).sum().backward()  # overlapping windows, all tied
    # Each of the four windows sends its gradient to its own top-left pixel.
    np.testing.assert_array_equal(v.grad[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_global_max_ties_route_to_first():
    v = Variable(np.ones((1, 2, 2, 1)))
    pool.global_max_pool2d(v).sum().backward()
    np.testing.assert_array_equal(v.grad[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_fast_path_is_taken_for_non_overlapping_windows():
    assert pool._plan((1, 4, 6, 1), 2, None, "valid").fast
    assert pool._plan((1, 5, 7, 1), 2, 2, "valid").fast  # cropped
    assert pool._plan((1, 4, 6, 1), 2, 2, "same").fast  # nothing to pad
    assert not pool._plan((1, 5, 7, 1), 2, 2, "same").fast
    assert not pool._plan((1, 5, 7, 1), 3, 2, "valid").fast


def test_float32_in_float32_out_and_no_input_mutation():
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype(np.float32)
    before = x.copy()
    for fn in (pool.max_pool2d, pool.avg_pool2d):
        for padding in PADDINGS:
            assert fn(x, 3, 2, padding).dtype == np.float32
    assert pool.global_max_pool2d(x).dtype == np.float32
    assert pool.global_avg_pool2d(x).dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_global_pools_shapes():
    x = Tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    assert pool.global_max_pool2d(x).shape == (2, 5)
    assert pool.global_avg_pool2d(x, keepdims=True).shape == (2, 1, 1, 5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pool_size": 0}, "Invalid value for argument `pool_size`. Expected strictly positive"),
        ({"pool_size": (2, 2, 2)}, "Expected an int or a tuple of 2 ints"),
        ({"strides": (1, -1)}, "Invalid value for argument `strides`"),
        ({"padding": "full"}, "Invalid value for argument `padding`"),
        ({"pool_size": 6}, "Computed output size would be zero or negative"),
    ],
)
def test_bad_arguments(kwargs, message):
    x = np.zeros((1, 5, 5, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape(message)):
        pool.max_pool2d(x, **{"pool_size": 2, **kwargs})


def test_non_4d_input():
    with pytest.raises(ValueError, match=r"4-D input.*input\.shape=\(5, 5, 1\)"):
        pool.avg_pool2d(np.zeros((5, 5, 1)), 2)
    with pytest.raises(ValueError, match="4-D input"):
        pool.global_max_pool2d(np.zeros((5, 5, 1)))


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    "p, s, padding, hw",
    [
        (2, 2, "valid", (6, 8)),
        (2, 2, "valid", (7, 9)),
        (3, 2, "valid", (7, 8)),
        (3, 1, "valid", (5, 6)),
        ((2, 3), (1, 2), "valid", (6, 7)),
        (3, 1, "same", (5, 6)),  # symmetric padding (1 each side): torch agrees
        (3, 2, "same", (7, 9)),  # symmetric padding (1 each side)
    ],
)
def test_matches_torch(kind, p, s, padding, hw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(0).permutation(2 * hw[0] * hw[1] * 3).reshape(2, *hw, 3) * 0.01
    out, gx, grad = _run(kind, x, p, s, padding)
    pad = (0, 0)
    if padding == "same":
        pad = tuple((_pair(p)[i] - 1) // 2 for i in range(2))
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    if kind == "max":
        yt = F.max_pool2d(xt, _pair(p), _pair(s), padding=pad)
    else:
        yt = F.avg_pool2d(xt, _pair(p), _pair(s), padding=pad, count_include_pad=False)
    yt.backward(torch.tensor(grad.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12)
    np.testing.assert_allclose(gx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
