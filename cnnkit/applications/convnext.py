"""ConvNeXt (Liu et al., 2022, "A ConvNet for the 2020s") with Keras's layout and layer
names (``keras.applications.convnext``): Tiny, Small, Base, Large and XLarge."""

from __future__ import annotations

from cnnkit import initializers
from cnnkit.applications.imagenet_utils import (
    application_input,
    decode_predictions,  # noqa: F401 (Keras's name)
    load_application_weights,
    pool_features,
)
from cnnkit.applications.resnet import _APPLICATION_ARGS
from cnnkit.layers import (
    Activation,
    Add,
    Conv2D,
    Dense,
    Dropout,
    GlobalAveragePooling2D,
    Layer,
    LayerNormalization,
    Normalization,
)
from cnnkit.models import Model, Sequential
from cnnkit.saving.object_registration import register_keras_serializable

# name: (blocks per stage, channels per stage)
_CONFIGS = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
_EPSILON = 1e-6


@register_keras_serializable(package="cnnkit")
class LayerScale(Layer):
    """Multiply each channel by a learned factor that starts at ``init_values``.

    Args:
        init_values: the factors' initial value (ConvNeXt uses 1e-6).
        projection_dim: the number of channels (last axis).

    Example:
        >>> import numpy as np
        >>> LayerScale(0.5, 2)(np.ones((1, 2), "float32")).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """

    samplewise = True
    _onnx_conversion = "layer_scale"  # the exporter's conversion: x times gamma

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = float(init_values)
        self.projection_dim = int(projection_dim)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            (self.projection_dim,), initializers.Constant(self.init_values), name="gamma"
        )
        self.built = True

    def call(self, x):
        return x * self.gamma

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        return {**config, "init_values": self.init_values, "projection_dim": self.projection_dim}


@register_keras_serializable(package="cnnkit")
class StochasticDepth(Dropout):
    """Drop a residual branch for whole samples while training (Huang et al., 2016): each
    sample's output is zeroed with probability ``drop_path_rate``, the kept ones scaled by
    ``1 / (1 - drop_path_rate)``; the identity at inference.

    Args:
        drop_path_rate: the probability of dropping a sample's branch.

    Example:
        >>> import numpy as np
        >>> StochasticDepth(0.5)(np.ones((2, 3), "float32")).numpy()
        array([[1., 1., 1.],
               [1., 1., 1.]], dtype=float32)
    """

    _onnx_conversion = "identity"  # the exporter's conversion: inference passes it through

    def __init__(self, drop_path_rate, **kwargs):
        kwargs.pop("rate", None)
        kwargs.pop("noise_shape", None)
        super().__init__(drop_path_rate, **kwargs)
        self.drop_path_rate = float(drop_path_rate)

    def call(self, inputs, training=None):
        self.noise_shape = (None,) + (1,) * (len(inputs.shape) - 1)  # one draw per sample
        return super().call(inputs, training=training)

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("rate", "noise_shape", "seed"):
            config.pop(key, None)
        return {**config, "drop_path_rate": self.drop_path_rate}


def _block(x, channels, drop_path_rate, layer_scale_init_value, name):
    """depthwise 7×7 → LayerNorm → Dense 4C → GELU → Dense C → scale, added to ``x``."""
    y = Conv2D(channels, 7, padding="same", groups=channels, name=f"{name}_depthwise_conv")(x)
    y = LayerNormalization(epsilon=_EPSILON, name=f"{name}_layernorm")(y)
    y = Dense(4 * channels, name=f"{name}_pointwise_conv_1")(y)
    y = Activation("gelu", name=f"{name}_gelu")(y)
    y = Dense(channels, name=f"{name}_pointwise_conv_2")(y)
    if layer_scale_init_value is not None:
        y = LayerScale(layer_scale_init_value, channels, name=f"{name}_layer_scale")(y)
    if drop_path_rate:
        y = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")(y)
    else:
        y = Activation("linear", name=f"{name}_identity")(y)
    return Add(name=f"{name}_add")([x, y])


