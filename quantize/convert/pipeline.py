"""``drsn-edge convert``: one checkpoint in, one complete build directory out.

The directory is written atomically (``drsn_edge.outdir``): a failure part-way
leaves nothing behind and an existing build is never half overwritten.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from tqdm import tqdm

from drsn_edge import __version__
from drsn_edge.checkpoint import load_checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.models import count_macs, count_parameters
from drsn_edge.names import safe_file_name
from drsn_edge.outdir import atomic_output_dir, check_writable
from drsn_edge.predictor import TorchPredictor
from quantize.convert.calibration import window_sets
from quantize.convert.onnx_export import LOGITS_NAME, export_probed_onnx
from quantize.convert.ranges import RangeMethod
from quantize.convert.fakequant import compare_with_mirror
from quantize.runtimes.base import dequantize
from quantize.runtimes.litert import LiteRTPredictor
from quantize.runtimes.onnx_runtime import OnnxPredictor
from drsn_edge.buildinfo import BuildInfo
from quantize.convert.tflite_convert import convert_saved_model, onnx_to_saved_model
from quantize.tflite.graph import keep_outputs, summarize
from quantize.validate.units import Limits, run_checks, save_tau_samples, validate_probed, verify_probe_mapping

ONNX_FILE = "model.onnx"
FLOAT_FILE = "model_float32.tflite"
INT8_FILE = "model_int8.tflite"
INT16_FILE = "model_int16x8.tflite"
VALIDATION_FILE = "validation.json"
PROBES_FILE = "probes.npz"  # sampled float vs int8 thresholds per shrinkage unit, for the report
ONNX_CHECK_WINDOWS = 64


@dataclass
class ConvertOptions:
    out: Path | None = None
    calib_spec: str | None = None
    calib_size: int = 256
    ranges: RangeMethod = field(default_factory=lambda: RangeMethod("mse"))
    val_size: int = 300
    seed: int = 0
    per_tensor: bool = False
    int16_activations: bool = False
    force: bool = False
    tflm: bool = True
    limits: Limits = field(default_factory=Limits)
    progress: bool = True


def _strip_onnx(probed: Path, out: Path) -> None:
    """The deployable ONNX graph: the probed one with only the logits as output."""
    model = onnx.load(str(probed))
    keep = [o for o in model.graph.output if o.name == LOGITS_NAME]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    onnx.save(model, str(out))
    onnx.checker.check_model(str(out), full_check=True)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b))) if len(a) else 0.0


def convert(checkpoint: str | Path, opts: ConvertOptions) -> tuple[Path, dict]:
    """Export, convert, quantise and validate; returns the build directory and validation results."""
    start = time.time()
    ckpt = load_checkpoint(checkpoint)
    out = Path(opts.out) if opts.out else Path("build") / safe_file_name(ckpt.name)
    check_writable(out, opts.force)
    sets = window_sets(ckpt, opts.calib_spec, opts.calib_size, opts.val_size, opts.seed)
    model = ckpt.build()

    with atomic_output_dir(out, opts.force) as tmp:
        results = _convert_into(tmp, ckpt, checkpoint, model, sets, opts, start)
    return out, results


def _convert_into(tmp: Path, ckpt, checkpoint, model, sets, opts: ConvertOptions, start: float) -> dict:
    work = tmp / "work"
    work.mkdir(parents=True)
    steps = ["export ONNX", "onnx2tf", "TFLite float32", "TFLite int8"] + (["TFLite int16x8"] if opts.int16_activations else []) \
        + ["validate int8"] + (["TensorFlow Lite Micro"] if opts.tflm else [])
    bar = tqdm(total=len(steps), desc="convert", unit="step", disable=not opts.progress)
    results: dict = {"model": ckpt.name, "checkpoint": str(Path(checkpoint).resolve()), "package_version": __version__,
                     "calibration": {**sets.summary, "ranges": str(opts.ranges)}}

    def step(name: str) -> None:
        bar.set_postfix_str(name)

    with contextlib.closing(bar):
        build = BuildInfo(name=ckpt.name, classes=ckpt.classes, preprocessing=ckpt.preprocessing,
                          extra={"arch": ckpt.config.arch, "model_config": ckpt.config.to_dict(),
                                 "parameters": count_parameters(model), "macs": count_macs(model),
                                 "checkpoint_metrics": ckpt.metrics})
        step("export ONNX")
        export_probed_onnx(model, work / "probed.onnx")
        _strip_onnx(work / "probed.onnx", tmp / ONNX_FILE)
        check_x = sets.validation[:ONNX_CHECK_WINDOWS]
        float_logits = TorchPredictor(ckpt).logits_preprocessed(sets.validation)
        torch_logits = float_logits[:ONNX_CHECK_WINDOWS]
        onnx_logits = OnnxPredictor(tmp / ONNX_FILE, build).logits_preprocessed(check_x)
        results["onnx"] = {"windows": len(check_x), "max_abs_diff": _max_abs(onnx_logits, torch_logits)}
        bar.update()

        step("onnx2tf")
        saved = onnx_to_saved_model(work / "probed.onnx", work / "saved_model")
        bar.update()

        step("TFLite float32")
        probed_f32 = convert_saved_model(saved, "float32")
        (work / "probed_float32.tflite").write_bytes(probed_f32)
        (tmp / FLOAT_FILE).write_bytes(keep_outputs(probed_f32, {"output_0": LOGITS_NAME}))
        probe_error = verify_probe_mapping(ckpt, work / "probed_float32.tflite", build, check_x[:4])
        f32_logits = LiteRTPredictor(tmp / FLOAT_FILE, build).logits_preprocessed(check_x)
        results["tflite_float32"] = {"windows": len(check_x), "max_abs_diff": _max_abs(f32_logits, onnx_logits),
                                     "probe_tensors_max_rel_error": probe_error}
        bar.update()

        step("TFLite int8")
        probed_i8 = convert_saved_model(saved, "int8", sets.calibration, per_tensor=opts.per_tensor,
                                        ranges=opts.ranges)
        (work / "probed_int8.tflite").write_bytes(probed_i8)
        (tmp / INT8_FILE).write_bytes(keep_outputs(probed_i8, {"output_0": LOGITS_NAME}))
        graph = summarize((tmp / INT8_FILE).read_bytes())
        build.files = {"onnx": ONNX_FILE, "float32": FLOAT_FILE, "int8": INT8_FILE}
        build.quantization[INT8_FILE] = {"input": graph.input, "output": graph.output}
        results["int8_graph"] = {"ops": graph.op_counts, "tensor_types": dict(graph.tensor_types),
                                 "integer_problems": graph.integer_problems("int8"),
                                 "weights": "per-tensor" if opts.per_tensor else "per-channel",
                                 "bytes": (tmp / INT8_FILE).stat().st_size}
        if results["int8_graph"]["integer_problems"]:
            raise DrsnError("the int8 model is not all-integer: " + ", ".join(results["int8_graph"]["integer_problems"]))
        bar.update()

        if opts.int16_activations:
            step("TFLite int16x8")
            probed_i16 = convert_saved_model(saved, "int16x8", sets.calibration, per_tensor=opts.per_tensor,
                                         ranges=opts.ranges)
            (tmp / INT16_FILE).write_bytes(keep_outputs(probed_i16, {"output_0": LOGITS_NAME}))
            g16 = summarize((tmp / INT16_FILE).read_bytes())
            build.files["int16x8"] = INT16_FILE
            build.quantization[INT16_FILE] = {"input": g16.input, "output": g16.output}
            i16 = LiteRTPredictor(tmp / INT16_FILE, build)
            pred16 = i16.logits_preprocessed(sets.validation).argmax(1)
            results["int16x8"] = {"top1_agreement": float(np.mean(pred16 == float_logits.argmax(1))),
                                  "accuracy": float(np.mean(pred16 == sets.validation_labels)),
                                  "integer_problems": g16.integer_problems("int16"),
                                  "bytes": (tmp / INT16_FILE).stat().st_size}
            bar.update()

        step("validate int8")
        probed = validate_probed(ckpt, work / "probed_int8.tflite", build, sets.validation, sets.validation_labels)
        deploy = LiteRTPredictor(tmp / INT8_FILE, build)
        deploy_int = deploy.raw_outputs(sets.validation)[0]
        probed["end_to_end"]["deployable_equals_probed"] = bool(np.array_equal(deploy_int, probed["int8_logits"]))
        results["int8"] = {k: v for k, v in probed.items() if k not in ("int8_logits", "tau_pairs")}
        save_tau_samples(tmp / PROBES_FILE, probed["tau_pairs"], seed=opts.seed)
        results["int8"]["vs_fakequant"] = compare_with_mirror(model, sets.calibration, sets.validation, opts.ranges,
                                                              dequantize(deploy_int, deploy.outputs[0]["quantization"]))
        bar.update()

        if opts.tflm:
            step("TensorFlow Lite Micro")
            from quantize.runtimes.tflm import TFLMPredictor, compare_int_outputs, probe_arena
            from quantize.validate.divergence import first_divergence

            arena = probe_arena(tmp / INT8_FILE, sets.validation[:1])
            tflm = TFLMPredictor(tmp / INT8_FILE, build, arena_size=arena["recommended_bytes"])
            tflm_int = tflm.raw_outputs(sets.validation)
            results["tflm"] = {"arena": arena, "vs_litert_reference": compare_int_outputs(tflm_int, deploy_int),
                               "first_divergence": first_divergence(tmp / INT8_FILE, sets.validation[:32])}
            build.extra["tflm_arena_bytes"] = arena["recommended_bytes"]
            bar.update()

        checks = run_checks(results, opts.limits)
        results["limits"] = opts.limits.to_dict()
        results["checks"] = checks
        results["passed"] = all(c["passed"] for c in checks)
        results["seconds"] = round(time.time() - start, 1)
        shutil.rmtree(work)
        build.save(tmp)
        (tmp / VALIDATION_FILE).write_text(json.dumps(results, indent=2, default=float) + "\n")
    return results


def summary_text(out: Path, results: dict) -> str:
    """What a person wants to read after ``convert``: files, agreement, per-unit health, verdict."""
    e2e = results["int8"]["end_to_end"]
    lines = [f"build {out}  ({results['seconds']} s)",
             f"  ONNX vs PyTorch      max |diff| {results['onnx']['max_abs_diff']:.2e}",
             f"  TFLite f32 vs ONNX   max |diff| {results['tflite_float32']['max_abs_diff']:.2e}",
             f"  int8 graph           {sum(results['int8_graph']['ops'].values())} ops, "
             f"{results['int8_graph']['bytes']} bytes, all-integer",
             f"  validation windows   {e2e['windows']} (clean + training noise mix)",
             f"  accuracy             float {e2e['float_accuracy']:.4f}   int8 {e2e['int8_accuracy']:.4f}   "
             f"top-1 agreement {e2e['top1_agreement']:.4f}",
             f"  activation ranges    {results['calibration'].get('ranges', 'minmax')} on "
             f"{results['calibration']['calibration_windows']} windows"]
    mirror = results["int8"].get("vs_fakequant")
    if mirror:
        lines.append(f"  fake-quant mirror    top-1 agreement with int8 {mirror['top1_agreement']:.4f}, "
                     f"logit RMSE {mirror['logit_rmse']:.3f} (float vs int8 {mirror['float_vs_int8_logit_rmse']:.3f})")
    lines += ["", f"  {'shrinkage unit':<22}{'tau err (median)':>17}{'zeros kept':>12}{'SQNR dB':>9}"]
    for unit, m in results["int8"]["units"].items():
        lines.append(f"  {unit:<22}{m['tau_rel_error']['median']:>17.4f}"
                     f"{m['dead_zone']['float_zeros_kept']:>12.4f}{m['sqnr_db']:>9.1f}")
    if "tflm" in results:
        t = results["tflm"]
        v = t["vs_litert_reference"]
        lines += ["", f"  TFLite Micro         arena {t['arena']['recommended_bytes']} bytes; vs LiteRT reference: "
                      f"{v['identical_windows']}/{v['windows']} identical, max {v['max_lsb']} LSB, "
                      f"top-1 agreement {v['top1_agreement']:.4f}"]
        if t.get("first_divergence"):
            d = t["first_divergence"]
            lines.append(f"  first divergence     op {d['op_index']} {d['op']}: {d['explanation']}")
    failed = [c for c in results["checks"] if not c["passed"]]
    lines += ["", "  all checks passed" if not failed else f"  {len(failed)} of {len(results['checks'])} checks failed:"]
    for c in failed[:10]:
        lines.append(f"    {c['check']}: {c['value']:.4g} (limit {c['limit']:.4g})")
    return "\n".join(lines)
