"""The networks match the paper's definition and the shrinkage behaves as a soft threshold."""
from __future__ import annotations

import pytest
import torch

from drsn_edge.errors import DrsnError
from drsn_edge.models import ARCHS, ThresholdNet, build_model, count_macs, count_parameters, soft_threshold
from drsn_edge.models.blocks import Shortcut


def reference_soft_threshold(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.clamp(torch.abs(x) - tau, min=0)


@pytest.mark.parametrize("tau_kind", ["random", "zero", "huge"])
def test_int8_safe_soft_threshold_equals_sign_form(tau_kind: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 8, 300, generator=g, dtype=torch.float64) * 3
    if tau_kind == "random":
        tau = torch.rand(16, 8, 1, generator=g, dtype=torch.float64) * 2
    elif tau_kind == "zero":
        tau = torch.zeros(16, 8, 1, dtype=torch.float64)
    else:
        tau = torch.full((16, 8, 1), float(x.abs().max()) + 1.0, dtype=torch.float64)
    got = soft_threshold(x, tau)
    torch.testing.assert_close(got, reference_soft_threshold(x, tau), rtol=0, atol=1e-12)
    if tau_kind == "zero":
        torch.testing.assert_close(got, x, rtol=0, atol=0)
    if tau_kind == "huge":
        assert torch.count_nonzero(got) == 0


def test_soft_threshold_export_has_no_sign_or_neg() -> None:
    """The exported graph must avoid ops TFLite keeps in float (SIGN, NEG)."""

    class Soft(torch.nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return soft_threshold(x, t)

    exported = torch.export.export(Soft(), (torch.randn(2, 3, 5), torch.rand(2, 3, 1)))
    ops = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert not any(("sign" in op or "neg" in op) for op in ops), ops
    assert any("relu" in op for op in ops) and any("mul" in op for op in ops)


def test_default_drsn_cw_size_matches_paper() -> None:
    model = build_model()
    params = count_parameters(model)
    assert 10_500 <= params <= 13_000, params
    assert 1.2e6 <= count_macs(model) <= 1.4e6
    # 12 residual shrinkage units: 3 stages x 4
    assert sum(1 for name, _ in model.named_modules() if name.endswith(".shrink")) == 12


def test_architectures_differ_only_where_they_should() -> None:
    sizes = {arch: count_parameters(build_model(arch=arch)) for arch in ARCHS}
    assert sizes["drsn-cw"] > sizes["drsn-cs"] > sizes["resnet"] == sizes["convnet"]
    convnet = build_model(arch="convnet")
    assert all(unit.shortcut is None and unit.shrink is None for stage in convnet.stages for unit in stage)
    resnet = build_model(arch="resnet")
    assert all(unit.shortcut is not None and unit.shrink is None for stage in resnet.stages for unit in stage)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_forward_shapes(arch: str) -> None:
    model = build_model(arch=arch, num_classes=7, in_length=1024).eval()
    assert model(torch.randn(3, 1024)).shape == (3, 7)
    assert model(torch.randn(3, 1, 1024)).shape == (3, 7)


def test_configurable_width_depth_kernel_and_conv_shortcut() -> None:
    model = build_model(arch="drsn-cs", widths=[8, 16, 32, 32], units_per_stage=2, kernel_size=5, shortcut="conv")
    assert len(model.stages) == 4 and all(len(s) == 2 for s in model.stages)
    assert model.stem.kernel_size == (5,)
    assert model(torch.randn(2, 2048)).shape == (2, 10)
    assert isinstance(model.stages[0][0].shortcut, Shortcut) and model.stages[0][0].shortcut.conv is not None


def test_bad_configs_are_one_line_errors() -> None:
    with pytest.raises(DrsnError, match="unknown architecture"):
        build_model(arch="transformer")
    with pytest.raises(DrsnError, match="odd"):
        build_model(kernel_size=4)
    with pytest.raises(DrsnError, match="non-decreasing"):
        build_model(widths=[16, 8])


def test_pad_shortcut_subsamples_and_zero_pads() -> None:
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    out = Shortcut(3, 5, stride=2, mode="pad")(x)
    assert out.shape == (2, 5, 4)
    torch.testing.assert_close(out[:, :3], x[:, :, ::2])
    assert torch.count_nonzero(out[:, 3:]) == 0


def _thresholds(shared: bool) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    net = ThresholdNet(8, shared=shared)
    net.train()
    x = torch.randn(32, 8, 100) * torch.rand(32, 8, 1) * 5
    net(x)  # one batch to move BN statistics off their defaults
    net.eval()
    return net(x), x


def test_channel_shared_gives_one_threshold_per_sample() -> None:
    tau, x = _thresholds(shared=True)
    assert tau.shape == (32, 1, 1)
    mean_abs = x.abs().mean(dim=(1, 2)).reshape(32, 1, 1)
    assert torch.all(tau > 0) and torch.all(tau < mean_abs)


def test_channel_wise_gives_one_threshold_per_channel_per_sample() -> None:
    tau, x = _thresholds(shared=False)
    assert tau.shape == (32, 8, 1)
    assert torch.all(tau > 0) and torch.all(tau < x.abs().mean(dim=2, keepdim=True))
    # per channel: thresholds really differ between channels of one sample
    assert tau[0].std() > 0


def test_thresholds_inside_a_trained_shape_network_stay_bounded() -> None:
    """Hook every threshold net of a DRSN-CW: 0 < tau <= mean|x| for every channel and sample."""
    torch.manual_seed(1)
    model = build_model().eval()
    seen = []

    def hook(module: ThresholdNet, inputs: tuple, tau: torch.Tensor) -> None:
        seen.append((tau, inputs[0].abs().mean(dim=2, keepdim=True)))

    for m in model.modules():
        if isinstance(m, ThresholdNet):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(4, 2048))
    assert len(seen) == 12
    for tau, mean_abs in seen:
        assert tau.shape == mean_abs.shape
        assert torch.all(tau > 0) and torch.all(tau <= mean_abs)


def test_training_leaves_the_callers_thread_count_alone() -> None:
    """``--threads`` applies to one training run; later work in the same process keeps its own setting."""
    from drsn_edge.data.synthetic import synthetic_splits
    from drsn_edge.models import ModelConfig
    from drsn_edge.train import TrainConfig, train

    before = torch.get_num_threads()
    splits = synthetic_splits(4, 2, 2, window_length=256, seed=0)
    train(splits, ModelConfig(in_length=256, widths=[4], units_per_stage=1),
          TrainConfig(epochs=1, threads=1 if before != 1 else 2), progress=False)
    assert torch.get_num_threads() == before
