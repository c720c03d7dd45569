"""Finite windows that are not finite after normalisation are refused by every runtime, never classified.

With global normalisation and a std far below the samples' size, z = (x - mean) / std passes float's range:
Python (float64, then float32: inf) and the Pi runner refused such a window, while the C engine saturated z
at FLT_MAX and reported a class. Now all three refuse the same windows.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing

RUNNER_LIB = Path(__file__).resolve().parents[2] / "firmware_export" / "pi" / "runner"
GLOBAL = {"normalisation": "global", "mean": 0.0, "std": 1e-30}
L = 512  # the tiny build's window
# z = x / 1e-30: 0.1, 1e30 (finite), 1e40 and +-1e39 (beyond float's 3.4e38)
WINDOWS = np.array([np.full(L, 1e-31), np.full(L, 1.0), np.full(L, 1e10), np.where(np.arange(L) % 2, 1e9, -1e9)],
                   np.float32)
REFUSED = [False, False, True, True]


@pytest.fixture
def global_build(tiny_build: Path) -> Path:
    info = json.loads((tiny_build / "model.json").read_text())
    info["preprocessing"].update(GLOBAL)
    (tiny_build / "model.json").write_text(json.dumps(info))
    return tiny_build


def test_python_refuses_them() -> None:
    pre = Preprocessing(window_length=L, **GLOBAL)
    for window, refused in zip(WINDOWS, REFUSED):
        if refused:
            with pytest.raises(DrsnError, match="not finite after preprocessing"):
                pre.apply(window[None])
        else:
            assert np.isfinite(pre.apply(window[None])).all()


def test_the_c_engine_refuses_them(global_build: Path, tmp_path: Path) -> None:
    from drsn_edge.cli import main
    from firmware_export.c_engine.runner import CEnginePredictor

    assert main(["export", str(global_build), "--target", "c", "--out", str(tmp_path / "fw")]) == 0
    logits = CEnginePredictor(tmp_path / "fw").raw_outputs(WINDOWS)
    assert [bool((row == -128).all()) for row in logits] == REFUSED  # all -128: the engine's refusal


def test_the_pi_runner_refuses_them(global_build: Path) -> None:
    pytest.importorskip("ai_edge_litert")
    sys.path.insert(0, str(RUNNER_LIB))
    try:
        from drsn_runner_lib.model import Model
    finally:
        sys.path.remove(str(RUNNER_LIB))
    info = json.loads((global_build / "model.json").read_text())
    model = Model({"classes": info["classes"], "preprocessing": info["preprocessing"]},
                  str(global_build / "model_int8.tflite"), reference=True, threads=1)
    assert [model.input_tensor(w) is None for w in WINDOWS.astype(np.float64)] == REFUSED
