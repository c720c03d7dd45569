"""The integer int8 input against the float one it replaced: same int8 model, every CWRU test window.

Old: ``Preprocessing.apply`` (float64 z-score) then round half to even. New:
``drsn_edge.int8_input`` (integers only, what every int8 runtime computes now).
Reports input bytes that differ, logits, top-1 agreement and accuracy of both
(LiteRT reference kernels), clean and with Laplacian noise at -4 dB SNR.

    python benchmarks/int8_input.py --build int8/ [--data cwru:DIR] [--limit N] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.buildinfo import load_build_info  # noqa: E402
from drsn_edge.data.spec import load_windows  # noqa: E402
from drsn_edge.evaluate import labels_in_model_order, noisy_windows  # noqa: E402
from drsn_edge.int8_input import Int8Input, quantize_float  # noqa: E402
from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402


def compare(model: LiteRTPredictor, x: np.ndarray, y: np.ndarray) -> dict:
    """Old and new int8 inputs of raw windows ``x`` through ``model``: differences and accuracies."""
    scale, zero = model.input_int8()
    old_in = quantize_float(model.preprocessing.apply(x), scale, zero, np.int8)
    new_in = Int8Input(model.preprocessing, scale, zero).from_float(x)
    old, new = model.raw_outputs(old_in)[0], model.raw_outputs(new_in)[0]
    diff = np.abs(old_in.astype(int) - new_in.astype(int))
    return {"windows": len(x), "input_bytes_differing": float(np.mean(diff > 0)), "input_max_lsb": int(diff.max()),
            "identical_logits": float(np.mean((old == new).all(axis=1))),
            "top1_agreement": float(np.mean(old.argmax(1) == new.argmax(1))),
            "accuracy_old": float(np.mean(old.argmax(1) == y)), "accuracy_new": float(np.mean(new.argmax(1) == y))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="a build directory (drsn-edge convert)")
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    build = Path(args.build)
    info = load_build_info(build)
    model = LiteRTPredictor(build / "model_int8.tflite", info)
    windows = load_windows(args.data, split="test", window_length=info.preprocessing.window_length)
    y = labels_in_model_order(windows, info.classes)[:args.limit]
    result = {"clean": compare(model, windows.x[:args.limit], y),
              "laplacian_-4dB": compare(model, noisy_windows(windows, "laplacian", -4.0, seed=0)[:args.limit], y)}
    for name, r in result.items():
        print(f"{name:<15} {r['windows']} windows: input bytes differing {100 * r['input_bytes_differing']:.4f} % "
              f"(max {r['input_max_lsb']} LSB), identical logits {100 * r['identical_logits']:.2f} %, top-1 "
              f"agreement {100 * r['top1_agreement']:.2f} %, accuracy {r['accuracy_old']:.4f} -> "
              f"{r['accuracy_new']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
