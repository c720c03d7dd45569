"""The CLI end to end: train, evaluate, JSON output, and one-line errors for bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from drsn_edge.cli import main
from drsn_edge.data.dataset import Windows
from drsn_edge.data.npz import read_npz, write_npz
from drsn_edge.data.synthetic import generate

WINDOW = 512
SMALL_NET = ["--window-length", str(WINDOW), "--widths", "4,8", "--units-per-stage", "2", "--batch-size", "16", "--lr", "0.01",
             "--snr", "5,20"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small synthetic .npz and a model trained on it for a few epochs."""
    root = tmp_path_factory.mktemp("cli")
    data = generate(40, window_length=WINDOW, seed=3)
    write_npz(root / "data.npz", data)
    model = root / "model.pt"
    code = main(["train", "--data", f"npz:{root / 'data.npz'}", "--arch", "drsn-cs", "--epochs", "6",
                 "--seed", "1", "--out", str(model), "--quiet", *SMALL_NET])
    assert code == 0
    return {"root": root, "data": root / "data.npz", "model": model}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drsn_edge.cli", *args], capture_output=True, text=True, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert pattern in lines[0], lines[0]


def test_checkpoint_is_self_describing(tiny: dict[str, Path]) -> None:
    raw = torch.load(tiny["model"], weights_only=True)
    assert raw["model"]["arch"] == "drsn-cs" and raw["model"]["in_length"] == WINDOW
    assert raw["classes"][0] == "normal" and len(raw["classes"]) == 10
    assert raw["preprocessing"] == {"window_length": WINDOW, "sample_rate": 12000.0, "normalisation": "window",
                                    "mean": 0.0, "std": 1.0, "eps": 1e-6}
    t = raw["training"]
    assert t["config"]["noise"] == ["gaussian", "laplacian", "pink"] and t["config"]["seed"] == 1
    assert t["data"]["spec"].startswith("npz:") and t["n_train"] > 0 and len(t["history"]) == 6
    assert 0 <= raw["metrics"]["test_accuracy"] <= 1 and raw["package_version"]


def test_evaluate_json_and_subset_of_classes(tiny: dict[str, Path]) -> None:
    out = tiny["root"] / "eval.json"
    assert main(["evaluate", str(tiny["model"]), "--data", f"npz:{tiny['data']}", "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert 0.0 <= result["accuracy"] <= 1.0 and result["n"] == 400
    confusion = np.array(result["confusion"])
    assert confusion.sum() == 400 and np.trace(confusion) == round(result["accuracy"] * 400)
    assert result["accuracy"] > 0.25  # well above chance (0.1) after 6 short epochs

    # data holding 3 of the model's 10 classes, in a different order, is matched by name
    full = read_npz(tiny["data"])
    keep = np.isin(full.y, [2, 0, 7])
    order = ["OR007@6", "IR014", "normal"]
    relabel = np.array([order.index(full.classes[v]) for v in full.y[keep]])
    write_npz(tiny["root"] / "subset.npz", Windows(full.x[keep], relabel, order, 12000.0))
    sub = tiny["root"] / "subset.json"
    assert main(["evaluate", str(tiny["model"]), "--data", f"npz:{tiny['root'] / 'subset.npz'}",
                 "--json", str(sub), "--quiet"]) == 0
    sub_result = json.loads(sub.read_text())
    assert sub_result["n"] == 120
    for name in ("normal", "IR014", "OR007@6"):
        assert sub_result["per_class"][name] == pytest.approx(result["per_class"][name])


def test_sweep_covers_every_cell(tiny: dict[str, Path]) -> None:
    out = tiny["root"] / "sweep.json"
    assert main(["evaluate", str(tiny["model"]), "--data", f"npz:{tiny['data']}", "--sweep",
                 "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert len(result["cells"]) == 3 * 11
    assert {c["noise"] for c in result["cells"]} == {"gaussian", "laplacian", "pink"}
    assert result["accuracy"] == result["clean"]
    by_snr = {s: np.mean([c["accuracy"] for c in result["cells"] if c["snr_db"] == s]) for s in (-5.0, 5.0)}
    assert by_snr[5.0] >= by_snr[-5.0]  # more noise never helps on average
    # the noise is deterministic: a second run gives identical numbers
    again = tiny["root"] / "sweep2.json"
    main(["evaluate", str(tiny["model"]), "--data", f"npz:{tiny['data']}", "--sweep", "--json", str(again), "--quiet"])
    assert json.loads(again.read_text())["cells"] == result["cells"]


def test_training_is_deterministic_under_a_seed(tiny: dict[str, Path]) -> None:
    again = tiny["root"] / "again.pt"
    assert main(["train", "--data", f"npz:{tiny['data']}", "--arch", "drsn-cs", "--epochs", "6", "--seed", "1",
                 "--out", str(again), "--quiet", *SMALL_NET]) == 0
    a = torch.load(tiny["model"], weights_only=True)["state_dict"]
    b = torch.load(again, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_input_gives_one_line_errors(tiny: dict[str, Path], tmp_path: Path) -> None:
    model, data = str(tiny["model"]), f"npz:{tiny['data']}"
    assert_one_line_error(run_cli("evaluate", str(tmp_path / "nope.pt"), "--data", data), "not found")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 definitely not torch")
    assert_one_line_error(run_cli("evaluate", str(garbage), "--data", data), "not a readable drsn-edge checkpoint")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    assert_one_line_error(run_cli("evaluate", str(foreign), "--data", data), "not a drsn-edge checkpoint")

    short = generate(2, window_length=256, seed=0)
    write_npz(tmp_path / "short.npz", short)
    assert_one_line_error(run_cli("evaluate", model, "--data", f"npz:{tmp_path / 'short.npz'}"), "expects 512")

    nan = generate(2, window_length=WINDOW, seed=0)
    nan.x[3, 10] = np.nan
    write_npz(tmp_path / "nan.npz", nan)
    assert_one_line_error(run_cli("evaluate", model, "--data", f"npz:{tmp_path / 'nan.npz'}"), "NaN or Inf")

    unknown = Windows(nan.x[:2] * 0, [0, 1], ["normal", "cracked-gear"], 12000.0)
    write_npz(tmp_path / "unknown.npz", unknown)
    assert_one_line_error(run_cli("evaluate", model, "--data", f"npz:{tmp_path / 'unknown.npz'}"), "cracked-gear")

    mat_dir = tmp_path / "mats"
    mat_dir.mkdir()
    scipy.io.savemat(mat_dir / "IR007_0.mat", {"X105_FE_time": np.zeros((30000, 1))})
    assert_one_line_error(run_cli("evaluate", model, "--data", f"cwru:{mat_dir}"), "DE")
    assert_one_line_error(run_cli("evaluate", model, "--data", "cwru:/no/such/folder"), "/no/such/folder")
    assert_one_line_error(run_cli("evaluate", model, "--data", "imagenet"), "unknown data spec")
    assert_one_line_error(run_cli("evaluate", model, "--data", data, "--noise", "brown", "--snr", "0"), "brown")

    out = tmp_path / "never.pt"
    assert_one_line_error(run_cli("train", "--data", data, "--arch", "vgg", "--out", str(out)), "unknown architecture")
    assert not out.exists()
    assert_one_line_error(run_cli("train", "--data", data, "--snr", "5,-5", "--out", str(out)), "SNR")
    # a negative range is a value, not an option (argparse alone would refuse "--snr -5,5")
    assert_one_line_error(run_cli("train", "--data", data, "--snr", "-5,5", "--arch", "nope", "--out", str(out)),
                          "unknown architecture")
    assert not out.exists()
