"""``drsn-edge export --target tflm``: the int8 model as C arrays plus inference source for TFLite Micro.

The export refuses what would only fail on the device: a build without an int8
model, float ops in it, ops TFLM has no kernel for, an arena that does not run.
The arena is measured in TFLM's host runtime (the same allocator code as on the
device) by :func:`quantize.runtimes.tflm.probe_arena` and verified there with headroom.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from drsn_edge.buildinfo import BuildInfo
from drsn_edge.errors import DrsnError
from drsn_edge.int8_input import Int8Input
from drsn_edge.render import Code, render
from firmware_export.c_engine.preprocessing import c_preprocessing
from firmware_export.c_engine.sources import CSRC, NORMALISATIONS, PREPROCESSING, UNKNOWN
from firmware_export.c_literals import byte_array, c_double, c_float, c_initializer, c_string
from firmware_export.tflm.ops import distinct_ops, resolver_methods
from quantize.tflite.graph import op_names, read_model, summarize

TEMPLATES = Path(__file__).resolve().parent / "templates"
ARENA_HEADROOM = 0.10
GENERATED = ("drsn_model_data.h.in", "drsn_model_data.cc.in", "drsn_config.h.in", "drsn_inference.h.in",
              "drsn_inference.cc.in", "README.md.in")


def int8_model(build_dir: Path, info: BuildInfo) -> tuple[Path, bytes]:
    """The build's deployable int8 model, refused if missing or not all-integer."""
    name = info.files.get("int8")
    if not name:
        raise DrsnError(f"{build_dir} has no int8 model (a float-only build); TFLite Micro needs the int8 model "
                        "that `drsn-edge convert` writes")
    path = Path(build_dir) / name
    if not path.is_file():
        raise DrsnError(f"{path} is missing")
    data = path.read_bytes()
    try:
        problems = summarize(data).integer_problems("int8")
    except DrsnError as exc:
        raise DrsnError(f"{path.name}: {exc}") from None
    if problems:
        raise DrsnError(f"{path.name} is not an all-int8 model ({', '.join(problems[:3])})")
    return path, data


def _normalisation_text(info: BuildInfo) -> str:
    p = info.preprocessing
    return {"window": f"per-window z-score, eps {p.eps:g}", "global": f"(x - {p.mean:g}) / {p.std:g}",
            "none": "none"}[p.normalisation]


def write(build_dir: Path, into: Path, info: BuildInfo) -> dict:
    """Fill ``into`` with the TFLM sources for ``build_dir``'s int8 model; returns a summary."""
    from quantize.runtimes.tflm import probe_arena

    path, data = int8_model(build_dir, info)
    ops = op_names(read_model(data))
    methods = resolver_methods(ops)
    arena = probe_arena(path, headroom=ARENA_HEADROOM)
    if not arena["verified"]:
        raise DrsnError(f"{path.name}: the TFLite Micro arena of {arena['recommended_bytes']} bytes did not run")
    quant = info.quantization.get(path.name)
    if not quant:
        raise DrsnError(f"model.json has no quantisation parameters for {path.name}")
    p = info.preprocessing
    sha256 = hashlib.sha256(data).hexdigest()
    values = {
        "MODEL_NAME": info.name, "SOURCE_FILE": path.name, "MODEL_BYTES": len(data), "MODEL_SHA": sha256,
        "ARRAY": Code(byte_array("g_drsn_model", data, align=16, cxx=True).rstrip("\n")),
        "WINDOW_LENGTH": p.window_length, "SAMPLE_RATE": c_float(p.sample_rate), "NUM_CLASSES": len(info.classes),
        "CLASS_NAMES": c_initializer(c_string(c) for c in info.classes),
        "NORMALISATION": NORMALISATIONS[p.normalisation], "NORMALISATION_TEXT": _normalisation_text(info),
        "NORM_MEAN": c_double(p.mean), "NORM_STD": c_double(p.std), "NORM_EPS": c_double(p.eps),
        "PREPROCESSING": c_preprocessing(Int8Input(p, float(quant["input"]["scale"]),
                                                   int(quant["input"]["zero_point"]))),
        "INPUT_SCALE": c_float(quant["input"]["scale"]), "INPUT_ZERO_POINT": int(quant["input"]["zero_point"]),
        "OUTPUT_SCALE": c_float(quant["output"]["scale"]), "OUTPUT_ZERO_POINT": int(quant["output"]["zero_point"]),
        "ARENA_BYTES": arena["recommended_bytes"], "ARENA_MIN": arena["min_bytes"],
        "HEADROOM_PERCENT": round(ARENA_HEADROOM * 100), "NUM_OPS": len(methods),
        "RESOLVER_CALLS": Code("\n".join(f"  if (resolver.{m}() != kTfLiteOk) return kTfLiteError;"
                                    for m in methods)),
        "OP_LIST": ", ".join(distinct_ops(ops)),
        "UNKNOWN_THRESHOLD": info.unknown.threshold if info.unknown else 0,
    }
    for template in GENERATED:
        (into / template.removesuffix(".in")).write_text(render(TEMPLATES, template, values))
    for name in (*PREPROCESSING, *UNKNOWN):  # the C engine's own: the TFLM route agrees with every other runtime
        shutil.copyfile(CSRC / name, into / name)
    manifest = {"target": "tflm", "model": info.name, "source": path.name, "model_bytes": len(data),
                "sha256": sha256, "ops": distinct_ops(ops), "resolver": methods, "op_count": len(ops),
                "arena_bytes": arena["recommended_bytes"], "arena_min_bytes": arena["min_bytes"],
                "arena_verified": arena["verified"], "window_length": p.window_length, "classes": info.classes,
                "unknown_threshold": values["UNKNOWN_THRESHOLD"]}
    (into / "tflm.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {"model": f"{path.name} ({len(data)} bytes)", "ops": f"{len(methods)} distinct, {len(ops)} in graph",
            "arena": f"{arena['recommended_bytes']} bytes (min {arena['min_bytes']}, verified in TFLM)"}

