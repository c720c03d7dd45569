"""TFLite Micro on the host: predictor, arena probing, bit-level comparison with LiteRT-reference.

The models are built here (small TensorFlow graphs converted to full int8 with
a random representative set), so nothing depends on files outside the test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from drsn_edge.errors import DrsnError  # noqa: E402
from drsn_edge.preprocess import Preprocessing  # noqa: E402
from drsn_edge.buildinfo import BuildInfo  # noqa: E402

pytest.importorskip("tflite_micro")
pytest.importorskip("ai_edge_litert")

from quantize.runtimes.litert import LiteRTPredictor  # noqa: E402
from quantize.tflite.graph import read_model, write_model  # noqa: E402
from quantize.runtimes.tflm import TFLMPredictor, compare_int_outputs, probe_arena  # noqa: E402
from quantize.validate.divergence import first_divergence  # noqa: E402

L = 128
pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")


def _int8(fn, seed: int = 0) -> bytes:
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(32):
            yield [rng.standard_normal((1, L, 1)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def _with_custom_op(data: bytes, name: str) -> bytes:
    """The same graph with its last op turned into a custom op ``name`` (which no runtime has)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = read_model(data)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = name
    code.version = 1
    model.operatorCodes.append(code)
    op = model.subgraphs[0].operators[-1]
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None
    return write_model(model)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tensorflow as tf

    rng = np.random.default_rng(1)
    w1 = tf.constant(rng.standard_normal((7, 1, 8)).astype(np.float32) * 0.5)
    w2 = tf.constant(rng.standard_normal((8, 64)).astype(np.float32))
    b2 = tf.constant(rng.standard_normal(64).astype(np.float32) * 0.1)
    w3 = tf.constant(rng.standard_normal((64, 5)).astype(np.float32) * 0.3)
    wc1 = tf.constant(rng.standard_normal((5, 1, 4)).astype(np.float32) * 0.5)
    wc2 = tf.constant(rng.standard_normal((3, 4, 3)).astype(np.float32) * 0.5)
    spec = [tf.TensorSpec((1, L, 1), tf.float32)]

    @tf.function(input_signature=spec)
    def fc_model(x):  # conv -> max pool -> FC + relu -> FC: int8 FCs, where the runtimes can differ
        h = tf.nn.relu(tf.nn.conv1d(x, w1, 2, "SAME"))
        a = tf.nn.relu(tf.matmul(tf.reduce_max(h, axis=1), w2) + b2)
        return tf.matmul(a, w3)

    @tf.function(input_signature=spec)
    def conv_model(x):  # convolutions only: both runtimes requantise the same way
        h = tf.nn.relu(tf.nn.conv1d(x, wc1, 2, "SAME"))
        return tf.reshape(tf.nn.conv1d(h, wc2, 2, "SAME"), (1, -1))

    @tf.function(input_signature=[tf.TensorSpec((1, 16), tf.float32)])
    def sign_model(x):  # float SIGN: TFLite Micro has no kernel for it
        return tf.math.sign(x) * 2.0

    sign = tf.lite.TFLiteConverter.from_concrete_functions([sign_model.get_concrete_function()]).convert()
    root = tmp_path_factory.mktemp("tflm")
    fc = _int8(fc_model)
    paths = {"fc": fc, "conv": _int8(conv_model), "sign": sign, "custom": _with_custom_op(fc, "DrsnMystery")}
    for name, data in paths.items():
        (root / f"{name}.tflite").write_bytes(data)
    return {name: root / f"{name}.tflite" for name in paths}


def _build(classes: int) -> BuildInfo:
    return BuildInfo(name="tiny", classes=[f"c{i}" for i in range(classes)],
                     preprocessing=Preprocessing(window_length=L))


def _windows(n: int, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, L)).astype(np.float32)


