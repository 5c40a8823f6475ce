"""The nkf-missing reproduction: masks, imputation against the joint NKF and brute force, a
tiny smoke run by default and the quick run as slow."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import probdyn.data as pdata
from probdyn.models import LocalGlobalNKF, backtest
from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce import nkf_missing as nm


def _need(name):
    if not pdata.describe(name).available():
        pytest.skip(f"{name} not in PROBDYN_DATA_DIR")


@pytest.fixture(scope="module")
def rates():
    _need("exchange_rate_nips")
    return nm.load_panel("exchange_rate_nips")


def test_removal_masks_are_nested_iid_steps():
    masks = {p: nm.removal_mask(20000, p, seed=3) for p in nm.RATES}
    for p, q in zip(nm.RATES, nm.RATES[1:]):
        assert (masks[p] <= masks[q]).all()  # the 30 % mask contains the 10 % one
    for p, mask in masks.items():  # binomial sd <= 0.0036
        assert abs(mask.mean() - p) < 0.02
    assert not nm.removal_mask(10, 0.0, seed=0).any()
    assert not np.array_equal(nm.removal_mask(500, 0.5, 0), nm.removal_mask(500, 0.5, 1))
    with pytest.raises(ValueError, match="p must be in"):
        nm.removal_mask(10, 1.0, seed=0)


def test_etth1_split_is_seven_days_before_the_end_of_the_informer_test_range():
    _need("etth1")
    y = nm.load_panel("etth1")
    assert y.sizes["time"] == 14400 == 20 * 30 * 24
    assert (y.attrs["train_length"], y.attrs["prediction_length"],
            y.attrs["num_test_windows"]) == (14400 - 168, 24, 7)


def _masked(y, p, seed=0):
    ym = y.copy()
    ym.values[nm.removal_mask(y.sizes["time"], p, seed)] = np.nan
    return ym


def test_per_series_imputation_is_the_joint_nkf_posterior(rates):
    torch.manual_seed(0)
    model = LocalGlobalNKF(8, freq="B", flow="realnvp", hidden_size=6, embedding_dim=3).eval()
    ym = _masked(rates, 0.4)
    T0 = rates.attrs["train_length"]
    local = nm.impute_blocks(model, ym, T0, 58, 1, 1000, seed=1)
    joint = nm.impute_blocks(model, ym, T0, 58, 1, 1000, seed=2, joint=True)
    # the smoothing marginals of z agree exactly; the draws (different seeds) in moments
    np.testing.assert_allclose(local[2], joint[2], rtol=0, atol=1e-10)
    miss = np.isnan(ym.values[local[1][:, None] + np.arange(58)])
    assert miss.any() and (local[1] == joint[1]).all()
    for a, b in ((local[0], joint[0]), (local[0] ** 2, joint[0] ** 2)):
        sd = np.sqrt((a.var(0) + b.var(0)) / 1000)[miss]
        assert np.all(np.abs(a.mean(0) - b.mean(0))[miss] < 5 * sd + 1e-12)
    # observed entries are the data
    obs = ym.values[local[1][:, None] + np.arange(58)]
    np.testing.assert_array_equal(local[0][:, ~miss], np.broadcast_to(obs[~miss],
                                                                      local[0][:, ~miss].shape))


def test_imputation_scores_against_brute_force():
    rng = np.random.default_rng(0)
    T, N, S = 30, 2, 7
    true = rng.normal(5, 1, size=(T, N))
    y_true = xr.DataArray(true, dims=("time", "series"))
    miss = true.copy()
    miss[[3, 4, 10, 20, 21, 22]] = np.nan
    y_missing = xr.DataArray(miss, dims=("time", "series"))
    starts = np.array([0, 15])
    samples = rng.normal(5, 1, size=(S, 2, 15, N))
    scores = nm.imputation_scores(samples, starts, y_missing, y_true, T)
    scale = np.nanmean(np.abs(miss), axis=0)
    crps, sq, abs_i, sq_i = [], [], [], []
    for k, s0 in enumerate(starts):
        for t in range(15):
            for i in range(N):
                if not np.isnan(miss[s0 + t, i]):
                    continue
                x, y = samples[:, k, t, i] / scale[i], true[s0 + t, i] / scale[i]
                crps.append(np.mean(np.abs(x - y))
                            - 0.5 * np.mean(np.abs(x[:, None] - x[None, :])))
                sq.append((x.mean() - y) ** 2)
                obs = ~np.isnan(miss[:, i])  # interpolation from the neighbours by hand
                before = max(u for u in range(T) if obs[u] and u < s0 + t)
                after = min(u for u in range(T) if obs[u] and u > s0 + t)
                w = (s0 + t - before) / (after - before)
                guess = ((1 - w) * miss[before, i] + w * miss[after, i]) / scale[i]
                abs_i.append(abs(guess - y))
                sq_i.append((guess - y) ** 2)
    assert scores["num_removed"] == len(crps) == 12
    assert scores["crps_n"] == pytest.approx(np.mean(crps), rel=1e-12)
    assert scores["nrmse"] == pytest.approx(np.sqrt(np.mean(sq)), rel=1e-12)
    assert scores["crps_n_interp"] == pytest.approx(np.mean(abs_i), rel=1e-12)
    assert scores["nrmse_interp"] == pytest.approx(np.sqrt(np.mean(sq_i)), rel=1e-12)


def test_sparse_contexts_scale_and_forecast(rates):
    torch.manual_seed(0)
    model = LocalGlobalNKF(8, freq="B", flow="identity", hidden_size=4, embedding_dim=2).eval()
    y = torch.as_tensor(rates.values[:58])
    y[:28] = np.nan  # no observation in the scale's context range: whole-window mean
    s = model.scale(y[None])
    np.testing.assert_allclose(s[0].numpy(), np.abs(rates.values[28:58]).mean(0), rtol=1e-12)
    assert (model.scale(torch.full((1, 58, 8), np.nan)) == 1.0).all()  # no likelihood term
    panel = rates.isel(time=slice(0, 300)).copy()
    panel.values[250:] = np.nan  # the last 50 steps missing, context_length 28
    fc = model.forecast(panel, 5, num_samples=3)
    assert fc.attrs["context_length"] == 51 and np.isfinite(fc["y"].values).all()
    panel.values[:] = np.nan
    with pytest.raises(ValueError, match="no observed value"):
        model.forecast(panel, 5)
    # backtest: forecasts condition on y_input, targets come from y
    panel = rates.copy()
    panel.values[6000:6101] = np.nan
    bt = backtest(model, rates, num_samples=2, num_windows=1, progress=False, y_input=panel)
    np.testing.assert_array_equal(bt["target"].values[0], rates.values[6071:6101])
    with pytest.raises(ValueError, match="y_input must be"):
        backtest(model, rates, num_windows=1, y_input=panel.values)


def test_tiny_run_rows_outputs_and_table(rates):
    assert get_experiment("nkf-missing").name == "nkf-missing"
    rows, outputs, table = nm.evaluate(nm.TINY, seed=0, datasets=("exchange_rate_nips",),
                                       progress=False)
    by = {(r["method"], r["metric"]): r for r in rows}
    tag = "exchange_rate_nips p=50%"
    assert by[("NKF", f"{tag} CRPS-Sum-N (GluonTS form)")]["published"] == 0.016
    assert by[("DeepState (f = id)", f"{tag} CRPS-Sum-N (GluonTS form)")]["published"] is None
    for method in nm.METHODS:
        for metric in ("CRPS-Sum-N (exact)", "imputation CRPS-N", "imputation NRMSE"):
            assert np.isfinite(by[(method, f"{tag} {metric}")]["measured"])
    interp = by[("linear interpolation", f"{tag} imputation NRMSE")]["measured"]
    assert 0 < interp < 0.1  # daily exchange rates: gaps interpolate to within ~1 %
    assert len(rows) == 2 * 4 + 2
    bt = outputs["backtest_exchange_rate_nips_p50_realnvp"]
    assert bt["samples"].shape == (5, 4, 30, 8)
    np.testing.assert_array_equal(bt["target"].values.reshape(-1, 8), rates.values[6071:])
    imp = outputs["imputation_exchange_rate_nips_p50_identity"]
    assert imp["samples"].shape == (4, 1, 58, 8)
    removed = imp["removed"].values
    assert 0 < removed.mean() < 1
    np.testing.assert_array_equal(imp["samples"].values[:, ~removed],
                                  np.broadcast_to(imp["target"].values[~removed],
                                                  (4,) + imp["target"].values[~removed].shape))
    assert table[0]["removed_fraction"] == pytest.approx(0.5, abs=0.05)
    text = nm.summary_table(table)
    assert "exchange_rate_nips" in text and "Table S5" in text and "0.016" in text


@pytest.mark.slow
def test_quick_run(tmp_path):
    _need("exchange_rate_nips")
    _need("etth1")
    result = run_experiment("nkf-missing", quick=True, seed=0, out=tmp_path)
    table = result.settings["table"]
    assert len(table) == 2 * len(nm.RATES) * len(nm.METHODS)
    by = {(r["dataset"], r["p"], r["method"]): r for r in table}
    for dataset in ("exchange_rate_nips", "etth1"):
        # the data's own difficulty: the long gaps of 90 % interpolate worse than 10 %
        assert by[(dataset, 0.9, "NKF")]["nrmse_interp"] > by[(dataset, 0.1, "NKF")][
            "nrmse_interp"]
        for method in nm.METHODS:
            low, high = by[(dataset, 0.1, method)], by[(dataset, 0.9, method)]
            assert high["crps_n"] > low["crps_n"]  # imputing 90 % is harder than 10 %
            assert 0 < low["crps_sum_n_gluonts"] < 1 and 0 < high["crps_sum_n_gluonts"] < 1
    paths = result.write_datasets("nkf-missing", tmp_path)
    assert len(paths) == 2 * len(table)
    with xr.open_dataset(paths[0]) as back:
        assert back.attrs["experiment"] == "nkf-missing" and "samples" in back


def test_windows_without_observations_add_nothing_to_the_likelihood(rates):
    """Training windows can be entirely missing at p = 0.9: their log-likelihood is 0 and
    the other windows' are unchanged (checked against scoring them alone)."""
    torch.manual_seed(0)
    model = LocalGlobalNKF(8, freq="B", flow="realnvp", hidden_size=4, embedding_dim=2).eval()
    inputs = model.prepare(rates.isel(time=slice(0, 200)))
    idx = torch.tensor([[0], [60], [120]]) + torch.arange(58)
    y, f, s = inputs.y[idx].clone(), inputs.features[idx], inputs.seasons[idx]
    y[1] = np.nan
    y[2, 10:40] = np.nan
    both = model.window_log_prob(y, f, s)
    assert both[1] == 0.0
    alone = model.window_log_prob(y[[0, 2]], f[[0, 2]], s[[0, 2]])
    torch.testing.assert_close(both[[0, 2]], alone, rtol=1e-6, atol=1e-6)
    both.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
