"""The local-global NKF forecaster: likelihood against hand-built NKFs, forecasts, training,
the GluonTS rolling protocol and the exchange-rate reproduction at tiny size."""

import json
import math
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch
from _models import perturb_parameters

import probdyn.data as pdata
from probdyn.distributions import LinearGaussianSSM, NormalizingKalmanFilter
from probdyn.models import LocalGlobalNKF, backtest, local_system, rolling_windows, state_dim


def _perturb(model, scale=0.3, seed=1):
    return perturb_parameters(model, scale, seed)


SMALL = {"hidden_size": 8, "embedding_dim": 3}


@pytest.fixture(scope="module")
def rates():
    name = "exchange_rate_nips"
    if not pdata.describe(name).available():
        pytest.skip("exchange_rate_nips not in PROBDYN_DATA_DIR")
    ds = pdata.load(name)
    y = ds["rate"]
    y.attrs.update(ds.attrs)
    return y


def _hand_built_joint(params, b=0):
    """Joint LGSSM of window b built step by step with torch.block_diag (an independent
    assembly of the N local models side by side)."""
    m0, P0, F, Q, H, R = (x for x in params)
    N, T = Q.shape[1], Q.shape[2]
    loc = torch.cat([m0[b, i] for i in range(N)])
    cov = torch.block_diag(*[P0[b, i] for i in range(N)])
    Fj = torch.block_diag(*[F] * N)
    Qj = torch.stack([torch.block_diag(*[Q[b, i, t] for i in range(N)]) for t in range(T)])
    Hj = torch.stack([torch.block_diag(*[H[b, i, t] for i in range(N)]) for t in range(T)])
    Rj = torch.stack([torch.diag(R[b, :, t, 0, 0]) for t in range(T)])
    return LinearGaussianSSM(loc, cov, Fj, Qj, Hj, Rj)


# ---------------------------------------------------------------------------- structure


def test_structural_matrices_and_state_counts():
    assert state_dim([7], False) == 8 and state_dim([24, 7], False) == 32
    assert state_dim([7], True) == 9
    assert LocalGlobalNKF(3, "B", flow="identity").state_dim == 8
    assert LocalGlobalNKF(3, "H", flow="identity").state_dim == 32
    a, b, s = torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4]), torch.tensor([0.5, 0.6])
    onehot = torch.nn.functional.one_hot(torch.tensor([2, 5]), 7).double()
    F, Q, H = local_system(a.double(), [s.double()], [onehot], trend_var=b.double())
    assert torch.equal(F[:2, :2], torch.tensor([[1.0, 1.0], [0.0, 1.0]]).double())
    assert torch.equal(F[2:, 2:], torch.eye(7).double()) and F[:2, 2:].abs().sum() == 0
    for t, season in enumerate((2, 5)):
        expected = torch.zeros(9).double()
        expected[:2] = torch.tensor([a[t], b[t]])
        expected[2 + season] = s[t]
        assert torch.allclose(Q[t], torch.diag(expected))  # only the active season diffuses
        row = torch.zeros(9).double()
        row[:2] = 1.0
        row[2 + season] = 1.0
        assert torch.equal(H[t, 0], row)


def test_output_maps_respect_their_bounds(rates):
    model = LocalGlobalNKF(8, flow="identity", noise_std_bounds=(0.01, 1.0),
                           innovation_std_max=0.1, **SMALL)
    with torch.no_grad():  # extreme outputs in both directions
        model.step_head.weight.normal_(0, 50.0)
        model.initial_head.weight.normal_(0, 50.0)
    inputs = model.prepare(rates.isel(time=slice(0, 60)))
    p = model.emit(inputs.features[None], inputs.seasons[None])
    noise = p.observation_cov[..., 0, 0]
    assert noise.min() >= 0.01**2 * (1 - 1e-6) and noise.max() <= 1.0
    q = torch.diagonal(p.transition_cov, dim1=-2, dim2=-1)
    assert q.min() >= 0 and q.max() <= 0.1**2 * (1 + 1e-6)
    v0 = torch.diagonal(p.initial_cov, dim1=-2, dim2=-1)
    assert v0.min() >= 0.01**2 * (1 - 1e-6) and v0.max() <= 1.0


