"""The network as TFLite's int8 graph computes it, in PyTorch, with fake quantisation.

``Int8Mirror`` wraps a float ``Net1d`` and recomputes its forward pass the way
the converter lays it out (``quantize/tflite_convert.py``): batch norm that
directly follows a conv or FC is folded into its weights; the pre-activation
batch norm becomes a MUL and an ADD with the ReLU fused; every op's output is
an int8 tensor with its own per-tensor asymmetric range; weights are int8,
symmetric, one scale per output channel; the logistic's output has TFLite's
fixed scale 1/256 and zero point -128. Rounding uses straight-through
gradients, so the mirror can be fine-tuned (quantisation-aware training) and
the float weights it updates are the model's own.

Activation ranges are not learned: they are measured on calibration windows
and chosen per tensor with the same rule ``convert`` uses (``quantize.convert.ranges``),
so the converted int8 model and this mirror quantise alike.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drsn_edge.models.blocks import ResidualUnit, Shortcut
from drsn_edge.models.network import Net1d
from drsn_edge.models.shrinkage import Shrinkage
from quantize.convert.ranges import Accumulator, RangeMethod, choose_range
from quantize.validate.checks import Check, Limits

LOGISTIC_RANGE = (0.0, 255.0 / 256.0)  # TFLite's fixed int8 logistic output: scale 1/256, zero point -128


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-time batch norm as ``x * scale + shift`` (running statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _qparams(lo: float, hi: float) -> tuple[float, int]:
    """TFLite's int8 scale and zero point for a range (zero exactly representable)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, 1e-12)
    zero_point = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return scale, zero_point


def fake_quant_weight(w: torch.Tensor) -> torch.Tensor:
    """Symmetric int8 per output channel, [-127, 127], as TFLite stores conv and FC weights."""
    flat = w.detach().reshape(w.shape[0], -1)
    scale = (flat.abs().amax(dim=1) / 127.0).clamp_min(1e-12).float()
    zero = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


