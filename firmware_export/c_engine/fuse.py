"""Fuse element-wise chains into one kernel call each (``csrc/drsn_fused.c``), keeping every integer.

Three chains of the DRSN graphs run as one pass each, without their
intermediate tensors (fewer arena bytes, one load and store per element):

- the shrinkage unit's soft threshold ``SUB(SUB(x, tau) RELU, MUL(ADD(x, tau), k) RELU)``;
- batch normalisation as TFLite leaves it, ``ADD(MUL(x, scale), bias)`` with constant per-channel operands;
- ``MEAN(ABS(x))`` over every axis but the channels;
- ``CONV_2D(PAD(x))`` with the zero point as padding value: the convolution reads its border itself
  (taps outside the input count as the zero point, which is what the padded copy held).

A chain is fused only when its intermediate tensors have no other reader and
when :func:`fast_requant` proves that ``drsn_requant`` gives the reference's
integer for every possible operand; otherwise its ops stay separate steps. The
parameters come from the same per-op lowering as the unfused kernels'.
"""
from __future__ import annotations

from collections import defaultdict

from firmware_export.c_engine import lower as low
from firmware_export.c_engine.graph import Graph, Op
from firmware_export.c_engine.lower import Const, Step
from quantize.tflite.fixedpoint import multiply_by_quantized_multiplier, wrap_int32

INT8 = range(-128, 128)
LIMIT = 1 << 30  # drsn_requant: |v| below this (SMMULR of 2v)


def fast_requant(multiplier: int, shift: int, zero_point: int, vmax: int) -> tuple[int, int] | None:
    """(exponent, round) for ``drsn_requant`` when it equals RoundingDivideByPOT(SRDHM(v, m), -shift) + zero
    point for every |v| <= vmax: a right shift of 1-30 bits and no int32 overflow on the way; else None."""
    e = -shift
    if not 1 <= e <= 30:
        return None
    rnd = (1 << (e - 1)) + zero_point * (1 << e)
    if vmax >= LIMIT or vmax + abs(rnd) + 2 >= 1 << 31:
        return None
    return e, rnd


def rescaled(offset: int, multiplier: int, shift: int, values=INT8) -> list[int]:
    """An ADD/SUB input as the reference rescales it, for each int8 value (drsn_fused.c: rescale)."""
    return [multiply_by_quantized_multiplier(wrap_int32((v + offset) << 20), multiplier, shift) for v in values]


def peak_rescaled(offset: int, multiplier: int, shift: int) -> int:
    """The largest magnitude of an int8 input's rescaled value (ADD/SUB)."""
    return max(abs(v) for v in rescaled(offset, multiplier, shift))


def _readers(g: Graph) -> dict[int, list[int]]:
    readers: dict[int, list[int]] = defaultdict(list)
    for n, op in enumerate(g.ops):
        for t in op.inputs:
            readers[t].append(n)
    return readers


class Matcher:
    """The graph's producers and readers, and the checks every pattern shares."""

    def __init__(self, g: Graph) -> None:
        self.g = g
        self.readers = _readers(g)
        self.producer = {op.outputs[0]: n for n, op in enumerate(g.ops)}

    def private(self, t: int, reader: int) -> int | None:
        """The op writing ``t`` when ``reader`` is its only reader and it is no graph output."""
        if self.readers.get(t) != [reader] or t in self.g.outputs or t not in self.producer:
            return None
        return self.producer[t]

    def op(self, n: int | None, name: str) -> Op | None:
        return self.g.ops[n] if n is not None and self.g.ops[n].name == name else None

    def channel_vector(self, t: int, channels: int) -> bool:
        """A tensor broadcast along the last axis only: one value, or one per channel."""
        shape = low.shape4(self.g.tensors[t].shape, "fuse")
        return shape[:3] == [1, 1, 1] and shape[3] in (1, channels)

    def full(self, x: int, out: int) -> tuple[int, int] | None:
        """(pixels, channels) when ``x`` has the output's shape."""
        sx = low.shape4(self.g.tensors[x].shape, "fuse")
        if sx != low.shape4(self.g.tensors[out].shape, "fuse"):
            return None
        return self.g.tensors[x].size // sx[3], sx[3]


