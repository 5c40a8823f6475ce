"""Shift extrapolation (Lagrangian persistence): exact on integer translations, sub-pixel
motion recovered from Fourier-shifted fields, checked against an exhaustive grid search."""

import math

import pytest
import torch

from probdyn import physics


def _smooth_fields(n_traj, n=32, seed=0):
    """Random periodic fields of Fourier modes |k| <= 3, as spectra and as images."""
    g = torch.Generator().manual_seed(seed)
    k = torch.fft.fftfreq(n, dtype=torch.float64) * n
    mask = (k[:, None] ** 2 + k[None, :] ** 2) <= 9
    spec = torch.complex(torch.randn(n_traj, n, n, generator=g, dtype=torch.float64),
                         torch.randn(n_traj, n, n, generator=g, dtype=torch.float64)) * mask
    return spec, k


def _translated(u, v, frames, n_traj=3, n=32, seed=0):
    """Frames moving by exactly (u, v) pixels per step (x = columns, y = rows), for any real
    (u, v): a phase shift of the band-limited field."""
    spec, k = _smooth_fields(n_traj, n, seed)
    out = []
    for t in range(frames):
        phase = torch.exp(-2j * math.pi * t * (k[None, :] * u + k[:, None] * v) / n)
        out.append(torch.fft.ifft2(spec * phase).real)
    x = torch.stack(out, 1)
    return x / x.std()


def test_integer_translation_is_recovered_and_forecast_exactly():
    frames = _translated(2, -1, 10)
    model = physics.ShiftExtrapolation(4, max_shift=2.0, boundary="periodic")
    motion = model.fit_motion(frames[:, :4])
    torch.testing.assert_close(motion, torch.tensor([[2.0, -1.0]] * 3, dtype=torch.float64))
    pred, motions = model(frames[:, :4], 6)
    assert pred.shape == (3, 6, 32, 32) and motions.shape == (3, 6, 2, 32, 32)
    torch.testing.assert_close(pred, frames[:, 4:], atol=1e-10, rtol=0)
    scores = physics.forecast_scores(model, frames, horizon=6)
    assert scores["mse"] < 1e-20 < scores["persistence_mse"]
    assert scores["mean_speed"] == pytest.approx(math.sqrt(5))  # |(2, -1)| px per step


def test_subpixel_motion_matches_exhaustive_search():
    frames = _translated(0.7, -1.3, 4, n_traj=2)
    model = physics.ShiftExtrapolation(4, max_shift=2.0, resolution=0.05, boundary="periodic")
    motion = model.fit_motion(frames)
    torch.testing.assert_close(motion, torch.tensor([[0.7, -1.3]] * 2, dtype=torch.float64),
                               atol=0.05, rtol=0)
    # the coarse-to-fine search finds the exhaustive search's minimum (0.05 grid, whole box)
    grid = torch.arange(-40, 41, dtype=torch.float64) * 0.05
    src, dst = frames[:, :-1], frames[:, 1:]
    best = []
    for b in range(2):
        errs = torch.stack([torch.stack([
            (physics.gaussian_warp(src[b], torch.tensor([u, v]).reshape(2, 1, 1).expand(
                3, 2, 32, 32), kernel="bilinear") - dst[b]).pow(2).mean()
            for v in grid]) for u in grid])
        i = int(errs.argmin())
        best.append([grid[i // len(grid)], grid[i % len(grid)]])
    torch.testing.assert_close(motion, torch.tensor(best, dtype=torch.float64), atol=0.051,
                               rtol=0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_inputs"):
        physics.ShiftExtrapolation(1)
    with pytest.raises(ValueError, match="max_shift"):
        physics.ShiftExtrapolation(max_shift=0.0)
    with pytest.raises(ValueError, match="resolution"):
        physics.ShiftExtrapolation(max_shift=1.0, resolution=2.0)
    with pytest.raises(ValueError, match="boundary"):
        physics.ShiftExtrapolation(boundary="reflect")
    model = physics.ShiftExtrapolation(4)
    with pytest.raises(ValueError, match="frames must have shape"):
        model(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((1, 4, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="horizon"):
        model(torch.zeros(1, 4, 8, 8), 0)
