"""The int8 C engine: bit-exact with LiteRT's reference kernels, sanitizer-clean, small arena, refuses what it cannot run.

A tiny DRSN-CW is trained briefly on synthetic data, converted (no TFLM
checks, for speed) and exported once for the module; every test uses it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from drsn_edge.cli import main  # noqa: E402
from drsn_edge.errors import DrsnError  # noqa: E402
from firmware_export.c_engine.arena import buffers  # noqa: E402
from firmware_export.c_engine.runner import CEnginePredictor, compile_host, run_windows  # noqa: E402
from firmware_export.c_engine.sources import compiled_sources, library_files  # noqa: E402
from firmware_export.c_engine.target import compile_model, load_fw_info  # noqa: E402
from drsn_edge.buildinfo import load_build_info  # noqa: E402

pytest.importorskip("ai_edge_litert")

from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from needs import require_tools

L = 512
# the DRSN graph's steps: its element-wise chains and padded convolutions run fused (fuse.py); the unfused
# kernels (ABS, SUB, and ADD/MUL/PAD in every position) are held to LiteRT by test_unfused_kernels_bit_exact
DRSN_OPS = {"PAD", "RESHAPE", "CONV_2D", "PAD+CONV_2D", "MAX_POOL_2D", "MUL", "ADD", "MUL+ADD", "ABS+MEAN", "MEAN",
            "ADD+MUL+SUB+SUB", "FULLY_CONNECTED", "LOGISTIC"}
pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
ARM_FLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
             "-mfpu=fpv4-sp-d16"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("c_engine")
    ckpt, build, fw = root / "tiny.pt", root / "build", root / "fw"
    assert main(["train", "--data", "synthetic", "--epochs", "2", "--widths", "4,8,16", "--units-per-stage", "1",
                 "--window-length", str(L), "--seed", "0", "--threads", "1", "--out", str(ckpt), "--quiet"]) == 0
    assert main(["convert", str(ckpt), "--out", str(build), "--no-tflm", "--calib-size", "64", "--val-size", "40",
                 "--quiet"]) == 0
    assert main(["export", str(build), "--target", "c", "--out", str(fw)]) == 0
    return {"build": build, "fw": fw, "root": root}


def _litert(build: Path, raw: np.ndarray) -> np.ndarray:
    reference = LiteRTPredictor(build / "model_int8.tflite", load_build_info(build))
    return reference.raw_outputs(reference.network_input(raw))[0]


def _test_windows(n: int) -> np.ndarray:
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import noisy_windows

    w = load_windows("synthetic", split="test", window_length=L)
    clean = w.x[:n]
    noisy = noisy_windows(w, "laplacian", -5.0, seed=3)[:n]
    return np.concatenate([clean, noisy]).astype(np.float32)


def test_export_writes_the_contract_files(engine: dict[str, Path], tmp_path: Path) -> None:
    fw = engine["fw"]
    for name in ("drsn_model.h", "drsn_model.c", "drsn_kernels.h", "drsn_fixedpoint.h", "drsn_preprocess.h",
                 "drsn_conv.c", "drsn_fully_connected.c", "drsn_elementwise.c", "drsn_reduce.c", "drsn_pooling.c",
                 "drsn_lookup.c", "drsn_preprocess.c", "drsn_main.c", *library_files(), "Makefile", "fw.json",
                 "README.md", "model_int8.tflite"):
        assert (fw / name).is_file(), name
    header = (fw / "drsn_model.h").read_text()
    assert f"#define DRSN_WINDOW_LENGTH {L}" in header and "#define DRSN_NUM_CLASSES 10" in header
    assert "int drsn_classify(const float *window, int8_t logits[DRSN_NUM_CLASSES]);" in header
    info = load_fw_info(fw)
    assert info["window_length"] == L and info["num_classes"] == 10
    assert set(info["ops"]) == DRSN_OPS  # every kernel of the DRSN graph is exercised by the tests below
    assert info["input"]["scale"] > 0 and -128 <= info["output"]["zero_point"] <= 127
    source = (fw / "drsn_model.c").read_text()
    assert "malloc" not in source and not any("malloc" in (fw / name).read_text() for name in library_files())
    assert source.count("static int8_t drsn_arena[") == 1
    if shutil.which("make"):  # the Makefile builds the harness on its own
        copy = tmp_path / "fw"
        shutil.copytree(fw, copy)
        subprocess.run(["make", "-s", "-C", str(copy)], check=True, capture_output=True)
        assert (copy / "drsn_main").is_file()


def test_bit_exact_with_litert_reference(engine: dict[str, Path], tmp_path: Path) -> None:
    raw = _test_windows(150)
    c = run_windows([str(compile_host(engine["fw"], tmp_path))], raw, 10, tmp_path)
    ref = _litert(engine["build"], raw)
    assert c.dtype == np.int8 and c.shape == ref.shape == (300, 10)
    assert np.array_equal(c, ref), f"{int(np.sum(np.any(c != ref, axis=1)))} of 300 windows differ"
    assert len(np.unique(c.argmax(1))) > 1  # the comparison is not between constant outputs


def test_unfused_kernels_bit_exact(engine: dict[str, Path], tmp_path: Path) -> None:
    """The same graph with every op its own kernel (no fusion): the unfused kernels stay LiteRT's too, and fusion
    saves arena bytes."""
    from firmware_export.c_engine.emit import emit

    graph, steps, plan = compile_model((engine["build"] / "model_int8.tflite").read_bytes(), fused=False)
    assert {"ABS", "SUB", "PAD"} <= {s.op for s in steps} and not any("+" in s.op for s in steps)
    assert plan.size > load_fw_info(engine["fw"])["arena_bytes"]
    fw = tmp_path / "fw"
    shutil.copytree(engine["fw"], fw)
    meta = {"source": "model_int8.tflite", "name": "unfused", "classes": load_fw_info(fw)["classes"],
            "preprocessing": load_fw_info(fw)["preprocessing"]}
    for name, text in emit(graph, steps, plan, meta).items():
        (fw / name).write_text(text)
    raw = _test_windows(60)
    exe = compile_host(fw, tmp_path, "-std=c99 -O1 -Wall -Wextra -Werror -fsanitize=address,undefined "
                                     "-fno-sanitize-recover=all")
    assert np.array_equal(run_windows([str(exe)], raw, 10, tmp_path), _litert(engine["build"], raw))


def test_predictor_logits_match_litert(engine: dict[str, Path]) -> None:
    raw = _test_windows(20)
    info = load_build_info(engine["build"])
    expected = LiteRTPredictor(engine["build"] / "model_int8.tflite", info).logits(raw)
    from drsn_edge.registry import load_predictor

    predictor = load_predictor(engine["fw"])  # an exported engine directory opens as the C engine
    assert isinstance(predictor, CEnginePredictor) and predictor.classes == info.classes
    np.testing.assert_array_equal(predictor.logits(raw), expected)
    with pytest.raises(DrsnError, match="NaN"):
        predictor.logits(np.full((1, L), np.nan))


def _extreme_windows(n_random: int) -> tuple[np.ndarray, np.ndarray]:
    """Random windows at many scales plus edge cases; returns windows and a finite-mask."""
    rng = np.random.default_rng(7)
    scales = 10.0 ** rng.uniform(-30, 30, size=(n_random, 1))
    random = rng.standard_normal((n_random, L)) * scales + rng.standard_normal((n_random, 1)) * scales
    big = np.float32(3.0e38)
    alternating = np.where(np.arange(L) % 2 == 0, big, -big)
    special = [np.zeros(L), np.full(L, big), np.full(L, -big), alternating, np.full(L, 1e-45),
               np.where(np.arange(L) == 5, big, 0.0), np.linspace(-1, 1, L) * 1e20]
    bad = []
    for value in (np.nan, np.inf, -np.inf):
        for pos in (0, L // 2, L - 1):
            row = rng.standard_normal(L)
            row[pos] = value
            bad.append(row)
    x = np.concatenate([random, np.array(special), np.array(bad)]).astype(np.float32)
    return x, np.isfinite(x).all(axis=1)


def test_sanitizers_on_random_and_extreme_windows(engine: dict[str, Path], tmp_path: Path) -> None:
    x, finite = _extreme_windows(2000)
    exe = compile_host(engine["fw"], tmp_path, "-std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined "
                                              "-fno-sanitize-recover=all -fno-omit-frame-pointer")
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    x.tofile(tmp_path / "in.f32")
    done = subprocess.run([str(exe), str(tmp_path / "in.f32"), str(tmp_path / "out.i8")], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "runtime error" not in done.stderr and "AddressSanitizer" not in done.stderr
    assert f"{len(x)} windows, {int((~finite).sum())} invalid" in done.stdout
    c = np.fromfile(tmp_path / "out.i8", dtype=np.int8).reshape(len(x), 10)
    assert (c[~finite] == -128).all()
    assert np.array_equal(c[finite], _litert(engine["build"], x[finite].astype(np.float64)))


def test_arena_within_bound_and_never_overlapping(engine: dict[str, Path]) -> None:
    info = load_fw_info(engine["fw"])
    assert info["arena_lower_bound"] <= info["arena_bytes"] <= 1.25 * info["arena_lower_bound"]
    graph, steps, plan = compile_model((engine["build"] / "model_int8.tflite").read_bytes())
    assert plan.size == info["arena_bytes"]
    reshapes = [s for s in steps if s.op == "RESHAPE"]
    assert reshapes and all(plan.offsets[s.output] == plan.offsets[s.inputs[0]] for s in reshapes)  # aliases
    bufs = buffers(graph, steps)
    for b in plan.buffers:
        assert 0 <= b.offset and b.offset + b.size <= plan.size
    for i, a in enumerate(plan.buffers):
        for b in plan.buffers[i + 1:]:
            alive_together = a.first <= b.last and b.first <= a.last
            apart = a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
            assert not alive_together or apart
    assert sum(b.size for b in bufs) > plan.size  # buffers really are reused


def test_refuses_float_model_and_unknown_op(engine: dict[str, Path], tmp_path: Path) -> None:
    from quantize.tflite.graph import read_model, write_model
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    with pytest.raises(DrsnError, match="float32"):
        compile_model((engine["build"] / "model_float32.tflite").read_bytes())
    model = read_model((engine["build"] / "model_int8.tflite").read_bytes())
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode, code.version = "DrsnMystery", 1
    model.operatorCodes.append(code)
    model.subgraphs[0].operators[-1].opcodeIndex = len(model.operatorCodes) - 1
    with pytest.raises(DrsnError, match="DrsnMystery"):
        compile_model(write_model(model))
    # through the CLI: a build whose int8 entry is the float model -> one error line, no output dir
    build = tmp_path / "floaty"
    shutil.copytree(engine["build"], build)
    meta = json.loads((build / "model.json").read_text())
    meta["files"]["int8"] = "model_float32.tflite"
    (build / "model.json").write_text(json.dumps(meta))
    assert main(["export", str(build), "--target", "c", "--out", str(tmp_path / "fw")]) != 0
    assert not (tmp_path / "fw").exists()


def test_run_command_reports_agreement(engine: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run.json"
    assert main(["run", str(engine["fw"]), "--data", "synthetic", "--limit", "60", "--json", str(out),
                 "--quiet"]) == 0
    result = json.loads(out.read_text())
    assert result["windows"] == 60 and result["runner"] == "host"
    assert result["litert"]["identical_windows"] == 60 and result["litert"]["max_lsb"] == 0
    assert result["accuracy"]["c_engine"] == result["accuracy"]["litert"]
    assert result["tflm"]["top1"] >= 0.9  # TFLite Micro reported beside it (it may differ by a few LSB)
    assert "60/60" in capsys.readouterr().out
    assert main(["run", str(tmp_path), "--data", "synthetic"]) != 0
    assert "not an exported C engine" in capsys.readouterr().err


def test_bit_exact_for_channel_shared_thresholds_and_conv_shortcut(engine: dict[str, Path], tmp_path: Path) -> None:
    """DRSN-CS with 1x1 convolution shortcuts: the other graph shapes the engine must run."""
    ckpt, build, fw = tmp_path / "cs.pt", tmp_path / "build", tmp_path / "fw"
    assert main(["train", "--data", "synthetic", "--arch", "drsn-cs", "--shortcut", "conv", "--epochs", "1",
                 "--widths", "4,8", "--units-per-stage", "1", "--window-length", "256", "--seed", "1",
                 "--threads", "1", "--out", str(ckpt), "--quiet"]) == 0
    assert main(["convert", str(ckpt), "--out", str(build), "--no-tflm", "--calib-size", "32", "--val-size", "20",
                 "--quiet"]) == 0
    assert main(["export", str(build), "--target", "c", "--out", str(fw)]) == 0
    from drsn_edge.data.spec import load_windows

    raw = load_windows("synthetic", split="test", window_length=256).x[:200].astype(np.float32)
    c = run_windows([str(compile_host(fw, tmp_path))], raw, 10, tmp_path)
    assert np.array_equal(c, _litert(build, raw))
    ops = load_fw_info(fw)["ops"]
    assert ops["CONV_2D"] + ops.get("PAD+CONV_2D", 0) > 2 * 2 + 1  # the shortcut convolutions are there


def test_fixed_point_primitives(engine: dict[str, Path], tmp_path: Path) -> None:
    """gemmlowp's edge cases: saturation at INT32_MIN and rounding of halves away from zero."""
    (tmp_path / "t.c").write_text(
        '#include <stdio.h>\n#include "drsn_fixedpoint.h"\n#include "drsn_preprocess.h"\n'
        "int main(void) {\n"
        '  printf("%ld %ld %ld %ld %ld %ld\\n", (long)drsn_srdhm(INT32_MIN, INT32_MIN), (long)drsn_rdbpot(5, 1),\n'
        "         (long)drsn_rdbpot(-5, 1), (long)drsn_rdbpot(-6, 2), (long)drsn_mbqm(1000, 1073741824, 1),\n"
        "         (long)drsn_mbqm(-3, 1073741824, -1));\n"
        '  printf("%d %d %d\\n", drsn_quantize(2.5f, 1.0f, 0), drsn_quantize(3.5f, 1.0f, 0), '
        "drsn_quantize(1e30f, 0.5f, 3));\n  return 0;\n}\n")
    exe = tmp_path / "t"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{engine['fw']}", "-o", str(exe),
                    str(tmp_path / "t.c"), str(engine["fw"] / "drsn_preprocess.c"), "-lm"], check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert lines[0].split() == ["2147483647", "3", "-3", "-2", "1000", "-1"]
    assert lines[1].split() == ["2", "4", "127"]  # numpy's round half to even, then clamped


