"""Read and edit .tflite flatbuffers: op lists, tensor names and types, signature outputs.

Used to prove a model is really integer (no float op hiding in a "full
integer" file), to list the ops a microcontroller build must register, and to
drop the validation probes from the deployable model.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from drsn_edge.errors import DrsnError

TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
                7: "int16", 8: "complex64", 9: "int8", 10: "float64"}
# Ops that mean the graph is not the all-integer, TFLM-runnable graph we promise.
FORBIDDEN_OPS = {"SIGN", "NEG", "QUANTIZE", "DEQUANTIZE", "TRANSPOSE", "CUSTOM", "DELEGATE"}


def _schema():
    # TFLM's generated schema: a light import (TensorFlow's copy pulls in all of TensorFlow). It is
    # the same schema, a superset of TensorFlow 2.21's, with the object API (``Pack``) and signature defs.
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _builtin_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def read_model(data: bytes):
    """Parse flatbuffer bytes into the mutable object API (``ModelT``)."""
    schema = _schema()
    try:
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    except Exception:
        raise DrsnError("not a readable .tflite flatbuffer") from None


def write_model(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@dataclass
class GraphSummary:
    ops: list[str]  # in execution order
    tensor_types: Counter
    float_tensors: list[str]
    input: dict
    output: dict

    @property
    def op_counts(self) -> dict[str, int]:
        return dict(Counter(self.ops))

    @property
    def forbidden(self) -> list[str]:
        return sorted(set(self.ops) & FORBIDDEN_OPS)

    def integer_problems(self, activation: str = "int8") -> list[str]:
        """Why this graph is not all-integer (empty when it is)."""
        problems = [f"op {op}" for op in self.forbidden]
        problems += [f"float tensor {name}" for name in self.float_tensors[:5]]
        allowed = {activation, "int32"} | ({"int64"} if activation == "int16" else set())
        problems += [f"{kind} tensors" for kind in self.tensor_types if kind not in allowed]
        return problems


def _name(raw: bytes | str | None) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")


def tensor_name(tensor) -> str:
    """The name of a ``TensorT`` as text."""
    return _name(tensor.name)


def op_names(model) -> list[str]:
    """Op names of subgraph 0 of a ``ModelT`` in execution order; custom ops as ``CUSTOM 'name'``."""
    names = _builtin_names()
    labels = []
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        label = names.get(builtin, f"OP{builtin}")
        if label == "CUSTOM":
            label = f"CUSTOM '{_name(code.customCode)}'"
        labels.append(label)
    return [labels[op.opcodeIndex] for op in model.subgraphs[0].operators]


def _tensor_info(tensor) -> dict:
    q = tensor.quantization
    scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else None
    zero = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else None
    return {"name": tensor_name(tensor), "dtype": TENSOR_TYPES.get(tensor.type, str(tensor.type)),
            "shape": [int(v) for v in tensor.shape], "scale": scale, "zero_point": zero}


def summarize(data: bytes) -> GraphSummary:
    """Ops in execution order, tensor type counts, and the quantisation of input and output."""
    model = read_model(data)
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise DrsnError(f"expected one subgraph, found {len(model.subgraphs or [])}")
    graph = model.subgraphs[0]
    try:  # a flatbuffer from elsewhere may hold any index: one error line, not a traceback
        # summaries name a custom op plain CUSTOM, the name FORBIDDEN_OPS (and callers) look for
        ops = [op.split(" ", 1)[0] for op in op_names(model)]
        types = Counter(TENSOR_TYPES.get(t.type, str(t.type)) for t in graph.tensors)
        floats = [tensor_name(t) for t in graph.tensors if t.type in (0, 1, 10)]
        return GraphSummary(ops, types, floats, _tensor_info(graph.tensors[graph.inputs[0]]),
                            _tensor_info(graph.tensors[graph.outputs[0]]))
    except (IndexError, TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise DrsnError(f"malformed .tflite graph ({type(exc).__name__})") from None


def signature_outputs(data: bytes) -> dict[str, int]:
    """Serving-signature output name -> subgraph tensor index."""
    model = read_model(data)
    if not model.signatureDefs:
        raise DrsnError("the .tflite model has no serving signature")
    return {_name(o.name): int(o.tensorIndex) for o in model.signatureDefs[0].outputs}


def keep_outputs(data: bytes, keep: dict[str, str]) -> bytes:
    """Only the signature outputs in ``keep`` (old name -> new name) stay graph outputs.

    Dropping an output does not change any computation: the tensor is still
    consumed inside the graph; it just is no longer handed to the caller.
    """
    model = read_model(data)
    graph = model.subgraphs[0]
    sig = model.signatureDefs[0]
    kept = [o for o in sig.outputs if _name(o.name) in keep]
    if len(kept) != len(keep):
        raise DrsnError(f"signature lacks outputs {sorted(set(keep) - {_name(o.name) for o in kept})}")
    for o in kept:
        o.name = keep[_name(o.name)]
    sig.outputs = kept
    graph.outputs = np.array([o.tensorIndex for o in kept], dtype=np.int32)
    return write_model(model)
