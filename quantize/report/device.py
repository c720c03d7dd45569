"""``report --device RESULT.json``: a ``validate-device --json`` result shown as a "device (<board>)" runtime.

The JSON file is the only contract with ``firmware_export`` (the report does not import it), so it is read
as hostile input: every field the report shows is checked here, and derived numbers (the latency at the
board's clock, the QEMU caveat) are recomputed rather than copied from the file.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from drsn_edge.errors import DrsnError

BOARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_LSB = 255  # two int8 logits differ by at most this
UNITS = {True: "instructions", False: "cycles"}  # emulated -> what the timer counts
QEMU_CAVEAT = "QEMU counts instructions, not cycles: the latency assumes one instruction per cycle"


def _get(obj: dict, key: str, kind: type | tuple, where: str) -> object:
    value = obj.get(key) if isinstance(obj, dict) else None
    if kind is not bool and isinstance(value, bool) or not isinstance(value, kind):
        raise DrsnError(f"{where}: '{key}' is missing or not a {getattr(kind, '__name__', 'number')}")
    return value


def _number(obj: dict, key: str, where: str, low: float, high: float = math.inf) -> float:
    value = float(_get(obj, key, (int, float), where))
    if not (math.isfinite(value) and low <= value <= high):
        raise DrsnError(f"{where}: '{key}' is {value:g}, not within [{low:g}, {high:g}]")
    return value


def _share(obj: dict, key: str, where: str) -> float:
    return _number(obj, key, where, 0.0, 1.0)


def load_device_result(path: str | Path) -> dict:
    """A validate-device result -> the numbers the report shows; a DrsnError naming the file if anything is off."""
    path = Path(path)
    where = f"device result {path}"
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DrsnError(f"{where} is unreadable: {exc}") from None
    if not isinstance(raw, dict):
        raise DrsnError(f"{where} is not a validate-device result (not a JSON object)")
    board, model = _get(raw, "board", str, where), _get(raw, "model", str, where)
    if not BOARD_NAME.fullmatch(board):
        raise DrsnError(f"{where}: board name {board[:40]!r} is not a board name")
    windows = _get(raw, "windows", int, where)
    if windows < 1:
        raise DrsnError(f"{where}: 'windows' must be at least 1")
    litert, accuracy, timing = (_get(raw, k, dict, where) for k in ("litert", "accuracy", "timing"))
    identical = _get(litert, "identical_windows", int, where)
    if not 0 <= identical <= windows:
        raise DrsnError(f"{where}: 'identical_windows' is {identical}, not within 0..{windows}")
    emulated = _get(timing, "emulated", bool, where)
    unit = UNITS[emulated]
    if timing.get("unit") != unit:
        raise DrsnError(f"{where}: the timer unit must be '{unit}' for {'an emulated' if emulated else 'a'} board")
    per_inference = _number(timing, f"{unit}_per_inference", where, 1.0)
    core_hz = _number(timing, "core_hz", where, 1.0)
    float_part = raw.get("float")
    return {
        "runtime": f"device ({board})", "board": board, "model": model, "file": str(path),
        "data": str(raw.get("data", "")), "split": str(raw.get("split", "")), "windows": windows,
        "accuracy": _share(accuracy, "device", where), "litert_accuracy": _share(accuracy, "litert", where),
        "identical_windows": identical, "max_lsb": int(_number(litert, "max_lsb", where, 0, MAX_LSB)),
        "top1_litert": _share(litert, "top1", where),
        "top1_float": None if float_part is None else _share(float_part, "top1", where),
        "timing": {"unit": unit, "per_inference": per_inference, "core_hz": core_hz, "emulated": emulated,
                   "ms_at_core_clock": per_inference / core_hz * 1e3,
                   "caveat": QEMU_CAVEAT if emulated else None},
    }


def check_devices(results: list[dict], names: list[str]) -> None:
    """Before any slow work: every result is for one of the builds, and no board comes twice for one model."""
    seen = set()
    for r in results:
        if r["model"] not in names:
            raise DrsnError(f"device result {r['file']} is for model {r['model'][:60]!r}, not one of {names}")
        if (r["model"], r["runtime"]) in seen:
            raise DrsnError(f"two device results for {r['runtime']} of {r['model']}")
        seen.add((r["model"], r["runtime"]))


def attach_devices(models: list[dict], results: list[dict], data_spec: str) -> None:
    """Put each result under the model it was measured on (by name; ``collect`` checked the names first)."""
    by_name = {m["name"]: m for m in models}
    for r in results:
        model = by_name[r["model"]]
        model["devices"].append(r)
        if r["data"] != data_spec or r["windows"] != model["sweep"]["clean"].get("n"):
            model["notes"].append(f"{r['runtime']} was measured by validate-device on {r['windows']} clean windows "
                                  f"of {r['data'] or 'unrecorded data'} ({r['split'] or '?'} split), not on the "
                                  "report's windows; its row shows those numbers.")
