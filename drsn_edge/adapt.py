"""AdaBN: adapt a trained model to a new operating condition without labels.

A network trained at one motor load sees shifted feature statistics at
another; re-estimating every batch norm's running mean and variance on
unlabelled windows of the target condition (Li et al., "Revisiting batch
normalization for practical domain adaptation", 2016; the transfer step of
WDCNN, Zhang et al. 2017) moves the normalisation to the new condition while
every learned weight stays as it is. Only raw windows go in, so labels cannot
be read; the result is an ordinary checkpoint for ``convert``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.train import mix_noise

NOISE_CHOICES = ("train", "none")


@dataclass
class AdaptConfig:
    """How the statistics are re-estimated; stored in the adapted checkpoint."""

    noise: str = "train"  # "train": add the model's training noise mix (its statistics were learned so); "none"
    batch_size: int = 256  # windows per forward pass; each pass contributes equally to the average
    seed: int = 0  # noise draw and batch order
    threads: int = 0  # 0: leave torch's default

    def __post_init__(self) -> None:
        if self.noise not in NOISE_CHOICES:
            raise DrsnError(f"unknown adaptation noise '{self.noise}' (choose {' or '.join(NOISE_CHOICES)})")
        if self.batch_size < 2:
            raise DrsnError("the adaptation batch size must be at least 2 (batch norm needs two windows)")


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def adapt(ckpt: Checkpoint, raw: np.ndarray, cfg: AdaptConfig, source: dict | None = None) -> Checkpoint:
    """``ckpt`` with every batch norm's running statistics re-estimated on raw windows ``raw`` (N, L).

    The windows are shuffled into near-equal batches (CWRU windows come sorted
    by class; a one-class batch would normalise the deeper layers' inputs
    unlike mixed data) and averaged over the batches with equal weight.
    ``source`` describes where the windows came from, for the record.
    """
    x = ckpt.preprocessing.check(raw)
    if len(x) < 2:
        raise DrsnError(f"adaptation needs at least 2 windows, got {len(x)}")
    rng = np.random.default_rng(cfg.seed)
    if cfg.noise == "train":
        x = mix_noise(np.asarray(x, dtype=np.float32), ckpt.train_config(), rng)
    inputs = ckpt.preprocessing.apply(x)
    model = ckpt.build()
    norms = batch_norms(model)
    if not norms:
        raise DrsnError("the model has no batch norm to adapt")
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the passes
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        model.train()
        with torch.no_grad():
            for idx in np.array_split(rng.permutation(len(inputs)), -(-len(inputs) // cfg.batch_size)):
                model(torch.from_numpy(inputs[idx]))
    finally:
        torch.set_num_threads(threads_before)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    summary = {**ckpt.training, "adaptation": {
        "method": "adabn", "config": asdict(cfg), "windows": int(len(inputs)), "batch_norms": len(norms),
        "data": source or {}, "from": {"name": ckpt.name, "metrics": ckpt.metrics},
    }}
    return Checkpoint(config=ckpt.config, state_dict=state, classes=ckpt.classes, preprocessing=ckpt.preprocessing,
                      training=summary, metrics={})
