"""Ready-made architectures, as in ``keras.applications``.

The Keras-style builders (Keras's ``ResNet50``/``101``/``152`` and their V2, ``DenseNet121``/
``169``/``201``, ``MobileNet``, ``MobileNetV2``, ``InceptionV3``, ``InceptionResNetV2``,
``Xception``, ``NASNetMobile``/``Large``, ``ConvNeXtTiny``..``XLarge``, ``VGG16``, ``VGG19``,
and ``LeNet5``, ``AlexNet``, ``GoogLeNet``, ``ResNet18``, ``resnet_small``) take
``include_top, weights, input_tensor, input_shape, pooling, classes,
classifier_activation`` as ``keras.applications`` does, with Keras's parameter counts;
``weights`` is None (random initialization) or the path of a weights file on disk (Keras's
published ``.h5`` files load layer by layer, as in Keras; nothing is downloaded). Each
architecture's module has Keras's ``preprocess_input`` and ``decode_predictions``.
``lecture_cnn`` and ``vgg_cifar`` are the lecture's models; ``text_cnn`` and
``lstm_classifier`` classify padded token sequences.
"""

from cnnkit.applications import (
    convnext,
    densenet,
    efficientnet,
    efficientnet_v2,
    imagenet_utils,
    inception_resnet_v2,
    inception_v3,
    mobilenet,
    mobilenet_v2,
    mobilenet_v3,
    nasnet,
    resnet,
    resnet50,
    resnet_v2,
    vgg16,
    vgg19,
    xception,
)
from cnnkit.applications.alexnet import AlexNet
from cnnkit.applications.convnext import (
    ConvNeXtBase,
    ConvNeXtLarge,
    ConvNeXtSmall,
    ConvNeXtTiny,
    ConvNeXtXLarge,
)
from cnnkit.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from cnnkit.applications.efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
)
from cnnkit.applications.efficientnet_v2 import (
    EfficientNetV2B0,
    EfficientNetV2B1,
    EfficientNetV2B2,
    EfficientNetV2B3,
    EfficientNetV2L,
    EfficientNetV2M,
    EfficientNetV2S,
)
from cnnkit.applications.googlenet import GoogLeNet
from cnnkit.applications.inception_resnet_v2 import InceptionResNetV2
from cnnkit.applications.inception_v3 import InceptionV3
from cnnkit.applications.lecture import lecture_cnn
from cnnkit.applications.lenet import LeNet5
from cnnkit.applications.mobilenet import MobileNet
from cnnkit.applications.mobilenet_v2 import MobileNetV2
from cnnkit.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from cnnkit.applications.nasnet import NASNetLarge, NASNetMobile
from cnnkit.applications.resnet import ResNet18, ResNet50, ResNet101, ResNet152, resnet_small
from cnnkit.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from cnnkit.applications.text import lstm_classifier, text_cnn
from cnnkit.applications.transformer import (
    TokenAndPositionEmbedding,
    TransformerBlock,
    transformer_classifier,
)
from cnnkit.applications.vgg import VGG16, VGG19, vgg_cifar
from cnnkit.applications.xception import Xception

__all__ = [
    "AlexNet",
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtSmall",
    "ConvNeXtTiny",
    "ConvNeXtXLarge",
    "convnext",
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "EfficientNetV2B0",
    "EfficientNetV2B1",
    "EfficientNetV2B2",
    "EfficientNetV2B3",
    "EfficientNetV2L",
    "EfficientNetV2M",
    "EfficientNetV2S",
    "GoogLeNet",
    "InceptionResNetV2",
    "InceptionV3",
    "LeNet5",
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Large",
    "MobileNetV3Small",
    "NASNetLarge",
    "NASNetMobile",
    "ResNet18",
    "ResNet50",
    "ResNet50V2",
    "ResNet101",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
    "VGG16",
    "VGG19",
    "Xception",
    "densenet",
    "efficientnet",
    "efficientnet_v2",
    "imagenet_utils",
    "inception_resnet_v2",
    "inception_v3",
    "mobilenet",
    "mobilenet_v2",
    "mobilenet_v3",
    "nasnet",
    "resnet",
    "resnet50",
    "resnet_v2",
    "vgg16",
    "vgg19",
    "xception",
    "lecture_cnn",
    "lstm_classifier",
    "resnet_small",
    "text_cnn",
    "TokenAndPositionEmbedding",
    "TransformerBlock",
    "transformer_classifier",
    "vgg_cifar",
]
