"""The one template renderer (Jinja2) for every generated file: C sources, READMEs, systemd units, the report page.

Templates live beside the code that fills them (``templates/NAME.in``) and use
``{{ KEY }}``. A value the template needs but the caller did not pass is an
error (StrictUndefined), never an empty string in generated C. Text is written
as it stands, except in HTML templates (a name ending in ``.html`` or
``.html.in``), where Jinja2 escapes every value not marked safe
(:class:`markupsafe.Markup`), and in C/C++ templates (``.c.in``, ``.h.in``,
``.cc.in``), where every value passes through the C finalizer that
:mod:`firmware_export.c_literals` registers: text not marked :class:`Code` can
only come out as harmless comment text, so no value from a checkpoint or a
build directory reaches C unescaped. A C template rendered before a finalizer
is registered is refused rather than rendered raw.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import jinja2

from drsn_edge.errors import DrsnError

HTML_SUFFIXES = (".html", ".html.in")
C_SUFFIXES = (".c.in", ".h.in", ".cc.in")
_c_finalizer: list[Callable[[object], object]] = []


class Code(str):
    """Text that is already C source (a literal, an array, generated statements): the C finalizer keeps it."""


def register_c_finalizer(finalize: Callable[[object], object]) -> None:
    """Set the function every value of a C template goes through (firmware_export.c_literals calls this)."""
    _c_finalizer[:] = [finalize]
    _environment.cache_clear()


def _finalize_c(value: object) -> object:
    """The registered C finalizer; an undefined value goes on so StrictUndefined reports it by name."""
    return value if isinstance(value, jinja2.Undefined) else _c_finalizer[0](value)


def _is_html(name: str | None) -> bool:
    return name is not None and name.endswith(HTML_SUFFIXES)


@lru_cache(maxsize=None)
def _environment(folder: Path, c_source: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=_is_html,
        finalize=_finalize_c if c_source else None,
        keep_trailing_newline=True,  # generated files end the way their templates do
    )


def render(folder: str | Path, name: str, values: Mapping[str, object]) -> str:
    """Template ``folder/name`` filled with ``values``; a missing value is a :class:`DrsnError`."""
    c_source = name.endswith(C_SUFFIXES)
    if c_source and not _c_finalizer:
        raise RuntimeError(f"{name} is C: import firmware_export.c_literals (the C finalizer) before rendering it")
    try:
        return _environment(Path(folder).resolve(), c_source).get_template(name).render(values)
    except jinja2.UndefinedError as exc:
        raise DrsnError(f"template {name} needs a value: {exc.message}") from None