def _requants(*specs: tuple[str, int, int, int, int]) -> dict | None:
    """name -> {name}_multiplier/_exponent/_round for each (name, multiplier, shift, zero, vmax), or None."""
    out = {}
    for name, m, s, z, vmax in specs:
        fast = fast_requant(m, s, z, vmax)
        if fast is None:
            return None
        out.update({f"{name}_multiplier": m, f"{name}_exponent": fast[0], f"{name}_round": fast[1]})
    return out


def _peak(values: list[int]) -> int:
    return max(abs(v) for v in values)


def shrink(m: Matcher, n: int) -> tuple[list[int], Step] | None:
    """The soft threshold ending in SUB ``n``: SUB(relu(x - tau), relu((x + tau) * k))."""
    g, last = m.g, m.g.ops[n]
    if last.name != "SUB" or len(last.inputs) != 2:
        return None
    n_sub, n_mul = m.private(last.inputs[0], n), m.private(last.inputs[1], n)
    sub, mul = m.op(n_sub, "SUB"), m.op(n_mul, "MUL")
    if sub is None or mul is None or len(mul.inputs) != 2 or g.tensors[mul.inputs[1]].data is None \
            or g.tensors[mul.inputs[1]].size != 1:
        return None
    n_add = m.private(mul.inputs[0], n_mul)
    add = m.op(n_add, "ADD")
    if add is None or add.inputs != sub.inputs or len(add.inputs) != 2:
        return None
    x, tau = add.inputs
    shape = m.full(x, last.outputs[0])
    if shape is None or not m.channel_vector(tau, shape[1]) or g.tensors[tau].is_const:
        return None
    pa, ps, pm, pl = (low._binary(g, o, k).params for o, k in
                      ((add, "drsn_add"), (sub, "drsn_sub"), (mul, "drsn_mul"), (last, "drsn_sub")))
    keys = ("in1_offset", "in1_multiplier", "in1_shift", "in2_offset", "in2_multiplier", "in2_shift")
    if any(pa[k] != ps[k] for k in keys) or any(p["act_max"] != 127 for p in (pa, ps, pl)):
        return None
    rx = rescaled(pa["in1_offset"], pa["in1_multiplier"], pa["in1_shift"])
    rt = rescaled(pa["in2_offset"], pa["in2_multiplier"], pa["in2_shift"])
    rp = rescaled(pl["in1_offset"], pl["in1_multiplier"], pl["in1_shift"])
    rn = rescaled(pl["in2_offset"], pl["in2_multiplier"], pl["in2_shift"])
    fast = _requants(("sum", pa["out_multiplier"], pa["out_shift"], pa["out_offset"], _peak(rx) + _peak(rt)),
                     ("diff", ps["out_multiplier"], ps["out_shift"], ps["out_offset"], _peak(rx) + _peak(rt)),
                     ("out", pl["out_multiplier"], pl["out_shift"], pl["out_offset"], _peak(rp) + _peak(rn)))
    if fast is None:
        return None
    k = int(g.tensors[mul.inputs[1]].data.ravel()[0])
    params = {"pixels": shape[0], "channels": shape[1], "tau_step": int(g.tensors[tau].size > 1),
              **{f"x_{k2}": pa[f"in1_{k2}"] for k2 in ("offset", "multiplier", "shift")},
              **{f"tau_{k2}": pa[f"in2_{k2}"] for k2 in ("offset", "multiplier", "shift")},
              **{k2: fast[k2] for k2 in ("sum_multiplier", "sum_exponent", "sum_round")}, "sum_min": pa["act_min"],
              **{k2: fast[k2] for k2 in ("diff_multiplier", "diff_exponent", "diff_round")},
              "diff_min": ps["act_min"], "neg_offset": pm["in1_offset"], "neg_factor": k + pm["in2_offset"],
              "neg_multiplier": pm["out_multiplier"], "neg_shift": pm["out_shift"],
              "neg_zero_point": pm["out_offset"], "neg_min": pm["act_min"], "neg_max": pm["act_max"],
              **{f"pos_{k2}": pl[f"in1_{k2}"] for k2 in ("offset", "multiplier", "shift")},
              **{f"negr_{k2}": pl[f"in2_{k2}"] for k2 in ("offset", "multiplier", "shift")},
              **{k2: fast[k2] for k2 in ("out_multiplier", "out_exponent", "out_round")}, "out_min": pl["act_min"]}
    step = Step("ADD+MUL+SUB+SUB", "drsn_shrink", "drsn_shrink_params", params, [x, tau], last.outputs[0])
    return [n_add, n_mul, n_sub, n], step


