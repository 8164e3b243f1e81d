"""Temporal Convolutional Network (Bai, Kolter & Koltun, 2018).

Reference:
- [An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence
  Modeling](https://arxiv.org/abs/1803.01271) (2018)

A stack of residual `TemporalBlock`s of dilated causal convolutions whose dilations
grow 1, 2, 4, ...: the receptive field grows exponentially with depth, and no output
sees a later input (unless `padding="same"`, which is non-causal). Hyper-parameter
names follow keras-tcn (philipperemy/keras-tcn) so its users can move over:
`nb_filters`, `kernel_size`, `nb_stacks`, `dilations`, `padding`,
`use_skip_connections`, `dropout_rate`, `return_sequences`, `activation`,
`kernel_initializer`, `use_batch_norm`, `use_layer_norm`, `use_weight_norm`. Unlike
keras-tcn, this one is made of keras + keras.ops only, so it runs on the TensorFlow,
JAX and PyTorch backends. This module is a `keras.Model` builder: pass
`input_shape`, and `classes` or `output_dim` for a head. keras-tcn's `TCN` *layer*
is `keras_archs.layers.TCN`, which the model is built around.
"""

from __future__ import annotations

import keras

from keras_archs.layers import tcn as tcn_layers
from keras_archs.layers.tcn import DEFAULT_DILATIONS, receptive_field
from keras_archs.registry import register_model
from keras_archs.validation import (
    check_positive_int,
    check_positive_int_or_none,
)

__all__ = ["TCN", "receptive_field"]  # receptive_field: kept from before the layer


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
    """The one builder: checks the arguments, then the `TCN` layer (the stacks of residual
    blocks and the skip connections, which checks its own arguments) and the head."""
    if input_shape is None:
        raise ValueError("input_shape is required: (timesteps, features); got input_shape=None.")
    # The layer checks its own arguments (kernel_size >= 2, dilations, nb_filters, padding
    # "causal" or "same", one normalization) before anything is built.
    tcn = tcn_layers.TCN(
        nb_filters=nb_filters,
        kernel_size=kernel_size,
        nb_stacks=nb_stacks,
        dilations=dilations,
        padding=padding,
        use_skip_connections=use_skip_connections,
        dropout_rate=dropout_rate,
        return_sequences=return_sequences,
        activation=activation,
        kernel_initializer=kernel_initializer,
        use_batch_norm=use_batch_norm,
        use_layer_norm=use_layer_norm,
        use_weight_norm=use_weight_norm,
        name="tcn_layer",
    )
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

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = tcn(inputs)
    if classes is not None:
        x = keras.layers.Dense(classes, name="logits")(x)
        # float32 softmax keeps mixed-precision probabilities normalised.
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
    elif output_dim is not None:
        x = keras.layers.Dense(output_dim, dtype="float32", name="predictions")(x)
    model = keras.Model(inputs, x, name=name)
    model.receptive_field = tcn.receptive_field
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
    dilations=DEFAULT_DILATIONS,
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
    The network is one `keras_archs.layers.TCN` layer (keras-tcn's `TCN`, named
    "tcn_layer") followed by the optional head.

    Args:
        input_shape: `(timesteps, features)`; `timesteps` may be None.
        nb_filters: filters of every block, or a list with one entry per dilation.
        kernel_size: size of the causal convolution kernels (>= 2).
        nb_stacks: how many times the `dilations` stack of blocks is repeated.
        dilations: dilation of each block of a stack.
        padding: "causal", or "same" (keras-tcn's option), which pads every convolution
            on both ends and so makes the network NON-causal: an output also sees later
            inputs. With `return_sequences=False` "same" returns the middle step.
        use_skip_connections: output the sum of every block's residual branch
            (keras-tcn's skip connections) instead of the last block's output.
        dropout_rate: SpatialDropout1D rate after every convolution.
        return_sequences: return every step (True) or only the last one ("causal").
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
