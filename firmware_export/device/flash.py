"""``drsn-edge flash``: build the monitoring firmware for a board and write it with a probe's own tool, or boot
the very same image in QEMU.

The tool's command line is printed before it runs, so the user can run it by hand. Probes:
openocd (``program app.elf verify reset exit`` over an ST-Link), pyocd (``flash --target``, the HEX file),
st-flash (the BIN at the board's flash address) and qemu (boots app.elf with the UART on a TCP socket and
checks that the firmware answers with the exported model).
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from drsn_edge.errors import DrsnError
from firmware_export.boards import Board
from firmware_export.device import qemu

PROBES = ("openocd", "pyocd", "st-flash", "qemu")
INSTALL = {"openocd": "apt-get install openocd", "pyocd": "pip install pyocd", "st-flash": "apt-get install stlink-tools"}


def probe_command(probe: str, board: Board, images: dict[str, Path]) -> list[str]:
    """The exact command that writes the image to ``board`` with ``probe`` (not qemu)."""
    if probe == "openocd":
        if board.openocd_target is None:
            raise DrsnError(f"no openocd target is known for board '{board.name}'")
        return ["openocd", "-f", "interface/stlink.cfg", "-f", f"target/{board.openocd_target}.cfg",
                "-c", f"program {images['elf']} verify reset exit"]
    if probe == "pyocd":
        if board.pyocd_target is None:
            raise DrsnError(f"no pyocd target is known for board '{board.name}'")
        return ["pyocd", "flash", "--target", board.pyocd_target, str(images["hex"])]
    if probe == "st-flash":
        if not board.name.startswith("stm32"):
            raise DrsnError(f"st-flash writes STM32 chips only, not '{board.name}'")
        return ["st-flash", "--reset", "write", str(images["bin"]), f"0x{board.flash_address:08x}"]
    raise DrsnError(f"unknown probe '{probe}' (choose from {', '.join(PROBES)})")


def flash(board: Board, images: dict[str, Path], probe: str, say: Callable[[str], None]) -> None:
    """Run the probe's tool on the image; a missing tool or a failure is one clear error."""
    cmd = probe_command(probe, board, images)
    say("$ " + shlex.join(cmd))
    if shutil.which(cmd[0]) is None:
        raise DrsnError(f"{cmd[0]} not found ({INSTALL[probe]}); the command above is what it would run")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DrsnError(f"{cmd[0]} failed (exit {done.returncode}): {detail[-1] if detail else 'no output'}")


def boot(board: Board, elf: Path, model_id: str, say: Callable[[str], None], serve: bool, port: int | None) -> dict:
    """Boot ``elf`` in QEMU and check the firmware's hello; with ``serve``, keep it running until interrupted."""
    from firmware_export.device.link import Link

    say("$ " + shlex.join(qemu.command(board, elf, port or 0)).replace("127.0.0.1:0", "127.0.0.1:PORT"))
    with qemu.booted(board, elf, port) as url:
        with Link(url) as link:
            hello = link.hello(model_id=model_id)
        say(f"{board.name} answers on {url}: model {hello['model']} ({hello['model_id']}), timer {hello['timer']}")
        if serve:
            say("serving; connect with `drsn-edge monitor " + url + "` (Ctrl-C stops QEMU)")
            try:
                qemu.wait_forever()
            except KeyboardInterrupt:
                pass
    return hello
