"""scripts/benchmarks_doc.py: the CPU tables of docs/benchmarks.md, one per machine."""

import json

import pytest

from tests.utils import load_module

INTEL = {
    "cpu": "Intel(R) Xeon(R) Processor",
    "cores": 2,
    "flags": ["avx512_bf16", "amx_bf16"],
    "versions": {"keras": "3.15.1"},
    "python": "3.11.7",
}
AMD = dict(INTEL, cpu="AMD EPYC", flags=["avx512_bf16"])


def _run(machine, model, throughputs):
    """The three rows of one bench measurement: policy, same settings, anchor."""
    anchor = f"keras.applications.{model}"
    rows = []
    for contender, throughput in zip(
        ("keras_archs", "keras_archs@keras_defaults", anchor), throughputs
    ):
        rows.append(
            {
                "model": model.lower(),
                "contender": contender,
                "mode": "train",
                "unit": "images/s",
                "batch_size": 8,
                "input_size": 96,
                "precision": "float32",
                "jit_compile": False,
                "throughput": throughput,
                "peak_fraction": 0.25,
                "anchor": None if contender == anchor else anchor,
                "ratio": None if contender == anchor else throughput / throughputs[2],
                "backend": "tensorflow",
                "machine": machine,
            }
        )
    return rows


def test_each_machine_gets_its_table_and_its_note(tmp_path):
    doc = load_module("scripts/benchmarks_doc.py")
    rows = [
        *_run(INTEL, "ResNet50", (21.0, 20.0, 20.0)),
        *_run(AMD, "VGG16", (5.0, 4.0, 4.0)),
        *_run(INTEL, "MobileNet", (70.0, 70.0, 70.0)),  # a later run of the first machine
    ]
    text = doc.render(rows, ["intel note", "amd note"])
    lines = text.splitlines()
    order = [
        i
        for i, line in enumerate(lines)
        if line.startswith(("Machine:", "| resnet50", "| mobilenet", "| vgg16"))
        or line in ("intel note", "amd note")
    ]
    assert [lines[i].split(" (")[0].split(" |")[0] for i in order] == [
        "Machine: Intel(R) Xeon(R) Processor",
        "| resnet50",
        "| mobilenet",
        "intel note",
        "Machine: AMD EPYC",
        "| vgg16",
        "amd note",
    ]
    vgg = "| vgg16 | train | 96 | 8 | images/s | float32, False | 5.0 | 4.0 | 4.0 | 1.25x | 1.00x |"
    assert lines[order[5]] == vgg + " 25.0% |"
    # One chart for both machines; more notes than machines is refused.
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert doc.main([str(path), "--out", str(tmp_path), "--note", "a", "--note", "b"]) == 0
    assert (tmp_path / "benchmarks.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        doc.main([str(path), "--out", str(tmp_path), *["--note", "a"] * 3])
