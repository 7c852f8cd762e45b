"""The ``cnnkit`` command line: one module per command, :mod:`cnnkit.cli.app` parses and runs.

    cnnkit train [--model lecture-cnn] [--dataset fashion-mnist] [--epochs 15]
                 [--batch-size 32] [--learning-rate 0.001] [--lr-schedule constant]
                 [--augment] [--limit N] [--seed S] [--output DIR] [--overwrite] [--no-report]
                 [--resume]
    cnnkit train --dataset spam --model text-cnn|lstm|transformer [--num-words 20000] [--maxlen 300]
    cnnkit evaluate MODEL [--dataset NAME] [--limit N]
    cnnkit predict MODEL IMAGE... [--top 3] [--dataset NAME]
    cnnkit convolve IMAGE --kernel gaussian|sobel-x|sobel-y|laplacian|FILE
                    [--mode valid|same|full] --out OUT.png
    cnnkit report RUN_DIR
    cnnkit export MODEL OUT.onnx
    cnnkit --version

``train`` writes each run into its own directory, ``runs/<YYYYmmdd-HHMMSS>-<model>-<dataset>/``
unless ``--output DIR`` is given, and never writes into a non-empty one without ``--overwrite``
(or ``--resume``, below).
The directory holds ``config.json`` (every setting, with the seed actually used),
``versions.json``, ``dataset.json`` (sizes, classes, the SHA-256s the loader checks),
``history.json``/``history.csv``, the model (``model.keras`` when the model can be saved, else
``weights.npz``), ``metrics.json`` (test loss and accuracy, confusion matrix, per-class report),
``samples.npz`` (a few test images and their predictions, for image runs) and ``report.html``.

``MODEL`` is a ``.keras`` file or a run directory (its ``model.keras``, or the architecture
rebuilt from ``config.json`` with the trained ``weights.npz``).

``predict`` reads PNG, JPEG and the other formats Pillow reads, converts them to the model's
channels (grayscale or RGB; an alpha channel is dropped) and input size (bilinear), and scales
pixels to [0, 1] as in training. Nothing else is done: Fashion-MNIST shows light clothes on a
black background, so a photo of dark clothes on white paper must be inverted beforehand.

``--resume`` (with ``--output DIR``) backs the training state up in ``DIR/backup/`` at each
epoch end (:class:`~cnnkit.callbacks.BackupAndRestore`); running the same command again after an
interruption (a crash, ``kill -9``, a power cut) continues from the last finished epoch and ends
with the model and history an uninterrupted run would have had. The settings must be the
interrupted run's (``--epochs`` may grow; the seed is read from ``config.json``). The backup is
deleted once the run's files are written.

Under an MPI launcher, ``mpirun -n N cnnkit train ...`` trains data-parallel over the N
processes (:mod:`cnnkit.distribution`) with no extra flag; process 0 alone prints and writes
the run directory.

The run directory is :class:`cnnkit.runs.Run`; the datasets and models ``train`` offers are
registered in :mod:`cnnkit.cli.catalog`.

A loss that becomes NaN or infinite stops training on that batch
(:class:`~cnnkit.callbacks.TerminateOnNaN`): one line on stderr names the epoch and the batch
(both counted from 1), nothing more is written, and the exit status is 1.

User errors (a bad flag value, a missing dataset or file, a corrupt image, an unwritable folder,
a model that does not fit the data) print one line on stderr and exit with status 2;
``--debug`` shows the traceback.
"""

from __future__ import annotations

from cnnkit.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
