"""Lower each TFLite op to one C kernel call with precomputed parameters.

A :class:`Step` names the kernel, its parameter struct (plain integers,
lists, and constant arrays) and the tensors it reads and writes. Shape-only
ops (RESHAPE, SQUEEZE, EXPAND_DIMS) become aliases: no code, no copy.
Anything not in :data:`LOWERINGS` is refused with the op's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from drsn_edge.errors import DrsnError
from firmware_export.c_engine import quant
from firmware_export.c_engine.graph import Graph, Op, Tensor

ALIAS_OPS = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}
SAME, VALID = 0, 1
WEIGHT_TAIL = 3  # zero bytes after a conv's weights: the SMLAD path reads whole words (drsn_conv.c)


@dataclass
class Const:
    """A constant array the generated code defines (weights, biases, multipliers, tables)."""

    ctype: str  # int8_t, int32_t or double
    values: list


@dataclass
class Step:
    op: str
    kernel: str | None  # None: an alias (RESHAPE and friends)
    ptype: str = ""
    params: dict = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)  # tensors passed to the kernel, in order
    output: int = -1


def shape4(shape: tuple[int, ...], op: str) -> list[int]:
    if len(shape) > 4:
        raise DrsnError(f"{op}: tensors of rank {len(shape)} are not supported")
    return [1] * (4 - len(shape)) + list(shape)


def _out_size(padding: int, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == SAME else (size + stride - eff) // stride


def _pad_amount(padding: int, size: int, k: int, stride: int, dilation: int, out: int) -> int:
    """``ComputePaddingWithOffset``: VALID gives 0 too, as the output size leaves no slack."""
    eff = (k - 1) * dilation + 1
    return max((out - 1) * stride + eff - size, 0) // 2


def _act(op: Op, out: Tensor) -> tuple[int, int]:
    return quant.activation_range(int(op.options.get("fusedActivationFunction", 0) or 0), out.scale,
                                  out.zero_point, op.name)


def _spatial(op: Op, inp: Tensor, out: Tensor, k_h: int, k_w: int, dil_h: int, dil_w: int) -> dict:
    n, h, w, _ = shape4(inp.shape, op.name)
    on, oh, ow, _ = shape4(out.shape, op.name)
    if n != 1 or on != 1:
        raise DrsnError(f"{op.name}: only batch 1 is supported")
    pad, sh, sw = int(op.options["padding"]), int(op.options["strideH"]), int(op.options["strideW"])
    if (_out_size(pad, h, k_h, sh, dil_h), _out_size(pad, w, k_w, sw, dil_w)) != (oh, ow):
        raise DrsnError(f"{op.name}: output shape {out.shape} does not follow from the input and options")
    return {"stride_h": sh, "stride_w": sw, "pad_h": _pad_amount(pad, h, k_h, sh, dil_h, oh),
            "pad_w": _pad_amount(pad, w, k_w, sw, dil_w, ow)}


def _scales(t: Tensor, n: int) -> list[float]:
    return t.scales if len(t.scales) == n else [t.scales[0]] * n


def _folded_bias(filt: Tensor, bias: Tensor | None, input_offset: int) -> list[int]:
    """bias + input_offset * sum(weights) per output channel (the kernel subtracts taps outside the input)."""
    sums = filt.data.reshape(filt.shape[0], -1).astype(np.int64).sum(axis=1) * input_offset
    folded = sums + (bias.data.astype(np.int64) if bias is not None else 0)
    if np.abs(folded).max(initial=0) >= 2**31:
        raise DrsnError("CONV_2D: bias plus weight sums overflow int32")
    return [int(v) for v in folded]


def _smmulr_safe(filt: Tensor, bias: Tensor | None, shifts: list[int], zero_point: int, act_max: int) -> int:
    """1 if every channel's accumulator, |sum w (x - zero point)| + |bias| <= sum|w| 255 + |bias|, times
    2^(left shift + 1), stays below 2^31: then SMMULR computes the reference's rounding (drsn_conv.c).
    2 if moreover every shift is a right shift, the clamp ends at 127 and drsn_requant cannot overflow
    (fuse.fast_requant): then the rounding shift and zero point take three instructions."""
    from firmware_export.c_engine.fuse import fast_requant

    weights = np.abs(filt.data.reshape(filt.shape[0], -1).astype(np.int64)).sum(axis=1) * 255
    bound = weights + (np.abs(bias.data.astype(np.int64)) if bias is not None else 0)
    lefts = np.maximum(np.asarray(shifts, np.int64), 0)
    if not np.all(bound * (2 ** (lefts + 1)) < 2**31):
        return 0
    fast = act_max == 127 and all(fast_requant(1, s, zero_point, int(b)) for s, b in zip(shifts, bound.tolist()))
    return 2 if fast else 1


def conv_2d(g: Graph, op: Op) -> Step:
    inp, filt, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    bias = g.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    oc, kh, kw, fic = filt.shape
    _, ih, iw, ic = shape4(inp.shape, op.name)
    _, oh, ow, _ = shape4(out.shape, op.name)
    if filt.dtype != "int8" or any(z != 0 for z in filt.zero_points):
        raise DrsnError("CONV_2D: only symmetric int8 filters are supported")
    dil_h, dil_w = int(op.options.get("dilationHFactor", 1)), int(op.options.get("dilationWFactor", 1))
    mults = quant.conv_multipliers(inp.scale, _scales(filt, oc), out.scale)
    lo, hi = _act(op, out)
    params = {"in_h": ih, "in_w": iw, "in_c": ic, "out_h": oh, "out_w": ow, "out_c": oc, "k_h": kh, "k_w": kw,
              "filter_in_c": fic, **_spatial(op, inp, out, kh, kw, dil_h, dil_w), "dil_h": dil_h, "dil_w": dil_w,
              "input_offset": -inp.zero_point, "output_offset": out.zero_point, "act_min": lo, "act_max": hi,
              "smmulr_safe": _smmulr_safe(filt, bias, [s for _, s in mults], out.zero_point, hi),
              "weights": Const("int8_t", filt.data.ravel().tolist() + [0] * WEIGHT_TAIL),
              "folded_bias": Const("int32_t", _folded_bias(filt, bias, -inp.zero_point)),
              "multiplier": Const("int32_t", [m for m, _ in mults]), "shift": Const("int32_t", [s for _, s in mults])}
    return Step(op.name, "drsn_conv2d", "drsn_conv_params", params, [inp.index], out.index)


def max_pool_2d(g: Graph, op: Op) -> Step:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _, ih, iw, c = shape4(inp.shape, op.name)
    _, oh, ow, _ = shape4(out.shape, op.name)
    kh, kw = int(op.options["filterHeight"]), int(op.options["filterWidth"])
    lo, hi = _act(op, out)
    params = {"in_h": ih, "in_w": iw, "channels": c, "out_h": oh, "out_w": ow, "k_h": kh, "k_w": kw,
              **_spatial(op, inp, out, kh, kw, 1, 1), "act_min": lo, "act_max": hi}
    return Step(op.name, "drsn_max_pool2d", "drsn_pool_params", params, [inp.index], out.index)


def _merge_unpadded(shape: list[int], before: list[int], out: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Fold each unpadded axis into the one before it (its rows become longer), so the kernel copies
    long runs: padding along the outer axis then counts in whole rows of the inner one."""
    shape, before, out = list(shape), list(before), list(out)
    for d in range(3, 0, -1):  # deleting axis d leaves the merged axis at d - 1, checked next
        if shape[d] == out[d] and before[d] == 0:
            shape[d - 1], out[d - 1], before[d - 1] = shape[d - 1] * shape[d], out[d - 1] * out[d], before[d - 1] * shape[d]
            del shape[d], before[d], out[d]
    fill = 4 - len(shape)
    return [1] * fill + shape, [0] * fill + before, [1] * fill + out


