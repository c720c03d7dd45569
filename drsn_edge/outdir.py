"""Output directories that appear whole or not at all.

Every command that writes a directory (convert, export, report) builds it in a
hidden sibling and renames it into place only when everything succeeded, so an
error or Ctrl-C never leaves a half-written directory behind.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from drsn_edge.errors import DrsnError


def check_writable(out: Path, force: bool) -> None:
    """Refuse early (before any slow work) when ``out`` exists and may not be replaced."""
    if out.exists() and not out.is_dir():
        raise DrsnError(f"{out} exists and is not a directory")
    if out.exists() and not force:
        raise DrsnError(f"output directory {out} exists (use --force to replace it)")


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished directory into place; an old one (with --force) goes only after that succeeds."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_output_dir(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` when the block finishes without error."""
    out = Path(out)
    check_writable(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
