""""unknown" (issue 15): the int8 margin score, its threshold calibrated by convert, and the same answer in
every runtime: Python's reference, LiteRT int8, the C engine's drsn_unknown_score (bit-exact), TFLite Micro."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.buildinfo import load_build_info
from drsn_edge.errors import DrsnError
from drsn_edge.unknown import UnknownRule, calibrate, margin, risk_coverage, unknown_result
from firmware_export.c_engine.sources import CSRC

DRIVER = r"""
#include <stdio.h>
#include "drsn_unknown.h"
int main(int argc, char **argv)
{
    int8_t row[NUM];
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    (void)argc;
    while (fread(row, 1, NUM, in) == NUM) {
        int32_t s = drsn_unknown_score(row, NUM);
        fwrite(&s, sizeof s, 1, out);
    }
    fclose(in);
    return fclose(out) != 0;
}
"""


def test_margin_calibration_and_risk_coverage() -> None:
    q = np.array([[5, 3, -1], [7, 7, 0], [-128, -128, -128], [127, -128, 0], [-5, 10, 9]], np.int8)
    assert margin(q).tolist() == [2, 0, 0, 127, 1]
    rule = calibrate(q, 0.4, 0.5, 0)
    # margins 0, 0, 1, 2, 127: threshold 1 flags 2 of 5 (0.4), threshold 2 would flag 3
    assert (rule.threshold, rule.rate, rule.windows) == (1, 0.4, 5)
    assert calibrate(q, 0.0, 0.5, 0).threshold == 0  # flags nothing
    # float logits are quantised with the output scale first: (q - zero) * scale comes back exactly
    logits = (q.astype(np.float32) - 3) * np.float32(0.1)
    np.testing.assert_array_equal(UnknownRule(2, 0.1, 3, 0.4, 5).scores(logits), margin(q))
    rows = risk_coverage(np.array([9, 8, 7, 1]), np.array([True, True, False, False]), (1.0, 0.5, 0.75))
    assert [(r["windows"], r["accuracy"]) for r in rows] == [(4, 0.5), (2, 1.0), (3, 2 / 3)]
    block = unknown_result(UnknownRule(2, 1.0, 0, 0.4, 5), q.astype(np.float32), np.array([1, 1, 0, 1, 0], bool))
    assert (block["flagged"], block["flagged_right"], block["flagged_wrong"]) == (0.6, 1 / 3, 1.0)
    assert block["answered_accuracy"] == 1.0 and block["wrong"] == 2


def test_c_score_is_bit_exact_with_python(tmp_path: Path) -> None:
    """drsn_unknown_score on random, tied and extreme int8 logits, under the sanitizers, equals margin()."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    n = 10
    rng = np.random.default_rng(0)
    rows = [rng.integers(-128, 128, (4000, n)), rng.integers(-3, 3, (2000, n)),  # many ties
            np.full((1, n), -128), np.full((1, n), 127), np.eye(n, dtype=int) * 255 - 128]
    q = np.concatenate(rows).astype(np.int8)
    (tmp_path / "driver.c").write_text(DRIVER)
    exe = tmp_path / "driver"
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all", f"-DNUM={n}", f"-I{CSRC}", str(tmp_path / "driver.c"),
                    str(CSRC / "drsn_unknown.c"), "-o", str(exe)], check=True)
    q.tofile(tmp_path / "in.i8")
    subprocess.run([str(exe), str(tmp_path / "in.i8"), str(tmp_path / "out.i32")], check=True)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "out.i32", np.int32), margin(q))


@pytest.mark.parametrize("value, message", [
    (300, "threshold must be an integer 0-255"), (-1, "threshold must be"), (True, "threshold must be"),
    ("5", "threshold must be"), (float("nan"), "threshold must be")])
