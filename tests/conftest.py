import os
import subprocess
import sys
import tempfile
import time
import uuid

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Inherited by the xdist workers and every subprocess (glibc reads it at start): with one
# malloc arena per thread, freed model weights stay mapped and a worker that builds every
# model grew past 18 GiB on the 24 GiB CI machine and was OOM-killed.
os.environ.setdefault("MALLOC_ARENA_MAX", "2")

# The JAX and torch runs of the generic suite (tests/backend_check.py) are separate
# processes that start as soon as collection ends, so they overlap the whole TensorFlow
# run instead of forming a tail. Under pytest-xdist every worker collects, so the first
# worker to create the shared folder (named by xdist's test-run id) starts them and the
# test that reads the results (on whichever worker) waits for their files. They run at a
# lower CPU priority so that the timed tests in the workers keep their cores.
_STARTED = []
# JAX compiles on one core: alone it was the last process running for 11 minutes of a CI
# run, with the other core idle. Two JAX processes, each with half of the models, share
# that tail between both cores.
SHARDS = {"jax": 2}


_LOCAL_RUN_ID = uuid.uuid4().hex  # without xdist: one run per process


def _run_dir(config):
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["testrunuid"] if workerinput else _LOCAL_RUN_ID
    return os.path.join(tempfile.gettempdir(), f"keras_archs_backends_{run_id}")


def _wanted(items):
    wanted = {}
    for item in items:
        if getattr(item, "originalname", None) == "test_other_backends":
            params = item.callspec.params
            wanted.setdefault(params["backend_results"], set()).add(params["name"])
    return wanted


# Files that took minutes on the 2-core CI machine, longest first. --dist loadfile with
# --no-loadscope-reorder (pyproject.toml) hands out whole files in this order, one at a
# time, so the long ones start first and the short ones fill the gaps at the end. (By
# default xdist orders files by test count: the backend file, 62 quick tests waiting on
# the JAX run, went third and idled a worker; a 15-minute export went last.)
LONG_FILES = (
    "test_models.py",
    "test_models_mixed.py",
    "test_every_model.py",
    "test_every_model_b.py",
    "test_models_serialization.py",
    "test_bert.py",
    "test_gpt.py",
    "test_transformer.py",
    "test_seq2seq.py",
    "test_inception.py",
    "test_nasnet.py",
    "test_xception.py",
    "test_resnet.py",
    "test_common.py",
    "test_densenet.py",
    "test_tcn.py",
)


def _file_order(item):
    name = item.path.name
    if name == "test_models_backends.py":
        return len(LONG_FILES) + 1  # waits for the backend runs: last
    return LONG_FILES.index(name) if name in LONG_FILES else len(LONG_FILES)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_file_order)  # stable: tests keep their order within a file


def pytest_collection_finish(session):
    wanted = _wanted(session.items)
    if not wanted or session.config.option.collectonly:
        return
    run_dir = _run_dir(session.config)
    try:
        os.mkdir(run_dir)  # atomic: exactly one worker wins
    except FileExistsError:
        return
    from tests.utils import REPO, subprocess_env

    for backend, names in sorted(wanted.items()):
        names = sorted(names)
        shards = SHARDS.get(backend, 1)
        for shard in range(shards):
            stem = os.path.join(run_dir, f"{backend}.{shard}")
            log = open(stem + ".log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                [
                    sys.executable,
                    os.path.join(REPO, "tests", "backend_check.py"),
                    stem + ".json",
                    *names[shard::shards],
                ],
                env=subprocess_env(backend),
                stdout=subprocess.DEVNULL,
                stderr=log,
                preexec_fn=lambda: os.nice(10),
            )
            with open(stem + ".pid", "w") as f:
                f.write(str(proc.pid))
            _STARTED.append((proc, log))


def merged_backend_results(config, backend, timeout=3600):
    """The merged results of a backend's runs; raises with a run's log if it died."""
    import json

    run_dir = _run_dir(config)
    results = {}
    for shard in range(SHARDS.get(backend, 1)):
        stem = os.path.join(run_dir, f"{backend}.{shard}")
        deadline = time.monotonic() + timeout
        while not os.path.exists(stem + ".json"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{backend} backend run gave no results in {timeout} s")
            if not _alive(stem + ".pid"):
                time.sleep(1)  # the rename may land just after the exit
                if os.path.exists(stem + ".json"):
                    break
                with open(stem + ".log") as f:
                    raise RuntimeError(f"{backend} backend run died:\n{f.read()[-5000:]}")
            time.sleep(2)
        with open(stem + ".json") as f:
            results.update(json.load(f))
    return results


def _alive(pid_file):
    if not os.path.exists(pid_file):
        return True  # being started
    with open(pid_file) as f:
        pid = int(f.read())
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def pytest_sessionfinish(session, exitstatus):
    # Another worker may still be waiting for these results: let them finish unless the
    # session was interrupted.
    for proc, log in _STARTED:
        if exitstatus in (2, 3, 4):  # interrupted, internal error, usage error
            proc.kill()
        try:
            proc.wait(timeout=3600)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
