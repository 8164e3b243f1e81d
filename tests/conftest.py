"""Session setup shared by every test: environment and the order tests are handed out.

The suite runs as plain `pytest` (one process) or on pytest-xdist workers
(`pytest -n 2`, as CI and the README run it). Other interpreters (the `.keras` reload,
the SavedModel serving, JAX and torch) are runners that tests/harness.py starts on first
use in each pytest process, so nothing here starts or waits for a background process.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Inherited by the xdist workers and every subprocess (glibc reads it at start): with one
# malloc arena per thread, freed model weights stay mapped and a worker that builds every
# model grew past 18 GiB on the 24 GiB CI machine and was OOM-killed.
os.environ.setdefault("MALLOC_ARENA_MAX", "2")


def _group(item):
    if item.get_closest_marker("slow"):
        return 0  # learning and memorisation tests: minutes each
    if item.get_closest_marker("backend"):
        return 1  # JAX / torch: tens of seconds each (compiling)
    return 2


def pytest_collection_modifyitems(session, config, items):
    """Long tests first: those marked `slow`, then those marked `backend`.

    pytest-xdist hands tests out in this order as workers free up, so the run ends on
    short tests that fill both cores, not on one long test beside an idle worker. The
    order within each group (files, then parameters) is kept.
    """
    items.sort(key=_group)
