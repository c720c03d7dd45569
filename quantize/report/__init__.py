"""``drsn-edge report``: build directories and test data in, report.html / report.json / report.md out.

Numbers are collected once (``report_data``), drawn (``report_plots``) and
written (``report_render``); the output directory appears whole or not at all.
"""
from __future__ import annotations

import json
from pathlib import Path

from drsn_edge.outdir import atomic_output_dir, check_writable
from quantize.report.data import ReportOptions, collect
from quantize.report.plots import figures
from quantize.report.render import render_html, render_markdown

REPORT_FILES = ("report.html", "report.json", "report.md")


def make_report(build_dirs: list[str | Path], out: str | Path, opts: ReportOptions, force: bool = False) -> tuple[Path, dict]:
    """Evaluate every runtime of every build and write the three report files into ``out``."""
    out = Path(out)
    check_writable(out, force)
    report = collect(build_dirs, opts)
    figs = figures(report)
    with atomic_output_dir(out, force) as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
        (tmp / "report.html").write_text(render_html(report, figs))
        (tmp / "report.md").write_text(render_markdown(report))
    return out, report
