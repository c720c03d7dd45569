"""Smoothing and alarms: a majority vote over recent windows, an alert when one fault class persists."""
from __future__ import annotations

from collections import Counter, deque


class Decider:
    """Majority vote over the last ``k`` windows and an alert when a fault class persists."""

    def __init__(self, k: int, alert_after: int, normal: int | None) -> None:
        self.recent: deque[int] = deque(maxlen=max(1, k))
        self.alert_after = alert_after
        self.normal = normal
        self.fault = None
        self.streak = 0

    def update(self, k: int) -> tuple[int, int | None, bool]:
        """(smoothed class, class in alert or None, whether the alert starts now)."""
        self.recent.append(k)
        counts = Counter(self.recent)
        best = max(counts.values())
        # ties go to the most recent of the tied classes
        smoothed = next(c for c in reversed(self.recent) if counts[c] == best)
        if smoothed != self.normal and smoothed == self.fault:
            self.streak += 1
        else:
            self.fault, self.streak = (None, 0) if smoothed == self.normal else (smoothed, 1)
        alerting = self.alert_after > 0 and self.fault is not None and self.streak >= self.alert_after
        return smoothed, self.fault if alerting else None, alerting and self.streak == self.alert_after
