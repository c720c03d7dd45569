"""Per-shrinkage-unit effect of a conversion choice: two build directories' validation, side by side.

    python benchmarks/compare_units.py build/minmax build/mse

Prints a Markdown table: median threshold error, dead-zone agreement and
output SQNR of every unit in both builds, and the end-to-end validation figures.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    a, b = (json.loads((d / "validation.json").read_text()) for d in (args.before, args.after))
    name_a, name_b = (r["calibration"].get("ranges", "minmax") for r in (a, b))
    print(f"| unit | tau error {name_a} | tau error {name_b} | zeros kept {name_a} | zeros kept {name_b} "
          f"| SQNR dB {name_a} | SQNR dB {name_b} |")
    print("|---|---|---|---|---|---|---|")
    for unit, ua in a["int8"]["units"].items():
        ub = b["int8"]["units"][unit]
        print(f"| {unit} | {ua['tau_rel_error']['median']:.4f} | {ub['tau_rel_error']['median']:.4f} "
              f"| {ua['dead_zone']['float_zeros_kept']:.4f} | {ub['dead_zone']['float_zeros_kept']:.4f} "
              f"| {ua['sqnr_db']:.1f} | {ub['sqnr_db']:.1f} |")
    ea, eb = a["int8"]["end_to_end"], b["int8"]["end_to_end"]
    print(f"| end to end (600 validation windows) | agreement {ea['top1_agreement']:.4f} | "
          f"agreement {eb['top1_agreement']:.4f} | int8 acc {ea['int8_accuracy']:.4f} | int8 acc {eb['int8_accuracy']:.4f} "
          f"| logits {ea['logits_sqnr_db']:.1f} | logits {eb['logits_sqnr_db']:.1f} |")


if __name__ == "__main__":
    main()
