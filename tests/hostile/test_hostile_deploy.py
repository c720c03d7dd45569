"""Hostile deploy settings: ssh option injection, shell words and unit fields are refused before ssh runs."""
from __future__ import annotations

from pathlib import Path

import pytest

PWNED = Path("/tmp/drsn-pwned-ssh")
HOSTS = [f"-oProxyCommand=touch {PWNED}", "-p1", "pi@-oProxyCommand=x", "a b", "pi@host\nid", "", "pi@", "@host",
         "host;id", "$(id)", "`id`", "pi@host name", "x" * 400]
SETTINGS = [("--dest", "-rf"), ("--dest", "a\nb"), ("--dest", ""), ("--python", "-c"), ("--python", "py\x00"),
            ("--identity", "-oProxyCommand=x"), ("--port", "0"), ("--port", "70000")]


@pytest.mark.parametrize("host", HOSTS, ids=range(len(HOSTS)))
def test_hosts_that_are_not_a_host(tmp_path, refused, host) -> None:
    assert "--host" in refused("deploy", tmp_path / "bundle", f"--host={host}")
    assert not PWNED.exists()


@pytest.mark.parametrize(("option", "value"), SETTINGS, ids=[f"{o}={v!r:.20}" for o, v in SETTINGS])
def test_settings_that_would_become_options_or_break_lines(tmp_path, refused, option, value) -> None:
    refused("deploy", tmp_path / "bundle", "--host=pi@raspberrypi", f"{option}={value}")
