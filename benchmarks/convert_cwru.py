"""What `convert` costs and keeps, for the paper-size DRSN-CW trained on CWRU 0 HP.

Measures the wall time of the whole `drsn-edge convert`, float and int8 accuracy
on the clean test split and in every noise cell of the -5 ... 5 dB sweep, their
top-1 agreement, the int8 file size per parameter, and the TFLM arena.

    python benchmarks/convert_cwru.py [--checkpoint model.pt] [--calib-size N] [--tag NAME]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent / "drsn-edge"

from drsn_edge.data.spec import load_windows  # noqa: E402
from drsn_edge.evaluate import compare  # noqa: E402
from drsn_edge.registry import load_predictor  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--checkpoint", default=None, help="default: train one (60 epochs, seed 0)")
    parser.add_argument("--tag", default="default")
    parser.add_argument("--convert-args", default="", help="extra arguments for drsn-edge convert")
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"convert_cwru_{args.tag}"
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoint) if args.checkpoint else ROOT / "benchmarks" / "results" / "models" / "drsn_cw_cwru_s0.pt"
    if not ckpt.exists():
        subprocess.run([str(BIN), "train", "--data", args.data, "--arch", "drsn-cw", "--epochs", "60",
                        "--seed", "0", "--out", str(ckpt), "--quiet"], check=True)
    build = folder / "build"
    start = time.time()
    subprocess.run([str(BIN), "convert", str(ckpt), "--out", str(build), "--force", "--quiet",
                    *args.convert_args.split()], check=True)
    convert_s = time.time() - start
    validation = json.loads((build / "validation.json").read_text())
    sidecar = json.loads((build / "model.json").read_text())

    test = load_windows(args.data, split="test")
    predictors = [load_predictor(ckpt), load_predictor(build / "model_int8.tflite")]
    result = compare(predictors, test, seed=1234)
    params = sidecar["parameters"]
    size = (build / "model_int8.tflite").stat().st_size
    record = {
        "checkpoint": str(ckpt), "convert_seconds": round(convert_s, 1), "parameters": params,
        "macs": sidecar["macs"], "int8_bytes": size, "bytes_per_parameter": round(size / params, 2),
        "float32_bytes": (build / "model_float32.tflite").stat().st_size,
        "ops": validation["int8_graph"]["ops"], "transpose_ops": validation["int8_graph"]["ops"].get("TRANSPOSE", 0),
        "tflm_arena_bytes": sidecar.get("tflm_arena_bytes"), "tflm": validation.get("tflm"),
        "validation_end_to_end": validation["int8"]["end_to_end"], "sweep": result,
        "units": {u: {"sqnr_db": m["sqnr_db"], "tau_median_rel_error": m["tau_rel_error"]["median"],
                      "float_zeros_kept": m["dead_zone"]["float_zeros_kept"]}
                  for u, m in validation["int8"]["units"].items()},
    }
    (folder / "result.json").write_text(json.dumps(record, indent=1, default=float))
    f, q = result["models"]
    lines = [f"convert: {convert_s:.1f} s; int8 file {size} bytes = {size / params:.2f} bytes/parameter "
             f"({params} parameters); TRANSPOSE ops: {record['transpose_ops']}; TFLM arena {record['tflm_arena_bytes']} B",
             "", "| noise | SNR dB | float | int8 | loss (points) | top-1 agreement |", "|---|---|---|---|---|---|"]
    for row in [result["clean"], *result["cells"]]:
        snr = "-" if row["snr_db"] is None else f"{row['snr_db']:g}"
        a_f, a_q = row["accuracy"][f], row["accuracy"][q]
        lines.append(f"| {row['noise']} | {snr} | {a_f:.4f} | {a_q:.4f} | {100 * (a_f - a_q):+.2f} | "
                     f"{row['agreement'][q]:.4f} |")
    lines.append(f"| **mean noisy** | | {result['noisy_mean'][f]:.4f} | {result['noisy_mean'][q]:.4f} | "
                 f"{100 * (result['noisy_mean'][f] - result['noisy_mean'][q]):+.2f} | "
                 f"{np.mean([r['agreement'][q] for r in result['cells']]):.4f} |")
    (folder / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
