"""Every Cortex-M core QEMU emulates here, beside the M0 (tests/test_microbit.py) and the STM32F405's M4
(tests/test_flash.py): the monitoring firmware of the micro:bit-size CWRU model boots on Arm's MPS2/MPS3 boards
(Cortex-M3, M4F, M7, M33, M55; CMSDK UART0, SysTick under QEMU) and classifies real CWRU test windows
bit-exactly (0 LSB against LiteRT int8). The figures per core are benchmarks/cortex_m_cores.py's.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from device_helpers import c_export

from drsn_edge.cli import main
from firmware_export.boards import BOARDS

CMSDK_BOARDS = [name for name, board in BOARDS.items() if board.monitor and board.qemu_machine.startswith("mps")]


@pytest.fixture(scope="module")
def fw(cwru_small_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return c_export(cwru_small_build, tmp_path_factory, "cores")


def test_every_mps_board_is_listed() -> None:
    assert {BOARDS[name].core for name in CMSDK_BOARDS} == {"Cortex-M3", "Cortex-M4F", "Cortex-M7", "Cortex-M33",
                                                            "Cortex-M55"}


@pytest.mark.parametrize("board", CMSDK_BOARDS)
def test_core_classifies_cwru_bit_exactly(fw: Path, board: str, cwru_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "validate.json"
    assert main(["validate-device", str(fw), "--board", board, "--data", f"cwru:{cwru_dir}", "--limit", "2",
                 "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["board"] == board and result["litert"]["max_lsb"] == 0 and result["litert"]["identical_windows"] == 2
    timing = result["timing"]
    assert timing["emulated"] and timing["timer"] == "systick" and timing["unit"] == "instructions"
    assert 5e5 < timing["instructions_per_inference"] < 1e7
