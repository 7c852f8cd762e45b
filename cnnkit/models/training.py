"""compile / fit / evaluate / predict: the training loop, in one place.

``fit`` is one loop with Keras's callback order (see :mod:`cnnkit.callbacks`)::

    on_train_begin
    for epoch in range(initial_epoch, epochs):
        on_epoch_begin
        for each batch:  on_train_batch_begin → forward, loss, backward, update → on_train_batch_end
        validation (val_ logs)
        on_epoch_end
    on_train_end

Every input check runs before the first weight update, so bad data never
leaves a half-trained model behind.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping

import numpy as np

from cnnkit import backend
from cnnkit import distribution as distribution_lib
from cnnkit.autodiff import Tensor, no_grad
from cnnkit.backend import xp
from cnnkit.callbacks import CallbackList, History, ProgbarLogger
from cnnkit.callbacks._validation import _check_int
from cnnkit.layers.base import _is_string_array
from cnnkit.metrics import Mean
from cnnkit.models.inference import batches_per_group, infer
from cnnkit.utils.data_adapter import adapt as _adapt

_REQUIRED = object()  # _by_output: every output needs a value


class Trainer:
    """Mixin giving a Model ``compile``, ``fit``, ``evaluate``, ``predict`` and ``*_on_batch``."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss_fns: list = []
        self._loss_weights: list[float] = []
        self._metric_ids = None
        self._metrics: list | None = None
        self._loss_tracker = Mean(name="loss")

    # -- compile ----------------------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ) -> None:
        """Configure the model for training.

        Args:
            optimizer: an optimizer or its string id (``"adam"``, ``"sgd"``, ...).
            loss: a loss (string id, function or Loss object), or one per output (list).
            loss_weights: optional list of scalars weighting each output's loss.
            metrics: list of metrics (``"accuracy"`` is resolved from the shapes, as in Keras).
        """
        from cnnkit import losses, optimizers

        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        if isinstance(loss, Mapping):  # by output name, as Keras; an output left out has none
            loss = _by_output(self, loss, "loss", missing=None)
        loss_list = loss if isinstance(loss, (list, tuple)) else [loss]
        self._loss_fns = [None if item is None else losses.get(item) for item in loss_list]
        if loss_weights is None:
            self._loss_weights = [1.0] * len(self._loss_fns)
        else:
            if isinstance(loss_weights, Mapping):
                loss_weights = _by_output(self, loss_weights, "loss_weights", missing=1.0)
            self._loss_weights = [float(w) for w in loss_weights]
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(
                "Expected `metrics` argument to be a list, tuple, or dict. "
                f"Received instead: metrics={metrics!r} of type {type(metrics).__name__}"
            )
        self._metric_ids_by_output = None  # a dict of metrics: one list per output
        if isinstance(metrics, Mapping):
            per_output = _by_output(self, metrics, "metrics", missing=[])
            self._metric_ids_by_output = [
                list(m) if isinstance(m, (list, tuple)) else [m] for m in per_output
            ]
            metrics = None
        self._metric_ids = list(metrics or []) + list(weighted_metrics or [])
        # As Keras: `metrics` ignore sample and class weights, `weighted_metrics` use them.
        self._weighted_metric_count = len(list(weighted_metrics or []))
        self._metrics = None
        self._loss_tracker = Mean(name="loss")
        self.compiled = True

    @property
    def metrics(self) -> list:
        return [self._loss_tracker, *(self._metrics or [])]

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model in `{what}()`.")

    # -- one batch ----------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch: the compiled loss of each output plus the layers'
        penalties (``self.losses``), as Keras's ``Model.compute_loss``.

        ``fit``, ``evaluate`` and the ``*_on_batch`` methods call it with the batch's data
        and predictions: a subclass overrides it to train on another loss (an override
        without the ``training`` argument is called without it, as in Keras).

        Returns:
            A scalar Tensor.

        Raises:
            ValueError: when there is no loss at all (no ``loss=`` and no penalty).
        """
        del x, training  # the default loss needs neither
        outs, ys = _outputs_and_targets(y_pred, y)
        n = len(outs)
        fns = self._loss_fns if len(self._loss_fns) == n else self._loss_fns * n
        weights = self._loss_weights if len(self._loss_weights) == n else [1.0] * n
        total = None
        for fn, w, target, out in zip(fns, weights, ys, outs):
            if fn is None:
                continue
            if target is None:
                raise ValueError(
                    "The compiled loss needs targets, but the data has no `y`. Pass `y` to "
                    "fit/evaluate (or yield `(x, y)` batches), or compile without `loss=` "
                    "when the model adds its own losses (`add_loss`)."
                )
            term = _apply_loss(fn, target, out, sample_weight)
            if w != 1.0:
                term = term * w
            total = term if total is None else total + term
        penalties = self.losses if self.has_penalties else []
        if total is None and not penalties:
            raise ValueError("The model has no loss to optimise. Pass `loss=` to compile().")
        for penalty in penalties:
            total = penalty if total is None else total + penalty
        return total

    def _forward_loss(self, x, y, sample_weight, training: bool):
        """The predictions and ``compute_loss`` of a batch: ``(loss, outputs, targets)``."""
        outputs = self(x, training=True) if training else infer(self, x)
        compute_loss = self.compute_loss
        if _takes_training(compute_loss):
            total = compute_loss(x, y, outputs, sample_weight, training=training)
        else:
            total = compute_loss(x, y, outputs, sample_weight)
        if not isinstance(total, Tensor):
            total = Tensor(xp.asarray(total, dtype=backend.floatx()))
        outs, ys = _outputs_and_targets(outputs, y)
        return total, outs, ys

    def _update_metrics(self, loss_value, outs, ys, sample_weight, batch_size) -> dict:
        self._loss_tracker.update_state(loss_value, sample_weight=batch_size)
        if self._metrics is None:
            self._metrics = self._build_metrics(ys, outs)
        for metric, index, weighted in self._metrics_outputs:
            weights = sample_weight if weighted else None
            metric.update_state(ys[index], outs[index].data, sample_weight=weights)
        return self._logs()

    def _build_metrics(self, ys, outs) -> list:
        from cnnkit import metrics as metrics_module

        built, self._metrics_outputs = [], []
        by_output = getattr(self, "_metric_ids_by_output", None)
        shared = list(self._metric_ids or [])
        first_weighted = len(shared) - getattr(self, "_weighted_metric_count", 0)
        names = {self._loss_tracker.name}
        for index, (target, out) in enumerate(zip(ys, outs)):
            ids = shared + (by_output[index] if by_output else [])
            for position, identifier in enumerate(ids):
                weighted = first_weighted <= position < len(shared)
                metric = metrics_module.get(identifier, np.asarray(target), out.data)
                if weighted and metric.name in names:  # Keras: "weighted_" on a clash
                    metric.name = f"weighted_{metric.name}"
                if len(outs) > 1:
                    metric.name = f"{_output_names(self)[index]}_{metric.name}"
                names.add(metric.name)
                built.append(metric)
                self._metrics_outputs.append((metric, index, weighted))
        return built

    def _logs(self) -> dict:
        """Current metric values, keys sorted as Keras 3 does (``accuracy`` before ``loss``)."""
        logs = {}
        for m in sorted(self.metrics, key=lambda m: m.name):
            value = np.asarray(m.result())  # an array for per-class metrics (F1Score(), ...)
            logs[m.name] = float(value) if value.ndim == 0 else value.astype("float32")
        return logs

    def _reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss and metrics of that batch."""
        self._require_compiled("train_on_batch")
        x, y = _by_input(self, x), _targets_by_output(self, y)
        data = _ArrayData(x, y, sample_weight, None, False, class_weight=class_weight)
        self._check_before_training(data)
        self._reset_metrics()
        xb, yb, sw = next(iter(data.batches()))
        logs = self._train_step(xb, yb, sw, self.trainable_weights)
        return logs if return_dict else _as_list(logs)

    # -- Keras's per-batch hooks: override them to customise fit/evaluate/predict -----------
    def train_step(self, data) -> dict:
        """One training step on one batch; ``fit`` calls it for every batch.

        Args:
            data: the batch as ``fit`` received it: ``(x, y)``, ``(x, y, sample_weight)``
                or ``x``.

        Returns:
            The logs: ``{metric name: value}``.

        Override it (as in Keras's "customizing what happens in fit" guide) with a step
        written with ``self(x, training=True)``, ``self.compute_loss(...)``,
        ``loss.backward()`` and ``self.optimizer.apply(grads, self.trainable_weights)``;
        the default is cnnkit's own step.
        """
        x, y, sample_weight = _unpack_batch(data)
        return self._train_step(x, y, sample_weight, self.trainable_weights)

    def test_step(self, data) -> dict:
        """Loss and metrics of one batch; ``evaluate`` (and ``fit``'s validation) calls it
        for every batch. ``data`` and the returned logs are as in :meth:`train_step`."""
        x, y, sample_weight = _unpack_batch(data)
        return self._test_step(x, y, sample_weight)

    def predict_step(self, data):
        """The model's outputs for one batch (``data`` is ``x`` or a tuple starting with
        ``x``); ``predict`` calls it for every batch and concatenates the results."""
        x, _, _ = _unpack_batch(data)
        return _to_numpy(self._predict_run(x, None))

    def _overrides(self, hook: str) -> bool:
        """Whether the user's model class replaced Keras's per-batch ``hook``."""
        return getattr(type(self), hook) is not getattr(Trainer, hook)

    def zero_grad(self) -> None:
        """Clear the gradients of the trainable weights (before ``loss.backward()`` in a
        custom ``train_step``, as with Keras's torch backend)."""
        for variable in self.trainable_weights:
            variable.grad = None

    def _prepare_custom_step(self, x, y) -> None:
        """Build the compiled metrics before a user's ``train_step``/``test_step`` reads
        ``self.metrics`` (they take their kind from the outputs, as Keras's do)."""
        if self._metrics is not None:
            return
        if self._metric_ids or getattr(self, "_metric_ids_by_output", None):
            with no_grad():
                outputs = infer(self, x)
            outs, ys = _outputs_and_targets(outputs, y)
            self._metrics = self._build_metrics(ys, outs)
        else:
            self._metrics = []

    def _train_step(self, x, y, sample_weight, variables) -> dict:
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            return self._train_step_data_parallel(dist, x, y, sample_weight, variables)
        with backend.parallel_region():
            total, outs, ys = self._forward_loss(x, y, sample_weight, training=True)
            if not variables:  # a subclassed model creates its weights in its first call
                variables = self.trainable_weights
            if variables:
                total.backward()
                grads = [v.grad for v in variables]
                for v in variables:
                    v.grad = None
                self.optimizer.apply(grads, variables)
            else:  # as Keras: nothing to train, the loss is still reported
                warnings.warn("The model does not have any trainable weights.", stacklevel=3)
            return self._update_metrics(float(total.data), outs, ys, sample_weight, _length(x))

    def _train_step_data_parallel(self, dist, x, y, sample_weight, variables) -> dict:
        """One step on this process's slice of a global batch; the gradients of the slices'
        scaled losses are summed over the processes (see :mod:`cnnkit.distribution`)."""
        x, y, sample_weight, n = dist.shard(x, y, sample_weight)
        local = _length(x)
        if not local and any(
            getattr(la, "synchronized", False) for la in self._flatten_layers(include_self=False)
        ):
            raise ValueError(
                f"A global batch of {n} sample(s) leaves process {dist.process_index} without "
                "rows, and synchronized batch normalization needs every process in each step. "
                f"Use a batch size that leaves at least {dist.num_processes} samples per batch."
            )
        grads, loss, part = [None] * len(variables), 0.0, None
        with backend.parallel_region():
            if local:  # a short last batch may leave a process without rows
                total, outs, ys = self._forward_loss(x, y, sample_weight, training=True)
                total = total * (local / n)  # the slice's share of the batch's mean loss
                total.backward()
                grads = [v.grad for v in variables]
                for v in variables:
                    v.grad = None
                loss, part = float(total.data), ([o.data for o in outs], ys, sample_weight)
            grads, loss = dist.reduce_gradients(grads, variables, loss)
            self.optimizer.apply(grads, variables)
        outs, ys, sample_weight = dist.gather(part)
        return self._update_metrics(loss, [Tensor(o) for o in outs], ys, sample_weight, n)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, without updating weights."""
        self._require_compiled("test_on_batch")
        x, y = _by_input(self, x), _targets_by_output(self, y)
        self._reset_metrics()
        logs = self._test_step(x, y, sample_weight)
        return logs if return_dict else _as_list(logs)

    def _test_step(self, x, y, sample_weight, batch_size: int | None = None) -> dict:
        """Loss and metrics of one batch, or of a run of batches of ``batch_size``; if a run
        fails, its batches run one by one so that the failing one raises its own error."""
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            x, y, sample_weight, n = dist.shard(x, y, sample_weight)
            loss, part = 0.0, None
            if _length(x):
                with no_grad(), backend.parallel_region():
                    total, outs, ys = self._forward_loss(x, y, sample_weight, training=False)
                loss = float(total.data) * _length(x) / n
                part = ([o.data for o in outs], ys, sample_weight)
            outs, ys, sample_weight = dist.gather(part)
            loss = dist.sum_scalar(loss)
            return self._update_metrics(loss, [Tensor(o) for o in outs], ys, sample_weight, n)
        try:
            with no_grad(), backend.parallel_region():
                total, outs, ys = self._forward_loss(x, y, sample_weight, training=False)
        except Exception:
            _each_batch(
                lambda rows: self._test_step(
                    _take(x, rows),
                    _take(y, rows),
                    None if sample_weight is None else sample_weight[rows],
                ),
                _length(x),
                batch_size,
            )
            raise
        return self._update_metrics(float(total.data), outs, ys, sample_weight, _length(x))

    def predict_on_batch(self, x):
        """Model outputs for one batch, as NumPy arrays."""
        with no_grad(), backend.parallel_region():
            out = infer(self, _by_input(self, x))
        return _to_numpy(out)

    def _predict_run(self, xb, batch_size: int | None):
        """The outputs of one batch, or of a run of batches of ``batch_size``, from ``infer``.

        If a run fails, its batches run one by one so that the error is the one the
        failing batch raises on its own (with its shapes).
        """
        dist = distribution_lib.active_data_parallel()
        if dist is not None:  # each process predicts its rows; all gather them in order
            local = _take(xb, dist.local_rows(_length(xb)))
            with backend.parallel_region():
                out = _to_numpy(infer(self, local)) if _length(local) else None
            return _as_tensors(dist.gather(out))
        with backend.parallel_region():
            try:
                return infer(self, xb)
            except Exception:
                _each_batch(lambda rows: infer(self, _take(xb, rows)), _length(xb), batch_size)
                raise

    # -- fit ----------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ) -> History:
        """Train for ``epochs`` epochs; returns a :class:`~cnnkit.callbacks.History`.

        Args:
            x: input array (or list of arrays for several inputs), or an iterable of
                ``(x, y)`` / ``(x, y, sample_weight)`` batches.
            y: targets (integer labels, one-hot rows, or values).
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs-1``).
            verbose: ``"auto"``/1 progress bar, 2 one line per epoch, 0 silent.
            callbacks: list of :class:`~cnnkit.callbacks.Callback`.
            validation_split: fraction of the data, taken from the end before
                shuffling, held out for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight)``.
            shuffle: reshuffle the training samples every epoch.
            class_weight: dict class index → weight of that class's samples in the loss.
            sample_weight: per-sample weights of the loss.
            initial_epoch: epoch to start from (to resume; a
                :class:`~cnnkit.callbacks.BackupAndRestore` that restores a backup sets it,
                and the batch within that epoch, in ``on_train_begin``).
            steps_per_epoch: batches per epoch when ``x`` is an iterable.

        Raises:
            ValueError / TypeError: for inconsistent or invalid data, before any weight changes.
        """
        self._require_compiled("fit")
        _tune_allocator_once()
        _check_int("epochs", epochs, minimum=0)
        if backend.max_epochs() is not None and backend.max_epochs() < epochs:  # config cap
            epochs = backend.max_epochs()
        _check_int("initial_epoch", initial_epoch, minimum=0)
        if batch_size is not None:
            _check_int("batch_size", batch_size, minimum=1)
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(
                "Invalid value for argument `validation_split`. Expected a float in [0, 1). "
                f"Received: validation_split={validation_split}"
            )
        verbose = _resolve_verbose(verbose)
        x, y = _by_input(self, x), _targets_by_output(self, y)
        x, validation_data = _adapt(x, shuffle), _adapt(validation_data, steps=validation_steps)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            vx, vy, *rest = validation_data
            validation_data = (_by_input(self, vx), _targets_by_output(self, vy), *rest)
        if _is_iterable_data(x):
            data = _IterableData(x, steps_per_epoch)
            if validation_split:
                raise ValueError("`validation_split` is only supported for array inputs.")
        else:
            if validation_split and validation_data is None:
                x, y, sample_weight, validation_data = _split(x, y, sample_weight, validation_split)
            data = _ArrayData(
                x, y, sample_weight, batch_size or 32, shuffle, class_weight=class_weight
            )
        val = None
        if validation_data is not None:
            val = _validation_adapter(validation_data, validation_batch_size or batch_size or 32)
        self._check_before_training(data)
        if val is not None:
            self._check_before_training(val)
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            verbose, callbacks = _chief_view(verbose, callbacks)
            dist.synchronize_weights(self)  # every process starts from process 0's weights
            if isinstance(data, _ArrayData):  # process 0's sample order on every process
                data.permutation = dist.permutation
            dist.seed_other_processes()  # their dropout and augmentation differ from 0's
            distribution_lib.begin_collective_phase()  # from here, a failing process ends the job

        history = History()
        cbs = CallbackList(callbacks)
        if verbose:
            cbs.append(ProgbarLogger(verbose=verbose))
        cbs.append(history)
        cbs.set_model(self)
        max_steps = backend.max_steps_per_epoch()  # config cap, as Keras's EpochIterator
        steps = data.steps if max_steps is None or not data.steps else min(data.steps, max_steps)
        cbs.set_params({"epochs": epochs, "steps": steps, "verbose": verbose})

        self.stop_training = False
        variables = self.trainable_weights
        self._initial_epoch, self._initial_step = None, 0  # BackupAndRestore sets them to resume
        cbs.on_train_begin()
        logs: dict = {}
        epoch_logs: dict = {}
        if self._initial_epoch is not None:
            initial_epoch = self._initial_epoch
        skip = self._initial_step  # batches of the first epoch done before an interruption
        custom_step = self._overrides("train_step")
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, (xb, yb, sw) in enumerate(data.batches()):
                if max_steps is not None and step >= max_steps:
                    break
                if step < skip:
                    continue  # drawn, so that the shuffle matches the interrupted run's
                cbs.on_train_batch_begin(step)
                if custom_step:
                    self._prepare_custom_step(xb, yb)
                    logs = _flat_logs(self.train_step(_pack_batch(xb, yb, sw)))
                else:
                    logs = self._train_step(xb, yb, sw, variables)
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            skip = 0
            epoch_logs = dict(logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._run_evaluation(val, cbs, callbacks)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)  # the last epoch's, val_ metrics included (as Keras)
        if dist is not None:
            distribution_lib.end_collective_phase()
        return history

    def _check_before_training(self, data) -> None:
        """Shape, label and dtype checks on the whole dataset, before any weight changes."""
        if isinstance(data, _IterableData):
            return
        if not self.built and hasattr(self, "build") and not isinstance(data.x, dict):
            first = data.x[0] if isinstance(data.x, list) else data.x
            self._maybe_build((None, *first.shape[1:]))
        _check_labels(self, data.y)
        _check_first_layer_inputs(self, data.x)

    def _run_evaluation(self, data, cbs, callbacks=None) -> dict:
        """Loss and metrics over ``data``; runs of batches at once unless ``callbacks`` (the
        user's) watch each test batch (as ``predict``, ``models.inference.batches_per_group``).
        """
        self._reset_metrics()
        cbs.on_test_begin()
        logs: dict = {}
        group = 1
        custom_step = self._overrides("test_step")
        if (
            isinstance(data, _ArrayData)
            and not custom_step
            and not _watches_batches(callbacks, "test")
        ):
            group = batches_per_group(self, data.batch_size)
        step = 0
        runs = data.batches() if group == 1 else data.batches(data.batch_size * group)
        for xb, yb, sw in runs:
            count = 1 if group == 1 else -(-_length(xb) // data.batch_size)  # batches in it
            for k in range(count):
                cbs.on_test_batch_begin(step + k)
            if custom_step:
                self._prepare_custom_step(xb, yb)
                with no_grad():
                    logs = _flat_logs(self.test_step(_pack_batch(xb, yb, sw)))
            else:
                logs = self._test_step(xb, yb, sw, data.batch_size if count > 1 else None)
            for k in range(count):
                cbs.on_test_batch_end(step + k, logs)
            step += count
        cbs.on_test_end(logs)
        return logs

    # -- evaluate / predict ---------------------------------------------------
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss and metrics on the given data (``[loss, *metrics]``, or a dict)."""
        self._require_compiled("evaluate")
        _tune_allocator_once()
        verbose = _resolve_verbose(verbose)
        if distribution_lib.active_data_parallel() is not None:
            verbose, callbacks = _chief_view(verbose, callbacks)
        x, y = _by_input(self, _adapt(x)), _targets_by_output(self, y)
        if _is_iterable_data(x):
            data = _IterableData(x, steps)
        else:
            data = _ArrayData(x, y, sample_weight, batch_size or 32, False)
        self._check_before_training(data)
        cbs = CallbackList(callbacks)
        progbar = ProgbarLogger(verbose=verbose) if verbose else None
        if progbar is not None:
            cbs.append(progbar)
        cbs.set_model(self)
        cbs.set_params({"epochs": 1, "steps": data.steps, "verbose": verbose})
        if progbar is not None:
            progbar.start_mode("test", data.steps)
        logs = self._run_evaluation(data, cbs, callbacks)
        if return_dict:
            return logs
        values = _as_list(logs)
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of ``x``, as NumPy arrays, computed in batches."""
        _tune_allocator_once()
        verbose = _resolve_verbose(verbose)
        if distribution_lib.active_data_parallel() is not None:
            verbose, callbacks = _chief_view(verbose, callbacks)
        x = _by_input(self, _adapt(x))
        group = 1
        custom_step = self._overrides("predict_step")
        if _is_iterable_data(x):
            batches = (_unpack_batch(b)[0] for b in _IterableData(x, steps).raw())
            n_steps = steps
        else:
            data = _ArrayData(x, None, None, batch_size or 32, False)
            n_steps = data.steps
            # Unless a user callback watches each batch, runs of batches go through the model
            # at once: the same outputs, fewer passes (models.inference.batches_per_group).
            group = (
                1
                if custom_step or _watches_batches(callbacks, "predict")
                else batches_per_group(self, data.batch_size)
            )
            batches = _runs_of_batches(data, group)
        cbs = CallbackList(callbacks)
        progbar = ProgbarLogger(verbose=verbose) if verbose else None
        if progbar is not None:
            cbs.append(progbar)
        cbs.set_model(self)
        cbs.set_params({"epochs": 1, "steps": n_steps, "verbose": verbose})
        if progbar is not None:
            progbar.start_mode("predict", n_steps)
        cbs.on_predict_begin()
        chunks = []
        step = 0
        with no_grad():
            for xb in batches:
                count = 1 if group == 1 else -(-_length(xb) // data.batch_size)  # batches in it
                size = data.batch_size if count > 1 else None
                for k in range(count):
                    cbs.on_predict_batch_begin(step + k)
                if custom_step:
                    chunks.append(_outputs_as_numpy(self.predict_step(xb)))
                else:
                    chunks.append(_to_numpy(self._predict_run(xb, size)))
                for k in range(count):
                    part = chunks[-1] if count == 1 else _rows(chunks[-1], k, size)
                    cbs.on_predict_batch_end(step + k, {"outputs": part})
                step += count
        cbs.on_predict_end()
        if not chunks:
            raise ValueError("Expected input data to `predict` to be non-empty.")
        if isinstance(chunks[0], dict):
            return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        if isinstance(chunks[0], list):
            return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
        return np.concatenate(chunks)


# ---------------------------------------------------------------------------
# Data handling
# ---------------------------------------------------------------------------


class _ArrayData:
    """Batches of in-memory arrays, reshuffled every epoch when ``shuffle``."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, class_weight=None):
        if x is None:
            raise ValueError("Argument `x` must be provided. Received: x=None")
        self.x = _as_arrays(x, "x")
        self.y = None if y is None else _as_arrays(y, "y", numeric_check=False)
        xs = (
            list(self.x.values())
            if isinstance(self.x, dict)
            else self.x
            if isinstance(self.x, list)
            else [self.x]
        )
        ys = [] if self.y is None else (self.y if isinstance(self.y, list) else [self.y])
        sizes = {len(a) for a in xs + ys}
        if len(sizes) > 1:
            raise ValueError(
                "Data cardinality is ambiguous. Make sure all arrays contain the same number "
                f"of samples. 'x' sizes: {', '.join(str(len(a)) for a in xs)}; "
                f"'y' sizes: {', '.join(str(len(a)) for a in ys)}"
            )
        self.n = sizes.pop()
        if self.n == 0:
            raise ValueError("Expected input data to be non-empty. Received arrays of 0 samples.")
        self.sample_weight = _sample_weights(sample_weight, class_weight, self.y, self.n)
        self.batch_size = batch_size or self.n
        self.shuffle = shuffle
        self.steps = math.ceil(self.n / self.batch_size)
        self.permutation = None  # draws each epoch's order; default backend.rng()'s

    def batches(self, size: int | None = None):
        """``(x, y, sample_weight)`` per batch of ``size`` samples (default ``batch_size``)."""
        size = size or self.batch_size
        permutation = self.permutation or backend.rng().permutation
        order = permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, size):
            stop = start + size
            idx = slice(start, stop) if order is None else order[start:stop]
            yield (
                _take(self.x, idx),
                None if self.y is None else _take(self.y, idx),
                None if self.sample_weight is None else self.sample_weight[idx],
            )


