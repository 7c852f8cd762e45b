"""Batches of a ``torch.utils.data.DataLoader``, read without importing torch here: each
batch's tensors become NumPy arrays through their ``__array__`` (CPU tensors)."""

from __future__ import annotations

from cnnkit.trainers.data_adapters.generator_data_adapter import GeneratorDataAdapter


class TorchDataLoaderAdapter(GeneratorDataAdapter):
    """The loader iterated afresh each epoch (its own sampler shuffles); ``num_batches`` is
    ``len(loader)``. The loader yields ``[x, y]`` or ``[x, y, sample_weight]`` lists."""

    def __init__(self, loader):
        super().__init__(loader)


def is_torch_dataloader(x) -> bool:
    """Whether ``x`` is a ``torch.utils.data.DataLoader`` (by its classes' names: torch is
    never imported for the check)."""
    return any(
        klass.__name__ == "DataLoader" and klass.__module__.startswith("torch.utils.data")
        for klass in type(x).__mro__
    )
