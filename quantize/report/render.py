"""The report as pages: ``report.html`` (self-contained) and ``report.md`` (a summary for a README or PR).

Tables are built once as (header, rows of text) and written out either as HTML
or as Markdown, so both pages show the same figures; the HTML skeleton lives in
``templates/*.html.in``, rendered with autoescaping: text goes in escaped by
:func:`html.escape` (as :func:`_text`), finished HTML fragments as ``Markup``.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from markupsafe import Markup

from drsn_edge.render import render

TEMPLATES = Path(__file__).parent / "templates"
Table = tuple[list[str], list[list[str]]]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _text(value: str) -> Markup:
    """Plain text for the page, escaped with :func:`html.escape` (quotes too), then marked safe."""
    return Markup(html.escape(value))


def comparison_table(report: dict) -> Table:
    """One row per model: size, float and int8 accuracy, what int8 costs."""
    header = ["model", "arch", "parameters", "int8 bytes", "float clean %", "int8 clean %", "float noisy %",
              "int8 noisy %", "int8 loss (mean, points)", "worst cell"]
    rows = []
    for m in report["models"]:
        sweep, loss, facts = m["sweep"], m["quantisation_loss"], m["facts"]
        worst = loss["worst"]
        rows.append([m["name"], str(facts["arch"]), f"{facts['parameters']:,}" if facts["parameters"] else "-",
                     f"{facts['files']['int8']['bytes']:,}",
                     _pct(sweep["clean"]["accuracy"][m["float_reference"]]), _pct(sweep["clean"]["accuracy"][m["int8"]]),
                     _pct(sweep["noisy_mean"].get(m["float_reference"])), _pct(sweep["noisy_mean"].get(m["int8"])),
                     "-" if loss["mean_noisy_points"] is None else f"{loss['mean_noisy_points']:+.2f}",
                     "-" if worst is None else f"{worst['noise']} {worst['snr_db']:g} dB ({worst['loss_points']:+.2f})"])
    return header, rows


def runtimes_table(model: dict) -> Table:
    """One row per runtime: accuracy, agreement with the float reference, host latency."""
    sweep = model["sweep"]
    header = ["runtime", "clean %", "noisy mean %", "top-1 agreement with float (mean)", "host ms / window"]
    rows = []
    for name in model["runtimes"]:
        agreement = sweep["agreement_mean"].get(name)
        rows.append([name, _pct(sweep["clean"]["accuracy"][name]), _pct(sweep["noisy_mean"].get(name)),
                     "reference" if agreement is None else f"{agreement:.4f}",
                     f"{model['latency_ms_per_window'][name]:.2f}"])
    for d in model.get("devices", []):  # validate-device's own windows: see device_table
        rows.append([d["runtime"], _pct(d["accuracy"]), "-", "-" if d["top1_float"] is None else f"{d['top1_float']:.4f}",
                     "-"])
    return header, rows


def device_table(model: dict) -> Table | None:
    """One row per ``--device`` result: bit-exactness against LiteRT int8, agreement, accuracy, latency."""
    if not model.get("devices"):
        return None
    header = ["runtime", "windows", "device clean %", "LiteRT int8 clean %", "identical windows vs LiteRT int8",
              "max LSB", "top-1 agreement with LiteRT int8", "top-1 agreement with float", "per inference",
              "ms at core clock", "note"]
    rows = []
    for d in model["devices"]:
        t = d["timing"]
        rows.append([d["runtime"], str(d["windows"]), _pct(d["accuracy"]), _pct(d["litert_accuracy"]),
                     f"{d['identical_windows']}/{d['windows']}", str(d["max_lsb"]), f"{d['top1_litert']:.4f}",
                     "-" if d["top1_float"] is None else f"{d['top1_float']:.4f}",
                     f"{t['per_inference']:,.0f} {t['unit']}",
                     f"{t['ms_at_core_clock']:.2f} at {t['core_hz'] / 1e6:g} MHz", t["caveat"] or "cycle counter"])
    return header, rows


def units_table(model: dict) -> Table:
    header = ["shrinkage unit", "channels", "tau rel. error (median)", "tau rel. error (p95)",
              "float zeros kept by int8", "int8 zeros within 1 LSB", "output SQNR dB"]
    rows = [[unit, str(u["channels"]), f"{u['tau_rel_error_median']:.4f}", f"{u['tau_rel_error_p95']:.4f}",
             f"{u['float_zeros_kept']:.4f}", f"{u['int8_zeros_near']:.4f}", f"{u['sqnr_db']:.1f}"]
            for unit, u in model["units"].items()]
    return header, rows


def facts_table(model: dict) -> Table:
    facts = model["facts"]
    rows = [["parameters", f"{facts['parameters']:,}" if facts["parameters"] else "-"],
            ["multiply-accumulates per window", f"{facts['macs']:,}" if facts["macs"] else "-"]]
    rows += [[f"{f['file']} ({role})", f"{f['bytes']:,} bytes"] for role, f in facts["files"].items()]
    arena = facts["tflm_arena_bytes"]
    rows.append(["TFLite Micro arena", f"{arena:,} bytes" if arena else "not measured (convert --no-tflm)"])
    if facts.get("calibration"):
        rows.append(["calibration windows", str(facts["calibration"].get("calibration_windows", "-"))])
    failed = facts["validation_failed"]
    rows.append(["convert's validation checks",
                 f"{facts['validation_checks'] - len(failed)} of {facts['validation_checks']} passed"
                 + (f" (failed: {', '.join(failed)})" if failed else "")])
    rows += [[f"host latency, {name}", f"{ms:.2f} ms per window"] for name, ms in model["latency_ms_per_window"].items()]
    return ["fact", "value"], rows


def condition_table(model: dict) -> Table | None:
    """One row per operating condition: windows, then each runtime's clean and noisy-mean accuracy (%)."""
    per = model["sweep"].get("per_condition")
    if not per:
        return None
    names = model["runtimes"]
    noisy = bool(model["sweep"]["cells"])
    header = ["condition", "windows"] + [f"{n} clean %" for n in names] + ([f"{n} noisy %" for n in names]
                                                                          if noisy else [])
    rows = []
    for cond, v in per.items():
        row = [cond, str(v["n"])] + [_pct(v["clean"][n]) for n in names]
        rows.append(row + ([_pct(v["noisy_mean"].get(n)) for n in names] if noisy else []))
    return header, rows


