"""Datasets with Keras's ``load_data()`` API: ``(x_train, y_train), (x_test, y_test)``."""

from cnnkit.datasets import cifar10, cifar100, fashion_mnist, imdb, mnist, spam

__all__ = ["cifar10", "cifar100", "fashion_mnist", "imdb", "mnist", "spam"]

from cnnkit.datasets import boston_housing, california_housing, reuters  # noqa: E402

__all__ += ["boston_housing", "california_housing", "reuters"]
