"""BERT: a bidirectional Transformer encoder pre-trained by filling in masked tokens
(Devlin et al. 2018).

Reference:
- [BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding](
    https://arxiv.org/abs/1810.04805) (Devlin, Chang, Lee and Toutanova, 2018)

The sum of token, learned position and segment embeddings goes through a
LayerNormalization and dropout, then a stack of post-LN `TransformerEncoderBlock`s
(GELU feed-forward), attending in both directions with only padding masked. A tanh
Dense layer over the first ([CLS]) position gives the pooled output. Layer names and
weights follow keras-hub's `BertBackbone` (`token_embedding`, `segment_embedding`,
`embeddings_layer_norm`, `transformer_layer_{i}`, `pooled_dense`), so
`keras_archs.convert.from_keras_hub` copies one into the other.

Heads (functional models over a backbone, sharing its weights):
- `BERTPretrainer`: masked language modelling at the positions in `mask_positions`
  and next-sentence prediction from the pooled output (section 3.1). The masking and
  the sentence pairs are made by the data pipeline
  (`keras_archs.data.bert.bert_pretraining_dataset`), not by the model.
- `BERTClassifier` (sequence classification on the pooled output) and
  `BERTTokenClassifier` (one prediction per position), section 4.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_archs.applications import _presets
from keras_archs.layers import (
    SegmentEmbedding,
    TokenAndPositionEmbedding,
    TransformerEncoderBlock,
)
from keras_archs.registry import register_model
from keras_archs.validation import (
    check_positive_int,
    check_positive_int_or_none,
    check_rate,
)

# One registry name per entry: `create_model(name)` builds `BERT(preset=name)`.
PRESETS = {
    # BERT-Tiny (Turc et al. 2019, "Well-Read Students Learn Better"): 2 x 128, 2 heads.
    "bert_tiny": dict(
        vocabulary_size=30522,
        num_layers=2,
        num_heads=2,
        hidden_dim=128,
        intermediate_dim=512,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
    ),
    # BERT-Base (the paper's): 12 x 768, 12 heads, 110M parameters.
    "bert_base": dict(
        vocabulary_size=30522,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
    ),
}
# Parameters of each preset (as many as keras-hub's BertBackbone of the same configuration).
_PRESET_PARAMS = {"bert_tiny": 4_385_920, "bert_base": 109_482_240}
_ARGS = tuple(PRESETS["bert_base"])
# keras-hub's BertBackbone defaults for the arguments it gives defaults to.
_DEFAULTS = {"dropout": 0.1, "max_sequence_length": 512, "num_segments": 2}
# The generic suite's tiny configuration (tests/test_models.py).
_TEST_KWARGS = {
    "vocabulary_size": 16,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 32,
    "intermediate_dim": 64,
    "max_sequence_length": 16,
    "sequence_length": 16,
}
_PAPER = (
    "Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for Language "
    "Understanding"
)
LAYER_NORM_EPSILON = 1e-12  # BERT's (and keras-hub's) LayerNormalization epsilon


def _resolve(preset, given):
    """The preset's configuration overridden by the arguments given, checked."""
    return _presets.resolve("BERT", PRESETS, _DEFAULTS, preset, given, "bert_tiny")


def _initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)  # BERT's initializer_range


def _embeddings(token_ids, segment_ids, config, dtype):
    """Token + learned position + segment embeddings, LayerNormalization and dropout."""
    hidden = config["hidden_dim"]
    x = TokenAndPositionEmbedding(
        config["vocabulary_size"],
        config["max_sequence_length"],
        hidden,
        embeddings_initializer=_initializer(),
        position_initializer=_initializer(),
        name="token_embedding",
        dtype=dtype,
    )(token_ids)
    segments = SegmentEmbedding(
        config["num_segments"],
        hidden,
        embeddings_initializer=_initializer(),
        name="segment_embedding",
        dtype=dtype,
    )(segment_ids)
    x = keras.layers.Add(name="embeddings_add", dtype=dtype)([x, segments])
    x = keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name="embeddings_layer_norm", dtype=dtype
    )(x)
    return keras.layers.Dropout(config["dropout"], name="embeddings_dropout", dtype=dtype)(x)


