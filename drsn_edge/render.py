"""The one template renderer (Jinja2) for every generated file: C sources, READMEs, systemd units, the report page.

Templates live beside the code that fills them (``templates/NAME.in``) and use
``{{ KEY }}``. A value the template needs but the caller did not pass is an
error (StrictUndefined), never an empty string in generated C. Text is written
as it stands, except in HTML templates (a name ending in ``.html`` or
``.html.in``), where Jinja2 escapes every value not marked safe
(:class:`markupsafe.Markup`).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping

import jinja2

from drsn_edge.errors import DrsnError

HTML_SUFFIXES = (".html", ".html.in")


def _is_html(name: str | None) -> bool:
    return name is not None and name.endswith(HTML_SUFFIXES)


@lru_cache(maxsize=None)
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=_is_html,
        keep_trailing_newline=True,  # generated files end the way their templates do
    )


def render(folder: str | Path, name: str, values: Mapping[str, object]) -> str:
    """Template ``folder/name`` filled with ``values``; a missing value is a :class:`DrsnError`."""
    try:
        return _environment(Path(folder).resolve()).get_template(name).render(values)
    except jinja2.UndefinedError as exc:
        raise DrsnError(f"template {name} needs a value: {exc.message}") from None