class _IterableData:
    """Batches from a Python iterable or generator of ``(x, y[, sample_weight])``.

    An object with ``__len__`` and ``__getitem__`` (a Keras ``Sequence``/``PyDataset``, or
    ``ImageDataGenerator.flow(...)``) is read as ``source[0] .. source[len - 1]`` each
    epoch, then ``source.on_epoch_end()`` is called when it exists. Anything else is
    iterated; with ``steps`` the same iterator carries on from epoch to epoch.
    """

    def __init__(self, source, steps):
        self.source = source
        self.indexed = hasattr(source, "__len__") and hasattr(source, "__getitem__")
        if steps is None and self.indexed:
            steps = len(source)
        # A dataset that knows its size (``cardinality()``, as tf.data, or ``len()``, as a
        # torch DataLoader) gives the progress bar its step count, and is still read afresh
        # each epoch.
        self._fresh_each_epoch = False
        if steps is None and not self.indexed:
            cardinality = getattr(source, "cardinality", None)
            count = cardinality() if callable(cardinality) else None
            if count is None and hasattr(source, "__len__") and hasattr(source, "__iter__"):
                count = len(source)
            if isinstance(count, (int, np.integer)) and count >= 0:
                steps, self._fresh_each_epoch = int(count), True
        self.steps = steps
        self.x = self.y = None
        self._iterator = None

    def raw(self):
        if self._fresh_each_epoch:
            yield from iter(self.source)
            return
        if self.indexed:
            for index in range(self.steps):
                yield self.source[index % len(self.source)]
            on_epoch_end = getattr(self.source, "on_epoch_end", None)
            if callable(on_epoch_end):
                on_epoch_end()
            return
        iterator = iter(self.source) if self._iterator is None else self._iterator
        if self.steps is None:
            yield from iterator
            return
        # With a step count, keep one iterator across epochs (Keras's generator semantics).
        self._iterator = iterator
        for _ in range(self.steps):
            try:
                yield next(iterator)
            except StopIteration:
                self._iterator = None
                return

    def batches(self):
        for item in self.raw():
            xb, yb, sw = _unpack_batch(item)
            xb, yb = _as_arrays(xb, "x"), None if yb is None else _as_arrays(yb, "y", False)
            yield xb, yb, None if sw is None else np.asarray(sw, "float32")


