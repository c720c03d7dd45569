"""The monitoring firmware on the STM32F405 under QEMU (netduinoplus2, real USART1 and SysTick registers),
`drsn-edge monitor` over its UART on a TCP socket, and the firmware's stream and alarm logic on the host.

Needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and qemu-system-arm (.ci/run installs them); outside CI a
machine without them skips, in CI a missing tool fails.
"""
from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from needs import require_tools
from device_helpers import pi_lines, recording, require_firmware_tools, without_timing

from drsn_edge.cli import main
from drsn_edge.errors import DrsnError
from firmware_export.boards import get_board
from firmware_export.device import image, qemu
from firmware_export.device.link import Link, encode, encode_binary
from firmware_export.monitor import CSRC as MONITOR_CSRC
from firmware_export.pi.bundle import RUNNER



@pytest.fixture(scope="module")
def tools() -> None:
    require_firmware_tools()


@pytest.fixture(scope="module")
def fw(cwru_int8_build: Path, tmp_path_factory: pytest.TempPathFactory, tools: None) -> dict[str, Path]:
    """The CWRU model's C engine export, its Pi bundle and its STM32F405 monitor image."""
    root = tmp_path_factory.mktemp("device")
    assert main(["export", str(cwru_int8_build), "--target", "c", "--out", str(root / "fw")]) == 0
    assert main(["export", str(cwru_int8_build), "--target", "pi", "--out", str(root / "pi")]) == 0
    images = image.build(root / "fw", "stm32f405", root / "img")
    return {"root": root, "fw": root / "fw", "pi": root / "pi", "elf": images["elf"]}


def test_firmware_lines_equal_the_pi_runner(fw: dict[str, Path], cwru_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    """A real CWRU recording over the emulated UART: the same JSON lines as the Pi runner, timing aside."""
    data = recording(cwru_dir, tmp_path / "rec.f32")
    settings = ["--hop", "512", "--smooth", "3", "--alert-after", "2"]
    out = tmp_path / "device.jsonl"
    with qemu.booted(get_board("stm32f405"), fw["elf"]) as url:
        assert main(["monitor", url, "--send", str(data), "--speed", "0", *settings, "--json", str(out),
                     "--quiet"]) == 0
    device = [json.loads(line) for line in out.read_text().splitlines()]
    pi = pi_lines(fw["pi"], data, *settings)
    assert len(device) == len(pi) == 10
    assert without_timing(device) == without_timing(pi)
    assert [line["class"] for line in device][:4] == ["normal"] * 4 and device[-1]["class"] == "IR007"
    assert device[0]["alert"] is None and device[-1]["alert"] == "IR007"
    assert list(device[0])[:5] == list(pi[0])[:5]  # the Pi's field order
    # QEMU -icount shift=0: 1 ns per instruction; the paper-size DRSN-CW takes ~6.7 M instructions (RESULTS 11)
    instructions = [line["latency_ms"] * 1e6 for line in device]
    assert all(2e6 < n < 1.2e7 for n in instructions), instructions
    summary = capsys.readouterr().err
    assert re.search(r"stm32f405 \(\w+, timer systick\): 10 windows, 6656 samples; bad lines 0", summary), summary


def test_garbage_nan_and_long_lines_are_counted_not_fatal(fw: dict[str, Path]) -> None:
    """Garbage, NaN/Inf, overlong lines and binary junk are counted; the firmware keeps classifying."""
    window = np.random.default_rng(0).standard_normal(2048).astype(np.float32)
    junk = b"garbage\nnan\n-inf\n" + b"9" * 200 + b"\n\xff\xfe\x00\x01\n1.5e\n!bogus\n"
    with qemu.booted(get_board("stm32f405"), fw["elf"]) as url, Link(url) as link:
        hello = link.hello()
        assert hello["board"] == "stm32f405" and hello["emulated"] == 1 and hello["timer"] == "systick"
        link.configure(hop=2048, raw=1)
        link.write(junk + "".join(f"{v}\n" for v in window[:1000]).encode() + junk
                   + "".join(f"{v}\n" for v in window[1000:]).encode())
        line = link.read_line()
        status = link.status()
    assert line is not None and line["window"] == 0 and line["time"] == pytest.approx(2048 / 12000, abs=1e-6)
    assert status == {"samples": 2048, "windows": 1, "bad_lines": 10, "non_finite": 4, "overruns": 0,
                      "uart_errors": 0}


def test_binary_blocks_classify_like_text(fw: dict[str, Path]) -> None:
    """A window as a `!bin` block (validate-device's framing) gives the very logits of the same window as text;
    malformed blocks are bad lines, a NaN inside a block is dropped and counted like a text one."""
    window = np.random.default_rng(1).standard_normal(2048).astype(np.float32)
    with qemu.booted(get_board("stm32f405"), fw["elf"]) as url, Link(url) as link:
        assert link.hello()["binary"] == 1
        link.configure(hop=2048, raw=1)
        link.write(encode(window))
        text = link.read_line()
        link.write(b"!bin 0\n!bin 99999999\n!bin x\n" + encode_binary(np.r_[window[:10], np.nan, window[10:]]))
        binary = link.read_line()
        status = link.status()
    assert binary["raw"] == text["raw"] and binary["window"] == 1 and binary["class"] == text["class"]
    assert status == {"samples": 4096, "windows": 2, "bad_lines": 3, "non_finite": 1, "overruns": 0, "uart_errors": 0}


# ----------------------------------------------------------------------------- errors, without a device

def serve(reply: bytes | None) -> tuple[str, socket.socket]:
    """A TCP 'board' that answers every line with ``reply`` (None: never answers)."""
    server = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(4096):
                if reply is not None and b"\n" in data:
                    conn.sendall(reply)

    threading.Thread(target=run, daemon=True).start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}", server


