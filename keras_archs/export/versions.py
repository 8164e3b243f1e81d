"""Versioned, atomic folders in TensorFlow Serving's layout.

TensorFlow Serving watches `<model_base_path>/<version>/` folders and serves the
highest integer version it finds (https://www.tensorflow.org/tfx/serving/serving_basic).
`write_version` fills such a folder by first writing into a hidden temporary folder
beside it (".tmp-..."; Serving ignores names that are not integers), then renaming it
into place, so a server polling the folder never loads a half-written version, and a
failure part-way leaves the folder as it was. Nothing here depends on TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from keras_archs.validation import check_bool, check_int

TMP_PREFIX = ".tmp-"


def existing_versions(export_dir):
    """Sorted integer version folders under `export_dir` (the ones Serving would load)."""
    if not os.path.isdir(export_dir):
        return []
    return sorted(
        int(n)
        for n in os.listdir(export_dir)
        if n.isdigit() and int(n) >= 1 and os.path.isdir(os.path.join(export_dir, n))
    )


def check_export_dir(export_dir):
    """The absolute path of `export_dir`, refused if it is a file or cannot be created or
    written (checked before anything is traced or written)."""
    if not isinstance(export_dir, (str, os.PathLike)):
        raise TypeError(f"export_dir must be a path; got export_dir={export_dir!r}.")
    export_dir = os.path.abspath(os.fspath(export_dir))
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise ValueError(
            f"export_dir={export_dir!r} is a file; expected a folder (it will hold one "
            "sub-folder per version) or a path that does not exist yet."
        )
    # The nearest existing ancestor must be writable: everything is created under it.
    existing = export_dir
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise ValueError(f"export_dir={export_dir!r} is under {existing!r}, which is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"export_dir={export_dir!r} is not writable (no write permission on {existing!r})."
        )
    return export_dir


def check_version(version):
    """An integer >= 1 (TensorFlow Serving's versions are positive integers) or None."""
    return check_int("version", version, minimum=1, allow_none=True)


def target_folder(export_dir, version=None, overwrite=False):
    """(version, `<export_dir>/<version>`) after checking that it may be written: None
    picks the next integer after the existing versions; an existing version is a
    ValueError unless `overwrite`."""
    version = check_version(version)
    check_bool("overwrite", overwrite)
    export_dir = check_export_dir(export_dir)
    if version is None:
        version = (existing_versions(export_dir) or [0])[-1] + 1
    target = os.path.join(export_dir, str(version))
    if os.path.lexists(target) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {target!r}; pass overwrite=True "
            "(CLI: --overwrite) to replace it, or version=None for the next version."
        )
    return version, target


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        with contextlib.suppress(OSError):
            os.remove(path)


def write_version(write, export_dir, version=None, overwrite=False):
    """Calls `write(folder)` on a temporary folder, then renames it to
    `<export_dir>/<version>` atomically; returns that path.

    `version` None picks the next integer after the existing versions. With
    `overwrite`, an existing version is replaced only once the new one is complete;
    without it an existing version is a ValueError and is left untouched. If `write`
    raises (or anything after it), the temporary folder is removed, an overwritten
    version is put back, and an `export_dir` this call created is removed again.
    """
    if not callable(write):
        raise TypeError(f"write must be a callable taking a folder; got write={write!r}.")
    version, target = target_folder(export_dir, version, overwrite)
    export_dir = os.path.dirname(target)
    created = not os.path.exists(export_dir)
    os.makedirs(export_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{version}-", dir=export_dir)
    old = None
    try:
        write(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700; the server may run as another user
        if os.path.lexists(target):
            if not overwrite:
                raise ValueError(f"Version {version} appeared at {target!r} during the export.")
            # POSIX cannot rename over a non-empty folder: move the old one aside first.
            old = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}old-{version}-", dir=export_dir)
            os.rename(target, os.path.join(old, "v"))
        os.rename(tmp, target)
    except BaseException:
        _remove(tmp)
        if old is not None:
            if not os.path.lexists(target) and os.path.lexists(os.path.join(old, "v")):
                os.rename(os.path.join(old, "v"), target)
            _remove(old)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(export_dir)
        raise
    if old is not None:
        _remove(old)
    return target


def write_text_atomically(path, text):
    """Writes `text` to `path` through a temporary file renamed into place (mode 0o644)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.remove(tmp)
        raise
