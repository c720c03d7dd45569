"""Hostile checkpoints: absurd configs, preprocessing, classes, weights and summaries end in one error line.

Each case is one edit of a real checkpoint's dict; ``drsn-edge evaluate`` must
refuse it at load time (before any model is built or data is read).
"""
from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from drsn_edge.errors import DrsnError
from drsn_edge.predictor import Predictor
from drsn_edge.preprocess import Preprocessing

MODEL = [("in_length", v) for v in (0, -5, 10**9, 2048.5, "64", True, None, 2)] + \
    [("num_classes", v) for v in (1, 10**6, "3", 3.0)] + \
    [("stem_channels", v) for v in (0, -1, 10**6)] + \
    [("stem_stride", v) for v in (0, -2, 1000)] + \
    [("widths", v) for v in ([], [10**6], [0], "abc", [4.5], [[4]], list(range(1, 20)), None, [-4])] + \
    [("units_per_stage", v) for v in (0, 10**5, -1)] + \
    [("kernel_size", v) for v in (0, 2, 10**4, -3)] + \
    [("arch", v) for v in ("x", 5, None)] + [("shortcut", v) for v in ("y", None)] + [("bogus", 1)]
PRE = [("window_length", v) for v in (0, 64.0, "64", 10**12, 128)] + \
    [("sample_rate", v) for v in (0, float("nan"), float("inf"), -1.0, 1e15, "x", None)] + \
    [("normalisation", v) for v in ("zscore", 3)] + \
    [("mean", v) for v in (float("nan"), float("inf"), 1e300)] + \
    [("std", v) for v in (0.0, -1.0, float("nan"), 1e300)] + [("eps", v) for v in (0.0, float("nan"), 5.0)]
CLASSES = [["normal", "inner"], ["normal", "normal", "outer"], ["normal", "in\nner", "outer"],
           ["normal", "", "outer"], ["normal", "x" * 200, "outer"], ["normal", 5, "outer"], None, "abc",
           ["normal", "\x1b[2J", "outer"], ["normal", "in\u202eer", "outer"], ["a", "b", None]]


def _edit(data: dict, section: str, key: str, value: object) -> dict:
    data = copy.deepcopy(data)
    data[section][key] = value
    return data


@pytest.mark.parametrize(("key", "value"), MODEL, ids=[f"{k}={v!r:.20}" for k, v in MODEL])
def test_model_config(tiny_checkpoint_dict, write_checkpoint, refused, key, value) -> None:
    path = write_checkpoint(_edit(tiny_checkpoint_dict, "model", key, value))
    assert str(path) in refused("evaluate", path, "--data", "synthetic")


@pytest.mark.parametrize(("key", "value"), PRE, ids=[f"{k}={v!r:.20}" for k, v in PRE])
def test_preprocessing(tiny_checkpoint_dict, write_checkpoint, refused, key, value) -> None:
    refused("evaluate", write_checkpoint(_edit(tiny_checkpoint_dict, "preprocessing", key, value)),
            "--data", "synthetic")


@pytest.mark.parametrize("classes", CLASSES, ids=[repr(c)[:24] for c in CLASSES])
def test_classes(tiny_checkpoint_dict, write_checkpoint, refused, classes) -> None:
    data = copy.deepcopy(tiny_checkpoint_dict)
    data["classes"] = classes
    refused("evaluate", write_checkpoint(data), "--data", "synthetic")


WEIGHTS = ["nan", "inf", "-inf", "missing", "shape", "list", "extra"]


@pytest.mark.parametrize("edit", WEIGHTS)
def test_weights(tiny_checkpoint_dict, write_checkpoint, refused, edit) -> None:
    data = copy.deepcopy(tiny_checkpoint_dict)
    state = data["state_dict"]
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    if edit in ("nan", "inf", "-inf"):
        state[key] = state[key].clone()
        state[key].view(-1)[0] = float(edit)
    elif edit == "missing":
        del state[key]
    elif edit == "shape":
        state[key] = torch.zeros(7, 7)
    elif edit == "list":
        state[key] = [1.0, 2.0]
    else:
        state["bogus.weight"] = torch.zeros(2)
    refused("evaluate", write_checkpoint(data), "--data", "synthetic")


SUMMARIES = [("training", "x"), ("metrics", [1, 2]), ("training", {"name": "a\nb"}), ("training", {"name": 5}),
             ("training", {"name": ""}), ("metrics", None), ("training", {"name": "x" * 500})]


