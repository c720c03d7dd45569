"""Every number of the accuracy-vs-quantisation report, collected into one JSON-ready dict.

The build directory is the source of truth: ``model.json`` gives the files and
model facts, ``validation.json`` the per-unit statistics and the checkpoint
path, ``probes.npz`` the sampled float vs int8 thresholds. Accuracy comes from
one :func:`drsn_edge.evaluate.compare` over all runtimes on identical noisy
windows (split over processes by ``quantize.report.sweep``), so the plots, tables and
verdict all read the same numbers.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from drsn_edge.buildinfo import BuildInfo, load_build_info
from drsn_edge.data.spec import describe
from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor
from quantize.report.device import attach_devices, check_devices, load_device_result
from quantize.report.inputs import INT8_NAME, ReportOptions, build_predictors, evaluation_windows, read_json
from quantize.report.sweep import sweep_build

FORMAT = "drsn-edge-report"
PROBES_FILE = "probes.npz"


def latency_ms(predictor: Predictor, x: np.ndarray) -> float:
    """Host wall time per window over a short batch, after a warm-up run of the same batch (PyTorch sets up
    its kernels per batch shape); a number to read, not a test."""
    predictor.logits(x)
    start = time.perf_counter()
    predictor.logits(x)
    return 1000.0 * (time.perf_counter() - start) / max(len(x), 1)


def quantisation_loss(sweep: dict, float_name: str, int_name: str) -> dict:
    """Float minus int8 accuracy in points for the clean data and every (noise, SNR) cell."""
    def cell(row: dict) -> dict:
        f, q = row["accuracy"][float_name], row["accuracy"][int_name]
        return {"noise": row["noise"], "snr_db": row["snr_db"], "float": f, "int8": q,
                "loss_points": 100.0 * (f - q), "agreement": row["agreement"].get(int_name, 1.0)}

    cells = [cell(r) for r in sweep["cells"]]
    worst = max(cells, key=lambda c: c["loss_points"]) if cells else None
    return {"float": float_name, "int8": int_name, "clean": cell(sweep["clean"]), "cells": cells,
            "mean_noisy_points": float(np.mean([c["loss_points"] for c in cells])) if cells else None,
            "worst": worst}


def unit_data(build_dir: Path, validation: dict, notes: list[str]) -> dict:
    """Per shrinkage unit: convert's statistics plus the sampled (float, int8) thresholds."""
    stats = validation.get("int8", {}).get("units", {})
    probes_path = build_dir / PROBES_FILE
    samples = {}
    if probes_path.is_file():
        with np.load(probes_path) as probes:
            samples = {k: probes[k] for k in probes.files}
    elif stats:
        notes.append(f"No {PROBES_FILE} in the build (made by an older convert): threshold scatter left out.")
    units = {}
    for unit, m in stats.items():
        entry = {"channels": m["channels"], "tau_rel_error_median": m["tau_rel_error"]["median"],
                 "tau_rel_error_p95": m["tau_rel_error"]["p95"], "sqnr_db": m["sqnr_db"],
                 "float_zeros_kept": m["dead_zone"]["float_zeros_kept"],
                 "int8_zeros_near": m["dead_zone"]["int8_zeros_near"],
                 "float_zero_share": m["dead_zone"]["float_zero_share"]}
        if unit in samples:
            entry["tau_samples"] = {"float": samples[unit][0].round(6).tolist(),
                                    "int8": samples[unit][1].round(6).tolist()}
        units[unit] = entry
    return units


def model_facts(build_dir: Path, info: BuildInfo, validation: dict) -> dict:
    """Size and cost of the model: what decides whether it fits a device."""
    files = {role: {"file": name, "bytes": (build_dir / name).stat().st_size}
             for role, name in info.files.items() if (build_dir / name).is_file()}
    checks = validation.get("checks", [])
    return {"arch": info.extra.get("arch"), "parameters": info.extra.get("parameters"), "macs": info.extra.get("macs"),
            "files": files, "tflm_arena_bytes": info.extra.get("tflm_arena_bytes"),
            "calibration": validation.get("calibration"), "convert_seconds": validation.get("seconds"),
            "validation_checks": len(checks), "validation_failed": [c["check"] for c in checks if not c["passed"]]}


