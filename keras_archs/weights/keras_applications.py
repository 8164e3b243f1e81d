"""keras.applications weight files (legacy HDF5 layout) -> keras_archs models, any family.

keras.applications' ImageNet downloads (and `save_weights_to_hdf5_group`) store one
group per layer, listed in the top-level attribute `layer_names`; each group lists its
arrays in `weight_names`, in `trainable_weights + non_trainable_weights` order. Keras'
own loader pairs the file's layers with the model's by index, which only works when
the model is built layer for layer like keras.applications. keras_archs models may hold
several of those layers inside one composite layer (`FactorizedConv2D` holds two Conv2D
and two BatchNormalization layers), so this module matches layers instead:

1. A file layer with an explicit name ("block1_conv1", "conv2_block1_1_conv",
   "predictions") goes to the model's leaf layer of that name (or of
   `name_map[file_name]`, a "/"-joined path such as "mixed4_branch7x7/conv_a", for
   families that nest those layers).
2. File layers with Keras' automatic names ("conv2d_17", "batch_normalization_17":
   keras.applications' InceptionV3 names none of its convolutions) are matched per
   layer class in creation order, which the numeric suffix records, to the model's
   still unmatched leaf layers of that class in graph order: a depth-first walk from
   the outputs that takes each layer's inputs in order, i.e. the order the builder
   wrote the branches in.

Every pair must agree in the number and shapes of its arrays, and nothing may be
left over on either side; otherwise a ValueError names the first mismatching layer.
Nothing is assigned unless the whole file matches.
"""

from __future__ import annotations

import os
import re

import numpy as np

__all__ = ["is_legacy_h5", "load_keras_applications_weights", "read_legacy_h5"]


def _attr_list(group, name):
    # Long attribute lists are split into name0, name1, ... (HDF5 header size limit).
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks, i = [], 0
        while f"{name}{i}" in group.attrs:
            chunks.append(group.attrs[f"{name}{i}"])
            i += 1
    return [n.decode("utf8") if hasattr(n, "decode") else str(n) for c in chunks for n in c]


def _weights_group(f):
    return f.get("model_weights", f)


def is_legacy_h5(path):
    """Whether `path` is an HDF5 file in the legacy (keras.applications) weights layout."""
    import h5py

    try:
        with h5py.File(os.fspath(path), "r") as f:
            group = _weights_group(f)
            return "layer_names" in group.attrs or "layer_names0" in group.attrs
    except OSError:
        return False


def read_legacy_h5(path):
    """[(layer name, [arrays])] for the layers of a legacy HDF5 file that hold weights,
    in file order."""
    import h5py

    with h5py.File(os.fspath(path), "r") as f:
        group = _weights_group(f)
        names = _attr_list(group, "layer_names")
        if not names:
            raise ValueError(
                f"weights={os.fspath(path)!r} is not a legacy HDF5 weights file "
                "(no 'layer_names' attribute)."
            )
        layers = []
        for name in names:
            weight_names = _attr_list(group[name], "weight_names")
            if weight_names:
                layers.append((name, [np.asarray(group[name][w]) for w in weight_names]))
    return layers


def _snake(class_name):
    # Keras' automatic layer names: Conv2D -> conv2d, BatchNormalization -> batch_normalization.
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _graph_order(model):
    """The model's layers, depth-first from the outputs, each layer's inputs in order."""
    import keras

    done, order = set(), []
    stack = [(t, False) for t in reversed(keras.tree.flatten(model.outputs))]
    while stack:  # iterative: ResNet152 is deeper than Python's recursion limit
        tensor, expanded = stack.pop()
        op, node_index, _ = tensor._keras_history
        if id(op) in done:
            continue
        if expanded:
            done.add(id(op))
            order.append(op)
            continue
        stack.append((tensor, True))
        inputs = op._inbound_nodes[node_index].input_tensors
        stack.extend((t, False) for t in reversed(inputs))
    return order


