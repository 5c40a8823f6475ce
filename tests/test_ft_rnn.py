"""FT-RNN (EnvironmentGRU): the recurrent multi-environment baseline of Table S7."""

import pytest
import torch
import torch.nn.functional as F

from probdyn.dynamics import EnvironmentGRU
from probdyn.infer import fit_leads, rollout, trajectory_mse_per_env
from probdyn.physics import simulate_lotka_volterra


def _lv(num_steps=10):
    ds = simulate_lotka_volterra("train", 1, num_steps=num_steps, progress=False)
    y = torch.tensor(ds["state"].values.reshape(10, 1, num_steps, 2), dtype=torch.float32)
    return y, torch.tensor(ds["time"].values, dtype=torch.float32)


def test_teacher_forced_rollout_matches_torch_gru():
    # oracle: torch's multi-step nn.GRU with the cell's weights, fed the data and the codes
    torch.manual_seed(0)
    model = EnvironmentGRU(3, 2, hidden=8).double()
    y = torch.randn(3, 4, 7, 2, dtype=torch.float64)
    pred = model.rollout(y, torch.ones(6, dtype=torch.bool))
    gru = torch.nn.GRU(2 + 3, 8, batch_first=True).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(gru, f"{name}_l0").data.copy_(getattr(model.cell, name))
    code = F.one_hot(torch.arange(3), 3).double()[:, None, None].expand(3, 4, 6, 3)
    h, _ = gru(torch.cat([y[:, :, :-1], code], -1).reshape(12, 6, 5))
    h = h.reshape(3, 4, 6, 8)
    expected = y[:, :, :-1] + model.head(torch.cat([h, code], -1))
    torch.testing.assert_close(pred[:, :, 1:], expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pred[:, :, 0], y[:, :, 0])


def test_free_rollout_feeds_back_its_predictions_and_codes_differ():
    torch.manual_seed(1)
    model = EnvironmentGRU(2, 2, hidden=8).double()
    x0 = torch.randn(1, 1, 2, dtype=torch.float64).expand(2, 1, 2)
    y = torch.cat([x0[:, :, None], torch.full((2, 1, 4, 2), 1e3, dtype=torch.float64)], 2)
    free = model.rollout(y)  # the 1e3 "data" must not be used
    assert free.abs().max() < 100
    # the same initial state, different environments: different predictions
    assert (free[0, 0, 1:] - free[1, 0, 1:]).abs().max() > 1e-4
    # rollout dispatches to the model and ignores the solver name
    torch.testing.assert_close(rollout(model, y, torch.arange(5.0), None, "euler"), free)


def test_fit_leads_trains_the_ft_rnn_on_lotka_volterra():
    y, t = _lv()
    torch.manual_seed(0)
    model = EnvironmentGRU(10, 2, hidden=16)
    before = float(trajectory_mse_per_env(model, y, t).mean())
    fit = fit_leads(model, y, t, iterations=150, lr=1e-2, teacher_forcing=0.9, decay_every=5,
                    progress=False)
    after = float(trajectory_mse_per_env(model, y, t).mean())
    assert after < 0.3 * before, (before, after)
    assert all(p == 0 for p in fit.penalties)


def test_bad_input():
    with pytest.raises(ValueError, match="num_envs"):
        EnvironmentGRU(0, 2)
    with pytest.raises(ValueError, match="hidden"):
        EnvironmentGRU(2, 2, hidden=1.5)
    with pytest.raises(ValueError, match=r"y must have shape \(2, B, T, 2\)"):
        EnvironmentGRU(2, 2).rollout(torch.zeros(3, 1, 4, 2))
