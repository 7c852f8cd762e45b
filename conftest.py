import os

import numpy
import pytest

# Keras 3 is the reference in the fidelity tests; it runs here on its torch backend (CPU).
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(autouse=True)
def _doctest_numpy(doctest_namespace):
    doctest_namespace["np"] = numpy
