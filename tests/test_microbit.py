"""The monitoring firmware on the Cortex-M0 micro:bit (nRF51822) under QEMU's microbit: real UART0 and TIMER0
registers. The paper-size DRSN-CW does not fit its 16 KB RAM (arena + a float window alone exceed it): the build
says so, by the bytes. A smaller DRSN-CW trained on the real CWRU data with the options the board registry names
(1024-sample windows, one unit per stage, stem stride 4: a few epochs, enough for bit-exactness) runs there:
0 LSB against LiteRT int8 on CWRU test windows, and the same JSON lines as the Pi runner on a real recording.
The stream and alarm logic are checked with a stand-in model (a drsn_classify with a known answer).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from device_helpers import pi_lines, recording, require_firmware_tools, without_timing

from drsn_edge.cli import main
from drsn_edge.errors import DrsnError
from drsn_edge.preprocess import Preprocessing
from firmware_export.boards import copy_support, get_board
from firmware_export.device import image, qemu
from firmware_export.device.link import Link
from firmware_export.monitor import write_sources

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
    require_firmware_tools()
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
    with qemu.booted(get_board("microbit"), standin) as url, Link(url) as link:
        hello = link.hello()
        assert hello["board"] == "microbit" and hello["timer"] == "timer0" and hello["emulated"] == 1
        assert hello["stream_capacity"] == L + L // 16 and hello["core_hz"] == 16_000_000
        link.configure(hop=L, alert=2, raw=1)
        link.write(b"junk\nnan\n")
        lines = []
        for n in range(len(classes)):  # lockstep, a window and its line: the 80-sample ring never overruns
            link.write("".join(f"{v}\n" for v in samples[n * L:(n + 1) * L]).encode())
            lines.append(link.read_line())
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
    with pytest.raises(DrsnError, match=r"does not fit the microbit's RAM: over by [\d,]+ bytes \(its arena takes") as err:
        image.build(fw, "microbit", tmp_path / "img")
    assert "a model trained with `drsn-edge train ... --window-length 1024 --units-per-stage 1" in str(err.value)


# ----------------------------------------------------------------------------- a real model that fits

@pytest.fixture(scope="module")
def small(cwru_small_build: Path, tmp_path_factory: pytest.TempPathFactory, standin: Path) -> dict[str, Path]:
    """The micro:bit-size CWRU model exported as C and as a Pi bundle."""
    root = tmp_path_factory.mktemp("microbit_model")
    for target in ("c", "pi"):
        assert main(["export", str(cwru_small_build), "--target", target, "--out", str(root / target)]) == 0
    return {"fw": root / "c", "pi": root / "pi"}


def test_small_model_on_the_microbit_is_bit_exact_on_cwru(small: dict[str, Path], cwru_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """CWRU test windows over the emulated UART of the Cortex-M0: 0 LSB against LiteRT int8, and it fits."""
    sizes = image.size(image.build(small["fw"], "microbit", tmp_path / "img")["elf"])
    assert sizes["static_ram_bytes"] + sizes["stack_bytes"] <= 16 * 1024 and sizes["flash_bytes"] < 256 * 1024
    out = tmp_path / "validate.json"
    assert main(["validate-device", str(small["fw"]), "--board", "microbit", "--data", f"cwru:{cwru_dir}",
                 "--limit", "8", "--json", str(out), "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["windows"] == 8 and result["litert"]["max_lsb"] == 0 and result["litert"]["identical_windows"] == 8
    timing = result["timing"]
    assert timing["unit"] == "instructions" and timing["timer"] == "timer0" and timing["core_hz"] == 16_000_000
    assert 2e6 < timing["instructions_per_inference"] < 2e7  # ~6.4 M on the M0 (no FPU, no DSP)
    assert "8/8 identical, max 0 LSB" in capsys.readouterr().out


def test_small_model_lines_equal_the_pi_runner(small: dict[str, Path], cwru_dir: Path, tmp_path: Path) -> None:
    """A real CWRU recording streamed to the micro:bit: the Pi runner's JSON lines, timing aside."""
    data = recording(cwru_dir, tmp_path / "rec.f32")
    settings = ["--hop", "512", "--smooth", "3", "--alert-after", "2"]
    out = tmp_path / "device.jsonl"
    elf = image.build(small["fw"], "microbit", tmp_path / "img")["elf"]
    with qemu.booted(get_board("microbit"), elf) as url:
        assert main(["monitor", url, "--send", str(data), "--speed", "0", *settings, "--json", str(out),
                     "--quiet"]) == 0
    device = [json.loads(line) for line in out.read_text().splitlines()]
    pi = pi_lines(small["pi"], data, *settings)
    assert len(device) == len(pi) == (6656 - 1024) // 512 + 1
    assert without_timing(device) == without_timing(pi)
    assert all(len(line["raw"]) == 10 and line["ticks"] > 0 for line in device)
