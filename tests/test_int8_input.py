"""The integer int8 input: drsn_edge.int8_input (the definition) and drsn_preprocess.c agree byte for byte.

Random windows at many scales and offsets, real CWRU windows (when the data is there) and edge cases
(constant, full scale, subnormal, int16 extremes) go through the Python reference and the C code built
with the sanitizers; the int16 entry point equals the float one of the same samples; the result stays
within one LSB of the float definition.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from drsn_edge.int8_input import Int8Input, mantissa_exponent, quantize_float
from drsn_edge.preprocess import Preprocessing
from firmware_export.c_engine.preprocessing import c_preprocessing
from firmware_export.c_engine.sources import CSRC

L = 256
SCALE, ZERO = 0.0470588244497776, -3
CWRU = Path("/work/shared/data/cwru_0hp")
DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "drsn_preprocess.h"
static const drsn_preprocessing pre = PREPROCESSING;
int main(int argc, char **argv)
{
    static float fw[LENGTH_];
    static int16_t iw[LENGTH_];
    static int8_t out[LENGTH_];
    const int i16 = argc > 1 && strcmp(argv[1], "i16") == 0;
    for (;;) {
        int rc;
        if (fread(i16 ? (void *)iw : (void *)fw, i16 ? 2 : 4, LENGTH_, stdin) != LENGTH_) break;
        rc = i16 ? drsn_preprocess_i16(&pre, iw, out) : drsn_preprocess(&pre, fw, out);
        if (rc != 0) memset(out, 0x55, sizeof out);
        fwrite(out, 1, LENGTH_, stdout);
    }
    return 0;
}
"""
SANITIZE = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all"]


