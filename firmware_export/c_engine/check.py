"""``drsn-edge run``: the exported engine against LiteRT's reference kernels, window by window."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drsn_edge.defaults import CHANNEL
from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing
from drsn_edge.registry import get_runtime
from drsn_edge.unknown import flagged_summary, margin
from firmware_export.c_engine.profile import profile_table
from firmware_export.c_engine.runner import CEnginePredictor
from firmware_export.c_engine.target import MODEL_COPY, load_fw_info
from drsn_edge.buildinfo import BuildInfo


def agreement(engine: np.ndarray, reference: np.ndarray) -> dict:
    """Windows with identical int8 logits, the largest difference in LSB, and top-1 agreement."""
    diff = np.abs(engine.astype(np.int32) - reference.astype(np.int32))
    return {"identical": float(np.mean(diff.max(axis=1) == 0)) if len(diff) else float("nan"),
            "identical_windows": int(np.sum(diff.max(axis=1) == 0)), "max_lsb": int(diff.max(initial=0)),
            "top1": float(np.mean(engine.argmax(1) == reference.argmax(1))) if len(diff) else float("nan")}


def _model_path(fw_dir: Path, fw: dict) -> Path:
    for path in (fw_dir / fw.get("model", MODEL_COPY), Path(fw.get("build_dir", "")) / MODEL_COPY):
        if path.is_file():
            return path
    raise DrsnError(f"{fw_dir} has no copy of the int8 model and its build directory is gone")


def _reference(kind: str, model: Path, build: BuildInfo, raw: np.ndarray, progress: bool) -> np.ndarray:
    """int8 logits of ``model`` in the registered runtime ``kind`` (litert, tflm) for raw windows, 64 at a time."""
    predictor = get_runtime(kind).model(model, build)
    x = predictor.network_input(raw)
    rows = [predictor.raw_outputs(x[i:i + 64]) for i in tqdm(range(0, len(x), 64), desc=kind, disable=not progress,
                                                                leave=False)]
    rows = [r[0] if isinstance(r, list) else r for r in rows]
    return np.concatenate(rows) if rows else np.zeros((0, len(build.classes)), np.int8)


def check_windows(fw_dir: Path, spec: str, split: str, limit: int | None,
                  channel: str) -> tuple[dict, BuildInfo, Path, np.ndarray, np.ndarray]:
    """What a check of an export needs: fw.json, the model's facts, its int8 model, raw windows and labels."""
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import labels_in_model_order

    fw = load_fw_info(fw_dir)
    pre = Preprocessing.from_dict(fw["preprocessing"])
    build = BuildInfo(name=fw["name"], classes=list(fw["classes"]), preprocessing=pre)
    model = _model_path(fw_dir, fw)
    if limit is not None and limit < 1:
        raise DrsnError("--limit must be at least 1")
    windows = load_windows(spec, split=split, window_length=pre.window_length, channel=channel)
    if abs(windows.sample_rate - pre.sample_rate) > 1e-6:
        raise DrsnError(f"data is sampled at {windows.sample_rate:g} Hz but the model expects {pre.sample_rate:g} Hz")
    n = len(windows.x) if limit is None else min(limit, len(windows.x))
    x = pre.check(np.asarray(windows.x[:n], dtype=np.float32))
    return fw, build, model, x, labels_in_model_order(windows, build.classes)[:n]


def run_check(fw_dir: str | Path, spec: str, split: str = "test", limit: int | None = None, runner: str = "host",
              tflm: bool = False, channel: str = CHANNEL, progress: bool = True, profile: bool = False) -> dict:
    """Run the engine on the data's windows; agreement with LiteRT int8 (and TFLite Micro, when installed).

    ``profile``: run an image that times each op (board runners only); the device report then has ``profile``."""
    fw_dir = Path(fw_dir)
    tflm = tflm and importlib.util.find_spec("tflite_micro") is not None  # compared only when installed
    fw, build, model, x, y = check_windows(fw_dir, spec, split, limit, channel)
    n = len(x)

    engine = CEnginePredictor(fw_dir, runner, profile=profile)
    scored = runner == "host" and engine.unknown is not None  # board harnesses write logits only
    c_logits, c_scores = engine.unknown_scores(x) if scored else (engine.raw_outputs(x), None)
    ref = _reference("litert", model, build, x, progress)
    result = {"fw_dir": str(fw_dir), "runner": runner, "data": spec, "split": split, "windows": n,
              "litert": agreement(c_logits, ref),
              "accuracy": {"c_engine": float(np.mean(c_logits.argmax(1) == y)) if n else float("nan"),
                           "litert": float(np.mean(ref.argmax(1) == y)) if n else float("nan")},
              "arena_bytes": fw["arena_bytes"], "arena_lower_bound": fw["arena_lower_bound"]}
    if c_scores is not None:  # the engine's drsn_unknown_score against its Python reference on LiteRT's logits
        flags = c_scores < engine.unknown.threshold
        result["unknown"] = {"threshold": engine.unknown.threshold, "flagged_windows": int(flags.sum()),
                             "scores_identical": int(np.sum(c_scores == margin(ref))),
                             **flagged_summary(flags, c_logits.argmax(1) == y)}
    device = engine.report()
    if device:
        result["device"] = device
    if tflm:
        micro = _reference("tflm", model, build, x, progress)
        result["tflm"] = agreement(c_logits, micro)
        result["accuracy"]["tflm"] = float(np.mean(micro.argmax(1) == y)) if n else float("nan")
    return result


def check_table(result: dict) -> str:
    lines = [f"{result['runner']} C engine on {result['windows']} windows of {result['data']} ({result['split']})",
             f"  {'vs':<8} {'identical':>16} {'max LSB':>8} {'top-1':>7}"]
    for ref in ("litert", "tflm"):
        if ref in result:
            a = result[ref]
            name = "LiteRT" if ref == "litert" else "TFLM"
            lines.append(f"  {name:<8} {a['identical_windows']:>7}/{result['windows']:<8} {a['max_lsb']:>8} "
                         f"{a['top1']:>7.4f}")
    if "unknown" in result:
        u = result["unknown"]
        lines.append(f"  unknown (score < {u['threshold']}): engine scores equal the Python reference on LiteRT's "
                     f"logits in {u['scores_identical']}/{result['windows']} windows; {u['flagged_windows']} flagged")
    acc = "  ".join(f"{k} {v:.4f}" for k, v in result["accuracy"].items())
    lines.append(f"  accuracy: {acc}")
    lines.append(f"  arena {result['arena_bytes']} bytes (lower bound {result['arena_lower_bound']})")
    device = result.get("device", {})
    if device.get("instructions_per_inference") is not None:
        lines.append(f"  {device['instructions_per_inference']:,.0f} instructions per inference "
                     f"(min {device['instructions_min']:,}, max {device['instructions_max']:,}, "
                     f"resolution {device['resolution_instructions']})")
    if "profile" in device:
        lines.append("  instructions per inference by op type (each op timed; -DDRSN_PROFILE image):")
        lines.append(profile_table(device["profile"], device.get("instructions_per_inference")))
    if "flash_bytes" in device:
        lines.append(f"  image: flash {device['flash_bytes']:,} bytes, static RAM {device['static_ram_bytes']:,} bytes")
    return "\n".join(lines)
