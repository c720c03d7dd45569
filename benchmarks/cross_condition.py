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
    python benchmarks/cross_condition.py --tag valcond --train-data "cwru:../shared/data/cwru_0hp+../shared/data/cwru_1hp" \
        --train-args "--val-condition 1hp"   # trains on 0 HP only, selects the epoch on 1 HP
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shlex
import sys
import time
from pathlib import Path

import numpy as np

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


SNRS = (-5.0, 0.0, 5.0)
NOISE_SEED = 1234  # test noise, as in paper_noise_sweep.py
ADAPT_NOISE_SEED = 99  # noise on the unlabelled adaptation windows of the per-cell variant


def _cells(result: dict) -> dict:
    """A sweep's result trimmed to what the summary reads."""
    return {"clean": result["clean"], "noisy_mean": result["noisy_mean"],
            "cells": [{"noise": c["noise"], "snr_db": c["snr_db"], "accuracy": c["accuracy"]} for c in result["cells"]]}


def evaluate_one(pt: Path, target: str, source_test, target_train, target_test) -> dict:
    """The model on 0 HP and 1 HP, then adapted to 1 HP three ways (AdaBN on unlabelled 1 HP training-span windows):
    with the training noise mix (the `adapt` default), clean, and with the test cell's own noise type and SNR."""
    from drsn_edge.adapt import AdaptConfig, adapt
    from drsn_edge.checkpoint import load_checkpoint
    from drsn_edge.evaluate import evaluate, noisy_windows, sweep
    from drsn_edge.predictor import TorchPredictor

    ckpt = load_checkpoint(pt)
    predictor = TorchPredictor(ckpt)
    record = {"same": _cells(sweep(predictor, source_test, snrs_db=SNRS, seed=NOISE_SEED, progress=False)),
              "cross": _cells(sweep(predictor, target_test, snrs_db=SNRS, seed=NOISE_SEED, progress=False))}
    record["cross_confusion"] = evaluate(predictor, target_test)["confusion"]
    for name, noise in (("adabn", "train"), ("adabn_clean", "none")):
        adapted = TorchPredictor(adapt(ckpt, target_train.x, AdaptConfig(noise=noise)))
        record[name] = _cells(sweep(adapted, target_test, snrs_db=SNRS, seed=NOISE_SEED, progress=False))
    per_cell = {"clean": record["adabn_clean"]["clean"], "cells": []}
    for cell in record["adabn_clean"]["cells"]:
        x = noisy_windows(target_train, cell["noise"], cell["snr_db"], ADAPT_NOISE_SEED)
        adapted = TorchPredictor(adapt(ckpt, x, AdaptConfig(noise="none")))
        acc = evaluate(adapted, target_test, cell["noise"], cell["snr_db"], seed=NOISE_SEED)["accuracy"]
        per_cell["cells"].append({**cell, "accuracy": acc})
    per_cell["noisy_mean"] = float(np.mean([c["accuracy"] for c in per_cell["cells"]]))
    record["adabn_cell"] = per_cell
    return record


def run_one(job: dict) -> dict:
    """Train (unless done) and evaluate one (arch, seed); executed in a worker with one torch thread."""
    import torch

    from drsn_edge.checkpoint import load_checkpoint
    from drsn_edge.data.spec import load_splits, load_windows

    out = Path(job["out"])
    if out.exists():
        return json.loads(out.read_text())
    torch.set_num_threads(1)
    seconds = train_one(job)
    pt = out.with_suffix(".pt")
    ckpt = load_checkpoint(pt)
    source_test = load_windows(job["source_test"], split="test")
    target = load_splits(job["target"])
    record = {"arch": job["arch"], "seed": job["seed"], "train_data": job["train_data"], "target": job["target"],
              "train_args": job["train_args"], "parameters": ckpt.training["parameters"],
              "train_seconds": round(seconds, 1) or ckpt.training.get("seconds"),
              "epochs_run": ckpt.training["epochs_run"], "best_epoch": ckpt.training["best_epoch"],
              "val_accuracy": ckpt.metrics["val_accuracy"], "classes": ckpt.classes,
              "n": {"same": len(source_test), "cross": len(target.test), "adapt": len(target.train)},
              **evaluate_one(pt, job["target"], source_test, target.train, target.test)}
    out.write_text(json.dumps(record, indent=1))
    print(f"{job['arch']:>8} seed {job['seed']}: 0 HP clean {record['same']['clean']:.4f} noisy "
          f"{record['same']['noisy_mean']:.4f} | 1 HP clean {record['cross']['clean']:.4f} noisy "
          f"{record['cross']['noisy_mean']:.4f} | AdaBN clean {record['adabn']['clean']:.4f} noisy "
          f"{record['adabn']['noisy_mean']:.4f}", flush=True)
    return record


