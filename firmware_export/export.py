"""``drsn-edge export``: one build directory in, one deployable directory out, per target.

Each target lives in its own module and provides ``write(build_dir, into, info) -> dict``:
it fills the (temporary) directory ``into`` and returns a short summary for the
command line. A target may also define ``after_write(out) -> dict``, called once
the directory is in place (e.g. to archive it beside). Loading the build and
writing atomically happen here, once.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from drsn_edge.errors import DrsnError
from drsn_edge.outdir import atomic_output_dir, check_writable
from drsn_edge.buildinfo import load_build_info

# target name -> (module, what it produces); modules are imported only when used
TARGETS: dict[str, tuple[str, str]] = {
    "c": ("firmware_export.c_engine.target", "dependency-free int8 C engine"),
    "tflm": ("firmware_export.tflm.export", "C arrays and inference source for TensorFlow Lite Micro"),
    "pi": ("firmware_export.pi.bundle", "Raspberry Pi bundle: int8 model, streaming runner, systemd unit"),
}


def export(build_dir: str | Path, target: str, out: str | Path, force: bool = False) -> tuple[Path, dict]:
    """Write ``out`` for ``target`` from ``build_dir``; nothing is left behind on failure."""
    if target not in TARGETS:
        raise DrsnError(f"unknown export target '{target}' (choose from {', '.join(TARGETS) or 'none'})")
    build_dir, out = Path(build_dir), Path(out)
    info = load_build_info(build_dir)
    check_writable(out, force)
    module = importlib.import_module(TARGETS[target][0])
    with atomic_output_dir(out, force) as tmp:
        summary = module.write(build_dir, tmp, info)
    after_write = getattr(module, "after_write", None)
    if after_write is not None:
        summary.update(after_write(out))
    return out, summary
