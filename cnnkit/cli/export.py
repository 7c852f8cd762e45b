"""``cnnkit export MODEL OUT.onnx``: a model or a run's model as an ONNX file."""

from __future__ import annotations

from pathlib import Path

from cnnkit import runs
from cnnkit.cli.common import load_model

HELP = "export a model to ONNX"


def add_arguments(parser) -> None:
    parser.add_argument("model", type=Path, help="a .keras file or a run directory")
    parser.add_argument("out", type=Path, metavar="OUT.onnx")


def run(args) -> int:
    from cnnkit.export import onnx

    source = args.model
    if source.is_dir() and not (source / runs.MODEL).exists():
        model, _ = load_model(source)  # the run's architecture with its weights.npz
        proto = onnx.export_onnx(model, args.out)
        print(f"Exported {source} to {args.out} ({len(proto.graph.node)} ONNX nodes).")
        return 0
    if source.is_dir():
        source = source / runs.MODEL
    return onnx.export_command(source, args.out)
