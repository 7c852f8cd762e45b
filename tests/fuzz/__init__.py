"""Property-based tests of every parser of outside data and of shape inference."""

from hypothesis import HealthCheck, Phase, settings

FUZZ = settings(
    max_examples=40,
    deadline=5000,
    database=None,
    derandomize=True,  # the same examples every run: CI is reproducible
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # "explain" is slow on a busy machine
    suppress_health_check=[HealthCheck.too_slow],
)
"""The settings every fuzz test starts from; a file may lower ``max_examples``."""
