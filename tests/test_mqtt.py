"""Issue 16 part 1: the Pi runner reports to a real Mosquitto broker (started here on 127.0.0.1, a free port).

Publish/subscribe and compare with the runner's own JSON lines; the broker stopped mid-stream and restarted with every
window arriving exactly once after de-duplication by (device, seq), in order; the last will on a killed runner; a
wrong password and a TLS failure as one error line; the outbox's drop order; the runner without paho-mqtt.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("ai_edge_litert")
paho = pytest.importorskip("paho.mqtt.client")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
if not os.path.exists(MOSQUITTO):
    pytest.fail("Debian's mosquitto is not installed (see .ci/run)")

from drsn_edge.data.npz import read_npz  # noqa: E402
from firmware_export.pi import bundle as pi_bundle  # noqa: E402

sys.path.insert(0, str(pi_bundle.RUNNER.parent))
from drsn_runner_lib.outbox import Outbox  # noqa: E402

L = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A Mosquitto on 127.0.0.1 with its own config, persistence folder and log, stoppable and restartable."""

    def __init__(self, root: Path, extra: str = "") -> None:
        self.root, self.port = root, free_port()
        (root / "db").mkdir(exist_ok=True)
        self.conf = root / "mosquitto.conf"
        # user root: started as root, mosquitto would switch to user mosquitto, who cannot write the test's folder
        self.conf.write_text(f"user root\nlistener {self.port} 127.0.0.1\npersistence true\n"
                             f"persistence_location {root}/db/\n"
                             f"log_dest file {root}/mosquitto.log\n" + (extra or "allow_anonymous true\n"))
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"mosquitto did not listen: {(self.root / 'mosquitto.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def broker(tmp_path: Path):
    b = Broker(tmp_path)
    yield b
    b.stop()


