"""The record of one ``convert`` run: every step's typed result, the checks they declare, ``validation.json``
and the summary printed after the run.

validation.json is read by the report (``quantize.report``), tests and benchmarks;
its keys, nesting and order are those of the result types below (field order),
checked against a golden layout by tests/test_convert.py.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from quantize.convert.calibration import WindowsSummary
from quantize.convert.steps import FloatCheck, Int8Graph, Int16x8Check, OnnxCheck
from quantize.convert.verify import Int8Validation, TflmCheck
from quantize.validate.checks import Check, Limits

VALIDATION_FILE = "validation.json"


class StepResult(Protocol):
    """What every step returns: a dataclass (its validation.json entry) that declares its checks."""

    def checks(self, limits: Limits) -> list[Check]: ...


@dataclass
class ConvertResults:
    """Everything ``convert`` measured, step by step in the order they ran (and validation.json lists them)."""

    model: str
    checkpoint: str  # resolved path
    package_version: str
    calibration: WindowsSummary
    ranges: str  # activation-range method; validation.json keeps it under "calibration"
    onnx: OnnxCheck
    tflite_float32: FloatCheck
    int8_graph: Int8Graph
    int16x8: Int16x8Check | None  # only with --int16-activations
    int8: Int8Validation
    tflm: TflmCheck | None  # None with --no-tflm
    limits: Limits
    seconds: float

    def steps(self) -> list[tuple[str, StepResult]]:
        """(validation.json key, result) of every step that ran, in order."""
        steps: list[tuple[str, StepResult | None]] = [
            ("onnx", self.onnx), ("tflite_float32", self.tflite_float32), ("int8_graph", self.int8_graph),
            ("int16x8", self.int16x8), ("int8", self.int8), ("tflm", self.tflm)]
        return [(name, step) for name, step in steps if step is not None]

    @property
    def checks(self) -> list[Check]:
        """Every check row, step by step."""
        return [c for _, step in self.steps() for c in step.checks(self.limits)]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        """validation.json's content."""
        record: dict = {"model": self.model, "checkpoint": self.checkpoint, "package_version": self.package_version,
                        "calibration": {**asdict(self.calibration), "ranges": self.ranges}}
        record.update((name, asdict(step)) for name, step in self.steps())
        checks = self.checks
        record.update(limits=self.limits.to_dict(), checks=[asdict(c) for c in checks],
                      passed=all(c.passed for c in checks), seconds=self.seconds)
        return record

    def save(self, directory: Path) -> Path:
        path = Path(directory) / VALIDATION_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2, default=float) + "\n")
        return path


def summary_text(out: Path, results: ConvertResults) -> str:
    """What a person wants to read after ``convert``: files, agreement, per-unit health, verdict."""
    e2e = results.int8.end_to_end
    graph = results.int8_graph
    lines = [f"build {out}  ({results.seconds} s)",
             f"  ONNX vs PyTorch      max |diff| {results.onnx.max_abs_diff:.2e}",
             f"  TFLite f32 vs ONNX   max |diff| {results.tflite_float32.max_abs_diff:.2e}",
             f"  int8 graph           {sum(graph.ops.values())} ops, {graph.bytes} bytes, all-integer",
             f"  validation windows   {e2e.windows} (clean + training noise mix)",
             f"  accuracy             float {e2e.float_accuracy:.4f}   int8 {e2e.int8_accuracy:.4f}   "
             f"top-1 agreement {e2e.top1_agreement:.4f}",
             f"  activation ranges    {results.ranges} on {results.calibration.calibration_windows} windows"]
    mirror = results.int8.vs_fakequant
    lines.append(f"  fake-quant mirror    top-1 agreement with int8 {mirror.top1_agreement:.4f}, "
                 f"logit RMSE {mirror.logit_rmse:.3f} (float vs int8 {mirror.float_vs_int8_logit_rmse:.3f})")
    lines += ["", f"  {'shrinkage unit':<22}{'tau err (median)':>17}{'zeros kept':>12}{'SQNR dB':>9}"]
    for unit, m in results.int8.units.items():
        lines.append(f"  {unit:<22}{m.tau_rel_error.median:>17.4f}{m.dead_zone.float_zeros_kept:>12.4f}"
                     f"{m.sqnr_db:>9.1f}")
    if results.tflm is not None:
        t = results.tflm
        v = t.vs_litert_reference
        lines += ["", f"  TFLite Micro         arena {t.arena.recommended_bytes} bytes; vs LiteRT reference: "
                      f"{v.identical_windows}/{v.windows} identical, max {v.max_lsb} LSB, "
                      f"top-1 agreement {v.top1_agreement:.4f}"]
        if t.first_divergence is not None:
            d = t.first_divergence
            lines.append(f"  first divergence     op {d.op_index} {d.op}: {d.explanation}")
    checks = results.checks
    failed = [c for c in checks if not c.passed]
    lines += ["", "  all checks passed" if not failed else f"  {len(failed)} of {len(checks)} checks failed:"]
    for c in failed[:10]:
        lines.append(f"    {c.check}: {c.value:.4g} (limit {c.limit:.4g})")
    return "\n".join(lines)
