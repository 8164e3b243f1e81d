import os
import subprocess
import sys

from tests.utils import REPO, subprocess_env


def test_lenet5_digits_recipe_runs_and_learns(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "applications", "lenet5_digits.py"),
            "--epochs",
            "3",
            "--out",
            str(out),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    accuracy = float(proc.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert accuracy > 0.85  # 3 epochs; chance is 0.10
    assert (out / "model.keras").is_file()