def _change(points: float) -> str:
    return f"{'loses' if points >= 0 else 'gains'} {abs(points):.2f} points"


def model_verdict(name: str, loss: dict) -> str:
    """One sentence from the numbers, e.g. 'int8 loses 0.30 points on average; worst cell pink -5 dB, 1.10 points'."""
    clean = loss["clean"]["loss_points"]
    mean = loss["mean_noisy_points"]
    if mean is None:
        return f"{name}: int8 {_change(clean)} on clean data."
    worst = loss["worst"]
    return (f"{name}: int8 {_change(mean)} on average under noise ({_change(clean)} on clean data); "
            f"worst cell {worst['noise']} {worst['snr_db']:g} dB, {worst['loss_points']:.2f} points.")


def collect_model(build_dir: str | Path, opts: ReportOptions) -> dict:
    """Everything the report shows about one build directory."""
    build_dir = Path(build_dir)
    info = load_build_info(build_dir)
    validation = read_json(build_dir / "validation.json")
    windows = evaluation_windows(opts, info)
    timing = windows.x[:max(1, min(opts.latency_windows, len(windows)))]
    predictors, notes = build_predictors(build_dir, timing[:4])
    sweep = sweep_build(build_dir, predictors, windows, opts)
    loss = quantisation_loss(sweep, predictors[0].name, INT8_NAME)
    return {
        "name": info.name, "build_dir": str(build_dir.resolve()), "classes": list(info.classes),
        "float_reference": predictors[0].name, "int8": INT8_NAME, "runtimes": [p.name for p in predictors],
        "notes": notes, "facts": model_facts(build_dir, info, validation),
        "latency_ms_per_window": {p.name: latency_ms(p, timing) for p in predictors},
        "latency_windows": len(timing), "sweep": sweep, "quantisation_loss": loss,
        "units": unit_data(build_dir, validation, notes), "verdict": model_verdict(info.name, loss),
        "devices": [],  # filled from --device results by attach_devices
    }


def overall_verdict(models: list[dict]) -> str:
    """The sentence at the top: one model's verdict, or which int8 model holds up best under noise."""
    if len(models) == 1:
        return models[0]["verdict"]

    def noisy_int8(m: dict) -> float:
        return m["sweep"]["noisy_mean"].get(m["int8"], m["sweep"]["clean"]["accuracy"][m["int8"]])

    best = max(models, key=noisy_int8)
    losses = [m["quantisation_loss"]["clean"]["loss_points"] if m["quantisation_loss"]["mean_noisy_points"] is None
              else m["quantisation_loss"]["mean_noisy_points"] for m in models]
    spread = f"{min(losses):.2f}" if f"{min(losses):.2f}" == f"{max(losses):.2f}" \
        else f"{min(losses):.2f} to {max(losses):.2f}"
    return (f"After int8 quantisation {best['name']} is the most accurate under noise "
            f"({100 * noisy_int8(best):.2f} % on average); int8 costs {spread} points "
            f"on average across the {len(models)} models.")


def collect(build_dirs: list[str | Path], opts: ReportOptions) -> dict:
    """The whole report as plain data (what report.json holds)."""
    if not build_dirs:
        raise DrsnError("no build directory given")
    infos = [load_build_info(d) for d in build_dirs]  # fail on a wrong directory before any slow work
    names = [i.name for i in infos]
    if len(set(names)) != len(names):
        raise DrsnError(f"model names must differ to compare builds: {names}")
    devices = [load_device_result(p) for p in opts.devices]
    check_devices(devices, names)
    models = [collect_model(d, opts) for d in tqdm(build_dirs, desc="report", unit="model",
                                                     disable=not opts.progress or len(build_dirs) == 1)]
    attach_devices(models, devices, opts.data)
    windows = next(iter(opts._windows.values()))
    return {
        "format": FORMAT, "verdict": overall_verdict(models),
        "data": {"spec": opts.data, "split": opts.split, "limit": opts.limit, **describe(windows)},
        "settings": {"noise_types": list(opts.noise_types), "snrs_db": list(opts.snrs_db), "seed": opts.seed,
                     "workers": opts.workers,
                     "latency": "host wall time per window, one window at a time (batched for PyTorch)"},
        "models": models,
    }
