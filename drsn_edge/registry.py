"""The runtime registry: which loader opens a model file or directory, and every runtime of a build.

The core knows no runtime but PyTorch. Each runtime registers itself where it
lives (``quantize.runtimes.*``, ``firmware_export.c_engine.runner``) with
:func:`register_runtime`; those modules are found through the
``drsn_edge.runtimes`` entry-point group of the installed package, so the core
never imports its consumers, and a runtime from another package plugs in the
same way.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from drsn_edge.buildinfo import BuildInfo, load_build_info
from drsn_edge.checkpoint import load_checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor, TorchPredictor

ENTRY_POINT_GROUP = "drsn_edge.runtimes"


@dataclass(frozen=True)
class Runtime:
    """How to run one kind of model.

    ``model(path, build)`` runs a model file whose build facts are known; it
    serves the build roles in ``roles`` (``int8``, ``float32``, ...) for
    :func:`runtimes_of_build`, raising :class:`DrsnError` with the reason when
    the runtime cannot run here. ``suffixes`` open a file by itself (its
    ``model.json`` beside it) and ``marker`` a directory holding that file,
    through ``open`` when given.
    """

    name: str
    title: str
    model: Callable[[Path, BuildInfo], Predictor] | None = None
    roles: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    marker: str | None = None
    open: Callable[[Path], Predictor] | None = None
    order: int = 100

    def open_path(self, path: Path) -> Predictor:
        if self.open is not None:
            return self.open(path)
        if self.model is None:
            raise DrsnError(f"the {self.title} runtime cannot open {path} by itself")
        return self.model(path, load_build_info(path.parent))


_RUNTIMES: dict[str, Runtime] = {}
_UNAVAILABLE: dict[str, str] = {}  # entry-point name -> why its module could not be imported
_plugins_loaded = False


def register_runtime(runtime: Runtime) -> Runtime:
    _RUNTIMES[runtime.name] = runtime
    return runtime


def _load_plugins() -> None:
    """Import every module named in the entry-point group once; importing registers its runtimes."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            importlib.import_module(point.value.split(":")[0])
        except ImportError as exc:  # a runtime whose own dependencies are missing is not offered; say why
            _UNAVAILABLE[point.name] = str(exc)


def get_runtime(name: str) -> Runtime:
    """A registered runtime by name."""
    _load_plugins()
    if name not in _RUNTIMES:
        raise DrsnError(f"unknown runtime '{name}' (installed: {', '.join(sorted(_RUNTIMES))})")
    return _RUNTIMES[name]


def runtimes() -> list[Runtime]:
    """Every registered runtime, in build order."""
    _load_plugins()
    return sorted(_RUNTIMES.values(), key=lambda r: (r.order, r.name))


def load_predictor(path: str | Path) -> Predictor:
    """Open any supported model file or directory (a build stands for its int8 model) as a predictor."""
    path = Path(path)
    if not path.exists():
        raise DrsnError(f"model not found: {path}")
    known = runtimes()
    if path.is_dir():
        for runtime in known:
            if runtime.marker and (path / runtime.marker).is_file():
                return runtime.open_path(path)
        markers = ", ".join(sorted(r.marker for r in known if r.marker))
        raise DrsnError(f"{path} is not a model directory (none of {markers} in it)")
    for runtime in known:
        if path.suffix.lower() in runtime.suffixes:
            return runtime.open_path(path)
    suffixes = sorted(s for r in known for s in r.suffixes)
    missing = "".join(f"; {name} unavailable: {why}" for name, why in sorted(_UNAVAILABLE.items()))
    raise DrsnError(f"don't know how to run '{path.name}' (supported: {', '.join(suffixes)}{missing})")


def build_file(build_dir: Path, info: BuildInfo, role: str) -> Path | None:
    """The build's file for ``role``, None if the build has none; a listed file that is gone is an error."""
    name = info.files.get(role)
    if name is None:
        return None
    path = Path(build_dir) / name
    if not path.is_file():
        raise DrsnError(f"build directory {build_dir} lacks {name} (listed in model.json)")
    return path


def runtimes_of_build(build_dir: str | Path) -> tuple[list[Predictor], list[str]]:
    """Every runtime of every model file in the build, in registry order; notes say what was left out and why."""
    build_dir = Path(build_dir)
    info = load_build_info(build_dir)
    predictors: list[Predictor] = []
    notes: list[str] = []
    for runtime in runtimes():
        for role in runtime.roles:
            path = build_file(build_dir, info, role)
            if path is None or runtime.model is None:
                continue
            try:
                predictors.append(runtime.model(path, info))
            except DrsnError as exc:
                notes.append(f"{runtime.title} left out: {exc}")
    return predictors, notes


register_runtime(Runtime("pytorch", "PyTorch", suffixes=(".pt",), open=lambda path: TorchPredictor(load_checkpoint(path)),
                         order=0))
