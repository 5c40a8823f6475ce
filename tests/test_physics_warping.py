"""The PKN warping layer (S16) against exact solutions (np.roll shifts, the spectral solution
of S14, the FFT heat kernel), mass, gradients, regularisers, and small-scale learning."""

import math

import numpy as np
import pytest
import torch

from probdyn import ops, physics
from probdyn.physics import gaussian_warp


def _smooth_field(ny=32, nx=40):
    y, x = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    return (np.sin(2 * np.pi * x / nx) * np.cos(4 * np.pi * y / ny)
            + 0.5 * np.cos(2 * np.pi * (x / nx + 2 * y / ny) + 0.3)
            + 0.3 * np.sin(6 * np.pi * x / nx - 2 * np.pi * y / ny))


def _spectral_solution(image, w, D, dt=1.0):
    """Exact S14 step on a periodic grid: F(I) exp(-i <xi, w> dt - D dt |xi|^2)."""
    ny, nx = image.shape
    ky = 2 * np.pi * np.fft.fftfreq(ny)[:, None]
    kx = 2 * np.pi * np.fft.fftfreq(nx)[None, :]
    mult = np.exp(-1j * (kx * w[0] + ky * w[1]) * dt - D * dt * (kx**2 + ky**2))
    return np.fft.ifft2(np.fft.fft2(image) * mult).real


def _constant(w, shape, dtype=torch.float64):
    return torch.tensor(w, dtype=dtype)[:, None, None].expand(2, *shape).clone()


# ------------------------------------------------------------------------ exact solutions
@pytest.mark.parametrize("shift", [(3, -2), (0, 0), (-5, 7)])
def test_integer_shift_is_roll(shift):
    image = torch.randn(2, 24, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = _constant(shift, (24, 20))
    expected = np.roll(image.numpy(), shift=(shift[1], shift[0]), axis=(-2, -1))
    for kernel, D in (("gaussian", 1e-4), ("bilinear", 0.0)):
        out = gaussian_warp(image, w, D if D > 0 else 1.0, kernel=kernel)
        np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


def test_identity_and_float32():
    image = torch.randn(3, 32, 32)
    out = gaussian_warp(image, torch.zeros(3, 2, 32, 32), 1e-3)
    assert out.dtype == torch.float32
    assert torch.equal(out, image)


@pytest.mark.parametrize("D", [0.3, 0.5, 1.0, 2.0])
def test_subpixel_advection_diffusion_matches_spectral(D):
    f = _smooth_field()
    w = (0.37, -1.62)
    out = gaussian_warp(torch.tensor(f), _constant(w, f.shape), D, truncate=5.0).numpy()
    exact = _spectral_solution(f, w, D)
    # measured: 1.5e-5 to 2.5e-5 relative; the aliasing bound exp(-2 pi^2 sigma^2) is < 1e-5
    # for sigma = sqrt(2 D) >= 0.77 px
    assert np.abs(out - exact).max() < 1e-4 * np.abs(exact).max()


def test_pure_diffusion_matches_heat_kernel():
    f = _smooth_field(48, 48) + np.random.default_rng(0).normal(size=(48, 48)) * 0.1
    for D in (0.5, 1.5):
        out = gaussian_warp(torch.tensor(f), torch.zeros(2, 48, 48, dtype=torch.float64), D,
                            truncate=5.0).numpy()
        exact = _spectral_solution(f, (0.0, 0.0), D)
        assert np.abs(out - exact).max() < 1e-3 * np.abs(exact).max()


def test_matches_advection_diffusion_simulator():
    # one warp step against the dopri5 spectral simulator with a constant velocity
    n, D, w = 32, 0.6, (0.8, 0.45)
    f = torch.tensor(_smooth_field(n, n))[None, None]
    ds = physics.simulate_advection_diffusion(
        1, diffusivity=D, velocity=torch.tensor(w), grid_size=n, horizon=1.0, dt_data=1.0,
        rtol=1e-10, atol=1e-12, initial_state=f, progress=False, store_dtype="float64")
    out = gaussian_warp(f[0, 0], _constant(w, (n, n)), D, truncate=5.0).numpy()
    sim = ds.state.values[0, 1, 0]
    assert np.abs(out - sim).max() < 1e-4 * np.abs(sim).max()


def test_bilinear_subpixel_shift_converges_second_order():
    errs = []
    for n in (16, 32, 64):
        f = _smooth_field(n, n)
        w = (0.37 * n / 16, -0.81 * n / 16)  # the same physical displacement
        out = gaussian_warp(torch.tensor(f), _constant(w, (n, n)), kernel="bilinear").numpy()
        errs.append(np.abs(out - _spectral_solution(f, w, 0.0)).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 2) < 0.3), (errs, rates)


