"""Session setup shared by every test: environment and the order tests are handed out.

The suite runs as plain `pytest` (one process) or on pytest-xdist workers
(`pytest -n 2`, as CI and the README run it). Other interpreters (the `.keras` reload,
the SavedModel serving, JAX and torch) are runners that tests/harness.py starts on first
use in each pytest process, so nothing here starts or waits for a background process.
"""

import atexit
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Inherited by the xdist workers and every subprocess (glibc reads it at start): with one
# malloc arena per thread, freed model weights stay mapped and a worker that builds every
# model grew past 18 GiB on the 24 GiB CI machine and was OOM-killed.
os.environ.setdefault("MALLOC_ARENA_MAX", "2")

# One JAX compilation cache on disk for the whole session, shared by the JAX runners of
# both workers and every JAX subprocess. JAX compiles each variable initializer once per
# weight shape (building DenseNet-169 compiles about a hundred), and the runners clear
# their in-memory caches after each model to stay within memory; with the disk cache a
# shape compiled for one model is read back for the next (ResNet-101 built after
# ResNet-50: 2 s instead of 9 s on the 2-core CPU). The executables are the ones XLA
# would compile again, so no result changes. The controller (the only process without
# PYTEST_XDIST_WORKER) creates the folder and removes it at exit; a cache folder the user
# set is kept and used.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ and "PYTEST_XDIST_WORKER" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="keras_archs_jax_cache_")
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _jax_cache
    # Cache every compilation: the initializers take milliseconds each, below JAX's
    # defaults of one second and of a minimum entry size.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


# XLA compiles the test models' steps without LLVM's optimisations: each executable runs
# once or twice, so its compile time is most of a test's time. Measured on the 2-core CPU
# (JAX, GoogLeNet at 32x32): building (initializers) 21 s instead of 61 to 69 s, the
# forward pass 4 to 5 s instead of 8 to 9 s, one training step 45 s instead of 75 to 96 s;
# the computation is the same, to float rounding. Read by JAX and by TensorFlow's XLA in
# every process of the session; a level the user set is kept.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()


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


def pytest_sessionfinish(session, exitstatus):
    """Stops this process's runners and removes their logs. The harness also does so at
    interpreter exit, which pytest-xdist's workers do not always reach, and each runner
    left running kept a log file in the temporary folder."""
    harness = sys.modules.get("tests.harness")
    if harness is not None:
        harness.close_runners()
