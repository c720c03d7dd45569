"""The bundle's model: its config.json, a TFLite interpreter for it, and one window in -> class out."""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .messages import RunnerError
from .preprocessing import int8_window, preprocess, quantize_input


def load_config(path: str) -> dict:
    """The bundle's ``config.json``: classes, preprocessing, model file."""
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except OSError as exc:
        raise RunnerError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RunnerError(f"config {path} is not valid JSON: {exc}") from None
    for key in ("classes", "preprocessing", "model"):
        if not isinstance(config, dict) or key not in config:
            raise RunnerError(f"config {path} lacks '{key}'")
    check_config(config, f"config {path}")
    return config


def _number(value: object, what: str, low: float, high: float) -> float:
    """A finite number in [low, high] (booleans and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise RunnerError(f"{what} is {value!r}; it must be a number from {low:g} to {high:g}")
    return float(value)


MAX_WINDOW = 1 << 20  # samples; far above any bearing model, far below what would exhaust a Pi's memory
MAX_RATE = 1e7  # Hz


def check_config(config: dict, where: str) -> None:
    """Refuse a config whose fields the runner would trip over later (types, ranges, non-finite numbers)."""
    classes, pre, model = config["classes"], config["preprocessing"], config["model"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes) \
            or len(set(classes)) != len(classes):
        raise RunnerError(f"{where}: 'classes' must be a list of distinct non-empty names")
    if not isinstance(model, str) or not model or os.path.basename(model) != model or model.startswith("."):
        raise RunnerError(f"{where}: 'model' must be a file name beside the config")
    if not isinstance(pre, dict):
        raise RunnerError(f"{where}: 'preprocessing' must be an object")
    if pre.get("normalisation", "window") not in ("window", "global", "none"):
        raise RunnerError(f"{where}: unknown normalisation {pre.get('normalisation')!r}")
    length = pre.get("window_length", config.get("window_length"))
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_WINDOW:
        raise RunnerError(f"{where}: window length is {length!r}; it must be a whole number from 1 to {MAX_WINDOW}")
    _number(pre.get("sample_rate", config.get("sample_rate")), f"{where}: sample rate", 1e-3, MAX_RATE)
    _number(pre.get("eps", 1e-6), f"{where}: eps", 0.0, 1e6)
    _number(pre.get("mean", 0.0), f"{where}: mean", -1e30, 1e30)
    if _number(pre.get("std", 1.0), f"{where}: std", 0.0, 1e30) == 0.0:
        raise RunnerError(f"{where}: std is 0; it must be positive")
    normal = config.get("normal_class")
    if normal is not None and normal not in classes:
        raise RunnerError(f"{where}: normal class {normal!r} is not one of the classes")
    unknown = config.get("unknown")
    if unknown is not None:
        threshold = unknown.get("threshold") if isinstance(unknown, dict) else None
        if not isinstance(unknown, dict) or unknown.get("score", "margin") != "margin" \
                or isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 255:
            raise RunnerError(f"{where}: 'unknown' must be {{\"score\": \"margin\", \"threshold\": 0 to 255}}")
        if "unknown" in classes:
            raise RunnerError(f"{where}: a class is named 'unknown', the name of windows the model does not answer")


def load_interpreter(model_path: str, reference: bool, threads: int | None):
    """A TFLite interpreter from the first runtime installed; ``reference`` selects the reference kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    candidates = (("ai_edge_litert.interpreter", None), ("tflite_runtime.interpreter", None), ("tensorflow", "lite"))
    for module_name, attr in candidates:
        try:
            module = __import__(module_name, fromlist=["Interpreter"])
        except ImportError:
            continue
        if attr:
            module = getattr(module, attr)
        resolver_types = getattr(module, "OpResolverType", None) or getattr(
            getattr(module, "experimental", None), "OpResolverType", None)
        kwargs: dict = {"model_path": model_path}
        if threads:
            kwargs["num_threads"] = threads
        if resolver_types is not None:
            kwargs["experimental_op_resolver_type"] = (
                resolver_types.BUILTIN_REF if reference else resolver_types.AUTO)
        elif reference:
            raise RunnerError(f"{module_name} has no reference kernels; run with --kernels optimized")
        try:
            interpreter = module.Interpreter(**kwargs)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise RunnerError(f"cannot load {model_path}: {str(exc).splitlines()[0]}") from None
        return interpreter, module_name
    raise RunnerError("no TFLite interpreter found: pip install ai-edge-litert (or tflite-runtime)")


