"""Every Cortex-M core QEMU emulates here, from the M0 to the M55: instructions per inference, flash, RAM and
bit-exactness of the monitoring firmware, and the real-time factor at each core's typical clock.

Two models, each a `drsn-edge convert` build of a DRSN-CW trained on CWRU 0 HP: the paper-size one (--build)
and one small enough for the micro:bit's 16 KB RAM (--small-build; without it the board registry's micro:bit
options train one here, one thread, --epochs). Each is exported as C and `drsn-edge validate-device` runs on
every board with a monitoring firmware (benchmarks/device_stream.py's board_figures): CWRU test windows
streamed over the emulated UART, the device's int8 logits compared with LiteRT's reference kernels, the board
timer's count per inference. A board a model does not fit is recorded with the bytes it is over by.

QEMU counts instructions, not cycles (-icount shift=0: 1 ns of virtual time per instruction, which SysTick or
the board's timer counts). The real-time factor (window duration / inference time, hop = window) at each
core's typical clock assumes one instruction per cycle: an upper bound on silicon, where loads, multiplies,
taken branches and flash wait states cost more cycles (and dual issue on the M7 and M55 fewer).
The script measures whatever engine the export produces: re-run it after the engine changes.

    python benchmarks/cortex_m_cores.py --build BUILD_DIR [--small-build BUILD_DIR] [--windows 20] [--tag NAME]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from device_stream import board_figures  # noqa: E402

from drsn_edge.cli import main as cli  # noqa: E402
from drsn_edge.errors import DrsnError  # noqa: E402
from firmware_export.boards import BOARDS, get_board  # noqa: E402

# A chip that is typical for each core, and its top clock: the real-time factor is given at this clock.
TYPICAL = {
    "Cortex-M0": ("nRF51822 (BBC micro:bit v1)", 16e6),
    "Cortex-M3": ("STM32F103", 72e6),
    "Cortex-M4F": ("STM32F405", 168e6),
    "Cortex-M7": ("STM32F746", 216e6),
    "Cortex-M33": ("STM32U585", 160e6),
    "Cortex-M55": ("Alif Ensemble E7, high-performance core", 400e6),
}


def train_small(data: str, epochs: int, work: Path) -> Path:
    """The micro:bit-size model with the board registry's options (one thread: deterministic)."""
    model, build = work / "small.pt", work / "small_build"
    print(f"training the micro:bit-size model ({epochs} epochs) ...", flush=True)
    if cli(["train", "--data", data, "--arch", "drsn-cw", *get_board("microbit").small_model, "--epochs", str(epochs),
            "--seed", "0", "--threads", "1", "--out", str(model), "--quiet"]) != 0:
        raise SystemExit("training failed")
    if cli(["convert", str(model), "--out", str(build), "--no-tflm", "--calib-size", "64", "--quiet"]) != 0:
        raise SystemExit("convert failed")
    return build


def core_rows(build: str, label: str, data: str, windows: int, work: Path) -> list[dict]:
    folder = work / label.replace(":", "")  # make cannot take a ':' in a path
    fw = folder / "fw"
    if cli(["export", str(build), "--target", "c", "--out", str(fw)]) != 0:
        raise SystemExit("export failed")
    info = json.loads((fw / "fw.json").read_text())
    window_s = info["window_length"] / info["preprocessing"]["sample_rate"]
    rows = []
    for name, board in BOARDS.items():
        if not board.monitor:
            continue
        print(f"[{label}] {name} ({board.core}) ...", flush=True)
        try:
            row = board_figures(fw, name, data, windows, folder)
        except DrsnError as exc:
            row = {"board": name, "fits": False, "error": str(exc)}
        chip, hz = TYPICAL[board.core]
        row.update({"model": label, "core": board.core, "qemu_machine": board.qemu_machine,
                    "window_length": info["window_length"], "arena_bytes": info["arena_bytes"],
                    "typical_chip": chip, "typical_hz": hz})
        if row["fits"]:
            seconds = row["per_inference"] / hz
            row.update({"ms_at_typical_clock": seconds * 1e3, "real_time_factor_at_typical_clock": window_s / seconds})
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | core (board, QEMU machine) | flash | RAM (static + stack) | vs LiteRT int8 | instructions per "
             "inference | ms at typical clock (chip) | real-time factor |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        where = f"{r['core']} ({r['board']}, `{r['qemu_machine']}`)"
        if not r["fits"]:
            lines.append(f"| {r['model']} | {where} | {r['error'].split(':', 1)[-1].split('(')[0].strip()} "
                         "| | | | | |")
            continue
        a = r["litert"]
        lines.append(f"| {r['model']} | {where} | {r['flash_bytes']:,} B | {r['static_ram_bytes']:,} + "
                     f"{r['stack_bytes']:,} B | {a['identical_windows']}/{r['windows']} identical, {a['max_lsb']} LSB | "
                     f"{r['per_inference'] / 1e6:.2f} M | {r['ms_at_typical_clock']:.1f} ms at "
                     f"{r['typical_hz'] / 1e6:g} MHz ({r['typical_chip']}) | {r['real_time_factor_at_typical_clock']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, help="a drsn-edge convert build of the paper-size DRSN-CW")
    p.add_argument("--small-build", default=None, help="a convert build that fits the micro:bit (default: train one)")
    p.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    p.add_argument("--epochs", type=int, default=30, help="epochs of the micro:bit-size model when trained here")
    p.add_argument("--windows", type=int, default=20, help="CWRU test windows per board and model")
    p.add_argument("--tag", default="default")
    args = p.parse_args()
    out = ROOT / "benchmarks" / "results" / f"cortex_m_cores_{args.tag}"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = args.small_build or train_small(args.data, args.epochs, work)
        rows = [*core_rows(args.build, "paper-size", args.data, args.windows, work),
                *core_rows(small, "micro:bit-size", args.data, args.windows, work)]
    (out / "result.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "table.md").write_text(table(rows) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