def pad(g: Graph, op: Op) -> Step:
    inp, paddings, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if not paddings.is_const:
        raise DrsnError(f"{op.name}: pad amounts must be constant")
    amounts = paddings.data.reshape(-1, 2).tolist()
    before = [0] * (4 - len(amounts)) + [int(a) for a, _ in amounts]
    value = out.zero_point
    if len(op.inputs) > 2 and op.inputs[2] >= 0:  # PADV2's constant value
        value = int(g.tensors[op.inputs[2]].data.ravel()[0])
    in4, before, out4 = _merge_unpadded(shape4(inp.shape, op.name), before, shape4(out.shape, op.name))
    params = {"in_shape": in4, "before": before, "out_shape": out4, "value": value}
    return Step(op.name, "drsn_pad", "drsn_pad_params", params, [inp.index], out.index)


def _broadcast_strides(shape: list[int], out: list[int], op: str) -> list[int]:
    strides, step = [0] * 4, 1
    for d in range(3, -1, -1):
        if shape[d] != out[d] and shape[d] != 1:
            raise DrsnError(f"{op}: shapes {shape} and {out} do not broadcast")
        strides[d] = 0 if shape[d] == 1 and out[d] != 1 else step
        step *= shape[d]
    return strides


def _merge_axes(out: list[int], s1: list[int], s2: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Fold an axis into the next one wherever both inputs step through the two as through one (the
    same elements in the same order), so the kernel's innermost loop runs as long as it can."""
    out, s1, s2 = list(out), list(s1), list(s2)
    for d in range(2, -1, -1):  # deleting axis d leaves the merged axis at d, next to d - 1
        if all(s[d] == s[d + 1] * out[d + 1] for s in (s1, s2)):
            out[d + 1] *= out[d]
            del out[d], s1[d], s2[d]
    fill = 4 - len(out)
    return [1] * fill + out, [0] * fill + s1, [0] * fill + s2


def _fast_add_sub(p: dict) -> dict:
    """ADD/SUB's output requantisation as drsn_requant where fuse.fast_requant proves it exact for any sum of
    two rescaled int8 inputs."""
    from firmware_export.c_engine.fuse import fast_requant, peak_rescaled

    vmax = sum(peak_rescaled(p[f"in{i}_offset"], p[f"in{i}_multiplier"], p[f"in{i}_shift"]) for i in (1, 2))
    fast = fast_requant(p["out_multiplier"], p["out_shift"], p["out_offset"], vmax)
    return {"out_exponent": fast[0], "out_round": fast[1]} if fast else {}


def _binary(g: Graph, op: Op, kernel: str) -> Step:
    a, b, out = (g.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    out4 = shape4(out.shape, op.name)
    lo, hi = _act(op, out)
    out4, s1, s2 = _merge_axes(out4, _broadcast_strides(shape4(a.shape, op.name), out4, op.name),
                               _broadcast_strides(shape4(b.shape, op.name), out4, op.name))
    params = {"out_shape": out4, "in1_strides": s1, "in2_strides": s2, "in1_size": a.size, "in2_size": b.size,
              "in1_offset": -a.zero_point, "in2_offset": -b.zero_point, "out_offset": out.zero_point,
              "left_shift": 0, "in1_multiplier": 0, "in1_shift": 0, "in2_multiplier": 0, "in2_shift": 0,
              "out_multiplier": 0, "out_shift": 0, "act_min": lo, "act_max": hi, "out_exponent": 0, "out_round": 0}
    if kernel == "drsn_mul":
        params["out_multiplier"], params["out_shift"] = quant.mul_multiplier(a.scale, b.scale, out.scale)
    else:
        params.update(quant.add_sub_params(a.scale, b.scale, out.scale, op.name))
        params.update(_fast_add_sub(params))
    return Step(op.name, kernel, "drsn_binary_params", params, [a.index, b.index], out.index)


def abs_(g: Graph, op: Op) -> Step:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    rescale = np.float32(inp.scale) != np.float32(out.scale)
    mult, shift = quant.abs_multiplier(inp.scale, out.scale) if rescale else (0, 0)
    params = {"size": inp.size, "input_zero_point": inp.zero_point, "output_zero_point": out.zero_point,
              "needs_rescale": int(rescale), "multiplier": mult, "shift": shift}
    return Step(op.name, "drsn_abs", "drsn_abs_params", params, [inp.index], out.index)


def mean(g: Graph, op: Op) -> Step:
    inp, axes, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    if not axes.is_const:
        raise DrsnError("MEAN: the axes must be constant")
    rank = len(inp.shape)
    reduce = [0] * 4
    for a in axes.data.ravel().tolist():
        reduce[4 - rank + (a % rank)] = 1
    in4 = shape4(inp.shape, op.name)
    count = int(np.prod([n for n, r in zip(in4, reduce) if r]))
    mult, shift = quant.mean_multiplier(inp.scale, out.scale, count)
    params = {"in_shape": in4, "reduce": reduce, "count": count, "input_zero_point": inp.zero_point,
              "output_zero_point": out.zero_point, "multiplier": mult, "shift": shift}
    return Step(op.name, "drsn_mean", "drsn_mean_params", params, [inp.index], out.index)


def fully_connected(g: Graph, op: Op) -> Step:
    inp, filt, out = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]]
    bias = g.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if not filt.is_const or filt.dtype != "int8":
        raise DrsnError("FULLY_CONNECTED: only constant int8 weights are supported")
    units, depth = filt.shape
    per_channel = len(filt.scales) > 1
    lo, hi = _act(op, out)
    params = {"batches": inp.size // depth, "depth": depth, "units": units, "input_offset": -inp.zero_point,
              "weights_offset": 0 if per_channel else -filt.zero_point, "output_offset": out.zero_point,
              "act_min": lo, "act_max": hi, "per_channel": int(per_channel),
              "weights": Const("int8_t", filt.data.ravel().tolist()),
              "bias": Const("int32_t", bias.data.ravel().tolist()) if bias is not None else None,
              "scales": Const("double", quant.fc_scales(inp.scale, filt.scales, out.scale))}
    return Step(op.name, "drsn_fully_connected", "drsn_fc_params", params, [inp.index], out.index)


