"""The aphynity-pendulum reproduction: a tiny smoke run by default, the quick run as slow."""

import math

import pytest
import torch

from probdyn.dynamics import HybridField
from probdyn.physics import DampedPendulum, simulate_pendulum
from probdyn.reproduce import get_experiment, run_experiment
from probdyn.reproduce._aphynity_common import fixed, train
from probdyn.reproduce.aphynity_pendulum import PUBLISHED, augmentation_mlp, run_pendulum

METHODS = set(PUBLISHED)


def _by(result):
    return {(r["method"], r["metric"]): r for r in result.rows}


def test_tiny_run_has_every_row_and_a_dataset():
    get_experiment("aphynity-pendulum")  # registered through EXPERIMENT_MODULES
    result = run_pendulum(3, 3, 12, 4, train_steps=6, seed=0)
    assert result.settings["train_steps"] == 6
    rows = _by(result)
    assert {m for m, _ in rows} == METHODS
    for method in METHODS:
        ln, l10 = rows[(method, "ln_mse")], rows[(method, "log10_mse")]
        assert ln["published"] == PUBLISHED[method][0]
        assert ln["measured"] == pytest.approx(l10["measured"] * math.log(10))
    assert rows[("APHYNITY Param ODE (omega0)", "Fa_norm2")]["published"] == 132.0
    assert ("Param ODE (omega0)", "Fa_norm2") not in rows
    assert rows[("Param ODE (omega0, alpha)", "pct_err_param")]["measured"] == pytest.approx(
        (rows[("Param ODE (omega0, alpha)", "pct_err_T0")]["measured"]
         + rows[("Param ODE (omega0, alpha)", "pct_err_alpha")]["measured"]) / 2)
    # the true ODE with RK4 at dt = 0.5 is far better than any untrained model
    assert rows[("True ODE", "ln_mse")]["measured"] < rows[("Neural ODE", "ln_mse")]["measured"]
    ds = result.datasets["aphynity_pendulum_test"]
    assert ds["observation"].dims == ("trajectory", "time", "channel")
    assert ds.sizes["trajectory"] == 3 and ds.sizes["time"] == 12
    assert len([v for v in ds.data_vars if v.startswith("prediction_")]) == len(METHODS)
    with pytest.raises(ValueError, match="train_steps"):
        run_pendulum(2, 2, 12, 1, train_steps=12)


@pytest.mark.slow
def test_quick_reproduction_shows_aphynity_gains(tmp_path):
    result = run_experiment("aphynity-pendulum", quick=True, seed=0, out=tmp_path)
    rows = _by(result)

    def m(method, metric):
        return rows[(method, metric)]["measured"]

    inc, aph = "Param ODE (omega0)", "APHYNITY Param ODE (omega0)"
    full, aph_full = "Param ODE (omega0, alpha)", "APHYNITY Param ODE (omega0, alpha)"
    # frictionless physics (quick run, seed 0): period error 0.89 % with APHYNITY vs 10.1 %
    # alone, ln MSE -4.83 vs +0.02 (thesis 4.0 vs 13.2 %, -7.86 vs -0.14)
    assert m(aph, "pct_err_T0") < 0.5 * m(inc, "pct_err_T0")
    assert m(aph, "ln_mse") < m(inc, "ln_mse") - 2
    # complete physics: T0 and alpha within 1 % (0.012 % and 0.15 %) and F_a ~ 0
    # (||F_a||^2 3.4e-6 vs 0.019 on the incomplete physics)
    assert m(aph_full, "pct_err_T0") < 1 and m(aph_full, "pct_err_alpha") < 1
    assert m(full, "pct_err_T0") < 1 and m(full, "pct_err_alpha") < 1
    assert m(aph_full, "Fa_norm2") < 1e-2 * m(aph, "Fa_norm2")
    # the true physics leaves the augmentation nothing to do (4e-7; ln MSE -8.03 vs -8.41)
    assert m("APHYNITY True ODE", "Fa_norm2") < 1e-4
    assert m("APHYNITY True ODE", "ln_mse") < -7
    # a conservative (learned-H) model cannot fit damped data; its augmentation can
    # (quick run, seed 0: ln MSE +0.88 vs -4.56; thesis -0.35 vs -3.97)
    assert m("APHYNITY Hamiltonian", "ln_mse") < m("Hamiltonian", "ln_mse") - 2


def test_true_ode_rows_train_only_the_augmentation():
    """``fixed`` freezes the true physics: fit_aphynity moves the MLP, never T0 or alpha."""
    ds = simulate_pendulum(3, 10, 0.5, noise=0.01, split="train", seed=0, progress=False)
    y = torch.tensor(ds["observation"].values, dtype=torch.float32)
    t = torch.tensor(ds["time"].values, dtype=torch.float32)
    field = HybridField(fixed(DampedPendulum(6.0, 0.2)), augmentation_mlp(0))
    before = [p.detach().clone() for p in field.augmentation.parameters()]
    train(field, y, t, epochs=3, niter=2, lr=1e-2, lambda0=1.0, tau2=1.0, progress=False)
    p = field.physical.physical_parameters()
    assert float(p["period"]) == pytest.approx(6.0, rel=1e-6)
    assert float(p["damping"]) == pytest.approx(0.2, rel=1e-6)
    assert any(not torch.equal(a, b) for a, b in zip(before, field.augmentation.parameters()))
