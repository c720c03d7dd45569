"""The PyTorch int8 mirror: exact without rounding, and shaped like the converted graph."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from drsn_edge.models import build_model
from quantize.convert.fakequant import LOGISTIC_RANGE, Int8Mirror, fake_quant_weight
from quantize.convert.ranges import RangeMethod


def randomised(arch: str, shortcut: str = "pad") -> torch.nn.Module:
    """A model whose batch norms hold non-trivial statistics, so folding them is really tested."""
    torch.manual_seed(0)
    model = build_model(arch=arch, in_length=256, shortcut=shortcut)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


@pytest.mark.parametrize("arch,shortcut", [("drsn-cw", "pad"), ("drsn-cs", "pad"), ("resnet", "pad"),
                                           ("convnet", "pad"), ("drsn-cw", "conv")])
def test_mirror_without_rounding_is_the_model(arch: str, shortcut: str) -> None:
    model = randomised(arch, shortcut)
    x = torch.randn(8, 256)
    with torch.no_grad():
        assert torch.allclose(Int8Mirror(model)(x), model(x), atol=1e-5)


def test_quantisation_points_follow_the_int8_graph() -> None:
    """One point per int8 op (RESHAPE, PAD and MAX_POOL keep their input's quantisation): 186 for the
    paper's DRSN-CW, which converts to 237 ops of which 52 are those three."""
    mirror = Int8Mirror(build_model())
    mirror.calibrate(np.random.default_rng(0).normal(size=(16, 2048)).astype(np.float32), RangeMethod("minmax"))
    assert len(mirror.ranges) == 186
    assert sum(name.endswith(".logistic") for name in mirror.ranges) == 12
    assert all(mirror.ranges[n] == LOGISTIC_RANGE for n in mirror.ranges if n.endswith(".logistic"))


def test_fake_quantised_mirror_rounds_and_trains() -> None:
    model = randomised("drsn-cw")
    mirror = Int8Mirror(model)
    x = np.random.default_rng(1).normal(size=(32, 256)).astype(np.float32)
    mirror.calibrate(x)
    with torch.no_grad():
        exact = model(torch.from_numpy(x)).numpy()
    rounded = mirror.logits(x)
    err = np.abs(rounded - exact)
    assert 0 < err.mean() < 0.2 * np.abs(exact).mean()
    mirror.train()
    with mirror.quantisation():
        mirror(torch.from_numpy(x)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)  # straight-through gradients reach every weight
    assert model.stages[0][0].bn2.weight.grad.abs().sum() > 0  # through the folded batch norm


def test_weights_round_to_127_levels_per_channel() -> None:
    w = torch.randn(6, 4, 3)
    q = fake_quant_weight(w)
    scale = w.abs().amax(dim=(1, 2)) / 127
    levels = q / scale[:, None, None]
    assert torch.allclose(levels, levels.round(), atol=1e-3)
    assert torch.allclose(q.abs().amax(dim=(1, 2)), w.abs().amax(dim=(1, 2)), rtol=1e-5)
