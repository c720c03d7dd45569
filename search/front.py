"""The search's result: the Pareto front (accuracy vs instructions vs RAM) as JSON, a table and a plot,
and the chosen model's checkpoint, ready for ``drsn-edge convert``."""
from __future__ import annotations

import shutil
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from drsn_edge.cli.args import write_json
from search.progress import describe_model
from search.trial import OBJECTIVES

FRONT_JSON, FRONT_TABLE, FRONT_PLOT, CHOSEN = "front.json", "front.md", "front.png", "chosen.pt"


def _row(trial: FrozenTrial) -> dict:
    cost, score = trial.user_attrs.get("cost", {}), trial.user_attrs.get("score", {})
    return {"trial": trial.number, **dict(zip(OBJECTIVES, trial.values)), "params": trial.params,
            "model": trial.user_attrs.get("model"), "flash_bytes": cost.get("flash_bytes"),
            "static_ram_bytes": cost.get("static_ram_bytes"), "arena_bytes": cost.get("arena_bytes"),
            "instructions_source": cost.get("instructions_source"), "clean": score.get("clean"),
            "noisy_mean": score.get("noisy_mean"), "cross_condition_clean": score.get("cross_condition_clean"),
            "estimate": trial.user_attrs.get("estimate"), "checkpoint": trial.user_attrs.get("checkpoint"),
            "worker": trial.user_attrs.get("worker"), "seconds": trial.user_attrs.get("seconds")}


def choose(front: list[dict]) -> dict | None:
    """The most accurate model of the front; among equals the one with fewer instructions, then less RAM."""
    return min(front, key=lambda r: (-round(r["accuracy"], 4), r["instructions"], r["ram_bytes"]), default=None)


def table(rows: list[dict]) -> str:
    lines = ["| trial | model | int8 accuracy (clean + noise) | clean | instructions | RAM (B) | flash (B) | arena (B) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        lines.append(f"| {r['trial']} | {describe_model(r['model'] or {})} | {r['accuracy']:.4f} | "
                     f"{r['clean']:.4f} | {r['instructions']:,.0f} | {r['ram_bytes']:,.0f} | "
                     f"{r['flash_bytes'] or 0:,} | {r['arena_bytes'] or 0:,} |")
    return "\n".join(lines)


def plot(all_rows: list[dict], front: list[dict], path: Path, board: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for rows, style in ((all_rows, {"c": "0.75", "label": "trials"}), (front, {"c": "C3", "label": "Pareto front"})):
        ax.scatter([r["instructions"] / 1e6 for r in rows], [r["accuracy"] for r in rows],
                   s=[max(10.0, r["ram_bytes"] / 200) for r in rows], **style)
    ax.set_xlabel("instructions per inference (millions)")
    ax.set_ylabel("int8 accuracy, clean + noise")
    ax.set_title(f"drsn-edge search on {board} (marker area: RAM)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_front(study: optuna.Study, out: Path, board: str, summary: dict) -> dict:
    """front.json, front.md, front.png and chosen.pt in ``out``; returns the JSON written."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    front_numbers = {t.number for t in study.best_trials} if complete else set()
    rows = [_row(t) for t in complete]
    front = [r for r in rows if r["trial"] in front_numbers]
    chosen = choose(front)
    data = {"board": board, "objectives": {"accuracy": "maximize", "instructions": "minimize",
                                           "ram_bytes": "minimize"},
            **summary, "front": sorted(front, key=lambda r: -r["accuracy"]),
            "chosen": chosen and chosen["trial"], "complete": rows}
    if chosen and chosen["checkpoint"] and Path(chosen["checkpoint"]).is_file():
        shutil.copyfile(chosen["checkpoint"], out / CHOSEN)
        data["chosen_checkpoint"] = str(out / CHOSEN)
    write_json(out / FRONT_JSON, data)
    (out / FRONT_TABLE).write_text(table(front) + "\n")
    if rows:
        plot(rows, front, out / FRONT_PLOT, board)
    return data
