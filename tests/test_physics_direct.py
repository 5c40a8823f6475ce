"""The direct convolutional predictor (ACDNN): its exact untrained limits, scale
equivariance, and learning a known translation operator."""

import pytest
import torch

from probdyn import physics


def _zero_head(model):
    with torch.no_grad():
        model.net.head.weight.zero_()
        model.net.head.bias.zero_()
    return model.eval()


def _translated_fields(n_traj, n=32, frames=12, seed=0):
    """Smooth random periodic fields (Fourier modes |k| <= 3) moving one pixel per step in x:
    the exact next frame is ``roll(I_t, 1)``."""
    g = torch.Generator().manual_seed(seed)
    k = torch.fft.fftfreq(n) * n
    mask = (k[:, None] ** 2 + k[None, :] ** 2) <= 9
    spec = torch.complex(torch.randn(n_traj, n, n, generator=g),
                         torch.randn(n_traj, n, n, generator=g)) * mask
    f = torch.fft.ifft2(spec).real
    f = f / f.std()
    return torch.stack([torch.roll(f, t, dims=-1) for t in range(frames)], 1)


def test_untrained_limits_are_exact():
    x = torch.randn(3, 4, 25, 53, dtype=torch.float64) * 4 + 280
    direct = _zero_head(physics.DirectForecaster(small=True).double())
    pred, motions = direct(x, 3)
    assert motions is None and pred.shape == (3, 3, 25, 53)
    # zero head: the standardised output is 0, i.e. the window mean, at every step
    torch.testing.assert_close(pred[:, 0], x.mean((1, 2, 3))[:, None, None].expand(3, 25, 53))
    residual = _zero_head(physics.DirectForecaster(small=True, residual=True).double())
    pred, _ = residual(x, 6)
    torch.testing.assert_close(pred, x[:, -1:].expand(3, 6, 25, 53))  # persistence


def test_scale_and_shift_equivariance():
    # standardising the window inside makes f(a x + b) = a f(x) + b (eval-mode BatchNorm)
    torch.manual_seed(0)
    model = physics.DirectForecaster(small=True).double().eval()
    with torch.no_grad():
        model.net.head.weight.normal_(std=0.3)
    x = torch.randn(2, 4, 32, 32, dtype=torch.float64)
    a, b = 7.5, 281.0
    with torch.no_grad():
        p, _ = model(x, 4)
        q, _ = model(a * x + b, 4)
    assert (p - p.mean()).abs().max() > 0.05  # a non-trivial prediction
    torch.testing.assert_close(q, a * p + b, rtol=1e-9, atol=1e-9)


def test_learns_a_translation():
    train, test = _translated_fields(16, seed=0), _translated_fields(6, seed=1)
    res = physics.train_direct_forecaster(
        train, small=True, epochs=5, patience=5, batch_size=8, lr=3e-3, weight_decay=0.0,
        train_horizon=2, progress=False, seed=0)
    scores = physics.forecast_scores(res.model, test)
    assert scores["mean_speed"] is None  # no motion field
    # measured (seed 0, 5 epochs, 8 s): 6-step MSE 0.12 vs persistence 0.87 (unit-variance
    # fields; 0.018 after 10 epochs on 24 trajectories)
    assert scores["mse"] < 0.3 * scores["persistence_mse"], scores
    assert len(res.history["val_mse"]) == 5 and res.seconds > 0


def test_bad_input():
    with pytest.raises(ValueError, match="n_outputs|n_inputs"):
        physics.DirectForecaster(n_inputs=0)
    with pytest.raises(ValueError, match="padding_mode"):
        physics.DirectForecaster(padding_mode="wrap")
    model = physics.DirectForecaster(small=True)
    with pytest.raises(ValueError, match="frames"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.full((2, 4, 32, 32), float("nan")))
    with pytest.raises(ValueError, match="horizon"):
        model(torch.randn(2, 4, 32, 32), 0)
    frames = torch.randn(4, 12, 32, 32)
    with pytest.raises(ValueError, match="boundary"):
        physics.train_direct_forecaster(frames, boundary="open", progress=False)
    with pytest.raises(ValueError, match="n_inputs"):
        physics.train_direct_forecaster(frames, model=physics.DirectForecaster(3, small=True),
                                        progress=False)
    with pytest.raises(ValueError, match="epochs"):
        physics.train_direct_forecaster(frames, epochs=0, progress=False)
