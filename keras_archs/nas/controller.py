"""The controller: an LSTM policy over cell specifications, trained with REINFORCE.

Zoph & Le (2017) and Zoph et al. (2018): a recurrent network emits a specification one
decision at a time, each through its own softmax classifier, and feeds the chosen
option back in as the next step's input. The children's validation accuracy R is the
reward; the policy gradient is `(R - b) * grad log p(specification)` with `b` a moving
average of past rewards, plus an entropy bonus that keeps the policy exploring.
"""

import keras
import numpy as np
from keras import ops

from keras_archs.validation import check_float, check_int

_MASKED = -1e9  # the logit of an option a decision does not have


@keras.saving.register_keras_serializable(package="keras_archs")
class Controller(keras.Model):
    """An LSTM policy over a fixed sequence of decisions.

    Called on the previous decisions' tokens `(batch, steps)` (teacher forcing: token
    0 starts the sequence, step t then sees decision t - 1's choice), it returns the
    logits `(batch, steps, max_choices)` of every step's classifier, -1e9 where a step
    has fewer options. `sample` draws specifications token by token with the LSTM's
    cell; training (`fit` / `train_on_batch` with `y` the chosen tokens and
    `sample_weight` the advantages R - b) minimises the REINFORCE loss of `compute_loss`
    on any backend.

    Args:
        num_choices: the number of options of each decision, in order.
        units: the LSTM's width (the NASNet controller: one layer of 100).
        embedding_dim: the width of the embedded previous choice.
        entropy_weight: the weight of the entropy bonus.
    """

    def __init__(self, num_choices, units=100, embedding_dim=32, entropy_weight=1e-2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_choices, (list, tuple)) or not num_choices:
            raise ValueError(f"num_choices must be a non-empty list; got {num_choices!r}.")
        self.num_choices = [check_int("num_choices", n, minimum=1) for n in num_choices]
        self.units = check_int("units", units, minimum=1)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, minimum=1)
        self.entropy_weight = check_float("entropy_weight", entropy_weight, minimum=0.0)
        steps, width = len(self.num_choices), max(self.num_choices)
        # Each step's options have tokens of their own (1 + offset + choice; 0 starts).
        self._offsets = np.concatenate([[0], np.cumsum(self.num_choices)[:-1]]).astype("int32")
        mask = np.full((steps, width), _MASKED, "float32")
        for t, n in enumerate(self.num_choices):
            mask[t, :n] = 0.0
        self._mask = mask
        self.embedding = keras.layers.Embedding(1 + sum(self.num_choices), embedding_dim)
        self.lstm = keras.layers.LSTM(units, return_sequences=True)
        # One softmax classifier per step, as one einsum: step t's logits are h_t W_t + b_t.
        self.classifiers = keras.layers.EinsumDense(
            "btu,tuv->btv", output_shape=(steps, width), bias_axes="tv"
        )

    def build(self, input_shape=None):
        steps = len(self.num_choices)
        self.embedding.build((None, steps))
        self.lstm.build((None, steps, self.embedding_dim))
        self.classifiers.build((None, steps, self.units))
        self.built = True

    def tokens_in(self, actions):
        """The inputs that produced `actions` `(batch, steps)`: the start token, then each
        step's choice as that step's own token."""
        actions = np.asarray(actions, "int32")
        shifted = 1 + self._offsets[None, :] + actions
        start = np.zeros((actions.shape[0], 1), "int32")
        return np.concatenate([start, shifted[:, :-1]], axis=1)

    def call(self, tokens):
        h = self.lstm(self.embedding(tokens))
        return self.classifiers(h) + ops.convert_to_tensor(self._mask, dtype=h.dtype)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        # REINFORCE: -(R - b) log p(actions), averaged over the batch, minus the bonus.
        log_p = ops.log_softmax(y_pred, axis=-1)
        chosen = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(y, "int32"), -1), axis=-1)
        log_likelihood = ops.sum(ops.squeeze(chosen, -1), axis=-1)
        advantage = ops.ones_like(log_likelihood) if sample_weight is None else sample_weight
        entropy = -ops.sum(ops.exp(log_p) * log_p, axis=-1)  # masked options add 0
        loss = -ops.mean(ops.cast(advantage, log_likelihood.dtype) * log_likelihood)
        return loss - self.entropy_weight * ops.mean(ops.sum(entropy, axis=-1))

    def sample(self, rng, count):
        """`count` token lists drawn from the policy, with the mean entropy (nats per
        decision) of the distributions each was drawn from and its log-probability."""
        if not self.built:
            self.build()
        tokens = np.zeros((count,), "int32")
        state = [ops.zeros((count, self.units)), ops.zeros((count, self.units))]
        kernel, bias = (ops.convert_to_numpy(w) for w in self.classifiers.weights)
        actions, entropy, log_p = [], np.zeros(count), np.zeros(count)
        for t, n in enumerate(self.num_choices):
            h, state = self.lstm.cell(self.embedding(ops.convert_to_tensor(tokens)), state)
            logits = ops.convert_to_numpy(h).astype("float64") @ kernel[t, :, :n] + bias[t, :n]
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            # Inverse-CDF draws from one uniform per row: the same seed, the same tokens.
            u = rng.random(count)
            choice = np.minimum((p.cumsum(axis=1) < u[:, None]).sum(axis=1), n - 1)
            entropy += -(p * np.log(np.maximum(p, 1e-30))).sum(axis=1)
            log_p += np.log(p[np.arange(count), choice])
            actions.append(choice)
            tokens = (1 + self._offsets[t] + choice).astype("int32")
        actions = np.stack(actions, axis=1)
        return actions.tolist(), entropy / len(self.num_choices), log_p

    def get_config(self):
        return {
            **super().get_config(),
            "num_choices": list(self.num_choices),
            "units": self.units,
            "embedding_dim": self.embedding_dim,
            "entropy_weight": self.entropy_weight,
        }
