"""Ready-made architectures, as in ``keras.applications``.

The Keras-style builders (``LeNet5``, ``AlexNet``, ``VGG16``, ``VGG19``,
``GoogLeNet``, ``ResNet18``, ``resnet_small``) take ``include_top, weights,
input_tensor, input_shape, pooling, classes, classifier_activation`` as
``keras.applications.VGG16`` does; ``weights`` must be None (no pretrained
weights ship with cnnkit). ``lecture_cnn`` and ``vgg_cifar`` are the lecture's
models; ``text_cnn`` and ``lstm_classifier`` classify padded token sequences.
"""

from cnnkit.applications.alexnet import AlexNet
from cnnkit.applications.googlenet import GoogLeNet
from cnnkit.applications.lecture import lecture_cnn
from cnnkit.applications.lenet import LeNet5
from cnnkit.applications.resnet import ResNet18, resnet_small
from cnnkit.applications.text import lstm_classifier, text_cnn
from cnnkit.applications.transformer import (
    TokenAndPositionEmbedding,
    TransformerBlock,
    transformer_classifier,
)
from cnnkit.applications.vgg import VGG16, VGG19, vgg_cifar

__all__ = [
    "AlexNet",
    "GoogLeNet",
    "LeNet5",
    "ResNet18",
    "VGG16",
    "VGG19",
    "lecture_cnn",
    "lstm_classifier",
    "resnet_small",
    "text_cnn",
    "TokenAndPositionEmbedding",
    "TransformerBlock",
    "transformer_classifier",
    "vgg_cifar",
]
