"""Grid operators against analytic derivatives of trigonometric fields: finite differences
converge at their stated order as the grid is refined, FFT operators are exact to round-off."""

import math

import numpy as np
import pytest
import torch

from probdyn import ops

LX, LY = 1.0, 2.0  # a non-square domain, so dx != dy is exercised


def _periodic_case(n, dtype=torch.float64, ly=LY):
    """f = sin(2 pi x / Lx) cos(4 pi y / Ly) + cos(2 pi x / Lx), its gradient and Laplacian."""
    dx, dy = LX / n, ly / n
    y = torch.arange(n, dtype=dtype)[:, None] * dy
    x = torch.arange(n, dtype=dtype)[None, :] * dx
    a, b = 2 * math.pi / LX, 4 * math.pi / ly
    f = torch.sin(a * x) * torch.cos(b * y) + torch.cos(a * x)
    fx = a * torch.cos(a * x) * torch.cos(b * y) - a * torch.sin(a * x)
    fy = -b * torch.sin(a * x) * torch.sin(b * y)
    lap = -(a**2 + b**2) * torch.sin(a * x) * torch.cos(b * y) - a**2 * torch.cos(a * x)
    return f, torch.stack([fx, fy]), lap, (dy, dx)


def _neumann_case(n, dtype=torch.float64, ly=LY):
    """Cosine modes on cell centres: zero normal derivative on the walls of [0, L]."""
    dx, dy = LX / n, ly / n
    y = (torch.arange(n, dtype=dtype)[:, None] + 0.5) * dy
    x = (torch.arange(n, dtype=dtype)[None, :] + 0.5) * dx
    a, b = math.pi / LX, 2 * math.pi / ly
    f = torch.cos(a * x) * torch.cos(b * y) + torch.cos(3 * a * x)
    fx = -a * torch.sin(a * x) * torch.cos(b * y) - 3 * a * torch.sin(3 * a * x)
    fy = -b * torch.cos(a * x) * torch.sin(b * y)
    lap = -(a**2 + b**2) * torch.cos(a * x) * torch.cos(b * y) - 9 * a**2 * torch.cos(3 * a * x)
    return f, torch.stack([fx, fy]), lap, (dy, dx)


def _rate(errors):
    """Observed order of convergence from errors at n, 2n, 4n."""
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
@pytest.mark.parametrize("stencil,order", [("five_point", 2), ("fourth_order", 4)])
def test_laplacian_converges_at_stencil_order(boundary, stencil, order):
    case = _periodic_case if boundary == "periodic" else _neumann_case
    errors = []
    for n in (16, 32, 64):
        f, _, lap, dx = case(n)
        approx = ops.laplacian(f, dx, boundary=boundary, stencil=stencil)
        errors.append((approx - lap).abs().max().item())
    rates = _rate(errors)
    assert np.all(np.abs(rates - order) < 0.2), (errors, rates)


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_nine_point_laplacian_second_order(boundary):
    case = _periodic_case if boundary == "periodic" else _neumann_case
    errors = []
    for n in (16, 32, 64):
        f, _, lap, dx = case(n, ly=LX)  # square cells: the 9-point stencil needs dy == dx
        approx = ops.laplacian(f, dx, boundary=boundary, stencil="nine_point")
        errors.append((approx - lap).abs().max().item())
    rates = _rate(errors)
    assert np.all(np.abs(rates - 2) < 0.2), (errors, rates)


@pytest.mark.parametrize("boundary", ["periodic", "neumann"])
def test_gradient_and_divergence_second_order(boundary):
    case = _periodic_case if boundary == "periodic" else _neumann_case
    g_err, d_err = [], []
    for n in (16, 32, 64):
        f, grad, lap, dx = case(n)
        g_err.append((ops.gradient(f, dx, boundary=boundary) - grad).abs().max().item())
        if boundary == "periodic":  # div(grad f) = Lap f, with the analytic gradient field
            div = ops.divergence(grad, dx, boundary=boundary)
            d_err.append((div - lap).abs().max().item())
    assert np.all(np.abs(_rate(g_err) - 2) < 0.2), g_err
    if d_err:
        assert np.all(np.abs(_rate(d_err) - 2) < 0.2), d_err


def test_one_dimensional_operators():
    errs_lap, errs_grad = [], []
    for n in (32, 64, 128):
        x = torch.arange(n, dtype=torch.float64) * (3.0 / n)
        k = 2 * math.pi / 3.0
        f = torch.sin(k * x)
        errs_lap.append((ops.laplacian(f, 3.0 / n, ndim=1) + k**2 * f).abs().max().item())
        errs_grad.append((ops.gradient(f, 3.0 / n, ndim=1) - k * torch.cos(k * x))
                         .abs().max().item())
        spec = ops.spectral_gradient(f, 3.0 / n, ndim=1)
        assert (spec - k * torch.cos(k * x)).abs().max() < 1e-11
    assert np.all(np.abs(_rate(errs_lap) - 2) < 0.1)
    assert np.all(np.abs(_rate(errs_grad) - 2) < 0.1)