@pytest.mark.parametrize("reply, message", [
    (None, "is not answering (no reply to !hello within 0.5 s)"),
    (b'{"hello": "something-else", "protocol": 1}\n', "wrong firmware"),
])
def test_monitor_says_what_is_wrong(reply: bytes | None, message: str, capsys: pytest.CaptureFixture) -> None:
    url, server = serve(reply)
    with server:
        assert main(["monitor", url, "--timeout", "0.5", "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert main(["monitor", "/dev/drsn-no-such-port", "--quiet"]) == 2
    assert "error: cannot open serial port /dev/drsn-no-such-port" in capsys.readouterr().err


def test_link_refuses_another_model() -> None:
    url, server = serve(b'{"hello": "drsn-edge-monitor", "protocol": 1, "model_id": "aaaaaaaaaaaa"}\n')
    with server, Link(url, timeout=2) as link, pytest.raises(DrsnError, match="runs model aaaaaaaaaaaa"):
        link.hello(model_id="bbbbbbbbbbbb")


# ----------------------------------------------------------------------------- stream and alarm, on the host

HOST_HARNESS = r"""
#include <stdio.h>
#include <math.h>
#include "drsn_decide.h"
#include "drsn_stream.h"
/* stdin: "smooth alert clear normal n k1 .. kn" -> one "smoothed alert onset" line per class;
 * then the ring: capacity 64, window 16, hop 5. */
int main(void)
{
    unsigned smooth, alert, clear, n;
    int normal;
    if (scanf("%u %u %u %d %u", &smooth, &alert, &clear, &normal, &n) != 5) return 2;
    drsn_decider d;
    drsn_decide_reset(&d, smooth, alert, clear, normal);
    for (unsigned i = 0; i < n; i++) {
        int k, a, onset;
        if (scanf("%d", &k) != 1) return 2;
        int s = drsn_decide(&d, k, &a, &onset);
        printf("%d %d %d\n", s, a, onset);
    }
    float x[100], w[DRSN_WINDOW_LENGTH];
    for (int i = 0; i < 100; i++) x[i] = (float)i;
    x[3] = NAN;
    x[7] = INFINITY;
    drsn_stream_reset(5);
    drsn_stream_push(x, 100);           /* 98 finite: 64 fit, 34 overrun */
    unsigned start, windows = 0;
    float first = -1, last = -1;
    while (drsn_stream_window(w, &start)) { windows++; last = w[0]; if (first < 0) first = w[0]; }
    drsn_stream_counts c = drsn_stream_counts_now();
    printf("stream %u %u %u %u %g %g %u\n", c.accepted, c.non_finite, c.overruns, windows, first, last, start);
    return 0;
}
"""


def load_pi_runner():
    """The Pi runner's decision module (smoothing and alarm), from its standalone package beside drsn_runner.py."""
    sys.path.insert(0, str(RUNNER.parent))
    try:
        return importlib.import_module("drsn_runner_lib.decide")
    finally:
        sys.path.remove(str(RUNNER.parent))


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("cc", what="host C compiler", install="gcc libc6-dev")
    root = tmp_path_factory.mktemp("monitor_host")
    (root / "drsn_model.h").write_text("#define DRSN_WINDOW_LENGTH 16\n#define DRSN_NUM_CLASSES 4\n")
    (root / "main.c").write_text(HOST_HARNESS)
    exe = root / "harness"
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                    "-DDRSN_STREAM_CAPACITY=64", f"-I{root}", f"-I{MONITOR_CSRC}", "-o", str(exe), str(root / "main.c"),
                    str(MONITOR_CSRC / "drsn_decide.c"), str(MONITOR_CSRC / "drsn_stream.c"), "-lm"], check=True)
    return exe


