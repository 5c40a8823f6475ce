import math

import numpy as np
import pyro
import pytest
import scipy.stats
import torch
from scipy.integrate import solve_ivp

from probdyn.data import load
from probdyn.reproduce import list_experiments, run_experiment
from probdyn.reproduce.lynx_hare import PUBLISHED_MEAN, lynx_hare_model


@pytest.fixture
def data():
    try:
        ds = load("lynx_hare")
    except FileNotFoundError:
        pytest.skip("lynx_hare data file not available")
    return ds


def stan_log_density(theta, sigma, z_init, years, y):
    """The case study's log joint density, written with scipy (independent oracle)."""
    a, b, g, d = theta
    lp = 0.0
    for value, (loc, scale) in zip(theta, [(1, 0.5), (0.05, 0.05), (1, 0.5), (0.05, 0.05)]):
        lp += scipy.stats.truncnorm.logpdf(value, -loc / scale, np.inf, loc, scale)
    lp += scipy.stats.lognorm.logpdf(sigma, 1.0, scale=math.exp(-1.0)).sum()
    lp += scipy.stats.lognorm.logpdf(z_init, 1.0, scale=10.0).sum()
    sol = solve_ivp(lambda t, z: [(a - b * z[1]) * z[0], (-g + d * z[0]) * z[1]],
                    (0, years[-1]), z_init, method="DOP853", rtol=1e-12, atol=1e-12,
                    t_eval=years)
    lp += scipy.stats.lognorm.logpdf(y, sigma, scale=sol.y.T).sum()
    return lp


def test_model_log_density_matches_the_stan_model(data):
    y = torch.tensor(data["pelts"].sel(series=["hare", "lynx"]).values, dtype=torch.float64)
    years = torch.arange(21, dtype=torch.float64)
    point = {"alpha": 0.6, "beta": 0.03, "gamma": 0.75, "delta": 0.022,
             "sigma": [0.3, 0.2], "z_init": [32.0, 6.5]}
    values = {k: torch.tensor(v, dtype=torch.float64) for k, v in point.items()}
    conditioned = pyro.poutine.condition(lynx_hare_model, data=values)
    trace = pyro.poutine.trace(conditioned).get_trace(years, y, step_size=0.02)
    assert {n for n, s in trace.nodes.items() if s["type"] == "sample"} >= {
        "alpha", "beta", "gamma", "delta", "sigma", "z_init", "pelts"}
    expected = stan_log_density([point[k] for k in ("alpha", "beta", "gamma", "delta")],
                                np.array(point["sigma"]), np.array(point["z_init"]),
                                years.numpy(), y.numpy())
    assert abs(float(trace.log_prob_sum()) - expected) < 1e-4


def test_lynx_hare_is_registered():
    assert "lynx-hare" in [e.name for e in list_experiments()]


@pytest.mark.slow
def test_quick_reproduction(tmp_path, data):
    result = run_experiment("lynx-hare", quick=True, seed=0, out=tmp_path)
    rows = {r["metric"]: r for r in result.rows}
    for name, published in PUBLISHED_MEAN.items():
        assert rows[f"{name} mean"]["published"] == published
        # a smoke run: the right mode, not converged statistics
        assert 0.5 * published < rows[f"{name} mean"]["measured"] < 1.5 * published
    assert set(result.datasets) == {"posterior", "posterior_predictive"}
    assert result.datasets["posterior"]["alpha"].dims == ("chain", "draw")
    assert result.settings["rk4_vs_dopri5_max_rel_diff"] < 1e-2
    assert result.write_datasets("lynx-hare", tmp_path)
