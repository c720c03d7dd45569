"""Raspberry Pi target: bundle, standalone runner (against drsn-edge evaluate, bit for bit), deploy over SSH.

One small DRSN-CW (1024-sample windows, one unit per stage) is trained on
synthetic data and converted once for the module. The deploy test starts a real
OpenSSH server on 127.0.0.1 with a throwaway key; its sessions get the test's
own site-packages on PYTHONPATH, standing in for a device that has numpy and
ai-edge-litert installed system-wide, so the deploy can skip `pip install`.
"""
from __future__ import annotations

import getpass
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import wave
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from drsn_edge.cli import main  # noqa: E402
from drsn_edge.data import synthetic  # noqa: E402
from drsn_edge.data.npz import read_npz  # noqa: E402
from firmware_export.pi import bundle as pi_bundle  # noqa: E402
from firmware_export.pi import deploy as pi_deploy  # noqa: E402

pytest.importorskip("ai_edge_litert")

from quantize.runtimes.base import quantize_input  # noqa: E402
from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from drsn_edge.buildinfo import load_build_info  # noqa: E402

L = 1024
RATE = 12000.0
RUNNER = pi_bundle.RUNNER
sys.path.insert(0, str(RUNNER.parent))  # the runner as the device sees it: its package beside the entry script

from drsn_runner_lib.decide import Decider  # noqa: E402
from drsn_runner_lib.model import Model  # noqa: E402
from drsn_runner_lib.preprocessing import preprocess  # noqa: E402
from drsn_runner_lib.resample import Resampler  # noqa: E402
from needs import unavailable


@pytest.fixture(scope="module")
def work(pi_work: dict[str, Path]) -> dict[str, Path]:
    """The session's tiny Pi bundle (tests/conftest.py), shared with tests/test_hostile_pi.py."""
    return pi_work


