"""Streaming rational resampling (polyphase FIR, numpy only) from the stream's rate to the model's."""
from __future__ import annotations

from fractions import Fraction

import math

import numpy as np

from .messages import RunnerError

MAX_RATIO = 1000  # the stream's rate may differ from the model's by at most this factor either way


def check_rate(rate: float, model_rate: float, source: str) -> float:
    """``rate`` if the resampler can bring it to ``model_rate``; one clear error otherwise (0, NaN, 1e15 ...)."""
    if not math.isfinite(rate) or rate <= 0:
        raise RunnerError(f"{source} gives a sample rate of {rate:g} Hz; it must be a positive number")
    if not model_rate / MAX_RATIO <= rate <= model_rate * MAX_RATIO:
        raise RunnerError(f"{source} gives a sample rate of {rate:g} Hz; the model's {model_rate:g} Hz can be reached "
                          f"from {model_rate / MAX_RATIO:g} to {model_rate * MAX_RATIO:g} Hz only")
    return rate


class Resampler:
    """Streaming rational resampler (polyphase FIR), numpy only.

    The rate ratio is approximated by ``up/down`` (denominator at most 1000). The
    anti-aliasing/interpolation filter is a windowed sinc (Kaiser, beta 5) whose
    cut-off is the lower of the two Nyquist frequencies and whose half length is
    10 periods of the slower rate, as scipy.signal.resample_poly does. It is split
    into ``up`` phases; output sample m is the dot product of the phase
    ``(m * down) % up`` with the input samples around ``m * down / up``, so no
    zeros are ever multiplied. Each phase is normalised to unit DC gain. The
    filter is centred (zero delay): output m is the signal at input time
    ``m * down / up``; the stream is taken as zero before its first sample.
    """

    def __init__(self, in_rate: float, out_rate: float, half_periods: int = 10, beta: float = 5.0) -> None:
        ratio = (Fraction(out_rate).limit_denominator(10 ** 6) / Fraction(in_rate).limit_denominator(10 ** 6))
        ratio = ratio.limit_denominator(1000)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.identity = self.up == self.down
        slower = max(self.up, self.down)
        half_len = half_periods * slower  # in samples of the up-sampled signal
        self.half = -(-half_len // self.up)  # input samples each side
        j = np.arange(-self.half, self.half + 1)
        d = np.arange(self.up)[:, None] - j[None, :] * self.up  # offset of each tap, up-sampled units
        window = np.where(np.abs(d) <= half_len,
                          np.i0(beta * np.sqrt(np.clip(1 - (d / half_len) ** 2, 0, None))) / np.i0(beta), 0.0)
        taps = np.sinc(d / slower) * window
        self.taps = taps / taps.sum(axis=1, keepdims=True)  # (up, 2*half+1), unit DC gain per phase
        self.offsets = j
        self.buffer = np.zeros(self.half)  # the zeros before the stream
        self.buffer_start = -self.half  # input index of buffer[0]
        self.next_out = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Feed input samples, get every output sample whose neighbourhood is now complete."""
        if self.identity:
            return np.asarray(chunk, dtype=np.float64)
        self.buffer = np.concatenate([self.buffer, np.asarray(chunk, dtype=np.float64)])
        last_input = self.buffer_start + len(self.buffer) - 1
        # output m needs input up to (m*down)//up + half
        m_end = ((last_input - self.half + 1) * self.up - 1) // self.down + 1 if last_input >= self.half else 0
        m = np.arange(self.next_out, max(m_end, self.next_out))
        out = np.empty(0)
        if len(m):
            t = m * self.down
            centre = t // self.up
            idx = centre[:, None] + self.offsets[None, :] - self.buffer_start
            out = np.einsum("ij,ij->i", self.buffer[idx], self.taps[t % self.up])
            self.next_out = int(m[-1]) + 1
        keep_from = (self.next_out * self.down) // self.up - self.half  # first input the next output needs
        drop = max(0, keep_from - self.buffer_start)
        self.buffer = self.buffer[drop:]
        self.buffer_start += drop
        return out
