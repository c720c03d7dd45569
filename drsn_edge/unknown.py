""""unknown": the windows a model should not answer, because they are unlike what it was trained on.

The score is the margin between the two largest logits, counted in least
significant bits of the int8 output (top-1 minus top-2 quantised logit; the
zero point cancels). It needs nothing but the logits, so every runtime computes
it the same way: the int8 ones (LiteRT, TFLite Micro, the C engine's
``drsn_unknown_score``, the Pi runner) exactly, in integers; float ones on
their logits quantised with the int8 output's scale. Of the logit scores
measured on CWRU (max logit, energy, softmax probability, margin) the margin
separated wrong from right answers at an unseen load best (benchmarks/RESULTS.md).

``convert`` calibrates the threshold on training-condition windows (the
validation split, clean and with the training noise mix): the largest margin
below which at most ``rate`` of them fall. A window whose margin is below the
threshold is "unknown"; threshold 0 answers every window.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from drsn_edge.errors import DrsnError

SCORE = "margin"  # top-1 minus top-2 int8 logit
DEFAULT_RATE = 0.05  # share of training-condition validation windows (clean + noisy) the threshold flags
MAX_THRESHOLD = 255  # an int8 margin is 0 ... 255
COVERAGES = (1.0, 0.95, 0.9, 0.8, 0.7, 0.5)  # points of the risk-coverage table


def margin(q: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 of each row of integer logits (N, C) as int32: the Python reference of the C engine's
    ``drsn_unknown_score``."""
    top = np.sort(np.asarray(q).astype(np.int32), axis=1)
    return top[:, -1] - top[:, -2]