def run_runner(bundle: Path, data: bytes, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The bundle's copy of the runner in a fresh interpreter, as on the device."""
    return subprocess.run([sys.executable, str(bundle / RUNNER.name), *args], input=data, capture_output=True,
                          timeout=timeout)


def records(proc: subprocess.CompletedProcess) -> list[dict]:
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


# --------------------------------------------------------------------------- bundle

def test_export_writes_bundle_and_archive(work: dict[str, Path]) -> None:
    bundle, info = work["bundle"], load_build_info(work["build"])
    # the session's bundle is shared: other tests' runs may have left the runner's own outbox in it
    names = {p.name for p in bundle.iterdir()} - {"outbox.sqlite"}
    assert names == {"model_int8.tflite", "config.json", "drsn_runner.py", "drsn_runner_lib", "requirements.txt",
                     "drsn-runner.service", "drsn-runner.env", "README.md"}
    assert (bundle / "drsn_runner.py").read_bytes() == RUNNER.read_bytes()  # copied, not generated
    package = pi_bundle.RUNNER_PACKAGE
    modules = {p.name: p.read_bytes() for p in package.glob("*.py")}
    assert {p.name: p.read_bytes() for p in (bundle / package.name).glob("*.py")} == modules and "cli.py" in modules
    assert (bundle / "model_int8.tflite").read_bytes() == (work["build"] / "model_int8.tflite").read_bytes()
    config = json.loads((bundle / "config.json").read_text())
    assert config["classes"] == info.classes and config["window_length"] == L and config["normal_class"] == "normal"
    assert config["preprocessing"] == info.preprocessing.to_dict()
    unit = (bundle / "drsn-runner.service").read_text()
    assert 'ExecStart="/opt/drsn-edge/venv/bin/python" "/opt/drsn-edge/drsn_runner.py"' in unit and "@" not in unit
    assert "ai-edge-litert==2.3.0" in (bundle / "requirements.txt").read_text()
    with tarfile.open(work["root"] / "bundle.tar.gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"bundle"} | {f"bundle/{n}" for n in names | {f"{package.name}/{m}" for m in modules}}
        assert tar.extractfile("bundle/config.json").read() == (bundle / "config.json").read_bytes()
    assert not list(work["root"].glob(".*tmp*"))


def test_export_refuses_existing_bundle_and_non_builds(work: dict[str, Path], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "drsn_edge.cli", "export", str(work["build"]), "--target", "pi",
                           "--out", str(work["bundle"])], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "exists" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "drsn_edge.cli", "export", str(tmp_path), "--target", "pi",
                           "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a drsn-edge build directory" in proc.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.tar.gz").exists()


# --------------------------------------------------------------------------- runner = evaluate

def test_runner_preprocessing_and_quantisation_are_bit_exact(work: dict[str, Path]) -> None:
    """What the runner feeds the interpreter equals drsn_edge.int8_input (the integer int8 input), window by
    window; int16 samples give drsn_classify_i16's bytes; the float preprocessing copy equals apply."""
    from drsn_edge.int8_input import Int8Input
    from drsn_edge.preprocess import Preprocessing

    info = load_build_info(work["build"])
    x = read_npz(work["held"]).x
    config = json.loads((work["bundle"] / "config.json").read_text())
    model = Model(config, str(work["bundle"] / config["model"]), reference=True, threads=None)
    scale, zero = model.input["quantization"]
    spec = Int8Input(info.preprocessing, float(scale), int(zero))
    got = np.stack([model.input_tensor(row.astype(np.float64)).reshape(-1) for row in x])
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, spec.from_float(x))
    old = quantize_input(info.preprocessing.apply(x), scale, zero, np.int8).astype(int)
    assert np.abs(got.astype(int) - old).max() <= 1  # within 1 LSB of the float definition
    adc = (np.random.default_rng(0).standard_normal(x.shape) * 900 + 2048).astype(np.int16)  # a WAV's samples
    got = np.stack([model.input_tensor(row.astype(np.float64)).reshape(-1) for row in adc])
    np.testing.assert_array_equal(got, spec.from_int16(adc))
    assert model.input_tensor(np.full(x.shape[1], 1e300)) is None  # beyond float32: refused
    np.testing.assert_array_equal(preprocess(x, config["preprocessing"]), info.preprocessing.apply(x))
    # a global normalisation too
    pre = {**config["preprocessing"], "normalisation": "global", "mean": 0.5, "std": 3.0}
    np.testing.assert_array_equal(preprocess(x, pre), Preprocessing.from_dict(pre).apply(x))


def test_runner_predictions_equal_evaluate(work: dict[str, Path], tmp_path: Path) -> None:
    """The held-out windows as one float32 stream: same int8 outputs, classes and confusion as `drsn-edge evaluate`."""
    held = read_npz(work["held"])
    result = tmp_path / "eval.json"
    assert main(["evaluate", str(work["build"]), "--data", f"npz:{work['held']}", "--json", str(result)]) == 0
    evaluated = json.loads(result.read_text())

    lines = records(run_runner(work["bundle"], held.x.astype("<f4").tobytes(), "--format", "float32", "--raw"))
    assert len(lines) == len(held.x)
    classes = load_build_info(work["build"]).classes
    predicted = np.array([classes.index(r.get("best", r["class"])) for r in lines])  # "unknown" keeps its best
    reference = LiteRTPredictor(work["build"] / "model_int8.tflite", load_build_info(work["build"]))
    np.testing.assert_array_equal(np.array([r["raw"] for r in lines]),
                                  reference.raw_outputs(reference.network_input(held.x))[0])
    np.testing.assert_array_equal(predicted, reference.predict(held.x))
    assert len(set(predicted.tolist())) >= 3, "the model should not answer one class for everything"
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (held.y, predicted), 1)
    assert confusion.tolist() == evaluated["confusion"]
    assert [r["window"] for r in lines] == list(range(len(held.x)))
    np.testing.assert_allclose([r["time"] for r in lines], (np.arange(len(held.x)) + 1) * L / RATE, atol=1e-6)
    assert all(0 < r["confidence"] <= 1 and r["latency_ms"] > 0 for r in lines)


