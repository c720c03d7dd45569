"""Pass/fail limits of a converted build and the check rows validation.json lists, one per measured value.

Each result type of ``convert`` declares its own checks against these limits
(beside the value it measures); ``convert --strict`` fails when any row fails.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Limits:
    """Pass/fail limits. Defaults: what a usable int8 DRSN reaches; silence-calibrated models miss them."""

    onnx_max_abs: float = 1e-4  # ONNX Runtime vs PyTorch logits
    tflite_float_max_abs: float = 1e-4  # LiteRT float32 vs ONNX logits
    int8_top1_agreement: float = 0.95  # int8 vs float argmax, validation windows
    int8_accuracy_drop: float = 0.03  # float accuracy minus int8 accuracy (fraction)
    unit_sqnr_db: float = 10.0  # every shrinkage unit's output
    dead_zone_agreement: float = 0.80  # share of float-zeroed positions int8 also zeroes (and reverse)
    tau_median_rel_error: float = 0.15  # median relative threshold error per unit
    fakequant_top1_agreement: float = 0.97  # int8 vs its PyTorch fake-quantised mirror (quantize.convert.fakequant)
    tflm_top1_agreement: float = 0.99  # TFLM vs LiteRT reference kernels (FC rounding differs, see tflm.py)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Check:
    """One row of validation.json's ``checks``: a measured value, its limit and the verdict."""

    check: str
    value: float
    limit: float
    passed: bool

    @classmethod
    def at_least(cls, name: str, value: float, limit: float) -> Check:
        return cls(name, value, limit, bool(value >= limit))

    @classmethod
    def at_most(cls, name: str, value: float, limit: float) -> Check:
        return cls(name, value, limit, bool(value <= limit))
