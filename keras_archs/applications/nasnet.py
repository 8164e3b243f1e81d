"""NASNet-A (Zoph, Vasudevan, Shlens & Le, 2018): NASNetMobile, NASNetLarge and `NASNet(...)`.

Reference:
- [Learning Transferable Architectures for Scalable Image Recognition](
    https://arxiv.org/abs/1707.07012) (CVPR 2018)

A strided 3x3 stem, two stem Reduction cells, then three stacks of `num_blocks`
Normal cells separated by Reduction cells (filters multiplied by `filter_multiplier`
at each), as keras.applications builds them. Each cell combines five pairs of
operations (separable convolutions, average/max pooling, identity) applied to the
two previous cells' outputs; every "ReLU -> SeparableConv2D -> BatchNormalization"
is one `DepthwiseSeparableConv2D(order="xception")`. keras.applications' ImageNet
files load into it (5,326,716 / 88,949,818 parameters).

Unlike keras.applications, whether a cell's previous-previous input must be reduced
is decided from the cell structure (it comes from before a Reduction cell), not by
comparing spatial sizes, so the model also builds and runs for `(None, None, C)`
inputs (keras.applications' does not). Only ImageNet weights need a fixed input size:
the padding before strided operations depends on whether each size is odd (see `_pad`).

The cells are data: a Normal and a Reduction cell of blocks, each block two hidden-state
inputs, two operations of the search space (`OPERATIONS`) and a combination
(`check_cell_spec` states the format). `NASNET_A` holds the published cells; any other
specification (one `keras_archs.nas` found, say) builds the same way, and
`NASNetCustom` puts it in the paper's CIFAR-10 network.
"""

import functools

import keras
from keras.applications import imagenet_utils

from keras_archs.applications import _image
from keras_archs.layers import DepthwiseSeparableConv2D
from keras_archs.registry import register_model
from keras_archs.validation import check_bool, check_choice, check_int
from keras_archs.weights.imagenet import KERAS_APPLICATIONS_URL


def _ka_file(stem, md5, md5_notop):
    url = f"{KERAS_APPLICATIONS_URL}nasnet/NASNet-{stem}"
    return {
        "origin": "keras.applications",
        "url": f"{url}.h5",
        "md5": md5,
        "url_notop": f"{url}-no-top.h5",
        "md5_notop": md5_notop,
        # keras.applications caches these files under names that differ from the URLs'.
        "file": f"nasnet_{stem}.h5",
        "file_notop": f"nasnet_{stem}_no_top.h5",
    }


WEIGHTS = {
    "nasnet_mobile": _ka_file(
        "mobile", "020fb642bf7360b370c678b08e0adf61", "1ed92395b5b598bdda52abe5c0dbfd63"
    ),
    "nasnet_large": _ka_file(
        "large", "11577c9a518f0070763c2b964a382f17", "d81d89dc07e6e56530c4e77faddd61b5"
    ),
}

# The two configurations with published weights, and their ImageNet input sizes.
_CONFIGS = {
    "nasnet_mobile": dict(
        penultimate_filters=1056,
        num_blocks=4,
        stem_block_filters=32,
        skip_reduction=False,
        filter_multiplier=2,
    ),
    "nasnet_large": dict(
        penultimate_filters=4032,
        num_blocks=6,
        stem_block_filters=96,
        skip_reduction=True,
        filter_multiplier=2,
    ),
}
_SIZES = {"nasnet_mobile": 224, "nasnet_large": 331}
# BatchNormalization as in keras.applications (ImageNet); the reference CIFAR-10 setup
# decays the statistics faster (0.9), which short training runs need too.
_BN = dict(momentum=0.9997, epsilon=1e-3)
_BN_CIFAR = dict(momentum=0.9, epsilon=1e-5)

