"""A fleet of simulated Pi runners reporting to one local Mosquitto: messages/s, end-to-end latency, memory.

The real runner first classifies the CWRU 0 HP test split joined into one stream (its JSON lines are the
fleet's records). Then N device threads in one process each own the runner's real publisher
(``drsn_runner_lib.mqtt.Publisher`` with its own SQLite outbox and client id) and replay those records at
``--rate`` windows/s per device (real time for 2048-sample windows at 12 kHz is 5.9 windows/s), stamping
``wall`` at publish time. One QoS 1 subscriber to ``drsn/+/+/window`` measures what arrives: messages/s
sustained over the run, end-to-end latency percentiles (publish call -> subscriber), and exactly-once after
de-duplication by (device, seq). Memory is the fleet process's RSS before and after the devices start.
Classification is not repeated per device (100 interpreters would measure the CPU, not the reporting path).

    python benchmarks/mqtt_fleet.py [--bundle DIR] [--devices 100] [--rate 10] [--seconds 10]

Without ``--bundle`` it uses (or makes) benchmarks/pi_runner.py's CWRU bundle.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "firmware_export" / "pi" / "runner"))

import paho.mqtt.client as paho  # noqa: E402

from drsn_edge.data.spec import load_windows  # noqa: E402
from drsn_runner_lib.mqtt import BrokerSettings, Publisher  # noqa: E402
from drsn_runner_lib.outbox import Outbox  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "mqtt_fleet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records_of(bundle: Path, data: str) -> list[dict]:
    """The real runner's JSON lines for the CWRU test split as one stream."""
    config = json.loads((bundle / "config.json").read_text())
    test = load_windows(data, split="test", window_length=config["window_length"])
    proc = subprocess.run([sys.executable, str(bundle / "drsn_runner.py"), "--format", "float32", "--smooth", "3",
                           "--alert-after", "3"], input=test.x.reshape(-1).astype("<f4").tobytes(),
                          capture_output=True, check=True)
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


class Receiver:
    def __init__(self, port: int) -> None:
        self.latency: list[float] = []
        self.seen: set[tuple[str, int]] = set()
        self.duplicates = 0
        self.first = self.last = None
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
        self.client.on_connect = lambda c, *_: c.subscribe("drsn/+/+/window", qos=1)
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def on_message(self, client, userdata, msg) -> None:
        now = time.time()
        m = json.loads(msg.payload)
        with self.lock:
            key = (m["device"], m["seq"])
            if key in self.seen:
                self.duplicates += 1
                return
            self.seen.add(key)
            self.latency.append(now - m["wall"])
            self.first = self.first or now
            self.last = now


def device(i: int, port: int, folder: Path, records: list[dict], rate: float, stop: threading.Event,
           sent: list[int], warn) -> None:
    pub = Publisher(BrokerSettings("127.0.0.1", port, False), "bench", f"m{i:03d}", f"drsn-bench-m{i:03d}",
                    Outbox(str(folder / f"outbox_{i}.sqlite")))
    pub.start(warn)
    t0, n = time.monotonic(), 0
    while not stop.is_set():
        record = dict(records[n % len(records)], window=n, wall=time.time())
        pub.window(record)
        n += 1
        sent[i] = n
        delay = t0 + n / rate - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    pub.close(warn)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=f"cwru:{ROOT.parent / 'shared' / 'data' / 'cwru_0hp'}")
    p.add_argument("--bundle", default=str(ROOT / "benchmarks" / "results" / "pi_runner" / "bundle"))
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--rate", type=float, default=10.0, help="windows/s per device")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    bundle = Path(args.bundle)
    if not (bundle / "config.json").exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from pi_runner import make_bundle

        bundle = make_bundle(args.data, bundle.parent)
    records = records_of(bundle, args.data)
    work = Path(tempfile.mkdtemp(prefix="mqtt_fleet_"))
    port = free_port()
    conf = work / "mosquitto.conf"
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        recv = Receiver(port)
        me = psutil.Process()
        rss_before = me.memory_info().rss
        stop, sent = threading.Event(), [0] * args.devices
        warnings: list[str] = []
        threads = [threading.Thread(target=device, args=(i, port, work, records, args.rate, stop, sent,
                                                         lambda kind, msg: warnings.append(msg)))
                   for i in range(args.devices)]
        for t in threads:
            t.start()
        for _ in tqdm(range(int(args.seconds * 10)), desc=f"{args.devices} devices", unit="0.1s"):
            time.sleep(0.1)
        rss_running = me.memory_info().rss
        cpu_broker = psutil.Process(broker.pid).cpu_times()
        stop.set()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 30
        while len(recv.seen) < sum(sent) and time.monotonic() < deadline:
            time.sleep(0.1)
        recv.client.disconnect()
        lat = np.array(recv.latency) * 1000
        span = (recv.last - recv.first) if recv.first else float("nan")
        result = {
            "devices": args.devices, "rate_per_device": args.rate, "seconds": args.seconds,
            "records_from_runner": len(records), "windows_sent": int(sum(sent)),
            "windows_received_unique": len(recv.seen), "duplicates": recv.duplicates,
            "window_messages_per_s": len(recv.seen) / span, "messages_per_s_incl_state": 2 * len(recv.seen) / span,
            "latency_ms": {f"p{q}": float(np.percentile(lat, q)) for q in (50, 90, 99, 99.9)} | {"max": float(lat.max())},
            "rss_mb_before_devices": rss_before / 2 ** 20, "rss_mb_with_devices": rss_running / 2 ** 20,
            "rss_mb_per_device": (rss_running - rss_before) / 2 ** 20 / args.devices,
            "broker_cpu_s": cpu_broker.user + cpu_broker.system, "cpus": os.cpu_count(), "warnings": warnings[:5],
        }
    finally:
        broker.terminate()
        broker.wait()
        shutil.rmtree(work, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"results_{args.devices}dev_{args.rate:g}hz.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"| {args.devices} | {args.rate:g} | {result['window_messages_per_s']:.0f} | "
          f"{result['messages_per_s_incl_state']:.0f} | " + " | ".join(f"{v:.1f}" for v in result["latency_ms"].values())
          + f" | {result['rss_mb_per_device']:.2f} | {result['windows_sent']} / {result['windows_received_unique']} |")


if __name__ == "__main__":
    main()