def test_model_json_threshold_is_validated(cwru_int8_build: Path, tmp_path: Path, value: object,
                                           message: str) -> None:
    build = tmp_path / "build"
    shutil.copytree(cwru_int8_build, build)
    info = json.loads((build / "model.json").read_text())
    info["unknown"]["threshold"] = value
    (build / "model.json").write_text(json.dumps(info))
    with pytest.raises(DrsnError, match=message):
        load_build_info(build)
    proc = subprocess.run([sys.executable, "-m", "drsn_edge.cli", "evaluate", str(build), "--data", "synthetic"],
                          capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_scale_and_rate_are_validated() -> None:
    good = {"threshold": 3, "scale": 0.1, "zero_point": 0, "rate": 0.05, "windows": 10}
    assert UnknownRule.from_dict(good).threshold == 3
    for key, bad in (("scale", float("inf")), ("scale", 0.0), ("zero_point", 200), ("rate", 1.5), ("windows", 0),
                     ("score", "energy")):
        with pytest.raises(DrsnError, match=key.replace("_", " ")):
            UnknownRule.from_dict({**good, key: bad})


def test_every_runtime_flags_the_same_windows(cwru_int8_build: Path, cwru_1hp_dir: Path, tmp_path: Path) -> None:
    """convert's threshold in model.json; evaluate (LiteRT int8), the C engine (its own C score, bit-exact) and
    TFLite Micro flag the 1 HP test windows alike."""
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import evaluate, labels_in_model_order
    from firmware_export.c_engine.check import run_check
    from firmware_export.export import export
    from quantize.runtimes.litert import LiteRTPredictor

    info = load_build_info(cwru_int8_build)
    rule = info.unknown
    assert rule is not None and 0 < rule.threshold <= 255 and rule.rate <= 0.05
    windows = load_windows(f"cwru:{cwru_1hp_dir}", split="test")
    litert = LiteRTPredictor(cwru_int8_build / "model_int8.tflite", info)
    raw = litert.raw_outputs(litert.preprocessing.apply(windows.x))[0]
    flags = margin(raw) < rule.threshold
    right = raw.argmax(1) == labels_in_model_order(windows, info.classes)
    result = evaluate(litert, windows)["unknown"]
    assert result["threshold"] == rule.threshold
    assert result["flagged"] == pytest.approx(flags.mean()) and result["flagged_wrong"] == pytest.approx(
        flags[~right].mean())
    assert result["risk_coverage"][0]["accuracy"] == pytest.approx(right.mean())

    fw = tmp_path / "fw"
    export(cwru_int8_build, "c", fw)
    assert f"#define DRSN_UNKNOWN_THRESHOLD {rule.threshold}\n" in (fw / "drsn_model.h").read_text()
    check = run_check(fw, f"cwru:{cwru_1hp_dir}", progress=False)
    assert check["litert"]["identical_windows"] == len(windows.x)
    assert check["unknown"]["scores_identical"] == len(windows.x)
    assert check["unknown"]["flagged_windows"] == int(flags.sum())
    from firmware_export.c_engine.target import load_fw_info

    fw_info = json.loads((fw / "fw.json").read_text())
    (fw / "fw.json").write_text(json.dumps({**fw_info, "unknown": {**fw_info["unknown"], "threshold": 1e9}}))
    with pytest.raises(DrsnError, match="threshold must be an integer"):
        load_fw_info(fw)

    if importlib.util.find_spec("tflite_micro") is None:
        pytest.skip("tflite_micro is not installed")
    from quantize.runtimes.tflm import TFLMPredictor

    micro = TFLMPredictor(cwru_int8_build / "model_int8.tflite", info)
    micro_flags = micro.unknown.flags(micro.logits(windows.x))
    assert np.mean(micro_flags == flags) >= 0.97  # TFLM's FULLY_CONNECTED may land 1 LSB off LiteRT's


@pytest.mark.parametrize("rate", ["2", "-0.1", "nan"])
def test_convert_refuses_a_bad_rate_before_any_work(cwru_model: Path, tmp_path: Path, rate: str) -> None:
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "drsn_edge.cli", "convert", str(cwru_model), "--out", str(out),
                           "--unknown-rate", rate], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "--unknown-rate must be from 0 to 1" in lines[0], proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".*tmp*"))
