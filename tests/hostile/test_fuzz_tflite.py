"""Property: any mutation of a real int8 .tflite is refused in one line, or gives a sound, bit-exact engine."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from needs import require_tools

sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.importorskip("ai_edge_litert")
require_tools("cc", what="host C compiler", install="gcc libc6-dev")

from engine_fuzz import EDITS, EngineFuzzer, apply_edits  # noqa: E402

EDIT = st.tuples(st.sampled_from(EDITS), st.integers(0, 10**6), st.integers(0, 10**6))


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory: pytest.TempPathFactory) -> EngineFuzzer:
    return EngineFuzzer(tmp_path_factory.mktemp("fuzz"))


def test_the_unmutated_model_is_bit_exact_under_the_sanitizers(fuzzer: EngineFuzzer) -> None:
    assert fuzzer.check(fuzzer.base).kind == "bit-exact"


# bounded for CI (about 30 s); benchmarks/fuzz_tflite.py runs thousands
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(EDIT, min_size=1, max_size=3))
def test_mutated_models_are_refused_or_sound(fuzzer: EngineFuzzer, edits: list) -> None:
    outcome = fuzzer.check(apply_edits(fuzzer.base, edits))
    assert outcome.kind in ("refused", "bit-exact", "litert-refused")
    if outcome.kind == "refused":
        assert outcome.detail and "\n" not in outcome.detail
