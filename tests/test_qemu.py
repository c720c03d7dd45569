"""The C engine on an emulated Cortex-M4F (QEMU mps2-an386): bare-metal start-up, semihosting I/O,
instruction counting, and int8 logits identical to LiteRT's reference kernels.

Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (.ci/run installs them). Outside
CI a machine without them skips; in CI (CI=true) a missing tool is a failure.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.errors import DrsnError
from firmware_export.boards import copy_support
from firmware_export.boards.mps2_an386.runner import (PACKAGES, build_image, image_size, launcher, missing_tools,
                                                      parse_icount)
from firmware_export.c_engine.runner import CEnginePredictor
from firmware_export.c_engine.sources import CSRC, UNKNOWN
from firmware_export.c_engine.target import load_fw_info
from needs import unavailable


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    missing = missing_tools()
    if missing:
        unavailable(f"QEMU runner tools missing: {', '.join(missing)} (apt-get install {PACKAGES})")


# A stand-in model for the bare-metal pieces alone (start-up, files, exit status, timer): the real
# harness drsn_main.c around a drsn_classify that sums the window and spins LOOP times around a
# two-instruction loop (subs + bne), so its instruction count is known.
STANDIN_H = """#include <stdint.h>
#define DRSN_WINDOW_LENGTH 16
#define DRSN_NUM_CLASSES 4
int drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES]);
"""
STANDIN_C = """#include "drsn_model.h"
int drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES])
{
    float sum = 0.0f;
    for (int i = 0; i < DRSN_WINDOW_LENGTH; i++) sum += window[i];
    for (int k = 0; k < DRSN_NUM_CLASSES; k++) logits[k] = (int8_t)(sum * (float)(k + 1));
    unsigned n = LOOP;
    __asm volatile("1: subs %0, %0, #1\\n\\tbne 1b" : "+r"(n));
    return 0;
}
"""


def standin(tmp: Path, loop: int) -> Path:
    fw = tmp / f"standin_{loop}"
    fw.mkdir()
    copy_support(fw)
    for name in ("drsn_main.c", *UNKNOWN):  # the harness writes each window's unknown score when asked
        shutil.copyfile(CSRC / name, fw / name)
    (fw / "drsn_model.h").write_text(STANDIN_H)
    (fw / "drsn_model.c").write_text(STANDIN_C.replace("LOOP", str(loop)))
    return fw


def run(fw: Path, elf: Path, windows: np.ndarray, tmp: Path) -> tuple[subprocess.CompletedProcess, bytes]:
    inp, out, log = tmp / "in.f32", tmp / "out.i8", tmp / "log.txt"
    np.asarray(windows, "<f4").tofile(inp)
    out.unlink(missing_ok=True)
    done = subprocess.run(["bash", str(launcher(fw)), "--log", str(log), str(elf), str(inp), str(out)],
                          capture_output=True, text=True, timeout=120)
    return done, out.read_bytes() if out.is_file() else b""


def test_bare_metal_io_exit_status_and_instruction_count(tmp_path: Path) -> None:
    windows = (np.arange(48).reshape(3, 16) * 0.05 + 0.01).astype(np.float32)  # sums x 4 stay below 128
    counts = {}
    for loop in (1_000, 101_000):
        fw = standin(tmp_path, loop)
        elf = build_image(fw, tmp_path / f"build_{loop}")
        done, logits = run(fw, elf, windows, tmp_path)
        assert done.returncode == 0, done.stderr
        sums = windows.sum(axis=1)
        expected = [int(s * (k + 1)) for s in sums.astype(np.float64) for k in range(4)]
        assert np.frombuffer(logits, np.int8).tolist() == expected
        assert "drsn_main: 3 windows, 0 invalid" in done.stdout
        counts[loop] = parse_icount(done.stderr)
        assert counts[loop]["calls"] == 3 and counts[loop]["resolution_instructions"] == 40
    # 100,000 more loop iterations of two instructions: exactly 200,000 more instructions per call,
    # up to one timer tick (40 instructions) at each end of both measurements
    extra = counts[101_000]["instructions_per_inference"] - counts[1_000]["instructions_per_inference"]
    assert abs(extra - 200_000) <= 80
    assert 2_000 <= counts[1_000]["instructions_min"] <= counts[1_000]["instructions_max"] < 2_600
    size = image_size(elf)
    assert size["flash_bytes"] == size["text"] + size["data"] and 0 < size["flash_bytes"] < 100_000


def test_failures_keep_the_harness_status(tmp_path: Path) -> None:
    fw = standin(tmp_path, 10)
    elf = build_image(fw, tmp_path / "build")
    done = subprocess.run(["bash", str(launcher(fw)), str(elf), str(tmp_path / "missing.f32"),
                           str(tmp_path / "out.i8")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and not (tmp_path / "out.i8").exists()
    (fw / "drsn_model.c").write_text("int broken(void) { return }\n")
    with pytest.raises(DrsnError, match="Cortex-M4 build failed"):
        build_image(fw, tmp_path / "build_broken")


def test_engine_on_qemu_matches_litert_int8(cwru_int8_build: Path, cwru_dir: Path, tmp_path: Path) -> None:
    from drsn_edge.cli import main
    from firmware_export.c_engine.check import check_table, run_check
    from drsn_edge.buildinfo import load_build_info

    fw = tmp_path / "fw"
    assert main(["export", str(cwru_int8_build), "--target", "c", "--out", str(fw)]) == 0
    result = run_check(fw, f"cwru:{cwru_dir}", limit=6, runner="qemu", progress=False)
    assert result["windows"] == 6
    assert result["litert"]["identical_windows"] == 6 and result["litert"]["max_lsb"] == 0
    device = result["device"]
    macs = load_build_info(cwru_int8_build).extra["macs"]
    assert device["calls"] == 6
    assert macs < device["instructions_min"] <= device["instructions_per_inference"] <= device["instructions_max"]
    # the int8 kernels do not branch on the data much: every window costs about the same
    assert device["instructions_max"] - device["instructions_min"] < 0.01 * device["instructions_per_inference"]
    assert 0 < device["static_ram_bytes"] < 64_000 and device["flash_bytes"] > 20_000
    assert "instructions per inference" in check_table(result)


def test_profile_mode_splits_the_instructions_by_op(cwru_int8_build: Path, cwru_dir: Path, tmp_path: Path) -> None:
    from drsn_edge.cli import main

    fw = tmp_path / "fw"
    assert main(["export", str(cwru_int8_build), "--target", "c", "--out", str(fw)]) == 0
    out = tmp_path / "run.json"
    assert main(["run", str(fw), "--runner", "qemu", "--data", f"cwru:{cwru_dir}", "--limit", "2", "--no-tflm",
                 "--profile", "--quiet", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["litert"]["max_lsb"] == 0
    device = result["device"]
    profile = device["profile"]
    assert {"CONV_2D", "preprocessing"} <= set(profile)
    assert profile["CONV_2D"]["steps"] == load_fw_info(fw)["ops"]["CONV_2D"]
    # every instruction of an inference but the final argmax lies in some step (each timed to 40 instructions)
    timed = sum(row["instructions_per_inference"] for row in profile.values())
    assert 0.995 * device["instructions_per_inference"] <= timed <= device["instructions_per_inference"]
    with pytest.raises(DrsnError, match="cannot profile"):
        CEnginePredictor(fw, "host", profile=True)
