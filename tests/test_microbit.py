"""The monitoring firmware on the Cortex-M0 micro:bit (nRF51822) under QEMU's microbit: real UART0 and TIMER0
registers. The paper-size DRSN-CW does not fit its 16 KB RAM (arena + a float window alone exceed it), so
the board is run with a stand-in model (a drsn_classify with a known answer); the fit refusal is checked on
the real export.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.cli import main
from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing
from firmware_export.boards import copy_support
from firmware_export.device import image, qemu
from firmware_export.boards import get_board
from firmware_export.device.link import Link
from firmware_export.monitor import write_sources
from needs import require_tools

L, CLASSES = 64, ("normal", "inner", "outer", "ball")
# class = the window's first sample (0..3), logits = (k == class) * 100 - sample sums kept small
STANDIN_H = f"""#include <stdint.h>
#define DRSN_WINDOW_LENGTH {L}
#define DRSN_NUM_CLASSES {len(CLASSES)}
#define DRSN_OUTPUT_SCALE 0.0625f
#define DRSN_OUTPUT_ZERO_POINT -10
extern const char *const drsn_class_names[DRSN_NUM_CLASSES];
int drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES]);
"""
STANDIN_C = """#include "drsn_model.h"
const char *const drsn_class_names[DRSN_NUM_CLASSES] = {"normal", "inner", "outer", "ball"};
int drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES])
{
    int k = (int)window[0] & 3;
    for (int i = 0; i < DRSN_NUM_CLASSES; i++) logits[i] = (int8_t)(i == k ? 100 : -50 + i);
    return k;
}
"""


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("qemu-system-arm", *image.TOOLS, what="firmware tools")
    fw = tmp_path_factory.mktemp("microbit") / "fw"
    fw.mkdir()
    copy_support(fw)
    write_sources(fw, "standin", list(CLASSES), 1000.0, b"standin")
    (fw / "drsn_model.h").write_text(STANDIN_H)
    (fw / "drsn_standin.c").write_text(STANDIN_C)
    pre = Preprocessing(window_length=L, sample_rate=1000.0).to_dict()  # fw.json as complete as an export's
    (fw / "fw.json").write_text(json.dumps({
        "format": "drsn-edge-c-engine", "name": "standin", "classes": list(CLASSES), "window_length": L,
        "num_classes": len(CLASSES), "preprocessing": pre, "model": "model_int8.tflite",
        "input": {"scale": 0.1, "zero_point": 0}, "output": {"scale": 0.1, "zero_point": -10},
        "arena_bytes": 0, "arena_lower_bound": 0}))
    return image.build(fw, "microbit", fw / "img")["elf"]


def test_microbit_streams_classifies_and_alarms(standin: Path) -> None:
    classes = [0, 0, 1, 1, 1, 0]  # one window each (hop = window)
    samples = np.concatenate([np.full(L, k, np.float32) for k in classes])
    with qemu.booted(get_board("microbit"), standin) as url, Link(url, timeout=60) as link:
        hello = link.hello()
        assert hello["board"] == "microbit" and hello["timer"] == "timer0" and hello["emulated"] == 1
        assert hello["stream_capacity"] == L + L // 4 and hello["core_hz"] == 16_000_000
        link.configure(hop=L, alert=2, raw=1)
        link.write(b"junk\nnan\n" + "".join(f"{v}\n" for v in samples).encode())
        lines = [link.read_line() for _ in classes]
        status = link.status()
    assert [line["class"] for line in lines] == [CLASSES[k] for k in classes]
    assert [line["alert"] for line in lines] == [None, None, None, "inner", "inner", None]
    assert lines[2]["raw"] == [-50, 100, -48, -47] and [line["window"] for line in lines] == list(range(6))
    logits = (np.array(lines[2]["raw"], np.float32) + 10) * np.float32(0.0625)  # numpy's float32 softmax
    p = np.exp(logits - logits.max())
    assert lines[2]["confidence"] == round(float((p / p.sum())[1]), 4) == 0.9997
    assert lines[0]["time"] == pytest.approx(L / 1000.0)
    assert all(line["ticks"] > 0 for line in lines)  # TIMER0 at 16 MHz of QEMU's virtual clock
    assert status == {"samples": len(samples), "windows": 6, "bad_lines": 1, "non_finite": 1, "overruns": 0,
                      "uart_errors": 0}


def test_paper_size_model_does_not_fit_the_microbit(cwru_int8_build: Path, tmp_path: Path, standin: Path) -> None:
    """16 KB RAM: the arena (12.3 KB) and one float window (8 KB) alone exceed it; the build says by how much."""
    fw = tmp_path / "fw"
    assert main(["export", str(cwru_int8_build), "--target", "c", "--out", str(fw)]) == 0
    with pytest.raises(DrsnError, match=r"does not fit the microbit's RAM: over by [\d,]+ bytes \(its arena takes"):
        image.build(fw, "microbit", tmp_path / "img")
