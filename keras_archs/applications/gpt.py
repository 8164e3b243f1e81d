"""GPT: a decoder-only Transformer trained to predict the next token (Radford et al.
2018, 2019).

References:
- [Improving Language Understanding by Generative Pre-Training](
    https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf)
  (GPT, 2018)
- [Language Models are Unsupervised Multitask Learners](
    https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
  (GPT-2, 2019)

Token embeddings plus learned position embeddings feed a stack of causal
self-attention blocks (`TransformerDecoderBlock` without cross-attention); GPT-2
moves each LayerNormalization to the input of its sub-layer (pre-LN) and adds one
after the last block. The pre-softmax projection is the token embedding matrix,
transposed (tied input/output embeddings). Layer names and weights follow
keras-hub's `GPT2Backbone` (`token_embedding`, `transformer_layer_{i}`,
`layer_norm`), so `keras_archs.convert.from_keras_hub` copies one into the other.

`generate(model, prompt_ids, max_new_tokens, ...)` decodes with a key/value cache
in one `keras.ops.while_loop`, run through `predict_on_batch`, so the backend
compiles it once per input shape (TensorFlow and JAX) and reuses it. One batch may
hold prompts of different lengths with a padding mask (right-padded as keras-hub's
preprocessors pack them, or left-padded); each row continues its own prompt.

`GPT(..., dtype=...)` takes a dtype policy as keras-hub's backbones do, and
`model.quantize("int8")` gives a model that saves to and reloads from `.keras`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_archs.applications import _presets
from keras_archs.layers import TokenAndPositionEmbedding, TransformerDecoderBlock
from keras_archs.registry import register_model
from keras_archs.validation import (
    check_float,
    check_int,
    check_positive_float,
    check_positive_int,
    check_positive_int_or_none,
    check_rate,
)

# One registry name per entry: `create_model(name)` builds `GPT(preset=name)`.
PRESETS = {
    # Small enough to learn Python's standard library byte by byte on a CPU in minutes.
    "gpt_mini": dict(
        vocabulary_size=256,
        num_layers=4,
        num_heads=4,
        hidden_dim=128,
        intermediate_dim=512,
        dropout=0.0,
        max_sequence_length=128,
    ),
    # GPT-2 small (124M): the configuration of keras-hub's "gpt2_base_en".
    "gpt2": dict(
        vocabulary_size=50257,
        num_layers=12,
        num_heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
        max_sequence_length=1024,
    ),
}
# The registry's reference size of a preset (as many as keras-hub's GPT2Backbone of
# the same configuration): GPT-2 small's published count.
_PRESET_PARAMS = {"gpt2": 124_439_808}
_ARGS = tuple(PRESETS["gpt2"])
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
_PAPER = "Radford et al., Language Models are Unsupervised Multitask Learners (GPT-2)"


def _resolve(preset, given):
    """The preset's configuration overridden by the arguments given, checked."""
    # Without a preset, dropout defaults to keras-hub's 0.1.
    return _presets.resolve("GPT", PRESETS, {"dropout": 0.1}, preset, given, "gpt_mini")


def _gpt_initializer(stddev):
    return keras.initializers.RandomNormal(stddev=stddev)


def _embedding(config, dtype):
    """Token plus learned position embeddings; called with `reverse=True` it is the tied
    pre-softmax projection."""
    return TokenAndPositionEmbedding(
        config["vocabulary_size"],
        config["max_sequence_length"],
        config["hidden_dim"],
        embeddings_initializer=_gpt_initializer(0.01),
        position_initializer=_gpt_initializer(0.02),
        name="token_embedding",
        dtype=dtype,
    )


def _decoder_block(x, padding_mask, config, layer_norm_epsilon, index, dtype):
    """GPT-2's pre-LN causal self-attention block (no cross-attention)."""
    return TransformerDecoderBlock(
        config["num_heads"],
        config["intermediate_dim"],
        dropout=config["dropout"],
        activation="gelu_approximate",
        layer_norm_epsilon=layer_norm_epsilon,
        norm_first=True,
        kernel_initializer=_gpt_initializer(0.02),
        name=f"transformer_layer_{index}",
        dtype=dtype,
    )(x, padding_mask=padding_mask, use_causal_mask=True)


