"""``drsn-edge deploy BUNDLE --host USER@HOST``: put a Pi bundle on a device over SSH and start it.

Steps, each one ``ssh`` call (BatchMode, so a missing key fails instead of
prompting): look at the device (destination, Python, systemd, root or sudo),
copy the bundle (a tar stream into ``ssh``), make a venv and install the
requirements, install and start the systemd unit (or say how to start the
runner by hand when the device has no systemd), and pipe a short synthetic
stream through the runner to check it answers with JSON lines. Every failure
is one ``DrsnError`` line naming the step.
"""
from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from drsn_edge.errors import DrsnError
from firmware_export.pi.bundle import CONFIG_NAME, RUNNER, RUNNER_PACKAGE, UNIT_NAME, render_unit

SERVICE = UNIT_NAME.removesuffix(".service")
MIN_PYTHON = (3, 9)
INSTALL_TIMEOUT_S = 1800.0
HOST = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}@)?[A-Za-z0-9_\[][A-Za-z0-9_.:\[\]-]{0,252}")  # pip on a Pi may build or download for a long while


@dataclass
class DeployOptions:
    """Where and how to deploy; the defaults are the real install (venv + pip from PyPI)."""

    host: str
    port: int | None = None
    identity: str | None = None
    dest: str = "drsn-edge"  # relative to the remote home, or absolute
    python: str = "python3"  # the device's interpreter that makes the venv
    install: bool = True  # pip install -r requirements.txt into the venv
    system_site_packages: bool = False  # let the venv see e.g. Debian's python3-numpy
    known_hosts: str | None = None  # default: ssh's own (~/.ssh/known_hosts)
    timeout: float = 120.0

    def __post_init__(self) -> None:
        """Settings become ssh arguments and remote shell words: a host that starts with ``-`` would be an option."""
        if not isinstance(self.host, str) or not HOST.fullmatch(self.host):
            raise DrsnError(f"--host must be [USER@]HOST (letters, digits, . _ - : [ ]), got {self.host!r:.60}")
        if self.port is not None and not 1 <= int(self.port) <= 65535:
            raise DrsnError(f"--port must be 1-65535, got {self.port}")
        for what, value in (("--dest", self.dest), ("--python", self.python), ("--identity", self.identity),
                            ("known hosts file", self.known_hosts)):
            if value is not None and (not value or not value.isprintable() or value.startswith("-")):
                raise DrsnError(f"{what} must be a printable path not starting with '-', got {value!r:.60}")
        if not 0 < self.timeout <= 86400:
            raise DrsnError(f"the timeout must be 0-86400 s, got {self.timeout}")


def ssh_command(opts: DeployOptions) -> list[str]:
    """The ``ssh`` invocation every step uses (no prompts, new host keys accepted and pinned)."""
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=15"]
    if opts.known_hosts:
        cmd += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
    if opts.port:
        cmd += ["-p", str(opts.port)]
    if opts.identity:
        cmd += ["-i", opts.identity, "-o", "IdentitiesOnly=yes"]
    return cmd + [opts.host]


def remote_path(path: str) -> str:
    """A shell word for ``path`` on the device; ``~/x`` means the remote home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def setup_commands(opts: DeployOptions, dest: str) -> list[str]:
    """Shell commands that make the venv in ``dest`` (an absolute path) and install the requirements."""
    venv, q = f"{dest}/venv", shlex.quote
    flags = (" --system-site-packages" if opts.system_site_packages else "") + ("" if opts.install else " --without-pip")
    commands = [f"test -x {q(venv + '/bin/python')} || {q(opts.python)} -m venv{flags} {q(venv)}"]
    if opts.install:
        commands.append(f"{q(venv + '/bin/python')} -m pip install --disable-pip-version-check --quiet "
                        f"-r {q(dest + '/requirements.txt')}")
    return commands


def unit_commands(dest: str, sudo: str) -> list[str]:
    """Install the unit already copied to ``dest`` and (re)start it."""
    q = shlex.quote
    return [f"{sudo}install -m 644 {q(dest + '/' + UNIT_NAME)} /etc/systemd/system/{UNIT_NAME}",
            f"{sudo}systemctl daemon-reload", f"{sudo}systemctl enable --quiet {SERVICE}",
            f"{sudo}systemctl restart {SERVICE}",
            # a runner that fails at start shows its last journal lines as the error
            f"sleep 2 && {{ systemctl is-active {SERVICE} || {{ {sudo}journalctl -u {SERVICE} -n 5 --no-pager -o cat >&2; "
            "exit 1; }; }"]


def runner_command(dest: str, *args: str) -> str:
    q = shlex.quote
    return " ".join([q(f"{dest}/venv/bin/python"), q(f"{dest}/{RUNNER.name}"), *map(q, args)])


def bundle_tar(bundle: Path, unit: str) -> bytes:
    """The bundle's files and runner package as a gzip tar, with the unit rendered for the device's paths."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(bundle.iterdir()):
            if path.name == RUNNER_PACKAGE.name and path.is_dir():  # the runner's modules, not their bytecode
                tar.add(path, arcname=path.name, recursive=False)
                for module in sorted(path.glob("*.py")):
                    tar.add(module, arcname=f"{path.name}/{module.name}")
            elif path.is_file() and path.name != UNIT_NAME:
                tar.add(path, arcname=path.name)
        data = unit.encode()
        info = tarfile.TarInfo(UNIT_NAME)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def check_bundle(bundle: Path) -> dict:
    """The bundle's config; a clear error when ``bundle`` is not an exported Pi bundle."""
    for name in (CONFIG_NAME, RUNNER.name, "requirements.txt"):
        if not (bundle / name).is_file():
            raise DrsnError(f"{bundle} is not a Pi bundle (no {name}); "
                            "make one with `drsn-edge export BUILD --target pi --out DIR`")
    try:
        return json.loads((bundle / CONFIG_NAME).read_text())
    except ValueError as exc:
        raise DrsnError(f"{bundle / CONFIG_NAME} is not valid JSON: {exc}") from None


def check_stream(config: dict, windows: int = 2, seed: int = 0) -> bytes:
    """A few windows of float32 samples (a 157 Hz tone in noise) for the runner check."""
    n = int(config["window_length"]) * windows
    t = np.arange(n) / float(config["sample_rate"])
    rng = np.random.default_rng(seed)
    return (np.sin(2 * np.pi * 157 * t) + 0.3 * rng.standard_normal(n)).astype("<f4").tobytes()


class Remote:
    """Runs shell scripts on the device through ``ssh``; any failure is one DrsnError naming the step."""

    def __init__(self, opts: DeployOptions) -> None:
        self.opts = opts
        self.base = ssh_command(opts)

    def run(self, what: str, commands: list[str] | str, stdin: bytes | None = None,
            timeout: float | None = None) -> str:
        script = commands if isinstance(commands, str) else " && ".join(commands)
        cmd = self.base + ["sh -c " + shlex.quote(script)]
        timeout = timeout or self.opts.timeout
        try:
            proc = subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise DrsnError("ssh not found: install an OpenSSH client") from None
        except subprocess.TimeoutExpired:
            raise DrsnError(f"{what}: no answer from {self.opts.host} within {timeout:g} s") from None
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        last = next((line for line in reversed(err) if line.strip()), "no message")
        if proc.returncode == 255:  # ssh's own failure: connection, host key or authentication
            raise DrsnError(f"cannot reach {self.opts.host} over ssh ({what}): {last}")
        if proc.returncode != 0:
            raise DrsnError(f"{what} failed on {self.opts.host} (exit {proc.returncode}): {last}")
        return proc.stdout.decode(errors="replace")


def probe(remote: Remote, opts: DeployOptions) -> dict[str, str]:
    """The device's facts: absolute destination, Python version, user, systemd, root or sudo."""
    py = shlex.quote(opts.python)
    script = "\n".join([
        f"mkdir -p {remote_path(opts.dest)} && cd {remote_path(opts.dest)} || exit 3",
        'echo "dest=$(pwd)"',
        'echo "user=$(id -un)"',
        f"{py} -c 'import sys; print(\"python=%d.%d\" % sys.version_info[:2])' || exit 4",
        'if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; '
        'then echo systemd=yes; else echo systemd=no; fi',
        'if [ "$(id -u)" = 0 ]; then echo root=yes; elif sudo -n true 2>/dev/null; then echo root=sudo; '
        'else echo root=no; fi',
    ])
    facts = dict(line.split("=", 1) for line in remote.run("looking at the device", script).splitlines() if "=" in line)
    if "dest" not in facts or "python" not in facts:
        raise DrsnError(f"unexpected answer from {opts.host} while looking at the device")
    return facts


def deploy(bundle: str | Path, opts: DeployOptions, say: Callable[[str], None] = print) -> dict:
    """Copy, set up, start and check; returns what was done."""
    bundle = Path(bundle)
    config = check_bundle(bundle)
    if opts.identity and not Path(opts.identity).is_file():
        raise DrsnError(f"identity file not found: {opts.identity}")
    remote = Remote(opts)
    facts = probe(remote, opts)
    dest = facts["dest"]
    if tuple(int(v) for v in facts["python"].split(".")) < MIN_PYTHON:
        raise DrsnError(f"{opts.python} on {opts.host} is Python {facts['python']}; the runner needs "
                        f"{'.'.join(map(str, MIN_PYTHON))} or newer (choose another with --python)")
    say(f"device: {opts.host}, Python {facts['python']}, destination {dest}")

    python = f"{dest}/venv/bin/python"
    unit = render_unit(dest, python, facts.get("user", "root"), str(config.get("name", "drsn-edge")))
    payload = bundle_tar(bundle, unit)
    remote.run("copying the bundle", f"tar -xzf - -C {shlex.quote(dest)}", stdin=payload)
    say(f"copied {len(payload)} bytes")

    remote.run("making the venv" + (" and installing the requirements" if opts.install else ""),
               setup_commands(opts, dest), timeout=INSTALL_TIMEOUT_S if opts.install else None)
    say("venv ready" + (" (requirements installed)" if opts.install else " (no install: --no-install)"))

    rate = f"{float(config['sample_rate']):g}"
    manual = runner_command(dest, "--format", "int16", "--rate", rate) + " < YOUR_STREAM"
    if facts.get("systemd") != "yes":
        service = "no systemd"
        say(f"the device has no systemd, so no service was installed; start the runner by hand: {manual}")
    elif facts.get("root") == "no":
        service = "no root"
        say(f"{facts['user']} is not root and has no password-less sudo, so no service was installed; "
            f"install {dest}/{UNIT_NAME} as root, or start the runner by hand: {manual}")
    else:
        sudo = "sudo -n " if facts.get("root") == "sudo" else ""
        state = remote.run("installing the systemd unit", unit_commands(dest, sudo)).strip()
        service = f"{SERVICE} {state}"
        say(f"systemd: {SERVICE} enabled and {state}")

    answer = remote.run("running the runner on a test stream",
                        runner_command(dest, "--format", "float32", "--max-windows", "2"), stdin=check_stream(config))
    records = []
    for line in answer.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    records = [r for r in records if isinstance(r, dict) and "class" in r]
    if not records:
        raise DrsnError(f"the runner on {opts.host} gave no JSON lines for the test stream")
    latency = max(r.get("latency_ms", 0.0) for r in records)
    say(f"runner answered: {len(records)} window(s), class {records[-1]['class']}, latency {latency:.1f} ms")
    return {"dest": dest, "python": facts["python"], "service": service, "windows": len(records),
            "latency_ms": latency}