def unknown_table(model: dict) -> Table | None:
    """Clean data, one row per runtime with a threshold: what it flags, then accuracy at each coverage (%)."""
    block = model["sweep"]["clean"].get("unknown")
    if not block:
        return None
    first = next(iter(block.values()))
    header = ["runtime", "threshold (LSB)", "flagged %", "right flagged %", "wrong flagged %",
              "accuracy of the answered %"] + [f"acc. at {100 * r['coverage']:.0f} % answered"
                                               for r in first["risk_coverage"]]
    rows = [[name, str(u["threshold"]), _pct(u["flagged"]), _pct(u["flagged_right"]), _pct(u["flagged_wrong"]),
             _pct(u["answered_accuracy"])] + [_pct(r["accuracy"]) for r in u["risk_coverage"]]
            for name, u in block.items()]
    return header, rows


def html_table(table: Table) -> str:
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def md_table(table: Table) -> str:
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _img(uri: str | None, alt: str) -> str:
    if uri is None:
        return f'<p class="note">{html.escape(alt)}: nothing to plot.</p>'
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _meta(report: dict) -> str:
    data, settings = report["data"], report["settings"]
    snrs = ", ".join(f"{s:g}" for s in settings["snrs_db"])
    return (f"Data <code>{html.escape(data['spec'])}</code>, {data['split']} split, {data['n']} windows"
            + (f" (limited to {data['limit']})" if data.get("limit") else "")
            + f"; noise {', '.join(settings['noise_types']) or 'none'} at {snrs or '-'} dB, seed {settings['seed']}.")


def _field_html(model: dict) -> str:
    """The per-condition and "unknown" views, where the data and the build have them."""
    parts = []
    conditions, unknown, devices = condition_table(model), unknown_table(model), device_table(model)
    if devices:
        parts.append("<h3>On the device (validate-device)</h3>" + html_table(devices))
    if conditions:
        parts.append("<h3>Accuracy per operating condition</h3>" + html_table(conditions))
    if unknown:
        parts.append('<h3>"unknown": risk-coverage on clean data</h3><p class="note">A window whose int8 margin '
                     "(top-1 minus top-2 logit, in LSB) is below the threshold convert calibrated is answered "
                     '"unknown"; the columns on the right answer only the given share of windows, the most '
                     "confident first.</p>" + html_table(unknown))
    return "\n".join(parts)


def model_section(model: dict, figs: dict) -> Markup:
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in model["notes"])
    return Markup(render(TEMPLATES, "model_section.html.in", {
        "anchor": re.sub(r"[^A-Za-z0-9_-]", "-", model["name"]), "name": _text(model["name"]),
        "verdict": _text(model["verdict"]), "notes": Markup(notes),
        "runtimes_table": Markup(html_table(runtimes_table(model))),
        "float_name": _text(model["float_reference"]), "int8_name": _text(model["int8"]),
        "loss_figure": Markup(_img(figs["loss"], "accuracy lost per noise cell")),
        "confusion_figure": Markup(_img(figs["confusion"], "confusion matrices")),
        "threshold_figure": Markup(_img(figs["thresholds"], "float vs int8 thresholds")),
        "units_table": Markup(html_table(units_table(model)) if model["units"] else ""),
        "field": Markup(_field_html(model)),
        "facts_table": Markup(html_table(facts_table(model)))}))


def render_html(report: dict, figs: dict) -> str:
    names = ", ".join(m["name"] for m in report["models"])
    comparison = html_table(comparison_table(report)) if len(report["models"]) > 1 else ""
    return render(TEMPLATES, "report.html.in", {
        "title": _text(f"Accuracy vs quantisation: {names}"), "verdict": _text(report["verdict"]),
        "meta": Markup(_meta(report)), "accuracy_figure": Markup(_img(figs["accuracy"], "accuracy against SNR")),
        "comparison": Markup(comparison),
        "model_sections": Markup("\n").join(model_section(m, figs["models"][m["name"]]) for m in report["models"])})


def render_markdown(report: dict) -> str:
    data = report["data"]
    parts = [f"## Accuracy vs quantisation\n\n{report['verdict']}\n",
             f"Data `{data['spec']}` ({data['split']} split, {data['n']} windows), noise "
             f"{', '.join(report['settings']['noise_types'])} at "
             f"{', '.join(f'{s:g}' for s in report['settings']['snrs_db'])} dB.\n",
             md_table(comparison_table(report)) + "\n"]
    for m in report["models"]:
        parts.append(f"### {m['name']}: runtimes\n\n{md_table(runtimes_table(m))}\n")
        for title, table in (("on the device (validate-device)", device_table(m)),
                             ("per operating condition", condition_table(m)),
                             ('"unknown", clean data', unknown_table(m))):
            if table:
                parts.append(f"### {m['name']}: {title}\n\n{md_table(table)}\n")
    return "\n".join(parts)
