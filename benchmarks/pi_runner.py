"""Speed and memory of the Raspberry Pi runner (``drsn_runner.py``) on this machine.

The paper-size DRSN-CW's bundle runs on the CWRU 0 HP test split joined into
one stream, as a separate process exactly as on a device. For each setting the
stream is run twice, with one window and with N windows: the difference gives
the steady rate (windows/s, without Python and interpreter start-up), the short
run gives the start-up time, and ``wait4`` gives the long run's peak RSS.

    python benchmarks/pi_runner.py [--bundle DIR] [--windows 300]

Without ``--bundle`` it trains (3 epochs), converts and exports one under
benchmarks/results/pi_runner/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.data.spec import load_windows  # noqa: E402

SETTINGS = [  # (label, format, hop as a fraction of the window, runner options)
    ("float32, hop = window, reference kernels", "float32", 1.0, ["--kernels", "reference"]),
    ("float32, hop = window, optimized kernels", "float32", 1.0, ["--kernels", "optimized"]),
    ("float32, hop = window/4, reference kernels", "float32", 0.25, ["--kernels", "reference"]),
    ("text, hop = window, reference kernels", "text", 1.0, ["--kernels", "reference"]),
    ("int16 at 48 kHz (resampled), hop = window, reference", "int16", 1.0, ["--kernels", "reference", "--rate", "48000"]),
]


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "drsn_edge.cli", *args], cwd=ROOT, check=True)


def make_bundle(data: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ckpt, build, bundle = folder / "drsn_cw_3ep.pt", folder / "build", folder / "bundle"
    if not ckpt.exists():
        cli("train", "--data", data, "--epochs", "3", "--seed", "0", "--out", str(ckpt), "--quiet")
    if not build.exists():
        cli("convert", str(ckpt), "--out", str(build), "--no-tflm", "--quiet")
    if not bundle.exists():
        cli("export", str(build), "--target", "pi", "--out", str(bundle))
    return bundle


def write_stream(path: Path, samples: np.ndarray, fmt: str) -> None:
    if fmt == "float32":
        path.write_bytes(samples.astype("<f4").tobytes())
    elif fmt == "int16":
        path.write_bytes(np.clip(np.round(samples * 8000), -32768, 32767).astype("<i2").tobytes())
    else:
        path.write_text("\n".join(f"{v:.6g}" for v in samples) + "\n")


def high_water_kb(pid: int) -> int:
    """The runner's peak RSS so far (VmHWM), 0 before it has replaced the forked benchmark image.

    Not ``wait4``'s ru_maxrss: that also counts the parent's pages at fork time,
    and this parent holds the data set.
    """
    try:
        if b"drsn_runner.py" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:  # it has just ended
        pass
    return 0


def run(bundle: Path, stream: Path, fmt: str, options: list[str], threads: int) -> dict:
    """One runner process on ``stream``: wall time, peak RSS (wait4) and the JSON lines."""
    out, err = stream.with_suffix(".out"), stream.with_suffix(".err")
    began = time.perf_counter()
    peak_kb = 0
    with open(out, "w") as sink, open(err, "w") as errors:
        proc = subprocess.Popen([sys.executable, str(bundle / "drsn_runner.py"), "--input", str(stream),
                                 "--format", fmt, "--threads", str(threads), *options], stdout=sink, stderr=errors)
        while proc.poll() is None:
            peak_kb = max(peak_kb, high_water_kb(proc.pid))
            time.sleep(0.02)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise SystemExit(f"runner failed: {err.read_text()}")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "windows": len(records), "records": records,
            "latency_ms_median": float(np.median([r["latency_ms"] for r in records])) if records else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    parser.add_argument("--bundle", default=None)
    parser.add_argument("--windows", type=int, default=300, help="windows in the long run")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / "pi_runner"
    bundle = Path(args.bundle) if args.bundle else make_bundle(args.data, folder)
    config = json.loads((bundle / "config.json").read_text())
    length, rate = int(config["window_length"]), float(config["sample_rate"])
    test = load_windows(args.data, split="test", window_length=length)
    stream = np.tile(test.x.reshape(-1), 1 + (args.windows * length) // test.x.size)
    folder.mkdir(parents=True, exist_ok=True)

    rows, classes = [], {}
    for label, fmt, hop_fraction, options in SETTINGS:
        hop = int(length * hop_fraction)
        in_rate = float(options[options.index("--rate") + 1]) if "--rate" in options else rate
        per_model_sample = in_rate / rate
        runs = {}
        for n in (1, args.windows):
            samples_needed = int((length + (n - 1) * hop) * per_model_sample) + 200
            source = stream[:samples_needed] if in_rate == rate else np.interp(
                np.arange(samples_needed) / in_rate, np.arange(stream.size) / rate, stream)
            path = folder / f"stream_{fmt}_{n}.{'txt' if fmt == 'text' else 'raw'}"
            write_stream(path, source, fmt)
            runs[n] = run(bundle, path, fmt, options + ["--hop", str(hop)], args.threads)
            for leftover in (path, path.with_suffix(".out"), path.with_suffix(".err")):
                leftover.unlink()
        long, short = runs[args.windows], runs[1]
        classes[label] = [r["class"] for r in long.pop("records")]
        short.pop("records")
        steady = (long["windows"] - short["windows"]) / (long["wall_s"] - short["wall_s"])
        rows.append({"setting": label, "hop": hop, "windows": long["windows"], "windows_per_s": steady,
                     "realtime_factor": steady * hop / rate, "startup_s": short["wall_s"],
                     "latency_ms_median": long["latency_ms_median"], "peak_rss_mb": long["peak_rss_mb"]})
        print(f"{label}: {steady:.1f} windows/s, peak RSS {long['peak_rss_mb']:.0f} MB", flush=True)

    reference, optimized = classes[SETTINGS[0][0]], classes[SETTINGS[1][0]]
    agreement = float(np.mean([a == b for a, b in zip(reference, optimized)]))
    print(f"optimized vs reference kernels: same class on {agreement:.4f} of {len(reference)} windows")
    result = {"optimized_vs_reference_top1_agreement": agreement, "bundle": str(bundle), "model": config["name"], "window_length": length, "sample_rate": rate,
              "threads": args.threads, "cpu": os.cpu_count(), "rows": rows}
    (folder / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\n| setting | windows/s | x real time | start-up s | median latency ms | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['windows_per_s']:.0f} | {r['realtime_factor']:.0f} | {r['startup_s']:.2f} | "
              f"{r['latency_ms_median']:.2f} | {r['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