def test_runner_says_unknown_like_evaluate(work: dict[str, Path]) -> None:
    """Every line has the int8 margin ``score``; below the threshold convert calibrated, the class is "unknown"
    (``best`` keeps the model's answer), on exactly the windows `evaluate`'s rule flags."""
    from drsn_edge.unknown import margin

    held = read_npz(work["held"])
    info = load_build_info(work["build"])
    config = json.loads((work["bundle"] / "config.json").read_text())
    assert config["unknown"] == {"score": "margin", "threshold": info.unknown.threshold}
    lines = records(run_runner(work["bundle"], held.x.astype("<f4").tobytes(), "--format", "float32", "--raw"))
    raw = np.array([r["raw"] for r in lines])
    assert [r["score"] for r in lines] == margin(raw).tolist()
    reference = LiteRTPredictor(work["build"] / "model_int8.tflite", info)
    flags = info.unknown.flags(reference.logits(held.x))
    assert [r["class"] == "unknown" for r in lines] == flags.tolist()
    assert all(r["best"] == info.classes[int(np.argmax(r["raw"]))] for r in lines if r["class"] == "unknown")
    assert all("best" not in r for r in lines if r["class"] != "unknown")


def test_runner_reads_every_format_alike(work: dict[str, Path], tmp_path: Path) -> None:
    """int16-valued samples as text, CSV (by header name), raw int16, float32 and WAV give identical outputs."""
    x = np.round(read_npz(work["held"]).x[:4].reshape(-1) * 1000).astype(np.int16)
    text = "\n".join(str(int(v)) for v in x).encode()
    csv = ("t,ax,az\n" + "\n".join(f"{i},0.5,{int(v)}" for i, v in enumerate(x))).encode()
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(int(RATE))
        w.writeframes(np.stack([np.zeros_like(x), x], axis=1).astype("<i2").tobytes())
    outputs = {
        "text": records(run_runner(work["bundle"], text, "--format", "text", "--raw")),
        "csv": records(run_runner(work["bundle"], csv, "--format", "csv", "--column", "az", "--raw")),
        "int16": records(run_runner(work["bundle"], x.astype("<i2").tobytes(), "--format", "int16", "--raw")),
        "float32": records(run_runner(work["bundle"], x.astype("<f4").tobytes(), "--format", "float32", "--raw")),
        "wav": records(run_runner(work["bundle"], wav.getvalue(), "--format", "wav", "--column", "1", "--raw")),
    }
    first = [r["raw"] for r in outputs["text"]]
    assert len(first) == 4
    for name, recs in outputs.items():
        assert [r["raw"] for r in recs] == first, name


def test_runner_hop_smoothing_and_alert(work: dict[str, Path]) -> None:
    x = read_npz(work["held"]).x[:3].reshape(-1)
    lines = records(run_runner(work["bundle"], x.astype("<f4").tobytes(), "--format", "float32", "--hop", "256",
                               "--smooth", "3", "--alert-after", "2"))
    assert len(lines) == (len(x) - L) // 256 + 1
    assert all("smoothed" in r and "alert" in r for r in lines)

    decider = Decider(k=3, alert_after=2, normal=0)
    steps = [decider.update(k) for k in (0, 4, 4, 0, 4, 4, 0, 0, 0)]
    assert [s[0] for s in steps] == [0, 4, 4, 4, 4, 4, 4, 0, 0]  # majority of the last three, ties to the newest
    assert [s[1] for s in steps] == [None, None, 4, 4, 4, 4, 4, None, None]
    assert [s[2] for s in steps].count(True) == 1


def test_runner_resamples_a_stream_at_another_rate(work: dict[str, Path]) -> None:
    """Four windows' worth of signal sent at 48 kHz come out as (all but the filter's tail of) four windows."""
    x = read_npz(work["held"]).x[:4].reshape(-1).astype(np.float64)
    fast = Resampler(RATE, 48000.0).process(np.concatenate([x, np.zeros(200)]))
    lines = records(run_runner(work["bundle"], fast.astype("<f4").tobytes(), "--format", "float32",
                               "--rate", "48000"))
    assert len(lines) == 4
    np.testing.assert_allclose([r["time"] for r in lines], np.arange(1, 5) * L / RATE, atol=1e-6)


