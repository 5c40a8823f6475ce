"""probdyn.flows: one conformance test over every flow (inverse, log-det against the autograd
Jacobian, batching, element-wise structure, trainable parameters), plus configuration and
bad-input checks."""

import nflows.transforms as nft
import pyro.distributions.transforms as ptr
import pytest
import torch
from _models import perturb_parameters
from torch.distributions import AffineTransform, ComposeTransform
from torch.distributions.transforms import AbsTransform

from probdyn.flows import (
    ComposeFlow,
    ElementwiseAffine,
    ElementwiseSpline,
    Flow,
    IdentityFlow,
    NflowsTransform,
    RealNVP,
    SinhArcsinh,
    TorchTransformFlow,
    as_flow,
)


def _randomise(module, scale=0.5, seed=1):
    return perturb_parameters(module, scale, seed)


N = 3


def _flows():
    """name -> factory of a float64 flow on R^3 with non-trivial parameters."""
    aff = lambda: ElementwiseAffine(N, loc=[0.3, -1.0, 2.0], scale=[0.5, 2.0, 1.5])
    return {
        "identity": lambda: IdentityFlow(N),
        "affine": aff,
        "sinh_arcsinh": lambda: _randomise(SinhArcsinh(N)),
        "spline": lambda: _randomise(ElementwiseSpline(N, num_bins=6, tail_bound=2.0)),
        "realnvp": lambda: _randomise(RealNVP(N), 0.3),
        "realnvp_small": lambda: _randomise(RealNVP(4, num_blocks=2, hidden_features=5,
                                                     num_layers=1)),
        "compose_mixing": lambda: ComposeFlow(aff(), _randomise(RealNVP(N, num_blocks=3))),
        "compose_elementwise": lambda: ComposeFlow(
            aff(), _randomise(ElementwiseSpline(N, tail_bound=2.0)), _randomise(SinhArcsinh(N))),
        "nflows_maf": lambda: NflowsTransform(
            _randomise(nft.MaskedAffineAutoregressiveTransform(N, hidden_features=8)), N),
        "nflows_maf_inverse": lambda: NflowsTransform(
            _randomise(nft.MaskedAffineAutoregressiveTransform(N, hidden_features=8)), N,
            direction="inverse"),
        "nflows_rq_cdf": lambda: NflowsTransform(
            _randomise(nft.PiecewiseRationalQuadraticCDF([N], num_bins=5, tails="linear",
                                                         tail_bound=2.0)), N, elementwise=True),
        "pyro_spline": lambda: TorchTransformFlow(_randomise(ptr.Spline(N, bound=2.0)), N),
        "pyro_coupling": lambda: TorchTransformFlow(
            _randomise(ptr.affine_coupling(N, hidden_dims=[6])), N),
        "torch_compose": lambda: TorchTransformFlow(ComposeTransform([
            AffineTransform(torch.tensor([0.1, 0.2, -0.3]), torch.tensor([2.0, 0.5, 1.0])),
            _randomise(ptr.Spline(N, bound=2.0))]), N),
    }


FLOWS = _flows()


def _make(name):
    return FLOWS[name]().to(torch.float64)