def _gpt(config, sequence_length, layer_norm_epsilon, name, dtype):
    """The one builder: embeddings, the decoder stack, a final LayerNorm, tied logits."""
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((sequence_length,), dtype="int32", name="padding_mask")
    embedding = _embedding(config, dtype)
    x = embedding(token_ids)
    x = keras.layers.Dropout(config["dropout"], name="embeddings_dropout", dtype=dtype)(x)
    for i in range(config["num_layers"]):
        x = _decoder_block(x, padding_mask, config, layer_norm_epsilon, i, dtype)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="layer_norm", dtype=dtype)(
        x
    )
    logits = embedding(x, reverse=True)
    # float32 logits keep the softmax of mixed-precision models accurate (a cast only:
    # the projection above computes in `dtype`).
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, logits, name=name)


def GPT(
    vocabulary_size=None,
    num_layers=None,
    num_heads=None,
    hidden_dim=None,
    intermediate_dim=None,
    dropout=None,
    max_sequence_length=None,
    preset=None,
    sequence_length=None,
    layer_norm_epsilon=1e-5,
    name=None,
    dtype=None,
):
    """GPT: a causal Transformer decoder learns language by predicting each next token.

    Pre-LN decoder blocks (GPT-2) over token plus learned position embeddings, a
    final LayerNormalization, and logits from the transposed token embedding
    (tied input/output embeddings). Radford et al., 2018 and 2019.

    Args:
        vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim, dropout,
            max_sequence_length: keras-hub's `GPT2Backbone` arguments; each defaults to
            the `preset`'s value.
        preset: "gpt_mini" (256 byte ids, 4 x 128, context 128) or "gpt2" (GPT-2 small:
            50,257 ids, 12 x 768, 12 heads, context 1,024: 124,439,808 parameters).
        sequence_length: fixed input length, or None (any length up to
            `max_sequence_length`).
        layer_norm_epsilon: epsilon of every LayerNormalization (GPT-2: 1e-5).
        name: model name (default: the preset, or "gpt").
        dtype: the dtype policy of every layer, as keras-hub's backbones take it: a
            policy name ("float32", "bfloat16", "mixed_bfloat16", ...) or a
            `keras.DTypePolicy` (default: `keras.config.dtype_policy()`). Each layer's
            config records it.

    Returns:
        A `keras.Model` from `{"token_ids", "padding_mask"}` (int, `(batch, seq)`; mask 1
        for real tokens) to next-token logits `(batch, seq, vocabulary_size)` (float32,
        whatever the policy: the last layer, `logits`, only casts).
        Train it with `causal_lm_loss()` on targets shifted left by one.
        `model.quantize("int8")` quantizes its Dense, EinsumDense and Embedding layers,
        and the quantized model saves to and reloads from `.keras`.
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
        ),
    )
    sequence_length = check_positive_int_or_none("sequence_length", sequence_length)
    if sequence_length is not None and sequence_length > config["max_sequence_length"]:
        raise ValueError(
            f"sequence_length={sequence_length} exceeds max_sequence_length="
            f"{config['max_sequence_length']}."
        )
    layer_norm_epsilon = check_positive_float("layer_norm_epsilon", layer_norm_epsilon)
    dtype = _presets.resolve_dtype(dtype)
    return _gpt(config, sequence_length, layer_norm_epsilon, name or preset or "gpt", dtype)


# `keras-archs train`: next-byte prediction on the standard library's own sources
# (offline), windows of 64 bytes. gpt_mini's run is the one that lands 20% below the
# bigram model's validation loss (800 steps, about 150 s on 2 cores); GPT-2 small is
# far too big to train on a CPU, so its run is a short check that it trains.
_BYTES = {"trainer": "task", "data": "python_stdlib", "data_kwargs": {"sequence_length": 64}}
_TRAIN_DEFAULTS = {
    "gpt_mini": {
        **_BYTES,
        "steps_per_epoch": 200,
        "validation_steps": 16,
        "epochs": 4,
        "batch_size": 32,
        "learning_rate": 3e-3,
        "warmup_epochs": 0.5,
        "clipnorm": 1.0,
    },
    "gpt2": {
        **_BYTES,
        "steps_per_epoch": 20,
        "validation_steps": 2,
        "epochs": 1,
        "batch_size": 8,
        "warmup_epochs": 0.5,
    },
}

for _preset in PRESETS:
    register_model(
        _preset,
        builder=GPT,
        builder_kwargs={"preset": _preset},
        family="gpt",
        paper=_PAPER,
        year=2019,
        default_input_shape=(PRESETS[_preset]["max_sequence_length"],),
        min_input_size=1,
        task="language_model",
        reference_params=_PRESET_PARAMS.get(_preset),
        test_kwargs=_TEST_KWARGS,
        train_defaults=_TRAIN_DEFAULTS[_preset],
    )


def causal_lm_loss():
    """The language-model loss: mean negative log-likelihood of each next token (logits)."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def hidden_states_model(model):
    """A model from the same inputs to the final LayerNorm's output (keras-hub's
    `GPT2Backbone` output), sharing `model`'s weights."""
    return keras.Model(model.inputs, model.get_layer("layer_norm").output)


