"""The Optuna study behind a search: its storage, the worker loop, and worker processes.

Storage is RDB (SQLite in ``--out`` by default, PostgreSQL with ``--storage postgresql://...``) because
Optuna's heartbeat lives there: every running trial beats every ``heartbeat`` seconds, and a trial whose
worker died (kill -9, a lost machine) is marked failed after two silent intervals and re-queued once by
``RetryHeartbeatStaleTrialCallback``; the next worker picks the copy up. Optuna hands each queued or new trial to
exactly one worker.
"""
from __future__ import annotations

import logging
import multiprocessing
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from drsn_edge.errors import DrsnError
from search.trial import DIRECTIONS, Objective, TrialSettings

STORAGE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg2://", "mysql://", "mysql+pymysql://")
DEFAULT_DB = "study.db"


@dataclass
class WorkerPlan:
    """What a worker process needs besides the trial settings (picklable)."""

    storage: str
    study_name: str
    trials: int
    heartbeat: int
    quiet: bool = False


def storage_url(url: str | None, out: Path) -> str:
    """The storage URL: ``url`` checked, or the SQLite file in ``out``."""
    if url is None:
        return f"sqlite:///{(out / DEFAULT_DB).resolve()}"
    if not url.startswith(STORAGE_SCHEMES):
        raise DrsnError(f"--storage must start with one of {', '.join(STORAGE_SCHEMES)} (got '{url[:40]}')")
    if url.startswith("postgresql://"):  # the driver this project pins (SQLAlchemy 2.1 would look for psycopg 3)
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def quiet_optuna() -> None:
    """Optuna's own log lines and its experimental-feature warnings (heartbeats) stay out of the output."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """The RDB storage with heartbeats; a server that cannot be reached is one clear error."""
    from sqlalchemy.exc import SQLAlchemyError

    quiet_optuna()
    try:
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
            engine_kwargs={"pool_pre_ping": True})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DrsnError(f"cannot open the study storage {url.split('@')[-1]}: {first}") from None


def load_study(plan: WorkerPlan, seed: int, create: bool) -> optuna.Study:
    """Create the study (``create``) or join the existing one; the sampler is seeded per worker."""
    storage = open_storage(plan.storage, plan.heartbeat)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    exists = plan.study_name in [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if create and exists:
        raise DrsnError(f"study '{plan.study_name}' already exists in that storage; pass --resume to join it")
    if not create and not exists:
        raise DrsnError(f"no study '{plan.study_name}' in that storage to resume")
    if create:
        return optuna.create_study(storage=storage, study_name=plan.study_name, directions=list(DIRECTIONS),
                                   sampler=sampler)
    return optuna.load_study(study_name=plan.study_name, storage=storage, sampler=sampler)


def retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the failed trials that a later trial retries (they do not count against the budget)."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


def _status(study: optuna.Study) -> tuple[int, int, int]:
    """Trials counted against the budget, running, and queued."""
    trials = study.get_trials(deepcopy=False)
    again = retried(trials)
    counted = [t for t in trials if t.number not in again]
    running = sum(t.state == TrialState.RUNNING for t in trials)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    return len(counted), running, waiting


def run_worker(settings: TrialSettings, plan: WorkerPlan, index: int, report: Callable | None = None) -> None:
    """Run trials until the study holds ``plan.trials`` (re-queued ones included), then wait for the rest."""
    from search.budget import board_limits

    study = load_study(plan, settings.seed + index, create=False)
    objective = Objective(settings, board_limits(settings.board))
    callbacks = [report] if report else []
    while True:
        counted, running, waiting = _status(study)
        if waiting or counted < plan.trials:
            study.optimize(objective, n_trials=1, catch=(DrsnError,), callbacks=callbacks)
        elif running:  # another worker's trial: wait, and re-queue it if its worker has died
            time.sleep(plan.heartbeat)
            optuna.storages.fail_stale_trials(study)
        else:
            return


def _worker_main(settings: TrialSettings, plan: WorkerPlan, index: int) -> None:
    from search.progress import trial_line

    run_worker(settings, plan, index, None if plan.quiet else trial_line(plan.trials))


def run_workers(settings: TrialSettings, plan: WorkerPlan, workers: int) -> None:
    """``workers`` processes on the study (one: this process); a worker's failure is an error here."""
    if workers == 1:
        _worker_main(settings, plan, 0)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(settings, plan, i), daemon=False) for i in range(workers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise DrsnError(f"{len(bad)} of {workers} workers stopped with an error (exit codes {bad})")
