"""Build and run an exported C engine: the runner registry (host, and others by name) and its predictor.

Runners are registered by name: ``build(fw_dir, workdir)`` compiles the
engine and returns the command that runs the harness (the input and output
file paths are appended). ``host`` compiles with the host C compiler; each
board of :mod:`firmware_export.boards` registers its own runner (e.g.
``mps2_an386``, alias ``qemu``) with :func:`register` when first asked for.
"""
from __future__ import annotations

import importlib
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor
from drsn_edge.registry import Runtime, register_runtime
from drsn_edge.preprocess import Preprocessing
from drsn_edge.unknown import UnknownRule
from firmware_export.boards import runner_modules
from firmware_export.c_engine.emit import HOST_CFLAGS
from firmware_export.c_engine.sources import compiled_sources
from firmware_export.c_engine.target import load_fw_info
from quantize.runtimes.base import dequantize

SOURCES = tuple(compiled_sources())


@dataclass
class Runner:
    name: str
    description: str
    build: Callable[[Path, Path], list[str]]  # (fw_dir, workdir) -> harness command
    report: Callable[[Path, Path], dict] | None = None  # (fw_dir, workdir) -> facts about the last run
    profile: Callable[[Path, Path], list[str]] | None = None  # as build, an image that times each op


RUNNERS: dict[str, Runner] = {}
# runners defined elsewhere (the boards): name -> module that calls register() on import (imported only when used)
RUNNER_MODULES: dict[str, str] = runner_modules()


def register(runner: Runner) -> Runner:
    RUNNERS[runner.name] = runner
    return runner


def runner_names() -> list[str]:
    return sorted(set(RUNNERS) | set(RUNNER_MODULES))


def get_runner(name: str) -> Runner:
    """A registered runner by name, importing its module on first use."""
    if name not in RUNNERS and name in RUNNER_MODULES:
        importlib.import_module(RUNNER_MODULES[name])
    if name not in RUNNERS:
        raise DrsnError(f"unknown runner '{name}' (choose from {', '.join(runner_names())})")
    return RUNNERS[name]


def compile_host(fw_dir: Path, workdir: Path, cflags: str = HOST_CFLAGS) -> Path:
    """Compile the harness with the host compiler ($CC, else cc) into ``workdir``; returns the executable."""
    cc = shlex.split(os.environ.get("CC", "cc"))
    if shutil.which(cc[0]) is None:
        raise DrsnError(f"no host C compiler: '{cc[0]}' not found (install gcc or set CC)")
    missing = [s for s in SOURCES if not (fw_dir / s).is_file()]
    if missing:
        raise DrsnError(f"{fw_dir} lacks {', '.join(missing)}")
    exe = workdir / "drsn_main"
    cmd = [*cc, *shlex.split(cflags), "-o", str(exe), *(str(fw_dir / s) for s in SOURCES), "-lm"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DrsnError(f"host build failed: {detail[0] if detail else 'compiler exit ' + str(done.returncode)}")
    return exe


register(Runner("host", "host C compiler (-O2), runs natively",
                lambda fw_dir, workdir: [str(compile_host(fw_dir, workdir))]))


def run_windows(command: list[str], x: np.ndarray, num_classes: int, workdir: Path,
                timeout: float | None = None, scores: Path | None = None) -> np.ndarray:
    """Raw float windows (N, L) through the harness -> int8 logits (N, classes); with ``scores``, the harness
    also writes each window's "unknown" score there (int32, ``drsn_unknown_score``)."""
    x = np.ascontiguousarray(x, dtype="<f4")
    inp, out = workdir / "windows.f32", workdir / "logits.i8"
    x.tofile(inp)
    extra = [str(scores)] if scores is not None else []
    done = subprocess.run([*command, str(inp), str(out), *extra], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DrsnError(f"the engine failed (exit {done.returncode}): {detail[-1] if detail else 'no output'}")
    logits = np.fromfile(out, dtype=np.int8) if out.is_file() else np.zeros(0, np.int8)
    if logits.size != len(x) * num_classes:
        raise DrsnError(f"the engine wrote {logits.size} logits for {len(x)} windows of {num_classes} classes")
    return logits.reshape(len(x), num_classes)


class CEnginePredictor(Predictor):
    """An exported C engine as a predictor: built once, then raw windows go through the harness.

    The engine does its own preprocessing, so :meth:`logits` takes raw windows.
    """

    def __init__(self, fw_dir: str | Path, runner: str = "host", profile: bool = False) -> None:
        self.fw_dir = Path(fw_dir)
        self.fw = load_fw_info(self.fw_dir)
        self.runner = get_runner(runner)
        build = self.runner.build
        if profile:
            if self.runner.profile is None:
                raise DrsnError(f"the {runner} runner cannot profile (choose a board runner, e.g. qemu)")
            build = self.runner.profile
        self.name = f"c-engine-{runner}"
        self.unknown = UnknownRule.from_dict(self.fw["unknown"]) if "unknown" in self.fw else None
        self.classes = list(self.fw["classes"])
        self.preprocessing = Preprocessing.from_dict(self.fw["preprocessing"])
        self._tmp = tempfile.TemporaryDirectory(prefix="drsn-c-")
        self.workdir = Path(self._tmp.name)
        self.command = build(self.fw_dir, self.workdir)

    def raw_outputs(self, raw: np.ndarray) -> np.ndarray:
        """int8 logits as the engine writes them (NaN/Inf windows: all -128)."""
        x = np.asarray(raw, np.float32)
        if x.ndim != 2 or x.shape[1] != self.preprocessing.window_length:
            raise DrsnError(f"windows must be (N, {self.preprocessing.window_length}), got shape {x.shape}")
        return run_windows(self.command, x, len(self.classes), self.workdir)

    def unknown_scores(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(int8 logits, each window's "unknown" score as the engine's ``drsn_unknown_score`` computes it)."""
        path = self.workdir / "scores.i32"
        path.unlink(missing_ok=True)
        logits = run_windows(self.command, self.preprocessing.check(raw), len(self.classes), self.workdir,
                             scores=path)
        scores = np.fromfile(path, dtype=np.int32) if path.is_file() else np.zeros(0, np.int32)
        if scores.size != len(logits):
            raise DrsnError(f"the engine wrote {scores.size} unknown scores for {len(logits)} windows")
        return logits, scores

    def report(self) -> dict:
        """What the runner measured on the last run (e.g. instructions per inference), if anything."""
        return self.runner.report(self.fw_dir, self.workdir) if self.runner.report else {}

    def logits(self, raw: np.ndarray) -> np.ndarray:
        x = self.preprocessing.check(raw)
        return dequantize(self.raw_outputs(x), (self.fw["output"]["scale"], self.fw["output"]["zero_point"]))

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        if self.preprocessing.normalisation == "none":
            return self.logits(x)
        raise DrsnError("the C engine preprocesses raw windows itself; call logits() with raw windows")


register_runtime(Runtime("c-engine", "C engine (host)", marker="fw.json", open=CEnginePredictor, order=40))
