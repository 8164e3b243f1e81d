"""weights="imagenet": keras.applications' very files (URL, hash, cache name); a quick, clear
error offline; the registry's `weights` entries are what the builders download."""

import inspect
import time

import keras
import pytest
from keras.src.applications import inception_v3, resnet, vgg16, vgg19
from keras.src.backend import config as keras_config
from keras.src.utils import file_utils

from keras_archs import applications
from keras_archs.weights import imagenet

# (our builder, weights key, keras.applications module, its function with the download code).
CASES = [
    ("VGG16", "vgg16", vgg16, vgg16.VGG16),
    ("VGG19", "vgg19", vgg19, vgg19.VGG19),
    ("InceptionV3", "inception_v3", inception_v3, inception_v3.InceptionV3),
    *[
        (f"ResNet{d}{v.upper()}", f"resnet{d}{v}", resnet, resnet.ResNet)
        for d in (50, 101, 152)
        for v in ("", "v2")
    ],
]


class _InterceptedError(Exception):
    pass


@pytest.fixture
def recorded_downloads(monkeypatch):
    """Records every keras.utils.get_file call (ours and keras.applications') and stops it."""
    calls = []

    def fake_get_file(fname=None, origin=None, cache_subdir="datasets", file_hash=None, **kw):
        calls.append((fname, origin, cache_subdir, file_hash))
        raise _InterceptedError(fname)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    monkeypatch.setattr(imagenet, "_reachable", lambda url, timeout=5.0: True)
    return calls


@pytest.mark.parametrize("builder,key,module,source_fn", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("include_top", [True, False])
def test_same_file_url_hash_and_cache_as_keras_applications(
    builder, key, module, source_fn, include_top, recorded_downloads
):
    with pytest.raises(ConnectionError, match="weights=None"):
        getattr(applications, builder)(weights="imagenet", include_top=include_top)
    ((fname, origin, cache_subdir, md5),) = recorded_downloads
    assert cache_subdir == "models"
    if module is resnet:
        assert origin == resnet.BASE_WEIGHTS_PATH + fname
        assert md5 == resnet.WEIGHTS_HASHES[key][0 if include_top else 1]
        assert fname.startswith(key + "_weights_tf_dim_ordering_tf_kernels")
    else:
        assert origin == (module.WEIGHTS_PATH if include_top else module.WEIGHTS_PATH_NO_TOP)
        source = inspect.getsource(source_fn)
        # The file name and hash keras.applications passes next to that URL.
        assert f'"{fname}"' in source and f'file_hash="{md5}"' in source
        assert source.index(f'"{fname}"') < source.index(f'file_hash="{md5}"')
    assert fname.endswith("_notop.h5") != include_top


def test_keras_applications_itself_asks_for_the_same_download(recorded_downloads):
    with pytest.raises(_InterceptedError):
        keras.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ConnectionError):
        applications.ResNet50(weights="imagenet", include_top=False)
    assert recorded_downloads[0] == recorded_downloads[1]


def test_offline_error_is_quick_and_names_the_way_forward(monkeypatch, tmp_path):
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))  # nothing cached
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        applications.VGG16(weights="imagenet", include_top=False)
    message = str(info.value)
    if "Cause" not in message and imagenet._reachable(imagenet.KERAS_APPLICATIONS_URL):
        pytest.skip("this machine can reach storage.googleapis.com")
    assert time.monotonic() - start < 20
    assert "Could not download" in message
    assert "weights=None" in message and "weights='/path/to/file.h5'" in message
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message


def test_cached_file_is_used_without_network(monkeypatch, tmp_path, recorded_downloads):
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(imagenet, "_reachable", lambda url, timeout=5.0: False)
    fname, _, _ = imagenet.registered_imagenet_weights("vgg16", include_top=False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / fname).write_bytes(b"")
    # Cached: no reachability check stops it, get_file (which checks the hash) is asked.
    with pytest.raises(ConnectionError, match="Cause"):
        applications.VGG16(weights="imagenet", include_top=False)
    assert recorded_downloads[0][0] == fname


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"classes": 10}, "classes must be 1000"),
        ({"classifier_activation": "relu"}, "classifier_activation must be None or 'softmax'"),
        ({"input_shape": (224, 224, 1)}, "3 channels"),
        ({"pooling": "median", "include_top": False}, "pooling must be one of"),
    ],
)
def test_imagenet_argument_errors_come_before_any_download(kwargs, match, recorded_downloads):
    with pytest.raises(ValueError, match=match):
        applications.ResNet50(weights="imagenet", **kwargs)
    assert recorded_downloads == []


@pytest.mark.parametrize("builder", ["ResNet18", "ResNet34", "InceptionV1"])
def test_no_imagenet_file_for_builders_keras_applications_lacks(builder):
    with pytest.raises(ValueError, match="weights='imagenet' is not available"):
        getattr(applications, builder)(weights="imagenet")


def test_weights_must_be_none_imagenet_or_a_file():
    with pytest.raises(ValueError, match="None, 'imagenet' or the path"):
        applications.VGG16(weights="imagenet21k")
    with pytest.raises(TypeError, match="weights must be"):
        applications.VGG16(weights=3)


def test_registry_weights_entries_name_each_builders_files():
    """Every model with ImageNet weights has its family's WEIGHTS entry in the registry,
    and builders without an entry refuse weights="imagenet"."""
    import keras_archs
    from keras_archs.registry import get_spec

    with_files = {n for n in keras_archs.list_models() if get_spec(n).weights}
    assert {"vgg16", "resnet50", "resnet152_v2", "inception_v3", "xception"} <= with_files
    assert not with_files & {"resnet18", "resnet34", "inception_v1", "lenet5", "alexnet"}
    for name in with_files:
        for top in (True, False):
            fname, url, _ = imagenet.registered_imagenet_weights(name, include_top=top)
            assert url.startswith(imagenet.KERAS_APPLICATIONS_URL) and fname.endswith(".h5")
