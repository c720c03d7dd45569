"""Issue 12, the Pi runner's class: hostile streams, options and bundle configs end in one clear line.

Every case runs the bundle's runner in a fresh interpreter, as on the device, and asserts the outcome: exactly one
``drsn-runner: error: ...`` line on stderr, exit code 2, no traceback, nothing on stdout. Windows that become
non-finite after preprocessing are refused and counted; SIGTERM is a stated shutdown with exit code 143.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("ai_edge_litert")

from drsn_edge.data import synthetic  # noqa: E402
from firmware_export.pi import bundle as pi_bundle  # noqa: E402

L = 1024
RATE = 12000.0
RUNNER = pi_bundle.RUNNER.name
ERROR = b"drsn-runner: error: "


@pytest.fixture(scope="module")
def bundle(pi_work: dict[str, Path]) -> Path:
    """The session's tiny Pi bundle (tests/conftest.py): the cases test the runner's edges, not its accuracy."""
    return pi_work["bundle"]


def run(bundle: Path, data: bytes | None, *args: str, **popen: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(bundle / RUNNER), *args], input=data, capture_output=True,
                          timeout=120, **popen)


def assert_one_error(proc: subprocess.CompletedProcess, *expected: str, stdout: bool = True) -> str:
    """Exit 2, no traceback, exactly one line on stderr and it is the runner's ``error:`` line."""
    err = proc.stderr
    assert b"Traceback" not in err, err.decode()
    lines = err.decode().splitlines()
    assert proc.returncode == 2, (proc.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith(ERROR.decode()), lines
    for text in expected:
        assert text in lines[0], (text, lines[0])
    if stdout:
        assert proc.stdout == b""
    return lines[0]


def signal_window(n: int = 1) -> np.ndarray:
    return synthetic.generate(1, window_length=L, seed=3).x[:n].reshape(-1)


# --------------------------------------------------------------------------- WAV headers

def riff(*chunks: bytes, size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if size is None else size) + body


def chunk(cid: bytes, payload: bytes, size: int | None = None) -> bytes:
    return cid + struct.pack("<I", len(payload) if size is None else size) + payload


def fmt(tag: int = 1, channels: int = 1, rate: int = 12000, bits: int = 16) -> bytes:
    align = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, (rate * align) & 0xFFFFFFFF, align & 0xFFFF, bits))


PCM = signal_window().astype("<i2").tobytes()
WAV_CASES = {
    "empty": (b"", "not a WAV file"),
    "riff only": (b"RIFF", "not a WAV file"),
    "rifx": (b"RIFX" + riff(fmt())[4:], "not a WAV file"),
    "no chunks": (riff(), "ends before its data chunk"),
    "half a chunk header": (riff() + b"fmt", "ends before its data chunk"),
    "fmt of 4 bytes": (riff(chunk(b"fmt ", b"\x01\x00\x01\x00"), chunk(b"data", PCM)), "fmt chunk is 4 bytes"),
    "fmt truncated": (riff(chunk(b"fmt ", b"\x01\x00\x01\x00", size=16)), "ends inside its fmt chunk"),
    "fmt claims 4 GiB": (riff(chunk(b"fmt ", b"", size=0xFFFFFFF0)), "fmt chunk claims"),
    "data before fmt": (riff(chunk(b"data", PCM), fmt()), "data chunk comes before its fmt chunk"),
    "zero channels": (riff(fmt(channels=0), chunk(b"data", PCM)), "0 channels"),
    "65535 channels": (riff(fmt(channels=65535), chunk(b"data", PCM)), "65535 channels"),
    "rate 0": (riff(fmt(rate=0), chunk(b"data", PCM)), "sample rate of 0 Hz"),
    "rate 4e9": (riff(fmt(rate=4_000_000_000), chunk(b"data", PCM)), "sample rate of 4e+09 Hz"),
    "rate 1 Hz": (riff(fmt(rate=1), chunk(b"data", PCM)), "can be reached from"),
    "ADPCM": (riff(fmt(tag=2), chunk(b"data", PCM)), "unsupported WAV sample format"),
    "12-bit": (riff(fmt(bits=12), chunk(b"data", PCM)), "unsupported WAV sample format"),
    "0-bit": (riff(fmt(bits=0), chunk(b"data", PCM)), "unsupported WAV sample format"),
    "huge unknown chunk": (riff(fmt(), chunk(b"LIST", b"abc", size=0xFFFFFFF0)), "ends inside a chunk"),
    "unknown chunk cut short": (riff(fmt(), chunk(b"junk", b"", size=100)), "ends inside a chunk"),
}


