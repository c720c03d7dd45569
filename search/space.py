"""The search space: which architectures, sizes and training settings a trial may draw.

Every choice list has a default here (the one source); ``--space FILE`` replaces any of them with a JSON
object of the same keys, e.g. ``{"archs": ["drsn-cw"], "units_per_stage": [1]}`` for a quick search.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from drsn_edge.errors import DrsnError
from drsn_edge.models import ARCHS, ModelConfig


@dataclass
class Space:
    """Choice lists (and the learning-rate range) a trial draws from."""

    archs: list[str] = field(default_factory=lambda: ["drsn-cw", "drsn-cs", "resnet"])
    stages: list[int] = field(default_factory=lambda: [2, 3])
    base_width: list[int] = field(default_factory=lambda: [2, 4, 8])  # first stage (and stem) channels
    growth: list[int] = field(default_factory=lambda: [1, 2])  # width factor from one stage to the next
    units_per_stage: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    kernel_size: list[int] = field(default_factory=lambda: [3, 5])
    stem_kernel_size: list[int] = field(default_factory=lambda: [3, 7, 15])
    stem_stride: list[int] = field(default_factory=lambda: [2, 4])
    batch_size: list[int] = field(default_factory=lambda: [32, 64])
    lr: list[float] = field(default_factory=lambda: [1e-3, 1e-2])  # low, high: drawn on a log scale
    window_length: list[int] = field(default_factory=list)  # empty: the data's own window length

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, list) or (not value and f.name != "window_length"):
                raise DrsnError(f"search space '{f.name}' must be a non-empty list")
        unknown = [a for a in self.archs if a not in ARCHS]
        if unknown:
            raise DrsnError(f"unknown architecture(s) in the search space: {', '.join(map(str, unknown))}")
        if len(self.lr) != 2 or not 0 < self.lr[0] <= self.lr[1]:
            raise DrsnError("search space 'lr' must be [low, high] with 0 < low <= high")
        ints = [v for f in fields(self) if f.name not in ("archs", "lr") for v in getattr(self, f.name)]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in ints):
            raise DrsnError("search space sizes must be positive integers")
        if any(k % 2 == 0 for k in self.kernel_size + self.stem_kernel_size):
            raise DrsnError("search space kernel sizes must be odd")

    @classmethod
    def load(cls, path: str | None) -> "Space":
        """The default space, with the lists of the JSON file ``path`` (if any) in place of the defaults."""
        if path is None:
            return cls()
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise DrsnError(f"cannot read the search space {path}: {exc}") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - known:
            raise DrsnError(f"search space {path}: expected an object with keys from {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def suggest(trial, space: Space, data_length: int, num_classes: int) -> tuple[ModelConfig, dict]:
    """Draw one model (a :class:`ModelConfig`, checked) and its training settings from ``space``."""
    base, growth = trial.suggest_categorical("base_width", space.base_width), trial.suggest_categorical(
        "growth", space.growth)
    stages = trial.suggest_categorical("stages", space.stages)
    length = trial.suggest_categorical("window_length", space.window_length) if space.window_length else data_length
    config = ModelConfig(
        arch=trial.suggest_categorical("arch", space.archs), in_length=length, num_classes=num_classes,
        stem_channels=base, widths=[base * growth ** i for i in range(stages)],
        units_per_stage=trial.suggest_categorical("units_per_stage", space.units_per_stage),
        kernel_size=trial.suggest_categorical("kernel_size", space.kernel_size),
        stem_kernel_size=trial.suggest_categorical("stem_kernel_size", space.stem_kernel_size),
        stem_stride=trial.suggest_categorical("stem_stride", space.stem_stride),
    )
    training = {"batch_size": trial.suggest_categorical("batch_size", space.batch_size),
                "lr": trial.suggest_float("lr", space.lr[0], space.lr[1], log=True)}
    return config, training
