"""Names from outside (a checkpoint, a build directory) that become file names, labels or unit fields.

A model name picks the default ``build/NAME`` folder and a build's ``files``
entries are opened inside the build directory, so a name with a separator, a
leading dot or dash, or ``..`` could reach outside it. Labels (model and class
names) are free text but short and printable; where they go into generated C
or a systemd unit, those writers escape them again for that language.
"""
from __future__ import annotations

import re

from drsn_edge.errors import DrsnError

FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")
UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.+-]")
LABEL_LIMIT = 100
FALLBACK_NAME = "model"


def safe_file_name(name: str) -> str:
    """``name`` as a single safe path component: other characters become ``_``, no leading dot or dash."""
    cleaned = re.sub(r"\.{2,}", "_", UNSAFE_FILE_CHARS.sub("_", str(name)))[:100].lstrip(".-+")
    return cleaned if cleaned and FILE_NAME.fullmatch(cleaned) else FALLBACK_NAME


def check_file_name(name: object, what: str) -> str:
    """``name`` if it is one safe path component (letters, digits, ``_.+-``, not starting with ``.``/``-``)."""
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name) or ".." in name:
        raise DrsnError(f"{what} is not a plain file name: {name!r:.80}")
    return name


def check_label(text: object, what: str) -> str:
    """A name shown to people: a string of 1-100 printable characters (no newline or control character)."""
    if not isinstance(text, str) or not 1 <= len(text) <= LABEL_LIMIT or not text.isprintable():
        raise DrsnError(f"{what} must be 1-{LABEL_LIMIT} printable characters, got {text!r:.80}")
    return text
