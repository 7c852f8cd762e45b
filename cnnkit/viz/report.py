"""One self-contained HTML page per training run: ``report.html``.

The page reads what ``cnnkit train`` wrote into the run directory and needs nothing else to
display: the figures are PNGs embedded as ``data:`` URIs, the style sheet is inline, there is no
JavaScript and no network access. It holds, when they apply:

- a header with the headline figures (test accuracy and loss, epochs, training time,
  parameters; precision, recall and F1 for binary text runs);
- the run's settings (``config.json``), library versions and dataset hashes;
- the model summary and its parameter-sharing view (needs the model);
- the loss and accuracy curves and the learning-rate schedule;
- the confusion matrix (counts and row-normalised) and the per-class report table;
- for image runs: misclassified test images, the first layer's filters, the feature maps and
  the Grad-CAM heatmaps of a few test images (from ``samples.npz``), and the lecture's blur and
  edge convolutions of one test image.

Run directory files used: ``config.json``, ``history.json`` (required), ``metrics.json``,
``versions.json``, ``dataset.json`` and ``samples.npz`` (optional).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from pathlib import Path

import numpy as np

import cnnkit
from cnnkit import runs
from cnnkit.io_utils import atomic_write_text
from cnnkit.runs import Run
from cnnkit.viz._figure import png_bytes

EMBED_DPI = 150  # PNGs are drawn at 1.5x and shown at their 100-dpi size: sharp on HiDPI screens

_DRAWING_ERRORS = (ValueError, TypeError, NotImplementedError, RuntimeError, IndexError, KeyError)


def read_run(run_dir: str | os.PathLike) -> dict:
    """The files of a run directory (:class:`cnnkit.runs.Run`) as a dict (``None`` for those
    that are absent).

    Every file is read within a size cap and checked for its kind (a JSON object, arrays of
    the expected shapes), so a damaged or hostile run directory is refused with one
    ``ValueError`` instead of exhausting memory.

    Raises:
        FileNotFoundError: if ``run_dir`` has no ``history.json``.
        ValueError: naming the file, if one is corrupt, too large, of the wrong kind or not a
            regular file.
    """
    run = Run(run_dir)
    if not run.path.is_dir():
        raise FileNotFoundError(f"Run directory {run.path} does not exist.")
    files = {"history": run.read_history()}
    for name, file in (
        ("config", runs.CONFIG),
        ("versions", runs.VERSIONS),
        ("dataset", runs.DATASET),
        ("metrics", runs.METRICS),
    ):
        files[name] = run.read_json(file)
    files["config"] = files["config"] or {}
    files["metrics"] = files["metrics"] or {}
    files["samples"] = run.read_samples()
    files["dir"] = run.path
    return files


def load_run_model(run_dir: str | os.PathLike):
    """The run's ``model.keras``, or ``None`` when it has none."""
    run = Run(run_dir)
    return run.load_model() if run.has(runs.MODEL) else None


def write_report(
    run_dir: str | os.PathLike,
    model=None,
    schedule=None,
    total_steps: int | None = None,
    path: str | os.PathLike | None = None,
) -> Path:
    """Write ``report.html`` (or ``path``) for a run directory, atomically; return its path.

    Args:
        run_dir: a directory written by ``cnnkit train``.
        model: the trained model; default ``model.keras`` from the run through
            ``cnnkit.models.load_model`` when possible. Without a model, the sections that need
            one (summary, filters, feature maps, Grad-CAM) say so.
        schedule: the learning-rate schedule used, to draw it over ``total_steps`` steps.
        total_steps: optimizer steps of the whole run.
        path: where to write; default ``run_dir / "report.html"``.

    Returns:
        The path written.

    Raises:
        FileNotFoundError: if ``run_dir`` is not a run directory.
        ImportError: without matplotlib.
    """
    target = Path(path) if path is not None else Path(run_dir) / runs.REPORT
    page = render_report(run_dir, model=model, schedule=schedule, total_steps=total_steps)
    atomic_write_text(target, page)
    return target


