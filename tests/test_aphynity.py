"""APHYNITY: HybridField and fit_aphynity on simulated damped-pendulum data (spec C.8)."""

import math

import numpy as np
import pytest
import torch

from probdyn.dynamics import HybridField, MLPField
from probdyn.infer import fit_aphynity
from probdyn.physics import DampedPendulum, Pendulum, simulate_pendulum

T0, ALPHA = 6.0, 0.2
# the official code's initial omega0^2 = 0.2 and alpha = 0.1 (far from the truth)
PERIOD_INIT = 2 * math.pi / math.sqrt(0.2)
FIT = dict(epochs=80, niter=5, lr=2e-2, tau2=1.0, lambda0=0.1, progress=False, seed=0)


def _augmentation(seed=0):
    torch.manual_seed(seed)
    net = MLPField(2, hidden=200, layers=2, activation="relu")
    for m in net.net:  # the official code's init: orthogonal, gain 0.2, zero bias
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.orthogonal_(m.weight, gain=0.2)
            torch.nn.init.zeros_(m.bias)
    return net


def _projection_period(y):
    """Closed-form minimum-||F_a|| (l2) projection of the damped field onto the frictionless
    family on the training states (spec C.8.4): the oracle for APHYNITY Param ODE(omega0)."""
    th, om = y[..., 0].ravel(), y[..., 1].ravel()
    w2 = (2 * math.pi / T0) ** 2
    w2_hat = w2 + ALPHA * np.sum(np.sin(th) * om) / np.sum(np.sin(th) ** 2)
    min_norm = np.mean(((w2_hat - w2) * np.sin(th) - ALPHA * om) ** 2)
    return 2 * math.pi / math.sqrt(w2_hat), min_norm


@pytest.fixture(scope="module")
def data():
    ds = simulate_pendulum(8, 20, 0.5, noise=0.0, progress=False)
    y = torch.tensor(ds["state"].values, dtype=torch.float32)
    return y, torch.tensor(ds["time"].values, dtype=torch.float32)


@pytest.fixture(scope="module")
def incomplete(data):
    y, t = data
    aph = HybridField(Pendulum(PERIOD_INIT), _augmentation())
    res = fit_aphynity(aph, y, t, **FIT)
    phys = HybridField(Pendulum(PERIOD_INIT))
    res_phys = fit_aphynity(phys, y, t, **FIT)
    return aph, res, phys, res_phys


def test_hybrid_field_parts_and_norm_match_brute_force():
    phys, aug = DampedPendulum(), _augmentation()
    f = HybridField(phys, aug)
    assert f.physical is phys and f.augmentation is aug and f.state_shape == (2,)
    x = torch.randn(4, 3, 2)
    t = torch.tensor(0.0)
    assert torch.allclose(f(t, x), phys(t, x) + aug(t, x))
    fa = aug(t, x).reshape(-1, 2).detach().numpy()
    xs = x.reshape(-1, 2).numpy()
    want = np.mean(np.sum(fa ** 2, 1))
    assert float(f.augmentation_norm(x).detach()) == pytest.approx(want, rel=1e-5)
    want_n = np.mean(np.sum(fa ** 2, 1) / (np.linalg.norm(xs, axis=1) + 1e-5) ** 2)
    got_n = float(f.augmentation_norm(x, norm="l2_normalized").detach())
    assert got_n == pytest.approx(want_n, rel=1e-5)
    assert float(HybridField(phys).augmentation_norm(x)) == 0.0
    assert torch.allclose(HybridField(phys)(t, x), phys(t, x))


def test_complete_physics_recovers_parameters_and_zero_augmentation(data):
    y, t = data
    f = HybridField(DampedPendulum(PERIOD_INIT, 0.1), _augmentation())
    res = fit_aphynity(f, y, t, **FIT)
    p = f.physical.physical_parameters()
    assert abs(float(p["period"]) / T0 - 1) < 0.01
    assert abs(float(p["damping"]) / ALPHA - 1) < 0.05
    _, min_norm_incomplete = _projection_period(y.numpy())
    fa = float(f.augmentation_norm(y).detach())
    assert fa < 0.02 * min_norm_incomplete  # ~0 against the incomplete model's minimum
    assert res.losses[-1] < 1e-4
    assert all(b >= a for a, b in zip(res.lambdas, res.lambdas[1:]))  # non-decreasing


