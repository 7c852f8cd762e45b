"""NASNet-A (Zoph et al., 2018, "Learning transferable architectures for scalable image
recognition") with Keras's layout and layer names (``keras.applications.nasnet``):
NASNetMobile and NASNetLarge."""

from __future__ import annotations

from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
)
from cnnkit.applications.imagenet_utils import preprocess_input as imagenet_preprocess
from cnnkit.applications.mobilenet_v2 import _correct_pad
from cnnkit.applications.resnet import _APPLICATION_ARGS, _top
from cnnkit.layers import (
    Activation,
    Add,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Cropping2D,
    MaxPooling2D,
    SeparableConv2D,
    ZeroPadding2D,
)
from cnnkit.models import Model


def _bn(name=None):
    return BatchNormalization(momentum=0.9997, epsilon=1e-3, name=name)


def _conv_1x1(x, filters, name):
    return Conv2D(filters, 1, padding="same", use_bias=False, name=name,
                  kernel_initializer="he_normal")(x)  # fmt: skip


def _separable(x, filters, kernel, block_id, strides=1):
    """relu → separable conv (strided: explicitly padded) → BN → relu → separable conv → BN."""
    x = Activation("relu")(x)
    padding = "same"
    if strides == 2:
        x = ZeroPadding2D(_correct_pad(x.shape[1:3], kernel),
                          name=f"separable_conv_1_pad_{block_id}")(x)  # fmt: skip
        padding = "valid"
    x = SeparableConv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                        name=f"separable_conv_1_{block_id}")(x)  # fmt: skip
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = Activation("relu")(x)
    x = SeparableConv2D(filters, kernel, padding="same", use_bias=False,
                        name=f"separable_conv_2_{block_id}")(x)  # fmt: skip
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust(p, ip, filters, block_id):
    """The previous cell's output ``p`` matched to ``ip``'s size (a factorised reduction:
    two offset strided 1×1 paths) or channel count (a 1×1 projection)."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv_1x1(p1, filters // 2, f"adjust_conv_1_{block_id}")
        p2 = Cropping2D(((1, 0), (1, 0)))(ZeroPadding2D(((0, 1), (0, 1)))(p))
        p2 = AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv_1x1(p2, filters // 2, f"adjust_conv_2_{block_id}")
        return _bn(f"adjust_bn_{block_id}")(Concatenate()([p1, p2]))
    if p.shape[-1] != filters:
        p = _conv_1x1(Activation("relu")(p), filters, f"adjust_conv_projection_{block_id}")
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _squeeze(ip, filters, kind, block_id):
    """relu → 1×1 conv → BN: the cell's input brought to ``filters`` channels."""
    h = _conv_1x1(Activation("relu")(ip), filters, f"{kind}_conv_1_{block_id}")
    return _bn(f"{kind}_bn_1_{block_id}")(h)


def _avg3(x, strides, name):
    padding = "same" if strides == 1 else "valid"
    return AveragePooling2D(3, strides=strides, padding=padding, name=name)(x)


def _normal_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "normal", block_id)
    b = block_id
    x1 = Add(name=f"normal_add_1_{b}")(
        [_separable(h, filters, 5, f"normal_left1_{b}"),
         _separable(p, filters, 3, f"normal_right1_{b}")]
    )  # fmt: skip
    x2 = Add(name=f"normal_add_2_{b}")(
        [_separable(p, filters, 5, f"normal_left2_{b}"),
         _separable(p, filters, 3, f"normal_right2_{b}")]
    )  # fmt: skip
    x3 = Add(name=f"normal_add_3_{b}")([_avg3(h, 1, f"normal_left3_{b}"), p])
    x4 = Add(name=f"normal_add_4_{b}")(
        [_avg3(p, 1, f"normal_left4_{b}"), _avg3(p, 1, f"normal_right4_{b}")]
    )
    x5 = Add(name=f"normal_add_5_{b}")([_separable(h, filters, 3, f"normal_left5_{b}"), h])
    return Concatenate(name=f"normal_concat_{b}")([p, x1, x2, x3, x4, x5]), ip


