"""The shooting-circles reproduction: a tiny run by default, the quick run as slow."""

import numpy as np
import pytest
import torch

from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce.shooting_circles import ALPHAS, PUBLISHED, circle_data, run_circles


def _by(result):
    return {(r["method"], r["metric"]): r for r in result.rows}


def test_data_are_the_reference_annuli():
    x, y = circle_data(300, 0)
    r = x.norm(dim=1)
    assert x.shape == (300, 2) and int((y == 0).sum()) == 100
    assert r[y == 0].max() <= 0.5 and r[y == 1].min() >= 1.0 and r.max() <= 1.5
    assert not torch.equal(x, circle_data(300, 1)[0])


def test_tiny_run_has_every_alpha_and_the_extracted_numbers():
    get_experiment("shooting-circles")  # registered through EXPERIMENT_MODULES
    result = run_circles(2, 2, num_points=30, num_test=30, progress=False)
    rows = _by(result)
    for alpha in ALPHAS:
        label = f"dynamic particles (alpha={alpha})"
        assert rows[(label, "success_rate_pct")]["published"] == PUBLISHED[alpha]
        assert rows[(label, "success_rate_pct")]["measured"] in (0.0, 50.0, 100.0)
        assert 0 <= rows[(label, "train_accuracy_pct")]["measured"] <= 100
        assert rows[(label, "hamiltonian")]["measured"] > 0
    ds = result.datasets["shooting_circles"]
    assert ds["success"].shape == (3, 2)
    # success means a perfect training fit, nothing else
    assert np.array_equal(ds["success"].values, (ds["train_accuracy"].values == 1).astype(float))


@pytest.mark.slow
def test_quick_run_separates_the_annuli_at_every_alpha(tmp_path):
    rows = _by(run_experiment("shooting-circles", quick=True, seed=0, out=tmp_path))
    # measured in the quick run (seed 0, 4 runs): success 50 / 75 / 75 %, training accuracy
    # 94.0 / 99.5 / 98.2 % at alpha 5 / 10 / 20
    for alpha in ALPHAS:
        label = f"dynamic particles (alpha={alpha})"
        assert rows[(label, "success_rate_pct")]["measured"] > 0
        assert rows[(label, "train_accuracy_pct")]["measured"] > 90