def _encoder_block(x, padding_mask, config, index, dtype):
    """A post-LN encoder block attending in both directions, only padding masked."""
    return TransformerEncoderBlock(
        config["num_heads"],
        config["intermediate_dim"],
        dropout=config["dropout"],
        activation="gelu_approximate",  # keras-hub's; the paper's GELU uses the tanh form too
        layer_norm_epsilon=LAYER_NORM_EPSILON,
        norm_first=False,
        kernel_initializer=_initializer(),
        name=f"transformer_layer_{index}",
        dtype=dtype,
    )(x, padding_mask=padding_mask)


def _bert(config, sequence_length, name, dtype):
    """The one builder: embeddings, the encoder stack and the tanh pooler over [CLS]."""
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    segment_ids = keras.Input((sequence_length,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input((sequence_length,), dtype="int32", name="padding_mask")
    x = _embeddings(token_ids, segment_ids, config, dtype)
    for i in range(config["num_layers"]):
        x = _encoder_block(x, padding_mask, config, i, dtype)
    pooled = keras.layers.Dense(
        config["hidden_dim"],
        activation="tanh",
        kernel_initializer=_initializer(),
        name="pooled_dense",
        dtype=dtype,
    )(x[:, 0, :])
    return keras.Model(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        {"sequence_output": x, "pooled_output": pooled},
        name=name,
    )


def BERT(
    vocabulary_size=None,
    num_layers=None,
    num_heads=None,
    hidden_dim=None,
    intermediate_dim=None,
    dropout=None,
    max_sequence_length=None,
    num_segments=None,
    preset=None,
    sequence_length=None,
    name=None,
    dtype=None,
):
    """BERT: a Transformer encoder reads text in both directions, pre-trained to fill in masks.

    Token + learned position + segment embeddings, LayerNormalization and dropout,
    post-LN encoder blocks with GELU, and a tanh-pooled [CLS] vector. Devlin et al.,
    2018.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout,
            max_sequence_length, num_segments: keras-hub's `BertBackbone` arguments;
            each defaults to the `preset`'s value (without a preset: dropout 0.1,
            max_sequence_length 512, num_segments 2, as keras-hub).
        preset: "bert_tiny" (2 x 128, 2 heads: 4,385,920 parameters with the
            30,522-token vocabulary) or "bert_base" (12 x 768, 12 heads: 109,482,240).
        sequence_length: fixed input length, or None (any length up to
            `max_sequence_length`).
        name: model name (default: the preset, or "bert").
        dtype: the dtype policy of every layer, as keras-hub's backbones take it: a
            policy name ("float32", "bfloat16", "mixed_bfloat16", ...) or a
            `keras.DTypePolicy` (default: `keras.config.dtype_policy()`). Each layer's
            config records it; the heads below compute in the backbone's policy.

    Returns:
        A `keras.Model` from `{"token_ids", "segment_ids", "padding_mask"}` (int32,
        `(batch, seq)`; `padding_mask` 1 for real tokens) to `{"sequence_output"`
        `(batch, seq, hidden_dim)`, `"pooled_output"` `(batch, hidden_dim)}`, in the
        policy's compute dtype. `model.quantize("int8")` quantizes its Dense,
        EinsumDense and Embedding layers, and the quantized model saves to and reloads
        from `.keras`.
    """
    config = _resolve(
        preset,
        dict(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
        ),
    )
    sequence_length = check_positive_int_or_none("sequence_length", sequence_length)
    if sequence_length is not None and sequence_length > config["max_sequence_length"]:
        raise ValueError(
            f"sequence_length={sequence_length} exceeds max_sequence_length="
            f"{config['max_sequence_length']}."
        )
    dtype = _presets.resolve_dtype(dtype)
    return _bert(config, sequence_length, name or preset or "bert", dtype)


def _training_head(backbone, kind, **kwargs):
    """`keras-archs train`'s model around a BERT backbone, as the data asks: the
    pre-training heads (`max_predictions`) or a classifier (`num_classes`)."""
    if kind == "pretraining":
        return BERTPretrainer(backbone, **kwargs)
    if kind == "classifier":
        return BERTClassifier(backbone, **kwargs)
    raise ValueError(f"kind must be 'pretraining' or 'classifier'; got kind={kind!r}.")


# `keras-archs train bert_tiny`: masked tokens and next-sentence prediction on the
# standard library's sources (offline), 64-token pairs over a WordPiece vocabulary
# learned from them; AdamW at 2e-3 decayed linearly over 1,700 steps (about 4 minutes on
# 2 cores). BERT-Base is far too big for a CPU: its run is a short check that it trains.
_MLM_NSP = {
    "trainer": "task",
    "data": "python_stdlib",
    "head": _training_head,
    "optimizer": "adamw",
    "weight_decay": 0.01,
    "clipnorm": 1.0,
    "schedule": "linear",
    "warmup_epochs": 0.0,
    "batch_size": 64,
}
_TRAIN_DEFAULTS = {
    "bert_tiny": {
        **_MLM_NSP,
        "data_kwargs": {
            "objective": "mlm_nsp",
            "sequence_length": 64,
            "max_files": 400,
            "validation_files": 60,
            "validation_examples": 2048,
        },
        "learning_rate": 2e-3,
        "steps_per_epoch": 850,
        "epochs": 2,
    },
    "bert_base": {
        **_MLM_NSP,
        "data_kwargs": {
            "objective": "mlm_nsp",
            "sequence_length": 64,
            "max_files": 40,
            "validation_files": 10,
            "validation_examples": 64,
        },
        "batch_size": 8,
        "steps_per_epoch": 10,
        "validation_steps": 2,
        "epochs": 1,
    },
}

for _preset in PRESETS:
    register_model(
        _preset,
        builder=BERT,
        builder_kwargs={"preset": _preset},
        family="bert",
        paper=_PAPER,
        year=2018,
        default_input_shape=(PRESETS[_preset]["max_sequence_length"],),
        min_input_size=1,
        task="text_encoder",
        reference_params=_PRESET_PARAMS[_preset],
        test_kwargs=_TEST_KWARGS,
        train_defaults=_TRAIN_DEFAULTS[_preset],
    )


def backbone_config(backbone):
    """The keras-hub-style configuration of a model built by `BERT`."""
    embedding = backbone.get_layer("token_embedding")
    blocks = _blocks(backbone)
    return {
        "vocabulary_size": embedding.vocabulary_size,
        "num_layers": len(blocks),
        "num_heads": blocks[0].num_heads,
        "hidden_dim": embedding.embedding_dim,
        "intermediate_dim": blocks[0].intermediate_dim,
        "dropout": blocks[0].dropout,
        "max_sequence_length": embedding.sequence_length,
        "num_segments": backbone.get_layer("segment_embedding").input_dim,
    }


def _blocks(model):
    names = {layer.name for layer in model.layers}
    blocks, i = [], 0
    while f"transformer_layer_{i}" in names:
        blocks.append(model.get_layer(f"transformer_layer_{i}"))
        i += 1
    if not blocks:
        raise ValueError(f"Model {model.name!r} has no transformer_layer_0: not a BERT backbone.")
    return blocks


def _backbone_inputs(backbone):
    keys = ("token_ids", "segment_ids", "padding_mask")
    try:
        inputs = backbone.input
    except (AttributeError, ValueError):
        inputs = None
    if not isinstance(inputs, dict) or any(k not in inputs for k in keys):
        raise ValueError(
            "backbone must be a model built by keras_archs.applications.BERT, with inputs "
            f"token_ids, segment_ids and padding_mask; got {backbone!r}."
        )
    return {k: inputs[k] for k in keys}


def _policy(backbone):
    """The dtype policy the backbone was built with; its heads compute in it too (as
    keras-hub's tasks do)."""
    return backbone.get_layer("token_embedding").dtype_policy


def BERTPretrainer(backbone, max_predictions=20, name="bert_pretrainer"):
    """Masked-language-model and next-sentence-prediction heads over a `BERT` backbone.

    Devlin et al. 2018, section 3.1 and appendix A.1. The MLM head reads the
    backbone's sequence output at `mask_positions`: Dense(hidden_dim, GELU (erf)),
    LayerNormalization, then a Dense projection to the vocabulary (untied; the
    layout of keras-hub's `MaskedLMHead(vocabulary_size=...)`). The NSP head is a
    2-way Dense over the pooled output.

    Args:
        backbone: a model built by `BERT` (its weights are shared).
        max_predictions: number of masked positions per sequence (padded with
            weight-0 entries by the pipeline).

    Returns:
        A model from the backbone's inputs plus `"mask_positions"` (int32,
        `(batch, max_predictions)`) to `{"mlm": (batch, max_predictions, vocab)
        logits, "nsp": (batch, 2) logits}` (float32). Train it with
        `pretraining_losses()` on `keras_archs.data.bert.bert_pretraining_dataset`.
    """
    check_positive_int("max_predictions", max_predictions)
    inputs = _backbone_inputs(backbone)
    config = backbone_config(backbone)
    dtype = _policy(backbone)
    outputs = backbone(inputs)
    positions = keras.Input((max_predictions,), dtype="int32", name="mask_positions")
    gathered = ops.take_along_axis(
        outputs["sequence_output"], ops.expand_dims(positions, -1), axis=1
    )
    x = keras.layers.Dense(
        config["hidden_dim"],
        activation="gelu",  # as keras-hub's BertMaskedLM head
        kernel_initializer=_initializer(),
        name="mlm_intermediate_dense",
        dtype=dtype,
    )(gathered)
    x = keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name="mlm_layer_norm", dtype=dtype
    )(x)
    mlm = keras.layers.Dense(
        config["vocabulary_size"], kernel_initializer=_initializer(), name="mlm_logits", dtype=dtype
    )(x)
    nsp = keras.layers.Dense(2, kernel_initializer=_initializer(), name="nsp_logits", dtype=dtype)(
        outputs["pooled_output"]
    )
    # float32 logits keep the softmax of mixed-precision models accurate.
    mlm = keras.layers.Activation("linear", dtype="float32", name="mlm")(mlm)
    nsp = keras.layers.Activation("linear", dtype="float32", name="nsp")(nsp)
    return keras.Model({**inputs, "mask_positions": positions}, {"mlm": mlm, "nsp": nsp}, name=name)


def pretraining_losses():
    """Per-output losses of `BERTPretrainer`: the MLM loss is the mean over the chosen
    positions only (weight-1 slots of the pipeline's sample weights)."""
    return {
        "mlm": keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        "nsp": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    }


def BERTClassifier(backbone, num_classes, dropout=0.1, activation=None, name="bert_classifier"):
    """Sequence classification on the pooled [CLS] output (Devlin et al. 2018, section 4.1).

    Returns a model from the backbone's inputs to `(batch, num_classes)` scores
    (logits when `activation` is None), float32.
    """
    check_positive_int("num_classes", num_classes)
    check_rate("dropout", dropout)
    inputs = _backbone_inputs(backbone)
    dtype = _policy(backbone)
    x = backbone(inputs)["pooled_output"]
    x = keras.layers.Dropout(dropout, name="classifier_dropout", dtype=dtype)(x)
    x = keras.layers.Dense(
        num_classes, kernel_initializer=_initializer(), name="logits", dtype=dtype
    )(x)
    x = keras.layers.Activation(activation or "linear", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def BERTTokenClassifier(
    backbone, num_classes, dropout=0.1, activation=None, name="bert_token_classifier"
):
    """Token classification (e.g. named entities) on every position's sequence output
    (Devlin et al. 2018, section 4.3).

    Returns a model from the backbone's inputs to `(batch, seq, num_classes)` scores
    (logits when `activation` is None), float32.
    """
    check_positive_int("num_classes", num_classes)
    check_rate("dropout", dropout)
    inputs = _backbone_inputs(backbone)
    dtype = _policy(backbone)
    x = backbone(inputs)["sequence_output"]
    x = keras.layers.Dropout(dropout, name="classifier_dropout", dtype=dtype)(x)
    x = keras.layers.Dense(
        num_classes, kernel_initializer=_initializer(), name="logits", dtype=dtype
    )(x)
    x = keras.layers.Activation(activation or "linear", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
