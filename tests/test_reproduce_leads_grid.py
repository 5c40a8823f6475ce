"""The leads-gs and leads-ns reproductions: tiny smoke runs by default, the quick runs as
slow tests."""

import pytest
import torch

from probdyn.dynamics import EnvironmentNet
from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce.leads_grid import (
    METHODS,
    PROBLEMS,
    PUBLISHED,
    REFERENCE,
    make_field,
    run_leads_grid,
)


def _by(result):
    return {(r["method"], r["metric"]): r for r in result.rows}


@pytest.mark.parametrize("name", ["gs", "ns"])
def test_tiny_run_has_every_row(name):
    get_experiment(f"leads-{name}")  # registered through EXPERIMENT_MODULES
    result = run_leads_grid(name, 1, size=2, train_per_env=1, num_test=2, progress=False)
    rows = _by(result)
    for method in METHODS:
        assert rows[(method, "mse_test")]["published"] == PUBLISHED[name][method][1]
        assert rows[(method, "mse_train")]["measured"] > 0
    assert rows[(REFERENCE, "mse_test")]["published"] is None
    ds = result.datasets[f"leads_{name}"]
    assert ds["mse_test"].shape == (len(METHODS) + 1, 1)
    assert result.settings["environments"] == (3 if name == "gs" else 4)
    if name == "ns":
        return
    # the reference row is the constant prediction x_t = x_0 of the training data
    y = torch.tensor(PROBLEMS[name].simulate(1, seed=0, progress=False)["state"].values)
    expected = float(((y - y[:, :, :1]) ** 2).mean())
    assert rows[(REFERENCE, "mse_train")]["measured"] == pytest.approx(expected, rel=1e-5)


def test_methods_are_the_right_fields():
    gs = PROBLEMS["gs"]
    one_for_all, w = make_field(gs, "One-For-All", 3, 4)
    assert one_for_all.specific is None and w == 0.0
    per_env, w = make_field(gs, "One-Per-Env.", 3, 4)
    assert per_env.shared is None and per_env.num_envs == 3 and w == 0.0
    leads, w = make_field(gs, "LEADS", 3, 4)
    assert isinstance(leads.specific, EnvironmentNet) and w == gs.penalty_weight
    assert leads.specific.output_scale == 1e-3
    no_min, w = make_field(gs, "LEADS no min.", 3, 4)
    assert no_min.shared is not None and w == 0.0
    ft, w = make_field(gs, "FT-NODE", 3, 4)
    assert ft.specific is None and ft.num_envs == 3 and ft.shared.env_bias == 3 and w == 0.0
    ns_field, _ = make_field(PROBLEMS["ns"], "LEADS", 4, 10)
    assert ns_field.state_shape == (1, None, None)
    with pytest.raises(ValueError, match="unknown method"):
        make_field(gs, "FT-RNN", 3, 4)
    with pytest.raises(ValueError, match="name"):
        run_leads_grid("lv", 1, size=2)


@pytest.mark.slow
def test_gs_quick_run_learns_the_dynamics(tmp_path):
    """Measured (seed 0, 150 iterations): every method's test MSE 0.032-0.036 against 0.091
    for the constant prediction; the ordering of the methods is within run-to-run noise at
    this length, so only the gap to the reference is asserted."""
    rows = _by(run_experiment("leads-gs", quick=True, seed=0, out=tmp_path))
    reference = rows[(REFERENCE, "mse_test")]["measured"]
    for method in METHODS:
        assert rows[(method, "mse_test")]["measured"] < 0.6 * reference
        assert rows[(method, "mse_train")]["measured"] < 0.6 * rows[(REFERENCE, "mse_train")][
            "measured"]


@pytest.mark.slow
def test_ns_quick_run_learns_the_dynamics(tmp_path):
    """Measured (seed 0, 150 iterations, 2 training trajectories per environment): train MSE
    0.16-0.20 against 0.63 for the constant prediction, test MSE 0.45-0.49 against 0.60."""
    rows = _by(run_experiment("leads-ns", quick=True, seed=0, out=tmp_path))
    for method in METHODS:
        assert rows[(method, "mse_train")]["measured"] < 0.5 * rows[(REFERENCE, "mse_train")][
            "measured"]
        assert rows[(method, "mse_test")]["measured"] < rows[(REFERENCE, "mse_test")]["measured"]