def test_incomplete_physics_aphynity_beats_physics_only(data, incomplete):
    y, _ = data
    aph, res, phys, res_phys = incomplete
    err_aph = abs(float(aph.physical.physical_parameters()["period"]) / T0 - 1)
    err_phys = abs(float(phys.physical.physical_parameters()["period"]) / T0 - 1)
    print(f"T0 error: APHYNITY {100 * err_aph:.2f} %, physics-only {100 * err_phys:.2f} %")
    assert err_phys > 0.05 and err_aph < 0.3 * err_phys
    # APHYNITY's F_p approaches the minimum-norm projection on the training states
    period_proj, min_norm = _projection_period(y.numpy())
    period = float(aph.physical.physical_parameters()["period"])
    assert abs(period / period_proj - 1) < 0.01
    # the missing friction stays in F_a: its norm is of the order of the minimum
    assert float(aph.augmentation_norm(y).detach()) > 0.2 * min_norm
    print(f"trajectory MSE: APHYNITY {res.losses[-1]:.2e}, physics-only {res_phys.losses[-1]:.2e}")
    assert res.losses[-1] < 0.05 * res_phys.losses[-1]


def test_naive_ablation_has_larger_augmentation(data, incomplete):
    y, t = data
    aph = incomplete[0]
    naive = HybridField(Pendulum(PERIOD_INIT), _augmentation())
    # without the penalty lr 2e-2 blows up here (F_a is unconstrained): 1e-2
    res = fit_aphynity(naive, y, t, naive=True, **{**FIT, "lr": 1e-2})
    assert set(res.lambdas) == {FIT["lambda0"]}
    assert float(naive.augmentation_norm(y).detach()) > 2 * float(aph.augmentation_norm(y).detach())


@pytest.mark.parametrize("kwargs, match", [
    (dict(tau2=-1.0), "tau2"), (dict(lambda0=-0.5), "lambda0"), (dict(lr=0.0), "lr"),
    (dict(niter=0), "niter"), (dict(epochs=1.5), "epochs"), (dict(norm="l1"), "norm"),
    (dict(batch_size=0), "batch_size"), (dict(tau2=float("nan")), "tau2"),
    (dict(lr_physics=-1e-2), "lr_physics"), (dict(max_grad_norm=0.0), "max_grad_norm"),
])
def test_bad_arguments_raise(data, kwargs, match):
    y, t = data
    f = HybridField(Pendulum(), _augmentation())
    with pytest.raises(ValueError, match=match):
        fit_aphynity(f, y, t, **{**FIT, **kwargs})


def test_lr_physics_sets_the_physical_step(data):
    # Adam's first step moves every parameter by its learning rate (|m / sqrt(v)| = 1)
    y, t = data
    steps = {}
    for lr_physics in (None, 1e-1):
        f = HybridField(Pendulum(PERIOD_INIT), _augmentation())
        before = f.physical.period_unconstrained.detach().clone()
        w = f.augmentation.net[0].weight.detach().clone()
        fit_aphynity(f, y, t, epochs=1, niter=1, lr=1e-3, lr_physics=lr_physics,
                     progress=False)
        steps[lr_physics] = (float((f.physical.period_unconstrained.detach() - before).abs()),
                             float((f.augmentation.net[0].weight.detach() - w).abs().max()))
    assert steps[None][0] == pytest.approx(1e-3, rel=1e-3)
    assert steps[1e-1][0] == pytest.approx(1e-1, rel=1e-3)
    assert steps[None][1] == pytest.approx(steps[1e-1][1], rel=1e-3)


def test_bad_data_and_field_raise(data):
    y, t = data
    f = HybridField(Pendulum(), _augmentation())
    bad = y.clone()
    bad[0, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit_aphynity(f, bad, t, epochs=1, progress=False)
    with pytest.raises(ValueError, match="HybridField"):
        fit_aphynity(Pendulum(), y, t, epochs=1, progress=False)
    with pytest.raises(ValueError, match="physical"):
        HybridField("pendulum")
    with pytest.raises(ValueError, match="norm"):
        f.augmentation_norm(y, norm="sup")
    with pytest.raises(ValueError, match="NaN"):
        f.augmentation_norm(bad)


def test_max_grad_norm_clips_every_step(data):
    """Clipped to 1e-12, Adam's first step is ~lr * 1e-12 / (1e-12 + eps) ~ 1e-4 lr: the
    parameters barely move; unclipped they move by ~lr."""
    y, t = data

    def moved(**kw):
        f = HybridField(Pendulum(PERIOD_INIT), _augmentation())
        before = torch.cat([p.detach().flatten().clone() for p in f.parameters()])
        fit_aphynity(f, y, t, **{**FIT, "epochs": 1, "niter": 1, **kw})
        after = torch.cat([p.detach().flatten() for p in f.parameters()])
        return float((after - before).abs().max())

    lr = FIT["lr"]
    assert moved() > 0.5 * lr
    assert moved(max_grad_norm=1e-12) < 1e-3 * lr
