"""`drsn-edge finetune`: quantisation-aware fine-tuning, then convert; the int8 model follows its mirror."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from drsn_edge.checkpoint import load_checkpoint
from drsn_edge.cli import main
from drsn_edge.data.npz import write_npz
from drsn_edge.data.synthetic import generate

# the subprocess runs elsewhere, so point it at this checkout's code, not whatever is installed
CHECKOUT_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

SMALL_NET = ["--window-length", "512", "--widths", "4,8", "--units-per-stage", "2", "--batch-size", "16",
             "--lr", "0.01", "--snr", "0,10"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("finetune")
    write_npz(root / "data.npz", generate(40, window_length=512, seed=5))
    base, qat = root / "base.pt", root / "qat.pt"
    assert main(["train", "--data", f"npz:{root / 'data.npz'}", "--arch", "drsn-cw", "--epochs", "6", "--seed", "2",
                 "--out", str(base), "--quiet", *SMALL_NET]) == 0
    assert main(["finetune", str(base), "--out", str(qat), "--epochs", "2", "--calib-size", "64", "--quiet"]) == 0
    return {"root": root, "base": base, "qat": qat}


def test_finetune_writes_a_float_checkpoint_with_its_history(tuned: dict[str, Path]) -> None:
    base, qat = load_checkpoint(tuned["base"]), load_checkpoint(tuned["qat"])
    info = qat.training["finetune"]
    assert info["kind"] == "quantisation-aware" and info["epochs_run"] == 2 and len(info["history"]) == 2
    before, after = info["clean_val_accuracy_fakequant_before"], info["clean_val_accuracy_fakequant_after"]
    assert 0.0 < before <= 1.0 and after >= before - 0.05  # the best epoch is kept: fine-tuning does not lose ground
    assert qat.name == f"{base.name}-qat" and qat.config == base.config and qat.metrics["val_is_fakequant"]
    changed = [k for k in base.state_dict if not torch.equal(base.state_dict[k], qat.state_dict[k])]
    assert any(k.endswith("conv1.weight") for k in changed)
    # batch-norm statistics are frozen: the mirror folds them, it never updates them
    assert not [k for k in changed if k.endswith(("running_mean", "running_var"))]


def test_converted_fine_tuned_model_follows_its_mirror(tuned: dict[str, Path]) -> None:
    out = tuned["root"] / "build"
    assert main(["convert", str(tuned["qat"]), "--out", str(out), "--no-tflm", "--calib-size", "64",
                 "--val-size", "60", "--quiet"]) == 0
    results = json.loads((out / "validation.json").read_text())
    mirror = results["int8"]["vs_fakequant"]
    assert mirror["windows"] == 120 and mirror["top1_agreement"] >= 0.9
    assert 0 < mirror["logit_rmse"] < 2 * mirror["float_vs_int8_logit_rmse"] + 0.05
    assert any(c["check"].startswith("int8 top-1 agreement with its fake-quantised mirror") for c in results["checks"])


def test_bad_finetune_input_is_one_line(tuned: dict[str, Path]) -> None:
    for args, text in ((["nope.pt", "--out", "x.pt"], "nope.pt"),
                       ([str(tuned["base"]), "--out", "x.pt", "--epochs", "0"], "positive"),
                       ([str(tuned["base"]), "--out", "x.pt", "--ranges", "max"], "range method")):
        proc = subprocess.run([sys.executable, "-m", "drsn_edge.cli", "finetune", *args], capture_output=True,
                              text=True, timeout=120, cwd=tuned["root"], env=CHECKOUT_ENV)
        assert proc.returncode == 2 and text in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