def ConvNeXt(
    depths,
    projection_dims,
    drop_path_rate=0.0,
    layer_scale_init_value=1e-6,
    default_size=224,
    name="convnext",
    include_preprocessing=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
) -> Model:
    """A ConvNeXt of any depth and width, laid out as Keras's (the named variants call it).

    Args:
        depths: four numbers of blocks, one per stage.
        projection_dims: four channel counts, one per stage.
        drop_path_rate: the stochastic-depth rate of the last block (rising linearly from 0
            at the first).
        layer_scale_init_value: the initial LayerScale factor (None: no LayerScale).
        default_size: the input size with the top when ``input_shape`` is not given.
        include_preprocessing: normalise 0-255 RGB pixels inside the model (ImageNet mean
            and standard deviation), so ``preprocess_input`` is the identity.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name: as the named variants. Without the top a
        LayerNormalization follows the (optional) pooling, as in Keras.
    """
    image, inputs, shape = application_input(
        weights, include_top, pooling, classes, input_shape, input_tensor,
        default_size=default_size, min_size=32, model="ConvNeXt",
    )  # fmt: skip
    x = image
    if include_preprocessing and shape[-1] == 3:
        mean = [0.485 * 255, 0.456 * 255, 0.406 * 255]
        variance = [(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2]
        x = Normalization(mean=mean, variance=variance, name=f"{name}_prestem_normalization")(x)
    rates = [
        drop_path_rate * i / max(sum(depths) - 1, 1) for i in range(sum(depths))
    ]  # Keras's np.linspace(0, drop_path_rate, sum(depths))
    for stage, (blocks, channels) in enumerate(zip(depths, projection_dims)):
        if stage == 0:
            down = Sequential(
                [
                    Conv2D(channels, 4, strides=4, name=f"{name}_stem_conv"),
                    LayerNormalization(epsilon=_EPSILON, name=f"{name}_stem_layernorm"),
                ],
                name=f"{name}_stem",
            )
        else:
            down = Sequential(
                [
                    LayerNormalization(
                        epsilon=_EPSILON, name=f"{name}_downsampling_layernorm_{stage - 1}"
                    ),
                    Conv2D(channels, 2, strides=2, name=f"{name}_downsampling_conv_{stage - 1}"),
                ],
                name=f"{name}_downsampling_block_{stage - 1}",
            )
        x = down(x)
        first = sum(depths[:stage])
        for j in range(blocks):
            block = f"{name}_stage_{stage}_block_{j}"
            x = _block(x, channels, rates[first + j], layer_scale_init_value, block)
    if include_top:
        x = GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = LayerNormalization(epsilon=_EPSILON, name=f"{name}_head_layernorm")(x)
        x = Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    else:
        x = LayerNormalization(epsilon=_EPSILON)(pool_features(x, pooling))
    model = Model(inputs, x, name=name)
    return load_application_weights(model, weights)


def _variant(size: str, parameters: str):
    depths, dims = _CONFIGS[size]

    def builder(
        include_top=True,
        include_preprocessing=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=f"convnext_{size}",
    ) -> Model:
        return ConvNeXt(
            depths, dims, name=name, include_preprocessing=include_preprocessing,
            include_top=include_top, weights=weights, input_tensor=input_tensor,
            input_shape=input_shape, pooling=pooling, classes=classes,
            classifier_activation=classifier_activation,
        )  # fmt: skip

    builder.__name__ = builder.__qualname__ = "ConvNeXt" + (
        "XLarge" if size == "xlarge" else size.capitalize()
    )
    builder.__doc__ = f"""ConvNeXt-{size.capitalize()}: stages of {depths} blocks with
    {dims} channels; {parameters} parameters with the top, Keras's count. Pixels 0-255 go
    in as they are (``include_preprocessing`` normalises them inside the model).
""" + _APPLICATION_ARGS.replace(
        "        include_top:",
        "        include_preprocessing: normalise 0-255 pixels inside the model.\n"
        "        include_top:",
    )
    return builder


ConvNeXtTiny = _variant("tiny", "28,589,128")
ConvNeXtSmall = _variant("small", "50,223,688")
ConvNeXtBase = _variant("base", "88,591,464")
ConvNeXtLarge = _variant("large", "197,767,336")
ConvNeXtXLarge = _variant("xlarge", "350,196,968")


def preprocess_input(x, data_format=None):
    """The identity, as in Keras: ConvNeXt normalises its 0-255 inputs itself."""
    return x
