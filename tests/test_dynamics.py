import math
import re

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.integrate import solve_ivp

from probdyn.dynamics import (
    ConvField,
    FNOField,
    HamiltonianField,
    MLPField,
    SpectralConv2d,
    VectorField,
    solve,
)

A = torch.tensor([[-0.3, 1.0], [-1.0, -0.2]], dtype=torch.float64)


class Linear(VectorField):
    state_shape = (2,)

    def forward(self, t, x):
        return x @ A.T


class Forced(VectorField):
    """dx/dt = cos(t): x(t) = x0 + sin(t) - sin(t0)."""

    def forward(self, t, x):
        return torch.cos(t) * torch.ones_like(x)


class Blowup(VectorField):
    """dx/dt = x^2, x(0) = 1: x = 1 / (1 - t), infinite at t = 1."""

    def forward(self, t, x):
        return x**2


def exact_linear(x0, t):
    return np.stack([[scipy.linalg.expm(A.numpy() * s) @ x for s in t] for x in x0])


@pytest.mark.parametrize("method,kwargs,tol", [
    ("dopri5", dict(rtol=1e-10, atol=1e-12), 1e-8),
    ("dopri8", dict(rtol=1e-10, atol=1e-12), 1e-9),
    ("rk4", dict(step_size=0.01), 1e-8),
    ("euler", dict(step_size=1e-3), 5e-3),
])
def test_solve_matches_matrix_exponential(method, kwargs, tol):
    x0 = torch.tensor([[1.0, 0.0], [0.5, -2.0], [3.0, 1.0]], dtype=torch.float64)
    t = torch.linspace(0, 5, 11, dtype=torch.float64)
    out = solve(Linear(), x0, t, method=method, **kwargs)
    assert out.shape == (3, 11, 2)  # trajectory, time, state
    assert np.abs(out.numpy() - exact_linear(x0.numpy(), t.numpy())).max() < tol


def test_solve_batch_dims_time_dependent_and_reversed():
    x0 = torch.randn(4, 3, 2, dtype=torch.float64)
    t = torch.linspace(1.0, 4.0, 7, dtype=torch.float64)
    out = solve(Forced(), x0, t, rtol=1e-10, atol=1e-12)
    assert out.shape == (4, 3, 7, 2)
    exact = x0[..., None, :] + (torch.sin(t) - math.sin(1.0))[:, None]
    assert (out - exact).abs().max() < 1e-8
    back = solve(Forced(), out[..., -1, :], t.flip(0), rtol=1e-10, atol=1e-12)
    assert (back[..., -1, :] - x0).abs().max() < 1e-8


def test_per_trajectory_grids_match_separate_solves():
    x0 = torch.tensor([[1.0, 0.0], [0.5, -2.0], [3.0, 1.0]], dtype=torch.float64)
    grids = [torch.tensor([0.3, 1.0, 2.5]), torch.tensor([0.0, 4.0]),
             torch.tensor([1.1, 1.2, 1.3, 3.3, 4.9])]
    outs = solve(Linear(), x0, grids, rtol=1e-10, atol=1e-12, t0=0.0)
    assert isinstance(outs, list) and [o.shape[0] for o in outs] == [3, 2, 5]
    for b, (g, o) in enumerate(zip(grids, outs)):
        ref = solve_ivp(lambda s, x: A.numpy() @ x, (0, float(g[-1])), x0[b].numpy(),
                        method="DOP853", rtol=1e-12, atol=1e-12, t_eval=g.double().numpy())
        assert np.abs(o.numpy() - ref.y.T).max() < 1e-8
    square = torch.stack([torch.linspace(0, 2, 4), torch.linspace(1, 3, 4),
                          torch.linspace(0.5, 1, 4)]).double()
    out = solve(Linear(), x0, square, rtol=1e-10, atol=1e-12, t0=0.0)
    assert out.shape == (3, 4, 2)
    exact = exact_linear(x0.numpy(), square.numpy().ravel()).reshape(3, 3, 4, 2)
    assert np.abs(out.numpy() - exact[[0, 1, 2], [0, 1, 2]]).max() < 1e-8