def sequence_classifier(model, num_classes, dropout=0.1, activation=None, name=None):
    """GPT-1's fine-tuning head: the final hidden state of each sequence's last real token
    (the last position whose `padding_mask` is 1) through dropout and a Dense layer.

    Radford et al. (2018), section 3.2. Shares `model`'s weights; returns a
    `keras.Model` from the same `{"token_ids", "padding_mask"}` to `(batch,
    num_classes)` outputs (logits unless `activation` is given). Sequences must be
    right-padded (real tokens first).
    """
    check_positive_int("num_classes", num_classes)
    check_rate("dropout", dropout)
    inputs = {t.name: t for t in model.inputs}
    token_ids, padding_mask = inputs["token_ids"], inputs["padding_mask"]
    hidden = model.get_layer("layer_norm").output
    last = ops.maximum(ops.sum(ops.cast(padding_mask, "int32"), axis=1) - 1, 0)
    state = ops.take_along_axis(hidden, last[:, None, None], axis=1)[:, 0, :]
    state = keras.layers.Dropout(dropout, name="classifier_dropout")(state)
    outputs = keras.layers.Dense(
        num_classes,
        activation=activation,
        kernel_initializer=_gpt_initializer(0.02),
        dtype="float32",
        name="classifier",
    )(state)
    return keras.Model(
        {"token_ids": token_ids, "padding_mask": padding_mask},
        outputs,
        name=name or f"{model.name}_classifier",
    )


def _config_of(model):
    embedding = model.get_layer("token_embedding")
    return embedding.vocabulary_size, embedding.sequence_length


def _blocks(model):
    blocks, i = [], 0
    names = {layer.name for layer in model.layers}
    while f"transformer_layer_{i}" in names:
        blocks.append(model.get_layer(f"transformer_layer_{i}"))
        i += 1
    return blocks


