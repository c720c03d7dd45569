"""The build directory's ``model.json``: everything a runtime needs besides the weights.

Every tool after ``convert`` (evaluate, report, export, the device runners)
reads this file, so a build directory is usable on its own, without the
checkpoint or the training data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing

SIDECAR_NAME = "model.json"
FORMAT = "drsn-edge-build"


@dataclass
class BuildInfo:
    """Model facts shared by all files of one build."""

    name: str
    classes: list[str]
    preprocessing: Preprocessing
    files: dict[str, str] = field(default_factory=dict)  # role -> file name
    quantization: dict[str, dict] = field(default_factory=dict)  # file name -> {input, output}
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "name": self.name, "classes": self.classes,
                "window_length": self.preprocessing.window_length, "sample_rate": self.preprocessing.sample_rate,
                "preprocessing": self.preprocessing.to_dict(), "files": self.files,
                "quantization": self.quantization, **self.extra}

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / SIDECAR_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def load_build_info(directory: str | Path) -> BuildInfo:
    """Read ``model.json`` from a build directory, with a clear error if it is not one."""
    path = Path(directory) / SIDECAR_NAME
    if not path.is_file():
        raise DrsnError(f"{directory} is not a drsn-edge build directory (no {SIDECAR_NAME})")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DrsnError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DrsnError(f"{path} is not a drsn-edge build description")
    known = {"format", "name", "classes", "window_length", "sample_rate", "preprocessing", "files", "quantization"}
    try:
        return BuildInfo(
            name=str(data["name"]), classes=[str(c) for c in data["classes"]],
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            files=dict(data.get("files", {})), quantization=dict(data.get("quantization", {})),
            extra={k: v for k, v in data.items() if k not in known},
        )
    except (KeyError, TypeError) as exc:
        raise DrsnError(f"{path} lacks {exc}") from None
