"""Firmware export: C arrays for TFLite Micro, the dependency-free C engine, device runners.

Consumes the build directories written by ``quantize``; see the project issues.
"""
