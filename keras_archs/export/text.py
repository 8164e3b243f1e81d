"""String-in signatures for text models: the keras-hub tokenizer runs inside the SavedModel.

- BERT-style models (inputs `token_ids`, `segment_ids`, `padding_mask`), e.g. a
  `BERTClassifier`: `serving_default` takes `text` (a batch of strings), tokenizes it
  with the given WordPiece tokenizer, packs `[CLS] text [SEP] [PAD]...` to the model's
  sequence length (keras-hub's `MultiSegmentPacker`) and returns the model's outputs.
- GPT-style models (inputs `token_ids`, `padding_mask`, logits over the vocabulary):
  `serving_default` takes `text` and returns the next-token `logits` of every position
  (strings padded to the longest in the batch); `generate` takes `prompt` strings and
  returns `text` and `token_ids`, the greedy continuation of each (key/value-cached
  decoding in one `tf.while_loop`, the loop of `keras_archs.applications.gpt.generate`;
  `text` is detokenized as keras-hub does, invalid UTF-8 replaced by U+FFFD).

The id-level signature stays available as `serving_ids`. keras-hub's WordPiece
tokenizer runs TensorFlow Text ops: a process that loads the export must
`import tensorflow_text` first (TensorFlow Serving's model server links them in).
"""

from __future__ import annotations

import os

from keras_archs.validation import check_file

TOKENIZER_CHOICES = ("auto", None)
BERT_INPUTS = {"token_ids", "segment_ids", "padding_mask"}
GPT_INPUTS = {"token_ids", "padding_mask"}


def text_kind(model):
    """ "bert", "gpt" or None, from the model's input names (and, for GPT, its layers)."""
    names = {t.name for t in model.inputs}
    if names == BERT_INPUTS:
        return "bert"
    layer_names = {layer.name for layer in model.layers}
    if names == GPT_INPUTS and {"token_embedding", "layer_norm"} <= layer_names:
        return "gpt"
    return None


def _is_lm(model):
    """True for a GPT whose output is next-token logits (not a classification head)."""
    out = model.output
    vocab = model.get_layer("token_embedding").vocabulary_size
    return (
        not isinstance(out, (dict, list, tuple)) and len(out.shape) == 3 and out.shape[-1] == vocab
    )


def resolve_tokenizer(model, tokenizer):
    """The keras-hub tokenizer to embed, or None for id-level signatures only.

    tokenizer: None; "auto" (a byte-level GPT, vocabulary 256, gets keras-hub's
    `ByteTokenizer`; other models none); a keras-hub `Tokenizer`; or the path of a
    WordPiece vocabulary file (one token per line), read into keras-hub's
    `WordPieceTokenizer` with case kept.
    """
    kind = text_kind(model)
    if tokenizer is None:
        return None
    if isinstance(tokenizer, (str, os.PathLike)) and os.fspath(tokenizer) == "auto":
        if kind == "gpt" and model.get_layer("token_embedding").vocabulary_size == 256:
            import keras_hub

            return keras_hub.tokenizers.ByteTokenizer(dtype="int32")
        return None
    if kind is None:
        raise ValueError(
            f"tokenizer is given but model={model.name!r} is not a text model (its inputs "
            f"are {sorted(t.name for t in model.inputs)}; a BERT needs {sorted(BERT_INPUTS)}, "
            f"a GPT {sorted(GPT_INPUTS)})."
        )
    if isinstance(tokenizer, (str, os.PathLike)):
        return _wordpiece_from_file(check_file("tokenizer", tokenizer))
    import keras_hub

    if not isinstance(tokenizer, keras_hub.tokenizers.Tokenizer):
        raise TypeError(
            "tokenizer must be None, 'auto', a keras_hub.tokenizers.Tokenizer or a "
            f"vocabulary file path; got tokenizer={type(tokenizer).__name__}."
        )
    return tokenizer


def _wordpiece_from_file(path):
    import keras_hub

    with open(path, encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=False, strip_accents=False, dtype="int32"
    )


