"""Shared pieces of the hostile-input tests: a tiny real checkpoint, the committed tiny build, one-line refusals."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
import torch

from drsn_edge.checkpoint import Checkpoint
from drsn_edge.cli import main
from drsn_edge.models import ModelConfig, build_model
from drsn_edge.preprocess import Preprocessing

DATA = Path(__file__).resolve().parent / "data"
WINDOW = 64


@pytest.fixture
def refused(capsys: pytest.CaptureFixture) -> Callable[..., str]:
    """Run the CLI; it must exit non-zero with exactly one ``error:`` line and no traceback. Returns the line."""

    def run(*args: object) -> str:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        lines = [line for line in out.err.splitlines() if line.strip()]
        assert code != 0, out.out[-500:]
        assert "Traceback" not in out.err + out.out
        assert len(lines) == 1 and lines[0].startswith("error: "), out.err[-1000:]
        return lines[0]

    return run


@pytest.fixture(scope="session")
def tiny_checkpoint_dict() -> dict:
    """A real (untrained) checkpoint's dict: every hostile checkpoint is one edit of it."""
    config = ModelConfig(in_length=WINDOW, widths=[4], units_per_stage=1, num_classes=3)
    torch.manual_seed(0)
    model = build_model(config)
    ckpt = Checkpoint(config=config, state_dict=model.state_dict(), classes=["normal", "inner", "outer"],
                      preprocessing=Preprocessing(window_length=WINDOW),
                      training={"name": "tiny", "data": {"spec": "synthetic:0"}}, metrics={"val_accuracy": 0.5})
    return ckpt.to_dict()


@pytest.fixture
def write_checkpoint(tmp_path: Path) -> Callable[[object], Path]:
    def write(data: object) -> Path:
        path = tmp_path / "hostile.pt"
        torch.save(data, path)
        return path

    return write


@pytest.fixture
def tiny_build(tmp_path: Path) -> Path:
    """A copy of the committed build directory (model.json + model_int8.tflite of a real tiny DRSN-CW)."""
    return Path(shutil.copytree(DATA / "tiny_build", tmp_path / "build"))


@pytest.fixture
def valid_checkpoint(tiny_checkpoint_dict: dict, tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pt"
    torch.save(tiny_checkpoint_dict, path)
    return path