def _ms(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _by_snr(part: dict, snr: float) -> float:
    return float(np.mean([c["accuracy"] for c in part["cells"] if c["snr_db"] == snr]))


def summarise(records: list[dict], title: str) -> str:
    """Markdown: mean ± std over seeds per architecture; the new condition before and after AdaBN."""
    archs = [a for a in ARCH_ORDER if any(r["arch"] == a for r in records)]
    rows = {a: [r for r in records if r["arch"] == a] for a in archs}
    lines = [f"### {title}", "", "Same condition (0 HP test span) and the new one (1 HP test span, 9 fault classes):", "",
             "| model | params | seeds | 0 HP clean | 0 HP noisy mean | 1 HP clean | 1 HP noisy mean | "
             "1 HP 5 dB | 1 HP 0 dB | 1 HP -5 dB | train s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for a, rs in rows.items():
        lines.append(f"| {a} | {rs[0]['parameters']} | {len(rs)} | {_ms([r['same']['clean'] for r in rs])} | "
                     f"{_ms([r['same']['noisy_mean'] for r in rs])} | {_ms([r['cross']['clean'] for r in rs])} | "
                     f"{_ms([r['cross']['noisy_mean'] for r in rs])} | "
                     + " | ".join(f"{np.mean([_by_snr(r['cross'], s) for r in rs]):.4f}" for s in sorted(SNRS, reverse=True))
                     + f" | {np.mean([r['train_seconds'] or 0 for r in rs]):.0f} |")
    variants = (("cross", "as trained"), ("adabn", "AdaBN, training noise mix"), ("adabn_clean", "AdaBN, clean"),
                ("adabn_cell", "AdaBN, cell's noise"))
    lines += ["", "1 HP test span after AdaBN on the unlabelled 1 HP training span (clean / noisy mean):", "",
              "| model | " + " | ".join(v for _, v in variants) + " |", "|---|" + "---|" * len(variants)]
    for a, rs in rows.items():
        lines.append(f"| {a} | " + " | ".join(
            f"{np.mean([r[k]['clean'] for r in rs]):.4f} / {_ms([r[k]['noisy_mean'] for r in rs])}" for k, _ in variants)
            + " |")
    cells = [(c["noise"], c["snr_db"]) for c in records[0]["cross"]["cells"]]
    lines += ["", "1 HP per cell (mean over seeds), as trained:", "",
              "| model | " + " | ".join(f"{n} {s:g}" for n, s in cells) + " |", "|---|" + "---|" * len(cells)]
    for a, rs in rows.items():
        lines.append(f"| {a} | " + " | ".join(f"{np.mean([r['cross']['cells'][i]['accuracy'] for r in rs]):.3f}"
                                             for i in range(len(cells))) + " |")
    if "drsn-cw" in rows and "resnet" in rows:
        pairs = {r["seed"]: r for r in rows["resnet"]}
        lines += ["", "Does the shrinkage pay? DRSN-CW minus ResNet, same seed, in points (mean ± std over seeds):", ""]
        for key, label in (("same", "0 HP noisy mean"), ("cross", "1 HP clean"), ("cross", "1 HP noisy mean"),
                           ("adabn", "1 HP noisy mean after AdaBN")):
            field = "clean" if label.endswith("clean") else "noisy_mean"
            diffs = [100 * (r[key][field] - pairs[r["seed"]][key][field]) for r in rows["drsn-cw"] if r["seed"] in pairs]
            lines.append(f"- {label}: {np.mean(diffs):+.2f} ± {np.std(diffs):.2f} ({len(diffs)} seeds)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", default=SOURCE, help="what the models are trained on")
    parser.add_argument("--source-test", default=SOURCE, help="the same-condition reference (its test span)")
    parser.add_argument("--target", default=TARGET, help="the condition the models never saw")
    parser.add_argument("--archs", default=",".join(ARCH_ORDER))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train-args", default="", help="extra `drsn-edge train` options (the recipe)")
    parser.add_argument("--tag", default="default", help="name of this recipe in the results folder")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    folder = ROOT / "benchmarks" / "results" / f"cross_condition_{args.tag}"
    jobs = [{"train_data": args.train_data, "source_test": args.source_test, "target": args.target,
             "arch": a, "seed": int(s),
             "train_args": shlex.split(args.train_args), "out": str(folder / f"{a}_seed{s}.json")}
            for s in args.seeds.split(",") for a in args.archs.split(",")]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        records = pool.map(run_one, jobs, chunksize=1)
    summary = summarise(records, f"recipe '{args.tag}': drsn-edge train defaults {args.train_args}".rstrip())
    (folder / "summary.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()
