"""The report's figures, drawn from the collected numbers and returned as embeddable PNG data URIs.

Plots read only the report dict (``report_data``), never a model, so the page
shows exactly what ``report.json`` holds. PNGs are base64-embedded so the page
opens offline from a single file.
"""
from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 96
COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _data_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _series(sweep: dict, name: str, noise: str) -> tuple[list[float], list[float]]:
    cells = [c for c in sweep["cells"] if c["noise"] == noise]
    return [c["snr_db"] for c in cells], [100 * c["accuracy"][name] for c in cells]


def accuracy_vs_snr(models: list[dict]) -> str | None:
    """One panel per noise type; per model the float reference (solid) and int8 (dashed)."""
    noise_types = models[0]["sweep"]["noise_types"]
    if not noise_types or not models[0]["sweep"]["cells"]:
        return None
    fig, axes = plt.subplots(1, len(noise_types), figsize=(4.2 * len(noise_types), 3.4), sharey=True, squeeze=False)
    for ax, noise in zip(axes[0], noise_types):
        for i, m in enumerate(models):
            colour = COLOURS[i % len(COLOURS)]
            prefix = f"{m['name']} " if len(models) > 1 else ""
            for name, style, label in ((m["float_reference"], "-", "float"), (m["int8"], "--", "int8")):
                snr, acc = _series(m["sweep"], name, noise)
                ax.plot(snr, acc, style, marker="o", ms=3, color=colour if len(models) > 1 else None,
                        label=f"{prefix}{label} ({name})")
        ax.set_title(f"{noise} noise")
        ax.set_xlabel("SNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    return _data_uri(fig)


def loss_heatmap(model: dict) -> str | None:
    """Float minus int8 accuracy (points) per cell, numbers written in; clean data as the first column."""
    loss = model["quantisation_loss"]
    noise_types, snrs = model["sweep"]["noise_types"], model["sweep"]["snrs_db"]
    if not loss["cells"]:
        return None
    grid = np.full((len(noise_types), len(snrs) + 1), np.nan)
    for c in loss["cells"]:
        grid[noise_types.index(c["noise"]), 1 + snrs.index(c["snr_db"])] = c["loss_points"]
    grid[:, 0] = loss["clean"]["loss_points"]
    limit = max(1.0, float(np.nanmax(np.abs(grid))))
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * grid.shape[1], 0.9 + 0.55 * grid.shape[0]))
    image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for (r, c), value in np.ndenumerate(grid):
        ax.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=8,
                color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks(range(grid.shape[1]), ["clean"] + [f"{s:g}" for s in snrs])
    ax.set_yticks(range(len(noise_types)), noise_types)
    ax.set_xlabel("SNR (dB)")
    fig.colorbar(image, ax=ax, label="points lost (float - int8)", shrink=0.9)
    return _data_uri(fig)


def _confusion_panel(ax: plt.Axes, matrix: np.ndarray, classes: list[str], title: str) -> None:
    ax.imshow(matrix, cmap="Blues")
    for (r, c), value in np.ndenumerate(matrix):
        if value:
            ax.text(c, r, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 * matrix.max() else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_title(title, fontsize=9)


def confusion_pairs(model: dict) -> str:
    """Float and int8 side by side, on clean windows and summed over every noise cell (rows true)."""
    sweep, classes = model["sweep"], model["classes"]
    rows = [("clean", [sweep["clean"]])] + ([("all noise cells", sweep["cells"])] if sweep["cells"] else [])
    fig, axes = plt.subplots(len(rows), 2, figsize=(9, 4.2 * len(rows)), squeeze=False)
    for r, (label, cells) in enumerate(rows):
        for c, (kind, name) in enumerate((("float", model["float_reference"]), ("int8", model["int8"]))):
            matrix = np.sum([np.array(cell["confusion"][name]) for cell in cells], axis=0)
            _confusion_panel(axes[r][c], matrix, classes, f"{kind} ({name}), {label}")
        axes[r][0].set_ylabel("true class")
    fig.tight_layout()
    return _data_uri(fig)


def threshold_scatter(model: dict) -> str | None:
    """Per shrinkage unit: int8 threshold against float threshold, with the identity line."""
    units = {u: m for u, m in model["units"].items() if "tau_samples" in m}
    if not units:
        return None
    cols = min(4, len(units))
    rows = int(np.ceil(len(units) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(units):]:
        ax.axis("off")
    for ax, (unit, m) in zip(axes.flat, units.items()):
        f, q = np.array(m["tau_samples"]["float"]), np.array(m["tau_samples"]["int8"])
        top = float(max(f.max(initial=0), q.max(initial=0))) or 1.0
        ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.scatter(f, q, s=4, alpha=0.5)
        ax.set_title(f"{unit}\nSQNR {m['sqnr_db']:.1f} dB", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("float tau", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("int8 tau", fontsize=8)
    fig.tight_layout()
    return _data_uri(fig)


def figures(report: dict) -> dict:
    """Every figure of the page: 'accuracy' for all models, then per model name its own."""
    out: dict = {"accuracy": accuracy_vs_snr(report["models"]), "models": {}}
    for m in report["models"]:
        out["models"][m["name"]] = {"loss": loss_heatmap(m), "confusion": confusion_pairs(m),
                                    "thresholds": threshold_scatter(m)}
    return out