class GPTGenerator(keras.Model):
    """Cached autoregressive decoding with the layers of a GPT model (weights shared).

    `generate` builds one per model and settings; the SavedModel export builds one for
    its `generate` signature. Called on `{"prompt_ids": (batch, prompt_length) int32,
    "uniforms": (batch, max_new_tokens) float32 in [0, 1)}` (the random draws of the
    sampling), it returns `{"tokens", "logits"}` of the new tokens.

    Prompts of different lengths come with `"padding_mask"` (batch, prompt_length), 1 on
    each prompt's real tokens, which must be contiguous: right-padded as keras-hub's
    preprocessors pack them, left-padded, or both. The loop first moves every prompt to
    the right end of its row (left padding), so that all rows write their next token to
    the same cache index; each token keeps its position in its own prompt (counted from
    its first real token), and no real query attends to a padding key. Row `b` then
    gets the continuation of its prompt alone. Without `"padding_mask"` every token is
    real (the loop is the one it was before padding was supported).
    """

    def __init__(self, model, max_new_tokens, greedy, temperature, top_k, top_p, end_token_id):
        super().__init__(name=f"{model.name}_generator")
        self.embedding = model.get_layer("token_embedding")
        self.blocks = _blocks(model)
        self.final_norm = model.get_layer("layer_norm")
        self.max_new_tokens = max_new_tokens
        self.greedy, self.temperature = greedy, temperature
        self.top_k, self.top_p, self.end_token_id = top_k, top_p, end_token_id
        self.traces = 0  # incremented each time `call` is traced (or run eagerly)

    def _step(self, token_ids, caches, index, positions=None, key_mask=None, mask=None):
        """Logits of the last position and the updated caches; `token_ids` start at cache
        index `index`, at their own `positions` (batch, length) when given. `key_mask`
        (batch, cache length) hides padding keys; `mask` (batch, length, cache length)
        is ANDed with it."""
        if positions is None:
            x = self.embedding(token_ids, start_index=index)
        else:
            x = self.embedding(token_ids, positions=positions)
        new_caches = []
        for block, cache in zip(self.blocks, caches):
            x, cache = block(
                x,
                padding_mask=key_mask,
                attention_mask=mask,
                use_causal_mask=True,
                cache=cache,
                cache_update_index=index,
            )
            new_caches.append(cache)
        logits = self.embedding(self.final_norm(x[:, -1:, :]), reverse=True)[:, 0, :]
        return ops.cast(logits, "float32"), new_caches

    def _sample(self, logits, uniform):
        if self.greedy:
            return ops.cast(ops.argmax(logits, axis=-1), "int32")
        vocab = logits.shape[-1]
        values, indices = ops.top_k(logits / self.temperature, k=vocab)  # sorted descending
        rank = ops.arange(vocab, dtype="int32")[None, :]
        if self.top_k:
            values = ops.where(rank < self.top_k, values, -np.inf)
        probs = ops.softmax(values, axis=-1)
        if self.top_p < 1.0:
            # Keep the smallest prefix whose mass reaches top_p (the first token always).
            before = ops.cumsum(probs, axis=-1) - probs
            probs = ops.where(before < self.top_p, probs, 0.0)
        cdf = ops.cumsum(probs, axis=-1)
        threshold = uniform[:, None] * cdf[:, -1:]
        choice = ops.minimum(ops.sum(ops.cast(cdf <= threshold, "int32"), axis=-1), vocab - 1)
        return ops.cast(ops.take_along_axis(indices, choice[:, None], axis=-1)[:, 0], "int32")

    @staticmethod
    def _left_align(prompt, padding_mask, prompt_length):
        """Each row's real tokens moved to the row's end (pad ids set to 0), with the
        number of padding columns and of real tokens of each row."""
        real = ops.cast(ops.cast(padding_mask, "bool"), "int32")
        lengths = ops.sum(real, axis=1)
        pads = prompt_length - lengths
        first = ops.cast(ops.argmax(real, axis=1), "int32")  # the first real column
        columns = ops.arange(prompt_length, dtype="int32")[None, :]
        source = ops.clip(columns - pads[:, None] + first[:, None], 0, prompt_length - 1)
        aligned = ops.take_along_axis(ops.cast(prompt, "int32"), source, axis=1)
        aligned = ops.where(columns >= pads[:, None], aligned, 0)
        return aligned, pads, lengths

    def call(self, inputs):
        self.traces += 1
        prompt, uniforms = inputs["prompt_ids"], inputs["uniforms"]
        batch, prompt_length = ops.shape(prompt)[0], prompt.shape[1]
        if prompt_length is None:  # a SavedModel's `generate` signature: any prompt length
            prompt_length = ops.shape(prompt)[1]
        total = prompt_length + self.max_new_tokens
        # Each block's cache in the block's own compute dtype.
        caches = [b.init_cache(batch, total) for b in self.blocks]
        padded = inputs.get("padding_mask") is not None
        if padded:
            prompt, pads, lengths = self._left_align(prompt, inputs["padding_mask"], prompt_length)
            # Keys of padding columns are hidden from every real query; a padding query
            # sees only itself, so that no row of its attention is empty.
            keys = ops.arange(total, dtype="int32")[None, :]
            key_mask = keys >= pads[:, None]
            queries = ops.arange(prompt_length, dtype="int32")[None, :, None]
            own_key = ops.equal(queries, keys[:, None, :])
            prompt_mask = ops.logical_or(key_mask[:, None, :], own_key)
            positions = ops.maximum(
                ops.arange(prompt_length, dtype="int32")[None, :] - pads[:, None], 0
            )
            logits, caches = self._step(prompt, caches, 0, positions, mask=prompt_mask)
        else:
            logits, caches = self._step(prompt, caches, 0)
        end = -1 if self.end_token_id is None else self.end_token_id
        steps = ops.arange(self.max_new_tokens, dtype="int32")[None, :]
        tokens = ops.full((batch, self.max_new_tokens), max(end, 0), dtype="int32")
        all_logits = ops.zeros((batch, self.max_new_tokens, logits.shape[-1]), "float32")
        finished = ops.zeros((batch,), dtype="bool")

        def cond(i, logits, caches, tokens, all_logits, finished):
            return ops.logical_and(i < self.max_new_tokens, ops.logical_not(ops.all(finished)))

        def body(i, logits, caches, tokens, all_logits, finished):
            token = self._sample(logits, ops.take(uniforms, i, axis=1))
            token = ops.where(finished, max(end, 0), token)
            here = steps == i
            tokens = ops.where(here, token[:, None], tokens)
            all_logits = ops.where(here[:, :, None], logits[:, None, :], all_logits)
            finished = ops.logical_or(finished, token == end)
            if padded:  # row b's new token i is at position lengths[b] + i of its prompt
                positions = (lengths + i)[:, None]
                logits, caches = self._step(
                    token[:, None], caches, prompt_length + i, positions, key_mask
                )
            else:
                logits, caches = self._step(token[:, None], caches, prompt_length + i)
            return i + 1, logits, caches, tokens, all_logits, finished

        start = ops.convert_to_tensor(0, "int32")
        loop = ops.while_loop(cond, body, (start, logits, caches, tokens, all_logits, finished))
        return {"tokens": loop[3], "logits": loop[4]}