# --------------------------------------------------------------------------- likelihood


@pytest.mark.parametrize("flow", ["realnvp", "local", "identity"])
def test_log_prob_equals_hand_built_nkf(rates, flow):
    model = _perturb(LocalGlobalNKF(8, flow=flow, context_length=10, **SMALL).double()).eval()
    window = rates.isel(time=slice(100, 116))
    y = torch.as_tensor(window.values)
    s = y[:10].abs().mean(0)
    inputs = model.prepare(window)
    with torch.no_grad():
        params = model.emit(inputs.features[None], inputs.seasons[None])
        nkf = NormalizingKalmanFilter(_hand_built_joint(params), model.flow)
        expected = nkf.log_prob(y / s) - 16 * s.log().sum()
        assert float(model.log_prob(window)) == pytest.approx(float(expected), rel=1e-10)
        # the model's own joint assembly agrees too
        assert float(model.distribution(params).log_prob((y / s)[None])[0]) == pytest.approx(
            float(nkf.log_prob(y / s)), rel=1e-10)
        # missing data: whole steps for any flow, single entries for element-wise ones
        y_miss = y.clone()
        y_miss[12] = float("nan")
        if model.flow.elementwise:
            y_miss[3, 2] = y_miss[14, 5] = float("nan")
        n_obs = (~torch.isnan(y_miss)).sum(0)
        s = torch.nanmean(y_miss[:10].abs(), 0)  # the scale sees only observed entries
        expected = nkf.log_prob(y_miss / s) - (n_obs * s.log()).sum()
        got = model.window_log_prob(y_miss[None], inputs.features[None], inputs.seasons[None])
        assert float(got[0]) == pytest.approx(float(expected), rel=1e-10)


