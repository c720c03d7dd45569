"""``drsn-edge monitor --mqtt``: the micro:bit's window lines (the stand-in firmware booted in QEMU, real UART)
published through the Pi runner's own publisher and outbox to a real Mosquitto, same topics and schema."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("paho.mqtt.client")

from drsn_edge.cli import main  # noqa: E402
from firmware_export.boards import get_board  # noqa: E402
from firmware_export.device import qemu  # noqa: E402
from test_microbit import CLASSES, L, standin  # noqa: E402,F401  (the fixture, shared)
from test_mqtt import Broker, Subscriber  # noqa: E402


def test_monitor_publishes_device_lines_like_the_pi_runner(standin: Path, tmp_path: Path,  # noqa: F811
                                                           capsys: pytest.CaptureFixture) -> None:
    broker = Broker(tmp_path)
    sub = Subscriber(broker.port)
    classes = [0, 0, 1, 1, 1, 0, 0]
    recording = tmp_path / "rec.f32"
    np.concatenate([np.full(L, k, "<f4") for k in classes]).tofile(recording)
    try:
        with qemu.booted(get_board("microbit"), standin) as url:
            assert main(["monitor", url, "--send", str(recording), "--speed", "0", "--alert-after", "2",
                         "--mqtt", f"mqtt://127.0.0.1:{broker.port}", "--site", "plant1", "--machine", "fan3",
                         "--outbox", str(tmp_path / "outbox.sqlite")]) == 0
        windows = sub.wait_for("window", len(classes))
        alarms = sub.wait_for("alarm", 2)
        states = sub.wait_for("state", len(classes) + 1)
    finally:
        sub.close()
        broker.stop()
    assert [w["class"] for w in windows] == [CLASSES[k] for k in classes]
    assert [w["window"] for w in windows] == list(range(len(classes)))
    assert {w["schema"] for w in windows} == {"drsn-edge/window/1"}
    assert {(w["site"], w["machine"], w["device"]) for w in windows} == {("plant1", "fan3", "drsn-plant1-fan3")}
    assert all(w["ticks"] > 0 and "wall" in w and len(w["raw"]) == len(CLASSES) for w in windows)
    seqs = [m["seq"] for m in windows + alarms + states]
    assert len(seqs) == len(set(seqs)) and sorted(w["seq"] for w in windows) == [w["seq"] for w in windows]
    # the alarm: 'inner' after two windows of it (window 3), cleared by the next normal window (window 5)
    assert [(a["schema"], a["alarm"]) for a in alarms] == [("drsn-edge/alarm/1", "inner"), ("drsn-edge/alarm/1", None)]
    assert alarms[0]["time"] == pytest.approx(4 * L / 1000.0) and alarms[1]["time"] == pytest.approx(6 * L / 1000.0)
    assert states[-1]["status"] == "offline" and states[-2]["class"] == "normal" and states[-2]["window"] == 6
    assert '"class": "inner"' in capsys.readouterr().out  # the lines still go to stdout as before
