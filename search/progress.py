"""One line per finished trial, so a long search shows where it is."""
from __future__ import annotations

from typing import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState


def describe_model(model: dict) -> str:
    """``drsn-cw 4,8,16 x4 k3 stem7/2``: a model's shape in one token group."""
    widths = ",".join(str(w) for w in model.get("widths", []))
    return (f"{model.get('arch')} {widths} x{model.get('units_per_stage')} k{model.get('kernel_size')} "
            f"stem{model.get('stem_kernel_size')}/{model.get('stem_stride')} L{model.get('in_length')}")


def trial_line(total: int) -> Callable[[optuna.Study, FrozenTrial], None]:
    """An Optuna callback printing ``[finished/total] trial N [worker]: model: result``."""

    def report(study: optuna.Study, trial: FrozenTrial) -> None:
        done = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
        head = f"[{done}/{total}] trial {trial.number} [{trial.user_attrs.get('worker', '?')}]: " \
               f"{describe_model(trial.user_attrs.get('model', {}))}"
        if trial.state == TrialState.COMPLETE:
            acc, instr, ram = trial.values
            cost = trial.user_attrs.get("cost", {})
            tail = (f"int8 accuracy {acc:.4f}, {instr / 1e6:.2f} M instructions, RAM {ram:,.0f} B, "
                    f"flash {cost.get('flash_bytes') or 0:,} B ({trial.user_attrs.get('seconds', 0):.0f} s)")
        elif trial.state == TrialState.PRUNED:
            tail = f"pruned {trial.user_attrs.get('pruned', '')}"
        else:
            tail = f"{trial.state.name.lower()} {trial.user_attrs.get('error', '')}".rstrip()
        print(f"{head}: {tail}", flush=True)

    return report
