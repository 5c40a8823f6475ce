"""The ode-recovery experiment: a tiny smoke run by default, the quick run as slow."""

import numpy as np
import pytest
import torch

from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce.ode_recovery import LV_TRUTH, run_recovery, simulate_lv


def test_simulated_pelts_follow_the_lognormal_law():
    times, pelts = simulate_lv(0)
    assert times.shape == (21,) and pelts.shape == (21, 2) and (pelts > 0).all()
    a, b = simulate_lv(0)[1], simulate_lv(1)[1]
    assert torch.equal(a, pelts) and not torch.equal(a, b)


def test_tiny_run_rows():
    get_experiment("ode-recovery")
    # the Lotka-Volterra path runs in the slow quick test
    result = run_recovery(1, 1, models=("pendulum",), nuts_draws=10, map_steps=40,
                          map_starts=1, progress=False)
    rows = {(r["method"], r["metric"]): r for r in result.rows}
    for method in ("Laplace (pendulum)", "NUTS (pendulum)"):
        for name in ("period", "damping", "sigma") if "pendulum" in method else (
                *LV_TRUTH, "sigma[0]", "sigma[1]"):
            assert rows[(method, f"{name} coverage90")]["measured"] in (0.0, 1.0)
            assert rows[(method, f"{name} coverage90")]["published"] == 0.9
            assert rows[(method, f"{name} mean_abs_z")]["measured"] >= 0


@pytest.mark.slow
def test_quick_run_laplace_covers_the_truth(tmp_path):
    result = run_experiment("ode-recovery", quick=True, seed=0, out=tmp_path)
    coverage = [r["measured"] for r in result.rows
                if r["method"].startswith("Laplace") and r["metric"].endswith("coverage90")]
    assert np.mean(coverage) >= 0.7


def test_pendulum_map_starts_are_prior_quantiles_of_the_period():
    from scipy.stats import lognorm

    from probdyn.reproduce.ode_recovery import _pendulum_starts

    y = torch.randn(3, 5, 2, dtype=torch.float64)
    starts = _pendulum_starts(y, 4)
    expected = lognorm(s=0.5, scale=5.0).ppf([0.2, 0.4, 0.6, 0.8])
    periods = [float(init({"name": "period", "fn": None, "is_observed": False})) for init in
               starts]
    np.testing.assert_allclose(periods, expected, rtol=1e-10)
