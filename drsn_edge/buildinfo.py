"""The build directory's ``model.json``: everything a runtime needs besides the weights.

Every tool after ``convert`` (evaluate, report, export, the device runners)
reads this file, so a build directory is usable on its own, without the
checkpoint or the training data.
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from drsn_edge.errors import DrsnError
from drsn_edge.names import check_file_name, check_label
from drsn_edge.preprocess import Preprocessing
from drsn_edge.unknown import UnknownRule

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
    unknown: UnknownRule | None = None  # the calibrated "unknown" threshold (drsn_edge.unknown), set by convert

    def to_dict(self) -> dict:
        unknown = {"unknown": self.unknown.to_dict()} if self.unknown else {}
        return {"format": FORMAT, "name": self.name, "classes": self.classes,
                "window_length": self.preprocessing.window_length, "sample_rate": self.preprocessing.sample_rate,
                "preprocessing": self.preprocessing.to_dict(), "files": self.files,
                "quantization": self.quantization, **unknown, **self.extra}

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / SIDECAR_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def read_descriptor(path: Path, fmt: str, missing: str, wrong: str) -> dict:
    """A tool's JSON descriptor (``model.json``, ``fw.json``): there, parseable, a mapping of format ``fmt``;
    ``missing`` and ``wrong`` are the errors for a file that is absent or of another kind."""
    if not path.is_file():
        raise DrsnError(missing)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DrsnError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise DrsnError(wrong)
    return data


def load_build_info(directory: str | Path) -> BuildInfo:
    """Read ``model.json`` from a build directory, with a clear error if it is not one."""
    path = Path(directory) / SIDECAR_NAME
    data = read_descriptor(path, FORMAT, f"{directory} is not a drsn-edge build directory (no {SIDECAR_NAME})",
                           f"{path} is not a drsn-edge build description")
    known = {"format", "name", "classes", "window_length", "sample_rate", "preprocessing", "files", "quantization",
             "unknown"}
    try:
        return BuildInfo(
            name=check_label(data["name"], "the model name"), classes=check_classes(data["classes"]),
            preprocessing=Preprocessing.from_dict(data["preprocessing"]),
            files=_files(data.get("files", {})), quantization=_quantization(data.get("quantization", {})),
            extra={k: v for k, v in data.items() if k not in known},
            unknown=UnknownRule.from_dict(data["unknown"]) if "unknown" in data else None,
        )
    except KeyError as exc:
        raise DrsnError(f"{path} lacks {exc}") from None
    except DrsnError as exc:
        raise DrsnError(f"{path}: {exc}") from None


def check_classes(classes: object) -> list[str]:
    """2-1000 distinct printable names."""
    if not isinstance(classes, list) or not 2 <= len(classes) <= 1000:
        raise DrsnError("classes must be a list of 2-1000 names")
    names = [check_label(c, "a class name") for c in classes]
    if len(set(names)) != len(names):
        raise DrsnError("class names repeat")
    return names


def _files(files: object) -> dict[str, str]:
    """Role -> file name; each a plain name inside the build directory (no path, no ``..``)."""
    if not isinstance(files, dict):
        raise DrsnError("files must be a mapping")
    return {check_label(role, "a file role"): check_file_name(name, f"file '{role}'") for role, name in files.items()}


def _quantization(quant: object) -> dict[str, dict]:
    """File name -> {input, output: {scale, zero_point, ...}}, scales finite and not negative, zero points integers."""
    if not isinstance(quant, dict):
        raise DrsnError("quantization must be a mapping")
    for name, sides in quant.items():
        check_file_name(name, "a quantised file")
        if not isinstance(sides, dict) or not all(isinstance(sides.get(k), dict) for k in ("input", "output")):
            raise DrsnError(f"quantization of {name} needs input and output mappings")
        for side in ("input", "output"):
            check_quant_side(sides[side], f"{name} {side}", sides[side].get("dtype") in ("int8", "int16"))
    return quant


def check_quant_side(side: dict, what: str, integer: bool = True) -> None:
    """A tensor's ``scale`` finite, positive when ``integer`` (0 allowed for float), and an int16 ``zero_point``."""
    scale, zero = side.get("scale"), side.get("zero_point")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) \
            or not 0 <= scale <= 1e30 or (integer and scale == 0):
        raise DrsnError(f"{what} scale must be a finite {'positive' if integer else 'non-negative'} number, "
                        f"got {scale!r:.40}")
    if isinstance(zero, bool) or not isinstance(zero, int) or not -32768 <= zero <= 32767:
        raise DrsnError(f"{what} zero point must be an int16 integer, got {zero!r:.40}")
