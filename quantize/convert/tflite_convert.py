"""ONNX -> TensorFlow SavedModel (onnx2tf) -> TFLite float32, int8 or int16x8.

onnx2tf only builds the SavedModel; quantisation is done here with the TFLite
converter directly, so the calibration windows, per-channel/per-tensor weights
and activation width are ours to choose and nothing is calibrated on the stock
images onnx2tf would otherwise use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from drsn_edge.errors import DrsnError
from quantize.quiet import quiet_native
from quantize.convert.ranges import RangeMethod, intercept_calibration, rewrite_ranges

MODES = ("float32", "int8", "int16x8")


def onnx_to_saved_model(onnx_path: str | Path, out_dir: str | Path) -> Path:
    """Run onnx2tf to a SavedModel with a serving signature (inputs become NWC)."""
    out_dir = Path(out_dir)
    with quiet_native():
        import onnx2tf

        onnx2tf.convert(
            input_onnx_file_path=str(onnx_path),
            output_folder_path=str(out_dir),
            not_use_onnxsim=True,
            output_signaturedefs=True,
            non_verbose=True,
            verbosity="error",
        )
    if not (out_dir / "saved_model.pb").exists():
        raise DrsnError("onnx2tf did not produce a SavedModel")
    return out_dir


def convert_saved_model(
    saved_model: str | Path,
    mode: str,
    calibration: np.ndarray | None = None,
    per_tensor: bool = False,
    ranges: RangeMethod = RangeMethod(),
) -> bytes:
    """SavedModel -> .tflite bytes. ``calibration`` is (N, L) preprocessed windows for int modes;
    ``ranges`` chooses the activation ranges from them (min/max is the converter's own)."""
    if mode not in MODES:
        raise DrsnError(f"unknown conversion mode '{mode}' (choose from {', '.join(MODES)})")
    with quiet_native():
        import tensorflow as tf
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["serving_default"])
    if mode != "float32":
        if calibration is None or len(calibration) == 0:
            raise DrsnError("integer quantisation needs calibration windows")
        samples = np.asarray(calibration, dtype=np.float32)[:, :, None]

        def representative() -> Iterator[list[np.ndarray]]:
            for row in samples:
                yield [row[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        if mode == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
            converter.inference_input_type = tf.int16
            converter.inference_output_type = tf.int16
        if per_tensor:
            converter._experimental_disable_per_channel = True
    if mode == "float32" or ranges.name == "minmax":
        with quiet_native():
            return bytes(converter.convert())
    windows = np.asarray(calibration, dtype=np.float32)
    levels = 256 if mode == "int8" else 65536

    def choose(calibrated: bytes) -> bytes:
        return rewrite_ranges(calibrated, windows, ranges, levels)[0]

    with quiet_native(), intercept_calibration(choose):
        return bytes(converter.convert())