def test_gradient_matches_finite_differences(rates):
    """d log p / d theta through the LSTM, the heads, the embedding and the flow (float64)."""
    model = _perturb(LocalGlobalNKF(8, flow="realnvp", context_length=6, **SMALL).double(),
                     scale=0.2).eval()
    window = rates.isel(time=slice(500, 510))
    model.zero_grad()
    model.log_prob(window).backward()
    named = dict(model.named_parameters())
    checked = 0
    for name in ("lstm.weight_ih_l0", "lstm.weight_hh_l1", "step_head.bias", "embedding.weight",
                 "initial_head.weight", "flow.transform._transforms.4.transform_net.mlp."
                 "_output_layer.weight"):
        p = named[name]
        flat = p.data.view(-1)
        for j in (0, flat.numel() // 2):
            old = float(flat[j])
            with torch.no_grad():
                flat[j] = old + 1e-6
                up = float(model.log_prob(window))
                flat[j] = old - 1e-6
                down = float(model.log_prob(window))
                flat[j] = old
            fd = (up - down) / 2e-6
            assert float(p.grad.view(-1)[j]) == pytest.approx(fd, rel=1e-4, abs=1e-5), name
            checked += 1
    assert checked == 12


def test_long_sequence_stays_positive_definite(rates):
    """The whole training range (6071 steps) in float32: finite likelihood, PD filtered
    covariances at every step (spec §6 item 15)."""
    model = _perturb(LocalGlobalNKF(8, flow="realnvp", **SMALL), scale=0.1).eval()
    panel = rates.isel(time=slice(0, rates.attrs["train_length"]))
    inputs = model.prepare(panel)
    with torch.no_grad():
        assert math.isfinite(float(model.log_prob(panel)))
        params = model.emit(inputs.features[None], inputs.seasons[None])
        s = model.scale(inputs.y[None])
        z, _ = model.flow.inverse_and_log_det(inputs.y[None] / s.unsqueeze(-2))
        filtered = model.local_ssm(params).filter(z.transpose(-1, -2).unsqueeze(-1))
        eig = torch.linalg.eigvalsh(filtered.covariance_matrix.double())
    assert eig.shape == (1, 8, 6071, 8) and bool((eig > 0).all())


def test_partially_missing_step_with_mixing_flow_raises(rates):
    model = LocalGlobalNKF(8, flow="realnvp", context_length=5, **SMALL)
    y = rates.isel(time=slice(0, 12)).copy()
    y[7, 3] = np.nan
    with pytest.raises(ValueError, match="mixes the series"):
        model.log_prob(y)


@pytest.mark.parametrize("flow", ["realnvp", "local"])
def test_impute_with_the_model_distribution_matches_the_smoother(rates, flow):
    """Regression: posterior sampling on the 64-state joint model raised 'negative
    eigenvalues' (the backward variance lost positive semi-definiteness to rounding)."""
    torch.manual_seed(0)
    model = _perturb(LocalGlobalNKF(8, flow=flow, **SMALL)).double()
    y = rates.isel(time=slice(2000, 2060)).copy()
    y[30:38] = np.nan  # a gap of 8 days
    y[50] = np.nan
    if flow == "local":
        y[55, 2] = y[56, 5] = np.nan
    inputs = model.prepare(y)
    with torch.no_grad():
        params = model.emit(inputs.features[None], inputs.seasons[None])
        y_s = inputs.y[None] / model.scale(inputs.y[None]).unsqueeze(-2)
        nkf = model.distribution(params)
        S = 600
        imp = nkf.impute(y_s, num_samples=S, seed=0)
        z = nkf.flow.inv(imp.samples)
    missing = torch.isnan(y_s)
    assert bool(torch.isfinite(imp.samples).all())
    torch.testing.assert_close(imp.samples[:, missing.logical_not()],
                               y_s[missing.logical_not()].expand(S, -1))
    # joint draws (FFBS) against the RTS smoother's Gaussian marginals of z
    var = torch.diagonal(imp.cov_z, dim1=-2, dim2=-1)[missing]
    se = (var / S).sqrt()
    assert bool(((z[:, missing].mean(0) - imp.loc_z[missing]).abs() < 5 * se).all())
    ratio = z[:, missing].var(0) / var
    assert 0.9 < float(ratio.mean()) < 1.1


# ----------------------------------------------------------------------------- forecast


def test_forecast_dataset_shapes_dates_and_seed(rates):
    model = LocalGlobalNKF(8, flow="realnvp", series_names=list(rates.series.values), **SMALL)
    history = rates.isel(time=slice(0, 200))
    fc = model.forecast(history, horizon=12, num_samples=7, seed=3)
    assert fc["y"].dims == ("sample", "time", "series")
    assert fc["y"].shape == (7, 12, 8)
    assert list(fc.series.values) == list(rates.series.values)
    # business days after the last date of the history
    last = pd.Timestamp(history.time.values[-1])
    assert list(pd.DatetimeIndex(fc.time.values)) == list(pd.bdate_range(
        last + pd.offsets.BDay(), periods=12))
    assert np.isfinite(fc["y"].values).all() and fc.attrs["seed"] == 3
    again = model.forecast(history, horizon=12, num_samples=7, seed=3)
    np.testing.assert_array_equal(fc["y"].values, again["y"].values)
    other = model.forecast(history, horizon=12, num_samples=7, seed=4)
    assert not np.array_equal(fc["y"].values, other["y"].values)


def test_forecast_draws_match_the_joint_nkf_forecast_in_z_space(rates):
    """Monte-Carlo moments of f^{-1}(samples / s) against the closed-form z-forecast of the
    hand-built joint NKF (predict-only propagation from the last filtered state)."""
    model = _perturb(LocalGlobalNKF(8, flow="realnvp", context_length=20, **SMALL).double(),
                     scale=0.2).eval()
    history = rates.isel(time=slice(0, 300))
    h, S = 4, 4000
    fc = model.forecast(history, horizon=h, num_samples=S, seed=0)
    y_hist = torch.as_tensor(history.values[-20:])
    s = y_hist.abs().mean(0)
    future_time = pd.DatetimeIndex(fc.time.values)
    times = pd.DatetimeIndex(history.time.values[-20:]).append(future_time)
    inputs = model.prepare(np.zeros((300 + h, 8)),
                           pd.DatetimeIndex(history.time.values).append(future_time))
    with torch.no_grad():
        params = model.emit(inputs.features[None, 280:], inputs.seasons[None, 280:])
        assert len(times) == params.transition_cov.shape[2]
        joint = _hand_built_joint(params)
        ctx = LinearGaussianSSM(joint.initial_loc, joint.initial_cov, joint.transition_matrix,
                                joint.transition_cov[:20], joint.observation_matrix[:20],
                                joint.observation_cov[:20])
        nkf = NormalizingKalmanFilter(ctx, model.flow)
        future = nkf.forecast(y_hist / s, h, transition_cov=joint.transition_cov[20:],
                              observation_matrix=joint.observation_matrix[20:],
                              observation_cov=joint.observation_cov[20:])
        z = model.flow.inv(torch.as_tensor(fc["y"].values) / s)
    mean, cov = future.ssm.mean, future.ssm.covariance_matrix  # (h, N), (h, N, N)
    sd = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1))
    zs = (z.mean(0) - mean) / (sd / math.sqrt(S))
    assert zs.abs().max() < 4.5
    emp_sd = z.std(0)
    assert torch.allclose(emp_sd, sd, rtol=0.08)


