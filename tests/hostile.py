"""Run a reader on a hostile file in a child process and measure its peak memory.

``peak_memory(code)`` runs ``code`` in a fresh Python (from the repository root, so that
``import cnnkit`` is this tree) whose address space is capped at ``limit_mib`` (a regression
then fails fast with ``MemoryError`` instead of swapping the machine), and returns what the
child printed and its peak resident memory in MiB, read with
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` in an intermediate process that runs
nothing else.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

_RUNNER = """
import json, resource, subprocess, sys
limit = int(sys.argv[2]) << 20
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
child = subprocess.run(
    [sys.executable, "-c", sys.argv[1]], capture_output=True, text=True, preexec_fn=cap,
    timeout=float(sys.argv[3]),
)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"rc": child.returncode, "out": child.stdout, "err": child.stderr,
                  "peak_mib": peak_kib / 1024}))
"""


def peak_memory(code: str, limit_mib: int = 2048, timeout: float = 120) -> dict:
    """``{"rc", "out", "err", "peak_mib"}`` of ``python -c code`` run as described above."""
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, code, str(limit_mib), str(timeout)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout + 30,
        check=True,
    )
    return json.loads(result.stdout)


def refusal(call: str) -> str:
    """Code that runs ``call`` and prints the ``ValueError`` it raises (exit 3 if none)."""
    return (
        "import sys\n"
        "try:\n"
        f"    {call}\n"
        "except ValueError as err:\n"
        "    print('ValueError:', err)\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )


def npz_of_zeros(path, arrays: dict, compresslevel: int = 1) -> None:
    """Write an ``.npz`` whose members are ``.npy`` arrays of zeros, streamed and deflated.

    ``arrays`` maps names to ``(shape, dtype)``. Zeros deflate about 1000:1, so a member of
    gigabytes takes a few megabytes: a zip bomb with honest headers.
    """
    import zipfile

    import numpy as np
    from numpy.lib import format as npy_format

    chunk = bytes(8 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        for name, (shape, dtype) in arrays.items():
            dtype = np.dtype(dtype)
            header = {"descr": npy_format.dtype_to_descr(dtype), "fortran_order": False,
                      "shape": tuple(shape)}  # fmt: skip
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_1_0(member, header)
                left = int(np.prod(shape)) * dtype.itemsize
                while left > 0:
                    member.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