# The operations a block may apply to a hidden state (Zoph et al. 2018, section 3).
OPERATIONS = (
    "identity",
    "conv_1x3_3x1",
    "conv_1x7_7x1",
    "dil_conv_3x3",
    "avg_pool_3x3",
    "avg_pool_5x5",
    "avg_pool_7x7",
    "max_pool_3x3",
    "max_pool_5x5",
    "max_pool_7x7",
    "conv_1x1",
    "conv_3x3",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
)
COMBINATIONS = ("add", "concat")
CELL_KINDS = ("normal", "reduction")


def _block(inputs, ops):
    return {"inputs": list(inputs), "ops": list(ops), "combine": "add"}


# The published cells (figure 4, and the reference code's hidden-state indices): state 0
# is the previous cell's output, 1 the one before it, 2 + b block b's output. The
# output concatenates `concat`, which in the published cells is not simply the unused
# states (the Normal cell also concatenates state 1).
NASNET_A = {
    "normal": {
        "blocks": [
            _block([0, 1], ["sep_conv_5x5", "sep_conv_3x3"]),
            _block([1, 1], ["sep_conv_5x5", "sep_conv_3x3"]),
            _block([0, 1], ["avg_pool_3x3", "identity"]),
            _block([1, 1], ["avg_pool_3x3", "avg_pool_3x3"]),
            _block([0, 0], ["sep_conv_3x3", "identity"]),
        ],
        "concat": [1, 2, 3, 4, 5, 6],
    },
    "reduction": {
        "blocks": [
            _block([0, 1], ["sep_conv_5x5", "sep_conv_7x7"]),
            _block([0, 1], ["max_pool_3x3", "sep_conv_7x7"]),
            _block([0, 1], ["avg_pool_3x3", "sep_conv_5x5"]),
            _block([3, 2], ["identity", "avg_pool_3x3"]),
            _block([2, 0], ["sep_conv_3x3", "max_pool_3x3"]),
        ],
        "concat": [3, 4, 5, 6],
    },
}
# (block, side or "add") -> the name keras.applications gives it in NASNet-A's Reduction
# cell, where it departs from "left{b + 1}", "right{b + 1}", "add_{b + 1}".
_KA_REDUCTION_NAMES = {(2, "add"): "add3", (3, 1): "left4", (4, 0): "left4", (4, "add"): "add4"}


def _cell_error(kind, b, field, message):
    where = f"cell_spec[{kind!r}]" + ("" if b is None else f" block {b}")
    return ValueError(f"{where}: {field} {message}")


def _check_cell(kind, cell):
    blocks = cell.get("blocks") if isinstance(cell, dict) else cell
    if not isinstance(blocks, (list, tuple)) or not blocks:
        raise _cell_error(
            kind, None, "blocks", f"must be a non-empty list of blocks; got {blocks!r}."
        )
    checked = []
    for b, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise _cell_error(
                kind, b, "block", f"must be a dict with inputs, ops, combine; got {block!r}."
            )
        unknown = sorted(set(block) - {"inputs", "ops", "combine"})
        if unknown:
            raise _cell_error(
                kind, b, "fields", f"{unknown} are unknown; a block has inputs, ops and combine."
            )
        inputs, ops = block.get("inputs"), block.get("ops")
        combine = block.get("combine", "add")
        for field, value in (("inputs", inputs), ("ops", ops)):
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                raise _cell_error(kind, b, field, f"must be a list of two; got {value!r}.")
        for side, i in enumerate(inputs):
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < b + 2:
                raise _cell_error(
                    kind, b, f"inputs[{side}]={i!r}",
                    f"does not exist yet: block {b} takes hidden states 0 to {b + 1} (0 the "
                    "previous cell's output, 1 the one before it, 2 + k block k's output).",
                )  # fmt: skip
        for side, op in enumerate(ops):
            if op not in OPERATIONS:
                raise _cell_error(
                    kind,
                    b,
                    f"ops[{side}]={op!r}",
                    f"is not an operation; known: {', '.join(OPERATIONS)}.",
                )
        if combine not in COMBINATIONS:
            raise _cell_error(kind, b, f"combine={combine!r}", "is not one of 'add', 'concat'.")
        checked.append({"inputs": list(inputs), "ops": list(ops), "combine": combine})
    states = len(checked) + 2
    concat = cell.get("concat") if isinstance(cell, dict) else None
    if concat is None:
        # The paper's rule: the blocks' outputs that no block takes are concatenated.
        used = {i for block in checked for i in block["inputs"]}
        concat = [i for i in range(2, states) if i not in used]
    if (
        not isinstance(concat, (list, tuple))
        or not concat
        or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < states for i in concat)
    ):
        raise _cell_error(
            kind, None, f"concat={concat!r}", f"must list hidden states from 0 to {states - 1}."
        )
    return {"blocks": checked, "concat": list(concat)}


