import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The JAX and torch runs of the generic suite (tests/backend_check.py) are separate
# processes. Both start when the first of them is needed, so they run side by side
# (and beside the TensorFlow tests of the same worker) instead of one after another.
BACKEND_RUNS = {}


def start_backend_runs(session):
    """Starts one backend_check.py process per backend for the selected models."""
    if BACKEND_RUNS:
        return BACKEND_RUNS
    from tests.utils import REPO, subprocess_env

    wanted = {}
    for item in session.items:
        if getattr(item, "originalname", None) != "test_other_backends":
            continue
        params = item.callspec.params
        wanted.setdefault(params["backend_results"], set()).add(params["name"])
    for backend, names in wanted.items():
        workdir = tempfile.mkdtemp(prefix=f"keras_archs_{backend}_")
        out = os.path.join(workdir, "results.json")
        log = open(os.path.join(workdir, "stderr.log"), "w")  # noqa: SIM115 - closed at exit
        proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "tests", "backend_check.py"), out, *sorted(names)],
            env=subprocess_env(backend),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        BACKEND_RUNS[backend] = (proc, out, log)
    return BACKEND_RUNS


def pytest_sessionfinish(session, exitstatus):
    for proc, _, log in BACKEND_RUNS.values():
        if proc.poll() is None:
            proc.kill()
        log.close()
