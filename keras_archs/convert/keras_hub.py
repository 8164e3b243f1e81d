"""Converters from keras-hub backbones to keras_archs models with the same weights.

`from_keras_hub(backbone)` reads the configuration of a keras-hub backbone, builds
the matching keras_archs model and copies every weight, layer by layer, checking
shapes as it goes. Supported: `keras_hub.models.GPT2Backbone` -> `GPT` and
`keras_hub.models.BertBackbone` -> `BERT`. The layer
names and the weight order of keras_archs' attention blocks mirror keras-hub's
(see `keras_archs.layers.TransformerDecoderBlock`), so each block copies with
`set_weights(get_weights())`.

keras-hub is only needed by the caller (who already holds a backbone); this module
imports nothing from it.
"""

from __future__ import annotations


def _copy(source, target, what):
    src, dst = source.get_weights(), target.get_weights()
    shapes = [w.shape for w in src], [w.shape for w in dst]
    if shapes[0] != shapes[1]:
        raise ValueError(
            f"Cannot copy {what}: keras-hub weight shapes {shapes[0]} differ from "
            f"keras_archs' {shapes[1]}."
        )
    target.set_weights(src)


def _gpt2(backbone, sequence_length=None, name=None):
    from keras_archs.applications.gpt import GPT

    config = backbone.get_config()
    model = GPT(
        vocabulary_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_dim=config["hidden_dim"],
        intermediate_dim=config["intermediate_dim"],
        dropout=config["dropout"],
        max_sequence_length=config["max_sequence_length"],
        sequence_length=sequence_length,
        name=name or backbone.name,
    )
    embedding = model.get_layer("token_embedding")
    _copy(backbone.get_layer("token_embedding"), embedding.token_embedding, "token_embedding")
    position = backbone.get_layer("position_embedding").position_embeddings
    embedding.position_embeddings.assign(position)
    for i in range(config["num_layers"]):
        layer = f"transformer_layer_{i}"
        _copy(backbone.get_layer(layer), model.get_layer(layer), layer)
    _copy(backbone.get_layer("layer_norm"), model.get_layer("layer_norm"), "layer_norm")
    return model


def _bert(backbone, sequence_length=None, name=None):
    from keras_archs.applications.bert import BERT

    config = backbone.get_config()
    model = BERT(
        **{k: config[k] for k in _BERT_ARGS},
        sequence_length=sequence_length,
        name=name or backbone.name,
    )
    embedding = model.get_layer("token_embedding")
    _copy(backbone.get_layer("token_embedding"), embedding.token_embedding, "token_embedding")
    position = backbone.get_layer("position_embedding").position_embeddings
    embedding.position_embedding.embeddings.assign(position)
    names = ["segment_embedding", "embeddings_layer_norm", "pooled_dense"]
    names += [f"transformer_layer_{i}" for i in range(config["num_layers"])]
    for layer in names:
        _copy(backbone.get_layer(layer), model.get_layer(layer), layer)
    return model


_BERT_ARGS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
    "max_sequence_length",
    "num_segments",
)
_CONVERTERS = {"GPT2Backbone": _gpt2, "BertBackbone": _bert}


def from_keras_hub(backbone, sequence_length=None, name=None):
    """The keras_archs model equivalent to a keras-hub backbone, with its weights.

    Args:
        backbone: a `keras_hub.models.GPT2Backbone` or `BertBackbone` (any size).
        sequence_length: fixed input length of the new model, or None (any).
        name: model name (default: the backbone's).

    Returns:
        A `GPT` model: its logits are the backbone's output times the transposed
        token embedding (keras-hub's `GPT2CausalLM` logits); its `layer_norm` layer
        outputs the backbone's `sequence_output`
        (`keras_archs.applications.gpt.hidden_states_model`). For a `BertBackbone`, a
        `BERT` model with the same `sequence_output` and `pooled_output`.
    """
    kind = type(backbone).__name__
    if kind not in _CONVERTERS:
        raise TypeError(
            f"from_keras_hub converts {', '.join(sorted(_CONVERTERS))}; got backbone of type "
            f"{kind}."
        )
    return _CONVERTERS[kind](backbone, sequence_length=sequence_length, name=name)
