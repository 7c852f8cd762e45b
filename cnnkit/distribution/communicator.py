"""The processes of an MPI job, as the trainer needs them: all-reduce, broadcast, gather.

``mpi4py`` (with Open MPI, ``pip install "cnnkit[mpi]"``) is imported only when a process was
started by an MPI launcher (``mpirun``, ``srun``...); a plain ``python`` run never loads it and
:func:`world` is a one-process stand-in whose collectives return their input.

Collectives work on NumPy arrays and are called by every process in the same order (the
trainer's steps are the same on every process, so they are). Results are the same on every
process bit for bit: sums go through ``Allreduce``, whose result Open MPI distributes from one
computation (ring and tree algorithms alike), so every process applies the same update.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

import numpy as np

# Environment variables an MPI launcher sets in every process it starts.
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_LOCAL_SIZE_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE")


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher with more than one process."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def local_size() -> int:
    """Processes of this job on this machine (1 outside MPI)."""
    for name in _LOCAL_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


class SingleProcess:
    """The one-process job: every collective returns what it was given."""

    rank = 0
    size = 1

    def allreduce_(self, buffer: np.ndarray) -> np.ndarray:
        return buffer

    def broadcast_(self, buffer: np.ndarray) -> np.ndarray:
        return buffer

    def allgather_object(self, value) -> list:
        return [value]

    def abort(self, code: int = 1) -> None:  # pragma: no cover - nothing to abort
        os._exit(code)


class MPIWorld:
    """``MPI.COMM_WORLD`` behind the few collectives data-parallel training needs."""

    def __init__(self):
        from mpi4py import MPI  # optional dependency: only under an MPI launcher

        self._mpi = MPI
        self._comm = MPI.COMM_WORLD
        self.rank = self._comm.Get_rank()
        self.size = self._comm.Get_size()

    def allreduce_(self, buffer: np.ndarray) -> np.ndarray:
        """Sum ``buffer`` (contiguous) over the processes, in place; returns it."""
        self._comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)
        return buffer

    def broadcast_(self, buffer: np.ndarray) -> np.ndarray:
        """Overwrite ``buffer`` (contiguous) with process 0's; returns it."""
        self._comm.Bcast(buffer, root=0)
        return buffer

    def allgather_object(self, value) -> list:
        """``value`` (any picklable object: arrays, shapes) from every process, in process order.

        Values travel between the processes of this one job, never through a file.
        """
        return self._comm.allgather(value)

    def abort(self, code: int = 1) -> None:
        """End every process of the job now (no process is left waiting in a collective)."""
        self._comm.Abort(code)


_WORLD = None
_LOCK = threading.Lock()


def world():
    """This job's processes: :class:`MPIWorld` under an MPI launcher, else one process."""
    global _WORLD
    with _LOCK:
        if _WORLD is None:
            if launched_by_mpi():
                _WORLD = MPIWorld()
                _install_abort_on_failure(_WORLD)
            else:
                _WORLD = SingleProcess()
        return _WORLD


def _install_abort_on_failure(comm: MPIWorld) -> None:
    """An uncaught exception, or an exit while others may still be training, ends the job.

    Without this, the other processes would wait forever in their next all-reduce.
    """
    previous = sys.excepthook

    def excepthook(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.write(f"cnnkit: process {comm.rank} of {comm.size} failed; ending the job\n")
        sys.stderr.flush()
        comm.abort(1)

    sys.excepthook = excepthook

    def at_exit():
        if _IN_COLLECTIVE_PHASE.depth:
            sys.stderr.write(
                f"cnnkit: process {comm.rank} of {comm.size} exited during training; "
                "ending the job\n"
            )
            sys.stderr.flush()
            comm.abort(1)

    atexit.register(at_exit)


class _Phase:
    depth = 0


_IN_COLLECTIVE_PHASE = _Phase()


def begin_collective_phase() -> None:
    """From here every process must take part in each step: a process that exits (or
    raises an uncaught exception) ends the whole job instead of leaving the others waiting
    in an all-reduce. A ``fit`` that raises stays in the phase, so a later exit still ends
    the job."""
    _IN_COLLECTIVE_PHASE.depth += 1


def end_collective_phase() -> None:
    """The processes finished the steps together (``fit`` returned normally)."""
    _IN_COLLECTIVE_PHASE.depth = max(0, _IN_COLLECTIVE_PHASE.depth - 1)
