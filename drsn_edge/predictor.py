"""One interface for every runtime: raw windows in, logits out.

Evaluation, validation and reports loop over :class:`Predictor` objects, so a
new runtime (ONNX Runtime, LiteRT, TFLite Micro, the C engine, a device) only
has to implement :meth:`Predictor.logits_preprocessed`; preprocessing is
applied here, the same way for all of them. Runtimes make themselves known
to :mod:`drsn_edge.registry`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing
from drsn_edge.unknown import UnknownRule


class Predictor(ABC):
    """A model in some runtime, with its class names and preprocessing."""

    name: str
    classes: list[str]
    preprocessing: Preprocessing
    unknown: UnknownRule | None = None  # the build's calibrated "unknown" threshold, if it has one

    @abstractmethod
    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        """Network input (N, L) float32 -> logits (N, classes) float."""

    def logits(self, raw: np.ndarray) -> np.ndarray:
        """Raw sensor windows (N, L) -> logits (N, classes)."""
        return self.logits_preprocessed(self.preprocessing.apply(raw))

    def checked_logits(self, raw: np.ndarray) -> np.ndarray:
        """Logits; NaN or Inf logits (e.g. NaN weights) are an error, never a class and an accuracy."""
        logits = np.asarray(self.logits(raw))
        if not np.isfinite(logits).all():
            raise DrsnError(f"{self.name} gave NaN or Inf logits; the model is broken")
        return logits

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Class indices."""
        return np.argmax(self.checked_logits(raw), axis=1)


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
