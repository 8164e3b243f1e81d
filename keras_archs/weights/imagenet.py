"""ImageNet weights: the very files keras.applications downloads.

Same URLs, same MD5 hashes, same cache folder (`$KERAS_HOME/models`, by default
`~/.keras/models`), so a file keras.applications already cached is reused and
vice versa. The files are in the legacy HDF5 layout and are loaded through
`keras_archs.weights.keras_applications`.
"""

from __future__ import annotations

import os
import socket
import urllib.parse

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"

# key -> (folder, file stem, (md5 with top, md5 without top)); from keras/src/applications.
_FILES = {
    "vgg16": (
        "vgg16/",
        "vgg16",
        ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    ),
    "vgg19": (
        "vgg19/",
        "vgg19",
        ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
    ),
    "resnet50": (
        "resnet/",
        "resnet50",
        ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    ),
    "resnet101": (
        "resnet/",
        "resnet101",
        ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    ),
    "resnet152": (
        "resnet/",
        "resnet152",
        ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    ),
    "resnet50v2": (
        "resnet/",
        "resnet50v2",
        ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    ),
    "resnet101v2": (
        "resnet/",
        "resnet101v2",
        ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    ),
    "resnet152v2": (
        "resnet/",
        "resnet152v2",
        ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
    ),
    "inception_v3": (
        "inception_v3/",
        "inception_v3",
        ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"),
    ),
}


# Files other families add with `register_imagenet_weights`.
_EXTRA: dict = {}


def register_imagenet_weights(
    key, url_with_top, md5_with_top, url_no_top, md5_no_top, file_names=None
):
    """Adds a family's keras.applications files (used by later families: DenseNet, ...).

    `file_names`: (with top, without top) cache names where keras.applications' differ
    from the URLs' (NASNet); an md5 of None means keras.applications checks no hash.
    """
    names = file_names or (None, None)
    _EXTRA[key] = ((url_with_top, md5_with_top, names[0]), (url_no_top, md5_no_top, names[1]))


def imagenet_weights_info(key, include_top):
    """(file name, URL, md5) of keras.applications' ImageNet file for `key`."""
    if key in _EXTRA:
        url, md5, fname = _EXTRA[key][0 if include_top else 1]
        return fname or os.path.basename(urllib.parse.urlparse(url).path), url, md5
    if key not in _FILES:
        known = sorted([*_FILES, *_EXTRA])
        raise ValueError(f"No ImageNet weights are known for {key!r}; known: {known}.")
    folder, stem, hashes = _FILES[key]
    fname = f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return fname, _BASE + folder + fname, hashes[0 if include_top else 1]


def _cached_path(fname):
    # keras.utils.get_file's cache: $KERAS_HOME (or ~/.keras, or /tmp/.keras if read-only).
    from keras.src.backend.config import keras_home

    base = os.path.expanduser(keras_home())
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return os.path.join(base, "models", fname)


def _reachable(url, timeout=5.0):
    host = urllib.parse.urlparse(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_imagenet_weights(key, include_top):
    """The local path of the ImageNet weights for `key`, downloading them on first use.

    Raises:
        ConnectionError: the file is not cached and cannot be downloaded (offline); the
            message names `weights=None` and a local file as the alternatives.
    """
    import keras

    fname, url, md5 = imagenet_weights_info(key, include_top)
    offline_help = (
        f"Could not download the ImageNet weights {fname} from {url} (no network?). "
        "Use weights=None for random initialisation, or pass weights='/path/to/file.h5' "
        f"(a local copy of that file, e.g. placed at {_cached_path(fname)})."
    )
    # Fail in seconds, not after urllib's retries, when the host cannot be reached.
    if not os.path.isfile(_cached_path(fname)) and not _reachable(url):
        raise ConnectionError(offline_help)
    try:
        return keras.utils.get_file(fname, url, cache_subdir="models", file_hash=md5)
    except Exception as e:
        raise ConnectionError(f"{offline_help} Cause: {e}") from e
