"""Ready-made architectures, as in ``keras.applications``."""

from cnnkit.applications.lecture import lecture_cnn

__all__ = ["lecture_cnn"]