def affine(m: Matcher, n: int) -> tuple[list[int], Step] | None:
    """ADD ``n`` of a constant per-channel bias to MUL of x by a constant per-channel scale."""
    g, add = m.g, m.g.ops[n]
    if add.name != "ADD" or len(add.inputs) != 2:
        return None
    side = next((i for i in (0, 1) if m.op(m.private(add.inputs[i], n), "MUL") is not None), None)
    if side is None:
        return None
    n_mul = m.private(add.inputs[side], n)
    mul, bias = g.ops[n_mul], g.tensors[add.inputs[1 - side]]
    if len(mul.inputs) != 2 or not bias.is_const:
        return None
    k = 1 if g.tensors[mul.inputs[1]].is_const else 0
    x, scale = mul.inputs[1 - k], g.tensors[mul.inputs[k]]
    shape = m.full(x, add.outputs[0])
    if not scale.is_const or shape is None or g.tensors[x].is_const or \
            not (m.channel_vector(scale.index, shape[1]) and m.channel_vector(bias.index, shape[1])):
        return None
    pm, pa = low._binary(g, mul, "drsn_mul").params, low._binary(g, add, "drsn_add").params
    a, b = ("in1", "in2") if side == 0 else ("in2", "in1")
    x_off = pm["in1_offset" if k == 1 else "in2_offset"]
    channels = shape[1]
    scales = [int(v) + pm[f"in{k + 1}_offset"] for v in scale.data.ravel().tolist()] * channels
    biases = rescaled(pa[f"{b}_offset"], pa[f"{b}_multiplier"], pa[f"{b}_shift"], bias.data.ravel().tolist())
    scales, biases = scales[:channels], (biases * channels)[:channels]
    rm = rescaled(pa[f"{a}_offset"], pa[f"{a}_multiplier"], pa[f"{a}_shift"])
    vmul = max(abs(-128 + x_off), abs(127 + x_off)) * _peak(scales)
    fast = _requants(("mul", pm["out_multiplier"], pm["out_shift"], pm["out_offset"], vmul),
                     ("out", pa["out_multiplier"], pa["out_shift"], pa["out_offset"], _peak(rm) + _peak(biases)))
    if fast is None or pm["act_max"] != 127 or pa["act_max"] != 127:
        return None
    params = {"pixels": shape[0], "channels": channels, "param_step": 1, "x_offset": x_off,
              **{k2: fast[k2] for k2 in ("mul_multiplier", "mul_exponent", "mul_round")}, "mul_min": pm["act_min"],
              "m_offset": pa[f"{a}_offset"], "m_multiplier": pa[f"{a}_multiplier"], "m_shift": pa[f"{a}_shift"],
              **{k2: fast[k2] for k2 in ("out_multiplier", "out_exponent", "out_round")}, "out_min": pa["act_min"],
              "scale": Const("int32_t", scales), "bias": Const("int32_t", biases)}
    return [n_mul, n], Step("MUL+ADD", "drsn_affine", "drsn_affine_params", params, [x], add.outputs[0])


