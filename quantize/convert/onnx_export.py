"""PyTorch -> ONNX with a static input shape and probe outputs.

Probe outputs expose every shrinkage unit's threshold ``tau`` and output as
extra graph outputs named after the PyTorch module (``stages.1.2.shrink.tau``).
Validation converts the probed graph once and reads the int8 values of those
tensors by these names, so matching never depends on converter-made tensor
names; the deployable models are the same graphs with the probes removed.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from drsn_edge.errors import DrsnError
from drsn_edge.models import Net1d
from drsn_edge.models.shrinkage import Shrinkage

INPUT_NAME = "input"
LOGITS_NAME = "logits"
OPSET = 18


def shrink_unit_names(model: Net1d) -> list[str]:
    """Module paths of every shrinkage stage, in execution order."""
    return [name for name, module in model.named_modules() if isinstance(module, Shrinkage)]


def probe_output_names(model: Net1d) -> list[str]:
    """Graph output names: logits first, then ``<unit>.tau`` and ``<unit>.out`` per unit."""
    return [LOGITS_NAME] + [f"{unit}.{kind}" for unit in shrink_unit_names(model) for kind in ("tau", "out")]


class Probed(nn.Module):
    """Returns the logits plus each shrinkage unit's threshold and output."""

    def __init__(self, net: Net1d) -> None:
        super().__init__()
        self.net = net
        self._captured: list[torch.Tensor] = []
        for module in net.modules():
            if isinstance(module, Shrinkage):
                module.threshold.register_forward_hook(self._capture)
                module.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._captured.append(output)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self._captured = []
        logits = self.net(x)
        return (logits, *self._captured)


def export_probed_onnx(model: Net1d, path: str | Path) -> None:
    """Write a single-file ONNX model with input ``(1, 1, L)`` and the outputs of :func:`probe_output_names`."""
    model = model.eval()
    example = torch.zeros(1, 1, model.config.in_length)
    from quantize.quiet import quiet_native

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), quiet_native():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(Probed(model), (example,), input_names=[INPUT_NAME],
                                    output_names=probe_output_names(model), opset_version=OPSET, dynamo=True,
                                    optimize=True, verbose=False)
        if program is None:
            raise DrsnError("ONNX export produced no program")
        program.save(os.path.join(tmp, "m.onnx"))
        proto = onnx.load(os.path.join(tmp, "m.onnx"))  # pulls external weights back in
    onnx.save(proto, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)
