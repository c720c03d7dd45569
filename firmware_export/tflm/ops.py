"""Which ``MicroMutableOpResolver::AddXxx()`` call registers each TFLite builtin op.

A TFLite Micro build should register exactly the ops its model uses (every
registered kernel costs flash), so the generated resolver is derived from the
model's op list through this table. The names are the resolver's methods in
tensorflow/lite/micro/micro_mutable_op_resolver.h; an op missing here has no
TFLM kernel we know of and is refused at export time rather than at boot.
"""
from __future__ import annotations

from drsn_edge.errors import DrsnError

_TABLE = """
ABS:Abs ADD:Add ADD_N:AddN ARG_MAX:ArgMax ARG_MIN:ArgMin ASSIGN_VARIABLE:AssignVariable
AVERAGE_POOL_2D:AveragePool2D BATCH_MATMUL:BatchMatMul BATCH_TO_SPACE_ND:BatchToSpaceNd
BROADCAST_ARGS:BroadcastArgs BROADCAST_TO:BroadcastTo CALL_ONCE:CallOnce CAST:Cast CEIL:Ceil
CONCATENATION:Concatenation CONV_2D:Conv2D COS:Cos CUMSUM:CumSum DEPTHWISE_CONV_2D:DepthwiseConv2D
DEPTH_TO_SPACE:DepthToSpace DEQUANTIZE:Dequantize DIV:Div DYNAMIC_UPDATE_SLICE:DynamicUpdateSlice ELU:Elu
EMBEDDING_LOOKUP:EmbeddingLookup EQUAL:Equal EXP:Exp EXPAND_DIMS:ExpandDims FILL:Fill FLOOR:Floor
FLOOR_DIV:FloorDiv FLOOR_MOD:FloorMod FULLY_CONNECTED:FullyConnected GATHER:Gather GATHER_ND:GatherNd
GREATER:Greater GREATER_EQUAL:GreaterEqual HARD_SWISH:HardSwish IF:If L2_NORMALIZATION:L2Normalization
L2_POOL_2D:L2Pool2D LEAKY_RELU:LeakyRelu LESS:Less LESS_EQUAL:LessEqual LOG:Log LOGICAL_AND:LogicalAnd
LOGICAL_NOT:LogicalNot LOGICAL_OR:LogicalOr LOGISTIC:Logistic LOG_SOFTMAX:LogSoftmax MAXIMUM:Maximum
MAX_POOL_2D:MaxPool2D MEAN:Mean MINIMUM:Minimum MIRROR_PAD:MirrorPad MUL:Mul NEG:Neg NOT_EQUAL:NotEqual
PACK:Pack PAD:Pad PADV2:PadV2 PRELU:Prelu QUANTIZE:Quantize READ_VARIABLE:ReadVariable REDUCE_ALL:ReduceAll
REDUCE_MAX:ReduceMax REDUCE_MIN:ReduceMin RELU:Relu RELU6:Relu6 RESHAPE:Reshape RESIZE_BILINEAR:ResizeBilinear
RESIZE_NEAREST_NEIGHBOR:ResizeNearestNeighbor REVERSE_V2:ReverseV2 ROUND:Round RSQRT:Rsqrt SELECT_V2:SelectV2
SHAPE:Shape SIN:Sin SLICE:Slice SOFTMAX:Softmax SPACE_TO_BATCH_ND:SpaceToBatchNd SPACE_TO_DEPTH:SpaceToDepth
SPLIT:Split SPLIT_V:SplitV SQRT:Sqrt SQUARE:Square SQUARED_DIFFERENCE:SquaredDifference SQUEEZE:Squeeze
STRIDED_SLICE:StridedSlice SUB:Sub SUM:Sum SVDF:Svdf TANH:Tanh TRANSPOSE:Transpose TRANSPOSE_CONV:TransposeConv
UNIDIRECTIONAL_SEQUENCE_LSTM:UnidirectionalSequenceLSTM UNPACK:Unpack VAR_HANDLE:VarHandle WHILE:While
ZEROS_LIKE:ZerosLike
"""
RESOLVER_METHODS: dict[str, str] = dict(item.split(":") for item in _TABLE.split())


def distinct_ops(ops: list[str]) -> list[str]:
    """Each op once, in order of first use (the order the resolver registers them)."""
    return list(dict.fromkeys(ops))


def resolver_methods(ops: list[str]) -> list[str]:
    """``AddXxx`` method names for the distinct ``ops``; an op TFLM cannot run is a :class:`DrsnError`."""
    unknown = [op for op in distinct_ops(ops) if op not in RESOLVER_METHODS]
    if unknown:
        raise DrsnError(f"TFLite Micro has no resolver entry for op(s) {', '.join(unknown)}")
    return [f"Add{RESOLVER_METHODS[op]}" for op in distinct_ops(ops)]