# --------------------------------------------------------------------- mass and boundaries
def test_mass_conserved_periodic_constant_motion():
    image = torch.rand(2, 32, 32, dtype=torch.float64)
    for D in (0.02, 0.3, 1.0):
        out = gaussian_warp(image, _constant((1.3, -0.7), (32, 32)), D)
        np.testing.assert_allclose(out.sum((-2, -1)).numpy(), image.sum((-2, -1)).numpy(),
                                   rtol=1e-12)


def test_normalised_weights_keep_constants():
    # the raw S16 weights sum to 2.55 at sigma = 0.25 px: normalisation keeps a constant
    # image constant for any motion and any boundary
    image = torch.full((16, 16), 2.5, dtype=torch.float64)
    w = torch.randn(2, 16, 16, dtype=torch.float64) * 0.3
    sigma = 0.25
    for boundary in ("periodic", "replicate"):
        out = gaussian_warp(image, w, sigma**2 / 2, boundary=boundary)
        np.testing.assert_allclose(out.numpy(), 2.5, rtol=1e-12)
    raw = sum(math.exp(-(i * i + j * j) / (2 * sigma**2)) for i in range(-3, 4)
              for j in range(-3, 4)) / (2 * math.pi * sigma**2)
    assert abs(raw - 2.55) < 0.01


def test_zero_boundary_brute_force():
    # brute-force S16 with a double loop over output and input pixels
    g = torch.Generator().manual_seed(3)
    image = torch.rand(7, 9, dtype=torch.float64, generator=g)
    w = torch.randn(2, 7, 9, dtype=torch.float64, generator=g) * 1.5
    D = 0.4
    out = gaussian_warp(image, w, D, boundary="zeros", truncate=8.0).numpy()
    s2 = 2 * D
    ref = np.zeros((7, 9))
    for r in range(7):
        for c in range(9):
            py, px = r - w[1, r, c].item(), c - w[0, r, c].item()
            jj, ii = np.arange(-20, 30), np.arange(-20, 30)
            k = np.exp(-((jj[:, None] - py) ** 2 + (ii[None, :] - px) ** 2) / (2 * s2))
            k /= k.sum()
            inside = (jj[:, None] >= 0) & (jj[:, None] < 7) & (ii[None] >= 0) & (ii[None] < 9)
            vals = np.zeros_like(k)
            vals[inside] = image.numpy()[np.broadcast_to(jj[:, None], k.shape)[inside],
                                         np.broadcast_to(ii[None, :], k.shape)[inside]]
            ref[r, c] = (k * vals).sum()
    np.testing.assert_allclose(out, ref, atol=1e-12)


# ---------------------------------------------------------------------------- gradients
def test_gradcheck_image_motion_diffusivity():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(6, 5, dtype=torch.float64, generator=g, requires_grad=True)
    # keep source positions away from half-integers, where the window recentres
    w = (torch.rand(2, 6, 5, dtype=torch.float64, generator=g) * 0.6 - 0.3 + 1.0)
    w.requires_grad_(True)
    D = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    for boundary in ("periodic", "zeros", "replicate"):
        assert torch.autograd.gradcheck(
            lambda i, m, d, b=boundary: gaussian_warp(i, m, d, boundary=b, truncate=6.0),
            (image, w, D), atol=1e-6)
    assert torch.autograd.gradcheck(lambda i, m: gaussian_warp(i, m, kernel="bilinear"),
                                    (image, w * 0.9))


