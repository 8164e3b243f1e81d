"""The search loop: sample children, train them, reward the controller (Zoph et al. 2018).

Each round the controller samples `batch` cell specifications; each child (the CIFAR-10
NASNet network around those cells, with few cells and filters) trains for a fixed number
of steps through `keras_archs.training.train` and is scored by its validation accuracy;
the controller then takes one REINFORCE step. A random search with the same number of
children and the same training follows (`baseline="random"`), so what the controller
adds over chance is measured, not assumed.

Everything a rerun needs is on disk in `out`: `search.json` (the configuration),
`controller.jsonl` and `random.jsonl` (one line per trained child, written as it
finishes), `controller/state.json` with the controller's `.keras` file (weights,
optimizer state, baseline, rounds done). Rerunning the same command after a crash
continues: finished children are read back, not retrained, and a round's
specifications are sampled again from the saved controller with the round's own seed,
so they are the ones the log holds.

Children are trained in this process (`workers=1`) or by Ray workers, one CPU each (a
local Ray started on demand, or the cluster at `ray_address`): the same command spreads
over many machines, with the same results as in-process for the same seed.
"""

import contextlib
import dataclasses
import io
import json
import math
import os
import shutil
import time

import numpy as np

from keras_archs.nas.space import SearchSpace
from keras_archs.validation import check_choice, check_float, check_int, check_string

