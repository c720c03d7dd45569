"""Operating conditions as data: CWRU loads per file, data-spec joins and selectors, .npz condition arrays."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.data.classes import BEARING_CLASSES
from drsn_edge.data.cwru import load_cwru, load_recording
from drsn_edge.data.dataset import DEFAULT_CONDITION, Splits, Windows, hold_out
from drsn_edge.data.npz import read_npz, write_npz
from drsn_edge.data.spec import DataSpec, load_splits, load_windows, parse, resolve_spec
from drsn_edge.errors import DrsnError

FAULTS = [c for c in BEARING_CLASSES if c != "normal"]
RECORDS_1HP = {"IR007": 106, "IR014": 170, "IR021": 210, "B007": 119, "B014": 186, "B021": 223,
               "OR007@6": 131, "OR014@6": 198, "OR021@6": 235}


@pytest.fixture(scope="module")
def both(cwru_dir: Path, cwru_1hp_dir: Path) -> Splits:
    return load_splits(f"cwru:{cwru_dir}+{cwru_1hp_dir}")


def test_every_file_knows_its_load(both: Splits) -> None:
    recs = both.train.info["recordings"]
    assert len(recs) == 19
    for r in recs:
        load = int(r["file"].rsplit("_", 1)[1][0])
        assert r["load_hp"] == load and r["condition"] == f"{load}hp"
        if load == 1:
            assert r["record"] == RECORDS_1HP[r["label"]]
    counts = {s: {c: int((getattr(both, s).condition == c).sum()) for c in ("0hp", "1hp")} for s in ("train", "val", "test")}
    assert counts == {"train": {"0hp": 3094, "1hp": 2931}, "val": {"0hp": 604, "1hp": 576},
                      "test": {"0hp": 604, "1hp": 576}}
    assert both.test.classes == list(BEARING_CLASSES)
    assert set(both.test.y[both.test.condition == "1hp"]) == set(range(1, 10))  # no normal at 1 HP


def test_load_from_record_number_and_from_key(cwru_1hp_dir: Path, tmp_path: Path) -> None:
    shutil.copyfile(cwru_1hp_dir / "B021_1.mat", tmp_path / "223.mat")
    shutil.copyfile(cwru_1hp_dir / "IR014_1.mat", tmp_path / "IR014.mat")  # no suffix: the key X170 tells
    assert load_recording(tmp_path / "223.mat").condition == "1hp"
    rec = load_recording(tmp_path / "IR014.mat")
    assert (rec.record, rec.load_hp, rec.condition) == (170, 1, "1hp")
    splits = load_cwru(tmp_path)
    assert splits.test.conditions == ["1hp"] and splits.test.classes == ["IR014", "B021"]


def test_selector_keeps_only_that_load(cwru_dir: Path, cwru_1hp_dir: Path) -> None:
    selected = load_splits(f"cwru:{cwru_dir}+{cwru_1hp_dir}@load=1")
    alone = load_splits(f"cwru:{cwru_1hp_dir}")
    for split in ("train", "val", "test"):
        a, b = getattr(selected, split), getattr(alone, split)
        assert a.classes == b.classes == FAULTS and a.conditions == ["1hp"]
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
    test0 = load_windows(f"cwru:{cwru_dir}+{cwru_1hp_dir}@condition=0hp", split="test")
    assert len(test0) == 604 and test0.classes == list(BEARING_CLASSES)
    with pytest.raises(DrsnError, match=r"no recording at 2hp \(conditions present: 0hp, 1hp\)"):
        load_splits(f"cwru:{cwru_dir}+{cwru_1hp_dir}@load=2")


def test_spec_grammar(cwru_dir: Path, tmp_path: Path) -> None:
    assert parse("cwru:a+b@load=1,0") == DataSpec("cwru", ("a", "b"), ("1hp", "0hp"))
    assert parse("npz:f.npz@condition=left, right") == DataSpec("npz", ("f.npz",), ("left", "right"))
    assert parse("cwru:dir/OR007@6_0.mat") == DataSpec("cwru", ("dir/OR007@6_0.mat",), None)  # '@' in a name
    assert parse("synthetic@load=0") == DataSpec("synthetic", ("0",), ("0hp",))
    assert parse("cwru:x") == DataSpec("cwru", ("x",), None) and str(parse("cwru:a+b@load=1")) == "cwru:a+b@condition=1hp"
    joined = tmp_path / "a+b"  # an existing path is never split at '+'
    joined.mkdir()
    assert parse(f"cwru:{joined}").paths == (str(joined),)
    assert resolve_spec(f"cwru:{cwru_dir}/../cwru_0hp@load=0") == f"cwru:{cwru_dir.resolve()}@condition=0hp"
    for bad, message in [("cwru:a@load=one", "integers"), ("cwru:a@condition=", "comma-separated"),
                         ("cwru:a+@load=1", "empty path"), ("npz:a.npz+b.npz", "npz takes one file"),
                         ("imagenet@load=1", "unknown data spec"), ("cwru:@load=1", "needs a path")]:
        with pytest.raises(DrsnError, match=message):
            parse(bad)


def test_hold_out_validates_on_the_other_condition(both: Splits) -> None:
    held = hold_out(both, "1hp")
    assert held.train.conditions == ["0hp"] and len(held.train) == 3094
    assert held.val.conditions == ["1hp"] and len(held.val) == 2931 + 576
    assert held.test is both.test
    with pytest.raises(DrsnError, match="no condition '2hp'"):
        hold_out(both, "2hp")
    only = Splits(*(w.take(w.condition == "1hp") for w in (both.train, both.val, both.test)))
    with pytest.raises(DrsnError, match="only condition"):
        hold_out(only, "1hp")


def _conditioned(n: int = 60) -> Windows:
    rng = np.random.default_rng(3)
    cond = np.where(np.arange(n) < n // 2, "load 0", "load 3")
    return Windows(rng.standard_normal((n, 32)).astype(np.float32), np.arange(n) % 3, ["a", "b", "c"], 12000.0,
                   condition=cond)


def test_npz_condition_round_trip_and_split(tmp_path: Path) -> None:
    w = _conditioned()
    write_npz(tmp_path / "c.npz", w)
    back = read_npz(tmp_path / "c.npz")
    np.testing.assert_array_equal(back.condition, w.condition)
    splits = load_splits(f"npz:{tmp_path / 'c.npz'}")
    for split in ("train", "val", "test"):  # split per condition and class: every split holds both
        assert getattr(splits, split).conditions == ["load 0", "load 3"]
    assert [len(splits.train), len(splits.val), len(splits.test)] == [42, 12, 6]
    sel = load_windows(f"npz:{tmp_path / 'c.npz'}@condition=load 3", split="all")
    assert len(sel) == 30 and sel.conditions == ["load 3"]
    np.testing.assert_array_equal(sel.x, w.x[30:])
    write_npz(tmp_path / "plain.npz", Windows(w.x, w.y, w.classes, 12000.0))  # no condition: no key written
    assert "condition" not in np.load(tmp_path / "plain.npz").files
    assert read_npz(tmp_path / "plain.npz").conditions == [DEFAULT_CONDITION]
    np.savez(tmp_path / "ints.npz", x=w.x, y=w.y, classes=np.array(w.classes), condition=np.arange(60) // 20)
    assert read_npz(tmp_path / "ints.npz").conditions == ["0", "1", "2"]


@pytest.mark.parametrize("condition,message", [
    (np.array(["a"] * 5), "'x' has 6 windows but 'condition' names 5"),
    (np.zeros(6), "'condition' must be a 1-D array of names"),
    (np.array([["a"] * 6]), "'condition' must be a 1-D array of names"),
    (np.array(["a", "a", " ", "b", "b", "b"]), "'condition' holds 1 empty names"),
])
def test_npz_bad_condition(tmp_path: Path, condition: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((6, 8)), y=np.zeros(6, np.int64), classes=np.array(["a"]), condition=condition)
    with pytest.raises(DrsnError, match=message):
        read_npz(path)


def test_selecting_a_condition_the_data_lacks(tmp_path: Path) -> None:
    write_npz(tmp_path / "p.npz", Windows(np.zeros((6, 8)), np.zeros(6), ["a"], 12000.0))
    with pytest.raises(DrsnError, match=f"no windows of condition 1hp \\(conditions present: {DEFAULT_CONDITION}\\)"):
        load_windows(f"npz:{tmp_path / 'p.npz'}@load=1", split="all")
