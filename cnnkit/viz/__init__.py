"""Plots and the HTML run report (needs the ``plot`` extra: matplotlib and pillow).

Matplotlib is imported only when a figure is drawn, so importing this package is cheap. Every
plot function returns a ``matplotlib.figure.Figure`` (no pyplot, no display needed) and takes an
optional ``path`` where it also writes the figure as a PNG, atomically.

- evaluation: :func:`plot_confusion_matrix`, :func:`plot_history`, :func:`plot_misclassified`,
  :func:`plot_lr_schedule`;
- inside the network: :func:`plot_filters`, :func:`plot_feature_maps`, :func:`grad_cam`,
  :func:`plot_grad_cam`;
- the lecture's convolutions: :func:`plot_convolution`;
- the run report: :func:`write_report` (``cnnkit report RUN_DIR``).
"""

from cnnkit.viz.convolution import named_kernel, plot_convolution
from cnnkit.viz.features import conv_layers, feature_maps, plot_feature_maps, plot_filters
from cnnkit.viz.gradcam import grad_cam, plot_grad_cam
from cnnkit.viz.plots import (
    plot_confusion_matrix,
    plot_history,
    plot_lr_schedule,
    plot_misclassified,
)
from cnnkit.viz.report import render_report, write_report

__all__ = [
    "conv_layers",
    "feature_maps",
    "grad_cam",
    "named_kernel",
    "plot_confusion_matrix",
    "plot_convolution",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "plot_history",
    "plot_lr_schedule",
    "plot_misclassified",
    "render_report",
    "write_report",
]
