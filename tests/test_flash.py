"""`drsn-edge flash` and `validate-device`.

The real-probe paths (openocd, pyocd, st-flash) cannot run here (no probe, no chip): they are tested as
command composition, with recording fakes of the three tools first on PATH that keep their argv. The qemu
path and validate-device run end to end on QEMU's netduinoplus2 (STM32F405).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from device_helpers import c_export

from drsn_edge.cli import main
from firmware_export.device.flash import PROBES

FAKE_TOOL = """#!/bin/sh
printf '%s\\n' "$0" "$@" > "{log}/$(basename "$0").argv"
"""


@pytest.fixture(scope="module")
def fw(cwru_int8_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return c_export(cwru_int8_build, tmp_path_factory, "flash")


@pytest.fixture
def fake_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Recording fakes of openocd, pyocd and st-flash (there is no probe here): each writes its argv to a file."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    log.mkdir()
    for tool in ("openocd", "pyocd", "st-flash"):
        (bin_dir / tool).write_text(FAKE_TOOL.format(log=log))
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.mark.parametrize("probe, expected", [
    ("openocd", ["-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg", "-c", "program {elf} verify reset exit"]),
    ("pyocd", ["flash", "--target", "stm32f405rg", "{hex}"]),
    ("st-flash", ["--reset", "write", "{bin}", "0x08000000"]),
])
def test_flash_runs_the_probe_tool_with_the_printed_command(fw: Path, fake_probes: Path, tmp_path: Path,
                                                            probe: str, expected: list[str],
                                                            capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "img"
    assert main(["flash", str(fw), "--board", "stm32f405", "--probe", probe, "--out", str(out)]) == 0
    files = {"elf": out / "app.elf", "bin": out / "app.bin", "hex": out / "app.hex"}
    assert all(path.stat().st_size > 10_000 for path in files.values())
    assert files["bin"].read_bytes()[4:8] != b"\0\0\0\0"  # the reset vector of the image at 0x08000000
    argv = (fake_probes / f"{probe}.argv").read_text().splitlines()
    assert argv[1:] == [part.format(**files) for part in expected]
    printed = capsys.readouterr().out
    assert f"$ {probe} " in printed and f"flashed stm32f405 with {probe}" in printed


def test_flash_says_when_the_tool_is_missing(fw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(p) / "openocd").exists()))
    assert main(["flash", str(fw), "--board", "stm32f405", "--probe", "openocd", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error: openocd not found (apt-get install openocd)" in err
    assert set(PROBES) == {"openocd", "pyocd", "st-flash", "qemu"}


def test_flash_qemu_boots_the_same_image_and_checks_the_model(fw: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "img"
    assert main(["flash", str(fw), "--board", "stm32f405", "--probe", "qemu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    model_id = json.loads((fw / "fw.json").read_text())["model_id"]
    assert f"-M netduinoplus2" in printed and f"-kernel {out / 'app.elf'}" in printed
    assert f"stm32f405 answers on socket://127.0.0.1:" in printed and f"({model_id}), timer systick" in printed


def test_validate_device_is_bit_exact_on_cwru(fw: Path, cwru_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    """CWRU test windows streamed over the emulated UART: 0 LSB against LiteRT int8, instruction counts."""
    result_path = tmp_path / "validate.json"
    assert main(["validate-device", str(fw), "--board", "stm32f405", "--data", f"cwru:{cwru_dir}", "--limit", "3",
                 "--json", str(result_path), "--quiet"]) == 0
    result = json.loads(result_path.read_text())
    assert result["windows"] == 3 and result["litert"]["max_lsb"] == 0 and result["litert"]["identical_windows"] == 3
    assert result["float"]["top1"] == 1.0 and result["accuracy"]["device"] == result["accuracy"]["litert"]
    timing = result["timing"]
    assert timing["unit"] == "instructions" and timing["emulated"] and timing["timer"] == "systick"
    assert 2e6 < timing["instructions_per_inference"] < 1.2e7  # ~6.7 M after issue 13; 15 M before
    assert result["link"]["framing"] == "binary" and result["link"]["host_seconds_per_window"] > 0
    assert "3/3 identical, max 0 LSB" in capsys.readouterr().out


def test_validate_device_errors(fw: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate-device", str(fw), "--board", "stm32f405", "--data", "synthetic", "--port",
                 "/dev/drsn-no-such-port", "--limit", "1"]) == 2
    assert "error: cannot open serial port /dev/drsn-no-such-port" in capsys.readouterr().err
