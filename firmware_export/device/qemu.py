"""Booting a board's firmware image in QEMU with its UART on a local TCP socket (``socket://127.0.0.1:PORT``).

``-icount shift=0``: QEMU's virtual clock advances one nanosecond per instruction, so the board's timer
(the STM32F405's SysTick at 168 MHz) counts instructions: latency_ms * 1e6 = instructions.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from drsn_edge.errors import DrsnError
from firmware_export.boards import Board

PACKAGE = "qemu-system-arm"
READY_TIMEOUT = 10.0  # seconds for QEMU to open its serial socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(board: Board, elf: Path, port: int) -> list[str]:
    """The QEMU command line that boots ``elf`` on ``board`` with the UART at tcp:127.0.0.1:port."""
    if board.qemu_machine is None:
        raise DrsnError(f"QEMU does not emulate board '{board.name}'")
    return ["qemu-system-arm", "-M", board.qemu_machine, "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-serial", f"tcp:127.0.0.1:{port},server,nowait", "-kernel", str(elf)]


@contextmanager
def booted(board: Board, elf: Path, port: int | None = None) -> Iterator[str]:
    """QEMU running ``elf``; yields the serial URL (``socket://127.0.0.1:PORT``); stops QEMU on exit."""
    if shutil.which("qemu-system-arm") is None:
        raise DrsnError(f"qemu-system-arm not found (apt-get install {PACKAGE})")
    port = port or free_port()
    process = subprocess.Popen(command(board, elf, port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if process.poll() is not None:
                detail = process.stderr.read().decode(errors="replace").strip().splitlines()
                raise DrsnError(f"QEMU exited at once: {detail[-1] if detail else process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise DrsnError(f"QEMU did not open its serial port {port} within {READY_TIMEOUT:.0f} s")
                time.sleep(0.05)
        yield f"socket://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_forever() -> None:
    """Block until interrupted (``flash --probe qemu --serve``)."""
    import threading

    threading.Event().wait()
