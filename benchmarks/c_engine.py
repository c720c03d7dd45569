"""The dependency-free int8 C engine against LiteRT, for the paper-size DRSN-CW on CWRU 0 HP.

Measures host latency per window of the C engine (-O2, harness over many
windows, start-up subtracted) and of LiteRT int8 (reference kernels and the
default XNNPACK path), the engine's arena against the liveness lower bound,
flash and RAM from `arm-none-eabi-size` on a Cortex-M4 object build, and
agreement with LiteRT's reference kernels (and TFLite Micro) on the test split.

    python benchmarks/c_engine.py --build BUILD_DIR [--data cwru:DIR] [--windows N]

BUILD_DIR is a `drsn-edge convert` output, e.g. of
`drsn-edge train --data cwru:DIR --epochs 5 --out x.pt` (accuracy does not matter here).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.data.spec import load_windows  # noqa: E402
from firmware_export.c_engine.check import run_check  # noqa: E402
from firmware_export.c_engine.runner import compile_host  # noqa: E402
from firmware_export.c_engine.sources import engine_sources  # noqa: E402
from firmware_export.export import export  # noqa: E402
from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from drsn_edge.buildinfo import load_build_info  # noqa: E402

ARM = ["-std=c99", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Wall", "-Wextra",
       "-Werror"]


def harness_seconds(exe: Path, x: np.ndarray, work: Path, repeats: int = 3) -> float:
    """Best wall time of the harness over ``x`` (start-up and file I/O included)."""
    x.astype("<f4").tofile(work / "in.f32")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(exe), str(work / "in.f32"), str(work / "out.i8")], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def c_latency_ms(fw: Path, x: np.ndarray, work: Path) -> float:
    """Per-window latency: (time for N windows - time for 1 window) / (N - 1)."""
    exe = compile_host(fw, work)
    many, one = harness_seconds(exe, x, work), harness_seconds(exe, x[:1], work)
    return (many - one) / (len(x) - 1) * 1e3


def litert_latency_ms(build: Path, x: np.ndarray, reference: bool, repeats: int = 3) -> float:
    """Per-window latency, best of ``repeats`` passes over ``x`` (as the C engine's: a loaded machine only
    ever slows a pass down)."""
    info = load_build_info(build)
    predictor = LiteRTPredictor(build / "model_int8.tflite", info, reference=reference)
    net = predictor.network_input(x)
    predictor.raw_outputs(net[:2])  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.raw_outputs(net)
        best = min(best, time.perf_counter() - start)
    return best / len(x) * 1e3


def arm_sizes(fw: Path, work: Path, opt: str) -> dict:
    """text/data/bss of the engine (model + kernels, no harness) compiled for the Cortex-M4."""
    gcc, size = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    if gcc is None or size is None:
        return {"error": "arm-none-eabi-gcc not installed"}
    objects = []
    for source in engine_sources():
        obj = work / f"{source}.{opt.strip('-')}.o"
        subprocess.run([gcc, *ARM, opt, "-c", str(fw / source), "-o", str(obj)], check=True)
        objects.append(str(obj))
    out = subprocess.run([size, "-t", *objects], check=True, capture_output=True, text=True).stdout.splitlines()
    text, data, bss = (int(v) for v in out[-1].split()[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram": data + bss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="a drsn-edge convert output directory")
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--windows", type=int, default=300, help="windows timed per runtime")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "c_engine" / "result.json"))
    args = parser.parse_args()

    build = Path(args.build)
    info = load_build_info(build)
    with tempfile.TemporaryDirectory(prefix="drsn-bench-") as tmp:
        work = Path(tmp)
        fw, summary = export(build, "c", work / "fw")
        windows = load_windows(args.data, split="test", window_length=info.preprocessing.window_length)
        x = np.asarray(windows.x[:args.windows], np.float32)
        result = {
            "model": info.name, "parameters": info.extra.get("parameters"), "macs": info.extra.get("macs"),
            "ops": summary["ops"], "timed_windows": len(x),
            "latency_ms": {"c_engine_O2": c_latency_ms(fw, x, work),
                           "litert_reference": litert_latency_ms(build, x, True),
                           "litert_xnnpack": litert_latency_ms(build, x, False)},
            "load_average": os.getloadavg()[0],
            "arena_bytes": summary["arena_bytes"], "arena_lower_bound": summary["arena_lower_bound"],
            "arena_ratio": summary["arena_bytes"] / summary["arena_lower_bound"],
            "tflm_arena_bytes": info.extra.get("tflm_arena_bytes"),
            "int8_model_bytes": (build / "model_int8.tflite").stat().st_size,
            "cortex_m4": {"O2": arm_sizes(fw, work, "-O2"), "Os": arm_sizes(fw, work, "-Os")},
            "agreement": run_check(fw, args.data, split="test", tflm=True, progress=False),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
