"""Accuracy, per-class accuracy and confusion matrices, clean and under noise, and per operating condition."""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from drsn_edge.data.dataset import Windows
from drsn_edge.data.noise import NOISE_TYPES, add_noise
from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor
from drsn_edge.unknown import flagged_summary, unknown_result

SWEEP_SNRS_DB: tuple[float, ...] = (-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


def labels_in_model_order(windows: Windows, model_classes: list[str]) -> np.ndarray:
    """Map the data's labels onto the model's class indices by name (data may hold a subset)."""
    unknown = [c for c in windows.classes if c not in model_classes]
    if unknown:
        raise DrsnError(f"data has classes the model does not know: {', '.join(unknown)}")
    mapping = np.array([model_classes.index(c) for c in windows.classes], dtype=np.int64)
    return mapping[windows.y]


def per_condition(condition: np.ndarray, correct: np.ndarray, flags: np.ndarray | None = None) -> dict[str, dict]:
    """``{condition: {"n", "accuracy"}}`` from each window's condition and whether it was right; with each
    window's "unknown" flag, also how the flags fall there (``unknown``)."""
    out = {}
    for c in sorted(set(condition.tolist())):
        here = condition == c
        out[str(c)] = {"n": int(here.sum()), "accuracy": float(correct[here].mean())}
        if flags is not None:
            out[str(c)]["unknown"] = flagged_summary(flags[here], correct[here])
    return out


def noisy_windows(windows: Windows, noise: str | None, snr_db: float | None, seed: int) -> np.ndarray:
    """The raw windows with noise added deterministically: every predictor sees the same noise."""
    if noise is None:
        return windows.x
    if snr_db is None:
        raise DrsnError("a noise type needs an SNR")
    kind_index = NOISE_TYPES.index(noise)
    cell_seed = np.random.SeedSequence([seed, kind_index, int(round((snr_db + 1000) * 100))])
    return add_noise(windows.x, noise, float(snr_db), np.random.default_rng(cell_seed))


def score(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy (fraction), per-class accuracy and confusion (rows true, columns predicted)."""
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    support = confusion.sum(axis=1)
    per_class = {
        classes[i]: float(confusion[i, i] / support[i]) for i in range(n) if support[i] > 0
    }
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else float("nan"),
        "n": int(len(y_true)),
        "per_class": per_class,
        "classes": list(classes),
        "confusion": confusion.tolist(),
    }


def evaluate(
    predictor: Predictor,
    windows: Windows,
    noise: str | None = None,
    snr_db: float | None = None,
    seed: int = 0,
) -> dict:
    """Score one predictor on one data condition (clean when ``noise`` is None)."""
    y_true = labels_in_model_order(windows, predictor.classes)
    logits = predictor.checked_logits(noisy_windows(windows, noise, snr_db, seed))
    y_pred = np.argmax(logits, axis=1)
    result = score(y_true, y_pred, predictor.classes)
    result.update({"model": predictor.name, "noise": noise or "clean", "snr_db": snr_db})
    rule = predictor.unknown
    result["unknown"] = unknown_result(rule, logits, y_pred == y_true)
    if len(windows.conditions) > 1:
        flags = rule.flags(logits) if rule else None
        result["per_condition"] = per_condition(windows.condition, y_pred == y_true, flags)
    return result


def sweep(
    predictor: Predictor,
    windows: Windows,
    noise_types: tuple[str, ...] = NOISE_TYPES,
    snrs_db: tuple[float, ...] = SWEEP_SNRS_DB,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """One predictor: clean accuracy plus every (noise type, SNR) cell and the mean over noisy cells."""
    result = compare([predictor], windows, noise_types, snrs_db, seed, progress)
    name = predictor.name
    out = {
        "model": name,
        "clean": result["clean"]["accuracy"][name],
        "noisy_mean": result["noisy_mean"].get(name, float("nan")),
        "cells": [{"noise": c["noise"], "snr_db": c["snr_db"], "accuracy": c["accuracy"][name], "n": c["n"]}
                  for c in result["cells"]],
        "noise_types": list(noise_types),
        "snrs_db": list(snrs_db),
    }
    if name in result["clean"].get("unknown", {}):  # what the calibrated threshold does on the clean windows
        out["unknown"] = result["clean"]["unknown"][name]
    if "per_condition" in result:
        out["per_condition"] = {c: {"n": v["n"], "clean": v["clean"][name], "noisy_mean": v["noisy_mean"].get(name),
                                    "cells": [r["per_condition"][c]["accuracy"][name] for r in result["cells"]]}
                                for c, v in result["per_condition"].items()}
    return out


def sweep_table(result: dict) -> str:
    """A plain-text table: one row per noise type, one column per SNR."""
    snrs = result["snrs_db"]
    head = f"{'noise':<10}" + "".join(f"{s:>7.0f}" for s in snrs) + "   mean"
    lines = [head, f"{'clean':<10}{result['clean']:>7.3f}"]
    for kind in result["noise_types"]:
        accs = [c["accuracy"] for c in result["cells"] if c["noise"] == kind]
        lines.append(f"{kind:<10}" + "".join(f"{a:>7.3f}" for a in accs) + f"{np.mean(accs):>7.3f}")
    lines.append(f"noisy mean {result['noisy_mean']:.3f}   (SNR in dB across the top)")
    return "\n".join(lines)


def condition_table(result: dict) -> str:
    """Accuracy per operating condition of an :func:`evaluate` or :func:`sweep` result, for people."""
    rows = result["per_condition"]
    kinds = result.get("noise_types", [])
    head = f"{'condition':<14}{'windows':>8}{'clean':>8}" if kinds else f"{'condition':<14}{'windows':>8}{'accuracy':>10}"
    flags = not kinds and all("unknown" in v for v in rows.values())
    lines = [head + "".join(f"{k:>11}" for k in kinds) + ("  noisy mean" if kinds else "")
             + ("   unknown: all  right  wrong  answered acc" if flags else "")]
    for cond, v in rows.items():
        if not kinds:
            lines.append(f"{cond:<14}{v['n']:>8}{v['accuracy']:>10.4f}" + (_flag_cells(v["unknown"]) if flags else ""))
            continue
        by_kind = [np.mean([a for a, c in zip(v["cells"], result["cells"]) if c["noise"] == k]) for k in kinds]
        lines.append(f"{cond:<14}{v['n']:>8}{v['clean']:>8.3f}" + "".join(f"{a:>11.3f}" for a in by_kind)
                     + f"{v['noisy_mean']:>12.3f}")
    return "\n".join(lines)


def _flag_cells(u: dict) -> str:
    """Shares flagged "unknown" (all, right, wrong answers) and the answered accuracy, as table cells."""
    cells = ["-" if u[k] is None else f"{u[k]:.3f}" for k in ("flagged", "flagged_right", "flagged_wrong",
                                                               "answered_accuracy")]
    return f"{cells[0]:>14}{cells[1]:>7}{cells[2]:>7}{cells[3]:>14}"


def confusion_table(result: dict) -> str:
    """Confusion matrix (rows true, columns predicted) with per-class accuracy, for people."""
    classes, confusion = result["classes"], np.array(result["confusion"])
    present = [i for i in range(len(classes)) if confusion[i].sum() or confusion[:, i].sum()]
    width = max(7, *(len(classes[i]) + 1 for i in present))
    corner = "true/pred"
    lines = [f"{corner:<{width + 2}}" + "".join(f"{classes[i]:>{width}}" for i in present) + "   accuracy"]
    for i in present:
        acc = result["per_class"].get(classes[i])
        lines.append(f"{classes[i]:<{width + 2}}" + "".join(f"{confusion[i, j]:>{width}d}" for j in present)
                     + (f"   {acc:.4f}" if acc is not None else ""))
    return "\n".join(lines)


Cell = tuple[str | None, float | None]  # (noise type or None for clean, SNR dB)


def sweep_cells(noise_types: tuple[str, ...], snrs_db: tuple[float, ...]) -> list[Cell]:
    """Clean first, then every (noise type, SNR)."""
    return [(None, None)] + [(k, s) for k in noise_types for s in snrs_db]


def compare_cells(
    predictors: list[Predictor],
    windows: Windows,
    cells: list[Cell],
    seed: int = 0,
    progress: bool = True,
    confusion: bool = False,
) -> list[dict]:
    """The loop: per cell, the noisy windows are made once and handed to every predictor.

    Each row holds every predictor's accuracy and its top-1 agreement with the
    first (the reference); ``confusion`` adds each predictor's confusion matrix.
    """
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise DrsnError(f"predictor names must differ: {names}")
    y = labels_in_model_order(windows, predictors[0].classes)
    several = len(windows.conditions) > 1
    rows = []
    desc = "sweep " + " vs ".join(names)
    for noise, snr in tqdm(cells, desc=desc, disable=not progress, leave=False):
        x = noisy_windows(windows, noise, snr, seed)
        logits = {p.name: p.checked_logits(x) for p in predictors}
        preds = {n: np.argmax(v, axis=1) for n, v in logits.items()}
        ref = preds[names[0]]
        rows.append({
            "noise": noise or "clean", "snr_db": snr, "n": len(y),
            "accuracy": {n: float(np.mean(preds[n] == y)) for n in names},
            "agreement": {n: float(np.mean(preds[n] == ref)) for n in names[1:]},
        })
        if any(p.unknown for p in predictors):  # risk-coverage and the calibrated flags, per runtime
            rows[-1]["unknown"] = {p.name: unknown_result(p.unknown, logits[p.name], preds[p.name] == y)
                                   for p in predictors if p.unknown}
        if several:
            by = {n: per_condition(windows.condition, preds[n] == y) for n in names}
            rows[-1]["per_condition"] = {c: {"n": by[names[0]][c]["n"], "accuracy": {n: by[n][c]["accuracy"] for n in names}}
                                         for c in by[names[0]]}
        if confusion:
            rows[-1]["confusion"] = {n: score(y, preds[n], predictors[0].classes)["confusion"] for n in names}
    return rows


def summarise(names: list[str], rows: list[dict], noise_types: tuple[str, ...], snrs_db: tuple[float, ...]) -> dict:
    """Rows of :func:`compare_cells` (clean first) -> the comparison with means over the noisy cells."""
    noisy = rows[1:]
    out = {
        "models": names, "reference": names[0], "clean": rows[0], "cells": noisy,
        "noisy_mean": {n: float(np.mean([r["accuracy"][n] for r in noisy])) for n in names} if noisy else {},
        "agreement_mean": {n: float(np.mean([r["agreement"][n] for r in rows])) for n in names[1:]},
        "noise_types": list(noise_types), "snrs_db": list(snrs_db),
    }
    if "per_condition" in rows[0]:  # accuracy per operating condition, clean and averaged over the noisy cells
        out["per_condition"] = {c: {
            "n": v["n"], "clean": v["accuracy"],
            "noisy_mean": {n: float(np.mean([r["per_condition"][c]["accuracy"][n] for r in noisy])) for n in names}
            if noisy else {},
        } for c, v in rows[0]["per_condition"].items()}
    return out


def compare(
    predictors: list[Predictor],
    windows: Windows,
    noise_types: tuple[str, ...] = NOISE_TYPES,
    snrs_db: tuple[float, ...] = SWEEP_SNRS_DB,
    seed: int = 0,
    progress: bool = True,
    confusion: bool = False,
) -> dict:
    """Several runtimes on identical windows: accuracy per cell for each, top-1 agreement with the first.

    The first predictor is the reference (normally the float model).
    """
    rows = compare_cells(predictors, windows, sweep_cells(noise_types, snrs_db), seed, progress, confusion)
    return summarise([p.name for p in predictors], rows, noise_types, snrs_db)