_ALLOCATOR = {"tuned": False}


def _tune_allocator_once() -> None:
    """``backend.tune_allocator()`` on the first ``fit``/``evaluate``/``predict`` of the
    process: training and inference are where keeping freed memory pays (a third of a VGG
    step went to page faults without it); importing cnnkit changes nothing."""
    if not _ALLOCATOR["tuned"]:
        _ALLOCATOR["tuned"] = True
        backend.tune_allocator()


def _pack_batch(x, y, sample_weight):
    """A batch as Keras hands it to ``train_step``/``test_step``: ``(x, y[, sample_weight])``,
    or ``x`` alone without targets."""
    if y is None and sample_weight is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _outputs_as_numpy(outputs):
    """A custom ``predict_step``'s outputs (tensors, arrays, or lists/dicts of them)."""
    if isinstance(outputs, Mapping):
        return {k: _outputs_as_numpy(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [_outputs_as_numpy(v) for v in outputs]
    return np.asarray(outputs.data if isinstance(outputs, Tensor) else outputs)


def _unpack_batch(item) -> tuple:
    """``(x, y, sample_weight)`` of one batch, as Keras's ``unpack_x_y_sample_weight``: a
    tuple or list of 1 to 3 items (a ``torch.utils.data.DataLoader`` yields ``[x, y]``),
    or the inputs alone."""
    if isinstance(item, (tuple, list)):
        if not 1 <= len(item) <= 3:
            raise ValueError(
                "Each batch of a dataset or generator must be `(x,)`, `(x, y)` or "
                f"`(x, y, sample_weight)` (a tuple or a list). Received {len(item)} items."
            )
        return (*item, None, None)[:3]
    return item, None, None


def _is_iterable_data(x) -> bool:
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, Tensor)):
        return False
    if hasattr(x, "__array__") and hasattr(x, "shape"):  # an array of another library (torch)
        return False
    indexed = hasattr(x, "__len__") and hasattr(x, "__getitem__")
    return indexed or hasattr(x, "__iter__") or hasattr(x, "__next__")


