"""Small parsers and writers the commands share: lists, JSON results, negative SNR lists."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from drsn_edge.errors import DrsnError

DATA_HELP = "synthetic[:SEED] | cwru:DIR[+DIR...] | npz:FILE, optionally @load=N[,N] or @condition=NAME[,NAME]"


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` atomically: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DrsnError(f"expected comma-separated integers, got '{text}'") from None


def snr_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DrsnError(f"expected comma-separated SNRs in dB, got '{text}'") from None


def csv(values) -> str:
    """A default list shown and parsed as ``a,b,c``."""
    return ",".join(str(v) for v in values)


_NEGATIVE_LIST = re.compile(r"-\d+(\.\d+)?(,-?\d+(\.\d+)?)+")


def attach_negative_values(argv: list[str]) -> list[str]:
    """Let ``--snr -5,5`` work: argparse takes a lone negative number as a value, but reads a
    negative *list* such as ``-5,5`` as an unknown option. Any ``--option`` followed by one is joined."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" not in token and i + 1 < len(argv) and _NEGATIVE_LIST.fullmatch(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
        else:
            out.append(token)
            i += 1
    return out
