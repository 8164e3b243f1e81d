"""Temporal Convolutional Network (Bai, Kolter & Koltun, 2018).

Reference:
- [An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
  Modeling](https://arxiv.org/abs/1803.01271) (2018)

A stack of residual `TemporalBlock`s of dilated causal convolutions whose dilations
grow 1, 2, 4, ...: the receptive field grows exponentially with depth, and no output
sees a later input. Hyper-parameter names follow keras-tcn (philipperemy/keras-tcn)
so its users can move over: `nb_filters`, `kernel_size`, `nb_stacks`, `dilations`,
`padding`, `use_skip_connections`, `dropout_rate`, `return_sequences`, `activation`,
`kernel_initializer`, `use_batch_norm`, `use_layer_norm`, `use_weight_norm`. Unlike
keras-tcn, this one is made of keras + keras.ops only, so it runs on the TensorFlow,
JAX and PyTorch backends, and it is a `keras.Model` builder (keras-tcn's `TCN` is a
layer): pass `input_shape`, and `classes` or `output_dim` for a head.
"""

from __future__ import annotations

import keras

from keras_archs.layers import TemporalBlock
from keras_archs.registry import register_model
from keras_archs.validation import (
    check_choice,
    check_int,
    check_int_sequence,
    check_positive_int,
    check_positive_int_or_none,
    is_int,
)

_DEFAULT_DILATIONS = (1, 2, 4, 8, 16, 32)
_NORMALIZATIONS = ("batch_norm", "layer_norm", "weight_norm")


def receptive_field(kernel_size, nb_stacks, dilations):
    """keras-tcn's receptive field: 1 + 2 (kernel_size - 1) nb_stacks sum(dilations)."""
    return 1 + 2 * (kernel_size - 1) * nb_stacks * sum(dilations)


def _block_filters(nb_filters, dilations):
    """The filters of each block of a stack: one integer for all, or one per dilation."""
    if is_int(nb_filters):
        return [check_positive_int("nb_filters", nb_filters)] * len(dilations)
    filters = check_int_sequence("nb_filters", nb_filters)
    if len(filters) != len(dilations):
        raise ValueError(
            "nb_filters must be an integer >= 1 or a list of them, one per dilation "
            f"({len(dilations)}); got nb_filters={nb_filters!r}."
        )
    return list(filters)


def _tcn(
    *,
    input_shape,
    nb_filters,
    kernel_size,
    nb_stacks,
    dilations,
    padding,
    use_skip_connections,
    dropout_rate,
    return_sequences,
    activation,
    kernel_initializer,
    use_batch_norm,
    use_layer_norm,
    use_weight_norm,
    classes,
    output_dim,
    classifier_activation,
    name,
):
    """The one builder: checks the arguments, then the stacks of residual blocks, the skip
    connections and the head."""
    if input_shape is None:
        raise ValueError("input_shape is required: (timesteps, features); got input_shape=None.")
    # A size-1 kernel has no temporal extent: the dilations would have nothing to space out.
    check_int("kernel_size", kernel_size, minimum=2)
    check_positive_int("nb_stacks", nb_stacks)
    dilations = check_int_sequence("dilations", dilations)
    filters = _block_filters(nb_filters, dilations)
    # Only causal padding: keras-tcn's "same" would let outputs see later inputs.
    check_choice("padding", padding, ("causal",))
    flags = (use_batch_norm, use_layer_norm, use_weight_norm)
    if sum(bool(flag) for flag in flags) > 1:
        names = ("use_batch_norm", "use_layer_norm", "use_weight_norm")
        chosen = {n: flag for n, flag in zip(names, flags) if flag}
        raise ValueError(f"Only one normalization can be chosen; got {chosen}.")
    if classes is not None and output_dim is not None:
        raise ValueError(
            f"Give classes (a softmax head) or output_dim (a linear head), not both; got "
            f"classes={classes!r} and output_dim={output_dim!r}."
        )
    check_positive_int_or_none("classes", classes)
    check_positive_int_or_none("output_dim", output_dim)
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
        raise ValueError(
            f"input_shape must be (timesteps, features), timesteps None or >= 1; "
            f"got input_shape={input_shape!r}."
        )
    input_shape = (
        check_positive_int_or_none("input_shape[0]", input_shape[0]),
        check_positive_int("input_shape[1]", input_shape[1]),
    )
    if use_skip_connections and len(set(filters)) > 1:
        raise ValueError(
            "use_skip_connections=True sums the blocks' outputs, so nb_filters must be equal "
            f"for all blocks; got nb_filters={nb_filters!r}."
        )
    normalization = next((n for n, flag in zip(_NORMALIZATIONS, flags) if flag), None)

    inputs = keras.Input(shape=input_shape, name="inputs")
    x, skips = inputs, []
    for stack in range(nb_stacks):
        for i, (dilation, n) in enumerate(zip(dilations, filters)):
            x, skip = TemporalBlock(
                n,
                kernel_size,
                dilation,
                dropout_rate=dropout_rate,
                normalization=normalization,
                activation=activation,
                kernel_initializer=kernel_initializer,
                return_skip=True,
                name=f"residual_block_{stack * len(dilations) + i}",
            )(x)
            skips.append(skip)
    if use_skip_connections:
        x = keras.layers.Add(name="skip_connections")(skips) if len(skips) > 1 else skips[0]
    if not return_sequences:
        x = x[:, -1, :]  # the last step: the only one that has seen the whole sequence
    if classes is not None:
        x = keras.layers.Dense(classes, name="logits")(x)
        # float32 softmax keeps mixed-precision probabilities normalised.
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    elif output_dim is not None:
        x = keras.layers.Dense(output_dim, dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, x, name=name)
    model.receptive_field = receptive_field(kernel_size, nb_stacks, dilations)
    return model