def _reduction_cell(ip, p, filters, block_id):
    p = _adjust(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "reduction", block_id)
    b = block_id
    h3 = ZeroPadding2D(_correct_pad(h.shape[1:3], 3), name=f"reduction_pad_1_{b}")(h)
    x1 = Add(name=f"reduction_add_1_{b}")(
        [_separable(h, filters, 5, f"reduction_left1_{b}", strides=2),
         _separable(p, filters, 7, f"reduction_right1_{b}", strides=2)]
    )  # fmt: skip
    x2 = Add(name=f"reduction_add_2_{b}")(
        [MaxPooling2D(3, strides=2, name=f"reduction_left2_{b}")(h3),
         _separable(p, filters, 7, f"reduction_right2_{b}", strides=2)]
    )  # fmt: skip
    x3 = Add(name=f"reduction_add3_{b}")(
        [_avg3(h3, 2, f"reduction_left3_{b}"),
         _separable(p, filters, 5, f"reduction_right3_{b}", strides=2)]
    )  # fmt: skip
    x4 = Add()([x2, _avg3(x1, 1, f"reduction_left4_{b}")])
    x5 = Add(name=f"reduction_add4_{b}")(
        [_separable(x1, filters, 3, f"reduction_left4_{b}"),
         MaxPooling2D(3, strides=2, name=f"reduction_right5_{b}")(h3)]
    )  # fmt: skip
    return Concatenate(name=f"reduction_concat_{b}")([x2, x3, x4, x5]), ip


def NASNet(
    input_shape=None,
    penultimate_filters=4032,
    num_blocks=6,
    stem_block_filters=96,
    skip_reduction=True,
    filter_multiplier=2,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    default_size=None,
    classifier_activation="softmax",
    name="NASNet",
) -> Model:
    """A NASNet-A of any size, laid out as Keras's (the Mobile and Large variants call it).

    Args:
        penultimate_filters: the channels of the last cells (a multiple of
            ``24 * filter_multiplier**2``).
        num_blocks: normal cells between the reductions.
        stem_block_filters: the stem convolution's filters.
        skip_reduction: skip the reduction cells' output as the next cells' previous input.
        filter_multiplier: the channel growth at each reduction.
        default_size: the input size with the top (331 if None).
        input_shape, include_top, weights, input_tensor, pooling, classes,
        classifier_activation, name: as the named variants.
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=default_size or 331, min_size=32, model="NASNet",
    )  # fmt: skip
    if penultimate_filters % (24 * filter_multiplier**2):
        raise ValueError(
            "For NASNet-A models, the `penultimate_filters` must be a multiple of 24 * "
            f"(`filter_multiplier` ** 2). Current value: {penultimate_filters}"
        )
    filters = penultimate_filters // 24
    x = Conv2D(stem_block_filters, 3, strides=2, use_bias=False, name="stem_conv1",
               kernel_initializer="he_normal")(image)  # fmt: skip
    x = _bn("stem_bn1")(x)
    p = None
    x, p = _reduction_cell(x, p, filters // filter_multiplier**2, "stem_1")
    x, p = _reduction_cell(x, p, filters // filter_multiplier, "stem_2")
    for stage in range(3):
        width = filters * filter_multiplier**stage
        if stage:
            x, reduced = _reduction_cell(x, p, width, f"reduce_{stage * num_blocks}")
            p = p if skip_reduction else reduced
        for i in range(num_blocks):
            block = i if stage == 0 else stage * num_blocks + i + 1
            x, p = _normal_cell(x, p, width, f"{block}")
    x = Activation("relu")(x)
    model = Model(inputs, _top(x, include_top, pooling, classes, classifier_activation), name=name)
    return load_application_weights(model, weights)


def NASNetMobile(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_mobile",
) -> Model:
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(
        input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
        skip_reduction=False, filter_multiplier=2, include_top=include_top, weights=weights,
        input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=224,
        classifier_activation=classifier_activation, name=name,
    )  # fmt: skip


def NASNetLarge(
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_large",
) -> Model:
    return NASNet(
        input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
        skip_reduction=True, filter_multiplier=2, include_top=include_top, weights=weights,
        input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=331,
        classifier_activation=classifier_activation, name=name,
    )  # fmt: skip


NASNetMobile.__doc__ = (
    """NASNet-A Mobile: 4 normal cells per stage, 1056 penultimate
    filters; 5,326,716 parameters with the top, Keras's count. Default input 224×224.
"""
    + _APPLICATION_ARGS
)
NASNetLarge.__doc__ = """NASNet-A Large: 6 normal cells per stage, 4032 penultimate filters;
    88,949,818 parameters with the top, Keras's count. Default input 331×331.
""" + _APPLICATION_ARGS.replace("(224, 224, 3)", "(331, 331, 3)")


def preprocess_input(x, data_format=None):
    """Keras's ``"tf"`` preprocessing of NASNet: pixels 0-255 scaled to [-1, 1]."""
    return imagenet_preprocess(x, mode="tf", data_format=data_format)
