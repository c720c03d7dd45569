"""The building unit shared by DRSN, ResNet and ConvNet: they differ only in two switches."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from drsn_edge.models.shrinkage import Shrinkage


class Shortcut(nn.Module):
    """The identity path when the unit changes length or width.

    ``mode="pad"`` is the paper's: subsample by the stride and zero-pad the new
    channels. The subsample is ``max_pool1d(kernel 1)`` and the pad amounts are
    Python constants because onnx2tf mis-converts ``x[:, :, ::2]`` and run-time
    computed pads. ``mode="conv"`` is a strided 1x1 convolution instead.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, mode: str) -> None:
        super().__init__()
        if out_ch < in_ch and mode == "pad":
            raise ValueError("a zero-pad shortcut cannot reduce the channel count")
        self.stride = stride
        self.extra_channels = out_ch - in_ch
        self.conv = nn.Conv1d(in_ch, out_ch, 1, stride=stride, bias=False) if mode == "conv" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            return self.conv(x)
        if self.stride > 1:
            x = F.max_pool1d(x, kernel_size=1, stride=self.stride)
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, self.extra_channels))
        return x


class ResidualUnit(nn.Module):
    """Pre-activation unit ``BN-ReLU-Conv-BN-ReLU-Conv [-> shrinkage] [+ shortcut]``.

    ``shrinkage`` is ``"cw"``, ``"cs"`` or ``None``; ``residual=False`` drops the
    shortcut (the ConvNet baseline). No ReLU after the addition, as in the paper.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        kernel_size: int,
        shrinkage: str | None,
        residual: bool,
        shortcut: str = "pad",
    ) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.bn1 = nn.BatchNorm1d(in_ch)
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel_size, padding=pad, bias=False)
        self.shrink = Shrinkage(out_ch, shared=shrinkage == "cs") if shrinkage else None
        self.shortcut: nn.Module | None = None
        if residual:
            needs_projection = stride > 1 or in_ch != out_ch
            self.shortcut = Shortcut(in_ch, out_ch, stride, shortcut) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        if self.shrink is not None:
            out = self.shrink(out)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return out
