import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The JAX and torch runs of the generic suite (tests/backend_check.py) are separate
# processes; they start as soon as collection ends, so they overlap with the
# TensorFlow tests instead of running after them.
BACKEND_RUNS = {}


def pytest_collection_finish(session):
    from tests.utils import REPO, subprocess_env

    wanted = {}
    for item in session.items:
        if getattr(item, "originalname", None) != "test_other_backends":
            continue
        params = item.callspec.params
        wanted.setdefault(params["backend_results"], []).append(params["name"])
    for backend, names in wanted.items():
        workdir = tempfile.mkdtemp(prefix=f"keras_archs_{backend}_")
        out = os.path.join(workdir, "results.json")
        log = open(os.path.join(workdir, "stderr.log"), "w")  # noqa: SIM115 - closed in wait
        proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(REPO, "tests", "backend_check.py"),
                out,
                *sorted(set(names)),
            ],
            env=subprocess_env(backend),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        BACKEND_RUNS[backend] = (proc, out, log)


def pytest_sessionfinish(session, exitstatus):
    for proc, _, log in BACKEND_RUNS.values():
        if proc.poll() is None:
            proc.kill()
        log.close()
