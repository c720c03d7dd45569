"""The TFLM route on the emulated Cortex-M4F: the `--target tflm` export built against a TFLite Micro tree.

Compiles TFLM's framework and the kernels of the exported model's ops with
arm-none-eabi-g++ (reference kernels, no CMSIS-NN), the export's sources, the C
engine's harness (drsn_main.c) and the QEMU support files into one image, runs
it on QEMU's mps2-an386 like `drsn-edge run --runner qemu`, and compares the
int8 logits with TFLM's Python runtime and LiteRT's reference kernels. Reports
instructions per inference, flash and RAM. Needs a tflite-micro checkout with
flatbuffers, gemmlowp and ruy under tensorflow/lite/micro/tools/make/downloads and
the Debian package libstdc++-arm-none-eabi-newlib.

    python benchmarks/tflm_cortex_m4.py --tflm-dir $DRSN_TFLM_DIR [--build BUILD] [--windows 10]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.cli import main as cli  # noqa: E402
from drsn_edge.data.spec import load_windows  # noqa: E402
from drsn_edge.errors import DrsnError  # noqa: E402
from firmware_export.boards import copy_support  # noqa: E402
from firmware_export.boards.mps2_an386.runner import BOARD, image_size, launcher, parse_icount  # noqa: E402
from firmware_export.c_engine.runner import run_windows  # noqa: E402
from firmware_export.c_engine.sources import CSRC  # noqa: E402
from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from drsn_edge.buildinfo import load_build_info  # noqa: E402
from quantize.runtimes.tflm import TFLMPredictor  # noqa: E402

ARCH = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
COMMON = [*ARCH, "-O2", "-ffunction-sections", "-fdata-sections", "-fno-unwind-tables",
          "-fno-asynchronous-unwind-tables", "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON"]
# -fno-use-cxa-atexit: static objects' destructors go through atexit(); -nostartfiles drops the
# crtbegin.o that would define __dso_handle for __cxa_atexit
CXX = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics", "-fno-use-cxa-atexit", "-Wno-psabi"]
MICRO = "tensorflow/lite/micro"
FRAMEWORK = [f"{MICRO}/{name}.cc" for name in (
    "debug_log", "flatbuffer_utils", "memory_helpers", "micro_allocation_info", "micro_allocator", "micro_context",
    "micro_interpreter", "micro_interpreter_context", "micro_interpreter_graph", "micro_log", "micro_op_resolver",
    "micro_profiler", "micro_resource_variable", "micro_time", "micro_utils", "system_setup",
    "arena_allocator/non_persistent_arena_buffer_allocator", "arena_allocator/persistent_arena_buffer_allocator",
    "arena_allocator/single_arena_buffer_allocator", "memory_planner/greedy_memory_planner",
    "memory_planner/linear_memory_planner", "memory_planner/non_persistent_buffer_planner_shim",
    "tflite_bridge/flatbuffer_conversions_bridge", "tflite_bridge/micro_error_reporter",
    "kernels/kernel_util", "kernels/micro_tensor_utils")] + [
    "tensorflow/lite/kernels/kernel_util.cc", "tensorflow/lite/kernels/internal/runtime_shape.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc", "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/kernels/internal/reference/portable_tensor_utils.cc", "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc", "tensorflow/lite/kernels/internal/tensor_utils.cc",
    "tensorflow/lite/core/api/flatbuffer_conversions.cc", "tensorflow/lite/core/api/tensor_utils.cc",
    "tensorflow/lite/core/c/common.cc", "tensorflow/compiler/mlir/lite/schema/schema_utils.cc",
    "tensorflow/compiler/mlir/lite/core/api/error_reporter.cc"]
# op -> kernel sources (extend for other models' ops)
KERNELS = {"CONV_2D": ["conv", "conv_common"], "FULLY_CONNECTED": ["fully_connected", "fully_connected_common"],
           "ADD": ["add", "add_common"], "SUB": ["sub", "sub_common"], "MUL": ["mul", "mul_common"], "PAD": ["pad", "pad_common"],
           "RESHAPE": ["reshape", "reshape_common"], "MAX_POOL_2D": ["pooling", "pooling_common"],
           "AVERAGE_POOL_2D": ["pooling", "pooling_common"], "ABS": ["elementwise"], "MEAN": ["reduce", "reduce_common"],
           "LOGISTIC": ["logistic", "logistic_common"]}


def compile_all(sources: list[tuple[Path, str]], includes: list[str], out: Path) -> list[Path]:
    """Each (source, language) to an object under ``out``; objects newer than their source are reused."""
    objects = []
    for source, language in sources:
        obj = out / (source.as_posix().replace("/", "_").lstrip("_") + ".o")
        if not obj.exists() or obj.stat().st_mtime < source.stat().st_mtime:
            compiler = "arm-none-eabi-g++" if language == "c++" else "arm-none-eabi-gcc"
            flags = CXX if language == "c++" else ["-std=c99", "-Wall", "-Wextra", "-Werror"]
            subprocess.run([compiler, *COMMON, *flags, *includes, "-c", str(source), "-o", str(obj)], check=True)
        objects.append(obj)
    return objects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflm-dir", default=os.environ.get("DRSN_TFLM_DIR"))
    parser.add_argument("--build", default=str(ROOT / "benchmarks/results/cortex_m4_default/build/int8"))
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--tag", default="default")
    parser.add_argument("--arena-step", type=int, default=256, help="bisect the device arena to this (0: skip)")
    args = parser.parse_args()
    if not args.tflm_dir:
        raise SystemExit("give --tflm-dir or set DRSN_TFLM_DIR")
    tflm = Path(args.tflm_dir).resolve()
    downloads = tflm / "tensorflow/lite/micro/tools/make/downloads"
    folder = ROOT / "benchmarks" / "results" / f"tflm_cortex_m4_{args.tag}"
    work = folder / "build"
    fw = work / "fw_tflm"
    objdir = work / "objects"
    objdir.mkdir(parents=True, exist_ok=True)
    if cli(["export", args.build, "--target", "tflm", "--out", str(fw), "--force"]) != 0:
        raise SystemExit("export failed")
    copy_support(fw)
    shutil.copyfile(CSRC / "drsn_main.c", fw / "drsn_main.c")
    (fw / "drsn_model.h").write_text('#include "drsn_inference.h"  /* the harness\'s contract */\n')
    manifest = json.loads((fw / "tflm.json").read_text())
    kernels = sorted({k for op in manifest["ops"] for k in KERNELS[op]})
    library = [(tflm / s, "c++") for s in FRAMEWORK] + [(tflm / f"{MICRO}/kernels/{k}.cc", "c++") for k in kernels]
    ours = [(fw / "drsn_inference.cc", "c++"), (fw / "drsn_model_data.cc", "c++")] + [
        (fw / name, "c") for name in ("drsn_preprocess.c", "drsn_main.c", "common/drsn_startup.c",
                                      f"{BOARD.name}/startup.c", f"{BOARD.name}/icount.c")]
    includes = [f"-I{fw}", "-isystem", str(tflm), "-isystem", str(downloads / "flatbuffers/include"),
                "-isystem", str(downloads / "gemmlowp"), "-isystem", str(downloads / "ruy")]
    objects = compile_all(library, includes, objdir) + compile_all(ours, includes, work)

    def link(elf: Path, objs: list[Path]) -> Path:
        subprocess.run(["arm-none-eabi-g++", *ARCH, "--specs=rdimon.specs", "-nostartfiles", f"-L{fw / 'common'}",
                        f"-T{fw / BOARD.name / 'mps2_an386.ld'}", "-Wl,--gc-sections", "-Wl,--wrap=drsn_classify",
                        "-o", str(elf), *map(str, objs), "-lm"], check=True)
        return elf

    elf = link(work / "app.elf", objects)
    size = image_size(elf)

    info = load_build_info(args.build)
    pre = info.preprocessing
    windows = load_windows(args.data, split="test", window_length=pre.window_length)
    x = np.asarray(windows.x[:args.windows], np.float32)
    log = work / "qemu_stderr.txt"
    device = run_windows(["bash", str(launcher(fw)), "--log", str(log), str(elf)], x, len(info.classes), work)
    counts = parse_icount(log.read_text())
    model = Path(args.build) / "model_int8.tflite"
    reference = LiteRTPredictor(model, info)
    litert = reference.raw_outputs(reference.network_input(x))[0]
    micro = TFLMPredictor(model, info).raw_outputs(reference.network_input(x))
    # the smallest arena that runs on the 32-bit target (TFLM's records are smaller than on the host)
    def runs_with(arena: int) -> bool:
        obj = work / "drsn_inference_probe.o"
        subprocess.run(["arm-none-eabi-g++", *COMMON, *CXX, *includes, f"-DDRSN_ARENA_BYTES={arena}", "-c",
                        str(fw / "drsn_inference.cc"), "-o", str(obj)], check=True)
        probe = link(work / "probe.elf", [obj if o.name.endswith("drsn_inference.cc.o") else o for o in objects])
        try:
            out = run_windows(["bash", str(launcher(fw)), str(probe)], x[:1], len(info.classes), work)
        except DrsnError:
            return False
        return bool(np.all(out == device[:1]))

    lo, hi = 0, manifest["arena_bytes"]
    while args.arena_step and hi - lo > args.arena_step:
        mid = (lo + hi) // 2 // 16 * 16
        lo, hi = (lo, mid) if runs_with(mid) else (mid, hi)
        print(f"arena probe: {mid} bytes {'runs' if hi == mid else 'fails'}", flush=True)
    record = {
        "windows": len(x), "device_arena_min_bytes": hi if args.arena_step else None, "identical_vs_tflm_python": int(np.sum(np.all(device == micro, axis=1))),
        "identical_vs_litert": int(np.sum(np.all(device == litert, axis=1))),
        "max_lsb_vs_litert": int(np.abs(device.astype(int) - litert.astype(int)).max()),
        "top1_vs_litert": float(np.mean(device.argmax(1) == litert.argmax(1))),
        "instructions_per_inference": counts["instructions_per_inference"],
        "instructions_min": counts["instructions_min"], "instructions_max": counts["instructions_max"],
        "image": size, "arena_bytes": manifest["arena_bytes"], "model_bytes": manifest["model_bytes"],
        "kernels": kernels,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
