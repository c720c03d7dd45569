""""unknown" against the issue-15 goals: a converted build's int8 model (its threshold from `convert`) on the
CWRU 0 HP test span (the training condition) and the 1 HP test span (a load it never saw), clean and under
Gaussian, Laplacian and pink noise at -5, 0 and 5 dB; plus, on the float model, how well other scores would
separate wrong from right answers at 1 HP (max logit, energy, softmax probability, margin, and a Mahalanobis
distance of the pooled features, which only PyTorch can compute today).

Goals: on 1 HP at least 80 % of the wrong answers flagged while at most 5 % of the right ones are; on the 0 HP
test span at most 2 % of windows flagged.

    python benchmarks/unknown_detection.py --build build/drsn_cw --tag default
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
SNRS = (-5.0, 0.0, 5.0)
NOISE_SEED = 1234  # as in cross_condition.py


def int8_cells(build: Path, spec: str) -> dict:
    """Per cell (clean first): how the build's threshold flags the int8 model's right and wrong answers."""
    from drsn_edge.data.noise import NOISE_TYPES
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import evaluate
    from drsn_edge.registry import load_predictor

    predictor = load_predictor(build)
    windows = load_windows(spec, split="test")
    cells = {}
    for noise, snr in [(None, None)] + [(k, s) for k in NOISE_TYPES for s in SNRS]:
        result = evaluate(predictor, windows, noise, snr, seed=NOISE_SEED)
        cells["clean" if noise is None else f"{noise} {snr:g}"] = {"accuracy": result["accuracy"],
                                                                    "n": result["n"], **result["unknown"]}
    return cells


def pooled(cells: dict) -> dict:
    """Over the noisy cells: share of all wrong (right) answers flagged, weighting each cell by its counts."""
    noisy = [c for name, c in cells.items() if name != "clean"]
    wrong = sum(c["wrong"] for c in noisy)
    right = sum(c["n"] - c["wrong"] for c in noisy)
    return {"flagged_wrong": sum(c["flagged_wrong"] * c["wrong"] for c in noisy if c["wrong"]) / max(wrong, 1),
            "flagged_right": sum(c["flagged_right"] * (c["n"] - c["wrong"]) for c in noisy) / max(right, 1),
            "flagged": float(np.mean([c["flagged"] for c in noisy])), "wrong": wrong}


def float_scores(checkpoint: Path) -> dict:
    """Each score's separation on the float model at 1 HP, clean: wrong answers flagged when the threshold lets
    5 % of the right ones through (an oracle threshold, set on the test data itself), and the 0 HP share then."""
    import torch
    from scipy.special import logsumexp, softmax

    from drsn_edge.checkpoint import load_checkpoint
    from drsn_edge.data.spec import load_splits, load_windows
    from drsn_edge.evaluate import labels_in_model_order

    torch.set_num_threads(1)
    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build().eval()

    def run(windows):
        with torch.no_grad():
            x = torch.from_numpy(ckpt.preprocessing.apply(windows.x))
            return model(x).numpy(), model.features(x).numpy(), labels_in_model_order(windows, ckpt.classes)

    train_logits, train_feats, train_y = run(load_splits(f"cwru:{DATA / 'cwru_0hp'}").train)
    logits0, feats0, _ = run(load_windows(f"cwru:{DATA / 'cwru_0hp'}", "test"))
    logits1, feats1, y1 = run(load_windows(f"cwru:{DATA / 'cwru_1hp'}", "test"))
    classes = sorted(set(train_y.tolist()))
    means = np.stack([train_feats[train_y == c].mean(0) for c in classes])
    centred = np.concatenate([train_feats[train_y == c] - means[i] for i, c in enumerate(classes)])
    precision = np.linalg.pinv(np.cov(centred.T, bias=True) + 1e-6 * np.eye(centred.shape[1]))

    def mahalanobis(f: np.ndarray) -> np.ndarray:
        return -np.min([np.einsum("ij,jk,ik->i", f - m, precision, f - m) for m in means], axis=0)

    def top2(logits: np.ndarray) -> np.ndarray:
        s = np.sort(logits, 1)
        return s[:, -1] - s[:, -2]

    scores = {"margin": lambda lg, f: top2(lg), "max logit": lambda lg, f: lg.max(1),
              "energy": lambda lg, f: logsumexp(lg, 1), "softmax probability": lambda lg, f: softmax(lg, 1).max(1),
              "pooled-feature Mahalanobis": lambda lg, f: mahalanobis(f)}
    right = logits1.argmax(1) == y1
    out = {"accuracy_1hp": float(right.mean()), "wrong_1hp": int((~right).sum())}
    for name, fn in scores.items():
        s1, s0 = fn(logits1, feats1), fn(logits0, feats0)
        threshold = np.quantile(s1[right], 0.05)
        out[name] = {"flagged_wrong_at_5pct_right": float(np.mean(s1[~right] < threshold)),
                     "flagged_0hp": float(np.mean(s0 < threshold))}
    return out


def summary(result: dict) -> str:
    lines = [f"### unknown detection: {result['build']}", "",
             f"Threshold: margin < {result['threshold']} LSB (calibrated by convert).", "",
             "| data | cell | accuracy | flagged | right flagged | wrong flagged (of n) | answered accuracy |",
             "|---|---|---|---|---|---|---|"]
    for cond in ("0hp", "1hp"):
        for cell, c in result[cond].items():
            lines.append(f"| {cond} | {cell} | {c['accuracy']:.4f} | {c['flagged']:.3f} | {c['flagged_right']:.3f} | "
                         f"{c['flagged_wrong'] if c['flagged_wrong'] is not None else float('nan'):.3f} "
                         f"({c['wrong']}) | {c['answered_accuracy']:.4f} |")
    p = result["1hp_noisy_pooled"]
    lines += ["", f"1 HP noisy cells pooled: {p['flagged_wrong']:.3f} of {p['wrong']} wrong answers flagged, "
                  f"{p['flagged_right']:.3f} of the right ones.", "",
              "Float model, 1 HP clean, oracle threshold letting 5 % of right answers be flagged:", "",
              "| score | wrong flagged | 0 HP flagged |", "|---|---|---|"]
    for name, v in result["float_scores"].items():
        if isinstance(v, dict):
            lines.append(f"| {name} | {v['flagged_wrong_at_5pct_right']:.3f} | {v['flagged_0hp']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from drsn_edge.buildinfo import load_build_info

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", required=True, type=Path, help="a `drsn-edge convert` build directory")
    p.add_argument("--checkpoint", type=Path, default=None, help="float model (default: the build's checkpoint)")
    p.add_argument("--tag", default="default")
    args = p.parse_args()
    info = load_build_info(args.build)
    checkpoint = args.checkpoint or Path(json.loads((args.build / "validation.json").read_text())["checkpoint"])
    result = {"build": str(args.build), "threshold": info.unknown.threshold, "unknown": info.unknown.to_dict(),
              "0hp": int8_cells(args.build, f"cwru:{DATA / 'cwru_0hp'}"),
              "1hp": int8_cells(args.build, f"cwru:{DATA / 'cwru_1hp'}")}
    result["1hp_noisy_pooled"] = pooled(result["1hp"])
    result["float_scores"] = float_scores(checkpoint)
    out = ROOT / "benchmarks" / "results" / f"unknown_detection_{args.tag}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "summary.md").write_text(summary(result))
    print(summary(result))


if __name__ == "__main__":
    main()
