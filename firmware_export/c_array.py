"""Bytes as C source: an aligned ``unsigned char`` array and its length, and the way back.

Used for the TFLite Micro model array (TFLM reads the flatbuffer in place, so
it must be 16-byte aligned) and for any other blob a firmware target embeds.
:func:`parse_byte_array` reads the text back so tests can prove the round trip.
"""
from __future__ import annotations

import re

BYTES_PER_LINE = 12


def byte_array_body(data: bytes, indent: str = "    ", per_line: int = BYTES_PER_LINE) -> str:
    """The initialiser lines ``0x12, 0x34, ...`` (no braces), ``per_line`` bytes a line."""
    lines = []
    for start in range(0, len(data), per_line):
        chunk = data[start:start + per_line]
        lines.append(indent + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


def byte_array(name: str, data: bytes, align: int = 16, cxx: bool = False) -> str:
    """Definitions of ``name`` (const, ``align``-byte aligned) and ``name_len``.

    C++ gets ``alignas`` (C++11); a namespace-scope ``const`` has internal linkage in
    C++, so the definitions must follow ``extern`` declarations (include the
    header first). C gets ``_Alignas``.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a C identifier: {name!r}")
    alignment = "alignas" if cxx else "_Alignas"
    return (f"{alignment}({align}) const unsigned char {name}[] = {{\n{byte_array_body(data)}\n}};\n"
            f"const unsigned int {name}_len = {len(data)}u;\n")


def parse_byte_array(text: str, name: str) -> bytes:
    """The bytes of array ``name`` in C source ``text`` (hex or decimal initialisers)."""
    found = re.search(rf"\b{re.escape(name)}\s*\[\s*\d*\s*\]\s*=\s*\{{([^}}]*)\}}", text)
    if found is None:
        raise ValueError(f"no array {name} in the text")
    items = [item.strip() for item in found.group(1).split(",") if item.strip()]
    return bytes(int(item, 0) for item in items)
