"""scripts/profile_train.py: oneDNN's verbose lines summed per step, on lines as oneDNN 3
prints them (with ONEDNN_VERBOSE_TIMESTAMP=1)."""

import pytest

from tests.utils import load_module

_LINES = [
    "onednn_verbose,v1,primitive,info,template:timestamp,operation,engine,primitive,"
    "implementation,prop_kind,memory_descriptors,attributes,auxiliary,problem_desc,exec_time",
    # Before the timed window: left out.
    "onednn_verbose,v1,999.5,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,"
    "forward_training,src:f32::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,"
    "mb4_ic1oc6_ih32oh28kh5sh1dh0ph0_iw32ow28kw5sw1dw0pw0,50.0",
    "onednn_verbose,v1,1000.0,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,"
    "forward_training,src:f32::blocked:acdb::f0 wei:f32:ap:blocked:Adcb16a::f0,"
    "attr-scratchpad:user,alg:convolution_direct,"
    "mb4_ic1oc6_ih32oh28kh5sh1dh0ph0_iw32ow28kw5sw1dw0pw0,2.0",
    "onednn_verbose,v1,1003.0,primitive,exec,cpu,convolution,jit:avx512_core,backward_weights,"
    "src:f32::blocked:acdb::f0,,alg:convolution_direct,"
    "mb4_ic6oc16_ih14oh10kh5sh1dh0ph0_iw14ow10kw5sw1dw0pw0,6.0",
    "onednn_verbose,v1,1004.0,primitive,exec,cpu,reorder,jit:uni,undef,"
    "src:f32::blocked:cdba::f0 dst:f32:p:blocked:Adcb16a::f0,,,6x1x5x5,1.0",
    "I0000 a TensorFlow log line",
    # After the window: left out.
    "onednn_verbose,v1,1020.5,primitive,exec,cpu,reorder,jit:uni,undef,src,,,6x1x5x5,9.0",
]


def test_lines_in_the_window_are_summed_per_step_by_kind_and_feature_map():
    profile = load_module("scripts/profile_train.py")
    records = profile.parse(_LINES, 1000.0, 1020.0)
    assert [(r[1], r[3], r[5]) for r in records] == [
        ("convolution", "forward_training", 2.0),
        ("convolution", "backward_weights", 6.0),
        ("reorder", "undef", 1.0),
    ]
    # Two steps in 20 ms: 10 ms a step, 4.5 of them in oneDNN.
    summary = profile.summarise(records, wall_ms=20.0, steps=2)
    assert summary["step_ms"] == 10.0 and summary["onednn_ms"] == 4.5
    assert summary["outside_onednn_ms"] == 5.5
    assert [(r["kind"], r["propagation"], r["ms"], r["of_step"]) for r in summary["by_kind"]] == [
        ("convolution", "backward_weights", 3.0, 0.3),
        ("convolution", "forward_training", 1.0, 0.1),
        ("reorder", "undef", 0.5, 0.05),
    ]
    # Convolutions by their output side, the largest feature maps first.
    assert summary["convolution_by_output_side"] == [
        {"side": 28, "propagation": "forward_training", "ms": 1.0},
        {"side": 10, "propagation": "backward_weights", "ms": 3.0},
    ]


def test_bad_counts_are_refused_before_anything_runs(capsys):
    profile = load_module("scripts/profile_train.py")
    with pytest.raises(SystemExit) as exit_:
        profile.main(["resnet50", "--steps", "0"])
    assert exit_.value.code == 2
    assert "--steps got 0; accepted: >= 1" in capsys.readouterr().err
