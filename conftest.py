import os

import numpy
import pytest

# Keras 3 is the reference in the fidelity tests; it runs here on its torch backend (CPU).
os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(autouse=True)
def _doctest_numpy(doctest_namespace):
    doctest_namespace["np"] = numpy


def pytest_addoption(parser):
    parser.addoption(
        "--kernels",
        default=None,
        choices=("numpy", "reference"),
        help="run every test with this kernel implementation (cnnkit.kernels.dispatch)",
    )


@pytest.fixture(autouse=True)
def _kernels(request):
    """``--kernels reference``: every test inside ``dispatch.use_kernels("reference")``."""
    name = request.config.getoption("--kernels")
    if name is None:
        yield
        return
    from cnnkit.kernels import dispatch

    with dispatch.use_kernels(name):
        yield
