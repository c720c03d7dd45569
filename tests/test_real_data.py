"""On the real CWRU 0 HP recordings: a short training run must already diagnose well.

These run in CI (the data sits beside the repo); they guard the whole path
loader -> noise -> training -> checkpoint -> evaluation against regressions
that synthetic data would not show.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from drsn_edge.cli import main
from drsn_edge.data.cwru import load_cwru

def test_splits_hold_every_class_without_leakage(cwru_dir: Path) -> None:
    splits = load_cwru(cwru_dir)
    assert splits.train.classes == splits.test.classes and len(splits.train.classes) == 10
    assert len(splits.test) >= 500  # not a few dozen windows
    for rec in splits.train.info["recordings"]:
        spans = rec["spans"]
        assert spans["train"][1] <= spans["val"][0] and spans["val"][1] <= spans["test"][0]


def test_short_training_diagnoses_clean_and_noisy_windows(cwru_model: Path, cwru_dir: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.json"
    assert main(["evaluate", str(cwru_model), "--data", f"cwru:{cwru_dir}", "--json", str(clean), "--quiet"]) == 0
    result = json.loads(clean.read_text())
    assert result["n"] >= 500
    assert result["accuracy"] >= 0.95, result["per_class"]
    noisy = tmp_path / "noisy.json"
    assert main(["evaluate", str(cwru_model), "--data", f"cwru:{cwru_dir}", "--noise", "gaussian", "--snr", "0",
                 "--json", str(noisy), "--quiet"]) == 0
    assert json.loads(noisy.read_text())["accuracy"] >= 0.85