def _as_arrays(data, name: str, numeric_check: bool = True):
    if isinstance(data, Mapping):  # named inputs of a subclassed model's call, as Keras
        return {k: _as_array(a, f"{name}[{k!r}]", numeric_check) for k, a in data.items()}
    if (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(a, (np.ndarray, Tensor)) for a in data)
    ):
        return [_as_array(a, f"{name}[{i}]", numeric_check) for i, a in enumerate(data)]
    return _as_array(data, name, numeric_check)


def _as_array(a, name: str, numeric_check: bool):
    if isinstance(a, Tensor):
        a = a.numpy()
    try:
        arr = np.asarray(a)
    except ValueError as err:
        _raise_if_ragged(a, name)
        raise ValueError(f"Could not convert `{name}` to an array: {err}") from None
    if arr.dtype.kind == "O" and not _is_string_array(arr):  # texts differ in length
        _raise_if_ragged(a, name)
    if _is_string_array(arr):
        if arr.ndim == 0:
            raise ValueError(f"Expected `{name}` to have a batch axis. Received a scalar: {a!r}")
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"Expected `{name}` to be a numeric array. Received an array of dtype {arr.dtype} "
            f"and shape {arr.shape}."
        )
    if numeric_check and arr.dtype.kind == "f" and not _all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"`{name}` contains NaN or Inf values (first at index {tuple(int(i) for i in bad)}). "
            "Clean or impute the data before training."
        )
    if arr.ndim == 0:
        raise ValueError(f"Expected `{name}` to have a batch axis. Received a scalar: {a!r}")
    return arr