def _driver(tmp: Path, spec: Int8Input) -> Path:
    """The C preprocessing of ``spec`` as a filter: windows on stdin, int8 inputs on stdout."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    source = tmp / "driver.c"
    source.write_text(DRIVER.replace("PREPROCESSING", c_preprocessing(spec))
                      .replace("LENGTH_", str(spec.pre.window_length)))
    exe = tmp / "driver"
    subprocess.run(["cc", *SANITIZE, f"-I{CSRC}", "-o", str(exe), str(source), str(CSRC / "drsn_preprocess.c"),
                    "-lm"], check=True)
    return exe


def _run(exe: Path, x: np.ndarray) -> np.ndarray:
    mode = ["i16"] if x.dtype == np.int16 else []
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1"}
    out = subprocess.run([str(exe), *mode], input=np.ascontiguousarray(x).tobytes(), capture_output=True, env=env,
                         check=True).stdout
    return np.frombuffer(out, np.int8).reshape(x.shape)


def _random_windows(n: int, length: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    scale = 10.0 ** rng.uniform(-35, 35, size=(n, 1))
    offset = rng.standard_normal((n, 1)) * 10.0 ** rng.uniform(-3, 3, size=(n, 1))
    return ((rng.standard_normal((n, length)) + offset) * scale).astype(np.float32)


def _edge_windows(length: int) -> np.ndarray:
    big, i = np.float32(3.4e38), np.arange(length)
    rows = [np.zeros(length), np.full(length, 0.3), np.full(length, -big), np.where(i % 2 == 0, big, -big),
            np.full(length, 1e-45), np.where(i == 5, 1e-45, 0.0), np.where(i == 7, big, 0.0),
            np.sin(i) * 1e-42, np.sin(i) * 1e-12, np.sin(i) * 1e-3 + 1.0, np.linspace(-1, 1, length) * 1e20,
            np.where(i % 3 == 0, -0.0, 0.0)]
    return np.array(rows).astype(np.float32)


def _int16_windows(length: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    i = np.arange(length)
    rows = [np.full(length, -32768), np.full(length, 32767), np.where(i % 2 == 0, 32767, -32768), np.zeros(length),
            np.where(i == 3, 1, 0), np.where(i % 2 == 0, 2049, 2048), 2048 + rng.integers(-3, 4, length)]
    rows += list(rng.integers(-32768, 32768, (20, length)))
    rows += list((rng.standard_normal((20, length)) * 10.0 ** rng.uniform(0, 4, (20, 1))).clip(-32768, 32767))
    return np.array(rows).astype(np.int16)


@pytest.fixture(scope="module", params=[(SCALE, ZERO), (0.011, 0), (0.9, 100)], ids=["cwru", "fine", "coarse"])
def spec(request: pytest.FixtureRequest) -> Int8Input:
    scale, zero = request.param
    return Int8Input(Preprocessing(window_length=L), float(np.float32(scale)), zero)


def test_c_matches_the_reference_bit_for_bit(spec: Int8Input, tmp_path: Path) -> None:
    exe = _driver(tmp_path, spec)
    x = np.concatenate([_random_windows(300, L), _edge_windows(L)])
    expected = spec.from_float(x)
    got = _run(exe, x)
    assert np.array_equal(got, expected), f"{int(np.sum(np.any(got != expected, axis=1)))} windows differ"
    assert len(np.unique(expected)) > 10  # not a comparison of constants
    assert np.all(expected[-12] == spec.zero_point) and np.all(expected[-11] == spec.zero_point)  # constant windows


def test_int16_entry_point(spec: Int8Input, tmp_path: Path) -> None:
    """drsn_preprocess_i16 == the reference == drsn_preprocess of the same samples as float."""
    exe = _driver(tmp_path, spec)
    s = _int16_windows(L)
    expected = spec.from_int16(s)
    assert np.array_equal(_run(exe, s), expected)
    assert np.array_equal(_run(exe, s.astype(np.float32)), expected)
    assert np.array_equal(spec.from_float(s.astype(np.float32)), expected)
    assert np.all(expected[3] == spec.zero_point) and len(np.unique(expected[5])) == 2  # all 0; two levels
    with pytest.raises(Exception, match="int16"):
        spec.from_int16(s.astype(np.int32))


def test_non_finite_windows_are_refused(spec: Int8Input, tmp_path: Path) -> None:
    exe = _driver(tmp_path, spec)
    x = np.ones((3, L), np.float32)
    x[0, 0], x[1, L // 2], x[2, L - 1] = np.nan, np.inf, -np.inf
    assert np.all(_run(exe, x) == 0x55)


def _float_definition(spec: Int8Input, x: np.ndarray) -> np.ndarray:
    return quantize_float(spec.pre.apply(x), spec.scale, spec.zero_point, np.int8).astype(int)


def test_within_one_lsb_of_the_float_definition(spec: Int8Input) -> None:
    """At most 1 LSB from the float64 z-score at every scale (eps included); rarely at all on realistic windows."""
    x = np.concatenate([_random_windows(300, L), _edge_windows(L)])
    assert np.abs(spec.from_float(x).astype(int) - _float_definition(spec, x)).max() <= 1
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((200, L)) * 0.2 + rng.uniform(-1, 1, (200, 1))).astype(np.float32)
    diff = np.abs(spec.from_float(x).astype(int) - _float_definition(spec, x))
    assert diff.max() <= 1 and diff.mean() < 1e-3


@pytest.mark.skipif(not CWRU.is_dir(), reason="CWRU data not present")
def test_real_cwru_windows(tmp_path: Path) -> None:
    from drsn_edge.data.spec import load_windows

    w = load_windows(f"cwru:{CWRU}", split="test", window_length=2048).x[:200].astype(np.float32)
    spec = Int8Input(Preprocessing(window_length=2048), float(np.float32(SCALE)), ZERO)
    expected = spec.from_float(w)
    assert np.array_equal(_run(_driver(tmp_path, spec), w), expected)
    assert np.abs(expected.astype(int) - _float_definition(spec, w)).max() <= 1


def test_mantissa_exponent_is_exact() -> None:
    assert mantissa_exponent(1.0) == (1 << 30, -30)
    assert mantissa_exponent(3.0) == (3 << 29, -29)
    m, e = mantissa_exponent(1e-6)
    assert 1 << 30 <= m < 1 << 31 and abs(m * 2.0 ** e - 1e-6) <= 2.0 ** e / 2
    with pytest.raises(Exception):
        mantissa_exponent(0.0)


I16_MAIN = r"""
#include <stdio.h>
#include "drsn_model.h"
int main(int argc, char **argv)
{
    static int16_t w[DRSN_WINDOW_LENGTH];
    int8_t logits[DRSN_NUM_CLASSES];
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    if (argc != 3 || in == NULL || out == NULL) return 2;
    while (fread(w, sizeof w[0], DRSN_WINDOW_LENGTH, in) == DRSN_WINDOW_LENGTH) {
        drsn_classify_i16(w, logits);
        fwrite(logits, 1, DRSN_NUM_CLASSES, out);
    }
    fclose(in);
    return fclose(out) != 0;
}
"""


def test_drsn_classify_i16_in_an_exported_engine(tmp_path: Path) -> None:
    """drsn_classify_i16 (sanitizers on) == drsn_classify of the samples as float == LiteRT on from_int16."""
    pytest.importorskip("ai_edge_litert")
    from drsn_edge.buildinfo import load_build_info
    from drsn_edge.cli import main
    from firmware_export.c_engine.runner import compile_host, run_windows
    from firmware_export.c_engine.sources import engine_sources
    from quantize.runtimes.litert import LiteRTPredictor

    build = Path(__file__).parent / "hostile" / "data" / "tiny_build"
    fw = tmp_path / "fw"
    assert main(["export", str(build), "--target", "c", "--out", str(fw)]) == 0
    assert "int drsn_classify_i16(const int16_t *samples" in (fw / "drsn_model.h").read_text()
    (tmp_path / "i16.c").write_text(I16_MAIN)
    exe = tmp_path / "i16"
    subprocess.run(["cc", *SANITIZE, f"-I{fw}", "-o", str(exe), str(tmp_path / "i16.c"),
                    *(str(fw / s) for s in engine_sources()), "-lm"], check=True)
    info = load_build_info(build)
    s = _int16_windows(info.preprocessing.window_length)
    s.tofile(tmp_path / "in.i16")
    subprocess.run([str(exe), str(tmp_path / "in.i16"), str(tmp_path / "out.i8")], check=True)
    got = np.fromfile(tmp_path / "out.i8", np.int8).reshape(len(s), len(info.classes))
    as_float = run_windows([str(compile_host(fw, tmp_path))], s.astype(np.float32), len(info.classes), tmp_path)
    reference = LiteRTPredictor(build / "model_int8.tflite", info)
    spec = Int8Input(info.preprocessing, *reference.input_int8())
    assert np.array_equal(got, as_float)
    assert np.array_equal(got, reference.raw_outputs(spec.from_int16(s))[0])
    assert len(np.unique(got.argmax(1))) > 1 or len(np.unique(got)) > 5  # not constant outputs