def quantised(logits: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float logits -> the int8 values they stand for (exact for dequantised int8 logits)."""
    return np.clip(np.round(np.asarray(logits, np.float64) / scale) + zero_point, -128, 127).astype(np.int8)


@dataclass(frozen=True)
class UnknownRule:
    """The calibrated threshold and what it is counted in (``model.json``'s ``unknown``)."""

    threshold: int  # margins below it are unknown
    scale: float  # the int8 output's scale: logits per LSB
    zero_point: int
    rate: float  # share of the calibration windows flagged
    windows: int  # calibration windows
    score: str = SCORE

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """Each window's margin in int8 LSBs, from (dequantised or float) logits."""
        return margin(quantised(logits, self.scale, self.zero_point))

    def flags(self, logits: np.ndarray) -> np.ndarray:
        return self.scores(logits) < self.threshold

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> "UnknownRule":
        """Validated: an integer threshold 0-255, a finite positive scale, an int8 zero point, a rate in [0, 1]."""
        if not isinstance(data, dict):
            raise DrsnError("unknown must be a mapping")
        if data.get("score", SCORE) != SCORE:
            raise DrsnError(f"unknown score must be '{SCORE}', got {str(data.get('score'))!r:.40}")
        threshold, scale, zero, rate, windows = (data.get(k) for k in ("threshold", "scale", "zero_point", "rate",
                                                                        "windows"))
        if not _integer(threshold, 0, MAX_THRESHOLD):
            raise DrsnError(f"unknown threshold must be an integer 0-{MAX_THRESHOLD}, got {threshold!r:.40}")
        if not _real(scale) or not 0 < scale <= 1e30:
            raise DrsnError(f"unknown scale must be a finite positive number, got {scale!r:.40}")
        if not _integer(zero, -128, 127):
            raise DrsnError(f"unknown zero point must be an int8 integer, got {zero!r:.40}")
        if not _real(rate) or not 0 <= rate <= 1:
            raise DrsnError(f"unknown rate must be a number from 0 to 1, got {rate!r:.40}")
        if not _integer(windows, 1, 1 << 40):
            raise DrsnError(f"unknown windows must be a positive integer, got {windows!r:.40}")
        return cls(threshold=threshold, scale=float(scale), zero_point=zero, rate=float(rate), windows=windows)


def _integer(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def calibrate(q_logits: np.ndarray, rate: float, scale: float, zero_point: int) -> UnknownRule:
    """The largest threshold that flags at most ``rate`` of these int8 logits' windows."""
    if not 0 <= rate <= 1:
        raise DrsnError(f"the unknown rate must be from 0 to 1, got {rate:g}")
    scores = margin(q_logits)
    if len(scores) == 0:
        raise DrsnError("no windows to calibrate the unknown threshold on")
    flagged = np.array([np.mean(scores < t) for t in range(MAX_THRESHOLD + 1)])
    threshold = int(np.flatnonzero(flagged <= rate)[-1])
    return UnknownRule(threshold=threshold, scale=float(scale), zero_point=int(zero_point),
                       rate=float(flagged[threshold]), windows=int(len(scores)))


def risk_coverage(scores: np.ndarray, correct: np.ndarray, coverages: tuple[float, ...] = COVERAGES) -> list[dict]:
    """Accuracy of the answered windows when only the ``coverage`` share with the highest scores is answered."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    right = np.asarray(correct, bool)[order]
    rows = []
    for c in coverages:
        k = max(1, int(math.ceil(c * len(right)))) if len(right) else 0
        rows.append({"coverage": float(c), "windows": k, "accuracy": float(right[:k].mean()) if k else float("nan")})
    return rows


def flagged_summary(flags: np.ndarray, correct: np.ndarray) -> dict:
    """How the flags fall: share of all windows, of the right and of the wrong answers; accuracy of the rest."""
    flags, correct = np.asarray(flags, bool), np.asarray(correct, bool)

    def share(mask: np.ndarray) -> float | None:
        return float(flags[mask].mean()) if mask.any() else None

    answered = ~flags
    return {"flagged": share(np.ones_like(flags)), "flagged_right": share(correct), "flagged_wrong": share(~correct),
            "wrong": int((~correct).sum()), "coverage": float(answered.mean()) if len(flags) else float("nan"),
            "answered_accuracy": float(correct[answered].mean()) if answered.any() else None}


def unknown_result(rule: UnknownRule | None, logits: np.ndarray, correct: np.ndarray) -> dict:
    """``evaluate``'s ``unknown`` block: risk-coverage on the margin, and how the calibrated threshold flags."""
    scores = rule.scores(logits) if rule else margin_float(logits)
    out: dict = {"score": SCORE, "units": "int8 LSB" if rule else "logit",
                 "risk_coverage": risk_coverage(scores, correct)}
    if rule is not None:
        out["threshold"] = rule.threshold
        out.update(flagged_summary(scores < rule.threshold, correct))
    return out


def margin_float(logits: np.ndarray) -> np.ndarray:
    """The margin in logits, for a model without an int8 build (a checkpoint: no calibrated threshold)."""
    top = np.sort(np.asarray(logits, np.float64), axis=1)
    return top[:, -1] - top[:, -2]


def unknown_text(block: dict) -> str:
    """:func:`unknown_result` for people: the calibrated threshold's effect, then the risk-coverage table."""
    lines = []
    if "threshold" in block:
        pct = {k: "-" if block[k] is None else f"{100 * block[k]:.1f} %" for k in ("flagged", "flagged_right",
                                                                                  "flagged_wrong")}
        answered = block["answered_accuracy"]
        lines.append(f"unknown (margin < {block['threshold']} LSB): {pct['flagged']} of windows flagged, "
                     f"{pct['flagged_right']} of the right answers and {pct['flagged_wrong']} of the "
                     f"{block['wrong']} wrong ones; accuracy of the answered "
                     f"{'-' if answered is None else f'{answered:.4f}'}")
    else:
        lines.append("unknown: no calibrated threshold (convert the model to get one); risk-coverage on the margin")
    lines.append("coverage " + "".join(f"{r['coverage']:>8.2f}" for r in block["risk_coverage"]))
    lines.append("accuracy " + "".join(f"{r['accuracy']:>8.4f}" for r in block["risk_coverage"]))
    return "\n".join(lines)