def _all_finite(arr) -> bool:
    """Whether every value of a float array is finite, without a temporary array of its size.

    A sum is finite exactly when every value is, unless it overflowed: the sum in the
    array's own dtype first (4x faster than in float64 for float32), in float64 only when
    that one is not finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return True
    return bool(np.isfinite(arr.sum(dtype=np.float64)))


def _raise_if_ragged(a, name: str) -> None:
    """Sequences of different lengths: say so, and how to pad them."""
    try:
        lengths = [len(row) for row in a]
    except TypeError:
        return
    if len(set(lengths)) > 1:
        first = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise ValueError(
            f"`{name}` is ragged: its sequences have different lengths (sample 0 has "
            f"{lengths[0]} elements, sample {first} has {lengths[first]}). Pad them to one "
            "length first, e.g. `cnnkit.preprocessing.sequence.pad_sequences(x, maxlen=...)`."
        )


def _take(arrays, idx):
    if isinstance(arrays, dict):
        return {k: a[idx] for k, a in arrays.items()}
    if isinstance(arrays, list):
        return [a[idx] for a in arrays]
    return arrays[idx]


def _length(x) -> int:
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x[0]) if isinstance(x, list) else len(x)


def _split(x, y, sample_weight, fraction):
    """Hold out the last ``fraction`` of the samples (before shuffling), as Keras does."""
    xs = _as_arrays(x, "x")
    n = len(xs[0]) if isinstance(xs, list) else len(xs)
    cut = int(n * (1.0 - fraction))
    if cut == 0 or cut == n:
        raise ValueError(
            f"validation_split={fraction} leaves no training or no validation samples out of {n}."
        )

    def part(a, sl):
        if a is None:
            return None
        a = _as_arrays(a, "y", numeric_check=False) if not isinstance(a, np.ndarray) else a
        return [v[sl] for v in a] if isinstance(a, list) else a[sl]

    train = slice(0, cut)
    held = slice(cut, None)
    val = (part(xs, held), part(y, held), part(sample_weight, held))
    return part(xs, train), part(y, train), part(sample_weight, train), val


def _validation_adapter(validation_data, batch_size):
    if _is_iterable_data(validation_data):
        return _IterableData(validation_data, None)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError(
            "`validation_data` should be a tuple `(x_val, y_val)` or "
            f"`(x_val, y_val, val_sample_weights)`. Received: {type(validation_data).__name__}"
        )
    sw = validation_data[2] if len(validation_data) == 3 else None
    return _ArrayData(validation_data[0], validation_data[1], sw, batch_size, False)


def _sample_weights(sample_weight, class_weight, y, n):
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype="float32").reshape(-1)
        if len(weights) != n:
            raise ValueError(
                f"`sample_weight` must have one weight per sample: expected {n}, "
                f"received {len(weights)}."
            )
    if class_weight is not None:
        if y is None or isinstance(y, list):
            raise ValueError("`class_weight` needs a single array of targets `y`.")
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
        labels = labels.astype("int64")
        table = np.ones(int(max(labels.max(), max(class_weight)) + 1), dtype="float32")
        for cls, w in class_weight.items():
            table[int(cls)] = float(w)
        cw = table[labels]
        weights = cw if weights is None else weights * cw
    return weights


def _check_labels(model, y) -> None:
    """Sparse cross-entropy labels must lie in [0, K): check them all before training."""
    if y is None or isinstance(y, list) or not model._loss_fns:
        return
    fn = model._loss_fns[0]
    name = getattr(fn, "name", None) or getattr(fn, "__name__", "")
    if "sparse_categorical" not in str(name):
        return
    outputs = getattr(model, "outputs", None)
    if not outputs:
        return
    classes = outputs[0].shape[-1]
    if classes is None or y.size == 0 or y.dtype.kind not in "biuf":
        return
    low, high = y.min(), y.max()
    for value in (high, low):
        if value >= classes or value < 0:
            shown = int(value) if float(value).is_integer() else value
            raise ValueError(
                f"Received a label value of {shown} which is outside the valid range of "
                f"[0, {classes})"
            )


def _check_first_layer_inputs(model, x) -> None:
    """Layers fed straight from the data (e.g. Embedding) check all of it before training."""
    arrays = x if isinstance(x, list) else [x]
    stack = getattr(model, "_stack", None)
    if stack is not None:
        pairs = [(stack[0], 0)] if stack else []
    else:
        position = {id(t): i for i, t in enumerate(getattr(model, "inputs", None) or [])}
        pairs = [
            (node.layer, position[id(node.input_tensors[0])])
            for node in getattr(model, "_nodes", [])
            if len(node.input_tensors) == 1 and id(node.input_tensors[0]) in position
        ]
    for layer, index in pairs:
        check = getattr(layer, "check_indices", None)
        if check is not None and index < len(arrays):
            check(arrays[index])


def _outputs_and_targets(outputs, y) -> tuple[list, list]:
    """The model's outputs and the targets as two lists of the same length, in output order
    (a dict of outputs in the model's order; ``y=None`` gives no target per output)."""
    if isinstance(outputs, Mapping):
        outputs = list(outputs.values())
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if y is None:
        return outs, [None] * len(outs)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    if len(ys) != len(outs):
        raise ValueError(
            f"The model has {len(outs)} output(s) but `y` provides {len(ys)} target(s)."
        )
    return outs, ys


_TAKES_TRAINING: dict = {}


def _takes_training(method) -> bool:
    """Whether a (possibly overridden) ``compute_loss`` has a ``training`` parameter."""
    key = getattr(method, "__func__", method)
    if key not in _TAKES_TRAINING:
        params = inspect.signature(method).parameters
        _TAKES_TRAINING[key] = "training" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )
    return _TAKES_TRAINING[key]


