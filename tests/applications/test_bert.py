"""BERT: keras-hub parity, bidirectionality, padding, heads, dtype policies, int8
quantization, bad input, learning."""

import os
import sys

import keras
import numpy as np
import pytest

import keras_archs
from keras_archs.applications.bert import (
    BERT,
    BERTClassifier,
    BERTPretrainer,
    BERTTokenClassifier,
    backbone_config,
)
from keras_archs.convert import from_keras_hub
from keras_archs.data import DatasetUnavailableError, datasets
from keras_archs.data import bert as bert_data
from tests.harness import check_run_folder
from tests.utils import SHARED_CPU_SLACK

SMALL = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    dropout=0.0,
    max_sequence_length=24,
)


def _inputs(batch=3, length=20, vocab=50, segments=2, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(0, vocab, (batch, length)).astype("int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }
    x["segment_ids"][:, length // 2 :] = rng.integers(1, segments, (batch, 1))
    x["padding_mask"][1, 13:] = 0
    x["padding_mask"][2, 5:] = 0
    return x


def _np(tree):
    return {k: keras.ops.convert_to_numpy(v) for k, v in tree.items()}


def test_presets_parameter_counts_and_config():
    model = keras_archs.create_model("bert_tiny")
    assert model.count_params() == 4_385_920
    assert backbone_config(model) == {
        "vocabulary_size": 30522,
        "num_layers": 2,
        "num_heads": 2,
        "hidden_dim": 128,
        "intermediate_dim": 512,
        "dropout": 0.1,
        "max_sequence_length": 512,
        "num_segments": 2,
    }
    assert keras_archs.model_info("bert_base")["reference_params"] == 109_482_240
    names = {t.name for t in model.inputs}
    assert names == {"token_ids", "segment_ids", "padding_mask"}
    assert set(model.output) == {"sequence_output", "pooled_output"}


@pytest.mark.parametrize("sequence_length", [None, 20])
def test_keras_hub_parity(sequence_length):
    import keras_hub

    keras.utils.set_random_seed(1)
    hub = keras_hub.models.BertBackbone(
        vocabulary_size=97,
        num_layers=3,
        num_heads=4,
        hidden_dim=32,
        intermediate_dim=48,
        dropout=0.1,
        max_sequence_length=24,
        num_segments=3,
    )
    # Move every weight off its initial value, so ones/zeros cannot hide a wrong copy.
    rng = np.random.default_rng(0)
    for w in hub.weights:
        w.assign(w.numpy() + rng.normal(0, 0.1, w.shape).astype("float32"))
    model = from_keras_hub(hub, sequence_length=sequence_length)
    assert model.count_params() == hub.count_params()
    assert backbone_config(model) == {k: hub.get_config()[k] for k in backbone_config(model)}
    x = _inputs(vocab=97, segments=3)
    expected, got = _np(hub(x)), _np(model(x))
    for key in ("sequence_output", "pooled_output"):
        assert np.abs(expected[key] - got[key]).max() < 1e-5, key
    assert np.abs(got["pooled_output"]).max() > 0.1  # not trivially zero


def test_from_keras_hub_rejects_other_types():
    with pytest.raises(TypeError, match="BertBackbone"):
        from_keras_hub(keras.Sequential())


def test_bidirectional_and_padding():
    keras.utils.set_random_seed(0)
    model = BERT(**SMALL)
    x = _inputs()
    base = _np(model(x))["sequence_output"]
    # Changing a token late in the sequence changes outputs at every earlier position.
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][0, 15] = (y["token_ids"][0, 15] + 1) % 50
    changed = _np(model(y))["sequence_output"]
    assert (np.abs(changed[0, :15] - base[0, :15]).max(axis=-1) > 1e-6).all()
    assert np.array_equal(changed[1:], base[1:])  # other examples untouched
    # Changing padded tokens (and their segments) leaves every real position unchanged.
    z = {k: v.copy() for k, v in x.items()}
    z["token_ids"][1, 13:] = (z["token_ids"][1, 13:] + 7) % 50
    z["token_ids"][2, 5:] = 0
    z["segment_ids"][2, 5:] = 0
    padded = _np(model(z))
    assert np.abs(padded["sequence_output"][1, :13] - base[1, :13]).max() < 1e-6
    assert np.abs(padded["sequence_output"][2, :5] - base[2, :5]).max() < 1e-6
    pooled = _np(model(x))["pooled_output"]
    assert np.abs(padded["pooled_output"] - pooled).max() < 1e-6


def test_segments_matter():
    keras.utils.set_random_seed(0)
    model = BERT(**SMALL)
    x = _inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["segment_ids"][:] = 0
    assert np.abs(_np(model(x))["sequence_output"] - _np(model(y))["sequence_output"]).max() > 1e-3


def test_heads():
    keras.utils.set_random_seed(0)
    backbone = BERT(**SMALL)
    x = _inputs()
    pretrainer = BERTPretrainer(backbone, max_predictions=4)
    positions = np.array([[1, 2, 3, 4], [0, 5, 6, 12], [4, 3, 2, 1]], "int32")
    out = _np(pretrainer({**x, "mask_positions": positions}))
    assert out["mlm"].shape == (3, 4, 50) and out["nsp"].shape == (3, 2)
    # The MLM logits at slot j depend only on the sequence output at positions[:, j].
    swapped = _np(pretrainer({**x, "mask_positions": positions[:, ::-1].copy()}))
    np.testing.assert_allclose(swapped["mlm"], out["mlm"][:, ::-1], atol=1e-6)
    assert pretrainer.count_params() == backbone.count_params() + (16 * 16 + 16) + 32 + (
        16 * 50 + 50
    ) + (16 * 2 + 2)
    classifier = BERTClassifier(backbone, num_classes=3)
    assert tuple(classifier(x).shape) == (3, 3)
    tagger = BERTTokenClassifier(backbone, num_classes=5)
    assert tuple(tagger(x).shape) == (3, 20, 5)
    # Heads share the backbone's weights.
    for head in (pretrainer, classifier, tagger):
        assert head.get_layer(backbone.name) is backbone


def test_pretrainer_fits_on_pipeline():
    from keras_archs.applications.bert import pretraining_losses

    vocab = [*bert_data.BERT_SPECIAL_TOKENS, *(f"w{i}" for i in range(44))]
    # A stream with structure (runs of consecutive ids) so the MLM loss can fall.
    stream = (np.arange(20_000) % 44 + 6).astype("int32")
    ds = bert_data.bert_pretraining_dataset(stream, vocab, 16, 32, shuffle=True, seed=0)
    held_out = bert_data.bert_pretraining_dataset(stream, vocab, 16, 256, seed=1, num_examples=256)
    keras.utils.set_random_seed(0)
    backbone = BERT(**{**SMALL, "max_sequence_length": 16}, sequence_length=16)
    model = BERTPretrainer(backbone, max_predictions=3)
    model.compile(optimizer=keras.optimizers.Adam(5e-3), loss=pretraining_losses())
    before = model.evaluate(held_out, verbose=0, return_dict=True)["mlm_loss"]
    model.fit(ds.repeat(), steps_per_epoch=300, epochs=1, verbose=0)
    after = model.evaluate(held_out, verbose=0, return_dict=True)["mlm_loss"]
    # Before: about ln(50) = 3.9 per chosen token (the mean over chosen slots only).
    assert before > 3.0 and after < 0.65 * before, (before, after)


@pytest.mark.parametrize("policy", ["bfloat16", "mixed_bfloat16"])
def test_dtype_policy_reaches_every_layer_and_the_config(policy):
    """`BERT(dtype=...)` under a float32 global policy: every layer, the sublayers built
    in `build()` included, holds the policy, each layer's config records it, the heads
    follow the backbone, and the outputs stay within bfloat16 rounding of the float32
    model's with the same weights."""
    keras.utils.set_random_seed(2)
    reference = BERT(**SMALL)
    model = BERT(**SMALL, dtype=policy)
    expected = keras.DTypePolicy(policy)
    layers = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    assert len(layers) > 20  # the sublayers of the blocks and the embedding too
    for layer in layers:
        assert layer.dtype_policy.name == policy, layer.path
        assert layer.compute_dtype == "bfloat16", layer.path
        assert layer.variable_dtype == expected.variable_dtype, layer.path
    assert {v.dtype for v in model.weights} == {expected.variable_dtype}
    for config in model.get_config()["layers"]:
        if "dtype" in config["config"] and config["class_name"] != "InputLayer":
            assert config["config"]["dtype"]["config"]["name"] == policy, config["name"]
    rebuilt = keras.Model.from_config(model.get_config())
    assert rebuilt.get_layer("transformer_layer_0").self_attention.attention.compute_dtype == (
        "bfloat16"
    )
    classifier = BERTClassifier(model, num_classes=3)
    assert classifier.get_layer("logits").dtype_policy.name == policy
    assert classifier.get_layer("predictions").compute_dtype == "float32"  # float32 scores

    model.set_weights(reference.get_weights())
    x = _inputs()
    want, got = _np(reference(x)), _np(model(x))
    for key in ("sequence_output", "pooled_output"):
        assert got[key].dtype == "bfloat16", key
        error = np.abs(got[key].astype("float32") - want[key]).max()
        assert error < 0.03 * np.abs(want[key]).max(), (key, error)  # measured 0.01


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize` method")
def test_int8_quantized_model_saves_reloads_and_round_trips(tmp_path):
    """`quantize("int8")` on a backbone and on a classifier around one (a nested model):
    outputs near the float ones, the `.keras` file reloads (safe_mode, no
    custom_objects) with int8 kernels and the same outputs, and the config rebuilds it."""
    keras.utils.set_random_seed(3)
    x = _inputs()
    for model in (BERT(**SMALL), BERTClassifier(BERT(**SMALL), num_classes=3)):
        before = keras.tree.flatten(_np_any(model(x)))
        model.quantize("int8")
        quantized = keras.tree.flatten(_np_any(model(x)))
        for a, b in zip(before, quantized):
            assert np.abs(a - b).max() < 0.05 * np.abs(a).max()  # measured 0.3% to 1%
        int8 = {v.path for v in model.weights if v.dtype == "int8"}
        assert "transformer_layer_1/feedforward_output_dense/kernel" in int8
        assert "segment_embedding/embeddings" in int8
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        reloaded = keras.saving.load_model(path, safe_mode=True)
        assert {v.path for v in reloaded.weights if v.dtype == "int8"} == int8
        for a, b in zip(quantized, keras.tree.flatten(_np_any(reloaded(x)))):
            np.testing.assert_allclose(b, a, atol=1e-6)
        rebuilt = keras.Model.from_config(model.get_config())
        rebuilt.set_weights(model.get_weights())
        for a, b in zip(quantized, keras.tree.flatten(_np_any(rebuilt(x)))):
            np.testing.assert_allclose(b, a, atol=1e-6)


def _np_any(tree):
    return keras.tree.map_structure(keras.ops.convert_to_numpy, tree)


def test_unsupported_quantization_mode_is_one_clear_error():
    """Keras' own check names the mode and the accepted ones, before any layer changes."""
    model = BERT(**SMALL)
    with pytest.raises(ValueError, match=r"(?s)Invalid quantization mode.*'int8'.*mode=int3"):
        model.quantize("int3")
    assert all(layer.quantization_mode is None for layer in model._flatten_layers())


def test_bad_input():
    with pytest.raises(ValueError, match="sequence_length=30 exceeds max_sequence_length=24"):
        BERT(**SMALL, sequence_length=30)
    with pytest.raises(ValueError, match="preset"):
        BERT(preset="bert_huge")
    with pytest.raises(ValueError, match="num_heads must divide hidden_dim"):
        BERT(**{**SMALL, "num_heads": 3})
    with pytest.raises(ValueError, match="dropout"):
        BERT(**{**SMALL, "dropout": 1.0})
    with pytest.raises(ValueError, match="num_segments"):
        BERT(**SMALL, num_segments=0)
    with pytest.raises(ValueError, match="BERT needs"):
        BERT(vocabulary_size=10)
    with pytest.raises(
        ValueError, match=r"dtype must be a float dtype policy name .*got dtype='int8'"
    ):
        BERT(**SMALL, dtype="int8")
    with pytest.raises(ValueError, match=r"not a BERT backbone|token_ids"):
        BERTClassifier(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), 2)


def test_bad_input_at_call_time():
    """Values that only exist at call time: too long, segment or token ids out of range."""
    model = BERT(**SMALL)  # any length up to max_sequence_length=24
    x = _inputs(length=30)
    with pytest.raises(ValueError, match=r"Got 30 tokens.*sequence_length=24"):
        model(x)
    x = _inputs(length=20)
    x["segment_ids"][0, -1] = 2
    with pytest.raises(ValueError, match=r"segment_ids must be in \[0, 2\) for num_segments=2"):
        model(x)
    x = _inputs(length=20)
    x["token_ids"][1, 3] = 50
    with pytest.raises(
        ValueError, match=r"token_ids must be in \[0, 50\) .*got values from 0 to 50"
    ):
        model(x)
    model(_inputs(length=20))  # in range: fine


def _recipe(module="bert_pretrain_python_stdlib"):
    """A recipe module of the top-level applications/ folder."""
    import importlib

    root = os.path.join(os.path.dirname(__file__), "..", "..", "applications")
    sys.path.insert(0, os.path.abspath(root))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.pop(0)


def test_shipped_vocabulary_file():
    """The shipped WordPiece vocabulary starts with the BERT special tokens and covers code."""
    tokenizer = bert_data.python_stdlib_wordpiece()
    specials, size = bert_data.bert_special_ids(tokenizer)
    assert list(specials.values()) == list(range(6)) and size == tokenizer.vocabulary_size
    ids = tokenizer.encode("def main(self, path):\n    return os.path.join(path, 'x')\n")
    assert ids.size > 10 and not np.isin(ids, list(specials.values())).any()


@pytest.mark.slow
def test_keras_archs_train_bert_tiny_learns_python_stdlib(tmp_path):
    """`keras-archs train bert_tiny --epochs 2 --steps-per-epoch 200`: the default recipe,
    its linear decay fitted into 400 steps instead of 1,700. Measured on the 2,048
    validation pairs: masked tokens 0.132 against 0.047 for the most frequent token, and
    next-sentence accuracy 0.589 (0.646 after the default 1,700 steps, which
    `scripts/text_recipes.py` checks). The bars: masked tokens at least twice the most
    frequent token, and next sentences 0.54, 3.6 standard errors above chance."""
    reached = _recipe().run(out=str(tmp_path / "run"), verbose=0, epochs=2, steps_per_epoch=200)
    reached.pop("result")
    print(reached)
    assert reached["steps"] == 400
    assert reached["mlm_accuracy"] >= 2 * reached["most_frequent_accuracy"], reached
    assert reached["nsp_accuracy"] > 0.54, reached
    # Half the default run's 300 s budget for a quarter of its steps (loaded machines).
    assert reached["train_seconds"] < 150 * SHARED_CPU_SLACK, reached
    # The run folder, as every `keras-archs train` writes it (tests/training/test_fit.py).
    check_run_folder(tmp_path / "run", tmp_path)


def _sentiment_texts(n, seed):
    """Reviews of neutral filler words with one sentiment word that decides the label."""
    rng = np.random.default_rng(seed)
    filler = ["the", "movie", "plot", "actors", "was", "really", "quite", "and", "ending"]
    words = {1: ["good", "great", "wonderful"], 0: ["bad", "awful", "boring"]}
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        tokens = list(rng.choice(filler, int(rng.integers(4, 10))))
        tokens.insert(int(rng.integers(0, len(tokens) + 1)), str(rng.choice(words[label])))
        texts.append(" ".join(tokens))
        labels.append(label)
    return texts, labels


def _text_folder(root, n, seed):
    for i, (text, label) in enumerate(zip(*_sentiment_texts(n, seed))):
        folder = root / ("positive" if label else "negative")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text)
    (root / "positive" / "notes.md").write_text("not a .txt file: ignored")
    return root


def test_text_folder_finetunes_bert_with_a_google_style_vocabulary(tmp_path):
    """`keras-archs train bert_tiny --data FOLDER`: one sub-folder of .txt files per class,
    a vocabulary file with only [PAD]/[UNK]/[CLS]/[SEP]/[MASK] (no [END], as Google's),
    and a held-out accuracy far above chance on a task the pooled [CLS] vector must
    learn. The run starts from a saved BERT's weights (`init_from`)."""
    filler = "the movie plot actors was really quite and ending good great wonderful"
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *filler.split(), "bad"]
    vocabulary += ["awful", "boring"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    folder = _text_folder(tmp_path / "reviews", 640, 0)
    config = {**SMALL, "vocabulary_size": len(vocabulary), "max_sequence_length": 16}
    keras.utils.set_random_seed(1)
    start = BERT(**config, sequence_length=16)
    BERTPretrainer(start, max_predictions=3).save(tmp_path / "start.keras")
    result = keras_archs.training.train(
        "bert_tiny",
        data=str(folder),
        data_kwargs={"vocabulary": str(tmp_path / "vocab.txt"), "sequence_length": 16},
        model_kwargs={k: v for k, v in config.items() if k != "vocabulary_size"},
        init_from=str(tmp_path / "start.keras"),
        epochs=10,  # from scratch (4 epochs stay at chance); a pre-trained encoder needs 2
        learning_rate=1e-3,
        batch_size=32,
        out=str(tmp_path / "run"),
        verbose=0,
    )
    assert result.model.output_shape == (None, 2)  # the classifier head, two classes
    assert result.config["init_from"] == str(tmp_path / "start.keras")
    assert result.val_accuracy > 0.9, result.history["val_accuracy"]


def test_init_from_copies_the_backbone_and_leaves_new_heads():
    keras.utils.set_random_seed(0)
    pretrainer = BERTPretrainer(BERT(**SMALL, sequence_length=8), max_predictions=2)
    keras.utils.set_random_seed(1)
    classifier = BERTClassifier(BERT(**SMALL, sequence_length=8, name="renamed"), 3)
    before = classifier.get_layer("logits").get_weights()
    copied = keras_archs.training.initialize_from(classifier, pretrainer)
    backbone = classifier.get_layer("renamed")  # matched by its weight shapes
    assert copied == len(backbone.weights)
    source = next(layer for layer in pretrainer.layers if isinstance(layer, keras.Model))
    for got, want in zip(backbone.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(classifier.get_layer("logits").get_weights(), before):
        np.testing.assert_array_equal(got, want)
    # Another vocabulary: the blocks match layer by layer, the token embedding does not.
    other = BERTClassifier(BERT(**{**SMALL, "vocabulary_size": 60}, sequence_length=8), 3)
    copied = keras_archs.training.initialize_from(other, pretrainer)
    backbone = next(layer for layer in other.layers if isinstance(layer, keras.Model))
    assert 0 < copied < len(backbone.weights)
    other = BERTClassifier(BERT(**{**SMALL, "hidden_dim": 8, "intermediate_dim": 8}), 3)
    with pytest.raises(ValueError, match="no layer of 'bert_pretrainer' matches"):
        keras_archs.training.initialize_from(other, pretrainer)


def test_imdb_recipe_fails_fast_offline(monkeypatch):
    monkeypatch.setattr(datasets, "is_online", lambda *a, **k: False)
    with pytest.raises(DatasetUnavailableError, match="imdb_reviews"):
        _recipe("bert_finetune_imdb").main([])
