"""Output directories that appear whole or not at all.

Every command that writes a directory (convert, export, report) builds it in a
hidden sibling and renames it into place only when everything succeeded, so an
error or Ctrl-C never leaves a half-written directory behind. A run that was
killed (SIGKILL, power loss) cannot clean up, so the next run to the same
``--out`` removes the hidden siblings whose process is gone. ``--force``
replaces only an empty directory or one this tool wrote (it holds one of
:data:`OUR_FILES`), never the current directory or one of its parents.
"""
from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from drsn_edge.errors import DrsnError


# what a build (model.json), a C engine (fw.json), a TFLM export (tflm.json), a Pi bundle (config.json) or a
# report (report.json) holds at its top level
OUR_FILES = ("model.json", "fw.json", "tflm.json", "config.json", "report.json")
LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)")


def check_writable(out: Path, force: bool) -> None:
    """Refuse early (before any slow work) when ``out`` exists and may not be replaced."""
    out = Path(out)
    if not out.resolve().name or out.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise DrsnError(f"--out {out} is the current directory or one of its parents; name a new directory")
    if out.exists() and not out.is_dir():
        raise DrsnError(f"{out} exists and is not a directory")
    if out.exists() and not force:
        raise DrsnError(f"output directory {out} exists (use --force to replace it)")
    if out.exists() and any(out.iterdir()) and not any((out / name).is_file() for name in OUR_FILES):
        raise DrsnError(f"--force replaces only a drsn-edge output directory, and {out} is not one "
                        f"(it has none of {', '.join(OUR_FILES)})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's live process (or a nonsense number: leave it alone)
    return True


def clean_leftovers(out: Path) -> list[Path]:
    """Remove ``.NAME.tmp-PID`` / ``.NAME.old-PID`` siblings (and ``.NAME.tar.gz.tmp-PID``) of dead runs."""
    removed = []
    for path in out.parent.glob(f".{glob_escape(out.name)}.*-*"):
        match = LEFTOVER.fullmatch(path.name)
        if match is None or match["name"] not in (out.name, out.name + ".tar.gz") or _alive(int(match["pid"])):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink()
        removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", name)


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
    check_writable(Path(out), force)
    out = Path(out).resolve()  # so that a name such as "x/.." has a real last component
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
