"""DepthwiseConv2D, SeparableConv2D and Conv2DTranspose: Keras layouts and sizes, PyTorch
agreement, the transpose/gradient identity, chunking and errors. (Values and float64
gradients of the ops are in ``tests/kernels/test_op_table.py``.)"""

import math

import numpy as np
import pytest

from cnnkit import backend, layers
from cnnkit.autodiff import Variable
from cnnkit.kernels import conv
from cnnkit.layers import Input

RNG = np.random.default_rng(0)


def test_weight_names_and_shapes_follow_keras():
    x = np.zeros((1, 8, 8, 3), "float32")
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")
    depthwise(x)
    assert [(w.path, w.shape) for w in depthwise.weights] == [
        ("dw/kernel", (3, 3, 3, 2)),
        ("dw/bias", (6,)),
    ]
    separable = layers.SeparableConv2D(5, (3, 2), depth_multiplier=2, name="sep")
    separable(x)
    assert [(w.path, w.shape) for w in separable.weights] == [
        ("sep/depthwise_kernel", (3, 2, 3, 2)),
        ("sep/pointwise_kernel", (1, 1, 6, 5)),
        ("sep/bias", (5,)),
    ]
    transpose = layers.Conv2DTranspose(4, (2, 3), name="up")
    transpose(x)
    assert [(w.path, w.shape) for w in transpose.weights] == [
        ("up/kernel", (2, 3, 4, 3)),
        ("up/bias", (4,)),
    ]
    assert separable.count_params() == 3 * 2 * 3 * 2 + 6 * 5 + 5


# (filters, kernel_size, strides, padding, output_padding, dilation, input, output): the
# shapes of Keras's own conv_transpose_test, then one per branch of its formula.
TRANSPOSE_SHAPES = [
    (5, 2, 2, "valid", None, 1, (2, 8, 8, 4), (2, 16, 16, 5)),
    (6, 2, 3, "same", 2, 1, (2, 8, 8, 4), (2, 23, 23, 6)),
    (6, (2, 3), (2, 1), "valid", None, 1, (2, 8, 8, 4), (2, 16, 10, 6)),
    (2, 7, 16, "valid", None, 1, (1, 14, 14, 2), (1, 224, 224, 2)),
    (3, 3, 2, "same", None, 1, (1, 7, 5, 2), (1, 14, 10, 3)),
    (3, 3, 2, "valid", 1, 1, (1, 7, 5, 2), (1, 16, 12, 3)),
    (3, 3, 1, "same", None, 2, (1, 7, 5, 2), (1, 7, 5, 3)),
    (3, 3, 1, "valid", None, 2, (1, 7, 5, 2), (1, 11, 9, 3)),
]


@pytest.mark.parametrize("filters, k, s, padding, op, d, shape_in, shape_out", TRANSPOSE_SHAPES)
def test_conv_transpose_output_shapes(filters, k, s, padding, op, d, shape_in, shape_out):
    kwargs = dict(
        strides=s, padding=padding, output_padding=op, dilation_rate=d, kernel_initializer="ones"
    )
    layer = layers.Conv2DTranspose(filters, k, **kwargs)
    assert layer.compute_output_shape(shape_in) == shape_out
    assert np.asarray(layer(np.ones(shape_in, "float32"))).shape == shape_out
    symbolic = layers.Conv2DTranspose(filters, k, **kwargs)(Input(shape=shape_in[1:]))
    assert symbolic.shape == (None, *shape_out[1:])


@pytest.mark.parametrize("size", [1, 4, 7])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_transpose_length_formulas(size, kernel, stride):
    length = conv.conv_transpose_output_length
    assert length(size, kernel, stride, "valid") == (size - 1) * stride + max(kernel, stride)
    assert length(size, kernel, stride, "same") == size * stride
    for p in range(stride):
        assert length(size, kernel, stride, "valid", p) == (size - 1) * stride + kernel + p
        assert length(size, kernel, stride, "same", p) == (size - 1) * stride + kernel % 2 + p
    assert length(None, kernel, stride, "same") is None


@pytest.mark.parametrize(
    "k, s, padding",
    [(3, 2, "valid"), (3, 2, "same"), (4, 2, "same"), (3, 1, "same"), (2, 3, "valid")],
)
def test_conv_transpose_is_the_input_gradient_of_conv2d(k, s, padding):
    x = RNG.standard_normal((2, 7, 7, 3))
    kernel = RNG.standard_normal((k, k, 3, 4))  # a Conv2D from 3 to 4 channels
    with backend.floatx_scope("float64"):
        xv = Variable(x)
        out = conv.conv2d(xv, kernel, strides=(s, s), padding=padding)
        g = RNG.standard_normal(out.shape)
        out.backward(g)
        # Read as a Conv2DTranspose kernel (KH, KW, F=3, C=4), it maps g back to 3 channels;
        # output_padding picks the size 7 among those that convolve to out.shape[1].
        base = (out.shape[1] - 1) * s + (k if padding == "valid" else k % 2)
        transposed = conv.conv2d_transpose(
            g, kernel, strides=(s, s), padding=padding, output_padding=(7 - base,) * 2
        )
    np.testing.assert_allclose(transposed.data, xv.grad, rtol=1e-10, atol=1e-10)


