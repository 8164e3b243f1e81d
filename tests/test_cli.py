import os
import subprocess
import sys
import time

import pytest

from keras_archs import cli
from keras_archs.training.fit import RUN_FOLDER
from tests.utils import REPO, subprocess_env


def test_list_shows_every_model_with_counts(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "61,706" in out
    assert "alexnet" in out and "61,100,840" in out


def test_info(capsys):
    assert cli.main(["info", "alexnet"]) == 0
    out = capsys.readouterr().out
    assert "Krizhevsky" in out and "2012" in out


def test_unknown_model_is_a_clean_error(capsys):
    assert cli.main(["info", "lenet"]) == 2
    err = capsys.readouterr().err
    assert "Unknown model name='lenet'" in err and "lenet5" in err


def test_train_writes_run_folder_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "lenet5", "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("final validation accuracy: ")
    assert sorted(os.listdir(out)) == sorted(RUN_FOLDER)
    with open(out / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(out / "history.csv") as f:
        assert f.readline().strip().split(",")[:2] == ["epoch", "accuracy"]
    before = {name: os.path.getmtime(out / name) for name in os.listdir(out)}
    assert cli.main(["train", "lenet5", "--epochs", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert {name: os.path.getmtime(out / name) for name in os.listdir(out)} == before


def test_train_rejects_bad_arguments(tmp_path, capsys):
    assert cli.main(["train", "lenet5", "--epochs", "0", "--out", str(tmp_path / "a")]) == 2
    assert "epochs must be an integer >= 1; got epochs=0" in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--data", "nope", "--out", str(tmp_path / "b")]) == 2
    assert "Unknown dataset name='nope'" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")


def test_train_refuses_a_misspelt_data_option(tmp_path, capsys):
    # `t` meant `T`: it used to be ignored and the task ran with its default length.
    out = tmp_path / "run"
    args = ["train", "tcn", "--data-arg", "t=600", "--epochs", "1", "--out", str(out)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("keras-archs train: error: Unknown option(s) 't' for dataset")
    assert "'adding_problem'; accepted: " in err[0] and "'T'" in err[0]
    assert not out.exists()
    # Image datasets refuse them too, and a malformed pair is reported as such.
    assert cli.main(["train", "lenet5", "--data-arg", "T=5", "--out", str(out)]) == 2
    assert "Unknown option(s) 'T' for dataset 'digits'" in capsys.readouterr().err
    assert cli.main(["train", "lenet5", "--data-arg", "T", "--out", str(out)]) == 2
    assert "--data-arg takes KEY=VALUE; got 'T'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_readme_main_command_reaches_095_within_two_minutes(tmp_path):
    """The README's main job: `keras-archs train lenet5` on offline digits."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "keras_archs.cli", "train", "lenet5"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("final validation accuracy: ")
    accuracy = float(last.rsplit(" ", 1)[1])
    print(f"keras-archs train lenet5: {accuracy:.4f} in {seconds:.1f} s")
    assert accuracy >= 0.95
    assert seconds < 120
    assert os.path.isdir(tmp_path / "runs")
    assert REPO  # the package is imported from the checkout via PYTHONPATH


def test_key_value_flags_parse_numbers_and_words():
    from keras_archs.cli import _key_values

    parsed = _key_values(["units=16", "rate=0.5", "attention=bahdanau", "bias=false", "x=None"])
    assert parsed == {"units": 16, "rate": 0.5, "attention": "bahdanau", "bias": False, "x": None}
    with pytest.raises(ValueError, match="--model-arg takes KEY=VALUE; got 'units'"):
        _key_values(["units"], "--model-arg")


def test_export_onnx_writes_a_checked_file_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "onnx"
    path = out / "lenet5.onnx"
    assert cli.main(["export", "lenet5", "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"ONNX: {path}" in printed
    assert "inputs: input_layer float32[batch, 32, 32, 1]; outputs: probabilities" in printed
    difference = float(printed.split("max abs difference ")[1].split()[0])
    assert 0 <= difference <= 1e-4
    assert sorted(os.listdir(out)) == ["lenet5.onnx"]
    before = path.read_bytes()
    assert cli.main(["export", "lenet5", "--format", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("keras-archs export: error: "), err
    assert "already exists; pass overwrite=True (CLI: --overwrite)" in err[0]
    assert path.read_bytes() == before
    args = ["export", "lenet5", "--format", "onnx", "--out", str(path), "--overwrite"]
    assert cli.main(args) == 0  # --out may name the file itself
    assert f"ONNX: {path}" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["lenet5.onnx"]
    # SavedModel-only options are refused, not ignored.
    assert cli.main(["export", "lenet5", "--format", "onnx", "--version", "2"]) == 2
    assert "--version applies to --format saved_model only" in capsys.readouterr().err


def test_export_unknown_format_is_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["export", "lenet5", "--format", "tflite"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    # argparse's usage lines come first, then the one error line (quoting varies by Python).
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and err[-1] == errors[0], err
    assert errors[0].startswith("keras-archs export: error: argument --format: invalid choice:")
    assert "'tflite'" in errors[0] and "saved_model" in errors[0] and "onnx" in errors[0]
