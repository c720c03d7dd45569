"""What a test needs from the machine: CI installs every part (.ci/run), so a missing one fails there and skips elsewhere."""
from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Fail under CI=true (a missing part there is a broken CI set-up), skip on a developer's machine."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_tools(*tools: str, what: str = "tools", install: str = "") -> None:
    """Every named program must be on PATH; ``install`` says which packages bring them."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        hint = f" (apt-get install {install})" if install else ""
        unavailable(f"{what} missing: {', '.join(missing)}{hint}")
