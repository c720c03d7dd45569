"""A .tflite graph checked against each op's semantics before any C is generated from it.

The generated engine trusts its graph completely: an output shape smaller than
what the op writes, a per-channel array shorter than the channel count or a
short constant buffer would become an out-of-bounds write or read in C. So
every fact the generator sizes something from is proved here first, and each
op's proof is kept (:func:`check_graph` returns one line per op) so the
exporter can say why every arena slot is large enough: the slot holds the
tensor's shape, and the shape is the one the op computes from its inputs and
options.

The same holds for values: :func:`check_steps` bounds every int32 a kernel
computes (accumulators, biases, the value requantisation shifts left or
scales, the zero point added after it) from the constants and multipliers it
will run with, and returns one line per kernel saying why it fits.

:func:`check_structure` runs on the raw flatbuffer objects (indices, buffers,
op codes) so that :mod:`graph` never indexes outside a list;
:func:`check_graph` runs on the parsed :class:`Graph`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from drsn_edge.errors import DrsnError

if TYPE_CHECKING:  # graph.py calls check_structure, so no import of it at run time
    from firmware_export.c_engine.graph import Graph, Op, Tensor
    from firmware_export.c_engine.lower import Step

MAX_ELEMENTS = 1 << 24  # per tensor: 16 MiB of int8 is beyond any microcontroller
MAX_TENSORS = 1 << 16
SCALE_RANGE = (1e-30, 1e30)  # int8 tensor scales; the multipliers derived from them are checked by quant
ITEM_SIZES = {0: 4, 2: 4, 3: 1, 4: 8, 7: 2, 9: 1}  # tflite type code -> bytes (float32, int32, uint8, int64, int16, int8)
SAME, VALID = 0, 1
BINARY = ("ADD", "SUB", "MUL")
ALIASES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


def _index_list(values, what: str, count: int, optional: bool = False) -> list[int]:
    items = [] if values is None else [int(v) for v in values]
    for i in items:
        if not (0 <= i < count or (optional and i == -1)):
            raise DrsnError(f"{what} refers to tensor {i}, but the graph has {count}")
    return items


def check_structure(model) -> None:
    """Indices, op codes and constant buffers of a parsed ``ModelT`` are all in range and consistent."""
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise DrsnError(f"expected one subgraph, found {len(model.subgraphs or [])}")
    sub, buffers, codes = model.subgraphs[0], model.buffers or [], model.operatorCodes or []
    tensors = sub.tensors or []
    if not 1 <= len(tensors) <= MAX_TENSORS:
        raise DrsnError(f"the graph has {len(tensors)} tensors")
    for i, raw in enumerate(tensors):
        shape = [] if raw.shape is None else [int(v) for v in raw.shape]
        if len(shape) > 4 or any(d < 1 for d in shape) or math.prod(shape) > MAX_ELEMENTS:
            raise DrsnError(f"tensor {i} has shape {shape}: dimensions must be 1 or more, rank at most 4, "
                            f"at most {MAX_ELEMENTS} elements")
        if not 0 <= raw.buffer < max(len(buffers), 1):
            raise DrsnError(f"tensor {i} refers to buffer {raw.buffer}, but the model has {len(buffers)}")
        data = buffers[raw.buffer].data if buffers else None
        if data is not None and len(data):
            need = math.prod(shape) * ITEM_SIZES.get(raw.type, 0)
            if len(data) != need:
                raise DrsnError(f"constant tensor {i} has {len(data)} bytes, but shape {shape} of type "
                                f"{raw.type} needs {need}")
    count = len(tensors)
    _index_list(sub.inputs, "the graph input", count)
    _index_list(sub.outputs, "the graph output", count)
    for n, op in enumerate(sub.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise DrsnError(f"op {n} has op code {op.opcodeIndex}, but the model has {len(codes)}")
        _index_list(op.inputs, f"op {n}", count, optional=True)
        if len(_index_list(op.outputs, f"op {n}", count)) != 1:
            raise DrsnError(f"op {n} must have exactly one output")


def _shape(t: Tensor) -> list[int]:
    return [1] * (4 - len(t.shape)) + list(t.shape)


def _need(condition: bool, op: Op, n: int, why: str) -> None:
    if not condition:
        raise DrsnError(f"op {n} ({op.name}): {why}")


def _quantised(t: Tensor, channels: int = 1) -> None:
    """int8 tensors: one scale (or one per channel), finite, in range; zero points integers in int8."""
    if not t.scales or len(t.scales) not in (1, channels) or len(t.zero_points) != len(t.scales):
        raise DrsnError(f"tensor '{t.name:.60}' needs 1 or {channels} scales with as many zero points, "
                        f"has {len(t.scales)} and {len(t.zero_points)}")
    if not all(math.isfinite(s) and SCALE_RANGE[0] <= s <= SCALE_RANGE[1] for s in t.scales):
        raise DrsnError(f"tensor '{t.name:.60}' has a scale outside [{SCALE_RANGE[0]:g}, {SCALE_RANGE[1]:g}]")
    if not all(-128 <= z <= 127 for z in t.zero_points):
        raise DrsnError(f"tensor '{t.name:.60}' has a zero point outside int8")


def _const(g: Graph, i: int, dtype: str, shape: list[int] | None, op: Op, n: int, what: str) -> Tensor:
    t = g.tensors[i]
    _need(t.is_const and t.dtype == dtype, op, n, f"the {what} must be a constant {dtype} tensor")
    _need(shape is None or list(t.shape) == shape, op, n, f"the {what} has shape {list(t.shape)}, needs {shape}")
    return t


def _window(size: int, k: int, stride: int, dilation: int, padding: int) -> int:
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == SAME else (size - eff + stride) // stride


def _spatial_out(op: Op, n: int, h: int, w: int, kh: int, kw: int, dh: int, dw: int) -> tuple[int, int]:
    o = op.options
    stride_h, stride_w, padding = int(o.get("strideH", 0)), int(o.get("strideW", 0)), int(o.get("padding", -1))
    _need(1 <= stride_h <= 64 and 1 <= stride_w <= 64, op, n, "strides must be 1-64")
    _need(1 <= dh <= 64 and 1 <= dw <= 64, op, n, "dilations must be 1-64")
    _need(padding in (SAME, VALID), op, n, "padding must be SAME or VALID")
    _need(1 <= kh <= 1024 and 1 <= kw <= 1024, op, n, "kernel sizes must be 1-1024")
    oh, ow = _window(h, kh, stride_h, dh, padding), _window(w, kw, stride_w, dw, padding)
    _need(oh >= 1 and ow >= 1, op, n, "the kernel is larger than the input")
    return oh, ow


def _conv(g: Graph, op: Op, n: int) -> list[int]:
    _need(len(op.inputs) in (2, 3), op, n, "needs input, filter and optional bias")
    inp = g.tensors[op.inputs[0]]
    _need(len(g.tensors[op.inputs[1]].shape) == 4, op, n, "the filter must have rank 4")
    oc, kh, kw, fic = g.tensors[op.inputs[1]].shape
    filt = _const(g, op.inputs[1], "int8", None, op, n, "filter")
    _, h, w, ic = _shape(inp)
    _need(len(inp.shape) == 4 and ic % fic == 0 and oc % (ic // fic) == 0, op, n,
          f"filter depth {fic} does not divide input channels {ic} into groups of the {oc} output channels")
    _quantised(filt, oc)
    _need(all(z == 0 for z in filt.zero_points), op, n, "filters must be symmetric (zero point 0)")
    if len(op.inputs) == 3 and op.inputs[2] >= 0:
        _const(g, op.inputs[2], "int32", [oc], op, n, "bias")
    dh, dw = int(op.options.get("dilationHFactor", 1)), int(op.options.get("dilationWFactor", 1))
    return [1, *_spatial_out(op, n, h, w, kh, kw, dh, dw), oc]


def _pool(g: Graph, op: Op, n: int) -> list[int]:
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _need(len(inp.shape) == 4, op, n, "the input must have rank 4")
    _need((inp.scales[:1], inp.zero_points[:1]) == (out.scales[:1], out.zero_points[:1]), op, n,
          "input and output quantisation must match")
    _, h, w, c = _shape(inp)
    kh, kw = int(op.options.get("filterHeight", 0)), int(op.options.get("filterWidth", 0))
    return [1, *_spatial_out(op, n, h, w, kh, kw, 1, 1), c]


def _pad(g: Graph, op: Op, n: int) -> list[int]:
    inp = g.tensors[op.inputs[0]]
    rank = len(inp.shape)
    _need(len(op.inputs) in (2, 3), op, n, "needs input, paddings and an optional value")
    amounts = g.tensors[op.inputs[1]]
    _need(amounts.is_const and amounts.dtype in ("int32", "int64") and list(amounts.shape) == [rank, 2], op, n,
          f"paddings must be a constant integer [{rank}, 2] tensor")
    pairs = amounts.data.reshape(rank, 2).astype(np.int64)
    _need(bool((pairs >= 0).all() and (pairs <= 1 << 16).all()), op, n, "pad amounts must be 0-65536")
    if len(op.inputs) == 3 and op.inputs[2] >= 0:
        value = _const(g, op.inputs[2], "int8", None, op, n, "pad value")
        _need(value.size == 1, op, n, "the pad value must be one element")
    return [d + int(a) + int(b) for d, (a, b) in zip(inp.shape, pairs)]


def _broadcast(g: Graph, op: Op, n: int) -> list[int]:
    _need(len(op.inputs) == 2, op, n, "needs two inputs")
    a, b = (_shape(g.tensors[i]) for i in op.inputs)
    _need(all(x == y or 1 in (x, y) for x, y in zip(a, b)), op, n, f"shapes {a} and {b} do not broadcast")
    rank = max(len(g.tensors[i].shape) for i in op.inputs)  # LiteRT's output has the larger input's rank
    return [max(x, y) for x, y in zip(a, b)][4 - rank:]


def _mean(g: Graph, op: Op, n: int) -> list[int]:
    inp = g.tensors[op.inputs[0]]
    rank = len(inp.shape)
    _need(len(op.inputs) == 2 and rank >= 1, op, n, "needs input and axes")
    axes = g.tensors[op.inputs[1]]
    _need(axes.is_const and axes.dtype == "int32" and axes.size >= 1, op, n, "axes must be constant int32")
    picked = {int(a) % rank for a in axes.data.ravel() if -rank <= int(a) < rank}
    _need(len(picked) == len(set(axes.data.ravel().tolist())), op, n, f"axes {axes.data.ravel().tolist()} "
          f"must be distinct and within rank {rank}")
    shape = [1 if d in picked else s for d, s in enumerate(inp.shape)]
    if not op.options.get("keepDims", False):
        shape = [s for d, s in enumerate(inp.shape) if d not in picked]
    return shape


def _fully_connected(g: Graph, op: Op, n: int) -> list[int]:
    _need(len(op.inputs) in (2, 3), op, n, "needs input, weights and optional bias")
    inp = g.tensors[op.inputs[0]]
    _need(len(g.tensors[op.inputs[1]].shape) == 2, op, n, "weights must have rank 2")
    units, depth = g.tensors[op.inputs[1]].shape
    filt = _const(g, op.inputs[1], "int8", None, op, n, "weights")
    _quantised(filt, units)
    _need(inp.size % depth == 0, op, n, f"input of {inp.size} values is not a whole number of rows of {depth}")
    if len(op.inputs) == 3 and op.inputs[2] >= 0:
        _const(g, op.inputs[2], "int32", [units], op, n, "bias")
    if not op.options.get("keepNumDims", False):
        return [inp.size // depth, units]
    _need(len(inp.shape) >= 1 and inp.shape[-1] == depth, op, n, f"keeps the input's dimensions, so its last "
          f"must be the depth {depth}")
    return [*inp.shape[:-1], units]


def _same_size(g: Graph, op: Op, n: int) -> list[int]:
    """ABS, LOGISTIC: the input's shape; RESHAPE and friends: the shape LiteRT gives them, of the same size
    (an alias: RESHAPE's from its shape tensor or option, with one -1 inferred)."""
    inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    if op.name in ("ABS", "LOGISTIC"):
        return list(inp.shape)
    _need(out.size == inp.size, op, n, f"{out.size} values cannot alias {inp.size}")
    if op.name != "RESHAPE":
        return list(out.shape)
    if len(op.inputs) > 1 and op.inputs[1] >= 0:
        dims = _const(g, op.inputs[1], "int32", None, op, n, "new shape")
        _need(len(dims.shape) == 1, op, n, "the new shape must be a 1-D tensor")
        shape = [int(v) for v in dims.data.ravel()]
    else:
        option = op.options.get("newShape")
        shape = [int(v) for v in (out.shape if option is None or not len(option) else option)]
    known = math.prod(d for d in shape if d != -1)
    if shape.count(-1) == 1 and known > 0 and inp.size % known == 0:
        shape[shape.index(-1)] = inp.size // known
    return shape


SHAPES = {"CONV_2D": _conv, "MAX_POOL_2D": _pool, "PAD": _pad, "PADV2": _pad, "ADD": _broadcast,
          "SUB": _broadcast, "MUL": _broadcast, "MEAN": _mean, "FULLY_CONNECTED": _fully_connected,
          "ABS": _same_size, "LOGISTIC": _same_size, "RESHAPE": _same_size, "SQUEEZE": _same_size,
          "EXPAND_DIMS": _same_size}


def check_graph(g: Graph) -> list[str]:
    """Every op's output shape is the one it computes, every activation int8 and written before it is read.

    Returns one line per op saying how many bytes it writes and why its slot
    (the output tensor, sized from its shape) holds exactly that.
    """
    from firmware_export.c_engine.lower import check_integer

    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise DrsnError("the C engine needs a model with one input and one output")
    for n, op in enumerate(g.ops):
        if not op.inputs or op.inputs[0] < 0 or (op.name in BINARY and (len(op.inputs) < 2 or op.inputs[1] < 0)):
            raise DrsnError(f"op {n} ({op.name}) lacks an input")
    check_integer(g)
    missing = sorted({op.name for op in g.ops if op.name not in SHAPES})
    if missing:
        raise DrsnError(f"op {', '.join(missing)} is not implemented by the C engine")
    written = {g.inputs[0]}
    _quantised(g.tensors[g.inputs[0]])
    proofs = []
    for n, op in enumerate(g.ops):
        inp, out = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
        for i in op.inputs[:2 if op.name in BINARY else 1]:
            t = g.tensors[i]
            _need(i in written or (t.is_const and t.dtype == "int8"), op, n,
                  f"reads tensor {i} before anything writes it")
            _quantised(t)
        _need(out.dtype == "int8" and not out.is_const and op.outputs[0] not in written, op, n,
              "must write a new int8 activation tensor")
        _quantised(out)
        shape = SHAPES[op.name](g, op, n)
        _need(shape == list(out.shape), op, n, f"writes shape {shape}, but its output tensor has shape "
              f"{list(out.shape)}")
        written.add(op.outputs[0])
        verb = "aliases its input as" if op.name in ALIASES else "writes"
        proofs.append(f"op {n} {op.name}: {verb} {math.prod(shape)} bytes, shape {shape} computed from input "
                      f"{list(inp.shape)} and options; slot sized from the same shape")
    if g.outputs[0] not in written:
        raise DrsnError("the graph output is never written")
    return proofs


def check_steps(steps: list[Step]) -> list[str]:
    """Every fixed-point multiplier fits int32, every shift is one the kernels can do (|shift| <= 31), and
    every int32 a kernel computes fits (:func:`_int32_bound`); returns one line per kernel saying why."""
    proofs = []
    for n, step in enumerate(steps):
        for key, value in step.params.items():
            values = getattr(value, "values", value)
            values = values if isinstance(values, list) else [values]
            if "shift" in key and not all(-31 <= int(v) <= 31 for v in values):
                raise DrsnError(f"op {n} ({step.op}): a rescale factor needs a shift beyond 31 bits "
                                "(scales too far apart)")
            if "multiplier" in key and not all(-2**31 <= int(v) < 2**31 for v in values):
                raise DrsnError(f"op {n} ({step.op}): a multiplier does not fit int32")
        if step.kernel is not None and step.op in INT32_BOUNDS:
            proofs.append(_int32_bound(step, n))
    return proofs


INT32_LIMIT = 2**31 - 256  # a requantised value this large still fits int32 after adding an int8 zero point
DIFF = 255  # |int8 value - int8 zero point|


def _rows(values: list, rows: int, length: int) -> np.ndarray:
    """The first rows x length constants as int64 rows (a conv's weights end with padding bytes)."""
    return np.asarray(values[:rows * length], np.int64).reshape(rows, length)


def _left(shifts) -> np.ndarray:
    """The factor MultiplyByQuantizedMultiplier shifts its input left by before the high multiply."""
    return 2.0 ** np.maximum(np.asarray(shifts, np.float64), 0)


def _conv_bound(p: dict) -> tuple[np.ndarray, np.ndarray, str]:
    row = p["k_h"] * p["k_w"] * p["filter_in_c"]
    weights = np.abs(_rows(p["weights"].values, p["out_c"], row)).sum(axis=1)
    bias = np.abs(np.asarray(p["folded_bias"].values, np.int64))
    return bias + 256 * weights, _left(p["shift"].values), ("|folded bias| + 256 sum|w| (sum w x over inner "
                                                            "taps and input offset x outer taps, each <= 128 sum|w|)")


def _fc_bound(p: dict) -> tuple[np.ndarray, np.ndarray, str]:
    weights = np.abs(_rows(p["weights"].values, p["units"], p["depth"]) + p["weights_offset"]).sum(axis=1)
    bias = 0 if p["bias"] is None else np.abs(np.asarray(p["bias"].values, np.int64))
    scales = np.resize(np.asarray(p["scales"].values, np.float64), p["units"])
    return bias + DIFF * weights, scales, "|bias| + 255 sum|w + weights offset|"


INT32_BOUNDS = {
    "CONV_2D": _conv_bound, "FULLY_CONNECTED": _fc_bound,
    "MEAN": lambda p: (np.array([256 * p["count"]]), _left(p["shift"]), "|sum - zero point x count| <= 256 count"),
    "MUL": lambda p: (np.array([DIFF * DIFF]), _left(p["out_shift"]), "|(a - za)(b - zb)| <= 255^2"),
    "ABS": lambda p: (np.array([DIFF]), _left(p["shift"] if p["needs_rescale"] else 0), "|x - zero point| <= 255"),
    # both inputs << 20 and rescaled by multipliers below one (shift <= 0, quant.add_sub_params): no growth
    **{op: lambda p: (np.array([2 * DIFF << p["left_shift"]]), _left(0), "2 x 255 << 20, multipliers below one")
       for op in ("ADD", "SUB")},
}


def _int32_bound(step: Step, n: int) -> str:
    """The largest |int32| the kernel's sums reach, times what requantisation multiplies it by before the
    output zero point is added, stays below INT32_LIMIT: no signed overflow, no left shift that wraps, no
    double-to-int32 conversion out of range. (Upstream's int32 arithmetic would overflow there too.)"""
    bound, factor, why = INT32_BOUNDS[step.op](step.params)
    largest, worst = int(np.max(bound)), float(np.max(bound * factor))
    if not (largest <= INT32_LIMIT and worst <= INT32_LIMIT):
        raise DrsnError(f"op {n} ({step.op}): its int32 arithmetic can overflow (bias or rescale factor too "
                        f"large): {why} reaches {largest:.3g}, {worst:.3g} requantised; both must stay below "
                        "2^31 - 256")
    return f"op {n} {step.op}: |int32| <= {largest} ({why}); requantised <= {worst:.0f} < 2^31 - 256"
