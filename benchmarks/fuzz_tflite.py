"""Fuzz the C engine exporter with mutated .tflite files (issue 12): many more cases than CI runs.

Each case applies 1-3 random edits (byte flips and structural edits of shapes,
tensor indices, scales, zero points, buffer lengths, per-channel arrays and op
options) to the committed tiny int8 model and requires a clean refusal
(DrsnError), or an engine that compiles with -Wall -Wextra -Werror, runs
clean under ASan/UBSan with canaries between arena slots, and is bit-exact
with LiteRT's reference kernels when LiteRT accepts the model. Any other
outcome (a traceback, a compiler error, a sanitizer report, an overwritten
canary, a mismatch) is counted as a failure and its edits are listed.

    python benchmarks/fuzz_tflite.py [--count 10000] [--seed 0] [--max-minutes M] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "hostile")]

from engine_fuzz import EDITS, EngineFuzzer, apply_edits, describe, reason  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop early after this long (counts stay honest)")
    ap.add_argument("--json", default=None, help="default: benchmarks/results/fuzz_tflite/seed<SEED>.json")
    args = ap.parse_args()
    if args.json is None:
        args.json = str(ROOT / "benchmarks" / "results" / "fuzz_tflite" / f"seed{args.seed}.json")
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    outcomes: Counter = Counter()
    edits_used: Counter = Counter()
    refusals: Counter = Counter()  # by check (the message with its numbers blanked)
    failures: list[dict] = []
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="drsn-fuzz-") as tmp:
        fuzzer = EngineFuzzer(Path(tmp))
        for _ in tqdm(range(args.count), desc="mutated models", unit="model"):
            if args.max_minutes is not None and time.time() - start > args.max_minutes * 60:
                break
            edits = [(rng.choice(EDITS), rng.randrange(10**6), rng.randrange(10**6)) for _ in range(rng.randint(1, 3))]
            edits_used.update(kind for kind, _, _ in edits)
            try:
                outcome = fuzzer.check(apply_edits(fuzzer.base, edits))
                outcomes[outcome.kind] += 1
                if outcome.kind == "refused":
                    refusals[reason(outcome.detail)] += 1
            except Exception as exc:  # noqa: BLE001 - every other outcome is a finding
                outcomes["failed"] += 1
                failures.append({"edits": describe(edits), "error": f"{type(exc).__name__}: {exc}"[:500],
                                 "where": traceback.format_exc(limit=-2)[-800:]})
            if args.json and sum(outcomes.values()) % 100 == 0:  # a killed run keeps its counts
                _save(args, outcomes, edits_used, refusals, failures, start)
    result = _save(args, outcomes, edits_used, refusals, failures, start)
    tried = result["tried"]
    print(f"{'outcome':<16}{'models':>8}")
    for kind in ("refused", "bit-exact", "litert-refused", "failed"):
        print(f"{kind:<16}{outcomes.get(kind, 0):>8}")
    print(f"{'tried':<16}{tried:>8}   ({result['seconds']:.0f} s, seed {args.seed})")
    for f in failures[:10]:
        print(f"FAILED {f['edits']}: {f['error']}")
    return 1 if failures else 0


def _save(args: argparse.Namespace, outcomes: Counter, edits: Counter, refusals: Counter, failures: list,
          start: float) -> dict:
    result = {"tried": sum(outcomes.values()), "seed": args.seed, "seconds": round(time.time() - start, 1),
              "outcomes": dict(outcomes), "edits": dict(edits), "refused_by": dict(refusals.most_common()),
              "failures": failures[:50]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main())
