"""The architecture zoo: parameter counts against published references, output shapes on
small inputs, ``include_top=False`` pooling, argument errors, and one training step."""

import numpy as np
import pytest

from cnnkit import backend
from cnnkit.applications import (
    VGG16,
    VGG19,
    AlexNet,
    GoogLeNet,
    LeNet5,
    ResNet18,
    resnet_small,
)
from cnnkit.layers import Add, Concatenate, Input, Rescaling
from cnnkit.models import Model

RNG = np.random.default_rng(0)


def counts(model):
    """``(total, trainable, non-trainable)`` parameter counts."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert model.count_params() == trainable + non_trainable
    return model.count_params(), trainable, non_trainable


# (builder, kwargs, total, trainable): references in the builders' docstrings.
PARAMETER_COUNTS = [
    (LeNet5, {}, 61_706, 61_706),  # classic LeNet-5 with full C3 connectivity
    (LeNet5, {"input_shape": (28, 28, 1)}, 61_706, 61_706),  # "same" first conv on MNIST
    (AlexNet, {}, 62_378_344, 62_378_344),  # single-tower AlexNet at 227×227×3
    (GoogLeNet, {}, 6_998_552, 6_998_552),  # the paper's layout, no auxiliary heads
    # torchvision googlenet(aux_logits=False): 6,624,904 parameters (BN running stats are
    # buffers there, non-trainable weights here: 2 × 7,280 channels).
    (GoogLeNet, {"batch_norm": True}, 6_624_904 + 14_560, 6_624_904),
    # torchvision resnet18: 11,689,512 parameters, plus 2 × 4,800 BN statistics.
    (ResNet18, {}, 11_689_512 + 9_600, 11_689_512),
    (resnet_small, {"depth": 20}, 274_442, 273_066),  # Keras's CIFAR-10 ResNet20 v1 example
    (resnet_small, {"depth": 8}, 78_666, 78_186),
    (VGG16, {"include_top": False}, 14_714_688, 14_714_688),  # Keras VGG16 without top
    (VGG19, {"include_top": False}, 20_024_384, 20_024_384),  # Keras VGG19 without top
]


@pytest.mark.parametrize(
    "builder, kwargs, total, trainable",
    PARAMETER_COUNTS,
    ids=[f"{b.__name__}-{'-'.join(map(str, k.values()))}" for b, k, *_ in PARAMETER_COUNTS],
)
def test_parameter_counts(builder, kwargs, total, trainable):
    assert counts(builder(**kwargs)) == (total, trainable, total - trainable)


@pytest.mark.slow
def test_vgg16_and_vgg19_full_parameter_counts():
    """138,357,544 and 143,667,240 at 224×224×3, 1000 classes (Keras, the paper): ~1 GB."""
    model = VGG16()
    assert model.input_shape == (None, 224, 224, 3)
    assert model.get_layer("flatten").output.shape == (None, 25088)
    assert counts(model) == (138_357_544, 138_357_544, 0)
    del model
    assert counts(VGG19()) == (143_667_240, 143_667_240, 0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: LeNet5(input_shape=(32, 32, 3), classes=10),
        lambda: VGG16(input_shape=(32, 32, 3), classes=10),
        lambda: GoogLeNet(input_shape=(32, 32, 3), classes=10),
        lambda: GoogLeNet(input_shape=(32, 32, 3), classes=10, batch_norm=True),
        lambda: ResNet18(input_shape=(32, 32, 3), classes=10),
        lambda: resnet_small(20, input_shape=(32, 32, 3)),
    ],
    ids=["lenet5", "vgg16", "googlenet", "googlenet-bn", "resnet18", "resnet20"],
)
def test_predict_on_small_images(build):
    model = build()
    out = model.predict(RNG.random((2, 32, 32, 3), dtype="float32"), verbose=0)
    assert out.shape == (2, 10)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "builder, kwargs",
    [
        (LeNet5, {}),
        (GoogLeNet, {"batch_norm": True}),
        (ResNet18, {}),
        (resnet_small, {"depth": 8}),
    ],
)
def test_builds_on_28x28x1(builder, kwargs):
    model = builder(input_shape=(28, 28, 1), classes=10, **kwargs)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda p: LeNet5(include_top=False, input_shape=(28, 28, 1), pooling=p), (5, 5, 16)),
        (lambda p: AlexNet(include_top=False, input_shape=(67, 67, 3), pooling=p), (1, 1, 256)),
        (lambda p: VGG16(include_top=False, input_shape=(32, 32, 3), pooling=p), (1, 1, 512)),
        (lambda p: GoogLeNet(include_top=False, input_shape=(64, 64, 3), pooling=p), (2, 2, 1024)),
        (lambda p: ResNet18(include_top=False, input_shape=(64, 64, 3), pooling=p), (2, 2, 512)),
        (
            lambda p: resnet_small(8, include_top=False, input_shape=(28, 28, 3), pooling=p),
            (7, 7, 64),
        ),
    ],
    ids=["lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "resnet8"],
)
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_include_top_false_and_pooling(build, shape, pooling):
    model = build(pooling)
    expected = (None, *shape) if pooling is None else (None, shape[-1])
    assert model.output_shape == expected


def test_include_top_false_without_input_shape_accepts_any_size():
    model = VGG19(include_top=False, pooling="avg")
    assert model.input_shape == (None, None, None, 3)
    assert model.predict(RNG.random((1, 40, 48, 3), dtype="float32"), verbose=0).shape == (1, 512)


def test_minimum_input_sizes():
    VGG16(include_top=False, input_shape=(32, 32, 3))
    AlexNet(include_top=False, input_shape=(67, 67, 3))
    LeNet5(input_shape=(12, 12, 1))
    LeNet5(input_shape=(16, 16, 1), padding="valid")
    with pytest.raises(ValueError, match=r"at least 32x32 for VGG16.*\(31, 32, 3\)"):
        VGG16(include_top=False, input_shape=(31, 32, 3))
    with pytest.raises(ValueError, match=r"at least 32x32 for VGG19.*\(28, 28, 1\)"):
        VGG19(input_shape=(28, 28, 1), classes=10)
    with pytest.raises(ValueError, match=r"at least 67x67 for AlexNet.*\(32, 32, 3\)"):
        AlexNet(input_shape=(32, 32, 3), classes=10)
    with pytest.raises(ValueError, match=r"at least 67x67 for AlexNet"):
        AlexNet(include_top=False, input_shape=(66, 66, 3))
    with pytest.raises(ValueError, match=r"at least 12x12 for LeNet5"):
        LeNet5(input_shape=(11, 11, 1))
    with pytest.raises(ValueError, match=r"at least 16x16 for LeNet5 with padding='valid'"):
        LeNet5(input_shape=(15, 15, 1), padding="valid")


@pytest.mark.parametrize(
    "builder", [LeNet5, AlexNet, VGG16, VGG19, GoogLeNet, ResNet18, resnet_small]
)
def test_pretrained_weights_are_refused(builder):
    with pytest.raises(ValueError, match=r"does not download pretrained.*weights='imagenet'"):
        builder(weights="imagenet")


def test_argument_errors():
    with pytest.raises(ValueError, match=r"`pooling`.*Received: pooling='sum'"):
        ResNet18(include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"`classes`.*Received: classes=0"):
        LeNet5(classes=0)
    with pytest.raises(ValueError, match=r"static `input_shape`.*\(None, None, 3\)"):
        GoogLeNet(input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"three positive integers.*\(32, 32\)"):
        VGG16(input_shape=(32, 32))
    with pytest.raises(ValueError, match=r"`padding`.*Received: padding='full'"):
        LeNet5(padding="full")
    with pytest.raises(ValueError, match=r"6n \+ 2.*Received: depth=21"):
        resnet_small(21)
    with pytest.raises(TypeError, match=r"`input_tensor`.*symbolic"):
        LeNet5(input_tensor=np.zeros((1, 32, 32, 1)))
    with pytest.raises(ValueError, match=r"does not match the shape of `input_tensor`"):
        LeNet5(input_tensor=Input((32, 32, 1)), input_shape=(28, 28, 1))


def test_input_tensor_keeps_the_source_input():
    i = Input(shape=(28, 28, 1))
    x = Rescaling(1 / 255)(i)
    model = resnet_small(8, input_tensor=x, classifier_activation=None)
    assert model.inputs == [i]
    assert model.output_shape == (None, 10)
    # the top built on the tensor: Rescaling is part of the model
    assert any(isinstance(layer, Rescaling) for layer in model.layers)
    # and it is usable as a block inside a bigger model
    outer = Model(i, model.outputs[0])
    assert outer.predict(np.ones((1, 28, 28, 1), "float32"), verbose=0).shape == (1, 10)


def test_layer_names_follow_keras_vgg16():
    backend.clear_session()
    names = [layer.name for layer in VGG16(include_top=False, input_shape=(32, 32, 3)).layers]
    assert names[:4] == ["input_layer", "block1_conv1", "block1_conv2", "block1_pool"]
    assert names[-4:] == ["block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"]
    assert len(names) == 19


def test_googlenet_inception_modules():
    paper = GoogLeNet(include_top=False, input_shape=(32, 32, 3))
    bn = GoogLeNet(include_top=False, input_shape=(32, 32, 3), batch_norm=True)
    for model in (paper, bn):
        joins = [layer for layer in model.layers if isinstance(layer, Concatenate)]
        assert [layer.name for layer in joins] == [
            f"inception{m}" for m in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
        ]
        assert all(len(layer._inbound_nodes[0].input_tensors) == 4 for layer in joins)
    assert paper.get_layer("inception3a").output.shape == (None, 4, 4, 256)
    # the paper's 5×5 branch, and torchvision's 3×3 conv (no bias) in its place
    assert [w.shape for w in paper.get_layer("inception3a_5x5").weights] == [(5, 5, 16, 32), (32,)]
    assert [w.shape for w in bn.get_layer("inception3a_5x5").weights] == [(3, 3, 16, 32)]
    assert bn.get_layer("inception3a_5x5_bn").epsilon == 1e-3


def test_resnet18_structure():
    model = ResNet18(input_shape=(224, 224, 3), include_top=False)
    assert sum(isinstance(layer, Add) for layer in model.layers) == 8
    shapes = [model.get_layer(n).output.shape[1:3] for n in ("conv1_relu", "pool1_pool")]
    shapes += [model.get_layer(f"conv{s}_block2_out").output.shape[1:3] for s in (2, 3, 4, 5)]
    assert shapes == [(112, 112), (56, 56), (56, 56), (28, 28), (14, 14), (7, 7)]


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda: LeNet5(input_shape=(28, 28, 1)), (28, 28, 1)),
        (lambda: resnet_small(8, input_shape=(16, 16, 3), classes=3), (16, 16, 3)),
    ],
    ids=["lenet5", "resnet8"],
)
def test_one_training_step_changes_the_weights(build, shape):
    model = build()
    classes = model.output_shape[-1]
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    x = RNG.random((4, *shape), dtype="float32")
    y = np.arange(4) % classes
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    after = model.get_weights()
    trainable = {id(w) for w in model.trainable_weights}
    for w, old, new in zip(model.weights, before, after):
        if id(w) in trainable:
            assert not np.array_equal(old, new), w.path
