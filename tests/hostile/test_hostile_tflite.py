"""Crafted .tflite files that would make the C engine read or write out of bounds, divide by zero, shift too
far or overflow int32 are refused in one line, before any C is generated.

The issue's memory-safety classes each get one hand-made model here (the fuzz
test and benchmark mutate at random), and so do output shapes that LiteRT
would compute differently (another rank); the int32 cases below them: each model is the committed tiny DRSN-CW with one constant or scale pushed to
an extreme (an FC bias near INT32_MAX, as the fuzz benchmark found; a conv
bias, a MUL/ABS/MEAN rescale factor that shifts the value left past 31 bits).
Before the bounds in ``c_engine/validate.py`` every one of them was exported,
and the engine then overflowed int32 (undefined behaviour in C) at run time.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.errors import DrsnError
from firmware_export.c_engine.target import compile_model
from quantize.tflite.fixedpoint import quantize_multiplier_smaller_than_one_exp
from quantize.tflite.graph import read_model, write_model

DATA = Path(__file__).resolve().parent / "data" / "tiny_build"
INT32_MAX = 2**31 - 1


def _edit(edit) -> bytes:
    """The tiny model with ``edit(subgraph, buffers)`` applied."""
    model = read_model((DATA / "model_int8.tflite").read_bytes())
    edit(model.subgraphs[0], model.buffers)
    return write_model(model)


def _op(sub, name: str, nth: int = 0):
    from firmware_export.c_engine.graph import load_graph

    graph = load_graph((DATA / "model_int8.tflite").read_bytes())
    return sub.operators[[n for n, op in enumerate(graph.ops) if op.name == name][nth]]


def _set_bias(sub, buffers, op_name: str, value) -> None:
    """The op's int32 bias, channel 0, set to ``value(bias, op)`` (the other channels keep theirs)."""
    op = _op(sub, op_name)
    buf = buffers[sub.tensors[op.inputs[2]].buffer]
    bias = np.frombuffer(bytes(bytearray(buf.data)), "<i4").copy()
    bias[0] = value(bias, op, sub, buffers)
    buf.data = np.frombuffer(bias.tobytes(), np.uint8)


def _cut_after(sub, op) -> None:
    """Drop the ops after ``op``; its output becomes the graph's (to reach one op's rescale alone)."""
    sub.operators = sub.operators[: sub.operators.index(op) + 1]
    sub.outputs = [op.outputs[0]]


def _rescale(op_name: str, factor: float, nth: int = 0):
    def edit(sub, buffers) -> None:
        op = _op(sub, op_name, nth)
        q = sub.tensors[op.outputs[0]].quantization
        q.scale = np.asarray(q.scale, np.float32) / np.float32(factor)
        _cut_after(sub, op)

    return edit


def _conv_bias_at_the_limit(bias, op, sub, buffers) -> int:
    """A bias whose folded value (bias + input offset x weight sum) is just below 2^31: accepted before,
    though the accumulator added to it then overflows."""
    filt = sub.tensors[op.inputs[1]]
    weights = np.frombuffer(bytes(bytearray(buffers[filt.buffer].data)), np.int8).reshape(filt.shape[0], -1)
    folded = -int(sub.tensors[op.inputs[0]].quantization.zeroPoint[0]) * int(weights[0].astype(np.int64).sum())
    target = INT32_MAX - 1000 if folded >= 0 else -(INT32_MAX - 1000)  # so the bias itself fits int32
    return target - folded


CASES = {
    "fc-bias-near-int32-max": lambda s, b: _set_bias(s, b, "FULLY_CONNECTED", lambda *_: INT32_MAX - 100),
    "fc-bias-near-int32-min": lambda s, b: _set_bias(s, b, "FULLY_CONNECTED", lambda *_: -INT32_MAX),
    "conv-bias-near-int32-max": lambda s, b: _set_bias(s, b, "CONV_2D", _conv_bias_at_the_limit),
    "mul-rescale-2^24": _rescale("MUL", 2.0**24),
    "abs-rescale-2^24": _rescale("ABS", 2.0**24),
    "mean-rescale-2^27": _rescale("MEAN", 2.0**27),
}


def _conv(sub):
    return sub.operators[10]  # CONV_2D: input [1, 1, 258, 4], filter [4, 1, 3, 4], bias [4], output [1, 1, 128, 4]


def _tensor(sub, slot: int):
    op = _conv(sub)
    return sub.tensors[(list(op.inputs) + list(op.outputs))[slot]]


def _set(obj, name: str, value) -> None:
    setattr(obj, name, value)


def _short_bias(sub, buffers) -> None:
    bias = _tensor(sub, 2)
    bias.shape = np.array([2], np.int32)
    buffers[bias.buffer].data = buffers[bias.buffer].data[:8]