def unknown_score(raw: np.ndarray) -> int:
    """Top-1 minus top-2 of the int8 outputs (what `drsn-edge convert` calibrated the threshold on)."""
    ordered = np.sort(raw.astype(np.int32).ravel())
    return int(ordered[-1] - ordered[-2])


class Model:
    """The int8 model: raw window in, (class index, confidence, raw scores) out."""

    def __init__(self, config: dict, model_path: str, reference: bool, threads: int | None) -> None:
        self.classes = [str(c) for c in config["classes"]]
        # windows whose unknown_score is below it are reported as "unknown"; None: every window is answered
        self.unknown_threshold = config["unknown"]["threshold"] if config.get("unknown") else None
        self.pre = dict(config["preprocessing"])
        self.window_length = int(self.pre.get("window_length", config.get("window_length", 0)))
        self.sample_rate = float(self.pre.get("sample_rate", config.get("sample_rate", 0)))
        if self.window_length < 1 or self.sample_rate <= 0:
            raise RunnerError("config has no window length or sample rate")
        self.interpreter, self.runtime = load_interpreter(model_path, reference, threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.in_dtype = np.dtype(self.input["dtype"])
        if int(np.prod(self.input["shape"])) != self.window_length:
            raise RunnerError(f"model input {list(self.input['shape'])} does not hold {self.window_length} samples")
        if self.unknown_threshold is not None and np.dtype(self.output["dtype"]) != np.int8:
            raise RunnerError("config has an 'unknown' threshold but the model's output is not int8")
        outputs = int(np.prod(self.output["shape"]))
        if outputs != len(self.classes):
            raise RunnerError(f"the model has {outputs} outputs but the config names {len(self.classes)} classes")

    def input_tensor(self, window: np.ndarray) -> np.ndarray | None:
        """What the interpreter is given for one raw window: the integer int8 input (int8 models, "window"
        normalisation), else preprocessed and quantised; None when it is not finite (e.g. samples of 1e308)."""
        if self.in_dtype == np.int8 and self.pre.get("normalisation", "window") == "window":
            scale, zero = self.input["quantization"]
            q = int8_window(window, float(self.pre.get("eps", 1e-6)), float(scale), int(zero))
            return None if q is None else q.reshape(self.input["shape"])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x = preprocess(window[None, :], self.pre).reshape(self.input["shape"]).astype(np.float32)
        if not np.isfinite(x).all():
            return None
        if self.in_dtype != np.float32:
            scale, zero = self.input["quantization"]
            x = quantize_input(x, scale, zero, self.in_dtype)
        return x

    def classify(self, window: np.ndarray) -> tuple[int, float, np.ndarray] | None:
        """(class, confidence, raw outputs), or None for a window refused as non-finite after preprocessing."""
        x = self.input_tensor(window)
        if x is None:
            return None
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.output["index"])[0].copy()
        logits = raw.astype(np.float32)
        if np.dtype(self.output["dtype"]) != np.float32:
            scale, zero = self.output["quantization"]
            logits = (logits - zero) * np.float32(scale)
        if not np.isfinite(logits).all():
            raise RunnerError("the model produced non-finite outputs (a damaged model file?)")
        p = np.exp(logits - logits.max())
        p /= p.sum()
        k = int(np.argmax(logits))
        return k, float(p[k]), raw
