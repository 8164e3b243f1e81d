"""torchvision state_dicts -> keras_archs models, any family; torchvision's ImageNet files.

A family that can hold torchvision's weights (same layers, same order of operations)
names, for each torchvision module that holds parameters, the keras_archs leaf layer
that takes them: `{"layer1.0.conv1": "conv2_block1_1_conv", "fc": "predictions", ...}`
(a "/"-joined path for layers nested in composite layers, None for a module this model
does not have, such as the classifier without the top). This module copies the arrays
along that map, converting PyTorch's layouts to Keras':

- `Conv2D`: kernel (out, in, kh, kw) -> (kh, kw, in, out); bias as is.
- `DepthwiseConv2D` (torch `groups == in_channels`): (channels * m, 1, kh, kw) ->
  (kh, kw, channels, m).
- `Dense` (torch `Linear`): (out, in) -> (in, out). A Dense layer fed by a `Flatten` of a
  (height, width, channels) map (VGG's and AlexNet's classifiers, GoogLeNet's auxiliary
  heads) gets its rows reordered: torch flattens NCHW maps channel-major, Keras NHWC maps
  channel-minor.
- `BatchNormalization`: weight -> gamma, bias -> beta, running_mean / running_var ->
  moving_mean / moving_variance. torch's epsilon is not in a state_dict; the family's
  torchvision layout sets torchvision's value, and `keras_archs.convert.from_torchvision`
  passes each module's epsilon here to be checked.

Every torchvision array must find its layer and every weight-holding layer of the model
its arrays, with the same shapes; otherwise a ValueError names the first mismatch and
nothing is assigned.

`fetch_torchvision_weights` finds torchvision's ImageNet files where torchvision keeps
them (`torch.hub.get_dir()/checkpoints/<file name of the URL>`), downloading them there
once when a network is reachable. Families list their files as data
(`TORCHVISION_WEIGHTS = {key: torchvision_file("resnet50-11ad3fa6.pth")}`): the file names
of torchvision's default `Weights` enum members (`torchvision.models.get_model_weights`).
Only `torch` is needed to read them; this module imports neither torch nor torchvision
before a torchvision file is actually read.
"""

from __future__ import annotations

import os
import re
import urllib.parse

import numpy as np

# One check of the network for both kinds of ImageNet files.
from keras_archs.weights.imagenet import _reachable

# Where torchvision's ImageNet files are published.
TORCHVISION_URL = "https://download.pytorch.org/models/"
# torch's own check of downloaded files: the file name ends in the SHA-256 prefix.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")
# torchvision's DenseNet files predate its module names ("denselayer1.norm.1.weight"
# for "denselayer1.norm1.weight"); torchvision renames the keys on loading, as here.
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)
_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")


def torchvision_file(fname):
    """A `TORCHVISION_WEIGHTS` entry: one of torchvision's ImageNet files."""
    return {"origin": "torchvision", "url": f"{TORCHVISION_URL}{fname}"}


def torchvision_weights_info(entry):
    """(file name, URL) of a `TORCHVISION_WEIGHTS` entry."""
    if not isinstance(entry, dict) or entry.get("origin") != "torchvision":
        raise ValueError(f"No torchvision weights are known for this model; got entry={entry!r}.")
    url = entry["url"]
    return os.path.basename(urllib.parse.urlparse(url).path), url


def _torch(purpose):
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            f"{purpose} needs PyTorch (`pip install torch`, or the `keras-archs[torch]` "
            "extra); torchvision itself is not needed."
        ) from e
    return torch


def torchvision_cache_path(fname):
    """Where torchvision keeps file `fname`: `torch.hub.get_dir()/checkpoints/fname`
    (`$TORCH_HOME/hub/checkpoints`, by default `~/.cache/torch/hub/checkpoints`)."""
    torch = _torch("weights='torchvision'")
    return os.path.join(torch.hub.get_dir(), "checkpoints", fname)