@pytest.mark.parametrize("name", list(WAV_CASES))
def test_malformed_wav_headers(bundle: Path, name: str) -> None:
    data, expected = WAV_CASES[name]
    assert_one_error(run(bundle, data, "--format", "wav"), expected)


@pytest.mark.parametrize("column, expected", [("5", "has 1 channel(s); --column 5"), ("x", "WAV channel index")])
def test_wav_channel_that_is_not_there(bundle: Path, column: str, expected: str) -> None:
    assert_one_error(run(bundle, riff(fmt(), chunk(b"data", PCM)), "--format", "wav", "--column", column), expected)


# --------------------------------------------------------------------------- options

OPTION_CASES = {
    "rate 0": (["--rate", "0"], "sample rate of 0 Hz"),
    "rate negative": (["--rate=-5"], "sample rate of -5 Hz"),
    "rate NaN": (["--rate", "nan"], "sample rate of nan Hz"),
    "rate inf": (["--rate", "inf"], "sample rate of inf Hz"),
    "rate 1e15": (["--rate", "1e15"], "sample rate of 1e+15 Hz"),
    "rate 1e-9": (["--rate", "1e-9"], "can be reached from 12 to 1.2e+07 Hz only"),
    "rate text": (["--rate", "fast"], "invalid float value"),
    "empty delimiter": (["--format", "csv", "--delimiter", ""], "--delimiter must not be empty"),
    "scale NaN": (["--scale", "nan"], "--scale must be a finite, non-zero number"),
    "scale inf": (["--scale=-inf"], "--scale must be a finite, non-zero number"),
    "scale 0": (["--scale", "0"], "--scale must be a finite, non-zero number"),
    "threads 0": (["--threads", "0"], "--threads must be at least 1"),
    "max windows 0": (["--max-windows", "0"], "--max-windows must be at least 1"),
    "max windows negative": (["--max-windows=-3"], "--max-windows must be at least 1"),
    "hop 0": (["--hop", "0"], "--hop must be at least 1"),
    "smooth 0": (["--smooth", "0"], "--smooth must be at least 1"),
    "negative column": (["--format", "csv", "--column=-1"], "give a column index from 0"),
    "unknown format": (["--format", "mp3"], "invalid choice"),
    "unknown kernels": (["--kernels", "fastest"], "invalid choice"),
    "unknown option": (["--turbo"], "unrecognized arguments"),
    "csv header without the column": (["--format", "csv", "--column", "az"], "no column 'az'"),
}


@pytest.mark.parametrize("name", list(OPTION_CASES))
def test_bad_options(bundle: Path, name: str) -> None:
    args, expected = OPTION_CASES[name]
    assert_one_error(run(bundle, b"ax,ay\n1,2\n", *args), expected)


# --------------------------------------------------------------------------- configs

def edit(config: dict, path: tuple, value: object) -> dict:
    """A copy of ``config`` with ``path`` set to ``value`` (a missing path's last key is deleted for DELETE)."""
    config = json.loads(json.dumps(config))
    target = config
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return config


