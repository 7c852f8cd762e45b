"""Data-parallel training over MPI, behind Keras 3's ``keras.distribution`` names.

::

    import cnnkit as keras
    keras.distribution.initialize()          # joins the MPI job; nothing in a plain run
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    model.fit(x, y, batch_size=32, epochs=15)  # batch_size is the global batch

launched as ``mpirun -n 4 python train.py`` (or ``-H host1:2,host2:2``, a hostfile, ``srun``).
Every process reads the same data; each global batch is split between the processes, their
gradients are summed with one all-reduce per step, and every process applies the same
update, so ``N`` processes train the model one process would train with the same global
batch (see :mod:`cnnkit.distribution.data_parallel`). Process 0 alone prints progress and
writes files (``model.save``, checkpoints, logs, run directories); ``model.save`` on the
other processes does nothing. An exception or an exit in any process during training ends
the whole job with a non-zero status.

Without an MPI launcher nothing here loads ``mpi4py`` and training runs as one process.
"""

from __future__ import annotations

from cnnkit.distribution import communicator
from cnnkit.distribution.communicator import begin_collective_phase, end_collective_phase
from cnnkit.distribution.data_parallel import DataParallel

_GLOBAL = {"distribution": None}


def initialize(job_addresses=None, num_processes=None, process_id=None) -> None:
    """Join the MPI job this process was launched in; a no-op in a plain ``python`` run.

    MPI's launcher (``mpirun``/``srun``) already tells every process the job's size and its
    rank, so the arguments Keras takes for other backends are only checked against them.
    With several processes on one machine, each uses its share of the cores (BLAS and
    cnnkit's own threads), unless the user limited the threads already.

    Args:
        job_addresses: ignored (MPI's launcher knows the hosts).
        num_processes: if given, must equal the job's size.
        process_id: if given, must equal this process's rank.
    """
    comm = communicator.world()
    if num_processes is not None and int(num_processes) != comm.size:
        raise ValueError(
            f"`num_processes`={num_processes} but the MPI job has {comm.size} process(es)."
        )
    if process_id is not None and int(process_id) != comm.rank:
        raise ValueError(f"`process_id`={process_id} but this process's MPI rank is {comm.rank}.")
    if comm.size > 1:
        _share_cores()


def _share_cores() -> None:
    """Each of the job's processes on this machine gets cores / processes threads."""
    from cnnkit.kernels import threads

    share = max(1, threads._available_cpus() // communicator.local_size())
    if threads.cpu_threads() > share:
        for lib in threads._blas():
            lib.set_num_threads(share)


def list_devices(device_type=None) -> list[str]:
    """One device per process of the job: ``["cpu:0", "cpu:1", ...]`` (``["cpu:0"]`` alone).

    Args:
        device_type: ``None`` or ``"cpu"`` (cnnkit runs on CPUs).
    """
    if device_type not in (None, "cpu", "CPU"):
        raise ValueError(
            f"cnnkit runs on CPUs: `device_type` must be None or 'cpu'. Received: {device_type!r}"
        )
    return [f"cpu:{i}" for i in range(communicator.world().size)]


def get_device_count(device_type=None) -> int:
    """How many devices (processes) :func:`list_devices` lists."""
    return len(list_devices(device_type))


def process_count() -> int:
    """Processes in the job (1 without MPI)."""
    return communicator.world().size


def process_index() -> int:
    """This process's rank (0 without MPI)."""
    return communicator.world().rank


def is_chief() -> bool:
    """Whether this process prints progress and writes files (process 0)."""
    return communicator.world().rank == 0


def set_distribution(value) -> None:
    """Make ``value`` (a :class:`DataParallel`, or ``None``) the distribution ``fit`` uses."""
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            "cnnkit supports `DataParallel` distributions (or None). "
            f"Received: {type(value).__name__}"
        )
    _GLOBAL["distribution"] = value


def distribution():
    """The distribution set with :func:`set_distribution`, or ``None``."""
    return _GLOBAL["distribution"]


def active_data_parallel():
    """The data-parallel distribution ``fit`` should use now, or ``None`` for one process."""
    current = distribution()
    if current is None or current.num_processes == 1:
        return None
    return current


class DeviceMesh:
    """A named grid of devices (Keras's name); cnnkit's data parallelism uses one axis.

    Args:
        shape: the grid's shape, e.g. ``(4,)``.
        axis_names: one name per axis, e.g. ``["batch"]``.
        devices: the devices, default :func:`list_devices`.
    """

    def __init__(self, shape, axis_names, devices=None):
        shape = tuple(int(s) for s in shape)
        axis_names = list(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(
                "Shape and axis_names cannot be mismatched. "
                f"Received: shape={shape}, axis_names={axis_names}"
            )
        devices = list(list_devices() if devices is None else devices)
        count = 1
        for s in shape:
            count *= s
        if count != len(devices):
            raise ValueError(
                f"Shape {shape} does not match the number of devices ({len(devices)})."
            )
        self.shape, self.axis_names, self.devices = shape, axis_names, devices


__all__ = [
    "DataParallel",
    "begin_collective_phase",
    "end_collective_phase",
    "DeviceMesh",
    "distribution",
    "get_device_count",
    "initialize",
    "is_chief",
    "list_devices",
    "process_count",
    "process_index",
    "set_distribution",
]
