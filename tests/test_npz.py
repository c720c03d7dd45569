"""The .npz interchange format: exact round trips and one-line errors for bad files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drsn_edge.data.dataset import Windows
from drsn_edge.data.npz import read_npz, write_npz
from drsn_edge.errors import DrsnError


def _windows(n: int = 40, length: int = 256, rate: float = 25600.0) -> Windows:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, length)).astype(np.float32)
    x[0, :4] = [np.float32(1e-38), -0.0, np.float32(3.4e38), np.float32(np.pi)]  # edge values survive exactly
    return Windows(x=x, y=np.arange(n) % 3, classes=["normal", "IR007", "ball ü"], sample_rate=rate)


def _save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_round_trip_is_exact(tmp_path: Path) -> None:
    w = _windows()
    path = tmp_path / "set.npz"
    write_npz(path, w)
    back = read_npz(path)
    assert back.x.dtype == np.float32 and back.y.dtype == np.int64
    np.testing.assert_array_equal(back.x, w.x)
    assert back.x.tobytes() == w.x.tobytes()  # bit-exact, including -0.0
    np.testing.assert_array_equal(back.y, w.y)
    assert back.classes == w.classes and back.sample_rate == 25600.0
    assert back.info["sample_rate_assumed"] is False and back.info["source"] == "npz"
    with np.load(path, allow_pickle=False) as raw:
        assert set(raw.files) == {"x", "y", "classes", "sample_rate"}
        assert raw["classes"].dtype.kind == "U" and raw["sample_rate"].shape == ()


def test_round_trip_real_cwru(cwru_dir: Path, tmp_path: Path) -> None:
    from drsn_edge.data.cwru import load_cwru

    val = load_cwru(cwru_dir / "IR021_0.mat").val
    write_npz(tmp_path / "val.npz", val)
    back = read_npz(tmp_path / "val.npz")
    assert back.x.tobytes() == val.x.tobytes() and back.classes == ["IR021"] and back.sample_rate == 12000.0


def test_write_is_atomic_and_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "set.npz"
    write_npz(path, _windows(n=10))
    write_npz(path, _windows(n=5))
    assert len(read_npz(path)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.npz"]  # no temp file left behind
    write_npz(tmp_path / "noext", _windows(n=3))  # the name is kept exactly: no ".npz" appended
    assert (tmp_path / "noext").is_file() and len(read_npz(tmp_path / "noext")) == 3


def test_write_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DrsnError, match="does not exist"):
        write_npz(tmp_path / "no" / "set.npz", _windows())


def test_missing_sample_rate_is_assumed(tmp_path: Path) -> None:
    path = _save(tmp_path / "a.npz", x=np.zeros((2, 8), np.float32), y=np.array([0, 1]), classes=np.array(["a", "b"]))
    w = read_npz(path)
    assert w.sample_rate == 12000.0 and w.info["sample_rate_assumed"] is True
    assert read_npz(path, sample_rate=48000).sample_rate == 48000.0


def test_sample_rate_conflict(tmp_path: Path) -> None:
    write_npz(tmp_path / "a.npz", _windows())
    assert read_npz(tmp_path / "a.npz", sample_rate=25600.0).sample_rate == 25600.0
    with pytest.raises(DrsnError, match="25600 Hz but 12000 Hz"):
        read_npz(tmp_path / "a.npz", sample_rate=12000.0)


@pytest.mark.parametrize("missing", ["x", "y", "classes"])
def test_missing_key_is_named(tmp_path: Path, missing: str) -> None:
    arrays = {"x": np.zeros((2, 8), np.float32), "y": np.array([0, 1]), "classes": np.array(["a", "b"])}
    del arrays[missing]
    path = _save(tmp_path / "a.npz", **arrays)
    with pytest.raises(DrsnError, match=rf"a\.npz lacks key\(s\) {missing} "):
        read_npz(path)


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    obj = np.empty(2, dtype=object)
    obj[:] = [np.zeros(8), np.zeros(8)]
    path = _save(tmp_path / "a.npz", x=obj, y=np.array([0, 1]), classes=np.array(["a", "b"]))
    with pytest.raises(DrsnError, match="'x' holds Python objects"):
        read_npz(path)
    path = _save(tmp_path / "b.npz", x=np.zeros((2, 8)), y=np.array([0, 1]), classes=np.array(["a", "b"], dtype=object))
    with pytest.raises(DrsnError, match="'classes' holds Python objects"):
        read_npz(path)


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "a.npz").write_text("hello")
    with pytest.raises(DrsnError, match=r"a\.npz is not an \.npz file"):
        read_npz(tmp_path / "a.npz")
    np.save(tmp_path / "b.npy", np.zeros(3))
    (tmp_path / "b.npy").rename(tmp_path / "b.npz")
    with pytest.raises(DrsnError, match=r"b\.npz is not an \.npz"):
        read_npz(tmp_path / "b.npz")


def test_truncated_zip(tmp_path: Path) -> None:
    write_npz(tmp_path / "a.npz", _windows())
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "b.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DrsnError, match=r"b\.npz"):
        read_npz(tmp_path / "b.npz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DrsnError, match="does not exist"):
        read_npz(tmp_path / "none.npz")
    with pytest.raises(DrsnError, match="not a file"):
        read_npz(tmp_path)


@pytest.mark.parametrize("arrays,message", [
    (dict(x=np.zeros(8), y=np.array([0]), classes=np.array(["a"])), "'x' must be 2-D"),
    (dict(x=np.zeros((0, 8)), y=np.zeros(0, np.int64), classes=np.array(["a"])), "'x' must be 2-D"),
    (dict(x=np.zeros((2, 8), complex), y=np.array([0, 0]), classes=np.array(["a"])), "real numbers"),
    (dict(x=np.zeros((2, 8)), y=np.array([[0, 0]]), classes=np.array(["a"])), "'y' must be a 1-D integer"),
    (dict(x=np.zeros((2, 8)), y=np.array([0.0, 1.0]), classes=np.array(["a", "b"])), "'y' must be a 1-D integer"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 1, 1]), classes=np.array(["a", "b"])), "2 windows but 'y' has 3"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 2]), classes=np.array(["a", "b"])), r"labels span 0\.\.2 but there are 2"),
    (dict(x=np.zeros((2, 8)), y=np.array([-1, 0]), classes=np.array(["a", "b"])), "labels span -1"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 0]), classes=np.array([1, 2])), "'classes' must be"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 0]), classes=np.array(["a", "a"])), "more than once"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 0]), classes=np.array(["a"]), sample_rate=np.array([1.0, 2.0])),
     "'sample_rate' must be one number"),
    (dict(x=np.zeros((2, 8)), y=np.array([0, 0]), classes=np.array(["a"]), sample_rate=-5.0), "positive"),
])
def test_malformed_contents(tmp_path: Path, arrays: dict, message: str) -> None:
    path = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DrsnError, match=message):
        read_npz(path)


def test_other_numeric_dtypes_are_accepted_and_nan_is_left_to_check_finite(tmp_path: Path) -> None:
    x = np.arange(16, dtype=np.float64).reshape(2, 8)
    x[1, 3] = np.nan
    path = _save(tmp_path / "a.npz", x=x, y=np.array([0, 1], np.uint8), classes=np.array([b"a", b"b"]))
    w = read_npz(path)
    assert w.x.dtype == np.float32 and w.y.dtype == np.int64 and w.classes == ["a", "b"]
    with pytest.raises(DrsnError, match="NaN or Inf in 1 of 2"):
        w.check_finite()
