"""The callback protocol: ``Callback`` with Keras's hooks, ``CallbackList``, ``History``."""

from __future__ import annotations


class Callback:
    """Base class: override the hooks you need; ``fit`` sets ``self.model`` and ``self.params``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` kept by Keras for older code."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` kept by Keras for older code."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList(Callback):
    """Dispatches every hook to a list of callbacks, in order."""

    def __init__(self, callbacks=None, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "Every element of `callbacks` must be a Callback instance. "
                    f"Received: {cb!r} (of type {type(cb).__name__})"
                )
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __getattribute__(self, name):
        if name in _HOOKS:
            callbacks = object.__getattribute__(self, "callbacks")
            # As Keras's CallbackList: every hook receives a copy of the logs ({} when none
            # is given), shared by the callbacks in order (what one adds, such as
            # ReduceLROnPlateau's learning_rate, the next ones see, the caller's dict does
            # not); batch hooks get it as `logs=`.
            n_index = 1 if "epoch" in name or "batch" in name else 0  # the epoch/batch argument
            by_keyword = "batch" in name

            def dispatch(*args, logs=None):
                if len(args) > n_index:
                    args, logs = args[:n_index], args[n_index]
                logs = {} if logs is None else dict(logs)
                for cb in callbacks:
                    if by_keyword:
                        getattr(cb, name)(*args, logs=logs)
                    else:
                        getattr(cb, name)(*args, logs)

            return dispatch
        return object.__getattribute__(self, name)


class History(Callback):
    """Records the epoch-end logs: ``history.history["loss"]`` etc., and ``history.epoch``.

    ``fit`` adds one automatically and returns it.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
