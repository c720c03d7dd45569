"""Which activation-range choice keeps int8 closest to float, for the paper-size DRSN-CW on CWRU 0 HP.

For each (range method, calibration size) it quantises the same SavedModel
and measures float and int8 accuracy on the CWRU test span, clean and in every
noise cell, with per-cell top-1 agreement. One SavedModel, many quantisations:
only the activation ranges differ between rows.

    python benchmarks/int8_ranges.py --checkpoint model.pt --methods minmax,mse,percentile:99.99 --calib-sizes 256
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.checkpoint import load_checkpoint  # noqa: E402
from drsn_edge.data.spec import load_windows  # noqa: E402
from drsn_edge.evaluate import compare  # noqa: E402
from drsn_edge.predictor import TorchPredictor  # noqa: E402
from quantize.convert.calibration import window_sets  # noqa: E402
from quantize.convert.onnx_export import LOGITS_NAME, export_probed_onnx  # noqa: E402
from quantize.convert.ranges import RangeMethod  # noqa: E402
from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from drsn_edge.buildinfo import BuildInfo  # noqa: E402
from quantize.convert.tflite_convert import convert_saved_model, onnx_to_saved_model  # noqa: E402
from quantize.tflite.graph import keep_outputs  # noqa: E402


def summarise(result: dict) -> dict:
    f, q = result["models"]
    rows = [result["clean"], *result["cells"]]
    losses = [100 * (r["accuracy"][f] - r["accuracy"][q]) for r in result["cells"]]
    worst = int(np.argmax(losses))
    return {
        "clean_float": result["clean"]["accuracy"][f], "clean_int8": result["clean"]["accuracy"][q],
        "clean_loss": 100 * (result["clean"]["accuracy"][f] - result["clean"]["accuracy"][q]),
        "noisy_float": result["noisy_mean"][f], "noisy_int8": result["noisy_mean"][q],
        "mean_loss": float(np.mean(losses)), "worst_loss": losses[worst],
        "worst_cell": f"{result['cells'][worst]['noise']} {result['cells'][worst]['snr_db']:g} dB",
        "agreement": float(np.mean([r["agreement"][q] for r in rows])),
        "min_agreement": float(min(r["agreement"][q] for r in rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--checkpoint", default=str(ROOT / "benchmarks" / "results" / "models" / "drsn_cw_cwru_s0.pt"))
    parser.add_argument("--methods", default="minmax,mean-minmax,percentile:99.99,percentile:99.9,mse")
    parser.add_argument("--calib-sizes", default="256")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="default")
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"int8_ranges_{args.tag}"
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(args.checkpoint)
    saved = folder / "saved_model"
    if not (saved / "saved_model.pb").exists():
        export_probed_onnx(ckpt.build(), folder / "probed.onnx")
        onnx_to_saved_model(folder / "probed.onnx", saved)
    build = BuildInfo(name=ckpt.name, classes=ckpt.classes, preprocessing=ckpt.preprocessing)
    build.save(folder)
    test = load_windows(args.data, split="test")
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for size in [int(s) for s in args.calib_sizes.split(",")]:
        sets = window_sets(ckpt, None, size, 1, args.seed)
        for method in [RangeMethod.parse(m) for m in args.methods.split(",")]:
            key = f"{method}|{size}|{args.seed}"
            if key in results:
                continue
            start = time.time()
            model = convert_saved_model(saved, "int8", sets.calibration, ranges=method)
            path = folder / f"int8_{str(method).replace(':', '_')}_{size}_{args.seed}.tflite"
            path.write_bytes(keep_outputs(model, {"output_0": LOGITS_NAME}))
            seconds = time.time() - start
            result = compare([TorchPredictor(ckpt), LiteRTPredictor(path, build)], test, seed=1234, progress=False)
            results[key] = {**summarise(result), "quantise_seconds": round(seconds, 1), "bytes": path.stat().st_size,
                            "sweep": result}
            on_disk = json.loads(results_path.read_text()) if results_path.exists() else {}
            results = {**on_disk, **results}  # another run may have added rows meanwhile
            results_path.write_text(json.dumps(results, indent=1))
            s = results[key]
            print(f"{key:<28} clean {s['clean_loss']:+.2f}  mean {s['mean_loss']:+.2f}  worst {s['worst_loss']:+.2f} "
                  f"({s['worst_cell']})  agree {s['agreement']:.4f} min {s['min_agreement']:.4f}  [{seconds:.0f} s]",
                  flush=True)


if __name__ == "__main__":
    main()