CRAFTED = {  # edit, the check that refuses it
    "per-channel-scales-shorter-than-channels": (lambda s, b: _set(_tensor(s, 1).quantization, "scale",
                                                                   np.array([0.01, 0.01], np.float32)), "scales"),
    "bias-shorter-than-channels": (_short_bias, "bias has shape"),
    "output-smaller-than-written": (lambda s, b: _set(_tensor(s, 3), "shape", np.array([1, 1, 64, 4], np.int32)),
                                    "writes shape"),
    "filter-channels-do-not-divide-input": (lambda s, b: _set(_tensor(s, 1), "shape", np.array([4, 1, 4, 3],
                                                                                               np.int32)), "divide"),
    "huge-scale": (lambda s, b: _set(_tensor(s, 3).quantization, "scale", np.array([1e38], np.float32)), "scale"),
    "zero-scale": (lambda s, b: _set(_tensor(s, 3).quantization, "scale", np.array([0.0], np.float32)), "scale"),
    "nan-scale": (lambda s, b: _set(_tensor(s, 3).quantization, "scale", np.array([np.nan], np.float32)), "scale"),
    "tensor-index-out-of-range": (lambda s, b: _set(_conv(s), "inputs", np.array([66, 10**6, 50], np.int32)),
                                  "refers to tensor"),
    "short-weight-buffer": (lambda s, b: _set(b[_tensor(s, 1).buffer], "data", b[_tensor(s, 1).buffer].data[:40]),
                            "bytes"),
    "zero-stride": (lambda s, b: _set(_conv(s).builtinOptions, "strideW", 0), "strides"),
    # found by the fuzz benchmark (seed 2, model 4,8xx): SUB of [1, 32, 16] and [1, 1, 32, 16] is rank 4 in
    # LiteRT, so the MEAN after it reduced another axis than the engine's, and the logits differed in size
    "broadcast-output-of-another-rank": (lambda s, b: s.operators[65].inputs.__setitem__(1, 109), "writes shape"),
    "reshape-stored-shape-not-litert's": (lambda s, b: _set(b[s.tensors[s.operators[61].inputs[1]].buffer], "data",
                                                            np.array([1, 16, 1], "<i4").view(np.uint8)),
                                          "writes shape"),
}


@pytest.mark.parametrize("case", CRAFTED)
def test_unsafe_or_diverging_models_are_refused(case) -> None:
    edit, check = CRAFTED[case]
    with pytest.raises(DrsnError, match=check) as info:
        compile_model(_edit(edit))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", CASES)
def test_int32_overflow_is_refused(case) -> None:
    with pytest.raises(DrsnError, match="int32 arithmetic can overflow") as info:
        compile_model(_edit(CASES[case]))
    assert "\n" not in str(info.value)


def test_fc_bias_near_int32_max_is_one_error_line_and_nothing_written(tiny_build, tmp_path, refused) -> None:
    (tiny_build / "model_int8.tflite").write_bytes(_edit(CASES["fc-bias-near-int32-max"]))
    line = refused("export", tiny_build, "--target", "c", "--out", tmp_path / "fw")
    assert "FULLY_CONNECTED" in line and "2^31" in line
    assert not (tmp_path / "fw").exists() and not list(tmp_path.glob(".fw*"))


def test_the_real_model_is_within_every_bound_and_fw_json_says_why(tiny_build, tmp_path) -> None:
    from drsn_edge.cli import main

    assert main(["export", str(tiny_build), "--target", "c", "--out", str(tmp_path / "fw")]) == 0
    info = json.loads((tmp_path / "fw" / "fw.json").read_text())
    bounded = ("CONV_2D", "FULLY_CONNECTED", "MEAN", "MUL", "ABS", "ADD", "SUB")  # op by op, before fusion
    assert {line.split()[2].rstrip(":") for line in info["int32_bounds"]} == set(bounded)
    worst = max(int(line.rsplit("requantised <= ", 1)[1].split()[0]) for line in info["int32_bounds"])
    assert worst < 2**30  # the trained model sits far inside the limit of 2^31 - 256


def test_an_add_rescale_that_rounds_to_one_is_refused() -> None:
    """QuantizeMultiplierSmallerThanOneExp: 1 - 2^-40 rounds to 2^30 x 2^1, a left shift the ADD path lacks."""
    assert quantize_multiplier_smaller_than_one_exp(0.5, "ADD") == (2**30, 0)
    with pytest.raises(DrsnError, match="rounds to 1"):
        quantize_multiplier_smaller_than_one_exp(1 - 2.0**-40, "ADD")
