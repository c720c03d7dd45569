"""Names from a build directory reach generated C, C++, systemd units and paths only escaped or validated."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drsn_edge.errors import DrsnError
from drsn_edge.names import check_file_name, safe_file_name
from drsn_edge.outdir import atomic_output_dir
from firmware_export.c_literals import c_comment, c_string, c_text, c_value
from firmware_export.pi.bundle import render_unit

PWNED = "/tmp/drsn-pwned-c"
INJECTIONS = [
    f'*/ __attribute__((constructor)) void p(void) {{ fopen("{PWNED}", "w"); }} /*',
    'x" ; int pwned = 1; const char *y = "',
    "x ??/\nint pwned = 1;",  # a trigraph line splice under -std=c99 -trigraphs
    "x\\\nint pwned = 1; //",
    "x\n#define drsn_classify pwned",
    "caf\u00e9 \u202e \U0001f600",
    "*/ /* // \" ' ` $ % \t \r \x0b \x0c",
]


def _export_and_build(build: Path, tmp_path: Path, name: str, classes: list[str]) -> tuple[str, str]:
    from drsn_edge.cli import main

    info = json.loads((build / "model.json").read_text())
    info["name"], info["classes"] = name, classes
    (build / "model.json").write_text(json.dumps(info))
    assert main(["export", str(build), "--target", "c", "--out", str(tmp_path / "fw")]) == 0
    fw = tmp_path / "fw"
    sources = [str(fw / s) for s in os.listdir(fw) if s.endswith(".c")]
    exe = tmp_path / "engine"
    subprocess.run(["cc", "-std=c99", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-o", str(exe), *sources, "-lm"],
                   check=True, capture_output=True, text=True)
    subprocess.run([str(exe), "/dev/null", str(tmp_path / "out.i8")], check=True, capture_output=True)
    return (fw / "drsn_model.c").read_text(), (fw / "drsn_model.h").read_text()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")
@pytest.mark.parametrize("text", INJECTIONS, ids=range(len(INJECTIONS)))
def test_names_cannot_add_code_to_the_engine(tiny_build, tmp_path, text) -> None:
    printable = "".join(ch if ch.isprintable() else " " for ch in text)  # model.json refuses the others
    source, _ = _export_and_build(tiny_build, tmp_path, printable, [f"c{i}" for i in range(9)] + [printable])
    assert not Path(PWNED).exists()
    symbols = subprocess.run(["nm", str(tmp_path / "engine")], capture_output=True, text=True).stdout.split()
    assert "pwned" not in symbols and "p" not in symbols  # the text stayed text: no variable, no constructor
    assert source.count("/*") == source.count("*/")


STRINGS = ['a"b', "a\\b", "??/", "??=", "a\nb", "\x00", "\u00e9", "*/", "/*", "%s%n", "\U0001f600", "''", "\t"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no host C compiler")
def test_c_string_round_trips_every_byte(tmp_path) -> None:
    body = "".join(f'    fputs({c_string(s)}, f); fputc(0xff, f);\n' for s in STRINGS)
    (tmp_path / "s.c").write_text('#include <stdio.h>\nint main(void) {\n    FILE *f = fopen("out", "wb");\n'
                                  f'{body}    return fclose(f);\n}}\n')
    subprocess.run(["cc", "-std=c99", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-o", "s", "s.c"], cwd=tmp_path,
                   check=True, capture_output=True)
    subprocess.run(["./s"], cwd=tmp_path, check=True)
    got = (tmp_path / "out").read_bytes().split(b"\xff")[:-1]
    assert got == [s.encode().split(b"\x00")[0] for s in STRINGS]  # fputs stops at NUL, as C strings do


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text())
def test_c_text_and_comments_are_inert(text) -> None:
    safe = c_text(text)
    for bad in ("*/", "/*", "??", "\\", "\n", "\r", '"', "'"):
        assert bad not in safe
    assert safe.isascii() and len(safe) <= 200
    assert c_comment(text).count("*/") == 1
    literal = c_string(text)
    assert literal.isascii() and "??" not in literal and "\n" not in literal


@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, True, [1], {"a": 1}])
def test_c_values_that_have_no_c_form_are_refused(value) -> None:
    with pytest.raises(DrsnError):
        c_value(value)


NAMES = ["/etc/cron.d/x", "../../x", "..", ".", "", "-rf", ".hidden", "a/b", "a\\b", "a\nb", "x" * 300, "\u00e9t\u00e9",
         "con:", "~root"]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_model_names_make_one_safe_folder_inside_build(name) -> None:
    folder = safe_file_name(name)
    assert check_file_name(folder, "x") == folder
    build = Path("build").resolve()
    assert (build / folder).resolve().parent == build


UNITS = [("dest", "/opt/x\nExecStartPre=/bin/sh -c id"), ("dest", "/opt/a b"), ("dest", "relative"),
         ("dest", "/opt/$HOME"), ("dest", "/opt/%h"), ("dest", "/opt/../etc"), ("dest", '/opt/"x'),
         ("user", "root\nExecStartPre=/bin/id"), ("user", "Root"), ("user", "a b"), ("user", ""),
         ("python", "/usr/bin/python3 -c 'import os'"), ("python", "python3"), ("python", "/x;id")]


@pytest.mark.parametrize(("field", "value"), UNITS, ids=[f"{f}={v!r:.20}" for f, v in UNITS])
def test_systemd_unit_fields_are_validated(field, value) -> None:
    args = {"dest": "/opt/drsn-edge", "python": "/opt/drsn-edge/venv/bin/python", "user": "pi", "name": "m",
            field: value}
    with pytest.raises(DrsnError, match="systemd unit"):
        render_unit(**args)


@pytest.mark.parametrize("name", ["m\nExecStartPre=/bin/id", "%h %u ${X} $X", "a\rb", "\u202e"])
def test_the_unit_description_stays_one_line_without_specifiers(name) -> None:
    plain = render_unit("/opt/drsn-edge", "/opt/drsn-edge/venv/bin/python", "pi", "m")
    unit = render_unit("/opt/drsn-edge", "/opt/drsn-edge/venv/bin/python", "pi", name)
    assert len(unit.splitlines()) == len(plain.splitlines())
    description = next(line for line in unit.splitlines() if line.startswith("Description="))
    assert "%" not in description and "$" not in description
    assert not any(line.startswith("ExecStartPre=/bin/id") for line in unit.splitlines())


def test_stale_folders_of_killed_runs_are_cleaned(tmp_path) -> None:
    dead = 2**22 + 12345  # above the default pid_max of 4194304
    stale = [tmp_path / f".out.tmp-{dead}", tmp_path / f".out.old-{dead}", tmp_path / f".out.tar.gz.tmp-{dead}"]
    for path in stale[:2]:
        path.mkdir()
        (path / "half.bin").write_bytes(b"x")
    stale[2].write_bytes(b"x")
    alive = tmp_path / f".out.tmp-{os.getpid()}x"
    alive.mkdir()
    other = tmp_path / f".other.tmp-{dead}"
    other.mkdir()
    with atomic_output_dir(tmp_path / "out") as tmp:
        (tmp / "model.json").write_text("{}")
    assert not any(p.exists() for p in stale) and alive.exists() and other.exists()
    assert (tmp_path / "out" / "model.json").is_file()


@pytest.mark.parametrize("out", [".", "..", "/", "sub/.."])
def test_out_that_would_replace_the_working_directory_is_one_error(tiny_build, tmp_path, refused, out,
                                                                   monkeypatch) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub" if out != "sub/.." else tmp_path)
    refused("export", tiny_build, "--target", "pi", "--out", out, "--force")
    assert tiny_build.is_dir() and (tmp_path / "sub").is_dir()


def test_force_replaces_only_our_own_output(tiny_build, tmp_path, refused) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    refused("export", tiny_build, "--target", "pi", "--out", precious, "--force")
    assert (precious / "thesis.tex").read_text() == "years of work"


@pytest.mark.skipif(shutil.which("c++") is None, reason="no host C++ compiler")
def test_names_cannot_add_code_to_the_tflm_sources(tiny_build, tmp_path) -> None:
    """The C++ route (export --target tflm), all injections at once (each export probes the arena in TFLM): the
    name and class names add no line to any generated file and come out of the compiled config as the escaped
    name and the exact class bytes."""
    from drsn_edge.cli import main

    pytest.importorskip("tflite_micro")
    printable = ["".join(ch if ch.isprintable() else " " for ch in text) for text in INJECTIONS]
    classes = printable + [f"c{i}" for i in range(10 - len(printable))]
    assert main(["export", str(tiny_build), "--target", "tflm", "--out", str(tmp_path / "plain")]) == 0
    info = json.loads((tiny_build / "model.json").read_text())
    info["name"], info["classes"] = printable[0], classes
    (tiny_build / "model.json").write_text(json.dumps(info))
    out = tmp_path / "tflm"
    assert main(["export", str(tiny_build), "--target", "tflm", "--out", str(out)]) == 0
    for source in sorted(out.glob("*.[ch]*")):
        plain = (tmp_path / "plain" / source.name).read_text()
        assert len(source.read_text().splitlines()) == len(plain.splitlines()), source.name
    (out / "show.cc").write_text('#include <cstdio>\n#include "drsn_config.h"\nint main() {\n'
                                 '  const char *classes[] = DRSN_CLASS_NAMES;\n  std::printf("%s\\n", DRSN_MODEL_NAME);\n'
                                 '  for (const char *c : classes) std::printf("%s\\n", c);\n}\n')
    subprocess.run(["c++", "-std=c++17", "-trigraphs", "-Wall", "-Wextra", "-Werror", "-o", str(out / "show"),
                    str(out / "show.cc")], check=True, capture_output=True, text=True)
    shown = subprocess.run([str(out / "show")], check=True, capture_output=True).stdout.decode().split("\n")[:-1]
    assert shown == [c_text(printable[0]), *classes]
    assert not Path(PWNED).exists()