def _leaves(layer, prefix=""):
    """[(path, leaf layer)] of the weight-holding leaf layers inside `layer`."""
    path = f"{prefix}{layer.name}"
    children = list(layer._flatten_layers(include_self=False, recursive=False))
    if not children:
        return [(path, layer)] if layer.weights else []
    result = []
    for child in children:
        result.extend(_leaves(child, prefix=f"{path}/"))
    return result


def _legacy_weights(layer):
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _shapes(arrays):
    return [tuple(a.shape) for a in arrays]


def _pair(file_name, arrays, path, layer, model_name):
    variables = _legacy_weights(layer)
    if _shapes(arrays) != _shapes(variables):
        raise ValueError(
            f"Weights file layer {file_name!r} (arrays of shapes {_shapes(arrays)}) does not "
            f"fit layer {path!r} of model {model_name!r} (shapes {_shapes(variables)}): the "
            "file is for a different architecture or configuration (include_top, classes, "
            "input channels)."
        )
    return list(zip(variables, arrays))


def load_keras_applications_weights(model, path, name_map=None):
    """Loads a keras.applications-layout (legacy HDF5) weights file into `model`.

    Args:
        model: a functional keras_archs model.
        path: the `.h5` file.
        name_map: optional dict from file layer names to leaf paths of `model`
            ("block/sublayer"), for families whose builders nest keras.applications'
            named layers inside composite layers.

    Raises:
        ValueError: naming the first file or model layer that has no counterpart, or
            whose array shapes differ.
    """
    path = os.fspath(path)
    name_map = dict(name_map or {})
    file_layers = read_legacy_h5(path)
    ours = []  # (path, leaf) in graph order
    for layer in _graph_order(model):
        ours.extend(_leaves(layer))
    by_path = {p: leaf for p, leaf in ours}
    auto_bases = {_snake(type(leaf).__name__) for _, leaf in ours}
    auto_pattern = re.compile(r"(?P<base>[a-z0-9_]+?)(?:_(?P<n>\d+))?")

    claimed, assignments, auto_file = set(), [], {}
    for file_name, arrays in file_layers:
        target = name_map.get(file_name, file_name)
        match = auto_pattern.fullmatch(file_name)
        if target in by_path and target not in claimed:
            claimed.add(target)
            assignments += _pair(file_name, arrays, target, by_path[target], model.name)
        elif match and match["base"] in auto_bases and file_name not in name_map:
            auto_file.setdefault(match["base"], []).append(
                (int(match["n"] or 0), file_name, arrays)
            )
        else:
            raise ValueError(
                f"Weights file layer {file_name!r} of {path!r} has no counterpart in model "
                f"{model.name!r}: the file is for a different architecture (or was saved "
                "with include_top=True while the model has no top)."
            )
    for base, entries in auto_file.items():
        candidates = [
            (p, leaf)
            for p, leaf in ours
            if p not in claimed and _snake(type(leaf).__name__) == base
        ]
        for (_, file_name, arrays), (leaf_path, leaf) in zip(sorted(entries), candidates):
            claimed.add(leaf_path)
            assignments += _pair(file_name, arrays, leaf_path, leaf, model.name)
        if len(entries) > len(candidates):
            extra = sorted(entries)[len(candidates)][1]
            raise ValueError(
                f"Weights file layer {extra!r} of {path!r} has no counterpart in model "
                f"{model.name!r} (the file has {len(entries)} {base} layers, the model "
                f"{len(candidates)}): the file is for a different architecture."
            )
    missing = [p for p, _ in ours if p not in claimed]
    if missing:
        raise ValueError(
            f"Layer {missing[0]!r} of model {model.name!r} has no weights in {path!r} "
            f"({len(missing)} model layers unmatched): the file is for a different "
            "architecture (or was saved without the top while the model has include_top=True)."
        )
    for variable, array in assignments:
        variable.assign(array.astype(variable.dtype))
    return model
