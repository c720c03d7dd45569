"""Read an int8 .tflite into plain tensors and ops (the generator's only view of the flatbuffer)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drsn_edge.errors import DrsnError
from quantize.tflite.graph import TENSOR_TYPES, op_names, read_model, tensor_name

NUMPY_TYPES = {"float32": np.float32, "int32": np.int32, "int8": np.int8, "int64": np.int64, "int16": np.int16,
               "uint8": np.uint8}


@dataclass
class Tensor:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scales: list[float] = field(default_factory=list)
    zero_points: list[int] = field(default_factory=list)
    data: np.ndarray | None = None  # constant tensors only

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def is_const(self) -> bool:
        return self.data is not None


@dataclass
class Op:
    name: str  # TFLite builtin name, e.g. CONV_2D
    inputs: list[int]  # -1 for an absent optional input
    outputs: list[int]
    options: dict


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]


def _tensor(model, index: int, raw) -> Tensor:
    dtype = TENSOR_TYPES.get(raw.type, str(raw.type))
    q = raw.quantization
    scales = [float(s) for s in q.scale] if q is not None and q.scale is not None else []
    zeros = [int(z) for z in q.zeroPoint] if q is not None and q.zeroPoint is not None else []
    shape = tuple(int(v) for v in raw.shape) if raw.shape is not None else ()
    buf = model.buffers[raw.buffer].data if raw.buffer < len(model.buffers) else None
    data = None
    if buf is not None and len(buf):
        if dtype not in NUMPY_TYPES:
            raise DrsnError(f"constant tensor {tensor_name(raw)} has unsupported type {dtype}")
        data = np.frombuffer(bytes(bytearray(buf)), dtype=NUMPY_TYPES[dtype]).reshape(shape)
    return Tensor(index, tensor_name(raw), dtype, shape, scales, zeros, data)


def load_graph(data: bytes) -> Graph:
    """Tensors (with constant data), ops in execution order with their builtin options as dicts."""
    from firmware_export.c_engine.validate import check_structure  # validate reads this module's types

    model = read_model(data)
    check_structure(model)  # every index and buffer length in range before anything is indexed
    sub = model.subgraphs[0]
    tensors = [_tensor(model, i, t) for i, t in enumerate(sub.tensors)]
    ops = []
    for name, op in zip(op_names(model), sub.operators or []):
        options = dict(vars(op.builtinOptions)) if op.builtinOptions is not None else {}
        ops.append(Op(name, [int(i) for i in op.inputs] if op.inputs is not None else [],
                      [int(i) for i in op.outputs], options))
    return Graph(tensors, ops, [int(i) for i in sub.inputs], [int(i) for i in sub.outputs])
