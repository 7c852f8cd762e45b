"""Datasets with Keras's ``load_data()`` API: ``(x_train, y_train), (x_test, y_test)``."""

from cnnkit.datasets import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
