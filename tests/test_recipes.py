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


def test_every_recipe_is_a_configuration_of_the_training_path():
    """Each applications/ recipe trains through `keras_archs.training.train`; none keeps
    a loop, a compile or a fit of its own."""
    import ast

    folder = os.path.join(REPO, "applications")
    recipes = sorted(f for f in os.listdir(folder) if f.endswith(".py"))
    assert len(recipes) >= 9
    for recipe in recipes:
        with open(os.path.join(folder, recipe)) as f:
            tree = ast.parse(f.read())
        called = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called.add(
                    func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                )
        assert "train" in called, recipe
        assert not called & {"fit", "compile", "train_on_batch", "apply_gradients"}, recipe
