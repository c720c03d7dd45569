"""Python values as C source: exact number literals, escaped strings and comments, identifiers, arrays.

The one place generated C (the C engine, the TFLite Micro export) gets its
literals from. :func:`parse_byte_array` reads a byte array back so tests can
prove the round trip.
"""
from __future__ import annotations

import json
import re
from typing import Iterable

import numpy as np

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BYTES_PER_LINE = 12
NUMBERS_PER_LINE = 16


def c_identifier(name: str) -> str:
    """``name`` itself if it is a C identifier; anything else is a bug in the generator."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a C identifier: {name!r}")
    return name


def c_float(value: float) -> str:
    """A float literal equal to ``value`` rounded to float32 (9 significant digits round-trip)."""
    text = f"{float(np.float32(value)):.9g}"
    return (text if any(c in text for c in ".e") else text + ".0") + "f"


def c_double(value: float) -> str:
    """A double literal that reads back as exactly ``value`` (Python's shortest round-trip repr)."""
    text = repr(float(value))
    return text if any(c in text for c in ".e") else text + ".0"


def c_number(value: float | int, ctype: str) -> str:
    """One element of a ``ctype`` array: a double literal, or an integer."""
    return c_double(value) if ctype == "double" else str(value)


def c_string(text: str) -> str:
    """A C string literal (JSON escaping is valid C for printable text)."""
    return json.dumps(text, ensure_ascii=True)


def c_comment(text: str) -> str:
    """``/* text */``, with any ``*/`` inside broken up so the comment cannot end early."""
    return "/* " + text.replace("*/", "* /") + " */"


def c_initializer(items: Iterable[str]) -> str:
    """``{a, b, c}`` from literals already formatted."""
    return "{" + ", ".join(items) + "}"


def number_array(name: str, ctype: str, values: list, label: str) -> str:
    """A commented ``static const`` array of ``ctype``, sixteen numbers a line."""
    items = [c_number(v, ctype) for v in values]
    lines = [", ".join(items[i:i + NUMBERS_PER_LINE]) for i in range(0, len(items), NUMBERS_PER_LINE)]
    return (f"{c_comment(label)}\nstatic const {ctype} {c_identifier(name)}[{len(items)}] = {{\n    "
            + ",\n    ".join(lines) + "\n};")


def byte_array_body(data: bytes, indent: str = "    ", per_line: int = BYTES_PER_LINE) -> str:
    """The initialiser lines ``0x12, 0x34, ...`` (no braces), ``per_line`` bytes a line."""
    lines = []
    for start in range(0, len(data), per_line):
        chunk = data[start:start + per_line]
        lines.append(indent + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


def byte_array(name: str, data: bytes, align: int = 16, cxx: bool = False) -> str:
    """Definitions of ``name`` (const, ``align``-byte aligned) and ``name_len``.

    Used for the TFLite Micro model array (TFLM reads the flatbuffer in place,
    so it must be 16-byte aligned). C++ gets ``alignas`` (C++11); a
    namespace-scope ``const`` has internal linkage in C++, so the definitions
    must follow ``extern`` declarations (include the header first). C gets
    ``_Alignas``.
    """
    alignment = "alignas" if cxx else "_Alignas"
    return (f"{alignment}({align}) const unsigned char {c_identifier(name)}[] = {{\n{byte_array_body(data)}\n}};\n"
            f"const unsigned int {name}_len = {len(data)}u;\n")


def parse_byte_array(text: str, name: str) -> bytes:
    """The bytes of array ``name`` in C source ``text`` (hex or decimal initialisers)."""
    found = re.search(rf"\b{re.escape(name)}\s*\[\s*\d*\s*\]\s*=\s*\{{([^}}]*)\}}", text)
    if found is None:
        raise ValueError(f"no array {name} in the text")
    items = [item.strip() for item in found.group(1).split(",") if item.strip()]
    return bytes(int(item, 0) for item in items)
