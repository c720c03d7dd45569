"""The C engine export as a CMake library (``add_subdirectory``): cross-compiled for a Cortex-M4F with
arm-none-eabi-gcc as a smoke test, and built for the host, where the five-line application classifies a
window exactly as the export's own harness does."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.cli import main
from firmware_export.c_engine.runner import compile_host
from needs import require_tools

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
