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

# The folder keras.applications downloads its ImageNet files from; each family's `WEIGHTS`
# table names its files under it (file, MD5 with and without the top).
KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


def keras_applications_file(folder, stem, md5, md5_notop):
    """A `WEIGHTS` entry for keras.applications' usual naming:
    `<folder>/<stem>_weights_tf_dim_ordering_tf_kernels[_notop].h5`."""
    url = f"{KERAS_APPLICATIONS_URL}{folder}/{stem}_weights_tf_dim_ordering_tf_kernels"
    return {
        "origin": "keras.applications",
        "url": f"{url}.h5",
        "md5": md5,
        "url_notop": f"{url}_notop.h5",
        "md5_notop": md5_notop,
    }


def imagenet_weights_info(entry, include_top):
    """(cache file name, URL, md5) of one `WEIGHTS` entry of a family module.

    An entry is plain data: {"origin", "url", "md5", "url_notop", "md5_notop"} and,
    where keras.applications caches a file under another name than its URL's,
    "file" / "file_notop". An md5 of None means keras.applications checks no hash.
    """
    if not isinstance(entry, dict) or "url" not in entry:
        raise ValueError(f"No ImageNet weights are known for this model; got entry={entry!r}.")
    suffix = "" if include_top else "_notop"
    url, md5 = entry["url" + suffix], entry.get("md5" + suffix)
    fname = entry.get("file" + suffix) or os.path.basename(urllib.parse.urlparse(url).path)
    return fname, url, md5


def registered_imagenet_weights(name, include_top=True):
    """`imagenet_weights_info` of registered model `name` (its registry `weights` entry)."""
    from keras_archs.registry import get_spec

    return imagenet_weights_info(get_spec(name).weights, include_top)


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


def fetch_imagenet_weights(entry, include_top):
    """The local path of the ImageNet file of `entry` (a `WEIGHTS` entry), downloaded once.

    Raises:
        ConnectionError: the file is not cached and cannot be downloaded (offline); the
            message names `weights=None` and a local file as the alternatives.
    """
    import keras

    fname, url, md5 = imagenet_weights_info(entry, include_top)
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
