"""The ``cnnkit`` program: the parser built from the command modules, and ``main``.

A command is a module with ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args)``
returning the exit status; ``COMMANDS`` lists them in the order ``--help`` shows.
"""

from __future__ import annotations

import argparse
import sys

import cnnkit
from cnnkit.cli import convolve, evaluate, export, predict, report, train

COMMANDS = {
    "train": train,
    "evaluate": evaluate,
    "predict": predict,
    "convolve": convolve,
    "report": report,
    "export": export,
}
# What a user can cause (a bad value, a missing or damaged file, too little memory): one line.
USER_ERRORS = (
    ValueError,
    TypeError,
    ImportError,
    OSError,
    NotImplementedError,
    MemoryError,
    OverflowError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnkit", description="Train and evaluate convolutional networks on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"cnnkit {cnnkit.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        text = module.HELP
        command = sub.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        module.add_arguments(command)
    return parser


def main(argv=None) -> int:
    """Run ``cnnkit`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    User errors print one line on stderr (``cnnkit: error: ...``) and return 2, or raise with
    ``--debug``; an interruption returns 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command].run(args)
    except KeyboardInterrupt:
        print("cnnkit: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if args.debug:
            raise
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        message = " ".join(lines) or type(err).__name__
        if isinstance(err, MemoryError):
            message = "not enough memory for this command (a file or an argument asks for more)"
        print(f"cnnkit: error: {message}", file=sys.stderr)
        return 2
