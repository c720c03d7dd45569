"""How long the default `drsn-edge report` takes for one paper-size DRSN-CW on CWRU 0 HP (target: under 5 min).

Trains a checkpoint if none is given (5 epochs: accuracy does not matter for the
time), converts it, then times the default report (every runtime, clean plus
3 noise types x 11 SNRs on the whole test split) as a subprocess, with its CPU
time and the machine's load average, since the machine is shared.

    python benchmarks/report_cwru.py [--checkpoint model.pt] [--tag NAME]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "drsn_edge.cli"]


def run(*args: str) -> None:
    subprocess.run([*CLI, *args], check=True, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tag", default="default")
    parser.add_argument("--report-args", default="", help="extra arguments for drsn-edge report")
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"report_cwru_{args.tag}"
    work = ROOT / "build" / f"report_cwru_{args.tag}"  # build and report: not committed (build/ is ignored)
    work.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = Path(args.checkpoint) if args.checkpoint else work / "drsn_cw_5ep.pt"
    if not ckpt.exists():
        run("train", "--data", args.data, "--arch", "drsn-cw", "--epochs", "5", "--seed", "0", "--out", str(ckpt),
            "--quiet")
    build = work / "build"
    if not (build / "model.json").exists():
        run("convert", str(ckpt), "--out", str(build), "--force", "--quiet")

    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    run("report", str(build), "--data", args.data, "--out", str(work / "report"), "--force", "--quiet",
        *args.report_args.split())
    seconds = time.time() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    report = json.loads((work / "report" / "report.json").read_text())
    model = report["models"][0]
    cells = 1 + len(model["sweep"]["cells"])
    record = {
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "load_average_before": load_before,
        "load_average_after": os.getloadavg(), "windows": report["data"]["n"], "cells": cells,
        "runtimes": model["runtimes"], "latency_ms_per_window": model["latency_ms_per_window"],
        "verdict": report["verdict"], "report_html_bytes": (work / "report" / "report.html").stat().st_size,
        "report_json_bytes": (work / "report" / "report.json").stat().st_size,
    }
    (folder / "result.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.copy(work / "report" / "report.md", folder / "report.md")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