def test_runner_survives_bad_input(work: dict[str, Path]) -> None:
    x = read_npz(work["held"]).x[:2].reshape(-1)
    lines = [repr(float(v)) for v in x]
    lines[10:10] = ["garbage", "nan", "", "1e999", "3,4"]
    proc = run_runner(work["bundle"], "\n".join(lines).encode(), "--format", "text")
    assert len(records(proc)) == 2
    err = proc.stderr.decode()
    assert "cannot read a number from 'garbage'" in err and "NaN/Inf" in err and "end of stream after 2" in err

    # a stream that ends inside a sample, and a stream shorter than a window
    proc = run_runner(work["bundle"], x.astype("<f4").tobytes()[:-3], "--format", "float32")
    assert len(records(proc)) == 1 and b"1 stray byte(s)" in proc.stderr  # 3 bytes short: 1 left over
    proc = run_runner(work["bundle"], b"1\n2\n", "--format", "text")
    assert records(proc) == [] and b"after 0 window(s)" in proc.stderr

    # the reader of our output goes away: a quiet end, no traceback
    long = np.tile(x, 20).astype("<f4").tobytes()
    p = subprocess.Popen([sys.executable, str(work["bundle"] / RUNNER.name), "--format", "float32", "--hop", "64"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(long[:L * 4])
    p.stdin.flush()
    assert json.loads(p.stdout.readline())["window"] == 0
    p.stdout.close()
    try:
        p.stdin.write(long[L * 4:])
        p.stdin.close()
    except BrokenPipeError:
        pass
    assert p.wait(timeout=60) == 0
    err = p.stderr.read().decode()
    assert "Traceback" not in err and "output closed" in err

    # user errors: one line, exit 2
    proc = run_runner(work["bundle"], b"", "--config", str(work["root"] / "nope.json"))
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1 and "error: cannot read config" in \
        proc.stderr.decode()
    proc = run_runner(work["bundle"], b"not a wav file", "--format", "wav")
    assert proc.returncode == 2 and b"not a WAV file" in proc.stderr and b"Traceback" not in proc.stderr


# --------------------------------------------------------------------------- deploy

def test_deploy_commands_default_install_and_fast_path() -> None:
    default = pi_deploy.DeployOptions(host="pi@raspberrypi")
    assert pi_deploy.ssh_command(default)[:7] == ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
                                                  "-o", "ConnectTimeout=15"]
    commands = pi_deploy.setup_commands(default, "/home/pi/drsn-edge")
    assert commands == ["test -x /home/pi/drsn-edge/venv/bin/python || python3 -m venv /home/pi/drsn-edge/venv",
                        "/home/pi/drsn-edge/venv/bin/python -m pip install --disable-pip-version-check --quiet "
                        "-r /home/pi/drsn-edge/requirements.txt"]
    fast = pi_deploy.DeployOptions(host="h", install=False, system_site_packages=True, python="/usr/bin/python3")
    assert pi_deploy.setup_commands(fast, "/d") == [
        "test -x /d/venv/bin/python || /usr/bin/python3 -m venv --system-site-packages --without-pip /d/venv"]
    assert pi_deploy.unit_commands("/d", "sudo -n ")[0] == (
        "sudo -n install -m 644 /d/drsn-runner.service /etc/systemd/system/drsn-runner.service")
    assert pi_deploy.remote_path("~/a b") == "\"$HOME\"/'a b'"


def test_deploy_installs_and_starts_the_service_where_systemd_runs(work: dict[str, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The default path on a device with systemd and password-less sudo, with ssh replaced by a recorder."""
    scripts: list[str] = []

    def fake_run(self, what: str, commands, stdin: bytes | None = None, timeout: float | None = None) -> str:
        script = commands if isinstance(commands, str) else " && ".join(commands)
        scripts.append(script)
        if what == "looking at the device":
            return "dest=/home/pi/drsn-edge\nuser=pi\npython=3.11\nsystemd=yes\nroot=sudo\n"
        if what == "installing the systemd unit":
            return "active\n"
        if what.startswith("copying"):
            with tarfile.open(fileobj=io.BytesIO(stdin)) as tar:
                unit = tar.extractfile("drsn-runner.service").read().decode()
                shipped = tar.getnames()
            assert "drsn_runner_lib/cli.py" in shipped and not any("__pycache__" in n for n in shipped)
            assert "User=pi" in unit and 'ExecStart="/home/pi/drsn-edge/venv/bin/python"' in unit
        if what.startswith("running the runner"):
            return json.dumps({"class": "normal", "latency_ms": 5.0}) + "\n"
        return ""

    monkeypatch.setattr(pi_deploy.Remote, "run", fake_run)
    said: list[str] = []
    summary = pi_deploy.deploy(work["bundle"], pi_deploy.DeployOptions(host="pi@raspberrypi"), say=said.append)
    assert summary["service"] == "drsn-runner active"
    assert any("pip install" in s and "/home/pi/drsn-edge/requirements.txt" in s for s in scripts)
    assert any(s.startswith("sudo -n install -m 644 /home/pi/drsn-edge/drsn-runner.service") for s in scripts)
    assert "systemctl enable --quiet drsn-runner" in " ".join(scripts)
    assert said[-1].startswith("runner answered: 1 window(s), class normal")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """A throwaway OpenSSH server on 127.0.0.1 that accepts one throwaway ed25519 key for the current user."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not (os.path.exists(binary) and shutil.which("ssh") and shutil.which("ssh-keygen")):
        unavailable("OpenSSH server/client missing (apt-get install openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = _free_port()
    site = Path(np.__file__).resolve().parents[1]  # where numpy and ai_edge_litert are
    (d / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
        "PidFile none", f"SetEnv PYTHONPATH={site}", ""]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory
    log = open(d / "sshd.log", "wb")  # a file, not a pipe nobody reads: sshd must never block on its log
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(d / "sshd_config")], stderr=log)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()}")
            time.sleep(0.1)
        yield {"port": port, "key": d / "client_key", "host": f"{getpass.getuser()}@127.0.0.1",
               "known_hosts": d / "known_hosts", "dir": d}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_deploy_end_to_end_over_ssh(work: dict[str, Path], sshd: dict, capsys: pytest.CaptureFixture) -> None:
    dest = sshd["dir"] / "device" / "drsn-edge"
    common = ["--host", sshd["host"], "--port", str(sshd["port"]), "--identity", str(sshd["key"]),
              "--known-hosts", str(sshd["known_hosts"]), "--dest", str(dest)]
    code = main(["deploy", str(work["bundle"]), *common, "--python", sys.executable, "--no-install",
                 "--system-site-packages"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (dest / "venv" / "bin" / "python").exists() and (dest / "model_int8.tflite").is_file()
    unit = (dest / "drsn-runner.service").read_text()
    assert f'ExecStart="{dest}/venv/bin/python" "{dest}/drsn_runner.py"' in unit
    systemd = Path("/run/systemd/system").is_dir()
    assert ("no systemd" in out) != systemd  # this machine (and CI) has no running systemd
    assert "runner answered: 2 window(s)" in out

    # the deployed runner, fed a text stream over ssh
    x = read_npz(work["held"]).x[:2].reshape(-1)
    stream = "\n".join(repr(float(v)) for v in x).encode()
    ssh = pi_deploy.ssh_command(pi_deploy.DeployOptions(host=sshd["host"], port=sshd["port"],
                                                        identity=str(sshd["key"]), known_hosts=str(sshd["known_hosts"])))
    proc = subprocess.run(ssh + [f"{dest}/venv/bin/python {dest}/drsn_runner.py --format text"], input=stream,
                          capture_output=True, timeout=120)
    assert [r["window"] for r in records(proc)] == [0, 1]

    # failures: one error line each
    for args, text in ((["--identity", str(sshd["dir"] / "host_key")], "Permission denied"),
                       (["--python", "no-such-python"], "looking at the device failed")):
        code = main(["deploy", str(work["bundle"]), *common, *args])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and text in err, err
