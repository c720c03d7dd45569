"""``drsn-edge export BUILD --target c``: the int8 model as a dependency-free C engine.

Writes drsn_model.h/.c (generated), the engine's C library and harness
(copied from ``csrc/``), a host Makefile, fw.json (what the runners need), a
README, and each board's support files (:mod:`firmware_export.boards`).
"""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from drsn_edge.buildinfo import BuildInfo, check_classes, check_quant_side, read_descriptor
from drsn_edge.errors import DrsnError
from drsn_edge.names import check_file_name, check_label
from drsn_edge.preprocess import Preprocessing
from drsn_edge.render import render
from drsn_edge.unknown import UnknownRule
from firmware_export.boards import BOARDS, BUILD_FRAGMENT, copy_support
from firmware_export.c_engine.arena import ArenaPlan, plan
from firmware_export.c_engine.emit import TEMPLATES, emit
from firmware_export.c_engine.graph import Graph, load_graph
from firmware_export.c_engine.lower import Step, lower
from firmware_export.c_engine.validate import check_graph, check_steps
from firmware_export.c_engine.sources import CSRC, engine_sources, library_files
from firmware_export.monitor import model_id, write_sources as write_monitor
from firmware_export.packaging import write_arduino, write_cmake

MODEL_COPY = "model_int8.tflite"
FW_JSON = "fw.json"


def compile_model(data: bytes, fused: bool = True) -> tuple[Graph, list[Step], ArenaPlan]:
    """Parse, lower (refusing float models and unknown ops; ``fused``: element-wise chains in one kernel
    each, fuse.py) and plan the arena."""
    graph = load_graph(data)
    check_graph(graph)
    steps = lower(graph, fused)
    check_steps(steps)
    if fused:  # the int32 bounds are proved op by op: on the unfused lowering (fused kernels compute the same)
        check_steps(lower(graph, False))
    return graph, steps, plan(graph, steps)


def _fw_info(build_dir: Path, info: BuildInfo, graph: Graph, steps: list[Step], arena: ArenaPlan) -> dict:
    inp, out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    return {
        "format": "drsn-edge-c-engine", "name": info.name, "classes": info.classes,
        "window_length": info.preprocessing.window_length, "num_classes": len(info.classes),
        "preprocessing": info.preprocessing.to_dict(), "build_dir": str(build_dir.resolve()), "model": MODEL_COPY,
        "ops": dict(Counter(s.op for s in steps)), "steps": [s.op for s in steps],
        "arena_bytes": arena.size, "arena_lower_bound": arena.lower_bound,
        "input": {"scale": inp.scale, "zero_point": inp.zero_point},
        "output": {"scale": out.scale, "zero_point": out.zero_point},
    }


def write(build_dir: Path, into: Path, info: BuildInfo) -> dict:
    """Fill ``into`` with the C engine for the build's int8 model; returns the summary for the command line."""
    model = Path(build_dir) / info.files.get("int8", MODEL_COPY)
    if not model.is_file():
        raise DrsnError(f"{build_dir} has no int8 model ({model.name})")
    graph, steps, arena = compile_model(model.read_bytes())
    if graph.tensors[graph.inputs[0]].size != info.preprocessing.window_length:
        raise DrsnError(f"the model input holds {graph.tensors[graph.inputs[0]].size} values but windows have "
                        f"{info.preprocessing.window_length} samples")
    if graph.tensors[graph.outputs[0]].size != len(info.classes):
        raise DrsnError(f"the model has {graph.tensors[graph.outputs[0]].size} outputs for {len(info.classes)} classes")
    meta = {"source": model.name, "name": info.name, "classes": info.classes,
            "preprocessing": info.preprocessing.to_dict(),
            "unknown_threshold": info.unknown.threshold if info.unknown else 0}
    for name, text in emit(graph, steps, arena, meta).items():
        (into / name).write_text(text)
    for name in library_files():
        shutil.copyfile(CSRC / name, into / name)
    shutil.copyfile(model, into / MODEL_COPY)
    copy_support(into)  # every board's start-up code, linker script and build: fw/ stays self-contained
    write_monitor(into, info.name, info.classes, info.preprocessing.sample_rate, model.read_bytes())
    write_cmake(into)  # add_subdirectory(fw) in people's own firmware
    write_arduino(into, info.name, info.preprocessing.window_length)  # and an Arduino library of the same
    fw = {**_fw_info(Path(build_dir), info, graph, steps, arena), "model_id": model_id(model.read_bytes())}
    if info.unknown:
        fw["unknown"] = info.unknown.to_dict()
    fw["buffers"] = check_graph(graph)  # why each arena slot is large enough, op by op
    fw["int32_bounds"] = check_steps(lower(graph, False))  # why no op's int32 arithmetic overflows, op by op
    (into / FW_JSON).write_text(json.dumps(fw, indent=2) + "\n")
    (into / "README.md").write_text(render(TEMPLATES, "README.md.in", {
        "MODEL_NAME": info.name, "WINDOW_LENGTH": fw["window_length"], "NUM_CLASSES": fw["num_classes"],
        "ENGINE_SOURCES": " ".join(engine_sources()), "ARENA_BYTES": arena.size, "LOWER_BOUND": arena.lower_bound,
        "NUM_OPS": len(steps), "BOARDS": list(BOARDS.values()), "BUILD_FRAGMENT": BUILD_FRAGMENT,
        "OPS": ", ".join(f"{k} {v}" for k, v in fw["ops"].items())}))
    return {"ops": len(steps), "arena_bytes": arena.size, "arena_lower_bound": arena.lower_bound,
            "files": sorted(p.name for p in into.iterdir())}


def load_fw_info(fw_dir: str | Path) -> dict:
    """fw.json of an exported C engine, with a clear error when ``fw_dir`` is not one."""
    path = Path(fw_dir) / FW_JSON
    data = read_descriptor(path, "drsn-edge-c-engine",
                           f"{fw_dir} is not an exported C engine (no {FW_JSON}; run `drsn-edge export BUILD --target c`)",
                           f"{path} does not describe a drsn-edge C engine")
    try:
        _check_fw_info(data)
    except KeyError as exc:
        raise DrsnError(f"{path} lacks {exc}") from None
    except DrsnError as exc:
        raise DrsnError(f"{path}: {exc}") from None
    return data


def _check_fw_info(data: dict) -> None:
    """Everything the runners read from fw.json, checked once: names, preprocessing, output scale, sizes."""
    check_label(data["name"], "the model name")
    classes = check_classes(data["classes"])
    pre = Preprocessing.from_dict(data["preprocessing"])
    if data["window_length"] != pre.window_length or data["num_classes"] != len(classes):
        raise DrsnError("window length or class count disagree with the preprocessing and class names")
    check_file_name(data["model"], "the model file")
    if "unknown" in data:
        UnknownRule.from_dict(data["unknown"])
    for side in ("input", "output"):
        check_quant_side(data[side] if isinstance(data[side], dict) else {}, side)
    for key in ("arena_bytes", "arena_lower_bound"):
        if isinstance(data[key], bool) or not isinstance(data[key], int) or not 0 <= data[key] <= 1 << 31:
            raise DrsnError(f"{key} must be a byte count, got {data[key]!r:.40}")
