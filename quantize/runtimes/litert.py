"""LiteRT (the TensorFlow Lite interpreter): float32, int8 and int16x8 models; the reference kernels are
the bit-exact baseline every other integer runtime is compared with."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from drsn_edge.buildinfo import BuildInfo, load_build_info
from drsn_edge.errors import DrsnError
from drsn_edge.registry import Runtime, build_file, register_runtime
from quantize.runtimes.base import BuildPredictor, dequantize, quantize_input


class LiteRTPredictor(BuildPredictor):
    """A .tflite model in LiteRT; ``reference=True`` uses the reference kernels (bit-exact baseline)."""

    def __init__(self, path: Path, build: BuildInfo, reference: bool = True, name: str | None = None) -> None:
        from quantize.quiet import quiet_native

        with quiet_native():
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
        try:
            self.interpreter = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DrsnError(f"LiteRT cannot load {path.name}: {str(exc).splitlines()[0]}") from None
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()
        dtype = np.dtype(self.input["dtype"])
        kind = "float" if dtype == np.float32 else ("int16x8" if dtype == np.int16 else "int8")
        super().__init__(path, build, name or f"litert-{kind}" + ("" if reference else "-xnnpack"))
        self.kind = kind

    def input_int8(self) -> tuple[float, int] | None:
        if np.dtype(self.input["dtype"]) != np.int8:
            return None
        scale, zero = self.input["quantization"]
        return float(scale), int(zero)

    def _run(self, row: np.ndarray) -> list[np.ndarray]:
        """One window: already the int8 input (:meth:`network_input`), or float to be quantised."""
        dtype = np.dtype(self.input["dtype"])
        tensor = row.reshape(self.input["shape"])
        if tensor.dtype != dtype:
            tensor = tensor.astype(np.float32)
            if dtype != np.float32:
                scale, zero = self.input["quantization"]
                tensor = quantize_input(tensor, scale, zero, dtype)
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(o["index"]) for o in self.outputs]

    def raw_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """Integer (or float) outputs as stored, every output, stacked over windows."""
        runs = [self._run(row) for row in x]
        return [np.stack([r[i][0] for r in runs]) for i in range(len(self.outputs))]

    def logits_preprocessed(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        first = self.outputs[0]
        quant = None if np.dtype(first["dtype"]) == np.float32 else first["quantization"]
        return dequantize(self.raw_outputs(x)[0], quant)


def _open(path: Path) -> LiteRTPredictor:
    """A ``.tflite`` file of a build, or a build directory, which stands for its int8 model (the one that ships)."""
    if not path.is_dir():
        return LiteRTPredictor(path, load_build_info(path.parent))
    info = load_build_info(path)
    model = build_file(path, info, "int8")
    if model is None:
        raise DrsnError(f"{path} has no int8 model")
    return LiteRTPredictor(model, info)


register_runtime(Runtime("litert", "LiteRT", model=LiteRTPredictor, roles=("float32", "int8", "int16x8"),
                         suffixes=(".tflite",), marker="model.json", open=_open, order=20))
