"""Ready-made architectures, as in ``keras.applications``."""

from cnnkit.applications.lecture import lecture_cnn
from cnnkit.applications.vgg import vgg_cifar

__all__ = ["lecture_cnn", "vgg_cifar"]
