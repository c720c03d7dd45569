#!/usr/bin/env bash
# The main job end to end on the built-in synthetic bearing data:
# train a DRSN-CW under noise, evaluate it across noise types and SNRs,
# convert it to ONNX / TFLite float32 / full int8 and validate the int8 model
# (per shrinkage unit, end to end, and in TensorFlow Lite Micro), then write the
# accuracy-vs-quantisation report (HTML, JSON, Markdown) for every runtime.
# Usage: scripts/demo.sh [OUT_DIR]   (make demo runs it inside .venv)
set -euo pipefail
OUT="${1:-build/demo}"
DRSN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/drsn-edge"
mkdir -p "$OUT"

echo "== 1/4 train DRSN-CW on synthetic bearing vibration with Gaussian, Laplacian and pink noise"
"$DRSN" train --data synthetic --arch drsn-cw --epochs "${DEMO_EPOCHS:-30}" \
    --noise gaussian,laplacian,pink --snr -5,5 --seed 0 --name drsn_cw_synthetic --out "$OUT/model.pt"

echo "== 2/4 evaluate on the synthetic test split, clean and across -5 ... 5 dB"
"$DRSN" evaluate "$OUT/model.pt" --data synthetic --sweep --json "$OUT/evaluation.json"

echo "== 3/4 convert to ONNX and TFLite (float32, full int8) and validate the quantised shrinkage"
"$DRSN" convert "$OUT/model.pt" --out "$OUT/build" --force

echo "== 4/4 report: every runtime (PyTorch, ONNX Runtime, LiteRT, TFLite Micro) on 300 test windows, clean and under noise"
"$DRSN" report "$OUT/build" --data synthetic --limit 300 --out "$OUT/report" --force

echo
echo "demo finished:"
echo "  model      $OUT/model.pt"
echo "  evaluation $OUT/evaluation.json"
echo "  build      $OUT/build/ (model.onnx, model_float32.tflite, model_int8.tflite, model.json, validation.json, probes.npz)"
echo "  report     $OUT/report/report.html (and report.json, report.md)"
