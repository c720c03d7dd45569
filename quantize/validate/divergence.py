"""Where TFLite Micro and LiteRT-reference part: the first diverging op, and why.

:func:`first_divergence` runs a model in both runtimes keeping every
intermediate tensor and names the first op, in execution order, whose output
differs. For a FULLY_CONNECTED op it recomputes the outputs both ways in exact
integer arithmetic to check the explanation below.

Why TFLM and LiteRT-reference differ (established on the DRSN-CW int8 model,
all 25 FULLY_CONNECTED ops x 310 windows, every output value reproduced bit
for bit in numpy): LiteRT's reference int8 FULLY_CONNECTED kernel requantises
in floating point, ``round(acc * (double)s_in * s_w / s_out)`` with
``std::round`` (half away from zero; LiteRT commit 9213607 "Make the
fully_connected ref kernel do requant in float"), while TFLM uses the
fixed-point ``MultiplyByQuantizedMultiplier`` of the double-rounding build
(gemmlowp ``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``,
TFLITE_SINGLE_ROUNDING off). The first rounding, to 31 fractional bits of the
multiplier's high half, can lift a value just below ``k + 0.5`` onto
``k + 0.5``, and the second rounding then goes away from zero: TFLM ends up 1
LSB further from zero. CONV_2D uses the fixed-point path in both runtimes, so
it agrees.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.errors import DrsnError
from quantize.runtimes.base import quantize_input
from quantize.tflite.fixedpoint import (calculate_activation_range_quantized, multiply_by_quantized_multiplier,
                                        quantize_multiplier, tflite_round)
from quantize.tflite.graph import op_names, read_model, tensor_name
from quantize.runtimes.tflm import _default_arena, _quantization, load_interpreter

FC_EXPLANATION = (
    "LiteRT's reference int8 FULLY_CONNECTED requantises in floating point, round(acc * s_in*s_w/s_out) "
    "half away from zero, while TFLM uses the fixed-point MultiplyByQuantizedMultiplier with double "
    "rounding (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), which rounds values just "
    "below k+0.5 to k+0.5 and then away from zero, so TFLM lands 1 LSB further from zero.")


def _activation_range(op, zero: int, scale: float, dtype: np.dtype) -> tuple[int, int]:
    info = np.iinfo(dtype)
    activation = getattr(op.builtinOptions, "fusedActivationFunction", 0) if op.builtinOptions else 0
    return calculate_activation_range_quantized(activation, scale, zero, int(info.min), int(info.max))


class _FCCheck:
    """Recompute a FULLY_CONNECTED output both ways and count which formula each runtime followed."""

    def __init__(self) -> None:
        self.values = 0
        self.litert_float = 0
        self.tflm_fixed = 0
        self.differing = 0
        self.differing_explained = 0

    def add(self, op, details: dict, lr, lr_out: np.ndarray, tflm_out: np.ndarray) -> None:
        ti_in, ti_w = int(op.inputs[0]), int(op.inputs[1])
        ti_b = int(op.inputs[2]) if len(op.inputs) > 2 else -1
        d_in, d_w, d_out = details[ti_in], details[ti_w], details[int(op.outputs[0])]
        if not all(np.dtype(d["dtype"]) in (np.int8, np.int16) for d in (d_in, d_w, d_out)):
            return
        s_in, z_in = _quantization(d_in)
        s_out, z_out = _quantization(d_out)
        w_scales = [float(v) for v in d_w["quantization_parameters"]["scales"]]
        w_zero = int(d_w["quantization_parameters"]["zero_points"][0]) if len(w_scales) == 1 else 0
        x = lr.get_tensor(ti_in).astype(np.int64)
        w = lr.get_tensor(ti_w).astype(np.int64)
        depth = w.shape[-1]
        x = x.reshape(-1, depth)
        w = w.reshape(-1, depth)
        bias = lr.get_tensor(ti_b).astype(np.int64).reshape(-1) if ti_b >= 0 else np.zeros(w.shape[0], np.int64)
        acc = (x - z_in) @ (w - w_zero).T + bias
        lo, hi = _activation_range(op, z_out, s_out, np.dtype(d_out["dtype"]))
        lr_flat = lr_out.reshape(acc.shape).astype(np.int64)
        tm_flat = tflm_out.reshape(acc.shape).astype(np.int64)
        for channel in range(acc.shape[1]):
            # both runtimes build the effective scale in double from the float32 scales
            real = float(np.float32(s_in)) * float(np.float32(w_scales[channel if len(w_scales) > 1 else 0])) \
                / float(np.float32(s_out))
            multiplier, shift = quantize_multiplier(real)
            for row in range(acc.shape[0]):
                a = int(acc[row, channel])
                by_float = min(hi, max(lo, tflite_round(a * real) + z_out))  # std::round of the double product
                by_fixed = min(hi, max(lo, multiply_by_quantized_multiplier(a, multiplier, shift) + z_out))
                lr_value, tm_value = int(lr_flat[row, channel]), int(tm_flat[row, channel])
                self.values += 1
                self.litert_float += by_float == lr_value
                self.tflm_fixed += by_fixed == tm_value
                if lr_value != tm_value:
                    self.differing += 1
                    self.differing_explained += by_float == lr_value and by_fixed == tm_value

    def explanation(self) -> str:
        if self.values and self.litert_float == self.values and self.tflm_fixed == self.values:
            return (f"{FC_EXPLANATION} Reproduced bit for bit in numpy on all {self.values} output values of "
                    f"the diverging windows ({self.differing} differ).")
        if self.values:
            return (f"Requantisation of FULLY_CONNECTED differs; the float-vs-fixed-point model reproduced "
                    f"LiteRT on {self.litert_float}/{self.values} and TFLM on {self.tflm_fixed}/{self.values} "
                    f"values ({self.differing_explained}/{self.differing} differences explained).")
        return "FULLY_CONNECTED outputs differ (not an int8/int16 FC, requantisation not checked)."


def first_divergence(model_path: Path, windows: np.ndarray) -> dict | None:
    """The first op, in execution order, whose output differs between TFLM and LiteRT-reference.

    Both runtimes keep every intermediate tensor (TFLM: ``kPreserveAllTensors``,
    LiteRT: ``experimental_preserve_all_tensors``) and every op's outputs are
    compared on each of ``windows`` (float network input, like
    :meth:`Predictor.logits_preprocessed`) up to the first difference. None when
    the two agree on every tensor of every window. For a FULLY_CONNECTED the
    explanation is checked by recomputing the op's outputs both ways.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model_path = Path(model_path)
    if not model_path.is_file():
        raise DrsnError(f"model not found: {model_path}")
    data = model_path.read_bytes()
    model = read_model(data)
    graph = model.subgraphs[0]
    # the linear planner gives every tensor its own buffer: size the arena for all of them
    tensor_bytes = sum(int(np.prod(t.shape if t.shape is not None else [1])) * 8 for t in graph.tensors)
    tflm, _ = load_interpreter(data, max(_default_arena(data), 2 * tensor_bytes + (1 << 20)),
                               preserve_all_tensors=True, name=model_path.name)
    try:
        lr = Interpreter(model_path=str(model_path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
        lr.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise DrsnError(f"LiteRT cannot load {model_path.name}: {str(exc).splitlines()[0]}") from None
    details = {int(d["index"]): d for d in lr.get_tensor_details()}
    inp = lr.get_input_details()[0]
    dtype = np.dtype(inp["dtype"])
    ops = op_names(model)
    firsts: dict[int, list[tuple[int, float]]] = {}
    fc_checks: dict[int, _FCCheck] = {}
    diverging = 0
    for index, window in enumerate(np.asarray(windows, np.float32)):
        x = window.reshape(inp["shape"])
        if dtype != np.float32:
            scale, zero = inp["quantization"]
            x = quantize_input(x, scale, zero, dtype)
        lr.set_tensor(inp["index"], x)
        lr.invoke()
        tflm.set_input(x, 0)
        tflm.invoke()
        for op_index, op in enumerate(graph.operators):
            worst, outputs = None, []
            for ti in op.outputs:
                ti = int(ti)
                if ti < 0:
                    continue
                a = lr.get_tensor(ti)
                b = np.asarray(tflm.GetTensor(ti, 0)["tensor_data"]).reshape(a.shape)
                outputs.append((a, b))
                if np.issubdtype(a.dtype, np.integer):
                    lsb = float(np.max(np.abs(a.astype(np.int64) - b.astype(np.int64)), initial=0))
                else:
                    lsb = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
                    lsb = lsb if not np.allclose(a, b, rtol=1e-6, atol=0.0) else 0.0
                worst = lsb if worst is None else max(worst, lsb)
            if worst:
                diverging += 1
                firsts.setdefault(op_index, []).append((index, worst))
                if ops[op_index] == "FULLY_CONNECTED" and len(outputs) == 1:
                    fc_checks.setdefault(op_index, _FCCheck()).add(op, details, lr, *outputs[0])
                break
    if not firsts:
        return None
    op_index = min(firsts)
    hits = firsts[op_index]
    op = graph.operators[op_index]
    max_lsb = max(lsb for _, lsb in hits)
    if ops[op_index] == "FULLY_CONNECTED":
        explanation = fc_checks[op_index].explanation() if op_index in fc_checks else FC_EXPLANATION
    else:
        explanation = f"{ops[op_index]} outputs differ; no established cause for this op."
    return {"op_index": op_index, "op": ops[op_index], "tensor": tensor_name(graph.tensors[int(op.outputs[0])]),
            "max_lsb": int(max_lsb) if float(max_lsb).is_integer() else max_lsb,
            "windows_affected": len(hits), "windows": len(np.asarray(windows)), "windows_diverging": diverging,
            "explanation": explanation}
