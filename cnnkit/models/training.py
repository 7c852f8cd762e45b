"""compile / fit / evaluate / predict: the trainer, the last of three rooms (Keras's split).

The data reaches it through :mod:`cnnkit.trainers`: a data adapter per kind of input
(``get_data_adapter``), and an :class:`~cnnkit.trainers.epoch_iterator.EpochIterator`
that yields ``(begin_step, end_step, batches)`` groups. This module runs the steps and calls
the callbacks; it never batches data itself.

``fit`` is one loop with Keras's callback order (see :mod:`cnnkit.callbacks`)::

    on_train_begin
    for epoch in range(initial_epoch, epochs):
        on_epoch_begin
        for each group of steps:  on_train_batch_begin(begin_step)
                                  → per batch: forward, loss, backward, update
                                  → on_train_batch_end(end_step)
        validation (val_ logs)
        on_epoch_end
    on_train_end

Every input check on in-memory arrays runs before the first weight update, so bad data
never leaves a half-trained model behind. An error inside a step propagates as raised,
with a note naming the steps it happened in; nothing is run twice.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Mapping

import numpy as np

from cnnkit import backend, tree
from cnnkit import distribution as distribution_lib
from cnnkit.autodiff import Tensor, no_grad
from cnnkit.backend import xp
from cnnkit.callbacks import CallbackList, History, ProgbarLogger
from cnnkit.callbacks._validation import _check_int
from cnnkit.kernels import threads
from cnnkit.models.inference import batches_per_group, infer
from cnnkit.trainers.data_adapters import (
    ArrayDataAdapter,
    get_data_adapter,
    pack_x_y_sample_weight,
    train_validation_split,
    unpack_x_y_sample_weight,
)
from cnnkit.trainers.data_adapters.array_data_adapter import length as _length
from cnnkit.trainers.data_adapters.array_data_adapter import take as _take
from cnnkit.trainers.epoch_iterator import EpochIterator

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
        self._weighted_metric_ids = None
        self._metrics: list | None = None
        self._has_compile_metrics = False
        self._compile_arguments: dict = {}
        self._loss_tracker = _loss_tracker()
        self._output_loss_trackers: list = []
        self.steps_per_execution = 1
        self._run_eagerly = False
        self._jit_compile = False

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
            loss: a loss (string id, function or Loss object) for every output, or one per
                output: a list, or a dict with every output name (``None`` for no loss).
                With several losses the logs also hold each output's, unweighted, as
                ``<output>_loss`` (and ``val_<output>_loss``), as in Keras.
            loss_weights: optional scalars weighting each output's loss (a list, or a dict
                by output name).
            metrics: a list of metrics (``"accuracy"`` is resolved from the shapes, as in
                Keras). With several outputs, as Keras: a list with one entry per output (a
                metric, a list of them or ``None``) or a dict by output name; they are
                logged as ``<output>_<metric>``.
            weighted_metrics: metrics weighted by ``sample_weight``/``class_weight``, given
                as ``metrics``.
            run_eagerly: accepted for Keras's API; every cnnkit step runs eagerly (op by op
                in NumPy), so ``True`` and ``False`` give the same results. Kept as
                ``model.run_eagerly``.
            steps_per_execution: batches per group (a positive integer). Each batch is
                still its own step and update, so the weights are those of
                ``steps_per_execution=1``; as in Keras, the batch callbacks run once per
                group, ``on_train_batch_begin(first step)`` and
                ``on_train_batch_end(last step, logs)``, and the last group of an epoch is
                cut at the epoch's end.
            jit_compile: ``"auto"``, ``True`` or ``False``, accepted for Keras's API (and
                for ``.keras`` files saved with ``jit_compile=True``) and ignored: cnnkit
                has no compiler, every step runs eagerly and the results are those of
                ``jit_compile=False``. ``model.jit_compile`` is therefore always ``False``
                (``"auto"`` resolves to it, as on Keras's torch backend).
            auto_scale_loss: accepted for Keras's API. Keras wraps the optimizer in a
                ``LossScaleOptimizer`` when the dtype policy is ``"mixed_float16"``; cnnkit
                refuses mixed policies (:mod:`cnnkit.dtype_policies`), so it never applies.
                A ``LossScaleOptimizer`` passed as ``optimizer`` does scale the loss.

        Raises:
            ValueError: for an invalid ``steps_per_execution``, ``jit_compile`` or
                ``run_eagerly``; ``metrics``/``weighted_metrics`` neither a list, tuple nor
                dict, or not one entry per output; a ``loss`` dict without every output.
        """
        from cnnkit import losses, optimizers

        _check_int("steps_per_execution", steps_per_execution, minimum=1)
        if jit_compile not in ("auto", True, False):
            raise ValueError(
                "Invalid value for argument `jit_compile`. Expected 'auto', True or False. "
                f"Received: jit_compile={jit_compile!r}"
            )
        if run_eagerly not in (True, False):
            raise ValueError(
                "Invalid value for argument `run_eagerly`. Expected True or False. "
                f"Received: run_eagerly={run_eagerly!r}"
            )
        if jit_compile is True and run_eagerly:
            warnings.warn(
                "If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                "Disabling `jit_compile`.",
                stacklevel=2,
            )
            jit_compile = False
        for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"Expected `{name}` argument to be a list, tuple, or dict. "
                    f"Received instead: {name}={value!r} of type {type(value)}"
                )
        self.optimizer = optimizers.get(optimizer)
        # As Keras: compiling again without `loss` keeps the compiled loss, and without
        # `metrics` and `weighted_metrics` the compiled metrics; the compile config holds
        # what this call was given.
        self._compile_arguments = {
            "loss": loss,
            "metrics": metrics,
            "weighted_metrics": weighted_metrics,
        }
        if loss is not None or not self.compiled:
            self._compile_loss(loss, loss_weights, losses)
        given = metrics is not None or weighted_metrics is not None
        if given or not self.compiled:
            # Kept as given (Keras's compile config); resolved per output on the first batch.
            self._metric_ids = metrics
            self._weighted_metric_ids = weighted_metrics
            outputs = getattr(self, "outputs", None)
            if outputs:  # a graph's outputs are known: a bad structure is refused now
                for name, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
                    _metrics_by_output(value, _output_names(self), name)
            self._metrics = None
        self._has_compile_metrics = getattr(self, "_has_compile_metrics", False) or given
        self._loss_tracker = _loss_tracker()
        self.steps_per_execution = int(steps_per_execution)
        self.run_eagerly = bool(run_eagerly)
        self.jit_compile = False if jit_compile == "auto" else bool(jit_compile)
        self.compiled = True

    def _compile_loss(self, loss, loss_weights, losses) -> None:
        """Resolve ``compile``'s ``loss`` and ``loss_weights`` per output."""
        self.loss = loss
        if isinstance(loss, Mapping):  # by output name, as Keras: one entry for each output
            names = _output_names(self)
            if set(loss) != set(names):
                raise ValueError(
                    f"Expected keys {names} in loss dict, but found loss.keys()={list(loss)}"
                )
            loss = [loss[name] for name in names]
        loss_list = loss if isinstance(loss, (list, tuple)) else [loss]
        self._loss_fns = [None if item is None else losses.get(item) for item in loss_list]
        if loss_weights is None:
            self._loss_weights = [1.0] * len(self._loss_fns)
        else:
            if isinstance(loss_weights, Mapping):
                loss_weights = _by_output(self, loss_weights, "loss_weights", missing=1.0)
            self._loss_weights = [float(w) for w in loss_weights]
        self._output_loss_trackers = []  # `<output>_loss` of each output's loss, built on use

    @property
    def jit_compile(self) -> bool:
        """Always ``False``: cnnkit has no compiler (see ``compile``'s ``jit_compile``)."""
        return self._jit_compile

    @jit_compile.setter
    def jit_compile(self, value) -> None:
        del value  # nothing to compile with: every step runs eagerly, with the same results
        self._jit_compile = False

    @property
    def run_eagerly(self) -> bool:
        """Whether ``compile`` asked for eager steps; cnnkit's steps are always eager."""
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value) -> None:
        self._run_eagerly = bool(value)

    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics, then one ``<output>_loss`` tracker per
        output with a loss when there are several (Keras's order); none before ``compile``."""
        if not self.compiled:
            return []
        return [self._loss_tracker, *(self._metrics or []), *self._output_loss_trackers]

    @property
    def metrics_names(self) -> list[str]:
        """The names of the model's metrics as Keras 3 lists them: ``"loss"``, then
        ``"compile_metrics"`` (Keras holds every metric given to ``compile`` in one
        container of that name, even an empty list), then each ``<output>_loss``; the
        names of the logs are those of ``evaluate(return_dict=True)``. A ``metrics``
        property a subclass defines is listed as it is.

        Example:
            >>> import cnnkit
            >>> model = cnnkit.Sequential([cnnkit.Input((2,)), cnnkit.layers.Dense(1)])
            >>> model.compile("sgd", "mse", metrics=["mae"])
            >>> model.metrics_names
            ['loss', 'compile_metrics']
        """
        if type(self).metrics is not Trainer.metrics or not self.compiled:
            return [m.name for m in self.metrics]
        compiled = ["compile_metrics"] if self._has_compile_metrics else []
        return [self._loss_tracker.name, *compiled, *(m.name for m in self._output_loss_trackers)]

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
        outs, ys = _outputs_and_targets(y_pred, y, self._loss_fns)
        n = len(outs)
        fns = self._loss_fns if len(self._loss_fns) == n else self._loss_fns * n
        weights = self._loss_weights if len(self._loss_weights) == n else [1.0] * n
        # As Keras, several losses are also reported one by one, unweighted (`a_loss`, ...).
        by_output = [None] * n if sum(fn is not None for fn in fns) > 1 else None
        total = None
        for index, (fn, w, target, out) in enumerate(zip(fns, weights, ys, outs)):
            if fn is None:
                continue
            if target is None:
                raise ValueError(
                    "The compiled loss needs targets, but the data has no `y`. Pass `y` to "
                    "fit/evaluate (or yield `(x, y)` batches), or compile without `loss=` "
                    "when the model adds its own losses (`add_loss`)."
                )
            term = _apply_loss(fn, target, out, _output_weights(sample_weight, index))
            if by_output is not None:
                by_output[index] = float(term.data)
            if w != 1.0:
                term = term * w
            total = term if total is None else total + term
        penalties = self.losses if self.has_penalties else []
        if total is None and not penalties:
            raise ValueError("The model has no loss to optimise. Pass `loss=` to compile().")
        for penalty in penalties:
            total = penalty if total is None else total + penalty
        if by_output is not None:
            self._record_output_losses(by_output, _length(getattr(outs[0], "data", outs[0])))
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
        outs, ys = _outputs_and_targets(outputs, y, self._loss_fns)
        return total, outs, ys

    def _update_metrics(self, loss_value, outs, ys, sample_weight, batch_size) -> dict:
        self._loss_tracker.update_state(loss_value, sample_weight=batch_size)
        if self._metrics is None:
            self._metrics = self._build_metrics(ys, outs)
        for metric, index, weighted in self._metrics_outputs:
            weights = _output_weights(sample_weight, index) if weighted else None
            metric.update_state(ys[index], outs[index].data, sample_weight=weights)
        return self._logs()

    def _record_output_losses(self, values, rows: int) -> None:
        """Each output's unweighted loss of a batch of ``rows`` samples into its
        ``<output>_loss`` tracker (``values``: one float, or ``None`` for an output without a
        loss, per output). Under data parallelism the step sums the processes'
        values first (:meth:`_sum_output_losses`)."""
        if not self._output_loss_trackers:
            self._output_loss_trackers = _output_loss_trackers(self, values)
        if distribution_lib.active_data_parallel() is not None:
            self._pending_output_losses = (values, rows)
            return
        present = [v for v in values if v is not None]
        for tracker, value in zip(self._output_loss_trackers, present):
            tracker.update_state(value, sample_weight=rows)

    def _sum_output_losses(self, dist, n: int) -> None:
        """The ``<output>_loss`` values of one global batch of ``n`` samples: each process's
        share (its rows' mean times rows / n) summed over the processes, in one all-reduce."""
        pending, self._pending_output_losses = getattr(self, "_pending_output_losses", None), None
        count = sum(fn is not None for fn in self._loss_fns) if self._loss_fns else 0
        if len(self._loss_fns) == 1 and count == 1:
            count = len(_output_names(self))  # one loss for every output
        if count < 2:
            return
        shares = np.zeros(count, dtype=np.float64)
        if pending is not None:
            values, rows = pending
            shares[:] = [v * rows / n for v in values if v is not None]
        dist.sum_in_place(shares)
        if not self._output_loss_trackers:
            fns = self._loss_fns if len(self._loss_fns) > 1 else self._loss_fns * count
            self._output_loss_trackers = _output_loss_trackers(
                self, [None if fn is None else 0.0 for fn in fns]
            )
        for tracker, value in zip(self._output_loss_trackers, shares):
            tracker.update_state(float(value), sample_weight=n)

    def _build_metrics(self, ys, outs) -> list:
        """The compiled metrics, named as Keras names them: ``<output>_<metric>`` with
        several outputs, ``weighted_`` for a weighted metric whose name is taken, ``_1``,
        ``_2``... after a repeated name."""
        from cnnkit import metrics as metrics_module

        names = _output_names(self) if len(outs) > 1 else [None]
        built, self._metrics_outputs, self._metric_base_names = [], [], []
        taken: dict = {}
        for weighted, ids in ((False, self._metric_ids), (True, self._weighted_metric_ids)):
            by_output = _metrics_by_output(
                ids, names, "weighted_metrics" if weighted else "metrics"
            )
            for index, identifiers in enumerate(by_output):
                target, out = np.asarray(ys[index]), outs[index].data
                for identifier in identifiers:
                    metric = metrics_module.get(identifier, target, out)
                    # a Metric object given to compile keeps the name it came with
                    base = getattr(metric, "_compile_name", metric.name)
                    metric._compile_name = base
                    prefix = f"{names[index]}_" if names[index] is not None else ""
                    name = prefix + base
                    if name in taken and weighted:
                        name = f"{prefix}weighted_{base}"
                    if name in taken:
                        taken[name] += 1
                        name = f"{name}_{taken[name] - 1}"
                    else:
                        taken[name] = 1
                    metric.name = name
                    built.append(metric)
                    self._metrics_outputs.append((metric, index, weighted))
                    self._metric_base_names.append(base)
        return built

    @contextlib.contextmanager
    def _metrics_named_as_given(self):
        """The compiled Metric objects under the names they were given to ``compile``
        (what the compile config writes, as Keras's, whose objects keep their names); their
        log names (``<output>_<name>``...) come back after."""
        built = [m for m in self._metrics or [] if hasattr(m, "_compile_name")]
        logged = [m.name for m in built]
        for metric in built:
            metric.name = metric._compile_name
        try:
            yield
        finally:
            for metric, name in zip(built, logged):
                metric.name = name

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
        """One gradient step on one batch; returns the batch's loss and metrics as
        ``evaluate`` does (the loss alone when there is nothing else, as Keras), or a dict."""
        self._require_compiled("train_on_batch")
        x, y = _by_input(self, x), _targets_by_output(self, y)
        sample_weight = _targets_by_output(self, sample_weight, "sample_weight")
        data = ArrayDataAdapter(x, y, sample_weight, class_weight=class_weight)
        self._check_before_training(data)
        self._reset_metrics()
        xb, yb, sw = next(data.get_numpy_iterator())
        logs = self._train_step(xb, yb, sw, self.trainable_weights)
        return logs if return_dict else _as_list(self, logs)

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
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        return self._train_step(x, y, sample_weight, self.trainable_weights)

    def test_step(self, data) -> dict:
        """Loss and metrics of one batch; ``evaluate`` (and ``fit``'s validation) calls it
        for every batch. ``data`` and the returned logs are as in :meth:`train_step`."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        return self._test_step(x, y, sample_weight)

    def predict_step(self, data):
        """The model's outputs for one batch (``data`` is ``x`` or a tuple starting with
        ``x``); ``predict`` calls it for every batch and concatenates the results."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return _to_numpy(self._predict_run(x))

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
        if self._metric_ids or self._weighted_metric_ids:
            with no_grad():
                outputs = infer(self, x)
            outs, ys = _outputs_and_targets(outputs, y, self._loss_fns)
            self._metrics = self._build_metrics(ys, outs)
        else:
            self._metrics = []

    def _train_step(self, x, y, sample_weight, variables) -> dict:
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            return self._train_step_data_parallel(dist, x, y, sample_weight, variables)
        with threads.parallel_region():
            total, outs, ys = self._forward_loss(x, y, sample_weight, training=True)
            if not variables:  # a subclassed model creates its weights in its first call
                variables = self.trainable_weights
            if variables:
                self.optimizer.scale_loss(total).backward()  # a LossScaleOptimizer's scale
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
        with threads.parallel_region():
            if local:  # a short last batch may leave a process without rows
                total, outs, ys = self._forward_loss(x, y, sample_weight, training=True)
                total = total * (local / n)  # the slice's share of the batch's mean loss
                self.optimizer.scale_loss(total).backward()
                grads = [v.grad for v in variables]
                for v in variables:
                    v.grad = None
                loss, part = float(total.data), ([o.data for o in outs], ys, sample_weight)
            grads, loss = dist.reduce_gradients(grads, variables, loss)
            self.optimizer.apply(grads, variables)
        self._sum_output_losses(dist, n)
        outs, ys, sample_weight = dist.gather(part)
        return self._update_metrics(loss, [Tensor(o) for o in outs], ys, sample_weight, n)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, without updating weights (returned as by
        ``train_on_batch``)."""
        self._require_compiled("test_on_batch")
        x, y = _by_input(self, x), _targets_by_output(self, y)
        sample_weight = _targets_by_output(self, sample_weight, "sample_weight")
        self._reset_metrics()
        logs = self._test_step(x, y, sample_weight)
        return logs if return_dict else _as_list(self, logs)

    def _test_step(self, x, y, sample_weight) -> dict:
        """Loss and metrics of one batch (or of a joined run of batches)."""
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            x, y, sample_weight, n = dist.shard(x, y, sample_weight)
            loss, part = 0.0, None
            if _length(x):
                with no_grad(), threads.parallel_region():
                    total, outs, ys = self._forward_loss(x, y, sample_weight, training=False)
                loss = float(total.data) * _length(x) / n
                part = ([o.data for o in outs], ys, sample_weight)
            outs, ys, sample_weight = dist.gather(part)
            loss = dist.sum_scalar(loss)
            self._sum_output_losses(dist, n)
            return self._update_metrics(loss, [Tensor(o) for o in outs], ys, sample_weight, n)
        with no_grad(), threads.parallel_region():
            total, outs, ys = self._forward_loss(x, y, sample_weight, training=False)
        return self._update_metrics(float(total.data), outs, ys, sample_weight, _length(x))

    def predict_on_batch(self, x):
        """Model outputs for one batch, as NumPy arrays."""
        with no_grad(), threads.parallel_region():
            out = infer(self, _by_input(self, x))
        return _to_numpy(out)

    def _predict_run(self, xb):
        """The outputs of one batch (or of a joined run of batches), from ``infer``."""
        dist = distribution_lib.active_data_parallel()
        if dist is not None:  # each process predicts its rows; all gather them in order
            local = _take(xb, dist.local_rows(_length(xb)))
            with threads.parallel_region():
                out = _to_numpy(infer(self, local)) if _length(local) else None
            return _as_tensors(dist.gather(out))
        with threads.parallel_region():
            return infer(self, xb)

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
            x: input array (a list or dict of arrays for several inputs), or a source of
                ``x`` / ``(x, y)`` / ``(x, y, sample_weight)`` batches: a ``PyDataset``, a
                generator or iterable, a ``torch`` DataLoader, a ``tf.data.Dataset`` (see
                :mod:`cnnkit.trainers.data_adapters`).
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
            sample_weight: per-sample weights of the loss; with several outputs, one array
                for all, or one per output (a list, or a dict by output name).
            initial_epoch: epoch to start from (to resume; a
                :class:`~cnnkit.callbacks.BackupAndRestore` that restores a backup sets it,
                and the batch within that epoch, in ``on_train_begin``).
            steps_per_epoch: steps per epoch; the data's iterator then carries on into the
                next epoch, as in Keras (an infinite generator needs it).
            validation_steps: validation batches per evaluation, carried on likewise.
            validation_batch_size: samples per validation batch (default ``batch_size``).
            validation_freq: validate after every ``validation_freq``-th epoch.

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
        sample_weight = _targets_by_output(self, sample_weight, "sample_weight")
        if validation_split and validation_data is None:
            x, y, sample_weight, validation_data = train_validation_split(
                x, y, sample_weight, validation_split
            )
        data = get_data_adapter(
            x, y, sample_weight, batch_size or 32, steps_per_epoch, shuffle, class_weight
        )
        val = None
        if validation_data is not None:
            val = self._validation_adapter(validation_data, validation_batch_size or batch_size)
        self._check_before_training(data)
        if val is not None:
            self._check_before_training(val)
        dist = distribution_lib.active_data_parallel()
        if dist is not None:
            verbose, callbacks = _chief_view(verbose, callbacks)
            dist.synchronize_weights(self)  # every process starts from process 0's weights
            if isinstance(data, ArrayDataAdapter):  # process 0's sample order on every process
                data.permutation = dist.permutation
            dist.seed_other_processes()  # their dropout and augmentation differ from 0's
            distribution_lib.begin_collective_phase()  # from here, a failing process ends the job

        history = History()
        cbs = CallbackList(callbacks)
        if verbose:
            cbs.append(ProgbarLogger(verbose=verbose))
        cbs.append(history)
        cbs.set_model(self)
        epoch_iterator = EpochIterator(data, steps_per_epoch, self.steps_per_execution)
        cbs.set_params({"epochs": epochs, "steps": epoch_iterator.num_batches, "verbose": verbose})
        val_iterator = None
        if val is not None:  # kept across epochs: `validation_steps` carry on, as in Keras
            val_iterator = self._test_iterator(val, validation_steps, callbacks, "test")

        self.stop_training = False
        variables = self.trainable_weights
        self._initial_epoch, self._initial_step = None, 0  # BackupAndRestore sets them to resume
        cbs.on_train_begin()
        logs: dict = {}
        epoch_logs: dict = {}
        if self._initial_epoch is not None:
            initial_epoch = self._initial_epoch
        skip = self._initial_step  # batches of the first epoch done before an interruption
        if self._overrides("train_step"):

            def step(batch):
                self._prepare_custom_step(batch[0], batch[1])
                return _flat_logs(self.train_step(pack_x_y_sample_weight(*batch)))

        else:

            def step(batch):
                return self._train_step(*batch, variables)

        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            for begin, end, batches in epoch_iterator.enumerate_epoch(initial_step=skip):
                cbs.on_train_batch_begin(begin)
                logs = _run_steps(step, batches, begin, end, f"`fit` (epoch {epoch})")
                cbs.on_train_batch_end(end, logs)
                if self.stop_training:
                    break
            skip = 0
            epoch_logs = dict(logs)
            if val_iterator is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._run_evaluation(val_iterator, cbs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)  # the last epoch's, val_ metrics included (as Keras)
        if dist is not None:
            distribution_lib.end_collective_phase()
        return history

    def _validation_adapter(self, validation_data, batch_size):
        """The adapter of ``fit``'s ``validation_data``: ``(x_val, y_val[, sample_weight])``
        arrays, or a dataset or generator of batches."""
        if not isinstance(validation_data, (tuple, list)):
            return get_data_adapter(validation_data)
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "`validation_data` should be a tuple `(x_val, y_val)` or "
                f"`(x_val, y_val, val_sample_weights)`. Received a tuple of "
                f"{len(validation_data)} items."
            )
        vx, vy, vsw = unpack_x_y_sample_weight(validation_data)
        vx, vy = _by_input(self, vx), _targets_by_output(self, vy)
        vsw = _targets_by_output(self, vsw, "sample_weight")
        return get_data_adapter(vx, vy, vsw, batch_size or 32)

    def _check_before_training(self, data) -> None:
        """Shape, label and dtype checks on all in-memory data, before any weight changes."""
        if not isinstance(data, ArrayDataAdapter):
            return
        if not self.built and hasattr(self, "build") and not isinstance(data.x, dict):
            first = data.x[0] if isinstance(data.x, list) else data.x
            self._maybe_build((None, *first.shape[1:]))
        _check_labels(self, data.y)
        _check_first_layer_inputs(self, data.x)

    def _test_iterator(self, data, steps, callbacks, mode: str) -> EpochIterator:
        """The epoch iterator of ``evaluate``/``predict`` (``mode`` "test"/"predict").

        Runs of batches go through the model at once (``join``) when that changes no
        output (a sample-wise model, :func:`cnnkit.models.inference.batches_per_group`),
        the data is in memory, no step is overridden and none of the user's ``callbacks``
        watches each batch; else batches are grouped by ``steps_per_execution``.
        """
        join = 1
        if (
            isinstance(data, ArrayDataAdapter)
            and steps is None
            and not self._overrides(f"{mode}_step")
            and not _watches_batches(callbacks, mode)
        ):
            join = batches_per_group(self, data.batch_size)
        return EpochIterator(data, steps, self.steps_per_execution, join=join)

    def _run_evaluation(self, iterator: EpochIterator, cbs) -> dict:
        """Loss and metrics over one epoch of ``iterator``."""
        self._reset_metrics()
        cbs.on_test_begin()
        logs: dict = {}
        if self._overrides("test_step"):

            def step(batch):
                self._prepare_custom_step(batch[0], batch[1])
                with no_grad():
                    return _flat_logs(self.test_step(pack_x_y_sample_weight(*batch)))

        else:

            def step(batch):
                return self._test_step(*batch)

        for begin, end, batches in iterator.enumerate_epoch():
            cbs.on_test_batch_begin(begin)
            logs = _run_steps(step, batches, begin, end, "`evaluate`")
            cbs.on_test_batch_end(end, logs)
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
        x, y = _by_input(self, x), _targets_by_output(self, y)
        sample_weight = _targets_by_output(self, sample_weight, "sample_weight")
        data = get_data_adapter(x, y, sample_weight, batch_size or 32, steps)
        self._check_before_training(data)
        iterator = self._test_iterator(data, steps, callbacks, "test")
        cbs = CallbackList(callbacks)
        progbar = ProgbarLogger(verbose=verbose) if verbose else None
        if progbar is not None:
            cbs.append(progbar)
        cbs.set_model(self)
        cbs.set_params({"epochs": 1, "steps": iterator.num_batches, "verbose": verbose})
        if progbar is not None:
            progbar.start_mode("test", iterator.num_batches)
        logs = self._run_evaluation(iterator, cbs)
        return logs if return_dict else _as_list(self, logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample of ``x``, as NumPy arrays, computed in batches."""
        _tune_allocator_once()
        verbose = _resolve_verbose(verbose)
        if distribution_lib.active_data_parallel() is not None:
            verbose, callbacks = _chief_view(verbose, callbacks)
        data = get_data_adapter(_by_input(self, x), batch_size=batch_size or 32)
        iterator = self._test_iterator(data, steps, callbacks, "predict")
        cbs = CallbackList(callbacks)
        progbar = ProgbarLogger(verbose=verbose) if verbose else None
        if progbar is not None:
            cbs.append(progbar)
        cbs.set_model(self)
        cbs.set_params({"epochs": 1, "steps": iterator.num_batches, "verbose": verbose})
        if progbar is not None:
            progbar.start_mode("predict", iterator.num_batches)
        if self._overrides("predict_step"):

            def step(batch):
                return _outputs_as_numpy(self.predict_step(batch[0]))

        else:

            def step(batch):
                return _to_numpy(self._predict_run(batch[0]))

        cbs.on_predict_begin()
        chunks = []
        with no_grad():
            for begin, end, batches in iterator.enumerate_epoch():
                cbs.on_predict_batch_begin(begin)
                outputs = _run_steps(step, batches, begin, end, "`predict`", collect=True)
                chunks += outputs
                cbs.on_predict_batch_end(end, {"outputs": _concatenate(outputs)})
        cbs.on_predict_end()
        if not chunks:
            raise ValueError("Expected input data to `predict` to be non-empty.")
        return _concatenate(chunks)


