"""The nkf-synthetic reproduction: a tiny smoke run by default, the quick run as slow."""

import numpy as np
import pytest
import torch

from probdyn.data import synthetic_s1
from probdyn.models import LocalGlobalNKF
from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce import nkf_synthetic as exp

METRICS = {"energy score", "CRPS-Sum", "held-out log-likelihood per step",
           "SW pooled (forecast vs fresh)", "SW per weekday (forecast vs fresh)"}


def _by(result):
    return {(r["method"], r["metric"]): r["measured"] for r in result.rows}


def test_tiny_run_writes_rows_figures_and_datasets(tmp_path):
    get_experiment("nkf-synthetic")  # registered through EXPERIMENT_MODULES
    result = exp.run_synthetic(dict(exp.TINY), seed=0, out=tmp_path)
    rows = _by(result)
    for name in ("S1", "S2"):
        for method in exp.METHODS:
            assert {m for (meth, m) in rows if meth == f"{name}: {method}"} == METRICS
        floor = {m for (meth, m) in rows if meth == f"{name}: fresh draws (sampling floor)"}
        assert floor == {"SW pooled (forecast vs fresh)", "SW per weekday (forecast vs fresh)"}
        ds = result.datasets[f"nkf_synthetic_{name.lower()}"]
        assert ds["samples"].dims == ("model", "draw", "sample", "step", "series")
        assert ds["samples"].shape == (2, exp.TINY["test_draws"], exp.TINY["num_samples"],
                                       exp.HORIZON, 2)
        assert np.isfinite(ds["samples"].values).all()
        assert ds["samples"].sel(model="NKF").dims == ("draw", "sample", "step", "series")
        assert list(ds["weekday"].values[:7]) == [2, 3, 4, 5, 6, 7, 1]  # step 106 = 106 % 7
    for png in ("nkf_synthetic_scatter.png", "nkf_synthetic_zoom.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draws_are_the_generator_with_consecutive_seeds():
    panels = exp.draws("S1", 3, 10)
    assert panels.shape == (3, exp.NUM_STEPS, 2)
    np.testing.assert_array_equal(panels[2], synthetic_s1(exp.NUM_STEPS, seed=12)["y"].values)
    with pytest.raises(ValueError, match="dataset"):
        exp.draws("S3", 1, 0)
    assert exp.dates()[0].day_of_week == 0  # a Monday: generator day 1 = model's season 0


def _model():
    torch.manual_seed(0)
    return LocalGlobalNKF(2, freq="D", flow="realnvp", hidden_size=4, embedding_dim=2,
                          flow_blocks=2)


def test_training_never_reads_the_test_range():
    panels = exp.draws("S1", 4, 0)
    spoiled = panels.copy()
    spoiled[:, -exp.HORIZON:] = 1e6
    settings = dict(exp.TINY, epochs=2, batches_per_epoch=3)
    a = exp.train(_model(), panels, settings, seed=1)
    b = exp.train(_model(), spoiled, settings, seed=1)
    assert a == b


def test_heldout_likelihood_is_conditional_on_the_last_context():
    model = _model()
    panels = exp.draws("S1", 2, 0)
    base = exp.heldout_log_likelihood(model, panels)
    assert base.shape == (2,) and np.isfinite(base).all()
    early = panels.copy()
    early[:, :40] += 5.0  # before the 28-day context of the test range: no effect
    np.testing.assert_allclose(exp.heldout_log_likelihood(model, early), base, rtol=1e-6)
    moved = panels.copy()
    moved[0, -1] += 3.0  # a test target: changes draw 0 only, and lowers its density
    out = exp.heldout_log_likelihood(model, moved)
    assert out[0] < base[0] and out[1] == pytest.approx(base[1], rel=1e-6)


@pytest.mark.slow
def test_quick_run_flow_beats_gaussian_observations(tmp_path):
    result = run_experiment("nkf-synthetic", quick=True, seed=0, out=tmp_path)
    rows = _by(result)
    for name in ("S1", "S2"):
        nkf, ds = f"{name}: NKF", f"{name}: DeepState (f = id)"
        ll = "held-out log-likelihood per step"
        assert rows[(nkf, ll)] > rows[(ds, ll)]
        assert rows[(nkf, "energy score")] < rows[(ds, "energy score")]
        sw = "SW per weekday (forecast vs fresh)"
        assert rows[(nkf, sw)] < rows[(ds, sw)]
        assert rows[(f"{name}: fresh draws (sampling floor)", sw)] < rows[(nkf, sw)]
    assert (tmp_path / "nkf_synthetic_scatter.png").exists()
