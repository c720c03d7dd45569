"""Python values as C source: exact number literals, escaped strings and comments, identifiers, arrays.

The one place generated C (the C engine, the TFLite Micro export) gets its
literals from. Strings from outside (a model or class name from a checkpoint or
a build directory) can end up only as :func:`c_string` (every byte outside a
small safe set as a three-digit octal escape: no quote, backslash, trigraph,
newline or non-ASCII byte survives) or as :func:`c_text` (a whitelist: no
comment terminator, line splice, newline or trigraph can be formed).
:func:`c_value` is the renderer's finalizer for C templates, so a template
value not built here (not :class:`Code`) comes out as :func:`c_text`.
:func:`parse_byte_array` reads a byte array back so tests can prove the round trip.
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Iterable

import numpy as np

from drsn_edge.errors import DrsnError
from drsn_edge.render import Code, register_c_finalizer

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# safe anywhere in C: inside a comment of either kind, a string literal or a #define's text (no * ? \ " ' or newline)
TEXT_SAFE = re.compile(r"[^A-Za-z0-9 _.,:;+=()\[\]{}#%@!<>/&|^~$-]")
STRING_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 _.,:;+-=()[]{}#%@!<>/&|^~$*")
TEXT_LIMIT = 200
BYTES_PER_LINE = 12
NUMBERS_PER_LINE = 16


def c_identifier(name: str) -> str:
    """``name`` itself if it is a C identifier; anything else is a bug in the generator."""
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a C identifier: {name!r}")
    return name


def _finite(value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise DrsnError(f"refusing to write the non-finite number {value} into generated C")
    return value


def c_float(value: float) -> Code:
    """A float literal equal to ``value`` rounded to float32 (9 significant digits round-trip)."""
    text = f"{float(np.float32(_finite(value))):.9g}"
    if not math.isfinite(float(text)):
        raise DrsnError(f"{value} does not fit a C float")
    return Code((text if any(c in text for c in ".e") else text + ".0") + "f")


def c_double(value: float) -> Code:
    """A double literal that reads back as exactly ``value`` (Python's shortest round-trip repr)."""
    text = repr(_finite(value))
    return Code(text if any(c in text for c in ".e") else text + ".0")


def c_number(value: float | int, ctype: str) -> str:
    """One element of a ``ctype`` array: a double literal, or an integer."""
    return c_double(value) if ctype == "double" else str(int(value))


def c_string(text: str) -> Code:
    """A C string literal of ``text``'s UTF-8 bytes; anything outside a safe set is a 3-digit octal escape."""
    return Code('"' + "".join(chr(b) if b in STRING_SAFE else f"\\{b:03o}" for b in str(text).encode()) + '"')


def c_text(text: str) -> str:
    """``text`` reduced to characters safe in any C context (others become ``_``), at most 200 of them."""
    return TEXT_SAFE.sub("_", str(text)[:TEXT_LIMIT])


def c_comment(text: str) -> Code:
    """``/* text */`` with ``text`` through :func:`c_text`, so the comment cannot end early or span lines."""
    return Code("/* " + c_text(text) + " */")


def c_value(value: object) -> object:
    """The C templates' finalizer: C already built here as it is, numbers exact, any other text as :func:`c_text`."""
    if isinstance(value, Code):
        return value
    if isinstance(value, bool) or value is None:
        raise DrsnError(f"refusing to write {value!r} into generated C")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return c_double(value)
    if isinstance(value, str):
        return c_text(value)
    raise DrsnError(f"refusing to write a {type(value).__name__} into generated C")


def c_initializer(items: Iterable[str]) -> Code:
    """``{a, b, c}`` from literals already formatted."""
    return Code("{" + ", ".join(items) + "}")


def number_array(name: str, ctype: str, values: list, label: str) -> Code:
    """A commented ``static const`` array of ``ctype``, sixteen numbers a line."""
    items = [c_number(v, ctype) for v in values]
    lines = [", ".join(items[i:i + NUMBERS_PER_LINE]) for i in range(0, len(items), NUMBERS_PER_LINE)]
    return Code(f"{c_comment(label)}\nstatic const {ctype} {c_identifier(name)}[{len(items)}] = {{\n    "
                + ",\n    ".join(lines) + "\n};")


def byte_array_body(data: bytes, indent: str = "    ", per_line: int = BYTES_PER_LINE) -> str:
    """The initialiser lines ``0x12, 0x34, ...`` (no braces), ``per_line`` bytes a line."""
    lines = []
    for start in range(0, len(data), per_line):
        chunk = data[start:start + per_line]
        lines.append(indent + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


def byte_array(name: str, data: bytes, align: int = 16, cxx: bool = False) -> Code:
    """Definitions of ``name`` (const, ``align``-byte aligned) and ``name_len``.

    Used for the TFLite Micro model array (TFLM reads the flatbuffer in place,
    so it must be 16-byte aligned). C++ gets ``alignas`` (C++11); a
    namespace-scope ``const`` has internal linkage in C++, so the definitions
    must follow ``extern`` declarations (include the header first). C gets
    ``_Alignas``.
    """
    alignment = "alignas" if cxx else "_Alignas"
    return Code(f"{alignment}({align}) const unsigned char {c_identifier(name)}[] = {{\n{byte_array_body(data)}\n}};\n"
                f"const unsigned int {name}_len = {len(data)}u;\n")


def parse_byte_array(text: str, name: str) -> bytes:
    """The bytes of array ``name`` in C source ``text`` (hex or decimal initialisers)."""
    found = re.search(rf"\b{re.escape(name)}\s*\[\s*\d*\s*\]\s*=\s*\{{([^}}]*)\}}", text)
    if found is None:
        raise ValueError(f"no array {name} in the text")
    items = [item.strip() for item in found.group(1).split(",") if item.strip()]
    return bytes(int(item, 0) for item in items)


register_c_finalizer(c_value)
