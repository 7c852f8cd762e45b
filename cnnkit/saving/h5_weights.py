"""Weights in Keras 3's HDF5 layout: ``.weights.h5`` files and the ``model.weights.h5`` member.

Each object with state gets a group named by its place in the model, with its variables as
datasets ``vars/0``, ``vars/1``, ... (trainable variables first, each in creation order)::

    vars                                   the model's own variables (usually none)
    layers/conv2d/vars/0, vars/1           a Sequential or functional model's layers, named
    layers/dense/vars/0 ...                by class (``dense``, ``dense_1``, ...) in Keras's
    layers/lstm/cell/vars/0..2             order; recurrent weights live in their ``cell``
    layers/bidirectional/forward_layer/cell/vars/0
    layers/sequential/layers/dense/vars/0  a nested model
    optimizer/vars/0, 1, ...               iterations, learning rate, then the slots

These are the names Keras 3 gives (``keras.src.saving.saving_lib``), so files move between
Keras and cnnkit both ways.

Reading checks everything before changing anything: each dataset must be a plain
(hard-linked, numeric) dataset of the variable's shape. A mismatch is an error naming the
layer and both shapes, or, with ``skip_mismatch=True``, a warning and that layer is left as
it is. ``h5py`` is imported only when a file is read or written.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from cnnkit import backend
from cnnkit.argument_validation import snake_case
from cnnkit.autodiff import Tensor
from cnnkit.saving.builtin_names import is_builtin, is_layer, public_name

WEIGHTS_SUFFIX = ".weights.h5"


class Entry:
    """One group of the file: its path, the object owning it and that object's variables."""

    __slots__ = ("path", "owner", "variables")

    def __init__(self, path: str, owner, variables: list):
        self.path = path
        self.owner = owner
        self.variables = variables

    @property
    def is_optimizer(self) -> bool:
        from cnnkit.optimizers import Optimizer

        return isinstance(self.owner, Optimizer)


# -- the walk ------------------------------------------------------------------------------
def weight_entries(model, include_optimizer: bool = True) -> list[Entry]:
    """Every group of ``model``'s weights file, in Keras's walk order."""
    entries: list[Entry] = []
    _walk(model, "", set(), entries, include_optimizer, top=True)
    return entries


def own_variables(layer) -> list:
    """A layer's own variables as Keras orders them: trainable ones first, each in order."""
    weights = list(getattr(layer, "_weights", []))
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _walk(
    obj, path: str, visited: set, entries: list, include_optimizer: bool, top=False, parent=None
):
    from cnnkit.optimizers import Optimizer

    if id(obj) in visited:
        return
    visited.add(id(obj))
    if isinstance(obj, Optimizer):
        entries.append(Entry(path, obj, optimizer_variables_in_keras_order(obj, parent)))
        return
    group = getattr(obj, "_saved_variables_group", None)
    if group is not None:  # SimpleRNN, LSTM, GRU: Keras keeps their weights in `cell`
        entries.append(Entry(path, obj, []))
        entries.append(Entry(_join(path, group), obj, own_variables(obj)))
        return
    entries.append(Entry(path, obj, own_variables(obj)))
    if getattr(obj, "_is_graph_network", False):  # Functional, Sequential
        children = [("layers", obj._keras_layer_order())]
        optimizer = getattr(obj, "optimizer", None)
        if top and include_optimizer and optimizer is not None:
            children.append(("optimizer", optimizer))
    elif hasattr(obj, "_saved_sublayers"):  # built-in layers made of layers name them
        children = obj._saved_sublayers()
    elif is_builtin(type(obj)):
        children = []  # built-in layers without sublayers
    else:
        children = _attribute_children(obj, include_optimizer and top)
    for name, child in children:
        child_path = _join(path, name)
        if isinstance(child, (list, tuple)):
            used: dict[str, int] = {}
            for item in child:
                if not _is_saveable(item):
                    continue
                key = snake_case(public_name(type(item))[1])
                if key in used:
                    used[key] += 1
                    key = f"{key}_{used[key]}"
                else:
                    used[key] = 0
                _walk(item, _join(child_path, key), visited, entries, include_optimizer, parent=obj)
        elif _is_saveable(child):
            _walk(child, child_path, visited, entries, include_optimizer, parent=obj)