def _apply_loss(fn, y_true, y_pred, sample_weight):
    """Mean loss over the batch (Keras's sum_over_batch_size), weighted per sample."""
    from cnnkit import losses

    if isinstance(fn, losses.Loss):
        return fn(y_true, y_pred, sample_weight=sample_weight)
    per_sample = fn(y_true, y_pred)
    if sample_weight is not None:
        sw = Tensor(xp.asarray(sample_weight, dtype=per_sample.dtype).reshape(per_sample.shape[:1]))
        return (per_sample * sw).sum() / float(per_sample.data.size)
    return per_sample.mean()


def _watches_batches(callbacks, mode: str) -> bool:
    """Whether one of the user's ``callbacks`` does something on each ``mode`` batch
    (``"test"`` or ``"predict"``): a hook overridden, or set as with ``LambdaCallback``."""
    from cnnkit.callbacks import Callback

    hooks = (f"on_{mode}_batch_begin", f"on_{mode}_batch_end")
    return any(
        hook in vars(cb) or getattr(type(cb), hook, None) is not getattr(Callback, hook)
        for cb in (callbacks or [])
        for hook in hooks
    )


def _output_names(model) -> list[str]:
    """The model's output names (dict keys of its outputs, else the output layers' names)."""
    names = getattr(model, "output_names", None)
    if names is not None:
        return list(names)
    outputs = getattr(model, "outputs", None) or []
    return [t._keras_history[0].name for t in outputs]


