"""`drsn-edge report --device RESULT.json`: a validate-device result as a "device (<board>)" runtime.

The result is made the real way: the CWRU int8 build exported to C, booted on QEMU's netduinoplus2
(STM32F405) and fed 3 test windows by `validate-device --json`; the report (clean data only, 8 windows)
must then carry exactly its numbers in report.json and report.md, and refuse hostile result files.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from device_helpers import c_export

from drsn_edge.buildinfo import load_build_info
from drsn_edge.cli import main


@pytest.fixture(scope="module")
def device(cwru_int8_build: Path, cwru_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    fw = c_export(cwru_int8_build, tmp_path_factory, "devreport")
    path = tmp_path_factory.mktemp("devreport") / "stm32f405.json"
    assert main(["validate-device", str(fw), "--board", "stm32f405", "--data", f"cwru:{cwru_dir}", "--limit", "3",
                 "--json", str(path), "--quiet"]) == 0
    return {"path": path, "result": json.loads(path.read_text())}


def report(build: Path, cwru_dir: Path, out: Path, *devices: Path) -> int:
    args = ["report", str(build), "--data", f"cwru:{cwru_dir}", "--limit", "8", "--noise", "none",
            "--workers", "1", "--out", str(out), "--quiet"]
    for d in devices:
        args += ["--device", str(d)]
    return main(args)


def test_report_shows_the_device_numbers(device: dict, cwru_int8_build: Path, cwru_dir: Path,
                                         tmp_path: Path) -> None:
    r = device["result"]
    assert r["model"] == load_build_info(cwru_int8_build).name and r["windows"] == 3
    assert report(cwru_int8_build, cwru_dir, tmp_path / "rep", device["path"]) == 0
    (model,) = json.loads((tmp_path / "rep" / "report.json").read_text())["models"]
    (d,) = model["devices"]
    t = r["timing"]
    assert d["runtime"] == "device (stm32f405)" and d["windows"] == 3
    assert d["accuracy"] == r["accuracy"]["device"] and d["litert_accuracy"] == r["accuracy"]["litert"]
    assert d["identical_windows"] == r["litert"]["identical_windows"] == 3 and d["max_lsb"] == r["litert"]["max_lsb"] == 0
    assert d["top1_litert"] == r["litert"]["top1"] and d["top1_float"] == r["float"]["top1"] == 1.0
    assert d["timing"]["unit"] == "instructions" and d["timing"]["emulated"]
    assert d["timing"]["per_inference"] == t["instructions_per_inference"]
    assert d["timing"]["ms_at_core_clock"] == pytest.approx(t["latency_ms_at_core_clock"], rel=1e-12)
    assert d["timing"]["caveat"].startswith("QEMU counts instructions, not cycles")
    assert any("device (stm32f405) was measured by validate-device on 3 clean windows" in n for n in model["notes"])
    md = (tmp_path / "rep" / "report.md").read_text()
    row = (f"| device (stm32f405) | 3 | {100 * r['accuracy']['device']:.2f} | {100 * r['accuracy']['litert']:.2f} "
           f"| 3/3 | 0 | {r['litert']['top1']:.4f} | 1.0000 | {t['instructions_per_inference']:,.0f} instructions "
           f"| {t['latency_ms_at_core_clock']:.2f} at {t['core_hz'] / 1e6:g} MHz | QEMU counts instructions, not cycles")
    assert row in md
    assert f"| device (stm32f405) | {100 * r['accuracy']['device']:.2f} | - | 1.0000 | - |" in md
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "On the device (validate-device)" in page and "3/3" in page


def _hostile(result: dict, tmp_path: Path, name: str, change) -> Path:
    bad = json.loads(json.dumps(result))
    change(bad)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bad) if isinstance(bad, dict) else bad)
    return path


@pytest.mark.parametrize("name, change, message", [
    ("model", lambda r: r.update(model="other_model"), "is for model 'other_model', not one of ["),
    ("lsb", lambda r: r["litert"].update(max_lsb=300), "'max_lsb' is 300, not within [0, 255]"),
    ("board", lambda r: r.update(board="<script>"), "board name '<script>' is not a board name"),
    ("unit", lambda r: r["timing"].update(unit="cycles"), "the timer unit must be 'instructions'"),
    ("windows", lambda r: r["litert"].update(identical_windows=4), "'identical_windows' is 4, not within 0..3"),
])
def test_hostile_device_results_are_one_line(device: dict, cwru_int8_build: Path, cwru_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture, name: str, change, message: str) -> None:
    path = _hostile(device["result"], tmp_path, name, change)
    assert report(cwru_int8_build, cwru_dir, tmp_path / "rep", path) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "rep").exists()


def test_unreadable_and_duplicate_results(device: dict, cwru_int8_build: Path, cwru_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"board": "stm32f405", ')
    assert report(cwru_int8_build, cwru_dir, tmp_path / "rep", broken) != 0
    assert capsys.readouterr().err.startswith(f"error: device result {broken} is unreadable")
    assert report(cwru_int8_build, cwru_dir, tmp_path / "rep", device["path"], device["path"]) != 0
    assert "error: two device results for device (stm32f405) of " in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()
