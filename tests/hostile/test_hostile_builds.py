"""Hostile build directories, C engine folders, .tflite files and data specs: one error line, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NAN = float("nan")
MODEL_JSON = [("name", "a\nb"), ("name", "x" * 500), ("name", 7), ("classes", ["a"]), ("classes", ["a", "a"]),
              ("classes", "ab"), ("classes", ["a", "b\x00"]), ("preprocessing", None),
              ("preprocessing", {"window_length": 512, "std": NAN}),
              ("preprocessing", {"window_length": 512.5}), ("preprocessing", {"window_length": "512"}),
              ("preprocessing", {"window_length": 512, "sample_rate": 0}), ("files", {"int8": "../../etc/passwd"}),
              ("files", {"int8": "/etc/passwd"}), ("files", {"int8": ".hidden"}), ("files", {"int8": "a/b.tflite"}),
              ("files", {"int8": "-rf"}), ("files", []), ("quantization", {"model_int8.tflite": {"input": {}}}),
              ("quantization", "x"), ("format", "other")]
QUANT = [("scale", NAN), ("scale", -1.0), ("scale", "x"), ("scale", 0.0), ("zero_point", 10**9),
         ("zero_point", 1.5), ("zero_point", None)]
TARGETS = ["c", "tflm", "pi"]


def _json_edit(build: Path, key: str, value: object) -> None:
    info = json.loads((build / "model.json").read_text())
    if value is None and key == "preprocessing" or key == "name" and value == "missing":
        info.pop(key)
    else:
        info[key] = value
    (build / "model.json").write_text(json.dumps(info))


@pytest.mark.parametrize(("key", "value"), MODEL_JSON, ids=[f"{k}={v!r:.24}" for k, v in MODEL_JSON])
def test_model_json(tiny_build, tmp_path, refused, key, value) -> None:
    _json_edit(tiny_build, key, value)
    refused("export", tiny_build, "--target", "c", "--out", tmp_path / "fw")
    assert not (tmp_path / "fw").exists() and not list(tmp_path.glob(".fw*"))


@pytest.mark.parametrize(("side", "key", "value"), [(s, k, v) for s in ("input", "output") for k, v in QUANT])
def test_model_json_quantisation(tiny_build, tmp_path, refused, side, key, value) -> None:
    info = json.loads((tiny_build / "model.json").read_text())
    info["quantization"]["model_int8.tflite"][side][key] = value
    (tiny_build / "model.json").write_text(json.dumps(info))
    refused("export", tiny_build, "--target", "pi", "--out", tmp_path / "pi")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "float"])
def test_damaged_model_files(tiny_build, tmp_path, refused, target, damage) -> None:
    model = tiny_build / "model_int8.tflite"
    data = model.read_bytes()
    model.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": bytes(range(256)) * 8,
                       "float": data[:8] + b"\xff" * 64 + data[72:]}[damage])
    refused("export", tiny_build, "--target", target, "--out", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tar.gz").exists()


@pytest.fixture(scope="module")
def fw_dir(tmp_path_factory) -> Path:
    from drsn_edge.cli import main

    data = Path(__file__).resolve().parent / "data"
    out = tmp_path_factory.mktemp("fw") / "fw"
    assert main(["export", str(data / "tiny_build"), "--target", "c", "--out", str(out)]) == 0
    return out


FW_JSON = [("name", "a\nb"), ("classes", ["a"]), ("classes", ["x"] * 10 + ["x"]), ("preprocessing", {"std": NAN}),
           ("model", "../model_int8.tflite"), ("model", "/etc/passwd"), ("output", {"scale": 0.0, "zero_point": 0}),
           ("output", {"scale": NAN, "zero_point": 0}), ("output", None), ("arena_bytes", -1),
           ("arena_bytes", "big"), ("window_length", 511), ("num_classes", 3), ("format", "x")]


@pytest.mark.parametrize(("key", "value"), FW_JSON, ids=[f"{k}={v!r:.24}" for k, v in FW_JSON])
def test_fw_json(fw_dir, tmp_path, refused, key, value) -> None:
    import shutil

    fw = Path(shutil.copytree(fw_dir, tmp_path / "fw"))
    info = json.loads((fw / "fw.json").read_text())
    info[key] = value
    (fw / "fw.json").write_text(json.dumps(info))
    refused("run", fw, "--runner", "host", "--data", "synthetic", "--limit", "1", "--no-tflm")


def test_fw_json_says_why_each_slot_is_large_enough(fw_dir) -> None:
    info = json.loads((fw_dir / "fw.json").read_text())
    # one line per graph op (fused kernels run several ops: fw.json's "ops" counts kernels)
    assert [int(line.split()[1]) for line in info["buffers"]] == list(range(len(info["buffers"])))
    assert len(info["buffers"]) >= sum(info["ops"].values())
    assert all("computed from input" in line for line in info["buffers"])


SPECS = ["synthetic:-1", "synthetic:abc", "synthetic:1.5", "synthetic:99999999999", "synthetic:\u0661",
         "unknown:x", "cwru:", "npz:", "npz:/nonexistent.npz", "cwru:/nonexistent"]


@pytest.mark.parametrize("spec", SPECS)
def test_data_specs(valid_checkpoint, refused, spec) -> None:
    refused("evaluate", valid_checkpoint, "--data", spec)


NPZ = ["nan", "inf", "huge", "3d", "labels", "classes", "empty"]


@pytest.mark.parametrize("kind", NPZ)
def test_npz_data(valid_checkpoint, tmp_path, refused, kind) -> None:
    import numpy as np

    x = np.random.default_rng(0).normal(size=(30, 64)).astype(np.float32)
    y = np.arange(30) % 3
    classes = np.array(["normal", "inner", "outer"])
    if kind == "nan":
        x[3, 5] = np.nan
    elif kind == "inf":
        x[0, 0] = np.inf
    elif kind == "huge":
        x = np.full((30, 64), 1e308) * np.where(np.arange(64) % 2, 1, -1)
    elif kind == "3d":
        x = x.reshape(30, 8, 8)
    elif kind == "labels":
        y = y + 7
    elif kind == "classes":
        classes = np.array(["normal", "inner"])
    else:
        x, y = x[:0], y[:0]
    np.savez(tmp_path / "d.npz", x=x, y=y, classes=classes)
    refused("evaluate", valid_checkpoint, "--data", f"npz:{tmp_path / 'd.npz'}")
