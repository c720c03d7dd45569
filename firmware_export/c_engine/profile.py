"""Where an inference's instructions go: the per-step times a profiling image reports, summed per op type.

A board image built with ``-DDRSN_PROFILE`` marks the end of the preprocessing
and of every op; its timer code prints one ``drsn-profile: step=S ticks=T``
line per step at exit (S = -1 for the preprocessing). fw.json's ``steps``
names each step's op, so the ticks become instructions per inference per op type.
"""
from __future__ import annotations

import re
from collections import defaultdict

PREPROCESSING = "preprocessing"
_LINE = re.compile(r"drsn-profile: step=(-?\d+) ticks=(\d+)")


def step_ticks(log: str) -> dict[int, int]:
    """Step index -> ticks summed over every call (-1: the preprocessing)."""
    return {int(step): int(ticks) for step, ticks in _LINE.findall(log)}


def by_op(ticks: dict[int, int], steps: list[str], calls: int, instructions_per_tick: int) -> dict[str, dict]:
    """Op type -> steps of that type and instructions per inference, most expensive first."""
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for step, t in ticks.items():
        name = PREPROCESSING if step < 0 else steps[step] if step < len(steps) else f"step {step}"
        totals[name] += t * instructions_per_tick / max(calls, 1)
    for name in steps:
        counts[name] += 1
    counts[PREPROCESSING] = 1
    order = sorted(totals, key=totals.get, reverse=True)
    return {name: {"steps": counts[name], "instructions_per_inference": totals[name]} for name in order}


def profile_table(profile: dict[str, dict], total: float | None) -> str:
    """People's view: op type, its steps, instructions per inference and share of the total."""
    lines = [f"  {'op':<16} {'steps':>5} {'instructions':>13} {'share':>6}"]
    for name, row in profile.items():
        share = f"{100 * row['instructions_per_inference'] / total:5.1f}%" if total else ""
        lines.append(f"  {name:<16} {row['steps']:>5} {row['instructions_per_inference']:>13,.0f} {share:>6}")
    return "\n".join(lines)