@register_model(
    "tcn",
    family="tcn",
    paper="Bai, Kolter & Koltun, An Empirical Evaluation of Generic Convolutional and "
    "Recurrent Networks for Sequence Modeling, arXiv:1803.01271",
    year=2018,
    default_input_shape=(None, 1),
    min_input_size=1,
    task="sequence",
    # keras-tcn's TCN layer with its defaults on 1 input feature (no head).
    reference_params=136_256,
    reference_kwargs={"input_shape": (None, 1)},
    test_kwargs={
        "input_shape": (12, 2),
        "nb_filters": 8,
        "kernel_size": 2,
        "dilations": (1, 2, 4),
        "output_dim": 1,
    },
    train_defaults={
        "trainer": "task",
        "data": "adding_problem",
        "data_kwargs": {"T": 200},
        "model_kwargs": {"nb_filters": 24, "kernel_size": 6, "dilations": (1, 2, 4, 8, 16)},
        "epochs": 3,
        "batch_size": 32,
        "learning_rate": 2e-3,
        "clipnorm": 1.0,
    },
)
def TCN(
    input_shape=None,
    nb_filters=64,
    kernel_size=3,
    nb_stacks=1,
    dilations=_DEFAULT_DILATIONS,
    padding="causal",
    use_skip_connections=True,
    dropout_rate=0.0,
    return_sequences=False,
    activation="relu",
    kernel_initializer="he_normal",
    use_batch_norm=False,
    use_layer_norm=False,
    use_weight_norm=False,
    classes=None,
    output_dim=None,
    classifier_activation="softmax",
    name="tcn",
):
    """TCN: dilated causal convolutions with exponentially growing dilations, in residual blocks.

    The receptive field, 1 + 2 (kernel_size - 1) nb_stacks sum(dilations), grows
    exponentially with depth while every output stays causal (Bai et al., 2018).

    Args:
        input_shape: `(timesteps, features)`; `timesteps` may be None.
        nb_filters: filters of every block, or a list with one entry per dilation.
        kernel_size: size of the causal convolution kernels (>= 2).
        nb_stacks: how many times the `dilations` stack of blocks is repeated.
        dilations: dilation of each block of a stack.
        padding: "causal" only (keras-tcn's "same" would make the network non-causal).
        use_skip_connections: output the sum of every block's residual branch
            (keras-tcn's skip connections) instead of the last block's output.
        dropout_rate: SpatialDropout1D rate after every convolution.
        return_sequences: return every step (True) or only the last one.
        activation, kernel_initializer: of the convolutions and residual additions.
        use_batch_norm, use_layer_norm, use_weight_norm: one normalization, or none.
        classes: size of a softmax head; `output_dim`: size of a linear head; neither:
            the TCN features (`nb_filters` per step), as keras-tcn's `TCN` layer.
        classifier_activation: activation of the `classes` head.
        name: model name.

    Returns:
        A `keras.Model` with a `receptive_field` attribute.
    """
    return _tcn(**locals())
