"""Generated sources come from files in ``firmware_export/templates/`` with ``@NAME@`` placeholders.

Keeping the C/C++ text in real files (not Python f-strings) lets it be read,
diffed and syntax-highlighted as C; substitution is deliberately dumb: every
placeholder must get a value, so a renamed placeholder fails loudly instead of
shipping ``@FOO@`` to a compiler. One value dict may feed several templates.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def render_text(text: str, values: dict[str, object], name: str = "template") -> str:
    """``text`` with each ``@KEY@`` replaced by ``str(values[KEY])``."""
    missing = set(_PLACEHOLDER.findall(text)) - set(values)
    if missing:
        raise ValueError(f"{name}: no values for placeholders {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def render(template: str, dest: Path, values: dict[str, object]) -> Path:
    """Render ``templates/<template>`` (``.in`` suffix dropped) into directory ``dest``."""
    source = TEMPLATE_DIR / template
    target = Path(dest) / Path(template).name.removesuffix(".in")
    target.write_text(render_text(source.read_text(), values, template))
    return target


def copy_static(subdir: str, dest: Path) -> list[Path]:
    """Copy every file of ``templates/<subdir>`` that needs no substitution into ``dest``."""
    copied = []
    for source in sorted((TEMPLATE_DIR / subdir).iterdir()):
        if source.is_file() and source.suffix != ".in":
            copied.append(Path(shutil.copy2(source, Path(dest) / source.name)))
    return copied
