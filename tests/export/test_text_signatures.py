"""String signatures: a BERT classifier answers raw text; a GPT export's `generate` equals
the Keras `generate` greedy output for the same prompt. Served in a fresh process where
importing keras_archs is blocked, as TensorFlow Serving would serve them."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from keras_archs.applications.bert import BERT, BERTClassifier
from keras_archs.applications.gpt import GPT, generate
from keras_archs.data.bert import PYTHON_STDLIB_VOCABULARY
from keras_archs.export import describe_signatures, export_saved_model
from tests.utils import run_python

VOCAB = PYTHON_STDLIB_VOCABULARY  # the WordPiece vocabulary shipped with the package
PROMPTS = ["def main(", "import os\nclass Path", "x"]
TEXTS = ["def add(a, b):\n    return a + b", "import sys", "for i in range(10): pass"]

SERVE = """
import json, sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "keras_archs":
            raise ImportError("keras_archs is blocked")
sys.meta_path.insert(0, _Block())
import tensorflow as tf
import tensorflow_text  # noqa: F401  (WordPiece ops, as TF Serving's model server links in)
args = json.loads(sys.argv[1])
loaded = tf.saved_model.load(args["path"])
out = {"signatures": sorted(loaded.signatures)}
for key, (argument, values) in args["calls"].items():
    result = loaded.signatures[key](**{argument: tf.constant(values)})
    out[key] = {
        k: (
            [b.decode("utf-8") for b in v.numpy().tolist()]
            if v.dtype == tf.string
            else v.numpy().tolist()
        )
        for k, v in result.items()
    }
print("RESULT" + json.dumps(out))
"""


def _serve(path, calls):
    code = (
        f"import sys\nsys.argv = ['x', {json.dumps(json.dumps({'path': path, 'calls': calls}))}]\n"
    )
    stdout = run_python(code + SERVE)
    return json.loads(stdout.split("RESULT", 1)[1])


def _gpt():
    keras.utils.set_random_seed(1)
    return GPT(
        vocabulary_size=256,
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=48,
        dropout=0.0,
    )


def test_gpt_generate_signature_equals_keras_generate(tmp_path):
    import keras_hub

    model = _gpt()
    assert set(describe_signatures(model)) == {"serving_default", "generate", "serving_ids"}
    path = export_saved_model(model, tmp_path / "gpt", max_new_tokens=12)
    tokenizer = keras_hub.tokenizers.ByteTokenizer(dtype="int32")
    tokens, texts = [], []
    for prompt in PROMPTS:
        ids = np.asarray(tokenizer(prompt))[None, :]
        new = generate(model, ids, 12, greedy=True)
        tokens.append(new[0].tolist())
        texts.append(tokenizer.detokenize(new[0]))
    served = _serve(path, {"generate": ["prompt", PROMPTS], "serving_default": ["text", TEXTS[:2]]})
    assert served["signatures"] == ["generate", "serving_default", "serving_ids"]
    assert served["generate"]["token_ids"] == tokens
    assert served["generate"]["text"] == texts
    # serving_default: next-token logits of each position, padded to the longest text.
    ids = [np.asarray(tokenizer(t)) for t in TEXTS[:2]]
    logits = np.asarray(served["serving_default"]["logits"])
    for row, seq in enumerate(ids):
        want = keras.ops.convert_to_numpy(
            model({"token_ids": seq[None], "padding_mask": np.ones((1, len(seq)), "int32")})
        )[0]
        np.testing.assert_allclose(logits[row, : len(seq)], want, atol=1e-5)


def test_bert_classifier_answers_raw_text(tmp_path):
    import keras_hub

    keras.utils.set_random_seed(2)
    with open(VOCAB, encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    backbone = BERT(
        vocabulary_size=len(vocabulary),
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=32,
        sequence_length=32,
    )
    model = BERTClassifier(backbone, 3, activation="softmax")
    path = export_saved_model(model, tmp_path / "bert", tokenizer=VOCAB)
    served = _serve(path, {"serving_default": ["text", TEXTS]})
    assert served["signatures"] == ["serving_default", "serving_ids"]
    # The same text packed by hand: [CLS] tokens [SEP] [PAD]..., one segment.
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocabulary, lowercase=False, strip_accents=False, dtype="int32"
    )
    cls, sep, pad = (vocabulary.index(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
    token_ids = np.full((len(TEXTS), 32), pad, "int32")
    for i, t in enumerate(TEXTS):
        ids = [cls, *np.asarray(tokenizer(t)).tolist()[:30], sep]
        token_ids[i, : len(ids)] = ids
    x = {
        "token_ids": token_ids,
        "segment_ids": np.zeros_like(token_ids),
        "padding_mask": (token_ids != pad).astype("int32"),
    }
    want = keras.ops.convert_to_numpy(model(x))
    assert describe_signatures(model, tokenizer=VOCAB)["serving_default"] == (
        {"text": ((None,), "string")},
        ["probabilities"],
    )
    got = np.asarray(served["serving_default"]["probabilities"])
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.allclose(got.sum(-1), 1.0, atol=1e-5)


def test_text_tokenizer_bad_input(tmp_path):
    model = _gpt()
    with pytest.raises(ValueError, match="tokenizer must be a path to an existing file"):
        export_saved_model(model, tmp_path / "a", tokenizer=str(tmp_path / "missing.txt"))
    with pytest.raises(TypeError, match="tokenizer must be None, 'auto'"):
        export_saved_model(model, tmp_path / "b", tokenizer=42)
    with pytest.raises(ValueError, match="max_new_tokens"):
        export_saved_model(model, tmp_path / "c", max_new_tokens=0)
    with pytest.raises(ValueError, match="leaves no room for a prompt"):
        export_saved_model(model, tmp_path / "d", max_new_tokens=48)
    lenet = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="dense_net")
    with pytest.raises(ValueError, match="is not a text model"):
        export_saved_model(lenet, tmp_path / "e", tokenizer=VOCAB)
    for folder in "abcde":
        assert not (tmp_path / folder).exists()


def test_cli_exports_gpt_mini_with_string_signatures(tmp_path, capsys):
    from keras_archs.cli import main

    out = tmp_path / "gpt_mini"
    assert main(["export", "gpt_mini", "--out", str(out), "--example-request"]) == 0
    body = json.loads((out / "request.json").read_text())
    assert body == {
        "signature_name": "serving_default",
        "instances": [{"text": "def main():\n    "}],
    }
    served = _serve(str(out / "1"), {"generate": ["prompt", ["def "]]})
    assert served["signatures"] == ["generate", "serving_default", "serving_ids"]
    assert len(served["generate"]["token_ids"][0]) == 32  # --max-new-tokens default
    assert main(["export", "gpt_mini", "--out", str(out), "--tokenizer", "none"]) == 0
    assert sorted(os.listdir(out)) == ["1", "2", "request.json"]
