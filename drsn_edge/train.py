"""Training with on-the-fly noise: every epoch sees fresh noise at random SNRs.

Fresh noise per epoch is what teaches the shrinkage units to threshold noise
away; validation uses one fixed noisy copy so epochs are comparable, and the
best validation epoch is what gets saved.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from drsn_edge import __version__
from drsn_edge.augment import augment
from drsn_edge.checkpoint import Checkpoint
from drsn_edge.data.dataset import Splits, Windows, hold_out
from drsn_edge.data.noise import add_noise
from drsn_edge.errors import DrsnError
from drsn_edge.models import ModelConfig, build_model, count_macs, count_parameters
from drsn_edge.preprocess import Preprocessing
from drsn_edge.train_config import TrainConfig


def noise_mix(windows: Windows, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Add the training noise mix to a copy of the raw windows; a share stays clean."""
    return mix_noise(windows.x, cfg, rng)


def mix_noise(x: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """:func:`noise_mix` on bare raw windows (N, L): for callers that have no labels."""
    if not cfg.noise or cfg.clean_fraction >= 1.0:
        return x
    noisy = add_noise(x, cfg.noise, tuple(cfg.snr_db), rng)
    keep_clean = rng.random(len(x)) < cfg.clean_fraction
    noisy[keep_clean] = x[keep_clean]
    return noisy


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def _accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 512])) for i in range(0, len(x), 512)])
        target = torch.from_numpy(y)
        loss = float(F.cross_entropy(logits, target))
        acc = float((logits.argmax(1) == target).float().mean())
    return acc, loss


@dataclass
class Fitted:
    """What one run of the epoch loop leaves: the best-validation weights and the history."""

    best_state: dict
    best: dict
    history: list[dict]
    seconds: float

    def summary(self) -> dict:
        return {"epochs_run": len(self.history), "best_epoch": self.best["epoch"],
                "seconds": round(self.seconds, 1), "history": self.history}


def fit(
    model: torch.nn.Module,
    forward: torch.nn.Module,
    splits: Splits,
    cfg: TrainConfig,
    pre: Preprocessing,
    desc: str,
    progress: bool = True,
    before_epoch: Callable[[int], None] | None = None,
) -> Fitted:
    """The epoch loop shared by training and quantisation-aware fine-tuning.

    ``forward`` computes the logits (the model itself, or a fake-quantised
    mirror of it that shares its parameters); ``model``'s weights are what is
    kept from the best validation epoch. ``before_epoch`` runs at the start of
    every epoch (fine-tuning re-measures activation ranges there).
    """
    rng = np.random.default_rng(cfg.seed)
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = -(-len(splits.train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.15
    )

    val_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1]))
    x_val = pre.apply(noise_mix(splits.val, cfg, val_rng))
    y_train = splits.train.y
    best = {"val_accuracy": -1.0, "val_loss": float("inf"), "epoch": 0}
    best_state = copy.deepcopy(model.state_dict())
    history = []
    start = time.time()
    bar = tqdm(range(1, cfg.epochs + 1), desc=desc, disable=not progress, unit="epoch")
    for epoch in bar:
        raw = augment(splits.train.x, cfg.speed_jitter, cfg.time_shift, cfg.gain_db, rng)
        x_train = pre.apply(mix_noise(raw, cfg, rng))
        if before_epoch is not None:
            before_epoch(epoch)
        forward.train()
        total, correct, loss_sum = 0, 0, 0.0
        for idx in _batches(len(x_train), cfg.batch_size, rng):
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            xb, yb = torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx])
            logits = forward(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            total += len(idx)
        val_acc, val_loss = _accuracy(forward, x_val, splits.val.y)
        history.append({
            "epoch": epoch, "loss": loss_sum / max(total, 1), "train_accuracy": correct / max(total, 1),
            "val_accuracy": val_acc, "val_loss": val_loss,
        })
        if (val_acc, -val_loss) > (best["val_accuracy"], -best["val_loss"]):
            best = {"val_accuracy": val_acc, "val_loss": val_loss, "epoch": epoch}
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", val=f"{val_acc:.3f}", best=f"{best['val_accuracy']:.3f}@{best['epoch']}")
        if epoch - best["epoch"] >= cfg.patience:
            break
    bar.close()
    return Fitted(best_state, best, history, time.time() - start)


def train(
    splits: Splits,
    model_config: ModelConfig,
    cfg: TrainConfig,
    preprocessing: Preprocessing | None = None,
    data_summary: dict | None = None,
    progress: bool = True,
) -> Checkpoint:
    """Train one model and return the best-validation checkpoint.

    With ``cfg.val_condition`` the best epoch is chosen on windows of that
    operating condition, which training never sees (:func:`hold_out`).
    """
    if cfg.val_condition:
        splits = hold_out(splits, cfg.val_condition)
    for part in (splits.train, splits.val):
        part.check_finite()
    if len(splits.train) == 0 or len(splits.val) == 0:
        raise DrsnError("training needs non-empty train and validation splits")
    classes = splits.train.classes
    if splits.val.classes != classes:
        raise DrsnError("train and validation splits name different classes")
    pre = preprocessing or Preprocessing(window_length=splits.train.window_length, sample_rate=splits.train.sample_rate)
    if pre.window_length != splits.train.window_length:
        raise DrsnError(f"data windows have {splits.train.window_length} samples, preprocessing expects {pre.window_length}")
    pre = pre.fit(splits.train.x)
    model_config = ModelConfig.from_dict({**model_config.to_dict(), "in_length": pre.window_length, "num_classes": len(classes)})

    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)  # for this run only: callers in the same process keep theirs
    try:
        torch.manual_seed(cfg.seed)
        model = build_model(model_config)
        fitted = fit(model, model, splits, cfg, pre, desc=f"train {model_config.arch}", progress=progress)
    finally:
        torch.set_num_threads(threads_before)
    summary = {
        "config": {**asdict(cfg), "snr_db": list(cfg.snr_db)},
        "data": data_summary or {},
        "n_train": len(splits.train),
        "n_val": len(splits.val),
        **fitted.summary(),
        "parameters": count_parameters(model),
        "macs": count_macs(model),
        "torch_version": torch.__version__,
        "package_version": __version__,
    }
    return Checkpoint(
        config=model_config,
        state_dict=fitted.best_state,
        classes=list(classes),
        preprocessing=pre,
        training=summary,
        metrics={"val_accuracy": fitted.best["val_accuracy"], "val_loss": fitted.best["val_loss"]},
    )