def check_cell_spec(cell_spec):
    """`cell_spec` checked and completed: a dict, or the path of a JSON file, with a
    "normal" and a "reduction" cell; each cell a list of blocks, or a dict of "blocks"
    and "concat" (the hidden states concatenated into its output; default: the blocks'
    outputs no block takes). A block is `{"inputs": [i, j], "ops": [op_i, op_j],
    "combine": "add" | "concat"}`. None means NASNet-A. Raises ValueError naming the cell,
    the block and the field of a bad specification."""
    if cell_spec is None:
        return NASNET_A
    if isinstance(cell_spec, str):
        import json

        try:
            with open(cell_spec) as f:
                cell_spec = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"cell_spec={cell_spec!r} is not a readable JSON file: {e}") from None
    if not isinstance(cell_spec, dict) or set(cell_spec) != set(CELL_KINDS):
        raise ValueError(
            'cell_spec must be a dict (or JSON file) with exactly the cells "normal" and '
            f'"reduction"; got {cell_spec!r:.200}.'
        )
    return {kind: _check_cell(kind, cell_spec[kind]) for kind in CELL_KINDS}


def feature_layers(num_blocks):
    """Stride 2**i: stem, first stem Reduction cell, the last Normal cell of each stack."""
    return {
        "P1": "stem_bn1",
        "P2": "reduction_concat_stem_1",
        "P3": f"normal_concat_{num_blocks - 1}",
        "P4": f"normal_concat_{2 * num_blocks}",
        "P5": "final_relu",
    }