def test_compiles_for_cortex_m4(engine: dict[str, Path], tmp_path: Path) -> None:
    require_tools("arm-none-eabi-gcc", install="gcc-arm-none-eabi libnewlib-arm-none-eabi")
    gcc = shutil.which("arm-none-eabi-gcc")
    for source in compiled_sources():
        done = subprocess.run([gcc, *ARM_FLAGS, "-c", str(engine["fw"] / source), "-o",
                               str(tmp_path / (source + ".o"))], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("spread", [0.05, 3.0, 40.0])
def test_logistic_table_matches_litert_on_every_input(spread: float) -> None:
    """The int8 LOGISTIC lookup table (float expf in LiteRT's Prepare) for all 256 inputs, at three input scales."""
    import tensorflow as tf

    from firmware_export.c_engine.graph import load_graph
    from firmware_export.c_engine.quant import logistic_table

    rng = np.random.default_rng(0)

    @tf.function(input_signature=[tf.TensorSpec((1, 256), tf.float32)])
    def sigmoid(x):
        return tf.math.sigmoid(x)

    def representative():
        for _ in range(16):
            yield [(rng.uniform(-1, 1, (1, 256)) * spread + 0.1 * spread).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([sigmoid.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    data = converter.convert()
    graph = load_graph(data)
    assert [op.name for op in graph.ops] == ["LOGISTIC"]
    inp = graph.tensors[graph.inputs[0]]

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    values = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    it.set_tensor(it.get_input_details()[0]["index"], values)
    it.invoke()
    expected = it.get_tensor(it.get_output_details()[0]["index"]).ravel()
    table = np.array(logistic_table(inp.scale, inp.zero_point), dtype=np.int8)
    np.testing.assert_array_equal(table[values.ravel().view(np.uint8)], expected)


def _other_ops_model() -> bytes:
    """Kernel paths the DRSN graphs do not take: grouped 3x3 conv + RELU6, dilated 2-D conv + RELU_N1_TO_1,
    2x2 SAME max pool with padding, PADV2 with a constant, FC without bias."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    wc = tf.constant(rng.standard_normal((3, 3, 2, 8)).astype(np.float32) * 0.4)  # 4 input channels: 2 groups
    wd = tf.constant(rng.standard_normal((2, 3, 8, 6)).astype(np.float32) * 0.3)
    wf = tf.constant(rng.standard_normal((90, 5)).astype(np.float32) * 0.1)

    @tf.function(input_signature=[tf.TensorSpec((1, 512), tf.float32)])
    def f(x):
        h = tf.nn.relu6(tf.nn.conv2d(tf.reshape(x, (1, 8, 16, 4)), wc, strides=(1, 2), padding="SAME"))
        h = tf.clip_by_value(tf.nn.conv2d(h, wd, strides=1, padding="VALID", dilations=(1, 2)), -1.0, 1.0)
        h = tf.pad(tf.nn.max_pool2d(h, 2, 2, "SAME"), [[0, 0], [1, 0], [0, 1], [0, 0]], constant_values=0.5)
        return tf.nn.relu(tf.matmul(tf.reshape(h, (1, 90)), wf))

    def representative():
        for _ in range(32):
            yield [rng.standard_normal((1, 512)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def test_bit_exact_on_other_kernel_paths(tmp_path: Path) -> None:
    from drsn_edge.preprocess import Preprocessing
    from drsn_edge.buildinfo import BuildInfo

    build = tmp_path / "build"
    build.mkdir()
    (build / "model_int8.tflite").write_bytes(_other_ops_model())
    info = BuildInfo(name="ops", classes=[f"c{i}" for i in range(5)], files={"int8": "model_int8.tflite"},
                     preprocessing=Preprocessing(window_length=512, normalisation="none"))
    info.save(build)
    assert main(["export", str(build), "--target", "c", "--out", str(tmp_path / "fw")]) == 0
    ops = load_fw_info(tmp_path / "fw")["ops"]
    assert {"CONV_2D", "MAX_POOL_2D", "PADV2", "FULLY_CONNECTED"} <= set(ops)
    x = (np.random.default_rng(5).standard_normal((300, 512)) * 1.5).astype(np.float32)
    exe = compile_host(tmp_path / "fw", tmp_path, "-std=c99 -O1 -Wall -Wextra -Werror -fsanitize=address,undefined "
                                                  "-fno-sanitize-recover=all")
    c = run_windows([str(exe)], x, 5, tmp_path)
    ref = LiteRTPredictor(build / "model_int8.tflite", info).raw_outputs(x)[0]
    assert np.array_equal(c, ref)
    assert len(np.unique(c)) > 10


def _offsets(shape: list[int], strides: list[int]) -> np.ndarray:
    """Element offset of every position of ``shape`` in row-major order."""
    grids = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return sum(g * s for g, s in zip(grids, strides)).ravel()


@pytest.mark.parametrize("a_shape,b_shape", [([1, 3, 5, 4], [1, 1, 1, 4]), ([2, 3, 5, 4], [2, 3, 5, 4]),
                                             ([1, 1, 512, 4], [1, 1, 1, 1]), ([1, 3, 1, 4], [1, 3, 5, 1])])
def test_merged_broadcast_axes_visit_the_same_elements(a_shape: list[int], b_shape: list[int]) -> None:
    from firmware_export.c_engine.lower import _broadcast_strides, _merge_axes

    out = [max(x, y) for x, y in zip(a_shape, b_shape)]
    s1, s2 = _broadcast_strides(a_shape, out, "ADD"), _broadcast_strides(b_shape, out, "ADD")
    merged, m1, m2 = _merge_axes(out, s1, s2)
    assert len(merged) == 4 and np.prod(merged) == np.prod(out)
    assert np.array_equal(_offsets(out, s1), _offsets(merged, m1))
    assert np.array_equal(_offsets(out, s2), _offsets(merged, m2))


def test_merged_pad_axes_place_every_byte_alike() -> None:
    from firmware_export.c_engine.lower import _merge_unpadded

    def padded(shape: list[int], before: list[int], out: list[int]) -> np.ndarray:
        x = np.arange(1, np.prod(shape) + 1).reshape(shape)
        y = np.zeros(out, np.int64)
        y[tuple(slice(b, b + n) for b, n in zip(before, shape))] = x
        return y.ravel()

    for shape, before, out in (([1, 1, 2048, 1], [0, 0, 1, 0], [1, 1, 2050, 1]),
                               ([1, 1, 256, 4], [0, 0, 0, 0], [1, 1, 256, 8]),
                               ([1, 3, 5, 2], [0, 1, 0, 0], [1, 5, 5, 2])):
        merged = _merge_unpadded(shape, before, out)
        assert np.array_equal(padded(shape, before, out), padded(*merged))