def _run_steps(step, batches: list, begin: int, end: int, where: str, collect: bool = False):
    """``step(batch)`` on each batch of a group covering steps ``begin..end``.

    Returns the last step's result (the group's logs), or every result with ``collect``.
    An exception propagates as raised, with a note naming the step (or the steps of a
    joined run) it came from; nothing is run again.
    """
    results = []
    for k, batch in enumerate(batches):
        try:
            results.append(step(batch))
        except Exception as error:
            if len(batches) > 1:
                error.add_note(
                    f"Raised in {where} at step {begin + k}, of the steps {begin}-{end} run "
                    "as one group (`steps_per_execution`)."
                )
            elif end > begin:
                error.add_note(
                    f"Raised in {where} by the steps {begin}-{end}, whose "
                    f"{_length(batch[0])} samples ran through the model as one batch."
                )
            else:
                error.add_note(f"Raised in {where} at step {begin}.")
            raise
    return results if collect else results[-1]


def _concatenate(chunks: list):
    """Outputs of consecutive batches (arrays, or lists or dicts of arrays) joined."""
    if len(chunks) == 1:
        return chunks[0]
    if isinstance(chunks[0], dict):
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    if isinstance(chunks[0], list):
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
    return np.concatenate(chunks)


_ALLOCATOR = {"tuned": False}


