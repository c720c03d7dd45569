#!/usr/bin/env python3
"""drsn-runner: bearing condition from an accelerometer stream, one JSON line per window.

This script and the ``drsn_runner_lib/`` package beside it run on the device
(a Raspberry Pi) on their own: they need only numpy and a TFLite interpreter
(``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``). They
cannot import drsn_edge, so the two pieces of the toolkit that decide what the
model sees are re-implemented in ``drsn_runner_lib/preprocessing.py`` and
tested against the originals bit for bit.

Samples come from stdin or a file (text, CSV, raw int16/float32 little-endian,
or WAV), are resampled to the model's rate when the stream's differs, cut into
sliding windows with a configurable hop, and classified. Bad input (garbage
lines, NaN, a short final read, a closed pipe) gives a message on stderr and
never a traceback.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the package beside this script, from any working directory (and under python -I)
    sys.path.insert(0, HERE)

try:
    import numpy  # noqa: F401
except ImportError:  # the device's venv is incomplete: say so instead of a traceback
    sys.stderr.write("drsn-runner: error: numpy is not installed (pip install -r requirements.txt)\n")
    sys.exit(2)

from drsn_runner_lib.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