@pytest.mark.parametrize("smooth, alert", [(1, 0), (3, 2), (5, 3), (2, 1)])
def test_alarm_semantics_equal_the_pi_runner(host_harness: Path, smooth: int, alert: int) -> None:
    """Random class sequences (normal = 0, runs of faults): the firmware's decider equals the Pi runner's."""
    rng = np.random.default_rng(smooth * 10 + alert)
    classes = np.repeat(rng.integers(0, 4, 60), rng.integers(1, 6, 60))[:200]
    done = subprocess.run([str(host_harness)], input=f"{smooth} {alert} 1 0 {len(classes)} "
                          + " ".join(map(str, classes)), capture_output=True, text=True, check=True)
    got = [tuple(int(v) for v in line.split()) for line in done.stdout.splitlines()[:-1]]
    decider = load_pi_runner().Decider(smooth, alert, 0)
    expected = []
    for k in classes:
        smoothed, fault, onset = decider.update(int(k))
        expected.append((smoothed, -1 if fault is None else fault, int(onset)))
    assert got == expected
    assert sum(onset for *_, onset in got) >= (1 if alert else 0)


def test_alarm_clears_after_m_normal_windows(host_harness: Path) -> None:
    """Hysteresis: raised after 2 windows of fault 2, held through 2 normal windows, cleared at the 3rd."""
    seq = [2, 2, 2, 0, 0, 0, 2]
    done = subprocess.run([str(host_harness)], input=f"1 2 3 0 {len(seq)} " + " ".join(map(str, seq)),
                          capture_output=True, text=True, check=True)
    alerts = [int(line.split()[1]) for line in done.stdout.splitlines()[:-1]]
    assert alerts == [-1, 2, 2, 2, 2, -1, -1]


def test_stream_drops_nan_and_counts_overruns(host_harness: Path) -> None:
    """100 samples into a 64-sample ring: 2 non-finite dropped, 34 overruns; windows of 16 every 5 samples."""
    done = subprocess.run([str(host_harness)], input="1 0 1 0 0", capture_output=True, text=True, check=True)
    accepted, non_finite, overruns, windows, first, last, start = done.stdout.split()[1:]
    assert (int(accepted), int(non_finite), int(overruns)) == (64, 2, 34)
    assert int(windows) == (64 - 16) // 5 + 1 and float(first) == 0.0  # samples 0,1,2,4,5,6,8,...
    assert int(start) == 5 * (int(windows) - 1) and float(last) == 47.0  # ring index 45 (3 and 7 were dropped)
