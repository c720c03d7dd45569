"""Scoring, sweeps and multi-runtime comparison on hand-made predictors with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from drsn_edge.data.dataset import Windows
from drsn_edge.errors import DrsnError
from drsn_edge.evaluate import compare, evaluate, noisy_windows, score, sweep
from drsn_edge.predictor import Predictor
from drsn_edge.preprocess import Preprocessing

CLASSES = ["normal", "IR007", "B007"]


class Fixed(Predictor):
    """Predicts class ``window[0] > 0`` style rules so the expected accuracy is known exactly."""

    def __init__(self, name: str, flip_every: int = 0) -> None:
        self.name = name
        self.classes = CLASSES
        self.preprocessing = Preprocessing(window_length=16, normalisation="none")
        self.flip_every = flip_every

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        label = np.clip(np.round(x[:, 0]).astype(int), 0, 2)
        if self.flip_every:
            label[:: self.flip_every] = (label[:: self.flip_every] + 1) % 3
        return np.eye(3)[label]


def windows() -> Windows:
    y = np.arange(30) % 3
    x = np.zeros((30, 16), np.float32)
    x[:, 0] = y
    return Windows(x, y, CLASSES, 12000.0)


def test_score_confusion_and_per_class() -> None:
    result = score(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), CLASSES)
    assert result["accuracy"] == pytest.approx(0.6)
    assert result["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert result["per_class"] == {"normal": 0.5, "IR007": 1.0, "B007": 0.5}


def test_evaluate_and_compare_give_exact_numbers() -> None:
    w = windows()
    assert evaluate(Fixed("perfect"), w)["accuracy"] == 1.0
    result = compare([Fixed("ref"), Fixed("noisy", flip_every=5)], w, noise_types=("gaussian",), snrs_db=(50.0,),
                     progress=False)
    assert result["clean"]["accuracy"] == {"ref": 1.0, "noisy": pytest.approx(24 / 30)}
    assert result["clean"]["agreement"] == {"noisy": pytest.approx(24 / 30)}
    assert len(result["cells"]) == 1 and result["cells"][0]["noise"] == "gaussian"
    with pytest.raises(DrsnError, match="differ"):
        compare([Fixed("a"), Fixed("a")], w, progress=False)


def test_noise_cells_are_identical_for_every_predictor_and_differ_between_cells() -> None:
    w = Windows(np.random.default_rng(0).normal(size=(4, 64)).astype(np.float32), [0, 1, 2, 0], CLASSES, 12000.0)
    a = noisy_windows(w, "pink", -3.0, seed=7)
    np.testing.assert_array_equal(a, noisy_windows(w, "pink", -3.0, seed=7))
    assert not np.array_equal(a, noisy_windows(w, "pink", -2.0, seed=7))
    assert not np.array_equal(a, noisy_windows(w, "gaussian", -3.0, seed=7))
    realised = 10 * np.log10(np.mean(w.x ** 2, axis=1) / np.mean((a - w.x) ** 2, axis=1))
    np.testing.assert_allclose(realised, -3.0, atol=0.01)


def test_sweep_has_every_cell() -> None:
    result = sweep(Fixed("ref"), windows(), snrs_db=(-5.0, 0.0, 5.0), progress=False)
    assert result["clean"] == 1.0 and len(result["cells"]) == 9


def test_compare_breaks_every_cell_down_per_condition() -> None:
    w = windows()
    w = Windows(w.x, w.y, w.classes, 12000.0, condition=np.where(np.arange(30) < 10, "a", "b"))
    result = compare([Fixed("ref"), Fixed("noisy", flip_every=5)], w, noise_types=("gaussian",), snrs_db=(50.0,),
                     progress=False)
    per = result["per_condition"]  # what the report's JSON carries beside the noise cells
    assert {c: v["n"] for c, v in per.items()} == {"a": 10, "b": 20}
    assert per["a"]["clean"] == {"ref": 1.0, "noisy": pytest.approx(8 / 10)}  # flips at 0, 5 of the first 10
    assert per["b"]["clean"]["noisy"] == pytest.approx(16 / 20)
    assert result["cells"][0]["per_condition"]["b"]["accuracy"]["ref"] == 1.0
    single = compare([Fixed("ref")], windows(), noise_types=("gaussian",), snrs_db=(50.0,), progress=False)
    assert "per_condition" not in single and "per_condition" not in single["clean"]
    assert evaluate(Fixed("noisy", flip_every=5), w)["per_condition"]["a"]["accuracy"] == pytest.approx(0.8)