def abs_mean(m: Matcher, n: int) -> tuple[list[int], Step] | None:
    """MEAN ``n`` over every axis but the last of ABS(x)."""
    g, mean = m.g, m.g.ops[n]
    if mean.name != "MEAN":
        return None
    n_abs = m.private(mean.inputs[0], n)
    ab = m.op(n_abs, "ABS")
    if ab is None:
        return None
    pm = low.mean(g, mean).params
    shape = pm["in_shape"]
    if pm["reduce"][3] or any(shape[d] > 1 and not pm["reduce"][d] for d in range(3)):
        return None
    pabs = low.abs_(g, ab).params
    if not -31 <= pabs["shift"] <= 31:
        return None
    params = {"pixels": pm["count"], "channels": shape[3], "abs": [256, *list(pabs.values())[1:]],
              **{k: pm[k] for k in ("count", "input_zero_point", "output_zero_point", "multiplier", "shift")}}
    return [n_abs, n], Step("ABS+MEAN", "drsn_abs_mean", "drsn_abs_mean_params", params, [ab.inputs[0]],
                            mean.outputs[0])


def _unalias(m: Matcher, t: int, reader: int) -> tuple[int, list[int]]:
    """Follow shape-only ops (RESHAPE and friends) read by nothing else back from ``t``: (tensor, their ops)."""
    ops: list[int] = []
    while True:
        n = m.private(t, reader)
        if n is None or m.g.ops[n].name not in low.ALIAS_OPS:
            return t, ops
        ops.append(n)
        t, reader = m.g.ops[n].inputs[0], n


def pad_conv(m: Matcher, n: int) -> tuple[list[int], Step] | None:
    """CONV_2D ``n`` of a PAD (through reshapes) whose padding value is the convolution's input zero point,
    padding the height and width axes only: the convolution pads by as much itself."""
    g, conv = m.g, m.g.ops[n]
    if conv.name != "CONV_2D":
        return None
    t, aliases = _unalias(m, conv.inputs[0], n)
    n_pad = m.private(t, aliases[-1] if aliases else n)
    pad = m.op(n_pad, "PAD")
    if pad is None or len(pad.inputs) != 2:
        return None
    src, out, conv_in = g.tensors[pad.inputs[0]], g.tensors[pad.outputs[0]], g.tensors[conv.inputs[0]]
    step = low.pad(g, pad)
    amounts = g.tensors[pad.inputs[1]].data.reshape(-1, 2).tolist()
    before = [0] * (4 - len(amounts)) + [int(a) for a, _ in amounts]
    after = [0] * (4 - len(amounts)) + [int(b) for _, b in amounts]
    if low.shape4(out.shape, "PAD") != low.shape4(conv_in.shape, "CONV_2D") or before[0] or before[3] or \
            after[0] or after[3] or step.params["value"] != conv_in.zero_point or \
            (src.scales[:1], src.zero_points[:1]) != (out.scales[:1], out.zero_points[:1]):
        return None
    params = dict(low.conv_2d(g, conv).params)
    params["in_h"] -= before[1] + after[1]
    params["in_w"] -= before[2] + after[2]
    params["pad_h"] += before[1]
    params["pad_w"] += before[2]
    step = Step("PAD+CONV_2D", "drsn_conv2d", "drsn_conv_params", params, [src.index], conv.outputs[0])
    return [n_pad, *aliases, n], step


PATTERNS = (shrink, affine, abs_mean, pad_conv)


def fuse(g: Graph, steps: list[Step]) -> list[Step]:
    """``steps`` (one per op) with each fusable chain replaced by one step at the place of its last op."""
    m = Matcher(g)
    fused: dict[int, Step] = {}
    taken: set[int] = set()
    for n in range(len(g.ops)):
        for pattern in PATTERNS:
            found = pattern(m, n)
            if found is not None and not taken.intersection(found[0]):
                taken.update(found[0])
                fused[n] = found[1]
                break
    return [fused.get(n, s) for n, s in enumerate(steps) if n in fused or n not in taken]
