"""Convolution specifics: chunked workspace, output sizes, PyTorch agreement, errors."""

import math

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.autodiff import Variable
from cnnkit.kernels import conv


def _run(x, w, b, **kw):
    xv, wv, bv = Variable(x), Variable(w), Variable(b)
    out = conv.conv2d(xv, wv, bv, **kw)
    out.backward(np.cos(np.arange(out.data.size, dtype=out.dtype)).reshape(out.shape))
    return out.data, xv.grad, wv.grad, bv.grad


@pytest.mark.parametrize("strides", [(1, 1), (2, 1)])
@pytest.mark.parametrize("padding", ["valid", "same", "full"])
def test_chunked_workspace_gives_identical_results(padding, strides):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 8, 8, 3)).astype("float32")
    w = rng.standard_normal((3, 3, 3, 5)).astype("float32")
    b = rng.standard_normal(5).astype("float32")
    whole = _run(x, w, b, strides=strides, padding=padding)
    old = backend.conv_workspace_bytes()
    try:
        backend.set_conv_workspace_bytes(2 * 8 * 8 * 27 * 4)  # about two samples per chunk
        chunked = _run(x, w, b, strides=strides, padding=padding)
    finally:
        backend.set_conv_workspace_bytes(old)
    out, dx, dw, db = whole
    out_c, dx_c, dw_c, db_c = chunked
    np.testing.assert_array_equal(out, out_c)
    np.testing.assert_allclose(dx, dx_c, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(db, db_c)
    # the kernel gradient is summed chunk by chunk: equal up to float32 summation order
    np.testing.assert_allclose(dw, dw_c, rtol=1e-5, atol=1e-5)


def test_workspace_budget_is_validated():
    with pytest.raises(ValueError, match="strictly positive integer"):
        backend.set_conv_workspace_bytes(0)


@pytest.mark.parametrize("size", [5, 6, 7, 28])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_output_length_formulas(size, kernel, stride):
    eff = kernel
    assert conv.conv_output_length(size, kernel, stride, "valid") == (size - eff) // stride + 1
    assert conv.conv_output_length(size, kernel, stride, "same") == math.ceil(size / stride)
    assert conv.conv_output_length(size, kernel, stride, "full") == (size + eff - 2) // stride + 1
    assert conv.conv_output_length(None, kernel, stride, "same") is None


def test_channel_mismatch_is_reported():
    with pytest.raises(ValueError, match="expects 2 input channels, but the input has 3"):
        conv.conv2d(np.ones((1, 4, 4, 3), "float32"), np.ones((3, 3, 2, 1), "float32"))


@pytest.mark.torch
@pytest.mark.parametrize(
    "kernel, stride, padding, dilation",
    [(3, 1, "valid", 1), (3, 2, "valid", 1), (2, 2, "same", 1), (4, 1, "same", 1),
     (3, 1, "same", 2), (5, 3, "same", 1), (3, 1, "full", 1)],
)  # fmt: skip
def test_values_and_gradients_match_pytorch(kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 11, 10, 4))
    w = rng.standard_normal((kernel, kernel, 4, 6))
    b = rng.standard_normal(6)
    with backend.floatx_scope("float64"):
        out, dx, dw, db = _run(
            x, w, b, strides=(stride, stride), padding=padding, dilation_rate=(dilation, dilation)
        )
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wt = torch.tensor(w.transpose(3, 2, 0, 1), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    pads = []
    for size in (11, 10):
        eff = (kernel - 1) * dilation + 1
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "full":
            pads.append((eff - 1, eff - 1))
        else:
            total = max((math.ceil(size / stride) - 1) * stride + eff - size, 0)
            pads.append((total // 2, total - total // 2))
    padded = torch.nn.functional.pad(xt, (*pads[1], *pads[0]))
    ref = torch.nn.functional.conv2d(padded, wt, bt, stride=stride, dilation=dilation)
    ref = ref.permute(0, 2, 3, 1)
    ref.backward(torch.tensor(np.cos(np.arange(ref.numel())).reshape(ref.shape)))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-10, atol=1e-10)
