"""TensorFlow Lite Micro on the host: predictor, arena sizing, bit-level comparison.

The ``tflite_micro`` Python package runs the real TFLM kernels (reference
kernels, as on a microcontroller without an optimised kernel library), so the
int8 outputs here are what a device running the same ``.tflite`` computes.

* :class:`TFLMPredictor` is a :class:`drsn_edge.predictor.Predictor` like the
  LiteRT one: same input quantisation, same output dequantisation.
* :func:`probe_arena` finds the smallest tensor arena that allocates *and* runs
  the model. Every probe runs in a subprocess: too small an arena can crash
  the interpreter, which must not take the caller down.
* :func:`compare_int_outputs` compares the int outputs of two runtimes bit for
  bit; :func:`quantize.validate.divergence.first_divergence` finds the first op
  where TFLM and LiteRT's reference kernels part, and why.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from drsn_edge.errors import DrsnError
from drsn_edge.buildinfo import BuildInfo
from drsn_edge.registry import Runtime, register_runtime
from quantize.runtimes.base import BuildPredictor, dequantize, quantize_input
from quantize.tflite.graph import op_names, read_model

ARENA_ALIGNMENT = 16  # TFLM aligns every arena allocation to 16 bytes


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DrsnError(f"TFLite Micro's Python runtime is not installed ({exc}); pip install tflite-micro") from None
    return runtime


def _default_arena(data: bytes) -> int:
    """Generous host arena: memory is cheap here, a too-small arena is not."""
    return max(4 << 20, 16 * len(data))


@contextmanager
def _native_stderr() -> Iterator[list[str]]:
    """Capture what native code writes to file descriptor 2 (TFLM's MicroPrintf goes there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    captured: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode(errors="replace"))


def _explain_load_failure(log: str, model, arena_size: int) -> str:
    """Turn TFLM's log of a failed AllocateTensors into one line naming the cause."""
    ops = op_names(model)
    found = re.search(r"Didn't find op for builtin opcode '(\w+)'", log)
    if found:
        return f"TFLite Micro has no kernel for op {found.group(1)}"
    found = re.search(r"Failed to get registration from op code (\w+)", log)
    if found:
        name = found.group(1)
        if name == "CUSTOM":
            customs = sorted({op for op in ops if op.startswith("CUSTOM")})
            return f"TFLite Micro has no kernel for custom op {', '.join(customs) or 'CUSTOM'}"
        return f"TFLite Micro has no kernel for op {name}"
    if re.search(r"Failed to allocate|Unable to allocate|Failed to resize buffer|Too many buffers", log):
        return f"the TFLite Micro arena of {arena_size} bytes is too small for this model"
    found = re.search(r"Node (\S+) \(number (\d+)\) failed to prepare", log)
    if found:
        lines = [line.strip() for line in log[:found.start()].splitlines() if line.strip()]
        reason = f": {lines[-1]}" if lines else ""
        return f"TFLite Micro cannot run op {found.group(1)} (op #{found.group(2)}){reason}"
    detail = " ".join(line.strip() for line in log.splitlines() if line.strip())[:200]
    return "TFLite Micro cannot load the model" + (f": {detail}" if detail else "")


def load_interpreter(data: bytes, arena_size: int | None = None, preserve_all_tensors: bool = False,
                     name: str = "model"):
    """A TFLM interpreter for ``data``; unsupported ops and too-small arenas become :class:`DrsnError`.

    Loading in-process is safe as long as the arena is generous (the default);
    use :func:`probe_arena` to try tight arena sizes.
    """
    runtime = _runtime()
    model = read_model(data)
    if len(model.subgraphs) != 1:
        raise DrsnError(f"{name}: expected one subgraph, found {len(model.subgraphs)}")
    arena = int(arena_size) if arena_size is not None else _default_arena(data)
    config = runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors \
        else runtime.InterpreterConfig.kAllocationRecording

    def attempt(size: int):
        with _native_stderr() as log:
            try:
                interpreter = runtime.Interpreter.from_bytes(data, arena_size=size, intrepreter_config=config)
            except (RuntimeError, ValueError):
                interpreter = None
        return interpreter, log[0]

    interpreter, log = attempt(arena)
    if interpreter is None:
        generous = _default_arena(data)
        if arena < generous and attempt(generous)[0] is not None:
            first = next((line.strip() for line in log.splitlines() if line.strip()), "")
            raise DrsnError(f"{name}: the TFLite Micro arena of {arena} bytes is too small for this model"
                            + (f" ({first})" if first else "")) from None
        raise DrsnError(f"{name}: {_explain_load_failure(log, model, arena)}") from None
    if log.strip():
        sys.stderr.write(log)
    return interpreter, model


def _quantization(details: dict) -> tuple[float, int] | None:
    params = details.get("quantization_parameters", {})
    scales, zeros = params.get("scales"), params.get("zero_points")
    if scales is None or len(scales) == 0:
        return None
    return float(scales[0]), int(zeros[0]) if zeros is not None and len(zeros) else 0


class TFLMPredictor(BuildPredictor):
    """A .tflite model in TensorFlow Lite Micro's host interpreter (the microcontroller kernels)."""

    def __init__(self, path: Path, build: BuildInfo, arena_size: int | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise DrsnError(f"model not found: {path}")
        super().__init__(path, build, "tflm-int8")
        self.interpreter, _ = load_interpreter(path.read_bytes(), arena_size, name=path.name)
        self.input = self.interpreter.get_input_details(0)
        self.output = self.interpreter.get_output_details(0)
        self.input_dtype = np.dtype(self.input["dtype"])
        self.input_shape = tuple(int(v) for v in self.input["shape"])
        self.input_quant = _quantization(self.input)
        self.output_quant = _quantization(self.output)

    def input_int8(self) -> tuple[float, int] | None:
        return self.input_quant if self.input_dtype == np.int8 else None

    def _quantize(self, row: np.ndarray) -> np.ndarray:
        """One window: already the int8 input (:meth:`network_input`), or float to be quantised."""
        if np.asarray(row).dtype == self.input_dtype != np.float32:
            return np.asarray(row).reshape(self.input_shape)
        tensor = np.asarray(row, np.float32).reshape(self.input_shape)
        if self.input_dtype == np.float32:
            return tensor
        if self.input_quant is None:
            raise DrsnError(f"{self.path.name}: integer input without quantisation parameters")
        scale, zero = self.input_quant
        return quantize_input(tensor, scale, zero, self.input_dtype)

    def _run(self, row: np.ndarray) -> np.ndarray:
        self.interpreter.set_input(self._quantize(row), 0)
        try:
            self.interpreter.invoke()
        except RuntimeError as exc:
            raise DrsnError(f"{self.path.name}: TFLite Micro invoke failed ({exc})") from None
        return np.asarray(self.interpreter.get_output(0))

    def raw_outputs(self, x: np.ndarray) -> np.ndarray:
        """Output 0 as stored (int8 for a deployable model), (N, classes), for bit-level comparison."""
        rows = [self._run(row).reshape(-1) for row in x]
        if not rows:
            return np.zeros((0, int(np.prod(self.output["shape"][1:]))), np.dtype(self.output["dtype"]))
        return np.stack(rows)

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        is_float = np.dtype(self.output["dtype"]) == np.float32
        return dequantize(self.raw_outputs(x), None if is_float else self.output_quant)


# --- arena probing ---------------------------------------------------------------------------------

# Runs in a fresh interpreter with only numpy and tflite_micro imported (no torch, no TensorFlow),
# so a probe costs a fraction of a second. argv: mode model arena inputs.npy outputs.bin
#   mode "ref":   quantise float windows (or zeros) to inputs.npy, run, write outputs, print allocations
#   mode "check": run inputs.npy, exit 0 iff the outputs equal outputs.bin
_PROBE_CHILD = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
mode, model_path, arena, inputs_path, outputs_path = sys.argv[1:6]
arena = int(arena)
data = open(model_path, "rb").read()
try:
    it = runtime.Interpreter.from_bytes(data, arena_size=arena)
except Exception as exc:
    print("LOAD_FAILED", exc, flush=True)
    sys.exit(3)
n_out = len(runtime.convert_bytearray_to_object(bytearray(data)).subgraphs[0].outputs)
details = it.get_input_details(0)
shape = tuple(int(v) for v in details["shape"])
dtype = np.dtype(details["dtype"])
if mode == "ref":
    windows = np.load(inputs_path)
    if windows.size == 0:
        windows = np.zeros((1,) + shape, np.float32)
    rows = []
    for w in windows:
        w = np.asarray(w, np.float32).reshape(shape)
        if dtype != np.float32:
            scale = float(details["quantization_parameters"]["scales"][0])
            zero = int(details["quantization_parameters"]["zero_points"][0])
            info = np.iinfo(dtype)
            w = np.clip(np.round(w / scale) + zero, info.min, info.max).astype(dtype)
        rows.append(w)
    inputs = np.stack(rows)
    np.save(inputs_path, inputs)
else:
    inputs = np.load(inputs_path)
out = bytearray()
for row in inputs:
    it.set_input(row, 0)
    it.invoke()
    for i in range(n_out):
        out += np.asarray(it.get_output(i)).tobytes()
if mode == "ref":
    open(outputs_path, "wb").write(bytes(out))
    it.print_allocations()
    sys.exit(0)
sys.exit(0 if bytes(out) == open(outputs_path, "rb").read() else 4)
"""


def _round_up(value: float, step: int = ARENA_ALIGNMENT) -> int:
    return int(math.ceil(value / step) * step)


class _Prober:
    def __init__(self, model_path: Path, workdir: Path, timeout: float) -> None:
        self.model_path = model_path
        self.inputs = workdir / "inputs.npy"
        self.outputs = workdir / "outputs.bin"
        self.timeout = timeout
        self.launches = 0
        self.results: dict[int, bool] = {}

    def run(self, mode: str, arena: int) -> subprocess.CompletedProcess:
        self.launches += 1
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        try:
            return subprocess.run(
                [sys.executable, "-c", _PROBE_CHILD, mode, str(self.model_path), str(arena),
                 str(self.inputs), str(self.outputs)],
                capture_output=True, text=True, timeout=self.timeout, env=env)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([], returncode=-1, stdout="", stderr="timeout")

    def ok(self, arena: int) -> bool:
        """True iff the model allocates, runs and gives the reference outputs with ``arena`` bytes."""
        if arena not in self.results:
            self.results[arena] = self.run("check", arena).returncode == 0
        return self.results[arena]


def probe_arena(model_path: Path, windows: np.ndarray | None = None, headroom: float = 0.1,
                timeout: float = 60.0) -> dict:
    """Smallest TFLM arena (bytes, 16-byte grid) with which the model allocates and runs correctly.

    A reference run with a generous arena (in a subprocess) records the outputs
    and what TFLM's recording allocator reports as used; the search starts
    there, gallops outwards until it brackets the threshold, and bisects down to
    16 bytes. Each probe is a subprocess that must load the model, run the
    windows (the first two of ``windows``, float network input; zeros if None)
    and reproduce the reference outputs exactly. The recommended size adds
    ``headroom`` and is verified by one more subprocess run.

    The runtime's report is the footprint *after* allocation; while allocating,
    TFLM's greedy memory planner also needs temporary scratch at the head of the
    arena (a record per buffer), so the true minimum can be well above it: for
    the 237-op DRSN-CW int8 model 69,680 bytes against 56,688 reported.
    Host and device use the same allocator code, but size a device arena from
    ``recommended_bytes`` and 16-byte align it.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise DrsnError(f"model not found: {model_path}")
    data = model_path.read_bytes()
    read_model(data)  # a clear error for a file that is no flatbuffer
    big = _default_arena(data)
    with tempfile.TemporaryDirectory(prefix="tflm_arena_") as tmp:
        prober = _Prober(model_path, Path(tmp), timeout)
        sample = np.zeros((0,), np.float32) if windows is None else np.asarray(windows, np.float32)[:2]
        np.save(prober.inputs, sample)
        ref = prober.run("ref", big)
        if ref.returncode != 0:
            if "LOAD_FAILED" in ref.stdout:
                reason = _explain_load_failure(ref.stderr, read_model(data), big)
            else:
                tail = (ref.stderr or ref.stdout).strip()[-200:]
                reason = f"the reference run failed (exit {ref.returncode}): {tail}"
            raise DrsnError(f"{model_path.name}: {reason}")
        found = re.search(r"Arena allocation total (\d+) bytes", ref.stderr)
        reported = int(found.group(1)) if found else None
        prober.results[big] = True

        if reported is not None and reported < big:
            guess = _round_up(reported)
            step = 256
            if prober.ok(guess):
                hi, lo = guess, None
                while lo is None:
                    candidate = max(ARENA_ALIGNMENT, hi - step)
                    if candidate == hi:
                        lo = 0
                    elif prober.ok(candidate):
                        hi, step = candidate, step * 4
                    else:
                        lo = candidate
            else:
                lo, hi = guess, None
                while hi is None:
                    candidate = min(big, lo + step)
                    if prober.ok(candidate):
                        hi = candidate
                    else:
                        lo, step = candidate, step * 4
        else:
            lo, hi = 0, big
        while hi - lo > ARENA_ALIGNMENT:
            mid = _round_up((lo + hi) / 2)
            if mid >= hi:
                mid = hi - ARENA_ALIGNMENT
            if prober.ok(mid):
                hi = mid
            else:
                lo = mid
        minimum = hi
        recommended = _round_up(minimum * (1.0 + headroom))
        verified = prober.run("check", recommended).returncode == 0
        return {"min_bytes": minimum, "recommended_bytes": recommended, "verified": verified,
                "reported_by_runtime": reported, "probes": prober.launches}


# --- comparison ------------------------------------------------------------------------------------

def compare_int_outputs(a: np.ndarray, b: np.ndarray) -> dict:
    """Bit-level agreement of two (N, K) integer outputs of two runtimes on the same windows."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise DrsnError(f"cannot compare outputs of shapes {a.shape} and {b.shape} (need equal (N, K))")
    diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
    n = int(a.shape[0])
    return {"windows": n,
            "identical_windows": int(np.sum(np.all(diff == 0, axis=1))) if n else 0,
            "max_lsb": int(diff.max()) if diff.size else 0,
            "top1_agreement": float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1))) if n else None}


def _on_build(path: Path, info: BuildInfo) -> TFLMPredictor:
    """The int8 model in TFLite Micro, with the arena ``convert`` measured for it (if it did)."""
    return TFLMPredictor(path, info, arena_size=info.extra.get("tflm_arena_bytes"))


register_runtime(Runtime("tflm", "TensorFlow Lite Micro", model=_on_build, roles=("int8",), order=30))
