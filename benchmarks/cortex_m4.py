"""The paper-size DRSN-CW on a Cortex-M4F: instructions per inference and flash/RAM, C engine vs TFLM route.

Trains (or takes) a DRSN-CW on CWRU 0 HP, converts it, exports both firmware
targets and runs the C engine on QEMU's mps2-an386 (bare metal, -icount shift=0)
over test windows, checking its int8 logits against LiteRT's reference kernels.
Reports instructions per inference against the model's multiply-accumulates,
the C engine image's sections (arm-none-eabi-size, whole image and engine
objects alone), and the TFLM route's model array and tensor arena.

    python benchmarks/cortex_m4.py [--checkpoint model.pt] [--epochs 5] [--windows 20] [--tag NAME]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.cli import main as cli  # noqa: E402
from firmware_export.c_engine.check import check_table, run_check  # noqa: E402
from firmware_export.boards.mps2_an386.runner import build_image, image_size  # noqa: E402
from firmware_export.c_engine.sources import engine_sources  # noqa: E402

ENGINE_OBJECTS = tuple(source.replace(".c", ".o") for source in engine_sources())


def sections(path: Path) -> dict[str, int]:
    size = image_size(path)
    return {k: size[k] for k in ("text", "data", "bss")}


def run(cmd: list[str]) -> None:
    if cli(cmd) != 0:
        raise SystemExit(f"drsn-edge {' '.join(cmd)} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--checkpoint", default=None, help="default: train one (--epochs, seed 0)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--windows", type=int, default=20, help="test windows run on QEMU")
    parser.add_argument("--tag", default="default")
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"cortex_m4_{args.tag}"
    work = folder / "build"  # regenerated, not committed
    work.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoint) if args.checkpoint else work / "drsn_cw.pt"
    if not ckpt.exists():
        run(["train", "--data", args.data, "--arch", "drsn-cw", "--epochs", str(args.epochs), "--seed", "0",
             "--out", str(ckpt), "--quiet"])
    build, fw_c, fw_tflm = work / "int8", work / "fw_c", work / "fw_tflm"
    run(["convert", str(ckpt), "--out", str(build), "--force", "--no-tflm", "--quiet"])
    run(["export", str(build), "--target", "c", "--out", str(fw_c), "--force"])
    run(["export", str(build), "--target", "tflm", "--out", str(fw_tflm), "--force"])

    start = time.time()
    check = run_check(fw_c, args.data, limit=args.windows, runner="qemu", progress=False)
    qemu_s = time.time() - start
    print(check_table(check))

    # the same objects the qemu runner linked, built once more here to size the engine alone
    objects = work / "qemu_objects"
    build_image(fw_c, objects)
    engine = [sections(objects / name) for name in ENGINE_OBJECTS]
    engine_total = {k: sum(e[k] for e in engine) for k in ("text", "data", "bss")}
    image = sections(objects / "app.elf")
    model_json = json.loads((build / "model.json").read_text())
    tflm = json.loads((fw_tflm / "tflm.json").read_text())
    fw = json.loads((fw_c / "fw.json").read_text())
    device = check["device"]
    record = {
        "checkpoint": str(ckpt), "windows": check["windows"], "qemu_seconds": round(qemu_s, 1),
        "parameters": model_json["parameters"], "macs": model_json["macs"],
        "litert_identical_windows": check["litert"]["identical_windows"], "litert_max_lsb": check["litert"]["max_lsb"],
        "instructions_per_inference": device["instructions_per_inference"],
        "instructions_min": device["instructions_min"], "instructions_max": device["instructions_max"],
        "instructions_per_mac": device["instructions_per_inference"] / model_json["macs"],
        "c_engine": {"image": image, "image_flash": image["text"] + image["data"],
                     "image_static_ram": image["data"] + image["bss"], "engine_objects": engine_total,
                     "engine_flash": engine_total["text"] + engine_total["data"],
                     "engine_static_ram": engine_total["data"] + engine_total["bss"], "arena_bytes": fw["arena_bytes"]},
        "tflm": {"model_array_bytes": tflm["model_bytes"], "arena_bytes": tflm["arena_bytes"],
                 "arena_min_bytes": tflm["arena_min_bytes"], "ops": tflm["ops"]},
    }
    (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    c = record["c_engine"]
    summary = "\n".join([
        f"DRSN-CW ({record['parameters']:,} parameters, {record['macs']:,} MACs per window), "
        f"{record['windows']} CWRU test windows on QEMU mps2-an386 (Cortex-M4F, -icount shift=0)",
        "",
        f"- C engine vs LiteRT int8 (reference kernels): {record['litert_identical_windows']}/{record['windows']} "
        f"windows identical, max {record['litert_max_lsb']} LSB",
        f"- instructions per inference: {record['instructions_per_inference']:,.0f} "
        f"(min {record['instructions_min']:,}, max {record['instructions_max']:,}), "
        f"{record['instructions_per_mac']:.1f} per MAC",
        "",
        "| | flash (bytes) | RAM (bytes) |",
        "|---|---|---|",
        f"| C engine objects (drsn_model.o, kernels, preprocessing) | {c['engine_flash']:,} | "
        f"{c['engine_static_ram']:,} (arena {c['arena_bytes']:,}) |",
        f"| C engine whole QEMU image (+ harness, newlib stdio, semihosting) | {c['image_flash']:,} | "
        f"{c['image_static_ram']:,} static + stack |",
        f"| TFLM route: model array / tensor arena only | {record['tflm']['model_array_bytes']:,} | "
        f"{record['tflm']['arena_bytes']:,} (min {record['tflm']['arena_min_bytes']:,}) |",
    ])
    (folder / "summary.md").write_text(summary + "\n")
    print(summary)


if __name__ == "__main__":
    main()