def test_separable_is_depthwise_then_pointwise():
    x = RNG.standard_normal((2, 6, 6, 3)).astype("float32")
    separable = layers.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2)
    separable(x)
    dk, pk, b = separable.get_weights()
    depthwise = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)
    depthwise(x)
    depthwise.set_weights([dk, np.zeros(6, "float32")])
    pointwise = layers.Conv2D(4, 1)
    pointwise(np.zeros((1, 3, 3, 6), "float32"))
    pointwise.set_weights([pk, b])
    np.testing.assert_allclose(
        np.asarray(separable(x)), np.asarray(pointwise(depthwise(x))), rtol=1e-6, atol=1e-6
    )


def test_depthwise_output_channel_order_is_channel_major():
    x = np.ones((1, 4, 4, 3), "float32")
    layer = layers.DepthwiseConv2D(2, depth_multiplier=2, use_bias=False)
    layer(x)
    kernel = np.zeros((2, 2, 3, 2), "float32")
    kernel[..., 1, 0] = 1.0  # input channel 1, multiplier 0 -> output channel 1 * 2 + 0
    layer.set_weights([kernel])
    out = np.asarray(layer(x))
    assert np.all(out[..., 2] == 4.0) and np.count_nonzero(np.delete(out, 2, axis=-1)) == 0


def _torch_transpose_reference(torch, x, w, b, s, padding, op, d):
    """PyTorch's full ("natural") transposed convolution, then Keras's window of it."""
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wt = torch.tensor(w.transpose(3, 2, 0, 1), requires_grad=True)  # (C, F, KH, KW)
    bt = torch.tensor(b, requires_grad=True)
    full = torch.nn.functional.conv_transpose2d(xt, wt, stride=s, dilation=d)
    out = full
    for axis, (size, k) in enumerate(zip(x.shape[1:3], w.shape[:2])):
        length = conv.conv_transpose_output_length(size, k, s[axis], padding, op[axis], d[axis])
        eff = (k - 1) * d[axis] + 1
        if padding == "valid":
            crop = 0
        else:
            total = s[axis] + eff - 2 if op[axis] is None else eff + eff % 2 - 2 + op[axis]
            crop = eff - 1 - min(math.ceil(total / 2), eff - 1)
        short = crop + length - out.shape[2 + axis]
        if short > 0:  # Keras's output runs past the natural end: zeros
            pad = (0, 0, 0, short) if axis == 0 else (0, short)
            out = torch.nn.functional.pad(out, pad)
        out = out.narrow(2 + axis, crop, length)
    out = out + bt[None, :, None, None]
    return xt, wt, bt, out


