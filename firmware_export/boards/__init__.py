"""The boards a C engine export builds for: one folder per board, and the registry that names them.

A board's folder (``boards/<name>/``) holds its start-up code, linker script,
I/O, the build fragment ``board.mk`` and ``runner.py``, which registers the
board's ``drsn-edge run --runner`` with :mod:`firmware_export.c_engine.runner`.
Every file of the folder that is not Python goes into each C engine export as
``<name>/``, so the export builds for every board on its own
(``make -f <name>/board.mk OUT=dir`` from the export's directory gives
``dir/app.elf``). What every board shares (reset handler and vector table,
the sections of the linker script, the core's tick counters, and the
MPS2/MPS3 boards' CMSDK UART code) is in ``common/``, which goes into each
export as ``common/``. Adding a board is one new folder plus one entry in
:data:`BOARDS`.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from drsn_edge.errors import DrsnError

HERE = Path(__file__).resolve().parent
BUILD_FRAGMENT = "board.mk"
COMMON = "common"  # the folder of what all boards share, here and in every export


@dataclass(frozen=True)
class Board:
    name: str  # the folder here and in every export; also a runner name
    description: str
    aliases: tuple[str, ...] = ()  # further runner names (``qemu``: the emulator's name, which users know)
    harness: bool = True  # runner.py runs the file harness (``drsn-edge run --runner``)
    qemu_machine: str | None = None  # ``qemu-system-arm -M`` that emulates it
    monitor: bool = False  # builds the monitoring firmware (board.c with drsn_board.h; ``drsn-edge flash``)
    monitor_fragment: str = BUILD_FRAGMENT  # its build, in the folder (when board.mk builds the file harness)
    core: str = ""  # the Arm core, e.g. "Cortex-M4F"
    small_model: tuple[str, ...] = ()  # `drsn-edge train` options of a model that fits, when the paper-size one does not
    flash_address: int = 0  # where app.bin goes
    openocd_target: str | None = None  # openocd's target/<name>.cfg
    pyocd_target: str | None = None

    @property
    def folder(self) -> Path:
        return HERE / self.name

    @property
    def runner_module(self) -> str:
        """The module that registers this board's runner when imported."""
        return f"{__name__}.{self.name}.runner"

    @property
    def runner_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def files(self) -> list[str]:
        """The support files an export gets: every file of the folder except Python."""
        return sorted(p.name for p in self.folder.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc"))


def _mps(name: str, core: str, clock: str, machine: str, **more: object) -> Board:
    """One of Arm's MPS2/MPS3 FPGA boards that QEMU emulates (CMSDK UART0, SysTick under QEMU, DWT on the FPGA)."""
    return Board(name, f"{core} on Arm's {machine.split('-')[0].upper()} with the {machine.split('-')[1].upper()} "
                 f"image, {clock} (QEMU {machine}): UART0 monitor", core=core,
                 **{"harness": False, "qemu_machine": machine, "monitor": True, **more})


BOARDS: dict[str, Board] = {board.name: board for board in (
    Board("mps2_an386", "Cortex-M4F on QEMU's mps2-an386 (bare metal, semihosting I/O; monitor.mk: UART0 monitor)",
          aliases=("qemu",), qemu_machine="mps2-an386", monitor=True, monitor_fragment="monitor.mk",
          core="Cortex-M4F"),
    Board("stm32f405", "STM32F405 Cortex-M4F 168 MHz, 1 MB flash, 128+64 KB RAM (Netduino Plus 2, Feather "
          "STM32F405; QEMU netduinoplus2): USART1 monitor, DWT cycles / QEMU SysTick",
          harness=False, qemu_machine="netduinoplus2", monitor=True, flash_address=0x08000000,
          openocd_target="stm32f4x", pyocd_target="stm32f405rg", core="Cortex-M4F"),
    Board("microbit", "BBC micro:bit v1: nRF51822 Cortex-M0 16 MHz, 256 KB flash, 16 KB RAM (QEMU microbit): "
          "UART0 monitor, TIMER0 (no DWT on the M0); small models only",
          harness=False, qemu_machine="microbit", monitor=True, flash_address=0x0,
          openocd_target="nrf51", pyocd_target="nrf51822", core="Cortex-M0",
          small_model=("--window-length", "1024", "--units-per-stage", "1", "--stem-stride", "4")),
    _mps("mps2_an385", "Cortex-M3", "25 MHz", "mps2-an385"),
    _mps("mps2_an500", "Cortex-M7", "25 MHz", "mps2-an500"),
    _mps("mps2_an505", "Cortex-M33", "20 MHz", "mps2-an505", flash_address=0x10000000),
    _mps("mps3_an547", "Cortex-M55", "32 MHz", "mps3-an547"),
)}


def runner_modules() -> dict[str, str]:
    """Runner name (each board's name and aliases) -> the module that registers it."""
    return {name: board.runner_module for board in BOARDS.values() if board.harness for name in board.runner_names}


def copy_support(into: Path) -> list[str]:
    """Every board's support files into ``into/<board>/`` and the shared ones into ``into/common/``; returns
    the paths written, relative to ``into``."""
    (Path(into) / COMMON).mkdir(exist_ok=True)
    written = []
    for name in sorted(p.name for p in (HERE / COMMON).iterdir() if p.is_file()):
        shutil.copy2(HERE / COMMON / name, Path(into) / COMMON / name)
        written.append(f"{COMMON}/{name}")
    for board in BOARDS.values():
        (Path(into) / board.name).mkdir(exist_ok=True)
        for name in board.files():
            shutil.copy2(board.folder / name, Path(into) / board.name / name)
            written.append(f"{board.name}/{name}")
    return written


def get_board(name: str) -> Board:
    """A board by name or alias, with the choices in the error."""
    for board in BOARDS.values():
        if name == board.name or name in board.aliases:
            return board
    raise DrsnError(f"unknown board '{name}' (choose from {', '.join(BOARDS)})")
