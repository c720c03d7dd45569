"""One interface for every runtime: raw windows in, logits out.

Evaluation, validation and reports loop over :class:`Predictor` objects, so a
new runtime (ONNX Runtime, LiteRT, TFLite Micro, the C engine, a device) only
has to implement :meth:`Predictor.logits`; preprocessing is applied here, the
same way for all of them.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from drsn_edge.checkpoint import Checkpoint, load_checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing


class Predictor(ABC):
    """A model in some runtime, with its class names and preprocessing."""

    name: str
    classes: list[str]
    preprocessing: Preprocessing

    @abstractmethod
    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        """Network input (N, L) float32 -> logits (N, classes) float."""

    def logits(self, raw: np.ndarray) -> np.ndarray:
        """Raw sensor windows (N, L) -> logits (N, classes)."""
        return self.logits_preprocessed(self.preprocessing.apply(raw))

    def predict(self, raw: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(raw), axis=1)


class TorchPredictor(Predictor):
    """The float reference: the PyTorch model from a checkpoint."""

    def __init__(self, ckpt: Checkpoint, batch_size: int = 512) -> None:
        self.ckpt = ckpt
        self.model = ckpt.build()
        self.name = "pytorch-float"
        self.classes = list(ckpt.classes)
        self.preprocessing = ckpt.preprocessing
        self.batch_size = batch_size

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(x), self.batch_size):
                out.append(self.model(torch.from_numpy(x[start:start + self.batch_size])).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)


def _converted(kind: str) -> Callable[[Path], Predictor]:
    """Loaders for converted models live in ``quantize``; import it only when needed."""

    def load(path: Path) -> Predictor:
        from quantize import runtimes

        return getattr(runtimes, f"load_{kind}")(path)

    return load


# file suffix -> loader
PREDICTOR_LOADERS: dict[str, Callable[[Path], Predictor]] = {
    ".pt": lambda path: TorchPredictor(load_checkpoint(path)),
    ".onnx": _converted("onnx"),
    ".tflite": _converted("tflite"),
}


def load_predictor(path: str | Path) -> Predictor:
    """Open any supported model file (or a build directory's int8 model) as a predictor, by suffix."""
    path = Path(path)
    if not path.exists():
        raise DrsnError(f"model not found: {path}")
    if path.is_dir() and (path / "fw.json").is_file():  # an exported C engine, built and run on the host
        from firmware_export.c_engine.runner import CEnginePredictor

        return CEnginePredictor(path)
    if path.is_dir():  # a build directory stands for its int8 model, the one that ships
        from quantize.sidecar import load_build_info

        path = path / load_build_info(path).files.get("int8", "model_int8.tflite")
    loader = PREDICTOR_LOADERS.get(path.suffix.lower())
    if loader is None:
        raise DrsnError(f"don't know how to run '{path.name}' (supported: {', '.join(sorted(PREDICTOR_LOADERS))})")
    return loader(path)