def _by_output(model, mapping, what: str, missing=_REQUIRED):
    """``mapping`` keyed by output name as a list in the model's output order."""
    names = _output_names(model)
    unknown = [k for k in mapping if k not in names]
    if unknown or not names:
        raise ValueError(
            f"The keys of `{what}` must be output names of the model, {names}. Received "
            f"unknown keys: {unknown or list(mapping)}"
        )
    absent = [k for k in names if k not in mapping]
    if absent and missing is _REQUIRED:
        raise ValueError(
            f"`{what}` gives no value for the output(s) {absent}. Expected one for each of {names}."
        )
    return [mapping[k] if k in mapping else missing for k in names]


def _by_input(model, x):
    """A dict of inputs keyed by input name as a list (or the one array) in input order."""
    if not isinstance(x, Mapping) or not hasattr(model, "_inputs_by_name"):
        return x
    arrays = model._inputs_by_name(x)
    return arrays if len(arrays) > 1 else arrays[0]


def _flat_logs(logs) -> dict:
    """A custom step's logs as numbers; nested dicts are flattened into one, as Keras."""
    if not isinstance(logs, Mapping):
        raise TypeError(
            f"`train_step`/`test_step` must return a dict of logs. Received: {type(logs).__name__}"
        )
    flat = {}
    for name, value in logs.items():
        if isinstance(value, Mapping):
            flat.update(_flat_logs(value))
            continue
        array = np.asarray(backend.to_numpy(getattr(value, "data", value)))
        flat[name] = float(array) if array.ndim == 0 else array.astype("float32")
    return flat


