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


@pytest.fixture(autouse=True)
def _global_dtype_policy():
    """A test or doctest that sets the global dtype policy (``set_dtype_policy``,
    ``mixed_precision.set_global_policy``) leaves the default, "follow ``floatx()``", as it
    found it."""
    from cnnkit import dtype_policies

    saved = dtype_policies._GLOBAL_POLICY
    yield
    dtype_policies._GLOBAL_POLICY = saved


@pytest.fixture
def two_threads(monkeypatch):
    """Pretend there are two cores, whatever this machine has (the code paths are the same),
    and split even small work between them."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from cnnkit.kernels import threads

    monkeypatch.setattr(threads, "_available_cpus", lambda: 2)
    monkeypatch.setattr(threads, "MIN_FLOPS_PER_THREAD", 1)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        yield
