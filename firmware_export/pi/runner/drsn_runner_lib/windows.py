"""Sliding windows of the model's length, every ``hop`` samples, over a stream of chunks."""
from __future__ import annotations

from typing import Iterator

import numpy as np


class Windower:
    """Sliding windows of ``length`` samples every ``hop`` samples over a stream of chunks."""

    def __init__(self, length: int, hop: int) -> None:
        self.length, self.hop = length, hop
        self.buffer = np.empty(0)
        self.start = 0  # stream index of buffer[0]
        self.skip = 0  # samples still to drop when hop > length

    def push(self, chunk: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Add samples; yields (stream index of its first sample, window) for every window now complete."""
        if self.skip:
            dropped = min(self.skip, len(chunk))
            chunk, self.skip, self.start = chunk[dropped:], self.skip - dropped, self.start + dropped
        self.buffer = np.concatenate([self.buffer, chunk]) if len(self.buffer) else np.asarray(chunk, np.float64)
        while len(self.buffer) >= self.length:
            yield self.start, self.buffer[:self.length]
            step = min(self.hop, len(self.buffer))
            self.skip = self.hop - step
            self.buffer = self.buffer[step:]
            self.start += step
        # an overlong hop may also have to drop samples still waiting in the buffer
        if self.skip and len(self.buffer):
            dropped = min(self.skip, len(self.buffer))
            self.buffer, self.skip, self.start = self.buffer[dropped:], self.skip - dropped, self.start + dropped