def _tune_allocator_once() -> None:
    """``backend.tune_allocator()`` on the first ``fit``/``evaluate``/``predict`` of the
    process: training and inference are where keeping freed memory pays (a third of a VGG
    step went to page faults without it); importing cnnkit changes nothing."""
    if not _ALLOCATOR["tuned"]:
        _ALLOCATOR["tuned"] = True
        backend.tune_allocator()


def _outputs_as_numpy(outputs):
    """A custom ``predict_step``'s outputs (tensors, arrays, or lists/dicts of them)."""
    if isinstance(outputs, Mapping):
        return {k: _outputs_as_numpy(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [_outputs_as_numpy(v) for v in outputs]
    return np.asarray(outputs.data if isinstance(outputs, Tensor) else outputs)


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
    for layer, index in model._layers_fed_by_inputs():
        check = getattr(layer, "check_indices", None)
        if check is not None and index < len(arrays):
            check(arrays[index])


def _outputs_and_targets(outputs, y, loss_fns=()) -> tuple[list, list]:
    """The model's outputs and the targets as two lists of the same length, in output order
    (a dict of outputs in the model's order; ``y=None`` gives no target per output).

    As Keras, when compile's list of losses has ``None`` for some outputs, ``y`` may give
    targets for the other outputs only (their targets are then ``None``).
    """
    if isinstance(outputs, Mapping):
        outputs = list(outputs.values())
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    if y is None:
        return outs, [None] * len(outs)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    with_loss = [i for i, fn in enumerate(loss_fns or ()) if fn is not None]
    if len(ys) != len(outs) and len(loss_fns or ()) == len(outs) and len(ys) == len(with_loss):
        targets = [None] * len(outs)
        for index, target in zip(with_loss, ys):
            targets[index] = target
        return outs, targets
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


def _loss_tracker():
    """The ``Mean`` metric that averages the loss over an epoch (``logs["loss"]``)."""
    from cnnkit.metrics import Mean  # the metrics package is imported by the first model built

    return Mean(name="loss")


def _output_weights(sample_weight, index: int):
    """The sample weights of output ``index``: its own array when ``sample_weight`` has one
    per output (a list, as Keras takes them), else the one array every output shares."""
    if isinstance(sample_weight, (list, tuple)) and np.ndim(sample_weight[0]) >= 1:
        return sample_weight[index]
    return sample_weight


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


def _targets_by_output(model, y, what: str = "y"):
    """A dict of targets (or of sample weights) keyed by output name as a list in the
    model's output order."""
    if not isinstance(y, Mapping):
        return y
    values = _by_output(model, y, what)
    return values if len(values) > 1 else values[0]


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


def _as_list(model, logs: dict):
    """``logs`` as a list in Keras's order: the model's metrics in ``model.metrics``'s
    order, a compiled metric by the name it was given (with several outputs its log is
    ``<output>_<name>``, so it falls to the end), then every other log by name. A single
    value is returned alone, as Keras."""
    base = dict(
        zip(map(id, model._metrics or []), getattr(model, "_metric_base_names", None) or [])
    )
    order = [base.get(id(m), m.name) for m in model.metrics]
    values = [logs[name] for name in order if name in logs]
    values += [logs[k] for k in sorted(logs) if k not in order]
    return values[0] if len(values) == 1 else values


def _metrics_by_output(metrics, names: list, argument: str) -> list[list]:
    """``compile``'s ``metrics`` (or ``weighted_metrics``) as a list of identifiers for
    each output, as Keras reads them: every metric for a single output; with several, a
    list or tuple with one entry (a metric, a list of them, or ``None``) per output, or a
    dict by output name.

    Raises:
        ValueError: for any other structure, with Keras's message.
    """
    if not metrics:
        return [[] for _ in names]
    if len(names) == 1:
        return [list(tree.flatten(metrics))]
    if isinstance(metrics, (list, tuple)) and len(metrics) == len(names):
        entries = list(metrics)
    elif isinstance(metrics, Mapping) and set(metrics) <= set(names):
        entries = [metrics.get(name) for name in names]
    else:
        raise ValueError(
            f"The model has {len(names)} outputs, `{argument}` gives "
            f"{len(metrics)} entries.\nInvalid `{argument}`. `{argument}` should contain "
            "metrics objects and either be a dict or a list matching the output names of the "
            f"functional model {names} or match the output structure of the model: "
            f"{['X'] * len(names)}.\nReceived: {argument}={metrics}"
        )
    return [[] if e is None else list(e) if isinstance(e, (list, tuple)) else [e] for e in entries]


def _output_loss_trackers(model, values: list) -> list:
    """A ``Mean`` named ``<output>_loss`` for each output with a loss (``values[i]`` not
    ``None``), in output order."""
    from cnnkit.metrics import Mean

    names = _output_names(model)
    if len(names) != len(values):
        names = [f"output_{i}" for i in range(len(values))]
    return [Mean(name=f"{name}_loss") for name, v in zip(names, values) if v is not None]


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"Invalid value for argument `verbose`. Expected 'auto', 0, 1 or 2. "
            f"Received: verbose={verbose!r}"
        )
    return int(verbose)
