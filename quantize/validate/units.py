"""Does the quantised model still shrink like the float one? Per unit and end to end.

For every residual shrinkage unit the int8 threshold ``tau`` and the unit's
output are read from the probed int8 graph (extra outputs named after the
PyTorch modules, see ``onnx_export``) and compared with the float model on the
same windows: threshold error, dead-zone agreement and output SQNR. End to end:
accuracy of both models and their top-1 agreement. Each result declares its
checks against :class:`quantize.validate.checks.Limits`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.errors import DrsnError
from quantize.convert.onnx_export import Probed, probe_output_names, shrink_unit_names
from quantize.runtimes.litert import LiteRTPredictor
from drsn_edge.buildinfo import BuildInfo
from quantize.tflite.graph import signature_outputs
from quantize.validate.checks import Check, Limits


@dataclass
class TauError:
    """Relative error of the int8 threshold against the float one, over all windows and channels."""

    median: float
    p95: float
    max: float
    per_channel_mean: list[float]


@dataclass
class DeadZone:
    """Where the soft threshold outputs zero, in the float and the int8 model."""

    float_zero_share: float
    int8_zero_share: float
    float_zeros_kept: float  # share of float zeros int8 also zeroes
    int8_zeros_true: float  # share of int8 zeros float also zeroes
    # int8 zeros where the float value is within one output LSB of zero: rounding, not a lost signal
    int8_zeros_near: float


@dataclass
class UnitMetrics:
    """One shrinkage unit, int8 against float: threshold, dead zone, output SQNR and the int8 scales."""

    channels: int
    tau_rel_error: TauError
    tau_float_mean: list[float]
    tau_int8_mean: list[float]
    dead_zone: DeadZone
    sqnr_db: float
    output_scale: float
    output_zero_point: int
    tau_scale: float

    def checks(self, unit: str, limits: Limits) -> list[Check]:
        return [Check.at_least(f"{unit} output SQNR dB", self.sqnr_db, limits.unit_sqnr_db),
                Check.at_least(f"{unit} float zeros kept", self.dead_zone.float_zeros_kept,
                               limits.dead_zone_agreement),
                Check.at_least(f"{unit} int8 zeros within 1 LSB of float", self.dead_zone.int8_zeros_near,
                               limits.dead_zone_agreement),
                Check.at_most(f"{unit} tau median rel error", self.tau_rel_error.median, limits.tau_median_rel_error)]


@dataclass
class EndToEnd:
    """The int8 model's answers against the float model's on the validation windows."""

    windows: int
    float_accuracy: float
    int8_accuracy: float
    top1_agreement: float
    logits_sqnr_db: float
    deployable_equals_probed: bool  # the shipped model (logits only) computes what the probed one did

    def checks(self, limits: Limits) -> list[Check]:
        return [Check.at_least("int8 top-1 agreement with float", self.top1_agreement, limits.int8_top1_agreement),
                Check.at_most("int8 accuracy drop", self.float_accuracy - self.int8_accuracy,
                              limits.int8_accuracy_drop)]


@dataclass
class ProbedValidation:
    """What :func:`validate_probed` measures; ``tau_pairs`` (float and int8 thresholds per unit, (2, n)) feed
    :func:`save_tau_samples` and stay out of validation.json."""

    units: dict[str, UnitMetrics]
    end_to_end: EndToEnd
    tau_pairs: dict[str, np.ndarray]


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
                 out_scale: float, out_zero: int, tau_scale: float) -> UnitMetrics:
    """Threshold error, dead-zone agreement and SQNR of one shrinkage unit."""
    tau_f = tau_f.reshape(len(tau_f), -1)
    tau_q = tau_q.reshape(len(tau_q), -1)
    rel = np.abs(tau_q - tau_f) / np.maximum(np.abs(tau_f), 1e-12)
    out_deq = (out_q_int.astype(np.float64) - out_zero) * out_scale
    float_zero = out_f == 0
    int_zero = out_q_int == out_zero
    both = float(np.sum(float_zero & int_zero))
    return UnitMetrics(
        channels=int(tau_f.shape[1]),
        tau_rel_error=TauError(median=float(np.median(rel)), p95=float(np.percentile(rel, 95)), max=float(rel.max()),
                               per_channel_mean=rel.mean(axis=0).round(5).tolist()),
        tau_float_mean=tau_f.mean(axis=0).round(6).tolist(),
        tau_int8_mean=tau_q.mean(axis=0).round(6).tolist(),
        dead_zone=DeadZone(
            float_zero_share=float(float_zero.mean()),
            int8_zero_share=float(int_zero.mean()),
            float_zeros_kept=both / max(float(float_zero.sum()), 1.0),
            int8_zeros_true=both / max(float(int_zero.sum()), 1.0),
            int8_zeros_near=float(np.sum(int_zero & (np.abs(out_f) <= out_scale))) / max(float(int_zero.sum()), 1.0),
        ),
        sqnr_db=sqnr_db(out_f, out_deq),
        output_scale=out_scale,
        output_zero_point=out_zero,
        tau_scale=tau_scale,
    )


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
                    labels: np.ndarray, deployable_int8: np.ndarray) -> ProbedValidation:
    """Per-unit and end-to-end comparison of the probed int8 model with the float model.

    ``deployable_int8``: the raw int8 logits of the model that ships (the probed one
    minus its probe outputs) on ``x``, which must equal the probed model's.
    """
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
        units[unit] = unit_metrics(tau_f, tau_q, out_f, _align(out_int, out_f), out_scale, out_zero, tau_scale)
        tau_pairs[unit] = np.stack([tau_f.reshape(-1), tau_q.reshape(-1)]).astype(np.float32)

    logits_int, logit_scale, logit_zero = by_name[names[0]]
    logits_q = (logits_int.astype(np.float64) - logit_zero) * logit_scale
    logits_f = reference[0]
    pred_f, pred_q = logits_f.argmax(1), logits_q.argmax(1)
    end_to_end = EndToEnd(
        windows=int(len(x)),
        float_accuracy=float(np.mean(pred_f == labels)),
        int8_accuracy=float(np.mean(pred_q == labels)),
        top1_agreement=float(np.mean(pred_f == pred_q)),
        logits_sqnr_db=sqnr_db(logits_f, logits_q),
        deployable_equals_probed=bool(np.array_equal(deployable_int8, logits_int)),
    )
    return ProbedValidation(units, end_to_end, tau_pairs)


def save_tau_samples(path: Path, tau_pairs: dict[str, np.ndarray], per_unit: int = 512, seed: int = 0) -> None:
    """Keep a small random sample of (float, int8) thresholds per unit, so a report can plot them
    without the probed model (the build keeps only the deployable one). Arrays are (2, n) per unit."""
    rng = np.random.default_rng(seed)
    sample = {}
    for unit, pairs in tau_pairs.items():
        keep = np.sort(rng.choice(pairs.shape[1], size=min(per_unit, pairs.shape[1]), replace=False))
        sample[unit] = pairs[:, keep]
    np.savez_compressed(path, **sample)