def render_report(run_dir, model=None, schedule=None, total_steps: int | None = None) -> str:
    """The report page as a string; see :func:`write_report`."""
    run = read_run(run_dir)
    if model is None:
        model = load_run_model(run_dir)
    config, metrics = run["config"], run["metrics"]
    classes = metrics.get("class_names") or _class_range(metrics)
    sections = [
        ("settings", "Settings", _settings(run)),
        ("model", "Model", _model_section(model)),
        ("training", "Training", _training(run, schedule, total_steps)),
        ("evaluation", "Evaluation", _evaluation(metrics, classes)),
    ]
    samples = run["samples"]
    if samples is not None and "x" in samples and samples["x"].ndim >= 3:
        sections += [
            ("mistakes", "Misclassified test images", _mistakes(samples, classes)),
            ("filters", "First-layer filters", _filters(model)),
            ("feature-maps", "Feature maps", _feature_maps(model, samples)),
            ("grad-cam", "Grad-CAM", _grad_cam(model, samples, classes)),
            ("convolution", "Convolution, as in the lecture", _convolution(samples)),
        ]
    sections = [(key, title, body) for key, title, body in sections if body]
    title = f"{config.get('model', 'model')} on {config.get('dataset', 'data')}"
    nav = "".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(name)}</h2>{content}</section>'
        for key, name, content in sections
    )
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · cnnkit run report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"{_header(run, title)}"
        f'<nav><div class="wrap">{nav}</div></nav>'
        f'<main class="wrap">{body}</main>'
        f'<footer class="wrap">Generated by cnnkit {html.escape(cnnkit.__version__)} on '
        f"{generated} from <code>{html.escape(str(run['dir']))}</code>.</footer>"
        "</body></html>\n"
    )


# -- pieces ------------------------------------------------------------------


def _class_range(metrics) -> list[str]:
    matrix = metrics.get("confusion_matrix")
    return [str(i) for i in range(len(matrix))] if matrix else []


def _esc(value) -> str:
    return html.escape(str(value))


def _number(value) -> str:
    if isinstance(value, bool) or value is None:
        return _esc(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3e}"
        return f"{value:.4f}"
    return _esc(value)


def _duration(seconds) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _figure(fig, caption: str = "", alt: str = "") -> str:
    width, height = (int(round(v * 100)) for v in fig.get_size_inches())
    fig.set_dpi(EMBED_DPI)
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    caption_html = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (
        f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
        f'alt="{_esc(alt or caption)}">{caption_html}</figure>'
    )


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _failed(what: str, error: Exception) -> str:
    return _note(f"The {what} could not be drawn: {_esc(error)}")


