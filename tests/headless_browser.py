"""Open a page in headless Chromium over the DevTools protocol: console errors, images, a screenshot.

Used by the report tests to prove the page works in a real browser. Chromium is
Debian's ``chromium`` package (.ci/run installs it); outside CI a missing
browser skips the test, in CI it fails.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from needs import unavailable

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str:
    """The browser's path; fails in CI (it must be there), skips elsewhere."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    message = "no headless browser found (apt-get install -y --no-install-recommends chromium)"
    unavailable(message)


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)  # console.error, uncaught exceptions, failed loads
    images: list[dict] = field(default_factory=list)  # {src, complete, width, height} per <img>
    screenshot_png: bytes = b""
    title: str = ""


class _Session:
    """One websocket to a page target, commands by id, events collected on the way."""

    def __init__(self, url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float) -> None:
        deadline = time.time() + timeout
        if any(e.get("method") == method for e in self.events):
            return
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(f"no {method} within {timeout} s")


def _devtools_port(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """Chromium prints 'DevTools listening on ws://127.0.0.1:PORT/...' on stderr."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            return int(found.group(1))
    raise RuntimeError("chromium did not start:\n" + "".join(seen[-20:]))


def open_page(path: Path, width: int = 1366, height: int = 900, settle: float = 1.0) -> PageResult:
    """Load ``path`` (a local file) as a user would, then report errors, images and a screenshot."""
    browser = find_browser()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            port = _devtools_port(proc)
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = next(t for t in targets if t.get("type") == "page")
            session = _Session(page["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log"):
                session.call(f"{domain}.enable")
            session.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                         mobile=False)
            session.call("Page.navigate", url=path.resolve().as_uri())
            session.wait_for("Page.loadEventFired", timeout=60)
            time.sleep(settle)
            result = PageResult()
            result.images = session.call("Runtime.evaluate", returnByValue=True, expression=(
                "Array.from(document.images).map(i => ({src: i.src.slice(0, 40), complete: i.complete, "
                "width: i.naturalWidth, height: i.naturalHeight}))"))["result"]["value"]
            result.title = session.call("Runtime.evaluate", expression="document.title",
                                        returnByValue=True)["result"]["value"]
            shot = session.call("Page.captureScreenshot", format="png")
            result.screenshot_png = base64.b64decode(shot["data"])
            session.call("Runtime.evaluate", expression="1")  # drain events that arrived meanwhile
            for event in session.events:
                method, params = event.get("method"), event.get("params", {})
                if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                    result.console_errors.append(" ".join(str(a.get("value", a.get("description")))
                                                          for a in params.get("args", [])))
                elif method == "Runtime.exceptionThrown":
                    result.console_errors.append(params["exceptionDetails"].get("text", "exception"))
                elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                    result.console_errors.append(params["entry"].get("text", "error"))
            session.ws.close()
            return result
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
