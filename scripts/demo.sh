#!/usr/bin/env bash
# The main job end to end on the built-in synthetic bearing data:
# train a DRSN-CW under noise, evaluate it across noise types and SNRs,
# convert it to ONNX / TFLite float32 / full int8 and validate the int8 model
# (per shrinkage unit, end to end, and in TensorFlow Lite Micro), then write the
# accuracy-vs-quantisation report (HTML, JSON, Markdown) for every runtime, and
# export it for devices: the dependency-free C engine (run bit-exact on an
# emulated Cortex-M4 under QEMU, or on the host when QEMU is not installed),
# C arrays for TensorFlow Lite Micro, and a Raspberry Pi bundle.
# Usage: scripts/demo.sh [OUT_DIR]   (make demo runs it inside .venv)
set -euo pipefail
OUT="${1:-build/demo}"
DRSN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/drsn-edge"
mkdir -p "$OUT"

echo "== 1/6 train DRSN-CW on synthetic bearing vibration with Gaussian, Laplacian and pink noise"
"$DRSN" train --data synthetic --arch drsn-cw --epochs "${DEMO_EPOCHS:-30}" \
    --noise gaussian,laplacian,pink --snr -5,5 --seed 0 --name drsn_cw_synthetic --out "$OUT/model.pt"

echo "== 2/6 evaluate on the synthetic test split, clean and across -5 ... 5 dB"
"$DRSN" evaluate "$OUT/model.pt" --data synthetic --sweep --json "$OUT/evaluation.json"

echo "== 3/6 convert to ONNX and TFLite (float32, full int8) and validate the quantised shrinkage"
"$DRSN" convert "$OUT/model.pt" --out "$OUT/build" --force

echo "== 4/6 report: every runtime (PyTorch, ONNX Runtime, LiteRT, TFLite Micro) on 300 test windows, clean and under noise"
"$DRSN" report "$OUT/build" --data synthetic --limit 300 --out "$OUT/report" --force

echo "== 5/6 export the dependency-free int8 C engine and run it, comparing every window with LiteRT int8"
"$DRSN" export "$OUT/build" --target c --out "$OUT/fw_c" --force
if command -v qemu-system-arm >/dev/null 2>&1 && command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    "$DRSN" run "$OUT/fw_c" --runner qemu --data synthetic --limit 40 --json "$OUT/run_qemu.json"
else
    echo "(qemu-system-arm / arm-none-eabi-gcc not found: running on the host instead;"
    echo " apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm for the Cortex-M4 run)"
    "$DRSN" run "$OUT/fw_c" --runner host --data synthetic --limit 200 --json "$OUT/run_host.json"
fi

echo "== 6/6 export C arrays for TensorFlow Lite Micro and a Raspberry Pi bundle"
"$DRSN" export "$OUT/build" --target tflm --out "$OUT/fw_tflm" --force
"$DRSN" export "$OUT/build" --target pi --out "$OUT/pi_bundle" --force

echo
echo "demo finished:"
echo "  model      $OUT/model.pt"
echo "  evaluation $OUT/evaluation.json"
echo "  build      $OUT/build/ (model.onnx, model_float32.tflite, model_int8.tflite, model.json, validation.json, probes.npz)"
echo "  C engine   $OUT/fw_c/ (drsn_model.c/.h, kernels drsn_*.c/.h, mps2_an386/; run results in $OUT/run_*.json)"
echo "  TFLM       $OUT/fw_tflm/   Raspberry Pi: $OUT/pi_bundle/ and $OUT/pi_bundle.tar.gz"
echo "  report     $OUT/report/report.html (and report.json, report.md)"