def generate(
    model,
    prompt_ids,
    max_new_tokens,
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    seed=None,
    greedy=False,
    end_token_id=None,
    return_logits=False,
    padding_mask=None,
):
    """Continues each prompt by sampling tokens from a GPT model, with a key/value cache.

    Args:
        model: a model built by `GPT` (possibly reloaded from a `.keras` file).
        prompt_ids: int array `(batch, prompt_length)`, or keras-hub's preprocessed form
            `{"token_ids": ..., "padding_mask": ...}`. The longest prompt plus
            `max_new_tokens` must not exceed the model's `max_sequence_length`.
        max_new_tokens: number of tokens to generate (>= 1).
        temperature: > 0; logits are divided by it before sampling.
        top_k: sample among the `top_k` most likely tokens (0: all).
        top_p: nucleus sampling: among the smallest set of most likely tokens whose
            probability reaches `top_p`, in (0, 1] (1: all).
        seed: int seed of the sampling (None: a fresh one each call).
        greedy: take the most likely token instead of sampling (then temperature,
            top_k and top_p are unused). Greedy decoding is only ever asked for here.
        end_token_id: a sequence stops after producing it; later positions hold it
            too, and decoding ends once every sequence has stopped.
        return_logits: also return the float32 logits each new token was chosen from.
        padding_mask: for prompts of different lengths in one batch, `(batch,
            prompt_length)` bool or 0/1, 1 on real tokens; each row's real tokens must
            be contiguous: right-padded (keras-hub's `GPT2CausalLMPreprocessor` packs
            prompts so) or left-padded. The ids under padding are not read. None: every
            token is real.

    Returns:
        int32 numpy array `(batch, max_new_tokens)` of new tokens, or `(tokens, logits)`
        with logits `(batch, max_new_tokens, vocabulary_size)` when `return_logits`.
        Row `b` continues its own prompt: with `greedy=True` it holds the tokens that
        generating that prompt alone gives.

    The decoding loop (`GPTGenerator`) is built once per model and settings and compiled
    on its first call for a given prompt shape; later calls reuse the compiled loop.
    """
    vocabulary_size, context = _config_of(model)
    check_positive_int("max_new_tokens", max_new_tokens)
    check_int("top_k", top_k, minimum=0)
    check_float("top_p", top_p, minimum=0, maximum=1, exclusive_minimum=True)
    try:
        check_positive_float("temperature", temperature)
    except ValueError as error:  # the likely intent of temperature=0 has its own switch
        raise ValueError(f"{error} For greedy decoding pass greedy=True.") from None
    check_int("seed", seed, minimum=0, allow_none=True)
    check_int("end_token_id", end_token_id, minimum=0, allow_none=True)
    ids, real = _prompt_and_mask(prompt_ids, padding_mask)
    longest = int(real.sum(axis=1).max())
    if longest > context:
        raise ValueError(
            f"The prompt has {longest} tokens, longer than the model's context length "
            f"max_sequence_length={context}."
        )
    if longest + max_new_tokens > context:
        raise ValueError(
            f"prompt length {longest} + max_new_tokens={max_new_tokens} = "
            f"{longest + max_new_tokens} exceeds the model's context length "
            f"max_sequence_length={context}."
        )
    tokens = ids[real]
    if tokens.min() < 0 or tokens.max() >= vocabulary_size:
        raise ValueError(
            f"prompt_ids holds token ids outside the vocabulary [0, {vocabulary_size}): "
            f"min {tokens.min()}, max {tokens.max()}."
        )
    if end_token_id is not None and end_token_id >= vocabulary_size:
        raise ValueError(
            f"end_token_id must be in [0, {vocabulary_size}); got end_token_id={end_token_id}."
        )
    settings = (max_new_tokens, bool(greedy), float(temperature), top_k, float(top_p))
    key = (*settings, end_token_id)
    generators = model.__dict__.setdefault("_generators", {})
    if key not in generators:
        generators[key] = GPTGenerator(model, *settings, end_token_id)
    uniforms = np.random.default_rng(seed).random((len(ids), max_new_tokens), dtype="float32")
    inputs = {"prompt_ids": np.where(real, ids, 0).astype("int32"), "uniforms": uniforms}
    if not real.all():  # a batch without padding keeps the loop without masks
        inputs["padding_mask"] = real.astype("int32")
    out = generators[key].predict_on_batch(inputs)
    tokens = np.asarray(out["tokens"])
    return (tokens, np.asarray(out["logits"])) if return_logits else tokens


