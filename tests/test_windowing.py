"""Framing and time-span splitting: the two steps that keep train and test apart."""
from __future__ import annotations

import numpy as np
import pytest

from drsn_edge.data.windowing import frame, n_windows, split_spans
from drsn_edge.errors import DrsnError


def test_frame_starts_at_zero_hop_apart() -> None:
    sig = np.arange(10, dtype=np.float64)
    w = frame(sig, 4, 3)
    assert w.dtype == np.float32 and w.shape == (3, 4)
    np.testing.assert_array_equal(w[:, 0], [0, 3, 6])
    np.testing.assert_array_equal(w[2], [6, 7, 8, 9])


def test_frame_is_an_independent_copy() -> None:
    sig = np.arange(8, dtype=np.float32)
    w = frame(sig, 4, 2)
    w[0, 0] = 99.0
    assert sig[0] == 0.0 and w[1, 0] == 2.0  # overlapping windows do not alias each other


@pytest.mark.parametrize("n", [0, 1, 2047])
def test_frame_too_short_gives_no_windows(n: int) -> None:
    w = frame(np.zeros(n), 2048, 256)
    assert w.shape == (0, 2048) and w.dtype == np.float32


def test_frame_counts_match_formula() -> None:
    for n, length, hop in [(2048, 2048, 256), (2303, 2048, 256), (2304, 2048, 256), (84886, 2048, 256),
                           (18189, 2048, 2048), (100, 7, 1)]:
        w = frame(np.random.default_rng(0).standard_normal(n), length, hop)
        assert len(w) == n_windows(n, length, hop) == max(0, (n - length) // hop + 1)
    assert n_windows(2304, 2048, 256) == 2  # 256 extra samples buy exactly one more window


@pytest.mark.parametrize("length,hop", [(0, 1), (4, 0), (-2, 1), (4.0, 1), (True, 1)])
def test_frame_rejects_bad_sizes(length: object, hop: object) -> None:
    with pytest.raises(DrsnError):
        frame(np.zeros(16), length, hop)  # type: ignore[arg-type]


def test_frame_rejects_2d() -> None:
    with pytest.raises(DrsnError, match="1-D"):
        frame(np.zeros((16, 1)), 4, 1)


def test_split_spans_70_15_15() -> None:
    assert split_spans(100, (0.7, 0.15, 0.15)) == [(0, 70), (70, 85), (85, 100)]
    # The real IR007_0 length: boundaries the CWRU tests also rely on.
    assert split_spans(121265, (0.7, 0.15, 0.15)) == [(0, 84886), (84886, 103075), (103075, 121265)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 99, 60985, 122571])
def test_split_spans_tile_without_gap_or_overlap(n: int) -> None:
    for fr in [(0.7, 0.15, 0.15), (0.6, 0.2, 0.2), (1 / 3, 1 / 3, 1 / 3), (0.8, 0.1, 0.1)]:
        spans = split_spans(n, fr)
        assert spans[0][0] == 0 and spans[-1][1] == n
        for (a, b), (c, d) in zip(spans, spans[1:]):
            assert a <= b == c <= d


def test_split_spans_sum_below_one_leaves_tail_unused() -> None:
    assert split_spans(100, (0.5, 0.2, 0.1)) == [(0, 50), (50, 70), (70, 80)]


@pytest.mark.parametrize("fr", [(0.5, 0.5, 0.5), (-0.1, 0.6, 0.5), (0.7, 0.3), (0, 0, 0),
                                (float("nan"), 0.5, 0.5), ("a", 0.5, 0.5)])
def test_split_spans_rejects_bad_fractions(fr: tuple) -> None:
    with pytest.raises(DrsnError, match="fractions"):
        split_spans(100, fr)  # type: ignore[arg-type]
