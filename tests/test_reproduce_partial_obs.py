"""The partial-obs reproduction: a tiny smoke run by default, the quick run as slow."""

import numpy as np
import pytest

from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce.partial_obs import (
    PUBLISHED,
    PUBLISHED_S3_SETTING1,
    Sizes,
    channel_scale,
    run_partial_obs,
    windows,
)


def _by(result):
    return {(r["method"], r["metric"]): r for r in result.rows}


def test_windows_and_scale():
    x = np.arange(2 * 7 * 3, dtype=float).reshape(2, 7, 3, 1, 1)
    w = windows(x, 4, 2)  # starts 0 and 2 of each trajectory
    assert w.shape == (4, 4, 3, 1, 1)
    assert np.array_equal(w[2], x[0, 2:6])
    with pytest.raises(ValueError, match="shorter"):
        windows(x, 8, 1)
    factors = np.array([1.0, 2.0, 5.0])[None, None, :, None, None]
    s = channel_scale(np.random.default_rng(0).normal(size=(3, 4, 3, 5, 5)) * factors)
    assert s[0] == s[1] and s[2, 0, 0] == pytest.approx(5, rel=0.2)


def test_tiny_run_has_every_row():
    get_experiment("partial-obs")  # registered through EXPERIMENT_MODULES
    tiny = dict(grid=8, train_trajectories=2, val_trajectories=1, test_trajectories=2,
                frames=8, epochs=2, history=2, hidden=4, layers=1, warmup=0.5, train_steps=3)
    result = run_partial_obs({"shallow-water": Sizes(**tiny, horizons=(2, 3)),
                              "navier-stokes": Sizes(**tiny, horizons=(5, 10))},
                             progress=False)
    rows = _by(result)
    assert rows[("navier-stokes Setting 2", "relmse_h5")]["published"] == 0.118  # Table S1
    assert PUBLISHED[("navier-stokes", "Setting 2")][5] == (0.118, 0.798)
    assert rows[("navier-stokes Setting 1", "cos_h10")]["published"] == 0.192
    assert rows[("navier-stokes Setting 1", "cos_h10 (S3)")]["published"] == 0.620
    assert PUBLISHED_S3_SETTING1[10] == (0.288, 0.620)
    assert rows[("shallow-water Setting 2", "relmse_h2")]["published"] is None
    assert ("navier-stokes Persistence", "cos_h5") not in rows  # no hidden state
    for method in ("Setting 1", "Setting 2", "Persistence"):
        assert rows[(f"navier-stokes {method}", "relmse_at_h10")]["measured"] > 0
    assert result.datasets["shallow_water"]["train_loss"].shape == (2, 2)


@pytest.mark.slow
def test_quick_run_matches_the_thesis_qualitatively(tmp_path):
    rows = _by(run_experiment("partial-obs", quick=True, seed=0, out=tmp_path))

    def value(dataset, method, metric):
        return rows[(f"{dataset} {method}", metric)]["measured"]

    for dataset in ("shallow-water", "navier-stokes"):
        # feeding the true X_0 recovers the hidden velocity far better than learning it
        assert (value(dataset, "Setting 2", "cos_h5")
                > value(dataset, "Setting 1", "cos_h5") + 0.2)
        assert (value(dataset, "Setting 2", "relmse_h5")
                < value(dataset, "Persistence", "relmse_h5"))
