"""The C engine export as a CMake library (``add_subdirectory``): cross-compiled for a Cortex-M4F with
arm-none-eabi-gcc as a smoke test, and built for the host, where the five-line application classifies a
window exactly as the export's own harness does. And as an Arduino library (``arduino/``): its example sketch
cross-compiled and linked against a minimal stub of the Arduino API written here (no arduino-cli download),
and the same sketch built for the host, where it prints one line per window."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from needs import require_tools

from drsn_edge.cli import main
from firmware_export.c_engine.runner import compile_host

APP = """#include <stdio.h>
#include "drsn_model.h"
static float window[DRSN_WINDOW_LENGTH];
int main(void)
{
    int8_t logits[DRSN_NUM_CLASSES];
    for (int i = 0; i < DRSN_WINDOW_LENGTH; i++) window[i] = (float)((i * 7919) % 97) / 97.0f - 0.5f;
    int k = drsn_classify(window, logits);
    for (int i = 0; i < DRSN_NUM_CLASSES; i++) printf("%d ", logits[i]);
    printf("%d\\n", k);
    return 0;
}
"""
PROJECT = """cmake_minimum_required(VERSION 3.13)
project(app C)
add_subdirectory({fw} drsn)
add_executable(app app.c)
target_link_libraries(app PRIVATE drsn_engine)
"""
TOOLCHAIN = """set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -Wall -Wextra -Werror")
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nosys.specs --specs=nano.specs")
"""


@pytest.fixture(scope="module")
def fw(cwru_int8_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("cmake", install="cmake")
    out = tmp_path_factory.mktemp("pkg") / "fw"
    assert main(["export", str(cwru_int8_build), "--target", "c", "--out", str(out)]) == 0
    return out


def project(root: Path, fw: Path) -> Path:
    root.mkdir()
    (root / "app.c").write_text(APP)
    (root / "CMakeLists.txt").write_text(PROJECT.format(fw=fw.as_posix()))
    return root


def cmake(src: Path, build: Path, *extra: str) -> None:
    for cmd in (["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", *extra],
                ["cmake", "--build", str(build), "-j", "2"]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_cmake_library_cross_compiles_for_cortex_m4(fw: Path, tmp_path: Path) -> None:
    require_tools("arm-none-eabi-gcc", install="gcc-arm-none-eabi libnewlib-arm-none-eabi")
    src = project(tmp_path / "app", fw)
    (tmp_path / "arm.cmake").write_text(TOOLCHAIN)
    cmake(src, tmp_path / "build", f"-DCMAKE_TOOLCHAIN_FILE={tmp_path / 'arm.cmake'}")
    elf = tmp_path / "build" / "app"
    header = elf.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 40  # EM_ARM
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " T drsn_classify" in symbols
    done = subprocess.run(["cmake", "--build", str(tmp_path / "build"), "--target", "drsn_monitor"], capture_output=True,
                          text=True)  # the streaming monitor library compiles too (its board code is the user's)
    assert done.returncode == 0, done.stdout[-2000:]


def test_cmake_library_on_the_host_classifies_like_the_harness(fw: Path, tmp_path: Path) -> None:
    src = project(tmp_path / "app", fw)
    cmake(src, tmp_path / "build")
    got = subprocess.run([str(tmp_path / "build" / "app")], capture_output=True, text=True, check=True).stdout.split()
    window = ((np.arange(2048) * 7919) % 97).astype(np.float32) / np.float32(97.0) - np.float32(0.5)
    work = tmp_path / "harness"
    work.mkdir()
    window.astype("<f4").tofile(work / "in.f32")
    subprocess.run([str(compile_host(fw, work)), str(work / "in.f32"), str(work / "out.i8")], check=True,
                   capture_output=True)
    expected = np.fromfile(work / "out.i8", np.int8)
    assert [int(v) for v in got[:-1]] == expected.tolist() and int(got[-1]) == int(expected.argmax())


# ----------------------------------------------------------------------------- the Arduino library

# A minimal stand-in for the Arduino core's API: only what examples/monitor uses. No arduino-cli (or board core)
# can be downloaded here, so the sketch is compiled as Arduino would compile it: the .ino as C++ with
# Arduino.h included first, the library's src/*.c as C, all with the cross compiler, then linked.
ARDUINO_H = """#ifndef ARDUINO_H
#define ARDUINO_H
#include <stddef.h>
#include <stdint.h>
#define A0 14
unsigned long micros(void);
int analogRead(int pin);
class HardwareSerial {
public:
    void begin(unsigned long baud);
    size_t print(const char *text);
    size_t print(unsigned int value);
    size_t print(unsigned long value);
    size_t print(double value, int digits = 2);
    size_t println(const char *text);
};
extern HardwareSerial Serial;
void setup(void);
void loop(void);
#endif
"""
# The stub core: a 12 kHz clock and a sine on A0; Serial collects what the sketch prints; main runs the sketch.
ARDUINO_CORE = """#include <math.h>
#include <stdio.h>
#include "Arduino.h"
static unsigned long now_us;
unsigned long micros(void) { return now_us += 21; }
int analogRead(int pin) { return pin == A0 ? (int)(512 + 300 * sin(now_us * 1e-3)) : 0; }
void HardwareSerial::begin(unsigned long) {}
size_t HardwareSerial::print(const char *text) { return (size_t)fputs(text, stdout); }
size_t HardwareSerial::print(unsigned int value) { return (size_t)printf("%u", value); }
size_t HardwareSerial::print(unsigned long value) { return (size_t)printf("%lu", value); }
size_t HardwareSerial::print(double value, int digits) { return (size_t)printf("%.*f", digits, value); }
size_t HardwareSerial::println(const char *text) { return (size_t)puts(text); }
HardwareSerial Serial;
int main(void)
{
    setup();
    for (long i = 0; i < 80000; i++) loop();
    return 0;
}
"""


def arduino_build(library: Path, work: Path, cc: str, cxx: str, flags: list[str], link: list[str]) -> Path:
    """The library's example sketch and src/ compiled the way the Arduino IDE does, against the stub core."""
    (work / "Arduino.h").write_text(ARDUINO_H)
    (work / "core.cpp").write_text(ARDUINO_CORE)
    objects = []
    for source in [*sorted((library / "src").glob("*.c")), library / "examples" / "monitor" / "monitor.ino",
                   work / "core.cpp"]:
        obj = work / f"{source.name}.o"
        c_file = source.suffix == ".c"
        cmd = [cc if c_file else cxx, *flags, "-O2", "-Wall", "-Wextra", "-Werror", f"-I{work}",
               f"-I{library / 'src'}", "-c", "-o", str(obj)]
        cmd += ["-std=gnu11", str(source)] if c_file else ["-std=gnu++17", "-fno-exceptions", "-fno-rtti",
                                                           "-x", "c++", "-include", "Arduino.h", str(source)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        objects.append(str(obj))
    exe = work / "sketch"
    # linked by the C driver: the sketch needs no C++ runtime (no exceptions, no RTTI, no new)
    done = subprocess.run([cc, *flags, "-o", str(exe), *objects, *link, "-lm"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]  # drsn_edge.h's extern "C": the C symbols link from C++
    return exe


def test_arduino_library_layout(fw: Path) -> None:
    library = fw / "arduino"
    props = dict(line.split("=", 1) for line in (library / "library.properties").read_text().splitlines())
    assert props["name"].startswith("drsn_edge_") and props["includes"] == "drsn_edge.h"
    assert {"version", "author", "sentence", "paragraph", "category", "url", "architectures"} <= set(props)
    src = {p.name for p in (library / "src").iterdir()}
    assert {"drsn_edge.h", "drsn_model.c", "drsn_model.h", "drsn_stream.c", "drsn_decide.c",
            "drsn_monitor_config.h"} <= src and "drsn_main.c" not in src and "drsn_monitor.c" not in src
    assert (library / "examples" / "monitor" / "monitor.ino").is_file()


def test_arduino_sketch_cross_compiles_for_cortex_m4(fw: Path, tmp_path: Path) -> None:
    require_tools("arm-none-eabi-g++", install="gcc-arm-none-eabi libnewlib-arm-none-eabi")
    exe = arduino_build(fw / "arduino", tmp_path, "arm-none-eabi-gcc", "arm-none-eabi-g++",
                        ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
                        ["--specs=nosys.specs", "--specs=nano.specs"])
    header = exe.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 40  # EM_ARM
    symbols = subprocess.run(["arm-none-eabi-nm", str(exe)], capture_output=True, text=True, check=True).stdout
    assert " T drsn_classify" in symbols and " T drsn_stream_push" in symbols and "loop" in symbols


def test_arduino_sketch_on_the_host_prints_a_line_per_window(fw: Path, tmp_path: Path) -> None:
    """The same sketch built for the host with the stub core: 80,000 loop() calls, 12 kHz sampling."""
    require_tools("c++", what="host C++ compiler", install="g++")
    exe = arduino_build(fw / "arduino", tmp_path, "cc", "c++", [], [])
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) >= 10 and [r["window"] for r in records] == list(range(len(records)))
    assert all(r["class"] in json.loads((fw / "fw.json").read_text())["classes"] for r in records)
    assert records[1]["time"] - records[0]["time"] == pytest.approx(1024 / 12000, abs=1e-5)  # hop = window / 2
