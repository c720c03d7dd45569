"""`drsn-edge report` / `convert --report`: numbers equal `evaluate`, and the page works in a real browser.

One tiny DRSN-CW (512-sample windows, one unit per stage, one epoch on the
synthetic data) is converted with ``--report`` on a small .npz of test
windows and a reduced SNR list, so the whole file runs in about a minute.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.buildinfo import load_build_info
from drsn_edge.cli import main
from drsn_edge.data.dataset import Windows
from drsn_edge.data.npz import write_npz
from drsn_edge.data.spec import load_windows
from headless_browser import open_page

RUNTIMES = ["pytorch-float", "onnxruntime-float", "litert-float", "litert-int8", "litert-int16x8", "tflm-int8"]
SNRS = [-5.0, 5.0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("report")
    test = load_windows("synthetic", split="test", window_length=512)
    idx = np.linspace(0, len(test) - 1, 40).round().astype(int)
    write_npz(root / "test.npz", Windows(test.x[idx], test.y[idx], test.classes, test.sample_rate))
    ckpt = root / "tiny.pt"
    assert main(["train", "--data", "synthetic", "--epochs", "1", "--window-length", "512", "--units-per-stage", "1",
                 "--seed", "0", "--out", str(ckpt), "--quiet"]) == 0
    build = root / "build"
    assert main(["convert", str(ckpt), "--out", str(build), "--calib-size", "16", "--val-size", "20",
                 "--int16-activations", "--quiet", "--report", "--report-data", f"npz:{root / 'test.npz'}",
                 "--report-snr", "-5,5"]) == 0
    return {"root": root, "ckpt": ckpt, "build": build, "data": f"npz:{root / 'test.npz'}",
            "report": json.loads((build / "report" / "report.json").read_text())}


def test_report_covers_every_runtime_and_cell(built: dict) -> None:
    report = built["report"]
    assert sorted(p.name for p in (built["build"] / "report").iterdir()) == ["report.html", "report.json", "report.md"]
    (model,) = report["models"]
    assert model["runtimes"] == RUNTIMES and model["float_reference"] == "pytorch-float"
    sweep = model["sweep"]
    assert [(c["noise"], c["snr_db"]) for c in sweep["cells"]] == [(k, s) for k in ("gaussian", "laplacian", "pink")
                                                                   for s in SNRS]
    assert report["data"]["n"] == 40 and all(c["n"] == 40 for c in sweep["cells"])
    loss = model["quantisation_loss"]
    for c, row in zip(loss["cells"], sweep["cells"]):
        assert c["loss_points"] == pytest.approx(100 * (row["accuracy"]["pytorch-float"] - row["accuracy"]["litert-int8"]))
    assert loss["mean_noisy_points"] == pytest.approx(np.mean([c["loss_points"] for c in loss["cells"]]))
    worst = loss["worst"]
    assert worst["loss_points"] == max(c["loss_points"] for c in loss["cells"])
    assert f"worst cell {worst['noise']} {worst['snr_db']:g} dB" in report["verdict"]
    # the float runtimes agree with PyTorch on every window; TFLM scores like LiteRT int8 (1-LSB FC rounding aside)
    rows = [sweep["clean"], *sweep["cells"]]
    for name in ("onnxruntime-float", "litert-float"):
        assert all(r["agreement"][name] == 1.0 for r in rows)
    assert np.mean([abs(r["accuracy"]["tflm-int8"] - r["accuracy"]["litert-int8"]) for r in rows]) < 0.05
    facts = model["facts"]
    assert facts["parameters"] > 1000 and facts["macs"] > facts["parameters"]
    assert facts["files"]["int8"]["bytes"] == (built["build"] / "model_int8.tflite").stat().st_size
    assert facts["tflm_arena_bytes"] > 0
    assert all(v > 0 for v in model["latency_ms_per_window"].values())
    units = model["units"]
    assert len(units) == 3  # one shrinkage unit per stage
    for u in units.values():
        f, q = np.array(u["tau_samples"]["float"]), np.array(u["tau_samples"]["int8"])
        assert 0 < len(f) == len(q) <= 512 and np.all(f >= 0)
        assert np.median(np.abs(q - f) / np.maximum(f, 1e-12)) < 0.2  # int8 thresholds track the float ones
    md = (built["build"] / "report" / "report.md").read_text()
    assert report["verdict"] in md and "| litert-int8 |" in md and "| tflm-int8 |" in md


def _evaluate(*args: str, out: Path) -> dict:
    assert main(["evaluate", *args, "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def test_json_numbers_equal_a_direct_evaluate(built: dict, tmp_path: Path) -> None:
    sweep = built["report"]["models"][0]["sweep"]
    direct = _evaluate(str(built["build"]), "--data", built["data"], out=tmp_path / "int8.json")  # the int8 model
    assert direct["accuracy"] == sweep["clean"]["accuracy"]["litert-int8"]
    assert direct["confusion"] == sweep["clean"]["confusion"]["litert-int8"]
    direct = _evaluate(str(built["ckpt"]), "--data", built["data"], "--noise", "pink", "--snr", "-5",
                       out=tmp_path / "float.json")
    (cell,) = [c for c in sweep["cells"] if c["noise"] == "pink" and c["snr_db"] == -5.0]
    assert direct["accuracy"] == cell["accuracy"]["pytorch-float"]
    assert direct["confusion"] == cell["confusion"]["pytorch-float"]
    direct = _evaluate(str(built["build"] / "model_float32.tflite"), "--data", built["data"], "--noise", "gaussian",
                       "--snr", "5", out=tmp_path / "f32.json")
    (cell,) = [c for c in sweep["cells"] if c["noise"] == "gaussian" and c["snr_db"] == 5.0]
    assert direct["accuracy"] == cell["accuracy"]["litert-float"]


def test_page_opens_in_a_headless_browser(built: dict) -> None:
    import matplotlib.image

    page = open_page(built["build"] / "report" / "report.html", width=1366, height=900)
    assert page.console_errors == []
    assert len(page.images) == 4  # accuracy vs SNR, loss heatmap, confusion matrices, threshold scatter
    assert all(img["complete"] and img["width"] > 100 and img["height"] > 100 for img in page.images)
    assert page.title.startswith("Accuracy vs quantisation")
    pixels = matplotlib.image.imread(io.BytesIO(page.screenshot_png), format="png")
    assert pixels.shape[:2] == (900, 1366)
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05 and (gray < 0.5).mean() > 0.005  # text and plots, not a blank page


def _copy_build(src: Path, dst: Path, name: str, checkpoint: str | None) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("report"))
    info = json.loads((dst / "model.json").read_text())
    info["name"] = name
    (dst / "model.json").write_text(json.dumps(info))
    validation = json.loads((dst / "validation.json").read_text())
    validation["checkpoint"] = checkpoint
    (dst / "validation.json").write_text(json.dumps(validation))
    return dst


def test_several_builds_and_a_missing_checkpoint(built: dict, tmp_path: Path) -> None:
    other = _copy_build(built["build"], tmp_path / "other", "tiny-without-checkpoint", str(tmp_path / "gone.pt"))
    out = tmp_path / "cmp"
    assert main(["report", str(built["build"]), "--models", str(other), "--data", built["data"], "--noise", "pink",
                 "--snr", "-5", "--limit", "20", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["models"]
    assert report["data"]["n"] == 20 and report["data"]["limit"] == 20
    assert first["float_reference"] == "pytorch-float" and second["float_reference"] == "onnxruntime-float"
    assert "pytorch-float" not in second["runtimes"] and any("checkpoint" in n for n in second["notes"])
    # the same int8 model on the same windows: identical numbers
    assert first["sweep"]["cells"][0]["accuracy"]["litert-int8"] == second["sweep"]["cells"][0]["accuracy"]["litert-int8"]
    assert "most accurate under noise" in report["verdict"]
    md = (out / "report.md").read_text()
    assert "| tiny |" in md and "| tiny-without-checkpoint |" in md
    assert "gone.pt" in (out / "report.html").read_text()


def test_bad_input_is_one_line(built: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = str(tmp_path / "r")
    for args, needle in (((str(tmp_path), "--data", built["data"], "--out", out), "not a drsn-edge build directory"),
                         ((str(built["build"]), "--data", built["data"], "--limit", "0", "--out", out), "--limit"),
                         ((str(built["build"]), "--data", "npz:/nonexistent.npz", "--out", out), "nonexistent"),
                         ((str(built["build"]), "--data", built["data"], "--out", str(built["build"])), "exists")):
        capsys.readouterr()
        assert main(["report", *args, "--quiet"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], lines
    assert not (tmp_path / "r").exists()


def test_per_condition_and_unknown_views_equal_evaluate(built: dict, tmp_path: Path) -> None:
    """With conditions in the data, the report's per-condition accuracy per runtime and its "unknown" figures are
    `evaluate`'s, and both pages show them."""
    test = load_windows(built["data"], split="test", window_length=512)
    condition = np.where(np.arange(len(test)) % 3 == 0, "load_a", "load_b")
    data = tmp_path / "cond.npz"
    write_npz(data, Windows(test.x, test.y, test.classes, test.sample_rate, condition=condition))
    out = tmp_path / "r"
    assert main(["report", str(built["build"]), "--data", f"npz:{data}", "--noise", "pink", "--snr", "-5",
                 "--out", str(out), "--quiet", "--workers", "1"]) == 0
    model = json.loads((out / "report.json").read_text())["models"][0]
    per = model["sweep"]["per_condition"]
    assert sorted(per) == ["load_a", "load_b"] and per["load_a"]["n"] == int((condition == "load_a").sum())
    for name, path in (("litert-int8", built["build"] / "model_int8.tflite"), ("pytorch-float", built["ckpt"])):
        direct = _evaluate(str(path), "--data", f"npz:{data}", out=tmp_path / f"{name}.json")
        for cond, v in direct["per_condition"].items():
            assert per[cond]["clean"][name] == v["accuracy"]
        noisy = _evaluate(str(path), "--data", f"npz:{data}", "--noise", "pink", "--snr", "-5",
                          out=tmp_path / f"{name}_noisy.json")
        for cond, v in noisy["per_condition"].items():
            assert per[cond]["noisy_mean"][name] == v["accuracy"]
    direct = _evaluate(str(built["build"] / "model_int8.tflite"), "--data", f"npz:{data}", out=tmp_path / "u.json")
    unknown = model["sweep"]["clean"]["unknown"]["litert-int8"]
    assert unknown == direct["unknown"] and unknown["threshold"] == load_build_info(built["build"]).unknown.threshold
    for cond, v in direct["per_condition"].items():
        assert 0 <= v["unknown"]["flagged"] <= 1
    md = (out / "report.md").read_text()
    assert "per operating condition" in md and "| load_a |" in md and '"unknown"' in md
    html_page = (out / "report.html").read_text()
    assert "Accuracy per operating condition" in html_page and "risk-coverage" in html_page