DELETE = object()
CONFIG_CASES = {
    "fewer classes than outputs": (("classes",), ["normal", "inner"], "has 10 outputs but the config names 2"),
    "more classes than outputs": (("classes",), ["normal", *"abcdefghijk"], "has 10 outputs but the config names 12"),
    "classes a string": (("classes",), "normal", "'classes' must be a list"),
    "classes empty": (("classes",), [], "'classes' must be a list"),
    "classes repeated": (("classes",), ["normal", "a", "a"], "distinct"),
    "class a number": (("classes",), ["normal", 2, 3], "'classes' must be a list"),
    "class empty name": (("classes",), ["normal", ""], "non-empty"),
    "preprocessing a list": (("preprocessing",), [1, 2], "'preprocessing' must be an object"),
    "window length text": (("preprocessing", "window_length"), "1024", "window length is '1024'"),
    "window length 0": (("preprocessing", "window_length"), 0, "window length is 0"),
    "window length 1e12": (("preprocessing", "window_length"), 10 ** 12, "from 1 to 1048576"),
    "window length float": (("preprocessing", "window_length"), 1024.5, "whole number"),
    "window length true": (("preprocessing", "window_length"), True, "whole number"),
    "sample rate NaN": (("preprocessing", "sample_rate"), float("nan"), "sample rate is nan"),
    "sample rate 0": (("preprocessing", "sample_rate"), 0, "sample rate is 0"),
    "sample rate text": (("preprocessing", "sample_rate"), "12k", "sample rate is '12k'"),
    "eps infinite": (("preprocessing", "eps"), float("inf"), "eps is inf"),
    "eps negative": (("preprocessing", "eps"), -1.0, "eps is -1.0"),
    "global std 0": (("preprocessing", "std"), 0.0, "std is 0"),
    "global std NaN": (("preprocessing", "std"), float("nan"), "std is nan"),
    "mean 1e300": (("preprocessing", "mean"), 1e300, "mean is 1e+300"),
    "unknown normalisation": (("preprocessing", "normalisation"), "minmax", "unknown normalisation 'minmax'"),
    "model path escapes": (("model",), "../../etc/passwd", "must be a file name beside the config"),
    "model hidden file": (("model",), ".model.tflite", "must be a file name beside the config"),
    "model a number": (("model",), 7, "must be a file name"),
    "model missing": (("model",), "nope.tflite", "cannot load"),
    "no model key": (("model",), DELETE, "lacks 'model'"),
    "no classes key": (("classes",), DELETE, "lacks 'classes'"),
    "normal class unknown": (("normal_class",), "healthy", "normal class 'healthy' is not one of the classes"),
    "unknown threshold 256": (("unknown", "threshold"), 256, "'unknown' must be"),
    "unknown threshold NaN": (("unknown", "threshold"), float("nan"), "'unknown' must be"),
    "unknown threshold text": (("unknown", "threshold"), "5", "'unknown' must be"),
    "unknown other score": (("unknown", "score"), "energy", "'unknown' must be"),
    "unknown a list": (("unknown",), [5], "'unknown' must be"),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_bad_configs(bundle: Path, tmp_path: Path, name: str) -> None:
    path, value, expected = CONFIG_CASES[name]
    config = json.loads((bundle / "config.json").read_text())
    shutil.copyfile(bundle / config["model"], tmp_path / config["model"])
    (tmp_path / "config.json").write_text(json.dumps(edit(config, path, value)))
    data = signal_window().astype("<f4").tobytes()
    assert_one_error(run(bundle, data, "--format", "float32", "--config", str(tmp_path / "config.json")), expected)


@pytest.mark.parametrize("content, expected", [
    (b"{not json", "is not valid JSON"), (b"[1, 2]", "lacks 'classes'"), (b"\xff\xfe", "is not valid JSON"),
    (None, "cannot read config")])
def test_unreadable_configs(bundle: Path, tmp_path: Path, content: bytes | None, expected: str) -> None:
    if content is not None:
        (tmp_path / "config.json").write_bytes(content)
    assert_one_error(run(bundle, b"", "--config", str(tmp_path / "config.json")), expected)


@pytest.mark.parametrize("model", [b"", b"TFL3" + bytes(100), os.urandom(4096)], ids=["empty", "header", "random"])
def test_damaged_model_files(bundle: Path, tmp_path: Path, model: bytes) -> None:
    config = json.loads((bundle / "config.json").read_text())
    (tmp_path / config["model"]).write_bytes(model)
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert_one_error(run(bundle, b"", "--config", str(tmp_path / "config.json")), "cannot load")


# --------------------------------------------------------------------------- closed and failing streams

def test_closed_stdin(bundle: Path) -> None:
    proc = run(bundle, None, "--format", "text", stdin=None, preexec_fn=lambda: os.close(0))
    assert_one_error(proc, "stdin is closed")


def test_closed_stdout(bundle: Path) -> None:
    proc = subprocess.run([sys.executable, str(bundle / RUNNER), "--format", "text"], input=b"1\n",
                          stdout=None, stderr=subprocess.PIPE, timeout=120, preexec_fn=lambda: os.close(1))
    assert_one_error(proc, "stdout is closed", stdout=False)


def test_full_disk_output(bundle: Path) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, str(bundle / RUNNER), "--format", "float32"],
                              input=signal_window().astype("<f4").tobytes(), stdout=full, stderr=subprocess.PIPE,
                              timeout=120)
    assert_one_error(proc, "cannot write the results: No space left on device", stdout=False)