@pytest.mark.parametrize(("section", "value"), SUMMARIES, ids=[f"{s}={v!r:.20}" for s, v in SUMMARIES])
def test_training_and_metrics(tiny_checkpoint_dict, write_checkpoint, refused, section, value) -> None:
    data = copy.deepcopy(tiny_checkpoint_dict)
    data[section] = value
    refused("evaluate", write_checkpoint(data), "--data", "synthetic")


class _Evil:
    def __reduce__(self):
        return (Path("/tmp/drsn-hostile-pwned").touch, ())


FILES = ["format", "version", "list", "pickle", "empty", "random", "truncated", "no_model"]


@pytest.mark.parametrize("kind", FILES)
def test_files_that_are_not_checkpoints(tiny_checkpoint_dict, valid_checkpoint, tmp_path, refused, kind) -> None:
    path = tmp_path / "bad.pt"
    data = copy.deepcopy(tiny_checkpoint_dict)
    if kind == "format":
        torch.save({**data, "format": "other"}, path)
    elif kind == "version":
        torch.save({**data, "format_version": 2}, path)
    elif kind == "list":
        torch.save([1, 2], path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"x": _Evil()}))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "truncated":
        path.write_bytes(valid_checkpoint.read_bytes()[:1000])
    else:
        del data["model"]
        torch.save(data, path)
    refused("evaluate", path, "--data", "synthetic")
    assert not Path("/tmp/drsn-hostile-pwned").exists()


def test_the_unedited_checkpoint_loads(valid_checkpoint) -> None:
    from drsn_edge.checkpoint import load_checkpoint

    assert load_checkpoint(valid_checkpoint).classes == ["normal", "inner", "outer"]


class _NaNPredictor(Predictor):
    name, classes, preprocessing = "nan-runtime", ["a", "b"], Preprocessing(window_length=8)

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        return np.full((len(x), 2), np.nan)


def test_nan_logits_are_an_error_not_an_accuracy() -> None:
    with pytest.raises(DrsnError, match="NaN or Inf logits"):
        _NaNPredictor().predict(np.ones((3, 8)))


@pytest.mark.parametrize("window", [np.full(8, 1e308), np.array([1e308, -1e308] * 4)])
def test_windows_not_finite_after_preprocessing_are_refused(window) -> None:
    with pytest.raises(DrsnError, match="not finite after preprocessing"):
        Preprocessing(window_length=8).apply(window)


@pytest.mark.parametrize("name", ["/tmp/drsn-escape", "../../escape", "..", "-rf", ".hidden", "a/../../b"])
def test_convert_without_out_writes_inside_build(tiny_checkpoint_dict, write_checkpoint, monkeypatch, name) -> None:
    """A model name from the checkpoint picks the default folder build/NAME: never a path outside build/."""
    from quantize.convert import pipeline

    chosen: list[Path] = []

    def stop(out: Path, force: bool) -> None:  # the output directory is chosen: stop before any work
        chosen.append(Path(out))
        raise DrsnError("chosen")

    monkeypatch.setattr(pipeline, "check_writable", stop)
    data = copy.deepcopy(tiny_checkpoint_dict)
    data["training"]["name"] = name
    with pytest.raises(DrsnError, match="chosen"):
        pipeline.convert(write_checkpoint(data), pipeline.ConvertOptions())
    assert chosen[0].parent == Path("build") and chosen[0].name not in ("", ".", "..")
    assert not chosen[0].name.startswith((".", "-")) and "/" not in chosen[0].name


def test_finite_weights_that_overflow_give_an_error_not_an_accuracy(tiny_checkpoint_dict, write_checkpoint,
                                                                    refused, tmp_path) -> None:
    """Every weight finite (so the checkpoint loads) but 1e38: the logits overflow to Inf/NaN in float32."""
    data = copy.deepcopy(tiny_checkpoint_dict)
    data["state_dict"] = {k: torch.full_like(v, 1e38) if v.is_floating_point() else v
                          for k, v in data["state_dict"].items()}
    x = np.random.default_rng(0).normal(size=(30, 64)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 3, classes=np.array(["normal", "inner", "outer"]))
    assert "NaN or Inf logits" in refused("evaluate", write_checkpoint(data), "--data", f"npz:{tmp_path / 'd.npz'}")