def _table(headers, rows, numeric=None, classes: str = "") -> str:
    """An HTML table; ``numeric[i]`` right-aligns column ``i`` with tabular figures."""
    numeric = numeric or [False] * len(headers)
    head = "".join(
        f'<th class="num">{_esc(h)}</th>' if num else f"<th>{_esc(h)}</th>"
        for h, num in zip(headers, numeric)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{cell}</td>' if num else f"<td>{cell}</td>"
            for cell, num in zip(row, numeric)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table class="{classes}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _header(run, title: str) -> str:
    metrics, config, history = run["metrics"], run["config"], run["history"] or {}
    epochs = len(history.get("epoch", [])) or config.get("epochs")
    cards = []

    def card(label, value, hint=""):
        hint_html = f'<div class="hint">{_esc(hint)}</div>' if hint else ""
        cards.append(
            f'<div class="card"><div class="label">{_esc(label)}</div>'
            f'<div class="value">{value}</div>{hint_html}</div>'
        )

    accuracy = metrics.get("test_accuracy", history.get("test_accuracy"))
    loss = metrics.get("test_loss", history.get("test_loss"))
    if accuracy is not None:
        card("Test accuracy", f"{100 * float(accuracy):.2f}%")
    if loss is not None:
        card("Test loss", f"{float(loss):.4f}")
    for key, label in (
        ("test_precision", "Precision"),
        ("test_recall", "Recall"),
        ("test_f1", "F1"),
    ):
        if metrics.get(key) is not None:
            card(label, f"{float(metrics[key]):.4f}", "positive class: 1")
    if epochs:
        card("Epochs", _esc(epochs))
    seconds = metrics.get("train_seconds", history.get("train_seconds"))
    if seconds is not None:
        card("Training time", _duration(seconds))
    if metrics.get("params") is not None:
        card("Parameters", f"{int(metrics['params']):,}")
    sizes = [metrics.get("num_train"), metrics.get("num_test")]
    if all(s is not None for s in sizes):
        card("Train / test", f'<span class="smaller">{sizes[0]:,} / {sizes[1]:,}</span>')
    when = (metrics.get("finished_at") or "").replace("T", " ")
    subtitle = f"{_esc(run['dir'].resolve().name)}"
    if when:
        subtitle += f" · finished {_esc(when)}"
    return (
        f'<header><div class="wrap"><div class="eyebrow">cnnkit run report</div>'
        f'<h1>{_esc(title)}</h1><div class="subtitle">{subtitle}</div>'
        f'<div class="cards">{"".join(cards)}</div></div></header>'
    )


def _settings(run) -> str:
    config = run["config"]
    parts = []
    rows = [
        (
            f"<code>--{_esc(k.replace('_', '-'))}</code>",
            _esc(v) if isinstance(v, str) else _esc(json.dumps(v)),
        )
        for k, v in config.items()
        if k not in ("command", "debug")
    ]
    if rows:
        parts.append('<div class="col"><h3>Command-line settings</h3>')
        parts.append(_table(("Setting", "Value"), rows, classes="kv") + "</div>")
    side = []
    versions = run["versions"] or {}
    if versions:
        side.append("<h3>Versions</h3>")
        side.append(
            _table(
                ("Package", "Version"),
                [(_esc(k), _esc(v)) for k, v in versions.items()],
                classes="kv",
            )
        )
    dataset = run["dataset"] or {}
    if dataset:
        side.append("<h3>Dataset</h3>")
        info = [
            (_esc(k.replace("_", " ")), _dataset_value(v))
            for k, v in dataset.items()
            if k not in ("sha256", "note")
        ]
        if info:
            side.append(_table(("Field", "Value"), info, classes="kv"))
        hashes = dataset.get("sha256") or {}
        if hashes:
            side.append(
                _table(
                    ("File", "SHA-256"),
                    [
                        (_esc(name), f'<code class="hash">{_esc(digest)}</code>')
                        for name, digest in hashes.items()
                    ],
                    classes="kv",
                )
            )
        if dataset.get("note"):
            side.append(_note(_esc(dataset["note"])))
    if side:
        parts.append(f'<div class="col">{"".join(side)}</div>')
    return f'<div class="columns">{"".join(parts)}</div>' if parts else ""


def _dataset_value(value) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _esc(", ".join(value))
    if isinstance(value, list):
        return _esc(" x ".join(str(v) for v in value))
    return _number(value)


def _model_section(model) -> str:
    if model is None:
        return _note("The model is not available (no model.keras that cnnkit can load).")
    from cnnkit.models import summary as summary_module

    parts = []
    try:
        rows = summary_module.summary_rows(model)
    except _DRAWING_ERRORS as error:
        return _failed("model summary", error)
    total = sum(params for _, _, params in rows)
    parts.append(
        _table(
            ("Layer (type)", "Output shape", "Param #"),
            [
                (_esc(name), f"<code>{_esc(shape)}</code>", f"{params:,}")
                for name, shape, params in rows
            ]
            + [("<strong>Total</strong>", "", f"<strong>{total:,}</strong>")],
            numeric=(False, False, True),
        )
    )
    try:
        sharing = summary_module.parameter_sharing(model)
        parts.append("<h3>Parameter sharing</h3>" + _sharing_table(sharing))
    except _DRAWING_ERRORS as error:
        parts.append(_failed("parameter-sharing view", error))
    explained = _explained_summary(model)
    if explained:
        parts.append(
            f"<details><summary>Summary with explanations</summary><pre>"
            f"{_esc(explained)}</pre></details>"
        )
    return "".join(parts)


def _sharing_table(rows) -> str:
    """``parameter_sharing(model)`` rows: (layer, conv params, dense weights, biases, ratio)."""
    cells = []
    for layer, conv, weights, biases, ratio in rows:
        times = f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.1f}×"
        cells.append((_esc(layer), f"{conv:,}", f"{weights:,}", f"{biases:,}", times))
    if not cells:
        return _note("No convolution layer with known shapes.")
    headers = ("Layer", "Conv params", "Dense weights", "Dense biases", "Dense / conv")
    return _note(
        "A convolution reuses one small kernel at every position; a dense layer mapping the "
        "same input to the same output needs a weight per (input, output) pair."
    ) + _table(headers, cells, numeric=(False, True, True, True, True))


