"""The shooting-regression reproduction: a tiny run by default, the quick run as slow."""

import numpy as np
import pytest

from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce._updown import VARIANTS
from probdyn.reproduce.shooting_regression import regression_data, run_regression

# the paper's Table 1 (K = 15, d = 1, alpha = 4): particles 158, static direct 37, dynamic 153
COUNTS = {"static direct": 37, "static particles": 158, "dynamic particles": 158,
          "dynamic direct": 153}


def _by(result):
    return {(r["method"], r["metric"]): r["measured"] for r in result.rows}


def test_data_are_the_paper_targets_on_its_domain():
    x, y = regression_data("quadratic", 400, 0)
    assert x.min() >= -1.5 and x.max() <= 1.5 and x.min() < -1.4 and x.max() > 1.4
    assert np.allclose(y, x ** 2 + 3 / (1 + x ** 2))
    x, y = regression_data("cubic", 10, 1)
    assert np.allclose(y, x ** 3)
    with pytest.raises(ValueError, match="target"):
        regression_data("sine", 10, 0)


def test_tiny_run_has_every_cell_and_the_paper_parameter_counts():
    get_experiment("shooting-regression")  # registered through EXPERIMENT_MODULES
    result = run_regression((4,), 1, 2, sizes=(50, 50, 100), progress=False)
    rows = _by(result)
    for target in ("quadratic", "cubic"):
        for variant in VARIANTS:
            label = f"{variant} ({target}, alpha=4)"
            assert rows[(label, "parameters")] == COUNTS[variant]
            assert rows[(label, "test_mse")] >= 0 and np.isfinite(rows[(label, "test_r2")])
            assert np.isfinite(rows[(label, "log2_complexity")])
    assert all(r["published"] is None for r in result.rows)
    ds = result.datasets["shooting_regression"]
    assert ds["test_mse"].shape == (2, 4, 1, 1) and not ds["test_mse"].isnull().any()


@pytest.mark.slow
def test_quick_run_dynamic_particles_fit_the_quadratic_like_target(tmp_path):
    rows = _by(run_experiment("shooting-regression", quick=True, seed=0, out=tmp_path))
    dyn = "dynamic particles (quadratic, alpha=16)"
    # measured in the quick run (seed 0): R^2 0.57 dynamic particles, 0.19 static direct
    assert rows[(dyn, "test_r2")] > 0.3
    assert rows[(dyn, "test_r2")] > rows[("static direct (quadratic, alpha=16)", "test_r2")]