def test_finite_difference_gradient_16x16():
    g = torch.Generator().manual_seed(5)
    image = torch.rand(16, 16, dtype=torch.float64, generator=g)
    target = torch.rand(16, 16, dtype=torch.float64, generator=g)
    w = torch.randn(2, 16, 16, dtype=torch.float64, generator=g) * 0.2
    w.requires_grad_(True)

    def loss(m):
        return (gaussian_warp(image, m, 0.5, truncate=6.0) - target).pow(2).sum()

    loss(w).backward()
    direction = torch.randn(2, 16, 16, dtype=torch.float64, generator=g)
    h = 1e-6
    with torch.no_grad():
        fd = (loss(w + h * direction) - loss(w - h * direction)) / (2 * h)
    assert abs(float(fd) - float((w.grad * direction).sum())) < 1e-6 * abs(float(fd)) + 1e-8


# --------------------------------------------------------------------------- bad input
def test_bad_input():
    im, w = torch.rand(8, 8), torch.zeros(2, 8, 8)
    with pytest.raises(ValueError, match="motion"):
        gaussian_warp(im, torch.zeros(3, 8, 8), 0.5)
    with pytest.raises(ValueError, match="motion"):
        gaussian_warp(im, torch.zeros(2, 8, 9), 0.5)
    with pytest.raises(ValueError, match="image"):
        gaussian_warp(im.clone().fill_(float("nan")), w, 0.5)
    with pytest.raises(ValueError, match="motion"):
        gaussian_warp(im, w.clone().fill_(float("nan")), 0.5)
    with pytest.raises(ValueError, match="diffusivity"):
        gaussian_warp(im, w, -0.1)
    with pytest.raises(ValueError, match="diffusivity"):
        gaussian_warp(im, w, 0.0)
    with pytest.raises(ValueError, match="boundary"):
        gaussian_warp(im, w, 0.5, boundary="reflect")
    with pytest.raises(ValueError, match="dt"):
        gaussian_warp(im, w, 0.5, dt=0.0)
    with pytest.raises(ValueError, match="frames"):
        physics.MotionEstimator(small=True)(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="diffusivity"):
        physics.WarpingForecaster(physics.MotionEstimator(small=True), diffusivity=-1.0)


def test_training_bad_input():
    frames = torch.randn(4, 12, 32, 32)
    with pytest.raises(ValueError, match="n_inputs \\+ horizon"):
        physics.train_warping_forecaster(frames[:, :8], progress=False)
    with pytest.raises(ValueError, match="val_fraction"):
        physics.train_warping_forecaster(frames, val_fraction=1.0, progress=False)
    with pytest.raises(ValueError, match="train_horizon"):
        physics.train_warping_forecaster(frames, train_horizon=7, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        physics.train_warping_forecaster(frames.clone().fill_(float("nan")), progress=False)
    with pytest.raises(ValueError, match="shape"):
        physics.sliding_windows(torch.randn(12, 32, 32))
    with pytest.raises(ValueError, match="same shape"):
        physics.motion_agreement(torch.zeros(2, 8, 8), torch.zeros(2, 8, 9))

# ------------------------------------------------------------------------- regularisers
def test_regularisers():
    n = 16
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64),
                          torch.arange(n, dtype=torch.float64), indexing="ij")
    rotation = torch.stack([-y, x])
    assert physics.divergence_penalty(rotation, boundary="neumann") == 0
    expansion = torch.stack([x, y])
    assert torch.allclose(ops.divergence(expansion, 1.0, boundary="neumann")[1:-1, 1:-1],
                          torch.tensor(2.0, dtype=torch.float64))
    # on a periodic field the penalty is the mean of the brute-force central divergence
    wave = torch.stack([torch.sin(2 * math.pi * x / n), torch.cos(2 * math.pi * y / n)])
    div = ((torch.roll(wave[0], -1, 1) - torch.roll(wave[0], 1, 1)) / 2
           + (torch.roll(wave[1], -1, 0) - torch.roll(wave[1], 1, 0)) / 2)
    assert torch.allclose(physics.divergence_penalty(wave), div.pow(2).mean())
    const = torch.ones(2, n, n) * torch.tensor([0.3, -1.0])[:, None, None]
    assert physics.smoothness_penalty(const) == 0
    assert physics.magnitude_penalty(torch.zeros(2, n, n)) == 0
    assert torch.isclose(physics.magnitude_penalty(const), torch.tensor(1.09))
    r = torch.randn(50, dtype=torch.float64)
    assert torch.allclose(physics.charbonnier(r, eps=0.0, alpha=0.5), r.pow(2).mean())
    assert torch.allclose(physics.charbonnier(r, eps=1e-3, alpha=1.0),
                          (r**2 + 1e-3).sqrt().mean())


