"""Position encodings and the token + position embedding with a tied output projection."""

import math

import keras
from keras import ops

from keras_archs.layers._policy import (
    config_with_sublayer_policies,
    split_dtype,
    sublayer_dtype,
)
from keras_archs.layers._utils import check_ids_below, serialize_initializer
from keras_archs.validation import (
    check_choice,
    check_initializer,
    check_positive_float,
    check_positive_int,
)


def sinusoidal_encoding(length, dim, start_index=0, max_wavelength=10000.0, dtype="float32"):
    """`(length, dim)` encodings: PE[p, 2i] = sin(p / w^(2i/d)), PE[p, 2i+1] = cos(same)."""
    return _sinusoids(ops.arange(length) + start_index, dim, max_wavelength, dtype)


def _sinusoids(positions, dim, max_wavelength=10000.0, dtype="float32"):
    """The encodings `(*positions.shape, dim)` of an int tensor of positions."""
    positions = ops.cast(positions, "float32")
    index = ops.arange(dim)
    exponent = ops.cast(2 * (index // 2), "float32") / float(dim)
    timescales = ops.power(ops.cast(max_wavelength, "float32"), -exponent)
    angles = ops.expand_dims(positions, -1) * timescales
    is_cos = ops.cast(index % 2, "float32")
    encoding = ops.sin(angles) * (1.0 - is_cos) + ops.cos(angles) * is_cos
    return ops.cast(encoding, dtype)


@keras.saving.register_keras_serializable(package="keras_archs")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """The fixed sinusoidal position encoding of the Transformer.

    Vaswani et al., "Attention Is All You Need" (2017), section 3.5:
    `PE(pos, 2i) = sin(pos / 10000^(2i/d))`, `PE(pos, 2i+1) = cos(pos / 10000^(2i/d))`
    (sine and cosine interleaved, as the paper and keras-hub's
    `SinePositionEncoding`). Like keras-hub, the layer returns the encodings,
    broadcast to the input's shape `(batch, seq, dim)`, for the caller to add;
    `start_index` offsets the positions (incremental decoding). No weights.
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = check_positive_float("max_wavelength", max_wavelength)

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        encoding = sinusoidal_encoding(
            shape[-2], shape[-1], start_index, self.max_wavelength, self.compute_dtype
        )
        return ops.broadcast_to(encoding, shape)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="keras_archs")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus position embedding; `reverse=True` is the tied output projection.

    Learned positions as in GPT (Radford et al. 2018) and BERT (Devlin et al.
    2019), or the fixed sinusoids of Vaswani et al. (2017) with
    `position_encoding="sinusoidal"` (then `scale_embeddings=True` multiplies
    token embeddings by sqrt(embedding_dim), the paper's section 3.4). Weights:
    `token_embedding.embeddings` `(vocabulary_size, embedding_dim)` and, when
    learned, `position_embedding.embeddings` `(sequence_length, embedding_dim)`: keras-hub's
    `ReversibleEmbedding` and `PositionEmbedding` weights, in that order.

    Call:
        `layer(token_ids, start_index=0, positions=None)` -> `(batch, seq,
        embedding_dim)`; positions start at `start_index` (incremental decoding) and
        must stay below `sequence_length`. `positions`, an int tensor `(batch, seq)`,
        gives each token its own position instead (a batch of left-padded prompts,
        each counting from its first real token).
        `layer(hidden, reverse=True)` -> logits `hidden @ E^T`, `(batch, seq, vocab)`:
        the output projection tied to the input embedding (Press & Wolf 2017).
    With `mask_zero=True`, token id 0 is padding and a Keras mask is propagated.

    `model.quantize("int8")` quantizes both tables (they are `keras.layers.Embedding`
    sublayers); the tied projection and the positions then read them dequantized.
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        position_encoding="learned",
        scale_embeddings=False,
        mask_zero=False,
        embeddings_initializer="uniform",
        position_initializer="glorot_uniform",
        **kwargs,
    ):
        # A config's dtype may also record quantized sublayers (keras_archs.layers._policy).
        dtype, sublayer_policies = split_dtype(kwargs.pop("dtype", None))
        super().__init__(dtype=dtype, **kwargs)
        self._sublayer_policies = sublayer_policies
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.position_encoding = check_choice(
            "position_encoding", position_encoding, ("learned", "sinusoidal")
        )
        self.scale_embeddings = bool(scale_embeddings)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = check_initializer(
            "embeddings_initializer", embeddings_initializer
        )
        self.position_initializer = check_initializer("position_initializer", position_initializer)

    def build(self, inputs_shape=None):
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=keras.initializers.get(self.embeddings_initializer),
            mask_zero=self.mask_zero,
            name="token_embedding",
            dtype=sublayer_dtype(self, "token_embedding"),
        )
        self.token_embedding.build()
        self.position_embedding = None
        if self.position_encoding == "learned":
            # A sublayer (not an own weight) so the weight order is token, position.
            self.position_embedding = keras.layers.Embedding(
                self.sequence_length,
                self.embedding_dim,
                embeddings_initializer=keras.initializers.get(self.position_initializer),
                name="position_embedding",
                dtype=sublayer_dtype(self, "position_embedding"),
            )
            self.position_embedding.build()

    @property
    def position_embeddings(self):
        """The learned position table variable `(sequence_length, embedding_dim)`, or None."""
        return None if self.position_embedding is None else self.position_embedding.embeddings

    @staticmethod
    def _table(embedding, dtype):
        """An Embedding sublayer's whole table in `dtype`; a quantized one is read
        through the layer's own call, which dequantizes what it looks up."""
        if embedding.quantization_mode is None:
            return ops.cast(embedding.embeddings, dtype)
        return ops.cast(embedding(ops.arange(embedding.input_dim, dtype="int32")), dtype)

    def call(self, inputs, start_index=0, reverse=False, positions=None):
        if reverse:
            kernel = self._table(self.token_embedding, self.compute_dtype)
            return ops.matmul(ops.cast(inputs, self.compute_dtype), ops.transpose(kernel))
        length = inputs.shape[-1]
        if (
            self.position_embedding is not None
            and positions is None
            and isinstance(length, int)
            and isinstance(start_index, int)
            and start_index + length > self.sequence_length
        ):
            raise ValueError(
                f"Got {length} tokens from position {start_index}; the learned position "
                f"table holds sequence_length={self.sequence_length} positions (the model's "
                "max_sequence_length). Shorten or truncate the input."
            )
        check_ids_below(inputs, self.vocabulary_size, "token_ids", "vocabulary_size")
        x = self.token_embedding(inputs)
        if self.scale_embeddings:
            x = x * ops.cast(math.sqrt(self.embedding_dim), x.dtype)
        if positions is not None:
            if self.position_embedding is None:
                encoded = _sinusoids(positions, self.embedding_dim, dtype=self.compute_dtype)
            else:
                encoded = ops.cast(self.position_embedding(positions), self.compute_dtype)
            return x + encoded
        length = ops.shape(inputs)[-1]
        if self.position_embedding is None:
            encoded = sinusoidal_encoding(
                length, self.embedding_dim, start_index, dtype=self.compute_dtype
            )
        elif self.position_embedding.quantization_mode is None:
            table = ops.cast(self.position_embedding.embeddings, self.compute_dtype)
            encoded = ops.slice(table, (start_index, 0), (length, self.embedding_dim))
        else:
            ids = ops.arange(length, dtype="int32") + ops.cast(start_index, "int32")
            encoded = ops.cast(self.position_embedding(ids), self.compute_dtype)
        return x + encoded

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        if "int" in keras.backend.standardize_dtype(inputs.dtype):
            return ops.not_equal(inputs, 0)
        return mask  # reverse call: hidden states keep their mask

    def compute_output_spec(self, inputs, start_index=0, reverse=False, positions=None):
        last = self.vocabulary_size if reverse else self.embedding_dim
        shape = (*inputs.shape[:-1], last) if reverse else (*inputs.shape, last)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        config = {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "sequence_length": self.sequence_length,
            "embedding_dim": self.embedding_dim,
            "position_encoding": self.position_encoding,
            "scale_embeddings": self.scale_embeddings,
            "mask_zero": self.mask_zero,
            "embeddings_initializer": serialize_initializer(self.embeddings_initializer),
            "position_initializer": serialize_initializer(self.position_initializer),
        }
        return config_with_sublayer_policies(self, config)


@keras.saving.register_keras_serializable(package="keras_archs")
class SegmentEmbedding(keras.layers.Embedding):
    """BERT's segment (token type) embedding: `keras.layers.Embedding` whose ids, in an
    eager call, must lie in [0, input_dim); an id past the table would otherwise be
    clamped or read as zeros on JAX instead of raising."""

    def call(self, inputs):
        check_ids_below(inputs, self.input_dim, "segment_ids", "num_segments")
        return super().call(inputs)

    def quantize(self, mode=None, type_check=True, **kwargs):
        # Keras quantizes an Embedding subclass only when it opts in; this one is an
        # Embedding with a check, so Embedding's quantization holds as it is (as for
        # keras-hub's BertBackbone, whose segment embedding is a plain Embedding).
        super().quantize(mode, type_check=False, **kwargs)
