"""The 1-D network of the paper's Table II, parameterised so every baseline shares it."""
from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

from drsn_edge.defaults import WINDOW_LENGTH
from drsn_edge.errors import DrsnError
from drsn_edge.models.blocks import ResidualUnit

# stated limits: far beyond any bearing model, small enough that building one cannot exhaust memory
LIMITS = {"in_length": (8, 1 << 20), "num_classes": (2, 1000), "stem_channels": (1, 256), "stem_stride": (1, 16),
          "units_per_stage": (1, 16), "kernel_size": (1, 31), "stem_kernel_size": (1, 255),
          "widths": (1, 256)}
MAX_STAGES = 8
MAX_PARAMETERS = 20_000_000


def _integer(value: object, name: str) -> int:
    """``value`` if it is an integer within ``LIMITS[name]`` (bool, float and text refused)."""
    low, high = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise DrsnError(f"model setting {name} must be an integer in [{low}, {high}], got {value!r:.40}")
    return int(value)


# arch name -> (shrinkage kind, has shortcut)
ARCHS: dict[str, tuple[str | None, bool]] = {
    "drsn-cw": ("cw", True),
    "drsn-cs": ("cs", True),
    "resnet": (None, True),
    "convnet": (None, False),
}


@dataclass
class ModelConfig:
    """Everything needed to rebuild a network; plain types so it fits a checkpoint.

    Defaults are the paper's 1-D network: a stride-2 stem of 4 filters, then three
    stages of 4, 8 and 16 channels, each of one stride-2 unit plus three more.
    """

    arch: str = "drsn-cw"
    in_length: int = WINDOW_LENGTH
    num_classes: int = 10
    stem_channels: int = 4
    stem_stride: int = 2
    widths: list[int] = field(default_factory=lambda: [4, 8, 16])
    units_per_stage: int = 4
    kernel_size: int = 3
    shortcut: str = "pad"
    stem_kernel_size: int | None = None  # None: kernel_size; wide (e.g. 63) as in WDCNN's first layer

    def __post_init__(self) -> None:
        self._check_types()
        if self.arch not in ARCHS:
            raise DrsnError(f"unknown architecture '{self.arch}' (choose from {', '.join(ARCHS)})")
        if self.shortcut not in ("pad", "conv"):
            raise DrsnError(f"unknown shortcut '{self.shortcut}' (choose pad or conv)")
        for name, k in (("kernel size", self.kernel_size), ("stem kernel size", self.stem_kernel)):
            if k < 1 or k % 2 == 0:
                raise DrsnError(f"{name} must be odd and positive, got {k}")
        if self.stem_channels < 1 or self.stem_stride < 1:
            raise DrsnError("stem channels and stride must be positive")
        if not self.widths or self.units_per_stage < 1 or self.num_classes < 2:
            raise DrsnError("need at least one stage, one unit per stage and two classes")
        if self.shortcut == "pad" and any(b < a for a, b in zip([self.stem_channels, *self.widths], self.widths)):
            raise DrsnError("a zero-pad shortcut needs non-decreasing widths (use shortcut=conv)")
        if self.in_length < self.stem_stride * 2 ** len(self.widths):
            raise DrsnError(f"input length {self.in_length} is too short for this network")

    @property
    def stem_kernel(self) -> int:
        return self.kernel_size if self.stem_kernel_size is None else int(self.stem_kernel_size)

    def _check_types(self) -> None:
        """Every setting an integer within its stated limit, before anything is sized from it."""
        if not isinstance(self.arch, str) or not isinstance(self.shortcut, str):
            raise DrsnError("model settings arch and shortcut must be names")
        for name in ("in_length", "num_classes", "stem_channels", "stem_stride", "units_per_stage", "kernel_size"):
            setattr(self, name, _integer(getattr(self, name), name))
        if not isinstance(self.widths, (list, tuple)) or not 1 <= len(self.widths) <= MAX_STAGES:
            raise DrsnError(f"model setting widths must be a list of 1-{MAX_STAGES} integers, got {self.widths!r:.60}")
        self.widths = [_integer(w, "widths") for w in self.widths]
        if self.stem_kernel_size is not None:
            self.stem_kernel_size = _integer(self.stem_kernel_size, "stem_kernel_size")
        widest = max(self.widths + [self.stem_channels])
        if 2 * self.kernel_size * widest * widest * self.units_per_stage * len(self.widths) > MAX_PARAMETERS:
            raise DrsnError(f"model settings describe more than {MAX_PARAMETERS:,} weights; refused")

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise DrsnError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


class Net1d(nn.Module):
    """Stem conv -> stages of residual units -> BN -> ReLU -> global average pool -> FC."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        shrinkage, residual = ARCHS[config.arch]
        k = config.kernel_size
        ks = config.stem_kernel
        self.stem = nn.Conv1d(1, config.stem_channels, ks, stride=config.stem_stride, padding=ks // 2, bias=False)
        stages = []
        in_ch = config.stem_channels
        for width in config.widths:
            units = []
            for i in range(config.units_per_stage):
                stride = 2 if i == 0 else 1
                units.append(ResidualUnit(in_ch, width, stride, k, shrinkage, residual, config.shortcut))
                in_ch = width
            stages.append(nn.Sequential(*units))
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm1d(in_ch)
        self.fc = nn.Linear(in_ch, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` is (N, L) or (N, 1, L) preprocessed windows; returns (N, classes) logits."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        x = self.stages(self.stem(x))
        x = F.relu(self.bn(x))
        return self.fc(torch.mean(x, dim=2))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features before the classifier (for analysis)."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return torch.mean(F.relu(self.bn(self.stages(self.stem(x)))), dim=2)


def build_model(config: ModelConfig | dict | None = None, **overrides: object) -> Net1d:
    """The one factory: build any architecture by name from a plain config."""
    if config is None:
        config = ModelConfig()
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    if overrides:
        config = ModelConfig.from_dict({**config.to_dict(), **overrides})
    return Net1d(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: Net1d) -> int:
    """Multiply-accumulates per window of the convolutions and FC layers."""
    macs = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv1d):
            macs += output.numel() * module.in_channels // module.groups * module.kernel_size[0]
        elif isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, model.config.in_length))
    model.train(was_training)
    for h in handles:
        h.remove()
    return macs