class Subscriber:
    """A persistent-session QoS 1 subscriber to drsn/#, keeping every message as (topic, payload, retain)."""

    def __init__(self, port: int, client_id: str = "test-subscriber", tls: dict | None = None) -> None:
        self.messages: list[tuple[str, dict, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe("drsn/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def of(self, suffix: str) -> list[dict]:
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith("/" + suffix)]

    def wait_for(self, suffix: str, n: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of(suffix)
            if len({p.get("seq", id(p)) for p in got}) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{len(self.of(suffix))} {suffix} message(s), wanted {n}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def held(pi_work: dict[str, Path]) -> np.ndarray:
    return read_npz(pi_work["held"]).x.astype("<f4")


def runner(pi_work: dict[str, Path], tmp_path: Path, url: str, *args: str, env: dict | None = None) -> list[str]:
    return [sys.executable, str(pi_work["bundle"] / pi_bundle.RUNNER.name), "--format", "float32", "--mqtt", url,
            "--site", "plant1", "--machine", "pump7", "--outbox", str(tmp_path / "outbox.sqlite"), *args]


def dedupe(messages: list[dict]) -> list[dict]:
    seen, out = set(), []
    for m in messages:
        if (m["device"], m["seq"]) not in seen:
            seen.add((m["device"], m["seq"]))
            out.append(m)
    return out


def test_results_and_alarms_reach_the_broker(pi_work: dict[str, Path], held: np.ndarray, broker: Broker,
                                             tmp_path: Path) -> None:
    sub = Subscriber(broker.port)
    x = held[:24]
    proc = subprocess.run(runner(pi_work, tmp_path, f"mqtt://127.0.0.1:{broker.port}", "--alert-after", "1",
                                 "--normal-class", "normal"),
                          input=x.tobytes(), capture_output=True, timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(lines) == 24
    windows = dedupe(sub.wait_for("window", 24))
    assert len(windows) == 24
    for line, msg in zip(lines, windows):
        assert msg["schema"] == "drsn-edge/window/1" and msg["device"] == "drsn-plant1-pump7"
        assert (msg["site"], msg["machine"]) == ("plant1", "pump7")
        assert {k: msg[k] for k in line} == line  # the runner's own line, field for field
    seqs = [m["seq"] for m in windows]
    assert seqs == sorted(seqs)
    # one alarm message per change of the alert field, in order
    changes, current = [], None
    for line in lines:
        if line["alert"] != current:
            current = line["alert"]
            changes.append((line["alert"], line["time"]))
    alarms = dedupe(sub.wait_for("alarm", len(changes)))
    assert [(a["alarm"], a["time"]) for a in alarms] == changes and len(changes) >= 2
    sub.close()
    # a new subscriber gets the retained state: offline after a clean end, with the last class and no drops
    late = Subscriber(broker.port, "late")
    state = late.wait_for("state", 1)[-1]
    late.close()
    assert state["schema"] == "drsn-edge/state/1" and state["status"] == "offline" and state["dropped"] == 0
    online = [s for s in sub.of("state") if s["status"] == "online"]
    assert online[-1]["class"] == lines[-1]["class"] and online[-1]["window"] == 23


def test_broker_restart_mid_stream_loses_nothing(pi_work: dict[str, Path], held: np.ndarray, broker: Broker,
                                                 tmp_path: Path) -> None:
    sub = Subscriber(broker.port)
    p = subprocess.Popen(runner(pi_work, tmp_path, f"mqtt://127.0.0.1:{broker.port}"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def feed(first: int, last: int) -> None:
        p.stdin.write(held[first:last].tobytes())
        p.stdin.flush()
        for _ in range(first, last):
            assert json.loads(p.stdout.readline())["window"] >= first

    feed(0, 10)
    sub.wait_for("window", 10)
    broker.stop()
    feed(10, 25)  # classified while the broker is away: queued in the outbox
    time.sleep(0.3)
    broker.start()
    feed(25, 40)
    p.stdin.close()
    assert p.wait(timeout=60) == 0
    err = p.stderr.read().decode()
    p.stdout.close()
    p.stderr.close()
    assert "Traceback" not in err and "end of stream after 40 window(s)" in err
    arrived = sub.wait_for("window", 40)
    windows = dedupe(arrived)
    assert [m["window"] for m in windows] == list(range(40))  # each exactly once after de-duplication, in order
    assert [m["seq"] for m in windows] == sorted(m["seq"] for m in windows)
    sub.close()


def test_last_will_marks_a_killed_device_offline(pi_work: dict[str, Path], held: np.ndarray, broker: Broker,
                                                 tmp_path: Path) -> None:
    sub = Subscriber(broker.port)
    p = subprocess.Popen(runner(pi_work, tmp_path, f"mqtt://127.0.0.1:{broker.port}"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdin.write(held[:2].tobytes())
    p.stdin.flush()
    sub.wait_for("window", 2)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    deadline = time.monotonic() + 20
    while not [s for s in sub.of("state") if s["status"] == "offline"] and time.monotonic() < deadline:
        time.sleep(0.05)
    will = [s for s in sub.of("state") if s["status"] == "offline"]
    assert will and "seq" not in will[-1] and will[-1]["device"] == "drsn-plant1-pump7"
    p.stdin.close()
    p.stdout.close()
    sub.close()


def test_wrong_password_is_one_error_line(pi_work: dict[str, Path], tmp_path: Path) -> None:
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "passwd"), "drsn", "right"], check=True,
                   capture_output=True)
    os.chmod(tmp_path / "passwd", 0o600)
    b = Broker(tmp_path, f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}\n")
    try:
        proc = subprocess.run(runner(pi_work, tmp_path, f"mqtt://127.0.0.1:{b.port}", "--mqtt-username", "drsn",
                                     "--mqtt-password", "wrong"), input=b"", capture_output=True, timeout=120)
    finally:
        b.stop()
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr.decode()
    assert len(lines) == 1 and lines[0].startswith("drsn-runner: error: MQTT broker 127.0.0.1:")
    assert "refused the connection: Not authorized" in lines[0]


def make_certs(root: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl CLI), in the test's folder."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=root)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=drsn test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt")
    return root / "ca.crt", root / "server.crt", root / "server.key"


def test_tls_verified_and_refused(pi_work: dict[str, Path], held: np.ndarray, tmp_path: Path) -> None:
    ca, cert, key = make_certs(tmp_path)
    b = Broker(tmp_path, f"allow_anonymous true\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
    try:
        url = f"mqtts://127.0.0.1:{b.port}"
        ok = subprocess.run(runner(pi_work, tmp_path, url, "--mqtt-ca", str(ca)), input=held[:2].tobytes(),
                            capture_output=True, timeout=120)
        assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 2, ok.stderr.decode()
        assert b"still in the outbox" not in ok.stderr
        bad = subprocess.run(runner(pi_work, tmp_path, url), input=b"", capture_output=True, timeout=120)
    finally:
        b.stop()
    lines = bad.stderr.decode().splitlines()
    assert bad.returncode == 2 and len(lines) == 1, lines
    assert lines[0].startswith("drsn-runner: error: TLS with MQTT broker 127.0.0.1:")
    assert "CERTIFICATE_VERIFY_FAILED" in lines[0]


def test_runner_without_paho(pi_work: dict[str, Path], held: np.ndarray, tmp_path: Path) -> None:
    """paho-mqtt is needed only with --mqtt: a device without it runs as before."""
    (tmp_path / "paho").mkdir()
    (tmp_path / "paho" / "__init__.py").write_text("raise ImportError('no paho here')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, str(pi_work["bundle"] / pi_bundle.RUNNER.name), "--format", "float32"]
    proc = subprocess.run(cmd, input=held[:1].tobytes(), capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1
    proc = subprocess.run(cmd + ["--mqtt", "mqtt://127.0.0.1:1"], input=b"", capture_output=True, timeout=120,
                          env=env)
    assert proc.returncode == 2 and proc.stderr.decode().splitlines() == [
        "drsn-runner: error: --mqtt needs paho-mqtt (pip install -r requirements.txt)"]


@pytest.mark.parametrize("url, expected", [("http://x", "give mqtt://HOST"), ("mqtt://", "give mqtt://HOST"),
                                           ("mqtt://h:99999", "port is not a number")])
def test_bad_broker_urls(pi_work: dict[str, Path], tmp_path: Path, url: str, expected: str) -> None:
    proc = subprocess.run(runner(pi_work, tmp_path, url), input=b"", capture_output=True, timeout=120)
    lines = proc.stderr.decode().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0] and lines[0].startswith("drsn-runner:")


def test_outbox_drops_windows_first_and_alarms_last(tmp_path: Path) -> None:
    box = Outbox(str(tmp_path / "o.sqlite"), capacity=5)
    kinds = ["alarm", "window", "state", "window", "alarm", "window", "state", "alarm"]
    seqs = [box.put(k, f"t/{k}", {"i": i}) for i, k in enumerate(kinds)]
    assert seqs == list(range(1, 9))
    kept = [(s, json.loads(p)["i"]) for s, _, p, _ in box.peek(10)]
    # 8 into 5: the three windows go first (oldest first), nothing else
    assert [i for _, i in kept] == [0, 2, 4, 6, 7] and box.dropped() == 3
    box.put("alarm", "t/alarm", {"i": 8})  # full of alarms and states: the oldest state goes
    assert [json.loads(p)["i"] for _, _, p, _ in box.peek(10)] == [0, 4, 6, 7, 8] and box.dropped() == 4
    box.remove([1, 5])
    assert len(box) == 3
    box.close()
    again = Outbox(str(tmp_path / "o.sqlite"), capacity=5)  # sequence numbers keep rising across restarts
    assert again.put("window", "t", {}) == 10 and again.dropped() == 4 and len(again) == 4
    again.close()