def test_adjoint_and_checkpoint_gradients_equal_backprop():
    torch.manual_seed(1)
    field = MLPField(2, hidden=16, layers=2).double()
    x0 = torch.randn(5, 2, dtype=torch.float64)
    t = torch.linspace(0, 1, 6, dtype=torch.float64)

    def grads(**kw):
        field.zero_grad()
        solve(field, x0, t, rtol=1e-10, atol=1e-10, **kw).pow(2).sum().backward()
        return torch.cat([p.grad.flatten() for p in field.parameters()])

    ref = grads()
    assert torch.allclose(grads(adjoint=True), ref, rtol=1e-5, atol=1e-7)
    assert torch.allclose(grads(checkpoint=True), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs,match", [
    (dict(t=torch.tensor([0.0, 2.0, 1.0])), "monotone"),
    (dict(t=torch.tensor([0.0, float("nan")])), "NaN"),
    (dict(x0=torch.tensor([[1.0, float("nan")]])), "x0"),
    (dict(x0=torch.ones(3, 4)), "state_shape"),
    (dict(method="rk45"), "method"),
    (dict(method="dopri5", step_size=0.1), "step_size"),
    (dict(t=[torch.tensor([0.0, 1.0]), torch.tensor([2.0, 1.0])]), "increasing"),
    (dict(t=[torch.tensor([0.0, 1.0])]), "per-trajectory"),
])
def test_solve_bad_input_raises(kwargs, match):
    args = dict(x0=torch.ones(2, 2), t=torch.linspace(0, 1, 3))
    args.update(kwargs)
    x0, t = args.pop("x0"), args.pop("t")
    with pytest.raises(ValueError, match=match):
        solve(Linear(), x0, t, **args)


def test_solver_failure_names_the_time_reached():
    with pytest.raises(RuntimeError, match="underflow") as err:
        solve(Blowup(), torch.ones(1, dtype=torch.float64),
              torch.tensor([0.0, 2.0], dtype=torch.float64))
    reached = float(re.search(r"failed at t = ([0-9.e+-]+)", str(err.value)).group(1))
    assert 0.99 < reached <= 1.0  # the singularity of x = 1 / (1 - t)
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        solve(Blowup(), torch.ones(1, dtype=torch.float64),
              torch.linspace(0, 3, 31, dtype=torch.float64), method="rk4")


FIELDS = {
    "mlp": (lambda: MLPField(3, hidden=8), (3,)),
    "mlp-t": (lambda: MLPField(3, hidden=8, time_dependent=True, activation="softplus"), (3,)),
    "conv-periodic": (lambda: ConvField(2, hidden=4, padding="periodic"), (2, 8, 8)),
    "conv-neumann": (lambda: ConvField(2, hidden=4, padding="neumann"), (2, 8, 6)),
    "fno": (lambda: FNOField(2, width=6, modes=3, layers=2, hidden=8), (2, 8, 8)),
    "hamiltonian": (lambda: HamiltonianField(dof=2, hidden=8), (4,)),
}


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_neural_field_conformance(name):
    make, shape = FIELDS[name]
    field = make().double()
    x = torch.randn((2, 3) + shape, dtype=torch.float64)
    out = field(torch.tensor(0.3, dtype=torch.float64), x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    sol = solve(field, x, torch.linspace(0, 0.2, 3, dtype=torch.float64), method="rk4")
    assert sol.shape == (2, 3, 3) + shape
    sol.pow(2).sum().backward()
    named = dict(field.named_parameters())
    if name == "hamiltonian":  # a constant added to H changes nothing: no gradient
        named.pop(f"net.{len(field.net) - 1}.bias")
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in named.values())
    with pytest.raises(ValueError):
        field(0.0, torch.randn((2,) + tuple(n + 1 for n in shape[:1]) + shape[1:]))


