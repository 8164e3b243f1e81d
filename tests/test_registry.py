import inspect

import pytest

import keras_archs
from keras_archs import registry


def test_list_models_sorted_and_filtered():
    names = keras_archs.list_models()
    assert names == sorted(names)
    assert {"lenet5", "alexnet"} <= set(names)
    assert keras_archs.list_models("lenet*") == ["lenet5"]
    assert keras_archs.list_models("no_such_model*") == []
    with pytest.raises(TypeError, match="pattern"):
        keras_archs.list_models(5)


def test_unknown_name_names_close_matches():
    with pytest.raises(ValueError, match=r"Unknown model name='lenet6'.*Did you mean 'lenet5'"):
        keras_archs.create_model("lenet6")
    with pytest.raises(ValueError, match="alexnet"):
        keras_archs.model_info("alexnett")


def test_create_model_never_downloads_by_default():
    # Every builder that takes `weights` gets weights=None unless the caller passes one.
    for name in keras_archs.list_models():
        spec = registry.get_spec(name)
        params = inspect.signature(spec.builder).parameters
        if "weights" in params:
            built = {}

            def fake(weights="imagenet", **kwargs):
                built["weights"] = weights  # noqa: B023 - used in this iteration only

            fake_spec = registry.ModelSpec(**{**spec.__dict__, "builder": fake})
            fake_spec.build()
            assert built["weights"] is None, name


def test_model_info_fields():
    info = keras_archs.model_info("lenet5")
    assert info["family"] == "lenet"
    assert info["year"] == 1998
    assert info["default_input_shape"] == (32, 32, 1)
    assert info["reference_params"] == 61_706
    assert info["task"] == "image_classification"
    assert "feature maps grows" in info["idea"]


def _register(name, **overrides):
    """Registers a placeholder model `name`; `overrides` replace its fields."""
    fields = dict(
        family="x",
        paper="x",
        year=1,
        default_input_shape=(1,),
        min_input_size=1,
        task="sequence",
        builder=lambda: None,
    )
    registry.register_model(name, **{**fields, **overrides})


def test_registering_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        _register("lenet5")
    with pytest.raises(ValueError, match="task"):
        _register("new_model", task="dancing")
    # A size that repeats another's blocks names a registered model of its own family.
    for other in ("resnet_9000", "vgg16"):
        with pytest.raises(ValueError, match=f"same_blocks_as={other!r} must name a model"):
            _register(
                "new_resnet",
                family="resnet",
                task="image_classification",
                same_blocks_as=other,
            )
    assert "new_resnet" not in registry.list_models()


def test_readme_model_table_is_fresh():
    from tests.utils import load_module

    module = load_module("scripts/update_readme.py")
    with open(module.README) as f:
        text = f.read()
    assert module.render(text) == text, "run: python scripts/update_readme.py"
    for name in keras_archs.list_models():
        assert f"`{name}`" in text


def test_code_passes_ruff():
    import shutil
    import subprocess

    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the [test] extra)")
    root = __import__("os").path.dirname(__import__("os").path.dirname(__file__))
    proc = subprocess.run(
        [ruff, "check", "keras_archs", "tests", "scripts", "applications"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_image_models_declare_their_preprocessing():
    """The export builds `preprocessing` into the serving graph: every image model names
    keras.applications' mode (or "scale"); other models have none."""
    for name in keras_archs.list_models():
        spec = registry.get_spec(name)
        if spec.task == "image_classification":
            assert spec.preprocessing in ("caffe", "tf", "torch", "scale"), name
        else:
            assert spec.preprocessing is None, name
