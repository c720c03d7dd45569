"""`drsn-edge search` on CWRU 0 HP for two budgets (STM32F405, micro:bit) against the paper's network.

For each board: the search (trials, epochs, workers as given) and the paper-size DRSN-CW (4/8/16 channels,
four units per stage, kernel 3) put through the very same trial (train with the same epochs and seed,
default conversion, C engine export, int8 scoring clean + three noise types at -5/0/5 dB, exact flash /
static RAM / QEMU instructions on the board). The micro:bit cannot hold any 2048-sample model (one float
window and its stream ring alone take 18 KB of its 16 KB), so its search draws 512- or 1024-sample windows
and the paper's network is measured there at 512 samples as well as refused at 2048.

    python benchmarks/search_cwru.py --trials 8 --epochs 10 --tag small
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}"
PAPER = {"archs": ["drsn-cw"], "stages": [3], "base_width": [4], "growth": [2], "units_per_stage": [4],
         "kernel_size": [3], "stem_kernel_size": [3], "stem_stride": [2], "batch_size": [64], "lr": [3e-3, 3e-3]}
BOARDS = {"stm32f405": {}, "microbit": {"window_length": [512, 1024]}}


def search_args(board: str, out: Path, space: Path, a: argparse.Namespace) -> argparse.Namespace:
    """The command line `drsn-edge search` would parse, built by its own parser."""
    from search.cli import add_parsers

    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    return parser.parse_args(["search", "--data", DATA, "--board", board, "--trials", str(a.trials),
                              "--epochs", str(a.epochs), "--workers", str(a.workers), "--seed", str(a.seed),
                              "--eval-limit", str(a.eval_limit), "--space", str(space), "--out", str(out)])


def paper_point(board: str, length: int | None, out: Path, a: argparse.Namespace) -> dict:
    """The paper's network through one search trial (a space holding only its settings)."""
    from search.budget import board_limits, estimate, prune_reason
    from search.cli import cmd_search
    from drsn_edge.models import ModelConfig

    space = {**PAPER, **({"window_length": [length]} if length else {})}
    est = estimate(ModelConfig(in_length=length or 2048), board_limits(board))
    reason = prune_reason(est, board_limits(board))
    if reason:
        return {"window_length": length or 2048, "fits": False, "reason": reason, "estimate": est.to_dict()}
    (out / "space.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "space.json").write_text(json.dumps(space))
    args = search_args(board, out, out / "space.json", a)
    args.trials, args.workers = 1, 1
    cmd_search(args)
    front = json.loads((out / "front.json").read_text())
    if not front["complete"]:  # refused by the linker after conversion
        return {"window_length": length or 2048, "fits": False, "reason": f"pruned or failed: {front['states']}"}
    return {"window_length": length or 2048, "fits": True, **front["complete"][0]}


def _row(label: str, r: dict) -> str:
    from search.progress import describe_model

    if not r.get("fits", True):
        return f"| {label} | paper DRSN-CW, L{r['window_length']} | does not fit: {r['reason']} | | | | | |"
    return (f"| {label} | {describe_model(r['model'])} | {r['accuracy']:.4f} | {r['clean']:.4f} | "
            f"{r['noisy_mean']:.4f} | {r['instructions'] / 1e6:.2f} M | {r['ram_bytes']:,.0f} | {r['flash_bytes']:,} |")


def summary(record: dict) -> str:
    """The Markdown table RESULTS.md quotes: per board the chosen model, the front and the paper's network."""
    lines = []
    for board, b in record["boards"].items():
        lines += [f"**{board}** ({b['trials']} trials, {b['epochs']} epochs, {b['workers']} worker; states "
                  f"{b['states']}, {b['pruned_before_training']} pruned before training; search wall time "
                  f"{b['search_wall_seconds'] / 60:.0f} min)", "",
                  "| | model | score (clean + 9 noisy cells) | clean | noisy mean | instructions | RAM (B) | flash (B) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in b["front"]:
            lines.append(_row("chosen" if r["trial"] == b["chosen"] else f"front (trial {r['trial']})", r))
        lines += [_row("paper", r) for r in b["paper"]] + [""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-limit", type=int, default=600)
    p.add_argument("--boards", default=",".join(BOARDS), help="boards to run now (results merge into result.json)")
    p.add_argument("--tag", default="small")
    a = p.parse_args()
    from search.cli import cmd_search
    from search.space import Space

    root = ROOT / "benchmarks" / "results" / f"search_cwru_{a.tag}"
    saved = root / "result.json"
    record = json.loads(saved.read_text()) if saved.is_file() else {"data": DATA, "boards": {}}
    for board in a.boards.split(","):
        out = root / board
        out.mkdir(parents=True, exist_ok=True)
        space = out / "space.json"
        space.write_text(json.dumps({**Space().to_dict(), **BOARDS[board]}))
        start = time.time()
        if not (out / "front.json").is_file():
            cmd_search(search_args(board, out, space, a))
        front = json.loads((out / "front.json").read_text())
        lengths = [None] + ([512] if board == "microbit" else [])
        paper = [paper_point(board, n, root / f"paper_{board}_{n or 2048}", a) for n in lengths]
        record["boards"][board] = {"trials": front["trials"], "epochs": a.epochs, "workers": a.workers, "seed": a.seed,
                                   "eval_limit": a.eval_limit, "search_wall_seconds": front["wall_seconds_here"], "states": front["states"],
                                   "pruned_before_training": front["pruned_before_training"],
                                   "front": front["front"], "chosen": front["chosen"], "paper": paper,
                                   "wall_seconds_with_paper": round(time.time() - start, 1)}
        (root / "result.json").write_text(json.dumps(record, indent=2) + "\n")
        (root / "summary.md").write_text(summary(record) + "\n")
    print(json.dumps({b: {"chosen": v["chosen"], "paper": [x.get("accuracy") for x in v["paper"]]}
                      for b, v in record["boards"].items()}, indent=2))


if __name__ == "__main__":
    main()