def optimizer_variables_in_keras_order(optimizer, model=None) -> list:
    """``optimizer.variables`` in the order Keras would have them for ``model``.

    An optimizer holds one slot per trainable variable, in the order it was built with:
    ``model.trainable_weights``. Keras orders a functional model's layers by depth
    (``model._keras_layer_order()``), which can differ from cnnkit's
    order; the slots are then permuted to the order Keras builds them in, matching each slot to
    its variable by name (``<layer>_<variable>_<slot>``, as both libraries name them). If the
    names do not give an unambiguous match, the optimizer's own order is kept.
    """
    variables = list(optimizer.variables)
    built_with = list(getattr(optimizer, "_trainable_variables", []))
    if model is None or not built_with:
        return variables
    keras_order = keras_trainable_variables(model)
    if [id(v) for v in keras_order] == [id(v) for v in built_with]:
        return variables
    keras_index = {id(v): k for k, v in enumerate(keras_order)}
    if sorted(keras_index) != sorted(id(v) for v in built_with):
        return variables
    prefixes = [_mangle(getattr(v, "path", None) or v.name) + "_" for v in built_with]
    position: dict[tuple[int, str], int] = {}
    unnamed: list[int] = []
    for j, variable in enumerate(variables):
        name = str(variable.name)
        matches = [i for i, p in enumerate(prefixes) if name.startswith(p)]
        if not matches:
            unnamed.append(j)
            continue
        best = max(matches, key=lambda i: len(prefixes[i]))
        key = (best, name[len(prefixes[best]) :])
        if key in position:
            return variables
        position[key] = j
    # Slots not named after their variable: a run of one slot per variable, in build order.
    n = len(built_with)
    shapes = [tuple(v.shape) for v in built_with]
    run = start = 0
    while n and start + n <= len(unnamed):
        block = unnamed[start : start + n]
        if (
            block == list(range(block[0], block[0] + n))
            and [tuple(variables[j].shape) for j in block] == shapes
        ):
            for i, j in enumerate(block):
                position[(i, f"#{run}")] = j
            run += 1
            start += n
        else:
            start += 1
    order = list(range(len(variables)))
    for (index, slot), j in position.items():
        target = position.get((keras_index[id(built_with[index])], slot))
        if target is None:
            return variables
        order[target] = j
    if sorted(order) != list(range(len(variables))):
        return variables
    return [variables[j] for j in order]


def keras_trainable_variables(layer) -> list:
    """``layer.trainable_variables`` in Keras's order (functional models: Keras's layer order)."""
    if not getattr(layer, "_is_graph_network", False):
        return list(layer.trainable_weights)
    if not layer.trainable:
        return []
    out = [w for w in layer._weights if w.trainable]
    for sub in layer._keras_layer_order():
        out += keras_trainable_variables(sub)
    return out


def _mangle(path: str) -> str:
    return str(path).replace("/", "_").replace(":", "_")


def _is_saveable(obj) -> bool:
    from cnnkit.optimizers import Optimizer

    return is_layer(obj) or isinstance(obj, Optimizer)


def _attribute_children(obj, include_optimizer: bool) -> list:
    """A custom layer's or model's layer attributes, as Keras walks them (public first)."""
    from cnnkit.optimizers import Optimizer

    children = []
    for name in sorted(vars(obj), key=lambda n: ("~" + n) if n.startswith("_") else n):
        if name in ("_inbound_nodes", "_tracked_layers", "_weights"):
            continue
        value = vars(obj)[name]
        if isinstance(value, Optimizer) and not include_optimizer:
            continue
        if isinstance(value, dict):
            value = list(value.values())
        if _is_saveable(value) or (
            isinstance(value, (list, tuple)) and any(_is_saveable(v) for v in value)
        ):
            children.append((name, value))
    tracked = [layer for layer in getattr(obj, "_tracked_layers", []) if _is_saveable(layer)]
    if tracked:
        children.append(("_tracked_layers", tracked))
    return children