SEARCH_FILE = "search.json"
LOGS = {"controller": "controller.jsonl", "random": "random.jsonl"}
CONTROLLER_DIR = "controller"
# How a child trains: nasnet_custom's own offline recipe (Adam 3e-3, cosine decay, no
# augmentation or regularisation) for one epoch of the budget, float32 without XLA
# (children compare with each other, not with the fastest policy), seeded and
# deterministic so that a child trains the same anywhere.
CHILD_MODEL = "nasnet_custom"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """What a search is; `search.json` holds it, and a rerun must match it.

    Attributes:
        data: the dataset (a `keras_archs.data` image set: digits offline, cifar10 ...).
        children: children trained for the controller (and as many for the baseline).
        budget_steps: training steps of each child (batch 32, one epoch).
        batch: children per controller update (Zoph & Le trained on many in parallel).
        seed: seeds the controller, the sampling, and every child's data and weights.
        num_blocks: blocks per cell (the paper's B = 5).
        cells: Normal cells per stack of a child (N).
        filters: a child's first-stack filters per operation (F).
        input_size: the children's square input side.
        controller_learning_rate: SGD on the REINFORCE loss with normalised advantages.
        entropy_weight: the controller's entropy bonus.
        baseline_decay: the moving average of the rewards that is the REINFORCE baseline.
        baseline: "random" (the same budget spent on uniformly random cells) or "none".
        threads: CPU threads each child trains with, in this process or on a worker, so
            that its arithmetic (summation order), and so its accuracy, is the same
            wherever it trains (under torch at once; TensorFlow and JAX fix their thread
            pools at start-up, so a Ray worker gets them from its environment).
    """

    data: str = "digits"
    children: int = 32
    budget_steps: int = 50
    batch: int = 4
    seed: int = 0
    num_blocks: int = 5
    cells: int = 1
    filters: int = 8
    input_size: int = 16
    controller_learning_rate: float = 1.0
    entropy_weight: float = 0.1
    baseline_decay: float = 0.8
    baseline: str = "random"
    threads: int = 1

    def __post_init__(self):
        check_string("data", self.data)
        check_int("children", self.children, minimum=1)
        check_int("budget_steps", self.budget_steps, minimum=1)
        check_int("batch", self.batch, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("num_blocks", self.num_blocks, minimum=1)
        check_int("cells", self.cells, minimum=1)
        check_int("filters", self.filters, minimum=1)
        check_int("input_size", self.input_size, minimum=8)
        check_float("controller_learning_rate", self.controller_learning_rate, minimum=0.0)
        check_float("entropy_weight", self.entropy_weight, minimum=0.0)
        check_float("baseline_decay", self.baseline_decay, minimum=0.0, maximum=1.0)
        check_choice("baseline", self.baseline, ("random", "none"))
        check_int("threads", self.threads, minimum=1)

    def child_options(self, spec):
        """`keras_archs.training.train`'s arguments for the child of cell `spec`."""
        channels = 1 if self.data == "digits" else 3
        return dict(
            data=self.data,
            input_shape=(self.input_size, self.input_size, channels),
            steps_per_epoch=self.budget_steps,
            seed=self.seed,
            deterministic=True,
            tensorboard=False,
            jit="off",
            precision="float32",
            model_kwargs={
                "cell_spec": spec,
                "num_blocks": self.cells,
                "penultimate_filters": 24 * self.filters,
                "stem_block_filters": 2 * self.filters,
            },
            epochs=1,
        )


def evaluate_child(config, spec, out_dir):
    """Trains one child into run folder `out_dir`; its accuracy, size and time."""
    import keras

    from keras_archs.bench.flops import count_flops
    from keras_archs.training import train

    config = SearchConfig(**config) if isinstance(config, dict) else config
    shutil.rmtree(out_dir, ignore_errors=True)  # a child a crash interrupted starts over
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(log), _threads(config.threads):
        result = train(CHILD_MODEL, out=out_dir, verbose=0, **config.child_options(spec))
    seconds = time.perf_counter() - start
    with open(os.path.join(out_dir, "train.log"), "w") as f:
        f.write(log.getvalue())
    found = {
        "accuracy": result.val_accuracy,
        "params": int(result.model.count_params()),
        "flops": count_flops(result.model),
        "seconds": round(seconds, 2),
        # Where and when it trained: parallel workers show as overlapping intervals.
        "pid": os.getpid(),
        "started": round(time.time() - seconds, 3),
    }
    keras.backend.clear_session()
    return found


@contextlib.contextmanager
def _threads(count):
    """torch's intra-op threads set to `count` for the block (other backends: unchanged)."""
    import keras

    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Workers:
    """Trains children in this process, or on Ray workers with one CPU each."""

    def __init__(self, workers, ray_address, threads):
        self.ray = None
        if workers == 1 and ray_address is None:
            return
        import keras
        import ray

        if not ray.is_initialized():
            if ray_address is None:
                ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=ray_address, log_to_driver=False)
            self._started = True
        else:
            self._started = False
        # Workers train under this process' Keras backend, quietly, with `threads` threads.
        env = {
            "KERAS_BACKEND": keras.backend.backend(),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "OMP_NUM_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads),
        }
        self.ray = ray
        self.remote = ray.remote(num_cpus=threads, runtime_env={"env_vars": env})(evaluate_child)

    def run(self, config, jobs, done):
        """Trains `jobs` [(key, spec, out_dir)], calling `done(key, result)` as each ends."""
        if self.ray is None:
            for key, spec, out_dir in jobs:
                done(key, evaluate_child(config, spec, out_dir))
            return
        config = dataclasses.asdict(config)
        pending = {self.remote.remote(config, spec, d): key for key, spec, d in jobs}
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                done(pending.pop(ref), self.ray.get(ref))

    def close(self):
        if self.ray is not None and self._started:
            self.ray.shutdown()


def check_ray_address(ray_address, timeout=5.0):
    """Refuses (ValueError) a `ray_address` "host:port" with nothing listening there."""
    import socket

    if ray_address is None:
        return None
    address = check_string("ray_address", ray_address)
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            f"ray_address={address!r} is not HOST:PORT (the address `ray start --head` prints)."
        )
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ValueError(
            f"ray_address={address!r}: no Ray cluster can be reached there ({e}); start one "
            "with `ray start --head`, or leave the address out for a local one."
        ) from None
    return address


