"""Representative windows for post-training quantisation and validation.

By default they come from the data the checkpoint was trained on, with the
training noise mix, preprocessed exactly as at inference: ranges measured on
clean windows alone would clip the noisy windows the model exists for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.data.dataset import Windows
from drsn_edge.data.spec import load_splits
from drsn_edge.errors import DrsnError
from drsn_edge.train import TrainConfig, noise_mix


@dataclass
class WindowSets:
    """Preprocessed calibration and validation windows plus labels for the latter."""

    calibration: np.ndarray  # (N, L) float32
    validation: np.ndarray  # (M, L) float32
    validation_labels: np.ndarray  # (M,) in the model's class order
    summary: dict


def _training_config(ckpt: Checkpoint) -> TrainConfig:
    cfg = dict(ckpt.training.get("config", {}))
    known = set(TrainConfig.__dataclass_fields__)
    cfg = {k: v for k, v in cfg.items() if k in known}
    if "snr_db" in cfg:
        cfg["snr_db"] = tuple(cfg["snr_db"])
    return TrainConfig(**cfg)


def _pick(windows: Windows, n: int, rng: np.random.Generator) -> Windows:
    """``n`` windows taken round-robin over the classes, so rare classes are represented."""
    if n >= len(windows):
        return windows
    groups = [list(rng.permutation(np.flatnonzero(windows.y == c))) for c in range(len(windows.classes))]
    chosen: list[int] = []
    while len(chosen) < n:
        for group in groups:
            if group and len(chosen) < n:
                chosen.append(int(group.pop()))
    idx = np.array(sorted(chosen))
    return Windows(windows.x[idx], windows.y[idx], windows.classes, windows.sample_rate, windows.info)


def _labels_for(windows: Windows, classes: list[str]) -> np.ndarray:
    unknown = [c for c in windows.classes if c not in classes]
    if unknown:
        raise DrsnError(f"data has classes the model does not know: {', '.join(unknown)}")
    return np.array([classes.index(c) for c in windows.classes])[windows.y]


def window_sets(
    ckpt: Checkpoint,
    calib_spec: str | None = None,
    calib_size: int = 256,
    val_size: int = 300,
    seed: int = 0,
) -> WindowSets:
    """Calibration windows (training split) and validation windows (validation split, clean + noisy)."""
    if calib_size < 1 or val_size < 1:
        raise DrsnError("calibration and validation sizes must be positive")
    spec = ckpt.training.get("data", {}).get("spec_resolved") or ckpt.training.get("data", {}).get("spec")
    if calib_spec is None and not spec:
        raise DrsnError("the checkpoint does not say what data it was trained on; pass --calib-data")
    pre = ckpt.preprocessing
    cfg = _training_config(ckpt)
    rng = np.random.default_rng(seed)
    try:
        source = load_splits(calib_spec or spec, window_length=pre.window_length,
                             channel=ckpt.training.get("data", {}).get("channel", "DE"))
    except DrsnError as exc:
        which = "--calib-data" if calib_spec else "the checkpoint's training data"
        raise DrsnError(f"cannot load {which}: {exc} (pass --calib-data SPEC)") from None
    for part in (source.train, source.val):
        if part.window_length != pre.window_length:
            raise DrsnError(f"calibration windows have {part.window_length} samples, the model expects {pre.window_length}")
        part.check_finite()
    calib = _pick(source.train, calib_size, rng)
    calib_x = pre.apply(noise_mix(calib, cfg, rng))
    val = _pick(source.val, val_size, rng)
    noisy_cfg = TrainConfig(**{**cfg.__dict__, "clean_fraction": 0.0})
    val_x = np.concatenate([pre.apply(val.x), pre.apply(noise_mix(val, noisy_cfg, rng))])
    val_y = np.concatenate([_labels_for(val, ckpt.classes)] * 2)
    summary = {
        "spec": calib_spec or spec, "calibration_windows": len(calib_x), "validation_windows": len(val_x),
        "noise": cfg.noise, "snr_db": list(cfg.snr_db), "clean_fraction": cfg.clean_fraction, "seed": seed,
        "validation": "validation split, each window clean and with the training noise mix",
    }
    return WindowSets(calib_x, val_x, val_y, summary)
