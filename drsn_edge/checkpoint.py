"""Self-describing checkpoints that load without executing pickled code.

A checkpoint is a dict of tensors and plain values only (str, int, float, bool,
lists, dicts), so ``torch.load(weights_only=True)`` reads it and a malicious
``.pt`` cannot run code. It carries everything a later tool needs: the model
config, class names, preprocessing, a training summary and metrics.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from drsn_edge import __version__
from drsn_edge.defaults import CHANNEL
from drsn_edge.errors import DrsnError
from drsn_edge.models import ModelConfig, Net1d, build_model
from drsn_edge.names import check_label
from drsn_edge.preprocess import Preprocessing
from drsn_edge.train_config import TrainConfig

FORMAT = "drsn-edge-checkpoint"
FORMAT_VERSION = 1


def plain(value: object) -> object:
    """Reduce summaries to JSON types (numpy scalars, tuples, paths) so a safe load reads them."""

    def convert(obj: object) -> object:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        return str(obj)

    return json.loads(json.dumps(value, default=convert))


@dataclass(frozen=True)
class TrainingData:
    """Where a checkpoint's training windows came from: what calibration, validation and fine-tuning reload."""

    spec: str  # the data spec as resolved at training time (absolute paths)
    channel: str  # CWRU accelerometer channel


@dataclass
class Checkpoint:
    """A trained model with the facts needed to use it on raw windows."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    classes: list[str]
    preprocessing: Preprocessing
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    package_version: str = __version__

    @property
    def name(self) -> str:
        return self.training.get("name") or self.config.arch

    def training_data(self, purpose: str = "use it") -> TrainingData:
        """The ``training["data"]`` summary, typed; ``purpose`` completes the error when it is missing."""
        data = self.training.get("data")
        data = data if isinstance(data, dict) else {}
        spec = data.get("spec_resolved") or data.get("spec")
        if not isinstance(spec, str) or not spec:
            raise DrsnError(f"the checkpoint does not say what data it was trained on; cannot {purpose}")
        channel = data.get("channel", CHANNEL)
        if not isinstance(channel, str):
            raise DrsnError(f"the checkpoint's training channel is not a name: {channel!r}")
        return TrainingData(spec=spec, channel=channel)

    def train_config(self) -> TrainConfig:
        """The ``training["config"]`` the model was trained with (defaults for what it does not record)."""
        config = self.training.get("config", {})
        if not isinstance(config, dict):
            raise DrsnError("the checkpoint's training config is not a mapping")
        try:
            return TrainConfig.from_dict(config)
        except (TypeError, ValueError) as exc:
            raise DrsnError(f"the checkpoint's training config is invalid: {exc}") from None

    def build(self) -> Net1d:
        """The network with these weights, in eval mode."""
        model = build_model(self.config)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise DrsnError(f"checkpoint weights do not match its model config: {first}") from None
        return model.eval()

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": self.package_version,
            "model": self.config.to_dict(),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict.items()},
            "classes": list(self.classes),
            "preprocessing": self.preprocessing.to_dict(),
            "training": plain(self.training),
            "metrics": plain(self.metrics),
        }


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write atomically: a crash never leaves a half-written ``.pt``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=path.parent)
    os.close(fd)
    try:
        torch.save(ckpt.to_dict(), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a drsn-edge checkpoint; anything else is a one-line DrsnError."""
    path = Path(path)
    if not path.is_file():
        raise DrsnError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # foreign pickles trigger protocol warnings
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DrsnError(f"{path} is not a readable drsn-edge checkpoint (it holds pickled Python objects, "
                        "which are refused unread)") from None
    except Exception as exc:  # torch raises many types for corrupt/foreign files
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise DrsnError(f"{path} is not a readable drsn-edge checkpoint ({reason})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DrsnError(f"{path} is not a drsn-edge checkpoint")
    if data.get("format_version") != FORMAT_VERSION:
        raise DrsnError(f"{path} has checkpoint format {data.get('format_version')}, this version reads {FORMAT_VERSION}")
    try:
        ckpt = _checked(data)
        ckpt.build()  # fail now, with a clear message, if weights and config disagree
    except DrsnError as exc:
        raise DrsnError(f"{path}: {exc}") from None
    return ckpt


def _checked(data: dict) -> Checkpoint:
    """The checkpoint in ``data`` after every part from outside is checked: types, ranges, finite weights."""
    try:
        config = ModelConfig.from_dict(dict(data["model"]))
        state = dict(data["state_dict"])
        pre = Preprocessing.from_dict(dict(data["preprocessing"]))
        classes = data["classes"]
    except (KeyError, TypeError, ValueError) as exc:
        raise DrsnError(f"an incomplete drsn-edge checkpoint (missing or bad {exc})") from None
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise DrsnError("it has non-tensor weights")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise DrsnError(f"weight {key:.60} holds NaN or Inf")
    if not isinstance(classes, list) or len(classes) != len(set(map(str, classes))):
        raise DrsnError("its class names are not a list of distinct names")
    classes = [check_label(c, "a class name") for c in classes]
    if len(classes) != config.num_classes:
        raise DrsnError(f"it names {len(classes)} classes but its model has {config.num_classes} outputs")
    if pre.window_length != config.in_length:
        raise DrsnError(f"its preprocessing makes windows of {pre.window_length} samples but the model takes "
                        f"{config.in_length}")
    training, metrics = data.get("training", {}), data.get("metrics", {})
    if not isinstance(training, dict) or not isinstance(metrics, dict):
        raise DrsnError("its training summary and metrics must be mappings")
    if "name" in training:
        check_label(training["name"], "the model name")
    return Checkpoint(config=config, state_dict=state, classes=classes, preprocessing=pre, training=dict(training),
                      metrics=dict(metrics), package_version=str(data.get("package_version", "unknown"))[:40])