@pytest.mark.parametrize("stencil,order", [("five_point", 2), ("fourth_order", 4)])
def test_one_dimensional_neumann_cosine(stencil, order):
    errs = []
    for n in (16, 32, 64):
        x = (torch.arange(n, dtype=torch.float64) + 0.5) * (2.0 / n)  # cell centres of [0, 2]
        k = 3 * math.pi / 2.0
        f = torch.cos(k * x)
        lap = ops.laplacian(f, 2.0 / n, ndim=1, boundary="neumann", stencil=stencil)
        errs.append((lap + k**2 * f).abs().max().item())
    assert np.all(np.abs(_rate(errs) - order) < 0.2), errs


@pytest.mark.parametrize("n", [16, 15])
def test_spectral_operators_exact(n):
    f, grad, lap, dx = _periodic_case(n)
    assert (ops.spectral_laplacian(f, dx) - lap).abs().max() < 1e-10
    assert (ops.spectral_gradient(f, dx) - grad).abs().max() < 1e-10
    assert (ops.spectral_divergence(grad, dx) - lap).abs().max() < 1e-10
    u = ops.inverse_laplacian(lap, dx)
    assert (u - (f - f.mean())).abs().max() < 1e-12
    assert (ops.spectral_laplacian(u, dx) - lap).abs().max() < 1e-10


def test_spectral_float32():
    f, grad, lap, dx = _periodic_case(32, torch.float32)
    assert ops.spectral_laplacian(f, dx).dtype == torch.float32
    scale = lap.abs().max()
    assert (ops.spectral_laplacian(f, dx) - lap).abs().max() / scale < 1e-4
    assert (ops.laplacian(f, dx) - ops.laplacian(f.double(), dx)).abs().max() / scale < 1e-5


def test_batched_matches_loop():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(3, 2, 12, 10, generator=g, dtype=torch.float64)
    for fn in (lambda u: ops.laplacian(u, 0.5, boundary="neumann", stencil="fourth_order"),
               lambda u: ops.gradient(u, (0.3, 0.5)),
               ops.spectral_laplacian, ops.spectral_gradient, ops.inverse_laplacian):
        batched = fn(f)
        looped = torch.stack([torch.stack([fn(f[i, j]) for j in range(2)]) for i in range(3)])
        assert torch.allclose(batched, looped, atol=1e-12)


@pytest.mark.parametrize("stencil", ["five_point", "nine_point", "fourth_order"])
def test_neumann_laplacian_matrix_symmetric_and_conservative(stencil):
    """Brute force: the operator's matrix on a 6x5 grid is symmetric with zero row sums, so
    it conserves the total (mass) and the discrete wave energy."""
    ny, nx = 6, 5
    basis = torch.eye(ny * nx, dtype=torch.float64).reshape(-1, ny, nx)
    A = ops.laplacian(basis, 1.0, boundary="neumann", stencil=stencil).reshape(ny * nx, -1)
    assert torch.allclose(A, A.T, atol=1e-14)
    assert A.sum(1).abs().max() < 1e-12
    assert torch.linalg.eigvalsh(A).max() < 1e-12  # negative semi-definite


def test_differentiable():
    f = torch.randn(5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u: ops.laplacian(u, 0.7, boundary="neumann"), (f,))
    assert torch.autograd.gradcheck(lambda u: ops.spectral_gradient(u, 0.7), (f,))
    assert torch.autograd.gradcheck(lambda u: ops.inverse_laplacian(u, 0.7), (f,))


@pytest.mark.parametrize("call,match", [
    (lambda: ops.laplacian(torch.zeros(8, 8), -1.0), "dx"),
    (lambda: ops.laplacian(torch.zeros(8, 8), (1.0, float("nan"))), "dx"),
    (lambda: ops.laplacian(torch.zeros(8, 8), boundary="dirichlet"), "boundary"),
    (lambda: ops.laplacian(torch.zeros(8, 8), stencil="seven"), "stencil"),
    (lambda: ops.laplacian(torch.zeros(8, 8), (1.0, 2.0), stencil="nine_point"), "nine_point"),
    (lambda: ops.laplacian(torch.zeros(8)), "field"),
    (lambda: ops.laplacian(torch.zeros(8, 2)), "field"),
    (lambda: ops.gradient(torch.zeros(8, 8, dtype=torch.int64)), "field"),
    (lambda: ops.divergence(torch.zeros(3, 8, 8)), "vector"),
    (lambda: ops.spectral_divergence(torch.zeros(8, 8)), "vector"),
    (lambda: ops.gradient(torch.zeros(8, 8), ndim=3), "ndim"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
