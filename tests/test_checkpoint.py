"""Checkpoints are self-describing, round-trip exactly and never execute pickled code."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from drsn_edge.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from drsn_edge.errors import DrsnError
from drsn_edge.models import ModelConfig, build_model
from drsn_edge.predictor import TorchPredictor
from drsn_edge.registry import load_predictor
from drsn_edge.preprocess import Preprocessing


def make_checkpoint(arch: str = "drsn-cs") -> Checkpoint:
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, in_length=512, num_classes=3)
    model = build_model(config)
    return Checkpoint(
        config=config,
        state_dict=model.state_dict(),
        classes=["normal", "IR007", "B007"],
        preprocessing=Preprocessing(window_length=512, sample_rate=12000.0),
        training={"name": "tiny", "epochs_run": 1, "history": [{"epoch": 1, "loss": 1.0}]},
        metrics={"val_accuracy": 0.5},
    )


def test_round_trip_is_exact_and_weights_only(tmp_path: Path) -> None:
    ckpt = make_checkpoint()
    path = tmp_path / "m.pt"
    save_checkpoint(ckpt, path)
    raw = torch.load(path, weights_only=True)  # must not need pickled classes
    assert raw["format"] == "drsn-edge-checkpoint"
    assert raw["classes"] == ["normal", "IR007", "B007"]
    assert raw["preprocessing"]["window_length"] == 512
    assert raw["model"]["arch"] == "drsn-cs" and raw["package_version"]
    loaded = load_checkpoint(path)
    x = np.random.default_rng(0).normal(size=(4, 512)).astype(np.float32)
    np.testing.assert_array_equal(TorchPredictor(ckpt).logits(x), load_predictor(path).logits(x))
    assert loaded.training["history"][0]["loss"] == 1.0 and loaded.name == "tiny"
    assert not list(tmp_path.glob(".tmp-*"))


class Evil:
    def __reduce__(self):  # noqa: D105 - runs on unpickle
        return (Path("/tmp/drsn-evil-ran").touch, ())


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = Path("/tmp/drsn-evil-ran")
    marker.unlink(missing_ok=True)
    path = tmp_path / "evil.pt"
    torch.save({"format": "drsn-edge-checkpoint", "payload": Evil()}, path)
    with pytest.raises(DrsnError, match="not a readable drsn-edge checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    with path.open("wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(DrsnError):
        load_checkpoint(path)
    assert not marker.exists()


def test_foreign_corrupt_truncated_missing(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.pt"
    torch.save(build_model().state_dict(), foreign)
    with pytest.raises(DrsnError, match="not a drsn-edge checkpoint"):
        load_checkpoint(foreign)
    good = tmp_path / "good.pt"
    save_checkpoint(make_checkpoint(), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DrsnError, match="not a readable"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(DrsnError):
        load_checkpoint(garbage)
    with pytest.raises(DrsnError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    ckpt = make_checkpoint()
    data = ckpt.to_dict()
    data["model"]["widths"] = [8, 16, 32]
    path = tmp_path / "mismatch.pt"
    torch.save(data, path)
    with pytest.raises(DrsnError, match="do not match"):
        load_checkpoint(path)


def test_preprocessing_rejects_wrong_length_and_nan() -> None:
    pre = Preprocessing(window_length=512)
    with pytest.raises(DrsnError, match="expects 512"):
        pre.apply(np.zeros((2, 500)))
    bad = np.zeros((2, 512))
    bad[1, 3] = np.nan
    with pytest.raises(DrsnError, match="NaN"):
        pre.apply(bad)
    x = np.random.default_rng(1).normal(3.0, 5.0, size=(3, 512))
    z = pre.apply(x)
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=1), 1, atol=1e-4)
    assert np.all(pre.apply(np.zeros((1, 512))) == 0)  # silence stays finite