def fetch_torchvision_weights(entry):
    """The local path of torchvision's file for `entry`, downloaded into torch's hub cache
    once.

    Raises:
        ConnectionError: the file is not cached and cannot be downloaded; the message names
            the file, where to place a copy, and `keras_archs.convert.from_torchvision`.
    """
    fname, url = torchvision_weights_info(entry)
    path = torchvision_cache_path(fname)
    if os.path.isfile(path):
        return path
    offline_help = (
        f"weights='torchvision' needs torchvision's ImageNet file {fname}, which is not in "
        f"torch's hub cache ({path}) and could not be downloaded from {url} (no network?). "
        f"Place a copy of that file at {path} (torch.hub.get_dir() is $TORCH_HOME/hub; "
        "torchvision itself caches its downloads there), or convert a torchvision model "
        "you already hold with keras_archs.convert.from_torchvision(module); "
        "weights=None gives random initialisation."
    )
    # Fail in seconds, not after the download's retries, when the host cannot be reached.
    if not _reachable(url):
        raise ConnectionError(offline_help)
    torch = _torch("weights='torchvision'")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    match = _HASH_IN_NAME.search(fname)
    try:
        torch.hub.download_url_to_file(url, path, hash_prefix=match.group(1) if match else None)
    except Exception as e:
        raise ConnectionError(f"{offline_help} Cause: {e}") from e
    return path


def read_torchvision_file(path):
    """{key: numpy array} of a torchvision `.pth` state_dict (legacy DenseNet keys renamed)."""
    torch = _torch("Reading a torchvision weights file")
    state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(
            f"{os.fspath(path)!r} holds a {type(state).__name__}, not a state_dict (a "
            "dict from parameter names to tensors, as torchvision's ImageNet files)."
        )
    return state


