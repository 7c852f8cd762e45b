"""``cnnkit report RUN_DIR``: (re)write a run directory's ``report.html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnkit import runs
from cnnkit.cli import catalog

HELP = "write the run directory's report.html"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--output", type=Path, default=None, help="default: RUN_DIR/report.html")


def run(args) -> int:
    from cnnkit.cli.train import learning_rate
    from cnnkit.viz.report import read_run, write_report

    files = read_run(args.run_dir)  # checks that it is a run directory
    config = files["config"]
    try:
        model = runs.Run(args.run_dir).load_model(rebuild=catalog.rebuild)
    except (FileNotFoundError, ValueError) as error:
        print(f"cnnkit: note: the report has no model sections: {error}", file=sys.stderr)
        model = None
    schedule, total = None, None
    steps = files["metrics"].get("steps_per_epoch")
    if steps and config.get("lr_schedule") not in (None, "constant", "plateau"):
        try:  # the schedule of the run, rebuilt from its settings
            steps = int(steps)
            rate, _ = learning_rate(argparse.Namespace(**config), steps)
            schedule, total = rate, steps * int(config["epochs"])
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as error:
            raise ValueError(
                f"{Path(args.run_dir) / runs.CONFIG}: cannot rebuild the run's learning-rate "
                f"schedule ({type(error).__name__}: {error})."
            ) from None
    path = write_report(
        args.run_dir, model=model, schedule=schedule, total_steps=total, path=args.output
    )
    print(f"Wrote {path}")
    return 0
