"""Field validity: train on CWRU 0 HP, test on 1 HP (a load the model never saw), clean and under noise.

Every (architecture, seed) is trained with `drsn-edge train` exactly as a user
would (documented defaults plus the recipe's extra options, one torch thread),
then scored on the 0 HP test span (same condition, the reference) and on the
1 HP test span, clean and under Gaussian, Laplacian and pink noise at -5, 0
and 5 dB; then adapted to 1 HP with AdaBN (`drsn-edge adapt`, unlabelled 1 HP
training-span windows) and scored again on the 1 HP test span. One JSON per
run plus a Markdown summary (mean and spread over seeds). Resumable: a run
whose checkpoint exists is not retrained, a run whose JSON exists is skipped.

    python benchmarks/cross_condition.py --seeds 0,1,2 --tag default
    python benchmarks/cross_condition.py --archs drsn-cw,resnet --tag jitter4 --train-args "--speed-jitter 0.04"
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARCH_ORDER = ("convnet", "resnet", "drsn-cs", "drsn-cw")
SOURCE = f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}"
TARGET = f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_1hp'}"


def train_one(job: dict) -> float:
    """Train one (arch, seed) through the CLI unless its checkpoint exists; returns seconds spent."""
    from drsn_edge.cli import main

    pt = Path(job["out"]).with_suffix(".pt")
    if pt.exists():
        return 0.0
    pt.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    argv = ["train", "--data", job["train_data"], "--arch", job["arch"], "--seed", str(job["seed"]),
            "--threads", "1", "--quiet", "--out", str(pt), *job["train_args"]]
    if main(argv) != 0:
        raise SystemExit(f"training failed: {' '.join(argv)}")
    return time.time() - start


def run_one(job: dict) -> dict | None:
    """Train (if needed); the evaluation is added in the next step."""
    out = Path(job["out"])
    if out.exists():
        return json.loads(out.read_text())
    seconds = train_one(job)
    print(f"{job['arch']:>8} seed {job['seed']}: trained in {seconds:.0f} s", flush=True)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", default=SOURCE, help="what the models are trained on")
    parser.add_argument("--target", default=TARGET, help="the condition the models never saw")
    parser.add_argument("--archs", default=",".join(ARCH_ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train-args", default="", help="extra `drsn-edge train` options (the recipe)")
    parser.add_argument("--tag", default="default", help="name of this recipe in the results folder")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"cross_condition_{args.tag}"
    jobs = [{"train_data": args.train_data, "target": args.target, "arch": a, "seed": int(s),
             "train_args": shlex.split(args.train_args), "out": str(folder / f"{a}_seed{s}.json")}
            for s in args.seeds.split(",") for a in args.archs.split(",")]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        pool.map(run_one, jobs, chunksize=1)


if __name__ == "__main__":
    main()
