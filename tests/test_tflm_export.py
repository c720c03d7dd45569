"""`drsn-edge export --target tflm`: the C array is the model byte for byte, the resolver registers exactly
the model's ops, the stated arena runs in TFLite Micro, bad input is one error line.

With $DRSN_TFLM_DIR naming a tflite-micro checkout whose third-party downloads are in place
(tensorflow/lite/micro/tools/make/downloads/{flatbuffers,gemmlowp}), the generated sources are also
compiled against it; CI has no such tree, so that test skips there.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.cli import main
from firmware_export.c_literals import byte_array, parse_byte_array
from firmware_export.tflm.ops import RESOLVER_METHODS, resolver_methods
from drsn_edge.buildinfo import load_build_info
from quantize.tflite.graph import op_names, read_model

pytest.importorskip("tflite_micro")


@pytest.fixture(scope="module")
def exported(cwru_int8_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tflm") / "fw"
    assert main(["export", str(cwru_int8_build), "--target", "tflm", "--out", str(out)]) == 0
    return out


def define(header: str, name: str) -> str:
    found = re.search(rf"^#define {name} (.+?)(\s*//.*)?$", header, re.M)
    assert found, name
    return found.group(1)


def test_array_is_the_model_byte_for_byte(exported: Path, cwru_int8_build: Path) -> None:
    model = (cwru_int8_build / "model_int8.tflite").read_bytes()
    source = (exported / "drsn_model_data.cc").read_text()
    assert parse_byte_array(source, "g_drsn_model") == model
    assert "alignas(16) const unsigned char g_drsn_model[]" in source
    assert re.search(rf"g_drsn_model_len = {len(model)}u;", source)
    assert "extern const unsigned char g_drsn_model[];" in (exported / "drsn_model_data.h").read_text()


def test_resolver_registers_exactly_the_models_ops(exported: Path, cwru_int8_build: Path) -> None:
    ops = op_names(read_model((cwru_int8_build / "model_int8.tflite").read_bytes()))
    registered = re.findall(r"resolver\.Add(\w+)\(\)", (exported / "drsn_inference.cc").read_text())
    by_method = {method: op for op, method in RESOLVER_METHODS.items()}
    assert sorted(by_method[m] for m in registered) == sorted(set(ops))
    assert len(registered) == len(set(registered))
    config = (exported / "drsn_config.h").read_text()
    assert int(define(config, "DRSN_NUM_OPS")) == len(set(ops))
    assert {"CONV_2D", "FULLY_CONNECTED", "LOGISTIC", "MEAN"} <= set(ops)  # what a DRSN-CW needs
    manifest = json.loads((exported / "tflm.json").read_text())
    assert manifest["op_count"] == len(ops) and sorted(manifest["ops"]) == sorted(set(ops))


def test_config_matches_the_build(exported: Path, cwru_int8_build: Path) -> None:
    info = load_build_info(cwru_int8_build)
    quant = info.quantization["model_int8.tflite"]
    config = (exported / "drsn_config.h").read_text()
    assert int(define(config, "DRSN_WINDOW_LENGTH")) == info.preprocessing.window_length == 2048
    assert int(define(config, "DRSN_NUM_CLASSES")) == len(info.classes) == 10
    assert json.loads("[" + define(config, "DRSN_CLASS_NAMES")[1:-1] + "]") == info.classes
    assert define(config, "DRSN_NORMALISATION") == "DRSN_NORM_WINDOW"
    for side in ("INPUT", "OUTPUT"):
        scale = np.float32(define(config, f"DRSN_{side}_SCALE").rstrip("f"))
        assert scale == np.float32(quant[side.lower()]["scale"])  # exact float32
        assert int(define(config, f"DRSN_{side}_ZERO_POINT")) == quant[side.lower()]["zero_point"]


def test_stated_arena_runs_in_tflm(exported: Path, cwru_int8_build: Path) -> None:
    from quantize.runtimes.tflm import TFLMPredictor

    arena = int(define((exported / "drsn_config.h").read_text(), "DRSN_ARENA_BYTES"))
    manifest = json.loads((exported / "tflm.json").read_text())
    assert arena % 16 == 0 and manifest["arena_min_bytes"] < arena <= 1.11 * manifest["arena_min_bytes"]
    info = load_build_info(cwru_int8_build)
    windows = np.random.default_rng(0).standard_normal((3, 2048)).astype(np.float32)
    path = cwru_int8_build / "model_int8.tflite"
    tight = TFLMPredictor(path, info, arena_size=arena).raw_outputs(windows)
    generous = TFLMPredictor(path, info).raw_outputs(windows)
    assert tight.dtype == np.int8 and tight.shape == (3, 10)
    np.testing.assert_array_equal(tight, generous)


def test_c_array_round_trip_and_layout() -> None:
    data = bytes(range(256)) + b"\x00\xff"
    text = byte_array("blob", data)
    assert parse_byte_array(text, "blob") == data
    assert text.startswith("_Alignas(16) const unsigned char blob[] = {\n    0x00, 0x01,")
    assert "blob_len = 258u;" in text and text.count("\n") == 2 + (258 + 11) // 12 + 1
    assert parse_byte_array(byte_array("empty", b"", cxx=True), "empty") == b""
    with pytest.raises(ValueError):
        byte_array("not a name", data)


def test_ops_tflm_lacks_are_refused() -> None:
    from drsn_edge.errors import DrsnError

    assert resolver_methods(["CONV_2D", "RESHAPE", "CONV_2D"]) == ["AddConv2D", "AddReshape"]
    with pytest.raises(DrsnError, match="SIGN"):
        resolver_methods(["CONV_2D", "SIGN"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drsn_edge.cli", *args], capture_output=True, text=True,
                          timeout=300)


def assert_refused(proc: subprocess.CompletedProcess, pattern: str, out: Path) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert pattern in lines[0], lines[0]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


def test_bad_input_is_one_error_line(cwru_int8_build: Path, tmp_path: Path) -> None:
    out = tmp_path / "fw"
    assert_refused(run_cli("export", str(tmp_path), "--target", "tflm", "--out", str(out)),
                   "not a drsn-edge build directory", out)
    float_only = tmp_path / "float_only"
    shutil.copytree(cwru_int8_build, float_only)
    info = json.loads((float_only / "model.json").read_text())
    del info["files"]["int8"]
    (float_only / "model.json").write_text(json.dumps(info))
    assert_refused(run_cli("export", str(float_only), "--target", "tflm", "--out", str(out)), "no int8 model", out)
    info["files"]["int8"] = "model_float32.tflite"  # a float model where the int8 one should be
    (float_only / "model.json").write_text(json.dumps(info))
    assert_refused(run_cli("export", str(float_only), "--target", "tflm", "--out", str(out)),
                   "not an all-int8 model", out)


def test_sources_compile_against_tflm(exported: Path, tmp_path: Path) -> None:
    root = os.environ.get("DRSN_TFLM_DIR")
    if not root:
        pytest.skip("DRSN_TFLM_DIR (a tflite-micro checkout with its downloads) is not set")
    root_path = Path(root)
    downloads = root_path / "tensorflow/lite/micro/tools/make/downloads"
    compiler = shutil.which("g++")
    assert compiler, "g++ is needed to compile against DRSN_TFLM_DIR"
    for source in ("drsn_model_data.cc", "drsn_inference.cc", "drsn_preprocess.c", "drsn_unknown.c"):
        std = "-std=c99" if source.endswith(".c") else "-std=c++17"
        proc = subprocess.run(
            [compiler, "-x", "c" if source.endswith(".c") else "c++", std, "-DTF_LITE_STATIC_MEMORY", "-Wall", "-Wextra", "-Werror", "-c",
             f"-I{exported}", "-isystem", str(root_path), "-isystem", str(downloads / "flatbuffers/include"),
             "-isystem", str(downloads / "gemmlowp"), str(exported / source), "-o", str(tmp_path / f"{source}.o")],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