def _special_ids(tokenizer, tokens):
    from keras_archs.data.bert import bert_special_ids

    specials, _ = bert_special_ids(tokenizer.get_vocabulary(), tokens)  # names missing ones
    return [specials[t] for t in tokens]


def text_signatures(model, outputs):
    """{signature: ({input: (shape, dtype)}, [outputs])} of the string signatures."""
    result = {"serving_default": ({"text": ((None,), "string")}, outputs)}
    if text_kind(model) == "gpt" and _is_lm(model):
        result["generate"] = ({"prompt": ((None,), "string")}, ["text", "token_ids"])
    return result


def add_text_endpoints(archive, model, tokenizer, serve_ids, max_new_tokens=32):
    """Adds `serving_default` (text) and, for a GPT language model, `generate`."""
    import tensorflow as tf

    if not tokenizer.built:
        tokenizer(tf.constant(["a"]))  # ExportArchive tracks built layers only
    archive.track(tokenizer)
    kind = text_kind(model)
    if kind == "bert":
        _bert_endpoint(archive, model, tokenizer, serve_ids, tf)
    else:
        _gpt_endpoint(archive, model, tokenizer, serve_ids, tf)
        if _is_lm(model):
            _generate_endpoint(archive, model, tokenizer, max_new_tokens, tf)


def _bert_endpoint(archive, model, tokenizer, serve_ids, tf):
    import keras_hub

    length = model.inputs[0].shape[1] or model.get_layer("token_embedding").sequence_length
    cls, sep, pad = _special_ids(tokenizer, ("[CLS]", "[SEP]", "[PAD]"))
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=length, start_value=cls, end_value=sep, pad_value=pad
    )

    def serve_text(text):
        token_ids, segment_ids = packer(tokenizer(text))
        token_ids = tf.cast(token_ids, tf.int32)
        return serve_ids(
            {
                "token_ids": token_ids,
                "segment_ids": tf.cast(segment_ids, tf.int32),
                "padding_mask": tf.cast(tf.not_equal(token_ids, pad), tf.int32),
            }
        )

    archive.add_endpoint(
        "serving_default",
        serve_text,
        input_signature=[tf.TensorSpec((None,), tf.string, name="text")],
    )


def _gpt_endpoint(archive, model, tokenizer, serve_ids, tf):
    context = model.get_layer("token_embedding").sequence_length

    def serve_text(text):
        ids = tf.cast(tokenizer(text), tf.int32)[:, :context]
        token_ids = ids.to_tensor(0)
        mask = tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1], tf.int32)
        return serve_ids({"token_ids": token_ids, "padding_mask": mask})

    archive.add_endpoint(
        "serving_default",
        serve_text,
        input_signature=[tf.TensorSpec((None,), tf.string, name="text")],
    )


def _generate_endpoint(archive, model, tokenizer, max_new_tokens, tf):
    from keras_archs.applications.gpt import GPTGenerator as _Generator

    context = model.get_layer("token_embedding").sequence_length
    if max_new_tokens >= context:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the context "
            f"length max_sequence_length={context}."
        )
    generator = _Generator(model, max_new_tokens, True, 1.0, 0, 1.0, None)
    keep = context - max_new_tokens  # the prompt's last `keep` tokens are used

    def one(prompt):
        ids = tf.cast(tokenizer(prompt), tf.int32)[-keep:]
        tf.debugging.assert_positive(tf.size(ids), message="generate needs a non-empty prompt")
        out = generator({"prompt_ids": ids[None, :], "uniforms": tf.zeros((1, max_new_tokens))})
        tokens = out["tokens"][0]
        return {"text": tokenizer.detokenize(tokens), "token_ids": tokens}

    def generate(prompt):
        signature = {
            "text": tf.TensorSpec((), tf.string),
            "token_ids": tf.TensorSpec((max_new_tokens,), tf.int32),
        }
        return tf.map_fn(one, prompt, fn_output_signature=signature)

    archive.add_endpoint(
        "generate",
        generate,
        input_signature=[tf.TensorSpec((None,), tf.string, name="prompt")],
    )
