"""One trial: draw a model, prune it if it cannot fit, else train, convert, export and measure it.

The objectives are the int8 (LiteRT) accuracy averaged over the clean test windows and the three noise
types at -5, 0 and 5 dB (plus the clean accuracy on the held-out condition with ``--val-condition``),
the C engine's instructions per inference on the board, and the RAM the image needs (static RAM plus the
stack). A model the linker refuses is pruned after conversion, with the linker's reason.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna

from drsn_edge.errors import DrsnError
from search.budget import Limits, estimate, prune_reason
from search.cost import DoesNotFit, measure
from search.space import Space, suggest

SNRS_DB = (-5.0, 0.0, 5.0)
DIRECTIONS = ("maximize", "minimize", "minimize")  # accuracy, instructions, RAM
OBJECTIVES = ("accuracy", "instructions", "ram_bytes")


@dataclass
class TrialSettings:
    """What every trial of a search shares (picklable: worker processes get a copy)."""

    data: str
    board: str
    out: Path
    space: Space
    epochs: int
    seed: int
    threads: int
    eval_limit: int
    measure_windows: int
    channel: str
    val_condition: str = ""
    noise: list[str] = field(default_factory=list)


class Objective:
    """Callable for ``study.optimize``; keeps the loaded data between the trials of one worker."""

    def __init__(self, settings: TrialSettings, limits: Limits) -> None:
        self.s, self.limits = settings, limits
        self._splits: dict[int, object] = {}

    def splits(self, length: int | None):
        from drsn_edge.data.spec import load_splits
        from drsn_edge.defaults import WINDOW_LENGTH

        key = length or 0
        if key not in self._splits:
            self._splits[key] = load_splits(self.s.data, window_length=length or WINDOW_LENGTH, channel=self.s.channel)
        return self._splits[key]

    def __call__(self, trial: optuna.Trial) -> tuple[float, float, float]:
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            return self.run(trial)
        except DrsnError as exc:  # kept with the trial: the study shows why it failed
            trial.set_user_attr("error", str(exc))
            raise

    def run(self, trial: optuna.Trial) -> tuple[float, float, float]:
        base = self.splits(None)
        config, training = suggest(trial, self.s.space, base.train.window_length, len(base.train.classes))
        est = estimate(config, self.limits)
        trial.set_user_attr("model", config.to_dict())
        trial.set_user_attr("estimate", est.to_dict())
        reason = prune_reason(est, self.limits)
        if reason:
            trial.set_user_attr("pruned", f"before training: {reason}")
            raise optuna.TrialPruned(reason)
        folder = self.s.out / "trials" / f"{trial.number:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "claimed", "x") as mark:  # a trial that ran twice fails here, loudly
            mark.write(f"{trial.user_attrs['worker']}\n")
        start = time.time()
        checkpoint = self.train(config, training, folder / "model.pt")
        trial.set_user_attr("checkpoint", str(checkpoint.resolve()))
        build, fw = self.convert(checkpoint, folder)
        score = self.score(build, config.in_length)
        trial.set_user_attr("score", score)
        windows = self.splits(config.in_length).test.x[: self.s.measure_windows]
        try:
            cost = measure(fw, self.s.board, self.s.data, windows, est.macs, self.s.channel)
        except DoesNotFit as exc:
            trial.set_user_attr("pruned", f"after conversion: {exc}")
            raise optuna.TrialPruned(str(exc)) from None
        flash, static = cost["flash_bytes"] or est.flash_bytes, cost["static_ram_bytes"] or est.static_ram_bytes
        cost["ram_bytes"] = ram = self.limits.ram_needed(static)
        trial.set_user_attr("cost", cost)
        trial.set_user_attr("seconds", round(time.time() - start, 1))
        flash_over, ram_over = self.limits.excess(flash, static)
        if flash_over > 0 or ram_over > 0:
            trial.set_user_attr("pruned", f"after conversion: over flash by {flash_over} B or RAM by {ram_over} B")
            raise optuna.TrialPruned("does not fit")
        return score["accuracy"], float(cost["instructions"]), float(ram)

    def train(self, config, training: dict, path: Path) -> Path:
        from drsn_edge.checkpoint import save_checkpoint
        from drsn_edge.cli.training import data_summary
        from drsn_edge.preprocess import Preprocessing
        from drsn_edge.train import TrainConfig, train

        splits = self.splits(config.in_length)
        cfg = TrainConfig(epochs=self.s.epochs, seed=self.s.seed, threads=self.s.threads,
                          val_condition=self.s.val_condition, **training,
                          **({"noise": self.s.noise} if self.s.noise else {}))
        pre = Preprocessing(window_length=config.in_length, sample_rate=splits.train.sample_rate)
        ckpt = train(splits, config, cfg, pre, data_summary=data_summary(self.s.data, self.s.channel, splits,
                                                                         cfg.val_condition), progress=False)
        ckpt.training["name"] = path.parent.name
        save_checkpoint(ckpt, path)
        return path

    def convert(self, checkpoint: Path, folder: Path) -> tuple[Path, Path]:
        """The default conversion (TFLM checks off: the search measures the C engine) and the C export."""
        from firmware_export.export import export
        from quantize.convert.pipeline import ConvertOptions, convert

        build, _ = convert(checkpoint, ConvertOptions(out=folder / "build", tflm=False, progress=False, force=True))
        fw, _ = export(build, "c", folder / "fw", force=True)
        return build, fw

    def score(self, build: Path, length: int) -> dict:
        """int8 accuracy: clean and every noise type at -5/0/5 dB, plus the held-out condition if any."""
        from drsn_edge.data.noise import NOISE_TYPES
        from drsn_edge.evaluate import sweep
        from drsn_edge.registry import load_predictor

        test = self.splits(length).test
        if len(test) > self.s.eval_limit:  # a seeded subset across every class, not the first windows
            pick = np.random.default_rng(self.s.seed).permutation(len(test))[: self.s.eval_limit]
            test = test.take(np.sort(pick))
        result = sweep(load_predictor(build), test, NOISE_TYPES, SNRS_DB, seed=self.s.seed, progress=False)
        noisy = [c for c in result["cells"] if c["snr_db"] is not None]
        cells = [result["clean"]] + [c["accuracy"] for c in noisy]
        out = {"clean": result["clean"], "noisy_mean": result["noisy_mean"], "windows": len(test),
               "cells": {f"{c['noise']}@{c['snr_db']:g}": c["accuracy"] for c in noisy}}
        if self.s.val_condition:
            held = result.get("per_condition", {}).get(self.s.val_condition)
            if held is None:
                raise DrsnError(f"the test windows hold no condition '{self.s.val_condition}'")
            out["cross_condition_clean"] = held["clean"]
            cells.append(held["clean"])
        out["accuracy"] = sum(cells) / len(cells)
        return out
