"""ONNX -> TensorFlow SavedModel (onnx2tf) -> TFLite float32, int8 or int16x8.

onnx2tf only builds the SavedModel; quantisation is done here with the TFLite
converter directly, so the calibration windows, per-channel/per-tensor weights
and activation width are ours to choose and nothing is calibrated on the stock
images onnx2tf would otherwise use.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from drsn_edge.errors import DrsnError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

MODES = ("float32", "int8", "int16x8")


@contextlib.contextmanager
def quiet_native() -> Iterator[None]:
    """Silence Python and C++ chatter (onnx2tf, TensorFlow, MLIR) at the file-descriptor level.

    On failure the tail of what was printed goes into the one-line error.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    previous = logging.root.manager.disable
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        logging.disable(logging.WARNING)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        except DrsnError:
            raise
        except Exception as exc:
            sink.seek(0)
            printed = sink.read().decode(errors="replace").splitlines()
            tail = " | ".join(line.strip() for line in printed[-3:] if line.strip())
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DrsnError(f"TensorFlow conversion failed: {message}" + (f" ({tail[:200]})" if tail else "")) from None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            logging.disable(previous)


def onnx_to_saved_model(onnx_path: str | Path, out_dir: str | Path) -> Path:
    """Run onnx2tf to a SavedModel with a serving signature (inputs become NWC)."""
    import onnx2tf

    out_dir = Path(out_dir)
    with quiet_native():
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
) -> bytes:
    """SavedModel -> .tflite bytes. ``calibration`` is (N, L) preprocessed windows for int modes."""
    import tensorflow as tf

    if mode not in MODES:
        raise DrsnError(f"unknown conversion mode '{mode}' (choose from {', '.join(MODES)})")
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
    with quiet_native():
        return bytes(converter.convert())