def _num_series(flow):
    return flow.num_series


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_flow_conformance(name):
    flow = _make(name)
    n = _num_series(flow)
    assert isinstance(flow, Flow) and isinstance(flow, torch.distributions.Transform)
    assert flow.bijective and flow.domain.event_dim == 1 and flow.codomain.event_dim == 1
    g = torch.Generator().manual_seed(3)
    z = 1.5 * torch.randn(2, 4, n, generator=g, dtype=torch.float64)  # leading dims: batch, time
    y = flow(z)
    assert y.shape == z.shape and y.dtype == torch.float64
    torch.testing.assert_close(flow.inv(y), z, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(flow(flow.inv(y)), y, atol=1e-10, rtol=1e-10)
    ld = flow.log_abs_det_jacobian(z, y)
    assert ld.shape == (2, 4)
    zi, ldi = flow.inverse_and_log_det(y)
    torch.testing.assert_close(zi, z, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(ldi, -ld, atol=1e-10, rtol=1e-10)
    # oracle: log|det| of the autograd Jacobian, point by point
    for i in range(2):
        for t in range(4):
            J = torch.autograd.functional.jacobian(lambda v: flow(v), z[i, t])
            Ji = torch.autograd.functional.jacobian(lambda v: flow.inv(v), y[i, t])
            torch.testing.assert_close(ld[i, t], torch.linalg.slogdet(J)[1], atol=1e-9,
                                       rtol=1e-9)
            torch.testing.assert_close(ldi[i, t], torch.linalg.slogdet(Ji)[1], atol=1e-9,
                                       rtol=1e-9)
            if flow.elementwise:
                off = J - torch.diag_embed(torch.diagonal(J))
                assert off.abs().max() == 0
    # batching: one row at a time gives the same as the whole batch
    torch.testing.assert_close(flow(z[1, 2]), y[1, 2])
    if flow.elementwise:
        _, lde = flow.forward_and_log_det_elementwise(z)
        diag = torch.stack([torch.diagonal(torch.autograd.functional.jacobian(flow, z[0, t]))
                            for t in range(4)])
        torch.testing.assert_close(lde[0], diag.abs().log(), atol=1e-8, rtol=1e-7)
        zi, ldie = flow.inverse_and_log_det_elementwise(y)
        torch.testing.assert_close(ldie, -lde, atol=1e-9, rtol=1e-9)
    # trainable: the log-det has finite, non-zero gradients for every flow with parameters
    params = [p for p in flow.parameters() if p.requires_grad]
    if params:
        grads = torch.autograd.grad(flow.inverse_and_log_det(y)[1].sum()
                                    + flow.inv(y).pow(2).sum(), params, allow_unused=True)
        used = [gr for gr in grads if gr is not None]
        assert used and all(torch.isfinite(gr).all() for gr in used)
        assert any(gr.abs().max() > 0 for gr in used)


def test_elementwise_flags():
    expected = {"identity": True, "affine": True, "sinh_arcsinh": True, "spline": True,
                "realnvp": False, "realnvp_small": False, "compose_mixing": False,
                "compose_elementwise": True, "nflows_maf": False, "nflows_maf_inverse": False,
                "nflows_rq_cdf": True, "pyro_spline": True, "pyro_coupling": False,
                "torch_compose": True}
    assert {name: _make(name).elementwise for name in FLOWS} == expected


def test_realnvp_paper_configuration_starts_at_identity():
    flow = RealNVP(5).double()
    blocks = flow.transform._transforms
    assert len(blocks) == 9
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in flow.modules())
    for k, block in enumerate(blocks):
        mlp = block.transform_net.mlp
        assert mlp._input_layer.out_features == 16 and len(mlp._hidden_layers) == 1
        # alternating parity masks
        assert block.transform_features.tolist() == [i for i in range(5) if (i + k) % 2 == 1]
    z = torch.randn(7, 5, dtype=torch.float64)
    torch.testing.assert_close(flow(z), z)
    assert flow.log_abs_det_jacobian(z, z).abs().max() == 0
    # the conditioners make every output depend on every input after training starts
    _randomise(flow, 0.3)
    J = torch.autograd.functional.jacobian(flow, z[0])
    assert (J.abs() > 1e-8).all()


@pytest.mark.parametrize("cls", [ElementwiseSpline, SinhArcsinh, ElementwiseAffine])
def test_elementwise_flows_start_at_identity(cls):
    z = 3 * torch.randn(10, 4, dtype=torch.float64)
    flow = cls(4).double()
    torch.testing.assert_close(flow(z), z)


def test_flow_registers_in_module_and_trains():
    flow = RealNVP(3)
    holder = torch.nn.Module()
    holder.flow = flow
    assert len(list(holder.parameters())) == len(list(flow.parameters())) > 0
    adapter = TorchTransformFlow(ptr.Spline(3), 3)
    assert len(list(adapter.parameters())) == len(list(adapter.base.parameters())) > 0


def test_bad_input():
    with pytest.raises(ValueError, match="num_series >= 2"):
        RealNVP(1)
    with pytest.raises(ValueError, match="num_blocks"):
        RealNVP(3, num_blocks=0)
    with pytest.raises(ValueError, match="scale must be positive"):
        ElementwiseAffine(2, scale=[1.0, 0.0])
    with pytest.raises(ValueError, match="loc must be"):
        ElementwiseAffine(2, loc=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        ElementwiseAffine(2, loc=[1.0, float("nan")])
    with pytest.raises(ValueError, match="tail_bound"):
        ElementwiseSpline(2, tail_bound=0.0)
    with pytest.raises(ValueError, match="num_series"):
        IdentityFlow(0)
    flow = RealNVP(3)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        flow(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="mixes the series"):
        flow.inverse_and_log_det_elementwise(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="not bijective"):
        TorchTransformFlow(AbsTransform(), 3)
    with pytest.raises(ValueError, match="event dim 0"):
        TorchTransformFlow(ptr.affine_coupling(3), 3, elementwise=True)
    with pytest.raises(ValueError, match="nflows Transform"):
        NflowsTransform(AbsTransform(), 3)
    with pytest.raises(ValueError, match="direction"):
        NflowsTransform(nft.IdentityTransform(), 3, direction="backward")
    with pytest.raises(ValueError, match="different num_series"):
        ComposeFlow(IdentityFlow(2), IdentityFlow(3))
    with pytest.raises(ValueError, match="N = 2"):
        as_flow(IdentityFlow(3), 2)
    with pytest.raises(ValueError, match="must be a probdyn Flow"):
        as_flow(torch.nn.Linear(2, 2), 2)
    assert isinstance(as_flow(nft.IdentityTransform(), 2), NflowsTransform)
    assert isinstance(as_flow(AffineTransform(0.0, 2.0), 2), TorchTransformFlow)
