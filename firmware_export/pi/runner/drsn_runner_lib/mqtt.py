"""Fleet reporting: results and alarm changes to an MQTT broker (paho-mqtt), through the on-disk outbox.

Topics under ``drsn/<site>/<machine>/``: ``window`` (every result), ``alarm`` (every alarm change) and ``state``
(retained: the device's last state; the broker publishes the last will ``"status": "offline"`` there when the
device vanishes). QoS 1; a sender thread delivers the outbox in sequence order and removes a message only when the
broker has acknowledged it, so nothing is lost while the broker is away and a subscriber de-duplicates by
(device, seq). The payload schema is versioned (``SCHEMA``) and documented in the README.

Nothing here knows about the runner's model: a serial gateway for MCUs can build a Publisher and call
``window``/``alarm`` with its own records.
"""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .messages import RunnerError
from .outbox import Outbox

SCHEMA = 1
BATCH = 50  # messages in flight at once; the outbox keeps their order
CONNECT_TIMEOUT_S = 10.0
FLUSH_TIMEOUT_S = 10.0  # at the end of a stream, how long to wait for the broker to take what is queued


@dataclass
class BrokerSettings:
    """Where and how to connect: from an ``mqtt://`` or ``mqtts://`` URL plus the TLS and login options."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_url(cls, url: str, username: str | None = None, password: str | None = None,
                 ca_file: str | None = None) -> "BrokerSettings":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise RunnerError(f"--mqtt {url!r}: give mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError:
            raise RunnerError(f"--mqtt {url!r}: the port is not a number from 0 to 65535") from None
        user = username or (unquote(parts.username) if parts.username else None)
        word = password or (unquote(parts.password) if parts.password else None)
        return cls(parts.hostname, port, parts.scheme == "mqtts", user, word, ca_file)


def topic_part(name: str, what: str) -> str:
    """A site or machine name as one topic level (no wildcards, separators or control characters)."""
    if not name or any(c in name for c in "/+#") or any(ord(c) < 32 for c in name) or len(name) > 100:
        raise RunnerError(f"{what} {name!r} cannot be an MQTT topic level (no '/', '+', '#'; 1-100 characters)")
    return name


class Publisher:
    """One device's messages to one broker, through ``outbox``."""

    def __init__(self, broker: BrokerSettings, site: str, machine: str, client_id: str, outbox: Outbox) -> None:
        try:
            import paho.mqtt.client as paho
        except ImportError:
            raise RunnerError("--mqtt needs paho-mqtt (pip install -r requirements.txt)") from None
        self.paho = paho
        self.base = f"drsn/{topic_part(site, 'site')}/{topic_part(machine, 'machine')}"
        self.device, self.site, self.machine = client_id, site, machine
        self.outbox = outbox
        self.broker = broker
        self.connected = threading.Event()
        self.refused: str | None = None
        self.stopping = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.max_inflight_messages_set(BATCH)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.2, 2.0)
        if broker.username is not None:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set(ca_certs=broker.ca_file, cert_reqs=ssl.CERT_REQUIRED)
        self.client.will_set(f"{self.base}/state", self._encode(self._head("state") | {"status": "offline"}),
                             qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.connected.clear()
        self.sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)

    # ------------------------------------------------------------------ payloads

    def _head(self, kind: str) -> dict:
        return {"schema": f"drsn-edge/{kind}/{SCHEMA}", "device": self.device, "site": self.site,
                "machine": self.machine}

    @staticmethod
    def _encode(payload: dict) -> str:
        return json.dumps(payload, separators=(",", ":"))

    def window(self, record: dict) -> None:
        """One classified window (the runner's JSON line) and the device state it leaves."""
        self.outbox.put("window", f"{self.base}/window", self._head("window") | record)
        self.state(record, "online")

    def alarm(self, fault: str | None, at: float) -> None:
        """An alarm change: ``fault`` is the class in alarm, or None when the alarm clears."""
        self.outbox.put("alarm", f"{self.base}/alarm",
                        self._head("alarm") | {"alarm": fault, "time": at, "wall": round(time.time(), 3)})

    def state(self, record: dict | None, status: str) -> None:
        """The retained device state: status, the last result (if any), what the outbox dropped and holds."""
        last = {k: record[k] for k in ("class", "confidence", "time", "window", "smoothed", "alert") if k in record} \
            if record else {}
        self.outbox.put("state", f"{self.base}/state", self._head("state") | {
            "status": status, **last, "dropped": self.outbox.dropped(), "queued": len(self.outbox),
            "wall": round(time.time(), 3)}, retain=True)

    # ------------------------------------------------------------------ connection

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            client.disconnect()
        else:
            self.connected.set()

    def start(self, warn) -> None:
        """Connect (refusals and TLS failures are errors; an unreachable broker is not: the outbox waits)."""
        where = f"{self.broker.host}:{self.broker.port}"
        reachable = True
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except ssl.SSLError as exc:
            raise RunnerError(f"TLS with MQTT broker {where} failed: {exc.reason or exc}") from None
        except (socket.gaierror, UnicodeError) as exc:
            raise RunnerError(f"MQTT broker host {self.broker.host!r} cannot be resolved: {exc}") from None
        except OSError as exc:
            reachable = False
            warn("mqtt", f"MQTT broker {where} unreachable ({exc.strerror or exc}); queuing in the outbox")
            self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while reachable and self.refused is None and not self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.refused is not None:
            self.client.loop_stop()
            raise RunnerError(f"MQTT broker {where} refused the connection: {self.refused}")
        self.sender.start()

    def _send_loop(self) -> None:
        """Deliver the outbox in order: a batch in flight, each removed once the broker acknowledged it."""
        while not self.stopping.is_set():
            if not self.connected.wait(0.2):
                continue
            batch = self.outbox.peek(BATCH)
            if not batch:
                time.sleep(0.01)
                continue
            sent = [(seq, self.client.publish(topic, payload, qos=1, retain=retain)) for seq, topic, payload, retain
                    in batch]
            done = []
            for seq, info in sent:
                try:
                    info.wait_for_publish(timeout=5.0)
                except (RuntimeError, ValueError):
                    break
                if not info.is_published():
                    break
                done.append(seq)
            self.outbox.remove(done)

    def close(self, warn) -> None:
        """Mark the device offline, give the broker ``FLUSH_TIMEOUT_S`` to take the queue, then disconnect."""
        self.state(None, "offline")
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while len(self.outbox) and time.monotonic() < deadline:  # a broker that is back within it gets the rest
            time.sleep(0.02)
        self.stopping.set()
        self.sender.join(timeout=6.0)
        left = len(self.outbox)
        if left:
            warn("mqtt", f"{left} message(s) still in the outbox; they are sent on the next start")
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()
