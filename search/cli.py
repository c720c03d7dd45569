"""``drsn-edge search``: the smallest shrinkage network a board can afford, found by a multi-objective study."""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from drsn_edge.cli.args import DATA_HELP
from drsn_edge.defaults import CHANNEL
from drsn_edge.errors import DrsnError

ORDER = 60
DEFAULTS = {"out": "search", "study": "drsn-search", "epochs": 10, "threads": 1, "workers": 1, "seed": 0,
            "eval_limit": 600, "measure_windows": 2, "heartbeat": 30}


def _check(args: argparse.Namespace) -> None:
    from drsn_edge.data.spec import parse
    from firmware_export.boards import get_board

    for name in ("trials", "workers", "epochs", "threads", "eval_limit", "measure_windows", "heartbeat"):
        if getattr(args, name) < 1:
            raise DrsnError(f"--{name.replace('_', '-')} must be at least 1")
    parse(args.data)  # a malformed spec fails before any storage is touched
    get_board(args.board)


def load_splits_or_fail(args: argparse.Namespace) -> None:
    """Read the data once up front: a missing or malformed data set is an error before any study exists."""
    from drsn_edge.data.spec import load_splits

    load_splits(args.data, channel=args.channel)


def cmd_search(args: argparse.Namespace) -> int:
    from search.budget import board_limits
    from search.front import write_front
    from search.space import Space
    from search.study import DEFAULT_DB, WorkerPlan, load_study, open_storage, run_workers, storage_url
    from search.trial import TrialSettings

    _check(args)
    out = Path(args.out)
    space = Space.load(args.space)
    limits = board_limits(args.board)
    plan = WorkerPlan(storage_url(args.storage, out), args.study, args.trials, args.heartbeat, args.quiet)
    if args.storage is None and args.resume and not (out / DEFAULT_DB).is_file():
        raise DrsnError(f"no study to resume in {out} (no {DEFAULT_DB}; give --storage URL to join another)")
    if args.storage is not None:  # a server that cannot be reached fails before anything is written
        open_storage(plan.storage, plan.heartbeat)
    if not args.resume:
        load_splits_or_fail(args)
    out.mkdir(parents=True, exist_ok=True)
    settings = TrialSettings(data=args.data, board=limits.board, out=out.resolve(), space=space, epochs=args.epochs,
                             seed=args.seed, threads=args.threads, eval_limit=args.eval_limit,
                             measure_windows=args.measure_windows, channel=args.channel,
                             val_condition=args.val_condition)
    study = load_study(plan, args.seed, create=not args.resume)
    mine = {"board": limits.board, "epochs": args.epochs, "space": space.to_dict()}
    if not args.resume:
        study.set_user_attr("settings", {**mine, "data": args.data, "seed": args.seed})
    else:  # a machine joining with another board, epochs or space would mix incomparable trials
        theirs = study.user_attrs.get("settings", {})
        differ = [k for k, v in mine.items() if k in theirs and theirs[k] != v]
        if differ:
            raise DrsnError(f"study '{args.study}' was started with other {', '.join(differ)} "
                            f"({', '.join(f'{k}={theirs[k]}' for k in differ if k != 'space') or 'see its space'})")
    print(f"search on {limits.board}: flash {limits.flash_bytes:,} B, RAM {limits.ram_bytes:,} B; "
          f"{args.trials} trials, {args.workers} worker(s), study '{args.study}' in {plan.storage.split('@')[-1]}",
          flush=True)
    start = time.time()
    run_workers(settings, plan, args.workers)
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name.lower() for t in trials)
    summary = {"trials": len(trials), "states": dict(states), "workers_here": args.workers,
               "wall_seconds_here": round(time.time() - start, 1),
               "pruned_before_training": sum(str(t.user_attrs.get("pruned", "")).startswith("before")
                                             for t in trials),
               "limits": {"flash_bytes": limits.flash_bytes, "ram_bytes": limits.ram_bytes,
                          "stack_bytes": limits.stack_bytes}}
    data = write_front(study, out, limits.board, summary)
    print(f"{len(data['front'])} model(s) on the Pareto front of {states.get('complete', 0)} complete trial(s) "
          f"({summary['pruned_before_training']} pruned before training): {out / 'front.md'}")
    if data.get("chosen_checkpoint"):
        print(f"chosen: trial {data['chosen']} -> {data['chosen_checkpoint']} "
              f"(next: drsn-edge convert {data['chosen_checkpoint']})")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from firmware_export.boards import BOARDS

    p = sub.add_parser("search", help="device-aware model search (Optuna): accuracy vs instructions vs RAM")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--board", required=True, help=f"the budget: one of {', '.join(BOARDS)}")
    p.add_argument("--trials", type=int, required=True, help="trials in the whole study (all workers together)")
    p.add_argument("--storage", default=None,
                   help="study storage URL, e.g. postgresql://user:pass@host/db (default: sqlite in --out)")
    p.add_argument("--workers", type=int, default=DEFAULTS["workers"], help="worker processes on this machine")
    p.add_argument("--resume", action="store_true", help="join the existing study (another machine's, or restart)")
    p.add_argument("--study", default=DEFAULTS["study"], help="study name in the storage")
    p.add_argument("--out", default=DEFAULTS["out"], help="trial folders, front.json/.md/.png, chosen.pt")
    p.add_argument("--space", default=None, help="JSON file replacing lists of the default search space")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs per trial")
    p.add_argument("--threads", type=int, default=DEFAULTS["threads"], help="torch threads per worker")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="sampler, training and noise seed")
    p.add_argument("--eval-limit", type=int, default=DEFAULTS["eval_limit"],
                   help="test windows scored per noise cell (a seeded subset)")
    p.add_argument("--measure-windows", type=int, default=DEFAULTS["measure_windows"],
                   help="windows run in QEMU to count instructions")
    p.add_argument("--val-condition", default="", metavar="CONDITION",
                   help="hold this operating condition out of training and add its clean accuracy to the score")
    p.add_argument("--heartbeat", type=int, default=DEFAULTS["heartbeat"],
                   help="seconds between a running trial's heartbeats; a trial silent for two is retried")
    p.add_argument("--channel", default=CHANNEL)
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(func=cmd_search)
