#!/usr/bin/env bash
# The main job end to end on the built-in synthetic bearing data.
# Usage: scripts/demo.sh [OUT_DIR]   (make demo runs it inside .venv)
set -euo pipefail
OUT="${1:-build/demo}"
BIN="$(dirname "$0")/../.venv/bin"
DRSN="${BIN}/drsn-edge"
mkdir -p "$OUT"

echo "== 1/2 train DRSN-CW on synthetic bearing vibration with Gaussian, Laplacian and pink noise"
"$DRSN" train --data synthetic --arch drsn-cw --epochs "${DEMO_EPOCHS:-30}" \
    --noise gaussian,laplacian,pink --snr -5,5 --seed 0 --out "$OUT/model.pt"

echo "== 2/2 evaluate on the synthetic test split, clean and across -5 ... 5 dB"
"$DRSN" evaluate "$OUT/model.pt" --data synthetic --sweep --json "$OUT/evaluation.json"

echo "demo finished: model $OUT/model.pt, results $OUT/evaluation.json"
