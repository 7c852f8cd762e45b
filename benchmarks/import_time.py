"""Wall time of ``import cnnkit`` in a fresh interpreter, next to ``import numpy`` (and torch).

    python benchmarks/import_time.py [--repeats 10]

Each figure is the best of ``--repeats`` runs of ``python -c "STATEMENT"`` (interpreter
start-up included), the statements alternating; PyTorch is timed when it is installed. Run with
the BLAS variables as set and unset, like the other benchmarks; lower is better. ``import cnnkit``
loads its names on first use, so the lines that matter are what the first layer
(``cnnkit.layers.Dense``) and the first model class add to NumPy, cnnkit's only dependency.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import BLAS_VARS

REPO = Path(__file__).resolve().parents[1]


STATEMENTS = {
    "cnnkit": "import cnnkit",
    "first layer": "import cnnkit as keras; keras.layers.Dense",
    "first model": "import cnnkit as keras; keras.models.Sequential",
    "numpy": "import numpy",
    "torch": "import torch",
}


def import_seconds(statement: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], cwd=REPO, env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="best of N runs per module")
    args = parser.parse_args()
    modules = ["cnnkit", "first layer", "first model", "numpy"]
    if importlib.util.find_spec("torch") is not None:
        modules.append("torch")
    print(f"Import time in a fresh interpreter (seconds, best of {args.repeats}, lower is better)")
    for label, unset in (("BLAS variables as set", False), ("BLAS variables unset", True)):
        env = dict(os.environ)
        if unset:
            for key in BLAS_VARS:
                env.pop(key, None)
        best = dict.fromkeys(modules, float("inf"))
        for _ in range(args.repeats):
            for module in modules:
                best[module] = min(best[module], import_seconds(STATEMENTS[module], env))
        shown = {key: env.get(key) for key in BLAS_VARS}
        print(f"\n{label}: {shown}  cores: {os.cpu_count()}")
        for module in modules:
            print(f"  {module:<15}{best[module]:>8.3f} s   {STATEMENTS[module]}")
        for module in ("cnnkit", "first layer", "first model"):
            print(f"  {module + ' - numpy':<23}{best[module] - best['numpy']:>8.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
