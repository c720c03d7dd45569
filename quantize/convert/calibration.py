"""Representative windows for post-training quantisation and validation.

By default they come from the data the checkpoint was trained on, with the
training noise mix, preprocessed exactly as at inference: ranges measured on
clean windows alone would clip the noisy windows the model exists for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.data.dataset import Splits, Windows
from drsn_edge.data.spec import load_splits, load_windows, parse_spec
from drsn_edge.errors import DrsnError
from drsn_edge.evaluate import labels_in_model_order
from drsn_edge.train import TrainConfig, noise_mix


@dataclass
class WindowsSummary:
    """Where the windows came from and how many (validation.json's ``calibration``)."""

    calibration_spec: str
    validation_spec: str
    calibration_windows: int
    validation_windows: int
    noise: list[str]
    snr_db: list[float]
    clean_fraction: float
    seed: int
    validation: str = "validation split of the training data, each window clean and with the training noise mix"


@dataclass
class WindowSets:
    """Preprocessed calibration and validation windows plus labels for the latter."""

    calibration: np.ndarray  # (N, L) float32
    validation: np.ndarray  # (M, L) float32
    validation_labels: np.ndarray  # (M,) in the model's class order
    summary: WindowsSummary


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
    return windows.take(idx)


def _load(spec: str, ckpt: Checkpoint, what: str) -> Splits:
    pre = ckpt.preprocessing
    try:
        source = load_splits(spec, window_length=pre.window_length, channel=ckpt.training_data().channel)
    except DrsnError as exc:
        raise DrsnError(f"cannot load {what}: {exc}") from None
    for part in (source.train, source.val):
        if part.window_length != pre.window_length:
            raise DrsnError(f"{what} has {part.window_length}-sample windows, the model expects {pre.window_length}")
        part.check_finite()
    return source


def _load_calibration(spec: str, ckpt: Checkpoint) -> Windows:
    """``--calib-data``: an .npz is used whole, other sources contribute their training split."""
    pre = ckpt.preprocessing
    split = "all" if parse_spec(spec)[0] == "npz" else "train"
    try:
        windows = load_windows(spec, split=split, window_length=pre.window_length,
                               channel=ckpt.training_data().channel)
    except DrsnError as exc:
        raise DrsnError(f"cannot load calibration data {spec}: {exc}") from None
    if windows.window_length != pre.window_length:
        raise DrsnError(f"calibration data has {windows.window_length}-sample windows, "
                        f"the model expects {pre.window_length}")
    return windows


def window_sets(
    ckpt: Checkpoint,
    calib_spec: str | None = None,
    calib_size: int = 256,
    val_size: int = 300,
    seed: int = 0,
) -> WindowSets:
    """Calibration windows (training split of the calibration data) and validation windows.

    Validation always uses the checkpoint's own data (its validation split, each
    window clean and with the training noise mix), whatever the calibration
    data: a model calibrated on the wrong data must be judged on the right one.
    """
    if calib_size < 1 or val_size < 1:
        raise DrsnError("calibration and validation sizes must be positive")
    spec = ckpt.training_data("validate").spec
    cfg = ckpt.train_config()
    rng = np.random.default_rng(seed)
    own = _load(spec, ckpt, f"the checkpoint's training data ({spec})")
    calib_windows = _load_calibration(calib_spec, ckpt) if calib_spec else own.train
    pre = ckpt.preprocessing
    calib = _pick(calib_windows, calib_size, rng)
    calib_x = pre.apply(noise_mix(calib, cfg, rng))
    val = _pick(own.val, val_size, rng)
    noisy_cfg = TrainConfig(**{**cfg.__dict__, "clean_fraction": 0.0})
    val_x = np.concatenate([pre.apply(val.x), pre.apply(noise_mix(val, noisy_cfg, rng))])
    val_y = np.concatenate([labels_in_model_order(val, ckpt.classes)] * 2)
    summary = WindowsSummary(calibration_spec=calib_spec or spec, validation_spec=spec,
                             calibration_windows=len(calib_x), validation_windows=len(val_x), noise=cfg.noise,
                             snr_db=list(cfg.snr_db), clean_fraction=cfg.clean_fraction, seed=seed)
    return WindowSets(calib_x, val_x, val_y, summary)
