"""Reproduce the paper's comparison: ConvNet, ResNet, DRSN-CS, DRSN-CW under noise.

Trains every architecture for several seeds on one data source, evaluates each
on the test split clean and under Gaussian, Laplacian and pink noise at
-5 ... 5 dB, and writes one JSON per run plus a Markdown summary (mean and
spread over seeds). Runs are resumable: finished runs are skipped.

    python benchmarks/paper_noise_sweep.py --data cwru:../shared/data/cwru_0hp --seeds 0,1,2
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drsn_edge.checkpoint import save_checkpoint  # noqa: E402
from drsn_edge.data.spec import load_splits, resolve_spec  # noqa: E402
from drsn_edge.evaluate import sweep  # noqa: E402
from drsn_edge.models import ModelConfig  # noqa: E402
from drsn_edge.predictor import TorchPredictor  # noqa: E402
from drsn_edge.train import TrainConfig, train  # noqa: E402

ARCH_ORDER = ("convnet", "resnet", "drsn-cs", "drsn-cw")


def run_one(job: dict) -> dict:
    """Train and sweep one (arch, seed); executed in a worker with one torch thread."""
    out = Path(job["out"])
    if out.exists():
        return json.loads(out.read_text())
    splits = load_splits(job["data"])
    cfg = TrainConfig(threads=1, seed=job["seed"], **job["train"])
    model_cfg = ModelConfig(arch=job["arch"], widths=job["widths"])
    start = time.time()
    ckpt = train(splits, model_cfg, cfg, progress=False,
                 data_summary={"spec": job["data"], "spec_resolved": resolve_spec(job["data"]), "channel": "DE"})
    train_s = time.time() - start
    save_checkpoint(ckpt, out.with_suffix(".pt"))  # kept locally (not committed) for convert benchmarks
    result = sweep(TorchPredictor(ckpt), splits.test, seed=1234, progress=False)
    low = [c["accuracy"] for c in result["cells"] if c["snr_db"] <= 0]
    record = {
        "data": job["data"], "arch": job["arch"], "seed": job["seed"], "train": job["train"],
        "widths": job["widths"], "parameters": ckpt.training["parameters"],
        "train_seconds": round(train_s, 1), "epochs_run": ckpt.training["epochs_run"],
        "best_epoch": ckpt.training["best_epoch"], "val_accuracy": ckpt.metrics["val_accuracy"],
        "n_test": len(splits.test), "clean": result["clean"], "noisy_mean": result["noisy_mean"],
        "low_snr_mean": float(np.mean(low)), "cells": result["cells"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"{job['arch']:>8} seed {job['seed']}: clean {record['clean']:.4f} noisy {record['noisy_mean']:.4f} "
          f"low-SNR {record['low_snr_mean']:.4f} ({train_s:.0f} s)", flush=True)
    return record


def summarise(records: list[dict], title: str) -> str:
    """Markdown: mean ± std over seeds, per architecture, plus per-noise-type means."""
    lines = [f"### {title}", "",
             "| model | params | seeds | clean | noisy mean | SNR <= 0 dB | gaussian | laplacian | pink | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def ms(values: list[float]) -> str:
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}"

    for arch in ARCH_ORDER:
        rs = [r for r in records if r["arch"] == arch]
        if not rs:
            continue
        by_noise = {k: [np.mean([c["accuracy"] for c in r["cells"] if c["noise"] == k]) for r in rs]
                    for k in ("gaussian", "laplacian", "pink")}
        lines.append(
            f"| {arch} | {rs[0]['parameters']} | {len(rs)} | {ms([r['clean'] for r in rs])} | "
            f"{ms([r['noisy_mean'] for r in rs])} | {ms([r['low_snr_mean'] for r in rs])} | "
            + " | ".join(f"{np.mean(v):.4f}" for v in by_noise.values())
            + f" | {np.mean([r['train_seconds'] for r in rs]):.0f} |"
        )
    snrs = sorted({c["snr_db"] for r in records for c in r["cells"]})
    lines += ["", "Accuracy per SNR (mean over noise types and seeds):", "",
              "| model | " + " | ".join(f"{s:g} dB" for s in snrs) + " |",
              "|---|" + "---|" * len(snrs)]
    for arch in ARCH_ORDER:
        rs = [r for r in records if r["arch"] == arch]
        if rs:
            row = [np.mean([c["accuracy"] for r in rs for c in r["cells"] if c["snr_db"] == s]) for s in snrs]
            lines.append(f"| {arch} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--archs", default=",".join(ARCH_ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--snr", default="-5,5")
    parser.add_argument("--clean-fraction", type=float, default=0.2)
    parser.add_argument("--patience", type=int, default=1000)
    parser.add_argument("--widths", default="4,8,16")
    parser.add_argument("--tag", default="default", help="name of this recipe in the results folder")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    low, high = (float(v) for v in args.snr.split(","))
    train_cfg = {"epochs": args.epochs, "lr": args.lr, "optimizer": args.optimizer, "snr_db": (low, high),
                 "clean_fraction": args.clean_fraction, "patience": args.patience}
    widths = [int(w) for w in args.widths.split(",")]
    data_tag = args.data.split(":")[0]
    folder = ROOT / "benchmarks" / "results" / f"paper_noise_sweep_{data_tag}_{args.tag}"
    jobs = [{"data": args.data, "arch": a, "seed": int(s), "train": train_cfg, "widths": widths,
             "out": str(folder / f"{a}_seed{s}.json")}
            for s in args.seeds.split(",") for a in args.archs.split(",")]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        records = pool.map(run_one, jobs, chunksize=1)
    title = f"{data_tag}, recipe '{args.tag}': {train_cfg}"
    summary = summarise(records, title)
    (folder / "summary.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()
