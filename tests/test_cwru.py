"""CWRU loader on the real 0 HP recordings, plus crafted files for every failure path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy.signal import resample_poly

from drsn_edge.data.classes import BEARING_CLASSES
from drsn_edge.data.cwru import CHANNELS, load_cwru, load_recording, parse_name
from drsn_edge.errors import DrsnError

# Raw drive-end lengths from the data folder's README (12 kHz unless noted).
RAW_SAMPLES = {
    "normal": 243938, "IR007": 121265, "IR014": 121846, "IR021": 122136, "B007": 122571,
    "B014": 121846, "B021": 121991, "OR007@6": 121991, "OR014@6": 121846, "OR021@6": 122426,
}
SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def splits(cwru_dir: Path):
    return load_cwru(cwru_dir)


def _recs(splits) -> dict[str, dict]:
    return {r["label"]: r for r in splits.train.info["recordings"]}


def test_ten_classes_in_canonical_order(splits) -> None:
    for split in SPLITS:
        w = getattr(splits, split)
        assert w.classes == list(BEARING_CLASSES)
        assert w.sample_rate == 12000.0 and w.window_length == 2048
        assert set(np.unique(w.y)) == set(range(10))
        w.check_finite()
    json.dumps(splits.train.info)  # the summary must be JSON-serialisable


def test_normal_is_resampled_48k_to_12k(splits) -> None:
    recs = _recs(splits)
    normal = recs["normal"]
    assert normal["source_rate"] == 48000.0 and normal["resampled"] is True
    assert normal["samples"] == 60985  # ceil(243,938 / 4)
    for label, r in recs.items():
        if label != "normal":
            assert r["source_rate"] == 12000.0 and r["resampled"] is False
            assert r["samples"] == RAW_SAMPLES[label]


def test_spans_are_disjoint_and_tile_each_recording(splits) -> None:
    for r in splits.train.info["recordings"]:
        (a0, a1), (b0, b1), (c0, c1) = (r["spans"][s] for s in SPLITS)
        assert a0 == 0 and a1 == b0 and b1 == c0 and c1 == r["samples"]
        assert a1 - a0 == round(0.7 * r["samples"])
    assert _recs(splits)["IR007"]["spans"] == {"train": [0, 84886], "val": [84886, 103075],
                                                "test": [103075, 121265]}


def test_window_counts_follow_hops(splits) -> None:
    recs = splits.train.info["recordings"]
    for split in SPLITS:
        w = getattr(splits, split)
        counts = np.bincount(w.y, minlength=10)
        for r in recs:
            s, e = r["spans"][split]
            expected = (e - s - 2048) // 256 + 1
            assert r["windows"][split] == expected == counts[BEARING_CLASSES.index(r["label"])]
    # Regression numbers for the default 2048 / 256 / 70-15-15 set-up.
    assert (len(splits.train), len(splits.val), len(splits.test)) == (3094, 604, 604)
    assert np.bincount(splits.train.y)[0] == 159 and np.bincount(splits.test.y)[0] == 28


def test_windows_are_the_recorded_slices(splits, cwru_dir: Path) -> None:
    rec = load_recording(cwru_dir / "IR007_0.mat")
    raw = scipy.io.loadmat(str(cwru_dir / "IR007_0.mat"))["X105_DE_time"].ravel()
    np.testing.assert_array_equal(rec.signal, raw.astype(np.float32))
    cls = BEARING_CLASSES.index("IR007")
    for split, hop in (("train", 256), ("test", 256)):
        w = getattr(splits, split)
        xs = w.x[w.y == cls]
        start = _recs(splits)["IR007"]["spans"][split][0]
        np.testing.assert_array_equal(xs[0], rec.signal[start:start + 2048])
        np.testing.assert_array_equal(xs[-1], rec.signal[start + (len(xs) - 1) * hop:][:2048])


def test_normal_matches_reference_resampler(cwru_dir: Path) -> None:
    rec = load_recording(cwru_dir / "normal_0.mat")
    raw = scipy.io.loadmat(str(cwru_dir / "normal_0.mat"))["X097_DE_time"].ravel()
    np.testing.assert_allclose(rec.signal, resample_poly(raw, 1, 4).astype(np.float32), rtol=0, atol=1e-6)
    assert (rec.label, rec.load_hp, rec.record, rec.sample_rate, rec.source_rate) == ("normal", 0, 97, 12000.0, 48000.0)
    assert rec.resampled and rec.signal.dtype == np.float32


def test_train_and_test_share_no_window(splits) -> None:
    train_rows = {row.tobytes() for row in splits.train.x}
    assert not any(row.tobytes() in train_rows for row in splits.test.x)
    assert not any(row.tobytes() in train_rows for row in splits.val.x)
    # Stronger: no 64-sample run at the start of a test window occurs anywhere in train.
    train_heads = {row[i:i + 64].tobytes() for row in splits.train.x[::8] for i in range(0, 2048 - 64, 256)}
    assert not any(row[:64].tobytes() in train_heads for row in splits.test.x)


def test_other_hops_and_fan_end(cwru_dir: Path) -> None:
    s = load_cwru(cwru_dir, channel="fe", train_hop=512, eval_hop=2048)
    assert s.train.info["channel"] == "FE" and s.train.classes == list(BEARING_CLASSES)
    for r in s.train.info["recordings"]:
        assert r["key"].endswith("_FE_time")
        for split, hop in (("train", 512), ("val", 2048), ("test", 2048)):
            a, b = r["spans"][split]
            assert r["windows"][split] == (b - a - 2048) // hop + 1
    de = load_recording(cwru_dir / "B007_0.mat", "DE").signal
    fe = load_recording(cwru_dir / "B007_0.mat", "FE").signal
    assert de.shape == fe.shape and not np.array_equal(de, fe)
    assert set(CHANNELS) == {"DE", "FE", "BA"}


def test_missing_ba_channel_on_normal(cwru_dir: Path) -> None:
    with pytest.raises(DrsnError, match=r"normal_0\.mat.*BA.*X097_DE_time"):
        load_recording(cwru_dir / "normal_0.mat", channel="BA")
    with pytest.raises(DrsnError, match="BA"):
        load_cwru(cwru_dir, channel="BA")
    assert load_recording(cwru_dir / "IR007_0.mat", channel="BA").key == "X105_BA_time"


@pytest.mark.parametrize("name,expected", [
    ("IR007_0.mat", ("IR007", 0, 105)), ("OR014@6_0.mat", ("OR014@6", 0, 197)),
    ("normal_0.mat", ("normal", 0, 97)), ("normal_3.mat", ("normal", 3, 100)),
    ("B021_2.mat", ("B021", 2, 224)), ("97.mat", ("normal", 0, 97)), ("105.mat", ("IR007", 0, 105)),
    ("X105.mat", ("IR007", 0, 105)), ("236.mat", ("OR021@6", 2, 236)), ("ir014_1.mat", ("IR014", 1, 170)),
    ("B014.mat", ("B014", None, None)),
])
def test_parse_name(name: str, expected: tuple) -> None:
    assert parse_name(name) == expected


@pytest.mark.parametrize("name", ["999.mat", "foo_0.mat", "IR007_5.mat", "x.mat", "OR007_0.mat"])
def test_parse_name_rejects(name: str) -> None:
    with pytest.raises(DrsnError, match=name.replace(".", r"\.")):
        parse_name(name)


def test_record_number_file_names(cwru_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "105.mat").symlink_to(cwru_dir / "IR007_0.mat")
    (tmp_path / "X097.mat").symlink_to(cwru_dir / "normal_0.mat")
    rec = load_recording(tmp_path / "105.mat")
    assert (rec.label, rec.record, rec.load_hp, rec.sample_rate) == ("IR007", 105, 0, 12000.0)
    s = load_cwru(tmp_path)
    assert s.train.classes == ["normal", "IR007"]
    assert [r["samples"] for r in s.train.info["recordings"]] == [60985, 121265]
    (tmp_path / "IR007_0.mat").symlink_to(cwru_dir / "IR007_0.mat")
    with pytest.raises(DrsnError, match="same CWRU record 105"):
        load_cwru(tmp_path)


def test_prefers_key_of_own_record(tmp_path: Path) -> None:
    # Like CWRU's 99.mat, which also carries record 98's arrays.
    scipy.io.savemat(tmp_path / "99.mat", {"X098_DE_time": np.zeros((5000, 1)), "X099_DE_time": np.ones((5000, 1))})
    rec = load_recording(tmp_path / "99.mat")
    assert rec.key == "X099_DE_time" and rec.label == "normal" and rec.load_hp == 2
    assert len(rec.signal) == 1250 and np.allclose(rec.signal[100:-100], 1.0, atol=1e-3)


def test_lone_key_of_other_record_is_used(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "IR007.mat", {"X105_DE_time": np.arange(3000.0)[:, None]})
    rec = load_recording(tmp_path / "IR007.mat")
    assert (rec.key, rec.record, rec.load_hp) == ("X105_DE_time", 105, 0)


def test_mat_without_channel_key(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "IR007_0.mat", {"X105_FE_time": np.zeros((4000, 1)), "X105RPM": 1797})
    with pytest.raises(DrsnError, match=r"IR007_0\.mat has no DE .*X105_FE_time, X105RPM"):
        load_recording(tmp_path / "IR007_0.mat")


def test_non_numeric_channel(tmp_path: Path) -> None:
    scipy.io.savemat(tmp_path / "IR007_0.mat", {"X105_DE_time": "not a signal"})
    with pytest.raises(DrsnError, match="not a real numeric array"):
        load_recording(tmp_path / "IR007_0.mat")


@pytest.mark.parametrize("name", ["x.mat", "IR007_0.mat"])
def test_garbage_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"this is not a MATLAB file\n" * 50)
    with pytest.raises(DrsnError, match=name.replace(".", r"\.")):
        load_recording(tmp_path / name)
    with pytest.raises(DrsnError, match=name.replace(".", r"\.")):
        load_cwru(tmp_path)


def test_corrupt_real_file(cwru_dir: Path, tmp_path: Path) -> None:
    data = (cwru_dir / "B007_0.mat").read_bytes()
    (tmp_path / "B007_0.mat").write_bytes(data[:200])  # header intact, body truncated
    with pytest.raises(DrsnError, match=r"B007_0\.mat"):
        load_recording(tmp_path / "B007_0.mat")


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DrsnError, match="does not exist"):
        load_cwru(tmp_path / "nope")
    with pytest.raises(DrsnError, match="no .mat files"):
        load_cwru(tmp_path)
    with pytest.raises(DrsnError, match="does not exist"):
        load_recording(tmp_path / "IR007_0.mat")


def test_single_file_and_bad_options(cwru_dir: Path) -> None:
    s = load_cwru(cwru_dir / "OR021@6_0.mat")
    assert s.test.classes == ["OR021@6"] and len(s.train) == (85698 - 2048) // 256 + 1
    with pytest.raises(DrsnError, match="channel"):
        load_cwru(cwru_dir / "OR021@6_0.mat", channel="XX")
    with pytest.raises(DrsnError, match="fractions"):
        load_cwru(cwru_dir / "OR021@6_0.mat", fractions=(0.9, 0.2, 0.1))
    with pytest.raises(DrsnError, match="hop"):
        load_cwru(cwru_dir / "OR021@6_0.mat", train_hop=0)


def test_span_too_short_names_file_and_numbers(cwru_dir: Path) -> None:
    with pytest.raises(DrsnError, match=r"normal_0\.mat: its val span \(15% of 60985 samples at 12000 Hz\) holds 9147 samples.*20000-sample"):
        load_cwru(cwru_dir, window_length=20000)


def _tone_gain_db(freq: float, tmp_path: Path) -> float:
    """Write a 48 kHz tone as a normal-baseline file and measure its level after loading at 12 kHz."""
    t = np.arange(48000) / 48000.0
    tone = np.sin(2 * np.pi * freq * t)
    path = tmp_path / f"tone{int(freq)}" / "normal_0.mat"
    path.parent.mkdir()
    scipy.io.savemat(path, {"X097_DE_time": tone[:, None]})
    rec = load_recording(path)
    assert rec.sample_rate == 12000.0 and len(rec.signal) == 12000
    core = rec.signal[500:-500].astype(np.float64)  # skip filter edge transients
    return 20 * np.log10(np.sqrt(np.mean(core ** 2)) / np.sqrt(np.mean(tone ** 2)))


def test_resampler_is_anti_aliased(tmp_path: Path) -> None:
    assert _tone_gain_db(15000.0, tmp_path) < -40.0  # would alias to 3 kHz without a filter
    assert abs(_tone_gain_db(1000.0, tmp_path)) < 0.5
