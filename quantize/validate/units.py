"""Does the quantised model still shrink like the float one? Per unit and end to end.

For every residual shrinkage unit the int8 threshold ``tau`` and the unit's
output are read from the probed int8 graph (extra outputs named after the
PyTorch modules, see ``onnx_export``) and compared with the float model on the
same windows: threshold error, dead-zone agreement and output SQNR. End to end:
accuracy of both models and their top-1 agreement. Every check has a limit;
``convert --strict`` fails when any check fails.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.errors import DrsnError
from quantize.convert.onnx_export import Probed, probe_output_names, shrink_unit_names
from quantize.runtimes.litert import LiteRTPredictor
from drsn_edge.buildinfo import BuildInfo
from quantize.tflite.graph import signature_outputs


@dataclass
class Limits:
    """Pass/fail limits. Defaults: what a usable int8 DRSN reaches; silence-calibrated models miss them."""

    onnx_max_abs: float = 1e-4  # ONNX Runtime vs PyTorch logits
    tflite_float_max_abs: float = 1e-4  # LiteRT float32 vs ONNX logits
    int8_top1_agreement: float = 0.95  # int8 vs float argmax, validation windows
    int8_accuracy_drop: float = 0.03  # float accuracy minus int8 accuracy (fraction)
    unit_sqnr_db: float = 10.0  # every shrinkage unit's output
    dead_zone_agreement: float = 0.80  # share of float-zeroed positions int8 also zeroes (and reverse)
    tau_median_rel_error: float = 0.15  # median relative threshold error per unit
    fakequant_top1_agreement: float = 0.97  # int8 vs its PyTorch fake-quantised mirror (quantize.convert.fakequant)
    tflm_top1_agreement: float = 0.99  # TFLM vs LiteRT reference kernels (FC rounding differs, see tflm.py)

    def to_dict(self) -> dict:
        return asdict(self)


def float_probes(ckpt: Checkpoint, x: np.ndarray, batch: int = 256) -> list[np.ndarray]:
    """PyTorch outputs in probe order: logits, then (tau, out) per shrinkage unit."""
    probed = Probed(ckpt.build()).eval()
    parts: list[list[np.ndarray]] = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            outs = probed(torch.from_numpy(x[start:start + batch]).unsqueeze(1))
            parts.append([o.numpy() for o in outs])
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


def _align(tf_values: np.ndarray, torch_values: np.ndarray) -> np.ndarray:
    """onnx2tf makes tensors channel-last: (N, L, C) for PyTorch's (N, C, L)."""
    tf_values = tf_values.reshape(tf_values.shape[0], -1, tf_values.shape[-1])
    torch_values = torch_values.reshape(torch_values.shape[0], torch_values.shape[1], -1)
    if tf_values.shape == torch_values.shape and tf_values.shape[1] != tf_values.shape[2]:
        return tf_values
    return np.transpose(tf_values, (0, 2, 1)).reshape(torch_values.shape)