@pytest.mark.torch
@pytest.mark.parametrize(
    "k, s, padding, op, d",
    [
        ((3, 3), (2, 2), "same", (None, None), (1, 1)),
        ((3, 3), (2, 2), "valid", (1, 1), (1, 1)),
        ((4, 3), (2, 3), "same", (1, 2), (1, 1)),
        ((2, 2), (3, 3), "valid", (None, None), (1, 1)),
        ((3, 2), (1, 1), "same", (None, None), (2, 2)),
        ((5, 5), (2, 2), "same", (None, None), (1, 1)),
    ],
)
def test_conv_transpose_values_and_gradients_match_pytorch(k, s, padding, op, d):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 5, 4, 3))
    w = RNG.standard_normal((*k, 2, 3))
    b = RNG.standard_normal(2)
    xt, wt, bt, ref = _torch_transpose_reference(torch, x, w, b, s, padding, op, d)
    g = np.cos(np.arange(ref.numel())).reshape(ref.shape)  # NCHW
    ref.backward(torch.tensor(g))
    with backend.floatx_scope("float64"):
        xv, wv, bv = Variable(x), Variable(w), Variable(b)
        op_arg = None if op == (None, None) else op
        out = conv.conv2d_transpose(xv, wv, bv, s, padding, op_arg, d)
        out.backward(g.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(out.data, ref.detach().numpy().transpose(0, 2, 3, 1), atol=1e-10)
    np.testing.assert_allclose(xv.grad, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-10)
    np.testing.assert_allclose(wv.grad, wt.grad.numpy().transpose(2, 3, 1, 0), atol=1e-10)
    np.testing.assert_allclose(bv.grad, bt.grad.numpy(), atol=1e-10)


@pytest.mark.torch
@pytest.mark.parametrize(
    "k, s, padding, d, m", [(3, 1, "valid", 1, 1), (3, 2, "same", 1, 2), (2, 1, "same", 2, 3)]
)
def test_depthwise_values_and_gradients_match_pytorch(k, s, padding, d, m):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 7, 6, 3))
    w = RNG.standard_normal((k, k, 3, m))
    b = RNG.standard_normal(3 * m)
    pads = []
    for size in (7, 6):
        eff = (k - 1) * d + 1
        total = 0 if padding == "valid" else max((math.ceil(size / s) - 1) * s + eff - size, 0)
        pads.append((total // 2, total - total // 2))
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wt = torch.tensor(w.transpose(2, 3, 0, 1).reshape(3 * m, 1, k, k), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    xpad = torch.nn.functional.pad(xt, (*pads[1], *pads[0]))
    ref = torch.nn.functional.conv2d(xpad, wt, bt, stride=s, dilation=d, groups=3)
    g = np.sin(np.arange(ref.numel())).reshape(ref.shape)
    ref.backward(torch.tensor(g))
    with backend.floatx_scope("float64"):
        xv, wv, bv = Variable(x), Variable(w), Variable(b)
        out = conv.depthwise_conv2d(xv, wv, bv, (s, s), padding, (d, d))
        out.backward(g.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(out.data, ref.detach().numpy().transpose(0, 2, 3, 1), atol=1e-10)
    np.testing.assert_allclose(xv.grad, xt.grad.numpy().transpose(0, 2, 3, 1), atol=1e-10)
    dw = wt.grad.numpy().reshape(3, m, k, k).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(wv.grad, dw, atol=1e-10)
    np.testing.assert_allclose(bv.grad, bt.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("needs_x", [True, False])
def test_conv_transpose_chunked_workspace_gives_the_same_results(needs_x):
    x = RNG.standard_normal((7, 4, 5, 3)).astype("float32")
    w = RNG.standard_normal((3, 3, 2, 3)).astype("float32")

    def run():
        xv = Variable(x) if needs_x else x
        wv = Variable(w)
        out = conv.conv2d_transpose(xv, wv, None, (2, 2), "same")
        out.backward(np.ones(out.shape, "float32"))
        return out.data, (xv.grad if needs_x else None), wv.grad

    whole = run()
    old = backend.conv_workspace_bytes()
    try:
        backend.set_conv_workspace_bytes(2 * 4 * 5 * 18 * 4)  # about two samples per chunk
        chunked = run()
    finally:
        backend.set_conv_workspace_bytes(old)
    for a, b in zip(whole, chunked):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), r"`depth_multiplier`.*=0"),
        (lambda: layers.SeparableConv2D(0, 3), r"Expected a strictly positive value.*filters=0"),
        (lambda: layers.SeparableConv2D(2, 3, strides=2, dilation_rate=2), r"dilation_rate > 1"),
        (lambda: layers.DepthwiseConv2D((3, 3, 3)), r"`kernel_size` argument must be a tuple"),
        (lambda: layers.Conv2DTranspose(-1, 3), r"filters=-1"),
        (
            lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=2),
            r"`output_padding` must be < `strides`",
        ),
        (lambda: layers.Conv2DTranspose(4, 3, padding="full"), r"Received: padding='full'"),
        (lambda: layers.Conv2DTranspose(4, 3, strides=2, dilation_rate=2), r"dilation_rate > 1"),
    ],
)
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_build_and_size_errors():
    with pytest.raises(ValueError, match=r"channel dimension.*should be defined"):
        layers.DepthwiseConv2D(3)(Input(shape=(8, 8, None)))
    with pytest.raises(ValueError, match=r"too small for kernel size \(5, 5\)"):
        layers.SeparableConv2D(2, 5)(Input(shape=(4, 4, 1)))
    with pytest.raises(ValueError, match=r"the output would be empty"):
        layers.Conv2DTranspose(2, 2, padding="same", output_padding=0)(Input(shape=(1, 1, 1)))
    layer = layers.DepthwiseConv2D(3, name="dw_a")
    layer(np.zeros((1, 5, 5, 2), "float32"))
    with pytest.raises(ValueError, match=r'"dw_a".*axis -1.*value 2'):
        layer(np.zeros((1, 5, 5, 3), "float32"))


def test_configs_round_trip():
    for layer in (
        layers.DepthwiseConv2D(3, strides=2, depth_multiplier=3, activation="relu"),
        layers.SeparableConv2D(4, (3, 1), padding="same", pointwise_initializer="he_normal"),
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=1, use_bias=False),
    ):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    transpose = layers.Conv2DTranspose(2, 3, output_padding=(0, 0))
    assert transpose.get_config()["output_padding"] == (0, 0)