# ----------------------------------------------------------------------------- training


def test_training_lowers_validation_loss_and_checkpoints(rates, tmp_path):
    from probdyn.models._fit import _scaled_nll

    panel = rates.isel(time=slice(0, 400))
    model = LocalGlobalNKF(8, flow="realnvp", context_length=14, **SMALL)
    inputs = model.prepare(panel)
    # the validation windows of fit: futures tiling the last 60 steps, 14 steps of context
    idx = torch.tensor([370, 400])[:, None] - 44 + torch.arange(44)
    val = inputs.y[idx], inputs.features[idx], inputs.seasons[idx]
    model.eval()
    with torch.no_grad():
        before = float(_scaled_nll(model, *val, split=14))
    ckpt = tmp_path / "nkf.pt"
    fit = model.fit(panel, prediction_length=30, validation_length=60, epochs=4,
                    batches_per_epoch=8, batch_size=8, lr=3e-3, checkpoint=ckpt, seed=0,
                    progress=False)
    assert fit.best_val_nll == pytest.approx(min(r["val_nll"] for r in fit.history))
    assert fit.best_val_nll < before - 0.5, (before, fit.history)
    model.eval()
    with torch.no_grad():
        assert float(_scaled_nll(model, *val, split=14)) == pytest.approx(fit.best_val_nll,
                                                                          rel=1e-5)
    fresh = LocalGlobalNKF(8, flow="realnvp", context_length=14, **SMALL)
    fresh.load_state_dict(torch.load(ckpt))
    fresh.eval()
    with torch.no_grad():
        assert float(fresh.log_prob(panel[:50])) == pytest.approx(
            float(model.log_prob(panel[:50])), rel=1e-6)


# ----------------------------------------------------------------------------- backtest


def test_backtest_windows_are_the_gluonts_test_windows(rates, monkeypatch):
    path = pdata.describe("exchange_rate_nips").local_path()
    with tarfile.open(path) as tf:
        test = [json.loads(x) for x in tf.extractfile("exchange_rate_nips/test/test.json")]
    model = LocalGlobalNKF(8, flow="identity", **SMALL).eval()
    seen = []
    original = model.forecast

    def recording(y, horizon, **kw):
        seen.append((y.sizes["time"], pd.Timestamp(y.time.values[-1]), horizon))
        return original(y, horizon, **kw)

    monkeypatch.setattr(model, "forecast", recording)
    bt = backtest(model, rates, num_samples=4, progress=False)
    assert bt["samples"].dims == ("window", "sample", "step", "series")
    assert bt["samples"].shape == (5, 4, 30, 8)
    start = pd.Timestamp(test[0]["start"])
    for k in range(5):
        entries = test[8 * k: 8 * (k + 1)]
        target = np.array([e["target"][-30:] for e in entries]).T
        np.testing.assert_array_equal(bt["target"].values[k], target)
        n = len(entries[0]["target"])
        dates = pd.bdate_range(start, periods=n)[-30:]
        assert list(pd.DatetimeIndex(bt["date"].values[k])) == list(dates)
        # each window is forecast from all data before it, and nothing after
        assert seen[k] == (n - 30, dates[0] - pd.offsets.BDay(), 30)
    assert rolling_windows(6071, 30, 5)[0] == (6071, 6101)
    for key in ("crps_sum_n_gluonts", "crps_sum_n_exact", "crps_sum_gluonts"):
        assert math.isfinite(bt.attrs[key]) and bt.attrs[key] > 0