@pytest.mark.parametrize("where", ["directory", "missing"])
def test_input_that_cannot_be_opened(bundle: Path, tmp_path: Path, where: str) -> None:
    path = tmp_path if where == "directory" else tmp_path / "nope.raw"
    assert_one_error(run(bundle, b"", "--format", "int16", "--input", str(path)), "cannot open")


# --------------------------------------------------------------------------- huge samples

@pytest.mark.parametrize("fmt_name", ["text", "wav64"])
def test_huge_finite_samples_are_refused_not_classified(bundle: Path, fmt_name: str) -> None:
    """±1e308 survives as a sample but its window's mean overflows: refused and counted, never a class."""
    huge = np.where(np.arange(3 * L) % 2, 1e308, -1e308)
    good = signal_window()
    stream = np.concatenate([good, huge, good])  # windows: good, 3 huge, good
    if fmt_name == "text":
        data, args = "\n".join(repr(float(v)) for v in stream).encode(), ["--format", "text"]
    else:
        data, args = riff(fmt(tag=3, bits=64), chunk(b"data", stream.astype("<f8").tobytes())), ["--format", "wav"]
    proc = run(bundle, data, *args)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr and b"RuntimeWarning" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["time"] for r in lines] == pytest.approx([L / RATE, 5 * L / RATE], abs=1e-6)  # first and last only
    err = proc.stderr.decode()
    assert "refused, not classified" in err and "3 non-finite windows" in err and "after 2 window(s)" in err


def test_scale_overflow_is_dropped_or_refused_without_numpy_noise(bundle: Path) -> None:
    """``--scale 1e308``: products beyond float64 become inf (dropped), the rest make non-finite windows (refused)."""
    proc = run(bundle, (10 * signal_window(3)).astype("<f4").tobytes(), "--format", "float32", "--scale", "1e308")
    assert proc.returncode == 0 and b"Warning" not in proc.stderr and b"Traceback" not in proc.stderr
    assert proc.stdout == b"" and b"NaN/Inf sample(s) dropped" in proc.stderr and b"non-finite windows" in proc.stderr


# --------------------------------------------------------------------------- SIGTERM

@pytest.mark.parametrize("windows_first", [0, 2])
def test_sigterm_is_a_stated_shutdown(bundle: Path, windows_first: int) -> None:
    p = subprocess.Popen([sys.executable, str(bundle / RUNNER), "--format", "float32"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if windows_first:
        p.stdin.write(signal_window(windows_first).astype("<f4").tobytes())
        p.stdin.flush()
        got = [json.loads(p.stdout.readline()) for _ in range(windows_first)]
        assert [r["window"] for r in got] == list(range(windows_first))
    else:  # the runner is up and blocked on its input
        _wait_for_sigterm_handler(p)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 143
    err = p.stderr.read().decode()
    p.stdin.close()
    p.stdout.close()
    p.stderr.close()
    assert "Traceback" not in err
    assert err.splitlines() == [f"drsn-runner: stopped by SIGTERM after {windows_first} window(s)"]


def _wait_for_sigterm_handler(p: subprocess.Popen) -> None:
    """Until the runner catches SIGTERM (bit 15 of SigCgt in /proc/PID/status): before that, Python's default
    action ends it, which is not the runner's doing."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = Path(f"/proc/{p.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.02)
    raise AssertionError("the runner never installed its SIGTERM handler")