def preprocess_input(x, data_format=None):
    """keras.applications' NASNet preprocessing ("tf": scaled to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """(class id, name, score) of the `top` ImageNet classes of each row of `preds`."""
    return imagenet_utils.decode_predictions(preds, top=top)


def _pad(x, kernel_size):
    """The padding before a stride-2 "valid" operation.

    Fixed sizes: keras.applications' `correct_pad` (TF "same" alignment, which depends on
    whether the size is odd). Unknown sizes: symmetric, `kernel_size // 2` per side, so
    every branch of a cell halves to ceil(size / 2) whatever the size (keras.applications
    pads as for even sizes there, and its NASNet then fails on odd ones); this equals
    `correct_pad` for odd sizes and is shifted by one pixel for even ones.
    """
    if x.shape[1] is None or x.shape[2] is None:
        return ((kernel_size // 2,) * 2,) * 2
    return _image.correct_pad(x, kernel_size)


class _Builder:
    """Builds the cells and records the file-name -> leaf-path map of the separable blocks."""

    def __init__(self, bn):
        self.bn = bn  # BatchNormalization's momentum and epsilon
        self.name_map = {}

    def sep_block(self, x, filters, kernel_size, strides, block_id):
        """keras.applications' `_separable_conv_block`: two ReLU-SepConv-BN, the first strided."""
        if strides == 2:
            # Padding before the ReLU equals padding after it: ReLU(0) = 0.
            pad = _pad(x, kernel_size)
            x = keras.layers.ZeroPadding2D(pad, name=f"separable_conv_1_pad_{block_id}")(x)
        for i in (1, 2):
            name = f"separable_conv_{i}_{block_id}"
            x = DepthwiseSeparableConv2D(
                filters,
                kernel_size,
                strides=strides if i == 1 else 1,
                padding="valid" if (i == 1 and strides == 2) else "same",
                order="xception",
                bn_momentum=self.bn["momentum"],
                bn_epsilon=self.bn["epsilon"],
                name=name,
            )(x)
            self.name_map[name] = f"{name}/separable"
            self.name_map[f"separable_conv_{i}_bn_{block_id}"] = f"{name}/bn"
        return x

    def _conv_bn(self, x, filters, conv_name, bn_name):
        x = keras.layers.Conv2D(
            filters, 1, padding="same", use_bias=False, kernel_initializer="he_normal",
            name=conv_name,
        )(x)  # fmt: skip
        return keras.layers.BatchNormalization(name=bn_name, **self.bn)(x)

    def adjust(self, p, p_stride, ip, ip_stride, filters, block_id):
        """Brings the previous-previous cell's output `p` to `ip`'s size and `filters`."""
        if p is None:
            return ip
        if p_stride != ip_stride:  # factorized reduction: two offset 1x1/2 paths
            p = keras.layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
            p1 = keras.layers.AveragePooling2D(1, 2, name=f"adjust_avg_pool_1_{block_id}")(p)
            p1 = keras.layers.Conv2D(
                filters // 2, 1, padding="same", use_bias=False,
                kernel_initializer="he_normal", name=f"adjust_conv_1_{block_id}",
            )(p1)  # fmt: skip
            p2 = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"adjust_pad_{block_id}")(p)
            p2 = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"adjust_crop_{block_id}")(p2)
            p2 = keras.layers.AveragePooling2D(1, 2, name=f"adjust_avg_pool_2_{block_id}")(p2)
            p2 = keras.layers.Conv2D(
                filters // 2, 1, padding="same", use_bias=False,
                kernel_initializer="he_normal", name=f"adjust_conv_2_{block_id}",
            )(p2)  # fmt: skip
            p = keras.layers.Concatenate(name=f"adjust_concat_{block_id}")([p1, p2])
            return keras.layers.BatchNormalization(name=f"adjust_bn_{block_id}", **self.bn)(p)
        if p.shape[-1] != filters:
            p = keras.layers.Activation("relu", name=f"adjust_relu_{block_id}")(p)
            return self._conv_bn(
                p, filters, f"adjust_conv_projection_{block_id}", f"adjust_bn_{block_id}"
            )
        return p

    def _relu_conv_bn(self, x, filters, kernels, strides, name, dilation=1):
        """ReLU, the convolutions `kernels` (the last one strided), BatchNormalization."""
        x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
        for i, kernel in enumerate(kernels):
            last = i == len(kernels) - 1
            x = keras.layers.Conv2D(
                filters, kernel, strides=strides if last else 1, padding="same",
                dilation_rate=dilation, use_bias=False, kernel_initializer="he_normal",
                name=f"{name}_conv" if len(kernels) == 1 else f"{name}_conv_{i + 1}",
            )(x)  # fmt: skip
        return keras.layers.BatchNormalization(name=f"{name}_bn", **self.bn)(x)

    def operation(self, op, x, filters, strides, name):
        """One operation of the search space on hidden state `x`, giving `filters` channels."""
        k = int(op[-1]) if op[-1].isdigit() else 1  # "..._5x5": 5
        if op.startswith("sep_conv"):
            return self.sep_block(x, filters, k, strides, name)
        if op in ("conv_1x1", "conv_3x3"):
            return self._relu_conv_bn(x, filters, [k], strides, name)
        if op.startswith("conv_1x"):  # 1xk then kx1 (k = 3 or 7)
            k = int(op[len("conv_1x")])
            return self._relu_conv_bn(x, filters, [(1, k), (k, 1)], strides, name)
        if op == "dil_conv_3x3":
            # A strided convolution cannot also be dilated: subsample after it instead.
            x = self._relu_conv_bn(x, filters, [3], 1, name, dilation=2)
            return x if strides == 1 else keras.layers.AveragePooling2D(1, 2, name=f"{name}_sub")(x)
        if op.startswith(("avg_pool", "max_pool")):
            cls = (
                keras.layers.MaxPooling2D if op.startswith("max") else keras.layers.AveragePooling2D
            )
            if strides == 2:  # NASNet-A's padding before its strided pools
                # Padded once per input and size, as keras.applications does: its
                # Reduction cell's three strided pools read one padded copy of `h`.
                key = (id(x), k)
                if key not in self.pads:
                    self.pads[key] = keras.layers.ZeroPadding2D(_pad(x, k), name=f"{name}_pad")(x)
                x = cls(k, strides=2, padding="valid", name=name)(self.pads[key])
            else:
                x = cls(k, strides=1, padding="same", name=name)(x)
            strides = 1
        # Identity, or a pool: a 1x1 convolution only where the size or width must change.
        if strides == 2 or x.shape[-1] != filters:
            return self._relu_conv_bn(x, filters, [1], strides, f"{name}_proj")
        return x

    def cell(self, kind, spec, ip, p, filters, block_id):
        """One cell of `spec` (`check_cell_spec`'s form): "normal" keeps the size,
        "reduction" halves it. Returns the (output, stride) pairs (output, ip)."""
        (ip, ip_stride), (p, p_stride) = ip, (p if p is not None else (None, None))
        self.pads = {}  # (id of a state, pool size) -> its padded copy, within this cell
        p = self.adjust(p, p_stride, ip, ip_stride, filters, block_id)
        h = keras.layers.Activation("relu", name=f"{kind}_relu_1_{block_id}")(ip)
        h = self._conv_bn(h, filters, f"{kind}_conv_1_{block_id}", f"{kind}_bn_1_{block_id}")
        strides = 2 if kind == "reduction" else 1
        # keras.applications' names for the published Reduction cell, kept so that its
        # ImageNet files load; any other cell is named by block and side.
        names = _KA_REDUCTION_NAMES if spec == NASNET_A["reduction"] else {}
        states = [h, p]
        for b, block in enumerate(spec["blocks"]):
            branches = []
            for side, (i, op) in enumerate(zip(block["inputs"], block["ops"])):
                label = names.get((b, side), f"{('left', 'right')[side]}{b + 1}")
                # Only the cell's inputs are at the incoming size; blocks are already reduced.
                branches.append(
                    self.operation(op, states[i], filters, strides if i < 2 else 1,
                                   f"{kind}_{label}_{block_id}")
                )  # fmt: skip
            if block["combine"] == "add":
                label = names.get((b, "add"), f"add_{b + 1}")
                x = keras.layers.Add(name=f"{kind}_{label}_{block_id}")(branches)
            else:
                x = keras.layers.Concatenate(name=f"{kind}_combine_{b + 1}_{block_id}")(branches)
            states.append(x)
        x = keras.layers.Concatenate(name=f"{kind}_concat_{block_id}")(
            [states[i] for i in spec["concat"]]
        )
        out_stride = ip_stride * strides
        return (x, out_stride), (ip, ip_stride)