# ---------------------------------------------------------------------------- bad input


def test_bad_input_raises_naming_the_argument(rates):
    model = LocalGlobalNKF(8, flow="realnvp", num_covariates=1, **SMALL)
    panel = rates.isel(time=slice(0, 40))
    cov = np.ones(40)
    with pytest.raises(ValueError, match=r"y must have shape \(T, 8\)"):
        model.log_prob(panel.values[:, :7], time=panel.time.values, covariates=cov)
    bad = cov.copy()
    bad[5] = np.nan
    with pytest.raises(ValueError, match="covariates contains NaN"):
        model.log_prob(panel, covariates=bad)
    with pytest.raises(ValueError, match="covariates must be given"):
        model.log_prob(panel)
    for horizon in (0, -3, 2.5):
        with pytest.raises(ValueError, match="horizon must be a positive integer"):
            model.forecast(panel, horizon, covariates=cov, future_covariates=np.ones(3))
    with pytest.raises(ValueError, match="future_covariates must have shape"):
        model.forecast(panel, 3, covariates=cov, future_covariates=np.ones(4))
    with pytest.raises(ValueError, match="time must be given"):
        model.log_prob(panel.values, covariates=cov)
    with pytest.raises(ValueError, match="flow must be one of"):
        LocalGlobalNKF(8, flow="glow")
    with pytest.raises(ValueError, match="freq must be one of"):
        LocalGlobalNKF(8, freq="W")
    with pytest.raises(ValueError, match="noise_std_bounds"):
        LocalGlobalNKF(8, noise_std_bounds=(0.0, 1.0))
    plain = LocalGlobalNKF(8, flow="identity", **SMALL)
    with pytest.raises(ValueError, match="too short"):
        plain.fit(panel, prediction_length=30, progress=False)
    with pytest.raises(ValueError, match="infinite"):
        plain.log_prob(panel.values * np.inf, time=panel.time.values)


# --------------------------------------------------------------------------- reproduction


def test_nkf_exchange_reproduction_smoke(rates):
    from probdyn.reproduce import list_experiments
    from probdyn.reproduce.nkf_exchange import PUBLISHED, TINY, evaluate

    assert "nkf-exchange" in [e.name for e in list_experiments()]
    rows, datasets, timings = evaluate(TINY, seed=0, num_samples=4, methods=["NKF"])
    assert {r["metric"] for r in rows} == {"CRPS-Sum-N (GluonTS form)", "CRPS-Sum-N (exact)",
                                           "CRPS-Sum (GluonTS, unnormalised)"}
    gluonts = next(r for r in rows if r["metric"] == "CRPS-Sum-N (GluonTS form)"
                   and r["method"] == "NKF")
    assert gluonts["published"] == PUBLISHED["NKF"][0] == 0.005
    # an untrained-ish model is still a sensible random-walk-like forecaster, not a blow-up
    assert 0 < gluonts["measured"] < 0.1
    assert datasets["backtest_realnvp"]["samples"].shape == (5, 4, 30, 8)
    assert timings["NKF"]["train_seconds"] > 0
    walk = [r for r in rows if r["method"].startswith("random walk")]
    assert len(walk) == 3 and all(r["published"] is None for r in walk)
    # GluonTS-form scores are relative errors of the summed forecast: a few tenths of a %
    assert 1e-3 < walk[0]["measured"] < 2e-2


@pytest.mark.slow
def test_nkf_exchange_quick_reaches_the_published_range(tmp_path, rates):
    from probdyn.reproduce import run_experiment

    result = run_experiment("nkf-exchange", quick=True, seed=0, out=tmp_path)
    checked = 0
    for r in result.rows:
        if r["metric"] == "CRPS-Sum-N (GluonTS form)" and r["published"] is not None:
            assert abs(r["measured"] - r["published"]) < 0.002, r
            checked += 1
    assert checked == 3