def sqnr_db(reference: np.ndarray, approx: np.ndarray) -> float:
    noise = float(np.sum((approx.astype(np.float64) - reference) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(max(signal, 1e-30) / noise)


def unit_metrics(tau_f: np.ndarray, tau_q: np.ndarray, out_f: np.ndarray, out_q_int: np.ndarray,
                 out_scale: float, out_zero: int) -> dict:
    """Threshold error, dead-zone agreement and SQNR of one shrinkage unit."""
    tau_f = tau_f.reshape(len(tau_f), -1)
    tau_q = tau_q.reshape(len(tau_q), -1)
    rel = np.abs(tau_q - tau_f) / np.maximum(np.abs(tau_f), 1e-12)
    out_deq = (out_q_int.astype(np.float64) - out_zero) * out_scale
    float_zero = out_f == 0
    int_zero = out_q_int == out_zero
    both = float(np.sum(float_zero & int_zero))
    return {
        "channels": int(tau_f.shape[1]),
        "tau_rel_error": {"median": float(np.median(rel)), "p95": float(np.percentile(rel, 95)),
                          "max": float(rel.max()), "per_channel_mean": rel.mean(axis=0).round(5).tolist()},
        "tau_float_mean": tau_f.mean(axis=0).round(6).tolist(),
        "tau_int8_mean": tau_q.mean(axis=0).round(6).tolist(),
        "dead_zone": {
            "float_zero_share": float(float_zero.mean()),
            "int8_zero_share": float(int_zero.mean()),
            "float_zeros_kept": both / max(float(float_zero.sum()), 1.0),
            "int8_zeros_true": both / max(float(int_zero.sum()), 1.0),
            # int8 zeros where the float value is within one output LSB of zero: rounding, not a lost signal
            "int8_zeros_near": float(np.sum(int_zero & (np.abs(out_f) <= out_scale))) / max(float(int_zero.sum()), 1.0),
        },
        "sqnr_db": sqnr_db(out_f, out_deq),
        "output_scale": out_scale,
        "output_zero_point": out_zero,
    }


def probe_outputs(tflite: Path, build: BuildInfo, names: list[str], x: np.ndarray) -> dict[str, tuple]:
    """Run a probed .tflite on ``x``; probe name -> (raw values, scale, zero point).

    onnx2tf names the i-th ONNX output ``output_i`` in the serving signature, and
    the ONNX outputs carry the PyTorch module names, so the mapping is by name
    end to end; :func:`verify_probe_mapping` proves it on the float model.
    """
    runner = LiteRTPredictor(tflite, build, reference=True, name="litert-probed")
    raw = runner.raw_outputs(x)
    position = {d["index"]: i for i, d in enumerate(runner.outputs)}
    by_name = {}
    for sig_name, tensor in signature_outputs(tflite.read_bytes()).items():
        i = position[tensor]
        scale, zero = runner.outputs[i]["quantization"]
        by_name[names[int(sig_name.rsplit("_", 1)[1])]] = (raw[i], float(scale), int(zero))
    if set(by_name) != set(names):
        raise DrsnError(f"probed model outputs {len(by_name)} tensors, expected {len(names)}")
    return by_name


def verify_probe_mapping(ckpt: Checkpoint, probed_float: Path, build: BuildInfo, x: np.ndarray) -> float:
    """Every float probe output must equal the PyTorch module it is named after; returns the worst error."""
    names = probe_output_names(ckpt.build())
    reference = float_probes(ckpt, x)
    outputs = probe_outputs(probed_float, build, names, x)
    worst = 0.0
    for name, ref in zip(names, reference):
        got = _align(outputs[name][0], ref) if ref.ndim == 3 else outputs[name][0].reshape(ref.shape)
        err = float(np.max(np.abs(got - ref)) / (np.max(np.abs(ref)) + 1e-12))
        if err > 1e-3:
            raise DrsnError(f"converted tensor '{name}' does not match the PyTorch module (relative error {err:.3g})")
        worst = max(worst, err)
    return worst


def validate_probed(ckpt: Checkpoint, probed_tflite: Path, build: BuildInfo, x: np.ndarray,
                    labels: np.ndarray) -> dict:
    """Per-unit and end-to-end comparison of the probed int8 model with the float model."""
    model = ckpt.build()
    names = probe_output_names(model)
    reference = float_probes(ckpt, x)
    by_name = probe_outputs(probed_tflite, build, names, x)

    units, tau_pairs = {}, {}
    for unit in shrink_unit_names(model):
        k = names.index(f"{unit}.tau")
        tau_int, tau_scale, tau_zero = by_name[f"{unit}.tau"]
        out_int, out_scale, out_zero = by_name[f"{unit}.out"]
        tau_f, out_f = reference[k], reference[k + 1]
        tau_q = (_align(tau_int, tau_f).astype(np.float64) - tau_zero) * tau_scale
        units[unit] = unit_metrics(tau_f, tau_q, out_f, _align(out_int, out_f), out_scale, out_zero)
        units[unit]["tau_scale"] = tau_scale
        tau_pairs[unit] = np.stack([tau_f.reshape(-1), tau_q.reshape(-1)]).astype(np.float32)

    logits_int, logit_scale, logit_zero = by_name[names[0]]
    logits_q = (logits_int.astype(np.float64) - logit_zero) * logit_scale
    logits_f = reference[0]
    pred_f, pred_q = logits_f.argmax(1), logits_q.argmax(1)
    end_to_end = {
        "windows": int(len(x)),
        "float_accuracy": float(np.mean(pred_f == labels)),
        "int8_accuracy": float(np.mean(pred_q == labels)),
        "top1_agreement": float(np.mean(pred_f == pred_q)),
        "logits_sqnr_db": sqnr_db(logits_f, logits_q),
    }
    return {"units": units, "end_to_end": end_to_end, "int8_logits": logits_int, "tau_pairs": tau_pairs}


def save_tau_samples(path: Path, tau_pairs: dict[str, np.ndarray], per_unit: int = 512, seed: int = 0) -> None:
    """Keep a small random sample of (float, int8) thresholds per unit, so a report can plot them
    without the probed model (the build keeps only the deployable one). Arrays are (2, n) per unit."""
    rng = np.random.default_rng(seed)
    sample = {}
    for unit, pairs in tau_pairs.items():
        keep = np.sort(rng.choice(pairs.shape[1], size=min(per_unit, pairs.shape[1]), replace=False))
        sample[unit] = pairs[:, keep]
    np.savez_compressed(path, **sample)


def run_checks(results: dict, limits: Limits) -> list[dict]:
    """Every check with its value, limit and verdict, in the order a reader wants them."""
    checks: list[dict] = []

    def check(name: str, value: float | None, limit: float, higher_is_better: bool) -> None:
        if value is None:
            return
        passed = value >= limit if higher_is_better else value <= limit
        checks.append({"check": name, "value": value, "limit": limit, "passed": bool(passed)})

    check("onnx vs pytorch max |logit diff|", results.get("onnx", {}).get("max_abs_diff"), limits.onnx_max_abs, False)
    check("tflite float32 vs onnx max |logit diff|", results.get("tflite_float32", {}).get("max_abs_diff"),
          limits.tflite_float_max_abs, False)
    e2e = results["int8"]["end_to_end"]
    check("int8 top-1 agreement with float", e2e["top1_agreement"], limits.int8_top1_agreement, True)
    check("int8 accuracy drop", e2e["float_accuracy"] - e2e["int8_accuracy"], limits.int8_accuracy_drop, False)
    mirror = results["int8"].get("vs_fakequant")
    if mirror:
        check("int8 top-1 agreement with its fake-quantised mirror", mirror["top1_agreement"],
              limits.fakequant_top1_agreement, True)
    for unit, m in results["int8"]["units"].items():
        check(f"{unit} output SQNR dB", m["sqnr_db"], limits.unit_sqnr_db, True)
        check(f"{unit} float zeros kept", m["dead_zone"]["float_zeros_kept"], limits.dead_zone_agreement, True)
        check(f"{unit} int8 zeros within 1 LSB of float", m["dead_zone"]["int8_zeros_near"],
              limits.dead_zone_agreement, True)
        check(f"{unit} tau median rel error", m["tau_rel_error"]["median"], limits.tau_median_rel_error, False)
    tflm = results.get("tflm", {}).get("vs_litert_reference")
    if tflm:
        check("tflm vs litert-reference top-1 agreement", tflm["top1_agreement"], limits.tflm_top1_agreement, True)
    return checks