class Int8Mirror(nn.Module):
    """Fake-quantised forward pass of a ``Net1d`` shaped like its converted int8 graph.

    Modes: ``float`` (no quantisation; equals the model's own eval forward, a
    check on the folding), ``quantised`` (weights and activations rounded).
    """

    def __init__(self, model: Net1d) -> None:
        super().__init__()
        self.model = model
        self.ranges: dict[str, tuple[float, float]] = {}
        self.quantised = False
        self._observers: dict[str, Accumulator] | None = None
        self._pass = 0

    # -- quantisation points -------------------------------------------------
    def _q(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if self._observers is not None:
            obs = self._observers.setdefault(name, Accumulator())
            values = x.detach().reshape(x.shape[0], -1).numpy()
            obs.see_range(values) if self._pass == 0 else obs.see_values(values)
            return x
        if not self.quantised:
            return x
        scale, zero_point = _qparams(*self.ranges[name])
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, -128, 127)

    def _w(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant_weight(w) if self.quantised else w

    def _const(self, c: torch.Tensor) -> torch.Tensor:
        """Elementwise constants (the folded pre-activation BN) are int8 tensors too."""
        if not self.quantised:
            return c
        scale, zero_point = _qparams(float(c.detach().min()), float(c.detach().max()))
        return torch.fake_quantize_per_tensor_affine(c, scale, zero_point, -128, 127)

    # -- the graph -----------------------------------------------------------
    def _bn_relu(self, name: str, bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        scale, shift = _bn_affine(bn)
        x = self._q(f"{name}.mul", x * self._const(scale)[None, :, None])
        return self._q(f"{name}.add_relu", F.relu(x + self._const(shift)[None, :, None]))

    def _conv(self, name: str, conv: nn.Conv1d, x: torch.Tensor, bn: nn.BatchNorm1d | None = None,
              relu: bool = False) -> torch.Tensor:
        weight, bias = conv.weight, conv.bias
        if bn is not None:
            scale, shift = _bn_affine(bn)
            weight = weight * scale[:, None, None]
            bias = shift if bias is None else bias * scale + shift
        y = F.conv1d(x, self._w(weight), bias, conv.stride, conv.padding)
        return self._q(name, F.relu(y) if relu else y)

    def _shrink(self, name: str, shrink: Shrinkage, x: torch.Tensor) -> torch.Tensor:
        net = shrink.threshold
        mean_abs = self._q(f"{name}.mean", torch.mean(self._q(f"{name}.abs", torch.abs(x)), dim=2))
        scale, shift = _bn_affine(net.bn)
        w1 = net.fc1.weight * scale[:, None]
        b1 = net.fc1.bias * scale + shift
        hidden = self._q(f"{name}.fc1", F.relu(F.linear(mean_abs, self._w(w1), b1)))
        z = self._q(f"{name}.fc2", F.linear(hidden, self._w(net.fc2.weight), net.fc2.bias))
        alpha = self._q(f"{name}.logistic", torch.sigmoid(z))
        base = self._q(f"{name}.mean_c", torch.mean(mean_abs, dim=1, keepdim=True)) if net.shared else mean_abs
        tau = self._q(f"{name}.tau", alpha * base).unsqueeze(2)
        pos = self._q(f"{name}.sub_relu", F.relu(x - tau))
        neg = self._q(f"{name}.neg_relu", F.relu(self._q(f"{name}.add", x + tau) * -1.0))
        return self._q(f"{name}.out", pos - neg)

    def _shortcut(self, name: str, shortcut: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(shortcut, Shortcut) and shortcut.conv is not None:
            return self._conv(f"{name}.conv", shortcut.conv, x)
        return shortcut(x)  # subsample and zero-pad keep the input's quantisation

    def _unit(self, name: str, unit: ResidualUnit, x: torch.Tensor) -> torch.Tensor:
        out = self._conv(f"{name}.conv1", unit.conv1, self._bn_relu(f"{name}.bn1", unit.bn1, x), unit.bn2, relu=True)
        out = self._conv(f"{name}.conv2", unit.conv2, out)
        if unit.shrink is not None:
            out = self._shrink(f"{name}.shrink", unit.shrink, out)
        if unit.shortcut is not None:
            out = self._q(f"{name}.residual", out + self._shortcut(name, unit.shortcut, x))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        if x.dim() == 2:
            x = x.unsqueeze(1)
        x = self._conv("stem", m.stem, self._q("input", x))
        for s, stage in enumerate(m.stages):
            for u, unit in enumerate(stage):
                x = self._unit(f"stages.{s}.{u}", unit, x)
        x = self._bn_relu("bn", m.bn, x)
        pooled = self._q("pool", torch.mean(x, dim=2))
        return self._q("logits", F.linear(pooled, self._w(m.fc.weight), m.fc.bias))

    # -- ranges --------------------------------------------------------------
    @torch.no_grad()
    def calibrate(self, windows: np.ndarray, method: RangeMethod = RangeMethod("mse"), batch: int = 128) -> None:
        """Measure every activation on ``windows`` (float forward) and choose its int8 range."""
        quantised, self.quantised = self.quantised, False
        self._observers = {}
        try:
            for self._pass in (0, 1):
                for i in range(0, len(windows), batch):
                    self(torch.from_numpy(np.asarray(windows[i:i + batch], dtype=np.float32)))
            self.ranges = {name: choose_range(obs.stats(), method) for name, obs in self._observers.items()}
            for name in self.ranges:
                if name.endswith(".logistic"):
                    self.ranges[name] = LOGISTIC_RANGE
        finally:
            self._observers, self._pass, self.quantised = None, 0, quantised

    @contextlib.contextmanager
    def quantisation(self, on: bool = True) -> Iterator["Int8Mirror"]:
        previous, self.quantised = self.quantised, on
        try:
            yield self
        finally:
            self.quantised = previous

    @torch.no_grad()
    def logits(self, x: np.ndarray, batch: int = 256) -> np.ndarray:
        """Fake-quantised logits for preprocessed windows (N, L)."""
        self.eval()
        with self.quantisation():
            return torch.cat([self(torch.from_numpy(np.asarray(x[i:i + batch], np.float32)))
                              for i in range(0, len(x), batch)]).numpy()


@dataclass
class MirrorAgreement:
    """The converted int8 model against its fake-quantised mirror (validation.json's ``int8.vs_fakequant``)."""

    windows: int
    top1_agreement: float
    logit_rmse: float  # mirror vs int8 logits
    float_vs_int8_logit_rmse: float  # for scale: how far the float model is from the int8 one

    def checks(self, limits: Limits) -> list[Check]:
        return [Check.at_least("int8 top-1 agreement with its fake-quantised mirror", self.top1_agreement,
                               limits.fakequant_top1_agreement)]


def compare_with_mirror(model: Net1d, calibration: np.ndarray, x: np.ndarray, method: RangeMethod,
                        int8_logits: np.ndarray) -> MirrorAgreement:
    """How closely the converted int8 model follows its PyTorch fake-quantised mirror on ``x``.

    High agreement means the mirror is a faithful stand-in for the int8 model (so
    quantisation-aware fine-tuning optimises the right thing).
    """
    mirror = Int8Mirror(model)
    mirror.calibrate(calibration, method)
    fq = mirror.logits(x)
    with torch.no_grad():
        fl = model.eval()(torch.from_numpy(np.asarray(x, np.float32))).numpy()
    return MirrorAgreement(windows=int(len(x)), top1_agreement=float(np.mean(fq.argmax(1) == int8_logits.argmax(1))),
                           logit_rmse=float(np.sqrt(np.mean((fq - int8_logits) ** 2))),
                           float_vs_int8_logit_rmse=float(np.sqrt(np.mean((fl - int8_logits) ** 2))))