# -- writing -------------------------------------------------------------------------------
def write_weights(h5file, entries: list[Entry]) -> None:
    """Write each entry's variables as ``<path>/vars/<i>`` datasets."""
    for entry in entries:
        group = h5file.require_group(entry.path) if entry.path else h5file
        variables = group.create_group("vars")
        if _overrides(entry.owner, "save_own_variables"):
            store: dict = {}
            entry.owner.save_own_variables(store)
            for key, value in store.items():
                data = value.data if isinstance(value, Tensor) else value
                variables.create_dataset(str(key), data=np.asarray(backend.to_numpy(data)))
            continue
        for i, variable in enumerate(entry.variables):
            variables.create_dataset(str(i), data=np.asarray(backend.to_numpy(variable.data)))


def _overrides(owner, method: str) -> bool:
    """Whether a layer's class replaces Layer's ``save_own_variables``/``load_own_variables``.

    Layer's own is that of the class declaring ``_saveable_kind = "layer"`` in its body.
    """
    if not is_layer(owner):
        return False
    base = next(c for c in type(owner).__mro__ if vars(c).get("_saveable_kind") == "layer")
    return getattr(type(owner), method) is not getattr(base, method)


def weights_to_bytes(model, include_optimizer: bool = True) -> bytes:
    """The model's weights as the bytes of an HDF5 file (in memory)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        write_weights(h5file, weight_entries(model, include_optimizer))
    return buffer.getvalue()


def check_weights_filepath(filepath) -> str:
    path = os.fspath(filepath)
    if not str(path).endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    return path


# -- reading -------------------------------------------------------------------------------
class _Failure:
    def __init__(self, entry: Entry, message: str):
        self.entry = entry
        self.message = message

    @property
    def label(self) -> str:
        owner = self.entry.owner
        return f"<{type(owner).__name__} name={getattr(owner, 'name', '?')}>"


def load_weights_from_h5(
    h5file, model, skip_mismatch: bool = False, load_optimizer: bool = True
) -> None:
    """Assign every variable of ``model`` (and its optimizer) from an open HDF5 file.

    Raises:
        ValueError: when a layer's variables are missing or mis-shaped in the file (all
            layers are checked first; nothing is assigned then), unless ``skip_mismatch``.
    """
    optimizer = getattr(model, "optimizer", None) if load_optimizer else None
    entries = weight_entries(model, include_optimizer=False)
    plans, failures = [], []
    for entry in entries:
        if _overrides(entry.owner, "load_own_variables"):
            store, message = _read_store(h5file, entry)
            if message is None:
                plans.append((entry, store))
            else:
                failures.append(_Failure(entry, message))
            continue
        arrays, message = _read_entry(h5file, entry)
        if message is None:
            plans.append((entry, arrays))
        else:
            failures.append(_Failure(entry, message))
    if failures:
        first = failures[0]
        text = (
            f"A total of {len(failures)} objects could not be loaded. Example error message "
            f"for object {first.label}:\n\n{first.message}\n\nList of objects that could not "
            f"be loaded:\n{[f.label for f in failures]}"
        )
        if not skip_mismatch:
            raise ValueError(text)
        warnings.warn(text, stacklevel=3)
    for entry, arrays in plans:
        if isinstance(arrays, dict):  # the layer's own load_own_variables reads its store
            entry.owner.load_own_variables(arrays)
            continue
        for variable, array in zip(entry.variables, arrays):
            variable.assign(array)
    if optimizer is not None and getattr(model, "compiled", False):
        _load_optimizer(h5file, model, optimizer)


def _load_optimizer(h5file, model, optimizer) -> None:
    group = _vars_group(h5file, "optimizer")
    if group is None:
        return
    count = len(group)
    if count != len(optimizer.variables) and not optimizer.built:
        optimizer.build(model.trainable_weights)
    entry = Entry("optimizer", optimizer, optimizer_variables_in_keras_order(optimizer, model))
    if count != len(entry.variables):
        warnings.warn(
            f"Skipping variable loading for optimizer '{optimizer.name}', because it has "
            f"{len(entry.variables)} variables whereas the saved optimizer has {count} "
            "variables.",
            stacklevel=4,
        )
        return
    arrays, message = _read_entry(h5file, entry, optimizer=True)
    if message is not None:
        warnings.warn(
            f"Skipping variable loading for optimizer '{optimizer.name}': {message}",
            stacklevel=4,
        )
        return
    for variable, array in zip(entry.variables, arrays):
        variable.assign(array)


def _vars_group(h5file, path: str):
    """``<path>/vars`` if it is a plain group of the file, else None (links are not followed)."""
    import h5py

    node = h5file
    for part in [p for p in path.split("/") if p] + ["vars"]:
        link = node.get(part, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(
                f"Refusing to read weights file entry {path!r}: it is a {type(link).__name__}, "
                "not a plain group (links are never followed)."
            )
        node = node[part]
        if not isinstance(node, h5py.Group):
            return None
    return node


def _read_entry(h5file, entry: Entry, optimizer: bool = False):
    """The arrays for ``entry`` (validated), or ``(None, error message)``."""
    import h5py

    group = _vars_group(h5file, entry.path)
    keys = [] if group is None else list(group.keys())
    name = getattr(entry.owner, "name", "?")
    expected = entry.variables
    if len(keys) != len(expected):
        if not expected and not getattr(entry.owner, "built", True):
            return None, (
                f"Layer '{name}' was never built and thus it doesn't have any variables. "
                f"However the weights file lists {len(keys)} variables for this layer."
            )
        return None, (
            f"Layer '{name}' expected {len(expected)} variables, but received {len(keys)} "
            f"variables during loading. Expected: {[v.name for v in expected]}"
        )
    arrays = []
    for i, variable in enumerate(expected):
        key = str(i)
        link = group.get(key, getlink=True)
        if link is None:
            return None, f"Layer '{name}': the weights file has no entry {entry.path}/vars/{key}."
        if not isinstance(link, h5py.HardLink):
            raise ValueError(
                f"Refusing to read {entry.path}/vars/{key}: it is a {type(link).__name__} "
                "(links are never followed)."
            )
        dataset = group[key]
        if not isinstance(dataset, h5py.Dataset):
            return None, f"Layer '{name}': {entry.path}/vars/{key} is not a dataset."
        if dataset.external or dataset.is_virtual:
            raise ValueError(
                f"Refusing to read {entry.path}/vars/{key}: its data lives in other files "
                "(external or virtual dataset)."
            )
        if dataset.attrs.get("dtype") == "bfloat16" or dataset.dtype.kind not in "biuf":
            return None, (
                f"Layer '{name}': variable {variable.name!r} is stored with dtype "
                f"{dataset.attrs.get('dtype', dataset.dtype)}, which cnnkit cannot read."
            )
        if tuple(dataset.shape) != tuple(variable.shape):
            return None, (
                f"Layer '{name}' weight {i} ({variable.name!r}) has shape "
                f"{tuple(variable.shape)}, but the weights file has shape "
                f"{tuple(dataset.shape)} for it."
            )
        arrays.append(np.asarray(dataset[()]))
    return arrays, None


def _read_store(h5file, entry: Entry):
    """Every dataset of ``<path>/vars`` as ``{key: array}`` (for a custom
    ``load_own_variables``), or ``(None, error message)``."""
    import h5py

    group = _vars_group(h5file, entry.path)
    name = getattr(entry.owner, "name", "?")
    if group is None:
        return None, f"Layer '{name}': the weights file has no entry {entry.path}/vars."
    store = {}
    for key in group.keys():
        link = group.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(
                f"Refusing to read {entry.path}/vars/{key}: it is a {type(link).__name__} "
                "(links are never followed)."
            )
        dataset = group[key]
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf":
            return None, f"Layer '{name}': {entry.path}/vars/{key} is not a numeric dataset."
        if dataset.external or dataset.is_virtual:
            raise ValueError(
                f"Refusing to read {entry.path}/vars/{key}: its data lives in other files "
                "(external or virtual dataset)."
            )
        store[key] = np.asarray(dataset[()])
    return store, None