def test_tflm_predictor_matches_litert_reference(models: dict[str, Path]) -> None:
    build = _build(5)
    tflm = TFLMPredictor(models["fc"], build)
    ref = LiteRTPredictor(models["fc"], build)
    x = _windows(128)
    a, b = tflm.raw_outputs(x), ref.raw_outputs(x)[0]
    assert tflm.name == "tflm-int8"
    assert a.dtype == np.int8 and a.shape == (128, 5)
    stats = compare_int_outputs(a, b)
    assert stats["max_lsb"] <= 1
    assert stats["top1_agreement"] >= 0.98
    logits = tflm.logits_preprocessed(x)
    scale = tflm.output_quant[0]
    assert logits.shape == (128, 5) and logits.dtype == np.float32
    assert np.abs(logits - ref.logits_preprocessed(x)).max() <= scale * 1.001
    assert tflm.logits_preprocessed(x[:0]).shape == (0, 5)
    # a model where both requantise identically is bit-exact
    conv = compare_int_outputs(TFLMPredictor(models["conv"], _build(96)).raw_outputs(x[:32]),
                               LiteRTPredictor(models["conv"], _build(96)).raw_outputs(x[:32])[0])
    assert conv["identical_windows"] == 32 and conv["max_lsb"] == 0


def _runs_in_subprocess(path: Path, arena: int) -> bool:
    code = ("import sys, numpy as np\n"
            "from tflite_micro.python.tflite_micro import runtime\n"
            "it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))\n"
            "d = it.get_input_details(0)\n"
            "it.set_input(np.zeros(tuple(d['shape']), d['dtype']), 0)\n"
            "it.invoke()\n")
    result = subprocess.run([sys.executable, "-c", code, str(path), str(arena)], capture_output=True, timeout=120)
    return result.returncode == 0


def test_probe_arena_finds_a_working_minimum(models: dict[str, Path]) -> None:
    result = probe_arena(models["fc"], _windows(2), headroom=0.1)
    minimum, recommended = result["min_bytes"], result["recommended_bytes"]
    assert result["verified"] is True
    assert minimum > 0 and minimum % 16 == 0
    assert recommended % 16 == 0 and recommended >= minimum * 1.1
    reported = result["reported_by_runtime"]
    assert reported is None or reported > 0
    assert _runs_in_subprocess(models["fc"], minimum)
    assert not _runs_in_subprocess(models["fc"], int(minimum * 0.75) // 16 * 16)
    # the recommended arena gives the same outputs as a generous one
    x = _windows(16)
    tight = TFLMPredictor(models["fc"], _build(5), arena_size=recommended).raw_outputs(x)
    assert np.array_equal(tight, TFLMPredictor(models["fc"], _build(5)).raw_outputs(x))


def test_compare_int_outputs_counts() -> None:
    a = np.array([[10, 0, -5], [3, 4, 5], [0, 0, 1], [7, -7, 7]], np.int8)
    b = np.array([[10, 0, -5], [3, 2, 5], [0, 1, 0], [7, -7, 7]], np.int8)
    assert compare_int_outputs(a, b) == {"windows": 4, "identical_windows": 2, "max_lsb": 2, "top1_agreement": 0.75}
    # int8 extremes do not overflow
    assert compare_int_outputs(np.array([[-128, 127]], np.int8), np.array([[127, -128]], np.int8))["max_lsb"] == 255
    with pytest.raises(DrsnError):
        compare_int_outputs(a, b[:, :2])


def test_unsupported_ops_are_refused_by_name(models: dict[str, Path]) -> None:
    with pytest.raises(DrsnError, match="SIGN"):
        TFLMPredictor(models["sign"], BuildInfo(name="s", classes=["a"], preprocessing=Preprocessing(window_length=16)))
    with pytest.raises(DrsnError, match="DrsnMystery"):
        TFLMPredictor(models["custom"], _build(5))
    with pytest.raises(DrsnError, match="SIGN"):
        probe_arena(models["sign"])


def test_first_divergence(models: dict[str, Path]) -> None:
    x = _windows(64)
    assert first_divergence(models["conv"], x) is None
    found = first_divergence(models["fc"], x)
    assert found is not None
    assert set(found) >= {"op_index", "op", "tensor", "max_lsb", "windows_affected", "explanation"}
    assert found["op"] == "FULLY_CONNECTED"
    assert found["max_lsb"] == 1
    assert 1 <= found["windows_affected"] <= 64
    assert isinstance(found["tensor"], str) and found["tensor"]
    assert "Reproduced bit for bit" in found["explanation"]
