"""The steps of ``convert`` that judge the int8 model: against the float model per shrinkage unit and end to
end, against its fake-quantised PyTorch mirror, and in TensorFlow Lite Micro against LiteRT's reference kernels.

Like :mod:`quantize.convert.steps`, each returns a typed result that declares its checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.models.network import Net1d
from quantize.convert.calibration import WindowSets
from quantize.convert.fakequant import MirrorAgreement, compare_with_mirror
from quantize.convert.ranges import RangeMethod
from quantize.convert.steps import INT8_FILE, PROBED_INT8, Staging
from quantize.runtimes.base import dequantize
from quantize.runtimes.litert import LiteRTPredictor
from quantize.validate.checks import Check, Limits
from quantize.validate.units import EndToEnd, UnitMetrics, save_tau_samples, validate_probed

PROBES_FILE = "probes.npz"  # sampled float vs int8 thresholds per shrinkage unit, for the report
DIVERGENCE_WINDOWS = 32  # windows searched for the first op where TFLM and LiteRT part


@dataclass
class Int8Validation:
    """The int8 model against the float model (per shrinkage unit, end to end) and its fake-quantised mirror."""

    units: dict[str, UnitMetrics]
    end_to_end: EndToEnd
    vs_fakequant: MirrorAgreement

    def checks(self, limits: Limits) -> list[Check]:
        unit_checks = [c for unit, m in self.units.items() for c in m.checks(unit, limits)]
        return self.end_to_end.checks(limits) + self.vs_fakequant.checks(limits) + unit_checks


def validate_int8(ckpt: Checkpoint, model: Net1d, build: Staging, sets: WindowSets, ranges: RangeMethod,
                  seed: int) -> tuple[Int8Validation, np.ndarray]:
    """Validate the int8 model on the validation windows and keep a sample of its thresholds (``probes.npz``);
    returns the result and the deployable model's raw int8 logits (the reference for TFLM)."""
    deploy = LiteRTPredictor(build.root / INT8_FILE, build.info)
    deploy_int = deploy.raw_outputs(sets.validation)[0]
    probed = validate_probed(ckpt, build.work / PROBED_INT8, build.info, sets.validation, sets.validation_labels,
                             deploy_int)
    save_tau_samples(build.root / PROBES_FILE, probed.tau_pairs, seed=seed)
    mirror = compare_with_mirror(model, sets.calibration, sets.validation, ranges,
                                 dequantize(deploy_int, deploy.outputs[0]["quantization"]))
    return Int8Validation(units=probed.units, end_to_end=probed.end_to_end, vs_fakequant=mirror), deploy_int


@dataclass
class TflmArena:
    """:func:`quantize.runtimes.tflm.probe_arena`'s answer."""

    min_bytes: int
    recommended_bytes: int
    verified: bool
    reported_by_runtime: int | None
    probes: int


@dataclass
class IntAgreement:
    """:func:`quantize.runtimes.tflm.compare_int_outputs`' answer: bit-level agreement of two runtimes."""

    windows: int
    identical_windows: int
    max_lsb: int
    top1_agreement: float | None


@dataclass
class Divergence:
    """:func:`quantize.validate.divergence.first_divergence`'s answer: the first op where TFLM and LiteRT part."""

    op_index: int
    op: str
    tensor: str
    max_lsb: float
    windows_affected: int
    windows: int
    windows_diverging: int
    explanation: str


@dataclass
class TflmCheck:
    """The int8 model in TensorFlow Lite Micro: its arena, and its outputs against LiteRT's reference kernels."""

    arena: TflmArena
    vs_litert_reference: IntAgreement
    first_divergence: Divergence | None  # None: the two agree on every tensor of every window searched

    def checks(self, limits: Limits) -> list[Check]:
        agreement = self.vs_litert_reference.top1_agreement
        if agreement is None:  # no windows compared
            return []
        return [Check.at_least("tflm vs litert-reference top-1 agreement", agreement, limits.tflm_top1_agreement)]


def run_tflm(build: Staging, x: np.ndarray, litert_int8: np.ndarray) -> TflmCheck:
    """Size the TFLM arena, run the int8 model on ``x`` in TFLM and compare with LiteRT's ``litert_int8``;
    records the arena in ``model.json`` for the runtimes that load this build."""
    from quantize.runtimes.tflm import TFLMPredictor, compare_int_outputs, probe_arena
    from quantize.validate.divergence import first_divergence

    path: Path = build.root / INT8_FILE
    arena = TflmArena(**probe_arena(path, x[:1]))
    tflm_int = TFLMPredictor(path, build.info, arena_size=arena.recommended_bytes).raw_outputs(x)
    agreement = IntAgreement(**compare_int_outputs(tflm_int, litert_int8))
    divergence = first_divergence(path, x[:DIVERGENCE_WINDOWS])
    build.info.extra["tflm_arena_bytes"] = arena.recommended_bytes
    return TflmCheck(arena=arena, vs_litert_reference=agreement,
                     first_divergence=Divergence(**divergence) if divergence is not None else None)
