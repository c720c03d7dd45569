"""Quantisation-aware fine-tuning: a few epochs through the int8 mirror, from a float checkpoint.

The float weights are trained through ``Int8Mirror``'s fake quantisation, so
they settle where int8 rounding costs least. Activation ranges are re-measured
on the calibration windows at the start of every epoch with the rule
``convert`` will use, so what the fine-tuning sees is what the converter
builds. The result is an ordinary float checkpoint; convert it as usual.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.data.spec import load_splits
from drsn_edge.errors import DrsnError
from drsn_edge.train import TrainConfig, fit
from quantize.convert.calibration import window_sets
from quantize.convert.fakequant import Int8Mirror
from quantize.convert.ranges import RangeMethod


@dataclass
class FinetuneConfig:
    epochs: int = 10
    lr: float = 5e-4
    batch_size: int = 64
    calib_size: int = 256
    ranges: str = "mse"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.batch_size < 2 or self.calib_size < 1:
            raise DrsnError("fine-tuning needs positive epochs, learning rate, batch size and calibration size")
        RangeMethod.parse(self.ranges)


def finetune(ckpt: Checkpoint, cfg: FinetuneConfig, progress: bool = True) -> Checkpoint:
    """Quantisation-aware fine-tuning of ``ckpt`` on the data it was trained on."""
    data = ckpt.training_data("fine-tune")
    splits = load_splits(data.spec, window_length=ckpt.preprocessing.window_length, channel=data.channel)
    base = ckpt.train_config()
    train_cfg = TrainConfig(**{**base.__dict__, "epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size,
                               "seed": cfg.seed, "patience": cfg.epochs})
    calibration = window_sets(ckpt, None, cfg.calib_size, 1, cfg.seed).calibration
    method = RangeMethod.parse(cfg.ranges)

    torch.manual_seed(cfg.seed)
    model = ckpt.build()
    mirror = Int8Mirror(model)
    mirror.quantised = True
    ranges_seen: list[dict] = []

    def remeasure(epoch: int) -> None:
        mirror.calibrate(calibration, method)
        if epoch == 1:
            ranges_seen.append(dict(mirror.ranges))

    labels = splits.val.y
    x_val = ckpt.preprocessing.apply(splits.val.x)
    mirror.calibrate(calibration, method)
    before = float(np.mean(mirror.logits(x_val).argmax(1) == labels))
    fitted = fit(model, mirror, splits, train_cfg, ckpt.preprocessing, desc="finetune (QAT)", progress=progress,
                 before_epoch=remeasure)
    model.load_state_dict(fitted.best_state)
    mirror.calibrate(calibration, method)
    after = float(np.mean(mirror.logits(x_val).argmax(1) == labels))
    summary = {**ckpt.training,
               "finetune": {"kind": "quantisation-aware", "config": asdict(cfg), **fitted.summary(),
                            "clean_val_accuracy_fakequant_before": before,
                            "clean_val_accuracy_fakequant_after": after,
                            "from": {"name": ckpt.name, "metrics": ckpt.metrics}}}
    return Checkpoint(config=ckpt.config, state_dict=fitted.best_state, classes=ckpt.classes,
                      preprocessing=ckpt.preprocessing, training=summary,
                      metrics={"val_accuracy": fitted.best["val_accuracy"], "val_loss": fitted.best["val_loss"],
                               "val_is_fakequant": True})
