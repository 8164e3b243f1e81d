#!/usr/bin/env bash
# ResNet50 and GPT-2 small on a GPU under Keras' JAX and PyTorch backends, in one command.
#
# The GPU machine this is for (an H100 or H200 lent through the workplace's device tool)
# has JAX with CUDA and PyTorch but no TensorFlow, no Keras and no network. Keras and the
# two of its dependencies that machine lacks travel as wheels in the git-ignored folder
# .whl; scripts/device_bench.py does the measuring, once per backend, each in its own
# process (a backend is chosen when Keras is imported).
#
#   scripts/device_bench.sh --fetch-wheels   # here, with pip and a network: fills .whl/
#   scripts/device_bench.sh                  # there: installs .whl/, measures, reports
#
# The device tool's call for a later session (after --fetch-wheels here):
#
#   run(command="bash scripts/device_bench.sh", carry=[".whl"], timeout_s=560)
#
# It runs for about 7.5 minutes: DEVICE_BENCH_SECONDS (default 420) bounds the two
# measuring processes together, JAX taking 2/5 of it and PyTorch the rest (its
# torch.compile is the slower to compile); what does not fit is skipped with a line
# that says so. Each process also runs under `timeout`, 30 s past its budget, in case a
# compilation holds it past its own deadline. It prints everything, ends with one table
# of both backends, and leaves under $OUT: device_bench.jsonl (one JSON line a
# measurement), jax.log, torch.log and nvidia-smi.txt. DEVICE_BENCH_ARGS adds arguments
# to device_bench.py (DEVICE_BENCH_ARGS=--smoke runs the whole script on a CPU), and
# DEVICE_BENCH_JAX_ARGS and DEVICE_BENCH_TORCH_ARGS to one backend's run only: e.g.
# DEVICE_BENCH_TORCH_ARGS="--only gpt2:train" where an earlier run has PyTorch's ResNet50
# row but ran out of time compiling GPT-2. DEVICE_BENCH_BACKENDS (default "jax torch")
# measures one backend alone, with the whole DEVICE_BENCH_SECONDS: torch.compile took
# more than 275 s for GPT-2's training step when it compiled that step twice (Keras'
# PyTorch trainer compiled it again at the second step, once the gradients existed; the
# models now start with zero gradients, which avoids that), e.g.
#
#   run(command="DEVICE_BENCH_BACKENDS=torch DEVICE_BENCH_SECONDS=500 "
#       "DEVICE_BENCH_ARGS='--only gpt2:train' bash scripts/device_bench.sh",
#       carry=[".whl"], timeout_s=580)
set -uo pipefail
cd "$(dirname "$0")/.."

# Keras' own wheel and those of its requirements that the machine's image does not hold
# (its other requirements, absl-py, numpy, rich, h5py, ml-dtypes and packaging, are there).
CARRIED="keras namex optree"
# What the image holds of the carried wheels' requirements, for the check below.
THERE="absl-py numpy rich h5py ml-dtypes packaging typing-extensions"

fetch_wheels() {
    local python=${PYTHON:-python3} name version
    mkdir -p .whl
    for name in $CARRIED; do
        # The versions installed here, the ones the tests run against.
        version=$("$python" -c \
            'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$name") || {
            echo "$name is not installed here; activate the project's environment first" >&2
            return 1
        }
        # One version of each: two of one package stop the whole install there.
        rm -f .whl/"$name"-*.whl
        "$python" -m pip download -q --no-deps --only-binary=:all: \
            --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            --platform manylinux1_x86_64 -d .whl "$name==$version" || return 1
    done
    local exclude
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qxF /.whl/ "$exclude" 2>/dev/null || echo /.whl/ >>"$exclude"
    # Every requirement of a carried wheel must be carried or already there.
    "$python" - "$CARRIED $THERE" .whl/*.whl <<'EOF' || return 1
import re, sys, zipfile
known = {re.sub(r"[-_.]+", "-", n).lower() for n in sys.argv[1].split()}
missing = []
for path in sys.argv[2:]:
    with zipfile.ZipFile(path) as wheel:
        meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        for line in wheel.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:") and "extra ==" not in line:
                name = re.match(r"[A-Za-z0-9._-]+", line.split(":", 1)[1].strip()).group()
                if re.sub(r"[-_.]+", "-", name).lower() not in known:
                    missing.append(f"{path}: {line}")
print("\n".join(missing) or "every requirement of the carried wheels is carried or there")
sys.exit(1 if missing else 0)
EOF
    ls -l .whl
    du -sh .whl
}

if [[ "${1:-}" == "--fetch-wheels" ]]; then
    fetch_wheels
    exit
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--fetch-wheels]" >&2
    exit 2
fi

backends=${DEVICE_BENCH_BACKENDS:-jax torch}
for backend in $backends; do
    if [[ $backend != jax && $backend != torch ]]; then
        echo "DEVICE_BENCH_BACKENDS got '$backend'; accepted: jax, torch" >&2
        exit 2
    fi
done
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    echo "no wheels in .whl/ (run '$0 --fetch-wheels' here, carry .whl): using the Keras there"
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
out=${OUT:-/tmp/device_bench}
mkdir -p "$out"
json=$out/device_bench.jsonl
rm -f "$json"
nvidia-smi 2>&1 | tee "$out/nvidia-smi.txt"

measure() {  # backend, budget in seconds, that backend's own arguments
    echo "=== KERAS_BACKEND=$1, budget $2 s ==="
    KERAS_BACKEND=$1 timeout -k 10 $(($2 + 30)) \
        python3 scripts/device_bench.py --json "$json" --budget-seconds "$2" $extra $3 2>&1 |
        tee "$out/$1.log"
    local status=${PIPESTATUS[0]}
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "=== $1: stopped by timeout after $(($2 + 30)) s; its finished rows are kept ==="
    elif [[ $status -ne 0 ]]; then
        echo "=== $1: exit status $status ==="
    fi
}

total=${DEVICE_BENCH_SECONDS:-420}
extra=${DEVICE_BENCH_ARGS:-}  # split into words on purpose: several arguments
start=$SECONDS
if [[ " $backends " == *" jax "* ]]; then
    share=$total
    [[ " $backends " == *" torch "* ]] && share=$((total * 2 / 5))
    measure jax $share "${DEVICE_BENCH_JAX_ARGS:-}"
fi
if [[ " $backends " == *" torch "* ]]; then
    measure torch $((total - (SECONDS - start))) "${DEVICE_BENCH_TORCH_ARGS:-}"  # what JAX left
fi
echo "=== $backends: $((SECONDS - start)) s ==="
if [[ -s $json ]]; then
    python3 scripts/device_bench.py --report "$json"
fi