def _explained_summary(model) -> str:
    """``model.summary(explain=True)`` when it adds something to the plain summary."""
    lines, plain = [], []
    try:
        model.summary(explain=True, print_fn=lines.append)
        model.summary(print_fn=plain.append)
    except _DRAWING_ERRORS:
        return ""
    return "\n".join(lines) if lines != plain else ""


def _training(run, schedule, total_steps) -> str:
    from cnnkit.viz.plots import plot_history, plot_lr_schedule

    history = (run["history"] or {}).get("history") or {}
    parts = []
    if history.get("loss"):
        parts.append(
            _figure(
                plot_history(history),
                "Loss and accuracy per epoch: training "
                "(solid) against validation on the test set (dashed).",
                "Training curves",
            )
        )
        parts.append(_history_table(history))
    if schedule is not None and total_steps:
        parts.append(
            _figure(
                plot_lr_schedule(schedule, int(total_steps)),
                "Learning rate per optimizer step.",
                "Learning-rate schedule",
            )
        )
    elif history.get("learning_rate"):
        rates = ", ".join(f"{r:.2e}" for r in history["learning_rate"])
        parts.append(_note(f"Learning rate at the end of each epoch: {rates}."))
    return "".join(parts)


def _history_table(history: dict) -> str:
    keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if history.get(k)]
    keys += [k for k in history if k not in keys and k != "learning_rate"]
    epochs = max(len(history[k]) for k in keys)
    rows = [
        [str(e + 1)] + [_number(history[k][e]) if e < len(history[k]) else "" for k in keys]
        for e in range(epochs)
    ]
    table = _table(["Epoch", *keys], rows, numeric=[True] * (len(keys) + 1))
    return f"<details><summary>Values per epoch</summary>{table}</details>"


def _evaluation(metrics: dict, classes) -> str:
    from cnnkit.viz.plots import plot_confusion_matrix

    parts = []
    matrix = metrics.get("confusion_matrix")
    if matrix:
        cm = np.asarray(matrix)
        names = classes if len(classes) == len(cm) else [str(i) for i in range(len(cm))]
        parts.append('<div class="pair">')
        parts.append(
            _figure(
                plot_confusion_matrix(cm, names),
                "Counts: rows are the true classes, columns the predicted ones.",
                "Confusion matrix",
            )
        )
        parts.append(
            _figure(
                plot_confusion_matrix(
                    cm, names, normalize=True, title="Confusion matrix, normalised"
                ),
                "Each row divided by its total: the diagonal is each class's recall.",
                "Normalised confusion matrix",
            )
        )
        parts.append("</div>")
        parts.append(_confusions(cm, names))
    report = metrics.get("classification_report")
    if isinstance(report, dict) and report:
        parts.append("<h3>Per-class report</h3>" + _report_table(report))
    elif isinstance(report, str) and report:
        parts.append(f"<h3>Per-class report</h3><pre>{_esc(report)}</pre>")
    if not parts:
        return _note("No confusion matrix or per-class report was recorded for this run.")
    return "".join(parts)


