"""The leads-gs and leads-ns reproductions: tiny smoke runs by default, the quick runs as
slow tests."""

import pytest
import torch

from probdyn.dynamics import EnvironmentNet
from probdyn.reproduce import get_experiment
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
    ns_field, _ = make_field(PROBLEMS["ns"], "LEADS", 4, 10)
    assert ns_field.state_shape == (1, None, None)
    with pytest.raises(ValueError, match="unknown method"):
        make_field(gs, "FT-RNN", 3, 4)
    with pytest.raises(ValueError, match="name"):
        run_leads_grid("lv", 1, size=2)
