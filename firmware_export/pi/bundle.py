"""``drsn-edge export BUILD --target pi``: the directory a Raspberry Pi needs, and a tarball of it.

The runner (``runner/drsn_runner.py`` and its package ``runner/drsn_runner_lib/``)
is copied as it is; the systemd unit, its settings and the README are rendered
from ``templates/`` (:mod:`drsn_edge.render`). Everything the runner must know about the model goes into
``config.json``, so the bundle works without the build directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from pathlib import Path

from drsn_edge.errors import DrsnError
from drsn_edge.render import render
from drsn_edge.buildinfo import BuildInfo
from firmware_export.tflm.export import int8_model

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "runner" / "drsn_runner.py"
RUNNER_PACKAGE = HERE / "runner" / "drsn_runner_lib"  # the runner's modules; the bundle holds them beside RUNNER
REQUIREMENTS = HERE / "runner" / "requirements.txt"
TEMPLATES = HERE / "templates"
CONFIG_NAME = "config.json"
UNIT_NAME = "drsn-runner.service"
DEFAULT_DEST = "/opt/drsn-edge"
UNIT_PATH = re.compile(r"/[A-Za-z0-9_./+-]{0,200}")  # no space, quote, %, $ or newline: safe unquoted in a unit
UNIT_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
UNIT_TEXT_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:;+()\[\]/-]")  # no % (systemd specifiers), $, quotes, newline


def render_template(name: str, values: dict[str, object]) -> str:
    """``templates/NAME`` filled with ``values``; a value left out is an error."""
    return render(TEMPLATES, name, values)


def unit_text(text: str) -> str:
    """Free text (the model name) as a unit's Description: one line, no specifier or variable, 100 characters."""
    return UNIT_TEXT_UNSAFE.sub("_", str(text)[:100])


def unit_field(value: str, pattern: re.Pattern, what: str) -> str:
    """``value`` if it matches ``pattern`` and has no ``..`` step, else a DrsnError: unit fields are validated, not escaped."""
    if not isinstance(value, str) or not pattern.fullmatch(value) or "/../" in value + "/":
        raise DrsnError(f"refusing to write the {what} {value!r:.80} into a systemd unit")
    return value


def render_unit(dest: str, python: str, user: str, name: str) -> str:
    """The systemd unit for a bundle installed at ``dest`` and run by ``python`` as ``user``."""
    return render_template(f"{UNIT_NAME}.in", {
        "DEST": unit_field(dest, UNIT_PATH, "destination"), "PYTHON": unit_field(python, UNIT_PATH, "interpreter"),
        "USER": unit_field(user, UNIT_USER, "user"), "NAME": unit_text(name)})


def runner_modules() -> list[Path]:
    """The runner package's sources (``*.py``: never a ``__pycache__`` a local run left behind)."""
    return sorted(RUNNER_PACKAGE.glob("*.py"))


def runner_config(info: BuildInfo, model_file: str) -> dict:
    """``config.json``: classes, preprocessing and the model file, nothing the runner does not read."""
    return {
        "format": "drsn-edge-pi", "name": info.name, "classes": info.classes, "model": model_file,
        "window_length": info.preprocessing.window_length, "sample_rate": info.preprocessing.sample_rate,
        "preprocessing": info.preprocessing.to_dict(),
        "normal_class": "normal" if "normal" in info.classes else None,
        "quantization": info.quantization.get(model_file, {}),
        **({"unknown": {"score": info.unknown.score, "threshold": info.unknown.threshold}} if info.unknown else {}),
    }


def write(build_dir: Path, into: Path, info: BuildInfo) -> dict:
    """Fill ``into`` with the bundle; returns the summary ``drsn-edge export`` prints."""
    model_file = info.files.get("int8", "model_int8.tflite")
    model = Path(build_dir) / model_file
    if not model.is_file():
        raise DrsnError(f"{build_dir} has no int8 model ({model_file}); run `drsn-edge convert` again")
    int8_model(Path(build_dir), info)  # parsed and checked all-integer: a truncated model is refused here
    shutil.copyfile(model, into / model_file)
    (into / CONFIG_NAME).write_text(json.dumps(runner_config(info, model_file), indent=2) + "\n")
    shutil.copyfile(RUNNER, into / RUNNER.name)
    os.chmod(into / RUNNER.name, 0o755)
    (into / RUNNER_PACKAGE.name).mkdir()
    for module in runner_modules():
        shutil.copyfile(module, into / RUNNER_PACKAGE.name / module.name)
    shutil.copyfile(REQUIREMENTS, into / REQUIREMENTS.name)
    pre = info.preprocessing
    (into / UNIT_NAME).write_text(render_unit(DEFAULT_DEST, f"{DEFAULT_DEST}/venv/bin/python", "root", info.name))
    (into / "drsn-runner.env").write_text(render_template(
        "drsn-runner.env.in", {"RATE": f"{pre.sample_rate:g}", "HOP": pre.window_length // 2}))
    (into / "README.md").write_text(render_template("README.md.in", {
        "NAME": info.name, "PARAMETERS": info.extra.get("parameters", "?"), "CLASSES": ", ".join(info.classes),
        "WINDOW": pre.window_length, "RATE": f"{pre.sample_rate:g}", "DEST": DEFAULT_DEST}))
    return {"model": f"{model_file} ({model.stat().st_size} bytes)", "runner": RUNNER.name,
            "classes": len(info.classes), "window": f"{pre.window_length} samples at {pre.sample_rate:g} Hz"}


def _normalised(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def after_write(out: Path) -> dict:
    """``OUT.tar.gz`` beside the finished bundle directory, written under a temporary name and renamed."""
    archive = out.with_name(out.name + ".tar.gz")
    tmp = out.with_name(f".{archive.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(out, arcname=out.name, filter=_normalised)
        os.replace(tmp, archive)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {"archive": f"{archive} ({archive.stat().st_size} bytes)"}
