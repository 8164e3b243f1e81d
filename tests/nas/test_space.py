"""The NASNet search space: cell specifications as data, the published cells, decoding."""

import json

import keras
import numpy as np
import pytest

from keras_archs.applications import NASNet, NASNetCustom
from keras_archs.applications.nasnet import NASNET_A, OPERATIONS, check_cell_spec
from keras_archs.nas import Controller, SearchSpace


def test_published_cells_round_trip_through_json_and_rebuild_both_nasnets(tmp_path):
    path = tmp_path / "nasnet_a.json"
    path.write_text(json.dumps(NASNET_A))
    assert check_cell_spec(str(path)) == NASNET_A
    mobile = dict(penultimate_filters=1056, num_blocks=4, stem_block_filters=32)
    large = dict(penultimate_filters=4032, num_blocks=6, stem_block_filters=96)
    for config, skip, count in ((mobile, False, 5_326_716), (large, True, 88_949_818)):
        model = NASNet(
            (32, 32, 3), weights=None, skip_reduction=skip, cell_spec=str(path), **config
        )
        assert model.count_params() == count
        keras.backend.clear_session()


def test_tokens_round_trip_and_the_published_cells_are_in_the_space():
    space = SearchSpace(5)
    assert len(space) == 2 * 5 * 5
    tokens = space.encode(NASNET_A)
    decoded = space.decode(tokens)
    for kind in ("normal", "reduction"):
        assert decoded[kind]["blocks"] == NASNET_A[kind]["blocks"]
    # The search's concatenation rule: the blocks' outputs no block takes.
    assert decoded["reduction"]["concat"] == [4, 5, 6]
    assert space.encode(decoded) == tokens


def test_a_thousand_sampled_specifications_are_valid_and_a_subset_builds():
    space = SearchSpace(5)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    controller = Controller(space.num_choices)
    tokens = space.sample_uniform(rng, 500) + controller.sample(rng, 500)[0]
    specs = [space.decode(t) for t in tokens]  # decode checks each one
    ops = {op for s in specs for c in s.values() for b in c["blocks"] for op in b["ops"]}
    assert ops == set(OPERATIONS)  # every operation occurs
    assert any(b["combine"] == "concat" for s in specs for b in s["normal"]["blocks"])
    x = np.random.default_rng(1).standard_normal((2, 8, 8, 1)).astype("float32")
    for i in rng.choice(len(specs), 3, replace=False):
        model = NASNetCustom(
            specs[i], input_shape=(8, 8, 1), num_blocks=1, penultimate_filters=48,
            stem_block_filters=4,
        )  # fmt: skip
        probabilities = keras.ops.convert_to_numpy(model(x))
        assert probabilities.shape == (2, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        keras.backend.clear_session()


def _spec_with(kind, block, **changes):
    spec = json.loads(json.dumps(NASNET_A))
    spec[kind]["blocks"][block].update(changes)
    return spec


@pytest.mark.parametrize(
    "spec, match",
    [
        (
            _spec_with("normal", 2, inputs=[0, 5]),
            r"cell_spec\['normal'\] block 2: inputs\[1\]=5 does not exist yet: block 2 takes "
            "hidden states 0 to 3",
        ),
        (
            _spec_with("reduction", 4, ops=["sep_conv_3x3", "conv_9x9"]),
            r"cell_spec\['reduction'\] block 4: ops\[1\]='conv_9x9' is not an operation; "
            "known: identity",
        ),
        (_spec_with("normal", 0, combine="mul"), r"block 0: combine='mul' is not one of"),
        (_spec_with("normal", 1, inputs=[0]), r"block 1: inputs must be a list of two"),
        ({"normal": NASNET_A["normal"]}, 'exactly the cells "normal" and "reduction"'),
        (
            {**NASNET_A, "normal": {"blocks": NASNET_A["normal"]["blocks"], "concat": [9]}},
            r"cell_spec\['normal'\]: concat=\[9\] must list hidden states from 0 to 6",
        ),
        ("/no/such/cells.json", "is not a readable JSON file"),
    ],
)
def test_bad_specifications_name_the_block_and_the_field(spec, match):
    with pytest.raises(ValueError, match=match):
        NASNetCustom(spec)


def test_imagenet_weights_only_for_the_published_cells():
    spec = _spec_with("normal", 0, ops=["conv_3x3", "identity"])
    with pytest.raises(ValueError, match="only for the published NASNet-A cells"):
        NASNet(cell_spec=spec, weights="imagenet")
