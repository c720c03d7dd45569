"""Soft thresholding with learned, per-sample thresholds (the "shrinkage" of DRSN).

The soft threshold is written as ``relu(x - tau) - relu((x + tau) * -1)``: the
same function as ``sign(x) * max(|x| - tau, 0)``, but built only from ops that
TFLite quantises to int8 and TFLite Micro runs (SIGN and NEG are float-only
there). Zero maps to each tensor's zero point, so the dead zone stays exact.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soft_threshold(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """``sign(x) * max(|x| - tau, 0)`` in an int8-convertible form; ``tau`` broadcasts."""
    return F.relu(x - tau) - F.relu((x + tau) * -1.0)


class ThresholdNet(nn.Module):
    """Learns ``tau = alpha * mean|x|`` with ``alpha`` in (0, 1) for every sample.

    Channel-wise (``shared=False``): one threshold per channel. Channel-shared:
    one threshold per sample, scaled by the mean of ``|x|`` over all channels.
    Because ``alpha < 1``, tau never exceeds the mean magnitude it scales, so
    the unit can never zero a whole feature map by construction.
    """

    def __init__(self, channels: int, shared: bool) -> None:
        super().__init__()
        self.shared = shared
        self.fc1 = nn.Linear(channels, channels)
        self.bn = nn.BatchNorm1d(channels)
        self.fc2 = nn.Linear(channels, 1 if shared else channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return tau shaped (N, C, 1) for channel-wise, (N, 1, 1) for shared."""
        mean_abs = torch.mean(torch.abs(x), dim=2)  # (N, C)
        alpha = torch.sigmoid(self.fc2(F.relu(self.bn(self.fc1(mean_abs)))))
        if self.shared:
            scale = torch.mean(mean_abs, dim=1, keepdim=True)  # (N, 1)
        else:
            scale = mean_abs
        return (alpha * scale).unsqueeze(2)


class Shrinkage(nn.Module):
    """Threshold sub-network plus soft thresholding: the stage an RSBU adds to a residual unit."""

    def __init__(self, channels: int, shared: bool) -> None:
        super().__init__()
        self.threshold = ThresholdNet(channels, shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return soft_threshold(x, self.threshold(x))
