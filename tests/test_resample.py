"""The Pi runner's resampler (drsn_runner_lib/resample.py): a stream at another rate reaches the model's
12 kHz with its tones in place and nothing above the new Nyquist folded in; chunked equals one pass."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from firmware_export.pi.bundle import RUNNER

sys.path.insert(0, str(RUNNER.parent))  # the runner as the device sees it: its package beside the entry script

from drsn_runner_lib.resample import Resampler  # noqa: E402

RATE = 12000.0


@pytest.mark.parametrize("rate_in", [48000.0, 44100.0, 25600.0, 8000.0])
def test_resampler_converts_a_sine(rate_in: float) -> None:
    """A 440 Hz tone at another rate lands on the exact tone at 12 kHz; chunked streaming equals one pass."""
    n = int(rate_in)  # one second
    x = np.sin(2 * np.pi * 440.0 * np.arange(n) / rate_in)
    whole = Resampler(rate_in, RATE).process(x)
    assert abs(len(whole) - RATE) <= RATE * 0.02  # all but the filter's tail
    t = np.arange(len(whole)) / RATE
    body = slice(200, len(whole) - 10)  # past the start-up transient (zeros before the stream)
    assert np.max(np.abs(whole[body] - np.sin(2 * np.pi * 440.0 * t[body]))) < 2e-3

    resampler = Resampler(rate_in, RATE)
    cuts = np.cumsum(np.random.default_rng(0).integers(1, 3000, size=50))
    parts = [resampler.process(c) for c in np.split(x, cuts[cuts < n])]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)


def test_resampler_removes_what_the_model_rate_cannot_hold() -> None:
    """A 9 kHz tone at 48 kHz is above 12 kHz's Nyquist: it must not alias into the output."""
    x = np.sin(2 * np.pi * 9000.0 * np.arange(48000) / 48000.0)
    y = Resampler(48000.0, RATE).process(x)[200:-200]
    assert np.sqrt(np.mean(y ** 2)) < 0.01
