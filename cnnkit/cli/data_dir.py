"""``cnnkit train --data-dir DIR``: train on a folder of images, one sub-folder per class.

The images are streamed by :func:`cnnkit.utils.image_dataset_from_directory` (decoded batch
by batch, never all in memory), 20% of the files are held out for validation (with the
run's seed, so the split is repeatable), the pixels are scaled to ``[0, 1]`` by a
``Rescaling`` layer in front of the chosen ``--model``, and the run directory receives
``config.json``, ``dataset.json``, ``history.json``/``metrics.json`` and ``model.keras``.
"""

from __future__ import annotations

import datetime
import time

from cnnkit.cli import catalog
from cnnkit.cli import train as train_command
from cnnkit.runs import Run

VALIDATION_SPLIT = 0.2


def train_from_directory(args) -> int:
    """Run ``cnnkit train`` with ``args.data_dir``; returns the process exit code."""
    from cnnkit import layers, utils
    from cnnkit.models import Model
    from cnnkit.optimizers import Adam

    if args.model in catalog.TEXT_MODELS:
        raise ValueError(f"--data-dir holds images: --model {args.model} is a text model.")
    if not args.data_dir.is_dir():
        raise ValueError(f"--data-dir {args.data_dir} is not a directory.")
    run_dir = train_command.choose_run_dir(args)
    if args.seed is None:
        args.seed = int(time.time_ns() % (2**31))
    utils.set_random_seed(args.seed)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    size = (args.image_size, args.image_size)
    train, val = utils.image_dataset_from_directory(
        args.data_dir,
        color_mode=args.color_mode,
        image_size=size,
        batch_size=args.batch_size,
        validation_split=VALIDATION_SPLIT,
        subset="both",
        seed=args.seed,
        verbose=bool(args.verbose),
    )
    if args.limit is not None:
        train = train.take(-(-args.limit // args.batch_size))
    classes = len(train.class_names)
    if classes < 2:
        raise ValueError(
            f"--data-dir {args.data_dir} has {classes} class folder(s); at least 2 are needed."
        )
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[args.color_mode]
    shape = (*size, channels)
    inner = catalog.build_model(args.model, shape, classes, args.augment)
    inputs = layers.Input(shape)
    model = Model(inputs, inner(layers.Rescaling(1 / 255)(inputs)), name=inner.name)
    steps = len(train)
    rate, extra_callbacks = train_command.learning_rate(args, steps)
    model.compile(Adam(learning_rate=rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    run = Run.create(run_dir, overwrite=args.overwrite)
    config = {k: str(v) if k in ("data_dir", "output") else v for k, v in vars(args).items()}
    config = {k: v for k, v in config.items() if k not in ("command", "debug")}
    config["output"] = str(run_dir)
    run.write_json("config.json", config)
    run.write_json(
        "dataset.json",
        {
            "data_dir": str(args.data_dir),
            "train_files": len(train.file_paths),
            "validation_files": len(val.file_paths),
            "input_shape": list(shape),
            "classes": classes,
            "class_names": list(train.class_names),
        },
    )
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=args.epochs,
        validation_data=val,
        verbose=args.verbose,
        callbacks=extra_callbacks,
    )
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(val, verbose=0)
    print(f"Validation accuracy: {accuracy:.4f} (loss {loss:.4f}, {seconds:.1f}s training)")
    curves = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    run.write_history(curves, list(history.epoch))
    run.write_json(
        "metrics.json",
        {
            "val_loss": loss,
            "val_accuracy": accuracy,
            "train_seconds": seconds,
            "started_at": started,
            "params": model.count_params(),
            "class_names": list(train.class_names),
        },
    )
    model_file = run.save_model(model)
    print(f"Wrote {run_dir} ({model_file})")
    return 0
