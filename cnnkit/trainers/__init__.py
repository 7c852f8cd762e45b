"""The data side of training, split as Keras splits it (``keras/src/trainers/``).

Data flows one way::

    x, y, sample_weight ──► data_adapters.get_data_adapter(...)   one adapter per input kind
                        ──► EpochIterator                         (begin_step, end_step, batches)
                        ──► cnnkit.models.training.Trainer        fit / evaluate / predict

- :mod:`cnnkit.trainers.data_adapters` turns what ``fit``/``evaluate``/``predict`` receive
  (arrays, lists and dicts of arrays, a ``PyDataset``, a generator or iterable, a
  ``torch.utils.data.DataLoader``, a ``tf.data.Dataset``) into batches of NumPy arrays,
  ``(x, y, sample_weight)``, epoch after epoch.
- :class:`cnnkit.trainers.epoch_iterator.EpochIterator` counts the steps of an epoch and is
  the only place that groups batches (``steps_per_execution``, and the runs of batches that
  ``predict``/``evaluate`` pass through a sample-wise model at once).
- The trainer (:mod:`cnnkit.models.training`, the ``Model`` mixin) runs the steps and calls
  the callbacks. It imports this package; nothing here imports a model.
"""