def _confusions(cm, names) -> str:
    """The most frequent confusions, as a sentence list."""
    off = cm.astype("int64").copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None)[::-1][:5]
    items = []
    for flat in order:
        i, j = np.unravel_index(flat, off.shape)
        if off[i, j] <= 0:
            break
        items.append(
            f"<li><strong>{_esc(names[i])}</strong> taken for "
            f"<strong>{_esc(names[j])}</strong>: {int(off[i, j]):,} times</li>"
        )
    return f"<h3>Most frequent confusions</h3><ul>{''.join(items)}</ul>" if items else ""


def _report_table(report: dict) -> str:
    fields = ("precision", "recall", "f1-score", "support")
    rows, summary_rows = [], []
    for name, scores in report.items():
        if not isinstance(scores, dict):
            continue
        cells = [f"<strong>{_esc(name)}</strong>" if "avg" in name else _esc(name)]
        for field in fields:
            value = scores.get(field)
            if value is None:
                cells.append("")
            elif field == "support":
                cells.append(f"{int(value):,}")
            else:
                share = max(0.0, min(1.0, float(value))) * 100
                bar = f'<span class="bar" style="--v:{share:.1f}%">'
                cells.append(f"{bar}{float(value):.4f}</span>")
        (summary_rows if "avg" in name else rows).append(cells)
    if "accuracy" in report and not isinstance(report["accuracy"], dict):
        total = sum(
            int(r.get("support", 0))
            for k, r in report.items()
            if isinstance(r, dict) and "avg" not in k
        )
        summary_rows.insert(
            0,
            ["<strong>accuracy</strong>", "", "", f"{float(report['accuracy']):.4f}", f"{total:,}"],
        )
    return _table(
        ("Class", "Precision", "Recall", "F1", "Support"),
        rows + summary_rows,
        numeric=(False, True, True, True, True),
        classes="report",
    )


def _mistakes(samples, classes) -> str:
    from cnnkit.viz.plots import plot_misclassified

    if "probabilities" not in samples:
        return ""
    try:
        fig = plot_misclassified(
            samples["probabilities"], samples["x"], samples["y"], labels=classes or None, n=24
        )
    except _DRAWING_ERRORS as error:
        return _failed("gallery", error)
    return _figure(
        fig,
        "The first misclassified images of the test set, in test-set order, "
        "with their true and predicted classes.",
        "Misclassified test images",
    )


def _filters(model) -> str:
    from cnnkit.viz.features import conv_layers, plot_filters

    if model is None or not conv_layers(model):
        return ""
    try:
        fig = plot_filters(model)
    except _DRAWING_ERRORS as error:
        return _failed("filters", error)
    return _figure(
        fig,
        "The first convolution layer's kernels, each scaled to its own range "
        "(dark: negative weights, light: positive).",
        "First-layer filters",
    )


def _feature_maps(model, samples) -> str:
    from cnnkit.viz.features import conv_layers, plot_feature_maps

    if model is None or not conv_layers(model):
        return ""
    try:
        fig = plot_feature_maps(model, samples["x"][0])
    except _DRAWING_ERRORS as error:
        return _failed("feature maps", error)
    return _figure(
        fig,
        "The first test image and the outputs of each convolution layer "
        "(first 16 maps per layer; bright: strong response).",
        "Feature maps",
    )


