"""How a model is trained (:class:`TrainConfig`): stored in the checkpoint, so a run can be repeated and
later stages (calibration, fine-tuning) reuse its noise mix."""
from __future__ import annotations

from dataclasses import dataclass, field

from drsn_edge.data.noise import NOISE_TYPES
from drsn_edge.errors import DrsnError


@dataclass
class TrainConfig:
    """How to train; stored in the checkpoint so a run can be repeated."""

    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9, as in the paper)
    noise: list[str] = field(default_factory=lambda: list(NOISE_TYPES))
    snr_db: tuple[float, float] = (-5.0, 5.0)
    clean_fraction: float = 0.2
    patience: int = 20
    seed: int = 0
    threads: int = 0  # 0: leave torch's default
    val_condition: str = ""  # "": select on the same-recording validation split; else on this held-out condition
    speed_jitter: float = 0.0  # read each training window at a rate uniform in 1 +- this (load/speed change)
    time_shift: float = 0.0  # start each training window up to this share of its length later
    gain_db: float = 0.0  # scale each training window by a gain uniform in +- this many dB

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise DrsnError("epochs, batch size and learning rate must be positive")
        if self.optimizer not in ("adamw", "sgd"):
            raise DrsnError(f"unknown optimizer '{self.optimizer}' (choose adamw or sgd)")
        unknown = [n for n in self.noise if n not in NOISE_TYPES]
        if unknown:
            raise DrsnError(f"unknown noise type(s): {', '.join(unknown)}")
        if not 0.0 <= self.clean_fraction <= 1.0:
            raise DrsnError("clean fraction must lie in [0, 1]")
        if not 0.0 <= self.speed_jitter < 0.5 or not 0.0 <= self.time_shift <= 1.0 or self.gain_db < 0:
            raise DrsnError("speed jitter must lie in [0, 0.5), time shift in [0, 1] and gain in dB be >= 0")
        low, high = self.snr_db
        if low > high:
            raise DrsnError(f"SNR range {low},{high} is reversed")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Rebuild from a checkpoint's summary (lists back to tuples; unknown keys ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "snr_db" in known:
            known["snr_db"] = tuple(known["snr_db"])
        return cls(**known)
