"""Shared fixtures. Real-data tests must run in CI, so a missing data folder fails."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def cwru_dir_path() -> Path:
    """The CWRU 0 HP folder: $DRSN_CWRU_DIR, else ../shared/data/cwru_0hp beside the repo."""
    env = os.environ.get("DRSN_CWRU_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "cwru_0hp"


@pytest.fixture(scope="session")
def cwru_dir() -> Path:
    path = cwru_dir_path()
    if not (path / "normal_0.mat").is_file():
        pytest.fail(f"CWRU data not found at {path} (set DRSN_CWRU_DIR)")
    return path


def cwru_1hp_dir_path() -> Path:
    """The CWRU 1 HP folder (9 fault classes, no normal): $DRSN_CWRU_1HP_DIR, else ../shared/data/cwru_1hp."""
    env = os.environ.get("DRSN_CWRU_1HP_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "cwru_1hp"


@pytest.fixture(scope="session")
def cwru_1hp_dir() -> Path:
    path = cwru_1hp_dir_path()
    if not (path / "IR007_1.mat").is_file():
        pytest.fail(f"CWRU 1 HP data not found at {path} (set DRSN_CWRU_1HP_DIR)")
    return path


@pytest.fixture(scope="session")
def cwru_model(cwru_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The paper-size DRSN-CW trained on the real CWRU 0 HP data (30 epochs: half the default, enough for
    the int8-vs-float agreement guard of issue 4; shared by several test files).
    Threads are pinned: float sums, and so the trained weights, depend on the thread count.
    $DRSN_TEST_CWRU_MODEL names a checkpoint made by exactly this command to reuse while developing
    (several checkouts on one machine); CI does not set it and trains."""
    from drsn_edge.cli import main

    out = tmp_path_factory.mktemp("cwru") / "drsn_cw.pt"
    reuse = os.environ.get("DRSN_TEST_CWRU_MODEL")
    if reuse:
        shutil.copyfile(reuse, out)
        return out
    code = main(["train", "--data", f"cwru:{cwru_dir}", "--arch", "drsn-cw", "--epochs", "30",
                 "--seed", "0", "--threads", "2", "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def cwru_int8_build(cwru_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `drsn-edge convert` build directory of ``cwru_model`` (int8 model, no TFLM checks), for the exporters."""
    from drsn_edge.cli import main

    out = tmp_path_factory.mktemp("int8_build") / "drsn_cw"
    assert main(["convert", str(cwru_model), "--out", str(out), "--no-tflm", "--calib-size", "64",
                 "--val-size", "16", "--quiet"]) == 0
    return out


@pytest.fixture(scope="session")
def cwru_small_build(cwru_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `drsn-edge convert` build of a DRSN-CW small enough for the micro:bit's 16 KB RAM (the options the board
    registry names: 1024-sample windows, one unit per stage, stem stride 4), 6 epochs on the real CWRU 0 HP data
    with one thread (deterministic): enough for bit-exactness checks on every Cortex-M core, in seconds."""
    from drsn_edge.cli import main
    from firmware_export.boards import get_board

    root = tmp_path_factory.mktemp("cwru_small")
    assert main(["train", "--data", f"cwru:{cwru_dir}", "--arch", "drsn-cw", *get_board("microbit").small_model,
                 "--epochs", "6", "--seed", "0", "--threads", "1", "--out", str(root / "m.pt"), "--quiet"]) == 0
    assert main(["convert", str(root / "m.pt"), "--out", str(root / "build"), "--no-tflm", "--calib-size", "32",
                 "--val-size", "16", "--quiet"]) == 0
    return root / "build"


@pytest.fixture(scope="session")
def pi_work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Train, convert and export one tiny model (1024-sample windows) to a Pi bundle; plus held-out windows as
    an .npz. Shared by tests/test_pi.py and tests/test_hostile_pi.py; tests must not change the bundle."""
    import numpy as np

    from drsn_edge.cli import main
    from drsn_edge.data import synthetic

    L = 1024
    root = tmp_path_factory.mktemp("pi")
    train = synthetic.generate(40, window_length=L, seed=1)
    np.savez(root / "train.npz", x=train.x, y=train.y, classes=np.array(train.classes), sample_rate=train.sample_rate)
    held = synthetic.generate(6, window_length=L, seed=7)
    held_x = np.concatenate([held.x[:30], held.x[30:] * 250.0 + 3.0])  # another gain and offset too
    np.savez(root / "held.npz", x=held_x.astype(np.float32), y=held.y, classes=np.array(held.classes),
             sample_rate=held.sample_rate)
    assert main(["train", "--data", f"npz:{root / 'train.npz'}", "--epochs", "6", "--units-per-stage", "1",
                 "--noise", "none", "--lr", "0.01", "--out", str(root / "m.pt"), "--quiet"]) == 0
    assert main(["convert", str(root / "m.pt"), "--out", str(root / "build"), "--no-tflm", "--calib-size", "16",
                 "--val-size", "16", "--quiet"]) == 0
    assert main(["export", str(root / "build"), "--target", "pi", "--out", str(root / "bundle")]) == 0
    return {"root": root, "build": root / "build", "bundle": root / "bundle", "held": root / "held.npz"}