def _append(path, record):
    """One line, flushed to the disk before the next child starts (after a line a crash
    tore, on a line of its own)."""
    with open(path, "a+b") as f:
        torn = False
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        f.write((("\n" if torn else "") + json.dumps(record, sort_keys=True) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def read_log(path):
    """The records of a search log by child index (a torn last line is dropped)."""
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                found[record["child"]] = record
    return found


def _write_json(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def describe(record):
    """One line for a trained child's record (with "best", the phase's best so far)."""
    entropy = record.get("entropy")
    return (
        f"{record['phase']:10s} child {record['child']:3d}  acc {record['accuracy']:.4f}  best "
        f"{record['best']:.4f}  entropy {'-' if entropy is None else f'{entropy:.3f}'}  "
        f"{record['seconds']:5.1f}s  {record['summary']}"
    )


def summary_rows(summary):
    """The rows of a summary's table, as text: phase, children, first- and last-quarter
    accuracy, best accuracy, entropy (first -> last quarter), training seconds."""
    rows = []
    for phase in LOGS:
        if phase in summary:
            row = summary[phase]
            entropy = (
                f"{row['first_quarter_entropy']:.3f} -> {row['last_quarter_entropy']:.3f}"
                if "first_quarter_entropy" in row
                else "- (uniform)"
            )
            rows.append(
                (
                    phase,
                    str(row["children"]),
                    f"{row['first_quarter_accuracy']:.4f}",
                    f"{row['last_quarter_accuracy']:.4f}",
                    f"{row['best_accuracy']:.4f}",
                    entropy,
                    f"{row['seconds']:.0f}",
                )
            )
    return rows


def _key(spec):
    return json.dumps(spec, sort_keys=True)


def _quarters(values):
    """The means of the first and of the last quarter (at least one value each)."""
    k = max(1, len(values) // 4)
    return float(np.mean(values[:k])), float(np.mean(values[-k:]))


class Search:
    """One search in folder `out`: `run()` continues it from whatever is on disk."""

    def __init__(self, out, config, *, workers=1, ray_address=None, report=None):
        self.out = check_string("out", out)
        self.config = config
        self.workers = check_int("workers", workers, minimum=1)
        self.ray_address = check_ray_address(ray_address)
        # Called with each trained child's record (and "best"); by default, print a line.
        self.report = report or (lambda record: print(describe(record)))
        self.space = SearchSpace(config.num_blocks)
        self._claim()

    def _claim(self):
        path = os.path.join(self.out, SEARCH_FILE)
        wanted = dataclasses.asdict(self.config)
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            if saved != wanted:
                changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
                raise ValueError(
                    f"out={self.out!r} holds a search with other settings ({', '.join(changed)}"
                    f"); rerun it with those of its {SEARCH_FILE}, or use another folder."
                )
            return
        if os.path.isdir(self.out) and os.listdir(self.out):
            raise ValueError(
                f"out={self.out!r} exists and holds no search ({SEARCH_FILE}); choose a new "
                "or empty folder."
            )
        os.makedirs(os.path.join(self.out, CONTROLLER_DIR), exist_ok=True)
        _write_json(path, wanted)

    # The controller and its saved state.

    def _controller(self):
        import keras

        from keras_archs.nas.controller import Controller

        state_path = os.path.join(self.out, CONTROLLER_DIR, "state.json")
        if os.path.exists(state_path):
            with open(state_path) as f:
                state = json.load(f)
            model_path = os.path.join(self.out, CONTROLLER_DIR, state["file"])
            controller = keras.saving.load_model(model_path)
            return controller, state
        keras.utils.set_random_seed(self.config.seed)
        controller = Controller(self.space.num_choices, entropy_weight=self.config.entropy_weight)
        controller.build()
        controller.compile(optimizer=keras.optimizers.SGD(self.config.controller_learning_rate))
        return controller, {"rounds": 0, "baseline": None, "rewards": [], "file": None}

    def _save_controller(self, controller, state):
        # The new file first, then the state naming it, then the old file: a crash at
        # any point leaves a state whose file exists.
        folder = os.path.join(self.out, CONTROLLER_DIR)
        previous = state.get("file")
        state = {**state, "file": f"controller_{state['rounds']:04d}.keras"}
        controller.save(os.path.join(folder, state["file"]))
        _write_json(os.path.join(folder, "state.json"), state)
        if previous and previous != state["file"]:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, previous))
        return state

    def _update(self, controller, state, actions, rewards):
        """One REINFORCE step; the advantages are normalised by the rewards' spread so
        far, so that one learning rate fits any accuracy scale."""
        rewards = np.asarray(rewards, "float64")
        baseline = state["baseline"]
        baseline = rewards.mean() if baseline is None else baseline
        seen = [*state["rewards"], *rewards.tolist()]
        advantages = (rewards - baseline) / max(float(np.std(seen)), 1e-3)
        controller.train_on_batch(
            controller.tokens_in(actions),
            np.asarray(actions, "int32"),
            sample_weight=advantages.astype("float32"),
        )
        decay = self.config.baseline_decay
        return {
            **state,
            "rounds": state["rounds"] + 1,
            "baseline": float(decay * baseline + (1 - decay) * rewards.mean()),
            "rewards": seen,
        }

    # Training children.

    def _train(self, workers, phase, jobs, log):
        """Trains `jobs` [(child, spec, extra)] not yet in `log`; returns their records.

        A child whose cells an earlier child of the phase already had is not trained
        again: training is seeded and deterministic, so it would score the same. Its
        record copies that result with `reused_from` (and 0 seconds)."""
        path = os.path.join(self.out, LOGS[phase])
        extras = {c: extra for c, _, extra in jobs}
        specs = {c: s for c, s, _ in jobs}
        first = {}  # cells -> the first child that has them
        for child in sorted(log):
            first.setdefault(_key(log[child]["spec"]), child)
        todo, copies = [], []
        for child, spec, _ in jobs:
            if child in log:
                continue
            key = _key(spec)
            if key in first:
                copies.append((child, key))
            else:
                first[key] = child
                todo.append(
                    (child, spec, os.path.join(self.out, "children", f"{phase}_{child:04d}"))
                )

        def done(child, result):
            record = {
                "child": child,
                "phase": phase,
                "spec": specs[child],
                "summary": self.space.summary(specs[child]),
                **extras[child],
                **result,
            }
            _append(path, record)
            log[child] = record
            self._progress(phase, record, log)

        workers.run(self.config, todo, done)
        for child, key in copies:
            source = log[first[key]]
            reused = {k: source[k] for k in ("accuracy", "params", "flops")}
            done(
                child,
                {**reused, "seconds": 0.0, "reused_from": source["child"], "pid": os.getpid(),
                 "started": round(time.time(), 3)},
            )  # fmt: skip
        return [log[c] for c, _, _ in jobs]

    def _progress(self, phase, record, log):
        self.report({**record, "best": max(r["accuracy"] for r in log.values())})

    def run(self):
        """Runs (or continues) the controller's search, then the baseline; the summary."""
        import keras

        workers = _Workers(self.workers, self.ray_address, self.config.threads)
        try:
            self._search(workers)
            if self.config.baseline == "random":
                self._random(workers)
        finally:
            workers.close()
        keras.backend.clear_session()
        return self.finish()

    def _search(self, workers):
        config = self.config
        controller, state = self._controller()
        log = read_log(os.path.join(self.out, LOGS["controller"]))
        rounds = math.ceil(config.children / config.batch)
        for r in range(state["rounds"], rounds):
            first = r * config.batch
            count = min(config.batch, config.children - first)
            rng = np.random.default_rng([config.seed, r])
            actions, entropy, _ = controller.sample(rng, count)
            jobs = []
            for i, tokens in enumerate(actions):
                spec = self.space.decode(tokens)
                child = first + i
                if child in log and log[child]["spec"] != spec:
                    raise ValueError(
                        f"{LOGS['controller']} in {self.out!r}: child {child} was not sampled "
                        "from this controller state (was the folder edited?)."
                    )
                extra = {"round": r, "tokens": tokens, "entropy": round(float(entropy[i]), 5)}
                jobs.append((child, spec, extra))
            records = self._train(workers, "controller", jobs, log)
            state = self._update(controller, state, actions, [x["accuracy"] for x in records])
            state = self._save_controller(controller, state)

    def _random(self, workers):
        config = self.config
        log = read_log(os.path.join(self.out, LOGS["random"]))
        # Seeded per child, so a rerun draws the same cells in any order.
        jobs = []
        for child in range(config.children):
            rng = np.random.default_rng([config.seed, 1, child])
            (tokens,) = self.space.sample_uniform(rng, 1)
            jobs.append((child, self.space.decode(tokens), {"tokens": tokens}))
        for first in range(0, len(jobs), config.batch):
            self._train(workers, "random", jobs[first : first + config.batch], log)

    def finish(self):
        """Writes best.json, summary.json and search.png from the logs; the summary."""
        summary = {}
        best = None
        for phase, file in LOGS.items():
            log = read_log(os.path.join(self.out, file))
            if not log:
                continue
            records = [log[c] for c in sorted(log)]
            accuracy = [r["accuracy"] for r in records]
            first, last = _quarters(accuracy)
            top = max(records, key=lambda r: r["accuracy"])
            summary[phase] = {
                "children": len(records),
                "first_quarter_accuracy": round(first, 4),
                "last_quarter_accuracy": round(last, 4),
                "best_accuracy": round(top["accuracy"], 4),
                "best_child": top["child"],
                "seconds": round(sum(r["seconds"] for r in records), 1),
            }
            if phase == "controller":
                first, last = _quarters([r["entropy"] for r in records])
                summary[phase]["first_quarter_entropy"] = round(first, 4)
                summary[phase]["last_quarter_entropy"] = round(last, 4)
            if best is None or top["accuracy"] > best["accuracy"]:
                best = top
        if best is not None:
            summary["best"] = {
                k: best[k] for k in ("phase", "child", "accuracy", "params", "flops", "summary")
            }
            _write_json(os.path.join(self.out, "best.json"), best["spec"])
        _write_json(os.path.join(self.out, "summary.json"), summary)
        plot_search(self.out)
        return summary


def plot_search(out):
    """search.png: each child's accuracy (with a moving mean), and the entropy of the
    controller that sampled it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for phase, file in LOGS.items():
        log = read_log(os.path.join(out, file))
        if not log:
            continue
        children = sorted(log)
        accuracy = np.array([log[c]["accuracy"] for c in children])
        # The mean of the last (up to) 8 children: the trend, not the first children's.
        window = np.array([accuracy[max(0, i - 7) : i + 1].mean() for i in range(len(accuracy))])
        (line,) = top.plot(children, accuracy, "o", alpha=0.4, label=f"{phase} children")
        top.plot(children, window, color=line.get_color(), label=f"{phase}: mean of last 8")
        if phase == "controller":
            bottom.plot(children, [log[c]["entropy"] for c in children], color=line.get_color())
    top.set_ylabel("validation accuracy")
    top.legend(loc="upper left", fontsize="small", ncols=2)
    bottom.set_ylabel("controller entropy (nats per decision)")
    bottom.set_xlabel("child")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "search.png"), dpi=100)
    plt.close(fig)


def search(out, *, workers=1, ray_address=None, report=None, **settings):
    """Runs (or, in a folder that holds it, continues) a search; returns its summary.

    `settings` are `SearchConfig`'s fields; `workers` children train at once (Ray, one
    CPU each; 1: in this process), on the Ray cluster at `ray_address` if given;
    `report(record)` is called as each child finishes (default: `describe` printed).
    """
    config = SearchConfig(**settings)
    return Search(out, config, workers=workers, ray_address=ray_address, report=report).run()