def test_conv_field_padding():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    periodic = ConvField(2, hidden=4, padding="periodic").double()
    # periodic padding: translation equivariant on the torus
    shifted = periodic(0.0, torch.roll(x, (3, -2), (-2, -1)))
    assert torch.allclose(shifted, torch.roll(periodic(0.0, x), (3, -2), (-2, -1)), atol=1e-12)
    # Neumann (replicate): a spatially constant state stays spatially constant at the edges
    neumann = ConvField(2, hidden=4, padding="neumann").double()
    const = torch.ones(1, 2, 6, 7, dtype=torch.float64) * torch.tensor([0.3, -1.2]).double()[
        :, None, None]
    out = neumann(0.0, const)
    assert torch.allclose(out, out[..., :1, :1].expand_as(out), atol=1e-12)
    with pytest.raises(ValueError, match="padding"):
        ConvField(2, padding="zeros")


def test_conv_field_batch_norm_is_the_aphynity_convnet():
    # thesis Table S3, written out with torch layers: the same weights give the same output
    torch.manual_seed(0)
    field = ConvField(2, hidden=16, layers=2, batch_norm=True)
    nn = torch.nn
    ref = nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, padding_mode="circular", bias=False),
        nn.BatchNorm2d(16, track_running_stats=False), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, padding_mode="circular", bias=False),
        nn.BatchNorm2d(16, track_running_stats=False), nn.ReLU(),
        nn.Conv2d(16, 2, 3, padding=1, padding_mode="circular"))
    ref.load_state_dict(field.net.state_dict())
    x = torch.randn(3, 4, 2, 8, 8)
    assert torch.allclose(field(0.0, x), ref(x.reshape(12, 2, 8, 8)).reshape(x.shape),
                          atol=1e-6)
    field.eval()  # no running statistics: still the batch's statistics
    assert torch.allclose(field(0.0, x), ref(x.reshape(12, 2, 8, 8)).reshape(x.shape),
                          atol=1e-6)


def test_spectral_conv_is_band_limited_and_equivariant():
    torch.manual_seed(0)
    conv = SpectralConv2d(1, 1, modes=3).double()
    n = 16
    yy, xx = torch.meshgrid(torch.arange(n).double(), torch.arange(n).double(), indexing="ij")
    high = torch.cos(2 * math.pi * 5 * xx / n).double()[None, None]  # x-frequency 5 >= 3
    assert conv(high).abs().max() < 1e-12
    low = torch.cos(2 * math.pi * (2 * xx + yy) / n).double()[None, None]
    out = conv(low)
    # output stays within the span of the input's Fourier modes (+-(1, 2))
    spec = torch.fft.fft2(out[0, 0])
    keep = torch.zeros(n, n, dtype=torch.bool)
    keep[1, 2] = keep[-1, -2] = True
    assert spec[~keep].abs().max() < 1e-9 and spec[keep].abs().max() > 1e-3
    x = torch.randn(2, 1, n, n, dtype=torch.float64)
    assert torch.allclose(conv(torch.roll(x, (5, 3), (-2, -1))),
                          torch.roll(conv(x), (5, 3), (-2, -1)), atol=1e-12)
    with pytest.raises(ValueError, match="modes"):
        conv(torch.randn(1, 1, 4, 4))


def test_hamiltonian_field_conserves_its_hamiltonian_and_volume():
    torch.manual_seed(0)
    field = HamiltonianField(dof=1, hidden=16).double()
    x0 = torch.randn(3, 2, dtype=torch.float64)
    sol = solve(field, x0, torch.linspace(0, 3, 7, dtype=torch.float64), rtol=1e-11, atol=1e-11)
    h = field.hamiltonian(sol)
    assert (h - h[:, :1]).abs().max() < 1e-8
    jac = torch.autograd.functional.jacobian(lambda z: field(0.0, z), x0[0])
    assert abs(float(torch.trace(jac))) < 1e-12  # divergence-free (symplectic) flow