def _imagenet_entry(key, input_shape):
    """The `WEIGHTS` entry of `key` for the checked input shape (channels_last)."""
    if None in input_shape[:2]:
        raise ValueError(
            "With weights='imagenet' NASNet needs a fixed input size (its strided "
            "operations' padding depends on it); got an input of size "
            f"{input_shape[0]}x{input_shape[1]}. Pass a fixed input_shape, or weights=None."
        )
    return WEIGHTS[key]


def _nasnet(
    *,
    penultimate_filters,
    num_blocks,
    stem_block_filters,
    skip_reduction,
    filter_multiplier,
    weights,
    name,
    cell_spec=None,
    stem="imagenet",
    default_size=None,
    sized_without_top=False,
    **args,
):
    """The one builder: stem, two stem Reduction cells, three stacks of Normal cells with
    Reduction cells between them; `_image` makes the input and finishes the model.

    `sized_without_top`: without `input_shape` and `input_tensor`, the input is
    `default_size` square also without the top (keras.applications' NASNetMobile).
    """
    num_blocks = check_int("num_blocks", num_blocks, minimum=1)
    stem_block_filters = check_int("stem_block_filters", stem_block_filters, minimum=1)
    filter_multiplier = check_int("filter_multiplier", filter_multiplier, minimum=1)
    penultimate_filters = check_int("penultimate_filters", penultimate_filters, minimum=1)
    check_bool("skip_reduction", skip_reduction)
    stem = check_choice("stem", stem, ("imagenet", "cifar"))
    cell_spec = check_cell_spec(cell_spec)
    # The ImageNet stem's cells use the filters divided by filter_multiplier**2.
    divisor = 24 * filter_multiplier**2 if stem == "imagenet" else 24
    if penultimate_filters % divisor:
        raise ValueError(
            f"penultimate_filters must be a multiple of {divisor} with stem={stem!r} (the "
            "last cells concatenate 6 branches of penultimate_filters // 24 filters, and the "
            "ImageNet stem's cells use that divided by filter_multiplier**2); got "
            f"penultimate_filters={penultimate_filters}."
        )
    config = dict(
        penultimate_filters=penultimate_filters,
        num_blocks=num_blocks,
        stem_block_filters=stem_block_filters,
        skip_reduction=skip_reduction,
        filter_multiplier=filter_multiplier,
    )
    published = cell_spec == NASNET_A and stem == "imagenet"
    key = next((k for k, c in _CONFIGS.items() if c == config and published), None)
    if weights == "imagenet" and key is None and not published:
        raise ValueError(
            "weights='imagenet' exists only for the published NASNet-A cells (cell_spec=None) "
            f"with the ImageNet stem (stem='imagenet'); got stem={stem!r} and a cell_spec of "
            "their own. Use weights=None."
        )
    if weights == "imagenet" and key is None:
        raise ValueError(
            "weights='imagenet' exists only for the NASNetMobile (penultimate_filters=1056, "
            "num_blocks=4, stem_block_filters=32, skip_reduction=False) and NASNetLarge "
            "(4032, 6, 96, True) configurations, filter_multiplier=2; got "
            f"penultimate_filters={penultimate_filters}, num_blocks={num_blocks}, "
            f"stem_block_filters={stem_block_filters}, skip_reduction={skip_reduction}, "
            f"filter_multiplier={filter_multiplier}. Use weights=None."
        )
    if default_size is None:
        default_size = _SIZES.get(key, 331)
    default_size = check_int("default_size", default_size, minimum=32)
    # keras.applications' default input is default_size square with the top (and for
    # NASNetMobile without it); a given (None, None, C) shape is accepted also with the
    # top, since the cells need no fixed size and global pooling ends the network.
    unsized = args["input_shape"] is None and args["input_tensor"] is None
    with_top = args["include_top"] is True and args["features_only"] is False
    with _image.prepare(
        **args,
        weights=weights,
        name=name,
        default_size=default_size,
        # The CIFAR stem divides the size by 4 only (two Reduction cells).
        min_size=32 if stem == "imagenet" else 8,
        imagenet=None if key is None else (lambda input_shape: _imagenet_entry(key, input_shape)),
        require_fixed_shape=unsized and (with_top or sized_without_top),
    ) as build:
        imagenet_stem = stem == "imagenet"
        b = _Builder(_BN if imagenet_stem else _BN_CIFAR)
        filters = penultimate_filters // 24
        x = keras.layers.Conv2D(
            stem_block_filters, 3, strides=2 if imagenet_stem else 1,
            padding="valid" if imagenet_stem else "same", use_bias=False,
            kernel_initializer="he_normal", name="stem_conv1",
        )(build.x)  # fmt: skip
        x = keras.layers.BatchNormalization(name="stem_bn1", **b.bn)(x)
        normal = functools.partial(b.cell, "normal", cell_spec["normal"])
        reduction = functools.partial(b.cell, "reduction", cell_spec["reduction"])
        # Cells pass (tensor, stride) pairs so that `adjust` knows when to reduce.
        x, p = (x, 2 if imagenet_stem else 1), None
        if imagenet_stem:
            x, p = reduction(x, p, filters // filter_multiplier**2, "stem_1")
            x, p = reduction(x, p, filters // filter_multiplier, "stem_2")
        for stack in range(3):
            if stack:
                width = filters * filter_multiplier**stack
                x, p0 = reduction(x, p, width, f"reduce_{stack * num_blocks}")
                p = p if skip_reduction else p0
            for i in range(num_blocks):
                block_id = f"{i}" if stack == 0 else f"{stack * num_blocks + i + 1}"
                x, p = normal(x, p, filters * filter_multiplier**stack, block_id)
        x = keras.layers.Activation("relu", name="final_relu")(x[0])
        return build.finish(
            x,
            top=_image.average_top(pool_name="global_average_pooling2d"),
            feature_layers=feature_layers(num_blocks) if imagenet_stem else None,
            name_map=b.name_map,
        )


def NASNet(
    input_shape=None,
    penultimate_filters=4032,
    num_blocks=6,
    stem_block_filters=96,
    skip_reduction=True,
    filter_multiplier=2,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    default_size=None,
    classifier_activation="softmax",
    name="NASNet",
    features_only=False,
    data_format=None,
    cell_spec=None,
    stem="imagenet",
):
    """NASNet-A: a Normal and a Reduction cell found by reinforcement-learned search, stacked.

    Zoph et al. (2018): the cells were searched on CIFAR-10 and transfer to ImageNet
    by stacking more of them with more filters; keras.applications' `NASNet` builder.

    Args:
        input_shape: `(height, width, channels)` (channels first under "channels_first"),
            at least 32x32; fixed with ImageNet weights. Default `default_size` square
            with 3 channels with the top (or ImageNet weights), any size without it.
        penultimate_filters: filters of the last cells' concatenation; a multiple of
            `24 * filter_multiplier**2`.
        num_blocks: Normal cells in each of the three stacks (N in the paper).
        stem_block_filters: filters of the stem convolution.
        skip_reduction: whether a cell after a Reduction cell takes, as its second input,
            the output of the cell before that Reduction cell (NASNetLarge) instead of
            the Reduction cell's input.
        filter_multiplier: filter growth at each Reduction cell.
        include_top, weights, input_tensor, pooling, classes, classifier_activation:
            as in keras.applications (see `keras_archs.applications.VGG16`). ImageNet
            weights exist for the NASNetMobile and NASNetLarge configurations only.
        default_size: default input size, at least 32 (331, or 224 for NASNetMobile's
            configuration).
        name: model name.
        features_only: return the dict {"P1".."P5"} of feature maps at strides 2..32.
        data_format: "channels_last" or "channels_first"; default
            `keras.config.image_data_format()`.
        cell_spec: the Normal and Reduction cells, as plain data (a dict or the path
            of a JSON file; see `check_cell_spec`); None: the published NASNet-A cells,
            which `NASNET_A` holds in that form.
        stem: "imagenet" (a strided 3x3 convolution and two Reduction cells, stride 8
            before the first Normal cell) or "cifar" (the paper's CIFAR-10 network: a
            3x3 convolution, then the Normal cells at full size; `features_only` is not
            available).

    Returns:
        A `keras.Model`.
    """
    return _nasnet(**locals())


_COMMON = dict(
    family="nasnet",
    paper="Zoph, Vasudevan, Shlens & Le, Learning Transferable Architectures for Scalable "
    "Image Recognition, CVPR",
    year=2018,
    min_input_size=32,
    task="image_classification",
    preprocessing="tf",
)


@register_model(
    "nasnet_mobile",
    default_input_shape=(224, 224, 3),
    reference_params=5_326_716,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=feature_layers(4),
    weights=WEIGHTS["nasnet_mobile"],
    **_COMMON,
)
def NASNetMobile(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_mobile",
    features_only=False,
    data_format=None,
):
    """NASNetMobile: searched Normal and Reduction cells, stacked 4 per stage, for mobile budgets.

    Zoph et al. (2018), NASNet-A (4 @ 1056): `NASNet(penultimate_filters=1056,
    num_blocks=4, stem_block_filters=32, skip_reduction=False)`, ImageNet size 224. As in
    keras.applications the input defaults to 224x224 also without the top. Other
    arguments as `NASNet`.
    """
    return _nasnet(
        **_CONFIGS["nasnet_mobile"], default_size=224, sized_without_top=True, **locals()
    )


@register_model(
    "nasnet_large",
    default_input_shape=(331, 331, 3),
    reference_params=88_949_818,
    test_kwargs={"input_shape": (32, 32, 3), "classes": 10},
    feature_layers=feature_layers(6),
    weights=WEIGHTS["nasnet_large"],
    **_COMMON,
)
def NASNetLarge(
    input_shape=None,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nasnet_large",
    features_only=False,
    data_format=None,
):
    """NASNetLarge: searched Normal and Reduction cells, stacked 6 per stage at 4032 filters.

    Zoph et al. (2018), NASNet-A (6 @ 4032): `NASNet(penultimate_filters=4032,
    num_blocks=6, stem_block_filters=96, skip_reduction=True)`, ImageNet size 331.
    Other arguments as `NASNet`.
    """
    return _nasnet(**_CONFIGS["nasnet_large"], default_size=331, **locals())


@register_model(
    "nasnet_custom",
    default_input_shape=(32, 32, 3),
    reference_params=3_384_682,
    test_kwargs={"input_shape": (16, 16, 3), "num_blocks": 1, "penultimate_filters": 96},
    year=2018,
    family="nasnet",
    paper=_COMMON["paper"],
    min_input_size=8,
    task="image_classification",
    preprocessing="tf",
    # Offline: digits at 16x16 with a small network (2 @ 192) and Adam, as the search
    # trains its children.
    train_defaults={
        "data": "digits",
        "input_shape": (16, 16, 1),
        "epochs": 5,
        "optimizer": "adam",
        "learning_rate": 3e-3,
        "nesterov": False,
        "weight_decay": 0.0,
        "augment": "none",
        "model_kwargs": {"num_blocks": 2, "penultimate_filters": 192, "stem_block_filters": 24},
    },
)
def NASNetCustom(
    cell_spec=None,
    input_shape=None,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="nasnet_custom",
    num_blocks=6,
    penultimate_filters=768,
    stem_block_filters=96,
    skip_reduction=False,
    filter_multiplier=2,
    data_format=None,
):
    """NASNet with cells of one's own: the paper's CIFAR-10 network around any cell pair.

    Zoph et al. (2018), NASNet-A (6 @ 768) on CIFAR-10: a 3x3 stem convolution, then three
    stacks of `num_blocks` Normal cells with a Reduction cell between them, 32x32 inputs,
    10 classes. `cell_spec` (a dict or JSON file, such as the `best.json` of
    `keras-archs search`) gives the cells; None gives NASNet-A's. Other arguments as
    `NASNet`.
    """
    args = {k: v for k, v in locals().items() if k not in ("cell_spec", "num_blocks")}
    return NASNet(cell_spec=cell_spec, num_blocks=num_blocks, stem="cifar", default_size=32, **args)
