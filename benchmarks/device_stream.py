"""Streaming figures of the monitoring firmware per board: instructions (QEMU) per inference, windows per
second and real-time factor at the board's clock, flash/RAM of the image, and bit-exactness on the way.

Exports the C engine of a `drsn-edge convert` build, runs `drsn-edge validate-device` on every board with a
monitor (QEMU: -icount shift=0, so the counts are instructions, not cycles; the rate at the board's clock
assumes one instruction per cycle) and records a board the model does not fit.

    python benchmarks/device_stream.py --build BUILD_DIR [--windows 20] [--tag NAME]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.cli import main as cli  # noqa: E402
from drsn_edge.errors import DrsnError  # noqa: E402
from firmware_export.boards import BOARDS  # noqa: E402
from firmware_export.c_engine.target import load_fw_info  # noqa: E402
from firmware_export.device import image  # noqa: E402
from firmware_export.device.validate import validate_device, validate_table  # noqa: E402


def board_figures(fw: Path, board: str, data: str, windows: int, work: Path) -> dict:
    info = load_fw_info(fw)
    try:
        sizes = image.size(image.build(fw, board, work / board)["elf"])
    except DrsnError as exc:
        return {"board": board, "fits": False, "error": str(exc)}
    result = validate_device(fw, board, data, limit=windows, progress=False)
    print(validate_table(result))
    timing = result["timing"]
    per_inference = timing[f"{timing['unit']}_per_inference"]
    seconds = per_inference / timing["core_hz"]
    window_s = info["window_length"] / info["preprocessing"]["sample_rate"]
    return {"board": board, "fits": True, **sizes, "windows": result["windows"], "litert": result["litert"],
            "unit": timing["unit"], "per_inference": per_inference, "core_hz": timing["core_hz"],
            "windows_per_second": 1 / seconds, "real_time_factor_hop_window": window_s / seconds,
            "max_overlap_hop_samples": int(info["preprocessing"]["sample_rate"] * seconds) + 1}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, help="a drsn-edge convert build directory")
    p.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    p.add_argument("--windows", type=int, default=20)
    p.add_argument("--tag", default="default")
    args = p.parse_args()
    out = ROOT / "benchmarks" / "results" / f"device_stream_{args.tag}"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fw = Path(tmp) / "fw"
        if cli(["export", args.build, "--target", "c", "--out", str(fw)]) != 0:
            raise SystemExit("export failed")
        rows = [board_figures(fw, name, args.data, args.windows, Path(tmp))
                for name, board in BOARDS.items() if board.monitor]
    (out / "result.json").write_text(json.dumps(rows, indent=2) + "\n")
    for row in rows:
        if row["fits"]:
            print(f"{row['board']}: {row['per_inference']:,.0f} {row['unit']}/inference, "
                  f"{row['windows_per_second']:.2f} windows/s at {row['core_hz'] / 1e6:g} MHz, real-time factor "
                  f"{row['real_time_factor_hop_window']:.2f} (hop = window), {row['litert']['max_lsb']} LSB")
        else:
            print(f"{row['board']}: {row['error']}")


if __name__ == "__main__":
    main()