def _numpy(x):
    if isinstance(x, (list, tuple, np.ndarray)):
        return np.asarray(x)
    return np.asarray(keras.ops.convert_to_numpy(x))  # a tensor of any backend


def _prompt_and_mask(prompt_ids, padding_mask):
    """`generate`'s prompts, checked: the ids `(batch, prompt_length)` and a bool mask of
    their real tokens (all True without a `padding_mask`)."""
    if isinstance(prompt_ids, dict):
        if set(prompt_ids) != {"token_ids", "padding_mask"}:
            raise ValueError(
                "prompt_ids given as a dict must have exactly the keys 'token_ids' and "
                f"'padding_mask' (keras-hub's preprocessed prompts); got {sorted(prompt_ids)}."
            )
        if padding_mask is not None:
            raise ValueError(
                "padding_mask is given twice: in the prompt_ids dict and as an argument."
            )
        prompt_ids, padding_mask = prompt_ids["token_ids"], prompt_ids["padding_mask"]
    ids = _numpy(prompt_ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu" or ids.shape[1] < 1:
        raise ValueError(
            "prompt_ids must be a 2-D integer array (batch, prompt_length) with "
            f"prompt_length >= 1; got shape {ids.shape} and dtype {ids.dtype}."
        )
    if padding_mask is None:
        return ids, np.ones(ids.shape, bool)
    mask = _numpy(padding_mask)
    if mask.shape != ids.shape or not np.isin(mask, (0, 1)).all():
        raise ValueError(
            f"padding_mask must be 0/1 or bool of the prompts' shape {ids.shape}; got shape "
            f"{mask.shape} with values {np.unique(mask)[:5].tolist()}."
        )
    real = mask.astype(bool)
    empty = np.flatnonzero(~real.any(axis=1))
    if empty.size:
        raise ValueError(
            f"Every prompt needs at least one real token; padding_mask of row {empty[0]} is all 0."
        )
    # One run of real tokens per row: the mask, framed by zeros, rises once and falls once.
    edges = np.abs(np.diff(np.pad(real.astype("int8"), ((0, 0), (1, 1))), axis=1)).sum(axis=1)
    holes = np.flatnonzero(edges != 2)
    if holes.size:
        raise ValueError(
            "Each prompt's real tokens must be contiguous (the prompt left- or right-padded); "
            f"padding_mask of row {holes[0]} is {mask[holes[0]].astype(int).tolist()}."
        )
    return ids, real
