"""The layout's rules, checked: the core never imports its consumers, and no source file grows past 400 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("drsn_edge", "quantize", "firmware_export", "search")
CONSUMERS = ("quantize", "firmware_export", "search")
MAX_LINES = 400


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` names, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _core_modules() -> list[Path]:
    """Everything in drsn_edge/, the command line included: later stages add their commands themselves."""
    return sorted((ROOT / "drsn_edge").rglob("*.py"))


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_does_not_import_its_consumers(path: Path) -> None:
    bad = sorted(m for m in _imported_modules(path) if m.split(".")[0] in CONSUMERS)
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}; register a runtime instead (drsn_edge.registry)"


def test_import_check_sees_nested_imports(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from quantize.runtimes import litert\n    import firmware_export.export\n")
    assert _imported_modules(sample) == {"quantize.runtimes", "firmware_export.export"}


def test_no_source_file_over_the_limit() -> None:
    sources = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*") if p.suffix in (".py", ".c", ".h", ".cc")]
    long = {str(p.relative_to(ROOT)): n for p in sources if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_every_runtime_registers_itself() -> None:
    from drsn_edge.registry import runtimes

    assert [r.name for r in runtimes()] == ["pytorch", "onnxruntime", "litert", "tflm", "c-engine"]