# ------------------------------------------------------------------- small-scale learning
def _smooth_advection_data(n_traj, n, frames, seed):
    L = float(n)
    return physics.simulate_advection_diffusion(
        n_traj, grid_size=n, horizon=float(frames - 1), speed=2.0, scalar_tau=4 * math.pi / L,
        velocity_tau=4 * math.pi / L, rtol=1e-6, atol=1e-8, progress=False, seed=seed)


def test_warp_with_the_true_flow_forecasts_the_simulator():
    # the PKN's physics with the simulator's own spatially varying velocity and D: 6 warp
    # steps track the dopri5 spectral solution (measured 6-step MSE 0.0034 vs persistence
    # 0.101; what is left is the first-order backtrace along a curved, 2 px/step flow)
    ds = _smooth_advection_data(4, 64, 11, seed=3)
    x, y = physics.sliding_windows(ds, 4, 6)
    w = torch.tensor(ds.velocity.values, dtype=x.dtype).repeat_interleave(len(x) // 4, 0)
    frame, errors = x[:, -1], []
    for k in range(6):
        frame = gaussian_warp(frame, w, torch.tensor(0.1, dtype=x.dtype), truncate=3.0)
        errors.append(float(((frame - y[:, k]) ** 2).mean()))
    persistence = float(((x[:, -1:] - y) ** 2).mean())
    assert np.mean(errors) < 0.1 * persistence, (errors, persistence)
    assert np.all(np.diff(errors) > 0)  # errors accumulate along the rollout


def test_forecaster_shapes_and_persistence_at_init():
    model = physics.WarpingForecaster(physics.MotionEstimator(small=True), diffusivity=0.2)
    frames = torch.randn(3, 4, 32, 64)
    pred, w = model(frames, horizon=6)
    assert pred.shape == (3, 6, 32, 64) and w.shape == (3, 6, 2, 32, 64)
    full = physics.MotionEstimator()  # the spec's widths
    assert full.conv5[1][0].out_channels == 1024 and full.flow.in_channels == 16 + 4
    assert full(torch.randn(2, 4, 32, 32)).shape == (2, 2, 32, 32)
    assert full(torch.randn(2, 4, 25, 53)).shape == (2, 2, 25, 53)  # padded, then cropped
    windows = physics.sliding_windows(torch.randn(2, 12, 32, 32), 4, 6)
    assert windows[0].shape == (6, 4, 32, 32) and windows[1].shape == (6, 6, 32, 32)


def test_learned_forecaster_beats_persistence_and_finds_the_flow():
    ds = _smooth_advection_data(30, 32, 15, seed=3)
    train, test = ds.isel(trajectory=slice(0, 24)), ds.isel(trajectory=slice(24, 30))
    res = physics.train_warping_forecaster(
        train, small=True, epochs=10, patience=10, batch_size=8, lr=3e-3, weight_decay=0.0,
        train_horizon=2, truncate=3.0, lambda_div=0.01, lambda_grad=0.01, progress=False,
        seed=0)
    scores = physics.forecast_scores(res.model, test)
    # measured (seed 0, 10 epochs, 13 s): PKN 0.091 vs persistence 0.131, 6-step average
    assert scores["mse"] < 0.85 * scores["persistence_mse"], scores
    x, _ = physics.sliding_windows(test, 4, 6)
    with torch.no_grad():
        w_hat = res.model.estimator(x)
    w_true = torch.tensor(test.velocity.values).repeat_interleave(len(x) // 6, 0)
    agreement = physics.motion_agreement(w_hat, w_true)
    # measured correlation 0.34 (cosine 0.35) on held-out trajectories after these 10 epochs
    assert agreement["correlation"] > 0.2, agreement


# -------------------------------------------------------------------------- real fields
def _air_anomalies():
    """NCEP air temperature as standardised anomalies (per-pixel 2013 mean removed, divided
    by the 2013 anomaly std), cut into 73-frame (18-day) sequences: 2013 for training, 2014
    held out. Returns (train, test, scale in K)."""
    from probdyn import data as pdata

    path = pdata.describe("air_temperature_ncep").local_path()
    if not path.is_file():
        pytest.skip(f"{path} not in the data directory")
    grid = pdata.grid_fields(pdata.load("air_temperature_ncep")).values
    train, test = grid[:1460], grid[1460:]
    mean = train.mean(0)
    scale = (train - mean).std()
    train, test = ((x - mean) / scale for x in (train, test))
    return (train.reshape(20, 73, 25, 53), test.reshape(20, 73, 25, 53), float(scale))


@pytest.mark.slow
def test_pkn_on_ncep_air_temperature_beats_persistence():
    train, test, scale = _air_anomalies()
    res = physics.train_warping_forecaster(
        torch.tensor(train), small=True, epochs=30, patience=4, batch_size=16, lr=3e-3,
        weight_decay=0.0, train_horizon=2, truncate=3.0, lambda_div=0.01, lambda_grad=0.01,
        boundary="neumann", max_seconds=240.0, progress=False, seed=0)
    scores = physics.forecast_scores(res.model, torch.tensor(test))
    print(f"\nNCEP air 2014, 6-step MSE (standardised; x {scale**2:.2f} for K^2): "
          f"PKN {scores['mse']:.4f}, persistence {scores['persistence_mse']:.4f}; "
          f"D = {float(res.model.D.detach()):.3f} px^2/step; {len(res.history['val_mse'])} epochs, "
          f"{res.seconds:.0f} s; per step {scores['mse_per_step'].round(4)} vs "
          f"{scores['persistence_mse_per_step'].round(4)}")
    assert scores["mse"] < scores["persistence_mse"]


@pytest.mark.slow
def test_small_scale_learning_64x64_divergence_penalty():
    # spec B.6.8 on a 64 x 64 periodic advection-diffusion set: beat persistence, recover the
    # flow, and a lower mean |div w| with lambda_div > 0 than with lambda_div = 0
    ds = _smooth_advection_data(40, 64, 16, seed=3)
    train, test = ds.isel(trajectory=slice(0, 32)), ds.isel(trajectory=slice(32, 40))
    x, _ = physics.sliding_windows(test, 4, 6)
    w_true = torch.tensor(test.velocity.values).repeat_interleave(len(x) // 8, 0)
    out = {}
    for lambda_div in (1.0, 0.0):
        res = physics.train_warping_forecaster(
            train, small=True, epochs=8, patience=8, batch_size=8, lr=3e-3, weight_decay=0.0,
            train_horizon=2, truncate=3.0, lambda_div=lambda_div, lambda_grad=0.01,
            progress=False, seed=0)
        scores = physics.forecast_scores(res.model, test)
        with torch.no_grad():
            w_hat = res.model.estimator(x)
        out[lambda_div] = (scores, physics.motion_agreement(w_hat, w_true),
                           float(ops.divergence(w_hat).abs().mean()), res.seconds)
    print("\n64x64 B.6.8:", {k: (v[0]["mse"], v[0]["persistence_mse"], v[1], v[2], v[3])
                            for k, v in out.items()})
    for scores, agreement, _, _ in out.values():
        assert scores["mse"] < 0.8 * scores["persistence_mse"]
        assert agreement["correlation"] > 0.4
    assert out[1.0][2] < out[0.0][2]