def logistic(g: Graph, op: Op) -> Step:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if np.float32(out.scale) != np.float32(1 / 256) or out.zero_point != -128:
        raise DrsnError("LOGISTIC: int8 output must have scale 1/256 and zero point -128")
    params = {"size": inp.size, "table": Const("int8_t", quant.logistic_table(inp.scale, inp.zero_point))}
    return Step(op.name, "drsn_lookup", "drsn_lut_params", params, [inp.index], out.index)


def alias(g: Graph, op: Op) -> Step:
    return Step(op.name, None, inputs=[op.inputs[0]], output=op.outputs[0])


LOWERINGS: dict[str, Callable[[Graph, Op], Step]] = {
    "CONV_2D": conv_2d, "MAX_POOL_2D": max_pool_2d, "PAD": pad, "PADV2": pad,
    "ADD": lambda g, op: _binary(g, op, "drsn_add"), "SUB": lambda g, op: _binary(g, op, "drsn_sub"),
    "MUL": lambda g, op: _binary(g, op, "drsn_mul"), "ABS": abs_, "MEAN": mean,
    "FULLY_CONNECTED": fully_connected, "LOGISTIC": logistic,
    **{name: alias for name in ALIAS_OPS},
}


def check_integer(g: Graph) -> None:
    """A float model, or float/int16 activations, cannot run on the int8 engine."""
    inp = g.tensors[g.inputs[0]]
    if inp.dtype != "int8":
        raise DrsnError(f"the C engine needs a full-integer int8 model, but the model input is {inp.dtype} "
                        "(export a build directory's model_int8.tflite)")
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise DrsnError("the C engine needs a model with one input and one output")
    for op in g.ops:
        for i in op.inputs[:1] + op.outputs:
            t = g.tensors[i]
            if t.dtype != "int8":
                raise DrsnError(f"{op.name} has a {t.dtype} tensor '{t.name}'; the C engine runs int8 activations only")


def lower(g: Graph, fused: bool = True) -> list[Step]:
    """One step per op, in execution order (``fused``: chains of ops in one step each, fuse.py); refuses the
    first op without an int8 kernel, by name."""
    from firmware_export.c_engine.fuse import fuse  # fuse builds on this module's lowerings

    check_integer(g)
    missing = sorted({op.name for op in g.ops if op.name not in LOWERINGS})
    if missing:
        raise DrsnError(f"op {', '.join(missing)} is not implemented by the C engine")
    steps = [LOWERINGS[op.name](g, op) for op in g.ops]
    return fuse(g, steps) if fused else steps