def _targets_by_output(model, y):
    """A dict of targets keyed by output name as a list in the model's output order."""
    if not isinstance(y, Mapping):
        return y
    values = _by_output(model, y, "y")
    return values if len(values) > 1 else values[0]


def _each_batch(run, n: int, batch_size: int | None) -> None:
    """``run(rows)`` on each batch of a failed run of ``n`` samples, so that the batch that
    fails raises its own error (with its own shapes); nothing for a single batch (``None``)."""
    for start in range(0, n if batch_size else 0, batch_size or 1):
        run(slice(start, start + batch_size))


def _runs_of_batches(data, group: int):
    """The inputs of ``data``'s batches, ``group`` consecutive batches joined into one array."""
    size = data.batch_size * group
    for start in range(0, data.n, size):
        yield _take(data.x, slice(start, start + size))


def _rows(out, k: int, size: int):
    """Batch ``k`` (of ``size`` rows) of a run's predicted array, list or dict of arrays."""
    rows = slice(k * size, (k + 1) * size)
    if isinstance(out, dict):
        return {name: o[rows] for name, o in out.items()}
    return [o[rows] for o in out] if isinstance(out, list) else out[rows]


def _to_numpy(out):
    if isinstance(out, Mapping):
        return {name: backend.to_numpy(o.data) for name, o in out.items()}
    if isinstance(out, (list, tuple)):
        return [backend.to_numpy(o.data) for o in out]
    return backend.to_numpy(out.data)


def _as_tensors(out):
    """NumPy outputs (one array, a list or a dict of them) as the Tensors ``infer`` returns."""
    if isinstance(out, Mapping):
        return {name: Tensor(o) for name, o in out.items()}
    if isinstance(out, (list, tuple)):
        return [Tensor(o) for o in out]
    return Tensor(out)


def _chief_view(verbose, callbacks):
    """Process 0 prints and writes files; the others run silent, without the callbacks
    that only write (``chief_only``: progress bars, logs, checkpoints)."""
    if distribution_lib.is_chief():
        return verbose, callbacks
    kept = [cb for cb in callbacks or [] if not getattr(cb, "chief_only", False)]
    return 0, kept


def _as_list(logs: dict) -> list:
    values = [logs["loss"]]
    values += [v for k, v in logs.items() if k != "loss"]
    return values


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"Invalid value for argument `verbose`. Expected 'auto', 0, 1 or 2. "
            f"Received: verbose={verbose!r}"
        )
    return int(verbose)
