"""Defaults that several layers share, defined once: the paper's window and the CWRU channel.

Settings that belong to one dataclass (``TrainConfig``, ``ModelConfig``,
``Preprocessing``, ...) keep their defaults there; the CLI reads them from the
dataclass (:func:`field_default`) instead of repeating them.
"""
from __future__ import annotations

import dataclasses
from typing import Any

WINDOW_LENGTH = 2048  # samples per window (the paper's 1-D network input)
SAMPLE_RATE = 12000.0  # Hz, CWRU's drive-end rate and the synthetic generator's
CHANNEL = "DE"  # CWRU accelerometer: drive end


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` (calling its factory), so a CLI can show and use it."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            break
    raise KeyError(f"{cls.__name__}.{name} has no default")
