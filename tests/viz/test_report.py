"""The run report: one self-contained HTML page, checked in Python and in headless Chromium."""

import base64
import html
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from cnnkit.cli import main  # noqa: E402
from cnnkit.cli.catalog import class_names  # noqa: E402
from cnnkit.viz.report import render_report, write_report  # noqa: E402
from tests.viz.runs import train_image_run, train_text_run  # noqa: E402

IMAGE_SECTIONS = ["mistakes", "filters", "feature-maps", "grad-cam", "convolution"]
COMMON_SECTIONS = ["settings", "model", "training", "evaluation"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`)"
)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert train_image_run(folder, monkeypatch, "--epochs", "2") == 0
    return folder


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert train_text_run(folder, monkeypatch) == 0
    return folder


def sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"', page)


def image_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def test_an_image_run_has_every_section_and_self_contained_images(image_run):
    page = (image_run / "report.html").read_text(encoding="utf-8")
    assert sections(page) == COMMON_SECTIONS + IMAGE_SECTIONS
    assert "<script" not in page.lower()
    assert not re.search(r'(?:src|href)="(?!data:image/png;base64,|#)', page)  # nothing external
    assert "could not be drawn" not in page and "not available" not in page
    sources = image_sources(page)
    assert len(sources) == 8  # curves, 2 confusion matrices, gallery, filters, maps, cam, conv
    for source in sources:
        data = base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True)
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG"
            image.verify()


def test_the_header_and_tables_show_the_recorded_numbers(image_run):
    page = (image_run / "report.html").read_text(encoding="utf-8")
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert f"{100 * metrics['test_accuracy']:.2f}%" in page
    assert f"{metrics['params']:,}" in page
    assert "lecture-cnn on fashion-mnist" in page
    config = json.loads((image_run / "config.json").read_text())
    assert config["seed"] == 0 and "<code>--seed</code></td><td>0</td>" in page
    report_rows = re.findall(r"<tr><td>([^<]+)</td>", page.split("Per-class report")[1])
    assert report_rows == [html.escape(name) for name in class_names("fashion-mnist")]
    for row in ("accuracy", "macro avg", "weighted avg"):
        assert f"<strong>{row}</strong>" in page
    assert "Parameter sharing" in page and "Dense / conv" in page


def test_a_text_run_gets_the_sections_that_apply(text_run):
    page = (text_run / "report.html").read_text(encoding="utf-8")
    assert sections(page) == COMMON_SECTIONS
    assert "Precision" in page and "F1" in page and "ham" in page and "spam" in page
    assert not (text_run / "samples.npz").exists()


def test_the_report_command_rewrites_the_page(image_run, tmp_path, capsys):
    target = tmp_path / "copy.html"
    assert main(["report", str(image_run), "--output", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"Wrote {target}"
    assert sections(target.read_text(encoding="utf-8")) == COMMON_SECTIONS + IMAGE_SECTIONS


def test_without_a_model_the_model_sections_say_so(image_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(image_run, copy)
    (copy / "model.keras").unlink(missing_ok=True)
    (copy / "weights.npz").unlink(missing_ok=True)
    page = render_report(copy)
    assert "The model is not available" in page
    assert sections(page) == COMMON_SECTIONS + ["mistakes", "convolution"]


def test_not_a_run_directory(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        write_report(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"cnnkit: error: {tmp_path} is not a run directory")
    (tmp_path / "history.json").write_text("{")
    (tmp_path / "config.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def chromium(args, tmp_path):
    """Run headless Chromium; return its stderr (console messages are logged there)."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--hide-scrollbars", "--enable-logging=stderr",
        "--v=0", f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@needs_chromium
def test_chromium_renders_the_page_without_errors(image_run, tmp_path):
    url = (image_run / "report.html").as_uri()
    dom, stderr = chromium(["--dump-dom", url], tmp_path)
    assert console_errors(stderr) == []
    assert sections(dom) == COMMON_SECTIONS + IMAGE_SECTIONS
    assert len(image_sources(dom)) == 8
    shot = tmp_path / "shot.png"
    _, stderr = chromium([f"--screenshot={shot}", "--window-size=1280,2400", url], tmp_path)
    assert console_errors(stderr) == []
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        pixels = np.asarray(image.convert("L"), dtype="float64")
    assert pixels.std() > 20  # not blank: a dark header, text, figures on a light page
    assert pixels[:150].mean() < 120 < pixels[-600:].mean()  # the header band, then the page


@needs_chromium
def test_the_console_check_catches_a_script_error(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>undefinedFunction()</script></body></html>")
    _, stderr = chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert any("Uncaught ReferenceError" in line for line in console_errors(stderr))
