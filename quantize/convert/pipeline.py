"""``drsn-edge convert``: one checkpoint in, one complete build directory out.

The steps (``quantize.convert.steps`` for the model files, ``quantize.convert.verify``
for judging the int8 model) run in order under one progress bar; their typed
results make ``validation.json`` (``quantize.convert.results``). The directory is
written atomically (``drsn_edge.outdir``): a failure part-way leaves nothing
behind and an existing build is never half overwritten.
"""
from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from drsn_edge import __version__
from drsn_edge.buildinfo import BuildInfo
from drsn_edge.checkpoint import Checkpoint, load_checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.models import count_macs, count_parameters
from drsn_edge.models.network import Net1d
from drsn_edge.names import safe_file_name
from drsn_edge.outdir import atomic_output_dir, check_writable
from drsn_edge.predictor import TorchPredictor
from drsn_edge.unknown import DEFAULT_RATE, calibrate
from quantize.convert.calibration import WindowSets, window_sets
from quantize.convert.ranges import RangeMethod
from quantize.convert.results import ConvertResults, summary_text
from quantize.convert.steps import (INT8_FILE, PROBED_ONNX, Int16x8Check, Staging, export_onnx, float_tflite,
                                   int8_tflite, int16x8_tflite)
from quantize.convert.tflite_convert import onnx_to_saved_model
from quantize.convert.verify import TflmCheck, run_tflm, validate_int8
from quantize.validate.checks import Limits

__all__ = ["ConvertOptions", "convert", "summary_text"]

ONNX_CHECK_WINDOWS = 64  # validation windows on which ONNX and TFLite float32 are compared with PyTorch


@dataclass
class ConvertOptions:
    out: Path | None = None
    calib_spec: str | None = None
    calib_size: int = 256
    ranges: RangeMethod = field(default_factory=lambda: RangeMethod("mse"))
    val_size: int = 300
    seed: int = 0
    per_tensor: bool = False
    int16_activations: bool = False
    force: bool = False
    tflm: bool = True
    unknown_rate: float = DEFAULT_RATE  # share of the validation windows the "unknown" threshold flags
    limits: Limits = field(default_factory=Limits)
    progress: bool = True


def convert(checkpoint: str | Path, opts: ConvertOptions) -> tuple[Path, ConvertResults]:
    """Export, convert, quantise and validate; returns the build directory and what was measured."""
    start = time.time()
    if not 0 <= opts.unknown_rate <= 1:  # before any slow work
        raise DrsnError(f"--unknown-rate must be from 0 to 1, got {opts.unknown_rate:g}")
    ckpt = load_checkpoint(checkpoint)
    out = Path(opts.out) if opts.out else Path("build") / safe_file_name(ckpt.name)
    check_writable(out, opts.force)
    sets = window_sets(ckpt, opts.calib_spec, opts.calib_size, opts.val_size, opts.seed)
    model = ckpt.build()

    with atomic_output_dir(out, opts.force) as tmp:
        results = _convert_into(tmp, ckpt, checkpoint, model, sets, opts, start)
    return out, results


class _Progress:
    """One tqdm bar over the steps: the running step's name beside it, one tick when it is done."""

    def __init__(self, steps: int, enabled: bool) -> None:
        self.bar = tqdm(total=steps, desc="convert", unit="step", disable=not enabled)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.bar.set_postfix_str(name)
        yield
        self.bar.update()


def _convert_into(tmp: Path, ckpt: Checkpoint, checkpoint: str | Path, model: Net1d, sets: WindowSets,
                  opts: ConvertOptions, start: float) -> ConvertResults:
    build = Staging(tmp, BuildInfo(name=ckpt.name, classes=ckpt.classes, preprocessing=ckpt.preprocessing,
                                   extra={"arch": ckpt.config.arch, "model_config": ckpt.config.to_dict(),
                                          "parameters": count_parameters(model), "macs": count_macs(model),
                                          "checkpoint_metrics": ckpt.metrics}))
    build.work.mkdir(parents=True)
    progress = _Progress(5 + opts.int16_activations + opts.tflm, opts.progress)  # the steps below
    int16x8: Int16x8Check | None = None
    tflm: TflmCheck | None = None
    with contextlib.closing(progress.bar):
        with progress.step("export ONNX"):
            check_x = sets.validation[:ONNX_CHECK_WINDOWS]
            float_logits = TorchPredictor(ckpt).logits_preprocessed(sets.validation)
            onnx_check, onnx_logits = export_onnx(model, build, check_x, float_logits[:ONNX_CHECK_WINDOWS])
        with progress.step("onnx2tf"):
            saved = onnx_to_saved_model(build.work / PROBED_ONNX, build.work / "saved_model")
        with progress.step("TFLite float32"):
            float_check = float_tflite(ckpt, saved, build, check_x, onnx_logits)
        with progress.step("TFLite int8"):
            graph = int8_tflite(saved, build, sets.calibration, opts.per_tensor, opts.ranges)
        if opts.int16_activations:
            with progress.step("TFLite int16x8"):
                int16x8 = int16x8_tflite(saved, build, sets.calibration, opts.per_tensor, opts.ranges,
                                         sets.validation, sets.validation_labels, float_logits)
        with progress.step("validate int8"):
            int8, litert_int8 = validate_int8(ckpt, model, build, sets, opts.ranges, opts.seed)
            out_q = build.info.quantization[INT8_FILE]["output"]
            build.info.unknown = calibrate(litert_int8, opts.unknown_rate, out_q["scale"], out_q["zero_point"])
        if opts.tflm:
            with progress.step("TensorFlow Lite Micro"):
                tflm = run_tflm(build, sets.validation, litert_int8)

        results = ConvertResults(
            model=ckpt.name, checkpoint=str(Path(checkpoint).resolve()), package_version=__version__,
            calibration=sets.summary, ranges=str(opts.ranges), onnx=onnx_check, tflite_float32=float_check,
            int8_graph=graph, int16x8=int16x8, int8=int8, tflm=tflm, limits=opts.limits,
            seconds=round(time.time() - start, 1))
        shutil.rmtree(build.work)
        build.info.save(tmp)
        results.save(tmp)
    return results
