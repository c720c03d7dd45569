"""DRSN-CW, DRSN-CS and their ResNet / ConvNet baselines, built by one factory."""
from drsn_edge.models.network import ARCHS, ModelConfig, Net1d, build_model, count_macs, count_parameters
from drsn_edge.models.shrinkage import Shrinkage, ThresholdNet, soft_threshold

__all__ = [
    "ARCHS", "ModelConfig", "Net1d", "Shrinkage", "ThresholdNet",
    "build_model", "count_macs", "count_parameters", "soft_threshold",
]