def _numpy(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _renamed(key):
    match = _OLD_DENSENET_KEY.match(key)
    return match.group(1) + match.group(2) if match else key


def _leaves(layer, prefix=""):
    """{path: leaf layer} of the weight-holding leaf layers inside `layer`."""
    path = f"{prefix}{layer.name}"
    children = list(layer._flatten_layers(include_self=False, recursive=False))
    if not children:
        return {path: layer} if layer.weights else {}
    found = {}
    for child in children:
        found.update(_leaves(child, prefix=f"{path}/"))
    return found


def _model_leaves(model):
    found = {}
    for layer in model.layers:
        found.update(_leaves(layer))
    return found


def _producer(tensor):
    return tensor._keras_history.operation


def _flattened_map_shape(layer):
    """(height, width, channels) of the map a `Flatten` turns into this Dense layer's input
    (Dropout in between), or None when the input is not a flattened map."""
    import keras

    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes or not nodes[0].input_tensors:
        return None
    op = _producer(nodes[0].input_tensors[0])
    while isinstance(op, keras.layers.Dropout):
        op = _producer(op._inbound_nodes[0].input_tensors[0])
    if not isinstance(op, keras.layers.Flatten):
        return None
    shape = tuple(op._inbound_nodes[0].input_tensors[0].shape[1:])
    if len(shape) != 3 or None in shape or shape[0] * shape[1] == 1:
        return None  # a (1, 1, C) map flattens alike in both layouts
    return shape


def _dense_kernel(weight, hwc=None, block=32):
    """torch's Linear weight (out, in) as a Keras Dense kernel (in, out); with `hwc`, the
    rows of a flattened (height, width, channels) map reordered from torch's (c, h, w)
    order to Keras' (h, w, c). Copied in blocks of output units, which keeps the
    transposition in the CPU caches (VGG's first classifier layer holds 103M weights)."""
    out, n = weight.shape
    kernel = np.empty((n, out), dtype=weight.dtype)
    if hwc is None:
        source, target, axes = weight, kernel, (1, 0)
    else:
        h, w, c = hwc
        source, target, axes = (
            weight.reshape(out, c, h, w),
            kernel.reshape(h, w, c, out),
            (2, 3, 1, 0),
        )
    for i in range(0, out, block):
        target[..., i : i + block] = source[i : i + block].transpose(axes)
    return kernel


class _MismatchError(ValueError):
    pass


def _check(arrays, variables, prefix, path):
    got = [tuple(a.shape) for a in arrays]
    want = [tuple(v.shape) for v in variables]
    if got != want:
        raise _MismatchError(
            f"torchvision module {prefix!r} (arrays of shapes {got}, in Keras' layout) does "
            f"not fit layer {path!r} (shapes {want})"
        )
    return list(zip(variables, arrays))


def _expect(params, expected, prefix, path):
    if set(params) != set(expected):
        raise _MismatchError(
            f"torchvision module {prefix!r} holds {sorted(params)}, layer {path!r} takes "
            f"{sorted(expected)}"
        )


def _pairs(layer, params, prefix, path):
    """[(variable, array)] for one torchvision module's `params` into Keras `layer`."""
    import keras

    if isinstance(layer, keras.layers.DepthwiseConv2D):
        _expect(params, ["weight"] + (["bias"] if layer.use_bias else []), prefix, path)
        w = params["weight"]
        *_, channels, multiplier = tuple(layer.kernel.shape)
        if w.ndim != 4 or w.shape[1] != 1 or w.shape[0] != channels * multiplier:
            raise _MismatchError(
                f"torchvision module {prefix!r} (weight {tuple(w.shape)}) is not a depthwise "
                f"convolution of {channels} channels like layer {path!r}"
            )
        kernel = w.reshape(channels, multiplier, *w.shape[2:]).transpose(2, 3, 0, 1)
        arrays = [kernel] + ([params["bias"]] if layer.use_bias else [])
        variables = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
        return _check(arrays, variables, prefix, path)
    if isinstance(layer, keras.layers.Conv2D):
        _expect(params, ["weight"] + (["bias"] if layer.use_bias else []), prefix, path)
        if params["weight"].ndim != 4:
            raise _MismatchError(
                f"torchvision module {prefix!r} is not a 2D convolution ({path!r})"
            )
        arrays = [params["weight"].transpose(2, 3, 1, 0)]
        arrays += [params["bias"]] if layer.use_bias else []
        variables = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
        return _check(arrays, variables, prefix, path)
    if isinstance(layer, keras.layers.Dense):
        _expect(params, ["weight"] + (["bias"] if layer.use_bias else []), prefix, path)
        w = params["weight"]
        if w.ndim != 2:
            raise _MismatchError(f"torchvision module {prefix!r} is not a Linear layer ({path!r})")
        hwc = _flattened_map_shape(layer)
        if hwc is not None and w.shape[1] != hwc[0] * hwc[1] * hwc[2]:
            hwc = None  # a mismatch, reported by the shape check below
        arrays = [_dense_kernel(w, hwc)] + ([params["bias"]] if layer.use_bias else [])
        variables = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
        return _check(arrays, variables, prefix, path)
    if isinstance(layer, keras.layers.BatchNormalization):
        if set(params) - set(_BN_PARAMS) or not {"running_mean", "running_var"} <= set(params):
            raise _MismatchError(
                f"torchvision module {prefix!r} holds {sorted(params)}, not the arrays of a "
                f"BatchNorm2d that tracks running statistics (layer {path!r})"
            )
        pairs = []
        for param, keep, variable in (
            ("weight", layer.scale, "gamma"),
            ("bias", layer.center, "beta"),
        ):
            if keep and param not in params:
                raise _MismatchError(f"torchvision module {prefix!r} has no {param} for {path!r}")
            if not keep and param in params:
                identity = 1.0 if param == "weight" else 0.0
                if not np.allclose(params[param], identity):
                    raise _MismatchError(
                        f"torchvision module {prefix!r} has a BatchNorm {param}, but layer "
                        f"{path!r} has no {variable} (scale={layer.scale}, center="
                        f"{layer.center}): build the model in its torchvision layout"
                    )
            if keep:
                pairs.append((getattr(layer, variable), params[param]))
        pairs.append((layer.moving_mean, params["running_mean"]))
        pairs.append((layer.moving_variance, params["running_var"]))
        return _check([a for _, a in pairs], [v for v, _ in pairs], prefix, path)
    raise _MismatchError(
        f"layer {path!r} is a {type(layer).__name__}, which takes no torchvision weights "
        f"(mapped from {prefix!r})"
    )


def load_torchvision_state_dict(model, state_dict, names, epsilons=None, source="state_dict"):
    """Copies a torchvision `state_dict` into `model` along `names`.

    Args:
        model: a functional keras_archs model in the torchvision layout of its family.
        state_dict: {key: tensor or array}, as `module.state_dict()` or a `.pth` file.
        names: {torchvision module name: leaf path of `model`, or None for a module
            this model leaves out (the classifier without the top)}.
        epsilons: optional {torchvision module name: BatchNorm epsilon}, checked against
            the Keras layers' (a state_dict does not record them).
        source: how error messages name `state_dict`.

    Raises:
        ValueError: naming the first module or layer without counterpart, or whose arrays
            differ in shape; nothing is assigned then.
    """
    grouped = {}
    for key, value in state_dict.items():
        key = _renamed(key)
        prefix, _, param = key.rpartition(".")
        if param == "num_batches_tracked":
            continue
        grouped.setdefault(prefix, {})[param] = _numpy(value)
    leaves = _model_leaves(model)
    where = f"model {model.name!r}"
    unknown = [p for p in grouped if p not in names]
    if unknown:
        raise ValueError(
            f"torchvision module {unknown[0]!r} of {source} has no counterpart in {where} "
            f"({len(unknown)} modules unmatched): the weights are of another architecture "
            "or size."
        )
    missing = [p for p, path in names.items() if path is not None and p not in grouped]
    if missing:
        raise ValueError(
            f"{source} has no arrays for torchvision module {missing[0]!r} (layer "
            f"{names[missing[0]]!r} of {where}; {len(missing)} modules missing): the weights "
            "are of another architecture or size."
        )
    assignments = []
    try:
        for prefix, path in names.items():
            if path is None:
                continue
            if path not in leaves:
                raise _MismatchError(
                    f"{where} has no layer {path!r} for torchvision module {prefix!r}"
                )
            assignments += _pairs(leaves[path], grouped[prefix], prefix, path)
    except _MismatchError as e:
        raise ValueError(f"Cannot load {source} into {where}: {e}.") from None
    unmatched = sorted(set(leaves) - {p for p in names.values() if p is not None})
    if unmatched:
        raise ValueError(
            f"Layer {unmatched[0]!r} of {where} has no torchvision counterpart in {source} "
            f"({len(unmatched)} layers unmatched): the model is not in its family's "
            "torchvision layout."
        )
    for prefix, eps in (epsilons or {}).items():
        path = names.get(prefix)
        layer = leaves.get(path) if path else None
        if layer is not None and not np.isclose(layer.epsilon, eps, rtol=1e-6, atol=0):
            raise ValueError(
                f"torchvision module {prefix!r} normalizes with eps={eps}, layer {path!r} of "
                f"{where} with epsilon={layer.epsilon}: the outputs would differ."
            )
    for variable, array in assignments:
        variable.assign(np.ascontiguousarray(array, dtype=variable.dtype))
    return model


def load_torchvision_file(model, path, names):
    """Loads torchvision's `.pth` file `path` into `model` (see `load_torchvision_state_dict`)."""
    state = read_torchvision_file(path)
    return load_torchvision_state_dict(model, state, names, source=repr(os.fspath(path)))