def _grad_cam(model, samples, classes) -> str:
    from cnnkit.viz.features import conv_layers
    from cnnkit.viz.gradcam import plot_grad_cam

    if model is None or not conv_layers(model):
        return ""
    count = min(6, len(samples["x"]))
    try:
        fig = plot_grad_cam(
            model, samples["x"][:count], labels=classes or None, y=samples["y"][:count]
        )
    except _DRAWING_ERRORS as error:
        return _failed("Grad-CAM heatmaps", error)
    return _figure(
        fig,
        "Grad-CAM of the predicted class on the first test images: red areas "
        "raised the class's score the most (last convolution layer).",
        "Grad-CAM",
    )


def _convolution(samples) -> str:
    from cnnkit.viz.convolution import plot_convolution

    try:
        fig = plot_convolution(samples["x"][0])
    except _DRAWING_ERRORS as error:
        return _failed("convolution examples", error)
    return _figure(
        fig,
        "A Gaussian blur and a Sobel edge filter on the first test image in the "
        "three modes: valid shrinks the image, same keeps its size, full grows it.",
        "Convolution modes",
    )


_CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f1f5f9;--accent:#2563eb;--bg:#f8fafc}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
 font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,
 sans-serif}
.wrap{max-width:1120px;margin:0 auto;padding:0 28px}
header{background:linear-gradient(135deg,#0f172a 0%,#1e3a8a 60%,#2563eb 100%);color:#fff;
 padding:34px 0 30px}
.eyebrow{text-transform:uppercase;letter-spacing:.12em;font-size:12px;opacity:.75}
h1{font-size:32px;line-height:1.2;margin:6px 0 4px;font-weight:700;letter-spacing:-.01em}
.subtitle{opacity:.8;font-size:14px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;
 margin-top:24px}
.card{background:rgba(255,255,255,.1);border:1px solid rgba(255,255,255,.18);border-radius:12px;
 padding:12px 16px}
.card .label{font-size:11.5px;text-transform:uppercase;letter-spacing:.08em;opacity:.8}
.card .value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.card .hint{font-size:12px;opacity:.7}
.card .smaller{font-size:20px}
nav{position:sticky;top:0;z-index:1;background:rgba(255,255,255,.96);
 border-bottom:1px solid var(--line)}
nav .wrap{display:flex;flex-wrap:wrap;gap:4px 20px;padding-top:10px;padding-bottom:10px}
nav a{color:var(--muted);text-decoration:none;font-size:14px;font-weight:500}
nav a:hover{color:var(--accent)}
section{background:#fff;border:1px solid var(--line);border-radius:14px;padding:22px 26px;
 margin:22px 0;box-shadow:0 1px 2px rgba(15,23,42,.04)}
h2{font-size:20px;margin:0 0 14px;letter-spacing:-.01em}
h3{font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
 margin:22px 0 8px}
.columns{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:8px 32px}
.columns h3:first-child{margin-top:0}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;
 align-items:start}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:14px;margin:4px 0 8px}
th,td{padding:6px 14px 6px 0;border-bottom:1px solid var(--line);text-align:left;
 vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
 font-weight:600}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;padding-left:14px}
tbody tr:hover{background:var(--soft)}
table.kv td:first-child{color:var(--muted);white-space:nowrap}
table.report td.num .bar{display:inline-block;min-width:72px;padding:0 6px;border-radius:4px;
 background:linear-gradient(90deg,#dbeafe var(--v),transparent var(--v))}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
code.hash{font-size:11.5px;color:var(--muted);word-break:break-all}
pre{background:var(--soft);border-radius:8px;padding:12px;overflow-x:auto;line-height:1.35}
figure{margin:10px 0 18px}
img{max-width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:13px;margin-top:6px;max-width:760px}
details{margin:8px 0}
summary{cursor:pointer;color:var(--accent);font-size:14px}
.note{color:var(--muted);font-style:italic}
ul{padding-left:20px;margin:4px 0}
footer{color:var(--muted);font-size:13px;padding-top:8px;padding-bottom:40px}
@media print{nav{display:none}section{break-inside:avoid;box-shadow:none}}
"""
