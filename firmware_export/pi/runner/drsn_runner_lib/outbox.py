"""A bounded on-disk outbox (SQLite, stdlib): messages wait here, in order, until the broker has them.

Every message gets the next sequence number of this outbox (kept on disk, so it keeps rising across restarts);
subscribers de-duplicate by (device, seq), since a message whose acknowledgement was lost is sent again. When the
outbox is full, the oldest message of the least important kind goes first: window results, then state, then
alarm changes. Drops are counted on disk and reported by :meth:`Outbox.dropped`.
"""
from __future__ import annotations

import json
import sqlite3
import threading

KINDS = ("window", "state", "alarm")  # drop order when full: the first kind goes first
DEFAULT_CAPACITY = 10000  # messages; about 3 h of one-second windows with state, a few MB on disk


class Outbox:
    """Messages (kind, topic, JSON payload with ``seq``, retain flag) in sequence order, bounded by ``capacity``."""

    def __init__(self, path: str, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("outbox capacity must be at least 1")
        self.capacity = capacity
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                        "topic TEXT NOT NULL, payload TEXT NOT NULL, retain INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self.db.execute("INSERT OR IGNORE INTO counters VALUES ('next_seq', 1), ('dropped', 0)")

    def _counter(self, name: str) -> int:
        return self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def put(self, kind: str, topic: str, payload: dict, retain: bool = False) -> int:
        """Queue one message; its payload gains ``seq``. Returns the sequence number."""
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}")
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._counter("next_seq")
                body = json.dumps({**payload, "seq": seq}, separators=(",", ":"))
                self.db.execute("UPDATE counters SET value = value + 1 WHERE name = 'next_seq'")
                self.db.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", (seq, kind, topic, body, int(retain)))
                excess = self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] - self.capacity
                for _ in range(max(0, excess)):
                    self._drop_one()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return seq

    def _drop_one(self) -> None:
        """Delete the oldest message of the least important kind present."""
        for kind in KINDS:
            row = self.db.execute("SELECT seq FROM messages WHERE kind = ? ORDER BY seq LIMIT 1", (kind,)).fetchone()
            if row:
                self.db.execute("DELETE FROM messages WHERE seq = ?", row)
                self.db.execute("UPDATE counters SET value = value + 1 WHERE name = 'dropped'")
                return

    def peek(self, n: int) -> list[tuple[int, str, str, bool]]:
        """The oldest ``n`` messages as (seq, topic, payload, retain), without removing them."""
        with self.lock:
            rows = self.db.execute("SELECT seq, topic, payload, retain FROM messages ORDER BY seq LIMIT ?",
                                   (n,)).fetchall()
        return [(seq, topic, payload, bool(retain)) for seq, topic, payload, retain in rows]

    def remove(self, seqs: list[int]) -> None:
        """Forget messages the broker has acknowledged."""
        with self.lock:
            self.db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in seqs])

    def __len__(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def dropped(self) -> int:
        with self.lock:
            return self._counter("dropped")

    def close(self) -> None:
        with self.lock:
            self.db.close()
