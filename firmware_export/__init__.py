"""Firmware export: the dependency-free C engine (``c_engine/``), TFLite Micro arrays (``tflm/``), the boards
the engine builds for (``boards/``) and the Raspberry Pi bundle (``pi/``).

Consumes the build directories written by ``quantize``; ``export.py`` maps each ``--target`` to its module.
"""
