"""Exporting models to other formats: ONNX (``Model.export(path, format="onnx")``).

The ``onnx`` package is an optional dependency (``pip install 'cnnkit[onnx]'``); it is imported
only when a model is exported.
"""

from cnnkit.export.onnx import export_command, export_onnx, supported_layers

__all__ = ["export_command", "export_onnx", "supported_layers"]
